# Makefile — builds the s2s library layers, the cell plugins, the `s2s`
# command, the tests and the benchmarks. Objects go to $(BUILD)/.
#
#   make            build everything          make test        run the tests
#   make run        train the default model and translate (the README's command)
#   make check-asan tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make check-portable  the core tests built for MARCH=x86-64-v2 (packagers')
#   make bench      benchmark figures as JSON lines (long; TATOEBA=corpus path)
#   make bench-mpi  training tokens/s alone and under mpirun -np 2
#   make fuzz       each libFuzzer harness for FUZZ_TIME seconds (fuzz/)
#   make install    PREFIX=/usr/local DESTDIR= (command, cells, libs2s, s2s.h, s2s.pc)
#   make xcheck     config A against the PyTorch reference (python3-torch; seconds)
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
# The number in libs2s.so's soname: raise it when a change to s2s.h breaks
# programs built against an older one.
SOVERSION := 0
VERSION_NUMBER := $(shell echo $(VERSION) | awk -F. '{print $$1 * 10000 + $$2 * 100 + $$3}')
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include

CELLDIR_INSTALL := $(LIBDIR)/s2s/cells
CELLDIR_BUILD    = $(abspath $(BUILD))/cells

# The reference corpus of `make bench` and of the tests that read it: not
# in the repository (bench/README.md says what it is and where to get it).
# Put it at corpora/tatoeba/eng-fra.txt or pass TATOEBA=PATH; a checkout
# beside a ../shared folder that holds it uses that copy.
TATOEBA ?= $(firstword $(wildcard corpora/tatoeba/eng-fra.txt \
             ../shared/corpora/eng-fra/eng-fra.txt) corpora/tatoeba/eng-fra.txt)

# Lazily expanded: pkg-config runs after scripts/deps.sh has installed it.
LIB_PKGS  = yaml-0.1 libutf8proc openblas sentencepiece
PKGS      = $(LIB_PKGS) libedit
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

# MPI (Open MPI) for `mpirun -np N s2s train`: auto = use it when
# pkg-config finds ompi-c (scripts/deps.sh installs it), 0 = never, 1 = must.
# Only core/dist.c sees mpi.h; without MPI the same API is rank 0 of 1.
MPI ?= auto
MPI_ON     = $(if $(filter auto,$(MPI)),$(shell pkg-config --exists ompi-c && echo 1),$(filter 1 yes,$(MPI)))
MPI_CFLAGS = $(if $(MPI_ON),-DS2S_MPI $(shell pkg-config --cflags ompi-c))
MPI_LIBS   = $(if $(MPI_ON),$(shell pkg-config --libs ompi-c))

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror=implicit-function-declaration $(OPT) -march=$(MARCH) -g \
           -fopenmp -fPIC -MMD -MP -I. $(SAN) $(PKG_CFLAGS) \
           -DS2S_VERSION='"$(VERSION)"' -DS2S_VERSION_NUMBER=$(VERSION_NUMBER) \
           -DS2S_CELL_DIR_INSTALL='"$(CELLDIR_INSTALL)"' \
           -DS2S_CELL_DIR_BUILD='"$(CELLDIR_BUILD)"'
LDFLAGS ?=
LDFLAGS += -fopenmp $(SAN)
# -lstdc++: tokenizer/spm.cc, the one C++ file (the SentencePiece wrapper),
# is in libs2s_tokenizer.a; the binaries are linked by the C compiler.
LDLIBS   = $(PKG_LIBS) $(MPI_LIBS) -lstdc++ -ldl -lm

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
SEQ2SEQ_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(wildcard seq2seq/*.c))
# The command-line front end (seq2seq/cli/) sits on top of the library and
# is not part of it; main.c is the program, the rest an archive the CLI
# tests link.
CLI_OBJ       := $(patsubst %.c,$(BUILD)/%.o,$(filter-out seq2seq/cli/main.c,$(wildcard seq2seq/cli/*.c)))

LIB_CORE      := $(BUILD)/libs2s_core.a
LIB_TOKENIZER := $(BUILD)/libs2s_tokenizer.a
LIB_CORPORA   := $(BUILD)/libs2s_corpora.a
LIB_SEQ2SEQ   := $(BUILD)/libs2s_seq2seq.a
LIB_CLI       := $(BUILD)/libs2s_cli.a

CELLS      := $(patsubst cells/%.c,$(BUILD)/cells/%.so,$(wildcard cells/*.c))
TEST_CELLS := $(patsubst tests/cells/%.c,$(BUILD)/tests/cells/%.so,$(wildcard tests/cells/*.c)) \
              $(patsubst tests/cells/%.cc,$(BUILD)/tests/cells/%.so,$(wildcard tests/cells/*.cc))
S2S_BIN    := $(BUILD)/s2s

# The installed library: every layer but the command line, as libs2s.a and
# libs2s.so (exporting only the calls of s2s.h), with its public header.
LIB_OBJ    := $(SEQ2SEQ_OBJ) $(CORPORA_OBJ) $(TOKENIZER_OBJ) $(CORE_OBJ)
LIB_A      := $(BUILD)/libs2s.a
LIB_SONAME := libs2s.so.$(SOVERSION)
LIB_SO     := $(BUILD)/libs2s.so.$(VERSION)
LIB_HEADER := $(BUILD)/include/s2s/s2s.h
LIB_ALL    := $(LIB_A) $(LIB_SO) $(LIB_HEADER)

# Each test file links the layers its prefix names, and nothing above.
TESTS_CORE      := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/core_*.c tests/cells_*.c))
TESTS_TOKENIZER := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/tokenizer_*.c))
TESTS_CORPORA   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/corpora_*.c))
TESTS_SEQ2SEQ   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/seq2seq_*.c))
TESTS_CLI       := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/cli_*.c))
TESTS := $(TESTS_CORE) $(TESTS_TOKENIZER) $(TESTS_CORPORA) $(TESTS_SEQ2SEQ) $(TESTS_CLI)

.PHONY: fuzz fuzz-smoke all test check-portable test-core test-tokenizer test-corpora test-seq2seq test-cli run \
        check-asan bench bench-cells bench-mpi install uninstall clean deps

all: $(CELLS) $(S2S_BIN) $(LIB_ALL)

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

$(BUILD)/core/dist.o: CFLAGS += $(MPI_CFLAGS)

$(LIB_CORE): $(CORE_OBJ)
$(LIB_TOKENIZER): $(TOKENIZER_OBJ)
$(LIB_CORPORA): $(CORPORA_OBJ)
$(LIB_SEQ2SEQ): $(SEQ2SEQ_OBJ)
$(LIB_CLI): $(CLI_OBJ)
$(LIB_A): $(LIB_OBJ)
$(BUILD)/lib%.a: | $(DEPS_OK)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJ) seq2seq/libs2s.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) \
	    -Wl,--version-script=seq2seq/libs2s.map $(LIB_OBJ) -o $@ \
	    $(shell pkg-config --libs $(LIB_PKGS)) $(MPI_LIBS) -lstdc++ -ldl -lm
	ln -sf $(@F) $(BUILD)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(BUILD)/libs2s.so

$(LIB_HEADER): seq2seq/s2s.h Makefile
	@mkdir -p $(@D)
	sed -e 's/@S2S_VERSION@/$(VERSION)/' -e 's/@S2S_VERSION_NUMBER@/$(VERSION_NUMBER)/' $< > $@

$(BUILD)/cells/%.so: cells/%.c cells/cell.h cells/standard.h | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CELL_CFLAGS) $< -o $@

$(BUILD)/tests/cells/%.so: tests/cells/%.c cells/cell.h $(wildcard tests/cells/*.h) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CELL_CFLAGS) -I. $< -o $@
$(BUILD)/tests/cells/irnn_flawed.so: tests/cells/irnn.c

# A cell written in C++ (cells/cell.h's extern "C" guards and export macro).
$(BUILD)/tests/cells/%.so: tests/cells/%.cc cells/cell.h $(wildcard tests/cells/*.h) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) -std=c++20 -Wall -Wextra -Wno-unused-function $(OPT) -g -fPIC -shared $(SAN) -I. $< -o $@

LIBS_ALL := $(LIB_SEQ2SEQ) $(LIB_CORPORA) $(LIB_TOKENIZER) $(LIB_CORE)

$(S2S_BIN): $(BUILD)/seq2seq/cli/main.o $(LIB_CLI) $(LIBS_ALL)
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
$(TESTS_CLI): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_CLI) $(LIBS_ALL) $(CELLS) $(TEST_CELLS) $(S2S_BIN) $(LIB_ALL)
	$(CC) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS) $(CRITERION)

# Tests find the built plugins, the binary and the shared corpus through
# these; they run from the repository root.
TEST_ENV = S2S_BUILD=$(abspath $(BUILD)) S2S_CELL_PATH= OMP_NUM_THREADS=2 S2S_SAN='$(SAN)' \
           S2S_TATOEBA=$(abspath $(TATOEBA))

# The README's test command also runs each fuzzer for a few seconds (not
# under check-asan: the fuzzers carry their own sanitizers).
test: $(TESTS) $(if $(SAN),,fuzz-smoke)
	@$(TEST_ENV) ./scripts/run-tests.sh $(TESTS)
test-core: $(TESTS_CORE)
	@$(TEST_ENV) ./scripts/run-tests.sh $^
test-tokenizer: $(TESTS_TOKENIZER)
	@$(TEST_ENV) ./scripts/run-tests.sh $^
test-corpora: $(TESTS_CORPORA)
	@$(TEST_ENV) ./scripts/run-tests.sh $^
test-seq2seq: $(TESTS_SEQ2SEQ)
	@$(TEST_ENV) ./scripts/run-tests.sh $^
test-cli: $(TESTS_CLI)
	@$(TEST_ENV) ./scripts/run-tests.sh $^

# Sanitizers want frame pointers and less inlining; leaks are checked too.
check-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

# The packagers' baseline builds, and the core tests pass on it: SIMD paths
# compiled out (the screen, the frozen kernel) fall back, not break.
check-portable:
	$(MAKE) BUILD=build-portable MARCH=x86-64-v2 all test-core

run: all
	./scripts/run-default.sh $(BUILD)

# libFuzzer harnesses (fuzz/), one per reader, built with clang under
# AddressSanitizer and UndefinedBehaviorSanitizer in $(FUZZ_BUILD).
#   make fuzz FUZZ_TIME=600    each harness for FUZZ_TIME seconds (60)
#   make fuzz FUZZ_RUNS=10000000 FUZZ_TIME=86400   or until N executions
#   make fuzz-smoke            each for FUZZ_SMOKE seconds (2), in make test
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME  ?= 60
FUZZ_SMOKE ?= 2
FUZZ_CC    ?= clang
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fopenmp=libgomp \
              -I. $(PKG_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined \
              -DS2S_VERSION='"$(VERSION)"' -DS2S_VERSION_NUMBER=$(VERSION_NUMBER) \
              -DS2S_CELL_DIR_INSTALL='"$(CELLDIR_INSTALL)"' \
              -DS2S_CELL_DIR_BUILD='"$(CELLDIR_BUILD)"'
FUZZ_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(wildcard core/*.c tokenizer/*.c corpora/*.c) \
              $(wildcard seq2seq/*.c)) $(FUZZ_BUILD)/obj/tokenizer/spm.o
FUZZERS  := $(patsubst fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard fuzz/fuzz_*.c))
.SECONDARY: $(FUZZ_OBJ)

$(FUZZ_BUILD)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
# The checksum loops (CRC-32, SHA-256) and the numeric kernels have no
# branches worth covering; instrumenting them took a third of the
# checkpoint fuzzer's time and a quarter of the translate one's.
FUZZ_NOCOV := $(FUZZ_BUILD)/obj/core/crc32.o $(FUZZ_BUILD)/obj/core/sha256.o \
              $(FUZZ_BUILD)/obj/core/kernels.o
$(FUZZ_NOCOV): $(FUZZ_BUILD)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/obj/tokenizer/spm.o: tokenizer/spm.cc | $(DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CC)++ -std=c++17 -g -O1 -fno-omit-frame-pointer -I. $(shell pkg-config --cflags sentencepiece) \
	    -fsanitize=address,undefined -fno-sanitize=vptr -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJ) -o $@ $(LDLIBS) -lgomp
fuzz: $(FUZZERS) $(CELLS)
	FUZZ_RUNS=$(FUZZ_RUNS) ./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_TIME) $(FUZZERS)
fuzz-smoke: $(FUZZERS) $(CELLS)
	@./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SMOKE) $(FUZZERS)

$(BUILD)/bench/%: bench/%.c $(LIBS_ALL) $(CELLS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LIBS_ALL) $(LDLIBS)
bench-cells: $(BUILD)/bench/bench_cells
	$(BUILD)/bench/bench_cells
bench: all
	S2S_TATOEBA=$(TATOEBA) $(S2S_BIN) bench
bench-mpi: all
	S2S_TATOEBA=$(abspath $(TATOEBA)) ./scripts/bench-mpi.sh $(BUILD)

# The attention model (config A) against bench/pytorch_reference.py from
# identical weights: scores, greedy output, gradients, Adam steps (one
# thread, seconds; needs python3-torch and the corpus). XCHECK_FLAGS=--full
# adds A's own sizes (about a minute).
.PHONY: xcheck
xcheck: all
	OMP_NUM_THREADS=1 /usr/bin/python3 scripts/xcheck_attention.py --s2s $(S2S_BIN) \
	    --data $(TATOEBA) $(XCHECK_FLAGS)

# The command, the cells, the library (shared with its soname links, and
# static), its header and pkg-config file, and cell.h for cell authors.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(CELLDIR_INSTALL) \
	    $(DESTDIR)$(INCLUDEDIR)/s2s/cells $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(S2S_BIN) $(DESTDIR)$(PREFIX)/bin/s2s
	install -m 644 $(CELLS) $(DESTDIR)$(CELLDIR_INSTALL)/
	install -m 644 cells/cell.h $(DESTDIR)$(INCLUDEDIR)/s2s/cells/cell.h
	install -m 644 $(LIB_HEADER) $(DESTDIR)$(INCLUDEDIR)/s2s/s2s.h
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libs2s.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libs2s.so
	sed -e 's#@PREFIX@#$(PREFIX)#' -e 's#@LIBDIR@#$(LIBDIR)#' \
	    -e 's#@INCLUDEDIR@#$(INCLUDEDIR)#' -e 's#@VERSION@#$(VERSION)#' \
	    -e 's#@REQUIRES@#$(LIB_PKGS)$(if $(MPI_ON), ompi-c)#' seq2seq/s2s.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/s2s.pc
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/s2s $(DESTDIR)$(INCLUDEDIR)/s2s/cells/cell.h \
	    $(DESTDIR)$(INCLUDEDIR)/s2s/s2s.h $(DESTDIR)$(LIBDIR)/libs2s.a \
	    $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME) \
	    $(DESTDIR)$(LIBDIR)/libs2s.so $(DESTDIR)$(LIBDIR)/pkgconfig/s2s.pc
	rm -rf $(DESTDIR)$(CELLDIR_INSTALL)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
