#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "catalog.h"
#include "dump.h"
#include "engage.h"
#include "jobs.h"
#include "jsonl.h"
#include "pay.h"
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
