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
 *   "I" <video id>             <doc>
 *   "D" <doc>                  the document: flags, field lengths, video
 *                              id, language, genres and its distinct terms
 *   "C" <doc>                  title (or name) 0x00 about 0x00: the text
 *                              hits show, without parsing the record
 *   "T" <term>                 uint32 document frequency: the dictionary,
 *                              in term order for prefix and typo walks
 *   "P" <term> 0x00 <doc>      a posting: flags byte, then for each field
 *                              holding the term: field byte, varint field
 *                              length, varint tf, tf varint position deltas
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
#include "text.h"
#include "util.h"

const char *const msp_search_field_names[MSP_SF_COUNT] = {
	"title", "name", "about", "genres", "language"
};
const double msp_search_field_weights[MSP_SF_COUNT] = {
	4.0, 4.0, 1.0, 2.0, 1.0
};

#define BM25_K1 1.2
#define BM25_B 0.75
#define PEN_PREFIX 0.8   /* a completion of the last word */
#define PEN_EDIT 0.5     /* per edit: 0.5 for one, 0.33 for two */

#define F_LONG 0x1
#define F_PREMIUM 0x2

struct stats {
	uint64_t docs;
	uint64_t next;
	uint64_t len[MSP_SF_COUNT];
};

/* ---- small helpers -------------------------------------------------- */

static void
be32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static size_t
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
static size_t
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

static const char *
jstr(json_object *o, const char *field)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, field, &x) ||
	    !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

static int
jbool(json_object *o, const char *field)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, field, &x))
		return 0;
	return json_object_get_boolean(x);
}

static json_object *
jarr(json_object *o, const char *field)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, field, &x) ||
	    !json_object_is_type(x, json_type_array))
		return NULL;
	return x;
}

static int
visible(json_object *v)
{
	const char *s = jstr(v, "status");

	return v != NULL && s != NULL && strcmp(s, "ready") == 0 &&
	    !jbool(v, "isDeleted");
}

static unsigned
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

static int
nomem(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

static int
stats_get(struct msp_store *st, MDB_txn *t, struct stats *s,
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
	if (v.mv_size != sizeof(*s))
		return msp_err_set(e, MSP_ESTORE, "search: corrupt corpus "
		    "statistics; run msp-search reindex");
	memcpy(s, v.mv_data, sizeof(*s));
	return 0;
}

static int
stats_put(struct msp_store *st, MDB_txn *t, const struct stats *s,
    struct msp_err *e)
{
	return msp_db_put(st, t, MSP_DB_SEARCH, "S", 1, s, sizeof(*s), 0, e);
}

/* ---- a document's words --------------------------------------------- */

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
static int
doc_words(json_object *v, struct toks *tk, struct msp_err *e)
{
	json_object *g = jarr(v, "genres");
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

/* ---- adding and removing documents ---------------------------------- */

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static int
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

static int
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

/* The length in bytes of the UTF-8 sequence at p. */
static size_t
cp_len(const char *p)
{
	unsigned char b = (unsigned char)*p;

	return b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
}

/* Deletion variants of a term: the distinct strings left by deleting
 * one (dels & 1) or two (dels & 2) of its characters. */
struct variants {
	char (*v)[MSP_TERM_MAX + 1];
	size_t n;
};

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
variants(const char *term, size_t tn, int dels, struct variants *out)
{
	size_t wb[MSP_TERM_CPS + 1], m = 0, i, j, n = 0, cap;

	out->v = NULL;
	out->n = 0;
	for (wb[0] = 0; wb[m] < tn && m < MSP_TERM_CPS; m++)
		wb[m + 1] = wb[m] + cp_len(term + wb[m]);
	if (wb[m] > tn || m < 3)
		return 0;
	cap = ((dels & 1) ? m : 0) + ((dels & 2) ? m * (m - 1) / 2 : 0);
	if (cap == 0)
		return 0;
	if ((out->v = malloc(cap * sizeof(*out->v))) == NULL)
		return MSP_ENOMEM;
	for (i = 0; i < m; i++) {
		char *d;
		size_t l;
		if (dels & 1) {
			d = out->v[n++];
			memcpy(d, term, wb[i]);
			l = wb[i];
			memcpy(d + l, term + wb[i + 1], tn - wb[i + 1]);
			d[l + tn - wb[i + 1]] = '\0';
		}
		if (!(dels & 2))
			continue;
		for (j = i + 1; j < m; j++) {
			d = out->v[n++];
			memcpy(d, term, wb[i]);
			l = wb[i];
			memcpy(d + l, term + wb[i + 1], wb[j] - wb[i + 1]);
			l += wb[j] - wb[i + 1];
			memcpy(d + l, term + wb[j + 1], tn - wb[j + 1]);
			d[l + tn - wb[j + 1]] = '\0';
		}
	}
	/* sort pointers, not the strings, then keep each string once */
	{
		char (*u)[MSP_TERM_MAX + 1];
		const char **ptr = malloc(n * sizeof(*ptr));

		if (ptr == NULL || (u = malloc(n * sizeof(*u))) == NULL) {
			free(ptr);
			free(out->v);
			out->v = NULL;
			return MSP_ENOMEM;
		}
		for (i = 0; i < n; i++)
			ptr[i] = out->v[i];
		qsort(ptr, n, sizeof(*ptr), str_cmp);
		for (i = 0, j = 0; i < n; i++)
			if (j == 0 || strcmp(u[j - 1], ptr[i]) != 0)
				memcpy(u[j++], ptr[i], strlen(ptr[i]) + 1);
		free(ptr);
		free(out->v);
		out->v = u;
		out->n = j;
	}
	return 0;
}

/* Which deletions a dictionary term keeps "V" keys for: one for terms of
 * 8+ characters, two for 9+ (what a query word of 9+ characters, allowed
 * two edits, needs to meet them; see expand_typos2). */
static int
term_dels(const char *term, size_t tn)
{
	size_t m = msp_utf8_len(term, tn);

	return m >= 9 ? 3 : m >= 8 ? 1 : 0;
}

static size_t
vkey(unsigned char *key, const char *var, const char *term, size_t tn)
{
	size_t vn = strlen(var);

	key[0] = 'V';
	memcpy(key + 1, var, vn);
	key[1 + vn] = '\0';
	memcpy(key + 2 + vn, term, tn);
	return 2 + vn + tn;
}

static int
variants_change(struct msp_store *st, MDB_txn *t, const char *term,
    size_t tn, int add, struct msp_err *e)
{
	unsigned char key[2 + 2 * MSP_TERM_MAX];
	struct variants vs;
	size_t i;
	int rc = 0, dels = term_dels(term, tn);

	if (dels == 0)
		return 0;
	if (variants(term, tn, dels, &vs) != 0)
		return nomem(e);
	for (i = 0; i < vs.n && rc == 0; i++) {
		size_t kn = vkey(key, vs.v[i], term, tn);
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
static int
posting_encode(const struct toks *tk, size_t i, size_t *next,
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

/* The "C" value: title (or name), then about, each NUL-terminated. */
static int
content(json_object *v, struct buf *b)
{
	const char *title = jstr(v, "title"), *about = jstr(v, "about");

	if (title == NULL && (title = jstr(v, "name")) == NULL)
		title = "";
	if (about == NULL)
		about = "";
	b->n = 0;
	if (buf_add(b, title, strlen(title) + 1) != 0 ||
	    buf_add(b, about, strlen(about) + 1) != 0)
		return MSP_ENOMEM;
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
};

void
msp_search_doc_free(struct msp_search_doc *d)
{
	if (d == NULL)
		return;
	free(d->d.p);
	free(d->c.p);
	free(d->post.p);
	free(d);
}

int
msp_search_doc_prep(json_object *v, struct msp_search_doc **dp,
    struct msp_err *e)
{
	const char *id = jstr(v, "id"), *lang = jstr(v, "language");
	json_object *g = jarr(v, "genres");
	unsigned char flags = (unsigned char)doc_flags(v), ng = 0, vl[5];
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
	if ((rc = doc_words(v, &tk, e)) != 0) {
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
		    (rc = posting_encode(&tk, i, &j, flags, &post)) != 0)
			break;
		rc = buf_add(&d->post, &tn, 1);
		rc = rc ? rc : buf_add(&d->post, term, tn);
		rc = rc ? rc : buf_add(&d->post, vl,
		    varint_put(vl, (uint32_t)post.n));
		rc = rc ? rc : buf_add(&d->post, post.p, post.n);
	}
	if (rc == 0)
		rc = content(v, &d->c);
	free(tk.v);
	free(post.p);
	if (rc != 0) {
		msp_search_doc_free(d);
		return nomem(e);
	}
	*dp = d;
	return 0;
}

/* The next term of a prepared document's postings at *p: its term (not
 * NUL-terminated) and value; 0 at the end. */
static int
doc_next(const struct msp_search_doc *d, size_t *p, const char **term,
    size_t *tn, const unsigned char **val, uint32_t *vn)
{
	const unsigned char *b = d->post.p, *end = b + d->post.n;
	size_t k;

	if (*p >= d->post.n)
		return 0;
	*tn = b[*p];
	*term = (const char *)b + *p + 1;
	k = varint_get(b + *p + 1 + *tn, end, vn);
	*val = b + *p + 1 + *tn + k;
	*p += 1 + *tn + k + *vn;
	return 1;
}

/* Add a video's document in t, one put at a time (the incremental path). */
static int
doc_add(struct msp_store *st, MDB_txn *t, json_object *v, struct msp_err *e)
{
	unsigned char key[2 + MSP_TERM_MAX + 4], dk[5], ik[1 + MSP_ID_LEN];
	struct msp_search_doc *d;
	const unsigned char *val;
	const char *term;
	struct stats s;
	uint32_t docnum, vn;
	size_t p = 0, tn, f;
	int rc;

	if ((rc = msp_search_doc_prep(v, &d, e)) != 0 || d == NULL)
		return rc;
	if ((rc = stats_get(st, t, &s, e)) != 0)
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
	struct msp_err err;    /* the first failure of an add */
	int failed;
};

/* The term's number, added when new; UINT32_MAX when out of memory. */
static uint32_t
bulk_term(struct msp_search_bulk *b, const char *term, size_t tn)
{
	uint32_t k = msp_strset_add(&b->terms, term, tn);

	if (k == UINT32_MAX || k < b->captp)
		return k;
	if (msp_grow(&b->tp, &b->captp, (size_t)k + 1, sizeof(*b->tp),
	    1 << 15) != 0)
		return UINT32_MAX;
	memset(&b->tp[k], 0, (b->captp - k) * sizeof(*b->tp));
	return k;
}

static int
tpost_add(struct tpost *tp, uint32_t doc, const unsigned char *val,
    uint32_t vn)
{
	size_t need = (size_t)tp->n + 10 + vn;

	if (need > tp->cap) {
		size_t nc = tp->cap ? tp->cap : 16;
		unsigned char *np;
		while (nc < need)
			nc *= 2;
		if (nc > UINT32_MAX || (np = realloc(tp->p, nc)) == NULL)
			return MSP_ENOMEM;
		tp->p = np;
		tp->cap = (uint32_t)nc;
	}
	tp->n += (uint32_t)varint_put(tp->p + tp->n, doc - tp->last);
	tp->n += (uint32_t)varint_put(tp->p + tp->n, vn);
	memcpy(tp->p + tp->n, val, vn);
	tp->n += vn;
	tp->last = doc;
	tp->df++;
	return 0;
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
	for (i = 0; i < b->terms.n; i++)
		free(b->tp[i].p);
	free(b->tp);
	msp_strset_free(&b->terms);
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
	size_t p = 0, tn, f;

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
	while (doc_next(d, &p, &term, &tn, &val, &vn)) {
		uint32_t k = bulk_term(b, term, tn);
		if (k == UINT32_MAX || tpost_add(&b->tp[k], doc, val, vn) != 0)
			goto oom;
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
	if ((rc = cd_pass(c, b, 0, e)) != 0 ||
	    (rc = cd_pass(c, b, 1, e)) != 0)
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
	if ((ord = msp_strset_sorted(&b->terms)) == NULL) {
		rc = nomem(e);
		goto out;
	}
	key[0] = 'P';
	for (i = 0; i < b->terms.n && rc == 0; i++) {
		const struct tpost *tp = &b->tp[ord[i]];
		const unsigned char *p = tp->p, *end = p + tp->n;
		size_t tn;
		const char *term = msp_strset_get(&b->terms, ord[i], &tn);
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
			rc = append(c, key, tn + 6, p + na + nv, vn, e);
			p += na + nv + vn;
		}
	}
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

int
msp_search_add_docs(struct msp_store *st, MDB_txn *t,
    struct msp_search_doc *const *docs, size_t n, struct msp_err *e)
{
	unsigned char key[2 + MSP_TERM_MAX + 4], dk[5], ik[1 + MSP_ID_LEN];
	struct msp_strset ts = { 0 };
	struct bpost *pv = NULL, *sorted = NULL;
	struct bid *iv = NULL;
	MDB_cursor *c = NULL;
	struct stats s;
	uint32_t *cnt = NULL, r;
	size_t i, j, np = 0, cap = 0, nd = 0, f;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = stats_get(st, t, &s, e)) != 0)
		return rc;
	if ((iv = calloc(n, sizeof(*iv))) == NULL)
		return nomem(e);
	for (i = 0; i < n; i++) {
		const struct msp_search_doc *d = docs[i];
		const unsigned char *val;
		const char *term;
		size_t p = 0, tn;
		uint32_t vn;

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
		while (doc_next(d, &p, &term, &tn, &val, &vn)) {
			if (msp_grow(&pv, &cap, np + 1, sizeof(*pv), 1 << 14) !=
			    0 || (pv[np].term = msp_strset_add(&ts, term, tn)) ==
			    UINT32_MAX) {
				rc = nomem(e);
				goto out;
			}
			pv[np].val = val;
			pv[np].vn = vn;
			pv[np].doc = iv[nd].doc;
			np++;
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
	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_SEARCH), &c)) !=
	    0) {
		rc = msp_store_mdb_err(rc, "search", e);
		c = NULL;
		goto out;
	}
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
	if (rc != 0)
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
	key[0] = 'P';
	for (r = 0; r < ts.n && rc == 0; r++) {
		size_t tn;
		const char *term = msp_strset_get(&ts, sorted[cnt[r]].term,
		    &tn);

		memcpy(key + 1, term, tn);
		key[1 + tn] = '\0';
		for (i = cnt[r]; i < cnt[r + 1] && rc == 0; i++) {
			be32_put(key + 2 + tn, sorted[i].doc);
			rc = cursor_put(c, key, tn + 6, sorted[i].val,
			    sorted[i].vn, e);
		}
	}
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
	free(cnt);
	free(sorted);
	free(pv);
	free(iv);
	return rc;
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

static int
doc_parse(const unsigned char *p, size_t n, struct docrec *d)
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
	unsigned char ik[1 + MSP_ID_LEN], dk[5], key[2 + MSP_TERM_MAX + 4];
	unsigned char *copy = NULL;
	struct docrec d;
	struct stats s;
	const char *term;
	MDB_val v;
	size_t f;
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
		if (doc_parse(copy, v.mv_size, &d) != 0) {
			rc = msp_err_set(e, MSP_ESTORE, "search: corrupt "
			    "document of video %s; run msp-search reindex", id);
			goto out;
		}
		key[0] = 'P';
		for (term = d.terms; term < d.terms_end;
		    term += strlen(term) + 1) {
			size_t tn = strlen(term);
			if (tn == 0 || tn > MSP_TERM_MAX)
				continue;
			memcpy(key + 1, term, tn);
			key[1 + tn] = '\0';
			memcpy(key + 2 + tn, dk + 1, 4);
			rc = msp_db_del(st, t, MSP_DB_SEARCH, key, tn + 6, e);
			if (rc != 0 && rc != MSP_ENOTFOUND)
				goto out;
			if ((rc = df_change(st, t, term, tn, -1, 0, e)) != 0)
				goto out;
		}
		if ((rc = stats_get(st, t, &s, e)) != 0)
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

	if (msp_store_bulk(st) && before == NULL)
		return 0; /* a bulk load indexes its new videos by batch */

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
		if ((dels = term_dels(term, tn)) == 0)
			continue;
		if (variants(term, tn, dels, &vs) != 0)
			goto oom;
		for (i = 0; i < vs.n; i++) {
			size_t kn = vkey(key, vs.v[i], term, tn);
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
	MDB_val k, v;
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
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct msp_search_doc *d;
		json_object *o;
		int r2;

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

/* ---- checking ------------------------------------------------------- */

/* One visible video against its document and postings. */
static int
check_video(struct msp_store *st, MDB_txn *t, json_object *o,
    struct msp_report *c, struct stats *sum, struct msp_err *e)
{
	const char *id = jstr(o, "id");
	unsigned char ik[1 + MSP_ID_LEN], dk[5], key[2 + MSP_TERM_MAX + 4];
	struct buf post = { 0 };
	struct docrec d;
	struct toks tk;
	const char *dt;
	size_t i, j, f;
	MDB_val v;
	int rc;

	if (id == NULL || strlen(id) != MSP_ID_LEN)
		return 0;
	ik[0] = 'I';
	memcpy(ik + 1, id, MSP_ID_LEN);
	rc = msp_db_get(st, t, MSP_DB_SEARCH, ik, sizeof(ik), &v, e);
	if (rc == MSP_ENOTFOUND) {
		msp_reportf(c, "search: video %s: visible but not indexed", id);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (v.mv_size != 4) {
		msp_reportf(c, "search: video %s: bad document number", id);
		return 0;
	}
	dk[0] = 'D';
	memcpy(dk + 1, v.mv_data, 4);
	rc = msp_db_get(st, t, MSP_DB_SEARCH, dk, 5, &v, e);
	if (rc == MSP_ENOTFOUND) {
		msp_reportf(c, "search: video %s: document missing", id);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (doc_parse(v.mv_data, v.mv_size, &d) != 0 ||
	    strcmp(d.id, id) != 0) {
		msp_reportf(c, "search: video %s: corrupt document", id);
		return 0;
	}
	if ((rc = doc_words(o, &tk, e)) != 0)
		return rc;
	for (f = 0; f < MSP_SF_COUNT; f++) {
		sum->len[f] += tk.len[f];
		if (d.len[f] != tk.len[f])
			msp_reportf(c, "search: video %s: %s has %u words, index "
			    "says %u", id, msp_search_field_names[f],
			    (unsigned)tk.len[f], (unsigned)d.len[f]);
	}
	if (d.flags != doc_flags(o))
		msp_reportf(c, "search: video %s: type or premium flag differs", id);
	dt = d.terms;
	key[0] = 'P';
	for (i = 0; i < tk.n; i = j) {
		const char *term = tk.v[i].term;
		size_t tn = strlen(term);
		MDB_val pv;

		if (dt >= d.terms_end || strcmp(dt, term) != 0)
			msp_reportf(c, "search: video %s: term '%s' not in its "
			    "document", id, term);
		else
			dt += tn + 1;
		if (posting_encode(&tk, i, &j, (unsigned char)doc_flags(o),
		    &post) != 0) {
			rc = nomem(e);
			goto out;
		}
		memcpy(key + 1, term, tn);
		key[1 + tn] = '\0';
		memcpy(key + 2 + tn, dk + 1, 4);
		rc = msp_db_get(st, t, MSP_DB_SEARCH, key, tn + 6, &pv, e);
		if (rc == MSP_ENOTFOUND)
			msp_reportf(c, "search: video %s: no posting for '%s'", id,
			    term);
		else if (rc != 0)
			goto out;
		else if (pv.mv_size != post.n ||
		    memcmp(pv.mv_data, post.p, post.n) != 0)
			msp_reportf(c, "search: video %s: posting for '%s' differs",
			    id, term);
		rc = 0;
	}
	if (dt < d.terms_end)
		msp_reportf(c, "search: video %s: document has extra terms", id);
	if (content(o, &post) != 0) {
		rc = nomem(e);
		goto out;
	}
	dk[0] = 'C';
	rc = msp_db_get(st, t, MSP_DB_SEARCH, dk, 5, &v, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		goto out;
	if (rc != 0 || v.mv_size != post.n ||
	    memcmp(v.mv_data, post.p, post.n) != 0)
		msp_reportf(c, "search: video %s: stored text differs", id);
	rc = 0;
	sum->docs++;
out:
	free(tk.v);
	free(post.p);
	return rc;
}

static int
check_df(struct msp_store *st, MDB_txn *t, const char *term, uint32_t count,
    struct msp_report *c, struct msp_err *e)
{
	unsigned char tk[1 + MSP_TERM_MAX];
	uint32_t df = 0;
	size_t n = strlen(term);
	MDB_val x;
	int rc;

	tk[0] = 'T';
	memcpy(tk + 1, term, n);
	rc = msp_db_get(st, t, MSP_DB_SEARCH, tk, n + 1, &x, e);
	if (rc == 0 && x.mv_size == 4)
		memcpy(&df, x.mv_data, 4);
	else if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	if (df != count)
		msp_reportf(c, "search: term '%s': %u postings, dictionary says %u",
		    term, (unsigned)count, (unsigned)df);
	return 0;
}

/* The term's typo variants are all there; *n counts them. */
static int
check_variants(struct msp_store *st, MDB_txn *t, const char *term, size_t tn,
    struct msp_report *c, long long *n, struct msp_err *e)
{
	unsigned char key[2 + 2 * MSP_TERM_MAX];
	struct variants vs;
	size_t i;
	MDB_val x;
	int dels = term_dels(term, tn), rc;

	if (dels == 0)
		return 0;
	if (variants(term, tn, dels, &vs) != 0)
		return nomem(e);
	for (i = 0; i < vs.n; i++) {
		size_t kn = vkey(key, vs.v[i], term, tn);
		rc = msp_db_get(st, t, MSP_DB_SEARCH, key, kn, &x, e);
		if (rc == MSP_ENOTFOUND) {
			msp_reportf(c, "search: term '%.*s': typo variant '%s' "
			    "missing", (int)tn, term, vs.v[i]);
		} else if (rc != 0) {
			free(vs.v);
			return rc;
		}
	}
	*n += (long long)vs.n;
	free(vs.v);
	return 0;
}

int
msp_search_check(struct msp_store *st, MDB_txn *t, msp_report_fn fn,
    void *arg, struct msp_err *e)
{
	struct msp_report c = { fn, arg, 0 };
	struct stats s, sum;
	MDB_cursor *cv = NULL, *cs = NULL;
	json_tokener *tok = NULL;
	char term[MSP_TERM_MAX + 1] = "";
	uint32_t count = 0, ndocs = 0;
	long long nvar = 0;
	MDB_val k, v;
	size_t f;
	int rc, r2, have = 0;

	memset(&sum, 0, sizeof(sum));
	if ((rc = stats_get(st, t, &s, e)) != 0)
		return rc;
	if ((tok = json_tokener_new()) == NULL)
		return nomem(e);
	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VIDEOS),
	    &cv)) != 0 || (rc = mdb_cursor_open(t,
	    msp_store_dbi(st, MSP_DB_SEARCH), &cs)) != 0) {
		rc = msp_store_mdb_err(rc, "search", e);
		goto out;
	}
	/* every video: indexed when visible, with the right postings */
	for (rc = mdb_cursor_get(cv, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cv, &k, &v, MDB_NEXT)) {
		json_object *o;

		json_tokener_reset(tok);
		if ((o = json_tokener_parse_ex(tok, v.mv_data,
		    (int)v.mv_size)) == NULL)
			continue; /* the catalog's checker reports it */
		if (visible(o)) {
			r2 = check_video(st, t, o, &c, &sum, e);
		} else {
			unsigned char ik[1 + MSP_ID_LEN];
			const char *id = jstr(o, "id");
			MDB_val iv;

			r2 = 0;
			if (id != NULL && strlen(id) == MSP_ID_LEN) {
				ik[0] = 'I';
				memcpy(ik + 1, id, MSP_ID_LEN);
				r2 = msp_db_get(st, t, MSP_DB_SEARCH, ik,
				    sizeof(ik), &iv, e);
				if (r2 == 0)
					msp_reportf(&c, "search: video %s: indexed "
					    "but not visible", id);
				if (r2 == MSP_ENOTFOUND)
					r2 = 0;
			}
		}
		json_object_put(o);
		if (r2 != 0) {
			rc = r2;
			goto out;
		}
	}
	if (rc != MDB_NOTFOUND) {
		rc = msp_store_mdb_err(rc, "videos", e);
		goto out;
	}
	/* documents whose video is gone, and the term frequencies */
	for (rc = mdb_cursor_get(cs, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cs, &k, &v, MDB_NEXT)) {
		const char *kp = k.mv_data;
		MDB_val x;

		if (kp[0] == 'D' && k.mv_size == 5) {
			struct docrec d;
			ndocs++;
			if (doc_parse(v.mv_data, v.mv_size, &d) != 0) {
				msp_reportf(&c, "search: corrupt document %u",
				    (unsigned)be32_get(
				    (const unsigned char *)k.mv_data + 1));
				continue;
			}
			r2 = msp_db_get(st, t, MSP_DB_VIDEOS, d.id,
			    MSP_ID_LEN, &x, e);
			if (r2 == MSP_ENOTFOUND)
				msp_reportf(&c, "search: video %s: indexed but "
				    "not in the catalog", d.id);
			else if (r2 != 0) {
				rc = r2;
				goto out;
			}
		} else if (kp[0] == 'P') {
			const char *z = memchr(kp + 1, '\0', k.mv_size - 1);
			size_t tn = z ? (size_t)(z - kp - 1) : 0;

			if (z == NULL || tn > MSP_TERM_MAX) {
				msp_reportf(&c, "search: malformed posting key");
				continue;
			}
			if (have && strcmp(term, kp + 1) != 0) {
				if ((r2 = check_df(st, t, term, count, &c,
				    e)) != 0) {
					rc = r2;
					goto out;
				}
				have = 0;
			}
			if (!have) {
				memcpy(term, kp + 1, tn + 1);
				have = 1;
				count = 0;
			}
			count++;
		}
	}
	if (rc != MDB_NOTFOUND) {
		rc = msp_store_mdb_err(rc, "search", e);
		goto out;
	}
	rc = 0;
	if (have && (rc = check_df(st, t, term, count, &c, e)) != 0)
		goto out;
	/* dictionary entries without postings */
	k.mv_size = 1;
	k.mv_data = "T";
	for (r2 = mdb_cursor_get(cs, &k, &v, MDB_SET_RANGE); r2 == 0 &&
	    ((const char *)k.mv_data)[0] == 'T';
	    r2 = mdb_cursor_get(cs, &k, &v, MDB_NEXT)) {
		unsigned char pk[2 + MSP_TERM_MAX];
		MDB_cursor *c2;
		MDB_val k2, v2;
		size_t n = k.mv_size - 1;
		int found;

		if (n > MSP_TERM_MAX)
			continue;
		pk[0] = 'P';
		memcpy(pk + 1, (const char *)k.mv_data + 1, n);
		pk[1 + n] = '\0';
		if (mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_SEARCH),
		    &c2) != 0)
			break;
		k2.mv_size = n + 2;
		k2.mv_data = pk;
		found = mdb_cursor_get(c2, &k2, &v2, MDB_SET_RANGE) == 0 &&
		    k2.mv_size > n + 2 && memcmp(k2.mv_data, pk, n + 2) == 0;
		mdb_cursor_close(c2);
		if (!found)
			msp_reportf(&c, "search: term '%.*s': in the dictionary "
			    "without postings", (int)n,
			    (const char *)k.mv_data + 1);
		if ((r2 = check_variants(st, t, (const char *)k.mv_data + 1,
		    n, &c, &nvar, e)) != 0) {
			rc = r2;
			goto out;
		}
	}
	/* typo variants of terms no longer in the dictionary */
	k.mv_size = 1;
	k.mv_data = "V";
	for (r2 = mdb_cursor_get(cs, &k, &v, MDB_SET_RANGE); r2 == 0 &&
	    ((const char *)k.mv_data)[0] == 'V';
	    r2 = mdb_cursor_get(cs, &k, &v, MDB_NEXT)) {
		const char *kp = k.mv_data, *z;
		unsigned char tk[1 + MSP_TERM_MAX];
		MDB_val x;
		size_t n;

		nvar--;
		z = memchr(kp + 1, '\0', k.mv_size - 1);
		n = z ? k.mv_size - (size_t)(z - kp) - 1 : 0;
		if (z == NULL || n == 0 || n > MSP_TERM_MAX) {
			msp_reportf(&c, "search: malformed variant key");
			continue;
		}
		tk[0] = 'T';
		memcpy(tk + 1, z + 1, n);
		if (msp_db_get(st, t, MSP_DB_SEARCH, tk, n + 1, &x, e) ==
		    MSP_ENOTFOUND)
			msp_reportf(&c, "search: typo variant '%s' of '%.*s', which "
			    "is not in the dictionary", kp + 1, (int)n, z + 1);
	}
	if (nvar > 0)
		msp_reportf(&c, "search: %lld typo variants missing", nvar);
	else if (nvar < 0)
		msp_reportf(&c, "search: %lld typo variants too many", -nvar);
	if (s.docs != ndocs || s.docs != sum.docs)
		msp_reportf(&c, "search: corpus counts %llu documents, index holds "
		    "%u, visible videos %llu", (unsigned long long)s.docs,
		    (unsigned)ndocs, (unsigned long long)sum.docs);
	for (f = 0; f < MSP_SF_COUNT; f++)
		if (s.len[f] != sum.len[f])
			msp_reportf(&c, "search: corpus length of %s is %llu, the "
			    "videos give %llu", msp_search_field_names[f],
			    (unsigned long long)s.len[f],
			    (unsigned long long)sum.len[f]);
	rc = c.count;
out:
	if (cv != NULL)
		mdb_cursor_close(cv);
	if (cs != NULL)
		mdb_cursor_close(cs);
	json_tokener_free(tok);
	return rc;
}

/* ---- queries -------------------------------------------------------- */

static int
count_word(const char *term, size_t n, size_t start, size_t end, void *arg)
{
	(void)term;
	(void)n;
	(void)start;
	(void)end;
	(*(size_t *)arg)++;
	return 0;
}

int
msp_search_query_check(const char *q, struct msp_err *e)
{
	size_t n = strlen(q), i, chars, words = 0;
	const unsigned char *p;

	for (i = 0; i < n && (q[i] == ' ' || q[i] == '\t'); i++)
		;
	if (i == n)
		return msp_err_set(e, MSP_EINVAL, "query: empty");
	if (!msp_utf8_valid(q, n))
		return msp_err_set(e, MSP_EINVAL, "query: invalid UTF-8");
	chars = msp_utf8_len(q, n);
	if (chars > MSP_SEARCH_QUERY_MAX)
		return msp_err_set(e, MSP_EINVAL, "query: %zu characters "
		    "exceeds the limit of %d", chars, MSP_SEARCH_QUERY_MAX);
	for (p = (const unsigned char *)q; *p != '\0'; p++) {
		unsigned c = *p;
		if (c == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0)
			c = p[1]; /* C1 controls U+0080..U+009F */
		if (c < 0x20 || (c >= 0x7f && c < 0xa0))
			return msp_err_set(e, MSP_EINVAL, "query: control "
			    "character U+%04X is not allowed", c);
	}
	msp_text_words(q, n, count_word, &words);
	if (words == 0)
		return msp_err_set(e, MSP_EINVAL, "query: no words to search "
		    "for");
	if (words > MSP_SEARCH_WORDS_MAX)
		return msp_err_set(e, MSP_EINVAL, "query: %zu words exceeds the "
		    "limit of %d", words, MSP_SEARCH_WORDS_MAX);
	return 0;
}

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

struct cand {
	uint32_t doc;
	int typo;      /* matches only with a typo: ranks after the rest */
	double score;
};

struct qctx {
	struct msp_store *st;
	MDB_txn *t;
	MDB_cursor *cur;
	const struct msp_search_query *q;
	struct stats s;
	double avg[MSP_SF_COUNT];
	struct qgroup g[MSP_SEARCH_WORDS_MAX];
	size_t ng;
	int cur_phrase;
	int nphrase;
	const char **marks; /* sorted terms to highlight */
	size_t nmarks;
	int typos;          /* this pass uses the typo expansions */
};

/* The expansions a pass uses. */
static int
use(const struct qctx *c, const struct qexp *x)
{
	return c->typos || x->edits == 0;
}

static uint64_t
group_df(const struct qctx *c, const struct qgroup *g, size_t *nx)
{
	uint64_t df = 0;
	size_t i;

	*nx = 0;
	for (i = 0; i < g->nx; i++)
		if (use(c, &g->x[i])) {
			df += g->x[i].df;
			(*nx)++;
		}
	return df;
}

static int
parse_word(const char *term, size_t n, size_t start, size_t end, void *arg)
{
	struct qctx *c = arg;
	struct qgroup *g;
	size_t i;

	(void)start;
	(void)end;
	if (c->cur_phrase < 0)
		for (i = 0; i < c->ng; i++)
			if (c->g[i].phrase < 0 && strcmp(c->g[i].word, term) == 0)
				return 0; /* the same word twice */
	if (c->ng == MSP_SEARCH_WORDS_MAX)
		return 0;
	g = &c->g[c->ng++];
	memset(g, 0, sizeof(*g));
	memcpy(g->word, term, n + 1);
	g->wn = n;
	g->phrase = c->cur_phrase;
	g->exact = c->cur_phrase >= 0;
	return 0;
}

/* Words outside quotes are single words; inside, a phrase. */
static void
parse_query(struct qctx *c, const char *q)
{
	size_t n = strlen(q), i, seg = 0, first;
	int inq = 0;

	c->ng = 0;
	c->nphrase = 0;
	for (i = 0; i <= n; i++) {
		if (i < n && q[i] != '"')
			continue;
		first = c->ng;
		c->cur_phrase = inq ? c->nphrase : -1;
		msp_text_words(q + seg, i - seg, parse_word, c);
		if (inq) {
			if (c->ng - first == 1)
				c->g[first].phrase = -1; /* "word": exact */
			else if (c->ng > first)
				c->nphrase++;
		}
		inq = !inq;
		seg = i + 1;
	}
	/* search as you type: the last word, unless a space ends it */
	if (c->ng > 0 && !c->g[c->ng - 1].exact && n > 0 &&
	    q[n - 1] != ' ' && q[n - 1] != '\t')
		c->g[c->ng - 1].prefix = 1;
}

static struct qexp *
group_add(struct qgroup *g, const char *term, size_t n, uint32_t df,
    int edits, int prefix)
{
	struct qexp *x;
	size_t i;

	for (i = 0; i < g->nx; i++)
		if (g->x[i].n == n && memcmp(g->x[i].term, term, n) == 0)
			return &g->x[i];
	if (g->nx == g->capx) {
		size_t nc = g->capx ? g->capx * 2 : 4;
		struct qexp *nv = realloc(g->x, nc * sizeof(*nv));
		if (nv == NULL)
			return NULL;
		g->x = nv;
		g->capx = nc;
	}
	x = &g->x[g->nx++];
	memcpy(x->term, term, n);
	x->term[n] = '\0';
	x->n = n;
	x->df = df;
	x->edits = edits;
	x->prefix = prefix;
	return x;
}

/* A bounded set of expansions: the best MSP_SEARCH_EXPAND_MAX by edits,
 * then document frequency. */
struct expset {
	struct qexp v[MSP_SEARCH_EXPAND_MAX];
	size_t n;
};

static int
exp_worse(const struct qexp *a, const struct qexp *b)
{
	if (a->edits != b->edits)
		return a->edits > b->edits;
	if (a->df != b->df)
		return a->df < b->df;
	return strcmp(a->term, b->term) > 0;
}

static void
expset_add(struct expset *s, const char *term, size_t n, uint32_t df,
    int edits, int prefix)
{
	struct qexp x;
	size_t i, w;

	if (n > MSP_TERM_MAX)
		return;
	for (i = 0; i < s->n; i++)
		if (s->v[i].n == n && memcmp(s->v[i].term, term, n) == 0)
			return;
	memset(&x, 0, sizeof(x));
	memcpy(x.term, term, n);
	x.n = n;
	x.df = df;
	x.edits = edits;
	x.prefix = prefix;
	if (s->n < MSP_SEARCH_EXPAND_MAX) {
		s->v[s->n++] = x;
		return;
	}
	for (w = 0, i = 1; i < s->n; i++)
		if (exp_worse(&s->v[i], &s->v[w]))
			w = i;
	if (exp_worse(&s->v[w], &x))
		s->v[w] = x;
}

static uint32_t
df_of(const MDB_val *v)
{
	uint32_t df = 0;

	if (v->mv_size == sizeof(df))
		memcpy(&df, v->mv_data, sizeof(df));
	return df;
}

static int
expand_prefix(struct qctx *c, struct qgroup *g, struct expset *s)
{
	unsigned char key[1 + MSP_TERM_MAX];
	MDB_val k, v;
	int rc;

	key[0] = 'T';
	memcpy(key + 1, g->word, g->wn);
	k.mv_size = g->wn + 1;
	k.mv_data = key;
	for (rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < g->wn + 1 ||
		    memcmp(k.mv_data, key, g->wn + 1) != 0)
			break;
		if (k.mv_size == g->wn + 1)
			continue; /* the word itself */
		expset_add(s, (const char *)k.mv_data + 1, k.mv_size - 1,
		    df_of(&v), 0, 1);
	}
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Terms within max edits of the word: a walk over the dictionary in key
 * order that keeps one row of the edit-distance table per character of
 * the current key, and skips every key under a prefix as soon as the
 * prefix is more than max edits from every start of the word.
 */
static int
typo_try(struct qctx *c, const uint32_t *w, size_t m, int max,
    const unsigned char *pre, size_t pn, const char *a, size_t an,
    const char *b, size_t bn, struct expset *s)
{
	unsigned char key[1 + MSP_TERM_MAX];
	uint32_t tc[MSP_TERM_CPS];
	MDB_val k, v;
	size_t tn;
	int d, rc;

	if (pn + an + bn > MSP_TERM_MAX)
		return 0;
	key[0] = 'T';
	memcpy(key + 1, pre, pn);
	memcpy(key + 1 + pn, a, an);
	memcpy(key + 1 + pn + an, b, bn);
	k.mv_size = 1 + pn + an + bn;
	k.mv_data = key;
	rc = mdb_get(c->t, msp_store_dbi(c->st, MSP_DB_SEARCH), &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	tn = msp_text_cps((const char *)key + 1, k.mv_size - 1, tc,
	    MSP_TERM_CPS);
	d = msp_text_edits(w, m, tc, tn, max);
	if (d > 0 && d <= max)
		expset_add(s, (const char *)key + 1, k.mv_size - 1, df_of(&v),
		    d, 0);
	return 0;
}

/*
 * The prefix pre (i characters, path) has used every edit: what follows
 * it must be the rest of the word after a position j where the prefix
 * costs max, or finish a transposition of its last character. Look those
 * few terms up instead of walking the subtree.
 */
static int
typo_finish(struct qctx *c, const uint32_t *w, size_t m, int max,
    const char *word, const size_t *wb, const unsigned char *pre, size_t pn,
    int (*rows)[MSP_TERM_CPS + 1], const uint32_t *path, size_t i,
    struct expset *s)
{
	size_t j;
	int rc;

	for (j = 0; j <= m; j++) {
		if (rows[i][j] == max && (rc = typo_try(c, w, m, max, pre, pn,
		    word + wb[j], wb[m] - wb[j], "", 0, s)) != 0)
			return rc;
		if (j >= 1 && j < m && path[i - 1] == w[j] &&
		    rows[i - 1][j - 1] + 1 <= max &&
		    (rc = typo_try(c, w, m, max, pre, pn, word + wb[j - 1],
		    wb[j] - wb[j - 1], word + wb[j + 1], wb[m] - wb[j + 1],
		    s)) != 0)
			return rc;
	}
	return 0;
}

static int
typo_walk(struct qctx *c, const uint32_t *w, size_t m, int max,
    const char *word, const size_t *wb, const char *first, size_t fn,
    struct expset *s)
{
	static const int INF = 1 << 20;
	int rows[MSP_TERM_CPS + 1][MSP_TERM_CPS + 1];
	uint32_t path[MSP_TERM_CPS];
	size_t boff[MSP_TERM_CPS + 1];
	unsigned char seek[1 + MSP_TERM_MAX], lim[1 + 4];
	size_t depth = 0, i, j;
	MDB_val k, v;
	int rc;

	for (j = 0; j <= m; j++)
		rows[0][j] = (int)j;
	lim[0] = 'T';
	memcpy(lim + 1, first, fn);
	k.mv_size = fn + 1;
	k.mv_data = lim;
	rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		const unsigned char *kp = k.mv_data;
		const unsigned char *tp = kp + 1, *end = kp + k.mv_size;
		size_t tn = 0, dead = 0;
		uint32_t tc[MSP_TERM_CPS];

		if (k.mv_size < fn + 1 || memcmp(kp, lim, fn + 1) != 0 ||
		    k.mv_size - 1 > MSP_TERM_MAX)
			break;
		/* the key's code points and their byte offsets */
		boff[0] = 0;
		while (tp < end && tn < MSP_TERM_CPS) {
			uint32_t cp;
			size_t l;
			if (*tp < 0x80) {
				cp = *tp;
				l = 1;
			} else {
				/* the sequence's length from its lead byte */
				l = *tp >= 0xf0 ? 4 : *tp >= 0xe0 ? 3 :
				    *tp >= 0xc0 ? 2 : 1;
				if ((size_t)(end - tp) < l)
					l = (size_t)(end - tp);
				if (msp_text_cps((const char *)tp, l, &cp,
				    1) == 0)
					cp = 0;
			}
			tc[tn++] = cp;
			tp += l;
			boff[tn] = (size_t)(tp - (kp + 1));
		}
		for (i = 0; i < depth && i < tn && path[i] == tc[i]; i++)
			;
		depth = i;
		for (i = depth + 1; i <= tn; i++) {
			int lo = INF;
			path[i - 1] = tc[i - 1];
			rows[i][0] = (int)i;
			lo = rows[i][0];
			for (j = 1; j <= m; j++) {
				int x = rows[i - 1][j - 1] +
				    (path[i - 1] != w[j - 1]);
				if (rows[i - 1][j] + 1 < x)
					x = rows[i - 1][j] + 1;
				if (rows[i][j - 1] + 1 < x)
					x = rows[i][j - 1] + 1;
				if (i > 1 && j > 1 && path[i - 1] == w[j - 2] &&
				    path[i - 2] == w[j - 1] &&
				    rows[i - 2][j - 2] + 1 < x)
					x = rows[i - 2][j - 2] + 1;
				rows[i][j] = x;
				if (x < lo)
					lo = x;
			}
			depth = i;
			if (lo > max) {
				dead = i;
				break;
			}
			if (lo == max) { /* no edit left: finish by lookups */
				if ((rc = typo_finish(c, w, m, max, word, wb,
				    kp + 1, boff[i], rows, path, i, s)) != 0)
					return rc;
				dead = i;
				break;
			}
		}
		if (dead > 0) {
			/* skip every key that starts with this prefix */
			size_t pn = boff[dead];
			seek[0] = 'T';
			memcpy(seek + 1, kp + 1, pn);
			seek[pn]++;
			depth = dead - 1;
			k.mv_size = pn + 1;
			k.mv_data = seek;
			rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);
			continue;
		}
		if (tn > 0 && rows[tn][m] <= max && rows[tn][m] > 0)
			expset_add(s, (const char *)kp + 1, k.mv_size - 1,
			    df_of(&v), rows[tn][m], 0);
		rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT);
	}
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Two edits (words of 9+ characters): the dictionary keeps, for each term
 * of 8+ characters, the strings left by deleting one character, and for
 * 9+ two ("V" <variant> 0x00 <term>). A term within two edits of the word
 * shares with it a string reached by deleting at most two characters from
 * each, so looking up the word's own deletion variants finds it; each
 * candidate is then checked with the real distance.
 */
static int
expand_typos2(struct qctx *c, struct qgroup *g, const uint32_t *w, size_t m,
    struct expset *s)
{
	unsigned char key[2 + 2 * MSP_TERM_MAX];
	struct variants vs;
	size_t i;
	int rc = 0;

	if (variants(g->word, g->wn, 3, &vs) != 0)
		return ENOMEM;
	for (i = 0; i <= vs.n && rc == 0; i++) {
		const char *var = i < vs.n ? vs.v[i] : g->word;
		size_t vn = strlen(var), tn;
		uint32_t tc[MSP_TERM_CPS];
		MDB_val k, v;
		int d;

		if (i < vs.n) { /* the variant as a term of its own */
			key[0] = 'T';
			memcpy(key + 1, var, vn);
			k.mv_size = vn + 1;
			k.mv_data = key;
			rc = mdb_get(c->t, msp_store_dbi(c->st, MSP_DB_SEARCH),
			    &k, &v);
			if (rc == 0) {
				tn = msp_text_cps(var, vn, tc, MSP_TERM_CPS);
				d = msp_text_edits(w, m, tc, tn, 2);
				if (d > 0 && d <= 2)
					expset_add(s, var, vn, df_of(&v), d, 0);
			} else if (rc != MDB_NOTFOUND) {
				break;
			}
		}
		/* terms that reach the variant by their own deletions */
		key[0] = 'V';
		memcpy(key + 1, var, vn);
		key[1 + vn] = '\0';
		k.mv_size = vn + 2;
		k.mv_data = key;
		for (rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);
		    rc == 0; rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT)) {
			const char *term = (const char *)k.mv_data + vn + 2;
			unsigned char tk[1 + MSP_TERM_MAX];
			MDB_val dv;
			size_t n = k.mv_size - vn - 2;

			if (k.mv_size <= vn + 2 || memcmp(k.mv_data, key,
			    vn + 2) != 0)
				break;
			if (n > MSP_TERM_MAX)
				continue;
			tn = msp_text_cps(term, n, tc, MSP_TERM_CPS);
			d = msp_text_edits(w, m, tc, tn, 2);
			if (d == 0 || d > 2)
				continue;
			tk[0] = 'T';
			memcpy(tk + 1, term, n);
			dv.mv_size = 0;
			{
				MDB_val tkv = { n + 1, tk };
				if (mdb_get(c->t, msp_store_dbi(c->st,
				    MSP_DB_SEARCH), &tkv, &dv) != 0)
					continue;
			}
			expset_add(s, term, n, df_of(&dv), d, 0);
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	free(vs.v);
	return rc;
}

/*
 * Typo candidates start with the word's first character, or with its
 * second (the first two swapped, or a character typed before the word):
 * two subtrees of the dictionary instead of all of it. A wrong or
 * missing first character is not corrected.
 */
static int
expand_typos(struct qctx *c, struct qgroup *g, int max, struct expset *s)
{
	uint32_t w[MSP_TERM_CPS];
	size_t m, l0, l1, wb[MSP_TERM_CPS + 1], j;
	int rc;

	m = msp_text_cps(g->word, g->wn, w, MSP_TERM_CPS);
	if (m < 2)
		return 0;
	if (max >= 2)
		return expand_typos2(c, g, w, m, s);
	for (wb[0] = 0, j = 0; j < m; j++)
		wb[j + 1] = wb[j] + cp_len(g->word + wb[j]);
	l0 = wb[1];
	l1 = wb[2] - wb[1];
	if ((rc = typo_walk(c, w, m, max, g->word, wb, g->word, l0, s)) != 0)
		return rc;
	if (w[1] != w[0])
		rc = typo_walk(c, w, m, max, g->word, wb, g->word + l0, l1, s);
	return rc;
}

static double
idf_of(const struct qctx *c, uint32_t df)
{
	double n = (double)c->s.docs;

	return log(1.0 + (n - df + 0.5) / (df + 0.5));
}

/* Phase 0: the word as typed, and completions when it is the last;
 * phase 1: terms within the allowed edits. */
static int
expand(struct qctx *c, struct qgroup *g, int phase, struct msp_err *e)
{
	unsigned char key[1 + MSP_TERM_MAX];
	struct expset *s;
	size_t i, cps, first = g->nx;
	MDB_val v;
	int rc;

	cps = msp_utf8_len(g->word, g->wn);
	if (phase == 0) {
		key[0] = 'T';
		memcpy(key + 1, g->word, g->wn);
		rc = msp_db_get(c->st, c->t, MSP_DB_SEARCH, key, g->wn + 1, &v,
		    e);
		if (rc == 0) {
			if (group_add(g, g->word, g->wn, df_of(&v), 0, 0) ==
			    NULL)
				return nomem(e);
		} else if (rc != MSP_ENOTFOUND) {
			return rc;
		}
	}
	if (g->exact || (phase == 0 && (!g->prefix || cps < 2)) ||
	    (phase == 1 && cps < 5))
		goto done;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return nomem(e);
	rc = phase == 0 ? expand_prefix(c, g, s) :
	    expand_typos(c, g, cps >= 9 ? 2 : 1, s);
	if (rc != 0) {
		free(s);
		return msp_store_mdb_err(rc, "search", e);
	}
	for (i = 0; i < s->n; i++)
		if (group_add(g, s->v[i].term, s->v[i].n, s->v[i].df,
		    s->v[i].edits, s->v[i].prefix) == NULL) {
			free(s);
			return nomem(e);
		}
	free(s);
done:
	for (i = first; i < g->nx; i++) {
		struct qexp *x = &g->x[i];
		x->idf = idf_of(c, x->df);
		x->pen = 1.0;
		if (x->prefix)
			x->pen *= PEN_PREFIX;
		if (x->edits > 0)
			x->pen *= PEN_EDIT / x->edits;
	}
	return 0;
}

static int
flags_ok(const struct qctx *c, unsigned flags)
{
	const struct msp_search_query *q = c->q;

	if (q->video_type != NULL &&
	    ((flags & F_LONG) != 0) != (strcmp(q->video_type, "long") == 0))
		return 0;
	if (q->premium >= 0 && ((flags & F_PREMIUM) != 0) != (q->premium > 0))
		return 0;
	return 1;
}

/* Parts of a posting's score, for --explain. */
struct fpart {
	uint32_t tf, len;
	double score;
};

/* BM25 over the fields holding the term, each weighted. */
static double
post_score(const struct qctx *c, const unsigned char *p, size_t n,
    struct fpart *parts)
{
	const unsigned char *q = p + 1, *end = p + n;
	double s = 0;

	if (parts != NULL)
		memset(parts, 0, MSP_SF_COUNT * sizeof(*parts));
	while (q < end) {
		unsigned field = *q++;
		uint32_t len, tf, i;
		double norm;
		size_t k;

		if (field >= MSP_SF_COUNT)
			break;
		if ((k = varint_get(q, end, &len)) == 0)
			break;
		q += k;
		if ((k = varint_get(q, end, &tf)) == 0)
			break;
		q += k;
		for (i = 0; i < tf && q < end; i++) {
			while (q < end && (*q & 0x80))
				q++;
			q++;
		}
		norm = tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B +
		    BM25_B * len / c->avg[field]));
		norm *= msp_search_field_weights[field];
		s += norm;
		if (parts != NULL) {
			parts[field].tf = tf;
			parts[field].len = len;
			parts[field].score = norm;
		}
	}
	return s;
}

static int
cand_doc_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->doc != y->doc)
		return x->doc < y->doc ? -1 : 1;
	return x->score > y->score ? -1 : x->score < y->score;
}

struct cands {
	struct cand *v;
	size_t n, cap;
};

static int
cands_push(struct cands *cs, uint32_t doc, double score)
{
	if (cs->n == cs->cap) {
		size_t nc = cs->cap ? cs->cap * 2 : 256;
		struct cand *nv = realloc(cs->v, nc * sizeof(*nv));
		if (nv == NULL)
			return MSP_ENOMEM;
		cs->v = nv;
		cs->cap = nc;
	}
	cs->v[cs->n].doc = doc;
	cs->v[cs->n].typo = 0;
	cs->v[cs->n].score = score;
	cs->n++;
	return 0;
}

/* Every document holding one of the group's terms, by document number,
 * with the group's best score. */
static int
gather(struct qctx *c, struct qgroup *g, struct cands *out,
    struct msp_err *e)
{
	unsigned char key[2 + MSP_TERM_MAX];
	size_t i, j, w;
	int rc;

	out->n = 0;
	for (i = 0; i < g->nx; i++) {
		struct qexp *x = &g->x[i];
		double f = x->idf * x->pen;
		MDB_val k, v;

		if (!use(c, x))
			continue;
		key[0] = 'P';
		memcpy(key + 1, x->term, x->n);
		key[1 + x->n] = '\0';
		k.mv_size = x->n + 2;
		k.mv_data = key;
		for (rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);
		    rc == 0; rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT)) {
			const unsigned char *kp = k.mv_data;
			if (k.mv_size != x->n + 6 ||
			    memcmp(kp, key, x->n + 2) != 0)
				break;
			if (v.mv_size < 1 || !flags_ok(c, *(unsigned char *)
			    v.mv_data))
				continue;
			if (cands_push(out, be32_get(kp + x->n + 2),
			    f * post_score(c, v.mv_data, v.mv_size, NULL)) != 0)
				return nomem(e);
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			return msp_store_mdb_err(rc, "search", e);
	}
	if (g->nx > 1 && out->n > 1) {
		qsort(out->v, out->n, sizeof(*out->v), cand_doc_cmp);
		for (i = 0, w = 0; i < out->n; i = j) {
			out->v[w++] = out->v[i]; /* the best comes first */
			for (j = i + 1; j < out->n &&
			    out->v[j].doc == out->v[i].doc; j++)
				;
		}
		out->n = w;
	}
	return 0;
}

static int
post_get(struct qctx *c, const struct qexp *x, uint32_t doc, MDB_val *v)
{
	unsigned char key[2 + MSP_TERM_MAX + 4];
	MDB_val k;

	key[0] = 'P';
	memcpy(key + 1, x->term, x->n);
	key[1 + x->n] = '\0';
	be32_put(key + 2 + x->n, doc);
	k.mv_size = x->n + 6;
	k.mv_data = key;
	return mdb_get(c->t, msp_store_dbi(c->st, MSP_DB_SEARCH), &k, v);
}

/* Keep the candidates that hold one of the group's terms, adding its
 * score: by looking each up when they are few, else by a merge. */
static int
intersect(struct qctx *c, struct qgroup *g, struct cands *cs,
    struct cands *tmp, struct msp_err *e)
{
	size_t i, j, w, nx;
	uint64_t df = group_df(c, g, &nx);
	int rc;

	if ((uint64_t)cs->n * nx * 8 < df) {
		for (i = 0, w = 0; i < cs->n; i++) {
			double best = -1;
			for (j = 0; j < g->nx; j++) {
				MDB_val v;
				double sc;
				if (!use(c, &g->x[j]))
					continue;
				rc = post_get(c, &g->x[j], cs->v[i].doc, &v);
				if (rc == MDB_NOTFOUND)
					continue;
				if (rc != 0)
					return msp_store_mdb_err(rc, "search",
					    e);
				sc = g->x[j].idf * g->x[j].pen *
				    post_score(c, v.mv_data, v.mv_size, NULL);
				if (sc > best)
					best = sc;
			}
			if (best >= 0) {
				cs->v[w] = cs->v[i];
				cs->v[w++].score += best;
			}
		}
		cs->n = w;
		return 0;
	}
	if ((rc = gather(c, g, tmp, e)) != 0)
		return rc;
	for (i = 0, j = 0, w = 0; i < cs->n && j < tmp->n;) {
		if (cs->v[i].doc < tmp->v[j].doc) {
			i++;
		} else if (cs->v[i].doc > tmp->v[j].doc) {
			j++;
		} else {
			cs->v[w] = cs->v[i];
			cs->v[w++].score += tmp->v[j].score;
			i++;
			j++;
		}
	}
	cs->n = w;
	return 0;
}

/* Positions of a posting in one field (malloc'd into *pos). */
static size_t
post_positions(const unsigned char *p, size_t n, unsigned want,
    uint32_t **pos)
{
	const unsigned char *q = p + 1, *end = p + n;

	*pos = NULL;
	while (q < end) {
		unsigned field = *q++;
		uint32_t len, tf, i, last = 0, d;
		size_t k;

		if ((k = varint_get(q, end, &len)) == 0)
			return 0;
		q += k;
		if ((k = varint_get(q, end, &tf)) == 0)
			return 0;
		q += k;
		if (field != want) {
			for (i = 0; i < tf && q < end; i++) {
				while (q < end && (*q & 0x80))
					q++;
				q++;
			}
			continue;
		}
		if (tf == 0 || (*pos = malloc(tf * sizeof(**pos))) == NULL)
			return 0;
		for (i = 0; i < tf; i++) {
			if ((k = varint_get(q, end, &d)) == 0)
				break;
			q += k;
			last += d;
			(*pos)[i] = last;
		}
		return i;
	}
	return 0;
}

static int
has_pos(const uint32_t *v, size_t n, uint32_t want)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid] == want)
			return 1;
		if (v[mid] < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* 1 when the doc holds the phrase's words one after another in a field. */
static int
phrase_match(struct qctx *c, int phrase, uint32_t doc)
{
	MDB_val v[MSP_SEARCH_WORDS_MAX];
	size_t nw = 0, i;
	unsigned f;
	int found = 0;

	for (i = 0; i < c->ng; i++)
		if (c->g[i].phrase == phrase) {
			if (c->g[i].nx == 0 ||
			    post_get(c, &c->g[i].x[0], doc, &v[nw]) != 0)
				return 0;
			nw++;
		}
	for (f = 0; f < MSP_SF_COUNT && !found; f++) {
		uint32_t *p0, *pi;
		size_t n0, ni, a, b;
		int *ok;

		n0 = post_positions(v[0].mv_data, v[0].mv_size, f, &p0);
		if (n0 == 0) {
			free(p0);
			continue;
		}
		if ((ok = malloc(n0 * sizeof(*ok))) == NULL) {
			free(p0);
			return 0;
		}
		for (a = 0; a < n0; a++)
			ok[a] = 1;
		for (i = 1; i < nw; i++) {
			ni = post_positions(v[i].mv_data, v[i].mv_size, f, &pi);
			for (a = 0; a < n0; a++)
				if (ok[a] && !has_pos(pi, ni, p0[a] +
				    (uint32_t)i))
					ok[a] = 0;
			free(pi);
		}
		for (b = 0; b < n0; b++)
			if (ok[b])
				found = 1;
		free(ok);
		free(p0);
	}
	return found;
}

/* facet counts */
struct facet {
	char *value;
	long count;
};

struct facets {
	struct facet *v;
	size_t n, cap;
};

static int
facet_add(struct facets *fs, const char *value)
{
	size_t i;

	if (value == NULL || *value == '\0')
		return 0;
	for (i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i].value, value) == 0) {
			fs->v[i].count++;
			return 0;
		}
	if (fs->n == fs->cap) {
		size_t nc = fs->cap ? fs->cap * 2 : 16;
		struct facet *nv = realloc(fs->v, nc * sizeof(*nv));
		if (nv == NULL)
			return MSP_ENOMEM;
		fs->v = nv;
		fs->cap = nc;
	}
	if ((fs->v[fs->n].value = msp_strdup(value)) == NULL)
		return MSP_ENOMEM;
	fs->v[fs->n++].count = 1;
	return 0;
}

static int
facet_cmp(const void *a, const void *b)
{
	const struct facet *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->value, y->value);
}

static int
facets_emit(struct facets *fs, const char *field, json_object *arr)
{
	size_t i;

	if (fs->n > 1)
		qsort(fs->v, fs->n, sizeof(*fs->v), facet_cmp);
	for (i = 0; i < fs->n; i++) {
		json_object *o = json_object_new_object();
		if (o == NULL)
			return MSP_ENOMEM;
		json_object_object_add(o, "type",
		    json_object_new_string("facet"));
		json_object_object_add(o, "v", json_object_new_int(1));
		json_object_object_add(o, "field",
		    json_object_new_string(field));
		json_object_object_add(o, "value",
		    json_object_new_string(fs->v[i].value));
		json_object_object_add(o, "count",
		    json_object_new_int64(fs->v[i].count));
		json_object_array_add(arr, o);
	}
	return 0;
}

static void
facets_free(struct facets *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		free(fs->v[i].value);
	free(fs->v);
}

/* ---- hits ----------------------------------------------------------- */

static int
is_mark_term(const struct qctx *c, const char *term)
{
	return c->nmarks > 0 && bsearch(&term, c->marks, c->nmarks,
	    sizeof(*c->marks), str_cmp) != NULL;
}

struct span {
	size_t start, end;
	int hit;
};

#define SNIPPET_WORDS 24 /* words of a snippet */
#define SNIPPET_BEFORE 6 /* words shown before the first match */

struct spans {
	struct span *v;
	size_t n, cap;
	const struct qctx *c;
	size_t hits;
	size_t first; /* the first hit, when hits > 0 */
};

static int
span_add(const char *term, size_t n, size_t start, size_t end, void *arg)
{
	struct spans *s = arg;

	(void)n;
	if (s->n == s->cap) { /* the first 64 live on the caller's stack */
		size_t nc = s->cap * 2;
		struct span *nv = malloc(nc * sizeof(*nv));
		if (nv == NULL)
			return MSP_ENOMEM;
		memcpy(nv, s->v, s->n * sizeof(*nv));
		if (s->cap > 64)
			free(s->v);
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n].start = start;
	s->v[s->n].end = end;
	s->v[s->n].hit = is_mark_term(s->c, term);
	if (s->v[s->n].hit && s->hits++ == 0)
		s->first = s->n;
	s->n++;
	/* enough: the window and one word to show that more follows */
	if (s->hits > 0 && s->n > SNIPPET_WORDS + 1 &&
	    s->n > (s->first > SNIPPET_BEFORE ? s->first - SNIPPET_BEFORE :
	    0) + SNIPPET_WORDS)
		return 1;
	return 0;
}

/* text with its matched words marked, cut to a window around the first
 * match when long; NULL on OOM. *hits gets the number of marked words. */
static char *
snippet(const struct qctx *c, const char *text, size_t *hits)
{
	struct span stack[64];
	struct spans s = { stack, 0, 64, c, 0, 0 };
	struct buf b = { 0 };
	size_t i, first = 0, last, from, to, n = strlen(text);
	int rc = 0;

	*hits = 0;
	if (msp_text_words(text, n, span_add, &s) < 0) {
		if (s.cap > 64)
			free(s.v);
		return NULL;
	}
	*hits = s.hits;
	for (i = 0; i < s.n; i++)
		if (s.v[i].hit) {
			first = i;
			break;
		}
	if (s.n <= SNIPPET_WORDS) {
		first = 0;
		last = s.n;
	} else {
		first = first > SNIPPET_BEFORE ? first - SNIPPET_BEFORE : 0;
		last = first + SNIPPET_WORDS;
		if (last > s.n)
			last = s.n;
	}
	from = first > 0 ? s.v[first].start : 0;
	to = last < s.n ? s.v[last - 1].end : n;
	if (first > 0)
		rc = buf_add(&b, "\xe2\x80\xa6", 3); /* … */
	for (i = first; rc == 0 && i < last; i++) {
		if (!s.v[i].hit)
			continue;
		rc = buf_add(&b, text + from, s.v[i].start - from);
		rc = rc ? rc : buf_add(&b, MSP_SEARCH_MARK_OPEN,
		    strlen(MSP_SEARCH_MARK_OPEN));
		rc = rc ? rc : buf_add(&b, text + s.v[i].start,
		    s.v[i].end - s.v[i].start);
		rc = rc ? rc : buf_add(&b, MSP_SEARCH_MARK_CLOSE,
		    strlen(MSP_SEARCH_MARK_CLOSE));
		from = s.v[i].end;
	}
	if (rc == 0 && to > from)
		rc = buf_add(&b, text + from, to - from);
	if (rc == 0 && last < s.n)
		rc = buf_add(&b, "\xe2\x80\xa6", 3);
	if (rc == 0)
		rc = buf_add(&b, "", 1);
	if (s.cap > 64)
		free(s.v);
	if (rc != 0) {
		free(b.p);
		return NULL;
	}
	return (char *)b.p;
}

static json_object *
jdouble(double d)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.4f", d);
	return json_object_new_double_s(d, buf);
}

static json_object *
explain(struct qctx *c, uint32_t doc)
{
	json_object *arr = json_object_new_array();
	size_t i, j, f;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < c->ng; i++) {
		struct qgroup *g = &c->g[i];
		struct fpart parts[MSP_SF_COUNT], best[MSP_SF_COUNT];
		const struct qexp *bx = NULL;
		double bs = -1;
		json_object *o, *fa;

		for (j = 0; j < g->nx; j++) {
			MDB_val v;
			double sc;
			if (!use(c, &g->x[j]) ||
			    post_get(c, &g->x[j], doc, &v) != 0)
				continue;
			sc = g->x[j].idf * g->x[j].pen *
			    post_score(c, v.mv_data, v.mv_size, parts);
			if (sc > bs) {
				bs = sc;
				bx = &g->x[j];
				memcpy(best, parts, sizeof(best));
			}
		}
		if (bx == NULL || (o = json_object_new_object()) == NULL)
			continue;
		json_object_object_add(o, "word", json_object_new_string(
		    g->word));
		json_object_object_add(o, "term", json_object_new_string(
		    bx->term));
		json_object_object_add(o, "prefix", json_object_new_boolean(
		    bx->prefix));
		json_object_object_add(o, "edits", json_object_new_int(
		    bx->edits));
		if (g->phrase >= 0)
			json_object_object_add(o, "phrase", json_object_new_int(
			    g->phrase + 1));
		json_object_object_add(o, "df", json_object_new_int64(bx->df));
		json_object_object_add(o, "idf", jdouble(bx->idf));
		json_object_object_add(o, "factor", jdouble(bx->pen));
		json_object_object_add(o, "score", jdouble(bs));
		fa = json_object_new_array();
		for (f = 0; f < MSP_SF_COUNT; f++) {
			json_object *p;
			if (best[f].tf == 0 ||
			    (p = json_object_new_object()) == NULL)
				continue;
			json_object_object_add(p, "field",
			    json_object_new_string(msp_search_field_names[f]));
			json_object_object_add(p, "tf",
			    json_object_new_int64(best[f].tf));
			json_object_object_add(p, "length",
			    json_object_new_int64(best[f].len));
			json_object_object_add(p, "avgLength",
			    jdouble(c->avg[f]));
			json_object_object_add(p, "weight",
			    jdouble(msp_search_field_weights[f]));
			json_object_object_add(p, "score",
			    jdouble(best[f].score * bx->idf * bx->pen));
			json_object_array_add(fa, p);
		}
		json_object_object_add(o, "fields", fa);
		json_object_array_add(arr, o);
	}
	return arr;
}

static int
emit_hit(struct qctx *c, const struct cand *h, msp_each_fn fn, void *arg,
    struct msp_err *e)
{
	unsigned char dk[5];
	json_object *o, *g;
	const char *title, *about;
	char *snip = NULL;
	struct docrec d;
	size_t hits = 0;
	unsigned i;
	MDB_val v, cv;
	int rc;

	dk[0] = 'D';
	be32_put(dk + 1, h->doc);
	rc = msp_db_get(c->st, c->t, MSP_DB_SEARCH, dk, 5, &v, e);
	if (rc != 0)
		return rc == MSP_ENOTFOUND ? 0 : rc;
	dk[0] = 'C';
	rc = msp_db_get(c->st, c->t, MSP_DB_SEARCH, dk, 5, &cv, e);
	if (rc != 0)
		return rc == MSP_ENOTFOUND ? 0 : rc;
	if (doc_parse(v.mv_data, v.mv_size, &d) != 0 || cv.mv_size < 2 ||
	    ((const char *)cv.mv_data)[cv.mv_size - 1] != '\0')
		return 0;
	title = cv.mv_data;
	about = title + strlen(title) + 1;
	if (about >= (const char *)cv.mv_data + cv.mv_size)
		about = "";
	if (*about != '\0' && (snip = snippet(c, about, &hits)) == NULL)
		return nomem(e);
	if (hits == 0) {
		char *ts = snippet(c, title, &hits);
		if (ts == NULL) {
			free(snip);
			return nomem(e);
		}
		if (hits > 0 || snip == NULL) {
			free(snip);
			snip = ts;
		} else {
			free(ts);
		}
	}
	if ((o = json_object_new_object()) == NULL) {
		free(snip);
		return nomem(e);
	}
	json_object_object_add(o, "type", json_object_new_string("hit"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "id", json_object_new_string(d.id));
	json_object_object_add(o, "score", jdouble(h->score));
	json_object_object_add(o, "title", json_object_new_string(title));
	json_object_object_add(o, "snippet", json_object_new_string(snip));
	json_object_object_add(o, "videoType", json_object_new_string(
	    (d.flags & F_LONG) ? "long" : "short"));
	if (*d.language != '\0')
		json_object_object_add(o, "language",
		    json_object_new_string(d.language));
	if ((d.flags & F_LONG) || d.ngenres > 0) {
		g = json_object_new_array();
		for (i = 0; i < d.ngenres; i++)
			json_object_array_add(g,
			    json_object_new_string(d.genres[i]));
		json_object_object_add(o, "genres", g);
	}
	json_object_object_add(o, "isPremium",
	    json_object_new_boolean((d.flags & F_PREMIUM) != 0));
	if (c->q->explain) {
		c->typos = h->typo;
		json_object_object_add(o, "explain", explain(c, h->doc));
	}
	rc = fn(o, arg, e);
	json_object_put(o);
	free(snip);
	return rc;
}

/* rank order: higher score first, then older document first */
static int
rank_before(const struct cand *a, const struct cand *b)
{
	if (a->typo != b->typo)
		return a->typo < b->typo;
	if (a->score != b->score)
		return a->score > b->score;
	return a->doc < b->doc;
}

static int
rank_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (rank_before(x, y))
		return -1;
	return rank_before(y, x) ? 1 : 0;
}

/* Move the best k candidates to the front, in rank order (a heap of the
 * k best so far, its worst at the root). */
static void
top_k(struct cands *cs, size_t k)
{
	struct cand *h = cs->v, x;
	size_t i, n = 0, j, l;

	if (k >= cs->n) {
		if (cs->n > 1)
			qsort(cs->v, cs->n, sizeof(*cs->v), rank_cmp);
		return;
	}
	for (i = 0; i < cs->n; i++) {
		x = cs->v[i];
		if (n < k) { /* sift up */
			j = n++;
			while (j > 0 && rank_before(&h[(j - 1) / 2], &x)) {
				h[j] = h[(j - 1) / 2];
				j = (j - 1) / 2;
			}
			h[j] = x;
		} else if (rank_before(&x, &h[0])) { /* replace the worst */
			j = 0;
			for (;;) {
				l = 2 * j + 1;
				if (l >= n)
					break;
				if (l + 1 < n && rank_before(&h[l], &h[l + 1]))
					l++;
				if (!rank_before(&x, &h[l]))
					break;
				h[j] = h[l];
				j = l;
			}
			h[j] = x;
		}
	}
	qsort(h, n, sizeof(*h), rank_cmp);
}

static int
group_cmp(const void *a, const void *b)
{
	const struct qgroup *const *x = a, *const *y = b;

	if ((*x)->sumdf != (*y)->sumdf)
		return (*x)->sumdf < (*y)->sumdf ? -1 : 1;
	return 0;
}

/* The documents holding every word (with this pass's expansions), by
 * document number: the rarest word first. */
static int
match_all(struct qctx *c, struct cands *cs, struct cands *tmp,
    struct msp_err *e)
{
	struct qgroup *order[MSP_SEARCH_WORDS_MAX];
	size_t i, nx;
	int rc;

	cs->n = 0;
	for (i = 0; i < c->ng; i++) {
		order[i] = &c->g[i];
		order[i]->sumdf = group_df(c, order[i], &nx);
		if (nx == 0)
			return 0;
	}
	qsort(order, c->ng, sizeof(*order), group_cmp);
	for (i = 0; i < c->ng; i++) {
		if (i == 0)
			rc = gather(c, order[0], cs, e);
		else
			rc = intersect(c, order[i], cs, tmp, e);
		if (rc != 0)
			return rc;
		if (cs->n == 0)
			break;
	}
	return 0;
}

/* Keep the candidates that hold the phrases and pass the genre and
 * language filters; count the facets when fg is not NULL. */
static int
filter(struct qctx *c, struct cands *cs, struct facets *fg,
    struct facets *fl, struct msp_err *e)
{
	const struct msp_search_query *q = c->q;
	int need_doc = q->genre != NULL || q->language != NULL || fg != NULL;
	size_t i, w;
	int rc;

	for (i = 0, w = 0; i < cs->n; i++) {
		int p, keep = 1;
		for (p = 0; p < c->nphrase && keep; p++)
			keep = phrase_match(c, p, cs->v[i].doc);
		if (keep && need_doc) {
			unsigned char dk[5];
			struct docrec d;
			MDB_val v;
			unsigned gi;

			dk[0] = 'D';
			be32_put(dk + 1, cs->v[i].doc);
			rc = msp_db_get(c->st, c->t, MSP_DB_SEARCH, dk, 5, &v, e);
			if (rc != 0 && rc != MSP_ENOTFOUND)
				return rc;
			keep = rc == 0 && doc_parse(v.mv_data, v.mv_size,
			    &d) == 0;
			if (keep && q->language != NULL)
				keep = strcmp(d.language, q->language) == 0;
			if (keep && q->genre != NULL) {
				for (gi = 0; gi < d.ngenres; gi++)
					if (strcmp(d.genres[gi], q->genre) == 0)
						break;
				keep = gi < d.ngenres;
			}
			if (keep && fg != NULL) {
				rc = facet_add(fl, d.language);
				for (gi = 0; rc == 0 && gi < d.ngenres; gi++)
					rc = facet_add(fg, d.genres[gi]);
				if (rc != 0)
					return nomem(e);
			}
		}
		if (keep)
			cs->v[w++] = cs->v[i];
	}
	cs->n = w;
	return 0;
}

int
msp_search_run(struct msp_store *st, MDB_txn *t,
    const struct msp_search_query *q, msp_each_fn fn, void *arg,
    long *total, json_object **facets, struct msp_err *e)
{
	struct qctx *c;
	struct cands cs = { 0 }, tmp = { 0 };
	struct facets fg = { 0 }, fl = { 0 };
	size_t i, j, k, nm = 0, typo_exps;
	int rc;

	if (total != NULL)
		*total = 0;
	if (facets != NULL)
		*facets = NULL;
	if ((rc = msp_search_query_check(q->q, e)) != 0)
		return rc;
	if (q->limit < 1 || q->limit > MSP_SEARCH_LIMIT_MAX)
		return msp_err_set(e, MSP_EINVAL, "limit: %ld is not between 1 "
		    "and %d", q->limit, MSP_SEARCH_LIMIT_MAX);
	if (q->offset < 0)
		return msp_err_set(e, MSP_EINVAL, "offset: %ld is negative",
		    q->offset);
	if (q->genre != NULL && !msp_in_set(msp_genres, q->genre))
		return msp_err_set(e, MSP_EINVAL, "genre '%s': unknown",
		    q->genre);
	if (q->language != NULL && !msp_in_set(msp_languages, q->language))
		return msp_err_set(e, MSP_EINVAL, "language '%s': unknown",
		    q->language);
	if (q->video_type != NULL && strcmp(q->video_type, "short") != 0 &&
	    strcmp(q->video_type, "long") != 0)
		return msp_err_set(e, MSP_EINVAL, "type '%s': unknown",
		    q->video_type);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return nomem(e);
	c->st = st;
	c->t = t;
	c->q = q;
	if ((rc = stats_get(st, t, &c->s, e)) != 0)
		goto out;
	for (i = 0; i < MSP_SF_COUNT; i++) {
		c->avg[i] = c->s.docs ? (double)c->s.len[i] / c->s.docs : 1;
		if (c->avg[i] <= 0)
			c->avg[i] = 1;
	}
	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_SEARCH),
	    &c->cur)) != 0) {
		rc = msp_store_mdb_err(rc, "search", e);
		goto out;
	}
	parse_query(c, q->q);
	for (i = 0; i < c->ng; i++)
		if ((rc = expand(c, &c->g[i], 0, e)) != 0)
			goto out;

	/*
	 * First the words as typed (and the completions of the last): when
	 * they fill the page, typo matches, which rank after them, cannot
	 * enter it and are not looked for (unless facets must count them).
	 */
	k = (size_t)q->offset + (size_t)q->limit;
	c->typos = 0;
	if ((rc = match_all(c, &cs, &tmp, e)) != 0)
		goto out;
	if (!q->facets && (rc = filter(c, &cs, NULL, NULL, e)) != 0)
		goto out;
	typo_exps = 0;
	if (q->typos && (q->facets || total != NULL || cs.n < k)) {
		for (i = 0; i < c->ng; i++) {
			size_t before = c->g[i].nx;
			if ((rc = expand(c, &c->g[i], 1, e)) != 0)
				goto out;
			typo_exps += c->g[i].nx - before;
		}
	}
	if (typo_exps == 0) {
		if (q->facets && (rc = filter(c, &cs, &fg, &fl, e)) != 0)
			goto out;
	} else {
		struct cands all = { 0 };

		/* the typo pass finds a superset; the exact ones rank first
		 * with their scores without typos */
		c->typos = 1;
		if ((rc = match_all(c, &all, &tmp, e)) != 0 ||
		    (rc = filter(c, &all, q->facets ? &fg : NULL, &fl,
		    e)) != 0) {
			free(all.v);
			goto out;
		}
		for (i = 0, j = 0; i < all.n; i++) {
			while (j < cs.n && cs.v[j].doc < all.v[i].doc)
				j++;
			if (j < cs.n && cs.v[j].doc == all.v[i].doc)
				all.v[i].score = cs.v[j].score;
			else
				all.v[i].typo = 1;
		}
		free(cs.v);
		cs = all;
	}
	if (total != NULL)
		*total = (long)cs.n;

	/* the terms to highlight */
	for (i = 0; i < c->ng; i++)
		nm += c->g[i].nx;
	if ((c->marks = calloc(nm + 1, sizeof(*c->marks))) == NULL) {
		rc = nomem(e);
		goto out;
	}
	for (i = 0; i < c->ng; i++)
		for (j = 0; j < c->g[i].nx; j++)
			if (c->typos || c->g[i].x[j].edits == 0)
				c->marks[c->nmarks++] = c->g[i].x[j].term;
	qsort(c->marks, c->nmarks, sizeof(*c->marks), str_cmp);

	top_k(&cs, k);
	for (i = (size_t)q->offset; i < k && i < cs.n; i++)
		if ((rc = emit_hit(c, &cs.v[i], fn, arg, e)) != 0)
			goto out;
	if (q->facets && facets != NULL) {
		if ((*facets = json_object_new_array()) == NULL ||
		    facets_emit(&fg, "genre", *facets) != 0 ||
		    facets_emit(&fl, "language", *facets) != 0) {
			rc = nomem(e);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc != 0 && facets != NULL && *facets != NULL) {
		json_object_put(*facets);
		*facets = NULL;
	}
	facets_free(&fg);
	facets_free(&fl);
	free(cs.v);
	free(tmp.v);
	if (c->cur != NULL)
		mdb_cursor_close(c->cur);
	for (i = 0; i < c->ng; i++)
		free(c->g[i].x);
	free(c->marks);
	free(c);
	return rc;
}
