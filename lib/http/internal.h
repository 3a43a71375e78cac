/* http internals shared by the server core, the routes, file delivery
 * and the workers. Not installed. */
#ifndef MSP_HTTP_INTERNAL_H
#define MSP_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <json.h>
#include <microhttpd.h>

#include "auth.h"
#include "err.h"
#include "http.h"
#include "ingest.h"
#include "store.h"
#include "throttle.h"

struct msp_req;
typedef void (*msp_route_fn)(struct msp_req *r);

/* Route flags */
#define R_AUTH    0x01 /* a session is required (401 without) */
#define R_JSON    0x02 /* the body is a JSON object (may be empty: {}) */
#define R_UPLOAD  0x04 /* the body is a file, streamed to the store */
#define R_PREFIX  0x08 /* path is a prefix; the rest is r->rest */
#define R_ADMIN   0x10 /* only admins */
#define R_HASH    0x20 /* spends a password hash: runs in the hashing pool */
#define R_TUS     0x40 /* the body streams into a resumable upload (tus.c) */
#define R_TEXT    0x80 /* the body is a file kept whole (a caption) */

struct msp_route {
	const char *method;  /* "GET" also answers HEAD */
	const char *path;
	msp_route_fn fn;
	int flags;
	const char *label;   /* for /metrics; defaults to path */
};
extern const struct msp_route msp_routes[];
extern const size_t msp_nroutes;

struct msp_conn; /* one client connection (server.c) */
struct msp_pool; /* the hashing pool (pool.c) */

struct msp_http {
	struct MHD_Daemon *d;
	struct msp_store *st;
	struct msp_http_conf c;
	unsigned port;
	struct msp_url_key url_key; /* signs and checks media URLs */

	pthread_mutex_t mu;        /* metrics, log, conns */
	uint64_t (*hits)[6];       /* [route + extra][status class] */
	uint64_t *bytes;           /* [route + extra] */
	uint64_t *status_hits;     /* [route + extra][600] */
	long inflight;
	long uploads;              /* uploads being received */
	struct msp_conn *conns;
	long nconns;
	int stopping;
	pthread_t reaper;
	int reaper_on;

	struct msp_pool *pool;
	struct msp_throttle *throttle; /* failed-login limits */

	pthread_mutex_t fmu;       /* the file cache (fbuf.c) */
	struct msp_fbuf *fb_head, *fb_tail; /* most recently sent first */
	size_t fb_bytes;           /* bytes of the files in it */
	unsigned fb_count;         /* files in it */

	pthread_t *workers;
	unsigned nworkers;
	pthread_mutex_t wmu;
	pthread_cond_t wcv;        /* workers wait here for new jobs */
	int wstop;
	long jobs_done, jobs_failed;
};

struct msp_req {
	struct msp_http *h;
	struct MHD_Connection *conn;
	struct msp_conn *mc;
	const struct msp_route *route;
	int route_idx;             /* index into the metrics; see route_label */
	char *raw_uri;             /* as sent, for the log */
	const char *method;
	const char *url;           /* unescaped path */
	const char *rest;          /* after a prefix route's path */
	int64_t t0;
	int started;
	int done;                  /* a response was queued */
	int close;                 /* close the connection after the answer */
	int pooled;                /* handed to the hashing pool */
	long retry_after;          /* s, for a Retry-After header; 0: none */
	unsigned resp_status;      /* a pooled route's answer, queued on resume */
	int status;
	uint64_t bytes;

	/* body */
	char *body;
	size_t blen, bcap;
	int too_big;
	json_object *json;         /* parsed body (R_JSON) */

	/* upload */
	struct msp_ingest *ing;    /* the file being received (lib/ingest) */
	long long ulen;
	long long rx;              /* body bytes received */
	int upload_counted;        /* counted in h->uploads */
	int ing_rc;                /* a write error of ingest, kept for the end */
	struct msp_err ing_err;
	struct MHD_PostProcessor *pp;
	json_object *fields;       /* form fields and metadata */
	char *file_name;

	struct msp_tus *tus;       /* a tus PATCH (tus.c) */

	/* identity */
	json_object *user;         /* from the session, or NULL */
	const char *email;         /* the user's */
	int admin;
	char *token;               /* session token from the request */

	struct MHD_Response *resp;
};

/* Answers. Each queues the response once (later calls do nothing). */
void msp_reply_json(struct msp_req *r, unsigned status, json_object *o);
void msp_reply_error(struct msp_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Map a library error to a status: EINVAL 400, ENOTFOUND 404, EEXIST 409,
 * EPERM 403, EAGAIN 429, EMEDIA 422, ENET 502, others 500 (logged). */
void msp_reply_err(struct msp_req *r, const struct msp_err *e);
/* A prepared response (takes ownership). */
void msp_reply(struct msp_req *r, unsigned status, struct MHD_Response *resp);
/* Serve the file path inside the directory root, following no symbolic
 * link below root (range, ETag, Last-Modified); cache: the Cache-Control. */
void msp_reply_file(struct msp_req *r, const char *root, const char *path,
    const char *cache);
/* A file answer sent from memory, head and body in one write: bytes
 * [off, off + len) of the file open as fd, whose fstat is sb, from the
 * --file-buffers cache (read into it on a miss). NULL when the file is
 * too large for it or its memory is taken by answers in flight: send fd
 * with sendfile then. The caller still owns fd. */
struct MHD_Response *msp_fbuf_response(struct msp_http *h, int fd,
    const struct stat *sb, uint64_t off, uint64_t len);
/* Empty the cache once no answer holds a buffer (the daemon stopped). */
void msp_fbuf_free_all(struct msp_http *h);
/* Add the CORS and security headers every answer carries. */
void msp_http_headers(struct msp_req *r, struct MHD_Response *resp);

const char *msp_req_header(struct msp_req *r, const char *name);
/* The client's key for the login limits (lib/throttle). */
void msp_req_client(struct msp_req *r, char out[MSP_THROTTLE_CLIENT]);
const char *msp_req_arg(struct msp_req *r, const char *name);

/* The routes (routes.c, hls.c). */
void msp_route_health(struct msp_req *r);
void msp_route_metrics(struct msp_req *r);
void msp_route_hls(struct msp_req *r);
void msp_route_video_get(struct msp_req *r);
void msp_route_video_del(struct msp_req *r);
void msp_route_video_patch(struct msp_req *r);
void msp_route_caption_put(struct msp_req *r);
void msp_route_upload_short(struct msp_req *r);
void msp_route_upload_long(struct msp_req *r);
void msp_route_short_get(struct msp_req *r);
void msp_route_long_get(struct msp_req *r);
void msp_route_like(struct msp_req *r);
void msp_route_rating(struct msp_req *r);
void msp_route_query(struct msp_req *r);
void msp_route_search(struct msp_req *r);
void msp_route_search_index(struct msp_req *r);
void msp_route_premium_payment(struct msp_req *r);
void msp_route_premium_confirm(struct msp_req *r);

/* The web front (web.c): its files, the Content-Security-Policy they
 * go out with (media_origin: a bucket's origin, or NULL), and the poster
 * and thumbnail links of a video whose playlist is at playback (NULL: a
 * locked premium video, which shows its public poster only). */
void msp_route_web(struct msp_req *r);
char *msp_http_csp(const char *media_origin);
void msp_http_web_headers(struct msp_req *r, struct MHD_Response *resp);
void msp_http_media_links(json_object *v, const char *id,
    const char *playback);
/* What a client needs to show a video (videos.c): counters, playbackUrl
 * when the caller may watch it, poster and thumbnails. */
void msp_http_video_out(struct msp_req *r, MDB_txn *t, json_object *v);
void msp_route_premium_plans(struct msp_req *r);

/* Resumable uploads, tus 1.0 (tus.c). msp_tus_begin checks a PATCH
 * before its body (-1 after replying), msp_tus_body takes its bytes,
 * msp_tus_end ends it however the request ended. */
void msp_route_tus_options(struct msp_req *r);
void msp_route_tus_create(struct msp_req *r);
void msp_route_tus_head(struct msp_req *r);
void msp_route_tus_patch(struct msp_req *r);
void msp_route_tus_delete(struct msp_req *r);
int msp_tus_begin(struct msp_req *r);
int msp_tus_body(struct msp_req *r, const char *data, size_t n);
void msp_tus_end(struct msp_req *r);
void msp_http_tus_headers(struct msp_req *r, struct MHD_Response *resp);

/* Premium (premium.c): may the caller watch premium video v (owner,
 * admin, subscriber)? *end_ms: the subscription's end for a subscriber,
 * else 0. The caller's subscription as /query items; -1 after replying. */
int msp_http_premium_ok(struct msp_req *r, json_object *v, int64_t *end_ms);
int msp_http_query_subscription(struct msp_req *r, json_object *items);

/* The hashing pool (pool.c): submit suspends r's connection and runs its
 * route on a pool thread, then resumes it; -1 when the queue is full. */
int msp_pool_start(struct msp_http *h, struct msp_err *e);
int msp_pool_submit(struct msp_http *h, struct msp_req *r);
void msp_pool_stop(struct msp_http *h);

/* Workers (worker.c). */
int msp_workers_start(struct msp_http *h, struct msp_err *e);
void msp_workers_stop(struct msp_http *h);
void msp_workers_wake(struct msp_http *h);

#endif
