/* workers: the dispatcher and worker loops over Redis Streams. See
 * dispatch.h and queue.h. LMDB holds the truth: whatever Redis loses or
 * repeats, the dispatcher pushes again what is in flight in the store and
 * applies each attempt's result once. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"
#include "jobs.h"
#include "jsonl.h"
#include "queue.h"
#include "util.h"

#define BATCH 64

static void
say(const struct msp_run_opts *r, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	if (r->say == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->say(r->arg, msg);
}

static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
stopping(const struct msp_run_opts *r)
{
	return msp_stop_requested() || (r->halt != NULL && *r->halt);
}

/* ---- settings ------------------------------------------------------------ */

void
msp_run_conf_init(struct msp_run_conf *c, const struct msp_tc_opts *tc)
{
	memset(c, 0, sizeof(*c));
	msp_dispatch_opts_init(&c->d);
	c->d.tc = tc;
	c->d.chunk = MSP_RUN_CHUNK;
	c->lease = MSP_RUN_LEASE;
}

int
msp_run_conf_set(struct msp_run_conf *c, const char *opt, const char *val,
    struct msp_err *e)
{
	long long v;
	double d;
	char *end;

	if (strcmp(opt, "dispatch") == 0 || strcmp(opt, "worker") == 0) {
		if (strncmp(val, "redis://", 8) != 0 &&
		    strncmp(val, "rediss://", 9) != 0)
			return msp_err_set(e, MSP_EINVAL, "not a redis://HOST"
			    "[:PORT][/DB] or rediss://... URL");
		c->q.url = val;
	} else if (strcmp(opt, "attempts") == 0) {
		if (msp_parse_int(val, 1, 100, &v) != 0)
			return msp_err_set(e, MSP_EINVAL, "'%s': expected a "
			    "number from 1 to 100", val);
		c->d.attempts = (int)v;
	} else if (strcmp(opt, "lease") == 0) {
		if (msp_parse_int(val, 1, 86400, &v) != 0)
			return msp_err_set(e, MSP_EINVAL, "'%s': expected "
			    "seconds from 1 to 86400", val);
		c->lease = (long)v;
	} else if (strcmp(opt, "chunk") == 0) {
		errno = 0;
		d = strtod(val, &end);
		if (errno != 0 || end == val || *end != '\0' ||
		    !(d == 0 || (d >= 1 && d <= 3600)))
			return msp_err_set(e, MSP_EINVAL, "'%s': expected 0 or "
			    "seconds from 1 to 3600", val);
		c->d.chunk = d;
	} else if (strcmp(opt, "name") == 0) {
		if (*val == '\0' || strlen(val) > 100)
			return msp_err_set(e, MSP_EINVAL, "expected 1 to 100 "
			    "characters");
		c->name = val;
	} else if (strncmp(opt, "redis-", 6) == 0 && (strcmp(opt + 6, "ca") ==
	    0 || strcmp(opt + 6, "cert") == 0 || strcmp(opt + 6, "key") == 0)) {
		if (*val == '\0')
			return msp_err_set(e, MSP_EINVAL, "expected a file");
		if (opt[6] == 'c' && opt[7] == 'a')
			c->q.ca = val;
		else if (opt[6] == 'c')
			c->q.cert = val;
		else
			c->q.key = val;
	} else {
		return MSP_ENOTFOUND;
	}
	return 0;
}

int
msp_run_conf_check(const struct msp_run_conf *c, struct msp_err *e)
{
	if (c->q.url == NULL && (c->q.ca != NULL || c->q.cert != NULL ||
	    c->q.key != NULL))
		return msp_err_set(e, MSP_EINVAL, "--redis-ca, --redis-cert "
		    "and --redis-key go with a Redis URL (--dispatch or "
		    "--worker)");
	return 0;
}

void
msp_run_opts_init(struct msp_run_opts *r, const struct msp_run_conf *c,
    const char *name_default)
{
	memset(r, 0, sizeof(*r));
	r->name = c->name != NULL ? c->name : name_default;
	r->lease_ms = c->lease * 1000;
	r->poll_ms = r->lease_ms / 4 < 2000 ? r->lease_ms / 4 : 2000;
}

/* ---- the dispatcher ---------------------------------------------------- */

struct disp {
	struct msp_store *st;
	struct msp_queue *q;
	const struct msp_dispatch_opts *o;
	const struct msp_run_opts *r;
};

static int
ival(json_object *o, const char *k, int none)
{
	json_object *x;

	return json_object_object_get_ex(o, k, &x) ? (int)
	    json_object_get_int64(x) : none;
}

/* a job line's chunk index, or -1 */
static int
chunk_of(json_object *line)
{
	json_object *c;

	return json_object_object_get_ex(line, "chunk", &c) ?
	    ival(c, "index", -1) : -1;
}

/* Push line (a dispatched job's) and note its entry in the store. */
static int
push(struct disp *d, json_object *line, struct msp_err *e)
{
	char id[48];
	int rc;

	if ((rc = msp_queue_add(d->q, MSP_Q_JOBS, json_object_to_json_string_ext(
	    line, JSON_C_TO_STRING_PLAIN), id, e)) != 0)
		return rc;
	return msp_dispatch_note(d->st, msp_json_sget(line, "id"),
	    ival(line, "attempt", 0), chunk_of(line), id, e);
}

/* Push every line of the array lines. */
static int
push_all(struct disp *d, json_object *lines, struct msp_err *e)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < json_object_array_length(lines); i++)
		rc = push(d, json_object_array_get_idx(lines, i), e);
	return rc;
}

/* Queued jobs into the stream. */
static int
push_queued(struct disp *d, int *pushed, struct msp_err *e)
{
	json_object *line;
	int rc = 0, k;

	*pushed = 0;
	for (k = 0; k < BATCH && !stopping(d->r); k++) {
		json_object *l0;
		size_t nl;
		if ((rc = msp_dispatch_next(d->st, d->o, &line, e)) != 0)
			break;
		rc = push_all(d, line, e);
		nl = json_object_array_length(line);
		l0 = json_object_array_get_idx(line, 0);
		if (rc == 0 && nl > 1)
			say(d->r, "job %s: attempt %d dispatched in %zu chunks",
			    msp_json_sget(l0, "id"), ival(l0, "attempt", 0), nl);
		else if (rc == 0 && nl == 1)
			say(d->r, "job %s: attempt %d dispatched",
			    msp_json_sget(l0, "id"), ival(l0, "attempt", 0));
		json_object_put(line);
		if (rc != 0)
			break;
		(*pushed)++;
	}
	return rc == MSP_ENOTFOUND ? 0 : rc;
}

/* Apply one result message; store errors are returned, refusals said. */
static int
apply_msg(struct disp *d, struct msp_qmsg *m, struct msp_err *e)
{
	static const char *const said[] = { "applied", "already applied",
	    "stale" };
	struct msp_err ae = { 0 };
	json_object *res, *v = NULL;
	int rc, how;

	res = m->line ? msp_json_parse(m->line, strlen(m->line)) : NULL;
	if (res == NULL) {
		say(d->r, "result %s: not a JSON object, dropped", m->id);
	} else {
		rc = msp_dispatch_apply(d->st, d->o, res, &how, &v, &ae);
		if (rc == MSP_ESTORE || rc == MSP_EIO || rc == MSP_ENOMEM) {
			json_object_put(res);
			*e = ae;
			return rc;
		}
		if (rc != 0)
			say(d->r, "result %s: %s, dropped", m->id, ae.msg);
		else if (strcmp(msp_json_sget(res, "status"), "progress") != 0)
			say(d->r, "job %s: attempt %lld %s: %s",
			    msp_json_sget(res, "jobId"), (long long)
			    json_object_get_int64(json_object_object_get(res,
			    "attempt")), msp_json_sget(res, "status"),
			    said[how]);
		if (v != NULL && d->r->emit != NULL)
			d->r->emit(d->r->arg, v);
		json_object_put(v);
		json_object_put(res);
	}
	return msp_queue_ack(d->q, MSP_Q_RESULTS, m->id, 1, e);
}

/* Results: those delivered before and not acknowledged (pending), or new
 * ones, waiting up to block_ms. *got: how many. */
static int
pull(struct disp *d, int pending, long block_ms, size_t *got,
    struct msp_err *e)
{
	struct msp_qmsg *m;
	size_t n, i;
	int rc;

	*got = 0;
	rc = msp_queue_read(d->q, MSP_Q_RESULTS, d->r->name, pending, block_ms,
	    32, &m, &n, e);
	for (i = 0; rc == 0 && i < n; i++)
		rc = apply_msg(d, &m[i], e);
	msp_queue_msgs_free(m, n);
	*got = n;
	return rc;
}

/* After a (re)connect: apply every result there is, then push again each
 * job in flight whose entry Redis does not have (it lost it, or the
 * dispatcher died before noting it). */
static int
recover(struct disp *d, struct msp_err *e)
{
	json_object *jobs, *j, *lines, *line, *dp, *cs;
	const char *entry;
	size_t got, i, k;
	int rc, again = 0;

	do
		rc = pull(d, 1, 0, &got, e);
	while (rc == 0 && got > 0);
	do
		rc = rc == 0 ? pull(d, 0, 0, &got, e) : rc;
	while (rc == 0 && got > 0);
	if (rc != 0)
		return rc;
	if ((rc = msp_dispatch_inflight(d->st, d->o, &jobs, e)) != 0)
		return rc;
	for (i = 0; rc == 0 && i < json_object_array_length(jobs); i++) {
		j = json_object_array_get_idx(jobs, i);
		if ((rc = msp_dispatch_line(d->st, d->o, j, &lines, e)) != 0)
			break;
		for (k = 0; rc == 0 && k < json_object_array_length(lines);
		    k++) {
			int c;
			line = json_object_array_get_idx(lines, k);
			c = chunk_of(line);
			if (c >= 0 && json_object_object_get_ex(j, "chunks",
			    &cs))
				dp = json_object_array_get_idx(cs, (size_t)c);
			else if (!json_object_object_get_ex(j, "dispatch", &dp))
				dp = NULL;
			entry = dp ? msp_json_sget(dp, "entry") : NULL;
			if (entry != NULL &&
			    (rc = msp_queue_has(d->q, entry, e)) != 0) {
				if (rc == 1)
					rc = 0;
				continue;
			}
			if ((rc = push(d, line, e)) == 0)
				again++;
		}
		json_object_put(lines);
	}
	json_object_put(jobs);
	if (rc == 0 && again > 0)
		say(d->r, "%d job%s in flight pushed again", again,
		    again == 1 ? "" : "s");
	return rc;
}

/* Jobs whose worker said nothing for a lease: a new attempt or a dead
 * letter. */
static int
reap(struct disp *d, struct msp_err *e)
{
	struct msp_qmsg *m;
	json_object *job, *line;
	char why[160];
	size_t n, i;
	int rc, dead;

	rc = msp_queue_takeover(d->q, d->r->name, d->r->lease_ms, 16, &m, &n,
	    e);
	for (i = 0; rc == 0 && i < n; i++) {
		job = m[i].line ? msp_json_parse(m[i].line, strlen(m[i].line)) :
		    NULL;
		line = NULL;
		dead = 0;
		if (job != NULL && msp_json_sget(job, "id") != NULL) {
			snprintf(why, sizeof(why), "worker lost: no word from "
			    "it for %ld s", d->r->lease_ms / 1000);
			rc = msp_dispatch_retry(d->st, d->o,
			    msp_json_sget(job, "id"), ival(job, "attempt", 0),
			    chunk_of(job), why, &line, &dead, e);
			if (rc == MSP_EINVAL || rc == MSP_ENOTFOUND)
				rc = 0; /* not ours to retry */
			if (rc == 0 && line != NULL &&
			    json_object_array_length(line) > 0) {
				json_object *l0 = json_object_array_get_idx(line,
				    0);
				if (chunk_of(job) >= 0)
					say(d->r, "job %s: chunk %d of attempt %d "
					    "lost, attempt %d dispatched",
					    msp_json_sget(job, "id"),
					    chunk_of(job), ival(job, "attempt",
					    0), ival(l0, "attempt", 0));
				else
					say(d->r, "job %s: attempt %d lost, "
					    "attempt %d dispatched",
					    msp_json_sget(job, "id"),
					    ival(job, "attempt", 0),
					    ival(l0, "attempt", 0));
				rc = push_all(d, line, e);
			}
			if (rc == 0 && dead) {
				json_object_object_add(job, "error",
				    json_object_new_string(why));
				say(d->r, "job %s: failed for good: %s",
				    msp_json_sget(job, "id"), why);
				rc = msp_queue_add(d->q, MSP_Q_DEAD,
				    json_object_to_json_string_ext(job,
				    JSON_C_TO_STRING_PLAIN), NULL, e);
			}
		}
		json_object_put(line);
		json_object_put(job);
		if (rc == 0)
			rc = msp_queue_ack(d->q, MSP_Q_JOBS, m[i].id, 1, e);
	}
	msp_queue_msgs_free(m, n);
	return rc;
}

static int
idle(struct disp *d, struct msp_err *e)
{
	json_object *jobs;
	long queued;
	int none;

	if ((queued = msp_job_count(d->st, NULL, "queued", e)) < 0)
		return (int)queued;
	if (queued > 0)
		return 0;
	if (msp_dispatch_inflight(d->st, d->o, &jobs, e) != 0)
		return 0;
	none = json_object_array_length(jobs) == 0;
	json_object_put(jobs);
	return none;
}

int
msp_dispatch_run(struct msp_store *st, struct msp_queue *q,
    const struct msp_dispatch_opts *o, const struct msp_run_opts *r,
    struct msp_err *e)
{
	struct disp d = { st, q, o, r };
	struct msp_err qe = { 0 };
	int64_t next_reap = 0;
	int up = 0, down = 0, rc, pushed;
	size_t got;

	while (!stopping(r)) {
		if (!up) {
			rc = msp_queue_connect(q, &qe);
			if (rc == 0)
				rc = recover(&d, &qe);
			if (rc == MSP_ENET) {
				if (!down)
					say(r, "%s; trying again", qe.msg);
				down = 1;
				nap(500);
				continue;
			}
			if (rc != 0) {
				*e = qe;
				return rc;
			}
			if (down)
				say(r, "%s: connected again",
				    msp_queue_where(q));
			up = 1;
			down = 0;
		}
		rc = push_queued(&d, &pushed, &qe);
		if (rc == 0)
			rc = pull(&d, 0, pushed > 0 ? 1 : r->poll_ms, &got,
			    &qe);
		if (rc == 0 && msp_now_ms() >= next_reap) {
			rc = reap(&d, &qe);
			next_reap = msp_now_ms() + r->lease_ms / 4;
		}
		if (rc == MSP_ENET) {
			up = 0;
			continue;
		}
		if (rc != 0) {
			*e = qe;
			return rc;
		}
		if (r->until_done && (rc = idle(&d, &qe)) != 0) {
			if (rc < 0) {
				*e = qe;
				return rc;
			}
			break;
		}
	}
	return 0;
}

/* ---- a worker ----------------------------------------------------------- */

struct work {
	struct msp_queue *q;
	const struct msp_run_opts *r;
	const char *id;      /* the entry being worked on */
	json_object *job;
	int64_t last;        /* last renewal */
	int lost;            /* the dispatcher took the job back */
};

static int
on_progress(const struct msp_tc_progress *p, void *arg)
{
	struct work *w = arg;
	struct msp_err e;
	json_object *res;
	int rc;

	if (msp_now_ms() - w->last < w->r->lease_ms / 3)
		return 0;
	w->last = msp_now_ms();
	rc = msp_queue_renew(w->q, w->r->name, w->id, &e);
	if (rc == MSP_ENOTFOUND) {
		say(w->r, "job %s: taken back (the lease ran out): stopped",
		    msp_json_sget(w->job, "id"));
		w->lost = 1;
		return 1;
	}
	if (rc == 0 && (res = msp_tc_job_progress(w->job, w->r->name,
	    p->percent)) != NULL) {
		(void)msp_queue_add(w->q, MSP_Q_RESULTS,
		    json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN),
		    NULL, &e);
		json_object_put(res);
	}
	return 0; /* Redis away: work on, the result waits for it */
}

/* Send the result, waiting out Redis being down; then the job is done. */
static int
answer(struct work *w, json_object *res, struct msp_err *e)
{
	const char *s = json_object_to_json_string_ext(res,
	    JSON_C_TO_STRING_PLAIN);
	int rc, told = 0;

	while ((rc = msp_queue_add(w->q, MSP_Q_RESULTS, s, NULL, e)) ==
	    MSP_ENET && !stopping(w->r)) {
		if (!told)
			say(w->r, "%s; keeping the result of job %s until it is "
			    "back", e->msg, msp_json_sget(w->job, "id"));
		told = 1;
		nap(500);
	}
	if (rc != 0)
		return rc;
	/* gone with a restarted Redis: fine, the result is what counts */
	(void)msp_queue_ack(w->q, MSP_Q_JOBS, w->id, 1, NULL);
	return 0;
}

static int
work_one(struct work *w, const char *media, struct msp_qmsg *m,
    struct msp_err *e)
{
	json_object *res = NULL;
	struct msp_err je = { 0 };
	int rc;

	w->id = m->id;
	w->lost = 0;
	w->last = msp_now_ms();
	w->job = m->line ? msp_json_parse(m->line, strlen(m->line)) : NULL;
	if (w->job == NULL) {
		say(w->r, "job entry %s: not a JSON object, dropped", m->id);
		return msp_queue_ack(w->q, MSP_Q_JOBS, m->id, 1, e);
	}
	say(w->r, "job %s: attempt %lld of video %s", msp_json_sget(w->job,
	    "id"), (long long)json_object_get_int64(json_object_object_get(
	    w->job, "attempt")), msp_json_sget(w->job, "videoId"));
	rc = msp_tc_job_run(media, w->job, w->r->name, on_progress, w, &res,
	    &je);
	if (rc == MSP_EINVAL) {
		say(w->r, "job entry %s: %s, dropped", m->id, je.msg);
		rc = msp_queue_ack(w->q, MSP_Q_JOBS, m->id, 1, e);
	} else if (rc == MSP_EAGAIN) {
		rc = 0; /* stopped or taken back: the entry is left pending */
	} else if (rc != 0) {
		*e = je;
	} else {
		say(w->r, "job %s: %s", msp_json_sget(w->job, "id"),
		    msp_json_sget(res, "status"));
		rc = answer(w, res, e);
	}
	json_object_put(res);
	json_object_put(w->job);
	w->job = NULL;
	return rc;
}

int
msp_tc_worker_run(struct msp_queue *q, const char *media,
    const struct msp_run_opts *r, struct msp_err *e)
{
	struct work w = { q, r, NULL, NULL, 0, 0 };
	struct msp_qmsg *m;
	struct msp_err qe = { 0 };
	size_t n, i;
	int rc, down = 0, pending = 1;

	while (!stopping(r)) {
		/* first what this worker's name was given before a restart */
		rc = msp_queue_read(q, MSP_Q_JOBS, r->name, pending, r->poll_ms,
		    1, &m, &n, &qe);
		if (rc == MSP_ENET) {
			if (!down)
				say(r, "%s; trying again", qe.msg);
			down = 1;
			nap(500);
			continue;
		}
		if (rc != 0) {
			*e = qe;
			return rc;
		}
		if (down)
			say(r, "%s: connected again", msp_queue_where(q));
		down = 0;
		if (n == 0)
			pending = 0;
		for (i = 0; rc == 0 && i < n && !stopping(r); i++)
			rc = work_one(&w, media, &m[i], &qe);
		msp_queue_msgs_free(m, n);
		if (rc == MSP_ENET)
			continue;
		if (rc != 0) {
			*e = qe;
			return rc;
		}
	}
	return 0;
}

/* ---- the dispatcher in a server's thread ------------------------------- */

struct msp_dispatcher {
	struct msp_store *st;
	struct msp_queue *q;
	struct msp_run_conf c;
	struct msp_run_opts r;
	volatile int halt;
	pthread_t thread;
};

static void *
dispatcher(void *arg)
{
	struct msp_dispatcher *d = arg;
	struct msp_err e = { 0 };
	int k;

	while (!stopping(&d->r)) {
		if (msp_dispatch_run(d->st, d->q, &d->c.d, &d->r, &e) == 0)
			continue;
		say(&d->r, "dispatch: %s; starting again in 5 s", e.msg);
		for (k = 0; k < 50 && !stopping(&d->r); k++)
			nap(100);
	}
	return NULL;
}

int
msp_dispatcher_start(struct msp_dispatcher **dp, struct msp_store *st,
    const struct msp_run_conf *c, void (*sayfn)(void *arg, const char *msg),
    void *arg, struct msp_err *e)
{
	struct msp_dispatcher *d;
	int rc;

	*dp = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	d->st = st;
	d->c = *c;
	if ((rc = msp_queue_open(&d->q, &d->c.q, e)) != 0) {
		free(d);
		return rc;
	}
	msp_run_opts_init(&d->r, &d->c, "dispatch");
	d->r.say = sayfn;
	d->r.arg = arg;
	d->r.halt = &d->halt;
	if ((rc = pthread_create(&d->thread, NULL, dispatcher, d)) != 0) {
		msp_queue_close(d->q);
		free(d);
		return msp_err_set(e, MSP_ENOMEM, "the dispatcher's thread: %s",
		    strerror(rc));
	}
	*dp = d;
	return 0;
}

void
msp_dispatcher_stop(struct msp_dispatcher *d)
{
	if (d == NULL)
		return;
	d->halt = 1;
	pthread_join(d->thread, NULL);
	msp_queue_close(d->q);
	free(d);
}
