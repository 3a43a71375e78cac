/* Unit tests for lib/engage.c: likes, ratings, their counters, feeds and
 * the checker that compares counters with records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "engage.h"
#include "jsonl.h"
#include "tap.h"
#include "util.h"

static struct msp_store *st;
static MDB_txn *t;
static char reports[4096];

static const char *
str(json_object *o, const char *f)
{
	json_object *x;

	if (o != NULL && json_object_object_get_ex(o, f, &x) && x != NULL)
		return json_object_get_string(x);
	return "";
}

static void
on_report(const char *msg, void *arg)
{
	(void)arg;
	if (strlen(reports) + strlen(msg) + 2 < sizeof(reports)) {
		strcat(reports, msg);
		strcat(reports, "; ");
	}
}

static int
check(void)
{
	struct msp_err e;

	reports[0] = '\0';
	return msp_engage_check(st, t, on_report, NULL, &e);
}

static int
add_video(const char *json, char id[MSP_ID_LEN + 1])
{
	json_object *in = json_tokener_parse(json), *out = NULL;
	struct msp_err e;
	int rc = msp_video_add(st, t, in, &out, &e);

	if (rc != 0)
		printf("# add video: %s\n", e.msg);
	else
		snprintf(id, MSP_ID_LEN + 1, "%s", str(out, "id"));
	json_object_put(in);
	json_object_put(out);
	return rc;
}

static int
take(const char *id, int probe, void *arg, struct msp_err *e)
{
	(void)probe;
	(void)e;
	if (!probe)
		snprintf(arg, MSP_ID_LEN + 1, "%s", id);
	return 1;
}

int
main(void)
{
	char dir[] = "/tmp/msp-test-engage.XXXXXX", cmd[128];
	char s1[MSP_ID_LEN + 1], s2[MSP_ID_LEN + 1], l1[MSP_ID_LEN + 1];
	char got[MSP_ID_LEN + 1], *next = NULL;
	unsigned char bad[8] = { 0, 0, 0, 0, 0, 0, 0, 7 };
	struct msp_err e;
	json_object *o;
	uint64_t n;
	int rc, r;

	if (mkdtemp(dir) == NULL)
		return 3;
	rc = msp_store_open(&st, dir, 0, &e);
	ok(rc == 0, "open store %s", rc ? e.msg : "");
	rc = msp_txn_begin(st, 1, &t, &e);
	ok(rc == 0, "write transaction");
	ok(msp_user_add(st, t, "ann@example.com", 0, NULL, &e) == 0 &&
	    msp_user_add(st, t, "bob@example.com", 0, NULL, &e) == 0,
	    "two users");
	ok(add_video("{\"videoType\":\"short\",\"name\":\"a\",\"uploadedBy\":"
	    "\"ann@example.com\",\"status\":\"ready\"}", s1) == 0 &&
	    add_video("{\"videoType\":\"short\",\"name\":\"b\",\"uploadedBy\":"
	    "\"ann@example.com\",\"status\":\"ready\"}", s2) == 0 &&
	    add_video("{\"videoType\":\"long\",\"title\":\"River\","
	    "\"language\":\"en\",\"genres\":[\"drama\"],\"uploadedBy\":"
	    "\"ann@example.com\",\"status\":\"ready\"}", l1) == 0,
	    "two short videos and a long one");

	/* likes and their count */
	ok(msp_like_add(st, t, "ann@example.com", s1, NULL, &n, &e) == 0 &&
	    n == 1, "ann likes a");
	ok(msp_like_add(st, t, "BOB@example.com", s1, NULL, &n, &e) == 0 &&
	    n == 2, "bob likes a");
	ok(msp_like_add(st, t, "ann@example.com", s1, NULL, &n, &e) == 0 &&
	    n == 2, "liking twice is one like");
	ok(msp_like_del(st, t, "bob@example.com", s1, &o, &n, &e) == 0 &&
	    n == 1 && o != NULL, "bob unlikes a");
	json_object_put(o);
	ok(msp_like_del(st, t, "bob@example.com", s1, &o, &n, &e) == 0 &&
	    n == 1 && o == NULL, "unliking twice is harmless");
	ok(msp_like_add(st, t, "ann@example.com", l1, NULL, &n, &e) ==
	    MSP_EINVAL, "a long video cannot be liked: %s", e.msg);
	ok(msp_like_count(st, t, s2, &n, &e) == 0 && n == 0,
	    "an unliked video counts 0");

	/* ratings: exact sum and count, two decimals, Bayesian score */
	ok(msp_rating_parse("4", &r, &e) == 0 && r == 4, "parse 4");
	ok(msp_rating_parse("0", &r, &e) == MSP_EINVAL &&
	    strcmp(e.msg, "0: rating must be an integer from 1 to 5") == 0,
	    "parse 0 is refused");
	ok(msp_rating_parse("3.5", &r, &e) == MSP_EINVAL, "parse 3.5");
	ok(msp_rating_set(st, t, "ann@example.com", l1, 5, NULL, &e) == 0 &&
	    msp_rating_set(st, t, "bob@example.com", l1, 2, NULL, &e) == 0 &&
	    msp_rating_set(st, t, "bob@example.com", l1, 3, NULL, &e) == 0,
	    "ratings set and replaced");
	ok(msp_rating_set(st, t, "bob@example.com", s1, 3, NULL, &e) ==
	    MSP_EINVAL, "a short video cannot be rated: %s", e.msg);
	ok(msp_rating_summary(st, t, l1, &o, &e) == 0, "summary");
	ok(strcmp(str(o, "averageRating"), "4.00") == 0 &&
	    strcmp(str(o, "ratingCount"), "2") == 0, "average 4.00 of 2");
	ok(strcmp(str(o, "score"), "3.29") == 0,
	    "score (5 * 3 + 8) / 7 = 3.29, got %s", str(o, "score"));
	json_object_put(o);

	/* feeds: most likes first, paged */
	ok(msp_engage_feed(st, t, MSP_SORT_LIKES, NULL, 1, take, got, &next,
	    &e) == 0 && strcmp(got, s1) == 0 && next != NULL,
	    "the most liked first, with a cursor");
	o = NULL;
	{
		char *cur = next;

		next = NULL;
		rc = msp_engage_feed(st, t, MSP_SORT_LIKES, cur, 1, take, got,
		    &next, &e);
		free(cur);
	}
	ok(rc == 0 && strcmp(got, s2) == 0 && next == NULL,
	    "then the next, and no more");
	ok(msp_engage_feed(st, t, MSP_SORT_LIKES, "garbage", 1, take, got,
	    &next, &e) == MSP_EINVAL, "a bad cursor is refused: %s", e.msg);

	/* the checker agrees, then finds each corruption */
	ok(check() == 0, "check finds nothing %s", reports);
	{
		char k[2 + MSP_ID_LEN];

		memcpy(k, "c", 2);
		memcpy(k + 2, s1, MSP_ID_LEN);
		ok(msp_db_put(st, t, MSP_DB_LIKE_IDX, k, sizeof(k), bad, 8, 0,
		    &e) == 0, "corrupt a like counter");
		ok(check() > 0 && strstr(reports, "counter says 7 likes, 1 "
		    "records") != NULL, "check reports it: %s", reports);
		ok(strstr(reports, "feed entry of") != NULL,
		    "and the stale feed entry");
	}
	msp_txn_abort(st, t);
	ok(msp_txn_begin(st, 1, &t, &e) == 0, "start over");
	ok(check() == 0, "nothing was kept");
	msp_txn_abort(st, t);

	msp_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", dir);
	done_testing();
}
