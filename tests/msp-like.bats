#!/usr/bin/env bats
# msp-like: likes of short videos, counts, lists, feeds by likes, bad input.

load helper

setup() {
	setup_store
	A=ann@example.com
	B=bob@example.com
	msp-catalog user add "$A" >/dev/null
	msp-catalog user add "$B" >/dev/null
}

short() { # short NAME [extra args]
	local n=$1
	shift
	msp-catalog add -t short --name "$n" --uploaded-by "$A" --status ready "$@" | jq -r .id
}

long() { # long TITLE [extra args]
	local t=$1
	shift
	msp-catalog add -t long --title "$t" -g drama --language en --uploaded-by "$A" --status ready "$@" | jq -r .id
}

@test "add records a like with the count; liking twice is one like" {
	s=$(short clip)
	run msp-like add "$A" "$s"
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.type,.videoId,.user,.status,.likes]|join(" ")' <<<"$output")" = "like $s $A liked 1" ]
	[[ $(jq -r .createdAt <<<"$output") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$ ]]
	first=$(jq -r .createdAt <<<"$output")
	run msp-like add ANN@example.com "$s"
	[ "$status" -eq 0 ]
	[ "$(jq -r .likes <<<"$output")" = 1 ]
	[ "$(jq -r .createdAt <<<"$output")" = "$first" ]
	msp-like add "$B" "$s" >/dev/null
	run msp-like count "$s"
	[ "$output" = "{\"type\":\"count\",\"v\":1,\"videoId\":\"$s\",\"likes\":2}" ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "del unlikes; unliking twice is harmless" {
	s=$(short clip)
	msp-like add "$A" "$s" >/dev/null
	msp-like add "$B" "$s" >/dev/null
	run msp-like del ANN@Example.com "$s"
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.user,.status,.likes]|join(" ")' <<<"$output")" = "$A unliked 1" ]
	run msp-like del "$A" "$s"
	[ "$status" -eq 0 ]
	[ "$(jq -r .likes <<<"$output")" = 1 ]
	[ "$(msp-like count "$s" | jq -r .likes)" = 1 ]
	[ "$(msp-like list --video "$s" | jq -r .user)" = "$B" ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "count takes ids on stdin and reports unknown ones" {
	s=$(short clip)
	msp-like add "$A" "$s" >/dev/null
	feed "$s
01m86tg0df4jv5n35ehkbh8hw4" msp-like count
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "{\"type\":\"count\",\"v\":1,\"videoId\":\"$s\",\"likes\":1}" ]
	[ "${lines[1]}" = "msp-like: 01m86tg0df4jv5n35ehkbh8hw4: no such video" ]
}

@test "JSONL on stdin: op del, bad lines reported by line, good lines kept" {
	s=$(short clip)
	msp-like add "$A" "$s" >/dev/null
	before=$(msp-like count "$s")
	run --separate-stderr bash -c "printf '%s\n' \
	    '{\"user\":\"$A\",\"videoId\":\"$s\",\"op\":\"del\"}' \
	    '{\"user\":\"nobody@example.com\",\"videoId\":\"$s\"}' \
	    'not json' \
	    '{\"user\":\"$B\",\"videoId\":\"$s\",\"extra\":1}' \
	    '{\"user\":\"$B\",\"videoId\":\"$s\",\"op\":\"like\"}' \
	    '{\"videoId\":\"$s\"}' | msp-like add"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -r '[.status,.likes]|join(" ")' <<<"${lines[0]}")" = "unliked 0" ]
	[ "$(jq -r '[.user,.status,.likes,.extra]|join(" ")' <<<"${lines[1]}")" = "$B liked 1 1" ]
	[ "$stderr" = "msp-like: <stdin>:2: nobody@example.com: no such user
msp-like: <stdin>:3: column 2: null expected
msp-like: <stdin>:5: field 'op': expected \"add\" or \"del\"
msp-like: <stdin>:6: field 'user': required" ]
	[ "$(msp-like count "$s" | jq -r .likes)" = 1 ]
	# msp-like del reads lines as unlikes
	feed "{\"user\":\"$B\",\"videoId\":\"$s\"}" msp-like del
	[ "$status" -eq 0 ]
	[ "$(msp-like count "$s" | jq -r .likes)" = 0 ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "--strict stops at the first refused line, keeping those before" {
	s=$(short clip)
	run --separate-stderr bash -c "printf '%s\n' \
	    '{\"user\":\"$A\",\"videoId\":\"$s\"}' \
	    '{\"user\":\"nobody@example.com\",\"videoId\":\"$s\"}' \
	    '{\"user\":\"$B\",\"videoId\":\"$s\"}' | msp-like --strict add"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-like: <stdin>:2: nobody@example.com: no such user" ]
	[ "$(msp-like count "$s" | jq -r .likes)" = 1 ]
}

@test "list --user is newest first and pages with stable cursors" {
	for i in 1 2 3 4 5; do eval "s$i=\$(short c$i)"; done
	for i in 1 2 3 4 5; do eval "msp-like add $B \$s$i" >/dev/null; done
	all=$(msp-like list -u "$B" | jq -r .videoId | tr '\n' ' ')
	[ "$all" = "$s5 $s4 $s3 $s2 $s1 " ]
	run msp-like list -u "$B" --limit 2
	[ "$(jq -r 'select(.type=="like").videoId' <<<"$output" | tr '\n' ' ')" = "$s5 $s4 " ]
	cur=$(jq -r 'select(.type=="page").after' <<<"$output")
	msp-like add "$B" "$s1" >/dev/null   # no change: already liked
	msp-like del "$B" "$s5" >/dev/null   # on the page already read
	run msp-like list -u "$B" --limit 2 --after "$cur"
	[ "$(jq -r 'select(.type=="like").videoId' <<<"$output" | tr '\n' ' ')" = "$s3 $s2 " ]
	cur=$(jq -r 'select(.type=="page").after' <<<"$output")
	run msp-like list -u "$B" --limit 2 --after "$cur"
	[ "$output" = "$(msp-like list -u "$B" | tail -1)" ]
	[ "$(jq -r .videoId <<<"$output")" = "$s1" ]
	run --separate-stderr msp-like list -u "$B" --after garbage
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-like: 'garbage': not a cursor of this listing" ]
}

@test "list --video lists a video's likes by user, paged" {
	s=$(short clip)
	msp-like add "$B" "$s" >/dev/null
	msp-like add "$A" "$s" >/dev/null
	run msp-like list --video "$s" -n 1
	[ "$(jq -r 'select(.type=="like").user' <<<"$output")" = "$A" ]
	cur=$(jq -r 'select(.type=="page").after' <<<"$output")
	run msp-like list --video "$s" -n 1 --after "$cur"
	[ "$(jq -r 'select(.type=="like").user' <<<"$output")" = "$B" ]
	[ -z "$(jq -r 'select(.type=="page")' <<<"$output")" ]
}

@test "unknown user is refused and the store is unchanged" {
	s=$(short clip)
	before=$(store_sum)
	run --separate-stderr msp-like add nobody@example.com "$s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-like: nobody@example.com: no such user" ]
	[ -z "$output" ]
	assert_store_unchanged "$before"
	run --separate-stderr msp-like add not-an-email "$s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-like: not-an-email: not an email address" ]
	assert_store_unchanged "$before"
}

@test "unknown video is refused and the store is unchanged" {
	short clip >/dev/null
	before=$(store_sum)
	run --separate-stderr msp-like add "$A" 01m86tg0df4jv5n35ehkbh8hw4
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-like: 01m86tg0df4jv5n35ehkbh8hw4: no such video" ]
	assert_store_unchanged "$before"
	run --separate-stderr msp-like add "$A" nonsense
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-like: nonsense: no such video" ]
	assert_store_unchanged "$before"
}

@test "liking a long video is refused and the store is unchanged" {
	l=$(long River)
	before=$(store_sum)
	run --separate-stderr msp-like add "$A" "$l"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-like: $l: video is long; likes apply to short videos" ]
	assert_store_unchanged "$before"
	run --separate-stderr msp-like count "$l"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-like: $l: video is long; likes apply to short videos" ]
}

@test "liking a deleted video is refused and the store is unchanged" {
	s=$(short clip)
	msp-like add "$B" "$s" >/dev/null
	msp-catalog del "$s"
	before=$(store_sum)
	run --separate-stderr msp-like add "$A" "$s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-like: $s: video is deleted" ]
	assert_store_unchanged "$before"
	# its likes are kept, and can still be taken back
	[ "$(msp-like count "$s" | jq -r .likes)" = 1 ]
	run msp-catalog check
	[ "$status" -eq 0 ]
	run msp-like del "$B" "$s"
	[ "$status" -eq 0 ]
	[ "$(jq -r .likes <<<"$output")" = 0 ]
	# brought back, it can be liked again and is back in the feed
	msp-catalog update "$s" --set isDeleted=false >/dev/null
	run msp-like add "$A" "$s"
	[ "$status" -eq 0 ]
	[ "$(msp-catalog list --sort likes | jq -r .likes)" = 1 ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "purging a video removes its likes, counters and the user's entries" {
	s=$(short clip)
	t=$(short other)
	msp-like add "$A" "$s" >/dev/null
	msp-like add "$A" "$t" >/dev/null
	msp-like add "$B" "$s" >/dev/null
	msp-catalog del --purge "$s"
	[ "$(msp-like list -u "$A" | jq -r .videoId)" = "$t" ]
	[ -z "$(msp-like list -u "$B")" ]
	[ "$(msp-catalog export | jq -r 'select(.type=="like").videoId')" = "$t" ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "msp-catalog shows likes, and lists by likes with stable cursors" {
	s1=$(short one)
	s2=$(short two)
	s3=$(short three)
	l=$(long River)
	msp-like add "$A" "$s2" >/dev/null
	msp-like add "$B" "$s2" >/dev/null
	msp-like add "$A" "$s3" >/dev/null
	[ "$(msp-catalog get "$s2" | jq -r .likes)" = 2 ]
	[ "$(msp-catalog list --sort likes | jq -r '"\(.name):\(.likes)"' | tr '\n' ' ')" = "two:2 three:1 one:0 " ]
	run msp-catalog list --sort likes --limit 2
	[ "$(jq -r 'select(.type=="video").name' <<<"$output" | tr '\n' ' ')" = "two three " ]
	cur=$(jq -r 'select(.type=="page").after' <<<"$output")
	run msp-catalog list --sort likes --limit 2 --after "$cur"
	[ "$(jq -r .name <<<"$output")" = one ]
	# deleted videos drop out of the feed; long videos are not in it
	msp-catalog del "$s3"
	[ "$(msp-catalog list --sort likes | jq -r .name | tr '\n' ' ')" = "two one " ]
	[ -z "$(msp-catalog list --sort likes --type long)" ]
	run --separate-stderr msp-catalog list --sort likes --after "$(msp-catalog list --limit 1 | jq -r 'select(.type=="page").after')"
	[ "$status" -eq 1 ]
	[[ $stderr == *": not a cursor of this listing" ]]
}

@test "export and import round-trip likes byte for byte, counters rebuilt" {
	s=$(short clip)
	t=$(short other)
	l=$(long River)
	msp-like add "$A" "$s" >/dev/null
	msp-like add "$B" "$s" >/dev/null
	msp-like add "$B" "$t" >/dev/null
	msp-rate set "$A" "$l" 4 >/dev/null
	msp-catalog export > "$BATS_TEST_TMPDIR/one.jsonl"
	MSP_STORE=$BATS_TEST_TMPDIR/copy msp-catalog import "$BATS_TEST_TMPDIR/one.jsonl"
	MSP_STORE=$BATS_TEST_TMPDIR/copy msp-catalog export > "$BATS_TEST_TMPDIR/two.jsonl"
	cmp "$BATS_TEST_TMPDIR/one.jsonl" "$BATS_TEST_TMPDIR/two.jsonl"
	[ "$(MSP_STORE=$BATS_TEST_TMPDIR/copy msp-like count "$s" | jq -r .likes)" = 2 ]
	[ "$(MSP_STORE=$BATS_TEST_TMPDIR/copy msp-like list -u "$B" | jq -r .videoId | tr '\n' ' ')" = "$t $s " ]
	MSP_STORE=$BATS_TEST_TMPDIR/copy run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "importing a like of a long video or of an unknown user is refused" {
	l=$(long River)
	run --separate-stderr bash -c "echo '{\"type\":\"like\",\"v\":1,\"videoId\":\"$l\",\"user\":\"$A\",\"createdAt\":\"2026-01-01T00:00:00.000Z\",\"status\":\"liked\"}' | msp-catalog import"
	[ "$status" -eq 1 ]
	[[ $stderr == *"$l: video is long; likes apply to short videos" ]]
	s=$(short clip)
	run --separate-stderr bash -c "echo '{\"type\":\"like\",\"v\":1,\"videoId\":\"$s\",\"user\":\"zed@example.com\",\"createdAt\":\"2026-01-01T00:00:00.000Z\",\"status\":\"liked\"}' | msp-catalog import"
	[ "$status" -eq 1 ]
	[[ $stderr == *"zed@example.com: no such user" ]]
	[ "$(msp-like count "$s" | jq -r .likes)" = 0 ]
}

@test "usage errors exit 2" {
	run --separate-stderr msp-like
	[ "$status" -eq 2 ]
	[[ $stderr == "msp-like: a command is needed: add, del, count or list"* ]]
	run --separate-stderr msp-like add "$A"
	[ "$status" -eq 2 ]
	run --separate-stderr msp-like frob
	[ "$status" -eq 2 ]
	[[ $stderr == "msp-like: unknown command 'frob'"* ]]
	run --separate-stderr msp-like list
	[ "$status" -eq 2 ]
	run --separate-stderr msp-like list -u "$A" --limit 0
	[ "$status" -eq 2 ]
}

@test "stdout errors: /dev/full exits 3, a closed pipe exits quietly" {
	s=$(short clip)
	msp-like add "$A" "$s" >/dev/null
	run --separate-stderr bash -c "msp-like count $s > /dev/full"
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-like: stdout: No space left on device" ]
	run --separate-stderr bash -c "yes $s | head -5000 | msp-like count | head -1"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "a missing store is an error, not a new store" {
	export MSP_STORE=$BATS_TEST_TMPDIR/none
	run --separate-stderr msp-like count x
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-like: $MSP_STORE: no store here" ]
	[ ! -e "$MSP_STORE" ]
}
