/* Resumable uploads: the tus 1.0 protocol (core, creation, termination,
 * expiration, checksum with sha1 and sha256) over lib/upload, under
 * /files/. The
 * body of a PATCH streams into the upload as it arrives; the last byte
 * ingests the file as PUT /short-content/upload does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "internal.h"
#include "upload.h"
#include "util.h"

#define TUS_VERSION "1.0.0"

struct msp_tus {
	struct msp_upload *u;
	unsigned char want[32];
	int sum;               /* 0 or MSP_UPLOAD_SHA1, MSP_UPLOAD_SHA256 */
	int rc;                /* a write error, answered at the end */
	struct msp_err err;
	int ended;
};

static const char *const meta_keys[] = { "filename", "filetype",
    "videoType", "name", "title", "about", "language", "genres",
    "isPremium", NULL };

void
msp_http_tus_headers(struct msp_req *r, struct MHD_Response *resp)
{
	if (r->route == NULL || strcmp(r->route->path, "/files/") != 0)
		return;
	MHD_add_response_header(resp, "Tus-Resumable", TUS_VERSION);
	if (r->status == 412 || strcmp(r->method, "OPTIONS") == 0)
		MHD_add_response_header(resp, "Tus-Version", TUS_VERSION);
}

static void
http_date(int64_t ms, char out[40])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* An empty answer with the upload's headers. */
static void
reply_upload(struct msp_req *r, unsigned status, struct msp_upload *u,
    int length)
{
	struct MHD_Response *resp;
	char n[32], d[40];

	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		msp_reply(r, 500, NULL);
		return;
	}
	snprintf(n, sizeof(n), "%lld", (long long)u->offset);
	MHD_add_response_header(resp, "Upload-Offset", n);
	if (length) {
		snprintf(n, sizeof(n), "%lld", (long long)u->length);
		MHD_add_response_header(resp, "Upload-Length", n);
	}
	http_date(u->expires_ms, d);
	MHD_add_response_header(resp, "Upload-Expires", d);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (u->video != NULL)
		MHD_add_response_header(resp, "X-Msp-Video", u->video);
	msp_reply(r, status, resp);
}

static int
version_ok(struct msp_req *r)
{
	const char *v = msp_req_header(r, "Tus-Resumable");

	if (v != NULL && strcmp(v, TUS_VERSION) == 0)
		return 1;
	r->status = 412;
	msp_reply_error(r, 412, "Tus-Resumable: expected " TUS_VERSION);
	return 0;
}

/* The id in the path, or a 404. */
static const char *
upload_id(struct msp_req *r)
{
	if (r->rest[0] == '\0' || strchr(r->rest, '/') != NULL) {
		msp_reply_error(r, 404, "%s: not found", r->url);
		return NULL;
	}
	return r->rest;
}

static struct msp_upload *
load(struct msp_req *r)
{
	struct msp_upload *u = NULL;
	struct msp_err e;
	const char *id;
	int rc;

	if ((id = upload_id(r)) == NULL)
		return NULL;
	rc = msp_upload_get(r->h->st, id, r->email, &u, &e);
	if (rc == MSP_UPLOAD_GONE)
		msp_reply_error(r, 410, "%s", e.msg);
	else if (rc != 0)
		msp_reply_err(r, &e);
	return u;
}

void
msp_route_tus_options(struct msp_req *r)
{
	struct MHD_Response *resp;
	char n[32];

	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		msp_reply(r, 500, NULL);
		return;
	}
	snprintf(n, sizeof(n), "%lld", r->h->c.upload_max);
	MHD_add_response_header(resp, "Tus-Extension",
	    "creation,termination,expiration,checksum");
	MHD_add_response_header(resp, "Tus-Max-Size", n);
	MHD_add_response_header(resp, "Tus-Checksum-Algorithm", "sha1,sha256");
	msp_reply(r, 204, resp);
}

/* Upload-Metadata: "key base64,key base64"; the video's fields. */
static json_object *
parse_meta(struct msp_req *r, const char *h)
{
	json_object *m = json_object_new_object();
	const char *p = h;

	if (m == NULL)
		return NULL;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ','), *sp;
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p), kl, vl;
		const char *const *k;
		char key[32], *val = NULL;

		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		sp = memchr(p, ' ', n);
		kl = sp != NULL ? (size_t)(sp - p) : n;
		if (kl == 0 || kl >= sizeof(key))
			goto bad;
		memcpy(key, p, kl);
		key[kl] = '\0';
		vl = sp != NULL ? n - kl - 1 : 0;
		if ((val = malloc(vl + 1)) == NULL)
			goto bad;
		if (vl > 0 && sodium_base642bin((unsigned char *)val, vl,
		    sp + 1, vl, NULL, &vl, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0) {
			free(val);
			msp_reply_error(r, 400, "Upload-Metadata: %s: not "
			    "base64", key);
			json_object_put(m);
			return NULL;
		}
		val[vl] = '\0';
		if (strlen(val) != vl || !msp_utf8_valid(val, vl)) {
			free(val);
			msp_reply_error(r, 400, "Upload-Metadata: %s: not "
			    "UTF-8 text", key);
			json_object_put(m);
			return NULL;
		}
		if (strcmp(key, "type") == 0)
			strcpy(key, "videoType");
		for (k = meta_keys; *k != NULL; k++)
			if (strcmp(*k, key) == 0)
				break;
		if (*k != NULL && strcmp(key, "isPremium") == 0)
			json_object_object_add(m, key, json_object_new_boolean(
			    strcmp(val, "true") == 0));
		else if (*k != NULL && strcmp(key, "genres") == 0) {
			json_object *a = json_object_new_array();
			char *save = NULL, *t;
			for (t = strtok_r(val, ",", &save); t != NULL;
			    t = strtok_r(NULL, ",", &save))
				json_object_array_add(a,
				    json_object_new_string(t));
			json_object_object_add(m, key, a);
		} else if (*k != NULL)
			json_object_object_add(m, key,
			    json_object_new_string(val));
		free(val);
		p = end != NULL ? end + 1 : NULL;
	}
	return m;
bad:
	msp_reply_error(r, 400, "Upload-Metadata: expected \"key base64\" "
	    "pairs separated by commas");
	json_object_put(m);
	return NULL;
}

void
msp_route_tus_create(struct msp_req *r)
{
	struct msp_upload *u = NULL;
	struct MHD_Response *resp;
	struct msp_err e;
	json_object *meta;
	const char *h;
	long long len;
	char *loc, d[40];
	int rc;

	if (!version_ok(r))
		return;
	if (r->rest[0] != '\0') {
		msp_reply_error(r, 404, "%s: not found", r->url);
		return;
	}
	if (msp_req_header(r, "Upload-Defer-Length") != NULL) {
		msp_reply_error(r, 400, "Upload-Defer-Length: not supported "
		    "(send Upload-Length)");
		return;
	}
	h = msp_req_header(r, "Upload-Length");
	if (h == NULL || msp_parse_int(h, 0, (long long)1 << 62, &len) != 0) {
		msp_reply_error(r, 400, "Upload-Length: expected a number of "
		    "bytes");
		return;
	}
	if (len > r->h->c.upload_max) {
		msp_reply_error(r, 413, "Upload-Length: larger than %lld bytes",
		    r->h->c.upload_max);
		return;
	}
	if ((meta = parse_meta(r, msp_req_header(r, "Upload-Metadata"))) ==
	    NULL) {
		if (!r->done)
			msp_reply(r, 500, NULL);
		return;
	}
	rc = msp_upload_create(r->h->st, r->email, len, r->h->c.upload_max,
	    meta, r->h->c.upload_ttl, r->h->c.upload_quota, &u, &e);
	json_object_put(meta);
	if (rc != 0) {
		msp_reply_err(r, &e);
		return;
	}
	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	loc = msp_sprintf("/files/%s", u->id);
	if (resp == NULL || loc == NULL) {
		if (resp != NULL)
			MHD_destroy_response(resp);
		free(loc);
		msp_upload_free(u);
		msp_reply(r, 500, NULL);
		return;
	}
	http_date(u->expires_ms, d);
	MHD_add_response_header(resp, "Location", loc);
	MHD_add_response_header(resp, "Upload-Expires", d);
	MHD_add_response_header(resp, "Upload-Offset", "0");
	msp_reply(r, 201, resp);
	free(loc);
	msp_upload_free(u);
}

/* HEAD (and GET) /files/ID: the offset */
void
msp_route_tus_head(struct msp_req *r)
{
	struct msp_upload *u;

	if (strcmp(r->method, "HEAD") != 0) {
		msp_reply_error(r, 405, "GET %s: use HEAD", r->url);
		return;
	}
	if (!version_ok(r) || (u = load(r)) == NULL)
		return;
	reply_upload(r, 200, u, 1);
	msp_upload_free(u);
}

void
msp_route_tus_delete(struct msp_req *r)
{
	struct msp_upload *u;
	struct msp_err e;

	if (!version_ok(r) || (u = load(r)) == NULL)
		return;
	if (msp_upload_remove(u, &e) != 0)
		msp_reply_err(r, &e);
	else
		msp_reply(r, 204, MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT));
	msp_upload_free(u);
}

/* Before a PATCH body arrives: the checks that can refuse it. */
int
msp_tus_begin(struct msp_req *r)
{
	const char *ct, *h;
	struct msp_tus *t;
	struct msp_err e;
	long long off;
	int rc;

	if (!version_ok(r))
		return -1;
	ct = msp_req_header(r, "Content-Type");
	if (ct == NULL || strcasecmp(ct, "application/offset+octet-stream")
	    != 0) {
		msp_reply_error(r, 415, "Content-Type: expected "
		    "application/offset+octet-stream");
		return -1;
	}
	h = msp_req_header(r, "Upload-Offset");
	if (h == NULL || msp_parse_int(h, 0, (long long)1 << 62, &off) != 0) {
		msp_reply_error(r, 400, "Upload-Offset: expected a number of "
		    "bytes");
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		msp_reply(r, 500, NULL);
		return -1;
	}
	r->tus = t;
	if ((h = msp_req_header(r, "Upload-Checksum")) != NULL) {
		static const struct {
			const char *name;
			int sum;
			size_t len;
		} algs[] = { { "sha1", MSP_UPLOAD_SHA1, 20 },
		    { "sha256", MSP_UPLOAD_SHA256, 32 }, { NULL, 0, 0 } };
		const char *sp = strchr(h, ' ');
		size_t n = 0, i;

		for (i = 0; sp != NULL && algs[i].name != NULL; i++)
			if ((size_t)(sp - h) == strlen(algs[i].name) &&
			    strncmp(h, algs[i].name, (size_t)(sp - h)) == 0)
				break;
		if (sp == NULL || algs[i].name == NULL) {
			msp_reply_error(r, 400, "Upload-Checksum: the "
			    "algorithm is not supported (sha1, sha256)");
			return -1;
		}
		if (sodium_base642bin(t->want, sizeof(t->want), sp + 1,
		    strlen(sp + 1), NULL, &n, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    n != algs[i].len) {
			msp_reply_error(r, 400, "Upload-Checksum: expected "
			    "%s and %zu bytes in base64", algs[i].name,
			    algs[i].len);
			return -1;
		}
		t->sum = algs[i].sum;
	}
	if ((t->u = load(r)) == NULL)
		return -1;
	rc = msp_upload_begin(t->u, off, t->sum, &e);
	if (rc == MSP_EAGAIN) {
		msp_reply_error(r, 423, "%s", e.msg);
		return -1;
	}
	if (rc != 0) {
		msp_reply_err(r, &e);
		return -1;
	}
	return 0;
}

/* A piece of a PATCH body: into the upload (errors kept for the end). */
int
msp_tus_body(struct msp_req *r, const char *data, size_t n)
{
	struct msp_tus *t = r->tus;

	if (t == NULL || t->u == NULL || t->rc != 0)
		return 0;
	t->rc = msp_upload_write(t->u, data, n, &t->err);
	return 0;
}

void
msp_route_tus_patch(struct msp_req *r)
{
	struct msp_tus *t = r->tus;
	struct msp_err e;
	int rc;

	if (t == NULL || t->u == NULL) {
		msp_reply_error(r, 500, "internal error");
		return;
	}
	t->ended = 1;
	if (t->rc != 0) {
		msp_upload_cut(t->u);
		if (t->rc == MSP_EINVAL)
			msp_reply_error(r, 413, "%s", t->err.msg);
		else
			msp_reply_err(r, &t->err);
		return;
	}
	rc = msp_upload_end(t->u, t->sum ? t->want : NULL, &e);
	if (rc == MSP_UPLOAD_MISMATCH) {
		msp_reply_error(r, 460, "%s", e.msg);
		return;
	}
	if (rc != 0) {
		msp_reply_err(r, &e);
		return;
	}
	if (t->u->offset == t->u->length) {
		if (msp_upload_finish(t->u, NULL, &e) != 0) {
			msp_reply_err(r, &e);
			return;
		}
		msp_workers_wake(r->h);
	}
	reply_upload(r, 204, t->u, 0);
}

/* The request is over: a PATCH cut short keeps what arrived. */
void
msp_tus_end(struct msp_req *r)
{
	struct msp_tus *t = r->tus;

	if (t == NULL)
		return;
	if (t->u != NULL && !t->ended)
		msp_upload_cut(t->u);
	msp_upload_free(t->u);
	free(t);
	r->tus = NULL;
}
