#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth.h"
#include "catalog.h"
#include "jsonl.h"
#include "util.h"

#define HEXHASH 64

static void
token_hash(const char *token, char out[HEXHASH + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	sodium_bin2hex(out, HEXHASH + 1, h, sizeof(h));
}

static int
password_check(const char *pw, struct msp_err *e)
{
	size_t n = strlen(pw);

	if (n > MSP_PASSWORD_MAX)
		return msp_err_set(e, MSP_EINVAL, "field 'password': longer "
		    "than %d bytes", MSP_PASSWORD_MAX);
	if (!msp_utf8_valid(pw, n))
		return msp_err_set(e, MSP_EINVAL, "field 'password': not "
		    "valid UTF-8");
	if (msp_utf8_len(pw, n) < MSP_PASSWORD_MIN)
		return msp_err_set(e, MSP_EINVAL, "field 'password': shorter "
		    "than %d characters", MSP_PASSWORD_MIN);
	return 0;
}

static int
password_hash(const char *pw, char out[crypto_pwhash_STRBYTES],
    struct msp_err *e)
{
	if (crypto_pwhash_str_alg(out, pw, strlen(pw),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		return msp_err_set(e, MSP_ENOMEM, "password hashing: out of "
		    "memory");
	return 0;
}

static json_object *
cred_new(const char *email, const char *hash, int64_t created)
{
	json_object *o = json_object_new_object();
	char ts[MSP_TIME_LEN + 1];

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "type", json_object_new_string("credential"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "email", json_object_new_string(email));
	json_object_object_add(o, "hash", json_object_new_string(hash));
	json_object_object_add(o, "failures", json_object_new_int(0));
	json_object_object_add(o, "lockedUntil", json_object_new_int64(0));
	msp_time_fmt(created, ts);
	json_object_object_add(o, "createdAt", json_object_new_string(ts));
	msp_time_fmt(msp_now_ms(), ts);
	json_object_object_add(o, "updatedAt", json_object_new_string(ts));
	return o;
}

/* ---- signup --------------------------------------------------------- */

struct signup {
	struct msp_store *st;
	const char *email; /* normalised */
	const char *hash;
	json_object *user;
};

static int
signup_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct signup *s = arg;
	struct msp_store *st = s->st;
	json_object *c;
	MDB_val v;
	int rc;

	json_object_put(s->user);
	s->user = NULL;
	rc = msp_db_get(st, t, MSP_DB_CREDS, s->email, strlen(s->email), &v, e);
	if (rc == 0)
		return msp_err_set(e, MSP_EEXIST, "%s: already signed up",
		    s->email);
	if (rc != MSP_ENOTFOUND)
		return rc;
	if ((rc = msp_user_add(st, t, s->email, 0, &s->user, e)) != 0) {
		if (rc == MSP_EEXIST)
			msp_err_set(e, MSP_EEXIST, "%s: already signed up",
			    s->email);
		return rc;
	}
	if ((c = cred_new(s->email, s->hash, msp_now_ms())) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	rc = msp_db_put_json(st, t, MSP_DB_CREDS, s->email, strlen(s->email),
	    c, e);
	json_object_put(c);
	return rc;
}

int
msp_auth_signup(struct msp_store *st, const char *email,
    const char *password, json_object **user, struct msp_err *e)
{
	struct signup a;
	char hash[crypto_pwhash_STRBYTES];
	char *norm = NULL;
	int rc;

	if (user != NULL)
		*user = NULL;
	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return msp_err_prefix(e, "field 'email'");
	if ((rc = password_check(password, e)) != 0)
		goto out;
	if ((rc = password_hash(password, hash, e)) != 0)
		goto out;
	memset(&a, 0, sizeof(a));
	a.st = st;
	a.email = norm;
	a.hash = hash;
	rc = msp_store_write(st, signup_txn, &a, e);
	if (rc == 0 && user != NULL)
		*user = a.user;
	else
		json_object_put(a.user);
out:
	sodium_memzero(hash, sizeof(hash));
	free(norm);
	return rc;
}

/* ---- passwd --------------------------------------------------------- */

struct passwd {
	struct msp_store *st;
	const char *email;
	const char *hash;
};

static int
passwd_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct passwd *p = arg;
	json_object *u = NULL, *c = NULL, *x;
	int rc;

	if ((rc = msp_user_get(p->st, t, p->email, &u, e)) != 0)
		return rc;
	json_object_put(u);
	rc = msp_db_get_json(p->st, t, MSP_DB_CREDS, p->email,
	    strlen(p->email), &c, e);
	if (rc == MSP_ENOTFOUND) {
		c = cred_new(p->email, p->hash, msp_now_ms());
	} else if (rc == 0) {
		char ts[MSP_TIME_LEN + 1];

		json_object_object_add(c, "hash",
		    json_object_new_string(p->hash));
		json_object_object_add(c, "failures", json_object_new_int(0));
		json_object_object_add(c, "lockedUntil",
		    json_object_new_int64(0));
		msp_time_fmt(msp_now_ms(), ts);
		json_object_object_add(c, "updatedAt",
		    json_object_new_string(ts));
	} else {
		return rc;
	}
	if (c == NULL || !json_object_object_get_ex(c, "hash", &x))
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
	else
		rc = msp_db_put_json(p->st, t, MSP_DB_CREDS, p->email,
		    strlen(p->email), c, e);
	json_object_put(c);
	return rc;
}

int
msp_auth_passwd(struct msp_store *st, const char *email,
    const char *password, struct msp_err *e)
{
	struct passwd p;
	char hash[crypto_pwhash_STRBYTES];
	char *norm = NULL;
	int rc;

	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return rc;
	if ((rc = password_check(password, e)) != 0 ||
	    (rc = password_hash(password, hash, e)) != 0)
		goto out;
	p.st = st;
	p.email = norm;
	p.hash = hash;
	rc = msp_store_write(st, passwd_txn, &p, e);
out:
	sodium_memzero(hash, sizeof(hash));
	free(norm);
	return rc;
}

/* ---- login ---------------------------------------------------------- */

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

static void
dummy_init(void)
{
	char pw[32];

	randombytes_buf(pw, sizeof(pw));
	if (crypto_pwhash_str_alg(dummy_hash, pw, sizeof(pw),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		dummy_hash[0] = '\0';
}

struct login {
	struct msp_store *st;
	const char *email;
	int ok;
	long ttl;
	char id[HEXHASH + 1];
	json_object *session;
};

static int64_t
jint(json_object *o, const char *k)
{
	json_object *x;

	if (!json_object_object_get_ex(o, k, &x))
		return 0;
	return json_object_get_int64(x);
}

static int
login_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct login *l = arg;
	json_object *c = NULL, *s;
	int64_t now = msp_now_ms();
	char ts[MSP_TIME_LEN + 1];
	int rc;

	json_object_put(l->session);
	l->session = NULL;
	rc = msp_db_get_json(l->st, t, MSP_DB_CREDS, l->email,
	    strlen(l->email), &c, e);
	if (rc != 0)
		return rc;
	msp_time_fmt(now, ts);
	if (!l->ok) {
		int64_t f = jint(c, "failures") + 1;

		json_object_object_add(c, "failures", json_object_new_int64(f));
		if (f >= MSP_LOGIN_FAILS)
			json_object_object_add(c, "lockedUntil",
			    json_object_new_int64(now +
			    (int64_t)MSP_LOGIN_LOCK * 1000));
		json_object_object_add(c, "updatedAt", json_object_new_string(ts));
		rc = msp_db_put_json(l->st, t, MSP_DB_CREDS, l->email,
		    strlen(l->email), c, e);
		json_object_put(c);
		return rc;
	}
	if (jint(c, "failures") != 0 || jint(c, "lockedUntil") != 0) {
		json_object_object_add(c, "failures", json_object_new_int(0));
		json_object_object_add(c, "lockedUntil",
		    json_object_new_int64(0));
		json_object_object_add(c, "updatedAt", json_object_new_string(ts));
		rc = msp_db_put_json(l->st, t, MSP_DB_CREDS, l->email,
		    strlen(l->email), c, e);
		if (rc != 0) {
			json_object_put(c);
			return rc;
		}
	}
	json_object_put(c);
	if ((s = json_object_new_object()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	json_object_object_add(s, "type", json_object_new_string("session"));
	json_object_object_add(s, "v", json_object_new_int(1));
	json_object_object_add(s, "id", json_object_new_string(l->id));
	json_object_object_add(s, "email", json_object_new_string(l->email));
	json_object_object_add(s, "createdAt", json_object_new_string(ts));
	msp_time_fmt(now + (int64_t)l->ttl * 1000, ts);
	json_object_object_add(s, "expiresAt", json_object_new_string(ts));
	l->session = s;
	return msp_db_put_json(l->st, t, MSP_DB_SESSIONS, l->id, HEXHASH, s, e);
}

int
msp_auth_login(struct msp_store *st, const char *email,
    const char *password, long ttl, char **token, json_object **session,
    struct msp_err *e)
{
	struct login l;
	unsigned char raw[32];
	json_object *c = NULL, *x;
	MDB_txn *t;
	char *norm = NULL, *hash = NULL;
	int rc, known = 0;

	*token = NULL;
	if (session != NULL)
		*session = NULL;
	memset(&l, 0, sizeof(l));
	if (msp_email_norm(email, &norm, NULL) != 0 ||
	    strlen(password) > MSP_PASSWORD_MAX) {
		rc = msp_err_set(e, MSP_EPERM, "invalid email or password");
		goto out;
	}
	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		goto out;
	rc = msp_db_get_json(st, t, MSP_DB_CREDS, norm, strlen(norm), &c, e);
	msp_txn_abort(st, t);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		goto out;
	if (rc == 0) {
		if (jint(c, "lockedUntil") > msp_now_ms()) {
			rc = msp_err_set(e, MSP_EAGAIN, "%s: too many failed "
			    "logins; try again later", norm);
			goto out;
		}
		if (json_object_object_get_ex(c, "hash", &x) &&
		    (hash = msp_strdup(json_object_get_string(x))) != NULL)
			known = 1;
	}
	if (!known) {
		/* the same work as for a real account */
		pthread_once(&dummy_once, dummy_init);
		if (crypto_pwhash_str_verify(dummy_hash, password,
		    strlen(password)) == 0)
			known = 0; /* cannot happen: a random password */
		rc = msp_err_set(e, MSP_EPERM, "invalid email or password");
		goto out;
	}
	l.ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
	l.st = st;
	l.email = norm;
	l.ttl = ttl;
	randombytes_buf(raw, sizeof(raw));
	if ((*token = msp_b64url_enc(raw, sizeof(raw))) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	token_hash(*token, l.id);
	rc = msp_store_write(st, login_txn, &l, e);
	if (rc == 0 && !l.ok)
		rc = msp_err_set(e, MSP_EPERM, "invalid email or password");
	if (rc != 0) {
		free(*token);
		*token = NULL;
	} else if (session != NULL) {
		*session = l.session;
		l.session = NULL;
	}
out:
	sodium_memzero(raw, sizeof(raw));
	json_object_put(l.session);
	json_object_put(c);
	free(hash);
	free(norm);
	return rc;
}

/* ---- sessions ------------------------------------------------------- */

static int
token_ok(const char *token)
{
	size_t n = token != NULL ? strlen(token) : 0, i;

	if (n != 43)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = token[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

static int64_t
jtime(json_object *o, const char *k)
{
	json_object *x;
	int64_t ms;

	if (!json_object_object_get_ex(o, k, &x) ||
	    msp_time_parse(json_object_get_string(x), &ms) != 0)
		return 0;
	return ms;
}

int
msp_auth_session(struct msp_store *st, const char *token,
    json_object **user, struct msp_err *e)
{
	char id[HEXHASH + 1];
	json_object *s = NULL, *x;
	MDB_txn *t;
	int rc;

	*user = NULL;
	if (!token_ok(token))
		return msp_err_set(e, MSP_EPERM, "invalid session token");
	token_hash(token, id);
	if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
		return rc;
	rc = msp_db_get_json(st, t, MSP_DB_SESSIONS, id, HEXHASH, &s, e);
	if (rc == MSP_ENOTFOUND) {
		rc = msp_err_set(e, MSP_EPERM, "invalid session token");
	} else if (rc == 0 && jtime(s, "expiresAt") <= msp_now_ms()) {
		rc = msp_err_set(e, MSP_EPERM, "session expired");
	} else if (rc == 0) {
		if (!json_object_object_get_ex(s, "email", &x))
			rc = msp_err_set(e, MSP_ESTORE, "session: no email");
		else if ((rc = msp_user_get(st, t, json_object_get_string(x),
		    user, e)) == MSP_ENOTFOUND)
			rc = msp_err_set(e, MSP_EPERM, "invalid session token");
	}
	msp_txn_abort(st, t);
	json_object_put(s);
	return rc;
}

struct logout {
	struct msp_store *st;
	char id[HEXHASH + 1];
};

static int
logout_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct logout *l = arg;
	int rc = msp_db_del(l->st, t, MSP_DB_SESSIONS, l->id, HEXHASH, e);

	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, MSP_EPERM, "invalid session token");
	return rc;
}

int
msp_auth_logout(struct msp_store *st, const char *token, struct msp_err *e)
{
	struct logout l;

	if (!token_ok(token))
		return msp_err_set(e, MSP_EPERM, "invalid session token");
	l.st = st;
	token_hash(token, l.id);
	return msp_store_write(st, logout_txn, &l, e);
}

struct prune {
	struct msp_store *st;
	int n;
};

static int
prune_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct prune *p = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int64_t now = msp_now_ms();
	int rc;

	p->n = 0;
	if ((rc = mdb_cursor_open(t, msp_store_dbi(p->st, MSP_DB_SESSIONS),
	    &c)) != 0)
		return msp_store_mdb_err(rc, "sessions", e);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_tokener *tok = json_tokener_new();
		json_object *s;
		int64_t exp = 0;

		if (tok == NULL) {
			mdb_cursor_close(c);
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		}
		s = json_tokener_parse_ex(tok, v.mv_data, (int)v.mv_size);
		json_tokener_free(tok);
		if (s != NULL)
			exp = jtime(s, "expiresAt");
		json_object_put(s);
		if (exp <= now) {
			if ((rc = mdb_cursor_del(c, 0)) != 0)
				break;
			p->n++;
		}
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return msp_store_mdb_err(rc, "sessions", e);
	return 0;
}

int
msp_auth_prune(struct msp_store *st, struct msp_err *e)
{
	struct prune p = { st, 0 };
	int rc = msp_store_write(st, prune_txn, &p, e);

	return rc != 0 ? rc : p.n;
}

/* ---- import --------------------------------------------------------- */

int
msp_credential_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *email, *hash;
	char *norm;
	int rc;

	if ((rc = msp_record_check(rec, "credential", 1, e)) != 0 ||
	    (rc = msp_field_str(rec, "email", 1, 254, 0, &email, e)) != 0 ||
	    (rc = msp_field_str(rec, "hash", 1, 512, 0, &hash, e)) != 0)
		return rc;
	if (strncmp(hash, "$argon2id$", 10) != 0)
		return msp_err_set(e, MSP_EINVAL, "field 'hash': not an "
		    "argon2id hash");
	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return msp_err_prefix(e, "field 'email'");
	if (strcmp(norm, email) != 0) {
		free(norm);
		return msp_err_set(e, MSP_EINVAL, "field 'email': not in "
		    "lower case");
	}
	free(norm);
	return msp_db_put_json(st, t, MSP_DB_CREDS, email, strlen(email), rec,
	    e);
}

int
msp_session_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *id, *email, *exp;
	int64_t ms;
	size_t i;
	int rc;

	if ((rc = msp_record_check(rec, "session", 1, e)) != 0 ||
	    (rc = msp_field_str(rec, "id", 1, HEXHASH, 0, &id, e)) != 0 ||
	    (rc = msp_field_str(rec, "email", 1, 254, 0, &email, e)) != 0 ||
	    (rc = msp_field_str(rec, "expiresAt", 1, 64, 0, &exp, e)) != 0)
		return rc;
	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			break;
	if (i != HEXHASH || id[i] != '\0')
		return msp_err_set(e, MSP_EINVAL, "field 'id': expected 64 "
		    "lower-case hex digits");
	if (msp_time_parse(exp, &ms) != 0)
		return msp_err_set(e, MSP_EINVAL, "field 'expiresAt': not an "
		    "RFC 3339 time");
	return msp_db_put_json(st, t, MSP_DB_SESSIONS, id, HEXHASH, rec, e);
}

/* ---- signed URLs ---------------------------------------------------- */

#define KEYLEN crypto_auth_hmacsha256_KEYBYTES

static int
url_key_txn(MDB_txn *t, void *arg, struct msp_err *e)
{
	struct msp_store *st = *(struct msp_store **)arg;
	unsigned char k[KEYLEN];
	char *s = NULL;
	int rc;

	rc = msp_meta_get(st, t, "hls_key", &s, e);
	free(s);
	if (rc != MSP_ENOTFOUND)
		return rc;
	randombytes_buf(k, sizeof(k));
	s = msp_b64url_enc(k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	if (s == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	rc = msp_meta_put(st, t, "hls_key", s, e);
	free(s);
	return rc;
}

static int
url_key(struct msp_store *st, unsigned char key[KEYLEN], struct msp_err *e)
{
	unsigned char *raw = NULL;
	MDB_txn *t;
	char *s = NULL;
	long n;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		if ((rc = msp_txn_begin(st, 0, &t, e)) != 0)
			return rc;
		rc = msp_meta_get(st, t, "hls_key", &s, e);
		msp_txn_abort(st, t);
		if (rc != MSP_ENOTFOUND)
			break;
		if ((rc = msp_store_write(st, url_key_txn, &st, e)) != 0)
			return rc;
	}
	if (rc != 0)
		return rc;
	n = msp_b64url_dec(s, &raw);
	free(s);
	if (n != KEYLEN) {
		free(raw);
		return msp_err_set(e, MSP_ESTORE, "meta hls_key: corrupt");
	}
	memcpy(key, raw, KEYLEN);
	sodium_memzero(raw, KEYLEN);
	free(raw);
	return 0;
}

static int
url_mac(const unsigned char key[KEYLEN], const char *vid, long long exp,
    char out[44])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char msg[128];
	int n;

	n = snprintf(msg, sizeof(msg), "%s.%lld", vid, exp);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	crypto_auth_hmacsha256(mac, (unsigned char *)msg, (size_t)n, key);
	sodium_bin2base64(out, 44, mac, sizeof(mac),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int
msp_auth_url_sign(struct msp_store *st, const char *video_id, long ttl,
    char **token, struct msp_err *e)
{
	return msp_auth_url_sign_until(st, video_id, ttl, 0, token, e);
}

int
msp_auth_url_sign_until(struct msp_store *st, const char *video_id,
    long ttl, int64_t end_ms, char **token, struct msp_err *e)
{
	unsigned char key[KEYLEN];
	char mac[44];
	long long exp = msp_now_ms() / 1000 + ttl;
	int rc;

	/* a token opens while now < exp seconds: exp * 1000 <= end_ms */
	if (end_ms > 0 && exp > end_ms / 1000)
		exp = end_ms / 1000;

	*token = NULL;
	if (!msp_id_valid(video_id))
		return msp_err_set(e, MSP_EINVAL, "'%s': not a video id",
		    video_id);
	if ((rc = url_key(st, key, e)) != 0)
		return rc;
	rc = url_mac(key, video_id, exp, mac);
	sodium_memzero(key, sizeof(key));
	if (rc != 0 || (*token = msp_sprintf("%lld.%s", exp, mac)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	return 0;
}

int
msp_auth_url_is_token(const char *s)
{
	const char *dot = strchr(s, '.');
	const char *p;

	if (dot == NULL || dot == s || dot - s > 18)
		return 0;
	for (p = s; p < dot; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return token_ok(dot + 1);
}

int
msp_auth_url_key(struct msp_store *st, struct msp_url_key *key,
    struct msp_err *e)
{
	return url_key(st, key->k, e);
}

int
msp_auth_url_verify(const struct msp_url_key *key, const char *video_id,
    const char *tok, struct msp_err *e)
{
	char mac[44];
	long long exp;

	if (!msp_auth_url_is_token(tok))
		return msp_err_set(e, MSP_EPERM, "forged media token");
	exp = strtoll(tok, NULL, 10);
	if (url_mac(key->k, video_id, exp, mac) != 0 ||
	    sodium_memcmp(mac, strchr(tok, '.') + 1, 43) != 0)
		return msp_err_set(e, MSP_EPERM, "forged media token");
	if (exp <= msp_now_ms() / 1000)
		return msp_err_set(e, MSP_EPERM, "expired media token");
	return 0;
}

int
msp_auth_url_check(struct msp_store *st, const char *video_id,
    const char *tok, struct msp_err *e)
{
	struct msp_url_key key;
	int rc;

	if (!msp_auth_url_is_token(tok))
		return msp_err_set(e, MSP_EPERM, "forged media token");
	if ((rc = msp_auth_url_key(st, &key, e)) != 0)
		return rc;
	rc = msp_auth_url_verify(&key, video_id, tok, e);
	sodium_memzero(&key, sizeof(key));
	return rc;
}
