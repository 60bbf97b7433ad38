# Atrium: one non-recursive Makefile.
#
#   make            build/atriumd, build/atrium and build/loadgen (release, -O2)
#   make run        install missing packages, build, start atriumd on ./atrium-data
#   make check      install missing packages, build (release + sanitizers), run every test
#   make bench      benchmarks beside their peers; results in docs/benchmarks.md
#   make soak       the crash test, 100 rounds (CRASH_ROUNDS) with the release build
#   make asan       build/asan/: the same binaries with ASan + UBSan
#   make fuzz       libFuzzer targets in build/fuzz/ (clang), FUZZ_SECONDS (60) each
#   make clean
#
# Sources are found by wildcard: a new file in src/lib, src/server, src/cli or
# tests/unit is built without touching this file.

CC      ?= cc
PKGS    := openssl libevent libevent_openssl libevent_pthreads jansson sqlite3 libpq libcurl \
           icu-uc icu-i18n
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

.PHONY: all asan run check bench soak fuzz fuzz-build clean install-deps
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
	$$(CC) $$(BASE_CFLAGS) $$(CFLAGS) $(2) -MMD -MP -c $$< -o $$@
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
	$$(CC) $$(CFLAGS) $(2) -o $$@ $$^ $$(PKG_LIBS)
$(1)/atrium: $(1)/obj/src/cli/main.o $(1)/libatriumcli.a $(1)/libatrium.a
	$$(CC) $$(CFLAGS) $(2) -o $$@ $$^ $$(PKG_LIBS)
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

clean:
	rm -rf build
