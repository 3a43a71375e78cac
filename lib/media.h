/*
 * media: probing and validating uploaded media with the FFmpeg libraries.
 *
 * Inputs are read under a protocol whitelist (file for paths; http, https,
 * tcp and tls for http:// and https:// URLs). The container format is
 * guessed from the bytes, and any demuxer that reads only the input's own
 * bytes is run: it gets the input as an AVIOContext of ours, no protocol
 * at all, and an io_open callback that refuses every further open. A
 * demuxer that tries to open another file, a URL or a device (HLS, DASH,
 * concat scripts, VobSub indexes, SDP ...) is refused for it; one that
 * runs scripts (AviSynth, VapourSynth) or opens devices itself
 * (AVFMT_NOFILE) is never started. MOV data references stay disabled.
 *
 * Nothing here writes to the store; lib/ingest.c does.
 */
#ifndef MSP_MEDIA_H
#define MSP_MEDIA_H

#include <stddef.h>
#include <stdint.h>
#include <json.h>

#include "err.h"

#define MSP_MEDIA_MAX_SIZE ((int64_t)4 << 30) /* default size limit, bytes */
/* default limits (msp-ingest(1), LIMITS) */
#define MSP_MEDIA_MAX_LONG 7680  /* longer side, pixels */
#define MSP_MEDIA_MAX_SHORT 4320 /* shorter side, pixels */
#define MSP_MEDIA_MAX_PIXELS ((int64_t)MSP_MEDIA_MAX_LONG * MSP_MEDIA_MAX_SHORT)
#define MSP_MEDIA_MAX_FPS 240
#define MSP_MEDIA_MAX_DURATION 43200.0 /* seconds: 12 hours */
#define MSP_MEDIA_MAX_STREAMS 64
#define MSP_SHORT_MIN_S 3.0      /* short videos: 3 to 30 seconds */
#define MSP_SHORT_MAX_S 30.0
#define MSP_LONG_MIN_S 1.0       /* long videos: at least 1 second */

/* The facts msp reports about a file (msp-ingest(1), "video" field). */
struct msp_media_info {
	char container[24];   /* demuxer: "mov", "matroska", "mpegts" ... */
	char ext[16];         /* extension for the stored original: "mp4" */
	double duration;      /* seconds */
	int64_t size;         /* bytes; -1 when unknown (a streamed URL) */
	int64_t bit_rate;     /* bits per second; 0 when unknown */
	int has_video;
	char vcodec[32];      /* "h264", "hevc", "vp9" ... */
	int width, height;    /* coded picture size */
	double fps;           /* average frame rate */
	char pix_fmt[32];     /* "yuv420p" ... */
	int interlaced;
	char field_order[16]; /* "progressive", "tt", "bb", "tb", "bt",
	                         "unknown" */
	int rotation;         /* clockwise display rotation: 0, 90, 180, 270 */
	char color_trc[32];   /* transfer characteristic: "bt709" ... */
	int hdr;              /* 1 for smpte2084 (PQ) or arib-std-b67 (HLG) */
	int has_audio;
	char acodec[32];
	int channels;
	int sample_rate;
};

/* What msp_media_probe accepts. width and height bound the picture in
 * either orientation (the longer side by width, the shorter by height). */
struct msp_media_limits {
	int width;
	int height;
	int64_t pixels;    /* width times height of the picture */
	double fps;
	double duration;   /* seconds */
	int streams;       /* streams in the container, of any kind */
};

/*
 * Set one process-wide limit from "NAME=VALUE": width, height, pixels,
 * fps, duration (seconds), streams. A documented configuration call:
 * make it before any probe runs (before threads start). MSP_EINVAL with
 * a message for a bad name or value.
 */
int msp_media_limit_set(const char *spec, struct msp_err *e);

/* The limits in force. */
const struct msp_media_limits *msp_media_limits(void);

/* 1 when src is an http:// or https:// URL (otherwise it is a path). */
int msp_media_is_url(const char *src);

/*
 * Probe src (a path or an http(s) URL): refuse demuxers that open more
 * than the input, read the container, open the decoder of every stream
 * that msp uses (the main video and audio streams) and decode its first
 * frame, check the limits (msp_media_limits) and a known positive
 * duration, and that the file is not cut short: an index that points
 * past its end, or media that stops well before the declared duration
 * (read after a seek near the end; nothing is decoded there). Errors are MSP_EMEDIA (the media is unusable, e says why),
 * MSP_ENOTFOUND or MSP_EPERM (no such file, not readable, a protocol
 * outside the whitelist), MSP_ENET (a URL failed), MSP_EIO (reading
 * failed) or MSP_ENOMEM.
 */
int msp_media_probe(const char *src, struct msp_media_info *info,
    struct msp_err *e);

/* Choose info->ext from name (a client's file name) instead of the probed
 * path: name's own extension when the container knows it, else its
 * default ("mp4" for MOV/MP4, "mkv", "ts" ...). */
void msp_media_set_ext(struct msp_media_info *info, const char *name);

/*
 * The rules that depend on the use: video_type "short" needs a video
 * stream and 3 to 30 seconds; "long" needs at least 1 second and accepts
 * audio-only files; NULL checks neither. max_size (bytes, 0 for the
 * default of 4 GiB) applies when the size is known. MSP_EMEDIA when
 * refused.
 */
int msp_media_check(const struct msp_media_info *info,
    const char *video_type, int64_t max_size, struct msp_err *e);

/* The facts as a JSON object (caller puts), as documented in
 * msp-ingest(1): container, duration, size, bitRate, video{}, audio{}. */
json_object *msp_media_json(const struct msp_media_info *info);

/* A byte reader over the same whitelist, for copying an input. */
struct msp_media_src;
int msp_media_src_open(struct msp_media_src **sp, const char *src,
    struct msp_err *e);
/* Up to n bytes into buf: the count, 0 at the end, or MSP_EIO. */
long msp_media_src_read(struct msp_media_src *s, void *buf, size_t n,
    struct msp_err *e);
void msp_media_src_close(struct msp_media_src *s);

/* Parse a size with an optional K, M, G or T suffix (powers of 1024). */
int msp_media_parse_size(const char *s, int64_t *out);

/*
 * Open a file that was probed (a stored original) for decoding, the same
 * guarded way: the format from the bytes, no nested opens, stream info
 * read. Close it with msp_media_close (it owns its I/O). MSP_EMEDIA and
 * the like as msp_media_probe.
 */
struct AVFormatContext;
int msp_media_open(const char *path, struct AVFormatContext **icp,
    struct msp_err *e);
void msp_media_close(struct AVFormatContext **icp);

/* The streams msp uses: the main video stream (the largest that is not
 * cover art; -1 when none) and the best audio stream (-1 when none). */
void msp_media_streams(struct AVFormatContext *ic, int *vi, int *ai);

/* FFmpeg's own log messages: 0 silent (the default once called), 1
 * warnings and errors, 2 verbose. A documented configuration call. */
void msp_media_log(int level);

#endif
