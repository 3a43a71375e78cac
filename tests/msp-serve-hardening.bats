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
