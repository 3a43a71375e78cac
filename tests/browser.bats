#!/usr/bin/env bats
# The web front in headless Chromium (Debian's, driven by playwright-core from
# web/node_modules): sign up, upload, wait until ready, play, like, search.

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
}

@test "browser: sign up, upload a clip, wait until ready, play it, like it, find it by search" {
	make_clip "$BATS_TEST_TMPDIR/clip.mp4" 3 160x90
	SERVE_WORKERS=1 start_server --ladder 90:150k
	run timeout 240 node "$BATS_TEST_DIRNAME/browser/flow.mjs" "$U" "$BATS_TEST_TMPDIR/clip.mp4" \
	    "$BATS_TEST_TMPDIR/profile"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"step: found"* ]]
}
