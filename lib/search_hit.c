/*
 * search: hits. The line of each hit with its snippet and, on request,
 * the explanation of its score; the facet counts.
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

int
msp_search_facet_add(struct facets *fs, const char *value)
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

int
msp_search_facets_emit(struct facets *fs, const char *field, json_object *arr)
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

void
msp_search_facets_free(struct facets *fs)
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
	/* most words of a text start with no term's first byte */
	return c->markc[(unsigned char)term[0]] && bsearch(&term, c->marks,
	    c->nmarks, sizeof(*c->marks), str_cmp) != NULL;
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
msp_search_snippet(const struct qctx *c, const char *text, size_t *hits)
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
msp_search_jdouble(double d)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.4f", d);
	return json_object_new_double_s(d, buf);
}

/* Milliseconds as seconds: 12500 gives 12.5. */
static json_object *
msp_search_jdouble_ms(long long ms)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%lld.%03lld", ms / 1000, ms % 1000);
	/* no trailing zeros: 12.5, 3, 0.25 */
	{
		size_t n = strlen(buf);
		while (buf[n - 1] == '0')
			buf[--n] = '\0';
		if (buf[n - 1] == '.')
			buf[--n] = '\0';
	}
	return json_object_new_double_s((double)ms / 1000, buf);
}

static json_object *
msp_search_explain(struct qctx *c, uint32_t doc)
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
			    msp_search_post_get(c, &g->x[j], doc, &v) != 0)
				continue;
			sc = g->x[j].idf * g->x[j].pen *
			    msp_search_post_score(c, v.mv_data, v.mv_size, parts);
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
		json_object_object_add(o, "idf", msp_search_jdouble(bx->idf));
		json_object_object_add(o, "factor", msp_search_jdouble(bx->pen));
		json_object_object_add(o, "score", msp_search_jdouble(bs));
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
			    msp_search_jdouble(c->avg[f]));
			json_object_object_add(p, "weight",
			    msp_search_jdouble(msp_search_field_weights[f]));
			json_object_object_add(p, "score",
			    msp_search_jdouble(best[f].score * bx->idf * bx->pen));
			json_object_array_add(fa, p);
		}
		json_object_object_add(o, "fields", fa);
		json_object_array_add(arr, o);
	}
	return arr;
}

struct cuehits {
	const struct qctx *c;
	size_t hits;
};

static int
cue_word(const char *term, size_t n, size_t start, size_t end, void *arg)
{
	struct cuehits *ch = arg;

	(void)n;
	(void)start;
	(void)end;
	if (is_mark_term(ch->c, term))
		ch->hits++;
	return 0;
}

/* The caption cue of the "C" value's cues [p, end) with the most matched
 * words (the first of those), as {"start","end","language","text"} with
 * its words marked; NULL when no cue matches (or out of memory). */
static json_object *
best_cue(const struct qctx *c, const char *p, const char *end)
{
	const char *best = NULL, *bt = NULL;
	size_t bh = 0;
	json_object *o;
	char lang[40], *snip;
	long long a, b;
	size_t h;

	for (; p < end; p += strlen(p) + 1) {
		const char *t = p;
		struct cuehits ch = { c, 0 };
		int tabs;

		for (tabs = 0; tabs < 3 && (t = strchr(t, '\t')) != NULL; tabs++)
			t++;
		if (t == NULL)
			continue;
		if (msp_text_words(t, strlen(t), cue_word, &ch) < 0)
			return NULL;
		if (ch.hits > bh) {
			bh = ch.hits;
			best = p;
			bt = t;
		}
	}
	if (best == NULL || sscanf(best, "%39[^\t]\t%lld\t%lld\t", lang, &a,
	    &b) != 3)
		return NULL;
	if ((snip = msp_search_snippet(c, bt, &h)) == NULL)
		return NULL;
	if ((o = json_object_new_object()) != NULL) {
		json_object_object_add(o, "start", msp_search_jdouble_ms(a));
		json_object_object_add(o, "end", msp_search_jdouble_ms(b));
		json_object_object_add(o, "language",
		    json_object_new_string(lang));
		json_object_object_add(o, "text", json_object_new_string(snip));
	}
	free(snip);
	return o;
}

int
msp_search_emit_hit(struct qctx *c, const struct cand *h, msp_each_fn fn, void *arg,
    struct msp_err *e)
{
	unsigned char dk[5];
	json_object *o, *g, *cue = NULL;
	const char *title, *about, *cend;
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
	if (msp_search_doc_parse(v.mv_data, v.mv_size, &d) != 0 || cv.mv_size < 2 ||
	    ((const char *)cv.mv_data)[cv.mv_size - 1] != '\0')
		return 0;
	title = cv.mv_data;
	cend = (const char *)cv.mv_data + cv.mv_size;
	about = title + strlen(title) + 1;
	if (about >= cend)
		about = "";
	else if (about + strlen(about) + 1 < cend)
		cue = best_cue(c, about + strlen(about) + 1, cend);
	if (*about != '\0' && (snip = msp_search_snippet(c, about, &hits)) == NULL) {
		json_object_put(cue);
		return nomem(e);
	}
	if (hits == 0) {
		char *ts = msp_search_snippet(c, title, &hits);
		if (ts == NULL) {
			free(snip);
			json_object_put(cue);
			return nomem(e);
		}
		if (hits > 0 || snip == NULL) {
			free(snip);
			snip = ts;
		} else {
			free(ts);
		}
	}
	if (hits == 0 && cue != NULL) {
		/* only the captions match: the cue is the snippet */
		char *cs = msp_strdup(json_object_get_string(
		    json_object_object_get(cue, "text")));
		if (cs != NULL) {
			free(snip);
			snip = cs;
		}
	}
	if ((o = json_object_new_object()) == NULL) {
		free(snip);
		json_object_put(cue);
		return nomem(e);
	}
	json_object_object_add(o, "type", json_object_new_string("hit"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "id", json_object_new_string(d.id));
	json_object_object_add(o, "score", msp_search_jdouble(h->score));
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
	if (cue != NULL)
		json_object_object_add(o, "cue", cue);
	if (c->q->explain) {
		c->typos = h->typo;
		json_object_object_add(o, "explain", msp_search_explain(c, h->doc));
		json_object_object_add(o, "rank", msp_search_rank_explain(h));
	}
	rc = fn(o, arg, e);
	json_object_put(o);
	free(snip);
	return rc;
}
