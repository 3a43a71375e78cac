#!/usr/bin/env bats
# msp-catalog: users, videos, listing, export/import, check, bad input.

load helper

setup() {
	setup_store
	A=ann@example.com
	B=bob@example.com
}

add_users() {
	msp-catalog user add "$A" --admin >/dev/null
	msp-catalog user add "$B" >/dev/null
}

long() { # long TITLE GENRE LANG [extra args]
	local t=$1 g=$2 l=$3
	shift 3
	msp-catalog add -t long --title "$t" -g "$g" --language "$l" --uploaded-by "$A" "$@" | jq -r .id
}

@test "user add normalises the email and records id, role and time" {
	run msp-catalog user add Ann@Example.COM --admin
	[ "$status" -eq 0 ]
	[ "$(jq -r .email <<<"$output")" = ann@example.com ]
	[ "$(jq -r .role <<<"$output")" = admin ]
	[ "$(jq -r .type <<<"$output")" = user ]
	[[ $(jq -r .id <<<"$output") =~ ^[0-9a-z]{26}$ ]]
	[[ $(jq -r .createdAt <<<"$output") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$ ]]
	run msp-catalog user get ann@EXAMPLE.com
	[ "$status" -eq 0 ]
	[ "$(jq -r .role <<<"$output")" = admin ]
}

@test "duplicate email is refused and the store is unchanged" {
	add_users
	before=$(store_sum)
	run --separate-stderr msp-catalog user add ANN@example.com
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: ann@example.com: user already exists" ]
	assert_store_unchanged "$before"
}

@test "invalid emails are refused" {
	run --separate-stderr msp-catalog user add not-an-email
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: 'not-an-email' is not an email address" ]
	run --separate-stderr msp-catalog user add 'a b@example.com'
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: email address has an invalid character" ]
}

@test "user list and del; a user with videos cannot be deleted" {
	add_users
	long River drama en >/dev/null
	run msp-catalog user list
	[ "${#lines[@]}" -eq 2 ]
	run --separate-stderr msp-catalog user del "$A"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: ann@example.com: user has 1 video; purge them first" ]
	run msp-catalog user del "$B"
	[ "$status" -eq 0 ]
	run --separate-stderr msp-catalog user get "$B"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: bob@example.com: no such user" ]
}

@test "add from flags and get" {
	add_users
	id=$(long River drama en --about 'A long river.' --premium)
	run msp-catalog get "$id"
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.videoType,.title,.language,.genres[0],.isPremium,.status,.uploadedBy,.isDeleted]|join(" ")' <<<"$output")" = "long River en drama true uploaded ann@example.com false" ]
	run bash -c "echo $id | msp-catalog get"
	[ "$(jq -r .id <<<"$output")" = "$id" ]
}

@test "add JSONL passes unknown fields through and reports bad lines by file:line" {
	add_users
	cat > in.jsonl <<-'EOF'
	{"videoType":"short","name":"one","uploadedBy":"bob@example.com","trace":"x1"}
	{"videoType":"medium","name":"two","uploadedBy":"bob@example.com"}
	{not json
	{"videoType":"short","uploadedBy":"bob@example.com"}
	{"videoType":"short","name":"three","uploadedBy":"nobody@example.com"}
	{"videoType":"long","title":"T","language":"xx","uploadedBy":"bob@example.com"}
	{"videoType":"long","title":"T","language":"en","genres":["drama","opera"],"uploadedBy":"bob@example.com"}
	{"videoType":"long","title":7,"language":"en","uploadedBy":"bob@example.com"}
	{"videoType":"long","title":"T","language":"en","isPremium":"yes","uploadedBy":"bob@example.com"}
	[1,2]
	{"videoType":"short","name":"four","uploadedBy":"bob@example.com"}
	EOF
	run --separate-stderr msp-catalog add in.jsonl
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -r .trace <<<"${lines[0]}")" = x1 ]
	expected="msp-catalog: in.jsonl:2: field 'videoType': expected \"short\" or \"long\", got \"medium\"
msp-catalog: in.jsonl:3: column 2: quoted object property name expected
msp-catalog: in.jsonl:4: field 'name': required
msp-catalog: in.jsonl:5: field 'uploadedBy': nobody@example.com: no such user
msp-catalog: in.jsonl:6: field 'language': unknown language \"xx\" (an ISO 639-1 code or English name from msp-catalog(1))
msp-catalog: in.jsonl:7: field 'genres': unknown genre \"opera\" (see msp-catalog(1))
msp-catalog: in.jsonl:8: field 'title': expected a string, got number
msp-catalog: in.jsonl:9: field 'isPremium': expected true or false, got string
msp-catalog: in.jsonl:10: not a JSON object"
	[ "$stderr" = "$expected" ]
	run msp-catalog list
	[ "${#lines[@]}" -eq 2 ]
}

@test "over-long fields, too many genres, invalid UTF-8 and control characters are refused" {
	add_users
	before=$(store_sum)
	t201=$(printf 'é%.0s' $(seq 201))
	run --separate-stderr msp-catalog add -t long --title "$t201" --language en --uploaded-by "$A"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: field 'title': longer than 200 characters" ]
	a5001=$(head -c 5001 /dev/zero | tr '\0' a)
	run --separate-stderr msp-catalog add -t long --title T --about "$a5001" --language en --uploaded-by "$A"
	[ "$stderr" = "msp-catalog: field 'about': longer than 5000 characters" ]
	run --separate-stderr msp-catalog add -t long --title T --language en --uploaded-by "$A" \
	    -g action -g adventure -g animation -g biography -g comedy -g crime -g documentary -g drama -g family -g fantasy -g history
	[ "$stderr" = "msp-catalog: field 'genres': at most 10 genres" ]
	run --separate-stderr msp-catalog add -t long --title $'bad\xff' --language en --uploaded-by "$A"
	[ "$stderr" = "msp-catalog: field 'title': invalid UTF-8" ]
	run --separate-stderr msp-catalog add -t long --title $'bell\a' --language en --uploaded-by "$A"
	[ "$stderr" = "msp-catalog: field 'title': control characters are not allowed" ]
	printf '{"videoType":"short","name":"\xc3\x28","uploadedBy":"bob@example.com"}\n' > bad.jsonl
	run --separate-stderr msp-catalog add bad.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: bad.jsonl:1: invalid UTF-8" ]
	assert_store_unchanged "$before"
}

@test "unknown video type and missing required fields from flags" {
	add_users
	before=$(store_sum)
	run --separate-stderr msp-catalog add -t medium --name x --uploaded-by "$A"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: field 'videoType': expected \"short\" or \"long\", got \"medium\"" ]
	run --separate-stderr msp-catalog add -t long --language en --uploaded-by "$A"
	[ "$stderr" = "msp-catalog: field 'title': required" ]
	run --separate-stderr msp-catalog add -t short --name x
	[ "$stderr" = "msp-catalog: field 'uploadedBy': required" ]
	assert_store_unchanged "$before"
}

@test "update validates the whole record; unknown video id" {
	add_users
	id=$(long River drama en)
	run msp-catalog update "$id" --set title=Ocean --set genres=comedy,drama --set status=ready --set progress=100
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.title,.genres,.status,.progress]' <<<"$output")" = '["Ocean",["comedy","drama"],"ready",100]' ]
	before=$(store_sum)
	run --separate-stderr msp-catalog update "$id" --set progress=101
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: $id: field 'progress': 101 is out of range 0 to 100" ]
	run --separate-stderr msp-catalog update "$id" --set videoType=short
	[ "$status" -eq 2 ]
	run --separate-stderr msp-catalog update 01m86t8wt3s7rtf06k2f0zx6q2 --set title=x
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: 01m86t8wt3s7rtf06k2f0zx6q2: 01m86t8wt3s7rtf06k2f0zx6q2: no such video" ]
	run --separate-stderr msp-catalog get nonsense
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: nonsense: no such video" ]
	assert_store_unchanged "$before"
}

@test "list filters and sorts; genre and language indexes follow updates" {
	add_users
	a=$(long Alpha drama en)
	b=$(long Beta comedy hi)
	c=$(long Gamma drama hi --premium)
	msp-catalog add -t short --name clip --uploaded-by "$B" >/dev/null
	[ "$(msp-catalog list --genre drama | jq -r .title | tr '\n' ' ')" = "Gamma Alpha " ]
	[ "$(msp-catalog list --genre drama --sort oldest | jq -r .title | tr '\n' ' ')" = "Alpha Gamma " ]
	[ "$(msp-catalog list --language hi | jq -r .title | tr '\n' ' ')" = "Gamma Beta " ]
	[ "$(msp-catalog list --type short | jq -r .name)" = clip ]
	[ "$(msp-catalog list --premium | jq -r .title)" = Gamma ]
	[ "$(msp-catalog list --free --type long | jq -r .title | tr '\n' ' ')" = "Beta Alpha " ]
	[ "$(msp-catalog list --uploaded-by BOB@example.com | jq -r .name)" = clip ]
	msp-catalog update "$a" --set genres=comedy --set language=hi >/dev/null
	[ "$(msp-catalog list --genre drama | jq -r .title)" = Gamma ]
	[ "$(msp-catalog list --genre comedy --language hi | jq -r .title | tr "\n" " ")" = "Beta Alpha " ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "genres in any case and languages by name or code, as the original client sent them: stored canonical everywhere" {
	add_users
	a=$(long Alpha Drama English)
	[ "$(msp-catalog get "$a" | jq -c '[.language, .genres]')" = '["en",["drama"]]' ]
	b=$(msp-catalog add -t long --title Beta -g SCI-FI -g sci-fi -g Comedy --language HINDI --uploaded-by "$A" | jq -r .id)
	[ "$(msp-catalog get "$b" | jq -c '[.language, .genres]')" = '["hi",["sci-fi","comedy"]]' ]
	printf '%s\n' '{"type":"video","videoType":"long","title":"Gamma","language":"french","genres":["Thriller","Sci-Fi"],"uploadedBy":"ann@example.com"}' |
	    msp-catalog add >/dev/null
	for l in English english ENGLISH en EN; do
		[ "$(msp-catalog list --language "$l" | jq -r .title)" = Alpha ] || { echo "language $l"; return 1; }
	done
	for g in Sci-Fi sci-fi SCI-FI; do
		[ "$(msp-catalog list --genre "$g" | jq -r .title | tr '\n' ' ')" = "Gamma Beta " ] || { echo "genre $g"; return 1; }
	done
	[ "$(msp-catalog list --genre Drama --language English | jq -r .title)" = Alpha ]
	[ "$(msp-catalog list --language French | jq -r .language)" = fr ]
	msp-catalog update "$a" --set language=Japanese --set genres=Fantasy,Horror >/dev/null
	[ "$(msp-catalog get "$a" | jq -c '[.language, .genres]')" = '["ja",["fantasy","horror"]]' ]
	[ "$(msp-catalog list --genre horror | jq -r .title)" = Alpha ]
	run msp-catalog check
	[ "$status" -eq 0 ]
	before=$(store_sum)
	run --separate-stderr msp-catalog list --genre Noir
	[ "$status" -eq 1 ] && [ "$stderr" = "msp-catalog: genre 'Noir': unknown" ]
	run --separate-stderr msp-catalog list --language Klingon
	[ "$status" -eq 1 ] && [ "$stderr" = "msp-catalog: language 'Klingon': unknown" ]
	run --separate-stderr msp-catalog add -t long --title X -g Drama --language Elvish --uploaded-by "$A"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: field 'language': unknown language \"Elvish\" (an ISO 639-1 code or English name from msp-catalog(1))" ]
	assert_store_unchanged "$before"
}

@test "import takes names and any case and stores the canonical form; its export imports byte for byte" {
	add_users
	cat >in.jsonl <<-'EOF'
	{"type":"user","v":1,"id":"01hs0000000000000000000000","email":"carl@example.com","role":"user","createdAt":"2024-01-01T00:00:00.000Z"}
	{"type":"video","v":1,"id":"01hs0000000000000000000001","videoType":"long","title":"Old","about":"","language":"English","genres":["Drama","Sci-Fi"],"isPremium":false,"uploadedBy":"carl@example.com","status":"ready","createdAt":"2024-01-01T00:00:00.000Z","updatedAt":"2024-01-01T00:00:00.000Z"}
	EOF
	msp-catalog import in.jsonl
	[ "$(msp-catalog get 01hs0000000000000000000001 | jq -c '[.language, .genres]')" = '["en",["drama","sci-fi"]]' ]
	msp-catalog export > one.jsonl
	MSP_STORE=$BATS_TEST_TMPDIR/copy msp-catalog import one.jsonl
	MSP_STORE=$BATS_TEST_TMPDIR/copy msp-catalog export > two.jsonl
	cmp one.jsonl two.jsonl
	[ "$(msp-catalog list --genre DRAMA --language english | jq -r .title)" = Old ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "cursor pages stay stable while others add and delete" {
	add_users
	for i in 1 2 3 4 5; do long "T$i" drama en >/dev/null; done
	run msp-catalog list --genre drama --limit 2
	[ "$(jq -r 'select(.type=="video").title' <<<"$output" | tr '\n' ' ')" = "T5 T4 " ]
	cur=$(jq -r 'select(.type=="page").after' <<<"$output")
	long T6 drama en >/dev/null
	t3=$(msp-catalog list | jq -r 'select(.title=="T3").id')
	msp-catalog del "$t3"
	run msp-catalog list --genre drama --limit 2 --after "$cur"
	[ "$(jq -r 'select(.type=="video").title' <<<"$output" | tr '\n' ' ')" = "T2 T1 " ]
	[ -z "$(jq -r 'select(.type=="page")' <<<"$output")" ]
	run --separate-stderr msp-catalog list --after garbage
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: 'garbage': not a cursor of this listing" ]
	run --separate-stderr msp-catalog list --sort oldest --after "$cur"
	[ "$status" -eq 1 ]
}

@test "soft delete hides a video; purge removes record, indexes and files" {
	add_users
	id=$(long River drama en)
	mkdir -p "$MSP_STORE/media/hls/$id" "$MSP_STORE/media/originals"
	echo x > "$MSP_STORE/media/hls/$id/master.m3u8"
	echo y > "$MSP_STORE/media/originals/o.mp4"
	msp-catalog update "$id" --set sourceBucketFilePath=media/originals/o.mp4 \
	    --set "destinationBucketFilePath=[\"media/hls/$id/master.m3u8\"]" >/dev/null
	msp-catalog del "$id"
	[ -z "$(msp-catalog list)" ]
	[ "$(msp-catalog list --deleted | jq -r .isDeleted)" = true ]
	msp-catalog del --purge "$id"
	[ -z "$(msp-catalog list --deleted)" ]
	[ ! -e "$MSP_STORE/media/hls/$id" ]
	[ ! -e "$MSP_STORE/media/originals/o.mp4" ]
	run msp-catalog check
	[ "$status" -eq 0 ]
	run --separate-stderr msp-catalog del "$id"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: $id: no such video" ]
}

@test "purge keeps an original that another video still uses" {
	add_users
	a=$(long A drama en)
	b=$(long B drama en)
	mkdir -p "$MSP_STORE/media/originals"
	echo y > "$MSP_STORE/media/originals/same.mp4"
	for id in $a $b; do
		msp-catalog update "$id" --set sourceBucketFilePath=media/originals/same.mp4 >/dev/null
	done
	msp-catalog del --purge "$a"
	[ -e "$MSP_STORE/media/originals/same.mp4" ]
	msp-catalog del --purge "$b"
	[ ! -e "$MSP_STORE/media/originals/same.mp4" ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "export and import round-trip byte for byte" {
	add_users
	long River drama en >/dev/null
	long Sea comedy hi --premium >/dev/null
	msp-catalog add -t short --name clip --uploaded-by "$B" >/dev/null
	msp-catalog export > one.jsonl
	MSP_STORE=$BATS_TEST_TMPDIR/copy msp-catalog import one.jsonl
	MSP_STORE=$BATS_TEST_TMPDIR/copy msp-catalog export > two.jsonl
	cmp one.jsonl two.jsonl
	MSP_STORE=$BATS_TEST_TMPDIR/copy run msp-catalog check
	[ "$status" -eq 0 ]
	[ "$(MSP_STORE=$BATS_TEST_TMPDIR/copy msp-catalog list --genre comedy | jq -r .title)" = Sea ]
}

@test "import in any order, into a store with videos, twice over: records, indexes and search agree" {
	add_users
	for t in River Sea Harbor Night Storm; do
		msp-catalog update "$(long "$t" drama en)" --set status=ready >/dev/null
	done
	msp-catalog update "$(long Lantern comedy hi --premium)" --set status=ready >/dev/null
	msp-catalog export > one.jsonl
	grep -v '"type":"video"' one.jsonl > head.jsonl
	grep '"type":"video"' one.jsonl > videos.jsonl
	# out of id order, into an empty store: the index is written at the end
	export MSP_STORE=$BATS_TEST_TMPDIR/c1
	{ cat head.jsonl; tac videos.jsonl; } | msp-catalog import
	msp-catalog export > two.jsonl
	cmp one.jsonl two.jsonl
	run msp-catalog check
	[ "$status" -eq 0 ]
	[ "$(msp-search harbor | jq -r .title)" = Harbor ]
	[ "$(msp-catalog list --genre comedy | jq -r .title)" = Lantern ]
	# into a store that has videos: the index is rebuilt from the store
	export MSP_STORE=$BATS_TEST_TMPDIR/c2
	{ cat head.jsonl; head -3 videos.jsonl; } | msp-catalog import
	tail -n +4 videos.jsonl | msp-catalog import
	run msp-catalog check
	[ "$status" -eq 0 ]
	[ "$(msp-search lantern | jq -r .title)" = Lantern ]
	[ "$(msp-search river | jq -r .title)" = River ]
	# a video twice in one stream (the second wins), a bad line between
	export MSP_STORE=$BATS_TEST_TMPDIR/c3
	sed -n 2p videos.jsonl | sed 's/"status":"ready"/"status":"failed"/' > again.jsonl
	sed -n 3p videos.jsonl | sed 's/"uploadedBy":"[^"]*"/"uploadedBy":"nobody@example.com"/' > bad.jsonl
	cat head.jsonl videos.jsonl again.jsonl bad.jsonl > mixed.jsonl
	run --separate-stderr msp-catalog import mixed.jsonl
	[ "$status" -eq 1 ]
	n=$(wc -l < mixed.jsonl)
	[ "$stderr" = "msp-catalog: mixed.jsonl:$n: field 'uploadedBy': nobody@example.com: no such user" ]
	run msp-catalog check
	[ "$status" -eq 0 ]
	gone=$(jq -r .title again.jsonl)
	[ "$(msp-catalog list --status failed | jq -r .title)" = "$gone" ]
	[ "$(msp-search "$gone" | wc -l)" -eq 0 ]
	[ "$(msp-catalog list --status ready | jq -s length)" -eq 5 ]
}

# an export of n ready videos, titled "Title I WORD", in big.jsonl
big_export() {
	local words=(river ocean night city storm light shadow dream)
	add_users
	for i in $(seq "$1"); do
		printf '{"videoType":"long","title":"Title %d %s","about":"about %d","language":"en","genres":["drama"],"uploadedBy":"%s"}\n' \
		    "$i" "${words[i % 8]}" "$i" "$A"
	done | msp-catalog add >/dev/null
	msp-catalog export | sed 's/"status":"uploaded"/"status":"ready"/' > big.jsonl
	jq -r 'select(.type == "video") | .id' big.jsonl > ids
}

# after a kill: the store checks whole, its videos are the first ones of
# big.jsonl, and the last of them is found by search
whole_prefix() {
	run msp-catalog check
	[ "$status" -eq 0 ]
	msp-catalog export | jq -r 'select(.type == "video") | .id' > got
	k=$(wc -l < got)
	head -n "$k" ids | cmp - got
	[ "$k" -eq 0 ] || [ "$(msp-search "$(jq -r "select(.id == \"$(tail -1 got)\") | .title" big.jsonl)" | jq -r .id | head -1)" = "$(tail -1 got)" ]
}

@test "import killed at any moment: the store checks whole, no committed batch lost, a re-run completes it" {
	big_export 1500
	src=$MSP_STORE
	# killed after two batches, waiting for the third's lines: exactly
	# those two landed
	export MSP_STORE=$BATS_TEST_TMPDIR/k0
	mkfifo in.fifo
	msp-catalog import --batch 100 in.fifo &
	pid=$!
	exec 5>in.fifo
	head -n 350 big.jsonl >&5
	want=$(head -n 200 big.jsonl | grep -c '"type":"video"')
	for i in $(seq 600); do
		[ "$(msp-catalog export | grep -c '"type":"video"')" -ge "$want" ] && break
		sleep 0.05
	done
	kill -KILL $pid
	wait $pid || true
	exec 5>&-
	whole_prefix
	[ "$k" -eq "$want" ]
	# killed while it runs, after more and more has landed
	for n in 0 400 1100; do
		export MSP_STORE=$BATS_TEST_TMPDIR/k$n
		msp-catalog import --batch 100 big.jsonl &
		pid=$!
		for i in $(seq 600); do
			[ "$(msp-catalog export 2>/dev/null | grep -c '"type":"video"')" -ge "$n" ] && break
			kill -0 $pid 2>/dev/null || break
			sleep 0.02
		done
		kill -KILL $pid 2>/dev/null || true
		wait $pid || true
		whole_prefix
	done
	# the same file again completes a store left by a kill
	msp-catalog import --batch 100 big.jsonl
	msp-catalog export > done.jsonl
	MSP_STORE=$src msp-catalog export | sed 's/"status":"uploaded"/"status":"ready"/' | cmp - done.jsonl
	whole_prefix
	[ "$k" -eq 1500 ]
	[ "$(msp-search storm | jq -s length)" -gt 0 ]
}

@test "import reports bad lines; --strict stops at the first" {
	add_users
	msp-catalog export > good.jsonl
	printf '%s\n' '{"type":"user","v":1,"id":"01m86t8hyxd1yq7dnw1feare5a","email":"c@example.com","role":"root","createdAt":"2026-11-24T12:59:59.837Z"}' \
	    '{"type":"gizmo"}' > bad.jsonl
	MSP_STORE=$BATS_TEST_TMPDIR/c2 run --separate-stderr msp-catalog import bad.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-catalog: bad.jsonl:1: field 'role': expected \"user\" or \"admin\", got \"root\"
msp-catalog: bad.jsonl:2: field 'type': unknown record kind \"gizmo\"" ]
	cat bad.jsonl good.jsonl > mixed.jsonl
	MSP_STORE=$BATS_TEST_TMPDIR/c3 run --separate-stderr msp-catalog import --strict mixed.jsonl
	[ "$status" -eq 1 ]
	[ "$(MSP_STORE=$BATS_TEST_TMPDIR/c3 msp-catalog user list)" = "" ]
}

@test "check finds an index that disagrees with the records" {
	add_users
	id=$(long River drama en)
	command -v mdb_dump >/dev/null || skip "lmdb-utils missing"
	# plant a stray index entry with LMDB's own tools
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n g\\00western\\00%s\n \nDATA=END\n' "$id" |
	    mdb_load -T -n -s video_index "$MSP_STORE" 2>/dev/null ||
	    printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n g\\00western\\00%s\n \nDATA=END\n' "$id" | mdb_load -s video_index "$MSP_STORE"
	run --separate-stderr msp-catalog check
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"index entry g/western/$id: does not match the video"* ]]
	[[ "$stderr" == *"1 disagreement between records and indexes"* ]]
}

@test "check reports a video record that lacks a field, and does not crash" {
	add_users
	id=$(long River drama en)
	command -v mdb_dump >/dev/null || skip "lmdb-utils missing"
	# the same record without its uploader, put with LMDB's own tools
	rec=$(msp-catalog get "$id" | jq -c 'del(.uploadedBy)')
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n' "$id" "$rec" |
	    mdb_load -T -n -s videos "$MSP_STORE" 2>/dev/null ||
	    printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n' "$id" "$rec" | mdb_load -s videos "$MSP_STORE"
	run --separate-stderr msp-catalog check
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"$id"* ]]
}

@test "a store of a newer schema is refused" {
	add_users
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n schema\n {"type":"meta","v":1,"key":"schema","value":"99"}\nDATA=END\n' |
	    mdb_load -s meta "$MSP_STORE"
	run --separate-stderr msp-catalog user list
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-catalog: $MSP_STORE: store schema 99 is newer than this msp supports (1); upgrade msp" ]
}

@test "an unwritable store directory gives a clear error" {
	# root ignores permissions: run the tool as nobody where we are root
	as=()
	if [ "$(id -u)" -eq 0 ]; then
		command -v runuser >/dev/null || skip "runuser missing"
		as=(runuser -u nobody --)
		"${as[@]}" test -x "$(command -v msp-catalog)" ||
			skip "nobody cannot run the build"
	fi
	d=$(mktemp -d /tmp/msp-ro.XXXXXX)
	chmod 755 "$d"
	mkdir "$d/ro" && chmod 555 "$d/ro"
	run --separate-stderr "${as[@]}" "$(command -v msp-catalog)" -s "$d/ro/store" user add x@example.com
	rm -rf "$d"
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-catalog: $d/ro/store: Permission denied" ]
}

@test "a store path that is a file gives a clear error" {
	echo x > afile
	run --separate-stderr msp-catalog -s afile user list
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-catalog: afile: not a directory" ]
}

@test "the map grows by itself when full" {
	add_users
	export MSP_STORE_MAPSIZE=131072
	for i in $(seq 400); do
		printf '{"videoType":"long","title":"Title %d with some words","about":"%s","language":"en","genres":["drama"],"uploadedBy":"ann@example.com"}\n' "$i" "$(head -c 300 /dev/zero | tr '\0' x)"
	done > many.jsonl
	run msp-catalog add many.jsonl
	[ "$status" -eq 0 ]
	[ "$(msp-catalog list | wc -l)" -eq 400 ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "an import that outgrows the map grows it, whatever it was writing" {
	add_users
	for i in $(seq 3000); do
		printf '{"videoType":"long","title":"Title %d with some words","about":"%s","language":"en","genres":["drama"],"uploadedBy":"ann@example.com"}\n' "$i" "$(head -c 300 /dev/zero | tr '\0' x)"
	done > many.jsonl
	msp-catalog add many.jsonl > /dev/null
	# ready: in the search index too
	msp-catalog export | jq -c 'if .type == "video" then .status = "ready" else . end' > dump.jsonl
	# the map starts small and is full in each part of a batch in turn
	for size in 65536 200000 1000000; do
		rm -rf "fresh$size"
		MSP_STORE_MAPSIZE=$size run --separate-stderr msp-catalog -s "fresh$size" import dump.jsonl
		[ "$status" -eq 0 ] || { echo "$size: $stderr"; false; }
		[ "$(msp-catalog -s "fresh$size" list | wc -l)" -eq 3000 ]
		msp-catalog -s "fresh$size" check
		[ "$(msp-search -s "fresh$size" -n 1 'title 2999' | jq -r .title)" = "Title 2999 with some words" ]
	done
}

@test "two writers at once: no corruption, no lost write" {
	add_users
	for w in 1 2; do
		for i in $(seq 150); do
			printf '{"videoType":"short","name":"w%d-%d","uploadedBy":"bob@example.com"}\n' "$w" "$i"
		done > w$w.jsonl
	done
	msp-catalog add w1.jsonl > o1 &
	msp-catalog add w2.jsonl > o2 &
	wait
	[ "$(msp-catalog list --type short | wc -l)" -eq 300 ]
	[ "$(cat o1 o2 | jq -r .id | sort -u | wc -l)" -eq 300 ]
	run msp-catalog check
	[ "$status" -eq 0 ]
}

@test "stdout errors: /dev/full exits 3, a closed pipe exits quietly" {
	add_users
	for i in $(seq 50); do long "T$i" drama en >/dev/null; done
	run --separate-stderr bash -c 'msp-catalog list > /dev/full'
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-catalog: stdout: No space left on device" ]
	run --separate-stderr bash -c 'msp-catalog list | head -1'
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "usage errors exit 2" {
	run --separate-stderr msp-catalog
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-catalog: expected a command"* ]]
	run --separate-stderr msp-catalog frobnicate
	[ "$status" -eq 2 ]
	run --separate-stderr msp-catalog list --limit 0
	[ "$status" -eq 2 ]
	[[ "$stderr" == "msp-catalog: --limit: expected a number from 1 to 1000000, got '0'"* ]]
	run --separate-stderr msp-catalog list --sort random
	[ "$status" -eq 2 ]
}
