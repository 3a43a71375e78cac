/* blob, the bucket backend: objects in an S3-compatible bucket through
 * lib/s3, under the bucket file's key prefix. Local files go up in
 * parallel parts, and nothing is visible under a key before its upload
 * completes; a failed or abandoned upload is aborted. lib/s3 handles are
 * not shared between threads: each call takes one from a small pool.
 *
 * Lazy writes (segments) and live playlists do not make the writer wait:
 * they go up in the background, QWORKERS at a time, from a queue of at
 * most QMAX objects (a writer waits when it is full). A live playlist is
 * a barrier: it goes up only once everything queued before it is up, and
 * not at all when an object of its group (media/hls/<id>/) failed, so a
 * playlist never names a missing segment. Any other write, a removal and
 * msp_blob_sync wait for the queue to empty first; sync reports the
 * failures under its prefix. A lazy object larger than one part streams
 * out as a multipart upload while it is written, as other objects do. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob_impl.h"
#include "s3.h"
#include "util.h"

#define POOL 16
#define QMAX 16
#define QWORKERS 4

struct job {
	char *key;
	unsigned char *data;
	size_t len;
	int flags;
	struct job *next;
};

struct fail {
	char *key;
	struct msp_err err;
	struct fail *next;
};

struct bucket {
	struct msp_s3_conf conf;
	time_t swept;        /* the last stage sweep */
	pthread_mutex_t mu;
	struct msp_s3 *pool[POOL];
	int n;
	/* the background queue, under mu */
	pthread_cond_t qcv;
	struct job *head, *tail;
	int queued, busy, nth, closing;
	pthread_t th[QWORKERS];
	struct fail *fails;
};

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

/* A bucket that fails is the media failing: an I/O error, fatal for a
 * tool, not a bad input. */
static int
io(int rc, struct msp_err *e)
{
	if (rc == MSP_ENET) {
		rc = MSP_EIO;
		if (e != NULL)
			e->code = rc;
	}
	return rc;
}

static int
take(struct msp_blob *b, struct msp_s3 **sp, struct msp_err *e)
{
	struct bucket *k = b->impl;

	pthread_mutex_lock(&k->mu);
	*sp = k->n > 0 ? k->pool[--k->n] : NULL;
	pthread_mutex_unlock(&k->mu);
	return *sp != NULL ? 0 : msp_s3_open(sp, &k->conf, e);
}

static void
give(struct msp_blob *b, struct msp_s3 *s)
{
	struct bucket *k = b->impl;

	if (s == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	if (k->n < POOL) {
		k->pool[k->n++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&k->mu);
	msp_s3_close(s);
}

static void
opts(struct msp_s3_put_opts *o, const char *key, int flags)
{
	o->content_type = msp_blob_content_type(key);
	o->cache_control = msp_blob_cache_control(key, flags);
}

/* ---- the background queue ------------------------------------------ */

/* The length of key's group: "media/hls/<id>/" (its first three
 * components), or the whole key. */
static size_t
group_len(const char *key)
{
	const char *p = key;
	int i;

	for (i = 0; i < 3; i++) {
		if ((p = strchr(p, '/')) == NULL)
			return strlen(key);
		p++;
	}
	return (size_t)(p - key);
}

/* A failure recorded under key's group. Under mu. */
static struct fail *
failed_group(struct bucket *k, const char *key)
{
	size_t n = group_len(key);
	struct fail *f;

	for (f = k->fails; f != NULL; f = f->next)
		if (strncmp(f->key, key, n) == 0)
			return f;
	return NULL;
}

static int k_put_now(struct msp_blob *b, const char *key, const void *data,
    size_t len, int flags, struct msp_err *e);

static void *
qworker(void *arg)
{
	struct msp_blob *b = arg;
	struct bucket *k = b->impl;
	struct msp_err e;
	struct job *j;
	struct fail *f;
	int rc;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		/* a live playlist waits for everything before it */
		while (!k->closing && (k->head == NULL ||
		    ((k->head->flags & MSP_BLOB_LIVE) && k->busy > 0)))
			pthread_cond_wait(&k->qcv, &k->mu);
		if (k->head == NULL)
			break;
		j = k->head;
		if ((k->head = j->next) == NULL)
			k->tail = NULL;
		k->queued--;
		k->busy++;
		if ((j->flags & MSP_BLOB_LIVE) && failed_group(k, j->key)) {
			rc = 0; /* never names a segment that failed */
		} else {
			pthread_mutex_unlock(&k->mu);
			memset(&e, 0, sizeof(e));
			rc = k_put_now(b, j->key, j->data, j->len, j->flags, &e);
			pthread_mutex_lock(&k->mu);
		}
		if (rc != 0 && (f = calloc(1, sizeof(*f))) != NULL) {
			f->key = j->key;
			j->key = NULL;
			f->err = e;
			f->next = k->fails;
			k->fails = f;
		}
		k->busy--;
		free(j->key);
		free(j->data);
		free(j);
		pthread_cond_broadcast(&k->qcv);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* Queue an object (data is the queue's now, freed whatever happens). */
static int
enqueue(struct msp_blob *b, const char *key, unsigned char *data,
    size_t len, int flags, struct msp_err *e)
{
	struct bucket *k = b->impl;
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->key = msp_strdup(key)) == NULL) {
		free(j);
		free(data);
		return oom(e);
	}
	j->data = data;
	j->len = len;
	j->flags = flags;
	pthread_mutex_lock(&k->mu);
	while (k->nth < QWORKERS &&
	    pthread_create(&k->th[k->nth], NULL, qworker, b) == 0)
		k->nth++;
	if (k->nth == 0) {
		pthread_mutex_unlock(&k->mu);
		free(j->key);
		free(j);
		free(data);
		return msp_err_set(e, MSP_ENOMEM, "cannot start a thread");
	}
	while (k->queued >= QMAX)
		pthread_cond_wait(&k->qcv, &k->mu);
	if (k->tail != NULL)
		k->tail->next = j;
	else
		k->head = j;
	k->tail = j;
	k->queued++;
	pthread_cond_broadcast(&k->qcv);
	pthread_mutex_unlock(&k->mu);
	return 0;
}

/* 1 when key is prefix or lies under it ("a/b" holds "a/b/c", not
 * "a/bc"; "" and "a/" hold what starts with them). */
static int
under(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(key, prefix, n) == 0 && (n == 0 ||
	    prefix[n - 1] == '/' || key[n] == '\0' || key[n] == '/');
}

/* Wait until the queue is empty; then report (and forget) the failures
 * under prefix (NULL: none are reported). */
static int
drain(struct msp_blob *b, const char *prefix, struct msp_err *e)
{
	struct bucket *k = b->impl;
	struct fail **fp, *f;
	int rc = 0;

	pthread_mutex_lock(&k->mu);
	while (k->head != NULL || k->busy > 0)
		pthread_cond_wait(&k->qcv, &k->mu);
	for (fp = &k->fails; prefix != NULL && (f = *fp) != NULL; ) {
		if (!under(f->key, prefix)) {
			fp = &f->next;
			continue;
		}
		if (rc == 0) {
			rc = f->err.code ? f->err.code : MSP_EIO;
			if (e != NULL)
				*e = f->err;
		}
		*fp = f->next;
		free(f->key);
		free(f);
	}
	pthread_mutex_unlock(&k->mu);
	return rc;
}

/* A write that must follow the queued ones: after them, and not at all
 * when one of its group failed. */
static int
ordered(struct msp_blob *b, const char *key, struct msp_err *e)
{
	struct bucket *k = b->impl;
	struct fail *f;
	int rc = 0;

	(void)drain(b, NULL, NULL);
	pthread_mutex_lock(&k->mu);
	if ((f = failed_group(k, key)) != NULL) {
		rc = f->err.code ? f->err.code : MSP_EIO;
		if (e != NULL)
			*e = f->err;
	}
	pthread_mutex_unlock(&k->mu);
	return rc;
}

static int
k_put(struct msp_blob *b, const char *key, const void *data, size_t len,
    int flags, struct msp_err *e)
{
	unsigned char *copy;
	int rc;

	if (flags & (MSP_BLOB_LIVE | MSP_BLOB_LAZY)) {
		if ((copy = malloc(len ? len : 1)) == NULL)
			return oom(e);
		memcpy(copy, data, len);
		return enqueue(b, key, copy, len, flags, e);
	}
	if ((rc = ordered(b, key, e)) != 0)
		return rc;
	return k_put_now(b, key, data, len, flags, e);
}

static int
k_put_now(struct msp_blob *b, const char *key, const void *data, size_t len,
    int flags, struct msp_err *e)
{
	struct msp_s3_put_opts o;
	struct msp_s3 *s;
	int rc;

	opts(&o, key, flags);
	if ((rc = take(b, &s, e)) != 0)
		return rc;
	rc = msp_s3_put(s, key, data, len, &o, e);
	give(b, s);
	return io(rc, e);
}

static int
k_put_file(struct msp_blob *b, const char *key, const char *path, int flags,
    int *created, struct msp_err *e)
{
	struct msp_s3_put_opts o;
	struct msp_s3 *s;
	struct stat sb;
	int64_t size;
	int rc;

	*created = 0;
	opts(&o, key, flags);
	if (stat(path, &sb) != 0)
		return msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(errno));
	if ((rc = take(b, &s, e)) != 0)
		return rc;
	if (flags & MSP_BLOB_KEEP) {
		/* a content-addressed key of the same size holds the same
		 * bytes: not sent again */
		rc = msp_s3_head(s, key, &size, NULL, e);
		if (rc == 0 && size == (int64_t)sb.st_size)
			goto out;
		if (rc != 0 && rc != MSP_ENOTFOUND)
			goto out;
	}
	if ((rc = msp_s3_put_file(s, key, path, &o, e)) == 0)
		*created = 1;
out:
	give(b, s);
	return io(rc, e);
}

static int
k_stat(struct msp_blob *b, const char *key, struct msp_blob_stat *st,
    struct msp_err *e)
{
	struct msp_s3 *s;
	char *etag = NULL;
	int rc;

	if ((rc = take(b, &s, e)) != 0)
		return rc;
	rc = msp_s3_head(s, key, &st->size, &etag, e);
	give(b, s);
	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, MSP_ENOTFOUND, "%s: no such object", key);
	if (rc == 0)
		snprintf(st->etag, sizeof(st->etag), "\"%.76s\"",
		    etag ? etag : "");
	free(etag);
	return rc;
}

static int
k_get(struct msp_blob *b, const char *key, int64_t off, int64_t len,
    int (*fn)(void *, const void *, size_t), void *arg, struct msp_err *e)
{
	struct msp_s3 *s;
	int rc;

	if ((rc = take(b, &s, e)) != 0)
		return rc;
	rc = msp_s3_get(s, key, off, len, fn, arg, e);
	give(b, s);
	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, MSP_ENOTFOUND, "%s: no such object", key);
	return rc;
}

struct lst {
	int (*fn)(void *, const char *, int64_t);
	void *arg;
	int stopped;
};

static int
lst_one(void *arg, const char *key, int64_t size, const char *etag)
{
	struct lst *l = arg;

	(void)etag;
	/* temporary objects (streamed ingests) are not objects yet */
	if (strncmp(key, MSP_BLOB_STAGE, strlen(MSP_BLOB_STAGE)) == 0)
		return 0;
	if (l->fn(l->arg, key, size) != 0) {
		l->stopped = 1;
		return 1;
	}
	return 0;
}

static int
k_list(struct msp_blob *b, const char *prefix,
    int (*fn)(void *, const char *, int64_t), void *arg, struct msp_err *e)
{
	struct lst l = { fn, arg, 0 };
	struct msp_s3 *s;
	int rc;

	if ((rc = take(b, &s, e)) != 0)
		return rc;
	rc = msp_s3_list(s, prefix, lst_one, &l, e);
	give(b, s);
	return l.stopped ? 0 : rc;
}

struct keys {
	char **v;
	size_t n, cap;
};

static int
keys_add(void *arg, const char *key, int64_t size)
{
	struct keys *k = arg;

	(void)size;
	if (msp_grow(&k->v, &k->cap, k->n + 1, sizeof(*k->v), 64) != 0 ||
	    (k->v[k->n] = msp_strdup(key)) == NULL)
		return -1;
	k->n++;
	return 0;
}

static int
k_remove(struct msp_blob *b, const char *key, struct msp_err *e)
{
	struct keys ks = { NULL, 0, 0 };
	struct msp_s3 *s;
	char *dir;
	size_t i;
	int rc;

	/* nothing queued lands after the removal, and the failures of
	 * what is removed are forgotten */
	(void)drain(b, key, NULL);
	if ((dir = msp_sprintf("%s/", key)) == NULL)
		return oom(e);
	/* the tree first (a playlist before the segments it names is
	 * fine: nothing points at them any more), then the key */
	if ((rc = k_list(b, dir, keys_add, &ks, e)) != 0)
		goto out;
	if ((rc = take(b, &s, e)) != 0)
		goto out;
	for (i = 0; i < ks.n && rc == 0; i++)
		rc = msp_s3_delete(s, ks.v[i], e);
	if (rc == 0)
		rc = msp_s3_delete(s, key, e);
	give(b, s);
out:
	for (i = 0; i < ks.n; i++)
		free(ks.v[i]);
	free(ks.v);
	free(dir);
	return rc;
}

static int
k_sync(struct msp_blob *b, const char *prefix, struct msp_err *e)
{
	/* a completed upload is durable: what is queued must complete */
	return drain(b, prefix, e);
}

/* A writer with a key holds a lib/s3 handle and its streamed upload; a
 * lazy one keeps its bytes in memory until they pass one part, and is
 * queued when published if they never did. */
struct wup {
	struct msp_s3 *s;
	struct msp_s3_upload *up;
	unsigned char *mem;
	size_t n, cap;
};

static int
wup_stream(struct msp_blob_writer *w, struct wup *u, struct msp_err *e)
{
	struct msp_s3_put_opts o;
	int rc;

	opts(&o, w->key, w->flags);
	if ((rc = take(w->b, &u->s, e)) != 0 ||
	    (rc = msp_s3_upload_begin(u->s, w->key, &o, &u->up, e)) != 0)
		return rc;
	return 0;
}

static int
k_wopen(struct msp_blob_writer *w, struct msp_err *e)
{
	struct wup *u;
	int rc;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return oom(e);
	w->up = u;
	if (w->flags & MSP_BLOB_LAZY)
		return 0;
	if ((rc = wup_stream(w, u, e)) != 0) {
		give(w->b, u->s);
		free(u);
		w->up = NULL;
	}
	return rc;
}

static int
k_wwrite(struct msp_blob_writer *w, const void *p, size_t n,
    struct msp_err *e)
{
	struct bucket *k = w->b->impl;
	struct wup *u = w->up;
	int rc;

	if (u->up == NULL && u->n + n <= k->conf.part_size) {
		if (msp_grow(&u->mem, &u->cap, u->n + n, 1, 1 << 16) != 0)
			return oom(e);
		memcpy(u->mem + u->n, p, n);
		u->n += n;
		return 0;
	}
	if (u->up == NULL) { /* past one part: streamed from now on */
		if ((rc = wup_stream(w, u, e)) != 0 ||
		    (rc = msp_s3_upload_write(u->up, u->mem, u->n, e)) != 0)
			return io(rc, e);
		free(u->mem);
		u->mem = NULL;
		u->n = u->cap = 0;
	}
	return io(msp_s3_upload_write(u->up, p, n, e), e);
}

static void
wup_end(struct msp_blob_writer *w, int abort)
{
	struct wup *u = w->up;

	if (u == NULL)
		return;
	if (abort && u->up != NULL)
		msp_s3_upload_abort(u->up);
	give(w->b, u->s);
	free(u->mem);
	free(u);
	w->up = NULL;
}

static int
k_wpublish(struct msp_blob_writer *w, const char *key, int flags,
    int *created, struct msp_err *e)
{
	struct wup *u = w->up;
	int rc;

	if (w->key == NULL) /* a local file: up it goes */
		return k_put_file(w->b, key, w->tmp, flags, created, e);
	if (u->up == NULL) { /* lazy, within one part: queued */
		rc = enqueue(w->b, w->key, u->mem, u->n, w->flags | flags, e);
		u->mem = NULL;
		wup_end(w, 0);
		*created = rc == 0;
		return rc;
	}
	rc = msp_s3_upload_finish(u->up, e);
	u->up = NULL; /* finished or aborted */
	wup_end(w, 0);
	*created = rc == 0;
	return io(rc, e);
}

static void
k_wabort(struct msp_blob_writer *w)
{
	wup_end(w, 1);
}

struct tofd {
	int fd;
	const char *path;
	struct msp_err err;
	int bad;
};

static int
tofd(void *arg, const void *p, size_t n)
{
	struct tofd *t = arg;

	if (msp_blob_write_all(t->fd, p, n, t->path, &t->err) != 0) {
		t->bad = 1;
		return -1;
	}
	return 0;
}

static int
k_fetch(struct msp_blob *b, const char *key, char **path, struct msp_err *e)
{
	struct tofd t;
	int fd, rc;

	if ((rc = msp_blob_tmp_open(b, path, &fd, e)) != 0)
		return rc;
	memset(&t, 0, sizeof(t));
	t.fd = fd;
	t.path = *path;
	rc = k_get(b, key, 0, -1, tofd, &t, e);
	if (rc == 0 && t.bad) {
		rc = t.err.code;
		if (e != NULL)
			*e = t.err;
	}
	if (rc == 0)
		rc = msp_blob_copy_keep(b, *path, fd, e);
	if (rc != 0) {
		unlink(*path);
		close(fd);
		free(*path);
		*path = NULL;
	}
	return rc;
}

static int
k_local(struct msp_blob *b, const char *key, char **path, struct msp_err *e)
{
	(void)b;
	(void)key;
	(void)e;
	*path = NULL;
	return 0;
}

static int
k_url(struct msp_blob *b, const char *key, long expires, char **url,
    struct msp_err *e)
{
	struct msp_s3 *s;
	int rc;

	if ((rc = take(b, &s, e)) != 0)
		return rc;
	rc = msp_s3_presign(s, "GET", key, expires, url, e);
	give(b, s);
	return rc;
}

/* A server-side copy, then the source goes (a source that stays, the
 * delete failing, is swept with the other temporary objects). */
static int
k_move(struct msp_blob *b, const char *from, const char *to, int flags,
    int *created, struct msp_err *e)
{
	struct msp_s3_put_opts o;
	struct msp_s3 *s;
	int64_t size, have;
	int rc;

	opts(&o, to, flags);
	if ((rc = take(b, &s, e)) != 0)
		return rc;
	if ((rc = msp_s3_head(s, from, &size, NULL, e)) != 0)
		goto out;
	if (flags & MSP_BLOB_KEEP) {
		/* a content-addressed key of the same size holds the same
		 * bytes: not copied again */
		rc = msp_s3_head(s, to, &have, NULL, e);
		if (rc != 0 && rc != MSP_ENOTFOUND)
			goto out;
		if (rc == 0 && have == size)
			goto del;
		msp_err_clear(e);
	}
	if ((rc = msp_s3_copy(s, from, to, size, &o, e)) != 0)
		goto out;
	*created = 1;
del:
	{
		/* a source left behind is a temporary object: swept */
		struct msp_err de;

		(void)msp_s3_delete(s, from, &de);
	}
out:
	give(b, s);
	return io(rc, e);
}

static void
k_close(struct msp_blob *b)
{
	struct bucket *k = b->impl;

	if (k == NULL)
		return;
	(void)drain(b, NULL, NULL);
	pthread_mutex_lock(&k->mu);
	k->closing = 1;
	pthread_cond_broadcast(&k->qcv);
	pthread_mutex_unlock(&k->mu);
	while (k->nth > 0)
		pthread_join(k->th[--k->nth], NULL);
	while (k->fails != NULL) {
		struct fail *f = k->fails;

		k->fails = f->next;
		free(f->key);
		free(f);
	}
	pthread_cond_destroy(&k->qcv);
	while (k->n > 0)
		msp_s3_close(k->pool[--k->n]);
	msp_s3_conf_free(&k->conf);
	pthread_mutex_destroy(&k->mu);
	free(k);
	b->impl = NULL;
}

static const struct msp_blob_ops bucket_ops = {
	k_put, k_put_file, k_stat, k_get, k_list, k_remove, k_sync,
	k_wopen, k_wwrite, k_wpublish, k_wabort, k_fetch, k_local, k_url,
	k_move, k_close
};

int
msp_blob_bucket_open(struct msp_blob *b, const char *conf, struct msp_err *e)
{
	struct bucket *k;
	int rc;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return oom(e);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->qcv, NULL);
	msp_s3_conf_init(&k->conf);
	b->impl = k;
	b->ops = &bucket_ops;
	if ((rc = msp_s3_conf_load(&k->conf, conf, e)) != 0)
		return rc;
	if ((b->where = msp_sprintf("s3://%s/%s", k->conf.bucket ?
	    k->conf.bucket : "", k->conf.prefix ? k->conf.prefix : "")) ==
	    NULL)
		return oom(e);
	return 0;
}

/* 1 when key is a temporary object's ("media/tmp/<seconds>-...") older
 * than MSP_BLOB_STAGE_AGE. */
static int
stage_stale(const char *key, time_t now)
{
	const char *p = key + strlen(MSP_BLOB_STAGE);
	long long t = 0;
	int n = 0;

	if (strncmp(key, MSP_BLOB_STAGE, strlen(MSP_BLOB_STAGE)) != 0)
		return 0;
	for (; *p >= '0' && *p <= '9' && n < 18; p++, n++)
		t = t * 10 + (*p - '0');
	return n > 0 && *p == '-' && t + MSP_BLOB_STAGE_AGE < (long long)now;
}

struct sweep {
	struct msp_s3 *s;
	time_t now;
};

static int
sweep_upload(void *arg, const char *key, const char *upload_id)
{
	struct sweep *w = arg;
	struct msp_err e;

	if (stage_stale(key, w->now))
		(void)msp_s3_abort_upload(w->s, key, upload_id, &e);
	return 0;
}

static int
sweep_object(void *arg, const char *key, int64_t size, const char *etag)
{
	struct sweep *w = arg;
	struct msp_err e;

	(void)size;
	(void)etag;
	if (stage_stale(key, w->now))
		(void)msp_s3_delete(w->s, key, &e);
	return 0;
}

int
msp_blob_bucket_sweep(struct msp_blob *b, struct msp_err *e)
{
	struct bucket *k = b->impl;
	struct sweep w;
	int rc;

	w.now = time(NULL);
	pthread_mutex_lock(&k->mu);
	rc = k->swept != 0 && w.now - k->swept < 3600;
	if (!rc)
		k->swept = w.now;
	pthread_mutex_unlock(&k->mu);
	if (rc)
		return 0;
	if ((rc = take(b, &w.s, e)) != 0)
		return rc;
	/* a server that cannot list uploads may still list objects */
	rc = msp_s3_list_uploads(w.s, MSP_BLOB_STAGE, sweep_upload, &w, e);
	if (msp_s3_list(w.s, MSP_BLOB_STAGE, sweep_object, &w, e) != 0)
		rc = e ? e->code : MSP_EIO;
	give(b, w.s);
	return io(rc, e);
}

int
msp_blob_bucket_check(struct msp_blob *b, struct msp_err *e)
{
	struct msp_s3 *s;
	int rc;

	if ((rc = take(b, &s, e)) != 0)
		return rc;
	rc = msp_s3_check(s, e);
	give(b, s);
	return rc;
}
