#!/usr/bin/env bats
# Media in a bucket: a store whose media.conf names a bucket of s3rver on
# loopback, behind the signature-checking, fault-injecting proxy
# (tests/s3.bash). The whole pipeline, faults, bad configuration, the
# media check and moves between the directory and a bucket.

load helper
load serve_helper
load s3

setup_file() { start_s3_server; }
teardown_file() { stop_s3_server; }

setup() {
	setup_store
	start_s3
	mkdir -p "$MSP_STORE"
	(umask 077 && cp "$S3_CONF" "$MSP_STORE/media.conf")
	msp-catalog user add up@example.com >/dev/null
	make_clip clip.mp4 3 320x180
}

teardown() {
	stop_server
	[ -z "${FAKE_PID:-}" ] || kill "$FAKE_PID" 2>/dev/null || true
	stop_s3
}

# the keys of the test's bucket, sorted, one a line
keys() {
	curl -sf "$S3_UPSTREAM/$S3_BUCKET?list-type=2" |
	    grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' | sort
}

# unfinished multipart uploads in the bucket (s3rver cannot list them:
# the proxy answers from the uploads it saw)
uploads() {
	"$MSP_BUILD/tests/s3cli" -c "$S3_CONF" uploads | wc -l
}

# media objects left in the store directory; temporary files and the
# state of resumable uploads (media/uploads, kept by msp-serve until they
# expire) are no media objects
local_media() {
	find "$MSP_STORE" \( -path "$MSP_STORE/media/tmp" -o \
	    -path "$MSP_STORE/media/uploads" \) -prune -o -type f \
	    -path "$MSP_STORE/media/*" -print | wc -l
}

ingest_short() {
	msp-ingest -t short --name "${2:-Cat}" --uploaded-by up@example.com "$1"
}

@test "bucket: ingest, transcode, like, search, serve, check, purge; every request signed right" {
	id=$(ingest_short clip.mp4 | jq -r .videoId)
	src=$(msp-catalog get "$id" | jq -r .sourceBucketFilePath)
	[[ "$src" == media/originals/*.mp4 ]]
	[ "$(keys)" = "$src" ]
	run msp-transcode --preset ultrafast --ladder 180:300k "$id"
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = ready ]
	[ "$(local_media)" -eq 0 ]
	keys | grep -qx "media/hls/$id/master.m3u8"
	keys | grep -qx "media/hls/$id/180p/seg00000.m4s"
	keys | grep -qx "media/hls/$id/poster.jpg"
	# Content-Type and Cache-Control of the objects
	h=$(curl -sfI "$S3_UPSTREAM/$S3_BUCKET/media/hls/$id/180p/seg00000.m4s")
	grep -qi '^content-type: video/iso.segment' <<<"$h"
	grep -qi '^cache-control: max-age=31536000, immutable' <<<"$h"
	h=$(curl -sfI "$S3_UPSTREAM/$S3_BUCKET/media/hls/$id/master.m3u8")
	grep -qi '^content-type: application/vnd.apple.mpegurl' <<<"$h"
	grep -qi '^cache-control: no-cache' <<<"$h"
	h=$(curl -sfI "$S3_UPSTREAM/$S3_BUCKET/media/hls/$id/manifest.mpd")
	grep -qi '^content-type: application/dash+xml' <<<"$h"
	grep -qi '^cache-control: no-cache' <<<"$h"
	msp-like add up@example.com "$id" >/dev/null
	[ "$(msp-like count "$id" | jq -r .likes)" = 1 ]
	[ "$(msp-search -t short cat | jq -r .id)" = "$id" ]
	run msp-catalog check --media
	[ "$status" -eq 0 ]
	# msp-serve proxies the objects, ranges included
	start_server
	req GET "/hls/$id/master.m3u8"
	[ "$code" = 200 ]
	[[ "$body" == "#EXTM3U"* ]]
	req GET "/hls/$id/manifest.mpd"
	[ "$code" = 200 ]
	[[ "$body" == *'media="180p/seg$Number%05d$.m4s"'* ]]
	curl -sf "$S3_UPSTREAM/$S3_BUCKET/media/hls/$id/180p/seg00000.m4s" -o want.m4s
	curl -sf "$U/hls/$id/180p/seg00000.m4s" -o got.m4s
	cmp want.m4s got.m4s
	run curl -s -o part -w '%{http_code}' -H 'Range: bytes=10-19' "$U/hls/$id/180p/seg00000.m4s"
	[ "$output" = 206 ]
	cmp part <(tail -c +11 want.m4s | head -c 10)
	req GET "/hls/$id/180p/seg09999.m4s"
	[ "$code" = 404 ]
	# an object larger than one proxied chunk (4 MiB) streams through
	head -c $((9 << 20)) /dev/urandom > bigseg
	curl -sf -X PUT --data-binary @bigseg "$S3_UPSTREAM/$S3_BUCKET/media/hls/$id/180p/seg00042.m4s" >/dev/null
	curl -sf "$U/hls/$id/180p/seg00042.m4s" -o got42
	cmp bigseg got42
	curl -sf -H 'Range: bytes=4194000-8388700' "$U/hls/$id/180p/seg00042.m4s" -o part42
	cmp part42 <(tail -c +4194001 bigseg | head -c 4194701)
	stop_server
	# export and import do not change with the backend
	msp-catalog export > a.jsonl
	MSP_STORE="$BATS_TEST_TMPDIR/copy" msp-catalog import a.jsonl
	cmp a.jsonl <(MSP_STORE="$BATS_TEST_TMPDIR/copy" msp-catalog export)
	# purge removes the objects
	run msp-catalog del --purge "$id"
	[ "$status" -eq 0 ]
	[ -z "$(keys)" ]
	[ -z "$(s3_refused)" ]
}

@test "bucket: captions stored and published in the bucket, replaced, removed, purged" {
	printf 'WEBVTT\n\n00:00.500 --> 00:02.000\nA cat on a wall\n' > en.vtt
	printf '1\n00:00:00,000 --> 00:00:02,000\nun chat\n' > fr.srt
	id=$(msp-ingest -t short --name Cat --uploaded-by up@example.com --caption en=en.vtt clip.mp4 | jq -r .videoId)
	keys | grep -q "^media/captions/$id/en-[0-9a-f]*\.vtt$"
	msp-transcode --preset ultrafast --ladder 180:300k "$id" >/dev/null
	msp-catalog caption add "$id" fr=fr.srt >/dev/null
	[ "$(local_media)" -eq 0 ]
	keys | grep -qx "media/hls/$id/subs/en.m3u8"
	keys | grep -qx "media/hls/$id/subs/fr.m3u8"
	h=$(curl -sfI "$S3_UPSTREAM/$S3_BUCKET/$(keys | grep "^media/hls/$id/subs/en-")")
	grep -qi '^content-type: text/vtt' <<<"$h"
	run msp-catalog check --media
	[ "$status" -eq 0 ]
	start_server
	req GET "/hls/$id/master.m3u8"
	[ "$code" = 200 ] && grep -q 'TYPE=SUBTITLES,GROUP-ID="subs",NAME="French",LANGUAGE="fr"' <<<"$body"
	req GET "/hls/$id/subs/$(keys | grep "^media/hls/$id/subs/en-" | sed 's,.*/,,')"
	[ "$code" = 200 ] && [ "$body" = "$(cat en.vtt)"$'\n' ]
	stop_server
	[ "$(msp-search chat | jq -r .cue.start)" = 0 ]
	# a new English replaces the old object; French goes with its files
	printf 'WEBVTT\n\n00:01.000 --> 00:02.000\nAnother cat\n' > en2.vtt
	msp-catalog caption add "$id" en=en2.vtt >/dev/null
	msp-catalog caption del "$id" fr >/dev/null
	[ "$(keys | grep -c "^media/captions/$id/")" -eq 1 ]
	[ "$(keys | grep -c "^media/hls/$id/subs/")" -eq 2 ]
	run msp-catalog check --media
	[ "$status" -eq 0 ]
	msp-catalog del --purge "$id" >/dev/null
	[ -z "$(keys)" ]
	[ -z "$(s3_refused)" ]
}

@test "bucket: a big original goes up in parallel parts; the same content is sent once" {
	# 5 MiB parts: a clip with 12 MiB of padding data
	make_clip big.mp4 3 320x180 -b:v 30M -minrate 30M -maxrate 30M -bufsize 30M -preset ultrafast
	head -c $((12 << 20)) /dev/urandom > pad
	ffmpeg -hide_banner -loglevel error -y -i big.mp4 -attach pad \
	    -metadata:s:t mimetype=application/octet-stream -c copy big.mkv
	run --separate-stderr ingest_short big.mkv Big
	[ "$status" -eq 0 ]
	grep -q 'POST .*uploads' "$S3_LOG"
	[ "$(grep -c 'PUT .*partNumber=' "$S3_LOG")" -ge 3 ]
	: > "$S3_LOG"
	run --separate-stderr ingest_short big.mkv Again
	[ "$status" -eq 0 ]
	! grep -q '^ok PUT' "$S3_LOG"
	[ "$(keys | wc -l)" -eq 1 ]
	[ "$(uploads)" -eq 0 ]
}

@test "bucket: 500s and SlowDown are retried; a reset mid-body too" {
	s3_fault 500 PUT media/originals 1
	s3_fault slowdown PUT media/originals 1
	id=$(ingest_short clip.mp4 | jq -r .videoId)
	[ -n "$id" ]
	s3_fault reset PUT seg00000 1
	s3_fault 500 GET media/originals 1
	run msp-transcode --preset ultrafast --ladder 180:300k "$id"
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = ready ]
	grep -q 'fault=reset' "$S3_LOG"
	run msp-catalog check --media
	[ "$status" -eq 0 ]
	[ -z "$(s3_refused)" ]
}

@test "bucket: a server that keeps failing: a clear error, no record, no object, no upload left" {
	before=$(store_sum)
	s3_fault 500 PUT media/originals 99
	run --separate-stderr ingest_short clip.mp4
	[ "$status" -eq 3 ]
	h=$(b2sum -l 256 clip.mp4 | cut -d' ' -f1)
	[ "$stderr" = "msp-ingest: clip.mp4: gave up after 5 attempts: bucket '$S3_BUCKET': 'media/originals/$h.mp4': InternalError: we encountered an internal error. Please try again" ]
	assert_store_unchanged "$before"
	[ -z "$(keys)" ]
	[ "$(uploads)" -eq 0 ]
	[ "$(local_media)" -eq 0 ]
}

@test "bucket: an upload's body streams to a temporary object, is probed there and copied to its key; failures leave nothing" {
	start_server
	tok=$(signup_login ann@example.org)
	h=$(b2sum -l 256 clip.mp4 | cut -d' ' -f1)
	up() { req PUT '/short-content/upload?name=hello&filename=c.mp4' \
	    -H "Authorization: Bearer $tok" -H 'Content-Type: video/mp4' \
	    --data-binary @"$1"; }
	up clip.mp4
	[ "$code" = 202 ]
	src=$(jq -r .sourceBucketFilePath <<<"$body")
	[ "$src" = "media/originals/$h.mp4" ]
	[ "$(keys)" = "$src" ]
	grep -Eq "^ok PUT /$S3_BUCKET/media/tmp/[0-9]+-" "$S3_LOG"
	grep -Eq "^ok GET /$S3_BUCKET/media/tmp/.* presigned" "$S3_LOG"
	grep -Eq "^ok DELETE /$S3_BUCKET/media/tmp/" "$S3_LOG"
	[ "$(local_media)" -eq 0 ]
	before=$(store_sum)
	# not media: refused after the probe, the temporary object deleted
	printf 'not a video at all' > bad
	up bad
	[ "$code" = 422 ]
	# the copy to the final key keeps failing
	make_clip c2.mp4 3 160x90
	s3_fault 500 PUT media/originals 99
	up c2.mp4
	[ "$code" -ge 500 ]
	[ "$(jq -r .error <<<"$body")" = "internal error" ]
	# a part of a streamed multipart upload keeps failing (5 MiB parts)
	: > "$S3_FAULTS"
	head -c $((6 << 20)) /dev/urandom > rnd
	s3_fault 500 PUT partNumber= 99
	up rnd
	[ "$code" -ge 500 ]
	grep -q 'POST .*uploads' "$S3_LOG"
	assert_store_unchanged "$before"
	[ "$(keys)" = "$src" ]
	[ "$(uploads)" -eq 0 ]
	[ "$(local_media)" -eq 0 ]
	[ -z "$(s3_refused)" ]
}

@test "bucket: a streamed upload larger than copy_size is copied to its key in UploadPartCopy parts" {
	echo "copy_size = 5242880" >> "$MSP_STORE/media.conf"
	ffmpeg -v error -y -f lavfi -i testsrc2=size=160x90:rate=25:duration=3 \
	    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart small.mp4
	# a free box (64-bit size) of 7 MiB after the movie
	python3 -c 'import struct, sys; sys.stdout.buffer.write(struct.pack(">I4sQ", 1, b"free", 16 + (7 << 20)))' > box
	{ cat small.mp4 box && head -c $((7 << 20)) /dev/urandom; } > big.mp4
	h=$(b2sum -l 256 big.mp4 | cut -d' ' -f1)
	start_server
	tok=$(signup_login ann@example.org)
	req PUT '/short-content/upload?name=big&filename=big.mp4' \
	    -H "Authorization: Bearer $tok" -H 'Content-Type: video/mp4' --data-binary @big.mp4
	[ "$code" = 202 ]
	[ "$(jq -r .sourceBucketFilePath <<<"$body")" = "media/originals/$h.mp4" ]
	grep -Eq "^ok PUT /$S3_BUCKET/media/originals/$h.mp4\?partNumber=2&uploadId=" "$S3_LOG"
	curl -sf "$S3_UPSTREAM/$S3_BUCKET/media/originals/$h.mp4" | cmp - big.mp4
	[ "$(keys)" = "media/originals/$h.mp4" ]
	[ "$(uploads)" -eq 0 ]
	[ -z "$(s3_refused)" ]
}

@test "bucket: a crashed ingest's temporary objects and uploads are swept by a later ingest" {
	old=$(( $(date +%s) - 2 * 86400 ))
	young=$(date +%s)
	curl -sf -X PUT --data-binary x "$S3_UPSTREAM/$S3_BUCKET/media/tmp/$old-AAAA" >/dev/null
	curl -sf -X PUT --data-binary x "$S3_UPSTREAM/$S3_BUCKET/media/tmp/$young-BBBB" >/dev/null
	head -c $((6 << 20)) /dev/zero |
	    "$MSP_BUILD/tests/s3cli" -c "$S3_CONF" stream-crash "media/tmp/$old-CCCC"
	[ "$(uploads)" -eq 1 ]
	ingest_short clip.mp4 >/dev/null
	[ "$(uploads)" -eq 0 ]
	keys | grep -qx "media/tmp/$young-BBBB"
	! keys | grep -q "media/tmp/$old-"
}

@test "bucket: a transcode whose uploads fail leaves no half-published video" {
	id=$(ingest_short clip.mp4 | jq -r .videoId)
	s3_fault 500 PUT seg00001 99
	run --separate-stderr msp-transcode --preset ultrafast --ladder 180:300k --segment 1 "$id"
	[ "$status" -ne 0 ]
	[ "$(msp-catalog get "$id" | jq -r .status)" = failed ]
	! keys | grep -q "media/hls/$id/master.m3u8"
	[ "$(uploads)" -eq 0 ]
	: > "$S3_FAULTS"
	run msp-transcode --preset ultrafast --ladder 180:300k "$id"
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = ready ]
}

bad_conf() { # SED-EXPRESSION: the store's media.conf changed
	(umask 077 && sed "$1" "$S3_CONF" > "$MSP_STORE/media.conf")
}

@test "bucket: bad configuration is one clear message, exit 3, the store unchanged" {
	before=$(store_sum)
	bad_conf 's/^bucket = .*/bucket = no-such-bucket/'
	run --separate-stderr ingest_short clip.mp4
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-ingest: bucket 'no-such-bucket': NoSuchBucket: the specified bucket does not exist" ]
	bad_conf 's/^secret_access_key = .*/secret_access_key = wrong/'
	run --separate-stderr ingest_short clip.mp4
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-ingest: bucket '$S3_BUCKET': wrong secret (SignatureDoesNotMatch)" ]
	bad_conf 's/^region = .*/region = eu-west-1/'
	run --separate-stderr msp-transcode --pending
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-transcode: bucket '$S3_BUCKET' is in region 'us-east-1', not 'eu-west-1' (set region)" ]
	# an endpoint that is no S3 server: a plain web server
	python3 -m http.server 0 --bind 127.0.0.1 > hs.out 2>&1 3>&- &
	hs=$!
	for i in $(seq 100); do grep -q 'port [0-9]' hs.out && break; sleep 0.05; done
	port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' hs.out)
	bad_conf "s|^endpoint = .*|endpoint = http://127.0.0.1:$port|"
	run --separate-stderr msp-catalog del --purge 01m86tg0df4jv5n35ehkbh8hw4
	kill "$hs"
	[ "$status" -eq 3 ]
	[[ "$stderr" == "msp-catalog: "*"not an S3 server"* ]]
	chmod 644 "$MSP_STORE/media.conf"
	run --separate-stderr ingest_short clip.mp4
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-ingest: $MSP_STORE/media.conf: refused: group or others may access it (mode 0644); chmod 600 it" ]
	assert_store_unchanged "$before"
	[ -z "$(keys)" ]
}

@test "check --media: records whose objects are missing, objects no record names" {
	id=$(ingest_short clip.mp4 | jq -r .videoId)
	msp-transcode --preset ultrafast --ladder 180:300k "$id" >/dev/null
	src=$(msp-catalog get "$id" | jq -r .sourceBucketFilePath)
	curl -sf -X DELETE "$S3_UPSTREAM/$S3_BUCKET/$src"
	curl -sf -X PUT --data-binary x "$S3_UPSTREAM/$S3_BUCKET/media/hls/01m86tg0df4jv5n35ehkbh8hw4/master.m3u8"
	run --separate-stderr msp-catalog check --media
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: video $id: $src: missing
msp-catalog: media/hls/01m86tg0df4jv5n35ehkbh8hw4/master.m3u8: named by no video
msp-catalog: 2 disagreements between records and media" ]
}

@test "media-move: directory to bucket and back, resumable, every object checked" {
	rm "$MSP_STORE/media.conf"
	id=$(ingest_short clip.mp4 | jq -r .videoId)
	msp-transcode --preset ultrafast --ladder 180:300k "$id" >/dev/null
	n=$(local_media)
	[ "$n" -gt 5 ]
	# the first try stops on a failing server: nothing switches
	s3_fault 500 PUT seg00001 99
	run --separate-stderr msp-catalog media-move --to bucket "$S3_CONF"
	[ "$status" -eq 3 ]
	[ ! -e "$MSP_STORE/media.conf" ]
	[ "$(local_media)" -eq "$n" ]
	: > "$S3_FAULTS"
	run msp-catalog media-move --to bucket "$S3_CONF"
	[ "$status" -eq 0 ]
	[ "$(jq -r .objects <<<"$output")" -eq "$n" ]
	[ "$(jq -r .copied <<<"$output")" -lt "$n" ]
	[ "$(stat -c %a "$MSP_STORE/media.conf")" = 600 ]
	[ "$(local_media)" -eq 0 ]
	[ "$(keys | wc -l)" -eq "$n" ]
	run msp-catalog check --media
	[ "$status" -eq 0 ]
	run msp-catalog media-move --to dir
	[ "$status" -eq 0 ]
	[ "$(jq -r .copied <<<"$output")" -eq "$n" ]
	[ ! -e "$MSP_STORE/media.conf" ]
	[ "$(local_media)" -eq "$n" ]
	[ -z "$(keys)" ]
	run msp-catalog check --media
	[ "$status" -eq 0 ]
	[ -z "$(s3_refused)" ]
}

@test "msp-serve --media-delivery redirect: segments by presigned URL, playlists proxied, premium gated" {
	id=$(msp-ingest -t long --title River --language en -g drama --premium \
	    --uploaded-by up@example.com clip.mp4 | jq -r .videoId)
	msp-transcode --preset ultrafast --ladder 180:300k "$id" >/dev/null
	start_server --media-delivery redirect
	req GET "/hls/$id/180p/seg00000.m4s"
	[ "$code" = 403 ]
	p=$(msp-serve --sign "$id")
	req GET "${p}180p/index.m3u8"
	[ "$code" = 200 ]
	req GET "${p}manifest.mpd"
	[ "$code" = 200 ]
	run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$U${p}180p/seg00000.m4s"
	[[ "$output" == "302 $S3_ENDPOINT/$S3_BUCKET/media/hls/$id/180p/seg00000.m4s?"*"X-Amz-Signature="* ]]
	curl -sfL "$U${p}180p/seg00000.m4s" -o got.m4s
	cmp got.m4s <(curl -sf "$S3_UPSTREAM/$S3_BUCKET/media/hls/$id/180p/seg00000.m4s")
	[ -z "$(s3_refused)" ]
}

@test "browser: the whole flow with the store's media in a bucket" {
	[ -x "${MSP_CHROMIUM:-/usr/bin/chromium}" ] || skip "chromium is not installed"
	make_clip "$BATS_TEST_TMPDIR/s1.mp4" 4 90x160
	make_clip "$BATS_TEST_TMPDIR/s2.mp4" 5 90x160
	make_clip "$BATS_TEST_TMPDIR/s3.mp4" 3 90x160
	make_clip "$BATS_TEST_TMPDIR/long.mp4" 6 160x90
	printf 'WEBVTT\n\n00:00.000 --> 00:02.000\nNight falls\n\n00:02.500 --> 00:05.500\nA heron waits by the water\n' \
	    > "$BATS_TEST_TMPDIR/en.vtt"
	printf '1\n00:00:00,000 --> 00:00:05,000\nraat\n' > "$BATS_TEST_TMPDIR/hi.srt"
	{
		msp-ingest -t short --name 'Morning run' --uploaded-by up@example.com "$BATS_TEST_TMPDIR/s1.mp4"
		msp-ingest -t short --name 'Cat on a wall' --uploaded-by up@example.com "$BATS_TEST_TMPDIR/s2.mp4"
		msp-ingest -t long --title 'River at night' --about 'A slow river under the moon.' \
		    --language en -g drama --uploaded-by up@example.com \
		    --caption en="$BATS_TEST_TMPDIR/en.vtt" --caption hi="$BATS_TEST_TMPDIR/hi.srt" \
		    "$BATS_TEST_TMPDIR/long.mp4"
		msp-ingest -t long --title 'Harbour lights' --about 'Boats come home.' \
		    --language hi -g thriller --premium --uploaded-by up@example.com "$BATS_TEST_TMPDIR/long.mp4"
	} | msp-transcode --ladder 90:150k >/dev/null
	river=$(msp-search river | jq -r 'select(.type == "hit") | .id')
	msp-rate set up@example.com "$river" 4 >/dev/null
	start_fake_razorpay
	SERVE_WORKERS=0 start_server
	run timeout 400 env MSP_TRANSCODE="msp-transcode --pending --ladder 90:150k" \
	    node "$BATS_TEST_DIRNAME/browser/flow.mjs" "$U" "$BATS_TEST_TMPDIR/s3.mp4" \
	    "$BATS_TEST_TMPDIR/profile" "$BATS_TEST_TMPDIR/shots"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"step: done"* ]]
	[ "$(local_media)" -eq 0 ]
	[ -z "$(s3_refused)" ]
}
