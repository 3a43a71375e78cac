#!/usr/bin/env bats
# msp-transcode: the output is checked with ffprobe and ffmpeg, not by file
# names. Media is tiny: a few seconds, small sizes, small ladders.

load helper

setup() {
	setup_store
	cd "$BATS_TEST_TMPDIR"
}

# verify_hls DIR: every variant of DIR/master.m3u8 decodes to the end with
# the RESOLUTION the master gives; every EXTINF rounds to at most the
# target duration; every segment starts with a keyframe, at the same time
# in every rung; playlists are VOD with an ENDLIST.
verify_hls() {
	local d=$1 inf uri res size keys ref="" seg target n dec
	[ -f "$d/master.m3u8" ] || { echo "no master"; return 1; }
	n=0
	while read -r inf && read -r uri; do
		n=$((n + 1))
		[[ "$inf" == *BANDWIDTH=*AVERAGE-BANDWIDTH=*CODECS=* ]] ||
			{ echo "master: $inf"; return 1; }
		dec=$(ffmpeg -v error -xerror -i "$d/$uri" -f null - 2>&1) && [ -z "$dec" ] ||
			{ echo "$uri does not decode: $dec"; return 1; }
		grep -q '^#EXT-X-PLAYLIST-TYPE:VOD$' "$d/$uri" &&
			grep -q '^#EXT-X-ENDLIST$' "$d/$uri" ||
			{ echo "$uri: not a finished VOD playlist"; return 1; }
		target=$(sed -n 's/^#EXT-X-TARGETDURATION://p' "$d/$uri")
		awk -F'[:,]' -v t="$target" '/^#EXTINF/ { if (int($2 + 0.5) > t)
		    { print "segment of " $2 " s > target " t; exit 1 } }' \
		    "$d/$uri" || return 1
		res=$(sed -n 's/.*RESOLUTION=\([0-9]*x[0-9]*\).*/\1/p' <<<"$inf")
		[ -n "$res" ] || continue # audio only
		size=$(ffprobe -v error -select_streams v -show_entries \
		    stream=width,height -of csv=p=0:s=x "$d/$uri" | head -1)
		[ "$size" = "$res" ] || { echo "$uri: $size, master $res"; return 1; }
		keys=""
		for seg in $(grep -v '^#' "$d/$uri"); do
			local f="$d/${uri%/*}/$seg"
			if [ -f "$d/${uri%/*}/init.mp4" ]; then
				cat "$d/${uri%/*}/init.mp4" "$f" > "$BATS_TEST_TMPDIR/s.mp4"
				f="$BATS_TEST_TMPDIR/s.mp4"
			fi
			keys="$keys $(ffprobe -v error -select_streams v -read_intervals '%+#1' \
			    -show_entries packet=pts_time,flags -of csv=p=0 "$f" | head -1 | cut -c1-12)"
		done
		[[ "$keys" != *,_* ]] || { echo "$uri: a segment starts without a keyframe:$keys"; return 1; }
		[ -z "$ref" ] || [ "$keys" = "$ref" ] ||
			{ echo "keyframes differ: $ref vs $keys"; return 1; }
		ref=$keys
	done < <(grep -A1 '^#EXT-X-STREAM-INF' "$d/master.m3u8" | grep -v '^--$')
	[ "$n" -gt 0 ] || { echo "no variants"; return 1; }
}

# sizes DIR: the RESOLUTIONs of the master, one a line
sizes() {
	sed -n 's/.*RESOLUTION=\([0-9]*x[0-9]*\).*/\1/p' "$1/master.m3u8" | tr '\n' ' '
}

@test "1080p clip: the default ladder, five rungs, aligned keyframes" {
	make_clip in.mp4 2 1920x1080
	run msp-transcode --preset ultrafast --segment 1 -i in.mp4 -o out
	[ "$status" -eq 0 ]
	[ "$(jq -r .type <<<"$output")" = transcode ]
	[ "$(sizes out)" = "480x270 640x360 960x540 1280x720 1920x1080 " ]
	verify_hls out
	grep -q 'CODECS="avc1\.[0-9a-f]\{6\},mp4a\.40\.2"' out/master.m3u8
	grep -q 'FRAME-RATE=25.000' out/master.m3u8
	grep -q '#EXT-X-MAP:URI="init.mp4"' out/1080p/index.m3u8
	# BANDWIDTH is the measured peak: at least the average
	awk -F'[=,]' '/STREAM-INF/ { if ($2 + 0 < $4 + 0) exit 1 }' out/master.m3u8
}

@test "the first segment from an encoder without delay, the rest from the main one; timestamps run on" {
	make_clip in.mp4 6 640x360
	run msp-transcode --preset veryfast -i in.mp4 -o out
	[ "$status" -eq 0 ]
	verify_hls out
	# x264 writes its settings into the stream: no lookahead, whole-pixel
	# motion search and no inter partitions in the first segment, as asked after
	for r in 270p 360p; do
		[ "$(grep -ao 'subme=[0-9]* \|rc_lookahead=[0-9]*' out/$r/seg00000.m4s | tr -d ' ' | tr '\n' ' ')" = "subme=0 rc_lookahead=0 " ]
		grep -aq 'analyse=0x[0-9a-f]*:0 ' out/$r/seg00000.m4s
		[ "$(grep -ao 'subme=[0-9]* \|rc_lookahead=[0-9]*' out/$r/seg00001.m4s | tr -d ' ' | tr '\n' ' ')" = "subme=2 rc_lookahead=10 " ]
		cat out/$r/init.mp4 out/$r/seg0000[0-2].m4s > all.mp4
		ffprobe -v error -select_streams v -show_entries packet=dts \
		    -of csv=p=0 all.mp4 |
		    awk 'NR > 1 && $1 <= prev { exit 1 } { prev = $1 }'
	done
}

@test "240p clip: smaller than the lowest rung, one rung at its own size" {
	make_clip in.mp4 2 320x240
	run msp-transcode --preset ultrafast -i in.mp4 -o out
	[ "$status" -eq 0 ]
	[ "$(sizes out)" = "320x240 " ]
	verify_hls out
}

@test "never upscales; anamorphic sources keep their display aspect" {
	make_clip in.mp4 2 480x360 -vf setsar=4/3
	run msp-transcode --preset ultrafast --ladder 144:200k,360:400k,720:900k -i in.mp4 -o out
	[ "$status" -eq 0 ]
	[ "$(sizes out)" = "256x144 640x360 " ]
	verify_hls out
}

@test "portrait clip (rotated): stays portrait, heights are the short side" {
	make_clip coded.mp4 2 320x180
	ffmpeg -v error -i coded.mp4 -c copy -metadata:s:v:0 rotate=90 in.mp4
	run msp-transcode --preset ultrafast --segment 1 --ladder 90:150k,180:300k,360:600k -i in.mp4 -o out
	[ "$status" -eq 0 ]
	[ "$(sizes out)" = "90x160 180x320 " ]
	verify_hls out
	[ "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x out/poster.jpg)" = 180x320 ]
}

@test "portrait clip (coded upright)" {
	make_clip in.mp4 2 180x320
	run msp-transcode --preset ultrafast --ladder 90:150k,180:300k -i in.mp4 -o out
	[ "$status" -eq 0 ]
	[ "$(sizes out)" = "90x160 180x320 " ]
	verify_hls out
}

@test "no audio: video only variants" {
	ffmpeg -v error -f lavfi -i testsrc2=size=320x180:rate=30:duration=2 \
	    -c:v libx264 -preset ultrafast -pix_fmt yuv420p in.mp4
	run msp-transcode --preset ultrafast --ladder 90:150k,180:300k -i in.mp4 -o out
	[ "$status" -eq 0 ]
	verify_hls out
	! grep -q mp4a out/master.m3u8
	grep -q 'FRAME-RATE=30.000' out/master.m3u8
	[ -z "$(ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 out/180p/index.m3u8)" ]
	[ "$(jq .details.audio <<<"$output")" = false ]
}

@test "audio only: one audio variant" {
	ffmpeg -v error -f lavfi -i sine=frequency=440:duration=3 -c:a aac in.m4a
	run msp-transcode --segment 1 -i in.m4a -o out
	[ "$status" -eq 0 ]
	verify_hls out
	grep -q 'CODECS="mp4a.40.2"' out/master.m3u8
	! grep -q RESOLUTION out/master.m3u8
	[ "$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 out/audio/index.m3u8 | head -1)" = aac ]
	[ "$(grep -c '^#EXTINF' out/audio/index.m3u8)" -eq 3 ]
}

@test "--format ts: MPEG-TS segments, aligned keyframes" {
	make_clip in.mp4 3 320x180
	run msp-transcode --preset ultrafast --format ts --segment 1 --ladder 90:150k,180:300k -i in.mp4 -o out
	[ "$status" -eq 0 ]
	verify_hls out
	[ "$(ls out/180p/*.ts | wc -l)" -eq 3 ]
	! grep -q EXT-X-MAP out/180p/index.m3u8
	[ "$(ffprobe -v error -show_entries format=format_name -of csv=p=0 out/180p/seg00001.ts)" = mpegts ]
}

@test "poster and thumbnail sprite with a WebVTT index" {
	make_clip in.mp4 3 320x180
	run msp-transcode --preset ultrafast --ladder 90:150k,180:300k -i in.mp4 -o out
	[ "$status" -eq 0 ]
	[ "$(ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 out/poster.jpg)" = mjpeg,320,180 ]
	head -1 out/sprite.vtt | grep -qx WEBVTT
	[ "$(grep -c '^sprite.jpg#xywh=' out/sprite.vtt)" -eq 3 ]
	grep -q '^00:00:01.000 --> 00:00:02.000$' out/sprite.vtt
	grep -q '^sprite.jpg#xywh=320,0,160,90$' out/sprite.vtt
	[ "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 out/sprite.jpg)" = 480,90 ]
}

@test "--progress: parseable lines, playable before the end" {
	make_clip in.mp4 2 320x180
	run --separate-stderr msp-transcode --progress --preset ultrafast --segment 1 --ladder 180:300k -i in.mp4 -o out
	[ "$status" -eq 0 ]
	grep -q '^msp-transcode: in.mp4: progress percent=[0-9.]* fps=[0-9.]* speed=[0-9.]* elapsed=[0-9.]* playable=[01]$' <<<"$stderr"
	tail -1 <<<"$stderr" | grep -q 'percent=100.0 .* playable=1$'
}

@test "a truncated file is refused" {
	make_clip full.mp4 3 320x180 -movflags +faststart
	head -c $(( $(stat -c %s full.mp4) / 2 )) full.mp4 > in.mp4
	run --separate-stderr msp-transcode --preset ultrafast --ladder 180:300k -i in.mp4 -o out
	[ "$status" -eq 1 ]
	[[ "$stderr" == "msp-transcode: in.mp4: truncated: "*" s of 3.0 s could be decoded" ]]
	[ ! -e out/master.m3u8 ]
	[ ! -e out/.msp-tmp ]
}

@test "a text file named .mp4 is refused" {
	echo "not a video" > in.mp4
	run --separate-stderr msp-transcode -i in.mp4 -o out
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-transcode: in.mp4: cannot open: not a media file (no known container format)" ]
}

@test "usage errors exit 2" {
	run --separate-stderr msp-transcode --ladder 720 -i x -o y
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: --ladder: ladder '720': rung '720' is not HEIGHT:BITRATE"* ]]
	run --separate-stderr msp-transcode --ladder 720:6000k,720:1M -i x -o y
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: --ladder: ladder '720:6000k,720:1M': height 720 twice"* ]]
	run --separate-stderr msp-transcode --format webm -i x -o y
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: --format 'webm': expected fmp4 or ts"* ]]
	run --separate-stderr msp-transcode --segment 0 -i x -o y
	[ "$status" -eq 2 ]
	run --separate-stderr msp-transcode -i x
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: --input and --output go together"* ]]
}

# ---- the store -------------------------------------------------------

ingest() { # ingest FILE: prints the job line
	msp-catalog user add up@example.com >/dev/null
	msp-ingest --type short --name clip --uploaded-by up@example.com "$1"
}

@test "job lines from msp-ingest: processing, then ready with the playlist" {
	make_clip in.mp4 3 320x180
	job=$(ingest in.mp4)
	id=$(jq -r .videoId <<<"$job")
	run --separate-stderr msp-transcode --preset ultrafast --ladder 90:150k,180:300k <<<"$job"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.type, .id, .status, .progress, .destinationBucketFilePath[0]' <<<"$output" | tr '\n' ' ')" = \
	    "video $id ready 100 media/hls/$id/master.m3u8 " ]
	[ "$(jq -r '.destinationVideoDetails.hls.ladder | map(.width) | join(",")' <<<"$output")" = 160,320 ]
	[ "$(jq -r '.destinationVideoDetails.hls.poster' <<<"$output")" = "media/hls/$id/poster.jpg" ]
	verify_hls "$MSP_STORE/media/hls/$id"
	run msp-catalog get "$id"
	[ "$(jq -r .status <<<"$output")" = ready ]
	[ "$(msp-catalog export | jq -r 'select(.type == "job") | .state')" = done ]
	[ -z "$(ls "$MSP_STORE/media/tmp" 2>/dev/null)" ]
}

@test "ids as arguments, --format ts; a re-run replaces the output" {
	make_clip in.mp4 3 320x180
	id=$(ingest in.mp4 | jq -r .videoId)
	run msp-transcode --preset ultrafast --ladder 180:300k "$id"
	[ "$status" -eq 0 ]
	run msp-transcode --preset ultrafast --ladder 180:300k --format ts "$id"
	[ "$status" -eq 0 ]
	[ "$(jq -r .destinationVideoDetails.hls.format <<<"$output")" = ts ]
	[ ! -e "$MSP_STORE/media/hls/$id/180p/init.mp4" ]
	verify_hls "$MSP_STORE/media/hls/$id"
}

@test "--pending --jobs 2 works the queue until it is empty" {
	make_clip a.mp4 3 320x180
	make_clip b.mp4 3 180x320
	msp-catalog user add up@example.com >/dev/null
	msp-ingest --type short --name a --uploaded-by up@example.com a.mp4 b.mp4 >/dev/null
	run msp-transcode --pending --jobs 2 --preset ultrafast --ladder 180:300k
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output" | sort | tr '\n' ' ')" = "ready ready " ]
	[ "$(msp-catalog export | jq -r 'select(.type == "job") | .state' | tr '\n' ' ')" = "done done " ]
	run msp-transcode --pending
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "a killed run's leftovers are cleaned; the re-run is ready" {
	make_clip in.mp4 3 320x180
	id=$(ingest in.mp4 | jq -r .videoId)
	mkdir -p "$MSP_STORE/media/tmp" "$MSP_STORE/media/hls/$id/180p"
	touch "$MSP_STORE/media/hls/$id/180p/seg00007.m4s"
	touch -d '-20 minutes' "$MSP_STORE/media/tmp/01crashedwriter"
	msp-catalog update "$id" --set status=processing --set progress=40 >/dev/null
	run msp-transcode --preset ultrafast --ladder 180:300k "$id"
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = ready ]
	[ ! -e "$MSP_STORE/media/hls/$id/180p/seg00007.m4s" ]
	[ ! -e "$MSP_STORE/media/tmp/01crashedwriter" ]
	verify_hls "$MSP_STORE/media/hls/$id"
}

# progressing PID ERRFILE: wait until the background run PID has printed
# progress to ERRFILE
progressing() {
	local i
	for i in $(seq 600); do
		grep -q ' progress ' "$2" && return 0
		kill -0 "$1" 2>/dev/null || { echo "no progress:"; cat "$2"; return 1; }
		sleep 0.05
	done
}

# interrupt SIG PID ERRFILE: once the background run PID has printed
# progress to ERRFILE, send it SIG and wait for it; its exit status in st
interrupt() {
	progressing "$2" "$3"
	kill -"$1" "$2"
	st=0
	wait "$2" || st=$?
}

@test "SIGTERM to --pending --jobs 2: the jobs go back to the queue, a restart does them" {
	make_clip a.mp4 8 640x360
	make_clip b.mp4 8 640x360
	msp-catalog user add up@example.com >/dev/null
	msp-ingest --type short --name a --uploaded-by up@example.com a.mp4 b.mp4 >/dev/null
	msp-transcode --pending --jobs 2 --progress --preset veryslow \
	    --ladder 180:300k,360:800k >/dev/null 2>err &
	interrupt TERM $! err
	[ "$st" -eq 1 ]
	grep -q ': interrupted$' err
	run msp-catalog export
	[ "$(jq -r 'select(.type == "video") | [.status, .progress, (.destinationBucketFilePath | length), .error] | @tsv' <<<"$output" | sort | uniq)" = "$(printf 'uploaded\t0\t0\t')" ]
	[ "$(jq -r 'select(.type == "job") | [.state, .attempts, .worker, .leaseUntil] | @tsv' <<<"$output" | sort | uniq)" = "$(printf 'queued\t0\t\t')" ]
	[ -z "$(find "$MSP_STORE/media/hls" "$MSP_STORE/media/tmp" -mindepth 1 2>/dev/null)" ]
	run msp-transcode --pending --preset ultrafast --ladder 180:300k
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output" | tr '\n' ' ')" = "ready ready " ]
	[ "$(msp-catalog export | jq -r 'select(.type == "job") | [.state, .attempts] | @tsv' | uniq)" = "$(printf 'done\t1')" ]
}

@test "SIGINT to a run by id: back to the queue, never ready" {
	make_clip in.mp4 8 640x360
	id=$(ingest in.mp4 | jq -r .videoId)
	msp-transcode --progress --preset veryslow --ladder 360:800k "$id" >out 2>err &
	interrupt INT $! err
	[ "$st" -eq 1 ]
	[ "$(tail -1 err)" = "msp-transcode: $id: interrupted" ]
	[ ! -s out ]
	[ "$(msp-catalog get "$id" | jq -r .status)" = uploaded ]
	[ ! -e "$MSP_STORE/media/hls/$id" ]
	run msp-transcode --pending --preset ultrafast --ladder 180:300k
	[ "$status" -eq 0 ]
	[ "$(jq -r .id,.status <<<"$output" | tr '\n' ' ')" = "$id ready " ]
}

@test "a live worker's job is refused to others; killed, it is taken over at once" {
	make_clip in.mp4 8 640x360
	id=$(ingest in.mp4 | jq -r .videoId)
	msp-transcode --progress --preset veryslow --ladder 360:800k "$id" >out 2>err &
	pid=$!
	progressing $pid err
	run --separate-stderr msp-transcode --ladder 180:300k "$id"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "msp-transcode: $id: video $id: job "*" is being worked on by "*":$pid until "* ]]
	[ "$(msp-catalog export | jq -r 'select(.type == "job") | [.state, .attempts, (.holder | split(" ") | .[2])] | @tsv')" = "$(printf 'running\t1\t%s' "$pid")" ]
	kill -KILL $pid
	st=0
	wait $pid || st=$?
	[ "$st" -eq 137 ]
	[ "$(msp-catalog get "$id" | jq -r .status)" = processing ]
	run msp-transcode --preset ultrafast --ladder 180:300k "$id"
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = ready ]
	verify_hls "$MSP_STORE/media/hls/$id"
	[ "$(msp-catalog export | jq -r 'select(.type == "job") | [.state, .attempts, has("holder")] | @tsv')" = "$(printf 'done\t2\tfalse')" ]
}

@test "a broken original: failed with the reason, no output published" {
	make_clip in.mp4 3 320x180
	id=$(ingest in.mp4 | jq -r .videoId)
	src=$(msp-catalog get "$id" | jq -r .sourceBucketFilePath)
	chmod u+w "$MSP_STORE/$src"
	echo "garbage" > "$MSP_STORE/$src"
	run --separate-stderr msp-transcode --ladder 180:300k "$id"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-transcode: $id: cannot open: not a media file (no known container format)" ]
	[ -z "$output" ]
	run msp-catalog get "$id"
	[ "$(jq -r '.status, .error' <<<"$output" | tr '\n' '|')" = "failed|cannot open: not a media file (no known container format)|" ]
	[ "$(jq -r '.destinationBucketFilePath | length' <<<"$output")" = 0 ]
	[ ! -e "$MSP_STORE/media/hls/$id" ]
	[ "$(msp-catalog export | jq -r 'select(.type == "job") | .state')" = failed ]
}

@test "unknown ids and bad lines: messages, exit 1, store unchanged" {
	make_clip in.mp4 3 320x180
	ingest in.mp4 >/dev/null
	before=$(store_sum)
	run --separate-stderr msp-transcode 01m86tktbkd107r6kg6nv15ec9
	[ "$status" -eq 1 ]
	[[ "$stderr" == "msp-transcode: 01m86tktbkd107r6kg6nv15ec9: "* ]]
	run --separate-stderr msp-transcode not-an-id
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-transcode: not-an-id: not a video id" ]
	feed '{"type":"job"}' msp-transcode
	[ "$status" -eq 1 ]
	[[ "$output" == "msp-transcode: -:1: field 'videoId': missing" ]]
	feed 'hello' msp-transcode --strict
	[ "$status" -eq 1 ]
	[[ "$output" == "msp-transcode: -:1: 'hello': not a video id or a JSON line" ]]
	assert_store_unchanged "$before"
}

@test "stdout to /dev/full exits 3" {
	make_clip in.mp4 2 320x180
	run bash -c 'msp-transcode --preset ultrafast --ladder 180:300k -i in.mp4 -o out > /dev/full'
	[ "$status" -eq 3 ]
}

# ---- containers and interlacing ---------------------------------------

# sample NAME: a 2 s sample of that container (1 s for DV), made by ffmpeg
sample() {
	local v=(-f lavfi -i testsrc2=size=160x120:rate=25:duration=2)
	local a=(-f lavfi -i sine=duration=2)
	local q=(-hide_banner -loglevel error -y)
	case $1 in
	mpg) ffmpeg "${q[@]}" "${v[@]}" "${a[@]}" -c:v mpeg2video -c:a mp2 -f mpeg s.mpg ;;
	vob) ffmpeg "${q[@]}" "${v[@]}" "${a[@]}" -c:v mpeg2video -c:a ac3 -f vob s.vob ;;
	wmv) ffmpeg "${q[@]}" "${v[@]}" "${a[@]}" -c:v wmv2 -c:a wmav2 s.wmv ;;
	asf) ffmpeg "${q[@]}" "${v[@]}" "${a[@]}" s.asf ;;
	mxf) ffmpeg "${q[@]}" "${v[@]}" -f lavfi -i sine=duration=2:sample_rate=48000 \
	    -c:v mpeg2video -c:a pcm_s16le s.mxf ;;
	dv) ffmpeg "${q[@]}" -f lavfi -i testsrc2=size=720x576:rate=25:duration=1 \
	    -f lavfi -i sine=duration=1:sample_rate=48000 -target pal-dv s.dv ;;
	ogv) ffmpeg "${q[@]}" "${v[@]}" "${a[@]}" -c:v libtheora -c:a libvorbis s.ogv ;;
	3gp|3g2) ffmpeg "${q[@]}" "${v[@]}" "${a[@]}" -c:v libx264 -preset ultrafast \
	    -pix_fmt yuv420p -c:a aac -ac 1 -ar 16000 s.$1 ;;
	m2ts) ffmpeg "${q[@]}" "${v[@]}" "${a[@]}" -c:v libx264 -preset ultrafast \
	    -pix_fmt yuv420p -c:a aac s.m2ts ;;
	ivf) ffmpeg "${q[@]}" "${v[@]}" -c:v libvpx s.ivf ;;
	webm) ffmpeg "${q[@]}" "${v[@]}" "${a[@]}" -c:v libvpx -c:a libopus s.webm ;;
	esac
}

@test "plain containers (MPEG-PS, VOB, ASF, WMV, MXF, DV, Ogg, 3GP, 3G2, M2TS, IVF, WebM): ingested, transcoded, the ladder checked" {
	local f job id c lad
	msp-catalog user add up@example.com >/dev/null
	for f in mpg:mpeg vob:mpeg wmv:asf asf:asf mxf:mxf dv:dv ogv:ogg 3gp:mov \
	    3g2:mov m2ts:mpegts ivf:ivf webm:matroska; do
		c=${f#*:}
		f=${f%:*}
		sample "$f"
		job=$(msp-ingest -t long --title "$f" --language en -g drama \
		    --uploaded-by up@example.com "s.$f") || { echo "$f: refused"; return 1; }
		[ "$(jq -r .video.container <<<"$job")" = "$c" ] ||
		    { echo "$f: $(jq -c .video <<<"$job")"; return 1; }
		id=$(jq -r .videoId <<<"$job")
		[[ "$(msp-catalog get "$id" | jq -r .sourceBucketFilePath)" == *".$f" ]]
		run --separate-stderr msp-transcode --preset ultrafast --ladder 90:150k "$id"
		[ "$status" -eq 0 ] || { echo "$f: $stderr"; return 1; }
		lad="$MSP_STORE/media/hls/$id"
		verify_hls "$lad" || { echo "$f: bad HLS"; return 1; }
		[ "$(ffprobe -v error -select_streams v -show_entries stream=codec_name,height \
		    -of csv=p=0 "$lad/90p/index.m3u8" | head -1)" = h264,90 ] ||
		    { echo "$f: not 90p H.264"; return 1; }
	done
}

@test "an interlaced source (MPEG-2, top field first) is deinterlaced: progressive HLS, no combing" {
	ffmpeg -hide_banner -loglevel error -y -f lavfi \
	    -i testsrc2=size=720x576:rate=50:duration=2 -vf interlace=scan=tff \
	    -c:v mpeg2video -flags +ildct+ilme -top 1 -b:v 4M -f vob in.vob
	[ "$(ffprobe -v error -select_streams v -show_entries stream=field_order -of default=nw=1:nk=1 in.vob | head -1)" = tt ]
	# the source: every frame combed
	[[ "$(ffmpeg -hide_banner -i in.vob -vf idet -f null - 2>&1 | grep 'Multi frame')" == *"TFF:    50 BFF:     0 Progressive:     0"* ]]
	# one rung at the source's height, so that no scaling blurs the fields
	run --separate-stderr msp-transcode --preset ultrafast --ladder 576:3000k --format ts -i in.vob -o out
	[ "$status" -eq 0 ]
	[ "$(ffprobe -v error -select_streams v -show_entries stream=field_order -of default=nw=1:nk=1 out/576p/seg00000.ts | head -1)" = progressive ]
	[[ "$(ffmpeg -hide_banner -i out/576p/index.m3u8 -vf idet -f null - 2>&1 | grep 'Multi frame')" == *"TFF:     0 BFF:     0 Progressive:    50"* ]]
}
