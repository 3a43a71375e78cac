/* In-process latency of `msp-catalog list --genre G --limit 20`: the same
 * library call the tool makes, timed over many calls. Prints p50, p99 and
 * max in microseconds. usage: listbench STORE CALLS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "store.h"

static int
count(json_object *v, void *arg, struct msp_err *e)
{
	(void)v;
	(void)e;
	(*(long *)arg)++;
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const char *genres[] = { "drama", "comedy", "horror", "western",
	    "kids", "news" };
	struct msp_store *st;
	struct msp_err e;
	long calls = argc > 2 ? atol(argv[2]) : 10000, i, got = 0;
	double *lat;

	if (argc < 2 || msp_store_open(&st, argv[1], MSP_STORE_EXISTING, &e)) {
		fprintf(stderr, "listbench: %s\n", argc < 2 ? "usage" : e.msg);
		return 3;
	}
	lat = calloc((size_t)calls, sizeof(*lat));
	for (i = 0; i < calls; i++) {
		struct msp_video_query q;
		struct timespec a, b;
		MDB_txn *t;
		char *next = NULL;

		memset(&q, 0, sizeof(q));
		q.genre = genres[i % 6];
		q.premium = -1;
		q.limit = 20;
		clock_gettime(CLOCK_MONOTONIC, &a);
		msp_txn_begin(st, 0, &t, &e);
		if (msp_video_list(st, t, &q, count, &got, &next, &e) != 0) {
			fprintf(stderr, "listbench: %s\n", e.msg);
			return 3;
		}
		msp_txn_abort(st, t);
		clock_gettime(CLOCK_MONOTONIC, &b);
		free(next);
		lat[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
	}
	qsort(lat, (size_t)calls, sizeof(*lat), cmp);
	printf("list --genre G --limit 20: %ld calls, %ld videos, p50 %.1f us, "
	    "p99 %.1f us, max %.1f us\n", calls, got, lat[calls / 2],
	    lat[calls * 99 / 100], lat[calls - 1]);
	free(lat);
	msp_store_close(st);
	return 0;
}
