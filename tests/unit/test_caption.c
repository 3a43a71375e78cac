/* Unit tests of lib/caption: language tags, WebVTT and SRT parsing, the
 * messages for broken files, the record's field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption.h"
#include "tap.h"

/* parse s (NUL-terminated) as "t.vtt"; the error text, or "" */
static const char *
perr(const char *s, struct msp_caption *c)
{
	static struct msp_err e;

	memset(&e, 0, sizeof(e));
	memset(c, 0, sizeof(*c));
	if (msp_caption_parse("t.vtt", s, strlen(s), c, &e) != 0)
		return e.msg;
	return "";
}

static const char *
cues(const struct msp_caption *c)
{
	return c->cues ? json_object_to_json_string_ext(c->cues,
	    JSON_C_TO_STRING_PLAIN) : "";
}

static void
test_tags(void)
{
	char t[MSP_CAPTION_TAG_MAX + 1], l[MSP_CAPTION_LABEL_MAX + 1];
	struct msp_err e;

	ok(msp_caption_lang("EN", t, &e) == 0 && strcmp(t, "en") == 0, "EN");
	ok(msp_caption_lang("english", t, &e) == 0 && strcmp(t, "en") == 0,
	    "an English name");
	ok(msp_caption_lang("pt-br", t, &e) == 0 && strcmp(t, "pt-BR") == 0,
	    "region upper case: %s", t);
	ok(msp_caption_lang("ZH-hant-TW", t, &e) == 0 &&
	    strcmp(t, "zh-Hant-TW") == 0, "script title case: %s", t);
	ok(msp_caption_lang("es-419", t, &e) == 0 && strcmp(t, "es-419") == 0,
	    "numeric region");
	ok(msp_caption_lang("en_US", t, &e) != 0 && strcmp(e.msg, "caption "
	    "language 'en_US': not a language tag (like en, pt-BR, zh-Hant)")
	    == 0, "underscore refused: %s", e.msg);
	ok(msp_caption_lang("e", t, &e) != 0, "one letter refused");
	ok(msp_caption_lang("en-", t, &e) != 0, "empty subtag refused");
	ok(msp_caption_lang("en--gb", t, &e) != 0, "empty subtag refused");
	ok(msp_caption_lang("en-abcdefghi", t, &e) != 0, "long subtag refused");
	ok(msp_caption_lang("../x", t, &e) != 0, "path refused");
	ok(msp_caption_lang("en-\xc3\xa9", t, &e) != 0, "non-ASCII refused");
	msp_caption_label("hi", l);
	ok(strcmp(l, "Hindi") == 0, "label %s", l);
	msp_caption_label("pt-BR", l);
	ok(strcmp(l, "Portuguese (BR)") == 0, "label %s", l);
	msp_caption_label("tlh", l);
	ok(strcmp(l, "tlh") == 0, "unknown: the tag: %s", l);
}

static void
test_vtt(void)
{
	struct msp_caption c;
	const char *m;

	m = perr("\xef\xbb\xbfWEBVTT - a title\r\nKind: captions\r\n\r\n"
	    "STYLE\r\n::cue { color: red }\r\n\r\nREGION\r\nid:r\r\n\r\n"
	    "1\r\n01:02:03.004 --> 01:02:04.000 line:0\r\n<v Ann>Hi &amp; "
	    "bye</v>\r\nsecond line\r\n\r\nNOTE\r\nskip\r\n\r\n"
	    "01:02:04.000 --> 01:02:05.000\r\n\r\n", &c);
	ok(*m == '\0', "BOM, CRLF, header, STYLE, REGION, NOTE: %s", m);
	ok(strcmp(cues(&c), "[[3723004,3724000,\"Hi & bye second line\"]]") ==
	    0, "cue text plain, empty cue not indexed: %s", cues(&c));
	ok(c.end_ms == 3725000, "end %lld", (long long)c.end_ms);
	ok(c.vtt_len > 0 && strncmp(c.vtt, "WEBVTT", 6) == 0,
	    "the BOM is dropped");
	msp_caption_free(&c);
	m = perr("WEBVTT\r\r00:01.000 --> 00:02.000\rold Mac\r", &c);
	ok(*m == '\0' && strcmp(cues(&c), "[[1000,2000,\"old Mac\"]]") == 0,
	    "CR line ends: %s %s", m, cues(&c));
	msp_caption_free(&c);
	m = perr("WEBVTT\n\n100:00:00.000 --> 100:00:01.000\nlong\n", &c);
	ok(*m == '\0', "hours past 99: %s", m);
	msp_caption_free(&c);
	ok(strcmp(perr("WEBVTTX\n\n00:01.000 --> 00:02.000\nx\n", &c),
	    "t.vtt:1: neither WebVTT (no WEBVTT line) nor SRT (expected a cue "
	    "number): 'WEBVTTX'") == 0, "WEBVTTX is no header");
	ok(strcmp(perr("WEBVTT\n00:01.000 --> 00:02.000\nx\n", &c),
	    "t.vtt:2: a cue right after the header: a blank line must come "
	    "first") == 0, "no blank line after the header: %s",
	    perr("WEBVTT\n00:01.000 --> 00:02.000\nx\n", &c));
	ok(strcmp(perr("WEBVTT\n\n00:01.000 --> 00:02.000\nx\n"
	    "00:02.000 --> 00:03.000\ny\n", &c), "t.vtt:5: '-->' in cue text (a "
	    "blank line missing before a cue?): '00:02.000 --> 00:03.000'") == 0,
	    "two cues without a blank line");
	ok(strcmp(perr("WEBVTT\n\n00:01,000 --> 00:02.000\nx\n", &c),
	    "t.vtt:3: cue timing: bad start time '00:01,000' (expected "
	    "[HH:]MM:SS.mmm)") == 0, "a comma in WebVTT");
	ok(strcmp(perr("WEBVTT\n\n00:01.000 --> 00:02.000x\nx\n", &c),
	    "t.vtt:3: cue timing: bad end time '00:02.000x' (expected "
	    "[HH:]MM:SS.mmm)") == 0, "junk after the end time");
	ok(strcmp(perr("WEBVTT\n\n00:01.000 --> 00:01.000\nx\n", &c),
	    "t.vtt:3: cue timing: '00:00:01.000 --> 00:00:01.000': the cue "
	    "ends before it starts") == 0, "zero length");
	ok(strcmp(perr("WEBVTT\n\nNOTE only\n", &c), "t.vtt: no cues") == 0,
	    "no cues");
	ok(strcmp(perr("WEBVTT\n\n00:01.000 --> 00:02.000\na\x01z\n", &c),
	    "t.vtt:4: not text (a control character)") == 0, "control");
	ok(strcmp(perr("WEBVTT\n\nid\n", &c), "t.vtt:3: expected a cue timing "
	    "line (START --> END) after the cue identifier") == 0,
	    "identifier at the end");
}

static void
test_srt(void)
{
	struct msp_caption c;
	const char *m;

	m = perr("1\n00:00:01,500 --> 00:00:02,000\n<font color=x>A</font> "
	    "<I>b</I> 1 < 2 & 3 > 2\n\n\n2\n00:00:02,000 --> 00:00:03,000\n"
	    "c\n", &c);
	ok(*m == '\0', "SRT: %s", m);
	ok(strcmp(c.vtt, "WEBVTT\n\n00:00:01.500 --> 00:00:02.000\nA <i>b</i> "
	    "1 &lt; 2 &amp; 3 &gt; 2\n\n00:00:02.000 --> 00:00:03.000\nc\n\n") ==
	    0, "made WebVTT");
	ok(strcmp(cues(&c), "[[1500,2000,\"A b 1 < 2 & 3 > 2\"],"
	    "[2000,3000,\"c\"]]") == 0, "cues %s", cues(&c));
	msp_caption_free(&c);
	ok(strcmp(perr("1\n00:00:01,000 --> 00:00:02,000\nx\n\nzwei\n", &c),
	    "t.vtt:5: expected a cue number: 'zwei'") == 0, "a bad number");
	ok(strcmp(perr("1\n", &c), "t.vtt:1: expected a cue timing line "
	    "(START --> END) after the cue number") == 0, "number only");
	ok(strcmp(perr("1\n1:02,000 --> 00:00:03,000\nx\n", &c),
	    "t.vtt:2: cue timing: bad start time '1:02,000' (expected "
	    "HH:MM:SS,mmm)") == 0, "SRT needs hours");
}

static void
test_field(void)
{
	const char *vid = "01m8vep8gt4c95cj53wncnr8a7";
	json_object *in, *out;
	struct msp_err e;
	char buf[512];

	snprintf(buf, sizeof(buf), "[{\"language\":\"en\",\"path\":"
	    "\"media/captions/%s/en-1.vtt\",\"cues\":[[0,5,\"a\"]]}]", vid);
	in = json_tokener_parse(buf);
	ok(msp_caption_field(in, vid, &out, &e) == 0 && out != NULL &&
	    strcmp(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(out, 0), "label")), "English") == 0,
	    "a caption gets its label");
	json_object_put(out);
	json_object_put(in);
	snprintf(buf, sizeof(buf), "[{\"language\":\"en\",\"path\":"
	    "\"media/captions/01m8vep8gt4c95cj53wncnr8a8/en-1.vtt\",\"cues\":[]}]");
	in = json_tokener_parse(buf);
	ok(msp_caption_field(in, vid, &out, &e) != 0, "another video's path: %s",
	    e.msg);
	json_object_put(in);
	snprintf(buf, sizeof(buf), "[{\"language\":\"EN\",\"path\":"
	    "\"media/captions/%s/en-1.vtt\",\"cues\":[]}]", vid);
	in = json_tokener_parse(buf);
	ok(msp_caption_field(in, vid, &out, &e) != 0, "not the usual case");
	json_object_put(in);
	snprintf(buf, sizeof(buf), "[{\"language\":\"en\",\"label\":\"a\\\"b\","
	    "\"path\":\"media/captions/%s/en-1.vtt\",\"cues\":[]}]", vid);
	in = json_tokener_parse(buf);
	ok(msp_caption_field(in, vid, &out, &e) != 0, "a quote in the label");
	json_object_put(in);
	in = json_tokener_parse("[]");
	ok(msp_caption_field(in, vid, &out, &e) == 0 && out == NULL,
	    "empty: no field");
	json_object_put(in);
}

int
main(void)
{
	test_tags();
	test_vtt();
	test_srt();
	test_field();
	done_testing();
}
