/* conf: the `name = value` configuration files. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "util.h"

int
msp_conf_read(const char *path, size_t max, int private, char **out,
    size_t *len, struct msp_err *e)
{
	struct stat sb;
	char *buf = NULL;
	size_t n = 0;
	ssize_t got;
	int fd, rc = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return msp_err_set(e, errno == ENOENT ? MSP_ENOTFOUND : MSP_EIO,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = msp_err_set(e, MSP_EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (private && (sb.st_mode & 077) != 0) {
		rc = msp_err_set(e, MSP_EPERM, "%s: refused: group or others "
		    "may access it (mode %04o); chmod 600 it", path,
		    (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (private && sb.st_uid != geteuid()) {
		rc = msp_err_set(e, MSP_EPERM, "%s: refused: owned by another "
		    "user", path);
		goto out;
	}
	if ((size_t)sb.st_size > max) {
		rc = msp_err_set(e, MSP_EINVAL, "%s: larger than %zu bytes",
		    path, max);
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	while (n < (size_t)sb.st_size) {
		got = read(fd, buf + n, (size_t)sb.st_size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = msp_err_set(e, MSP_EIO, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	if (buf != NULL) {
		sodium_memzero(buf, (size_t)sb.st_size);
		free(buf);
	}
	close(fd);
	return rc;
}

int
msp_conf_parse(const char *text, const char *path, msp_conf_fn fn,
    void *arg, struct msp_err *e)
{
	const char *p = text, *nl, *eq, *ks, *ke, *vs, *ve;
	char name[32], where[600];
	size_t line = 0;
	int rc;

	while (*p != '\0') {
		line++;
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		snprintf(where, sizeof(where), "%s:%zu", path, line);
		for (ks = p; ks < nl && isspace((unsigned char)*ks); ks++)
			;
		if (ks == nl || *ks == '#')
			goto next;
		eq = memchr(ks, '=', (size_t)(nl - ks));
		if (eq == NULL)
			return msp_err_set(e, MSP_EINVAL, "%s: expected "
			    "'name = value'", where);
		for (ke = eq; ke > ks && isspace((unsigned char)ke[-1]); ke--)
			;
		for (vs = eq + 1; vs < nl && isspace((unsigned char)*vs); vs++)
			;
		for (ve = nl; ve > vs && isspace((unsigned char)ve[-1]); ve--)
			;
		if ((size_t)(ke - ks) >= sizeof(name) || ke == ks ||
		    strspn(ks, "abcdefghijklmnopqrstuvwxyz_") < (size_t)(ke - ks))
			return msp_err_set(e, MSP_EINVAL, "%s: unknown setting",
			    where);
		memcpy(name, ks, (size_t)(ke - ks));
		name[ke - ks] = '\0';
		if (ve == vs)
			return msp_err_set(e, MSP_EINVAL, "%s: %s: empty value",
			    where, name);
		if (msp_has_control(vs, (size_t)(ve - vs), 0))
			return msp_err_set(e, MSP_EINVAL, "%s: %s: control "
			    "characters in the value", where, name);
		if ((rc = fn(arg, name, vs, (size_t)(ve - vs), where,
		    e)) != 0)
			return rc;
next:
		p = *nl ? nl + 1 : nl;
	}
	return 0;
}
