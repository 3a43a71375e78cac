/* curlbuf: see curlbuf.h. */
#include <stdlib.h>
#include <string.h>

#include "curlbuf.h"

int
msp_curlbuf_add(struct msp_curlbuf *b, const void *d, size_t n)
{
	char *np;

	if (n > b->max || b->n > b->max - n) {
		b->over = 1;
		return -1;
	}
	if ((np = realloc(b->p, b->n + n + 1)) == NULL)
		return -1;
	b->p = np;
	memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

size_t
msp_curlbuf_write(char *d, size_t sz, size_t nm, void *arg)
{
	return msp_curlbuf_add(arg, d, sz * nm) == 0 ? sz * nm : 0;
}

void
msp_curlbuf_reset(struct msp_curlbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
	b->over = 0;
}

int
msp_curl_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return 1;
	default:
		return 0;
	}
}
