/* store: one LMDB environment, named databases, transactions that grow the
 * map by themselves, and the schema version. See msp-store(5). */
#ifndef MSP_STORE_H
#define MSP_STORE_H

#include <stddef.h>
#include <lmdb.h>
#include <json.h>

#include "err.h"

#define MSP_SCHEMA 1
#define MSP_STORE_DEFAULT "./msp-store"

/*
 * The named databases, in export order (a kind is exported after the kinds
 * it refers to). A database with a kind holds records: JSON objects whose
 * "type" is that kind, exported and imported by msp-catalog. A database
 * without one is derived (an index or a counter) and is rebuilt from the
 * records on import.
 */
enum msp_db {
	MSP_DB_META,        /* "schema" and other store settings (kind meta) */
	MSP_DB_USERS,       /* email -> user */
	MSP_DB_USER_IDS,    /* derived: user id -> email */
	MSP_DB_CREDS,       /* email -> credential (password hash) */
	MSP_DB_VIDEOS,      /* video id -> video */
	MSP_DB_VINDEX,      /* derived: "<f>\0<value>\0<id>" -> "" */
	MSP_DB_LIKES,       /* "<video>\0<email>" -> like */
	MSP_DB_LIKE_IDX,    /* derived: like indexes and counters */
	MSP_DB_RATINGS,     /* "<video>\0<email>" -> rating */
	MSP_DB_RATING_IDX,  /* derived: rating sums, counts and rankings */
	MSP_DB_SEARCH,      /* derived: the full-text index */
	MSP_DB_SUBS,        /* email -> subscription */
	MSP_DB_ORDERS,      /* order id -> order */
	MSP_DB_ORDER_IDX,   /* derived: "r\0<razorpay order id>" -> order id,
	                     * "u\0<email>\0<order id>" -> "" */
	MSP_DB_PAYMENTS,    /* payment id -> payment */
	MSP_DB_EVENTS,      /* webhook event id -> event */
	MSP_DB_JOBS,        /* job id -> job (the durable queue) */
	MSP_DB_JOB_IDX,     /* derived: job queue order */
	MSP_DB_SESSIONS,    /* token hash -> session */
	MSP_DB_COUNT
};

struct msp_dbdef {
	const char *name;  /* LMDB database name */
	const char *kind;  /* record "type", or NULL when derived */
};
const struct msp_dbdef *msp_store_dbdef(enum msp_db db);

struct msp_store;

/* Open flags */
#define MSP_STORE_EXISTING 0x1 /* fail with MSP_ENOTFOUND if not there yet */

/*
 * Open the store at dir; NULL means $MSP_STORE, then ./msp-store. The
 * directory is created on open unless MSP_STORE_EXISTING. $MSP_STORE_MAPSIZE
 * (bytes) sets the initial map size; the map grows by itself when full.
 */
int msp_store_open(struct msp_store **sp, const char *dir, int flags,
    struct msp_err *e);
void msp_store_close(struct msp_store *st);
const char *msp_store_path(const struct msp_store *st);
/* The store's media handle (lib/blob keeps it here: msp_blob_store), freed
 * with fr when the store closes. */
void *msp_store_media(const struct msp_store *st);
void msp_store_set_media(struct msp_store *st, void *p, void (*fr)(void *));
MDB_dbi msp_store_dbi(const struct msp_store *st, enum msp_db db);

/* Transactions. A write transaction's puts may fail with MSP_EMAPFULL: then
 * abort it, and begin and replay it; the map has grown meanwhile. */
int msp_txn_begin(struct msp_store *st, int write, MDB_txn **tp,
    struct msp_err *e);
int msp_txn_commit(struct msp_store *st, MDB_txn *t, struct msp_err *e);
void msp_txn_abort(struct msp_store *st, MDB_txn *t);

/* A child of a write transaction, for one step that may fail on its own:
 * abort it and the parent goes on unchanged. */
int msp_txn_sub(struct msp_store *st, MDB_txn *parent, MDB_txn **tp,
    struct msp_err *e);
int msp_txn_sub_commit(MDB_txn *t, struct msp_err *e);

/* Run fn in one write transaction and commit; replays fn after growing the
 * map when it fills. fn returns 0 to commit, anything else to abort. */
typedef int (*msp_txn_fn)(MDB_txn *t, void *arg, struct msp_err *e);
int msp_store_write(struct msp_store *st, msp_txn_fn fn, void *arg,
    struct msp_err *e);

/* Plain get/put/del on a named database, MDB errors mapped to MSP codes.
 * get returns MSP_ENOTFOUND when absent (without setting e). */
int msp_db_get(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const void *k, size_t kn, MDB_val *v, struct msp_err *e);
int msp_db_put(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const void *k, size_t kn, const void *v, size_t vn, unsigned flags,
    struct msp_err *e);
int msp_db_del(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const void *k, size_t kn, struct msp_err *e);
/* JSON records: get parses (caller puts the object); put serialises plain. */
int msp_db_get_json(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const char *key, size_t kn, json_object **out, struct msp_err *e);
int msp_db_put_json(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const char *key, size_t kn, json_object *obj, struct msp_err *e);
/* Map an LMDB return code to an MSP code and message. */
int msp_store_mdb_err(int rc, const char *what, struct msp_err *e);
/* Remove every entry of a database (used by rebuilds). */
int msp_db_clear(struct msp_store *st, MDB_txn *t, enum msp_db db,
    struct msp_err *e);

/* Store settings in the meta database (strings). */
int msp_meta_get(struct msp_store *st, MDB_txn *t, const char *key,
    char **out, struct msp_err *e);
int msp_meta_put(struct msp_store *st, MDB_txn *t, const char *key,
    const char *val, struct msp_err *e);

/* Bulk loading (msp-catalog import): observers whose index is cheaper to
 * rebuild in one pass (search) skip their per-record work while it is on;
 * the loader rebuilds those indexes before it ends. Commits meanwhile
 * skip the sync of the meta page (a crash undoes at most the last one);
 * turning it off syncs the store (its error, else 0). */
int msp_store_set_bulk(struct msp_store *st, int on, struct msp_err *e);
int msp_store_bulk(const struct msp_store *st);
/* Bytes the map has free beyond what the last commit used. */
size_t msp_store_room(struct msp_store *st);
/* A write about to fail with MSP_EMAPFULL says how many more bytes it
 * needs: msp_store_write then grows the map by that much at once, not
 * by doubling it again and again, each time redoing the write. */
void msp_store_want(struct msp_store *st, size_t bytes);

/* Signals: a tool's handler calls msp_stop_request(); long loops check
 * msp_stop_requested() between transactions. */
void msp_stop_request(void);
int msp_stop_requested(void);

#endif
