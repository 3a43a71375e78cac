/* msp-pay: premium subscriptions through Razorpay. See msp-pay(1). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonl.h"
#include "pay.h"
#include "util.h"

#define BODY_MAX (1024 * 1024) /* longest webhook body */

enum { O_SIGNATURE = 256, O_EVENT_ID, O_PAYMENT };

static const struct msp_opt opts[] = {
	{ "store", 's', "DIR", "the store (default $MSP_STORE or ./msp-store)" },
	{ "config", 'c', "FILE", "settings file (default STORE/pay.conf)" },
	{ "plans", 'p', "FILE", "plans, JSON Lines {\"months\",\"amount\"}" },
	{ "user", 'u', "EMAIL", "order, list: the user" },
	{ "months", 'm', "N", "order: months of the plan" },
	{ "order", 'o', "ID", "confirm: the Razorpay order id" },
	{ "payment", O_PAYMENT, "ID", "confirm: the Razorpay payment id" },
	{ "signature", O_SIGNATURE, "HEX", "confirm, webhook: the signature" },
	{ "event-id", O_EVENT_ID, "ID", "webhook: X-Razorpay-Event-Id" },
	{ "help", 'h', NULL, "show this help" },
	{ "version", 'V', NULL, "show the version" },
	{ NULL, 0, NULL, NULL }
};

static const struct msp_cli cli = {
	"msp-pay",
	"order --user EMAIL --months N\n"
	"confirm --order ID --payment ID --signature HEX\n"
	"webhook --signature HEX [--event-id ID] < BODY\n"
	"status EMAIL | list [--user EMAIL] | plans",
	opts
};

struct flags {
	const char *store, *config, *plans, *user, *months, *order, *payment;
	const char *signature, *event_id;
};

static void
need(const char *cmd, const char *what, const char *val)
{
	if (val == NULL)
		msp_cli_usage_error("%s: --%s is required", cmd, what);
}

/* Options a command does not use are mistakes, not silently ignored. */
static void
only(const char *cmd, const struct flags *f, const char *allowed)
{
	static const struct { const char *name; size_t off; } fl[] = {
		{ "user", offsetof(struct flags, user) },
		{ "months", offsetof(struct flags, months) },
		{ "order", offsetof(struct flags, order) },
		{ "payment", offsetof(struct flags, payment) },
		{ "signature", offsetof(struct flags, signature) },
		{ "event-id", offsetof(struct flags, event_id) },
	};
	size_t i;

	for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		const char *v = *(const char *const *)(const void *)
		    ((const char *)f + fl[i].off);
		if (v != NULL && strstr(allowed, fl[i].name) == NULL)
			msp_cli_usage_error("%s: --%s does not apply", cmd,
			    fl[i].name);
	}
}

static struct msp_store *
open_store(const struct flags *f)
{
	struct msp_store *st;
	struct msp_err e;
	int rc = msp_store_open(&st, f->store, MSP_STORE_EXISTING, &e);

	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	return st;
}

static struct msp_pay_conf *
load_conf(const struct flags *f)
{
	struct msp_pay_conf *c;
	struct msp_err e;
	int rc = msp_pay_conf_load(&c, f->config, f->plans, f->store, &e);

	if (rc != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	return c;
}

static int
emit_cb(json_object *o, void *arg, struct msp_err *e)
{
	(void)arg;
	(void)e;
	msp_cli_emit(o);
	return 0;
}

/* The webhook body exactly as it came, bytes and all. */
static char *
read_body(size_t *len)
{
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0, got;

	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 8192;
			if (cap > BODY_MAX + 1)
				cap = BODY_MAX + 1;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				msp_die(3, "out of memory");
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, stdin);
		n += got;
		if (n > BODY_MAX)
			msp_die(1, "<stdin>: webhook body larger than %d bytes",
			    BODY_MAX);
		if (got == 0) {
			if (ferror(stdin))
				msp_die(3, "<stdin>: %s", strerror(errno));
			break;
		}
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

int
main(int argc, char **argv)
{
	struct flags f;
	struct msp_store *st = NULL;
	struct msp_pay_conf *c = NULL;
	struct msp_err e;
	json_object *out = NULL;
	const char *cmd, *now;
	long long months = 0, ms;
	int k, rc = 0, status = 0;

	msp_cli_init(&cli);
	memset(&f, 0, sizeof(f));
	while ((k = msp_cli_getopt(&cli, argc, argv)) != -1) {
		switch (k) {
		case 's': f.store = optarg; break;
		case 'c': f.config = optarg; break;
		case 'p': f.plans = optarg; break;
		case 'u': f.user = optarg; break;
		case 'm': f.months = optarg; break;
		case 'o': f.order = optarg; break;
		case O_PAYMENT: f.payment = optarg; break;
		case O_SIGNATURE: f.signature = optarg; break;
		case O_EVENT_ID: f.event_id = optarg; break;
		default: msp_cli_usage_error("unexpected option");
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		msp_cli_usage_error("expected a command");
	cmd = argv[0];
	/* tests pin the clock */
	if ((now = getenv("MSP_NOW_MS")) != NULL && *now != '\0') {
		if (msp_parse_int(now, 1, LLONG_MAX, &ms) != 0)
			msp_die(2, "MSP_NOW_MS: expected milliseconds since "
			    "the epoch");
		msp_now_set(ms);
	}

	if (strcmp(cmd, "order") == 0) {
		only(cmd, &f, "user months");
		need(cmd, "user", f.user);
		need(cmd, "months", f.months);
		if (argc != 1)
			msp_cli_usage_error("order: takes no arguments");
		if (msp_parse_int(f.months, 1, MSP_PAY_MONTHS_MAX, &months) != 0)
			msp_cli_usage_error("--months: expected a number of "
			    "months from 1 to %d", MSP_PAY_MONTHS_MAX);
		c = load_conf(&f);
		st = open_store(&f);
		rc = msp_pay_order(st, c, f.user, (long)months, &out, &e);
	} else if (strcmp(cmd, "confirm") == 0) {
		only(cmd, &f, "order payment signature user");
		need(cmd, "order", f.order);
		need(cmd, "payment", f.payment);
		need(cmd, "signature", f.signature);
		if (argc != 1)
			msp_cli_usage_error("confirm: takes no arguments");
		c = load_conf(&f);
		st = open_store(&f);
		rc = msp_pay_confirm(st, c, f.user, f.order, f.payment,
		    f.signature, &out, &e);
		if (rc == MSP_PAY_REPLAYED)
			msp_warn("%s: already confirmed; nothing changed",
			    f.payment);
	} else if (strcmp(cmd, "webhook") == 0) {
		char *body;
		size_t len;

		only(cmd, &f, "signature event-id");
		need(cmd, "signature", f.signature);
		if (argc != 1)
			msp_cli_usage_error("webhook: reads the body from "
			    "standard input and takes no arguments");
		c = load_conf(&f);
		st = open_store(&f);
		body = read_body(&len);
		rc = msp_pay_webhook(st, c, body, len, f.signature, f.event_id,
		    &out, &e);
		free(body);
		if (rc == MSP_PAY_REPLAYED)
			msp_warn("%s: event already handled; nothing changed",
			    json_object_get_string(json_object_object_get(out,
			    "id")));
	} else if (strcmp(cmd, "status") == 0) {
		only(cmd, &f, "");
		if (argc != 2)
			msp_cli_usage_error("status: expected one email address");
		st = open_store(&f);
		rc = msp_pay_status(st, argv[1], msp_now_ms(), &out, &e);
		if (rc == 0 && !json_object_get_boolean(
		    json_object_object_get(out, "active")))
			status = 1;
	} else if (strcmp(cmd, "list") == 0) {
		only(cmd, &f, "user");
		if (argc != 1)
			msp_cli_usage_error("list: takes no arguments");
		st = open_store(&f);
		rc = msp_pay_list(st, f.user, emit_cb, NULL, &e);
	} else if (strcmp(cmd, "plans") == 0) {
		only(cmd, &f, "");
		if (argc != 1)
			msp_cli_usage_error("plans: takes no arguments");
		c = load_conf(&f);
		if ((out = msp_pay_plans_json(c)) == NULL)
			msp_die(3, "out of memory");
		for (size_t i = 0; i < json_object_array_length(out); i++)
			msp_cli_emit(json_object_array_get_idx(out, i));
		json_object_put(out);
		out = NULL;
	} else {
		msp_cli_usage_error("unknown command '%s'", cmd);
	}
	if (rc < 0) {
		msp_warn("%s", e.msg);
		status = msp_err_exit(rc);
	} else if (out != NULL) {
		msp_cli_emit(out);
	}
	json_object_put(out);
	msp_pay_conf_free(c);
	msp_store_close(st);
	msp_cli_exit(status);
}
