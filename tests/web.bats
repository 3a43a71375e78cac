#!/usr/bin/env bats
# The web front's server side: its files and their Content-Security-Policy,
# the plans route, and the poster and thumbnail links of videos.

load helper
load serve_helper

setup() {
	setup_store
	msp-catalog user add owner@example.org >/dev/null
}

teardown() {
	stop_server
}

csp_of() { # csp_of PATH: the Content-Security-Policy of GET PATH
	curl -s -D - -o /dev/null "$U$1" | sed -n 's/^Content-Security-Policy: \(.*\)\r$/\1/p'
}

@test "web: the front's files go out under a CSP: own scripts and styles, Razorpay Checkout, no framing" {
	start_server
	want="default-src 'none'; script-src 'self' https://checkout.razorpay.com; style-src 'self'; img-src 'self'; media-src 'self' blob:; connect-src 'self' https://api.razorpay.com https://lumberjack.razorpay.com; frame-src https://api.razorpay.com https://checkout.razorpay.com; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
	for p in / /app.js /style.css /vendor/hls.min.js; do
		[ "$(csp_of "$p")" = "$want" ] || { echo "$p: $(csp_of "$p")"; return 1; }
	done
	run curl -s -D - -o /dev/null "$U/"
	[[ "$output" == *"X-Frame-Options: DENY"* ]]
	[[ "$output" == *"Content-Type: text/html; charset=utf-8"* ]]
	# the API's answers carry no page policy
	run curl -s -D - -o /dev/null "$U/health"
	[[ "$output" != *"Content-Security-Policy"* ]]
	req GET /index.html
	[ "$code" = 404 ]
}

@test "web: --media-origin names the bucket in img-src, media-src and connect-src; a bad origin is a usage error" {
	start_server --media-origin https://media.example.net:8443
	csp=$(csp_of /)
	[[ "$csp" == *"img-src 'self' https://media.example.net:8443;"* ]]
	[[ "$csp" == *"media-src 'self' blob: https://media.example.net:8443;"* ]]
	[[ "$csp" == *"connect-src 'self' https://media.example.net:8443 https://api.razorpay.com"* ]]
	stop_server
	for bad in 'https://x.example; script-src *' 'ftp://x.example' 'https://x.example/path' \
	    'https://' 'https://x.example:0' "https://x'y"; do
		run --separate-stderr msp-serve --media-origin "$bad"
		[ "$status" -eq 2 ] || { echo "$bad: $status"; return 1; }
		[[ "$stderr" == "msp-serve: --media-origin: '$bad' is not an origin (https://HOST[:PORT])"* ]]
	done
}

@test "web: GET /premium/plans lists the plans in paise, without a session or a Razorpay key" {
	start_server
	req GET /premium/plans
	[ "$code" = 200 ]
	[ "$(jq -c '[.plans[] | [.months, .amount, .currency]]' <<<"$body")" = '[[1,9900,"INR"],[3,28900,"INR"],[6,56900,"INR"],[12,89900,"INR"]]' ]
	[ "$(jq -r .configured <<<"$body")" = false ]
	req POST /premium/plans -d '{}'
	[ "$code" = 405 ]
}

@test "web: videos carry posterUrl, thumbnailsUrl and duration; a premium poster is public, its segments are not" {
	make_clip "$BATS_TEST_TMPDIR/c.mp4" 2 160x90
	{
		msp-ingest -t long --title Free --language en --uploaded-by owner@example.org "$BATS_TEST_TMPDIR/c.mp4"
		msp-ingest -t long --title Paid --language en --premium --uploaded-by owner@example.org "$BATS_TEST_TMPDIR/c.mp4"
	} | msp-transcode --ladder 90:150k >/dev/null
	free=$(msp-catalog list --type long | jq -r 'select(.title == "Free") | .id')
	paid=$(msp-catalog list --type long | jq -r 'select(.title == "Paid") | .id')
	start_server
	req GET "/videos/$free"
	[ "$code" = 200 ]
	[ "$(jq -r .posterUrl <<<"$body")" = "/hls/$free/poster.jpg" ]
	[ "$(jq -r .thumbnailsUrl <<<"$body")" = "/hls/$free/sprite.vtt" ]
	[ "$(jq -r .duration <<<"$body")" = 2 ]
	req GET "/videos/$paid"
	[ "$(jq -r .locked <<<"$body")" = true ]
	[ "$(jq -r .posterUrl <<<"$body")" = "/hls/$paid/poster.jpg" ]
	[ "$(jq -r '.thumbnailsUrl // "none"' <<<"$body")" = none ]
	[ "$(jq -r '.playbackUrl // "none"' <<<"$body")" = none ]
	run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$U/hls/$paid/poster.jpg"
	[ "$output" = "200 image/jpeg" ]
	for f in sprite.jpg sprite.vtt master.m3u8; do
		req GET "/hls/$paid/$f"
		[ "$code" = 403 ] || { echo "$f: $code"; return 1; }
	done
	# the owner gets signed links, the poster and thumbnails included
	printf 'correct horse battery\n' | msp-serve --passwd owner@example.org >/dev/null
	tok=$(curl -s -X POST "$U/auth/login" -d '{"email":"owner@example.org","password":"correct horse battery"}' | jq -r .token)
	req GET "/videos/$paid" -H "Authorization: Bearer $tok"
	thumbs=$(jq -r .thumbnailsUrl <<<"$body")
	[[ "$thumbs" == "/hls/$paid/"*"/sprite.vtt" ]]
	req GET "$thumbs"
	[ "$code" = 200 ] && [[ "$body" == WEBVTT* ]]
	# search hits carry what a result card shows
	req GET "/opensearch?q=free"
	[ "$(jq -r '.hits.hits[0]._source | [.posterUrl, .duration, .status] | @tsv' <<<"$body")" = "/hls/$free/poster.jpg	2	ready" ]
}
