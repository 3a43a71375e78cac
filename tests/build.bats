#!/usr/bin/env bats
# The build set-up: configure, scripts/deps, make install and uninstall.

load helper

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	FAKE=$BATS_TEST_TMPDIR/fakebin
	mkdir -p "$FAKE"
}

@test "configure names the Debian package and the apt-get line of a missing library" {
	real=$(command -v pkg-config)
	cat > "$FAKE/pkg-config" <<-EOF
	#!/bin/sh
	for a in "\$@"; do [ "\$a" = libmicrohttpd ] && exit 1; done
	exec $real "\$@"
	EOF
	chmod +x "$FAKE/pkg-config"
	cp -r "$TOP/configure" "$BATS_TEST_TMPDIR/"
	cd "$BATS_TEST_TMPDIR"
	PATH="$FAKE:$PATH" run --separate-stderr ./configure
	[ "$status" -eq 1 ]
	[[ "$output" == *"checking for libmicrohttpd... no"* ]]
	[ "$stderr" = "configure: missing libraries; install the Debian packages:
  apt-get install libmicrohttpd-dev" ]
	[ ! -e config.mk ]
}

@test "configure takes --prefix, --enable-debug and --enable-sanitize; refuses unknown options" {
	cp "$TOP/configure" "$BATS_TEST_TMPDIR/"
	cd "$BATS_TEST_TMPDIR"
	run ./configure --prefix=/opt/msp --enable-debug --enable-sanitize
	[ "$status" -eq 0 ]
	grep -q '^PREFIX = /opt/msp$' config.mk
	grep -q -- '-O0 -g3' config.mk
	grep -q -- '-fsanitize=address,undefined' config.mk
	run --separate-stderr ./configure --with-magic
	[ "$status" -eq 2 ]
	[[ "$stderr" == "configure: unknown option '--with-magic'"* ]]
}

@test "scripts/deps lists what is missing and the apt-get line" {
	cat > "$FAKE/dpkg-query" <<-'EOF'
	#!/bin/sh
	case "$*" in *liblmdb-dev*|*libsodium-dev*) exit 1 ;; esac
	printf 'install ok installed'
	EOF
	chmod +x "$FAKE/dpkg-query"
	PATH="$FAKE:$PATH" run --separate-stderr "$TOP/scripts/deps" --check build
	[ "$status" -eq 1 ]
	[ "$stderr" = "deps: missing Debian packages: liblmdb-dev libsodium-dev
deps: install them with: sudo apt-get install liblmdb-dev libsodium-dev" ]
	run --separate-stderr "$TOP/scripts/deps" nonsense
	[ "$status" -eq 2 ]
	[ "$stderr" = "deps: unknown group 'nonsense'" ]
}

@test "make install and uninstall honour DESTDIR and PREFIX" {
	cd "$TOP"
	d=$BATS_TEST_TMPDIR/root
	run make -s B="$MSP_BUILD" install DESTDIR="$d" PREFIX=/usr
	[ "$status" -eq 0 ]
	[ -x "$d/usr/bin/msp-catalog" ]
	[ -f "$d/usr/lib/libmsp.a" ]
	[ -f "$d/usr/include/msp/store.h" ]
	[ -f "$d/usr/share/man/man1/msp-catalog.1" ]
	[ -f "$d/usr/share/man/man5/msp-store.5" ]
	[ -f "$d/usr/share/man/man7/msp.7" ]
	[ -f "$d/usr/share/bash-completion/completions/msp-catalog" ]
	[ -f "$d/usr/share/zsh/site-functions/_msp-catalog" ]
	[ -f "$d/usr/share/msp/web/index.html" ]
	[ -f "$d/usr/share/msp/web/node_modules/hls.js/dist/hls.min.js" ]
	[ -f "$d/usr/share/msp/web/node_modules/dashjs/dist/modern/umd/dash.mediaplayer.min.js" ]
	[ -f "$d/usr/share/msp/web/node_modules/tus-js-client/dist/tus.min.js" ]
	run make -s B="$MSP_BUILD" uninstall DESTDIR="$d" PREFIX=/usr
	[ "$status" -eq 0 ]
	[ -z "$(find "$d" -type f)" ]
}
