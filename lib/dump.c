#include <errno.h>
#include <stdio.h>
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
 * A line's preparation. Videos are checked and built on the batch's
 * second thread; into a store that had no videos, their search documents
 * are prepared there too and gathered as their batches commit, so that
 * the index is written once, in key order, at the end. It is rebuilt from
 * the store instead when that would not be the same index: a video was
 * replaced, or another writer committed between the import's batches
 * (each landed line notes its transaction's id: they must follow on).
 */
struct defkey {
	const void *k;
	size_t n;
};

struct msp_importer {
	struct msp_store *st;
	struct msp_search_bulk *bulk; /* NULL: rebuild at the end */
	size_t last;                  /* id of the last transaction seen */
	/* index keys of the batch's new videos, written sorted at its end
	 * (through one cursor, each next to the one before) */
	int defer;
	struct defkey *dk;
	size_t ndk, capdk;
	int oom;
};

static int
defkey_cmp(const void *a, const void *b)
{
	const struct defkey *x = a, *y = b;
	int c = memcmp(x->k, y->k, x->n < y->n ? x->n : y->n);

	return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

static int
imp_flush(struct msp_store *st, MDB_txn *t, void *arg, struct msp_err *e)
{
	struct msp_importer *im = arg;
	MDB_cursor *c;
	size_t i;
	int rc;

	if (im->oom) {
		im->oom = 0;
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	if (im->ndk == 0)
		return 0;
	qsort(im->dk, im->ndk, sizeof(*im->dk), defkey_cmp);
	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VINDEX), &c)) !=
	    0)
		return msp_store_mdb_err(rc, "video_index", e);
	for (i = 0; i < im->ndk && rc == 0; i++) {
		MDB_val k = { im->dk[i].n, (void *)im->dk[i].k }, v = { 0, "" };
		rc = mdb_cursor_put(c, &k, &v, 0);
	}
	mdb_cursor_close(c);
	im->ndk = 0;
	return msp_store_mdb_err(rc, "video_index", e);
}

static void
imp_begin(void *arg, int careful)
{
	struct msp_importer *im = arg;

	im->ndk = 0;
	im->oom = 0;
	im->defer = !careful;
}

static void
imp_defer(struct msp_importer *im, const struct msp_video_prep *vp)
{
	const void *k;
	size_t i, n;

	for (i = 0; msp_video_prep_keys(vp, i, &k, &n) > i; i++) {
		if (im->ndk == im->capdk) {
			size_t nc = im->capdk ? im->capdk * 2 : 1 << 14;
			struct defkey *nd = realloc(im->dk, nc * sizeof(*nd));
			if (nd == NULL) {
				im->oom = 1;
				return;
			}
			im->dk = nd;
			im->capdk = nc;
		}
		im->dk[im->ndk].k = k;
		im->dk[im->ndk].n = n;
		im->ndk++;
	}
}

struct imp_line {
	struct msp_video_prep *vp;
	struct msp_search_doc *sd;
	int replaced;
	size_t txnid;
};

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
	struct msp_importer *im = arg;
	struct imp_line *l;
	const char *type = msp_json_sget(line, "type");
	json_object *rec;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	*state = l;
	if (type == NULL || strcmp(type, "video") != 0)
		return 0;
	if ((rc = msp_video_prep(line, &l->vp, e)) != 0)
		return rc;
	if (im->bulk != NULL && (rec = msp_video_prep_record(l->vp)) != NULL)
		return msp_search_doc_prep(rec, &l->sd, e);
	return 0;
}

static int
imp_apply(struct msp_store *st, MDB_txn *t, json_object *line, void *state,
    json_object **out, void *arg, struct msp_err *e)
{
	struct msp_importer *im = arg;
	struct imp_line *l = state;
	int rc;

	(void)out;
	l->txnid = mdb_txn_id(t);
	if (im->defer && l->vp != NULL) {
		rc = msp_video_import_prep(st, t, l->vp, 1, &l->replaced, e);
		if (rc == 0)
			imp_defer(im, l->vp);
		if (rc != MSP_EAGAIN)
			return rc;
	}
	/* anything else finds the index as the lines before left it */
	if (im->defer && (rc = imp_flush(st, t, im, e)) != 0)
		return rc;
	if (l->vp != NULL)
		return msp_video_import_prep(st, t, l->vp, 0, &l->replaced, e);
	return msp_dump_import_one(st, t, line, e);
}

static void
imp_accept(void *state, void *arg)
{
	struct msp_importer *im = arg;
	struct imp_line *l = state;
	struct msp_err e;

	if (im->bulk == NULL)
		return;
	if (l->txnid != im->last && l->txnid != im->last + 1)
		goto rebuild;
	im->last = l->txnid;
	if (l->replaced)
		goto rebuild;
	if (l->sd != NULL && msp_search_bulk_add(im->bulk, l->sd, &e) != 0)
		goto rebuild;
	return;
rebuild:
	msp_search_bulk_free(im->bulk);
	im->bulk = NULL;
}

int
msp_import_open(struct msp_store *st, struct msp_importer **ip,
    struct msp_err *e)
{
	struct msp_importer *im;
	MDB_cursor *c;
	MDB_txn *t;
	MDB_val k, v;
	int rc, empty;

	*ip = NULL;
	if ((im = calloc(1, sizeof(*im))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	im->st = st;
	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0) {
		free(im);
		return rc;
	}
	im->last = mdb_txn_id(t);
	rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VIDEOS), &c);
	if (rc != 0) {
		msp_txn_abort(st, t);
		free(im);
		return msp_store_mdb_err(rc, "videos", e);
	}
	empty = mdb_cursor_get(c, &k, &v, MDB_FIRST) == MDB_NOTFOUND;
	mdb_cursor_close(c);
	msp_txn_abort(st, t);
	if (empty && (rc = msp_search_bulk_new(st, &im->bulk, e)) != 0) {
		free(im);
		return rc;
	}
	msp_store_set_bulk(st, 1);
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
	b->accept = imp_accept;
	b->prep_free = imp_free;
	b->begin = imp_begin;
	b->end = imp_flush;
}

static int
imp_index(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct msp_importer *im = arg;

	if (im->bulk != NULL && mdb_txn_id(t) == im->last + 1)
		return msp_search_bulk_finish(im->st, t, im->bulk, e);
	return msp_search_reindex(im->st, t, NULL, e);
}

int
msp_import_close(struct msp_importer *im, struct msp_err *e)
{
	int rc;

	if (im == NULL)
		return 0;
	msp_store_set_bulk(im->st, 0);
	rc = msp_store_write(im->st, imp_index, im, e);
	msp_search_bulk_free(im->bulk);
	free(im->dk);
	free(im);
	return rc;
}
