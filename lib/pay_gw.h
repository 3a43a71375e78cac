/* pay_gw: lib/pay's private half: the configuration it holds and the
 * Razorpay REST client (libcurl). Only lib/pay*.c include this. */
#ifndef MSP_PAY_GW_H
#define MSP_PAY_GW_H

#include <json.h>

#include "err.h"
#include "pay.h"

struct msp_pay_plan {
	long months;
	long long amount; /* paise */
};

struct msp_pay_conf {
	char *key_id;         /* public, shown to Checkout */
	char *key_secret;     /* secret: never printed */
	char *webhook_secret; /* secret: never printed */
	char *url;            /* base URL without a trailing slash */
	long timeout_ms;      /* whole request */
	long connect_ms;      /* connection set-up */
	int retries;          /* extra attempts for retryable failures */
	struct msp_pay_plan *plans;
	size_t nplans;
};

/*
 * One call to the gateway: method "GET" or "POST", path such as
 * "/v1/orders", body a JSON object (POST) or NULL. Retries connection
 * failures, timeouts, 429 and 5xx answers up to c->retries times (the
 * caller only asks for calls that are safe to repeat). On a 2xx answer *out
 * gets the parsed object (caller puts). A 400 or 404 answer gives
 * MSP_EINVAL with the gateway's description; other failures MSP_ENET.
 * Messages start with "razorpay: METHOD PATH: ".
 */
int msp_pay_gw_call(const struct msp_pay_conf *c, const char *method,
    const char *path, json_object *body, json_object **out,
    struct msp_err *e);

/* 1 when s looks like a Razorpay id (letters, digits, '_', 1 to 64). */
int msp_pay_rzp_id_ok(const char *s);

#endif
