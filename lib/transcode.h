/* transcode: one media file into adaptive-bitrate HLS, in-process with the
 * FFmpeg libraries; and the store side (a video record and its job). See
 * msp-transcode(1).
 *
 * The engine decodes (and rotates) the video once; each rung scales it,
 * from the source or from a rung exactly twice its size, and encodes it
 * with libx264 and muxes it in its own thread. Audio is decoded and encoded once (AAC-LC, 128 kb/s) in
 * another thread, and the same AAC packets are muxed into every variant, so
 * each variant plays on its own. Keyframes are forced on a fixed grid of
 * segment boundaries (closed GOPs, no scene-cut keyframes), so segment i
 * starts at the same timestamp in every rung. The first segment is 1 s
 * long (when the segment length is more), so that a player can start
 * early; the grid runs on from there: 1, 1 + S, 1 + 2S ... seconds.
 * The largest rung gets x264's own thread count, the others a share in
 * proportion to their pixels; the decoder, running beside them, few. */
#ifndef MSP_TRANSCODE_H
#define MSP_TRANSCODE_H

#include <json.h>

#include "blob.h"
#include "err.h"
#include "hls.h"
#include "store.h"

enum msp_tc_format { MSP_TC_FMP4, MSP_TC_TS };

struct msp_tc_progress {
	double percent;  /* 0..100 */
	double fps;      /* video frames encoded per second (slowest rung) */
	double speed;    /* media seconds per wall second */
	double elapsed;  /* seconds since the start */
	int playable;    /* 1 once master and a first segment of every rung
			  * are published */
};

/* A chunk's timestamps are the whole video's plus this, written as they
 * are (no shift to zero per chunk): more than any encoder delay, so no
 * decode time is negative, and the same in every chunk. */
#define MSP_TC_CHUNK_OFFSET_MS 500

struct msp_tc_opts {
	struct msp_ladder ladder;
	enum msp_tc_format format;
	double segment;      /* seconds, default 4 */
	const char *preset;  /* x264 preset, default "veryfast" */
	/* A chunk of a long video (see dispatch.h): only the source's
	 * [start, end) seconds (end 0: to its end), start on the segment
	 * grid; segments numbered from first_seg; timestamps kept as in the
	 * whole video, so that chunks run on from one another. A chunk
	 * writes no playlists and no sprite (a poster only from first_seg
	 * 0); its details list each rung's segments. */
	int chunked;
	double start, end;
	int first_seg;
	/* Called from the calling thread about once a second and when the
	 * output first becomes playable; a non-zero return stops the work. */
	int (*progress)(const struct msp_tc_progress *p, void *arg);
	void *arg;
};

/* Defaults: the default ladder, fMP4, 4 s, veryfast. */
void msp_tc_opts_init(struct msp_tc_opts *o);

/*
 * Transcode the file at in into media b under the key prefix ("" or
 * "media/hls/ID"; existing objects are replaced). Each segment is published
 * when complete, each playlist after the segments it names: playlists
 * appear as EVENT playlists as soon as every rung has a segment, and are
 * rewritten as VOD with ENDLIST at the end. *details (caller puts) gets the ladder and
 * facts for destinationVideoDetails. MSP_EMEDIA for input that cannot be
 * used; MSP_EAGAIN when stopped (msp_stop_requested or progress).
 */
int msp_transcode_file(const char *in, struct msp_blob *b, const char *prefix,
    const struct msp_tc_opts *o, json_object **details, struct msp_err *e);

/*
 * Transcode video id of the store: status processing (with progress, at
 * most once a second) then ready with destinationBucketFilePath
 * ["media/hls/<id>/master.m3u8"] and destinationVideoDetails, or failed with
 * the error. Output goes to media/hls/<id>/ (a stale one from a killed run
 * is removed first), temp files to media/tmp/. job_id (may be NULL) is the
 * job worker claimed: its lease is renewed while working and it is finished
 * in the same transaction as the record. *out (may be NULL; caller puts)
 * gets the final record. A stopped run (MSP_EAGAIN) is not a failure: its
 * output is removed, the record goes back to uploaded and the job back to
 * the queue, in one transaction, for the next worker to claim.
 */
int msp_transcode_video(struct msp_store *st, const char *id,
    const char *job_id, const char *worker, const struct msp_tc_opts *o,
    json_object **out, struct msp_err *e);

/*
 * The record changes that make a video ready: status, progress 100,
 * destinationBucketFilePath [rel "/master.m3u8"] and
 * destinationVideoDetails (video's, with "hls" set to det, whose file
 * names get rel prefixed). det is taken; *changes (caller puts).
 */
int msp_tc_ready_changes(json_object *video, json_object *det,
    const char *rel, json_object **changes, struct msp_err *e);

#endif
