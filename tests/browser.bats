#!/usr/bin/env bats
# The web front in headless Chromium (Debian's, driven by playwright-core from
# web/node_modules), under the page's Content-Security-Policy, at a phone's
# and a desktop's size: the short feed, the catalogue and search as cards,
# sign-up, upload, processing, the player with scrubbing previews, ratings,
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

# the fake Razorpay API on a free port: sets MSP_RAZORPAY_*
start_fake_razorpay() {
	local fake="$BATS_TEST_DIRNAME/fake-razorpay.py"
	mkdir -p "$BATS_TEST_TMPDIR/fake"
	python3 "$fake" serve --dir "$BATS_TEST_TMPDIR/fake" --key-id rzp_test_K3y \
	    --key-secret sk_test_S3cret --parent "$BASHPID" --idle 300 >/dev/null 2>&1 3>&- &
	FAKE_PID=$!
	for _ in $(seq 200); do [ -f "$BATS_TEST_TMPDIR/fake/port" ] && break; sleep 0.05; done
	export MSP_RAZORPAY_URL="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/fake/port")"
	export MSP_RAZORPAY_KEY_ID=rzp_test_K3y MSP_RAZORPAY_KEY_SECRET=sk_test_S3cret
}

@test "browser: feed, catalogue, search, upload, player, rating, premium at phone and desktop sizes, no CSP violation" {
	make_clip "$BATS_TEST_TMPDIR/s1.mp4" 4 90x160
	make_clip "$BATS_TEST_TMPDIR/s2.mp4" 5 90x160
	make_clip "$BATS_TEST_TMPDIR/s3.mp4" 3 90x160
	make_clip "$BATS_TEST_TMPDIR/long.mp4" 6 160x90
	msp-catalog user add owner@example.org >/dev/null
	{
		msp-ingest -t short --name 'Morning run' --uploaded-by owner@example.org "$BATS_TEST_TMPDIR/s1.mp4"
		msp-ingest -t short --name 'Cat on a wall' --uploaded-by owner@example.org "$BATS_TEST_TMPDIR/s2.mp4"
		msp-ingest -t long --title 'River at night' --about 'A slow river under the moon.' \
		    --language en -g drama --uploaded-by owner@example.org "$BATS_TEST_TMPDIR/long.mp4"
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
