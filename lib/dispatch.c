/*
 * dispatch: the store side of stateless transcode workers. See dispatch.h.
 *
 * A job record dispatched here gains
 *   "dispatch": {"attempt": N, "via": "redis", "entry": ID|null}
 *   "resolved": the last attempt whose result was applied
 *   "progress": the worker's last percent; "deadLetter": true once failed
 *              for good
 * and keeps the fields of lib/jobs.c (attempts, worker, leaseUntil ...).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "blob.h"
#include "catalog.h"
#include "dispatch.h"
#include "jobs.h"
#include "jsonl.h"
#include "util.h"

#define KEY_FILE "transcode.key"
#define ERROR_MAX 2000

void
msp_dispatch_opts_init(struct msp_dispatch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->via = "redis";
	o->attempts = MSP_DISPATCH_ATTEMPTS;
}

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

/* ---- the key and tokens -------------------------------------------- */

static int
key_read(const char *p, unsigned char key[crypto_auth_KEYBYTES],
    struct msp_err *e)
{
	char hex[2 * crypto_auth_KEYBYTES + 2];
	size_t n, got;
	FILE *f;

	if ((f = fopen(p, "r")) == NULL)
		return errno == ENOENT ? MSP_ENOTFOUND :
		    msp_err_set(e, MSP_EIO, "%s: %s", p, strerror(errno));
	n = fread(hex, 1, sizeof(hex) - 1, f);
	fclose(f);
	hex[n] = '\0';
	if (n > 0 && hex[n - 1] == '\n')
		hex[--n] = '\0';
	if (sodium_hex2bin(key, crypto_auth_KEYBYTES, hex, n, NULL, &got,
	    NULL) != 0 || got != crypto_auth_KEYBYTES)
		return msp_err_set(e, MSP_ESTORE, "%s: not a key", p);
	return 0;
}

/* STORE/transcode.key, made on first use (written whole, then linked
 * into place: a second maker reads the first one's key) */
static int
key_get(struct msp_store *st, unsigned char key[crypto_auth_KEYBYTES],
    struct msp_err *e)
{
	char hex[2 * crypto_auth_KEYBYTES + 2];
	char *p, *tmp = NULL;
	int rc, fd = -1;

	if ((p = msp_path_join(msp_store_path(st), KEY_FILE)) == NULL)
		return oom(e);
	if ((rc = key_read(p, key, e)) != MSP_ENOTFOUND)
		goto out;
	if ((tmp = msp_sprintf("%s.%ld", p, (long)getpid())) == NULL) {
		rc = oom(e);
		goto out;
	}
	crypto_auth_keygen(key);
	sodium_bin2hex(hex, sizeof(hex) - 1, key, crypto_auth_KEYBYTES);
	strcat(hex, "\n");
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
	    write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) ||
	    fsync(fd) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (link(tmp, p) != 0 && errno != EEXIST) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", p, strerror(errno));
		goto out;
	}
	rc = key_read(p, key, e);
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		(void)unlink(tmp);
	sodium_memzero(hex, sizeof(hex));
	free(tmp);
	free(p);
	return rc;
}

int
msp_dispatch_token(struct msp_store *st, const char *job_id, int attempt,
    char out[65], struct msp_err *e)
{
	unsigned char key[crypto_auth_KEYBYTES], mac[crypto_auth_BYTES];
	char msg[128];
	int rc;

	if ((rc = key_get(st, key, e)) != 0)
		return rc;
	snprintf(msg, sizeof(msg), "%.64s:%d", job_id, attempt);
	crypto_auth(mac, (const unsigned char *)msg, strlen(msg), key);
	sodium_memzero(key, sizeof(key));
	sodium_bin2hex(out, 65, mac, 32);
	return 0;
}

/* ---- records -------------------------------------------------------- */

static long long
ifield(json_object *o, const char *f)
{
	json_object *x;

	if (json_object_object_get_ex(o, f, &x) &&
	    json_object_is_type(x, json_type_int))
		return json_object_get_int64(x);
	return 0;
}

/* attempts since the last requeue */
static long long
tries(json_object *job)
{
	return ifield(job, "attempts") - ifield(job, "attemptsBase");
}

static json_object *
dispatch_of(json_object *job)
{
	json_object *d;

	if (json_object_object_get_ex(job, "dispatch", &d) &&
	    json_object_is_type(d, json_type_object))
		return d;
	return NULL;
}

static void
set_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static char *
ladder_str(const struct msp_ladder *l)
{
	char *s = msp_strdup(""), *n;
	int i;

	for (i = 0; s != NULL && i < l->n; i++) {
		n = msp_sprintf("%s%s%d:%ld", s, i ? "," : "", l->r[i].height,
		    l->r[i].bitrate);
		free(s);
		s = n;
	}
	return s;
}

/* The job line of job (attempt: its dispatch's) for video v. */
static int
make_line(struct msp_store *st, const struct msp_dispatch_opts *o,
    json_object *job, json_object *v, json_object **out, struct msp_err *e)
{
	const char *id = msp_json_sget(job, "id");
	const char *vid = msp_json_sget(job, "videoId");
	const char *src = msp_json_sget(v, "sourceBucketFilePath");
	int attempt = (int)ifield(dispatch_of(job), "attempt");
	char tok[65], *lad, *outp;
	json_object *l;
	int rc;

	*out = NULL;
	if (src == NULL || strncmp(src, "media/", 6) != 0 ||
	    !msp_blob_rel_ok(src))
		return msp_err_set(e, MSP_EINVAL, "video %s: no "
		    "sourceBucketFilePath under media/", vid);
	if ((rc = msp_dispatch_token(st, id, attempt, tok, e)) != 0)
		return rc;
	lad = ladder_str(&o->tc->ladder);
	outp = msp_sprintf("hls/%s", vid);
	l = json_object_new_object();
	if (lad == NULL || outp == NULL || l == NULL) {
		free(lad);
		free(outp);
		json_object_put(l);
		return oom(e);
	}
	set_str(l, "type", "job");
	json_object_object_add(l, "v", json_object_new_int(1));
	set_str(l, "id", id);
	set_str(l, "videoId", vid);
	json_object_object_add(l, "attempt", json_object_new_int(attempt));
	set_str(l, "token", tok);
	set_str(l, "input", src + 6);
	set_str(l, "output", outp);
	set_str(l, "ladder", lad);
	set_str(l, "format", o->tc->format == MSP_TC_TS ? "ts" : "fmp4");
	json_object_object_add(l, "segment",
	    json_object_new_double(o->tc->segment));
	set_str(l, "preset", o->tc->preset);
	sodium_memzero(tok, sizeof(tok));
	free(lad);
	free(outp);
	*out = l;
	return 0;
}

static int
video_set(struct msp_store *st, MDB_txn *t, const char *vid,
    const char *status, int progress, const char *error, json_object **out,
    struct msp_err *e)
{
	json_object *c;
	int rc;

	if ((c = json_object_new_object()) == NULL)
		return oom(e);
	if (status != NULL)
		set_str(c, "status", status);
	if (progress >= 0)
		json_object_object_add(c, "progress",
		    json_object_new_int(progress));
	if (status != NULL)
		set_str(c, "error", error);
	rc = msp_video_update(st, t, vid, c, out, e);
	json_object_put(c);
	return rc;
}

/* a new attempt of job (running already): dispatch object, long lease */
static int
new_attempt(struct msp_store *st, MDB_txn *t,
    const struct msp_dispatch_opts *o, json_object *job, struct msp_err *e)
{
	json_object *d;
	char until[MSP_TIME_LEN + 1];

	if ((d = json_object_new_object()) == NULL)
		return oom(e);
	json_object_object_add(d, "attempt",
	    json_object_new_int64(ifield(job, "attempts")));
	set_str(d, "via", o->via);
	json_object_object_add(d, "entry", NULL);
	json_object_object_add(job, "dispatch", d);
	json_object_object_add(job, "progress", json_object_new_int(0));
	msp_time_fmt(msp_now_ms() + MSP_DISPATCH_HOLD_MS, until);
	set_str(job, "leaseUntil", until);
	return msp_job_save(st, t, job, NULL, e);
}

/* ---- dispatch -------------------------------------------------------- */

struct next {
	struct msp_store *st;
	const struct msp_dispatch_opts *o;
	json_object *line;
};

static int
next_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct next *n = arg;
	json_object *job = NULL, *v = NULL;
	const char *vid;
	struct msp_err ve;
	int rc;

	json_object_put(n->line);
	n->line = NULL;
	for (;;) {
		rc = msp_job_claim_in(n->st, t, n->o->via, MSP_DISPATCH_HOLD_MS,
		    &job, e);
		if (rc != 0)
			return rc;
		vid = msp_json_sget(job, "videoId");
		rc = msp_video_get(n->st, t, vid, &v, &ve);
		if (rc == 0)
			rc = make_line(n->st, n->o, job, v, &n->line, &ve);
		if (rc == MSP_ENOTFOUND || rc == MSP_EINVAL) {
			/* nothing a worker could do: the job fails here */
			json_object_put(v);
			v = NULL;
			if ((rc = msp_job_finish(n->st, t,
			    msp_json_sget(job, "id"), ve.msg, e)) != 0)
				break;
			json_object_put(job);
			job = NULL;
			continue;
		}
		if (rc != 0) {
			*e = ve;
			break;
		}
		json_object_put(n->line);
		n->line = NULL;
		if ((rc = new_attempt(n->st, t, n->o, job, e)) != 0 ||
		    (rc = make_line(n->st, n->o, job, v, &n->line, e)) != 0 ||
		    (rc = video_set(n->st, t, vid, "processing", 0, NULL, NULL,
		    e)) != 0)
			break;
		break;
	}
	json_object_put(job);
	json_object_put(v);
	return rc;
}

int
msp_dispatch_next(struct msp_store *st, const struct msp_dispatch_opts *o,
    json_object **line, struct msp_err *e)
{
	struct next n = { st, o, NULL };
	int rc;

	*line = NULL;
	rc = msp_store_write(st, next_txn, &n, e);
	if (rc != 0) {
		json_object_put(n.line);
		return rc;
	}
	*line = n.line;
	return 0;
}

int
msp_dispatch_line(struct msp_store *st, const struct msp_dispatch_opts *o,
    json_object *job, json_object **line, struct msp_err *e)
{
	json_object *v = NULL;
	MDB_txn *t;
	int rc;

	*line = NULL;
	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		return rc;
	rc = msp_video_get(st, t, msp_json_sget(job, "videoId"), &v, e);
	msp_txn_abort(st, t);
	if (rc == 0)
		rc = make_line(st, o, job, v, line, e);
	json_object_put(v);
	return rc;
}

struct note {
	struct msp_store *st;
	const char *id, *entry;
	int attempt;
};

static int
note_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct note *n = arg;
	json_object *job, *d;
	int rc;

	if ((rc = msp_job_get(n->st, t, n->id, &job, e)) != 0)
		return rc;
	d = dispatch_of(job);
	if (d != NULL && ifield(d, "attempt") == n->attempt) {
		set_str(d, "entry", n->entry);
		rc = msp_job_save(n->st, t, job, NULL, e);
	}
	json_object_put(job);
	return rc;
}

int
msp_dispatch_note(struct msp_store *st, const char *job_id, int attempt,
    const char *entry, struct msp_err *e)
{
	struct note n = { st, job_id, entry, attempt };

	return msp_store_write(st, note_txn, &n, e);
}

/* ---- results --------------------------------------------------------- */

struct apply {
	struct msp_store *st;
	const struct msp_dispatch_opts *o;
	json_object *res;
	const char *id, *vid, *status, *why;
	int attempt;
	double percent;
	int outcome;
	json_object *video;
	/* retry */
	json_object *line;
	int dead;
};

/* Fail job for good (a dead letter) with why, and its video. */
static int
dead_letter(struct apply *a, MDB_txn *t, json_object *job, const char *why,
    struct msp_err *e)
{
	char *cut = NULL;
	size_t n = strlen(why);
	int rc;

	if (n > ERROR_MAX) {
		n = ERROR_MAX;
		while (n > 0 && ((unsigned char)why[n] & 0xc0) == 0x80)
			n--;
		if ((cut = msp_sprintf("%.*s", (int)n, why)) == NULL)
			return oom(e);
		why = cut;
	}
	json_object_object_add(job, "deadLetter",
	    json_object_new_boolean(1));
	set_str(job, "error", why);
	set_str(job, "leaseUntil", NULL);
	rc = msp_job_save(a->st, t, job, "failed", e);
	if (rc == 0)
		rc = video_set(a->st, t, a->vid, "failed", -1, why, &a->video,
		    e);
	if (rc == MSP_ENOTFOUND)
		rc = 0; /* the video was purged meanwhile */
	free(cut);
	return rc;
}

/* The attempt failed (why): back to the queue for another, or a dead
 * letter after o->attempts. */
static int
attempt_failed(struct apply *a, MDB_txn *t, json_object *job,
    const char *why, struct msp_err *e)
{
	json_object_object_add(job, "resolved",
	    json_object_new_int(a->attempt));
	if (tries(job) >= a->o->attempts)
		return dead_letter(a, t, job, why, e);
	set_str(job, "worker", NULL);
	set_str(job, "leaseUntil", NULL);
	set_str(job, "error", why);
	return msp_job_save(a->st, t, job, "queued", e);
}

static int
ready(struct apply *a, MDB_txn *t, json_object *job, struct msp_err *e)
{
	json_object *v = NULL, *det, *c = NULL;
	const char *out;
	char *rel = NULL;
	int rc;

	out = msp_json_sget(a->res, "output");
	if (!json_object_object_get_ex(a->res, "details", &det) ||
	    !json_object_is_type(det, json_type_object))
		return msp_err_set(e, MSP_EINVAL, "field 'details': missing");
	if (out == NULL || !msp_blob_rel_ok(out))
		return msp_err_set(e, MSP_EINVAL, "field 'output': not a "
		    "relative path");
	if ((rel = msp_sprintf("media/%s", out)) == NULL)
		return oom(e);
	if ((rc = msp_video_get(a->st, t, a->vid, &v, e)) != 0)
		goto out;
	/* the details are copied: the result line stays as it came */
	if ((det = json_tokener_parse(json_object_to_json_string(det))) ==
	    NULL) {
		rc = oom(e);
		goto out;
	}
	if ((rc = msp_tc_ready_changes(v, det, rel, &c, e)) != 0 ||
	    (rc = msp_video_update(a->st, t, a->vid, c, &a->video, e)) != 0)
		goto out;
	json_object_object_add(job, "resolved",
	    json_object_new_int(a->attempt));
	json_object_object_add(job, "progress", json_object_new_int(100));
	set_str(job, "leaseUntil", NULL);
	set_str(job, "error", NULL);
	rc = msp_job_save(a->st, t, job, "done", e);
out:
	json_object_put(v);
	json_object_put(c);
	free(rel);
	return rc;
}

/* Check the result's job, attempt and token; 1: ignore (dup, stale). */
static int
check(struct apply *a, MDB_txn *t, json_object *job, struct msp_err *e)
{
	const char *jv = msp_json_sget(job, "videoId");
	const char *state = msp_json_sget(job, "state");
	const char *tok = msp_json_sget(a->res, "token");
	json_object *d = dispatch_of(job);
	char want[65];
	int rc;

	(void)t;
	if (jv == NULL || strcmp(jv, a->vid) != 0)
		return msp_err_set(e, MSP_EINVAL, "job %s is for video %s, "
		    "not %s", a->id, jv ? jv : "?", a->vid);
	if (d == NULL || a->attempt < 1 || a->attempt > ifield(d, "attempt"))
		return msp_err_set(e, MSP_EPERM, "job %s: attempt %d was never "
		    "dispatched", a->id, a->attempt);
	if ((rc = msp_dispatch_token(a->st, a->id, a->attempt, want, e)) != 0)
		return rc;
	if (tok == NULL || strlen(tok) != 64 ||
	    sodium_memcmp(tok, want, 64) != 0) {
		sodium_memzero(want, sizeof(want));
		return msp_err_set(e, MSP_EPERM, "job %s: attempt %d: the "
		    "token does not match (a forged result, or one for another "
		    "store)", a->id, a->attempt);
	}
	sodium_memzero(want, sizeof(want));
	if (a->attempt <= ifield(job, "resolved")) {
		a->outcome = MSP_APPLY_DUP;
		return 1;
	}
	if (a->attempt < ifield(d, "attempt") || state == NULL ||
	    strcmp(state, "running") != 0) {
		a->outcome = MSP_APPLY_STALE;
		return 1;
	}
	return 0;
}

static int
apply_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct apply *a = arg;
	json_object *job = NULL;
	const char *w;
	int rc;

	json_object_put(a->video);
	a->video = NULL;
	a->outcome = MSP_APPLIED;
	if ((rc = msp_job_get(a->st, t, a->id, &job, e)) != 0)
		return rc;
	if ((rc = check(a, t, job, e)) != 0) {
		json_object_put(job);
		return rc == 1 ? 0 : rc;
	}
	if ((w = msp_json_sget(a->res, "worker")) != NULL)
		set_str(job, "worker", w);
	if (strcmp(a->status, "progress") == 0) {
		json_object_object_add(job, "progress",
		    json_object_new_int((int)a->percent));
		rc = msp_job_save(a->st, t, job, NULL, e);
		if (rc == 0)
			rc = video_set(a->st, t, a->vid, NULL,
			    (int)a->percent, NULL, NULL, e);
		if (rc == MSP_ENOTFOUND)
			rc = 0;
	} else if (strcmp(a->status, "ready") == 0) {
		rc = ready(a, t, job, e);
	} else {
		rc = attempt_failed(a, t, job, a->why, e);
	}
	json_object_put(job);
	return rc;
}

static int
result_fields(struct apply *a, json_object *r, struct msp_err *e)
{
	const char *w;
	long long n;
	int rc;

	if ((rc = msp_record_check(r, "result", 1, e)) != 0)
		return rc;
	if ((rc = msp_field_str(r, "jobId", 1, 64, 0, &a->id, e)) != 0 ||
	    (rc = msp_field_str(r, "videoId", 1, 64, 0, &a->vid, e)) != 0 ||
	    (rc = msp_field_str(r, "status", 1, 16, 0, &a->status, e)) != 0)
		return rc;
	if (!msp_id_valid(a->id))
		return msp_err_set(e, MSP_EINVAL, "field 'jobId': '%s' is not "
		    "a job id", a->id);
	if (!msp_id_valid(a->vid))
		return msp_err_set(e, MSP_EINVAL, "field 'videoId': '%s' is "
		    "not a video id", a->vid);
	if ((rc = msp_field_int(r, "attempt", 1, 1, 1000000, &n, e)) != 0)
		return rc;
	a->attempt = (int)n;
	if (strcmp(a->status, "failed") == 0) {
		if ((rc = msp_field_str(r, "error", 1, ERROR_MAX * 4,
		    MSP_TEXT_NEWLINES, &a->why, e)) != 0)
			return rc;
	} else if (strcmp(a->status, "progress") == 0) {
		json_object *x;
		if (!json_object_object_get_ex(r, "progress", &x) ||
		    (!json_object_is_type(x, json_type_double) &&
		    !json_object_is_type(x, json_type_int)))
			return msp_err_set(e, MSP_EINVAL, "field 'progress': "
			    "not a number");
		a->percent = json_object_get_double(x);
		if (!(a->percent >= 0 && a->percent < 100))
			a->percent = 99;
	} else if (strcmp(a->status, "ready") != 0) {
		return msp_err_set(e, MSP_EINVAL, "field 'status': '%s' is not "
		    "ready, failed or progress", a->status);
	}
	if (json_object_object_get_ex(r, "worker", NULL) &&
	    (rc = msp_field_str(r, "worker", 1, 200, 0, &w, e)) != 0)
		return rc;
	return 0;
}

int
msp_dispatch_apply(struct msp_store *st, const struct msp_dispatch_opts *o,
    json_object *result, int *outcome, json_object **video,
    struct msp_err *e)
{
	struct apply a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.st = st;
	a.o = o;
	a.res = result;
	*outcome = MSP_APPLIED;
	if (video != NULL)
		*video = NULL;
	if ((rc = result_fields(&a, result, e)) != 0)
		return rc;
	rc = msp_store_write(st, apply_txn, &a, e);
	if (rc == 0) {
		*outcome = a.outcome;
		if (video != NULL) {
			*video = a.video;
			a.video = NULL;
		}
	}
	json_object_put(a.video);
	return rc;
}

/* ---- lost workers ----------------------------------------------------- */

static int
retry_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct apply *a = arg;
	json_object *job = NULL, *d, *x, *v = NULL;
	const char *state;
	int rc;

	json_object_put(a->line);
	json_object_put(a->video);
	a->line = a->video = NULL;
	a->dead = 0;
	if ((rc = msp_job_get(a->st, t, a->id, &job, e)) != 0)
		return rc;
	d = dispatch_of(job);
	state = msp_json_sget(job, "state");
	if (d == NULL || ifield(d, "attempt") != a->attempt ||
	    a->attempt <= ifield(job, "resolved") || state == NULL ||
	    strcmp(state, "running") != 0)
		goto out; /* stale: a later attempt, or resolved */
	a->vid = msp_json_sget(job, "videoId");
	json_object_object_add(job, "resolved",
	    json_object_new_int(a->attempt));
	if (tries(job) >= a->o->attempts) {
		a->dead = 1;
		rc = dead_letter(a, t, job, a->why, e);
		goto out;
	}
	json_object_object_add(job, "attempts",
	    json_object_new_int64(ifield(job, "attempts") + 1));
	set_str(job, "error", a->why);
	if ((rc = new_attempt(a->st, t, a->o, job, e)) != 0)
		goto out;
	rc = msp_video_get(a->st, t, a->vid, &v, e);
	if (rc == 0)
		rc = make_line(a->st, a->o, job, v, &a->line, e);
	if (rc == MSP_ENOTFOUND || rc == MSP_EINVAL) {
		x = NULL;
		a->dead = 1;
		rc = dead_letter(a, t, job, e->msg, e);
		(void)x;
	}
out:
	json_object_put(v);
	json_object_put(job);
	return rc;
}

int
msp_dispatch_retry(struct msp_store *st, const struct msp_dispatch_opts *o,
    const char *job_id, int attempt, const char *why, json_object **line,
    int *dead, struct msp_err *e)
{
	struct apply a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.st = st;
	a.o = o;
	a.id = job_id;
	a.attempt = attempt;
	a.why = why;
	*line = NULL;
	*dead = 0;
	if (!msp_id_valid(job_id))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a job id", job_id);
	rc = msp_store_write(st, retry_txn, &a, e);
	json_object_put(a.video);
	if (rc != 0) {
		json_object_put(a.line);
		return rc;
	}
	*line = a.line;
	*dead = a.dead;
	return 0;
}

/* ---- reading ---------------------------------------------------------- */

struct walk {
	struct msp_store *st;
	MDB_txn *t;
	const char *via;
	json_object *arr;
};

static int
each_job(struct msp_store *st, MDB_txn *t,
    int (*fn)(json_object *job, void *arg, struct msp_err *e), void *arg,
    struct msp_err *e)
{
	MDB_cursor *c;
	MDB_val k, v;
	json_object *j;
	int rc = 0, mrc;

	if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_JOBS), &c)) !=
	    0)
		return msp_store_mdb_err(mrc, "jobs", e);
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((j = msp_json_parse(v.mv_data, v.mv_size)) == NULL)
			continue;
		rc = fn(j, arg, e);
		json_object_put(j);
	}
	mdb_cursor_close(c);
	if (rc == 0 && mrc != MDB_NOTFOUND)
		rc = msp_store_mdb_err(mrc, "jobs", e);
	return rc;
}

static int
inflight_fn(json_object *job, void *arg, struct msp_err *e)
{
	struct walk *w = arg;
	json_object *d = dispatch_of(job);
	const char *s = msp_json_sget(job, "state");
	const char *via = d ? msp_json_sget(d, "via") : NULL;

	(void)e;
	if (d != NULL && s != NULL && strcmp(s, "running") == 0 &&
	    via != NULL && strcmp(via, w->via) == 0 &&
	    ifield(d, "attempt") > ifield(job, "resolved"))
		json_object_array_add(w->arr, json_object_get(job));
	return 0;
}

int
msp_dispatch_inflight(struct msp_store *st,
    const struct msp_dispatch_opts *o, json_object **jobs, struct msp_err *e)
{
	struct walk w = { st, NULL, o->via, NULL };
	int rc;

	*jobs = NULL;
	if ((w.arr = json_object_new_array()) == NULL)
		return oom(e);
	if ((rc = msp_txn_begin(st, 0, &w.t, e)) != 0) {
		json_object_put(w.arr);
		return rc;
	}
	rc = each_job(st, w.t, inflight_fn, &w, e);
	msp_txn_abort(st, w.t);
	if (rc != 0) {
		json_object_put(w.arr);
		return rc;
	}
	*jobs = w.arr;
	return 0;
}

struct requeue {
	struct msp_store *st;
	const char *id;
};

static int
requeue_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct requeue *r = arg;
	json_object *job;
	const char *s;
	int rc;

	if ((rc = msp_job_get(r->st, t, r->id, &job, e)) != 0)
		return rc;
	s = msp_json_sget(job, "state");
	if (s == NULL || strcmp(s, "failed") != 0) {
		rc = msp_err_set(e, MSP_EPERM, "job %s: %s, not failed", r->id,
		    s ? s : "?");
		goto out;
	}
	/* the tries count again from here; attempt numbers go on, so the
	 * results of the old ones stay stale */
	json_object_object_add(job, "attemptsBase", json_object_new_int64(
	    ifield(job, "attempts")));
	json_object_object_del(job, "deadLetter");
	set_str(job, "worker", NULL);
	set_str(job, "leaseUntil", NULL);
	if ((rc = msp_job_save(r->st, t, job, "queued", e)) == 0)
		rc = video_set(r->st, t, msp_json_sget(job, "videoId"),
		    "uploaded", 0, NULL, NULL, e);
out:
	json_object_put(job);
	return rc;
}

int
msp_dispatch_requeue(struct msp_store *st, const char *job_id,
    struct msp_err *e)
{
	struct requeue r = { st, job_id };

	if (!msp_id_valid(job_id))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a job id",
		    job_id ? job_id : "");
	return msp_store_write(st, requeue_txn, &r, e);
}

struct status {
	int (*fn)(json_object *line, void *arg);
	void *arg;
};

static int
status_fn(json_object *job, void *arg, struct msp_err *e)
{
	struct status *s = arg;
	const char *st = msp_json_sget(job, "state");
	json_object *l, *d = dispatch_of(job);
	static const char *const keep[] = { "id", "videoId", "state",
	    "attempts", "worker", "progress", "error", "leaseUntil",
	    "deadLetter", "updatedAt", NULL };
	int i, rc;

	(void)e;
	if (st == NULL || (strcmp(st, "running") != 0 &&
	    strcmp(st, "failed") != 0))
		return 0;
	if ((l = json_object_new_object()) == NULL)
		return MSP_ENOMEM;
	set_str(l, "type", "job");
	json_object_object_add(l, "v", json_object_new_int(1));
	for (i = 0; keep[i] != NULL; i++) {
		json_object *x;
		if (json_object_object_get_ex(job, keep[i], &x))
			json_object_object_add(l, keep[i], json_object_get(x));
	}
	if (d != NULL)
		json_object_object_add(l, "via", json_object_get(
		    json_object_object_get(d, "via")));
	rc = s->fn(l, s->arg);
	json_object_put(l);
	return rc;
}

int
msp_dispatch_status(struct msp_store *st,
    int (*fn)(json_object *line, void *arg), void *arg, struct msp_err *e)
{
	static const char *const states[] = { "queued", "running", "done",
	    "failed", NULL };
	struct status s = { fn, arg };
	json_object *l;
	MDB_txn *t;
	long n;
	int i, rc = 0;

	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		return rc;
	for (i = 0; rc == 0 && states[i] != NULL; i++) {
		if ((n = msp_job_count(st, t, states[i], e)) < 0) {
			rc = (int)n;
			break;
		}
		if ((l = json_object_new_object()) == NULL) {
			rc = oom(e);
			break;
		}
		set_str(l, "type", "queue");
		json_object_object_add(l, "v", json_object_new_int(1));
		set_str(l, "state", states[i]);
		json_object_object_add(l, "jobs", json_object_new_int64(n));
		rc = fn(l, arg);
		json_object_put(l);
	}
	if (rc == 0)
		rc = each_job(st, t, status_fn, &s, e);
	msp_txn_abort(st, t);
	return rc;
}
