/* Unit tests of lib/text and lib/search: folding, edit distance, and the
 * index kept by the video observer, queried and checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "search.h"
#include "search_int.h"
#include "store.h"
#include "tap.h"
#include "text.h"
#include "util.h"

static char words[512];

static int
collect(const char *term, size_t n, size_t start, size_t end, void *arg)
{
	(void)n;
	(void)arg;
	snprintf(words + strlen(words), sizeof(words) - strlen(words),
	    "%s%s@%zu-%zu", *words ? " " : "", term, start, end);
	return 0;
}

static const char *
split(const char *s)
{
	words[0] = '\0';
	msp_text_words(s, strlen(s), collect, NULL);
	return words;
}

static int
edits(const char *a, const char *b, int max)
{
	uint32_t x[MSP_TERM_CPS], y[MSP_TERM_CPS];
	size_t xn = msp_text_cps(a, strlen(a), x, MSP_TERM_CPS);
	size_t yn = msp_text_cps(b, strlen(b), y, MSP_TERM_CPS);

	return msp_text_edits(x, xn, y, yn, max);
}

/* out: in with n random edits (letters a-d) */
static void
mutate(char *out, const char *in, int n, uint64_t *r)
{
	size_t len;
	int i;

	strcpy(out, in);
	for (i = 0; i < n; i++) {
		size_t p;
		len = strlen(out);
		*r = *r * 6364136223846793005ull + 1;
		p = (size_t)(*r >> 33) % len;
		switch ((*r >> 20) % 4) {
		case 0: out[p] = (char)('a' + (*r >> 40) % 4); break;
		case 1: if (len > 4) memmove(out + p, out + p + 1, len - p); break;
		case 2: if (len < 20) { memmove(out + p + 1, out + p, len - p + 1);
			out[p] = (char)('a' + (*r >> 40) % 4); } break;
		default: if (p + 1 < len) { char c = out[p]; out[p] = out[p + 1];
			out[p + 1] = c; }
		}
	}
}

static struct msp_store *st;
static struct msp_err err;

/* put a video record as the catalog would, with the observer */
static int
put_video(json_object *before, json_object *after)
{
	MDB_txn *t;
	const char *id;
	int rc;

	if (msp_txn_begin(st, 1, &t, &err) != 0)
		return -1;
	id = json_object_get_string(json_object_object_get(
	    after ? after : before, "id"));
	if (after != NULL)
		rc = msp_db_put_json(st, t, MSP_DB_VIDEOS, id, strlen(id), after,
		    &err);
	else
		rc = msp_db_del(st, t, MSP_DB_VIDEOS, id, strlen(id), &err);
	if (rc == 0)
		rc = msp_search_observe(st, t, before, after, &err);
	if (rc != 0) {
		msp_txn_abort(st, t);
		return rc;
	}
	return msp_txn_commit(st, t, &err);
}

static json_object *
video(const char *type, const char *title, const char *about,
    const char *lang, const char *g1, const char *g2, int premium,
    const char *status)
{
	json_object *o = json_object_new_object(), *g;
	char id[MSP_ID_LEN + 1];

	msp_id_new(id);
	json_object_object_add(o, "type", json_object_new_string("video"));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "videoType", json_object_new_string(type));
	json_object_object_add(o, strcmp(type, "short") == 0 ? "name" :
	    "title", json_object_new_string(title));
	if (about)
		json_object_object_add(o, "about", json_object_new_string(about));
	if (lang)
		json_object_object_add(o, "language",
		    json_object_new_string(lang));
	g = json_object_new_array();
	if (g1)
		json_object_array_add(g, json_object_new_string(g1));
	if (g2)
		json_object_array_add(g, json_object_new_string(g2));
	json_object_object_add(o, "genres", g);
	json_object_object_add(o, "isPremium",
	    json_object_new_boolean(premium));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "isDeleted", json_object_new_boolean(0));
	return o;
}

static char got[4096];

static int
hit(json_object *o, void *arg, struct msp_err *e)
{
	(void)arg;
	(void)e;
	snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
	    *got ? "|" : "", json_object_get_string(json_object_object_get(o,
	    "title")));
	return 0;
}

static long total;
static json_object *facets;

/* titles of the hits, '|'-separated */
static const char *
search(const char *q, const char *type, const char *genre, int premium)
{
	struct msp_search_query sq = { 0 };
	MDB_txn *t;
	int rc;

	sq.q = q;
	sq.video_type = type;
	sq.genre = genre;
	sq.premium = premium;
	sq.limit = 10;
	sq.typos = 1;
	sq.facets = 1;
	got[0] = '\0';
	if (facets != NULL)
		json_object_put(facets);
	facets = NULL;
	if (msp_txn_begin(st, 0, &t, &err) != 0)
		return "(txn)";
	rc = msp_search_run(st, t, &sq, hit, NULL, &total, &facets, &err);
	msp_txn_abort(st, t);
	if (rc != 0)
		snprintf(got, sizeof(got), "error: %s", err.msg);
	return got;
}

static void
report(const char *msg, void *arg)
{
	(void)arg;
	printf("# check: %s\n", msg);
}

static int
check(void)
{
	MDB_txn *t;
	int n;

	if (msp_txn_begin(st, 0, &t, &err) != 0)
		return -1;
	n = msp_search_check(st, t, report, NULL, &err);
	msp_txn_abort(st, t);
	return n;
}

static int
reindex_fn(MDB_txn *t, void *arg, struct msp_err *e)
{
	return msp_search_reindex(st, t, arg, e);
}


/*
 * The shortcuts a query takes against exhaustive evaluation: a generated
 * corpus whose words share prefixes and whose lists are long, and the
 * first page of many queries (words, completions, typos, filters) with
 * the shortcuts and without: the same hits, in the same order, with the
 * same scores.
 */
static char page[8192];

static int
page_hit(json_object *o, void *arg, struct msp_err *e)
{
	(void)arg;
	(void)e;
	snprintf(page + strlen(page), sizeof(page) - strlen(page), "%s:%s ",
	    json_object_get_string(json_object_object_get(o, "id")),
	    json_object_get_string(json_object_object_get(o, "score")));
	return 0;
}

static const char *
page_of(const char *q, const char *type, int premium, const char *genre,
    long limit, int exhaustive, struct msp_search_cost *cost)
{
	struct msp_search_query sq = { 0 };
	MDB_txn *t;

	sq.q = q;
	sq.video_type = type;
	sq.premium = premium;
	sq.genre = genre;
	sq.limit = limit;
	sq.typos = 1;
	sq.cost = cost;
	page[0] = '\0';
	msp_search_exhaustive = exhaustive;
	if (msp_txn_begin(st, 0, &t, &err) != 0)
		return "(txn)";
	if (msp_search_run(st, t, &sq, page_hit, NULL, NULL, NULL, &err) != 0)
		snprintf(page, sizeof(page), "error: %s", err.msg);
	msp_txn_abort(st, t);
	msp_search_exhaustive = 0;
	return page;
}

static int
same_pages(uint64_t *r, int *shortcuts, int *paired)
{
	static const char *const syl[] = { "ka", "ro", "mi", "te", "su", "la",
	    "no", "vi", "pe", "do" };
	static const char *const gen[] = { "drama", "comedy", "music" };
	char vocab[300][16], q[64], want[8192];
	MDB_txn *t;
	size_t i, j, nq, bad = 0;
	int rc = 0;

	for (i = 0; i < 300; i++) { /* three syllables: shared prefixes */
		snprintf(vocab[i], sizeof(vocab[i]), "%s%s%s", syl[i % 10],
		    syl[(i / 10) % 10], syl[(i / 100 + i) % 10]);
	}
	if (msp_txn_begin(st, 1, &t, &err) != 0)
		return -1;
	for (i = 0; i < 3000 && rc == 0; i++) {
		char title[256] = "", about[1024] = "";
		json_object *v;
		size_t nw;

		for (nw = 0, j = 1 + i % 5; nw < j; nw++) {
			*r = *r * 6364136223846793005ull + 1;
			/* Zipf-like: the low ranks far more often */
			snprintf(title + strlen(title), sizeof(title) -
			    strlen(title), "%s%s", nw ? " " : "", vocab[(size_t)
			    ((*r >> 33) % 300 * ((*r >> 20) % 300)) / 300]);
		}
		for (nw = 0, j = 5 + i % 23; nw < j; nw++) {
			*r = *r * 6364136223846793005ull + 1;
			snprintf(about + strlen(about), sizeof(about) -
			    strlen(about), "%s%s", nw ? " " : "", vocab[(size_t)
			    ((*r >> 33) % 300 * ((*r >> 20) % 300)) / 300]);
		}
		v = video(i % 3 ? "long" : "short", title, about, "en",
		    gen[i % 3], i % 7 ? NULL : gen[(i + 1) % 3], i % 4 == 0,
		    "ready");
		rc = msp_db_put_json(st, t, MSP_DB_VIDEOS,
		    json_object_get_string(json_object_object_get(v, "id")),
		    MSP_ID_LEN, v, &err);
		if (rc == 0)
			rc = msp_search_observe(st, t, NULL, v, &err);
		json_object_put(v);
	}
	if (rc != 0 || msp_txn_commit(st, t, &err) != 0)
		return -1;
	for (nq = 0; nq < 600; nq++) {
		struct msp_search_cost fast = { 0 }, slow = { 0 };
		const char *type = NULL, *genre = NULL;
		int premium = -1, kind = (int)(nq % 6);
		long limit = nq % 3 ? 10 : 25;

		*r = *r * 6364136223846793005ull + 1;
		i = (size_t)((*r >> 33) % 300);
		j = (size_t)((*r >> 13) % 300);
		if (nq >= 400) {
			/* two of the commonest words: many videos hold them
			 * next to each other (the word pairs' shortcut) */
			kind = 1 + (int)(nq % 2);
			i %= 8;
			j %= 8;
			limit = nq % 5 ? 10 : 40;
		}
		switch (kind) {
		case 0: snprintf(q, sizeof(q), "%s ", vocab[i]); break;
		case 1: snprintf(q, sizeof(q), "%s %s ", vocab[i], vocab[j]);
			break;
		case 2: snprintf(q, sizeof(q), "%s %.*s", vocab[i],
			    2 + (int)(nq % 3), vocab[j]); break;
		case 3: snprintf(q, sizeof(q), "%.*s", 2 + (int)(nq % 4),
			    vocab[i]); break;
		case 4: /* one word, a typo: its last two letters swapped */
			snprintf(q, sizeof(q), "%.4s%c%c ", vocab[i],
			    vocab[i][5], vocab[i][4]);
			break;
		default: /* a typo: the last two letters swapped */
			snprintf(q, sizeof(q), "%s %.4s%c%c ", vocab[j],
			    vocab[i], vocab[i][5], vocab[i][4]);
		}
		if (nq % 7 == 1)
			type = "long";
		if (nq % 11 == 2)
			premium = 0;
		if (nq % 13 == 3)
			genre = "drama";
		snprintf(want, sizeof(want), "%s", page_of(q, type, premium,
		    genre, limit, 1, &slow));
		page_of(q, type, premium, genre, limit, 0, &fast);
		if (strcmp(want, page) != 0) {
			if (bad++ < 3)
				printf("# '%s': exhaustive %s\n#   shortcut %s\n",
				    q, want, page);
		}
		if (fast.postings + fast.lookups < slow.postings +
		    slow.lookups)
			(*shortcuts)++;
		*paired += fast.pairs;
	}
	return (int)bad;
}

/*
 * The word pairs' keys go by segments of 65,536 documents: a corpus that
 * crosses into the second, rebuilt in bulk, then grown and shrunk one
 * video at a time in both segments. The index checks after each step,
 * and two-word queries (the last also completed) give the pages
 * exhaustive evaluation gives, many of them from the pairs alone.
 */
static int
segments(int *paired, int *checks)
{
	static const char *const w[] = { "red", "river", "night", "harbor",
	    "song", "rain", "city", "light", "rainbow", "nightly" };
	json_object *gone[40];
	char title[128], q[64], want[8192];
	uint64_t r = 99;
	MDB_txn *t;
	size_t i, j, ng = 0;
	long n;
	int rc = 0, bad = 0;

	*checks = 0;
	if (msp_txn_begin(st, 1, &t, &err) != 0)
		return -1;
	for (i = 0; i < 66000 && rc == 0; i++) {
		json_object *v;
		title[0] = '\0';
		for (j = 0; j < 3 + i % 3; j++) {
			r = r * 6364136223846793005ull + 1;
			snprintf(title + strlen(title), sizeof(title) -
			    strlen(title), "%s%s", j ? " " : "",
			    w[(r >> 33) % 10]);
		}
		v = video(i % 2 ? "long" : "short", title, NULL, "en", "drama",
		    NULL, 0, "ready");
		rc = msp_db_put_json(st, t, MSP_DB_VIDEOS,
		    json_object_get_string(json_object_object_get(v, "id")),
		    MSP_ID_LEN, v, &err);
		if (i % 1000 == 0 && ng < 20)
			gone[ng++] = json_object_get(v);
		json_object_put(v);
	}
	if (rc != 0 || msp_txn_commit(st, t, &err) != 0 ||
	    msp_store_write(st, reindex_fn, &n, &err) != 0)
		return -1;
	*checks += check() == 0;
	/* one at a time: new ones in the second segment, and some of both
	 * segments' gone */
	if (msp_txn_begin(st, 1, &t, &err) != 0)
		return -1;
	for (i = 0; i < 40 && rc == 0; i++) {
		json_object *v;
		snprintf(title, sizeof(title), "%s %s %s", w[i % 10],
		    w[(i / 10) % 10], w[(i * 7) % 10]);
		v = video("long", title, "red river at night", "en", "drama",
		    NULL, 0, "ready");
		rc = msp_db_put_json(st, t, MSP_DB_VIDEOS,
		    json_object_get_string(json_object_object_get(v, "id")),
		    MSP_ID_LEN, v, &err);
		if (rc == 0)
			rc = msp_search_observe(st, t, NULL, v, &err);
		if (i % 2 == 0 && ng < 40)
			gone[ng++] = json_object_get(v);
		json_object_put(v);
	}
	for (i = 0; i < ng && rc == 0; i++) {
		const char *id = json_object_get_string(
		    json_object_object_get(gone[i], "id"));
		rc = msp_db_del(st, t, MSP_DB_VIDEOS, id, MSP_ID_LEN, &err);
		if (rc == 0)
			rc = msp_search_observe(st, t, gone[i], NULL, &err);
	}
	for (i = 0; i < ng; i++)
		json_object_put(gone[i]);
	if (rc != 0 || msp_txn_commit(st, t, &err) != 0)
		return -1;
	*checks += check() == 0;
	for (i = 0; i < 120; i++) {
		r = r * 6364136223846793005ull + 1;
		if (i % 2)
			snprintf(q, sizeof(q), "%s %s ", w[(r >> 33) % 10],
			    w[(r >> 13) % 10]);
		else
			snprintf(q, sizeof(q), "%s %.*s", w[(r >> 33) % 10],
			    2 + (int)(i % 3), w[(r >> 13) % 10]);
		snprintf(want, sizeof(want), "%s", page_of(q, i % 5 ? NULL :
		    "long", -1, NULL, i % 3 ? 10 : 30, 1, NULL));
		{
			struct msp_search_cost cost = { 0 };
			page_of(q, i % 5 ? NULL : "long", -1, NULL, i % 3 ? 10 :
			    30, 0, &cost);
			*paired += cost.pairs;
		}
		if (strcmp(want, page) != 0 && bad++ < 3)
			printf("# '%s': exhaustive %s\n#   pairs %s\n", q, want,
			    page);
	}
	return bad;
}

/* Make the index look as format 1 left it: no "E" keys, a shorter "S". */
static int
downgrade(void)
{
	MDB_cursor *cur;
	MDB_txn *t;
	MDB_val k, v;
	unsigned char old[sizeof(struct stats)];
	int rc;

	if (msp_txn_begin(st, 1, &t, &err) != 0)
		return -1;
	rc = msp_db_get(st, t, MSP_DB_SEARCH, "S", 1, &v, &err);
	if (rc == 0 && v.mv_size == sizeof(old)) {
		memcpy(old, v.mv_data, sizeof(old));
		rc = msp_db_put(st, t, MSP_DB_SEARCH, "S", 1, old,
		    sizeof(old) - sizeof(uint64_t), 0, &err);
	}
	if (rc == 0 && (rc = mdb_cursor_open(t, msp_store_dbi(st,
	    MSP_DB_SEARCH), &cur)) == 0) {
		k.mv_size = 1;
		k.mv_data = "E";
		while ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) == 0 &&
		    ((const char *)k.mv_data)[0] == 'E')
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (rc != 0) {
		msp_txn_abort(st, t);
		return -1;
	}
	return msp_txn_commit(st, t, &err);
}

int
main(void)
{
	char dir[] = "/tmp/msp-test-search-XXXXXX", term[MSP_TERM_MAX + 1];
	json_object *a, *b, *c, *d, *h, *a2;
	long n;
	int r, r2;

	/* text */
	ok(strcmp(split("Hello, World!"), "hello@0-5 world@7-12") == 0,
	    "words and offsets: %s", words);
	ok(strcmp(split("\xc3\x89" "cole Stra\xc3\x9f" "e \xef\xac\x81le"),
	    "ecole@0-6 strasse@7-14 file@15-20") == 0,
	    "diacritics, sharp s and ligature fold: %s", words);
	ok(strcmp(split("don't stop-now MP4"), "don@0-3 t@4-5 stop@6-10 "
	    "now@11-14 mp4@15-18") == 0, "punctuation splits: %s", words);
	ok(strcmp(split("Cafe\xcc\x81 na\xc3\xafve"), "cafe@0-6 naive@7-13") == 0,
	    "combining marks stay in the word and fold away: %s", words);
	ok(strcmp(split("\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1"),
	    "\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xb5\xcf\x81\xce\xb1@0-16") == 0,
	    "greek folds case and tonos: %s", words);
	ok(msp_text_fold("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 78, term) == MSP_TERM_MAX,
	    "long words are cut to %d bytes", MSP_TERM_MAX);
	ok(edits("abcd", "abdc", 2) == 1, "a transposition is one edit");
	ok(edits("kitten", "sitting", 3) == 3, "kitten/sitting: 3");
	ok(edits("kitten", "sitting", 2) == 3, "above max gives max + 1");
	ok(edits("caf\xc3\xa9", "cafe", 2) == 1, "edits count characters");

	/* queries are checked */
	ok(msp_search_query_check("", &err) != 0 &&
	    strcmp(err.msg, "query: empty") == 0, "empty: %s", err.msg);
	ok(msp_search_query_check("a\x01" "b", &err) != 0 &&
	    strcmp(err.msg, "query: control character U+0001 is not allowed")
	    == 0, "control: %s", err.msg);
	ok(msp_search_query_check("a\xff", &err) != 0 &&
	    strcmp(err.msg, "query: invalid UTF-8") == 0, "utf8: %s", err.msg);
	ok(msp_search_query_check("!!", &err) != 0 &&
	    strcmp(err.msg, "query: no words to search for") == 0, "%s",
	    err.msg);

	/* the index */
	if (mkdtemp(dir) == NULL || msp_store_open(&st, dir, 0, &err) != 0) {
		ok(0, "store: %s", err.msg);
		done_testing();
	}
	a = video("long", "The Night Harbour", "A fisherman's daughter "
	    "searches the harbour at night for her lost brother.", "english",
	    "drama", "mystery", 0, "ready");
	b = video("long", "Harbour Lights", "A comedy about a lighthouse "
	    "keeper and his cat.", "english", "comedy", NULL, 1, "ready");
	c = video("short", "Caf\xc3\xa9 Cr\xc3\xa8me Br\xc3\xbbl\xc3\xa9" "e",
	    NULL, NULL, NULL, NULL, 0, "ready");
	d = video("long", "Secret Harbour", "Not ready yet.", "french",
	    "drama", NULL, 0, "processing");
	r = put_video(NULL, a) || put_video(NULL, b) || put_video(NULL, c) ||
	    put_video(NULL, d);
	ok(r == 0, "four videos added: %s", err.msg);
	ok(check() == 0, "index checks clean");
	/* the title that starts with the word first */
	ok(strcmp(search("harbour", NULL, NULL, -1), "Harbour Lights|"
	    "The Night Harbour") == 0, "harbour: %s (not-ready hidden)", got);
	ok(total == 2, "total 2");
	ok(strcmp(search("harbor", NULL, NULL, -1), "Harbour Lights|"
	    "The Night Harbour") == 0, "typo harbor: %s", got);
	ok(strcmp(search("creme brulee", NULL, NULL, -1),
	    "Caf\xc3\xa9 Cr\xc3\xa8me Br\xc3\xbbl\xc3\xa9" "e") == 0,
	    "diacritics: %s", got);
	ok(strcmp(search("lightho", NULL, NULL, -1), "Harbour Lights") == 0,
	    "prefix lightho: %s", got);
	ok(strcmp(search("lightho ", NULL, NULL, -1), "") == 0,
	    "a trailing space ends the word: '%s'", got);
	ok(strcmp(search("harbour cat", NULL, NULL, -1), "Harbour Lights") ==
	    0, "all words must match: %s", got);
	ok(strcmp(search("\"night harbour\"", NULL, NULL, -1),
	    "The Night Harbour") == 0, "phrase: %s", got);
	ok(strcmp(search("\"harbour night\"", NULL, NULL, -1), "") == 0,
	    "phrase in the wrong order: '%s'", got);
	ok(strcmp(search("harbour", NULL, "comedy", -1), "Harbour Lights") ==
	    0, "genre filter: %s", got);
	ok(strcmp(search("harbour", NULL, NULL, 0), "The Night Harbour") ==
	    0, "premium filter: %s", got);
	ok(strcmp(search("creme", "long", NULL, -1), "") == 0,
	    "type filter: '%s'", got);
	search("harbour", NULL, NULL, -1);
	ok(facets != NULL && json_object_array_length(facets) == 4 &&
	    strstr(json_object_to_json_string_ext(facets,
	    JSON_C_TO_STRING_PLAIN),
	    "\"field\":\"language\",\"value\":\"english\",\"count\":2") !=
	    NULL, "facets: %s", json_object_to_json_string(facets));

	/* updates follow */
	a2 = json_object_get(a);
	json_object_put(a2);
	a2 = json_tokener_parse(json_object_to_json_string(a));
	json_object_object_add(a2, "title",
	    json_object_new_string("The Day Harbour"));
	r = put_video(a, a2);
	ok(r == 0, "title updated");
	ok(strcmp(search("night harbour", NULL, NULL, -1),
	    "The Day Harbour") == 0, "about still matches night: %s", got);
	ok(strcmp(search("day", NULL, NULL, -1), "The Day Harbour") == 0,
	    "new title found: %s", got);
	h = json_tokener_parse(json_object_to_json_string(b));
	json_object_object_add(h, "isDeleted", json_object_new_boolean(1));
	r = put_video(b, h);
	ok(r == 0, "b deleted");
	ok(strcmp(search("harbour", NULL, NULL, -1), "The Day Harbour") == 0,
	    "deleted hidden: %s", got);
	json_object_put(b);
	b = h;
	h = json_tokener_parse(json_object_to_json_string(d));
	json_object_object_add(h, "status", json_object_new_string("ready"));
	r = put_video(d, h);
	ok(r == 0, "d ready");
	ok(strcmp(search("secret", NULL, NULL, -1), "Secret Harbour") == 0,
	    "ready now found: %s", got);
	r = put_video(c, NULL);
	ok(r == 0, "c purged");
	ok(strcmp(search("creme", NULL, NULL, -1), "") == 0, "purged gone");
	ok(check() == 0, "index checks clean after updates");

	/* a damaged index is reported, and reindex repairs it */
	{
		MDB_txn *t;
		char key[64];
		int n2 = snprintf(key, sizeof(key), "Tharbour");
		msp_txn_begin(st, 1, &t, &err);
		msp_db_del(st, t, MSP_DB_SEARCH, key, (size_t)n2, &err);
		msp_txn_commit(st, t, &err);
	}
	r = check();
	ok(r > 0, "a missing dictionary entry is reported");
	{
		MDB_txn *t;
		static const char vk[] = "Vfisheman\0fisherman";
		msp_txn_begin(st, 1, &t, &err);
		r = msp_db_del(st, t, MSP_DB_SEARCH, vk, sizeof(vk) - 1, &err);
		msp_txn_commit(st, t, &err);
	}
	ok(r == 0, "a typo variant removed");
	r = check();
	ok(r >= 3, "and reported: %d problems", r);
	r = msp_store_write(st, reindex_fn, &n, &err);
	ok(r == 0 && n == 2,
	    "reindex: %ld videos", n);
	ok(check() == 0, "clean after reindex");
	ok(strcmp(search("harbour", NULL, NULL, -1), "The Day Harbour|"
	    "Secret Harbour") == 0, "after reindex: %s", got);

	/* typo expansion against brute force over a dense dictionary */
	{
		static char dict[400][24], seeds[20][24];
		uint64_t r = 42;
		size_t nd = 0, qi, di;
		int bad = 0;
		MDB_txn *t;

		for (di = 0; di < 20; di++) { /* seeds */
			size_t len = 5 + di % 9, j;
			for (j = 0; j < len; j++) {
				r = r * 6364136223846793005ull + 1;
				seeds[di][j] = (char)('a' + (r >> 33) % 4);
			}
			seeds[di][len] = '\0';
		}
		for (di = 0; di < 400; di++) {
			r = r * 6364136223846793005ull + 1;
			mutate(dict[di], seeds[(r >> 33) % 20], (int)(r >> 40) % 4,
			    &r);
			json_object *hv = video("long", dict[di], NULL, "en",
			    "drama", NULL, 0, "ready");
			r2 = put_video(NULL, hv);
			json_object_put(hv);
			if (r2 != 0)
				break;
			nd++;
		}
		ok(nd == 400, "400 random words indexed");
		for (qi = 0; qi < 300 && !bad; qi++) {
			char q[40], want[8192] = "", *p;
			uint32_t w[24], x[24];
			size_t m, len, j, xn;
			int max;

			r = r * 6364136223846793005ull + 1;
			mutate(q, seeds[(r >> 33) % 20], (int)(r >> 40) % 3, &r);
			len = strlen(q);
			if (len < 5)
				continue;
			(void)j;
			q[len] = ' ';
			q[len + 1] = '\0';
			m = msp_text_cps(q, len, w, 24);
			max = m >= 9 ? 2 : 1;
			/* brute force: the distinct words within max edits
			 * (one edit: not of the first character, except a swap
			 * of the first two or one character before) */
			for (di = 0; di < nd; di++) {
				int d;
				xn = msp_text_cps(dict[di], strlen(dict[di]), x,
				    24);
				d = msp_text_edits(w, m, x, xn, max);
				if (d > max)
					continue;
				if (max == 1 && d == 1 && x[0] != w[0] &&
				    x[0] != w[1])
					continue;
				snprintf(term, sizeof(term), "|%s|", dict[di]);
				if (strstr(want, term) == NULL)
					snprintf(want + strlen(want),
					    sizeof(want) - strlen(want), "%s",
					    term);
			}
			/* the engine */
			{
				struct msp_search_query sq = { 0 };
				sq.q = q;
				sq.limit = 1000;
				sq.premium = -1;
				sq.typos = 1;
				got[0] = '\0';
				msp_txn_begin(st, 0, &t, &err);
				msp_search_run(st, t, &sq, hit, NULL, NULL, NULL,
				    &err);
				msp_txn_abort(st, t);
			}
			/* every word found is wanted; every wanted one is
			 * found unless the expansions hit their limit */
			{
				char gotset[8192] = "|", *save = NULL, *wc;
				size_t nwant = 0;
				for (p = strtok_r(got, "|", &save); p != NULL;
				    p = strtok_r(NULL, "|", &save)) {
					snprintf(term, sizeof(term), "|%s|", p);
					if (strstr(want, term) == NULL) {
						printf("# %s: unwanted %s\n", q,
						    p);
						bad = 1;
					}
					snprintf(gotset + strlen(gotset),
					    sizeof(gotset) - strlen(gotset),
					    "%s|", p);
				}
				if ((wc = strdup(want)) == NULL)
					break;
				for (p = strtok_r(wc, "|", &save); p != NULL;
				    p = strtok_r(NULL, "|", &save))
					nwant++;
				free(wc);
				wc = strdup(want);
				for (p = strtok_r(wc, "|", &save); p != NULL &&
				    nwant <= MSP_SEARCH_EXPAND_MAX;
				    p = strtok_r(NULL, "|", &save)) {
					snprintf(term, sizeof(term), "|%s|", p);
					if (strstr(gotset, term) == NULL) {
						printf("# %s: missed %s\n", q,
						    p);
						bad = 1;
					}
				}
				free(wc);
			}
		}
		ok(!bad, "typo expansions are within the allowed edits");
	}

	{
		uint64_t r = 7;
		int shortcuts = 0, paired = 0, bad = same_pages(&r, &shortcuts,
		    &paired);
		ok(bad == 0, "shortcuts give the page exhaustive evaluation "
		    "gives (%d differ)", bad);
		ok(shortcuts > 20, "shortcuts read less in %d of 600 queries",
		    shortcuts);
		ok(paired > 50, "the word pairs alone gave %d pages", paired);
		ok(check() == 0, "the index checks after the generated corpus");
		ok(msp_store_write(st, reindex_fn, &n, &err) == 0 &&
		    check() == 0, "and after a rebuild");
		shortcuts = 0;
		ok(same_pages(&r, &shortcuts, &paired) == 0, "the same pages after "
		    "more documents are added to a rebuilt index");
		ok(downgrade() == 0 && strcmp(search("harbour", NULL, NULL, -1),
		    "error: search: the index was made by an older msp; run "
		    "msp-search reindex") == 0, "an index of format 1 is not "
		    "searched: %s", got);
		ok(msp_search_upgrade(st, &err) == 0 && check() == 0,
		    "the upgrade remakes it: %s", err.msg);
		strcpy(got, page_of("kaka", NULL, -1, NULL, 10, 1, NULL));
		ok(strcmp(got, page_of("kaka", NULL, -1, NULL, 10, 0, NULL)) ==
		    0 && got[0] != '\0', "and its start entries serve again");
	}
	{
		int paired = 0, checks = 0, bad = segments(&paired, &checks);
		ok(bad == 0, "word pairs over two segments: the pages "
		    "exhaustive evaluation gives (%d differ)", bad);
		ok(checks == 2, "the index checks after a rebuild across "
		    "segments and after changes in both");
		ok(paired > 60, "the word pairs alone gave %d of 120 pages",
		    paired);
	}

	json_object_put(a);
	json_object_put(a2);
	json_object_put(b);
	json_object_put(c);
	json_object_put(d);
	json_object_put(h);
	json_object_put(facets);
	msp_store_close(st);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			ok(0, "rm");
	}
	done_testing();
}
