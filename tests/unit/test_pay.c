/* Unit tests for lib/pay: signatures, calendar months, plans, the config
 * file's permissions, and the premium question. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonl.h"
#include "pay.h"
#include "tap.h"
#include "util.h"

static int64_t
at(const char *rfc3339)
{
	int64_t ms = -1;

	msp_time_parse(rfc3339, &ms);
	return ms;
}

static int
months_is(const char *from, int n, const char *want)
{
	char got[MSP_TIME_LEN + 1];

	msp_time_fmt(msp_pay_add_months(at(from), n), got);
	if (strcmp(got, want) != 0)
		printf("# %s + %d months: got %s, want %s\n", from, n, got, want);
	return strcmp(got, want) == 0;
}

static void
test_signatures(void)
{
	char hex[65];
	const char *msg = "what do ya want for nothing?";
	const char *want =
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	const char *upper =
	    "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843";
	char bad[65];

	/* RFC 4231, test case 2 */
	msp_pay_hmac_hex("Jefe", msg, strlen(msg), hex);
	ok(strcmp(hex, want) == 0, "HMAC-SHA256 matches RFC 4231 case 2");
	ok(msp_pay_sig_ok("Jefe", msg, strlen(msg), want) == 1,
	    "a right signature is accepted");
	ok(msp_pay_sig_ok("Jefe", msg, strlen(msg), upper) == 1,
	    "upper-case hex is accepted");
	memcpy(bad, want, sizeof(bad));
	bad[63] = bad[63] == '3' ? '4' : '3';
	ok(msp_pay_sig_ok("Jefe", msg, strlen(msg), bad) == 0,
	    "one digit off is refused");
	ok(msp_pay_sig_ok("jefe", msg, strlen(msg), want) == 0,
	    "another key is refused");
	ok(msp_pay_sig_ok("Jefe", msg, strlen(msg) - 1, want) == 0,
	    "another message is refused");
	ok(msp_pay_sig_ok("Jefe", msg, strlen(msg), "5bdc") == 0,
	    "a short signature is refused");
	memcpy(bad, want, sizeof(bad));
	bad[10] = 'g';
	ok(msp_pay_sig_ok("Jefe", msg, strlen(msg), bad) == 0,
	    "non-hex is refused");
	ok(msp_pay_sig_ok("Jefe", msg, strlen(msg), "") == 0,
	    "an empty signature is refused");
	ok(msp_pay_sig_ok(NULL, msg, strlen(msg), want) == 0,
	    "no key: refused");
	/* the Checkout form: order_id|payment_id */
	msp_pay_hmac_hex("sekret", "order_A|pay_B", 13, hex);
	ok(msp_pay_sig_ok("sekret", "order_A|pay_B", 13, hex) == 1 &&
	    msp_pay_sig_ok("sekret", "order_A|pay_C", 13, hex) == 0,
	    "a signature binds the order and the payment");
}

static void
test_months(void)
{
	ok(months_is("2026-01-31T10:00:00.000Z", 1, "2026-02-28T10:00:00.000Z"),
	    "Jan 31 + 1 month = Feb 28");
	ok(months_is("2024-01-31T10:00:00.000Z", 1, "2024-02-29T10:00:00.000Z"),
	    "in a leap year, Feb 29");
	ok(months_is("2026-03-31T23:59:59.999Z", 1, "2026-04-30T23:59:59.999Z"),
	    "Mar 31 + 1 = Apr 30, time and milliseconds kept");
	ok(months_is("2026-12-15T00:00:00.000Z", 1, "2027-01-15T00:00:00.000Z"),
	    "over the year end");
	ok(months_is("2026-01-31T10:00:00.000Z", 3, "2026-04-30T10:00:00.000Z"),
	    "3 months");
	ok(months_is("2026-01-31T10:00:00.000Z", 6, "2026-07-31T10:00:00.000Z"),
	    "6 months");
	ok(months_is("2026-01-31T10:00:00.000Z", 12, "2027-01-31T10:00:00.000Z"),
	    "12 months");
	ok(months_is("2024-02-29T00:00:00.000Z", 12, "2025-02-28T00:00:00.000Z"),
	    "Feb 29 + 12 months = Feb 28");
	ok(months_is("2026-05-31T00:00:00.000Z", 0, "2026-05-31T00:00:00.000Z"),
	    "0 months changes nothing");
	ok(months_is("2026-03-31T00:00:00.000Z", -1, "2026-02-28T00:00:00.000Z"),
	    "-1 month clamps too");
	ok(months_is("2026-01-01T00:00:00.000Z", 120, "2036-01-01T00:00:00.000Z"),
	    "120 months");
}

static struct msp_pay_conf *
conf(const char *dir)
{
	struct msp_pay_conf *c = NULL;
	struct msp_err e;

	if (msp_pay_conf_load(&c, NULL, NULL, dir, &e) != 0)
		printf("# conf: %s\n", e.msg);
	return c;
}

static int
plans_err(struct msp_pay_conf *c, const char *text, const char *want)
{
	struct msp_err e;
	int rc;

	msp_err_clear(&e);
	rc = msp_pay_plans_read(c, text, strlen(text), "p.jsonl", &e);
	if (rc == 0 || strcmp(e.msg, want) != 0)
		printf("# got %d '%s', want '%s'\n", rc, e.msg, want);
	return rc == MSP_EINVAL && strcmp(e.msg, want) == 0;
}

static void
test_plans(const char *dir)
{
	struct msp_pay_conf *c = conf(dir);
	struct msp_err e;
	long long amount = 0;
	json_object *a;
	const char *good = "{\"months\":2,\"amount\":15000}\n\n"
	    "{\"type\":\"plan\",\"v\":1,\"months\":24,\"amount\":150000,"
	    "\"currency\":\"INR\"}\n";

	ok(c != NULL, "configuration loads with no file and no keys");
	if (c == NULL)
		return;
	ok(msp_pay_plan_amount(c, 1, &amount, &e) == 0 && amount == 9900,
	    "default: 1 month is 9900 paise");
	ok(msp_pay_plan_amount(c, 12, &amount, &e) == 0 && amount == 89900,
	    "default: 12 months are 89900 paise");
	ok(msp_pay_plan_amount(c, 5, &amount, &e) == MSP_EINVAL &&
	    strcmp(e.msg, "5 months: no such plan (plans: 1, 3, 6, 12 "
	    "months)") == 0, "unknown plan names the plans offered");
	a = msp_pay_plans_json(c);
	ok(a != NULL && json_object_array_length(a) == 4, "four default plans");
	json_object_put(a);
	ok(msp_pay_plans_read(c, good, strlen(good), "p.jsonl", &e) == 0,
	    "a plans file with a blank line and optional fields");
	ok(msp_pay_plan_amount(c, 24, &amount, &e) == 0 && amount == 150000 &&
	    msp_pay_plan_amount(c, 1, &amount, &e) == MSP_EINVAL,
	    "the file's plans replace the defaults");
	ok(plans_err(c, "{\"months\":2}\n", "p.jsonl:1: field 'amount': "
	    "required"), "missing amount");
	ok(plans_err(c, "{\"months\":2,\"amount\":99}\n", "p.jsonl:1: field "
	    "'amount': 99 is out of range 100 to 10000000000"),
	    "less than 1 INR");
	ok(plans_err(c, "{\"months\":0,\"amount\":100}\n", "p.jsonl:1: field "
	    "'months': 0 is out of range 1 to 120"), "0 months");
	ok(plans_err(c, "{\"months\":1,\"amount\":1.5}\n", "p.jsonl:1: field "
	    "'amount': expected an integer, got a fraction"), "a fraction");
	ok(plans_err(c, "{\"months\":1,\"amount\":100,\"currency\":\"USD\"}\n",
	    "p.jsonl:1: field 'currency': only INR is supported"),
	    "another currency");
	ok(plans_err(c, "{\"months\":1,\"amount\":100}\n{\"months\":1,"
	    "\"amount\":200}\n", "p.jsonl:2: a plan for 1 months is already "
	    "listed"), "a duplicate plan");
	ok(plans_err(c, "{\"type\":\"order\",\"months\":1,\"amount\":100}\n",
	    "p.jsonl:1: field 'type': expected \"plan\", got \"order\""),
	    "another record type");
	ok(plans_err(c, "[1]\n", "p.jsonl:1: not a JSON object"),
	    "not an object");
	ok(plans_err(c, "\n\n", "p.jsonl: no plans"), "no plans");
	ok(plans_err(c, "", "p.jsonl: no plans"), "an empty file");
	ok(msp_pay_plan_amount(c, 24, &amount, &e) == 0 && amount == 150000,
	    "a refused file leaves the plans as they were");
	ok(msp_pay_key_id(c) == NULL, "no key id configured");
	msp_pay_conf_free(c);
}

static void
test_conf(const char *dir)
{
	struct msp_pay_conf *c = NULL;
	struct msp_err e;
	char *path = msp_path_join(dir, "pay.conf");
	FILE *f = fopen(path, "w");
	char want[1200];
	int rc;

	fputs("# comment\n\n  key_id = rzp_test_x  \nkey_secret=s3cr3t\n", f);
	fclose(f);
	chmod(path, 0644);
	rc = msp_pay_conf_load(&c, NULL, NULL, dir, &e);
	snprintf(want, sizeof(want), "%s: refused: group or others may "
	    "access it (mode 0644); chmod 600 it", path);
	ok(rc == MSP_EPERM && strcmp(e.msg, want) == 0,
	    "a config file others may read is refused");
	chmod(path, 0600);
	rc = msp_pay_conf_load(&c, NULL, NULL, dir, &e);
	ok(rc == 0 && c != NULL && strcmp(msp_pay_key_id(c), "rzp_test_x") ==
	    0, "a private config file is read, values trimmed");
	msp_pay_conf_free(c);
	c = NULL;
	setenv("MSP_RAZORPAY_KEY_ID", "rzp_env", 1);
	rc = msp_pay_conf_load(&c, path, NULL, NULL, &e);
	ok(rc == 0 && strcmp(msp_pay_key_id(c), "rzp_env") == 0,
	    "the environment wins over the file");
	msp_pay_conf_free(c);
	c = NULL;
	unsetenv("MSP_RAZORPAY_KEY_ID");
	setenv("MSP_RAZORPAY_TIMEOUT_MS", "5", 1);
	rc = msp_pay_conf_load(&c, path, NULL, NULL, &e);
	ok(rc == MSP_EINVAL && strcmp(e.msg, "MSP_RAZORPAY_TIMEOUT_MS: "
	    "expected a whole number from 100 to 600000") == 0,
	    "a timeout out of range is refused");
	unsetenv("MSP_RAZORPAY_TIMEOUT_MS");
	f = fopen(path, "w");
	fputs("key_secret s3cr3t\n", f);
	fclose(f);
	rc = msp_pay_conf_load(&c, path, NULL, NULL, &e);
	snprintf(want, sizeof(want), "%s:1: expected 'name = value'", path);
	ok(rc == MSP_EINVAL && strcmp(e.msg, want) == 0 &&
	    strstr(e.msg, "s3cr3t") == NULL,
	    "a bad line is named without its value");
	f = fopen(path, "w");
	fputs("url = http://example.com\n", f);
	fclose(f);
	rc = msp_pay_conf_load(&c, path, NULL, NULL, &e);
	ok(rc == MSP_EINVAL, "plain http to another machine is refused");
	f = fopen(path, "w");
	fputs("url = http://127.0.0.1:9/\n", f);
	fclose(f);
	rc = msp_pay_conf_load(&c, path, NULL, NULL, &e);
	ok(rc == 0, "plain http to loopback is allowed (test gateways)");
	msp_pay_conf_free(c);
	unlink(path);
	free(path);
}

static int
put_sub(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct msp_store *st = arg;
	const char *rec = "{\"type\":\"subscription\",\"v\":1,\"user\":"
	    "\"ann@example.com\",\"subscriptionStartTimestamp\":1000,"
	    "\"subscriptionEndTimestamp\":5000}";
	json_object *o = json_tokener_parse(rec);
	int rc = msp_pay_import_subscription(st, t, o, e);

	json_object_put(o);
	return rc;
}

static void
test_active(const char *dir)
{
	struct msp_store *st;
	struct msp_err e;
	int64_t end = -1;
	char *sdir = msp_path_join(dir, "store");

	if (msp_store_open(&st, sdir, 0, &e) != 0) {
		ok(0, "store opens: %s", e.msg);
		free(sdir);
		return;
	}
	ok(msp_pay_active(st, NULL, "ann@example.com", 2000, &end, &e) == 0 &&
	    end == 0, "no subscription: not active, end 0");
	ok(msp_store_write(st, put_sub, st, &e) == 0, "import a subscription");
	ok(msp_pay_active(st, NULL, "Ann@Example.com", 4999, &end, &e) == 1 &&
	    end == 5000, "active before its end (email normalised)");
	ok(msp_pay_active(st, NULL, "ann@example.com", 5000, &end, &e) == 0 &&
	    end == 5000, "not active at its end");
	ok(msp_pay_active(st, NULL, "not-an-email", 0, NULL, &e) == MSP_EINVAL,
	    "a bad email is an error");
	msp_store_close(st);
	free(sdir);
}

static int
put_order(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct msp_store *st = arg;
	char id[MSP_ID_LEN + 1], rec[512];
	json_object *o;
	int rc;

	msp_id_new(id);
	snprintf(rec, sizeof(rec), "{\"type\":\"order\",\"v\":1,\"id\":\"%s\","
	    "\"user\":\"ann@example.com\",\"months\":1,\"amount\":9900,"
	    "\"currency\":\"INR\",\"status\":\"created\","
	    "\"razorpayOrderId\":\"order_Unit0000000001\"}", id);
	o = json_tokener_parse(rec);
	rc = msp_pay_import_order(st, t, o, e);
	json_object_put(o);
	return rc;
}

static int
break_index(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct msp_store *st = arg;
	char k[] = "r\0order_Unit0000000001";

	return msp_db_del(st, t, MSP_DB_ORDER_IDX, k, sizeof(k) - 1, e);
}

static void
report(const char *msg, void *arg)
{
	(void)arg;
	printf("# check: %s\n", msg);
}

static void
test_check(const char *dir)
{
	struct msp_store *st;
	struct msp_err e;
	MDB_txn *t;
	char *sdir = msp_path_join(dir, "store2");
	int n = -1;

	if (msp_store_open(&st, sdir, 0, &e) != 0) {
		ok(0, "store opens: %s", e.msg);
		free(sdir);
		return;
	}
	ok(msp_store_write(st, put_order, st, &e) == 0, "import an order");
	msp_txn_begin(st, 0, &t, &e);
	n = msp_pay_check(st, t, report, NULL, &e);
	msp_txn_abort(st, t);
	ok(n == 0, "its index agrees");
	ok(msp_store_write(st, break_index, st, &e) == 0, "lose an entry");
	msp_txn_begin(st, 0, &t, &e);
	n = msp_pay_check(st, t, report, NULL, &e);
	msp_txn_abort(st, t);
	ok(n == 1, "the checker finds the missing entry");
	msp_store_close(st);
	free(sdir);
}

int
main(void)
{
	char dir[] = "/tmp/test_pay.XXXXXX";
	char cmd[64];

	if (mkdtemp(dir) == NULL)
		return 3;
	unsetenv("MSP_RAZORPAY_KEY_ID");
	unsetenv("MSP_RAZORPAY_KEY_SECRET");
	unsetenv("MSP_RAZORPAY_WEBHOOK_SECRET");
	unsetenv("MSP_RAZORPAY_URL");
	unsetenv("MSP_RAZORPAY_TIMEOUT_MS");
	unsetenv("MSP_RAZORPAY_RETRIES");
	test_signatures();
	test_months();
	test_plans(dir);
	test_conf(dir);
	test_active(dir);
	test_check(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 3;
	done_testing();
}
