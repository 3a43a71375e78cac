#!/usr/bin/env bats
# Transcode workers without a store: job lines out of the store, result
# lines back in (msp-transcode --emit, --job, --apply), through GNU
# parallel or Redis Streams (--dispatch, --worker, msp-serve --dispatch).
# Workers run in their own scratch directories and share only the media
# directory. One redis-server serves the file: a password for its default
# user, a user of its own for user+password, and TLS on a second port
# (certificates from a throwaway CA made here); each test starts from an
# empty Redis.

load helper
load serve_helper

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# redis_start: the file's redis-server, without persistence (a restart is
# that of an empty Redis)
redis_start() {
	local d=$BATS_FILE_TMPDIR/redis
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
	    --appendonly no --dir "$d" --requirepass "$RPASS" \
	    --tls-port "$TPORT" --tls-cert-file "$d/srv.crt" \
	    --tls-key-file "$d/srv.key" --tls-ca-cert-file "$d/ca.crt" \
	    --tls-auth-clients optional \
	    --daemonize yes --pidfile "$d/redis.pid" --logfile "$d/redis.log"
	for _ in $(seq 100); do
		REDISCLI_AUTH=$RPASS redis-cli -p "$RPORT" ping 2>/dev/null |
		    grep -q PONG && break
		sleep 0.1
	done
	REDISCLI_AUTH=$RPASS redis-cli -p "$RPORT" ACL SETUSER worker on \
	    '>w0rker' '~*' '&*' '+@all' > /dev/null
}

# certs DIR: a CA, a certificate for localhost (not for 127.0.0.1) and a
# client certificate, all made now
certs() {
	local d=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 -subj /CN=msp-test-ca 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/srv.key" -out "$d/srv.csr" -subj /CN=localhost 2>/dev/null
	echo 'subjectAltName=DNS:localhost' > "$d/srv.ext"
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
	    -CAcreateserial -out "$d/srv.crt" -days 2 -extfile "$d/srv.ext" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/cli.key" -out "$d/cli.csr" -subj /CN=worker 2>/dev/null
	openssl x509 -req -in "$d/cli.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
	    -CAcreateserial -out "$d/cli.crt" -days 2 2>/dev/null
}

setup_file() {
	export RPORT TPORT RPASS=s3cret-pass
	RPORT=$(free_port)
	TPORT=$(free_port)
	mkdir -p "$BATS_FILE_TMPDIR/redis"
	certs "$BATS_FILE_TMPDIR/redis"
	redis_start
	export URL=redis://127.0.0.1:$RPORT/0
	export TLSURL=rediss://localhost:$TPORT/0
	export MSP_REDIS_PASSWORD=$RPASS
}

teardown_file() {
	local p=$BATS_FILE_TMPDIR/redis/redis.pid
	[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	true
}

setup() {
	setup_store
	cd "$BATS_TEST_TMPDIR"
	MEDIA=$MSP_STORE/media
	LADDER=90:100k
	msp-catalog user add ann@example.com --admin >/dev/null
	REDISCLI_AUTH=$RPASS redis-cli -p "$RPORT" flushall > /dev/null
}

# ingest_clips N SECONDS: N short clips into the store (their job lines on
# ingest.jsonl)
ingest_clips() {
	local i
	for i in $(seq "$1"); do
		make_clip "c$i.mp4" "$2" 160x90 -vf "hue=h=$((i * 40))"
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
	    and (.input|startswith("originals/")) and .ladder=="90:100000")' \
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
		[ -f "$MEDIA/hls/$v/90p/init.mp4" ]
		msp-catalog get "$v" | jq -e '.status=="ready" and
		    .destinationBucketFilePath[0]=="media/hls/'"$v"'/master.m3u8"
		    and .destinationVideoDetails.hls.ladder[0].playlist==
		    "media/hls/'"$v"'/90p/index.m3u8"' >/dev/null
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

@test "status and /metrics: attempts, workers and progress of jobs in flight" {
	ingest_clips 2 3
	msp-transcode --emit 1 --ladder $LADDER > jobs.jsonl
	job=$(jq -r .id jobs.jsonl)
	jq -c '{type:"result",v:1,jobId:.id,videoId,attempt,token,worker:"w\"1",
	    status:"progress",progress:42.5}' jobs.jsonl > progress.jsonl
	msp-transcode --apply progress.jsonl
	run msp-transcode --status
	[ "$status" -eq 0 ]
	grep -qx '{"type":"queue","v":1,"state":"queued","jobs":1}' <<<"$output"
	grep -qx '{"type":"queue","v":1,"state":"running","jobs":1}' <<<"$output"
	jq -e 'select(.type=="job") | .id=="'"$job"'" and .attempts==1 and
	    .worker=="w\"1" and .progress==42 and .via=="lines"' <<<"$output" >/dev/null
	msp-catalog get "$(jq -r .videoId jobs.jsonl)" | jq -e '.progress==42' >/dev/null
	start_server
	req GET /metrics
	stop_server
	grep -qx "msp_transcode_job_progress{job=\"$job\",worker=\"w\\\\\"1\"} 42" <<<"$body"
	grep -qx "msp_transcode_job_attempts{job=\"$job\",state=\"running\"} 1" <<<"$body"
	grep -qx 'msp_jobs{state="running"} 1' <<<"$body"
}

@test "README: GNU parallel spreads job lines over hosts" {
	ingest_clips 3 3
	mkdir -p w
	# the README's recipe, with ':' (this machine) for the hosts
	recipe=$(sed -n '/^    msp-transcode --emit 0 |$/,/--apply -$/p' \
	    "$BATS_TEST_DIRNAME/../README.md" | sed 's/-S w1,w2,:/-S :/')
	[[ "$recipe" == *"parallel --pipe -N1 -S : "* ]]
	cd w
	bash -c "$recipe" > ../applied.jsonl
	cd ..
	[ "$(grep -c '"status":"ready"' applied.jsonl)" -eq 3 ]
	msp-catalog check
	run msp-transcode --status
	grep -qx '{"type":"queue","v":1,"state":"done","jobs":3}' <<<"$output"
}

# ---- over Redis Streams -------------------------------------------------

# worker_start NAME [ARGS]: a worker in its own scratch directory
worker_start() {
	local n=$1
	shift
	mkdir -p "$BATS_TEST_TMPDIR/$n"
	(cd "$BATS_TEST_TMPDIR/$n" && exec msp-transcode --worker "$URL" \
	    --media "$MEDIA" --name "$n" "$@" 2>> worker.log) &
	echo $! > "$BATS_TEST_TMPDIR/$n/pid"
}

stop_pid() { # FILE: kill the process it names, if any
	[ -f "$1" ] && kill "$(cat "$1")" 2>/dev/null
	rm -f "$1"
}

teardown() {
	local p
	for p in "$BATS_TEST_TMPDIR"/*/pid "$BATS_TEST_TMPDIR"/*.pid; do
		stop_pid "$p"
	done
	[ -z "${SERVE_PID:-}" ] || kill "$SERVE_PID" 2>/dev/null
	wait 2>/dev/null || true
}

# all_ready N: N videos ready
all_ready() {
	[ "$(msp-catalog list --status ready | grep -c '"type":"video"')" -eq "$1" ]
}

# until_ready N: wait for N videos ready (at most a minute a video)
until_ready() {
	for _ in $(seq $(($1 * 300))); do
		all_ready "$1" && return 0
		sleep 0.2
	done
	all_ready "$1"
}

@test "redis: three workers in their own directories make a batch ready" {
	ingest_clips 4 3
	for w in w1 w2 w3; do worker_start $w --lease 20; done
	run timeout 300 msp-transcode --dispatch "$URL" --ladder $LADDER \
	    --until-done --lease 20
	[ "$status" -eq 0 ]
	[ "$(grep -c '"status":"ready"' <<<"$output")" -eq 4 ]
	all_ready 4
	msp-catalog check
	run msp-transcode --status --dispatch "$URL"
	grep -qx '{"type":"queue","v":1,"state":"done","jobs":4}' <<<"$output"
	grep -q '"type":"redis".*"waiting":0,"pending":0,"results":0,"dead":0,"consumers":3' <<<"$output"
	# each job done once, by one of the workers
	n=$(cat w?/worker.log | grep -c ': ready$')
	[ "$n" -eq 4 ]
	msp-catalog export | jq -s -e '[.[] | select(.type=="job")] |
	    length==4 and all(.attempts==1 and .state=="done" and
	    (.worker|test("^w[123]$")))' >/dev/null
}

@test "redis: msp-serve --dispatch: the dispatcher in the server's thread" {
	ingest_clips 2 3
	worker_start w1 --lease 20
	start_server --dispatch "$URL" --ladder $LADDER --lease 20
	until_ready 2
	msp-catalog check
	grep -q "job .*: attempt 1 dispatched$" "$BATS_TEST_TMPDIR/serve.err"
	grep -q "job .*: attempt 1 ready: applied$" "$BATS_TEST_TMPDIR/serve.err"
	# a later upload goes the same way
	make_clip c9.mp4 3 160x90
	msp-ingest -t short --name Late --uploaded-by ann@example.com c9.mp4 > /dev/null
	until_ready 3
	stop_server
	msp-catalog export | jq -s -e '[.[] | select(.type=="job")] |
	    length==3 and all(.attempts==1 and .state=="done" and .worker=="w1")' >/dev/null
	[[ "$(cat "$BATS_TEST_TMPDIR/serve.err")" != *"$RPASS"* ]]
	# bad settings: refused before it listens
	run --separate-stderr msp-serve -l 127.0.0.1:0 --dispatch http://h/
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-serve: --dispatch: not a redis://HOST[:PORT][/DB] or rediss://... URL"* ]]
	run --separate-stderr msp-serve -l 127.0.0.1:0 --dispatch "$URL" --redis-ca ca.pem
	[ "$status" -eq 2 ]
	[ "$stderr" = "msp-serve: redis: a CA, certificate or key file is for TLS: a rediss:// URL" ]
	run --separate-stderr msp-serve -l 127.0.0.1:0 --dispatch "$URL" --lease 0
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-serve: --lease: '0': expected seconds from 1 to 86400"* ]]
}

@test "redis: kill -9 of a worker mid-chunk: another takes it over after the lease" {
	make_clip long.mp4 12 320x180
	msp-ingest -t long --title Long --language en -g drama \
	    --uploaded-by ann@example.com long.mp4 > ingest.jsonl
	job=$(jq -r 'select(.type=="job") | .id' ingest.jsonl)
	worker_start w1 --lease 3
	msp-transcode --dispatch "$URL" --ladder 180:300k,90:100k --lease 3 \
	    -t 2 --chunk 4 > dispatch.out 2> dispatch.err &
	echo $! > dispatch.pid
	for _ in $(seq 300); do
		grep -q "attempt 1 of video" w1/worker.log && break
		sleep 0.1
	done
	# killed as soon as it starts a chunk: which chunk that is depends on
	# how fast the machine is
	kill -9 "$(cat w1/pid)"
	rm w1/pid
	worker_start w2 --lease 3
	until_ready 1
	grep -q "job $job: attempt 1 dispatched in 3 chunks" dispatch.err
	grep -Eq "job $job: chunk [0-2] of attempt 1 lost, attempt 2 dispatched" dispatch.err
	msp-catalog export | jq -e 'select(.type=="job") | .attempts==2 and
	    .state=="done" and .worker=="w2" and .resolved==2' >/dev/null
	msp-catalog check
}

@test "redis: kill -9 of the dispatcher and of redis-server mid-batch: nothing lost, nothing applied twice" {
	ingest_clips 4 3
	for w in w1 w2 w3; do worker_start $w --lease 30; done
	msp-transcode --dispatch "$URL" --ladder $LADDER --lease 30 \
	    > d1.out 2> d1.err &
	echo $! > dispatch.pid
	for _ in $(seq 300); do
		grep -q "attempt 1 of video" w?/worker.log 2>/dev/null && break
		sleep 0.1
	done
	kill -9 "$(cat dispatch.pid)"
	kill -9 "$(cat "$BATS_FILE_TMPDIR/redis/redis.pid")"
	rm dispatch.pid
	sleep 1
	redis_start
	run timeout 300 msp-transcode --dispatch "$URL" --ladder $LADDER \
	    --lease 30 --until-done
	[ "$status" -eq 0 ]
	all_ready 4
	msp-catalog check
	# each result applied once: four videos made ready, in both runs
	[ "$(cat d1.out <(echo "$output") | grep -c '"status":"ready"')" -eq 4 ]
	msp-catalog export | jq -s -e '[.[] | select(.type=="job")] |
	    length==4 and all(.attempts==1 and .state=="done")' >/dev/null
}

@test "redis: AUTH by password or user and password, never printed; bad URLs refused" {
	ingest_clips 1 3
	MSP_REDIS_PASSWORD=wrong run --separate-stderr msp-transcode \
	    --dispatch "$URL" --until-done
	[ "$status" -eq 3 ]
	[[ "$stderr" == "msp-transcode: redis://127.0.0.1:$RPORT/0: AUTH: WRONGPASS"* ]]
	[[ "$stderr" != *wrong* ]]
	MSP_REDIS_PASSWORD= run --separate-stderr msp-transcode \
	    --dispatch "$URL" --until-done
	[ "$status" -eq 3 ]
	[[ "$stderr" == "msp-transcode: redis://127.0.0.1:$RPORT/0: SELECT: NOAUTH"* ]]
	# a user of its own, its password in the URL, which is never shown
	MSP_REDIS_PASSWORD= URL="redis://worker:w0rker@127.0.0.1:$RPORT/0" \
	    worker_start w1 --lease 20
	run --separate-stderr timeout 120 msp-transcode --dispatch "$URL" \
	    --ladder $LADDER --until-done
	[ "$status" -eq 0 ]
	all_ready 1
	[[ "$(cat w1/worker.log)" != *w0rker* ]]
	MSP_REDIS_PASSWORD= run msp-transcode --status --dispatch \
	    "redis://worker:w0rker@127.0.0.1:$RPORT/0"
	[ "$status" -eq 0 ]
	[[ "$output" != *w0rker* ]]
	grep -q "\"url\":\"redis://127.0.0.1:$RPORT/0\"" <<<"$output"
	MSP_REDIS_PASSWORD=x run --separate-stderr msp-transcode --status \
	    --dispatch "redis://worker:w0rker@127.0.0.1:$RPORT/0"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"AUTH: WRONGPASS"* && "$stderr" != *w0rker* ]]
	run --separate-stderr msp-transcode --dispatch http://h/
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: --dispatch: not a redis://HOST[:PORT][/DB] or rediss://... URL"* ]]
	run --separate-stderr msp-transcode --worker redis://h:0/0
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: redis: port '0': not a port"* ]]
}

@test "redis: TLS: the server's certificate and name verified, a client certificate, AUTH over it" {
	d=$BATS_FILE_TMPDIR/redis
	ingest_clips 1 3
	TLS="--redis-ca $d/ca.crt --redis-cert $d/cli.crt --redis-key $d/cli.key"
	URL=$TLSURL worker_start w1 --lease 20 $TLS
	run --separate-stderr timeout 120 msp-transcode --dispatch "$TLSURL" \
	    --ladder $LADDER --until-done $TLS
	[ "$status" -eq 0 ]
	all_ready 1
	grep -q ': ready$' w1/worker.log
	[[ "$stderr" != *"$RPASS"* ]]
	run msp-transcode --status --dispatch "$TLSURL" --redis-ca "$d/ca.crt"
	[ "$status" -eq 0 ]
	grep -q "\"url\":\"rediss://localhost:$TPORT/0\",\"waiting\":0,\"pending\":0,\"results\":0" <<<"$output"
	# a CA that did not sign it (the system's)
	run --separate-stderr msp-transcode --status --dispatch "$TLSURL"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"msp-transcode: rediss://localhost:$TPORT/0: TLS: the server's certificate: "* ]]
	# a name the certificate does not have
	run --separate-stderr msp-transcode --status --dispatch \
	    "rediss://127.0.0.1:$TPORT/0" --redis-ca "$d/ca.crt"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"msp-transcode: rediss://127.0.0.1:$TPORT/0: TLS: the server's certificate: IP address mismatch" ]]
	# a client certificate the server does not trust: it is sent, and refused
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout own.key -out own.crt -days 1 -subj /CN=stranger 2>/dev/null
	run --separate-stderr msp-transcode --status --dispatch "$TLSURL" \
	    --redis-ca "$d/ca.crt" --redis-cert own.crt --redis-key own.key
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"msp-transcode: rediss://localhost:$TPORT/0: TLS"*"alert unknown ca" ]] || { echo "$stderr"; false; }
	# TLS to the plain port
	run --separate-stderr msp-transcode --status --dispatch \
	    "rediss://localhost:$RPORT/0" --redis-ca "$d/ca.crt"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"msp-transcode: rediss://localhost:$RPORT/0: TLS handshake: "* ]]
	# bad files
	run --separate-stderr msp-transcode --worker "$TLSURL" --redis-ca nosuch.pem
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: redis: CA file 'nosuch.pem': No such file or directory"* ]]
	run --separate-stderr msp-transcode --emit 0 --redis-ca "$d/ca.crt"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: --redis-ca, --redis-cert and --redis-key go with a Redis URL (--dispatch or --worker)"* ]]
	run --separate-stderr msp-transcode --worker "$TLSURL" --redis-cert "$d/cli.crt"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: redis: a client certificate and its key go together"* ]]
	run --separate-stderr msp-transcode --worker "$TLSURL" \
	    --redis-cert "$d/cli.crt" --redis-key "$d/srv.key"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-transcode: redis: key file '$d/srv.key': not the key of '$d/cli.crt'"* ]]
}

# psnr REF DIR RUNG: average PSNR of DIR's RUNG against REF scaled to it
psnr() {
	local size
	size=$(ffprobe -v error -select_streams v -show_entries stream=width,height \
	    -of csv=p=0:s=x "$2/$3/index.m3u8" | head -1)
	ffmpeg -hide_banner -nostats -i "$2/$3/index.m3u8" -i "$1" -lavfi \
	    "[1:v]scale=size=$size:flags=bicubic[r];[0:v][r]psnr" -f null - 2>&1 |
	    sed -n 's/.*PSNR.* average:\([0-9.]*\).*/\1/p'
}

@test "redis: a long video in chunks: stitched playlists, monotonic timestamps, keyframes, PSNR of an unchunked encode" {
	make_clip long.mp4 12 320x180
	msp-ingest -t long --title Long --language en -g drama \
	    --uploaded-by ann@example.com long.mp4 > ingest.jsonl
	vid=$(jq -r 'select(.type=="job") | .videoId' ingest.jsonl)
	ingest_clips 1 3 # and a short one, which stays one job
	for w in w1 w2 w3; do worker_start $w --lease 30; done
	run --separate-stderr timeout 600 msp-transcode --dispatch "$URL" \
	    --ladder 90:100k,180:300k -t 2 --chunk 4 --until-done --lease 30
	[ "$status" -eq 0 ]
	grep -q "dispatched in 3 chunks" <<<"$stderr"
	[ "$(grep -c 'dispatched$' <<<"$stderr")" -eq 1 ]
	all_ready 2
	msp-catalog check
	d=$MEDIA/hls/$vid
	msp-catalog get "$vid" | jq -e '.destinationVideoDetails.hls.chunks==3 and
	    (.destinationVideoDetails.hls.duration - 12 | fabs) < 0.2' >/dev/null
	# chunks were spread over the workers
	[ "$(cat w?/worker.log | grep -c "of video $vid")" -eq 3 ]
	for r in 90p 180p; do
		grep -q '^#EXT-X-ENDLIST$' "$d/$r/index.m3u8"
		# one stream of the init and every segment: timestamps run on
		# and each segment starts on a keyframe
		cat "$d/$r/init.mp4" $(sed -n "s|^seg|$d/$r/seg|p" "$d/$r/index.m3u8") > all.mp4
		ffprobe -v error -select_streams v -show_entries packet=dts_time \
		    -of csv=p=0 all.mp4 | awk 'NR > 1 && $1 <= p { print "dts " p " then " $1; bad = 1 } { p = $1 } END { exit bad }'
		ffprobe -v error -select_streams a -show_entries packet=pts_time \
		    -of csv=p=0 all.mp4 | awk 'NR > 1 && $1 <= p { print "audio " p " then " $1; bad = 1 } { p = $1 } END { exit bad }'
		for s in $(grep '^seg' "$d/$r/index.m3u8"); do
			cat "$d/$r/init.mp4" "$d/$r/$s" > s.mp4
			ffprobe -v error -select_streams v -read_intervals '%+#1' \
			    -show_entries packet=flags -of csv=p=0 s.mp4 | head -1 | grep -q '^K'
		done
	done
	# the DASH manifest names the stitched segments, on the chunks' own
	# timeline (CHUNK_OFFSET_MS after the video's)
	grep -q 'presentationTimeOffset="45000"' "$d/manifest.mpd"
	p=$(node "$BATS_TEST_DIRNAME/dash/mpd-parse.mjs" "$d/manifest.mpd")
	n=$(grep -c '^seg' "$d/180p/index.m3u8")
	[ "$(jq -r '[.endList, (.reps | map(.segments | length) | join(","))] | @tsv' <<<"$p")" = "$(printf 'true\t%d,%d' "$n" "$n")" ]
	[ "$(jq -r '.reps[0].segments | map(.[1]) | add * 1000 | round' <<<"$p")" = \
	    "$(awk -F'[:,]' '/^#EXTINF/ { s += $2 } END { printf "%d", s * 1000 + 0.5 }' "$d/180p/index.m3u8")" ]
	# the same ladder unchunked, for the quality
	msp-transcode -i long.mp4 -o ref --ladder 90:100k,180:300k -t 2 > /dev/null
	for r in 90p 180p; do
		# the same segment grid
		[ "$(grep -c '^seg' "$d/$r/index.m3u8")" -eq "$(grep -c '^seg' ref/$r/index.m3u8)" ]
		a=$(psnr long.mp4 "$d" $r)
		b=$(psnr long.mp4 ref $r)
		echo "$r: chunked $a dB, whole $b dB"
		awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(a > 20 && d < 0.5 && d > -0.5) }'
	done
}
