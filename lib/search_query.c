/*
 * search: the query planner. A query's words, their expansions (as typed,
 * completions, typos), the documents holding every word, rarest first,
 * the phrase and type filters, and the run that puts a page together.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
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

/* ---- queries -------------------------------------------------------- */

int msp_search_exhaustive;

/*
 * The big arrays of a query (candidates, matches, scores) come from
 * blocks the thread's earlier queries gave back: malloc returns big
 * blocks to the system when they are freed, and touching fresh pages
 * costs a query with 100,000 candidates more than the walk itself. A
 * thread keeps at most QMEM_KEEP bytes in at most QMEM_SLOTS blocks;
 * they are freed when it ends. A word held by 600,000 documents (a
 * corpus of a million) needs blocks of about 40 MB: with less kept, each
 * such query faulted in fresh pages and took 2.5 times as long.
 */
#define QMEM_SLOTS 6
#define QMEM_KEEP ((size_t)128 << 20)
#define QMEM_HDR 16 /* the block's size, before what the caller gets */

struct qmem {
	void *b[QMEM_SLOTS];
	size_t cap[QMEM_SLOTS];
	size_t n, bytes;
};

static pthread_key_t qmem_key;
static pthread_once_t qmem_once = PTHREAD_ONCE_INIT;
static int qmem_ok;

static void
qmem_drop(void *arg)
{
	struct qmem *m = arg;
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->b[i]);
	free(m);
}

static void
qmem_init(void)
{
	qmem_ok = pthread_key_create(&qmem_key, qmem_drop) == 0;
}

static struct qmem *
qmem_get(void)
{
	struct qmem *m;

	if (pthread_once(&qmem_once, qmem_init) != 0 || !qmem_ok)
		return NULL;
	if ((m = pthread_getspecific(qmem_key)) == NULL &&
	    (m = calloc(1, sizeof(*m))) != NULL &&
	    pthread_setspecific(qmem_key, m) != 0) {
		free(m);
		m = NULL;
	}
	return m;
}

static size_t
qmem_cap(const void *p)
{
	size_t cap;

	memcpy(&cap, (const unsigned char *)p - QMEM_HDR, sizeof(cap));
	return cap;
}

/* Room for n elements of size bytes at *pp (NULL or from here); *cap
 * gets the elements the block holds. -1 when out of memory. */
static int
qmem_grow(void *pp, size_t *cap, size_t n, size_t size)
{
	void **p = pp;
	struct qmem *m;
	unsigned char *b = NULL;
	size_t want, i, best = QMEM_SLOTS;

	if (*p != NULL && n <= *cap)
		return 0;
	if (n < 256)
		n = 256;
	if (*p != NULL && n < *cap * 2)
		n = *cap * 2;
	if (n > (SIZE_MAX - QMEM_HDR) / size)
		return -1;
	want = n * size;
	if (*p == NULL && (m = qmem_get()) != NULL) {
		for (i = 0; i < m->n; i++)
			if (m->cap[i] >= want && (best == QMEM_SLOTS ||
			    m->cap[i] < m->cap[best]))
				best = i;
		if (best < QMEM_SLOTS) {
			b = m->b[best];
			want = m->cap[best];
			m->bytes -= want;
			m->b[best] = m->b[--m->n];
			m->cap[best] = m->cap[m->n];
		}
	}
	if (b == NULL) {
		b = *p == NULL ? NULL : (unsigned char *)*p - QMEM_HDR;
		if ((b = realloc(b, want + QMEM_HDR)) == NULL)
			return -1;
		memcpy(b, &want, sizeof(want));
	}
	*p = b + QMEM_HDR;
	*cap = want / size;
	return 0;
}

static void
qmem_free(void *p)
{
	struct qmem *m;
	unsigned char *b;
	size_t cap;

	if (p == NULL)
		return;
	b = (unsigned char *)p - QMEM_HDR;
	cap = qmem_cap(p);
	if ((m = qmem_get()) != NULL && cap <= QMEM_KEEP) {
		/* make room by dropping the smallest blocks */
		while (m->n > 0 && (m->n == QMEM_SLOTS ||
		    m->bytes + cap > QMEM_KEEP)) {
			size_t i, s = 0;
			for (i = 1; i < m->n; i++)
				if (m->cap[i] < m->cap[s])
					s = i;
			if (m->cap[s] >= cap)
				break;
			m->bytes -= m->cap[s];
			free(m->b[s]);
			m->b[s] = m->b[--m->n];
			m->cap[s] = m->cap[m->n];
		}
		if (m->n < QMEM_SLOTS && m->bytes + cap <= QMEM_KEEP) {
			m->b[m->n] = b;
			m->cap[m->n++] = cap;
			m->bytes += cap;
			return;
		}
	}
	free(b);
}

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

static int
exp_worse(const struct qexp *a, const struct qexp *b)
{
	if (a->edits != b->edits)
		return a->edits > b->edits;
	if (a->df != b->df)
		return a->df < b->df;
	return strcmp(a->term, b->term) > 0;
}

/* The index of the set's worst expansion. */
static size_t
expset_worst(const struct expset *s)
{
	size_t i, w;

	for (w = 0, i = 1; i < s->n; i++)
		if (exp_worse(&s->v[i], &s->v[w]))
			w = i;
	return w;
}

void
msp_search_expset_add(struct expset *s, const char *term, size_t n, uint32_t df,
    int edits, int prefix)
{
	struct qexp *x;
	size_t i;

	if (n > MSP_TERM_MAX)
		return;
	if (s->n == MSP_SEARCH_EXPAND_MAX) {
		/* full: only one better than the worst gets in (a walk over
		 * a short prefix's thousands of completions mostly stops
		 * here) */
		const struct qexp *w = &s->v[s->worst];
		if (edits != w->edits ? edits > w->edits :
		    df != w->df ? df < w->df :
		    msp_bytes_cmp(term, n, w->term, w->n) >= 0)
			return;
	}
	for (i = 0; i < s->n; i++)
		if (s->v[i].n == n && memcmp(s->v[i].term, term, n) == 0)
			return;
	x = s->n < MSP_SEARCH_EXPAND_MAX ? &s->v[s->n++] : &s->v[s->worst];
	memset(x, 0, sizeof(*x));
	memcpy(x->term, term, n);
	x->n = n;
	x->df = df;
	x->edits = edits;
	x->prefix = prefix;
	if (s->n == MSP_SEARCH_EXPAND_MAX)
		s->worst = expset_worst(s);
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
		msp_search_expset_add(s, (const char *)k.mv_data + 1, k.mv_size - 1,
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
static double
msp_search_idf_of(const struct qctx *c, uint32_t df)
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
	    msp_search_expand_typos(c, g, cps >= 9 ? 2 : 1, s);
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
		x->idf = msp_search_idf_of(c, x->df);
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

static int
cands_push(struct cands *cs, uint32_t doc, double score)
{
	if (cs->n == cs->cap &&
	    qmem_grow(&cs->v, &cs->cap, cs->n + 1, sizeof(*cs->v)) != 0)
		return MSP_ENOMEM;
	memset(&cs->v[cs->n], 0, sizeof(cs->v[cs->n]));
	cs->v[cs->n].doc = doc;
	cs->v[cs->n].score = score;
	cs->n++;
	return 0;
}

/* Room for a candidate's matches, one a word: its index in c->pool. */
static int
pool_new(struct qctx *c, uint32_t *m)
{
	if (c->npool + c->ng > UINT32_MAX || qmem_grow(&c->pool, &c->cappool,
	    c->npool + c->ng, sizeof(*c->pool)) != 0)
		return MSP_ENOMEM;
	*m = (uint32_t)c->npool;
	memset(&c->pool[c->npool], 0, c->ng * sizeof(*c->pool));
	c->npool += c->ng;
	return 0;
}

static void
pool_set(struct qctx *c, const struct cand *h, const struct qgroup *g,
    const unsigned char *p, size_t n, const struct qexp *x)
{
	struct cmatch *cm;

	if (c->ng < 2)
		return;
	cm = &c->pool[h->m + (size_t)(g - c->g)];
	cm->p = p;
	cm->n = (uint32_t)n;
	cm->edits = (unsigned char)x->edits;
	cm->prefix = (unsigned char)x->prefix;
}

/* Every posting of expansion x that passes the filters (the "P" keys,
 * or with which 'E' the ones that start a title or name) onto out, each
 * scored; with exact, its exactness too. */
static int
walk_term(struct qctx *c, const struct qexp *x, int which, int exact,
    struct cands *out, struct msp_err *e)
{
	unsigned char key[2 + MSP_TERM_MAX];
	double f = x->idf * x->pen;
	struct cand *h;
	MDB_val k, v;
	int rc;

	key[0] = (unsigned char)which;
	memcpy(key + 1, x->term, x->n);
	key[1 + x->n] = '\0';
	k.mv_size = x->n + 2;
	k.mv_data = key;
	for (rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT)) {
		const unsigned char *kp = k.mv_data;
		if (k.mv_size != x->n + 6 || memcmp(kp, key, x->n + 2) != 0)
			break;
		c->cost.postings++;
		if (v.mv_size < 1 ||
		    !flags_ok(c, *(unsigned char *)v.mv_data))
			continue;
		if (cands_push(out, be32_get(kp + x->n + 2), f *
		    msp_search_post_score(c, v.mv_data, v.mv_size, NULL)) != 0)
			return nomem(e);
		h = &out->v[out->n - 1];
		h->pv = v.mv_data;
		h->pn = (uint32_t)v.mv_size;
		h->edits = (unsigned char)x->edits;
		h->prefix = (unsigned char)x->prefix;
		if (exact)
			h->exact = msp_search_exact1(v.mv_data, v.mv_size,
			    x->prefix);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return msp_store_mdb_err(rc, "search", e);
	return 0;
}

/*
 * The candidates of a group's terms, gathered term by term, put in
 * document order with one for each document: the best (the highest
 * score, the earlier term among equals). A stable radix sort of
 * (document, index) pairs, a byte a pass, skipping the bytes every
 * document shares: the candidates are moved once, not at every step of
 * a comparison sort.
 */
static int
cands_by_doc(struct cands *cs)
{
	uint64_t *a = NULL, *b = NULL, *t;
	struct cand *out = NULL;
	size_t capa = 0, capb = 0, capo = 0, i, j, w, best;
	size_t cnt[256];
	uint32_t all_or = 0, all_and = UINT32_MAX;
	int shift, rc = -1;

	if (cs->n > UINT32_MAX)
		return -1;
	if (qmem_grow(&a, &capa, cs->n, sizeof(*a)) != 0 ||
	    qmem_grow(&b, &capb, cs->n, sizeof(*b)) != 0 ||
	    qmem_grow(&out, &capo, cs->n, sizeof(*out)) != 0)
		goto out;
	for (i = 0; i < cs->n; i++) {
		a[i] = (uint64_t)cs->v[i].doc << 32 | i;
		all_or |= cs->v[i].doc;
		all_and &= cs->v[i].doc;
	}
	for (shift = 32; shift < 64; shift += 8) {
		size_t sum = 0;
		if ((((all_or ^ all_and) >> (shift - 32)) & 0xff) == 0)
			continue; /* the same byte in every document */
		memset(cnt, 0, sizeof(cnt));
		for (i = 0; i < cs->n; i++)
			cnt[(a[i] >> shift) & 0xff]++;
		for (i = 0; i < 256; i++) {
			size_t c = cnt[i];
			cnt[i] = sum;
			sum += c;
		}
		for (i = 0; i < cs->n; i++)
			b[cnt[(a[i] >> shift) & 0xff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (i = 0, w = 0; i < cs->n; i = j) {
		best = (size_t)(a[i] & UINT32_MAX);
		for (j = i + 1; j < cs->n && a[j] >> 32 == a[i] >> 32; j++)
			if (cs->v[a[j] & UINT32_MAX].score > cs->v[best].score)
				best = (size_t)(a[j] & UINT32_MAX);
		out[w++] = cs->v[best];
	}
	qmem_free(cs->v);
	cs->v = out;
	cs->cap = capo;
	cs->n = w;
	out = NULL;
	rc = 0;
out:
	qmem_free(a);
	qmem_free(b);
	qmem_free(out);
	return rc;
}

/* From *i in a and *j in b (both in document order) on, the next two
 * that are the same document; 0 when there are no more. */
static int
cands_meet(const struct cands *a, size_t *i, const struct cands *b,
    size_t *j)
{
	while (*i < a->n && *j < b->n) {
		if (a->v[*i].doc < b->v[*j].doc)
			(*i)++;
		else if (a->v[*i].doc > b->v[*j].doc)
			(*j)++;
		else
			return 1;
	}
	return 0;
}

/* Every document holding one of the group's terms, by document number,
 * with the group's best score. */
static int
gather(struct qctx *c, struct qgroup *g, struct cands *out,
    struct msp_err *e)
{
	size_t i;
	int rc;

	out->n = 0;
	for (i = 0; i < g->nx; i++)
		if (use(c, &g->x[i]) &&
		    (rc = walk_term(c, &g->x[i], 'P', c->ng == 1, out, e)) != 0)
			return rc;
	if (g->nx > 1 && out->n > 1 && cands_by_doc(out) != 0)
		return nomem(e);
	return 0;
}

int
msp_search_post_get(struct qctx *c, const struct qexp *x, uint32_t doc, MDB_val *v)
{
	unsigned char key[2 + MSP_TERM_MAX + 4];
	MDB_val k;

	c->cost.lookups++;
	key[0] = 'P';
	memcpy(key + 1, x->term, x->n);
	key[1 + x->n] = '\0';
	be32_put(key + 2 + x->n, doc);
	k.mv_size = x->n + 6;
	k.mv_data = key;
	return mdb_get(c->t, msp_store_dbi(c->st, MSP_DB_SEARCH), &k, v);
}

/* Of two expansions scoring the same, the one the group lists first. */
static int
hit_before(const struct qexp *a, const struct qexp *b)
{
	return b == NULL || a < b;
}

static int
qexp_ptr_cmp(const void *a, const void *b)
{
	const struct qexp *const *x = a, *const *y = b;

	return strcmp((*x)->term, (*y)->term);
}

/* The group's used expansions sorted by term (malloc'd); *nx their
 * number. */
static struct qexp **
exps_sorted(const struct qctx *c, struct qgroup *g, size_t *nx)
{
	struct qexp **xs;
	size_t j;

	*nx = 0;
	if ((xs = malloc((g->nx + 1) * sizeof(*xs))) == NULL)
		return NULL;
	for (j = 0; j < g->nx; j++)
		if (use(c, &g->x[j]))
			xs[(*nx)++] = &g->x[j];
	qsort(xs, *nx, sizeof(*xs), qexp_ptr_cmp);
	return xs;
}

/*
 * The best posting in doc of the expansions xs (sorted by term): the
 * document's distinct terms ("D") against them, so that a document costs
 * one read and one more for each term it holds, however many the group
 * has and however long their lists are. *bx is NULL when it holds none.
 */
static int
best_in_doc(struct qctx *c, struct qexp **xs, size_t nx, uint32_t doc,
    double *best, const struct qexp **bx, MDB_val *bv, struct msp_err *e)
{
	const char *term;
	unsigned char dk[5];
	struct docrec d;
	MDB_val v;
	int rc;

	*best = -1;
	*bx = NULL;
	dk[0] = 'D';
	be32_put(dk + 1, doc);
	c->cost.lookups++;
	rc = msp_db_get(c->st, c->t, MSP_DB_SEARCH, dk, 5, &v, e);
	if (rc == MSP_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (msp_search_doc_parse(v.mv_data, v.mv_size, &d) != 0)
		return 0;
	for (term = d.terms; term < d.terms_end; term += strlen(term) + 1) {
		struct qexp key, *kp = &key, **hit;
		double sc;
		size_t tn = strlen(term);

		if (tn == 0 || tn > MSP_TERM_MAX)
			continue;
		memcpy(key.term, term, tn + 1);
		if ((hit = bsearch(&kp, xs, nx, sizeof(*xs),
		    qexp_ptr_cmp)) == NULL)
			continue;
		rc = msp_search_post_get(c, *hit, doc, &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			return msp_store_mdb_err(rc, "search", e);
		sc = (*hit)->idf * (*hit)->pen *
		    msp_search_post_score(c, v.mv_data, v.mv_size, NULL);
		if (sc > *best || (sc == *best && hit_before(*hit, *bx))) {
			*best = sc;
			*bx = *hit;
			*bv = v;
		}
	}
	return 0;
}

/* The index of the first candidate from i on whose document is at
 * least doc (cs is in document order). */
static size_t
cand_seek(const struct cands *cs, size_t i, uint32_t doc)
{
	size_t lo = i, hi = cs->n, step = 1;

	/* gallop, then halve */
	while (lo + step < cs->n && cs->v[lo + step].doc < doc) {
		lo += step;
		step *= 2;
	}
	if (lo + step < hi)
		hi = lo + step;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cs->v[mid].doc < doc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* From x's posting in doc (key holds x's "P" prefix) toward document
 * next: a step to the next posting where x's postings are dense (about
 * 16 or fewer between), a seek where they are sparse. */
static int
post_advance(struct qctx *c, unsigned char *key, const struct qexp *x,
    uint32_t doc, uint32_t next, double dens, MDB_val *k, MDB_val *v)
{
	if ((double)(next - doc) * dens > 16) {
		be32_put(key + 2 + x->n, next);
		k->mv_size = x->n + 6;
		k->mv_data = key;
		c->cost.lookups++;
		return mdb_cursor_get(c->cur, k, v, MDB_SET_RANGE);
	}
	c->cost.postings++;
	return mdb_cursor_get(c->cur, k, v, MDB_NEXT);
}

/*
 * Keep the candidates that hold one of the group's terms, adding the
 * best one's score. Each term's list is met with the candidates in
 * document order: a step to the next posting where they are dense, a
 * seek past the gap where they are sparse, so that a term costs about
 * the smaller of its list and the candidates.
 */
static int
intersect_merge(struct qctx *c, struct qgroup *g, struct cands *cs,
    struct msp_err *e)
{
	unsigned char key[2 + MSP_TERM_MAX + 4];
	size_t gi = (size_t)(g - c->g), i, j, w, capbs = 0;
	double *bs = NULL;
	int rc = 0;

	if (cs->n == 0)
		return 0;
	if (qmem_grow(&bs, &capbs, cs->n, sizeof(*bs)) != 0)
		return nomem(e);
	for (i = 0; i < cs->n; i++)
		bs[i] = -1;
	for (j = 0; j < g->nx && rc == 0; j++) {
		const struct qexp *x = &g->x[j];
		double f = x->idf * x->pen, dens;
		MDB_val k, v;

		if (!use(c, x))
			continue;
		/* postings between two documents, on average */
		dens = c->s.next > 0 ? (double)x->df / (double)c->s.next : 1;
		key[0] = 'P';
		memcpy(key + 1, x->term, x->n);
		key[1 + x->n] = '\0';
		i = 0;
		be32_put(key + 2 + x->n, cs->v[0].doc);
		k.mv_size = x->n + 6;
		k.mv_data = key;
		c->cost.lookups++;
		rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);
		while (rc == 0) {
			const unsigned char *kp = k.mv_data;
			uint32_t doc;

			if (k.mv_size != x->n + 6 ||
			    memcmp(kp, key, x->n + 2) != 0)
				break;
			doc = be32_get(kp + x->n + 2);
			if (doc > cs->v[i].doc &&
			    (i = cand_seek(cs, i, doc)) == cs->n)
				break;
			if (doc == cs->v[i].doc) {
				double sc = f * msp_search_post_score(c,
				    v.mv_data, v.mv_size, NULL);
				if (sc > bs[i]) {
					/* the group's match: in the pool, or
					 * for one word in the candidate */
					struct cand *h = &cs->v[i];
					bs[i] = sc;
					if (c->ng < 2) {
						h->pv = v.mv_data;
						h->pn = (uint32_t)v.mv_size;
						h->edits = (unsigned char)x->edits;
						h->prefix = (unsigned char)x->prefix;
					} else {
						struct cmatch *cm =
						    &c->pool[h->m + gi];
						cm->p = v.mv_data;
						cm->n = (uint32_t)v.mv_size;
						cm->edits = (unsigned char)x->edits;
						cm->prefix = (unsigned char)x->prefix;
					}
				}
				if (++i == cs->n)
					break;
			}
			rc = post_advance(c, key, x, doc, cs->v[i].doc, dens,
			    &k, &v);
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
		if (rc != 0)
			rc = msp_store_mdb_err(rc, "search", e);
	}
	for (i = 0, w = 0; rc == 0 && i < cs->n; i++) {
		if (bs[i] < 0)
			continue;
		cs->v[w] = cs->v[i];
		cs->v[w].score += bs[i];
		if (c->ng == 1) { /* start_first: the word's best posting */
			struct cand *h = &cs->v[w];
			h->exact = msp_search_exact1(h->pv, h->pn, h->prefix);
		}
		w++;
	}
	if (rc == 0)
		cs->n = w;
	qmem_free(bs);
	return rc;
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

	if (!c->exhaustive)
		return intersect_merge(c, g, cs, e);
	if ((uint64_t)cs->n * nx * 8 < df) {
		for (i = 0, w = 0; i < cs->n; i++) {
			const struct qexp *bx = NULL;
			double best = -1;
			MDB_val bv = { 0, NULL };
			for (j = 0; j < g->nx; j++) {
				MDB_val v;
				double sc;
				if (!use(c, &g->x[j]))
					continue;
				rc = msp_search_post_get(c, &g->x[j], cs->v[i].doc, &v);
				if (rc == MDB_NOTFOUND)
					continue;
				if (rc != 0)
					return msp_store_mdb_err(rc, "search",
					    e);
				sc = g->x[j].idf * g->x[j].pen *
				    msp_search_post_score(c, v.mv_data, v.mv_size, NULL);
				if (sc > best) {
					best = sc;
					bx = &g->x[j];
					bv = v;
				}
			}
			if (best >= 0) {
				cs->v[w] = cs->v[i];
				cs->v[w].score += best;
				pool_set(c, &cs->v[w++], g, bv.mv_data,
				    bv.mv_size, bx);
			}
		}
		cs->n = w;
		return 0;
	}
	if ((rc = gather(c, g, tmp, e)) != 0)
		return rc;
	for (i = 0, j = 0, w = 0; cands_meet(cs, &i, tmp, &j); i++, j++) {
		struct qexp x = { .edits = tmp->v[j].edits,
		    .prefix = tmp->v[j].prefix };
		cs->v[w] = cs->v[i];
		cs->v[w].score += tmp->v[j].score;
		pool_set(c, &cs->v[w++], g, tmp->v[j].pv, tmp->v[j].pn, &x);
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
			    msp_search_post_get(c, &c->g[i].x[0], doc, &v[nw]) != 0)
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
	size_t i, j, nx;
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
		for (j = 0; i == 0 && c->ng > 1 && j < cs->n; j++) {
			struct cand *h = &cs->v[j];
			struct qexp x = { .edits = h->edits,
			    .prefix = h->prefix };
			if (pool_new(c, &h->m) != 0)
				return nomem(e);
			pool_set(c, h, order[0], h->pv, h->pn, &x);
		}
	}
	return 0;
}

static int filter(struct qctx *c, struct cands *cs, struct facets *fg,
    struct facets *fl, struct msp_err *e);

/*
 * The candidates (one a document, in document order, each with its best
 * term so far in xi) that hold term x (the group's xi-th) without
 * starting with it: those not among its "E" documents ed[0..ne). Each is
 * looked for in x's list, a step to the next posting where they are
 * dense, a seek where they are sparse; x's posting becomes a
 * candidate's best when it scores more (or the same, x coming first).
 */
static int
start_others(struct qctx *c, const struct qexp *x, size_t xi,
    struct cands *cs, const uint32_t *ed, size_t ne, struct msp_err *e)
{
	unsigned char key[2 + MSP_TERM_MAX + 4];
	double f = x->idf * x->pen, dens;
	size_t i, j, nm = 0, capm = 0, m;
	uint32_t *miss = NULL;
	MDB_val k, v;
	int rc = 0;

	if (ne >= cs->n)
		return 0;
	if (qmem_grow(&miss, &capm, cs->n - ne, sizeof(*miss)) != 0)
		return nomem(e);
	for (i = 0, j = 0; i < cs->n; i++) {
		while (j < ne && ed[j] < cs->v[i].doc)
			j++;
		if (j == ne || ed[j] != cs->v[i].doc)
			miss[nm++] = (uint32_t)i;
	}
	dens = c->s.next > 0 ? (double)x->df / (double)c->s.next : 1;
	key[0] = 'P';
	memcpy(key + 1, x->term, x->n);
	key[1 + x->n] = '\0';
	k.mv_size = x->n + 6;
	k.mv_data = key;
	m = 0;
	if (nm > 0) {
		be32_put(key + 2 + x->n, cs->v[miss[0]].doc);
		c->cost.lookups++;
		rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);
	}
	while (m < nm && rc == 0) {
		const unsigned char *kp = k.mv_data;
		struct cand *h;
		uint32_t doc;

		if (k.mv_size != x->n + 6 || memcmp(kp, key, x->n + 2) != 0)
			break;
		doc = be32_get(kp + x->n + 2);
		while (m < nm && cs->v[miss[m]].doc < doc)
			m++;
		if (m == nm)
			break;
		h = &cs->v[miss[m]];
		if (h->doc == doc) {
			double sc = f * msp_search_post_score(c, v.mv_data,
			    v.mv_size, NULL);
			if (sc > h->score || (sc == h->score && xi < h->xi)) {
				h->score = sc;
				h->pv = v.mv_data;
				h->pn = (uint32_t)v.mv_size;
				h->edits = (unsigned char)x->edits;
				h->prefix = (unsigned char)x->prefix;
				h->xi = (unsigned char)xi;
			}
			if (++m == nm)
				break;
			h = &cs->v[miss[m]];
		}
		rc = post_advance(c, key, x, doc, h->doc, dens, &k, &v);
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc != 0)
		rc = msp_store_mdb_err(rc, "search", e);
	qmem_free(miss);
	return rc;
}

/*
 * A one-word query asked for a page only (no total, no facets): the
 * documents whose title or name starts with one of the word's terms
 * ("E") are the only ones that can match it exactly, and exactness ranks
 * before BM25. When k of them match exactly and pass the filters, they
 * hold the page, and the word's long lists are not walked; else *done is
 * 0 and cs is empty. With many terms (completions), each such document
 * is scored with the best of the terms it holds, as a walk would.
 */
static int
start_first(struct qctx *c, size_t k, struct cands *cs, int *done,
    struct msp_err *e)
{
	struct qgroup *g = &c->g[0];
	uint32_t *edocs = NULL;
	size_t i, nx, nexact = 0, capd = 0, *run = NULL;
	uint64_t df = group_df(c, g, &nx);
	int rc = 0;

	*done = 0;
	cs->n = 0;
	if (nx == 0)
		return 0;
	if (nx > 1 && (qmem_grow(&edocs, &capd, 256, sizeof(*edocs)) != 0 ||
	    (run = calloc(g->nx + 1, sizeof(*run))) == NULL)) {
		rc = nomem(e);
		goto out;
	}
	for (i = 0; i < g->nx; i++) {
		size_t from = cs->n, j;
		if (use(c, &g->x[i]) &&
		    (rc = walk_term(c, &g->x[i], 'E', 1, cs, e)) != 0)
			goto out;
		if (nx == 1)
			continue;
		/* term i's "E" documents, in order */
		if (qmem_grow(&edocs, &capd, cs->n, sizeof(*edocs)) != 0) {
			rc = nomem(e);
			goto out;
		}
		for (j = from; j < cs->n; j++) {
			cs->v[j].xi = (unsigned char)i;
			edocs[j] = cs->v[j].doc;
		}
		run[i + 1] = cs->n;
	}
	if (nx > 1) {
		/* each document once, with its best term */
		if ((uint64_t)cs->n * 4 >= df)
			goto none; /* no cheaper than the walk */
		if (cands_by_doc(cs) != 0) {
			rc = nomem(e);
			goto out;
		}
		/* and the terms it holds but does not start with */
		for (i = 0; i < g->nx && rc == 0; i++)
			if (use(c, &g->x[i]))
				rc = start_others(c, &g->x[i], i, cs,
				    edocs + run[i], run[i + 1] - run[i], e);
		if (rc != 0)
			goto out;
		for (i = 0; i < cs->n; i++) {
			struct cand *h = &cs->v[i];
			h->exact = msp_search_exact1(h->pv, h->pn, h->prefix);
		}
	}
	if ((rc = filter(c, cs, NULL, NULL, e)) != 0)
		goto out;
	for (i = 0; i < cs->n; i++)
		if (cs->v[i].exact > 0)
			nexact++;
	if (nexact >= k) {
		*done = 1;
		goto out;
	}
none:
	cs->n = 0;
out:
	qmem_free(edocs);
	free(run);
	return rc;
}

/* An "A" value: the first word's posting, then the second's. */
static int
pair_split(const MDB_val *v, struct cmatch *a, struct cmatch *b)
{
	const unsigned char *p = v->mv_data, *end = p + v->mv_size;
	uint32_t na;
	size_t k = varint_get(p, end, &na);

	if (k == 0 || na < 1 || na >= (size_t)(end - p - k))
		return -1;
	a->p = p + k;
	a->n = na;
	b->p = p + k + na;
	b->n = (uint32_t)(end - b->p);
	return 0;
}

/* Every document holding x (group gi's) followed by y (group gi + 1's)
 * that passes the filters (the "A" keys), onto out: its matches of the
 * two groups in the pool, scored with y's posting; xi is y's index. */
static int
pair_walk(struct qctx *c, size_t gi, const struct qexp *x,
    const struct qexp *y, unsigned char xi, struct cands *out,
    struct msp_err *e)
{
	unsigned char key[PAIR_KEY_MAX];
	char name[PAIR_MAX];
	double f = y->idf * y->pen;
	uint32_t seg, last;
	size_t kn;
	MDB_val k, v;
	int rc = 0;

	memcpy(name, x->term, x->n);
	name[x->n] = PAIR_SEP;
	memcpy(name + x->n + 1, y->term, y->n);
	last = c->s.next > 0 ? (uint32_t)((c->s.next - 1) >> PAIR_SEG_BITS) :
	    0;
	for (seg = 0; seg <= last && rc == 0; seg++) {
		kn = pair_key(key, name, x->n + 1 + y->n,
		    seg << PAIR_SEG_BITS);
		k.mv_size = kn;
		k.mv_data = key;
		c->cost.lookups++;
		for (rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);
		    rc == 0; rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT)) {
			struct cmatch a, b, *cm;
			struct cand *h;
			uint32_t m;

			if (k.mv_size != kn ||
			    memcmp(k.mv_data, key, kn - 4) != 0)
				break;
			c->cost.postings++;
			if (pair_split(&v, &a, &b) != 0 || !flags_ok(c, a.p[0]))
				continue;
			if (pool_new(c, &m) != 0 ||
			    cands_push(out, be32_get((const unsigned char *)
			    k.mv_data + kn - 4), f * msp_search_post_score(c,
			    b.p, b.n, NULL)) != 0)
				return nomem(e);
			h = &out->v[out->n - 1];
			h->m = m;
			h->xi = xi;
			cm = &c->pool[m + gi];
			cm[0] = a;
			cm[0].edits = (unsigned char)x->edits;
			cm[0].prefix = (unsigned char)x->prefix;
			cm[1] = b;
			cm[1].edits = (unsigned char)y->edits;
			cm[1].prefix = (unsigned char)y->prefix;
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (rc != 0)
		return msp_store_mdb_err(rc, "search", e);
	return 0;
}

/* The only expansion group g uses in this pass; NULL when it has none
 * or several. */
static const struct qexp *
only_exp(const struct qctx *c, const struct qgroup *g)
{
	const struct qexp *x = NULL;
	size_t i;

	for (i = 0; i < g->nx; i++)
		if (use(c, &g->x[i])) {
			if (x != NULL)
				return NULL;
			x = &g->x[i];
		}
	return x;
}

/* Is candidate h what it seemed from its pairs: it passes the phrases
 * and the genre and language filters, and the last word's best term in
 * the document (xs, sorted by term) is the one next to the word before
 * it? -1 on error. */
static int
pair_check(struct qctx *c, struct cand *h, struct qexp **xs, size_t nx,
    struct msp_err *e)
{
	struct qgroup *g = &c->g[c->ng - 1];
	struct cands one = { h, 1, 1 };
	const struct qexp *bx;
	double best;
	MDB_val bv;
	int rc;

	if ((rc = filter(c, &one, NULL, NULL, e)) != 0)
		return -1;
	if (one.n == 0)
		return 0;
	if (xs == NULL)
		return 1;
	if (best_in_doc(c, xs, nx, h->doc, &best, &bx, &bv, e) != 0)
		return -1;
	return bx == &g->x[h->xi];
}

/*
 * A query of 2+ words asked for a page only (no total, no facets), the
 * words as typed: the documents where each word comes next to the one
 * before it (the "A" keys of the word pairs) are the only ones whose
 * proximity is 0, and a title or name that starts with the query holds
 * its words next to each other too. Exactness and proximity rank before
 * BM25, so when k of them match, they hold the page and the words' long
 * lists are not walked; else *done is 0 and cs is empty.
 *
 * The last word's completions: a document is met through each pair it
 * holds, and kept with the best-scoring completion next to the word
 * before. Its match is the best-scoring completion it holds anywhere,
 * which may be another, apart: so the candidates are taken in rank order
 * and each one's best completion is looked up, a candidate whose best
 * completion lies apart dropping out (its proximity is more than 0),
 * until k are confirmed. The phrase, genre and language filters are
 * applied the same way, one candidate at a time.
 */
static int
pair_first(struct qctx *c, size_t k, struct cands *cs, struct cands *tmp,
    int *done, struct msp_err *e)
{
	struct qgroup *order[MSP_SEARCH_WORDS_MAX], *last = &c->g[c->ng - 1];
	const struct qexp *one[MSP_SEARCH_WORDS_MAX];
	struct qexp **xs = NULL;
	size_t i, j, w, nx, gi, want, ok;
	int rc = 0, check;

	*done = 0;
	cs->n = 0;
	for (gi = 0; gi + 1 < c->ng; gi++)
		if ((one[gi] = only_exp(c, &c->g[gi])) == NULL)
			return 0;
	for (i = 0, nx = 0; i < last->nx; i++)
		if (use(c, &last->x[i]))
			nx++;
	if (nx == 0 || nx > UCHAR_MAX)
		return 0;

	/* the documents with each pair but the last, then the last's */
	for (gi = 0; gi + 1 < c->ng; gi++) {
		struct cands *dst = gi == 0 ? cs : tmp;

		dst->n = 0;
		if (gi + 2 < c->ng) {
			rc = pair_walk(c, gi, one[gi], one[gi + 1], 0, dst, e);
		} else {
			for (i = 0; i < last->nx && rc == 0; i++)
				if (use(c, &last->x[i]))
					rc = pair_walk(c, gi, one[gi],
					    &last->x[i], (unsigned char)i, dst,
					    e);
			if (rc == 0 && nx > 1 && dst->n > 1 &&
			    cands_by_doc(dst) != 0)
				rc = nomem(e);
		}
		if (rc != 0)
			goto out;
		if (gi == 0)
			continue;
		/* keep the documents that hold this pair too */
		for (i = 0, j = 0, w = 0; cands_meet(cs, &i, tmp, &j);
		    i++, j++) {
			cs->v[w] = cs->v[i];
			c->pool[cs->v[w].m + gi + 1] =
			    c->pool[tmp->v[j].m + gi + 1];
			cs->v[w].xi = tmp->v[j].xi;
			w++;
		}
		cs->n = w;
	}
	if (cs->n < k)
		goto none;

	/* each one's score, its words' added in the order match_all adds
	 * them (the rarest first) */
	for (i = 0; i < c->ng; i++) {
		order[i] = &c->g[i];
		order[i]->sumdf = group_df(c, order[i], &w);
	}
	qsort(order, c->ng, sizeof(*order), group_cmp);
	for (i = 0; i < cs->n; i++) {
		struct cand *h = &cs->v[i];
		const struct cmatch *cm = &c->pool[h->m];
		double sc = 0;
		for (j = 0; j < c->ng; j++) {
			size_t g = (size_t)(order[j] - c->g);
			const struct qexp *x = g + 1 < c->ng ? one[g] :
			    &last->x[h->xi];
			double f = x->idf * x->pen;
			sc += f * msp_search_post_score(c, cm[g].p, cm[g].n,
			    NULL);
		}
		h->score = sc;
		h->seen = 0;
	}

	check = nx > 1 || c->nphrase > 0 || c->genre != NULL ||
	    c->language != NULL;
	if (!check) {
		*done = 1;
		goto out;
	}
	if (nx > 1 && (xs = exps_sorted(c, last, &nx)) == NULL) {
		rc = nomem(e);
		goto out;
	}
	/* the best want in rank order (msp_search_top_k on a copy, which
	 * it reorders), checked until k pass */
	for (want = k * 2;; want *= 2) {
		size_t n = cs->n;
		if (want > n)
			want = n;
		if (qmem_grow(&tmp->v, &tmp->cap, n, sizeof(*tmp->v)) != 0) {
			rc = nomem(e);
			goto out;
		}
		memcpy(tmp->v, cs->v, n * sizeof(*cs->v));
		tmp->n = n;
		msp_search_top_k(c, tmp, want);
		for (i = 0, ok = 0; i < want && ok < k; i++) {
			struct cand *h = &cs->v[cand_seek(cs, 0, tmp->v[i].doc)];
			int r;
			if (h->seen == 0) {
				if ((r = pair_check(c, h, xs, nx, e)) < 0) {
					rc = e->code ? e->code : MSP_ESTORE;
					goto out;
				}
				h->seen = r ? 1 : 2;
			}
			ok += h->seen == 1;
		}
		if (ok == k) {
			/* the page: the ones that passed, in rank order */
			for (j = 0, w = 0; j < i; j++) {
				const struct cand *h = &cs->v[cand_seek(cs, 0,
				    tmp->v[j].doc)];
				if (h->seen == 1)
					tmp->v[w++] = tmp->v[j];
			}
			memcpy(cs->v, tmp->v, w * sizeof(*cs->v));
			cs->n = w;
			*done = 1;
			goto out;
		}
		for (i = 0, w = 0; i < n; i++)
			if (cs->v[i].seen != 2)
				cs->v[w++] = cs->v[i];
		cs->n = w;
		if (want >= n || cs->n < k)
			goto none;
	}
none:
	cs->n = 0;
	c->npool = 0;
out:
	free(xs);
	return rc;
}

/* Keep the candidates that hold the phrases and pass the genre and
 * language filters; count the facets when fg is not NULL. */
static int
filter(struct qctx *c, struct cands *cs, struct facets *fg,
    struct facets *fl, struct msp_err *e)
{
	int need_doc = c->genre != NULL || c->language != NULL || fg != NULL;
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
			keep = rc == 0 && msp_search_doc_parse(v.mv_data, v.mv_size,
			    &d) == 0;
			if (keep && c->language != NULL)
				keep = strcmp(d.language, c->language) == 0;
			if (keep && c->genre != NULL) {
				for (gi = 0; gi < d.ngenres; gi++)
					if (strcmp(d.genres[gi], c->genre) == 0)
						break;
				keep = gi < d.ngenres;
			}
			if (keep && fg != NULL) {
				rc = msp_search_facet_add(fl, d.language);
				for (gi = 0; rc == 0 && gi < d.ngenres; gi++)
					rc = msp_search_facet_add(fg, d.genres[gi]);
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
	const char *genre = q->genre, *language = q->language;
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
	if ((rc = msp_filter_canon(&genre, &language, e)) != 0)
		return rc;
	if (q->video_type != NULL && strcmp(q->video_type, "short") != 0 &&
	    strcmp(q->video_type, "long") != 0)
		return msp_err_set(e, MSP_EINVAL, "type '%s': unknown",
		    q->video_type);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return nomem(e);
	c->st = st;
	c->t = t;
	c->q = q;
	c->genre = genre;
	c->language = language;
	c->exhaustive = msp_search_exhaustive;
	if ((rc = msp_search_stats_get(st, t, &c->s, e)) != 0)
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
	if (c->ng == 1 && !c->exhaustive && !q->facets && total == NULL) {
		int done;
		if ((rc = start_first(c, k, &cs, &done, e)) != 0)
			goto out;
		if (done)
			goto ranked;
	}
	if (c->ng >= 2 && !c->exhaustive && !q->facets && total == NULL) {
		int done;
		if ((rc = pair_first(c, k, &cs, &tmp, &done, e)) != 0)
			goto out;
		c->cost.pairs = done;
		if (done)
			goto ranked;
	}
	if ((rc = match_all(c, &cs, &tmp, e)) != 0)
		goto out;
	if (!q->facets && (rc = filter(c, &cs, NULL, NULL, e)) != 0)
		goto out;
	typo_exps = 0;
	if (q->typos && (q->facets || total != NULL || cs.n < k)) {
		c->cost.typo_pass = 1;
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
		if (cs.n == 0 && c->ng == 1 && !c->exhaustive && !q->facets &&
		    total == NULL) {
			/* nothing matched without a typo: every hit has one */
			int done;
			if ((rc = start_first(c, k, &cs, &done, e)) != 0)
				goto out;
			for (i = 0; done && i < cs.n; i++)
				cs.v[i].typo = 1;
			if (done)
				goto ranked;
		}
		if ((rc = match_all(c, &all, &tmp, e)) != 0 ||
		    (rc = filter(c, &all, q->facets ? &fg : NULL, &fl,
		    e)) != 0) {
			qmem_free(all.v);
			goto out;
		}
		for (i = 0, j = 0; i < all.n; i++) {
			while (j < cs.n && cs.v[j].doc < all.v[i].doc)
				j++;
			if (j < cs.n && cs.v[j].doc == all.v[i].doc)
				all.v[i] = cs.v[j];
			else
				all.v[i].typo = 1;
		}
		qmem_free(cs.v);
		cs = all;
	}
ranked:
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
			if (c->typos || c->g[i].x[j].edits == 0) {
				c->marks[c->nmarks++] = c->g[i].x[j].term;
				c->markc[(unsigned char)c->g[i].x[j].term[0]] = 1;
			}
	qsort(c->marks, c->nmarks, sizeof(*c->marks), str_cmp);

	msp_search_top_k(c, &cs, k);
	for (i = (size_t)q->offset; i < k && i < cs.n; i++)
		if ((rc = msp_search_emit_hit(c, &cs.v[i], fn, arg, e)) != 0)
			goto out;
	if (q->facets && facets != NULL) {
		if ((*facets = json_object_new_array()) == NULL ||
		    msp_search_facets_emit(&fg, "genre", *facets) != 0 ||
		    msp_search_facets_emit(&fl, "language", *facets) != 0) {
			rc = nomem(e);
			goto out;
		}
	}
	for (i = 0; i < c->ng; i++)
		for (j = 0; j < c->g[i].nx; j++)
			if (c->g[i].x[j].edits > 0 || c->g[i].x[j].prefix)
				c->cost.expansions++;
	if (q->cost != NULL)
		*q->cost = c->cost;
	rc = 0;
out:
	if (rc != 0 && facets != NULL && *facets != NULL) {
		json_object_put(*facets);
		*facets = NULL;
	}
	msp_search_facets_free(&fg);
	msp_search_facets_free(&fl);
	qmem_free(cs.v);
	qmem_free(tmp.v);
	if (c->cur != NULL)
		mdb_cursor_close(c->cur);
	for (i = 0; i < c->ng; i++)
		free(c->g[i].x);
	free(c->marks);
	qmem_free(c->pool);
	free(c);
	return rc;
}
