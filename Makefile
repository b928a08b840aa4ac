# kigen: build, demo, test, bench and checks. Modules are found by wildcard, so a new
# pipeline/x.c or tests/unit/test_x.c needs no change here.

PKGS    := sqlite3 libpq cairo cairo-pdf cairo-png pangocairo pangoft2 fontconfig libqrencode \
           xlsxwriter yaml-0.1 libpcsclite libcrypto
CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(DEPCFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -Ipipeline
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lunistring -lm
BUILD   ?= build
DEPS_OK := $(BUILD)/.deps-ok

SRCS      := $(wildcard pipeline/*.c)
LIB_OBJS  := $(patsubst pipeline/%.c,$(BUILD)/%.o,$(filter-out pipeline/kigen.c,$(SRCS)))
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/%,$(TEST_SRCS))
TOOLS     := $(BUILD)/vcard $(BUILD)/cardtest $(BUILD)/render_bench $(BUILD)/mdriver

.PHONY: all deps demo test unit e2e bench asan valgrind analyze format format-check clean
KIGEN   ?= kigen
all: $(KIGEN)

# Installs the Debian packages once per build directory; the script itself is a no-op when all are present.
$(DEPS_OK): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@scripts/install-deps.sh
	@touch $@
deps: $(DEPS_OK)

$(BUILD)/%.o: pipeline/%.c | $(DEPS_OK)
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libkigen.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(KIGEN): $(BUILD)/kigen.o $(BUILD)/libkigen.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_%: tests/unit/test_%.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/libkigen.a $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/vcard: tests/vcard/vcard.c | $(DEPS_OK)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

# Test and benchmark drivers, linked like the unit tests: the card module's (tests/e2e/card.sh),
# the renderer's (scripts/bench-render.sh, tests/e2e/render.sh), the manifest's (tests/e2e/manifest.sh).
$(BUILD)/cardtest: tests/vcard/cardtest.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libkigen.a $(LDLIBS)
$(BUILD)/render_bench: tests/bench/render_bench.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libkigen.a $(LDLIBS)
$(BUILD)/mdriver: tests/manifest/mdriver.c $(BUILD)/libkigen.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libkigen.a $(LDLIBS)

-include $(wildcard $(BUILD)/*.d)

demo: $(KIGEN)
	scripts/demo.sh

# The README's test command: unit tests, then end-to-end scripts; ends with "N passed, N failed".
test: $(KIGEN) $(TESTS) $(TOOLS)
	@BUILD=$(BUILD) KIGEN=$(abspath $(KIGEN)) tests/run.sh

unit: $(TESTS)
	@BUILD=$(BUILD) tests/run.sh unit

bench: $(KIGEN)
	scripts/bench.sh

# Third-party libraries' lifetime caches are suppressed (tests/lsan.supp); kigen's own leaks are not.
asan: export LSAN_OPTIONS = suppressions=$(abspath tests/lsan.supp):print_suppressions=0
asan: export UBSAN_OPTIONS = print_stacktrace=1:halt_on_error=1
asan:
	$(MAKE) BUILD=build-asan KIGEN=build-asan/kigen \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

valgrind: $(TESTS)
	@for t in $(TESTS); do valgrind -q --error-exitcode=1 --leak-check=full --suppressions=tests/valgrind.supp $$t >/dev/null || exit 1; done; echo valgrind clean

analyze:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  --suppress=missingIncludeSystem -Ipipeline pipeline

C_FILES = pipeline/*.c pipeline/*.h tests/unit/*.c tests/vcard/*.c tests/bench/*.c tests/manifest/*.c
format:
	clang-format -i $(C_FILES)

format-check:
	clang-format --dry-run --Werror $(C_FILES)


clean:
	rm -rf build build-asan kigen
