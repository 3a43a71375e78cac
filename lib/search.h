/* search: the full-text index of videos in the store (MSP_DB_SEARCH) and
 * the queries over it. See msp-search(1) for the query language and the
 * ranking, and lib/search.c for the key layout. */
#ifndef MSP_SEARCH_H
#define MSP_SEARCH_H

#include <json.h>
#include <lmdb.h>

#include "catalog.h"
#include "err.h"
#include "store.h"

#define MSP_SEARCH_QUERY_MAX 1000 /* characters of a query */
#define MSP_SEARCH_WORDS_MAX 32   /* words of a query */
#define MSP_SEARCH_LIMIT_MAX 1000 /* hits a page */
#define MSP_SEARCH_EXPAND_MAX 50  /* terms a prefix or a typo expands to */
#define MSP_SEARCH_MARK_OPEN "["  /* around matched words in snippets */
#define MSP_SEARCH_MARK_CLOSE "]"

/* The indexed fields and their weights (msp-search(1)). */
enum msp_search_field {
	MSP_SF_TITLE, MSP_SF_NAME, MSP_SF_ABOUT, MSP_SF_GENRES,
	MSP_SF_LANGUAGE, MSP_SF_CAPTIONS, MSP_SF_COUNT
};
extern const char *const msp_search_field_names[MSP_SF_COUNT];
extern const double msp_search_field_weights[MSP_SF_COUNT];

/* The video observer (lib/hooks.c): keeps the index in step with every
 * add, update, delete and import of a video in the caller's txn. Only
 * visible videos (status "ready", not deleted) are indexed. In a bulk
 * load (msp_store_set_bulk) a new video is left to the loader, which
 * indexes it in the same txn (msp_search_add_docs). */
int msp_search_observe(struct msp_store *st, MDB_txn *t, json_object *before,
    json_object *after, struct msp_err *e);
/* The checker (lib/hooks.c, msp-catalog check): every visible video is
 * indexed with the terms its fields give, nothing else is, and the term
 * and corpus counts agree with the postings. */
int msp_search_check(struct msp_store *st, MDB_txn *t, msp_report_fn fn,
    void *arg, struct msp_err *e);
/* Rebuild the whole index from the videos in the caller's write txn;
 * *count (may be NULL) gets the number of videos indexed. */
int msp_search_reindex(struct msp_store *st, MDB_txn *t, long *count,
    struct msp_err *e);

/*
 * Building the whole index at once (a rebuild): prepare each visible
 * video's document (any thread; no store), add the documents in any
 * order, then finish in a write txn, which replaces the index with them,
 * written in key order. A bulk keeps the postings in memory and the
 * stored texts in an unlinked temporary file in the store directory.
 */
struct msp_search_doc;
struct msp_search_bulk;
/* *d gets NULL for a video that is not visible. */
int msp_search_doc_prep(json_object *video, struct msp_search_doc **d,
    struct msp_err *e);
void msp_search_doc_free(struct msp_search_doc *d);
int msp_search_bulk_new(struct msp_store *st, struct msp_search_bulk **b,
    struct msp_err *e);
int msp_search_bulk_add(struct msp_search_bulk *b,
    const struct msp_search_doc *d, struct msp_err *e);
long msp_search_bulk_count(const struct msp_search_bulk *b);
/* May be run again (a replayed txn) and gives the same index. */
int msp_search_bulk_finish(struct msp_store *st, MDB_txn *t,
    struct msp_search_bulk *b, struct msp_err *e);
void msp_search_bulk_free(struct msp_search_bulk *b);
/* Index new videos' documents (NULL ones skipped) in t, numbered in the
 * order given; none of the videos may be indexed yet. */
int msp_search_add_docs(struct msp_store *st, MDB_txn *t,
    struct msp_search_doc *const *docs, size_t n, struct msp_err *e);

/* Check a query's text: not empty, at most MSP_SEARCH_QUERY_MAX
 * characters, valid UTF-8, no control characters, at least one word and
 * at most MSP_SEARCH_WORDS_MAX. Messages start with "query: ". */
int msp_search_query_check(const char *q, struct msp_err *e);

struct msp_search_query {
	const char *q;
	const char *video_type; /* "short", "long" or NULL */
	const char *genre;      /* or NULL */
	const char *language;   /* or NULL */
	int premium;            /* -1 any, 0 free only, 1 premium only */
	long limit;             /* 1 .. MSP_SEARCH_LIMIT_MAX */
	long offset;
	int explain;            /* hits get an "explain" array */
	int facets;             /* fill *facets */
	int typos;              /* typo tolerance (1, the default) */
	struct msp_search_cost *cost; /* or NULL: what the query read */
};

/* What a query read (bench/search tells the slow queries apart with it). */
struct msp_search_cost {
	long postings;    /* postings scored, walking a term's list */
	long lookups;     /* postings looked up by document */
	long expansions;  /* completions and typo variants used */
	int typo_pass;    /* the typo variants were looked for */
	int pairs;        /* the page came from the word pairs alone */
};

/*
 * Run a query in a read (or write) txn: fn gets each hit of the page in
 * rank order ({"type":"hit","v":1,"id","score","title","snippet",...});
 * the object is put after fn returns. *total (may be NULL) gets the
 * number of matching videos; with q->facets, *facets gets an array of
 * {"type":"facet","v":1,"field","value","count"} (caller puts).
 *
 * Videos that need a typo to match rank after the others, so when the
 * others fill the page (offset + limit) typo matches are not looked for
 * -- unless the total or the facets are asked for, which must count them.
 * Pass total NULL (and ask one hit more than the page to learn whether a
 * next page exists) for the fastest answer.
 */
/* Remake an index made before captions were searched (once). */
int msp_search_upgrade(struct msp_store *st, struct msp_err *e);
int msp_search_run(struct msp_store *st, MDB_txn *t,
    const struct msp_search_query *q, msp_each_fn fn, void *arg,
    long *total, json_object **facets, struct msp_err *e);

#endif
