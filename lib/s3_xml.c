/* s3_xml: the XML answers of S3 (Error, ListBucketResult,
 * ListMultipartUploadsResult, InitiateMultipartUploadResult,
 * CompleteMultipartUploadResult), parsed with expat.
 *
 * Only the fields msp reads are kept, each bounded; a document type
 * declaration (entities) is refused, as is an element deeper than a
 * handful, since no S3 answer needs either. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "s3_int.h"
#include "util.h"

#define FIELD_MAX 4096   /* longest text kept of one element */
#define DEPTH_MAX 16
#define ITEMS_MAX 100000 /* entries of one answer */

struct ctx {
	XML_Parser p;
	struct s3_xml *x;
	char *path[DEPTH_MAX];   /* element names from the root */
	int depth;
	char text[FIELD_MAX + 1];
	size_t tn;
	int over;                /* a text went past FIELD_MAX */
	struct s3_xml_item cur;  /* the Contents or Upload being read */
	int in_item;
};

static void
fail(struct ctx *c, const char *why)
{
	if (c->x->err[0] == '\0')
		snprintf(c->x->err, sizeof(c->x->err), "%s", why);
	XML_StopParser(c->p, XML_FALSE);
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attr)
{
	struct ctx *c = arg;

	(void)attr;
	if (c->depth >= DEPTH_MAX) {
		fail(c, "elements nested too deep");
		return;
	}
	if ((c->path[c->depth] = msp_strdup(name)) == NULL) {
		fail(c, "out of memory");
		return;
	}
	if (c->depth == 0 && (c->x->root = msp_strdup(name)) == NULL) {
		fail(c, "out of memory");
		return;
	}
	c->depth++;
	c->tn = 0;
	c->over = 0;
	if (c->depth == 2 && (strcmp(name, "Contents") == 0 ||
	    strcmp(name, "Upload") == 0)) {
		memset(&c->cur, 0, sizeof(c->cur));
		c->cur.size = -1;
		c->in_item = 1;
	}
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct ctx *c = arg;

	if (len < 0 || c->tn + (size_t)len > FIELD_MAX) {
		c->over = 1;
		return;
	}
	memcpy(c->text + c->tn, s, (size_t)len);
	c->tn += (size_t)len;
}

static int
keep(struct ctx *c, char **dst)
{
	if (c->over) {
		fail(c, "a field longer than 4096 bytes");
		return -1;
	}
	free(*dst);
	c->text[c->tn] = '\0';
	if ((*dst = msp_strdup(c->text)) == NULL) {
		fail(c, "out of memory");
		return -1;
	}
	return 0;
}

static void
item_free(struct s3_xml_item *it)
{
	free(it->key);
	free(it->etag);
	free(it->upload_id);
	memset(it, 0, sizeof(*it));
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct ctx *c = arg;
	struct s3_xml *x = c->x;
	char *v = NULL;
	long long n;

	if (c->depth == 3 && c->in_item) {
		if (strcmp(name, "Key") == 0)
			keep(c, &c->cur.key);
		else if (strcmp(name, "ETag") == 0)
			keep(c, &c->cur.etag);
		else if (strcmp(name, "UploadId") == 0)
			keep(c, &c->cur.upload_id);
		else if (strcmp(name, "Size") == 0) {
			c->text[c->over ? 0 : c->tn] = '\0';
			if (msp_parse_int(c->text, 0, INT64_MAX, &n) != 0)
				fail(c, "a Size that is not a whole number");
			else
				c->cur.size = (int64_t)n;
		}
	} else if (c->depth == 2 && c->in_item) {
		c->in_item = 0;
		if (x->nitems >= ITEMS_MAX) {
			fail(c, "too many entries");
		} else if (msp_grow(&x->items, &x->capitems, x->nitems + 1,
		    sizeof(*x->items), 64) != 0) {
			fail(c, "out of memory");
		} else {
			x->items[x->nitems++] = c->cur;
			memset(&c->cur, 0, sizeof(c->cur));
		}
	} else if (c->depth == 2) {
		if (strcmp(name, "Code") == 0)
			keep(c, &x->code);
		else if (strcmp(name, "Message") == 0)
			keep(c, &x->message);
		else if (strcmp(name, "Region") == 0)
			keep(c, &x->region);
		else if (strcmp(name, "UploadId") == 0)
			keep(c, &x->upload_id);
		else if (strcmp(name, "ETag") == 0)
			keep(c, &x->etag);
		else if (strcmp(name, "NextContinuationToken") == 0)
			keep(c, &x->next_token);
		else if (strcmp(name, "NextKeyMarker") == 0)
			keep(c, &x->next_key);
		else if (strcmp(name, "NextUploadIdMarker") == 0)
			keep(c, &x->next_upload);
		else if (strcmp(name, "IsTruncated") == 0 &&
		    keep(c, &v) == 0) {
			x->truncated = strcmp(v, "true") == 0;
			free(v);
		}
	}
	if (c->depth > 0) {
		c->depth--;
		free(c->path[c->depth]);
		c->path[c->depth] = NULL;
	}
	c->tn = 0;
	c->over = 0;
}

static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	fail(arg, "a document type declaration");
}

int
s3_xml_parse(struct s3_xml *x, const char *body, size_t n)
{
	struct ctx c;
	int rc = -1, i;

	memset(x, 0, sizeof(*x));
	memset(&c, 0, sizeof(c));
	c.x = x;
	if (n > INT32_MAX) {
		snprintf(x->err, sizeof(x->err), "too long");
		return -1;
	}
	if ((c.p = XML_ParserCreate("UTF-8")) == NULL) {
		snprintf(x->err, sizeof(x->err), "out of memory");
		return -1;
	}
	XML_SetUserData(c.p, &c);
	XML_SetElementHandler(c.p, on_start, on_end);
	XML_SetCharacterDataHandler(c.p, on_text);
	XML_SetStartDoctypeDeclHandler(c.p, on_doctype);
	if (XML_Parse(c.p, body, (int)n, 1) == XML_STATUS_OK &&
	    x->err[0] == '\0' && x->root != NULL)
		rc = 0;
	else if (x->err[0] == '\0')
		snprintf(x->err, sizeof(x->err), "%s",
		    XML_ErrorString(XML_GetErrorCode(c.p)));
	for (i = 0; i < DEPTH_MAX; i++)
		free(c.path[i]);
	item_free(&c.cur);
	XML_ParserFree(c.p);
	return rc;
}

void
s3_xml_free(struct s3_xml *x)
{
	size_t i;

	free(x->root);
	free(x->code);
	free(x->message);
	free(x->region);
	free(x->upload_id);
	free(x->etag);
	free(x->next_token);
	free(x->next_key);
	free(x->next_upload);
	for (i = 0; i < x->nitems; i++)
		item_free(&x->items[i]);
	free(x->items);
	memset(x, 0, sizeof(*x));
}
