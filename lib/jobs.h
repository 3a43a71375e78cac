/* jobs: the durable transcode queue in the store (MSP_DB_JOBS records,
 * MSP_DB_JOB_IDX order). A job survives restarts; a worker claims it with a
 * lease, and a job whose lease ran out, or whose holder (the claiming
 * process, on this machine) is gone, is claimed again -- up to 3
 * attempts: then msp_job_claim fails the job and its video instead
 * (msp_job_claim_video still retries it). Implemented in lib/jobs.c. */
#ifndef MSP_JOBS_H
#define MSP_JOBS_H

#include <json.h>
#include <lmdb.h>

#include "err.h"
#include "store.h"

/* Records: {"type":"job","v":1,"id","videoId","state":"queued"|"running"|
 * "done"|"failed","attempts","worker","leaseUntil","error","createdAt",
 * "updatedAt"}, and while running "holder" (see lib/jobs.c) */

/* Queue a transcode of video_id inside the caller's txn (idempotent: a
 * video with a queued or running job gets no second one). */
int msp_job_enqueue(struct msp_store *st, MDB_txn *t, const char *video_id,
    json_object **out, struct msp_err *e);
/* Claim the oldest queued job, or a running one whose lease expired; in its
 * own write txn. MSP_ENOTFOUND when there is none. */
int msp_job_claim(struct msp_store *st, const char *worker, long lease_ms,
    json_object **job, struct msp_err *e);
/* msp_job_claim in the caller's write txn t. */
int msp_job_claim_in(struct msp_store *st, MDB_txn *t, const char *worker,
    long lease_ms, json_object **job, struct msp_err *e);
/* Write job (a record read with msp_job_get and changed by the caller) in
 * t; state non-NULL moves it to that state, index included. */
int msp_job_save(struct msp_store *st, MDB_txn *t, json_object *job,
    const char *state, struct msp_err *e);
/* Claim the job of one video (creating it if needed). */
int msp_job_claim_video(struct msp_store *st, const char *video_id,
    const char *worker, long lease_ms, json_object **job, struct msp_err *e);
/* Extend the lease while working. */
int msp_job_renew(struct msp_store *st, const char *job_id,
    const char *worker, long lease_ms, struct msp_err *e);
/* Mark done (error NULL) or failed (error says why), in the caller's txn. */
int msp_job_finish(struct msp_store *st, MDB_txn *t, const char *job_id,
    const char *error, struct msp_err *e);
/* Put a running job that worker holds back in the queue (its run was
 * stopped, not lost): queued, no worker or lease, the attempt not counted;
 * in the caller's txn (NULL: its own). */
int msp_job_release(struct msp_store *st, MDB_txn *t, const char *job_id,
    const char *worker, struct msp_err *e);
/* Jobs in a state ("queued", "running" ...), for /metrics. */
long msp_job_count(struct msp_store *st, MDB_txn *t, const char *state,
    struct msp_err *e);
int msp_job_get(struct msp_store *st, MDB_txn *t, const char *job_id,
    json_object **out, struct msp_err *e);
int msp_job_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);

#endif
