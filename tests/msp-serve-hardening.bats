#!/usr/bin/env bats
# msp-serve under attack: request framing, symlinks in the media tree,
# cross-site writes, premium URLs after a subscription, login throttling,
# the password hashing pool and slow uploads.

load helper
load serve_helper

setup() {
	setup_store
	msp-catalog user add owner@example.org >/dev/null
}

teardown() {
	stop_server
}

# raw HTTP on one connection: rawhttp BYTES (python escapes) -> everything
# the server sent until it closed, then "<closed>", or "<open>" when the
# connection was still open after the answers stopped
rawhttp() {
	python3 - "$PORT" "$1" <<-'EOF'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
	s.settimeout(3)
	out = b""
	try:
	    while True:
	        d = s.recv(65536)
	        if not d:
	            out += b"<closed>"
	            break
	        out += d
	except socket.timeout:
	    out += b"<open>"
	sys.stdout.write(out.decode("latin-1").replace("\r\n", "\n"))
	EOF
}

@test "framing: Content-Length with Transfer-Encoding 400 and closed; other codings 501 at once" {
	start_server
	run rawhttp 'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n'
	[[ "$output" == "HTTP/1.1 400 Bad Request"* ]]
	[[ "$output" == *"Connection: close"* ]]
	[[ "$output" == *'{"error":"Transfer-Encoding and Content-Length: both given","status":400}'* ]]
	[[ "$output" != *"200 OK"* ]]
	[[ "$output" == *"<closed>" ]]
	run rawhttp 'POST /auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
	[[ "$output" == "HTTP/1.1 501 Not Implemented"* ]]
	[[ "$output" == *"{\"error\":\"Transfer-Encoding 'gzip, chunked': not supported (only chunked)\",\"status\":501}"* ]]
	[[ "$output" == *"<closed>" ]]
	# chunked alone still works, and keeps the connection
	run rawhttp 'POST /auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n'
	[[ "$output" == *"field 'email': required"* ]]
	[[ "$output" == *"200 OK"* ]]
	[[ "$output" == *"<open>" ]]
}

# a ready free video with a small HLS tree -> id
mkvideo() {
	local id
	id=$(msp-catalog add --type long --title "A film" --language en \
	    --uploaded-by owner@example.org --status ready "$@" | jq -r .id) || return 1
	mkdir -p "$MSP_STORE/media/hls/$id/v0"
	printf '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nv0/index.m3u8\n' \
	    > "$MSP_STORE/media/hls/$id/master.m3u8"
	printf '#EXTM3U\n#EXTINF:3,\nseg0.ts\n#EXT-X-ENDLIST\n' \
	    > "$MSP_STORE/media/hls/$id/v0/index.m3u8"
	head -c 1000 /dev/urandom > "$MSP_STORE/media/hls/$id/v0/seg0.ts"
	echo "$id"
}

@test "hls: a directory or file symlink planted in a video's tree gives 404" {
	id=$(mkvideo)
	mkdir -p "$MSP_STORE/media/originals/x"
	echo secret > "$MSP_STORE/media/originals/x/orig.mp4"
	ln -s ../../originals/x "$MSP_STORE/media/hls/$id/dir"
	ln -s "$MSP_STORE/media/originals/x" "$MSP_STORE/media/hls/$id/abs"
	ln -s ../../../originals/x/orig.mp4 "$MSP_STORE/media/hls/$id/v0/file.ts"
	start_server
	req GET "/hls/$id/v0/seg0.ts"
	[ "$code" = 200 ]
	req GET "/hls/$id/dir/orig.mp4"
	[ "$code" = 404 ] && [ "$(jq -r .error <<<"$body")" = "/hls/$id/dir/orig.mp4: not found" ]
	req GET "/hls/$id/abs/orig.mp4"
	[ "$code" = 404 ]
	req GET "/hls/$id/v0/file.ts"
	[ "$code" = 404 ]
	# the video's own directory as a link is not followed either
	mv "$MSP_STORE/media/hls/$id" "$MSP_STORE/media/elsewhere"
	ln -s ../elsewhere "$MSP_STORE/media/hls/$id"
	req GET "/hls/$id/v0/seg0.ts"
	[ "$code" = 404 ]
}

@test "cookie writes need a same-origin Origin or Sec-Fetch-Site; a foreign Referer alone is refused; Bearer unaffected" {
	start_server
	tok=$(signup_login ann@example.org)
	before=$(store_sum)
	req POST /auth/logout -H "Cookie: msp_session=$tok" -e 'http://evil.example/page'
	[ "$code" = 403 ]
	[ "$(jq -r .error <<<"$body")" = "origin not allowed: POST with the session cookie needs an Origin of this site or Sec-Fetch-Site: same-origin" ]
	req POST /auth/logout -H "Cookie: msp_session=$tok"
	[ "$code" = 403 ]
	req POST /auth/logout -H "Cookie: msp_session=$tok" -H 'Sec-Fetch-Site: cross-site'
	[ "$code" = 403 ]
	req POST /auth/logout -H "Cookie: msp_session=$tok" -H 'Origin: null'
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "origin not allowed" ]
	assert_store_unchanged "$before"
	# reads by cookie need nothing
	req GET /me -H "Cookie: msp_session=$tok"
	[ "$code" = 200 ]
	# a Bearer request with a foreign Referer is fine
	req POST /query -H "Authorization: Bearer $tok" -e 'http://evil.example/' -d '{"tableName":"likes"}'
	[ "$code" = 200 ]
	req POST /query -H "Cookie: msp_session=$tok" -H 'Sec-Fetch-Site: same-origin' -d '{"tableName":"likes"}'
	[ "$code" = 200 ]
	req POST /auth/logout -H "Cookie: msp_session=$tok" -H "Origin: $U"
	[ "$code" = 200 ]
}

@test "premium: a signed URL never outlives the subscription; the default lifetime is 300 s" {
	id=$(mkvideo --premium)
	start_server
	tok=$(signup_login ann@example.org)
	now=$(date +%s)
	end=$(( (now + 100) * 1000 + 500 ))
	printf '{"type":"subscription","v":1,"user":"ann@example.org","subscriptionStartTimestamp":%d,"subscriptionEndTimestamp":%d}\n' \
	    $(( (now - 1000) * 1000 )) "$end" | msp-catalog import
	req GET "/videos/$id" -H "Authorization: Bearer $tok"
	url=$(jq -r .playbackUrl <<<"$body")
	[[ "$url" == "/hls/$id/"*"/master.m3u8" ]]
	exp=${url#/hls/$id/}; exp=${exp%%.*}
	[ "$exp" -eq $(( end / 1000 )) ]
	req GET "$url"
	[ "$code" = 200 ]
	# a long subscription: the URL's own lifetime, 300 s by default
	end=$(( (now + 86400) * 1000 ))
	printf '{"type":"subscription","v":1,"user":"ann@example.org","subscriptionStartTimestamp":%d,"subscriptionEndTimestamp":%d}\n' \
	    $(( (now - 1000) * 1000 )) "$end" | msp-catalog import
	req GET "/videos/$id" -H "Authorization: Bearer $tok"
	url=$(jq -r .playbackUrl <<<"$body")
	exp=${url#/hls/$id/}; exp=${exp%%.*}
	[ "$exp" -ge $(( now + 300 )) ] && [ "$exp" -le $(( $(date +%s) + 300 )) ]
	# the owner's URL is bound by the lifetime only
	path=$(msp-serve --sign "$id")
	exp=${path#/hls/$id/}; exp=${exp%%.*}
	[ "$exp" -le $(( $(date +%s) + 300 )) ]
}

# login_bg N FILE-PREFIX: N logins with a wrong password in the background,
# each answer (status line and body) in PREFIX.I; their pids in LOGINS
login_bg() {
	local n=$1 pre=$2 i
	LOGINS=
	for i in $(seq 1 "$n"); do
		{ curl -s -i -X POST "$U/auth/login" \
		    -d "{\"email\":\"nobody$i@example.org\",\"password\":\"wrong horse battery\"}" \
		    > "$pre.tmp$i" && mv "$pre.tmp$i" "$pre.$i"; } 3>&- &
		LOGINS="$LOGINS $!"
	done
}

# in_flight: the server's requests in flight (from /metrics)
in_flight() {
	curl -s "$U/metrics" | sed -n 's/^msp_http_requests_in_flight //p'
}

@test "logins hash on their own threads: /health answers while they wait; a full queue gets 503 with Retry-After" {
	start_server --threads 1 --hash-threads 1 --hash-queue 8
	login_bg 4 "$BATS_TEST_TMPDIR/l"
	for i in $(seq 1 100); do
		[ "$(in_flight)" -ge 5 ] && break
		sleep 0.05
	done
	[ "$(in_flight)" -ge 5 ]
	req GET /health
	[ "$code" = 200 ]
	# one request thread and four hashes in a row: some are still waiting
	n=$(ls "$BATS_TEST_TMPDIR"/l.[0-9] 2>/dev/null | wc -l)
	[ "$n" -lt 4 ]
	wait $LOGINS
	for i in 1 2 3 4; do
		grep -q '"error":"invalid email or password"' "$BATS_TEST_TMPDIR/l.$i"
	done
	stop_server
	start_server --hash-threads 1 --hash-queue 1
	login_bg 6 "$BATS_TEST_TMPDIR/q"
	wait $LOGINS
	req GET /health
	[ "$code" = 200 ]
	cat "$BATS_TEST_TMPDIR"/q.[0-9] > "$BATS_TEST_TMPDIR/all"
	grep -q '^HTTP/1.1 503' "$BATS_TEST_TMPDIR/all"
	grep -q '^Retry-After: 1' "$BATS_TEST_TMPDIR/all"
	grep -q '"error":"busy: too many sign-ins waiting; try again in a second","status":503' "$BATS_TEST_TMPDIR/all"
	grep -q '^HTTP/1.1 401' "$BATS_TEST_TMPDIR/all"
}

# login FROM EMAIL PASSWORD: from 127.0.0.FROM; sets code, body, retry
login_from() {
	local out
	out=$(curl -s -i --interface "127.0.0.$1" -X POST "$U/auth/login" \
	    -d "{\"email\":\"$2\",\"password\":\"$3\"}")
	code=$(sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p' <<<"$out")
	retry=$(sed -n 's/^Retry-After: \([0-9]*\).*/\1/p' <<<"$out")
	body=$(tail -1 <<<"$out")
}

@test "login limits: an attacker hammering an account locks only itself out; the victim logs in; known clients pass an account lock" {
	start_server --login-fails 3 --login-fails-account 4
	tok=$(signup_login ann@example.org)
	for i in 1 2 3; do
		login_from 2 ann@example.org 'wrong horse battery'
		[ "$code" = 401 ]
	done
	login_from 2 ann@example.org 'correct horse battery'
	[ "$code" = 429 ] && [ "$retry" -ge 1 ] && [ "$retry" -le 60 ] || { echo "$code $retry $body"; false; }
	[ "$(jq -r .error <<<"$body")" = "ann@example.org: too many failed logins; try again later" ]
	# the victim, from its own address and from a new one
	login_from 1 ANN@example.org 'correct horse battery'
	[ "$code" = 200 ]
	login_from 3 ann@example.org 'correct horse battery'
	[ "$code" = 200 ]
	# many addresses: only clients that signed in before may try
	for a in 4 5 6 7; do
		login_from "$a" ann@example.org 'wrong horse battery'
		[ "$code" = 401 ]
	done
	login_from 8 ann@example.org 'correct horse battery'
	[ "$code" = 429 ]
	login_from 1 ann@example.org 'correct horse battery'
	[ "$code" = 200 ]
}

@test "login limits: one address spraying 40 accounts gets 429; other addresses are unaffected" {
	start_server --login-fails-ip 5
	for i in $(seq 1 40); do
		login_from 2 "user$i@example.org" 'wrong horse battery'
		if [ "$i" -le 5 ]; then
			[ "$code" = 401 ]
		else
			[ "$code" = 429 ] || { echo "login $i: $code"; false; }
		fi
	done
	[ "$(jq -r .error <<<"$body")" = "too many failed logins from this address; try again later" ]
	[ "$retry" -gt 0 ] && [ "$retry" -le 900 ]
	login_from 3 user1@example.org 'wrong horse battery'
	[ "$code" = 401 ]
}

@test "slow uploads: a body slower than --min-rate is dropped at its deadline while others are served" {
	start_server --request-timeout 1 --min-rate 100000 --max-uploads 1
	tok=$(signup_login ann@example.org)
	# 40 kB at once, then 100 bytes a second: due after 1 + 0.4 s
	python3 - "$PORT" "$tok" > "$BATS_TEST_TMPDIR/slow" 2>&1 <<-'EOF' 3>&- &
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.sendall(("PUT /short-content/upload?name=slow HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: video/mp4\r\n"
	    "Content-Length: 1000000\r\n\r\n" % sys.argv[2]).encode() + b"\0" * 40000)
	try:
	    for i in range(150):
	        s.send(b"x" * 10)
	        time.sleep(0.1)
	    print("not dropped")
	except OSError:
	    print("dropped")
	EOF
	slow=$!
	req GET /health
	[ "$code" = 200 ]
	# --max-uploads 1: while the slow body holds the one upload slot,
	# another upload is refused at once with 503 and Retry-After
	for _ in $(seq 100); do
		req PUT "/short-content/upload?name=second" -D "$BATS_TEST_TMPDIR/h" \
		    -H "Authorization: Bearer $tok" -H 'Content-Type: video/mp4' \
		    --data-binary 'not much'
		[ "$code" = 503 ] && break
		sleep 0.05
	done
	[ "$code" = 503 ]
	[ "$(jq -r .error <<<"$body")" = "busy: too many uploads at a time; try again later" ]
	grep -qi '^Retry-After: 1' "$BATS_TEST_TMPDIR/h"
	wait "$slow"
	[ "$(cat "$BATS_TEST_TMPDIR/slow")" = dropped ]
	! ls "$MSP_STORE"/media/originals/* 2>/dev/null
	# the upload slot is free again
	req PUT "/short-content/upload?name=third" -H "Authorization: Bearer $tok" \
	    -H 'Content-Type: video/mp4' --data-binary 'not much'
	[ "$code" = 422 ]
}
