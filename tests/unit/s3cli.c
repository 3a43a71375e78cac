/* s3cli: drive lib/s3 from the bucket tests (tests/s3.bats); built with
 * the tests, never installed.
 *
 * usage: s3cli [-c CONF] [-p PAGE] COMMAND ARGS...
 *   check                          msp_s3_check
 *   put KEY FILE [TYPE [CACHE]]    msp_s3_put_file
 *   putmem KEY FILE                msp_s3_put (the file read into memory)
 *   stream KEY                     msp_s3_upload_* from stdin, 64 KiB writes
 *   stream-fail KEY                the same, then msp_s3_upload_abort
 *   stream-crash KEY               the same, then _exit(0): a crash that
 *                                  leaves the multipart upload behind
 *   get KEY [OFF [LEN]]            msp_s3_get to stdout
 *   getfile KEY PATH               msp_s3_get_file
 *   head KEY                       "SIZE ETAG"
 *   delete KEY
 *   list [PREFIX]                  "KEY SIZE ETAG" lines
 *   uploads [PREFIX]               "KEY UPLOAD_ID" lines
 *   abort KEY UPLOAD_ID
 *   presign METHOD KEY EXPIRES     the URL
 * Errors: "s3cli: MESSAGE" on stderr, exit as the tools do (1 or 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3.h"

static int
out_bytes(void *arg, const void *p, size_t n)
{
	(void)arg;
	return fwrite(p, 1, n, stdout) == n ? 0 : MSP_EIO;
}

static int
out_key(void *arg, const char *key, int64_t size, const char *etag)
{
	(void)arg;
	printf("%s %lld %s\n", key, (long long)size, etag);
	return 0;
}

static int
out_upload(void *arg, const char *key, const char *id)
{
	(void)arg;
	printf("%s %s\n", key, id);
	return 0;
}

static int
slurp(const char *path, char **buf, size_t *n)
{
	FILE *f = fopen(path, "rb");
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (*buf = malloc((size_t)len + 1)) ==
	    NULL || fread(*buf, 1, (size_t)len, f) != (size_t)len) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	*n = (size_t)len;
	return 0;
}

/* fail: 0 finish, 1 abort, 2 exit at once */
static int
stream(struct msp_s3 *s, const char *key, int fail, struct msp_err *e)
{
	struct msp_s3_upload *u;
	char buf[65536];
	size_t n;
	int rc;

	if ((rc = msp_s3_upload_begin(s, key, NULL, &u, e)) != 0)
		return rc;
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		if ((rc = msp_s3_upload_write(u, buf, n, e)) != 0) {
			msp_s3_upload_abort(u);
			return rc;
		}
	if (fail == 2)
		_exit(0);
	if (fail) {
		msp_s3_upload_abort(u);
		return msp_err_set(e, MSP_EIO, "upload abandoned");
	}
	return msp_s3_upload_finish(u, e);
}

int
main(int argc, char **argv)
{
	struct msp_s3_conf c;
	struct msp_s3 *s = NULL;
	struct msp_err e = { 0 };
	struct msp_s3_put_opts po = { 0 };
	const char *conf = NULL, *cmd;
	char *etag = NULL, *url = NULL, *buf = NULL;
	int64_t size;
	size_t n;
	int ch, rc, page = 0;

	while ((ch = getopt(argc, argv, "c:p:")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'p':
			page = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fprintf(stderr, "usage: s3cli [-c conf] [-p page] command "
		    "args...\n");
		return 2;
	}
	cmd = argv[0];
	msp_s3_conf_init(&c);
	if ((rc = msp_s3_conf_load(&c, conf, &e)) != 0 ||
	    (c.page_size = page, rc = msp_s3_open(&s, &c, &e)) != 0)
		goto out;
	if (strcmp(cmd, "check") == 0) {
		rc = msp_s3_check(s, &e);
	} else if (strcmp(cmd, "put") == 0 && argc >= 3) {
		po.content_type = argc > 3 ? argv[3] : NULL;
		po.cache_control = argc > 4 ? argv[4] : NULL;
		rc = msp_s3_put_file(s, argv[1], argv[2], &po, &e);
	} else if (strcmp(cmd, "putmem") == 0 && argc == 3) {
		if (slurp(argv[2], &buf, &n) != 0)
			rc = msp_err_set(&e, MSP_EIO, "%s: cannot read", argv[2]);
		else
			rc = msp_s3_put(s, argv[1], buf, n, NULL, &e);
	} else if (strcmp(cmd, "stream") == 0 && argc == 2) {
		rc = stream(s, argv[1], 0, &e);
	} else if (strcmp(cmd, "stream-fail") == 0 && argc == 2) {
		rc = stream(s, argv[1], 1, &e);
	} else if (strcmp(cmd, "stream-crash") == 0 && argc == 2) {
		rc = stream(s, argv[1], 2, &e);
	} else if (strcmp(cmd, "get") == 0 && argc >= 2) {
		rc = msp_s3_get(s, argv[1], argc > 2 ? atoll(argv[2]) : 0,
		    argc > 3 ? atoll(argv[3]) : -1, out_bytes, NULL, &e);
	} else if (strcmp(cmd, "getfile") == 0 && argc == 3) {
		rc = msp_s3_get_file(s, argv[1], argv[2], &e);
	} else if (strcmp(cmd, "head") == 0 && argc == 2) {
		if ((rc = msp_s3_head(s, argv[1], &size, &etag, &e)) == 0)
			printf("%lld %s\n", (long long)size, etag);
	} else if (strcmp(cmd, "delete") == 0 && argc == 2) {
		rc = msp_s3_delete(s, argv[1], &e);
	} else if (strcmp(cmd, "list") == 0) {
		rc = msp_s3_list(s, argc > 1 ? argv[1] : "", out_key, NULL, &e);
	} else if (strcmp(cmd, "uploads") == 0) {
		rc = msp_s3_list_uploads(s, argc > 1 ? argv[1] : "",
		    out_upload, NULL, &e);
	} else if (strcmp(cmd, "abort") == 0 && argc == 3) {
		rc = msp_s3_abort_upload(s, argv[1], argv[2], &e);
	} else if (strcmp(cmd, "presign") == 0 && argc == 4) {
		if ((rc = msp_s3_presign(s, argv[1], argv[2], atol(argv[3]),
		    &url, &e)) == 0)
			printf("%s\n", url);
	} else {
		fprintf(stderr, "s3cli: unknown command or arguments\n");
		rc = 2;
		goto done;
	}
out:
	if (rc != 0)
		fprintf(stderr, "s3cli: %s\n", e.msg);
	rc = rc == 0 ? 0 : msp_err_exit(rc);
done:
	if (fflush(stdout) != 0 && rc == 0)
		rc = 3;
	free(etag);
	free(url);
	free(buf);
	msp_s3_close(s);
	msp_s3_conf_free(&c);
	return rc;
}
