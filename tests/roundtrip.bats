#!/usr/bin/env bats
# export | import gives a byte-identical export across every kind the tools
# make: users, credentials, videos, jobs, likes, ratings.

load helper

setup() {
	setup_store
}

@test "a store with every kind of record round-trips byte for byte" {
	msp-catalog user add ann@example.com --admin >/dev/null
	msp-catalog user add bob@example.com >/dev/null
	printf 'correct horse battery' | msp-serve --passwd ann@example.com
	make_clip clip.mp4 4 160x120
	msp-ingest -t short --name Waves --uploaded-by bob@example.com clip.mp4 > job.jsonl
	short=$(jq -r .videoId job.jsonl)
	long=$(msp-catalog add -t long --title River --language en -g drama --uploaded-by ann@example.com | jq -r .id)
	msp-catalog update "$short" --set status=ready >/dev/null
	msp-catalog update "$long" --set status=ready >/dev/null
	msp-like add ann@example.com "$short" >/dev/null
	msp-like add bob@example.com "$short" >/dev/null
	msp-rate set ann@example.com "$long" 4 >/dev/null
	msp-rate set bob@example.com "$long" 5 >/dev/null
	msp-catalog export > one.jsonl
	for k in meta user credential video job like rating; do
		jq -s -e --arg k "$k" 'map(select(.type==$k))|length>0' one.jsonl >/dev/null || { echo "no $k in export"; return 1; }
	done
	MSP_STORE=$BATS_TEST_TMPDIR/copy msp-catalog import one.jsonl
	MSP_STORE=$BATS_TEST_TMPDIR/copy msp-catalog export > two.jsonl
	cmp one.jsonl two.jsonl
	MSP_STORE=$BATS_TEST_TMPDIR/copy run msp-catalog check
	[ "$status" -eq 0 ]
	[ "$(MSP_STORE=$BATS_TEST_TMPDIR/copy msp-like count "$short" | jq -r .likes)" = 2 ]
	[ "$(MSP_STORE=$BATS_TEST_TMPDIR/copy msp-search river | jq -r .id)" = "$long" ]
}
