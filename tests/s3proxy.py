#!/usr/bin/env python3
"""s3proxy: a loopback proxy between msp and an S3 test server (s3rver).

Every request is checked with botocore's SigV4 code (an implementation
independent of msp's): the Authorization header (canonical headers, sorted
query, payload hash) or, for presigned URLs, the X-Amz-* query. A request
whose signature differs gets 403 SignatureDoesNotMatch with a body saying
so; a signature made for another region gets AWS's 400
AuthorizationHeaderMalformed naming the right region; an x-amz-content-sha256
that is not the body's hash gets 400 XAmzContentSHA256Mismatch. Each check
is logged, one line per request, to --log.

s3rver 3.7 lacks ListMultipartUploads, AbortMultipartUpload and
UploadPartCopy; the proxy answers the first two itself from the uploads it
saw created, completed and aborted (an aborted upload's later parts and
completion get 404 NoSuchUpload, as on S3), and turns an UploadPartCopy
into a ranged GET of the source and an UploadPart of those bytes,
answering with a CopyPartResult.

Faults are injected on demand from the --faults file, read at each request:
one rule a line, "KIND METHOD MATCH COUNT": METHOD is GET, PUT, POST,
DELETE, HEAD or *; MATCH a substring of the path and query, or - for any;
COUNT how many matching requests get the fault. KIND is one of
  500       answer 500 InternalError
  slowdown  answer 503 SlowDown
  reset     send half the answer, then reset the connection
  truncate  send the headers and half the body, then close
  etag      pass the answer on with a wrong ETag
  slow      wait --slow seconds before answering
  html      answer 200 with an HTML page

Virtual-hosted requests: the proxy is also an HTTP forward proxy (a
client's http_proxy), so a request for http://BUCKET.s3.test:PORT/KEY
comes in absolute form; its signature is checked as sent (host
BUCKET.s3.test:PORT, path /KEY) and it goes to the server path-style
(/BUCKET/KEY). Log lines name the absolute URL.

usage: s3proxy.py --upstream HOST:PORT --access KEY --secret SECRET
                  [--region R] [--faults FILE] [--log FILE] [--slow S]
It listens on 127.0.0.1 on a free port and prints "listening PORT".
"""
import argparse
import hashlib
import http.client
import socket
import struct
import sys
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

EMPTY = hashlib.sha256(b"").hexdigest()
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

args = None
lock = threading.Lock()
uploads = {}      # upload id -> key ("bucket/key"), open uploads
aborted = set()   # upload ids aborted here


def log(line):
    with lock:
        with open(args.log, "a") as f:
            f.write(line + "\n")


def take_fault(method, target):
    """The fault for this request, if a rule matches (its count drops)."""
    if not args.faults:
        return None
    with lock:
        try:
            with open(args.faults) as f:
                rules = [ln.split() for ln in f if ln.strip()]
        except FileNotFoundError:
            return None
        kind = None
        for r in rules:
            if len(r) != 4 or int(r[3]) <= 0:
                continue
            if r[1] not in ("*", method):
                continue
            if r[2] != "-" and r[2] not in target:
                continue
            kind = r[0]
            r[3] = str(int(r[3]) - 1)
            break
        with open(args.faults, "w") as f:
            for r in rules:
                f.write(" ".join(r) + "\n")
        return kind


def error_xml(code, message, extra=""):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message>%s</Error>' % (code, escape(message),
                                                 extra)).encode()


def strictly_encoded(s):
    return quote(unquote(s), safe="-_.~") == s


def check_signature(method, target, headers, body):
    """None when the request is signed right; else (status, code, message,
    extra XML)."""
    parts = urlsplit(target)
    query = parse_qsl(parts.query, keep_blank_values=True)
    qd = dict(query)
    host = headers.get("Host")
    if not host:
        return 400, "InvalidRequest", "no Host header", ""
    for pair in parts.query.split("&") if parts.query else []:
        k, _, v = pair.partition("=")
        if not strictly_encoded(k) or not strictly_encoded(v):
            return (403, "SignatureDoesNotMatch", "proxy: query parameter "
                    "%r is not encoded the SigV4 way" % pair, "")
    presigned = "X-Amz-Signature" in qd
    if presigned:
        cred = qd.get("X-Amz-Credential", "")
        amzdate = qd.get("X-Amz-Date", "")
        signed = qd.get("X-Amz-SignedHeaders", "").split(";")
        given = qd["X-Amz-Signature"]
        expires = int(qd.get("X-Amz-Expires", "0"))
    else:
        auth = headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return (403, "AccessDenied", "proxy: no SigV4 Authorization "
                    "header and no presigned query", "")
        fields = dict(p.strip().split("=", 1)
                      for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        cred = fields.get("Credential", "")
        signed = fields.get("SignedHeaders", "").split(";")
        given = fields.get("Signature", "")
        amzdate = headers.get("x-amz-date", "")
    scope = cred.split("/")
    if len(scope) != 5 or scope[3] != "s3" or scope[4] != "aws4_request":
        return 400, "AuthorizationHeaderMalformed", "bad credential scope", ""
    if scope[0] != args.access:
        return (403, "InvalidAccessKeyId", "The AWS Access Key Id you "
                "provided does not exist in our records.", "")
    if scope[2] != args.region:
        return (400, "AuthorizationHeaderMalformed", "The authorization "
                "header is malformed; the region '%s' is wrong; expecting "
                "'%s'" % (scope[2], args.region),
                "<Region>%s</Region>" % args.region)
    if amzdate[:8] != scope[1]:
        return 403, "SignatureDoesNotMatch", "proxy: date outside scope", ""
    t = datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ").replace(
        tzinfo=timezone.utc).timestamp()
    if presigned and time.time() > t + expires:
        return 403, "AccessDenied", "Request has expired", ""
    if not presigned and abs(time.time() - t) > 900:
        return 403, "RequestTimeTooSkewed", "proxy: x-amz-date skewed", ""
    if "host" not in signed:
        return 403, "SignatureDoesNotMatch", "proxy: host is not signed", ""
    if not presigned and "x-amz-security-token" in headers and \
            "x-amz-security-token" not in signed:
        return (403, "SignatureDoesNotMatch", "proxy: the session token is "
                "not signed", "")
    hdrs = {}
    for name in signed:
        vals = headers.get_all(name)
        if vals is None:
            return (403, "SignatureDoesNotMatch", "proxy: signed header "
                    "%s is not in the request" % name, "")
        hdrs[name] = ",".join(" ".join(v.split()) for v in vals)
    if not presigned:
        sha = headers.get("x-amz-content-sha256")
        if sha is None:
            return (400, "InvalidRequest", "proxy: no x-amz-content-sha256 "
                    "header", "")
        if sha != "UNSIGNED-PAYLOAD" and sha != hashlib.sha256(
                body).hexdigest():
            return (400, "XAmzContentSHA256Mismatch", "The provided "
                    "'x-amz-content-sha256' header does not match what was "
                    "computed.", "")
    creds = Credentials(args.access, args.secret)
    if presigned:
        q = "&".join(p for p in parts.query.split("&")
                     if not p.startswith("X-Amz-Signature="))
        url = "http://%s%s?%s" % (host, parts.path, q)
        signer = S3SigV4QueryAuth(creds, "s3", args.region, expires=expires)
    else:
        url = "http://%s%s" % (host, target)
        signer = S3SigV4Auth(creds, "s3", args.region)
    req = AWSRequest(method=method, url=url, headers=hdrs, data=body)
    req.context["timestamp"] = amzdate
    creq = signer.canonical_request(req)
    sts = signer.string_to_sign(req, creq)
    want = signer.signature(sts, req)
    if want != given:
        log("MISMATCH %s %s\n--- botocore canonical request\n%s\n---" % (
            method, target, creq))
        return (403, "SignatureDoesNotMatch", "The request signature we "
                "calculated does not match the signature you provided "
                "(proxy: botocore computed another signature)", "")
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n > 0 else b""

    def answer(self, status, body, headers=None, ctype="application/xml"):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reset(self):
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def handle_any(self):
        method = self.command
        target = self.path
        body = self.read_body()
        shown = target
        vhost = None
        if target.startswith("http://"):
            # forward-proxy form: virtual-hosted addressing
            u = urlsplit(target)
            host = u.netloc.split(":")[0]
            if not host.endswith(".s3.test") or \
                    self.headers.get("Host") != u.netloc:
                self.answer(400, error_xml("InvalidRequest", "proxy: only "
                                           "BUCKET.s3.test is proxied", ""))
                return
            vhost = host[:-len(".s3.test")]
            target = u.path + ("?" + u.query if u.query else "")
        bad = check_signature(method, target, self.headers, body)
        if vhost is not None:
            target = "/" + vhost + target
        kind = "presigned" if "X-Amz-Signature=" in target else "header"
        if bad:
            log("refused %s %s %s: %s %s" % (method, shown, kind, bad[1],
                                             bad[2]))
            self.answer(bad[0], error_xml(bad[1], bad[2], bad[3]))
            return
        fault = take_fault(method, target)
        log("ok %s %s %s%s" % (method, shown, kind,
                               " fault=" + fault if fault else ""))
        if fault == "500":
            self.answer(500, error_xml("InternalError", "We encountered an "
                                       "internal error. Please try again."))
            return
        if fault == "slowdown":
            self.answer(503, error_xml("SlowDown", "Please reduce your "
                                       "request rate."))
            return
        if fault == "html":
            self.answer(200, b"<html><body>hello</body></html>", None,
                        "text/html")
            return
        if fault == "slow":
            time.sleep(args.slow)
        parts = urlsplit(target)
        q = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = unquote(parts.path).lstrip("/")
        # the two calls s3rver lacks
        if method == "GET" and "uploads" in q and "/" not in path.rstrip("/"):
            self.list_uploads(path.rstrip("/"), q)
            return
        if "uploadId" in q and method == "DELETE":
            with lock:
                known = uploads.pop(q["uploadId"], None)
                aborted.add(q["uploadId"])
            if known is None:
                self.answer(404, error_xml("NoSuchUpload", "The specified "
                                           "upload does not exist."))
            else:
                self.answer(204, b"", None, None)
            return
        if "uploadId" in q and q["uploadId"] in aborted:
            self.answer(404, error_xml("NoSuchUpload", "The specified upload "
                                       "does not exist."))
            return
        if method == "PUT" and "uploadId" in q and \
                "x-amz-copy-source" in self.headers:
            self.part_copy(target)
            return
        status, rheaders, rbody = self.forward(method, target, body)
        if status == 200 and method == "POST" and "uploads" in q:
            try:
                root = ET.fromstring(rbody)
                el = root.find(NS + "UploadId")
                uid = (el if el is not None else root.find("UploadId")).text
                with lock:
                    uploads[uid] = path
            except (ET.ParseError, AttributeError):
                pass
        if status == 200 and method == "POST" and "uploadId" in q:
            with lock:
                uploads.pop(q["uploadId"], None)
        if fault == "etag":
            rheaders = [(k, '"0123456789abcdef0123456789abcdef"'
                         if k.lower() == "etag" else v) for k, v in rheaders]
        self.send_response(status)
        for k, v in rheaders:
            if k.lower() not in ("connection", "transfer-encoding",
                                 "keep-alive"):
                self.send_header(k, v)
        if not any(k.lower() == "content-length" for k, _ in rheaders):
            self.send_header("Content-Length", str(len(rbody)))
        self.end_headers()
        if method == "HEAD":
            return
        if fault in ("reset", "truncate"):
            self.wfile.write(rbody[:len(rbody) // 2])
            if fault == "reset":
                self.reset()
            else:
                self.wfile.flush()
                self.close_connection = True
            return
        self.wfile.write(rbody)

    def forward(self, method, target, body):
        c = http.client.HTTPConnection(args.up_host, args.up_port, timeout=60)
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() not in ("connection", "expect",
                                     "transfer-encoding", "host",
                                     "proxy-connection")}
        hdrs["Host"] = "%s:%d" % (args.up_host, args.up_port)
        hdrs["Content-Length"] = str(len(body))
        c.request(method, target, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheaders(), data

    def part_copy(self, target):
        src = "/" + unquote(self.headers["x-amz-copy-source"]).lstrip("/")
        rng = self.headers.get("x-amz-copy-source-range", "")
        c = http.client.HTTPConnection(args.up_host, args.up_port, timeout=60)
        c.request("GET", quote(src), headers={"Range": rng} if rng else {})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status not in (200, 206):
            self.answer(r.status, data)
            return
        c = http.client.HTTPConnection(args.up_host, args.up_port, timeout=60)
        c.request("PUT", target, body=data,
                  headers={"Content-Length": str(len(data))})
        r = c.getresponse()
        r.read()
        etag = r.getheader("ETag", "")
        c.close()
        if r.status != 200:
            self.answer(r.status, error_xml("InternalError", "part copy", ""))
            return
        self.answer(200, ('<?xml version="1.0" encoding="UTF-8"?>\n'
                          '<CopyPartResult><ETag>%s</ETag><LastModified>'
                          '2026-01-01T00:00:00.000Z</LastModified>'
                          '</CopyPartResult>' % escape(etag)).encode())

    def list_uploads(self, bucket, q):
        prefix = q.get("prefix", "")
        maxu = int(q.get("max-uploads", "1000"))
        km, um = q.get("key-marker", ""), q.get("upload-id-marker", "")
        with lock:
            items = sorted((k.split("/", 1)[1], u) for u, k in uploads.items()
                           if k.startswith(bucket + "/"))
        items = [i for i in items if i[0].startswith(prefix) and
                 (not km or i > (km, um))]
        page, more = items[:maxu], len(items) > maxu
        x = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/'
             'doc/2006-03-01/"><Bucket>%s</Bucket><Prefix>%s</Prefix>'
             '<IsTruncated>%s</IsTruncated>' % (escape(bucket), escape(prefix),
                                                "true" if more else "false")]
        if more:
            x.append("<NextKeyMarker>%s</NextKeyMarker><NextUploadIdMarker>"
                     "%s</NextUploadIdMarker>" % (escape(page[-1][0]),
                                                  escape(page[-1][1])))
        for k, u in page:
            x.append("<Upload><Key>%s</Key><UploadId>%s</UploadId></Upload>"
                     % (escape(k), escape(u)))
        x.append("</ListMultipartUploadsResult>")
        self.answer(200, "".join(x).encode())

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--access", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--faults")
    p.add_argument("--log", default="/dev/null")
    p.add_argument("--slow", type=float, default=3.0)
    args = p.parse_args()
    args.up_host, _, port = args.upstream.rpartition(":")
    args.up_port = int(port)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
