/* media_store: records against media, and moving media. See
 * media_store.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "jsonl.h"
#include "media_store.h"
#include "util.h"

#define HLS "media/hls/"

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

/* ---- a sorted list of keys --------------------------------------------- */

struct keys {
	char **v;
	size_t n, cap;
};

static int
keys_add(struct keys *k, const char *s, size_t len)
{
	if (msp_grow(&k->v, &k->cap, k->n + 1, sizeof(*k->v), 256) != 0 ||
	    (k->v[k->n] = malloc(len + 1)) == NULL)
		return -1;
	memcpy(k->v[k->n], s, len);
	k->v[k->n++][len] = '\0';
	return 0;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
keys_sort(struct keys *k)
{
	if (k->n > 1)
		qsort(k->v, k->n, sizeof(*k->v), str_cmp);
}

static int
keys_has(const struct keys *k, const char *s)
{
	return k->n > 0 && bsearch(&s, k->v, k->n, sizeof(*k->v), str_cmp) !=
	    NULL;
}

static void
keys_free(struct keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

static int
list_add(void *arg, const char *key, int64_t size)
{
	(void)size;
	return keys_add(arg, key, strlen(key));
}

/* ---- check ------------------------------------------------------------- */

static json_object *
parse(const char *p, size_t n)
{
	json_tokener *tk = json_tokener_new();
	json_object *o;

	if (tk == NULL)
		return NULL;
	o = json_tokener_parse_ex(tk, p, (int)n);
	json_tokener_free(tk);
	return o;
}

/* The HLS directory of a master playlist key, with its '/'. */
static const char *
hls_dir(const char *key, size_t *len)
{
	const char *s = strrchr(key, '/');

	if (s == NULL)
		return NULL;
	*len = (size_t)(s - key) + 1;
	return key;
}

int
msp_media_check_store(struct msp_store *st, struct msp_blob *b,
    msp_report_fn fn, void *arg, struct msp_err *e)
{
	struct keys objs = { 0 }, srcs = { 0 }, dirs = { 0 };
	struct msp_report r = { fn, arg, 0 };
	MDB_txn *t = NULL;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	size_t i, n;
	int rc, mrc;

	if ((rc = msp_blob_list(b, "media/", list_add, &objs, e)) != 0)
		goto out;
	keys_sort(&objs);
	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		goto out;
	if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VIDEOS), &c)) !=
	    0) {
		rc = msp_store_mdb_err(mrc, "videos", e);
		goto out;
	}
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_object *o = parse(v.mv_data, v.mv_size), *d;
		const char *id, *s;

		if (o == NULL)
			continue; /* msp-catalog check reports it */
		id = msp_json_sget(o, "id");
		if ((s = msp_json_sget(o, "sourceBucketFilePath")) != NULL &&
		    *s != '\0') {
			if (keys_add(&srcs, s, strlen(s)) != 0) {
				json_object_put(o);
				rc = oom(e);
				goto out;
			}
			if (!keys_has(&objs, s))
				msp_reportf(&r, "video %s: %s: missing",
				    id ? id : "?", s);
		}
		/* the caption files (their published copies are under the
		 * HLS directory) */
		if (json_object_object_get_ex(o, "captions", &d) &&
		    json_object_is_type(d, json_type_array))
			for (i = 0; i < json_object_array_length(d); i++) {
				const char *p = msp_json_sget(
				    json_object_array_get_idx(d, i), "path");
				if (p == NULL)
					continue;
				if (keys_add(&srcs, p, strlen(p)) != 0) {
					json_object_put(o);
					rc = oom(e);
					goto out;
				}
				if (!keys_has(&objs, p))
					msp_reportf(&r, "video %s: %s: missing",
					    id ? id : "?", p);
			}
		if (json_object_object_get_ex(o, "destinationBucketFilePath",
		    &d) && json_object_is_type(d, json_type_array))
			for (i = 0; i < json_object_array_length(d); i++) {
				const char *m = json_object_get_string(
				    json_object_array_get_idx(d, i));
				const char *dir = m ? hls_dir(m, &n) : NULL;

				if (m == NULL)
					continue;
				if (!keys_has(&objs, m))
					msp_reportf(&r, "video %s: %s: missing",
					    id ? id : "?", m);
				if (dir != NULL && keys_add(&dirs, dir, n) !=
				    0) {
					json_object_put(o);
					rc = oom(e);
					goto out;
				}
			}
		json_object_put(o);
	}
	if (mrc != MDB_NOTFOUND) {
		rc = msp_store_mdb_err(mrc, "videos", e);
		goto out;
	}
	keys_sort(&srcs);
	keys_sort(&dirs);
	for (i = 0; i < objs.n; i++) {
		const char *o = objs.v[i];
		char dir[256];
		const char *s;

		if (keys_has(&srcs, o))
			continue;
		/* media/hls/ID/...: named when media/hls/ID/ is */
		if (strncmp(o, HLS, strlen(HLS)) == 0 &&
		    (s = strchr(o + strlen(HLS), '/')) != NULL &&
		    (size_t)(s - o) + 1 < sizeof(dir)) {
			memcpy(dir, o, (size_t)(s - o) + 1);
			dir[s - o + 1] = '\0';
			if (keys_has(&dirs, dir))
				continue;
		}
		msp_reportf(&r, "%s: named by no video", o);
	}
	rc = r.count;
out:
	if (c != NULL)
		mdb_cursor_close(c);
	if (t != NULL)
		msp_txn_abort(st, t);
	keys_free(&objs);
	keys_free(&srcs);
	keys_free(&dirs);
	return rc;
}

/* ---- move -------------------------------------------------------------- */

struct hash {
	crypto_generichash_state h;
	int64_t n;
};

static int
hash_add(void *arg, const void *p, size_t n)
{
	struct hash *h = arg;

	crypto_generichash_update(&h->h, p, n);
	h->n += (int64_t)n;
	return 0;
}

/* size and BLAKE2b-256 of an object */
static int
digest(struct msp_blob *b, const char *key, int64_t *size,
    unsigned char out[32], struct msp_err *e)
{
	struct hash h;
	int rc;

	crypto_generichash_init(&h.h, NULL, 0, 32);
	h.n = 0;
	if ((rc = msp_blob_get(b, key, 0, -1, hash_add, &h, e)) != 0)
		return rc;
	crypto_generichash_final(&h.h, out, 32);
	*size = h.n;
	return 0;
}

/* key from src to dst unless dst holds the same bytes; read back */
static int
move_one(struct msp_blob *src, struct msp_blob *dst, const char *key,
    int64_t size, struct msp_media_move *m, struct msp_err *e)
{
	unsigned char a[32], b[32];
	struct msp_blob_stat s;
	int64_t an, bn;
	char *path = NULL;
	int rc;

	if ((rc = digest(src, key, &an, a, e)) != 0)
		return rc;
	if (an != size)
		return msp_err_set(e, MSP_EIO, "%s: %lld bytes listed, %lld "
		    "read", key, (long long)size, (long long)an);
	rc = msp_blob_stat(dst, key, &s, e);
	if (rc == 0 && s.size == an && (rc = digest(dst, key, &bn, b, e)) ==
	    0 && bn == an && sodium_memcmp(a, b, 32) == 0)
		return 0; /* there already: a run before sent it */
	if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	if ((rc = msp_blob_fetch(src, key, &path, e)) != 0)
		return rc;
	rc = msp_blob_put_file(dst, key, path, 0, NULL, e);
	msp_blob_fetch_done(src, path);
	if (rc != 0)
		return rc;
	if ((rc = digest(dst, key, &bn, b, e)) != 0)
		return rc;
	if (bn != an || sodium_memcmp(a, b, 32) != 0)
		return msp_err_set(e, MSP_EIO, "%s: the copy differs from the "
		    "original (%lld of %lld bytes)", key, (long long)bn,
		    (long long)an);
	m->copied++;
	m->bytes += an;
	return 0;
}

struct ent {
	struct keys k;
	int64_t *size;
	size_t cap;
};

static int
ent_add(void *arg, const char *key, int64_t size)
{
	struct ent *x = arg;

	if (msp_grow(&x->size, &x->cap, x->k.n + 1, sizeof(*x->size), 256) !=
	    0 || keys_add(&x->k, key, strlen(key)) != 0)
		return -1;
	x->size[x->k.n - 1] = size;
	return 0;
}

/* Install conf as the store's media.conf: a copy made 0600 and renamed
 * into place. */
static int
install_conf(const char *conf, const char *dst, struct msp_err *e)
{
	char *tmp = NULL, buf[4096];
	int in = -1, out = -1, rc = 0;
	ssize_t n;

	if ((tmp = msp_sprintf("%s.tmp", dst)) == NULL)
		return oom(e);
	if ((in = open(conf, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", conf, strerror(errno));
		goto out;
	}
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0 || fchmod(out, 0600) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (n != 0 || fsync(out) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, dst) != 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", dst, strerror(errno));
out:
	sodium_memzero(buf, sizeof(buf));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int
msp_media_move(struct msp_store *st, const char *conf,
    struct msp_media_move *m, struct msp_err *e)
{
	struct msp_blob *src = NULL, *dst = NULL;
	struct ent x = { { 0 }, NULL, 0 };
	char *mconf = NULL, *old = NULL, *tmp = NULL;
	const char *bucket;
	struct stat sb;
	size_t i;
	int rc, to_bucket = conf != NULL, have, have_old;

	memset(m, 0, sizeof(*m));
	if (sodium_init() < 0)
		return msp_err_set(e, MSP_ENOMEM, "libsodium failed to "
		    "initialise");
	if ((mconf = msp_path_join(msp_store_path(st), MSP_BLOB_CONF)) ==
	    NULL || (old = msp_sprintf("%s.old", mconf)) == NULL ||
	    (tmp = msp_path_join(msp_store_path(st), "media/tmp")) == NULL) {
		rc = oom(e);
		goto out;
	}
	have = lstat(mconf, &sb) == 0;
	have_old = lstat(old, &sb) == 0;
	if (to_bucket) {
		/* after the switch (a run that stopped while removing the
		 * files), the store's own bucket is the destination */
		bucket = have ? mconf : conf;
		if ((rc = msp_blob_open(&src, msp_store_path(st), tmp, e)) !=
		    0 || (rc = msp_blob_open(&dst, bucket, tmp, e)) != 0 ||
		    (rc = msp_blob_check(dst, e)) != 0)
			goto out;
	} else {
		if (!have && !have_old) {
			rc = msp_err_set(e, MSP_EINVAL, "%s: no bucket to move "
			    "the media from", mconf);
			goto out;
		}
		if ((rc = msp_blob_open(&src, have ? mconf : old, tmp, e)) !=
		    0 || (rc = msp_blob_check(src, e)) != 0 ||
		    (rc = msp_blob_open(&dst, msp_store_path(st), tmp, e)) !=
		    0)
			goto out;
	}
	if ((rc = msp_blob_list(src, "media/", ent_add, &x, e)) != 0)
		goto out;
	m->objects = (long)x.k.n;
	for (i = 0; i < x.k.n; i++) {
		if (msp_stop_requested()) {
			rc = msp_err_set(e, MSP_EAGAIN, "interrupted: run it "
			    "again to go on");
			goto out;
		}
		if ((rc = move_one(src, dst, x.k.v[i], x.size[i], m, e)) != 0)
			goto out;
	}
	if ((rc = msp_blob_sync(dst, "media", e)) != 0)
		goto out;
	/* the switch: from here the store reads the destination */
	if (to_bucket && !have)
		rc = install_conf(conf, mconf, e);
	else if (!to_bucket && have && rename(mconf, old) != 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", old, strerror(errno));
	if (rc != 0 || (rc = msp_blob_sync_dir(msp_store_path(st), e)) != 0)
		goto out;
	for (i = 0; i < x.k.n; i++)
		if ((rc = msp_blob_remove(src, x.k.v[i], e)) != 0)
			goto out;
	if (!to_bucket && unlink(old) != 0 && errno != ENOENT)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", old, strerror(errno));
out:
	msp_blob_close(src);
	msp_blob_close(dst);
	keys_free(&x.k);
	free(x.size);
	free(mconf);
	free(old);
	free(tmp);
	return rc;
}
