/* Premium: who may watch premium videos, the caller's subscription, and
 * the purchase through lib/pay (as msp-pay order and confirm). */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "internal.h"
#include "jsonl.h"
#include "pay.h"
#include "util.h"

int
msp_http_premium_ok(struct msp_req *r, json_object *v, int64_t *end_ms)
{
	struct msp_err e;
	json_object *x;

	*end_ms = 0;
	if (r->email == NULL)
		return 0;
	if (r->admin)
		return 1;
	if (json_object_object_get_ex(v, "uploadedBy", &x) &&
	    strcmp(json_object_get_string(x), r->email) == 0)
		return 1;
	return msp_pay_active(r->h->st, NULL, r->email, msp_now_ms(), end_ms,
	    &e) == 1;
}

int
msp_http_query_subscription(struct msp_req *r, json_object *items)
{
	struct msp_err e;
	json_object *s = NULL, *x;

	if (msp_pay_status(r->h->st, r->email, msp_now_ms(), &s, &e) != 0) {
		msp_reply_err(r, &e);
		return -1;
	}
	if (json_object_object_get_ex(s, "subscriptionEndTimestamp", &x))
		json_object_array_add(items, s);
	else
		json_object_put(s);
	return 0;
}

static int
configured(struct msp_req *r)
{
	if (r->h->c.pay != NULL && msp_pay_key_id(r->h->c.pay) != NULL)
		return 1;
	msp_reply_error(r, 503, "payments are not configured "
	    "(MSP_RAZORPAY_KEY_ID, MSP_RAZORPAY_KEY_SECRET; see msp-pay(1))");
	return 0;
}

/* {months} -> the Razorpay order for Checkout: id (Razorpay's order id),
 * amount (paise), currency, keyId; orderId is msp's. */
void
msp_route_premium_payment(struct msp_req *r)
{
	struct msp_err e;
	json_object *o = NULL, *x;
	long long months;

	if (msp_field_int(r->json, "months", 1, 1, MSP_PAY_MONTHS_MAX, &months,
	    &e) != 0) {
		msp_reply_error(r, 400, "%s", e.msg);
		return;
	}
	if (!configured(r))
		return;
	if (msp_pay_order(r->h->st, r->h->c.pay, r->email, (long)months, &o,
	    &e) != 0) {
		msp_reply_err(r, &e);
		return;
	}
	if (json_object_object_get_ex(o, "id", &x))
		json_object_object_add(o, "orderId", json_object_get(x));
	if (json_object_object_get_ex(o, "razorpayOrderId", &x))
		json_object_object_add(o, "id", json_object_get(x));
	msp_reply_json(r, 200, o);
	json_object_put(o);
}

/* Checkout's proof {razorpay_order_id, razorpay_payment_id,
 * razorpay_signature} (with the original's {id, months}, not trusted):
 * verified by lib/pay, which grants the months. */
void
msp_route_premium_confirm(struct msp_req *r)
{
	const char *oid, *pid, *sig;
	struct msp_err e;
	json_object *o = NULL;
	int rc;

	if (msp_field_str(r->json, "razorpay_order_id", 1, 64, 0, &oid,
	    &e) != 0 ||
	    msp_field_str(r->json, "razorpay_payment_id", 1, 64, 0, &pid,
	    &e) != 0 ||
	    msp_field_str(r->json, "razorpay_signature", 1, 128, 0, &sig,
	    &e) != 0) {
		msp_reply_error(r, 400, "%s", e.msg);
		return;
	}
	if (!configured(r))
		return;
	rc = msp_pay_confirm(r->h->st, r->h->c.pay, r->email, oid, pid, sig,
	    &o, &e);
	if (rc < 0) {
		msp_reply_err(r, &e);
		return;
	}
	json_object_object_add(o, "replayed",
	    json_object_new_boolean(rc == MSP_PAY_REPLAYED));
	msp_reply_json(r, 200, o);
	json_object_put(o);
}

/* The plans on sale (as msp-pay plans): {plans: [{months, amount,
 * currency}]}, amounts in paise. */
void
msp_route_premium_plans(struct msp_req *r)
{
	json_object *o, *plans;

	if (r->h->c.pay == NULL) {
		msp_reply_error(r, 503, "payments are not configured (see "
		    "msp-pay(1))");
		return;
	}
	if ((plans = msp_pay_plans_json(r->h->c.pay)) == NULL ||
	    (o = json_object_new_object()) == NULL) {
		json_object_put(plans);
		msp_reply(r, 500, NULL);
		return;
	}
	json_object_object_add(o, "plans", plans);
	json_object_object_add(o, "configured", json_object_new_boolean(
	    msp_pay_key_id(r->h->c.pay) != NULL));
	msp_reply_json(r, 200, o);
	json_object_put(o);
}
