/* throttle: failed-login limits, kept in memory by msp-serve (a login is
 * an HTTP request; only the server knows the client's address). Three
 * counters:
 *   - a client (IPv4 address, IPv6 /64) and an account: after pair_fails
 *     failures in a row that client is locked out of that account for
 *     lock_s seconds, doubled with each further lock up to an hour;
 *   - a client across accounts: after client_fails failures within
 *     MSP_THROTTLE_WINDOW seconds it is locked out of every account
 *     until the window ends (password spraying);
 *   - an account across clients: after account_fails failures in a row
 *     only its known clients (ones that signed in to it before) may try
 *     it, for lock_s seconds, doubled likewise.
 * So a third party cannot keep a user who knows the password out. The
 * table is bounded (max entries); the oldest are dropped when it is full.
 */
#ifndef MSP_THROTTLE_H
#define MSP_THROTTLE_H

#include <stddef.h>
#include <sys/socket.h>

#define MSP_THROTTLE_WINDOW 900      /* s a client's failures count */
#define MSP_THROTTLE_KNOWN (30 * 86400) /* s a client stays known */
#define MSP_THROTTLE_CLIENT 48       /* bytes of a client key */

struct msp_throttle_conf {
	unsigned pair_fails;
	unsigned client_fails;
	unsigned account_fails;
	long lock_s;
	size_t max_entries;
};

struct msp_throttle;
/* NULL on out of memory. */
struct msp_throttle *msp_throttle_new(const struct msp_throttle_conf *c);
void msp_throttle_free(struct msp_throttle *t);
/* The client's key: the IPv4 address (also when mapped into IPv6), or the
 * IPv6 /64 prefix; "-" for anything else. */
void msp_throttle_client(const struct sockaddr *sa,
    char out[MSP_THROTTLE_CLIENT]);
/* May client try account (normalised email, or NULL when the email is not
 * even valid)? 0 when yes; otherwise the seconds to wait, and *which says
 * what is locked: 'c' the client, 'a' the account for this client. */
long msp_throttle_check(struct msp_throttle *t, const char *client,
    const char *account, int *which);
/* Record a failed or a good login. */
void msp_throttle_fail(struct msp_throttle *t, const char *client,
    const char *account);
void msp_throttle_ok(struct msp_throttle *t, const char *client,
    const char *account);

#endif
