#!/usr/bin/env bats
# msp-ingest: probing, validation, storing originals, records and jobs,
# and every refusal the issue names (message, exit code, store unchanged,
# no file left behind).

load helper

U=ann@example.com

# Media is made once per file (ffmpeg lavfi sources, tiny) and shared.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	make_clip "$d/clip.mp4" 4 320x240
	make_clip "$d/long.mp4" 40 64x48
	make_clip "$d/two.mp4" 2 64x48
	make_clip "$d/fast.mp4" 4 320x240 -movflags +faststart
	head -c 20000 "$d/clip.mp4" > "$d/cut.mp4"
	head -c 100000 "$d/fast.mp4" > "$d/cutfast.mp4"
	printf 'hello\nthis is not a video\n' > "$d/text.mp4"
	ffmpeg -hide_banner -loglevel error -y -f lavfi -i sine=duration=5 \
	    -c:a libmp3lame "$d/audio.mp3"
	ffmpeg -hide_banner -loglevel error -y -i "$d/clip.mp4" -c copy \
	    -metadata:s:v rotate=90 "$d/rot.mp4"
	ffmpeg -hide_banner -loglevel error -y -f lavfi \
	    -i testsrc2=size=64x48:rate=25:duration=2 -vf setfield=tff \
	    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -flags +ildct+ilme \
	    -color_trc arib-std-b67 "$d/hlg.mkv"
	ffmpeg -hide_banner -loglevel error -y -i "$d/clip.mp4" -c copy \
	    "$d/clip.ts"
	ffmpeg -hide_banner -loglevel error -y -f lavfi \
	    -i color=size=8192x64:rate=1:duration=1 -c:v libx264 \
	    -preset ultrafast -pix_fmt yuv420p "$d/wide.mp4"
	ffmpeg -hide_banner -loglevel error -y -f lavfi \
	    -i color=size=64x48:rate=250:duration=1 -c:v libx264 \
	    -preset ultrafast -pix_fmt yuv420p "$d/fps250.mp4"
	printf '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n' \
	    > "$d/evil.m3u8"
	cp "$d/evil.m3u8" "$d/evil.mp4"
	printf "ffconcat version 1.0\nfile '/etc/passwd'\nfile '%s'\n" \
	    "$d/clip.mp4" > "$d/list.ffconcat"
	# cut in half: the header still declares 4 s
	local f s
	ffmpeg -hide_banner -loglevel error -y -f lavfi \
	    -i testsrc2=size=64x48:rate=25:duration=4 -f lavfi -i sine=duration=4 \
	    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a libvorbis \
	    -shortest "$d/full.mkv"
	ffmpeg -hide_banner -loglevel error -y -f lavfi \
	    -i testsrc2=size=64x48:rate=25:duration=4 -f lavfi -i sine=duration=4 \
	    -c:v libvpx -c:a libvorbis -shortest "$d/full.webm"
	ffmpeg -hide_banner -loglevel error -y -f lavfi -i sine=duration=4 \
	    -c:a libmp3lame "$d/full.mp3"
	ffmpeg -hide_banner -loglevel error -y -f lavfi \
	    -i testsrc2=size=64x48:rate=25:duration=4 -f lavfi -i sine=duration=4 \
	    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a libmp3lame \
	    -shortest "$d/full.avi"
	ffmpeg -hide_banner -loglevel error -y -f lavfi \
	    -i testsrc2=size=64x48:rate=25:duration=4 -c:v libvpx "$d/full.ivf"
	for f in mkv webm mp3 avi ivf; do
		s=$(stat -c %s "$d/full.$f")
		head -c $((s / 2)) "$d/full.$f" > "$d/cut.$f"
	done
	# Vorbis setup header (the third, "\x05vorbis") overwritten
	python3 -c '
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.find(b"\x05vorbis")
d[i + 7:i + 47] = b"\xff" * 40
open(sys.argv[2], "wb").write(d)' "$d/full.webm" "$d/badvorbis.webm"
}

setup() {
	setup_store
	M=$BATS_FILE_TMPDIR
	msp-catalog user add "$U" >/dev/null
}

# no file under the store's media directory (temporary ones included)
no_media_files() {
	[ -z "$(find "$MSP_STORE" -path "$MSP_STORE/media/*" -type f 2>/dev/null)" ]
}

# refused FILE MESSAGE [args]: exit 1, that exact message, nothing stored
refused() {
	local f=$1 msg=$2 before
	shift 2
	before=$(store_sum)
	run --separate-stderr msp-ingest "$@" "$f"
	[ "$status" -eq 1 ] || { echo "status $status: $stderr"; return 1; }
	[ "$stderr" = "msp-ingest: $f: $msg" ] || { echo "got: $stderr"; return 1; }
	[ -z "$output" ]
	assert_store_unchanged "$before"
	no_media_files
}

short() { msp-ingest -t short --name clip --uploaded-by "$U" "$@"; }
long() { msp-ingest -t long --title Film --language en --genre drama --uploaded-by "$U" "$@"; }

@test "a short clip becomes an original, a video record and a queued job" {
	run --separate-stderr short "$M/clip.mp4"
	[ "$status" -eq 0 ]
	[ "$(jq -r .type <<<"$output")" = job ]
	[ "$(jq -r .v <<<"$output")" = 1 ]
	[ "$(jq -r .state <<<"$output")" = queued ]
	[ "$(jq -r .input <<<"$output")" = "$M/clip.mp4" ]
	[ "$(jq -c '.video | [.container, .duration, .size > 0, .bitRate > 0]' <<<"$output")" = '["mov",4,true,true]' ]
	[ "$(jq -c '.video.video | [.codec, .width, .height, .fps, .pixelFormat, .interlaced, .rotation, .hdr]' <<<"$output")" = '["h264",320,240,25,"yuv420p",false,0,false]' ]
	[ "$(jq -c '.video.audio | [.codec, .channels, .sampleRate]' <<<"$output")" = '["aac",1,44100]' ]
	id=$(jq -r .videoId <<<"$output")
	run msp-catalog get "$id"
	[ "$(jq -r .status <<<"$output")" = uploaded ]
	[ "$(jq -r .videoType <<<"$output")" = short ]
	[ "$(jq -r .name <<<"$output")" = clip ]
	[ "$(jq -r .uploadedBy <<<"$output")" = "$U" ]
	[ "$(jq -r .destinationVideoDetails.video.width <<<"$output")" = 320 ]
	src=$(jq -r .sourceBucketFilePath <<<"$output")
	# named by the BLAKE2b-256 hash of the bytes, which are the same
	hash=$(b2sum -l 256 "$M/clip.mp4" | cut -d' ' -f1)
	[ "$src" = "media/originals/$hash.mp4" ]
	cmp "$MSP_STORE/$src" "$M/clip.mp4"
	[ "$(find "$MSP_STORE/media" -type f | wc -l)" -eq 1 ]
}

@test "a long video with flags; identical content is stored once" {
	run --separate-stderr long --genre comedy --premium --about "A river" "$M/clip.mp4"
	[ "$status" -eq 0 ]
	id1=$(jq -r .videoId <<<"$output")
	run msp-catalog get "$id1"
	[ "$(jq -c '[.title, .about, .language, .genres, .isPremium]' <<<"$output")" = '["Film","A river","en",["drama","comedy"],true]' ]
	run --separate-stderr short "$M/clip.mp4"
	[ "$status" -eq 0 ]
	id2=$(jq -r .videoId <<<"$output")
	[ "$id1" != "$id2" ]
	[ "$(find "$MSP_STORE/media" -type f | wc -l)" -eq 1 ]
	[ "$(msp-catalog get "$id1" | jq -r .sourceBucketFilePath)" = "$(msp-catalog get "$id2" | jq -r .sourceBucketFilePath)" ]
}

@test "facts: rotation, interlacing, HLG transfer, MPEG-TS" {
	run short "$M/rot.mp4"
	[ "$status" -eq 0 ]
	# ffmpeg 5 writes rotate=90 as a counter-clockwise display matrix
	[ "$(jq -r .video.video.rotation <<<"$output")" = 270 ]
	run long "$M/hlg.mkv"
	[ "$status" -eq 0 ]
	[ "$(jq -c '.video | [.container, .video.interlaced, .video.colorTransfer, .video.hdr, .audio]' <<<"$output")" = '["matroska",true,"arib-std-b67",true,null]' ]
	run short "$M/clip.ts"
	[ "$status" -eq 0 ]
	[ "$(jq -r .video.container <<<"$output")" = mpegts ]
	[[ $(jq -r .video.duration <<<"$output") == 4* ]]
	src=$(msp-catalog get "$(jq -r .videoId <<<"$output")" | jq -r .sourceBucketFilePath)
	[[ $src == *.ts ]]
}

@test "a 40 s short video is refused" {
	refused "$M/long.mp4" "duration 40.0 s exceeds short-video limit 30 s" \
	    -t short --name x --uploaded-by "$U"
}

@test "a 2 s short video is refused; as a long video it is accepted" {
	refused "$M/two.mp4" "duration 2.0 s is under short-video minimum 3 s" \
	    -t short --name x --uploaded-by "$U"
	run long "$M/two.mp4"
	[ "$status" -eq 0 ]
}

@test "a 40 s long video is accepted" {
	run long "$M/long.mp4"
	[ "$status" -eq 0 ]
	[ "$(jq -r .video.duration <<<"$output")" = 40 ]
}

@test "a text file named .mp4 is refused" {
	refused "$M/text.mp4" "not a media file (no known container format)" \
	    -t short --name x --uploaded-by "$U"
}

@test "truncated files are refused" {
	refused "$M/cut.mp4" "cannot read the mov container: invalid data found when processing input (truncated or corrupt file)" \
	    -t short --name x --uploaded-by "$U"
	before=$(store_sum)
	run --separate-stderr short "$M/cutfast.mp4"
	[ "$status" -eq 1 ]
	[[ $stderr == "msp-ingest: $M/cutfast.mp4: file is truncated: its media data runs to byte "*" but it has 100000 bytes" ]]
	assert_store_unchanged "$before"
	no_media_files
}

@test "an HLS playlist pointing at file:///etc/passwd is refused, whatever its name" {
	refused "$M/evil.m3u8" "hls playlist refused: msp ingests plain media files, not files that name other files or urls" \
	    -t long --title x --language en --genre drama --uploaded-by "$U"
	refused "$M/evil.mp4" "hls playlist refused: msp ingests plain media files, not files that name other files or urls" \
	    -t long --title x --language en --genre drama --uploaded-by "$U"
	run --separate-stderr msp-ingest --dry-run "$M/evil.m3u8"
	[ "$status" -eq 1 ]
	[[ $stderr == *"hls playlist refused"* ]]
}

@test "an ffconcat script is refused" {
	refused "$M/list.ffconcat" "concat script refused: msp ingests plain media files, not files that name other files or urls" \
	    -t short --name x --uploaded-by "$U"
}

@test "protocol prefixes in a path name a file, not a protocol" {
	refused "concat:$M/clip.mp4|$M/clip.mp4" "no such file or directory" \
	    -t short --name x --uploaded-by "$U"
	refused "subfile:,,start,0,end,0,,:$M/clip.mp4" "no such file or directory" \
	    -t short --name x --uploaded-by "$U"
}

@test "too large dimensions and too high frame rates are refused" {
	refused "$M/wide.mp4" "dimensions 8192x64 exceed the limit of 7680x4320" \
	    -t long --title x --language en -g drama --uploaded-by "$U"
	refused "$M/fps250.mp4" "frame rate 250 fps is out of range (above 0, at most 240)" \
	    -t long --title x --language en -g drama --uploaded-by "$U"
}

@test "truncated Matroska, WebM, MP3, AVI and IVF files are refused; intact ones are accepted" {
	local f
	for f in mkv webm mp3 avi ivf; do
		run --separate-stderr long "$M/cut.$f"
		[ "$status" -eq 1 ] || { echo "$f: accepted"; return 1; }
		# the header's end, or (AVI) an index past the end of the file
		[[ "$stderr" == "msp-ingest: $M/cut.$f: file is truncated: its media ends at "*" s of the declared 4.0 s" ||
		    "$stderr" == "msp-ingest: $M/cut.$f: file is truncated: its media data runs to byte "* ]] ||
		    { echo "$f: $stderr"; return 1; }
	done
	no_media_files
	for f in mkv webm mp3 avi ivf; do
		run --separate-stderr long "$M/full.$f"
		[ "$status" -eq 0 ] || { echo "$f: $stderr"; return 1; }
	done
	[ "$(msp-catalog export | jq -r 'select(.type == "video") | .destinationVideoDetails.container' | sort | tr '\n' ' ')" = "avi ivf matroska matroska mp3 " ]
}

@test "every stream used is decoded: a corrupt Vorbis setup header is refused" {
	refused "$M/badvorbis.webm" "audio codec 'vorbis': invalid data found when processing input" \
	    -t long --title Film --language en --genre drama --uploaded-by "$U"
}

@test "limits: each refuses beyond it, with the limit in the message; at the limit accepted" {
	local a=(-t short --name clip --uploaded-by "$U")
	refused "$M/clip.mp4" "dimensions 320x240 exceed the limit of 319x4320" "${a[@]}" --limit width=319
	refused "$M/clip.mp4" "dimensions 320x240 exceed the limit of 7680x239" "${a[@]}" --limit height=239
	refused "$M/clip.mp4" "picture of 320x240 (76800 pixels) exceeds the limit of 76799 pixels" "${a[@]}" --limit pixels=76799
	refused "$M/clip.mp4" "frame rate 25 fps is out of range (above 0, at most 24.5)" "${a[@]}" --limit fps=24.5
	refused "$M/clip.mp4" "duration 4.0 s exceeds the limit of 3.9 s" "${a[@]}" --limit duration=3.9
	refused "$M/clip.mp4" "2 streams exceed the limit of 1" "${a[@]}" --limit streams=1
	# either orientation: a portrait picture is held against the box turned
	refused "$M/wide.mp4" "dimensions 8192x64 exceed the limit of 7680x4320" "${a[@]}"
	run --separate-stderr msp-ingest "${a[@]}" --limit width=320 --limit height=240 \
	    --limit pixels=76800 --limit fps=25 --limit duration=4 --limit streams=2 "$M/clip.mp4"
	[ "$status" -eq 0 ]
}

@test "--limit: a bad name or value is a usage error" {
	run --separate-stderr msp-ingest --limit frames=3 x
	[ "$status" -eq 2 ]
	[ "$(head -1 <<<"$stderr")" = "msp-ingest: --limit: 'frames': unknown limit (width, height, pixels, fps, duration or streams)" ]
	run --separate-stderr msp-ingest --limit width=1.5 x
	[ "$status" -eq 2 ]
	[ "$(head -1 <<<"$stderr")" = "msp-ingest: --limit: 'width=1.5': not a positive whole number in range" ]
	run --separate-stderr msp-ingest --limit fps x
	[ "$status" -eq 2 ]
	[ "$(head -1 <<<"$stderr")" = "msp-ingest: --limit: 'fps': expected NAME=VALUE (NAME: width, height, pixels, fps, duration or streams)" ]
}

@test "audio-only: refused as a short video, accepted as a long one" {
	refused "$M/audio.mp3" "no video stream: a short video needs one (audio-only files are accepted as long videos)" \
	    -t short --name x --uploaded-by "$U"
	run --separate-stderr long "$M/audio.mp3"
	[ "$status" -eq 0 ]
	[ "$(jq -c '.video | [.container, .video, .audio.codec]' <<<"$output")" = '["mp3",null,"mp3"]' ]
}

@test "--max-size refuses larger files" {
	size=$(stat -c %s "$M/clip.mp4")
	refused "$M/clip.mp4" "size $size bytes exceeds the limit of 1024 bytes" \
	    -t short --name x --uploaded-by "$U" --max-size 1K
	run --separate-stderr msp-ingest --max-size 12Q "$M/clip.mp4"
	[ "$status" -eq 2 ]
	[[ $stderr == "msp-ingest: --max-size: '12Q' is not a size (bytes, or with K, M, G or T)"* ]]
}

@test "a missing file and a directory are refused" {
	refused "$M/nope.mp4" "no such file or directory" -t short --name x --uploaded-by "$U"
	refused "$M" "not a regular file" -t short --name x --uploaded-by "$U"
}

@test "bad metadata is refused and leaves no file" {
	refused "$M/clip.mp4" "field 'uploadedBy': nobody@example.com: no such user" \
	    -t short --name x --uploaded-by nobody@example.com
	before=$(store_sum)
	run --separate-stderr msp-ingest -t long --title x --language xx --genre drama --uploaded-by "$U" "$M/clip.mp4"
	[ "$status" -eq 1 ]
	[[ $stderr == "msp-ingest: $M/clip.mp4: field 'language': unknown language \"xx\""* ]]
	assert_store_unchanged "$before"
	no_media_files
	run --separate-stderr msp-ingest -t medium --uploaded-by "$U" "$M/clip.mp4"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-ingest: $M/clip.mp4: field 'videoType': expected \"short\" or \"long\", got \"medium\"" ]
	assert_store_unchanged "$before"
	no_media_files
}

@test "some inputs refused: the others are stored, exit 1 at the end; --strict stops" {
	run --separate-stderr short "$M/text.mp4" "$M/clip.mp4"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$stderr" = "msp-ingest: $M/text.mp4: not a media file (no known container format)" ]
	[ "$(msp-catalog list | grep -c '"type":"video"')" -eq 1 ]
	run --separate-stderr short --strict "$M/text.mp4" "$M/clip.ts"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(msp-catalog list | grep -c '"type":"video"')" -eq 1 ]
}

@test "paths one a line on stdin" {
	feed "$M/clip.mp4
$M/clip.ts" msp-ingest -t short --name x --uploaded-by "$U"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -r .input <<<"${lines[1]}")" = "$M/clip.ts" ]
}

@test "--meta: a JSON line per input; its fields win over the flags" {
	printf '%s\n' '{"file":"'"$M/clip.mp4"'","videoType":"long","title":"One","language":"fr","genres":["drama"]}' \
	    '{"file":"'"$M/two.mp4"'","videoType":"long","title":"Two","language":"de","genres":["comedy"],"isPremium":true}' \
	    > "$BATS_TEST_TMPDIR/m.jsonl"
	run --separate-stderr msp-ingest --uploaded-by "$U" --language en --meta "$BATS_TEST_TMPDIR/m.jsonl"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	run msp-catalog get "$(jq -r .videoId <<<"${lines[1]}")"
	[ "$(jq -c '[.title, .language, .genres, .isPremium, .uploadedBy]' <<<"$output")" = '["Two","de",["comedy"],true,"ann@example.com"]' ]
	# with FILE arguments the lines go with them in order, from stdin
	feed '{"videoType":"short","name":"First"}' msp-ingest --uploaded-by "$U" --meta - "$M/clip.ts"
	[ "$status" -eq 0 ]
	[ "$(msp-catalog get "$(jq -r .videoId <<<"$output")" | jq -r .name)" = First ]
}

@test "--meta: bad lines and missing lines are reported" {
	printf '%s\n' '{"file":"'"$M/clip.mp4"'","videoType":"short","name":"a"}' 'not json' '{"videoType":"short"}' \
	    > "$BATS_TEST_TMPDIR/m.jsonl"
	run --separate-stderr msp-ingest --uploaded-by "$U" --meta "$BATS_TEST_TMPDIR/m.jsonl"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $stderr == *"$BATS_TEST_TMPDIR/m.jsonl:2: "* ]]
	[[ $stderr == *"$BATS_TEST_TMPDIR/m.jsonl:3: field 'file': required (the input to ingest)"* ]]
	before=$(store_sum)
	feed '{"videoType":"short","name":"a"}' msp-ingest --uploaded-by "$U" --meta - "$M/clip.mp4" "$M/clip.ts"
	[ "$status" -eq 1 ]
	[[ $output == *"msp-ingest: $M/clip.ts: no metadata line for this input"* ]]
}

@test "--dry-run probes and reports without touching the store" {
	rm -rf "$MSP_STORE"
	run --separate-stderr msp-ingest --dry-run -t long "$M/clip.mp4" "$M/audio.mp3"
	[ "$status" -eq 0 ]
	[ "$(jq -r .type <<<"${lines[0]}")" = probe ]
	[ "$(jq -r .video.video.width <<<"${lines[0]}")" = 320 ]
	[ "$(jq -r .video.video <<<"${lines[1]}")" = null ]
	[ ! -e "$MSP_STORE" ]
	run --separate-stderr msp-ingest --dry-run -t short "$M/long.mp4"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-ingest: $M/long.mp4: duration 40.0 s exceeds short-video limit 30 s" ]
	[ ! -e "$MSP_STORE" ]
}

@test "http URLs are fetched under the whitelist; a remote playlist is refused" {
	command -v python3 >/dev/null || skip "python3 not installed"
	port=$((20000 + RANDOM % 20000))
	(cd "$M" && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) &
	pid=$!
	for i in $(seq 50); do
		curl -sf "http://127.0.0.1:$port/clip.mp4" -o /dev/null && break
		sleep 0.1
	done
	run --separate-stderr short "http://127.0.0.1:$port/clip.mp4"
	s1=$status
	o1=$output
	run --separate-stderr short "http://127.0.0.1:$port/evil.m3u8"
	s2=$status
	e2=$stderr
	run --separate-stderr short "http://127.0.0.1:$port/missing.mp4"
	s3=$status
	e3=$stderr
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	[ "$s1" -eq 0 ]
	src=$(msp-catalog get "$(jq -r .videoId <<<"$o1")" | jq -r .sourceBucketFilePath)
	cmp "$MSP_STORE/$src" "$M/clip.mp4"
	[ "$s2" -eq 1 ]
	[ "$e2" = "msp-ingest: http://127.0.0.1:$port/evil.m3u8: hls playlist refused: msp ingests plain media files, not files that name other files or urls" ]
	[ "$s3" -eq 1 ]
	[[ $e3 == "msp-ingest: http://127.0.0.1:$port/missing.mp4: "*404* ]]
	[ "$(find "$MSP_STORE/media" -type f | wc -l)" -eq 1 ]
}

@test "an http redirect to file:///etc/passwd and other url schemes are refused" {
	port=$((20000 + RANDOM % 20000))
	python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", "file:///etc/passwd")
        self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$port" &
	pid=$!
	for i in $(seq 50); do
		curl -s "http://127.0.0.1:$port/" -o /dev/null && break
		sleep 0.1
	done
	before=$(store_sum)
	run --separate-stderr short "http://127.0.0.1:$port/x.mp4"
	s1=$status
	e1=$stderr
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	[ "$s1" -eq 1 ]
	[ "$e1" = "msp-ingest: http://127.0.0.1:$port/x.mp4: url refused: invalid argument (only http and https are fetched, redirects included)" ]
	assert_store_unchanged "$before"
	no_media_files
	refused "ftp://127.0.0.1/x.mp4" "unsupported url scheme (msp fetches http and https only)" \
	    -t short --name x --uploaded-by "$U"
}

@test "a crashed copy's temporary file is removed by a later ingest; a live or recent one is not" {
	t=$MSP_STORE/media/originals/.tmp
	mkdir -p "$t"
	echo partial > "$t/crashed"
	echo partial > "$t/recent"
	echo partial > "$t/live"
	touch -d '-20 minutes' "$t/crashed" "$t/live"
	# another writer holding its temporary file
	flock "$t/live" sleep 300 3>&- &
	holder=$!
	for i in $(seq 100); do
		flock -n "$t/live" true || break
		sleep 0.05
	done
	run --separate-stderr short "$M/clip.mp4"
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	[ "$status" -eq 0 ]
	[ ! -e "$t/crashed" ]
	[ -e "$t/recent" ] && [ -e "$t/live" ]
	[ "$(find "$MSP_STORE/media" -type f | wc -l)" -eq 3 ]
	# the temporary file of the ingest itself is gone
	[ "$(ls "$t" | tr '\n' ' ')" = "live recent " ]
}

@test "jobs survive export and import" {
	short "$M/clip.mp4" >/dev/null
	msp-catalog export > "$BATS_TEST_TMPDIR/dump"
	grep -q '"type":"job"' "$BATS_TEST_TMPDIR/dump"
	MSP_STORE=$BATS_TEST_TMPDIR/s2 msp-catalog import "$BATS_TEST_TMPDIR/dump"
	MSP_STORE=$BATS_TEST_TMPDIR/s2 msp-catalog export | cmp - "$BATS_TEST_TMPDIR/dump"
}

@test "stdout errors: /dev/full exits 3, a closed pipe exits quietly" {
	run --separate-stderr bash -c "msp-ingest --dry-run '$M/clip.mp4' > /dev/full"
	[ "$status" -eq 3 ]
	[[ $stderr == "msp-ingest: stdout: No space left on device" ]]
	run --separate-stderr bash -c "msp-ingest --dry-run '$M/clip.mp4' '$M/clip.ts' | head -c 1"
	[ -z "$stderr" ]
}
