/* pay: premium subscriptions paid through Razorpay (msp-pay(1)).
 *
 * Orders are created with the Razorpay Orders API, payments are proven by
 * Checkout's signature and checked with the Payments API, webhooks are
 * verified with the webhook secret. A payment grants (or extends) the
 * user's subscription in the same write transaction that records it, so a
 * subscription is never half granted; a payment id and a webhook event id
 * are each handled once.
 *
 * Records (see msp-pay(1) and msp-store(5)):
 *   order        {"type":"order","v":1,"id","user","months","amount",
 *                 "currency","status":"pending"|"created"|"paid"|"refunded",
 *                 "razorpayOrderId","paymentId","createdAt","updatedAt"}
 *   payment      {"type":"payment","v":1,"id","orderId","razorpayOrderId",
 *                 "user","months","amount","currency","status",
 *                 "grantedFrom","grantedTo","amountRefunded","refunds":[],
 *                 "createdAt","updatedAt"}
 *   subscription {"type":"subscription","v":1,"user","userId",
 *                 "subscriptionStartTimestamp","subscriptionEndTimestamp",
 *                 "start","end","updatedAt"}   (timestamps in ms)
 *   event        {"type":"event","v":1,"id","event","outcome","paymentId",
 *                 "receivedAt"}
 */
#ifndef MSP_PAY_H
#define MSP_PAY_H

#include <stddef.h>
#include <stdint.h>
#include <json.h>
#include <lmdb.h>

#include "err.h"
#include "store.h"

#define MSP_PAY_CURRENCY "INR"
#define MSP_PAY_MONTHS_MAX 120
/* Returned (positive) by confirm and webhook when the payment or the event
 * was handled before: nothing changed. */
#define MSP_PAY_REPLAYED 1

/* ---- configuration -------------------------------------------------- */
struct msp_pay_conf;

/*
 * The documented configuration call of lib/pay (msp-pay(1), CONFIGURATION):
 * reads the config file, then the environment, which wins:
 *   key_id          MSP_RAZORPAY_KEY_ID
 *   key_secret      MSP_RAZORPAY_KEY_SECRET
 *   webhook_secret  MSP_RAZORPAY_WEBHOOK_SECRET
 *   url             MSP_RAZORPAY_URL (default https://api.razorpay.com)
 *   timeout_ms      MSP_RAZORPAY_TIMEOUT_MS (whole request, default 20000)
 *   retries         MSP_RAZORPAY_RETRIES (extra attempts, default 2)
 *   plans           (a plans file; the plans argument wins)
 * file NULL means <store_dir>/pay.conf when it exists. A config file that
 * group or others may read or write, or that another user owns, is
 * refused. plans NULL means the plans named in the config file, else the
 * built-in plans (1, 3, 6, 12 months for 9900, 28900, 56900, 89900 paise).
 * Secrets are never copied into error messages.
 */
int msp_pay_conf_load(struct msp_pay_conf **out, const char *file,
    const char *plans, const char *store_dir, struct msp_err *e);
void msp_pay_conf_free(struct msp_pay_conf *c);
/* The public key id for Razorpay Checkout (NULL when not configured). */
const char *msp_pay_key_id(const struct msp_pay_conf *c);

/* ---- plans ---------------------------------------------------------- */
/* Parse plans, JSON Lines {"months":N,"amount":PAISE} ("type":"plan" and
 * "currency":"INR" allowed), into c (replacing its plans); name is used in
 * messages ("file:line: reason"). */
int msp_pay_plans_read(struct msp_pay_conf *c, const char *text, size_t len,
    const char *name, struct msp_err *e);
/* Amount in paise of the plan for months; MSP_EINVAL naming the plans
 * offered when there is none. */
int msp_pay_plan_amount(const struct msp_pay_conf *c, long months,
    long long *amount, struct msp_err *e);
/* The plans as {"type":"plan","v":1,"months","amount","currency"}
 * records in a new array (caller puts). */
json_object *msp_pay_plans_json(const struct msp_pay_conf *c);

/* ---- pure helpers (unit tested) ------------------------------------- */
/* Add calendar months in UTC, keeping the time of day; the day is clamped
 * to the last day of the target month (Jan 31 + 1 month = Feb 28 or 29). */
int64_t msp_pay_add_months(int64_t ms, int months);
/* Lowercase hex HMAC-SHA256 of msg under key into out (65 bytes). */
void msp_pay_hmac_hex(const char *key, const void *msg, size_t n,
    char out[65]);
/* 1 when sig is the hex HMAC-SHA256 of msg under key (compared in constant
 * time; upper or lower case hex), else 0. */
int msp_pay_sig_ok(const char *key, const void *msg, size_t n,
    const char *sig);

/* ---- the premium question ------------------------------------------- */
/*
 * 1 when the user's subscription is active at now_ms (its end is later),
 * 0 when not (no subscription, expired, refunded), or a negative MSP_E*.
 * *end_ms (may be NULL) gets the end, or 0 without a subscription. t may be
 * NULL: a read transaction of its own is used. email is normalised.
 */
int msp_pay_active(struct msp_store *st, MDB_txn *t, const char *email,
    int64_t now_ms, int64_t *end_ms, struct msp_err *e);

/* ---- the calls behind msp-pay and msp-serve's /premium routes -------- */
/*
 * Create an order for user's plan of months: record it (status "pending",
 * receipt = its msp id), create the Razorpay order, record its id (status
 * "created"). A network failure leaves the pending order, which the next
 * call for the same user and months reuses with the same receipt. *out gets
 * {"type":"order",...,"keyId"} for Checkout (caller puts).
 */
int msp_pay_order(struct msp_store *st, const struct msp_pay_conf *c,
    const char *email, long months, json_object **out, struct msp_err *e);
/*
 * Checkout's proof: verify signature over "order|payment" with the key
 * secret, fetch the payment, check its order, amount, currency and status
 * (captured), then record it and grant the months in one transaction.
 * user (may be NULL) must own the order when given (msp-serve passes the
 * session's user). Returns 0, or MSP_PAY_REPLAYED when this payment was
 * confirmed before; *out gets the subscription (caller puts).
 */
int msp_pay_confirm(struct msp_store *st, const struct msp_pay_conf *c,
    const char *user, const char *order_id, const char *payment_id,
    const char *signature, json_object **out, struct msp_err *e);
/*
 * A webhook delivery: body (raw bytes) signed by signature (the
 * X-Razorpay-Signature header) with the webhook secret. event_id is the
 * X-Razorpay-Event-Id header (NULL: the body's "id", else a hash of the
 * body). Handles payment.captured, order.paid (grant, as confirm) and
 * refund.processed (shorten); other events are recorded and ignored.
 * Returns 0 or MSP_PAY_REPLAYED; *out gets the event record.
 */
int msp_pay_webhook(struct msp_store *st, const struct msp_pay_conf *c,
    const char *body, size_t len, const char *signature,
    const char *event_id, json_object **out, struct msp_err *e);

/* The user's subscription with "active" (a copy; caller puts); a user
 * without one gets {"type":"subscription","user",..,"active":false}.
 * MSP_ENOTFOUND for an unknown user. */
int msp_pay_status(struct msp_store *st, const char *email, int64_t now_ms,
    json_object **out, struct msp_err *e);
/* Orders, oldest first, of one user (email) or of all (NULL). fn returns
 * non-zero to stop (that value is returned). */
typedef int (*msp_pay_each_fn)(json_object *rec, void *arg,
    struct msp_err *e);
int msp_pay_list(struct msp_store *st, const char *email, msp_pay_each_fn fn,
    void *arg, struct msp_err *e);

/* ---- import (lib/dump.c kinds) and check (lib/hooks.c) --------------- */
int msp_pay_import_subscription(struct msp_store *st, MDB_txn *t,
    json_object *rec, struct msp_err *e);
int msp_pay_import_order(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);
int msp_pay_import_payment(struct msp_store *st, MDB_txn *t,
    json_object *rec, struct msp_err *e);
int msp_pay_import_event(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);
/* Verify the order index against the orders (msp-catalog check). */
typedef void (*msp_pay_report_fn)(const char *msg, void *arg);
int msp_pay_check(struct msp_store *st, MDB_txn *t, msp_pay_report_fn fn,
    void *arg, struct msp_err *e);

#endif
