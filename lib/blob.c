#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "util.h"

int
msp_blob_rel_ok(const char *rel)
{
	const char *p = rel;

	if (rel == NULL || *rel == '\0' || *rel == '/')
		return 0;
	while (*p != '\0') {
		const char *q = strchr(p, '/');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

static int
dir_path(const char *base, const char *rel, char **out, struct msp_err *e)
{
	*out = NULL;
	if (!msp_blob_rel_ok(rel))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a path inside "
		    "%s", rel, base);
	if ((*out = msp_path_join(base, rel)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	return 0;
}

int
msp_blob_path(struct msp_store *st, const char *rel, char **out,
    struct msp_err *e)
{
	*out = NULL;
	if (!msp_blob_rel_ok(rel))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a path inside the "
		    "store", rel);
	return dir_path(msp_store_path(st), rel, out, e);
}

int
msp_blob_sync_dir(const char *dir, struct msp_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return msp_err_set(e, MSP_EIO, "%s: %s", dir, strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL) {
		close(fd);
		return msp_err_set(e, MSP_EIO, "%s: %s", dir, strerror(errno));
	}
	close(fd);
	return 0;
}

static int
parent_dirs(const char *abs, struct msp_err *e)
{
	char *d = msp_strdup(abs), *s;
	int rc = 0;

	if (d == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((s = strrchr(d, '/')) != NULL && s != d) {
		*s = '\0';
		rc = msp_mkdirs(d, 0755, e);
	}
	free(d);
	return rc;
}

static int
sync_parent(const char *abs, struct msp_err *e)
{
	char *d = msp_strdup(abs), *s;
	int rc = 0;

	if (d == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((s = strrchr(d, '/')) != NULL && s != d) {
		*s = '\0';
		rc = msp_blob_sync_dir(d, e);
	}
	free(d);
	return rc;
}

int
msp_file_replace(const char *tmp, const char *dst, const void *data,
    size_t len, int sync, struct msp_err *e)
{
	const char *p = data;
	int fd, rc = 0;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return msp_err_set(e, MSP_EIO, "%s: %s", tmp, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = msp_err_set(e, MSP_EIO, "%s: %s", tmp,
			    strerror(errno));
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (rc == 0 && sync && fsync(fd) != 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", tmp, strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, dst) != 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", dst, strerror(errno));
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int
msp_blob_write(struct msp_store *st, const char *rel, const void *data,
    size_t len, struct msp_err *e)
{
	char *abs = NULL, *tmp = NULL;
	int rc;

	if ((rc = msp_blob_path(st, rel, &abs, e)) != 0)
		return rc;
	if ((rc = parent_dirs(abs, e)) != 0)
		goto out;
	if ((tmp = msp_sprintf("%s.tmp.%ld", abs, (long)getpid())) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = msp_file_replace(tmp, abs, data, len, 1, e)) == 0)
		rc = sync_parent(abs, e);
out:
	free(tmp);
	free(abs);
	return rc;
}

int
msp_blob_publish(struct msp_store *st, const char *tmp, const char *rel,
    struct msp_err *e)
{
	if (!msp_blob_rel_ok(rel))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a path inside the "
		    "store", rel);
	return msp_blob_dir_publish(msp_store_path(st), tmp, rel, e);
}

int
msp_blob_dir_publish(const char *base, const char *tmp, const char *rel,
    struct msp_err *e)
{
	char *abs = NULL;
	int rc;

	if ((rc = dir_path(base, rel, &abs, e)) != 0)
		return rc;
	if ((rc = parent_dirs(abs, e)) == 0) {
		if (rename(tmp, abs) != 0)
			rc = msp_err_set(e, MSP_EIO, "%s: %s", abs,
			    strerror(errno));
		else
			rc = sync_parent(abs, e);
	}
	free(abs);
	return rc;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

int
msp_blob_remove(struct msp_store *st, const char *rel, struct msp_err *e)
{
	if (!msp_blob_rel_ok(rel))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a path inside the "
		    "store", rel);
	return msp_blob_dir_remove(msp_store_path(st), rel, e);
}

int
msp_blob_dir_remove(const char *base, const char *rel, struct msp_err *e)
{
	char *abs = NULL;
	struct stat sb;
	int rc;

	if ((rc = dir_path(base, rel, &abs, e)) != 0)
		return rc;
	if (lstat(abs, &sb) != 0) {
		rc = errno == ENOENT ? 0 :
		    msp_err_set(e, MSP_EIO, "%s: %s", abs, strerror(errno));
	} else if (nftw(abs, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", abs, strerror(errno));
	}
	free(abs);
	return rc;
}

/* Remove dir/name when it is a regular file untouched for age seconds
 * that no writer holds locked. */
static void
sweep_one(int dfd, const char *name, time_t now, long age)
{
	struct stat sb;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    now - sb.st_mtime > age && flock(fd, LOCK_EX | LOCK_NB) == 0)
		(void)unlinkat(dfd, name, 0);
	close(fd); /* drops the lock */
}

int
msp_blob_sweep(const char *dir, long age, struct msp_err *e)
{
	time_t now = time(NULL);
	struct dirent *d;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 :
		    msp_err_set(e, MSP_EIO, "%s: %s", dir, strerror(errno));
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.')
			sweep_one(dirfd(dp), d->d_name, now, age);
	closedir(dp);
	return 0;
}
