/* msp-rate: star ratings of long videos, their averages and the top list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "batch.h"
#include "engage.h"
#include "jsonl.h"
#include "store.h"
#include "util.h"

enum { O_STRICT = 256 };

static const struct msp_opt opts[] = {
	{ "store", 's', "DIR", "the store (default $MSP_STORE or ./msp-store)" },
	{ "genre", 'g', "GENRE", "top: only videos of this genre" },
	{ "language", 'l', "LANG", "top: only videos in this language" },
	{ "limit", 'n', "N", "top: at most N videos (default 10)" },
	{ "strict", O_STRICT, NULL, "stop at the first refused input line" },
	{ "help", 'h', NULL, "show this help" },
	{ "version", 'V', NULL, "show the version" },
	{ NULL, 0, NULL, NULL }
};

static const struct msp_cli cli = {
	"msp-rate",
	"[-s DIR] set USER VIDEO N\n"
	"[-s DIR] del USER VIDEO\n"
	"[-s DIR] [--strict] set|del < LINES\n"
	"[-s DIR] get VIDEO [USER]\n"
	"[-s DIR] top [-g GENRE] [-l LANG] [-n N]",
	opts
};

static struct msp_store *st;
static const char *store_dir;
static int status;

static void
on_out(json_object *rec, void *arg)
{
	(void)arg;
	msp_cli_emit(rec);
}

static void
on_bad(const char *msg, int code, void *arg)
{
	(void)arg;
	msp_warn("%s", msg);
	if (msp_err_exit(code) > status)
		status = msp_err_exit(code);
}

/* Lines on stdin, in transactions of up to 1000 lines. */
static void
run_stream(int del, int strict)
{
	struct msp_batch b;
	struct msp_jsonl *r;
	struct msp_err e;
	int rc;

	msp_err_clear(&e);
	memset(&b, 0, sizeof(b));
	b.strict = strict;
	b.no_sub = 1; /* lib/engage checks a line whole before writing */
	b.fn = msp_rating_line;
	b.arg = &del;
	b.emit = on_out;
	b.report = on_bad;
	if ((rc = msp_jsonl_open(&r, stdin, "-", &e)) != 0)
		msp_die(3, "%s", e.msg);
	rc = msp_batch_run(st, r, &b, &e);
	msp_jsonl_close(r);
	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
}

static int
on_rec(json_object *rec, void *arg, struct msp_err *e)
{
	(void)arg;
	(void)e;
	msp_cli_emit(rec);
	return 0;
}

static void
open_store(const char *dir)
{
	struct msp_err e;
	int rc;

	msp_err_clear(&e);
	if ((rc = msp_store_open(&st, dir, MSP_STORE_EXISTING, &e)) != 0)
		msp_die(rc == MSP_ENOTFOUND ? 3 : msp_err_exit(rc), "%s",
		    e.msg);
}

static void
cmd_change(int del, int argc, char **argv, int strict)
{
	json_object *in, *out;
	struct msp_err e;
	int rc, rating = 0;

	msp_err_clear(&e);
	if (argc == 0) {
		open_store(store_dir);
		run_stream(del, strict);
		return;
	}
	if (del && argc != 2)
		msp_cli_usage_error("del takes USER VIDEO, or lines on stdin");
	if (!del && argc != 3)
		msp_cli_usage_error("set takes USER VIDEO N, or lines on stdin");
	if (!del && msp_rating_parse(argv[2], &rating, &e) != 0)
		msp_die(1, "%s", e.msg);
	open_store(store_dir);
	if ((in = json_object_new_object()) == NULL)
		msp_die(3, "out of memory");
	json_object_object_add(in, "user", json_object_new_string(argv[0]));
	json_object_object_add(in, "videoId", json_object_new_string(argv[1]));
	if (!del)
		json_object_object_add(in, "rating",
		    json_object_new_int(rating));
	rc = msp_engage_apply(st, msp_rating_line, in, &del, &out, &e);
	json_object_put(in);
	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	msp_cli_emit(out);
	json_object_put(out);
}

static void
cmd_get(int argc, char **argv)
{
	struct msp_err e;
	json_object *o;
	MDB_txn *t;
	int rc;

	if (argc < 1 || argc > 2)
		msp_cli_usage_error("get takes VIDEO [USER]");
	open_store(store_dir);
	msp_err_clear(&e);
	if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	if (argc == 2)
		rc = msp_rating_get_user(st, t, argv[1], argv[0], &o, &e);
	else
		rc = msp_rating_summary(st, t, argv[0], &o, &e);
	msp_txn_abort(st, t);
	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	msp_cli_emit(o);
	json_object_put(o);
}

static void
cmd_top(int argc, const char *genre, const char *lang, long limit)
{
	struct msp_err e;
	MDB_txn *t;
	int rc;

	if (argc != 0)
		msp_cli_usage_error("top takes no arguments");
	open_store(store_dir);
	msp_err_clear(&e);
	if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	rc = msp_rating_top(st, t, genre, lang, limit, on_rec, NULL, &e);
	msp_txn_abort(st, t);
	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
}

int
main(int argc, char **argv)
{
	const char *genre = NULL, *lang = NULL, *cmd;
	long long limit = 10;
	int k, strict = 0;

	msp_cli_init(&cli);
	while ((k = msp_cli_getopt(&cli, argc, argv)) != -1) {
		switch (k) {
		case 's': store_dir = optarg; break;
		case 'g': genre = optarg; break;
		case 'l': lang = optarg; break;
		case 'n':
			if (msp_parse_int(optarg, 1, 1000000000, &limit) != 0)
				msp_cli_usage_error("--limit: '%s' is not a "
				    "number from 1 to 1000000000", optarg);
			break;
		case O_STRICT: strict = 1; break;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		msp_cli_usage_error("a command is needed: set, del, get or "
		    "top");
	cmd = argv[0];
	argc--;
	argv++;
	if (strcmp(cmd, "set") == 0 || strcmp(cmd, "del") == 0)
		cmd_change(strcmp(cmd, "del") == 0, argc, argv, strict);
	else if (strcmp(cmd, "get") == 0)
		cmd_get(argc, argv);
	else if (strcmp(cmd, "top") == 0)
		cmd_top(argc, genre, lang, (long)limit);
	else
		msp_cli_usage_error("unknown command '%s'", cmd);
	msp_store_close(st);
	msp_cli_exit(status);
}
