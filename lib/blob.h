/* blob: the media backend. Originals and HLS output are objects named by
 * keys ("media/originals/<hash>.mp4", "media/hls/<id>/720p/seg00001.m4s"),
 * the same keys the store's records hold, kept either
 *   - files: in a directory (a store's own directory by default), each
 *     object a file written under a temporary name and renamed into place;
 *   - bucket: in an S3-compatible bucket (lib/s3), under a key prefix.
 * A store's backend is chosen by its media.conf (see msp-store(5)); a
 * worker without a store opens one from a directory or a bucket file.
 * Nothing above this module knows which backend it has: it asks for
 * bytes, a local file, a URL or a listing, and the backend answers. */
#ifndef MSP_BLOB_H
#define MSP_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

#define MSP_BLOB_CONF "media.conf" /* in the store directory */

struct msp_blob;

/* Open the media of store st: its media.conf when there is one (a bucket;
 * the file is refused when group or others can read it), else the store
 * directory itself. The handle is the store's: opened on the first call,
 * shared by every thread, closed with the store; later calls return it.
 * A bucket is checked once (one listing request) when opened, so a wrong
 * endpoint, bucket, region or secret fails here, before anything changes. */
int msp_blob_store(struct msp_store *st, struct msp_blob **bp,
    struct msp_err *e);
/* Open media without a store (transcode workers, msp-transcode -o):
 * where is a directory (files backend; created when missing) or a bucket
 * file in media.conf's format (bucket backend). tmpdir holds local
 * temporary files (NULL: where/.msp-tmp for a directory, /tmp for a
 * bucket). The caller closes it. */
int msp_blob_open(struct msp_blob **bp, const char *where, const char *tmpdir,
    struct msp_err *e);
void msp_blob_close(struct msp_blob *b);
/* One cheap request that fails on a wrong endpoint, bucket, region or
 * secret with a clear message (a directory: nothing to check). */
int msp_blob_check(struct msp_blob *b, struct msp_err *e);
/* What the media is, for messages: a directory path or "s3://bucket/prefix"
 * (never a secret). */
const char *msp_blob_where(const struct msp_blob *b);

/* Flags */
#define MSP_BLOB_LIVE 0x1 /* a playlist that is still rewritten: no-cache,
			   * not synced (the next version follows) */
#define MSP_BLOB_LAZY 0x2 /* not synced now: msp_blob_sync() does it */
#define MSP_BLOB_KEEP 0x4 /* publish: an existing object of that key is
			   * kept (content-addressed keys: same bytes) */

/* Write an object whole (replacing one of that key). */
int msp_blob_put(struct msp_blob *b, const char *key, const void *data,
    size_t len, int flags, struct msp_err *e);
/* Write the local file at path as an object (a bucket: a multipart upload
 * with parts in parallel when large). *created (may be NULL) is 1 when the
 * object is new, 0 when MSP_BLOB_KEEP kept an existing one. */
int msp_blob_put_file(struct msp_blob *b, const char *key, const char *path,
    int flags, int *created, struct msp_err *e);
/* Rename the object from to to (a bucket: a server-side copy, then from
 * is deleted); with MSP_BLOB_KEEP an existing object to of the same size
 * is kept and from only removed. On failure to is as it was. *created
 * as for msp_blob_put_file. */
int msp_blob_move(struct msp_blob *b, const char *from, const char *to,
    int flags, int *created, struct msp_err *e);

struct msp_blob_stat {
	int64_t size;
	int64_t mtime;     /* seconds since the epoch; 0 when unknown */
	char etag[80];     /* quoted, for HTTP */
};
/* MSP_ENOTFOUND when key is no object. */
int msp_blob_stat(struct msp_blob *b, const char *key,
    struct msp_blob_stat *s, struct msp_err *e);
/* Bytes [off, off + len) of key (len < 0: to the end) to fn, in order, in
 * chunks; fn returns 0 to go on. */
int msp_blob_get(struct msp_blob *b, const char *key, int64_t off,
    int64_t len, int (*fn)(void *arg, const void *p, size_t n), void *arg,
    struct msp_err *e);
/* Every object whose key starts with prefix ("media/hls/" or ""), in key
 * order; temporary files are not objects. fn returns 0 to go on. */
int msp_blob_list(struct msp_blob *b, const char *prefix,
    int (*fn)(void *arg, const char *key, int64_t size), void *arg,
    struct msp_err *e);
/* Remove the object key and every object under key/ ; none is fine. */
int msp_blob_remove(struct msp_blob *b, const char *key, struct msp_err *e);
/* Make what was written under prefix with MSP_BLOB_LAZY durable. */
int msp_blob_sync(struct msp_blob *b, const char *prefix, struct msp_err *e);

/* An object being written. With a key, its bytes may go out while they
 * come (a bucket: a streamed upload); without one, they are kept in a
 * local temporary file (msp_blob_writer_path, for probing) until publish
 * names them. Nothing is visible under the key before publish returns 0;
 * a failed publish or an abort leaves nothing (an upload is aborted). */
struct msp_blob_writer;
int msp_blob_writer_open(struct msp_blob *b, const char *key, int flags,
    struct msp_blob_writer **wp, struct msp_err *e);
int msp_blob_writer_write(struct msp_blob_writer *w, const void *p, size_t n,
    struct msp_err *e);
/* The local file holding the bytes of a writer opened without a key. */
const char *msp_blob_writer_path(const struct msp_blob_writer *w);
int64_t msp_blob_writer_size(const struct msp_blob_writer *w);
/* Make the bytes the object key (NULL: the key given to open); w is freed
 * whatever the outcome. *created as for msp_blob_put_file. */
int msp_blob_writer_publish(struct msp_blob_writer *w, const char *key,
    int flags, int *created, struct msp_err *e);
/* Give up; NULL is fine. */
void msp_blob_writer_abort(struct msp_blob_writer *w);

/* A local file holding object key, for readers that need one (the FFmpeg
 * demuxers): the object's own file, or a temporary copy that
 * msp_blob_fetch_done removes. *path is malloc'd; done frees it. */
int msp_blob_fetch(struct msp_blob *b, const char *key, char **path,
    struct msp_err *e);
void msp_blob_fetch_done(struct msp_blob *b, char *path);
/* The object's own local file (*path malloc'd), or *path NULL when the
 * backend keeps no local files. */
int msp_blob_local(struct msp_blob *b, const char *key, char **path,
    struct msp_err *e);
/* The local directory whose files are the objects (key = file path
 * relative to it), or NULL when the backend keeps no local files. */
const char *msp_blob_root(const struct msp_blob *b);
/* A URL a client can GET key from for expires seconds (a presigned URL),
 * or *url NULL when the backend has none. */
int msp_blob_url(struct msp_blob *b, const char *key, long expires,
    char **url, struct msp_err *e);

/* Temporary objects (a bucket's streamed ingests): a new key
 * "media/tmp/<seconds>-<id>" (*key malloc'd), and the sweep that aborts
 * the unfinished uploads and deletes the objects of such keys older than
 * MSP_BLOB_STAGE_AGE (a crashed writer's); it runs at most once an hour
 * per handle, and does nothing for a directory. */
#define MSP_BLOB_STAGE "media/tmp/"
#define MSP_BLOB_STAGE_AGE 86400
int msp_blob_stage_key(char **key, struct msp_err *e);
int msp_blob_stage_sweep(struct msp_blob *b, struct msp_err *e);

/* The Content-Type and Cache-Control an object gets, by its key. */
const char *msp_blob_content_type(const char *key);
const char *msp_blob_cache_control(const char *key, int flags);

/* 1 when key is safe: relative, no "..", "." or empty components, no
 * leading '/'. */
int msp_blob_rel_ok(const char *rel);

/* File helpers the backends and a few callers share. */
/* Write data to the file tmp (fsync'd when sync), then rename it to dst;
 * on failure tmp is removed and dst is untouched. */
int msp_file_replace(const char *tmp, const char *dst, const void *data,
    size_t len, int sync, struct msp_err *e);
/* Remove what crashed writers left in the temporary directory dir: the
 * regular files not modified for age seconds that nobody holds an flock
 * on (a writer locks its temporary file until it is renamed or removed).
 * A missing dir is fine. */
int msp_blob_sweep(const char *dir, long age, struct msp_err *e);
/* fsync a directory. */
int msp_blob_sync_dir(const char *dir, struct msp_err *e);

#endif
