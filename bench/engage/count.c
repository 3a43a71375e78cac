/*
 * count: in-process latency of msp_like_count, each call in its own read
 * transaction, against the reference a store without counters needs:
 * counting the video's like records with a cursor.
 * usage: count STORE IDS-FILE CALLS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engage.h"
#include "store.h"
#include "util.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* the reference: count the records of a video by walking them */
static uint64_t
scan_count(struct msp_store *st, MDB_txn *t, const char *id)
{
	MDB_cursor *c;
	MDB_val k, v;
	char pre[MSP_ID_LEN + 1];
	uint64_t n = 0;
	int rc;

	memcpy(pre, id, MSP_ID_LEN);
	pre[MSP_ID_LEN] = '\0';
	if (mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_LIKES), &c) != 0)
		return 0;
	k.mv_data = pre;
	k.mv_size = sizeof(pre);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < sizeof(pre) || memcmp(k.mv_data, pre,
		    sizeof(pre)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(c);
	return n;
}

static void
report(const char *what, double *lat, long n, uint64_t total)
{
	double sum = 0;
	long i;

	for (i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	printf("%-28s mean %8.2f us  p50 %8.2f us  p99 %8.2f us  "
	    "(likes seen %llu)\n", what, sum / n * 1e6, lat[n / 2] * 1e6,
	    lat[n * 99 / 100] * 1e6, (unsigned long long)total);
}

int
main(int argc, char **argv)
{
	struct msp_store *st;
	struct msp_err e;
	char **ids = NULL, line[128];
	double *lat, mean_c, mean_s;
	long nids = 0, cap = 0, calls, i;
	uint64_t total, n;
	FILE *f;
	int pass;

	if (argc != 4 || (calls = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: count STORE IDS-FILE CALLS\n");
		return 2;
	}
	if ((f = fopen(argv[2], "r")) == NULL) {
		perror(argv[2]);
		return 3;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (nids == cap) {
			char **p;
			cap = cap ? cap * 2 : 1024;
			if ((p = realloc(ids, (size_t)cap * sizeof(*ids))) == NULL)
				return 3;
			ids = p;
		}
		if ((ids[nids++] = strdup(line)) == NULL)
			return 3;
	}
	fclose(f);
	if (nids == 0 || (lat = calloc((size_t)calls, sizeof(*lat))) == NULL)
		return 3;
	if (msp_store_open(&st, argv[1], MSP_STORE_EXISTING, &e) != 0) {
		fprintf(stderr, "count: %s\n", e.msg);
		return 3;
	}
	mean_c = mean_s = 0;
	for (pass = 0; pass < 2; pass++) {
		total = 0;
		for (i = 0; i < calls; i++) {
			const char *id = ids[(i * 7919) % nids];
			MDB_txn *t;
			double t0 = now();

			if (msp_txn_begin(st, 0, &t, &e) != 0) {
				fprintf(stderr, "count: %s\n", e.msg);
				return 3;
			}
			if (pass == 0) {
				if (msp_like_count(st, t, id, &n, &e) != 0) {
					fprintf(stderr, "count: %s\n", e.msg);
					return 3;
				}
			} else {
				n = scan_count(st, t, id);
			}
			msp_txn_abort(st, t);
			lat[i] = now() - t0;
			total += n;
		}
		for (i = 0; i < calls; i++)
			*(pass == 0 ? &mean_c : &mean_s) += lat[i] / calls;
		report(pass == 0 ? "msp_like_count (counter)" :
		    "reference (scan records)", lat, calls, total);
	}
	printf("count latency ratio (counter / scan, mean): %.3f\n",
	    mean_c / mean_s);
	msp_store_close(st);
	for (i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	free(lat);
	return 0;
}
