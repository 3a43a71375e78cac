/*
 * media: safe probing of uploads with libavformat and libavcodec.
 *
 * The order of things matters for safety: the input is opened as a byte
 * stream under a protocol whitelist, its format is guessed from the bytes
 * (av_probe_input_buffer2 only looks at them), and only a demuxer on the
 * allow-list is ever started, with the same protocol whitelist and a
 * format whitelist set on the AVFormatContext. A playlist or a concat
 * script is therefore refused before anything it names is touched.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
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
#define FORMATS "mov,matroska,mpegts,avi,flv,mp3,aac,wav,ogg,flac"
#define ACCEPTED "mp4/mov, mkv/webm, mpeg-ts, avi, flv, mp3, aac, wav, " \
	"ogg and flac"
#define NET_TIMEOUT_US "30000000"
#define DECODE_PACKETS 4096 /* packets read while looking for a frame */

/* The demuxers msp runs, and the extension of a stored original. */
static const struct {
	const char *name;  /* first name of the demuxer */
	const char *ext;   /* default extension */
	const char *alts;  /* other extensions kept from the input's name */
} formats[] = {
	{ "mov", "mp4", "mov mp4 m4v m4a 3gp 3g2" },
	{ "matroska", "mkv", "mkv webm mka" },
	{ "mpegts", "ts", "ts m2ts mts" },
	{ "avi", "avi", "avi" },
	{ "flv", "flv", "flv" },
	{ "mp3", "mp3", "mp3" },
	{ "aac", "aac", "aac" },
	{ "wav", "wav", "wav" },
	{ "ogg", "ogg", "ogg ogv oga opus" },
	{ "flac", "flac", "flac" },
	{ NULL, NULL, NULL }
};

/* Demuxers refused with a reason of their own: they read other files or
 * reach the network because of what the input says. */
static const struct {
	const char *name;
	const char *what;
} named_refusals[] = {
	{ "hls", "hls playlist" },
	{ "applehttp", "hls playlist" },
	{ "concat", "concat script" },
	{ "dash", "dash manifest" },
	{ "webm_dash_manifest", "dash manifest" },
	{ "imf", "imf composition playlist" },
	{ "sdp", "sdp session description" },
	{ "rtsp", "rtsp session" },
	{ "avisynth", "avisynth script" },
	{ "vapoursynth", "vapoursynth script" },
	{ "ffmetadata", "ffmetadata file" },
	{ "image2", "image sequence" },
	{ "tee", "tee" },
	{ NULL, NULL }
};

static int log_set;

void
msp_media_log(int level)
{
	log_set = 1;
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

/* ---- probing -------------------------------------------------------- */

static int
format_index(const AVInputFormat *f)
{
	size_t n;
	int i;

	for (i = 0; formats[i].name != NULL; i++) {
		n = strlen(formats[i].name);
		if (strncmp(f->name, formats[i].name, n) == 0 &&
		    (f->name[n] == '\0' || f->name[n] == ','))
			return i;
	}
	return -1;
}

static int
refuse_format(const AVInputFormat *f, struct msp_err *e)
{
	char first[64];
	size_t n = strcspn(f->name, ",");
	int i;

	snprintf(first, sizeof(first), "%.*s", (int)n, f->name);
	for (i = 0; named_refusals[i].name != NULL; i++)
		if (strcmp(first, named_refusals[i].name) == 0 ||
		    (strcmp(named_refusals[i].name, "image2") == 0 &&
		    strstr(first, "_pipe") != NULL))
			return msp_err_set(e, MSP_EMEDIA, "%s refused: msp "
			    "ingests plain media files, not files that name "
			    "other files or urls", named_refusals[i].what);
	return msp_err_set(e, MSP_EMEDIA, "unsupported format '%s' (msp "
	    "accepts %s)", first, ACCEPTED);
}

/* The extension of the stored original: the input's own when the format
 * knows it, else the format's default. */
static void
pick_ext(const char *src, int fi, char *out, size_t n)
{
	const char *base = strrchr(src, '/'), *dot, *alts;
	char ext[16];
	size_t len, i;

	base = base ? base + 1 : src;
	snprintf(out, n, "%s", formats[fi].ext);
	if ((dot = strrchr(base, '.')) == NULL)
		return;
	len = strcspn(dot + 1, "?#");
	if (len == 0 || len >= sizeof(ext))
		return;
	for (i = 0; i < len; i++)
		ext[i] = (char)tolower((unsigned char)dot[1 + i]);
	ext[len] = '\0';
	for (alts = formats[fi].alts; *alts != '\0'; ) {
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
	int i;

	for (i = 0; formats[i].name != NULL; i++)
		if (strcmp(info->container, formats[i].name) == 0) {
			pick_ext(name, i, info->ext, sizeof(info->ext));
			return;
		}
}

/* The main video stream: the largest that is not cover art. */
static int
video_stream(AVFormatContext *ic)
{
	int64_t best = -1;
	int idx = -1;
	unsigned i;

	for (i = 0; i < ic->nb_streams; i++) {
		AVStream *st = ic->streams[i];
		int64_t px;

		if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
		    (st->disposition & AV_DISPOSITION_ATTACHED_PIC))
			continue;
		px = (int64_t)st->codecpar->width * st->codecpar->height;
		if (px > best) {
			best = px;
			idx = (int)i;
		}
	}
	return idx;
}

/* Decode the first frame of stream idx into fr. */
static int
decode_first(AVFormatContext *ic, int idx, AVFrame *fr, const char *what,
    struct msp_err *e)
{
	AVStream *st = ic->streams[idx];
	const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
	AVCodecContext *c = NULL;
	AVPacket *pkt = NULL;
	char b[256] = "no frame in the stream";
	int rc, got = 0, n, eof = 0;

	if (dec == NULL)
		return msp_err_set(e, MSP_EMEDIA, "%s codec '%s' cannot be "
		    "decoded", what, avcodec_get_name(st->codecpar->codec_id));
	if ((c = avcodec_alloc_context3(dec)) == NULL ||
	    (pkt = av_packet_alloc()) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = avcodec_parameters_to_context(c, st->codecpar)) < 0)
		goto averr;
	c->thread_count = 1;
	c->pkt_timebase = st->time_base;
	/* no frame buffers beyond the size limit, whatever the header says */
	c->max_pixels = (int64_t)MSP_MEDIA_MAX_LONG * MSP_MEDIA_MAX_SHORT;
	if ((rc = avcodec_open2(c, dec, NULL)) < 0)
		goto averr;
	for (n = 0; !got && n < DECODE_PACKETS; n++) {
		if (!eof) {
			rc = av_read_frame(ic, pkt);
			if (rc == AVERROR_EOF) {
				eof = 1;
				rc = avcodec_send_packet(c, NULL);
			} else if (rc < 0) {
				av_err(rc, b, sizeof(b));
				break;
			} else if (pkt->stream_index != idx) {
				av_packet_unref(pkt);
				continue;
			} else {
				rc = avcodec_send_packet(c, pkt);
				av_packet_unref(pkt);
				if (rc < 0 && rc != AVERROR(EAGAIN))
					av_err(rc, b, sizeof(b));
			}
		}
		rc = avcodec_receive_frame(c, fr);
		if (rc == 0)
			got = 1;
		else if (rc == AVERROR_EOF)
			break;
		else if (rc != AVERROR(EAGAIN))
			av_err(rc, b, sizeof(b));
	}
	if (!got) {
		rc = msp_err_set(e, MSP_EMEDIA, "no decodable %s frame (%s)",
		    what, b);
		goto out;
	}
	rc = 0;
	goto out;
averr:
	av_err(rc, b, sizeof(b));
	rc = rc == AVERROR(ENOMEM) ? msp_err_set(e, MSP_ENOMEM,
	    "out of memory") : msp_err_set(e, MSP_EMEDIA, "%s codec '%s': %s",
	    what, dec->name, b);
out:
	av_packet_free(&pkt);
	avcodec_free_context(&c);
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

/* Dimensions within the limit in either orientation (0: not known yet). */
static int
check_size(int w, int h, struct msp_err *e)
{
	if ((w > h ? w : h) > MSP_MEDIA_MAX_LONG ||
	    (w > h ? h : w) > MSP_MEDIA_MAX_SHORT)
		return msp_err_set(e, MSP_EMEDIA, "dimensions %dx%d exceed the "
		    "limit of %dx%d", w, h, MSP_MEDIA_MAX_LONG,
		    MSP_MEDIA_MAX_SHORT);
	return 0;
}

static int
video_facts(AVFormatContext *ic, int vi, struct msp_media_info *info,
    struct msp_err *e)
{
	AVStream *st = ic->streams[vi];
	AVCodecParameters *p = st->codecpar;
	AVRational r = st->avg_frame_rate;
	AVFrame *fr;
	const char *s;
	int rc, w, h;

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
	if ((rc = check_size(p->width, p->height, e)) != 0)
		return rc;
	if ((fr = av_frame_alloc()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((rc = decode_first(ic, vi, fr, "video", e)) != 0)
		goto out;
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
	if (w <= 0 || h <= 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "video has no picture size");
		goto out;
	}
	if ((rc = check_size(w, h, e)) != 0)
		goto out;
	if (info->fps <= 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "frame rate unknown");
		goto out;
	}
	if (info->fps > MSP_MEDIA_MAX_FPS) {
		rc = msp_err_set(e, MSP_EMEDIA, "frame rate %g fps is out "
		    "of range (above 0, at most %d)", info->fps,
		    MSP_MEDIA_MAX_FPS);
		goto out;
	}
out:
	av_frame_free(&fr);
	return rc;
}

static int
audio_facts(AVFormatContext *ic, int ai, int decode,
    struct msp_media_info *info, struct msp_err *e)
{
	AVCodecParameters *p = ic->streams[ai]->codecpar;
	AVFrame *fr;
	int rc;

	info->has_audio = 1;
	snprintf(info->acodec, sizeof(info->acodec), "%s",
	    avcodec_get_name(p->codec_id));
	info->channels = p->ch_layout.nb_channels;
	info->sample_rate = p->sample_rate;
	if (!decode) {
		if (avcodec_find_decoder(p->codec_id) == NULL)
			return msp_err_set(e, MSP_EMEDIA, "audio codec '%s' "
			    "cannot be decoded", info->acodec);
		return 0;
	}
	if ((fr = av_frame_alloc()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	rc = decode_first(ic, ai, fr, "audio", e);
	if (rc == 0 && info->channels <= 0)
		info->channels = fr->ch_layout.nb_channels;
	if (rc == 0 && info->sample_rate <= 0)
		info->sample_rate = fr->sample_rate;
	av_frame_free(&fr);
	return rc;
}

int
msp_media_probe(const char *src, struct msp_media_info *info,
    struct msp_err *e)
{
	AVFormatContext *ic = NULL;
	const AVInputFormat *fmt = NULL;
	AVIOContext *pb = NULL;
	AVDictionary *o = NULL;
	const char *wl;
	char *url = NULL, b[256];
	int rc, fi, vi, ai;

	quiet_once();
	memset(info, 0, sizeof(*info));
	info->size = -1;
	if ((rc = io_open(src, &pb, &url, &wl, e)) != 0)
		return rc;
	info->size = avio_size(pb);
	if (info->size == 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "empty file");
		goto out;
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
		goto out;
	}
	if ((fi = format_index(fmt)) < 0) {
		rc = refuse_format(fmt, e);
		goto out;
	}
	snprintf(info->container, sizeof(info->container), "%s",
	    formats[fi].name);
	pick_ext(src, fi, info->ext, sizeof(info->ext));
	if ((ic = avformat_alloc_context()) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	ic->pb = pb; /* ours: closed below, not by avformat_close_input */
	av_dict_set(&o, "protocol_whitelist", wl, 0);
	av_dict_set(&o, "format_whitelist", FORMATS, 0);
	av_dict_set(&o, "enable_drefs", "0", 0);
	rc = avformat_open_input(&ic, url, fmt, &o);
	av_dict_free(&o);
	if (rc < 0) {
		/* ic was freed */
		if (rc == AVERROR(ENOMEM)) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		} else {
			av_err(rc, b, sizeof(b));
			rc = msp_err_set(e, MSP_EMEDIA, "cannot read the %s "
			    "container: %s (truncated or corrupt file)",
			    info->container, b);
		}
		goto out;
	}
	if ((rc = avformat_find_stream_info(ic, NULL)) < 0) {
		av_err(rc, b, sizeof(b));
		rc = msp_err_set(e, MSP_EMEDIA, "cannot read the streams: %s",
		    b);
		goto out;
	}
	info->bit_rate = ic->bit_rate > 0 ? ic->bit_rate : 0;
	if (ic->duration != AV_NOPTS_VALUE && ic->duration > 0)
		info->duration = (double)ic->duration / AV_TIME_BASE;
	vi = video_stream(ic);
	ai = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
	if (vi < 0 && ai < 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "no video or audio stream");
		goto out;
	}
	if ((rc = check_truncated(ic, info->size, e)) != 0)
		goto out;
	if (vi >= 0 && (rc = video_facts(ic, vi, info, e)) != 0)
		goto out;
	if (ai >= 0 && (rc = audio_facts(ic, ai, vi < 0, info, e)) != 0)
		goto out;
	if (info->duration <= 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "duration unknown (a stream "
		    "without an end cannot be ingested)");
		goto out;
	}
	if (info->bit_rate == 0 && info->size > 0)
		info->bit_rate = (int64_t)(info->size * 8 / info->duration);
	rc = 0;
out:
	avformat_close_input(&ic);
	avio_closep(&pb);
	free(url);
	return rc;
}

/* Durations compare at 0.1 s, the precision messages show. */
static double
tenths(double s)
{
	return round(s * 10.0) / 10.0;
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
