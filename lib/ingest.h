/*
 * ingest: an upload becomes an original in the store, a video record with
 * status "uploaded" and a queued transcode job (msp-ingest(1), and the
 * upload routes of msp-serve).
 *
 * The bytes are copied into a temporary file inside the store while they
 * are hashed (BLAKE2b-256, libsodium), then probed and validated with
 * lib/media. An accepted file is linked into place as
 * media/originals/<hash>.<ext> (identical content is stored once), and
 * then the video record and its job are added in one write transaction.
 * A refused upload leaves nothing behind: no record and no file.
 */
#ifndef MSP_INGEST_H
#define MSP_INGEST_H

#include <stddef.h>
#include <stdint.h>
#include <json.h>

#include "err.h"
#include "media.h"
#include "store.h"

#define MSP_ORIGINALS "media/originals" /* under the store */

/* An upload being received. */
struct msp_ingest;

/*
 * Start receiving an upload: into a temporary file in the store, or on a
 * bucket into a temporary object, streamed as it comes. name is
 * what the upload is called in messages and where the extension of the
 * stored original comes from (the client's file name, a path, a URL).
 * max_size: bytes, 0 for MSP_MEDIA_MAX_SIZE.
 */
int msp_ingest_begin(struct msp_store *st, const char *name,
    int64_t max_size, struct msp_ingest **ip, struct msp_err *e);
/* Append bytes; MSP_EMEDIA once they exceed the size limit. */
int msp_ingest_write(struct msp_ingest *in, const void *p, size_t n,
    struct msp_err *e);
/* Give up: the temporary file is removed. NULL is fine. */
void msp_ingest_abort(struct msp_ingest *in);
/*
 * Probe, validate, store and register the upload; in is consumed whatever
 * the outcome. meta holds the video's fields as msp_video_add takes them
 * (videoType, name, title, about, language, genres, isPremium,
 * uploadedBy; the caller keeps it). Fields that only ingest may set
 * (sourceBucketFilePath, destinationVideoDetails, status and the like)
 * are replaced. *out (may be NULL) gets the job line: the job record with
 * "input" and "video" (the probe facts) added; the caller puts it.
 */
int msp_ingest_finish(struct msp_store *st, struct msp_ingest *in,
    json_object *meta, json_object **out, struct msp_err *e);

/* The whole of it for the local file at path, called name (NULL: path)
 * in messages and for its extension. On a bucket the file is probed and
 * hashed where it is, then uploaded from itself (nothing is spooled). */
int msp_ingest_path(struct msp_store *st, const char *path, const char *name,
    json_object *meta, int64_t max_size, json_object **out,
    struct msp_err *e);

/* The whole of it for a path or an http(s) URL. */
int msp_ingest_file(struct msp_store *st, const char *src, json_object *meta,
    int64_t max_size, json_object **out, struct msp_err *e);

/*
 * Probe and check only, touching no store (msp-ingest --dry-run):
 * video_type may be NULL. *out gets {"type":"probe","v":1,"input",
 * "videoType","video":{facts}}.
 */
int msp_ingest_probe(const char *src, const char *video_type,
    int64_t max_size, json_object **out, struct msp_err *e);

#endif
