/* text: word splitting and folding (libunistring). See text.h. */
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "text.h"

static int
is_word_cp(ucs4_t c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');
	return uc_is_alnum(c);
}

static int
is_mark(ucs4_t c)
{
	return c >= 0x300 && uc_is_general_category(c, UC_CATEGORY_M);
}

/* Append the code point c to out (of len *on) unless it would pass
 * MSP_TERM_MAX; returns 0 when it did not fit. */
static int
put_cp(char *out, size_t *on, ucs4_t c)
{
	uint8_t buf[6];
	int k = u8_uctomb(buf, c, sizeof(buf));

	if (k <= 0 || *on + (size_t)k > MSP_TERM_MAX)
		return 0;
	memcpy(out + *on, buf, (size_t)k);
	*on += (size_t)k;
	return 1;
}

size_t
msp_text_fold(const char *w, size_t n, char out[MSP_TERM_MAX + 1])
{
	uint8_t sbuf[256], *f;
	const uint8_t *p, *end;
	size_t i, on = 0, fn = sizeof(sbuf);

	for (i = 0; i < n; i++)
		if ((unsigned char)w[i] >= 0x80)
			break;
	if (i == n) { /* ASCII: the common case */
		for (i = 0; i < n && on < MSP_TERM_MAX; i++) {
			unsigned char c = (unsigned char)w[i];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
				out[on++] = (char)c;
		}
		out[on] = '\0';
		return on;
	}
	f = u8_casefold((const uint8_t *)w, n, NULL, UNINORM_NFKD, sbuf, &fn);
	if (f == NULL) {
		out[0] = '\0';
		return 0;
	}
	for (p = f, end = f + fn; p < end;) {
		ucs4_t c;
		int k = u8_mbtouc(&c, p, (size_t)(end - p));
		p += k;
		if (is_mark(c) || !is_word_cp(c))
			continue;
		if (!put_cp(out, &on, c))
			break;
	}
	if (f != sbuf)
		free(f);
	out[on] = '\0';
	return on;
}

int
msp_text_words(const char *s, size_t n, msp_text_fn fn, void *arg)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + n;
	char term[MSP_TERM_MAX + 1];

	while (p < end) {
		const uint8_t *ws, *we;
		ucs4_t c;
		size_t tn;
		int k, rc;

		/* skip to a word start */
		while (p < end) {
			if (*p < 0x80) {
				if (is_word_cp(*p))
					break;
				p++;
				continue;
			}
			k = u8_mbtouc(&c, p, (size_t)(end - p));
			if (is_word_cp(c) && !is_mark(c))
				break;
			p += k;
		}
		if (p >= end)
			break;
		ws = p;
		while (p < end) {
			if (*p < 0x80) {
				if (!is_word_cp(*p))
					break;
				p++;
				continue;
			}
			k = u8_mbtouc(&c, p, (size_t)(end - p));
			if (!is_word_cp(c) && !is_mark(c))
				break;
			p += k;
		}
		we = p;
		tn = msp_text_fold((const char *)ws, (size_t)(we - ws), term);
		if (tn == 0)
			continue;
		if ((rc = fn(term, tn, (size_t)(ws - (const uint8_t *)s),
		    (size_t)(we - (const uint8_t *)s), arg)) != 0)
			return rc;
	}
	return 0;
}

size_t
msp_text_cps(const char *s, size_t n, uint32_t *cps, size_t max)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + n;
	size_t m = 0;

	while (p < end && m < max) {
		ucs4_t c;
		if (*p < 0x80) {
			cps[m++] = *p++;
			continue;
		}
		p += u8_mbtouc(&c, p, (size_t)(end - p));
		cps[m++] = c;
	}
	return m;
}

int
msp_text_edits(const uint32_t *a, size_t an, const uint32_t *b, size_t bn,
    int max)
{
	int rows[3][MSP_TERM_CPS + 1], *pp, *pr, *cr;
	size_t i, j;

	if (an > MSP_TERM_CPS || bn > MSP_TERM_CPS)
		return max + 1;
	if ((an > bn ? an - bn : bn - an) > (size_t)max)
		return max + 1;
	pp = rows[0];
	pr = rows[1];
	cr = rows[2];
	for (j = 0; j <= bn; j++)
		pr[j] = (int)j;
	for (i = 1; i <= an; i++) {
		int lo;
		cr[0] = (int)i;
		lo = cr[0];
		for (j = 1; j <= bn; j++) {
			int cost = a[i - 1] != b[j - 1];
			int v = pr[j - 1] + cost;
			if (pr[j] + 1 < v)
				v = pr[j] + 1;
			if (cr[j - 1] + 1 < v)
				v = cr[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cr[j] = v;
			if (v < lo)
				lo = v;
		}
		if (lo > max)
			return max + 1;
		{
			int *t = pp;
			pp = pr;
			pr = cr;
			cr = t;
		}
	}
	return pr[bn] > max ? max + 1 : pr[bn];
}
