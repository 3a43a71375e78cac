/* Unit tests for lib/jobs.c: the durable transcode queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "jobs.h"
#include "jsonl.h"
#include "tap.h"
#include "util.h"

static struct msp_store *st;

static const char *
str(json_object *o, const char *f)
{
	json_object *x;

	if (o != NULL && json_object_object_get_ex(o, f, &x) && x != NULL)
		return json_object_get_string(x);
	return "";
}

struct enq {
	const char *vid;
	json_object *job;
};

static int
enq_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct enq *q = arg;

	json_object_put(q->job);
	q->job = NULL;
	return msp_job_enqueue(st, t, q->vid, &q->job, e);
}

static json_object *
enqueue(const char *vid)
{
	struct enq q = { vid, NULL };
	struct msp_err e;

	if (msp_store_write(st, enq_txn, &q, &e) != 0) {
		printf("# enqueue %s: %s\n", vid, e.msg);
		return NULL;
	}
	return q.job;
}

int
main(void)
{
	char dir[] = "/tmp/msp-test-jobs.XXXXXX", v1[MSP_ID_LEN + 1],
	    v2[MSP_ID_LEN + 1], v3[MSP_ID_LEN + 1], id1[MSP_ID_LEN + 1];
	struct msp_err e;
	json_object *a, *b, *c, *j, *rec;
	int64_t t0 = 1795000000000LL;
	char cmd[128];
	int rc;

	if (mkdtemp(dir) == NULL)
		return 3;
	msp_now_set(t0);
	rc = msp_store_open(&st, dir, 0, &e);
	ok(rc == 0, "open store %s", rc ? e.msg : "");
	msp_id_new(v1);
	msp_id_new(v2);
	msp_id_new(v3);

	/* enqueue is idempotent while a job is queued */
	a = enqueue(v1);
	ok(a != NULL && strcmp(str(a, "state"), "queued") == 0,
	    "enqueue gives a queued job");
	ok(strcmp(str(a, "videoId"), v1) == 0, "job names its video");
	snprintf(id1, sizeof(id1), "%s", str(a, "id"));
	b = enqueue(v1);
	ok(b != NULL && strcmp(str(b, "id"), id1) == 0,
	    "second enqueue of the same video returns the same job");
	json_object_put(b);
	ok(msp_job_count(st, NULL, "queued", &e) == 1, "one queued job");
	msp_now_set(t0 + 10);
	c = enqueue(v2);
	ok(c != NULL, "enqueue another video");
	ok(msp_job_count(st, NULL, "queued", &e) == 2, "two queued jobs");
	ok(msp_job_count(st, NULL, "bogus", &e) == MSP_EINVAL,
	    "count of an unknown state is refused");

	/* claim takes the oldest first */
	rc = msp_job_claim(st, "w1", 1000, &j, &e);
	ok(rc == 0 && strcmp(str(j, "id"), id1) == 0,
	    "claim takes the oldest queued job");
	ok(strcmp(str(j, "state"), "running") == 0 &&
	    strcmp(str(j, "worker"), "w1") == 0 &&
	    strcmp(str(j, "attempts"), "1") == 0, "claimed job is running");
	json_object_put(j);
	ok(msp_job_count(st, NULL, "queued", &e) == 1 &&
	    msp_job_count(st, NULL, "running", &e) == 1, "counts follow");

	/* enqueue while running gives the running job */
	b = enqueue(v1);
	ok(b != NULL && strcmp(str(b, "id"), id1) == 0 &&
	    strcmp(str(b, "state"), "running") == 0,
	    "enqueue of a running video returns the running job");
	json_object_put(b);

	rc = msp_job_claim(st, "w2", 1000, &j, &e);
	ok(rc == 0 && strcmp(str(j, "id"), str(c, "id")) == 0,
	    "second claim takes the next job");
	json_object_put(j);
	rc = msp_job_claim(st, "w3", 1000, &j, &e);
	ok(rc == MSP_ENOTFOUND && j == NULL, "nothing left to claim");

	/* renew: only the holder */
	ok(msp_job_renew(st, id1, "w1", 5000, &e) == 0, "holder renews");
	rc = msp_job_renew(st, id1, "w2", 5000, &e);
	ok(rc == MSP_EPERM, "another worker cannot renew: %s", e.msg);
	ok(msp_job_renew(st, id1, "w1", 0, &e) == MSP_EINVAL,
	    "zero lease refused");
	ok(msp_job_renew(st, id1, "", 10, &e) == MSP_EINVAL,
	    "empty worker refused");

	/* an expired lease is claimed again, before queued jobs */
	msp_now_set(t0 + 2000);
	a = (json_object_put(a), enqueue(v3));
	rc = msp_job_claim(st, "w4", 1000, &j, &e);
	ok(rc == 0 && strcmp(str(j, "id"), str(c, "id")) == 0 &&
	    strcmp(str(j, "attempts"), "2") == 0 &&
	    strcmp(str(j, "worker"), "w4") == 0,
	    "expired lease is claimed again with one more attempt");
	json_object_put(j);
	ok(msp_job_renew(st, str(c, "id"), "w2", 1000, &e) == MSP_EPERM,
	    "the old worker lost its lease: %s", e.msg);

	/* claim_video */
	rc = msp_job_claim_video(st, v1, "w9", 1000, &j, &e);
	ok(rc == MSP_EAGAIN, "claim_video of a leased job: %s", e.msg);
	rc = msp_job_claim_video(st, v1, "w1", 1000, &j, &e);
	ok(rc == 0 && strcmp(str(j, "id"), id1) == 0,
	    "its own worker may claim it again");
	json_object_put(j);
	rc = msp_job_claim_video(st, v3, "w5", 1000, &j, &e);
	ok(rc == 0 && strcmp(str(j, "id"), str(a, "id")) == 0,
	    "claim_video takes the queued job of the video");
	json_object_put(j);

	/* release: a stopped run puts its job back, the try not counted */
	{
		int64_t tries;

		rc = msp_job_get(st, NULL, id1, &j, &e);
		tries = json_object_get_int64(json_object_object_get(j,
		    "attempts"));
		json_object_put(j);
		ok(msp_job_release(st, NULL, id1, "w2", &e) == MSP_EPERM,
		    "another worker cannot release: %s", e.msg);
		ok(msp_job_release(st, NULL, id1, "w1", &e) == 0,
		    "holder releases");
		rc = msp_job_get(st, NULL, id1, &j, &e);
		ok(rc == 0 && strcmp(str(j, "state"), "queued") == 0 &&
		    json_object_object_get(j, "worker") == NULL &&
		    json_object_object_get(j, "leaseUntil") == NULL &&
		    json_object_get_int64(json_object_object_get(j,
		    "attempts")) == tries - 1, "released: queued, no worker, "
		    "one attempt less");
		json_object_put(j);
		ok(msp_job_release(st, NULL, id1, "w1", &e) == MSP_EPERM,
		    "a queued job cannot be released: %s", e.msg);
		rc = msp_job_claim_video(st, v1, "w1", 1000, &j, &e);
		ok(rc == 0 && strcmp(str(j, "id"), id1) == 0,
		    "a released job is claimed again");
		json_object_put(j);
	}

	/* finish */
	ok(msp_job_finish(st, NULL, id1, NULL, &e) == 0, "finish done");
	rc = msp_job_get(st, NULL, id1, &j, &e);
	ok(rc == 0 && strcmp(str(j, "state"), "done") == 0 &&
	    json_object_object_get_ex(j, "leaseUntil", &rec) && rec == NULL,
	    "done job has no lease");
	json_object_put(j);
	ok(msp_job_finish(st, NULL, str(c, "id"), "decoder exploded", &e) ==
	    0, "finish failed");
	rc = msp_job_get(st, NULL, str(c, "id"), &j, &e);
	ok(rc == 0 && strcmp(str(j, "state"), "failed") == 0 &&
	    strcmp(str(j, "error"), "decoder exploded") == 0,
	    "failed job keeps its reason");
	json_object_put(j);
	ok(msp_job_count(st, NULL, "done", &e) == 1 &&
	    msp_job_count(st, NULL, "failed", &e) == 1 &&
	    msp_job_count(st, NULL, "running", &e) == 1 &&
	    msp_job_count(st, NULL, "queued", &e) == 0, "counts by state");
	ok(msp_job_renew(st, id1, "w1", 1000, &e) == MSP_EPERM,
	    "a finished job cannot be renewed");

	/* a video whose job is done gets a new one */
	b = enqueue(v1);
	ok(b != NULL && strcmp(str(b, "id"), id1) != 0 &&
	    strcmp(str(b, "state"), "queued") == 0,
	    "enqueue after done queues a new job");
	json_object_put(b);
	rc = msp_job_claim_video(st, v2, "w6", 1000, &j, &e);
	ok(rc == 0 && strcmp(str(j, "id"), str(c, "id")) != 0,
	    "claim_video after failure creates and claims a new job");
	json_object_put(j);

	ok(msp_job_get(st, NULL, "00000000000000000000000000", &j, &e) ==
	    MSP_ENOTFOUND, "unknown job: %s", e.msg);
	ok(msp_job_finish(st, NULL, "nope", NULL, &e) == MSP_EINVAL,
	    "finish of a bad id refused");
	ok(msp_job_enqueue(st, NULL, "x", NULL, &e) == MSP_EINVAL,
	    "enqueue of a bad video id refused");

	/* a job whose worker is lost 3 times fails, and its video too */
	{
		MDB_txn *t;
		json_object *in, *vid = NULL, *u = NULL;
		const char *vidid;
		char jid[MSP_ID_LEN + 1];
		int k;

		/* finish every job so far: the queue is empty */
		msp_now_set(t0 + 50000);
		while (msp_job_claim(st, "drain", 1000, &j, &e) == 0) {
			msp_job_finish(st, NULL, str(j, "id"), NULL, &e);
			json_object_put(j);
		}
		msp_txn_begin(st, 1, &t, &e);
		rc = msp_user_add(st, t, "ann@example.com", 0, &u, &e);
		in = json_tokener_parse("{\"videoType\":\"short\","
		    "\"name\":\"x\",\"uploadedBy\":\"ann@example.com\"}");
		if (rc == 0)
			rc = msp_video_add(st, t, in, &vid, &e);
		if (rc == 0)
			rc = msp_job_enqueue(st, t, str(vid, "id"), &j, &e);
		ok(rc == 0, "a video and its job %s", rc ? e.msg : "");
		msp_txn_commit(st, t, &e);
		snprintf(jid, sizeof(jid), "%s", str(j, "id"));
		json_object_put(j);
		vidid = str(vid, "id");
		for (k = 1; k <= 3; k++) {
			msp_now_set(t0 + 100000 * k);
			rc = msp_job_claim(st, "crashy", 1000, &j, &e);
			ok(rc == 0 && strcmp(str(j, "id"), jid) == 0 &&
			    json_object_get_int(json_object_object_get(j,
			    "attempts")) == k, "attempt %d claims it", k);
			json_object_put(j);
		}
		msp_now_set(t0 + 500000);
		rc = msp_job_claim(st, "crashy", 1000, &j, &e);
		ok(rc == MSP_ENOTFOUND, "after 3 lost workers it is not claimed");
		rc = msp_job_get(st, NULL, jid, &j, &e);
		ok(rc == 0 && strcmp(str(j, "state"), "failed") == 0 &&
		    strstr(str(j, "error"), "3 attempts") != NULL,
		    "the job failed: %s", str(j, "error"));
		json_object_put(j);
		msp_txn_begin(st, 0, &t, &e);
		rc = msp_video_get(st, t, vidid, &j, &e);
		msp_txn_abort(st, t);
		ok(rc == 0 && strcmp(str(j, "status"), "failed") == 0,
		    "its video failed too");
		json_object_put(j);
		json_object_put(in);
		json_object_put(vid);
		json_object_put(u);
	}

	/* import: round trip into a fresh store, indexes rebuilt */
	{
		char dir2[] = "/tmp/msp-test-jobs2.XXXXXX";
		struct msp_store *st2;
		MDB_txn *t;
		const char *s = msp_json_str_of(c, NULL);

		if (mkdtemp(dir2) == NULL)
			return 3;
		rc = msp_store_open(&st2, dir2, 0, &e);
		ok(rc == 0, "open second store");
		rec = json_tokener_parse(s);
		msp_txn_begin(st2, 1, &t, &e);
		rc = msp_job_import(st2, t, rec, &e);
		ok(rc == 0, "import a job %s", rc ? e.msg : "");
		rc = msp_job_import(st2, t, rec, &e);
		ok(rc == MSP_EEXIST, "import twice: %s", e.msg);
		ok(msp_job_count(st2, t, "queued", &e) == 1,
		    "import rebuilt the state index");
		msp_txn_commit(st2, t, &e);
		json_object_object_add(rec, "state",
		    json_object_new_string("paused"));
		msp_txn_begin(st2, 1, &t, &e);
		rc = msp_job_import(st2, t, rec, &e);
		ok(rc == MSP_EINVAL && strstr(e.msg, "state") != NULL,
		    "bad state refused: %s", e.msg);
		json_object_object_add(rec, "state",
		    json_object_new_string("queued"));
		json_object_object_add(rec, "createdAt",
		    json_object_new_string("yesterday"));
		rc = msp_job_import(st2, t, rec, &e);
		ok(rc == MSP_EINVAL, "bad time refused: %s", e.msg);
		msp_txn_abort(st2, t);
		json_object_put(rec);
		msp_store_close(st2);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir2);
		if (system(cmd) != 0)
			printf("# cannot remove %s\n", dir2);
	}

	json_object_put(a);
	json_object_put(c);
	msp_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", dir);
	done_testing();
}
