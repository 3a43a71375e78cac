/* hls: the bitrate ladder, rung sizes, and the HLS playlists msp writes
 * itself (variant and master). No FFmpeg types here: lib/transcode.c feeds
 * it plain numbers. */
#ifndef MSP_HLS_H
#define MSP_HLS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MSP_LADDER_MAX 8
#define MSP_LADDER_DEFAULT "270:400k,360:1500k,540:3500k,720:6000k,1080:8500k"

/* A rung's "height" is the short side of the picture: 720 gives 1280x720
 * for landscape and 720x1280 for portrait sources. */
struct msp_rung {
	int height;
	long bitrate; /* video bits per second */
};

struct msp_ladder {
	int n;
	struct msp_rung r[MSP_LADDER_MAX]; /* ascending by height */
};

/* Parse "H:RATE[,H:RATE...]" (RATE in bits/s, with k or M suffix); sorted
 * ascending; duplicate heights, odd or out-of-range values are refused. */
int msp_hls_ladder_parse(const char *s, struct msp_ladder *l,
    struct msp_err *e);

/* The display size of a picture: coded size with the sample aspect ratio
 * (sar_num/sar_den, 0 meaning square) and a rotation (0, 90, 180, 270)
 * applied. */
void msp_hls_display_size(int w, int h, int sar_num, int sar_den,
    int rotation, int *dw, int *dh);

/* The rungs of ladder l for a display size dw x dh: every rung whose height
 * is at most the short side (never upscale); when none fits, one rung at
 * the source's own size with the lowest rung's bitrate. out gets n sizes
 * (even), ascending. Returns n. */
struct msp_rung_size {
	int w, h;
	int height; /* the ladder height (short side) */
	long bitrate;
};
int msp_hls_rungs(const struct msp_ladder *l, int dw, int dh,
    struct msp_rung_size out[MSP_LADDER_MAX]);

/* One finished segment of a variant. */
struct msp_hls_seg {
	double dur;    /* seconds */
	int64_t bytes;
};

/* A variant playlist. uri_fmt names segment i ("seg%05d.m4s"); init is the
 * EXT-X-MAP URI (fMP4) or NULL (MPEG-TS). event: EXT-X-PLAYLIST-TYPE EVENT
 * without ENDLIST, else VOD with ENDLIST. Returns a malloc'd string. */
char *msp_hls_variant(const struct msp_hls_seg *segs, int n, int target,
    const char *uri_fmt, const char *init, int event);
/* Target duration: the largest segment duration rounded to the nearest
 * integer, and at least ceil(segment). */
int msp_hls_target(const struct msp_hls_seg *segs, int n, double segment);

/* A variant's line in the master playlist. w, h == 0: audio only. */
struct msp_hls_stream {
	long bandwidth;     /* peak segment bitrate, bits/s */
	long avg_bandwidth; /* average, bits/s */
	int w, h;
	double fps;         /* 0: none */
	const char *codecs; /* "avc1.64001f,mp4a.40.2" */
	const char *uri;    /* "720p/index.m3u8" */
};
char *msp_hls_master(const struct msp_hls_stream *s, int n);

/* Peak and average bitrate of segments (bits/s). */
void msp_hls_rates(const struct msp_hls_seg *segs, int n, long *peak,
    long *avg);

/* "avc1.PPCCLL" from H.264 extradata (avcC or Annex B SPS); 0 or -1. */
int msp_hls_avc1(const uint8_t *x, size_t n, char out[16]);

#endif
