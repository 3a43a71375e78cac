/* auth: accounts (argon2id passwords), sessions (random tokens stored
 * hashed), login rate limiting, and the signed, expiring tokens that open
 * premium HLS to a viewer. Used by msp-serve; see msp-serve(1). */
#ifndef MSP_AUTH_H
#define MSP_AUTH_H

#include <stdint.h>
#include <json.h>
#include <lmdb.h>

#include "err.h"
#include "store.h"

#define MSP_PASSWORD_MIN 10     /* characters */
#define MSP_PASSWORD_MAX 1024   /* bytes */
#define MSP_SESSION_TTL (14 * 86400) /* seconds, the default */
#define MSP_LOGIN_FAILS 5       /* failed logins in a row before a lock */
#define MSP_LOGIN_LOCK 60       /* seconds an account stays locked */

/*
 * Records: {"type":"credential","v":1,"email","hash" (argon2id string),
 * "failures","lockedUntil" (ms or 0),"createdAt","updatedAt"} keyed by
 * email; {"type":"session","v":1,"id" (hex SHA-256 of the token),"email",
 * "createdAt","expiresAt"} keyed by id. The token itself is never stored.
 */

/* Create the user (msp_user_add) and its credential in one transaction.
 * *user (may be NULL) gets the user record (caller puts). MSP_EEXIST when
 * the email has a credential already. */
int msp_auth_signup(struct msp_store *st, const char *email,
    const char *password, json_object **user, struct msp_err *e);
/* Set or replace the password of an existing user (admins, tests). */
int msp_auth_passwd(struct msp_store *st, const char *email,
    const char *password, struct msp_err *e);
/*
 * Check the password and open a session of ttl seconds: *token (malloc'd,
 * 43 characters of base64url: 256 random bits) goes to the client only.
 * A wrong email or password gives MSP_EPERM "invalid email or password";
 * after MSP_LOGIN_FAILS failures in a row the account refuses logins for
 * MSP_LOGIN_LOCK seconds with MSP_EAGAIN.
 */
int msp_auth_login(struct msp_store *st, const char *email,
    const char *password, long ttl, char **token, json_object **session,
    struct msp_err *e);
/* The user of a live session; MSP_EPERM when the token is unknown, forged
 * or expired. *user (caller puts) is the user record. */
int msp_auth_session(struct msp_store *st, const char *token,
    json_object **user, struct msp_err *e);
/* End a session (unknown tokens: MSP_EPERM). */
int msp_auth_logout(struct msp_store *st, const char *token,
    struct msp_err *e);
/* Remove expired sessions; returns how many. */
int msp_auth_prune(struct msp_store *st, struct msp_err *e);

/* Import handlers (lib/dump.c). */
int msp_credential_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);
int msp_session_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e);

/*
 * Signed media URLs. A token "<expires>.<mac>" (expires: unix seconds;
 * mac: base64url HMAC-SHA-256 of "<videoId>.<expires>" under a key kept in
 * the store's meta database as "hls_key", made on first use) sits in the
 * URL path: /hls/<videoId>/<token>/master.m3u8, so the relative URIs inside
 * the playlists carry it.
 */
#define MSP_HLS_TTL 300 /* seconds, the default */
int msp_auth_url_sign(struct msp_store *st, const char *video_id, long ttl,
    char **token, struct msp_err *e);
/* The same, never good past end_ms (unix ms; 0: no bound), the end of the
 * subscription that lets the viewer watch: the token expires at the
 * earlier of now + ttl and end_ms. */
int msp_auth_url_sign_until(struct msp_store *st, const char *video_id,
    long ttl, int64_t end_ms, char **token, struct msp_err *e);
/* 0 when tok opens video_id now; MSP_EPERM ("forged" or "expired")
 * otherwise. */
int msp_auth_url_check(struct msp_store *st, const char *video_id,
    const char *tok, struct msp_err *e);
/* The same check with the key loaded once (msp-serve keeps it for its
 * lifetime instead of reading the store on every segment). */
struct msp_url_key {
	unsigned char k[32];
};
int msp_auth_url_key(struct msp_store *st, struct msp_url_key *key,
    struct msp_err *e);
int msp_auth_url_verify(const struct msp_url_key *key, const char *video_id,
    const char *tok, struct msp_err *e);
/* 1 when s looks like a URL token (to tell it from a path component). */
int msp_auth_url_is_token(const char *s);

#endif
