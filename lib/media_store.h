/* media_store: a store's records against its media (msp-catalog check
 * --media), and moving a store's media between its directory and a
 * bucket (msp-catalog media-move). */
#ifndef MSP_MEDIA_STORE_H
#define MSP_MEDIA_STORE_H

#include <stdint.h>

#include "blob.h"
#include "catalog.h"
#include "err.h"
#include "store.h"

/* Report each object a video record names that the media lacks
 * ("video ID: KEY: missing") and each object under media/ that no record
 * names ("KEY: named by no video"). Returns the number of reports, or a
 * negative code. */
int msp_media_check_store(struct msp_store *st, struct msp_blob *b,
    msp_report_fn fn, void *arg, struct msp_err *e);

struct msp_media_move {
	long objects;  /* in all */
	long copied;   /* sent this run (the others were there, verified) */
	int64_t bytes; /* sent this run */
};

/*
 * Move the media of st to a bucket (conf: a bucket file, which becomes
 * STORE/media.conf) or, with conf NULL, from its bucket back to the store
 * directory. Every object is copied and read back, its size and BLAKE2b
 * checked against the source's; only then does the store switch (installs
 * or retires media.conf), and then the source objects are removed. A run
 * that stopped anywhere is resumed by running it again: objects already at
 * the destination with the same bytes are not sent again. Writers
 * (msp-ingest, msp-transcode, msp-serve) must not run meanwhile.
 */
int msp_media_move(struct msp_store *st, const char *conf,
    struct msp_media_move *m, struct msp_err *e);

#endif
