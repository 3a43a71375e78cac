#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "util.h"

/* Names and codecs go into attributes as they are: only these. */
static int
token_ok(const char *s)
{
	const char *p;

	if (s == NULL || *s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == ',' || *p == '-'))
			return 0;
	return 1;
}

/* xs:duration of seconds, to the millisecond above */
static void
duration(FILE *f, const char *name, double s)
{
	fprintf(f, " %s=\"PT%.3fS\"", name, s < 0 ? 0 :
	    ceil(s * 1000 - 1e-6) / 1000);
}

static void
datetime(FILE *f, const char *name, int64_t ms)
{
	char t[MSP_TIME_LEN + 1];

	msp_time_fmt(ms, t);
	fprintf(f, " %s=\"%s\"", name, t);
}

/* 30, 25, 30000/1001 ...; nothing for a rate that is neither */
static void
frame_rate(FILE *f, double fps)
{
	double k = fps * 1.001;

	if (fps <= 0)
		return;
	if (fabs(fps - round(fps)) < 0.002)
		fprintf(f, " frameRate=\"%ld\"", lround(fps));
	else if (fabs(k - round(k)) < 0.002)
		fprintf(f, " frameRate=\"%ld/1001\"", lround(k) * 1000);
}

/* A rung's SegmentTimeline: segment i starts at the rounded sum of the
 * durations before it, so the rounding never adds up; equal runs share
 * one S with r. */
static void
timeline(FILE *f, const struct msp_dash_rep *r, double offset)
{
	double sum = offset;
	int64_t t0, t, next, d, prev = -1;
	int i, run = 0;

	t0 = t = llround(offset * MSP_DASH_TIMESCALE);
	fputs("          <SegmentTimeline>\n", f);
	for (i = 0; i < r->nseg; i++) {
		sum += r->segs[i].dur;
		next = llround(sum * MSP_DASH_TIMESCALE);
		d = next - t;
		if (i > 0 && d == prev) {
			run++;
		} else {
			if (i > 0)
				fprintf(f, run ? " r=\"%d\"/>\n" : "/>\n", run);
			if (i == 0)
				fprintf(f, "            <S t=\"%lld\" d=\"%lld\"",
				    (long long)t0, (long long)d);
			else
				fprintf(f, "            <S d=\"%lld\"",
				    (long long)d);
			run = 0;
			prev = d;
		}
		t = next;
	}
	if (r->nseg > 0)
		fprintf(f, run ? " r=\"%d\"/>\n" : "/>\n", run);
	fputs("          </SegmentTimeline>\n", f);
}

int
msp_dash_mpd(const struct msp_dash_rep *r, int n,
    const struct msp_dash_opts *o, char **out, struct msp_err *e)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0;
	double total = 0, fps = 0;
	long minbw = 0, maxbw = 0;
	int i, k, maxw = 0, maxh = 0, video = 0;

	*out = NULL;
	if (n < 1 || n > MSP_LADDER_MAX)
		return msp_err_set(e, MSP_EINVAL, "manifest: %d rungs", n);
	for (i = 0; i < n; i++) {
		if (!token_ok(r[i].id) || r[i].id[0] == '.' ||
		    !token_ok(r[i].codecs))
			return msp_err_set(e, MSP_EINVAL, "manifest: rung %d: "
			    "a name or codecs string msp does not write", i);
		if (r[i].nseg < 0 || (r[i].nseg > 0 && r[i].segs == NULL))
			return msp_err_set(e, MSP_EINVAL, "manifest: rung %d: "
			    "no segments", i);
		if (r[i].w > 0)
			video = 1;
		if (r[i].w > maxw)
			maxw = r[i].w;
		if (r[i].h > maxh)
			maxh = r[i].h;
		if (r[i].fps > fps)
			fps = r[i].fps;
		if (i == 0 || r[i].bandwidth < minbw)
			minbw = r[i].bandwidth;
		if (r[i].bandwidth > maxbw)
			maxbw = r[i].bandwidth;
	}
	for (k = 0; k < r[0].nseg; k++)
		total += r[0].segs[k].dur;
	if (o->end - o->offset > total)
		total = o->end - o->offset;
	total += MSP_DASH_END_SLACK;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
	    "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\"", f);
	if (o->dynamic) {
		fputs(" type=\"dynamic\"", f);
		datetime(f, "availabilityStartTime", o->start_ms);
		datetime(f, "publishTime", o->now_ms);
		duration(f, "minimumUpdatePeriod", o->segment);
	} else {
		fputs(" type=\"static\"", f);
		duration(f, "mediaPresentationDuration", total);
	}
	duration(f, "minBufferTime", o->segment);
	fputs(">\n  <Period id=\"0\" start=\"PT0S\">\n", f);
	/* audio and video share each segment, as in the HLS variants: one
	 * AdaptationSet of the picture's type, no ContentComponent */
	fprintf(f, "    <AdaptationSet id=\"0\" mimeType=\"%s/mp4\" "
	    "segmentAlignment=\"true\" startWithSAP=\"1\"",
	    video ? "video" : "audio");
	if (video) {
		fprintf(f, " maxWidth=\"%d\" maxHeight=\"%d\"", maxw, maxh);
		frame_rate(f, fps);
	}
	fprintf(f, " minBandwidth=\"%ld\" maxBandwidth=\"%ld\">\n", minbw,
	    maxbw);
	for (i = 0; i < n; i++) {
		fprintf(f, "      <Representation id=\"%s\" bandwidth=\"%ld\" "
		    "codecs=\"%s\"", r[i].id, r[i].bandwidth, r[i].codecs);
		if (r[i].w > 0) {
			fprintf(f, " width=\"%d\" height=\"%d\" sar=\"1:1\"",
			    r[i].w, r[i].h);
			frame_rate(f, r[i].fps);
		}
		fprintf(f, ">\n        <SegmentTemplate timescale=\"%d\" "
		    "presentationTimeOffset=\"%lld\" "
		    "initialization=\"%s/init.mp4\" "
		    "media=\"%s/seg$Number%%05d$.m4s\" startNumber=\"0\">\n",
		    MSP_DASH_TIMESCALE,
		    (long long)llround(o->offset * MSP_DASH_TIMESCALE),
		    r[i].id, r[i].id);
		timeline(f, &r[i], o->offset);
		fputs("        </SegmentTemplate>\n      </Representation>\n",
		    f);
	}
	fputs("    </AdaptationSet>\n  </Period>\n", f);
	/* a dynamic presentation's clock: the time it was written, so that
	 * no player reaches for a time server of its own */
	if (o->dynamic) {
		fputs("  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\"",
		    f);
		datetime(f, "value", o->now_ms);
		fputs("/>\n", f);
	}
	fputs("</MPD>\n", f);
	if (ferror(f) | fclose(f)) {
		free(buf);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	*out = buf;
	return 0;
}
