/* batch: apply a stream of JSONL lines to the store in transactions of a
 * bounded size. Each line runs in a child transaction, so a bad line is
 * skipped whole; a batch whose map filled is replayed after the map grew;
 * results are handed out only after their batch committed. */
#ifndef MSP_BATCH_H
#define MSP_BATCH_H

#include <json.h>
#include <lmdb.h>

#include "err.h"
#include "jsonl.h"
#include "store.h"

/* Apply one line: *out (may stay NULL) is the result to emit; the callee
 * owns nothing of line. */
typedef int (*msp_line_fn)(struct msp_store *st, MDB_txn *t,
    json_object *line, json_object **out, void *arg, struct msp_err *e);

struct msp_batch {
	size_t size;    /* lines a transaction (default 1000) */
	int no_sub;     /* fn writes nothing when it fails (it checks all
	                 * first), so lines need no child transaction */
	int strict;     /* stop at the first bad line */
	msp_line_fn fn;
	void *arg;
	/* called after each commit, in input order */
	void (*emit)(json_object *out, void *cbarg);
	/* called for each bad line with "where: reason" */
	void (*report)(const char *msg, int code, void *cbarg);
	void *cbarg;
	long ok, bad;   /* counts, filled in */

	/*
	 * Optional, for bulk streams: when prep is set (and not strict), the
	 * lines of a batch are parsed and prepared on a second thread while
	 * the batch before them is applied. prep must not touch the store;
	 * it returns 0 (*state, may stay NULL, goes to fn_prep in place of
	 * fn) or a fatal error. accept is called after each commit with the
	 * state of each line that landed, in input order; prep_free frees
	 * every state at the end of its batch.
	 */
	int (*prep)(json_object *line, void **state, void *arg,
	    struct msp_err *e);
	int (*fn_prep)(struct msp_store *st, MDB_txn *t, json_object *line,
	    void *state, json_object **out, void *arg, struct msp_err *e);
	void (*accept)(void *state, void *arg);
	void (*prep_free)(void *state);
	/* optional, around each attempt at a batch's transaction: begin
	 * (careful: each line in a child transaction of its own), then the
	 * lines, then end in the batch's transaction before it commits
	 * (writes fn_prep left for the end; an error fails the batch) */
	void (*begin)(void *arg, int careful);
	int (*end)(struct msp_store *st, MDB_txn *t, void *arg,
	    struct msp_err *e);
};

/* Runs to the end of r (or the first bad line when strict, or a stop
 * request). Returns 0, or a fatal error (store, I/O). */
int msp_batch_run(struct msp_store *st, struct msp_jsonl *r,
    struct msp_batch *b, struct msp_err *e);

#endif
