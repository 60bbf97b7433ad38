# Atrium: one non-recursive Makefile.
#
#   make            build/atriumd and build/atrium (release, -O2)
#   make run        install missing packages, build, start atriumd on ./atrium-data
#   make check      install missing packages, build (release + sanitizers), run every test
#   make bench      benchmarks beside their peers; results in docs/benchmarks.md
#   make asan       build/asan/: the same binaries with ASan + UBSan
#   make fuzz       libFuzzer targets in build/fuzz/ (clang)
#   make clean
#
# Sources are found by wildcard: a new file in src/lib, src/server, src/cli or
# tests/unit is built without touching this file.

CC      ?= cc
PKGS    := openssl libevent libevent_openssl libevent_pthreads jansson sqlite3 libpq libcurl
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

.PHONY: all asan run check bench fuzz clean install-deps
all: build/atriumd build/atrium

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
	$(MAKE) all asan fuzz
	tests/run

bench:
	scripts/install-deps --bench
	$(MAKE) all
	bench/run

FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
fuzz: $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
build/fuzz/%: fuzz/%.c $(LIB_SRC)
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	  -Iinclude -Isrc $(PKG_CFLAGS) -o $@ $< $(LIB_SRC) $(PKG_LIBS)

clean:
	rm -rf build
