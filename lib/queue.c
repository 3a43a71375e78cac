/* queue: job and result streams on Redis, with hiredis. See queue.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <sodium.h>

#include "queue.h"
#include "tls_relay.h"
#include "util.h"

#define CONNECT_MS 2000
#define REPLY_MS 10000   /* a reply beyond a blocking read's own wait */

struct msp_queue {
	char *host, *user, *password, *where;
	int port, db;
	char *stream[3];
	redisContext *c;
	struct msp_tls_ctx *tls;    /* rediss:// */
	struct msp_tls_relay *relay;
	int ready;   /* connected, authenticated, streams and groups made */
};

static const char *const group_of[] = { "workers", "dispatch", NULL };

static void drop(struct msp_queue *);

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

static char *
url_part(CURLU *u, CURLUPart p)
{
	char *s = NULL, *r;

	if (curl_url_get(u, p, &s, CURLU_URLDECODE) != CURLUE_OK)
		return NULL;
	r = msp_strdup(s);
	curl_free(s);
	return r;
}

int
msp_queue_open(struct msp_queue **qp, const struct msp_queue_conf *cf,
    struct msp_err *e)
{
	struct msp_queue *q;
	CURLU *u = NULL;
	char *port = NULL, *path = NULL, *scheme = NULL;
	const char *url = cf->url, *password = cf->password;
	const char *prefix = cf->prefix;
	long long n;
	int rc = 0, i, tls = 0;

	*qp = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return oom(e);
	if ((u = curl_url()) == NULL) {
		rc = oom(e);
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK || (scheme = url_part(u, CURLUPART_SCHEME)) == NULL ||
	    (strcmp(scheme, "redis") != 0 && strcmp(scheme, "rediss") != 0) ||
	    (q->host = url_part(u, CURLUPART_HOST)) == NULL) {
		rc = msp_err_set(e, MSP_EINVAL, "not a redis://HOST[:PORT][/DB] "
		    "or rediss://... URL");
		goto out;
	}
	tls = strcmp(scheme, "rediss") == 0;
	if (!tls && (cf->ca != NULL || cf->cert != NULL || cf->key != NULL)) {
		rc = msp_err_set(e, MSP_EINVAL, "a CA, certificate or key file "
		    "is for TLS: a rediss:// URL");
		goto out;
	}
	if (tls && (rc = msp_tls_ctx_new(&q->tls, cf->ca, cf->cert, cf->key,
	    e)) != 0)
		goto out;
	if (q->host[0] == '[') { /* an IPv6 address */
		size_t hl = strlen(q->host);
		if (hl > 2 && q->host[hl - 1] == ']') {
			memmove(q->host, q->host + 1, hl - 2);
			q->host[hl - 2] = '\0';
		}
	}
	q->port = 6379;
	if ((port = url_part(u, CURLUPART_PORT)) != NULL) {
		if (msp_parse_int(port, 1, 65535, &n) != 0) {
			rc = msp_err_set(e, MSP_EINVAL, "port '%s': not a port",
			    port);
			goto out;
		}
		q->port = (int)n;
	}
	if ((path = url_part(u, CURLUPART_PATH)) != NULL &&
	    strcmp(path, "/") != 0 && strcmp(path, "") != 0) {
		if (msp_parse_int(path + 1, 0, 1000, &n) != 0) {
			rc = msp_err_set(e, MSP_EINVAL, "database '%s': not a "
			    "number", path + 1);
			goto out;
		}
		q->db = (int)n;
	}
	q->user = url_part(u, CURLUPART_USER);
	if (q->user != NULL && *q->user == '\0') {
		free(q->user);
		q->user = NULL;
	}
	q->password = password != NULL && *password != '\0' ?
	    msp_strdup(password) : url_part(u, CURLUPART_PASSWORD);
	q->where = msp_sprintf("%s://%s%s%s:%d/%d", tls ? "rediss" : "redis",
	    strchr(q->host, ':') ? "[" : "", q->host, strchr(q->host, ':') ?
	    "]" : "", q->port, q->db);
	if (prefix == NULL)
		prefix = "msp";
	q->stream[0] = msp_sprintf("%s:jobs", prefix);
	q->stream[1] = msp_sprintf("%s:results", prefix);
	q->stream[2] = msp_sprintf("%s:dead", prefix);
	for (i = 0; i < 3; i++)
		if (q->stream[i] == NULL)
			rc = oom(e);
	if (q->where == NULL)
		rc = oom(e);
out:
	free(port);
	free(path);
	free(scheme);
	curl_url_cleanup(u);
	if (rc != 0) {
		msp_queue_close(q);
		return rc;
	}
	*qp = q;
	return 0;
}

void
msp_queue_close(struct msp_queue *q)
{
	int i;

	if (q == NULL)
		return;
	drop(q);
	msp_tls_ctx_free(q->tls);
	if (q->password != NULL) {
		sodium_memzero(q->password, strlen(q->password));
		free(q->password);
	}
	for (i = 0; i < 3; i++)
		free(q->stream[i]);
	free(q->host);
	free(q->user);
	free(q->where);
	free(q);
}

const char *
msp_queue_where(const struct msp_queue *q)
{
	return q->where;
}

static void
drop(struct msp_queue *q)
{
	if (q->c != NULL)
		redisFree(q->c); /* closes the relay's plain end */
	q->c = NULL;
	msp_tls_relay_close(q->relay);
	q->relay = NULL;
	q->ready = 0;
}

static void
timeout(struct msp_queue *q, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	redisSetTimeout(q->c, tv);
}

/* A command's reply; NULL with e set (and the connection dropped when it
 * broke). Error replies are returned as they are. */
static redisReply *
cmd(struct msp_queue *q, struct msp_err *e, int argc, const char **argv)
{
	redisReply *r;

	r = redisCommandArgv(q->c, argc, argv, NULL);
	if (r == NULL) {
		const char *why = msp_tls_relay_why(q->relay);
		if (why != NULL) /* the server ended TLS with an alert */
			msp_err_set(e, MSP_EPERM, "%s: TLS: %s", q->where, why);
		else
			msp_err_set(e, MSP_ENET, "%s: %s", q->where,
			    q->c->errstr[0] ? q->c->errstr : "connection lost");
		drop(q);
	}
	return r;
}

/* An error reply into e: NOGROUP (the streams are gone: Redis restarted
 * empty) drops the connection, so the next call makes them again. */
static int
reply_err(struct msp_queue *q, redisReply *r, const char *what,
    struct msp_err *e)
{
	int rc;

	if (strncmp(r->str, "NOGROUP", 7) == 0 ||
	    strncmp(r->str, "LOADING", 7) == 0) {
		rc = msp_err_set(e, MSP_ENET, "%s: %s: %s", q->where, what,
		    r->str);
		drop(q);
	} else {
		rc = msp_err_set(e, MSP_EIO, "%s: %s: %s", q->where, what,
		    r->str);
	}
	freeReplyObject(r);
	return rc;
}

static int
simple(struct msp_queue *q, struct msp_err *e, const char *what, int argc,
    const char **argv, int ok_busy)
{
	redisReply *r;

	if ((r = cmd(q, e, argc, argv)) == NULL)
		return MSP_ENET;
	if (r->type == REDIS_REPLY_ERROR) {
		if (ok_busy && strncmp(r->str, "BUSYGROUP", 9) == 0) {
			freeReplyObject(r);
			return 0;
		}
		return reply_err(q, r, what, e);
	}
	freeReplyObject(r);
	return 0;
}

int
msp_queue_connect(struct msp_queue *q, struct msp_err *e)
{
	struct timeval tv = { CONNECT_MS / 1000, 0 };
	char db[16];
	int rc, i;

	if (q->ready)
		return 0;
	drop(q);
	if (q->tls != NULL) {
		int fd;
		if ((rc = msp_tls_relay_open(&q->relay, q->tls, q->host,
		    q->port, CONNECT_MS, &fd, e)) != 0) {
			msp_err_prefix(e, "%s", q->where);
			return rc;
		}
		if ((q->c = redisConnectFd(fd)) == NULL) {
			close(fd);
			drop(q);
			return oom(e);
		}
	} else {
		q->c = redisConnectWithTimeout(q->host, q->port, tv);
	}
	if (q->c == NULL)
		return oom(e);
	if (q->c->err) {
		rc = msp_err_set(e, MSP_ENET, "%s: %s", q->where, q->c->errstr);
		drop(q);
		return rc;
	}
	timeout(q, REPLY_MS);
	if (q->password != NULL) {
		const char *a[3] = { "AUTH", q->user ? q->user : q->password,
		    q->password };
		/* the reply never echoes the password */
		if ((rc = simple(q, e, "AUTH", q->user ? 3 : 2, a, 0)) != 0) {
			drop(q);
			return rc == MSP_EIO ? MSP_EPERM : rc;
		}
	}
	snprintf(db, sizeof(db), "%d", q->db);
	{
		const char *a[2] = { "SELECT", db };
		if ((rc = simple(q, e, "SELECT", 2, a, 0)) != 0) {
			drop(q);
			return rc;
		}
	}
	for (i = 0; group_of[i] != NULL; i++) {
		const char *a[6] = { "XGROUP", "CREATE", q->stream[i],
		    group_of[i], "0", "MKSTREAM" };
		if ((rc = simple(q, e, "XGROUP CREATE", 6, a, 1)) != 0) {
			drop(q);
			return rc;
		}
	}
	q->ready = 1;
	return 0;
}

int
msp_queue_add(struct msp_queue *q, enum msp_qstream s, const char *line,
    char id[48], struct msp_err *e)
{
	const char *a[5] = { "XADD", q->stream[s], "*", "line", line };
	redisReply *r;
	int rc;

	if ((rc = msp_queue_connect(q, e)) != 0)
		return rc;
	if ((r = cmd(q, e, 5, a)) == NULL)
		return MSP_ENET;
	if (r->type == REDIS_REPLY_ERROR)
		return reply_err(q, r, "XADD", e);
	if (id != NULL)
		snprintf(id, 48, "%s", r->type == REDIS_REPLY_STRING ?
		    r->str : "");
	freeReplyObject(r);
	return 0;
}

void
msp_queue_msgs_free(struct msp_qmsg *m, size_t n)
{
	size_t i;

	for (i = 0; m != NULL && i < n; i++)
		free(m[i].line);
	free(m);
}

/* entries: [[id, [field, value, ...]], ...] into msgs */
static int
entries(redisReply *r, struct msp_qmsg **msgs, size_t *n, struct msp_err *e)
{
	struct msp_qmsg *m;
	size_t i, k, got = 0;

	*msgs = NULL;
	*n = 0;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0)
		return 0;
	if ((m = calloc(r->elements, sizeof(*m))) == NULL)
		return oom(e);
	for (i = 0; i < r->elements; i++) {
		redisReply *x = r->element[i], *f;
		if (x->type != REDIS_REPLY_ARRAY || x->elements < 2 ||
		    x->element[0]->type != REDIS_REPLY_STRING)
			continue; /* deleted while pending */
		snprintf(m[got].id, sizeof(m[got].id), "%s",
		    x->element[0]->str);
		f = x->element[1];
		for (k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements;
		    k += 2)
			if (f->element[k]->type == REDIS_REPLY_STRING &&
			    strcmp(f->element[k]->str, "line") == 0 &&
			    f->element[k + 1]->type == REDIS_REPLY_STRING) {
				m[got].line = msp_strdup(f->element[k + 1]->str);
				if (m[got].line == NULL) {
					msp_queue_msgs_free(m, got + 1);
					return oom(e);
				}
			}
		got++;
	}
	*msgs = m;
	*n = got;
	return 0;
}

int
msp_queue_read(struct msp_queue *q, enum msp_qstream s,
    const char *consumer, int pending, long block_ms, size_t count,
    struct msp_qmsg **msgs, size_t *n, struct msp_err *e)
{
	char cnt[24], blk[24];
	const char *a[11] = { "XREADGROUP", "GROUP", group_of[s], consumer,
	    "COUNT", cnt, "BLOCK", blk, "STREAMS", q->stream[s], ">" };
	const char *p[9] = { "XREADGROUP", "GROUP", group_of[s], consumer,
	    "COUNT", cnt, "STREAMS", q->stream[s], "0" };
	redisReply *r;
	int rc;

	*msgs = NULL;
	*n = 0;
	if ((rc = msp_queue_connect(q, e)) != 0)
		return rc;
	snprintf(cnt, sizeof(cnt), "%zu", count);
	snprintf(blk, sizeof(blk), "%ld", block_ms);
	timeout(q, block_ms + REPLY_MS);
	if (!pending && block_ms <= 0) { /* no wait */
		a[6] = "STREAMS";
		a[7] = q->stream[s];
		a[8] = ">";
	}
	r = pending ? cmd(q, e, 9, p) : cmd(q, e, block_ms > 0 ? 11 : 9, a);
	if (q->c != NULL)
		timeout(q, REPLY_MS);
	if (r == NULL)
		return MSP_ENET;
	if (r->type == REDIS_REPLY_ERROR)
		return reply_err(q, r, "XREADGROUP", e);
	/* [[stream, entries]] or nil on timeout */
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements == 2)
		rc = entries(r->element[0]->element[1], msgs, n, e);
	freeReplyObject(r);
	return rc;
}

int
msp_queue_ack(struct msp_queue *q, enum msp_qstream s, const char *id,
    int del, struct msp_err *e)
{
	const char *a[4] = { "XACK", q->stream[s], group_of[s], id };
	const char *d[3] = { "XDEL", q->stream[s], id };
	int rc;

	if ((rc = msp_queue_connect(q, e)) != 0)
		return rc;
	if ((rc = simple(q, e, "XACK", 4, a, 0)) != 0)
		return rc;
	return del ? simple(q, e, "XDEL", 3, d, 0) : 0;
}

int
msp_queue_renew(struct msp_queue *q, const char *consumer, const char *id,
    struct msp_err *e)
{
	const char *a[7] = { "XCLAIM", q->stream[MSP_Q_JOBS], "workers",
	    consumer, "0", id, "JUSTID" };
	redisReply *r;
	int rc;

	if ((rc = msp_queue_connect(q, e)) != 0)
		return rc;
	if ((r = cmd(q, e, 7, a)) == NULL)
		return MSP_ENET;
	if (r->type == REDIS_REPLY_ERROR)
		return reply_err(q, r, "XCLAIM", e);
	rc = r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? 0 :
	    msp_err_set(e, MSP_ENOTFOUND, "%s: entry %s is no longer pending",
	    q->where, id);
	freeReplyObject(r);
	return rc;
}

int
msp_queue_takeover(struct msp_queue *q, const char *consumer, long idle_ms,
    size_t count, struct msp_qmsg **msgs, size_t *n, struct msp_err *e)
{
	char idle[24], cnt[24];
	const char *a[8] = { "XAUTOCLAIM", q->stream[MSP_Q_JOBS], "workers",
	    consumer, idle, "0-0", "COUNT", cnt };
	redisReply *r;
	int rc;

	*msgs = NULL;
	*n = 0;
	if ((rc = msp_queue_connect(q, e)) != 0)
		return rc;
	snprintf(idle, sizeof(idle), "%ld", idle_ms);
	snprintf(cnt, sizeof(cnt), "%zu", count);
	if ((r = cmd(q, e, 8, a)) == NULL)
		return MSP_ENET;
	if (r->type == REDIS_REPLY_ERROR)
		return reply_err(q, r, "XAUTOCLAIM", e);
	/* [next-id, entries, deleted-ids] */
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
		rc = entries(r->element[1], msgs, n, e);
	freeReplyObject(r);
	return rc;
}

int
msp_queue_has(struct msp_queue *q, const char *id, struct msp_err *e)
{
	const char *a[4] = { "XRANGE", q->stream[MSP_Q_JOBS], id, id };
	redisReply *r;
	int rc;

	if ((rc = msp_queue_connect(q, e)) != 0)
		return rc;
	if ((r = cmd(q, e, 4, a)) == NULL)
		return MSP_ENET;
	if (r->type == REDIS_REPLY_ERROR)
		return reply_err(q, r, "XRANGE", e);
	rc = r->type == REDIS_REPLY_ARRAY && r->elements > 0;
	freeReplyObject(r);
	return rc;
}

static long long
len_of(struct msp_queue *q, enum msp_qstream s, struct msp_err *e)
{
	const char *a[2] = { "XLEN", q->stream[s] };
	redisReply *r;
	long long n;

	if ((r = cmd(q, e, 2, a)) == NULL)
		return MSP_ENET;
	if (r->type == REDIS_REPLY_ERROR)
		return reply_err(q, r, "XLEN", e);
	n = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	return n;
}

int
msp_queue_stats(struct msp_queue *q, struct msp_qstats *s,
    struct msp_err *e)
{
	const char *a[3] = { "XINFO", "GROUPS", q->stream[MSP_Q_JOBS] };
	redisReply *r;
	size_t i, k;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = msp_queue_connect(q, e)) != 0)
		return rc;
	if ((s->jobs = len_of(q, MSP_Q_JOBS, e)) < 0 ||
	    (s->results = len_of(q, MSP_Q_RESULTS, e)) < 0 ||
	    (s->dead = len_of(q, MSP_Q_DEAD, e)) < 0)
		return MSP_ENET;
	if ((r = cmd(q, e, 3, a)) == NULL)
		return MSP_ENET;
	if (r->type == REDIS_REPLY_ERROR)
		return reply_err(q, r, "XINFO", e);
	for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		redisReply *g = r->element[i];
		int ours = 0;
		for (k = 0; g->type == REDIS_REPLY_ARRAY && k + 1 < g->elements;
		    k += 2)
			if (g->element[k + 1]->type == REDIS_REPLY_STRING &&
			    strcmp(g->element[k]->str, "name") == 0)
				ours = strcmp(g->element[k + 1]->str,
				    "workers") == 0;
		for (k = 0; ours && k + 1 < g->elements; k += 2) {
			long long v = g->element[k + 1]->type ==
			    REDIS_REPLY_INTEGER ? g->element[k + 1]->integer : 0;
			if (strcmp(g->element[k]->str, "consumers") == 0)
				s->workers = v;
			else if (strcmp(g->element[k]->str, "pending") == 0)
				s->pending = v;
			else if (strcmp(g->element[k]->str, "lag") == 0)
				s->waiting = v;
		}
	}
	freeReplyObject(r);
	return 0;
}
