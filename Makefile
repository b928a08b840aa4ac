# kigen: build, demo, test, bench and checks. Modules are found by wildcard, so a new
# pipeline/x.c or tests/unit/test_x.c needs no change here.

PKGS    := sqlite3 libpq cairo cairo-pdf cairo-png pangocairo pangoft2 fontconfig libqrencode \
           xlsxwriter yaml-0.1 libpcsclite libcrypto libmicrohttpd libqpdf lcms2 libzip
CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(DEPCFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -Ipipeline
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lunistring -lm -lstdc++
# pipeline/pdfx.cc alone is C++: qpdf's content-stream token filters exist only in its C++ API.
CXX     ?= c++
ALL_CXXFLAGS = -std=c++17 -D_GNU_SOURCE -DPOINTERHOLDER_TRANSITION=4 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter $(CFLAGS) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -Ipipeline
BUILD   ?= build
DEPS_OK := $(BUILD)/.deps-ok

SRCS      := $(wildcard pipeline/*.c)
LIB_OBJS  := $(patsubst pipeline/%.c,$(BUILD)/%.o,$(filter-out pipeline/kigen.c,$(SRCS))) \
             $(patsubst pipeline/%.cc,$(BUILD)/%.o,$(wildcard pipeline/*.cc))
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/%,$(TEST_SRCS))
TOOLS     := $(BUILD)/vcard $(BUILD)/cardtest $(BUILD)/rigshim.so $(BUILD)/render_bench $(BUILD)/naive_baseline $(BUILD)/mdriver

.PHONY: all deps check-deps demo test unit e2e bench asan valgrind analyze format format-check fuzz fuzz-run clean screenshots
KIGEN   ?= kigen
all: $(KIGEN)

# Installs the Debian packages once per build directory; the script itself is a no-op when all are present.
$(DEPS_OK): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@scripts/install-deps.sh
	@touch $@
deps: $(DEPS_OK)
# The tools of the checks (sanitizers, valgrind, cppcheck, clang-format, libFuzzer): a second list.
check-deps:
	@scripts/install-deps.sh checks

$(BUILD)/%.o: pipeline/%.c | $(DEPS_OK)
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The desk's page, script and style are compiled into webdesk.o (.incbin).
$(BUILD)/webdesk.o: $(wildcard templates/web/*)

$(BUILD)/%.o: pipeline/%.cc | $(DEPS_OK)
	@mkdir -p $(BUILD)
	$(CXX) $(ALL_CXXFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libkigen.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(KIGEN): $(BUILD)/kigen.o $(BUILD)/libkigen.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_%: tests/unit/test_%.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/libkigen.a $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/vcard: tests/vcard/vcard.c | $(DEPS_OK)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

# Test and benchmark drivers, linked like the unit tests: the card module's (tests/e2e/card.sh),
# the renderer's and its naive yardstick (scripts/bench-render.sh, tests/e2e/render.sh), the manifest's (tests/e2e/manifest.sh).
$(BUILD)/cardtest: tests/vcard/cardtest.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libkigen.a $(LDLIBS)
# The LD_PRELOAD shim of tests/e2e/counter-window.sh; plain flags: it is loaded into any build of kigen.
$(BUILD)/rigshim.so: tests/rig/shim.c | $(DEPS_OK)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O2 -shared -fPIC $(shell pkg-config --cflags libpcsclite) -o $@ $< -ldl
$(BUILD)/render_bench: tests/bench/render_bench.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libkigen.a $(LDLIBS)
$(BUILD)/naive_baseline: tests/bench/naive_baseline.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libkigen.a $(LDLIBS)
$(BUILD)/mdriver: tests/manifest/mdriver.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libkigen.a $(LDLIBS)

-include $(wildcard $(BUILD)/*.d)

demo: $(KIGEN)
	scripts/demo.sh

# The README's test command: unit tests, then end-to-end scripts; ends with "N passed, N failed, N skipped".
test: $(KIGEN) $(TESTS) $(TOOLS)
	@BUILD=$(BUILD) KIGEN=$(abspath $(KIGEN)) tests/run.sh

# The README's pictures of the desk in the browser, taken by its browser test (tests/e2e/web.sh).
screenshots: $(KIGEN) $(TOOLS)
	@mkdir -p docs/web
	@BUILD=$(BUILD) KIGEN=$(abspath $(KIGEN)) KIGEN_SHOTS=$(abspath docs/web) tests/run.sh e2e web

unit: $(TESTS)
	@BUILD=$(BUILD) tests/run.sh unit

bench: $(KIGEN)
	scripts/bench.sh

# Third-party libraries' lifetime caches are suppressed (tests/lsan.supp); kigen's own leaks are not.
asan: export LSAN_OPTIONS = suppressions=$(abspath tests/lsan.supp):print_suppressions=0
asan: export UBSAN_OPTIONS = print_stacktrace=1:halt_on_error=1
asan: check-deps
	$(MAKE) BUILD=build-asan KIGEN=build-asan/kigen \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

valgrind: check-deps $(TESTS)
	@for t in $(TESTS); do valgrind -q --error-exitcode=1 --leak-check=full --suppressions=tests/valgrind.supp $$t >/dev/null || exit 1; done; echo valgrind clean

analyze: check-deps
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  --suppress=missingIncludeSystem -Ipipeline pipeline

C_FILES = pipeline/*.c pipeline/*.cc pipeline/*.h tests/unit/*.c tests/vcard/*.c tests/rig/*.c tests/bench/*.c tests/manifest/*.c tests/fuzz/*.c
format: check-deps
	clang-format -i $(C_FILES)

format-check: check-deps
	clang-format --dry-run --Werror $(C_FILES)

# libFuzzer harnesses (tests/fuzz/fuzz_*.c), built with clang and ASan + UBSan in build-fuzz/ and
# run FUZZ_RUNS times each from corpora seeded with fixtures/ and templates/ (scripts/fuzz.sh).
# Not part of `make test`: it takes minutes.
FUZZ_RUNS ?= 1000000
FUZZERS   := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -fsanitize-link-c++-runtime -o $@ $< $(BUILD)/libkigen.a $(LDLIBS)
fuzz: check-deps
	$(MAKE) BUILD=build-fuzz CC=clang CXX=clang++ \
	  CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" fuzz-run
fuzz-run: $(FUZZERS)
	BUILD=$(BUILD) FUZZ_RUNS=$(FUZZ_RUNS) scripts/fuzz.sh

clean:
	rm -rf build build-asan build-fuzz kigen
