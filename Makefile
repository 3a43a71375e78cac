# msp Makefile. ./configure writes config.mk; `make` runs it when missing.
# B is the build directory (default build/); everything built goes there.
B ?= build
DESTDIR ?=
CFLAGS ?=
LDFLAGS ?=

-include config.mk
PREFIX ?= /usr/local

LIB_SRC := $(sort $(wildcard lib/*.c lib/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
TOOL_SRC := $(sort $(wildcard tools/msp-*.c))
TOOLS := $(TOOL_SRC:tools/%.c=$(B)/bin/%)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNITS := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# programs the bats suites drive, built with the tests, never installed
HELPERS := $(B)/tests/s3cli
MAN1 := $(sort $(wildcard man/*.1))
MAN5 := $(sort $(wildcard man/*.5))
MAN7 := $(sort $(wildcard man/*.7))

ALL_CFLAGS = $(MSP_CFLAGS) -Ilib $(CFLAGS) $(USER_CFLAGS)
ALL_LDFLAGS = $(MSP_LDFLAGS) $(LDFLAGS) $(USER_LDFLAGS)

.PHONY: all deps check unit demo install uninstall clean distclean lint bench
all: $(TOOLS) $(UNITS) $(HELPERS)

config.mk: configure
	scripts/deps build
	./configure

$(B)/%.o: %.c config.mk $(wildcard lib/*.h lib/*/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libmsp.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(B)/bin/%: $(B)/tools/%.o $(B)/libmsp.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libmsp.a $(MSP_LIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libmsp.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libmsp.a $(MSP_LIBS)

deps:
	scripts/deps build test

# the web front's npm packages: hls.js, dash.js, tus-js-client, and
# playwright-core and mpd-parser for the tests (installed when
# web/node_modules is missing or older than the lock)
web/node_modules: web/package.json web/package-lock.json
	cd web && { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; }
	touch $@

# the S3 server the bucket tests run on loopback (s3rver, pinned)
tests/s3/node_modules: tests/s3/package.json tests/s3/package-lock.json
	cd tests/s3 && { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; }
	touch $@

# every test: C unit tests (TAP) and the bats suites, one summary line
check: deps all web/node_modules tests/s3/node_modules
	B=$(B) scripts/runtests

lint:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7)

demo: all web/node_modules
	scripts/deps demo
	B=$(B) scripts/demo

bench: all
	scripts/deps bench
	@echo "run a benchmark: bench/<name>/run (each is described in README.md)"

install: all web/node_modules
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
	    $(DESTDIR)$(PREFIX)/include/msp \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/man/man7 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	    $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	cp $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	cp $(B)/libmsp.a $(DESTDIR)$(PREFIX)/lib/
	cp lib/*.h $(DESTDIR)$(PREFIX)/include/msp/
	cp $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/
	cp $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5/
	cp $(MAN7) $(DESTDIR)$(PREFIX)/share/man/man7/
	for t in $(TOOL_SRC:tools/%.c=%); do \
	    cp completions/$$t.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
	    cp completions/_$$t $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t; done
	mkdir -p $(DESTDIR)$(PREFIX)/share/msp/web/node_modules/hls.js/dist \
	    $(DESTDIR)$(PREFIX)/share/msp/web/node_modules/tus-js-client/dist \
	    $(DESTDIR)$(PREFIX)/share/msp/web/node_modules/dashjs/dist/modern/umd
	cp web/index.html web/app.js web/style.css $(DESTDIR)$(PREFIX)/share/msp/web/
	cp web/node_modules/hls.js/dist/hls.min.js \
	    $(DESTDIR)$(PREFIX)/share/msp/web/node_modules/hls.js/dist/
	cp web/node_modules/tus-js-client/dist/tus.min.js \
	    $(DESTDIR)$(PREFIX)/share/msp/web/node_modules/tus-js-client/dist/
	cp web/node_modules/dashjs/dist/modern/umd/dash.mediaplayer.min.js \
	    $(DESTDIR)$(PREFIX)/share/msp/web/node_modules/dashjs/dist/modern/umd/

uninstall:
	for t in $(TOOL_SRC:tools/%.c=%); do \
	    rm -f $(DESTDIR)$(PREFIX)/bin/$$t \
	        $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t \
	        $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t; done
	rm -f $(DESTDIR)$(PREFIX)/lib/libmsp.a
	rm -rf $(DESTDIR)$(PREFIX)/include/msp
	rm -rf $(DESTDIR)$(PREFIX)/share/msp
	for m in $(MAN1) $(MAN5) $(MAN7); do \
	    s=$${m##*.}; rm -f $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m#man/}; done

clean:
	rm -rf $(B)

distclean: clean
	rm -f config.mk
