#!/usr/bin/env bats
# The MPEG-DASH manifest msp writes beside master.m3u8 for fMP4 output:
# checked against the HLS playlists through an independent parser
# (mpd-parser, tests/dash/mpd-parse.mjs), delivered by msp-serve like the
# playlists, and played by dash.js in Chromium (tests/browser/dash.mjs).

load helper
load serve_helper

setup() {
	setup_store
	[ -d "$BATS_TEST_DIRNAME/../web/node_modules/mpd-parser" ] || {
		echo "web/node_modules is missing: run make check (it runs npm ci)" >&2
		return 1
	}
}

teardown() {
	stop_server
}

# verify_dash DIR: DIR/manifest.mpd is well-formed XML that mpd-parser
# reads as a finished presentation; it names, rung by rung, the init
# segment and every segment of the HLS variant, in order, with the same
# durations; each file it names exists and no segment is left unnamed
verify_dash() {
	local d=$1 p hls mpd named
	xmllint --noout "$d/manifest.mpd" || return 1
	p=$(node "$BATS_TEST_DIRNAME/dash/mpd-parse.mjs" "$d/manifest.mpd") || return 1
	[ "$(jq .endList <<<"$p")" = true ] || { echo "not static: $p"; return 1; }
	hls=$(for r in $(grep -v '^#' "$d/master.m3u8" | cut -d/ -f1); do
		awk -F'[:,]' -v r="$r" '/^#EXTINF/ { t = $2 } /^seg/ {
		    printf "%s/%s %.4f\n", r, $0, t }' "$d/$r/index.m3u8"; done)
	mpd=$(jq -r '.reps[] | .segments[] | "\(.[0]) \(.[1])"' <<<"$p" |
	    awk '{ printf "%s %.4f\n", $1, $2 }')
	[ -n "$hls" ] && [ "$hls" = "$mpd" ] ||
		{ echo "hls:"; echo "$hls"; echo "mpd:"; echo "$mpd"; return 1; }
	[ "$(jq -r '.reps[] | .init' <<<"$p")" = \
	    "$(grep -v '^#' "$d/master.m3u8" | sed 's|/.*|/init.mp4|')" ] ||
		{ echo "init segments: $p"; return 1; }
	for f in $(jq -r '.reps[] | .init, .segments[][0]' <<<"$p"); do
		[ -f "$d/$f" ] || { echo "$f: named, not there"; return 1; }
	done
	named=$(jq '[.reps[] | .segments[]] | length' <<<"$p")
	[ "$(find "$d" -name '*.m4s' | wc -l)" -eq "$named" ] ||
		{ echo "segments on disk that the manifest does not name"; return 1; }
}

@test "fMP4: manifest.mpd names the HLS variants' own segments with their exact durations; mpd-parser reads it" {
	make_clip in.mp4 3 320x180
	run msp-transcode --preset ultrafast --segment 1 --ladder 90:150k,180:300k -i in.mp4 -o out
	[ "$status" -eq 0 ]
	[ "$(jq -r .details.dash <<<"$output")" = manifest.mpd ]
	verify_dash out
	grep -q 'type="static" mediaPresentationDuration="PT3\.1[0-9]*S"' out/manifest.mpd
	grep -q '<Representation id="180p" bandwidth="[0-9]*" codecs="avc1\.[0-9a-f]*,mp4a.40.2" width="320" height="180" sar="1:1" frameRate="25">' out/manifest.mpd
	# one copy of the media: only the playlists and the manifest besides
	[ "$(find out -type f ! -name '*.m4s' ! -name init.mp4 ! -name '*.m3u8' \
	    ! -name 'sprite.*' ! -name poster.jpg | tr '\n' ' ')" = "out/manifest.mpd " ]
}

@test "audio only: an audio/mp4 adaptation; --format ts: no manifest" {
	ffmpeg -v error -f lavfi -i sine=frequency=440:duration=2 -c:a aac in.m4a
	run msp-transcode --segment 1 -i in.m4a -o out
	[ "$status" -eq 0 ]
	verify_dash out
	grep -q 'mimeType="audio/mp4"' out/manifest.mpd
	make_clip in.mp4 2 320x180
	run msp-transcode --preset ultrafast --format ts --ladder 180:300k -i in.mp4 -o ts
	[ "$status" -eq 0 ]
	[ "$(jq -r .details.dash <<<"$output")" = null ]
	[ ! -e ts/manifest.mpd ]
}

@test "progressive: dynamic while transcoding, naming only written segments; removed on failure; static when done" {
	make_clip in.mp4 8 640x360
	msp-catalog user add up@example.com >/dev/null
	id=$(msp-ingest -t short --name clip --uploaded-by up@example.com in.mp4 | jq -r .videoId)
	d=$MSP_STORE/media/hls/$id
	msp-transcode --progress --preset veryslow --segment 1 --ladder 180:300k "$id" >out 2>err &
	pid=$!
	for i in $(seq 1200); do
		grep -q 'playable=1' err && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	kill -STOP $pid
	cp "$d/manifest.mpd" live.mpd
	ls "$d/180p" > files
	# interrupted: what was published goes with the master playlist
	kill -INT $pid
	kill -CONT $pid
	wait $pid || true
	[ ! -e "$d/manifest.mpd" ]
	grep -q 'type="dynamic" availabilityStartTime="[0-9T:.-]*Z" publishTime="[0-9T:.-]*Z" minimumUpdatePeriod="PT1.000S"' live.mpd
	grep -q '<UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="[0-9T:.-]*Z"/>' live.mpd
	p=$(node "$BATS_TEST_DIRNAME/dash/mpd-parse.mjs" live.mpd)
	[ "$(jq .endList <<<"$p")" = false ]
	[ "$(jq '.reps[0].segments | length' <<<"$p")" -ge 1 ]
	for f in $(jq -r '.reps[] | .init, .segments[][0]' <<<"$p"); do
		grep -qx "${f#180p/}" files
	done
	# done: static, every segment
	msp-transcode --preset ultrafast --segment 1 --ladder 180:300k "$id" >/dev/null
	verify_dash "$d"
	[ "$(msp-catalog get "$id" | jq -r .destinationVideoDetails.hls.dash)" = "media/hls/$id/manifest.mpd" ]
	# dash.js plays the dynamic version, asking no time server (the
	# page's policy would report it): its segments have the same names
	# and times in the finished output
	if [ -x "${MSP_CHROMIUM:-/usr/bin/chromium}" ]; then
		cp live.mpd "$d/live.mpd"
		start_server
		run timeout 120 node "$BATS_TEST_DIRNAME/browser/dash.mjs" "$U" \
		    "/hls/$id/live.mpd" "$BATS_TEST_TMPDIR/profile" live
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"step: done"* ]]
		[[ "$output" != *"csp violation"* ]]
	fi
}

@test "msp-serve: application/dash+xml, no-cache; a premium video's manifest needs its signed URL, like its playlists" {
	make_clip in.mp4 2 320x180
	msp-catalog user add up@example.com >/dev/null
	pub=$(msp-ingest -t long --title Open --language en -g drama \
	    --uploaded-by up@example.com in.mp4 | jq -r .videoId)
	prem=$(msp-ingest -t long --title Paid --language en -g drama --premium \
	    --uploaded-by up@example.com in.mp4 | jq -r .videoId)
	msp-transcode --preset ultrafast --ladder 180:300k "$pub" "$prem" >/dev/null
	start_server
	run curl -s -D - -o body "$U/hls/$pub/manifest.mpd"
	[[ "$output" == "HTTP/1.1 200"* ]]
	grep -qi '^content-type: application/dash+xml' <<<"$output"
	grep -qi '^cache-control: no-cache' <<<"$output"
	cmp body "$MSP_STORE/media/hls/$pub/manifest.mpd"
	req GET "/videos/$pub"
	[ "$(jq -r .dashUrl <<<"$body")" = "/hls/$pub/manifest.mpd" ]
	req GET "/hls/$prem/manifest.mpd"
	[ "$code" = 403 ]
	req GET "/hls/$prem/180p/init.mp4"
	[ "$code" = 403 ]
	p=$(msp-serve --sign "$prem")
	req GET "${p}manifest.mpd"
	[ "$code" = 200 ]
	[[ "$body" == *'initialization="180p/init.mp4"'* ]]
	req GET "${p}180p/init.mp4" -o /dev/null
	[ "$code" = 200 ]
}

@test "browser: dash.js plays the manifest under the web front's Content-Security-Policy" {
	[ -x "${MSP_CHROMIUM:-/usr/bin/chromium}" ] || skip "chromium is not installed"
	make_clip in.mp4 4 320x180
	msp-catalog user add up@example.com >/dev/null
	id=$(msp-ingest -t long --title River --language en -g drama \
	    --uploaded-by up@example.com in.mp4 | jq -r .videoId)
	msp-transcode --preset ultrafast --segment 1 --ladder 90:150k,180:300k "$id" >/dev/null
	start_server
	run timeout 120 node "$BATS_TEST_DIRNAME/browser/dash.mjs" "$U" \
	    "/hls/$id/manifest.mpd" "$BATS_TEST_TMPDIR/profile"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"reps":["90p","180p"]'* ]]
	[[ "$output" == *"step: done"* ]]
	[[ "$output" != *"csp violation"* ]]
}
