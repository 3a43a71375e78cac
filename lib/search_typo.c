/*
 * search: typo variants. The deletion variants a dictionary term keeps
 * ("V" keys), and the expansion of a query word to the terms within one
 * or two edits of it.
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

/* The length in bytes of the UTF-8 sequence at p. */
static size_t
cp_len(const char *p)
{
	unsigned char b = (unsigned char)*p;

	return b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
}

int
msp_search_variants(const char *term, size_t tn, int dels, struct variants *out)
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
int
msp_search_term_dels(const char *term, size_t tn)
{
	size_t m = msp_utf8_len(term, tn);

	return m >= 9 ? 3 : m >= 8 ? 1 : 0;
}

size_t
msp_search_vkey(unsigned char *key, const char *var, const char *term, size_t tn)
{
	size_t vn = strlen(var);

	key[0] = 'V';
	memcpy(key + 1, var, vn);
	key[1 + vn] = '\0';
	memcpy(key + 2 + vn, term, tn);
	return 2 + vn + tn;
}

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
		msp_search_expset_add(s, (const char *)key + 1, k.mv_size - 1, df_of(&v),
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
			msp_search_expset_add(s, (const char *)kp + 1, k.mv_size - 1,
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

	if (msp_search_variants(g->word, g->wn, 3, &vs) != 0)
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
					msp_search_expset_add(s, var, vn, df_of(&v), d, 0);
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
			msp_search_expset_add(s, term, n, df_of(&dv), d, 0);
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
int
msp_search_expand_typos(struct qctx *c, struct qgroup *g, int max, struct expset *s)
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
