/* msp-ingest: probe, store and register uploaded media; one job line per
 * accepted input. See msp-ingest(1). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"
#include "caption.h"
#include "cli.h"
#include "ingest.h"
#include "jsonl.h"
#include "media.h"
#include "store.h"

enum { O_TITLE = 256, O_ABOUT, O_LANGUAGE, O_PREMIUM,
    O_UPLOADED_BY, O_NAME, O_META, O_MAX_SIZE, O_LIMIT, O_DRY_RUN, O_STRICT,
    O_CAPTION };

static const struct msp_opt opts[] = {
	{ "store", 's', "DIR", "the store (default $MSP_STORE, ./msp-store)" },
	{ "type", 't', "TYPE", "short or long" },
	{ "title", O_TITLE, "TEXT", "title of a long video" },
	{ "about", O_ABOUT, "TEXT", "description of a long video" },
	{ "language", O_LANGUAGE, "CODE", "language (ISO 639-1 code or name)" },
	{ "genre", 'g', "GENRE", "a genre (repeat for more)" },
	{ "premium", O_PREMIUM, NULL, "only for premium subscribers" },
	{ "uploaded-by", O_UPLOADED_BY, "EMAIL", "the uploading user" },
	{ "name", O_NAME, "TEXT", "name of a short video" },
	{ "meta", O_META, "FILE", "metadata, one JSON line per input (- stdin)" },
	{ "caption", O_CAPTION, "LANG=FILE", "a caption file, WebVTT or SRT (repeat for more languages)" },
	{ "max-size", O_MAX_SIZE, "SIZE", "size limit (default 4G)" },
	{ "limit", O_LIMIT, "NAME=VALUE", "a media limit: width, height, pixels, fps, duration, streams" },
	{ "dry-run", O_DRY_RUN, NULL, "probe and check only; store nothing" },
	{ "strict", O_STRICT, NULL, "stop at the first rejected input" },
	{ "help", 'h', NULL, "show this help" },
	{ "version", 'V', NULL, "show the version" },
	{ NULL, 0, NULL, NULL }
};

static const struct msp_cli cli = {
	"msp-ingest",
	"[options] [FILE|URL ...]\n"
	"[options] --meta FILE   (inputs named by each line's \"file\")",
	opts
};

static struct msp_store *st;
static struct msp_jsonl *meta_in;
static int64_t max_size;
static int dry_run, strict, failed;

/* --caption: checked once, added to each video */
static struct cap {
	char tag[MSP_CAPTION_TAG_MAX + 1];
	struct msp_caption c;
} caps[MSP_CAPTIONS_MAX];
static int ncaps;

static void
caption_arg(char *arg)
{
	struct msp_err e;
	char *eq = strchr(arg, '=');
	int i, rc;

	if (eq == NULL || eq == arg || eq[1] == '\0')
		msp_cli_usage_error("--caption: '%s': expected LANG=FILE", arg);
	*eq = '\0';
	rc = msp_caption_lang(arg, caps[ncaps].tag, &e);
	*eq = '=';
	if (rc != 0)
		msp_cli_usage_error("--caption: %s", e.msg);
	for (i = 0; i < ncaps; i++)
		if (strcmp(caps[i].tag, caps[ncaps].tag) == 0)
			msp_cli_usage_error("--caption: language '%s' twice",
			    caps[i].tag);
	if (ncaps == MSP_CAPTIONS_MAX)
		msp_cli_usage_error("--caption: at most %d languages",
		    MSP_CAPTIONS_MAX);
	if ((rc = msp_caption_load(eq + 1, &caps[ncaps].c, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	ncaps++;
}

static void
fatal_or_reject(const char *what, int rc, const struct msp_err *e)
{
	msp_warn("%s: %s", what, e->msg);
	if (rc == MSP_EIO || rc == MSP_ESTORE || rc == MSP_ENOMEM ||
	    rc == MSP_EMAPFULL)
		msp_cli_exit(3);
	failed = 1;
	if (strict)
		msp_cli_exit(1);
}

/* One input with its metadata (flags merged under the meta line). */
static void
ingest_one(const char *src, json_object *meta)
{
	struct msp_err e;
	json_object *out = NULL, *x;
	const char *vt = NULL;
	int rc;

	if (dry_run) {
		if (json_object_object_get_ex(meta, "videoType", &x) &&
		    json_object_is_type(x, json_type_string))
			vt = json_object_get_string(x);
		rc = msp_ingest_probe(src, vt, max_size, &out, &e);
	} else {
		rc = msp_ingest_file(st, src, meta, max_size, &out, &e);
	}
	if (rc != 0) {
		fatal_or_reject(src, rc, &e);
		return;
	}
	if (!dry_run && ncaps > 0) {
		const char *vid = NULL;
		json_object *tags = json_object_new_array();
		int i;

		if (json_object_object_get_ex(out, "videoId", &x))
			vid = json_object_get_string(x);
		for (i = 0; vid != NULL && i < ncaps; i++) {
			if ((rc = msp_caption_set(st, vid, caps[i].tag,
			    &caps[i].c, NULL, NULL, NULL, &e)) != 0) {
				/* the video stays, with the captions so far */
				json_object_put(tags);
				json_object_put(out);
				fatal_or_reject(src, rc, &e);
				return;
			}
			json_object_array_add(tags,
			    json_object_new_string(caps[i].tag));
		}
		json_object_object_add(out, "captions", tags);
	}
	msp_cli_emit(out);
	json_object_put(out);
}

/* Fields from the flags: a meta line's own fields win. */
static void
merge(json_object *dst, json_object *flags)
{
	json_object_object_foreach(flags, k, v) {
		if (!json_object_object_get_ex(dst, k, NULL))
			json_object_object_add(dst, k, json_object_get(v));
	}
}

/* The next meta line (merged with the flags), or NULL at the end. */
static json_object *
next_meta(json_object *flags)
{
	struct msp_err e;
	json_object *o;
	int rc;

	for (;;) {
		rc = msp_jsonl_read(meta_in, &o, &e);
		if (rc == 1) {
			if (!json_object_is_type(o, json_type_object)) {
				msp_warn("%s: expected a JSON object",
				    msp_jsonl_where(meta_in));
				json_object_put(o);
				failed = 1;
				if (strict)
					msp_cli_exit(1);
				continue;
			}
			merge(o, flags);
			return o;
		}
		if (rc == 0)
			return NULL;
		msp_warn("%s", e.msg);
		if (rc != MSP_EINVAL)
			msp_cli_exit(3);
		failed = 1;
		if (strict)
			msp_cli_exit(1);
	}
}

int
main(int argc, char **argv)
{
	struct msp_blob *media;
	const char *store = NULL, *meta_path = NULL;
	json_object *flags, *genres = NULL;
	struct msp_err e;
	FILE *mf = NULL;
	int c, rc, i;

	msp_cli_init(&cli);
	if ((flags = json_object_new_object()) == NULL)
		msp_die(3, "out of memory");
	while ((c = msp_cli_getopt(&cli, argc, argv)) != -1) {
		switch (c) {
		case 's':
			store = optarg;
			break;
		case 't':
			json_object_object_add(flags, "videoType",
			    json_object_new_string(optarg));
			break;
		case O_TITLE:
			json_object_object_add(flags, "title",
			    json_object_new_string(optarg));
			break;
		case O_ABOUT:
			json_object_object_add(flags, "about",
			    json_object_new_string(optarg));
			break;
		case O_LANGUAGE:
			json_object_object_add(flags, "language",
			    json_object_new_string(optarg));
			break;
		case 'g':
			if (genres == NULL) {
				genres = json_object_new_array();
				json_object_object_add(flags, "genres",
				    genres);
			}
			json_object_array_add(genres,
			    json_object_new_string(optarg));
			break;
		case O_PREMIUM:
			json_object_object_add(flags, "isPremium",
			    json_object_new_boolean(1));
			break;
		case O_UPLOADED_BY:
			json_object_object_add(flags, "uploadedBy",
			    json_object_new_string(optarg));
			break;
		case O_NAME:
			json_object_object_add(flags, "name",
			    json_object_new_string(optarg));
			break;
		case O_META:
			meta_path = optarg;
			break;
		case O_MAX_SIZE:
			if (msp_media_parse_size(optarg, &max_size) != 0)
				msp_cli_usage_error("--max-size: '%s' is not a "
				    "size (bytes, or with K, M, G or T)",
				    optarg);
			break;
		case O_LIMIT:
			if (msp_media_limit_set(optarg, &e) != 0)
				msp_cli_usage_error("--limit: %s", e.msg);
			break;
		case O_DRY_RUN:
			dry_run = 1;
			break;
		case O_STRICT:
			strict = 1;
			break;
		case O_CAPTION:
			caption_arg(optarg);
			break;
		default:
			msp_cli_usage_error("unknown option");
		}
	}
	argc -= optind;
	argv += optind;
	msp_media_log(0);
	if (meta_path != NULL) {
		if (strcmp(meta_path, "-") == 0)
			mf = stdin;
		else if ((mf = fopen(meta_path, "r")) == NULL)
			msp_die(3, "%s: %s", meta_path, strerror(errno));
		if (msp_jsonl_open(&meta_in, mf, meta_path, &e) != 0)
			msp_die(3, "%s", e.msg);
	}
	if (!dry_run && (rc = msp_store_open(&st, store, 0, &e)) != 0)
		msp_die(3, "%s", e.msg);
	/* the media (a bucket is checked now, before any input) */
	if (!dry_run && (rc = msp_blob_store(st, &media, &e)) != 0)
		msp_die(3, "%s", e.msg);

	if (argc > 0) {
		for (i = 0; i < argc && !msp_stop_requested(); i++) {
			json_object *m = NULL;

			if (meta_in != NULL && (m = next_meta(flags)) == NULL) {
				msp_warn("%s: no metadata line for this input",
				    argv[i]);
				failed = 1;
				if (strict)
					break;
				continue;
			}
			ingest_one(argv[i], m ? m : flags);
			json_object_put(m);
		}
	} else if (meta_in != NULL) {
		json_object *m, *f;

		while (!msp_stop_requested() && (m = next_meta(flags)) != NULL) {
			char *src;

			if (!json_object_object_get_ex(m, "file", &f) ||
			    !json_object_is_type(f, json_type_string) ||
			    json_object_get_string_len(f) == 0) {
				msp_warn("%s: field 'file': required (the "
				    "input to ingest)", msp_jsonl_where(meta_in));
				failed = 1;
				json_object_put(m);
				if (strict)
					break;
				continue;
			}
			src = strdup(json_object_get_string(f));
			json_object_object_del(m, "file");
			if (src == NULL)
				msp_die(3, "out of memory");
			ingest_one(src, m);
			free(src);
			json_object_put(m);
		}
	} else {
		char *line = NULL;
		size_t cap = 0;

		while (!msp_stop_requested() && msp_cli_readline(&line, &cap))
			if (*line != '\0')
				ingest_one(line, flags);
		free(line);
	}
	msp_jsonl_close(meta_in);
	if (mf != NULL && mf != stdin)
		fclose(mf);
	json_object_put(flags);
	msp_store_close(st);
	for (i = 0; i < ncaps; i++)
		msp_caption_free(&caps[i].c);
	if (msp_stop_requested())
		msp_die(3, "interrupted");
	msp_cli_exit(failed ? 1 : 0);
}
