/* util: ids, time, UTF-8 and small string helpers. */
#ifndef MSP_UTIL_H
#define MSP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

/*
 * Ids: 26 characters of lowercase Crockford base32 (URL-safe): 48 bits of
 * milliseconds since the epoch, then 80 random bits. Ids sort by creation
 * time; within one process they are strictly increasing.
 */
#define MSP_ID_LEN 26
int msp_id_new(char out[MSP_ID_LEN + 1]);
int msp_id_valid(const char *s);
/* The creation time of an id, in milliseconds since the epoch. */
int64_t msp_id_ms(const char *id);

/* Milliseconds since the epoch, UTC (MSP_NOW_MS in the environment is not
 * read here; see msp_now_set). */
int64_t msp_now_ms(void);
/* Tests and imports may pin the clock; 0 unpins. */
void msp_now_set(int64_t ms);
/* RFC 3339 UTC with milliseconds: 2026-11-24T12:47:04.123Z. */
#define MSP_TIME_LEN 24
void msp_time_fmt(int64_t ms, char out[MSP_TIME_LEN + 1]);
/* Parse RFC 3339 (Z or +hh:mm offset, optional fraction); -1 if invalid. */
int msp_time_parse(const char *s, int64_t *ms);

/* Valid UTF-8 with no NUL; returns 1 or 0. */
int msp_utf8_valid(const char *s, size_t len);
/* Characters (code points) in valid UTF-8. */
size_t msp_utf8_len(const char *s, size_t len);
/* 1 when s holds C0 control characters other than tab, LF and CR, or DEL. */
int msp_has_control(const char *s, size_t len, int allow_newline);

/* Validate and lower-case an email address into out (malloc'd). */
int msp_email_norm(const char *in, char **out, struct msp_err *e);

/* Parse a non-negative decimal integer with bounds; -1 on junk. */
int msp_parse_int(const char *s, long long min, long long max, long long *out);

/* Base64url without padding (libsodium); returns malloc'd string. */
char *msp_b64url_enc(const void *p, size_t n);
/* Decodes into malloc'd buffer; returns length or -1. */
long msp_b64url_dec(const char *s, unsigned char **out);

/* Make directories like mkdir -p, mode 0755 (or mode). */
int msp_mkdirs(const char *path, int mode, struct msp_err *e);
/* Open rel (a relative path) inside the directory root without following
 * a symbolic link in any of rel's components (root itself may be one):
 * openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or O_NOFOLLOW one
 * component at a time where openat2 is missing. flags as open(2) takes
 * them (O_CLOEXEC and O_NOFOLLOW are added). A descriptor, or -1 with
 * errno (ELOOP or ENOTDIR for a link on the way). */
int msp_open_beneath(const char *root, const char *rel, int flags);
/* Join with '/', malloc'd. */
char *msp_path_join(const char *a, const char *b);

/* xstrdup that returns NULL on OOM. */
char *msp_strdup(const char *s);
/* asprintf-like; returns NULL on error. */
char *msp_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Room for n items of size bytes in the array *p of *cap items: doubled
 * from first as needed; 0, or -1 when out of memory (*p unchanged). */
int msp_grow(void *p, size_t *cap, size_t n, size_t size, size_t first);

/* Byte strings in byte order, a shorter one before its extensions. */
int msp_bytes_cmp(const void *a, size_t an, const void *b, size_t bn);
/* The value of one hex digit (either case), or -1. */
int msp_hexval(int c);

/*
 * A set of byte strings (NULs allowed), each numbered 0, 1, ... in the
 * order first added and kept NUL-terminated in one buffer. Zero it to
 * start; msp_strset_free when done.
 */
struct msp_strset {
	char *buf;
	size_t bn, bcap;
	size_t *off;        /* by number, and one past the last */
	uint32_t n;
	size_t cap;
	uint32_t *slots;    /* open hash: number + 1, 0 empty */
	size_t nslots;
};
/* p[0..n)'s number, added when new; UINT32_MAX when out of memory. */
uint32_t msp_strset_add(struct msp_strset *s, const void *p, size_t n);
/* String i and (when len is not NULL) its length. */
const char *msp_strset_get(const struct msp_strset *s, uint32_t i,
    size_t *len);
/* Every number, in the byte order of the strings (the caller frees);
 * NULL when out of memory. */
uint32_t *msp_strset_sorted(const struct msp_strset *s);
void msp_strset_free(struct msp_strset *s);

/* Write all n bytes of p to fd (again after EINTR and short writes):
 * 0, or the errno of the failure (EIO for a write of nothing). */
int msp_write_all(int fd, const void *p, size_t n);

#endif
