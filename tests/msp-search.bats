#!/usr/bin/env bats
# msp-search: the index follows the catalog, ranking, typos, prefixes,
# phrases, filters, facets, paging, explain, reindex, check, bad input.

load helper

setup() {
	setup_store
	A=ann@example.com
	msp-catalog user add "$A" >/dev/null
}

# vid TYPE TITLE ABOUT [catalog options]: add a ready video, print its id
vid() {
	local type=$1 title=$2 about=$3 id
	shift 3
	if [ "$type" = short ]; then
		id=$(msp-catalog add -t short --name "$title" --uploaded-by "$A" "$@" | jq -r .id)
	else
		id=$(msp-catalog add -t long --title "$title" --about "$about" --uploaded-by "$A" "$@" | jq -r .id)
	fi
	msp-catalog update "$id" --set status=ready >/dev/null
	echo "$id"
}

corpus() {
	NIGHT=$(vid long "The Night Harbour" "A fisherman's daughter searches the harbour at night for her lost brother." -g drama -g mystery --language en)
	LIGHTS=$(vid long "Harbour Lights" "A comedy about a lighthouse keeper and his cat." -g comedy --language fr --premium)
	CREME=$(vid short "Crème brûlée in thirty seconds" "")
	SPACE=$(vid long "Voyage to the Andromeda Galaxy" "Astronauts discover an ancient signal near a distant nebula." -g sci-fi --language en)
	MUSIC=$(vid long "Symphony of the Mountains" "An orchestra records Beethoven in the Swiss mountains." -g music -g documentary --language de)
	COOK=$(vid short "Quick pasta carbonara" "")
}

titles() { # the titles of the hits, one a line
	jq -r 'select(.type == "hit") | .title' <<<"$output"
}

@test "a ready video is found by a word of its title; hits are JSONL with id, score, title, snippet" {
	corpus
	run msp-search harbour
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -r .id <<<"${lines[0]}")" = "$LIGHTS" ] # its title starts with the word
	[ "$(jq -r .type <<<"${lines[1]}")" = hit ]
	[ "$(jq -r .v <<<"${lines[1]}")" = 1 ]
	[ "$(jq -r .id <<<"${lines[1]}")" = "$NIGHT" ]
	[ "$(jq -r .title <<<"${lines[1]}")" = "The Night Harbour" ]
	[ "$(jq -r .snippet <<<"${lines[1]}")" = "A fisherman's daughter searches the [harbour] at night for her lost brother." ]
	[ "$(jq -r '.score > 0' <<<"${lines[1]}")" = true ]
	[ "$(jq -r .videoType <<<"${lines[1]}")" = long ]
	[ "$(jq -c .genres <<<"${lines[1]}")" = '["drama","mystery"]' ]
}

@test "videos that are not ready, or deleted, are never returned" {
	id=$(msp-catalog add -t long --title "Hidden Harbour" --about "x" -g drama --language en --uploaded-by "$A" | jq -r .id)
	run msp-search hidden
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	msp-catalog update "$id" --set status=processing >/dev/null
	run msp-search hidden
	[ "$status" -eq 1 ]
	msp-catalog update "$id" --set status=ready >/dev/null
	run msp-search hidden
	[ "$status" -eq 0 ]
	[ "$(titles)" = "Hidden Harbour" ]
	msp-catalog del "$id" >/dev/null
	run msp-search hidden
	[ "$status" -eq 1 ]
	[ -z "$output" ]
}

@test "updates and purges follow in the same transaction" {
	corpus
	msp-catalog update "$NIGHT" --set title="The Morning Harbour" >/dev/null
	run msp-search morning
	[ "$(titles)" = "The Morning Harbour" ]
	run msp-search 'night '
	[ "$(titles)" = "The Morning Harbour" ] # still in about
	run msp-search 'the night harbour'
	[ "$(titles)" = "The Morning Harbour" ]
	msp-catalog del --purge "$LIGHTS" >/dev/null
	run msp-search lighthouse
	[ "$status" -eq 1 ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "title weighs more than about" {
	vid long "Plain title" "The lighthouse appears in the text only." -g drama --language en >/dev/null
	vid long "Lighthouse" "Something else entirely." -g drama --language en >/dev/null
	run msp-search 'lighthouse '
	[ "$(titles | head -1)" = Lighthouse ]
}

@test "case and diacritics fold" {
	corpus
	run msp-search 'CREME BRULEE'
	[ "$(titles)" = "Crème brûlée in thirty seconds" ]
	run msp-search 'crème'
	[ "$(titles)" = "Crème brûlée in thirty seconds" ]
	[ "$(jq -r .snippet <<<"$output")" = "[Crème] brûlée in thirty seconds" ]
}

@test "typos: one edit from 5 characters, two from 9" {
	corpus
	run msp-search 'harbuor '   # transposition
	[ "$(titles | tr '\n' ,)" = "Harbour Lights,The Night Harbour," ]
	run msp-search 'andromida ' # substitution
	[ "$(titles)" = "Voyage to the Andromeda Galaxy" ]
	run msp-search 'astronuts ' # deletion
	[ "$(titles)" = "Voyage to the Andromeda Galaxy" ]
	run msp-search 'astrnuats ' # two edits, 9 characters
	[ "$(titles)" = "Voyage to the Andromeda Galaxy" ]
	run msp-search 'pastta '
	[ "$(titles)" = "Quick pasta carbonara" ]
	run msp-search 'pzta '      # 4 characters: no typo allowed
	[ "$status" -eq 1 ]
	run msp-search 'galxy ' --no-typos
	[ "$status" -eq 1 ]
}

@test "the last word is a prefix (search as you type) unless a space ends it" {
	corpus
	run msp-search 'andro'
	[ "$(titles)" = "Voyage to the Andromeda Galaxy" ]
	run msp-search 'swiss mount'
	[ "$(titles)" = "Symphony of the Mountains" ]
	run msp-search 'andro '
	[ "$status" -eq 1 ]
}

@test "every word must match; quotes make a phrase" {
	corpus
	run msp-search 'harbour cat'
	[ "$(titles)" = "Harbour Lights" ]
	run msp-search '"night harbour"'
	[ "$(titles)" = "The Night Harbour" ]
	run msp-search '"harbour night"'
	[ "$status" -eq 1 ]
	run msp-search '"lost brother" fisherman'
	[ "$(titles)" = "The Night Harbour" ]
}

@test "filters: type, genre, language, premium, free" {
	corpus
	run msp-search harbour --genre comedy
	[ "$(titles)" = "Harbour Lights" ]
	run msp-search harbour --language en
	[ "$(titles)" = "The Night Harbour" ]
	run msp-search harbour --premium
	[ "$(titles)" = "Harbour Lights" ]
	run msp-search harbour --free
	[ "$(titles)" = "The Night Harbour" ]
	run msp-search carbonara -t long
	[ "$status" -eq 1 ]
	run msp-search carbonara -t short
	[ "$(titles)" = "Quick pasta carbonara" ]
	# the original client's spellings: genres in any case, languages by name
	run msp-search harbour --genre Comedy
	[ "$(titles)" = "Harbour Lights" ]
	for l in English english EN; do
		run msp-search harbour --language "$l"
		[ "$(titles)" = "The Night Harbour" ] || { echo "language $l"; return 1; }
	done
	run msp-search harbour --language French --genre COMEDY --facets
	[ "$(titles)" = "Harbour Lights" ]
	[ "$(jq -r 'select(.type == "facet" and .field == "language") | .value' <<<"$output")" = fr ]
}

@test "facets count the hits by genre and language" {
	corpus
	run msp-search the --facets
	[ "$status" -eq 0 ]
	facets=$(jq -c 'select(.type == "facet") | [.field, .value, .count]' <<<"$output" | tr -d '\n')
	[ "$facets" = '["genre","documentary",1]["genre","drama",1]["genre","music",1]["genre","mystery",1]["genre","sci-fi",1]["language","en",2]["language","de",1]' ]
}

@test "paging with --limit and --offset, a page line while more remain" {
	corpus
	run msp-search the -n 1 --no-typos
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -c . <<<"${lines[1]}")" = '{"type":"page","v":1,"offset":1}' ]
	first=$(jq -r .id <<<"${lines[0]}")
	run msp-search the -n 1 --offset 1 --no-typos
	second=$(jq -r .id <<<"${lines[0]}")
	[ "$first" != "$second" ]
	run msp-search the -n 1 --offset 2 --no-typos
	[ "${#lines[@]}" -eq 1 ] # the last page: no page line
	run msp-search the -n 1 --facets
	[ "$(jq -c 'select(.type == "page")' <<<"$output")" = '{"type":"page","v":1,"total":3,"offset":1}' ]
	run msp-search the -n 5 --offset 3 --no-typos
	[ "$status" -eq 1 ]
	[ -z "$output" ]
}

@test "--explain shows each word's term, idf and per-field scores" {
	corpus
	run msp-search 'harbor' --explain -t long --free
	[ "$(jq -r '.explain[0].word' <<<"$output")" = harbor ]
	[ "$(jq -r '.explain[0].term' <<<"$output")" = harbour ]
	[ "$(jq -r '.explain[0].edits' <<<"$output")" = 1 ]
	[ "$(jq -r '[.explain[0].fields[].field] | join(",")' <<<"$output")" = title,about ]
	[ "$(jq -r '.explain[0].fields[0].weight' <<<"$output")" = 4 ]
	sum=$(jq -r '[.explain[].fields[].score] | add' <<<"$output")
	score=$(jq -r .score <<<"$output")
	awk -v a="$sum" -v b="$score" 'BEGIN { d = a - b; exit !(d < 0.001 && d > -0.001) }'
}

@test "--explain shows the ranking signals in order: typo, exactness, proximity, edits, bm25" {
	corpus
	vid long "Storm" "Wind and rain for three days." -g drama --language en >/dev/null
	vid long "Storm After Storm" "A storm chaser drives from storm to storm." -g adventure --language en >/dev/null
	run msp-search storm --explain
	[ "$(jq -c '[.title, .rank.typo, .rank.exactness, .rank.proximity, .rank.edits]' <<<"$output" | tr -d '\n')" = '["Storm",false,"equal",0,0]["Storm After Storm",false,"start",0,0]' ]
	# bm25 is the score: the longer title scores higher, yet ranks second
	[ "$(jq -r '.rank.bm25 == .score' <<<"$output" | sort -u)" = true ]
	[ "$(jq -s '.[1].score > .[0].score' <<<"$output")" = true ]
	# typo matches: after those without, fewer edits first
	run msp-search 'storrm ' --explain
	[ "$(jq -c '[.title, .rank.typo, .rank.exactness, .rank.edits]' <<<"$output" | head -1)" = '["Storm",true,"equal",1]' ]
	# proximity: adjacent and in order 0; reversed or apart more
	run msp-search 'night harbour' --explain
	[ "$(jq -c '[.title, .rank.exactness, .rank.proximity]' <<<"$output")" = '["The Night Harbour","none",0]' ]
	run msp-search 'harbour night' --explain
	[ "$(jq -c '[.title, .rank.exactness, .rank.proximity]' <<<"$output")" = '["The Night Harbour","none",1]' ]
	run msp-search 'harbour lights' --explain
	[ "$(jq -c '[.title, .rank.exactness, .rank.proximity]' <<<"$output")" = '["Harbour Lights","equal",0]' ]
	run msp-search 'harbour li' --explain
	[ "$(jq -c '[.title, .rank.exactness, .rank.proximity]' <<<"$output")" = '["Harbour Lights","start",0]' ]
	run msp-search 'daughter brother' --explain
	[ "$(jq -c '[.title, .rank.proximity]' <<<"$output")" = '["The Night Harbour",7]' ]
}

@test "reindex rebuilds the index from the videos" {
	corpus
	run msp-search reindex
	[ "$status" -eq 0 ]
	[ "$output" = '{"type":"reindex","v":1,"videos":6}' ]
	run msp-search harbour
	[ "${#lines[@]}" -eq 2 ]
	run msp-catalog check
	[ "$status" -eq 0 ]
	run msp-search -- reindex
	[ "$status" -eq 1 ]
}

@test "export and import rebuild the index" {
	corpus
	msp-catalog export >"$BATS_TEST_TMPDIR/dump"
	export MSP_STORE="$BATS_TEST_TMPDIR/store2"
	msp-catalog import "$BATS_TEST_TMPDIR/dump"
	run msp-search 'andromeda'
	[ "$(titles)" = "Voyage to the Andromeda Galaxy" ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "relevance set: queries and their expected top hit" {
	corpus
	vid long "Harbor of Dreams" "An American spelling of a port town." -g romance --language en >/dev/null
	# the set's own videos
	jq -c --arg a "$A" 'select(.video) | .video + {type: "video", videoType: "long", uploadedBy: $a, status: "ready"}' \
	    "$BATS_TEST_DIRNAME/search-relevance.jsonl" | msp-catalog add >/dev/null
	while IFS=$'\t' read -r q want; do
		run msp-search "$q"
		got=$(titles | head -1)
		[ "$got" = "$want" ] || { echo "query '$q': got '$got', want '$want'"; return 1; }
	done < <(jq -r 'select(.query) | [.query, .top] | @tsv' "$BATS_TEST_DIRNAME/search-relevance.jsonl")
}

@test "bad input: empty query" {
	corpus
	before=$(store_sum)
	run --separate-stderr msp-search ''
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: query: empty" ]
	run --separate-stderr msp-search '   '
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: query: empty" ]
	run --separate-stderr msp-search '!?'
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: query: no words to search for" ]
	assert_store_unchanged "$before"
}

@test "bad input: a query of 10,000 characters" {
	corpus
	before=$(store_sum)
	run --separate-stderr msp-search "$(head -c 10000 /dev/zero | tr '\0' a)"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: query: 10000 characters exceeds the limit of 1000" ]
	run --separate-stderr msp-search "$(printf 'word %.0s' $(seq 40))"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: query: 40 words exceeds the limit of 32" ]
	assert_store_unchanged "$before"
}

@test "bad input: invalid UTF-8" {
	corpus
	before=$(store_sum)
	run --separate-stderr msp-search "$(printf 'harb\xffour')"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: query: invalid UTF-8" ]
	assert_store_unchanged "$before"
}

@test "bad input: control characters" {
	corpus
	before=$(store_sum)
	run --separate-stderr msp-search "$(printf 'harbour\x07')"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: query: control character U+0007 is not allowed" ]
	run --separate-stderr msp-search "$(printf 'a\tb')"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: query: control character U+0009 is not allowed" ]
	assert_store_unchanged "$before"
}

@test "bad options: usage errors exit 2, unknown filter values exit 1" {
	corpus
	before=$(store_sum)
	run --separate-stderr msp-search
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-search: expected a query"* ]]
	run --separate-stderr msp-search -n 0 harbour
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-search: --limit: expected a number from 1 to 1000, got '0'"* ]]
	run --separate-stderr msp-search -t medium harbour
	[ "$status" -eq 2 ]
	run --separate-stderr msp-search --premium --free harbour
	[ "$status" -eq 2 ]
	run --separate-stderr msp-search -g opera harbour
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: genre 'opera': unknown" ]
	run --separate-stderr msp-search --language xx harbour
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: language 'xx': unknown" ]
	assert_store_unchanged "$before"
}

@test "no store: an error, and none is created" {
	export MSP_STORE="$BATS_TEST_TMPDIR/none"
	run --separate-stderr msp-search harbour
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-search: $MSP_STORE: no store here" ]
	[ ! -e "$MSP_STORE" ]
}

@test "output errors: /dev/full exits 3, a closed pipe quietly" {
	corpus
	run bash -c 'msp-search the >/dev/full'
	[ "$status" -eq 3 ]
	run bash -c 'msp-search the | head -1'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
}
