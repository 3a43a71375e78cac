/* dump: the whole store as JSON Lines (msp-catalog export and import).
 * Every record kind of the store (lib/store.c) has an import handler here;
 * tests/unit/test_dump.c fails when one is missing. */
#ifndef MSP_DUMP_H
#define MSP_DUMP_H

#include <stdio.h>
#include <json.h>

#include "err.h"
#include "store.h"

typedef int (*msp_import_fn)(struct msp_store *st, MDB_txn *t,
    json_object *rec, struct msp_err *e);

struct msp_kind {
	const char *type;   /* record "type" */
	msp_import_fn import;
};
extern const struct msp_kind msp_kinds[];
const struct msp_kind *msp_kind_find(const char *type);

/* Write every record of every kind, in export order, one a line. */
int msp_dump_export(struct msp_store *st, FILE *out, struct msp_err *e);
/* Import one record inside the caller's transaction. */
int msp_dump_import_one(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);

#endif
