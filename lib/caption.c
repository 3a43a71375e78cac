/* caption: WebVTT and SRT files checked and parsed, a video's captions
 * stored and published with its HLS output. See caption.h. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "blob.h"
#include "caption.h"
#include "catalog.h"
#include "jsonl.h"
#include "util.h"

#define PLAYLIST_MAX (1 << 20) /* bytes of a master playlist read back */

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

/* ---- language tags -------------------------------------------------- */

int
msp_caption_lang(const char *s, char out[MSP_CAPTION_TAG_MAX + 1],
    struct msp_err *e)
{
	const char *p, *canon;
	size_t n = strlen(s), i, len, k = 0;
	int sub = 0;

	if ((canon = msp_language_canon(s)) != NULL) {
		snprintf(out, MSP_CAPTION_TAG_MAX + 1, "%s", canon);
		return 0;
	}
	if (n < 2 || n > MSP_CAPTION_TAG_MAX)
		goto bad;
	for (p = s; *p != '\0'; p += len + (p[len] == '-'), sub++) {
		len = strcspn(p, "-");
		if (len == 0 || len > 8)
			goto bad;
		for (i = 0; i < len; i++)
			if (!isalnum((unsigned char)p[i]) ||
			    (unsigned char)p[i] >= 0x80)
				goto bad;
		if (sub == 0) {
			if (len < 2 || len > 3)
				goto bad;
			for (i = 0; i < len; i++) {
				if (!isalpha((unsigned char)p[i]))
					goto bad;
				out[k++] = (char)tolower((unsigned char)p[i]);
			}
		} else {
			int alpha = 1;
			out[k++] = '-';
			for (i = 0; i < len; i++)
				if (!isalpha((unsigned char)p[i]))
					alpha = 0;
			for (i = 0; i < len; i++) {
				int c = (unsigned char)p[i];
				if (len == 4 && alpha) /* script: Hant */
					c = i == 0 ? toupper(c) : tolower(c);
				else if (len == 2 && alpha) /* region: BR */
					c = toupper(c);
				else
					c = tolower(c);
				out[k++] = (char)c;
			}
		}
		if (p[len] == '-' && p[len + 1] == '\0')
			goto bad;
	}
	out[k] = '\0';
	return 0;
bad:
	return msp_err_set(e, MSP_EINVAL, "caption language '%.40s': not a "
	    "language tag (like en, pt-BR, zh-Hant)", s);
}

void
msp_caption_label(const char *tag, char out[MSP_CAPTION_LABEL_MAX + 1])
{
	char prim[4];
	const char *name, *rest;
	size_t n = strcspn(tag, "-");

	snprintf(out, MSP_CAPTION_LABEL_MAX + 1, "%s", tag);
	if (n > 3)
		return;
	memcpy(prim, tag, n);
	prim[n] = '\0';
	if ((name = msp_language_name(prim)) == NULL)
		return;
	rest = tag[n] == '-' ? tag + n + 1 : NULL;
	if (rest != NULL)
		snprintf(out, MSP_CAPTION_LABEL_MAX + 1, "%c%s (%s)",
		    toupper((unsigned char)name[0]), name + 1, rest);
	else
		snprintf(out, MSP_CAPTION_LABEL_MAX + 1, "%c%s",
		    toupper((unsigned char)name[0]), name + 1);
}

/* ---- parsing -------------------------------------------------------- */

struct rd {
	const char *name;
	const char *p, *end;
	size_t line;      /* of the line last read */
	struct msp_err *e;
};

/* The next line (without its end: LF, CRLF or CR); 0 at the end. */
static int
next_line(struct rd *r, const char **s, size_t *n)
{
	const char *q = r->p;

	if (r->p >= r->end)
		return 0;
	while (q < r->end && *q != '\n' && *q != '\r')
		q++;
	*s = r->p;
	*n = (size_t)(q - r->p);
	if (q < r->end && *q == '\r')
		q++;
	if (q < r->end && *q == '\n' && (q == r->p || q[-1] != '\n'))
		q++;
	r->p = q;
	r->line++;
	return 1;
}

static int
peek_line(struct rd *r, const char **s, size_t *n)
{
	struct rd save = *r;
	int got = next_line(r, s, n);

	*r = save;
	return got;
}

static int
bad(struct rd *r, const char *fmt, const char *arg, size_t an)
{
	char what[120];

	if (arg == NULL)
		arg = "";
	if (an > 60) { /* cut at a character boundary */
		an = 60;
		while (an > 0 && ((unsigned char)arg[an] & 0xc0) == 0x80)
			an--;
	}
	snprintf(what, sizeof(what), "%.*s", (int)an, arg);
	msp_err_set(r->e, MSP_EINVAL, "%s:%zu: ", r->name, r->line);
	if (r->e != NULL) {
		size_t k = strlen(r->e->msg);
		snprintf(r->e->msg + k, sizeof(r->e->msg) - k, fmt, what);
	}
	return MSP_EINVAL;
}

static int
has_arrow(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 3 <= n; i++)
		if (memcmp(s + i, "-->", 3) == 0)
			return 1;
	return 0;
}

static int
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

static int
digits(const char *s, size_t n, size_t *i, size_t min, size_t max, long *v)
{
	size_t k = 0;

	*v = 0;
	while (*i < n && k < max && isdigit((unsigned char)s[*i])) {
		*v = *v * 10 + (s[*i] - '0');
		(*i)++;
		k++;
	}
	return k >= min && (*i >= n || !isdigit((unsigned char)s[*i])) ? 0 : -1;
}

/* [HH:]MM:SS.mmm (SRT: HH:MM:SS,mmm, either separator) at s[*i]. */
static int
timestamp(const char *s, size_t n, size_t *i, int srt, int64_t *ms)
{
	long a, b, c, f;
	size_t save;

	if (digits(s, n, i, 2, 9, &a) != 0 || *i >= n || s[*i] != ':')
		return -1;
	(*i)++;
	if (digits(s, n, i, 2, 2, &b) != 0)
		return -1;
	save = *i;
	if (*i < n && s[*i] == ':') {
		(*i)++;
		if (digits(s, n, i, 2, 2, &c) != 0)
			return -1;
	} else {
		if (srt)
			return -1;
		*i = save;
		c = b;
		b = a;
		a = 0;
		if (b > 99)
			return -1;
	}
	if (*i >= n || !(s[*i] == '.' || (srt && s[*i] == ',')))
		return -1;
	(*i)++;
	if (digits(s, n, i, 3, 3, &f) != 0 || b > 59 || c > 59)
		return -1;
	*ms = ((int64_t)a * 3600 + b * 60 + c) * 1000 + f;
	return 0;
}

static void
fmt_time(int64_t ms, char out[32])
{
	snprintf(out, 32, "%02lld:%02lld:%02lld.%03lld",
	    (long long)(ms / 3600000), (long long)(ms / 60000 % 60),
	    (long long)(ms / 1000 % 60), (long long)(ms % 1000));
}

struct sbuf {
	char *p;
	size_t n, cap;
	int fail;
};

static void
sb_addn(struct sbuf *b, const char *s, size_t n)
{
	if (b->fail)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 1024;
		char *np;
		while (nc < b->n + n + 1)
			nc *= 2;
		if ((np = realloc(b->p, nc)) == NULL) {
			b->fail = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
sb_add(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

/* The plain text of cue text (tags dropped, the usual character
 * references decoded, lines joined by a space) appended to b. */
static void
plain_text(struct sbuf *b, const char *s, size_t n)
{
	static const struct { const char *ref, *ch; } refs[] = {
		{ "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" },
		{ "&quot;", "\"" }, { "&apos;", "'" }, { "&nbsp;", " " },
		{ "&lrm;", "" }, { "&rlm;", "" }, { NULL, NULL }
	};
	size_t i = 0, k;
	int space = 0;

	while (i < n) {
		if (s[i] == '<') {
			while (i < n && s[i] != '>')
				i++;
			i++;
			continue;
		}
		if (s[i] == '\n' || s[i] == '\t' || s[i] == ' ') {
			space = 1;
			i++;
			continue;
		}
		if (space && b->n > 0)
			sb_add(b, " ");
		space = 0;
		if (s[i] == '&') {
			for (k = 0; refs[k].ref != NULL; k++)
				if (strncmp(s + i, refs[k].ref,
				    strlen(refs[k].ref)) == 0)
					break;
			if (refs[k].ref != NULL) {
				sb_add(b, refs[k].ch);
				i += strlen(refs[k].ref);
				continue;
			}
		}
		sb_addn(b, s + i, 1);
		i++;
	}
}

/* SRT cue text as WebVTT cue text: <i> <b> <u> kept, other tags
 * dropped, '&' '<' '>' escaped. */
static void
srt_text(struct sbuf *b, const char *s, size_t n)
{
	static const char *const keep[] = { "<i>", "</i>", "<b>", "</b>",
	    "<u>", "</u>", NULL };
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (s[i] == '<') {
			for (k = 0; keep[k] != NULL; k++)
				if (n - i >= strlen(keep[k]) &&
				    strncasecmp(s + i, keep[k],
				    strlen(keep[k])) == 0)
					break;
			if (keep[k] != NULL) {
				char t[5];
				size_t m = strlen(keep[k]), j;
				for (j = 0; j < m; j++)
					t[j] = (char)tolower(
					    (unsigned char)s[i + j]);
				sb_addn(b, t, m);
				i += m - 1;
				continue;
			}
			if (i + 1 < n && (isalpha((unsigned char)s[i + 1]) ||
			    s[i + 1] == '/') && memchr(s + i, '>', n - i)) {
				i = (size_t)((const char *)memchr(s + i, '>',
				    n - i) - s);
				continue;
			}
			sb_add(b, "&lt;");
		} else if (s[i] == '&') {
			sb_add(b, "&amp;");
		} else if (s[i] == '>') {
			sb_add(b, "&gt;");
		} else {
			sb_addn(b, s + i, 1);
		}
	}
}

struct parse {
	struct rd r;
	int srt;
	json_object *cues;
	int64_t last_start, end_ms;
	long ncues;
	struct sbuf vtt;   /* SRT: the WebVTT made of it */
};

/* A timing line: START --> END [settings]. */
static int
timing(struct parse *ps, const char *s, size_t n, int64_t *a, int64_t *b)
{
	struct rd *r = &ps->r;
	size_t i = 0, j;
	char t1[32], t2[32];

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	j = i;
	if (timestamp(s, n, &i, ps->srt, a) != 0) {
		size_t m = j;
		while (m < n && s[m] != ' ' && s[m] != '\t' && s[m] != '-')
			m++;
		return bad(r, ps->srt ? "cue timing: bad start time '%s' "
		    "(expected HH:MM:SS,mmm)" : "cue timing: bad start time "
		    "'%s' (expected [HH:]MM:SS.mmm)", s + j, m - j);
	}
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (n - i < 3 || memcmp(s + i, "-->", 3) != 0)
		return bad(r, "cue timing: expected '-->' in '%s'", s, n);
	i += 3;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	j = i;
	if (timestamp(s, n, &i, ps->srt, b) != 0 ||
	    (i < n && s[i] != ' ' && s[i] != '\t')) {
		size_t m = j;
		while (m < n && s[m] != ' ' && s[m] != '\t')
			m++;
		return bad(r, ps->srt ? "cue timing: bad end time '%s' "
		    "(expected HH:MM:SS,mmm)" : "cue timing: bad end time "
		    "'%s' (expected [HH:]MM:SS.mmm)", s + j, m - j);
	}
	fmt_time(*a, t1);
	fmt_time(*b, t2);
	if (*b <= *a) {
		char m[80];
		snprintf(m, sizeof(m), "%s --> %s", t1, t2);
		return bad(r, "cue timing: '%s': the cue ends before it "
		    "starts", m, strlen(m));
	}
	if (*a < ps->last_start) {
		char m[80], p[32];
		fmt_time(ps->last_start, p);
		snprintf(m, sizeof(m), "%s, before %s", t1, p);
		return bad(r, "cue timing: the cue starts at %s (the cue "
		    "before it): cues must be in order", m, strlen(m));
	}
	ps->last_start = *a;
	if (*b > ps->end_ms)
		ps->end_ms = *b;
	if (ps->srt) {
		sb_add(&ps->vtt, t1);
		sb_add(&ps->vtt, " --> ");
		sb_add(&ps->vtt, t2);
		sb_add(&ps->vtt, "\n");
	}
	return 0;
}

/* The payload lines of a cue up to a blank line or the end. */
static int
payload(struct parse *ps, int64_t a, int64_t b)
{
	struct rd *r = &ps->r;
	struct sbuf raw = { 0 }, txt = { 0 };
	const char *s;
	size_t n;
	int rc = 0;

	while (peek_line(r, &s, &n) && !blank(s, n)) {
		next_line(r, &s, &n);
		if (!ps->srt && has_arrow(s, n)) {
			rc = bad(r, "'-->' in cue text (a blank line missing "
			    "before a cue?): '%s'", s, n);
			goto out;
		}
		if (raw.n > 0)
			sb_add(&raw, "\n");
		sb_addn(&raw, s, n);
		if (raw.n > MSP_CAPTION_TEXT_MAX) {
			char lim[16];
			snprintf(lim, sizeof(lim), "%d", MSP_CAPTION_TEXT_MAX);
			rc = bad(r, "cue text longer than %s bytes", lim,
			    strlen(lim));
			goto out;
		}
	}
	if (raw.fail)
		goto nomem;
	if (ps->srt) {
		/* the cue as WebVTT; its plain text from that */
		size_t at = ps->vtt.n;
		srt_text(&ps->vtt, raw.p ? raw.p : "", raw.n);
		if (!ps->vtt.fail)
			plain_text(&txt, ps->vtt.p + at, ps->vtt.n - at);
		sb_add(&ps->vtt, "\n\n");
	} else {
		plain_text(&txt, raw.p ? raw.p : "", raw.n);
	}
	if (txt.fail)
		goto nomem;
	if (txt.n > 0) {
		json_object *c = json_object_new_array_ext(3);
		if (c == NULL)
			goto nomem;
		json_object_array_add(c, json_object_new_int64(a));
		json_object_array_add(c, json_object_new_int64(b));
		json_object_array_add(c, json_object_new_string_len(txt.p,
		    (int)txt.n));
		json_object_array_add(ps->cues, c);
	}
	if (++ps->ncues > MSP_CAPTION_CUES_MAX) {
		char lim[16];
		snprintf(lim, sizeof(lim), "%d", MSP_CAPTION_CUES_MAX);
		rc = bad(r, "more than %s cues", lim, strlen(lim));
	}
	goto out;
nomem:
	rc = oom(r->e);
out:
	free(raw.p);
	free(txt.p);
	return rc;
}

static int
starts_word(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);

	return n >= k && memcmp(s, w, k) == 0 && (n == k || s[k] == ' ' ||
	    s[k] == '\t');
}

/* The cue timing line that must follow a cue's identifier or number. */
static int
timing_line(struct rd *r, const char *after, const char **s, size_t *n)
{
	if (!next_line(r, s, n))
		return bad(r, "expected a cue timing line (START --> END) "
		    "after the cue %s", after, strlen(after));
	if (!has_arrow(*s, *n))
		return bad(r, "expected a cue timing line (START --> END), "
		    "got '%s'", *s, *n);
	return 0;
}

static int
parse_vtt(struct parse *ps)
{
	struct rd *r = &ps->r;
	const char *s;
	size_t n;
	int rc;

	next_line(r, &s, &n); /* WEBVTT */
	while (next_line(r, &s, &n) && !blank(s, n))
		if (has_arrow(s, n))
			return bad(r, "a cue right after the header: a blank "
			    "line must come first%s", "", 0);
	for (;;) {
		int64_t a, b;

		while (peek_line(r, &s, &n) && blank(s, n))
			next_line(r, &s, &n);
		if (!next_line(r, &s, &n))
			return 0;
		if (starts_word(s, n, "NOTE") || ((starts_word(s, n, "STYLE") ||
		    starts_word(s, n, "REGION")) && ps->ncues == 0 &&
		    !has_arrow(s, n))) {
			while (peek_line(r, &s, &n) && !blank(s, n))
				next_line(r, &s, &n);
			continue;
		}
		if (!has_arrow(s, n)) { /* a cue identifier */
			if ((rc = timing_line(r, "identifier", &s, &n)) != 0)
				return rc;
		}
		if ((rc = timing(ps, s, n, &a, &b)) != 0 ||
		    (rc = payload(ps, a, b)) != 0)
			return rc;
	}
}

static int
parse_srt(struct parse *ps)
{
	struct rd *r = &ps->r;
	const char *s;
	size_t n, i;
	int rc;

	sb_add(&ps->vtt, "WEBVTT\n\n");
	for (;;) {
		int64_t a, b;

		while (peek_line(r, &s, &n) && blank(s, n))
			next_line(r, &s, &n);
		if (!next_line(r, &s, &n))
			break;
		if (!has_arrow(s, n)) { /* the cue number */
			for (i = 0; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
				;
			if (i == n || !isdigit((unsigned char)s[i]))
				return bad(r, ps->ncues == 0 ? "neither WebVTT "
				    "(no WEBVTT line) nor SRT (expected a cue "
				    "number): '%s'" : "expected a cue number: "
				    "'%s'", s, n);
			while (i < n && isdigit((unsigned char)s[i]))
				i++;
			if (!blank(s + i, n - i))
				return bad(r, "expected a cue number: '%s'", s,
				    n);
			if ((rc = timing_line(r, "number", &s, &n)) != 0)
				return rc;
		}
		if ((rc = timing(ps, s, n, &a, &b)) != 0 ||
		    (rc = payload(ps, a, b)) != 0)
			return rc;
	}
	if (ps->ncues == 0)
		return bad(r, "no cues%s", "", 0);
	return ps->vtt.fail ? oom(r->e) : 0;
}

int
msp_caption_parse(const char *name, const char *data, size_t n,
    struct msp_caption *c, struct msp_err *e)
{
	struct parse ps;
	const char *s, *start = data;
	size_t ln, i;
	int rc;

	memset(c, 0, sizeof(*c));
	if (n > MSP_CAPTION_MAX)
		return msp_err_set(e, MSP_EINVAL, "%s: larger than %d bytes",
		    name, MSP_CAPTION_MAX);
	if (n == 0)
		return msp_err_set(e, MSP_EINVAL, "%s: empty", name);
	memset(&ps, 0, sizeof(ps));
	ps.r.name = name;
	ps.r.e = e;
	if (n >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		start += 3;
	/* text: UTF-8, no NUL, no control characters but tab */
	ps.r.p = start;
	ps.r.end = data + n;
	while (next_line(&ps.r, &s, &ln)) {
		if (memchr(s, '\0', ln) != NULL)
			return bad(&ps.r, "not a text file (a NUL byte)%s", "",
			    0);
		if (!msp_utf8_valid(s, ln))
			return bad(&ps.r, "not UTF-8 text%s", "", 0);
		for (i = 0; i < ln; i++)
			if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
			    s[i] == 0x7f)
				return bad(&ps.r, "not text (a control "
				    "character)%s", "", 0);
	}
	ps.r.p = start;
	ps.r.line = 0;
	if ((ps.cues = json_object_new_array()) == NULL)
		return oom(e);
	ln = (size_t)(data + n - start);
	if (ln >= 6 && memcmp(start, "WEBVTT", 6) == 0 && (ln == 6 ||
	    strchr(" \t\r\n", start[6]) != NULL)) {
		rc = parse_vtt(&ps);
		if (rc == 0 && ps.ncues == 0)
			rc = msp_err_set(e, MSP_EINVAL, "%s: no cues", name);
		if (rc == 0 && (c->vtt = malloc(ln + 1)) == NULL)
			rc = oom(e);
		if (rc == 0) {
			memcpy(c->vtt, start, ln);
			c->vtt[ln] = '\0';
			c->vtt_len = ln;
		}
	} else {
		ps.srt = 1;
		rc = parse_srt(&ps);
		if (rc == 0) {
			c->vtt = ps.vtt.p;
			c->vtt_len = ps.vtt.n;
			ps.vtt.p = NULL;
		}
	}
	free(ps.vtt.p);
	if (rc != 0) {
		json_object_put(ps.cues);
		free(c->vtt);
		memset(c, 0, sizeof(*c));
		return rc;
	}
	c->cues = ps.cues;
	c->end_ms = ps.end_ms;
	return 0;
}

int
msp_caption_load(const char *path, struct msp_caption *c, struct msp_err *e)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n;
	int rc;

	memset(c, 0, sizeof(*c));
	if (f == NULL)
		return msp_err_set(e, errno == ENOENT ? MSP_EINVAL : MSP_EIO,
		    "%s: %s", path, strerror(errno));
	if ((buf = malloc(MSP_CAPTION_MAX + 1)) == NULL) {
		if (f != stdin)
			fclose(f);
		return oom(e);
	}
	n = fread(buf, 1, MSP_CAPTION_MAX + 1, f);
	if (ferror(f))
		rc = msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(errno));
	else
		rc = msp_caption_parse(path, buf, n, c, e);
	if (f != stdin)
		fclose(f);
	free(buf);
	return rc;
}

void
msp_caption_free(struct msp_caption *c)
{
	if (c == NULL)
		return;
	free(c->vtt);
	json_object_put(c->cues);
	memset(c, 0, sizeof(*c));
}

/* ---- the record's field --------------------------------------------- */

static const char *
sget(json_object *o, const char *k)
{
	json_object *x;

	if (!json_object_object_get_ex(o, k, &x) ||
	    !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

static int
cues_check(json_object *cues, size_t el, json_object **out,
    struct msp_err *e)
{
	size_t i, n;
	int64_t last = 0;

	if (!json_object_is_type(cues, json_type_array))
		return msp_err_set(e, MSP_EINVAL, "field 'captions': element "
		    "%zu: 'cues': expected an array", el);
	n = json_object_array_length(cues);
	if (n > MSP_CAPTION_CUES_MAX)
		return msp_err_set(e, MSP_EINVAL, "field 'captions': element "
		    "%zu: more than %d cues", el, MSP_CAPTION_CUES_MAX);
	if ((*out = json_object_new_array_ext((int)n)) == NULL)
		return oom(e);
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(cues, i), *a, *b, *t;
		json_object *nc;
		const char *s;
		int64_t x, y;

		if (!json_object_is_type(c, json_type_array) ||
		    json_object_array_length(c) != 3 ||
		    !json_object_is_type(a = json_object_array_get_idx(c, 0),
		    json_type_int) ||
		    !json_object_is_type(b = json_object_array_get_idx(c, 1),
		    json_type_int) ||
		    !json_object_is_type(t = json_object_array_get_idx(c, 2),
		    json_type_string))
			return msp_err_set(e, MSP_EINVAL, "field 'captions': "
			    "element %zu: cue %zu: expected [start ms, end ms, "
			    "text]", el, i + 1);
		x = json_object_get_int64(a);
		y = json_object_get_int64(b);
		s = json_object_get_string(t);
		if (x < 0 || y <= x || x < last || y > (int64_t)1 << 40)
			return msp_err_set(e, MSP_EINVAL, "field 'captions': "
			    "element %zu: cue %zu: times out of order", el,
			    i + 1);
		if (json_object_get_string_len(t) > MSP_CAPTION_TEXT_MAX ||
		    !msp_utf8_valid(s, (size_t)json_object_get_string_len(t)) ||
		    msp_has_control(s, (size_t)json_object_get_string_len(t),
		    0))
			return msp_err_set(e, MSP_EINVAL, "field 'captions': "
			    "element %zu: cue %zu: text not one line of at "
			    "most %d bytes of UTF-8", el, i + 1,
			    MSP_CAPTION_TEXT_MAX);
		last = x;
		if ((nc = json_object_new_array_ext(3)) == NULL)
			return oom(e);
		json_object_array_add(nc, json_object_new_int64(x));
		json_object_array_add(nc, json_object_new_int64(y));
		json_object_array_add(nc, json_object_get(t));
		json_object_array_add(*out, nc);
	}
	return 0;
}

int
msp_caption_field(json_object *v, const char *vid, json_object **out,
    struct msp_err *e)
{
	json_object *arr;
	char dir[sizeof(MSP_CAPTION_DIR) + MSP_ID_LEN + 2];
	size_t i, j, n;
	int rc;

	*out = NULL;
	if (v == NULL || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return msp_err_set(e, MSP_EINVAL, "field 'captions': expected "
		    "an array, got %s", msp_json_type_name(v));
	n = json_object_array_length(v);
	if (n == 0)
		return 0;
	if (n > MSP_CAPTIONS_MAX)
		return msp_err_set(e, MSP_EINVAL, "field 'captions': at most "
		    "%d languages", MSP_CAPTIONS_MAX);
	snprintf(dir, sizeof(dir), "%s/%s/", MSP_CAPTION_DIR, vid);
	if ((arr = json_object_new_array_ext((int)n)) == NULL)
		return oom(e);
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(v, i), *o, *cues;
		char tag[MSP_CAPTION_TAG_MAX + 1], label[MSP_CAPTION_LABEL_MAX + 1];
		const char *l, *lab, *path;

		if (!json_object_is_type(c, json_type_object)) {
			rc = msp_err_set(e, MSP_EINVAL, "field 'captions': "
			    "element %zu: expected an object", i + 1);
			goto fail;
		}
		if ((l = sget(c, "language")) == NULL ||
		    msp_caption_lang(l, tag, e) != 0 || strcmp(tag, l) != 0) {
			rc = msp_err_set(e, MSP_EINVAL, "field 'captions': "
			    "element %zu: 'language': not a language tag in "
			    "its usual case", i + 1);
			goto fail;
		}
		for (j = 0; j < i; j++)
			if (strcmp(sget(json_object_array_get_idx(arr, j),
			    "language"), tag) == 0) {
				rc = msp_err_set(e, MSP_EINVAL, "field "
				    "'captions': language '%s' twice", tag);
				goto fail;
			}
		msp_caption_label(tag, label);
		lab = sget(c, "label");
		if (lab != NULL && (strlen(lab) > MSP_CAPTION_LABEL_MAX ||
		    *lab == '\0' || !msp_utf8_valid(lab, strlen(lab)) ||
		    msp_has_control(lab, strlen(lab), 0) ||
		    strpbrk(lab, "\",") != NULL)) {
			rc = msp_err_set(e, MSP_EINVAL, "field 'captions': "
			    "element %zu: 'label': at most %d bytes of text "
			    "without '\"' or ','", i + 1,
			    MSP_CAPTION_LABEL_MAX);
			goto fail;
		}
		path = sget(c, "path");
		if (path == NULL || strlen(path) > 200 ||
		    !msp_blob_rel_ok(path) ||
		    strncmp(path, dir, strlen(dir)) != 0 ||
		    strchr(path + strlen(dir), '/') != NULL ||
		    strlen(path) < strlen(dir) + 5 ||
		    strcmp(path + strlen(path) - 4, ".vtt") != 0) {
			rc = msp_err_set(e, MSP_EINVAL, "field 'captions': "
			    "element %zu: 'path': expected %s<name>.vtt", i + 1,
			    dir);
			goto fail;
		}
		if (!json_object_object_get_ex(c, "cues", &cues)) {
			rc = msp_err_set(e, MSP_EINVAL, "field 'captions': "
			    "element %zu: 'cues': missing", i + 1);
			goto fail;
		}
		if ((o = json_object_new_object()) == NULL) {
			rc = oom(e);
			goto fail;
		}
		json_object_array_add(arr, o);
		json_object_object_add(o, "language",
		    json_object_new_string(tag));
		json_object_object_add(o, "label", json_object_new_string(
		    lab != NULL ? lab : label));
		json_object_object_add(o, "path", json_object_new_string(path));
		{
			json_object *nc = NULL;
			if ((rc = cues_check(cues, i + 1, &nc, e)) != 0) {
				json_object_put(nc);
				goto fail;
			}
			json_object_object_add(o, "cues", nc);
		}
	}
	*out = arr;
	return 0;
fail:
	json_object_put(arr);
	return rc;
}

/* ---- storing -------------------------------------------------------- */

struct cset {
	struct msp_store *st;
	const char *id, *tag;
	const struct msp_caption *c;
	const char *path;         /* the new object, or NULL */
	msp_caption_auth_fn auth;
	void *arg;
	json_object *out;
	char *old;                /* the object replaced or removed */
};

static json_object *
cap_new(const struct cset *s)
{
	char label[MSP_CAPTION_LABEL_MAX + 1];
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	msp_caption_label(s->tag, label);
	json_object_object_add(o, "language", json_object_new_string(s->tag));
	json_object_object_add(o, "label", json_object_new_string(label));
	json_object_object_add(o, "path", json_object_new_string(s->path));
	json_object_object_add(o, "cues", json_object_get(s->c->cues));
	return o;
}

static int
cset_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct cset *s = arg;
	json_object *v = NULL, *old, *arr = NULL, *ch = NULL, *o;
	size_t i, n;
	int rc, found = 0;

	json_object_put(s->out);
	s->out = NULL;
	free(s->old);
	s->old = NULL;
	if ((rc = msp_video_get(s->st, t, s->id, &v, e)) != 0)
		return rc;
	if (s->auth != NULL && (rc = s->auth(v, s->arg, e)) != 0)
		goto out;
	if ((arr = json_object_new_array()) == NULL ||
	    (ch = json_object_new_object()) == NULL) {
		rc = oom(e);
		goto out;
	}
	old = json_object_object_get(v, "captions");
	n = old != NULL && json_object_is_type(old, json_type_array) ?
	    json_object_array_length(old) : 0;
	for (i = 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(old, i);
		const char *l = sget(x, "language"), *p = sget(x, "path");

		if (l == NULL || strcmp(l, s->tag) != 0) {
			json_object_array_add(arr, json_object_get(x));
			continue;
		}
		found = 1;
		if (p != NULL && (s->path == NULL || strcmp(p, s->path) != 0) &&
		    (s->old = msp_strdup(p)) == NULL) {
			rc = oom(e);
			goto out;
		}
		if (s->c == NULL)
			continue;
		if ((o = cap_new(s)) == NULL) { /* replaced where it stood */
			rc = oom(e);
			goto out;
		}
		json_object_array_add(arr, o);
	}
	if (!found && s->c == NULL) {
		rc = msp_err_set(e, MSP_ENOTFOUND, "video %s: no %s caption",
		    s->id, s->tag);
		goto out;
	}
	if (!found) {
		if (n >= MSP_CAPTIONS_MAX) {
			rc = msp_err_set(e, MSP_EINVAL, "video %s: at most %d "
			    "caption languages", s->id, MSP_CAPTIONS_MAX);
			goto out;
		}
		if ((o = cap_new(s)) == NULL) {
			rc = oom(e);
			goto out;
		}
		json_object_array_add(arr, o);
	}
	json_object_object_add(ch, "captions", arr);
	arr = NULL;
	rc = msp_video_update(s->st, t, s->id, ch, &s->out, e);
out:
	json_object_put(v);
	json_object_put(arr);
	json_object_put(ch);
	return rc;
}

int
msp_caption_set(struct msp_store *st, const char *id, const char *tag,
    const struct msp_caption *c, msp_caption_auth_fn auth, void *arg,
    json_object **out, struct msp_err *e)
{
	unsigned char h[8];
	char hex[17], *path = NULL;
	struct msp_blob *b;
	struct msp_blob_stat bs;
	struct cset s;
	int rc, existed = 0;

	if (out != NULL)
		*out = NULL;
	if (!msp_id_valid(id))
		return msp_err_set(e, MSP_ENOTFOUND, "video %s: not found", id);
	if ((rc = msp_blob_store(st, &b, e)) != 0)
		return rc;
	memset(&s, 0, sizeof(s));
	s.st = st;
	s.id = id;
	s.tag = tag;
	s.c = c;
	s.auth = auth;
	s.arg = arg;
	if (c != NULL) {
		crypto_generichash(h, sizeof(h), (const unsigned char *)c->vtt,
		    c->vtt_len, NULL, 0);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		if ((path = msp_sprintf("%s/%s/%s-%s.vtt", MSP_CAPTION_DIR, id,
		    tag, hex)) == NULL)
			return oom(e);
		s.path = path;
		/* the bytes first: the record names only what is there */
		existed = msp_blob_stat(b, path, &bs, NULL) == 0;
		if ((rc = msp_blob_put(b, path, c->vtt, c->vtt_len, 0, e)) != 0)
			goto out;
	}
	rc = msp_store_write(st, cset_txn, &s, e);
	if (rc != 0) {
		/* an object this call made is named by no record */
		if (path != NULL && !existed)
			(void)msp_blob_remove(b, path, NULL);
		goto out;
	}
	if (s.old != NULL)
		(void)msp_blob_remove(b, s.old, NULL);
	if ((rc = msp_caption_publish(st, s.out, e)) != 0)
		msp_err_prefix(e, "video %s: caption stored, but not "
		    "published with the HLS output", id);
	if (out != NULL) {
		*out = s.out;
		s.out = NULL;
	}
out:
	json_object_put(s.out);
	free(s.old);
	free(path);
	return rc;
}

/* ---- publishing ----------------------------------------------------- */

static int
get_fn(void *arg, const void *p, size_t n)
{
	struct sbuf *b = arg;

	if (b->n + n > PLAYLIST_MAX)
		return -1;
	sb_addn(b, p, n);
	return b->fail ? -1 : 0;
}

static int
copy_fn(void *arg, const void *p, size_t n)
{
	return get_fn(arg, p, n);
}

struct keys {
	char **k;
	size_t n, cap;
};

static int
list_fn(void *arg, const char *key, int64_t size)
{
	struct keys *ks = arg;
	char *k;

	(void)size;
	if (msp_grow(&ks->k, &ks->cap, ks->n + 1, sizeof(*ks->k), 8) != 0 ||
	    (k = msp_strdup(key)) == NULL)
		return -1;
	ks->k[ks->n++] = k;
	return 0;
}

static double
duration_of(json_object *video)
{
	json_object *d, *x;

	if (json_object_object_get_ex(video, "destinationVideoDetails", &d)) {
		if (json_object_object_get_ex(d, "hls", &x) &&
		    json_object_object_get_ex(x, "duration", &x))
			return json_object_get_double(x);
		if (json_object_object_get_ex(d, "duration", &x))
			return json_object_get_double(x);
	}
	return 0;
}

/* The master without any subtitles group, then with caps' group. */
static char *
master_with(const char *m, json_object *caps)
{
	struct sbuf b = { 0 };
	const char *p = m, *nl;
	size_t i, n = caps ? json_object_array_length(caps) : 0;
	int added = 0;
	static const char attr[] = ",SUBTITLES=\"subs\"";

	while (*p != '\0') {
		size_t len;
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len >= 28 && strncmp(p, "#EXT-X-MEDIA:TYPE=SUBTITLES,",
		    28) == 0) {
			/* dropped */
		} else if (strncmp(p, "#EXT-X-STREAM-INF:", 18) == 0) {
			const char *a;
			if (!added) {
				for (i = 0; i < n; i++) {
					json_object *c =
					    json_object_array_get_idx(caps, i);
					const char *tag = sget(c, "language");
					sb_add(&b, "#EXT-X-MEDIA:TYPE=SUBTITLES,"
					    "GROUP-ID=\"subs\",NAME=\"");
					sb_add(&b, sget(c, "label"));
					sb_add(&b, "\",LANGUAGE=\"");
					sb_add(&b, tag);
					sb_add(&b, "\",DEFAULT=NO,AUTOSELECT=YES,"
					    "FORCED=NO,URI=\"subs/");
					sb_add(&b, tag);
					sb_add(&b, ".m3u8\"\n");
				}
				added = 1;
			}
			a = memmem(p, len, attr, sizeof(attr) - 1);
			if (a != NULL) {
				sb_addn(&b, p, (size_t)(a - p));
				sb_addn(&b, a + sizeof(attr) - 1,
				    len - (size_t)(a - p) - (sizeof(attr) - 1));
			} else {
				sb_addn(&b, p, len);
			}
			if (n > 0)
				sb_add(&b, attr);
			sb_add(&b, "\n");
		} else {
			sb_addn(&b, p, len);
			sb_add(&b, "\n");
		}
		p = nl ? nl + 1 : p + strlen(p);
	}
	if (b.fail) {
		free(b.p);
		return NULL;
	}
	return b.p ? b.p : msp_strdup("");
}

static int publish(struct msp_store *st, json_object *video,
    struct msp_err *e);

/* Publishes of one process one at a time, each from the record as it is
 * then: two changes racing each other publish the later one last. */
static pthread_mutex_t publish_mu = PTHREAD_MUTEX_INITIALIZER;

int
msp_caption_publish(struct msp_store *st, json_object *video,
    struct msp_err *e)
{
	json_object *now = NULL;
	const char *id = video != NULL ? sget(video, "id") : NULL;
	MDB_txn *t;
	int rc;

	if (id == NULL)
		return 0;
	pthread_mutex_lock(&publish_mu);
	if ((rc = msp_txn_begin(st, 0, &t, e)) == 0) {
		rc = msp_video_get(st, t, id, &now, e);
		msp_txn_abort(st, t);
		if (rc == MSP_ENOTFOUND)
			rc = 0; /* purged meanwhile: nothing to publish */
		else if (rc == 0)
			rc = publish(st, now, e);
	}
	pthread_mutex_unlock(&publish_mu);
	json_object_put(now);
	return rc;
}

static int
publish(struct msp_store *st, json_object *video, struct msp_err *e)
{
	json_object *d, *caps;
	const char *master, *slash, *id, *status;
	struct msp_blob *b;
	struct sbuf m = { 0 };
	struct keys old = { 0 };
	char *dir = NULL, *nm = NULL, *subs = NULL;
	size_t i, j, n;
	double dur;
	int rc;

	if (video == NULL || (status = sget(video, "status")) == NULL ||
	    strcmp(status, "ready") != 0 || (id = sget(video, "id")) == NULL ||
	    !json_object_object_get_ex(video, "destinationBucketFilePath",
	    &d) || !json_object_is_type(d, json_type_array) ||
	    json_object_array_length(d) < 1)
		return 0;
	master = json_object_get_string(json_object_array_get_idx(d, 0));
	if (master == NULL || (slash = strrchr(master, '/')) == NULL ||
	    strcmp(slash, "/master.m3u8") != 0)
		return 0;
	caps = json_object_object_get(video, "captions");
	n = caps != NULL && json_object_is_type(caps, json_type_array) ?
	    json_object_array_length(caps) : 0;
	if ((rc = msp_blob_store(st, &b, e)) != 0)
		return rc;
	if ((dir = msp_sprintf("%.*s", (int)(slash - master), master)) ==
	    NULL || (subs = msp_sprintf("%s/subs/", dir)) == NULL) {
		rc = oom(e);
		goto out;
	}
	rc = msp_blob_get(b, master, 0, -1, get_fn, &m, e);
	if (rc == MSP_ENOTFOUND) {
		rc = 0; /* no HLS output (yet): published when it comes */
		goto out;
	}
	if (rc != 0)
		goto out;
	if (m.fail || m.p == NULL) {
		rc = msp_err_set(e, MSP_EMEDIA, "%s: empty or too large",
		    master);
		goto out;
	}
	dur = duration_of(video);
	/* each language: the WebVTT and its playlist */
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(caps, i);
		const char *tag = sget(c, "language"), *path = sget(c, "path");
		const char *base = strrchr(path, '/') + 1;
		struct sbuf v = { 0 };
		json_object *cues = json_object_object_get(c, "cues");
		char *key, *pl;
		double len = dur;
		size_t nc = json_object_array_length(cues);

		if (nc > 0) {
			json_object *last = json_object_array_get_idx(cues,
			    nc - 1);
			double end = (double)json_object_get_int64(
			    json_object_array_get_idx(last, 1)) / 1000;
			if (end > len)
				len = end;
		}
		if (len <= 0)
			len = 1;
		if ((key = msp_sprintf("%s%s", subs, base)) == NULL) {
			rc = oom(e);
			goto out;
		}
		rc = msp_blob_get(b, path, 0, -1, copy_fn, &v, e);
		if (rc == 0 && v.fail)
			rc = oom(e);
		if (rc == 0)
			rc = msp_blob_put(b, key, v.p ? v.p : "", v.n, 0, e);
		free(key);
		free(v.p);
		if (rc != 0)
			goto out;
		pl = msp_sprintf("#EXTM3U\n#EXT-X-VERSION:3\n"
		    "#EXT-X-TARGETDURATION:%ld\n#EXT-X-MEDIA-SEQUENCE:0\n"
		    "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:%.3f,\n%s\n"
		    "#EXT-X-ENDLIST\n", (long)(len + 0.999), len, base);
		key = msp_sprintf("%s%s.m3u8", subs, tag);
		if (pl == NULL || key == NULL)
			rc = oom(e);
		else
			rc = msp_blob_put(b, key, pl, strlen(pl), 0, e);
		free(pl);
		free(key);
		if (rc != 0)
			goto out;
	}
	/* then the master that names them */
	if ((nm = master_with(m.p, caps)) == NULL) {
		rc = oom(e);
		goto out;
	}
	if (strcmp(nm, m.p) != 0 &&
	    (rc = msp_blob_put(b, master, nm, strlen(nm), 0, e)) != 0)
		goto out;
	/* and what no longer is named goes */
	if (msp_blob_list(b, subs, list_fn, &old, e) != 0)
		goto out; /* only leftovers: not an error */
	for (j = 0; j < old.n; j++) {
		const char *k = old.k[j] + strlen(subs);
		int keep = 0;
		for (i = 0; i < n && !keep; i++) {
			json_object *c = json_object_array_get_idx(caps, i);
			const char *tag = sget(c, "language");
			const char *base = strrchr(sget(c, "path"), '/') + 1;
			size_t tl = strlen(tag);
			if (strcmp(k, base) == 0 || (strncmp(k, tag, tl) == 0 &&
			    strcmp(k + tl, ".m3u8") == 0))
				keep = 1;
		}
		if (!keep)
			(void)msp_blob_remove(b, old.k[j], NULL);
	}
out:
	for (j = 0; j < old.n; j++)
		free(old.k[j]);
	free(old.k);
	free(m.p);
	free(nm);
	free(dir);
	free(subs);
	return rc;
}
