/* pay: orders, payments, webhook events and subscriptions in the store.
 * The gateway half (configuration, plans, libcurl) is lib/pay_gw.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "catalog.h"
#include "jsonl.h"
#include "pay.h"
#include "pay_gw.h"
#include "util.h"

/* ---- small JSON helpers --------------------------------------------- */

static int
jint(json_object *o, const char *k, int64_t *v)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, k, &x) ||
	    !json_object_is_type(x, json_type_int))
		return -1;
	*v = json_object_get_int64(x);
	return 0;
}

static json_object *
jobj(json_object *o, const char *k)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, k, &x) ||
	    !json_object_is_type(x, json_type_object))
		return NULL;
	return x;
}

static void
jset_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void
jset_int(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void
jset_time(json_object *o, const char *k, int64_t ms)
{
	char ts[MSP_TIME_LEN + 1];

	msp_time_fmt(ms, ts);
	jset_str(o, k, ts);
}

static json_object *
jcopy(json_object *o)
{
	json_object *c = NULL;

	if (o != NULL && json_object_deep_copy(o, &c, NULL) != 0)
		return NULL;
	return c;
}

/* Untrusted text for a message: printable ASCII, at most 64 characters. */
static const char *
shown(const char *s, char buf[80])
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < 64; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	if (s[i] != '\0')
		memcpy(buf + i, "...", 4);
	return buf;
}

/* ---- the order index ------------------------------------------------ */

/* "r\0<razorpay order id>" or "u\0<email>\0<order id>" (id may be NULL:
 * the prefix of a user's entries). malloc'd; *n its length. */
static char *
idx_key(char kind, const char *a, const char *b, size_t *n)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	char *k = malloc(2 + la + 1 + lb);

	if (k == NULL)
		return NULL;
	k[0] = kind;
	k[1] = '\0';
	memcpy(k + 2, a, la);
	*n = 2 + la;
	if (kind == 'u') {
		k[*n] = '\0';
		(*n)++;
		if (b != NULL) {
			memcpy(k + *n, b, lb);
			*n += lb;
		}
	}
	return k;
}

static int
idx_put(struct msp_store *st, MDB_txn *t, char kind, const char *a,
    const char *b, const char *val, struct msp_err *e)
{
	size_t n;
	char *k = idx_key(kind, a, kind == 'u' ? b : NULL, &n);
	int rc;

	if (k == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	rc = msp_db_put(st, t, MSP_DB_ORDER_IDX, k, n, val, strlen(val), 0, e);
	free(k);
	return rc;
}

/* Remove an order's index entries (before its record is replaced). */
static int
idx_del(struct msp_store *st, MDB_txn *t, json_object *order,
    struct msp_err *e)
{
	const char *id = msp_json_sget(order, "id"), *email = msp_json_sget(order, "user");
	const char *rzp = msp_json_sget(order, "razorpayOrderId");
	size_t n;
	char *k;
	int rc = 0;

	if (id != NULL && email != NULL &&
	    (k = idx_key('u', email, id, &n)) != NULL) {
		rc = msp_db_del(st, t, MSP_DB_ORDER_IDX, k, n, e);
		free(k);
		if (rc != 0 && rc != MSP_ENOTFOUND)
			return rc;
	}
	if (rzp != NULL && (k = idx_key('r', rzp, NULL, &n)) != NULL) {
		rc = msp_db_del(st, t, MSP_DB_ORDER_IDX, k, n, e);
		free(k);
		if (rc != 0 && rc != MSP_ENOTFOUND)
			return rc;
	}
	return 0;
}

static int
order_get(struct msp_store *st, MDB_txn *t, const char *id,
    json_object **out, struct msp_err *e)
{
	return msp_db_get_json(st, t, MSP_DB_ORDERS, id, strlen(id), out, e);
}

static int
order_put(struct msp_store *st, MDB_txn *t, json_object *o,
    struct msp_err *e)
{
	const char *id = msp_json_sget(o, "id");

	return msp_db_put_json(st, t, MSP_DB_ORDERS, id, strlen(id), o, e);
}

/* The order of a Razorpay order id; MSP_ENOTFOUND with a message. */
static int
order_by_rzp(struct msp_store *st, MDB_txn *t, const char *rzp,
    json_object **out, struct msp_err *e)
{
	char id[MSP_ID_LEN + 1];
	MDB_val v;
	size_t n;
	char *k = idx_key('r', rzp, NULL, &n);
	int rc;

	*out = NULL;
	if (k == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	rc = msp_db_get(st, t, MSP_DB_ORDER_IDX, k, n, &v, e);
	free(k);
	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, MSP_ENOTFOUND, "%s: unknown order", rzp);
	if (rc != 0)
		return rc;
	if (v.mv_size != MSP_ID_LEN)
		return msp_err_set(e, MSP_ESTORE, "order index: corrupt entry "
		    "for %s", rzp);
	memcpy(id, v.mv_data, MSP_ID_LEN);
	id[MSP_ID_LEN] = '\0';
	rc = order_get(st, t, id, out, e);
	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, MSP_ESTORE, "order index: %s names "
		    "missing order %s", rzp, id);
	return rc;
}

/* The user's record; MSP_ENOTFOUND "EMAIL: no such user". */
static int
user_get(struct msp_store *st, MDB_txn *t, const char *email,
    json_object **out, struct msp_err *e)
{
	int rc = msp_user_get(st, t, email, out, e);

	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, MSP_ENOTFOUND, "%s: no such user", email);
	return rc;
}

static int
keys_needed(const struct msp_pay_conf *c, struct msp_err *e)
{
	if (c->key_id == NULL)
		return msp_err_set(e, MSP_EINVAL, "MSP_RAZORPAY_KEY_ID is not "
		    "set (environment or config file)");
	if (c->key_secret == NULL)
		return msp_err_set(e, MSP_EINVAL, "MSP_RAZORPAY_KEY_SECRET is "
		    "not set (environment or config file)");
	return 0;
}

/* ---- orders --------------------------------------------------------- */

struct order_arg {
	struct msp_store *st;
	const char *email;
	long months;
	long long amount;
	const char *rzp;       /* finish: the Razorpay order id */
	json_object *order;    /* begin: out; finish: in and out */
};

/* Record a pending order, or reuse the user's pending one for the same
 * plan (a run that failed on the network): its receipt stays the same. */
static int
order_begin(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct order_arg *a = arg;
	json_object *user = NULL, *o = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char id[MSP_ID_LEN + 1], *pre;
	size_t pn;
	int64_t m, amt, now = msp_now_ms();
	int rc;

	json_object_put(a->order);
	a->order = NULL;
	if ((rc = user_get(a->st, t, a->email, &user, e)) != 0)
		return rc;
	json_object_put(user);
	if ((pre = idx_key('u', a->email, NULL, &pn)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	rc = mdb_cursor_open(t, msp_store_dbi(a->st, MSP_DB_ORDER_IDX), &cur);
	if (rc != 0) {
		free(pre);
		return msp_store_mdb_err(rc, "order index", e);
	}
	k.mv_data = pre;
	k.mv_size = pn;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != pn + MSP_ID_LEN ||
		    memcmp(k.mv_data, pre, pn) != 0)
			break;
		memcpy(id, (char *)k.mv_data + pn, MSP_ID_LEN);
		id[MSP_ID_LEN] = '\0';
		if (order_get(a->st, t, id, &o, e) != 0) {
			mdb_cursor_close(cur);
			free(pre);
			return msp_err_set(e, MSP_ESTORE, "order index: names "
			    "missing order %s", id);
		}
		if (msp_json_sget(o, "status") != NULL &&
		    strcmp(msp_json_sget(o, "status"), "pending") == 0 &&
		    jint(o, "months", &m) == 0 && m == a->months &&
		    jint(o, "amount", &amt) == 0 && amt == a->amount) {
			a->order = o;
			break;
		}
		json_object_put(o);
		o = NULL;
	}
	mdb_cursor_close(cur);
	free(pre);
	if (a->order != NULL)
		return 0;
	if ((rc = msp_id_new(id)) != 0)
		return msp_err_set(e, rc, "cannot make an id");
	if ((o = json_object_new_object()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	jset_str(o, "type", "order");
	json_object_object_add(o, "v", json_object_new_int(1));
	jset_str(o, "id", id);
	jset_str(o, "user", a->email);
	jset_int(o, "months", a->months);
	jset_int(o, "amount", a->amount);
	jset_str(o, "currency", MSP_PAY_CURRENCY);
	jset_str(o, "status", "pending");
	jset_time(o, "createdAt", now);
	jset_time(o, "updatedAt", now);
	rc = msp_db_put_json(a->st, t, MSP_DB_ORDERS, id, strlen(id), o, e);
	if (rc == 0)
		rc = idx_put(a->st, t, 'u', a->email, id, "", e);
	if (rc != 0) {
		json_object_put(o);
		return rc;
	}
	a->order = o;
	return 0;
}

/* Record the Razorpay order id: status "created". An order that got one
 * meanwhile (a concurrent run) keeps its own. */
static int
order_finish(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct order_arg *a = arg;
	json_object *o = NULL, *other = NULL;
	const char *id = msp_json_sget(a->order, "id");
	int rc;

	if ((rc = order_get(a->st, t, id, &o, e)) != 0)
		return rc == MSP_ENOTFOUND ? msp_err_set(e, MSP_ESTORE,
		    "order %s: vanished", id) : rc;
	if (msp_json_sget(o, "razorpayOrderId") != NULL) {
		json_object_put(a->order);
		a->order = o;
		return 0;
	}
	rc = order_by_rzp(a->st, t, a->rzp, &other, e);
	json_object_put(other);
	if (rc == 0) {
		json_object_put(o);
		return msp_err_set(e, MSP_ENET, "razorpay: POST /v1/orders: "
		    "answered order %s, which another order holds", a->rzp);
	}
	if (rc != MSP_ENOTFOUND) {
		json_object_put(o);
		return rc;
	}
	msp_err_clear(e);
	jset_str(o, "status", "created");
	jset_str(o, "razorpayOrderId", a->rzp);
	jset_time(o, "updatedAt", msp_now_ms());
	if ((rc = order_put(a->st, t, o, e)) != 0 ||
	    (rc = idx_put(a->st, t, 'r', a->rzp, NULL, id, e)) != 0) {
		json_object_put(o);
		return rc;
	}
	json_object_put(a->order);
	a->order = o;
	return 0;
}

/* The gateway's order must be the one asked for. */
static int
order_answer_check(json_object *ans, const char *receipt, long long amount,
    struct msp_err *e)
{
	const char *why = NULL, *s;
	int64_t v;

	if (!msp_pay_rzp_id_ok(msp_json_sget(ans, "id")))
		why = "no valid 'id'";
	else if (jint(ans, "amount", &v) != 0 || v != amount)
		why = "'amount' differs from the one asked for";
	else if ((s = msp_json_sget(ans, "currency")) == NULL ||
	    strcmp(s, MSP_PAY_CURRENCY) != 0)
		why = "'currency' differs from the one asked for";
	else if ((s = msp_json_sget(ans, "receipt")) != NULL && strcmp(s, receipt) != 0)
		why = "'receipt' differs from the one asked for";
	if (why != NULL)
		return msp_err_set(e, MSP_ENET, "razorpay: POST /v1/orders: "
		    "malformed answer (%s)", why);
	return 0;
}

int
msp_pay_order(struct msp_store *st, const struct msp_pay_conf *c,
    const char *email, long months, json_object **out, struct msp_err *e)
{
	struct order_arg a;
	json_object *body = NULL, *notes, *ans = NULL;
	char *norm = NULL, num[24];
	int rc;

	*out = NULL;
	memset(&a, 0, sizeof(a));
	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return rc;
	a.st = st;
	a.email = norm;
	a.months = months;
	if ((rc = msp_pay_plan_amount(c, months, &a.amount, e)) != 0 ||
	    (rc = keys_needed(c, e)) != 0)
		goto out;
	if ((rc = msp_store_write(st, order_begin, &a, e)) != 0)
		goto out;
	if (msp_json_sget(a.order, "razorpayOrderId") == NULL) {
		body = json_object_new_object();
		notes = json_object_new_object();
		if (body == NULL || notes == NULL) {
			json_object_put(notes);
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(num, sizeof(num), "%ld", months);
		jset_int(body, "amount", a.amount);
		jset_str(body, "currency", MSP_PAY_CURRENCY);
		jset_str(body, "receipt", msp_json_sget(a.order, "id"));
		json_object_object_add(body, "payment_capture",
		    json_object_new_int(1));
		jset_str(notes, "user", norm);
		jset_str(notes, "months", num);
		jset_str(notes, "order", msp_json_sget(a.order, "id"));
		json_object_object_add(body, "notes", notes);
		if ((rc = msp_pay_gw_call(c, "POST", "/v1/orders", body, &ans,
		    e)) != 0)
			goto out;
		if ((rc = order_answer_check(ans, msp_json_sget(a.order, "id"),
		    a.amount, e)) != 0)
			goto out;
		a.rzp = msp_json_sget(ans, "id");
		if ((rc = msp_store_write(st, order_finish, &a, e)) != 0)
			goto out;
	}
	if ((*out = jcopy(a.order)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	jset_str(*out, "keyId", c->key_id);
	rc = 0;
out:
	json_object_put(a.order);
	json_object_put(body);
	json_object_put(ans);
	free(norm);
	return rc;
}

/* ---- subscriptions -------------------------------------------------- */

static int
sub_get(struct msp_store *st, MDB_txn *t, const char *email,
    json_object **out, struct msp_err *e)
{
	return msp_db_get_json(st, t, MSP_DB_SUBS, email, strlen(email), out,
	    e);
}

static int
sub_put(struct msp_store *st, MDB_txn *t, json_object *sub, int64_t start,
    int64_t end, struct msp_err *e)
{
	const char *email = msp_json_sget(sub, "user");

	jset_int(sub, "subscriptionStartTimestamp", start);
	jset_int(sub, "subscriptionEndTimestamp", end);
	jset_time(sub, "start", start);
	jset_time(sub, "end", end);
	jset_time(sub, "updatedAt", msp_now_ms());
	return msp_db_put_json(st, t, MSP_DB_SUBS, email, strlen(email), sub,
	    e);
}

/*
 * Record payment pay_id of order and grant its months, in the caller's
 * transaction: an active subscription is extended from its end, an expired
 * one (or none) starts now. *subp (may be NULL) gets the subscription.
 */
static int
grant(struct msp_store *st, MDB_txn *t, json_object *order,
    const char *pay_id, json_object **subp, struct msp_err *e)
{
	json_object *sub = NULL, *user = NULL, *pay = NULL;
	const char *email = msp_json_sget(order, "user");
	int64_t now = msp_now_ms(), start, end, from, to, months, amount;
	int rc;

	if (jint(order, "months", &months) != 0 ||
	    jint(order, "amount", &amount) != 0 || email == NULL)
		return msp_err_set(e, MSP_ESTORE, "order %s: corrupt record",
		    msp_json_sget(order, "id") ? msp_json_sget(order, "id") : "?");
	rc = sub_get(st, t, email, &sub, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	if (sub != NULL && jint(sub, "subscriptionEndTimestamp", &end) == 0 &&
	    jint(sub, "subscriptionStartTimestamp", &start) == 0 &&
	    end > now) {
		from = end;
	} else {
		json_object_put(sub);
		if ((sub = json_object_new_object()) == NULL)
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		jset_str(sub, "type", "subscription");
		json_object_object_add(sub, "v", json_object_new_int(1));
		jset_str(sub, "user", email);
		if (msp_user_get(st, t, email, &user, NULL) == 0 &&
		    msp_json_sget(user, "id") != NULL)
			jset_str(sub, "userId", msp_json_sget(user, "id"));
		json_object_put(user);
		start = from = now;
	}
	to = msp_pay_add_months(from, (int)months);
	if ((pay = json_object_new_object()) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	jset_str(pay, "type", "payment");
	json_object_object_add(pay, "v", json_object_new_int(1));
	jset_str(pay, "id", pay_id);
	jset_str(pay, "orderId", msp_json_sget(order, "id"));
	jset_str(pay, "razorpayOrderId", msp_json_sget(order, "razorpayOrderId"));
	jset_str(pay, "user", email);
	jset_int(pay, "months", months);
	jset_int(pay, "amount", amount);
	jset_str(pay, "currency", MSP_PAY_CURRENCY);
	jset_str(pay, "status", "captured");
	jset_int(pay, "grantedFrom", from);
	jset_int(pay, "grantedTo", to);
	jset_int(pay, "amountRefunded", 0);
	json_object_object_add(pay, "refunds", json_object_new_array());
	jset_time(pay, "createdAt", now);
	jset_time(pay, "updatedAt", now);
	if ((rc = msp_db_put_json(st, t, MSP_DB_PAYMENTS, pay_id,
	    strlen(pay_id), pay, e)) != 0)
		goto out;
	jset_str(order, "status", "paid");
	jset_str(order, "paymentId", pay_id);
	jset_time(order, "updatedAt", now);
	if ((rc = order_put(st, t, order, e)) != 0 ||
	    (rc = sub_put(st, t, sub, start, to, e)) != 0)
		goto out;
	if (subp != NULL) {
		*subp = sub;
		sub = NULL;
	}
out:
	json_object_put(pay);
	json_object_put(sub);
	return rc;
}

static int
payment_get(struct msp_store *st, MDB_txn *t, const char *id,
    json_object **out, struct msp_err *e)
{
	return msp_db_get_json(st, t, MSP_DB_PAYMENTS, id, strlen(id), out,
	    e);
}

/* ---- confirm -------------------------------------------------------- */

struct confirm_arg {
	struct msp_store *st;
	const char *user;      /* normalised, or NULL */
	const char *order_id;  /* Razorpay's */
	const char *payment_id;
	int replayed;
	json_object *sub;      /* out */
};

/* What the store says before asking the gateway, and again inside the
 * granting transaction: a payment seen before is a replay. */
static int
confirm_state(struct confirm_arg *a, MDB_txn *t, json_object **orderp,
    struct msp_err *e)
{
	json_object *order = NULL, *pay = NULL;
	const char *s;
	int rc;

	*orderp = NULL;
	if ((rc = order_by_rzp(a->st, t, a->order_id, &order, e)) != 0)
		return rc;
	if (a->user != NULL && ((s = msp_json_sget(order, "user")) == NULL ||
	    strcmp(s, a->user) != 0)) {
		json_object_put(order);
		return msp_err_set(e, MSP_EPERM, "%s: order of another user",
		    a->order_id);
	}
	rc = payment_get(a->st, t, a->payment_id, &pay, e);
	if (rc == 0) {
		s = msp_json_sget(pay, "razorpayOrderId");
		rc = s == NULL || strcmp(s, a->order_id) != 0;
		json_object_put(pay);
		json_object_put(order);
		if (rc)
			return msp_err_set(e, MSP_EINVAL, "%s: recorded for "
			    "another order", a->payment_id);
		a->replayed = 1;
		return 0;
	}
	if (rc != MSP_ENOTFOUND) {
		json_object_put(order);
		return rc;
	}
	if ((s = msp_json_sget(order, "paymentId")) != NULL &&
	    strcmp(s, a->payment_id) != 0) {
		char b[80];
		rc = msp_err_set(e, MSP_EEXIST, "%s: already paid by %s",
		    a->order_id, shown(s, b));
		json_object_put(order);
		return rc;
	}
	*orderp = order;
	return 0;
}

static int
confirm_grant(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct confirm_arg *a = arg;
	json_object *order = NULL;
	int rc;

	json_object_put(a->sub);
	a->sub = NULL;
	a->replayed = 0;
	if ((rc = confirm_state(a, t, &order, e)) != 0 || a->replayed)
		return rc;
	rc = grant(a->st, t, order, a->payment_id, &a->sub, e);
	json_object_put(order);
	return rc;
}

/* The gateway's payment must be this order's, in full, and captured. */
static int
payment_check(json_object *p, json_object *order, const char *rzp,
    const char *pid, struct msp_err *e)
{
	const char *s;
	char b[80];
	int64_t amount, want;

	if ((s = msp_json_sget(p, "id")) == NULL || strcmp(s, pid) != 0)
		return msp_err_set(e, MSP_ENET, "razorpay: GET /v1/payments/%s: "
		    "malformed answer (no matching 'id')", pid);
	if ((s = msp_json_sget(p, "order_id")) == NULL)
		return msp_err_set(e, MSP_EINVAL, "%s: the gateway says it "
		    "belongs to no order, not %s", pid, rzp);
	if (strcmp(s, rzp) != 0)
		return msp_err_set(e, MSP_EINVAL, "%s: the gateway says it "
		    "belongs to order %s, not %s", pid, shown(s, b), rzp);
	if (jint(p, "amount", &amount) != 0 ||
	    (s = msp_json_sget(p, "currency")) == NULL)
		return msp_err_set(e, MSP_ENET, "razorpay: GET /v1/payments/%s: "
		    "malformed answer (no 'amount' or 'currency')", pid);
	jint(order, "amount", &want);
	if (amount != want || strcmp(s, MSP_PAY_CURRENCY) != 0)
		return msp_err_set(e, MSP_EINVAL, "%s: the gateway says %lld "
		    "%s paise were paid, order %s is for %lld %s paise", pid,
		    (long long)amount, shown(s, b), rzp, (long long)want,
		    MSP_PAY_CURRENCY);
	if ((s = msp_json_sget(p, "status")) == NULL)
		return msp_err_set(e, MSP_ENET, "razorpay: GET /v1/payments/%s: "
		    "malformed answer (no 'status')", pid);
	if (strcmp(s, "captured") != 0)
		return msp_err_set(e, MSP_EINVAL, "%s: payment is %s, not "
		    "captured", pid, shown(s, b));
	return 0;
}

/* The subscription of a payment confirmed before: MSP_PAY_REPLAYED. */
static int
replay_status(struct msp_store *st, const char *payment_id,
    json_object **out, struct msp_err *e)
{
	json_object *pay = NULL;
	MDB_txn *t;
	int rc;

	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		return rc;
	rc = payment_get(st, t, payment_id, &pay, e);
	msp_txn_abort(st, t);
	if (rc == 0)
		rc = msp_pay_status(st, msp_json_sget(pay, "user"), msp_now_ms(), out,
		    e);
	if (rc == 0)
		jset_str(*out, "payment", payment_id);
	json_object_put(pay);
	return rc == 0 ? MSP_PAY_REPLAYED : rc;
}

int
msp_pay_confirm(struct msp_store *st, const struct msp_pay_conf *c,
    const char *user, const char *order_id, const char *payment_id,
    const char *signature, json_object **out, struct msp_err *e)
{
	struct confirm_arg a;
	json_object *order = NULL, *ans = NULL;
	MDB_txn *t = NULL;
	char *norm = NULL, *msg = NULL, *path = NULL, b[80];
	int rc;

	*out = NULL;
	memset(&a, 0, sizeof(a));
	if (!msp_pay_rzp_id_ok(order_id))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a razorpay order "
		    "id", shown(order_id, b));
	if (!msp_pay_rzp_id_ok(payment_id))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a razorpay payment "
		    "id", shown(payment_id, b));
	if ((rc = keys_needed(c, e)) != 0)
		return rc;
	if (strlen(signature) != 64 ||
	    strspn(signature, "0123456789abcdefABCDEF") != 64)
		return msp_err_set(e, MSP_EINVAL, "%s: signature is not 64 hex "
		    "digits", payment_id);
	if ((msg = msp_sprintf("%s|%s", order_id, payment_id)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	rc = msp_pay_sig_ok(c->key_secret, msg, strlen(msg), signature);
	free(msg);
	if (!rc)
		return msp_err_set(e, MSP_EPERM, "%s: signature does not match "
		    "order %s and this payment", payment_id, order_id);
	if (user != NULL && (rc = msp_email_norm(user, &norm, e)) != 0)
		return rc;
	a.st = st;
	a.user = norm;
	a.order_id = order_id;
	a.payment_id = payment_id;

	/* the store first: an unknown order or a replay needs no gateway */
	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		goto out;
	rc = confirm_state(&a, t, &order, e);
	msp_txn_abort(st, t);
	if (rc != 0)
		goto out;
	if (a.replayed) {
		rc = replay_status(st, payment_id, out, e);
		goto out;
	}
	if ((path = msp_sprintf("/v1/payments/%s", payment_id)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = msp_pay_gw_call(c, "GET", path, NULL, &ans, e)) != 0 ||
	    (rc = payment_check(ans, order, order_id, payment_id, e)) != 0)
		goto out;
	if ((rc = msp_store_write(st, confirm_grant, &a, e)) != 0)
		goto out;
	if (a.replayed) { /* confirmed meanwhile by a webhook or a run */
		rc = replay_status(st, payment_id, out, e);
		goto out;
	}
	jset_str(a.sub, "payment", payment_id);
	json_object_object_add(a.sub, "active", json_object_new_boolean(1));
	*out = a.sub;
	a.sub = NULL;
	rc = 0;
out:
	json_object_put(a.sub);
	json_object_put(order);
	json_object_put(ans);
	free(path);
	free(norm);
	return rc;
}

/* ---- webhooks ------------------------------------------------------- */

struct hook_arg {
	struct msp_store *st;
	json_object *body;
	const char *id;        /* event id */
	const char *event;     /* "payment.captured" ... */
	int replayed;
	json_object *rec;      /* out: the event record */
};

/* The entity of payload.<what>.entity; MSP_EINVAL naming the path. */
static int
hook_entity(json_object *body, const char *what, json_object **out,
    struct msp_err *e)
{
	json_object *p = jobj(body, "payload");

	*out = jobj(jobj(p, what), "entity");
	if (*out == NULL)
		return msp_err_set(e, MSP_EINVAL, "webhook: field 'payload.%s."
		    "entity': required", what);
	return 0;
}

/* payment.captured and order.paid: grant like confirm. The signed body is
 * the proof; its payment entity must match the order. */
static int
hook_payment(struct hook_arg *a, MDB_txn *t, char *outcome, size_t cap,
    const char **pidp, struct msp_err *e)
{
	json_object *p, *order = NULL, *pay = NULL;
	const char *pid, *rzp, *cur, *status, *s;
	long long amount;
	int64_t want;
	char b[80], b2[80];
	int rc;

	if ((rc = hook_entity(a->body, "payment", &p, e)) != 0)
		return rc;
	if ((rc = msp_field_str(p, "id", 1, 64, 0, &pid, e)) != 0 ||
	    (rc = msp_field_str(p, "order_id", 1, 64, 0, &rzp, e)) != 0 ||
	    (rc = msp_field_str(p, "currency", 1, 8, 0, &cur, e)) != 0 ||
	    (rc = msp_field_str(p, "status", 1, 32, 0, &status, e)) != 0 ||
	    (rc = msp_field_int(p, "amount", 1, 0, INT64_MAX, &amount,
	    e)) != 0)
		return msp_err_prefix(e, "webhook: payload.payment.entity");
	if (!msp_pay_rzp_id_ok(pid) || !msp_pay_rzp_id_ok(rzp))
		return msp_err_set(e, MSP_EINVAL, "webhook: payload.payment."
		    "entity: not a razorpay payment and order id");
	*pidp = pid;
	rc = order_by_rzp(a->st, t, rzp, &order, e);
	if (rc == MSP_ENOTFOUND) {
		msp_err_clear(e);
		snprintf(outcome, cap, "ignored: unknown order %s", rzp);
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = payment_get(a->st, t, pid, &pay, e);
	json_object_put(pay);
	if (rc == 0) {
		snprintf(outcome, cap, "already granted");
		goto out;
	}
	if (rc != MSP_ENOTFOUND)
		goto out;
	msp_err_clear(e);
	if (strcmp(status, "captured") != 0) {
		snprintf(outcome, cap, "ignored: payment is %s",
		    shown(status, b));
		rc = 0;
		goto out;
	}
	jint(order, "amount", &want);
	if (amount != want || strcmp(cur, MSP_PAY_CURRENCY) != 0) {
		rc = msp_err_set(e, MSP_EINVAL, "webhook: %s: %lld %s paise "
		    "were paid, order %s is for %lld %s paise", pid,
		    (long long)amount, shown(cur, b), rzp, (long long)want,
		    MSP_PAY_CURRENCY);
		goto out;
	}
	if ((s = msp_json_sget(order, "paymentId")) != NULL) {
		snprintf(outcome, cap, "ignored: order already paid by %s",
		    shown(s, b2));
		rc = 0;
		goto out;
	}
	if ((rc = grant(a->st, t, order, pid, NULL, e)) == 0)
		snprintf(outcome, cap, "granted");
out:
	json_object_put(order);
	return rc;
}

/* refund.processed: take back the refunded share of the time the payment
 * added, from the end of the subscription (never before its start). A
 * payment whose time ran out before the current subscription began
 * shortens nothing. */
static int
hook_refund(struct hook_arg *a, MDB_txn *t, char *outcome, size_t cap,
    const char **pidp, struct msp_err *e)
{
	json_object *r, *pay = NULL, *sub = NULL, *refunds, *order = NULL;
	const char *rid, *pid, *email;
	long long ramt;
	int64_t amount, done, from, to, start, end, cut, now;
	size_t i;
	int rc;

	if ((rc = hook_entity(a->body, "refund", &r, e)) != 0)
		return rc;
	if ((rc = msp_field_str(r, "id", 1, 64, 0, &rid, e)) != 0 ||
	    (rc = msp_field_str(r, "payment_id", 1, 64, 0, &pid, e)) != 0 ||
	    (rc = msp_field_int(r, "amount", 1, 0, INT64_MAX, &ramt, e)) != 0)
		return msp_err_prefix(e, "webhook: payload.refund.entity");
	if (!msp_pay_rzp_id_ok(rid) || !msp_pay_rzp_id_ok(pid))
		return msp_err_set(e, MSP_EINVAL, "webhook: payload.refund."
		    "entity: not a razorpay refund and payment id");
	*pidp = pid;
	rc = payment_get(a->st, t, pid, &pay, e);
	if (rc == MSP_ENOTFOUND) {
		snprintf(outcome, cap, "ignored: unknown payment %s", pid);
		return 0;
	}
	if (rc != 0)
		return rc;
	refunds = NULL;
	if (!json_object_object_get_ex(pay, "refunds", &refunds) ||
	    !json_object_is_type(refunds, json_type_array) ||
	    jint(pay, "amount", &amount) != 0 || amount <= 0 ||
	    jint(pay, "amountRefunded", &done) != 0 ||
	    jint(pay, "grantedFrom", &from) != 0 ||
	    jint(pay, "grantedTo", &to) != 0 ||
	    (email = msp_json_sget(pay, "user")) == NULL) {
		rc = msp_err_set(e, MSP_ESTORE, "payment %s: corrupt record",
		    pid);
		goto out;
	}
	for (i = 0; i < json_object_array_length(refunds); i++) {
		json_object *x = json_object_array_get_idx(refunds, i);
		if (json_object_is_type(x, json_type_string) &&
		    strcmp(json_object_get_string(x), rid) == 0) {
			snprintf(outcome, cap, "refund already applied");
			rc = 0;
			goto out;
		}
	}
	if (ramt > amount - done)
		ramt = amount - done;
	if (ramt < 0)
		ramt = 0;
	now = msp_now_ms();
	cut = (int64_t)((long double)(to - from) * (long double)ramt /
	    (long double)amount);
	json_object_array_add(refunds, json_object_new_string(rid));
	jset_int(pay, "amountRefunded", done + ramt);
	jset_str(pay, "status", done + ramt >= amount ? "refunded" :
	    "partially_refunded");
	jset_time(pay, "updatedAt", now);
	if ((rc = msp_db_put_json(a->st, t, MSP_DB_PAYMENTS, pid, strlen(pid),
	    pay, e)) != 0)
		goto out;
	if (done + ramt >= amount && msp_json_sget(pay, "orderId") != NULL &&
	    order_get(a->st, t, msp_json_sget(pay, "orderId"), &order, NULL) == 0) {
		jset_str(order, "status", "refunded");
		jset_time(order, "updatedAt", now);
		if ((rc = order_put(a->st, t, order, e)) != 0)
			goto out;
	}
	snprintf(outcome, cap, "refunded: nothing to shorten");
	rc = sub_get(a->st, t, email, &sub, e);
	if (rc == MSP_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (jint(sub, "subscriptionStartTimestamp", &start) != 0 ||
	    jint(sub, "subscriptionEndTimestamp", &end) != 0) {
		rc = msp_err_set(e, MSP_ESTORE, "subscription of %s: corrupt "
		    "record", email);
		goto out;
	}
	if (to <= start || cut == 0)
		goto out;
	end = end - cut < start ? start : end - cut;
	if ((rc = sub_put(a->st, t, sub, start, end, e)) != 0)
		goto out;
	snprintf(outcome, cap, end > now ? "refunded: subscription shortened" :
	    "refunded: subscription ended");
out:
	json_object_put(order);
	json_object_put(sub);
	json_object_put(pay);
	return rc;
}

static int
hook_apply(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct hook_arg *a = arg;
	json_object *rec = NULL;
	const char *pid = NULL;
	char outcome[200];
	int rc;

	json_object_put(a->rec);
	a->rec = NULL;
	a->replayed = 0;
	rc = msp_db_get_json(a->st, t, MSP_DB_EVENTS, a->id, strlen(a->id),
	    &a->rec, e);
	if (rc == 0) {
		a->replayed = 1;
		return 0;
	}
	if (rc != MSP_ENOTFOUND)
		return rc;
	snprintf(outcome, sizeof(outcome), "ignored");
	if (strcmp(a->event, "payment.captured") == 0 ||
	    strcmp(a->event, "order.paid") == 0)
		rc = hook_payment(a, t, outcome, sizeof(outcome), &pid, e);
	else if (strcmp(a->event, "refund.processed") == 0)
		rc = hook_refund(a, t, outcome, sizeof(outcome), &pid, e);
	else
		rc = 0;
	if (rc != 0)
		return rc;
	if ((rec = json_object_new_object()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	jset_str(rec, "type", "event");
	json_object_object_add(rec, "v", json_object_new_int(1));
	jset_str(rec, "id", a->id);
	jset_str(rec, "event", a->event);
	jset_str(rec, "outcome", outcome);
	if (pid != NULL)
		jset_str(rec, "paymentId", pid);
	jset_time(rec, "receivedAt", msp_now_ms());
	if ((rc = msp_db_put_json(a->st, t, MSP_DB_EVENTS, a->id,
	    strlen(a->id), rec, e)) != 0) {
		json_object_put(rec);
		return rc;
	}
	a->rec = rec;
	return 0;
}

static int
event_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 128 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") == n;
}

int
msp_pay_webhook(struct msp_store *st, const struct msp_pay_conf *c,
    const char *body, size_t len, const char *signature,
    const char *event_id, json_object **out, struct msp_err *e)
{
	struct hook_arg a;
	json_tokener *tok;
	unsigned char h[crypto_hash_sha256_BYTES];
	char hid[8 + 2 * sizeof(h) + 1], b[80];
	const char *id;
	int rc;

	*out = NULL;
	memset(&a, 0, sizeof(a));
	if (c->webhook_secret == NULL)
		return msp_err_set(e, MSP_EINVAL, "MSP_RAZORPAY_WEBHOOK_SECRET "
		    "is not set (environment or config file)");
	if (strlen(signature) != 64 ||
	    strspn(signature, "0123456789abcdefABCDEF") != 64)
		return msp_err_set(e, MSP_EINVAL, "webhook: signature is not 64 "
		    "hex digits");
	if (!msp_pay_sig_ok(c->webhook_secret, body, len, signature))
		return msp_err_set(e, MSP_EPERM, "webhook: signature does not "
		    "match the body");
	if (event_id != NULL && !event_id_ok(event_id))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a webhook event id",
		    shown(event_id, b));
	if (len > INT32_MAX || (tok = json_tokener_new()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	a.body = json_tokener_parse_ex(tok, body, (int)len);
	if (a.body != NULL && json_tokener_get_parse_end(tok) != len &&
	    strspn(body + json_tokener_get_parse_end(tok), " \t\r\n") !=
	    len - json_tokener_get_parse_end(tok)) {
		json_object_put(a.body);
		a.body = NULL;
	}
	json_tokener_free(tok);
	if (a.body == NULL || !json_object_is_type(a.body, json_type_object)) {
		rc = msp_err_set(e, MSP_EINVAL, "webhook: body is not a JSON "
		    "object");
		goto out;
	}
	if ((rc = msp_field_str(a.body, "event", 1, 64, 0, &a.event, e)) != 0) {
		msp_err_prefix(e, "webhook");
		goto out;
	}
	if (event_id != NULL) {
		id = event_id;
	} else if ((id = msp_json_sget(a.body, "id")) == NULL || !event_id_ok(id)) {
		/* no id: a delivery is the same event when its bytes are */
		crypto_hash_sha256(h, (const unsigned char *)body, len);
		memcpy(hid, "sha256:", 7);
		sodium_bin2hex(hid + 7, sizeof(hid) - 7, h, sizeof(h));
		id = hid;
	}
	a.st = st;
	a.id = id;
	if ((rc = msp_store_write(st, hook_apply, &a, e)) != 0)
		goto out;
	*out = a.rec;
	a.rec = NULL;
	rc = a.replayed ? MSP_PAY_REPLAYED : 0;
out:
	json_object_put(a.rec);
	json_object_put(a.body);
	return rc;
}

/* ---- questions ------------------------------------------------------ */

int
msp_pay_active(struct msp_store *st, MDB_txn *t, const char *email,
    int64_t now_ms, int64_t *end_ms, struct msp_err *e)
{
	json_object *sub = NULL;
	MDB_txn *own = NULL;
	char *norm = NULL;
	int64_t end = 0;
	int rc;

	if (end_ms != NULL)
		*end_ms = 0;
	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return rc;
	if (t == NULL) {
		if ((rc = msp_txn_begin(st, 0, &own, e)) != 0)
			goto out;
		t = own;
	}
	rc = sub_get(st, t, norm, &sub, e);
	if (rc == MSP_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (jint(sub, "subscriptionEndTimestamp", &end) != 0) {
		rc = msp_err_set(e, MSP_ESTORE, "subscription of %s: corrupt "
		    "record", norm);
		goto out;
	}
	if (end_ms != NULL)
		*end_ms = end;
	rc = end > now_ms;
out:
	if (own != NULL)
		msp_txn_abort(st, own);
	json_object_put(sub);
	free(norm);
	return rc;
}

int
msp_pay_status(struct msp_store *st, const char *email, int64_t now_ms,
    json_object **out, struct msp_err *e)
{
	json_object *user = NULL, *sub = NULL;
	MDB_txn *t = NULL;
	char *norm = NULL;
	int64_t end = 0;
	int rc;

	*out = NULL;
	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return rc;
	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		goto out;
	if ((rc = user_get(st, t, norm, &user, e)) != 0)
		goto out;
	rc = sub_get(st, t, norm, &sub, e);
	if (rc == MSP_ENOTFOUND) {
		if ((sub = json_object_new_object()) == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			goto out;
		}
		jset_str(sub, "type", "subscription");
		json_object_object_add(sub, "v", json_object_new_int(1));
		jset_str(sub, "user", norm);
		if (msp_json_sget(user, "id") != NULL)
			jset_str(sub, "userId", msp_json_sget(user, "id"));
	} else if (rc != 0) {
		goto out;
	}
	jint(sub, "subscriptionEndTimestamp", &end);
	json_object_object_add(sub, "active",
	    json_object_new_boolean(end > now_ms));
	*out = sub;
	sub = NULL;
	rc = 0;
out:
	msp_txn_abort(st, t);
	json_object_put(sub);
	json_object_put(user);
	free(norm);
	return rc;
}

int
msp_pay_list(struct msp_store *st, const char *email, msp_pay_each_fn fn,
    void *arg, struct msp_err *e)
{
	json_object *o = NULL, *user = NULL;
	MDB_cursor *cur = NULL;
	MDB_txn *t = NULL;
	MDB_val k, v;
	char *norm = NULL, *pre = NULL, id[MSP_ID_LEN + 1];
	size_t pn = 0;
	int rc, mrc;

	if (email != NULL && (rc = msp_email_norm(email, &norm, e)) != 0)
		return rc;
	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		goto out;
	if (norm != NULL) {
		if ((rc = user_get(st, t, norm, &user, e)) != 0)
			goto out;
		if ((pre = idx_key('u', norm, NULL, &pn)) == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			goto out;
		}
	}
	mrc = mdb_cursor_open(t, msp_store_dbi(st, norm ? MSP_DB_ORDER_IDX :
	    MSP_DB_ORDERS), &cur);
	if (mrc != 0) {
		rc = msp_store_mdb_err(mrc, "orders", e);
		goto out;
	}
	k.mv_data = pre;
	k.mv_size = pn;
	mrc = mdb_cursor_get(cur, &k, &v, pre ? MDB_SET_RANGE : MDB_FIRST);
	for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (pre != NULL) {
			if (k.mv_size != pn + MSP_ID_LEN ||
			    memcmp(k.mv_data, pre, pn) != 0)
				break;
			memcpy(id, (char *)k.mv_data + pn, MSP_ID_LEN);
			id[MSP_ID_LEN] = '\0';
			if ((rc = order_get(st, t, id, &o, e)) != 0)
				goto out;
		} else {
			json_tokener *tok = json_tokener_new();
			if (tok == NULL) {
				rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
				goto out;
			}
			o = json_tokener_parse_ex(tok, v.mv_data,
			    (int)v.mv_size);
			json_tokener_free(tok);
			if (o == NULL) {
				rc = msp_err_set(e, MSP_ESTORE, "orders: "
				    "corrupt record");
				goto out;
			}
		}
		rc = fn(o, arg, e);
		json_object_put(o);
		o = NULL;
		if (rc != 0)
			goto out;
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND) {
		rc = msp_store_mdb_err(mrc, "orders", e);
		goto out;
	}
	rc = 0;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	msp_txn_abort(st, t);
	json_object_put(o);
	json_object_put(user);
	free(pre);
	free(norm);
	return rc;
}

/* ---- import and check ----------------------------------------------- */

static int
import_put(struct msp_store *st, MDB_txn *t, enum msp_db db,
    const char *kind, const char *key, json_object *rec, struct msp_err *e)
{
	const char *s;
	size_t n;

	if ((s = msp_json_str_of(rec, &n)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	(void)kind;
	return msp_db_put(st, t, db, key, strlen(key), s, n, 0, e);
}

int
msp_pay_import_subscription(struct msp_store *st, MDB_txn *t,
    json_object *rec, struct msp_err *e)
{
	const char *email;
	long long x;
	char *norm = NULL;
	int rc;

	if ((rc = msp_record_check(rec, "subscription", 1, e)) != 0 ||
	    (rc = msp_field_str(rec, "user", 1, 254, 0, &email, e)) != 0 ||
	    (rc = msp_field_int(rec, "subscriptionStartTimestamp", 1, 0,
	    INT64_MAX, &x, e)) != 0 ||
	    (rc = msp_field_int(rec, "subscriptionEndTimestamp", 1, 0,
	    INT64_MAX, &x, e)) != 0)
		return rc;
	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return msp_err_prefix(e, "field 'user'");
	if (strcmp(norm, email) != 0)
		rc = msp_err_set(e, MSP_EINVAL, "field 'user': not lower case");
	else
		rc = import_put(st, t, MSP_DB_SUBS, "subscription", email, rec,
		    e);
	free(norm);
	return rc;
}

int
msp_pay_import_order(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *id, *email, *status, *rzp = NULL;
	json_object *old = NULL;
	long long x;
	int rc;

	if ((rc = msp_record_check(rec, "order", 1, e)) != 0 ||
	    (rc = msp_field_str(rec, "id", 1, MSP_ID_LEN, 0, &id, e)) != 0 ||
	    (rc = msp_field_str(rec, "user", 1, 254, 0, &email, e)) != 0 ||
	    (rc = msp_field_str(rec, "status", 1, 16, 0, &status, e)) != 0 ||
	    (rc = msp_field_int(rec, "months", 1, 1, MSP_PAY_MONTHS_MAX, &x,
	    e)) != 0 ||
	    (rc = msp_field_int(rec, "amount", 1, 0, INT64_MAX, &x, e)) != 0)
		return rc;
	if (!msp_id_valid(id))
		return msp_err_set(e, MSP_EINVAL, "field 'id': not an msp id");
	rc = msp_field_str(rec, "razorpayOrderId", 0, 64, 0, &rzp, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	if (rzp != NULL && !msp_pay_rzp_id_ok(rzp))
		return msp_err_set(e, MSP_EINVAL, "field 'razorpayOrderId': not "
		    "a razorpay order id");
	/* a re-import replaces the order: drop its old index entries */
	if (order_get(st, t, id, &old, NULL) == 0) {
		rc = idx_del(st, t, old, e);
		json_object_put(old);
		if (rc != 0)
			return rc;
	}
	if ((rc = import_put(st, t, MSP_DB_ORDERS, "order", id, rec, e)) != 0)
		return rc;
	if ((rc = idx_put(st, t, 'u', email, id, "", e)) != 0)
		return rc;
	if (rzp != NULL)
		rc = idx_put(st, t, 'r', rzp, NULL, id, e);
	return rc;
}

int
msp_pay_import_payment(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *id, *s;
	long long x;
	int rc;

	if ((rc = msp_record_check(rec, "payment", 1, e)) != 0 ||
	    (rc = msp_field_str(rec, "id", 1, 64, 0, &id, e)) != 0 ||
	    (rc = msp_field_str(rec, "user", 1, 254, 0, &s, e)) != 0 ||
	    (rc = msp_field_int(rec, "amount", 1, 0, INT64_MAX, &x, e)) != 0 ||
	    (rc = msp_field_int(rec, "grantedFrom", 1, 0, INT64_MAX, &x,
	    e)) != 0 ||
	    (rc = msp_field_int(rec, "grantedTo", 1, 0, INT64_MAX, &x,
	    e)) != 0)
		return rc;
	if (!msp_pay_rzp_id_ok(id))
		return msp_err_set(e, MSP_EINVAL, "field 'id': not a razorpay "
		    "payment id");
	return import_put(st, t, MSP_DB_PAYMENTS, "payment", id, rec, e);
}

int
msp_pay_import_event(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *id, *s;
	int rc;

	if ((rc = msp_record_check(rec, "event", 1, e)) != 0 ||
	    (rc = msp_field_str(rec, "id", 1, 128, 0, &id, e)) != 0 ||
	    (rc = msp_field_str(rec, "event", 1, 64, 0, &s, e)) != 0)
		return rc;
	if (!event_id_ok(id))
		return msp_err_set(e, MSP_EINVAL, "field 'id': not a webhook "
		    "event id");
	return import_put(st, t, MSP_DB_EVENTS, "event", id, rec, e);
}

int
msp_pay_check(struct msp_store *st, MDB_txn *t, msp_pay_report_fn fn,
    void *arg, struct msp_err *e)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v, x;
	json_object *o;
	char msg[300], *key;
	const char *id, *email, *rzp;
	size_t n;
	int bad = 0, mrc;

	/* every order has its index entries */
	if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_ORDERS),
	    &cur)) != 0)
		return msp_store_mdb_err(mrc, "orders", e);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		o = msp_json_parse(v.mv_data, v.mv_size);
		id = msp_json_sget(o, "id");
		email = msp_json_sget(o, "user");
		rzp = msp_json_sget(o, "razorpayOrderId");
		if (id == NULL || email == NULL) {
			snprintf(msg, sizeof(msg), "orders: corrupt record "
			    "'%.*s'", (int)(k.mv_size > 40 ? 40 : k.mv_size),
			    (char *)k.mv_data);
			fn(msg, arg);
			bad++;
			json_object_put(o);
			continue;
		}
		if ((key = idx_key('u', email, id, &n)) != NULL) {
			if (msp_db_get(st, t, MSP_DB_ORDER_IDX, key, n, &x,
			    NULL) != 0) {
				snprintf(msg, sizeof(msg), "order %s: missing "
				    "from the index of %s", id, email);
				fn(msg, arg);
				bad++;
			}
			free(key);
		}
		if (rzp != NULL && (key = idx_key('r', rzp, NULL, &n)) != NULL) {
			if (msp_db_get(st, t, MSP_DB_ORDER_IDX, key, n, &x,
			    NULL) != 0 || x.mv_size != strlen(id) ||
			    memcmp(x.mv_data, id, x.mv_size) != 0) {
				snprintf(msg, sizeof(msg), "order %s: index "
				    "entry of %s missing or wrong", id, rzp);
				fn(msg, arg);
				bad++;
			}
			free(key);
		}
		json_object_put(o);
	}
	mdb_cursor_close(cur);
	/* and every index entry names an order that says the same */
	if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_ORDER_IDX),
	    &cur)) != 0)
		return msp_store_mdb_err(mrc, "order index", e);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const char *kd = k.mv_data, *want, *field;
		char oid[MSP_ID_LEN + 1];
		int ok = 0;

		if (k.mv_size > 2 && kd[0] == 'r' && v.mv_size == MSP_ID_LEN) {
			memcpy(oid, v.mv_data, MSP_ID_LEN);
			want = kd + 2;
			field = "razorpayOrderId";
		} else if (k.mv_size > 2 + MSP_ID_LEN + 1 && kd[0] == 'u') {
			memcpy(oid, kd + k.mv_size - MSP_ID_LEN, MSP_ID_LEN);
			want = kd + 2;
			field = "user";
		} else {
			want = field = NULL;
		}
		oid[MSP_ID_LEN] = '\0';
		o = NULL;
		if (want != NULL && order_get(st, t, oid, &o, NULL) == 0) {
			const char *got = msp_json_sget(o, field);
			size_t wn = kd[0] == 'r' ? k.mv_size - 2 :
			    k.mv_size - 2 - 1 - MSP_ID_LEN;
			ok = got != NULL && strlen(got) == wn &&
			    memcmp(got, want, wn) == 0;
		}
		json_object_put(o);
		if (!ok) {
			snprintf(msg, sizeof(msg), "order index: entry '%c:%.*s' "
			    "names no matching order", kd[0],
			    (int)(k.mv_size > 60 ? 58 : k.mv_size - 2), kd + 2);
			fn(msg, arg);
			bad++;
		}
	}
	mdb_cursor_close(cur);
	return bad;
}
