/* s3_sign: AWS Signature Version 4 for S3, header and query (presigned)
 * forms, on libsodium's SHA-256 and HMAC-SHA-256.
 *
 * msp builds the canonical request itself for every request rather than
 * through libcurl's CURLOPT_AWS_SIGV4: libcurl 7.88 (Debian 12) neither
 * sorts nor re-encodes the query string, signs a parameter without a value
 * ("?uploads") differently from S3, computes x-amz-content-sha256 only for
 * POSTFIELDS bodies and cannot presign. One signer for every request is
 * also one signer the known-answer tests cover.
 *
 * S3 differs from the other services in two ways kept here: the path is
 * encoded once and never normalised ("a//b/../c" is a key of its own), and
 * the payload hash is sent in x-amz-content-sha256. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "s3_int.h"
#include "util.h"

/* A growing string; on allocation failure it turns bad and stays so. */
struct buf {
	char *p;
	size_t n, cap;
	int bad;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (b->bad)
		return;
	if (b->n + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->bad = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static char *
buf_done(struct buf *b)
{
	if (b->bad || b->p == NULL) {
		free(b->p);
		return b->bad ? NULL : msp_strdup("");
	}
	return b->p;
}

void
s3_hex(const unsigned char *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void
encode_into(struct buf *b, const char *s, size_t n, int slash)
{
	static const char hx[] = "0123456789ABCDEF";
	char esc[3];
	size_t i, run;

	for (i = 0; i < n; i += run) {
		for (run = 0; i + run < n &&
		    (unreserved((unsigned char)s[i + run]) ||
		    (slash && s[i + run] == '/')); run++)
			;
		if (run > 0) {
			buf_add(b, s + i, run);
			continue;
		}
		esc[0] = '%';
		esc[1] = hx[(unsigned char)s[i] >> 4];
		esc[2] = hx[(unsigned char)s[i] & 15];
		buf_add(b, esc, 3);
		run = 1;
	}
}

char *
s3_uri_encode(const char *s, size_t n, int slash)
{
	struct buf b = { 0 };

	encode_into(&b, s, n, slash);
	return buf_done(&b);
}

/* Decode %XX escapes (anything else is kept as it is) and encode again:
 * a query string as sent, made canonical. */
static void
reencode_into(struct buf *b, const char *s, size_t n)
{
	char *d;
	size_t i, j = 0;

	if ((d = malloc(n + 1)) == NULL) {
		b->bad = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && msp_hexval(s[i + 1]) >= 0 &&
		    msp_hexval(s[i + 2]) >= 0) {
			d[j++] = (char)(msp_hexval(s[i + 1]) * 16 +
			    msp_hexval(s[i + 2]));
			i += 2;
		} else {
			d[j++] = s[i];
		}
	}
	encode_into(b, d, j, 0);
	free(d);
}

struct pair {
	char *s;      /* "name=value", encoded */
	size_t name;  /* length of the name */
	size_t idx;   /* the order given, for a stable sort */
};

static int
pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	size_t n = x->name < y->name ? x->name : y->name;
	int c = memcmp(x->s, y->s, n);

	if (c != 0)
		return c;
	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	if ((c = strcmp(x->s + x->name, y->s + y->name)) != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
name_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	size_t n = x->name < y->name ? x->name : y->name;
	int c = memcmp(x->s, y->s, n);

	if (c != 0)
		return c;
	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static char *
join_pairs(struct pair *p, size_t n)
{
	struct buf b = { 0 };
	size_t i;

	qsort(p, n, sizeof(*p), pair_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_add(&b, "&", 1);
		buf_str(&b, p[i].s);
	}
	return buf_done(&b);
}

static void
pairs_free(struct pair *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(p[i].s);
	free(p);
}

/* The canonical query string of a query as sent ("b=2&a=1&uploads"). */
static char *
canonical_query(const char *q)
{
	struct pair *p = NULL;
	const char *s, *amp, *eq;
	struct buf b;
	size_t n = 0, cap = 0;
	char *out = NULL;

	if (q == NULL || *q == '\0')
		return msp_strdup("");
	for (s = q; ; s = amp + 1) {
		if ((amp = strchr(s, '&')) == NULL)
			amp = s + strlen(s);
		if (amp > s) {
			if (msp_grow(&p, &cap, n + 1, sizeof(*p), 8) != 0)
				goto out;
			memset(&b, 0, sizeof(b));
			eq = memchr(s, '=', (size_t)(amp - s));
			reencode_into(&b, s, (size_t)((eq ? eq : amp) - s));
			p[n].name = b.n;
			buf_add(&b, "=", 1);
			if (eq != NULL)
				reencode_into(&b, eq + 1,
				    (size_t)(amp - eq - 1));
			if ((p[n].s = buf_done(&b)) == NULL)
				goto out;
			p[n].idx = n;
			n++;
		}
		if (*amp == '\0')
			break;
	}
	out = join_pairs(p, n);
out:
	pairs_free(p, n);
	return out;
}

char *
s3_query(const char *const *kv, size_t npairs)
{
	struct pair *p;
	struct buf b;
	size_t i, n = 0;
	char *out = NULL;

	if (npairs == 0)
		return msp_strdup("");
	if ((p = calloc(npairs, sizeof(*p))) == NULL)
		return NULL;
	for (i = 0; i < npairs; i++, n++) {
		memset(&b, 0, sizeof(b));
		encode_into(&b, kv[2 * i], strlen(kv[2 * i]), 0);
		p[i].name = b.n;
		buf_add(&b, "=", 1);
		if (kv[2 * i + 1] != NULL)
			encode_into(&b, kv[2 * i + 1], strlen(kv[2 * i + 1]),
			    0);
		if ((p[i].s = buf_done(&b)) == NULL)
			goto out;
		p[i].idx = i;
	}
	out = join_pairs(p, n);
out:
	pairs_free(p, n);
	return out;
}

/* Canonical headers and the signed header list from "Name: value"
 * strings: lowercase names, values trimmed with inner runs of spaces made
 * one, sorted by name, repeated names joined with ','. */
static int
canonical_headers(const char *const *h, size_t n, char **canon,
    char **signed_list)
{
	struct pair *p;
	struct buf b, c = { 0 }, sl = { 0 };
	const char *colon, *v;
	size_t i, k, cnt = 0;
	int rc = -1, sp;

	*canon = *signed_list = NULL;
	if ((p = calloc(n ? n : 1, sizeof(*p))) == NULL)
		return -1;
	for (i = 0; i < n; i++, cnt++) {
		memset(&b, 0, sizeof(b));
		if ((colon = strchr(h[i], ':')) == NULL)
			colon = h[i] + strlen(h[i]);
		for (k = 0; h[i] + k < colon; k++) {
			char ch = (char)tolower((unsigned char)h[i][k]);

			buf_add(&b, &ch, 1);
		}
		p[i].name = b.n;
		buf_add(&b, ":", 1);
		v = *colon ? colon + 1 : colon;
		while (*v == ' ' || *v == '\t')
			v++;
		for (sp = 0; *v != '\0'; v++) {
			if (*v == ' ' || *v == '\t') {
				sp = 1;
				continue;
			}
			if (sp)
				buf_add(&b, " ", 1);
			sp = 0;
			buf_add(&b, v, 1);
		}
		if ((p[i].s = buf_done(&b)) == NULL)
			goto out;
		p[i].idx = i;
	}
	/* by name only, keeping the given order of a repeated name */
	qsort(p, cnt, sizeof(*p), name_cmp);
	for (i = 0; i < cnt; i++) {
		int same = i > 0 && p[i].name == p[i - 1].name &&
		    memcmp(p[i].s, p[i - 1].s, p[i].name) == 0;

		if (same) {
			buf_add(&c, ",", 1);
			buf_str(&c, p[i].s + p[i].name + 1);
			continue;
		}
		if (i > 0) {
			buf_add(&c, "\n", 1);
			buf_add(&sl, ";", 1);
		}
		buf_str(&c, p[i].s);
		buf_add(&sl, p[i].s, p[i].name);
	}
	buf_add(&c, "\n", 1);
	if ((*canon = buf_done(&c)) == NULL ||
	    (*signed_list = buf_done(&sl)) == NULL)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		free(*canon);
		free(*signed_list);
		*canon = *signed_list = NULL;
	}
	pairs_free(p, cnt);
	return rc;
}

char *
msp_s3_canonical_request(const char *method, const char *path,
    const char *query, const char *const *headers, size_t n,
    const char *payload_hash)
{
	struct buf b = { 0 };
	char *q = NULL, *ch = NULL, *sl = NULL;

	if ((q = canonical_query(query)) == NULL ||
	    canonical_headers(headers, n, &ch, &sl) != 0)
		goto out;
	buf_str(&b, method);
	buf_add(&b, "\n", 1);
	if (path == NULL || *path == '\0')
		path = "/";
	encode_into(&b, path, strlen(path), 1);
	buf_add(&b, "\n", 1);
	buf_str(&b, q);
	buf_add(&b, "\n", 1);
	buf_str(&b, ch);
	buf_add(&b, "\n", 1);
	buf_str(&b, sl);
	buf_add(&b, "\n", 1);
	buf_str(&b, payload_hash);
out:
	free(q);
	free(ch);
	free(sl);
	if (q == NULL || sl == NULL) {
		free(b.p);
		return NULL;
	}
	return buf_done(&b);
}

char *
msp_s3_string_to_sign(const char *amzdate, const char *region,
    const char *service, const char *canonical_request)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hx[2 * sizeof(h) + 1];

	if (strlen(amzdate) < 8)
		return NULL;
	crypto_hash_sha256(h, (const unsigned char *)canonical_request,
	    strlen(canonical_request));
	s3_hex(h, sizeof(h), hx);
	return msp_sprintf("AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s",
	    amzdate, amzdate, region, service, hx);
}

static void
hmac(unsigned char out[crypto_auth_hmacsha256_BYTES], const void *key,
    size_t keylen, const char *msg)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg,
	    strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* The hex signature of sts: HMAC chain AWS4+secret, date, region,
 * service, "aws4_request". */
static int
signature(const char *secret, const char *amzdate, const char *region,
    const char *service, const char *sts, char out[65])
{
	unsigned char k[crypto_auth_hmacsha256_BYTES];
	char date[9], *ks;
	size_t kn;

	if ((ks = msp_sprintf("AWS4%s", secret)) == NULL)
		return -1;
	kn = strlen(ks);
	snprintf(date, sizeof(date), "%.8s", amzdate);
	hmac(k, ks, kn, date);
	sodium_memzero(ks, kn);
	free(ks);
	hmac(k, k, sizeof(k), region);
	hmac(k, k, sizeof(k), service);
	hmac(k, k, sizeof(k), "aws4_request");
	hmac(k, k, sizeof(k), sts);
	s3_hex(k, sizeof(k), out);
	sodium_memzero(k, sizeof(k));
	return 0;
}

char *
msp_s3_authorization(const char *access_key, const char *secret_key,
    const char *amzdate, const char *region, const char *service,
    const char *method, const char *path, const char *query,
    const char *const *headers, size_t n, const char *payload_hash)
{
	char *creq = NULL, *sts = NULL, *ch = NULL, *sl = NULL, *out = NULL;
	char sig[65];

	if (sodium_init() < 0)
		return NULL;
	if ((creq = msp_s3_canonical_request(method, path, query, headers, n,
	    payload_hash)) == NULL ||
	    (sts = msp_s3_string_to_sign(amzdate, region, service,
	    creq)) == NULL ||
	    canonical_headers(headers, n, &ch, &sl) != 0 ||
	    signature(secret_key, amzdate, region, service, sts, sig) != 0)
		goto out;
	out = msp_sprintf("AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/"
	    "aws4_request, SignedHeaders=%s, Signature=%s", access_key,
	    amzdate, region, service, sl, sig);
out:
	free(creq);
	free(sts);
	free(ch);
	free(sl);
	return out;
}

void
s3_amzdate(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

char *
s3_sign(const struct msp_s3 *s, const char *amzdate, const char *method,
    const char *path, const char *query, const char *const *headers,
    size_t n, const char *payload_hash)
{
	return msp_s3_authorization(s->c.access_key, s->c.secret_key, amzdate,
	    s->c.region, "s3", method, path, query, headers, n,
	    payload_hash);
}

char *
s3_path(const struct msp_s3 *s, const char *key)
{
	if (s->c.path_style)
		return key == NULL ? msp_sprintf("/%s/", s->c.bucket) :
		    msp_sprintf("/%s/%s", s->c.bucket, key);
	return key == NULL ? msp_strdup("/") : msp_sprintf("/%s", key);
}

int
s3_presign_at(struct msp_s3 *s, const char *method, const char *key,
    long expires, time_t t, char **url, struct msp_err *e)
{
	char amz[17], exp[24], *cred = NULL, *q = NULL, *path = NULL;
	char *creq = NULL, *sts = NULL, *hosth = NULL, *epath = NULL;
	const char *kv[14], *hdr[1];
	char sig[65];
	size_t n = 0;
	int rc = MSP_ENOMEM;

	*url = NULL;
	if (expires < 1 || expires > 604800)
		return msp_err_set(e, MSP_EINVAL, "presigned url: expiry %ld s "
		    "is not from 1 to 604800", expires);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    strcmp(method, "PUT") != 0)
		return msp_err_set(e, MSP_EINVAL, "presigned url: method '%s' "
		    "is not GET, HEAD or PUT", method);
	s3_amzdate(t, amz);
	snprintf(exp, sizeof(exp), "%ld", expires);
	if ((cred = msp_sprintf("%s/%.8s/%s/s3/aws4_request",
	    s->c.access_key, amz, s->c.region)) == NULL ||
	    (path = s3_path(s, key)) == NULL ||
	    (hosth = msp_sprintf("host:%s", s->host)) == NULL)
		goto out;
	kv[n++] = "X-Amz-Algorithm";
	kv[n++] = "AWS4-HMAC-SHA256";
	kv[n++] = "X-Amz-Credential";
	kv[n++] = cred;
	kv[n++] = "X-Amz-Date";
	kv[n++] = amz;
	kv[n++] = "X-Amz-Expires";
	kv[n++] = exp;
	if (s->c.session_token != NULL) {
		kv[n++] = "X-Amz-Security-Token";
		kv[n++] = s->c.session_token;
	}
	kv[n++] = "X-Amz-SignedHeaders";
	kv[n++] = "host";
	hdr[0] = hosth;
	if ((q = s3_query(kv, n / 2)) == NULL ||
	    (creq = msp_s3_canonical_request(method, path, q, hdr, 1,
	    S3_UNSIGNED)) == NULL ||
	    (sts = msp_s3_string_to_sign(amz, s->c.region, "s3",
	    creq)) == NULL ||
	    signature(s->c.secret_key, amz, s->c.region, "s3", sts, sig) != 0 ||
	    (epath = s3_uri_encode(path, strlen(path), 1)) == NULL)
		goto out;
	if ((*url = msp_sprintf("%s://%s%s?%s&X-Amz-Signature=%s", s->scheme,
	    s->host, epath, q, sig)) == NULL)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		msp_err_set(e, rc, "out of memory");
	free(cred);
	free(q);
	free(path);
	free(creq);
	free(sts);
	free(hosth);
	free(epath);
	return rc;
}
