/* transcode, the stateless side: a job line in, HLS in the media
 * directory and a result line out; no store. See dispatch.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"
#include "dispatch.h"
#include "jsonl.h"
#include "util.h"

static const char *const presets[] = { "ultrafast", "superfast",
    "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
    NULL };

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

static json_object *
result_new(json_object *job, const char *worker, const char *status)
{
	static const char *const keys[] = { "jobId", "videoId", "attempt",
	    "token", NULL };
	static const char *const from[] = { "id", "videoId", "attempt",
	    "token", NULL };
	json_object *r, *x, *c;
	int i;

	if ((r = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(r, "type", json_object_new_string("result"));
	json_object_object_add(r, "v", json_object_new_int(1));
	for (i = 0; keys[i] != NULL; i++)
		if (json_object_object_get_ex(job, from[i], &x))
			json_object_object_add(r, keys[i], json_object_get(x));
	if (json_object_object_get_ex(job, "chunk", &c) &&
	    json_object_object_get_ex(c, "index", &x))
		json_object_object_add(r, "chunk", json_object_get(x));
	if (worker != NULL)
		json_object_object_add(r, "worker",
		    json_object_new_string(worker));
	json_object_object_add(r, "status", json_object_new_string(status));
	return r;
}

json_object *
msp_tc_job_progress(json_object *job, const char *worker, double percent)
{
	json_object *r = result_new(job, worker, "progress");

	if (r != NULL)
		json_object_object_add(r, "progress", json_object_new_double(
		    (double)(long)(percent * 10) / 10));
	return r;
}

/* The fields a result needs: without them there is nobody to answer. */
static int
job_ident(json_object *job, struct msp_err *e)
{
	const char *s;
	long long n;
	int rc;

	if ((rc = msp_record_check(job, "job", 1, e)) != 0)
		return rc;
	if ((rc = msp_field_str(job, "id", 1, 64, 0, &s, e)) != 0)
		return rc;
	if (!msp_id_valid(s))
		return msp_err_set(e, MSP_EINVAL, "field 'id': '%s' is not a "
		    "job id", s);
	if ((rc = msp_field_str(job, "videoId", 1, 64, 0, &s, e)) != 0)
		return rc;
	if (!msp_id_valid(s))
		return msp_err_set(e, MSP_EINVAL, "field 'videoId': '%s' is not "
		    "a video id", s);
	if ((rc = msp_field_int(job, "attempt", 1, 1, 1000000, &n, e)) != 0)
		return rc;
	if ((rc = msp_field_str(job, "token", 1, 64, 0, &s, e)) != 0)
		return rc;
	if ((rc = msp_field_str(job, "input", 1, 1000, 0, &s, e)) != 0)
		return rc;
	return 0;
}

/* The work order: what to read, where to write, how. */
static int
job_opts(json_object *job, struct msp_tc_opts *o, const char **in,
    const char **out, struct msp_err *e)
{
	json_object *x;
	const char *s;
	int rc;

	msp_tc_opts_init(o);
	if ((rc = msp_field_str(job, "input", 1, 1000, 0, in, e)) != 0 ||
	    (rc = msp_field_str(job, "output", 1, 1000, 0, out, e)) != 0)
		return rc;
	if (!msp_blob_rel_ok(*in))
		return msp_err_set(e, MSP_EINVAL, "field 'input': '%s' is not "
		    "a relative path", *in);
	if (!msp_blob_rel_ok(*out))
		return msp_err_set(e, MSP_EINVAL, "field 'output': '%s' is not "
		    "a relative path", *out);
	rc = msp_field_str(job, "ladder", 0, 200, 0, &s, e);
	if (rc == 0 && msp_hls_ladder_parse(s, &o->ladder, e) != 0)
		return msp_err_prefix(e, "field 'ladder'");
	if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	rc = msp_field_str(job, "format", 0, 8, 0, &s, e);
	if (rc == 0 && strcmp(s, "ts") == 0)
		o->format = MSP_TC_TS;
	else if (rc == 0 && strcmp(s, "fmp4") != 0)
		return msp_err_set(e, MSP_EINVAL, "field 'format': '%s' is not "
		    "fmp4 or ts", s);
	else if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	if (json_object_object_get_ex(job, "segment", &x)) {
		if (!json_object_is_type(x, json_type_double) &&
		    !json_object_is_type(x, json_type_int))
			return msp_err_set(e, MSP_EINVAL, "field 'segment': not "
			    "a number");
		o->segment = json_object_get_double(x);
		if (!(o->segment >= 0.5 && o->segment <= 60))
			return msp_err_set(e, MSP_EINVAL, "field 'segment': %g "
			    "is not from 0.5 to 60", o->segment);
	}
	if (json_object_object_get_ex(job, "chunk", &x)) {
		long long i, first;
		double st, en;
		json_object *y;
		if (!json_object_is_type(x, json_type_object) ||
		    msp_field_int(x, "index", 1, 0, 100000, &i, e) != 0 ||
		    msp_field_int(x, "firstSegment", 1, 0, 10000000, &first,
		    e) != 0 || !json_object_object_get_ex(x, "start", &y) ||
		    !((st = json_object_get_double(y)) >= 0) ||
		    !json_object_object_get_ex(x, "end", &y) ||
		    !((en = json_object_get_double(y)) == 0 || en > st))
			return msp_err_set(e, MSP_EINVAL, "field 'chunk': not "
			    "{index, start, end, firstSegment}");
		o->chunked = 1;
		o->start = st;
		o->end = en;
		o->first_seg = (int)first;
	}
	rc = msp_field_str(job, "preset", 0, 16, 0, &s, e);
	if (rc == 0) {
		int i;
		for (i = 0; presets[i] != NULL && strcmp(presets[i], s); i++)
			;
		if (presets[i] == NULL)
			return msp_err_set(e, MSP_EINVAL, "field 'preset': '%s' "
			    "is not an x264 preset", s);
		o->preset = presets[i];
	} else if (rc != MSP_ENOTFOUND) {
		return rc;
	}
	return 0;
}

int
msp_tc_job_run(const char *media, json_object *job, const char *worker,
    int (*progress)(const struct msp_tc_progress *p, void *arg), void *arg,
    json_object **result, struct msp_err *e)
{
	struct msp_tc_opts o;
	struct msp_err te = { 0 };
	struct msp_blob *b = NULL;
	const char *in = NULL, *out = NULL;
	char *inpath = NULL;
	json_object *det = NULL, *r = NULL;
	int rc;

	*result = NULL;
	if ((rc = job_ident(job, e)) != 0)
		return rc;
	if ((rc = job_opts(job, &o, &in, &out, &te)) != 0)
		goto answer;
	o.progress = progress;
	o.arg = arg;
	/* media: a directory, or a bucket file whose prefix ends in media/ */
	if ((rc = msp_blob_open(&b, media, NULL, e)) != 0 ||
	    (rc = msp_blob_check(b, e)) != 0)
		goto out;
	if ((rc = msp_blob_fetch(b, in, &inpath, &te)) != 0) {
		if (rc == MSP_ENOTFOUND)
			rc = msp_err_set(&te, MSP_EMEDIA, "%s: the original is "
			    "not in the media directory", in);
		if (rc != MSP_EMEDIA) {
			*e = te;
			goto out;
		}
		goto answer;
	}
	/* the output replaces what an earlier attempt left; a chunk's
	 * output is shared with the other chunks (its segments are its own,
	 * numbered on from the chunks before; the init segments are the
	 * same in every chunk), so it only writes over its own files */
	if (o.chunked)
		rc = msp_transcode_file(inpath, b, out, &o, &det, &te);
	else if ((rc = msp_blob_remove(b, out, &te)) == 0)
		rc = msp_transcode_file(inpath, b, out, &o, &det, &te);
	if (rc != 0 && !o.chunked)
		(void)msp_blob_remove(b, out, NULL);
	if (rc == MSP_EAGAIN) {
		*e = te;
		goto out;
	}
answer:
	if ((r = result_new(job, worker, rc == 0 ? "ready" : "failed")) ==
	    NULL) {
		rc = oom(e);
		goto out;
	}
	if (rc == 0) {
		json_object_object_add(r, "output",
		    json_object_new_string(out));
		json_object_object_add(r, "details", det);
		det = NULL;
	} else {
		json_object_object_add(r, "error", json_object_new_string(
		    te.msg));
	}
	*result = r;
	rc = 0;
out:
	json_object_put(det);
	msp_blob_fetch_done(b, inpath);
	msp_blob_close(b);
	return rc;
}
