/* lib/throttle: client keys (IPv6 by /64) and the three limits. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "tap.h"
#include "throttle.h"
#include "util.h"

static void
key6(const char *addr, char out[MSP_THROTTLE_CLIENT])
{
	struct sockaddr_in6 a;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	inet_pton(AF_INET6, addr, &a.sin6_addr);
	msp_throttle_client((struct sockaddr *)&a, out);
}

int
main(void)
{
	struct msp_throttle_conf c = { 2, 5, 4, 60, 16 };
	struct msp_throttle *t;
	char a[MSP_THROTTLE_CLIENT], b[MSP_THROTTLE_CLIENT];
	int which, i;

	key6("2001:db8:1:2:aaaa::1", a);
	key6("2001:db8:1:2:bbbb::7", b);
	ok(strcmp(a, "2001:db8:1:2::/64") == 0, "IPv6 by /64: %s", a);
	ok(strcmp(a, b) == 0, "one /64, one client");
	key6("2001:db8:1:3::1", b);
	ok(strcmp(a, b) != 0, "another /64, another client");
	key6("::ffff:192.0.2.7", a);
	ok(strcmp(a, "192.0.2.7") == 0, "IPv4 mapped: %s", a);

	msp_now_set(1000000);
	ok((t = msp_throttle_new(&c)) != NULL, "new");
	msp_throttle_ok(t, "10.0.0.1", "ann@x.org");
	msp_throttle_fail(t, "10.0.0.9", "ann@x.org");
	msp_throttle_fail(t, "10.0.0.9", "ann@x.org");
	ok(msp_throttle_check(t, "10.0.0.9", "ann@x.org", &which) == 60 &&
	    which == 'a', "the pair is locked for 60 s");
	ok(msp_throttle_check(t, "10.0.0.2", "ann@x.org", &which) == 0,
	    "another client is not");
	msp_throttle_fail(t, "10.0.0.3", "ann@x.org");
	msp_throttle_fail(t, "10.0.0.4", "ann@x.org");
	ok(msp_throttle_check(t, "10.0.0.2", "ann@x.org", &which) == 60,
	    "four failures: the account is locked for unknown clients");
	ok(msp_throttle_check(t, "10.0.0.1", "ann@x.org", &which) == 0,
	    "a known client still may try");
	msp_now_set(1000000 + 61000);
	ok(msp_throttle_check(t, "10.0.0.9", "ann@x.org", &which) == 0,
	    "the lock ends");
	msp_throttle_fail(t, "10.0.0.9", "ann@x.org");
	msp_throttle_fail(t, "10.0.0.9", "ann@x.org");
	ok(msp_throttle_check(t, "10.0.0.9", "ann@x.org", &which) == 120 &&
	    which == 'a', "the next lock is twice as long");
	msp_throttle_fail(t, "10.0.0.9", NULL);
	ok(msp_throttle_check(t, "10.0.0.9", "bob@x.org", &which) > 0 &&
	    which == 'c', "five failures in the window lock the client");
	for (i = 0; i < 20; i++) {
		char k[32];
		snprintf(k, sizeof(k), "u%d@x.org", i);
		msp_throttle_fail(t, "10.1.0.1", k);
	}
	ok(msp_throttle_check(t, "10.1.0.1", "new@x.org", &which) > 0 &&
	    which == 'c', "a spraying client is locked (a table of 16 entries)");
	msp_throttle_free(t);
	done_testing();
}
