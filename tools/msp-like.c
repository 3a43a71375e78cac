/* msp-like: like and unlike short videos, count and list likes. */
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

enum { O_AFTER = 256, O_STRICT, O_VIDEO };

static const struct msp_opt opts[] = {
	{ "store", 's', "DIR", "the store (default $MSP_STORE or ./msp-store)" },
	{ "user", 'u', "EMAIL", "list: the likes of this user, newest first" },
	{ "video", O_VIDEO, "ID", "list: the likes of this video" },
	{ "limit", 'n', "N", "list: at most N likes (a page)" },
	{ "after", O_AFTER, "CURSOR", "list: the page after this cursor" },
	{ "strict", O_STRICT, NULL, "stop at the first refused input line" },
	{ "help", 'h', NULL, "show this help" },
	{ "version", 'V', NULL, "show the version" },
	{ NULL, 0, NULL, NULL }
};

static const struct msp_cli cli = {
	"msp-like",
	"[-s DIR] add|del USER VIDEO\n"
	"[-s DIR] [--strict] add|del < LINES\n"
	"[-s DIR] count VIDEO...\n"
	"[-s DIR] list -u USER | --video ID [-n N] [--after CURSOR]",
	opts
};

static struct msp_store *st;
static int status;

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
	b.fn = msp_like_line;
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
emit_next(const char *next)
{
	json_object *o;

	if (next == NULL)
		return;
	if ((o = json_object_new_object()) == NULL)
		msp_die(3, "out of memory");
	json_object_object_add(o, "type", json_object_new_string("page"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "after", json_object_new_string(next));
	msp_cli_emit(o);
	json_object_put(o);
}

/* add or del: one like from the arguments, or lines on stdin */
static void
cmd_change(int del, int argc, char **argv, int strict)
{
	json_object *in, *out;
	struct msp_err e;
	int rc;

	if (argc == 0) {
		run_stream(del, strict);
		return;
	}
	if (argc != 2)
		msp_cli_usage_error("%s takes USER VIDEO, or lines on stdin",
		    del ? "del" : "add");
	msp_err_clear(&e);
	if ((in = json_object_new_object()) == NULL)
		msp_die(3, "out of memory");
	json_object_object_add(in, "user", json_object_new_string(argv[0]));
	json_object_object_add(in, "videoId", json_object_new_string(argv[1]));
	rc = msp_engage_apply(st, msp_like_line, in, &del, &out, &e);
	json_object_put(in);
	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	msp_cli_emit(out);
	json_object_put(out);
}

static void
count_one(MDB_txn *t, const char *id)
{
	struct msp_err e;
	json_object *o;
	uint64_t n;
	int rc;

	msp_err_clear(&e);
	if ((rc = msp_like_count(st, t, id, &n, &e)) != 0) {
		if (msp_err_exit(rc) == 3)
			msp_die(3, "%s", e.msg);
		on_bad(e.msg, rc, NULL);
		return;
	}
	if ((o = json_object_new_object()) == NULL)
		msp_die(3, "out of memory");
	json_object_object_add(o, "type", json_object_new_string("count"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "videoId", json_object_new_string(id));
	json_object_object_add(o, "likes", json_object_new_int64((int64_t)n));
	msp_cli_emit(o);
	json_object_put(o);
}

static void
cmd_count(int argc, char **argv)
{
	struct msp_err e;
	MDB_txn *t;
	char *line = NULL;
	size_t cap = 0;
	int i, rc;

	msp_err_clear(&e);
	if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	for (i = 0; i < argc; i++)
		count_one(t, argv[i]);
	if (argc == 0)
		while (msp_cli_readline(&line, &cap))
			if (line[0] != '\0')
				count_one(t, line);
	free(line);
	msp_txn_abort(st, t);
}

static void
cmd_list(const char *user, const char *video, long limit, const char *after)
{
	struct msp_err e;
	MDB_txn *t;
	char *next = NULL;
	int rc;

	if ((user == NULL) == (video == NULL))
		msp_cli_usage_error("list needs -u USER or --video ID");
	msp_err_clear(&e);
	if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	if (user != NULL)
		rc = msp_like_list_user(st, t, user, limit, after, on_rec, NULL,
		    &next, &e);
	else
		rc = msp_like_list_video(st, t, video, limit, after, on_rec,
		    NULL, &next, &e);
	msp_txn_abort(st, t);
	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	emit_next(next);
	free(next);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *user = NULL, *video = NULL, *after = NULL;
	const char *cmd;
	long long limit = 0;
	int k, strict = 0;

	msp_cli_init(&cli);
	while ((k = msp_cli_getopt(&cli, argc, argv)) != -1) {
		switch (k) {
		case 's': dir = optarg; break;
		case 'u': user = optarg; break;
		case O_VIDEO: video = optarg; break;
		case 'n':
			if (msp_parse_int(optarg, 1, 1000000000, &limit) != 0)
				msp_cli_usage_error("--limit: '%s' is not a "
				    "number from 1 to 1000000000", optarg);
			break;
		case O_AFTER: after = optarg; break;
		case O_STRICT: strict = 1; break;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		msp_cli_usage_error("a command is needed: add, del, count or "
		    "list");
	cmd = argv[0];
	argc--;
	argv++;
	if (strcmp(cmd, "add") != 0 && strcmp(cmd, "del") != 0 &&
	    strcmp(cmd, "count") != 0 && strcmp(cmd, "list") != 0)
		msp_cli_usage_error("unknown command '%s'", cmd);
	if (strcmp(cmd, "list") == 0 && argc > 0)
		msp_cli_usage_error("list takes no arguments");
	open_store(dir);
	if (strcmp(cmd, "add") == 0 || strcmp(cmd, "del") == 0)
		cmd_change(strcmp(cmd, "del") == 0, argc, argv, strict);
	else if (strcmp(cmd, "count") == 0)
		cmd_count(argc, argv);
	else
		cmd_list(user, video, (long)limit, after);
	msp_store_close(st);
	msp_cli_exit(status);
}
