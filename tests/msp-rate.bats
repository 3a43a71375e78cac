#!/usr/bin/env bats
# msp-rate: star ratings of long videos, averages, the Bayesian top list,
# feeds by rating, bad input.

load helper

setup() {
	setup_store
	A=ann@example.com
	B=bob@example.com
	C=cid@example.com
	for u in "$A" "$B" "$C"; do msp-catalog user add "$u" >/dev/null; done
}

long() { # long TITLE GENRE LANG [extra args]
	local t=$1 g=$2 l=$3
	shift 3
	msp-catalog add -t long --title "$t" -g "$g" --language "$l" --uploaded-by "$A" --status ready "$@" | jq -r .id
}

short() {
	msp-catalog add -t short --name "$1" --uploaded-by "$A" --status ready | jq -r .id
}

@test "set records a rating; a new one replaces the old; average has two decimals" {
	l=$(long River drama en)
	run msp-rate set "$A" "$l" 5
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.type,.videoId,.user,.rating,.ratingCount]|join(" ")' <<<"$output")" = "rating $l $A 5 1" ]
	[[ $output == *'"averageRating":5.00,'* ]]
	msp-rate set "$B" "$l" 4 >/dev/null
	msp-rate set "$C" "$l" 3 >/dev/null
	run msp-rate set "$C" "$l" 4
	[[ $output == *'"rating":4,'* ]]
	[[ $output == *'"averageRating":4.33,"ratingCount":3'* ]]
	run msp-rate get "$l"
	[ "$status" -eq 0 ]
	[ "$output" = "{\"type\":\"rating\",\"v\":1,\"videoId\":\"$l\",\"averageRating\":4.33,\"ratingCount\":3,\"score\":3.50}" ]
	run msp-rate get "$l" CID@example.com
	[ "$(jq -r '[.user,.rating]|join(" ")' <<<"$output")" = "$C 4" ]
	[ "$(msp-catalog get "$l" | jq -c '[.averageRating,.ratingCount]')" = "[4.33,3]" ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "the same rating again changes nothing" {
	l=$(long River drama en)
	msp-rate set "$A" "$l" 2 >/dev/null
	before=$(store_sum)
	run msp-rate set "$A" "$l" 2
	[ "$status" -eq 0 ]
	assert_store_unchanged "$before"
}

@test "del removes a rating and the average follows; twice is harmless" {
	l=$(long River drama en)
	msp-rate set "$A" "$l" 5 >/dev/null
	msp-rate set "$B" "$l" 2 >/dev/null
	run msp-rate del "$A" "$l"
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.status,.averageRating,.ratingCount]|join(" ")' <<<"$output")" = "removed 2 1" ]
	run msp-rate del "$A" "$l"
	[ "$status" -eq 0 ]
	run --separate-stderr msp-rate get "$l" "$A"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-rate: $l: not rated by $A" ]
	msp-rate del "$B" "$l" >/dev/null
	[[ $(msp-rate get "$l") == *'"averageRating":0.00,"ratingCount":0,'* ]]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "ratings 0, 6, 3.5 and five are refused and the store is unchanged" {
	l=$(long River drama en)
	msp-rate set "$A" "$l" 3 >/dev/null
	before=$(store_sum)
	for r in 0 6 3.5 five -1 "" " 4" 4x 99999999999999999999; do
		run --separate-stderr msp-rate set -- "$B" "$l" "$r"
		[ "$status" -eq 1 ] || { echo "rating '$r': status $status"; return 1; }
		[ "$stderr" = "msp-rate: $r: rating must be an integer from 1 to 5" ] || { echo "$stderr"; return 1; }
		[ -z "$output" ]
		assert_store_unchanged "$before"
	done
}

@test "bad ratings on stdin are refused by line with exact messages" {
	l=$(long River drama en)
	before=$(store_sum)
	run --separate-stderr bash -c "printf '%s\n' \
	    '{\"user\":\"$A\",\"videoId\":\"$l\",\"rating\":0}' \
	    '{\"user\":\"$A\",\"videoId\":\"$l\",\"rating\":6}' \
	    '{\"user\":\"$A\",\"videoId\":\"$l\",\"rating\":3.5}' \
	    '{\"user\":\"$A\",\"videoId\":\"$l\",\"rating\":\"five\"}' \
	    '{\"user\":\"$A\",\"videoId\":\"$l\"}' | msp-rate set"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "msp-rate: <stdin>:1: field 'rating': 0 is out of range 1 to 5
msp-rate: <stdin>:2: field 'rating': 6 is out of range 1 to 5
msp-rate: <stdin>:3: field 'rating': expected an integer, got a fraction
msp-rate: <stdin>:4: field 'rating': expected an integer, got string
msp-rate: <stdin>:5: field 'rating': required" ]
	assert_store_unchanged "$before"
	# good lines, with op del
	run bash -c "printf '%s\n' \
	    '{\"user\":\"$A\",\"videoId\":\"$l\",\"rating\":4}' \
	    '{\"user\":\"$B\",\"videoId\":\"$l\",\"rating\":1}' \
	    '{\"user\":\"$B\",\"videoId\":\"$l\",\"op\":\"del\"}' | msp-rate set"
	[ "$status" -eq 0 ]
	[[ $(msp-rate get "$l") == *'"averageRating":4.00,"ratingCount":1,'* ]]
}

@test "unknown user or video is refused and the store is unchanged" {
	l=$(long River drama en)
	before=$(store_sum)
	run --separate-stderr msp-rate set nobody@example.com "$l" 4
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-rate: nobody@example.com: no such user" ]
	assert_store_unchanged "$before"
	run --separate-stderr msp-rate set "$A" 01m86tg0df4jv5n35ehkbh8hw4 4
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-rate: 01m86tg0df4jv5n35ehkbh8hw4: no such video" ]
	assert_store_unchanged "$before"
	run --separate-stderr msp-rate get 01m86tg0df4jv5n35ehkbh8hw4
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-rate: 01m86tg0df4jv5n35ehkbh8hw4: no such video" ]
}

@test "rating a short video is refused and the store is unchanged" {
	s=$(short clip)
	before=$(store_sum)
	run --separate-stderr msp-rate set "$A" "$s" 4
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-rate: $s: video is short; ratings apply to long videos" ]
	assert_store_unchanged "$before"
}

@test "rating a deleted video is refused and the store is unchanged" {
	l=$(long River drama en)
	msp-catalog del "$l"
	before=$(store_sum)
	run --separate-stderr msp-rate set "$A" "$l" 4
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-rate: $l: video is deleted" ]
	assert_store_unchanged "$before"
}

@test "top ranks by Bayesian average: one 5-star vote does not top the chart" {
	one=$(long One drama en)
	many=$(long Many drama hi)
	low=$(long Low comedy en)
	long Unrated drama en >/dev/null
	msp-rate set "$A" "$one" 5 >/dev/null
	for u in "$A" "$B" "$C"; do msp-rate set "$u" "$many" 4 >/dev/null; done
	for i in $(seq 7); do
		msp-catalog user add "u$i@example.com" >/dev/null
		msp-rate set "u$i@example.com" "$many" 4 >/dev/null
	done
	msp-rate set "$A" "$low" 1 >/dev/null
	run msp-rate top
	[ "$status" -eq 0 ]
	# (5*3 + 40) / 15 = 3.67 beats (5*3 + 5) / 6 = 3.33
	[ "$(sed 's/.*"averageRating":\([0-9.]*\),"ratingCount":\([0-9]*\),"score":\([0-9.]*\),"rank":\([0-9]*\),"title":"\([^"]*\)".*/\4 \5 \1 \2 \3/' <<<"$output")" = "1 Many 4.00 10 3.67
2 One 5.00 1 3.33
3 Low 1.00 1 2.67" ]
	[ "$(msp-rate top --genre drama --language en | jq -r .title)" = One ]
	[ "$(msp-rate top --genre Drama --language English | jq -r .title)" = One ]
	[ "$(msp-rate top -g DRAMA -l english | jq -r .language)" = en ]
	[ "$(msp-rate top -g comedy | jq -r .title)" = Low ]
	[ "$(msp-rate top --limit 1 | jq -r .title)" = Many ]
	[ -z "$(msp-rate top -l fr)" ]
	run --separate-stderr msp-rate top -g noir
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-rate: genre 'noir': unknown" ]
	# the feed lists every long video in the same order, unrated at the prior
	[ "$(msp-catalog list --sort rating | jq -r .title | tr '\n' ' ')" = "Many One Unrated Low " ]
	run msp-catalog list --sort rating --limit 3
	cur=$(jq -r 'select(.type=="page").after' <<<"$output")
	msp-rate set "$B" "$one" 5 >/dev/null
	[ "$(msp-catalog list --sort rating --after "$cur" | jq -r .title)" = Low ]
	[ -z "$(msp-catalog list --sort rating --type short)" ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "purging a video removes its ratings and counters" {
	l=$(long River drama en)
	m=$(long Sea drama en)
	msp-rate set "$A" "$l" 5 >/dev/null
	msp-rate set "$A" "$m" 2 >/dev/null
	msp-catalog del --purge "$l"
	[ "$(msp-catalog export | jq -r 'select(.type=="rating").videoId')" = "$m" ]
	[ "$(msp-rate top | jq -r .title)" = Sea ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "usage errors exit 2" {
	run --separate-stderr msp-rate
	[ "$status" -eq 2 ]
	run --separate-stderr msp-rate set "$A" x
	[ "$status" -eq 2 ]
	run --separate-stderr msp-rate get
	[ "$status" -eq 2 ]
	run --separate-stderr msp-rate top extra
	[ "$status" -eq 2 ]
	run --separate-stderr msp-rate frob
	[ "$status" -eq 2 ]
	[[ $stderr == "msp-rate: unknown command 'frob'"* ]]
}

@test "stdout to /dev/full exits 3" {
	l=$(long River drama en)
	run --separate-stderr bash -c "msp-rate get $l > /dev/full"
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-rate: stdout: No space left on device" ]
}
