/* /opensearch: search over lib/search (as msp-search does), answered in
 * the shape the original's client read; POST (admins only) updates a
 * video's indexed fields through the catalog, or rebuilds the index. The
 * index is msp's own: a caller-chosen "_index" is ignored. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "internal.h"
#include "jsonl.h"
#include "search.h"
#include "util.h"

#define HITS_DEFAULT 25
#define HITS_MAX 100

struct hits {
	struct msp_req *r;
	struct msp_store *st;
	MDB_txn *t;
	json_object *arr;
	double max;
};

static int
hit_add(json_object *hit, void *arg, struct msp_err *e)
{
	static const char *const keep[] = { "id", "videoType", "title", "name",
	    "about", "language", "genres", "isPremium", "uploadedBy",
	    "createdAt", "status", "duration", "posterUrl", "likes",
	    "averageRating", "ratingCount", "locked", NULL };
	struct hits *h = arg;
	json_object *x, *v = NULL, *src, *o;
	const char *id;
	const char *const *k;
	double score = 0;

	(void)e;
	if (!json_object_object_get_ex(hit, "id", &x))
		return 0;
	id = json_object_get_string(x);
	if (json_object_object_get_ex(hit, "score", &x))
		score = json_object_get_double(x);
	if (msp_video_get(h->st, h->t, id, &v, NULL) != 0)
		return 0;
	/* what a result card shows: counters, duration, poster */
	msp_http_video_out(h->r, h->t, v);
	src = json_object_new_object();
	for (k = keep; *k != NULL; k++)
		if (json_object_object_get_ex(v, *k, &x))
			json_object_object_add(src, *k, json_object_get(x));
	if (json_object_object_get_ex(hit, "snippet", &x))
		json_object_object_add(src, "snippet", json_object_get(x));
	/* a match inside the captions: where playback starts */
	if (json_object_object_get_ex(hit, "cue", &x))
		json_object_object_add(src, "cue", json_object_get(x));
	json_object_put(v);
	o = json_object_new_object();
	json_object_object_add(o, "_index", json_object_new_string("videos"));
	json_object_object_add(o, "_id", json_object_new_string(id));
	json_object_object_add(o, "_score", json_object_new_double(score));
	json_object_object_add(o, "_source", src);
	json_object_array_add(h->arr, o);
	if (score > h->max)
		h->max = score;
	return 0;
}

void
msp_route_search(struct msp_req *r)
{
	struct msp_search_query q;
	struct msp_err e;
	struct hits h;
	json_object *o, *hits, *tot;
	const char *s;
	long long n;
	long total = 0;
	int rc, count = 1;

	memset(&q, 0, sizeof(q));
	q.q = msp_req_arg(r, "q");
	q.premium = -1;
	q.limit = HITS_DEFAULT;
	q.typos = 1;
	if (q.q == NULL) {
		msp_reply_error(r, 400, "query: missing (?q=TEXT)");
		return;
	}
	if (msp_search_query_check(q.q, &e) != 0) {
		msp_reply_error(r, 400, "%s", e.msg);
		return;
	}
	if ((s = msp_req_arg(r, "size")) != NULL) {
		if (msp_parse_int(s, 1, HITS_MAX, &n) != 0) {
			msp_reply_error(r, 400, "size: expected 1 to %d",
			    HITS_MAX);
			return;
		}
		q.limit = (long)n;
	}
	if ((s = msp_req_arg(r, "from")) != NULL) {
		if (msp_parse_int(s, 0, 10000, &n) != 0) {
			msp_reply_error(r, 400, "from: expected 0 to 10000");
			return;
		}
		q.offset = (long)n;
	}
	/* OpenSearch's track_total_hits: false leaves the count out (and
	 * hits.total with it), which lets the search stop once the page is
	 * known instead of visiting every match; true or a number (the
	 * count is exact at any size) counts */
	if ((s = msp_req_arg(r, "track_total_hits")) != NULL) {
		if (strcmp(s, "false") == 0)
			count = 0;
		else if (strcmp(s, "true") != 0 &&
		    msp_parse_int(s, 0, INT32_MAX, &n) != 0) {
			msp_reply_error(r, 400, "track_total_hits: expected "
			    "true, false or a count");
			return;
		}
	}
	q.video_type = msp_req_arg(r, "type");
	h.r = r;
	h.st = r->h->st;
	h.arr = json_object_new_array();
	h.max = 0;
	if (msp_txn_begin(r->h->st, 0, &h.t, &e) != 0) {
		json_object_put(h.arr);
		msp_reply_err(r, &e);
		return;
	}
	rc = msp_search_run(r->h->st, h.t, &q, hit_add, &h, count ? &total :
	    NULL, NULL, &e);
	msp_txn_abort(r->h->st, h.t);
	if (rc != 0) {
		json_object_put(h.arr);
		msp_reply_err(r, &e);
		return;
	}
	o = json_object_new_object();
	hits = json_object_new_object();
	if (count) {
		tot = json_object_new_object();
		json_object_object_add(tot, "value",
		    json_object_new_int64(total));
		json_object_object_add(tot, "relation",
		    json_object_new_string("eq"));
		json_object_object_add(hits, "total", tot);
	}
	json_object_object_add(hits, "max_score", json_object_new_double(h.max));
	json_object_object_add(hits, "hits", h.arr);
	json_object_object_add(o, "timed_out", json_object_new_boolean(0));
	json_object_object_add(o, "hits", hits);
	msp_reply_json(r, 200, o);
	json_object_put(o);
}

struct reindex {
	struct msp_store *st;
	const char *id;
	json_object *changes;
	json_object *out;
	long count;
};

static int
reindex_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct reindex *x = arg;

	json_object_put(x->out);
	x->out = NULL;
	if (x->id == NULL)
		return msp_search_reindex(x->st, t, &x->count, e);
	return msp_video_update(x->st, t, x->id, x->changes, &x->out, e);
}

/* Admins: {id, title, genres, about} sets those fields of video id (the
 * index follows in the same transaction); {} rebuilds the whole index. */
void
msp_route_search_index(struct msp_req *r)
{
	static const char *const fields[] = { "title", "genres", "about",
	    NULL };
	struct reindex x;
	struct msp_err e;
	const char *const *f;
	json_object *o, *v;
	int rc;

	memset(&x, 0, sizeof(x));
	x.st = r->h->st;
	rc = msp_field_str(r->json, "id", 0, MSP_ID_LEN, 0, &x.id, &e);
	if (rc != 0 && rc != MSP_ENOTFOUND) {
		msp_reply_error(r, 400, "%s", e.msg);
		return;
	}
	if (x.id != NULL && !msp_id_valid(x.id)) {
		msp_reply_error(r, 400, "field 'id': not a video id");
		return;
	}
	if (x.id != NULL) {
		x.changes = json_object_new_object();
		for (f = fields; *f != NULL; f++)
			if (json_object_object_get_ex(r->json, *f, &v))
				json_object_object_add(x.changes, *f,
				    json_object_get(v));
	}
	rc = msp_store_write(r->h->st, reindex_txn, &x, &e);
	json_object_put(x.changes);
	if (rc != 0) {
		json_object_put(x.out);
		msp_reply_err(r, &e);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "_index", json_object_new_string("videos"));
	if (x.id != NULL) {
		json_object_object_add(o, "_id", json_object_new_string(x.id));
		json_object_object_add(o, "result",
		    json_object_new_string("updated"));
	} else {
		json_object_object_add(o, "result",
		    json_object_new_string("reindexed"));
		json_object_object_add(o, "count",
		    json_object_new_int64(x.count));
	}
	json_object_put(x.out);
	msp_reply_json(r, 200, o);
	json_object_put(o);
}
