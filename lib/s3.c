/* s3: the S3 client on libcurl: configuration, requests with retries,
 * single and multipart uploads, ranged gets, listing, deletes.
 *
 * Every request is signed by s3_sign.c (see there why not by libcurl's
 * CURLOPT_AWS_SIGV4). Payloads sent from memory (single PUTs and multipart
 * parts, which are buffered anyway) are signed with their SHA-256 and
 * carry a Content-MD5, so the server checks the bytes and msp checks the
 * server's ETag against them; only presigned URLs use UNSIGNED-PAYLOAD,
 * since their body is unknown when they are made.
 *
 * Every answer is untrusted: bodies are read up to a bound, XML is parsed
 * with expat and each field used is checked, a GET is checked against its
 * Content-Range and length, and a GET resumed after a failure asks for the
 * same ETag (If-Match). Failures worth another try (5xx, SlowDown, resets,
 * timeouts, short bodies, a wrong ETag) are retried with exponential
 * backoff and jitter, a bounded number of times. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "conf.h"
#include "curlbuf.h"
#include "s3_int.h"
#include "util.h"

#define CONF_MAX (64 * 1024)          /* longest bucket file */
#define ERRBODY_MAX (64 * 1024)       /* longest error answer kept */
#define XML_MAX (16 * 1024 * 1024)    /* longest XML answer read */
#define KEY_MAX 1024                  /* S3's longest key, in bytes */
#define PART_MIN (5 * 1024 * 1024)    /* S3's smallest part but the last */
#define PART_MAX (5LL * 1024 * 1024 * 1024)
#define PARTS_MAX 10000
#define BACKOFF_MS 100                /* first wait before a retry */
#define BACKOFF_MAX_MS 5000

/* ---- configuration -------------------------------------------------- */

static void
secret_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void
msp_s3_conf_init(struct msp_s3_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->path_style = 1;
	c->timeout = 60;
	c->retries = 4;
	c->part_size = 16 * 1024 * 1024;
	c->copy_size = PART_MAX;
	c->parallel = 4;
}

void
msp_s3_conf_free(struct msp_s3_conf *c)
{
	free(c->endpoint);
	free(c->bucket);
	free(c->prefix);
	free(c->region);
	free(c->access_key);
	secret_free(c->secret_key);
	secret_free(c->session_token);
	msp_s3_conf_init(c);
}

static int
set_str(char **dst, const char *v, size_t n, int secret, struct msp_err *e)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	memcpy(s, v, n);
	s[n] = '\0';
	if (secret)
		secret_free(*dst);
	else
		free(*dst);
	*dst = s;
	return 0;
}

static int
set_num(long long *dst, const char *where, const char *v, size_t n,
    long long min, long long max, struct msp_err *e)
{
	char num[32];

	if (n < sizeof(num)) {
		memcpy(num, v, n);
		num[n] = '\0';
	}
	if (n >= sizeof(num) || msp_parse_int(num, min, max, dst) != 0)
		return msp_err_set(e, MSP_EINVAL, "%s: expected a whole number "
		    "from %lld to %lld", where, min, max);
	return 0;
}

/* One setting from the file or the environment; values are never put in
 * messages (some are secrets). */
static int
conf_set(void *arg, const char *name, const char *v, size_t n,
    const char *where, struct msp_err *e)
{
	struct msp_s3_conf *c = arg;
	long long x;
	int rc;

	if (strcmp(name, "endpoint") == 0)
		return set_str(&c->endpoint, v, n, 0, e);
	if (strcmp(name, "bucket") == 0)
		return set_str(&c->bucket, v, n, 0, e);
	if (strcmp(name, "prefix") == 0)
		return set_str(&c->prefix, v, n, 0, e);
	if (strcmp(name, "region") == 0)
		return set_str(&c->region, v, n, 0, e);
	if (strcmp(name, "access_key_id") == 0)
		return set_str(&c->access_key, v, n, 0, e);
	if (strcmp(name, "secret_access_key") == 0)
		return set_str(&c->secret_key, v, n, 1, e);
	if (strcmp(name, "session_token") == 0)
		return set_str(&c->session_token, v, n, 1, e);
	if (strcmp(name, "addressing") == 0) {
		if (n == 4 && memcmp(v, "path", 4) == 0)
			c->path_style = 1;
		else if (n == 7 && memcmp(v, "virtual", 7) == 0)
			c->path_style = 0;
		else
			return msp_err_set(e, MSP_EINVAL, "%s: addressing: "
			    "expected 'path' or 'virtual'", where);
		return 0;
	}
	if (strcmp(name, "timeout") == 0) {
		if ((rc = set_num(&x, where, v, n, 1, 3600, e)) == 0)
			c->timeout = (long)x;
		return rc;
	}
	if (strcmp(name, "retries") == 0) {
		if ((rc = set_num(&x, where, v, n, 0, 20, e)) == 0)
			c->retries = (int)x;
		return rc;
	}
	if (strcmp(name, "part_size") == 0) {
		if ((rc = set_num(&x, where, v, n, PART_MIN, PART_MAX, e)) == 0)
			c->part_size = (size_t)x;
		return rc;
	}
	if (strcmp(name, "copy_size") == 0) {
		if ((rc = set_num(&x, where, v, n, PART_MIN, PART_MAX, e)) == 0)
			c->copy_size = (int64_t)x;
		return rc;
	}
	if (strcmp(name, "parallel") == 0) {
		if ((rc = set_num(&x, where, v, n, 1, 64, e)) == 0)
			c->parallel = (int)x;
		return rc;
	}
	return msp_err_set(e, MSP_EINVAL, "%s: unknown setting '%s'", where,
	    name);
}

int
msp_s3_conf_load(struct msp_s3_conf *c, const char *path,
    struct msp_err *e)
{
	static const struct { const char *var, *name; } env[] = {
		{ "AWS_ENDPOINT_URL", "endpoint" },
		{ "AWS_REGION", "region" },
		{ "AWS_DEFAULT_REGION", "region" },
		{ "AWS_ACCESS_KEY_ID", "access_key_id" },
		{ "AWS_SECRET_ACCESS_KEY", "secret_access_key" },
		{ "AWS_SESSION_TOKEN", "session_token" },
	};
	char *text = NULL, **slot;
	const char *v;
	size_t len = 0, i;
	int rc = 0, from_file_keys;

	if (path != NULL) {
		if ((rc = msp_conf_read(path, CONF_MAX, 1, &text, &len,
		    e)) != 0)
			return rc;
		rc = msp_conf_parse(text, path, conf_set, c, e);
		sodium_memzero(text, len);
		free(text);
		if (rc != 0)
			return rc;
	}
	/* the environment fills what the file left unset; the key pair
	 * and its token come from one place, never half from each */
	from_file_keys = c->access_key != NULL || c->secret_key != NULL;
	for (i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		if ((v = getenv(env[i].var)) == NULL || *v == '\0')
			continue;
		if (strcmp(env[i].name, "endpoint") == 0)
			slot = &c->endpoint;
		else if (strcmp(env[i].name, "region") == 0)
			slot = &c->region;
		else if (from_file_keys)
			continue;
		else if (strcmp(env[i].name, "access_key_id") == 0)
			slot = &c->access_key;
		else if (strcmp(env[i].name, "secret_access_key") == 0)
			slot = &c->secret_key;
		else
			slot = &c->session_token;
		if (*slot != NULL)
			continue;
		if (msp_has_control(v, strlen(v), 0))
			return msp_err_set(e, MSP_EINVAL, "%s: control "
			    "characters in the value", env[i].var);
		if ((rc = conf_set(c, env[i].name, v, strlen(v), env[i].var,
		    e)) != 0)
			return rc;
	}
	return 0;
}

/* ---- the client ----------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int
bucket_ok(const char *b, int path_style)
{
	size_t i, n = strlen(b);

	if (n < 1 || n > 255)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)b[i];

		if (islower(ch) || isdigit(ch) || ch == '.' || ch == '-')
			continue;
		if (path_style && (isupper(ch) || ch == '_'))
			continue;
		return 0;
	}
	return b[0] != '.' && b[0] != '-';
}

/* Scheme and Host header from the endpoint URL (no path, no user). */
static int
endpoint_parse(struct msp_s3 *s, struct msp_err *e)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
	char *path = NULL, *query = NULL;
	int rc = MSP_EINVAL;

	if ((u = curl_url()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, s->c.endpoint, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		msp_err_set(e, rc, "s3 endpoint '%s': not a URL",
		    s->c.endpoint);
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		msp_err_set(e, rc, "s3 endpoint '%s': not http or https",
		    s->c.endpoint);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    (path != NULL && strcmp(path, "/") != 0)) {
		msp_err_set(e, rc, "s3 endpoint '%s': give only "
		    "scheme://host[:port], without a path, user or query",
		    s->c.endpoint);
		goto out;
	}
	s->scheme = msp_strdup(scheme);
	s->host = msp_sprintf("%s%s%s%s", s->c.path_style ? "" : s->c.bucket,
	    s->c.path_style ? "" : ".", host, port ? ":" : "");
	if (s->host != NULL && port != NULL) {
		char *h = msp_sprintf("%s%s", s->host, port);

		free(s->host);
		s->host = h;
	}
	if (s->scheme == NULL || s->host == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}

static char *
dup_or(const char *s, const char *def)
{
	return msp_strdup(s != NULL ? s : def);
}

int
msp_s3_open(struct msp_s3 **sp, const struct msp_s3_conf *c,
    struct msp_err *e)
{
	struct msp_s3 *s;
	size_t n;
	int rc;

	*sp = NULL;
	if (sodium_init() < 0)
		return msp_err_set(e, MSP_ENOMEM, "libsodium failed to "
		    "initialise");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return msp_err_set(e, MSP_ENOMEM, "libcurl failed to "
		    "initialise");
	if (c->endpoint == NULL || *c->endpoint == '\0')
		return msp_err_set(e, MSP_EINVAL, "s3: no endpoint (set "
		    "endpoint or AWS_ENDPOINT_URL)");
	if (c->bucket == NULL || *c->bucket == '\0')
		return msp_err_set(e, MSP_EINVAL, "s3: no bucket");
	if (!bucket_ok(c->bucket, c->path_style))
		return msp_err_set(e, MSP_EINVAL, "bucket '%s': not a valid "
		    "bucket name%s", c->bucket, c->path_style ? "" :
		    " for virtual-hosted addressing");
	if (c->access_key == NULL || *c->access_key == '\0' ||
	    c->secret_key == NULL || *c->secret_key == '\0')
		return msp_err_set(e, MSP_EINVAL, "s3: no credentials (set "
		    "access_key_id and secret_access_key, or "
		    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
	if (msp_has_control(c->access_key, strlen(c->access_key), 0) ||
	    strchr(c->access_key, '/') != NULL)
		return msp_err_set(e, MSP_EINVAL, "s3: the access key id "
		    "holds characters an access key cannot have");
	if (c->part_size < PART_MIN || (long long)c->part_size > PART_MAX ||
	    c->parallel < 1 || c->retries < 0 || c->timeout < 1 ||
	    (c->copy_size != 0 && (c->copy_size < PART_MIN ||
	    c->copy_size > PART_MAX)))
		return msp_err_set(e, MSP_EINVAL, "s3: part size, copy size, "
		    "parallel parts, retries or timeout out of range");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	s->c = *c;
	if (s->c.copy_size == 0)
		s->c.copy_size = PART_MAX;
	s->c.endpoint = msp_strdup(c->endpoint);
	s->c.bucket = msp_strdup(c->bucket);
	s->c.region = dup_or(c->region, "us-east-1");
	s->c.access_key = msp_strdup(c->access_key);
	s->c.secret_key = msp_strdup(c->secret_key);
	s->c.session_token = c->session_token ?
	    msp_strdup(c->session_token) : NULL;
	n = c->prefix ? strlen(c->prefix) : 0;
	if (n > 0 && c->prefix[0] == '/') {
		msp_s3_close(s);
		return msp_err_set(e, MSP_EINVAL, "s3: prefix '%s' starts "
		    "with '/'", c->prefix);
	}
	s->c.prefix = n == 0 ? msp_strdup("") : msp_sprintf("%s%s",
	    c->prefix, c->prefix[n - 1] == '/' ? "" : "/");
	if (s->c.endpoint == NULL || s->c.bucket == NULL ||
	    s->c.region == NULL || s->c.access_key == NULL ||
	    s->c.secret_key == NULL || s->c.prefix == NULL ||
	    (c->session_token && s->c.session_token == NULL)) {
		msp_s3_close(s);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	n = strlen(s->c.endpoint);
	while (n > 1 && s->c.endpoint[n - 1] == '/')
		s->c.endpoint[--n] = '\0';
	if ((rc = endpoint_parse(s, e)) != 0) {
		msp_s3_close(s);
		return rc;
	}
	*sp = s;
	return 0;
}

void
msp_s3_close(struct msp_s3 *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nidle; i++)
		curl_easy_cleanup(s->idle[i]);
	free(s->idle);
	pthread_mutex_destroy(&s->lock);
	msp_s3_conf_free(&s->c);
	free(s->scheme);
	free(s->host);
	free(s);
}

/* Easy handles are kept between requests for their open connections;
 * any thread may take one. */
static CURL *
handle_get(struct msp_s3 *s)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->nidle > 0)
		h = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->lock);
	return h != NULL ? h : curl_easy_init();
}

static void
handle_put(struct msp_s3 *s, CURL *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->nidle < 16 && msp_grow(&s->idle, &s->capidle, s->nidle + 1,
	    sizeof(*s->idle), 4) == 0) {
		s->idle[s->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (h != NULL)
		curl_easy_cleanup(h);
}

/* ---- one request ---------------------------------------------------- */

struct req {
	const char *method;
	const char *key;           /* NULL: the bucket */
	const char *query;         /* from s3_query, or NULL */
	const char *kv[12];        /* or name/value pairs request() turns
	                            * into the query (value NULL: none) */
	size_t nkv;                /* pairs in kv */
	const char *hdr[8];        /* more headers, "name: value", signed */
	size_t nhdr;
	const unsigned char *body; /* what is sent, or NULL */
	size_t len;
	const char *md5;           /* hex MD5 of body: the ETag expected */
	size_t max;                /* longest answer body kept */
	/* streamed GET */
	int (*fn)(void *, const void *, size_t);
	void *arg;
};

struct resp {
	long status;
	struct msp_curlbuf b; /* the answer's body, up to r->max */
	char etag[200];
	char crange[100];
	char region[64];
	char sse[64];
	int64_t clen;
	/* streamed GET */
	const struct req *r;
	CURL *h;
	int64_t skip;      /* bytes to drop first (a 200 for a range) */
	int64_t want;      /* bytes to pass on at most (-1: all) */
	int64_t passed;    /* passed on in this attempt */
	int fn_rc;
	/* the upload */
	size_t sent;
};

static void
resp_reset(struct resp *o)
{
	msp_curlbuf_reset(&o->b);
	memset(o, 0, sizeof(*o));
	o->clen = -1;
}

static size_t
on_read(char *d, size_t sz, size_t nm, void *arg)
{
	struct resp *o = arg;
	size_t n = sz * nm, left = o->r->len - o->sent;

	if (n > left)
		n = left;
	memcpy(d, o->r->body + o->sent, n);
	o->sent += n;
	return n;
}

static int
on_seek(void *arg, curl_off_t off, int origin)
{
	struct resp *o = arg;

	if (origin != SEEK_SET || off < 0 || (size_t)off > o->r->len)
		return CURL_SEEKFUNC_FAIL;
	o->sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t
on_data(char *d, size_t sz, size_t nm, void *arg)
{
	struct resp *o = arg;
	size_t n = sz * nm, k;
	long st = 0;

	curl_easy_getinfo(o->h, CURLINFO_RESPONSE_CODE, &st);
	if (o->r->fn != NULL && st >= 200 && st < 300) {
		if (st == 200 && o->skip > 0) {
			k = (int64_t)n < o->skip ? n : (size_t)o->skip;
			o->skip -= (int64_t)k;
			d += k;
			n -= k;
		}
		if (o->want >= 0 && (int64_t)n > o->want - o->passed)
			n = (size_t)(o->want - o->passed);
		if (n > 0 && (o->fn_rc = o->r->fn(o->r->arg, d, n)) != 0)
			return 0;
		o->passed += (int64_t)n;
		return sz * nm;
	}
	o->b.max = o->r->max;
	return msp_curlbuf_add(&o->b, d, n) == 0 ? n : 0;
}

/* Keep a header's value, trimmed and bounded (longer: dropped). */
static void
hdr_keep(char *dst, size_t cap, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	if (n >= cap || msp_has_control(v, n, 0))
		n = 0;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static int
hdr_is(const char *d, size_t n, const char *name, size_t *vn)
{
	size_t k = strlen(name);

	if (n <= k || d[k] != ':' || strncasecmp(d, name, k) != 0)
		return 0;
	*vn = k + 1;
	return 1;
}

static size_t
on_header(char *d, size_t sz, size_t nm, void *arg)
{
	struct resp *o = arg;
	size_t n = sz * nm, v;
	long long x;
	char num[24];

	if (n >= 5 && memcmp(d, "HTTP/", 5) == 0) {
		o->etag[0] = o->crange[0] = o->region[0] = o->sse[0] = '\0';
		o->clen = -1;
	} else if (hdr_is(d, n, "etag", &v)) {
		hdr_keep(o->etag, sizeof(o->etag), d + v, n - v);
	} else if (hdr_is(d, n, "content-range", &v)) {
		hdr_keep(o->crange, sizeof(o->crange), d + v, n - v);
	} else if (hdr_is(d, n, "x-amz-bucket-region", &v)) {
		hdr_keep(o->region, sizeof(o->region), d + v, n - v);
	} else if (hdr_is(d, n, "x-amz-server-side-encryption", &v) ||
	    hdr_is(d, n, "x-amz-server-side-encryption-customer-algorithm",
	    &v)) {
		hdr_keep(o->sse, sizeof(o->sse), d + v, n - v);
	} else if (hdr_is(d, n, "content-length", &v)) {
		hdr_keep(num, sizeof(num), d + v, n - v);
		o->clen = msp_parse_int(num, 0, INT64_MAX, &x) == 0 ? x : -1;
	}
	return n;
}

static void
hash_hex(const EVP_MD *md, const void *p, size_t n, char *out)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hn = 0;

	EVP_Digest(p, n, h, &hn, md, NULL);
	s3_hex(h, hn, out);
}

/* One attempt; the answer's status, headers and kept body go to o. */
static CURLcode
attempt(struct msp_s3 *s, CURL *h, const struct req *r, const char *sha,
    struct resp *o, char errbuf[CURL_ERROR_SIZE])
{
	struct curl_slist *hl = NULL, *t;
	char amz[17], *path = NULL, *epath = NULL, *url = NULL;
	char *auth = NULL, *line;
	const char *hv[16];
	size_t nh = 0, nown = 0, i;
	CURLcode cc = CURLE_OUT_OF_MEMORY;

	o->r = r;
	o->h = h;
	errbuf[0] = '\0';
	s3_amzdate(time(NULL), amz);
	if ((path = s3_path(s, r->key)) == NULL ||
	    (epath = s3_uri_encode(path, strlen(path), 1)) == NULL ||
	    (url = msp_sprintf("%s://%s%s%s%s", s->scheme, s->host, epath,
	    r->query && *r->query ? "?" : "", r->query ? r->query : "")) ==
	    NULL)
		goto out;
	if ((line = msp_sprintf("Host: %s", s->host)) != NULL)
		hv[nh++] = line;
	if ((line = msp_sprintf("x-amz-date: %s", amz)) != NULL)
		hv[nh++] = line;
	if ((line = msp_sprintf("x-amz-content-sha256: %s", sha)) != NULL)
		hv[nh++] = line;
	if (s->c.session_token != NULL && (line = msp_sprintf(
	    "x-amz-security-token: %s", s->c.session_token)) != NULL)
		hv[nh++] = line;
	nown = nh;
	if (nh != (s->c.session_token ? 4u : 3u))
		goto out;
	for (i = 0; i < r->nhdr; i++)
		hv[nh++] = r->hdr[i];
	if ((auth = s3_sign(s, amz, r->method, path, r->query, hv, nh,
	    sha)) == NULL)
		goto out;
	for (i = 0; i < nh; i++)
		if ((t = curl_slist_append(hl, hv[i])) == NULL)
			goto out;
		else
			hl = t;
	if ((line = msp_sprintf("Authorization: %s", auth)) == NULL)
		goto out;
	t = curl_slist_append(hl, line);
	sodium_memzero(line, strlen(line));
	free(line);
	if (t == NULL || (t = curl_slist_append(t, "Expect:")) == NULL)
		goto out;
	hl = t;
	if (r->body == NULL && strcmp(r->method, "POST") == 0 &&
	    (t = curl_slist_append(hl, "Content-Type:")) != NULL)
		hl = t;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "msp-s3");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s->c.timeout < 10 ?
	    s->c.timeout : 10L);
	/* a stall, not a long transfer, is what times out */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->c.timeout);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, o);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, o);
	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, o);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, o);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)r->len);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ?
		    (const char *)r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->len);
	} else if (strcmp(r->method, "DELETE") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &o->status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
out:
	for (i = 0; i < nh && i < nown; i++)
		free((char *)hv[i]);
	curl_slist_free_all(hl);
	free(path);
	free(epath);
	free(url);
	free(auth);
	return cc;
}

/* ---- judging an answer ---------------------------------------------- */

/* The server's message, made printable and short: first letter lowered
 * when the word is not an acronym, no trailing period. */
static void
clean_msg(char *dst, size_t cap, const char *s)
{
	size_t i, j = 0;

	for (i = 0; s != NULL && s[i] != '\0' && j + 1 < cap && j < 200; i++)
		dst[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	while (j > 0 && (dst[j - 1] == '.' || dst[j - 1] == ' '))
		j--;
	dst[j] = '\0';
	if (j > 1 && isupper((unsigned char)dst[0]) &&
	    !isupper((unsigned char)dst[1]))
		dst[0] = (char)tolower((unsigned char)dst[0]);
}

static int
printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return i > 0;
}

/* "bucket 'b'" or "bucket 'b': 'key'": the thing a message names. */
static void
what(const struct msp_s3 *s, const struct req *r, char *out, size_t cap)
{
	const char *k = r->key;
	size_t pn = strlen(s->c.prefix);

	if (k == NULL) {
		snprintf(out, cap, "bucket '%s'", s->c.bucket);
		return;
	}
	if (strncmp(k, s->c.prefix, pn) == 0)
		k += pn;
	snprintf(out, cap, "bucket '%s': '%.300s'", s->c.bucket, k);
}

static int
retry_status(long st)
{
	return st == 500 || st == 502 || st == 503 || st == 504 || st == 429;
}

static int
retry_curl(CURLcode cc)
{
	return msp_curl_retryable(cc) || cc == CURLE_HTTP2 ||
	    cc == CURLE_HTTP2_STREAM || cc == CURLE_SSL_CONNECT_ERROR;
}

static int
not_s3(const struct msp_s3 *s, long st, struct msp_err *e)
{
	(void)st;
	return msp_err_set(e, MSP_ENET, "s3 endpoint %s: not an S3 server "
	    "(answer was not S3 XML)", s->c.endpoint);
}

/* The error an answer with an S3 <Error> (or none, for HEAD) means. */
static int
s3_error(struct msp_s3 *s, const struct req *r, struct resp *o,
    int *retry, struct msp_err *e)
{
	struct s3_xml x;
	char w[400], m[256];
	const char *code, *region;
	int rc;

	memset(&x, 0, sizeof(x));
	what(s, r, w, sizeof(w));
	if (o->b.n == 0 || s3_xml_parse(&x, o->b.p, o->b.n) != 0 ||
	    strcmp(x.root, "Error") != 0 || x.code == NULL) {
		if (o->b.n > 0 || o->b.over) {
			s3_xml_free(&x);
			*retry = retry_status(o->status);
			return not_s3(s, o->status, e);
		}
		/* no body: HEAD, or a bare status */
		if (o->region[0] && strcmp(o->region, s->c.region) != 0)
			goto wrong_region;
		*retry = retry_status(o->status);
		if (o->status == 404)
			return msp_err_set(e, MSP_ENOTFOUND, "%s: no such "
			    "object", w);
		if (o->status == 403)
			return msp_err_set(e, MSP_ENET, "%s: access denied "
			    "(HTTP 403; check the keys and the region)", w);
		return msp_err_set(e, MSP_ENET, "%s: HTTP %ld", w, o->status);
	}
	code = x.code;
	clean_msg(m, sizeof(m), x.message ? x.message : "");
	*retry = retry_status(o->status) || strcmp(code, "SlowDown") == 0 ||
	    strcmp(code, "InternalError") == 0 ||
	    strcmp(code, "RequestTimeout") == 0 ||
	    strcmp(code, "ServiceUnavailable") == 0;
	region = x.region && printable(x.region, 60) ? x.region :
	    o->region[0] ? o->region : NULL;
	if (region != NULL && strcmp(region, s->c.region) != 0 &&
	    (strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
	    strcmp(code, "PermanentRedirect") == 0 ||
	    strcmp(code, "IllegalLocationConstraintException") == 0 ||
	    strcmp(code, "InvalidRegion") == 0)) {
		snprintf(o->region, sizeof(o->region), "%s", region);
		s3_xml_free(&x);
		goto wrong_region;
	}
	if (strcmp(code, "NoSuchBucket") == 0)
		rc = msp_err_set(e, MSP_ENET, "bucket '%s': NoSuchBucket: %s",
		    s->c.bucket, m);
	else if (strcmp(code, "SignatureDoesNotMatch") == 0)
		rc = msp_err_set(e, MSP_ENET, "bucket '%s': wrong secret "
		    "(SignatureDoesNotMatch)", s->c.bucket);
	else if (strcmp(code, "InvalidAccessKeyId") == 0)
		rc = msp_err_set(e, MSP_ENET, "bucket '%s': unknown access "
		    "key id (InvalidAccessKeyId)", s->c.bucket);
	else if (strcmp(code, "NoSuchKey") == 0)
		rc = msp_err_set(e, MSP_ENOTFOUND, "%s: no such object", w);
	else if (strcmp(code, "NoSuchUpload") == 0)
		rc = msp_err_set(e, MSP_ENOTFOUND, "%s: NoSuchUpload: %s", w,
		    m);
	else if (printable(code, 64))
		rc = msp_err_set(e, MSP_ENET, "%s: %s: %s", w, code, m);
	else
		rc = not_s3(s, o->status, e);
	s3_xml_free(&x);
	return rc;
wrong_region:
	*retry = 0;
	return msp_err_set(e, MSP_ENET, "bucket '%s' is in region '%s', not "
	    "'%s' (set region)", s->c.bucket, o->region, s->c.region);
}

static int
etag_is_md5(const char *t)
{
	size_t i;

	for (i = 0; t[i] != '\0'; i++)
		if (!isxdigit((unsigned char)t[i]))
			return 0;
	return i == 32;
}

/* An ETag without its quotes (and W/), checked printable. */
static int
etag_clean(const char *in, char *out, size_t cap)
{
	size_t n;

	if (strncmp(in, "W/", 2) == 0)
		in += 2;
	n = strlen(in);
	if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
		in++;
		n -= 2;
	}
	if (n == 0 || n >= cap)
		return -1;
	memcpy(out, in, n);
	out[n] = '\0';
	return printable(out, cap) && strchr(out, '"') == NULL &&
	    strchr(out, '<') == NULL && strchr(out, '&') == NULL ? 0 : -1;
}

/* 0 when the attempt succeeded; else e is set and *retry says whether
 * another attempt may do better. */
static int
judge(struct msp_s3 *s, const struct req *r, CURLcode cc, struct resp *o,
    const char *errbuf, int *retry, struct msp_err *e)
{
	char w[400], tag[200];

	*retry = 0;
	what(s, r, w, sizeof(w));
	if (cc == CURLE_WRITE_ERROR && o->fn_rc != 0)
		return msp_err_set(e, o->fn_rc < 0 ? o->fn_rc : MSP_EIO,
		    "%s: the reader stopped", w);
	if (cc == CURLE_WRITE_ERROR && o->b.over)
		return not_s3(s, o->status, e);
	if (cc == CURLE_WRITE_ERROR)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if (cc != CURLE_OK) {
		*retry = retry_curl(cc);
		return msp_err_set(e, cc == CURLE_OUT_OF_MEMORY ? MSP_ENOMEM :
		    MSP_ENET, "s3 endpoint %s: %s", s->c.endpoint,
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	if (o->status < 200 || o->status > 299)
		return s3_error(s, r, o, retry, e);
	if (r->md5 != NULL && o->sse[0] == '\0') {
		if (o->etag[0] == '\0' || etag_clean(o->etag, tag,
		    sizeof(tag)) != 0)
			return msp_err_set(e, MSP_ENET, "%s: the answer has "
			    "no usable ETag", w);
		if (etag_is_md5(tag) && strcasecmp(tag, r->md5) != 0) {
			*retry = 1;
			return msp_err_set(e, MSP_ENET, "%s: the server's "
			    "ETag %s is not the MD5 of the bytes sent", w,
			    tag);
		}
	}
	return 0;
}

static void
backoff(int attempt)
{
	uint32_t d = BACKOFF_MS;
	struct timespec ts;
	int i;

	for (i = 0; i < attempt && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	d = d / 2 + randombytes_uniform(d / 2 + 1);  /* jitter */
	ts.tv_sec = d / 1000;
	ts.tv_nsec = (long)(d % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A request with its retries; the last answer stays in o. */
static int
request(struct msp_s3 *s, const struct req *r, struct resp *o,
    struct msp_err *e)
{
	char errbuf[CURL_ERROR_SIZE], sha[65], *q = NULL;
	struct req rq;
	CURL *h;
	CURLcode cc;
	int i, rc = 0, retry;

	if (r->nkv > 0) {
		rq = *r;
		if ((rq.query = q = s3_query(r->kv, r->nkv)) == NULL)
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		r = &rq;
	}
	if ((h = handle_get(s)) == NULL) {
		free(q);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	hash_hex(EVP_sha256(), r->body ? (const void *)r->body : "", r->len,
	    sha);
	for (i = 0; i <= s->c.retries; i++) {
		if (i > 0)
			backoff(i - 1);
		resp_reset(o);
		cc = attempt(s, h, r, sha, o, errbuf);
		if ((rc = judge(s, r, cc, o, errbuf, &retry, e)) == 0 ||
		    !retry)
			break;
	}
	if (rc != 0 && retry)
		msp_err_prefix(e, "gave up after %d attempts", i);
	handle_put(s, h);
	free(q);
	return rc;
}

/* A request whose answer must be XML with root `root`; a 2xx that carries
 * an <Error> (CompleteMultipartUpload, CopyObject and UploadPartCopy may
 * answer so) is retried as the error says. x is the parsed answer. */
static int
xml_request(struct msp_s3 *s, const struct req *r, const char *root,
    struct s3_xml *x, struct msp_err *e)
{
	struct resp o = { 0 };
	int i, rc = MSP_EIO, retry;

	memset(x, 0, sizeof(*x));
	for (i = 0; i <= s->c.retries; i++) {
		if (i > 0)
			backoff(i - 1);
		s3_xml_free(x);
		memset(x, 0, sizeof(*x));
		if ((rc = request(s, r, &o, e)) != 0)
			break;
		if (s3_xml_parse(x, o.b.p ? o.b.p : "", o.b.n) != 0) {
			rc = not_s3(s, 0, e);
			break;
		}
		if (strcmp(x->root, "Error") == 0) {
			if ((rc = s3_error(s, r, &o, &retry, e)) != 0 && retry)
				continue;
			break;
		}
		rc = strcmp(x->root, root) == 0 ? 0 : not_s3(s, 0, e);
		break;
	}
	resp_reset(&o);
	return rc;
}

/* The full key on the server, checked. */
static char *
full_key(struct msp_s3 *s, const char *key, struct msp_err *e)
{
	size_t n = key ? strlen(key) : 0;

	if (n == 0) {
		msp_err_set(e, MSP_EINVAL, "bucket '%s': an empty key",
		    s->c.bucket);
		return NULL;
	}
	if (n + strlen(s->c.prefix) > KEY_MAX || !msp_utf8_valid(key, n) ||
	    msp_has_control(key, n, 0) || strchr(key, '\n') ||
	    strchr(key, '\r') || strchr(key, '\t')) {
		msp_err_set(e, MSP_EINVAL, "bucket '%s': '%.200s': not a "
		    "usable key (UTF-8 without control characters, at most "
		    "%d bytes with the prefix)", s->c.bucket, key, KEY_MAX);
		return NULL;
	}
	return msp_sprintf("%s%s", s->c.prefix, key);
}

/* ---- objects -------------------------------------------------------- */

static int
put_headers(struct req *r, const struct msp_s3_put_opts *o, char **ct,
    char **cc)
{
	*ct = msp_sprintf("Content-Type: %s", o && o->content_type ?
	    o->content_type : "application/octet-stream");
	*cc = o && o->cache_control ? msp_sprintf("Cache-Control: %s",
	    o->cache_control) : NULL;
	if (*ct == NULL || (o && o->cache_control && *cc == NULL))
		return -1;
	if (msp_has_control(*ct, strlen(*ct), 0) ||
	    (*cc && msp_has_control(*cc, strlen(*cc), 0)))
		return -2;
	r->hdr[r->nhdr++] = *ct;
	if (*cc != NULL)
		r->hdr[r->nhdr++] = *cc;
	return 0;
}

/* The MD5 of p as hex (ETag) and as base64 (Content-MD5); raw: the
 * bytes too, unless NULL. */
static int
md5_of(const void *p, size_t n, char hex[33], char **b64h,
    unsigned char raw[16])
{
	unsigned char h[16];
	unsigned int hn = 0;
	char b64[32];

	EVP_Digest(p, n, h, &hn, EVP_md5(), NULL);
	if (raw != NULL)
		memcpy(raw, h, 16);
	s3_hex(h, 16, hex);
	sodium_bin2base64(b64, sizeof(b64), h, 16,
	    sodium_base64_VARIANT_ORIGINAL);
	return (*b64h = msp_sprintf("Content-MD5: %s", b64)) ? 0 : -1;
}

int
msp_s3_put(struct msp_s3 *s, const char *key, const void *data,
    size_t len, const struct msp_s3_put_opts *o, struct msp_err *e)
{
	struct req r = { 0 };
	struct resp out = { 0 };
	char *k, *ct = NULL, *cc = NULL, *md = NULL, hex[33];
	int rc;

	if ((k = full_key(s, key, e)) == NULL)
		return e ? e->code : MSP_EINVAL;
	r.method = "PUT";
	r.key = k;
	r.body = data ? data : (const unsigned char *)"";
	r.len = len;
	r.max = ERRBODY_MAX;
	if ((rc = put_headers(&r, o, &ct, &cc)) != 0 ||
	    md5_of(r.body, len, hex, &md, NULL) != 0) {
		rc = rc == -2 ? msp_err_set(e, MSP_EINVAL, "'%s': control "
		    "characters in the content type or cache control", key) :
		    msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	r.hdr[r.nhdr++] = md;
	r.md5 = hex;
	rc = request(s, &r, &out, e);
out:
	resp_reset(&out);
	free(k);
	free(ct);
	free(cc);
	free(md);
	return rc;
}

int
msp_s3_head(struct msp_s3 *s, const char *key, int64_t *size,
    char **etag, struct msp_err *e)
{
	struct req r = { 0 };
	struct resp out = { 0 };
	char *k, tag[200];
	int rc;

	if (etag != NULL)
		*etag = NULL;
	if ((k = full_key(s, key, e)) == NULL)
		return e ? e->code : MSP_EINVAL;
	r.method = "HEAD";
	r.key = k;
	r.max = ERRBODY_MAX;
	if ((rc = request(s, &r, &out, e)) != 0)
		goto out;
	if (out.clen < 0) {
		rc = msp_err_set(e, MSP_ENET, "bucket '%s': '%s': the answer "
		    "has no Content-Length", s->c.bucket, key);
		goto out;
	}
	if (size != NULL)
		*size = out.clen;
	if (etag != NULL) {
		if (etag_clean(out.etag, tag, sizeof(tag)) != 0)
			tag[0] = '\0';
		if ((*etag = msp_strdup(tag)) == NULL)
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
out:
	resp_reset(&out);
	free(k);
	return rc;
}

/* "bytes A-B/T" (T may be '*'): 0 when well formed. */
static int
parse_crange(const char *s, int64_t *a, int64_t *b, int64_t *t)
{
	long long x, y, z = -1;
	int n = 0;

	if (strncmp(s, "bytes ", 6) != 0)
		return -1;
	if (sscanf(s + 6, "%lld-%lld/%lld%n", &x, &y, &z, &n) == 3 &&
	    s[6 + n] == '\0') {
		;
	} else if (sscanf(s + 6, "%lld-%lld/*%n", &x, &y, &n) == 2 &&
	    s[6 + n] == '\0') {
		z = -1;
	} else {
		return -1;
	}
	if (x < 0 || y < x || (z >= 0 && y >= z))
		return -1;
	*a = x;
	*b = y;
	*t = z;
	return 0;
}

int
msp_s3_get(struct msp_s3 *s, const char *key, int64_t off, int64_t len,
    int (*fn)(void *arg, const void *p, size_t n), void *arg,
    struct msp_err *e)
{
	struct req r = { 0 };
	struct resp o = { 0 };
	char errbuf[CURL_ERROR_SIZE], range[64], ifm[240], w[400];
	char tag[200] = "", empty_sha[65];
	int64_t got = 0, a, b, t, expect;
	CURL *h = NULL;
	CURLcode cc;
	int i, rc = 0, retry = 0;
	char *k;

	if (off < 0)
		return msp_err_set(e, MSP_EINVAL, "'%s': negative offset",
		    key);
	if (len == 0)
		return 0;
	if ((k = full_key(s, key, e)) == NULL)
		return e ? e->code : MSP_EINVAL;
	if ((h = handle_get(s)) == NULL) {
		free(k);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	hash_hex(EVP_sha256(), "", 0, empty_sha);
	r.method = "GET";
	r.key = k;
	r.max = ERRBODY_MAX;
	r.fn = fn;
	r.arg = arg;
	what(s, &r, w, sizeof(w));
	for (i = 0; i <= s->c.retries; i++) {
		int64_t start = off + got;

		if (i > 0)
			backoff(i - 1);
		resp_reset(&o);
		r.nhdr = 0;
		if (start > 0 || len > 0) {
			if (len > 0)
				snprintf(range, sizeof(range), "Range: bytes="
				    "%" PRId64 "-%" PRId64, start,
				    off + len - 1);
			else
				snprintf(range, sizeof(range), "Range: bytes="
				    "%" PRId64 "-", start);
			r.hdr[r.nhdr++] = range;
		}
		if (tag[0] != '\0') {
			snprintf(ifm, sizeof(ifm), "If-Match: \"%s\"", tag);
			r.hdr[r.nhdr++] = ifm;
		}
		o.want = len > 0 ? len - got : -1;
		o.skip = start;   /* used only when a 200 answers a range */
		cc = attempt(s, h, &r, empty_sha, &o, errbuf);
		got += o.passed;
		if ((rc = judge(s, &r, cc, &o, errbuf, &retry, e)) != 0) {
			if (o.status == 412 && tag[0] != '\0') {
				rc = msp_err_set(e, MSP_ENET, "%s: the object "
				    "changed while it was read", w);
				retry = 0;
			} else if (o.status == 416) {
				rc = msp_err_set(e, MSP_EINVAL, "%s: offset "
				    "%" PRId64 " is past the end", w, start);
				retry = 0;
			}
			if (!retry)
				break;
			continue;
		}
		if (tag[0] == '\0' && etag_clean(o.etag, tag, sizeof(tag)) !=
		    0)
			tag[0] = '\0';
		/* what the answer promised, against what came */
		if (o.status == 206) {
			if (parse_crange(o.crange, &a, &b, &t) != 0 ||
			    a != start || (len > 0 && b > off + len - 1)) {
				rc = msp_err_set(e, MSP_ENET, "%s: the answer's "
				    "Content-Range '%.60s' is not the range "
				    "asked for", w, o.crange);
				break;
			}
			expect = b - a + 1;
		} else if (o.status == 200) {
			/* a server that ignores Range sends it all */
			expect = o.clen >= 0 ? o.clen - start : -1;
			if (expect >= 0 && o.want >= 0 && expect > o.want)
				expect = o.want;
		} else {
			rc = msp_err_set(e, MSP_ENET, "%s: unexpected HTTP "
			    "%ld to a GET", w, o.status);
			break;
		}
		if (expect >= 0 && o.passed < expect) {
			rc = msp_err_set(e, MSP_ENET, "%s: the answer ended "
			    "after %" PRId64 " of %" PRId64 " bytes", w,
			    o.passed, expect);
			retry = 1;
			continue;
		}
		break;
	}
	if (rc != 0 && retry)
		msp_err_prefix(e, "gave up after %d attempts", i);
	handle_put(s, h);
	resp_reset(&o);
	free(k);
	return rc;
}

struct file_sink {
	int fd;
	int err;   /* errno of a failed write */
};

static int
to_file(void *arg, const void *p, size_t n)
{
	struct file_sink *f = arg;
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(f->fd, c, n)) < 0) {
			if (errno == EINTR)
				continue;
			f->err = errno;
			return MSP_EIO;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
msp_s3_get_file(struct msp_s3 *s, const char *key, const char *path,
    struct msp_err *e)
{
	struct file_sink f;
	char *tmp;
	int rc;

	if ((tmp = msp_sprintf("%s.tmp.XXXXXX", path)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((f.fd = mkstemp(tmp)) < 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(errno));
		free(tmp);
		return rc;
	}
	f.err = 0;
	rc = msp_s3_get(s, key, 0, -1, to_file, &f, e);
	if (rc != 0 && f.err != 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(f.err));
	if (rc == 0 && fsync(f.fd) != 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(errno));
	if (close(f.fd) != 0 && rc == 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(errno));
	if (rc == 0 && rename(tmp, path) != 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(errno));
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int
msp_s3_delete(struct msp_s3 *s, const char *key, struct msp_err *e)
{
	struct req r = { 0 };
	struct resp o = { 0 };
	char *k;
	int rc;

	if ((k = full_key(s, key, e)) == NULL)
		return e ? e->code : MSP_EINVAL;
	r.method = "DELETE";
	r.key = k;
	r.max = ERRBODY_MAX;
	rc = request(s, &r, &o, e);
	if (rc == MSP_ENOTFOUND) {
		msp_err_clear(e);
		rc = 0;
	}
	resp_reset(&o);
	free(k);
	return rc;
}

/* A bucket-level GET whose answer must be XML with root `root`. */
static int
get_xml(struct msp_s3 *s, const char *const *kv, size_t npairs,
    const char *root, struct s3_xml *x, struct msp_err *e)
{
	struct req r = { 0 };

	r.method = "GET";
	memcpy(r.kv, kv, 2 * npairs * sizeof(*kv));
	r.nkv = npairs;
	r.max = XML_MAX;
	return xml_request(s, &r, root, x, e);
}

int
msp_s3_list(struct msp_s3 *s, const char *prefix,
    int (*fn)(void *arg, const char *key, int64_t size, const char *etag),
    void *arg, struct msp_err *e)
{
	struct s3_xml x = { 0 };
	const char *kv[8];
	char *full = NULL, *token = NULL, *last = NULL;
	char page[24], tag[200];
	size_t pn = strlen(s->c.prefix), n, i;
	int rc = 0;

	if ((full = msp_sprintf("%s%s", s->c.prefix, prefix ? prefix :
	    "")) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	snprintf(page, sizeof(page), "%d", s->c.page_size);
	do {
		n = 0;
		kv[n++] = "list-type";
		kv[n++] = "2";
		kv[n++] = "prefix";
		kv[n++] = full;
		if (s->c.page_size > 0) {
			kv[n++] = "max-keys";
			kv[n++] = page;
		}
		if (token != NULL) {
			kv[n++] = "continuation-token";
			kv[n++] = token;
		}
		s3_xml_free(&x);
		if ((rc = get_xml(s, kv, n / 2, "ListBucketResult", &x, e)) !=
		    0)
			break;
		for (i = 0; i < x.nitems && rc == 0; i++) {
			struct s3_xml_item *it = &x.items[i];

			if (it->key == NULL || it->size < 0 ||
			    strncmp(it->key, full, strlen(full)) != 0 ||
			    (last != NULL && strcmp(it->key, last) <= 0)) {
				rc = msp_err_set(e, MSP_ENET, "bucket '%s': a "
				    "listing with a bad entry (a key outside "
				    "the prefix, out of order or without a "
				    "size)", s->c.bucket);
				break;
			}
			free(last);
			if ((last = msp_strdup(it->key)) == NULL) {
				rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
				break;
			}
			if (it->etag == NULL || etag_clean(it->etag, tag,
			    sizeof(tag)) != 0)
				tag[0] = '\0';
			if ((rc = fn(arg, it->key + pn, it->size, tag)) != 0)
				msp_err_set(e, rc < 0 ? rc : MSP_EINVAL,
				    "bucket '%s': the listing was stopped",
				    s->c.bucket);
		}
		if (rc != 0)
			break;
		if (x.truncated && (x.next_token == NULL ||
		    *x.next_token == '\0' || (token != NULL &&
		    strcmp(token, x.next_token) == 0))) {
			rc = msp_err_set(e, MSP_ENET, "bucket '%s': a truncated "
			    "listing without a new continuation token",
			    s->c.bucket);
			break;
		}
		free(token);
		token = x.truncated ? msp_strdup(x.next_token) : NULL;
		if (x.truncated && token == NULL)
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
	} while (rc == 0 && token != NULL);
	s3_xml_free(&x);
	free(full);
	free(token);
	free(last);
	return rc;
}

int
msp_s3_check(struct msp_s3 *s, struct msp_err *e)
{
	struct s3_xml x;
	const char *kv[] = { "list-type", "2", "max-keys", "1", "prefix",
	    s->c.prefix };
	int rc;

	rc = get_xml(s, kv, 3, "ListBucketResult", &x, e);
	s3_xml_free(&x);
	return rc;
}

int
msp_s3_list_uploads(struct msp_s3 *s, const char *prefix,
    int (*fn)(void *arg, const char *key, const char *upload_id),
    void *arg, struct msp_err *e)
{
	struct s3_xml x = { 0 };
	const char *kv[10];
	char *full, *km = NULL, *um = NULL, page[24];
	size_t pn = strlen(s->c.prefix), n, i;
	int rc = 0;

	if ((full = msp_sprintf("%s%s", s->c.prefix, prefix ? prefix :
	    "")) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	snprintf(page, sizeof(page), "%d", s->c.page_size);
	do {
		n = 0;
		kv[n++] = "uploads";
		kv[n++] = NULL;
		kv[n++] = "prefix";
		kv[n++] = full;
		if (s->c.page_size > 0) {
			kv[n++] = "max-uploads";
			kv[n++] = page;
		}
		if (km != NULL) {
			kv[n++] = "key-marker";
			kv[n++] = km;
			kv[n++] = "upload-id-marker";
			kv[n++] = um ? um : "";
		}
		s3_xml_free(&x);
		if ((rc = get_xml(s, kv, n / 2, "ListMultipartUploadsResult",
		    &x, e)) != 0)
			break;
		for (i = 0; i < x.nitems && rc == 0; i++) {
			struct s3_xml_item *it = &x.items[i];

			if (it->key == NULL || it->upload_id == NULL ||
			    !printable(it->upload_id, 1024) ||
			    strncmp(it->key, full, strlen(full)) != 0) {
				rc = msp_err_set(e, MSP_ENET, "bucket '%s': an "
				    "upload listing with a bad entry",
				    s->c.bucket);
				break;
			}
			if ((rc = fn(arg, it->key + pn, it->upload_id)) != 0)
				msp_err_set(e, rc < 0 ? rc : MSP_EINVAL,
				    "bucket '%s': the listing was stopped",
				    s->c.bucket);
		}
		if (rc != 0 || !x.truncated)
			break;
		if (x.next_key == NULL || *x.next_key == '\0' ||
		    (km != NULL && strcmp(km, x.next_key) == 0 &&
		    um != NULL && x.next_upload != NULL &&
		    strcmp(um, x.next_upload) == 0)) {
			rc = msp_err_set(e, MSP_ENET, "bucket '%s': a truncated "
			    "upload listing without new markers", s->c.bucket);
			break;
		}
		free(km);
		free(um);
		km = msp_strdup(x.next_key);
		um = msp_strdup(x.next_upload ? x.next_upload : "");
		if (km == NULL || um == NULL)
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
	} while (rc == 0);
	s3_xml_free(&x);
	free(full);
	free(km);
	free(um);
	return rc;
}

static int
abort_full(struct msp_s3 *s, const char *fullkey, const char *upload_id,
    struct msp_err *e)
{
	struct req r = { 0 };
	struct resp o = { 0 };
	int rc;

	r.method = "DELETE";
	r.key = fullkey;
	r.kv[0] = "uploadId";
	r.kv[1] = upload_id;
	r.nkv = 1;
	r.max = ERRBODY_MAX;
	rc = request(s, &r, &o, e);
	if (rc == MSP_ENOTFOUND) { /* already gone */
		msp_err_clear(e);
		rc = 0;
	}
	resp_reset(&o);
	return rc;
}

int
msp_s3_abort_upload(struct msp_s3 *s, const char *key,
    const char *upload_id, struct msp_err *e)
{
	char *k;
	int rc;

	if (upload_id == NULL || !printable(upload_id, 1024))
		return msp_err_set(e, MSP_EINVAL, "'%s': not an upload id",
		    key);
	if ((k = full_key(s, key, e)) == NULL)
		return e ? e->code : MSP_EINVAL;
	rc = abort_full(s, k, upload_id, e);
	free(k);
	return rc;
}

int
msp_s3_presign(struct msp_s3 *s, const char *method, const char *key,
    long expires, char **url, struct msp_err *e)
{
	char *k;
	int rc;

	*url = NULL;
	if ((k = full_key(s, key, e)) == NULL)
		return e ? e->code : MSP_EINVAL;
	rc = s3_presign_at(s, method, k, expires, time(NULL), url, e);
	free(k);
	return rc;
}

int
msp_s3_presign_at(struct msp_s3 *s, const char *method, const char *key,
    long expires, time_t when, char **url, struct msp_err *e)
{
	char *k;
	int rc;

	*url = NULL;
	if ((k = full_key(s, key, e)) == NULL)
		return e ? e->code : MSP_EINVAL;
	rc = s3_presign_at(s, method, k, expires, when, url, e);
	free(k);
	return rc;
}

/* ---- multipart uploads ---------------------------------------------- */

struct part {
	int no;
	unsigned char *p;
	size_t n;
	struct part *next;
};

struct msp_s3_upload {
	struct msp_s3 *s;
	char *key;             /* the full key */
	char *ukey;            /* the caller's key, for messages */
	char *ct, *cc;         /* the object's headers */
	char *upload_id;
	unsigned char *buf;    /* the part being filled */
	size_t fill;
	int next_no;
	int64_t total;
	/* the workers */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	pthread_t *th;
	int nth;
	struct part *queue, *tail;
	int queued, busy, closing, failed;
	struct msp_err err;    /* the first failure */
	char **etags;          /* by part number - 1 */
	unsigned char (*md5s)[16];
	int md5_unknown;       /* a copied part's ETag was no MD5 */
};

/* The request every multipart call on u starts from: its key, its
 * uploadId (and partNumber when no is not NULL). */
static void
part_req(const struct msp_s3_upload *u, struct req *r, const char *no)
{
	memset(r, 0, sizeof(*r));
	r->method = "PUT";
	r->key = u->key;
	r->max = ERRBODY_MAX;
	r->kv[r->nkv * 2] = "uploadId";
	r->kv[r->nkv++ * 2 + 1] = u->upload_id;
	if (no != NULL) {
		r->kv[r->nkv * 2] = "partNumber";
		r->kv[r->nkv++ * 2 + 1] = no;
	}
}

static int
part_put(struct msp_s3_upload *u, struct part *pt, char **etag,
    unsigned char md5[16], struct msp_err *e)
{
	struct req r = { 0 };
	struct resp o = { 0 };
	char no[16], hex[33], *md = NULL, tag[200];
	int rc;

	snprintf(no, sizeof(no), "%d", pt->no);
	if (md5_of(pt->p, pt->n, hex, &md, md5) != 0) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	part_req(u, &r, no);
	r.body = pt->p;
	r.len = pt->n;
	r.md5 = hex;
	r.max = ERRBODY_MAX;
	r.hdr[r.nhdr++] = md;
	if ((rc = request(u->s, &r, &o, e)) != 0) {
		msp_err_prefix(e, "part %d", pt->no);
		goto out;
	}
	if (etag_clean(o.etag, tag, sizeof(tag)) != 0) {
		rc = msp_err_set(e, MSP_ENET, "bucket '%s': '%s': part %d: "
		    "the answer has no usable ETag", u->s->c.bucket, u->ukey,
		    pt->no);
		goto out;
	}
	if ((*etag = msp_strdup(tag)) == NULL)
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
out:
	resp_reset(&o);
	free(md);
	return rc;
}

static void *
worker(void *arg)
{
	struct msp_s3_upload *u = arg;
	struct msp_err e = { 0 };
	unsigned char md5[16];
	struct part *pt;
	char *etag;
	int rc, skip;

	pthread_mutex_lock(&u->lock);
	for (;;) {
		while (u->queue == NULL && !u->closing)
			pthread_cond_wait(&u->cv, &u->lock);
		if (u->queue == NULL)
			break;
		pt = u->queue;
		u->queue = pt->next;
		if (u->queue == NULL)
			u->tail = NULL;
		u->queued--;
		u->busy++;
		skip = u->failed;
		pthread_mutex_unlock(&u->lock);
		etag = NULL;
		rc = skip ? MSP_EIO : part_put(u, pt, &etag, md5, &e);
		pthread_mutex_lock(&u->lock);
		if (rc == 0) {
			u->etags[pt->no - 1] = etag;
			memcpy(u->md5s[pt->no - 1], md5, 16);
		} else if (!u->failed) {
			u->failed = 1;
			u->err = e;
		}
		u->busy--;
		free(pt->p);
		free(pt);
		pthread_cond_broadcast(&u->cv);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* CreateMultipartUpload; with workers, the threads that send the parts
 * are started too. */
static int
create(struct msp_s3_upload *u, int workers, struct msp_err *e)
{
	struct req r = { 0 };
	struct s3_xml x = { 0 };
	int rc, i;

	r.method = "POST";
	r.key = u->key;
	r.kv[0] = "uploads";
	r.nkv = 1;
	r.max = XML_MAX;
	r.hdr[r.nhdr++] = u->ct;
	if (u->cc != NULL)
		r.hdr[r.nhdr++] = u->cc;
	if ((rc = xml_request(u->s, &r, "InitiateMultipartUploadResult", &x,
	    e)) != 0)
		goto out;
	if (x.upload_id == NULL || !printable(x.upload_id, 1024)) {
		rc = not_s3(u->s, 0, e);
		goto out;
	}
	if ((u->upload_id = msp_strdup(x.upload_id)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((u->th = calloc((size_t)u->s->c.parallel, sizeof(*u->th))) ==
	    NULL || (u->etags = calloc(PARTS_MAX, sizeof(*u->etags))) ==
	    NULL || (u->md5s = calloc(PARTS_MAX, sizeof(*u->md5s))) ==
	    NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; workers && i < u->s->c.parallel; i++) {
		if (pthread_create(&u->th[i], NULL, worker, u) != 0)
			break;
		u->nth++;
	}
	if (workers && u->nth == 0)
		rc = msp_err_set(e, MSP_ENOMEM, "cannot start a thread");
out:
	s3_xml_free(&x);
	return rc;
}

/* Hand the filled buffer to the workers, waiting while `parallel` parts
 * are already queued or in flight (memory stays bounded). */
static int
dispatch(struct msp_s3_upload *u, struct msp_err *e)
{
	struct part *pt;
	int rc;

	if (u->upload_id == NULL && (rc = create(u, 1, e)) != 0)
		return rc;
	if (u->next_no >= PARTS_MAX)
		return msp_err_set(e, MSP_EINVAL, "bucket '%s': '%s': more "
		    "than %d parts; raise part_size", u->s->c.bucket, u->ukey,
		    PARTS_MAX);
	if ((pt = calloc(1, sizeof(*pt))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	pt->no = ++u->next_no;
	pt->p = u->buf;
	pt->n = u->fill;
	u->buf = NULL;
	u->fill = 0;
	pthread_mutex_lock(&u->lock);
	while (!u->failed && u->queued + u->busy >= u->s->c.parallel)
		pthread_cond_wait(&u->cv, &u->lock);
	if (u->failed) {
		pthread_mutex_unlock(&u->lock);
		free(pt->p);
		free(pt);
		if (e != NULL)
			*e = u->err;
		return u->err.code ? u->err.code : MSP_EIO;
	}
	if (u->tail != NULL)
		u->tail->next = pt;
	else
		u->queue = pt;
	u->tail = pt;
	u->queued++;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

int
msp_s3_upload_begin(struct msp_s3 *s, const char *key,
    const struct msp_s3_put_opts *o, struct msp_s3_upload **up,
    struct msp_err *e)
{
	struct msp_s3_upload *u;
	struct req r = { 0 };
	int rc;

	*up = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	u->s = s;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cv, NULL);
	if ((u->key = full_key(s, key, e)) == NULL) {
		rc = e ? e->code : MSP_EINVAL;
		goto fail;
	}
	if ((u->ukey = msp_strdup(key)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = put_headers(&r, o, &u->ct, &u->cc)) != 0) {
		rc = rc == -2 ? msp_err_set(e, MSP_EINVAL, "'%s': control "
		    "characters in the content type or cache control", key) :
		    msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto fail;
	}
	*up = u;
	return 0;
fail:
	msp_s3_upload_abort(u);
	return rc;
}

int
msp_s3_upload_write(struct msp_s3_upload *u, const void *data, size_t len,
    struct msp_err *e)
{
	const unsigned char *p = data;
	size_t k, ps = u->s->c.part_size;
	int rc;

	if (u->failed) {
		if (e != NULL)
			*e = u->err;
		return u->err.code ? u->err.code : MSP_EIO;
	}
	while (len > 0) {
		if (u->buf == NULL && (u->buf = malloc(ps)) == NULL)
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		k = ps - u->fill < len ? ps - u->fill : len;
		memcpy(u->buf + u->fill, p, k);
		u->fill += k;
		u->total += (int64_t)k;
		p += k;
		len -= k;
		if (u->fill == ps && (rc = dispatch(u, e)) != 0)
			return rc;
	}
	return 0;
}

/* Stop the workers and wait for the parts in flight. */
static void
join_all(struct msp_s3_upload *u)
{
	struct part *pt;
	int i;

	pthread_mutex_lock(&u->lock);
	u->closing = 1;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->lock);
	for (i = 0; i < u->nth; i++)
		pthread_join(u->th[i], NULL);
	u->nth = 0;
	while ((pt = u->queue) != NULL) {
		u->queue = pt->next;
		free(pt->p);
		free(pt);
	}
	u->tail = NULL;
}

static int
complete(struct msp_s3_upload *u, struct msp_err *e)
{
	struct req r;
	struct s3_xml x = { 0 };
	unsigned char h[16];
	char want[48], tag[200];
	EVP_MD_CTX *mc = NULL;
	FILE *f = NULL;
	char *xml = NULL;
	size_t xn = 0;
	int64_t size;
	int i, rc = MSP_EIO;

	if ((f = open_memstream(&xml, &xn)) == NULL ||
	    (mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(mc, EVP_md5(), NULL) != 1) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	fputs("<CompleteMultipartUpload>", f);
	for (i = 0; i < u->next_no; i++) {
		fprintf(f, "<Part><PartNumber>%d</PartNumber><ETag>&quot;%s"
		    "&quot;</ETag></Part>", i + 1, u->etags[i]);
		EVP_DigestUpdate(mc, u->md5s[i], 16);
	}
	fputs("</CompleteMultipartUpload>", f);
	if (fclose(f) != 0) {
		f = NULL;
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	f = NULL;
	EVP_DigestFinal_ex(mc, h, NULL);
	s3_hex(h, 16, want);
	snprintf(want + 32, sizeof(want) - 32, "-%d", u->next_no);
	part_req(u, &r, NULL);
	r.method = "POST";
	r.body = (const unsigned char *)xml;
	r.len = xn;
	r.max = XML_MAX;
	r.hdr[r.nhdr++] = "Content-Type: application/xml";
	rc = xml_request(u->s, &r, "CompleteMultipartUploadResult", &x, e);
	if (rc == MSP_ENOTFOUND) {
		/* an earlier try may have completed it */
		struct msp_err he = { 0 };

		if (msp_s3_head(u->s, u->ukey, &size, NULL, &he) == 0 &&
		    size == u->total) {
			msp_err_clear(e);
			rc = 0;
		}
		goto out;
	}
	/* "<md5 of the part md5s>-<parts>" when the server follows S3's
	 * scheme; other forms are not checked */
	if (rc == 0 && !u->md5_unknown && x.etag != NULL &&
	    etag_clean(x.etag, tag, sizeof(tag)) == 0 && strspn(tag,
	    "0123456789abcdefABCDEF") == 32 && tag[32] == '-' &&
	    strcasecmp(tag, want) != 0)
		rc = msp_err_set(e, MSP_ENET, "bucket '%s': '%s': the "
		    "server's ETag %s for the whole upload is not %s",
		    u->s->c.bucket, u->ukey, tag, want);
out:
	if (f != NULL)
		fclose(f);
	EVP_MD_CTX_free(mc);
	s3_xml_free(&x);
	free(xml);
	return rc;
}

int
msp_s3_upload_finish(struct msp_s3_upload *u, struct msp_err *e)
{
	struct msp_s3_put_opts o;
	int rc;

	if (u->failed) {
		if (e != NULL)
			*e = u->err;
		rc = u->err.code ? u->err.code : MSP_EIO;
		msp_s3_upload_abort(u);
		return rc;
	}
	if (u->upload_id == NULL) {
		/* it stayed under one part: one PUT */
		o.content_type = u->ct + strlen("Content-Type: ");
		o.cache_control = u->cc ? u->cc + strlen("Cache-Control: ") :
		    NULL;
		rc = msp_s3_put(u->s, u->ukey, u->buf, u->fill, &o, e);
		msp_s3_upload_abort(u);
		return rc;
	}
	if (u->fill > 0 && (rc = dispatch(u, e)) != 0) {
		msp_s3_upload_abort(u);
		return rc;
	}
	join_all(u);
	if (u->failed) {
		if (e != NULL)
			*e = u->err;
		rc = u->err.code ? u->err.code : MSP_EIO;
	} else {
		rc = complete(u, e);
	}
	if (rc == 0) {
		free(u->upload_id);
		u->upload_id = NULL;
	}
	msp_s3_upload_abort(u);
	return rc;
}

void
msp_s3_upload_abort(struct msp_s3_upload *u)
{
	struct msp_err e;
	int i;

	if (u == NULL)
		return;
	join_all(u);
	if (u->upload_id != NULL)
		abort_full(u->s, u->key, u->upload_id, &e);
	for (i = 0; u->etags != NULL && i < u->next_no; i++)
		free(u->etags[i]);
	free(u->etags);
	free(u->md5s);
	free(u->th);
	free(u->buf);
	free(u->key);
	free(u->ukey);
	free(u->ct);
	free(u->cc);
	free(u->upload_id);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cv);
	free(u);
}

int
msp_s3_put_file(struct msp_s3 *s, const char *key, const char *path,
    const struct msp_s3_put_opts *o, struct msp_err *e)
{
	struct msp_s3_upload *u = NULL;
	unsigned char *buf = NULL;
	struct stat sb;
	ssize_t got;
	size_t cap;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return msp_err_set(e, errno == ENOENT ? MSP_ENOTFOUND : MSP_EIO,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = msp_err_set(e, MSP_EINVAL, "%s: not a regular file",
		    path);
		goto out;
	}
	cap = (size_t)sb.st_size <= s->c.part_size ? (size_t)sb.st_size + 1 :
	    1024 * 1024;
	if ((buf = malloc(cap)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = msp_s3_upload_begin(s, key, o, &u, e)) != 0)
		goto out;
	for (;;) {
		if ((got = read(fd, buf, cap)) < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = msp_err_set(e, MSP_EIO, "%s: %s", path,
			    strerror(errno));
			break;
		}
		if (got == 0)
			break;
		if ((rc = msp_s3_upload_write(u, buf, (size_t)got, e)) != 0)
			break;
	}
	if (rc == 0) {
		rc = msp_s3_upload_finish(u, e);
		u = NULL;
	}
out:
	msp_s3_upload_abort(u);
	free(buf);
	close(fd);
	return rc;
}

/* ---- server-side copies --------------------------------------------- */

/* "x-amz-copy-source: /bucket/key", the full key encoded. */
static char *
copy_source(struct msp_s3 *s, const char *fullsrc)
{
	char *p, *enc, *h;

	if ((p = msp_sprintf("/%s/%s", s->c.bucket, fullsrc)) == NULL)
		return NULL;
	enc = s3_uri_encode(p, strlen(p), 1);
	free(p);
	if (enc == NULL)
		return NULL;
	h = msp_sprintf("x-amz-copy-source: %s", enc);
	free(enc);
	return h;
}

/* An object above 5 GiB: a multipart upload whose parts are ranges of
 * the source (UploadPartCopy), completed or aborted. */
static int
copy_parts(struct msp_s3_upload *u, const char *src_hdr, int64_t size,
    struct msp_err *e)
{
	struct s3_xml x = { 0 };
	struct req r;
	unsigned char md5[16];
	char no[16], range[80], tag[200];
	int64_t off, n, ps = u->s->c.copy_size;
	size_t bl;
	int rc;

	while (size / ps >= PARTS_MAX && ps <= PART_MAX)
		ps *= 2;
	if (ps > PART_MAX)
		return msp_err_set(e, MSP_EINVAL, "bucket '%s': '%s': too "
		    "large to copy", u->s->c.bucket, u->ukey);
	if ((rc = create(u, 0, e)) != 0)
		return rc;
	for (off = 0; off < size; off += n) {
		n = size - off < ps ? size - off : ps;
		snprintf(no, sizeof(no), "%d", u->next_no + 1);
		snprintf(range, sizeof(range), "x-amz-copy-source-range: "
		    "bytes=%lld-%lld", (long long)off, (long long)(off + n - 1));
		part_req(u, &r, no);
		r.max = XML_MAX;
		r.hdr[r.nhdr++] = src_hdr;
		r.hdr[r.nhdr++] = range;
		s3_xml_free(&x);
		if ((rc = xml_request(u->s, &r, "CopyPartResult", &x, e)) != 0) {
			msp_err_prefix(e, "part %s", no);
			break;
		}
		if (x.etag == NULL || etag_clean(x.etag, tag, sizeof(tag)) !=
		    0) {
			rc = msp_err_set(e, MSP_ENET, "bucket '%s': '%s': part "
			    "%s: the answer has no usable ETag", u->s->c.bucket,
			    u->ukey, no);
			break;
		}
		if ((u->etags[u->next_no] = msp_strdup(tag)) == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			break;
		}
		if (etag_is_md5(tag) && sodium_hex2bin(md5, sizeof(md5), tag,
		    32, NULL, &bl, NULL) == 0 && bl == 16)
			memcpy(u->md5s[u->next_no], md5, 16);
		else
			u->md5_unknown = 1;
		u->next_no++;
		u->total += n;
	}
	s3_xml_free(&x);
	if (rc == 0 && (rc = complete(u, e)) == 0) {
		free(u->upload_id);
		u->upload_id = NULL;
	}
	return rc;
}

int
msp_s3_copy(struct msp_s3 *s, const char *src, const char *dst,
    int64_t size, const struct msp_s3_put_opts *o, struct msp_err *e)
{
	struct msp_s3_upload *u = NULL;
	struct s3_xml x = { 0 };
	struct req r = { 0 };
	char *fs = NULL, *sh = NULL, *ct = NULL, *cc = NULL;
	int rc;

	if ((fs = full_key(s, src, e)) == NULL)
		return e ? e->code : MSP_EINVAL;
	if ((sh = copy_source(s, fs)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if (size > s->c.copy_size) {
		if ((rc = msp_s3_upload_begin(s, dst, o, &u, e)) == 0)
			rc = copy_parts(u, sh, size, e);
		goto out;
	}
	if ((r.key = full_key(s, dst, e)) == NULL) {
		rc = e ? e->code : MSP_EINVAL;
		goto out;
	}
	r.method = "PUT";
	r.body = (const unsigned char *)"";
	r.max = XML_MAX;
	r.hdr[r.nhdr++] = sh;
	r.hdr[r.nhdr++] = "x-amz-metadata-directive: REPLACE";
	if ((rc = put_headers(&r, o, &ct, &cc)) != 0) {
		rc = rc == -2 ? msp_err_set(e, MSP_EINVAL, "'%s': control "
		    "characters in the content type or cache control", dst) :
		    msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	rc = xml_request(s, &r, "CopyObjectResult", &x, e);
out:
	msp_s3_upload_abort(u);
	s3_xml_free(&x);
	free((char *)r.key);
	free(fs);
	free(sh);
	free(ct);
	free(cc);
	return rc;
}
