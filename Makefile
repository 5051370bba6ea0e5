# cowlab: one non-recursive GNU Makefile.  Everything is built under build/.
#
#   make            build build/cowlab and the library (debug asserts on)
#   make run        build, then run the main job
#   make test       build and run the whole test suite
#   make bench      benchmarks (optimised, asserts off)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
COW_DEBUG ?= 1

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS   ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -DCOW_DEBUG=$(COW_DEBUG) -Iinclude -Isrc -MMD -MP
LDLIBS   := -lurcu-memb -lpthread

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

.PHONY: all run test bench clean install deps
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

run: $(COWLAB)
	./$(COWLAB) --version
	./$(COWLAB) demo

test: $(COWLAB) $(TEST_BINS)
	@sh tests/run.sh $(BUILD)/tests

bench:
	@echo "no benchmarks yet: they arrive with the memory manager's core"

install: $(COWLAB)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 $(COWLAB) $(DESTDIR)$(PREFIX)/bin/cowlab
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libcowlab.a
	install -m 644 include/cowlab.h $(DESTDIR)$(PREFIX)/include/cowlab.h

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_BINS:=.d)
