/* conf: the `name = value` configuration files (pay.conf, the bucket
 * file): read one, refused when others may read it, and walk its lines. */
#ifndef MSP_CONF_H
#define MSP_CONF_H

#include <stddef.h>

#include "err.h"

/* Read the whole file at path, of at most max bytes, into *out
 * (NUL-terminated, malloc'd; wipe it with sodium_memzero before free when
 * it holds secrets). private: refuse a file group or others may access or
 * another user owns. MSP_ENOTFOUND when the file is missing. */
int msp_conf_read(const char *path, size_t max, int private, char **out,
    size_t *len, struct msp_err *e);

/* One setting: name (lowercase, [a-z_]), the value's n bytes (not
 * NUL-terminated), where = "file:line". Return 0 to go on. */
typedef int (*msp_conf_fn)(void *arg, const char *name, const char *v,
    size_t n, const char *where, struct msp_err *e);

/* Call fn for each `name = value` line of text; blank lines and lines
 * starting with '#' are skipped. Values are never put in messages. */
int msp_conf_parse(const char *text, const char *path, msp_conf_fn fn,
    void *arg, struct msp_err *e);

#endif
