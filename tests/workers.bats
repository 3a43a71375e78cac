#!/usr/bin/env bats
# Transcode workers without a store: job lines out of the store, result
# lines back in (msp-transcode --emit, --job, --apply), through GNU
# parallel or Redis Streams (--dispatch, --worker). Workers run in their
# own scratch directories and share only the media directory.

load helper

setup() {
	setup_store
	cd "$BATS_TEST_TMPDIR"
	MEDIA=$MSP_STORE/media
	LADDER=180:200k
	msp-catalog user add ann@example.com --admin >/dev/null
}

# ingest_clips N SECONDS: N short clips into the store (their job lines on
# ingest.jsonl)
ingest_clips() {
	local i
	for i in $(seq "$1"); do
		make_clip "c$i.mp4" "$2" 320x180 -vf "hue=h=$((i * 40))"
	done
	msp-ingest -t short --name Clip --uploaded-by ann@example.com \
	    c*.mp4 > ingest.jsonl
}

# work: every job line of jobs.jsonl done in a scratch directory
work() {
	mkdir -p w1
	(cd w1 && msp-transcode --job - --media "$MEDIA" --name w1) \
	    < jobs.jsonl > results.jsonl
}

job_of() { jq -r 'select(.type=="job") | .id' ingest.jsonl | sed -n "${1}p"; }

@test "stateless: job lines out, a worker without a store, results in" {
	ingest_clips 2 3
	run msp-transcode --emit 0 --ladder $LADDER
	[ "$status" -eq 0 ]
	echo "$output" > jobs.jsonl
	[ "$(wc -l < jobs.jsonl)" -eq 2 ]
	jq -e 'select(.type=="job" and .attempt==1 and (.token|length)==64
	    and (.input|startswith("originals/")) and .ladder=="180:200000")' \
	    jobs.jsonl >/dev/null
	[ "$(msp-catalog list --status processing | grep -c '"type":"video"')" -eq 2 ]
	work
	[ "$(jq -r .status results.jsonl | sort -u)" = ready ]
	[ "$(jq -r .worker results.jsonl | sort -u)" = w1 ]
	run msp-transcode --apply results.jsonl
	[ "$status" -eq 0 ]
	[ "$(grep -c '"status":"ready"' <<<"$output")" -eq 2 ]
	for v in $(jq -r .videoId results.jsonl); do
		[ -f "$MEDIA/hls/$v/master.m3u8" ]
		[ -f "$MEDIA/hls/$v/180p/init.mp4" ]
		msp-catalog get "$v" | jq -e '.status=="ready" and
		    .destinationBucketFilePath[0]=="media/hls/'"$v"'/master.m3u8"
		    and .destinationVideoDetails.hls.ladder[0].playlist==
		    "media/hls/'"$v"'/180p/index.m3u8"' >/dev/null
	done
	run msp-transcode --status
	[ "$status" -eq 0 ]
	grep -qx '{"type":"queue","v":1,"state":"done","jobs":2}' <<<"$output"
	msp-catalog check
	# the same results again: nothing changes
	before=$(store_sum)
	run --separate-stderr msp-transcode --apply results.jsonl
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$stderr" = "msp-transcode: results.jsonl:1: already applied, nothing changed
msp-transcode: results.jsonl:2: already applied, nothing changed" ]
	assert_store_unchanged "$before"
}

@test "bad results are refused and change nothing" {
	ingest_clips 2 3
	msp-transcode --emit 1 --ladder $LADDER > jobs.jsonl
	work
	msp-transcode --apply results.jsonl > /dev/null
	done_job=$(jq -r .jobId results.jsonl)
	queued=$(jq -r 'select(.type=="job") | .id' ingest.jsonl | grep -v "$done_job")
	qvid=$(jq -r 'select(.type=="job" and .id=="'"$queued"'") | .videoId' ingest.jsonl)
	before=$(store_sum)
	# an unknown job
	jq -c '.jobId="01m8tn2m25fk2qwx74fnf8r4zz"' results.jsonl > bad.jsonl
	# a job that was never dispatched
	jq -c '.jobId="'"$queued"'" | .videoId="'"$qvid"'"' results.jsonl >> bad.jsonl
	# a forged result for the finished job
	jq -c '.status="failed" | .error="x" | .token=("0"*64) | del(.details)' \
	    results.jsonl >> bad.jsonl
	# an attempt that never was
	jq -c '.attempt=2' results.jsonl >> bad.jsonl
	# malformed
	echo '{"type":"result","v":1,"jobId":"'"$done_job"'"' >> bad.jsonl
	jq -c '.status="done"' results.jsonl >> bad.jsonl
	run --separate-stderr msp-transcode --apply bad.jsonl
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	vid=$(jq -r .videoId results.jsonl)
	[ "$stderr" = "msp-transcode: bad.jsonl:1: job 01m8tn2m25fk2qwx74fnf8r4zz: no such job
msp-transcode: bad.jsonl:2: job $queued: attempt 1 was never dispatched
msp-transcode: bad.jsonl:3: job $done_job: attempt 1: the token does not match (a forged result, or one for another store)
msp-transcode: bad.jsonl:4: job $done_job: attempt 2 was never dispatched
msp-transcode: bad.jsonl:5: column 60: unexpected end of line
msp-transcode: bad.jsonl:6: field 'status': 'done' is not ready, failed or progress" ]
	assert_store_unchanged "$before"
	msp-catalog check
}

@test "a failed attempt is tried again; the last one fails the job, which an admin can requeue" {
	ingest_clips 1 3
	job=$(job_of 1)
	vid=$(jq -r 'select(.type=="job") | .videoId' ingest.jsonl)
	src=$(msp-catalog get "$vid" | jq -r .sourceBucketFilePath)
	mv "$MSP_STORE/$src" original.keep
	for i in 1 2; do
		msp-transcode --emit 0 --attempts 2 --ladder $LADDER > jobs.jsonl
		[ "$(jq .attempt jobs.jsonl)" -eq "$i" ]
		work
		jq -e '.status=="failed" and (.error|endswith("the original is not in the media directory"))' \
		    results.jsonl >/dev/null
		run msp-transcode --apply results.jsonl --attempts 2
		[ "$status" -eq 0 ]
	done
	msp-catalog get "$vid" | jq -e '.status=="failed" and (.error|endswith("the original is not in the media directory"))' >/dev/null
	run msp-transcode --status
	jq -e 'select(.type=="job") | .id=="'"$job"'" and .attempts==2 and .deadLetter==true and .state=="failed"' <<<"$output" >/dev/null
	[ -z "$(msp-transcode --emit 0)" ]
	mv original.keep "$MSP_STORE/$src"
	run msp-transcode --requeue "$job"
	[ "$status" -eq 0 ]
	run --separate-stderr msp-transcode --requeue "$job"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-transcode: $job: job $job: queued, not failed" ]
	msp-transcode --emit 0 --ladder $LADDER > jobs.jsonl
	[ "$(jq .attempt jobs.jsonl)" -eq 3 ]
	work
	msp-transcode --apply results.jsonl > /dev/null
	msp-catalog get "$vid" | jq -e '.status=="ready"' >/dev/null
	msp-catalog check
}

@test "bad job lines: no answer for a line without a job, a failed result for bad work" {
	mkdir w && cd w
	printf '%s\n' '{"type":"job","v":1,"id":"x"}' > in.jsonl
	printf '%s\n' '{"type":"job","v":1,"id":"01m8tn2m25fk2qwx74fnf8r4ga","videoId":"01m8tn2m25fk2qwx74fnf8r4g9","attempt":1,"token":"t","input":"../etc/passwd","output":"hls/x"}' >> in.jsonl
	run --separate-stderr msp-transcode --job in.jsonl --media . --name w
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-transcode: in.jsonl:1: field 'id': 'x' is not a job id" ]
	jq -e '.status=="failed" and .error=="field '"'input'"': '"'../etc/passwd'"' is not a relative path" and .worker=="w"' <<<"$output" >/dev/null
}

@test "README: GNU parallel spreads job lines over hosts" {
	ingest_clips 3 3
	mkdir -p w
	# as in the README, with ':' (this machine) for the hosts
	cd w
	msp-transcode --emit 0 --ladder $LADDER |
	    parallel --pipe -N1 -S : "msp-transcode --job - --media $MEDIA" |
	    msp-transcode --apply - > ../applied.jsonl
	cd ..
	[ "$(grep -c '"status":"ready"' applied.jsonl)" -eq 3 ]
	msp-catalog check
	run msp-transcode --status
	grep -qx '{"type":"queue","v":1,"state":"done","jobs":3}' <<<"$output"
}
