/* File delivery: /hls/... from the store's media/hls/<videoId>/ trees
 * (signed URLs for premium videos, the poster excepted). Files go out
 * with sendfile (MHD_create_response_from_fd), Range, ETag, Last-Modified
 * and Cache-Control. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "blob.h"
#include "catalog.h"
#include "internal.h"
#include "util.h"

static void
http_date(time_t t, char out[40])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* "bytes=A-B", "bytes=A-", "bytes=-N": 1 with [*off, *off + *len) set,
 * 0 to send the whole file (absent, several ranges), -1 unsatisfiable. */
static int
parse_range(const char *h, long long size, long long *off, long long *len)
{
	long long a, b;
	char *end;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0)
		return 0;
	h += 6;
	if (strchr(h, ',') != NULL)
		return 0;
	while (*h == ' ')
		h++;
	if (*h == '-') {
		b = strtoll(h + 1, &end, 10);
		if (end == h + 1 || *end != '\0' || b <= 0)
			return -1;
		if (b > size)
			b = size;
		*off = size - b;
		*len = b;
		return size > 0 ? 1 : -1;
	}
	if (*h < '0' || *h > '9')
		return -1;
	a = strtoll(h, &end, 10);
	if (*end != '-')
		return -1;
	h = end + 1;
	if (*h == '\0') {
		b = size - 1;
	} else {
		if (*h < '0' || *h > '9')
			return -1;
		b = strtoll(h, &end, 10);
		if (*end != '\0' || b < a)
			return -1;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

static int
etag_match(const char *inm, const char *etag)
{
	const char *p;
	size_t n = strlen(etag);

	if (inm == NULL)
		return 0;
	if (strcmp(inm, "*") == 0)
		return 1;
	for (p = inm; (p = strstr(p, etag)) != NULL; p += n)
		return 1;
	return 0;
}

void
msp_reply_file(struct msp_req *r, const char *root, const char *path,
    const char *cache)
{
	struct MHD_Response *resp;
	struct stat sb;
	char etag[80], lm[40], cr[96];
	long long off = 0, len;
	const char *ims, *ifr;
	unsigned status = 200;
	int fd, rg;

	/* no symbolic link is followed below root (one planted in a tree
	 * must not serve what it points at) */
	fd = msp_open_beneath(root, path, O_RDONLY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			msp_reply_error(r, 404, "%s: not found", r->url);
		else
			msp_reply_error(r, 403, "%s: not readable", r->url);
		return;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		msp_reply_error(r, 404, "%s: not found", r->url);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"",
	    (unsigned long long)sb.st_ino, (unsigned long long)sb.st_size,
	    (unsigned long long)sb.st_mtime);
	http_date(sb.st_mtime, lm);
	ims = msp_req_header(r, "If-Modified-Since");
	if (etag_match(msp_req_header(r, "If-None-Match"), etag) ||
	    (msp_req_header(r, "If-None-Match") == NULL && ims != NULL &&
	    strcmp(ims, lm) == 0)) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
		if (resp != NULL) {
			MHD_add_response_header(resp, "ETag", etag);
			MHD_add_response_header(resp, "Last-Modified", lm);
			MHD_add_response_header(resp, "Cache-Control", cache);
		}
		msp_reply(r, 304, resp);
		return;
	}
	len = sb.st_size;
	ifr = msp_req_header(r, "If-Range");
	rg = (ifr == NULL || strcmp(ifr, etag) == 0 || strcmp(ifr, lm) == 0) ?
	    parse_range(msp_req_header(r, "Range"), sb.st_size, &off, &len) :
	    0;
	if (rg < 0) {
		close(fd);
		snprintf(cr, sizeof(cr), "bytes */%lld", (long long)sb.st_size);
		resp = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
		if (resp != NULL)
			MHD_add_response_header(resp, "Content-Range", cr);
		msp_reply(r, 416, resp);
		return;
	}
	if (rg > 0) {
		status = 206;
		snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", off,
		    off + len - 1, (long long)sb.st_size);
	}
	/* from the file cache, head and body in one write (fbuf.c); else
	 * MHD owns fd from here and sends it with sendfile */
	resp = strcmp(r->method, "HEAD") != 0 ?
	    msp_fbuf_response(r->h, fd, &sb, (uint64_t)off, (uint64_t)len) :
	    NULL;
	if (resp != NULL)
		close(fd);
	else if ((resp = MHD_create_response_from_fd_at_offset64(
	    (uint64_t)len, fd, (uint64_t)off)) == NULL) {
		close(fd);
		msp_reply(r, 500, NULL);
		return;
	}
	if (strcmp(r->method, "HEAD") != 0)
		r->bytes = (uint64_t)len;
	MHD_add_response_header(resp, "Content-Type",
	    msp_blob_content_type(path));
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	MHD_add_response_header(resp, "ETag", etag);
	MHD_add_response_header(resp, "Last-Modified", lm);
	MHD_add_response_header(resp, "Cache-Control", cache);
	if (status == 206)
		MHD_add_response_header(resp, "Content-Range", cr);
	msp_reply(r, status, resp);
}

/* Objects a backend keeps no local file of: proxied, or, with
 * --media-delivery redirect, a redirect to a presigned URL that lives
 * REDIRECT_TTL s (playlists are always proxied). A proxied answer is
 * streamed: the range asked for is read PULL_CHUNK bytes at a time, each
 * a ranged GET made when the client has taken the bytes before it, so an
 * answer holds at most one chunk in memory however large it is. The
 * first chunk is read before the status is sent: a missing or unreadable
 * object is a clean error; a failure later cuts the connection. */
#define PULL_CHUNK ((int64_t)4 << 20)
#define REDIRECT_TTL 300

struct pull {
	struct msp_blob *b;
	char *key;
	int64_t off, len;  /* the object's range the answer sends */
	char *buf;         /* bytes [at, at + n) of the range */
	size_t n, want;
	int64_t at;
};

static int
pull_add(void *arg, const void *p, size_t n)
{
	struct pull *u = arg;

	if (n > u->want - u->n)
		return -1;
	memcpy(u->buf + u->n, p, n);
	u->n += n;
	return 0;
}

/* Read the chunk of the range that starts at pos. */
static int
pull_fill(struct pull *u, int64_t pos, struct msp_err *e)
{
	int rc;

	u->at = pos;
	u->n = 0;
	u->want = (size_t)(u->len - pos < PULL_CHUNK ? u->len - pos :
	    PULL_CHUNK);
	if ((rc = msp_blob_get(u->b, u->key, u->off + pos, (int64_t)u->want,
	    pull_add, u, e)) != 0)
		return rc;
	if (u->n != u->want)
		return msp_err_set(e, MSP_ENET, "%s: the object changed while "
		    "it was read", u->key);
	return 0;
}

static ssize_t
pull_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct pull *u = cls;
	struct msp_err e;
	size_t k;

	if ((int64_t)pos >= u->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if ((int64_t)pos < u->at || (int64_t)pos >= u->at + (int64_t)u->n) {
		/* too late for a status: the connection is cut */
		if (pull_fill(u, (int64_t)pos, &e) != 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	k = (size_t)(u->at + (int64_t)u->n - (int64_t)pos);
	if (k > max)
		k = max;
	memcpy(out, u->buf + (pos - (uint64_t)u->at), k);
	return (ssize_t)k;
}

static void
pull_free(void *cls)
{
	struct pull *u = cls;

	if (u == NULL)
		return;
	free(u->buf);
	free(u->key);
	free(u);
}

static void
reply_object(struct msp_req *r, struct msp_blob *b, const char *key,
    const char *cache, int playlist)
{
	struct MHD_Response *resp;
	struct msp_blob_stat bs;
	struct pull *u = NULL;
	struct msp_err e;
	char lm[40], cr[96], *url = NULL;
	long long off = 0, len;
	const char *ifr;
	unsigned status = 200;
	int rg, rc;

	if (!playlist && r->h->c.media_redirect) {
		if (msp_blob_url(b, key, REDIRECT_TTL, &url, &e) != 0) {
			msp_reply_err(r, &e);
			return;
		}
		if (url != NULL) {
			resp = MHD_create_response_from_buffer(0, NULL,
			    MHD_RESPMEM_PERSISTENT);
			if (resp != NULL) {
				MHD_add_response_header(resp, "Location", url);
				MHD_add_response_header(resp, "Cache-Control",
				    "no-store");
			}
			free(url);
			msp_reply(r, 302, resp);
			return;
		}
	}
	if ((rc = msp_blob_stat(b, key, &bs, &e)) != 0) {
		if (rc == MSP_ENOTFOUND)
			msp_reply_error(r, 404, "%s: not found", r->url);
		else
			msp_reply_err(r, &e);
		return;
	}
	http_date((time_t)bs.mtime, lm);
	if (etag_match(msp_req_header(r, "If-None-Match"), bs.etag)) {
		resp = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
		if (resp != NULL) {
			MHD_add_response_header(resp, "ETag", bs.etag);
			MHD_add_response_header(resp, "Cache-Control", cache);
		}
		msp_reply(r, 304, resp);
		return;
	}
	len = bs.size;
	ifr = msp_req_header(r, "If-Range");
	rg = (ifr == NULL || strcmp(ifr, bs.etag) == 0) ?
	    parse_range(msp_req_header(r, "Range"), bs.size, &off, &len) : 0;
	if (rg < 0) {
		snprintf(cr, sizeof(cr), "bytes */%lld", (long long)bs.size);
		resp = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
		if (resp != NULL)
			MHD_add_response_header(resp, "Content-Range", cr);
		msp_reply(r, 416, resp);
		return;
	}
	if (rg > 0) {
		status = 206;
		snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", off,
		    off + len - 1, (long long)bs.size);
	}
	if (strcmp(r->method, "HEAD") != 0 && len > 0) {
		if ((u = calloc(1, sizeof(*u))) == NULL ||
		    (u->key = msp_strdup(key)) == NULL ||
		    (u->buf = malloc((size_t)(len < PULL_CHUNK ? len :
		    PULL_CHUNK))) == NULL) {
			pull_free(u);
			msp_reply(r, 500, NULL);
			return;
		}
		u->b = b;
		u->off = off;
		u->len = len;
		if (pull_fill(u, 0, &e) != 0) {
			pull_free(u);
			msp_reply_err(r, &e);
			return;
		}
		r->bytes = (uint64_t)len;
		resp = MHD_create_response_from_callback((uint64_t)len,
		    64 * 1024, pull_read, u, pull_free);
		if (resp == NULL)
			pull_free(u);
	} else {
		resp = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
	}
	if (resp == NULL) {
		msp_reply(r, 500, NULL);
		return;
	}
	MHD_add_response_header(resp, "Content-Type",
	    msp_blob_content_type(key));
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	MHD_add_response_header(resp, "ETag", bs.etag);
	if (bs.mtime > 0)
		MHD_add_response_header(resp, "Last-Modified", lm);
	MHD_add_response_header(resp, "Cache-Control", cache);
	if (status == 206)
		MHD_add_response_header(resp, "Content-Range", cr);
	msp_reply(r, status, resp);
}

/* A relative path a client may ask for: safe (no "..", no absolute, no
 * empty parts) and no hidden names (temporary files start with a dot). */
static int
rel_ok(const char *rel)
{
	const char *p;

	if (!msp_blob_rel_ok(rel) || rel[0] == '.' || strstr(rel, "/.") ||
	    strchr(rel, '\\') != NULL)
		return 0;
	for (p = rel; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* GET /hls/<videoId>[/<token>]/<file> */
void
msp_route_hls(struct msp_req *r)
{
	struct msp_store *st = r->h->st;
	struct msp_blob *b;
	const char *rest = r->rest, *slash, *rel;
	char vid[MSP_ID_LEN + 1], *tok = NULL, *hrel = NULL;
	const char *root;
	json_object *v = NULL, *x;
	struct msp_err e;
	MDB_txn *t;
	int premium = 0, rc;

	slash = strchr(rest, '/');
	if (slash == NULL || slash - rest != MSP_ID_LEN) {
		msp_reply_error(r, 404, "%s: not found", r->url);
		return;
	}
	memcpy(vid, rest, MSP_ID_LEN);
	vid[MSP_ID_LEN] = '\0';
	rel = slash + 1;
	if (!msp_id_valid(vid)) {
		msp_reply_error(r, 404, "%s: not found", r->url);
		return;
	}
	slash = strchr(rel, '/');
	if (slash != NULL) {
		tok = msp_sprintf("%.*s", (int)(slash - rel), rel);
		if (tok == NULL) {
			msp_reply(r, 500, NULL);
			return;
		}
		if (msp_auth_url_is_token(tok))
			rel = slash + 1;
		else {
			free(tok);
			tok = NULL;
		}
	}
	if (!rel_ok(rel)) {
		msp_reply_error(r, 400, "path: not a file inside the video");
		goto out;
	}
	if ((rc = msp_txn_begin(st, 0, &t, &e)) != 0) {
		msp_reply_err(r, &e);
		goto out;
	}
	rc = msp_video_get(st, t, vid, &v, &e);
	msp_txn_abort(st, t);
	if (rc == MSP_ENOTFOUND || (rc == 0 && !msp_video_visible(v))) {
		msp_reply_error(r, 404, "%s: not found", r->url);
		goto out;
	}
	if (rc != 0) {
		msp_reply_err(r, &e);
		goto out;
	}
	if (json_object_object_get_ex(v, "isPremium", &x))
		premium = json_object_get_boolean(x);
	/* a premium video's poster is public: the catalogue shows it */
	if (premium && strcmp(rel, "poster.jpg") != 0) {
		if (tok == NULL) {
			msp_reply_error(r, 403, "premium video: a signed URL "
			    "is required");
			goto out;
		}
		if (msp_auth_url_verify(&r->h->url_key, vid, tok, &e) != 0) {
			msp_reply_err(r, &e);
			goto out;
		}
	}
	if ((hrel = msp_sprintf("media/hls/%s/%s", vid, rel)) == NULL) {
		msp_reply(r, 500, NULL);
		goto out;
	}
	if (msp_blob_store(st, &b, &e) != 0) {
		msp_reply_err(r, &e);
		goto out;
	}
	{
		size_t n = strlen(rel);
		int playlist = (n > 5 && strcmp(rel + n - 5, ".m3u8") == 0) ||
		    (n > 4 && strcmp(rel + n - 4, ".mpd") == 0);
		const char *cache = playlist ? "no-cache" : premium ?
		    "private, max-age=31536000, immutable" :
		    "public, max-age=31536000, immutable";
		/* no symbolic link is followed below the media root */
		if ((root = msp_blob_root(b)) != NULL)
			msp_reply_file(r, root, hrel, cache);
		else
			reply_object(r, b, hrel, cache, playlist);
	}
out:
	json_object_put(v);
	free(hrel);
	free(tok);
}
