/* lib/queue's URLs and the settings of a dispatcher or worker
 * (lib/workers.c): what is taken, what is refused and why, and that a
 * password never shows. Nothing is connected. */
#include <string.h>

#include "dispatch.h"
#include "queue.h"
#include "tap.h"

static int
opens(const char *url, const char *password, const char *ca,
    const char *want_where, const char *want_err)
{
	struct msp_queue_conf c;
	struct msp_queue *q = NULL;
	struct msp_err e = { 0 };
	int rc, good;

	memset(&c, 0, sizeof(c));
	c.url = url;
	c.password = password;
	c.ca = ca;
	rc = msp_queue_open(&q, &c, &e);
	if (want_err != NULL)
		good = rc == MSP_EINVAL && strncmp(e.msg, want_err,
		    strlen(want_err)) == 0;
	else
		good = rc == 0 && strcmp(msp_queue_where(q), want_where) == 0 &&
		    (password == NULL || strstr(msp_queue_where(q), password) ==
		    NULL);
	if (!good)
		printf("# %s: rc %d, %s, where %s\n", url, rc, e.msg,
		    q ? msp_queue_where(q) : "-");
	msp_queue_close(q);
	return good;
}

int
main(void)
{
	struct msp_run_conf c;
	struct msp_run_opts r;
	struct msp_tc_opts tc;
	struct msp_err e = { 0 };

	ok(opens("redis://h", NULL, NULL, "redis://h:6379/0", NULL),
	    "host alone: port 6379, db 0");
	ok(opens("redis://:pw@h:7000/3", NULL, NULL, "redis://h:7000/3", NULL),
	    "password in the URL, not in the name for messages");
	ok(opens("redis://u:pw@h/1", "other", NULL, "redis://h:6379/1", NULL),
	    "user and password");
	ok(opens("redis://[::1]:7000/0", NULL, NULL, "redis://[::1]:7000/0",
	    NULL), "IPv6 address");
	ok(opens("rediss://h:6380/0", NULL, NULL, "rediss://h:6380/0", NULL),
	    "TLS with the system's CAs");
	ok(opens("http://h/", NULL, NULL, NULL, "not a redis://"),
	    "another scheme");
	ok(opens("redis://h:0/0", NULL, NULL, NULL, "port '0': not a port"),
	    "port 0");
	ok(opens("redis://h/x", NULL, NULL, NULL, "database 'x': not a number"),
	    "database");
	ok(opens("redis://h/0", NULL, "ca.pem", NULL, "a CA, certificate or "
	    "key file is for TLS"), "TLS files without TLS");
	ok(opens("rediss://h/0", NULL, "/nonexistent/ca.pem", NULL,
	    "CA file '/nonexistent/ca.pem': No such file"), "a CA file missing");

	msp_tc_opts_init(&tc);
	msp_run_conf_init(&c, &tc);
	ok(msp_run_conf_check(&c, &e) == 0, "no Redis, no TLS files: fine");
	c.q.ca = "ca.pem";
	ok(msp_run_conf_check(&c, &e) == MSP_EINVAL, "TLS files, no URL: %s",
	    e.msg);
	c.q.ca = NULL;
	ok(c.lease == MSP_RUN_LEASE && c.d.chunk == MSP_RUN_CHUNK &&
	    c.d.attempts == MSP_DISPATCH_ATTEMPTS && c.d.tc == &tc, "defaults");
	ok(msp_run_conf_set(&c, "lease", "20", &e) == 0 && c.lease == 20,
	    "--lease");
	ok(msp_run_conf_set(&c, "lease", "0", &e) == MSP_EINVAL &&
	    strcmp(e.msg, "'0': expected seconds from 1 to 86400") == 0,
	    "--lease 0: %s", e.msg);
	ok(msp_run_conf_set(&c, "chunk", "0", &e) == 0 && c.d.chunk == 0,
	    "--chunk 0: whole");
	ok(msp_run_conf_set(&c, "chunk", "0.5", &e) == MSP_EINVAL,
	    "--chunk 0.5: %s", e.msg);
	ok(msp_run_conf_set(&c, "attempts", "101", &e) == MSP_EINVAL,
	    "--attempts 101: %s", e.msg);
	ok(msp_run_conf_set(&c, "name", "", &e) == MSP_EINVAL, "--name ''");
	ok(msp_run_conf_set(&c, "dispatch", "rediss://h/0", &e) == 0 &&
	    strcmp(c.q.url, "rediss://h/0") == 0, "--dispatch");
	ok(msp_run_conf_set(&c, "worker", "h:6379", &e) == MSP_EINVAL,
	    "--worker h:6379: %s", e.msg);
	ok(msp_run_conf_set(&c, "redis-ca", "ca.pem", &e) == 0 &&
	    msp_run_conf_set(&c, "redis-cert", "c.pem", &e) == 0 &&
	    msp_run_conf_set(&c, "redis-key", "k.pem", &e) == 0 &&
	    strcmp(c.q.ca, "ca.pem") == 0 && strcmp(c.q.cert, "c.pem") == 0 &&
	    strcmp(c.q.key, "k.pem") == 0, "TLS files");
	ok(msp_run_conf_set(&c, "ladder", "x", &e) == MSP_ENOTFOUND,
	    "not one of its options");
	msp_run_opts_init(&r, &c, "dispatch");
	ok(r.lease_ms == 20000 && r.poll_ms == 2000 &&
	    strcmp(r.name, "dispatch") == 0, "run options from the settings");
	c.lease = 4;
	msp_run_opts_init(&r, &c, "w");
	ok(r.poll_ms == 1000, "a short lease polls more often");
	done_testing();
}
