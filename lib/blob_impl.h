/* blob internals: what a backend implements (blob_files.c, blob_s3.c) and
 * the local temporary files they share. Not installed. */
#ifndef MSP_BLOB_IMPL_H
#define MSP_BLOB_IMPL_H

#include <pthread.h>

#include "blob.h"

struct msp_blob_ops {
	int (*put)(struct msp_blob *b, const char *key, const void *data,
	    size_t len, int flags, struct msp_err *e);
	int (*put_file)(struct msp_blob *b, const char *key, const char *path,
	    int flags, int *created, struct msp_err *e);
	int (*stat)(struct msp_blob *b, const char *key,
	    struct msp_blob_stat *s, struct msp_err *e);
	int (*get)(struct msp_blob *b, const char *key, int64_t off,
	    int64_t len, int (*fn)(void *, const void *, size_t), void *arg,
	    struct msp_err *e);
	int (*list)(struct msp_blob *b, const char *prefix,
	    int (*fn)(void *, const char *, int64_t), void *arg,
	    struct msp_err *e);
	int (*remove)(struct msp_blob *b, const char *key, struct msp_err *e);
	int (*sync)(struct msp_blob *b, const char *prefix, struct msp_err *e);
	/* a writer with a key (w->key set); those without one are local
	 * temporary files, published with put_file (bucket) or link/rename
	 * (files: wpublish with w->key NULL) */
	int (*wopen)(struct msp_blob_writer *w, struct msp_err *e);
	int (*wwrite)(struct msp_blob_writer *w, const void *p, size_t n,
	    struct msp_err *e);
	int (*wpublish)(struct msp_blob_writer *w, const char *key, int flags,
	    int *created, struct msp_err *e);
	void (*wabort)(struct msp_blob_writer *w);
	int (*fetch)(struct msp_blob *b, const char *key, char **path,
	    struct msp_err *e);
	int (*local)(struct msp_blob *b, const char *key, char **path,
	    struct msp_err *e);
	int (*url)(struct msp_blob *b, const char *key, long expires,
	    char **url, struct msp_err *e);
	int (*move)(struct msp_blob *b, const char *from, const char *to,
	    int flags, int *created, struct msp_err *e);
	void (*close)(struct msp_blob *b);
};

struct msp_blob {
	const struct msp_blob_ops *ops;
	char *root;      /* files: the directory keys are relative to */
	char *tmpdir;    /* local temporary files */
	char *where;     /* for messages */
	int swept;       /* tmpdir swept once */
	int own_tmp;     /* tmpdir is where/.msp-tmp: removed when empty */
	void *impl;      /* the backend's */
	pthread_mutex_t mu;
	struct msp_blob_copy *copies; /* fetched copies, locked until done */
};

struct msp_blob_copy {
	char *path;
	int fd;
	struct msp_blob_copy *next;
};

struct msp_blob_writer {
	struct msp_blob *b;
	char *key;       /* NULL: named at publish (a local temporary file) */
	int flags;
	char *tmp;       /* the local temporary file, or NULL */
	int fd;          /* open and flock'ed while tmp exists */
	int64_t size;
	void *up;        /* the backend's upload */
};

#define MSP_BLOB_STALE 600 /* s without a write: a crashed writer's file */

/* A new local temporary file in b->tmpdir, open for writing and locked
 * (swept by others only once unlocked and stale). */
int msp_blob_tmp_open(struct msp_blob *b, char **path, int *fd,
    struct msp_err *e);
/* Write all of p to fd; name is for the message. */
int msp_blob_write_all(int fd, const void *p, size_t n, const char *name,
    struct msp_err *e);

/* Keep the locked fd of a fetched copy until msp_blob_fetch_done. */
int msp_blob_copy_keep(struct msp_blob *b, const char *path, int fd,
    struct msp_err *e);

int msp_blob_files_open(struct msp_blob *b, const char *root,
    struct msp_err *e);
int msp_blob_bucket_open(struct msp_blob *b, const char *conf,
    struct msp_err *e);
/* The bucket's part of msp_blob_stage_sweep. */
int msp_blob_bucket_sweep(struct msp_blob *b, struct msp_err *e);
/* One cheap request that fails on a wrong endpoint, bucket, region or
 * secret. */
int msp_blob_bucket_check(struct msp_blob *b, struct msp_err *e);

#endif
