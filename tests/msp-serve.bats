#!/usr/bin/env bats
# msp-serve over curl: every route's answers and error codes, sessions,
# authorization, signed HLS delivery, limits and bad input.

load helper
load serve_helper

setup() {
	setup_store
	msp-catalog user add owner@example.org >/dev/null
}

teardown() {
	stop_server
}

# a ready video with a small HLS tree: mkvideo [msp-catalog add flags] -> id
mkvideo() {
	local id
	id=$(msp-catalog add --type long --title "A film" --about "about" \
	    --language en -g drama --uploaded-by owner@example.org \
	    --status ready "$@" | jq -r .id) || return 1
	mkdir -p "$MSP_STORE/media/hls/$id/v0"
	printf '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nv0/index.m3u8\n' \
	    > "$MSP_STORE/media/hls/$id/master.m3u8"
	printf '#EXTM3U\n#EXTINF:3,\nseg0.ts\n#EXT-X-ENDLIST\n' \
	    > "$MSP_STORE/media/hls/$id/v0/index.m3u8"
	head -c 1000 /dev/urandom > "$MSP_STORE/media/hls/$id/v0/seg0.ts"
	echo "$id"
}

@test "health, metrics, unknown route 404, wrong method 405 with Allow" {
	start_server
	req GET /health
	[ "$code" = 200 ] && [ "$(jq -r .status <<<"$body")" = ok ]
	req GET /nope
	[ "$code" = 404 ] && [ "$(jq -r .error <<<"$body")" = "/nope: no such route" ]
	run curl -s -i -X DELETE "$U/health"
	[[ "$output" == *"405 Method Not Allowed"* ]]
	[[ "$output" == *"Allow: GET, HEAD"* ]]
	req POST /auth/login
	req GET /auth/login
	[ "$code" = 405 ]
	req GET /metrics
	[ "$code" = 200 ]
	grep -q '^msp_http_requests_total{method="GET",route="/health",status="200"} 1$' <<<"$body"
	grep -q 'route="/auth/login",status="405"} 1$' <<<"$body"
	grep -q '^msp_transcode_queue_length 0$' <<<"$body"
	grep -q '^# TYPE msp_http_requests_total counter$' <<<"$body"
}

@test "signup: created, duplicate 409, bad fields 400 naming the field; store unchanged" {
	start_server
	req POST /auth/signup -d '{"email":"Ann@Example.org","password":"correct horse battery"}'
	[ "$code" = 201 ]
	[ "$(jq -r .email <<<"$body")" = ann@example.org ]
	[ "$(jq -r .role <<<"$body")" = user ]
	before=$(store_sum)
	req POST /auth/signup -d '{"email":"ann@example.org","password":"another long one"}'
	[ "$code" = 409 ] && [ "$(jq -r .error <<<"$body")" = "ann@example.org: already signed up" ]
	req POST /auth/signup -d '{"email":"bob@example.org","password":"short"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'password': shorter than 10 characters" ]
	req POST /auth/signup -d '{"email":"bob@example.org"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'password': required" ]
	req POST /auth/signup -d '{"email":42,"password":"correct horse"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'email': expected a string, got number" ]
	req POST /auth/signup -d '{"email":"not-an-email","password":"correct horse"}'
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "field 'email': "* ]]
	req POST /auth/signup -d '{"email":"bob@example.org",'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "body: malformed JSON: unexpected end of input" ]
	req POST /auth/signup -d '{"email":"bob@example.org",}'
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "body: malformed JSON at byte "* ]]
	req POST /auth/signup -d '["bob"]'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "body: expected a JSON object, got array" ]
	assert_store_unchanged "$before"
}

@test "oversize bodies get 413 (with Content-Length and chunked); headers too large 431" {
	start_server --max-body 1024 --max-header 2048
	before=$(store_sum)
	big=$(head -c 5000 /dev/zero | tr '\0' a)
	req POST /auth/signup -d "{\"email\":\"$big\"}"
	[ "$code" = 413 ] && [ "$(jq -r .error <<<"$body")" = "body: larger than 1024 bytes" ]
	req POST /auth/signup -H 'Transfer-Encoding: chunked' -d "{\"email\":\"$big\"}"
	[ "$code" = 413 ] && [ "$(jq -r .error <<<"$body")" = "body: larger than 1024 bytes" ]
	req GET /health -H "X-Big: $big"
	[ "$code" = 431 ]
	req GET /health
	[ "$code" = 200 ]
	assert_store_unchanged "$before"
}

@test "login: token and cookie; wrong password and unknown user 401; /me by bearer and cookie" {
	start_server
	req POST /auth/signup -d '{"email":"ann@example.org","password":"correct horse battery"}'
	run curl -s -i -X POST "$U/auth/login" -d '{"email":"ANN@example.org","password":"correct horse battery"}'
	[[ "$output" == *"HTTP/1.1 200"* ]]
	[[ "$output" == *"Set-Cookie: msp_session="*"; HttpOnly; SameSite=Strict"* ]]
	tok=$(tail -1 <<<"$output" | jq -r .token)
	[ ${#tok} -eq 43 ]
	req GET /me -H "Authorization: Bearer $tok"
	[ "$code" = 200 ] && [ "$(jq -r .email <<<"$body")" = ann@example.org ]
	req GET /me -H "Cookie: msp_session=$tok"
	[ "$code" = 200 ]
	req POST /auth/login -d '{"email":"ann@example.org","password":"wrong horse battery"}'
	[ "$code" = 401 ] && [ "$(jq -r .error <<<"$body")" = "invalid email or password" ]
	req POST /auth/login -d '{"email":"zed@example.org","password":"wrong horse battery"}'
	[ "$code" = 401 ] && [ "$(jq -r .error <<<"$body")" = "invalid email or password" ]
	req POST /auth/login -d '{"email":"ann@example.org"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'password': required" ]
	# the token is stored hashed, never in clear
	! msp-catalog export | grep -q "$tok"
	msp-catalog export | jq -e 'select(.type == "session") | .id | length == 64' >/dev/null
	! msp-catalog export | grep -q 'correct horse'
	msp-catalog export | grep -q '^{"type":"credential","v":1,"email":"ann@example.org","hash":"\$argon2id\$'
}

@test "no session, forged and expired tokens get 401; logout ends the session" {
	start_server --session-ttl 1
	tok=$(signup_login ann@example.org)
	req GET /me
	[ "$code" = 401 ] && [ "$(jq -r .error <<<"$body")" = "sign in first: no session" ]
	req GET /me -H "Authorization: Bearer ${tok%?}x"
	[ "$code" = 401 ] && [ "$(jq -r .error <<<"$body")" = "invalid session token" ]
	req GET /me -H "Authorization: Bearer short"
	[ "$code" = 401 ]
	sleep 1.2
	req GET /me -H "Authorization: Bearer $tok"
	[ "$code" = 401 ] && [ "$(jq -r .error <<<"$body")" = "session expired" ]
	stop_server
	start_server
	tok=$(curl -s -X POST "$U/auth/login" -d '{"email":"ann@example.org","password":"correct horse battery"}' | jq -r .token)
	req POST /auth/logout -H "Authorization: Bearer $tok"
	[ "$code" = 200 ]
	req GET /me -H "Authorization: Bearer $tok"
	[ "$code" = 401 ]
	req POST /auth/logout -H "Authorization: Bearer $tok"
	[ "$code" = 401 ]
}

@test "login is rate limited: 429 with Retry-After after 5 failures, even with the right password" {
	start_server
	tok=$(signup_login ann@example.org)
	for i in 1 2 3 4 5; do
		req POST /auth/login -d '{"email":"ann@example.org","password":"wrong horse battery"}'
		[ "$code" = 401 ]
	done
	run curl -s -i -X POST "$U/auth/login" -d '{"email":"ann@example.org","password":"correct horse battery"}'
	[[ "$output" == *"HTTP/1.1 429"* ]]
	[[ "$output" == *"Retry-After: 60"* ]]
	[[ "$output" == *'"error":"ann@example.org: too many failed logins; try again later"'* ]]
	# the open session still works
	req GET /me -H "Authorization: Bearer $tok"
	[ "$code" = 200 ]
}

@test "hls: a free ready video is public with type, length, ETag, Last-Modified, Cache-Control" {
	id=$(mkvideo)
	start_server
	run curl -s -i "$U/hls/$id/master.m3u8"
	[[ "$output" == *"HTTP/1.1 200"* ]]
	[[ "$output" == *"Content-Type: application/vnd.apple.mpegurl"* ]]
	[[ "$output" == *"Cache-Control: no-cache"* ]]
	[[ "$output" == *"ETag: \""* ]]
	[[ "$output" == *"Last-Modified: "*" GMT"* ]]
	[[ "$output" == *"v0/index.m3u8"* ]]
	run curl -s -i "$U/hls/$id/v0/seg0.ts"
	[[ "$output" == *"Content-Type: video/mp2t"* ]]
	[[ "$output" == *"Cache-Control: public, max-age=31536000, immutable"* ]]
	[[ "$output" == *"Content-Length: 1000"* ]]
	[[ "$output" == *"Accept-Ranges: bytes"* ]]
	curl -s "$U/hls/$id/v0/seg0.ts" | cmp - "$MSP_STORE/media/hls/$id/v0/seg0.ts"
}

@test "hls: Range gives 206 and the right bytes, bad range 416, If-None-Match 304, HEAD" {
	id=$(mkvideo)
	start_server
	f="$MSP_STORE/media/hls/$id/v0/seg0.ts"
	run curl -s -i -H 'Range: bytes=100-199' "$U/hls/$id/v0/seg0.ts"
	[[ "$output" == *"HTTP/1.1 206"* ]]
	[[ "$output" == *"Content-Range: bytes 100-199/1000"* ]]
	[[ "$output" == *"Content-Length: 100"* ]]
	cmp <(curl -s -H 'Range: bytes=100-199' "$U/hls/$id/v0/seg0.ts") <(tail -c +101 "$f" | head -c 100)
	cmp <(curl -s -H 'Range: bytes=-10' "$U/hls/$id/v0/seg0.ts") <(tail -c 10 "$f")
	cmp <(curl -s -H 'Range: bytes=990-' "$U/hls/$id/v0/seg0.ts") <(tail -c 10 "$f")
	run curl -s -i -H 'Range: bytes=5000-6000' "$U/hls/$id/v0/seg0.ts"
	[[ "$output" == *"HTTP/1.1 416"* ]]
	[[ "$output" == *"Content-Range: bytes */1000"* ]]
	etag=$(curl -s -I "$U/hls/$id/v0/seg0.ts" | sed -n 's/^ETag: \(.*\)\r$/\1/p')
	[ -n "$etag" ]
	req GET "/hls/$id/v0/seg0.ts" -H "If-None-Match: $etag"
	[ "$code" = 304 ] && [ -z "$body" ]
	lm=$(curl -s -I "$U/hls/$id/v0/seg0.ts" | sed -n 's/^Last-Modified: \(.*\)\r$/\1/p')
	req GET "/hls/$id/v0/seg0.ts" -H "If-Modified-Since: $lm"
	[ "$code" = 304 ]
	run curl -s -I "$U/hls/$id/v0/seg0.ts"
	[[ "$output" == *"HTTP/1.1 200"* ]] && [[ "$output" == *"Content-Length: 1000"* ]]
}

@test "hls: not-ready, deleted and unknown videos and missing files give 404" {
	id=$(mkvideo)
	pid=$(mkvideo --status processing)
	did=$(mkvideo)
	msp-catalog del "$did" >/dev/null
	start_server
	req GET "/hls/$pid/master.m3u8"
	[ "$code" = 404 ]
	req GET "/hls/$did/master.m3u8"
	[ "$code" = 404 ]
	req GET "/hls/01m86te51ydk76temc97kvb7dk/master.m3u8"
	[ "$code" = 404 ]
	req GET "/hls/$id/nothing.ts"
	[ "$code" = 404 ]
	req GET "/hls/$id/v0"
	[ "$code" = 404 ]
	req GET "/hls/nonsense"
	[ "$code" = 404 ]
}

@test "hls: path traversal with .., %2e%2e, absolute paths, NUL and hidden files is refused" {
	id=$(mkvideo)
	echo secret > "$MSP_STORE/media/hls/$id/.tmp-secret"
	start_server
	for p in "/hls/$id/../../../etc/passwd" "/hls/$id/v0/../../$id/master.m3u8" \
	    "/hls/$id/%2e%2e/%2e%2e/data.mdb" "/hls/$id/%2E%2E%2Fdata.mdb" \
	    "/hls/$id//etc/passwd" "/hls/$id/%2fetc%2fpasswd" \
	    "/hls/$id/master.m3u8%00.ts" "/hls/$id/v0/seg0.ts%00" \
	    "/hls/$id/.tmp-secret" "/hls/$id/v0/./seg0.ts" "/hls/..%2f..%2fdata.mdb"; do
		run curl -s --path-as-is -o "$BATS_TEST_TMPDIR/got" -w '%{http_code}' "$U$p"
		[[ "$output" == 400 || "$output" == 404 ]] || { echo "$p: $output"; return 1; }
		! grep -q -e root: -e secret -e EXTM3U "$BATS_TEST_TMPDIR/got" || { echo "$p leaked"; return 1; }
	done
	run curl -s --path-as-is -w '%{http_code}' -o /dev/null "$U/hls/$id/%2e%2e/x"
	[ "$output" = 400 ]
	run curl -s --path-as-is -w '%{http_code}' -o /dev/null "$U/hls/$id/master.m3u8%00.ts"
	[ "$output" = 400 ]
}

@test "hls: premium needs a signed URL; forged, other video's and expired tokens 403" {
	id=$(mkvideo --premium)
	other=$(mkvideo --premium)
	start_server
	req GET "/hls/$id/master.m3u8"
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "premium video: a signed URL is required" ]
	path=$(msp-serve --sign "$id")
	[[ "$path" == "/hls/$id/"*"/" ]]
	req GET "${path}master.m3u8"
	[ "$code" = 200 ] && [[ "$body" == *"v0/index.m3u8"* ]]
	req GET "${path}v0/seg0.ts"
	[ "$code" = 200 ]
	run curl -s -I "$U${path}v0/seg0.ts"
	[[ "$output" == *"Cache-Control: private"* ]]
	tok=${path#/hls/$id/}; tok=${tok%/}
	exp=${tok%%.*}; mac=${tok#*.}
	req GET "/hls/$id/$exp.${mac%?}A/master.m3u8"
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "forged media token" ]
	req GET "/hls/$id/$((exp + 1000)).$mac/master.m3u8"
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "forged media token" ]
	req GET "/hls/$other/$tok/master.m3u8"
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "forged media token" ]
	old=$(msp-serve --sign "$id" --url-ttl 0)
	req GET "${old}master.m3u8"
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "expired media token" ]
}

@test "hls: the file cache sends rewritten, truncated and replaced files anew; premium and deletion count at once" {
	id=$(mkvideo)
	d="$MSP_STORE/media/hls/$id/v0"
	for n in 1 2 3; do head -c 300000 /dev/urandom > "$d/seg$n.ts"; done
	sleep 1.1 # a file changed in the last second is not kept
	start_server
	for n in 1 2 3 1 2 3; do
		curl -s "$U/hls/$id/v0/seg$n.ts" | cmp - "$d/seg$n.ts"
	done
	cmp <(curl -s -H 'Range: bytes=1000-1999' "$U/hls/$id/v0/seg1.ts") <(tail -c +1001 "$d/seg1.ts" | head -c 1000)
	# rewritten in place, the same size
	head -c 300000 /dev/urandom | dd of="$d/seg1.ts" conv=notrunc status=none
	curl -s "$U/hls/$id/v0/seg1.ts" | cmp - "$d/seg1.ts"
	# truncated in place
	truncate -s 1000 "$d/seg2.ts"
	curl -s "$U/hls/$id/v0/seg2.ts" | cmp - "$d/seg2.ts"
	run curl -s -I "$U/hls/$id/v0/seg2.ts"
	[[ "$output" == *"Content-Length: 1000"* ]]
	# renamed over, as the store publishes
	head -c 300000 /dev/urandom > "$d/new.tmp" && mv "$d/new.tmp" "$d/seg3.ts"
	curl -s "$U/hls/$id/v0/seg3.ts" | cmp - "$d/seg3.ts"
	# made premium: the unsigned URL is refused at once, the signed one serves
	msp-catalog update "$id" --set isPremium=true > /dev/null
	req GET "/hls/$id/v0/seg3.ts"
	[ "$code" = 403 ]
	path=$(msp-serve --sign "$id")
	curl -s "$U${path}v0/seg3.ts" | cmp - "$d/seg3.ts"
	# deleted: gone at once, signed or not
	msp-catalog del "$id" > /dev/null
	req GET "${path}v0/seg3.ts"
	[ "$code" = 404 ]
	stop_server
	# no cache: sendfile alone
	id=$(mkvideo)
	start_server --file-buffers 0
	curl -s "$U/hls/$id/v0/seg0.ts" | cmp - "$MSP_STORE/media/hls/$id/v0/seg0.ts"
	stop_server
	run --separate-stderr msp-serve --file-buffers lots
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--file-buffers: 'lots' is not a number from 0 to 1099511627776"* ]]
}

@test "CORS: same-origin by default; allowed origins get headers; cross-site cookie writes refused" {
	start_server
	run curl -s -i -H 'Origin: http://evil.example' "$U/health"
	[[ "$output" != *"Access-Control-Allow-Origin"* ]]
	stop_server
	start_server --cors http://app.example
	run curl -s -i -H 'Origin: http://app.example' "$U/health"
	[[ "$output" == *"Access-Control-Allow-Origin: http://app.example"* ]]
	[[ "$output" == *"Vary: Origin"* ]]
	run curl -s -i -X OPTIONS -H 'Origin: http://app.example' \
	    -H 'Access-Control-Request-Method: POST' "$U/auth/login"
	[[ "$output" == *"HTTP/1.1 204"* ]]
	[[ "$output" == *"Access-Control-Allow-Methods: POST"* ]]
	run curl -s -i -X OPTIONS -H 'Origin: http://evil.example' "$U/auth/login"
	[[ "$output" == *"HTTP/1.1 403"* ]]
	[[ "$output" != *"Access-Control-Allow-Origin"* ]]
	tok=$(signup_login ann@example.org)
	req POST /auth/logout -H "Cookie: msp_session=$tok" -H 'Origin: http://evil.example'
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "origin not allowed" ]
	req GET /me -H "Cookie: msp_session=$tok" -H "Origin: $U"
	[ "$code" = 200 ]
	run msp-serve --cors '*'
	[ "$status" -eq 2 ]
	[[ "$output" == *"--cors: '*' is not an origin"* ]]
}

@test "a slow client sending a byte a second is dropped after the timeout while others are served" {
	start_server --request-timeout 2
	python3 - "$PORT" > "$BATS_TEST_TMPDIR/slow" 2>&1 <<-'EOF' &
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	t0 = time.time()
	try:
	    for ch in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 20:
	        s.send(bytes([ch]))
	        time.sleep(0.5)
	    print("not dropped")
	except OSError:
	    print("dropped")
	EOF
	slow=$!
	for i in 1 2 3; do
		req GET /health
		[ "$code" = 200 ]
		sleep 0.3
	done
	wait "$slow"
	[ "$(cat "$BATS_TEST_TMPDIR/slow")" = dropped ]
	req GET /health
	[ "$code" = 200 ]
}

@test "access log in combined format; SIGTERM stops cleanly with status 0" {
	start_server
	tok=$(signup_login ann@example.org)
	curl -s -A 'agent/1' -e 'http://ref.example/' -H "Authorization: Bearer $tok" "$U/me" >/dev/null
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
	st=$?
	SERVE_PID=
	[ "$st" -eq 0 ]
	grep -Eq '^127\.0\.0\.1 - ann@example\.org \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} [+-][0-9]{4}\] "GET /me HTTP/1\.1" 200 [0-9]+ "http://ref\.example/" "agent/1"$' \
	    "$BATS_TEST_TMPDIR/access.log"
	grep -q '"POST /auth/signup HTTP/1.1" 201' "$BATS_TEST_TMPDIR/access.log"
}

@test "usage errors: bad --listen, bad numbers, unknown option; a busy port" {
	run msp-serve --threads 0
	[ "$status" -eq 2 ] && [[ "$output" == *"--threads: '0' is not a number from 1 to 256"* ]]
	run msp-serve -l nonsense
	[ "$status" -eq 1 ] && [[ "$output" == *"msp-serve: --listen 'nonsense': expected HOST:PORT or [IPV6]:PORT"* ]]
	start_server
	run msp-serve -l "127.0.0.1:$PORT"
	[ "$status" -eq 3 ] || [ "$status" -eq 1 ]
	[[ "$output" == *"127.0.0.1:$PORT: cannot listen"* ]]
	run msp-serve --sign nothing
	[ "$status" -eq 1 ] && [[ "$output" == *"'nothing': not a video id"* ]]
}

@test "--passwd sets a password an admin made user can log in with" {
	run bash -c 'echo "a new long password" | msp-serve --passwd owner@example.org'
	[ "$status" -eq 0 ]
	run bash -c 'echo "short" | msp-serve --passwd owner@example.org'
	[ "$status" -eq 1 ] && [[ "$output" == *"owner@example.org: field 'password': shorter than 10 characters"* ]]
	start_server
	req POST /auth/login -d '{"email":"owner@example.org","password":"a new long password"}'
	[ "$code" = 200 ]
}

# ---- the original's routes ---------------------------------------------

@test "upload (raw body): 202, identity from the session, original stored, job queued" {
	make_clip "$BATS_TEST_TMPDIR/c.mp4" 3 160x90
	start_server
	tok=$(signup_login ann@example.org)
	req PUT '/short-content/upload?name=hello&filename=c.mp4' -H "Authorization: Bearer $tok" \
	    -H 'Content-Type: video/mp4' -H 'X-Msp-Meta: {"uploadedBy":"owner@example.org"}' \
	    --data-binary @"$BATS_TEST_TMPDIR/c.mp4"
	[ "$code" = 202 ]
	[ "$(jq -r .uploadedBy <<<"$body")" = ann@example.org ]
	[ "$(jq -r .name <<<"$body")" = hello ]
	[ "$(jq -r .videoType <<<"$body")" = short ]
	[ "$(jq -r .status <<<"$body")" = uploaded ]
	[ -n "$(jq -r .jobId <<<"$body")" ]
	[ -f "$MSP_STORE/$(jq -r .sourceBucketFilePath <<<"$body")" ]
	req GET /metrics
	grep -q '^msp_transcode_queue_length 1$' <<<"$body"
}

@test "upload (multipart): fields and a metadata part; long video indexed by genre" {
	make_clip "$BATS_TEST_TMPDIR/c.mp4" 2 160x90
	start_server
	tok=$(signup_login ann@example.org)
	req PUT /long-content/upload -H "Authorization: Bearer $tok" -F file=@"$BATS_TEST_TMPDIR/c.mp4" \
	    -F title=Film -F language=en -F genres=drama,comedy -F about=x -F isPremium=true
	[ "$code" = 202 ]
	[ "$(jq -c .genres <<<"$body")" = '["drama","comedy"]' ]
	[ "$(jq -r .isPremium <<<"$body")" = true ]
	req PUT /long-content/upload -H "Authorization: Bearer $tok" -F file=@"$BATS_TEST_TMPDIR/c.mp4" \
	    -F 'metadata={"title":"Meta","language":"fr","genres":["news"]}'
	[ "$code" = 202 ] && [ "$(jq -r .title <<<"$body")" = Meta ]
	[ "$(msp-catalog list --genre news | jq -r 'select(.type == "video") | .title')" = Meta ]
}

@test "upload refusals: no session 401, not media 422, too big 413, no file 400, bad field 400; store unchanged" {
	make_clip "$BATS_TEST_TMPDIR/c.mp4" 3 160x90
	start_server --max-upload 20000
	tok=$(signup_login ann@example.org)
	before=$(store_sum)
	req PUT /short-content/upload -H 'Content-Type: video/mp4' --data-binary @"$BATS_TEST_TMPDIR/c.mp4"
	[ "$code" = 401 ]
	req PUT /short-content/upload -H "Authorization: Bearer $tok" -H 'Content-Type: video/mp4' --data-binary 'not a video at all'
	[ "$code" = 422 ] && [ "$(jq -r .error <<<"$body")" = "not a media file (no known container format)" ]
	req PUT /short-content/upload -H "Authorization: Bearer $tok" -H 'Content-Type: video/mp4' --data-binary @"$BATS_TEST_TMPDIR/c.mp4"
	[ "$code" = 413 ] && [ "$(jq -r .error <<<"$body")" = "body: larger than 20000 bytes" ]
	req PUT /short-content/upload -H "Authorization: Bearer $tok" -H 'Content-Type: video/mp4' \
	    -H 'Transfer-Encoding: chunked' --data-binary @"$BATS_TEST_TMPDIR/c.mp4"
	[ "$code" = 413 ]
	req PUT /short-content/upload -H "Authorization: Bearer $tok"
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "file: missing"* ]]
	head -c 15000 "$BATS_TEST_TMPDIR/c.mp4" > "$BATS_TEST_TMPDIR/part.mp4"
	req PUT /long-content/upload -H "Authorization: Bearer $tok" -F file=@"$BATS_TEST_TMPDIR/part.mp4" -F title=T -F language=xx
	[[ "$code" = 400 || "$code" = 422 ]]
	assert_store_unchanged "$before"
	[ -z "$(ls "$MSP_STORE/media/originals" 2>/dev/null)" ]
}

@test "upload beyond a media limit (--limit): 422 with the reason; store unchanged" {
	make_clip "$BATS_TEST_TMPDIR/c.mp4" 3 160x90
	start_server --limit width=128 --limit streams=4
	tok=$(signup_login ann@example.org)
	before=$(store_sum)
	req PUT '/short-content/upload?name=big&filename=c.mp4' -H "Authorization: Bearer $tok" \
	    -H 'Content-Type: video/mp4' --data-binary @"$BATS_TEST_TMPDIR/c.mp4"
	[ "$code" = 422 ]
	[ "$(jq -r .error <<<"$body")" = "dimensions 160x90 exceed the limit of 128x4320" ]
	req PUT /long-content/upload -H "Authorization: Bearer $tok" -F file=@"$BATS_TEST_TMPDIR/c.mp4" \
	    -F title=T -F language=en -F genres=drama
	[ "$code" = 422 ]
	assert_store_unchanged "$before"
	[ -z "$(find "$MSP_STORE/media" -type f 2>/dev/null)" ]
	stop_server
	run --separate-stderr msp-serve --limit depth=3
	[ "$status" -eq 2 ]
	[ "$(head -1 <<<"$stderr")" = "msp-serve: --limit: 'depth': unknown limit (width, height, pixels, fps, duration or streams)" ]
}

@test "POST /short-content/get: pages of ready short videos with LastEvaluatedKey; bad limit and cursor 400" {
	for i in 1 2 3; do
		msp-catalog add -t short --name "c$i" --uploaded-by owner@example.org --status ready >/dev/null
	done
	msp-catalog add -t short --name hidden --uploaded-by owner@example.org >/dev/null
	start_server
	req POST /short-content/get -d '{"limit":2}'
	[ "$code" = 200 ] && [ "$(jq -r '[.Items[].name] | join(",")' <<<"$body")" = c3,c2 ]
	[ "$(jq -r .Count <<<"$body")" = 2 ]
	key=$(jq -r .LastEvaluatedKey <<<"$body")
	req POST /short-content/get -d "{\"limit\":2,\"LastEvaluatedKey\":\"$key\"}"
	[ "$(jq -r '[.Items[].name] | join(",")' <<<"$body")" = c1 ]
	[ "$(jq -r 'has("LastEvaluatedKey")' <<<"$body")" = false ]
	[ "$(jq -r '.Items[0].playbackUrl' <<<"$body")" = "/hls/$(jq -r '.Items[0].id' <<<"$body")/master.m3u8" ]
	[ "$(jq -r '.Items[0].likes' <<<"$body")" = 0 ]
	req POST /short-content/get -d '{"limit":0}'
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "field 'limit': "* ]]
	req POST /short-content/get -d '{"limit":"ten"}'
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "field 'limit': "* ]]
	req POST /short-content/get -d '{"LastEvaluatedKey":"bogus"}'
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "field 'LastEvaluatedKey': "* ]]
	req POST /short-content/get
	[ "$code" = 200 ] && [ "$(jq -r .Count <<<"$body")" = 3 ]
}

@test "POST /long-content/get: genre and language filters, Responses shape; bad filterType 400" {
	msp-catalog add -t long --title A --language en -g drama --uploaded-by owner@example.org --status ready >/dev/null
	msp-catalog add -t long --title B --language fr -g drama --uploaded-by owner@example.org --status ready >/dev/null
	msp-catalog add -t long --title C --language fr -g comedy --uploaded-by owner@example.org --status ready >/dev/null
	start_server
	req POST /long-content/get -d '{"filterType":"Filter By Genre","filterValue":"drama","limit":10}'
	[ "$code" = 200 ] && [ "$(jq -r '[.Responses.longVideos[].title] | join(",")' <<<"$body")" = B,A ]
	req POST /long-content/get -d '{"filterType":"Filter By Language","filterValue":"fr","limit":1}'
	[ "$(jq -r '[.Responses.longVideos[].title] | join(",")' <<<"$body")" = C ]
	key=$(jq -r .lastEvaluatedKey <<<"$body")
	req POST /long-content/get -d "{\"filterType\":\"Filter By Language\",\"filterValue\":\"fr\",\"limit\":1,\"lastEvaluatedKey\":\"$key\"}"
	[ "$(jq -r '[.Responses.longVideos[].title] | join(",")' <<<"$body")" = B ]
	req POST /long-content/get -d '{"filterType":"Filter By Mood","filterValue":"x"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'filterType': expected \"Filter By Genre\" or \"Filter By Language\"" ]
	req POST /long-content/get -d '{"filterType":"Filter By Genre"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'filterValue': required" ]
}

@test "the original client's bodies: genres and languages by name as it sends them, in any case or by code; stored canonical; bad values 400 naming filterValue" {
	make_clip "$BATS_TEST_TMPDIR/c.mp4" 3 160x90
	msp-catalog add -t long --title A --language en -g drama --uploaded-by owner@example.org --status ready >/dev/null
	msp-catalog add -t long --title B --language hi -g sci-fi -g comedy --uploaded-by owner@example.org --status ready >/dev/null
	msp-catalog user add boss@example.org --admin >/dev/null
	echo "a long password" | msp-serve --passwd boss@example.org
	start_server
	tok=$(signup_login ann@example.org)
	atok=$(curl -s -X POST "$U/auth/login" -d '{"email":"boss@example.org","password":"a long password"}' | jq -r .token)
	# POST /long-content/get: every genre and language of the original's option lists
	for g in Action Comedy Horror Drama Romance Thriller Fantasy Sci-Fi; do
		req POST /long-content/get -d "{\"filterType\":\"Filter By Genre\",\"filterValue\":\"$g\"}"
		[ "$code" = 200 ] || { echo "genre $g: $code $body"; return 1; }
	done
	for l in English Hindi Russian French Japanese German Korean Italian; do
		req POST /long-content/get -d "{\"filterType\":\"Filter By Language\",\"filterValue\":\"$l\"}"
		[ "$code" = 200 ] || { echo "language $l: $code $body"; return 1; }
	done
	req POST /long-content/get -d '{"filterType":"Filter By Genre","filterValue":"Drama"}'
	[ "$(jq -r '[.Responses.longVideos[].title] | join(",")' <<<"$body")" = A ]
	req POST /long-content/get -d '{"filterType":"Filter By Genre","filterValue":"Sci-Fi","limit":10}'
	[ "$(jq -r '[.Responses.longVideos[].title] | join(",")' <<<"$body")" = B ]
	for l in English english ENGLISH en EN; do
		req POST /long-content/get -d "{\"filterType\":\"Filter By Language\",\"filterValue\":\"$l\",\"limit\":10}"
		[ "$(jq -r '[.Responses.longVideos[].title] | join(",")' <<<"$body")" = A ] || { echo "language $l: $body"; return 1; }
	done
	req POST /long-content/get -d '{"filterType":"Filter By Language","filterValue":"Hindi","limit":10}'
	[ "$(jq -r '[.Responses.longVideos[].language] | join(",")' <<<"$body")" = hi ]
	# the web front's values still work
	req POST /long-content/get -d '{"filterType":"Filter By Genre","filterValue":"sci-fi","limit":10}'
	[ "$(jq -r '[.Responses.longVideos[].title] | join(",")' <<<"$body")" = B ]
	before=$(store_sum)
	# every 400 names the field that is wrong
	req POST /long-content/get -d '{"filterType":"Filter By Genre","filterValue":"Noir"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'filterValue': genre 'Noir': unknown" ]
	req POST /long-content/get -d '{"filterType":"Filter By Language","filterValue":"Klingon"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'filterValue': language 'Klingon': unknown" ]
	req POST /long-content/get -d '{"filterType":"Filter By Genre","filterValue":"Drama","lastEvaluatedKey":"bogus"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'lastEvaluatedKey': 'bogus': not a cursor of this listing" ]
	req POST /long-content/get -d '{"filterType":"Filter By Genre","filterValue":7}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'filterValue': expected a string, got number" ]
	assert_store_unchanged "$before"
	# PUT /long-content/upload with the original's metadata (language and genres by name)
	req PUT /long-content/upload -H "Authorization: Bearer $tok" -F file=@"$BATS_TEST_TMPDIR/c.mp4" \
	    -F 'metadata={"id":"0b7f3e0e-5d1a-4c1e-9a57-2b0c6c2f3a11","title":"Up","about":"from the original client","language":"English","genres":["Drama","Sci-Fi"],"isPremium":false,"uploadedBy":"ann@example.org","sourceBucketFilePath":"public/c.mp4","createdAt":"2024-03-01T10:00:00.000Z"}'
	[ "$code" = 202 ] || { echo "$body"; return 1; }
	up=$(jq -r .id <<<"$body")
	[ "$(jq -r .language <<<"$body")" = en ] && [ "$(jq -c .genres <<<"$body")" = '["drama","sci-fi"]' ]
	[ "$(msp-catalog get "$up" | jq -r .language)" = en ]
	req PUT /long-content/upload -H "Authorization: Bearer $tok" -F file=@"$BATS_TEST_TMPDIR/c.mp4" \
	    -F title=Form -F language=French -F genres=Comedy,Horror
	[ "$code" = 202 ] && [ "$(jq -r .language <<<"$body")" = fr ] && [ "$(jq -c .genres <<<"$body")" = '["comedy","horror"]' ]
	# POST /opensearch as the original sent it (genres by name)
	a=$(msp-catalog list --genre drama | jq -r 'select(.title == "A") | .id')
	req POST /opensearch -H "Authorization: Bearer $atok" \
	    -d "{\"id\":\"$a\",\"title\":\"A\",\"genres\":[\"Drama\",\"Thriller\"],\"about\":\"x\",\"_index\":\"videos\",\"_type\":\"_doc\"}"
	[ "$code" = 200 ]
	[ "$(msp-catalog get "$a" | jq -c .genres)" = '["drama","thriller"]' ]
	# PATCH /videos/ID: the owner renames the language and genres by name
	otok=$(curl -s -X POST "$U/auth/login" -d '{"email":"boss@example.org","password":"a long password"}' | jq -r .token)
	req PATCH "/videos/$a" -H "Authorization: Bearer $otok" -d '{"language":"Japanese","genres":["Fantasy"]}'
	[ "$code" = 200 ] && [ "$(msp-catalog get "$a" | jq -r '.language + " " + (.genres | join(","))')" = "ja fantasy" ]
	req PATCH "/videos/$a" -H "Authorization: Bearer $otok" -d '{"language":"Elvish"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'language': unknown language \"Elvish\" (an ISO 639-1 code or English name from msp-catalog(1))" ]
	req GET '/opensearch?q=a'
	[ "$code" = 200 ]
}

@test "GET /videos/ID: status and progress; premium locked for others, signed for the owner; deleted 404" {
	id=$(mkvideo --premium)
	up=$(msp-catalog add -t short --name up --uploaded-by owner@example.org | jq -r .id)
	echo "a long password" | msp-serve --passwd owner@example.org
	start_server
	req GET "/videos/$up"
	[ "$code" = 200 ] && [ "$(jq -r .status <<<"$body")" = uploaded ] && [ "$(jq -r .progress <<<"$body")" = 0 ]
	[ "$(jq -r 'has("playbackUrl")' <<<"$body")" = false ]
	tok=$(signup_login ann@example.org)
	req GET "/videos/$id" -H "Authorization: Bearer $tok"
	[ "$code" = 200 ] && [ "$(jq -r .locked <<<"$body")" = true ] && [ "$(jq -r 'has("playbackUrl")' <<<"$body")" = false ]
	otok=$(curl -s -X POST "$U/auth/login" -d '{"email":"owner@example.org","password":"a long password"}' | jq -r .token)
	req GET "/videos/$id" -H "Authorization: Bearer $otok"
	url=$(jq -r .playbackUrl <<<"$body")
	[[ "$url" == "/hls/$id/"*"/master.m3u8" ]]
	req GET "$url"
	[ "$code" = 200 ]
	req GET /videos/01m86te51ydk76temc97kvb7dk
	[ "$code" = 404 ]
	req GET /videos/nonsense
	[ "$code" = 404 ]
	msp-catalog del "$up" >/dev/null
	req GET "/videos/$up"
	[ "$code" = 404 ]
}

@test "PATCH and DELETE /videos/ID: owner or admin only; others 403 and the store unchanged" {
	id=$(mkvideo)
	echo "a long password" | msp-serve --passwd owner@example.org
	start_server
	tok=$(signup_login ann@example.org)
	otok=$(curl -s -X POST "$U/auth/login" -d '{"email":"owner@example.org","password":"a long password"}' | jq -r .token)
	before=$(store_sum)
	req PATCH "/videos/$id" -H "Authorization: Bearer $tok" -d '{"title":"Mine now"}'
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "video $id: not yours" ]
	req DELETE "/videos/$id" -H "Authorization: Bearer $tok"
	[ "$code" = 403 ]
	req DELETE "/videos/$id"
	[ "$code" = 401 ]
	req PATCH "/videos/$id" -H "Authorization: Bearer $otok" -d '{"status":"ready"}'
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "field 'status': cannot be changed here"* ]]
	req PATCH "/videos/$id" -H "Authorization: Bearer $otok" -d '{"language":"xx"}'
	[ "$code" = 400 ]
	assert_store_unchanged "$before"
	req PATCH "/videos/$id" -H "Authorization: Bearer $otok" -d '{"title":"Renamed"}'
	[ "$code" = 200 ] && [ "$(jq -r .title <<<"$body")" = Renamed ]
	msp-catalog user add boss@example.org --admin >/dev/null
	echo "a long password" | msp-serve --passwd boss@example.org
	atok=$(curl -s -X POST "$U/auth/login" -d '{"email":"boss@example.org","password":"a long password"}' | jq -r .token)
	req DELETE "/videos/$id" -H "Authorization: Bearer $atok"
	[ "$code" = 200 ] && [ "$(jq -r .isDeleted <<<"$body")" = true ]
	req GET "/hls/$id/master.m3u8"
	[ "$code" = 404 ]
}

@test "like and unlike: idempotent with the count; another user's name 403; unknown video 404; no session 401" {
	id=$(msp-catalog add -t short --name c --uploaded-by owner@example.org --status ready | jq -r .id)
	long=$(mkvideo)
	start_server
	tok=$(signup_login ann@example.org)
	req POST /short-content/like -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\",\"user\":\"ann@example.org\"}"
	[ "$code" = 200 ] && [ "$(jq -r .likes <<<"$body")" = 1 ] && [ "$(jq -r .user <<<"$body")" = ann@example.org ]
	req POST /short-content/like -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\"}"
	[ "$code" = 200 ] && [ "$(jq -r .likes <<<"$body")" = 1 ]
	before=$(store_sum)
	req POST /short-content/like -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\",\"user\":\"owner@example.org\"}"
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "field 'user': not the signed-in user" ]
	req POST /short-content/like -d "{\"videoId\":\"$id\"}"
	[ "$code" = 401 ]
	req POST /short-content/like -H "Authorization: Bearer $tok" -d '{"videoId":"01m86te51ydk76temc97kvb7dk"}'
	[ "$code" = 404 ]
	req POST /short-content/like -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$long\"}"
	[ "$code" = 400 ]
	req POST /short-content/like -H "Authorization: Bearer $tok" -d '{"videoId":7}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'videoId': expected a string, got number" ]
	req POST /short-content/like -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\",\"status\":\"meh\"}"
	[ "$code" = 400 ]
	assert_store_unchanged "$before"
	req POST /short-content/like -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\",\"status\":\"unliked\"}"
	[ "$code" = 200 ] && [ "$(jq -r .likes <<<"$body")" = 0 ]
}

@test "rating: set and replace with the average; out of range and short videos 400" {
	id=$(mkvideo)
	short=$(msp-catalog add -t short --name c --uploaded-by owner@example.org --status ready | jq -r .id)
	start_server
	tok=$(signup_login ann@example.org)
	req POST /long-content/rating -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\",\"rating\":4}"
	[ "$code" = 200 ] && [ "$(jq -r .rating <<<"$body")" = 4 ]
	req POST /long-content/rating -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\",\"rating\":2}"
	[ "$code" = 200 ] && [ "$(jq -r .averageRating <<<"$body")" = 2 ] && [ "$(jq -r .ratingCount <<<"$body")" = 1 ]
	before=$(store_sum)
	req POST /long-content/rating -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\",\"rating\":9}"
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == *"'rating'"* ]]
	req POST /long-content/rating -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\"}"
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'rating': required" ]
	req POST /long-content/rating -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$short\",\"rating\":3}"
	[ "$code" = 400 ]
	req POST /long-content/rating -d "{\"videoId\":\"$id\",\"rating\":3}"
	[ "$code" = 401 ]
	assert_store_unchanged "$before"
}

@test "/query: only the caller's likes and ratings, on an allow-list of tables" {
	id=$(msp-catalog add -t short --name c --uploaded-by owner@example.org --status ready | jq -r .id)
	msp-like add owner@example.org "$id" >/dev/null 2>&1 || true
	start_server
	tok=$(signup_login ann@example.org)
	q() { echo "{\"tableName\":\"$1\",\"keyConditions\":[{\"attributeName\":\"$2\",\"comparisonOperator\":\"EQ\",\"attributeValueList\":[\"$3\"]}]}"; }
	req POST /query -H "Authorization: Bearer $tok" -d "$(q likes videoId "$id")"
	[ "$code" = 200 ] && [ "$(jq -r .Count <<<"$body")" = 0 ]
	curl -s -X POST "$U/short-content/like" -H "Authorization: Bearer $tok" -d "{\"videoId\":\"$id\"}" >/dev/null
	req POST /query -H "Authorization: Bearer $tok" -d "$(q likes videoId "$id")"
	[ "$(jq -r .Count <<<"$body")" = 1 ] && [ "$(jq -r '.Items[0].user' <<<"$body")" = ann@example.org ]
	req POST /query -H "Authorization: Bearer $tok" -d "$(q likes user owner@example.org)"
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "keyConditions: only your own records" ]
	req POST /query -H "Authorization: Bearer $tok" -d '{"tableName":"users"}'
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "table 'users': not queryable (likes, ratings, subscriptions)" ]
	req POST /query -H "Authorization: Bearer $tok" -d '{"tableName":"credentials"}'
	[ "$code" = 403 ]
	req POST /query -H "Authorization: Bearer $tok" -d '{}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'tableName': required" ]
	req POST /query -d '{"tableName":"likes"}'
	[ "$code" = 401 ]
}

@test "workers: an upload becomes ready and plays; a job queued before a restart is done after it" {
	make_clip "$BATS_TEST_TMPDIR/c.mp4" 3 160x90
	start_server
	tok=$(signup_login ann@example.org)
	id1=$(curl -s -X PUT "$U/short-content/upload?name=first" -H "Authorization: Bearer $tok" \
	    -H 'Content-Type: video/mp4' --data-binary @"$BATS_TEST_TMPDIR/c.mp4" | jq -r .id)
	stop_server
	SERVE_WORKERS=1 start_server --ladder 90:150k
	id2=$(curl -s -X PUT "$U/short-content/upload?name=second" -H "Authorization: Bearer $tok" \
	    -H 'Content-Type: video/mp4' --data-binary @"$BATS_TEST_TMPDIR/c.mp4" | jq -r .id)
	for id in "$id1" "$id2"; do
		for i in $(seq 1 300); do
			st=$(curl -s "$U/videos/$id" | jq -r .status)
			[[ "$st" == ready || "$st" == failed ]] && break
			sleep 0.1
		done
		[ "$st" = ready ]
		url=$(curl -s "$U/videos/$id" | jq -r .playbackUrl)
		[ "$url" = "/hls/$id/master.m3u8" ]
		req GET "$url"
		[ "$code" = 200 ] && [[ "$body" == *"90p/index.m3u8"* ]]
		req GET "/hls/$id/90p/index.m3u8"
		[ "$code" = 200 ]
		seg=$(grep -v '^#' <<<"$body" | head -1)
		run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$U/hls/$id/90p/$seg"
		[ "$output" = "200 video/iso.segment" ]
	done
	req GET /metrics
	grep -q '^msp_jobs{state="done"} 2$' <<<"$body"
	grep -q '^msp_transcode_queue_length 0$' <<<"$body"
}

@test "GET /opensearch: hits in the original's shape; track_total_hits; missing or bad query 400" {
	msp-catalog add -t long --title "River of stars" --about "a quiet film" --language en -g drama \
	    --uploaded-by owner@example.org --status ready >/dev/null
	msp-catalog add -t long --title "Mountain" --language en -g drama --uploaded-by owner@example.org \
	    --status ready >/dev/null
	msp-catalog add -t long --title "River hidden" --language en -g drama --uploaded-by owner@example.org >/dev/null
	start_server
	req GET '/opensearch?q=river'
	[ "$code" = 200 ]
	[ "$(jq -r '.hits.total.value' <<<"$body")" = 1 ]
	[ "$(jq -r '.hits.hits[0]._source.title' <<<"$body")" = "River of stars" ]
	[ "$(jq -r '.hits.hits[0]._source.genres[0]' <<<"$body")" = drama ]
	[ "$(jq -r '.hits.hits[0]._source.about' <<<"$body")" = "a quiet film" ]
	[ -n "$(jq -r '.hits.hits[0]._id' <<<"$body")" ]
	req GET '/opensearch?q=riv'
	[ "$(jq -r '.hits.hits[0]._source.title' <<<"$body")" = "River of stars" ]
	req GET /opensearch
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "query: missing (?q=TEXT)" ]
	req GET '/opensearch?q=%20'
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "query: "* ]]
	req GET '/opensearch?q=river&size=1000'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "size: expected 1 to 100" ]
	# track_total_hits=false: the same page, no count; a number counts exactly
	req GET '/opensearch?q=river+stars&track_total_hits=false'
	[ "$code" = 200 ]
	[ "$(jq -r '.hits | has("total")' <<<"$body")" = false ]
	[ "$(jq -r '.hits.hits[0]._source.title' <<<"$body")" = "River of stars" ]
	req GET '/opensearch?q=river&track_total_hits=1'
	[ "$code" = 200 ] && [ "$(jq -r '.hits.total.value, .hits.total.relation' <<<"$body" | paste -sd' ')" = "1 eq" ]
	req GET '/opensearch?q=river&track_total_hits=true'
	[ "$(jq -r '.hits.total.value' <<<"$body")" = 1 ]
	for bad in maybe -1 1x ''; do
		req GET "/opensearch?q=river&track_total_hits=$bad"
		[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "track_total_hits: expected true, false or a count" ]
	done
}

@test "POST /opensearch: admins only; updates a video's indexed fields; {} rebuilds; _index ignored" {
	id=$(msp-catalog add -t long --title "Old name" --language en -g drama --uploaded-by owner@example.org \
	    --status ready | jq -r .id)
	msp-catalog user add boss@example.org --admin >/dev/null
	echo "a long password" | msp-serve --passwd boss@example.org
	start_server
	tok=$(signup_login ann@example.org)
	atok=$(curl -s -X POST "$U/auth/login" -d '{"email":"boss@example.org","password":"a long password"}' | jq -r .token)
	before=$(store_sum)
	req POST /opensearch -d "{\"id\":\"$id\",\"title\":\"Hacked\"}"
	[ "$code" = 401 ]
	req POST /opensearch -H "Authorization: Bearer $tok" -d "{\"id\":\"$id\",\"title\":\"Hacked\"}"
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "/opensearch: admins only" ]
	req POST /opensearch -H "Authorization: Bearer $atok" -d '{"id":"nope","title":"x"}'
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'id': not a video id" ]
	assert_store_unchanged "$before"
	req POST /opensearch -H "Authorization: Bearer $atok" \
	    -d "{\"id\":\"$id\",\"title\":\"Brand new\",\"genres\":[\"comedy\"],\"_index\":\"users\",\"_type\":\"_doc\"}"
	[ "$code" = 200 ] && [ "$(jq -r .result <<<"$body")" = updated ] && [ "$(jq -r ._index <<<"$body")" = videos ]
	req GET '/opensearch?q=brand'
	[ "$(jq -r '.hits.hits[0]._id' <<<"$body")" = "$id" ]
	req GET '/opensearch?q=old'
	[ "$(jq -r '.hits.total.value' <<<"$body")" = 0 ]
	req POST /opensearch -H "Authorization: Bearer $atok" -d '{}'
	[ "$code" = 200 ] && [ "$(jq -r .result <<<"$body")" = reindexed ] && [ "$(jq -r .count <<<"$body")" = 1 ]
}

@test "premium: order and confirm through a fake Razorpay; forged proof 403; then premium plays; not configured 503" {
	id=$(mkvideo --premium)
	start_server
	tok=$(signup_login ann@example.org)
	req POST /premium/payment -H "Authorization: Bearer $tok" -d '{"months":1}'
	[ "$code" = 503 ] && [[ "$(jq -r .error <<<"$body")" == "payments are not configured"* ]]
	stop_server
	fake="$BATS_TEST_DIRNAME/fake-razorpay.py"
	mkdir -p "$BATS_TEST_TMPDIR/fake"
	python3 "$fake" serve --dir "$BATS_TEST_TMPDIR/fake" --key-id rzp_test_K3y \
	    --key-secret sk_test_S3cret --parent "$BASHPID" --idle 60 >/dev/null 2>&1 3>&- &
	for _ in $(seq 100); do [ -f "$BATS_TEST_TMPDIR/fake/port" ] && break; sleep 0.05; done
	export MSP_RAZORPAY_URL="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/fake/port")"
	export MSP_RAZORPAY_KEY_ID=rzp_test_K3y MSP_RAZORPAY_KEY_SECRET=sk_test_S3cret
	start_server
	tok=$(curl -s -X POST "$U/auth/login" -d '{"email":"ann@example.org","password":"correct horse battery"}' | jq -r .token)
	req POST /premium/payment -d '{"months":1}'
	[ "$code" = 401 ]
	req POST /premium/payment -H "Authorization: Bearer $tok" -d '{"months":"one"}'
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "field 'months': "* ]]
	req POST /premium/payment -H "Authorization: Bearer $tok" -d '{"months":2}'
	[ "$code" = 400 ]
	req POST /premium/payment -H "Authorization: Bearer $tok" -d '{"months":1}'
	[ "$code" = 200 ]
	order=$(jq -r .id <<<"$body")
	[[ "$order" == order_* ]]
	[ "$(jq -r .amount <<<"$body")" = 9900 ] && [ "$(jq -r .currency <<<"$body")" = INR ]
	[ "$(jq -r .keyId <<<"$body")" = rzp_test_K3y ]
	pay=$(curl -sf -X POST "$MSP_RAZORPAY_URL/_test/payments" -d "{\"order_id\":\"$order\"}" | jq -r .id)
	sig=$(python3 "$fake" sign sk_test_S3cret "$order|$pay")
	before=$(store_sum)
	req POST /premium/confirm -H "Authorization: Bearer $tok" -d "{\"id\":\"$order\",\"months\":12}"
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "field 'razorpay_order_id': required" ]
	req POST /premium/confirm -H "Authorization: Bearer $tok" \
	    -d "{\"razorpay_order_id\":\"$order\",\"razorpay_payment_id\":\"$pay\",\"razorpay_signature\":\"${sig%?}0\"}"
	[ "$code" = 403 ] || [ "$code" = 400 ] || { echo "$code $body"; false; }
	assert_store_unchanged "$before"
	req GET "/videos/$id" -H "Authorization: Bearer $tok"
	[ "$(jq -r .locked <<<"$body")" = true ]
	req POST /premium/confirm -H "Authorization: Bearer $tok" \
	    -d "{\"razorpay_order_id\":\"$order\",\"razorpay_payment_id\":\"$pay\",\"razorpay_signature\":\"$sig\"}"
	[ "$code" = 200 ] && [ "$(jq -r .replayed <<<"$body")" = false ]
	req POST /query -H "Authorization: Bearer $tok" -d '{"tableName":"subscriptions"}'
	[ "$(jq -r .Count <<<"$body")" = 1 ]
	[ "$(jq -r '.Items[0].subscriptionEndTimestamp > now * 1000' <<<"$body")" = true ]
	req GET "/videos/$id" -H "Authorization: Bearer $tok"
	url=$(jq -r .playbackUrl <<<"$body")
	[[ "$url" == "/hls/$id/"*"/master.m3u8" ]]
	req GET "$url"
	[ "$code" = 200 ]
}

@test "SIGTERM lets an upload in flight finish (graceful stop), then exits 0" {
	make_clip "$BATS_TEST_TMPDIR/c.mp4" 3 160x90
	start_server
	tok=$(signup_login ann@example.org)
	curl -s -o "$BATS_TEST_TMPDIR/up.json" -w '%{http_code}' --limit-rate 60k -X PUT \
	    "$U/short-content/upload?name=late" -H "Authorization: Bearer $tok" \
	    -H 'Content-Type: video/mp4' --data-binary @"$BATS_TEST_TMPDIR/c.mp4" \
	    > "$BATS_TEST_TMPDIR/code" &
	up=$!
	sleep 0.7
	kill -TERM "$SERVE_PID"
	wait "$up"
	[ "$(cat "$BATS_TEST_TMPDIR/code")" = 202 ]
	[ "$(jq -r .name "$BATS_TEST_TMPDIR/up.json")" = late ]
	wait "$SERVE_PID"
	st=$?
	SERVE_PID=
	[ "$st" -eq 0 ]
	run curl -s -o /dev/null -w '%{http_code}' "$U/health"
	[ "$output" = 000 ]
}
