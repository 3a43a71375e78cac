#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blob.h"
#include "caption.h"
#include "catalog.h"
#include "engage.h"
#include "jsonl.h"
#include "util.h"

const char *const msp_languages[] = {
	"ar", "as", "bn", "de", "el", "en", "es", "fa", "fr", "gu", "he", "hi",
	"id", "it", "ja", "kn", "ko", "ml", "mr", "nl", "or", "pa", "pl", "pt",
	"ru", "sv", "ta", "te", "th", "tr", "ur", "vi", "zh", NULL
};

const char *const msp_genres[] = {
	"action", "adventure", "animation", "biography", "comedy", "crime",
	"documentary", "drama", "family", "fantasy", "history", "horror",
	"kids", "music", "musical", "mystery", "news", "reality", "romance",
	"sci-fi", "sport", "talk", "thriller", "war", "western", NULL
};

const char *const msp_statuses[] = {
	"uploaded", "processing", "ready", "failed", NULL
};

#define DETAILS_MAX (64 * 1024) /* bytes of destinationVideoDetails */

/*
 * The English names a client may send for a language (the original's
 * client sent "English", "Hindi" ...), and other common spellings, by
 * code; each list in the order of msp_languages.
 */
static const char *const language_names[][3] = {
	{ "arabic" }, { "assamese" }, { "bengali", "bangla" },
	{ "german" }, { "greek" }, { "english" }, { "spanish", "castilian" },
	{ "persian", "farsi" }, { "french" }, { "gujarati" }, { "hebrew" },
	{ "hindi" }, { "indonesian" }, { "italian" }, { "japanese" },
	{ "kannada" }, { "korean" }, { "malayalam" }, { "marathi" },
	{ "dutch", "flemish" }, { "odia", "oriya" }, { "punjabi", "panjabi" },
	{ "polish" }, { "portuguese" }, { "russian" }, { "swedish" },
	{ "tamil" }, { "telugu" }, { "thai" }, { "turkish" }, { "urdu" },
	{ "vietnamese" }, { "chinese" }
};

int
msp_in_set(const char *const *set, const char *s)
{
	for (; *set != NULL; set++)
		if (strcmp(*set, s) == 0)
			return 1;
	return 0;
}

const char *
msp_genre_canon(const char *s)
{
	size_t i;

	for (i = 0; msp_genres[i] != NULL; i++)
		if (strcasecmp(msp_genres[i], s) == 0)
			return msp_genres[i];
	return NULL;
}

const char *
msp_language_canon(const char *s)
{
	size_t i, j;

	for (i = 0; msp_languages[i] != NULL; i++) {
		if (strcasecmp(msp_languages[i], s) == 0)
			return msp_languages[i];
		for (j = 0; j < 3 && language_names[i][j] != NULL; j++)
			if (strcasecmp(language_names[i][j], s) == 0)
				return msp_languages[i];
	}
	return NULL;
}

const char *
msp_language_name(const char *code)
{
	size_t i;

	for (i = 0; msp_languages[i] != NULL; i++)
		if (strcmp(msp_languages[i], code) == 0)
			return language_names[i][0];
	return NULL;
}

int
msp_filter_canon(const char **genre, const char **language,
    struct msp_err *e)
{
	const char *c;

	if (genre != NULL && *genre != NULL) {
		if ((c = msp_genre_canon(*genre)) == NULL)
			return msp_err_set(e, MSP_EINVAL, "genre '%.100s': "
			    "unknown", *genre);
		*genre = c;
	}
	if (language != NULL && *language != NULL) {
		if ((c = msp_language_canon(*language)) == NULL)
			return msp_err_set(e, MSP_EINVAL, "language '%.100s': "
			    "unknown", *language);
		*language = c;
	}
	return 0;
}

static json_object *
jstr(const char *s)
{
	return json_object_new_string(s);
}

/* ---- users ---------------------------------------------------------- */

static int
user_put(struct msp_store *st, MDB_txn *t, json_object *u, struct msp_err *e)
{
	json_object *x;
	const char *email, *id;
	int rc;

	json_object_object_get_ex(u, "email", &x);
	email = json_object_get_string(x);
	json_object_object_get_ex(u, "id", &x);
	id = json_object_get_string(x);
	if ((rc = msp_db_put_json(st, t, MSP_DB_USERS, email, strlen(email), u,
	    e)) != 0)
		return rc;
	return msp_db_put(st, t, MSP_DB_USER_IDS, id, strlen(id), email,
	    strlen(email), 0, e);
}

static json_object *
user_build(const char *id, const char *email, const char *role,
    const char *created)
{
	json_object *u = json_object_new_object();

	if (u == NULL)
		return NULL;
	json_object_object_add(u, "type", jstr("user"));
	json_object_object_add(u, "v", json_object_new_int(1));
	json_object_object_add(u, "id", jstr(id));
	json_object_object_add(u, "email", jstr(email));
	json_object_object_add(u, "role", jstr(role));
	json_object_object_add(u, "createdAt", jstr(created));
	return u;
}

int
msp_user_add(struct msp_store *st, MDB_txn *t, const char *email, int admin,
    json_object **out, struct msp_err *e)
{
	char id[MSP_ID_LEN + 1], now[MSP_TIME_LEN + 1], *norm = NULL;
	json_object *u = NULL;
	MDB_val v;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return rc;
	rc = msp_db_get(st, t, MSP_DB_USERS, norm, strlen(norm), &v, e);
	if (rc == 0) {
		rc = msp_err_set(e, MSP_EEXIST, "%s: user already exists", norm);
		goto out;
	}
	if (rc != MSP_ENOTFOUND)
		goto out;
	msp_id_new(id);
	msp_time_fmt(msp_now_ms(), now);
	if ((u = user_build(id, norm, admin ? "admin" : "user", now)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = user_put(st, t, u, e)) != 0)
		goto out;
	if (out != NULL) {
		*out = u;
		u = NULL;
	}
out:
	json_object_put(u);
	free(norm);
	return rc;
}

int
msp_user_get(struct msp_store *st, MDB_txn *t, const char *email,
    json_object **out, struct msp_err *e)
{
	char *norm;
	int rc;

	*out = NULL;
	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return rc;
	rc = msp_db_get_json(st, t, MSP_DB_USERS, norm, strlen(norm), out, e);
	if (rc == MSP_ENOTFOUND)
		msp_err_set(e, rc, "%s: no such user", norm);
	free(norm);
	return rc;
}

int
msp_user_get_by_id(struct msp_store *st, MDB_txn *t, const char *id,
    json_object **out, struct msp_err *e)
{
	MDB_val v;
	char *email;
	int rc;

	*out = NULL;
	rc = msp_db_get(st, t, MSP_DB_USER_IDS, id, strlen(id), &v, e);
	if (rc == MSP_ENOTFOUND)
		return msp_err_set(e, rc, "%s: no such user", id);
	if (rc != 0)
		return rc;
	if ((email = strndup(v.mv_data, v.mv_size)) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	rc = msp_user_get(st, t, email, out, e);
	free(email);
	return rc;
}

int
msp_user_is_admin(json_object *user)
{
	json_object *x;

	return user != NULL && json_object_object_get_ex(user, "role", &x) &&
	    strcmp(json_object_get_string(x), "admin") == 0;
}

static int
vindex_has_prefix(struct msp_store *st, MDB_txn *t, const char *p, size_t pn,
    long *count, struct msp_err *e)
{
	MDB_cursor *c;
	MDB_val k = { pn, (void *)p }, v;
	int rc;

	*count = 0;
	rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VINDEX), &c);
	if (rc != 0)
		return msp_store_mdb_err(rc, "video_index", e);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= pn && memcmp(k.mv_data, p, pn) == 0) {
		(*count)++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return msp_store_mdb_err(rc, "video_index", e);
	return 0;
}

int
msp_user_del(struct msp_store *st, MDB_txn *t, const char *email,
    struct msp_err *e)
{
	json_object *u, *x;
	char *p = NULL;
	long n;
	int rc;

	if ((rc = msp_user_get(st, t, email, &u, e)) != 0)
		return rc;
	json_object_object_get_ex(u, "email", &x);
	email = json_object_get_string(x);
	if ((p = msp_sprintf("u%c%s%c", 0, email, 0)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = vindex_has_prefix(st, t, p, strlen(email) + 3, &n, e)) != 0)
		goto out;
	if (n > 0) {
		rc = msp_err_set(e, MSP_EPERM, "%s: user has %ld video%s; purge "
		    "them first", email, n, n == 1 ? "" : "s");
		goto out;
	}
	if ((rc = msp_db_del(st, t, MSP_DB_USERS, email, strlen(email), e)) != 0)
		goto out;
	json_object_object_get_ex(u, "id", &x);
	rc = msp_db_del(st, t, MSP_DB_USER_IDS, json_object_get_string(x),
	    (size_t)json_object_get_string_len(x), e);
	if (rc == MSP_ENOTFOUND)
		rc = 0;
	if (rc == 0) {
		rc = msp_db_del(st, t, MSP_DB_CREDS, email, strlen(email), e);
		if (rc == MSP_ENOTFOUND)
			rc = 0;
	}
out:
	free(p);
	json_object_put(u);
	return rc;
}

int
msp_user_list(struct msp_store *st, MDB_txn *t, msp_each_fn fn, void *arg,
    struct msp_err *e)
{
	MDB_cursor *c;
	MDB_val k, v;
	json_tokener *tok;
	int rc;

	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_USERS), &c)) != 0)
		return msp_store_mdb_err(rc, "users", e);
	if ((tok = json_tokener_new()) == NULL) {
		mdb_cursor_close(c);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_object *u;
		json_tokener_reset(tok);
		u = json_tokener_parse_ex(tok, v.mv_data, (int)v.mv_size);
		if (u == NULL) {
			rc = msp_err_set(e, MSP_ESTORE, "users: corrupt record");
			break;
		}
		rc = fn(u, arg, e);
		json_object_put(u);
		if (rc != 0)
			break;
	}
	json_tokener_free(tok);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	return rc;
}

int
msp_user_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	const char *id, *email, *role, *created;
	char *norm = NULL;
	json_object *u = NULL, *old = NULL, *x;
	int64_t ms;
	int rc;

	if ((rc = msp_record_check(rec, "user", 1, e)) != 0)
		return rc;
	if ((rc = msp_field_str(rec, "id", 1, MSP_ID_LEN, 0, &id, e)) != 0)
		return rc;
	if (!msp_id_valid(id))
		return msp_err_set(e, MSP_EINVAL, "field 'id': '%s' is not an "
		    "msp id", id);
	if ((rc = msp_field_str(rec, "email", 1, 254, 0, &email, e)) != 0)
		return rc;
	if ((rc = msp_field_str(rec, "role", 1, 16, 0, &role, e)) != 0)
		return rc;
	if (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0)
		return msp_err_set(e, MSP_EINVAL, "field 'role': expected \"user\""
		    " or \"admin\", got \"%s\"", role);
	if ((rc = msp_field_str(rec, "createdAt", 1, 40, 0, &created, e)) != 0)
		return rc;
	if (msp_time_parse(created, &ms) != 0)
		return msp_err_set(e, MSP_EINVAL, "field 'createdAt': '%s' is not "
		    "an RFC 3339 time", created);
	if ((rc = msp_email_norm(email, &norm, e)) != 0)
		return msp_err_prefix(e, "field 'email'");
	/* a re-import replaces the user; drop the old id mapping */
	rc = msp_db_get_json(st, t, MSP_DB_USERS, norm, strlen(norm), &old, e);
	if (rc == 0 && json_object_object_get_ex(old, "id", &x) &&
	    strcmp(json_object_get_string(x), id) != 0) {
		rc = msp_db_del(st, t, MSP_DB_USER_IDS,
		    json_object_get_string(x), strlen(json_object_get_string(x)), e);
		if (rc == MSP_ENOTFOUND)
			rc = 0;
	} else if (rc == MSP_ENOTFOUND) {
		rc = 0;
	}
	if (rc != 0)
		goto out;
	if ((u = user_build(id, norm, role, created)) == NULL) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	rc = user_put(st, t, u, e);
out:
	json_object_put(old);
	json_object_put(u);
	free(norm);
	return rc;
}

/* ---- videos --------------------------------------------------------- */

/* The string s, which msp_field_str found in in's field: that very object
 * when it is (shared, not copied), else a new one. */
static json_object *
share(json_object *in, const char *field, const char *s)
{
	json_object *x;

	if (json_object_object_get_ex(in, field, &x) &&
	    json_object_is_type(x, json_type_string) &&
	    json_object_get_string(x) == s)
		return json_object_get(x);
	return jstr(s);
}

/* Add a field to a record being built: each key once, a literal (so
 * json-c neither looks it up nor copies it). */
static void
field_add(json_object *out, const char *key, json_object *v)
{
	json_object_object_add_ex(out, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW |
	    JSON_C_OBJECT_ADD_CONSTANT_KEY);
}

static int
get_obj(json_object *o, const char *k, json_object **x)
{
	return json_object_object_get_ex(o, k, x) && *x != NULL;
}

static int
bget(json_object *o, const char *k)
{
	json_object *x;

	return get_obj(o, k, &x) && json_object_get_boolean(x);
}

/* Optional text field: copy into out when present and valid. */
static int
text_field(json_object *in, json_object *out, const char *field, int required,
    size_t max, int flags, struct msp_err *e)
{
	const char *s;
	int rc = msp_field_str(in, field, required, max, flags, &s, e);

	if (rc == MSP_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (required && *s == '\0')
		return msp_err_set(e, MSP_EINVAL, "field '%s': must not be empty",
		    field);
	field_add(out, field, share(in, field, s));
	return 0;
}

static int
genres_field(json_object *in, json_object *out, struct msp_err *e)
{
	json_object *g, *arr, *x;
	size_t i, j, n;
	const char *low;

	arr = json_object_new_array();
	if (!get_obj(in, "genres", &g)) {
		field_add(out, "genres", arr);
		return 0;
	}
	field_add(out, "genres", arr);
	if (!json_object_is_type(g, json_type_array))
		return msp_err_set(e, MSP_EINVAL, "field 'genres': expected an "
		    "array of strings, got %s", msp_json_type_name(g));
	n = json_object_array_length(g);
	for (i = 0; i < n; i++) {
		const char *s;
		x = json_object_array_get_idx(g, i);
		if (!json_object_is_type(x, json_type_string))
			return msp_err_set(e, MSP_EINVAL, "field 'genres': "
			    "element %zu: expected a string, got %s", i + 1,
			    msp_json_type_name(x));
		s = json_object_get_string(x);
		if (strlen(s) > 32 || !msp_utf8_valid(s, strlen(s)))
			return msp_err_set(e, MSP_EINVAL, "field 'genres': "
			    "unknown genre (see msp-catalog(1))");
		if ((low = msp_genre_canon(s)) == NULL)
			return msp_err_set(e, MSP_EINVAL, "field 'genres': "
			    "unknown genre \"%s\" (see msp-catalog(1))", s);
		for (j = 0; j < json_object_array_length(arr); j++)
			if (strcmp(json_object_get_string(
			    json_object_array_get_idx(arr, j)), low) == 0)
				break;
		if (j < json_object_array_length(arr))
			continue; /* a repeated genre counts once */
		if (json_object_array_length(arr) >= MSP_GENRES_MAX)
			return msp_err_set(e, MSP_EINVAL, "field 'genres': at "
			    "most %d genres", MSP_GENRES_MAX);
		json_object_array_add(arr, jstr(low));
	}
	return 0;
}

static int
time_field(json_object *in, json_object *out, const char *field,
    const char *dflt, struct msp_err *e)
{
	const char *s;
	int64_t ms;
	char norm[MSP_TIME_LEN + 1];
	int rc = msp_field_str(in, field, 0, 40, 0, &s, e);

	if (rc == MSP_ENOTFOUND) {
		field_add(out, field, jstr(dflt));
		return 0;
	}
	if (rc != 0)
		return rc;
	if (msp_time_parse(s, &ms) != 0)
		return msp_err_set(e, MSP_EINVAL, "field '%s': '%s' is not an "
		    "RFC 3339 time", field, s);
	msp_time_fmt(ms, norm);
	field_add(out, field, jstr(norm));
	return 0;
}

static int
path_field(json_object *in, json_object *out, struct msp_err *e)
{
	const char *s;
	int rc = msp_field_str(in, "sourceBucketFilePath", 0, 400, 0, &s, e);

	if (rc == MSP_ENOTFOUND)
		s = "";
	else if (rc != 0)
		return rc;
	if (*s != '\0' && !msp_blob_rel_ok(s))
		return msp_err_set(e, MSP_EINVAL, "field 'sourceBucketFilePath': "
		    "'%s' is not a relative path inside the store", s);
	field_add(out, "sourceBucketFilePath", share(in,
	    "sourceBucketFilePath", s));
	return 0;
}

static int
dest_field(json_object *in, json_object *out, struct msp_err *e)
{
	json_object *d, *arr = json_object_new_array();
	size_t i;

	field_add(out, "destinationBucketFilePath", arr);
	if (!get_obj(in, "destinationBucketFilePath", &d))
		return 0;
	if (!json_object_is_type(d, json_type_array))
		return msp_err_set(e, MSP_EINVAL, "field "
		    "'destinationBucketFilePath': expected an array of paths, "
		    "got %s", msp_json_type_name(d));
	for (i = 0; i < json_object_array_length(d) && i < 16; i++) {
		json_object *x = json_object_array_get_idx(d, i);
		const char *s;
		if (!json_object_is_type(x, json_type_string) ||
		    !msp_blob_rel_ok(s = json_object_get_string(x)) ||
		    strlen(s) > 1024)
			return msp_err_set(e, MSP_EINVAL, "field "
			    "'destinationBucketFilePath': element %zu is not a "
			    "relative path inside the store", i + 1);
		json_object_array_add(arr, jstr(s));
	}
	if (i < json_object_array_length(d))
		return msp_err_set(e, MSP_EINVAL, "field "
		    "'destinationBucketFilePath': at most 16 paths");
	return 0;
}

static int
details_field(json_object *in, json_object *out, struct msp_err *e)
{
	json_object *d;
	size_t n;

	if (!get_obj(in, "destinationVideoDetails", &d)) {
		field_add(out, "destinationVideoDetails",
		    json_object_new_object());
		return 0;
	}
	if (!json_object_is_type(d, json_type_object))
		return msp_err_set(e, MSP_EINVAL, "field "
		    "'destinationVideoDetails': expected an object, got %s",
		    msp_json_type_name(d));
	msp_json_str_of(d, &n);
	if (n > DETAILS_MAX)
		return msp_err_set(e, MSP_EINVAL, "field "
		    "'destinationVideoDetails': larger than %d bytes",
		    DETAILS_MAX);
	/* a deep copy keeps the input and the record independent */
	d = NULL;
	json_object_deep_copy(json_object_object_get(in,
	    "destinationVideoDetails"), &d, NULL);
	if (d == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	field_add(out, "destinationVideoDetails", d);
	return 0;
}

/*
 * Validate in as a whole video and build the canonical record (fixed field
 * order, so that export and import give the same bytes). id and times come
 * from the input when given, else from the defaults.
 */
/*
 * The part that needs no store: *up gets the normalised uploader, whose
 * existence the caller checks; *late says the failure came after the
 * uploader's field, so that a missing uploader is the first complaint.
 */
static int
video_build_pure(json_object *in, const char *dflt_id, const char *dflt_time,
    json_object **outp, char **up, int *late, struct msp_err *e)
{
	json_object *out;
	const char *vt, *s, *id;
	char *norm;
	long long n;
	int b, rc, lng;

	*outp = NULL;
	*up = NULL;
	*late = 0;
	if ((rc = msp_record_check(in, "video", 0, e)) != 0)
		return rc;
	if ((out = json_object_new_object()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	field_add(out, "type", jstr("video"));
	field_add(out, "v", json_object_new_int(1));
	rc = msp_field_str(in, "id", 0, 64, 0, &id, e);
	if (rc == MSP_ENOTFOUND)
		id = dflt_id;
	else if (rc != 0)
		goto fail;
	if (id == NULL || !msp_id_valid(id)) {
		rc = msp_err_set(e, MSP_EINVAL, "field 'id': '%s' is not an "
		    "msp id", id ? id : "");
		goto fail;
	}
	field_add(out, "id", share(in, "id", id));
	if ((rc = msp_field_str(in, "videoType", 1, 16, 0, &vt, e)) != 0)
		goto fail;
	if (strcmp(vt, "short") != 0 && strcmp(vt, "long") != 0) {
		rc = msp_err_set(e, MSP_EINVAL, "field 'videoType': expected "
		    "\"short\" or \"long\", got \"%s\"", vt);
		goto fail;
	}
	lng = vt[0] == 'l';
	field_add(out, "videoType", share(in, "videoType", vt));
	if ((rc = text_field(in, out, "name", !lng, MSP_NAME_MAX, 0, e)) != 0 ||
	    (rc = text_field(in, out, "title", lng, MSP_TITLE_MAX, 0, e)) != 0 ||
	    (rc = text_field(in, out, "about", 0, MSP_ABOUT_MAX,
	    MSP_TEXT_NEWLINES, e)) != 0)
		goto fail;
	if (lng && msp_json_sget(out, "about") == NULL)
		field_add(out, "about", jstr(""));
	rc = msp_field_str(in, "language", lng, 16, 0, &s, e);
	if (rc == 0) {
		const char *code = msp_language_canon(s);
		if (code == NULL) {
			rc = msp_err_set(e, MSP_EINVAL, "field 'language': "
			    "unknown language \"%s\" (an ISO 639-1 code or "
			    "English name from msp-catalog(1))", s);
			goto fail;
		}
		field_add(out, "language", strcmp(code, s) == 0 ?
		    share(in, "language", s) : jstr(code));
	} else if (rc != MSP_ENOTFOUND) {
		goto fail;
	}
	if (lng || json_object_object_get_ex(in, "genres", NULL))
		if ((rc = genres_field(in, out, e)) != 0)
			goto fail;
	b = 0;
	rc = msp_field_bool(in, "isPremium", 0, &b, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		goto fail;
	field_add(out, "isPremium", json_object_new_boolean(b));
	if ((rc = msp_field_str(in, "uploadedBy", 1, 254, 0, &s, e)) != 0)
		goto fail;
	if ((rc = msp_email_norm(s, &norm, e)) != 0) {
		msp_err_prefix(e, "field 'uploadedBy'");
		goto fail;
	}
	field_add(out, "uploadedBy", jstr(norm));
	*up = norm;
	*late = 1;
	if ((rc = path_field(in, out, e)) != 0 ||
	    (rc = dest_field(in, out, e)) != 0 ||
	    (rc = details_field(in, out, e)) != 0)
		goto fail;
	{
		json_object *caps = NULL;
		if ((rc = msp_caption_field(json_object_object_get(in,
		    "captions"), id, &caps, e)) != 0)
			goto fail;
		if (caps != NULL) /* only when there are some */
			field_add(out, "captions", caps);
	}
	rc = msp_field_str(in, "status", 0, 16, 0, &s, e);
	if (rc == MSP_ENOTFOUND)
		s = "uploaded";
	else if (rc != 0)
		goto fail;
	if (!msp_in_set(msp_statuses, s)) {
		rc = msp_err_set(e, MSP_EINVAL, "field 'status': expected "
		    "uploaded, processing, ready or failed, got \"%s\"", s);
		goto fail;
	}
	field_add(out, "status", share(in, "status", s));
	n = 0;
	rc = msp_field_int(in, "progress", 0, 0, 100, &n, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		goto fail;
	field_add(out, "progress", json_object_new_int((int)n));
	if ((rc = text_field(in, out, "error", 0, 1000, MSP_TEXT_NEWLINES,
	    e)) != 0)
		goto fail;
	if ((rc = time_field(in, out, "createdAt", dflt_time, e)) != 0 ||
	    (rc = time_field(in, out, "updatedAt", dflt_time, e)) != 0)
		goto fail;
	b = 0;
	rc = msp_field_bool(in, "isDeleted", 0, &b, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		goto fail;
	field_add(out, "isDeleted", json_object_new_boolean(b));
	*outp = out;
	*late = 0;
	return 0;
fail:
	json_object_put(out);
	return rc;
}

/* Whether the (normalised) uploader exists; the message names the field. */
static int
uploader_check(struct msp_store *st, MDB_txn *t, const char *up,
    struct msp_err *e)
{
	MDB_val v;
	int rc = msp_db_get(st, t, MSP_DB_USERS, up, strlen(up), &v, e);

	if (rc == MSP_ENOTFOUND)
		msp_err_set(e, rc, "field 'uploadedBy': %s: no such user", up);
	else if (rc != 0)
		msp_err_prefix(e, "field 'uploadedBy'");
	return rc;
}

static int
video_build(struct msp_store *st, MDB_txn *t, json_object *in,
    const char *dflt_id, const char *dflt_time, json_object **outp,
    struct msp_err *e)
{
	char *up;
	int late, rc, urc;

	rc = video_build_pure(in, dflt_id, dflt_time, outp, &up, &late, e);
	if (up != NULL && (rc == 0 || late) &&
	    (urc = uploader_check(st, t, up, e)) != 0) {
		json_object_put(*outp);
		*outp = NULL;
		rc = urc;
	}
	free(up);
	return rc;
}

/* Index keys of a video: "<f>\0<value>\0<id>", f one of t g l s u p. */
struct keys {
	char *k[MSP_GENRES_MAX + 8];
	size_t n[MSP_GENRES_MAX + 8];
	int count;
};

static void
keys_free(struct keys *ks)
{
	int i;

	for (i = 0; i < ks->count; i++)
		free(ks->k[i]);
	ks->count = 0;
}

/* A field's index key; none when the record lacks the field (or its id:
 * the checker reports such a record). */
static int
keys_add(struct keys *ks, char f, const char *val, const char *id)
{
	size_t vn, in;
	char *k;

	if (val == NULL || id == NULL)
		return 0;
	vn = strlen(val);
	in = strlen(id);
	if ((k = malloc(vn + in + 4)) == NULL)
		return -1;
	k[0] = f;
	k[1] = '\0';
	memcpy(k + 2, val, vn);
	k[2 + vn] = '\0';
	memcpy(k + 3 + vn, id, in);
	ks->k[ks->count] = k;
	ks->n[ks->count] = vn + in + 3;
	ks->count++;
	return 0;
}

static int
video_keys(json_object *v, struct keys *ks)
{
	const char *id = msp_json_sget(v, "id"), *s;
	json_object *g;
	size_t i;

	ks->count = 0;
	if (keys_add(ks, 't', msp_json_sget(v, "videoType"), id) != 0 ||
	    keys_add(ks, 's', msp_json_sget(v, "status"), id) != 0 ||
	    keys_add(ks, 'u', msp_json_sget(v, "uploadedBy"), id) != 0 ||
	    keys_add(ks, 'p', bget(v, "isPremium") ? "1" : "0", id) != 0)
		goto oom;
	if ((s = msp_json_sget(v, "language")) != NULL && keys_add(ks, 'l', s, id) != 0)
		goto oom;
	/* originals are stored once per content: who else uses this file */
	if ((s = msp_json_sget(v, "sourceBucketFilePath")) != NULL && *s != '\0' &&
	    keys_add(ks, 'o', s, id) != 0)
		goto oom;
	if (get_obj(v, "genres", &g))
		for (i = 0; i < json_object_array_length(g); i++)
			if (keys_add(ks, 'g', json_object_get_string(
			    json_object_array_get_idx(g, i)), id) != 0)
				goto oom;
	return 0;
oom:
	keys_free(ks);
	return -1;
}

static int
index_apply(struct msp_store *st, MDB_txn *t, json_object *before,
    json_object *after, struct msp_err *e)
{
	struct keys kb = { .count = 0 }, ka = { .count = 0 };
	int i, j, rc = 0;

	if ((before != NULL && video_keys(before, &kb) != 0) ||
	    (after != NULL && video_keys(after, &ka) != 0)) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < kb.count && rc == 0; i++) {
		for (j = 0; j < ka.count; j++)
			if (ka.n[j] == kb.n[i] &&
			    memcmp(ka.k[j], kb.k[i], kb.n[i]) == 0)
				break;
		if (j == ka.count) {
			rc = msp_db_del(st, t, MSP_DB_VINDEX, kb.k[i], kb.n[i], e);
			if (rc == MSP_ENOTFOUND)
				rc = 0;
		}
	}
	for (i = 0; i < ka.count && rc == 0; i++)
		rc = msp_db_put(st, t, MSP_DB_VINDEX, ka.k[i], ka.n[i], "", 0,
		    0, e);
out:
	keys_free(&kb);
	keys_free(&ka);
	return rc;
}

/* Store after (NULL: remove) in place of before, with indexes and
 * observers, all in t. */
static int
video_commit(struct msp_store *st, MDB_txn *t, json_object *before,
    json_object *after, struct msp_err *e)
{
	const msp_video_observer *ob;
	const char *id = msp_json_sget(after != NULL ? after : before, "id");
	int rc;

	if (after != NULL)
		rc = msp_db_put_json(st, t, MSP_DB_VIDEOS, id, strlen(id), after,
		    e);
	else
		rc = msp_db_del(st, t, MSP_DB_VIDEOS, id, strlen(id), e);
	if (rc != 0)
		return rc;
	if ((rc = index_apply(st, t, before, after, e)) != 0)
		return rc;
	for (ob = msp_video_observers; *ob != NULL; ob++)
		if ((rc = (*ob)(st, t, before, after, e)) != 0)
			return rc;
	return 0;
}

int
msp_video_get(struct msp_store *st, MDB_txn *t, const char *id,
    json_object **out, struct msp_err *e)
{
	int rc;

	*out = NULL;
	if (!msp_id_valid(id))
		return msp_err_set(e, MSP_ENOTFOUND, "%s: no such video", id);
	rc = msp_db_get_json(st, t, MSP_DB_VIDEOS, id, strlen(id), out, e);
	if (rc == MSP_ENOTFOUND)
		msp_err_set(e, rc, "%s: no such video", id);
	return rc;
}

int
msp_video_add(struct msp_store *st, MDB_txn *t, json_object *in,
    json_object **out, struct msp_err *e)
{
	char id[MSP_ID_LEN + 1], now[MSP_TIME_LEN + 1];
	json_object *v;
	MDB_val x;
	int rc;

	if (out != NULL)
		*out = NULL;
	msp_id_new(id);
	msp_time_fmt(msp_now_ms(), now);
	if ((rc = video_build(st, t, in, id, now, &v, e)) != 0)
		return rc;
	rc = msp_db_get(st, t, MSP_DB_VIDEOS, msp_json_sget(v, "id"), MSP_ID_LEN, &x, e);
	if (rc == 0) {
		rc = msp_err_set(e, MSP_EEXIST, "%s: video already exists",
		    msp_json_sget(v, "id"));
		goto out;
	}
	if (rc != MSP_ENOTFOUND)
		goto out;
	if ((rc = video_commit(st, t, NULL, v, e)) != 0)
		goto out;
	if (out != NULL) {
		*out = v;
		v = NULL;
	}
out:
	json_object_put(v);
	return rc;
}

/* Fields update may set, and how --set parses their value. */
static const struct {
	const char *name;
	char kind; /* s string, b boolean, i integer, g genres, j JSON */
} settable[] = {
	{ "name", 's' }, { "title", 's' }, { "about", 's' },
	{ "language", 's' }, { "genres", 'g' }, { "isPremium", 'b' },
	{ "status", 's' }, { "progress", 'i' }, { "error", 's' },
	{ "sourceBucketFilePath", 's' }, { "destinationBucketFilePath", 'j' },
	{ "destinationVideoDetails", 'j' }, { "isDeleted", 'b' },
	{ "captions", 'j' },
	{ NULL, 0 }
};

int
msp_video_set_arg(json_object *changes, const char *arg, struct msp_err *e)
{
	const char *eq = strchr(arg, '='), *val;
	json_object *x = NULL;
	char name[64];
	long long n;
	size_t i;

	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(name))
		return msp_err_set(e, MSP_EINVAL, "'%s': expected field=value",
		    arg);
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	val = eq + 1;
	for (i = 0; settable[i].name != NULL; i++)
		if (strcmp(settable[i].name, name) == 0)
			break;
	if (settable[i].name == NULL)
		return msp_err_set(e, MSP_EINVAL, "field '%s': cannot be set "
		    "(settable: name, title, about, language, genres, isPremium, "
		    "status, progress, error, sourceBucketFilePath, "
		    "destinationBucketFilePath, destinationVideoDetails, "
		    "isDeleted, captions)", name);
	switch (settable[i].kind) {
	case 's':
		x = jstr(val);
		break;
	case 'b':
		if (strcmp(val, "true") == 0)
			x = json_object_new_boolean(1);
		else if (strcmp(val, "false") == 0)
			x = json_object_new_boolean(0);
		else
			return msp_err_set(e, MSP_EINVAL, "field '%s': expected "
			    "true or false, got '%s'", name, val);
		break;
	case 'i':
		if (msp_parse_int(val, -1000000, 1000000, &n) != 0)
			return msp_err_set(e, MSP_EINVAL, "field '%s': expected "
			    "an integer, got '%s'", name, val);
		x = json_object_new_int64(n);
		break;
	case 'g': {
		const char *p = val;
		x = json_object_new_array();
		while (*p != '\0') {
			const char *c = strchr(p, ',');
			size_t len = c ? (size_t)(c - p) : strlen(p);
			json_object_array_add(x,
			    json_object_new_string_len(p, (int)len));
			p += len;
			if (*p == ',')
				p++;
		}
		break;
	}
	case 'j':
		x = json_tokener_parse(val);
		if (x == NULL)
			return msp_err_set(e, MSP_EINVAL, "field '%s': '%s' is "
			    "not JSON", name, val);
		break;
	}
	if (x == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	json_object_object_add(changes, name, x);
	return 0;
}

int
msp_video_update(struct msp_store *st, MDB_txn *t, const char *id,
    json_object *changes, json_object **out, struct msp_err *e)
{
	json_object *old = NULL, *merged = NULL, *v = NULL, *x;
	char now[MSP_TIME_LEN + 1];
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = msp_video_get(st, t, id, &old, e)) != 0)
		return rc;
	json_object_object_foreach(changes, key, val) {
		size_t i;
		if (strcmp(key, "id") == 0 || strcmp(key, "type") == 0 ||
		    strcmp(key, "v") == 0)
			continue;
		for (i = 0; settable[i].name != NULL; i++)
			if (strcmp(settable[i].name, key) == 0)
				break;
		if (settable[i].name == NULL) {
			if (json_object_object_get_ex(old, key, &x)) {
				rc = msp_err_set(e, MSP_EINVAL, "field '%s': "
				    "cannot be changed", key);
				goto out;
			}
			continue; /* unknown fields pass through untouched */
		}
		(void)val;
	}
	if ((rc = json_object_deep_copy(old, &merged, NULL)) != 0) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_foreach(changes, k2, v2) {
		size_t i;
		for (i = 0; settable[i].name != NULL; i++)
			if (strcmp(settable[i].name, k2) == 0)
				break;
		if (settable[i].name == NULL)
			continue;
		if (v2 == NULL)
			json_object_object_del(merged, k2);
		else
			json_object_object_add(merged, k2, json_object_get(v2));
	}
	msp_time_fmt(msp_now_ms(), now);
	json_object_object_add(merged, "updatedAt", jstr(now));
	if ((rc = video_build(st, t, merged, NULL, now, &v, e)) != 0)
		goto out;
	if ((rc = video_commit(st, t, old, v, e)) != 0)
		goto out;
	if (out != NULL) {
		*out = v;
		v = NULL;
	}
out:
	json_object_put(old);
	json_object_put(merged);
	json_object_put(v);
	return rc;
}

/* The files of a purged video that no other video uses. */
static int
files_of(struct msp_store *st, MDB_txn *t, json_object *v, json_object *files,
    struct msp_err *e)
{
	json_object *d;
	const char *s;
	size_t i;
	long others;
	int rc;

	if (files == NULL)
		return 0;
	if ((s = msp_json_sget(v, "sourceBucketFilePath")) != NULL && *s != '\0') {
		char *p = msp_sprintf("o%c%s%c", 0, s, 0);
		if (p == NULL)
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		rc = vindex_has_prefix(st, t, p, strlen(s) + 3, &others, e);
		free(p);
		if (rc != 0)
			return rc;
		if (others == 0)
			json_object_array_add(files, jstr(s));
	}
	if (get_obj(v, "captions", &d) &&
	    json_object_array_length(d) > 0) {
		char *p = msp_sprintf("%s/%s", MSP_CAPTION_DIR,
		    msp_json_sget(v, "id"));
		if (p == NULL)
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		json_object_array_add(files, jstr(p));
		free(p);
	}
	if (get_obj(v, "destinationBucketFilePath", &d))
		for (i = 0; i < json_object_array_length(d); i++) {
			/* the HLS directory holding the master playlist */
			const char *p = json_object_get_string(
			    json_object_array_get_idx(d, i));
			const char *slash = strrchr(p, '/');
			if (slash != NULL)
				json_object_array_add(files,
				    json_object_new_string_len(p,
				    (int)(slash - p)));
			else
				json_object_array_add(files, jstr(p));
		}
	return 0;
}

int
msp_video_del(struct msp_store *st, MDB_txn *t, const char *id, int purge,
    json_object *files, struct msp_err *e)
{
	json_object *ch;
	int rc;

	if (purge) {
		json_object *old;
		if ((rc = msp_video_get(st, t, id, &old, e)) != 0)
			return rc;
		rc = video_commit(st, t, old, NULL, e);
		if (rc == 0)
			rc = files_of(st, t, old, files, e);
		json_object_put(old);
		return rc;
	}
	if ((ch = json_object_new_object()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	json_object_object_add(ch, "isDeleted", json_object_new_boolean(1));
	rc = msp_video_update(st, t, id, ch, NULL, e);
	json_object_put(ch);
	return rc;
}

int
msp_video_import(struct msp_store *st, MDB_txn *t, json_object *rec,
    struct msp_err *e)
{
	json_object *v = NULL, *old = NULL;
	const char *id, *s;
	int rc;

	if ((rc = msp_record_check(rec, "video", 1, e)) != 0)
		return rc;
	if ((rc = msp_field_str(rec, "id", 1, 64, 0, &id, e)) != 0)
		return rc;
	if ((rc = msp_field_str(rec, "createdAt", 1, 40, 0, &s, e)) != 0)
		return rc;
	if ((rc = video_build(st, t, rec, NULL, "", &v, e)) != 0)
		return rc;
	id = msp_json_sget(v, "id");
	rc = msp_db_get_json(st, t, MSP_DB_VIDEOS, id, strlen(id), &old, e);
	if (rc == 0 || rc == MSP_ENOTFOUND)
		rc = video_commit(st, t, old, v, e);
	json_object_put(old);
	json_object_put(v);
	return rc;
}

/* ---- bulk import ----------------------------------------------------- */

struct msp_video_prep {
	json_object *rec;   /* the record to store; NULL when the line is bad */
	char *bytes;        /* its stored form */
	size_t n;
	char *up;           /* the normalised uploader */
	int late, rc;       /* as video_build_pure's */
	struct msp_err err;
	struct keys ks;     /* its index keys */
};

void
msp_video_prep_free(struct msp_video_prep *vp)
{
	if (vp == NULL)
		return;
	json_object_put(vp->rec);
	free(vp->bytes);
	free(vp->up);
	keys_free(&vp->ks);
	free(vp);
}

int
msp_video_prep(json_object *rec, struct msp_video_prep **vpp,
    struct msp_err *e)
{
	struct msp_video_prep *vp;
	const char *s;
	size_t n;
	int rc;

	*vpp = NULL;
	if ((vp = calloc(1, sizeof(*vp))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	msp_err_clear(&vp->err);
	rc = msp_record_check(rec, "video", 1, &vp->err);
	if (rc == 0)
		rc = msp_field_str(rec, "id", 1, 64, 0, &s, &vp->err);
	if (rc == 0)
		rc = msp_field_str(rec, "createdAt", 1, 40, 0, &s, &vp->err);
	if (rc == 0)
		rc = video_build_pure(rec, NULL, "", &vp->rec, &vp->up,
		    &vp->late, &vp->err);
	if (rc == 0) {
		if ((s = msp_json_str_of(vp->rec, &n)) == NULL ||
		    (vp->bytes = malloc(n)) == NULL ||
		    video_keys(vp->rec, &vp->ks) != 0)
			rc = MSP_ENOMEM;
		else {
			memcpy(vp->bytes, s, n);
			vp->n = n;
		}
	}
	if (rc == MSP_ENOMEM) {
		msp_video_prep_free(vp);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	vp->rc = rc;
	*vpp = vp;
	return 0;
}

json_object *
msp_video_prep_record(const struct msp_video_prep *vp)
{
	return vp->rc == 0 ? vp->rec : NULL;
}

size_t
msp_video_prep_keys(const struct msp_video_prep *vp, size_t i,
    const void **k, size_t *n)
{
	if (vp->rc != 0 || i >= (size_t)vp->ks.count)
		return 0;
	*k = vp->ks.k[i];
	*n = vp->ks.n[i];
	return (size_t)vp->ks.count;
}

int
msp_video_import_prep(struct msp_store *st, MDB_txn *t,
    const struct msp_video_prep *vp, int defer, int *replaced,
    struct msp_err *e)
{
	const msp_video_observer *ob;
	json_object *old;
	const char *id;
	MDB_val v;
	int i, rc;

	*replaced = 0;
	if (vp->rc != 0 && !vp->late) {
		*e = vp->err;
		return vp->rc;
	}
	if (vp->up != NULL && (rc = uploader_check(st, t, vp->up, e)) != 0)
		return rc;
	if (vp->rc != 0) {
		*e = vp->err;
		return vp->rc;
	}
	id = msp_json_sget(vp->rec, "id");
	/* the record is appended when its id is the greatest yet (an export
	 * is in id order): then it is new */
	rc = msp_db_put(st, t, MSP_DB_VIDEOS, id, strlen(id), vp->bytes, vp->n,
	    MDB_APPEND, e);
	if (rc == MSP_EEXIST && defer)
		return MSP_EAGAIN;
	if (rc == MSP_EEXIST) { /* not the greatest: is it there? */
		rc = msp_db_get(st, t, MSP_DB_VIDEOS, id, strlen(id), &v, e);
		if (rc == 0) { /* a video replaced: the general path */
			*replaced = 1;
			if ((rc = msp_db_get_json(st, t, MSP_DB_VIDEOS, id,
			    strlen(id), &old, e)) != 0)
				return rc;
			rc = video_commit(st, t, old, vp->rec, e);
			json_object_put(old);
			return rc;
		}
		if (rc == MSP_ENOTFOUND)
			rc = msp_db_put(st, t, MSP_DB_VIDEOS, id, strlen(id),
			    vp->bytes, vp->n, 0, e);
	}
	if (rc != 0)
		return rc;
	/* a new one: its index keys and observers, as video_commit's */
	for (i = 0; !defer && i < vp->ks.count && rc == 0; i++)
		rc = msp_db_put(st, t, MSP_DB_VINDEX, vp->ks.k[i], vp->ks.n[i],
		    "", 0, 0, e);
	for (ob = msp_video_observers; *ob != NULL && rc == 0; ob++)
		rc = (*ob)(st, t, NULL, vp->rec, e);
	return rc;
}

int
msp_video_visible(json_object *video)
{
	const char *s = msp_json_sget(video, "status");

	return s != NULL && strcmp(s, "ready") == 0 &&
	    !bget(video, "isDeleted");
}

/* ---- listing -------------------------------------------------------- */

struct lister {
	struct msp_store *st;
	MDB_txn *t;
	const struct msp_video_query *q;
	msp_each_fn fn;
	void *arg;
	long emitted;
	char last[MSP_ID_LEN + 1];
	int more;
};

static int
matches(const struct msp_video_query *q, json_object *v)
{
	const char *s;
	json_object *g;
	size_t i;

	if (!q->include_deleted && bget(v, "isDeleted"))
		return 0;
	if (q->video_type && ((s = msp_json_sget(v, "videoType")) == NULL ||
	    strcmp(s, q->video_type) != 0))
		return 0;
	if (q->language && ((s = msp_json_sget(v, "language")) == NULL ||
	    strcmp(s, q->language) != 0))
		return 0;
	if (q->status && ((s = msp_json_sget(v, "status")) == NULL ||
	    strcmp(s, q->status) != 0))
		return 0;
	if (q->uploaded_by && ((s = msp_json_sget(v, "uploadedBy")) == NULL ||
	    strcmp(s, q->uploaded_by) != 0))
		return 0;
	if (q->premium >= 0 && bget(v, "isPremium") != q->premium)
		return 0;
	if (q->genre) {
		if (!get_obj(v, "genres", &g))
			return 0;
		for (i = 0; i < json_object_array_length(g); i++)
			if (strcmp(json_object_get_string(
			    json_object_array_get_idx(g, i)), q->genre) == 0)
				break;
		if (i == json_object_array_length(g))
			return 0;
	}
	return 1;
}

/* Offer one video; returns 1 to stop the scan. */
static int
offer(struct lister *l, json_object *v, struct msp_err *e, int *rc)
{
	if (!matches(l->q, v))
		return 0;
	if (l->q->limit > 0 && l->emitted == l->q->limit) {
		l->more = 1;
		return 1;
	}
	if ((*rc = l->fn(v, l->arg, e)) != 0)
		return 1;
	l->emitted++;
	snprintf(l->last, sizeof(l->last), "%s", msp_json_sget(v, "id"));
	return 0;
}

/*
 * Walk keys of db that start with prefix p (pn bytes), each ending with a
 * video id, newest first (desc) or oldest first, strictly after the id
 * `after` when given.
 */
static int
walk(struct lister *l, enum msp_db db, const char *p, size_t pn, int desc,
    const char *after, struct msp_err *e)
{
	MDB_cursor *c;
	MDB_val k, v;
	char seek[600];
	json_tokener *tok = NULL;
	int rc, mrc, stop = 0;

	if (pn + MSP_ID_LEN + 1 > sizeof(seek))
		return msp_err_set(e, MSP_EINVAL, "filter value too long");
	memcpy(seek, p, pn);
	if (after != NULL)
		memcpy(seek + pn, after, MSP_ID_LEN);
	else
		memset(seek + pn, desc ? 0xff : 0, MSP_ID_LEN);
	k.mv_data = seek;
	k.mv_size = pn + MSP_ID_LEN;
	if ((mrc = mdb_cursor_open(l->t, msp_store_dbi(l->st, db), &c)) != 0)
		return msp_store_mdb_err(mrc, "list", e);
	if (after == NULL && !desc) {
		k.mv_size = pn;
		mrc = pn ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) :
		    mdb_cursor_get(c, &k, &v, MDB_FIRST);
	} else {
		mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (desc) {
			/* the first key strictly below seek */
			if (mrc == MDB_NOTFOUND)
				mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
			else if (mrc == 0)
				mrc = mdb_cursor_get(c, &k, &v, MDB_PREV);
		} else if (mrc == 0 && k.mv_size == pn + MSP_ID_LEN &&
		    memcmp(k.mv_data, seek, k.mv_size) == 0) {
			mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
	}
	rc = 0;
	if ((tok = json_tokener_new()) == NULL) {
		mdb_cursor_close(c);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	while (mrc == 0 && !stop) {
		json_object *vid = NULL;
		char id[MSP_ID_LEN + 1];

		if (k.mv_size != pn + MSP_ID_LEN ||
		    (pn > 0 && memcmp(k.mv_data, p, pn) != 0))
			break;
		memcpy(id, (char *)k.mv_data + pn, MSP_ID_LEN);
		id[MSP_ID_LEN] = '\0';
		if (db == MSP_DB_VIDEOS || msp_db_get(l->st, l->t,
		    MSP_DB_VIDEOS, id, MSP_ID_LEN, &v, NULL) == 0) {
			json_tokener_reset(tok);
			vid = json_tokener_parse_ex(tok, v.mv_data,
			    (int)v.mv_size);
		}
		if (vid != NULL) {
			stop = offer(l, vid, e, &rc);
			json_object_put(vid);
		}
		if (!stop)
			mrc = mdb_cursor_get(c, &k, &v, desc ? MDB_PREV :
			    MDB_NEXT);
	}
	json_tokener_free(tok);
	mdb_cursor_close(c);
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = msp_store_mdb_err(mrc, "list", e);
	return rc;
}

/* Offer one video of a feed (see msp_engage_feed): 1 taken, 0 skipped. */
static int
feed_offer(const char *id, int probe, void *arg, struct msp_err *e)
{
	struct lister *l = arg;
	json_object *v;
	int rc;

	if (msp_db_get_json(l->st, l->t, MSP_DB_VIDEOS, id, MSP_ID_LEN, &v,
	    NULL) != 0)
		return 0;
	if (!matches(l->q, v)) {
		json_object_put(v);
		return 0;
	}
	rc = probe ? 0 : l->fn(v, l->arg, e);
	json_object_put(v);
	return rc < 0 ? rc : 1;
}

int
msp_video_list(struct msp_store *st, MDB_txn *t,
    const struct msp_video_query *q, msp_each_fn fn, void *arg, char **next,
    struct msp_err *e)
{
	struct lister l = { st, t, q, fn, arg, 0, "", 0 };
	char after[MSP_ID_LEN + 1], *p = NULL, *norm = NULL, f = 0;
	const char *val = NULL, *genre = q->genre, *language = q->language;
	unsigned char *cur = NULL;
	int desc = q->sort != MSP_SORT_OLDEST, rc;
	int feed = q->sort == MSP_SORT_LIKES || q->sort == MSP_SORT_RATING;
	long n;

	*next = NULL;
	if (q->after != NULL && !feed) {
		n = msp_b64url_dec(q->after, &cur);
		if (n != MSP_ID_LEN + 2 || cur[0] != (desc ? 'n' : 'o') ||
		    cur[1] != ':') {
			free(cur);
			return msp_err_set(e, MSP_EINVAL, "'%s': not a cursor "
			    "of this listing", q->after);
		}
		memcpy(after, cur + 2, MSP_ID_LEN);
		after[MSP_ID_LEN] = '\0';
		free(cur);
		if (!msp_id_valid(after))
			return msp_err_set(e, MSP_EINVAL, "'%s': not a cursor "
			    "of this listing", q->after);
	}
	if ((rc = msp_filter_canon(&genre, &language, e)) != 0)
		return rc;
	if (q->status && !msp_in_set(msp_statuses, q->status))
		return msp_err_set(e, MSP_EINVAL, "status '%s': unknown",
		    q->status);
	if (q->video_type && strcmp(q->video_type, "short") != 0 &&
	    strcmp(q->video_type, "long") != 0)
		return msp_err_set(e, MSP_EINVAL, "type '%s': expected short or "
		    "long", q->video_type);
	/* drive the scan by the most selective index the query names */
	if (q->uploaded_by) {
		if ((rc = msp_email_norm(q->uploaded_by, &norm, e)) != 0)
			return rc;
		f = 'u';
		val = norm;
	} else if (genre) {
		f = 'g';
		val = genre;
	} else if (language) {
		f = 'l';
		val = language;
	} else if (q->status) {
		f = 's';
		val = q->status;
	} else if (q->premium == 1) {
		f = 'p';
		val = "1";
	}
	{
		struct msp_video_query q2 = *q;
		if (norm != NULL)
			q2.uploaded_by = norm;
		q2.genre = genre;
		q2.language = language;
		l.q = &q2;
		if (feed) {
			/* by likes or rating: the orders lib/engage keeps */
			rc = msp_engage_feed(st, t, q->sort, q->after, q->limit,
			    feed_offer, &l, next, e);
		} else if (f != 0) {
			size_t vn = strlen(val);
			if ((p = malloc(vn + 3)) == NULL) {
				free(norm);
				return msp_err_set(e, MSP_ENOMEM, "out of memory");
			}
			p[0] = f;
			p[1] = '\0';
			memcpy(p + 2, val, vn);
			p[2 + vn] = '\0';
			rc = walk(&l, MSP_DB_VINDEX, p, vn + 3, desc,
			    q->after ? after : NULL, e);
		} else {
			rc = walk(&l, MSP_DB_VIDEOS, "", 0, desc,
			    q->after ? after : NULL, e);
		}
	}
	free(p);
	free(norm);
	if (rc == 0 && l.more) {
		char raw[MSP_ID_LEN + 3];
		raw[0] = desc ? 'n' : 'o';
		raw[1] = ':';
		memcpy(raw + 2, l.last, MSP_ID_LEN);
		if ((*next = msp_b64url_enc(raw, MSP_ID_LEN + 2)) == NULL)
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	return rc;
}

/* ---- check ---------------------------------------------------------- */

void
msp_reportf(struct msp_report *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (r->fn != NULL)
		r->fn(buf, r->arg);
	r->count++;
}

static void
key_text(const char *k, size_t n, char *out, size_t cap)
{
	size_t i, j = 0;

	for (i = 0; i < n && j + 4 < cap; i++)
		out[j++] = k[i] == '\0' ? '/' : k[i];
	out[j] = '\0';
}

int
msp_catalog_check(struct msp_store *st, MDB_txn *t, msp_report_fn fn,
    void *arg, struct msp_err *e)
{
	MDB_cursor *c;
	MDB_val k, v;
	const msp_checker *ck;
	json_tokener *tok;
	struct msp_report rep = { fn, arg, 0 };
	int mrc, i, rc;
	char txt[700];

	if ((tok = json_tokener_new()) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	/* every video's index keys are present */
	if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VIDEOS), &c)) != 0)
		goto mdb;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct keys ks;
		json_object *vid;
		json_tokener_reset(tok);
		vid = json_tokener_parse_ex(tok, v.mv_data, (int)v.mv_size);
		if (vid == NULL || msp_json_sget(vid, "id") == NULL ||
		    k.mv_size != MSP_ID_LEN ||
		    memcmp(k.mv_data, msp_json_sget(vid, "id"), MSP_ID_LEN) != 0) {
			msp_reportf(&rep, "video %.*s: corrupt record",
			    (int)k.mv_size, (char *)k.mv_data);
			json_object_put(vid);
			continue;
		}
		if (video_keys(vid, &ks) != 0) {
			json_object_put(vid);
			mdb_cursor_close(c);
			json_tokener_free(tok);
			return msp_err_set(e, MSP_ENOMEM, "out of memory");
		}
		for (i = 0; i < ks.count; i++) {
			MDB_val x;
			if (msp_db_get(st, t, MSP_DB_VINDEX, ks.k[i], ks.n[i],
			    &x, NULL) != 0) {
				key_text(ks.k[i], ks.n[i], txt, sizeof(txt));
				msp_reportf(&rep, "video %s: index entry %s "
				    "missing", msp_json_sget(vid, "id"), txt);
			}
		}
		keys_free(&ks);
		json_object_put(vid);
	}
	mdb_cursor_close(c);
	/* every index key belongs to a video that produces it */
	if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VINDEX), &c)) != 0)
		goto mdb;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_object *vid = NULL;
		struct keys ks = { .count = 0 };
		char id[MSP_ID_LEN + 1];
		int found = 0;

		key_text(k.mv_data, k.mv_size, txt, sizeof(txt));
		if (k.mv_size < MSP_ID_LEN + 3) {
			msp_reportf(&rep, "index entry %s: malformed", txt);
			continue;
		}
		memcpy(id, (char *)k.mv_data + k.mv_size - MSP_ID_LEN,
		    MSP_ID_LEN);
		id[MSP_ID_LEN] = '\0';
		if (msp_db_get_json(st, t, MSP_DB_VIDEOS, id, MSP_ID_LEN, &vid,
		    NULL) == 0 && video_keys(vid, &ks) == 0) {
			for (i = 0; i < ks.count; i++)
				if (ks.n[i] == k.mv_size &&
				    memcmp(ks.k[i], k.mv_data, k.mv_size) == 0)
					found = 1;
			keys_free(&ks);
		}
		if (!found) {
			msp_reportf(&rep, "index entry %s: %s", txt, vid ?
			    "does not match the video" : "no such video");
		}
		json_object_put(vid);
	}
	mdb_cursor_close(c);
	/* users and their id map agree */
	if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_USERS), &c)) != 0)
		goto mdb;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_object *u;
		const char *id;
		MDB_val x;
		json_tokener_reset(tok);
		u = json_tokener_parse_ex(tok, v.mv_data, (int)v.mv_size);
		if (u == NULL || (id = msp_json_sget(u, "id")) == NULL) {
			msp_reportf(&rep, "user %.*s: corrupt record",
			    (int)k.mv_size, (char *)k.mv_data);
		} else if (msp_db_get(st, t, MSP_DB_USER_IDS, id, strlen(id),
		    &x, NULL) != 0 || x.mv_size != k.mv_size ||
		    memcmp(x.mv_data, k.mv_data, k.mv_size) != 0) {
			msp_reportf(&rep, "user %.*s: id %s not indexed",
			    (int)k.mv_size, (char *)k.mv_data, id);
		}
		json_object_put(u);
	}
	mdb_cursor_close(c);
	if ((mrc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_USER_IDS), &c)) != 0)
		goto mdb;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_object *u = NULL;
		const char *id;
		msp_db_get_json(st, t, MSP_DB_USERS, v.mv_data, v.mv_size, &u,
		    NULL);
		if (u == NULL || (id = msp_json_sget(u, "id")) == NULL ||
		    strlen(id) != k.mv_size ||
		    memcmp(id, k.mv_data, k.mv_size) != 0) {
			msp_reportf(&rep, "user id %.*s: no such user",
			    (int)k.mv_size, (char *)k.mv_data);
		}
		json_object_put(u);
	}
	mdb_cursor_close(c);
	json_tokener_free(tok);
	for (ck = msp_checkers; *ck != NULL; ck++) {
		if ((rc = (*ck)(st, t, fn, arg, e)) < 0)
			return rc;
		rep.count += rc;
	}
	return rep.count;
mdb:
	json_tokener_free(tok);
	return msp_store_mdb_err(mrc, "check", e);
}
