/* engage: likes and ratings, their counters and feed orders. The layout of
 * the records and derived keys is described in engage.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engage.h"
#include "jsonl.h"
#include "util.h"

#define LIKE_STATUS "liked"
#define SCORE_SCALE UINT64_C(1000000000) /* scores are kept in 1e-9 */
#define FEED_KEY_LEN (2 + 8 + 1 + MSP_ID_LEN)
#define EMAIL_MAX 254

enum vkind { V_NONE, V_SHORT, V_LONG };

struct key {
	unsigned char b[512];
	size_t n;
};

static void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
key_add(struct key *k, const void *p, size_t n)
{
	/* every caller's parts are bounded (ids, normalised emails) */
	if (k->n + n <= sizeof(k->b)) {
		memcpy(k->b + k->n, p, n);
		k->n += n;
	}
}

static void
key_str(struct key *k, const char *s)
{
	key_add(k, s, strlen(s));
}

static void
key_nul(struct key *k)
{
	key_add(k, "", 1);
}

static void
key_u64(struct key *k, uint64_t v)
{
	unsigned char b[8];

	put64(b, v);
	key_add(k, b, 8);
}

/* "<video>\0<email>": the key of a like or a rating record */
static void
rec_key(struct key *k, const char *video, const char *email)
{
	k->n = 0;
	key_str(k, video);
	key_nul(k);
	key_str(k, email);
}

static void
counter_key(struct key *k, const char *video)
{
	k->n = 0;
	key_add(k, "c", 2);
	key_str(k, video);
}

static void
feed_key(struct key *k, char tag, uint64_t v, const char *video)
{
	char p[2] = { tag, '\0' };

	k->n = 0;
	key_add(k, p, 2);
	key_u64(k, v);
	key_nul(k);
	key_str(k, video);
}

static void
user_key(struct key *k, const char *email, int64_t ms, const char *video)
{
	k->n = 0;
	key_add(k, "u", 2);
	key_str(k, email);
	key_nul(k);
	key_u64(k, (uint64_t)ms);
	key_str(k, video);
}

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

static int
set_str(json_object *o, const char *k, const char *v)
{
	json_object *x = json_object_new_string(v);

	if (x == NULL)
		return -1;
	return json_object_object_add(o, k, x);
}

static int
set_int(json_object *o, const char *k, int64_t v)
{
	json_object *x = json_object_new_int64(v);

	if (x == NULL)
		return -1;
	return json_object_object_add(o, k, x);
}

static const char *
get_str(json_object *o, const char *k)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, k, &x) ||
	    !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

static enum vkind
video_kind(json_object *v)
{
	const char *s = get_str(v, "videoType");

	if (s == NULL)
		return V_NONE;
	if (strcmp(s, "short") == 0)
		return V_SHORT;
	if (strcmp(s, "long") == 0)
		return V_LONG;
	return V_NONE;
}

static int
video_deleted(json_object *v)
{
	json_object *x;

	return json_object_object_get_ex(v, "isDeleted", &x) &&
	    json_object_get_boolean(x);
}

/* A fixed-point number with two decimals, as a JSON number ("4.50"). */
static json_object *
new_fixed2(uint64_t hundredths)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "%" PRIu64 ".%02" PRIu64, hundredths / 100,
	    hundredths % 100);
	return json_object_new_double_s((double)hundredths / 100.0, buf);
}

/* ---- looking up users and videos -------------------------------------- */

/* Normalise user and check that the user exists; *email malloc'd. */
static int
find_user(struct msp_store *st, MDB_txn *t, const char *user, char **email,
    struct msp_err *e)
{
	MDB_val v;
	int rc;

	*email = NULL;
	if (msp_email_norm(user, email, NULL) != 0)
		return msp_err_set(e, MSP_EINVAL, "%.300s: not an email address",
		    user);
	rc = msp_db_get(st, t, MSP_DB_USERS, *email, strlen(*email), &v, e);
	if (rc == 0)
		return 0;
	free(*email);
	*email = NULL;
	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, MSP_ENOTFOUND, "%s: no such user", user);
	return rc;
}

#define F_DELETED_OK 0x1

static uint64_t rating_score(uint64_t count, uint64_t sum);

/*
 * The fast way to know that a video is there, of kind want and not
 * deleted: its feed entry (kept for live videos only, in the same
 * transaction as every change of the video) is at its current count.
 */
static int
is_live(struct msp_store *st, MDB_txn *t, const char *id, enum vkind want)
{
	uint64_t count, sum;
	struct key k;
	MDB_val v;

	if (!msp_id_valid(id))
		return 0;
	if (want == V_SHORT) {
		feed_key(&k, 's', msp_like_counter(st, t, id), id);
		return msp_db_get(st, t, MSP_DB_LIKE_IDX, k.b, k.n, &v,
		    NULL) == 0;
	}
	msp_rating_counter(st, t, id, &count, &sum);
	feed_key(&k, 'r', rating_score(count, sum), id);
	return msp_db_get(st, t, MSP_DB_RATING_IDX, k.b, k.n, &v, NULL) == 0;
}

/*
 * Check that video id is there and of kind want, and not deleted unless
 * flags has F_DELETED_OK. *live (may be NULL) tells whether it is not
 * deleted. *out, when not NULL, gets the record or NULL (caller puts).
 */
static int
find_video(struct msp_store *st, MDB_txn *t, const char *id, enum vkind want,
    int flags, json_object **out, int *live, struct msp_err *e)
{
	json_object *v;
	enum vkind k;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (live != NULL)
		*live = 0;
	if (out == NULL && is_live(st, t, id, want)) {
		if (live != NULL)
			*live = 1;
		return 0;
	}
	if (!msp_id_valid(id))
		return msp_err_set(e, MSP_ENOTFOUND, "%.100s: no such video", id);
	rc = msp_db_get_json(st, t, MSP_DB_VIDEOS, id, strlen(id), &v, e);
	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, MSP_ENOTFOUND, "%s: no such video", id);
	if (rc != 0)
		return rc;
	k = video_kind(v);
	if (want == V_SHORT && k != V_SHORT)
		rc = msp_err_set(e, MSP_EINVAL, "%s: video is long; likes "
		    "apply to short videos", id);
	else if (want == V_LONG && k != V_LONG)
		rc = msp_err_set(e, MSP_EINVAL, "%s: video is short; ratings "
		    "apply to long videos", id);
	else if (!(flags & F_DELETED_OK) && video_deleted(v))
		rc = msp_err_set(e, MSP_EINVAL, "%s: video is deleted", id);
	if (rc != 0) {
		json_object_put(v);
		return rc;
	}
	if (live != NULL)
		*live = !video_deleted(v);
	if (out != NULL)
		*out = v;
	else
		json_object_put(v);
	return 0;
}

/* ---- like counters ----------------------------------------------------- */

uint64_t
msp_like_counter(struct msp_store *st, MDB_txn *t, const char *video)
{
	struct key k;
	MDB_val v;

	counter_key(&k, video);
	if (msp_db_get(st, t, MSP_DB_LIKE_IDX, k.b, k.n, &v, NULL) != 0 ||
	    v.mv_size != 8)
		return 0;
	return get64(v.mv_data);
}

static int
del_quiet(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const struct key *k, struct msp_err *e)
{
	int rc = msp_db_del(st, t, db, k->b, k->n, e);

	return rc == MSP_ENOTFOUND ? 0 : rc;
}

/* Set a short video's like count to n, moving its feed entry (which only
 * live videos have). */
static int
like_counter_set(struct msp_store *st, MDB_txn *t, const char *video,
    uint64_t old, uint64_t n, int live, struct msp_err *e)
{
	unsigned char b[8];
	struct key k;
	int rc;

	feed_key(&k, 's', old, video);
	if ((rc = del_quiet(st, t, MSP_DB_LIKE_IDX, &k, e)) != 0)
		return rc;
	feed_key(&k, 's', n, video);
	if (live && (rc = msp_db_put(st, t, MSP_DB_LIKE_IDX, k.b, k.n, "", 0,
	    0, e)) != 0)
		return rc;
	counter_key(&k, video);
	if (n == 0)
		return del_quiet(st, t, MSP_DB_LIKE_IDX, &k, e);
	put64(b, n);
	return msp_db_put(st, t, MSP_DB_LIKE_IDX, k.b, k.n, b, 8, 0, e);
}

static int
like_bump(struct msp_store *st, MDB_txn *t, const char *video, int delta,
    int live, uint64_t *count, struct msp_err *e)
{
	uint64_t old = msp_like_counter(st, t, video), n;

	if (delta < 0 && old == 0)
		return msp_err_set(e, MSP_ESTORE, "like_index: the like count "
		    "of %s would go below zero (run msp-catalog check)", video);
	n = delta < 0 ? old - 1 : old + 1;
	if (count != NULL)
		*count = n;
	return like_counter_set(st, t, video, old, n, live, e);
}

/* The like record's time, for the user index. */
static int
like_ms(json_object *rec, int64_t *ms)
{
	const char *c = get_str(rec, "createdAt");

	return c == NULL ? -1 : msp_time_parse(c, ms);
}

/* Store a new like record and its index entries. */
static int
like_insert(struct msp_store *st, MDB_txn *t, json_object *rec,
    const char *video, const char *email, int live, uint64_t *count,
    struct msp_err *e)
{
	struct key k;
	int64_t ms;
	int rc;

	if (like_ms(rec, &ms) != 0)
		return msp_err_set(e, MSP_EINVAL,
		    "field 'createdAt': not an RFC 3339 time");
	rec_key(&k, video, email);
	if ((rc = msp_db_put_json(st, t, MSP_DB_LIKES, (char *)k.b, k.n, rec,
	    e)) != 0)
		return rc;
	user_key(&k, email, ms, video);
	if ((rc = msp_db_put(st, t, MSP_DB_LIKE_IDX, k.b, k.n, "", 0, 0,
	    e)) != 0)
		return rc;
	return like_bump(st, t, video, 1, live, count, e);
}

/* Remove a like record (already read as rec) and its index entries. */
static int
like_remove(struct msp_store *st, MDB_txn *t, json_object *rec,
    const char *video, const char *email, int live, uint64_t *count,
    struct msp_err *e)
{
	struct key k;
	int64_t ms;
	int rc;

	if (like_ms(rec, &ms) == 0) {
		user_key(&k, email, ms, video);
		if ((rc = del_quiet(st, t, MSP_DB_LIKE_IDX, &k, e)) != 0)
			return rc;
	}
	rec_key(&k, video, email);
	if ((rc = del_quiet(st, t, MSP_DB_LIKES, &k, e)) != 0)
		return rc;
	return like_bump(st, t, video, -1, live, count, e);
}

/* ---- likes -------------------------------------------------------------- */

int
msp_like_add(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, json_object **out, uint64_t *count,
    struct msp_err *e)
{
	json_object *rec = NULL;
	char *email = NULL, when[MSP_TIME_LEN + 1];
	struct key k;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = find_user(st, t, user, &email, e)) != 0)
		return rc;
	if ((rc = find_video(st, t, video, V_SHORT, 0, NULL, NULL, e)) != 0)
		goto done;
	rec_key(&k, video, email);
	rc = msp_db_get_json(st, t, MSP_DB_LIKES, (char *)k.b, k.n, &rec, e);
	if (rc == 0) { /* liked already: nothing changes */
		if (count != NULL)
			*count = msp_like_counter(st, t, video);
		goto done;
	}
	if (rc != MSP_ENOTFOUND)
		goto done;
	msp_time_fmt(msp_now_ms(), when);
	if ((rec = json_object_new_object()) == NULL ||
	    set_str(rec, "type", "like") != 0 || set_int(rec, "v", 1) != 0 ||
	    set_str(rec, "videoId", video) != 0 ||
	    set_str(rec, "user", email) != 0 ||
	    set_str(rec, "createdAt", when) != 0 ||
	    set_str(rec, "status", LIKE_STATUS) != 0) {
		rc = oom(e);
		goto done;
	}
	rc = like_insert(st, t, rec, video, email, 1, count, e);
done:
	if (rc == 0 && out != NULL) {
		*out = rec;
		rec = NULL;
	}
	json_object_put(rec);
	free(email);
	return rc;
}

int
msp_like_del(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, json_object **out, uint64_t *count,
    struct msp_err *e)
{
	json_object *rec = NULL;
	char *email = NULL;
	struct key k;
	int rc, live;

	if (out != NULL)
		*out = NULL;
	if ((rc = find_user(st, t, user, &email, e)) != 0)
		return rc;
	if ((rc = find_video(st, t, video, V_SHORT, F_DELETED_OK, NULL, &live,
	    e)) != 0)
		goto done;
	rec_key(&k, video, email);
	rc = msp_db_get_json(st, t, MSP_DB_LIKES, (char *)k.b, k.n, &rec, e);
	if (rc == MSP_ENOTFOUND) { /* not liked: nothing to undo */
		if (count != NULL)
			*count = msp_like_counter(st, t, video);
		rc = 0;
		goto done;
	}
	if (rc != 0)
		goto done;
	rc = like_remove(st, t, rec, video, email, live, count, e);
done:
	if (rc == 0 && out != NULL) {
		*out = rec;
		rec = NULL;
	}
	json_object_put(rec);
	free(email);
	return rc;
}

int
msp_like_count(struct msp_store *st, MDB_txn *t, const char *video,
    uint64_t *count, struct msp_err *e)
{
	int rc;

	if ((rc = find_video(st, t, video, V_SHORT, F_DELETED_OK, NULL, NULL,
	    e)) != 0)
		return rc;
	*count = msp_like_counter(st, t, video);
	return 0;
}

/* ---- cursors ------------------------------------------------------------ */

static int
cursor_enc(const void *p, size_t n, char **next, struct msp_err *e)
{
	if ((*next = msp_b64url_enc(p, n)) == NULL)
		return oom(e);
	return 0;
}

/* Decode a cursor of exactly want bytes (0: any up to cap) starting with
 * tag (0: none). */
static int
cursor_dec(const char *s, char tag, size_t want, unsigned char *buf,
    size_t cap, size_t *got, struct msp_err *e)
{
	unsigned char *b = NULL;
	long n;

	if (strlen(s) > 4 * cap || (n = msp_b64url_dec(s, &b)) < 0 ||
	    (want != 0 && (size_t)n != want) || (size_t)n > cap ||
	    (tag != 0 && (n < 1 || b[0] != (unsigned char)tag))) {
		free(b);
		return msp_err_set(e, MSP_EINVAL, "'%.100s': not a cursor of "
		    "this listing", s);
	}
	memcpy(buf, b, (size_t)n);
	*got = (size_t)n;
	free(b);
	return 0;
}

static int
has_prefix(const MDB_val *k, const struct key *p)
{
	return k->mv_size >= p->n && memcmp(k->mv_data, p->b, p->n) == 0;
}

/*
 * Position c on the last key below from (or the last key of the database
 * when from is NULL), for walking backwards.
 */
static int
seek_before(MDB_cursor *c, const struct key *from, MDB_val *k, MDB_val *v)
{
	int rc;

	if (from != NULL) {
		k->mv_data = (void *)from->b;
		k->mv_size = from->n;
		rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
		if (rc == 0)
			return mdb_cursor_get(c, k, v, MDB_PREV);
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	return mdb_cursor_get(c, k, v, MDB_LAST);
}

/* The key just after every key starting with p. */
static void
prefix_end(struct key *end, const struct key *p)
{
	*end = *p;
	while (end->n > 0 && end->b[end->n - 1] == 0xff)
		end->n--;
	if (end->n > 0)
		end->b[end->n - 1]++;
}

/* ---- listing likes ------------------------------------------------------ */

int
msp_like_list_user(struct msp_store *st, MDB_txn *t, const char *user,
    long limit, const char *after, msp_each_fn fn, void *arg, char **next,
    struct msp_err *e)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct key pre, from, rk;
	unsigned char cur[8 + MSP_ID_LEN];
	char *email = NULL, video[MSP_ID_LEN + 1];
	json_object *rec;
	size_t got;
	long taken = 0;
	int rc;

	*next = NULL;
	if ((rc = find_user(st, t, user, &email, e)) != 0)
		return rc;
	pre.n = 0;
	key_add(&pre, "u", 2);
	key_str(&pre, email);
	key_nul(&pre);
	if (after != NULL) {
		if ((rc = cursor_dec(after, 0, sizeof(cur), cur, sizeof(cur),
		    &got, e)) != 0)
			goto done;
		from = pre;
		key_add(&from, cur, got);
	} else {
		prefix_end(&from, &pre);
	}
	rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_LIKE_IDX), &c);
	if (rc != 0) {
		rc = msp_store_mdb_err(rc, "like_index", e);
		goto done;
	}
	for (rc = seek_before(c, &from, &k, &v); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
		if (!has_prefix(&k, &pre) ||
		    k.mv_size != pre.n + 8 + MSP_ID_LEN)
			break;
		if (limit > 0 && taken == limit) {
			/* the cursor names the last of this page */
			rc = cursor_enc(cur, sizeof(cur), next, e);
			goto done;
		}
		memcpy(video, (char *)k.mv_data + pre.n + 8, MSP_ID_LEN);
		video[MSP_ID_LEN] = '\0';
		rec_key(&rk, video, email);
		rc = msp_db_get_json(st, t, MSP_DB_LIKES, (char *)rk.b, rk.n,
		    &rec, e);
		if (rc == MSP_ENOTFOUND)
			continue; /* msp-catalog check reports it */
		if (rc != 0)
			goto done;
		rc = fn(rec, arg, e);
		json_object_put(rec);
		if (rc != 0)
			goto done;
		memcpy(cur, (char *)k.mv_data + pre.n, sizeof(cur));
		taken++;
	}
	rc = rc == MDB_NOTFOUND || rc == 0 ? 0 :
	    msp_store_mdb_err(rc, "like_index", e);
done:
	if (c != NULL)
		mdb_cursor_close(c);
	free(email);
	return rc;
}

int
msp_like_list_video(struct msp_store *st, MDB_txn *t, const char *video,
    long limit, const char *after, msp_each_fn fn, void *arg, char **next,
    struct msp_err *e)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct key pre, from;
	json_object *rec;
	unsigned char cur[EMAIL_MAX + 1];
	size_t got;
	long taken = 0;
	int rc, op;

	*next = NULL;
	if ((rc = find_video(st, t, video, V_SHORT, F_DELETED_OK, NULL, NULL,
	    e)) != 0)
		return rc;
	pre.n = 0;
	key_str(&pre, video);
	key_nul(&pre);
	from = pre;
	if (after != NULL) {
		if ((rc = cursor_dec(after, 0, 0, cur, sizeof(cur), &got,
		    e)) != 0)
			return rc;
		key_add(&from, cur, got);
	}
	rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_LIKES), &c);
	if (rc != 0)
		return msp_store_mdb_err(rc, "likes", e);
	k.mv_data = from.b;
	k.mv_size = from.n;
	for (op = MDB_SET_RANGE; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		json_tokener *tok;

		if (!has_prefix(&k, &pre))
			break;
		if (after != NULL && k.mv_size == from.n &&
		    memcmp(k.mv_data, from.b, from.n) == 0)
			continue; /* the last of the previous page */
		if (limit > 0 && taken == limit) {
			/* the cursor names the last of this page */
			rc = cursor_enc(from.b + pre.n, from.n - pre.n, next, e);
			goto done;
		}
		if ((tok = json_tokener_new()) == NULL) {
			rc = oom(e);
			goto done;
		}
		rec = json_tokener_parse_ex(tok, v.mv_data, (int)v.mv_size);
		json_tokener_free(tok);
		if (rec == NULL) {
			rc = msp_err_set(e, MSP_ESTORE, "likes: corrupt record");
			goto done;
		}
		rc = fn(rec, arg, e);
		json_object_put(rec);
		if (rc != 0)
			goto done;
		taken++;
		/* remember the last key taken */
		from = pre;
		key_add(&from, (char *)k.mv_data + pre.n, k.mv_size - pre.n);
	}
	rc = rc == MDB_NOTFOUND || rc == 0 ? 0 :
	    msp_store_mdb_err(rc, "likes", e);
done:
	mdb_cursor_close(c);
	return rc;
}

/* ---- rating counters ---------------------------------------------------- */

void
msp_rating_counter(struct msp_store *st, MDB_txn *t, const char *video,
    uint64_t *count, uint64_t *sum)
{
	struct key k;
	MDB_val v;

	*count = *sum = 0;
	counter_key(&k, video);
	if (msp_db_get(st, t, MSP_DB_RATING_IDX, k.b, k.n, &v, NULL) != 0 ||
	    v.mv_size != 16)
		return;
	*count = get64(v.mv_data);
	*sum = get64((unsigned char *)v.mv_data + 8);
}

/* The Bayesian average (m C + sum) / (m + count), in units of 1e-9. */
static uint64_t
rating_score(uint64_t count, uint64_t sum)
{
	uint64_t num = (uint64_t)MSP_RATING_PRIOR_M * MSP_RATING_PRIOR_C + sum;
	uint64_t den = MSP_RATING_PRIOR_M + count;

	return num / den * SCORE_SCALE + num % den * SCORE_SCALE / den;
}

static int
rating_counter_set(struct msp_store *st, MDB_txn *t, const char *video,
    uint64_t oc, uint64_t os, uint64_t nc, uint64_t ns, int live,
    struct msp_err *e)
{
	unsigned char b[16];
	struct key k;
	int rc;

	feed_key(&k, 'r', rating_score(oc, os), video);
	if ((rc = del_quiet(st, t, MSP_DB_RATING_IDX, &k, e)) != 0)
		return rc;
	feed_key(&k, 'r', rating_score(nc, ns), video);
	if (live && (rc = msp_db_put(st, t, MSP_DB_RATING_IDX, k.b, k.n, "",
	    0, 0, e)) != 0)
		return rc;
	counter_key(&k, video);
	if (nc == 0)
		return del_quiet(st, t, MSP_DB_RATING_IDX, &k, e);
	put64(b, nc);
	put64(b + 8, ns);
	return msp_db_put(st, t, MSP_DB_RATING_IDX, k.b, k.n, b, 16, 0, e);
}

/* hundredths of sum / count, rounded half up */
static uint64_t
avg100(uint64_t count, uint64_t sum)
{
	return count == 0 ? 0 : (sum * 200 + count) / (2 * count);
}

static int
add_average(json_object *o, uint64_t count, uint64_t sum)
{
	json_object *a = new_fixed2(avg100(count, sum));

	if (a == NULL)
		return -1;
	if (json_object_object_add(o, "averageRating", a) != 0)
		return -1;
	return set_int(o, "ratingCount", (int64_t)count);
}

static int
rating_value(json_object *rec)
{
	json_object *x;

	if (!json_object_object_get_ex(rec, "rating", &x) ||
	    !json_object_is_type(x, json_type_int))
		return 0;
	return json_object_get_int(x);
}

/* ---- ratings ------------------------------------------------------------ */

int
msp_rating_parse(const char *s, int *rating, struct msp_err *e)
{
	long long v;

	if (msp_parse_int(s, MSP_RATING_MIN, MSP_RATING_MAX, &v) != 0)
		return msp_err_set(e, MSP_EINVAL, "%.100s: rating must be an "
		    "integer from %d to %d", s, MSP_RATING_MIN, MSP_RATING_MAX);
	*rating = (int)v;
	return 0;
}

int
msp_rating_set(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, int rating, json_object **out, struct msp_err *e)
{
	json_object *rec = NULL;
	char *email = NULL, when[MSP_TIME_LEN + 1];
	uint64_t count, sum, nc, ns;
	struct key k;
	int rc, old = 0;

	if (out != NULL)
		*out = NULL;
	if (rating < MSP_RATING_MIN || rating > MSP_RATING_MAX)
		return msp_err_set(e, MSP_EINVAL, "%d: rating must be an "
		    "integer from %d to %d", rating, MSP_RATING_MIN,
		    MSP_RATING_MAX);
	if ((rc = find_user(st, t, user, &email, e)) != 0)
		return rc;
	if ((rc = find_video(st, t, video, V_LONG, 0, NULL, NULL, e)) != 0)
		goto done;
	rec_key(&k, video, email);
	rc = msp_db_get_json(st, t, MSP_DB_RATINGS, (char *)k.b, k.n, &rec, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		goto done;
	if (rc == 0 && (old = rating_value(rec)) == rating)
		goto done; /* the same rating again: nothing changes */
	msp_time_fmt(msp_now_ms(), when);
	if (rec == NULL && ((rec = json_object_new_object()) == NULL ||
	    set_str(rec, "type", "rating") != 0 || set_int(rec, "v", 1) != 0 ||
	    set_str(rec, "videoId", video) != 0 ||
	    set_str(rec, "user", email) != 0 ||
	    set_int(rec, "rating", rating) != 0 ||
	    set_str(rec, "createdAt", when) != 0)) {
		rc = oom(e);
		goto done;
	}
	if (set_int(rec, "rating", rating) != 0 ||
	    set_str(rec, "updatedAt", when) != 0) {
		rc = oom(e);
		goto done;
	}
	msp_rating_counter(st, t, video, &count, &sum);
	if (old != 0) {
		nc = count;
		ns = sum - (uint64_t)old + (uint64_t)rating;
	} else {
		nc = count + 1;
		ns = sum + (uint64_t)rating;
	}
	if ((rc = msp_db_put_json(st, t, MSP_DB_RATINGS, (char *)k.b, k.n,
	    rec, e)) != 0)
		goto done;
	rc = rating_counter_set(st, t, video, count, sum, nc, ns, 1, e);
done:
	if (rc == 0 && out != NULL) {
		*out = rec;
		rec = NULL;
	}
	json_object_put(rec);
	free(email);
	return rc;
}

int
msp_rating_del(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, json_object **out, struct msp_err *e)
{
	json_object *rec = NULL;
	char *email = NULL;
	uint64_t count, sum;
	struct key k;
	int rc, old, live;

	if (out != NULL)
		*out = NULL;
	if ((rc = find_user(st, t, user, &email, e)) != 0)
		return rc;
	if ((rc = find_video(st, t, video, V_LONG, F_DELETED_OK, NULL, &live,
	    e)) != 0)
		goto done;
	rec_key(&k, video, email);
	rc = msp_db_get_json(st, t, MSP_DB_RATINGS, (char *)k.b, k.n, &rec, e);
	if (rc == MSP_ENOTFOUND) {
		rc = 0;
		goto done;
	}
	if (rc != 0)
		goto done;
	old = rating_value(rec);
	msp_rating_counter(st, t, video, &count, &sum);
	if (count == 0 || sum < (uint64_t)old) {
		rc = msp_err_set(e, MSP_ESTORE, "rating_index: the counter of "
		    "%s disagrees with its ratings (run msp-catalog check)",
		    video);
		goto done;
	}
	if ((rc = msp_db_del(st, t, MSP_DB_RATINGS, k.b, k.n, e)) != 0)
		goto done;
	rc = rating_counter_set(st, t, video, count, sum, count - 1,
	    sum - (uint64_t)old, live, e);
done:
	if (rc == 0 && out != NULL) {
		*out = rec;
		rec = NULL;
	}
	json_object_put(rec);
	free(email);
	return rc;
}

int
msp_rating_get_user(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, json_object **out, struct msp_err *e)
{
	char *email = NULL;
	struct key k;
	int rc;

	*out = NULL;
	if ((rc = find_user(st, t, user, &email, e)) != 0)
		return rc;
	if ((rc = find_video(st, t, video, V_LONG, F_DELETED_OK, NULL, NULL,
	    e)) != 0)
		goto done;
	rec_key(&k, video, email);
	rc = msp_db_get_json(st, t, MSP_DB_RATINGS, (char *)k.b, k.n, out, e);
	if (rc == MSP_ENOTFOUND)
		rc = msp_err_set(e, MSP_ENOTFOUND, "%s: not rated by %s",
		    video, email);
done:
	free(email);
	return rc;
}

static json_object *
summary_new(const char *video, uint64_t count, uint64_t sum)
{
	json_object *o = json_object_new_object(), *s;
	uint64_t score = rating_score(count, sum);

	if (o == NULL || set_str(o, "type", "rating") != 0 ||
	    set_int(o, "v", 1) != 0 || set_str(o, "videoId", video) != 0 ||
	    add_average(o, count, sum) != 0 ||
	    (s = new_fixed2((score + SCORE_SCALE / 200) /
	    (SCORE_SCALE / 100))) == NULL ||
	    json_object_object_add(o, "score", s) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int
msp_rating_summary(struct msp_store *st, MDB_txn *t, const char *video,
    json_object **out, struct msp_err *e)
{
	uint64_t count, sum;
	int rc;

	*out = NULL;
	if ((rc = find_video(st, t, video, V_LONG, F_DELETED_OK, NULL, NULL,
	    e)) != 0)
		return rc;
	msp_rating_counter(st, t, video, &count, &sum);
	if ((*out = summary_new(video, count, sum)) == NULL)
		return oom(e);
	return 0;
}

static int
has_genre(json_object *v, const char *genre)
{
	json_object *g;
	size_t i, n;

	if (!json_object_object_get_ex(v, "genres", &g) ||
	    !json_object_is_type(g, json_type_array))
		return 0;
	n = json_object_array_length(g);
	for (i = 0; i < n; i++) {
		const char *s = json_object_get_string(
		    json_object_array_get_idx(g, i));
		if (s != NULL && strcmp(s, genre) == 0)
			return 1;
	}
	return 0;
}

int
msp_rating_top(struct msp_store *st, MDB_txn *t, const char *genre,
    const char *language, long limit, msp_each_fn fn, void *arg,
    struct msp_err *e)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct key pre, end;
	char id[MSP_ID_LEN + 1];
	json_object *vid, *o, *x;
	uint64_t count, sum;
	const char *s;
	long taken = 0;
	int rc;

	if ((rc = msp_filter_canon(&genre, &language, e)) != 0)
		return rc;
	pre.n = 0;
	key_add(&pre, "r", 2);
	prefix_end(&end, &pre);
	rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_RATING_IDX), &c);
	if (rc != 0)
		return msp_store_mdb_err(rc, "rating_index", e);
	for (rc = seek_before(c, &end, &k, &v); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
		if (!has_prefix(&k, &pre) || k.mv_size != FEED_KEY_LEN)
			break;
		if (limit > 0 && taken == limit)
			break;
		memcpy(id, (char *)k.mv_data + 11, MSP_ID_LEN);
		id[MSP_ID_LEN] = '\0';
		msp_rating_counter(st, t, id, &count, &sum);
		if (count == 0)
			continue;
		rc = msp_db_get_json(st, t, MSP_DB_VIDEOS, id, MSP_ID_LEN,
		    &vid, e);
		if (rc == MSP_ENOTFOUND)
			continue;
		if (rc != 0)
			goto done;
		if (video_kind(vid) != V_LONG || !msp_video_visible(vid) ||
		    (genre != NULL && !has_genre(vid, genre)) ||
		    (language != NULL && ((s = get_str(vid, "language")) ==
		    NULL || strcmp(s, language) != 0))) {
			json_object_put(vid);
			continue;
		}
		if ((o = summary_new(id, count, sum)) == NULL ||
		    set_int(o, "rank", taken + 1) != 0) {
			json_object_put(o);
			json_object_put(vid);
			rc = oom(e);
			goto done;
		}
		if ((s = get_str(vid, "title")) != NULL)
			set_str(o, "title", s);
		if ((s = get_str(vid, "language")) != NULL)
			set_str(o, "language", s);
		if (json_object_object_get_ex(vid, "genres", &x))
			json_object_object_add(o, "genres",
			    json_object_get(x));
		json_object_put(vid);
		rc = fn(o, arg, e);
		json_object_put(o);
		if (rc != 0)
			goto done;
		taken++;
	}
	rc = rc == MDB_NOTFOUND || rc == 0 ? 0 :
	    msp_store_mdb_err(rc, "rating_index", e);
done:
	mdb_cursor_close(c);
	return rc;
}

/* ---- decorate and feeds ------------------------------------------------- */

int
msp_engage_decorate(struct msp_store *st, MDB_txn *t, json_object *video,
    struct msp_err *e)
{
	const char *id = get_str(video, "id");
	uint64_t count, sum;

	if (id == NULL)
		return 0;
	switch (video_kind(video)) {
	case V_SHORT:
		if (set_int(video, "likes",
		    (int64_t)msp_like_counter(st, t, id)) != 0)
			return oom(e);
		break;
	case V_LONG:
		msp_rating_counter(st, t, id, &count, &sum);
		if (add_average(video, count, sum) != 0)
			return oom(e);
		break;
	default:
		break;
	}
	return 0;
}

int
msp_engage_feed(struct msp_store *st, MDB_txn *t, enum msp_sort sort,
    const char *after, long limit, msp_feed_fn fn, void *arg, char **next,
    struct msp_err *e)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct key pre, from;
	unsigned char cur[1 + 8 + MSP_ID_LEN], last[1 + 8 + MSP_ID_LEN];
	char id[MSP_ID_LEN + 1], tag;
	enum msp_db db;
	size_t got;
	long taken = 0;
	int rc;

	*next = NULL;
	if (sort == MSP_SORT_LIKES) {
		tag = 's';
		db = MSP_DB_LIKE_IDX;
	} else if (sort == MSP_SORT_RATING) {
		tag = 'r';
		db = MSP_DB_RATING_IDX;
	} else {
		return msp_err_set(e, MSP_EINVAL, "feeds sort by likes or "
		    "rating only");
	}
	pre.n = 0;
	key_add(&pre, &tag, 1);
	key_nul(&pre);
	if (after != NULL) {
		if ((rc = cursor_dec(after, tag, sizeof(cur), cur, sizeof(cur),
		    &got, e)) != 0)
			return rc;
		memcpy(id, cur + 9, MSP_ID_LEN);
		id[MSP_ID_LEN] = '\0';
		if (!msp_id_valid(id))
			return msp_err_set(e, MSP_EINVAL, "'%.100s': not a cursor "
			    "of this listing", after);
		feed_key(&from, tag, get64(cur + 1), id);
	} else {
		prefix_end(&from, &pre);
	}
	rc = mdb_cursor_open(t, msp_store_dbi(st, db), &c);
	if (rc != 0)
		return msp_store_mdb_err(rc, msp_store_dbdef(db)->name, e);
	for (rc = seek_before(c, &from, &k, &v); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
		int took;

		if (!has_prefix(&k, &pre) || k.mv_size != FEED_KEY_LEN)
			break;
		memcpy(id, (char *)k.mv_data + 11, MSP_ID_LEN);
		id[MSP_ID_LEN] = '\0';
		if (limit > 0 && taken == limit) {
			/* is there a next page? */
			if ((took = fn(id, 1, arg, e)) < 0) {
				rc = took;
				goto done;
			}
			if (took == 0)
				continue;
			rc = cursor_enc(last, sizeof(last), next, e);
			goto done;
		}
		if ((took = fn(id, 0, arg, e)) < 0) {
			rc = took;
			goto done;
		}
		if (took > 0) {
			taken++;
			/* the cursor: tag, value and id of the last taken */
			last[0] = (unsigned char)tag;
			memcpy(last + 1, (char *)k.mv_data + 2, 8);
			memcpy(last + 9, id, MSP_ID_LEN);
		}
	}
	rc = rc == MDB_NOTFOUND || rc == 0 ? 0 :
	    msp_store_mdb_err(rc, msp_store_dbdef(db)->name, e);
done:
	mdb_cursor_close(c);
	return rc;
}

/* ---- the video observer ------------------------------------------------- */

/* Remove every record of db whose key starts with "<video>\0"; for likes,
 * also their user index entries. */
static int
purge_records(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const char *video, struct msp_err *e)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct key pre, uk;
	int rc;

	pre.n = 0;
	key_str(&pre, video);
	key_nul(&pre);
	for (;;) {
		rc = mdb_cursor_open(t, msp_store_dbi(st, db), &c);
		if (rc != 0)
			return msp_store_mdb_err(rc, "purge", e);
		k.mv_data = pre.b;
		k.mv_size = pre.n;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (rc == 0 && !has_prefix(&k, &pre))) {
			mdb_cursor_close(c);
			return 0;
		}
		if (rc != 0)
			break;
		if (db == MSP_DB_LIKES) {
			char email[EMAIL_MAX + 1];
			json_object *rec;
			json_tokener *tok = json_tokener_new();
			size_t n = k.mv_size - pre.n;
			int64_t ms;

			if (tok == NULL) {
				mdb_cursor_close(c);
				return oom(e);
			}
			rec = json_tokener_parse_ex(tok, v.mv_data,
			    (int)v.mv_size);
			json_tokener_free(tok);
			if (n > EMAIL_MAX)
				n = EMAIL_MAX;
			memcpy(email, (char *)k.mv_data + pre.n, n);
			email[n] = '\0';
			if (rec != NULL && like_ms(rec, &ms) == 0) {
				user_key(&uk, email, ms, video);
				if ((rc = del_quiet(st, t, MSP_DB_LIKE_IDX, &uk,
				    e)) != 0) {
					json_object_put(rec);
					mdb_cursor_close(c);
					return rc;
				}
			}
			json_object_put(rec);
		}
		rc = mdb_cursor_del(c, 0);
		mdb_cursor_close(c);
		if (rc != 0)
			return msp_store_mdb_err(rc, "purge", e);
	}
	mdb_cursor_close(c);
	return msp_store_mdb_err(rc, "purge", e);
}

static int
feed_entry_del(struct msp_store *st, MDB_txn *t, enum vkind kind,
    const char *id, struct msp_err *e)
{
	uint64_t count, sum;
	struct key k;

	if (kind == V_SHORT) {
		feed_key(&k, 's', msp_like_counter(st, t, id), id);
		return del_quiet(st, t, MSP_DB_LIKE_IDX, &k, e);
	}
	if (kind == V_LONG) {
		msp_rating_counter(st, t, id, &count, &sum);
		feed_key(&k, 'r', rating_score(count, sum), id);
		return del_quiet(st, t, MSP_DB_RATING_IDX, &k, e);
	}
	return 0;
}

static int
feed_entry_put(struct msp_store *st, MDB_txn *t, enum vkind kind,
    const char *id, struct msp_err *e)
{
	uint64_t count, sum;
	struct key k;

	if (kind == V_SHORT) {
		feed_key(&k, 's', msp_like_counter(st, t, id), id);
		return msp_db_put(st, t, MSP_DB_LIKE_IDX, k.b, k.n, "", 0, 0, e);
	}
	if (kind == V_LONG) {
		msp_rating_counter(st, t, id, &count, &sum);
		feed_key(&k, 'r', rating_score(count, sum), id);
		return msp_db_put(st, t, MSP_DB_RATING_IDX, k.b, k.n, "", 0, 0,
		    e);
	}
	return 0;
}

int
msp_engage_observe(struct msp_store *st, MDB_txn *t, json_object *before,
    json_object *after, struct msp_err *e)
{
	enum vkind bk = video_kind(before), ak = video_kind(after);
	const char *id = get_str(after != NULL ? after : before, "id");
	struct key k;
	int rc;

	if (id == NULL || !msp_id_valid(id))
		return 0;
	if (after == NULL) { /* purged: its likes and ratings go too */
		if ((rc = feed_entry_del(st, t, V_SHORT, id, e)) != 0 ||
		    (rc = feed_entry_del(st, t, V_LONG, id, e)) != 0 ||
		    (rc = purge_records(st, t, MSP_DB_LIKES, id, e)) != 0 ||
		    (rc = purge_records(st, t, MSP_DB_RATINGS, id, e)) != 0)
			return rc;
		counter_key(&k, id);
		if ((rc = del_quiet(st, t, MSP_DB_LIKE_IDX, &k, e)) != 0)
			return rc;
		return del_quiet(st, t, MSP_DB_RATING_IDX, &k, e);
	}
	/* feed entries are kept for live (not deleted) videos only */
	if (before != NULL && bk == ak &&
	    video_deleted(before) == video_deleted(after))
		return 0;
	if (before != NULL && (rc = feed_entry_del(st, t, bk, id, e)) != 0)
		return rc;
	if (video_deleted(after))
		return 0;
	return feed_entry_put(st, t, ak, id, e);
}

/* ---- check -------------------------------------------------------------- */

static json_object *
parse_val(const MDB_val *v)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	if (tok == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, v->mv_data, (int)v->mv_size);
	json_tokener_free(tok);
	return o;
}

/* The kind of a video, V_NONE when it is not there; *deleted (may be
 * NULL) whether it is deleted. */
static enum vkind
kind_of(struct msp_store *st, MDB_txn *t, const char *id, int *deleted)
{
	json_object *v;
	enum vkind k;

	if (deleted != NULL)
		*deleted = 0;
	if (msp_db_get_json(st, t, MSP_DB_VIDEOS, id, strlen(id), &v,
	    NULL) != 0)
		return V_NONE;
	k = video_kind(v);
	if (deleted != NULL)
		*deleted = video_deleted(v);
	json_object_put(v);
	return k;
}

/* Compare one video's records (n of them, ratings summing to sum) with its
 * counter. */
static void
check_group(struct msp_store *st, MDB_txn *t, struct msp_report *c, int rating,
    const char *video, uint64_t n, uint64_t sum)
{
	uint64_t cc, cs;

	if (kind_of(st, t, video, NULL) != (rating ? V_LONG : V_SHORT))
		msp_reportf(c, "%s: %" PRIu64 " %s of video %s, which is not a %s "
		    "video", rating ? "ratings" : "likes", n,
		    rating ? "ratings" : "likes", video,
		    rating ? "long" : "short");
	if (!rating) {
		cc = msp_like_counter(st, t, video);
		if (cc != n)
			msp_reportf(c, "like_index: video %s: counter says %" PRIu64
			    " likes, %" PRIu64 " records", video, cc, n);
		return;
	}
	msp_rating_counter(st, t, video, &cc, &cs);
	if (cc != n || cs != sum)
		msp_reportf(c, "rating_index: video %s: counter says %" PRIu64
		    " ratings summing to %" PRIu64 ", records %" PRIu64
		    " summing to %" PRIu64, video, cc, cs, n, sum);
}

/* Walk the records of likes or ratings, grouped by video. */
static int
check_records(struct msp_store *st, MDB_txn *t, struct msp_report *c, int rating,
    struct msp_err *e)
{
	enum msp_db db = rating ? MSP_DB_RATINGS : MSP_DB_LIKES;
	const char *name = msp_store_dbdef(db)->name;
	char cur[MSP_ID_LEN + 1] = "", video[MSP_ID_LEN + 1];
	char email[EMAIL_MAX + 1];
	uint64_t n = 0, sum = 0;
	MDB_cursor *cu;
	MDB_val k, v;
	struct key uk;
	MDB_val uv;
	json_object *rec;
	int64_t ms;
	int rc;

	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, db), &cu)) != 0)
		return msp_store_mdb_err(rc, name, e);
	while ((rc = mdb_cursor_get(cu, &k, &v, MDB_NEXT)) == 0) {
		const char *kb = k.mv_data;
		size_t en;

		if (k.mv_size < MSP_ID_LEN + 2 || kb[MSP_ID_LEN] != '\0' ||
		    k.mv_size - MSP_ID_LEN - 1 > EMAIL_MAX) {
			msp_reportf(c, "%s: a key of %zu bytes is not "
			    "\"<video>\\0<email>\"", name, k.mv_size);
			continue;
		}
		memcpy(video, kb, MSP_ID_LEN);
		video[MSP_ID_LEN] = '\0';
		en = k.mv_size - MSP_ID_LEN - 1;
		memcpy(email, kb + MSP_ID_LEN + 1, en);
		email[en] = '\0';
		if (strcmp(video, cur) != 0) {
			if (cur[0] != '\0')
				check_group(st, t, c, rating, cur, n, sum);
			memcpy(cur, video, sizeof(cur));
			n = sum = 0;
		}
		n++;
		if ((rec = parse_val(&v)) == NULL) {
			msp_reportf(c, "%s: %s by %s: corrupt record", name, video,
			    email);
			continue;
		}
		if (rating) {
			sum += (uint64_t)rating_value(rec);
		} else if (like_ms(rec, &ms) != 0) {
			msp_reportf(c, "likes: %s by %s: no valid createdAt", video,
			    email);
		} else {
			user_key(&uk, email, ms, video);
			if (msp_db_get(st, t, MSP_DB_LIKE_IDX, uk.b, uk.n, &uv,
			    NULL) != 0)
				msp_reportf(c, "like_index: the like of %s by %s is "
				    "missing from the user's likes", video,
				    email);
		}
		json_object_put(rec);
		if (msp_db_get(st, t, MSP_DB_USERS, email, en, &uv, NULL) != 0)
			msp_reportf(c, "%s: %s by unknown user %s", name, video,
			    email);
	}
	if (cur[0] != '\0')
		check_group(st, t, c, rating, cur, n, sum);
	mdb_cursor_close(cu);
	return rc == MDB_NOTFOUND ? 0 : msp_store_mdb_err(rc, name, e);
}

/* 1 when db holds a record of video */
static int
has_records(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const char *video)
{
	MDB_cursor *cu;
	MDB_val k, v;
	struct key pre;
	int rc;

	pre.n = 0;
	key_str(&pre, video);
	key_nul(&pre);
	if (mdb_cursor_open(t, msp_store_dbi(st, db), &cu) != 0)
		return 0;
	k.mv_data = pre.b;
	k.mv_size = pre.n;
	rc = mdb_cursor_get(cu, &k, &v, MDB_SET_RANGE);
	rc = rc == 0 && has_prefix(&k, &pre);
	mdb_cursor_close(cu);
	return rc;
}

/* Walk an index database: counters, feed entries, user entries. */
static int
check_index(struct msp_store *st, MDB_txn *t, struct msp_report *c, int rating,
    struct msp_err *e)
{
	enum msp_db db = rating ? MSP_DB_RATING_IDX : MSP_DB_LIKE_IDX;
	const char *name = msp_store_dbdef(db)->name;
	char id[MSP_ID_LEN + 1], email[EMAIL_MAX + 1];
	uint64_t count, sum;
	MDB_cursor *cu;
	MDB_val k, v, rv;
	struct key rk;
	json_object *rec;
	int64_t ms;
	int rc;

	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, db), &cu)) != 0)
		return msp_store_mdb_err(rc, name, e);
	while ((rc = mdb_cursor_get(cu, &k, &v, MDB_NEXT)) == 0) {
		const unsigned char *kb = k.mv_data;
		char tag = k.mv_size >= 2 && kb[1] == '\0' ? (char)kb[0] : 0;

		if (tag == 'c' && k.mv_size == 2 + MSP_ID_LEN) {
			memcpy(id, kb + 2, MSP_ID_LEN);
			id[MSP_ID_LEN] = '\0';
			if (v.mv_size != (rating ? 16u : 8u) ||
			    get64(v.mv_data) == 0)
				msp_reportf(c, "%s: video %s: malformed counter",
				    name, id);
			if (!has_records(st, t, rating ? MSP_DB_RATINGS :
			    MSP_DB_LIKES, id))
				msp_reportf(c, "%s: video %s: a counter without "
				    "records", name, id);
		} else if (tag == (rating ? 'r' : 's') &&
		    k.mv_size == FEED_KEY_LEN && kb[10] == '\0') {
			uint64_t want;
			int del;

			memcpy(id, kb + 11, MSP_ID_LEN);
			id[MSP_ID_LEN] = '\0';
			if (kind_of(st, t, id, &del) != (rating ? V_LONG :
			    V_SHORT) || del)
				msp_reportf(c, "%s: feed entry of %s, which is not "
				    "a live %s video", name, id,
				    rating ? "long" : "short");
			if (rating) {
				msp_rating_counter(st, t, id, &count, &sum);
				want = rating_score(count, sum);
			} else {
				want = msp_like_counter(st, t, id);
			}
			if (get64(kb + 2) != want)
				msp_reportf(c, "%s: feed entry of %s is stale", name,
				    id);
		} else if (!rating && tag == 'u' &&
		    k.mv_size > 2 + 1 + 8 + MSP_ID_LEN &&
		    k.mv_size - (3 + 8 + MSP_ID_LEN) <= EMAIL_MAX &&
		    kb[k.mv_size - 9 - MSP_ID_LEN] == '\0') {
			size_t en = k.mv_size - (3 + 8 + MSP_ID_LEN);

			memcpy(email, kb + 2, en);
			email[en] = '\0';
			memcpy(id, kb + k.mv_size - MSP_ID_LEN, MSP_ID_LEN);
			id[MSP_ID_LEN] = '\0';
			rec_key(&rk, id, email);
			rec = NULL;
			if (msp_db_get(st, t, MSP_DB_LIKES, rk.b, rk.n, &rv,
			    NULL) != 0 || (rec = parse_val(&rv)) == NULL ||
			    like_ms(rec, &ms) != 0 ||
			    (uint64_t)ms != get64(kb + 3 + en))
				msp_reportf(c, "like_index: %s's like of %s has no "
				    "matching record", email, id);
			json_object_put(rec);
		} else {
			msp_reportf(c, "%s: unexpected key of %zu bytes", name,
			    k.mv_size);
		}
	}
	mdb_cursor_close(cu);
	return rc == MDB_NOTFOUND ? 0 : msp_store_mdb_err(rc, name, e);
}

/* Every short video has a likes feed entry, every long one a rating one. */
static int
check_videos(struct msp_store *st, MDB_txn *t, struct msp_report *c,
    struct msp_err *e)
{
	MDB_cursor *cu;
	MDB_val k, v, fv;
	json_object *vid;
	struct key fk;
	uint64_t count, sum;
	char id[MSP_ID_LEN + 1];
	int rc;

	rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VIDEOS), &cu);
	if (rc != 0)
		return msp_store_mdb_err(rc, "videos", e);
	while ((rc = mdb_cursor_get(cu, &k, &v, MDB_NEXT)) == 0) {
		enum vkind kind;

		if (k.mv_size != MSP_ID_LEN || (vid = parse_val(&v)) == NULL)
			continue; /* the catalog's check reports these */
		kind = video_kind(vid);
		if (video_deleted(vid))
			kind = V_NONE; /* deleted videos have no feed entry */
		json_object_put(vid);
		memcpy(id, k.mv_data, MSP_ID_LEN);
		id[MSP_ID_LEN] = '\0';
		if (kind == V_SHORT) {
			feed_key(&fk, 's', msp_like_counter(st, t, id), id);
			if (msp_db_get(st, t, MSP_DB_LIKE_IDX, fk.b, fk.n, &fv,
			    NULL) != 0)
				msp_reportf(c, "like_index: short video %s has no "
				    "feed entry", id);
		} else if (kind == V_LONG) {
			msp_rating_counter(st, t, id, &count, &sum);
			feed_key(&fk, 'r', rating_score(count, sum), id);
			if (msp_db_get(st, t, MSP_DB_RATING_IDX, fk.b, fk.n,
			    &fv, NULL) != 0)
				msp_reportf(c, "rating_index: long video %s has no "
				    "feed entry", id);
		}
	}
	mdb_cursor_close(cu);
	return rc == MDB_NOTFOUND ? 0 : msp_store_mdb_err(rc, "videos", e);
}

int
msp_engage_check(struct msp_store *st, MDB_txn *t, msp_report_fn fn,
    void *arg, struct msp_err *e)
{
	struct msp_report c = { fn, arg, 0 };
	int rc;

	if ((rc = check_records(st, t, &c, 0, e)) != 0 ||
	    (rc = check_records(st, t, &c, 1, e)) != 0 ||
	    (rc = check_index(st, t, &c, 0, e)) != 0 ||
	    (rc = check_index(st, t, &c, 1, e)) != 0 ||
	    (rc = check_videos(st, t, &c, e)) != 0)
		return rc;
	return c.count;
}

/* ---- import ------------------------------------------------------------- */

static int
import_common(struct msp_store *st, MDB_txn *t, json_object *rec,
    const char *kind, enum vkind want, const char **video, char **email,
    int *live, struct msp_err *e)
{
	const char *user, *when;
	int64_t ms;
	int rc;

	*email = NULL;
	if ((rc = msp_record_check(rec, kind, 1, e)) != 0 ||
	    (rc = msp_field_str(rec, "videoId", 1, MSP_ID_LEN, 0, video,
	    e)) != 0 ||
	    (rc = msp_field_str(rec, "user", 1, EMAIL_MAX, 0, &user, e)) != 0 ||
	    (rc = msp_field_str(rec, "createdAt", 1, 64, 0, &when, e)) != 0)
		return rc;
	if (msp_time_parse(when, &ms) != 0)
		return msp_err_set(e, MSP_EINVAL,
		    "field 'createdAt': not an RFC 3339 time");
	if ((rc = find_video(st, t, *video, want, F_DELETED_OK, NULL, live,
	    e)) != 0)
		return rc;
	if ((rc = find_user(st, t, user, email, e)) != 0)
		return rc;
	if (strcmp(*email, user) != 0) {
		free(*email);
		*email = NULL;
		return msp_err_set(e, MSP_EINVAL, "field 'user': '%s' is not "
		    "lower case", user);
	}
	return 0;
}

int
msp_like_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *video, *status;
	char *email;
	struct key k;
	MDB_val v;
	int rc, live;

	if ((rc = import_common(st, t, rec, "like", V_SHORT, &video, &email,
	    &live, e)) != 0)
		return rc;
	if ((rc = msp_field_str(rec, "status", 1, 32, 0, &status, e)) != 0)
		goto done;
	if (strcmp(status, LIKE_STATUS) != 0) {
		rc = msp_err_set(e, MSP_EINVAL, "field 'status': expected "
		    "\"%s\"", LIKE_STATUS);
		goto done;
	}
	rec_key(&k, video, email);
	rc = msp_db_get(st, t, MSP_DB_LIKES, k.b, k.n, &v, e);
	if (rc == 0) {
		rc = msp_err_set(e, MSP_EEXIST, "%s liked %s twice", email,
		    video);
		goto done;
	}
	if (rc != MSP_ENOTFOUND)
		goto done;
	rc = like_insert(st, t, rec, video, email, live, NULL, e);
done:
	free(email);
	return rc;
}

int
msp_rating_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *video, *when;
	char *email;
	long long r;
	uint64_t count, sum;
	struct key k;
	MDB_val v;
	int rc, live;

	if ((rc = import_common(st, t, rec, "rating", V_LONG, &video, &email,
	    &live, e)) != 0)
		return rc;
	if ((rc = msp_field_int(rec, "rating", 1, MSP_RATING_MIN,
	    MSP_RATING_MAX, &r, e)) != 0 ||
	    (rc = msp_field_str(rec, "updatedAt", 1, 64, 0, &when, e)) != 0)
		goto done;
	rec_key(&k, video, email);
	rc = msp_db_get(st, t, MSP_DB_RATINGS, k.b, k.n, &v, e);
	if (rc == 0) {
		rc = msp_err_set(e, MSP_EEXIST, "%s rated %s twice", email,
		    video);
		goto done;
	}
	if (rc != MSP_ENOTFOUND)
		goto done;
	if ((rc = msp_db_put_json(st, t, MSP_DB_RATINGS, (char *)k.b, k.n,
	    rec, e)) != 0)
		goto done;
	msp_rating_counter(st, t, video, &count, &sum);
	rc = rating_counter_set(st, t, video, count, sum, count + 1,
	    sum + (uint64_t)r, live, e);
done:
	free(email);
	return rc;
}

/* ---- lines ------------------------------------------------------------ */

static int
op_name(json_object *in, const char *add, int del_default, int *del,
    struct msp_err *e)
{
	const char *s;
	int rc = msp_field_str(in, "op", 0, 16, 0, &s, e);

	*del = del_default;
	if (rc == MSP_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (strcmp(s, add) == 0)
		*del = 0;
	else if (strcmp(s, "del") == 0)
		*del = 1;
	else
		return msp_err_set(e, MSP_EINVAL, "field 'op': expected \"%s\" "
		    "or \"del\"", add);
	return 0;
}

/* The answer to an unlike or a removed rating (user already checked). */
static json_object *
removed_new(const char *type, const char *video, const char *user,
    const char *status)
{
	json_object *o = json_object_new_object();
	char *email = NULL;

	if (o == NULL || msp_email_norm(user, &email, NULL) != 0 ||
	    set_str(o, "type", type) != 0 || set_int(o, "v", 1) != 0 ||
	    set_str(o, "videoId", video) != 0 ||
	    set_str(o, "user", email) != 0 ||
	    set_str(o, "status", status) != 0) {
		free(email);
		json_object_put(o);
		return NULL;
	}
	free(email);
	return o;
}

/* Fields of the input line the answer lacks are passed through, so that a
 * pipeline can carry its own data; "op" and "rating" are the input's own. */
static void
pass_through(json_object *in, json_object *out)
{
	json_object_object_foreach(in, k, v) {
		if (strcmp(k, "op") == 0 || strcmp(k, "rating") == 0 ||
		    json_object_object_get_ex(out, k, NULL))
			continue;
		json_object_object_add(out, k, json_object_get(v));
	}
}

int
msp_like_line(struct msp_store *st, MDB_txn *t, json_object *in,
    json_object **out, void *arg, struct msp_err *e)
{
	const char *user, *video;
	uint64_t count = 0;
	json_object *o = NULL;
	int rc, del;

	*out = NULL;
	if ((rc = msp_record_check(in, "like", 0, e)) != 0 ||
	    (rc = op_name(in, "add", arg != NULL && *(int *)arg, &del,
	    e)) != 0 ||
	    (rc = msp_field_str(in, "user", 1, 0, 0, &user, e)) != 0 ||
	    (rc = msp_field_str(in, "videoId", 1, 0, 0, &video, e)) != 0)
		return rc;
	if (!del) {
		rc = msp_like_add(st, t, user, video, &o, &count, e);
	} else {
		rc = msp_like_del(st, t, user, video, NULL, &count, e);
		if (rc == 0 && (o = removed_new("like", video, user,
		    "unliked")) == NULL)
			rc = oom(e);
	}
	if (rc == 0 && set_int(o, "likes", (int64_t)count) != 0)
		rc = oom(e);
	if (rc == 0) {
		pass_through(in, o);
		*out = o;
	} else {
		json_object_put(o);
	}
	return rc;
}

int
msp_rating_line(struct msp_store *st, MDB_txn *t, json_object *in,
    json_object **out, void *arg, struct msp_err *e)
{
	const char *user, *video;
	json_object *o = NULL;
	uint64_t count, sum;
	long long r = 0;
	int rc, del;

	*out = NULL;
	if ((rc = msp_record_check(in, "rating", 0, e)) != 0 ||
	    (rc = op_name(in, "set", arg != NULL && *(int *)arg, &del,
	    e)) != 0 ||
	    (rc = msp_field_str(in, "user", 1, 0, 0, &user, e)) != 0 ||
	    (rc = msp_field_str(in, "videoId", 1, 0, 0, &video, e)) != 0)
		return rc;
	if (!del && (rc = msp_field_int(in, "rating", 1, MSP_RATING_MIN,
	    MSP_RATING_MAX, &r, e)) != 0)
		return rc;
	if (!del) {
		rc = msp_rating_set(st, t, user, video, (int)r, &o, e);
	} else {
		rc = msp_rating_del(st, t, user, video, NULL, e);
		if (rc == 0 && (o = removed_new("rating", video, user,
		    "removed")) == NULL)
			rc = oom(e);
	}
	if (rc == 0) {
		msp_rating_counter(st, t, video, &count, &sum);
		if (add_average(o, count, sum) != 0)
			rc = oom(e);
	}
	if (rc == 0) {
		pass_through(in, o);
		*out = o;
	} else {
		json_object_put(o);
	}
	return rc;
}

struct apply {
	struct msp_store *st;
	msp_line_fn fn;
	json_object *in;
	void *arg;
	json_object *out;
};

static int
apply_fn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct apply *a = arg;

	json_object_put(a->out);
	a->out = NULL;
	return a->fn(a->st, t, a->in, &a->out, a->arg, e);
}

int
msp_engage_apply(struct msp_store *st, msp_line_fn fn, json_object *in,
    void *arg, json_object **out, struct msp_err *e)
{
	struct apply a = { st, fn, in, arg, NULL };
	int rc = msp_store_write(st, apply_fn, &a, e);

	if (rc != 0) {
		json_object_put(a.out);
		a.out = NULL;
	}
	*out = a.out;
	return rc;
}
