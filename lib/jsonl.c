#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"
#include "util.h"

struct msp_jsonl {
	FILE *f;
	char *name;
	char *line;
	size_t cap;
	size_t lineno;
	json_tokener *tok;
	char where[600];
};

int
msp_jsonl_open(struct msp_jsonl **rp, FILE *f, const char *name,
    struct msp_err *e)
{
	struct msp_jsonl *r;

	*rp = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	r->f = f;
	r->name = msp_strdup(strcmp(name, "-") == 0 ? "<stdin>" : name);
	r->tok = json_tokener_new_ex(64);
	if (r->name == NULL || r->tok == NULL) {
		msp_jsonl_close(r);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	*rp = r;
	return 0;
}

void
msp_jsonl_close(struct msp_jsonl *r)
{
	if (r == NULL)
		return;
	if (r->tok != NULL)
		json_tokener_free(r->tok);
	free(r->line);
	free(r->name);
	free(r);
}

const char *
msp_jsonl_where(struct msp_jsonl *r)
{
	snprintf(r->where, sizeof(r->where), "%s:%zu", r->name, r->lineno);
	return r->where;
}

size_t
msp_jsonl_lineno(const struct msp_jsonl *r)
{
	return r->lineno;
}

int
msp_jsonl_next(struct msp_jsonl *r, const char **line, size_t *len,
    struct msp_err *e)
{
	ssize_t n;
	size_t i;

	*line = NULL;
	*len = 0;
	for (;;) {
		errno = 0;
		n = getline(&r->line, &r->cap, r->f);
		if (n < 0) {
			if (ferror(r->f))
				return msp_err_set(e, MSP_EIO, "%s: %s", r->name,
				    strerror(errno ? errno : EIO));
			return 0;
		}
		r->lineno++;
		if (n > 0 && r->line[n - 1] == '\n')
			r->line[--n] = '\0';
		if (n > 0 && r->line[n - 1] == '\r')
			r->line[--n] = '\0';
		for (i = 0; i < (size_t)n; i++)
			if (r->line[i] != ' ' && r->line[i] != '\t')
				break;
		if (i < (size_t)n)
			break;
	}
	*line = r->line;
	*len = (size_t)n;
	return 1;
}

int
msp_jsonl_parse(json_tokener *tok, const char *line, size_t n,
    const char *where, json_object **out, struct msp_err *e)
{
	json_object *o;
	enum json_tokener_error jerr;
	size_t i;

	*out = NULL;
	if (n > MSP_JSONL_MAXLINE)
		return msp_err_set(e, MSP_EINVAL, "%s: line longer than %u bytes",
		    where, MSP_JSONL_MAXLINE);
	if (!msp_utf8_valid(line, n))
		return msp_err_set(e, MSP_EINVAL, "%s: invalid UTF-8", where);
	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, line, (int)n);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue)
		return msp_err_set(e, MSP_EINVAL, "%s: column %zu: unexpected "
		    "end of line", where, n + 1);
	if (jerr != json_tokener_success || o == NULL) {
		json_object_put(o);
		return msp_err_set(e, MSP_EINVAL, "%s: column %zu: %s", where,
		    json_tokener_get_parse_end(tok) + 1,
		    json_tokener_error_desc(jerr));
	}
	for (i = json_tokener_get_parse_end(tok); i < n; i++) {
		if (line[i] != ' ' && line[i] != '\t') {
			json_object_put(o);
			return msp_err_set(e, MSP_EINVAL, "%s: column %zu: "
			    "trailing characters after the object", where, i + 1);
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return msp_err_set(e, MSP_EINVAL, "%s: not a JSON object",
		    where);
	}
	*out = o;
	return 1;
}

int
msp_jsonl_read(struct msp_jsonl *r, json_object **out, struct msp_err *e)
{
	const char *line;
	size_t n;
	int rc;

	*out = NULL;
	if ((rc = msp_jsonl_next(r, &line, &n, e)) <= 0)
		return rc;
	return msp_jsonl_parse(r->tok, line, n, msp_jsonl_where(r), out, e);
}

const char *
msp_json_str_of(json_object *o, size_t *len)
{
	return json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

int
msp_jsonl_write(FILE *f, json_object *o, struct msp_err *e)
{
	size_t n;
	const char *s = msp_json_str_of(o, &n);

	if (s == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	if (fwrite(s, 1, n, f) != n || putc('\n', f) == EOF)
		return msp_err_set(e, MSP_EIO, "write: %s", strerror(errno));
	return 0;
}

const char *
msp_json_sget(json_object *o, const char *field)
{
	json_object *x;

	if (o == NULL || !json_object_object_get_ex(o, field, &x) ||
	    !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

json_object *
msp_json_parse(const void *p, size_t n)
{
	json_tokener *tok;
	json_object *o;

	if (n > INT_MAX || (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, p, (int)n);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

const char *
msp_json_type_name(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null: return "null";
	case json_type_boolean: return "boolean";
	case json_type_double:
	case json_type_int: return "number";
	case json_type_object: return "object";
	case json_type_array: return "array";
	case json_type_string: return "string";
	}
	return "value";
}

/* Whether s[0..n) is all ASCII: then it is valid UTF-8 of n characters. */
static int
ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

static int
text_check(const char *field, const char *what, const char *s,
    size_t maxchars, int textflags, struct msp_err *e)
{
	size_t n = strlen(s);
	int plain = ascii(s, n);
	const char *fmt = field != NULL ? "field '%s': " : "%s: ";
	const char *name = field != NULL ? field : what;
	char pre[512];

	if ((plain || msp_utf8_valid(s, n)) &&
	    !msp_has_control(s, n, textflags & MSP_TEXT_NEWLINES) &&
	    (maxchars == 0 || (plain ? n : msp_utf8_len(s, n)) <= maxchars))
		return 0;
	/* the complaint: named as the caller asked */
	snprintf(pre, sizeof(pre), fmt, name);
	if (!plain && !msp_utf8_valid(s, n))
		return msp_err_set(e, MSP_EINVAL, "%sinvalid UTF-8", pre);
	if (msp_has_control(s, n, textflags & MSP_TEXT_NEWLINES))
		return msp_err_set(e, MSP_EINVAL,
		    "%scontrol characters are not allowed", pre);
	return msp_err_set(e, MSP_EINVAL, "%slonger than %zu characters",
	    pre, maxchars);
}

int
msp_text_check(const char *what, const char *s, size_t maxchars,
    int textflags, struct msp_err *e)
{
	return text_check(NULL, what, s, maxchars, textflags, e);
}

static int
field_get(json_object *o, const char *field, int required, json_object **x,
    struct msp_err *e)
{
	if (!json_object_object_get_ex(o, field, x) || *x == NULL) {
		if (required)
			return msp_err_set(e, MSP_EINVAL,
			    "field '%s': required", field);
		return MSP_ENOTFOUND;
	}
	return 0;
}

int
msp_field_str(json_object *o, const char *field, int required,
    size_t maxchars, int textflags, const char **out, struct msp_err *e)
{
	json_object *x;
	int rc;

	if ((rc = field_get(o, field, required, &x, e)) != 0)
		return rc;
	if (!json_object_is_type(x, json_type_string))
		return msp_err_set(e, MSP_EINVAL,
		    "field '%s': expected a string, got %s", field,
		    msp_json_type_name(x));
	if (strlen(json_object_get_string(x)) !=
	    (size_t)json_object_get_string_len(x))
		return msp_err_set(e, MSP_EINVAL, "field '%s': NUL character",
		    field);
	if ((rc = text_check(field, NULL, json_object_get_string(x), maxchars,
	    textflags, e)) != 0)
		return rc;
	*out = json_object_get_string(x);
	return 0;
}

int
msp_field_bool(json_object *o, const char *field, int required, int *out,
    struct msp_err *e)
{
	json_object *x;
	int rc;

	if ((rc = field_get(o, field, required, &x, e)) != 0)
		return rc;
	if (!json_object_is_type(x, json_type_boolean))
		return msp_err_set(e, MSP_EINVAL,
		    "field '%s': expected true or false, got %s", field,
		    msp_json_type_name(x));
	*out = json_object_get_boolean(x);
	return 0;
}

int
msp_field_int(json_object *o, const char *field, int required,
    long long min, long long max, long long *out, struct msp_err *e)
{
	json_object *x;
	int64_t v;
	int rc;

	if ((rc = field_get(o, field, required, &x, e)) != 0)
		return rc;
	if (!json_object_is_type(x, json_type_int))
		return msp_err_set(e, MSP_EINVAL,
		    "field '%s': expected an integer, got %s", field,
		    json_object_is_type(x, json_type_double) ? "a fraction" :
		    msp_json_type_name(x));
	v = json_object_get_int64(x);
	if (v < min || v > max)
		return msp_err_set(e, MSP_EINVAL,
		    "field '%s': %lld is out of range %lld to %lld", field,
		    (long long)v, min, max);
	*out = v;
	return 0;
}

int
msp_record_check(json_object *o, const char *want, int type_required,
    struct msp_err *e)
{
	const char *t;
	long long v;
	int rc;

	rc = msp_field_str(o, "type", type_required, 64, 0, &t, e);
	if (rc == 0 && strcmp(t, want) != 0)
		return msp_err_set(e, MSP_EINVAL,
		    "field 'type': expected \"%s\", got \"%s\"", want, t);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	rc = msp_field_int(o, "v", 0, 1, MSP_JSONL_V, &v, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		return msp_err_set(e, MSP_EINVAL, "field 'v': format version "
		    "not supported (this msp reads %d)", MSP_JSONL_V);
	return 0;
}
