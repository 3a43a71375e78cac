/* engage: likes of short videos and star ratings of long videos, with their
 * counters and feed orders kept in the same transaction as each change.
 * Every call works inside a transaction the caller owns.
 *
 * Records (exported by msp-catalog, see msp-jsonl(5)):
 *   likes    "<videoId>\0<email>" -> {"type":"like","v":1,"videoId","user",
 *            "createdAt","status":"liked"}
 *   ratings  "<videoId>\0<email>" -> {"type":"rating","v":1,"videoId","user",
 *            "rating":1..5,"createdAt","updatedAt"}
 * Derived (rebuilt on import, verified by msp-catalog check):
 *   like_index    "c\0<video>" -> like count (8 bytes, big-endian)
 *                 "s\0<count:8>\0<video>" -> "" one per live short video
 *                 "u\0<email>\0<ms:8><video>" -> "" a user's likes by time
 *   rating_index  "c\0<video>" -> count (8 bytes) and sum (8 bytes)
 *                 "r\0<score:8>\0<video>" -> "" one per live long video
 * The feed entries ("s", "r") order the feeds and tell cheaply that a video
 * is there, of its kind and not deleted; the video observer keeps them.
 */
#ifndef MSP_ENGAGE_H
#define MSP_ENGAGE_H

#include <stdint.h>
#include <json.h>
#include <lmdb.h>

#include "batch.h"
#include "catalog.h"
#include "err.h"
#include "store.h"

/*
 * The Bayesian average that ranks long videos:
 *     score = (m * C + sum) / (m + count)
 * with a fixed prior: C = 3 (the middle of the 1 to 5 scale) and m = 5
 * votes. A single 5-star vote scores 3.33, while 20 votes averaging 4.5
 * score 4.20. The prior is fixed (not the mean of all ratings) so that a
 * video's score depends only on its own ratings: the ranking index is then
 * exact, kept in the same transaction as each rating, and pages do not shift
 * when other videos are rated.
 */
#define MSP_RATING_PRIOR_C 3
#define MSP_RATING_PRIOR_M 5
#define MSP_RATING_MIN 1
#define MSP_RATING_MAX 5

/* ---- likes ------------------------------------------------------------ */

/* Like a short video. Idempotent: liking again changes nothing and returns
 * the existing record. *out (may be NULL) gets the like (caller puts);
 * *count (may be NULL) the video's like count after. Refused: unknown user
 * (MSP_ENOTFOUND), unknown video (MSP_ENOTFOUND), a long or deleted video
 * (MSP_EINVAL). */
int msp_like_add(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, json_object **out, uint64_t *count,
    struct msp_err *e);
/* Unlike; idempotent (removing an absent like is not an error). *out gets
 * the like removed, or NULL when there was none. */
int msp_like_del(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, json_object **out, uint64_t *count,
    struct msp_err *e);
/* The like count of a short video (unknown, long: refused as above;
 * a deleted video still has its count). */
int msp_like_count(struct msp_store *st, MDB_txn *t, const char *video,
    uint64_t *count, struct msp_err *e);
/* The counter alone, without checking the video (0 when none). */
uint64_t msp_like_counter(struct msp_store *st, MDB_txn *t,
    const char *video);

/* Likes of one user, newest first, or of one video, by user. Calls fn with
 * each like record (fn must not keep it). limit 0: no limit. after: a
 * cursor from a previous page. *next (malloc'd) is set when more follow. */
int msp_like_list_user(struct msp_store *st, MDB_txn *t, const char *user,
    long limit, const char *after, msp_each_fn fn, void *arg, char **next,
    struct msp_err *e);
int msp_like_list_video(struct msp_store *st, MDB_txn *t, const char *video,
    long limit, const char *after, msp_each_fn fn, void *arg, char **next,
    struct msp_err *e);

/* ---- ratings ---------------------------------------------------------- */

/* Parse a rating given on the command line ("1" to "5"). */
int msp_rating_parse(const char *s, int *rating, struct msp_err *e);
/* Set (or replace) a user's rating of a long video. *out gets the record. */
int msp_rating_set(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, int rating, json_object **out, struct msp_err *e);
/* Remove a user's rating; idempotent. *out the removed record or NULL. */
int msp_rating_del(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, json_object **out, struct msp_err *e);
/* A user's rating of a video: MSP_ENOTFOUND with a message when none. */
int msp_rating_get_user(struct msp_store *st, MDB_txn *t, const char *user,
    const char *video, json_object **out, struct msp_err *e);
/* A long video's summary: {"type":"rating","v":1,"videoId",
 * "averageRating","ratingCount","score"} (caller puts). */
int msp_rating_summary(struct msp_store *st, MDB_txn *t, const char *video,
    json_object **out, struct msp_err *e);
/* Count and sum of a video's ratings (0 and 0 when none). */
void msp_rating_counter(struct msp_store *st, MDB_txn *t, const char *video,
    uint64_t *count, uint64_t *sum);

/* Best rated visible long videos by Bayesian average, optionally of one
 * genre and language; videos nobody rated are left out. fn gets summaries
 * with "rank", "title", "genres" and "language" added. */
int msp_rating_top(struct msp_store *st, MDB_txn *t, const char *genre,
    const char *language, long limit, msp_each_fn fn, void *arg,
    struct msp_err *e);

/* ---- lines ------------------------------------------------------------- */

/*
 * One input line, as a msp_line_fn for msp_batch_run (lib/batch.h): a like
 * {"user","videoId","op":"add"|"del"} or a rating {"user","videoId",
 * "rating","op":"set"|"del"}; arg (an int *, may be NULL) set means the
 * op defaults to "del". *out is the record to show: the like or rating
 * with the video's "likes", or "averageRating" and "ratingCount", after.
 */
int msp_like_line(struct msp_store *st, MDB_txn *t, json_object *in,
    json_object **out, void *arg, struct msp_err *e);
int msp_rating_line(struct msp_store *st, MDB_txn *t, json_object *in,
    json_object **out, void *arg, struct msp_err *e);
/* Apply one such line in its own write transaction. */
int msp_engage_apply(struct msp_store *st, msp_line_fn fn, json_object *in,
    void *arg, json_object **out, struct msp_err *e);

/* ---- what other modules call ------------------------------------------ */

/* Add "likes" (short) or "averageRating" and "ratingCount" (long) to a
 * video record about to be shown. */
int msp_engage_decorate(struct msp_store *st, MDB_txn *t, json_object *video,
    struct msp_err *e);

/*
 * Feeds: walk videos by most likes (MSP_SORT_LIKES: short videos) or best
 * Bayesian rating (MSP_SORT_RATING: long videos), ties broken by newest id,
 * deleted videos left out,
 * starting after cursor after (from a previous page, or NULL). fn is called
 * with each video id: it returns 1 when it took the video, 0 to skip it, or
 * a negative error. With probe set, fn must only test whether it would take
 * the video (used to see whether a next page exists). After limit videos
 * (0: no limit) taken, *next (malloc'd) gets the cursor of the next page, or
 * NULL when no more match.
 */
typedef int (*msp_feed_fn)(const char *id, int probe, void *arg,
    struct msp_err *e);
int msp_engage_feed(struct msp_store *st, MDB_txn *t, enum msp_sort sort,
    const char *after, long limit, msp_feed_fn fn, void *arg, char **next,
    struct msp_err *e);

/* The video observer (lib/hooks.c): keeps the feed orders, and removes a
 * purged video's likes, ratings and counters. */
int msp_engage_observe(struct msp_store *st, MDB_txn *t, json_object *before,
    json_object *after, struct msp_err *e);
/* The checker (lib/hooks.c): counters and indexes against the records. */
int msp_engage_check(struct msp_store *st, MDB_txn *t, msp_report_fn fn,
    void *arg, struct msp_err *e);
/* Import handlers (lib/dump.c): store the record as given and rebuild the
 * counters and indexes it feeds. */
int msp_like_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);
int msp_rating_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);

#endif
