/* curlbuf: what msp's libcurl clients (lib/s3, lib/pay_gw) share: a
 * bounded in-memory answer body and the transfer failures worth another
 * attempt. */
#ifndef MSP_CURLBUF_H
#define MSP_CURLBUF_H

#include <stddef.h>

#include <curl/curl.h>

struct msp_curlbuf {
	char *p;      /* the body so far, NUL-terminated; NULL while empty */
	size_t n;
	size_t max;   /* the longest body kept */
	int over;     /* the answer was longer: the transfer was stopped */
};

/* Append n bytes: 0, or -1 when they would pass max (over is set) or
 * memory ran out. */
int msp_curlbuf_add(struct msp_curlbuf *b, const void *d, size_t n);
/* A CURLOPT_WRITEFUNCTION whose data is a struct msp_curlbuf. */
size_t msp_curlbuf_write(char *d, size_t sz, size_t nm, void *arg);
/* Free the body; max stays. */
void msp_curlbuf_reset(struct msp_curlbuf *b);
/* 1 when a transfer that failed with cc may succeed if tried again (a
 * connection refused, reset or timed out, an answer cut short). */
int msp_curl_retryable(CURLcode cc);

#endif
