/* dump: the whole store as JSON Lines (msp-catalog export and import).
 * Every record kind of the store (lib/store.c) has an import handler here;
 * tests/unit/test_dump.c fails when one is missing. */
#ifndef MSP_DUMP_H
#define MSP_DUMP_H

#include <stdio.h>
#include <json.h>

#include "batch.h"
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

/*
 * A bulk import (msp-catalog import): open before the stream, set up
 * each msp_batch_run over it (the batch's fn, prep and hooks; import one
 * record a line as msp_dump_import_one), close after it, which syncs the
 * store. Each batch's transaction holds its lines with their catalog and
 * search index entries, so a store left by a killed import is whole.
 */
struct msp_importer;
int msp_import_open(struct msp_store *st, struct msp_importer **im,
    struct msp_err *e);
void msp_import_setup(struct msp_importer *im, struct msp_batch *b);
int msp_import_close(struct msp_importer *im, struct msp_err *e);

#endif
