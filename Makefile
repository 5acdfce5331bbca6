# Makefile — builds the s2s library layers, the cell plugins, the `s2s`
# command, the tests and the benchmarks. Objects go to $(BUILD)/.
#
#   make            build everything          make test        run the tests
#   make run        train the default model and translate (the README's command)
#   make check-asan tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      benchmark figures as JSON lines (long)
#   make install    PREFIX=/usr/local DESTDIR=
#
# MARCH=native is for speed on the machine that builds; packagers pass a
# portable baseline, e.g. `make MARCH=x86-64-v2`.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
MARCH   ?= native
OPT     ?= -O3
SAN     ?=
VERSION := 0.1.0

CELLDIR_INSTALL := $(PREFIX)/lib/s2s/cells
CELLDIR_BUILD    = $(abspath $(BUILD))/cells

# Lazily expanded: pkg-config runs after scripts/deps.sh has installed it.
PKGS      = yaml-0.1 libutf8proc openblas libedit sentencepiece
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror=implicit-function-declaration $(OPT) -march=$(MARCH) -g \
           -fopenmp -fPIC -MMD -MP -I. $(SAN) $(PKG_CFLAGS) \
           -DS2S_VERSION='"$(VERSION)"' \
           -DS2S_CELL_DIR_INSTALL='"$(CELLDIR_INSTALL)"' \
           -DS2S_CELL_DIR_BUILD='"$(CELLDIR_BUILD)"'
LDFLAGS ?=
LDFLAGS += -fopenmp $(SAN)
# -lstdc++: tokenizer/spm.cc, the one C++ file (the SentencePiece wrapper),
# is in libs2s_tokenizer.a; the binaries are linked by the C compiler.
LDLIBS   = $(PKG_LIBS) -lstdc++ -ldl -lm

# C++ only for tokenizer/spm.cc: same warnings and code generation.
CXX      ?= g++
CXXFLAGS ?=
CXXFLAGS += -std=c++17 -Wall -Wextra $(OPT) -march=$(MARCH) -g -fPIC -MMD -MP -I. \
            $(SAN) $(shell pkg-config --cflags sentencepiece)

# Cell plugins see only cells/cell.h and link against nothing of ours.
CELL_CFLAGS = -std=c11 -Wall -Wextra $(OPT) -march=$(MARCH) -g -fPIC -shared $(SAN)

DEPS_OK := $(BUILD)/.deps-ok

CORE_OBJ      := $(patsubst %.c,$(BUILD)/%.o,$(wildcard core/*.c))
TOKENIZER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tokenizer/*.c)) $(BUILD)/tokenizer/spm.o
CORPORA_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(wildcard corpora/*.c))
SEQ2SEQ_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(filter-out seq2seq/main.c,$(wildcard seq2seq/*.c)))

LIB_CORE      := $(BUILD)/libs2s_core.a
LIB_TOKENIZER := $(BUILD)/libs2s_tokenizer.a
LIB_CORPORA   := $(BUILD)/libs2s_corpora.a
LIB_SEQ2SEQ   := $(BUILD)/libs2s_seq2seq.a

CELLS      := $(patsubst cells/%.c,$(BUILD)/cells/%.so,$(wildcard cells/*.c))
TEST_CELLS := $(patsubst tests/cells/%.c,$(BUILD)/tests/cells/%.so,$(wildcard tests/cells/*.c))
S2S_BIN    := $(BUILD)/s2s

# Each test file links the layers its prefix names, and nothing above.
TESTS_CORE      := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/core_*.c tests/cells_*.c))
TESTS_TOKENIZER := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/tokenizer_*.c))
TESTS_CORPORA   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/corpora_*.c))
TESTS_SEQ2SEQ   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/seq2seq_*.c tests/cli_*.c))
TESTS := $(TESTS_CORE) $(TESTS_TOKENIZER) $(TESTS_CORPORA) $(TESTS_SEQ2SEQ)

.PHONY: all test test-core test-tokenizer test-corpora test-seq2seq run \
        check-asan bench bench-cells install uninstall clean deps

all: $(CELLS) $(S2S_BIN)

deps: $(DEPS_OK)
$(DEPS_OK): scripts/deps.sh
	@./scripts/deps.sh
	@mkdir -p $(@D) && touch $@

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cc | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB_CORE): $(CORE_OBJ)
$(LIB_TOKENIZER): $(TOKENIZER_OBJ)
$(LIB_CORPORA): $(CORPORA_OBJ)
$(LIB_SEQ2SEQ): $(SEQ2SEQ_OBJ)
$(BUILD)/lib%.a: | $(DEPS_OK)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/cells/%.so: cells/%.c cells/cell.h cells/standard.h | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CELL_CFLAGS) $< -o $@

$(BUILD)/tests/cells/%.so: tests/cells/%.c cells/cell.h $(wildcard tests/cells/*.h) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CELL_CFLAGS) -I. $< -o $@

LIBS_ALL := $(LIB_SEQ2SEQ) $(LIB_CORPORA) $(LIB_TOKENIZER) $(LIB_CORE)

$(S2S_BIN): $(BUILD)/seq2seq/main.o $(LIBS_ALL)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

CRITERION = -lcriterion
$(TESTS_CORE): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_CORE) $(CELLS) $(TEST_CELLS)
	$(CC) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS) $(CRITERION)
$(TESTS_TOKENIZER): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_TOKENIZER) $(LIB_CORE)
	$(CC) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS) $(CRITERION)
$(TESTS_CORPORA): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_CORPORA) $(LIB_TOKENIZER) $(LIB_CORE)
	$(CC) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS) $(CRITERION)
$(TESTS_SEQ2SEQ): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBS_ALL) $(CELLS) $(TEST_CELLS) $(S2S_BIN)
	$(CC) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS) $(CRITERION)

# Tests find the built plugins, the binary and the shared corpus through
# these; they run from the repository root.
TEST_ENV = S2S_BUILD=$(abspath $(BUILD)) S2S_CELL_PATH= OMP_NUM_THREADS=2

test: $(TESTS)
	@$(TEST_ENV) ./scripts/run-tests.sh $(TESTS)
test-core: $(TESTS_CORE)
	@$(TEST_ENV) ./scripts/run-tests.sh $^
test-tokenizer: $(TESTS_TOKENIZER)
	@$(TEST_ENV) ./scripts/run-tests.sh $^
test-corpora: $(TESTS_CORPORA)
	@$(TEST_ENV) ./scripts/run-tests.sh $^
test-seq2seq: $(TESTS_SEQ2SEQ)
	@$(TEST_ENV) ./scripts/run-tests.sh $^

# Sanitizers want frame pointers and less inlining; leaks are checked too.
check-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

run: all
	./scripts/run-default.sh $(BUILD)

$(BUILD)/bench/%: bench/%.c $(LIBS_ALL) $(CELLS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LIBS_ALL) $(LDLIBS)
bench-cells: $(BUILD)/bench/bench_cells
	$(BUILD)/bench/bench_cells
bench: all
	$(S2S_BIN) bench

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(CELLDIR_INSTALL) $(DESTDIR)$(PREFIX)/include/s2s/cells
	install -m 755 $(S2S_BIN) $(DESTDIR)$(PREFIX)/bin/s2s
	install -m 644 $(CELLS) $(DESTDIR)$(CELLDIR_INSTALL)/
	install -m 644 cells/cell.h $(DESTDIR)$(PREFIX)/include/s2s/cells/cell.h
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/s2s $(DESTDIR)$(PREFIX)/include/s2s/cells/cell.h
	rm -rf $(DESTDIR)$(CELLDIR_INSTALL)

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
