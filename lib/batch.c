#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "util.h"

struct line {
	json_object *in;
	json_object *out;
	char *where;
	char *err;  /* set when the line failed in this attempt */
	int code;
};

struct run {
	struct msp_store *st;
	struct msp_batch *b;
	struct line *lines;
	size_t n;
	int careful; /* each line in a child transaction */
};

#define BATCH_CAREFUL 1 /* apply()'s answer: a line failed, replay carefully */

static int
fatal(int rc)
{
	return rc == MSP_EMAPFULL || rc == MSP_ESTORE || rc == MSP_EIO ||
	    rc == MSP_ENOMEM;
}

static int
apply(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct run *r = arg;
	size_t i;
	int rc;

	for (i = 0; i < r->n; i++) {
		struct line *l = &r->lines[i];
		struct msp_err le;
		MDB_txn *sub;

		json_object_put(l->out);
		l->out = NULL;
		free(l->err);
		l->err = NULL;
		msp_err_clear(&le);
		if (r->b->no_sub || !r->careful) {
			/* straight into the batch; a bad line (rare) sends the
			 * whole batch again, each line in a child transaction,
			 * unless the lines check everything before writing */
			rc = r->b->fn(r->st, t, l->in, &l->out, r->b->arg, &le);
			if (rc != 0 && !fatal(rc) && !r->b->no_sub)
				return BATCH_CAREFUL;
		} else {
			if ((rc = msp_txn_sub(r->st, t, &sub, e)) != 0)
				return rc;
			rc = r->b->fn(r->st, sub, l->in, &l->out, r->b->arg,
			    &le);
			if (rc == 0)
				rc = msp_txn_sub_commit(sub, &le);
			else
				mdb_txn_abort(sub);
		}
		if (fatal(rc)) {
			*e = le;
			return rc;
		}
		if (rc != 0) {
			l->code = rc;
			l->err = msp_sprintf("%s: %s", l->where, le.msg);
			json_object_put(l->out);
			l->out = NULL;
		}
	}
	return 0;
}

static void
lines_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		json_object_put(r->lines[i].in);
		json_object_put(r->lines[i].out);
		free(r->lines[i].where);
		free(r->lines[i].err);
		memset(&r->lines[i], 0, sizeof(r->lines[i]));
	}
	r->n = 0;
}

/* Commit the pending lines, then hand out results and reports in order. */
static int
flush(struct run *r, int *stop, struct msp_err *e)
{
	size_t i;
	int rc;

	if (r->n == 0)
		return 0;
	r->careful = 0;
	rc = msp_store_write(r->st, apply, r, e);
	if (rc == BATCH_CAREFUL) {
		r->careful = 1;
		rc = msp_store_write(r->st, apply, r, e);
	}
	if (rc == 0) {
		for (i = 0; i < r->n; i++) {
			struct line *l = &r->lines[i];
			if (l->err != NULL) {
				r->b->bad++;
				if (r->b->report)
					r->b->report(l->err, l->code,
					    r->b->cbarg);
				if (r->b->strict)
					*stop = 1;
			} else {
				r->b->ok++;
				if (l->out != NULL && r->b->emit)
					r->b->emit(l->out, r->b->cbarg);
			}
		}
	}
	lines_free(r);
	return rc;
}

int
msp_batch_run(struct msp_store *st, struct msp_jsonl *jr,
    struct msp_batch *b, struct msp_err *e)
{
	struct run r = { st, b, NULL, 0, 0 };
	size_t size = b->size ? b->size : 1000;
	int rc = 0, stop = 0;

	b->ok = b->bad = 0;
	if ((r.lines = calloc(size, sizeof(*r.lines))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	while (!stop && !msp_stop_requested()) {
		json_object *o;
		struct msp_err le;
		int got = msp_jsonl_read(jr, &o, &le);

		if (got == 0)
			break;
		if (got == MSP_EINVAL) {
			/* keep order: flush what came before, then report */
			if ((rc = flush(&r, &stop, e)) != 0)
				break;
			b->bad++;
			if (b->report)
				b->report(le.msg, MSP_EINVAL, b->cbarg);
			if (b->strict)
				stop = 1;
			continue;
		}
		if (got < 0) {
			*e = le;
			rc = got;
			break;
		}
		r.lines[r.n].in = o;
		r.lines[r.n].where = msp_strdup(msp_jsonl_where(jr));
		if (r.lines[r.n].where == NULL) {
			json_object_put(o);
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			break;
		}
		r.n++;
		/* strict: each line alone, so nothing after a bad one lands */
		if (r.n == size || b->strict)
			if ((rc = flush(&r, &stop, e)) != 0)
				break;
	}
	if (rc == 0 && !stop)
		rc = flush(&r, &stop, e);
	lines_free(&r);
	free(r.lines);
	return rc;
}
