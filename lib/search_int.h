/* search internals shared by the index writer (search.c), the checker
 * (search_check.c), the query planner (search_query.c), typo variants
 * (search_typo.c), ranking (search_rank.c) and hits (search_hit.c). The
 * key layout of the index is described in search.c. Not installed. */
#ifndef MSP_SEARCH_INT_H
#define MSP_SEARCH_INT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <lmdb.h>

#include "search.h"
#include "store.h"
#include "text.h"
#include "util.h"

#define BM25_K1 1.2
#define BM25_B 0.75
#define PEN_PREFIX 0.8   /* a completion of the last word */
#define PEN_EDIT 0.5     /* per edit: 0.5 for one, 0.33 for two */

#define F_LONG 0x1
#define F_PREMIUM 0x2

/* The index's format: "S" values of another size or format are made
 * again (msp_search_upgrade). 2: the "E" keys; 3: the "A" keys. */
#define SEARCH_FORMAT 3

/* A word pair's name in an "A" key: the first term, PAIR_SEP, the
 * second (PAIR_SEP sorts before every byte a term holds). */
#define PAIR_SEP 0x01
#define PAIR_MAX (2 * MSP_TERM_MAX + 1)
#define POS_MAX 64 /* positions of a word in a field proximity looks at */
/* "A" keys go by segments of 2^PAIR_SEG_BITS documents, so that new
 * documents' pairs land in the last segment's keys only */
#define PAIR_SEG_BITS 16
#define PAIR_KEY_MAX (1 + 2 + PAIR_MAX + 1 + 4)

/* The "A" key of the pair name[0..n) in doc: "A", the segment (2 bytes),
 * the name, 0x00, the document; its length. */
static inline size_t
pair_key(unsigned char *key, const char *name, size_t n, uint32_t doc)
{
	uint32_t seg = doc >> PAIR_SEG_BITS;

	key[0] = 'A';
	key[1] = (unsigned char)(seg >> 8);
	key[2] = (unsigned char)seg;
	memcpy(key + 3, name, n);
	key[3 + n] = '\0';
	key[4 + n] = (unsigned char)(doc >> 24);
	key[5 + n] = (unsigned char)(doc >> 16);
	key[6 + n] = (unsigned char)(doc >> 8);
	key[7 + n] = (unsigned char)doc;
	return n + 8;
}

struct stats {
	uint64_t docs;
	uint64_t next;
	uint64_t len[MSP_SF_COUNT];
	uint64_t format;
};

/* ---- small helpers -------------------------------------------------- */

static inline void
be32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline uint32_t
be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline size_t
varint_put(unsigned char *p, uint32_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* Returns 0 when the varint runs past end. */
static inline size_t
varint_get(const unsigned char *p, const unsigned char *end, uint32_t *v)
{
	uint32_t r = 0;
	size_t n = 0;
	int shift = 0;

	while (p + n < end && shift < 35) {
		unsigned char c = p[n++];
		r |= (uint32_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = r;
			return n;
		}
		shift += 7;
	}
	return 0;
}

static inline const char *
jstr(json_object *o, const char *field)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, field, &x) ||
	    !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

static inline int
jbool(json_object *o, const char *field)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, field, &x))
		return 0;
	return json_object_get_boolean(x);
}

static inline json_object *
jarr(json_object *o, const char *field)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, field, &x) ||
	    !json_object_is_type(x, json_type_array))
		return NULL;
	return x;
}

static inline int
visible(json_object *v)
{
	const char *s = jstr(v, "status");

	return v != NULL && s != NULL && strcmp(s, "ready") == 0 &&
	    !jbool(v, "isDeleted");
}

static inline unsigned
doc_flags(json_object *v)
{
	const char *ty = jstr(v, "videoType");
	unsigned f = 0;

	if (ty != NULL && strcmp(ty, "long") == 0)
		f |= F_LONG;
	if (jbool(v, "isPremium"))
		f |= F_PREMIUM;
	return f;
}

static inline int
nomem(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}



/* ---- a document --------------------------------------------------- */

struct tok {
	char term[MSP_TERM_MAX + 1];
	unsigned char field;
	uint32_t pos;
};

struct toks {
	struct tok *v;
	size_t n, cap;
	unsigned char field;
	uint32_t pos;
	uint32_t len[MSP_SF_COUNT];
};

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static inline int
buf_need(struct buf *b, size_t more)
{
	if (b->n + more > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		unsigned char *np;
		while (nc < b->n + more)
			nc *= 2;
		if ((np = realloc(b->p, nc)) == NULL)
			return MSP_ENOMEM;
		b->p = np;
		b->cap = nc;
	}
	return 0;
}

static inline int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_need(b, n) != 0)
		return MSP_ENOMEM;
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}


static inline int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}


/* A document record, parsed (pointers into a copy the caller frees). */
struct docrec {
	unsigned char flags;
	unsigned ngenres;
	uint32_t len[MSP_SF_COUNT];
	char id[MSP_ID_LEN + 1];
	const char *language;
	const char *genres[256];
	const char *terms;   /* NUL-separated, up to terms_end */
	const char *terms_end;
};


/* 1 when an "S" value is not this format's: the index is made again. */
int msp_search_stats_old(const MDB_val *v);
/* 1 when a posting starts its document's title or name: it has an "E"
 * key too. */
int msp_search_post_start(const unsigned char *p, size_t n);

/* The corpus statistics (zero when the index is empty). */
int msp_search_stats_get(struct msp_store *st, MDB_txn *t, struct stats *s,
    struct msp_err *e);
/* Every word of the indexed fields, sorted by term, field and position
 * (tk->v malloc'd). */
int msp_search_doc_words(json_object *v, struct toks *tk, struct msp_err *e);
/* Encode the posting of the term at tk->v[i] into b; *next gets the
 * index of the next term. */
int msp_search_posting_encode(const struct toks *tk, size_t i, size_t *next,
    unsigned char flags, struct buf *b);
/* The adjacent word pairs of a document whose postings are in post
 * (records of: length byte, term, varint value length, value; in term
 * order), as records of the same form in key order into pairs: the
 * pair's name and its "A" value. */
int msp_search_pairs(const struct buf *post, struct buf *pairs);
/* Add a record of that form to b: name[0..n) (at most 255 bytes) and
 * its value. */
int msp_search_rec_add(struct buf *b, const char *name, size_t n,
    const void *val, size_t vn);
/* The next record of such a buffer at *p: its name (not NUL-terminated)
 * and value; 0 at the end. */
int msp_search_rec_next(const struct buf *b, size_t *p, const char **name,
    size_t *nn, const unsigned char **val, uint32_t *vn);
/* The "C" value: title (or name), then about, each NUL-terminated. */
int msp_search_content(json_object *v, struct buf *b);
/* Parse a "D" value: pointers into p, which the caller keeps. */
int msp_search_doc_parse(const unsigned char *p, size_t n, struct docrec *d);

/* ---- typo variants (search_typo.c) ----------------------------------- */

/* Deletion variants of a term: the distinct strings left by deleting
 * one (dels & 1) or two (dels & 2) of its characters. */
struct variants {
	char (*v)[MSP_TERM_MAX + 1];
	size_t n;
};

int msp_search_variants(const char *term, size_t tn, int dels,
    struct variants *out);
/* Which deletions a dictionary term keeps "V" keys for. */
int msp_search_term_dels(const char *term, size_t tn);
/* The "V" key of variant var of term; its length. */
size_t msp_search_vkey(unsigned char *key, const char *var, const char *term,
    size_t tn);

/* ---- queries (search_query.c) ---------------------------------------- */

struct qexp {
	char term[MSP_TERM_MAX + 1];
	size_t n;
	uint32_t df;
	int edits;
	int prefix;
	double idf;
	double pen;
};

struct qgroup {
	char word[MSP_TERM_MAX + 1];
	size_t wn;
	int prefix;      /* the last word: completions count */
	int exact;       /* inside quotes: no completion, no typo */
	int phrase;      /* phrase number, or -1 */
	struct qexp *x;
	size_t nx, capx;
	uint64_t sumdf;
};

/* What ranks a candidate (msp-search(1), Ranking), in this order. */
#define EXACT_EQUAL 2  /* its title or name is the query */
#define EXACT_START 1  /* its title or name starts with the query */
#define PROX_MAX 8     /* the distance two words count at most */

struct cand {
	uint32_t doc;
	uint32_t m;            /* queries of 2+ words: its matches in c->pool */
	double score;          /* BM25 */
	const unsigned char *pv; /* the best posting of the group gathered */
	uint32_t pn;
	unsigned char typo;    /* matches only with a typo: ranks after the rest */
	unsigned char exact;   /* EXACT_EQUAL, EXACT_START or 0 */
	unsigned char prox;    /* word distances beyond adjacent and in order */
	unsigned char edits;   /* typos in all */
	unsigned char prefix;  /* pv is a completion's */
	unsigned char xi;      /* pair_first: the last word's expansion */
	unsigned char seen;    /* pair_first: checked */
};

/* A word's best match in a document: its posting (in the txn's map). */
struct cmatch {
	const unsigned char *p;
	uint32_t n;
	unsigned char edits, prefix;
};

struct qctx {
	struct msp_store *st;
	MDB_txn *t;
	MDB_cursor *cur;
	const struct msp_search_query *q;
	const char *genre, *language; /* q's, as stored */
	struct stats s;
	double avg[MSP_SF_COUNT];
	struct qgroup g[MSP_SEARCH_WORDS_MAX];
	size_t ng;
	int cur_phrase;
	int nphrase;
	const char **marks; /* sorted terms to highlight */
	size_t nmarks;
	unsigned char markc[256]; /* 1: a term to highlight starts with it */
	int typos;          /* this pass uses the typo expansions */
	struct cmatch *pool; /* candidates' matches, c->ng each */
	size_t npool, cappool;
	struct msp_search_cost cost;
	int exhaustive;     /* no shortcut: every posting of every term */
};

/* Tests: 1 makes every query take no shortcut (see tests/unit). */
extern int msp_search_exhaustive;


/* The expansions a pass uses. */
static inline int
use(const struct qctx *c, const struct qexp *x)
{
	return c->typos || x->edits == 0;
}


/* A bounded set of expansions: the best MSP_SEARCH_EXPAND_MAX by edits,
 * then document frequency. */
struct expset {
	struct qexp v[MSP_SEARCH_EXPAND_MAX];
	size_t n;
	size_t worst; /* when full: the index of the worst */
};


static inline uint32_t
df_of(const MDB_val *v)
{
	uint32_t df = 0;

	if (v->mv_size == sizeof(df))
		memcpy(&df, v->mv_data, sizeof(df));
	return df;
}


struct cands {
	struct cand *v;
	size_t n, cap;
};


/* facet counts */
struct facet {
	char *value;
	long count;
};

struct facets {
	struct facet *v;
	size_t n, cap;
};


void msp_search_expset_add(struct expset *s, const char *term, size_t n,
    uint32_t df, int edits, int prefix);
/* Terms within max edits of the group's word, into s. */
int msp_search_expand_typos(struct qctx *c, struct qgroup *g, int max,
    struct expset *s);
/* The posting of expansion x in doc (an LMDB error code). */
int msp_search_post_get(struct qctx *c, const struct qexp *x, uint32_t doc,
    MDB_val *v);

/* ---- ranking (search_rank.c) ----------------------------------------- */

/* Parts of a posting's score, for --explain. */
struct fpart {
	uint32_t tf, len;
	double score;
};

double msp_search_post_score(const struct qctx *c, const unsigned char *p,
    size_t n, struct fpart *parts);
/* Move the best k candidates to the front, in rank order; with 2+
 * words, their exactness, proximity and edits from their matches in
 * c->pool first. */
void msp_search_top_k(const struct qctx *c, struct cands *cs, size_t k);
/* The exactness of a one-word query's match from its posting. */
unsigned char msp_search_exact1(const unsigned char *p, size_t n,
    int prefix);
/* The candidate's ranking signals, for --explain. */
json_object *msp_search_rank_explain(const struct cand *h);

/* ---- hits (search_hit.c) --------------------------------------------- */

int msp_search_facet_add(struct facets *fs, const char *value);
int msp_search_facets_emit(struct facets *fs, const char *field,
    json_object *arr);
void msp_search_facets_free(struct facets *fs);
int msp_search_emit_hit(struct qctx *c, const struct cand *h, msp_each_fn fn,
    void *arg, struct msp_err *e);

#endif
