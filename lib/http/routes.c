/* The route table and the account routes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "catalog.h"
#include "internal.h"
#include "jsonl.h"
#include "util.h"

static void route_signup(struct msp_req *r);
static void route_login(struct msp_req *r);
static void route_logout(struct msp_req *r);
static void route_me(struct msp_req *r);

const struct msp_route msp_routes[] = {
	{ "GET", "/health", msp_route_health, 0, NULL },
	{ "GET", "/metrics", msp_route_metrics, 0, NULL },
	{ "POST", "/auth/signup", route_signup, R_JSON | R_HASH, NULL },
	{ "POST", "/auth/login", route_login, R_JSON | R_HASH, NULL },
	{ "POST", "/auth/logout", route_logout, R_AUTH | R_JSON, NULL },
	{ "GET", "/me", route_me, R_AUTH, NULL },
	{ "GET", "/videos/", msp_route_video_get, R_PREFIX, "/videos/*" },
	{ "DELETE", "/videos/", msp_route_video_del, R_PREFIX | R_AUTH,
	    "/videos/*" },
	{ "PATCH", "/videos/", msp_route_video_patch,
	    R_PREFIX | R_AUTH | R_JSON, "/videos/*" },
	{ "PUT", "/videos/", msp_route_caption_put,
	    R_PREFIX | R_AUTH | R_TEXT, "/videos/*/captions/*" },
	{ "PUT", "/short-content/upload", msp_route_upload_short,
	    R_AUTH | R_UPLOAD, NULL },
	{ "PUT", "/long-content/upload", msp_route_upload_long,
	    R_AUTH | R_UPLOAD, NULL },
	{ "OPTIONS", "/files/", msp_route_tus_options, R_PREFIX, "/files/*" },
	{ "POST", "/files/", msp_route_tus_create, R_PREFIX | R_AUTH,
	    "/files/*" },
	{ "GET", "/files/", msp_route_tus_head, R_PREFIX | R_AUTH, "/files/*" },
	{ "PATCH", "/files/", msp_route_tus_patch, R_PREFIX | R_AUTH | R_TUS,
	    "/files/*" },
	{ "DELETE", "/files/", msp_route_tus_delete, R_PREFIX | R_AUTH,
	    "/files/*" },
	{ "POST", "/short-content/get", msp_route_short_get, R_JSON, NULL },
	{ "POST", "/long-content/get", msp_route_long_get, R_JSON, NULL },
	{ "POST", "/short-content/like", msp_route_like, R_AUTH | R_JSON,
	    NULL },
	{ "POST", "/long-content/rating", msp_route_rating, R_AUTH | R_JSON,
	    NULL },
	{ "POST", "/query", msp_route_query, R_AUTH | R_JSON, NULL },
	{ "POST", "/premium/payment", msp_route_premium_payment,
	    R_AUTH | R_JSON, NULL },
	{ "GET", "/premium/plans", msp_route_premium_plans, 0, NULL },
	{ "POST", "/premium/confirm", msp_route_premium_confirm,
	    R_AUTH | R_JSON, NULL },
	{ "GET", "/opensearch", msp_route_search, 0, NULL },
	{ "POST", "/opensearch", msp_route_search_index, R_ADMIN | R_JSON,
	    NULL },
	{ "GET", "/hls/", msp_route_hls, R_PREFIX, "/hls/*" },
	{ "GET", "/", msp_route_web, 0, NULL },
	{ "GET", "/app.js", msp_route_web, 0, NULL },
	{ "GET", "/style.css", msp_route_web, 0, NULL },
	{ "GET", "/vendor/hls.min.js", msp_route_web, 0, NULL },
	{ "GET", "/vendor/tus.min.js", msp_route_web, 0, NULL },
	{ "GET", "/vendor/dash.min.js", msp_route_web, 0, NULL },
};
const size_t msp_nroutes = sizeof(msp_routes) / sizeof(msp_routes[0]);

/* A required string field, or a 400 naming it. */
static const char *
want_str(struct msp_req *r, const char *field, size_t max)
{
	struct msp_err e;
	const char *s = NULL;

	if (msp_field_str(r->json, field, 1, max, 0, &s, &e) != 0) {
		msp_reply_error(r, 400, "%s", e.msg);
		return NULL;
	}
	return s;
}

static void
route_signup(struct msp_req *r)
{
	const char *email, *pw;
	json_object *u = NULL;
	struct msp_err e;

	if ((email = want_str(r, "email", 254)) == NULL ||
	    (pw = want_str(r, "password", MSP_PASSWORD_MAX)) == NULL)
		return;
	if (msp_auth_signup(r->h->st, email, pw, &u, &e) != 0) {
		msp_reply_err(r, &e);
		return;
	}
	msp_reply_json(r, 201, u);
	json_object_put(u);
}

static void
route_login(struct msp_req *r)
{
	const char *email, *pw;
	json_object *s = NULL, *o, *x, *u = NULL;
	struct MHD_Response *resp;
	struct msp_err e;
	char *tok = NULL, *cookie, client[MSP_THROTTLE_CLIENT];
	long retry = 0;
	int rc;

	if ((email = want_str(r, "email", 254)) == NULL ||
	    (pw = want_str(r, "password", MSP_PASSWORD_MAX)) == NULL)
		return;
	msp_req_client(r, client);
	rc = msp_auth_login(r->h->st, r->h->throttle, client, email, pw,
	    r->h->c.session_ttl, &tok, &s, &retry, &e);
	if (rc == MSP_EPERM) {
		msp_reply_error(r, 401, "%s", e.msg);
		return;
	}
	if (rc == MSP_EAGAIN) {
		r->retry_after = retry > 0 ? retry : 1;
		msp_reply_error(r, 429, "%s", e.msg);
		return;
	}
	if (rc != 0) {
		msp_reply_err(r, &e);
		return;
	}
	if (msp_auth_session(r->h->st, tok, &u, &e) != 0) {
		free(tok);
		json_object_put(s);
		msp_reply_err(r, &e);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(tok));
	if (json_object_object_get_ex(s, "expiresAt", &x))
		json_object_object_add(o, "expiresAt", json_object_get(x));
	json_object_object_add(o, "user", u);
	cookie = msp_sprintf("msp_session=%s; Path=/; Max-Age=%ld; HttpOnly; "
	    "SameSite=Strict%s", tok, r->h->c.session_ttl,
	    r->h->c.secure_cookie ? "; Secure" : "");
	r->email = NULL;
	{
		const char *js = json_object_to_json_string_length(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    NULL);
		resp = MHD_create_response_from_buffer(strlen(js), (void *)js,
		    MHD_RESPMEM_MUST_COPY);
		r->bytes = strlen(js);
	}
	if (resp != NULL) {
		MHD_add_response_header(resp, "Content-Type",
		    "application/json; charset=utf-8");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		if (cookie != NULL)
			MHD_add_response_header(resp, "Set-Cookie", cookie);
	}
	msp_reply(r, 200, resp);
	free(cookie);
	free(tok);
	json_object_put(s);
	json_object_put(o);
}

static void
route_logout(struct msp_req *r)
{
	struct MHD_Response *resp;
	struct msp_err e;
	static const char ok[] = "{\"status\":\"signed out\"}\n";

	if (msp_auth_logout(r->h->st, r->token, &e) != 0) {
		msp_reply_err(r, &e);
		return;
	}
	resp = MHD_create_response_from_buffer(sizeof(ok) - 1, (void *)ok,
	    MHD_RESPMEM_PERSISTENT);
	if (resp != NULL) {
		MHD_add_response_header(resp, "Content-Type",
		    "application/json; charset=utf-8");
		MHD_add_response_header(resp, "Set-Cookie", "msp_session=; "
		    "Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
		r->bytes = sizeof(ok) - 1;
	}
	msp_reply(r, 200, resp);
}

static void
route_me(struct msp_req *r)
{
	msp_reply_json(r, 200, r->user);
}
