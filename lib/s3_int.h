/* s3_int: what lib/s3.c, s3_sign.c and s3_xml.c share; not installed
 * as an interface of its own. */
#ifndef MSP_S3_INT_H
#define MSP_S3_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "s3.h"

#define S3_UNSIGNED "UNSIGNED-PAYLOAD"

struct msp_s3 {
	struct msp_s3_conf c;  /* a private copy; prefix ends with '/' */
	char *scheme;          /* "http" or "https" */
	char *host;            /* the endpoint's Host header value */
	pthread_mutex_t lock;  /* guards the idle handles */
	void **idle;           /* CURL easy handles kept for reuse */
	size_t nidle, capidle;
};

/* Percent-encode n bytes of s as SigV4 wants (unreserved kept, '/' kept
 * when slash); malloc'd. */
char *s3_uri_encode(const char *s, size_t n, int slash);
/* The query string from name/value pairs (value NULL: "name="), encoded
 * and sorted: the canonical query string and the one sent. */
char *s3_query(const char *const *kv, size_t npairs);
/* "YYYYMMDDTHHMMSSZ" for t. */
void s3_amzdate(time_t t, char out[17]);
/* The Authorization value for a request on this bucket; headers must
 * include host. */
char *s3_sign(const struct msp_s3 *s, const char *amzdate, const char *method,
    const char *path, const char *query, const char *const *headers,
    size_t n, const char *payload_hash);
/* The path a full key (prefix included) has on the wire, unencoded
 * ("/bucket/key" when path-style, "/key" else; NULL: the bucket). */
char *s3_path(const struct msp_s3 *s, const char *key);
/* The presigned URL for method on key at time t. */
int s3_presign_at(struct msp_s3 *s, const char *method, const char *key,
    long expires, time_t t, char **url, struct msp_err *e);
void s3_hex(const unsigned char *p, size_t n, char *out);

/* The XML answers, parsed with expat. Each field is bounded; a missing
 * field is NULL. */
struct s3_xml_item {
	char *key, *etag, *upload_id;
	int64_t size;
};
struct s3_xml {
	char *root;                  /* the root element's name */
	char *code, *message, *region;    /* <Error> */
	char *upload_id, *etag;      /* Initiate / Complete */
	char *next_token, *next_key, *next_upload;
	int truncated;               /* IsTruncated is "true" */
	struct s3_xml_item *items;   /* Contents or Upload, in order */
	size_t nitems, capitems;
	char err[128];               /* why it is not usable */
};
/* 0 when body is well-formed XML within the limits; -1 else (x->err). */
int s3_xml_parse(struct s3_xml *x, const char *body, size_t n);
void s3_xml_free(struct s3_xml *x);

#endif
