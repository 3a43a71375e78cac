# Common set-up for the bats suites: a fresh store per test, stdin closed.
bats_require_minimum_version 1.5.0
# Tools come from $MSP_BUILD/bin (scripts/runtests puts them on PATH).

setup_store() {
	cd "$BATS_TEST_TMPDIR" || return 1
	export MSP_STORE="$BATS_TEST_TMPDIR/store"
	unset MSP_STORE_MAPSIZE
}

# Run a command with stdin from a string: feed 'LINES' cmd args...
feed() {
	local input=$1
	shift
	run bash -c '"$@" <<<"$0"' "$input" "$@"
}

# A checksum of every record in the store (for "store unchanged" checks).
store_sum() {
	if [ -d "$MSP_STORE" ]; then
		msp-catalog export 2>/dev/null | sha256sum | cut -d' ' -f1
	else
		echo none
	fi
}

# assert_store_unchanged BEFORE: compare with store_sum taken earlier
assert_store_unchanged() {
	local now
	now=$(store_sum)
	[ "$now" = "$1" ] || { echo "store changed: $1 -> $now" >&2; return 1; }
}

# media for tests, generated with ffmpeg lavfi sources (small and short)
# make_clip OUT SECONDS WxH [extra ffmpeg args]
make_clip() {
	local out=$1 secs=$2 size=$3
	shift 3
	ffmpeg -hide_banner -loglevel error -y \
	    -f lavfi -i "testsrc2=size=$size:rate=25:duration=$secs" \
	    -f lavfi -i "sine=frequency=440:duration=$secs" \
	    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest \
	    "$@" "$out"
}
