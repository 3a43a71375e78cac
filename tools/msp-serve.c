/* msp-serve: the HTTP API, protected HLS delivery and the web front. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "blob.h"
#include "cli.h"
#include "dispatch.h"
#include "hls.h"
#include "http/http.h"
#include "media.h"
#include "pay.h"
#include "search.h"
#include "store.h"
#include "util.h"

enum {
	O_MAXCONN = 256, O_PERIP, O_IDLE, O_REQTIME, O_MAXHEAD, O_MAXBODY,
	O_MAXUP, O_SESSTTL, O_URLTTL, O_CORS, O_WEB, O_LOG, O_WORKERS,
	O_LADDER, O_GRACE, O_SECURE, O_SIGN, O_PASSWD, O_PAYCONF, O_MEDIAORIGIN,
	O_LIMIT, O_HASHTH, O_HASHQ, O_MINRATE, O_MAXUPS, O_LFAILS, O_LFAILSIP,
	O_LFAILSACC,
	O_UPQUOTA, O_UPTTL, O_DELIVERY, O_DISPATCH, O_ATTEMPTS, O_CHUNK,
	O_LEASE, O_RCA, O_RCERT, O_RKEY, O_FILEBUF
};

static const struct msp_opt opts[] = {
	{ "store", 's', "DIR", "the store (default $MSP_STORE, ./msp-store)" },
	{ "listen", 'l', "ADDR", "HOST:PORT to listen on (127.0.0.1:8080)" },
	{ "threads", 't', "N", "request threads (4)" },
	{ "workers", O_WORKERS, "N", "transcode worker threads (1; 0: none)" },
	{ "ladder", O_LADDER, "SPEC", "rungs the workers make (see msp-transcode)" },
	{ "dispatch", O_DISPATCH, "URL", "push queued jobs to workers over Redis at redis[s]://HOST:PORT/DB (--workers then defaults to 0)" },
	{ "attempts", O_ATTEMPTS, "N", "--dispatch: tries of a job before it fails (3)" },
	{ "chunk", O_CHUNK, "SECONDS", "--dispatch: long videos in chunks of about SECONDS (90; 0: whole)" },
	{ "lease", O_LEASE, "SECONDS", "--dispatch: a worker's claim lasts this long without word from it (60)" },
	{ "redis-ca", O_RCA, "FILE", "rediss://: the CA of the server's certificate (default: the system's)" },
	{ "redis-cert", O_RCERT, "FILE", "rediss://: a client certificate (PEM)" },
	{ "redis-key", O_RKEY, "FILE", "rediss://: its key (PEM)" },
	{ "max-connections", O_MAXCONN, "N", "open connections at most (1024)" },
	{ "per-ip", O_PERIP, "N", "open connections per client address (256)" },
	{ "idle-timeout", O_IDLE, "SECS", "close idle connections after (30)" },
	{ "request-timeout", O_REQTIME, "SECS", "time for a request head and JSON body (10)" },
	{ "max-header", O_MAXHEAD, "BYTES", "size of a request head (16384)" },
	{ "max-body", O_MAXBODY, "BYTES", "size of a JSON body (65536)" },
	{ "max-upload", O_MAXUP, "BYTES", "size of an uploaded file (2147483648)" },
	{ "max-uploads", O_MAXUPS, "N", "uploads at a time (64)" },
	{ "min-rate", O_MINRATE, "BYTES", "slowest upload, bytes a second (4096)" },
	{ "hash-threads", O_HASHTH, "N", "password hashing threads (2)" },
	{ "hash-queue", O_HASHQ, "N", "sign-ins waiting for one, at most (16)" },
	{ "login-fails", O_LFAILS, "N", "failures from an address to an account before a lock (5)" },
	{ "login-fails-ip", O_LFAILSIP, "N", "failures from an address in 15 min before a lock (20)" },
	{ "login-fails-account", O_LFAILSACC, "N", "failures to an account before only known clients may try (100)" },
	{ "upload-quota", O_UPQUOTA, "N", "unfinished resumable uploads a user may have (4)" },
	{ "upload-ttl", O_UPTTL, "SECS", "time a resumable upload may take (86400)" },
	{ "limit", O_LIMIT, "NAME=VALUE", "a media limit of uploads (see msp-ingest)" },
	{ "session-ttl", O_SESSTTL, "SECS", "lifetime of a session (1209600)" },
	{ "url-ttl", O_URLTTL, "SECS", "lifetime of a signed media URL (300)" },
	{ "media-delivery", O_DELIVERY, "MODE", "media in a bucket: proxy (default) or redirect" },
	{ "cors", O_CORS, "ORIGIN", "allow this origin (repeatable; none: same-origin)" },
	{ "web", O_WEB, "DIR", "the web front's files (./web)" },
	{ "media-origin", O_MEDIAORIGIN, "ORIGIN", "another origin media comes from (a bucket)" },
	{ "file-buffers", O_FILEBUF, "BYTES", "memory for a cache of files sent whole, head and body in one write (134217728; 0: none, sendfile)" },
	{ "access-log", O_LOG, "FILE", "combined log to FILE (default stderr; - stdout)" },
	{ "grace", O_GRACE, "SECS", "on SIGTERM, time for requests to finish (10)" },
	{ "pay-config", O_PAYCONF, "FILE", "Razorpay settings (default STORE/pay.conf; see msp-pay)" },
	{ "secure-cookie", O_SECURE, NULL, "mark the session cookie Secure (behind TLS)" },
	{ "sign", O_SIGN, "VIDEO", "print a signed URL path for VIDEO and exit" },
	{ "passwd", O_PASSWD, "EMAIL", "set EMAIL's password from stdin and exit" },
	{ "help", 'h', NULL, "show this help" },
	{ "version", 'V', NULL, "show the version" },
	{ NULL, 0, NULL, NULL }
};

static const struct msp_cli cli = {
	"msp-serve",
	"[-s DIR] [-l HOST:PORT] [options]\n--sign VIDEO [--url-ttl SECS]\n"
	    "--passwd EMAIL < password",
	opts
};

static void
say_line(void *arg, const char *msg)
{
	(void)arg;
	msp_warn("%s", msg);
}

static long long
num(const char *opt, const char *v, long long min, long long max)
{
	long long n;

	if (msp_parse_int(v, min, max, &n) != 0)
		msp_cli_usage_error("--%s: '%s' is not a number from %lld to "
		    "%lld", opt, v, min, max);
	return n;
}

int
main(int argc, char **argv)
{
	struct msp_http_conf c;
	struct msp_http *h = NULL;
	struct msp_store *st = NULL;
	struct msp_err e;
	const char **cors = NULL;
	const char *store = NULL, *logpath = NULL, *sign = NULL,
	    *passwd = NULL, *payconf = NULL;
	struct msp_pay_conf *pay = NULL;
	struct msp_blob *media;
	struct msp_tc_opts tc;
	struct msp_run_conf run;
	struct msp_dispatcher *disp = NULL;
	size_t ncors = 0;
	int k, rc, workers_set = 0;

	msp_cli_init(&cli);
	msp_http_conf_default(&c);
	c.web_dir = "web";
	msp_tc_opts_init(&tc);
	msp_run_conf_init(&run, &tc);
	if ((cors = calloc((size_t)argc + 1, sizeof(*cors))) == NULL)
		msp_die(3, "out of memory");
	while ((k = msp_cli_getopt(&cli, argc, argv)) != -1) {
		switch (k) {
		case 's': store = optarg; break;
		case 'l': c.listen = optarg; break;
		case 't': c.threads = (unsigned)num("threads", optarg, 1, 256); break;
		case O_WORKERS:
			c.workers = (unsigned)num("workers", optarg, 0, 64);
			workers_set = 1;
			break;
		case O_DISPATCH: case O_ATTEMPTS: case O_CHUNK: case O_LEASE:
		case O_RCA: case O_RCERT: case O_RKEY:
			/* as msp-transcode --dispatch takes them */
			if (msp_run_conf_set(&run, msp_cli_optname(&cli, k),
			    optarg, &e) != 0)
				msp_cli_usage_error("--%s: %s",
				    msp_cli_optname(&cli, k), e.msg);
			break;
		case O_LADDER: c.ladder = optarg; break;
		case O_MAXCONN: c.max_conns = (unsigned)num("max-connections", optarg, 1, 1000000); break;
		case O_PERIP: c.per_ip = (unsigned)num("per-ip", optarg, 1, 1000000); break;
		case O_IDLE: c.idle_timeout = (unsigned)num("idle-timeout", optarg, 1, 86400); break;
		case O_REQTIME: c.request_timeout = (unsigned)num("request-timeout", optarg, 1, 86400); break;
		case O_MAXHEAD: c.header_max = (size_t)num("max-header", optarg, 1024, 1 << 24); break;
		case O_MAXBODY: c.body_max = (size_t)num("max-body", optarg, 16, 1 << 30); break;
		case O_MAXUP: c.upload_max = num("max-upload", optarg, 1, LLONG_MAX / 2); break;
		case O_MAXUPS: c.max_uploads = (unsigned)num("max-uploads", optarg, 1, 1000000); break;
		case O_MINRATE: c.min_rate = (unsigned)num("min-rate", optarg, 0, 1 << 30); break;
		case O_FILEBUF: c.file_buffers = (size_t)num("file-buffers", optarg, 0, 1LL << 40); break;
		case O_HASHTH: c.hash_threads = (unsigned)num("hash-threads", optarg, 1, 256); break;
		case O_HASHQ: c.hash_queue = (unsigned)num("hash-queue", optarg, 0, 100000); break;
		case O_LFAILS: c.login_fails = (unsigned)num("login-fails", optarg, 1, 1000000); break;
		case O_LFAILSIP: c.login_fails_ip = (unsigned)num("login-fails-ip", optarg, 1, 1000000); break;
		case O_LFAILSACC: c.login_fails_account = (unsigned)num("login-fails-account", optarg, 1, 1000000); break;
		case O_UPQUOTA: c.upload_quota = (long)num("upload-quota", optarg, 1, 1000000); break;
		case O_UPTTL: c.upload_ttl = (long)num("upload-ttl", optarg, 0, 365L * 86400); break;
		case O_LIMIT:
			if (msp_media_limit_set(optarg, &e) != 0)
				msp_cli_usage_error("--limit: %s", e.msg);
			break;
		case O_SESSTTL: c.session_ttl = (long)num("session-ttl", optarg, 1, 10L * 365 * 86400); break;
		case O_URLTTL: c.url_ttl = (long)num("url-ttl", optarg, 0, 10L * 365 * 86400); break;
		case O_CORS:
			if (strcmp(optarg, "*") == 0 || strncmp(optarg, "http", 4) != 0 ||
			    strchr(optarg + 8, '/') != NULL)
				msp_cli_usage_error("--cors: '%s' is not an origin "
				    "(scheme://host[:port])", optarg);
			cors[ncors++] = optarg;
			break;
		case O_WEB: c.web_dir = optarg; break;
		case O_DELIVERY:
			if (strcmp(optarg, "proxy") == 0)
				c.media_redirect = 0;
			else if (strcmp(optarg, "redirect") == 0)
				c.media_redirect = 1;
			else
				msp_cli_usage_error("--media-delivery: '%s' is "
				    "not proxy or redirect", optarg);
			break;
		case O_MEDIAORIGIN:
			if (msp_http_origin_check(optarg) != 0)
				msp_cli_usage_error("--media-origin: '%s' is not "
				    "an origin (https://HOST[:PORT])", optarg);
			c.media_origin = optarg;
			break;
		case O_LOG: logpath = optarg; break;
		case O_GRACE: c.grace = (unsigned)num("grace", optarg, 0, 3600); break;
		case O_SECURE: c.secure_cookie = 1; break;
		case O_SIGN: sign = optarg; break;
		case O_PASSWD: passwd = optarg; break;
		case O_PAYCONF: payconf = optarg; break;
		default: msp_cli_usage_error("unexpected option");
		}
	}
	if (optind < argc)
		msp_cli_usage_error("unexpected argument '%s'", argv[optind]);
	c.cors = cors;
	if (c.ladder != NULL && msp_hls_ladder_parse(c.ladder, &tc.ladder, &e))
		msp_cli_usage_error("--ladder: %s", e.msg);
	if (msp_run_conf_check(&run, &e) != 0)
		msp_cli_usage_error("%s", e.msg);
	if (run.q.url != NULL && !workers_set)
		c.workers = 0; /* the workers are elsewhere */

	if ((rc = msp_store_open(&st, store, sign || passwd ?
	    MSP_STORE_EXISTING : 0, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	if (sign != NULL) {
		char *tok;
		if ((rc = msp_auth_url_sign(st, sign, c.url_ttl, &tok, &e)) != 0)
			msp_die(msp_err_exit(rc), "%s", e.msg);
		printf("/hls/%s/%s/\n", sign, tok);
		free(tok);
		msp_store_close(st);
		free(cors);
		msp_cli_exit(0);
	}
	if (passwd != NULL) {
		char *line = NULL;
		size_t cap = 0;
		if (!msp_cli_readline(&line, &cap))
			msp_die(1, "%s: no password on stdin", passwd);
		rc = msp_auth_passwd(st, passwd, line, &e);
		free(line);
		if (rc != 0)
			msp_die(msp_err_exit(rc), "%s: %s", passwd, e.msg);
		msp_store_close(st);
		free(cors);
		msp_cli_exit(0);
	}
	if (logpath == NULL)
		c.access_log = stderr;
	else if (strcmp(logpath, "-") == 0)
		c.access_log = stdout;
	else if ((c.access_log = fopen(logpath, "a")) == NULL)
		msp_die(3, "%s: cannot open the access log", logpath);

	/* the media (a bucket is checked now, not at the first request) */
	if ((rc = msp_blob_store(st, &media, &e)) != 0)
		msp_die(3, "%s", e.msg);
	if ((rc = msp_pay_conf_load(&pay, payconf, NULL, msp_store_path(st),
	    &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	c.pay = pay;
	if (run.q.url != NULL) {
		run.q.password = getenv("MSP_REDIS_PASSWORD");
		if ((rc = msp_dispatcher_start(&disp, st, &run, say_line, NULL,
		    &e)) != 0)
			msp_die(rc == MSP_EINVAL ? 2 : msp_err_exit(rc),
			    "redis: %s", e.msg);
	}
	if ((rc = msp_search_upgrade(st, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	if ((rc = msp_http_start(&h, st, &c, &e)) != 0)
		msp_die(msp_err_exit(rc), "%s", e.msg);
	{
		json_object *o = json_object_new_object();
		json_object_object_add(o, "type",
		    json_object_new_string("listening"));
		json_object_object_add(o, "v", json_object_new_int(1));
		json_object_object_add(o, "listen",
		    json_object_new_string(c.listen));
		json_object_object_add(o, "port",
		    json_object_new_int((int)msp_http_port(h)));
		json_object_object_add(o, "store",
		    json_object_new_string(msp_store_path(st)));
		msp_cli_emit(o);
		json_object_put(o);
	}
	while (!msp_stop_requested()) {
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
	msp_http_stop(h);
	msp_dispatcher_stop(disp);
	msp_pay_conf_free(pay);
	msp_store_close(st);
	if (c.access_log != stderr && c.access_log != stdout)
		fclose(c.access_log);
	free(cors);
	msp_cli_exit(0);
}
