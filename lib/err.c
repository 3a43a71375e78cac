#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

int
msp_err_set(struct msp_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int
msp_err_prefix(struct msp_err *e, const char *fmt, ...)
{
	char pre[512], old[sizeof(e->msg)], buf[sizeof(pre) + sizeof(old) + 2];
	va_list ap;

	if (e == NULL)
		return MSP_OK;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(buf, sizeof(buf), "%s: %s", pre, old);
	memcpy(e->msg, buf, sizeof(e->msg) - 1);
	e->msg[sizeof(e->msg) - 1] = '\0';
	return e->code;
}

void
msp_err_clear(struct msp_err *e)
{
	if (e != NULL) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

int
msp_err_exit(int code)
{
	switch (code) {
	case MSP_OK:
		return 0;
	case MSP_EINVAL:
	case MSP_ENOTFOUND:
	case MSP_EEXIST:
	case MSP_EPERM:
	case MSP_EMEDIA:
	case MSP_EAGAIN:
		return 1;
	default:
		return 3;
	}
}

const char *
msp_err_name(int code)
{
	switch (code) {
	case MSP_OK: return "ok";
	case MSP_EINVAL: return "invalid";
	case MSP_ENOTFOUND: return "not found";
	case MSP_EEXIST: return "exists";
	case MSP_EPERM: return "forbidden";
	case MSP_ESTORE: return "store";
	case MSP_EIO: return "i/o";
	case MSP_ENOMEM: return "out of memory";
	case MSP_EMAPFULL: return "map full";
	case MSP_EMEDIA: return "media";
	case MSP_ENET: return "network";
	case MSP_EAGAIN: return "busy";
	default: return "error";
	}
}
