/* blob: media files under the store (originals, HLS output), written under
 * a temporary name and renamed into place. Paths in records are relative to
 * the store directory. */
#ifndef MSP_BLOB_H
#define MSP_BLOB_H

#include <stddef.h>

#include "err.h"
#include "store.h"

/* Absolute (or store-relative-joined) path of rel inside the store;
 * malloc'd. rel must not contain ".." components or start with '/'. */
int msp_blob_path(struct msp_store *st, const char *rel, char **out,
    struct msp_err *e);
/* 1 when rel is a safe relative path (no "..", no leading '/', no NUL,
 * no empty components). */
int msp_blob_rel_ok(const char *rel);
/* Write data to rel atomically (temp file, fsync, rename, fsync dir). */
int msp_blob_write(struct msp_store *st, const char *rel, const void *data,
    size_t len, struct msp_err *e);
/* Write data to the file tmp (fsync'd when sync), then rename it to dst;
 * on failure tmp is removed and dst is untouched. */
int msp_file_replace(const char *tmp, const char *dst, const void *data,
    size_t len, int sync, struct msp_err *e);
/* Rename the file or directory at abs path tmp to rel, creating parents. */
int msp_blob_publish(struct msp_store *st, const char *tmp, const char *rel,
    struct msp_err *e);
/* Remove rel (a file or a whole directory tree); absent is fine. */
int msp_blob_remove(struct msp_store *st, const char *rel, struct msp_err *e);
/* The same two for a media directory base that is not a store's (a
 * worker's); rel is relative to base. */
int msp_blob_dir_publish(const char *base, const char *tmp, const char *rel,
    struct msp_err *e);
int msp_blob_dir_remove(const char *base, const char *rel, struct msp_err *e);
/* Remove what crashed writers left in the temporary directory dir: the
 * regular files not modified for age seconds that nobody holds an flock
 * on (a writer locks its temporary file until it is renamed or removed).
 * A missing dir is fine. */
int msp_blob_sweep(const char *dir, long age, struct msp_err *e);
/* fsync a directory. */
int msp_blob_sync_dir(const char *dir, struct msp_err *e);

#endif
