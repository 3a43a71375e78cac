/* Background workers: claim transcode jobs from the store's durable queue
 * and run them, as msp-transcode does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "hls.h"
#include "jobs.h"
#include "transcode.h"

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

#define LEASE_MS 120000L

struct worker {
	struct msp_http *h;
	unsigned idx;
};

static int
on_progress(const struct msp_tc_progress *p, void *arg)
{
	struct msp_http *h = arg;
	int stop;

	(void)p;
	pthread_mutex_lock(&h->wmu);
	stop = h->wstop;
	pthread_mutex_unlock(&h->wmu);
	return stop;
}

static void
wlog(struct msp_http *h, const char *what, const char *id, const char *msg)
{
	if (h->c.access_log == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	fprintf(h->c.access_log, "msp-serve: %s %s: %s\n", what, id, msg);
	fflush(h->c.access_log);
	pthread_mutex_unlock(&h->mu);
}

/* Claim a job, transcode its video (status, progress and the job's end are
 * written by msp_transcode_video), repeat; sleep while the queue is
 * empty, until woken by an upload or a second passes. */
static void *
worker(void *arg)
{
	struct worker *w = arg;
	struct msp_http *h = w->h;
	struct msp_tc_opts o;
	struct msp_err e;
	char name[160], host[64];
	json_object *job, *x;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(name, sizeof(name), "msp-serve@%s:%ld:%u", host,
	    (long)getpid(), w->idx);
	msp_tc_opts_init(&o);
	if (h->c.ladder != NULL)
		msp_hls_ladder_parse(h->c.ladder, &o.ladder, &e);
	o.progress = on_progress;
	o.arg = h;
	for (;;) {
		const char *vid, *jid;
		int rc;

		pthread_mutex_lock(&h->wmu);
		if (h->wstop) {
			pthread_mutex_unlock(&h->wmu);
			break;
		}
		pthread_mutex_unlock(&h->wmu);
		rc = msp_job_claim(h->st, name, LEASE_MS, &job, &e);
		if (rc != 0) {
			struct timespec ts;

			if (rc != MSP_ENOTFOUND)
				wlog(h, "claim", "-", e.msg);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_mutex_lock(&h->wmu);
			if (!h->wstop)
				pthread_cond_timedwait(&h->wcv, &h->wmu, &ts);
			pthread_mutex_unlock(&h->wmu);
			continue;
		}
		vid = json_object_object_get_ex(job, "videoId", &x) ?
		    json_object_get_string(x) : NULL;
		jid = json_object_object_get_ex(job, "id", &x) ?
		    json_object_get_string(x) : NULL;
		if (vid != NULL && jid != NULL) {
			rc = msp_transcode_video(h->st, vid, jid, name, &o, NULL,
			    &e);
			pthread_mutex_lock(&h->mu);
			if (rc == 0)
				h->jobs_done++;
			else if (rc != MSP_EAGAIN)
				h->jobs_failed++;
			pthread_mutex_unlock(&h->mu);
			if (rc != 0 && rc != MSP_EAGAIN)
				wlog(h, "transcode", vid, e.msg);
		}
		json_object_put(job);
	}
	free(w);
	return NULL;
}

int
msp_workers_start(struct msp_http *h, struct msp_err *e)
{
	struct msp_ladder l;
	unsigned i;

	if (h->c.ladder != NULL &&
	    msp_hls_ladder_parse(h->c.ladder, &l, e) != 0)
		return msp_err_prefix(e, "--ladder");
	if (h->c.workers == 0)
		return 0;
	if ((h->workers = calloc(h->c.workers, sizeof(*h->workers))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	for (i = 0; i < h->c.workers; i++) {
		struct worker *w = malloc(sizeof(*w));
		if (w == NULL)
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		w->h = h;
		w->idx = i;
		if (pthread_create(&h->workers[i], NULL, worker, w) != 0) {
			free(w);
			return msp_err_set(e, MSP_ENOMEM, "cannot start a "
			    "worker thread");
		}
		h->nworkers++;
	}
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
