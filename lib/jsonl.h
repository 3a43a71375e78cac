/* jsonl: JSON Lines in and out, and typed field access with exact errors.
 * The format is documented in msp-jsonl(5). */
#ifndef MSP_JSONL_H
#define MSP_JSONL_H

#include <stdio.h>
#include <json.h>

#include "err.h"

#define MSP_JSONL_V 1
#define MSP_JSONL_MAXLINE (16u << 20) /* longest accepted line, bytes */

struct msp_jsonl;

/* Read lines from f (not closed here); name is used in messages ("-" is
 * shown as "<stdin>"). */
int msp_jsonl_open(struct msp_jsonl **rp, FILE *f, const char *name,
    struct msp_err *e);
void msp_jsonl_close(struct msp_jsonl *r);
/*
 * Next object: returns 1 with *out set (the caller puts it), 0 at the end,
 * MSP_EINVAL for a bad line (e says "name:line: reason"; reading may go on
 * with the next line), MSP_EIO when reading fails. Blank lines are skipped.
 */
int msp_jsonl_read(struct msp_jsonl *r, json_object **out, struct msp_err *e);
/* "name:line" of the line last read, for messages about its content. */
const char *msp_jsonl_where(struct msp_jsonl *r);
/* msp_jsonl_read in two steps, for readers that parse elsewhere (another
 * thread): the next line that is not blank (*line is r's, good until the
 * next call; 1, 0 at the end, or MSP_EIO), then its parse with the caller's
 * tokener, with the messages of msp_jsonl_read ("where" names the line). */
int msp_jsonl_next(struct msp_jsonl *r, const char **line, size_t *n,
    struct msp_err *e);
int msp_jsonl_parse(json_tokener *tok, const char *line, size_t n,
    const char *where, json_object **out, struct msp_err *e);
size_t msp_jsonl_lineno(const struct msp_jsonl *r);

/* Write one object as one line (plain, no slash escaping) and the newline. */
int msp_jsonl_write(FILE *f, json_object *o, struct msp_err *e);
/* Serialise to a string owned by o. */
const char *msp_json_str_of(json_object *o, size_t *len);

/*
 * Typed fields. required: a missing field (or JSON null) is an error; when
 * not required and missing, the call returns MSP_ENOTFOUND and leaves *out.
 * Errors name the field: "field 'title': expected a string".
 */
#define MSP_TEXT_NEWLINES 0x1 /* allow LF, CR in the string */
int msp_field_str(json_object *o, const char *field, int required,
    size_t maxchars, int textflags, const char **out, struct msp_err *e);
int msp_field_bool(json_object *o, const char *field, int required, int *out,
    struct msp_err *e);
int msp_field_int(json_object *o, const char *field, int required,
    long long min, long long max, long long *out, struct msp_err *e);
/* Validate a string the same way (for command-line values). */
int msp_text_check(const char *what, const char *s, size_t maxchars,
    int textflags, struct msp_err *e);
/* A string field of o, or NULL when o is NULL or the field is absent or
 * not a string. The string belongs to o. */
const char *msp_json_sget(json_object *o, const char *field);
/* Parse stored bytes (not NUL-terminated) into an object; NULL if not JSON.
 * The caller puts it. */
json_object *msp_json_parse(const void *p, size_t n);

/* Name of a JSON value's type for messages: "string", "number" ... */
const char *msp_json_type_name(json_object *o);
/* Check "type" (must equal want when present, or be absent if optional) and
 * "v" (at most MSP_JSONL_V). */
int msp_record_check(json_object *o, const char *want, int type_required,
    struct msp_err *e);

#endif
