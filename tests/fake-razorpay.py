#!/usr/bin/env python3
"""A fake Razorpay REST API on loopback, for tests/msp-pay.bats.

  fake-razorpay.py serve --dir DIR --key-id ID --key-secret SECRET
                         [--parent PID] [--idle SECONDS]
      Listens on 127.0.0.1 on a free port and writes it to DIR/port.
      Answers as the documented API does (HTTP basic auth with the key id
      and secret, errors as {"error":{"code","description",...}}):
        POST /v1/orders         create an order (amount >= 100, currency,
                                receipt <= 40 characters, notes)
        GET  /v1/payments/ID    fetch a payment; unknown id: 400
      and, for the tests, as Checkout would after a customer pays:
        POST /_test/payments    {"order_id", "amount"?, "currency"?,
                                "status"?} makes a payment (no auth)
      DIR/mode picks how the next answers go, one line per request, the
      last line staying: ok, 500, timeout (sleeps past the client's
      timeout, then answers), malformed (not JSON), truncated (cut JSON),
      empty (200, no body), drop (closes the connection).
      Each request is logged to DIR/log as "METHOD PATH [receipt]".
      Exits by itself when idle for --idle seconds (default 30) or when
      process --parent is gone.
  fake-razorpay.py sign SECRET [MESSAGE]
      Prints the hex HMAC-SHA256 of MESSAGE (or of standard input).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"orders": {}, "payments": {}, "last": time.time()}
LOCK = threading.Lock()


def rzp_id(prefix):
    chars = string.ascii_letters + string.digits
    return prefix + "_" + "".join(random.choice(chars) for _ in range(14))


def error(code, description, field=None):
    return {"error": {"code": code, "description": description,
                      "source": "business", "step": "payment_initiation",
                      "reason": "input_validation_failed", "metadata": {},
                      "field": field}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def next_mode(self):
        path = os.path.join(self.server.dir, "mode")
        with LOCK:
            try:
                with open(path) as f:
                    lines = [l.strip() for l in f if l.strip()]
            except FileNotFoundError:
                return "ok"
            if not lines:
                return "ok"
            mode = lines[0]
            if len(lines) > 1:
                with open(path, "w") as f:
                    f.write("\n".join(lines[1:]) + "\n")
            return mode

    def log(self, extra=""):
        with LOCK:
            with open(os.path.join(self.server.dir, "log"), "a") as f:
                f.write("%s %s%s\n" % (self.command, self.path, extra))

    def send(self, status, obj=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorised(self):
        want = base64.b64encode(("%s:%s" % (self.server.key_id,
                                            self.server.key_secret)).encode())
        got = self.headers.get("Authorization", "")
        return hmac.compare_digest(got.encode(), b"Basic " + want)

    def body(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def answer(self, status, obj):
        """Send obj unless the mode says otherwise."""
        mode = self.next_mode()
        if mode == "500":
            return self.send(500, error("SERVER_ERROR", "The server "
                             "encountered an error. The incident has been "
                             "reported to admins."))
        if mode == "timeout":
            time.sleep(self.server.sleep)
        elif mode == "malformed":
            return self.send(200, raw=b"<html><body>Bad Gateway</body></html>")
        elif mode == "truncated":
            return self.send(200, raw=json.dumps(obj).encode()[:20])
        elif mode == "empty":
            return self.send(200, raw=b"")
        elif mode == "drop":
            self.close_connection = True
            return
        return self.send(status, obj)

    def do_POST(self):
        STATE["last"] = time.time()
        req = self.body()
        if self.path == "/_test/payments":
            return self.test_payment(req)
        self.log(" receipt=%s" % (req or {}).get("receipt"))
        if self.path != "/v1/orders":
            return self.answer(404, error("BAD_REQUEST_ERROR", "The "
                               "requested URL was not found on the server."))
        if not self.authorised():
            return self.answer(401, error("BAD_REQUEST_ERROR",
                                          "Authentication failed"))
        if not isinstance(req, dict):
            return self.answer(400, error("BAD_REQUEST_ERROR", "The request "
                               "body is not valid JSON"))
        amount = req.get("amount")
        if not isinstance(amount, int) or amount < 100:
            return self.answer(400, error("BAD_REQUEST_ERROR", "The amount "
                               "must be atleast INR 1.00", "amount"))
        if req.get("currency") != "INR":
            return self.answer(400, error("BAD_REQUEST_ERROR", "The "
                               "currency is invalid", "currency"))
        receipt = req.get("receipt")
        if receipt is not None and (not isinstance(receipt, str)
                                    or len(receipt) > 40):
            return self.answer(400, error("BAD_REQUEST_ERROR", "The receipt "
                               "may not be greater than 40 characters.",
                               "receipt"))
        notes = req.get("notes", {})
        if not isinstance(notes, dict) or len(notes) > 15:
            return self.answer(400, error("BAD_REQUEST_ERROR", "notes should "
                               "be an object of at most 15 keys", "notes"))
        order = {"id": rzp_id("order"), "entity": "order", "amount": amount,
                 "amount_paid": 0, "amount_due": amount, "currency": "INR",
                 "receipt": receipt, "offer_id": None, "status": "created",
                 "attempts": 0, "notes": notes,
                 "created_at": int(time.time())}
        with LOCK:
            STATE["orders"][order["id"]] = order
        return self.answer(200, order)

    def test_payment(self, req):
        order = STATE["orders"].get((req or {}).get("order_id"))
        status = req.get("status", "captured")
        pay = {"id": req.get("id") or rzp_id("pay"), "entity": "payment",
               "amount": req.get("amount", order["amount"] if order else 100),
               "currency": req.get("currency", "INR"), "status": status,
               "order_id": req.get("order_id"), "invoice_id": None,
               "international": False, "method": "card",
               "amount_refunded": 0, "refund_status": None,
               "captured": status == "captured", "description": None,
               "email": "gaurav.kumar@example.com",
               "contact": "+919000090000", "notes": [], "fee": None,
               "tax": None, "error_code": None, "error_description": None,
               "created_at": int(time.time())}
        with LOCK:
            STATE["payments"][pay["id"]] = pay
        return self.send(200, pay)

    def do_GET(self):
        STATE["last"] = time.time()
        self.log()
        prefix = "/v1/payments/"
        if not self.path.startswith(prefix):
            return self.answer(404, error("BAD_REQUEST_ERROR", "The "
                               "requested URL was not found on the server."))
        if not self.authorised():
            return self.answer(401, error("BAD_REQUEST_ERROR",
                                          "Authentication failed"))
        pay = STATE["payments"].get(self.path[len(prefix):])
        if pay is None:
            return self.answer(400, error("BAD_REQUEST_ERROR", "The id "
                               "provided does not exist"))
        return self.answer(200, pay)


def watchdog(idle, parent):
    while True:
        time.sleep(0.2)
        if time.time() - STATE["last"] > idle:
            os._exit(0)
        if parent:
            try:
                os.kill(parent, 0)
            except OSError:
                os._exit(0)


def serve(a):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.dir, srv.key_id, srv.key_secret = a.dir, a.key_id, a.key_secret
    srv.sleep = a.sleep
    threading.Thread(target=watchdog, args=(a.idle, a.parent),
                     daemon=True).start()
    tmp = os.path.join(a.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, os.path.join(a.dir, "port"))
    srv.serve_forever()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--key-id", required=True)
    s.add_argument("--key-secret", required=True)
    s.add_argument("--parent", type=int, default=0)
    s.add_argument("--idle", type=float, default=30)
    s.add_argument("--sleep", type=float, default=3)
    g = sub.add_parser("sign")
    g.add_argument("secret")
    g.add_argument("message", nargs="?")
    a = p.parse_args()
    if a.cmd == "serve":
        serve(a)
    else:
        msg = (a.message.encode() if a.message is not None
               else sys.stdin.buffer.read())
        print(hmac.new(a.secret.encode(), msg, hashlib.sha256).hexdigest())


if __name__ == "__main__":
    main()
