/* pay_gw: configuration, plans, signatures, calendar months and the
 * Razorpay REST client of lib/pay. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "conf.h"
#include "curlbuf.h"
#include "jsonl.h"
#include "pay_gw.h"
#include "util.h"

#define CONF_MAX (64 * 1024)      /* longest config file */
#define PLANS_MAX (1024 * 1024)   /* longest plans file */
#define ANSWER_MAX (1024 * 1024)  /* longest gateway answer kept */
#define DEFAULT_URL "https://api.razorpay.com"

static const struct msp_pay_plan default_plans[] = {
	{ 1, 9900 }, { 3, 28900 }, { 6, 56900 }, { 12, 89900 }
};

/* ---- pure helpers --------------------------------------------------- */

static int
days_in_month(long year, int mon) /* mon 0..11 */
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (mon == 1 && ((year % 4 == 0 && year % 100 != 0) ||
	    year % 400 == 0))
		return 29;
	return d[mon];
}

int64_t
msp_pay_add_months(int64_t ms, int months)
{
	int64_t secs = ms / 1000, rem = ms % 1000;
	struct tm tm;
	time_t t;
	long y, m;
	int dim;

	if (rem < 0) {
		rem += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (gmtime_r(&t, &tm) == NULL)
		return ms;
	y = tm.tm_year + 1900L;
	m = tm.tm_mon + (long)months;
	y += m / 12;
	m %= 12;
	if (m < 0) {
		m += 12;
		y--;
	}
	dim = days_in_month(y, (int)m);
	if (tm.tm_mday > dim)
		tm.tm_mday = dim;
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = (int)m;
	t = timegm(&tm);
	return (int64_t)t * 1000 + rem;
}

void
msp_pay_hmac_hex(const char *key, const void *msg, size_t n, char out[65])
{
	crypto_auth_hmacsha256_state s;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&s, (const unsigned char *)key,
	    strlen(key));
	crypto_auth_hmacsha256_update(&s, msg, n);
	crypto_auth_hmacsha256_final(&s, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
	sodium_memzero(&s, sizeof(s));
}

int
msp_pay_sig_ok(const char *key, const void *msg, size_t n, const char *sig)
{
	crypto_auth_hmacsha256_state s;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	unsigned char got[crypto_auth_hmacsha256_BYTES];
	size_t len = 0;
	const char *end = NULL;
	int ok;

	if (key == NULL || sig == NULL || strlen(sig) != 2 * sizeof(got))
		return 0;
	if (sodium_hex2bin(got, sizeof(got), sig, strlen(sig), NULL, &len,
	    &end) != 0 || len != sizeof(got) || end == NULL || *end != '\0')
		return 0;
	crypto_auth_hmacsha256_init(&s, (const unsigned char *)key,
	    strlen(key));
	crypto_auth_hmacsha256_update(&s, msg, n);
	crypto_auth_hmacsha256_final(&s, mac);
	ok = sodium_memcmp(mac, got, sizeof(mac)) == 0;
	sodium_memzero(&s, sizeof(s));
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

int
msp_pay_rzp_id_ok(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* ---- plans ---------------------------------------------------------- */

static int
plans_set_default(struct msp_pay_conf *c, struct msp_err *e)
{
	size_t n = sizeof(default_plans) / sizeof(default_plans[0]);
	struct msp_pay_plan *p = calloc(n, sizeof(*p));

	if (p == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	memcpy(p, default_plans, sizeof(default_plans));
	free(c->plans);
	c->plans = p;
	c->nplans = n;
	return 0;
}

int
msp_pay_plans_read(struct msp_pay_conf *c, const char *text, size_t len,
    const char *name, struct msp_err *e)
{
	struct msp_jsonl *r = NULL;
	struct msp_pay_plan *p = NULL, *np;
	json_object *o = NULL;
	const char *cur;
	long long months, amount;
	size_t n = 0, cap = 0, i;
	FILE *f = NULL;
	int rc;

	if (len == 0)
		return msp_err_set(e, MSP_EINVAL, "%s: no plans", name);
	if ((f = fmemopen((void *)text, len, "r")) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if ((rc = msp_jsonl_open(&r, f, name, e)) != 0)
		goto out;
	while ((rc = msp_jsonl_read(r, &o, e)) == 1) {
		if ((rc = msp_record_check(o, "plan", 0, e)) != 0 ||
		    (rc = msp_field_int(o, "months", 1, 1, MSP_PAY_MONTHS_MAX,
		    &months, e)) != 0 ||
		    (rc = msp_field_int(o, "amount", 1, 100, 10000000000LL,
		    &amount, e)) != 0)
			goto bad;
		rc = msp_field_str(o, "currency", 0, 8, 0, &cur, e);
		if (rc == 0 && strcmp(cur, MSP_PAY_CURRENCY) != 0) {
			rc = msp_err_set(e, MSP_EINVAL, "field 'currency': "
			    "only %s is supported", MSP_PAY_CURRENCY);
			goto bad;
		}
		if (rc != 0 && rc != MSP_ENOTFOUND)
			goto bad;
		for (i = 0; i < n; i++)
			if (p[i].months == months) {
				rc = msp_err_set(e, MSP_EINVAL, "a plan for %lld "
				    "months is already listed", months);
				goto bad;
			}
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			if ((np = realloc(p, cap * sizeof(*p))) == NULL) {
				rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
				goto out;
			}
			p = np;
		}
		p[n].months = (long)months;
		p[n].amount = amount;
		n++;
		json_object_put(o);
		o = NULL;
	}
	if (rc < 0)
		goto out;
	if (n == 0) {
		rc = msp_err_set(e, MSP_EINVAL, "%s: no plans", name);
		goto out;
	}
	free(c->plans);
	c->plans = p;
	c->nplans = n;
	p = NULL;
	rc = 0;
	goto out;
bad:
	msp_err_prefix(e, "%s", msp_jsonl_where(r));
out:
	json_object_put(o);
	msp_jsonl_close(r);
	if (f != NULL)
		fclose(f);
	free(p);
	return rc;
}

int
msp_pay_plan_amount(const struct msp_pay_conf *c, long months,
    long long *amount, struct msp_err *e)
{
	char list[256];
	size_t i, off = 0;

	for (i = 0; i < c->nplans; i++)
		if (c->plans[i].months == months) {
			*amount = c->plans[i].amount;
			return 0;
		}
	list[0] = '\0';
	for (i = 0; i < c->nplans && off < sizeof(list) - 16; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%ld",
		    i ? ", " : "", c->plans[i].months);
	return msp_err_set(e, MSP_EINVAL, "%ld months: no such plan (plans: "
	    "%s months)", months, list);
}

json_object *
msp_pay_plans_json(const struct msp_pay_conf *c)
{
	json_object *a = json_object_new_array(), *o;
	size_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < c->nplans; i++) {
		if ((o = json_object_new_object()) == NULL) {
			json_object_put(a);
			return NULL;
		}
		json_object_object_add(o, "type", json_object_new_string("plan"));
		json_object_object_add(o, "v", json_object_new_int(1));
		json_object_object_add(o, "months",
		    json_object_new_int64(c->plans[i].months));
		json_object_object_add(o, "amount",
		    json_object_new_int64(c->plans[i].amount));
		json_object_object_add(o, "currency",
		    json_object_new_string(MSP_PAY_CURRENCY));
		json_object_array_add(a, o);
	}
	return a;
}

/* ---- configuration -------------------------------------------------- */

static void
secret_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void
msp_pay_conf_free(struct msp_pay_conf *c)
{
	if (c == NULL)
		return;
	free(c->key_id);
	secret_free(c->key_secret);
	secret_free(c->webhook_secret);
	free(c->url);
	free(c->plans);
	free(c);
}

const char *
msp_pay_key_id(const struct msp_pay_conf *c)
{
	return c->key_id;
}

static int
set_str(char **dst, const char *v, size_t n, struct msp_err *e)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	memcpy(s, v, n);
	s[n] = '\0';
	secret_free(*dst);
	*dst = s;
	return 0;
}

static int
set_long(long *dst, const char *what, const char *v, long min, long max,
    struct msp_err *e)
{
	long long x;

	if (msp_parse_int(v, min, max, &x) != 0)
		return msp_err_set(e, MSP_EINVAL, "%s: expected a whole number "
		    "from %ld to %ld", what, min, max);
	*dst = (long)x;
	return 0;
}

/* One setting, by name, from the file (where = "file:line") or the
 * environment (where = the variable). Values are never put in messages:
 * they may be secrets. */
static int
conf_set(struct msp_pay_conf *c, char **plans, const char *name,
    const char *v, size_t vn, const char *where, struct msp_err *e)
{
	char num[32];
	long x = 0;
	int rc;

	if (strcmp(name, "key_id") == 0)
		return set_str(&c->key_id, v, vn, e);
	if (strcmp(name, "key_secret") == 0)
		return set_str(&c->key_secret, v, vn, e);
	if (strcmp(name, "webhook_secret") == 0)
		return set_str(&c->webhook_secret, v, vn, e);
	if (strcmp(name, "url") == 0)
		return set_str(&c->url, v, vn, e);
	if (strcmp(name, "plans") == 0)
		return set_str(plans, v, vn, e);
	if (strcmp(name, "timeout_ms") == 0 || strcmp(name, "retries") == 0) {
		if (vn >= sizeof(num))
			vn = sizeof(num) - 1;
		memcpy(num, v, vn);
		num[vn] = '\0';
		if (name[0] == 't')
			return set_long(&c->timeout_ms, where, num, 100,
			    600000, e);
		if ((rc = set_long(&x, where, num, 0, 10, e)) == 0)
			c->retries = (int)x;
		return rc;
	}
	return msp_err_set(e, MSP_EINVAL, "%s: unknown setting '%s'", where,
	    name);
}

struct conf_arg {
	struct msp_pay_conf *c;
	char **plans;
};

static int
conf_line(void *arg, const char *name, const char *v, size_t n,
    const char *where, struct msp_err *e)
{
	struct conf_arg *a = arg;

	return conf_set(a->c, a->plans, name, v, n, where, e);
}

static int
conf_env(struct msp_pay_conf *c, char **plans, struct msp_err *e)
{
	static const struct { const char *var, *name; } env[] = {
		{ "MSP_RAZORPAY_KEY_ID", "key_id" },
		{ "MSP_RAZORPAY_KEY_SECRET", "key_secret" },
		{ "MSP_RAZORPAY_WEBHOOK_SECRET", "webhook_secret" },
		{ "MSP_RAZORPAY_URL", "url" },
		{ "MSP_RAZORPAY_TIMEOUT_MS", "timeout_ms" },
		{ "MSP_RAZORPAY_RETRIES", "retries" },
	};
	const char *v;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		if ((v = getenv(env[i].var)) == NULL || *v == '\0')
			continue;
		if (msp_has_control(v, strlen(v), 0))
			return msp_err_set(e, MSP_EINVAL, "%s: control "
			    "characters in the value", env[i].var);
		if ((rc = conf_set(c, plans, env[i].name, v, strlen(v),
		    env[i].var, e)) != 0)
			return rc;
	}
	return 0;
}

/* https anywhere; plain http only to this machine (test gateways). */
static int
conf_url_check(struct msp_pay_conf *c, struct msp_err *e)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL;
	size_t n;
	int rc = 0;

	if (u == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, c->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = msp_err_set(e, MSP_EINVAL, "razorpay url: not a valid URL");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
		rc = msp_err_set(e, MSP_EINVAL, "razorpay url: must not hold "
		    "credentials or a query");
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && !(strcmp(scheme, "http") == 0 &&
	    (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
	    strcmp(host, "[::1]") == 0))) {
		rc = msp_err_set(e, MSP_EINVAL, "razorpay url: must be https "
		    "(plain http only to 127.0.0.1, ::1 or localhost)");
		goto out;
	}
	n = strlen(c->url);
	while (n > 0 && c->url[n - 1] == '/')
		c->url[--n] = '\0';
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A relative plans path in a config file is taken from the file's
 * directory. */
static char *
plans_path(const char *conf_file, const char *plans)
{
	const char *slash;

	if (conf_file == NULL || plans[0] == '/' ||
	    (slash = strrchr(conf_file, '/')) == NULL)
		return msp_strdup(plans);
	return msp_sprintf("%.*s/%s", (int)(slash - conf_file), conf_file,
	    plans);
}

int
msp_pay_conf_load(struct msp_pay_conf **out, const char *file,
    const char *plans, const char *store_dir, struct msp_err *e)
{
	struct msp_pay_conf *c;
	struct conf_arg ca;
	char *def = NULL, *text = NULL, *conf_plans = NULL, *pp = NULL;
	const char *used = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (sodium_init() < 0)
		return msp_err_set(e, MSP_ENOMEM, "libsodium failed to "
		    "initialise");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return msp_err_set(e, MSP_ENOMEM, "libcurl failed to "
		    "initialise");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	c->timeout_ms = 20000;
	c->retries = 2;
	if (file == NULL) {
		if (store_dir == NULL || *store_dir == '\0')
			store_dir = getenv("MSP_STORE");
		if (store_dir == NULL || *store_dir == '\0')
			store_dir = MSP_STORE_DEFAULT;
		if ((def = msp_path_join(store_dir, "pay.conf")) == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			goto fail;
		}
		rc = msp_conf_read(def, CONF_MAX, 1, &text, &len, e);
		if (rc == MSP_ENOTFOUND) {
			msp_err_clear(e);
			rc = 0;
		} else {
			used = def;
		}
	} else {
		rc = msp_conf_read(file, CONF_MAX, 1, &text, &len, e);
		used = file;
	}
	if (rc != 0)
		goto fail;
	ca.c = c;
	ca.plans = &conf_plans;
	if (text != NULL && (rc = msp_conf_parse(text, used, conf_line, &ca,
	    e)) != 0)
		goto fail;
	if ((rc = conf_env(c, &conf_plans, e)) != 0)
		goto fail;
	if (c->url == NULL && (c->url = msp_strdup(DEFAULT_URL)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = conf_url_check(c, e)) != 0)
		goto fail;
	c->connect_ms = c->timeout_ms < 10000 ? c->timeout_ms : 10000;
	if (plans == NULL && conf_plans != NULL) {
		if ((pp = plans_path(used, conf_plans)) == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			goto fail;
		}
		plans = pp;
	}
	if (plans != NULL) {
		char *pt = NULL;
		size_t pl = 0;

		if ((rc = msp_conf_read(plans, PLANS_MAX, 0, &pt, &pl, e)) != 0)
			goto fail;
		rc = msp_pay_plans_read(c, pt, pl, plans, e);
		free(pt);
		if (rc != 0)
			goto fail;
	} else if ((rc = plans_set_default(c, e)) != 0) {
		goto fail;
	}
	*out = c;
	rc = 0;
	goto out;
fail:
	msp_pay_conf_free(c);
out:
	if (text != NULL) {
		sodium_memzero(text, len);
		free(text);
	}
	free(def);
	free(conf_plans);
	free(pp);
	return rc;
}

/* ---- the REST client ------------------------------------------------ */


/* Printable ASCII of at most 160 characters from the gateway's text. */
static void
clean_text(char *dst, size_t cap, const char *s)
{
	size_t i, j = 0;

	for (i = 0; s[i] != '\0' && j + 1 < cap && j < 160; i++)
		dst[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[j] = '\0';
}

/* The error text of a gateway answer: error.description, else error.code. */
static void
answer_error(const struct msp_curlbuf *a, char *dst, size_t cap)
{
	json_object *o, *err, *x;

	snprintf(dst, cap, "no error description");
	if (a->p == NULL || (o = json_tokener_parse(a->p)) == NULL)
		return;
	if (json_object_object_get_ex(o, "error", &err) &&
	    json_object_is_type(err, json_type_object) &&
	    ((json_object_object_get_ex(err, "description", &x) &&
	    json_object_is_type(x, json_type_string)) ||
	    (json_object_object_get_ex(err, "code", &x) &&
	    json_object_is_type(x, json_type_string))))
		clean_text(dst, cap, json_object_get_string(x));
	json_object_put(o);
}

static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
msp_pay_gw_call(const struct msp_pay_conf *c, const char *method,
    const char *path, json_object *body, json_object **out,
    struct msp_err *e)
{
	struct curl_slist *hdr = NULL;
	struct msp_curlbuf a = { NULL, 0, ANSWER_MAX, 0 };
	const char *payload = NULL;
	char *url = NULL, text[200];
	CURLcode crc = CURLE_OK;
	json_tokener *tok;
	json_object *o;
	long status = 0;
	int attempt, rc;
	CURL *h = NULL;

	*out = NULL;
	if (c->key_id == NULL)
		return msp_err_set(e, MSP_EINVAL, "MSP_RAZORPAY_KEY_ID is not "
		    "set (environment or config file)");
	if (c->key_secret == NULL)
		return msp_err_set(e, MSP_EINVAL, "MSP_RAZORPAY_KEY_SECRET is "
		    "not set (environment or config file)");
	if ((url = msp_sprintf("%s%s", c->url, path)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if (body != NULL) {
		payload = msp_json_str_of(body, NULL);
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		if (payload == NULL || hdr == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (attempt = 1; ; attempt++) {
		if ((h = curl_easy_init()) == NULL) {
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
			goto out;
		}
		msp_curlbuf_reset(&a);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->key_id);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->key_secret);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "msp/" "0.1.0");
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, msp_curlbuf_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
		if (payload != NULL) {
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
		}
		crc = curl_easy_perform(h);
		status = 0;
		if (crc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(h);
		h = NULL;
		if (crc == CURLE_OK && status != 429 && status < 500)
			break;
		if (crc != CURLE_OK && !msp_curl_retryable(crc))
			break;
		if (attempt > c->retries)
			break;
		nap(100L << (attempt - 1));
	}
	if (crc != CURLE_OK) {
		if (a.over)
			rc = msp_err_set(e, MSP_ENET, "razorpay: %s %s: answer "
			    "larger than %d bytes", method, path, ANSWER_MAX);
		else if (crc == CURLE_OPERATION_TIMEDOUT)
			rc = msp_err_set(e, MSP_ENET, "razorpay: %s %s: no "
			    "answer within %ld ms (%d attempts)", method, path,
			    c->timeout_ms, attempt);
		else if (crc == CURLE_COULDNT_CONNECT)
			rc = msp_err_set(e, MSP_ENET, "razorpay: %s %s: cannot "
			    "connect (%d attempts)", method, path, attempt);
		else
			rc = msp_err_set(e, MSP_ENET, "razorpay: %s %s: %s "
			    "(%d attempts)", method, path,
			    curl_easy_strerror(crc), attempt);
		goto out;
	}
	if (status < 200 || status > 299) {
		answer_error(&a, text, sizeof(text));
		if (status == 400 || status == 404)
			rc = msp_err_set(e, MSP_EINVAL, "razorpay: %s %s: %s",
			    method, path, text);
		else if (status == 401 || status == 403)
			rc = msp_err_set(e, MSP_ENET, "razorpay: %s %s: HTTP "
			    "%ld: %s (check the key id and key secret)", method,
			    path, status, text);
		else if (status >= 500 || status == 429)
			rc = msp_err_set(e, MSP_ENET, "razorpay: %s %s: HTTP "
			    "%ld: %s (%d attempts)", method, path, status, text,
			    attempt);
		else
			rc = msp_err_set(e, MSP_ENET, "razorpay: %s %s: HTTP "
			    "%ld: %s", method, path, status, text);
		goto out;
	}
	if (a.p == NULL || (tok = json_tokener_new()) == NULL) {
		rc = msp_err_set(e, MSP_ENET, "razorpay: %s %s: malformed "
		    "answer (empty)", method, path);
		goto out;
	}
	o = json_tokener_parse_ex(tok, a.p, (int)a.n);
	if (o != NULL) { /* nothing but white space may follow */
		size_t i = json_tokener_get_parse_end(tok);
		while (i < a.n && isspace((unsigned char)a.p[i]))
			i++;
		if (i != a.n) {
			json_object_put(o);
			o = NULL;
		}
	}
	json_tokener_free(tok);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		rc = msp_err_set(e, MSP_ENET, "razorpay: %s %s: malformed "
		    "answer (not a JSON object)", method, path);
		goto out;
	}
	*out = o;
	rc = 0;
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	free(a.p);
	free(url);
	return rc;
}
