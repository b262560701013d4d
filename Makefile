# purple-amm: an Avaya Multimedia Messaging protocol plugin for libpurple.
#
#   make            build build/libamm.so (the plugin), the test server and the tests
#   make check      build everything and run every test; ends with "N passed, N failed"
#   make demo       run Finch against the bundled AMM server with a scripted "bob"
#   make bench      delivery-latency benchmarks (see docs/performance.md)
#   make install    install the plugin and its icons (honours DESTDIR, PREFIX, PLUGINDIR, DATADIR)
#   make dist       purple-amm-VERSION.tar.gz of the tracked files (builds standalone)
#   make rpm        a binary RPM from that tarball (rpmbuild -ta; purple-amm.spec)
#   make check-unit the core's unit tests only (no libpurple clients; the RPM's %check)

PKG_CONFIG ?= pkg-config
CC         ?= cc
B          ?= build
# Link checks of the plugin (a sanitizer build empties them: the runtime comes from the executable)
PLUGIN_DEFS ?= -Wl,--no-undefined -Wl,-z,defs

CORE_PKGS   := glib-2.0 gio-2.0 gio-unix-2.0 libsoup-3.0 json-glib-1.0
PURPLE_PKGS := purple $(CORE_PKGS)

CFLAGS  ?= -O2 -g
LDFLAGS ?=
VERSION := $(shell sed -n 's/^Version:[[:space:]]*//p' purple-amm.spec)
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
BASE_CFLAGS := -std=gnu11 -fPIC $(WARN) -D_GNU_SOURCE -DG_LOG_USE_STRUCTURED=1

CORE_CFLAGS   = $(BASE_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(CORE_PKGS)) -Isrc/amm
CORE_LIBS     = $(shell $(PKG_CONFIG) --libs $(CORE_PKGS))
PURPLE_CFLAGS = $(BASE_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(PURPLE_PKGS)) -Isrc/amm -Isrc/purple
PURPLE_LIBS   = $(shell $(PKG_CONFIG) --libs $(PURPLE_PKGS))
TEST_CFLAGS   = $(CORE_CFLAGS) -Itests/common -DAMM_SOURCE_DIR='"$(CURDIR)"'
E2E_CFLAGS    = $(PURPLE_CFLAGS) -Itests/common -Itests/e2e -DAMM_SOURCE_DIR='"$(CURDIR)"'

# Where the clients look: libpurple's own prefix (pkg-config), so that a plain `make install`
# lands in its plugindir and Pidgin's protocol icon dirs. With another PREFIX everything goes
# under it (PLUGINDIR = PREFIX/lib/purple-2), unless PLUGINDIR/DATADIR are given.
PURPLE_PREFIX := $(shell $(PKG_CONFIG) --variable=prefix purple 2>/dev/null || echo /usr)
PREFIX     ?= $(PURPLE_PREFIX)
DESTDIR    ?=
PLUGINDIR  ?= $(if $(filter $(PURPLE_PREFIX),$(PREFIX)),$(shell $(PKG_CONFIG) --variable=plugindir purple 2>/dev/null || echo $(PREFIX)/lib/purple-2),$(PREFIX)/lib/purple-2)
DATADIR    ?= $(PREFIX)/share

CORE_SRC    := $(wildcard src/amm/*.c)
PRPL_SRC    := $(wildcard src/purple/*.c)
SERVER_SRC  := $(wildcard tests/amm-server/*.c)
COMMON_SRC  := $(wildcard tests/common/*.c)
UNIT_SRC    := $(wildcard tests/unit/test-*.c)
HARNESS_SRC := $(filter-out tests/e2e/e2e-%.c,$(wildcard tests/e2e/*.c))
E2E_SRC     := $(wildcard tests/e2e/e2e-*.c)
BENCH_SRC   := $(wildcard bench/bench-*.c)

CORE_OBJ    := $(CORE_SRC:%.c=$(B)/%.o)
PRPL_OBJ    := $(PRPL_SRC:%.c=$(B)/%.o)
SERVER_OBJ  := $(SERVER_SRC:%.c=$(B)/%.o)
COMMON_OBJ  := $(COMMON_SRC:%.c=$(B)/%.o)
HARNESS_OBJ := $(HARNESS_SRC:%.c=$(B)/%.o)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
E2E_BIN     := $(E2E_SRC:tests/e2e/%.c=$(B)/tests/%)
BENCH_BIN   := $(BENCH_SRC:bench/%.c=$(B)/bench/%)

PLUGIN      := $(B)/libamm.so
CORE_LIB    := $(B)/libamm-core.a
SERVER      := $(B)/amm-server
TLS_DIR     := $(B)/tls

.PHONY: all check check-unit demo bench install uninstall clean deps deps-test deps-demo deps-bench tls dist rpm
.SECONDARY: $(COMMON_OBJ) $(HARNESS_OBJ)
.DEFAULT_GOAL := all

all: deps $(PLUGIN) $(SERVER) $(UNIT_BIN) $(E2E_BIN) $(BENCH_BIN) tls

deps:
	@sh tests/ensure-deps.sh build
deps-test:
	@sh tests/ensure-deps.sh test
deps-demo:
	@sh tests/ensure-deps.sh demo
deps-bench:
	@sh tests/ensure-deps.sh bench

# --- the core (no libpurple) ---
$(B)/src/amm/%.o: src/amm/%.c $(wildcard src/amm/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CORE_CFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# --- the plugin ---
$(B)/src/purple/%.o: src/purple/%.c $(wildcard src/purple/*.h src/amm/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PURPLE_CFLAGS) -c -o $@ $<

$(PLUGIN): $(PRPL_OBJ) $(CORE_LIB)
	$(CC) -shared $(LDFLAGS) -o $@ $(PRPL_OBJ) $(CORE_LIB) $(PURPLE_LIBS) $(PLUGIN_DEFS)

# --- the AMM test server ---
$(B)/tests/amm-server/%.o: tests/amm-server/%.c $(wildcard tests/amm-server/*.h src/amm/amm-protocol.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CORE_CFLAGS) -Itests/amm-server -c -o $@ $<

$(SERVER): $(SERVER_OBJ)
	$(CC) -o $@ $^ $(CORE_LIBS)

# --- tests ---
$(B)/tests/common/%.o: tests/common/%.c $(wildcard tests/common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

$(B)/tests/test-%: tests/unit/test-%.c $(CORE_LIB) $(COMMON_OBJ) $(wildcard tests/common/*.h src/amm/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -o $@ $< $(COMMON_OBJ) $(CORE_LIB) $(CORE_LIBS)

$(B)/tests/e2e/%.o: tests/e2e/%.c $(wildcard tests/e2e/*.h tests/common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(E2E_CFLAGS) -c -o $@ $<

$(B)/tests/e2e-%: tests/e2e/e2e-%.c $(HARNESS_OBJ) $(COMMON_OBJ) $(wildcard tests/e2e/*.h tests/common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(E2E_CFLAGS) -o $@ $< $(HARNESS_OBJ) $(COMMON_OBJ) $(PURPLE_LIBS)

$(B)/bench/bench-%: bench/bench-%.c $(HARNESS_OBJ) $(COMMON_OBJ) $(wildcard tests/e2e/*.h tests/common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(E2E_CFLAGS) -o $@ $< $(HARNESS_OBJ) $(COMMON_OBJ) $(PURPLE_LIBS)

# Test TLS material: a test CA, a server certificate for 127.0.0.1/localhost signed by it,
# and a self-signed "untrusted" one. Made fresh, never committed.
tls: $(TLS_DIR)/ca.pem
$(TLS_DIR)/ca.pem: tests/make-tls.sh
	@sh tests/make-tls.sh $(TLS_DIR)

check: deps deps-test all
	@AMM_BUILD_DIR=$(CURDIR)/$(B) sh tests/run-tests.sh

# The core's unit tests only: no libpurple client, no network beyond loopback, no package
# installation (used by the RPM's %check).
check-unit: $(SERVER) $(UNIT_BIN) tls
	@AMM_BUILD_DIR=$(CURDIR)/$(B) AMM_CLIENT_TESTS=0 sh tests/run-tests.sh

demo: deps deps-demo $(PLUGIN) $(SERVER) tls
	@AMM_BUILD_DIR=$(CURDIR)/$(B) sh tests/demo.sh

bench: deps deps-test deps-bench all
	@AMM_BUILD_DIR=$(CURDIR)/$(B) sh bench/run.sh

install: $(PLUGIN)
	install -d $(DESTDIR)$(PLUGINDIR)
	install -m 0644 $(PLUGIN) $(DESTDIR)$(PLUGINDIR)/libamm.so
	for s in 16 22 48; do \
	  if [ -f icons/$$s/amm.png ]; then \
	    install -d $(DESTDIR)$(DATADIR)/pixmaps/pidgin/protocols/$$s; \
	    install -m 0644 icons/$$s/amm.png $(DESTDIR)$(DATADIR)/pixmaps/pidgin/protocols/$$s/amm.png; \
	  fi; \
	done
	if [ -f icons/scalable/amm.svg ]; then \
	  install -d $(DESTDIR)$(DATADIR)/pixmaps/pidgin/protocols/scalable; \
	  install -m 0644 icons/scalable/amm.svg $(DESTDIR)$(DATADIR)/pixmaps/pidgin/protocols/scalable/amm.svg; \
	fi

uninstall:
	rm -f $(DESTDIR)$(PLUGINDIR)/libamm.so
	rm -f $(DESTDIR)$(DATADIR)/pixmaps/pidgin/protocols/16/amm.png \
	      $(DESTDIR)$(DATADIR)/pixmaps/pidgin/protocols/22/amm.png \
	      $(DESTDIR)$(DATADIR)/pixmaps/pidgin/protocols/48/amm.png \
	      $(DESTDIR)$(DATADIR)/pixmaps/pidgin/protocols/scalable/amm.svg

# purple-amm-VERSION.tar.gz: the files git tracks (plus new, not ignored ones in a work tree);
# outside a git checkout (an unpacked tarball) every file but build/.
DIST := purple-amm-$(VERSION)
dist:
	@rm -rf $(B)/dist && mkdir -p $(B)/dist/$(DIST)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git ls-files -z --cached --others --exclude-standard; \
	else \
	  find . -path ./$(B) -prune -o -type f ! -name '*.tar.gz' -print0; \
	fi | xargs -0 sh -c 'for f; do [ -f "$$f" ] && printf "%s\n" "$${f#./}"; done' sh \
	   | tar --verbatim-files-from -T - -cf - | tar -xf - -C $(B)/dist/$(DIST)
	tar -C $(B)/dist --owner=0 --group=0 --sort=name -czf $(DIST).tar.gz $(DIST)
	@rm -rf $(B)/dist
	@echo "made $(DIST).tar.gz"

# A binary RPM from the dist tarball, in $(B)/rpm (on Debian: --nodeps, the BuildRequires are
# Fedora's package names).
RPMBUILD_FLAGS ?=
rpm: dist
	rpmbuild -ta $(RPMBUILD_FLAGS) --define "_topdir $(CURDIR)/$(B)/rpm" $(DIST).tar.gz

clean:
	rm -rf $(B)

# --- hostile input: fuzzing and sanitizers (docs/reliability.md "Fuzzing", "Sanitizers") ---
#   make fuzz            libFuzzer targets fuzz/fuzz-*.c into build-fuzz/ (clang)
#   make fuzz-run        each for FUZZ_SECONDS (default 20) from fuzz/corpus/<target>/
#   make check-asan      everything rebuilt with ASan+UBSan in build-asan/, whole suite (no real clients)
#   make check-valgrind  the e2e tests under memcheck (tests/sanitizers/valgrind.supp)
FUZZ_B       ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRC     := $(wildcard fuzz/fuzz-*.c)
FUZZ_BIN     := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_B)/%)
FUZZ_CORE_OBJ := $(CORE_SRC:%.c=$(FUZZ_B)/%.o)

.PHONY: fuzz fuzz-run check-asan check-valgrind deps-sanitizers

deps-sanitizers:
	@sh tests/sanitizers/ensure-tools.sh

fuzz: deps-sanitizers
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

$(FUZZ_B)/src/amm/%.o: src/amm/%.c $(wildcard src/amm/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(CORE_CFLAGS) -c -o $@ $<

$(FUZZ_B)/libamm-core.a: $(FUZZ_CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_B)/amm-markup.o: src/purple/amm-markup.c src/purple/amm-markup.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PURPLE_CFLAGS) -c -o $@ $<

$(FUZZ_B)/fuzz-markup: fuzz/fuzz-markup.c fuzz/fuzz-common.h $(FUZZ_B)/amm-markup.o
	$(FUZZ_CC) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer $(PURPLE_CFLAGS) -o $@ $< $(FUZZ_B)/amm-markup.o $(PURPLE_LIBS)

$(FUZZ_B)/fuzz-%: fuzz/fuzz-%.c fuzz/fuzz-common.h $(FUZZ_B)/libamm-core.a
	$(FUZZ_CC) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer $(CORE_CFLAGS) -o $@ $< $(FUZZ_B)/libamm-core.a $(CORE_LIBS)

fuzz-run: fuzz
	@FUZZ_B=$(FUZZ_B) FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh $(notdir $(FUZZ_BIN))

ASAN_B     ?= build-asan
# LeakSanitizer at the exit of every test program and of every test server child (a child's
# report fails its test: tests/common/amm-test-server.c), with tests/sanitizers/lsan.supp;
# ASAN_LEAKS=0 turns it off. intercept_tls_get_addr=0: with it, LeakSanitizer's tracer can take
# a malloc'd block for a pre-2.25 glibc TLS header and crash (in the TLS tests, GnuTLS threads).
ASAN_LEAKS ?= 1
# the chaos run, smaller than `make check`'s (5000 messages, 20 restarts), which would take
# ~12 min under ASan
ASAN_CHAOS_MESSAGES ?= 300
ASAN_CHAOS_RESTARTS ?= 3
ASAN_E2E   := $(E2E_BIN:$(B)/%=$(ASAN_B)/%)
# (clang warns about things gcc does not; the gcc build keeps -Werror, the sanitizer build does not)
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
check-asan: deps deps-test deps-sanitizers
	$(MAKE) B=$(ASAN_B) CC="clang $(ASAN_FLAGS)" CFLAGS="-O1 -g" PLUGIN_DEFS= \
	  WARN="$(filter-out -Werror,$(WARN))" \
	  $(ASAN_B)/libamm.so $(ASAN_B)/amm-server $(UNIT_BIN:$(B)/%=$(ASAN_B)/%) $(ASAN_E2E) $(ASAN_B)/tls/ca.pem
	@AMM_BUILD_DIR=$(CURDIR)/$(ASAN_B) AMM_CLIENT_TESTS=0 G_SLICE=always-malloc \
	  AMM_CHAOS_MESSAGES=$(ASAN_CHAOS_MESSAGES) AMM_CHAOS_RESTARTS=$(ASAN_CHAOS_RESTARTS) \
	  ASAN_OPTIONS=halt_on_error=1:detect_leaks=$(ASAN_LEAKS):fast_unwind_on_malloc=0:intercept_tls_get_addr=0:exitcode=66 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  sh tests/run-tests.sh

check-valgrind: deps deps-test deps-sanitizers all
	@AMM_BUILD_DIR=$(CURDIR)/$(B) sh tests/sanitizers/run-valgrind.sh
