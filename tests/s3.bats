#!/usr/bin/env bats
# lib/s3 against a real S3 server on loopback (s3rver), every request's
# signature checked by botocore in tests/s3proxy.py, faults injected there.
load helper
load s3

setup_file() {
	start_s3_server
}

teardown_file() {
	stop_s3_server
}

setup() {
	setup_store
	start_s3
	S3CLI="$MSP_BUILD/tests/s3cli"
}

teardown() {
	stop_s3
}

s3() {
	"$S3CLI" -c "$S3_CONF" "$@"
}

# a copy of the bucket file with one setting changed: conf_with NAME VALUE
conf_with() {
	local f="$BATS_TEST_TMPDIR/other.conf"
	(umask 077 && grep -v "^$1 = " "$S3_CONF" > "$f" &&
	    echo "$1 = $2" >> "$f")
	echo "$f"
}

# every request the proxy saw was signed right
assert_all_signed() {
	local bad
	bad=$(s3_refused)
	[ -z "$bad" ] || { echo "refused by the proxy: $bad" >&2; return 1; }
	grep -q '^ok ' "$S3_LOG"
}

no_uploads_left() {
	run s3 uploads
	[ "$status" -eq 0 ]
	[ -z "$output" ] || { echo "orphaned uploads: $output" >&2; return 1; }
}

@test "put, head, get, list and delete one object" {
	head -c 1000 /dev/urandom > small
	run s3 put clips/a.mp4 small video/mp4 "max-age=60"
	[ "$status" -eq 0 ]
	run s3 head clips/a.mp4
	[ "$status" -eq 0 ]
	[ "$output" = "1000 $(md5sum < small | cut -d' ' -f1)" ]
	s3 get clips/a.mp4 > back
	cmp small back
	run s3 list clips/
	[ "$output" = "clips/a.mp4 1000 $(md5sum < small | cut -d' ' -f1)" ]
	run s3 delete clips/a.mp4
	[ "$status" -eq 0 ]
	run s3 head clips/a.mp4
	[ "$status" -eq 1 ]
	[ "$output" = "s3cli: bucket '$S3_BUCKET': 'clips/a.mp4': no such object" ]
	run s3 delete clips/a.mp4
	[ "$status" -eq 0 ]
	assert_all_signed
}

@test "content type and cache control travel with the object" {
	echo hello > f
	s3 put seg/0.ts f video/mp2t "public, max-age=31536000, immutable"
	url=$(s3 presign GET seg/0.ts 60)
	run curl -sf -D - -o /dev/null "$url"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Content-Type: video/mp2t"* ]]
	[[ "$output" == *"Cache-Control: public, max-age=31536000, immutable"* ]]
	assert_all_signed
}

@test "keys with spaces, UTF-8 and reserved characters round-trip" {
	echo one > f
	for k in "a b/c+d.ts" "vidéo/ሴ.m3u8" "x/y=z&w?v" "./dot/../seg"; do
		s3 put "$k" f
		s3 get "$k" > back
		cmp f back
	done
	run s3 list
	[ "${#lines[@]}" -eq 4 ]
	assert_all_signed
}

@test "a ranged GET gives exactly the bytes asked for" {
	head -c 5000 /dev/urandom > obj
	s3 put o obj
	s3 get o 100 50 > part
	cmp part <(tail -c +101 obj | head -c 50)
	s3 get o 4990 > tail
	cmp tail <(tail -c 10 obj)
	run s3 get o 6000
	[ "$status" -eq 3 ] || [ "$status" -eq 1 ]
	[ "$output" = "s3cli: bucket '$S3_BUCKET': 'o': offset 6000 is past the end" ]
	assert_all_signed
}

@test "listings page through continuation tokens, in key order, without the prefix" {
	echo x > f
	for i in 5 3 1 4 2; do s3 put "p/k$i" f; done
	s3 put q/other f
	run "$S3CLI" -c "$S3_CONF" -p 2 list p/
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1 | tr '\n' ' ')" = "p/k1 p/k2 p/k3 p/k4 p/k5 " ]
	[ "$(grep -c 'continuation-token=' "$S3_LOG")" -eq 2 ]
	# a key prefix in the bucket file: keys are given and listed without it
	conf=$(conf_with prefix "media/")
	"$S3CLI" -c "$conf" put v1/seg.ts f
	run "$S3CLI" -c "$conf" list
	[ "$output" = "v1/seg.ts 2 $(md5sum < f | cut -d' ' -f1)" ]
	run s3 head media/v1/seg.ts
	[ "$status" -eq 0 ]
	assert_all_signed
}

@test "a large file goes up as a multipart upload, parts in parallel" {
	head -c $((12 * 1024 * 1024 + 123)) /dev/urandom > big
	run s3 put big.mp4 big video/mp4
	[ "$status" -eq 0 ]
	[ "$(grep -c "^ok PUT /$S3_BUCKET/big.mp4?partNumber=" "$S3_LOG")" -eq 3 ]
	grep -q "^ok POST /$S3_BUCKET/big.mp4?uploads= header" "$S3_LOG"
	grep -q "^ok POST /$S3_BUCKET/big.mp4?uploadId=" "$S3_LOG"
	s3 get big.mp4 > back
	cmp big back
	no_uploads_left
	assert_all_signed
}

@test "a stream of unknown length: multipart when large, one PUT when small" {
	head -c $((11 * 1024 * 1024)) /dev/urandom > big
	s3 stream s/big < big
	s3 get s/big > back
	cmp big back
	head -c 3000 /dev/urandom > small
	s3 stream s/small < small
	s3 get s/small > back
	cmp small back
	[ "$(grep -c "^ok PUT /$S3_BUCKET/s/small header" "$S3_LOG")" -eq 1 ]
	: | s3 stream s/empty
	run s3 head s/empty
	[ "$output" = "0 d41d8cd98f00b204e9800998ecf8427e" ]
	no_uploads_left
	assert_all_signed
}

@test "presigned GET and PUT URLs work with plain curl and pass botocore's check" {
	head -c 2000 /dev/urandom > f
	s3 put p/f f
	url=$(s3 presign GET p/f 300)
	[[ "$url" == "$S3_ENDPOINT/$S3_BUCKET/p/f?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S3RVER%2F"* ]]
	curl -sf -o back "$url"
	cmp f back
	grep -q "^ok GET /$S3_BUCKET/p/f?X-Amz-Algorithm=.* presigned$" "$S3_LOG"
	url=$(s3 presign PUT "p/up load" 300)
	curl -sf -T f "$url"
	s3 get "p/up load" > back2
	cmp f back2
	grep -q "^ok PUT /$S3_BUCKET/p/up%20load?X-Amz-Algorithm=.* presigned$" "$S3_LOG"
	# a tampered URL is refused by the checker
	run curl -s -T f -o /dev/null -w '%{http_code}' "${url/up%20load/other}"
	[ "$output" = 403 ]
	grep -q "^refused PUT /$S3_BUCKET/p/other?.*SignatureDoesNotMatch" "$S3_LOG"
}

@test "a session token is sent, signed, and carried by presigned URLs" {
	conf=$(conf_with session_token "FQoG/token+with=odd&chars")
	echo data > f
	"$S3CLI" -c "$conf" put t f
	"$S3CLI" -c "$conf" get t > back
	cmp f back
	url=$("$S3CLI" -c "$conf" presign GET t 60)
	[[ "$url" == *"&X-Amz-Security-Token=FQoG%2Ftoken%2Bwith%3Dodd%26chars&"* ]]
	curl -sf -o back2 "$url"
	cmp f back2
	assert_all_signed
}

@test "500 and 503 SlowDown are retried to success" {
	echo data > f
	s3_fault 500 PUT /$S3_BUCKET/k 2
	s3_fault slowdown GET /$S3_BUCKET/k 1
	s3 put k f
	s3 get k > back
	cmp f back
	[ "$(grep -c "^ok PUT /$S3_BUCKET/k header" "$S3_LOG")" -eq 3 ]
	grep -q 'fault=slowdown' "$S3_LOG"
	assert_all_signed
}

@test "each multipart part is retried on its own (500, SlowDown, wrong ETag)" {
	head -c $((11 * 1024 * 1024)) /dev/urandom > big
	s3_fault 500 PUT partNumber=1 1
	s3_fault slowdown PUT partNumber=2 2
	s3_fault etag PUT partNumber=3 1
	run s3 put big big
	[ "$status" -eq 0 ]
	[ "$(grep -c 'partNumber=1&.*fault' "$S3_LOG")" -eq 1 ]
	[ "$(grep -c 'partNumber=2&.*fault' "$S3_LOG")" -eq 2 ]
	[ "$(grep -c 'partNumber=3&.*fault=etag' "$S3_LOG")" -eq 1 ]
	[ "$(grep -c "^ok PUT /$S3_BUCKET/big?partNumber=3&" "$S3_LOG")" -eq 2 ]
	s3 get big > back
	cmp big back
	no_uploads_left
	assert_all_signed
}

@test "a wrong ETag on a single PUT is retried" {
	echo data > f
	s3_fault etag PUT /$S3_BUCKET/k 1
	s3 put k f
	[ "$(grep -c "^ok PUT /$S3_BUCKET/k header" "$S3_LOG")" -eq 2 ]
	assert_all_signed
}

@test "a GET reset mid-body or truncated resumes where it stopped" {
	head -c 300000 /dev/urandom > obj
	s3 put o obj
	s3_fault reset GET /$S3_BUCKET/o 1
	s3_fault truncate GET /$S3_BUCKET/o 1
	s3 get o > back
	cmp obj back
	# the resumed requests asked for the rest only
	[ "$(grep -c "^ok GET /$S3_BUCKET/o header" "$S3_LOG")" -eq 3 ]
	s3_fault truncate GET /$S3_BUCKET/o 1
	s3 getfile o copy
	cmp obj copy
	[ -z "$(ls copy.tmp.* 2>/dev/null)" ]
	assert_all_signed
}

@test "a slow server times out and the request is retried" {
	echo data > f
	s3 put k f
	s3_fault slow GET /$S3_BUCKET/k 1
	s3 get k > back
	cmp f back
	grep -q 'fault=slow' "$S3_LOG"
	assert_all_signed
}

@test "a failure that outlasts the retries is a clear error, and the upload is aborted" {
	head -c $((11 * 1024 * 1024)) /dev/urandom > big
	s3_fault 500 PUT partNumber=2 100
	run s3 put big big
	[ "$status" -eq 3 ]
	[ "$output" = "s3cli: part 2: gave up after 5 attempts: bucket '$S3_BUCKET': 'big': InternalError: we encountered an internal error. Please try again" ]
	grep -q "^ok DELETE /$S3_BUCKET/big?uploadId=" "$S3_LOG"
	no_uploads_left
	run s3 head big
	[ "$status" -eq 1 ]
	assert_all_signed
}

@test "an abandoned streamed upload leaves no multipart upload behind" {
	head -c $((6 * 1024 * 1024)) /dev/urandom | s3 stream-fail half || true
	grep -q "^ok POST /$S3_BUCKET/half?uploads=" "$S3_LOG"
	no_uploads_left
	run s3 head half
	[ "$status" -eq 1 ]
}

@test "ListMultipartUploads pages and AbortMultipartUpload removes each" {
	# three uploads a crash left behind
	for k in u/a u/b u/c; do
		head -c $((5 * 1024 * 1024 + 1)) /dev/zero | s3 stream-crash "$k"
	done
	: > empty
	s3 put other/x empty
	run "$S3CLI" -c "$S3_CONF" -p 2 uploads u/
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1 | tr '\n' ' ')" = "u/a u/b u/c " ]
	grep -q "^ok GET /$S3_BUCKET/?key-marker=u%2Fb&max-uploads=2&prefix=u%2F&upload-id-marker=.*&uploads= header" "$S3_LOG"
	for l in "${lines[@]}"; do
		s3 abort $l
	done
	no_uploads_left
	assert_all_signed
}

@test "an unknown bucket is one clear error" {
	conf=$(conf_with bucket nope)
	run "$S3CLI" -c "$conf" check
	[ "$status" -eq 3 ]
	[ "$output" = "s3cli: bucket 'nope': NoSuchBucket: the specified bucket does not exist" ]
	echo x > f
	run "$S3CLI" -c "$conf" put k f
	[ "$status" -eq 3 ]
	[ "$output" = "s3cli: bucket 'nope': NoSuchBucket: the specified bucket does not exist" ]
}

@test "a wrong secret is one clear error, without the secret" {
	conf=$(conf_with secret_access_key not-the-secret)
	run "$S3CLI" -c "$conf" check
	[ "$status" -eq 3 ]
	[ "$output" = "s3cli: bucket '$S3_BUCKET': wrong secret (SignatureDoesNotMatch)" ]
	conf=$(conf_with access_key_id NOBODY)
	run "$S3CLI" -c "$conf" check
	[ "$status" -eq 3 ]
	[ "$output" = "s3cli: bucket '$S3_BUCKET': unknown access key id (InvalidAccessKeyId)" ]
}

@test "a wrong region is one clear error" {
	# s3rver ignores the region; the proxy answers as AWS does
	conf=$(conf_with region eu-west-1)
	run "$S3CLI" -c "$conf" check
	[ "$status" -eq 3 ]
	[ "$output" = "s3cli: bucket '$S3_BUCKET' is in region 'us-east-1', not 'eu-west-1' (set region)" ]
}

@test "an endpoint that is not S3 is one clear error" {
	mkdir www
	python3 -m http.server 0 --bind 127.0.0.1 --directory www \
	    > www.out 2>&1 3>&- &
	pid=$!
	for i in $(seq 1 100); do
		port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' www.out)
		[ -n "$port" ] && break
		sleep 0.05
	done
	conf=$(conf_with endpoint "http://127.0.0.1:$port")
	run "$S3CLI" -c "$conf" check
	kill "$pid"
	[ "$status" -eq 3 ]
	[ "$output" = "s3cli: s3 endpoint http://127.0.0.1:$port: not an S3 server (answer was not S3 XML)" ]
	# an S3-shaped server that answers a listing with HTML
	s3_fault html GET - 1
	run s3 list
	[ "$status" -eq 3 ]
	[ "$output" = "s3cli: s3 endpoint $S3_ENDPOINT: not an S3 server (answer was not S3 XML)" ]
}

@test "a bucket file others can read is refused" {
	chmod 644 "$S3_CONF"
	run s3 check
	[ "$status" -eq 1 ]
	[ "$output" = "s3cli: $S3_CONF: refused: group or others may access it (mode 0644); chmod 600 it" ]
}

@test "virtual-hosted addressing end to end: BUCKET.s3.test through the proxy, signed right" {
	# the proxy is the client's forward proxy too: the request for
	# http://$S3_BUCKET.s3.test:PORT/key reaches it in absolute form,
	# botocore checks it as virtual-hosted, s3rver gets it path-style
	port=${S3_ENDPOINT##*:}
	(umask 077 && sed -e "s|^endpoint = .*|endpoint = http://s3.test:$port|" \
	    -e 's/^addressing = .*/addressing = virtual/' "$S3_CONF" > vh.conf)
	vh() { http_proxy="http://127.0.0.1:$port" no_proxy= NO_PROXY= \
	    "$S3CLI" -c vh.conf "$@"; }
	run vh check
	[ "$status" -eq 0 ]
	printf 'hello' > small
	run vh put a/small small
	[ "$status" -eq 0 ]
	head -c $((11 << 20)) /dev/urandom > big
	run vh put big.bin big
	[ "$status" -eq 0 ]
	run vh list a/
	[ "${output%% *}" = a/small ]
	vh get big.bin > got
	cmp big got
	url=$(vh presign GET a/small 60)
	[[ "$url" == "http://$S3_BUCKET.s3.test:$port/a/small?"* ]]
	[ "$(curl -sf --proxy "http://127.0.0.1:$port" "$url")" = hello ]
	run vh delete a/small
	[ "$status" -eq 0 ]
	grep -q "^ok PUT http://$S3_BUCKET.s3.test:$port/a/small header" "$S3_LOG"
	grep -q "^ok POST http://$S3_BUCKET.s3.test:$port/big.bin?uploads= header" "$S3_LOG"
	grep -q "^ok GET http://$S3_BUCKET.s3.test:$port/a/small?.* presigned" "$S3_LOG"
	# what s3rver got, path-style
	[ "$(curl -sf "$S3_UPSTREAM/$S3_BUCKET/big.bin" | cmp - big && echo same)" = same ]
	no_uploads_left
	assert_all_signed
}

@test "libcurl 7.88's CURLOPT_AWS_SIGV4, checked by the same proxy" {
	# why msp signs by itself: curl --aws-sigv4 is libcurl's signer
	echo data > f
	s3 put k f
	sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER
	    -H "x-amz-content-sha256: $(sha256sum < /dev/null | cut -d' ' -f1)")
	code() { curl -s -o /dev/null -w '%{http_code}' "${sig[@]}" "$@"; }
	# a plain GET is signed right
	[ "$(code "$S3_ENDPOINT/$S3_BUCKET/k")" = 200 ]
	# a query out of order ("list-type" sorts before "prefix")
	q=$(code "$S3_ENDPOINT/$S3_BUCKET/?prefix=k&list-type=2")
	# a parameter without a value
	u=$(code -X POST "$S3_ENDPOINT/$S3_BUCKET/k2?uploads")
	echo "# libcurl SigV4: unsorted query -> $q, ?uploads -> $u" >&3
	s3_refused | sed 's/^/# /' >&3
	[ "$q" != 200 ] || [ "$u" != 200 ]
}
