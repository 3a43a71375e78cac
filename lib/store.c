#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

static const struct msp_dbdef dbdefs[MSP_DB_COUNT] = {
	[MSP_DB_META] = { "meta", "meta" },
	[MSP_DB_USERS] = { "users", "user" },
	[MSP_DB_USER_IDS] = { "user_ids", NULL },
	[MSP_DB_CREDS] = { "credentials", "credential" },
	[MSP_DB_VIDEOS] = { "videos", "video" },
	[MSP_DB_VINDEX] = { "video_index", NULL },
	[MSP_DB_LIKES] = { "likes", "like" },
	[MSP_DB_LIKE_IDX] = { "like_index", NULL },
	[MSP_DB_RATINGS] = { "ratings", "rating" },
	[MSP_DB_RATING_IDX] = { "rating_index", NULL },
	[MSP_DB_SEARCH] = { "search", NULL },
	[MSP_DB_SUBS] = { "subscriptions", "subscription" },
	[MSP_DB_ORDERS] = { "orders", "order" },
	[MSP_DB_ORDER_IDX] = { "order_index", NULL },
	[MSP_DB_PAYMENTS] = { "payments", "payment" },
	[MSP_DB_EVENTS] = { "events", "event" },
	[MSP_DB_JOBS] = { "jobs", "job" },
	[MSP_DB_JOB_IDX] = { "job_index", NULL },
	[MSP_DB_SESSIONS] = { "sessions", "session" },
};

struct msp_store {
	MDB_env *env;
	MDB_dbi dbi[MSP_DB_COUNT];
	char *path;
	pthread_rwlock_t lock; /* held shared by every txn, exclusive to grow */
	int bulk;
	size_t want;            /* msp_store_want: bytes the next grow adds */
	void *media;            /* lib/blob's handle, or NULL */
	void (*media_free)(void *);
};

int
msp_store_set_bulk(struct msp_store *st, int on, struct msp_err *e)
{
	int rc;

	st->bulk = on;
	/* a commit flushes the data but not the meta page: a crash can
	 * only undo the last batch, and the end of the load syncs it all */
	mdb_env_set_flags(st->env, MDB_NOMETASYNC, on);
	if (!on && (rc = mdb_env_sync(st->env, 1)) != 0)
		return msp_store_mdb_err(rc, "sync", e);
	return 0;
}

int
msp_store_bulk(const struct msp_store *st)
{
	return st->bulk;
}

static volatile sig_atomic_t stop_flag;

void
msp_stop_request(void)
{
	stop_flag = 1;
}

int
msp_stop_requested(void)
{
	return stop_flag != 0;
}

const struct msp_dbdef *
msp_store_dbdef(enum msp_db db)
{
	return &dbdefs[db];
}

void *
msp_store_media(const struct msp_store *st)
{
	return st->media;
}

void
msp_store_set_media(struct msp_store *st, void *p, void (*fr)(void *))
{
	st->media = p;
	st->media_free = fr;
}

const char *
msp_store_path(const struct msp_store *st)
{
	return st->path;
}

MDB_dbi
msp_store_dbi(const struct msp_store *st, enum msp_db db)
{
	return st->dbi[db];
}

int
msp_store_mdb_err(int rc, const char *what, struct msp_err *e)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return MSP_ENOTFOUND;
	case MDB_MAP_FULL:
		return msp_err_set(e, MSP_EMAPFULL, "%s: store map full", what);
	case ENOMEM:
		return msp_err_set(e, MSP_ENOMEM, "%s: out of memory", what);
	case EACCES:
	case EROFS:
	case ENOSPC:
	case EIO:
		return msp_err_set(e, MSP_EIO, "%s: %s", what, mdb_strerror(rc));
	default:
		return msp_err_set(e, MSP_ESTORE, "%s: %s", what, mdb_strerror(rc));
	}
}

static int
store_prepare(struct msp_store *st, struct msp_err *e)
{
	MDB_txn *t;
	MDB_val k, v;
	int i, rc;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &t)) != 0)
		return msp_store_mdb_err(rc, st->path, e);
	for (i = 0; i < MSP_DB_COUNT; i++) {
		rc = mdb_dbi_open(t, dbdefs[i].name, MDB_CREATE, &st->dbi[i]);
		if (rc != 0)
			goto fail;
	}
	k.mv_data = "schema";
	k.mv_size = 6;
	rc = mdb_get(t, st->dbi[MSP_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		char buf[128];
		int n = snprintf(buf, sizeof(buf),
		    "{\"type\":\"meta\",\"v\":1,\"key\":\"schema\",\"value\":\"%d\"}",
		    MSP_SCHEMA);
		v.mv_data = buf;
		v.mv_size = (size_t)n;
		if ((rc = mdb_put(t, st->dbi[MSP_DB_META], &k, &v, 0)) != 0)
			goto fail;
	} else if (rc == 0) {
		json_object *o;
		char tmp[256];
		long ver = 0;

		if (v.mv_size < sizeof(tmp)) {
			memcpy(tmp, v.mv_data, v.mv_size);
			tmp[v.mv_size] = '\0';
			o = json_tokener_parse(tmp);
			if (o != NULL) {
				json_object *x;
				if (json_object_object_get_ex(o, "value", &x))
					ver = strtol(json_object_get_string(x),
					    NULL, 10);
				json_object_put(o);
			}
		}
		if (ver <= 0) {
			mdb_txn_abort(t);
			return msp_err_set(e, MSP_ESTORE,
			    "%s: store has no valid schema version", st->path);
		}
		if (ver > MSP_SCHEMA) {
			mdb_txn_abort(t);
			return msp_err_set(e, MSP_ESTORE,
			    "%s: store schema %ld is newer than this msp "
			    "supports (%d); upgrade msp", st->path, ver,
			    MSP_SCHEMA);
		}
	} else {
		goto fail;
	}
	if ((rc = mdb_txn_commit(t)) != 0)
		return msp_store_mdb_err(rc, st->path, e);
	return 0;
fail:
	mdb_txn_abort(t);
	return msp_store_mdb_err(rc, st->path, e);
}

int
msp_store_open(struct msp_store **sp, const char *dir, int flags,
    struct msp_err *e)
{
	struct msp_store *st;
	struct stat sb;
	const char *ms;
	size_t mapsize = (size_t)256 << 20;
	int rc;

	*sp = NULL;
	if (dir == NULL || *dir == '\0')
		dir = getenv("MSP_STORE");
	if (dir == NULL || *dir == '\0')
		dir = MSP_STORE_DEFAULT;
	if ((ms = getenv("MSP_STORE_MAPSIZE")) != NULL && *ms != '\0') {
		long long v;
		if (msp_parse_int(ms, 1 << 16, LLONG_MAX, &v) != 0)
			return msp_err_set(e, MSP_EINVAL,
			    "MSP_STORE_MAPSIZE: '%s' is not a size in bytes "
			    "(at least 65536)", ms);
		mapsize = (size_t)v;
	}
	if (stat(dir, &sb) != 0) {
		if (errno != ENOENT)
			return msp_err_set(e, MSP_EIO, "%s: %s", dir,
			    strerror(errno));
		if (flags & MSP_STORE_EXISTING)
			return msp_err_set(e, MSP_ENOTFOUND, "%s: no store here",
			    dir);
		if ((rc = msp_mkdirs(dir, 0755, e)) != 0)
			return rc;
	} else if (!S_ISDIR(sb.st_mode)) {
		return msp_err_set(e, MSP_EIO, "%s: not a directory", dir);
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((st->path = msp_strdup(dir)) == NULL) {
		free(st);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	pthread_rwlock_init(&st->lock, NULL);
	if ((rc = mdb_env_create(&st->env)) != 0) {
		rc = msp_store_mdb_err(rc, dir, e);
		goto fail;
	}
	mdb_env_set_maxdbs(st->env, 64);
	mdb_env_set_maxreaders(st->env, 510);
	mdb_env_set_mapsize(st->env, mapsize);
	rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0644);
	if (rc != 0) {
		rc = msp_store_mdb_err(rc, dir, e);
		goto fail;
	}
	/* another process may have grown the map beyond ours */
	mdb_env_set_mapsize(st->env, 0);
	if ((rc = store_prepare(st, e)) != 0)
		goto fail;
	*sp = st;
	return 0;
fail:
	msp_store_close(st);
	return rc;
}

void
msp_store_close(struct msp_store *st)
{
	if (st == NULL)
		return;
	if (st->media != NULL && st->media_free != NULL)
		st->media_free(st->media);
	if (st->env != NULL)
		mdb_env_close(st->env);
	pthread_rwlock_destroy(&st->lock);
	free(st->path);
	free(st);
}

/* The map's used bytes, and its size. */
static void
store_used(struct msp_store *st, size_t *used, size_t *size)
{
	MDB_envinfo info;
	MDB_stat s;

	mdb_env_info(st->env, &info);
	mdb_env_stat(st->env, &s);
	*used = ((size_t)info.me_last_pgno + 1) * s.ms_psize;
	*size = info.me_mapsize;
}

size_t
msp_store_room(struct msp_store *st)
{
	size_t used, size;

	store_used(st, &used, &size);
	return size > used ? size - used : 0;
}

void
msp_store_want(struct msp_store *st, size_t bytes)
{
	st->want = bytes;
}

/* Double the map, or more when a write said how much it needs; no
 * transaction of this process may be open. */
static int
store_grow(struct msp_store *st, struct msp_err *e)
{
	size_t used, size, to;
	int rc;

	pthread_rwlock_wrlock(&st->lock);
	store_used(st, &used, &size);
	to = size * 2;
	if (st->want > 0 && used + st->want > to)
		to = (used + st->want + ((size_t)64 << 20)) &
		    ~(((size_t)64 << 20) - 1);
	st->want = 0;
	rc = mdb_env_set_mapsize(st->env, to);
	pthread_rwlock_unlock(&st->lock);
	return msp_store_mdb_err(rc, st->path, e);
}

int
msp_txn_begin(struct msp_store *st, int write, MDB_txn **tp,
    struct msp_err *e)
{
	int rc, tries;

	for (tries = 0; tries < 3; tries++) {
		pthread_rwlock_rdlock(&st->lock);
		rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, tp);
		if (rc != MDB_MAP_RESIZED)
			break;
		pthread_rwlock_unlock(&st->lock);
		/* another process grew the map: adopt its size */
		pthread_rwlock_wrlock(&st->lock);
		mdb_env_set_mapsize(st->env, 0);
		pthread_rwlock_unlock(&st->lock);
	}
	if (rc != 0) {
		if (rc != MDB_MAP_RESIZED)
			pthread_rwlock_unlock(&st->lock);
		return msp_store_mdb_err(rc, st->path, e);
	}
	return 0;
}

int
msp_txn_commit(struct msp_store *st, MDB_txn *t, struct msp_err *e)
{
	int rc = mdb_txn_commit(t);

	pthread_rwlock_unlock(&st->lock);
	if (rc == MDB_MAP_FULL)
		store_grow(st, NULL);
	return msp_store_mdb_err(rc, st->path, e);
}

void
msp_txn_abort(struct msp_store *st, MDB_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t);
	pthread_rwlock_unlock(&st->lock);
}

int
msp_txn_sub(struct msp_store *st, MDB_txn *parent, MDB_txn **tp,
    struct msp_err *e)
{
	return msp_store_mdb_err(mdb_txn_begin(st->env, parent, 0, tp),
	    st->path, e);
}

int
msp_txn_sub_commit(MDB_txn *t, struct msp_err *e)
{
	return msp_store_mdb_err(mdb_txn_commit(t), "commit", e);
}

/*
 * A bulk load reads the pages it writes next to once, since the next
 * batch copies them: kept mapped, they would add up in its resident set
 * until the system wants the memory. So after each of its commits it lets
 * go of the store's map (the pages stay in the page cache, and a page
 * read again is mapped again).
 */
static void
unmap_pages(struct msp_store *st)
{
	char *dir, *data, line[PATH_MAX + 128];
	unsigned long lo, hi;
	size_t n;
	FILE *f;
	int off;

	if ((dir = realpath(st->path, NULL)) == NULL)
		return;
	data = msp_sprintf("%s/data.mdb", dir);
	free(dir);
	if (data == NULL || (f = fopen("/proc/self/maps", "r")) == NULL) {
		free(data);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		off = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi,
		    &off) != 2 || off == 0)
			continue;
		n = strcspn(line + off, "\n");
		line[off + n] = '\0';
		if (strcmp(line + off, data) == 0 && hi > lo)
			(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	fclose(f);
	free(data);
}

int
msp_store_write(struct msp_store *st, msp_txn_fn fn, void *arg,
    struct msp_err *e)
{
	MDB_txn *t;
	int rc, tries;

	for (tries = 0; tries < 40; tries++) {
		if ((rc = msp_txn_begin(st, 1, &t, e)) != 0)
			return rc;
		rc = fn(t, arg, e);
		if (rc == 0)
			rc = msp_txn_commit(st, t, e);
		else
			msp_txn_abort(st, t);
		if (rc == 0 && st->bulk)
			unmap_pages(st);
		if (rc != MSP_EMAPFULL)
			return rc;
		if ((rc = store_grow(st, e)) != 0)
			return rc;
		msp_err_clear(e);
	}
	return msp_err_set(e, MSP_ESTORE, "%s: store map cannot grow",
	    st->path);
}

/* A put that fills the map grows it once the txn is aborted. */
int
msp_db_put(struct msp_store *st, MDB_txn *t, enum msp_db db, const void *k,
    size_t kn, const void *v, size_t vn, unsigned flags, struct msp_err *e)
{
	MDB_val key = { kn, (void *)k }, val = { vn, (void *)v };
	int rc;

	if (kn == 0 || kn > 511)
		return msp_err_set(e, MSP_EINVAL, "key of %zu bytes is not "
		    "storable (1 to 511)", kn);
	rc = mdb_put(t, st->dbi[db], &key, &val, flags);
	if (rc == MDB_KEYEXIST)
		return MSP_EEXIST;
	return msp_store_mdb_err(rc, dbdefs[db].name, e);
}

int
msp_db_get(struct msp_store *st, MDB_txn *t, enum msp_db db, const void *k,
    size_t kn, MDB_val *v, struct msp_err *e)
{
	MDB_val key = { kn, (void *)k };
	int rc;

	if (kn == 0 || kn > 511)
		return MSP_ENOTFOUND;
	rc = mdb_get(t, st->dbi[db], &key, v);
	if (rc == MDB_NOTFOUND)
		return MSP_ENOTFOUND;
	return msp_store_mdb_err(rc, dbdefs[db].name, e);
}

int
msp_db_del(struct msp_store *st, MDB_txn *t, enum msp_db db, const void *k,
    size_t kn, struct msp_err *e)
{
	MDB_val key = { kn, (void *)k };
	int rc;

	if (kn == 0 || kn > 511)
		return MSP_ENOTFOUND;
	rc = mdb_del(t, st->dbi[db], &key, NULL);
	if (rc == MDB_NOTFOUND)
		return MSP_ENOTFOUND;
	return msp_store_mdb_err(rc, dbdefs[db].name, e);
}

int
msp_db_get_json(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const char *key, size_t kn, json_object **out, struct msp_err *e)
{
	json_tokener *tok;
	MDB_val v;
	int rc;

	*out = NULL;
	if ((rc = msp_db_get(st, t, db, key, kn, &v, e)) != 0)
		return rc;
	if ((tok = json_tokener_new()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	*out = json_tokener_parse_ex(tok, v.mv_data, (int)v.mv_size);
	json_tokener_free(tok);
	if (*out == NULL)
		return msp_err_set(e, MSP_ESTORE, "%s: corrupt record '%.*s'",
		    dbdefs[db].name, (int)(kn > 64 ? 64 : kn), key);
	return 0;
}

int
msp_db_put_json(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const char *key, size_t kn, json_object *obj, struct msp_err *e)
{
	size_t n;
	const char *s = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

	if (s == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	return msp_db_put(st, t, db, key, kn, s, n, 0, e);
}

int
msp_db_clear(struct msp_store *st, MDB_txn *t, enum msp_db db,
    struct msp_err *e)
{
	return msp_store_mdb_err(mdb_drop(t, st->dbi[db], 0),
	    dbdefs[db].name, e);
}

int
msp_meta_get(struct msp_store *st, MDB_txn *t, const char *key, char **out,
    struct msp_err *e)
{
	json_object *o, *x;
	int rc;

	*out = NULL;
	rc = msp_db_get_json(st, t, MSP_DB_META, key, strlen(key), &o, e);
	if (rc != 0)
		return rc;
	if (json_object_object_get_ex(o, "value", &x) &&
	    json_object_is_type(x, json_type_string))
		*out = msp_strdup(json_object_get_string(x));
	json_object_put(o);
	if (*out == NULL)
		return msp_err_set(e, MSP_ESTORE, "meta %s: corrupt", key);
	return 0;
}

int
msp_meta_put(struct msp_store *st, MDB_txn *t, const char *key,
    const char *val, struct msp_err *e)
{
	json_object *o = json_object_new_object();
	int rc;

	if (o == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	json_object_object_add(o, "type", json_object_new_string("meta"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "key", json_object_new_string(key));
	json_object_object_add(o, "value", json_object_new_string(val));
	rc = msp_db_put_json(st, t, MSP_DB_META, key, strlen(key), o, e);
	json_object_put(o);
	return rc;
}
