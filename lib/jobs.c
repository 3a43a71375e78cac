/*
 * jobs: the durable transcode queue.
 *
 * Records live in MSP_DB_JOBS (job id -> job). MSP_DB_JOB_IDX is derived
 * and holds two kinds of empty-valued keys:
 *   "s" NUL state NUL job-id      every job by state (ids sort by age)
 *   "v" NUL video-id NUL job-id   every job of a video
 * Both are written in the same transaction as the record, and rebuilt by
 * msp_job_import.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "jobs.h"
#include "jsonl.h"
#include "util.h"

#define WORKER_MAX 200  /* characters in a worker name */
/* A job whose lease ran out this many times (its worker crashed or was
 * killed on every try) is not claimed again by msp_job_claim: it fails,
 * and so does its video. msp_job_claim_video still retries it. */
#define ATTEMPTS_MAX 3
#define ERROR_MAX 2000  /* characters kept of a failure reason */

static int
not_job_id(const char *id, struct msp_err *e)
{
	return msp_err_set(e, MSP_EINVAL, "'%s': not a job id", id ? id : "");
}

static const char *const states[] = { "queued", "running", "done", "failed",
    NULL };

static int
state_ok(const char *s)
{
	int i;

	for (i = 0; states[i] != NULL; i++)
		if (strcmp(s, states[i]) == 0)
			return 1;
	return 0;
}

/* "tag\0a\0b" into k; returns its length */
static size_t
idx_key(char *k, size_t cap, char tag, const char *a, const char *b)
{
	size_t na = strlen(a), nb = b ? strlen(b) : 0, n = 0;

	if (3 + na + nb > cap)
		return 0;
	k[n++] = tag;
	k[n++] = '\0';
	memcpy(k + n, a, na);
	n += na;
	k[n++] = '\0';
	if (b != NULL) {
		memcpy(k + n, b, nb);
		n += nb;
	}
	return n;
}

static const char *
sfield(json_object *o, const char *f)
{
	json_object *x;

	if (json_object_object_get_ex(o, f, &x) &&
	    json_object_is_type(x, json_type_string))
		return json_object_get_string(x);
	return NULL;
}

static int
idx_put(struct msp_store *st, MDB_txn *t, const char *state,
    const char *vid, const char *id, struct msp_err *e)
{
	char k[512];
	size_t n;
	int rc;

	if ((n = idx_key(k, sizeof(k), 's', state, id)) == 0)
		return msp_err_set(e, MSP_EINVAL, "job %s: key too long", id);
	if ((rc = msp_db_put(st, t, MSP_DB_JOB_IDX, k, n, "", 0, 0, e)) != 0)
		return rc;
	if ((n = idx_key(k, sizeof(k), 'v', vid, id)) == 0)
		return msp_err_set(e, MSP_EINVAL, "job %s: key too long", id);
	return msp_db_put(st, t, MSP_DB_JOB_IDX, k, n, "", 0, 0, e);
}

static int
idx_del_state(struct msp_store *st, MDB_txn *t, const char *state,
    const char *id, struct msp_err *e)
{
	char k[512];
	size_t n;
	int rc;

	if ((n = idx_key(k, sizeof(k), 's', state, id)) == 0)
		return 0;
	rc = msp_db_del(st, t, MSP_DB_JOB_IDX, k, n, e);
	return rc == MSP_ENOTFOUND ? 0 : rc;
}

/*
 * Walk the index entries that start with prefix (tag, a), calling fn with
 * the trailing id. fn returns 0 to go on, 1 to stop, or an error.
 */
typedef int (*idx_fn)(const char *id, void *arg, struct msp_err *e);

static int
idx_scan(struct msp_store *st, MDB_txn *t, char tag, const char *a,
    idx_fn fn, void *arg, struct msp_err *e)
{
	MDB_cursor *c;
	MDB_val k, v;
	char pre[512], id[512];
	size_t pn;
	int rc, mrc;

	if ((pn = idx_key(pre, sizeof(pre), tag, a, NULL)) == 0)
		return 0;
	if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_JOB_IDX), &c))
	    != 0)
		return msp_store_mdb_err(mrc, "job_index", e);
	k.mv_data = pre;
	k.mv_size = pn;
	rc = 0;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		size_t n;

		if (k.mv_size < pn || memcmp(k.mv_data, pre, pn) != 0)
			break;
		n = k.mv_size - pn;
		if (n >= sizeof(id))
			continue;
		memcpy(id, (char *)k.mv_data + pn, n);
		id[n] = '\0';
		if ((rc = fn(id, arg, e)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc == 1)
		rc = 0;
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = msp_store_mdb_err(mrc, "job_index", e);
	return rc;
}

static json_object *
job_new(const char *id, const char *video_id)
{
	json_object *o;
	char now[MSP_TIME_LEN + 1];

	msp_time_fmt(msp_now_ms(), now);
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "type", json_object_new_string("job"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "videoId", json_object_new_string(video_id));
	json_object_object_add(o, "state", json_object_new_string("queued"));
	json_object_object_add(o, "attempts", json_object_new_int(0));
	json_object_object_add(o, "worker", NULL);
	json_object_object_add(o, "leaseUntil", NULL);
	json_object_object_add(o, "error", NULL);
	json_object_object_add(o, "createdAt", json_object_new_string(now));
	json_object_object_add(o, "updatedAt", json_object_new_string(now));
	return o;
}

static int
job_put(struct msp_store *st, MDB_txn *t, json_object *job,
    struct msp_err *e)
{
	const char *id = sfield(job, "id");

	return msp_db_put_json(st, t, MSP_DB_JOBS, id, strlen(id), job, e);
}

/* Move job to state (index and record), setting updatedAt. */
static int
job_set_state(struct msp_store *st, MDB_txn *t, json_object *job,
    const char *state, struct msp_err *e)
{
	const char *id = sfield(job, "id"), *vid = sfield(job, "videoId");
	const char *old = sfield(job, "state");
	char now[MSP_TIME_LEN + 1];
	int rc;

	if (id == NULL || vid == NULL || old == NULL)
		return msp_err_set(e, MSP_ESTORE, "jobs: corrupt record");
	if ((rc = idx_del_state(st, t, old, id, e)) != 0)
		return rc;
	/* old points into job: take the index change first, then the field */
	json_object_object_add(job, "state", json_object_new_string(state));
	msp_time_fmt(msp_now_ms(), now);
	json_object_object_add(job, "updatedAt", json_object_new_string(now));
	if ((rc = idx_put(st, t, state, vid, id, e)) != 0)
		return rc;
	return job_put(st, t, job, e);
}

static int
job_load(struct msp_store *st, MDB_txn *t, const char *id, json_object **out,
    struct msp_err *e)
{
	int rc;

	rc = msp_db_get_json(st, t, MSP_DB_JOBS, id, strlen(id), out, e);
	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, MSP_ENOTFOUND, "job %s: no such job", id);
	return rc;
}

/*
 * A lease also names the process that holds it on this machine, as
 * "holder": "BOOT NS PID START" (the kernel's boot id, the process id
 * namespace, the process id and its start time in clock ticks since boot), so that a worker that died
 * (killed, crashed) loses its job at once instead of at the lease's end.
 * A process id used again by another process has another start time.
 */
#define HOLDER_MAX 160

/* This boot's id and the process id namespace, as "BOOT NS", into b;
 * -1 without /proc. */
static int
boot_id(char *b, size_t n)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	char ns[64];
	ssize_t k;
	size_t m;
	int ok;

	if (f == NULL)
		return -1;
	ok = fgets(b, (int)n, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	b[strcspn(b, "\n")] = '\0';
	if ((k = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1)) <= 0)
		return -1;
	ns[k] = '\0';
	m = strlen(b);
	if (m == 0 || strchr(b, ' ') != NULL || strchr(ns, ' ') != NULL ||
	    m + 1 + (size_t)k + 1 > n)
		return -1;
	b[m] = ' ';
	memcpy(b + m + 1, ns, (size_t)k + 1);
	return 0;
}

/* The start time of process pid, and whether it has ended (a zombie);
 * -1 when there is no such process (or no /proc). */
static int
proc_start(long pid, unsigned long long *start, int *ended)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	size_t n;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ..." : the name may hold anything but its end */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -1;
	p += 2;
	*ended = *p == 'Z' || *p == 'X';
	/* start time is field 22; state is field 3 */
	for (i = 3; i < 22 && p != NULL; i++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL || sscanf(p, "%llu", &v) != 1)
		return -1;
	*start = v;
	return 0;
}

/* The calling process as a lease holder, or NULL without /proc. */
static json_object *
holder_self(void)
{
	char boot[128], h[HOLDER_MAX];
	unsigned long long start;
	long pid = (long)getpid();
	int ended;

	if (boot_id(boot, sizeof(boot)) != 0 ||
	    proc_start(pid, &start, &ended) != 0)
		return NULL;
	snprintf(h, sizeof(h), "%s %ld %llu", boot, pid, start);
	return json_object_new_string(h);
}

/* 1 when the job's holder is a process of this boot that is gone. */
static int
holder_gone(json_object *job)
{
	const char *h = sfield(job, "holder");
	char boot[128], hb[64], hn[64], mine[128];
	unsigned long long start, hs;
	long pid;
	int ended;

	if (h == NULL || sscanf(h, "%63s %63s %ld %llu", hb, hn, &pid,
	    &hs) != 4 || pid <= 0 || boot_id(boot, sizeof(boot)) != 0)
		return 0;
	snprintf(mine, sizeof(mine), "%s %s", hb, hn);
	if (strcmp(boot, mine) != 0)
		return 0; /* another machine, boot or container: the lease */
	if (proc_start(pid, &start, &ended) != 0)
		return 1;
	return ended || start != hs;
}

static int
lease_expired(json_object *job, int64_t now)
{
	const char *l = sfield(job, "leaseUntil");
	int64_t ms;

	if (l == NULL || msp_time_parse(l, &ms) != 0)
		return 1;
	return ms <= now || holder_gone(job);
}

/* Take job for worker: running, a fresh lease, one more attempt. */
static int
job_take(struct msp_store *st, MDB_txn *t, json_object *job,
    const char *worker, long lease_ms, struct msp_err *e)
{
	char until[MSP_TIME_LEN + 1];
	json_object *x;
	int64_t attempts = 0;

	if (json_object_object_get_ex(job, "attempts", &x))
		attempts = json_object_get_int64(x);
	json_object_object_add(job, "attempts",
	    json_object_new_int64(attempts + 1));
	json_object_object_add(job, "worker", json_object_new_string(worker));
	msp_time_fmt(msp_now_ms() + lease_ms, until);
	json_object_object_add(job, "leaseUntil",
	    json_object_new_string(until));
	if ((x = holder_self()) != NULL)
		json_object_object_add(job, "holder", x);
	else
		json_object_object_del(job, "holder");
	json_object_object_add(job, "error", NULL);
	return job_set_state(st, t, job, "running", e);
}

static int
check_worker(const char *worker, long lease_ms, struct msp_err *e)
{
	int rc;

	if (worker == NULL || *worker == '\0')
		return msp_err_set(e, MSP_EINVAL, "worker: empty name");
	if ((rc = msp_text_check("worker", worker, WORKER_MAX, 0, e)) != 0)
		return rc;
	if (lease_ms <= 0 || lease_ms > 7L * 24 * 3600 * 1000)
		return msp_err_set(e, MSP_EINVAL, "lease of %ld ms is out of "
		    "range 1 ms to 7 days", lease_ms);
	return 0;
}

/* ---- enqueue -------------------------------------------------------- */

struct find_active {
	struct msp_store *st;
	MDB_txn *t;
	json_object *job;   /* the active job found (owned) */
};

static int
find_active_fn(const char *id, void *arg, struct msp_err *e)
{
	struct find_active *f = arg;
	json_object *j;
	const char *s;
	int rc;

	if ((rc = job_load(f->st, f->t, id, &j, e)) != 0)
		return rc;
	s = sfield(j, "state");
	if (s != NULL && (strcmp(s, "queued") == 0 ||
	    strcmp(s, "running") == 0)) {
		f->job = j;
		return 1;
	}
	json_object_put(j);
	return 0;
}

/* The queued or running job of a video, or NULL. */
static int
active_job(struct msp_store *st, MDB_txn *t, const char *video_id,
    json_object **out, struct msp_err *e)
{
	struct find_active f = { st, t, NULL };
	int rc;

	rc = idx_scan(st, t, 'v', video_id, find_active_fn, &f, e);
	if (rc != 0) {
		json_object_put(f.job);
		return rc;
	}
	*out = f.job;
	return 0;
}

static int
new_job(struct msp_store *st, MDB_txn *t, const char *video_id,
    json_object **out, struct msp_err *e)
{
	char id[MSP_ID_LEN + 1];
	json_object *j;
	int rc;

	*out = NULL;
	if (msp_id_new(id) != 0)
		return msp_err_set(e, MSP_ENOMEM, "cannot make an id");
	if ((j = job_new(id, video_id)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((rc = idx_put(st, t, "queued", video_id, id, e)) != 0 ||
	    (rc = job_put(st, t, j, e)) != 0) {
		json_object_put(j);
		return rc;
	}
	*out = j;
	return 0;
}

int
msp_job_enqueue(struct msp_store *st, MDB_txn *t, const char *video_id,
    json_object **out, struct msp_err *e)
{
	json_object *j = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (!msp_id_valid(video_id))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a video id",
		    video_id ? video_id : "");
	if ((rc = active_job(st, t, video_id, &j, e)) != 0)
		return rc;
	if (j == NULL && (rc = new_job(st, t, video_id, &j, e)) != 0)
		return rc;
	if (out != NULL)
		*out = j;
	else
		json_object_put(j);
	return 0;
}

/* ---- claim ---------------------------------------------------------- */

struct claim {
	struct msp_store *st;
	const char *worker;
	const char *video_id;
	long lease_ms;
	MDB_txn *t;
	json_object *job;   /* result (owned) */
	json_object *lost;  /* jobs to give up on (owned) */
};

/* Fail a job that lost its worker ATTEMPTS_MAX times, and its video. */
static int
give_up(struct msp_store *st, MDB_txn *t, json_object *j, struct msp_err *e)
{
	char why[128];
	json_object *ch;
	int rc;

	snprintf(why, sizeof(why), "given up: the worker was lost on each of "
	    "%d attempts", ATTEMPTS_MAX);
	json_object_object_add(j, "leaseUntil", NULL);
	json_object_object_del(j, "holder");
	json_object_object_add(j, "error", json_object_new_string(why));
	if ((rc = job_set_state(st, t, j, "failed", e)) != 0)
		return rc;
	if ((ch = json_object_new_object()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	json_object_object_add(ch, "status", json_object_new_string("failed"));
	json_object_object_add(ch, "error", json_object_new_string(why));
	rc = msp_video_update(st, t, sfield(j, "videoId"), ch, NULL, e);
	json_object_put(ch);
	return rc == MSP_ENOTFOUND ? 0 : rc;
}

static int
claim_expired_fn(const char *id, void *arg, struct msp_err *e)
{
	struct claim *c = arg;
	json_object *j, *x;
	int rc;

	if ((rc = job_load(c->st, c->t, id, &j, e)) != 0)
		return rc;
	if (!lease_expired(j, msp_now_ms())) {
		json_object_put(j);
		return 0;
	}
	if (json_object_object_get_ex(j, "attempts", &x) &&
	    json_object_get_int64(x) >= ATTEMPTS_MAX) {
		/* failed after the scan: the index is not changed under it */
		if (c->lost == NULL && (c->lost = json_object_new_array()) ==
		    NULL) {
			json_object_put(j);
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		}
		json_object_array_add(c->lost, j);
		return 0;
	}
	c->job = j;
	return 1;
}

static int
claim_first_fn(const char *id, void *arg, struct msp_err *e)
{
	struct claim *c = arg;
	int rc;

	if ((rc = job_load(c->st, c->t, id, &c->job, e)) != 0)
		return rc;
	return 1;
}

static int
claim_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct claim *c = arg;
	size_t i;
	int rc;

	json_object_put(c->job); /* a replay after the map grew */
	json_object_put(c->lost);
	c->job = c->lost = NULL;
	c->t = t;
	/* a job whose worker vanished is older than any queued one */
	rc = idx_scan(c->st, t, 's', "running", claim_expired_fn, c, e);
	for (i = 0; rc == 0 && c->lost != NULL &&
	    i < json_object_array_length(c->lost); i++)
		rc = give_up(c->st, t, json_object_array_get_idx(c->lost, i),
		    e);
	if (rc == 0 && c->job == NULL)
		rc = idx_scan(c->st, t, 's', "queued", claim_first_fn, c, e);
	if (rc != 0)
		return rc;
	if (c->job == NULL)
		return 0; /* commit what was given up; the caller says none */
	return job_take(c->st, t, c->job, c->worker, c->lease_ms, e);
}

int
msp_job_claim_in(struct msp_store *st, MDB_txn *t, const char *worker,
    long lease_ms, json_object **job, struct msp_err *e)
{
	struct claim c = { st, worker, NULL, lease_ms, NULL, NULL, NULL };
	int rc;

	*job = NULL;
	if ((rc = check_worker(worker, lease_ms, e)) != 0)
		return rc;
	rc = claim_txn(t, &c, e);
	json_object_put(c.lost);
	if (rc != 0) {
		json_object_put(c.job);
		return rc;
	}
	if (c.job == NULL)
		return MSP_ENOTFOUND;
	*job = c.job;
	return 0;
}

int
msp_job_save(struct msp_store *st, MDB_txn *t, json_object *job,
    const char *state, struct msp_err *e)
{
	const char *id = sfield(job, "id");

	if (id == NULL || !msp_id_valid(id))
		return not_job_id(id, e);
	if (state != NULL) {
		if (!state_ok(state))
			return msp_err_set(e, MSP_EINVAL, "'%s': not a job "
			    "state", state);
		return job_set_state(st, t, job, state, e);
	}
	return job_put(st, t, job, e);
}

int
msp_job_claim(struct msp_store *st, const char *worker, long lease_ms,
    json_object **job, struct msp_err *e)
{
	struct claim c = { st, worker, NULL, lease_ms, NULL, NULL, NULL };
	int rc;

	*job = NULL;
	if ((rc = check_worker(worker, lease_ms, e)) != 0)
		return rc;
	rc = msp_store_write(st, claim_txn, &c, e);
	json_object_put(c.lost);
	if (rc != 0) {
		json_object_put(c.job);
		return rc;
	}
	if (c.job == NULL)
		return MSP_ENOTFOUND;
	*job = c.job;
	return 0;
}

static int
claim_video_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct claim *c = arg;
	const char *s, *w;
	int rc;

	json_object_put(c->job);
	c->job = NULL;
	if ((rc = active_job(c->st, t, c->video_id, &c->job, e)) != 0)
		return rc;
	if (c->job == NULL)
		rc = new_job(c->st, t, c->video_id, &c->job, e);
	if (rc != 0)
		return rc;
	s = sfield(c->job, "state");
	w = sfield(c->job, "worker");
	if (s != NULL && strcmp(s, "running") == 0 &&
	    !lease_expired(c->job, msp_now_ms()) &&
	    (w == NULL || strcmp(w, c->worker) != 0))
		return msp_err_set(e, MSP_EAGAIN, "video %s: job %s is being "
		    "worked on by %s until %s", c->video_id,
		    sfield(c->job, "id"), w ? w : "?",
		    sfield(c->job, "leaseUntil"));
	return job_take(c->st, t, c->job, c->worker, c->lease_ms, e);
}

int
msp_job_claim_video(struct msp_store *st, const char *video_id,
    const char *worker, long lease_ms, json_object **job, struct msp_err *e)
{
	struct claim c = { st, worker, video_id, lease_ms, NULL, NULL, NULL };
	int rc;

	*job = NULL;
	if (!msp_id_valid(video_id))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a video id",
		    video_id ? video_id : "");
	if ((rc = check_worker(worker, lease_ms, e)) != 0)
		return rc;
	rc = msp_store_write(st, claim_video_txn, &c, e);
	if (rc != 0) {
		json_object_put(c.job);
		return rc;
	}
	*job = c.job;
	return 0;
}

/* ---- renew, finish -------------------------------------------------- */

/* 0 when job id is running for worker */
static int
held(json_object *j, const char *id, const char *worker, struct msp_err *e)
{
	const char *s = sfield(j, "state"), *w = sfield(j, "worker");

	if (s == NULL || strcmp(s, "running") != 0)
		return msp_err_set(e, MSP_EPERM, "job %s: not running (%s)",
		    id, s ? s : "?");
	if (w == NULL || strcmp(w, worker) != 0)
		return msp_err_set(e, MSP_EPERM, "job %s: held by %s, not %s",
		    id, w ? w : "nobody", worker);
	return 0;
}

struct renew {
	struct msp_store *st;
	const char *id;
	const char *worker;
	long lease_ms;
};

static int
renew_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct renew *r = arg;
	char until[MSP_TIME_LEN + 1], now[MSP_TIME_LEN + 1];
	json_object *j;
	int rc;

	if ((rc = job_load(r->st, t, r->id, &j, e)) != 0)
		return rc;
	if ((rc = held(j, r->id, r->worker, e)) == 0) {
		msp_time_fmt(msp_now_ms() + r->lease_ms, until);
		msp_time_fmt(msp_now_ms(), now);
		json_object_object_add(j, "leaseUntil",
		    json_object_new_string(until));
		json_object_object_add(j, "updatedAt",
		    json_object_new_string(now));
		rc = job_put(r->st, t, j, e);
	}
	json_object_put(j);
	return rc;
}

int
msp_job_renew(struct msp_store *st, const char *job_id, const char *worker,
    long lease_ms, struct msp_err *e)
{
	struct renew r = { st, job_id, worker, lease_ms };
	int rc;

	if ((rc = check_worker(worker, lease_ms, e)) != 0)
		return rc;
	if (!msp_id_valid(job_id))
		return not_job_id(job_id, e);
	return msp_store_write(st, renew_txn, &r, e);
}

struct finish {
	struct msp_store *st;
	const char *id;
	const char *error;
};

/* fn in the caller's write txn t, or in one of its own when t is NULL */
static int
in_txn(struct msp_store *st, MDB_txn *t, msp_txn_fn fn, void *arg,
    struct msp_err *e)
{
	return t == NULL ? msp_store_write(st, fn, arg, e) : fn(t, arg, e);
}

static int
finish_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct finish *f = arg;
	json_object *j;
	int rc;

	if ((rc = job_load(f->st, t, f->id, &j, e)) != 0)
		return rc;
	json_object_object_add(j, "leaseUntil", NULL);
	json_object_object_del(j, "holder");
	if (f->error != NULL) {
		/* keep whole UTF-8 characters when cutting a long reason */
		size_t n = strlen(f->error);
		char *cut = NULL;

		if (n > ERROR_MAX) {
			n = ERROR_MAX;
			while (n > 0 && ((unsigned char)f->error[n] & 0xc0) ==
			    0x80)
				n--;
			cut = msp_sprintf("%.*s", (int)n, f->error);
		}
		json_object_object_add(j, "error",
		    json_object_new_string(cut ? cut : f->error));
		free(cut);
	} else {
		json_object_object_add(j, "error", NULL);
	}
	rc = job_set_state(f->st, t, j, f->error ? "failed" : "done", e);
	json_object_put(j);
	return rc;
}

int
msp_job_finish(struct msp_store *st, MDB_txn *t, const char *job_id,
    const char *error, struct msp_err *e)
{
	struct finish f = { st, job_id, error };

	if (!msp_id_valid(job_id))
		return not_job_id(job_id, e);
	if (error != NULL && !msp_utf8_valid(error, strlen(error)))
		return msp_err_set(e, MSP_EINVAL, "job %s: error text is not "
		    "UTF-8", job_id);
	return in_txn(st, t, finish_txn, &f, e);
}

struct release {
	struct msp_store *st;
	const char *id;
	const char *worker;
};

static int
release_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct release *r = arg;
	json_object *j, *x;
	int64_t attempts = 0;
	int rc;

	if ((rc = job_load(r->st, t, r->id, &j, e)) != 0)
		return rc;
	if ((rc = held(j, r->id, r->worker, e)) == 0) {
		/* a clean stop is not a lost worker: the try does not count */
		if (json_object_object_get_ex(j, "attempts", &x))
			attempts = json_object_get_int64(x);
		json_object_object_add(j, "attempts",
		    json_object_new_int64(attempts > 0 ? attempts - 1 : 0));
		json_object_object_add(j, "worker", NULL);
		json_object_object_add(j, "leaseUntil", NULL);
		json_object_object_del(j, "holder");
		json_object_object_add(j, "error", NULL);
		rc = job_set_state(r->st, t, j, "queued", e);
	}
	json_object_put(j);
	return rc;
}

int
msp_job_release(struct msp_store *st, MDB_txn *t, const char *job_id,
    const char *worker, struct msp_err *e)
{
	struct release r = { st, job_id, worker };

	if (!msp_id_valid(job_id))
		return not_job_id(job_id, e);
	if (worker == NULL)
		return msp_err_set(e, MSP_EINVAL, "worker: empty name");
	return in_txn(st, t, release_txn, &r, e);
}

/* ---- reading -------------------------------------------------------- */

static int
count_fn(const char *id, void *arg, struct msp_err *e)
{
	(void)id;
	(void)e;
	(*(long *)arg)++;
	return 0;
}

long
msp_job_count(struct msp_store *st, MDB_txn *t, const char *state,
    struct msp_err *e)
{
	MDB_txn *own = NULL;
	long n = 0;
	int rc;

	if (state == NULL || !state_ok(state))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a job state "
		    "(queued, running, done, failed)", state ? state : "");
	if (t == NULL) {
		if ((rc = msp_txn_begin(st, 0, &own, e)) != 0)
			return rc;
		t = own;
	}
	rc = idx_scan(st, t, 's', state, count_fn, &n, e);
	if (own != NULL)
		msp_txn_abort(st, own);
	return rc != 0 ? rc : n;
}

int
msp_job_get(struct msp_store *st, MDB_txn *t, const char *job_id,
    json_object **out, struct msp_err *e)
{
	MDB_txn *own = NULL;
	int rc;

	*out = NULL;
	if (!msp_id_valid(job_id))
		return msp_err_set(e, MSP_ENOTFOUND, "job %s: no such job",
		    job_id ? job_id : "");
	if (t == NULL) {
		if ((rc = msp_txn_begin(st, 0, &own, e)) != 0)
			return rc;
		t = own;
	}
	rc = job_load(st, t, job_id, out, e);
	if (own != NULL)
		msp_txn_abort(st, own);
	return rc;
}

/* ---- import --------------------------------------------------------- */

static int
opt_str(json_object *rec, const char *f, size_t max, int flags,
    struct msp_err *e)
{
	json_object *x;
	const char *s;
	int rc;

	if (json_object_object_get_ex(rec, f, &x) && x == NULL)
		return 0; /* JSON null */
	rc = msp_field_str(rec, f, 0, max, flags, &s, e);
	return rc == MSP_ENOTFOUND ? 0 : rc;
}

static int
time_field(json_object *rec, const char *f, int required, struct msp_err *e)
{
	const char *s;
	int64_t ms;
	int rc;

	if ((rc = msp_field_str(rec, f, required, 64, 0, &s, e)) != 0)
		return rc == MSP_ENOTFOUND ? 0 : rc;
	if (msp_time_parse(s, &ms) != 0)
		return msp_err_set(e, MSP_EINVAL, "field '%s': '%s' is not an "
		    "RFC 3339 time", f, s);
	return 0;
}

int
msp_job_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *id, *vid, *state;
	long long attempts;
	MDB_val v;
	int rc;

	if ((rc = msp_record_check(rec, "job", 1, e)) != 0)
		return rc;
	if ((rc = msp_field_str(rec, "id", 1, 64, 0, &id, e)) != 0)
		return rc;
	if (!msp_id_valid(id))
		return msp_err_set(e, MSP_EINVAL, "field 'id': '%s' is not an "
		    "msp id", id);
	if ((rc = msp_field_str(rec, "videoId", 1, 64, 0, &vid, e)) != 0)
		return rc;
	if (!msp_id_valid(vid))
		return msp_err_set(e, MSP_EINVAL, "field 'videoId': '%s' is "
		    "not an msp id", vid);
	if ((rc = msp_field_str(rec, "state", 1, 16, 0, &state, e)) != 0)
		return rc;
	if (!state_ok(state))
		return msp_err_set(e, MSP_EINVAL, "field 'state': '%s' is not "
		    "queued, running, done or failed", state);
	rc = msp_field_int(rec, "attempts", 0, 0, 1000000, &attempts, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	if ((rc = opt_str(rec, "worker", WORKER_MAX, 0, e)) != 0 ||
	    (rc = opt_str(rec, "error", ERROR_MAX, MSP_TEXT_NEWLINES, e)) != 0 ||
	    (rc = time_field(rec, "leaseUntil", 0, e)) != 0 ||
	    (rc = time_field(rec, "createdAt", 1, e)) != 0 ||
	    (rc = time_field(rec, "updatedAt", 0, e)) != 0)
		return rc;
	rc = msp_db_get(st, t, MSP_DB_JOBS, id, strlen(id), &v, e);
	if (rc == 0)
		return msp_err_set(e, MSP_EEXIST, "job %s: already in the "
		    "store", id);
	if (rc != MSP_ENOTFOUND)
		return rc;
	if ((rc = idx_put(st, t, state, vid, id, e)) != 0)
		return rc;
	return job_put(st, t, rec, e);
}
