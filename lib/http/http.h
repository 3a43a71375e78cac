/* http: msp-serve's HTTP surface on libmicrohttpd. Routes turn a request
 * into the library call the matching tool makes and its answer into JSON;
 * they hold no rules of their own. See msp-serve(1) for the routes. */
#ifndef MSP_HTTP_H
#define MSP_HTTP_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "pay.h"
#include "store.h"

#define MSP_FILE_BUFFERS ((size_t)128 << 20) /* bytes, the default */

struct msp_http_conf {
	const char *listen;        /* "HOST:PORT", "[V6]:PORT"; port 0: any */
	unsigned threads;          /* request threads */
	unsigned max_conns;        /* open connections, in all */
	unsigned per_ip;           /* open connections per client address */
	unsigned idle_timeout;     /* s a connection may sit idle */
	unsigned request_timeout;  /* s for a request's head (and JSON body) */
	size_t header_max;         /* bytes of a request head */
	size_t body_max;           /* bytes of a JSON body */
	long long upload_max;      /* bytes of an uploaded file */
	unsigned max_uploads;      /* uploads at a time */
	unsigned min_rate;         /* bytes/s an upload must average; 0: any */
	unsigned login_fails;      /* from a client to an account: a lock */
	unsigned login_fails_ip;   /* from a client in a window: a lock */
	unsigned login_fails_account; /* to an account: known clients only */
	long upload_quota;         /* unfinished resumable uploads a user
	                              may have */
	long upload_ttl;           /* s a resumable upload may take */
	long session_ttl;          /* s */
	long url_ttl;              /* s a signed media URL stays good */
	const char *const *cors;   /* allowed origins, NULL-terminated */
	const char *web_dir;       /* the web front's files, or NULL */
	const char *media_origin;  /* where media is fetched from when not
	                              from this origin (a bucket), or NULL:
	                              the web front's policy allows it */
	FILE *access_log;          /* combined log format, or NULL */
	size_t file_buffers;       /* bytes of memory for file answers sent
	                              whole, head and body in one write (see
	                              fbuf.c); 0: sendfile only */
	unsigned hash_threads;     /* password hashing threads */
	unsigned hash_queue;       /* logins waiting for one, at most */
	unsigned workers;          /* transcode worker threads */
	const char *ladder;        /* transcode ladder (see msp-transcode) */
	unsigned grace;            /* s to let requests finish on stop */
	int secure_cookie;         /* mark the session cookie Secure */
	const struct msp_pay_conf *pay; /* Razorpay settings (lib/pay), or NULL */
	int media_redirect;        /* media without local files: redirect
				    * segments to presigned URLs, not proxy */
};

void msp_http_conf_default(struct msp_http_conf *c);
/* 0 when s is an origin, http[s]://HOST[:PORT] and nothing more (so that
 * it can be named in a Content-Security-Policy), else -1. */
int msp_http_origin_check(const char *s);

struct msp_http;
/* Start listening and serving (threads of its own); st stays the caller's
 * and must outlive the server. */
int msp_http_start(struct msp_http **hp, struct msp_store *st,
    const struct msp_http_conf *c, struct msp_err *e);
/* The port actually bound (for --listen with port 0). */
unsigned msp_http_port(const struct msp_http *h);
/* Graceful stop: accept no more connections, let requests in flight end
 * (at most conf.grace seconds), stop the workers, free everything. */
void msp_http_stop(struct msp_http *h);

#endif
