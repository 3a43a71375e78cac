/* The hashing pool: routes that spend argon2id (login, signup) run on a
 * few threads of their own while their connections are suspended, so
 * the request threads keep answering every other route. Waiting requests
 * are bounded (--hash-queue); beyond that they get 503 and Retry-After.
 * Each hash takes libsodium's interactive memory (64 MiB), so the pool's
 * size bounds the memory logins can take. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct msp_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t *th;
	unsigned nth;
	struct msp_req **q;        /* ring of waiting requests */
	unsigned cap, head, n;
	int stop;
};

/* Answer the request on its connection's thread (after the resume): the
 * route ran here, its response was kept (see msp_reply). */
static void
finish(struct msp_req *r)
{
	if (!r->done)
		msp_reply_error(r, 500, "internal error");
	MHD_resume_connection(r->conn);
}

static void *
pool_main(void *arg)
{
	struct msp_http *h = arg;
	struct msp_pool *p = h->pool;
	struct msp_req *r;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->n == 0 && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->n == 0) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		r = p->q[p->head];
		p->head = (p->head + 1) % p->cap;
		p->n--;
		pthread_mutex_unlock(&p->mu);
		r->route->fn(r);
		finish(r);
	}
}

int
msp_pool_start(struct msp_http *h, struct msp_err *e)
{
	struct msp_pool *p;
	unsigned i;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	p->cap = h->c.hash_queue + 1;
	p->nth = h->c.hash_threads ? h->c.hash_threads : 1;
	p->q = calloc(p->cap, sizeof(*p->q));
	p->th = calloc(p->nth, sizeof(*p->th));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	h->pool = p;
	if (p->q == NULL || p->th == NULL) {
		p->nth = 0;
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	for (i = 0; i < p->nth; i++)
		if (pthread_create(&p->th[i], NULL, pool_main, h) != 0) {
			p->nth = i;
			return msp_err_set(e, MSP_ENOMEM, "cannot start a "
			    "thread");
		}
	return 0;
}

int
msp_pool_submit(struct msp_http *h, struct msp_req *r)
{
	struct msp_pool *p = h->pool;
	unsigned busy;

	pthread_mutex_lock(&p->mu);
	/* the queue holds what waits for a thread, not what is hashing */
	busy = p->n;
	if (p->stop || busy >= p->cap - 1) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	r->pooled = 1;
	MHD_suspend_connection(r->conn);
	p->q[(p->head + p->n) % p->cap] = r;
	p->n++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/* Let the threads finish what is queued, then end them. */
void
msp_pool_stop(struct msp_http *h)
{
	struct msp_pool *p = h->pool;
	unsigned i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->q);
	free(p->th);
	free(p);
	h->pool = NULL;
}
