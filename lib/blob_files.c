/* blob, the files backend: an object is the file root/key, written in the
 * temporary directory and renamed (or linked, for MSP_BLOB_KEEP) into
 * place; its directory is synced unless the write is lazy or live. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob_impl.h"
#include "util.h"

#define CHUNK (1 << 16)

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

static char *
fpath(struct msp_blob *b, const char *key)
{
	return msp_path_join(b->root, key);
}

/* mkdir -p the directory of abs (sync: and fsync it when done) */
static int
parent(const char *abs, int mk, int sync, struct msp_err *e)
{
	char *d = msp_strdup(abs), *s;
	int rc = 0;

	if (d == NULL)
		return oom(e);
	if ((s = strrchr(d, '/')) != NULL && s != d) {
		*s = '\0';
		if (mk)
			rc = msp_mkdirs(d, 0755, e);
		if (rc == 0 && sync)
			rc = msp_blob_sync_dir(d, e);
	}
	free(d);
	return rc;
}

static int
f_put(struct msp_blob *b, const char *key, const void *data, size_t len,
    int flags, struct msp_err *e)
{
	char id[MSP_ID_LEN + 1], *abs = NULL, *tmp = NULL;
	int rc, sync = !(flags & (MSP_BLOB_LIVE | MSP_BLOB_LAZY));

	if ((abs = fpath(b, key)) == NULL || msp_id_new(id) != 0 ||
	    (tmp = msp_path_join(b->tmpdir, id)) == NULL) {
		rc = oom(e);
		goto out;
	}
	if ((rc = msp_mkdirs(b->tmpdir, 0755, e)) != 0 ||
	    (rc = parent(abs, 1, 0, e)) != 0)
		goto out;
	if ((rc = msp_file_replace(tmp, abs, data, len, sync, e)) == 0 && sync)
		rc = parent(abs, 0, 1, e);
out:
	free(tmp);
	free(abs);
	return rc;
}

static int
f_wopen(struct msp_blob_writer *w, struct msp_err *e)
{
	return msp_blob_tmp_open(w->b, &w->tmp, &w->fd, e);
}

static int
f_wwrite(struct msp_blob_writer *w, const void *p, size_t n,
    struct msp_err *e)
{
	return msp_blob_write_all(w->fd, p, n, w->tmp, e);
}

static int
f_wpublish(struct msp_blob_writer *w, const char *key, int flags,
    int *created, struct msp_err *e)
{
	int rc, sync = !(flags & (MSP_BLOB_LIVE | MSP_BLOB_LAZY));
	char *abs;

	if ((abs = fpath(w->b, key)) == NULL)
		return oom(e);
	if (w->key != NULL && sync && fsync(w->fd) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", w->tmp,
		    strerror(errno));
		goto out;
	}
	if ((rc = parent(abs, 1, 0, e)) != 0)
		goto out;
	if (flags & MSP_BLOB_KEEP) {
		/* link, not rename: an existing object is never replaced */
		if (link(w->tmp, abs) == 0)
			*created = 1;
		else if (errno != EEXIST) {
			rc = msp_err_set(e, MSP_EIO, "%s: %s", abs,
			    strerror(errno));
			goto out;
		}
	} else {
		if (rename(w->tmp, abs) != 0) {
			rc = msp_err_set(e, MSP_EIO, "%s: %s", abs,
			    strerror(errno));
			goto out;
		}
		free(w->tmp); /* the name is the object's now */
		w->tmp = NULL;
		*created = 1;
	}
	if (sync)
		rc = parent(abs, 0, 1, e);
	if (rc != 0 && *created && (flags & MSP_BLOB_KEEP))
		unlink(abs);
out:
	free(abs);
	return rc;
}

static void
f_wabort(struct msp_blob_writer *w)
{
	(void)w; /* the temporary file goes with the writer */
}

static int
f_put_file(struct msp_blob *b, const char *key, const char *path, int flags,
    int *created, struct msp_err *e)
{
	struct msp_blob_writer *w = NULL;
	char *buf = NULL;
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return msp_err_set(e, MSP_EIO, "%s: %s", path,
		    strerror(errno));
	if ((buf = malloc(CHUNK)) == NULL) {
		rc = oom(e);
		goto out;
	}
	if ((rc = msp_blob_writer_open(b, key, flags, &w, e)) != 0)
		goto out;
	while ((n = read(fd, buf, CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = msp_err_set(e, MSP_EIO, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if ((rc = msp_blob_writer_write(w, buf, (size_t)n, e)) != 0)
			goto out;
	}
	rc = msp_blob_writer_publish(w, key, flags, created, e);
	w = NULL;
out:
	msp_blob_writer_abort(w);
	free(buf);
	close(fd);
	return rc;
}

static int
f_stat(struct msp_blob *b, const char *key, struct msp_blob_stat *s,
    struct msp_err *e)
{
	struct stat sb;
	char *abs;
	int rc = 0, err;

	if ((abs = fpath(b, key)) == NULL)
		return oom(e);
	err = stat(abs, &sb) != 0 ? errno : 0;
	if (err != 0 && err != ENOENT && err != ENOTDIR) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", abs, strerror(err));
	} else if (err != 0 || !S_ISREG(sb.st_mode)) {
		rc = msp_err_set(e, MSP_ENOTFOUND, "%s: no such object", key);
	} else {
		s->size = sb.st_size;
		s->mtime = sb.st_mtime;
		snprintf(s->etag, sizeof(s->etag), "\"%llx-%llx-%llx\"",
		    (unsigned long long)sb.st_ino,
		    (unsigned long long)sb.st_size,
		    (unsigned long long)sb.st_mtime);
	}
	free(abs);
	return rc;
}

static int
f_get(struct msp_blob *b, const char *key, int64_t off, int64_t len,
    int (*fn)(void *, const void *, size_t), void *arg, struct msp_err *e)
{
	char *abs = NULL, *buf = NULL;
	int fd = -1, rc = 0;

	if ((abs = fpath(b, key)) == NULL || (buf = malloc(CHUNK)) == NULL) {
		rc = oom(e);
		goto out;
	}
	if ((fd = open(abs, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = errno == ENOENT ? msp_err_set(e, MSP_ENOTFOUND, "%s: no "
		    "such object", key) : msp_err_set(e, MSP_EIO, "%s: %s",
		    abs, strerror(errno));
		goto out;
	}
	while (len != 0) {
		size_t want = len < 0 || len > CHUNK ? CHUNK : (size_t)len;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = msp_err_set(e, MSP_EIO, "%s: %s", abs,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (fn(arg, buf, (size_t)n) != 0)
			break;
		off += n;
		if (len > 0)
			len -= n;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(abs);
	return rc;
}

/* ---- listing: walk, collect, sort ------------------------------------ */

struct ent {
	char *key;
	int64_t size;
};

static struct {
	struct ent *v;
	size_t n, cap;
	size_t rootlen;
	const char *prefix;
	const char *skip;   /* the temporary directory */
	int nomem;
} walk; /* nftw has no argument: one listing at a time (under walk_mu) */
static pthread_mutex_t walk_mu = PTHREAD_MUTEX_INITIALIZER;

static int
walk_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	const char *key = p + walk.rootlen, *base = p + f->base;

	if (base[0] == '.' && f->level > 0)
		return flag == FTW_D ? FTW_SKIP_SUBTREE : 0;
	if (flag == FTW_D && strcmp(p, walk.skip) == 0)
		return FTW_SKIP_SUBTREE;
	if (flag != FTW_F || !S_ISREG(sb->st_mode))
		return 0;
	while (*key == '/')
		key++;
	if (strncmp(key, walk.prefix, strlen(walk.prefix)) != 0)
		return 0;
	if (msp_grow(&walk.v, &walk.cap, walk.n + 1, sizeof(*walk.v), 256) !=
	    0 || (walk.v[walk.n].key = msp_strdup(key)) == NULL) {
		walk.nomem = 1;
		return 1;
	}
	walk.v[walk.n++].size = sb->st_size;
	return 0;
}

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->key,
	    ((const struct ent *)b)->key);
}

static int
f_list(struct msp_blob *b, const char *prefix,
    int (*fn)(void *, const char *, int64_t), void *arg, struct msp_err *e)
{
	char *dir = NULL, *s;
	size_t i;
	int rc = 0;

	/* walk from the directory the prefix names up to its last '/' */
	if ((dir = msp_path_join(b->root, prefix)) == NULL)
		return oom(e);
	s = dir + strlen(b->root);
	if ((s = strrchr(s, '/')) != NULL && s[1] != '\0')
		*s = '\0';
	pthread_mutex_lock(&walk_mu);
	memset(&walk, 0, sizeof(walk));
	walk.rootlen = strlen(b->root);
	walk.prefix = prefix;
	walk.skip = b->tmpdir;
	if (nftw(dir, walk_one, 16, FTW_PHYS | FTW_ACTIONRETVAL) == -1 &&
	    errno != ENOENT && errno != ENOTDIR)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", dir, strerror(errno));
	if (walk.nomem)
		rc = oom(e);
	if (rc == 0 && walk.n > 0)
		qsort(walk.v, walk.n, sizeof(*walk.v), ent_cmp);
	for (i = 0; i < walk.n; i++) {
		if (rc == 0 && fn(arg, walk.v[i].key, walk.v[i].size) != 0)
			rc = 1;
		free(walk.v[i].key);
	}
	free(walk.v);
	memset(&walk, 0, sizeof(walk));
	pthread_mutex_unlock(&walk_mu);
	free(dir);
	return rc > 0 ? 0 : rc;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

static int
f_remove(struct msp_blob *b, const char *key, struct msp_err *e)
{
	struct stat sb;
	char *abs;
	int rc = 0;

	if ((abs = fpath(b, key)) == NULL)
		return oom(e);
	if (lstat(abs, &sb) != 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = msp_err_set(e, MSP_EIO, "%s: %s", abs,
			    strerror(errno));
	} else if (nftw(abs, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", abs, strerror(errno));
	}
	free(abs);
	return rc;
}

static int sync_rc;

static int
sync_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	if (flag == FTW_D || flag == FTW_DP) {
		int fd = open(p, O_RDONLY | O_DIRECTORY);
		if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
			sync_rc = errno ? errno : EIO;
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static int
f_sync(struct msp_blob *b, const char *prefix, struct msp_err *e)
{
	char *abs;
	int rc = 0;

	if ((abs = msp_path_join(b->root, prefix)) == NULL)
		return oom(e);
	pthread_mutex_lock(&walk_mu);
	sync_rc = 0;
	if (nftw(abs, sync_one, 16, FTW_PHYS) != 0 && errno != ENOENT)
		sync_rc = errno;
	if (sync_rc != 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", abs,
		    strerror(sync_rc));
	pthread_mutex_unlock(&walk_mu);
	if (rc == 0)
		rc = parent(abs, 0, 1, e);
	free(abs);
	return rc;
}

static int
f_local(struct msp_blob *b, const char *key, char **path, struct msp_err *e)
{
	if ((*path = fpath(b, key)) == NULL)
		return oom(e);
	return 0;
}

static int
f_fetch(struct msp_blob *b, const char *key, char **path, struct msp_err *e)
{
	struct msp_blob_stat s;
	int rc;

	if ((rc = f_stat(b, key, &s, e)) != 0)
		return rc;
	return f_local(b, key, path, e);
}

static int
f_url(struct msp_blob *b, const char *key, long expires, char **url,
    struct msp_err *e)
{
	(void)b;
	(void)key;
	(void)expires;
	(void)e;
	*url = NULL;
	return 0;
}

static int
f_move(struct msp_blob *b, const char *from, const char *to, int flags,
    int *created, struct msp_err *e)
{
	char *src = NULL, *dst = NULL;
	int rc;

	if ((src = fpath(b, from)) == NULL || (dst = fpath(b, to)) == NULL) {
		rc = oom(e);
		goto out;
	}
	if ((rc = parent(dst, 1, 0, e)) != 0)
		goto out;
	if (flags & MSP_BLOB_KEEP) {
		if (link(src, dst) == 0)
			*created = 1;
		else if (errno != EEXIST)
			rc = msp_err_set(e, MSP_EIO, "%s: %s", dst,
			    strerror(errno));
		if (rc == 0)
			(void)unlink(src);
	} else if (rename(src, dst) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", dst, strerror(errno));
	} else {
		*created = 1;
	}
	if (rc == 0 && !(flags & (MSP_BLOB_LIVE | MSP_BLOB_LAZY)))
		rc = parent(dst, 0, 1, e);
out:
	free(src);
	free(dst);
	return rc;
}

static const struct msp_blob_ops files_ops = {
	f_put, f_put_file, f_stat, f_get, f_list, f_remove, f_sync,
	f_wopen, f_wwrite, f_wpublish, f_wabort, f_fetch, f_local, f_url,
	f_move, NULL
};

int
msp_blob_files_open(struct msp_blob *b, const char *root, struct msp_err *e)
{
	size_t n;

	if ((b->root = msp_strdup(root)) == NULL ||
	    (b->where = msp_strdup(root)) == NULL)
		return oom(e);
	n = strlen(b->root);
	while (n > 1 && b->root[n - 1] == '/')
		b->root[--n] = '\0';
	b->ops = &files_ops;
	return 0;
}
