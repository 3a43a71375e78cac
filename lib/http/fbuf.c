/* Media files sent from memory. libmicrohttpd pushes the head of a
 * sendfile answer in a segment of its own, so a receiver takes no
 * round-trip sample from the first bytes of the body and, on a fast link,
 * keeps its window small: the rest of the body then trickles out one
 * acknowledgement at a time and costs both ends more. An answer sent from
 * a buffer leaves, head and body, in one write, as nginx sends it.
 *
 * The buffers are a cache of whole files, at most --file-buffers bytes in
 * all and MAX_ENTRIES files, the least recently sent dropped first. A file
 * is known by its device, inode, size, mtime and ctime as fstat(2) gives
 * them for the descriptor the caller opened: a file replaced (renamed over,
 * as the store writes), rewritten or truncated is another file. A file
 * whose fstat changed while it was read is not sent from memory, and one
 * changed less than KEEP_AFTER s before the read began is not kept (a
 * writer in the middle of one write(2) does not move the times again;
 * the store never writes a published file in place). The caller checks
 * who may read what before it opens the file, on every request: the cache
 * holds bytes only, never a decision. When a file is too large or the
 * memory is taken by answers in flight, NULL tells the caller to use
 * sendfile. */
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MAX_ENTRIES 512
#define KEEP_AFTER 1 /* s */

struct msp_fbuf {
	struct msp_http *h;
	struct msp_fbuf *next, *prev; /* in the cache, most recent first */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
	int cached;     /* in the cache (else freed by the last answer) */
	unsigned refs;  /* answers sending it */
	char data[];
};

static int
same(const struct msp_fbuf *b, const struct stat *sb)
{
	return b->dev == sb->st_dev && b->ino == sb->st_ino &&
	    b->size == sb->st_size &&
	    b->mtim.tv_sec == sb->st_mtim.tv_sec &&
	    b->mtim.tv_nsec == sb->st_mtim.tv_nsec &&
	    b->ctim.tv_sec == sb->st_ctim.tv_sec &&
	    b->ctim.tv_nsec == sb->st_ctim.tv_nsec;
}

/* With h->fmu held. */
static void
unlink_entry(struct msp_http *h, struct msp_fbuf *b)
{
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		h->fb_head = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	else
		h->fb_tail = b->prev;
	b->next = b->prev = NULL;
}

static void
push_front(struct msp_http *h, struct msp_fbuf *b)
{
	b->prev = NULL;
	b->next = h->fb_head;
	if (h->fb_head != NULL)
		h->fb_head->prev = b;
	else
		h->fb_tail = b;
	h->fb_head = b;
}

/* Drop b from the cache; freed now or by the last answer sending it. */
static void
evict(struct msp_http *h, struct msp_fbuf *b)
{
	unlink_entry(h, b);
	b->cached = 0;
	h->fb_bytes -= (size_t)b->size;
	h->fb_count--;
	if (b->refs == 0)
		free(b);
}

/* libmicrohttpd is done with an answer. */
static void
release(void *cls)
{
	struct msp_fbuf *b = cls;
	struct msp_http *h = b->h;
	int gone;

	pthread_mutex_lock(&h->fmu);
	b->refs--;
	gone = !b->cached && b->refs == 0;
	pthread_mutex_unlock(&h->fmu);
	if (gone)
		free(b);
}

static struct MHD_Response *
answer(struct msp_fbuf *b, uint64_t off, uint64_t len)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer_with_free_callback_cls(
	    (size_t)len, b->data + off, release, b);
	if (resp == NULL)
		release(b);
	return resp;
}

/* Read the whole file; 0, or -1 when it is shorter than its stat. */
static int
read_all(int fd, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = pread(fd, p + got, n - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

/* a strictly before b */
static int
ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec ||
	    (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

struct MHD_Response *
msp_fbuf_response(struct msp_http *h, int fd, const struct stat *sb,
    uint64_t off, uint64_t len)
{
	struct msp_fbuf *b;
	struct stat after;
	struct timespec t0;
	size_t size = (size_t)sb->st_size;
	int keep;

	if (len == 0 || sb->st_size <= 0 ||
	    (uint64_t)sb->st_size > h->c.file_buffers / 8)
		return NULL;
	pthread_mutex_lock(&h->fmu);
	for (b = h->fb_head; b != NULL; b = b->next)
		if (same(b, sb))
			break;
	if (b != NULL) {
		b->refs++;
		if (b != h->fb_head) {
			unlink_entry(h, b);
			push_front(h, b);
		}
		pthread_mutex_unlock(&h->fmu);
		return answer(b, off, len);
	}
	/* room: the least recently sent files no answer holds go first */
	for (b = h->fb_tail; b != NULL &&
	    (h->fb_bytes + size > h->c.file_buffers ||
	    h->fb_count >= MAX_ENTRIES); ) {
		struct msp_fbuf *p = b->prev;
		if (b->refs == 0)
			evict(h, b);
		b = p;
	}
	if (h->fb_bytes + size > h->c.file_buffers ||
	    h->fb_count >= MAX_ENTRIES) {
		pthread_mutex_unlock(&h->fmu);
		return NULL;
	}
	h->fb_bytes += size; /* taken before the read, so that the budget
	                        holds while the lock is let go */
	h->fb_count++;
	pthread_mutex_unlock(&h->fmu);
	/* the file clock is the coarse one */
	clock_gettime(CLOCK_REALTIME_COARSE, &t0);
	if ((b = malloc(sizeof(*b) + size)) == NULL ||
	    read_all(fd, b->data, size) != 0 || fstat(fd, &after) != 0 ||
	    after.st_size != sb->st_size ||
	    after.st_mtim.tv_sec != sb->st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != sb->st_mtim.tv_nsec ||
	    after.st_ctim.tv_sec != sb->st_ctim.tv_sec ||
	    after.st_ctim.tv_nsec != sb->st_ctim.tv_nsec) {
		/* changed under the read: sendfile sends what is there */
		free(b);
		pthread_mutex_lock(&h->fmu);
		h->fb_bytes -= size;
		h->fb_count--;
		pthread_mutex_unlock(&h->fmu);
		return NULL;
	}
	b->h = h;
	b->dev = sb->st_dev;
	b->ino = sb->st_ino;
	b->size = sb->st_size;
	b->mtim = sb->st_mtim;
	b->ctim = sb->st_ctim;
	b->refs = 1;
	b->next = b->prev = NULL;
	t0.tv_sec -= KEEP_AFTER;
	keep = ts_before(sb->st_ctim, t0) && ts_before(sb->st_mtim, t0);
	pthread_mutex_lock(&h->fmu);
	if (keep) {
		b->cached = 1;
		push_front(h, b);
	} else {
		/* sent once from memory, then gone */
		b->cached = 0;
		h->fb_bytes -= size;
		h->fb_count--;
	}
	pthread_mutex_unlock(&h->fmu);
	return answer(b, off, len);
}

void
msp_fbuf_free_all(struct msp_http *h)
{
	while (h->fb_head != NULL)
		evict(h, h->fb_head);
}
