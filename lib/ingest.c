/*
 * ingest: hash, probe, store and register an upload.
 *
 * The original is stored as media/originals/<hash>.<ext>, hash being the
 * BLAKE2b-256 of its bytes, and the record pointing at it is committed
 * only after the object is complete; a refused upload leaves nothing, a
 * crash at most a temporary object or file that no record names. How the
 * bytes get there depends on where they come from and where the media is:
 *
 *   - a directory (the files backend): the bytes are copied into a local
 *     temporary file of lib/blob (media/tmp/<id>) while they are hashed,
 *     the copy is probed, then linked into place (an existing original of
 *     that key holds the same bytes and is kept). The writer holds an
 *     flock on the file until the name is removed; a later writer removes
 *     a file there that is unlocked and stale (a crashed writer's).
 *   - a bucket, from a local file (msp-ingest FILE, a finished resumable
 *     upload): nothing is spooled. The file is probed where it is, hashed,
 *     then uploaded from itself under its final key (a multipart upload
 *     with parts in parallel when large, each part retried, aborted on
 *     failure). A file that changes while it is ingested is refused.
 *   - a bucket, from a stream (an HTTP request body, an http(s) URL): the
 *     bytes go up as they come to a temporary key media/tmp/<time>-<id>
 *     (a streamed multipart upload) while they are hashed; the object is
 *     probed there through a short-lived presigned GET (libavformat under
 *     the http/https whitelist), then copied on the server to its final
 *     key (CopyObject; UploadPartCopy parts above 5 GiB) and the temporary
 *     object deleted. Temporary objects and unfinished uploads under
 *     media/tmp/ older than a day (a crashed ingest's) are swept by later
 *     ingests.
 *
 * Then the metadata is validated by msp_video_add in a transaction that
 * is rolled back, the object published, and one write transaction adds
 * the video and enqueues its job; if that fails, an object the ingest
 * created is removed again.
 */
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
#include "jobs.h"
#include "jsonl.h"
#include "util.h"

#define HASH_BYTES 32 /* BLAKE2b-256 */

struct msp_ingest {
	struct msp_store *st;
	struct msp_blob *b;
	char *name;        /* for the extension */
	struct msp_blob_writer *w;
	char *stage;       /* a bucket: the temporary key bytes stream to */
	int64_t size, max;
	crypto_generichash_state h;
};

int
msp_ingest_begin(struct msp_store *st, const char *name, int64_t max_size,
    struct msp_ingest **ip, struct msp_err *e)
{
	struct msp_ingest *in;
	int rc;

	*ip = NULL;
	if (sodium_init() < 0)
		return msp_err_set(e, MSP_ENOMEM, "libsodium failed to "
		    "initialise");
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	in->st = st;
	in->max = max_size > 0 ? max_size : MSP_MEDIA_MAX_SIZE;
	if ((in->name = msp_strdup(name ? name : "upload")) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = msp_blob_store(st, &in->b, e)) != 0)
		goto fail;
	if (msp_blob_root(in->b) == NULL) {
		(void)msp_blob_stage_sweep(in->b, NULL);
		if ((rc = msp_blob_stage_key(&in->stage, e)) != 0)
			goto fail;
	}
	if ((rc = msp_blob_writer_open(in->b, in->stage, 0, &in->w, e)) != 0)
		goto fail;
	crypto_generichash_init(&in->h, NULL, 0, HASH_BYTES);
	*ip = in;
	return 0;
fail:
	msp_ingest_abort(in);
	return rc;
}

int
msp_ingest_write(struct msp_ingest *in, const void *p, size_t n,
    struct msp_err *e)
{
	if ((int64_t)n > in->max - in->size)
		return msp_err_set(e, MSP_EMEDIA, "size exceeds the limit of "
		    "%lld bytes", (long long)in->max);
	crypto_generichash_update(&in->h, p, n);
	in->size += (int64_t)n;
	return msp_blob_writer_write(in->w, p, n, e);
}

void
msp_ingest_abort(struct msp_ingest *in)
{
	if (in == NULL)
		return;
	msp_blob_writer_abort(in->w);
	free(in->stage);
	free(in->name);
	free(in);
}

/* The record msp_video_add gets: the caller's fields, with those that only
 * ingest sets replaced. */
static json_object *
video_input(json_object *meta, const char *rel, json_object *facts)
{
	static const char *const drop[] = { "type", "v", "status", "progress",
	    "error", "destinationBucketFilePath", "createdAt", "updatedAt",
	    "isDeleted", "sourceBucketFilePath", "destinationVideoDetails",
	    NULL };
	json_object *v = NULL, *f = NULL;
	int i;

	if (meta != NULL) {
		if (json_object_deep_copy(meta, &v, NULL) != 0)
			return NULL;
	} else if ((v = json_object_new_object()) == NULL) {
		return NULL;
	}
	for (i = 0; drop[i] != NULL; i++)
		json_object_object_del(v, drop[i]);
	if (json_object_deep_copy(facts, &f, NULL) != 0) {
		json_object_put(v);
		return NULL;
	}
	json_object_object_add(v, "sourceBucketFilePath",
	    json_object_new_string(rel));
	json_object_object_add(v, "destinationVideoDetails", f);
	json_object_object_add(v, "status", json_object_new_string("uploaded"));
	return v;
}

/* Validate the metadata now, in a transaction that is rolled back, so
 * that nothing is linked into place for a record that cannot be added. */
static int
meta_precheck(struct msp_store *st, json_object *vin, struct msp_err *e)
{
	MDB_txn *t;
	int rc;

	if ((rc = msp_txn_begin(st, 1, &t, e)) != 0)
		return rc;
	rc = msp_video_add(st, t, vin, NULL, e);
	msp_txn_abort(st, t);
	return rc == MSP_EMAPFULL ? 0 : rc;
}

struct reg {
	struct msp_store *st;
	json_object *vin;
	json_object *video;
	json_object *job;
};

static int
reg_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct reg *r = arg;
	json_object *x;
	int rc;

	/* a replay after the map grew starts afresh */
	json_object_put(r->video);
	json_object_put(r->job);
	r->video = r->job = NULL;
	if ((rc = msp_video_add(r->st, t, r->vin, &r->video, e)) != 0)
		return rc;
	if (!json_object_object_get_ex(r->video, "id", &x))
		return msp_err_set(e, MSP_ESTORE, "video record has no id");
	return msp_job_enqueue(r->st, t, json_object_get_string(x), &r->job,
	    e);
}

/* Probe src (a path or URL) and check it as an upload called name. */
static int
probe_check(const char *src, const char *name, json_object *meta,
    int64_t max, struct msp_media_info *info, struct msp_err *e)
{
	const char *vt = NULL;
	json_object *x;
	int rc;

	if ((rc = msp_media_probe(src, info, e)) != 0)
		return rc;
	msp_media_set_ext(info, name);
	if (meta != NULL && json_object_object_get_ex(meta, "videoType", &x) &&
	    json_object_is_type(x, json_type_string)) {
		vt = json_object_get_string(x);
		if (strcmp(vt, "short") != 0 && strcmp(vt, "long") != 0)
			vt = NULL; /* msp_video_add says what is wrong */
	}
	return msp_media_check(info, vt, max, e);
}

/* How the bytes become the object rel: publish(arg, rel, &created, e). */
typedef int (*publish_fn)(void *arg, const char *rel, int *created,
    struct msp_err *e);

/* Name the original by its hash, check the metadata, publish the object,
 * then register the video and its job in one transaction. */
static int
store_original(struct msp_store *st, struct msp_blob *b, const char *name,
    json_object *meta, const struct msp_media_info *info,
    const unsigned char hash[HASH_BYTES], publish_fn publish, void *parg,
    json_object **out, struct msp_err *e)
{
	char hex[2 * HASH_BYTES + 1];
	struct reg r = { st, NULL, NULL, NULL };
	json_object *facts = NULL;
	char *rel = NULL;
	int rc, created = 0;

	sodium_bin2hex(hex, sizeof(hex), hash, HASH_BYTES);
	if ((facts = msp_media_json(info)) == NULL ||
	    (rel = msp_sprintf("%s/%s.%s", MSP_ORIGINALS, hex,
	    info->ext)) == NULL ||
	    (r.vin = video_input(meta, rel, facts)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = meta_precheck(st, r.vin, e)) != 0)
		goto out;
	/* an existing original is never replaced */
	if ((rc = publish(parg, rel, &created, e)) != 0)
		goto out;
	if ((rc = msp_store_write(st, reg_txn, &r, e)) != 0)
		goto out;
	if (out != NULL) {
		json_object_object_add(r.job, "input",
		    json_object_new_string(name));
		json_object_object_add(r.job, "video", json_object_get(facts));
		*out = r.job;
		r.job = NULL;
	}
out:
	if (rc != 0 && created)
		(void)msp_blob_remove(b, rel, NULL);
	json_object_put(facts);
	json_object_put(r.vin);
	json_object_put(r.video);
	json_object_put(r.job);
	free(rel);
	return rc;
}

static int
publish_writer(void *arg, const char *rel, int *created, struct msp_err *e)
{
	struct msp_ingest *in = arg;
	int rc;

	rc = msp_blob_writer_publish(in->w, rel, MSP_BLOB_KEEP, created, e);
	in->w = NULL;
	return rc;
}

static int
publish_stage(void *arg, const char *rel, int *created, struct msp_err *e)
{
	struct msp_ingest *in = arg;

	return msp_blob_move(in->b, in->stage, rel, MSP_BLOB_KEEP, created, e);
}

int
msp_ingest_finish(struct msp_store *st, struct msp_ingest *in,
    json_object *meta, json_object **out, struct msp_err *e)
{
	unsigned char hash[HASH_BYTES];
	struct msp_media_info info;
	char *url = NULL;
	int rc, staged = 0;

	if (out != NULL)
		*out = NULL;
	if (in->size == 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "empty file");
		goto out;
	}
	crypto_generichash_final(&in->h, hash, sizeof(hash));
	if (in->stage == NULL) {
		if ((rc = probe_check(msp_blob_writer_path(in->w), in->name,
		    meta, in->max, &info, e)) == 0)
			rc = store_original(st, in->b, in->name, meta, &info,
			    hash, publish_writer, in, out, e);
		goto out;
	}
	/* the upload to the temporary key completes, is probed where it
	 * is, then copied to its key on the server */
	rc = msp_blob_writer_publish(in->w, NULL, 0, &staged, e);
	in->w = NULL;
	if (rc != 0)
		goto out;
	staged = 1;
	if ((rc = msp_blob_url(in->b, in->stage, 900, &url, e)) != 0)
		goto out;
	if (url == NULL) {
		rc = msp_err_set(e, MSP_EIO, "%s: no URL to probe the upload "
		    "at", msp_blob_where(in->b));
		goto out;
	}
	if ((rc = probe_check(url, in->name, meta, in->max, &info, e)) != 0)
		goto out;
	info.size = in->size;
	rc = store_original(st, in->b, in->name, meta, &info, hash,
	    publish_stage, in, out, e);
out:
	if (staged && rc != 0)
		(void)msp_blob_remove(in->b, in->stage, NULL);
	if (url != NULL)
		sodium_memzero(url, strlen(url));
	free(url);
	msp_ingest_abort(in); /* removes a temporary file */
	return rc;
}

/* A local file on a bucket: probed and hashed where it is, then uploaded
 * from itself. */
struct local {
	struct msp_blob *b;
	const char *path;
	int fd;
	struct stat sb;
};

static int
publish_local(void *arg, const char *rel, int *created, struct msp_err *e)
{
	struct local *l = arg;
	struct stat now;
	int rc;

	if ((rc = msp_blob_put_file(l->b, rel, l->path, MSP_BLOB_KEEP,
	    created, e)) != 0)
		return rc;
	if (fstat(l->fd, &now) != 0 || now.st_size != l->sb.st_size ||
	    now.st_mtim.tv_sec != l->sb.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != l->sb.st_mtim.tv_nsec)
		return msp_err_set(e, MSP_EIO, "the file changed while it "
		    "was ingested");
	return 0;
}

/* One read of a file being ingested: *got bytes, 0 at its end; EINTR
 * retried, a stop request honoured between reads. */
static int
read_part(int fd, void *buf, size_t size, ssize_t *got, struct msp_err *e)
{
	ssize_t n;

	while ((n = read(fd, buf, size)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return msp_err_set(e, MSP_EIO, "%s", strerror(errno));
	if (n > 0 && msp_stop_requested())
		return msp_err_set(e, MSP_EAGAIN, "interrupted");
	*got = n;
	return 0;
}

static int
ingest_local(struct msp_store *st, struct msp_blob *b, const char *path,
    const char *name, json_object *meta, int64_t max, json_object **out,
    struct msp_err *e)
{
	struct local l = { b, path, -1, { 0 } };
	crypto_generichash_state h;
	unsigned char hash[HASH_BYTES], *buf = NULL;
	struct msp_media_info info;
	ssize_t n;
	int rc;

	if ((l.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return msp_err_set(e, errno == ENOENT ? MSP_ENOTFOUND :
		    MSP_EIO, "%s", strerror(errno));
	if (fstat(l.fd, &l.sb) != 0 || !S_ISREG(l.sb.st_mode)) {
		rc = msp_err_set(e, MSP_EMEDIA, "not a regular file");
		goto out;
	}
	if (l.sb.st_size == 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "empty file");
		goto out;
	}
	if (l.sb.st_size > max) {
		rc = msp_err_set(e, MSP_EMEDIA, "size %lld bytes exceeds the "
		    "limit of %lld bytes", (long long)l.sb.st_size,
		    (long long)max);
		goto out;
	}
	if ((rc = probe_check(path, name, meta, max, &info, e)) != 0)
		goto out;
	if ((buf = malloc(1 << 20)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	crypto_generichash_init(&h, NULL, 0, HASH_BYTES);
	for (;;) {
		if ((rc = read_part(l.fd, buf, 1 << 20, &n, e)) != 0)
			goto out;
		if (n == 0)
			break;
		crypto_generichash_update(&h, buf, (size_t)n);
	}
	crypto_generichash_final(&h, hash, sizeof(hash));
	rc = store_original(st, b, name, meta, &info, hash, publish_local, &l,
	    out, e);
out:
	free(buf);
	close(l.fd);
	return rc;
}

int
msp_ingest_path(struct msp_store *st, const char *path, const char *name,
    json_object *meta, int64_t max_size, json_object **out,
    struct msp_err *e)
{
	struct msp_ingest *in = NULL;
	struct msp_blob *b;
	unsigned char *buf = NULL;
	ssize_t n;
	int fd, rc;

	if (out != NULL)
		*out = NULL;
	if (max_size <= 0)
		max_size = MSP_MEDIA_MAX_SIZE;
	if (sodium_init() < 0)
		return msp_err_set(e, MSP_ENOMEM, "libsodium failed to "
		    "initialise");
	if ((rc = msp_blob_store(st, &b, e)) != 0)
		return rc;
	if (msp_blob_root(b) == NULL) {
		(void)msp_blob_stage_sweep(b, NULL);
		return ingest_local(st, b, path, name ? name : path, meta,
		    max_size, out, e);
	}
	/* a directory: copied into the store while hashed */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return msp_err_set(e, errno == ENOENT ? MSP_ENOTFOUND :
		    MSP_EIO, "%s", strerror(errno));
	if ((buf = malloc(1 << 16)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = msp_ingest_begin(st, name ? name : path, max_size, &in,
	    e)) != 0)
		goto out;
	for (;;) {
		if ((rc = read_part(fd, buf, 1 << 16, &n, e)) != 0)
			goto out;
		if (n == 0)
			break;
		if ((rc = msp_ingest_write(in, buf, (size_t)n, e)) != 0)
			goto out;
	}
	rc = msp_ingest_finish(st, in, meta, out, e);
	in = NULL;
out:
	msp_ingest_abort(in);
	free(buf);
	close(fd);
	return rc;
}

int
msp_ingest_file(struct msp_store *st, const char *src, json_object *meta,
    int64_t max_size, json_object **out, struct msp_err *e)
{
	struct msp_media_src *s = NULL;
	struct msp_ingest *in = NULL;
	unsigned char *buf = NULL;
	struct stat sb;
	long n;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (max_size <= 0)
		max_size = MSP_MEDIA_MAX_SIZE;
	if (!msp_media_is_url(src) && stat(src, &sb) == 0 &&
	    S_ISREG(sb.st_mode) && sb.st_size > max_size)
		return msp_err_set(e, MSP_EMEDIA, "size %lld bytes exceeds "
		    "the limit of %lld bytes", (long long)sb.st_size,
		    (long long)max_size);
	if (!msp_media_is_url(src) && stat(src, &sb) == 0 &&
	    S_ISREG(sb.st_mode))
		return msp_ingest_path(st, src, src, meta, max_size, out, e);
	if ((rc = msp_media_src_open(&s, src, e)) != 0)
		return rc;
	if ((buf = malloc(1 << 16)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = msp_ingest_begin(st, src, max_size, &in, e)) != 0)
		goto out;
	while ((n = msp_media_src_read(s, buf, 1 << 16, e)) > 0) {
		if (msp_stop_requested()) {
			rc = msp_err_set(e, MSP_EAGAIN, "interrupted");
			goto out;
		}
		if ((rc = msp_ingest_write(in, buf, (size_t)n, e)) != 0)
			goto out;
	}
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	msp_media_src_close(s);
	s = NULL;
	rc = msp_ingest_finish(st, in, meta, out, e);
	in = NULL;
out:
	msp_ingest_abort(in);
	msp_media_src_close(s);
	free(buf);
	return rc;
}

int
msp_ingest_probe(const char *src, const char *video_type, int64_t max_size,
    json_object **out, struct msp_err *e)
{
	struct msp_media_info info;
	json_object *o;
	int rc;

	*out = NULL;
	if ((rc = msp_media_probe(src, &info, e)) != 0)
		return rc;
	if ((rc = msp_media_check(&info, video_type, max_size, e)) != 0)
		return rc;
	if ((o = json_object_new_object()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	json_object_object_add(o, "type", json_object_new_string("probe"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "input", json_object_new_string(src));
	json_object_object_add(o, "videoType",
	    video_type ? json_object_new_string(video_type) : NULL);
	json_object_object_add(o, "video", msp_media_json(&info));
	*out = o;
	return 0;
}
