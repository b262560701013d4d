# purple-amm: an Avaya Multimedia Messaging protocol plugin for libpurple.
#
#   make            build build/libamm.so (the plugin), the test server and the tests
#   make check      build everything and run every test; ends with "N passed, N failed"
#   make demo       run Finch against the bundled AMM server with a scripted "bob"
#   make bench      delivery-latency benchmarks (see docs/performance.md)
#   make install    install the plugin (honours DESTDIR and PREFIX)

PKG_CONFIG ?= pkg-config
CC         ?= cc
B          := build

CORE_PKGS   := glib-2.0 gio-2.0 libsoup-3.0 json-glib-1.0
PURPLE_PKGS := purple $(CORE_PKGS)

CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
BASE_CFLAGS := -std=gnu11 -fPIC $(WARN) -D_GNU_SOURCE -DG_LOG_USE_STRUCTURED=1

CORE_CFLAGS   = $(BASE_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(CORE_PKGS)) -Isrc/amm
CORE_LIBS     = $(shell $(PKG_CONFIG) --libs $(CORE_PKGS))
PURPLE_CFLAGS = $(BASE_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(PURPLE_PKGS)) -Isrc/amm -Isrc/purple
PURPLE_LIBS   = $(shell $(PKG_CONFIG) --libs $(PURPLE_PKGS))
TEST_CFLAGS   = $(CORE_CFLAGS) -Itests/common -DAMM_SOURCE_DIR='"$(CURDIR)"'
E2E_CFLAGS    = $(PURPLE_CFLAGS) -Itests/common -Itests/e2e -DAMM_SOURCE_DIR='"$(CURDIR)"'

PREFIX     ?= /usr/local
DESTDIR    ?=
PLUGINDIR  ?= $(shell $(PKG_CONFIG) --variable=plugindir purple 2>/dev/null || echo $(PREFIX)/lib/purple-2)
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

.PHONY: all check demo bench install uninstall clean deps deps-test deps-demo tls
.SECONDARY: $(COMMON_OBJ) $(HARNESS_OBJ)
.DEFAULT_GOAL := all

all: deps $(PLUGIN) $(SERVER) $(UNIT_BIN) $(E2E_BIN) $(BENCH_BIN) tls

deps:
	@sh tests/ensure-deps.sh build
deps-test:
	@sh tests/ensure-deps.sh test
deps-demo:
	@sh tests/ensure-deps.sh demo

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
	$(CC) -shared -o $@ $(PRPL_OBJ) $(CORE_LIB) $(PURPLE_LIBS) -Wl,--no-undefined -Wl,-z,defs

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

demo: deps deps-demo $(PLUGIN) $(SERVER) tls
	@AMM_BUILD_DIR=$(CURDIR)/$(B) sh tests/demo.sh

bench: deps deps-test all
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

clean:
	rm -rf $(B)
