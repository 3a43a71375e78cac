/*
 * media: probing and validating uploaded media with the FFmpeg libraries.
 *
 * Inputs are read under a protocol whitelist (file for paths; http, https,
 * tcp and tls for http:// and https:// URLs) and only plain container
 * formats are demuxed: MP4/MOV, Matroska/WebM, MPEG-TS, AVI, FLV, and MP3,
 * AAC, WAV, Ogg and FLAC for audio. Playlists (HLS, DASH), concat scripts,
 * image sequences and every other demuxer that could open further files or
 * URLs on the input's say-so are refused before they are opened. MOV data
 * references (external tracks) stay disabled.
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
#define MSP_MEDIA_MAX_LONG 7680  /* longer side, pixels */
#define MSP_MEDIA_MAX_SHORT 4320 /* shorter side, pixels */
#define MSP_MEDIA_MAX_FPS 240
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

/* 1 when src is an http:// or https:// URL (otherwise it is a path). */
int msp_media_is_url(const char *src);

/*
 * Probe src (a path or an http(s) URL): refuse formats outside the
 * allow-list, read the container, decode the first video frame (or, for
 * audio-only files, the first audio frame), and check what every video
 * must satisfy: a known positive duration, dimensions up to
 * 7680x4320 (either orientation), 0 < fps <= 240, and a file that is not
 * cut short. Errors are MSP_EMEDIA (the media is unusable, e says why),
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

/* FFmpeg's own log messages: 0 silent (the default once called), 1
 * warnings and errors, 2 verbose. A documented configuration call. */
void msp_media_log(int level);

#endif
