# Atrium: one non-recursive Makefile.
#
#   make            build/atriumd, build/atrium and build/loadgen (release, -O2)
#   make run        install missing packages, build, start atriumd on ./atrium-data
#   make check      install missing packages, build (release + sanitizers), run every test
#   make bench      benchmarks beside their peers; results in docs/benchmarks.md
#   make soak       the crash test, 100 rounds (CRASH_ROUNDS) with the release build
#   make asan       build/asan/: the same binaries with ASan + UBSan
#   make fuzz       libFuzzer targets in build/fuzz/ (clang), FUZZ_SECONDS (60) each
#   make man        build/man/: atriumd(8), atrium(1), atrium.conf(5) from the binaries
#   make install    binaries, man pages, unit, completion, default atrium.conf under
#                   DESTDIR + PREFIX (/usr/local); make uninstall removes them
#   make deb        build/deb/atrium_VERSION_ARCH.deb (dpkg-buildpackage on a copy)
#   make clean
#
# Sources are found by wildcard: a new file in src/lib, src/server, src/cli or
# tests/unit is built without touching this file.

CC      ?= cc
PKGS    := openssl libevent libevent_openssl libevent_pthreads jansson sqlite3 libpq libcurl \
           icu-uc icu-i18n ldap libzstd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lpthread -lm
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Werror
CFLAGS  ?= -O2 -g
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc -Ibuild/gen $(PKG_CFLAGS)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

LIB_SRC  := $(wildcard src/lib/*.c)
SRV_SRC  := $(filter-out src/server/main.c,$(wildcard src/server/*.c))
CLI_SRC  := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
WEB_FILES := $(sort $(wildcard web/*))
GEN_WEB  := build/gen/web_assets.c

.PHONY: all asan run check bench soak fuzz fuzz-build clean install-deps man dist install \
	uninstall deb
all: build/atriumd build/atrium build/loadgen

# The load generator of bench/load.sh and tests/integration/load_smoke.sh
# (release flags; not under build/bench/, which bench/run empties).
build/loadgen: bench/loadgen.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(PKG_LIBS)

# The admin console's files, embedded into atriumd at build time.
$(GEN_WEB): $(WEB_FILES) scripts/embed-web
	@mkdir -p $(@D)
	scripts/embed-web $@ $(WEB_FILES)

# $(1) = output directory, $(2) = extra compiler and linker flags
define variant
$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$(CC) $$(BASE_CFLAGS) $$(CPPFLAGS) $$(CFLAGS) $(2) -MMD -MP -c $$< -o $$@
$(1)/libatrium.a: $$(LIB_SRC:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
$(1)/libatriumd.a: $$(SRV_SRC:%.c=$(1)/obj/%.o) $(1)/obj/$(GEN_WEB:.c=.o)
	@rm -f $$@
	ar rcs $$@ $$^
$(1)/libatriumcli.a: $$(CLI_SRC:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
$(1)/atriumd: $(1)/obj/src/server/main.o $(1)/libatriumd.a $(1)/libatrium.a
	$$(CC) $$(CFLAGS) $(2) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
$(1)/atrium: $(1)/obj/src/cli/main.o $(1)/libatriumcli.a $(1)/libatrium.a
	$$(CC) $$(CFLAGS) $(2) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
$(1)/tests/%: $(1)/obj/tests/unit/%.o $(1)/libatriumd.a $(1)/libatriumcli.a $(1)/libatrium.a
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) -o $$@ $$^ $$(PKG_LIBS) -lcmocka
-include $$(shell find $(1)/obj -name '*.d' 2>/dev/null)
endef

$(eval $(call variant,build,))
$(eval $(call variant,build/asan,$(SAN_FLAGS)))
build/asan/obj/%.o: CFLAGS = -O1 -g

UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)
asan: build/asan/atriumd build/asan/atrium $(UNIT_BINS)

install-deps:
	scripts/install-deps

run:
	scripts/install-deps
	$(MAKE) all
	build/atriumd --data ./atrium-data

check:
	scripts/install-deps
	$(MAKE) all asan fuzz-build
	tests/run

bench:
	scripts/install-deps --bench
	$(MAKE) all
	bench/run

# kill -9 during 200 concurrent commits, restart, verify: docs/crash-test.md.
soak:
	scripts/install-deps
	$(MAKE) all
	@mkdir -p build/test-logs
	{ ATRIUMD=$(CURDIR)/build/atriumd ATRIUM=$(CURDIR)/build/atrium \
	  CRASH_ROUNDS=$${CRASH_ROUNDS:-100} bash tests/integration/crash_test.sh; \
	  echo $$? >build/test-logs/soak.rc; } 2>&1 | tee build/test-logs/soak.log
	@exit $$(cat build/test-logs/soak.rc)

# libFuzzer targets (clang): `make fuzz-build` builds them (make check runs
# short rounds and replays fuzz/regressions/); `make fuzz` runs each for
# FUZZ_SECONDS from its seed corpus. See docs/fuzzing.md.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60
# A small PBE/MAC iteration cap: a keystore input costs microseconds, not
# 10000 PBKDF rounds (seeds in fuzz/corpus/keystore use 1).
FUZZ_CC := clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	  -DATR_KSI_MAX_ITER=64 -Iinclude -Isrc -Ibuild/gen $(PKG_CFLAGS)
FUZZ_HDRS := $(wildcard include/atrium/*.h src/lib/*.h)
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh
build/fuzz/%: fuzz/%.c $(LIB_SRC) $(FUZZ_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) -o $@ $< $(LIB_SRC) $(PKG_LIBS)
# The HTTP target runs the server's own code: every server source but main.c.
build/fuzz/fuzz_http: fuzz/fuzz_http.c $(LIB_SRC) $(SRV_SRC) $(GEN_WEB) $(FUZZ_HDRS) \
    $(wildcard src/server/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -o $@ $< $(LIB_SRC) $(SRV_SRC) $(GEN_WEB) $(PKG_LIBS)

# ---- installing and packaging (docs/install.md)
#
# Generated from the built binaries, so they match them: the man pages
# (scripts/gen-man, packaging/man/*.in), the default atrium.conf
# (scripts/gen-conf, from the directive table) and the unit (paths filled in).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
STATEDIR   ?= /var/lib/atrium
VERSION    := $(shell sed -n 's/^\#define ATRIUM_VERSION "\(.*\)"/\1/p' src/version.h)

MAN_PAGES := build/man/atriumd.8 build/man/atrium.1 build/man/atrium.conf.5
DIST_FILES := $(MAN_PAGES) build/dist/atriumd.service build/dist/atrium.conf
INSTALLED := $(SBINDIR)/atriumd $(BINDIR)/atrium $(MANDIR)/man8/atriumd.8 \
	$(MANDIR)/man1/atrium.1 $(MANDIR)/man5/atrium.conf.5 $(UNITDIR)/atriumd.service \
	$(BASHCOMPDIR)/atrium

man: $(MAN_PAGES)
dist: $(DIST_FILES)

# The paths written into the pages and the unit: a change remakes them.
build/dist/paths: FORCE
	@mkdir -p $(@D)
	@echo '$(SBINDIR) $(SYSCONFDIR) $(STATEDIR)' | cmp -s - $@ || \
	  echo '$(SBINDIR) $(SYSCONFDIR) $(STATEDIR)' >$@
FORCE:

build/man/%: packaging/man/%.in scripts/gen-man build/atriumd build/atrium build/dist/paths
	@mkdir -p $(@D)
	SYSCONFDIR=$(SYSCONFDIR) STATEDIR=$(STATEDIR) scripts/gen-man $< build/atriumd build/atrium >$@.new
	mv $@.new $@
build/dist/atrium.conf: scripts/gen-conf build/atriumd
	@mkdir -p $(@D)
	scripts/gen-conf build/atriumd >$@.new
	mv $@.new $@
build/dist/atriumd.service: packaging/atriumd.service.in build/dist/paths
	@mkdir -p $(@D)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	  -e 's|@STATEDIR@|$(STATEDIR)|g' $< >$@.new
	mv $@.new $@

# An atrium.conf already there is kept (it may hold an administrator's
# settings); uninstall removes it only while it is the installed default.
install: build/atriumd build/atrium $(DIST_FILES)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSCONFDIR)/atrium
	install -m 0755 build/atriumd $(DESTDIR)$(SBINDIR)/atriumd
	install -m 0755 build/atrium $(DESTDIR)$(BINDIR)/atrium
	install -m 0644 build/man/atriumd.8 $(DESTDIR)$(MANDIR)/man8/atriumd.8
	install -m 0644 build/man/atrium.1 $(DESTDIR)$(MANDIR)/man1/atrium.1
	install -m 0644 build/man/atrium.conf.5 $(DESTDIR)$(MANDIR)/man5/atrium.conf.5
	install -m 0644 build/dist/atriumd.service $(DESTDIR)$(UNITDIR)/atriumd.service
	install -m 0644 packaging/atrium.bash-completion $(DESTDIR)$(BASHCOMPDIR)/atrium
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/atrium/atrium.conf ]; then \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/atrium/atrium.conf (the defaults are in build/dist/atrium.conf)"; \
	else \
	  echo "install -m 0644 build/dist/atrium.conf $(DESTDIR)$(SYSCONFDIR)/atrium/atrium.conf"; \
	  install -m 0644 build/dist/atrium.conf $(DESTDIR)$(SYSCONFDIR)/atrium/atrium.conf; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@conf=$(DESTDIR)$(SYSCONFDIR)/atrium/atrium.conf; \
	if [ -e "$$conf" ] && [ -f build/dist/atrium.conf ] && cmp -s "$$conf" build/dist/atrium.conf; then \
	  echo "rm -f $$conf"; rm -f "$$conf"; \
	elif [ -e "$$conf" ]; then \
	  echo "kept $$conf: it is not the installed default"; \
	fi
	-rmdir $(DESTDIR)$(SYSCONFDIR)/atrium 2>/dev/null

# The Debian package, built by dpkg-buildpackage on a copy of the tree (its
# clean step would empty build/ here): every file git knows, committed or
# not. debian/rules builds only atriumd, atrium and the installed files.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB      := build/deb/atrium_$(VERSION)_$(DEB_ARCH).deb
DEB_TREE := $(if $(wildcard .git),$(wildcard $(shell git ls-files -co --exclude-standard 2>/dev/null)))
deb: $(DEB)
$(DEB): $(DEB_TREE)
	scripts/install-deps --package
	rm -rf build/deb/src
	mkdir -p build/deb/src/atrium-$(VERSION)
	git ls-files -z -co --exclude-standard | \
	  tar --null -T - --ignore-failed-read -cf - | tar -xf - -C build/deb/src/atrium-$(VERSION)
	cd build/deb/src/atrium-$(VERSION) && \
	  DEB_BUILD_OPTIONS="nocheck $${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b
	mv build/deb/src/*.deb build/deb/src/*.buildinfo build/deb/src/*.changes build/deb/
	rm -rf build/deb/src
	@echo "built $(DEB)"

clean:
	rm -rf build
