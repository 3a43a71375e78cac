/*
 * search: ranking. Hits are ordered by, in turn: matching without a typo,
 * exactness (a title or name equal to the query, then one starting with
 * it), proximity (the query's words adjacent and in order), fewer typos,
 * BM25, and age (Meilisearch's ranking rules as the model).
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

/* BM25 over the fields holding the term, each weighted. */
double
msp_search_post_score(const struct qctx *c, const unsigned char *p, size_t n,
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
		if (end - q >= 3 && q[0] < 0x80 && q[1] == 1 &&
		    q[2] < 0x80) {
			/* the common case: one byte each, one position */
			len = q[0];
			tf = 1;
			q += 3;
		} else {
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

/* The first position of a posting's title (or name) field: *len gets
 * the field's length; 0 when the term is not in it. */
static int
first_pos(const unsigned char *p, size_t n, uint32_t *pos, uint32_t *len)
{
	const unsigned char *q = p + 1, *end = p + n;
	uint32_t tf;
	size_t k;

	if (q >= end || (*q != MSP_SF_TITLE && *q != MSP_SF_NAME))
		return 0; /* fields come in order: title and name first */
	q++;
	if ((k = varint_get(q, end, len)) == 0)
		return 0;
	q += k;
	if ((k = varint_get(q, end, &tf)) == 0 || tf == 0)
		return 0;
	q += k;
	return varint_get(q, end, pos) != 0;
}

unsigned char
msp_search_exact1(const unsigned char *p, size_t n, int prefix)
{
	uint32_t pos, len;

	if (!first_pos(p, n, &pos, &len) || pos != 0)
		return 0;
	return len == 1 && !prefix ? EXACT_EQUAL : EXACT_START;
}

/* The positions of the posting's term in field f (the first POS_MAX),
 * ascending; *len gets the field's length. */
static size_t
field_pos(const unsigned char *p, size_t n, unsigned f, uint32_t *pos,
    uint32_t *len)
{
	const unsigned char *q = p + 1, *end = p + n;

	while (q < end) {
		unsigned field = *q++;
		uint32_t tf, i, d, last = 0;
		size_t k, m = 0;

		if ((k = varint_get(q, end, len)) == 0)
			return 0;
		q += k;
		if ((k = varint_get(q, end, &tf)) == 0)
			return 0;
		q += k;
		if (field > f)
			return 0;
		for (i = 0; i < tf && q < end; i++) {
			if ((k = varint_get(q, end, &d)) == 0)
				return 0;
			q += k;
			last += d;
			if (field == f && m < POS_MAX)
				pos[m++] = last;
		}
		if (field == f)
			return m;
	}
	return 0;
}

static int
pos_has(const uint32_t *pos, size_t n, uint32_t want)
{
	size_t i;

	for (i = 0; i < n && pos[i] <= want; i++)
		if (pos[i] == want)
			return 1;
	return 0;
}

/* The distance from a word at a to the next at b: 1 when adjacent and in
 * order, more when apart or reversed. One place is not two words: two
 * query words that the same word of the video matches (the last a
 * completion of it) are not next to each other. */
static uint32_t
word_dist(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	uint32_t best = PROX_MAX, d;
	size_t i, j;

	for (i = 0; i < na && best > 1; i++)
		for (j = 0; j < nb; j++) {
			if (b[j] == a[i])
				continue;
			d = b[j] > a[i] ? b[j] - a[i] : a[i] - b[j] + 1;
			if (d < best)
				best = d;
		}
	return best;
}

/* The sum of the typos of a candidate's matches. */
static unsigned char
cand_edits(const struct qctx *c, const struct cand *h)
{
	const struct cmatch *cm = &c->pool[h->m];
	uint32_t edits = 0;
	size_t w;

	for (w = 0; w < c->ng; w++)
		edits += cm[w].edits;
	return (unsigned char)(edits > 255 ? 255 : edits);
}

/* Exactness, proximity and edits of a candidate of a query of 2+ words,
 * from its matches in c->pool. */
static void
cand_signals(const struct qctx *c, struct cand *h)
{
	uint32_t pos[MSP_SEARCH_WORDS_MAX][POS_MAX], dist[MSP_SEARCH_WORDS_MAX];
	size_t np[MSP_SEARCH_WORDS_MAX], w, ng = c->ng;
	const struct cmatch *cm = &c->pool[h->m];
	uint32_t sum = 0, len = 0;
	int prefix = 0;
	unsigned f;

	for (w = 0; w < ng; w++) {
		dist[w] = PROX_MAX;
		prefix |= cm[w].prefix;
	}
	h->exact = 0;
	for (f = 0; f < MSP_SF_COUNT; f++) {
		int start = f == MSP_SF_TITLE || f == MSP_SF_NAME;
		for (w = 0; w < ng; w++) {
			np[w] = cm[w].p == NULL ? 0 : field_pos(cm[w].p,
			    cm[w].n, f, pos[w], &len);
			/* word w at position w: the field starts with
			 * the query so far */
			if (start && !pos_has(pos[w], np[w], (uint32_t)w))
				start = 0;
		}
		if (start && h->exact < EXACT_EQUAL)
			h->exact = len == ng && !prefix ? EXACT_EQUAL :
			    EXACT_START;
		for (w = 0; w + 1 < ng; w++)
			if (np[w] > 0 && np[w + 1] > 0) {
				uint32_t d = word_dist(pos[w], np[w],
				    pos[w + 1], np[w + 1]);
				if (d < dist[w])
					dist[w] = d;
			}
	}
	for (w = 0; w + 1 < ng; w++)
		sum += dist[w];
	sum -= (uint32_t)(ng - 1);
	h->prox = (unsigned char)(sum > 255 ? 255 : sum);
	h->edits = cand_edits(c, h);
}

/* 1 when the posting's title or name field can start with its term: the
 * field's first position is 0. */
static int
can_start(const unsigned char *p, size_t n)
{
	uint32_t pos[POS_MAX], len;

	return (field_pos(p, n, MSP_SF_TITLE, pos, &len) > 0 && pos[0] == 0) ||
	    (field_pos(p, n, MSP_SF_NAME, pos, &len) > 0 && pos[0] == 0);
}

/* The best a candidate of a query of 2+ words can rank, without its
 * positions: adjacent words, and exact unless its first word's match
 * cannot start a title or name. */
static void
cand_bound(const struct qctx *c, const struct cand *h, struct cand *ub)
{
	const struct cmatch *cm = &c->pool[h->m];

	*ub = *h;
	ub->exact = cm[0].p != NULL && can_start(cm[0].p, cm[0].n) ?
	    EXACT_EQUAL : 0;
	ub->prox = 0;
	ub->edits = cand_edits(c, h);
}

json_object *
msp_search_rank_explain(const struct cand *h)
{
	static const char *const ex[] = { "none", "start", "equal" };
	json_object *o = json_object_new_object();
	char buf[64];

	if (o == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%.4f", h->score);
	json_object_object_add(o, "typo", json_object_new_boolean(h->typo));
	json_object_object_add(o, "exactness", json_object_new_string(
	    ex[h->exact <= EXACT_EQUAL ? h->exact : 0]));
	json_object_object_add(o, "proximity", json_object_new_int(h->prox));
	json_object_object_add(o, "edits", json_object_new_int(h->edits));
	json_object_object_add(o, "bm25", json_object_new_double_s(h->score,
	    buf));
	return o;
}

/* rank order: without typos first, then the more exact, the closer, the
 * fewer typos, the higher BM25 score, the older document */
static int
rank_before(const struct cand *a, const struct cand *b)
{
	if (a->typo != b->typo)
		return a->typo < b->typo;
	if (a->exact != b->exact)
		return a->exact > b->exact;
	if (a->prox != b->prox)
		return a->prox < b->prox;
	if (a->edits != b->edits)
		return a->edits < b->edits;
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

/*
 * Move the best k candidates to the front, in rank order (a heap of the
 * k best so far, its worst at the root). With 2+ words, a candidate's
 * positions are read only when the best it can rank (cand_bound) beats
 * the heap's worst.
 */
void
msp_search_top_k(const struct qctx *c, struct cands *cs, size_t k)
{
	struct cand *h = cs->v, x, ub;
	size_t i, n = 0, j, l;
	int multi = c->ng >= 2;

	if (k >= cs->n) {
		for (i = 0; multi && i < cs->n; i++)
			cand_signals(c, &cs->v[i]);
		if (cs->n > 1)
			qsort(cs->v, cs->n, sizeof(*cs->v), rank_cmp);
		return;
	}
	for (i = 0; i < cs->n; i++) {
		x = cs->v[i];
		if (multi) {
			if (n == k) {
				cand_bound(c, &x, &ub);
				if (!rank_before(&ub, &h[0]))
					continue;
			}
			cand_signals(c, &x);
		}
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
