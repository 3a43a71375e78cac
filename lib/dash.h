/* dash: the MPEG-DASH manifest (MPD) msp writes beside master.m3u8 for
 * fMP4 output. It names the very segments the HLS playlists name (each
 * rung's init.mp4 and seg%05d.m4s), one Representation a rung, each with
 * a SegmentTimeline of the exact segment durations. No FFmpeg types:
 * plain numbers in, text out. */
#ifndef MSP_DASH_H
#define MSP_DASH_H

#include <stdint.h>

#include "err.h"
#include "hls.h"

#define MSP_DASH_TIMESCALE 90000
/* seconds a static presentation's duration is given past the end of its
 * media as msp knows it: a duration that falls short of the last frame
 * (an audio frame's padding, the picture's composition delay) leaves
 * dash.js paused before the end; one past it is cut to the media's end by
 * the browser */
#define MSP_DASH_END_SLACK 0.1

/* One rung. */
struct msp_dash_rep {
	const char *id;     /* the rung's directory ("720p"): the segments'
	                     * path and the Representation id */
	long bandwidth;     /* peak, bits/s */
	int w, h;           /* 0: audio only */
	double fps;         /* 0: none */
	const char *codecs; /* "avc1.64001f,mp4a.40.2" */
	const struct msp_hls_seg *segs;
	int nseg;           /* segments listed: the first nseg of segs */
};

struct msp_dash_opts {
	int dynamic;        /* still growing: type="dynamic" */
	int64_t start_ms;   /* dynamic: availabilityStartTime (epoch ms) */
	int64_t now_ms;     /* dynamic: publishTime */
	double segment;     /* the nominal segment length, seconds */
	double offset;      /* seconds of media time before the first
	                     * segment's start (presentationTimeOffset) */
	double end;         /* static: the media time where the last frame
	                     * of any track ends, when past the segments'
	                     * sum (the sound after the last picture); 0:
	                     * unknown. The duration must not fall short of
	                     * it: players stall before such an end. */
};

/* The MPD for n rungs (1 to MSP_LADDER_MAX) into *out (caller frees).
 * An id or codecs outside [A-Za-z0-9._,-], or an id starting with a dot,
 * is refused (MSP_EINVAL). */
int msp_dash_mpd(const struct msp_dash_rep *r, int n,
    const struct msp_dash_opts *o, char **out, struct msp_err *e);

#endif
