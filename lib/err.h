/* err: error codes and the error text a library call leaves for its caller. */
#ifndef MSP_ERR_H
#define MSP_ERR_H

#include <stddef.h>

/* Every libmsp call returns 0 (or a count) on success, or one of these. */
enum {
	MSP_OK = 0,
	MSP_EINVAL = -1,    /* bad input: a field, a line, an argument */
	MSP_ENOTFOUND = -2, /* unknown user, video, order ... */
	MSP_EEXIST = -3,    /* already there (duplicate email ...) */
	MSP_EPERM = -4,     /* not allowed for this user */
	MSP_ESTORE = -5,    /* LMDB failure, corrupt or newer store */
	MSP_EIO = -6,       /* file or network I/O */
	MSP_ENOMEM = -7,
	MSP_EMAPFULL = -8,  /* internal: the LMDB map must grow; retry */
	MSP_EMEDIA = -9,    /* media that cannot be used */
	MSP_ENET = -10,     /* remote service failed or timed out */
	MSP_EAGAIN = -11    /* try again later (busy, rate limited) */
};

/* The error text: "what: why", lowercase, no trailing period. */
struct msp_err {
	int code;
	char msg[1024];
};

/* Fill e (which may be NULL) and return code. */
int msp_err_set(struct msp_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix e->msg with "prefix: " (for adding a file:line or a field name). */
int msp_err_prefix(struct msp_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void msp_err_clear(struct msp_err *e);
/* Exit status for a code: 0 ok, 1 negative answer or bad input, 3 fatal. */
int msp_err_exit(int code);
const char *msp_err_name(int code);

#endif
