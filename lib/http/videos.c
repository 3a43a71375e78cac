/* Video routes: uploads, pages of the feeds, one video, likes, ratings,
 * the caller's own records (/query). Each calls the library function the
 * matching tool calls (msp-ingest, msp-catalog, msp-like, msp-rate). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "caption.h"
#include "catalog.h"
#include "engage.h"
#include "ingest.h"
#include "internal.h"
#include "jsonl.h"
#include "util.h"

#define PAGE_DEFAULT 10
#define PAGE_MAX 100

static const char *
jstr(json_object *o, const char *k)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, k, &x) ||
	    !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

static int
jbool(json_object *o, const char *k)
{
	json_object *x;

	return o != NULL && json_object_object_get_ex(o, k, &x) &&
	    json_object_get_boolean(x);
}

static int
is_owner(struct msp_req *r, json_object *v)
{
	const char *by = jstr(v, "uploadedBy");

	return r->email != NULL && by != NULL && strcmp(by, r->email) == 0;
}

/* A video's captions as a client lists them: language, label and the
 * number of cues (the cues themselves are the search index's; players
 * read the WebVTT). */
static void
captions_out(json_object *v)
{
	json_object *caps, *list;
	size_t i;

	if (!json_object_object_get_ex(v, "captions", &caps) ||
	    !json_object_is_type(caps, json_type_array) ||
	    (list = json_object_new_array()) == NULL)
		return;
	for (i = 0; i < json_object_array_length(caps); i++) {
		json_object *c = json_object_array_get_idx(caps, i);
		json_object *o = json_object_new_object(), *x;
		if (o == NULL)
			break;
		if (json_object_object_get_ex(c, "language", &x))
			json_object_object_add(o, "language",
			    json_object_get(x));
		if (json_object_object_get_ex(c, "label", &x))
			json_object_object_add(o, "label", json_object_get(x));
		if (json_object_object_get_ex(c, "cues", &x))
			json_object_object_add(o, "cues", json_object_new_int(
			    (int)json_object_array_length(x)));
		json_object_array_add(list, o);
	}
	json_object_object_add(v, "captions", list);
}

/* Add what a client needs to show a video: counters and, for a ready
 * video the caller may watch, playbackUrl (signed for premium); poster
 * and thumbnails. */
void
msp_http_video_out(struct msp_req *r, MDB_txn *t, json_object *v)
{
	struct msp_err e;
	const char *id = jstr(v, "id");
	char *url = NULL, *tok = NULL;
	int64_t end;

	captions_out(v);
	msp_engage_decorate(r->h->st, t, v, &e);
	if (id == NULL || !msp_video_visible(v))
		return;
	if (!jbool(v, "isPremium")) {
		url = msp_sprintf("/hls/%s/master.m3u8", id);
	} else if (msp_http_premium_ok(r, v, &end)) {
		/* never good past the subscription that opens it */
		if (msp_auth_url_sign_until(r->h->st, id, r->h->c.url_ttl, end,
		    &tok, &e) == 0)
			url = msp_sprintf("/hls/%s/%s/master.m3u8", id, tok);
		free(tok);
	} else {
		json_object_object_add(v, "locked", json_object_new_boolean(1));
	}
	if (url != NULL)
		json_object_object_add(v, "playbackUrl",
		    json_object_new_string(url));
	msp_http_media_links(v, id, url);
	free(url);
}

/* The caller may see the video: not deleted, or the owner or an admin. */
static int
may_see(struct msp_req *r, json_object *v)
{
	return !jbool(v, "isDeleted") || is_owner(r, v) || r->admin;
}

static int
want_id(struct msp_req *r, json_object *o, const char *field,
    const char **id)
{
	struct msp_err e;

	if (msp_field_str(o, field, 1, MSP_ID_LEN, 0, id, &e) != 0) {
		msp_reply_error(r, 400, "%s", e.msg);
		return -1;
	}
	if (!msp_id_valid(*id)) {
		msp_reply_error(r, 400, "field '%s': not a video id", field);
		return -1;
	}
	return 0;
}

/* A "user" in the body is only accepted when it is the caller. */
static int
user_matches(struct msp_req *r)
{
	const char *u;
	json_object *x;

	if (!json_object_object_get_ex(r->json, "user", &x) ||
	    json_object_is_type(x, json_type_null))
		return 1;
	u = json_object_is_type(x, json_type_string) ?
	    json_object_get_string(x) : NULL;
	if (u != NULL && (strcasecmp(u, r->email) == 0 ||
	    strcmp(u, jstr(r->user, "id") ? jstr(r->user, "id") : "") == 0))
		return 1;
	msp_reply_error(r, 403, "field 'user': not the signed-in user");
	return 0;
}

/* ---- one video -------------------------------------------------------- */

static int
load_video(struct msp_req *r, MDB_txn *t, const char *id, json_object **v)
{
	struct msp_err e;
	int rc;

	*v = NULL;
	if (!msp_id_valid(id)) {
		msp_reply_error(r, 404, "video %s: not found", id);
		return -1;
	}
	rc = msp_video_get(r->h->st, t, id, v, &e);
	if (rc == 0 && !may_see(r, *v)) {
		json_object_put(*v);
		*v = NULL;
		rc = MSP_ENOTFOUND;
	}
	if (rc == MSP_ENOTFOUND) {
		msp_reply_error(r, 404, "video %s: not found", id);
		return -1;
	}
	if (rc != 0) {
		msp_reply_err(r, &e);
		return -1;
	}
	return 0;
}

void
msp_route_video_get(struct msp_req *r)
{
	struct msp_err e;
	json_object *v;
	MDB_txn *t;

	if (msp_txn_begin(r->h->st, 0, &t, &e) != 0) {
		msp_reply_err(r, &e);
		return;
	}
	if (load_video(r, t, r->rest, &v) == 0) {
		msp_http_video_out(r, t, v);
		msp_reply_json(r, 200, v);
		json_object_put(v);
	}
	msp_txn_abort(r->h->st, t);
}

struct vchange {
	struct msp_req *r;
	const char *id;
	json_object *changes; /* NULL: delete */
	json_object *out;
	int denied;
};

static int
vchange_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct vchange *c = arg;
	json_object *v = NULL;
	int rc;

	json_object_put(c->out);
	c->out = NULL;
	if ((rc = msp_video_get(c->r->h->st, t, c->id, &v, e)) != 0)
		return rc;
	if (jbool(v, "isDeleted") && !c->r->admin) {
		json_object_put(v);
		return msp_err_set(e, MSP_ENOTFOUND, "video %s: not found",
		    c->id);
	}
	if (!is_owner(c->r, v) && !c->r->admin) {
		json_object_put(v);
		c->denied = 1;
		return msp_err_set(e, MSP_EPERM, "video %s: not yours",
		    c->id);
	}
	json_object_put(v);
	if (c->changes == NULL) {
		if ((rc = msp_video_del(c->r->h->st, t, c->id, 0, NULL, e)) != 0)
			return rc;
		return msp_video_get(c->r->h->st, t, c->id, &c->out, e);
	}
	return msp_video_update(c->r->h->st, t, c->id, c->changes, &c->out, e);
}

static void
video_change(struct msp_req *r, json_object *changes)
{
	struct vchange c;
	struct msp_err e;
	int rc;

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.id = r->rest;
	c.changes = changes;
	if (!msp_id_valid(c.id)) {
		msp_reply_error(r, 404, "video %s: not found", c.id);
		return;
	}
	rc = msp_store_write(r->h->st, vchange_txn, &c, &e);
	if (rc != 0) {
		msp_reply_err(r, &e);
	} else {
		captions_out(c.out);
		msp_reply_json(r, 200, c.out);
	}
	json_object_put(c.out);
}

/* ---- captions ------------------------------------------------------- */

/* The owner or an admin; a deleted video is the admin's only. */
static int
caption_auth(json_object *v, void *arg, struct msp_err *e)
{
	struct msp_req *r = arg;

	if (jbool(v, "isDeleted") && !r->admin)
		return msp_err_set(e, MSP_ENOTFOUND, "video %s: not found",
		    jstr(v, "id"));
	if (!is_owner(r, v) && !r->admin)
		return msp_err_set(e, MSP_EPERM, "video %s: not yours",
		    jstr(v, "id"));
	return 0;
}

/* "<id>/captions/<lang>" of r->rest: 0, or -1 after replying. */
static int
caption_path(struct msp_req *r, char id[MSP_ID_LEN + 1],
    char tag[MSP_CAPTION_TAG_MAX + 1])
{
	static const char mid[] = "/captions/";
	const char *rest = r->rest;
	struct msp_err e;

	if (strlen(rest) <= MSP_ID_LEN + sizeof(mid) - 1 ||
	    strncmp(rest + MSP_ID_LEN, mid, sizeof(mid) - 1) != 0) {
		msp_reply_error(r, 404, "%s: not found", r->url);
		return -1;
	}
	memcpy(id, rest, MSP_ID_LEN);
	id[MSP_ID_LEN] = '\0';
	if (!msp_id_valid(id)) {
		msp_reply_error(r, 404, "video %s: not found", id);
		return -1;
	}
	if (msp_caption_lang(rest + MSP_ID_LEN + sizeof(mid) - 1, tag,
	    &e) != 0) {
		msp_reply_error(r, 400, "%s", e.msg);
		return -1;
	}
	return 0;
}

static void
caption_change(struct msp_req *r, const struct msp_caption *c,
    const char *id, const char *tag)
{
	json_object *v = NULL;
	struct msp_err e;
	MDB_txn *t;

	if (msp_caption_set(r->h->st, id, tag, c, caption_auth, r, &v,
	    &e) != 0) {
		msp_reply_err(r, &e);
		return;
	}
	if (msp_txn_begin(r->h->st, 0, &t, &e) != 0) {
		json_object_put(v);
		msp_reply_err(r, &e);
		return;
	}
	msp_http_video_out(r, t, v);
	msp_txn_abort(r->h->st, t);
	msp_reply_json(r, 200, v);
	json_object_put(v);
}

/* PUT /videos/<id>/captions/<lang>: the body is a WebVTT or SRT file. */
void
msp_route_caption_put(struct msp_req *r)
{
	char id[MSP_ID_LEN + 1], tag[MSP_CAPTION_TAG_MAX + 1], name[80];
	struct msp_caption c;
	struct msp_err e;

	if (caption_path(r, id, tag) != 0)
		return;
	snprintf(name, sizeof(name), "caption %s", tag);
	if (msp_caption_parse(name, r->body ? r->body : "", r->blen, &c,
	    &e) != 0) {
		msp_reply_err(r, &e);
		return;
	}
	caption_change(r, &c, id, tag);
	msp_caption_free(&c);
}

void
msp_route_video_del(struct msp_req *r)
{
	char id[MSP_ID_LEN + 1], tag[MSP_CAPTION_TAG_MAX + 1];

	/* DELETE /videos/<id>/captions/<lang> */
	if (strchr(r->rest, '/') != NULL) {
		if (caption_path(r, id, tag) == 0)
			caption_change(r, NULL, id, tag);
		return;
	}
	video_change(r, NULL);
}

void
msp_route_video_patch(struct msp_req *r)
{
	static const char *const ok[] = { "name", "title", "about",
	    "language", "genres", "isPremium", NULL };
	json_object *ch = json_object_new_object();

	json_object_object_foreach(r->json, k, val) {
		const char *const *p;
		for (p = ok; *p != NULL; p++)
			if (strcmp(*p, k) == 0)
				break;
		if (*p == NULL) {
			msp_reply_error(r, 400, "field '%s': cannot be changed "
			    "here (name, title, about, language, genres, "
			    "isPremium)", k);
			json_object_put(ch);
			return;
		}
		json_object_object_add(ch, k, json_object_get(val));
	}
	video_change(r, ch);
	json_object_put(ch);
}

/* ---- uploads ---------------------------------------------------------- */

/* Metadata: a "metadata" JSON part, form fields, the X-Msp-Meta header
 * (JSON), query parameters; later sources fill only what is missing. */
static json_object *
upload_meta(struct msp_req *r, const char *type)
{
	static const char *const q[] = { "name", "title", "about",
	    "language", "genres", "isPremium", NULL };
	json_object *m = NULL, *x;
	const char *s, *const *p;

	if ((s = jstr(r->fields, "metadata")) != NULL) {
		m = json_tokener_parse(s);
		if (m == NULL || !json_object_is_type(m, json_type_object)) {
			json_object_put(m);
			msp_reply_error(r, 400, "field 'metadata': expected a "
			    "JSON object");
			return NULL;
		}
	} else if ((s = msp_req_header(r, "X-Msp-Meta")) != NULL) {
		m = json_tokener_parse(s);
		if (m == NULL || !json_object_is_type(m, json_type_object)) {
			json_object_put(m);
			msp_reply_error(r, 400, "X-Msp-Meta: expected a JSON "
			    "object");
			return NULL;
		}
	} else {
		m = json_object_new_object();
	}
	if (m == NULL)
		return NULL;
	for (p = q; *p != NULL; p++) {
		if (json_object_object_get_ex(m, *p, &x))
			continue;
		if ((s = jstr(r->fields, *p)) == NULL)
			s = msp_req_arg(r, *p);
		if (s == NULL)
			continue;
		if (strcmp(*p, "isPremium") == 0) {
			if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0) {
				msp_reply_error(r, 400, "field 'isPremium': "
				    "expected true or false");
				json_object_put(m);
				return NULL;
			}
			json_object_object_add(m, *p,
			    json_object_new_boolean(strcmp(s, "true") == 0));
		} else if (strcmp(*p, "genres") == 0) {
			json_object *a = json_object_new_array();
			char *dup = msp_strdup(s), *tok, *save = NULL;
			for (tok = dup ? strtok_r(dup, ",", &save) : NULL;
			    tok != NULL; tok = strtok_r(NULL, ",", &save))
				json_object_array_add(a,
				    json_object_new_string(tok));
			free(dup);
			json_object_object_add(m, *p, a);
		} else {
			json_object_object_add(m, *p,
			    json_object_new_string(s));
		}
	}
	/* identity and type come from the session and the route, the id
	 * from the store (the original's client sent one of its own) */
	json_object_object_del(m, "id");
	json_object_object_add(m, "uploadedBy",
	    json_object_new_string(r->email));
	json_object_object_add(m, "videoType", json_object_new_string(type));
	json_object_object_del(m, "type");
	json_object_object_del(m, "v");
	return m;
}

static void
upload(struct msp_req *r, const char *type)
{
	json_object *meta, *job = NULL, *v = NULL, *x;
	struct msp_err e;
	MDB_txn *t;
	int rc;

	if (r->ing_rc != 0) {
		msp_reply_err(r, &r->ing_err);
		return;
	}
	if (r->ing == NULL) {
		msp_reply_error(r, 400, "file: missing (send the video as the "
		    "body, or as a multipart part named 'file')");
		return;
	}
	if ((meta = upload_meta(r, type)) == NULL) {
		msp_reply(r, 500, NULL);
		return;
	}
	rc = msp_ingest_finish(r->h->st, r->ing, meta, &job, &e);
	r->ing = NULL;
	json_object_put(meta);
	if (rc != 0) {
		msp_reply_err(r, &e);
		return;
	}
	msp_workers_wake(r->h);
	if (!json_object_object_get_ex(job, "videoId", &x) ||
	    msp_txn_begin(r->h->st, 0, &t, &e) != 0) {
		msp_reply_json(r, 202, job);
		json_object_put(job);
		return;
	}
	if (msp_video_get(r->h->st, t, json_object_get_string(x), &v, &e) ==
	    0) {
		x = NULL;
		if (json_object_object_get_ex(job, "id", &x))
			json_object_object_add(v, "jobId", json_object_get(x));
		msp_reply_json(r, 202, v);
	} else {
		msp_reply_json(r, 202, job);
	}
	msp_txn_abort(r->h->st, t);
	json_object_put(v);
	json_object_put(job);
}

void
msp_route_upload_short(struct msp_req *r)
{
	upload(r, "short");
}

void
msp_route_upload_long(struct msp_req *r)
{
	upload(r, "long");
}

/* ---- pages ------------------------------------------------------------ */

struct page {
	struct msp_req *r;
	MDB_txn *t;
	json_object *items;
};

static int
page_add(json_object *rec, void *arg, struct msp_err *e)
{
	struct page *p = arg;

	(void)e;
	json_object_get(rec);
	msp_http_video_out(p->r, p->t, rec);
	json_object_array_add(p->items, rec);
	return 0;
}

/* limit and cursor of a page request; -1 after replying */
static int
page_args(struct msp_req *r, const char *cursor_field, long *limit,
    const char **after)
{
	struct msp_err e;
	long long n = PAGE_DEFAULT;
	int rc;

	rc = msp_field_int(r->json, "limit", 0, 1, PAGE_MAX, &n, &e);
	if (rc != 0 && rc != MSP_ENOTFOUND) {
		msp_reply_error(r, 400, "%s", e.msg);
		return -1;
	}
	*limit = (long)n;
	*after = NULL;
	rc = msp_field_str(r->json, cursor_field, 0, 512, 0, after, &e);
	if (rc != 0 && rc != MSP_ENOTFOUND) {
		msp_reply_error(r, 400, "%s", e.msg);
		return -1;
	}
	return 0;
}

static void
list_page(struct msp_req *r, struct msp_video_query *q, const char *cfield,
    int long_shape)
{
	struct page p;
	struct msp_err e;
	json_object *o;
	char *next = NULL;
	int rc;

	if (page_args(r, cfield, &q->limit, &q->after) != 0)
		return;
	q->status = "ready";
	q->premium = -1;
	p.r = r;
	p.items = json_object_new_array();
	if (msp_txn_begin(r->h->st, 0, &p.t, &e) != 0) {
		json_object_put(p.items);
		msp_reply_err(r, &e);
		return;
	}
	rc = msp_video_list(r->h->st, p.t, q, page_add, &p, &next, &e);
	msp_txn_abort(r->h->st, p.t);
	if (rc != 0) {
		json_object_put(p.items);
		/* the filters were made canonical before and the status and
		 * type are the route's: a bad value here is the cursor */
		if (rc == MSP_EINVAL)
			msp_err_prefix(&e, "field '%s'", cfield);
		msp_reply_err(r, &e);
		return;
	}
	o = json_object_new_object();
	if (long_shape) {
		json_object *resp = json_object_new_object();
		json_object_object_add(o, "Count", json_object_new_int(
		    (int)json_object_array_length(p.items)));
		json_object_object_add(resp, "longVideos", p.items);
		json_object_object_add(o, "Responses", resp);
	} else {
		json_object_object_add(o, "Count", json_object_new_int(
		    (int)json_object_array_length(p.items)));
		json_object_object_add(o, "Items", p.items);
	}
	if (next != NULL)
		json_object_object_add(o, cfield, json_object_new_string(next));
	free(next);
	msp_reply_json(r, 200, o);
	json_object_put(o);
}

void
msp_route_short_get(struct msp_req *r)
{
	struct msp_video_query q;

	memset(&q, 0, sizeof(q));
	q.video_type = "short";
	q.sort = MSP_SORT_NEWEST;
	list_page(r, &q, "LastEvaluatedKey", 0);
}

void
msp_route_long_get(struct msp_req *r)
{
	struct msp_video_query q;
	struct msp_err e;
	const char *ft = NULL, *fv = NULL;
	int rc;

	memset(&q, 0, sizeof(q));
	q.video_type = "long";
	q.sort = MSP_SORT_NEWEST;
	rc = msp_field_str(r->json, "filterType", 0, 64, 0, &ft, &e);
	if (rc != 0 && rc != MSP_ENOTFOUND) {
		msp_reply_error(r, 400, "%s", e.msg);
		return;
	}
	if (ft != NULL) {
		if (msp_field_str(r->json, "filterValue", 1, 64, 0, &fv,
		    &e) != 0) {
			msp_reply_error(r, 400, "%s", e.msg);
			return;
		}
		if (strcmp(ft, "Filter By Genre") == 0)
			q.genre = fv;
		else if (strcmp(ft, "Filter By Language") == 0)
			q.language = fv;
		else {
			msp_reply_error(r, 400, "field 'filterType': expected "
			    "\"Filter By Genre\" or \"Filter By Language\"");
			return;
		}
		/* "Drama", "English" as the original's client sends them */
		if (msp_filter_canon(&q.genre, &q.language, &e) != 0) {
			msp_reply_error(r, 400, "field 'filterValue': %s",
			    e.msg);
			return;
		}
	}
	/* the original's client spelled the cursor lastEvaluatedKey here */
	list_page(r, &q, "lastEvaluatedKey", 1);
}

/* ---- likes and ratings ------------------------------------------------ */

static void
engage(struct msp_req *r, msp_line_fn fn, json_object *line)
{
	struct msp_err e;
	json_object *out = NULL;

	if (msp_engage_apply(r->h->st, fn, line, NULL, &out, &e) != 0)
		msp_reply_err(r, &e);
	else if (out != NULL)
		msp_reply_json(r, 200, out);
	else
		msp_reply_error(r, 500, "internal error");
	json_object_put(out);
}

void
msp_route_like(struct msp_req *r)
{
	const char *id, *status = NULL;
	json_object *line;
	struct msp_err e;
	int rc;

	if (want_id(r, r->json, "videoId", &id) != 0 || !user_matches(r))
		return;
	rc = msp_field_str(r->json, "status", 0, 16, 0, &status, &e);
	if ((rc != 0 && rc != MSP_ENOTFOUND) || (status != NULL &&
	    strcmp(status, "liked") != 0 && strcmp(status, "unliked") != 0)) {
		msp_reply_error(r, 400, "field 'status': expected \"liked\" or "
		    "\"unliked\"");
		return;
	}
	line = json_object_new_object();
	json_object_object_add(line, "user", json_object_new_string(r->email));
	json_object_object_add(line, "videoId", json_object_new_string(id));
	json_object_object_add(line, "op", json_object_new_string(
	    status != NULL && strcmp(status, "unliked") == 0 ? "del" : "add"));
	engage(r, msp_like_line, line);
	json_object_put(line);
}

void
msp_route_rating(struct msp_req *r)
{
	const char *id;
	json_object *line, *x;

	if (want_id(r, r->json, "videoId", &id) != 0 || !user_matches(r))
		return;
	if (!json_object_object_get_ex(r->json, "rating", &x)) {
		msp_reply_error(r, 400, "field 'rating': required");
		return;
	}
	line = json_object_new_object();
	json_object_object_add(line, "user", json_object_new_string(r->email));
	json_object_object_add(line, "videoId", json_object_new_string(id));
	json_object_object_add(line, "rating", json_object_get(x));
	json_object_object_add(line, "op", json_object_new_string("set"));
	engage(r, msp_rating_line, line);
	json_object_put(line);
}

/* ---- /query: the caller's own records --------------------------------- */

struct likes_of {
	const char *video;
	json_object *items;
};

static int
like_pick(json_object *rec, void *arg, struct msp_err *e)
{
	struct likes_of *l = arg;
	const char *v = jstr(rec, "videoId");

	(void)e;
	if (l->video == NULL || (v != NULL && strcmp(v, l->video) == 0))
		json_object_array_add(l->items, json_object_get(rec));
	return 0;
}

void
msp_route_query(struct msp_req *r)
{
	const char *table, *video = NULL;
	json_object *conds = NULL, *items, *o, *rec = NULL;
	struct msp_err e;
	MDB_txn *t;
	size_t i, n;
	int rc = 0;

	if (msp_field_str(r->json, "tableName", 1, 64, 0, &table, &e) != 0) {
		msp_reply_error(r, 400, "%s", e.msg);
		return;
	}
	if (json_object_object_get_ex(r->json, "keyConditions", &conds) &&
	    !json_object_is_type(conds, json_type_array)) {
		msp_reply_error(r, 400, "field 'keyConditions': expected an "
		    "array");
		return;
	}
	n = conds != NULL ? json_object_array_length(conds) : 0;
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i), *vl, *v;
		const char *an = jstr(c, "attributeName");
		const char *op = jstr(c, "comparisonOperator");

		if (an == NULL || (op != NULL && strcmp(op, "EQ") != 0) ||
		    !json_object_object_get_ex(c, "attributeValueList", &vl) ||
		    !json_object_is_type(vl, json_type_array) ||
		    json_object_array_length(vl) != 1 ||
		    !json_object_is_type(v = json_object_array_get_idx(vl, 0),
		    json_type_string)) {
			msp_reply_error(r, 400, "field 'keyConditions[%zu]': "
			    "expected {attributeName, comparisonOperator: "
			    "\"EQ\", attributeValueList: [string]}", i);
			return;
		}
		if (strcmp(an, "videoId") == 0) {
			video = json_object_get_string(v);
		} else if (strcmp(an, "user") == 0 || strcmp(an, "userId") == 0 ||
		    strcmp(an, "email") == 0) {
			const char *s = json_object_get_string(v);
			const char *uid = jstr(r->user, "id");
			if (strcasecmp(s, r->email) != 0 &&
			    (uid == NULL || strcmp(s, uid) != 0)) {
				msp_reply_error(r, 403, "keyConditions: only "
				    "your own records");
				return;
			}
		} else {
			msp_reply_error(r, 400, "field 'keyConditions[%zu]': "
			    "unknown attribute '%s'", i, an);
			return;
		}
	}
	items = json_object_new_array();
	if (strcmp(table, "likes") == 0 || strcmp(table, "ratings") == 0) {
		if (msp_txn_begin(r->h->st, 0, &t, &e) != 0) {
			json_object_put(items);
			msp_reply_err(r, &e);
			return;
		}
		if (table[0] == 'l') {
			struct likes_of l = { video, items };
			char *next = NULL;
			rc = msp_like_list_user(r->h->st, t, r->email, 0, NULL,
			    like_pick, &l, &next, &e);
			free(next);
		} else if (video == NULL) {
			rc = msp_err_set(&e, MSP_EINVAL, "keyConditions: "
			    "ratings need a videoId");
		} else {
			rc = msp_rating_get_user(r->h->st, t, r->email, video,
			    &rec, &e);
			if (rc == 0)
				json_object_array_add(items, rec);
			else if (rc == MSP_ENOTFOUND)
				rc = 0;
		}
		msp_txn_abort(r->h->st, t);
	} else if (strcmp(table, "subscriptions") == 0) {
		rc = msp_http_query_subscription(r, items);
		if (rc < 0) {
			json_object_put(items);
			return;
		}
	} else {
		json_object_put(items);
		msp_reply_error(r, 403, "table '%s': not queryable (likes, "
		    "ratings, subscriptions)", table);
		return;
	}
	if (rc != 0) {
		json_object_put(items);
		msp_reply_err(r, &e);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "Count", json_object_new_int(
	    (int)json_object_array_length(items)));
	json_object_object_add(o, "Items", items);
	msp_reply_json(r, 200, o);
	json_object_put(o);
}
