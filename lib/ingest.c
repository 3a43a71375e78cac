/*
 * ingest: copy, hash, probe, store and register an upload.
 *
 * Order of things, so that a refused upload leaves nothing and a crash
 * leaves at most a temporary file that no record points at:
 *   1. bytes go to media/originals/.tmp/<id> while BLAKE2b hashes them;
 *      the writer holds an flock on it until the name is removed, and a
 *      later ingest removes a file there that is unlocked and was not
 *      written to for TMP_STALE seconds (a crashed writer's);
 *   2. the copy is probed and checked (lib/media), and the metadata is
 *      validated by msp_video_add in a transaction that is rolled back;
 *   3. the copy is hard-linked to media/originals/<hash>.<ext> (an
 *      existing file of that name already holds the same bytes) and the
 *      temporary name removed;
 *   4. one write transaction adds the video and enqueues its job. If it
 *      fails, a file that step 3 created is removed again.
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
#define TMP_DIR ".tmp"  /* in MSP_ORIGINALS: the same file system */
#define TMP_STALE 600   /* seconds without a write: a crashed writer's */

struct msp_ingest {
	struct msp_store *st;
	char *name;        /* for the extension */
	char *dir;         /* absolute: <store>/media/originals */
	char *tmp;         /* absolute temporary file */
	int fd;
	int64_t size, max;
	crypto_generichash_state h;
};

int
msp_ingest_begin(struct msp_store *st, const char *name, int64_t max_size,
    struct msp_ingest **ip, struct msp_err *e)
{
	struct msp_ingest *in;
	char id[MSP_ID_LEN + 1], *tmpdir = NULL;
	int rc;

	*ip = NULL;
	if (sodium_init() < 0)
		return msp_err_set(e, MSP_ENOMEM, "libsodium failed to "
		    "initialise");
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	in->st = st;
	in->fd = -1;
	in->max = max_size > 0 ? max_size : MSP_MEDIA_MAX_SIZE;
	if ((rc = msp_blob_path(st, MSP_ORIGINALS, &in->dir, e)) != 0)
		goto fail;
	if (msp_id_new(id) != 0 ||
	    (in->name = msp_strdup(name ? name : "upload")) == NULL ||
	    (tmpdir = msp_sprintf("%s/" TMP_DIR, in->dir)) == NULL ||
	    (in->tmp = msp_sprintf("%s/%s", tmpdir, id)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = msp_mkdirs(tmpdir, 0755, e)) != 0 ||
	    (rc = msp_blob_sweep(tmpdir, TMP_STALE, e)) != 0)
		goto fail;
	in->fd = open(in->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (in->fd < 0 || flock(in->fd, LOCK_EX) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", in->tmp,
		    strerror(errno));
		goto fail;
	}
	free(tmpdir);
	crypto_generichash_init(&in->h, NULL, 0, HASH_BYTES);
	*ip = in;
	return 0;
fail:
	free(tmpdir);
	msp_ingest_abort(in);
	return rc;
}

int
msp_ingest_write(struct msp_ingest *in, const void *p, size_t n,
    struct msp_err *e)
{
	const unsigned char *b = p;
	int err;

	if ((int64_t)n > in->max - in->size)
		return msp_err_set(e, MSP_EMEDIA, "size exceeds the limit of "
		    "%lld bytes", (long long)in->max);
	crypto_generichash_update(&in->h, b, n);
	in->size += (int64_t)n;
	if ((err = msp_write_all(in->fd, b, n)) != 0)
		return msp_err_set(e, MSP_EIO, "%s: %s", in->tmp,
		    strerror(err));
	return 0;
}

void
msp_ingest_abort(struct msp_ingest *in)
{
	if (in == NULL)
		return;
	if (in->tmp != NULL && in->fd >= 0)
		unlink(in->tmp); /* then the lock goes */
	if (in->fd >= 0)
		close(in->fd);
	free(in->tmp);
	free(in->dir);
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

int
msp_ingest_finish(struct msp_store *st, struct msp_ingest *in,
    json_object *meta, json_object **out, struct msp_err *e)
{
	unsigned char hash[HASH_BYTES];
	char hex[2 * HASH_BYTES + 1];
	struct msp_media_info info;
	struct reg r = { st, NULL, NULL, NULL };
	json_object *facts = NULL, *x;
	const char *vt = NULL;
	char *rel = NULL, *abs = NULL;
	int rc, created = 0;

	if (out != NULL)
		*out = NULL;
	/* the file stays open, and locked, until its name is removed */
	if (fsync(in->fd) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", in->tmp,
		    strerror(errno));
		goto out;
	}
	if (in->size == 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "empty file");
		goto out;
	}
	if ((rc = msp_media_probe(in->tmp, &info, e)) != 0)
		goto out;
	msp_media_set_ext(&info, in->name);
	if (meta != NULL && json_object_object_get_ex(meta, "videoType", &x) &&
	    json_object_is_type(x, json_type_string)) {
		vt = json_object_get_string(x);
		if (strcmp(vt, "short") != 0 && strcmp(vt, "long") != 0)
			vt = NULL; /* msp_video_add says what is wrong */
	}
	if ((rc = msp_media_check(&info, vt, in->max, e)) != 0)
		goto out;
	crypto_generichash_final(&in->h, hash, sizeof(hash));
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	if ((facts = msp_media_json(&info)) == NULL ||
	    (rel = msp_sprintf("%s/%s.%s", MSP_ORIGINALS, hex,
	    info.ext)) == NULL ||
	    (r.vin = video_input(meta, rel, facts)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = meta_precheck(st, r.vin, e)) != 0)
		goto out;
	if ((rc = msp_blob_path(st, rel, &abs, e)) != 0)
		goto out;
	/* link, not rename: an existing original is never replaced */
	if (link(in->tmp, abs) == 0) {
		created = 1;
		if ((rc = msp_blob_sync_dir(in->dir, e)) != 0)
			goto out;
	} else if (errno != EEXIST) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", abs, strerror(errno));
		goto out;
	}
	if ((rc = msp_store_write(st, reg_txn, &r, e)) != 0)
		goto out;
	if (out != NULL) {
		json_object_object_add(r.job, "input",
		    json_object_new_string(in->name));
		json_object_object_add(r.job, "video", json_object_get(facts));
		*out = r.job;
		r.job = NULL;
	}
out:
	if (rc != 0 && created)
		unlink(abs);
	json_object_put(facts);
	json_object_put(r.vin);
	json_object_put(r.video);
	json_object_put(r.job);
	free(rel);
	free(abs);
	msp_ingest_abort(in); /* removes the temporary name */
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
