#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "util.h"

struct line {
	json_object *in;
	json_object *out;
	char *where;
	char *err;   /* set when the line failed in this attempt */
	int code;
	/* prepared streams (b->prep) */
	char *raw;   /* the line's text until it is parsed (not its own) */
	size_t rawn;
	void *state;
	char *perr;  /* the line did not parse: "where: reason" */
	int borrowed; /* raw and where point into the batch's text */
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
call(struct run *r, MDB_txn *t, struct line *l, struct msp_err *e)
{
	if (r->b->fn_prep != NULL)
		return r->b->fn_prep(r->st, t, l->in, l->state, &l->out,
		    r->b->arg, e);
	return r->b->fn(r->st, t, l->in, &l->out, r->b->arg, e);
}

static int
apply(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct run *r = arg;
	size_t i;
	int rc;

	if (r->b->begin != NULL)
		r->b->begin(r->b->arg, r->careful && !r->b->no_sub);
	for (i = 0; i < r->n; i++) {
		struct line *l = &r->lines[i];
		struct msp_err le;
		MDB_txn *sub;

		json_object_put(l->out);
		l->out = NULL;
		free(l->err);
		l->err = NULL;
		if (l->perr != NULL)
			continue;
		msp_err_clear(&le);
		if (r->b->no_sub || !r->careful) {
			/* straight into the batch; a bad line (rare) sends the
			 * whole batch again, each line in a child transaction,
			 * unless the lines check everything before writing */
			rc = call(r, t, l, &le);
			if (rc != 0 && !fatal(rc) && !r->b->no_sub)
				return BATCH_CAREFUL;
		} else {
			if ((rc = msp_txn_sub(r->st, t, &sub, e)) != 0)
				return rc;
			rc = call(r, sub, l, &le);
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
	if (r->b->end != NULL)
		return r->b->end(r->st, t, r->b->arg, e);
	return 0;
}

static void
lines_free(struct msp_batch *b, struct line *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_object_put(v[i].in);
		json_object_put(v[i].out);
		if (!v[i].borrowed)
			free(v[i].where);
		free(v[i].err);
		free(v[i].perr);
		if (v[i].state != NULL && b->prep_free != NULL)
			b->prep_free(v[i].state);
		memset(&v[i], 0, sizeof(v[i]));
	}
}

/* Commit the pending lines, then hand out results and reports in order. */
static int
flush(struct run *r, int *stop, struct msp_err *e)
{
	struct msp_batch *b = r->b;
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
	for (i = 0; rc == 0 && i < r->n; i++) {
		struct line *l = &r->lines[i];
		const char *why = l->perr != NULL ? l->perr : l->err;

		if (why != NULL) {
			b->bad++;
			if (b->report)
				b->report(why, l->perr != NULL ? MSP_EINVAL :
				    l->code, b->cbarg);
			if (b->strict)
				*stop = 1;
		} else {
			b->ok++;
			if (l->out != NULL && b->emit)
				b->emit(l->out, b->cbarg);
			if (b->accept != NULL)
				b->accept(l->state, b->arg);
		}
	}
	return rc;
}

/* ---- one line at a time --------------------------------------------- */

static int
run_plain(struct run *r, struct msp_jsonl *jr, size_t size, struct msp_err *e)
{
	struct msp_batch *b = r->b;
	int rc = 0, stop = 0;

	while (!stop && !msp_stop_requested()) {
		json_object *o;
		struct msp_err le;
		int got = msp_jsonl_read(jr, &o, &le);

		if (got == 0)
			break;
		if (got == MSP_EINVAL) {
			/* keep order: flush what came before, then report */
			rc = flush(r, &stop, e);
			lines_free(b, r->lines, r->n);
			r->n = 0;
			if (rc != 0)
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
		r->lines[r->n].in = o;
		r->lines[r->n].where = msp_strdup(msp_jsonl_where(jr));
		r->n++;
		if (r->lines[r->n - 1].where == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			break;
		}
		if (b->prep != NULL && (rc = b->prep(o,
		    &r->lines[r->n - 1].state, b->arg, e)) != 0)
			break;
		/* strict: each line alone, so nothing after a bad one lands */
		if (r->n == size || b->strict) {
			rc = flush(r, &stop, e);
			lines_free(b, r->lines, r->n);
			r->n = 0;
			if (rc != 0)
				break;
		}
	}
	if (rc == 0 && !stop)
		rc = flush(r, &stop, e);
	lines_free(b, r->lines, r->n);
	r->n = 0;
	return rc;
}

/* ---- prepared on a second thread ------------------------------------ */

/*
 * The main thread reads a batch's lines and hands them to the preparing
 * thread, then applies the batch before while that thread parses and
 * prepares them, and frees the batch applied before that: what a thread
 * allocates, it frees (malloc is slow at frees from another thread).
 * Three sets of lines go round: applied, prepared, freed.
 */
struct lset {
	struct line *v;
	size_t n;
	char *text;  /* the lines' text and where, NUL-terminated */
	size_t tn, tcap;
};

struct pipe {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lset *job;   /* lines to prepare; NULL when none */
	struct lset *junk;  /* lines to free first; NULL when none */
	int busy;           /* a job was handed over and is not done */
	int quit;
	int rc;             /* prep's fatal error */
	struct msp_err err;
	struct msp_batch *b;
	json_tokener *tok;
};

static void
lset_free(struct msp_batch *b, struct lset *s)
{
	lines_free(b, s->v, s->n);
	s->n = 0;
	s->tn = 0;
}

static int
prep_line(struct pipe *p, struct line *l, struct msp_err *e)
{
	struct msp_err le;
	json_object *o;
	int got;

	got = msp_jsonl_parse(p->tok, l->raw, l->rawn, l->where, &o, &le);
	l->raw = NULL; /* the set's text */
	if (got != 1) {
		if ((l->perr = msp_strdup(le.msg)) == NULL)
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		return 0;
	}
	l->in = o;
	return p->b->prep(o, &l->state, p->b->arg, e);
}

static void *
prep_main(void *arg)
{
	struct pipe *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct msp_err le;
		struct lset *job, *junk;
		size_t i;
		int rc = 0;

		while (!p->busy && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->busy)
			break;
		job = p->job;
		junk = p->junk;
		pthread_mutex_unlock(&p->mu);
		if (junk != NULL)
			lset_free(p->b, junk);
		msp_err_clear(&le);
		for (i = 0; job != NULL && i < job->n && rc == 0; i++)
			rc = prep_line(p, &job->v[i], &le);
		pthread_mutex_lock(&p->mu);
		if (rc != 0 && p->rc == 0) {
			p->rc = rc;
			p->err = le;
		}
		p->job = p->junk = NULL;
		p->busy = 0;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
pipe_submit(struct pipe *p, struct lset *job, struct lset *junk)
{
	pthread_mutex_lock(&p->mu);
	p->job = job;
	p->junk = junk;
	p->busy = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Wait for the job handed over; its fatal error, or 0. */
static int
pipe_wait(struct pipe *p, struct msp_err *e)
{
	int rc;

	pthread_mutex_lock(&p->mu);
	while (p->busy)
		pthread_cond_wait(&p->cv, &p->mu);
	rc = p->rc;
	if (rc != 0)
		*e = p->err;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static int
text_add(struct lset *s, const char *p, size_t n, size_t *off)
{
	if (msp_grow(&s->text, &s->tcap, s->tn + n + 1, 1, 1 << 20) != 0)
		return -1;
	memcpy(s->text + s->tn, p, n);
	s->text[s->tn + n] = '\0';
	*off = s->tn;
	s->tn += n + 1;
	return 0;
}

/* Up to size lines' text into s (empty). */
static int
read_lines(struct msp_jsonl *jr, struct lset *s, size_t size, int *eof,
    struct msp_err *e)
{
	size_t i, *off;
	int rc = 0;

	if ((off = malloc(2 * size * sizeof(*off))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	while (s->n < size && !msp_stop_requested()) {
		const char *w, *line;
		size_t len;
		int got = msp_jsonl_next(jr, &line, &len, e);

		if (got == 0) {
			*eof = 1;
			break;
		}
		if (got < 0) {
			rc = got;
			break;
		}
		w = msp_jsonl_where(jr);
		if (text_add(s, line, len, &off[2 * s->n]) != 0 ||
		    text_add(s, w, strlen(w), &off[2 * s->n + 1]) != 0) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			break;
		}
		s->v[s->n].rawn = len;
		s->n++;
	}
	/* the text is in place: point into it */
	for (i = 0; i < s->n; i++) {
		s->v[i].raw = s->text + off[2 * i];
		s->v[i].where = s->text + off[2 * i + 1];
		s->v[i].borrowed = 1;
	}
	free(off);
	return rc;
}

static int
run_piped(struct run *r, struct msp_jsonl *jr, size_t size, struct msp_err *e)
{
	struct lset set[3], *ready, *fresh, *old = NULL, *x;
	struct pipe p;
	struct msp_err re;
	sigset_t all, sigs;
	int i, rc, rrc = 0, stop = 0, eof = 0;

	memset(&p, 0, sizeof(p));
	memset(set, 0, sizeof(set));
	p.b = r->b;
	set[0].v = r->lines;
	for (i = 1; i < 3; i++)
		if ((set[i].v = calloc(size, sizeof(*set[i].v))) == NULL)
			break;
	if (i < 3 || (p.tok = json_tokener_new_ex(64)) == NULL) {
		free(set[1].v);
		free(set[2].v);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	/* signals are the main thread's: it stops the run */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &sigs);
	rc = pthread_create(&p.th, NULL, prep_main, &p);
	pthread_sigmask(SIG_SETMASK, &sigs, NULL);
	if (rc != 0) {
		rc = msp_err_set(e, MSP_ENOMEM, "cannot start a thread");
		goto out;
	}
	ready = &set[0];
	if ((rc = read_lines(jr, ready, size, &eof, e)) == 0 && ready->n > 0)
		pipe_submit(&p, ready, NULL);
	fresh = &set[1];
	while (rc == 0 && ready->n > 0) {
		if ((rc = pipe_wait(&p, e)) != 0)
			break;
		/* ready is prepared, old freed: read and hand over the next */
		if (!eof && !msp_stop_requested())
			rrc = read_lines(jr, fresh, size, &eof, &re);
		if (rrc == 0 && fresh->n > 0 && !msp_stop_requested())
			pipe_submit(&p, fresh, old);
		else if (old != NULL)
			pipe_submit(&p, NULL, old);
		r->lines = ready->v;
		r->n = ready->n;
		rc = flush(r, &stop, e);
		r->n = 0;
		if (rc == 0 && rrc != 0) {
			rc = rrc;
			*e = re;
		}
		if (rc != 0 || stop || msp_stop_requested())
			break;
		/* round: ready is to be freed, fresh is being prepared */
		x = old != NULL ? old : &set[2];
		old = ready;
		ready = fresh;
		fresh = x;
		if (ready->n == 0) /* nothing handed over */
			break;
	}
	pipe_wait(&p, &re);
	pthread_mutex_lock(&p.mu);
	p.quit = 1;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	pthread_join(p.th, NULL);
out:
	for (i = 0; i < 3; i++) {
		lset_free(r->b, &set[i]);
		free(set[i].text);
	}
	free(set[1].v);
	free(set[2].v);
	r->lines = set[0].v;
	r->n = 0;
	json_tokener_free(p.tok);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	return rc;
}

int
msp_batch_run(struct msp_store *st, struct msp_jsonl *jr,
    struct msp_batch *b, struct msp_err *e)
{
	struct run r = { st, b, NULL, 0, 0 };
	size_t size = b->size ? b->size : 1000;
	int rc;

	b->ok = b->bad = 0;
	if ((r.lines = calloc(size, sizeof(*r.lines))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if (b->prep != NULL && !b->strict)
		rc = run_piped(&r, jr, size, e);
	else
		rc = run_plain(&r, jr, size, e);
	free(r.lines);
	return rc;
}
