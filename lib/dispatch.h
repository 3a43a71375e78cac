/* dispatch: transcode jobs for workers that have no store. The store host
 * turns a queued job into a job line (the original's location, the
 * ladder, the segment format and length, the output location, the
 * attempt and its token); a worker anywhere turns the line into a result
 * line (lib/transcode_job.c); the store host applies the result in one
 * transaction. See msp-jsonl(5) and msp-transcode(1).
 *
 * A dispatched job is running in the store with a "dispatch" object
 * (attempt, via, entry) and a long lease. Each attempt has a token, a MAC
 * of the job id and attempt under the store's key (STORE/transcode.key),
 * so a result is taken only from a worker that was given the line;
 * results are applied once per attempt ("resolved"), so a duplicated or
 * late one changes nothing. */
#ifndef MSP_DISPATCH_H
#define MSP_DISPATCH_H

#include <json.h>

#include "err.h"
#include "queue.h"
#include "store.h"
#include "transcode.h"

#define MSP_DISPATCH_ATTEMPTS 3
#define MSP_DISPATCH_HOLD_MS (24L * 3600 * 1000)

struct msp_dispatch_opts {
	const char *via;      /* "redis", "lines": who holds dispatched jobs */
	int attempts;         /* tries before a job fails (dead letter) */
	const struct msp_tc_opts *tc; /* ladder, format, segment, preset */
	double chunk;         /* seconds a chunk of a long video; 0: none */
};

void msp_dispatch_opts_init(struct msp_dispatch_opts *o);

/* Dispatch the oldest queued job: running, one more attempt, its video
 * processing; *lines (caller puts) an array of its job lines: one, or
 * one per chunk not done yet of a long video (o->chunk). The encoder
 * settings and chunks are fixed at a job's first dispatch. MSP_ENOTFOUND:
 * none. */
int msp_dispatch_next(struct msp_store *st, const struct msp_dispatch_opts *o,
    json_object **lines, struct msp_err *e);
/* The job lines of a dispatched job again (same attempt and tokens),
 * for a queue that lost them. */
int msp_dispatch_line(struct msp_store *st, const struct msp_dispatch_opts *o,
    json_object *job, json_object **lines, struct msp_err *e);
/* Note where the queue holds a job line (entry id): of job's attempt, or
 * of its chunk (-1: none). */
int msp_dispatch_note(struct msp_store *st, const char *job_id, int attempt,
    int chunk, const char *entry, struct msp_err *e);
/* The worker of attempt (and chunk, or -1) of job_id was lost (why): a
 * new attempt (*lines, caller puts: the job's line, or the chunk's), or,
 * after o->attempts, the job and its video fail and *lines is NULL (*dead
 * set to 1). A stale attempt or a chunk done: *lines NULL, *dead 0. */
int msp_dispatch_retry(struct msp_store *st, const struct msp_dispatch_opts *o,
    const char *job_id, int attempt, int chunk, const char *why,
    json_object **lines, int *dead, struct msp_err *e);

enum { MSP_APPLIED = 0, MSP_APPLY_DUP = 1, MSP_APPLY_STALE = 2 };
/* Apply a result line in one transaction. *outcome: MSP_APPLIED, or
 * MSP_APPLY_DUP (this attempt was applied before) or MSP_APPLY_STALE (a
 * later attempt replaced it), which change nothing. *video (may be NULL;
 * caller puts) gets the video record when a ready or failed result was
 * applied. A result for an unknown job, for an attempt never dispatched,
 * with a wrong token, or malformed: an error, nothing written. */
int msp_dispatch_apply(struct msp_store *st,
    const struct msp_dispatch_opts *o, json_object *result, int *outcome,
    json_object **video, struct msp_err *e);
/* The running jobs dispatched via o->via, as an array (caller puts). */
int msp_dispatch_inflight(struct msp_store *st,
    const struct msp_dispatch_opts *o, json_object **jobs,
    struct msp_err *e);
/* Put a failed job back in the queue with no attempts (an admin's
 * requeue of a dead letter); its video back to uploaded. */
int msp_dispatch_requeue(struct msp_store *st, const char *job_id,
    struct msp_err *e);
/* Status lines: one {"type":"queue","state","jobs"} per state, then one
 * {"type":"job",...} per running or failed job; fn gets each (borrowed). */
int msp_dispatch_status(struct msp_store *st,
    int (*fn)(json_object *line, void *arg), void *arg, struct msp_err *e);

/* The token of a job's attempt (hex, 64 characters + NUL). */
int msp_dispatch_token(struct msp_store *st, const char *job_id, int attempt,
    int chunk, char out[65], struct msp_err *e);

/* The worker side: do the job line job with the media directory media
 * (originals read from it, HLS written into it); *result (caller puts)
 * gets the result line, ready or failed. progress (may be NULL) is
 * called about once a second; worker names the worker in the result.
 * MSP_EINVAL for a line that is not a job line (nothing to answer);
 * MSP_EAGAIN when stopped (no result). */
int msp_tc_job_run(const char *media, json_object *job, const char *worker,
    int (*progress)(const struct msp_tc_progress *p, void *arg), void *arg,
    json_object **result, struct msp_err *e);
/* A progress result line for job (caller puts). */
json_object *msp_tc_job_progress(json_object *job, const char *worker,
    double percent);

/* ---- over Redis Streams (lib/workers.c) ---- */
struct msp_run_opts {
	const char *name;  /* consumer name (worker or dispatcher) */
	long lease_ms;     /* a worker's claim lasts this long unrenewed */
	long poll_ms;      /* longest wait for a stream read */
	int until_done;    /* dispatcher: return once nothing is queued or
			    * in flight */
	/* what happens, for the tool to print (may be NULL) */
	void (*say)(void *arg, const char *msg);
	/* a video record a result changed (borrowed; may be NULL) */
	void (*emit)(void *arg, json_object *video);
	void *arg;
	/* may be NULL: stop too when it is set */
	const volatile int *halt;
};

/* The settings of a dispatcher or a worker, as msp-transcode and
 * msp-serve take them from their options. */
struct msp_run_conf {
	struct msp_queue_conf q;     /* url, TLS files, password */
	struct msp_dispatch_opts d;  /* attempts, chunk */
	long lease;                  /* seconds a worker's claim lasts */
	const char *name;            /* NULL: the caller's default */
};

#define MSP_RUN_LEASE 60
#define MSP_RUN_CHUNK 90.0

/* Defaults: no URL, lease MSP_RUN_LEASE, chunks of MSP_RUN_CHUNK, the
 * encoder settings tc (borrowed). */
void msp_run_conf_init(struct msp_run_conf *c, const struct msp_tc_opts *tc);
/* One option by its long name, its value checked: "dispatch" and
 * "worker" (the URL), "attempts", "chunk", "lease", "name", "redis-ca",
 * "redis-cert", "redis-key". MSP_EINVAL with the reason (for
 * "--NAME: reason"), MSP_ENOTFOUND for a name that is not one of these.
 * Values are borrowed. */
int msp_run_conf_set(struct msp_run_conf *c, const char *opt,
    const char *val, struct msp_err *e);
/* After the options: settings that make no sense together. MSP_EINVAL
 * with the reason. */
int msp_run_conf_check(const struct msp_run_conf *c, struct msp_err *e);
/* r from c (name: c->name, or name_default); say, emit, arg and halt
 * are left NULL. */
void msp_run_opts_init(struct msp_run_opts *r, const struct msp_run_conf *c,
    const char *name_default);

/* The dispatcher: push queued jobs of st to q, apply the results, take
 * lost workers' jobs back (a new attempt, or a dead letter), re-push what
 * Redis lost; until msp_stop_requested (or, until_done, nothing is left).
 * Redis being down is waited out; an error of the store ends it. */
int msp_dispatch_run(struct msp_store *st, struct msp_queue *q,
    const struct msp_dispatch_opts *o, const struct msp_run_opts *r,
    struct msp_err *e);
/* A worker: take job lines from q, do them in media, answer with result
 * lines (and progress while working, which renews the claim); until
 * msp_stop_requested. */
int msp_tc_worker_run(struct msp_queue *q, const char *media,
    const struct msp_run_opts *r, struct msp_err *e);

/* The dispatcher in a thread of a server (msp-serve): the queue of c
 * opened (a bad URL or TLS file: MSP_EINVAL, nothing started), then
 * msp_dispatch_run on st until msp_dispatcher_stop; an error of the store
 * is said and the run starts again after a pause. say (may be NULL)
 * gets what happens; it is called from the thread. */
struct msp_dispatcher;
int msp_dispatcher_start(struct msp_dispatcher **dp, struct msp_store *st,
    const struct msp_run_conf *c, void (*say)(void *arg, const char *msg),
    void *arg, struct msp_err *e);
void msp_dispatcher_stop(struct msp_dispatcher *d);

#endif
