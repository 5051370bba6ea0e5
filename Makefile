# cowlab: one non-recursive GNU Makefile.  Everything is built under build/.
#
#   make            build build/cowlab and the library (debug asserts on)
#   make run        build, then run the main job
#   make test       build and run the whole test suite, then the sanitizer suites
#   make sanitize   the unit tests and every bundled scenario under ASan + UBSan
#   make tsan       every bundled scenario's stress mode under ThreadSanitizer
#   make bench      benchmarks (optimised, asserts off)
#   make install    PREFIX=/usr/local DESTDIR=  (make install-dev: the library too)
#   make clean

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
COW_DEBUG ?= 1

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror \
            -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -DCOW_DEBUG=$(COW_DEBUG) -Iinclude -Isrc -MMD -MP
LDLIBS   := -lurcu-memb -luring -lpthread

LIB_SRCS := $(sort $(wildcard src/base/*.c src/sync/*.c src/sched/*.c src/mm/*.c \
              src/io/*.c src/scenario/*.c src/kernel/*.c))
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libcowlab.a
COWLAB   := $(BUILD)/cowlab
DEPS_OK  := $(BUILD)/.deps-ok

.PHONY: all run test bench clean install install-dev deps unit-tests sanitize sanitize-build tsan tsan-build
all: $(COWLAB)

deps: $(DEPS_OK)
$(DEPS_OK): scripts/deps.sh
	@sh scripts/deps.sh
	@mkdir -p $(@D) && touch $@

$(BUILD)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(COWLAB): $(CLI_OBJS) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDLIBS) -lcmocka

# The main job: every matrix scenario under every policy preset, held
# against the verdicts history documents (docs/history.md).
# Then the host's kernel beside the model, where the host allows it (a
# host's own quirks do not fail the main job: see docs/kernel.md).
run: $(COWLAB)
	@./$(COWLAB) --version
	./$(COWLAB) matrix scenarios/matrix
	-./$(COWLAB) diff scenarios scenarios/gup scenarios/matrix --iterations 10

unit-tests: $(TEST_BINS)

# The normal suite, then the sanitizer suite (make sanitize) and the
# ThreadSanitizer suite (make tsan) folded into the same closing line:
# tests/run.sh counts each when SANITIZE or TSAN names its build folder.
test: $(COWLAB) $(BUILD)/cowbench $(TEST_BINS) sanitize-build tsan-build
	@SANITIZE=$(SAN_BUILD) TSAN=$(TSAN_BUILD) sh tests/run.sh $(BUILD)/tests

# ---- sanitizers ---------------------------------------------------------------
# make sanitize
#     builds the unit tests and cowlab with AddressSanitizer and
#     UndefinedBehaviorSanitizer (alignment included: gcc's and clang's
#     -fsanitize=undefined both check it) in build/asan, and runs
#     tests/sanitize.sh: every unit-test binary, then `cowlab run FILE
#     --mode all` over every bundled scenario.  Any sanitizer report fails
#     it (UBSan does not recover; ASan aborts by default).  It ends with
#         sanitize: N passed, N failed
#     `make test` runs the same after the normal suite.
SAN_BUILD  := $(BUILD)/asan
SAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined
sanitize-build: | $(DEPS_OK)
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) CFLAGS='$(SAN_CFLAGS)' \
		$(SAN_BUILD)/cowlab unit-tests

sanitize: sanitize-build
	@sh tests/sanitize.sh $(SAN_BUILD)

# make tsan
#     builds cowlab and tests/tsan_selftest.c with ThreadSanitizer in
#     build/tsan (COW_TSAN=1: the fences of src/sync take a form TSan
#     understands, src/sync/tsan.h) and runs tests/tsan.sh: the self-test
#     (a deliberate race must be reported, a fenced hand-off must not),
#     then `cowlab run FILE --mode stress` over every bundled scenario.
#     Any ThreadSanitizer report fails it.  It ends with
#         tsan: N passed, N failed
#     `make test` runs it after the sanitizer suite.  See
#     docs/architecture.md (ThreadSanitizer).
TSAN_BUILD  := $(BUILD)/tsan
TSAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=thread -DCOW_TSAN=1
tsan-build: | $(DEPS_OK)
	@$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) CFLAGS='$(TSAN_CFLAGS)' \
		$(TSAN_BUILD)/cowlab $(TSAN_BUILD)/tsan_selftest

tsan: tsan-build
	@sh tests/tsan.sh $(TSAN_BUILD)

$(BUILD)/tsan_selftest: tests/tsan_selftest.c $(LIB) | $(DEPS_OK)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Benchmarks run an optimised build without debug asserts, in build/release.
RELEASE := $(BUILD)/release
# cowbench: cowlab beside the host kernel; explore.sh: the explorer.
bench:
	@$(MAKE) --no-print-directory BUILD=$(RELEASE) COW_DEBUG=0 $(RELEASE)/cowlab $(RELEASE)/cowbench
	@mkdir -p $(BUILD)/bench
	$(RELEASE)/cowbench --json $(BUILD)/bench/cowbench.json --markdown $(BUILD)/bench/cowbench.md
	sh bench/explore.sh $(RELEASE)/cowlab $(BUILD)/bench

$(BUILD)/cowbench: bench/cowbench.c $(LIB) | $(DEPS_OK)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# make install: the optimised cowlab (built in $(RELEASE), debug checks
# off), its manual pages, the bundled scenarios and the documentation
# under share/cowlab (README and docs/ as in the tree, so their links
# hold), and bash completion.  `cowlab matrix` with no folder finds the
# installed scenarios beside the binary.  make install-dev adds the
# library and its header.
SHARE := $(DESTDIR)$(PREFIX)/share
install:
	@$(MAKE) --no-print-directory BUILD=$(RELEASE) COW_DEBUG=0 $(RELEASE)/cowlab
	install -d $(DESTDIR)$(PREFIX)/bin $(SHARE)/man/man1 $(SHARE)/man/man5 \
		$(SHARE)/cowlab/scenarios/gup $(SHARE)/cowlab/scenarios/matrix \
		$(SHARE)/cowlab/doc/docs $(SHARE)/bash-completion/completions
	install -m 755 $(RELEASE)/cowlab $(DESTDIR)$(PREFIX)/bin/cowlab
	install -m 644 man/cowlab.1 $(SHARE)/man/man1/cowlab.1
	install -m 644 man/cowlab-scenarios.5 $(SHARE)/man/man5/cowlab-scenarios.5
	install -m 644 scenarios/*.cow $(SHARE)/cowlab/scenarios/
	install -m 644 scenarios/gup/*.cow $(SHARE)/cowlab/scenarios/gup/
	install -m 644 scenarios/matrix/*.cow $(SHARE)/cowlab/scenarios/matrix/
	install -m 644 README.md $(SHARE)/cowlab/doc/
	install -m 644 docs/*.md $(SHARE)/cowlab/doc/docs/
	install -m 644 contrib/bash-completion/cowlab $(SHARE)/bash-completion/completions/cowlab

install-dev: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libcowlab.a
	install -m 644 include/cowlab.h $(DESTDIR)$(PREFIX)/include/cowlab.h

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_BINS:=.d)

# ---- fuzzing ------------------------------------------------------------------
# make fuzz [FUZZ_SECONDS=60] [FUZZ_FLAGS=...]
#     builds build/fuzz/fuzz_parser (clang: libFuzzer, ASan, UBSan) from the
#     parser's sources alone (and the preset table, which expect lines are
#     checked against) and runs it over tests/fuzz/corpus, with
#     scenarios/ as extra seeds; new inputs land in tests/fuzz/corpus, and
#     crash reproducers in build/fuzz/.
# make fuzz-merge
#     shrinks tests/fuzz/corpus to a small set of inputs with the same
#     coverage (a greedy set cover), keeping the hand-written seed-*.cow
#     files as they are.
# `make test` parses the committed corpus without libFuzzer (test_parser).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
FUZZ_CFLAGS  := -std=gnu11 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -DCOW_DEBUG=1 -Iinclude -Isrc
FUZZ_SRCS    := tests/fuzz/fuzz_parser.c $(wildcard src/scenario/lexer.c src/scenario/pars*.c) \
                src/scenario/validate.c src/scenario/scenario.c \
                src/base/base.c src/mm/policy.c
FUZZ_BIN     := $(BUILD)/fuzz/fuzz_parser
FUZZ_CORPUS  := tests/fuzz/corpus
FUZZ_RUN     := -max_len=4096 -timeout=10 -dict=tests/fuzz/parser.dict \
                -artifact_prefix=$(BUILD)/fuzz/

.PHONY: fuzz fuzz-merge
$(FUZZ_BIN): $(FUZZ_SRCS) src/scenario/scenario.h src/scenario/ops.def src/scenario/parse.h \
             src/scenario/lexer.h src/base/base.h \
             src/mm/policy.h include/cowlab.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS)

fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_CORPUS)
	./$(FUZZ_BIN) $(FUZZ_RUN) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		$(FUZZ_FLAGS) $(FUZZ_CORPUS) $(wildcard scenarios)

fuzz-merge: $(FUZZ_BIN)
	rm -rf $(BUILD)/fuzz/merged && mkdir -p $(BUILD)/fuzz/merged
	./$(FUZZ_BIN) $(FUZZ_RUN) -set_cover_merge=1 $(BUILD)/fuzz/merged $(FUZZ_CORPUS)
	find $(FUZZ_CORPUS) -type f ! -name 'seed-*' -delete
	cp $(BUILD)/fuzz/merged/* $(FUZZ_CORPUS)/
	@for f in $(FUZZ_CORPUS)/seed-*; do \
		rm -f $(FUZZ_CORPUS)/$$(sha1sum < "$$f" | cut -d' ' -f1); done
	@echo "fuzz-merge: $$(ls $(FUZZ_CORPUS) | wc -l) inputs in $(FUZZ_CORPUS)"
