/*
 * upload: resumable uploads (the state behind msp-serve's tus 1.0 routes).
 *
 * An upload is two files under media/uploads/ in the store:
 *   <id>.info  JSON written once, atomically, at creation: owner, length,
 *              the video's metadata, createdAt, expiresAt (ms);
 *   <id>.data  the bytes received so far, appended under an flock and
 *              fsync'd before an offset is acknowledged.
 * The offset is the size of <id>.data, so a restart resumes at the last
 * acknowledged byte (and any later bytes that reached the disk). The last
 * byte ingests the file as an upload route does (lib/ingest) and the
 * upload is then replaced by <id>.done (the video's id) until it expires.
 * Until that marker is written a complete upload reports one byte less,
 * so that a client whose last PATCH went unanswered sends it again. The
 * video's id is chosen, and written into <id>.info, before the ingest
 * commits it: an ingest that a crash cut off from its marker is found by
 * that id when the last byte comes again, and not made twice.
 * Expired uploads are removed by msp_upload_sweep and when next asked for.
 */
#ifndef MSP_UPLOAD_H
#define MSP_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <json.h>
#include <openssl/evp.h>

#include "err.h"
#include "store.h"

#define MSP_UPLOADS "media/uploads" /* under the store */
#define MSP_UPLOAD_GONE 1           /* msp_upload_get: it expired */
#define MSP_UPLOAD_MISMATCH 2       /* msp_upload_end: checksum differs */

/* checksums of a PATCH body (tus's checksum extension) */
#define MSP_UPLOAD_SHA1 1
#define MSP_UPLOAD_SHA256 2

struct msp_upload {
	struct msp_store *st;
	char id[32];
	char *owner;
	int64_t length;      /* bytes in all */
	int64_t offset;      /* bytes received (reported) */
	int64_t expires_ms;
	json_object *meta;   /* the video's fields; "filename" */
	char *video;         /* the video's id once ingested, or NULL */
	char *planned;       /* the id its ingest uses (written before it) */
	char *dir;           /* absolute: <store>/media/uploads */
	int fd;              /* the data file while appending, else -1 */
	int64_t start;       /* offset when this append began */
	int sum;             /* the checksum asked for: 0, MSP_UPLOAD_SHA* */
	EVP_MD_CTX *md;
};

/* Create an upload of length bytes (1 to max) for owner, expiring in
 * ttl seconds. meta: the video's fields (videoType "short" or "long",
 * name, title ... as the upload routes take them) and "filename"; kept
 * by the caller. MSP_EAGAIN when owner already has quota unfinished
 * uploads; MSP_EINVAL for a bad length or videoType. */
int msp_upload_create(struct msp_store *st, const char *owner,
    int64_t length, int64_t max, json_object *meta, long ttl, long quota,
    struct msp_upload **out, struct msp_err *e);
/* The upload id of owner: MSP_ENOTFOUND when there is none (or it is
 * someone else's), MSP_UPLOAD_GONE when it expired (it is removed). */
int msp_upload_get(struct msp_store *st, const char *id, const char *owner,
    struct msp_upload **out, struct msp_err *e);
/* Start appending at offset: MSP_EEXIST when offset is not the upload's,
 * MSP_EAGAIN when another append is in progress. sum: 0, or the checksum
 * (MSP_UPLOAD_SHA1, MSP_UPLOAD_SHA256) of the bytes checked at the end. */
int msp_upload_begin(struct msp_upload *u, int64_t offset, int sum,
    struct msp_err *e);
/* Append; MSP_EINVAL past the upload's length. */
int msp_upload_write(struct msp_upload *u, const void *p, size_t n,
    struct msp_err *e);
/* End the append: with want (the digest of the checksum begun with: 20
 * bytes for SHA-1, 32 for SHA-256) the appended bytes' checksum must
 * match, else they are dropped and MSP_UPLOAD_MISMATCH returned; then the
 * bytes are made durable and u->offset is the new offset. */
int msp_upload_end(struct msp_upload *u, const unsigned char *want,
    struct msp_err *e);
/* The connection was cut during an append: keep what arrived (nothing
 * when a checksum was asked for) and end it. */
void msp_upload_cut(struct msp_upload *u);
/* A complete upload: ingest it (lib/ingest, as the upload routes do;
 * uploadedBy is the owner) under the id written into its info first.
 * *job (may be NULL) gets the job line. The upload's files are then
 * replaced by the marker; u->video is set. When the video of that id is
 * already there (an earlier finish that a crash stopped before its
 * marker, or a concurrent one), only the marker is written and *job stays
 * NULL. On a refusal the upload is removed. */
int msp_upload_finish(struct msp_upload *u, json_object **job,
    struct msp_err *e);
/* Remove an upload (termination). */
int msp_upload_remove(struct msp_upload *u, struct msp_err *e);
/* Remove the expired uploads and markers, and data files without an
 * info file (a removal a crash cut short); *n (may be NULL) gets the
 * number of uploads removed. */
int msp_upload_sweep(struct msp_store *st, int64_t now_ms, long *n,
    struct msp_err *e);
void msp_upload_free(struct msp_upload *u);

#endif
