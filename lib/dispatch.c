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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "blob.h"
#include "caption.h"
#include "catalog.h"
#include "dash.h"
#include "dispatch.h"
#include "jobs.h"
#include "jsonl.h"
#include "transcode.h"
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

/* Write a stitched playlist into the store's media (a directory or a
 * bucket, as lib/blob has it). */
static int
store_put(struct msp_store *st, const char *key, const char *data,
    size_t len, struct msp_err *e)
{
	struct msp_blob *b;
	int rc;

	if ((rc = msp_blob_store(st, &b, e)) != 0)
		return rc;
	return msp_blob_put(b, key, data, len, 0, e);
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
    int chunk, char out[65], struct msp_err *e)
{
	unsigned char key[crypto_auth_KEYBYTES], mac[crypto_auth_BYTES];
	char msg[128];
	int rc;

	if ((rc = key_get(st, key, e)) != 0)
		return rc;
	if (chunk >= 0)
		snprintf(msg, sizeof(msg), "%.64s:%d:%d", job_id, attempt,
		    chunk);
	else
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

static json_object *
chunks_of(json_object *job)
{
	json_object *c;

	if (json_object_object_get_ex(job, "chunks", &c) &&
	    json_object_is_type(c, json_type_array))
		return c;
	return NULL;
}

/* segment j's start on the grid (seconds) */
static double
grid_at(double seg, long j)
{
	double first = seg < 1 ? seg : 1;

	return j == 0 ? 0 : first + (double)(j - 1) * seg;
}

/* The encoder settings of job, fixed at its first dispatch, so that every
 * chunk and attempt is encoded alike; and its chunks, when its video is a
 * long one of more than 1.5 chunks (o->chunk seconds each, whole
 * segments, the last one to the end). */
static int
plan(const struct msp_dispatch_opts *o, json_object *job, json_object *v,
    struct msp_err *e)
{
	json_object *enc, *d, *x, *arr, *c;
	const char *type = msp_json_sget(v, "videoType");
	double dur = 0, seg = o->tc->segment, st, en;
	char *lad;
	long m, i;

	if (json_object_object_get_ex(job, "encode", &enc))
		return 0;
	if ((enc = json_object_new_object()) == NULL ||
	    (lad = ladder_str(&o->tc->ladder)) == NULL) {
		json_object_put(enc);
		return oom(e);
	}
	set_str(enc, "ladder", lad);
	free(lad);
	set_str(enc, "format", o->tc->format == MSP_TC_TS ? "ts" : "fmp4");
	json_object_object_add(enc, "segment", json_object_new_double(seg));
	set_str(enc, "preset", o->tc->preset);
	json_object_object_add(job, "encode", enc);
	if (json_object_object_get_ex(v, "destinationVideoDetails", &d) &&
	    json_object_object_get_ex(d, "duration", &x))
		dur = json_object_get_double(x);
	if (o->chunk <= 0 || type == NULL || strcmp(type, "long") != 0 ||
	    !json_object_object_get_ex(d, "video", NULL) ||
	    dur <= 1.5 * o->chunk)
		return 0;
	if ((m = lround(o->chunk / seg)) < 1)
		m = 1;
	if ((arr = json_object_new_array()) == NULL)
		return oom(e);
	for (i = 0;; i++) {
		st = grid_at(seg, i * m);
		en = grid_at(seg, (i + 1) * m);
		if (en >= dur - o->chunk / 2)
			en = 0; /* the last one, to the end */
		if ((c = json_object_new_object()) == NULL) {
			json_object_put(arr);
			return oom(e);
		}
		json_object_object_add(c, "index", json_object_new_int64(i));
		json_object_object_add(c, "start", json_object_new_double(st));
		json_object_object_add(c, "end", json_object_new_double(en));
		json_object_object_add(c, "firstSegment",
		    json_object_new_int64(i * m));
		json_object_object_add(c, "done", json_object_new_int(0));
		json_object_array_add(arr, c);
		if (en == 0)
			break;
	}
	json_object_object_add(job, "chunks", arr);
	return 0;
}

/* The job line of job (attempt: its dispatch's) for video v; chunk is
 * the chunk's record, or NULL. */
static int
make_line(struct msp_store *st, json_object *job, json_object *v,
    json_object *chunk, json_object **out, struct msp_err *e)
{
	static const char *const keys[] = { "ladder", "format", "segment",
	    "preset", NULL };
	const char *id = msp_json_sget(job, "id");
	const char *vid = msp_json_sget(job, "videoId");
	const char *src = msp_json_sget(v, "sourceBucketFilePath");
	int attempt = (int)ifield(dispatch_of(job), "attempt");
	json_object *l, *enc, *x, *c;
	char tok[65], *outp;
	int rc, i;

	*out = NULL;
	if (src == NULL || strncmp(src, "media/", 6) != 0 ||
	    !msp_blob_rel_ok(src))
		return msp_err_set(e, MSP_EINVAL, "video %s: no "
		    "sourceBucketFilePath under media/", vid);
	if ((rc = msp_dispatch_token(st, id, attempt, chunk ?
	    (int)ifield(chunk, "index") : -1, tok, e)) != 0)
		return rc;
	outp = msp_sprintf("hls/%s", vid);
	l = json_object_new_object();
	if (outp == NULL || l == NULL) {
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
	if (json_object_object_get_ex(job, "encode", &enc))
		for (i = 0; keys[i] != NULL; i++)
			if (json_object_object_get_ex(enc, keys[i], &x))
				json_object_object_add(l, keys[i],
				    json_object_get(x));
	if (chunk != NULL && (c = json_object_new_object()) != NULL) {
		static const char *const ck[] = { "index", "start", "end",
		    "firstSegment", NULL };
		for (i = 0; ck[i] != NULL; i++)
			json_object_object_add(c, ck[i], json_object_get(
			    json_object_object_get(chunk, ck[i])));
		json_object_object_add(c, "count", json_object_new_int((int)
		    json_object_array_length(chunks_of(job))));
		json_object_object_add(l, "chunk", c);
	}
	sodium_memzero(tok, sizeof(tok));
	free(outp);
	*out = l;
	return 0;
}

/* The lines of job: one, or one per chunk not done (only: that chunk). */
static int
make_lines(struct msp_store *st, json_object *job, json_object *v,
    int only, json_object **out, struct msp_err *e)
{
	json_object *arr, *cs = chunks_of(job), *l, *c;
	size_t i;
	int rc = 0;

	*out = NULL;
	if ((arr = json_object_new_array()) == NULL)
		return oom(e);
	for (i = 0; rc == 0 && i < (cs ? json_object_array_length(cs) : 1);
	    i++) {
		c = cs ? json_object_array_get_idx(cs, i) : NULL;
		if (c != NULL && (ifield(c, "done") > 0 ||
		    (only >= 0 && (int)i != only)))
			continue;
		if ((rc = make_line(st, job, v, c, &l, e)) == 0)
			json_object_array_add(arr, l);
	}
	if (rc != 0) {
		json_object_put(arr);
		return rc;
	}
	*out = arr;
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
	/* held by a worker elsewhere, not by this process: its lease is
	 * the only word on it (lib/jobs.c takes over a dead holder's jobs) */
	json_object_object_del(job, "holder");
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
			rc = make_lines(n->st, job, v, -1, &n->line, &ve);
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
		if ((rc = plan(n->o, job, v, e)) != 0 ||
		    (rc = new_attempt(n->st, t, n->o, job, e)) != 0 ||
		    (rc = make_lines(n->st, job, v, -1, &n->line, e)) != 0 ||
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
	(void)o;
	if (rc == 0)
		rc = make_lines(st, job, v, -1, line, e);
	json_object_put(v);
	return rc;
}

struct note {
	struct msp_store *st;
	const char *id, *entry;
	int attempt, chunk;
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
	if (n->chunk >= 0 && chunks_of(job) != NULL && (size_t)n->chunk <
	    json_object_array_length(chunks_of(job))) {
		set_str(json_object_array_get_idx(chunks_of(job),
		    (size_t)n->chunk), "entry", n->entry);
		rc = msp_job_save(n->st, t, job, NULL, e);
	} else if (d != NULL && ifield(d, "attempt") == n->attempt) {
		set_str(d, "entry", n->entry);
		rc = msp_job_save(n->st, t, job, NULL, e);
	}
	json_object_put(job);
	return rc;
}

int
msp_dispatch_note(struct msp_store *st, const char *job_id, int attempt,
    int chunk, const char *entry, struct msp_err *e)
{
	struct note n = { st, job_id, entry, attempt, chunk };

	return msp_store_write(st, note_txn, &n, e);
}

/* ---- results --------------------------------------------------------- */

struct apply {
	struct msp_store *st;
	const struct msp_dispatch_opts *o;
	json_object *res;
	const char *id, *vid, *status, *why;
	int attempt, chunk;
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

static json_object *
copy(json_object *o)
{
	return json_tokener_parse(json_object_to_json_string(o));
}

/* A variant playlist and the master of a chunked job's output, from the
 * chunks' segments, and for fMP4 the DASH manifest; *det (caller puts)
 * the details of the whole. */
static int
stitch(struct apply *a, json_object *job, json_object **det,
    struct msp_err *e)
{
	json_object *cs = chunks_of(job), *d0, *lad, *r, *cl, *sg, *x;
	struct msp_hls_stream sm[MSP_LADDER_MAX];
	char uris[MSP_LADDER_MAX][48], *pl = NULL, *rel = NULL, *m = NULL;
	struct msp_hls_seg *rsegs[MSP_LADDER_MAX] = { NULL }, *segs;
	struct msp_dash_rep dr[MSP_LADDER_MAX];
	size_t nc = json_object_array_length(cs), i, k, n, cap;
	double segl, total = 0;
	const char *fmt;
	int rc = 0, nr, ts;

	*det = NULL;
	d0 = json_object_object_get(json_object_array_get_idx(cs, 0),
	    "details");
	if ((*det = copy(d0)) == NULL)
		return oom(e);
	ts = strcmp(msp_json_sget(*det, "format"), "ts") == 0;
	fmt = ts ? "seg%05d.ts" : "seg%05d.m4s";
	segl = json_object_get_double(json_object_object_get(*det,
	    "segment"));
	lad = json_object_object_get(*det, "ladder");
	nr = (int)json_object_array_length(lad);
	for (k = 0; rc == 0 && k < (size_t)nr && k < MSP_LADDER_MAX; k++) {
		r = json_object_array_get_idx(lad, k);
		segs = NULL;
		cap = 0;
		for (n = 0, i = 0; rc == 0 && i < nc; i++) {
			size_t j;
			cl = json_object_array_get_idx(json_object_object_get(
			    json_object_array_get_idx(cs, i), "ladder"), k);
			sg = json_object_object_get(cl, "segs");
			for (j = 0; sg != NULL && json_object_is_type(sg,
			    json_type_array) && j < json_object_array_length(sg);
			    j++) {
				x = json_object_array_get_idx(sg, j);
				if (msp_grow(&segs, &cap, n + 1, sizeof(*segs),
				    64) != 0) {
					rc = oom(e);
					break;
				}
				rsegs[k] = segs;
				segs[n].dur = json_object_get_double(
				    json_object_array_get_idx(x, 0));
				segs[n].bytes = json_object_get_int64(
				    json_object_array_get_idx(x, 1));
				n++;
			}
		}
		if (rc != 0)
			break;
		free(pl);
		free(rel);
		pl = msp_hls_variant(segs, (int)n, msp_hls_target(segs, (int)n,
		    segl), fmt, ts ? NULL : "init.mp4", 0);
		rel = msp_sprintf("media/hls/%s/%s/index.m3u8", a->vid,
		    msp_json_sget(r, "name"));
		if (pl == NULL || rel == NULL) {
			rc = oom(e);
			break;
		}
		if ((rc = store_put(a->st, rel, pl, strlen(pl), e)) != 0)
			break;
		msp_hls_rates(segs, (int)n, &sm[k].bandwidth,
		    &sm[k].avg_bandwidth);
		json_object_object_add(r, "bandwidth",
		    json_object_new_int64(sm[k].bandwidth));
		json_object_object_add(r, "averageBandwidth",
		    json_object_new_int64(sm[k].avg_bandwidth));
		json_object_object_add(r, "segments", json_object_new_int(
		    (int)n));
		json_object_object_del(r, "segs");
		if (k == 0)
			for (i = 0; i < n; i++)
				total += segs[i].dur;
		snprintf(uris[k], sizeof(uris[k]), "%s/index.m3u8",
		    msp_json_sget(r, "name"));
		sm[k].w = (int)ifield(r, "width");
		sm[k].h = (int)ifield(r, "height");
		sm[k].fps = json_object_get_double(json_object_object_get(*det,
		    "fps"));
		sm[k].codecs = msp_json_sget(r, "codecs");
		sm[k].uri = uris[k];
		dr[k].id = msp_json_sget(r, "name");
		dr[k].bandwidth = sm[k].bandwidth;
		dr[k].w = sm[k].w;
		dr[k].h = sm[k].h;
		dr[k].fps = sm[k].w > 0 ? sm[k].fps : 0;
		dr[k].codecs = sm[k].codecs;
		dr[k].segs = segs;
		dr[k].nseg = (int)n;
	}
	if (rc == 0) {
		json_object_object_add(*det, "duration", json_object_new_double(
		    round(total * 1000) / 1000));
		json_object_object_add(*det, "chunks", json_object_new_int(
		    (int)nc));
		free(rel);
		rel = msp_sprintf("media/hls/%s/master.m3u8", a->vid);
		if ((m = msp_hls_master(sm, nr)) == NULL || rel == NULL)
			rc = oom(e);
		else
			rc = store_put(a->st, rel, m, strlen(m), e);
	}
	if (rc == 0 && !ts && nr <= MSP_LADDER_MAX) {
		/* chunks keep their timestamps CHUNK_OFFSET_MS after the
		 * video's */
		struct msp_dash_opts o = { 0, 0, 0, segl,
		    MSP_TC_CHUNK_OFFSET_MS / 1000.0, 0 };
		free(rel);
		free(m);
		m = NULL;
		rel = msp_sprintf("media/hls/%s/manifest.mpd", a->vid);
		if (rel == NULL)
			rc = oom(e);
		else if ((rc = msp_dash_mpd(dr, nr, &o, &m, e)) == 0)
			rc = store_put(a->st, rel, m, strlen(m), e);
	}
	for (k = 0; k < MSP_LADDER_MAX; k++)
		free(rsegs[k]);
	free(pl);
	free(rel);
	free(m);
	if (rc != 0) {
		json_object_put(*det);
		*det = NULL;
	}
	return rc;
}

/* A chunk is in: keep its segments; the last one makes the video. */
static int
chunk_ready(struct apply *a, MDB_txn *t, json_object *job,
    json_object *det, struct msp_err *e)
{
	json_object *cs = chunks_of(job), *c, *whole = NULL, *v = NULL;
	json_object *ch = NULL;
	char *rel;
	size_t i, done = 0, n = json_object_array_length(cs);
	int rc;

	c = json_object_array_get_idx(cs, (size_t)a->chunk);
	json_object_object_add(c, "done", json_object_new_int(a->attempt));
	if (a->chunk == 0)
		json_object_object_add(c, "details", copy(det));
	json_object_object_add(c, "ladder", copy(json_object_object_get(det,
	    "ladder")));
	for (i = 0; i < n; i++)
		if (ifield(json_object_array_get_idx(cs, i), "done") > 0)
			done++;
	if (done < n) {
		json_object_object_add(job, "progress", json_object_new_int(
		    (int)(100 * done / n)));
		if ((rc = msp_job_save(a->st, t, job, NULL, e)) == 0)
			rc = video_set(a->st, t, a->vid, NULL,
			    (int)(100 * done / n), NULL, NULL, e);
		return rc;
	}
	if ((rc = stitch(a, job, &whole, e)) != 0)
		return rc;
	if ((rel = msp_sprintf("media/hls/%s", a->vid)) == NULL) {
		json_object_put(whole);
		return oom(e);
	}
	if ((rc = msp_video_get(a->st, t, a->vid, &v, e)) == 0 &&
	    (rc = msp_tc_ready_changes(v, whole, rel, &ch, e)) == 0)
		rc = msp_video_update(a->st, t, a->vid, ch, &a->video, e);
	else if (rc != 0 && v == NULL)
		json_object_put(whole);
	if (rc == 0) {
		json_object_object_add(job, "resolved",
		    json_object_new_int(a->attempt));
		json_object_object_add(job, "progress",
		    json_object_new_int(100));
		set_str(job, "leaseUntil", NULL);
		set_str(job, "error", NULL);
		rc = msp_job_save(a->st, t, job, "done", e);
	}
	json_object_put(v);
	json_object_put(ch);
	free(rel);
	return rc;
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
	if (a->chunk >= 0) {
		rc = chunk_ready(a, t, job, det, e);
		json_object_put(det);
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
	json_object *d = dispatch_of(job), *cs = chunks_of(job);
	char want[65];
	int rc;

	(void)t;
	if (jv == NULL || strcmp(jv, a->vid) != 0)
		return msp_err_set(e, MSP_EINVAL, "job %s is for video %s, "
		    "not %s", a->id, jv ? jv : "?", a->vid);
	if (d == NULL || a->attempt < 1 || a->attempt > ifield(d, "attempt"))
		return msp_err_set(e, MSP_EPERM, "job %s: attempt %d was never "
		    "dispatched", a->id, a->attempt);
	if ((cs != NULL) != (a->chunk >= 0) || (cs != NULL &&
	    (size_t)a->chunk >= json_object_array_length(cs)))
		return msp_err_set(e, MSP_EINVAL, "job %s: no chunk %d", a->id,
		    a->chunk);
	if ((rc = msp_dispatch_token(a->st, a->id, a->attempt, a->chunk, want,
	    e)) != 0)
		return rc;
	if (tok == NULL || strlen(tok) != 64 ||
	    sodium_memcmp(tok, want, 64) != 0) {
		sodium_memzero(want, sizeof(want));
		return msp_err_set(e, MSP_EPERM, "job %s: attempt %d: the "
		    "token does not match (a forged result, or one for another "
		    "store)", a->id, a->attempt);
	}
	sodium_memzero(want, sizeof(want));
	if (cs != NULL) { /* any attempt's chunk counts, once */
		if (ifield(json_object_array_get_idx(cs, (size_t)a->chunk),
		    "done") > 0) {
			a->outcome = MSP_APPLY_DUP;
			return 1;
		}
		if (a->attempt <= ifield(job, "resolved") || state == NULL ||
		    strcmp(state, "running") != 0) {
			a->outcome = MSP_APPLY_STALE;
			return 1;
		}
		return 0;
	}
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
	a->chunk = -1;
	rc = msp_field_int(r, "chunk", 0, 0, 100000, &n, e);
	if (rc == 0)
		a->chunk = (int)n;
	else if (rc != MSP_ENOTFOUND)
		return rc;
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
	/* a video just made ready: its captions join the HLS output */
	if (rc == 0 && a.video != NULL &&
	    json_object_object_get_ex(a.video, "captions", NULL))
		rc = msp_caption_publish(st, a.video, e);
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
	json_object *job = NULL, *d, *x, *v = NULL, *cs;
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
	cs = chunks_of(job);
	if (d == NULL || a->attempt <= ifield(job, "resolved") ||
	    state == NULL || strcmp(state, "running") != 0)
		goto out; /* resolved */
	if (cs == NULL ? ifield(d, "attempt") != a->attempt :
	    a->chunk < 0 || (size_t)a->chunk >= json_object_array_length(cs) ||
	    ifield(json_object_array_get_idx(cs, (size_t)a->chunk), "done") >
	    0 || a->attempt > ifield(d, "attempt"))
		goto out; /* stale: a later attempt, or the chunk is in */
	a->vid = msp_json_sget(job, "videoId");
	if (cs == NULL)
		json_object_object_add(job, "resolved",
		    json_object_new_int(a->attempt));
	if (tries(job) >= a->o->attempts) {
		json_object_object_add(job, "resolved",
		    json_object_new_int(ifield(d, "attempt")));
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
		rc = make_lines(a->st, job, v, a->chunk, &a->line, e);
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
    const char *job_id, int attempt, int chunk, const char *why,
    json_object **line, int *dead, struct msp_err *e)
{
	struct apply a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.st = st;
	a.o = o;
	a.id = job_id;
	a.attempt = attempt;
	a.chunk = chunk;
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
