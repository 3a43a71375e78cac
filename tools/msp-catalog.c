/* msp-catalog: users and videos in the store. See msp-catalog(1). */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "blob.h"
#include "caption.h"
#include "catalog.h"
#include "engage.h"
#include "cli.h"
#include "dump.h"
#include "jsonl.h"
#include "media_store.h"
#include "search.h"
#include "util.h"

enum { O_ADMIN = 256, O_TITLE, O_NAME, O_ABOUT, O_LANGUAGE, O_PREMIUM, O_FREE,
    O_UPLOADED_BY, O_STATUS, O_SORT, O_AFTER, O_DELETED, O_SET, O_PURGE,
    O_STRICT, O_BATCH, O_MEDIA, O_TO };

static const struct msp_opt opts[] = {
	{ "store", 's', "DIR", "the store (default $MSP_STORE or ./msp-store)" },
	{ "admin", O_ADMIN, NULL, "user add: make the user an admin" },
	{ "type", 't', "TYPE", "video type: short or long" },
	{ "name", O_NAME, "TEXT", "add: name of a short video" },
	{ "title", O_TITLE, "TEXT", "add: title of a long video" },
	{ "about", O_ABOUT, "TEXT", "add: description" },
	{ "language", O_LANGUAGE, "CODE", "language (ISO 639-1 code or name)" },
	{ "genre", 'g', "GENRE", "genre (repeat for several)" },
	{ "premium", O_PREMIUM, NULL, "premium videos (add: mark as premium)" },
	{ "free", O_FREE, NULL, "list: only free videos" },
	{ "uploaded-by", O_UPLOADED_BY, "EMAIL", "uploader (an existing user)" },
	{ "status", O_STATUS, "STATUS", "uploaded, processing, ready or failed" },
	{ "sort", O_SORT, "ORDER", "list: newest (default), oldest, likes, rating" },
	{ "limit", 'n', "N", "list: at most N videos, then a page line" },
	{ "after", O_AFTER, "CURSOR", "list: the page after CURSOR" },
	{ "deleted", O_DELETED, NULL, "list: include deleted videos" },
	{ "set", O_SET, "FIELD=VALUE", "update: set a field (repeatable)" },
	{ "purge", O_PURGE, NULL, "del: remove records and files for good" },
	{ "strict", O_STRICT, NULL, "stop at the first bad input line" },
	{ "batch", O_BATCH, "N", "import: lines a transaction (default 10000)" },
	{ "media", O_MEDIA, NULL, "check: also the media against the records" },
	{ "to", O_TO, "WHERE", "media-move: bucket (with its bucket file) or dir" },
	{ "help", 'h', NULL, "show this help" },
	{ "version", 'V', NULL, "show the version" },
	{ NULL, 0, NULL, NULL }
};

static const struct msp_cli cli = {
	"msp-catalog",
	"user add EMAIL [--admin] | user get EMAIL... | user list | "
	"user del EMAIL...\n"
	"add [FILE...] | add --type TYPE --uploaded-by EMAIL [field options]\n"
	"get ID... | del [--purge] ID... | update ID --set FIELD=VALUE... | "
	"update [FILE...]\n"
	"list [--type T] [--genre G] [--language L] [--status S] "
	"[--uploaded-by E] [--premium|--free] [--sort ORDER] [--limit N] "
	"[--after CURSOR] [--deleted]\n"
	"export | import [--batch N] [FILE...] | check [--media]\n"
	"caption add ID LANG=FILE... | caption del ID LANG... | "
	"caption list ID... | caption publish ID...\n"
	"media-move --to bucket BUCKETFILE | media-move --to dir",
	opts
};

struct flags {
	const char *type, *name, *title, *about, *language, *uploaded_by;
	const char *status, *sort, *after;
	json_object *genres;
	json_object *sets;
	int admin, premium, free, deleted, purge, media;
	const char *to;
	long limit;
};

static const char *store_dir;
static int strict;
static long batch = 10000; /* import's lines a transaction */
static int status; /* exit status so far */

static struct msp_store *
open_store(int existing)
{
	struct msp_store *st;
	struct msp_err e;
	int rc = msp_store_open(&st, store_dir, existing ? MSP_STORE_EXISTING :
	    0, &e);

	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	return st;
}

/* Report an error; fatal ones end the run at once. */
static void
fail(int rc, const struct msp_err *e)
{
	msp_warn("%s", e->msg);
	if (msp_err_exit(rc) > status)
		status = msp_err_exit(rc);
	if (status == 3)
		msp_cli_exit(3);
}

static int
emit_cb(json_object *o, void *arg, struct msp_err *e)
{
	(void)arg;
	(void)e;
	msp_cli_emit(o);
	return 0;
}

/* ---- stream commands: add, update, import --------------------------- */

static void
batch_emit(json_object *o, void *arg)
{
	(void)arg;
	msp_cli_emit(o);
}

static void
batch_report(const char *msg, int code, void *arg)
{
	(void)arg;
	msp_warn("%s", msg);
	if (msp_err_exit(code) > status)
		status = msp_err_exit(code);
}

/* Copy the input's unknown fields onto the result (pipelines carry them). */
static void
pass_through(json_object *in, json_object *out)
{
	json_object_object_foreach(in, k, v) {
		if (!json_object_object_get_ex(out, k, NULL))
			json_object_object_add(out, k, json_object_get(v));
	}
}

static int
add_line(struct msp_store *st, MDB_txn *t, json_object *in, json_object **out,
    void *arg, struct msp_err *e)
{
	int rc = msp_video_add(st, t, in, out, e);

	(void)arg;
	if (rc == 0)
		pass_through(in, *out);
	return rc;
}

static int
update_line(struct msp_store *st, MDB_txn *t, json_object *in,
    json_object **out, void *arg, struct msp_err *e)
{
	const char *id;
	int rc;

	(void)arg;
	if ((rc = msp_field_str(in, "id", 1, 64, 0, &id, e)) != 0)
		return rc;
	rc = msp_video_update(st, t, id, in, out, e);
	if (rc == 0)
		pass_through(in, *out);
	return rc;
}

/* Lines through fn, or an import's (im). */
static void
run_stream(struct msp_store *st, msp_line_fn fn, struct msp_importer *im,
    int emit, int argc, char **argv)
{
	struct msp_batch b;
	struct msp_err e;
	int i, rc;

	memset(&b, 0, sizeof(b));
	b.strict = strict;
	b.size = im != NULL ? (size_t)batch : 1000; /* imports are bulk */
	b.fn = fn;
	b.emit = emit ? batch_emit : NULL;
	b.report = batch_report;
	if (im != NULL)
		msp_import_setup(im, &b);
	for (i = 0; i == 0 || i < argc; i++) {
		const char *name = i < argc ? argv[i] : "-";
		FILE *f = stdin;
		struct msp_jsonl *r;

		if (strcmp(name, "-") != 0 && (f = fopen(name, "r")) == NULL)
			msp_die(3, "%s: %s", name, strerror(errno));
		if ((rc = msp_jsonl_open(&r, f, name, &e)) != 0)
			msp_die(3, "%s", e.msg);
		rc = msp_batch_run(st, r, &b, &e);
		msp_jsonl_close(r);
		if (f != stdin)
			fclose(f);
		if (rc != 0)
			fail(rc, &e);
		if ((strict && b.bad > 0) || msp_stop_requested())
			break;
	}
}

/* ---- single changes, each one write transaction ---------------------- */

struct one {
	struct msp_store *st;
	struct flags *fl;
	const char *arg;
	json_object *in;
	json_object *out;
	json_object *files;
};

static int
user_add_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct one *o = arg;

	json_object_put(o->out);
	o->out = NULL;
	return msp_user_add(o->st, t, o->arg, o->fl->admin, &o->out, e);
}

static int
user_del_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct one *o = arg;

	return msp_user_del(o->st, t, o->arg, e);
}

static int
video_add_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct one *o = arg;

	json_object_put(o->out);
	o->out = NULL;
	return msp_video_add(o->st, t, o->in, &o->out, e);
}

static int
video_update_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct one *o = arg;

	json_object_put(o->out);
	o->out = NULL;
	return msp_video_update(o->st, t, o->arg, o->in, &o->out, e);
}

static int
video_del_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct one *o = arg;

	/* a replay after the map grew starts with no files again */
	json_object_put(o->files);
	o->files = json_object_new_array();
	return msp_video_del(o->st, t, o->arg, o->fl->purge, o->files, e);
}

/* ---- commands ------------------------------------------------------- */

static void
user_cmd(struct msp_store *st, struct flags *fl, int argc, char **argv)
{
	struct one o = { st, fl, NULL, NULL, NULL, NULL };
	struct msp_err e;
	MDB_txn *t;
	json_object *u;
	int i, rc;

	if (argc < 1)
		msp_cli_usage_error("user: expected add, get, list or del");
	if (strcmp(argv[0], "list") == 0) {
		if (argc != 1)
			msp_cli_usage_error("user list: takes no arguments");
		if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
			fail(rc, &e);
		if ((rc = msp_user_list(st, t, emit_cb, NULL, &e)) != 0)
			fail(rc, &e);
		msp_txn_abort(st, t);
		return;
	}
	if (strcmp(argv[0], "add") != 0 && strcmp(argv[0], "get") != 0 &&
	    strcmp(argv[0], "del") != 0)
		msp_cli_usage_error("user: unknown command '%s'", argv[0]);
	if (argc < 2)
		msp_cli_usage_error("user %s: expected an email address",
		    argv[0]);
	if (strcmp(argv[0], "add") == 0 && argc != 2)
		msp_cli_usage_error("user add: one email address at a time");
	for (i = 1; i < argc; i++) {
		o.arg = argv[i];
		if (strcmp(argv[0], "add") == 0) {
			if ((rc = msp_store_write(st, user_add_txn, &o, &e)) != 0)
				fail(rc, &e);
			else
				msp_cli_emit(o.out);
		} else if (strcmp(argv[0], "get") == 0) {
			if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
				fail(rc, &e);
			rc = msp_user_get(st, t, argv[i], &u, &e);
			msp_txn_abort(st, t);
			if (rc != 0) {
				fail(rc, &e);
				continue;
			}
			msp_cli_emit(u);
			json_object_put(u);
		} else {
			if ((rc = msp_store_write(st, user_del_txn, &o, &e)) != 0)
				fail(rc, &e);
		}
	}
	json_object_put(o.out);
}

static json_object *
flags_video(struct flags *fl)
{
	json_object *v = json_object_new_object();

	if (v == NULL)
		msp_die(3, "out of memory");
#define S(field, val) if (val) json_object_object_add(v, field, \
	json_object_new_string(val))
	S("videoType", fl->type);
	S("name", fl->name);
	S("title", fl->title);
	S("about", fl->about);
	S("language", fl->language);
	S("uploadedBy", fl->uploaded_by);
	S("status", fl->status);
#undef S
	if (fl->genres)
		json_object_object_add(v, "genres", json_object_get(fl->genres));
	if (fl->premium)
		json_object_object_add(v, "isPremium",
		    json_object_new_boolean(1));
	return v;
}

static void
add_cmd(struct msp_store *st, struct flags *fl, int argc, char **argv)
{
	struct one o = { st, fl, NULL, NULL, NULL, NULL };
	struct msp_err e;
	int rc;

	if (fl->type == NULL && fl->uploaded_by == NULL && fl->title == NULL &&
	    fl->name == NULL) {
		run_stream(st, add_line, NULL, 1, argc, argv);
		return;
	}
	if (argc > 0)
		msp_cli_usage_error("add: give either field options or JSONL "
		    "files, not both");
	o.in = flags_video(fl);
	if ((rc = msp_store_write(st, video_add_txn, &o, &e)) != 0)
		fail(rc, &e);
	else
		msp_cli_emit(o.out);
	json_object_put(o.in);
	json_object_put(o.out);
}

static void
get_cmd(struct msp_store *st, int argc, char **argv)
{
	char *line = NULL;
	size_t cap = 0;
	int i = 0;

	for (;;) {
		const char *id;
		struct msp_err e;
		json_object *v;
		MDB_txn *t;
		int rc;

		if (argc > 0) {
			if (i == argc)
				break;
			id = argv[i++];
		} else {
			if (!msp_cli_readline(&line, &cap))
				break;
			if (*line == '\0')
				continue;
			id = line;
		}
		if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
			fail(rc, &e);
		rc = msp_video_get(st, t, id, &v, &e);
		if (rc == 0 && (rc = msp_engage_decorate(st, t, v, &e)) != 0)
			json_object_put(v);
		msp_txn_abort(st, t);
		if (rc != 0) {
			fail(rc, &e);
			continue;
		}
		msp_cli_emit(v);
		json_object_put(v);
	}
	free(line);
}

static void
del_cmd(struct msp_store *st, struct flags *fl, int argc, char **argv)
{
	struct one o = { st, fl, NULL, NULL, NULL, NULL };
	struct msp_blob *b = NULL;
	struct msp_err e;
	int i, rc;
	size_t j;

	if (argc == 0)
		msp_cli_usage_error("del: expected video ids");
	if (fl->purge && msp_blob_store(st, &b, &e) != 0)
		msp_die(3, "%s", e.msg);
	for (i = 0; i < argc; i++) {
		o.arg = argv[i];
		if ((rc = msp_store_write(st, video_del_txn, &o, &e)) != 0) {
			fail(rc, &e);
			continue;
		}
		/* files go only after the records that named them */
		for (j = 0; j < json_object_array_length(o.files); j++) {
			const char *p = json_object_get_string(
			    json_object_array_get_idx(o.files, j));
			if (msp_blob_remove(b, p, &e) != 0)
				fail(MSP_EINVAL, &e);
		}
	}
	json_object_put(o.files);
}

static void
update_cmd(struct msp_store *st, struct flags *fl, int argc, char **argv)
{
	struct one o = { st, fl, NULL, NULL, NULL, NULL };
	struct msp_err e;
	int rc;

	if (fl->sets == NULL) {
		run_stream(st, update_line, NULL, 1, argc, argv);
		return;
	}
	if (argc != 1)
		msp_cli_usage_error("update: --set takes exactly one video id");
	o.arg = argv[0];
	o.in = fl->sets;
	if ((rc = msp_store_write(st, video_update_txn, &o, &e)) != 0) {
		msp_err_prefix(&e, "%s", argv[0]);
		fail(rc, &e);
	} else {
		msp_cli_emit(o.out);
	}
	json_object_put(o.out);
}

struct shown {
	struct msp_store *st;
	MDB_txn *t;
};

/* A video as shown: with its likes or ratings (lib/engage). */
static int
video_cb(json_object *v, void *arg, struct msp_err *e)
{
	struct shown *s = arg;
	int rc;

	if ((rc = msp_engage_decorate(s->st, s->t, v, e)) != 0)
		return rc;
	msp_cli_emit(v);
	return 0;
}

static void
list_cmd(struct msp_store *st, struct flags *fl, int argc)
{
	struct shown shown;
	struct msp_video_query q;
	struct msp_err e;
	MDB_txn *t;
	char *next = NULL;
	int rc;

	if (argc > 0)
		msp_cli_usage_error("list: takes no arguments");
	memset(&q, 0, sizeof(q));
	q.video_type = fl->type;
	q.genre = fl->genres ? json_object_get_string(
	    json_object_array_get_idx(fl->genres, 0)) : NULL;
	if (fl->genres && json_object_array_length(fl->genres) > 1)
		msp_cli_usage_error("list: one --genre at a time");
	q.language = fl->language;
	q.status = fl->status;
	q.uploaded_by = fl->uploaded_by;
	q.premium = fl->premium ? 1 : fl->free ? 0 : -1;
	q.include_deleted = fl->deleted;
	q.limit = fl->limit;
	q.after = fl->after;
	if (fl->sort == NULL || strcmp(fl->sort, "newest") == 0)
		q.sort = MSP_SORT_NEWEST;
	else if (strcmp(fl->sort, "oldest") == 0)
		q.sort = MSP_SORT_OLDEST;
	else if (strcmp(fl->sort, "likes") == 0)
		q.sort = MSP_SORT_LIKES;
	else if (strcmp(fl->sort, "rating") == 0)
		q.sort = MSP_SORT_RATING;
	else
		msp_cli_usage_error("--sort: expected newest, oldest, likes or "
		    "rating, got '%s'", fl->sort);
	if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
		fail(rc, &e);
	shown.st = st;
	shown.t = t;
	rc = msp_video_list(st, t, &q, video_cb, &shown, &next, &e);
	msp_txn_abort(st, t);
	if (rc != 0) {
		fail(rc, &e);
		return;
	}
	if (next != NULL) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "type", json_object_new_string("page"));
		json_object_object_add(p, "v", json_object_new_int(1));
		json_object_object_add(p, "after", json_object_new_string(next));
		msp_cli_emit(p);
		json_object_put(p);
		free(next);
	}
}

static void
report_cb(const char *msg, void *arg)
{
	(void)arg;
	msp_warn("%s", msg);
}

static void
check_media(struct msp_store *st)
{
	struct msp_blob *b;
	struct msp_err e;
	int rc;

	if (msp_blob_store(st, &b, &e) != 0)
		msp_die(3, "%s", e.msg);
	if ((rc = msp_media_check_store(st, b, report_cb, NULL, &e)) < 0)
		fail(rc, &e);
	else if (rc > 0) {
		msp_warn("%d disagreement%s between records and media", rc,
		    rc == 1 ? "" : "s");
		status = 1;
	}
}

static void
media_move_cmd(struct msp_store *st, struct flags *fl, int argc,
    char **argv)
{
	struct msp_media_move m;
	struct msp_err e;
	json_object *o;
	int rc, bucket;

	if (fl->to == NULL)
		msp_cli_usage_error("media-move: --to bucket or --to dir");
	if ((bucket = strcmp(fl->to, "bucket") == 0) && argc != 1)
		msp_cli_usage_error("media-move --to bucket: expected a bucket "
		    "file");
	if (!bucket && (strcmp(fl->to, "dir") != 0 || argc != 0))
		msp_cli_usage_error("media-move: --to bucket FILE or --to dir");
	if ((rc = msp_media_move(st, bucket ? argv[0] : NULL, &m, &e)) != 0)
		msp_die(3, "%s", e.msg);
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("media-move"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "to", json_object_new_string(fl->to));
	json_object_object_add(o, "objects", json_object_new_int64(m.objects));
	json_object_object_add(o, "copied", json_object_new_int64(m.copied));
	json_object_object_add(o, "bytes", json_object_new_int64(m.bytes));
	msp_cli_emit(o);
	json_object_put(o);
}

/* ---- captions -------------------------------------------------------- */

static void
caption_emit(json_object *v, const char *only)
{
	json_object *caps, *x;
	size_t i;

	if (!json_object_object_get_ex(v, "captions", &caps))
		return;
	for (i = 0; i < json_object_array_length(caps); i++) {
		json_object *c = json_object_array_get_idx(caps, i), *o;
		const char *l = msp_json_sget(c, "language");
		if (only != NULL && (l == NULL || strcmp(l, only) != 0))
			continue;
		if ((o = json_object_new_object()) == NULL)
			msp_die(3, "out of memory");
		json_object_object_add(o, "type",
		    json_object_new_string("caption"));
		json_object_object_add(o, "v", json_object_new_int(1));
		json_object_object_add(o, "video", json_object_get(
		    json_object_object_get(v, "id")));
		json_object_object_add(o, "language",
		    json_object_new_string(l ? l : ""));
		if (json_object_object_get_ex(c, "label", &x))
			json_object_object_add(o, "label", json_object_get(x));
		if (json_object_object_get_ex(c, "path", &x))
			json_object_object_add(o, "path", json_object_get(x));
		if (json_object_object_get_ex(c, "cues", &x))
			json_object_object_add(o, "cues", json_object_new_int(
			    (int)json_object_array_length(x)));
		msp_cli_emit(o);
		json_object_put(o);
	}
}

/* caption add ID LANG=FILE... | del ID LANG... | list ID... |
 * publish ID... */
static void
caption_cmd(struct msp_store *st, int argc, char **argv)
{
	const char *sub, *id;
	char tag[MSP_CAPTION_TAG_MAX + 1];
	struct msp_caption c;
	struct msp_err e;
	json_object *v;
	MDB_txn *t;
	int i, rc, add;

	if (argc < 2)
		msp_cli_usage_error("caption: expected add, del, list or "
		    "publish and a video id");
	sub = argv[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "publish") == 0) {
		for (i = 1; i < argc; i++) {
			if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
				msp_die(3, "%s", e.msg);
			rc = msp_video_get(st, t, argv[i], &v, &e);
			msp_txn_abort(st, t);
			if (rc != 0) {
				fail(rc, &e);
				continue;
			}
			if (sub[0] == 'p' &&
			    (rc = msp_caption_publish(st, v, &e)) != 0)
				fail(rc, &e);
			else
				caption_emit(v, NULL);
			json_object_put(v);
		}
		return;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0)
		msp_cli_usage_error("caption: unknown command '%s'", sub);
	add = sub[0] == 'a';
	id = argv[1];
	if (argc < 3)
		msp_cli_usage_error(add ? "caption add: expected LANG=FILE "
		    "after the video id" : "caption del: expected languages "
		    "after the video id");
	/* every argument and file is checked before anything is stored */
	for (i = 2; i < argc; i++) {
		char *eq = add ? strchr(argv[i], '=') : NULL;
		if (add && (eq == NULL || eq == argv[i] || eq[1] == '\0'))
			msp_cli_usage_error("caption add: '%s': expected "
			    "LANG=FILE", argv[i]);
		if (eq != NULL)
			*eq = '\0';
		rc = msp_caption_lang(argv[i], tag, &e);
		if (eq != NULL)
			*eq = '=';
		if (rc != 0)
			msp_die(1, "%s", e.msg);
		if (eq != NULL) {
			if ((rc = msp_caption_load(eq + 1, &c, &e)) != 0)
				msp_die(msp_err_exit(rc), "%s", e.msg);
			msp_caption_free(&c);
		}
	}
	for (i = 2; i < argc; i++) {
		char *eq = add ? strchr(argv[i], '=') : NULL;
		if (eq != NULL)
			*eq = '\0';
		(void)msp_caption_lang(argv[i], tag, &e);
		if (add && (rc = msp_caption_load(eq + 1, &c, &e)) != 0) {
			fail(rc, &e);
			continue;
		}
		rc = msp_caption_set(st, id, tag, add ? &c : NULL, NULL, NULL,
		    &v, &e);
		if (add)
			msp_caption_free(&c);
		if (rc != 0) {
			fail(rc, &e);
			continue;
		}
		if (add) {
			caption_emit(v, tag);
		} else {
			json_object *o = json_object_new_object();
			if (o == NULL)
				msp_die(3, "out of memory");
			json_object_object_add(o, "type",
			    json_object_new_string("caption"));
			json_object_object_add(o, "v", json_object_new_int(1));
			json_object_object_add(o, "video",
			    json_object_new_string(id));
			json_object_object_add(o, "language",
			    json_object_new_string(tag));
			json_object_object_add(o, "deleted",
			    json_object_new_boolean(1));
			msp_cli_emit(o);
			json_object_put(o);
		}
		json_object_put(v);
	}
}

static void
check_cmd(struct msp_store *st, int media)
{
	struct msp_err e;
	MDB_txn *t;
	int rc;

	if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0)
		fail(rc, &e);
	rc = msp_catalog_check(st, t, report_cb, NULL, &e);
	msp_txn_abort(st, t);
	if (rc < 0)
		fail(rc, &e);
	else if (rc > 0) {
		msp_warn("%d disagreement%s between records and indexes", rc,
		    rc == 1 ? "" : "s");
		status = 1;
	}
	if (media)
		check_media(st);
}

int
main(int argc, char **argv)
{
	struct flags fl;
	struct msp_importer *im;
	struct msp_store *st;
	struct msp_err e;
	long long n;
	int c;
	const char *cmd;

	msp_cli_init(&cli);
	memset(&fl, 0, sizeof(fl));
	while ((c = msp_cli_getopt(&cli, argc, argv)) != -1) {
		switch (c) {
		case 's': store_dir = optarg; break;
		case O_ADMIN: fl.admin = 1; break;
		case 't': fl.type = optarg; break;
		case O_NAME: fl.name = optarg; break;
		case O_TITLE: fl.title = optarg; break;
		case O_ABOUT: fl.about = optarg; break;
		case O_LANGUAGE: fl.language = optarg; break;
		case 'g':
			if (fl.genres == NULL)
				fl.genres = json_object_new_array();
			json_object_array_add(fl.genres,
			    json_object_new_string(optarg));
			break;
		case O_PREMIUM: fl.premium = 1; break;
		case O_FREE: fl.free = 1; break;
		case O_UPLOADED_BY: fl.uploaded_by = optarg; break;
		case O_STATUS: fl.status = optarg; break;
		case O_SORT: fl.sort = optarg; break;
		case 'n':
			if (msp_parse_int(optarg, 1, 1000000, &n) != 0)
				msp_cli_usage_error("--limit: expected a number "
				    "from 1 to 1000000, got '%s'", optarg);
			fl.limit = (long)n;
			break;
		case O_AFTER: fl.after = optarg; break;
		case O_DELETED: fl.deleted = 1; break;
		case O_SET:
			if (fl.sets == NULL)
				fl.sets = json_object_new_object();
			if (msp_video_set_arg(fl.sets, optarg, &e) != 0)
				msp_cli_usage_error("--set: %s", e.msg);
			break;
		case O_PURGE: fl.purge = 1; break;
		case O_STRICT: strict = 1; break;
		case O_BATCH:
			if (msp_parse_int(optarg, 1, 1000000, &n) != 0)
				msp_cli_usage_error("--batch: expected a number "
				    "from 1 to 1000000, got '%s'", optarg);
			batch = (long)n;
			break;
		case O_MEDIA: fl.media = 1; break;
		case O_TO: fl.to = optarg; break;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		msp_cli_usage_error("expected a command");
	cmd = argv[0];
	argc--;
	argv++;
	if (fl.premium && fl.free)
		msp_cli_usage_error("--premium and --free exclude each other");
	if (strcmp(cmd, "user") == 0) {
		st = open_store(0);
		user_cmd(st, &fl, argc, argv);
	} else if (strcmp(cmd, "add") == 0) {
		st = open_store(0);
		add_cmd(st, &fl, argc, argv);
	} else if (strcmp(cmd, "get") == 0) {
		st = open_store(0);
		get_cmd(st, argc, argv);
	} else if (strcmp(cmd, "list") == 0) {
		st = open_store(0);
		list_cmd(st, &fl, argc);
	} else if (strcmp(cmd, "update") == 0) {
		st = open_store(0);
		update_cmd(st, &fl, argc, argv);
	} else if (strcmp(cmd, "del") == 0) {
		st = open_store(0);
		del_cmd(st, &fl, argc, argv);
	} else if (strcmp(cmd, "export") == 0) {
		if (argc > 0)
			msp_cli_usage_error("export: takes no arguments");
		st = open_store(0);
		if ((c = msp_dump_export(st, stdout, &e)) != 0)
			fail(c, &e);
	} else if (strcmp(cmd, "import") == 0) {
		st = open_store(0);
#ifdef M_MXFAST
		/* an import frees a whole batch of small objects, then parses
		 * the next: glibc's fast bins would be swept (consolidated) at
		 * each larger request, a fifth of the parsing thread's time */
		mallopt(M_MXFAST, 0);
#endif
#ifdef M_TRIM_THRESHOLD
		/* nor give the freed batch back to the system, only to fault
		 * the same pages in again for the next one */
		mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
#ifdef M_MMAP_THRESHOLD
		/* and the same for a batch's large arrays (its search postings
		 * and word pairs, sorted, megabytes each): setting the trim
		 * threshold stops glibc from raising the size it maps blocks
		 * at, so each would be mapped fresh for every batch, its pages
		 * faulted in and handed back, a fifth of the import's time */
		mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
		if ((c = msp_import_open(st, &im, &e)) != 0)
			fail(c, &e);
		run_stream(st, NULL, im, 0, argc, argv);
		if ((c = msp_import_close(im, &e)) != 0)
			fail(c, &e);
	} else if (strcmp(cmd, "check") == 0) {
		if (argc > 0)
			msp_cli_usage_error("check: takes no arguments");
		st = open_store(0);
		check_cmd(st, fl.media);
	} else if (strcmp(cmd, "caption") == 0) {
		st = open_store(1);
		caption_cmd(st, argc, argv);
	} else if (strcmp(cmd, "media-move") == 0) {
		st = open_store(1);
		media_move_cmd(st, &fl, argc, argv);
	} else {
		msp_cli_usage_error("unknown command '%s'", cmd);
	}
	json_object_put(fl.genres);
	json_object_put(fl.sets);
	msp_store_close(st);
	msp_cli_exit(status);
}
