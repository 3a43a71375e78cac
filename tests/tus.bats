#!/usr/bin/env bats
# Resumable uploads (tus 1.0) on msp-serve: discovery, creation, PATCH in
# pieces with sha1 and sha256 checksums, resume after a cut connection and
# after a restart (the stored original has the client's bytes), a crash
# between the ingest and its marker, termination, expiry, quotas, and
# every refusal the protocol names.

load helper
load serve_helper

setup() {
	setup_store
	make_clip "$BATS_TEST_TMPDIR/clip.mp4" 4 90x160
	LEN=$(stat -c %s "$BATS_TEST_TMPDIR/clip.mp4")
}

teardown() {
	stop_server
}

# tus METHOD PATH [curl args]: as ann, with Tus-Resumable; sets code,
# body and hdrs (the answer's headers, CRs removed)
tus() {
	local m=$1 p=$2 out
	shift 2
	out=$(curl -s -D "$BATS_TEST_TMPDIR/h" -o "$BATS_TEST_TMPDIR/b" -w '%{http_code}' \
	    -X "$m" -H "Authorization: Bearer $TOK" -H 'Tus-Resumable: 1.0.0' "$@" "$U$p")
	code=$out
	body=$(cat "$BATS_TEST_TMPDIR/b")
	hdrs=$(tr -d '\r' < "$BATS_TEST_TMPDIR/h")
}

hdr() { sed -n "s/^$1: //Ip" <<<"$hdrs"; }

b64() { printf %s "$1" | base64 -w0; }

# create [extra curl args] -> LOC
create() {
	tus POST /files/ -H "Upload-Length: ${CLEN:-$LEN}" \
	    -H "Upload-Metadata: filename $(b64 clip.mp4),videoType $(b64 short),name $(b64 'tus clip')" "$@"
	[ "$code" = 201 ] || { echo "create: $code $body" >&2; return 1; }
	LOC=$(hdr Location)
}

# patch OFFSET FILE [extra curl args]
patch() {
	local off=$1 f=$2
	shift 2
	tus PATCH "$LOC" -H 'Content-Type: application/offset+octet-stream' \
	    -H "Upload-Offset: $off" --data-binary "@$f" "$@"
}

# the bytes of the clip from byte A (0-based) to byte B (exclusive) -> FILE
piece() { tail -c +$(($1 + 1)) "$BATS_TEST_TMPDIR/clip.mp4" | head -c $(($2 - $1)) > "$3"; }

sha() { sha256sum "$1" | cut -d' ' -f1 | xxd -r -p | base64 -w0; }
sha1() { sha1sum "$1" | cut -d' ' -f1 | xxd -r -p | base64 -w0; }

# HEAD the upload: sets OFF; offset: prints it
head_off() { tus HEAD "$LOC" -I; OFF=$(hdr Upload-Offset); }
offset() { head_off; echo "$OFF"; }

# the stored original of the video the last PATCH named is the clip
same_bytes() {
	local vid src
	vid=$(hdr X-Msp-Video)
	[ -n "$vid" ] || { echo "no X-Msp-Video" >&2; return 1; }
	src=$(msp-catalog get "$vid" | jq -r .sourceBucketFilePath)
	cmp "$MSP_STORE/$src" "$BATS_TEST_TMPDIR/clip.mp4"
	[ "$(msp-catalog get "$vid" | jq -r '[.name, .uploadedBy, .status] | @tsv')" = "tus clip	ann@example.org	uploaded" ]
}

login() {
	start_server --workers 0 "$@"
	curl -s -X POST "$U/auth/signup" \
	    -d '{"email":"ann@example.org","password":"correct horse battery"}' >/dev/null
	TOK=$(curl -sf -X POST "$U/auth/login" \
	    -d '{"email":"ann@example.org","password":"correct horse battery"}' | jq -r .token)
}

@test "tus: OPTIONS discovery; create, PATCH in pieces with sha256 and sha1, the last byte ingests the same bytes" {
	login
	run curl -s -i -X OPTIONS "$U/files/"
	[[ "$output" == *$'Tus-Version: 1.0.0\r'* ]]
	[[ "$output" == *$'Tus-Extension: creation,termination,expiration,checksum\r'* ]]
	[[ "$output" == *$'Tus-Max-Size: 2147483648\r'* ]]
	[[ "$output" == *$'Tus-Checksum-Algorithm: sha1,sha256\r'* ]]
	create
	[[ "$LOC" =~ ^/files/[0-9a-z]{26}$ ]]
	[ "$(hdr Tus-Resumable)" = 1.0.0 ] && [ -n "$(hdr Upload-Expires)" ]
	head_off; [ "$OFF" = 0 ] && [ "$(hdr Upload-Length)" = "$LEN" ]
	[ "$(hdr Cache-Control)" = no-store ]
	piece 0 40000 "$BATS_TEST_TMPDIR/p1"
	piece 40000 100000 "$BATS_TEST_TMPDIR/p2"
	piece 100000 "$LEN" "$BATS_TEST_TMPDIR/p3"
	patch 0 "$BATS_TEST_TMPDIR/p1"
	[ "$code" = 204 ] && [ "$(hdr Upload-Offset)" = 40000 ]
	patch 40000 "$BATS_TEST_TMPDIR/p2" -H "Upload-Checksum: sha256 $(sha "$BATS_TEST_TMPDIR/p2")"
	[ "$code" = 204 ] && [ "$(hdr Upload-Offset)" = 100000 ]
	head_off; [ "$OFF" = 100000 ]
	[ "$(msp-catalog list --type short | wc -l)" = 0 ]
	patch 100000 "$BATS_TEST_TMPDIR/p3" -H "Upload-Checksum: sha1 $(sha1 "$BATS_TEST_TMPDIR/p3")"
	[ "$code" = 204 ] && [ "$(hdr Upload-Offset)" = "$LEN" ]
	same_bytes
	# the job is queued as for the PUT routes; the upload is done
	[ "$(msp-catalog list --type short | jq -r .status)" = uploaded ]
	head_off; [ "$OFF" = "$LEN" ]
	[ "$(hdr X-Msp-Video)" = "$(msp-catalog list --type short | jq -r .id)" ]
	patch "$LEN" "$BATS_TEST_TMPDIR/p3"
	[ "$code" = 409 ]
	[ "$(msp-catalog list --type short | wc -l)" = 1 ]
}

@test "tus: a cut connection keeps the bytes that arrived; resuming from HEAD's offset gives the same bytes" {
	login
	create
	python3 - "$PORT" "$TOK" "$LOC" "$BATS_TEST_TMPDIR/clip.mp4" <<'PY'
import socket, sys
port, tok, loc, path = sys.argv[1:]
data = open(path, 'rb').read()
s = socket.create_connection(('127.0.0.1', int(port)))
s.sendall(('PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n'
    'Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n'
    'Upload-Offset: 0\r\nContent-Length: %d\r\n\r\n' % (loc, tok, len(data))).encode())
s.sendall(data[:60000])
s.close()
PY
	# resume where the server says, once the cut PATCH has let go
	for _ in $(seq 200); do
		off=$(offset)
		piece "$off" "$LEN" "$BATS_TEST_TMPDIR/rest"
		patch "$off" "$BATS_TEST_TMPDIR/rest"
		[ "$code" = 423 ] || break
		sleep 0.05
	done
	[ "$code" = 204 ] || { echo "$code $body"; false; }
	[ "$off" -gt 0 ] && [ "$off" -le 60000 ]
	same_bytes
}

@test "tus: an upload survives an msp-serve restart; resuming gives the same bytes" {
	login
	create
	piece 0 70000 "$BATS_TEST_TMPDIR/p1"
	piece 70000 "$LEN" "$BATS_TEST_TMPDIR/p2"
	patch 0 "$BATS_TEST_TMPDIR/p1"
	[ "$code" = 204 ]
	stop_server
	start_server --workers 0
	head_off; [ "$OFF" = 70000 ]
	patch 70000 "$BATS_TEST_TMPDIR/p2" -H "Upload-Checksum: sha256 $(sha "$BATS_TEST_TMPDIR/p2")"
	[ "$code" = 204 ]
	same_bytes
}

@test "tus: every byte on disk but not ingested (a crash before the answer): one byte short, sent again, ingested once" {
	login
	create
	cp "$BATS_TEST_TMPDIR/clip.mp4" "$MSP_STORE/media/uploads/${LOC#/files/}.data"
	head_off; [ "$OFF" = $((LEN - 1)) ]
	piece $((LEN - 1)) "$LEN" "$BATS_TEST_TMPDIR/last"
	patch $((LEN - 1)) "$BATS_TEST_TMPDIR/last"
	[ "$code" = 204 ]
	same_bytes
	[ "$(msp-catalog list --type short | wc -l)" = 1 ]
	msp-catalog check >/dev/null
}

@test "tus: a crash between the ingest's commit and its marker: the last byte again finds the video, ingested once" {
	login
	create
	id=${LOC#/files/}
	piece 0 $((LEN - 1)) "$BATS_TEST_TMPDIR/most"
	piece $((LEN - 1)) "$LEN" "$BATS_TEST_TMPDIR/last"
	patch 0 "$BATS_TEST_TMPDIR/most"
	[ "$code" = 204 ]
	# the marker cannot be written: the ingest commits, then the server
	# stops as a crash would stop it, before the marker
	mkdir "$MSP_STORE/media/uploads/$id.done"
	patch $((LEN - 1)) "$BATS_TEST_TMPDIR/last"
	[ "$code" = 500 ]
	vid=$(jq -r .videoId "$MSP_STORE/media/uploads/$id.info")
	[ "$(msp-catalog list --type short | jq -r .id)" = "$vid" ]
	kill -9 "$SERVE_PID"
	wait "$SERVE_PID" || true
	SERVE_PID=
	rmdir "$MSP_STORE/media/uploads/$id.done"
	start_server --workers 0
	head_off; [ "$OFF" = $((LEN - 1)) ]
	patch $((LEN - 1)) "$BATS_TEST_TMPDIR/last"
	[ "$code" = 204 ] && [ "$(hdr X-Msp-Video)" = "$vid" ]
	same_bytes
	[ "$(msp-catalog list --type short | wc -l)" = 1 ]
	[ "$(msp-catalog export | jq -r 'select(.type == "job") | .videoId')" = "$vid" ]
	head_off; [ "$OFF" = "$LEN" ]
	[ "$(ls "$MSP_STORE/media/uploads")" = "$id.done" ]
	msp-catalog check >/dev/null
}

@test "tus: wrong offset 409, checksum mismatch 460 drops the bytes, past the length 413, bad headers 400/412/415, no session 401" {
	login
	create
	piece 0 1000 "$BATS_TEST_TMPDIR/p1"
	patch 5 "$BATS_TEST_TMPDIR/p1"
	[ "$code" = 409 ] && [ "$(jq -r .error <<<"$body")" = "Upload-Offset: 5, but the upload is at 0" ]
	patch 0 "$BATS_TEST_TMPDIR/p1" -H "Upload-Checksum: sha256 $(sha "$BATS_TEST_TMPDIR/clip.mp4")"
	[ "$code" = 460 ]
	[ "$(jq -r .error <<<"$body")" = "Upload-Checksum: the body's sha256 differs; its bytes were dropped" ]
	head_off; [ "$OFF" = 0 ]
	patch 0 "$BATS_TEST_TMPDIR/p1" -H "Upload-Checksum: sha1 $(sha1 "$BATS_TEST_TMPDIR/clip.mp4")"
	[ "$code" = 460 ]
	[ "$(jq -r .error <<<"$body")" = "Upload-Checksum: the body's sha1 differs; its bytes were dropped" ]
	head_off; [ "$OFF" = 0 ]
	patch 0 "$BATS_TEST_TMPDIR/p1" -H "Upload-Checksum: md5 $(md5sum "$BATS_TEST_TMPDIR/p1" | cut -c1-32 | xxd -r -p | base64 -w0)"
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "Upload-Checksum: the algorithm is not supported (sha1, sha256)" ]
	patch 0 "$BATS_TEST_TMPDIR/p1" -H "Upload-Checksum: sha256 nope"
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "Upload-Checksum: expected sha256 and 32 bytes in base64" ]
	patch 0 "$BATS_TEST_TMPDIR/p1" -H "Upload-Checksum: sha1 $(sha "$BATS_TEST_TMPDIR/p1")"
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "Upload-Checksum: expected sha1 and 20 bytes in base64" ]
	tus PATCH "$LOC" -H 'Upload-Offset: 0' --data-binary "@$BATS_TEST_TMPDIR/p1"
	[ "$code" = 415 ]
	run curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOK" \
	    -H 'Tus-Resumable: 0.2.2' -H 'Content-Type: application/offset+octet-stream' \
	    -H 'Upload-Offset: 0' --data-binary "@$BATS_TEST_TMPDIR/p1" "$U$LOC"
	[ "$output" = 412 ]
	run curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Tus-Resumable: 1.0.0' \
	    -H 'Content-Type: application/offset+octet-stream' -H 'Upload-Offset: 0' \
	    --data-binary "@$BATS_TEST_TMPDIR/p1" "$U$LOC"
	[ "$output" = 401 ]
	head_off; [ "$OFF" = 0 ]
	# more bytes than Upload-Length
	CLEN=500 create
	patch 0 "$BATS_TEST_TMPDIR/p1"
	[ "$code" = 413 ] && [ "$(jq -r .error <<<"$body")" = "body: more than the 500 bytes of Upload-Length" ]
	head_off; [ "$OFF" = 0 ]
	# creation refusals
	before=$(store_sum)
	tus POST /files/ -H "Upload-Metadata: videoType $(b64 short)"
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "Upload-Length: expected a number of bytes" ]
	tus POST /files/ -H "Upload-Length: 10" -H "Upload-Metadata: videoType $(b64 film)"
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "Upload-Metadata: videoType: expected short or long" ]
	tus POST /files/ -H "Upload-Length: 10" -H "Upload-Metadata: videoType %%%"
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "Upload-Metadata: videoType: not base64" ]
	tus POST /files/ -H "Upload-Length: 10" -H "Upload-Defer-Length: 1"
	[ "$code" = 400 ]
	tus POST /files/ -H "Upload-Length: 3000000000" -H "Upload-Metadata: videoType $(b64 short)"
	[ "$code" = 413 ] && [ "$(jq -r .error <<<"$body")" = "Upload-Length: larger than 2147483648 bytes" ]
	assert_store_unchanged "$before"
}

@test "tus: another user's upload id is 404 for HEAD, PATCH and DELETE; its owner deletes it (204, then 404)" {
	login
	create
	piece 0 1000 "$BATS_TEST_TMPDIR/p1"
	mine=$TOK
	TOK=$(signup_login bob@example.org)
	tus HEAD "$LOC" -I
	[ "$code" = 404 ]
	patch 0 "$BATS_TEST_TMPDIR/p1"
	[ "$code" = 404 ] && [ "$(jq -r .error <<<"$body")" = "upload ${LOC#/files/}: not found" ]
	tus DELETE "$LOC"
	[ "$code" = 404 ]
	TOK=$mine
	head_off; [ "$OFF" = 0 ]
	tus DELETE "$LOC"
	[ "$code" = 204 ]
	tus HEAD "$LOC" -I
	[ "$code" = 404 ]
	[ -z "$(ls "$MSP_STORE/media/uploads")" ]
	tus HEAD /files/nonsense -I
	[ "$code" = 404 ]
}

@test "tus: an expired upload is 410 and removed, or removed at the next start; a user's unfinished uploads are limited (429)" {
	login --upload-ttl 0
	create
	piece 0 1000 "$BATS_TEST_TMPDIR/p1"
	patch 0 "$BATS_TEST_TMPDIR/p1"
	[ "$code" = 410 ] && [ "$(jq -r .error <<<"$body")" = "upload ${LOC#/files/}: expired" ]
	[ -z "$(ls "$MSP_STORE/media/uploads")" ]
	tus HEAD "$LOC" -I
	[ "$code" = 404 ]
	# one nobody asks for again goes when msp-serve next starts
	create
	[ -n "$(ls "$MSP_STORE/media/uploads")" ]
	stop_server
	start_server --workers 0
	[ -z "$(ls "$MSP_STORE/media/uploads")" ]
	stop_server
	login --upload-quota 2
	create
	first=$LOC
	create
	tus POST /files/ -H "Upload-Length: $LEN" -H "Upload-Metadata: videoType $(b64 short)"
	[ "$code" = 429 ]
	[ "$(jq -r .error <<<"$body")" = "ann@example.org: 2 unfinished uploads already (the most allowed); finish or delete one" ]
	LOC=$first
	tus DELETE "$LOC"
	create
}

@test "tus: a file that is not media is refused at its last byte (422) and the upload removed; the PUT routes are unchanged" {
	login
	head -c 5000 /dev/urandom > "$BATS_TEST_TMPDIR/junk"
	before=$(store_sum)
	CLEN=5000 create
	patch 0 "$BATS_TEST_TMPDIR/junk"
	[ "$code" = 422 ]
	assert_store_unchanged "$before"
	[ -z "$(ls "$MSP_STORE/media/uploads")" ]
	run curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOK" \
	    --data-binary "@$BATS_TEST_TMPDIR/clip.mp4" "$U/short-content/upload?name=put"
	[ "$output" = 202 ]
}
