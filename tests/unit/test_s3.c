/* lib/s3: SigV4 known answers (AWS's Signature Version 4 test suite and
 * the S3 documentation's signing examples), configuration files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3.h"
#include "tap.h"

#define SUITE_KEY "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HOST "Host:example.amazonaws.com"
#define XDATE "X-Amz-Date:20150830T123600Z"

/* The suite signs for service "service" in us-east-1. */
static int
suite(const char *name, const char *method, const char *path,
    const char *query, const char *const *h, size_t n, const char *payload,
    const char *signed_headers, const char *sig)
{
	char *got, want[512];
	int r;

	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential="
	    SUITE_KEY "/20150830/us-east-1/service/aws4_request, "
	    "SignedHeaders=%s, Signature=%s", signed_headers, sig);
	got = msp_s3_authorization(SUITE_KEY, SUITE_SECRET, SUITE_DATE,
	    "us-east-1", "service", method, path, query, h, n,
	    payload ? payload : EMPTY_SHA);
	r = got != NULL && strcmp(got, want) == 0;
	if (!r)
		printf("# %s\n#   got  %s\n#   want %s\n", name,
		    got ? got : "(null)", want);
	free(got);
	return r;
}

static int
creq_is(const char *method, const char *path, const char *query,
    const char *const *h, size_t n, const char *want)
{
	char *got = msp_s3_canonical_request(method, path, query, h, n,
	    EMPTY_SHA);
	int r = got != NULL && strcmp(got, want) == 0;

	if (!r)
		printf("#   got  %s\n#   want %s\n", got ? got : "(null)", want);
	free(got);
	return r;
}

static void
test_suite(void)
{
	const char *h[] = { HOST, XDATE };
	const char *dup[] = { HOST, "My-Header1:value2", "My-Header1:value2",
	    "My-Header1:value1", XDATE };
	const char *order[] = { HOST, "My-Header1:value4",
	    "My-Header1:value1", "My-Header1:value3", "My-Header1:value2",
	    XDATE };
	const char *trim[] = { HOST, "My-Header1: value1",
	    "My-Header2: \"a   b   c\"", XDATE };
	const char *sort[] = { XDATE, "My-Header1:value1", HOST };
	const char *vcase[] = { HOST, "My-Header1:VALUE1", XDATE };
	const char *form[] = { "Content-Type:application/x-www-form-urlencoded",
	    HOST, XDATE };
	const char *sts[] = { HOST, XDATE, "X-Amz-Security-Token:"
	    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwd"
	    "QWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/k"
	    "McGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXD"
	    "vp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64"
	    "lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2I"
	    "CCR/oLxBA==" };
	const char *unres = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz";
	char q[200];

	ok(suite("get-vanilla", "GET", "/", NULL, h, 2, NULL,
	    "host;x-amz-date",
	    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
	    "suite: get-vanilla");
	ok(creq_is("GET", "/", NULL, h, 2, "GET\n/\n\nhost:example.amazonaws."
	    "com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA),
	    "suite: get-vanilla canonical request");
	ok(suite("get-vanilla-empty-query-key", "GET", "/", "Param1=value1",
	    h, 2, NULL, "host;x-amz-date",
	    "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
	    "suite: get-vanilla-empty-query-key");
	ok(suite("get-vanilla-query-order-key-case", "GET", "/",
	    "Param2=value2&Param1=value1", h, 2, NULL, "host;x-amz-date",
	    "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
	    "suite: get-vanilla-query-order-key-case (sorted query)");
	ok(suite("get-vanilla-query-order-key", "GET", "/",
	    "Param1=value2&Param1=Value1", h, 2, NULL, "host;x-amz-date",
	    "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
	    "suite: get-vanilla-query-order-key");
	ok(suite("get-vanilla-query-order-value", "GET", "/",
	    "Param1=value2&Param1=value1", h, 2, NULL, "host;x-amz-date",
	    "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
	    "suite: get-vanilla-query-order-value");
	snprintf(q, sizeof(q), "%s=%s", unres, unres);
	ok(suite("get-vanilla-query-unreserved", "GET", "/", q, h, 2, NULL,
	    "host;x-amz-date",
	    "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
	    "suite: get-vanilla-query-unreserved");
	ok(suite("get-vanilla-utf8-query", "GET", "/", "\xe1\x88\xb4=bar", h,
	    2, NULL, "host;x-amz-date",
	    "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
	    "suite: get-vanilla-utf8-query");
	ok(suite("get-utf8", "GET", "/\xe1\x88\xb4", NULL, h, 2, NULL,
	    "host;x-amz-date",
	    "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
	    "suite: get-utf8");
	ok(suite("get-space", "GET", "/example space/", NULL, h, 2, NULL,
	    "host;x-amz-date",
	    "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
	    "suite: get-space");
	snprintf(q, sizeof(q), "/%s", unres);
	ok(suite("get-unreserved", "GET", q, NULL, h, 2, NULL,
	    "host;x-amz-date",
	    "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
	    "suite: get-unreserved");
	ok(suite("get-header-key-duplicate", "GET", "/", NULL, dup, 5, NULL,
	    "host;my-header1;x-amz-date",
	    "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
	    "suite: get-header-key-duplicate");
	ok(suite("get-header-value-order", "GET", "/", NULL, order, 6, NULL,
	    "host;my-header1;x-amz-date",
	    "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
	    "suite: get-header-value-order");
	ok(suite("get-header-value-trim", "GET", "/", NULL, trim, 4, NULL,
	    "host;my-header1;my-header2;x-amz-date",
	    "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
	    "suite: get-header-value-trim");
	ok(suite("post-vanilla", "POST", "/", NULL, h, 2, NULL,
	    "host;x-amz-date",
	    "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
	    "suite: post-vanilla");
	ok(suite("post-vanilla-query", "POST", "/", "Param1=value1", h, 2,
	    NULL, "host;x-amz-date",
	    "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
	    "suite: post-vanilla-query");
	ok(suite("post-header-key-sort", "POST", "/", NULL, sort, 3, NULL,
	    "host;my-header1;x-amz-date",
	    "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
	    "suite: post-header-key-sort");
	ok(suite("post-header-value-case", "POST", "/", NULL, vcase, 3, NULL,
	    "host;my-header1;x-amz-date",
	    "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
	    "suite: post-header-value-case");
	ok(suite("post-x-www-form-urlencoded", "POST", "/", NULL, form, 3,
	    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	    "content-type;host;x-amz-date",
	    "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
	    "suite: post-x-www-form-urlencoded");
	ok(suite("post-sts-header-before", "POST", "/", NULL, sts, 3, NULL,
	    "host;x-amz-date;x-amz-security-token",
	    "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
	    "suite: post-sts-header-before (session token signed)");
	/* the suite's normalize-path cases do not apply to S3: a key is
	 * its bytes, "//example//" and "/./" stay as they are */
	ok(creq_is("GET", "//example//", NULL, h, 2, "GET\n//example//\n\n"
	    "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	    "host;x-amz-date\n" EMPTY_SHA),
	    "S3 paths are not normalised (get-slashes)");
	ok(creq_is("GET", "/./a/../b", NULL, h, 2, "GET\n/./a/../b\n\n"
	    "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	    "host;x-amz-date\n" EMPTY_SHA),
	    "S3 paths keep dot segments (get-relative)");
	/* a parameter without a value, and escapes given in the query */
	ok(creq_is("POST", "/k", "uploads", h, 2, "POST\n/k\nuploads=\n"
	    "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	    "host;x-amz-date\n" EMPTY_SHA), "?uploads signs as 'uploads='");
	ok(creq_is("GET", "/", "prefix=a%2fb c&list-type=2", h, 2, "GET\n/\n"
	    "list-type=2&prefix=a%2Fb%20c\nhost:example.amazonaws.com\n"
	    "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA),
	    "query escapes are decoded and encoded again, upper-case");
}

#define DOC_KEY "AKIAIOSFODNN7EXAMPLE"
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_DATE "20130524T000000Z"
#define DOC_HOST "Host:examplebucket.s3.amazonaws.com"

static int
doc(const char *name, const char *method, const char *path,
    const char *query, const char *const *h, size_t n, const char *payload,
    const char *signed_headers, const char *sig)
{
	char *got, want[512];
	int r;

	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=" DOC_KEY
	    "/20130524/us-east-1/s3/aws4_request, SignedHeaders=%s, "
	    "Signature=%s", signed_headers, sig);
	got = msp_s3_authorization(DOC_KEY, DOC_SECRET, DOC_DATE,
	    "us-east-1", "s3", method, path, query, h, n, payload);
	r = got != NULL && strcmp(got, want) == 0;
	if (!r)
		printf("# %s\n#   got  %s\n#   want %s\n", name,
		    got ? got : "(null)", want);
	free(got);
	return r;
}

static void
test_s3_docs(void)
{
	const char *get[] = { DOC_HOST, "Range:bytes=0-9",
	    "x-amz-content-sha256:" EMPTY_SHA, "x-amz-date:" DOC_DATE };
	const char *put[] = { DOC_HOST, "Date:Fri, 24 May 2013 00:00:00 GMT",
	    "x-amz-date:" DOC_DATE, "x-amz-storage-class:REDUCED_REDUNDANCY",
	    "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4"
	    "b4e99e42034a8b803f8b072" };
	const char *lc[] = { DOC_HOST, "x-amz-content-sha256:" EMPTY_SHA,
	    "x-amz-date:" DOC_DATE };
	struct msp_s3_conf c;
	struct msp_s3 *s = NULL;
	struct msp_err e = { 0 };
	char *url = NULL;

	ok(doc("GET object", "GET", "/test.txt", NULL, get, 4, EMPTY_SHA,
	    "host;range;x-amz-content-sha256;x-amz-date",
	    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
	    "S3 docs: GET object with a Range");
	ok(doc("PUT object", "PUT", "/test$file.text", NULL, put, 5,
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
	    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
	    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
	    "S3 docs: PUT object (test$file.text)");
	ok(doc("GET lifecycle", "GET", "/", "lifecycle", lc, 3, EMPTY_SHA,
	    "host;x-amz-content-sha256;x-amz-date",
	    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
	    "S3 docs: GET bucket lifecycle (?lifecycle, no value)");
	ok(doc("list objects", "GET", "/", "max-keys=2&prefix=J", lc, 3,
	    EMPTY_SHA, "host;x-amz-content-sha256;x-amz-date",
	    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
	    "S3 docs: list objects (max-keys=2&prefix=J)");

	msp_s3_conf_init(&c);
	c.endpoint = strdup("https://s3.amazonaws.com");
	c.bucket = strdup("examplebucket");
	c.access_key = strdup(DOC_KEY);
	c.secret_key = strdup(DOC_SECRET);
	c.path_style = 0;
	ok(msp_s3_open(&s, &c, &e) == 0, "open a virtual-hosted bucket: %s",
	    e.msg);
	ok(s != NULL && msp_s3_presign_at(s, "GET", "test.txt", 86400,
	    1369353600, &url, &e) == 0, "presign: %s", e.msg);
	ok(url != NULL && strcmp(url, "https://examplebucket.s3.amazonaws."
	    "com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
	    "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
	    "X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
	    "X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109"
	    "b86d86835f995330da4c265957d157751f604d404") == 0,
	    "S3 docs: presigned GET of test.txt");
	free(url);
	url = NULL;
	ok(s != NULL && msp_s3_presign_at(s, "DELETE", "test.txt", 60,
	    1369353600, &url, &e) == MSP_EINVAL && strcmp(e.msg, "presigned "
	    "url: method 'DELETE' is not GET, HEAD or PUT") == 0,
	    "presign refuses other methods");
	ok(s != NULL && msp_s3_presign_at(s, "GET", "test.txt", 604801,
	    1369353600, &url, &e) == MSP_EINVAL && strcmp(e.msg, "presigned "
	    "url: expiry 604801 s is not from 1 to 604800") == 0,
	    "presign refuses a week and a second");
	msp_s3_close(s);
	s = NULL;

	/* path-style with a port and a prefix */
	free(c.endpoint);
	c.endpoint = strdup("http://127.0.0.1:9000/");
	c.prefix = strdup("media");
	c.path_style = 1;
	ok(msp_s3_open(&s, &c, &e) == 0, "open a path-style bucket: %s",
	    e.msg);
	ok(s != NULL && msp_s3_presign_at(s, "GET", "a b/c.ts", 60,
	    1369353600, &url, &e) == 0 && strncmp(url, "http://127.0.0.1:9000/"
	    "examplebucket/media/a%20b/c.ts?X-Amz-Algorithm=", 69) == 0,
	    "path-style presign names endpoint, bucket, prefix, encoded key");
	free(url);
	msp_s3_close(s);
	msp_s3_conf_free(&c);
}

static void
test_conf(void)
{
	struct msp_s3_conf c;
	struct msp_err e = { 0 };
	char path[] = "/tmp/msp-s3-conf-XXXXXX", want[200];
	FILE *f;
	int fd;

	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fprintf(f, "# a bucket\nendpoint = http://127.0.0.1:9000\n"
	    "bucket = media\nregion = eu-west-1\naddressing = virtual\n"
	    "access_key_id = AK\nsecret_access_key = sssecret\n"
	    "part_size = 5242880\nparallel = 3\n");
	fclose(f);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	setenv("AWS_ENDPOINT_URL", "http://elsewhere", 1);
	setenv("AWS_SESSION_TOKEN", "tok", 1);

	chmod(path, 0644);
	msp_s3_conf_init(&c);
	snprintf(want, sizeof(want), "%s: refused: group or others may "
	    "access it (mode 0644); chmod 600 it", path);
	ok(msp_s3_conf_load(&c, path, &e) == MSP_EPERM &&
	    strcmp(e.msg, want) == 0, "a file others can read is refused: %s",
	    e.msg);
	msp_s3_conf_free(&c);

	chmod(path, 0600);
	msp_s3_conf_init(&c);
	ok(msp_s3_conf_load(&c, path, &e) == 0, "load: %s", e.msg);
	ok(strcmp(c.endpoint, "http://127.0.0.1:9000") == 0 &&
	    strcmp(c.bucket, "media") == 0 && strcmp(c.region, "eu-west-1") ==
	    0 && c.path_style == 0 && strcmp(c.access_key, "AK") == 0 &&
	    c.part_size == 5242880 && c.parallel == 3,
	    "the file's settings win over the environment");
	ok(c.session_token == NULL,
	    "keys from the file take no token from the environment");
	msp_s3_conf_free(&c);

	f = fopen(path, "w");
	fprintf(f, "bucket = b\nsecret_access_key = topsecret\nregion\n");
	fclose(f);
	msp_s3_conf_init(&c);
	snprintf(want, sizeof(want), "%s:3: expected 'name = value'", path);
	ok(msp_s3_conf_load(&c, path, &e) == MSP_EINVAL &&
	    strcmp(e.msg, want) == 0, "a line without '=': %s", e.msg);
	msp_s3_conf_free(&c);

	f = fopen(path, "w");
	fprintf(f, "secret_acess_key = topsecret\n");
	fclose(f);
	msp_s3_conf_init(&c);
	snprintf(want, sizeof(want), "%s:1: unknown setting "
	    "'secret_acess_key'", path);
	ok(msp_s3_conf_load(&c, path, &e) == MSP_EINVAL &&
	    strcmp(e.msg, want) == 0 && strstr(e.msg, "topsecret") == NULL,
	    "an unknown setting is named, its value never: %s", e.msg);
	msp_s3_conf_free(&c);

	f = fopen(path, "w");
	fprintf(f, "part_size = 1024\n");
	fclose(f);
	msp_s3_conf_init(&c);
	snprintf(want, sizeof(want), "%s:1: expected a whole number from "
	    "5242880 to 5368709120", path);
	ok(msp_s3_conf_load(&c, path, &e) == MSP_EINVAL &&
	    strcmp(e.msg, want) == 0, "a part smaller than S3 allows: %s",
	    e.msg);
	msp_s3_conf_free(&c);

	f = fopen(path, "w");
	fprintf(f, "copy_size = 6442450944\n");
	fclose(f);
	msp_s3_conf_init(&c);
	ok(msp_s3_conf_load(&c, path, &e) == MSP_EINVAL &&
	    strcmp(e.msg, want) == 0, "a copy larger than CopyObject takes: "
	    "%s", e.msg);
	msp_s3_conf_free(&c);
	f = fopen(path, "w");
	fprintf(f, "copy_size = 5242880\n");
	fclose(f);
	msp_s3_conf_init(&c);
	ok(msp_s3_conf_load(&c, path, &e) == 0 && c.copy_size == 5242880,
	    "copy_size is read");
	msp_s3_conf_free(&c);

	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_REGION", "ap-south-1", 1);
	msp_s3_conf_init(&c);
	ok(msp_s3_conf_load(&c, NULL, &e) == 0 &&
	    strcmp(c.endpoint, "http://elsewhere") == 0 &&
	    strcmp(c.access_key, "AKENV") == 0 &&
	    strcmp(c.secret_key, "envsecret") == 0 &&
	    strcmp(c.session_token, "tok") == 0 &&
	    strcmp(c.region, "ap-south-1") == 0,
	    "no file: everything from AWS_* variables");
	c.bucket = strdup("Bad_Bucket");
	c.path_style = 0;
	{
		struct msp_s3 *s = NULL;

		ok(msp_s3_open(&s, &c, &e) == MSP_EINVAL && strcmp(e.msg,
		    "bucket 'Bad_Bucket': not a valid bucket name for "
		    "virtual-hosted addressing") == 0, "bucket names: %s",
		    e.msg);
		free(c.endpoint);
		c.endpoint = strdup("http://host/path");
		c.path_style = 1;
		ok(msp_s3_open(&s, &c, &e) == MSP_EINVAL && strcmp(e.msg,
		    "s3 endpoint 'http://host/path': give only "
		    "scheme://host[:port], without a path, user or query") == 0,
		    "an endpoint with a path: %s", e.msg);
		free(c.endpoint);
		c.endpoint = strdup("ftp://host");
		ok(msp_s3_open(&s, &c, &e) == MSP_EINVAL && strcmp(e.msg,
		    "s3 endpoint 'ftp://host': not http or https") == 0,
		    "an endpoint that is not http: %s", e.msg);
		ok(strstr(e.msg, "envsecret") == NULL, "no secret in errors");
	}
	msp_s3_conf_free(&c);
	unlink(path);
}

int
main(void)
{
	test_suite();
	test_s3_docs();
	test_conf();
	done_testing();
}
