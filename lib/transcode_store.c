/* transcode, the store side: a video record in, HLS under media/hls/<id>/
 * and the record's status out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "caption.h"
#include "catalog.h"
#include "jobs.h"
#include "transcode.h"
#include "util.h"

#define LEASE_MS 120000L

enum { JOB_KEEP, JOB_FINISH, JOB_REQUEUE };

struct run {
	struct msp_store *st;
	const char *id, *job_id, *worker;
	const struct msp_tc_opts *user;
	json_object *changes;
	json_object *out;
	int job;               /* JOB_*: what happens to the job in the txn */
	const char *job_error; /* NULL: done */
	int last_pct;
	int failed_update;
	struct msp_err uerr;
};

static int
update_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct run *r = arg;
	int rc;

	json_object_put(r->out);
	r->out = NULL;
	if ((rc = msp_video_update(r->st, t, r->id, r->changes, &r->out, e))
	    != 0)
		return rc;
	if (r->job_id == NULL || r->job == JOB_KEEP)
		return 0;
	if (r->job == JOB_REQUEUE)
		return msp_job_release(r->st, t, r->job_id, r->worker, e);
	return msp_job_finish(r->st, t, r->job_id, r->job_error, e);
}

/* Apply changes (taken: put here) and do job (JOB_*) to the job: finish
 * it with job_error (NULL: done), or put it back in the queue. */
static int
update(struct run *r, json_object *changes, int job,
    const char *job_error, struct msp_err *e)
{
	int rc;

	r->changes = changes;
	r->job = job;
	r->job_error = job_error;
	rc = msp_store_write(r->st, update_txn, r, e);
	json_object_put(changes);
	r->changes = NULL;
	return rc;
}

static int
on_progress(const struct msp_tc_progress *p, void *arg)
{
	struct run *r = arg;
	json_object *c;
	int pct = (int)p->percent;

	if (pct != r->last_pct && pct < 100 &&
	    (c = json_object_new_object()) != NULL) {
		json_object_object_add(c, "progress", json_object_new_int(pct));
		if (update(r, c, JOB_KEEP, NULL, &r->uerr) != 0)
			r->failed_update = 1; /* report at the end */
		r->last_pct = pct;
	}
	if (r->job_id != NULL && r->worker != NULL)
		(void)msp_job_renew(r->st, r->job_id, r->worker, LEASE_MS,
		    NULL);
	return r->user->progress ? r->user->progress(p, r->user->arg) : 0;
}

static int
prefix(json_object *o, const char *key, const char *dir)
{
	json_object *v;
	char *s;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if ((s = msp_sprintf("%s/%s", dir, json_object_get_string(v))) == NULL)
		return -1;
	json_object_object_add(o, key, json_object_new_string(s));
	free(s);
	return 0;
}

static json_object *
paths(json_object *d, const char *rel)
{
	static const char *const keys[] = { "master", "dash", "poster",
	    "sprite", "thumbnails", NULL };
	json_object *lad;
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		if (prefix(d, keys[i], rel) != 0)
			return NULL;
	if (json_object_object_get_ex(d, "ladder", &lad))
		for (i = 0; i < json_object_array_length(lad); i++)
			if (prefix(json_object_array_get_idx(lad, i),
			    "playlist", rel) != 0)
				return NULL;
	return d;
}

int
msp_tc_ready_changes(json_object *video, json_object *det, const char *rel,
    json_object **changes, struct msp_err *e)
{
	json_object *c = NULL, *nd = NULL, *old, *a = NULL;
	char *master = NULL;
	int rc = 0;

	*changes = NULL;
	if (paths(det, rel) == NULL || (master = msp_sprintf("%s/master.m3u8",
	    rel)) == NULL || (c = json_object_new_object()) == NULL ||
	    (nd = json_object_new_object()) == NULL ||
	    (a = json_object_new_array()) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	/* destinationVideoDetails keeps what it had and gains "hls" */
	old = json_object_object_get(video, "destinationVideoDetails");
	if (old != NULL && json_object_is_type(old, json_type_object)) {
		json_object_object_foreach(old, k, val)
			if (strcmp(k, "hls") != 0)
				json_object_object_add(nd, k,
				    json_object_get(val));
	}
	json_object_object_add(nd, "hls", det);
	det = NULL;
	json_object_object_add(c, "status", json_object_new_string("ready"));
	json_object_object_add(c, "progress", json_object_new_int(100));
	json_object_object_add(c, "error", NULL);
	json_object_array_add(a, json_object_new_string(master));
	json_object_object_add(c, "destinationBucketFilePath", a);
	a = NULL;
	json_object_object_add(c, "destinationVideoDetails", nd);
	nd = NULL;
	*changes = c;
	c = NULL;
out:
	json_object_put(det);
	json_object_put(c);
	json_object_put(nd);
	json_object_put(a);
	free(master);
	return rc;
}

int
msp_transcode_video(struct msp_store *st, const char *id,
    const char *job_id, const char *worker, const struct msp_tc_opts *o,
    json_object **out, struct msp_err *e)
{
	struct run r;
	struct msp_tc_opts mine = *o;
	json_object *v = NULL, *src, *c = NULL, *det = NULL;
	MDB_txn *t = NULL;
	struct msp_blob *b;
	char *rel = NULL, *inpath = NULL;
	struct msp_err te;
	char why[900];
	int rc;

	memset(&r, 0, sizeof(r));
	r.st = st;
	r.id = id;
	r.job_id = job_id;
	r.worker = worker;
	r.user = o;
	r.last_pct = -1;
	if (out != NULL)
		*out = NULL;
	if ((rc = msp_blob_store(st, &b, e)) != 0)
		return rc;
	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		return rc;
	rc = msp_video_get(st, t, id, &v, e);
	msp_txn_abort(st, t);
	if (rc != 0)
		return rc;
	if (!json_object_object_get_ex(v, "sourceBucketFilePath", &src) ||
	    !json_object_is_type(src, json_type_string)) {
		rc = msp_err_set(e, MSP_EINVAL, "video %s: no "
		    "sourceBucketFilePath", id);
		goto out;
	}
	if ((rel = msp_sprintf("media/hls/%s", id)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	/* the original, local (a bucket's: copied to a temporary file)
	 * before the record changes; what a killed run left behind, or the
	 * previous output, goes */
	if ((rc = msp_blob_fetch(b, json_object_get_string(src), &inpath, e))
	    != 0 || (rc = msp_blob_remove(b, rel, e)) != 0)
		goto out;
	if ((c = json_object_new_object()) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_add(c, "status", json_object_new_string(
	    "processing"));
	json_object_object_add(c, "progress", json_object_new_int(0));
	json_object_object_add(c, "error", NULL);
	json_object_object_add(c, "destinationBucketFilePath",
	    json_object_new_array());
	if ((rc = update(&r, c, JOB_KEEP, NULL, e)) != 0)
		goto out;
	r.last_pct = 0;

	mine.progress = on_progress;
	mine.arg = &r;
	rc = msp_transcode_file(inpath, b, rel, &mine, &det, e);
	msp_blob_fetch_done(b, inpath);
	inpath = NULL;
	if (rc == 0 && r.failed_update) {
		rc = r.uerr.code;
		if (e != NULL)
			*e = r.uerr;
	}
	if (rc == MSP_EAGAIN) {
		/* stopped: back to the queue, for the next worker */
		(void)msp_blob_remove(b, rel, NULL);
		if ((c = json_object_new_object()) == NULL)
			goto out;
		json_object_object_add(c, "status",
		    json_object_new_string("uploaded"));
		json_object_object_add(c, "progress", json_object_new_int(0));
		if (update(&r, c, JOB_REQUEUE, NULL, &te) != 0 && e != NULL)
			msp_err_prefix(e, "%s (and the record could not be "
			    "updated: %s)", id, te.msg);
		goto out;
	}
	if (rc != 0) {
		(void)msp_blob_remove(b, rel, NULL);
		c = json_object_new_object();
		if (c == NULL)
			goto out;
		json_object_object_add(c, "status",
		    json_object_new_string("failed"));
		snprintf(why, sizeof(why), "%.800s", e != NULL ? e->msg :
		    "transcode failed");
		json_object_object_add(c, "error", json_object_new_string(why));
		if (update(&r, c, JOB_FINISH, why, &te) != 0 && e != NULL)
			msp_err_prefix(e, "%s (and the record could not be "
			    "updated: %s)", id, te.msg);
		goto out;
	}
	rc = msp_tc_ready_changes(r.out, det, rel, &c, e);
	det = NULL;
	if (rc != 0)
		goto out;
	if ((rc = update(&r, c, JOB_FINISH, NULL, e)) != 0) {
		(void)msp_blob_remove(b, rel, NULL);
		goto out;
	}
	/* captions added before the output was there join it now */
	if (json_object_object_get_ex(r.out, "captions", NULL) &&
	    (rc = msp_caption_publish(st, r.out, e)) != 0) {
		msp_err_prefix(e, "video %s: ready, but its captions are not "
		    "published", id);
		goto out;
	}
	if (out != NULL) {
		*out = r.out;
		r.out = NULL;
	}
out:
	json_object_put(r.out);
	json_object_put(v);
	json_object_put(det);
	msp_blob_fetch_done(b, inpath);
	free(rel);
	return rc;
}
