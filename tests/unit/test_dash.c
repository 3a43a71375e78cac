/* Unit tests of the DASH manifest writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "tap.h"

static int
has(const char *s, const char *what)
{
	return s != NULL && strstr(s, what) != NULL;
}

static void
test_static(void)
{
	/* 1/30 s frames: 0.1 s segments never add up to a drift */
	struct msp_hls_seg segs[5] = { { 1, 10 }, { 2, 20 }, { 2, 20 },
	    { 2, 20 }, { 0.5, 5 } };
	struct msp_hls_seg thirds[3] = { { 1.0 / 3, 1 }, { 1.0 / 3, 1 },
	    { 1.0 / 3, 1 } };
	struct msp_dash_rep r[2] = {
		{ "180p", 300000, 320, 180, 30, "avc1.64000c,mp4a.40.2", segs,
		    5 },
		{ "360p", 900000, 640, 360, 30, "avc1.64001e,mp4a.40.2", segs,
		    5 },
	};
	struct msp_dash_opts o = { 0, 0, 0, 2, 0, 0 };
	struct msp_err e;
	char *m = NULL;

	ok(msp_dash_mpd(r, 2, &o, &m, &e) == 0, "static manifest");
	ok(has(m, "type=\"static\"") &&
	    has(m, "mediaPresentationDuration=\"PT7.600S\""),
	    "static, with its duration and the slack");
	ok(!has(m, "availabilityStartTime") && !has(m, "UTCTiming"),
	    "no availability time, no clock");
	ok(has(m, "<S t=\"0\" d=\"90000\"/>\n            <S d=\"180000\" "
	    "r=\"2\"/>\n            <S d=\"45000\"/>"),
	    "timeline: runs of equal segments share an S");
	ok(has(m, "initialization=\"360p/init.mp4\" "
	    "media=\"360p/seg$Number%05d$.m4s\" startNumber=\"0\""),
	    "the HLS variant's own files");
	ok(has(m, "codecs=\"avc1.64001e,mp4a.40.2\" width=\"640\" "
	    "height=\"360\""), "codecs and size");
	free(m);
	o.end = 7.5388;
	ok(msp_dash_mpd(r, 2, &o, &m, &e) == 0 &&
	    has(m, "mediaPresentationDuration=\"PT7.639S\""),
	    "the duration reaches past the end of the last frame");
	free(m);
	o.end = 0;

	r[0].segs = thirds;
	r[0].nseg = 3;
	o.offset = 0.5;
	ok(msp_dash_mpd(r, 1, &o, &m, &e) == 0 &&
	    has(m, "presentationTimeOffset=\"45000\"") &&
	    has(m, "<S t=\"45000\" d=\"30000\" r=\"2\"/>"),
	    "an offset timeline; thirds of a second stay exact");
	free(m);
	r[0].segs = segs;
	r[0].nseg = 5;
	o.offset = 0;

	r[0].w = r[0].h = 0;
	r[0].fps = 0;
	r[0].codecs = "mp4a.40.2";
	ok(msp_dash_mpd(r, 1, &o, &m, &e) == 0 &&
	    has(m, "mimeType=\"audio/mp4\"") && !has(m, " width="),
	    "audio only");
	free(m);
	r[0].id = "x\"><evil";
	ok(msp_dash_mpd(r, 1, &o, &m, &e) == MSP_EINVAL && m == NULL,
	    "a name msp does not write is refused: %s", e.msg);
	r[0].id = "..";
	ok(msp_dash_mpd(r, 1, &o, &m, &e) == MSP_EINVAL && m == NULL,
	    "a name out of the video's directory is refused");
	r[0].id = "180p";
	ok(msp_dash_mpd(r, 0, &o, &m, &e) == MSP_EINVAL, "no rung refused");
}

static void
test_dynamic(void)
{
	struct msp_hls_seg segs[2] = { { 1, 10 }, { 2, 20 } };
	struct msp_dash_rep r = { "180p", 300000, 320, 180, 29.97,
	    "avc1.64000c,mp4a.40.2", segs, 2 };
	struct msp_dash_opts o = { 1, 1795956424123LL, 1795956430000LL, 2,
	    0, 0 };
	struct msp_err e;
	char *m = NULL;

	ok(msp_dash_mpd(&r, 1, &o, &m, &e) == 0, "dynamic manifest");
	ok(has(m, "type=\"dynamic\" availabilityStartTime="
	    "\"2026-11-29T12:47:04.123Z\" publishTime="
	    "\"2026-11-29T12:47:10.000Z\" minimumUpdatePeriod=\"PT2.000S\""),
	    "dynamic: start, publish time, update period");
	ok(!has(m, "mediaPresentationDuration"), "no duration yet");
	ok(has(m, "<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" "
	    "value=\"2026-11-29T12:47:10.000Z\"/>\n</MPD>"),
	    "its own clock: no time server asked");
	ok(has(m, "frameRate=\"30000/1001\""), "NTSC frame rate");
	free(m);
	r.nseg = 0;
	ok(msp_dash_mpd(&r, 1, &o, &m, &e) == 0 &&
	    has(m, "<SegmentTimeline>\n          </SegmentTimeline>"),
	    "no segment yet: an empty timeline");
	free(m);
}

int
main(void)
{
	test_static();
	test_dynamic();
	done_testing();
}
