#!/usr/bin/env bats
# The web front in headless Chromium (Debian's, driven by playwright-core from
# web/node_modules), under the page's Content-Security-Policy, at a phone's
# and a desktop's size: the short feed, the catalogue and search as cards,
# sign-up, upload, processing, the player with scrubbing previews, captions
# (an HLS subtitles group) and a search hit in them that starts playback at
# its cue, ratings,
# the locked premium page and a purchase through a stand-in for Razorpay
# Checkout (answered by tests/fake-razorpay.py). Screenshots of each page at
# both sizes go to $MSP_BUILD/screenshots.

load helper
load serve_helper

setup() {
	setup_store
	if [ ! -x "${MSP_CHROMIUM:-/usr/bin/chromium}" ]; then
		skip "chromium is not installed (scripts/deps test installs it)"
	fi
	[ -d "$BATS_TEST_DIRNAME/../web/node_modules/playwright-core" ] || {
		echo "web/node_modules is missing: run make check (it runs npm ci)" >&2
		return 1
	}
}

teardown() {
	stop_server
	[ -z "${FAKE_PID:-}" ] || kill "$FAKE_PID" 2>/dev/null || true
}

@test "browser: feed, catalogue, search, upload, player, rating, premium at phone and desktop sizes, no CSP violation" {
	make_clip "$BATS_TEST_TMPDIR/s1.mp4" 4 90x160
	make_clip "$BATS_TEST_TMPDIR/s2.mp4" 5 90x160
	make_clip "$BATS_TEST_TMPDIR/s3.mp4" 3 90x160
	make_clip "$BATS_TEST_TMPDIR/long.mp4" 6 160x90
	msp-catalog user add owner@example.org >/dev/null
	printf 'WEBVTT\n\n00:00.000 --> 00:02.000\nNight falls\n\n00:02.500 --> 00:05.500\nA heron waits by the water\n' \
	    > "$BATS_TEST_TMPDIR/en.vtt"
	printf '1\n00:00:00,000 --> 00:00:05,000\nraat\n' > "$BATS_TEST_TMPDIR/hi.srt"
	{
		msp-ingest -t short --name 'Morning run' --uploaded-by owner@example.org "$BATS_TEST_TMPDIR/s1.mp4"
		msp-ingest -t short --name 'Cat on a wall' --uploaded-by owner@example.org "$BATS_TEST_TMPDIR/s2.mp4"
		msp-ingest -t long --title 'River at night' --about 'A slow river under the moon.' \
		    --language en -g drama --uploaded-by owner@example.org \
		    --caption en="$BATS_TEST_TMPDIR/en.vtt" --caption hi="$BATS_TEST_TMPDIR/hi.srt" \
		    "$BATS_TEST_TMPDIR/long.mp4"
		msp-ingest -t long --title 'Harbour lights' --about 'Boats come home.' \
		    --language hi -g thriller --premium --uploaded-by owner@example.org "$BATS_TEST_TMPDIR/long.mp4"
	} | msp-transcode --ladder 90:150k >/dev/null
	river=$(msp-search river | jq -r 'select(.type == "hit") | .id')
	msp-rate set owner@example.org "$river" 4 >/dev/null
	start_fake_razorpay
	# no workers: the test sees an upload wait, then transcodes it itself
	SERVE_WORKERS=0 start_server
	mkdir -p "$MSP_BUILD/screenshots"
	run timeout 400 env MSP_TRANSCODE="msp-transcode --pending --ladder 90:150k" \
	    node "$BATS_TEST_DIRNAME/browser/flow.mjs" "$U" "$BATS_TEST_TMPDIR/s3.mp4" \
	    "$BATS_TEST_TMPDIR/profile" "$MSP_BUILD/screenshots"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"step: done"* ]]
	[[ "$output" != *"csp violation"* ]]
	ls "$MSP_BUILD/screenshots"/catalog-phone.png "$MSP_BUILD/screenshots"/catalog-desktop.png
}

@test "browser: a long video transcoded in chunks plays straight through in hls.js" {
	make_clip "$BATS_TEST_TMPDIR/long.mp4" 6 160x90
	msp-catalog user add owner@example.org >/dev/null
	msp-ingest -t long --title 'Three chunks' --language en -g drama \
	    --uploaded-by owner@example.org "$BATS_TEST_TMPDIR/long.mp4" > /dev/null
	# three chunks of two one-second segments, by a worker without a store
	run --separate-stderr bash -c 'msp-transcode --emit 0 --chunk 2 -t 1 --ladder 90:150k |
	    (cd "$BATS_TEST_TMPDIR" && msp-transcode --job - --media "$MSP_STORE/media") |
	    msp-transcode --apply -'
	[ "$status" -eq 0 ]
	vid=$(jq -r 'select(.status == "ready") | .id' <<<"$output")
	msp-catalog get "$vid" | jq -e '.destinationVideoDetails.hls.chunks == 3' >/dev/null
	bounds=$(msp-catalog export | jq -r 'select(.type == "job" and .videoId == "'"$vid"'") |
	    [.chunks[1:][].start] | map(tostring) | join(",")')
	[ "$bounds" = "2,4" ]
	start_server
	signed=$(msp-serve --sign "$vid")
	run timeout 120 node "$BATS_TEST_DIRNAME/browser/chunks.mjs" "$U" \
	    "${signed}master.m3u8" "$BATS_TEST_TMPDIR/profile" "$bounds"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"step: done"* ]]
}
