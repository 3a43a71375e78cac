#!/usr/bin/env bats
# The option table in each tool is the one source: every option --help
# lists must appear in the tool's man page and in both completions, and the
# man page must not document options the tool lacks.

load helper

tools() {
	local t
	for t in "$MSP_BUILD"/bin/msp-*; do basename "$t"; done
}

help_opts() { # long options from --help
	"$1" --help | sed -n 's/^  \(-., \)\{0,1\}  *--\([a-z0-9-]*\).*/\2/p; s/^  -., --\([a-z0-9-]*\).*/\1/p' | sort -u
}

@test "every tool has a man page and completions" {
	for t in $(tools); do
		[ -f "man/$t.1" ] || { echo "no man/$t.1"; return 1; }
		[ -f "completions/$t.bash" ] || { echo "no completions/$t.bash"; return 1; }
		[ -f "completions/_$t" ] || { echo "no completions/_$t"; return 1; }
	done
}

@test "--help, man page and completions list the same options" {
	for t in $(tools); do
		opts=$(help_opts "$t")
		[ -n "$opts" ] || { echo "$t: --help lists no options"; return 1; }
		man=$(mandoc -Tascii "man/$t.1" | col -b)
		for o in $opts; do
			grep -q -- "--$o\b" <<<"$man" || { echo "$t: --$o missing from man/$t.1"; return 1; }
			grep -q -- "--$o\b" "completions/$t.bash" || { echo "$t: --$o missing from completions/$t.bash"; return 1; }
			grep -q -- "--$o\b" "completions/_$t" || { echo "$t: --$o missing from completions/_$t"; return 1; }
		done
		# and the man page documents no option the tool lacks
		for o in $(grep -o -- '--[a-z][a-z0-9-]*' <<<"$man" | sed 's/^--//' | sort -u); do
			grep -qx -- "$o" <<<"$opts" || { echo "$t: man page documents --$o, which --help lacks"; return 1; }
		done
	done
}

@test "-h exits 0 with usage on stdout; unknown option exits 2 with usage on stderr" {
	for t in $(tools); do
		run "$t" -h
		[ "$status" -eq 0 ] && [[ "$output" == usage:* ]] || { echo "$t -h: $status"; return 1; }
		run --separate-stderr "$t" --no-such-option
		[ "$status" -eq 2 ] || { echo "$t: unknown option gave $status"; return 1; }
		[[ "$stderr" == *"unknown option '--no-such-option'"* ]] || { echo "$t: $stderr"; return 1; }
		[ -z "$output" ]
		run "$t" -V
		[ "$status" -eq 0 ] && [[ "$output" == "$t "* ]]
	done
}

@test "man pages are mandoc -Tlint clean" {
	run mandoc -Tlint -Wwarning man/*.[157]
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
}
