/* s3: a client for S3-compatible object storage (AWS S3, Ceph RGW, MinIO,
 * Garage, SeaweedFS, R2 ...) on libcurl, signed with AWS Signature V4.
 * Only what the S3 API documents is relied on; every answer is untrusted.
 * lib/blob's bucket backend is its only user above the tests. */
#ifndef MSP_S3_H
#define MSP_S3_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

/* Where a bucket is and how to reach it. Strings are owned by the conf
 * (msp_s3_conf_free). Secrets are never printed, logged or put in an
 * error text. */
struct msp_s3_conf {
	char *endpoint;      /* "http(s)://host[:port]", no path */
	char *bucket;
	char *prefix;        /* key prefix ("" or "a/b/", ends with '/') */
	char *region;        /* default "us-east-1" */
	int path_style;      /* 1: endpoint/bucket/key; 0: bucket.host/key */
	char *access_key;
	char *secret_key;
	char *session_token; /* NULL when none */
	long timeout;        /* seconds for one request (default 60) */
	int retries;         /* attempts after the first (default 4) */
	size_t part_size;    /* multipart part size (default 16 MiB, >= 5 MiB) */
	int parallel;        /* parts in flight at once (default 4) */
	int64_t copy_size;   /* server-side copies of larger objects go in
	                      * parts of this size (default and most 5 GiB,
	                      * S3's CopyObject limit; least 5 MiB) */
	int page_size;       /* keys asked for per list request (0: the
	                      * server's default, 1000 on S3) */
};

void msp_s3_conf_init(struct msp_s3_conf *c);
void msp_s3_conf_free(struct msp_s3_conf *c);
/* Fill c from the file at path (key = value lines; see msp-store(5)),
 * refused when group or others can read it, then from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION and
 * AWS_ENDPOINT_URL for what the file leaves unset. path may be NULL. */
int msp_s3_conf_load(struct msp_s3_conf *c, const char *path,
    struct msp_err *e);

/* A client may be used by several threads at once (each request takes
 * one of its kept libcurl handles); an msp_s3_upload belongs to one
 * thread. */
struct msp_s3;

int msp_s3_open(struct msp_s3 **sp, const struct msp_s3_conf *c,
    struct msp_err *e);
void msp_s3_close(struct msp_s3 *s);
/* One cheap signed request (a one-key listing under the prefix): 0 when
 * the endpoint is S3, the bucket exists and the keys and region are
 * right; else the clear error ("bucket 'x': NoSuchBucket: ...", "wrong
 * secret", "is in region ...", "not an S3 server"). msp_s3_open sends
 * nothing. */
int msp_s3_check(struct msp_s3 *s, struct msp_err *e);

/* Object metadata set on upload. */
struct msp_s3_put_opts {
	const char *content_type;  /* NULL: application/octet-stream */
	const char *cache_control; /* NULL: none */
};

/* PUT a whole object from memory (one request, retried). */
int msp_s3_put(struct msp_s3 *s, const char *key, const void *data,
    size_t len, const struct msp_s3_put_opts *o, struct msp_err *e);
/* PUT the file at path: one request when small, a multipart upload with
 * parts in parallel, each retried, when larger than part_size; a failed
 * multipart upload is aborted. */
int msp_s3_put_file(struct msp_s3 *s, const char *key, const char *path,
    const struct msp_s3_put_opts *o, struct msp_err *e);

/* A streamed upload of unknown length: bytes are buffered to part_size and
 * sent as multipart parts in parallel; finish completes it (a single PUT
 * when it stayed under one part); abort (or a failed write or finish)
 * aborts the multipart upload on the server. */
struct msp_s3_upload;
int msp_s3_upload_begin(struct msp_s3 *s, const char *key,
    const struct msp_s3_put_opts *o, struct msp_s3_upload **up,
    struct msp_err *e);
int msp_s3_upload_write(struct msp_s3_upload *up, const void *data,
    size_t len, struct msp_err *e);
int msp_s3_upload_finish(struct msp_s3_upload *up, struct msp_err *e);
void msp_s3_upload_abort(struct msp_s3_upload *up);

/* Copy the object src to dst on the server (CopyObject; a multipart
 * upload of UploadPartCopy ranges when size is above copy_size), with o's
 * metadata; src stays. size is src's (HEAD it when unknown). */
int msp_s3_copy(struct msp_s3 *s, const char *src, const char *dst,
    int64_t size, const struct msp_s3_put_opts *o, struct msp_err *e);

/* HEAD: MSP_ENOTFOUND when the object is missing. etag may be NULL; else
 * *etag is malloc'd (without quotes). */
int msp_s3_head(struct msp_s3 *s, const char *key, int64_t *size,
    char **etag, struct msp_err *e);
/* GET bytes [off, off+len) (len < 0: to the end) into fn, called with each
 * chunk; fn returns 0 to go on, anything else stops the GET, which then
 * returns it (or MSP_EIO when it is positive). A retried GET resumes
 * where it stopped, asking for the same ETag; an object shorter than
 * off+len gives what it has. */
int msp_s3_get(struct msp_s3 *s, const char *key, int64_t off, int64_t len,
    int (*fn)(void *arg, const void *p, size_t n), void *arg,
    struct msp_err *e);
/* GET the whole object into the file at path (written under a temporary
 * name and renamed). */
int msp_s3_get_file(struct msp_s3 *s, const char *key, const char *path,
    struct msp_err *e);
/* DELETE one object; a missing object is fine. */
int msp_s3_delete(struct msp_s3 *s, const char *key, struct msp_err *e);
/* Every object under prefix (ListObjectsV2, paged), in key order; fn
 * returns 0 to go on. Keys are given without the conf's prefix. */
int msp_s3_list(struct msp_s3 *s, const char *prefix,
    int (*fn)(void *arg, const char *key, int64_t size, const char *etag),
    void *arg, struct msp_err *e);
/* Every unfinished multipart upload under prefix (ListMultipartUploads). */
int msp_s3_list_uploads(struct msp_s3 *s, const char *prefix,
    int (*fn)(void *arg, const char *key, const char *upload_id),
    void *arg, struct msp_err *e);
/* Abort one multipart upload. */
int msp_s3_abort_upload(struct msp_s3 *s, const char *key,
    const char *upload_id, struct msp_err *e);
/* A presigned URL for method ("GET", "HEAD", "PUT") on key, valid for
 * expires seconds (1 .. 604800); malloc'd. */
int msp_s3_presign(struct msp_s3 *s, const char *method, const char *key,
    long expires, char **url, struct msp_err *e);
/* The same, signed as at time when (for known-answer tests). */
int msp_s3_presign_at(struct msp_s3 *s, const char *method,
    const char *key, long expires, time_t when, char **url,
    struct msp_err *e);

/* The SigV4 building blocks, exposed for the known-answer unit tests.
 * headers: "name:value" strings, n of them, in any order and case.
 * Returns the malloc'd canonical request, string to sign or the
 * Authorization header's value. */
char *msp_s3_canonical_request(const char *method, const char *path,
    const char *query, const char *const *headers, size_t n,
    const char *payload_hash);
char *msp_s3_string_to_sign(const char *amzdate, const char *region,
    const char *service, const char *canonical_request);
char *msp_s3_authorization(const char *access_key, const char *secret_key,
    const char *amzdate, const char *region, const char *service,
    const char *method, const char *path, const char *query,
    const char *const *headers, size_t n, const char *payload_hash);

#endif
