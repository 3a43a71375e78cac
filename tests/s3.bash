# Helpers for the suites that need an S3 bucket: s3rver (tests/s3, npm) on
# a free loopback port, behind tests/s3proxy.py, which checks every
# request's SigV4 signature with botocore and injects faults on demand.
#
#   load s3
#   setup_file()    { start_s3_server; }   # once per file (node and
#   teardown_file() { stop_s3_server; }    # botocore start slowly)
#   setup()         { start_s3; }          # a fresh, empty bucket per test
#
# start_s3 starts the server itself when setup_file did not. It exports:
#   S3_ENDPOINT   http://127.0.0.1:PORT, the proxy (use this one)
#   S3_BUCKET     an empty bucket of this test's own ("t-N")
#   S3_CONF       a bucket file (mode 600) naming both, with the keys,
#                 5 MiB parts, 3 in parallel, 4 retries, a 2 s timeout
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (both S3RVER), AWS_REGION
#   S3_LOG        the proxy's log, emptied per test: one line per request,
#                 "ok METHOD TARGET header|presigned [fault=KIND]" or
#                 "refused METHOD TARGET KIND: CODE why"
# s3_fault KIND METHOD MATCH COUNT adds a fault rule (tests/s3proxy.py:
# 500, slowdown, reset, truncate, etag, slow, html; METHOD or *, MATCH a
# substring of path and query or -); rules are cleared per test.
# s3_refused prints the requests the proxy refused (none when every
# signature was right).

_s3_wait() { # FILE REGEX: wait until FILE has a line matching REGEX
	local i
	for i in $(seq 1 600); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

start_s3_server() {
	local d="${BATS_FILE_TMPDIR:-$BATS_TEST_TMPDIR}/s3" port
	mkdir -p "$d/data"
	: > "$d/s3rver.out"
	# s3rver's continuation tokens use DES, which OpenSSL 3 keeps in its
	# legacy provider
	node --openssl-legacy-provider \
	    "$BATS_TEST_DIRNAME/s3/node_modules/s3rver/bin/s3rver.js" \
	    -d "$d/data" -a 127.0.0.1 -p 0 --allow-mismatched-signatures \
	    > "$d/s3rver.out" 2>&1 3>&- &
	export S3RVER_PID=$!
	_s3_wait "$d/s3rver.out" 'listening on' ||
	    { cat "$d/s3rver.out" >&2; return 1; }
	port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' \
	    "$d/s3rver.out")
	export S3_UPSTREAM="http://127.0.0.1:$port"
	export S3_LOG="$d/proxy.log" S3_FAULTS="$d/faults"
	: > "$S3_LOG"
	: > "$S3_FAULTS"
	python3 "$BATS_TEST_DIRNAME/s3proxy.py" --upstream "127.0.0.1:$port" \
	    --access S3RVER --secret S3RVER --region us-east-1 \
	    --faults "$S3_FAULTS" --log "$S3_LOG" --slow 3 \
	    > "$d/proxy.out" 2> "$d/proxy.err" 3>&- &
	export S3PROXY_PID=$!
	_s3_wait "$d/proxy.out" '^listening' ||
	    { cat "$d/proxy.err" >&2; return 1; }
	export S3_ENDPOINT="http://127.0.0.1:$(cut -d' ' -f2 "$d/proxy.out")"
}

stop_s3_server() {
	[ -n "${S3PROXY_PID:-}" ] && kill "$S3PROXY_PID" 2>/dev/null
	[ -n "${S3RVER_PID:-}" ] && kill "$S3RVER_PID" 2>/dev/null
	[ -n "${S3PROXY_PID:-}" ] && wait "$S3PROXY_PID" 2>/dev/null
	[ -n "${S3RVER_PID:-}" ] && wait "$S3RVER_PID" 2>/dev/null
	S3PROXY_PID= S3RVER_PID=
	return 0
}

start_s3() {
	if [ -z "${S3PROXY_PID:-}" ]; then
		start_s3_server || return 1
		S3_OWN_SERVER=1
	fi
	: > "$S3_LOG"
	: > "$S3_FAULTS"
	export S3_BUCKET="t-$BATS_TEST_NUMBER"
	# s3rver takes the bucket without a valid signature (it cannot check
	# SigV4); this goes straight to it, not through the proxy
	curl -sf -X PUT "$S3_UPSTREAM/$S3_BUCKET" >/dev/null ||
	    { echo "cannot create bucket $S3_BUCKET" >&2; return 1; }
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	export AWS_REGION=us-east-1
	unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_DEFAULT_REGION
	export S3_CONF="$BATS_TEST_TMPDIR/bucket.conf"
	(umask 077 && cat > "$S3_CONF" <<-EOT
	endpoint = $S3_ENDPOINT
	bucket = $S3_BUCKET
	region = us-east-1
	addressing = path
	access_key_id = S3RVER
	secret_access_key = S3RVER
	part_size = 5242880
	parallel = 3
	retries = 4
	timeout = 2
	EOT
	)
}

# stop_s3: stops the server when start_s3 started it
stop_s3() {
	: > "${S3_FAULTS:-/dev/null}"
	if [ -n "${S3_OWN_SERVER:-}" ]; then
		stop_s3_server
		S3_OWN_SERVER=
	fi
	return 0
}

s3_fault() {
	echo "$1 $2 $3 $4" >> "$S3_FAULTS"
}

s3_refused() {
	grep -E '^(refused|MISMATCH)' "$S3_LOG" || true
}
