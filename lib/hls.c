#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hls.h"
#include "util.h"

static int
parse_rate(const char *s, size_t n, long *out)
{
	char buf[32], *end;
	double v, mul = 1;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[n - 1] == 'k' || buf[n - 1] == 'K')
		mul = 1e3;
	else if (buf[n - 1] == 'm' || buf[n - 1] == 'M')
		mul = 1e6;
	if (mul != 1)
		buf[--n] = '\0';
	if (n == 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	errno = 0;
	v = strtod(buf, &end);
	if (errno != 0 || *end != '\0')
		return -1;
	v *= mul;
	if (v < 10e3 || v > 200e6)
		return -1;
	*out = (long)v;
	return 0;
}

static int
rung_cmp(const void *a, const void *b)
{
	const struct msp_rung *x = a, *y = b;

	return (x->height > y->height) - (x->height < y->height);
}

int
msp_hls_ladder_parse(const char *s, struct msp_ladder *l, struct msp_err *e)
{
	const char *p = s;
	int i;

	l->n = 0;
	while (*p != '\0') {
		const char *end = strchr(p, ','), *colon;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		long long h;
		char hb[16];

		colon = memchr(p, ':', n);
		if (colon == NULL || (size_t)(colon - p) >= sizeof(hb))
			return msp_err_set(e, MSP_EINVAL, "ladder '%s': rung "
			    "'%.*s' is not HEIGHT:BITRATE", s, (int)n, p);
		memcpy(hb, p, (size_t)(colon - p));
		hb[colon - p] = '\0';
		if (msp_parse_int(hb, 16, 4320, &h) != 0 || h % 2 != 0)
			return msp_err_set(e, MSP_EINVAL, "ladder '%s': height "
			    "'%s' is not an even number from 16 to 4320", s,
			    hb);
		if (l->n == MSP_LADDER_MAX)
			return msp_err_set(e, MSP_EINVAL, "ladder '%s': more "
			    "than %d rungs", s, MSP_LADDER_MAX);
		l->r[l->n].height = (int)h;
		if (parse_rate(colon + 1, n - (size_t)(colon + 1 - p),
		    &l->r[l->n].bitrate) != 0)
			return msp_err_set(e, MSP_EINVAL, "ladder '%s': bitrate "
			    "'%.*s' is not a rate from 10k to 200M", s,
			    (int)(n - (size_t)(colon + 1 - p)), colon + 1);
		l->n++;
		p += n;
		if (*p == ',' && *++p == '\0')
			return msp_err_set(e, MSP_EINVAL, "ladder '%s': empty "
			    "rung", s);
	}
	if (l->n == 0)
		return msp_err_set(e, MSP_EINVAL, "ladder '%s': no rungs", s);
	qsort(l->r, (size_t)l->n, sizeof(l->r[0]), rung_cmp);
	for (i = 1; i < l->n; i++)
		if (l->r[i].height == l->r[i - 1].height)
			return msp_err_set(e, MSP_EINVAL, "ladder '%s': height "
			    "%d twice", s, l->r[i].height);
	return 0;
}

void
msp_hls_display_size(int w, int h, int sar_num, int sar_den, int rotation,
    int *dw, int *dh)
{
	double x = w;

	if (sar_num > 0 && sar_den > 0)
		x = (double)w * sar_num / sar_den;
	*dw = (int)lround(x);
	*dh = h;
	if (rotation == 90 || rotation == 270) {
		int t = *dw;
		*dw = *dh;
		*dh = t;
	}
}

static int
even(double v)
{
	int i = 2 * (int)lround(v / 2);

	return i < 2 ? 2 : i;
}

int
msp_hls_rungs(const struct msp_ladder *l, int dw, int dh,
    struct msp_rung_size out[MSP_LADDER_MAX])
{
	int shortside = dw < dh ? dw : dh, longside = dw < dh ? dh : dw;
	int i, n = 0, ls;

	for (i = 0; i < l->n; i++) {
		if (l->r[i].height > shortside)
			break;
		ls = even((double)longside * l->r[i].height / shortside);
		out[n].height = l->r[i].height;
		out[n].bitrate = l->r[i].bitrate;
		out[n].w = dw < dh ? l->r[i].height : ls;
		out[n].h = dw < dh ? ls : l->r[i].height;
		n++;
	}
	if (n == 0) { /* smaller than the lowest rung: its own size */
		out[0].w = dw & ~1;
		out[0].h = dh & ~1;
		if (out[0].w < 2)
			out[0].w = 2;
		if (out[0].h < 2)
			out[0].h = 2;
		out[0].height = out[0].w < out[0].h ? out[0].w : out[0].h;
		out[0].bitrate = l->r[0].bitrate;
		n = 1;
	}
	return n;
}

/* A growing string. */
struct sb {
	char *p;
	size_t n, cap;
	int bad;
};

static void
sb_add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->bad)
		return;
	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0,
		    fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->bad = 1;
			return;
		}
		if (b->p != NULL && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		{
			size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)k;
			char *np = realloc(b->p, cap);
			if (np == NULL) {
				b->bad = 1;
				return;
			}
			b->p = np;
			b->cap = cap;
		}
	}
}

static char *
sb_done(struct sb *b)
{
	if (b->bad) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

int
msp_hls_target(const struct msp_hls_seg *segs, int n, double segment)
{
	int i, t = (int)ceil(segment - 1e-6);

	for (i = 0; i < n; i++)
		if ((int)lround(segs[i].dur) > t)
			t = (int)lround(segs[i].dur);
	return t < 1 ? 1 : t;
}

char *
msp_hls_variant(const struct msp_hls_seg *segs, int n, int target,
    const char *uri_fmt, const char *init, int event)
{
	struct sb b = { 0 };
	int i;

	sb_add(&b, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n"
	    "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:%s\n"
	    "#EXT-X-INDEPENDENT-SEGMENTS\n", init ? 7 : 3, target,
	    event ? "EVENT" : "VOD");
	if (init != NULL)
		sb_add(&b, "#EXT-X-MAP:URI=\"%s\"\n", init);
	for (i = 0; i < n; i++) {
		sb_add(&b, "#EXTINF:%.6f,\n", segs[i].dur);
		sb_add(&b, uri_fmt, i);
		sb_add(&b, "\n");
	}
	if (!event)
		sb_add(&b, "#EXT-X-ENDLIST\n");
	return sb_done(&b);
}

char *
msp_hls_master(const struct msp_hls_stream *s, int n)
{
	struct sb b = { 0 };
	int i;

	sb_add(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
	for (i = 0; i < n; i++) {
		sb_add(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%ld,"
		    "AVERAGE-BANDWIDTH=%ld,CODECS=\"%s\"", s[i].bandwidth,
		    s[i].avg_bandwidth, s[i].codecs);
		if (s[i].w > 0)
			sb_add(&b, ",RESOLUTION=%dx%d", s[i].w, s[i].h);
		if (s[i].fps > 0)
			sb_add(&b, ",FRAME-RATE=%.3f", s[i].fps);
		sb_add(&b, "\n%s\n", s[i].uri);
	}
	return sb_done(&b);
}

void
msp_hls_rates(const struct msp_hls_seg *segs, int n, long *peak, long *avg)
{
	double tb = 0, td = 0, pk = 0;
	int i;

	for (i = 0; i < n; i++) {
		double d = segs[i].dur > 0.05 ? segs[i].dur : 0.05;
		double r = segs[i].bytes * 8.0 / d;
		if (r > pk)
			pk = r;
		tb += segs[i].bytes * 8.0;
		td += segs[i].dur;
	}
	*peak = (long)ceil(pk);
	*avg = td > 0 ? (long)ceil(tb / td) : *peak;
}

static int
avc1_fmt(const uint8_t *sps, size_t n, char out[16])
{
	if (n < 4)
		return -1;
	snprintf(out, 16, "avc1.%02x%02x%02x", sps[1], sps[2], sps[3]);
	return 0;
}

int
msp_hls_avc1(const uint8_t *x, size_t n, char out[16])
{
	size_t i;

	if (x == NULL || n < 4)
		return -1;
	if (x[0] == 1) /* avcC: version, profile, compat, level */
		return avc1_fmt(x, n, out);
	for (i = 0; i + 3 < n; i++) { /* Annex B: find the SPS NAL (7) */
		if (x[i] == 0 && x[i + 1] == 0 && x[i + 2] == 1 &&
		    (x[i + 3] & 0x1f) == 7)
			return avc1_fmt(x + i + 3, n - i - 3, out);
	}
	return -1;
}
