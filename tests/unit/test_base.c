/* Unit tests of the base floor: ids, times, UTF-8, email, store, JSONL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonl.h"
#include "store.h"
#include "util.h"
#include "tap.h"

static void
test_ids(void)
{
	char a[MSP_ID_LEN + 1], b[MSP_ID_LEN + 1];
	int i, sorted = 1, valid = 1;
	int64_t now = msp_now_ms();

	msp_id_new(a);
	for (i = 0; i < 10000; i++) {
		msp_id_new(b);
		if (strcmp(a, b) >= 0)
			sorted = 0;
		if (!msp_id_valid(b))
			valid = 0;
		memcpy(a, b, sizeof(a));
	}
	ok(sorted, "ids strictly increase within a process");
	ok(valid, "ids are valid");
	ok(strlen(a) == 26 && strspn(a, "0123456789abcdefghjkmnpqrstvwxyz") == 26,
	    "26 characters of lowercase Crockford base32");
	ok(llabs(msp_id_ms(a) - now) < 5000, "the id carries its time");
	ok(!msp_id_valid("01M86T8HYXD1YQ7DNW1FEARE5A"), "upper case refused");
	ok(!msp_id_valid("../../etc/passwd"), "junk refused");
	ok(!msp_id_valid("81m86t8hyxd1yq7dnw1feare5a"), "first digit > 7 refused");
}

static void
test_time(void)
{
	char s[MSP_TIME_LEN + 1];
	int64_t ms;

	msp_time_fmt(1795956424123LL, s);
	ok(strcmp(s, "2026-11-29T12:47:04.123Z") == 0, "format: %s", s);
	ok(msp_time_parse(s, &ms) == 0 && ms == 1795956424123LL, "round trip");
	ok(msp_time_parse("2026-11-29T14:47:04+02:00", &ms) == 0 &&
	    ms == 1795956424000LL, "offsets");
	ok(msp_time_parse("2026-11-28 12:47:04", &ms) != 0, "no T refused");
	ok(msp_time_parse("2026-11-28T12:47:04", &ms) != 0, "no zone refused");
	ok(msp_time_parse("2026-11-28T12:47:04Zjunk", &ms) != 0, "trailing junk");
}

static void
test_text(void)
{
	char *e = NULL;
	struct msp_err err;

	ok(msp_utf8_valid("h\xc3\xa9llo", 6), "valid UTF-8");
	ok(!msp_utf8_valid("\xc3\x28", 2), "invalid UTF-8");
	ok(!msp_utf8_valid("a\0b", 3), "NUL refused");
	ok(msp_utf8_len("h\xc3\xa9llo", 6) == 5, "length in characters");
	ok(msp_has_control("a\x01", 2, 0) && !msp_has_control("a\tb", 3, 0),
	    "control characters");
	ok(msp_has_control("a\nb", 3, 0) && !msp_has_control("a\nb", 3, 1),
	    "newlines only when allowed");
	ok(msp_email_norm("Ann@Example.COM", &e, &err) == 0 &&
	    strcmp(e, "ann@example.com") == 0, "email lower-cased");
	free(e);
	ok(msp_email_norm("ann@@example.com", &e, &err) == MSP_EINVAL,
	    "two @ refused");
	ok(msp_email_norm("ann@localhost", &e, &err) == MSP_EINVAL,
	    "no dot in domain refused");
	ok(msp_email_norm("ann..x@example.com", &e, &err) == MSP_EINVAL,
	    "double dot refused");
}

static void
test_store(void)
{
	char dir[] = "/tmp/msp-unit-XXXXXX";
	struct msp_store *st;
	struct msp_err e;
	MDB_txn *t;
	MDB_val v;
	char *val;
	int rc;

	ok(mkdtemp(dir) != NULL, "temp dir");
	rc = msp_store_open(&st, dir, 0, &e);
	ok(rc == 0, "open creates the store");
	ok(msp_txn_begin(st, 1, &t, &e) == 0, "write txn");
	ok(msp_meta_put(st, t, "k", "v", &e) == 0, "meta put");
	ok(msp_txn_commit(st, t, &e) == 0, "commit");
	ok(msp_txn_begin(st, 0, &t, &e) == 0, "read txn");
	ok(msp_meta_get(st, t, "k", &val, &e) == 0 && strcmp(val, "v") == 0,
	    "meta get");
	free(val);
	ok(msp_meta_get(st, t, "schema", &val, &e) == 0 &&
	    strcmp(val, "1") == 0, "schema 1 written on creation");
	free(val);
	ok(msp_db_get(st, t, MSP_DB_USERS, "x", 1, &v, &e) == MSP_ENOTFOUND,
	    "absent key");
	msp_txn_abort(st, t);
	msp_store_close(st);
	ok(msp_store_open(&st, "/nonexistent/msp", MSP_STORE_EXISTING, &e) ==
	    MSP_ENOTFOUND && strcmp(e.msg, "/nonexistent/msp: no store here") == 0,
	    "existing-only open of a missing store: %s", e.msg);
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ok(system(cmd) == 0, "cleanup");
	}
}

static void
test_jsonl(void)
{
	const char *in = "{\"a\":1}\n\n  \n{\"b\":\n[1]\n{\"c\":\"x\"} junk\n"
	    "{\"d\":\"\xff\"}\n{\"e\":2}";
	FILE *f = fmemopen((void *)in, strlen(in), "r");
	struct msp_jsonl *r;
	struct msp_err e;
	json_object *o;
	long long n;
	const char *s;

	ok(msp_jsonl_open(&r, f, "t.jsonl", &e) == 0, "open");
	ok(msp_jsonl_read(r, &o, &e) == 1, "first object");
	ok(msp_field_int(o, "a", 1, 0, 10, &n, &e) == 0 && n == 1, "int field");
	ok(msp_field_str(o, "a", 1, 10, 0, &s, &e) == MSP_EINVAL &&
	    strcmp(e.msg, "field 'a': expected a string, got number") == 0,
	    "type error names the field");
	ok(msp_field_str(o, "zz", 1, 10, 0, &s, &e) == MSP_EINVAL &&
	    strcmp(e.msg, "field 'zz': required") == 0, "required");
	ok(msp_field_str(o, "zz", 0, 10, 0, &s, &e) == MSP_ENOTFOUND,
	    "optional absent");
	json_object_put(o);
	ok(msp_jsonl_read(r, &o, &e) == MSP_EINVAL &&
	    strcmp(e.msg, "t.jsonl:4: column 6: unexpected end of line") == 0,
	    "unfinished line: %s", e.msg);
	ok(msp_jsonl_read(r, &o, &e) == MSP_EINVAL &&
	    strcmp(e.msg, "t.jsonl:5: not a JSON object") == 0, "array: %s",
	    e.msg);
	ok(msp_jsonl_read(r, &o, &e) == MSP_EINVAL &&
	    strcmp(e.msg, "t.jsonl:6: column 11: trailing characters after "
	    "the object") == 0, "junk after: %s", e.msg);
	ok(msp_jsonl_read(r, &o, &e) == MSP_EINVAL &&
	    strcmp(e.msg, "t.jsonl:7: invalid UTF-8") == 0, "bad UTF-8: %s",
	    e.msg);
	ok(msp_jsonl_read(r, &o, &e) == 1, "a last line without newline");
	json_object_put(o);
	ok(msp_jsonl_read(r, &o, &e) == 0, "end");
	msp_jsonl_close(r);
	fclose(f);
}

int
main(void)
{
	test_ids();
	test_time();
	test_text();
	test_store();
	test_jsonl();
	done_testing();
}
