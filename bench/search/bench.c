/*
 * bench/search: msp-search's index against SQLite FTS5 with bm25 on the
 * same generated corpus and queries, both in this process.
 * usage: bench DIR [DOCS [QUERIES]]; see bench/search/run.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "search.h"
#include "store.h"
#include "util.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
rndf(void)
{
	return (rnd() >> 11) * (1.0 / 9007199254740992.0);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char **vocab;
static size_t nvocab;
static double *cdf;

static void
load_words(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t cap = 0, i;
	double sum = 0;

	if (f == NULL) {
		perror(path);
		exit(3);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, "\n");
		int ok = n >= 2;
		line[n] = '\0';
		for (i = 0; i < n && ok; i++)
			ok = line[i] >= 'a' && line[i] <= 'z';
		if (!ok)
			continue;
		if (nvocab == cap) {
			cap = cap ? cap * 2 : 65536;
			vocab = realloc(vocab, cap * sizeof(*vocab));
		}
		vocab[nvocab++] = strdup(line);
	}
	fclose(f);
	for (i = nvocab - 1; i > 0; i--) { /* ranks at random */
		size_t j = rnd() % (i + 1);
		char *t = vocab[i];
		vocab[i] = vocab[j];
		vocab[j] = t;
	}
	cdf = malloc(nvocab * sizeof(*cdf));
	for (i = 0; i < nvocab; i++) {
		sum += 1.0 / pow((double)i + 2.7, 1.0); /* Zipf-like */
		cdf[i] = sum;
	}
	for (i = 0; i < nvocab; i++)
		cdf[i] /= sum;
}

static const char *
word(void)
{
	double u = rndf();
	size_t lo = 0, hi = nvocab - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return vocab[lo];
}

static void
words(char *out, size_t cap, int n, int capital)
{
	size_t len = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *w = word();
		int k = snprintf(out + len, cap - len, "%s%s", i ? " " : "", w);
		if (k < 0 || (size_t)k >= cap - len)
			break;
		if (capital)
			out[len + (i ? 1 : 0)] -= 32;
		len += (size_t)k;
	}
}

struct doc {
	char id[MSP_ID_LEN + 1];
	int lng;
	char *title, *about;
	const char *genre[2];
	const char *language;
	int premium;
};

static const char *genres[] = { "action", "comedy", "drama", "horror",
	"documentary", "romance", "thriller", "kids", "music", "sport" };
static const char *langs[] = { "en", "hi", "ta", "te", "fr", "es", "de" };

struct query {
	char *msp;     /* msp-search query */
	char *fts;     /* FTS5 MATCH expression */
	int kind;      /* 0 one word, 1 words, 2 prefix, 3 typo */
};

static const char *kinds[] = { "one word", "several words", "prefix",
	"typo" };

/* a word of the document's title or about */
static void
doc_word(const struct doc *d, char *out, size_t cap, int minlen)
{
	const char *src;
	int tries;

	for (tries = 0; tries < 50; tries++) {
		size_t n = 0, k, i;
		const char *p;

		src = (rnd() % 3 == 0 || d->about == NULL) ? d->title : d->about;
		for (p = src; *p; p++)
			n += *p == ' ';
		k = rnd() % (n + 1);
		for (p = src, i = 0; i < k; p++)
			i += *p == ' ';
		for (i = 0; p[i] && p[i] != ' ' && i + 1 < cap; i++)
			out[i] = (char)(p[i] | 0x20);
		out[i] = '\0';
		if ((int)i >= minlen)
			return;
	}
}

static void
make_queries(struct doc *docs, size_t ndocs, struct query *qs, size_t nq)
{
	size_t i;

	for (i = 0; i < nq; i++) {
		struct doc *d = &docs[rnd() % ndocs];
		char a[64], b[64], m[160], f[200];
		int kind = (int)(i % 4);

		qs[i].kind = kind;
		switch (kind) {
		case 0:
			doc_word(d, a, sizeof(a), 3);
			snprintf(m, sizeof(m), "%s ", a);
			snprintf(f, sizeof(f), "\"%s\"", a);
			break;
		case 1:
			doc_word(d, a, sizeof(a), 3);
			doc_word(d, b, sizeof(b), 3);
			snprintf(m, sizeof(m), "%s %s ", a, b);
			snprintf(f, sizeof(f), "\"%s\" \"%s\"", a, b);
			break;
		case 2: {
			size_t n;
			doc_word(d, a, sizeof(a), 3);
			doc_word(d, b, sizeof(b), 5);
			n = 3 + rnd() % 3;
			if (n > strlen(b))
				n = strlen(b);
			b[n] = '\0';
			snprintf(m, sizeof(m), "%s %s", a, b);
			snprintf(f, sizeof(f), "\"%s\" \"%s\"*", a, b);
			break;
		}
		default: {
			size_t n, p;
			doc_word(d, a, sizeof(a), 5);
			n = strlen(a);
			p = 1 + rnd() % (n - 1);
			switch (rnd() % 3) {
			case 0: /* substitution */
				a[p] = (char)('a' + (a[p] - 'a' + 1 +
				    rnd() % 25) % 26);
				break;
			case 1: /* transposition */
				if (a[p] != a[p - 1]) {
					char t = a[p];
					a[p] = a[p - 1];
					a[p - 1] = t;
				} else {
					memmove(a + p, a + p + 1, n - p);
				}
				break;
			default: /* deletion */
				memmove(a + p, a + p + 1, n - p);
			}
			snprintf(m, sizeof(m), "%s ", a);
			snprintf(f, sizeof(f), "\"%s\"", a);
		}
		}
		qs[i].msp = strdup(m);
		qs[i].fts = strdup(f);
	}
}

static json_object *
doc_json(const struct doc *d)
{
	json_object *o = json_object_new_object(), *g = json_object_new_array();

	json_object_object_add(o, "type", json_object_new_string("video"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "videoType",
	    json_object_new_string(d->lng ? "long" : "short"));
	json_object_object_add(o, d->lng ? "title" : "name",
	    json_object_new_string(d->title));
	if (d->about)
		json_object_object_add(o, "about",
		    json_object_new_string(d->about));
	if (d->language)
		json_object_object_add(o, "language",
		    json_object_new_string(d->language));
	if (d->genre[0])
		json_object_array_add(g, json_object_new_string(d->genre[0]));
	if (d->genre[1])
		json_object_array_add(g, json_object_new_string(d->genre[1]));
	json_object_object_add(o, "genres", g);
	json_object_object_add(o, "isPremium",
	    json_object_new_boolean(d->premium));
	json_object_object_add(o, "status", json_object_new_string("ready"));
	json_object_object_add(o, "isDeleted", json_object_new_boolean(0));
	return o;
}

struct loadarg {
	struct msp_store *st;
	struct doc *docs;
	size_t from, to;
};

static int
load_fn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct loadarg *la = arg;
	size_t i;
	int rc;

	for (i = la->from; i < la->to; i++) {
		json_object *o = doc_json(&la->docs[i]);
		rc = msp_db_put_json(la->st, t, MSP_DB_VIDEOS, la->docs[i].id,
		    MSP_ID_LEN, o, e);
		json_object_put(o);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
reindex_fn(MDB_txn *t, void *arg, struct msp_err *e)
{
	return msp_search_reindex(arg, t, NULL, e);
}

static int
count_hit(json_object *o, void *arg, struct msp_err *e)
{
	(void)o;
	(void)e;
	(*(long *)arg)++;
	return 0;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double *v, size_t n, double p)
{
	size_t i = (size_t)ceil(p * n) - 1;

	return v[i >= n ? n - 1 : i];
}

static const double *sort_lat;

static int
ord_cmp(const void *a, const void *b)
{
	double x = sort_lat[*(const size_t *)a], y = sort_lat[*(const size_t *)b];

	return x > y ? -1 : x < y;
}

/*
 * Which queries make the tail: the slowest 2% (at least 10) by kind and
 * by what they read (postings walked, postings looked up, completions
 * and typo variants, the typo pass), against the averages of all.
 */
static void
tail_report(const struct query *qs, const double *lat,
    const struct msp_search_cost *cost, size_t *ord, size_t nq)
{
	size_t i, nt = nq / 50 < 10 ? 10 : nq / 50, nk[4] = { 0 }, typo = 0;
	double post = 0, look = 0, exps = 0, apost = 0, alook = 0, aexps = 0;

	if (nt > nq)
		nt = nq;
	for (i = 0; i < nq; i++) {
		ord[i] = i;
		apost += cost[i].postings;
		alook += cost[i].lookups;
		aexps += cost[i].expansions;
	}
	sort_lat = lat;
	qsort(ord, nq, sizeof(*ord), ord_cmp);
	for (i = 0; i < nt; i++) {
		const struct msp_search_cost *c = &cost[ord[i]];
		nk[qs[ord[i]].kind]++;
		post += c->postings;
		look += c->lookups;
		exps += c->expansions;
		typo += c->typo_pass;
	}
	printf("tail (slowest %zu queries, from %.3f ms): %zu one word, %zu "
	    "several words, %zu prefix, %zu typo; typo pass in %zu\n", nt,
	    lat[ord[nt - 1]] * 1e3, nk[0], nk[1], nk[2], nk[3], typo);
	printf("  read a query, tail / all: postings walked %.0f / %.0f, "
	    "looked up %.0f / %.0f, expansions %.1f / %.1f\n", post / nt,
	    apost / nq, look / nt, alook / nq, exps / nt, aexps / nq);
	for (i = 0; i < 5 && i < nt; i++) {
		const struct msp_search_cost *c = &cost[ord[i]];
		printf("  %7.3f ms  %-13s postings %ld, lookups %ld, "
		    "expansions %ld%s: '%s'\n", lat[ord[i]] * 1e3,
		    kinds[qs[ord[i]].kind], c->postings, c->lookups,
		    c->expansions, c->typo_pass ? ", typo pass" : "",
		    qs[ord[i]].msp);
	}
}

static void
die_sql(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, sqlite3_errmsg(db));
	exit(3);
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/msp-bench-search";
	size_t ndocs = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
	size_t nq = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000;
	struct msp_store *st;
	struct msp_err e;
	struct doc *docs;
	struct query *qs;
	double t0, t_msp_build, t_fts_build, *lm, *lf, *lm2, *klm[4], *lt;
	struct msp_search_cost *cost;
	size_t *ord;
	char path[512], buf[4096];
	long mhits = 0, fhits = 0, found_typo = 0;
	size_t i, k, nk[4] = { 0 };
	sqlite3 *db;
	sqlite3_stmt *ins, *sel;
	MDB_txn *t;
	int pass;

	load_words("/usr/share/dict/words");
	docs = calloc(ndocs, sizeof(*docs));
	for (i = 0; i < ndocs; i++) {
		struct doc *d = &docs[i];
		msp_id_new(d->id);
		d->lng = rnd() % 5 != 0;
		words(buf, sizeof(buf), 2 + (int)(rnd() % 5), 1);
		d->title = strdup(buf);
		if (d->lng) {
			words(buf, sizeof(buf), 20 + (int)(rnd() % 41), 0);
			d->about = strdup(buf);
			d->genre[0] = genres[rnd() % 10];
			if (rnd() % 2)
				d->genre[1] = genres[rnd() % 10];
			if (d->genre[1] == d->genre[0])
				d->genre[1] = NULL;
			d->language = langs[rnd() % 7];
			d->premium = rnd() % 4 == 0;
		}
	}
	qs = calloc(nq, sizeof(*qs));
	make_queries(docs, ndocs, qs, nq);
	printf("corpus: %zu documents (vocabulary %zu words from "
	    "/usr/share/dict/words, Zipf), %zu queries\n", ndocs, nvocab, nq);

	/* msp: the records, then the index built from them */
	snprintf(path, sizeof(path), "rm -rf %s && mkdir -p %s", dir, dir);
	if (system(path) != 0)
		return 3;
	snprintf(path, sizeof(path), "%s/store", dir);
	if (msp_store_open(&st, path, 0, &e) != 0) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return 3;
	}
	for (i = 0; i < ndocs; i += 10000) {
		struct loadarg la = { st, docs, i, i + 10000 > ndocs ? ndocs :
		    i + 10000 };
		if (msp_store_write(st, load_fn, &la, &e) != 0) {
			fprintf(stderr, "bench: %s\n", e.msg);
			return 3;
		}
	}
	t0 = now();
	if (msp_store_write(st, reindex_fn, st, &e) != 0) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return 3;
	}
	t_msp_build = now() - t0;

	/* FTS5 */
	snprintf(path, sizeof(path), "%s/fts.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die_sql(db, path);
	if (sqlite3_exec(db, "CREATE VIRTUAL TABLE v USING fts5(id UNINDEXED,"
	    " title, name, about, genres, language, tokenize = 'unicode61 "
	    "remove_diacritics 2')", NULL, NULL, NULL) != SQLITE_OK)
		die_sql(db, "create");
	t0 = now();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "INSERT INTO v VALUES (?,?,?,?,?,?)", -1,
	    &ins, NULL) != SQLITE_OK)
		die_sql(db, "insert");
	for (i = 0; i < ndocs; i++) {
		struct doc *d = &docs[i];
		snprintf(buf, sizeof(buf), "%s %s", d->genre[0] ? d->genre[0] :
		    "", d->genre[1] ? d->genre[1] : "");
		sqlite3_bind_text(ins, 1, d->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, d->lng ? d->title : NULL, -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, d->lng ? NULL : d->title, -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, d->about, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 5, buf, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 6, d->language, -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			die_sql(db, "insert");
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		die_sql(db, "commit");
	t_fts_build = now() - t0;
	if (sqlite3_prepare_v2(db, "SELECT id, coalesce(title, name), "
	    "snippet(v, 3, '[', ']', '...', 24) FROM v WHERE v MATCH ? "
	    "ORDER BY bm25(v, 0, 4.0, 4.0, 1.0, 2.0, 1.0) LIMIT 25", -1, &sel,
	    NULL) != SQLITE_OK)
		die_sql(db, "select");

	/* queries: a warm-up pass, then the timed pass */
	lm = calloc(nq, sizeof(*lm));
	lm2 = calloc(nq, sizeof(*lm2));
	lf = calloc(nq, sizeof(*lf));
	lt = calloc(nq, sizeof(*lt));
	cost = calloc(nq, sizeof(*cost));
	ord = calloc(nq, sizeof(*ord));
	for (k = 0; k < 4; k++)
		klm[k] = calloc(nq, sizeof(double));
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < nq; i++) {
			struct msp_search_query q = { 0 };
			long h = 0;
			double a;

			q.q = qs[i].msp;
			q.limit = 25;
			q.premium = -1;
			q.typos = getenv("NOTYPO") == NULL;
			q.cost = &cost[i];
			a = now();
			msp_txn_begin(st, 0, &t, &e);
			if (msp_search_run(st, t, &q, count_hit, &h, NULL, NULL,
			    &e) != 0) {
				fprintf(stderr, "bench: %s: %s\n", q.q, e.msg);
				return 3;
			}
			msp_txn_abort(st, t);
			lm[i] = now() - a;
			q.cost = NULL;
			if (pass) {
				lt[i] = lm[i];
				mhits += h;
				if (qs[i].kind == 3 && h > 0)
					found_typo++;
				klm[qs[i].kind][nk[qs[i].kind]++] = lm[i];
			}

			/* as typed: the last word of every query a prefix */
			{
				char tmp[200];
				size_t n = strlen(qs[i].msp);
				memcpy(tmp, qs[i].msp, n + 1);
				while (n > 0 && tmp[n - 1] == ' ')
					tmp[--n] = '\0';
				q.q = tmp;
				h = 0;
				a = now();
				msp_txn_begin(st, 0, &t, &e);
				msp_search_run(st, t, &q, count_hit, &h, NULL,
				    NULL, &e);
				msp_txn_abort(st, t);
				lm2[i] = now() - a;
			}

			h = 0;
			a = now();
			sqlite3_bind_text(sel, 1, qs[i].fts, -1, SQLITE_STATIC);
			while (sqlite3_step(sel) == SQLITE_ROW) {
				(void)sqlite3_column_text(sel, 1);
				(void)sqlite3_column_text(sel, 2);
				h++;
			}
			sqlite3_reset(sel);
			lf[i] = now() - a;
			if (pass)
				fhits += h;
		}
	}
	sqlite3_finalize(sel);
	sqlite3_close(db);
	msp_store_close(st);

	printf("index build:  msp %.2f s   fts5 %.2f s   ratio %.2f\n",
	    t_msp_build, t_fts_build, t_msp_build / t_fts_build);
	qsort(lm, nq, sizeof(*lm), dbl_cmp);
	qsort(lm2, nq, sizeof(*lm2), dbl_cmp);
	qsort(lf, nq, sizeof(*lf), dbl_cmp);
	printf("query p50:    msp %.3f ms  fts5 %.3f ms  ratio %.2f\n",
	    pct(lm, nq, .5) * 1e3, pct(lf, nq, .5) * 1e3,
	    pct(lm, nq, .5) / pct(lf, nq, .5));
	printf("query p99:    msp %.3f ms  fts5 %.3f ms  ratio %.2f\n",
	    pct(lm, nq, .99) * 1e3, pct(lf, nq, .99) * 1e3,
	    pct(lm, nq, .99) / pct(lf, nq, .99));
	printf("as typed (every last word also a prefix): msp p50 %.3f ms "
	    "(ratio %.2f), p99 %.3f ms (ratio %.2f)\n", pct(lm2, nq, .5) * 1e3,
	    pct(lm2, nq, .5) / pct(lf, nq, .5), pct(lm2, nq, .99) * 1e3,
	    pct(lm2, nq, .99) / pct(lf, nq, .99));
	for (k = 0; k < 4; k++) {
		qsort(klm[k], nk[k], sizeof(double), dbl_cmp);
		if (nk[k] > 0)
			printf("  msp %-13s p50 %.3f ms  p99 %.3f ms\n",
			    kinds[k], pct(klm[k], nk[k], .5) * 1e3,
			    pct(klm[k], nk[k], .99) * 1e3);
	}
	tail_report(qs, lt, cost, ord, nq);
	printf("hits returned: msp %ld, fts5 %ld; typo queries with hits: "
	    "msp %ld of %zu (fts5 has no typo tolerance)\n", mhits, fhits,
	    found_typo, nk[3]);
	return 0;
}
