/* catalog: users and videos, their indexes, listing with stable cursors,
 * validation. Every call works inside a transaction the caller owns, so
 * that other modules can add their part to the same change. */
#ifndef MSP_CATALOG_H
#define MSP_CATALOG_H

#include <json.h>
#include <lmdb.h>

#include "err.h"
#include "store.h"

#define MSP_TITLE_MAX 200   /* characters */
#define MSP_NAME_MAX 200
#define MSP_ABOUT_MAX 5000
#define MSP_GENRES_MAX 10

/* The documented sets (msp-catalog(1)); NULL-terminated. */
extern const char *const msp_languages[];
extern const char *const msp_genres[];
extern const char *const msp_statuses[]; /* uploaded processing ready failed */
/* 1 when s is one of the NULL-terminated set. */
int msp_in_set(const char *const *set, const char *s);
/* The stored spelling of a genre given in any case ("Drama", "SCI-FI"
 * give "drama", "sci-fi"); NULL when unknown. */
const char *msp_genre_canon(const char *s);
/* The ISO 639-1 code of a language given by its code or English name in
 * any case ("en", "EN", "English", "english" give "en"); NULL when
 * unknown. */
const char *msp_language_canon(const char *s);
/* The English name of an ISO 639-1 code, in lower case ("english");
 * NULL when not one of msp_languages. */
const char *msp_language_name(const char *code);
/* A query's genre and language filters (either may be NULL, or point to
 * NULL) replaced by their stored spellings; MSP_EINVAL "genre 'X':
 * unknown" or "language 'X': unknown". */
int msp_filter_canon(const char **genre, const char **language,
    struct msp_err *e);

/* ---- users ---------------------------------------------------------- */
/* Records: {"type":"user","v":1,"id","email","role":"user"|"admin",
 * "createdAt"}. Emails are validated and lower-cased. */
int msp_user_add(struct msp_store *st, MDB_txn *t, const char *email,
    int admin, json_object **out, struct msp_err *e);
/* email is normalised first; MSP_ENOTFOUND with a message when absent. */
int msp_user_get(struct msp_store *st, MDB_txn *t, const char *email,
    json_object **out, struct msp_err *e);
int msp_user_get_by_id(struct msp_store *st, MDB_txn *t, const char *id,
    json_object **out, struct msp_err *e);
int msp_user_is_admin(json_object *user);
/* Refused (MSP_EPERM) while videos name the user as uploader. */
int msp_user_del(struct msp_store *st, MDB_txn *t, const char *email,
    struct msp_err *e);
typedef int (*msp_each_fn)(json_object *rec, void *arg, struct msp_err *e);
int msp_user_list(struct msp_store *st, MDB_txn *t, msp_each_fn fn,
    void *arg, struct msp_err *e);
/* Import a user record as exported (kept as given after validation). */
int msp_user_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);

/* ---- videos --------------------------------------------------------- */
/*
 * Records: {"type":"video","v":1,"id","videoType":"short"|"long","name",
 * "title","about","language","genres":[],"isPremium","uploadedBy",
 * "sourceBucketFilePath","destinationBucketFilePath":[],
 * "destinationVideoDetails":{},"status","progress","error","createdAt",
 * "updatedAt","isDeleted"} and, when it has some, "captions" (see
 * lib/caption.h). See msp-catalog(1) for which are required.
 */

/* Validate in (a JSONL line or fields from flags) and add a new video.
 * An "id" in the input is kept when it is a valid msp id not yet used. *out
 * (may be NULL) gets the stored record (caller puts). */
int msp_video_add(struct msp_store *st, MDB_txn *t, json_object *in,
    json_object **out, struct msp_err *e);
int msp_video_get(struct msp_store *st, MDB_txn *t, const char *id,
    json_object **out, struct msp_err *e);
/* Apply changes (an object of fields to set) to a video; validates the
 * result as a whole; indexes and observers follow in the same txn. */
int msp_video_update(struct msp_store *st, MDB_txn *t, const char *id,
    json_object *changes, json_object **out, struct msp_err *e);
/* Parse "field=value" (msp-catalog update --set) into changes. */
int msp_video_set_arg(json_object *changes, const char *arg,
    struct msp_err *e);
/* Soft delete (isDeleted true), or purge: remove the record and its index
 * entries; the store-relative paths of files to remove after the commit
 * are appended to files (a json array, may be NULL). */
int msp_video_del(struct msp_store *st, MDB_txn *t, const char *id,
    int purge, json_object *files, struct msp_err *e);
int msp_video_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);
/*
 * msp_video_import in two steps, for bulk imports: msp_video_prep checks
 * the record and builds what is stored without the store (any thread;
 * fails only when out of memory: a bad record's complaint is kept for
 * the second step), msp_video_import_prep stores it in t (*replaced: the
 * id was there before) with the answers msp_video_import gives.
 */
struct msp_video_prep;
int msp_video_prep(json_object *rec, struct msp_video_prep **vp,
    struct msp_err *e);
/* The record to be stored, or NULL for a bad one (vp keeps it). */
json_object *msp_video_prep_record(const struct msp_video_prep *vp);
int msp_video_import_prep(struct msp_store *st, MDB_txn *t,
    const struct msp_video_prep *vp, int defer, int *replaced,
    struct msp_err *e);
/* With defer, msp_video_import_prep leaves the index keys to the caller
 * (who writes them in t before it commits, all of a batch in key order):
 * it stores only a video whose id is the greatest yet, and answers
 * MSP_EAGAIN, having written nothing, for any other (call it again
 * without defer once the keys left before are written). The keys: i from
 * 0 while the answer (their count) is more than i. */
size_t msp_video_prep_keys(const struct msp_video_prep *vp, size_t i,
    const void **k, size_t *n);
void msp_video_prep_free(struct msp_video_prep *vp);
/* 1 when the video's status is ready and it is not deleted. */
int msp_video_visible(json_object *video);

enum msp_sort { MSP_SORT_NEWEST, MSP_SORT_OLDEST, MSP_SORT_LIKES,
    MSP_SORT_RATING };

struct msp_video_query {
	const char *video_type; /* "short", "long" or NULL */
	const char *genre;
	const char *language;
	const char *status;
	const char *uploaded_by; /* email */
	int premium;             /* -1 any, 0 free, 1 premium */
	int include_deleted;
	enum msp_sort sort;
	long limit;              /* 0: no limit */
	const char *after;       /* cursor from a previous page, or NULL */
};
/* Calls fn for each matching video in order; *next (malloc'd, may be NULL
 * when there is no next page) is the cursor for the page after. */
int msp_video_list(struct msp_store *st, MDB_txn *t,
    const struct msp_video_query *q, msp_each_fn fn, void *arg, char **next,
    struct msp_err *e);

/*
 * Observers: called inside the same transaction after every add, update,
 * delete and import of a video, with the record before (NULL when new) and
 * after (NULL when purged). The search index and engagement counters hook
 * in here; see lib/hooks.c.
 */
typedef int (*msp_video_observer)(struct msp_store *st, MDB_txn *t,
    json_object *before, json_object *after, struct msp_err *e);
extern const msp_video_observer msp_video_observers[];

/* Verify every index against the records; fn gets each disagreement as a
 * message. Returns the number of disagreements, or an error. */
typedef void (*msp_report_fn)(const char *msg, void *arg);
/* A checker's reports: each msp_reportf() formats a message, hands it to
 * fn (when set) and counts it. */
struct msp_report {
	msp_report_fn fn;
	void *arg;
	int count;
};
void msp_reportf(struct msp_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int msp_catalog_check(struct msp_store *st, MDB_txn *t, msp_report_fn fn,
    void *arg, struct msp_err *e);
/* Checkers of other modules, run by msp-catalog check (lib/hooks.c). */
typedef int (*msp_checker)(struct msp_store *st, MDB_txn *t,
    msp_report_fn fn, void *arg, struct msp_err *e);
extern const msp_checker msp_checkers[];

#endif
