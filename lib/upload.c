/*
 * upload: resumable uploads kept as files under media/uploads/ (see
 * upload.h for the layout and the order of writes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "blob.h"
#include "catalog.h"
#include "ingest.h"
#include "jsonl.h"
#include "upload.h"
#include "util.h"


static char *
file_of(const struct msp_upload *u, const char *ext)
{
	return msp_sprintf("%s/%s.%s", u->dir, u->id, ext);
}

static char *
rel_of(const char *id, const char *ext)
{
	return msp_sprintf(MSP_UPLOADS "/%s.%s", id, ext);
}

void
msp_upload_free(struct msp_upload *u)
{
	if (u == NULL)
		return;
	if (u->fd >= 0)
		close(u->fd);
	EVP_MD_CTX_free(u->md);
	free(u->owner);
	free(u->video);
	free(u->planned);
	free(u->dir);
	json_object_put(u->meta);
	free(u);
}

static struct msp_upload *
upload_new(struct msp_store *st, const char *id, struct msp_err *e)
{
	struct msp_upload *u = calloc(1, sizeof(*u));

	if (u == NULL) {
		msp_err_set(e, MSP_ENOMEM, "out of memory");
		return NULL;
	}
	u->st = st;
	u->fd = -1;
	snprintf(u->id, sizeof(u->id), "%s", id);
	if ((u->dir = msp_path_join(msp_store_path(st), MSP_UPLOADS)) ==
	    NULL) {
		msp_err_set(e, MSP_ENOMEM, "out of memory");
		free(u);
		return NULL;
	}
	return u;
}

/* Write a small state file of the store atomically (temporary file,
 * fsync, rename, fsync of its directory). */
static int
state_write(struct msp_store *st, const char *rel, const char *data,
    size_t len, struct msp_err *e)
{
	char *abs = NULL, *tmp = NULL, *dir = NULL, *slash;
	int rc;

	if ((abs = msp_path_join(msp_store_path(st), rel)) == NULL ||
	    (tmp = msp_sprintf("%s.tmp", abs)) == NULL ||
	    (dir = msp_strdup(abs)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if ((rc = msp_mkdirs(dir, 0755, e)) == 0 &&
	    (rc = msp_file_replace(tmp, abs, data, len, 1, e)) == 0)
		rc = msp_blob_sync_dir(dir, e);
out:
	free(abs);
	free(tmp);
	free(dir);
	return rc;
}

/* A file's whole text (small files: info and markers). */
static int
read_small(const char *path, char **out, struct msp_err *e)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	*out = NULL;
	if (f == NULL)
		return errno == ENOENT ? MSP_ENOTFOUND :
		    msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    n > 1 << 20 || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return msp_err_set(e, MSP_EIO, "%s: cannot read", path);
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return msp_err_set(e, MSP_EIO, "%s: cannot read", path);
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int
info_parse(struct msp_upload *u, const char *text, struct msp_err *e)
{
	json_object *o = json_tokener_parse(text), *x;

	if (o == NULL || !json_object_object_get_ex(o, "owner", &x) ||
	    (u->owner = msp_strdup(json_object_get_string(x))) == NULL ||
	    !json_object_object_get_ex(o, "length", &x) ||
	    (u->length = json_object_get_int64(x)) <= 0 ||
	    !json_object_object_get_ex(o, "expiresAt", &x)) {
		json_object_put(o);
		return msp_err_set(e, MSP_ESTORE, "upload %s: bad info file",
		    u->id);
	}
	u->expires_ms = json_object_get_int64(x);
	if (json_object_object_get_ex(o, "meta", &x))
		u->meta = json_object_get(x);
	if (json_object_object_get_ex(o, "videoId", &x) &&
	    msp_id_valid(json_object_get_string(x)) &&
	    (u->planned = msp_strdup(json_object_get_string(x))) == NULL) {
		json_object_put(o);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	json_object_put(o);
	return 0;
}

/* The offset: the data file's size (absent: 0). */
static int
data_size(struct msp_upload *u, int64_t *n, struct msp_err *e)
{
	struct stat sb;
	char *p = file_of(u, "data");
	int rc = 0;

	if (p == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if (stat(p, &sb) == 0)
		*n = sb.st_size;
	else if (errno == ENOENT)
		*n = 0;
	else
		rc = msp_err_set(e, MSP_EIO, "%s: %s", p, strerror(errno));
	free(p);
	return rc;
}

static void
unlink_ext(struct msp_upload *u, const char *ext)
{
	char *p = file_of(u, ext);

	if (p != NULL)
		unlink(p);
	free(p);
}

/* info first: without it the data file is an orphan that sweeps remove */
static int
remove_files(struct msp_upload *u, struct msp_err *e)
{
	unlink_ext(u, "info");
	unlink_ext(u, "data");
	return msp_blob_sync_dir(u->dir, e);
}

/* Each upload (or marker) in the directory: fn(id, ext, arg). */
static int
each_file(struct msp_store *st, int (*fn)(const char *, const char *,
    void *), void *arg, struct msp_err *e)
{
	char *dir = NULL;
	struct dirent *d;
	DIR *dp;
	int rc = 0;

	if ((dir = msp_path_join(msp_store_path(st), MSP_UPLOADS)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((dp = opendir(dir)) == NULL) {
		rc = errno == ENOENT ? 0 : msp_err_set(e, MSP_EIO, "%s: %s",
		    dir, strerror(errno));
		free(dir);
		return rc;
	}
	while (rc == 0 && (d = readdir(dp)) != NULL) {
		char id[32];
		const char *dot = strchr(d->d_name, '.');
		size_t n = dot != NULL ? (size_t)(dot - d->d_name) : 0;

		if (n == 0 || n >= sizeof(id) || strchr(dot + 1, '.') != NULL)
			continue;
		memcpy(id, d->d_name, n);
		id[n] = '\0';
		rc = fn(id, dot + 1, arg);
	}
	closedir(dp);
	free(dir);
	return rc;
}

/* a walk over the directory: uploads of owner, or expired before now */
struct walk {
	struct msp_store *st;
	const char *owner;
	int64_t now;
	long n;
};

static int
count_one(const char *id, const char *ext, void *arg)
{
	struct walk *c = arg;
	struct msp_upload *u;

	if (strcmp(ext, "info") != 0)
		return 0;
	if (msp_upload_get(c->st, id, c->owner, &u, NULL) == 0) {
		if (u->video == NULL)
			c->n++;
		msp_upload_free(u);
	}
	return 0;
}

int
msp_upload_create(struct msp_store *st, const char *owner, int64_t length,
    int64_t max, json_object *meta, long ttl, long quota,
    struct msp_upload **out, struct msp_err *e)
{
	struct msp_upload *u = NULL;
	struct walk c = { st, owner, 0, 0 };
	json_object *o = NULL, *x;
	char id[MSP_ID_LEN + 1], *rel = NULL;
	const char *vt = NULL, *s;
	int rc;

	*out = NULL;
	if (length <= 0 || length > max)
		return msp_err_set(e, MSP_EINVAL, "Upload-Length: expected 1 "
		    "to %lld bytes", (long long)max);
	if (meta != NULL && json_object_object_get_ex(meta, "videoType", &x))
		vt = json_object_get_string(x);
	if (vt == NULL || (strcmp(vt, "short") != 0 && strcmp(vt, "long") !=
	    0))
		return msp_err_set(e, MSP_EINVAL, "Upload-Metadata: videoType: "
		    "expected short or long");
	if ((rc = msp_upload_sweep(st, msp_now_ms(), NULL, e)) != 0 ||
	    (rc = each_file(st, count_one, &c, e)) != 0)
		return rc;
	if (c.n >= quota)
		return msp_err_set(e, MSP_EAGAIN, "%s: %ld unfinished uploads "
		    "already (the most allowed); finish or delete one", owner,
		    c.n);
	if (msp_id_new(id) != 0 || (u = upload_new(st, id, e)) == NULL)
		return u == NULL ? MSP_ENOMEM : msp_err_set(e, MSP_ENOMEM,
		    "out of memory");
	u->length = length;
	u->expires_ms = msp_now_ms() + (int64_t)ttl * 1000;
	if ((u->owner = msp_strdup(owner)) == NULL ||
	    (u->meta = json_object_get(meta)) == NULL ||
	    (o = json_object_new_object()) == NULL ||
	    (rel = rel_of(id, "info")) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "owner", json_object_new_string(owner));
	json_object_object_add(o, "length", json_object_new_int64(length));
	json_object_object_add(o, "createdAt", json_object_new_int64(
	    msp_now_ms()));
	json_object_object_add(o, "expiresAt", json_object_new_int64(
	    u->expires_ms));
	json_object_object_add(o, "meta", json_object_get(meta));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if ((rc = state_write(st, rel, s, strlen(s), e)) != 0)
		goto out;
	*out = u;
	u = NULL;
out:
	json_object_put(o);
	free(rel);
	msp_upload_free(u);
	return rc;
}

int
msp_upload_get(struct msp_store *st, const char *id, const char *owner,
    struct msp_upload **out, struct msp_err *e)
{
	struct msp_upload *u;
	char *p = NULL, *text = NULL;
	json_object *o, *x;
	int rc, done = 0;

	*out = NULL;
	if (!msp_id_valid(id))
		return msp_err_set(e, MSP_ENOTFOUND, "upload %s: not found",
		    id);
	if ((u = upload_new(st, id, e)) == NULL)
		return MSP_ENOMEM;
	if ((p = file_of(u, "info")) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	rc = read_small(p, &text, e);
	if (rc == MSP_ENOTFOUND) {
		/* finished: the marker */
		free(p);
		if ((p = file_of(u, "done")) == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			goto out;
		}
		rc = read_small(p, &text, e);
		done = 1;
	}
	if (rc == MSP_ENOTFOUND) {
		rc = msp_err_set(e, MSP_ENOTFOUND, "upload %s: not found", id);
		goto out;
	}
	if (rc != 0 || (rc = info_parse(u, text, e)) != 0)
		goto out;
	if (strcmp(u->owner, owner) != 0) {
		/* someone else's: as if it did not exist */
		rc = msp_err_set(e, MSP_ENOTFOUND, "upload %s: not found", id);
		goto out;
	}
	if (u->expires_ms <= msp_now_ms()) {
		if (done)
			unlink(p);
		else
			(void)remove_files(u, NULL);
		rc = msp_err_set(e, MSP_UPLOAD_GONE, "upload %s: expired", id);
		goto out;
	}
	if (done) {
		o = json_tokener_parse(text);
		if (o != NULL && json_object_object_get_ex(o, "videoId", &x))
			u->video = msp_strdup(json_object_get_string(x));
		json_object_put(o);
		u->offset = u->length;
	} else if ((rc = data_size(u, &u->offset, e)) != 0) {
		goto out;
	} else if (u->offset >= u->length) {
		/* all there but not ingested: the last byte once more */
		u->offset = u->length - 1;
	}
	*out = u;
	u = NULL;
out:
	free(p);
	free(text);
	msp_upload_free(u);
	return rc;
}

int
msp_upload_begin(struct msp_upload *u, int64_t offset, int sum,
    struct msp_err *e)
{
	char *p;
	struct stat sb;

	if (u->video != NULL || offset != u->offset)
		return msp_err_set(e, MSP_EEXIST, "Upload-Offset: %lld, but "
		    "the upload is at %lld", (long long)offset,
		    (long long)u->offset);
	if ((p = file_of(u, "data")) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	u->fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (u->fd < 0) {
		int rc = msp_err_set(e, MSP_EIO, "%s: %s", p,
		    strerror(errno));
		free(p);
		return rc;
	}
	free(p);
	if (flock(u->fd, LOCK_EX | LOCK_NB) != 0) {
		close(u->fd);
		u->fd = -1;
		return msp_err_set(e, MSP_EAGAIN, "upload %s: another PATCH "
		    "is in progress", u->id);
	}
	/* the size may have moved while unlocked, or hold the last byte of
	 * a complete upload that was not ingested */
	if (fstat(u->fd, &sb) != 0 || (sb.st_size != offset &&
	    (sb.st_size != u->length || offset != u->length - 1)) ||
	    ftruncate(u->fd, offset) != 0 ||
	    lseek(u->fd, offset, SEEK_SET) != offset) {
		close(u->fd);
		u->fd = -1;
		return msp_err_set(e, MSP_EEXIST, "Upload-Offset: %lld, but "
		    "the upload has changed", (long long)offset);
	}
	u->start = offset;
	u->sum = sum;
	if (sum && ((u->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(u->md, sum == MSP_UPLOAD_SHA1 ? EVP_sha1() :
	    EVP_sha256(), NULL) != 1)) {
		close(u->fd);
		u->fd = -1;
		return msp_err_set(e, MSP_ENOMEM, "upload %s: no checksum "
		    "context", u->id);
	}
	return 0;
}

int
msp_upload_write(struct msp_upload *u, const void *p, size_t n,
    struct msp_err *e)
{
	const unsigned char *b = p;
	int err;

	if ((int64_t)n > u->length - u->offset)
		return msp_err_set(e, MSP_EINVAL, "body: more than the %lld "
		    "bytes of Upload-Length", (long long)u->length);
	if (u->sum && EVP_DigestUpdate(u->md, b, n) != 1)
		return msp_err_set(e, MSP_ENOMEM, "upload %s: checksum failed",
		    u->id);
	u->offset += (int64_t)n;
	if ((err = msp_write_all(u->fd, b, n)) != 0)
		return msp_err_set(e, MSP_EIO, "upload %s: %s", u->id,
		    strerror(err));
	return 0;
}

static void
end_fd(struct msp_upload *u)
{
	if (u->fd >= 0)
		close(u->fd); /* the lock goes with it */
	u->fd = -1;
	EVP_MD_CTX_free(u->md);
	u->md = NULL;
}

int
msp_upload_end(struct msp_upload *u, const unsigned char *want,
    struct msp_err *e)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int rc = 0;

	if (u->fd < 0)
		return msp_err_set(e, MSP_EINVAL, "upload %s: not appending",
		    u->id);
	if (want != NULL && u->sum) {
		if (EVP_DigestFinal_ex(u->md, got, &n) != 1)
			n = 0;
		if (n == 0 || sodium_memcmp(got, want, n) != 0) {
			if (ftruncate(u->fd, u->start) != 0)
				rc = msp_err_set(e, MSP_EIO, "upload %s: %s",
				    u->id, strerror(errno));
			u->offset = u->start;
			if (rc == 0) {
				(void)fsync(u->fd);
				rc = msp_err_set(e, MSP_UPLOAD_MISMATCH,
				    "Upload-Checksum: the body's %s differs; "
				    "its bytes were dropped",
				    u->sum == MSP_UPLOAD_SHA1 ? "sha1" :
				    "sha256");
			}
			end_fd(u);
			return rc;
		}
	}
	if (fsync(u->fd) != 0)
		rc = msp_err_set(e, MSP_EIO, "upload %s: %s", u->id,
		    strerror(errno));
	end_fd(u);
	return rc;
}

void
msp_upload_cut(struct msp_upload *u)
{
	if (u == NULL || u->fd < 0)
		return;
	if (u->sum) {
		if (ftruncate(u->fd, u->start) == 0)
			u->offset = u->start;
	}
	(void)fsync(u->fd);
	end_fd(u);
}

/* The video's id, chosen and written into the info before the ingest
 * that uses it can commit. */
static int
plan(struct msp_upload *u, struct msp_err *e)
{
	char id[MSP_ID_LEN + 1], *p = NULL, *rel = NULL, *text = NULL;
	json_object *o = NULL;
	const char *s;
	int rc;

	if ((p = file_of(u, "info")) == NULL || (rel = rel_of(u->id,
	    "info")) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = read_small(p, &text, e)) != 0) {
		if (rc == MSP_ENOTFOUND)
			rc = msp_err_set(e, MSP_ENOTFOUND, "upload %s: not "
			    "found", u->id);
		goto out;
	}
	if ((o = json_tokener_parse(text)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		rc = msp_err_set(e, MSP_ESTORE, "upload %s: bad info file",
		    u->id);
		goto out;
	}
	if (msp_id_new(id) != 0 || (u->planned = msp_strdup(id)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_add(o, "videoId", json_object_new_string(id));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	rc = state_write(u->st, rel, s, strlen(s), e);
out:
	json_object_put(o);
	free(text);
	free(rel);
	free(p);
	return rc;
}

/* 1 when the planned video is in the store (the owner's), 0 when not */
static int
ingested(struct msp_upload *u, struct msp_err *e)
{
	json_object *v = NULL, *x;
	MDB_txn *t;
	int rc;

	if ((rc = msp_txn_begin(u->st, 0, &t, e)) != 0)
		return rc;
	rc = msp_video_get(u->st, t, u->planned, &v, e);
	msp_txn_abort(u->st, t);
	if (rc == MSP_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (!json_object_object_get_ex(v, "uploadedBy", &x) ||
	    strcmp(json_object_get_string(x), u->owner) != 0)
		rc = msp_err_set(e, MSP_EEXIST, "upload %s: video %s is "
		    "someone else's", u->id, u->planned);
	else
		rc = 1;
	json_object_put(v);
	return rc;
}

int
msp_upload_finish(struct msp_upload *u, json_object **job, struct msp_err *e)
{
	json_object *meta = NULL, *j = NULL, *x, *o = NULL;
	const char *name = "upload";
	char *p = NULL, *rel = NULL;
	int rc;

	if (job != NULL)
		*job = NULL;
	if (u->offset != u->length)
		return msp_err_set(e, MSP_EINVAL, "upload %s: %lld of %lld "
		    "bytes", u->id, (long long)u->offset, (long long)u->length);
	if (u->planned == NULL && (rc = plan(u, e)) != 0)
		return rc;
	if ((rc = ingested(u, e)) < 0)
		return rc;
	if (rc == 1) /* a finish a crash cut off from its marker */
		goto marker;
	if (u->meta != NULL && json_object_object_get_ex(u->meta, "filename",
	    &x))
		name = json_object_get_string(x);
	if ((p = file_of(u, "data")) == NULL ||
	    (meta = json_object_new_object()) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_foreach(u->meta, k, v)
		if (strcmp(k, "filename") != 0 && strcmp(k, "filetype") != 0)
			json_object_object_add(meta, k, json_object_get(v));
	json_object_object_add(meta, "uploadedBy",
	    json_object_new_string(u->owner));
	json_object_object_add(meta, "id", json_object_new_string(
	    u->planned));
	rc = msp_ingest_path(u->st, p, name, meta, u->length, &j, e);
	if (rc == MSP_EEXIST && ingested(u, NULL) == 1) {
		rc = 0; /* a concurrent finish was first */
		json_object_put(j);
		j = NULL;
	} else if (rc != 0) {
		(void)remove_files(u, NULL);
		goto out;
	}
marker:
	/* the marker, then the files go */
	if ((u->video = msp_strdup(u->planned)) == NULL ||
	    (o = json_object_new_object()) == NULL ||
	    (rel = rel_of(u->id, "done")) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_add(o, "owner", json_object_new_string(u->owner));
	json_object_object_add(o, "length", json_object_new_int64(u->length));
	json_object_object_add(o, "expiresAt", json_object_new_int64(
	    u->expires_ms));
	json_object_object_add(o, "videoId", json_object_new_string(u->video));
	{
		const char *s = json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN);
		if ((rc = state_write(u->st, rel, s, strlen(s), e)) != 0)
			goto out;
	}
	(void)remove_files(u, NULL);
	if (job != NULL) {
		*job = j;
		j = NULL;
	}
out:
	json_object_put(meta);
	json_object_put(j);
	json_object_put(o);
	free(rel);
	free(p);
	return rc;
}

int
msp_upload_remove(struct msp_upload *u, struct msp_err *e)
{
	if (u->video != NULL) {
		unlink_ext(u, "done");
		return msp_blob_sync_dir(u->dir, e);
	}
	return remove_files(u, e);
}

static int
sweep_one(const char *id, const char *ext, void *arg)
{
	struct walk *s = arg;
	struct msp_upload *u = upload_new(s->st, id, NULL);
	char *p = NULL, *text = NULL;
	struct stat sb;

	if (u == NULL)
		return MSP_ENOMEM;
	if (strcmp(ext, "info") == 0 || strcmp(ext, "done") == 0) {
		p = file_of(u, ext);
		if (p != NULL && read_small(p, &text, NULL) == 0 &&
		    info_parse(u, text, NULL) == 0 &&
		    u->expires_ms <= s->now) {
			if (ext[0] == 'd')
				unlink(p);
			else
				(void)remove_files(u, NULL);
			s->n++;
		}
	} else if (strcmp(ext, "data") == 0) {
		/* an orphan: its info is gone (and not being written) */
		p = file_of(u, "info");
		if (p != NULL && stat(p, &sb) != 0 && errno == ENOENT)
			unlink_ext(u, "data");
	}
	free(text);
	free(p);
	msp_upload_free(u);
	return 0;
}

int
msp_upload_sweep(struct msp_store *st, int64_t now_ms, long *n,
    struct msp_err *e)
{
	struct walk s = { st, NULL, now_ms, 0 };
	int rc = each_file(st, sweep_one, &s, e);

	if (n != NULL)
		*n = s.n;
	return rc;
}
