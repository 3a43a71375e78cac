/*
 * caption: a video's captions, one file a language. A file is WebVTT, or
 * SRT turned into WebVTT; it is checked whole (UTF-8 text, well-formed
 * timings, cues in order, each ending after it starts, sizes) before
 * anything is stored, and a complaint names the file and the line.
 *
 * The WebVTT bytes are an object of the media backend (lib/blob):
 * media/captions/<video id>/<tag>-<hash>.vtt; the video record lists the
 * captions in "captions" ([{"language","label","path","cues"}], the cues
 * as [start ms, end ms, "plain text"] for the search index). A video with
 * HLS output publishes them as a subtitles rendition group of its master
 * playlist (msp_caption_publish).
 */
#ifndef MSP_CAPTION_H
#define MSP_CAPTION_H

#include <stddef.h>
#include <stdint.h>
#include <json.h>

#include "err.h"
#include "store.h"

#define MSP_CAPTION_MAX (512 * 1024) /* bytes of a caption file */
#define MSP_CAPTION_CUES_MAX 20000   /* cues of a file */
#define MSP_CAPTION_TEXT_MAX 2000    /* bytes of a cue's text */
#define MSP_CAPTIONS_MAX 16          /* languages of a video */
#define MSP_CAPTION_TAG_MAX 35       /* bytes of a language tag */
#define MSP_CAPTION_LABEL_MAX 64     /* bytes of a label */
#define MSP_CAPTION_DIR "media/captions"

/* A checked caption file. */
struct msp_caption {
	char *vtt;          /* the WebVTT text (malloc'd) */
	size_t vtt_len;
	json_object *cues;  /* [[start ms, end ms, "text"], ...] (owned) */
	int64_t end_ms;     /* the end of the last cue */
};

/* A language tag in the form BCP 47 gives it ("en", "pt-BR", "zh-Hant",
 * any case; an English language name as msp_language_canon takes it),
 * written into out in its usual case ("pt-BR"). MSP_EINVAL with
 * "caption language 'X': ..." otherwise. */
int msp_caption_lang(const char *s, char out[MSP_CAPTION_TAG_MAX + 1],
    struct msp_err *e);
/* What players show for a tag: "English", "Portuguese (BR)", or the tag. */
void msp_caption_label(const char *tag, char out[MSP_CAPTION_LABEL_MAX + 1]);

/* Check and parse data[0..n) (WebVTT, or SRT), named name in messages
 * ("name:LINE: reason"). c is filled on success (msp_caption_free). */
int msp_caption_parse(const char *name, const char *data, size_t n,
    struct msp_caption *c, struct msp_err *e);
/* The file at path ("-": stdin), read and parsed. */
int msp_caption_load(const char *path, struct msp_caption *c,
    struct msp_err *e);
void msp_caption_free(struct msp_caption *c);

/* Check a record's "captions" value (catalog validation); *out gets the
 * canonical copy (caller puts), or NULL when v is absent or empty. */
int msp_caption_field(json_object *v, const char *vid, json_object **out,
    struct msp_err *e);

/* Who may change a video's captions: called with the video record in the
 * write transaction; non-zero refuses (MSP_EPERM, MSP_ENOTFOUND ...). */
typedef int (*msp_caption_auth_fn)(json_object *video, void *arg,
    struct msp_err *e);

/*
 * Set (c not NULL) or remove (c NULL) the caption of language tag on video
 * id: the WebVTT object is written first, then the record changes in one
 * write transaction, then a replaced object goes and the master playlist
 * is published again. *out (may be NULL) gets the video record. Removing
 * a language the video has not: MSP_ENOTFOUND.
 */
int msp_caption_set(struct msp_store *st, const char *id, const char *tag,
    const struct msp_caption *c, msp_caption_auth_fn auth, void *arg,
    json_object **out, struct msp_err *e);

/*
 * Publish video's captions with its HLS output: a subtitles playlist and
 * a copy of the WebVTT for each language next to the master playlist,
 * then the master rewritten (atomically) with an EXT-X-MEDIA
 * TYPE=SUBTITLES line for each and SUBTITLES="subs" on its variants;
 * what an earlier publish left that is no longer named goes. Nothing to
 * do for a video without HLS output (not ready). The record is read
 * again from the store (only its id is taken from video), so that the
 * last of racing changes is the one published.
 */
int msp_caption_publish(struct msp_store *st, json_object *video,
    struct msp_err *e);

#endif
