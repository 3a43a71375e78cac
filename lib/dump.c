#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "catalog.h"
#include "dump.h"
#include "engage.h"
#include "jobs.h"
#include "jsonl.h"
#include "pay.h"
#include "search.h"
#include "util.h"

static int
meta_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *key, *val;
	long long ver;
	int rc;

	if ((rc = msp_record_check(rec, "meta", 1, e)) != 0)
		return rc;
	if ((rc = msp_field_str(rec, "key", 1, 128, 0, &key, e)) != 0 ||
	    (rc = msp_field_str(rec, "value", 1, 4096, 0, &val, e)) != 0)
		return rc;
	if (strcmp(key, "schema") == 0) {
		/* the store keeps its own; only refuse a newer export */
		if (msp_parse_int(val, 1, 1000000, &ver) != 0 ||
		    ver > MSP_SCHEMA)
			return msp_err_set(e, MSP_EINVAL, "export of store "
			    "schema %s is newer than this msp supports (%d)",
			    val, MSP_SCHEMA);
		return 0;
	}
	return msp_meta_put(st, t, key, val, e);
}

/* One row per record kind of lib/store.c; modules add their handler. */
const struct msp_kind msp_kinds[] = {
	{ "meta", meta_import },
	{ "user", msp_user_import },
	{ "video", msp_video_import },
	{ "job", msp_job_import },
	{ "like", msp_like_import },
	{ "rating", msp_rating_import },
	{ "credential", msp_credential_import },
	{ "session", msp_session_import },
	{ "subscription", msp_pay_import_subscription },
	{ "order", msp_pay_import_order },
	{ "payment", msp_pay_import_payment },
	{ "event", msp_pay_import_event },
	{ NULL, NULL }
};

const struct msp_kind *
msp_kind_find(const char *type)
{
	const struct msp_kind *k;

	for (k = msp_kinds; k->type != NULL; k++)
		if (strcmp(k->type, type) == 0)
			return k;
	return NULL;
}

int
msp_dump_export(struct msp_store *st, FILE *out, struct msp_err *e)
{
	MDB_txn *t;
	MDB_cursor *c;
	MDB_val k, v;
	int i, rc, mrc;

	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		return rc;
	for (i = 0; i < MSP_DB_COUNT; i++) {
		if (msp_store_dbdef(i)->kind == NULL)
			continue;
		if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, i), &c)) != 0) {
			rc = msp_store_mdb_err(mrc, "export", e);
			break;
		}
		for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
		    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (fwrite(v.mv_data, 1, v.mv_size, out) != v.mv_size ||
			    putc('\n', out) == EOF) {
				rc = msp_err_set(e, MSP_EIO, "write: %s",
				    strerror(errno));
				break;
			}
		}
		mdb_cursor_close(c);
		if (rc != 0)
			break;
		if (mrc != MDB_NOTFOUND) {
			rc = msp_store_mdb_err(mrc, "export", e);
			break;
		}
	}
	msp_txn_abort(st, t);
	return rc;
}

int
msp_dump_import_one(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const struct msp_kind *k;
	const char *type;
	int rc;

	if ((rc = msp_field_str(rec, "type", 1, 64, 0, &type, e)) != 0)
		return rc;
	if ((k = msp_kind_find(type)) == NULL)
		return msp_err_set(e, MSP_EINVAL, "field 'type': unknown record "
		    "kind \"%s\"", type);
	return k->import(st, t, rec, e);
}

/* ---- bulk import ------------------------------------------------------ */

/*
 * Videos are checked and built on the batch's second thread. A new video
 * whose id is the greatest yet (an export is in id order) is appended,
 * and its catalog index keys and search document wait for the end of the
 * batch's transaction, where they are written sorted, each next to the
 * one before: so every commit leaves the records and their indexes in
 * agreement, and memory holds one batch. Any other line first writes what
 * waits, then goes the general way.
 *
 * A new video's index keys are "<f>\0<value>\0<id>": a batch's keys fall
 * in a few groups (one per prefix "<f>\0<value>\0"), each in id order as
 * an export is. So they are ordered by a counting sort on the rank of
 * their prefix, the prefixes (a few thousand) being sorted themselves;
 * a group found out of order is sorted on its own.
 */
struct defkey {
	const unsigned char *k;
	size_t n;
	uint32_t pfx;
};

struct imp_line;

struct msp_importer {
	struct msp_store *st;
	/* index keys of the batch's new videos, written sorted at its end
	 * (through one cursor, each next to the one before) */
	int defer;
	struct defkey *dk, *tmp;
	size_t ndk, capdk;
	struct msp_strset px;        /* the prefixes */
	uint32_t *rank, ranked;      /* by prefix; ranked: how many have one */
	uint32_t *count;             /* by rank, and one more */
	size_t caprank, capcount;
	/* the new videos waiting for their search documents' write */
	struct imp_line **nl;
	struct msp_search_doc **docs;
	size_t nnl, capnl, capdocs;
	int oom;
};

/* The number of the prefix p[0..n); UINT32_MAX when out of memory. */
static uint32_t
pfx_find(struct msp_importer *im, const unsigned char *p, size_t n)
{
	uint32_t k = msp_strset_add(&im->px, p, n);

	if (k == UINT32_MAX ||
	    msp_grow(&im->rank, &im->caprank, (size_t)k + 1,
	    sizeof(*im->rank), 1024) != 0 ||
	    msp_grow(&im->count, &im->capcount, (size_t)k + 2,
	    sizeof(*im->count), 1024) != 0)
		return UINT32_MAX;
	return k;
}

static int
defkey_cmp(const void *a, const void *b)
{
	const struct defkey *x = a, *y = b;

	return msp_bytes_cmp(x->k, x->n, y->k, y->n);
}

/* Rank every prefix (when some are new). */
static int
pfx_rank(struct msp_importer *im)
{
	uint32_t *ord, i;

	if (im->ranked == im->px.n)
		return 0;
	if ((ord = msp_strset_sorted(&im->px)) == NULL)
		return -1;
	for (i = 0; i < im->px.n; i++)
		im->rank[ord[i]] = i;
	free(ord);
	im->ranked = im->px.n;
	return 0;
}

/* The batch's keys in key order, in im->dk. */
static int
defkeys_sort(struct msp_importer *im)
{
	struct defkey *t;
	uint32_t i, r;
	size_t k, start;

	if (pfx_rank(im) != 0)
		return -1;
	if (im->tmp == NULL && (im->tmp = malloc(im->capdk *
	    sizeof(*im->tmp))) == NULL)
		return -1;
	memset(im->count, 0, ((size_t)im->px.n + 1) * sizeof(*im->count));
	for (k = 0; k < im->ndk; k++)
		im->count[im->rank[im->dk[k].pfx] + 1]++;
	for (i = 0; i < im->px.n; i++)
		im->count[i + 1] += im->count[i];
	for (k = 0; k < im->ndk; k++) {
		r = im->rank[im->dk[k].pfx];
		im->tmp[im->count[r]++] = im->dk[k];
	}
	t = im->dk;
	im->dk = im->tmp;
	im->tmp = t;
	/* each group: in order already, unless the input was not */
	for (start = 0; start < im->ndk; start = k) {
		int sorted = 1;
		for (k = start + 1; k < im->ndk &&
		    im->dk[k].pfx == im->dk[start].pfx; k++)
			if (sorted && defkey_cmp(&im->dk[k - 1], &im->dk[k]) > 0)
				sorted = 0;
		if (!sorted)
			qsort(im->dk + start, k - start, sizeof(*im->dk),
			    defkey_cmp);
	}
	return 0;
}

/* A line: its video, checked and built, and its search document, both
 * made on the preparing thread. */
struct imp_line {
	struct msp_video_prep *vp;
	struct msp_search_doc *sd;
	int doc_rc;
	struct msp_err doc_err;
};

static int
line_doc(struct imp_line *l, struct msp_err *e)
{
	if (l->vp != NULL && l->doc_rc != 0)
		*e = l->doc_err;
	return l->vp != NULL ? l->doc_rc : 0;
}

/* What waits: the new videos' index keys, then their search documents. */
static int
imp_flush(struct msp_store *st, MDB_txn *t, void *arg, struct msp_err *e)
{
	struct msp_importer *im = arg;
	MDB_cursor *c;
	size_t i;
	int rc = 0;

	if (im->oom || (im->ndk > 0 && defkeys_sort(im) != 0) ||
	    msp_grow(&im->docs, &im->capdocs, im->nnl, sizeof(*im->docs),
	    1024) != 0) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if (im->ndk > 0) {
		if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VINDEX),
		    &c)) != 0) {
			rc = msp_store_mdb_err(rc, "video_index", e);
			goto out;
		}
		for (i = 0; i < im->ndk && rc == 0; i++) {
			MDB_val k = { im->dk[i].n, (void *)im->dk[i].k };
			MDB_val v = { 0, "" };
			rc = mdb_cursor_put(c, &k, &v, 0);
		}
		mdb_cursor_close(c);
		if ((rc = msp_store_mdb_err(rc, "video_index", e)) != 0)
			goto out;
	}
	for (i = 0; i < im->nnl && rc == 0; i++)
		if ((rc = line_doc(im->nl[i], e)) == 0)
			im->docs[i] = im->nl[i]->sd;
	if (rc == 0)
		rc = msp_search_add_docs(st, t, im->docs, im->nnl, e);
out:
	im->oom = 0;
	im->ndk = 0;
	im->nnl = 0;
	return rc;
}

static void
imp_begin(void *arg, int careful)
{
	struct msp_importer *im = arg;

	im->ndk = 0;
	im->nnl = 0;
	im->oom = 0;
	im->defer = !careful;
}

/* The new video of line l: its index keys and document wait. */
static void
imp_defer(struct msp_importer *im, struct imp_line *l)
{
	const unsigned char *k;
	const void *kv;
	size_t i, n, pn;
	uint32_t pfx;

	if (msp_grow(&im->nl, &im->capnl, im->nnl + 1, sizeof(*im->nl),
	    1024) != 0)
		goto oom;
	im->nl[im->nnl++] = l;
	for (i = 0; msp_video_prep_keys(l->vp, i, &kv, &n) > i; i++) {
		k = kv;
		/* "<f>\0<value>\0": the keys' own NULs end it */
		pn = n < 2 ? n : 2 + strnlen((const char *)k + 2, n - 2) + 1;
		if (pn > n)
			pn = n;
		if ((pfx = pfx_find(im, k, pn)) == UINT32_MAX)
			goto oom;
		if (im->ndk == im->capdk) {
			if (msp_grow(&im->dk, &im->capdk, im->ndk + 1,
			    sizeof(*im->dk), 1 << 14) != 0)
				goto oom;
			free(im->tmp);
			im->tmp = NULL;
		}
		im->dk[im->ndk].k = k;
		im->dk[im->ndk].n = n;
		im->dk[im->ndk].pfx = pfx;
		im->ndk++;
	}
	return;
oom:
	im->oom = 1;
}

static void
imp_free(void *state)
{
	struct imp_line *l = state;

	msp_video_prep_free(l->vp);
	msp_search_doc_free(l->sd);
	free(l);
}

static int
imp_prep(json_object *line, void **state, void *arg, struct msp_err *e)
{
	struct imp_line *l;
	json_object *rec;
	const char *type = msp_json_sget(line, "type");
	int rc;

	(void)arg;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	*state = l;
	if (type == NULL || strcmp(type, "video") != 0)
		return 0;
	if ((rc = msp_video_prep(line, &l->vp, e)) != 0)
		return rc;
	/* its document's error is the line's, told when it is applied */
	msp_err_clear(&l->doc_err);
	if ((rec = msp_video_prep_record(l->vp)) != NULL)
		l->doc_rc = msp_search_doc_prep(rec, &l->sd, &l->doc_err);
	return 0;
}

static int
imp_apply(struct msp_store *st, MDB_txn *t, json_object *line, void *state,
    json_object **out, void *arg, struct msp_err *e)
{
	struct msp_importer *im = arg;
	struct imp_line *l = state;
	int rc, replaced;

	(void)out;
	if (im->defer && l->vp != NULL) {
		rc = msp_video_import_prep(st, t, l->vp, 1, &replaced, e);
		if (rc == 0)
			imp_defer(im, l);
		if (rc != MSP_EAGAIN)
			return rc;
	}
	/* anything else finds the indexes as the lines before left them */
	if (im->defer && (rc = imp_flush(st, t, im, e)) != 0)
		return rc;
	if (l->vp == NULL)
		return msp_dump_import_one(st, t, line, e);
	rc = msp_video_import_prep(st, t, l->vp, 0, &replaced, e);
	/* a replaced video was indexed on the way; a new one is left to us */
	if (rc == 0 && !replaced && (rc = line_doc(l, e)) == 0)
		rc = msp_search_add_docs(st, t, &l->sd, 1, e);
	return rc;
}

int
msp_import_open(struct msp_store *st, struct msp_importer **ip,
    struct msp_err *e)
{
	struct msp_importer *im;

	*ip = NULL;
	if ((im = calloc(1, sizeof(*im))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	im->st = st;
	msp_store_set_bulk(st, 1, NULL);
	*ip = im;
	return 0;
}

void
msp_import_setup(struct msp_importer *im, struct msp_batch *b)
{
	b->arg = im;
	b->fn = NULL;
	b->prep = imp_prep;
	b->fn_prep = imp_apply;
	b->accept = NULL;
	b->prep_free = imp_free;
	b->begin = imp_begin;
	b->end = imp_flush;
}

int
msp_import_close(struct msp_importer *im, struct msp_err *e)
{
	int rc;

	if (im == NULL)
		return 0;
	rc = msp_store_set_bulk(im->st, 0, e);
	free(im->dk);
	free(im->tmp);
	msp_strset_free(&im->px);
	free(im->rank);
	free(im->count);
	free(im->nl);
	free(im->docs);
	free(im);
	return rc;
}
