/* queue: transcode job and result streams on Redis (hiredis). Three
 * streams under a prefix (default "msp"):
 *   PREFIX:jobs     job lines; consumer group "workers"
 *   PREFIX:results  result lines; consumer group "dispatch"
 *   PREFIX:dead     job lines that failed for good, with the reason
 * Each entry has one field, "line", the JSON line. A call that finds the
 * connection broken returns MSP_ENET and the next call connects again (and
 * creates the streams and groups when missing, as after a restart of an
 * empty Redis). Implemented in lib/queue.c. */
#ifndef MSP_QUEUE_H
#define MSP_QUEUE_H

#include <stddef.h>

#include "err.h"

enum msp_qstream { MSP_Q_JOBS, MSP_Q_RESULTS, MSP_Q_DEAD };

struct msp_queue;

struct msp_qmsg {
	char id[48];  /* stream entry id */
	char *line;   /* the "line" field (malloc'd; NULL when missing) */
};

struct msp_queue_conf {
	/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], or rediss://... for
	 * TLS (the server's certificate verified, and its name) */
	const char *url;
	const char *password;  /* may be NULL; replaces the URL's */
	const char *prefix;    /* of the stream names; NULL: "msp" */
	const char *ca;        /* rediss://: CA file (NULL: the system's) */
	const char *cert;      /* rediss://: client certificate (PEM) */
	const char *key;       /* rediss://: its key (PEM) */
};

/* The queue c names; nothing is connected yet, the TLS files are read.
 * MSP_EINVAL with the reason for a bad URL or setting. */
int msp_queue_open(struct msp_queue **qp, const struct msp_queue_conf *c,
    struct msp_err *e);
void msp_queue_close(struct msp_queue *q);
/* The URL without its password, for messages (redis:// or rediss://). */
const char *msp_queue_where(const struct msp_queue *q);
/* Connect now when not connected (streams and groups made). */
int msp_queue_connect(struct msp_queue *q, struct msp_err *e);

/* XADD: line to stream s; id (may be NULL) gets the entry id. */
int msp_queue_add(struct msp_queue *q, enum msp_qstream s, const char *line,
    char id[48], struct msp_err *e);
/* XREADGROUP on jobs (group workers) or results (group dispatch) as
 * consumer: new entries (pending 0), or those delivered to consumer and
 * not acknowledged (pending 1). Waits up to block_ms (> 0) for new ones.
 * *msgs (free with msp_queue_msgs_free) gets *n of at most count. */
int msp_queue_read(struct msp_queue *q, enum msp_qstream s,
    const char *consumer, int pending, long block_ms, size_t count,
    struct msp_qmsg **msgs, size_t *n, struct msp_err *e);
void msp_queue_msgs_free(struct msp_qmsg *m, size_t n);
/* XACK (and XDEL when del) entry id of s. */
int msp_queue_ack(struct msp_queue *q, enum msp_qstream s, const char *id,
    int del, struct msp_err *e);
/* XCLAIM id to consumer with no minimum idle time: the claim is renewed
 * (its idle time starts again). 0, or MSP_ENOTFOUND when the entry is no
 * longer pending (taken over or gone). */
int msp_queue_renew(struct msp_queue *q, const char *consumer,
    const char *id, struct msp_err *e);
/* XAUTOCLAIM: jobs pending for more than idle_ms (their worker is lost)
 * move to consumer; up to count of them in *msgs. */
int msp_queue_takeover(struct msp_queue *q, const char *consumer,
    long idle_ms, size_t count, struct msp_qmsg **msgs, size_t *n,
    struct msp_err *e);
/* 1 when job entry id is still in the jobs stream, else 0. */
int msp_queue_has(struct msp_queue *q, const char *id, struct msp_err *e);

struct msp_qstats {
	long long jobs;      /* entries in the jobs stream */
	long long pending;   /* delivered to a worker, not acknowledged */
	long long waiting;   /* not delivered yet */
	long long results;   /* results not yet applied */
	long long dead;      /* dead letters */
	long long workers;   /* consumers of the jobs group */
};
int msp_queue_stats(struct msp_queue *q, struct msp_qstats *s,
    struct msp_err *e);

#endif
