/*
 * media: safe probing of uploads with libavformat and libavcodec.
 *
 * The order of things matters for safety: the input is opened as a byte
 * stream under a protocol whitelist, its format is guessed from the bytes
 * (av_probe_input_buffer2 only looks at them), and the demuxer then runs
 * on that byte stream alone: the AVFormatContext gets no protocol (its
 * whitelist names none) and an io_open callback that refuses, and
 * counts, every open. A playlist, a concat script or anything else that
 * names further files, URLs or devices therefore reads nothing but the
 * input, and is refused for having tried. Demuxers that never read the
 * input's bytes (AVFMT_NOFILE: devices, network sessions) and those that
 * run scripts are not started at all.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

#include "media.h"
#include "util.h"

#define WL_FILE "file"
#define WL_NET "http,https,tcp,tls"
#define WL_NONE "none" /* no protocol has this name */
#define NET_TIMEOUT_US "30000000"
#define DECODE_PACKETS 4096 /* packets read while looking for a frame */
#define END_PACKETS 100000  /* packets read after the seek near the end */
#define END_BEFORE 3.0      /* seconds before the end the seek aims at */

static struct msp_media_limits limits = {
	MSP_MEDIA_MAX_LONG, MSP_MEDIA_MAX_SHORT, MSP_MEDIA_MAX_PIXELS,
	MSP_MEDIA_MAX_FPS, MSP_MEDIA_MAX_DURATION, MSP_MEDIA_MAX_STREAMS
};

/* The extension of a stored original, for the demuxers whose own list
 * lacks one or starts with a rare one. Others: their first extension. */
static const struct {
	const char *name;  /* first name of the demuxer */
	const char *ext;   /* default extension */
	const char *alts;  /* other extensions kept from the input's name */
} formats[] = {
	{ "mov", "mp4", "mov mp4 m4v m4a 3gp 3g2 mj2" },
	{ "matroska", "mkv", "mkv webm mka mk3d" },
	{ "mpegts", "ts", "ts m2ts mts m2t trp" },
	{ "mpeg", "mpg", "mpg mpeg vob m2p ps evo mod tod" },
	{ "asf", "asf", "asf wmv wma" },
	{ "mxf", "mxf", "mxf" },
	{ "dv", "dv", "dv dif" },
	{ "ivf", "ivf", "ivf" },
	{ "avi", "avi", "avi" },
	{ "flv", "flv", "flv" },
	{ "mp3", "mp3", "mp3" },
	{ "aac", "aac", "aac" },
	{ "wav", "wav", "wav" },
	{ "ogg", "ogg", "ogg ogv oga opus spx" },
	{ "flac", "flac", "flac" },
	{ NULL, NULL, NULL }
};

/* What a demuxer that names other things is called in its refusal. The
 * refusal itself comes from what the demuxer does: it tries an open (of
 * which the io_open callback keeps count), or fails because nothing
 * can be opened. Those that fail without calling io_open (they open a
 * nested demuxer or a protocol directly) are named here so that the
 * message says why. The first two are never started: they run scripts.
 */
static const struct {
	const char *name;
	const char *what;
} named_refusals[] = {
	{ "avisynth", "avisynth script" },
	{ "vapoursynth", "vapoursynth script" },
	{ "hls", "hls playlist" },
	{ "applehttp", "hls playlist" },
	{ "concat", "concat script" },
	{ "imf", "imf composition playlist" },
	{ "sdp", "sdp session description" },
	{ "rtsp", "rtsp session" },
	{ "vobsub", "vobsub index" },
	{ "image2", "image sequence" },
	{ NULL, NULL }
};
#define SCRIPTS 2 /* the first entries above */

static int log_set;

/* Opens a demuxer tried on this thread (demuxers run on their caller's):
 * those the io_open callback refused, and those the protocol whitelist
 * refused (a nested demuxer or a protocol opened directly), which FFmpeg
 * reports only in its log. */
static _Thread_local int nested_opens;

static void
log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
	if (fmt != NULL && strncmp(fmt, "Protocol '%s' not on whitelist",
	    30) == 0)
		nested_opens++;
	av_log_default_callback(avcl, level, fmt, vl);
}

void
msp_media_log(int level)
{
	log_set = 1;
	av_log_set_callback(log_cb);
	av_log_set_level(level <= 0 ? AV_LOG_QUIET :
	    level == 1 ? AV_LOG_WARNING : AV_LOG_VERBOSE);
}

static void
quiet_once(void)
{
	if (!log_set)
		msp_media_log(0);
}

int
msp_media_is_url(const char *src)
{
	return strncasecmp(src, "http://", 7) == 0 ||
	    strncasecmp(src, "https://", 8) == 0;
}

/* The FFmpeg error text, lowercased at the start. */
static void
av_err(int rc, char *buf, size_t n)
{
	if (av_strerror(rc, buf, n) != 0)
		snprintf(buf, n, "error %d", rc);
	if (buf[0] != '\0' && isupper((unsigned char)buf[0]) &&
	    !isupper((unsigned char)buf[1]))
		buf[0] = (char)tolower((unsigned char)buf[0]);
}

/* An error opening or reading the input: a missing or unreadable file is
 * the input's fault (MSP_ENOTFOUND, MSP_EPERM), a failing URL the
 * network's (MSP_ENET). */
static int
io_err(int rc, int url, struct msp_err *e)
{
	char b[256];

	if (rc == AVERROR(ENOMEM))
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if (rc == AVERROR_PROTOCOL_NOT_FOUND)
		return msp_err_set(e, MSP_EPERM, "protocol not allowed (msp "
		    "reads files and http or https urls only)");
	av_err(rc, b, sizeof(b));
	if (url && rc == AVERROR(EINVAL))
		return msp_err_set(e, MSP_EPERM, "url refused: %s (only http "
		    "and https are fetched, redirects included)", b);
	if (rc == AVERROR(ENOENT))
		return msp_err_set(e, MSP_ENOTFOUND, "%s", b);
	if (rc == AVERROR(EACCES))
		return msp_err_set(e, MSP_EPERM, "%s", b);
	return msp_err_set(e, url ? MSP_ENET : MSP_EIO, "%s", b);
}

/* The URL FFmpeg is given, and its protocol whitelist. Paths get an
 * explicit file: so that "concat:a|b" or "subfile:..." stay file names. */
static char *
av_url(const char *src, const char **wl)
{
	if (msp_media_is_url(src)) {
		*wl = WL_NET;
		return msp_strdup(src);
	}
	*wl = WL_FILE;
	return msp_sprintf("file:%s", src);
}

static int
io_open(const char *src, AVIOContext **pb, char **urlp, const char **wlp,
    struct msp_err *e)
{
	AVDictionary *o = NULL;
	const char *wl;
	char *url;
	int rc;

	*pb = NULL;
	*urlp = NULL;
	if (*src == '\0')
		return msp_err_set(e, MSP_EINVAL, "empty file name");
	if (!msp_media_is_url(src)) {
		struct stat sb;

		if (stat(src, &sb) != 0 && errno == ENOENT &&
		    strstr(src, "://") != NULL)
			return msp_err_set(e, MSP_EPERM, "unsupported url "
			    "scheme (msp fetches http and https only)");
		if (stat(src, &sb) != 0)
			return io_err(AVERROR(errno), 0, e);
		if (!S_ISREG(sb.st_mode))
			return msp_err_set(e, MSP_EMEDIA, "not a regular file");
	} else if (strchr(src, ' ') != NULL || msp_has_control(src,
	    strlen(src), 0)) {
		return msp_err_set(e, MSP_EINVAL, "url has spaces or control "
		    "characters");
	}
	if ((url = av_url(src, &wl)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	av_dict_set(&o, "protocol_whitelist", wl, 0);
	if (msp_media_is_url(src)) {
		av_dict_set(&o, "rw_timeout", NET_TIMEOUT_US, 0);
		av_dict_set(&o, "user_agent", "msp/1", 0);
	}
	rc = avio_open2(pb, url, AVIO_FLAG_READ, NULL, &o);
	av_dict_free(&o);
	if (rc < 0) {
		free(url);
		return io_err(rc, msp_media_is_url(src), e);
	}
	*urlp = url;
	if (wlp != NULL)
		*wlp = wl;
	return 0;
}

/* ---- byte reader ---------------------------------------------------- */

struct msp_media_src {
	AVIOContext *pb;
	char *url;
	int is_url;
};

int
msp_media_src_open(struct msp_media_src **sp, const char *src,
    struct msp_err *e)
{
	struct msp_media_src *s;
	int rc;

	quiet_once();
	*sp = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((rc = io_open(src, &s->pb, &s->url, NULL, e)) != 0) {
		free(s);
		return rc;
	}
	s->is_url = msp_media_is_url(src);
	*sp = s;
	return 0;
}

long
msp_media_src_read(struct msp_media_src *s, void *buf, size_t n,
    struct msp_err *e)
{
	int rc;

	if (n > 1 << 20)
		n = 1 << 20;
	rc = avio_read(s->pb, buf, (int)n);
	if (rc == AVERROR_EOF || rc == 0)
		return 0;
	if (rc < 0)
		return io_err(rc, s->is_url, e);
	return rc;
}

void
msp_media_src_close(struct msp_media_src *s)
{
	if (s == NULL)
		return;
	avio_closep(&s->pb);
	free(s->url);
	free(s);
}

/* Durations compare at 0.1 s, the precision messages show. */
static double
tenths(double s)
{
	return round(s * 10.0) / 10.0;
}

/* ---- limits --------------------------------------------------------- */

const struct msp_media_limits *
msp_media_limits(void)
{
	return &limits;
}

int
msp_media_limit_set(const char *spec, struct msp_err *e)
{
	static const char *const names[] = { "width", "height", "pixels",
	    "fps", "duration", "streams", NULL };
	const char *eq = strchr(spec, '=');
	char *end;
	double v;
	size_t n;
	int i, whole;

	if (eq == NULL)
		return msp_err_set(e, MSP_EINVAL, "'%s': expected "
		    "NAME=VALUE (NAME: width, height, pixels, fps, duration or "
		    "streams)", spec);
	n = (size_t)(eq - spec);
	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == n && strncmp(spec, names[i], n) == 0)
			break;
	if (names[i] == NULL)
		return msp_err_set(e, MSP_EINVAL, "'%.*s': unknown limit (width, "
		    "height, pixels, fps, duration or streams)", (int)n, spec);
	whole = i != 3 && i != 4;
	errno = 0;
	v = isdigit((unsigned char)eq[1]) ? strtod(eq + 1, &end) : -1;
	if (v <= 0 || *end != '\0' || errno != 0 || (whole && v != floor(v)) ||
	    v > (i == 2 ? 1e15 : i == 4 ? 1e9 : 1e6))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a positive "
		    "%s in range", spec, whole ? "whole number" : "number");
	switch (i) {
	case 0:
		limits.width = (int)v;
		break;
	case 1:
		limits.height = (int)v;
		break;
	case 2:
		limits.pixels = (int64_t)v;
		break;
	case 3:
		limits.fps = v;
		break;
	case 4:
		limits.duration = v;
		break;
	default:
		limits.streams = (int)v;
		break;
	}
	return 0;
}

/* Dimensions within the limits in either orientation. */
static int
check_size(int w, int h, struct msp_err *e)
{
	if ((w > h ? w : h) > limits.width || (w > h ? h : w) > limits.height)
		return msp_err_set(e, MSP_EMEDIA, "dimensions %dx%d exceed the "
		    "limit of %dx%d", w, h, limits.width, limits.height);
	if ((int64_t)w * h > limits.pixels)
		return msp_err_set(e, MSP_EMEDIA, "picture of %dx%d (%lld "
		    "pixels) exceeds the limit of %lld pixels", w, h,
		    (long long)w * h, (long long)limits.pixels);
	return 0;
}

static int
check_streams(const AVFormatContext *ic, struct msp_err *e)
{
	if (ic->nb_streams > (unsigned)limits.streams)
		return msp_err_set(e, MSP_EMEDIA, "%u streams exceed the limit "
		    "of %d", ic->nb_streams, limits.streams);
	return 0;
}

/* ---- opening, guarded ------------------------------------------------ */

/* The demuxer's io_open: nothing but the input is ever read. */
static int
refuse_open(AVFormatContext *s, AVIOContext **pb, const char *url,
    int flags, AVDictionary **o)
{
	(void)s;
	(void)url;
	(void)flags;
	(void)o;
	*pb = NULL;
	nested_opens++;
	return AVERROR(EPERM);
}

static int
named_refusal(const AVInputFormat *f, int first, int n)
{
	size_t len = strcspn(f->name, ",");
	int i;

	for (i = first; i < n && named_refusals[i].name != NULL; i++)
		if (strlen(named_refusals[i].name) == len &&
		    strncmp(f->name, named_refusals[i].name, len) == 0)
			return i;
	return -1;
}

/* A demuxer that names other files, URLs or devices. */
static int
refuse_format(const AVInputFormat *f, struct msp_err *e)
{
	size_t n = strcspn(f->name, ",");
	int i = named_refusal(f, 0, 1000);

	if (i >= 0)
		return msp_err_set(e, MSP_EMEDIA, "%s refused: msp ingests "
		    "plain media files, not files that name other files or "
		    "urls", named_refusals[i].what);
	return msp_err_set(e, MSP_EMEDIA, "format '%.*s' refused: msp "
	    "ingests plain media files, not files that name other files or "
	    "urls", (int)n, f->name);
}

/* The per-stream options of avformat_find_stream_info: no picture past
 * the limits is ever allocated, one thread each. NULL: out of memory. */
static AVDictionary **
info_options(const AVFormatContext *ic)
{
	AVDictionary **o;
	char px[32];
	unsigned i;

	if ((o = calloc(ic->nb_streams + 1, sizeof(*o))) == NULL)
		return NULL;
	snprintf(px, sizeof(px), "%lld", (long long)limits.pixels);
	for (i = 0; i < ic->nb_streams; i++) {
		av_dict_set(&o[i], "max_pixels", px, 0);
		av_dict_set(&o[i], "threads", "1", 0);
	}
	return o;
}

static void
info_options_free(AVDictionary **o, unsigned n)
{
	unsigned i;

	if (o == NULL)
		return;
	for (i = 0; i < n; i++)
		av_dict_free(&o[i]);
	free(o);
}

void
msp_media_streams(AVFormatContext *ic, int *vi, int *ai)
{
	int64_t best = -1;
	unsigned i;

	*vi = -1;
	for (i = 0; i < ic->nb_streams; i++) {
		AVStream *st = ic->streams[i];
		int64_t px;

		if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
		    (st->disposition & AV_DISPOSITION_ATTACHED_PIC))
			continue;
		px = (int64_t)st->codecpar->width * st->codecpar->height;
		if (px > best) {
			best = px;
			*vi = (int)i;
		}
	}
	*ai = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
	if (*ai < 0)
		*ai = -1;
}

/*
 * Open src, guess its format from the bytes and start the demuxer on
 * them alone; read the stream info within the limits. *icp owns the
 * input (ic->pb, custom I/O): msp_media_close. *sizep: the size, -1
 * when unknown.
 */
static int
guarded_open(const char *src, AVFormatContext **icp, int64_t *sizep,
    struct msp_err *e)
{
	AVFormatContext *ic = NULL;
	const AVInputFormat *fmt = NULL;
	AVIOContext *pb = NULL;
	AVDictionary *o = NULL, **so = NULL;
	unsigned ns = 0;
	char *url = NULL, b[256];
	int rc, vi, ai;

	*icp = NULL;
	if ((rc = io_open(src, &pb, &url, NULL, e)) != 0)
		return rc;
	*sizep = avio_size(pb);
	if (*sizep == 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "empty file");
		goto fail;
	}
	/* looks at the bytes only (not the name): no demuxer runs here */
	rc = av_probe_input_buffer2(pb, &fmt, "", NULL, 0, 0);
	if (rc < 0 || fmt == NULL) {
		if (rc == AVERROR(ENOMEM)) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		} else if (rc < 0 && rc != AVERROR_INVALIDDATA &&
		    rc != AVERROR_EOF) {
			rc = io_err(rc, msp_media_is_url(src), e);
		} else {
			rc = msp_err_set(e, MSP_EMEDIA, "not a media file (no "
			    "known container format)");
		}
		goto fail;
	}
	if ((fmt->flags & AVFMT_NOFILE) || named_refusal(fmt, 0, SCRIPTS) >= 0) {
		rc = refuse_format(fmt, e);
		goto fail;
	}
	if ((ic = avformat_alloc_context()) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto fail;
	}
	ic->pb = pb; /* custom I/O: avformat_close_input leaves it */
	ic->io_open = refuse_open;
	av_dict_set(&o, "protocol_whitelist", WL_NONE, 0);
	av_dict_set(&o, "enable_drefs", "0", 0);
	nested_opens = 0;
	rc = avformat_open_input(&ic, url, fmt, &o);
	av_dict_free(&o);
	if (rc < 0) { /* ic was freed */
		if (nested_opens > 0 || named_refusal(fmt, 0, 1000) >= 0) {
			rc = refuse_format(fmt, e);
		} else if (rc == AVERROR(ENOMEM)) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		} else {
			av_err(rc, b, sizeof(b));
			rc = msp_err_set(e, MSP_EMEDIA, "cannot read the %.*s "
			    "container: %s (truncated or corrupt file)",
			    (int)strcspn(fmt->name, ","), fmt->name, b);
		}
		goto fail;
	}
	if (nested_opens > 0) {
		rc = refuse_format(fmt, e);
		goto fail;
	}
	if ((rc = check_streams(ic, e)) != 0)
		goto fail;
	/* sizes the header gives are checked before anything is decoded */
	msp_media_streams(ic, &vi, &ai);
	if (vi >= 0 && ic->streams[vi]->codecpar->width > 0 &&
	    (rc = check_size(ic->streams[vi]->codecpar->width,
	    ic->streams[vi]->codecpar->height, e)) != 0)
		goto fail;
	ns = ic->nb_streams;
	if ((so = info_options(ic)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto fail;
	}
	rc = avformat_find_stream_info(ic, so);
	if (nested_opens > 0 || (rc < 0 && named_refusal(fmt, 0, 1000) >= 0)) {
		rc = refuse_format(fmt, e);
		goto fail;
	}
	if (rc < 0) {
		av_err(rc, b, sizeof(b));
		rc = msp_err_set(e, MSP_EMEDIA, "cannot read the streams: %s",
		    b);
		goto fail;
	}
	if ((rc = check_streams(ic, e)) != 0)
		goto fail;
	info_options_free(so, ns);
	free(url);
	*icp = ic;
	return 0;
fail:
	info_options_free(so, ns);
	avformat_close_input(&ic);
	avio_closep(&pb);
	free(url);
	return rc;
}

void
msp_media_close(AVFormatContext **icp)
{
	AVIOContext *pb;

	if (*icp == NULL)
		return;
	pb = (*icp)->pb;
	avformat_close_input(icp);
	avio_closep(&pb);
}

int
msp_media_open(const char *path, AVFormatContext **icp, struct msp_err *e)
{
	int64_t size;

	quiet_once();
	return guarded_open(path, icp, &size, e);
}

/* ---- probing -------------------------------------------------------- */

/* The stored original's extension: the input's own when the demuxer
 * knows it, else the format's usual one. */
static void
pick_ext(const char *src, const char *container, char *out, size_t n)
{
	const AVInputFormat *f = av_find_input_format(container);
	const char *base = strrchr(src, '/'), *dot, *alts = NULL;
	char ext[16], list[256];
	size_t len, i;
	int fi;

	snprintf(out, n, "%s", container);
	for (fi = 0; formats[fi].name != NULL; fi++)
		if (strcmp(container, formats[fi].name) == 0)
			break;
	if (formats[fi].name != NULL) {
		snprintf(out, n, "%s", formats[fi].ext);
		alts = formats[fi].alts;
	} else if (f != NULL && f->extensions != NULL) {
		snprintf(list, sizeof(list), "%s", f->extensions);
		for (i = 0; list[i] != '\0'; i++)
			if (list[i] == ',')
				list[i] = ' ';
		snprintf(out, n, "%.*s", (int)strcspn(list, " "), list);
		alts = list;
	}
	base = base ? base + 1 : src;
	if (alts == NULL || (dot = strrchr(base, '.')) == NULL)
		return;
	len = strcspn(dot + 1, "?#");
	if (len == 0 || len >= sizeof(ext))
		return;
	for (i = 0; i < len; i++)
		ext[i] = (char)tolower((unsigned char)dot[1 + i]);
	ext[len] = '\0';
	while (*alts != '\0') {
		size_t w = strcspn(alts, " ");
		if (w == len && memcmp(alts, ext, len) == 0) {
			snprintf(out, n, "%s", ext);
			return;
		}
		alts += w;
		while (*alts == ' ')
			alts++;
	}
}

void
msp_media_set_ext(struct msp_media_info *info, const char *name)
{
	pick_ext(name, info->container, info->ext, sizeof(info->ext));
}

/* The decoder of stream idx, opened; the picture size capped by the
 * limits whatever the header says. */
static int
decoder_open(AVFormatContext *ic, int idx, const char *what,
    AVCodecContext **cp, struct msp_err *e)
{
	AVStream *st = ic->streams[idx];
	const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
	AVCodecContext *c;
	char b[256];
	int rc;

	*cp = NULL;
	if (dec == NULL)
		return msp_err_set(e, MSP_EMEDIA, "%s codec '%s' cannot be "
		    "decoded", what, avcodec_get_name(st->codecpar->codec_id));
	if ((c = avcodec_alloc_context3(dec)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((rc = avcodec_parameters_to_context(c, st->codecpar)) >= 0) {
		c->thread_count = 1;
		c->pkt_timebase = st->time_base;
		c->max_pixels = limits.pixels;
		rc = avcodec_open2(c, dec, NULL);
	}
	if (rc < 0) {
		avcodec_free_context(&c);
		if (rc == AVERROR(ENOMEM))
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		av_err(rc, b, sizeof(b));
		return msp_err_set(e, MSP_EMEDIA, "%s codec '%s': %s", what,
		    dec->name, b);
	}
	*cp = c;
	return 0;
}

/*
 * Open the decoder of every stream in idx[] (video, audio; -1: none) and
 * read, in one pass from where the demuxer is, until each has given its
 * first frame (into fr[]).
 */
static int
decode_firsts(AVFormatContext *ic, const int idx[2], AVFrame *fr[2],
    struct msp_err *e)
{
	static const char *const what[2] = { "video", "audio" };
	AVCodecContext *c[2] = { NULL, NULL };
	AVPacket *pkt = NULL;
	char b[2][256];
	int rc = 0, got[2] = { 1, 1 }, left = 0, n, i, r;

	for (i = 0; i < 2; i++) {
		snprintf(b[i], sizeof(b[i]), "no frame in the stream");
		if (idx[i] < 0)
			continue;
		if ((rc = decoder_open(ic, idx[i], what[i], &c[i], e)) != 0)
			goto out;
		got[i] = 0;
		left++;
	}
	if ((pkt = av_packet_alloc()) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	for (n = 0; left > 0 && n < DECODE_PACKETS; n++) {
		r = av_read_frame(ic, pkt);
		if (r < 0) {
			for (i = 0; i < 2; i++) {
				if (got[i])
					continue;
				if (r != AVERROR_EOF)
					av_err(r, b[i], sizeof(b[i]));
				/* what the decoder still holds */
				avcodec_send_packet(c[i], NULL);
				if (avcodec_receive_frame(c[i], fr[i]) == 0)
					got[i] = 1;
			}
			break;
		}
		for (i = 0; i < 2; i++)
			if (!got[i] && pkt->stream_index == idx[i])
				break;
		if (i == 2) {
			av_packet_unref(pkt);
			continue;
		}
		r = avcodec_send_packet(c[i], pkt);
		av_packet_unref(pkt);
		if (r < 0 && r != AVERROR(EAGAIN))
			av_err(r, b[i], sizeof(b[i]));
		r = avcodec_receive_frame(c[i], fr[i]);
		if (r == 0) {
			got[i] = 1;
			left--;
		} else if (r != AVERROR(EAGAIN) && r != AVERROR_EOF) {
			av_err(r, b[i], sizeof(b[i]));
		}
	}
	for (i = 0; i < 2; i++)
		if (!got[i]) {
			rc = msp_err_set(e, MSP_EMEDIA, "no decodable %s frame "
			    "(%s)", what[i], b[i]);
			goto out;
		}
out:
	av_packet_free(&pkt);
	avcodec_free_context(&c[0]);
	avcodec_free_context(&c[1]);
	return rc;
}

/* A file whose index points past its end was cut short. */
static int
check_truncated(AVFormatContext *ic, int64_t size, struct msp_err *e)
{
	unsigned i;

	if (size <= 0)
		return 0;
	for (i = 0; i < ic->nb_streams; i++) {
		AVStream *st = ic->streams[i];
		int n = avformat_index_get_entries_count(st);
		const AVIndexEntry *ie;

		if (n <= 0)
			continue;
		ie = avformat_index_get_entry(st, n - 1);
		if (ie != NULL && ie->pos >= 0 && ie->pos + ie->size > size)
			return msp_err_set(e, MSP_EMEDIA, "file is truncated: "
			    "its media data runs to byte %lld but it has %lld "
			    "bytes", (long long)(ie->pos + ie->size),
			    (long long)size);
	}
	return 0;
}

/*
 * A file cut short whose header still declares the whole duration (a
 * Matroska segment's, an AVI header's frame count, an MP3 Xing frame
 * count, an IVF or MXF header's): seek to a
 * few seconds before the declared end and read packets (demuxing only)
 * until one of the used streams reaches within max(1 s, 2 %) of it.
 */
static int
check_end(AVFormatContext *ic, const int idx[2], struct msp_err *e)
{
	AVPacket *pkt;
	double d = 0, want, tol, end = -1, t;
	int64_t start = ic->start_time != AV_NOPTS_VALUE ? ic->start_time : 0;
	int64_t target, ts;
	int i, n, rc = 0;

	if (ic->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE)
		return 0; /* no declared end: the size says it */
	for (i = 0; i < 2; i++) {
		AVStream *st;
		if (idx[i] < 0)
			continue;
		st = ic->streams[idx[i]];
		if (st->duration > 0 && st->duration != AV_NOPTS_VALUE &&
		    (t = (double)st->duration * av_q2d(st->time_base)) > d)
			d = t;
		/* a frame count in the header (AVI's) declares an end too */
		if (i == 0 && st->nb_frames > 0 && st->avg_frame_rate.num > 0 &&
		    st->avg_frame_rate.den > 0 && (t = (double)st->nb_frames /
		    av_q2d(st->avg_frame_rate)) > d)
			d = t;
	}
	if (d <= 0 && ic->duration > 0)
		d = (double)ic->duration / AV_TIME_BASE;
	tol = d * 0.02 > 1.0 ? d * 0.02 : 1.0;
	if ((want = d - tol) <= 0)
		return 0; /* the first frames were the whole of it */
	t = want - END_BEFORE > 0 ? want - END_BEFORE : 0;
	target = start + (int64_t)(t * AV_TIME_BASE);
	/* on failure the packets are read from where the demuxer is */
	(void)avformat_seek_file(ic, -1, INT64_MIN, target, target, 0);
	if ((pkt = av_packet_alloc()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	for (n = 0; n < END_PACKETS && end < want; n++) {
		AVStream *st;
		if (av_read_frame(ic, pkt) < 0)
			break;
		for (i = 0; i < 2; i++)
			if (pkt->stream_index == idx[i])
				break;
		st = ic->streams[pkt->stream_index];
		ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
		if (i < 2 && ts != AV_NOPTS_VALUE) {
			t = (double)(ts + (pkt->duration > 0 ? pkt->duration :
			    0)) * av_q2d(st->time_base) -
			    (double)start / AV_TIME_BASE;
			if (t > end)
				end = t;
		}
		av_packet_unref(pkt);
	}
	av_packet_free(&pkt);
	if (end >= want)
		return 0;
	if (end < 0)
		rc = msp_err_set(e, MSP_EMEDIA, "file is truncated: no media "
		    "data near its declared end at %.1f s", d);
	else
		rc = msp_err_set(e, MSP_EMEDIA, "file is truncated: its media "
		    "ends at %.1f s of the declared %.1f s", end, d);
	return rc;
}

static const char *
field_order_name(enum AVFieldOrder f)
{
	switch (f) {
	case AV_FIELD_PROGRESSIVE:
		return "progressive";
	case AV_FIELD_TT:
		return "tt";
	case AV_FIELD_BB:
		return "bb";
	case AV_FIELD_TB:
		return "tb";
	case AV_FIELD_BT:
		return "bt";
	default:
		return "unknown";
	}
}

static int
rotation_of(AVStream *st)
{
	const uint8_t *m = av_stream_get_side_data(st,
	    AV_PKT_DATA_DISPLAYMATRIX, NULL);
	double th;
	long r;

	if (m == NULL)
		return 0;
	th = -av_display_rotation_get((const int32_t *)(const void *)m);
	if (isnan(th))
		return 0;
	r = lround(th / 90.0) * 90 % 360;
	return (int)(r < 0 ? r + 360 : r);
}

/* What the header says about the video stream, checked before decoding. */
static int
video_header(AVFormatContext *ic, int vi, struct msp_media_info *info,
    struct msp_err *e)
{
	AVStream *st = ic->streams[vi];
	AVCodecParameters *p = st->codecpar;
	AVRational r = st->avg_frame_rate;
	const char *s;

	info->has_video = 1;
	snprintf(info->vcodec, sizeof(info->vcodec), "%s",
	    avcodec_get_name(p->codec_id));
	if (r.num <= 0 || r.den <= 0)
		r = st->r_frame_rate;
	info->fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
	info->rotation = rotation_of(st);
	info->hdr = p->color_trc == AVCOL_TRC_SMPTE2084 ||
	    p->color_trc == AVCOL_TRC_ARIB_STD_B67;
	s = av_color_transfer_name(p->color_trc);
	snprintf(info->color_trc, sizeof(info->color_trc), "%s",
	    s && p->color_trc != AVCOL_TRC_UNSPECIFIED ? s : "unknown");
	if (p->width > 0 && p->height > 0)
		return check_size(p->width, p->height, e);
	return 0;
}

/* What the first frame says, and the checks that need it. */
static int
video_frame(AVStream *st, const AVFrame *fr, struct msp_media_info *info,
    struct msp_err *e)
{
	AVCodecParameters *p = st->codecpar;
	const char *s;
	int rc, w, h;

	info->width = w = fr->width > 0 ? fr->width : p->width;
	info->height = h = fr->height > 0 ? fr->height : p->height;
	s = av_get_pix_fmt_name(fr->format);
	snprintf(info->pix_fmt, sizeof(info->pix_fmt), "%s", s ? s : "unknown");
	if (p->field_order != AV_FIELD_UNKNOWN) {
		info->interlaced = p->field_order != AV_FIELD_PROGRESSIVE;
		snprintf(info->field_order, sizeof(info->field_order), "%s",
		    field_order_name(p->field_order));
	} else {
		info->interlaced = fr->interlaced_frame != 0;
		snprintf(info->field_order, sizeof(info->field_order), "%s",
		    !fr->interlaced_frame ? "progressive" :
		    fr->top_field_first ? "tt" : "bb");
	}
	if (w <= 0 || h <= 0)
		return msp_err_set(e, MSP_EMEDIA, "video has no picture size");
	if ((rc = check_size(w, h, e)) != 0)
		return rc;
	if (info->fps <= 0)
		return msp_err_set(e, MSP_EMEDIA, "frame rate unknown");
	if (info->fps > limits.fps)
		return msp_err_set(e, MSP_EMEDIA, "frame rate %g fps is out "
		    "of range (above 0, at most %g)", info->fps, limits.fps);
	return 0;
}

int
msp_media_probe(const char *src, struct msp_media_info *info,
    struct msp_err *e)
{
	AVFormatContext *ic = NULL;
	AVFrame *fr[2] = { NULL, NULL };
	int rc, idx[2];

	quiet_once();
	memset(info, 0, sizeof(*info));
	info->size = -1;
	if ((rc = guarded_open(src, &ic, &info->size, e)) != 0)
		return rc;
	snprintf(info->container, sizeof(info->container), "%.*s",
	    (int)strcspn(ic->iformat->name, ","), ic->iformat->name);
	pick_ext(src, info->container, info->ext, sizeof(info->ext));
	info->bit_rate = ic->bit_rate > 0 ? ic->bit_rate : 0;
	if (ic->duration != AV_NOPTS_VALUE && ic->duration > 0)
		info->duration = (double)ic->duration / AV_TIME_BASE;
	msp_media_streams(ic, &idx[0], &idx[1]);
	if (idx[0] < 0 && idx[1] < 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "no video or audio stream");
		goto out;
	}
	if ((rc = check_truncated(ic, info->size, e)) != 0)
		goto out;
	if (idx[0] >= 0 && (rc = video_header(ic, idx[0], info, e)) != 0)
		goto out;
	if (info->duration <= 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "duration unknown (a stream "
		    "without an end cannot be ingested)");
		goto out;
	}
	if (tenths(info->duration) > limits.duration) {
		rc = msp_err_set(e, MSP_EMEDIA, "duration %.1f s exceeds the "
		    "limit of %g s", info->duration, limits.duration);
		goto out;
	}
	if ((fr[0] = av_frame_alloc()) == NULL ||
	    (fr[1] = av_frame_alloc()) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = decode_firsts(ic, idx, fr, e)) != 0)
		goto out;
	if (idx[0] >= 0 && (rc = video_frame(ic->streams[idx[0]], fr[0], info,
	    e)) != 0)
		goto out;
	if (idx[1] >= 0) {
		AVCodecParameters *p = ic->streams[idx[1]]->codecpar;
		info->has_audio = 1;
		snprintf(info->acodec, sizeof(info->acodec), "%s",
		    avcodec_get_name(p->codec_id));
		info->channels = p->ch_layout.nb_channels > 0 ?
		    p->ch_layout.nb_channels : fr[1]->ch_layout.nb_channels;
		info->sample_rate = p->sample_rate > 0 ? p->sample_rate :
		    fr[1]->sample_rate;
	}
	if ((rc = check_end(ic, idx, e)) != 0)
		goto out;
	if (nested_opens > 0) {
		rc = refuse_format(ic->iformat, e);
		goto out;
	}
	if (info->bit_rate == 0 && info->size > 0)
		info->bit_rate = (int64_t)(info->size * 8 / info->duration);
	rc = 0;
out:
	av_frame_free(&fr[0]);
	av_frame_free(&fr[1]);
	msp_media_close(&ic);
	return rc;
}

int
msp_media_check(const struct msp_media_info *info, const char *video_type,
    int64_t max_size, struct msp_err *e)
{
	double d = tenths(info->duration);

	if (max_size <= 0)
		max_size = MSP_MEDIA_MAX_SIZE;
	if (info->size > max_size)
		return msp_err_set(e, MSP_EMEDIA, "size %lld bytes exceeds "
		    "the limit of %lld bytes", (long long)info->size,
		    (long long)max_size);
	if (video_type == NULL)
		return 0;
	if (strcmp(video_type, "short") == 0) {
		if (!info->has_video)
			return msp_err_set(e, MSP_EMEDIA, "no video stream: a "
			    "short video needs one (audio-only files are "
			    "accepted as long videos)");
		if (d < MSP_SHORT_MIN_S)
			return msp_err_set(e, MSP_EMEDIA, "duration %.1f s is "
			    "under short-video minimum %g s", d,
			    MSP_SHORT_MIN_S);
		if (d > MSP_SHORT_MAX_S)
			return msp_err_set(e, MSP_EMEDIA, "duration %.1f s "
			    "exceeds short-video limit %g s", d,
			    MSP_SHORT_MAX_S);
	} else if (strcmp(video_type, "long") == 0) {
		if (d < MSP_LONG_MIN_S)
			return msp_err_set(e, MSP_EMEDIA, "duration %.1f s is "
			    "under long-video minimum %g s", d, MSP_LONG_MIN_S);
	} else {
		return msp_err_set(e, MSP_EINVAL, "'%s': not a video type "
		    "(short or long)", video_type);
	}
	return 0;
}

/* A number with at most prec decimals and no trailing zeros. */
static json_object *
num(double v, int prec)
{
	char b[64];
	size_t n;

	snprintf(b, sizeof(b), "%.*f", prec, v);
	if (strchr(b, '.') != NULL) {
		n = strlen(b);
		while (n > 0 && b[n - 1] == '0')
			b[--n] = '\0';
		if (n > 0 && b[n - 1] == '.')
			b[--n] = '\0';
	}
	if (strcmp(b, "-0") == 0)
		snprintf(b, sizeof(b), "0");
	return json_object_new_double_s(v, b);
}

json_object *
msp_media_json(const struct msp_media_info *i)
{
	json_object *o, *v = NULL, *a = NULL;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "container",
	    json_object_new_string(i->container));
	json_object_object_add(o, "duration", num(i->duration, 3));
	json_object_object_add(o, "size", json_object_new_int64(i->size));
	json_object_object_add(o, "bitRate",
	    json_object_new_int64(i->bit_rate));
	if (i->has_video && (v = json_object_new_object()) != NULL) {
		json_object_object_add(v, "codec",
		    json_object_new_string(i->vcodec));
		json_object_object_add(v, "width",
		    json_object_new_int(i->width));
		json_object_object_add(v, "height",
		    json_object_new_int(i->height));
		json_object_object_add(v, "fps", num(i->fps, 3));
		json_object_object_add(v, "pixelFormat",
		    json_object_new_string(i->pix_fmt));
		json_object_object_add(v, "interlaced",
		    json_object_new_boolean(i->interlaced));
		json_object_object_add(v, "fieldOrder",
		    json_object_new_string(i->field_order));
		json_object_object_add(v, "rotation",
		    json_object_new_int(i->rotation));
		json_object_object_add(v, "colorTransfer",
		    json_object_new_string(i->color_trc));
		json_object_object_add(v, "hdr",
		    json_object_new_boolean(i->hdr));
	}
	json_object_object_add(o, "video", v);
	if (i->has_audio && (a = json_object_new_object()) != NULL) {
		json_object_object_add(a, "codec",
		    json_object_new_string(i->acodec));
		json_object_object_add(a, "channels",
		    json_object_new_int(i->channels));
		json_object_object_add(a, "sampleRate",
		    json_object_new_int(i->sample_rate));
	}
	json_object_object_add(o, "audio", a);
	return o;
}

int
msp_media_parse_size(const char *s, int64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0' && strcmp(end + 1, "iB") != 0 &&
	    strcmp(end + 1, "B") != 0)
		return -1;
	if (v == 0 || v > ((unsigned long long)INT64_MAX >> shift))
		return -1;
	*out = (int64_t)(v << shift);
	return 0;
}
