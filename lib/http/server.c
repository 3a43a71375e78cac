/* The server core: libmicrohttpd set-up, limits, request bodies and
 * uploads, dispatch to the routes, answers, the access log and metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"
#include "blob.h"
#include "caption.h"
#include "catalog.h"
#include "dispatch.h"
#include "internal.h"
#include "jsonl.h"
#include "upload.h"
#include "util.h"

#define NSTATUS 600
#define EXTRA_ROUTES 1 /* index nroutes: no route matched */

struct msp_conn {
	int fd;
	int64_t deadline; /* ms; 0: none (a request is being answered) */
	struct msp_conn *next, *prev;
};

void
msp_http_conf_default(struct msp_http_conf *c)
{
	static const char *const none[] = { NULL };

	memset(c, 0, sizeof(*c));
	c->listen = "127.0.0.1:8080";
	c->threads = 4;
	c->max_conns = 1024;
	c->per_ip = 256;
	c->idle_timeout = 30;
	c->request_timeout = 10;
	c->header_max = 16 * 1024;
	c->body_max = 64 * 1024;
	c->upload_max = 2LL << 30;
	c->upload_quota = 4;
	c->upload_ttl = 86400;
	c->session_ttl = MSP_SESSION_TTL;
	c->url_ttl = MSP_HLS_TTL;
	c->cors = none;
	c->workers = 1;
	c->max_uploads = 64;
	c->min_rate = 4096;
	c->login_fails = 5;
	c->login_fails_ip = 20;
	c->login_fails_account = 100;
	c->hash_threads = 2;
	c->hash_queue = 16;
	c->grace = 10;
	c->file_buffers = MSP_FILE_BUFFERS;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- headers and answers -------------------------------------------- */

const char *
msp_req_header(struct msp_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void
msp_req_client(struct msp_req *r, char out[MSP_THROTTLE_CLIENT])
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	msp_throttle_client(ci != NULL ? ci->client_addr : NULL, out);
}

const char *
msp_req_arg(struct msp_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
	    name);
}

static const char *
cors_origin(struct msp_req *r)
{
	const char *o = msp_req_header(r, "Origin");
	const char *const *p;

	if (o == NULL)
		return NULL;
	for (p = r->h->c.cors; *p != NULL; p++)
		if (strcmp(*p, o) == 0)
			return o;
	return NULL;
}

void
msp_http_headers(struct msp_req *r, struct MHD_Response *resp)
{
	const char *o = cors_origin(r);

	if (o != NULL) {
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", o);
		MHD_add_response_header(resp,
		    "Access-Control-Allow-Credentials", "true");
		MHD_add_response_header(resp, "Access-Control-Expose-Headers",
		    "Content-Length, Content-Range, ETag");
	}
	if (r->h->c.cors[0] != NULL)
		MHD_add_response_header(resp, "Vary", "Origin");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	msp_http_web_headers(r, resp);
}

void
msp_reply(struct msp_req *r, unsigned status, struct MHD_Response *resp)
{
	if (resp == NULL) {
		if (!r->done) {
			r->done = 1;
			r->status = 500;
		}
		return;
	}
	if (r->done) {
		MHD_destroy_response(resp);
		return;
	}
	r->done = 1;
	r->status = (int)status;
	msp_http_headers(r, resp);
	if (r->close)
		MHD_add_response_header(resp, "Connection", "close");
	if (r->retry_after > 0) {
		char ra[24];

		snprintf(ra, sizeof(ra), "%ld", r->retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	if (r->pooled) {
		/* on a pool thread: queued by the connection's own thread
		 * once it is resumed (on_request) */
		r->resp = resp;
		r->resp_status = status;
		return;
	}
	if (MHD_queue_response(r->conn, status, resp) != MHD_YES)
		r->status = 500;
	MHD_destroy_response(resp);
}

void
msp_reply_json(struct msp_req *r, unsigned status, json_object *o)
{
	struct MHD_Response *resp;
	const char *s;
	size_t n;
	char *buf;

	if (r->done)
		return;
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s == NULL || (buf = malloc(n + 1)) == NULL) {
		msp_reply(r, 500, NULL);
		return;
	}
	memcpy(buf, s, n);
	buf[n] = '\n';
	resp = MHD_create_response_from_buffer(n + 1, buf,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(buf);
		msp_reply(r, 500, NULL);
		return;
	}
	r->bytes = n + 1;
	MHD_add_response_header(resp, "Content-Type",
	    "application/json; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	msp_reply(r, status, resp);
}

void
msp_reply_error(struct msp_req *r, unsigned status, const char *fmt, ...)
{
	json_object *o;
	va_list ap;
	char msg[1200];

	if (r->done)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((o = json_object_new_object()) == NULL) {
		msp_reply(r, 500, NULL);
		return;
	}
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "status", json_object_new_int((int)status));
	msp_reply_json(r, status, o);
	json_object_put(o);
}

void
msp_reply_err(struct msp_req *r, const struct msp_err *e)
{
	unsigned s;

	switch (e->code) {
	case MSP_EINVAL: s = 400; break;
	case MSP_ENOTFOUND: s = 404; break;
	case MSP_EEXIST: s = 409; break;
	case MSP_EPERM: s = 403; break;
	case MSP_EAGAIN: s = 429; break;
	case MSP_EMEDIA: s = 422; break;
	case MSP_ENET: s = 502; break;
	default: s = 500; break;
	}
	if (s == 500 && r->h->c.access_log != NULL) {
		pthread_mutex_lock(&r->h->mu);
		fprintf(r->h->c.access_log, "msp-serve: %s %s: %s\n",
		    r->method, r->url, e->msg);
		pthread_mutex_unlock(&r->h->mu);
	}
	msp_reply_error(r, s, "%s", s == 500 ? "internal error" : e->msg);
}

/* ---- access log and metrics ----------------------------------------- */

static void
log_str(FILE *f, const char *s)
{
	if (s == NULL) {
		fputc('-', f);
		return;
	}
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			putc_unlocked(c, f); /* access_log holds the lock */
	}
}

static void
access_log(struct msp_req *r)
{
	FILE *f = r->h->c.access_log;
	const union MHD_ConnectionInfo *ci;
	char host[INET6_ADDRSTRLEN] = "-", when[64];
	time_t now = time(NULL);
	struct tm tm;

	ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    (const void *)sa)->sin_addr, host, sizeof(host));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
			    (const void *)sa)->sin6_addr, host, sizeof(host));
	}
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
	flockfile(f); /* one lock for the line, not one a character */
	fprintf(f, "%s - ", host);
	if (r->email != NULL)
		log_str(f, r->email);
	else
		fputc('-', f);
	fprintf(f, " [%s] \"", when);
	log_str(f, r->method);
	fputc(' ', f);
	log_str(f, r->raw_uri != NULL ? r->raw_uri : r->url);
	fprintf(f, " HTTP/1.1\" %d %llu \"", r->status,
	    (unsigned long long)r->bytes);
	log_str(f, msp_req_header(r, "Referer"));
	fputs("\" \"", f);
	log_str(f, msp_req_header(r, "User-Agent"));
	fputs("\"\n", f);
	fflush(f);
	funlockfile(f);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct msp_http *h = cls;
	struct msp_req *r = *con_cls;
	size_t ri;

	(void)conn;
	if (r == NULL)
		return;
	*con_cls = NULL;
	if (r->started) {
		if (!r->done || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
			if (!r->done)
				r->status = 400;
			if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ||
			    toe == MHD_REQUEST_TERMINATED_READ_ERROR)
				r->status = 408;
		}
		ri = r->route_idx >= 0 ? (size_t)r->route_idx : msp_nroutes;
		pthread_mutex_lock(&h->mu);
		if (r->status > 0 && r->status < NSTATUS)
			h->status_hits[ri * NSTATUS + (size_t)r->status]++;
		h->bytes[ri] += r->bytes;
		h->inflight--;
		if (r->upload_counted)
			h->uploads--;
		if (r->mc != NULL)
			r->mc->deadline = mono_ms() +
			    ((int64_t)h->c.idle_timeout +
			    h->c.request_timeout) * 1000;
		if (h->c.access_log != NULL)
			access_log(r);
		pthread_mutex_unlock(&h->mu);
	}
	if (r->resp != NULL)
		MHD_destroy_response(r->resp);
	if (r->pp != NULL)
		MHD_destroy_post_processor(r->pp);
	msp_ingest_abort(r->ing);
	msp_tus_end(r);
	json_object_put(r->json);
	json_object_put(r->fields);
	json_object_put(r->user);
	free(r->file_name);
	free(r->token);
	free(r->body);
	free(r->raw_uri);
	free(r);
}

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct msp_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->h = cls;
	r->conn = conn;
	r->route_idx = -1;
	r->raw_uri = msp_strdup(uri);
	return r;
}

/* Unescape %XX in place; a %00 becomes DEL so that it is refused later
 * instead of cutting the string short. */
static size_t
on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s, *p;

	(void)cls;
	(void)conn;
	for (p = s; *p != '\0'; p++) {
		int hi, lo;
		if (p[0] == '%' && (hi = msp_hexval(p[1])) >= 0 &&
		    (lo = msp_hexval(p[2])) >= 0) {
			char c = (char)(hi * 16 + lo);
			*w++ = c == '\0' ? 0x7f : c;
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* ---- connections: the deadline for a request's head ------------------ */

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct msp_http *h = cls;
	struct msp_conn *c = *socket_context;
	const union MHD_ConnectionInfo *ci;

	pthread_mutex_lock(&h->mu);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci != NULL && (c = calloc(1, sizeof(*c))) != NULL) {
			c->fd = ci->connect_fd;
			c->deadline = mono_ms() +
			    (int64_t)h->c.request_timeout * 1000;
			c->next = h->conns;
			if (h->conns != NULL)
				h->conns->prev = c;
			h->conns = c;
			h->nconns++;
			*socket_context = c;
		}
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && c != NULL) {
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			h->conns = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		h->nconns--;
		free(c);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&h->mu);
}

#define UPLOAD_SWEEP_MS 60000 /* expired resumable uploads go this often */

/* Drop connections whose request head (or JSON body) is late, and uploads
 * slower than --min-rate: a client trickling bytes keeps the idle timeout
 * from firing, not this one. Remove expired resumable uploads now and
 * then. */
static void *
reaper(void *arg)
{
	struct msp_http *h = arg;
	struct msp_conn *c;
	int64_t swept = mono_ms();
	int stop = 0;

	while (!stop) {
		struct timespec ts = { 0, 200 * 1000000L };
		int64_t now;

		nanosleep(&ts, NULL);
		now = mono_ms();
		if (now - swept >= UPLOAD_SWEEP_MS) {
			(void)msp_upload_sweep(h->st, msp_now_ms(), NULL, NULL);
			swept = now;
		}
		pthread_mutex_lock(&h->mu);
		for (c = h->conns; c != NULL; c = c->next)
			if (c->deadline != 0 && now > c->deadline) {
				shutdown(c->fd, SHUT_RDWR);
				c->deadline = 0;
			}
		stop = h->reaper_on == 0;
		pthread_mutex_unlock(&h->mu);
	}
	return NULL;
}

/* ---- bodies --------------------------------------------------------- */

/* The most bytes a buffered body may have. */
static size_t
body_limit(const struct msp_req *r)
{
	return (r->route->flags & R_TEXT) ? MSP_CAPTION_MAX :
	    r->h->c.body_max;
}

static int
body_append(struct msp_req *r, const char *data, size_t n)
{
	if (r->too_big)
		return 0;
	if (r->blen + n > body_limit(r)) {
		r->too_big = 1;
		return 0;
	}
	if (r->blen + n + 1 > r->bcap) {
		size_t cap = r->bcap ? r->bcap : 1024;
		char *p;
		while (cap < r->blen + n + 1)
			cap *= 2;
		if ((p = realloc(r->body, cap)) == NULL)
			return -1;
		r->body = p;
		r->bcap = cap;
	}
	memcpy(r->body + r->blen, data, n);
	r->blen += n;
	r->body[r->blen] = '\0';
	return 0;
}

/* The file's bytes go to lib/ingest as they arrive (never held here). */
static int
upload_write(struct msp_req *r, const char *data, size_t n)
{
	const char *name;
	int rc;

	if (r->too_big || r->ing_rc != 0)
		return 0;
	if (r->ulen + (long long)n > r->h->c.upload_max) {
		r->too_big = 1;
		msp_ingest_abort(r->ing);
		r->ing = NULL;
		return 0;
	}
	if (r->ing == NULL) {
		name = r->file_name;
		if (name == NULL)
			name = msp_req_arg(r, "filename");
		rc = msp_ingest_begin(r->h->st, name != NULL ? name : "upload",
		    r->h->c.upload_max, &r->ing, &r->ing_err);
		if (rc != 0) {
			r->ing_rc = rc;
			return 0;
		}
	}
	if ((rc = msp_ingest_write(r->ing, data, n, &r->ing_err)) != 0) {
		r->ing_rc = rc;
		msp_ingest_abort(r->ing);
		r->ing = NULL;
		return 0;
	}
	r->ulen += (long long)n;
	return 0;
}

static enum MHD_Result
on_post_field(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *filename, const char *content_type,
    const char *transfer_encoding, const char *data, uint64_t off,
    size_t size)
{
	struct msp_req *r = cls;
	json_object *x;

	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	if (filename != NULL || strcmp(key, "file") == 0) {
		if (r->file_name == NULL && filename != NULL)
			r->file_name = msp_strdup(filename);
		return upload_write(r, data, size) == 0 ? MHD_YES : MHD_NO;
	}
	/* small text fields: collected as strings, at most body_max in all */
	if (r->blen + size > r->h->c.body_max) {
		r->too_big = 1;
		return MHD_YES;
	}
	r->blen += size;
	if (off == 0 || !json_object_object_get_ex(r->fields, key, &x)) {
		json_object_object_add(r->fields, key,
		    json_object_new_string_len(data, (int)size));
	} else {
		char *s = msp_sprintf("%s%.*s", json_object_get_string(x),
		    (int)size, data);
		if (s == NULL)
			return MHD_NO;
		json_object_object_add(r->fields, key,
		    json_object_new_string(s));
		free(s);
	}
	return MHD_YES;
}

static int
upload_begin(struct msp_req *r)
{
	const char *ct = msp_req_header(r, "Content-Type");

	if ((r->fields = json_object_new_object()) == NULL)
		return -1;
	/* multipart: a "file" part and fields; anything else is the file */
	if (ct != NULL && strncasecmp(ct, "multipart/form-data", 19) == 0) {
		r->pp = MHD_create_post_processor(r->conn, 64 * 1024,
		    on_post_field, r);
		if (r->pp == NULL)
			return -2;
	}
	return 0;
}

static int
parse_json_body(struct msp_req *r)
{
	json_tokener *tok;
	enum json_tokener_error je;
	size_t i;

	if (r->blen == 0) {
		r->json = json_object_new_object();
		return r->json != NULL ? 0 : -1;
	}
	for (i = 0; i < r->blen; i++)
		if (r->body[i] == '\0')
			break;
	if (i != r->blen || !msp_utf8_valid(r->body, r->blen)) {
		msp_reply_error(r, 400, "body: not UTF-8 text");
		return -1;
	}
	if ((tok = json_tokener_new_ex(32)) == NULL)
		return -1;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	r->json = json_tokener_parse_ex(tok, r->body, (int)r->blen);
	je = json_tokener_get_error(tok);
	if (r->json == NULL || je != json_tokener_success ||
	    json_tokener_get_parse_end(tok) < r->blen) {
		size_t at = json_tokener_get_parse_end(tok);
		int trailing = r->json != NULL;

		json_tokener_free(tok);
		/* trailing white space is fine */
		while (trailing && at < r->blen &&
		    strchr(" \t\r\n", r->body[at]) != NULL)
			at++;
		if (trailing && at == r->blen)
			goto object;
		json_object_put(r->json);
		r->json = NULL;
		if (je == json_tokener_continue)
			msp_reply_error(r, 400, "body: malformed JSON: "
			    "unexpected end of input");
		else if (trailing)
			msp_reply_error(r, 400, "body: malformed JSON: "
			    "trailing data at byte %zu", at + 1);
		else
			msp_reply_error(r, 400, "body: malformed JSON at byte "
			    "%zu: %s", at + 1, json_tokener_error_desc(je));
		return -1;
	}
	json_tokener_free(tok);
object:
	if (!json_object_is_type(r->json, json_type_object)) {
		msp_reply_error(r, 400, "body: expected a JSON object, got %s",
		    msp_json_type_name(r->json));
		return -1;
	}
	return 0;
}

/* ---- identity ------------------------------------------------------- */

static char *
session_token(struct msp_req *r)
{
	const char *a = msp_req_header(r, "Authorization");
	const char *c;

	if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
		a += 7;
		while (*a == ' ')
			a++;
		return msp_strdup(a);
	}
	c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND,
	    "msp_session");
	return c != NULL ? msp_strdup(c) : NULL;
}

/* Look up the session; 0 with r->user set, 0 with none when optional,
 * -1 after replying. */
static int
identify(struct msp_req *r)
{
	struct msp_err e;
	json_object *x;
	int rc;

	r->token = session_token(r);
	if (r->token == NULL) {
		if (r->route->flags & (R_AUTH | R_ADMIN)) {
			msp_reply_error(r, 401, "sign in first: no session");
			return -1;
		}
		return 0;
	}
	rc = msp_auth_session(r->h->st, r->token, &r->user, &e);
	if (rc == MSP_EPERM) {
		if (r->route->flags & (R_AUTH | R_ADMIN)) {
			msp_reply_error(r, 401, "%s", e.msg);
			return -1;
		}
		return 0; /* a stale cookie does not hide public pages */
	}
	if (rc != 0) {
		msp_reply_err(r, &e);
		return -1;
	}
	if (json_object_object_get_ex(r->user, "email", &x))
		r->email = json_object_get_string(x);
	r->admin = msp_user_is_admin(r->user);
	if ((r->route->flags & R_ADMIN) && !r->admin) {
		msp_reply_error(r, 403, "%s: admins only", r->route->path);
		return -1;
	}
	return 0;
}

/* A request that a cookie authenticates must come from our own pages or
 * an allowed origin (the SameSite cookie is the first guard). An unsafe
 * method signed in by the cookie must say so: an Origin of ours, or
 * Sec-Fetch-Site: same-origin; a Referer alone is not taken. Bearer
 * requests carry no ambient credential and are not checked. */
static int
origin_ok(struct msp_req *r)
{
	const char *o = msp_req_header(r, "Origin");
	const char *host = msp_req_header(r, "Host");
	const char *a = msp_req_header(r, "Authorization");
	const char *sfs, *p;
	const char *m = r->method;

	if (o != NULL) {
		if (cors_origin(r) != NULL)
			return 1;
		if (host == NULL || (p = strstr(o, "://")) == NULL ||
		    strcmp(p + 3, host) != 0) {
			msp_reply_error(r, 403, "origin not allowed");
			return 0;
		}
		return 1;
	}
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	    strcmp(m, "OPTIONS") == 0)
		return 1;
	if ((a != NULL && strncasecmp(a, "Bearer ", 7) == 0) ||
	    MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND,
	    "msp_session") == NULL)
		return 1;
	sfs = msp_req_header(r, "Sec-Fetch-Site");
	if (sfs != NULL && strcmp(sfs, "same-origin") == 0)
		return 1;
	msp_reply_error(r, 403, "origin not allowed: %s with the session "
	    "cookie needs an Origin of this site or Sec-Fetch-Site: "
	    "same-origin", m);
	return 0;
}

/* ---- dispatch ------------------------------------------------------- */

static int
route_match(const struct msp_route *rt, const char *url)
{
	size_t n = strlen(rt->path);

	if (rt->flags & R_PREFIX)
		return strncmp(url, rt->path, n) == 0;
	return strcmp(url, rt->path) == 0;
}

static int
method_match(const char *want, const char *m)
{
	return strcmp(want, m) == 0 ||
	    (strcmp(want, "GET") == 0 && strcmp(m, "HEAD") == 0);
}

/* Find the route; replies 404/405/204 (preflight) itself. */
static int
dispatch(struct msp_req *r)
{
	char allow[128] = "";
	size_t i;
	int any = 0;

	for (i = 0; i < msp_nroutes; i++) {
		const struct msp_route *rt = &msp_routes[i];
		if (!route_match(rt, r->url))
			continue;
		if (!any)
			r->route_idx = (int)i;
		any = 1;
		if (method_match(rt->method, r->method)) {
			r->route = rt;
			r->route_idx = (int)i;
			r->rest = r->url + strlen(rt->path);
			return 0;
		}
		if (strstr(allow, rt->method) == NULL &&
		    strlen(allow) + strlen(rt->method) + 12 < sizeof(allow)) {
			if (allow[0] != '\0')
				strcat(allow, ", ");
			strcat(allow, rt->method);
			if (strcmp(rt->method, "GET") == 0)
				strcat(allow, ", HEAD");
		}
	}
	if (!any) {
		msp_reply_error(r, 404, "%s: no such route", r->url);
		return -1;
	}
	if (strcmp(r->method, "OPTIONS") == 0) {
		struct MHD_Response *resp;
		int ok = cors_origin(r) != NULL;

		resp = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
		if (resp != NULL && ok) {
			MHD_add_response_header(resp,
			    "Access-Control-Allow-Methods", allow);
			MHD_add_response_header(resp,
			    "Access-Control-Allow-Headers",
			    "Authorization, Content-Type, Range");
			MHD_add_response_header(resp,
			    "Access-Control-Max-Age", "600");
		}
		if (resp != NULL)
			MHD_add_response_header(resp, "Allow", allow);
		msp_reply(r, ok ? 204 : 403, resp);
		return -1;
	}
	{
		json_object *o = json_object_new_object();
		struct MHD_Response *resp;
		const char *s;
		size_t n;

		json_object_object_add(o, "error", json_object_new_string(
		    "method not allowed"));
		json_object_object_add(o, "status", json_object_new_int(405));
		s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN,
		    &n);
		resp = MHD_create_response_from_buffer(n, (void *)s,
		    MHD_RESPMEM_MUST_COPY);
		json_object_put(o);
		if (resp != NULL) {
			MHD_add_response_header(resp, "Allow", allow);
			MHD_add_response_header(resp, "Content-Type",
			    "application/json; charset=utf-8");
			r->bytes = n;
		}
		msp_reply(r, 405, resp);
	}
	return -1;
}

/* Framing (RFC 9112 6.1): a request with both Transfer-Encoding and
 * Content-Length may be smuggling a second request, and a coding other than
 * chunked leaves the body's end unknown; either way the connection closes
 * after the answer. */
static int
framing_ok(struct msp_req *r)
{
	const char *te = msp_req_header(r, "Transfer-Encoding");

	if (te == NULL)
		return 1;
	r->close = 1;
	if (msp_req_header(r, "Content-Length") != NULL) {
		msp_reply_error(r, 400, "Transfer-Encoding and Content-Length: "
		    "both given");
		return 0;
	}
	if (strcasecmp(te, "chunked") != 0) {
		msp_reply_error(r, 501, "Transfer-Encoding '%.64s': not "
		    "supported (only chunked)", te);
		return 0;
	}
	r->close = 0;
	return 1;
}

static int
first_call(struct msp_req *r)
{
	const char *cl;
	int flags;

	if (!framing_ok(r))
		return -1;
	if (msp_has_control(r->url, strlen(r->url), 0) ||
	    !msp_utf8_valid(r->url, strlen(r->url))) {
		msp_reply_error(r, 400, "path: control character or invalid "
		    "UTF-8");
		return -1;
	}
	if (dispatch(r) != 0)
		return -1;
	flags = r->route->flags;
	if (!origin_ok(r))
		return -1;
	if (identify(r) != 0)
		return -1;
	cl = msp_req_header(r, "Content-Length");
	if (cl != NULL) {
		long long n;
		long long max = (flags & (R_UPLOAD | R_TUS)) ?
		    r->h->c.upload_max :
		    (long long)body_limit(r);
		if (msp_parse_int(cl, 0, (long long)1 << 62, &n) != 0) {
			msp_reply_error(r, 400, "Content-Length: not a number");
			return -1;
		}
		if (n > max) {
			msp_reply_error(r, 413, "body: larger than %lld bytes",
			    max);
			return -1;
		}
		if (n > 0 && !(flags & (R_JSON | R_TEXT | R_UPLOAD | R_TUS))) {
			msp_reply_error(r, 400, "body: this route takes none");
			return -1;
		}
	}
	if (flags & (R_UPLOAD | R_TUS)) {
		int busy;

		/* uploads never take every connection */
		pthread_mutex_lock(&r->h->mu);
		busy = r->h->uploads >= (long)r->h->c.max_uploads;
		if (!busy) {
			r->h->uploads++;
			r->upload_counted = 1;
		}
		/* uploads may take long, but not longer than the slowest
		 * rate allows (see on_request) */
		if (r->mc != NULL && !busy)
			r->mc->deadline = r->h->c.min_rate == 0 ? 0 :
			    r->t0 + (int64_t)r->h->c.request_timeout * 1000;
		pthread_mutex_unlock(&r->h->mu);
		if (busy) {
			r->close = 1;
			r->retry_after = 1;
			msp_reply_error(r, 503, "busy: too many uploads at a "
			    "time; try again later");
			return -1;
		}
	}
	if ((flags & R_TUS) && msp_tus_begin(r) != 0)
		return -1;
	if (flags & R_UPLOAD) {
		int rc = upload_begin(r);
		if (rc == -2) {
			msp_reply_error(r, 400, "Content-Type: cannot parse "
			    "the form");
			return -1;
		}
		if (rc != 0) {
			msp_reply_error(r, 500, "internal error");
			return -1;
		}
	}
	return 0;
}

static void
end_call(struct msp_req *r)
{
	int flags = r->route->flags;

	if (r->mc != NULL) {
		pthread_mutex_lock(&r->h->mu);
		r->mc->deadline = 0;
		pthread_mutex_unlock(&r->h->mu);
	}
	if (r->too_big) {
		msp_reply_error(r, 413, "body: larger than %lld bytes",
		    (flags & R_UPLOAD) ? r->h->c.upload_max :
		    (long long)body_limit(r));
		return;
	}
	if ((flags & R_JSON) && parse_json_body(r) != 0) {
		if (!r->done)
			msp_reply(r, 500, NULL);
		return;
	}
	if (flags & R_HASH) {
		if (msp_pool_submit(r->h, r) == 0)
			return;
		r->retry_after = 1;
		msp_reply_error(r, 503, "busy: too many sign-ins waiting; "
		    "try again in a second");
		return;
	}
	r->route->fn(r);
	if (!r->done)
		msp_reply_error(r, 500, "internal error");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct msp_http *h = cls;
	struct msp_req *r = *con_cls;

	(void)version;
	if (r == NULL)
		return MHD_NO;
	if (!r->started) {
		const union MHD_ConnectionInfo *ci;

		r->started = 1;
		r->url = url;
		r->method = method;
		r->t0 = mono_ms();
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		r->mc = ci != NULL ? ci->socket_context : NULL;
		pthread_mutex_lock(&h->mu);
		h->inflight++;
		pthread_mutex_unlock(&h->mu);
		if (first_call(r) != 0)
			return r->done ? MHD_YES : MHD_NO;
		return MHD_YES;
	}
	if (r->pooled) {
		/* resumed: the pool ran the route; queue its answer here */
		struct MHD_Response *resp = r->resp;

		r->resp = NULL;
		r->pooled = 0;
		if (resp == NULL)
			return MHD_NO;
		if (MHD_queue_response(conn, r->resp_status, resp) != MHD_YES)
			r->status = 500;
		MHD_destroy_response(resp);
		return MHD_YES;
	}
	if (r->done) {
		/* answered early (413 ...): drop the rest of the body */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		int rc = 0;

		*upload_data_size = 0;
		r->rx += (long long)n;
		if ((r->route->flags & R_UPLOAD) && h->c.min_rate > 0 &&
		    r->mc != NULL) {
			/* at least min_rate bytes a second after the first
			 * request_timeout seconds, or the reaper drops it */
			pthread_mutex_lock(&h->mu);
			r->mc->deadline = r->t0 +
			    (int64_t)h->c.request_timeout * 1000 +
			    (int64_t)(r->rx * 1000 / h->c.min_rate);
			pthread_mutex_unlock(&h->mu);
		}
		if (r->route->flags & R_UPLOAD) {
			if (r->pp != NULL)
				rc = MHD_post_process(r->pp, upload_data, n) ==
				    MHD_YES ? 0 : -1;
			else
				rc = upload_write(r, upload_data, n);
		} else if (r->route->flags & R_TUS) {
			rc = msp_tus_body(r, upload_data, n);
		} else if (r->route->flags & (R_JSON | R_TEXT)) {
			rc = body_append(r, upload_data, n);
		}
		/* an answer cannot be queued while the body streams in: a
		 * write error ends the connection, an oversize body is
		 * read and dropped, then answered with 413 */
		return rc == 0 ? MHD_YES : MHD_NO;
	}
	end_call(r);
	return MHD_YES;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap; /* connection-level noise (resets, timeouts) is not logged */
}

/* ---- start and stop ------------------------------------------------- */

static int
parse_listen(const char *s, struct sockaddr_storage *ss, int *v6,
    struct msp_err *e)
{
	const char *colon;
	char host[64];
	long long port;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	*v6 = 0;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			goto bad;
		n = (size_t)(rb - s - 1);
		colon = rb + 1;
		*v6 = 1;
		if (n >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, n);
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			goto bad;
		n = (size_t)(colon - s);
		if (n >= sizeof(host))
			goto bad;
		memcpy(host, s, n);
	}
	host[n] = '\0';
	if (msp_parse_int(colon + 1, 0, 65535, &port) != 0)
		goto bad;
	if (*v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			goto bad;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (host[0] == '\0')
			a->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad;
	}
	return 0;
bad:
	return msp_err_set(e, MSP_EINVAL, "--listen '%s': expected HOST:PORT "
	    "or [IPV6]:PORT", s);
}

int
msp_http_start(struct msp_http **hp, struct msp_store *st,
    const struct msp_http_conf *c, struct msp_err *e)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	struct msp_http *h;
	unsigned flags;
	int v6, rc;

	*hp = NULL;
	if ((rc = parse_listen(c->listen, &ss, &v6, e)) != 0)
		return rc;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	h->st = st;
	h->c = *c;
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->wmu, NULL);
	pthread_mutex_init(&h->fmu, NULL);
	pthread_cond_init(&h->wcv, NULL);
	h->status_hits = calloc((msp_nroutes + EXTRA_ROUTES) * NSTATUS,
	    sizeof(*h->status_hits));
	h->bytes = calloc(msp_nroutes + EXTRA_ROUTES, sizeof(*h->bytes));
	if (h->status_hits == NULL || h->bytes == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = msp_auth_url_key(st, &h->url_key, e)) != 0)
		goto fail;
	{
		struct msp_throttle_conf tc;

		memset(&tc, 0, sizeof(tc));
		tc.pair_fails = c->login_fails ? c->login_fails :
		    MSP_LOGIN_FAILS;
		tc.client_fails = c->login_fails_ip ? c->login_fails_ip : 20;
		tc.account_fails = c->login_fails_account ?
		    c->login_fails_account : 100;
		tc.lock_s = MSP_LOGIN_LOCK;
		if ((h->throttle = msp_throttle_new(&tc)) == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			goto fail;
		}
	}
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (v6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(c->threads ? c->threads : 1),
	    MHD_OPTION_CONNECTION_LIMIT, c->max_conns,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, c->idle_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, c->header_max,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
	    MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, h,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
	    MHD_OPTION_END);
	if (h->d == NULL) {
		rc = msp_err_set(e, MSP_EIO, "%s: cannot listen (address in "
		    "use or not ours?)", c->listen);
		goto fail;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di != NULL ? di->port : 0;
	/* what expired while the server was down */
	(void)msp_upload_sweep(h->st, msp_now_ms(), NULL, NULL);
	h->reaper_on = 1;
	if (pthread_create(&h->reaper, NULL, reaper, h) != 0) {
		h->reaper_on = 0;
		rc = msp_err_set(e, MSP_ENOMEM, "cannot start a thread");
		goto fail;
	}
	if ((rc = msp_pool_start(h, e)) != 0)
		goto fail;
	if ((rc = msp_workers_start(h, e)) != 0)
		goto fail;
	*hp = h;
	return 0;
fail:
	msp_http_stop(h);
	return rc;
}

unsigned
msp_http_port(const struct msp_http *h)
{
	return h->port;
}

void
msp_http_stop(struct msp_http *h)
{
	int64_t until;

	if (h == NULL)
		return;
	if (h->d != NULL) {
		MHD_quiesce_daemon(h->d);
		until = mono_ms() + (int64_t)h->c.grace * 1000;
		for (;;) {
			struct timespec ts = { 0, 50 * 1000000L };
			long n;
			pthread_mutex_lock(&h->mu);
			n = h->inflight;
			pthread_mutex_unlock(&h->mu);
			if (n <= 0 || mono_ms() > until)
				break;
			nanosleep(&ts, NULL);
		}
	}
	msp_workers_stop(h);
	msp_pool_stop(h);
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	if (h->reaper_on) {
		pthread_mutex_lock(&h->mu);
		h->reaper_on = 0;
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->reaper, NULL);
	}
	while (h->conns != NULL) {
		struct msp_conn *c = h->conns;
		h->conns = c->next;
		free(c);
	}
	msp_fbuf_free_all(h);
	msp_throttle_free(h->throttle);
	sodium_memzero(&h->url_key, sizeof(h->url_key));
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->wmu);
	pthread_mutex_destroy(&h->fmu);
	pthread_cond_destroy(&h->wcv);
	free(h->status_hits);
	free(h->bytes);
	free(h);
}

/* ---- /health and /metrics ------------------------------------------- */

void
msp_route_health(struct msp_req *r)
{
	json_object *o = json_object_new_object();
	struct msp_err e;
	MDB_txn *t;

	if (msp_txn_begin(r->h->st, 0, &t, &e) != 0) {
		json_object_object_add(o, "status",
		    json_object_new_string("unavailable"));
		json_object_object_add(o, "error", json_object_new_string(
		    e.msg));
		msp_reply_json(r, 503, o);
	} else {
		msp_txn_abort(r->h->st, t);
		json_object_object_add(o, "status", json_object_new_string("ok"));
		msp_reply_json(r, 200, o);
	}
	json_object_put(o);
}

static const char *
route_label(size_t i)
{
	if (i >= msp_nroutes)
		return "unmatched";
	return msp_routes[i].label != NULL ? msp_routes[i].label :
	    msp_routes[i].path;
}

long msp_http_jobs(struct msp_http *h, const char *state);

/* a Prometheus label value: \\, \" and \n escaped */
static void
label(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* msp_dispatch_status's job lines as metrics */
static int
job_metrics(json_object *l, void *arg)
{
	FILE *f = arg;
	const char *type = msp_json_sget(l, "type");
	const char *state = msp_json_sget(l, "state");
	json_object *x;

	if (type == NULL || strcmp(type, "job") != 0)
		return 0;
	if (strcmp(state, "running") == 0) {
		fputs("msp_transcode_job_progress{job=\"", f);
		label(f, msp_json_sget(l, "id"));
		fputs("\",worker=\"", f);
		label(f, msp_json_sget(l, "worker"));
		fprintf(f, "\"} %d\n", json_object_object_get_ex(l, "progress",
		    &x) ? json_object_get_int(x) : 0);
	}
	fputs("msp_transcode_job_attempts{job=\"", f);
	label(f, msp_json_sget(l, "id"));
	fprintf(f, "\",state=\"%s\"} %d\n", state,
	    json_object_object_get_ex(l, "attempts", &x) ?
	    json_object_get_int(x) : 0);
	return 0;
}

void
msp_route_metrics(struct msp_req *r)
{
	struct msp_http *h = r->h;
	struct MHD_Response *resp;
	char *buf = NULL;
	size_t len = 0, i, s;
	FILE *f = open_memstream(&buf, &len);
	static const char *const states[] = { "queued", "running", "done",
	    "failed", NULL };
	const char *const *sp;

	if (f == NULL) {
		msp_reply(r, 500, NULL);
		return;
	}
	fputs("# HELP msp_http_requests_total HTTP requests answered, by "
	    "route and status.\n# TYPE msp_http_requests_total counter\n", f);
	pthread_mutex_lock(&h->mu);
	for (i = 0; i < msp_nroutes + EXTRA_ROUTES; i++)
		for (s = 100; s < NSTATUS; s++)
			if (h->status_hits[i * NSTATUS + s] != 0)
				fprintf(f, "msp_http_requests_total{method=\"%s\","
				    "route=\"%s\",status=\"%zu\"} %llu\n",
				    i < msp_nroutes ? msp_routes[i].method : "",
				    route_label(i), s, (unsigned long long)
				    h->status_hits[i * NSTATUS + s]);
	fputs("# HELP msp_http_response_bytes_total Bytes of response bodies, "
	    "by route.\n# TYPE msp_http_response_bytes_total counter\n", f);
	for (i = 0; i < msp_nroutes + EXTRA_ROUTES; i++)
		if (h->bytes[i] != 0)
			fprintf(f, "msp_http_response_bytes_total{method=\"%s\","
			    "route=\"%s\"} %llu\n",
			    i < msp_nroutes ? msp_routes[i].method : "",
			    route_label(i), (unsigned long long)h->bytes[i]);
	fprintf(f, "# HELP msp_http_connections Open client connections.\n"
	    "# TYPE msp_http_connections gauge\nmsp_http_connections %ld\n",
	    h->nconns);
	fprintf(f, "# HELP msp_http_requests_in_flight Requests being "
	    "answered.\n# TYPE msp_http_requests_in_flight gauge\n"
	    "msp_http_requests_in_flight %ld\n", h->inflight);
	pthread_mutex_unlock(&h->mu);
	fputs("# HELP msp_jobs Transcode jobs in the store's queue, by state.\n"
	    "# TYPE msp_jobs gauge\n", f);
	for (sp = states; *sp != NULL; sp++) {
		long n = msp_http_jobs(h, *sp);
		if (n >= 0)
			fprintf(f, "msp_jobs{state=\"%s\"} %ld\n", *sp, n);
	}
	fprintf(f, "# HELP msp_transcode_queue_length Jobs waiting for a "
	    "worker.\n# TYPE msp_transcode_queue_length gauge\n"
	    "msp_transcode_queue_length %ld\n", msp_http_jobs(h, "queued"));
	fputs("# HELP msp_transcode_job_progress Percent done of each running "
	    "job, by worker.\n# TYPE msp_transcode_job_progress gauge\n"
	    "# HELP msp_transcode_job_attempts Attempts of each running or "
	    "failed job.\n# TYPE msp_transcode_job_attempts gauge\n", f);
	(void)msp_dispatch_status(h->st, job_metrics, f, NULL);
	if (fclose(f) != 0) {
		free(buf);
		msp_reply(r, 500, NULL);
		return;
	}
	resp = MHD_create_response_from_buffer(len, buf,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(buf);
		msp_reply(r, 500, NULL);
		return;
	}
	r->bytes = len;
	MHD_add_response_header(resp, "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	msp_reply(r, 200, resp);
}
