/* blob: opening a backend, the calls every backend answers, and the local
 * file helpers they share. See blob.h. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob_impl.h"
#include "util.h"

static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;

static int
oom(struct msp_err *e)
{
	return msp_err_set(e, MSP_ENOMEM, "out of memory");
}

static int
key_ok(const char *key, struct msp_err *e)
{
	if (!msp_blob_rel_ok(key))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a media key",
		    key ? key : "");
	return 0;
}

static void
blob_free(void *p)
{
	msp_blob_close(p);
}

static int
blob_new(struct msp_blob **bp, const char *tmpdir, struct msp_err *e)
{
	if ((*bp = calloc(1, sizeof(**bp))) == NULL)
		return oom(e);
	pthread_mutex_init(&(*bp)->mu, NULL);
	if (tmpdir != NULL && ((*bp)->tmpdir = msp_strdup(tmpdir)) == NULL) {
		free(*bp);
		*bp = NULL;
		return oom(e);
	}
	return 0;
}

int
msp_blob_open(struct msp_blob **bp, const char *where, const char *tmpdir,
    struct msp_err *e)
{
	struct msp_blob *b;
	struct stat sb;
	int rc;

	*bp = NULL;
	if (where == NULL || *where == '\0')
		return msp_err_set(e, MSP_EINVAL, "no media directory or "
		    "bucket file given");
	if ((rc = blob_new(&b, tmpdir, e)) != 0)
		return rc;
	if (stat(where, &sb) == 0 && S_ISREG(sb.st_mode)) {
		if (b->tmpdir == NULL && (b->tmpdir = msp_strdup(P_tmpdir)) ==
		    NULL)
			rc = oom(e);
		else
			rc = msp_blob_bucket_open(b, where, e);
	} else {
		if (b->tmpdir == NULL && (b->own_tmp = 1) &&
		    (b->tmpdir = msp_path_join(where, ".msp-tmp")) == NULL)
			rc = oom(e);
		else
			rc = msp_blob_files_open(b, where, e);
	}
	if (rc != 0) {
		msp_blob_close(b);
		return rc;
	}
	*bp = b;
	return 0;
}

int
msp_blob_store(struct msp_store *st, struct msp_blob **bp, struct msp_err *e)
{
	struct msp_blob *b = NULL;
	char *conf = NULL, *tmp = NULL;
	struct stat sb;
	int rc = 0;

	pthread_mutex_lock(&store_mu);
	if ((*bp = msp_store_media(st)) != NULL)
		goto out;
	if ((conf = msp_path_join(msp_store_path(st), MSP_BLOB_CONF)) ==
	    NULL || (tmp = msp_path_join(msp_store_path(st), "media/tmp")) ==
	    NULL) {
		rc = oom(e);
		goto out;
	}
	if ((rc = blob_new(&b, tmp, e)) != 0)
		goto out;
	if (lstat(conf, &sb) == 0) {
		if ((rc = msp_blob_bucket_open(b, conf, e)) == 0)
			rc = msp_blob_bucket_check(b, e);
	} else if (errno != ENOENT) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", conf, strerror(errno));
	} else {
		rc = msp_blob_files_open(b, msp_store_path(st), e);
	}
	if (rc != 0) {
		msp_blob_close(b);
		goto out;
	}
	msp_store_set_media(st, b, blob_free);
	*bp = b;
out:
	pthread_mutex_unlock(&store_mu);
	free(conf);
	free(tmp);
	return rc;
}

void
msp_blob_close(struct msp_blob *b)
{
	if (b == NULL)
		return;
	if (b->ops != NULL && b->ops->close != NULL)
		b->ops->close(b);
	while (b->copies != NULL) {
		struct msp_blob_copy *c = b->copies;
		b->copies = c->next;
		unlink(c->path);
		close(c->fd);
		free(c->path);
		free(c);
	}
	pthread_mutex_destroy(&b->mu);
	if (b->own_tmp)
		(void)rmdir(b->tmpdir); /* when empty */
	free(b->root);
	free(b->tmpdir);
	free(b->where);
	free(b);
}

int
msp_blob_check(struct msp_blob *b, struct msp_err *e)
{
	return b->root != NULL ? 0 : msp_blob_bucket_check(b, e);
}

const char *
msp_blob_where(const struct msp_blob *b)
{
	return b->where ? b->where : "media";
}

int
msp_blob_put(struct msp_blob *b, const char *key, const void *data,
    size_t len, int flags, struct msp_err *e)
{
	int rc;

	if ((rc = key_ok(key, e)) != 0)
		return rc;
	return b->ops->put(b, key, data, len, flags, e);
}

int
msp_blob_put_file(struct msp_blob *b, const char *key, const char *path,
    int flags, int *created, struct msp_err *e)
{
	int rc, c = 0;

	if ((rc = key_ok(key, e)) != 0)
		return rc;
	rc = b->ops->put_file(b, key, path, flags, &c, e);
	if (created != NULL)
		*created = c;
	return rc;
}

int
msp_blob_stage_key(char **key, struct msp_err *e)
{
	char id[MSP_ID_LEN + 1];

	if (msp_id_new(id) != 0 || (*key = msp_sprintf("%s%lld-%s",
	    MSP_BLOB_STAGE, (long long)time(NULL), id)) == NULL)
		return oom(e);
	return 0;
}

int
msp_blob_stage_sweep(struct msp_blob *b, struct msp_err *e)
{
	if (b->root != NULL)
		return 0;
	return msp_blob_bucket_sweep(b, e);
}

int
msp_blob_move(struct msp_blob *b, const char *from, const char *to,
    int flags, int *created, struct msp_err *e)
{
	int rc, c = 0;

	if ((rc = key_ok(from, e)) != 0 || (rc = key_ok(to, e)) != 0)
		return rc;
	rc = b->ops->move(b, from, to, flags, &c, e);
	if (created != NULL)
		*created = c;
	return rc;
}

int
msp_blob_stat(struct msp_blob *b, const char *key, struct msp_blob_stat *s,
    struct msp_err *e)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = key_ok(key, e)) != 0)
		return rc;
	return b->ops->stat(b, key, s, e);
}

int
msp_blob_get(struct msp_blob *b, const char *key, int64_t off, int64_t len,
    int (*fn)(void *, const void *, size_t), void *arg, struct msp_err *e)
{
	int rc;

	if ((rc = key_ok(key, e)) != 0)
		return rc;
	if (off < 0)
		return msp_err_set(e, MSP_EINVAL, "%s: negative offset", key);
	if (len == 0)
		return 0;
	return b->ops->get(b, key, off, len, fn, arg, e);
}

int
msp_blob_list(struct msp_blob *b, const char *prefix,
    int (*fn)(void *, const char *, int64_t), void *arg, struct msp_err *e)
{
	if (prefix == NULL)
		prefix = "";
	if (strstr(prefix, "..") != NULL || prefix[0] == '/')
		return msp_err_set(e, MSP_EINVAL, "'%s': not a media key "
		    "prefix", prefix);
	return b->ops->list(b, prefix, fn, arg, e);
}

int
msp_blob_remove(struct msp_blob *b, const char *key, struct msp_err *e)
{
	int rc;

	if ((rc = key_ok(key, e)) != 0)
		return rc;
	return b->ops->remove(b, key, e);
}

int
msp_blob_sync(struct msp_blob *b, const char *prefix, struct msp_err *e)
{
	return b->ops->sync(b, prefix ? prefix : "", e);
}

int
msp_blob_writer_open(struct msp_blob *b, const char *key, int flags,
    struct msp_blob_writer **wp, struct msp_err *e)
{
	struct msp_blob_writer *w;
	int rc;

	*wp = NULL;
	if (key != NULL && (rc = key_ok(key, e)) != 0)
		return rc;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return oom(e);
	w->b = b;
	w->fd = -1;
	w->flags = flags;
	if (key != NULL && (w->key = msp_strdup(key)) == NULL) {
		free(w);
		return oom(e);
	}
	rc = key != NULL ? b->ops->wopen(w, e) :
	    msp_blob_tmp_open(b, &w->tmp, &w->fd, e);
	if (rc != 0) {
		free(w->key);
		free(w);
		return rc;
	}
	*wp = w;
	return 0;
}

int
msp_blob_writer_write(struct msp_blob_writer *w, const void *p, size_t n,
    struct msp_err *e)
{
	int rc;

	if (w->key != NULL)
		rc = w->b->ops->wwrite(w, p, n, e);
	else
		rc = msp_blob_write_all(w->fd, p, n, w->tmp, e);
	if (rc == 0)
		w->size += (int64_t)n;
	return rc;
}

const char *
msp_blob_writer_path(const struct msp_blob_writer *w)
{
	return w->tmp;
}

int64_t
msp_blob_writer_size(const struct msp_blob_writer *w)
{
	return w->size;
}

static void
writer_free(struct msp_blob_writer *w)
{
	if (w->tmp != NULL)
		unlink(w->tmp); /* then the lock goes */
	if (w->fd >= 0)
		close(w->fd);
	free(w->tmp);
	free(w->key);
	free(w);
}

int
msp_blob_writer_publish(struct msp_blob_writer *w, const char *key,
    int flags, int *created, struct msp_err *e)
{
	int rc, c = 0;

	if (key == NULL)
		key = w->key;
	if ((rc = key_ok(key, e)) != 0) {
		msp_blob_writer_abort(w);
		return rc;
	}
	if (w->key != NULL && strcmp(key, w->key) != 0) {
		msp_blob_writer_abort(w);
		return msp_err_set(e, MSP_EINVAL, "%s: published as %s",
		    w->key, key);
	}
	if (w->key == NULL && fsync(w->fd) != 0)
		rc = msp_err_set(e, MSP_EIO, "%s: %s", w->tmp,
		    strerror(errno));
	else
		rc = w->b->ops->wpublish(w, key, flags | w->flags, &c, e);
	if (created != NULL)
		*created = rc == 0 ? c : 0;
	writer_free(w);
	return rc;
}

void
msp_blob_writer_abort(struct msp_blob_writer *w)
{
	if (w == NULL)
		return;
	if (w->key != NULL)
		w->b->ops->wabort(w);
	writer_free(w);
}

int
msp_blob_fetch(struct msp_blob *b, const char *key, char **path,
    struct msp_err *e)
{
	int rc;

	*path = NULL;
	if ((rc = key_ok(key, e)) != 0)
		return rc;
	return b->ops->fetch(b, key, path, e);
}

int
msp_blob_copy_keep(struct msp_blob *b, const char *path, int fd,
    struct msp_err *e)
{
	struct msp_blob_copy *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = msp_strdup(path)) == NULL) {
		free(c);
		return oom(e);
	}
	c->fd = fd;
	pthread_mutex_lock(&b->mu);
	c->next = b->copies;
	b->copies = c;
	pthread_mutex_unlock(&b->mu);
	return 0;
}

void
msp_blob_fetch_done(struct msp_blob *b, char *path)
{
	struct msp_blob_copy **p, *c = NULL;

	if (path == NULL)
		return;
	/* a copy is removed (then its lock goes); the object's own file
	 * is no copy */
	pthread_mutex_lock(&b->mu);
	for (p = &b->copies; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->path, path) == 0) {
			c = *p;
			*p = c->next;
			break;
		}
	pthread_mutex_unlock(&b->mu);
	if (c != NULL) {
		unlink(c->path);
		close(c->fd);
		free(c->path);
		free(c);
	}
	free(path);
}

int
msp_blob_local(struct msp_blob *b, const char *key, char **path,
    struct msp_err *e)
{
	int rc;

	*path = NULL;
	if ((rc = key_ok(key, e)) != 0)
		return rc;
	return b->ops->local(b, key, path, e);
}

const char *
msp_blob_root(const struct msp_blob *b)
{
	return b->root;
}

int
msp_blob_url(struct msp_blob *b, const char *key, long expires, char **url,
    struct msp_err *e)
{
	int rc;

	*url = NULL;
	if ((rc = key_ok(key, e)) != 0)
		return rc;
	return b->ops->url(b, key, expires, url, e);
}

/* ---- what an object is ------------------------------------------------ */

static const struct {
	const char *ext, *type;
} types[] = {
	{ ".m3u8", "application/vnd.apple.mpegurl" },
	{ ".mpd", "application/dash+xml" },
	{ ".ts", "video/mp2t" },
	{ ".m4s", "video/iso.segment" },
	{ ".mp4", "video/mp4" },
	{ ".m4v", "video/mp4" },
	{ ".mov", "video/quicktime" },
	{ ".mkv", "video/x-matroska" },
	{ ".webm", "video/webm" },
	{ ".avi", "video/x-msvideo" },
	{ ".flv", "video/x-flv" },
	{ ".m4a", "audio/mp4" },
	{ ".aac", "audio/aac" },
	{ ".mp3", "audio/mpeg" },
	{ ".wav", "audio/wav" },
	{ ".ogg", "audio/ogg" },
	{ ".flac", "audio/flac" },
	{ ".vtt", "text/vtt; charset=utf-8" },
	{ ".jpg", "image/jpeg" },
	{ ".png", "image/png" },
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ NULL, NULL }
};

const char *
msp_blob_content_type(const char *key)
{
	size_t n = strlen(key), i;

	for (i = 0; types[i].ext != NULL; i++) {
		size_t m = strlen(types[i].ext);
		if (n > m && strcmp(key + n - m, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

const char *
msp_blob_cache_control(const char *key, int flags)
{
	size_t n = strlen(key);

	/* playlists and manifests change (EVENT and dynamic while
	 * transcoding, a new ladder later); everything else under a key is
	 * written once */
	if ((flags & MSP_BLOB_LIVE) ||
	    (n > 5 && strcmp(key + n - 5, ".m3u8") == 0) ||
	    (n > 4 && strcmp(key + n - 4, ".mpd") == 0))
		return "no-cache";
	return "max-age=31536000, immutable";
}

/* ---- local files -------------------------------------------------------- */

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

int
msp_blob_write_all(int fd, const void *p, size_t n, const char *name,
    struct msp_err *e)
{
	const char *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return msp_err_set(e, MSP_EIO, "%s: %s", name,
			    strerror(w < 0 ? errno : EIO));
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int
msp_file_replace(const char *tmp, const char *dst, const void *data,
    size_t len, int sync, struct msp_err *e)
{
	int fd, rc;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) <
	    0)
		return msp_err_set(e, MSP_EIO, "%s: %s", tmp, strerror(errno));
	rc = msp_blob_write_all(fd, data, len, tmp, e);
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
msp_blob_tmp_open(struct msp_blob *b, char **path, int *fd,
    struct msp_err *e)
{
	char id[MSP_ID_LEN + 1];
	int rc;

	*path = NULL;
	*fd = -1;
	if ((rc = msp_mkdirs(b->tmpdir, 0755, e)) != 0)
		return rc;
	if (!b->swept) {
		b->swept = 1; /* a race here only sweeps twice */
		if ((rc = msp_blob_sweep(b->tmpdir, MSP_BLOB_STALE, e)) != 0)
			return rc;
	}
	if (msp_id_new(id) != 0 || (*path = msp_path_join(b->tmpdir, id)) ==
	    NULL)
		return oom(e);
	*fd = open(*path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (*fd < 0 || flock(*fd, LOCK_EX) != 0) {
		rc = msp_err_set(e, MSP_EIO, "%s: %s", *path, strerror(errno));
		if (*fd >= 0) {
			unlink(*path);
			close(*fd);
			*fd = -1;
		}
		free(*path);
		*path = NULL;
		return rc;
	}
	return 0;
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
