/* bench/pay/active.c: the premium question, msp_pay_active(), as msp-serve
 * asks it for each HLS request (a read transaction of its own), against a
 * reference measured in the same run on the same store: a bare LMDB read
 * transaction and mdb_get of the same subscription record (no email
 * normalisation, no JSON). usage: active STORE USERS CALLS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay.h"
#include "util.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct fill {
	struct msp_store *st;
	long users;
};

static int
fill(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct fill *f = arg;
	char rec[256];
	long i;
	int rc;

	for (i = 0; i < f->users; i++) {
		json_object *o;
		/* half active, half expired */
		snprintf(rec, sizeof(rec), "{\"type\":\"subscription\",\"v\":1,"
		    "\"user\":\"u%ld@example.com\","
		    "\"subscriptionStartTimestamp\":1000,"
		    "\"subscriptionEndTimestamp\":%s}", i,
		    i % 2 ? "4102444800000" : "2000");
		o = json_tokener_parse(rec);
		rc = msp_pay_import_subscription(f->st, t, o, e);
		json_object_put(o);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct msp_store *st;
	struct msp_err e;
	struct fill f;
	long users, calls, i, active = 0, found = 0;
	char email[64];
	double t0, t_msp, t_ref;
	int64_t ms = msp_now_ms();

	if (argc != 4)
		return 2;
	users = atol(argv[2]);
	calls = atol(argv[3]);
	if (msp_store_open(&st, argv[1], 0, &e) != 0) {
		fprintf(stderr, "%s\n", e.msg);
		return 3;
	}
	f.st = st;
	f.users = users;
	if (msp_store_write(st, fill, &f, &e) != 0) {
		fprintf(stderr, "%s\n", e.msg);
		return 3;
	}
	t0 = now();
	for (i = 0; i < calls; i++) {
		snprintf(email, sizeof(email), "u%ld@example.com",
		    (i * 7919) % users);
		if (msp_pay_active(st, NULL, email, ms, NULL, &e) == 1)
			active++;
	}
	t_msp = now() - t0;
	t0 = now();
	for (i = 0; i < calls; i++) {
		MDB_txn *t;
		MDB_val v;
		snprintf(email, sizeof(email), "u%ld@example.com",
		    (i * 7919) % users);
		if (msp_txn_begin(st, 0, &t, &e) != 0)
			return 3;
		if (msp_db_get(st, t, MSP_DB_SUBS, email, strlen(email), &v,
		    &e) == 0)
			found++;
		msp_txn_abort(st, t);
	}
	t_ref = now() - t0;
	printf("msp_pay_active: %ld calls in %.3f s, %.0f calls/s (%ld active)\n",
	    calls, t_msp, calls / t_msp, active);
	printf("reference, LMDB read txn + mdb_get: %ld calls in %.3f s, "
	    "%.0f calls/s (%ld found)\n", calls, t_ref, calls / t_ref, found);
	printf("ratio (msp_pay_active time / reference time): %.2f\n",
	    t_msp / t_ref);
	msp_store_close(st);
	return 0;
}
