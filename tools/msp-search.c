/* msp-search: full-text search over the catalog, and rebuilding its index.
 * See msp-search(1). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "search.h"
#include "util.h"

enum { O_LANGUAGE = 256, O_PREMIUM, O_FREE, O_OFFSET, O_FACETS, O_EXPLAIN,
    O_NO_TYPOS };

static const struct msp_opt opts[] = {
	{ "store", 's', "DIR", "the store (default $MSP_STORE or ./msp-store)" },
	{ "type", 't', "TYPE", "only short or only long videos" },
	{ "genre", 'g', "GENRE", "only videos of this genre" },
	{ "language", O_LANGUAGE, "CODE", "only videos in this language" },
	{ "premium", O_PREMIUM, NULL, "only premium videos" },
	{ "free", O_FREE, NULL, "only free videos" },
	{ "limit", 'n', "N", "hits a page (default 25, at most 1000)" },
	{ "offset", O_OFFSET, "N", "skip the first N hits (paging)" },
	{ "facets", O_FACETS, NULL, "also count the hits by genre and language" },
	{ "explain", O_EXPLAIN, NULL, "show how each hit's score adds up" },
	{ "no-typos", O_NO_TYPOS, NULL, "match words only as typed" },
	{ "help", 'h', NULL, "show this help" },
	{ "version", 'V', NULL, "show the version" },
	{ NULL, 0, NULL, NULL }
};

static const struct msp_cli cli = {
	"msp-search",
	"[-t TYPE] [-g GENRE] [--language CODE] [--premium|--free] [-n N] "
	"[--offset N] [--facets] [--explain] [--no-typos] QUERY...\n"
	"reindex",
	opts
};

struct page {
	long hits;  /* hits seen */
	long limit; /* hits to print; one more says a next page exists */
};

static int
emit_cb(json_object *o, void *arg, struct msp_err *e)
{
	struct page *p = arg;

	(void)e;
	if (p->hits++ < p->limit)
		msp_cli_emit(o);
	return 0;
}

struct reindex {
	struct msp_store *st;
	long count;
};

static int
reindex_fn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct reindex *r = arg;

	return msp_search_reindex(r->st, t, &r->count, e);
}

static void
reindex(const char *dir)
{
	struct reindex r;
	struct msp_err e;
	json_object *o;
	int rc;

	if ((rc = msp_store_open(&r.st, dir, MSP_STORE_EXISTING, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	r.count = 0;
	rc = msp_store_write(r.st, reindex_fn, &r, &e);
	msp_store_close(r.st);
	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("reindex"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "videos", json_object_new_int64(r.count));
	msp_cli_emit(o);
	json_object_put(o);
	msp_cli_exit(0);
}

static long
number(const char *opt, const char *s, long long min, long long max)
{
	long long n;

	if (msp_parse_int(s, min, max, &n) != 0)
		msp_cli_usage_error("%s: expected a number from %lld to %lld, "
		    "got '%s'", opt, min, max, s);
	return (long)n;
}

int
main(int argc, char **argv)
{
	struct msp_search_query q;
	struct msp_store *st;
	struct msp_err e;
	json_object *facets = NULL;
	const char *dir = NULL;
	char *text;
	size_t len, i, n;
	long total = -1;
	struct page pg = { 0, 0 };
	int c, rc, premium = 0, free_only = 0, dashdash;

	msp_cli_init(&cli);
	memset(&q, 0, sizeof(q));
	q.limit = 25;
	q.premium = -1;
	q.typos = 1;
	while ((c = msp_cli_getopt(&cli, argc, argv)) != -1) {
		switch (c) {
		case 's': dir = optarg; break;
		case 't':
			if (strcmp(optarg, "short") != 0 &&
			    strcmp(optarg, "long") != 0)
				msp_cli_usage_error("--type: expected short or "
				    "long, got '%s'", optarg);
			q.video_type = optarg;
			break;
		case 'g': q.genre = optarg; break;
		case O_LANGUAGE: q.language = optarg; break;
		case O_PREMIUM: premium = 1; break;
		case O_FREE: free_only = 1; break;
		case 'n':
			q.limit = number("--limit", optarg, 1,
			    MSP_SEARCH_LIMIT_MAX);
			break;
		case O_OFFSET:
			q.offset = number("--offset", optarg, 0, 1000000000);
			break;
		case O_FACETS: q.facets = 1; break;
		case O_EXPLAIN: q.explain = 1; break;
		case O_NO_TYPOS: q.typos = 0; break;
		}
	}
	if (premium && free_only)
		msp_cli_usage_error("--premium and --free exclude each other");
	q.premium = premium ? 1 : free_only ? 0 : -1;
	dashdash = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
	argc -= optind;
	argv += optind;
	if (argc < 1)
		msp_cli_usage_error("expected a query");
	if (!dashdash && argc == 1 && strcmp(argv[0], "reindex") == 0)
		reindex(dir);

	/* the words of the query, joined by spaces */
	for (len = 0, i = 0; i < (size_t)argc; i++)
		len += strlen(argv[i]) + 1;
	if ((text = malloc(len + 1)) == NULL)
		msp_die(3, "out of memory");
	for (n = 0, i = 0; i < (size_t)argc; i++) {
		size_t l = strlen(argv[i]);
		if (i > 0)
			text[n++] = ' ';
		memcpy(text + n, argv[i], l);
		n += l;
	}
	text[n] = '\0';
	q.q = text;
	if ((rc = msp_search_query_check(text, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);

	if ((rc = msp_store_open(&st, dir, MSP_STORE_EXISTING, &e)) != 0 ||
	    (rc = msp_search_upgrade(st, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	{
		MDB_txn *t;
		/* one hit more than the page tells whether another follows;
		 * the total is counted only with the facets (it costs the
		 * typo pass, see msp_search_run) */
		pg.limit = q.limit;
		if (q.limit < MSP_SEARCH_LIMIT_MAX)
			q.limit++;
		if ((rc = msp_txn_begin(st, 0, &t, &e)) == 0) {
			rc = msp_search_run(st, t, &q, emit_cb, &pg,
			    q.facets ? &total : NULL, &facets, &e);
			msp_txn_abort(st, t);
		}
		q.limit = pg.limit;
	}
	msp_store_close(st);
	free(text);
	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	if (pg.hits > pg.limit || (total >= 0 && total > q.offset + q.limit) ||
	    (total < 0 && pg.limit == MSP_SEARCH_LIMIT_MAX &&
	    pg.hits == pg.limit)) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string("page"));
		json_object_object_add(o, "v", json_object_new_int(1));
		if (total >= 0)
			json_object_object_add(o, "total",
			    json_object_new_int64(total));
		json_object_object_add(o, "offset",
		    json_object_new_int64(q.offset + q.limit));
		msp_cli_emit(o);
		json_object_put(o);
	}
	if (facets != NULL) {
		for (i = 0; i < json_object_array_length(facets); i++)
			msp_cli_emit(json_object_array_get_idx(facets, i));
		json_object_put(facets);
	}
	msp_cli_exit(pg.hits > 0 ? 0 : 1);
}
