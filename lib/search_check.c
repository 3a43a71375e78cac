/*
 * search: the checker. Every visible video is indexed with the terms its
 * fields give, nothing else is, and the term, variant and corpus counts
 * agree with the postings (msp-catalog check).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonl.h"
#include "search.h"
#include "search_int.h"
#include "text.h"
#include "util.h"

/* One visible video against its document and postings. */
static int
check_video(struct msp_store *st, MDB_txn *t, json_object *o,
    struct msp_report *c, struct stats *sum, uint64_t *nstart,
    uint64_t *npairs, struct msp_err *e)
{
	const char *id = jstr(o, "id");
	unsigned char ik[1 + MSP_ID_LEN], dk[5], key[2 + PAIR_MAX + 4];
	struct buf post = { 0 }, recs = { 0 }, pairs = { 0 };
	const unsigned char *pval;
	const char *pname;
	uint32_t pvn;
	size_t p, pn;
	struct docrec d;
	struct toks tk;
	const char *dt;
	size_t i, j, f;
	MDB_val v;
	int rc;

	if (id == NULL || strlen(id) != MSP_ID_LEN)
		return 0;
	ik[0] = 'I';
	memcpy(ik + 1, id, MSP_ID_LEN);
	rc = msp_db_get(st, t, MSP_DB_SEARCH, ik, sizeof(ik), &v, e);
	if (rc == MSP_ENOTFOUND) {
		msp_reportf(c, "search: video %s: visible but not indexed", id);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (v.mv_size != 4) {
		msp_reportf(c, "search: video %s: bad document number", id);
		return 0;
	}
	dk[0] = 'D';
	memcpy(dk + 1, v.mv_data, 4);
	rc = msp_db_get(st, t, MSP_DB_SEARCH, dk, 5, &v, e);
	if (rc == MSP_ENOTFOUND) {
		msp_reportf(c, "search: video %s: document missing", id);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (msp_search_doc_parse(v.mv_data, v.mv_size, &d) != 0 ||
	    strcmp(d.id, id) != 0) {
		msp_reportf(c, "search: video %s: corrupt document", id);
		return 0;
	}
	if ((rc = msp_search_doc_words(o, &tk, e)) != 0)
		return rc;
	for (f = 0; f < MSP_SF_COUNT; f++) {
		sum->len[f] += tk.len[f];
		if (d.len[f] != tk.len[f])
			msp_reportf(c, "search: video %s: %s has %u words, index "
			    "says %u", id, msp_search_field_names[f],
			    (unsigned)tk.len[f], (unsigned)d.len[f]);
	}
	if (d.flags != doc_flags(o))
		msp_reportf(c, "search: video %s: type or premium flag differs", id);
	dt = d.terms;
	key[0] = 'P';
	for (i = 0; i < tk.n; i = j) {
		const char *term = tk.v[i].term;
		size_t tn = strlen(term);
		MDB_val pv;

		if (dt >= d.terms_end || strcmp(dt, term) != 0)
			msp_reportf(c, "search: video %s: term '%s' not in its "
			    "document", id, term);
		else
			dt += tn + 1;
		if (msp_search_posting_encode(&tk, i, &j, (unsigned char)doc_flags(o),
		    &post) != 0) {
			rc = nomem(e);
			goto out;
		}
		if (tn <= MSP_TERM_MAX && msp_search_rec_add(&recs, term, tn,
		    post.p, post.n) != 0) {
			rc = nomem(e);
			goto out;
		}
		memcpy(key + 1, term, tn);
		key[1 + tn] = '\0';
		memcpy(key + 2 + tn, dk + 1, 4);
		rc = msp_db_get(st, t, MSP_DB_SEARCH, key, tn + 6, &pv, e);
		if (rc == MSP_ENOTFOUND)
			msp_reportf(c, "search: video %s: no posting for '%s'", id,
			    term);
		else if (rc != 0)
			goto out;
		else if (pv.mv_size != post.n ||
		    memcmp(pv.mv_data, post.p, post.n) != 0)
			msp_reportf(c, "search: video %s: posting for '%s' differs",
			    id, term);
		if (msp_search_post_start(post.p, post.n)) {
			(*nstart)++;
			key[0] = 'E';
			rc = msp_db_get(st, t, MSP_DB_SEARCH, key, tn + 6, &pv,
			    e);
			key[0] = 'P';
			if (rc == MSP_ENOTFOUND)
				msp_reportf(c, "search: video %s: no start entry "
				    "for '%s'", id, term);
			else if (rc != 0)
				goto out;
			else if (pv.mv_size != post.n ||
			    memcmp(pv.mv_data, post.p, post.n) != 0)
				msp_reportf(c, "search: video %s: start entry "
				    "for '%s' differs", id, term);
		}
		rc = 0;
	}
	if (dt < d.terms_end)
		msp_reportf(c, "search: video %s: document has extra terms", id);
	/* the word pairs */
	if (msp_search_pairs(&recs, &pairs) != 0) {
		rc = nomem(e);
		goto out;
	}
	for (p = 0; msp_search_rec_next(&pairs, &p, &pname, &pn, &pval,
	    &pvn);) {
		unsigned char ak[PAIR_KEY_MAX];
		size_t an = pair_key(ak, pname, pn, be32_get(dk + 1));
		MDB_val av;
		(*npairs)++;
		rc = msp_db_get(st, t, MSP_DB_SEARCH, ak, an, &av, e);
		if (rc == MSP_ENOTFOUND)
			msp_reportf(c, "search: video %s: no entry for the words "
			    "'%.*s' together", id, (int)pn, pname);
		else if (rc != 0)
			goto out;
		else if (av.mv_size != pvn ||
		    memcmp(av.mv_data, pval, pvn) != 0)
			msp_reportf(c, "search: video %s: entry for the words "
			    "'%.*s' together differs", id, (int)pn, pname);
		rc = 0;
	}
	if (msp_search_content(o, &post) != 0) {
		rc = nomem(e);
		goto out;
	}
	dk[0] = 'C';
	rc = msp_db_get(st, t, MSP_DB_SEARCH, dk, 5, &v, e);
	if (rc != 0 && rc != MSP_ENOTFOUND)
		goto out;
	if (rc != 0 || v.mv_size != post.n ||
	    memcmp(v.mv_data, post.p, post.n) != 0)
		msp_reportf(c, "search: video %s: stored text differs", id);
	rc = 0;
	sum->docs++;
out:
	free(tk.v);
	free(post.p);
	free(recs.p);
	free(pairs.p);
	return rc;
}

static int
check_df(struct msp_store *st, MDB_txn *t, const char *term, uint32_t count,
    struct msp_report *c, struct msp_err *e)
{
	unsigned char tk[1 + MSP_TERM_MAX];
	uint32_t df = 0;
	size_t n = strlen(term);
	MDB_val x;
	int rc;

	tk[0] = 'T';
	memcpy(tk + 1, term, n);
	rc = msp_db_get(st, t, MSP_DB_SEARCH, tk, n + 1, &x, e);
	if (rc == 0 && x.mv_size == 4)
		memcpy(&df, x.mv_data, 4);
	else if (rc != 0 && rc != MSP_ENOTFOUND)
		return rc;
	if (df != count)
		msp_reportf(c, "search: term '%s': %u postings, dictionary says %u",
		    term, (unsigned)count, (unsigned)df);
	return 0;
}

/* The term's typo variants are all there; *n counts them. */
static int
check_variants(struct msp_store *st, MDB_txn *t, const char *term, size_t tn,
    struct msp_report *c, long long *n, struct msp_err *e)
{
	unsigned char key[2 + 2 * MSP_TERM_MAX];
	struct variants vs;
	size_t i;
	MDB_val x;
	int dels = msp_search_term_dels(term, tn), rc;

	if (dels == 0)
		return 0;
	if (msp_search_variants(term, tn, dels, &vs) != 0)
		return nomem(e);
	for (i = 0; i < vs.n; i++) {
		size_t kn = msp_search_vkey(key, vs.v[i], term, tn);
		rc = msp_db_get(st, t, MSP_DB_SEARCH, key, kn, &x, e);
		if (rc == MSP_ENOTFOUND) {
			msp_reportf(c, "search: term '%.*s': typo variant '%s' "
			    "missing", (int)tn, term, vs.v[i]);
		} else if (rc != 0) {
			free(vs.v);
			return rc;
		}
	}
	*n += (long long)vs.n;
	free(vs.v);
	return 0;
}

int
msp_search_check(struct msp_store *st, MDB_txn *t, msp_report_fn fn,
    void *arg, struct msp_err *e)
{
	struct msp_report c = { fn, arg, 0 };
	struct stats s, sum;
	MDB_cursor *cv = NULL, *cs = NULL;
	json_tokener *tok = NULL;
	char term[MSP_TERM_MAX + 1] = "";
	uint32_t count = 0, ndocs = 0;
	uint64_t nstart = 0, nstart_keys = 0, npairs = 0, npair_keys = 0;
	long long nvar = 0;
	MDB_val k, v;
	size_t f;
	int rc, r2, have = 0;

	memset(&sum, 0, sizeof(sum));
	if ((rc = msp_search_stats_get(st, t, &s, e)) != 0)
		return rc;
	if ((tok = json_tokener_new()) == NULL)
		return nomem(e);
	if ((rc = mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_VIDEOS),
	    &cv)) != 0 || (rc = mdb_cursor_open(t,
	    msp_store_dbi(st, MSP_DB_SEARCH), &cs)) != 0) {
		rc = msp_store_mdb_err(rc, "search", e);
		goto out;
	}
	/* every video: indexed when visible, with the right postings */
	for (rc = mdb_cursor_get(cv, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cv, &k, &v, MDB_NEXT)) {
		json_object *o;

		json_tokener_reset(tok);
		if ((o = json_tokener_parse_ex(tok, v.mv_data,
		    (int)v.mv_size)) == NULL)
			continue; /* the catalog's checker reports it */
		if (visible(o)) {
			r2 = check_video(st, t, o, &c, &sum, &nstart, &npairs,
			    e);
		} else {
			unsigned char ik[1 + MSP_ID_LEN];
			const char *id = jstr(o, "id");
			MDB_val iv;

			r2 = 0;
			if (id != NULL && strlen(id) == MSP_ID_LEN) {
				ik[0] = 'I';
				memcpy(ik + 1, id, MSP_ID_LEN);
				r2 = msp_db_get(st, t, MSP_DB_SEARCH, ik,
				    sizeof(ik), &iv, e);
				if (r2 == 0)
					msp_reportf(&c, "search: video %s: indexed "
					    "but not visible", id);
				if (r2 == MSP_ENOTFOUND)
					r2 = 0;
			}
		}
		json_object_put(o);
		if (r2 != 0) {
			rc = r2;
			goto out;
		}
	}
	if (rc != MDB_NOTFOUND) {
		rc = msp_store_mdb_err(rc, "videos", e);
		goto out;
	}
	/* documents whose video is gone, and the term frequencies */
	for (rc = mdb_cursor_get(cs, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cs, &k, &v, MDB_NEXT)) {
		const char *kp = k.mv_data;
		MDB_val x;

		if (kp[0] == 'D' && k.mv_size == 5) {
			struct docrec d;
			ndocs++;
			if (msp_search_doc_parse(v.mv_data, v.mv_size, &d) != 0) {
				msp_reportf(&c, "search: corrupt document %u",
				    (unsigned)be32_get(
				    (const unsigned char *)k.mv_data + 1));
				continue;
			}
			r2 = msp_db_get(st, t, MSP_DB_VIDEOS, d.id,
			    MSP_ID_LEN, &x, e);
			if (r2 == MSP_ENOTFOUND)
				msp_reportf(&c, "search: video %s: indexed but "
				    "not in the catalog", d.id);
			else if (r2 != 0) {
				rc = r2;
				goto out;
			}
		} else if (kp[0] == 'E') {
			nstart_keys++;
		} else if (kp[0] == 'A') {
			npair_keys++;
		} else if (kp[0] == 'P') {
			const char *z = memchr(kp + 1, '\0', k.mv_size - 1);
			size_t tn = z ? (size_t)(z - kp - 1) : 0;

			if (z == NULL || tn > MSP_TERM_MAX) {
				msp_reportf(&c, "search: malformed posting key");
				continue;
			}
			if (have && strcmp(term, kp + 1) != 0) {
				if ((r2 = check_df(st, t, term, count, &c,
				    e)) != 0) {
					rc = r2;
					goto out;
				}
				have = 0;
			}
			if (!have) {
				memcpy(term, kp + 1, tn + 1);
				have = 1;
				count = 0;
			}
			count++;
		}
	}
	if (rc != MDB_NOTFOUND) {
		rc = msp_store_mdb_err(rc, "search", e);
		goto out;
	}
	rc = 0;
	if (have && (rc = check_df(st, t, term, count, &c, e)) != 0)
		goto out;
	/* dictionary entries without postings */
	k.mv_size = 1;
	k.mv_data = "T";
	for (r2 = mdb_cursor_get(cs, &k, &v, MDB_SET_RANGE); r2 == 0 &&
	    ((const char *)k.mv_data)[0] == 'T';
	    r2 = mdb_cursor_get(cs, &k, &v, MDB_NEXT)) {
		unsigned char pk[2 + MSP_TERM_MAX];
		MDB_cursor *c2;
		MDB_val k2, v2;
		size_t n = k.mv_size - 1;
		int found;

		if (n > MSP_TERM_MAX)
			continue;
		pk[0] = 'P';
		memcpy(pk + 1, (const char *)k.mv_data + 1, n);
		pk[1 + n] = '\0';
		if (mdb_cursor_open(t, msp_store_dbi(st, MSP_DB_SEARCH),
		    &c2) != 0)
			break;
		k2.mv_size = n + 2;
		k2.mv_data = pk;
		found = mdb_cursor_get(c2, &k2, &v2, MDB_SET_RANGE) == 0 &&
		    k2.mv_size > n + 2 && memcmp(k2.mv_data, pk, n + 2) == 0;
		mdb_cursor_close(c2);
		if (!found)
			msp_reportf(&c, "search: term '%.*s': in the dictionary "
			    "without postings", (int)n,
			    (const char *)k.mv_data + 1);
		if ((r2 = check_variants(st, t, (const char *)k.mv_data + 1,
		    n, &c, &nvar, e)) != 0) {
			rc = r2;
			goto out;
		}
	}
	/* typo variants of terms no longer in the dictionary */
	k.mv_size = 1;
	k.mv_data = "V";
	for (r2 = mdb_cursor_get(cs, &k, &v, MDB_SET_RANGE); r2 == 0 &&
	    ((const char *)k.mv_data)[0] == 'V';
	    r2 = mdb_cursor_get(cs, &k, &v, MDB_NEXT)) {
		const char *kp = k.mv_data, *z;
		unsigned char tk[1 + MSP_TERM_MAX];
		MDB_val x;
		size_t n;

		nvar--;
		z = memchr(kp + 1, '\0', k.mv_size - 1);
		n = z ? k.mv_size - (size_t)(z - kp) - 1 : 0;
		if (z == NULL || n == 0 || n > MSP_TERM_MAX) {
			msp_reportf(&c, "search: malformed variant key");
			continue;
		}
		tk[0] = 'T';
		memcpy(tk + 1, z + 1, n);
		if (msp_db_get(st, t, MSP_DB_SEARCH, tk, n + 1, &x, e) ==
		    MSP_ENOTFOUND)
			msp_reportf(&c, "search: typo variant '%s' of '%.*s', which "
			    "is not in the dictionary", kp + 1, (int)n, z + 1);
	}
	if (nstart_keys != nstart)
		msp_reportf(&c, "search: %llu start entries, the videos give "
		    "%llu", (unsigned long long)nstart_keys,
		    (unsigned long long)nstart);
	if (npair_keys != npairs)
		msp_reportf(&c, "search: %llu entries for words together, the "
		    "videos give %llu", (unsigned long long)npair_keys,
		    (unsigned long long)npairs);
	if (nvar > 0)
		msp_reportf(&c, "search: %lld typo variants missing", nvar);
	else if (nvar < 0)
		msp_reportf(&c, "search: %lld typo variants too many", -nvar);
	if (s.docs != ndocs || s.docs != sum.docs)
		msp_reportf(&c, "search: corpus counts %llu documents, index holds "
		    "%u, visible videos %llu", (unsigned long long)s.docs,
		    (unsigned)ndocs, (unsigned long long)sum.docs);
	for (f = 0; f < MSP_SF_COUNT; f++)
		if (s.len[f] != sum.len[f])
			msp_reportf(&c, "search: corpus length of %s is %llu, the "
			    "videos give %llu", msp_search_field_names[f],
			    (unsigned long long)s.len[f],
			    (unsigned long long)sum.len[f]);
	rc = c.count;
out:
	if (cv != NULL)
		mdb_cursor_close(cv);
	if (cs != NULL)
		mdb_cursor_close(cs);
	json_tokener_free(tok);
	return rc;
}
