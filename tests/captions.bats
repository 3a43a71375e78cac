#!/usr/bin/env bats
# Captions: WebVTT and SRT files checked, stored and published as an HLS
# subtitles group (msp-catalog caption, msp-ingest --caption, the HTTP
# routes), and cue text found by msp-search with the cue's time.

load helper
load serve_helper

setup() {
	setup_store
	msp-catalog user add owner@example.org >/dev/null
	printf 'WEBVTT\n\nNOTE a note\n\nintro\n00:00.500 --> 00:01.500\nHello <b>world</b>\n\n00:01.500 --> 00:12.750 align:start\nThe quick brown fox &amp; the lazy dog\n' > en.vtt
	printf '1\r\n00:00:00,200 --> 00:00:01,000\r\nBonjour <i>le monde</i> & <font color="red">rouge</font>\r\n\r\n2\r\n00:00:04,000 --> 00:00:05,500\r\nun renard brun\r\n' > fr.srt
}

# a ready video with a small HLS tree: mkvideo [msp-catalog add flags] -> id
mkvideo() {
	local id
	id=$(msp-catalog add --type long --title "A film" --about "about" \
	    --language en -g drama --uploaded-by owner@example.org \
	    --status ready "$@" | jq -r .id) || return 1
	msp-catalog update "$id" --set "destinationBucketFilePath=[\"media/hls/$id/master.m3u8\"]" >/dev/null
	mkdir -p "$MSP_STORE/media/hls/$id/v0"
	printf '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.64000c"\nv0/index.m3u8\n' \
	    > "$MSP_STORE/media/hls/$id/master.m3u8"
	printf '#EXTM3U\n#EXTINF:3,\nseg0.ts\n#EXT-X-ENDLIST\n' \
	    > "$MSP_STORE/media/hls/$id/v0/index.m3u8"
	echo "$id"
}

@test "caption add: WebVTT kept, SRT made WebVTT, stored under media/captions, listed" {
	id=$(mkvideo)
	run msp-catalog caption add "$id" en=en.vtt FR=fr.srt
	[ "$status" -eq 0 ]
	[ "$(jq -r .language <<<"${lines[0]}")" = en ]
	[ "$(jq -r .label <<<"${lines[0]}")" = English ]
	[ "$(jq -r .cues <<<"${lines[0]}")" = 2 ]
	[ "$(jq -r .language <<<"${lines[1]}")" = fr ]
	p=$(jq -r .path <<<"${lines[1]}")
	[[ "$p" == media/captions/$id/fr-*.vtt ]]
	cmp en.vtt "$MSP_STORE/$(jq -r .path <<<"${lines[0]}")"
	[ "$(cat "$MSP_STORE/$p")" = "$(printf 'WEBVTT\n\n00:00:00.200 --> 00:00:01.000\nBonjour <i>le monde</i> &amp; rouge\n\n00:00:04.000 --> 00:00:05.500\nun renard brun')" ]
	run msp-catalog caption list "$id"
	[ "${#lines[@]}" -eq 2 ]
	# the record keeps the cues' plain text for search
	[ "$(msp-catalog get "$id" | jq -c '.captions[0].cues')" = '[[500,1500,"Hello world"],[1500,12750,"The quick brown fox & the lazy dog"]]' ]
	msp-catalog check
	# the caption objects are named by the record; a purge takes them
	run msp-catalog check --media
	[ "$status" -eq 0 ] && [ -z "$output" ]
	rm "$MSP_STORE/$p"
	run msp-catalog check --media
	[ "$status" -eq 1 ] && [[ "$output" == *"video $id: $p: missing"* ]]
	msp-catalog del --purge "$id"
	[ ! -e "$MSP_STORE/media/captions/$id" ]
}

@test "caption add: published as an HLS subtitles group; del takes it out again" {
	id=$(mkvideo)
	msp-catalog caption add "$id" en=en.vtt pt-br=fr.srt >/dev/null
	m="$MSP_STORE/media/hls/$id/master.m3u8"
	grep -qx '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subs/en.m3u8"' "$m"
	grep -qx '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Portuguese (BR)",LANGUAGE="pt-BR",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subs/pt-BR.m3u8"' "$m"
	grep -qx '#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.64000c",SUBTITLES="subs"' "$m"
	vtt=$(grep '\.vtt$' "$MSP_STORE/media/hls/$id/subs/en.m3u8")
	cmp en.vtt "$MSP_STORE/media/hls/$id/subs/$vtt"
	grep -qx '#EXT-X-ENDLIST' "$MSP_STORE/media/hls/$id/subs/en.m3u8"
	# a new version replaces the old object and its published copy
	printf 'WEBVTT\n\n00:01.000 --> 00:02.000\nanother text\n' > en2.vtt
	msp-catalog caption add "$id" en=en2.vtt >/dev/null
	[ "$(ls "$MSP_STORE/media/captions/$id" | wc -l)" -eq 2 ]
	[ "$(ls "$MSP_STORE/media/hls/$id/subs" | wc -l)" -eq 4 ]
	run msp-catalog caption del "$id" en pt-BR
	[ "$status" -eq 0 ] && [ "$(jq -r .deleted <<<"${lines[1]}")" = true ]
	! grep -q SUBTITLES "$m"
	[ ! -e "$MSP_STORE/media/hls/$id/subs" ] || [ -z "$(ls "$MSP_STORE/media/hls/$id/subs")" ]
	[ -z "$(ls "$MSP_STORE/media/captions/$id" 2>/dev/null)" ]
	[ "$(msp-catalog get "$id" | jq 'has("captions")')" = false ]
	run msp-catalog caption del "$id" en
	[ "$status" -eq 1 ] && [ "$output" = "msp-catalog: video $id: no en caption" ]
}

@test "caption add: broken files name the file and the line; nothing stored" {
	id=$(mkvideo)
	msp-catalog caption add "$id" en=en.vtt >/dev/null
	before=$(store_sum)
	files=$(find "$MSP_STORE/media" -type f | sort | xargs sha256sum)
	printf 'WEBVTT\n\n00:01.000 --> 00:00.500\nbackwards\n' > b1.vtt
	printf 'WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:00.500 --> 00:03.000\nearlier\n' > b2.vtt
	printf 'WEBVTT\n\nid\n00:01.000 -> 00:02.000\nx\n' > b3.vtt
	printf 'WEBVTT\n\n00:01.000 --> 00:02.000\nok\xff\n' > b4.vtt
	printf 'WEBVTT\n\n00:61.000 --> 00:62.000\nx\n' > b5.vtt
	printf 'WEBVTT\n\n00:01.000 --> 00:02.000\na\0b\n' > b6.vtt
	printf 'hello there\n' > b7.srt
	printf '1\n00:00:01,000 --> 00:00:02\nx\n' > b8.srt
	head -c 600000 /dev/zero | tr '\0' 'a' > big.vtt
	: > empty.vtt
	check() {
		run msp-catalog caption add "$id" "en=$1"
		[ "$status" -eq 1 ] && [ "$output" = "msp-catalog: $2" ]
	}
	check b1.vtt "b1.vtt:3: cue timing: '00:00:01.000 --> 00:00:00.500': the cue ends before it starts"
	check b2.vtt "b2.vtt:6: cue timing: the cue starts at 00:00:00.500, before 00:00:01.000 (the cue before it): cues must be in order"
	check b3.vtt "b3.vtt:4: expected a cue timing line (START --> END), got '00:01.000 -> 00:02.000'"
	check b4.vtt "b4.vtt:4: not UTF-8 text"
	check b5.vtt "b5.vtt:3: cue timing: bad start time '00:61.000' (expected [HH:]MM:SS.mmm)"
	check b6.vtt "b6.vtt:4: not a text file (a NUL byte)"
	check b7.srt "b7.srt:1: neither WebVTT (no WEBVTT line) nor SRT (expected a cue number): 'hello there'"
	check b8.srt "b8.srt:2: cue timing: bad end time '00:00:02' (expected HH:MM:SS,mmm)"
	check big.vtt "big.vtt: larger than 524288 bytes"
	check empty.vtt "empty.vtt: empty"
	check missing.vtt "missing.vtt: No such file or directory"
	run msp-catalog caption add "$id" en_US=en.vtt
	[ "$status" -eq 1 ] && [ "$output" = "msp-catalog: caption language 'en_US': not a language tag (like en, pt-BR, zh-Hant)" ]
	# one bad file of several: none is added
	run msp-catalog caption add "$id" de=en.vtt fr=b1.vtt
	[ "$status" -eq 1 ]
	run msp-catalog caption add "$id" en.vtt
	[ "$status" -eq 2 ] && [[ "$output" == *"caption add: 'en.vtt': expected LANG=FILE"* ]]
	run msp-catalog caption add 01m8vep8gt4c95cj53wncnr8zz en=en.vtt
	[ "$status" -eq 1 ]
	assert_store_unchanged "$before"
	[ "$files" = "$(find "$MSP_STORE/media" -type f | sort | xargs sha256sum)" ]
}

@test "msp-search: cue text found; the hit carries the cue's time; reindex and check agree" {
	id=$(mkvideo)
	other=$(mkvideo --title "Fox hunting")
	msp-catalog caption add "$id" en=en.vtt fr=fr.srt >/dev/null
	run msp-search 'lazy dog'
	[ "$status" -eq 0 ] && [ "${#lines[@]}" -eq 1 ]
	[ "$(jq -r .id <<<"$output")" = "$id" ]
	[ "$(jq -c .cue <<<"$output")" = '{"start":1.5,"end":12.75,"language":"en","text":"The quick brown fox & the [lazy] [dog]"}' ]
	[ "$(jq -r .snippet <<<"$output")" = "The quick brown fox & the [lazy] [dog]" ]
	run msp-search renard
	[ "$(jq -r .cue.start <<<"$output")" = 4 ] && [ "$(jq -r .cue.language <<<"$output")" = fr ]
	# a title match ranks first and carries no cue
	run msp-search fox
	[ "$(jq -r .id <<<"${lines[0]}")" = "$other" ] && [ "$(jq -r .cue <<<"${lines[0]}")" = null ]
	[ "$(jq -r .id <<<"${lines[1]}")" = "$id" ] && [ "$(jq -r .cue.start <<<"${lines[1]}")" = 1.5 ]
	msp-catalog check
	msp-search reindex >/dev/null
	run msp-search 'lazy dog'
	[ "$(jq -r .cue.start <<<"$output")" = 1.5 ]
	# gone with the caption
	msp-catalog caption del "$id" en >/dev/null
	run msp-search 'lazy dog'
	[ "$status" -eq 1 ] || [ -z "$output" ]
	msp-catalog check
}

@test "export and import keep the captions; a bad captions field is refused" {
	id=$(mkvideo)
	msp-catalog caption add "$id" en=en.vtt >/dev/null
	msp-catalog export > dump.jsonl
	msp-catalog -s copy import dump.jsonl
	cmp dump.jsonl <(msp-catalog -s copy export)
	MSP_STORE=copy msp-search 'lazy' | jq -e '.cue.start == 1.5'
	run msp-catalog update "$id" --set 'captions=[{"language":"en","path":"../x.vtt","cues":[]}]'
	[ "$status" -eq 1 ] && [[ "$output" == *"field 'captions': element 1: 'path': expected media/captions/$id/<name>.vtt"* ]]
	run msp-catalog update "$id" --set "captions=[{\"language\":\"en\",\"path\":\"media/captions/$id/en.vtt\",\"cues\":[[5,1,\"x\"]]}]"
	[ "$status" -eq 1 ] && [[ "$output" == *"field 'captions': element 1: cue 1: times out of order"* ]]
}

@test "msp-ingest --caption: checked before anything is stored; published when the transcode is done" {
	make_clip clip.mp4 1 160x90
	printf 'WEBVTT\n\n00:01.000 --> 00:00.500\nbackwards\n' > bad.vtt
	before=$(store_sum)
	run msp-ingest -t long --title T --language en -g drama --uploaded-by owner@example.org --caption en=bad.vtt clip.mp4
	[ "$status" -eq 1 ] && [ "$output" = "msp-ingest: bad.vtt:3: cue timing: '00:00:01.000 --> 00:00:00.500': the cue ends before it starts" ]
	run msp-ingest --caption xx-=en.vtt clip.mp4
	[ "$status" -eq 2 ] && [[ "$output" == *"--caption: caption language 'xx-': not a language tag"* ]]
	assert_store_unchanged "$before"
	msp-ingest -t long --title T --language en -g drama --uploaded-by owner@example.org \
	    --caption en=en.vtt --caption fr=fr.srt clip.mp4 > job.jsonl
	[ "$(jq -c .captions job.jsonl)" = '["en","fr"]' ]
	msp-transcode < job.jsonl > out.jsonl
	id=$(jq -r .videoId job.jsonl)
	grep -q 'URI="subs/fr.m3u8"' "$MSP_STORE/media/hls/$id/master.m3u8"
	[ "$(grep -c 'SUBTITLES="subs"' "$MSP_STORE/media/hls/$id/master.m3u8")" -ge 1 ]
	[ -f "$MSP_STORE/media/hls/$id/subs/en.m3u8" ]
}

@test "HTTP: PUT and DELETE /videos/ID/captions/LANG: owner or admin; others 403; broken files 400 naming the line" {
	id=$(mkvideo)
	echo "a long password" | msp-serve --passwd owner@example.org
	msp-catalog user add boss@example.org --admin >/dev/null
	echo "a long password" | msp-serve --passwd boss@example.org
	start_server
	tok=$(signup_login ann@example.org)
	otok=$(curl -s -X POST "$U/auth/login" -d '{"email":"owner@example.org","password":"a long password"}' | jq -r .token)
	atok=$(curl -s -X POST "$U/auth/login" -d '{"email":"boss@example.org","password":"a long password"}' | jq -r .token)
	before=$(store_sum)
	req PUT "/videos/$id/captions/en" --data-binary @en.vtt
	[ "$code" = 401 ]
	req PUT "/videos/$id/captions/en" -H "Authorization: Bearer $tok" --data-binary @en.vtt
	[ "$code" = 403 ] && [ "$(jq -r .error <<<"$body")" = "video $id: not yours" ]
	printf 'WEBVTT\n\n00:00.500 --> 00:01.500\nfine\n\n00:02.000 --> 00:01.000\nbackwards\n' > bad.vtt
	req PUT "/videos/$id/captions/en" -H "Authorization: Bearer $otok" --data-binary @bad.vtt
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "caption en:6: cue timing: '00:00:02.000 --> 00:00:01.000': the cue ends before it starts" ]
	printf '\x89PNG\r\n\x1a\n\xff\xd8' > bin.vtt
	req PUT "/videos/$id/captions/en" -H "Authorization: Bearer $otok" --data-binary @bin.vtt
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "caption en:1: not UTF-8 text" ]
	req PUT "/videos/$id/captions/en_GB" -H "Authorization: Bearer $otok" --data-binary @en.vtt
	[ "$code" = 400 ] && [[ "$(jq -r .error <<<"$body")" == "caption language 'en_GB': not a language tag"* ]]
	req PUT "/videos/$id/captions/en" -H "Authorization: Bearer $otok"
	[ "$code" = 400 ] && [ "$(jq -r .error <<<"$body")" = "caption en: empty" ]
	head -c 600000 /dev/zero | tr '\0' a > big.vtt
	req PUT "/videos/$id/captions/en" -H "Authorization: Bearer $otok" --data-binary @big.vtt
	[ "$code" = 413 ]
	req PUT "/videos/01m8vep8gt4c95cj53wncnr8zz/captions/en" -H "Authorization: Bearer $otok" --data-binary @en.vtt
	[ "$code" = 404 ]
	req DELETE "/videos/$id/captions/en" -H "Authorization: Bearer $otok"
	[ "$code" = 404 ] && [ "$(jq -r .error <<<"$body")" = "video $id: no en caption" ]
	assert_store_unchanged "$before"
	req PUT "/videos/$id/captions/en" -H "Authorization: Bearer $otok" --data-binary @en.vtt
	[ "$code" = 200 ] && [ "$(jq -c .captions <<<"$body")" = '[{"language":"en","label":"English","cues":2}]' ]
	req PUT "/videos/$id/captions/fr" -H "Authorization: Bearer $atok" -H 'Content-Type: application/x-subrip' --data-binary @fr.srt
	[ "$code" = 200 ] && [ "$(jq -r '.captions | length' <<<"$body")" = 2 ]
	req GET "/videos/$id"
	[ "$(jq -r '.captions[1].label' <<<"$body")" = French ]
	req PATCH "/videos/$id" -H "Authorization: Bearer $otok" -d '{"about":"still captioned"}'
	[ "$code" = 200 ] && [ "$(jq -c '.captions[0]' <<<"$body")" = '{"language":"en","label":"English","cues":2}' ]
	req GET "/hls/$id/master.m3u8"
	[ "$code" = 200 ] && grep -q 'URI="subs/fr.m3u8"' <<<"$body"
	req GET "/hls/$id/subs/en.m3u8"
	[ "$code" = 200 ]
	vtt=$(grep '\.vtt' <<<"$body")
	req GET "/hls/$id/subs/$vtt"
	[ "$code" = 200 ] && [ "$body" = "$(cat en.vtt)"$'\n' ]
	# search over HTTP: the hit carries the cue
	req GET "/opensearch?q=lazy+dog"
	[ "$code" = 200 ]
	[ "$(jq -c '.hits.hits[0]._source.cue | [.start, .language]' <<<"$body")" = '[1.5,"en"]' ]
	req DELETE "/videos/$id/captions/fr" -H "Authorization: Bearer $tok"
	[ "$code" = 403 ]
	req DELETE "/videos/$id/captions/fr" -H "Authorization: Bearer $otok"
	[ "$code" = 200 ] && [ "$(jq -r '.captions | length' <<<"$body")" = 1 ]
	req GET "/hls/$id/master.m3u8"
	! grep -q 'subs/fr.m3u8' <<<"$body"
}
