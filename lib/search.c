/*
 * search: a full-text index of the visible videos in one LMDB database
 * (MSP_DB_SEARCH), kept in the transaction of every video change.
 *
 * Keys (the first byte says what a key is; numbers are native-endian
 * unless said otherwise; <doc> is a 4-byte big-endian document number,
 * given out in order and never reused):
 *
 *   "S"                        corpus: struct stats (documents, next
 *                              document number, total length of each field)
 *   "E" <term> 0x00 <doc>      the posting again, when the term starts the
 *                              document's title or name (position 0): the
 *                              documents that can match a one-word query
 *                              exactly, without walking every posting
 *   "I" <video id>             <doc>
 *   "D" <doc>                  the document: flags, field lengths, video
 *                              id, language, genres and its distinct terms
 *   "C" <doc>                  title (or name) 0x00 about 0x00, then each
 *                              caption cue as language 0x09 start ms 0x09
 *                              end ms 0x09 text 0x00: the text hits show,
 *                              without parsing the record
 *   "T" <term>                 uint32 document frequency: the dictionary,
 *                              in term order for prefix and typo walks
 *   "P" <term> 0x00 <doc>      a posting: flags byte, then for each field
 *                              holding the term: field byte, varint field
 *                              length, varint tf, tf varint position deltas
 *   "A" <seg> <term> 0x01 <term> 0x00 <doc>
 *                              the two terms next to each other, in this
 *                              order, in a field of the document (each
 *                              among the first 64 places of its term in
 *                              the field, as proximity counts them):
 *                              varint length of the first's posting, the
 *                              first's posting, the second's. A query of
 *                              2+ words finds the documents of proximity 0
 *                              here, scored without reading anything else.
 *                              <seg> (2 bytes, big-endian) is doc >> 16:
 *                              a new document's pairs go into the last
 *                              segment, not all over the index, and a
 *                              query reads a pair's run in each segment
 *
 * The postings carry the document's flags (type, premium) and the length
 * of each field holding the term, so that a query scores a posting
 * without reading anything else.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonl.h"
#include "search.h"
#include "search_int.h"
#include "text.h"
#include "util.h"

const char *const msp_search_field_names[MSP_SF_COUNT] = {
	"title", "name", "about", "genres", "language", "captions"
};
const double msp_search_field_weights[MSP_SF_COUNT] = {
	4.0, 4.0, 1.0, 2.0, 1.0, 0.5
};

/* The corpus statistics of an index made before the captions field. */
#define STATS_OLD_SIZE (sizeof(struct stats) - 2 * sizeof(uint64_t))

int
msp_search_stats_old(const MDB_val *v)
{
	struct stats s;

	if (v->mv_size != sizeof(s))
		return 1;
	memcpy(&s, v->mv_data, sizeof(s));
	return s.format != SEARCH_FORMAT;
}

int
msp_search_post_start(const unsigned char *p, size_t n)
{
	return msp_search_exact1(p, n, 0) != 0;
}

int
msp_search_stats_get(struct msp_store *st, MDB_txn *t, struct stats *s,
    struct msp_err *e)
{
	MDB_val v;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = msp_db_get(st, t, MSP_DB_SEARCH, "S", 1, &v, e);
	if (rc == MSP_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.mv_size == STATS_OLD_SIZE)
		return msp_err_set(e, MSP_ESTORE, "search: the index was made "
		    "before captions were searched; run msp-search reindex");
	if (v.mv_size == sizeof(*s) - sizeof(uint64_t) ||
	    (v.mv_size == sizeof(*s) && msp_search_stats_old(&v)))
		return msp_err_set(e, MSP_ESTORE, "search: the index was made "
		    "by an older msp; run msp-search reindex");
	if (v.mv_size != sizeof(*s))
		return msp_err_set(e, MSP_ESTORE, "search: corrupt corpus "
		    "statistics; run msp-search reindex");
	memcpy(s, v.mv_data, sizeof(*s));
	return 0;
}

/*
 * An index made by an older msp (before captions were searched, before
 * the "E" keys) is made again, once, by
 * the first tool that opens the store to search it (msp-search, msp-serve
 * at start) or that changes a video (msp_search_observe), so that an
 * upgraded store answers queries at once.
 */
int
msp_search_upgrade(struct msp_store *st, struct msp_err *e)
{
	MDB_txn *t;
	MDB_val v;
	int rc, old;

	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		return rc;
	old = msp_db_get(st, t, MSP_DB_SEARCH, "S", 1, &v, NULL) == 0 &&
	    msp_search_stats_old(&v);
	msp_txn_abort(st, t);
	if (!old)
		return 0;
	if ((rc = msp_txn_begin(st, 1, &t, e)) != 0)
		return rc;
	/* another process may have done it meanwhile */
	if (msp_db_get(st, t, MSP_DB_SEARCH, "S", 1, &v, NULL) == 0 &&
	    msp_search_stats_old(&v) &&
	    (rc = msp_search_reindex(st, t, NULL, e)) != 0) {
		msp_txn_abort(st, t);
		return rc;
	}
	return msp_txn_commit(st, t, e);
}

static int
stats_put(struct msp_store *st, MDB_txn *t, const struct stats *s,
    struct msp_err *e)
{
	struct stats x = *s;

	x.format = SEARCH_FORMAT;
	return msp_db_put(st, t, MSP_DB_SEARCH, "S", 1, &x, sizeof(x), 0, e);
}

/* ---- a document's words --------------------------------------------- */

static int
toks_add(const char *term, size_t n, size_t start, size_t end, void *arg)
{
	struct toks *tk = arg;
	struct tok *x;

	(void)start;
	(void)end;
	if (tk->n == tk->cap) {
		size_t nc = tk->cap ? tk->cap * 2 : 64;
		struct tok *nv = realloc(tk->v, nc * sizeof(*nv));
		if (nv == NULL)
			return MSP_ENOMEM;
		tk->v = nv;
		tk->cap = nc;
	}
	x = &tk->v[tk->n++];
	memcpy(x->term, term, n + 1);
	x->field = tk->field;
	x->pos = tk->pos++;
	tk->len[tk->field]++;
	return 0;
}

static int
tok_cmp(const void *a, const void *b)
{
	const struct tok *x = *(const struct tok *const *)a;
	const struct tok *y = *(const struct tok *const *)b;
	int c = strcmp(x->term, y->term);

	if (c != 0)
		return c;
	if (x->field != y->field)
		return x->field < y->field ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
toks_field(struct toks *tk, int field, const char *s)
{
	tk->field = (unsigned char)field;
	if (s == NULL)
		return 0;
	return msp_text_words(s, strlen(s), toks_add, tk);
}

/* Every word of the indexed fields, sorted by term, field and position. */
int
msp_search_doc_words(json_object *v, struct toks *tk, struct msp_err *e)
{
	json_object *g = jarr(v, "genres"), *caps = jarr(v, "captions");
	size_t i;
	int rc;

	memset(tk, 0, sizeof(*tk));
	rc = toks_field(tk, MSP_SF_TITLE, jstr(v, "title"));
	if (rc == 0) {
		tk->pos = 0;
		rc = toks_field(tk, MSP_SF_NAME, jstr(v, "name"));
	}
	if (rc == 0) {
		tk->pos = 0;
		rc = toks_field(tk, MSP_SF_ABOUT, jstr(v, "about"));
	}
	tk->pos = 0;
	for (i = 0; rc == 0 && g != NULL && i < json_object_array_length(g);
	    i++) {
		json_object *x = json_object_array_get_idx(g, i);
		if (json_object_is_type(x, json_type_string))
			rc = toks_field(tk, MSP_SF_GENRES,
			    json_object_get_string(x));
		tk->pos++; /* no phrase across two genres */
	}
	if (rc == 0) {
		tk->pos = 0;
		rc = toks_field(tk, MSP_SF_LANGUAGE, jstr(v, "language"));
	}
	tk->pos = 0;
	for (i = 0; rc == 0 && caps != NULL &&
	    i < json_object_array_length(caps); i++) {
		json_object *cues = jarr(json_object_array_get_idx(caps, i),
		    "cues");
		size_t k;
		for (k = 0; rc == 0 && cues != NULL &&
		    k < json_object_array_length(cues); k++) {
			json_object *t = json_object_array_get_idx(
			    json_object_array_get_idx(cues, k), 2);
			if (json_object_is_type(t, json_type_string))
				rc = toks_field(tk, MSP_SF_CAPTIONS,
				    json_object_get_string(t));
			tk->pos++; /* no phrase across two cues */
		}
	}
	if (rc != 0) {
		free(tk->v);
		tk->v = NULL;
		return nomem(e);
	}
	if (tk->n > 1) { /* sort pointers, then copy once */
		struct tok **pp = malloc(tk->n * sizeof(*pp)), *sorted;
		size_t k;

		if (pp == NULL || (sorted = malloc(tk->n *
		    sizeof(*sorted))) == NULL) {
			free(pp);
			free(tk->v);
			tk->v = NULL;
			return nomem(e);
		}
		for (k = 0; k < tk->n; k++)
			pp[k] = &tk->v[k];
		qsort(pp, tk->n, sizeof(*pp), tok_cmp);
		for (k = 0; k < tk->n; k++)
			sorted[k] = *pp[k];
		free(pp);
		free(tk->v);
		tk->v = sorted;
		tk->cap = tk->n;
	}
	return 0;
}

static int
variants_change(struct msp_store *st, MDB_txn *t, const char *term,
    size_t tn, int add, struct msp_err *e)
{
	unsigned char key[2 + 2 * MSP_TERM_MAX];
	struct variants vs;
	size_t i;
	int rc = 0, dels = msp_search_term_dels(term, tn);

	if (dels == 0)
		return 0;
	if (msp_search_variants(term, tn, dels, &vs) != 0)
		return nomem(e);
	for (i = 0; i < vs.n && rc == 0; i++) {
		size_t kn = msp_search_vkey(key, vs.v[i], term, tn);
		if (add)
			rc = msp_db_put(st, t, MSP_DB_SEARCH, key, kn, "", 0, 0,
			    e);
		else if ((rc = msp_db_del(st, t, MSP_DB_SEARCH, key, kn,
		    e)) == MSP_ENOTFOUND)
			rc = 0;
	}
	free(vs.v);
	return rc;
}

/* bulk: leave the variants to the caller (reindex adds them at the end) */
static int
df_change(struct msp_store *st, MDB_txn *t, const char *term, size_t tn,
    int delta, int bulk, struct msp_err *e)
{
	unsigned char key[1 + MSP_TERM_MAX];
	uint32_t df = 0;
	MDB_val v;
	int rc;

	key[0] = 'T';
	memcpy(key + 1, term, tn);
	rc = msp_db_get(st, t, MSP_DB_SEARCH, key, tn + 1, &v, e);
	if (rc == 0 && v.mv_size == sizeof(df))
		memcpy(&df, v.mv_data, sizeof(df));
	else if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	if (delta < 0 && df <= (uint32_t)-delta) {
		rc = msp_db_del(st, t, MSP_DB_SEARCH, key, tn + 1, e);
		if (rc == MSP_ENOTFOUND)
			rc = 0;
		if (rc == 0 && !bulk)
			rc = variants_change(st, t, term, tn, 0, e);
		return rc;
	}
	if (df == 0 && !bulk &&
	    (rc = variants_change(st, t, term, tn, 1, e)) != 0)
		return rc;
	df = (uint32_t)((int64_t)df + delta);
	return msp_db_put(st, t, MSP_DB_SEARCH, key, tn + 1, &df, sizeof(df),
	    0, e);
}

/* Encode the posting of the term at tk->v[i] into b; *next gets the
 * index of the next term. */
int
msp_search_posting_encode(const struct toks *tk, size_t i, size_t *next,
    unsigned char flags, struct buf *b)
{
	const char *term = tk->v[i].term;
	size_t j;

	b->n = 0;
	if (buf_add(b, &flags, 1) != 0)
		return MSP_ENOMEM;
	for (j = i; j < tk->n && strcmp(tk->v[j].term, term) == 0;) {
		size_t k = j, tf;
		unsigned char field = tk->v[j].field;
		uint32_t last = 0;

		while (k < tk->n && tk->v[k].field == field &&
		    strcmp(tk->v[k].term, term) == 0)
			k++;
		tf = k - j;
		if (buf_need(b, 1 + 5 + 5 + 5 * tf) != 0)
			return MSP_ENOMEM;
		b->p[b->n++] = field;
		b->n += varint_put(b->p + b->n, tk->len[field]);
		b->n += varint_put(b->p + b->n, (uint32_t)tf);
		for (; j < k; j++) {
			b->n += varint_put(b->p + b->n, tk->v[j].pos - last);
			last = tk->v[j].pos;
		}
	}
	*next = j;
	return 0;
}

/* The "C" value: title (or name), then about, then the caption cues
 * ("lang\tstart\tend\ttext"), each NUL-terminated. */
int
msp_search_content(json_object *v, struct buf *b)
{
	const char *title = jstr(v, "title"), *about = jstr(v, "about");
	json_object *caps = jarr(v, "captions");
	size_t i, k;

	if (title == NULL && (title = jstr(v, "name")) == NULL)
		title = "";
	if (about == NULL)
		about = "";
	b->n = 0;
	if (buf_add(b, title, strlen(title) + 1) != 0 ||
	    buf_add(b, about, strlen(about) + 1) != 0)
		return MSP_ENOMEM;
	for (i = 0; caps != NULL && i < json_object_array_length(caps); i++) {
		json_object *c = json_object_array_get_idx(caps, i);
		json_object *cues = jarr(c, "cues");
		const char *lang = jstr(c, "language");

		for (k = 0; cues != NULL && lang != NULL &&
		    k < json_object_array_length(cues); k++) {
			json_object *q = json_object_array_get_idx(cues, k);
			const char *t = json_object_get_string(
			    json_object_array_get_idx(q, 2));
			char head[64];
			int hn = snprintf(head, sizeof(head), "%.35s\t%lld\t%lld\t",
			    lang, (long long)json_object_get_int64(
			    json_object_array_get_idx(q, 0)),
			    (long long)json_object_get_int64(
			    json_object_array_get_idx(q, 1)));
			if (t == NULL || hn < 0 || (size_t)hn >= sizeof(head))
				continue;
			if (buf_add(b, head, (size_t)hn) != 0 ||
			    buf_add(b, t, strlen(t) + 1) != 0)
				return MSP_ENOMEM;
		}
	}
	return 0;
}

/* ---- a prepared document -------------------------------------------- */

/*
 * What a visible video puts in the index, computed from the record alone
 * (so any thread can prepare it): the "D" and "C" values, and for each
 * distinct term, in term order, its posting value. post holds, per term:
 * a length byte, the term, a varint value length, the value.
 */
struct msp_search_doc {
	char id[MSP_ID_LEN + 1];
	uint32_t len[MSP_SF_COUNT];
	struct buf d;
	struct buf c;
	struct buf post;
	struct buf pairs; /* msp_search_pairs */
};

void
msp_search_doc_free(struct msp_search_doc *d)
{
	if (d == NULL)
		return;
	free(d->d.p);
	free(d->c.p);
	free(d->post.p);
	free(d->pairs.p);
	free(d);
}

int
msp_search_doc_prep(json_object *v, struct msp_search_doc **dp,
    struct msp_err *e)
{
	const char *id = jstr(v, "id"), *lang = jstr(v, "language");
	json_object *g = jarr(v, "genres");
	unsigned char flags = (unsigned char)doc_flags(v), ng = 0;
	struct msp_search_doc *d;
	struct buf post = { 0 };
	struct toks tk;
	size_t i, j;
	int rc;

	*dp = NULL;
	if (!visible(v))
		return 0;
	if (id == NULL || strlen(id) != MSP_ID_LEN)
		return msp_err_set(e, MSP_EINVAL, "search: video without a "
		    "valid id");
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return nomem(e);
	if ((rc = msp_search_doc_words(v, &tk, e)) != 0) {
		free(d);
		return rc;
	}
	memcpy(d->id, id, MSP_ID_LEN + 1);
	memcpy(d->len, tk.len, sizeof(d->len));

	/* the document: flags, genre count, lengths, id, language, genres,
	 * then the distinct terms */
	if (g != NULL)
		ng = (unsigned char)(json_object_array_length(g) > 255 ? 255 :
		    json_object_array_length(g));
	rc = buf_add(&d->d, &flags, 1);
	rc = rc ? rc : buf_add(&d->d, &ng, 1);
	rc = rc ? rc : buf_add(&d->d, tk.len, sizeof(tk.len));
	rc = rc ? rc : buf_add(&d->d, id, MSP_ID_LEN);
	rc = rc ? rc : buf_add(&d->d, lang ? lang : "", (lang ? strlen(lang) :
	    0) + 1);
	for (i = 0; rc == 0 && i < ng; i++) {
		const char *gs = json_object_get_string(
		    json_object_array_get_idx(g, i));
		if (gs == NULL)
			gs = "";
		rc = buf_add(&d->d, gs, strlen(gs) + 1);
	}
	for (i = 0; rc == 0 && i < tk.n; i = j) {
		const char *term = tk.v[i].term;
		unsigned char tn = (unsigned char)strlen(term);

		if ((rc = buf_add(&d->d, term, (size_t)tn + 1)) != 0 ||
		    (rc = msp_search_posting_encode(&tk, i, &j, flags, &post)) != 0)
			break;
		rc = msp_search_rec_add(&d->post, term, tn, post.p, post.n);
	}
	if (rc == 0)
		rc = msp_search_content(v, &d->c);
	if (rc == 0)
		rc = msp_search_pairs(&d->post, &d->pairs);
	free(tk.v);
	free(post.p);
	if (rc != 0) {
		msp_search_doc_free(d);
		return nomem(e);
	}
	*dp = d;
	return 0;
}

int
msp_search_rec_add(struct buf *b, const char *name, size_t n,
    const void *val, size_t vn)
{
	unsigned char nl = (unsigned char)n, vl[5];

	if (n > 255 || vn > UINT32_MAX)
		return MSP_EINVAL;
	if (buf_add(b, &nl, 1) != 0 || buf_add(b, name, n) != 0 ||
	    buf_add(b, vl, varint_put(vl, (uint32_t)vn)) != 0 ||
	    buf_add(b, val, vn) != 0)
		return MSP_ENOMEM;
	return 0;
}

int
msp_search_rec_next(const struct buf *b, size_t *p, const char **name,
    size_t *nn, const unsigned char **val, uint32_t *vn)
{
	const unsigned char *q = b->p, *end;
	size_t k;

	if (q == NULL || *p >= b->n || *p + 1 + q[*p] > b->n)
		return 0;
	end = q + b->n;
	*nn = q[*p];
	*name = (const char *)q + *p + 1;
	if ((k = varint_get(q + *p + 1 + *nn, end, vn)) == 0 ||
	    *vn > (size_t)(end - (q + *p + 1 + *nn + k)))
		return 0;
	*val = q + *p + 1 + *nn + k;
	*p += 1 + *nn + k + *vn;
	return 1;
}

/* The next term of a prepared document's postings at *p: its term (not
 * NUL-terminated) and value; 0 at the end. */
static int
doc_next(const struct msp_search_doc *d, size_t *p, const char **term,
    size_t *tn, const unsigned char **val, uint32_t *vn)
{
	return msp_search_rec_next(&d->post, p, term, tn, val, vn);
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
rec_add(struct buf *b, const char *name1, size_t n1, const char *name2,
    size_t n2, const unsigned char *v1, uint32_t l1,
    const unsigned char *v2, uint32_t l2)
{
	unsigned char hdr[1 + 5], vl[5], nl = (unsigned char)(n1 + 1 + n2);
	size_t hn = varint_put(hdr, l1);
	unsigned char sep = PAIR_SEP;

	if (n1 + 1 + n2 > 255)
		return 0;
	if (buf_add(b, &nl, 1) != 0 || buf_add(b, name1, n1) != 0 ||
	    buf_add(b, &sep, 1) != 0 || buf_add(b, name2, n2) != 0 ||
	    buf_add(b, vl, varint_put(vl, (uint32_t)(hn + l1 + l2))) != 0 ||
	    buf_add(b, hdr, hn) != 0 || buf_add(b, v1, l1) != 0 ||
	    buf_add(b, v2, l2) != 0)
		return MSP_ENOMEM;
	return 0;
}

/*
 * The word pairs proximity counts as adjacent: in one field, the second
 * word at the position after the first, each among the first POS_MAX
 * places of its term in that field (as msp_search_top_k reads them).
 * Each distinct pair once, with both terms' postings as its value.
 */
int
msp_search_pairs(const struct buf *post, struct buf *pairs)
{
	struct rec {
		const char *t;
		size_t tn;
		const unsigned char *v;
		uint32_t vn;
	} *rv = NULL;
	uint64_t *tok = NULL, *pv = NULL;
	size_t nr = 0, capr = 0, nt = 0, capt = 0, np = 0, capp = 0, p = 0, i;
	const unsigned char *val;
	const char *term;
	size_t tn;
	uint32_t vn;
	int rc = MSP_ENOMEM;

	pairs->n = 0;
	while (msp_search_rec_next(post, &p, &term, &tn, &val, &vn)) {
		const unsigned char *q = val + 1, *end = val + vn;

		if (msp_grow(&rv, &capr, nr + 1, sizeof(*rv), 64) != 0)
			goto out;
		rv[nr].t = term;
		rv[nr].tn = tn;
		rv[nr].v = val;
		rv[nr].vn = vn;
		/* its places: field, position, record */
		while (q < end && vn > 0) {
			unsigned field = *q++;
			uint32_t len, tf, d, pos = 0, k;
			size_t a, b;

			if ((a = varint_get(q, end, &len)) == 0 ||
			    (b = varint_get(q + a, end, &tf)) == 0)
				break;
			q += a + b;
			for (k = 0; k < tf && q < end; k++) {
				if ((a = varint_get(q, end, &d)) == 0)
					break;
				q += a;
				pos += d;
				if (k >= POS_MAX)
					continue;
				if (msp_grow(&tok, &capt, nt + 1, sizeof(*tok),
				    256) != 0)
					goto out;
				tok[nt++] = (uint64_t)(field & 7) << 61 |
				    (uint64_t)pos << 29 | (uint64_t)nr;
			}
		}
		if (++nr >= (size_t)1 << 29)
			break; /* no document has so many words */
	}
	if (nt > 1)
		qsort(tok, nt, sizeof(*tok), u64_cmp);
	for (i = 0; i + 1 < nt; i++) {
		uint64_t a = tok[i], b = tok[i + 1];
		if (a >> 61 != b >> 61 ||
		    ((b >> 29) & UINT32_MAX) != ((a >> 29) & UINT32_MAX) + 1)
			continue;
		if (msp_grow(&pv, &capp, np + 1, sizeof(*pv), 256) != 0)
			goto out;
		pv[np++] = (a & ((1u << 29) - 1)) << 32 |
		    (b & ((1u << 29) - 1));
	}
	if (np > 1)
		qsort(pv, np, sizeof(*pv), u64_cmp);
	for (i = 0; i < np; i++) {
		const struct rec *x = &rv[pv[i] >> 32];
		const struct rec *y = &rv[pv[i] & UINT32_MAX];
		if (i > 0 && pv[i] == pv[i - 1])
			continue;
		if (rec_add(pairs, x->t, x->tn, y->t, y->tn, x->v, x->vn,
		    y->v, y->vn) != 0)
			goto out;
	}
	rc = 0;
out:
	free(rv);
	free(tok);
	free(pv);
	return rc;
}

/* Add a video's document in t, one put at a time (the incremental path). */
static int
doc_add(struct msp_store *st, MDB_txn *t, json_object *v, struct msp_err *e)
{
	unsigned char key[2 + PAIR_MAX + 4], dk[5], ik[1 + MSP_ID_LEN];
	struct msp_search_doc *d;
	const unsigned char *val;
	const char *term;
	struct stats s;
	uint32_t docnum, vn;
	size_t p = 0, tn, f;
	int rc;

	if ((rc = msp_search_doc_prep(v, &d, e)) != 0 || d == NULL)
		return rc;
	if ((rc = msp_search_stats_get(st, t, &s, e)) != 0)
		goto out;
	if (s.next >= UINT32_MAX) {
		rc = msp_err_set(e, MSP_ESTORE, "search: document numbers "
		    "exhausted; run msp-search reindex");
		goto out;
	}
	docnum = (uint32_t)s.next++;
	s.docs++;
	for (f = 0; f < MSP_SF_COUNT; f++)
		s.len[f] += d->len[f];
	key[0] = 'P';
	while (doc_next(d, &p, &term, &tn, &val, &vn)) {
		memcpy(key + 1, term, tn);
		key[1 + tn] = '\0';
		be32_put(key + 2 + tn, docnum);
		if ((rc = msp_db_put(st, t, MSP_DB_SEARCH, key, tn + 6, val, vn,
		    0, e)) != 0 ||
		    (rc = df_change(st, t, term, tn, 1, 0, e)) != 0)
			goto out;
		if (msp_search_post_start(val, vn)) {
			key[0] = 'E';
			rc = msp_db_put(st, t, MSP_DB_SEARCH, key, tn + 6, val,
			    vn, 0, e);
			key[0] = 'P';
			if (rc != 0)
				goto out;
		}
	}
	p = 0;
	while (msp_search_rec_next(&d->pairs, &p, &term, &tn, &val, &vn)) {
		unsigned char ak[PAIR_KEY_MAX];
		size_t an = pair_key(ak, term, tn, docnum);
		if ((rc = msp_db_put(st, t, MSP_DB_SEARCH, ak, an, val, vn, 0,
		    e)) != 0)
			goto out;
	}
	dk[0] = 'D';
	be32_put(dk + 1, docnum);
	if ((rc = msp_db_put(st, t, MSP_DB_SEARCH, dk, 5, d->d.p, d->d.n, 0,
	    e)) != 0)
		goto out;
	dk[0] = 'C';
	if ((rc = msp_db_put(st, t, MSP_DB_SEARCH, dk, 5, d->c.p, d->c.n, 0,
	    e)) != 0)
		goto out;
	ik[0] = 'I';
	memcpy(ik + 1, d->id, MSP_ID_LEN);
	if ((rc = msp_db_put(st, t, MSP_DB_SEARCH, ik, sizeof(ik), dk + 1, 4,
	    0, e)) != 0)
		goto out;
	rc = stats_put(st, t, &s, e);
out:
	msp_search_doc_free(d);
	return rc;
}

/* ---- bulk building -------------------------------------------------- */

/*
 * A rebuild gathers every document first and then writes the whole index
 * in key order ("C" < "D" < "I" < "P" < "S" < "T" < "V"), each put an
 * MDB_APPEND: no B-tree search, and full pages. The postings are kept in
 * memory per term, varint-packed (document number delta, value length,
 * value); the "C" and "D" values go to an unlinked temporary file in the
 * store directory, since they are read once, in order, at the end.
 */
struct tpost {
	unsigned char *p;
	uint32_t n, cap;
	uint32_t last;  /* last document number */
	uint32_t df;
	/* the word pairs the term starts: varint document delta, varint
	 * second term's number, varint value length, value */
	unsigned char *pp;
	uint32_t pn, pcap;
	uint32_t plast;
};

struct ient {
	char id[MSP_ID_LEN];
	uint32_t doc;
};

struct msp_search_bulk {
	struct stats s;
	struct msp_strset terms; /* the terms, numbered */
	struct tpost *tp;      /* by term number */
	size_t captp;
	struct ient *iv;       /* "I" entries */
	size_t ni, capi;
	int unsorted;          /* they came out of id order */
	FILE *cd;              /* "C" and "D" values, by document number */
	uint64_t bytes;        /* what the index will take, about */
	const char **dnames;   /* a document's terms, their lengths and */
	size_t *dlens;         /* numbers (msp_search_bulk_add) */
	uint32_t *dnums;
	size_t capd, capdl, capdn;
	struct msp_err err;    /* the first failure of an add */
	int failed;
};

/* The term's number in ts, added when new, with room for its lists in
 * *tp; UINT32_MAX when out of memory. */
static uint32_t
bulk_term(struct msp_strset *ts, struct tpost **tp, size_t *cap,
    const char *term, size_t tn)
{
	uint32_t k = msp_strset_add(ts, term, tn);

	if (k == UINT32_MAX || k < *cap)
		return k;
	if (msp_grow(tp, cap, (size_t)k + 1, sizeof(**tp), 1 << 15) != 0)
		return UINT32_MAX;
	memset(&(*tp)[k], 0, (*cap - k) * sizeof(**tp));
	return k;
}

/* Room for need bytes in a term's list *p (capacity *cap, doubling). */
static int
tlist_need(unsigned char **p, uint32_t *cap, size_t need)
{
	size_t nc = *cap ? *cap : 16;
	unsigned char *np;

	if (need <= *cap)
		return 0;
	while (nc < need)
		nc *= 2;
	if (nc > UINT32_MAX || (np = realloc(*p, nc)) == NULL)
		return MSP_ENOMEM;
	*p = np;
	*cap = (uint32_t)nc;
	return 0;
}

static int
tpost_add(struct tpost *tp, uint32_t doc, const unsigned char *val,
    uint32_t vn)
{
	if (tlist_need(&tp->p, &tp->cap, (size_t)tp->n + 10 + vn) != 0)
		return MSP_ENOMEM;
	tp->n += (uint32_t)varint_put(tp->p + tp->n, doc - tp->last);
	tp->n += (uint32_t)varint_put(tp->p + tp->n, vn);
	memcpy(tp->p + tp->n, val, vn);
	tp->n += vn;
	tp->last = doc;
	tp->df++;
	return 0;
}

/* A word pair of doc that tp's term starts, the second term numbered
 * second. */
static int
tpair_add(struct tpost *tp, uint32_t doc, uint32_t second,
    const unsigned char *val, uint32_t vn)
{
	if (tlist_need(&tp->pp, &tp->pcap, (size_t)tp->pn + 15 + vn) != 0)
		return MSP_ENOMEM;
	tp->pn += (uint32_t)varint_put(tp->pp + tp->pn, doc - tp->plast);
	tp->pn += (uint32_t)varint_put(tp->pp + tp->pn, second);
	tp->pn += (uint32_t)varint_put(tp->pp + tp->pn, vn);
	memcpy(tp->pp + tp->pn, val, vn);
	tp->pn += vn;
	tp->plast = doc;
	return 0;
}

/* The number of name[0..n) among the document's terms (names and nums,
 * nt of them, in byte order); UINT32_MAX when it is not one. */
static uint32_t
doc_term_num(const char *const *names, const size_t *lens,
    const uint32_t *nums, size_t nt, const char *name, size_t n)
{
	size_t lo = 0, hi = nt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = msp_bytes_cmp(names[mid], lens[mid], name, n);
		if (c == 0)
			return nums[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return UINT32_MAX;
}

int
msp_search_bulk_new(struct msp_store *st, struct msp_search_bulk **bp,
    struct msp_err *e)
{
	struct msp_search_bulk *b;
	char *path;
	int fd;

	*bp = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return nomem(e);
	if ((path = msp_sprintf("%s/.tmp-search-XXXXXX",
	    msp_store_path(st))) == NULL) {
		free(b);
		return nomem(e);
	}
	if ((fd = mkstemp(path)) < 0) {
		msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(errno));
		free(path);
		free(b);
		return MSP_EIO;
	}
	unlink(path);
	free(path);
	if ((b->cd = fdopen(fd, "w+")) == NULL) {
		close(fd);
		free(b);
		return nomem(e);
	}
	*bp = b;
	return 0;
}

void
msp_search_bulk_free(struct msp_search_bulk *b)
{
	uint32_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->terms.n; i++) {
		free(b->tp[i].p);
		free(b->tp[i].pp);
	}
	free(b->tp);
	msp_strset_free(&b->terms);
	free(b->dnames);
	free(b->dlens);
	free(b->dnums);
	free(b->iv);
	if (b->cd != NULL)
		fclose(b->cd);
	free(b);
}

static int
cd_write(FILE *f, const struct buf *v)
{
	uint32_t n = (uint32_t)v->n;

	return fwrite(&n, sizeof(n), 1, f) == 1 &&
	    fwrite(v->p, 1, v->n, f) == v->n ? 0 : -1;
}

int
msp_search_bulk_add(struct msp_search_bulk *b,
    const struct msp_search_doc *d, struct msp_err *e)
{
	const unsigned char *val;
	const char *term;
	uint32_t doc, vn;
	size_t p = 0, tn, f, nt;

	if (b->failed) {
		*e = b->err;
		return e->code;
	}
	if (b->s.next >= UINT32_MAX) {
		msp_err_set(&b->err, MSP_ESTORE, "search: more than %u "
		    "documents", UINT32_MAX - 1);
		goto fail;
	}
	doc = (uint32_t)b->s.next++;
	b->s.docs++;
	for (f = 0; f < MSP_SF_COUNT; f++)
		b->s.len[f] += d->len[f];
	nt = 0;
	/* the records and their keys (about 16 bytes a record in LMDB) */
	b->bytes += d->c.n + d->d.n + d->post.n + d->pairs.n + 60;
	while (doc_next(d, &p, &term, &tn, &val, &vn)) {
		uint32_t k = bulk_term(&b->terms, &b->tp, &b->captp, term, tn);
		b->bytes += 22;
		if (k == UINT32_MAX || tpost_add(&b->tp[k], doc, val, vn) != 0)
			goto oom;
		if (msp_grow(&b->dnames, &b->capd, nt + 1, sizeof(*b->dnames),
		    64) != 0 || msp_grow(&b->dlens, &b->capdl, nt + 1,
		    sizeof(*b->dlens), 64) != 0 || msp_grow(&b->dnums,
		    &b->capdn, nt + 1, sizeof(*b->dnums), 64) != 0)
			goto oom;
		b->dnames[nt] = term;
		b->dlens[nt] = tn;
		b->dnums[nt++] = k;
	}
	/* each pair with its first term's postings, by the terms' numbers */
	for (p = 0; msp_search_rec_next(&d->pairs, &p, &term, &tn, &val,
	    &vn);) {
		const char *sep = memchr(term, PAIR_SEP, tn);
		uint32_t k1, k2;
		if (sep == NULL)
			continue;
		k1 = doc_term_num(b->dnames, b->dlens, b->dnums, nt, term,
		    (size_t)(sep - term));
		k2 = doc_term_num(b->dnames, b->dlens, b->dnums, nt, sep + 1,
		    tn - (size_t)(sep - term) - 1);
		if (k1 == UINT32_MAX || k2 == UINT32_MAX)
			continue; /* cannot be: its terms are the document's */
		if (tpair_add(&b->tp[k1], doc, k2, val, vn) != 0)
			goto oom;
		b->bytes += 24;
	}
	if (msp_grow(&b->iv, &b->capi, b->ni + 1, sizeof(*b->iv), 1 << 12) != 0)
		goto oom;
	memcpy(b->iv[b->ni].id, d->id, MSP_ID_LEN);
	b->iv[b->ni].doc = doc;
	if (b->ni > 0 && memcmp(b->iv[b->ni - 1].id, d->id, MSP_ID_LEN) >= 0)
		b->unsorted = 1;
	b->ni++;
	if (cd_write(b->cd, &d->c) != 0 || cd_write(b->cd, &d->d) != 0) {
		msp_err_set(&b->err, MSP_EIO, "search: temporary file: %s",
		    strerror(errno ? errno : EIO));
		goto fail;
	}
	return 0;
oom:
	nomem(&b->err);
fail:
	b->failed = 1;
	*e = b->err;
	return e->code;
}

static int
ient_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ient *)a)->id,
	    ((const struct ient *)b)->id, MSP_ID_LEN);
}

/* A put at the end of the index, through a cursor that stays there. */
static int
append(MDB_cursor *c, const void *k, size_t kn, const void *v, size_t vn,
    struct msp_err *e)
{
	MDB_val key = { kn, (void *)k }, val = { vn, (void *)v };

	return msp_store_mdb_err(mdb_cursor_put(c, &key, &val, MDB_APPEND),
	    "search", e);
}

/* One pass over the temporary file: the "C" (which 0) or "D" (1) values. */
static int
cd_pass(MDB_cursor *c, struct msp_search_bulk *b, int which,
    struct msp_err *e)
{
	unsigned char dk[5];
	struct buf v = { 0 };
	uint64_t doc;
	int rc = 0, k;

	if (fflush(b->cd) != 0 || fseek(b->cd, 0, SEEK_SET) != 0)
		return msp_err_set(e, MSP_EIO, "search: temporary file: %s",
		    strerror(errno));
	dk[0] = which ? 'D' : 'C';
	for (doc = 0; doc < b->s.next && rc == 0; doc++) {
		for (k = 0; k < 2 && rc == 0; k++) {
			uint32_t n;
			if (fread(&n, sizeof(n), 1, b->cd) != 1 ||
			    buf_need(&v, n) != 0 ||
			    fread(v.p, 1, n, b->cd) != n) {
				rc = msp_err_set(e, MSP_EIO, "search: "
				    "temporary file: short read");
				break;
			}
			v.n = n;
			if (k != which)
				continue;
			be32_put(dk + 1, (uint32_t)doc);
			rc = append(c, dk, 5, v.p, v.n, e);
		}
	}
	free(v.p);
	return rc;
}

/* Every posting gathered, term by term in key order (ord): as "P" keys
 * (which 'P'), or the ones that start a title or name as "E" keys. */
static int
tpost_pass(MDB_cursor *c, const struct msp_strset *ts,
    const struct tpost *tps, const uint32_t *ord, int which,
    struct msp_err *e)
{
	unsigned char key[2 + MSP_TERM_MAX + 4];
	uint32_t i;
	int rc = 0;

	key[0] = (unsigned char)which;
	for (i = 0; i < ts->n && rc == 0; i++) {
		const struct tpost *tp = &tps[ord[i]];
		const unsigned char *p = tp->p, *end = p + tp->n;
		size_t tn;
		const char *term = msp_strset_get(ts, ord[i], &tn);
		uint32_t doc = 0;

		memcpy(key + 1, term, tn + 1);
		while (p < end && rc == 0) {
			uint32_t delta, vn;
			size_t na = varint_get(p, end, &delta), nv;
			nv = na ? varint_get(p + na, end, &vn) : 0;
			if (na == 0 || nv == 0 ||
			    vn > (size_t)(end - p - na - nv)) {
				rc = msp_err_set(e, MSP_ESTORE, "search: bulk "
				    "postings corrupt");
				break;
			}
			doc += delta;
			be32_put(key + 2 + tn, doc);
			if (which != 'E' ||
			    msp_search_post_start(p + na + nv, vn))
				rc = append(c, key, tn + 6, p + na + nv, vn, e);
			p += na + nv + vn;
		}
	}
	return rc;
}

struct pent {
	uint32_t rank;  /* the second term's, in key order */
	uint32_t doc;
	const unsigned char *val;
	uint32_t vn;
};

static int
pent_cmp(const void *a, const void *b)
{
	const struct pent *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->doc < y->doc ? -1 : x->doc > y->doc;
}

/* Every word pair gathered as "A" keys, in key order: segment by
 * segment, in each by first term (ord), then second term and document. */
static int
tpair_pass(MDB_cursor *c, struct msp_search_bulk *b, const uint32_t *ord,
    struct msp_err *e)
{
	unsigned char key[PAIR_KEY_MAX];
	char name[PAIR_MAX];
	uint32_t *rank = NULL, *off = NULL, *at = NULL, i, seg, last;
	struct pent *pe = NULL;
	size_t cap = 0, n, j;
	int rc = 0;

	if ((rank = malloc(((size_t)b->terms.n + 1) * sizeof(*rank))) == NULL ||
	    (off = calloc((size_t)b->terms.n + 1, sizeof(*off))) == NULL ||
	    (at = calloc((size_t)b->terms.n + 1, sizeof(*at))) == NULL) {
		rc = nomem(e);
		goto out;
	}
	for (i = 0; i < b->terms.n; i++)
		rank[ord[i]] = i;
	last = b->s.next > 0 ? (uint32_t)((b->s.next - 1) >> PAIR_SEG_BITS) : 0;
	for (seg = 0; seg <= last && rc == 0; seg++)
	for (i = 0; i < b->terms.n && rc == 0; i++) {
		const struct tpost *tp = &b->tp[ord[i]];
		const unsigned char *p, *end;
		size_t tn;
		const char *term;
		uint32_t doc = at[ord[i]];

		if (tp->pn == 0 || off[ord[i]] >= tp->pn)
			continue;
		p = tp->pp + off[ord[i]];
		end = tp->pp + tp->pn;
		term = msp_strset_get(&b->terms, ord[i], &tn);

		/* this term's pairs in the segment: the next in its list */
		for (n = 0; p < end; n++) {
			uint32_t delta, second, vn;
			size_t a = varint_get(p, end, &delta), bb = 0, cc = 0;
			if (a)
				bb = varint_get(p + a, end, &second);
			if (bb)
				cc = varint_get(p + a + bb, end, &vn);
			if (cc == 0 || second >= b->terms.n ||
			    vn > (size_t)(end - p - a - bb - cc)) {
				rc = msp_err_set(e, MSP_ESTORE, "search: bulk "
				    "word pairs corrupt");
				goto out;
			}
			if ((doc + delta) >> PAIR_SEG_BITS != seg)
				break;
			if (msp_grow(&pe, &cap, n + 1, sizeof(*pe), 1024) != 0) {
				rc = nomem(e);
				goto out;
			}
			doc += delta;
			pe[n].rank = rank[second];
			pe[n].doc = doc;
			pe[n].val = p + a + bb + cc;
			pe[n].vn = vn;
			p += a + bb + cc + vn;
		}
		off[ord[i]] = (uint32_t)(p - tp->pp);
		at[ord[i]] = doc;
		if (n > 1)
			qsort(pe, n, sizeof(*pe), pent_cmp);
		memcpy(name, term, tn);
		name[tn] = PAIR_SEP;
		for (j = 0; j < n && rc == 0; j++) {
			size_t sn, kn;
			const char *second = msp_strset_get(&b->terms,
			    ord[pe[j].rank], &sn);
			memcpy(name + tn + 1, second, sn);
			kn = pair_key(key, name, tn + 1 + sn, pe[j].doc);
			rc = append(c, key, kn, pe[j].val, pe[j].vn, e);
		}
	}
out:
	free(rank);
	free(off);
	free(at);
	free(pe);
	return rc;
}

/* Write everything gathered into t's (empty) index, in key order. */
static int
bulk_write(struct msp_store *st, MDB_txn *t, struct msp_search_bulk *b,
    struct msp_err *e)
{
	unsigned char key[2 + MSP_TERM_MAX + 4], ik[1 + MSP_ID_LEN], dv[4];
	uint32_t *ord = NULL, i;
	MDB_cursor *c;
	size_t k;
	int rc;

	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_SEARCH), &c)) !=
	    0)
		return msp_store_mdb_err(rc, "search", e);
	if ((ord = msp_strset_sorted(&b->terms)) == NULL) {
		rc = nomem(e);
		goto out;
	}
	if ((rc = tpair_pass(c, b, ord, e)) != 0)
		goto out;
	if ((rc = cd_pass(c, b, 0, e)) != 0 ||
	    (rc = cd_pass(c, b, 1, e)) != 0)
		goto out;
	if ((rc = tpost_pass(c, &b->terms, b->tp, ord, 'E', e)) != 0)
		goto out;
	if (b->unsorted)
		qsort(b->iv, b->ni, sizeof(*b->iv), ient_cmp);
	ik[0] = 'I';
	for (k = 0; k < b->ni && rc == 0; k++) {
		if (k > 0 && memcmp(b->iv[k - 1].id, b->iv[k].id,
		    MSP_ID_LEN) == 0) {
			rc = msp_err_set(e, MSP_ESTORE, "search: video %.*s "
			    "indexed twice", MSP_ID_LEN, b->iv[k].id);
			break;
		}
		memcpy(ik + 1, b->iv[k].id, MSP_ID_LEN);
		be32_put(dv, b->iv[k].doc);
		rc = append(c, ik, sizeof(ik), dv, 4, e);
	}
	if (rc != 0)
		goto out;
	if (rc == 0)
		rc = tpost_pass(c, &b->terms, b->tp, ord, 'P', e);
	b->s.format = SEARCH_FORMAT;
	if (rc == 0)
		rc = append(c, "S", 1, &b->s, sizeof(b->s), e);
	key[0] = 'T';
	for (i = 0; i < b->terms.n && rc == 0; i++) {
		size_t tn;
		const char *term = msp_strset_get(&b->terms, ord[i], &tn);
		memcpy(key + 1, term, tn);
		rc = append(c, key, tn + 1, &b->tp[ord[i]].df,
		    sizeof(uint32_t), e);
	}
out:
	free(ord);
	mdb_cursor_close(c);
	return rc;
}

/* ---- a batch of new documents --------------------------------------- */

/*
 * A bulk load indexes each batch of new videos in the batch's own
 * transaction, so that the index agrees with the records after every
 * commit. The documents take the next numbers in turn, so each term's new
 * postings go at the end of its run: the batch's keys are put in key
 * order through one cursor, each next to the one before, and memory holds
 * one batch only.
 */
struct bpost {
	const unsigned char *val;
	uint32_t vn;
	uint32_t doc;
	uint32_t term;  /* its number in the batch's terms */
};

struct bid {
	const char *id;
	uint32_t doc;
};

/* A document's records (its postings, or its word pairs) onto the
 * batch's *pv, each named by its number in ts. */
static int
bposts_add(struct bpost **pv, size_t *np, size_t *cap, struct msp_strset *ts,
    const struct buf *recs, uint32_t doc)
{
	const unsigned char *val;
	const char *name;
	size_t p = 0, nn;
	uint32_t vn;

	while (msp_search_rec_next(recs, &p, &name, &nn, &val, &vn)) {
		struct bpost *x;
		if (msp_grow(pv, cap, *np + 1, sizeof(**pv), 1 << 14) != 0)
			return MSP_ENOMEM;
		x = &(*pv)[*np];
		if ((x->term = msp_strset_add(ts, name, nn)) == UINT32_MAX)
			return MSP_ENOMEM;
		x->val = val;
		x->vn = vn;
		x->doc = doc;
		(*np)++;
	}
	return 0;
}

static int
bid_cmp(const void *a, const void *b)
{
	return memcmp(((const struct bid *)a)->id,
	    ((const struct bid *)b)->id, MSP_ID_LEN);
}

static int
cursor_put(MDB_cursor *c, const void *k, size_t kn, const void *v,
    size_t vn, struct msp_err *e)
{
	MDB_val key = { kn, (void *)k }, val = { vn, (void *)v };

	return msp_store_mdb_err(mdb_cursor_put(c, &key, &val, 0), "search",
	    e);
}

/* The dictionary entry of term gains n documents (and its variants, when
 * it is new). */
static int
df_add(struct msp_store *st, MDB_txn *t, MDB_cursor *c, const char *term,
    size_t tn, uint32_t n, struct msp_err *e)
{
	unsigned char key[1 + MSP_TERM_MAX];
	MDB_val k = { tn + 1, key }, v;
	uint32_t df = 0;
	int rc;

	key[0] = 'T';
	memcpy(key + 1, term, tn);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	if (rc == 0 && v.mv_size == sizeof(df))
		memcpy(&df, v.mv_data, sizeof(df));
	else if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc != 0)
		return msp_store_mdb_err(rc, "search", e);
	if (df == 0 && (rc = variants_change(st, t, term, tn, 1, e)) != 0)
		return rc;
	df += n;
	return cursor_put(c, key, tn + 1, &df, sizeof(df), e);
}

/* The batch's postings pv[0..np) in key order (by term, then document)
 * into out: a counting sort on the rank of their term, the batch's few
 * distinct terms sorted themselves. cnt gets each rank's first index, and
 * one past the last. */
static int
bposts_sort(const struct msp_strset *ts, const struct bpost *pv, size_t np,
    struct bpost *out, uint32_t **cntp)
{
	uint32_t *ord, *rank, *cnt, i;
	size_t k;

	*cntp = NULL;
	if ((ord = msp_strset_sorted(ts)) == NULL)
		return -1;
	rank = calloc((size_t)ts->n + 1, sizeof(*rank));
	cnt = calloc((size_t)ts->n + 2, sizeof(*cnt));
	if (rank == NULL || cnt == NULL) {
		free(ord);
		free(rank);
		free(cnt);
		return -1;
	}
	for (i = 0; i < ts->n; i++)
		rank[ord[i]] = i;
	for (k = 0; k < np; k++)
		cnt[rank[pv[k].term] + 1]++;
	for (i = 0; i < ts->n; i++)
		cnt[i + 1] += cnt[i];
	for (k = 0; k < np; k++)
		out[cnt[rank[pv[k].term]]++] = pv[k];
	/* cnt[r] now ends rank r: shift back to starts */
	memmove(cnt + 1, cnt, (size_t)ts->n * sizeof(*cnt));
	cnt[0] = 0;
	free(ord);
	free(rank);
	*cntp = cnt;
	return 0;
}

/* The batch's sorted postings as "P" keys (which 'P'), or those that
 * start a title or name as "E" keys, term by term in key order. */
static int
bposts_put(MDB_cursor *c, const struct msp_strset *ts,
    const struct bpost *sorted, const uint32_t *cnt, int which,
    struct msp_err *e)
{
	unsigned char key[2 + MSP_TERM_MAX + 4];
	uint32_t r;
	size_t i;
	int rc = 0;

	key[0] = (unsigned char)which;
	for (r = 0; r < ts->n && rc == 0; r++) {
		size_t tn;
		const char *term = msp_strset_get(ts, sorted[cnt[r]].term, &tn);

		memcpy(key + 1, term, tn);
		key[1 + tn] = '\0';
		for (i = cnt[r]; i < cnt[r + 1] && rc == 0; i++) {
			if (which == 'E' &&
			    !msp_search_post_start(sorted[i].val, sorted[i].vn))
				continue;
			be32_put(key + 2 + tn, sorted[i].doc);
			rc = cursor_put(c, key, tn + 6, sorted[i].val,
			    sorted[i].vn, e);
		}
	}
	return rc;
}

int
msp_search_add_docs(struct msp_store *st, MDB_txn *t,
    struct msp_search_doc *const *docs, size_t n, struct msp_err *e)
{
	unsigned char dk[5], ik[1 + MSP_ID_LEN];
	struct msp_strset ts = { 0 }, pts = { 0 };
	struct bpost *pv = NULL, *sorted = NULL, *ppv = NULL, *psorted = NULL;
	struct bid *iv = NULL;
	MDB_cursor *c = NULL;
	struct stats s;
	uint32_t *cnt = NULL, *pcnt = NULL, r, seg;
	size_t i, j, np = 0, cap = 0, npp = 0, capp = 0, nd = 0, f;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = msp_search_stats_get(st, t, &s, e)) != 0)
		return rc;
	if ((iv = calloc(n, sizeof(*iv))) == NULL)
		return nomem(e);
	for (i = 0; i < n; i++) {
		const struct msp_search_doc *d = docs[i];

		if (d == NULL)
			continue;
		if (s.next >= UINT32_MAX) {
			rc = msp_err_set(e, MSP_ESTORE, "search: document "
			    "numbers exhausted; run msp-search reindex");
			goto out;
		}
		iv[nd].id = d->id;
		iv[nd].doc = (uint32_t)s.next++;
		s.docs++;
		for (f = 0; f < MSP_SF_COUNT; f++)
			s.len[f] += d->len[f];
		if (bposts_add(&pv, &np, &cap, &ts, &d->post, iv[nd].doc) !=
		    0 || bposts_add(&ppv, &npp, &capp, &pts, &d->pairs,
		    iv[nd].doc) != 0) {
			rc = nomem(e);
			goto out;
		}
		nd++;
	}
	if (nd == 0)
		goto out;
	if (np > 0 && ((sorted = malloc(np * sizeof(*sorted))) == NULL ||
	    bposts_sort(&ts, pv, np, sorted, &cnt) != 0)) {
		rc = nomem(e);
		goto out;
	}
	if (npp > 0 && ((psorted = malloc(npp * sizeof(*psorted))) == NULL ||
	    bposts_sort(&pts, ppv, npp, psorted, &pcnt) != 0)) {
		rc = nomem(e);
		goto out;
	}
	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_SEARCH), &c)) !=
	    0) {
		rc = msp_store_mdb_err(rc, "search", e);
		c = NULL;
		goto out;
	}
	/* "A": the word pairs, segment by segment, each in key order */
	for (seg = iv[0].doc >> PAIR_SEG_BITS; npp > 0 && rc == 0 &&
	    seg <= iv[nd - 1].doc >> PAIR_SEG_BITS; seg++)
		for (r = 0; r < pts.n && rc == 0; r++) {
			size_t tn;
			const char *name = msp_strset_get(&pts,
			    psorted[pcnt[r]].term, &tn);

			for (i = pcnt[r]; i < pcnt[r + 1] && rc == 0; i++) {
				unsigned char ak[PAIR_KEY_MAX];
				size_t an;
				if (psorted[i].doc >> PAIR_SEG_BITS != seg)
					continue;
				an = pair_key(ak, name, tn, psorted[i].doc);
				rc = cursor_put(c, ak, an, psorted[i].val,
				    psorted[i].vn, e);
			}
		}
	if (rc != 0)
		goto out;
	/* "C" and "D": the documents in number order */
	for (j = 0; j < 2 && rc == 0; j++) {
		dk[0] = j == 0 ? 'C' : 'D';
		for (i = 0, nd = 0; i < n && rc == 0; i++) {
			const struct msp_search_doc *d = docs[i];
			if (d == NULL)
				continue;
			be32_put(dk + 1, iv[nd++].doc);
			rc = j == 0 ? cursor_put(c, dk, 5, d->c.p, d->c.n, e) :
			    cursor_put(c, dk, 5, d->d.p, d->d.n, e);
		}
	}
	if (rc != 0) /* a full map among them: the caller grows it */
		goto out;
	/* "E": the postings that start a title or name, in key order */
	if ((rc = bposts_put(c, &ts, sorted, cnt, 'E', e)) != 0)
		goto out;
	qsort(iv, nd, sizeof(*iv), bid_cmp);
	ik[0] = 'I';
	for (i = 0; i < nd && rc == 0; i++) {
		MDB_val k = { sizeof(ik), ik }, v = { 4, dk + 1 };
		memcpy(ik + 1, iv[i].id, MSP_ID_LEN);
		be32_put(dk + 1, iv[i].doc);
		rc = mdb_cursor_put(c, &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST)
			rc = msp_err_set(e, MSP_ESTORE, "search: video %.*s "
			    "indexed twice", MSP_ID_LEN, iv[i].id);
		else
			rc = msp_store_mdb_err(rc, "search", e);
	}
	if (rc != 0)
		goto out;
	/* the postings, each term's at the end of its run */
	rc = bposts_put(c, &ts, sorted, cnt, 'P', e);
	if (rc != 0 || (rc = stats_put(st, t, &s, e)) != 0)
		goto out;
	for (r = 0; r < ts.n && rc == 0; r++) {
		size_t tn;
		const char *term = msp_strset_get(&ts, sorted[cnt[r]].term,
		    &tn);

		rc = df_add(st, t, c, term, tn, cnt[r + 1] - cnt[r], e);
	}
out:
	if (c != NULL)
		mdb_cursor_close(c);
	msp_strset_free(&ts);
	msp_strset_free(&pts);
	free(cnt);
	free(sorted);
	free(pv);
	free(pcnt);
	free(psorted);
	free(ppv);
	free(iv);
	return rc;
}

int
msp_search_doc_parse(const unsigned char *p, size_t n, struct docrec *d)
{
	const unsigned char *end = p + n, *q;
	size_t hdr = 2 + sizeof(d->len) + MSP_ID_LEN;
	unsigned i;

	if (n < hdr + 1 || end[-1] != '\0')
		return -1;
	d->flags = p[0];
	d->ngenres = p[1];
	memcpy(d->len, p + 2, sizeof(d->len));
	memcpy(d->id, p + 2 + sizeof(d->len), MSP_ID_LEN);
	d->id[MSP_ID_LEN] = '\0';
	q = p + hdr;
	d->language = (const char *)q;
	q += strlen((const char *)q) + 1;
	for (i = 0; i < d->ngenres; i++) {
		if (q >= end)
			return -1;
		d->genres[i] = (const char *)q;
		q += strlen((const char *)q) + 1;
	}
	if (q > end)
		return -1;
	d->terms = (const char *)q;
	d->terms_end = (const char *)end;
	return 0;
}

/* Remove the video's document when it has one. */
static int
doc_remove(struct msp_store *st, MDB_txn *t, const char *id,
    struct msp_err *e)
{
	unsigned char ik[1 + MSP_ID_LEN], dk[5], key[2 + PAIR_MAX + 4];
	unsigned char *copy = NULL;
	const unsigned char *pval;
	struct buf post = { 0 }, pairs = { 0 };
	struct docrec d;
	struct stats s;
	const char *term;
	uint32_t pvn;
	MDB_val v;
	size_t f, p, pn;
	int rc;

	if (id == NULL || strlen(id) != MSP_ID_LEN)
		return 0;
	ik[0] = 'I';
	memcpy(ik + 1, id, MSP_ID_LEN);
	rc = msp_db_get(st, t, MSP_DB_SEARCH, ik, sizeof(ik), &v, e);
	if (rc == MSP_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.mv_size != 4)
		return msp_err_set(e, MSP_ESTORE, "search: corrupt entry for "
		    "video %s; run msp-search reindex", id);
	dk[0] = 'D';
	memcpy(dk + 1, v.mv_data, 4);
	rc = msp_db_get(st, t, MSP_DB_SEARCH, dk, 5, &v, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	if (rc == 0) {
		if ((copy = malloc(v.mv_size)) == NULL)
			return nomem(e);
		memcpy(copy, v.mv_data, v.mv_size);
		if (msp_search_doc_parse(copy, v.mv_size, &d) != 0) {
			rc = msp_err_set(e, MSP_ESTORE, "search: corrupt "
			    "document of video %s; run msp-search reindex", id);
			goto out;
		}
		/* each term's posting (kept for the word pairs, whose
		 * positions it holds), start entry and count */
		key[0] = 'P';
		for (term = d.terms; term < d.terms_end;
		    term += strlen(term) + 1) {
			size_t tn = strlen(term);
			MDB_val pv;
			if (tn == 0 || tn > MSP_TERM_MAX)
				continue;
			memcpy(key + 1, term, tn);
			key[1 + tn] = '\0';
			memcpy(key + 2 + tn, dk + 1, 4);
			rc = msp_db_get(st, t, MSP_DB_SEARCH, key, tn + 6, &pv, e);
			if (rc == 0 && msp_search_rec_add(&post, term, tn,
			    pv.mv_data, pv.mv_size) != 0) {
				rc = nomem(e);
				goto out;
			}
			if (rc == 0)
				rc = msp_db_del(st, t, MSP_DB_SEARCH, key, tn + 6,
				    e);
			if (rc != 0 && rc != MSP_ENOTFOUND)
				goto out;
			key[0] = 'E';
			rc = msp_db_del(st, t, MSP_DB_SEARCH, key, tn + 6, e);
			key[0] = 'P';
			if (rc != 0 && rc != MSP_ENOTFOUND)
				goto out;
			if ((rc = df_change(st, t, term, tn, -1, 0, e)) != 0)
				goto out;
		}
		/* the word pairs, from those postings' positions */
		if (msp_search_pairs(&post, &pairs) != 0) {
			rc = nomem(e);
			goto out;
		}
		for (p = 0; msp_search_rec_next(&pairs, &p, &term, &pn, &pval,
		    &pvn);) {
			unsigned char ak[PAIR_KEY_MAX];
			size_t an = pair_key(ak, term, pn, be32_get(dk + 1));
			rc = msp_db_del(st, t, MSP_DB_SEARCH, ak, an, e);
			if (rc != 0 && rc != MSP_ENOTFOUND)
				goto out;
		}
		if ((rc = msp_search_stats_get(st, t, &s, e)) != 0)
			goto out;
		if (s.docs > 0)
			s.docs--;
		for (f = 0; f < MSP_SF_COUNT; f++)
			s.len[f] -= s.len[f] >= d.len[f] ? d.len[f] : s.len[f];
		if ((rc = stats_put(st, t, &s, e)) != 0)
			goto out;
		rc = msp_db_del(st, t, MSP_DB_SEARCH, dk, 5, e);
		if (rc != 0 && rc != MSP_ENOTFOUND)
			goto out;
		dk[0] = 'C';
		rc = msp_db_del(st, t, MSP_DB_SEARCH, dk, 5, e);
		if (rc != 0 && rc != MSP_ENOTFOUND)
			goto out;
	}
	rc = msp_db_del(st, t, MSP_DB_SEARCH, ik, sizeof(ik), e);
	if (rc == MSP_ENOTFOUND)
		rc = 0;
out:
	free(copy);
	free(post.p);
	free(pairs.p);
	return rc;
}

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* 1 when the two records give the same document. */
static int
same_doc(json_object *a, json_object *b)
{
	static const char *const f[] = { "id", "title", "name", "about",
	    "language", "videoType", NULL };
	json_object *ga = jarr(a, "genres"), *gb = jarr(b, "genres");
	size_t i, n;

	for (i = 0; f[i] != NULL; i++)
		if (!same_str(jstr(a, f[i]), jstr(b, f[i])))
			return 0;
	if (jbool(a, "isPremium") != jbool(b, "isPremium"))
		return 0;
	if (!json_object_equal(json_object_object_get(a, "captions"),
	    json_object_object_get(b, "captions")))
		return 0;
	if ((ga == NULL) != (gb == NULL))
		return 0;
	if (ga == NULL)
		return 1;
	n = json_object_array_length(ga);
	if (n != json_object_array_length(gb))
		return 0;
	for (i = 0; i < n; i++)
		if (!same_str(json_object_get_string(
		    json_object_array_get_idx(ga, i)),
		    json_object_get_string(json_object_array_get_idx(gb, i))))
			return 0;
	return 1;
}

int
msp_search_observe(struct msp_store *st, MDB_txn *t, json_object *before,
    json_object *after, struct msp_err *e)
{
	int vb = visible(before), va = visible(after), rc;
	MDB_val sv;

	if (msp_store_bulk(st) && before == NULL)
		return 0; /* a bulk load indexes its new videos by batch */
	/* an index made by an older msp is made again, once */
	if (msp_db_get(st, t, MSP_DB_SEARCH, "S", 1, &sv, NULL) == 0 &&
	    msp_search_stats_old(&sv) &&
	    (rc = msp_search_reindex(st, t, NULL, e)) != 0)
		return rc;

	if (!vb && !va && before != NULL)
		return 0;
	if (vb && va && same_doc(before, after))
		return 0;
	if (before != NULL &&
	    (rc = doc_remove(st, t, jstr(before, "id"), e)) != 0)
		return rc;
	if (after != NULL && (before == NULL || !same_str(jstr(before, "id"),
	    jstr(after, "id"))) &&
	    (rc = doc_remove(st, t, jstr(after, "id"), e)) != 0)
		return rc;
	if (va)
		return doc_add(st, t, after, e);
	return 0;
}

struct vkeys {
	unsigned char *buf;
	size_t n, cap;
	size_t *off;  /* start of each key; its length is at buf[off] */
	size_t nk, capk;
};

/* Sorting the keys: their first 8 bytes after "V" as a number decide
 * most comparisons without touching the key buffer. */
struct vsort {
	uint64_t pfx;
	size_t off;
};

static const unsigned char *vk_buf; /* qsort has no argument */

static int
vk_cmp(const void *a, const void *b)
{
	const struct vsort *p = a, *q = b;
	const unsigned char *x, *y;
	size_t n;
	int c;

	if (p->pfx != q->pfx)
		return p->pfx < q->pfx ? -1 : 1;
	x = vk_buf + p->off;
	y = vk_buf + q->off;
	n = x[0] < y[0] ? x[0] : y[0];
	c = memcmp(x + 1, y + 1, n);
	return c != 0 ? c : (int)x[0] - (int)y[0];
}

/* Every dictionary term's variant keys, sorted, appended at the end of
 * the database ("V" sorts after every other key). */
static int
reindex_variants(struct msp_store *st, MDB_txn *t, struct msp_err *e)
{
	unsigned char key[2 + 2 * MSP_TERM_MAX];
	struct vkeys vk = { 0 };
	struct vsort *vs = NULL;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	size_t i;
	int rc;

	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_SEARCH), &c)) !=
	    0)
		return msp_store_mdb_err(rc, "search", e);
	k.mv_size = 1;
	k.mv_data = "T";
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    ((const char *)k.mv_data)[0] == 'T';
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		char term[MSP_TERM_MAX + 1];
		size_t tn = k.mv_size - 1;
		struct variants vs;
		int dels;

		if (tn > MSP_TERM_MAX)
			continue;
		memcpy(term, (const char *)k.mv_data + 1, tn);
		term[tn] = '\0';
		if ((dels = msp_search_term_dels(term, tn)) == 0)
			continue;
		if (msp_search_variants(term, tn, dels, &vs) != 0)
			goto oom;
		for (i = 0; i < vs.n; i++) {
			size_t kn = msp_search_vkey(key, vs.v[i], term, tn);
			if (vk.n + kn + 1 > vk.cap) {
				size_t nc = vk.cap ? vk.cap * 2 : 1 << 20;
				unsigned char *nb = realloc(vk.buf, nc);
				if (nb == NULL) {
					free(vs.v);
					goto oom;
				}
				vk.buf = nb;
				vk.cap = nc;
			}
			if (vk.nk == vk.capk) {
				size_t nc = vk.capk ? vk.capk * 2 : 1 << 16;
				size_t *no = realloc(vk.off, nc * sizeof(*no));
				if (no == NULL) {
					free(vs.v);
					goto oom;
				}
				vk.off = no;
				vk.capk = nc;
			}
			vk.off[vk.nk++] = vk.n;
			vk.buf[vk.n] = (unsigned char)kn;
			memcpy(vk.buf + vk.n + 1, key, kn);
			vk.n += kn + 1;
		}
		free(vs.v);
	}
	mdb_cursor_close(c);
	c = NULL;
	if (rc != 0 && rc != MDB_NOTFOUND) {
		rc = msp_store_mdb_err(rc, "search", e);
		goto out;
	}
	if ((vs = malloc((vk.nk + 1) * sizeof(*vs))) == NULL)
		goto oom;
	for (i = 0; i < vk.nk; i++) {
		const unsigned char *x = vk.buf + vk.off[i];
		size_t j;
		vs[i].pfx = 0;
		for (j = 0; j < 8; j++)
			vs[i].pfx = vs[i].pfx << 8 |
			    (j + 1 < x[0] ? x[2 + j] : 0);
		vs[i].off = vk.off[i];
	}
	vk_buf = vk.buf;
	if (vk.nk > 1)
		qsort(vs, vk.nk, sizeof(*vs), vk_cmp);
	for (i = 0, rc = 0; i < vk.nk && rc == 0; i++)
		rc = msp_db_put(st, t, MSP_DB_SEARCH, vk.buf + vs[i].off + 1,
		    vk.buf[vs[i].off], "", 0, MDB_APPEND, e);
	goto out;
oom:
	rc = nomem(e);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	free(vk.buf);
	free(vk.off);
	free(vs);
	return rc;
}

int
msp_search_bulk_finish(struct msp_store *st, MDB_txn *t,
    struct msp_search_bulk *b, struct msp_err *e)
{
	int rc;

	if (b->failed) {
		*e = b->err;
		return e->code;
	}
	if ((rc = msp_db_clear(st, t, MSP_DB_SEARCH, e)) != 0 ||
	    (rc = bulk_write(st, t, b, e)) != 0)
		return rc;
	return reindex_variants(st, t, e);
}

long
msp_search_bulk_count(const struct msp_search_bulk *b)
{
	return (long)b->s.docs;
}

int
msp_search_reindex(struct msp_store *st, MDB_txn *t, long *count,
    struct msp_err *e)
{
	struct msp_search_bulk *bk = NULL;
	MDB_cursor *c = NULL;
	json_tokener *tok = NULL;
	MDB_stat vs;
	MDB_val k, v;
	size_t room, seen = 0;
	int rc;

	if (count != NULL)
		*count = 0;
	if ((rc = msp_search_bulk_new(st, &bk, e)) != 0)
		return rc;
	if ((tok = json_tokener_new()) == NULL) {
		rc = nomem(e);
		goto out;
	}
	rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VIDEOS), &c);
	if (rc != 0) {
		rc = msp_store_mdb_err(rc, "videos", e);
		goto out;
	}
	if ((rc = mdb_stat(t, msp_store_dbi(st, MSP_DB_VIDEOS), &vs)) != 0) {
		rc = msp_store_mdb_err(rc, "videos", e);
		goto out;
	}
	room = msp_store_room(st);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct msp_search_doc *d;
		json_object *o;
		int r2;

		/* a map too small for the index: say so early, with the
		 * size it needs, rather than after gathering it all */
		if (++seen % 16384 == 0 && vs.ms_entries > seen) {
			uint64_t need = bk->bytes / seen * vs.ms_entries * 5 / 4;
			if (need > room) {
				msp_store_want(st, (size_t)need);
				rc = msp_err_set(e, MSP_EMAPFULL, "search: "
				    "store map full");
				goto out;
			}
		}
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, v.mv_data, (int)v.mv_size);
		if (o == NULL) {
			rc = msp_err_set(e, MSP_ESTORE, "videos: corrupt record "
			    "'%.*s'", (int)(k.mv_size > 64 ? 64 : k.mv_size),
			    (const char *)k.mv_data);
			goto out;
		}
		r2 = msp_search_doc_prep(o, &d, e);
		json_object_put(o);
		if (r2 == 0 && d != NULL)
			r2 = msp_search_bulk_add(bk, d, e);
		msp_search_doc_free(d);
		if (r2 != 0) {
			rc = r2;
			goto out;
		}
	}
	if (rc != MDB_NOTFOUND) {
		rc = msp_store_mdb_err(rc, "videos", e);
		goto out;
	}
	mdb_cursor_close(c);
	c = NULL;
	if ((rc = msp_search_bulk_finish(st, t, bk, e)) != 0)
		goto out;
	if (count != NULL)
		*count = msp_search_bulk_count(bk);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	json_tokener_free(tok);
	msp_search_bulk_free(bk);
	return rc;
}
