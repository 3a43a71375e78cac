/*
 * search: ranking. The BM25 score of a posting and the rank order of the
 * hits.
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
void
msp_search_top_k(struct cands *cs, size_t k)
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
