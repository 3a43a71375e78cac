/* The web front: its fixed set of files, served under a
 * Content-Security-Policy that allows only the front's own scripts and
 * styles, media from this origin (and the media origin when media is
 * delivered from a bucket) and Razorpay Checkout; and the links a page
 * needs to show a video (poster, scrubbing thumbnails). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"

/* Razorpay Checkout: its script, the frame it opens and what that frame
 * and the script call. */
#define RZP_SCRIPT "https://checkout.razorpay.com"
#define RZP_FRAME "https://api.razorpay.com"
#define RZP_CONNECT "https://api.razorpay.com https://lumberjack.razorpay.com"

static const struct {
	const char *url, *file;
} web_files[] = {
	{ "/", "index.html" },
	{ "/app.js", "app.js" },
	{ "/style.css", "style.css" },
	{ "/vendor/hls.min.js", "node_modules/hls.js/dist/hls.min.js" },
	{ "/vendor/tus.min.js", "node_modules/tus-js-client/dist/tus.min.js" },
	{ "/vendor/dash.min.js",
	    "node_modules/dashjs/dist/modern/umd/dash.mediaplayer.min.js" },
	{ NULL, NULL }
};

char *
msp_http_csp(const char *media_origin)
{
	const char *m = media_origin != NULL ? media_origin : "";
	const char *sp = media_origin != NULL ? " " : "";

	return msp_sprintf("default-src 'none'; "
	    "script-src 'self' " RZP_SCRIPT "; "
	    "style-src 'self'; "
	    "img-src 'self'%s%s; "
	    "media-src 'self' blob:%s%s; "
	    "connect-src 'self'%s%s " RZP_CONNECT "; "
	    "frame-src " RZP_FRAME " " RZP_SCRIPT "; "
	    "form-action 'self'; base-uri 'none'; object-src 'none'; "
	    "frame-ancestors 'none'",
	    sp, m, sp, m, sp, m);
}

void
msp_route_web(struct msp_req *r)
{
	size_t i;

	if (r->h->c.web_dir == NULL) {
		msp_reply_error(r, 404, "%s: no web front (--web)", r->url);
		return;
	}
	for (i = 0; web_files[i].url != NULL; i++)
		if (strcmp(web_files[i].url, r->url) == 0)
			break;
	if (web_files[i].url == NULL) {
		msp_reply_error(r, 404, "%s: no such route", r->url);
		return;
	}
	msp_reply_file(r, r->h->c.web_dir, web_files[i].file, "no-cache");
}

/* The headers of a route's answers that msp_reply adds: the web front's
 * security headers, tus's version. */
void
msp_http_web_headers(struct msp_req *r, struct MHD_Response *resp)
{
	char *csp;

	msp_http_tus_headers(r, resp);
	if (r->route == NULL || r->route->fn != msp_route_web)
		return;
	if ((csp = msp_http_csp(r->h->c.media_origin)) != NULL)
		MHD_add_response_header(resp, "Content-Security-Policy", csp);
	free(csp);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

/* A ready video's poster, scrubbing thumbnails and (fMP4) DASH manifest,
 * under the same path (and token) as its playlist; a locked premium
 * video gets its public poster only. */
void
msp_http_media_links(json_object *v, const char *id, const char *playback)
{
	json_object *d, *hls, *x;
	const char *slash;
	char *s;

	if (!json_object_object_get_ex(v, "destinationVideoDetails", &d) ||
	    !json_object_object_get_ex(d, "hls", &hls))
		return;
	if (json_object_object_get_ex(d, "duration", &x))
		json_object_object_add(v, "duration", json_object_get(x));
	if (playback == NULL || (slash = strrchr(playback, '/')) == NULL) {
		if (json_object_object_get_ex(hls, "poster", &x) &&
		    (s = msp_sprintf("/hls/%s/poster.jpg", id)) != NULL) {
			json_object_object_add(v, "posterUrl",
			    json_object_new_string(s));
			free(s);
		}
		return;
	}
	if (json_object_object_get_ex(hls, "poster", &x) &&
	    (s = msp_sprintf("%.*s/poster.jpg", (int)(slash - playback),
	    playback)) != NULL) {
		json_object_object_add(v, "posterUrl", json_object_new_string(s));
		free(s);
	}
	if (json_object_object_get_ex(hls, "thumbnails", &x) &&
	    (s = msp_sprintf("%.*s/sprite.vtt", (int)(slash - playback),
	    playback)) != NULL) {
		json_object_object_add(v, "thumbnailsUrl",
		    json_object_new_string(s));
		free(s);
	}
	if (json_object_object_get_ex(hls, "dash", &x) &&
	    (s = msp_sprintf("%.*s/manifest.mpd", (int)(slash - playback),
	    playback)) != NULL) {
		json_object_object_add(v, "dashUrl", json_object_new_string(s));
		free(s);
	}
}

int
msp_http_origin_check(const char *s)
{
	const char *p;
	long long port;

	if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else
		return -1;
	if (*p == '[') {
		for (p++; *p != ']'; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' &&
			    *p <= 'f') || (*p >= 'A' && *p <= 'F') || *p == ':'))
				return -1;
		p++;
	} else {
		const char *h = p;
		for (; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'; p++)
			;
		if (p == h)
			return -1;
	}
	if (*p == ':')
		return msp_parse_int(p + 1, 1, 65535, &port) == 0 ? 0 : -1;
	return *p == '\0' ? 0 : -1;
}
