/* blob, the bucket backend: objects in an S3-compatible bucket through
 * lib/s3, under the bucket file's key prefix. Segments stream out as they
 * are muxed (a multipart upload past one part), local files go up in
 * parallel parts, and nothing is visible under a key before its upload
 * completes; a failed or abandoned upload is aborted. lib/s3 handles are
 * not shared between threads: each call takes one from a small pool. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob_impl.h"
#include "s3.h"
#include "util.h"

#define POOL 16

struct bucket {
	struct msp_s3_conf conf;
	pthread_mutex_t mu;
	struct msp_s3 *pool[POOL];
	int n;
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

static int
k_put(struct msp_blob *b, const char *key, const void *data, size_t len,
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
	(void)b;
	(void)prefix;
	(void)e;
	return 0; /* a completed upload is durable */
}

/* A writer with a key holds a lib/s3 handle and its streamed upload. */
struct wup {
	struct msp_s3 *s;
	struct msp_s3_upload *up;
};

static int
k_wopen(struct msp_blob_writer *w, struct msp_err *e)
{
	struct msp_s3_put_opts o;
	struct wup *u;
	int rc;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return oom(e);
	opts(&o, w->key, w->flags);
	if ((rc = take(w->b, &u->s, e)) != 0 ||
	    (rc = msp_s3_upload_begin(u->s, w->key, &o, &u->up, e)) != 0) {
		give(w->b, u->s);
		free(u);
		return rc;
	}
	w->up = u;
	return 0;
}

static int
k_wwrite(struct msp_blob_writer *w, const void *p, size_t n,
    struct msp_err *e)
{
	struct wup *u = w->up;

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

static void
k_close(struct msp_blob *b)
{
	struct bucket *k = b->impl;

	if (k == NULL)
		return;
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
	k_close
};

int
msp_blob_bucket_open(struct msp_blob *b, const char *conf, struct msp_err *e)
{
	struct bucket *k;
	int rc;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return oom(e);
	pthread_mutex_init(&k->mu, NULL);
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
