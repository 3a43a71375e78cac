#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "throttle.h"
#include "util.h"

struct ent {
	struct ent *next;
	uint64_t h;
	int64_t first;   /* ms of the first failure counted */
	int64_t last;    /* ms of the last change */
	int64_t until;   /* ms the lock ends; 0: none */
	unsigned fails;  /* counted failures */
	unsigned locks;  /* locks so far (for the growing lock) */
	char key[];      /* "c|client", "p|client|account", "a|account",
	                  * "k|client|account" */
};

struct msp_throttle {
	pthread_mutex_t mu;
	struct msp_throttle_conf c;
	unsigned char hk[crypto_shorthash_KEYBYTES];
	struct ent **b;
	size_t nb, n;
};

struct msp_throttle *
msp_throttle_new(const struct msp_throttle_conf *c)
{
	struct msp_throttle *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->c = *c;
	if (t->c.max_entries == 0)
		t->c.max_entries = 100000;
	t->nb = t->c.max_entries;
	if ((t->b = calloc(t->nb, sizeof(*t->b))) == NULL) {
		free(t);
		return NULL;
	}
	randombytes_buf(t->hk, sizeof(t->hk));
	pthread_mutex_init(&t->mu, NULL);
	return t;
}

void
msp_throttle_free(struct msp_throttle *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nb; i++)
		while (t->b[i] != NULL) {
			struct ent *x = t->b[i];
			t->b[i] = x->next;
			free(x);
		}
	pthread_mutex_destroy(&t->mu);
	free(t->b);
	free(t);
}

void
msp_throttle_client(const struct sockaddr *sa, char out[MSP_THROTTLE_CLIENT])
{
	strcpy(out, "-");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, out, MSP_THROTTLE_CLIENT);
	} else if (sa->sa_family == AF_INET6) {
		struct in6_addr a = ((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a)) {
			inet_ntop(AF_INET, &a.s6_addr[12], out,
			    MSP_THROTTLE_CLIENT);
			return;
		}
		memset(&a.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &a, out, MSP_THROTTLE_CLIENT - 4);
		strcat(out, "/64");
	}
}

static int64_t
lock_ms(const struct msp_throttle *t, unsigned locks)
{
	int64_t ms = (int64_t)t->c.lock_s * 1000;
	unsigned i;

	for (i = 1; i < locks && ms < 3600 * 1000; i++)
		ms *= 2;
	return ms < 3600 * 1000 ? ms : 3600 * 1000;
}

/* Drop entries with nothing left to say; when none, the least recently
 * changed. Called with the table full. */
static void
evict(struct msp_throttle *t, int64_t now)
{
	struct ent **pp, *old = NULL, **oldp = NULL;
	size_t i, dropped = 0;

	for (i = 0; i < t->nb; i++)
		for (pp = &t->b[i]; *pp != NULL;) {
			struct ent *x = *pp;
			int64_t keep = x->key[0] == 'k' ? MSP_THROTTLE_KNOWN :
			    MSP_THROTTLE_WINDOW;
			if (x->until < now && now - x->last > keep * 1000) {
				*pp = x->next;
				free(x);
				dropped++;
				continue;
			}
			/* a lock is the last thing to lose */
			if (old == NULL || (x->until <= now && old->until > now) ||
			    ((x->until <= now) == (old->until <= now) &&
			    x->last < old->last)) {
				old = x;
				oldp = pp;
			}
			pp = &x->next;
		}
	t->n -= dropped;
	if (dropped == 0 && old != NULL) {
		*oldp = old->next;
		free(old);
		t->n--;
	}
}

/* The entry for key, made when create; NULL when absent or out of
 * memory. */
static struct ent *
get(struct msp_throttle *t, const char *key, int create, int64_t now)
{
	size_t n = strlen(key);
	uint64_t h;
	struct ent *x;

	crypto_shorthash((unsigned char *)&h, (const unsigned char *)key, n,
	    t->hk);
	for (x = t->b[h % t->nb]; x != NULL; x = x->next)
		if (x->h == h && strcmp(x->key, key) == 0)
			return x;
	if (!create)
		return NULL;
	if (t->n >= t->c.max_entries)
		evict(t, now);
	if ((x = calloc(1, sizeof(*x) + n + 1)) == NULL)
		return NULL;
	memcpy(x->key, key, n + 1);
	x->h = h;
	x->last = now;
	x->next = t->b[h % t->nb];
	t->b[h % t->nb] = x;
	t->n++;
	return x;
}

/* "kind|a" or "kind|a|b" */
static char *
key(char kind, const char *a, const char *b)
{
	if (a == NULL)
		return NULL;
	if (b == NULL)
		return msp_sprintf("%c|%s", kind, a);
	return msp_sprintf("%c|%s|%s", kind, a, b);
}

long
msp_throttle_check(struct msp_throttle *t, const char *client,
    const char *account, int *which)
{
	int64_t now = msp_now_ms(), wait = 0;
	char *kc = key('c', client, NULL), *kp = NULL, *ka = NULL, *kk = NULL;
	struct ent *x;

	*which = 0;
	if (account != NULL) {
		kp = key('p', client, account);
		ka = key('a', account, NULL);
		kk = key('k', client, account);
	}
	pthread_mutex_lock(&t->mu);
	if (kc != NULL && (x = get(t, kc, 0, now)) != NULL &&
	    x->until > now) {
		wait = x->until - now;
		*which = 'c';
	} else if (kp != NULL && (x = get(t, kp, 0, now)) != NULL &&
	    x->until > now) {
		wait = x->until - now;
		*which = 'a';
	} else if (ka != NULL && (x = get(t, ka, 0, now)) != NULL &&
	    x->until > now && get(t, kk, 0, now) == NULL) {
		wait = x->until - now;
		*which = 'a';
	}
	pthread_mutex_unlock(&t->mu);
	free(kc);
	free(kp);
	free(ka);
	free(kk);
	return wait > 0 ? (long)((wait + 999) / 1000) : 0;
}

void
msp_throttle_fail(struct msp_throttle *t, const char *client,
    const char *account)
{
	int64_t now = msp_now_ms();
	char *kc = key('c', client, NULL), *kp = NULL, *ka = NULL;
	struct ent *x;

	if (account != NULL) {
		kp = key('p', client, account);
		ka = key('a', account, NULL);
	}
	pthread_mutex_lock(&t->mu);
	if (kc != NULL && (x = get(t, kc, 1, now)) != NULL) {
		if (x->fails == 0 || now - x->first > MSP_THROTTLE_WINDOW *
		    1000) {
			x->fails = 0;
			x->first = now;
		}
		if (++x->fails >= t->c.client_fails)
			x->until = x->first + MSP_THROTTLE_WINDOW * 1000;
		x->last = now;
	}
	if (kp != NULL && (x = get(t, kp, 1, now)) != NULL) {
		if (++x->fails % t->c.pair_fails == 0)
			x->until = now + lock_ms(t, ++x->locks);
		x->last = now;
	}
	if (ka != NULL && (x = get(t, ka, 1, now)) != NULL) {
		if (++x->fails % t->c.account_fails == 0)
			x->until = now + lock_ms(t, ++x->locks);
		x->last = now;
	}
	pthread_mutex_unlock(&t->mu);
	free(kc);
	free(kp);
	free(ka);
}

void
msp_throttle_ok(struct msp_throttle *t, const char *client,
    const char *account)
{
	int64_t now = msp_now_ms();
	char *kp = key('p', client, account), *ka = key('a', account, NULL);
	char *kk = key('k', client, account);
	struct ent *x;

	pthread_mutex_lock(&t->mu);
	/* the client's own count stays: one good account must not reset
	 * a spray */
	if (kp != NULL && (x = get(t, kp, 0, now)) != NULL) {
		x->fails = x->locks = 0;
		x->until = 0;
		x->last = now;
	}
	if (ka != NULL && (x = get(t, ka, 0, now)) != NULL) {
		x->fails = x->locks = 0;
		x->until = 0;
		x->last = now;
	}
	if (kk != NULL && (x = get(t, kk, 1, now)) != NULL)
		x->last = now;
	pthread_mutex_unlock(&t->mu);
	free(kp);
	free(ka);
	free(kk);
}
