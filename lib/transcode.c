/* transcode: the engine. See transcode.h for the shape; in short:
 *
 *   main thread:  demux video -> decode -> (rotate) -> a small frame queue
 *                 per rung that scales from the source
 *   rung threads: scale (a filter graph of its own: scale, setsar, format)
 *                 -> the queues of the rungs that scale from this one (a
 *                 rung exactly half this one's size) -> force keyframes on
 *                 the segment grid -> libx264 -> mux
 *                 (fMP4 fragments or MPEG-TS) through a custom AVIO that
 *                 writes one file per segment; interleave the shared AAC
 *                 packets; publish segments and playlists
 *   audio thread: its own demuxer -> decode -> resample -> AAC -> the
 *                 shared packet list (read by every rung)
 *
 * The poster is taken in the largest rung's thread, the sprite thumbnails
 * in the smallest one's.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/cpu.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#include "blob.h"
#include "dash.h"
#include "hls.h"
#include "media.h"
#include "transcode.h"
#include "util.h"

#define QCAP 2              /* frames queued per rung */
#define AUDIO_AHEAD 30     /* seconds the audio thread may run ahead */
#define AUDIO_AHEAD_START 3 /* the same until the video is playable: the
                             * first segment's pictures get the cores */
#define AUDIO_RATE 128000
#define THUMB_LONG 160      /* long side of a sprite thumbnail */
#define THUMB_MAX 200
#define SPRITE_COLS 10
#define FIRST_MS 1000       /* the first segment's length */
#define BIG_PICTURE (4096 * 2160) /* pixels: one decoding thread above */
#define X264_THREADS 8      /* threads of one rung's encoder, at most */
#define MMAP_MIN (256 * 1024) /* bytes: blocks mapped on their own */
#define PRESCALE 2          /* source pixels over the largest rung's */
#define DEINTERLACE "bwdif=mode=send_frame:parity=auto:deint=interlaced"

struct tc;

struct rung {
	struct tc *tc;
	int idx;
	struct msp_rung_size sz;
	char name[32];
	char *dir;                /* key prefix: out/name */
	AVFilterGraph *graph;     /* scale, setsar=1, format=yuv420p */
	AVFilterContext *src, *sink;
	struct rung *from;        /* the rung it scales from; NULL: the source */
	struct rung *kid[MSP_LADDER_MAX]; /* those that scale from it */
	int nkid;
	/* frame queue, main thread or from -> this rung */
	AVFrame *q[QCAP];
	int qh, qn, qeof;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	AVCodecContext *enc;
	AVCodecContext *enc0;     /* the first segment's encoder (no delay) */
	AVFormatContext *oc;
	AVStream *vst, *ast;
	struct msp_blob_writer *cur; /* the segment being written */
	int64_t cur_bytes;
	int io_err;
	struct msp_err ioerr;
	struct msp_hls_seg *segs; /* under tc->mu */
	int nseg, segcap;
	int seg_data;
	int64_t seg_start, next_cut, next_force, max_end, last_pts;
	size_t aidx;              /* next shared audio packet; under tc->mu */
	int adone;
	char codecs[48];
	atomic_long done_ms;      /* media time muxed */
	double end_s;             /* the end of the last frame muxed (s) */
	atomic_long frames;
	int rc;
	struct msp_err err;
	pthread_t th;
	int started;
};

struct tc {
	const struct msp_tc_opts *o;
	const char *in;
	struct msp_blob *b;      /* where the output goes */
	const char *out;         /* its key prefix ("" or "media/hls/ID") */
	AVFormatContext *ic;
	AVCodecContext *vdec;
	int vi, ai;
	int64_t start;           /* AV_TIME_BASE */
	double duration;         /* seconds, 0 if unknown */
	AVRational fr;
	int rotation, dw, dh;
	int64_t seg_ms;
	int64_t first_ms;        /* the first segment: short, to start early */
	double cstart, cend;     /* a chunk's range (seconds); cend 0: all */
	int past_end;            /* a chunk's video is complete */
	int a_past_end;          /* and its audio */
	AVFilterGraph *graph;    /* deinterlace, rotate; NULL: neither */
	AVFilterContext *src, *sink;
	struct rung r[MSP_LADDER_MAX];
	int nr;
	int64_t vlast;           /* last decoded pts (stream tb) */
	double vdecoded;         /* seconds decoded */

	/* audio */
	AVFormatContext *aic;
	AVCodecContext *adec, *aenc;
	SwrContext *swr;
	AVAudioFifo *fifo;
	int64_t a_pts;
	int a_have_pts;
	pthread_t ath;
	int astarted;
	AVPacket **apk;          /* shared packets; under mu */
	size_t an, acap, afreed;
	int aeof, arc;
	struct msp_err aerr;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int abort_;
	atomic_int playable;
	int mpd_n;               /* segments a rung in the last dynamic MPD */
	int64_t wall0_ms;        /* when the transcode began (epoch ms) */
	int pub_err;
	struct msp_err perr;

	/* poster and thumbnails (main thread) */
	AVFrame *poster;
	int poster_done;
	AVFrame *thumbs[THUMB_MAX];
	int nthumb, tw, th;
	double thumb_iv, next_thumb;
	struct SwsContext *tsws;
	struct timespec t0;
};

static double
elapsed(const struct tc *tc)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - tc->t0.tv_sec) +
	    (double)(t.tv_nsec - tc->t0.tv_nsec) / 1e9;
}

static int
ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static int
averr(struct msp_err *e, int code, int ret, const char *what)
{
	char buf[AV_ERROR_MAX_STRING_SIZE];

	av_strerror(ret, buf, sizeof(buf));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return msp_err_set(e, code, "%s: %s", what, buf);
}

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

/* ---- per-segment output through a custom AVIO ---------------------- */

static int
io_write(void *opaque, uint8_t *buf, int n)
{
	struct rung *r = opaque;

	if (r->cur == NULL)
		return n; /* the trailer: not needed */
	if (msp_blob_writer_write(r->cur, buf, (size_t)n, &r->ioerr) != 0) {
		r->io_err = EIO;
		return AVERROR(EIO);
	}
	r->cur_bytes += n;
	return n;
}

static void
seg_name(const struct rung *r, int i, char *out, size_t n)
{
	snprintf(out, n, r->tc->o->format == MSP_TC_FMP4 ? "seg%05d.m4s" :
	    "seg%05d.ts", i + r->tc->o->first_seg);
}

/* the key of name in dir ("" is the top) */
static char *
okey(const char *dir, const char *name)
{
	return *dir == '\0' ? msp_strdup(name) :
	    msp_sprintf("%s/%s", dir, name);
}

/* Write data as dir/name, at once. */
static int
put(struct tc *tc, const char *dir, const char *name, const void *data,
    size_t len, int flags, struct msp_err *e)
{
	char *k = okey(dir, name);
	int rc;

	if (k == NULL)
		return oom(e);
	rc = msp_blob_put(tc->b, k, data, len, flags, e);
	free(k);
	return rc;
}

/* Segments are written as they are muxed (a bucket: streamed) and
 * published when complete; the directory is synced at the end. */
static int
file_open(struct rung *r, const char *name, struct msp_err *e)
{
	char *k = okey(r->dir, name);
	int rc;

	if (k == NULL)
		return oom(e);
	rc = msp_blob_writer_open(r->tc->b, k, MSP_BLOB_LAZY, &r->cur, e);
	free(k);
	r->cur_bytes = 0;
	return rc;
}

static int
file_close(struct rung *r, const char *name, struct msp_err *e)
{
	struct msp_blob_writer *w = r->cur;

	(void)name;
	r->cur = NULL;
	if (r->io_err != 0) {
		msp_blob_writer_abort(w);
		if (e != NULL)
			*e = r->ioerr;
		return r->ioerr.code ? r->ioerr.code : MSP_EIO;
	}
	return msp_blob_writer_publish(w, NULL, MSP_BLOB_LAZY, NULL, e);
}

/* ---- playlists ------------------------------------------------------- */

static const char *
uri_fmt(const struct tc *tc)
{
	return tc->o->format == MSP_TC_FMP4 ? "seg%05d.m4s" : "seg%05d.ts";
}

static int
write_variant(struct rung *r, int event, struct msp_err *e)
{
	struct tc *tc = r->tc;
	int target = msp_hls_target(r->segs, r->nseg,
	    (double)tc->seg_ms / 1000);
	char *s;
	int rc;

	/* during EVENT the target must not change later: keep ceil(segment)
	 * unless a longer segment already forced it up */
	s = msp_hls_variant(r->segs, r->nseg, target, uri_fmt(tc),
	    tc->o->format == MSP_TC_FMP4 ? "init.mp4" : NULL, event);
	if (s == NULL)
		return oom(e);
	rc = put(tc, r->dir, "index.m3u8", s, strlen(s),
	    event ? MSP_BLOB_LIVE : 0, e);
	free(s);
	return rc;
}

static double
fps_of(const struct tc *tc)
{
	return tc->fr.num > 0 && tc->fr.den > 0 ? av_q2d(tc->fr) : 0;
}

/* A rung's peak and average rate. final: measured; else the nominal
 * rate where larger (the first segments say little). */
static void
rung_rates(const struct tc *tc, const struct rung *r, int final, long *peak,
    long *avg)
{
	long nominal;

	msp_hls_rates(r->segs, r->nseg, peak, avg);
	nominal = (r->enc ? r->sz.bitrate : 0) + (tc->aenc ? AUDIO_RATE : 0);
	if (!final) {
		nominal = nominal + nominal / 10;
		if (*peak < nominal)
			*peak = nominal;
		if (*avg < nominal)
			*avg = nominal;
	}
}

static int
write_master(struct tc *tc, int final, struct msp_err *e)
{
	struct msp_hls_stream s[MSP_LADDER_MAX];
	char uris[MSP_LADDER_MAX][48];
	char *m;
	int i, rc;

	for (i = 0; i < tc->nr; i++) {
		struct rung *r = &tc->r[i];
		long peak, avg;

		rung_rates(tc, r, final, &peak, &avg);
		snprintf(uris[i], sizeof(uris[i]), "%s/index.m3u8", r->name);
		s[i].bandwidth = peak;
		s[i].avg_bandwidth = avg;
		s[i].w = r->enc ? r->sz.w : 0;
		s[i].h = r->enc ? r->sz.h : 0;
		s[i].fps = r->enc ? fps_of(tc) : 0;
		s[i].codecs = r->codecs;
		s[i].uri = uris[i];
	}
	if ((m = msp_hls_master(s, tc->nr)) == NULL)
		return oom(e);
	rc = put(tc, tc->out, "master.m3u8", m, strlen(m),
	    final ? 0 : MSP_BLOB_LIVE, e);
	free(m);
	return rc;
}

/* fMP4: the DASH manifest beside the master, naming the same segments.
 * While transcoding (dynamic) it lists the segments every rung has, and
 * is rewritten when that count grows; final: all, static. */
static int
write_mpd(struct tc *tc, int final, struct msp_err *e)
{
	struct msp_dash_rep d[MSP_LADDER_MAX];
	struct msp_dash_opts o;
	char *m;
	int i, n = 0, rc;

	if (tc->o->format != MSP_TC_FMP4 || tc->o->chunked)
		return 0;
	for (i = 0; i < tc->nr; i++)
		if (i == 0 || tc->r[i].nseg < n)
			n = tc->r[i].nseg;
	if (!final && n == tc->mpd_n)
		return 0;
	for (i = 0; i < tc->nr; i++) {
		struct rung *r = &tc->r[i];
		long avg;

		rung_rates(tc, r, final, &d[i].bandwidth, &avg);
		d[i].id = r->name;
		d[i].w = r->enc ? r->sz.w : 0;
		d[i].h = r->enc ? r->sz.h : 0;
		d[i].fps = r->enc ? fps_of(tc) : 0;
		d[i].codecs = r->codecs;
		d[i].segs = r->segs;
		d[i].nseg = final ? r->nseg : n;
	}
	memset(&o, 0, sizeof(o));
	o.dynamic = !final;
	o.start_ms = tc->wall0_ms;
	o.now_ms = msp_now_ms();
	o.segment = (double)tc->seg_ms / 1000;
	for (i = 0; final && i < tc->nr; i++)
		if (tc->r[i].end_s > o.end)
			o.end = tc->r[i].end_s;
	if ((rc = msp_dash_mpd(d, tc->nr, &o, &m, e)) != 0)
		return rc;
	rc = put(tc, tc->out, "manifest.mpd", m, strlen(m),
	    final ? 0 : MSP_BLOB_LIVE, e);
	free(m);
	if (rc == 0)
		tc->mpd_n = n;
	return rc;
}

/* A rung finished segment seg: record it; once every rung has one, the
 * EVENT playlists and the master appear. Under tc->mu. */
static int
publish_locked(struct rung *r, struct msp_hls_seg seg, struct msp_err *e)
{
	struct tc *tc = r->tc;
	int i, rc;

	if (r->nseg == r->segcap) {
		int cap = r->segcap ? r->segcap * 2 : 64;
		struct msp_hls_seg *p = realloc(r->segs,
		    (size_t)cap * sizeof(*p));
		if (p == NULL)
			return oom(e);
		r->segs = p;
		r->segcap = cap;
	}
	r->segs[r->nseg++] = seg;
	if (tc->o->chunked)
		return 0; /* the dispatcher writes the playlists */
	if (atomic_load(&tc->playable))
		return (rc = write_variant(r, 1, e)) != 0 ? rc :
		    write_mpd(tc, 0, e);
	for (i = 0; i < tc->nr; i++)
		if (tc->r[i].nseg == 0)
			return 0;
	for (i = 0; i < tc->nr; i++)
		if ((rc = write_variant(&tc->r[i], 1, e)) != 0)
			return rc;
	if ((rc = write_master(tc, 0, e)) != 0 ||
	    (rc = write_mpd(tc, 0, e)) != 0)
		return rc;
	atomic_store(&tc->playable, 1);
	return 0;
}

/* ---- muxing ---------------------------------------------------------- */

static int64_t
grid(const struct tc *tc, int64_t k, AVRational tb)
{
	int64_t ms = k <= 0 ? 0 : tc->first_ms + (k - 1) * tc->seg_ms;

	return av_rescale_q(ms, (AVRational){ 1, 1000 }, tb);
}

/* the first grid point after pts */
static int64_t
grid_next(const struct tc *tc, int64_t pts, AVRational tb)
{
	int64_t ms = av_rescale_q_rnd(pts, tb, (AVRational){ 1, 1000 },
	    AV_ROUND_DOWN | AV_ROUND_PASS_MINMAX);
	int64_t k = ms < tc->first_ms ? 0 : /* before 0 too: segment 0 */
	    (ms - tc->first_ms) / tc->seg_ms + 1;
	int64_t g = grid(tc, k + 1, tb);

	while (g <= pts) /* rounding */
		g = grid(tc, ++k + 1, tb);
	return g;
}

static int
cut(struct rung *r, int64_t end, AVRational tb, int last, struct msp_err *e)
{
	struct tc *tc = r->tc;
	struct msp_hls_seg seg;
	char name[32];
	int ret, rc;

	if ((ret = av_write_frame(r->oc, NULL)) < 0)
		return averr(e, MSP_EIO, ret, r->name);
	avio_flush(r->oc->pb);
	if (r->io_err) {
		if (e != NULL)
			*e = r->ioerr;
		return r->ioerr.code ? r->ioerr.code : MSP_EIO;
	}
	seg_name(r, r->nseg, name, sizeof(name));
	seg.bytes = r->cur_bytes;
	seg.dur = (double)(end - r->seg_start) * av_q2d(tb);
	if ((rc = file_close(r, name, e)) != 0)
		return rc;
	pthread_mutex_lock(&tc->mu);
	rc = publish_locked(r, seg, e);
	pthread_mutex_unlock(&tc->mu);
	if (rc != 0 || last)
		return rc;
	seg_name(r, r->nseg, name, sizeof(name));
	if ((rc = file_open(r, name, e)) != 0)
		return rc;
	if (tc->o->format == MSP_TC_TS)
		av_opt_set(r->oc->priv_data, "mpegts_flags", "+resend_headers",
		    0);
	r->seg_start = end;
	r->seg_data = 0;
	return 0;
}

static int
mux(struct rung *r, AVPacket *pkt, AVRational tb, AVStream *st,
    struct msp_err *e)
{
	int ret;

	av_packet_rescale_ts(pkt, tb, st->time_base);
	if (r->tc->o->chunked) {
		int64_t off = av_rescale_q(MSP_TC_CHUNK_OFFSET_MS,
		    (AVRational){ 1, 1000 }, st->time_base);
		pkt->pts += off;
		pkt->dts += off;
	}
	pkt->stream_index = st->index;
	if (pkt->pts != AV_NOPTS_VALUE && (double)(pkt->pts + pkt->duration) *
	    av_q2d(st->time_base) > r->end_s)
		r->end_s = (double)(pkt->pts + pkt->duration) *
		    av_q2d(st->time_base);
	if ((ret = av_write_frame(r->oc, pkt)) < 0)
		return averr(e, MSP_EIO, ret, r->name);
	r->seg_data = 1;
	return 0;
}

/* Mux the shared audio packets that come before (pts < t, strict) or at
 * (dts <= t) t in tb; all of them when tb.num == 0. Waits for the audio
 * thread when the next packet is not there yet. */
static int
mux_audio(struct rung *r, int64_t t, AVRational tb, int strict,
    struct msp_err *e)
{
	struct tc *tc = r->tc;
	AVPacket *p;
	int rc = 0;

	if (tc->aenc == NULL)
		return 0;
	pthread_mutex_lock(&tc->mu);
	for (;;) {
		if (r->aidx < tc->an) {
			AVPacket *a = tc->apk[r->aidx];
			if (tb.num != 0) {
				int c = av_compare_ts(a->pts,
				    tc->aenc->time_base, t, tb);
				if (strict ? c >= 0 : c > 0)
					break;
			}
			p = av_packet_clone(a);
			r->aidx++;
			pthread_cond_broadcast(&tc->cv);
			pthread_mutex_unlock(&tc->mu);
			if (p == NULL)
				return oom(e);
			rc = mux(r, p, tc->aenc->time_base, r->ast, e);
			av_packet_free(&p);
			if (rc != 0)
				return rc;
			pthread_mutex_lock(&tc->mu);
			continue;
		}
		if (tc->aeof || atomic_load(&tc->abort_))
			break;
		pthread_cond_wait(&tc->cv, &tc->mu);
	}
	pthread_mutex_unlock(&tc->mu);
	return rc;
}

/* The segment ends at the picture at end: the audio up to it, then the
 * cut. */
static int
cut_video(struct rung *r, int64_t end, AVRational tb, struct msp_err *e)
{
	int rc;

	if ((rc = mux_audio(r, end, tb, 1, e)) != 0)
		return rc;
	return cut(r, end, tb, 0, e);
}

static int
mux_video(struct rung *r, AVPacket *pkt, struct msp_err *e)
{
	AVRational tb = r->enc->time_base;
	int64_t dur = pkt->duration > 0 ? pkt->duration :
	    av_rescale_q(1, av_inv_q(r->tc->fr), tb);
	int rc;

	if ((pkt->flags & AV_PKT_FLAG_KEY) && pkt->pts >= r->next_cut) {
		if (r->seg_data) {
			if ((rc = cut_video(r, pkt->pts, tb, e)) != 0)
				return rc;
		} else {
			r->seg_start = pkt->pts;
		}
		r->next_cut = grid_next(r->tc, pkt->pts, tb);
	}
	if ((rc = mux_audio(r, pkt->dts, tb, 0, e)) != 0)
		return rc;
	if (pkt->pts + dur > r->max_end)
		r->max_end = pkt->pts + dur;
	atomic_store(&r->done_ms, (long)av_rescale_q(pkt->pts, tb,
	    (AVRational){ 1, 1000 }));
	return mux(r, pkt, tb, r->vst, e);
}

static int
encode_with(struct rung *r, AVCodecContext *enc, AVFrame *f,
    struct msp_err *e)
{
	AVPacket *pkt;
	int ret, rc = 0;

	if ((ret = avcodec_send_frame(enc, f)) < 0)
		return averr(e, MSP_EMEDIA, ret, r->name);
	if ((pkt = av_packet_alloc()) == NULL)
		return oom(e);
	for (;;) {
		ret = avcodec_receive_packet(enc, pkt);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			break;
		if (ret < 0) {
			rc = averr(e, MSP_EMEDIA, ret, r->name);
			break;
		}
		rc = mux_video(r, pkt, e);
		av_packet_unref(pkt);
		if (rc != 0)
			break;
	}
	av_packet_free(&pkt);
	return rc;
}

/* The first segment ends where f (NULL: the end of the pictures) is:
 * the first segment's encoder gives all it holds, and the segment is cut
 * at once, without waiting for the other encoder's delay (its lookahead
 * and frame threads) to fill. */
static int
starter_done(struct rung *r, const AVFrame *f, struct msp_err *e)
{
	int rc;

	rc = encode_with(r, r->enc0, NULL, e);
	avcodec_free_context(&r->enc0);
	if (rc != 0 || f == NULL || !r->seg_data)
		return rc;
	return cut_video(r, f->pts, r->enc->time_base, e);
}

/* f (NULL: the end) to the encoder of its segment */
static int
encode(struct rung *r, AVFrame *f, struct msp_err *e)
{
	int rc;

	if (r->enc0 != NULL) {
		if (f != NULL && f->pts < grid(r->tc, 1, r->enc->time_base))
			return encode_with(r, r->enc0, f, e);
		if ((rc = starter_done(r, f, e)) != 0)
			return rc;
	}
	return encode_with(r, r->enc, f, e);
}

static AVFrame *
q_pop(struct rung *r, int *eof)
{
	AVFrame *f = NULL;

	pthread_mutex_lock(&r->mu);
	while (r->qn == 0 && !r->qeof)
		pthread_cond_wait(&r->cv, &r->mu);
	if (r->qn > 0) {
		f = r->q[r->qh];
		r->qh = (r->qh + 1) % QCAP;
		r->qn--;
		pthread_cond_broadcast(&r->cv);
	}
	*eof = f == NULL;
	pthread_mutex_unlock(&r->mu);
	return f;
}

/* Takes f (NULL: end of stream); dropped once everything stops. */
static void
q_push(struct rung *r, AVFrame *f)
{
	pthread_mutex_lock(&r->mu);
	if (f == NULL) {
		r->qeof = 1;
	} else {
		while (r->qn == QCAP && !atomic_load(&r->tc->abort_))
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->qn == QCAP)
			av_frame_free(&f);
		else
			r->q[(r->qh + r->qn) % QCAP] = f;
		if (f != NULL)
			r->qn++;
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void
rung_stop_audio(struct rung *r)
{
	pthread_mutex_lock(&r->tc->mu);
	r->adone = 1;
	pthread_cond_broadcast(&r->tc->cv);
	pthread_mutex_unlock(&r->tc->mu);
}

static int
rung_finish(struct rung *r, AVRational tb, struct msp_err *e)
{
	int rc;

	if ((rc = mux_audio(r, 0, (AVRational){ 0, 1 }, 0, e)) != 0)
		return rc;
	if (!r->seg_data && r->nseg > 0) {
		/* nothing since the last cut (cannot happen with video) */
		msp_blob_writer_abort(r->cur);
		r->cur = NULL;
		return 0;
	}
	if ((rc = cut(r, r->max_end, tb, 1, e)) != 0)
		return rc;
	av_write_trailer(r->oc); /* goes nowhere: r->cur is NULL */
	return 0;
}

/* stop everything: this rung cannot go on */
static void
rung_fail(struct rung *r)
{
	pthread_mutex_lock(&r->tc->mu);
	r->adone = 1;
	atomic_store(&r->tc->abort_, 1);
	pthread_cond_broadcast(&r->tc->cv);
	pthread_mutex_unlock(&r->tc->mu);
}

static void take_frames(struct tc *, AVFrame *, int);

/* A scaled frame f (taken): to the rungs that scale from it, then to the
 * encoder. */
static int
rung_frame(struct rung *r, AVFrame *f, struct msp_err *e)
{
	AVFrame *c;
	int i, rc;

	for (i = 0; i < r->nkid; i++) {
		if ((c = av_frame_clone(f)) == NULL) {
			av_frame_free(&f);
			return oom(e);
		}
		q_push(r->kid[i], c);
	}
	take_frames(r->tc, f, r->idx);
	if (f->pts >= r->next_force) {
		f->pict_type = AV_PICTURE_TYPE_I;
		r->next_force = grid_next(r->tc, f->pts, r->enc->time_base);
	} else {
		f->pict_type = AV_PICTURE_TYPE_NONE;
	}
	rc = encode(r, f, e);
	av_frame_free(&f);
	atomic_fetch_add(&r->frames, 1);
	return rc;
}

/* Scale f (NULL: the end) and pass on what the graph gives. */
static int
rung_scale(struct rung *r, AVFrame *f, struct msp_err *e)
{
	AVFrame *g;
	int ret, rc;

	ret = av_buffersrc_add_frame_flags(r->src, f, 0);
	av_frame_free(&f);
	if (ret < 0)
		return averr(e, MSP_EMEDIA, ret, "filter graph");
	for (;;) {
		if ((g = av_frame_alloc()) == NULL)
			return oom(e);
		ret = av_buffersink_get_frame(r->sink, g);
		if (ret < 0) {
			av_frame_free(&g);
			if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
				return 0;
			return averr(e, MSP_EMEDIA, ret, "filter graph");
		}
		if ((rc = rung_frame(r, g, e)) != 0)
			return rc;
	}
}

/* The calling thread's name (what top -H and perf show): "tc NAME".
 * Threads started by this one (the encoder's) inherit it. */
static void
name_thread(const char *name)
{
	char buf[16] = "tc ";
	size_t n = strnlen(name, sizeof(buf) - 4);

	memcpy(buf + 3, name, n);
	buf[3 + n] = '\0';
	(void)pthread_setname_np(pthread_self(), buf);
}

static void *
rung_video(void *arg)
{
	struct rung *r = arg;
	AVFrame *f;
	int eof, i;

	name_thread(r->name);
	for (;;) {
		f = q_pop(r, &eof);
		if (eof)
			break;
		if (r->rc != 0 || atomic_load(&r->tc->abort_)) {
			av_frame_free(&f);
			continue;
		}
		if ((r->rc = rung_scale(r, f, &r->err)) != 0)
			rung_fail(r);
	}
	if (r->rc == 0 && !atomic_load(&r->tc->abort_))
		r->rc = rung_scale(r, NULL, &r->err);
	for (i = 0; i < r->nkid; i++)
		q_push(r->kid[i], NULL);
	if (r->rc == 0 && !atomic_load(&r->tc->abort_))
		r->rc = encode(r, NULL, &r->err);
	if (r->rc == 0 && !atomic_load(&r->tc->abort_))
		r->rc = rung_finish(r, r->enc->time_base, &r->err);
	if (r->rc != 0)
		rung_fail(r);
	rung_stop_audio(r);
	return NULL;
}

/* audio only: one variant, cut on the grid */
static void *
rung_audio(void *arg)
{
	struct rung *r = arg;
	struct tc *tc = r->tc;
	AVRational tb = tc->aenc->time_base;
	AVPacket *p;

	for (;;) {
		pthread_mutex_lock(&tc->mu);
		while (r->aidx >= tc->an && !tc->aeof &&
		    !atomic_load(&tc->abort_))
			pthread_cond_wait(&tc->cv, &tc->mu);
		if (r->aidx >= tc->an || atomic_load(&tc->abort_)) {
			pthread_mutex_unlock(&tc->mu);
			break;
		}
		p = av_packet_clone(tc->apk[r->aidx++]);
		pthread_cond_broadcast(&tc->cv);
		pthread_mutex_unlock(&tc->mu);
		if (p == NULL) {
			r->rc = oom(&r->err);
			break;
		}
		if (p->pts >= r->next_cut) {
			if (r->seg_data)
				r->rc = cut(r, p->pts, tb, 0, &r->err);
			else
				r->seg_start = p->pts;
			r->next_cut = grid_next(tc, p->pts, tb);
		}
		if (p->pts + p->duration > r->max_end)
			r->max_end = p->pts + p->duration;
		atomic_store(&r->done_ms, (long)av_rescale_q(p->pts, tb,
		    (AVRational){ 1, 1000 }));
		if (r->rc == 0)
			r->rc = mux(r, p, tb, r->ast, &r->err);
		av_packet_free(&p);
		if (r->rc != 0)
			break;
	}
	if (r->rc == 0 && !atomic_load(&tc->abort_)) {
		if (!r->seg_data)
			r->rc = msp_err_set(&r->err, MSP_EMEDIA,
			    "no audio could be decoded");
		else
			r->rc = rung_finish(r, tb, &r->err);
	}
	if (r->rc != 0)
		rung_fail(r);
	rung_stop_audio(r);
	return NULL;
}

/* ---- audio ----------------------------------------------------------- */

static int
audio_put(struct tc *tc, AVPacket *p)
{
	size_t i, lo;

	if (tc->o->chunked) { /* only the chunk's packets */
		double t = (double)p->pts * av_q2d(tc->aenc->time_base);
		if (tc->cend > 0 && t >= tc->cend - 1e-6)
			tc->a_past_end = 1;
		if (t < tc->cstart - 1e-6 || tc->a_past_end) {
			av_packet_free(&p);
			return 0;
		}
	}
	pthread_mutex_lock(&tc->mu);
	for (;;) { /* do not run too far ahead of the slowest rung */
		int64_t ahead = !tc->o->chunked &&
		    !atomic_load(&tc->playable) ? AUDIO_AHEAD_START :
		    AUDIO_AHEAD;
		lo = tc->an;
		for (i = 0; i < (size_t)tc->nr; i++)
			if (!tc->r[i].adone && tc->r[i].aidx < lo)
				lo = tc->r[i].aidx;
		if (lo >= tc->an || atomic_load(&tc->abort_) ||
		    av_compare_ts(p->pts - tc->apk[lo]->pts,
		    tc->aenc->time_base, ahead,
		    (AVRational){ 1, 1 }) < 0)
			break;
		pthread_cond_wait(&tc->cv, &tc->mu);
	}
	for (; tc->afreed < lo; tc->afreed++) /* consumed by every rung */
		av_packet_free(&tc->apk[tc->afreed]);
	if (tc->an == tc->acap) {
		size_t cap = tc->acap ? tc->acap * 2 : 1024;
		AVPacket **n = realloc(tc->apk, cap * sizeof(*n));
		if (n == NULL) {
			pthread_mutex_unlock(&tc->mu);
			av_packet_free(&p);
			return MSP_ENOMEM;
		}
		tc->apk = n;
		tc->acap = cap;
	}
	tc->apk[tc->an++] = p;
	pthread_cond_broadcast(&tc->cv);
	pthread_mutex_unlock(&tc->mu);
	return 0;
}

static int
audio_encode(struct tc *tc, AVFrame *f, struct msp_err *e)
{
	AVPacket *p;
	int ret;

	if ((ret = avcodec_send_frame(tc->aenc, f)) < 0)
		return averr(e, MSP_EMEDIA, ret, "audio encoder");
	for (;;) {
		if ((p = av_packet_alloc()) == NULL)
			return oom(e);
		ret = avcodec_receive_packet(tc->aenc, p);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
			av_packet_free(&p);
			return 0;
		}
		if (ret < 0) {
			av_packet_free(&p);
			return averr(e, MSP_EMEDIA, ret, "audio encoder");
		}
		if (audio_put(tc, p) != 0)
			return oom(e);
	}
}

/* Encode whole encoder frames from the fifo (all of it when flush). */
static int
audio_drain(struct tc *tc, int flush, struct msp_err *e)
{
	int fs = tc->aenc->frame_size, n, rc;
	AVFrame *f;

	while ((n = av_audio_fifo_size(tc->fifo)) >= fs || (flush && n > 0)) {
		if (n > fs)
			n = fs;
		if ((f = av_frame_alloc()) == NULL)
			return oom(e);
		f->nb_samples = n;
		f->format = tc->aenc->sample_fmt;
		f->sample_rate = tc->aenc->sample_rate;
		if (av_channel_layout_copy(&f->ch_layout,
		    &tc->aenc->ch_layout) < 0 || av_frame_get_buffer(f, 0) < 0) {
			av_frame_free(&f);
			return oom(e);
		}
		av_audio_fifo_read(tc->fifo, (void **)f->data, n);
		f->pts = tc->a_pts;
		tc->a_pts += n;
		rc = audio_encode(tc, f, e);
		av_frame_free(&f);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
audio_frame(struct tc *tc, AVFrame *in, struct msp_err *e)
{
	uint8_t **buf = NULL;
	int n, out, ret, rc;

	if (!tc->a_have_pts && in != NULL) {
		int64_t p = in->best_effort_timestamp;
		AVRational tb = tc->aic->streams[tc->ai]->time_base;
		if (p == AV_NOPTS_VALUE)
			p = 0;
		else
			p -= av_rescale_q(tc->start, AV_TIME_BASE_Q, tb);
		tc->a_pts = av_rescale_q(p, tb, tc->aenc->time_base);
		tc->a_have_pts = 1;
	}
	n = in ? in->nb_samples : 0;
	out = swr_get_out_samples(tc->swr, n);
	if (out <= 0)
		return 0;
	if (av_samples_alloc_array_and_samples(&buf, NULL,
	    tc->aenc->ch_layout.nb_channels, out, tc->aenc->sample_fmt, 0) < 0)
		return oom(e);
	ret = swr_convert(tc->swr, buf, out,
	    in ? (const uint8_t **)in->extended_data : NULL, n);
	if (ret < 0) {
		rc = averr(e, MSP_EMEDIA, ret, "audio resampler");
	} else if (ret > 0 &&
	    av_audio_fifo_write(tc->fifo, (void **)buf, ret) < ret) {
		rc = oom(e);
	} else {
		rc = audio_drain(tc, 0, e);
	}
	av_freep(&buf[0]);
	av_freep(&buf);
	return rc;
}

static int
audio_decode(struct tc *tc, AVPacket *pkt, AVFrame *f, struct msp_err *e)
{
	int ret, rc;

	if ((ret = avcodec_send_packet(tc->adec, pkt)) < 0 &&
	    ret != AVERROR_EOF)
		return 0; /* corrupt packet: skip */
	for (;;) {
		ret = avcodec_receive_frame(tc->adec, f);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return 0;
		rc = audio_frame(tc, f, e);
		av_frame_unref(f);
		if (rc != 0)
			return rc;
	}
}

static void *
audio_main(void *arg)
{
	struct tc *tc = arg;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *f = av_frame_alloc();
	int rc = 0, ret;

	if (pkt == NULL || f == NULL) {
		rc = oom(&tc->aerr);
		goto out;
	}
	while (rc == 0 && !atomic_load(&tc->abort_) && !tc->a_past_end) {
		ret = av_read_frame(tc->aic, pkt);
		if (ret < 0)
			break; /* end, or a truncated file: keep what we have */
		if (pkt->stream_index == tc->ai)
			rc = audio_decode(tc, pkt, f, &tc->aerr);
		av_packet_unref(pkt);
	}
	if (rc == 0)
		rc = audio_decode(tc, NULL, f, &tc->aerr);
	if (rc == 0 && tc->a_have_pts)
		rc = audio_frame(tc, NULL, &tc->aerr);
	if (rc == 0)
		rc = audio_drain(tc, 1, &tc->aerr);
	if (rc == 0)
		rc = audio_encode(tc, NULL, &tc->aerr);
out:
	av_packet_free(&pkt);
	av_frame_free(&f);
	pthread_mutex_lock(&tc->mu);
	tc->arc = rc;
	tc->aeof = 1;
	pthread_cond_broadcast(&tc->cv);
	pthread_mutex_unlock(&tc->mu);
	return NULL;
}

/* The input, opened as lib/media probed it: the format from the bytes,
 * no demuxer that opens anything else. */
static int
open_input(const char *in, AVFormatContext **ic, struct msp_err *e)
{
	struct msp_err m;
	int rc;

	if ((rc = msp_media_open(in, ic, &m)) != 0)
		return msp_err_set(e, rc, "cannot open: %s", m.msg);
	return 0;
}

/* a chunk: to the last keyframe at or before its start */
static int
seek(struct tc *tc, AVFormatContext *ic)
{
	if (tc->cstart <= 0)
		return 0;
	return av_seek_frame(ic, -1, tc->start + (int64_t)(tc->cstart *
	    AV_TIME_BASE), AVSEEK_FLAG_BACKWARD) < 0 ? -1 : 0;
}

/* A decoder context for stream st, not yet opened */
static int
decoder_new(AVStream *st, const char *kind, AVCodecContext **out,
    struct msp_err *e)
{
	const AVCodec *dc = avcodec_find_decoder(st->codecpar->codec_id);

	if (dc == NULL)
		return msp_err_set(e, MSP_EMEDIA, "no decoder for %s codec %s",
		    kind, avcodec_get_name(st->codecpar->codec_id));
	if ((*out = avcodec_alloc_context3(dc)) == NULL)
		return oom(e);
	avcodec_parameters_to_context(*out, st->codecpar);
	(*out)->pkt_timebase = st->time_base;
	return 0;
}

static int
audio_setup(struct tc *tc, struct msp_err *e)
{
	static const int rates[] = { 48000, 44100, 32000, 24000, 22050, 16000,
	    0 };
	AVStream *st;
	const AVCodec *ec;
	AVChannelLayout lay;
	int i, rate, ret;

	if (open_input(tc->in, &tc->aic, e) != 0)
		return MSP_EMEDIA;
	if (seek(tc, tc->aic) != 0)
		return msp_err_set(e, MSP_EMEDIA, "cannot seek to %.3f s",
		    tc->cstart);
	for (i = 0; i < (int)tc->aic->nb_streams; i++)
		tc->aic->streams[i]->discard = i == tc->ai ? AVDISCARD_DEFAULT :
		    AVDISCARD_ALL;
	st = tc->aic->streams[tc->ai];
	if ((ret = decoder_new(st, "audio", &tc->adec, e)) != 0)
		return ret;
	if ((ret = avcodec_open2(tc->adec, tc->adec->codec, NULL)) < 0)
		return averr(e, MSP_EMEDIA, ret, "audio decoder");
	if ((ec = avcodec_find_encoder_by_name("aac")) == NULL)
		return msp_err_set(e, MSP_EMEDIA, "no aac encoder");
	if ((tc->aenc = avcodec_alloc_context3(ec)) == NULL)
		return oom(e);
	rate = 48000;
	for (i = 0; rates[i] != 0; i++)
		if (rates[i] == tc->adec->sample_rate)
			rate = rates[i];
	av_channel_layout_default(&lay, tc->adec->ch_layout.nb_channels >= 2 ?
	    2 : 1);
	tc->aenc->sample_rate = rate;
	tc->aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
	av_channel_layout_copy(&tc->aenc->ch_layout, &lay);
	tc->aenc->bit_rate = AUDIO_RATE;
	tc->aenc->time_base = (AVRational){ 1, rate };
	tc->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	if ((ret = avcodec_open2(tc->aenc, ec, NULL)) < 0)
		return averr(e, MSP_EMEDIA, ret, "audio encoder");
	ret = swr_alloc_set_opts2(&tc->swr, &lay, AV_SAMPLE_FMT_FLTP, rate,
	    &tc->adec->ch_layout, tc->adec->sample_fmt,
	    tc->adec->sample_rate, 0, NULL);
	if (ret < 0 || (ret = swr_init(tc->swr)) < 0)
		return averr(e, MSP_EMEDIA, ret, "audio resampler");
	if ((tc->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP,
	    lay.nb_channels, 4096)) == NULL)
		return oom(e);
	return 0;
}

/* ---- video set-up ---------------------------------------------------- */

static int
rotation_of(AVStream *st)
{
	const int32_t *m = (const int32_t *)av_stream_get_side_data(st,
	    AV_PKT_DATA_DISPLAYMATRIX, NULL);
	double r;
	int d;

	if (m == NULL)
		return 0;
	r = -av_display_rotation_get(m);
	if (isnan(r))
		return 0;
	d = (int)lround(r / 90) * 90 % 360;
	return d < 0 ? d + 360 : d;
}

/* *g: buffer (w, h, fmt, tb, sar) -> desc -> buffersink */
static int
chain_setup(AVFilterGraph **g, AVFilterContext **src,
    AVFilterContext **sink, int w, int h, int fmt, AVRational tb,
    AVRational sar, const char *desc, int threads, struct msp_err *e)
{
	AVFilterInOut *outs = NULL, *ins = NULL;
	char args[256];
	int ret, rc = 0;

	if ((*g = avfilter_graph_alloc()) == NULL)
		return oom(e);
	(*g)->nb_threads = threads;
	snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:"
	    "time_base=%d/%d:pixel_aspect=%d/%d", w, h, fmt, tb.num, tb.den,
	    sar.num, sar.den);
	if ((ret = avfilter_graph_create_filter(src,
	    avfilter_get_by_name("buffer"), "in", args, NULL, *g)) < 0 ||
	    (ret = avfilter_graph_create_filter(sink,
	    avfilter_get_by_name("buffersink"), "out", NULL, NULL, *g)) < 0)
		return averr(e, MSP_EMEDIA, ret, "filter graph");
	if ((outs = avfilter_inout_alloc()) == NULL ||
	    (ins = avfilter_inout_alloc()) == NULL ||
	    (outs->name = av_strdup("in")) == NULL ||
	    (ins->name = av_strdup("out")) == NULL) {
		rc = oom(e);
		goto out;
	}
	outs->filter_ctx = *src;
	ins->filter_ctx = *sink;
	if ((ret = avfilter_graph_parse_ptr(*g, desc, &ins, &outs, NULL)) < 0 ||
	    (ret = avfilter_graph_config(*g, NULL)) < 0)
		rc = averr(e, MSP_EMEDIA, ret, "filter graph");
out:
	avfilter_inout_free(&ins);
	avfilter_inout_free(&outs);
	return rc;
}

/*
 * swscale's AVX2 horizontal scaler gathers its source pixels; where
 * gathers are slow (AMD's Zen, Intel's since the Downfall microcode) it
 * takes about twice the time of the SSSE3 one, and scaling is most of
 * what a transcode does besides x264. So once a process both are timed
 * on the same picture (a 1920x128 strip to half its size, bicubic, in
 * this thread's CPU time, the best of three each, in turn) and, when
 * SSSE3 wins by a tenth, FFmpeg's AVX2 and AVX-512 code is left out for
 * the rest of the process (av_force_cpu_flags: the flags are global, and
 * a scaler may be set up again in any thread when its input changes).
 * Nothing else msp runs through FFmpeg is slower for it (decoding and the
 * AAC encoder take the same time either way), x264 picks its own code,
 * and the pictures are the same to the bit (FFmpeg holds its SIMD
 * versions to the C code's result).
 */
#if defined(__x86_64__) || defined(__i386__) /* the flags are x86's */
#define SWS_PROBE_X86 1
#define SWS_PROBE_W 1920
#define SWS_PROBE_H 128
static pthread_once_t sws_once = PTHREAD_ONCE_INIT;

static double
sws_cost(struct SwsContext *c, uint8_t *const src[4], const int sl[4],
    uint8_t *const dst[4], const int dl[4])
{
	struct timespec a, b;
	int i;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (i = 0; i < 4; i++)
		sws_scale(c, (const uint8_t *const *)src, sl, 0, SWS_PROBE_H,
		    dst, dl);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	return (double)(b.tv_sec - a.tv_sec) +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void
sws_probe(void)
{
	int all = av_get_cpu_flags(), lean = all & ~(AV_CPU_FLAG_AVX2 |
	    AV_CPU_FLAG_AVX512 | AV_CPU_FLAG_AVX512ICL), sl[4], dl[4], k;
	struct SwsContext *c[2] = { NULL, NULL };
	uint8_t *src[4] = { NULL }, *dst[4] = { NULL };
	double best[2] = { 1e9, 1e9 }, t;
	int i, n;

	if (lean == all || (n = av_image_alloc(src, sl, SWS_PROBE_W,
	    SWS_PROBE_H, AV_PIX_FMT_YUV420P, 64)) < 0)
		return;
	if (av_image_alloc(dst, dl, SWS_PROBE_W / 2, SWS_PROBE_H / 2,
	    AV_PIX_FMT_YUV420P, 64) < 0)
		goto out;
	for (i = 0; i < n; i++) /* the planes are one block */
		src[0][i] = (uint8_t)((unsigned)i * 2654435761u >> 24);
	c[0] = sws_getContext(SWS_PROBE_W, SWS_PROBE_H, AV_PIX_FMT_YUV420P,
	    SWS_PROBE_W / 2, SWS_PROBE_H / 2, AV_PIX_FMT_YUV420P, SWS_BICUBIC,
	    NULL, NULL, NULL);
	av_force_cpu_flags(lean);
	c[1] = sws_getContext(SWS_PROBE_W, SWS_PROBE_H, AV_PIX_FMT_YUV420P,
	    SWS_PROBE_W / 2, SWS_PROBE_H / 2, AV_PIX_FMT_YUV420P, SWS_BICUBIC,
	    NULL, NULL, NULL);
	av_force_cpu_flags(-1);
	if (c[0] == NULL || c[1] == NULL)
		goto out;
	for (k = 0; k < 6; k++)
		if ((t = sws_cost(c[k & 1], src, sl, dst, dl)) < best[k & 1])
			best[k & 1] = t;
	if (best[1] < 0.9 * best[0])
		av_force_cpu_flags(lean);
out:
	sws_freeContext(c[0]);
	sws_freeContext(c[1]);
	av_freep(&src[0]);
	av_freep(&dst[0]);
}

#endif

/* The main thread's graph, if any (see below), and a scaling graph per
 * rung (its thread). A rung exactly half the size of another is scaled
 * from that one's pictures: bicubic 2:1 from a bicubic picture is the same
 * picture to the eye (PSNR above 60 dB against scaling from the source)
 * for a fraction of the work. */
static int
graph_setup(struct tc *tc, struct msp_err *e)
{
	AVStream *st = tc->ic->streams[tc->vi];
	AVCodecContext *d = tc->vdec;
	AVRational sar = d->sample_aspect_ratio, tb = st->time_base;
	const char *rot = tc->rotation == 90 ? "transpose=clock" :
	    tc->rotation == 180 ? "hflip,vflip" :
	    tc->rotation == 270 ? "transpose=cclock" : NULL;
	enum AVFieldOrder fo = st->codecpar->field_order;
	const struct msp_rung_size *big = &tc->r[tc->nr - 1].sz;
	const char *part[3];
	int w = d->width, h = d->height, fmt = d->pix_fmt, i, j, k, rc, n;
	char desc[192], pre[64];

	if (sar.num <= 0 || sar.den <= 0)
		sar = (AVRational){ 1, 1 };
	/* Once, in this thread, before the rungs: an interlaced source is
	 * deinterlaced (a frame per frame, only the frames flagged
	 * interlaced), a rotated one turned, and one far larger than the
	 * largest rung scaled to it, so that the queues hold small pictures
	 * and the decoder gets its large ones back at once. */
	part[0] = fo == AV_FIELD_TT || fo == AV_FIELD_BB ||
	    fo == AV_FIELD_TB || fo == AV_FIELD_BT ? DEINTERLACE : NULL;
	part[1] = rot;
	part[2] = NULL;
	if ((int64_t)w * h > PRESCALE * (int64_t)big->w * big->h) {
		snprintf(pre, sizeof(pre), "scale=%d:%d,setsar=1,"
		    "format=yuv420p", big->w, big->h);
		part[2] = pre;
	}
	for (n = 0, k = 0; k < 3; k++)
		if (part[k] != NULL)
			n += snprintf(desc + n, sizeof(desc) - (size_t)n, "%s%s",
			    n > 0 ? "," : "", part[k]);
	if (n > 0) {
		if ((rc = chain_setup(&tc->graph, &tc->src, &tc->sink, w, h, fmt,
		    tb, sar, desc, 0, e)) != 0)
			return rc;
		w = av_buffersink_get_w(tc->sink);
		h = av_buffersink_get_h(tc->sink);
		fmt = av_buffersink_get_format(tc->sink);
		tb = av_buffersink_get_time_base(tc->sink);
		sar = av_buffersink_get_sample_aspect_ratio(tc->sink);
		if (sar.num <= 0 || sar.den <= 0)
			sar = (AVRational){ 1, 1 };
	}
	for (i = tc->nr - 1; i >= 0; i--) { /* the larger ones first */
		struct rung *r = &tc->r[i], *from = NULL;
		for (j = i + 1; j < tc->nr && from == NULL; j++)
			if (tc->r[j].sz.w == 2 * r->sz.w &&
			    tc->r[j].sz.h == 2 * r->sz.h)
				from = &tc->r[j];
		snprintf(desc, sizeof(desc), "scale=%d:%d,setsar=1,"
		    "format=yuv420p", r->sz.w, r->sz.h);
		if (from != NULL)
			rc = chain_setup(&r->graph, &r->src, &r->sink,
			    from->sz.w, from->sz.h, AV_PIX_FMT_YUV420P, tb,
			    (AVRational){ 1, 1 }, desc, 1, e);
		else
			rc = chain_setup(&r->graph, &r->src, &r->sink, w, h,
			    fmt, tb, sar, desc, 1, e);
		if (rc != 0)
			return rc;
		if ((r->from = from) != NULL)
			from->kid[from->nkid++] = r;
	}
	return 0;
}

/* x264 threads for a rung: the largest gets x264's own count (1.5 a
 * processor, at most X264_THREADS: every frame thread holds pictures of
 * its own), the others a share in proportion to their pixels, at least
 * one. The rungs run side by side, so the small ones need no frame
 * threads, whose switching and memory they would only pay for; the
 * largest, the longest job, keeps them so it does not finish last. */
static int
x264_threads(const struct tc *tc, const struct rung *r)
{
	const struct msp_rung_size *big = &tc->r[tc->nr - 1].sz;
	double share = (double)r->sz.w * r->sz.h / ((double)big->w * big->h);
	int n = (int)ceil(share * (ncpu() * 3 / 2) - 1e-9);

	return n < 1 ? 1 : n > X264_THREADS ? X264_THREADS : n;
}

/* The first segment's encoder: one thread, but two frame threads for the
 * largest rung on two cores or more. Its first second is the longest of
 * the rungs' and decides when the video is playable; two frames in
 * flight add one frame of delay, not a lookahead. */
static int
starter_threads(const struct tc *tc, const struct rung *r)
{
	return r == &tc->r[tc->nr - 1] && ncpu() >= 2 ? 2 : 1;
}

/* Open a rung's x264 encoder. The first segment's (starter) differs
 * only in what delays its output or costs time before it: no lookahead
 * (so no macroblock tree), fewer frame threads, the next faster preset
 * when that gives the same stream headers, and the cheapest analysis that
 * leaves the headers alone (whole-pixel motion search, no inter
 * partitions below 16x16): its second of pictures is what a viewer waits for, and
 * every rung encodes it at once on the same cores. */
static int
venc_open(struct tc *tc, struct rung *r, const char *preset, int starter,
    AVCodecContext **out, struct msp_err *e)
{
	const AVCodec *c = avcodec_find_encoder_by_name("libx264");
	AVCodecContext *x;
	AVDictionary *d = NULL;
	char was[16];
	double fps = fps_of(tc);
	int keyint, ret;

	if (c == NULL)
		return msp_err_set(e, MSP_EMEDIA, "no libx264 encoder");
	if ((*out = x = avcodec_alloc_context3(c)) == NULL)
		return oom(e);
	keyint = (int)lround(fps * (double)tc->seg_ms / 1000);
	if (keyint < 1)
		keyint = 1;
	x->width = r->sz.w;
	x->height = r->sz.h;
	x->pix_fmt = AV_PIX_FMT_YUV420P;
	x->sample_aspect_ratio = (AVRational){ 1, 1 };
	x->time_base = av_buffersink_get_time_base(r->sink);
	x->framerate = tc->fr;
	x->bit_rate = r->sz.bitrate;
	x->rc_max_rate = r->sz.bitrate;
	x->rc_buffer_size = (int)(2 * r->sz.bitrate);
	x->gop_size = keyint;
	x->keyint_min = keyint;
	x->flags |= AV_CODEC_FLAG_GLOBAL_HEADER | AV_CODEC_FLAG_CLOSED_GOP;
	x->thread_count = starter ? starter_threads(tc, r) : x264_threads(tc, r);
	av_dict_set(&d, "preset", preset, 0);
	av_dict_set(&d, "forced-idr", "1", 0);
	av_dict_set(&d, "x264-params", starter ?
	    "scenecut=0:open-gop=0:rc-lookahead=0:sync-lookahead=0:mbtree=0:"
	    "subme=0:partitions=none" :
	    "scenecut=0:open-gop=0", 0);
	/* the encoder's threads are named after the rung */
	if (pthread_getname_np(pthread_self(), was, sizeof(was)) != 0)
		was[0] = '\0';
	name_thread(r->name);
	ret = avcodec_open2(x, c, &d);
	if (was[0] != '\0')
		(void)pthread_setname_np(pthread_self(), was);
	av_dict_free(&d);
	if (ret < 0)
		return averr(e, MSP_EMEDIA, ret, "video encoder");
	return 0;
}

/* x264's next faster preset (NULL: none, or unknown) */
static const char *
faster_preset(const char *p)
{
	static const char *const order[] = { "ultrafast", "superfast",
	    "veryfast", "faster", "fast", "medium", "slow", "slower",
	    "veryslow", "placebo" };
	size_t i;

	for (i = 1; i < sizeof(order) / sizeof(order[0]); i++)
		if (strcmp(p, order[i]) == 0)
			return order[i - 1];
	return NULL;
}

static int
venc_setup(struct tc *tc, struct rung *r, struct msp_err *e)
{
	int i, rc;

	if ((rc = venc_open(tc, r, tc->o->preset, 0, &r->enc, e)) != 0)
		return rc;
	if (msp_hls_avc1(r->enc->extradata, (size_t)r->enc->extradata_size,
	    r->codecs) != 0)
		snprintf(r->codecs, sizeof(r->codecs), "avc1.640028");
	/* the first segment from an encoder without delay, so that the
	 * video is playable sooner; only when the two streams' headers
	 * (the init segment's) are the same bytes */
	if (tc->o->chunked)
		return 0;
	for (i = 0; i < 2; i++) {
		const char *p = i == 0 ? faster_preset(tc->o->preset) :
		    tc->o->preset;
		if (p == NULL)
			continue;
		if (venc_open(tc, r, p, 1, &r->enc0, NULL) == 0 &&
		    r->enc0->extradata_size == r->enc->extradata_size &&
		    memcmp(r->enc0->extradata, r->enc->extradata,
		    (size_t)r->enc->extradata_size) == 0)
			break;
		avcodec_free_context(&r->enc0);
	}
	return 0;
}

static int
mux_setup(struct tc *tc, struct rung *r, struct msp_err *e)
{
	AVDictionary *d = NULL;
	uint8_t *buf;
	int ret, rc;

	ret = avformat_alloc_output_context2(&r->oc, NULL,
	    tc->o->format == MSP_TC_FMP4 ? "mp4" : "mpegts", NULL);
	if (ret < 0)
		return averr(e, MSP_EMEDIA, ret, "muxer");
	if ((buf = av_malloc(65536)) == NULL)
		return oom(e);
	r->oc->pb = avio_alloc_context(buf, 65536, 1, r, NULL, io_write,
	    NULL);
	if (r->oc->pb == NULL) {
		av_free(buf);
		return oom(e);
	}
	r->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
	if (r->enc != NULL) {
		if ((r->vst = avformat_new_stream(r->oc, NULL)) == NULL)
			return oom(e);
		avcodec_parameters_from_context(r->vst->codecpar, r->enc);
		r->vst->time_base = r->enc->time_base;
		r->vst->avg_frame_rate = tc->fr;
	}
	if (tc->aenc != NULL) {
		if ((r->ast = avformat_new_stream(r->oc, NULL)) == NULL)
			return oom(e);
		avcodec_parameters_from_context(r->ast->codecpar, tc->aenc);
		r->ast->time_base = tc->aenc->time_base;
	}
	if (tc->o->format == MSP_TC_FMP4) {
		av_dict_set(&d, "movflags", tc->o->chunked ?
		    "frag_custom+empty_moov+default_base_moof+cmaf+frag_discont" :
		    "frag_custom+empty_moov+default_base_moof+cmaf", 0);
		if (tc->o->chunked) {
			av_dict_set(&d, "use_editlist", "0", 0);
			r->oc->avoid_negative_ts =
			    AVFMT_AVOID_NEG_TS_DISABLED;
		}
		if ((rc = file_open(r, "init.mp4", e)) != 0)
			return rc;
	} else {
		char first[32];
		if (tc->o->chunked)
			r->oc->avoid_negative_ts =
			    AVFMT_AVOID_NEG_TS_DISABLED;
		seg_name(r, 0, first, sizeof(first));
		if ((rc = file_open(r, first, e)) != 0)
			return rc;
	}
	ret = avformat_write_header(r->oc, &d);
	av_dict_free(&d);
	if (ret < 0)
		return averr(e, MSP_EMEDIA, ret, "muxer");
	if (tc->o->format == MSP_TC_FMP4) {
		char first[32];
		seg_name(r, 0, first, sizeof(first));
		avio_flush(r->oc->pb);
		if ((rc = file_close(r, "init.mp4", e)) != 0 ||
		    (rc = file_open(r, first, e)) != 0)
			return rc;
	}
	r->next_cut = INT64_MIN;
	r->next_force = INT64_MIN;
	r->max_end = INT64_MIN;
	r->last_pts = INT64_MIN;
	return 0;
}

/* ---- poster, thumbnails ------------------------------------------ */

static int
jpeg_write(struct tc *tc, const AVFrame *src, const char *name,
    struct msp_err *e)
{
	const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *cx = NULL;
	struct SwsContext *sws = NULL;
	AVFrame *f = NULL;
	AVPacket *pkt = NULL;
	int ret, rc = 0;

	if (c == NULL)
		return msp_err_set(e, MSP_EMEDIA, "no mjpeg encoder");
	if ((cx = avcodec_alloc_context3(c)) == NULL ||
	    (f = av_frame_alloc()) == NULL || (pkt = av_packet_alloc()) == NULL) {
		rc = oom(e);
		goto out;
	}
	cx->width = src->width;
	cx->height = src->height;
	cx->pix_fmt = AV_PIX_FMT_YUVJ420P;
	cx->time_base = (AVRational){ 1, 25 };
	cx->flags |= AV_CODEC_FLAG_QSCALE;
	cx->global_quality = 3 * FF_QP2LAMBDA;
	if ((ret = avcodec_open2(cx, c, NULL)) < 0) {
		rc = averr(e, MSP_EMEDIA, ret, name);
		goto out;
	}
	f->width = src->width;
	f->height = src->height;
	f->format = AV_PIX_FMT_YUVJ420P;
	if (av_frame_get_buffer(f, 0) < 0) {
		rc = oom(e);
		goto out;
	}
	sws = sws_getContext(src->width, src->height, src->format, f->width,
	    f->height, AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, NULL, NULL, NULL);
	if (sws == NULL) {
		rc = oom(e);
		goto out;
	}
	sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0,
	    src->height, f->data, f->linesize);
	f->pts = 0;
	f->quality = cx->global_quality;
	if ((ret = avcodec_send_frame(cx, f)) < 0 ||
	    (ret = avcodec_send_frame(cx, NULL)) < 0 ||
	    (ret = avcodec_receive_packet(cx, pkt)) < 0) {
		rc = averr(e, MSP_EMEDIA, ret, name);
		goto out;
	}
	rc = put(tc, tc->out, name, pkt->data, (size_t)pkt->size, 0, e);
out:
	sws_freeContext(sws);
	av_packet_free(&pkt);
	av_frame_free(&f);
	avcodec_free_context(&cx);
	return rc;
}

static void
take_frames(struct tc *tc, AVFrame *f, int rung)
{
	double t = (double)f->pts *
	    av_q2d(av_buffersink_get_time_base(tc->r[rung].sink));

	if (rung == tc->nr - 1 && !tc->poster_done) {
		double want = tc->duration > 0 ? tc->duration / 10 : 0;
		if (tc->poster == NULL || t >= want) {
			av_frame_free(&tc->poster);
			tc->poster = av_frame_clone(f);
			tc->poster_done = t >= want;
		}
	}
	if (rung == 0 && t >= tc->next_thumb && tc->nthumb < THUMB_MAX) {
		AVFrame *th = av_frame_alloc();
		if (th == NULL)
			return;
		th->width = tc->tw;
		th->height = tc->th;
		th->format = AV_PIX_FMT_YUV420P;
		tc->tsws = sws_getCachedContext(tc->tsws, f->width, f->height,
		    f->format, tc->tw, tc->th, AV_PIX_FMT_YUV420P, SWS_BICUBIC,
		    NULL, NULL, NULL);
		if (tc->tsws == NULL || av_frame_get_buffer(th, 0) < 0) {
			av_frame_free(&th);
			return;
		}
		sws_scale(tc->tsws, (const uint8_t *const *)f->data,
		    f->linesize, 0, f->height, th->data, th->linesize);
		tc->thumbs[tc->nthumb++] = th;
		while (tc->next_thumb <= t)
			tc->next_thumb += tc->thumb_iv;
	}
}

static void
vtt_time(double t, char out[32])
{
	long ms = lround(t * 1000);

	snprintf(out, 32, "%02ld:%02ld:%02ld.%03ld", ms / 3600000,
	    ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}

static int
sprite_write(struct tc *tc, double end, struct msp_err *e)
{
	int cols = tc->nthumb < SPRITE_COLS ? tc->nthumb : SPRITE_COLS;
	int rows = (tc->nthumb + cols - 1) / cols, i, y, rc;
	AVFrame *s = av_frame_alloc();
	char *vtt = NULL, a[32], b[32];
	size_t len = 0, cap = 64 + (size_t)tc->nthumb * 96;

	if (s == NULL || (vtt = malloc(cap)) == NULL) {
		av_frame_free(&s);
		return oom(e);
	}
	s->width = cols * tc->tw;
	s->height = rows * tc->th;
	s->format = AV_PIX_FMT_YUV420P;
	if (av_frame_get_buffer(s, 0) < 0) {
		av_frame_free(&s);
		free(vtt);
		return oom(e);
	}
	memset(s->data[0], 16, (size_t)s->linesize[0] * (size_t)s->height);
	memset(s->data[1], 128, (size_t)s->linesize[1] * (size_t)s->height / 2);
	memset(s->data[2], 128, (size_t)s->linesize[2] * (size_t)s->height / 2);
	len += (size_t)snprintf(vtt, cap, "WEBVTT\n");
	for (i = 0; i < tc->nthumb; i++) {
		AVFrame *t = tc->thumbs[i];
		int x0 = i % cols * tc->tw, y0 = i / cols * tc->th;
		double t1 = (i + 1) * tc->thumb_iv;
		for (y = 0; y < tc->th; y++)
			memcpy(s->data[0] + (size_t)(y0 + y) * s->linesize[0] +
			    x0, t->data[0] + (size_t)y * t->linesize[0],
			    (size_t)tc->tw);
		for (y = 0; y < tc->th / 2; y++) {
			memcpy(s->data[1] + (size_t)(y0 / 2 + y) *
			    s->linesize[1] + x0 / 2, t->data[1] +
			    (size_t)y * t->linesize[1], (size_t)tc->tw / 2);
			memcpy(s->data[2] + (size_t)(y0 / 2 + y) *
			    s->linesize[2] + x0 / 2, t->data[2] +
			    (size_t)y * t->linesize[2], (size_t)tc->tw / 2);
		}
		if (i == tc->nthumb - 1 || t1 > end)
			t1 = end > i * tc->thumb_iv ? end : t1;
		vtt_time(i * tc->thumb_iv, a);
		vtt_time(t1, b);
		len += (size_t)snprintf(vtt + len, cap - len, "\n%s --> %s\n"
		    "sprite.jpg#xywh=%d,%d,%d,%d\n", a, b, x0, y0, tc->tw,
		    tc->th);
	}
	rc = jpeg_write(tc, s, "sprite.jpg", e);
	if (rc == 0)
		rc = put(tc, tc->out, "sprite.vtt", vtt, len, 0, e);
	av_frame_free(&s);
	free(vtt);
	return rc;
}

/* ---- the main loop --------------------------------------------------- */

static int
report(struct tc *tc, double *last, int force)
{
	struct msp_tc_progress p;
	double now = elapsed(tc), done = -1;
	long frames = -1;
	int i;

	if (tc->o->progress == NULL || (!force && now - *last < 1.0))
		return 0;
	*last = now;
	for (i = 0; i < tc->nr; i++) {
		double d = (double)atomic_load(&tc->r[i].done_ms) / 1000;
		long fr = atomic_load(&tc->r[i].frames);
		if (done < 0 || d < done)
			done = d;
		if (frames < 0 || fr < frames)
			frames = fr;
	}
	if (done < 0)
		done = 0;
	done -= tc->cstart;
	p.percent = tc->duration > 0 ? 100 * done / tc->duration : 0;
	if (p.percent > 99.9)
		p.percent = 99.9;
	if (p.percent < 0)
		p.percent = 0;
	p.elapsed = now;
	p.fps = now > 0 && frames > 0 ? (double)frames / now : 0;
	p.speed = now > 0 ? done / now : 0;
	p.playable = atomic_load(&tc->playable);
	return tc->o->progress(&p, tc->o->arg);
}

static int
stop(struct tc *tc)
{
	return msp_stop_requested() || atomic_load(&tc->abort_);
}

/* A picture (not taken) to every rung that scales from the source. */
static int
feed(struct tc *tc, AVFrame *f, struct msp_err *e)
{
	AVFrame *c;
	int i;

	for (i = 0; i < tc->nr; i++) {
		if (tc->r[i].from != NULL)
			continue;
		if ((c = av_frame_clone(f)) == NULL)
			return oom(e);
		q_push(&tc->r[i], c);
	}
	return 0;
}

/* Rotate f (NULL: the end) and feed what comes out. */
static int
rotate(struct tc *tc, AVFrame *f, struct msp_err *e)
{
	AVFrame *g;
	int ret, rc;

	if ((ret = av_buffersrc_add_frame_flags(tc->src, f, 0)) < 0)
		return averr(e, MSP_EMEDIA, ret, "filter graph");
	if ((g = av_frame_alloc()) == NULL)
		return oom(e);
	for (rc = 0; rc == 0;) {
		ret = av_buffersink_get_frame(tc->sink, g);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			break;
		if (ret < 0)
			rc = averr(e, MSP_EMEDIA, ret, "filter graph");
		else
			rc = feed(tc, g, e);
		av_frame_unref(g);
	}
	av_frame_free(&g);
	return rc;
}

static int
video_frame(struct tc *tc, AVFrame *f, struct msp_err *e)
{
	AVRational tb = tc->ic->streams[tc->vi]->time_base;
	int64_t pts = f->best_effort_timestamp;

	if (pts == AV_NOPTS_VALUE)
		pts = tc->vlast == INT64_MIN ? 0 : tc->vlast + 1;
	else
		pts -= av_rescale_q(tc->start, AV_TIME_BASE_Q, tb);
	if (tc->o->chunked) { /* only the chunk's pictures */
		double t = (double)pts * av_q2d(tb);
		if (t < tc->cstart - 1e-6)
			return 0;
		if (tc->cend > 0 && t >= tc->cend - 1e-6) {
			tc->past_end = 1;
			return 0;
		}
	}
	if (tc->vlast != INT64_MIN && pts <= tc->vlast)
		pts = tc->vlast + 1; /* the encoder needs strictly increasing */
	tc->vlast = pts;
	f->pts = pts;
	tc->vdecoded = (double)pts * av_q2d(tb);
	return tc->graph != NULL ? rotate(tc, f, e) : feed(tc, f, e);
}

static int
video_decode(struct tc *tc, AVPacket *pkt, AVFrame *f, struct msp_err *e)
{
	int ret, rc;

	if ((ret = avcodec_send_packet(tc->vdec, pkt)) < 0 &&
	    ret != AVERROR_EOF && ret != AVERROR(EAGAIN))
		return 0; /* corrupt packet: skip it */
	for (;;) {
		ret = avcodec_receive_frame(tc->vdec, f);
		if (ret < 0) /* EAGAIN, EOF, or a broken frame */
			return 0;
		rc = video_frame(tc, f, e);
		av_frame_unref(f);
		if (rc != 0)
			return rc;
	}
}

static int
video_loop(struct tc *tc, struct msp_err *e)
{
	AVPacket *pkt = av_packet_alloc();
	AVFrame *f = av_frame_alloc();
	double last = 0;
	int rc = 0, ret, said = 0;

	if (pkt == NULL || f == NULL) {
		rc = oom(e);
		goto out;
	}
	while (rc == 0) {
		if (stop(tc)) {
			rc = msp_err_set(e, MSP_EAGAIN, "interrupted");
			break;
		}
		ret = av_read_frame(tc->ic, pkt);
		if (ret < 0)
			break;
		if (pkt->stream_index == tc->vi)
			rc = video_decode(tc, pkt, f, e);
		av_packet_unref(pkt);
		if (tc->past_end)
			break;
		if (rc == 0 && !said && atomic_load(&tc->playable)) {
			said = 1;
			if (report(tc, &last, 1) != 0)
				rc = msp_err_set(e, MSP_EAGAIN, "interrupted");
		} else if (rc == 0 && report(tc, &last, 0) != 0) {
			rc = msp_err_set(e, MSP_EAGAIN, "interrupted");
		}
	}
	if (rc == 0)
		rc = video_decode(tc, NULL, f, e);
	if (rc == 0 && tc->graph != NULL)
		rc = rotate(tc, NULL, e);
out:
	av_packet_free(&pkt);
	av_frame_free(&f);
	return rc;
}

static int
wait_loop(struct tc *tc, struct msp_err *e)
{
	double last = 0;
	int said = 0, i, done;

	for (;;) {
		struct timespec ts = { 0, 50000000 };
		if (stop(tc))
			return msp_err_set(e, MSP_EAGAIN, "interrupted");
		pthread_mutex_lock(&tc->mu);
		for (done = 1, i = 0; i < tc->nr; i++)
			if (!tc->r[i].adone)
				done = 0;
		pthread_mutex_unlock(&tc->mu);
		if (done)
			return 0;
		if (!said && atomic_load(&tc->playable)) {
			said = 1;
			if (report(tc, &last, 1) != 0)
				return msp_err_set(e, MSP_EAGAIN,
				    "interrupted");
		} else if (report(tc, &last, 0) != 0) {
			return msp_err_set(e, MSP_EAGAIN, "interrupted");
		}
		nanosleep(&ts, NULL);
	}
}

static void *
venc_thread(void *arg)
{
	struct rung *r = arg;

	r->rc = venc_setup(r->tc, r, &r->err);
	return NULL;
}

/* Every rung's encoders, opened side by side: an x264 encoder's set-up
 * (its buffers allocated and cleared) is a good part of the time before
 * the first picture. */
static int
venc_setup_all(struct tc *tc, struct msp_err *e)
{
	pthread_t th[MSP_LADDER_MAX];
	int i, on[MSP_LADDER_MAX];

	for (i = 0; i < tc->nr; i++) {
		tc->r[i].tc = tc;
		on[i] = pthread_create(&th[i], NULL, venc_thread,
		    &tc->r[i]) == 0;
		if (!on[i])
			venc_thread(&tc->r[i]);
	}
	for (i = 0; i < tc->nr; i++)
		if (on[i])
			pthread_join(th[i], NULL);
	for (i = 0; i < tc->nr; i++)
		if (tc->r[i].rc != 0) {
			if (e != NULL)
				*e = tc->r[i].err;
			return tc->r[i].rc;
		}
	return 0;
}

static void *
audio_setup_thread(void *arg)
{
	struct tc *tc = arg;

	tc->arc = audio_setup(tc, &tc->aerr);
	return NULL;
}

/* the video's decoder, rungs, filter graphs and encoders */
static int
setup_video(struct tc *tc, struct msp_err *e)
{
	AVStream *st;
	int i, rc, ret, dw, dh;
	struct msp_rung_size sz[MSP_LADDER_MAX];

	st = tc->ic->streams[tc->vi];
	if ((rc = decoder_new(st, "video", &tc->vdec, e)) != 0)
		return rc;
	/* decoding runs beside the encoders: few threads, less memory;
	 * one for pictures above 4K, each frame thread holding several */
	tc->vdec->thread_count = (int64_t)st->codecpar->width *
	    st->codecpar->height > BIG_PICTURE ? 1 : 1 + ncpu() / 8;
	if ((ret = avcodec_open2(tc->vdec, tc->vdec->codec, NULL)) < 0)
		return averr(e, MSP_EMEDIA, ret, "video decoder");
	if (tc->vdec->width <= 0 || tc->vdec->height <= 0 ||
	    tc->vdec->pix_fmt == AV_PIX_FMT_NONE)
		return msp_err_set(e, MSP_EMEDIA, "video stream without "
		    "a picture size");
	if (st->duration > 0 && st->duration != AV_NOPTS_VALUE)
		tc->duration = (double)st->duration *
		    av_q2d(st->time_base);
	tc->fr = av_guess_frame_rate(tc->ic, st, NULL);
	if (tc->fr.num <= 0 || tc->fr.den <= 0 ||
	    av_q2d(tc->fr) > 240)
		tc->fr = (AVRational){ 25, 1 };
	tc->rotation = rotation_of(st);
	msp_hls_display_size(tc->vdec->width, tc->vdec->height,
	    st->codecpar->sample_aspect_ratio.num,
	    st->codecpar->sample_aspect_ratio.den, tc->rotation, &dw,
	    &dh);
	tc->dw = dw;
	tc->dh = dh;
	tc->nr = msp_hls_rungs(&tc->o->ladder, dw, dh, sz);
	for (i = 0; i < tc->nr; i++) {
		tc->r[i].sz = sz[i];
		snprintf(tc->r[i].name, sizeof(tc->r[i].name), "%dp",
		    sz[i].height);
	}
	if ((rc = graph_setup(tc, e)) != 0)
		return rc;
	if ((rc = venc_setup_all(tc, e)) != 0)
		return rc;
	/* thumbnails: long side THUMB_LONG, one every thumb_iv s */
	if (sz[0].w >= sz[0].h) {
		tc->tw = THUMB_LONG;
		tc->th = 2 * (int)lround((double)THUMB_LONG * sz[0].h /
		    sz[0].w / 2);
	} else {
		tc->th = THUMB_LONG;
		tc->tw = 2 * (int)lround((double)THUMB_LONG * sz[0].w /
		    sz[0].h / 2);
	}
	if (tc->tw < 2)
		tc->tw = 2;
	if (tc->th < 2)
		tc->th = 2;
	tc->thumb_iv = tc->duration > 0 ?
	    ceil(tc->duration / 100) : 2;
	if (tc->thumb_iv < 1)
		tc->thumb_iv = 1;
	return 0;
}

static int
setup(struct tc *tc, struct msp_err *e)
{
	pthread_t ath;
	int i, rc, vi, aon = 0;

#ifdef SWS_PROBE_X86
	(void)pthread_once(&sws_once, sws_probe);
#endif
	if ((rc = open_input(tc->in, &tc->ic, e)) != 0)
		return rc;
	/* the streams msp-ingest checked */
	msp_media_streams(tc->ic, &vi, &tc->ai);
	tc->vi = vi;
	if (tc->vi < 0 && tc->ai < 0)
		return msp_err_set(e, MSP_EMEDIA, "no video or audio stream");
	tc->start = tc->ic->start_time != AV_NOPTS_VALUE ?
	    tc->ic->start_time : 0;
	tc->duration = tc->ic->duration > 0 ?
	    (double)tc->ic->duration / AV_TIME_BASE : 0;
	tc->vlast = INT64_MIN;
	if (seek(tc, tc->ic) != 0)
		return msp_err_set(e, MSP_EMEDIA, "cannot seek to %.3f s",
		    tc->cstart);
	for (i = 0; i < (int)tc->ic->nb_streams; i++)
		tc->ic->streams[i]->discard = i == tc->vi ? AVDISCARD_DEFAULT :
		    AVDISCARD_ALL;
	/* the audio's own demuxer, decoder and encoder, beside the video's */
	if (tc->ai >= 0 && tc->vi >= 0 && pthread_create(&ath, NULL,
	    audio_setup_thread, tc) == 0)
		aon = 1;
	else if (tc->ai >= 0 && (rc = audio_setup(tc, e)) != 0)
		return rc;
	if (tc->vi < 0) {
		tc->nr = 1;
		snprintf(tc->r[0].name, sizeof(tc->r[0].name), "audio");
		tc->fr = (AVRational){ 0, 1 };
		snprintf(tc->r[0].codecs, sizeof(tc->r[0].codecs), "mp4a.40.2");
		tc->r[0].sz.bitrate = 0;
	} else {
		rc = setup_video(tc, e);
		if (aon) {
			pthread_join(ath, NULL);
			if (rc == 0 && tc->arc != 0) {
				rc = tc->arc;
				if (e != NULL)
					*e = tc->aerr;
			}
		}
		if (rc != 0)
			return rc;
		for (i = 0; i < tc->nr && tc->aenc != NULL; i++)
			strcat(tc->r[i].codecs, ",mp4a.40.2");
	}
	if (tc->o->chunked) {
		if (tc->cend > 0 && (tc->duration <= 0 || tc->cend < tc->duration))
			tc->duration = tc->cend;
		tc->duration -= tc->cstart;
	}
	for (i = 0; i < tc->nr; i++) {
		struct rung *r = &tc->r[i];
		r->tc = tc;
		r->idx = i;
		if ((r->dir = okey(tc->out, r->name)) == NULL)
			return oom(e);
		if ((rc = mux_setup(tc, r, e)) != 0)
			return rc;
	}
	return 0;
}

static int
start_threads(struct tc *tc, struct msp_err *e)
{
	int i;

	if (tc->aenc != NULL) {
		if (pthread_create(&tc->ath, NULL, audio_main, tc) != 0)
			return msp_err_set(e, MSP_ENOMEM, "cannot start thread");
		tc->astarted = 1;
	}
	for (i = 0; i < tc->nr; i++) {
		if (pthread_create(&tc->r[i].th, NULL, tc->vi >= 0 ? rung_video :
		    rung_audio, &tc->r[i]) != 0)
			return msp_err_set(e, MSP_ENOMEM, "cannot start thread");
		tc->r[i].started = 1;
	}
	return 0;
}

static void
join_threads(struct tc *tc, int abort)
{
	int i;

	if (abort) {
		pthread_mutex_lock(&tc->mu);
		atomic_store(&tc->abort_, 1);
		pthread_cond_broadcast(&tc->cv);
		pthread_mutex_unlock(&tc->mu);
		for (i = 0; i < tc->nr; i++) { /* a feeder waiting for room */
			pthread_mutex_lock(&tc->r[i].mu);
			pthread_cond_broadcast(&tc->r[i].cv);
			pthread_mutex_unlock(&tc->r[i].mu);
		}
	}
	/* the end of the pictures: the rungs pass it on to those that
	 * scale from them (all of them, when one of those did not start) */
	for (i = tc->nr - 1; i >= 0; i--)
		if (tc->r[i].from == NULL || !tc->r[i].from->started)
			q_push(&tc->r[i], NULL);
	for (i = tc->nr - 1; i >= 0; i--) {
		if (!tc->r[i].started)
			continue;
		pthread_join(tc->r[i].th, NULL);
		tc->r[i].started = 0;
	}
	if (tc->astarted) {
		pthread_mutex_lock(&tc->mu);
		atomic_store(&tc->abort_, 1); /* nobody reads it any more */
		pthread_cond_broadcast(&tc->cv);
		pthread_mutex_unlock(&tc->mu);
		pthread_join(tc->ath, NULL);
		tc->astarted = 0;
	}
}

static json_object *
details(struct tc *tc)
{
	json_object *o = json_object_new_object(), *lad, *x;
	int i;

	if (o == NULL || (lad = json_object_new_array()) == NULL) {
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "format", json_object_new_string(
	    tc->o->format == MSP_TC_FMP4 ? "fmp4" : "ts"));
	json_object_object_add(o, "segment", json_object_new_double(
	    (double)tc->seg_ms / 1000));
	json_object_object_add(o, "master", json_object_new_string(
	    "master.m3u8"));
	if (tc->o->format == MSP_TC_FMP4)
		json_object_object_add(o, "dash", json_object_new_string(
		    "manifest.mpd"));
	if (tc->vi >= 0) {
		json_object_object_add(o, "width", json_object_new_int(tc->dw));
		json_object_object_add(o, "height", json_object_new_int(tc->dh));
		json_object_object_add(o, "fps", json_object_new_double(
		    round(fps_of(tc) * 1000) / 1000));
		if (!tc->o->chunked || tc->o->first_seg == 0)
			json_object_object_add(o, "poster",
			    json_object_new_string("poster.jpg"));
		if (!tc->o->chunked) {
			json_object_object_add(o, "sprite",
			    json_object_new_string("sprite.jpg"));
			json_object_object_add(o, "thumbnails",
			    json_object_new_string("sprite.vtt"));
		}
	}
	json_object_object_add(o, "audio", json_object_new_boolean(
	    tc->aenc != NULL));
	json_object_object_add(o, "ladder", lad);
	for (i = 0; i < tc->nr; i++) {
		struct rung *r = &tc->r[i];
		long peak, avg;
		double dur = 0;
		int k;
		char pl[48];

		for (k = 0; k < r->nseg; k++)
			dur += r->segs[k].dur;
		if (i == 0)
			json_object_object_add(o, "duration",
			    json_object_new_double(round(dur * 1000) / 1000));
		msp_hls_rates(r->segs, r->nseg, &peak, &avg);
		snprintf(pl, sizeof(pl), "%s/index.m3u8", r->name);
		if ((x = json_object_new_object()) == NULL)
			continue;
		json_object_object_add(x, "name", json_object_new_string(
		    r->name));
		if (r->enc != NULL) {
			json_object_object_add(x, "width",
			    json_object_new_int(r->sz.w));
			json_object_object_add(x, "height",
			    json_object_new_int(r->sz.h));
			json_object_object_add(x, "bitrate",
			    json_object_new_int64(r->sz.bitrate));
		}
		json_object_object_add(x, "bandwidth",
		    json_object_new_int64(peak));
		json_object_object_add(x, "averageBandwidth",
		    json_object_new_int64(avg));
		json_object_object_add(x, "codecs",
		    json_object_new_string(r->codecs));
		json_object_object_add(x, "playlist",
		    json_object_new_string(pl));
		json_object_object_add(x, "segments",
		    json_object_new_int(r->nseg));
		if (tc->o->chunked) { /* [seconds, bytes] of each */
			json_object *a = json_object_new_array(), *sg;
			for (k = 0; a != NULL && k < r->nseg; k++) {
				if ((sg = json_object_new_array()) == NULL)
					break;
				json_object_array_add(sg, json_object_new_double(
				    round(r->segs[k].dur * 1e6) / 1e6));
				json_object_array_add(sg, json_object_new_int64(
				    r->segs[k].bytes));
				json_object_array_add(a, sg);
			}
			json_object_object_add(x, "segs", a);
		}
		json_object_array_add(lad, x);
	}
	return o;
}

static void
tc_free(struct tc *tc)
{
	int i;
	size_t k;

	for (i = 0; i < MSP_LADDER_MAX; i++) {
		struct rung *r = &tc->r[i];
		while (r->qn > 0) {
			av_frame_free(&r->q[r->qh]);
			r->qh = (r->qh + 1) % QCAP;
			r->qn--;
		}
		msp_blob_writer_abort(r->cur);
		if (r->oc != NULL) {
			if (r->oc->pb != NULL)
				av_freep(&r->oc->pb->buffer);
			avio_context_free(&r->oc->pb);
			avformat_free_context(r->oc);
		}
		avcodec_free_context(&r->enc0);
		avcodec_free_context(&r->enc);
		avfilter_graph_free(&r->graph);
		free(r->segs);
		free(r->dir);
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
	}
	for (k = 0; k < tc->an; k++)
		av_packet_free(&tc->apk[k]);
	free(tc->apk);
	for (i = 0; i < tc->nthumb; i++)
		av_frame_free(&tc->thumbs[i]);
	av_frame_free(&tc->poster);
	sws_freeContext(tc->tsws);
	avfilter_graph_free(&tc->graph);
	avcodec_free_context(&tc->vdec);
	avcodec_free_context(&tc->adec);
	avcodec_free_context(&tc->aenc);
	swr_free(&tc->swr);
	if (tc->fifo != NULL)
		av_audio_fifo_free(tc->fifo);
	msp_media_close(&tc->ic);
	msp_media_close(&tc->aic);
	pthread_mutex_destroy(&tc->mu);
	pthread_cond_destroy(&tc->cv);
}

#ifdef __GLIBC__
static pthread_once_t mmap_once = PTHREAD_ONCE_INIT;

/* Blocks of MMAP_MIN and more (pictures, encoder buffers) get pages of
 * their own, given back when freed: a fixed threshold, where glibc's own
 * grows with what was freed and leaves such blocks in the threads' arenas,
 * which malloc_trim cannot shrink from the top. */
static void
mmap_large(void)
{
	mallopt(M_MMAP_THRESHOLD, MMAP_MIN);
}
#endif

void
msp_tc_opts_init(struct msp_tc_opts *o)
{
	memset(o, 0, sizeof(*o));
	msp_hls_ladder_parse(MSP_LADDER_DEFAULT, &o->ladder, NULL);
	o->format = MSP_TC_FMP4;
	o->segment = 4;
	o->preset = "veryfast";
}

int
msp_transcode_file(const char *in, struct msp_blob *b, const char *prefix,
    const struct msp_tc_opts *o, json_object **out, struct msp_err *e)
{
	struct tc *tc;
	int i, rc;
	double last = 0;

	if (out != NULL)
		*out = NULL;
#ifdef __GLIBC__
	pthread_once(&mmap_once, mmap_large);
#endif
	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		return oom(e);
	pthread_mutex_init(&tc->mu, NULL);
	pthread_cond_init(&tc->cv, NULL);
	for (i = 0; i < MSP_LADDER_MAX; i++) {
		pthread_mutex_init(&tc->r[i].mu, NULL);
		pthread_cond_init(&tc->r[i].cv, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &tc->t0);
	tc->wall0_ms = msp_now_ms();
	tc->o = o;
	tc->in = in;
	tc->b = b;
	tc->out = prefix;
	tc->seg_ms = (int64_t)llround(o->segment * 1000);
	tc->first_ms = tc->seg_ms < FIRST_MS ? tc->seg_ms : FIRST_MS;
	if (o->chunked) {
		tc->cstart = o->start;
		tc->cend = o->end;
		if (!(o->start >= 0) || (o->end != 0 && !(o->end > o->start)) ||
		    o->first_seg < 0) {
			rc = msp_err_set(e, MSP_EINVAL, "chunk %g to %g s: not a "
			    "range", o->start, o->end);
			goto out;
		}
	}
	if (tc->seg_ms < 500 || tc->seg_ms > 60000) {
		rc = msp_err_set(e, MSP_EINVAL, "segment length %g s is not "
		    "from 0.5 to 60", o->segment);
		goto out;
	}
	if ((rc = setup(tc, e)) != 0)
		goto out;
	if ((rc = start_threads(tc, e)) != 0)
		goto out;
	rc = tc->vi >= 0 ? video_loop(tc, e) : wait_loop(tc, e);
	join_threads(tc, rc != 0);
	for (i = 0; i < tc->nr; i++)
		if (tc->r[i].rc != 0) { /* the first cause, not "interrupted" */
			rc = tc->r[i].rc;
			if (e != NULL)
				*e = tc->r[i].err;
			goto out;
		}
	if (rc == 0 && tc->arc != 0) {
		rc = tc->arc;
		if (e != NULL)
			*e = tc->aerr;
	}
	if (rc != 0)
		goto out;
	if (tc->vi >= 0 && tc->r[0].nseg == 0) {
		rc = msp_err_set(e, MSP_EMEDIA, "no video frame could be "
		    "decoded");
		goto out;
	}
	{
		double got = 0;
		for (i = 0; i < tc->r[0].nseg; i++)
			got += tc->r[0].segs[i].dur;
		if (tc->duration > 1 && got < 0.9 * tc->duration - 0.5) {
			rc = msp_err_set(e, MSP_EMEDIA, "truncated: %.1f s of "
			    "%.1f s could be decoded", got, tc->duration);
			goto out;
		}
	}
	for (i = 0; i < tc->nr && !o->chunked; i++)
		if ((rc = write_variant(&tc->r[i], 0, e)) != 0)
			goto out;
	if (tc->poster != NULL && (!o->chunked || o->first_seg == 0) &&
	    (rc = jpeg_write(tc, tc->poster, "poster.jpg", e)) != 0)
		goto out;
	if (tc->nthumb > 0 && !o->chunked && (rc = sprite_write(tc,
	    tc->r[0].nseg > 0 ? (double)(tc->r[0].max_end) *
	    av_q2d(tc->r[0].enc ? tc->r[0].enc->time_base :
	    tc->aenc->time_base) : tc->duration, e)) != 0)
		goto out;
	if (!o->chunked && ((rc = write_master(tc, 1, e)) != 0 ||
	    (rc = write_mpd(tc, 1, e)) != 0))
		goto out;
	if ((rc = msp_blob_sync(b, prefix, e)) != 0)
		goto out;
	if (tc->o->progress != NULL) {
		struct msp_tc_progress p = { 100, 0, 0, elapsed(tc), 1 };
		(void)last;
		p.speed = p.elapsed > 0 ? tc->duration / p.elapsed : 0;
		o->progress(&p, o->arg);
	}
	if (out != NULL && (*out = details(tc)) == NULL)
		rc = oom(e);
out:
	join_threads(tc, 1);
	tc_free(tc);
	free(tc);
#ifdef __GLIBC__
	/* the frames and encoder buffers just freed, back to the system
	 * rather than kept by the threads' malloc arenas */
	malloc_trim(0);
#endif
	if (rc != 0) { /* what was published early must not look playable */
		static const char *const early[] = { "master.m3u8",
		    "manifest.mpd" };

		/* a bucket: what is still going up lands first; its
		 * failures are this run's and are forgotten with it */
		if (msp_blob_root(b) == NULL)
			(void)msp_blob_sync(b, prefix, NULL);
		for (i = 0; i < 2; i++) {
			char *m = okey(prefix, early[i]);
			if (m != NULL)
				(void)msp_blob_remove(b, m, NULL);
			free(m);
		}
	}
	return rc;
}
