#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <unistr.h>

#include <sodium.h>

#include "util.h"

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char id_last[16];
static int64_t pinned_ms;

int64_t
msp_now_ms(void)
{
	struct timespec ts;

	if (pinned_ms != 0)
		return pinned_ms;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
msp_now_set(int64_t ms)
{
	pinned_ms = ms;
}

int
msp_id_new(char out[MSP_ID_LEN + 1])
{
	unsigned char b[16];
	int64_t ms = msp_now_ms();
	int i, bit;

	if (sodium_init() < 0)
		return MSP_ENOMEM;
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (8 * (5 - i)));
	randombytes_buf(b + 6, 10);
	pthread_mutex_lock(&id_lock);
	/* strictly increasing within the process: same or earlier millisecond
	 * reuses the last id plus one */
	if (memcmp(b, id_last, 6) <= 0) {
		memcpy(b, id_last, 16);
		for (i = 15; i >= 6; i--)
			if (++b[i] != 0)
				break;
	}
	memcpy(id_last, b, 16);
	pthread_mutex_unlock(&id_lock);
	/* 128 bits -> 26 base32 digits: the first digit holds the top 3 bits */
	for (i = 0; i < MSP_ID_LEN; i++) {
		int v = 0, k;
		for (k = 0; k < 5; k++) {
			bit = i * 5 + k - 2; /* 130 bits with 2 leading zero bits */
			v <<= 1;
			if (bit >= 0)
				v |= (b[bit / 8] >> (7 - bit % 8)) & 1;
		}
		out[i] = b32[v];
	}
	out[MSP_ID_LEN] = '\0';
	return 0;
}

int
msp_id_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != MSP_ID_LEN)
		return 0;
	if (s[0] < '0' || s[0] > '7')
		return 0;
	for (i = 0; i < MSP_ID_LEN; i++)
		if (strchr(b32, s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

int64_t
msp_id_ms(const char *id)
{
	int64_t ms = 0;
	int i;

	/* 48 bits of time: the first 10 digits hold 50 bits (2 leading zeros) */
	for (i = 0; i < 10; i++)
		ms = (ms << 5) | (int64_t)(strchr(b32, id[i]) - b32);
	return ms;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (the
 * civil calendar algorithms of H. Hinnant), so that the usual times need
 * neither gmtime nor strptime. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void
digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
msp_time_fmt(int64_t ms, char out[MSP_TIME_LEN + 1])
{
	int64_t days = ms / 86400000, y;
	int64_t rem = ms % 86400000;
	unsigned m, d, secs;

	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) { /* outside the four-digit years */
		time_t t = (time_t)(ms / 1000);
		struct tm tm;
		char buf[96];

		gmtime_r(&t, &tm);
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d."
		    "%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
		memcpy(out, buf, MSP_TIME_LEN);
		out[MSP_TIME_LEN] = '\0';
		return;
	}
	secs = (unsigned)(rem / 1000);
	memcpy(out, "0000-00-00T00:00:00.000Z", MSP_TIME_LEN + 1);
	digits(out, (unsigned)y, 4);
	digits(out + 5, m, 2);
	digits(out + 8, d, 2);
	digits(out + 11, secs / 3600, 2);
	digits(out + 14, secs / 60 % 60, 2);
	digits(out + 17, secs % 60, 2);
	digits(out + 20, (unsigned)(rem % 1000), 3);
}

/* The canonical form, YYYY-MM-DDTHH:MM:SS.mmmZ with every field in its
 * range, without strptime; 1 when s is not in it. */
static int
time_parse_fast(const char *s, int64_t *ms)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	static const unsigned char mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };
	unsigned v[7], i, k = 0, y, mo, d, h, mi, sec;

	for (i = 0; pat[i] != '\0'; i++) {
		if (pat[i] == 'd') {
			if (s[i] < '0' || s[i] > '9')
				return 1;
		} else if (s[i] != pat[i]) {
			return 1;
		}
	}
	if (s[i] != '\0')
		return 1;
	memset(v, 0, sizeof(v));
	for (i = 0; pat[i] != '\0'; i++) {
		if (pat[i] == 'd')
			v[k] = v[k] * 10 + (unsigned)(s[i] - '0');
		else if (pat[i] != 'Z')
			k++;
	}
	y = v[0], mo = v[1], d = v[2], h = v[3], mi = v[4], sec = v[5];
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 59)
		return 1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 ||
	    y % 400 == 0)))
		return 1;
	*ms = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) *
	    1000 + v[6];
	return 0;
}

int
msp_time_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *p;
	long frac = 0;
	int fd = 0, off = 0;
	time_t t;

	if (time_parse_fast(s, ms) == 0)
		return 0;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (fd < 3) {
				frac = frac * 10 + (*p - '0');
				fd++;
			}
			p++;
		}
		while (fd < 3) {
			frac *= 10;
			fd++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ':' &&
	    isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		    ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	t = timegm(&tm);
	*ms = ((int64_t)t - off) * 1000 + frac;
	return 0;
}

int
msp_utf8_valid(const char *s, size_t len)
{
	if (memchr(s, '\0', len) != NULL)
		return 0;
	return u8_check((const uint8_t *)s, len) == NULL;
}

size_t
msp_utf8_len(const char *s, size_t len)
{
	return u8_mbsnlen((const uint8_t *)s, len);
}

int
msp_has_control(const char *s, size_t len, int allow_newline)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\t' || (allow_newline && (c == '\n' || c == '\r')))
			continue;
		if (c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

int
msp_email_norm(const char *in, char **out, struct msp_err *e)
{
	size_t n = strlen(in), i;
	const char *at;
	char *s;

	*out = NULL;
	if (n == 0 || n > 254)
		return msp_err_set(e, MSP_EINVAL, "email must be 1 to 254 characters");
	at = strchr(in, '@');
	if (at == NULL || at == in || strchr(at + 1, '@') != NULL ||
	    at[1] == '\0' || strchr(at + 1, '.') == NULL ||
	    at[1] == '.' || in[n - 1] == '.' || at - in > 64)
		return msp_err_set(e, MSP_EINVAL, "'%s' is not an email address", in);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]", c) != NULL)
			return msp_err_set(e, MSP_EINVAL,
			    "email address has an invalid character");
	}
	if (strstr(in, "..") != NULL)
		return msp_err_set(e, MSP_EINVAL, "'%s' is not an email address", in);
	if ((s = msp_strdup(in)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	*out = s;
	return 0;
}

int
msp_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

char *
msp_b64url_enc(const void *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *s = malloc(cap);

	if (s == NULL)
		return NULL;
	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return s;
}

long
msp_b64url_dec(const char *s, unsigned char **out)
{
	size_t n = strlen(s), got;
	unsigned char *b = malloc(n + 1);

	*out = NULL;
	if (b == NULL)
		return -1;
	if (sodium_base642bin(b, n + 1, s, n, NULL, &got, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
		free(b);
		return -1;
	}
	*out = b;
	return (long)got;
}

int
msp_mkdirs(const char *path, int mode, struct msp_err *e)
{
	char *p = msp_strdup(path), *s;
	int rc = 0;

	if (p == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	for (s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
				rc = msp_err_set(e, MSP_EIO, "%s: %s", p,
				    strerror(errno));
				break;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(p);
	return rc;
}

/* The fallback: each directory opened with O_NOFOLLOW | O_DIRECTORY from
 * the one before, the last component with O_NOFOLLOW. */
static int
open_by_parts(int dfd, const char *rel, int flags)
{
	char part[256];
	const char *p = rel, *slash;
	int fd = -1, next, saved;
	size_t n;

	for (;;) {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n >= sizeof(part) ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			errno = ENOENT;
			goto fail;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		if (slash == NULL)
			break;
		next = openat(fd >= 0 ? fd : dfd, part, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			goto fail;
		if (fd >= 0)
			close(fd);
		fd = next;
		p = slash + 1;
	}
	next = openat(fd >= 0 ? fd : dfd, part, flags | O_NOFOLLOW | O_CLOEXEC);
	saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	return next;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

int
msp_open_beneath(const char *root, const char *rel, int flags)
{
	struct open_how how;
	int dfd, fd, saved;
	long rc;

	if ((dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	rc = syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	if (rc < 0 && (errno == ENOSYS || errno == EPERM ||
	    errno == E2BIG))
		fd = open_by_parts(dfd, rel, flags);
	else
		fd = (int)rc;
	saved = errno;
	close(dfd);
	errno = saved;
	return fd;
}

char *
msp_path_join(const char *a, const char *b)
{
	return msp_sprintf("%s/%s", a, b);
}

char *
msp_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

char *
msp_sprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

int
msp_grow(void *p, size_t *cap, size_t n, size_t size, size_t first)
{
	void **pp = p, *np;
	size_t nc = *cap ? *cap : first;

	if (n <= *cap)
		return 0;
	while (nc < n) {
		if (nc > SIZE_MAX / 2)
			return -1;
		nc *= 2;
	}
	if (nc > SIZE_MAX / size || (np = realloc(*pp, nc * size)) == NULL)
		return -1;
	*pp = np;
	*cap = nc;
	return 0;
}

int
msp_bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c != 0 ? c : (an > bn) - (an < bn);
}

static uint32_t
fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int
strset_rehash(struct msp_strset *s)
{
	size_t ns = s->nslots ? s->nslots * 2 : 1 << 12, i;
	uint32_t *sl = calloc(ns, sizeof(*sl)), k;

	if (sl == NULL)
		return -1;
	for (k = 0; k < s->n; k++) {
		size_t len;
		const char *x = msp_strset_get(s, k, &len);
		i = fnv1a((const unsigned char *)x, len) & (ns - 1);
		while (sl[i] != 0)
			i = (i + 1) & (ns - 1);
		sl[i] = k + 1;
	}
	free(s->slots);
	s->slots = sl;
	s->nslots = ns;
	return 0;
}

uint32_t
msp_strset_add(struct msp_strset *s, const void *p, size_t n)
{
	size_t i, mask;

	if (((size_t)s->n + 1) * 2 > s->nslots && strset_rehash(s) != 0)
		return UINT32_MAX;
	mask = s->nslots - 1;
	for (i = fnv1a(p, n) & mask; s->slots[i] != 0; i = (i + 1) & mask) {
		size_t len;
		const char *x = msp_strset_get(s, s->slots[i] - 1, &len);
		if (len == n && memcmp(x, p, n) == 0)
			return s->slots[i] - 1;
	}
	if (s->n == UINT32_MAX - 1 ||
	    msp_grow(&s->off, &s->cap, (size_t)s->n + 2, sizeof(*s->off),
	    1 << 12) != 0 ||
	    msp_grow(&s->buf, &s->bcap, s->bn + n + 1, 1, 1 << 16) != 0)
		return UINT32_MAX;
	memcpy(s->buf + s->bn, p, n);
	s->buf[s->bn + n] = '\0';
	s->off[s->n] = s->bn;
	s->bn += n + 1;
	s->off[s->n + 1] = s->bn;
	s->slots[i] = s->n + 1;
	return s->n++;
}

const char *
msp_strset_get(const struct msp_strset *s, uint32_t i, size_t *len)
{
	if (len != NULL)
		*len = s->off[i + 1] - s->off[i] - 1;
	return s->buf + s->off[i];
}

static int
strset_cmp(const void *a, const void *b, void *arg)
{
	const struct msp_strset *s = arg;
	size_t an, bn;
	const char *x = msp_strset_get(s, *(const uint32_t *)a, &an);
	const char *y = msp_strset_get(s, *(const uint32_t *)b, &bn);

	return msp_bytes_cmp(x, an, y, bn);
}

uint32_t *
msp_strset_sorted(const struct msp_strset *s)
{
	uint32_t *ord = malloc(((size_t)s->n + 1) * sizeof(*ord)), i;

	if (ord == NULL)
		return NULL;
	for (i = 0; i < s->n; i++)
		ord[i] = i;
	qsort_r(ord, s->n, sizeof(*ord), strset_cmp, (void *)s);
	return ord;
}

void
msp_strset_free(struct msp_strset *s)
{
	free(s->buf);
	free(s->off);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

int
msp_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno : EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int
msp_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
