# uebpf: plain GNU Make. Everything is built under $(BUILD) (default build/).
#   make            library, CLI, plugin, tests, benchmarks
#   make test       run the whole test suite (prints "N passed, N failed")
#   make asan       the test suite built and run with ASan+UBSan (in build/asan)
#   make bench      benchmarks, with ratios against native C and the kernel JIT
#   make demo       the main demo
#   make install PREFIX=/usr/local [DESTDIR=...]

VERSION_MAJOR := 0
VERSION       := 0.1.0
PREFIX        ?= /usr/local
DESTDIR       ?=
BUILD         ?= build
CC            ?= cc
SAN           ?=
WERROR        ?=

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -fPIC -fvisibility=hidden -Iinclude -Isrc -MMD -MP -D_GNU_SOURCE
ifeq ($(WERROR),1)
CFLAGS   += -Werror
endif
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DUEBPF_SANITIZE=1
LDFLAGS  += -fsanitize=address,undefined
endif
LDLIBS   += -lpthread
# libunwind (Debian libunwind-dev): user stacks for bpf_get_stackid/bpf_get_stack
LDLIBS   += $(shell pkg-config --libs libunwind 2>/dev/null || echo -lunwind)

LIB_SRCS  := $(sort $(shell find src -name '*.c'))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_SRCS  := $(sort $(wildcard tools/cli/*.c))
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_LIB  := $(BUILD)/obj/tests/ut.o

EXAMPLE_SRCS := $(sort $(wildcard examples/*/*.c))
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))

STATIC  := $(BUILD)/lib/libuebpf.a
SONAME  := libuebpf.so.$(VERSION_MAJOR)
SHARED  := $(BUILD)/lib/libuebpf.so.$(VERSION)
CLI     := $(BUILD)/bin/uebpf
PLUGIN  := $(BUILD)/bin/uebpf-plugin

.PHONY: all lib tools tests examples test asan bench demo install clean
all: lib tools tests examples bench-bins

lib: $(STATIC) $(SHARED)
tools: $(CLI) $(PLUGIN)
tests: $(TEST_BINS)
examples: $(EXAMPLE_BINS)

# User-space example programs (one directory each), linked like an application would.
$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(STATIC): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The shared library exports only what the public headers mark UEBPF_API.
$(SHARED): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	ln -sf libuebpf.so.$(VERSION) $(BUILD)/lib/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/lib/libuebpf.so

$(CLI): $(CLI_OBJS) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(STATIC) $(LDLIBS)

$(PLUGIN): $(BUILD)/obj/tools/uebpf-plugin.o $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_LIB) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The disassembler as a filter for tests/objdump.sh (its own main, so not a ut test).
tests: $(BUILD)/tests/disasm_stdin
$(BUILD)/tests/disasm_stdin: $(BUILD)/obj/tests/tools/disasm_stdin.o $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test: all
	BUILD=$(BUILD) SAN=$(SAN) CC=$(CC) scripts/run-tests.sh

asan:
	$(MAKE) BUILD=build/asan SAN=1 CC=clang test

include bench/bench.mk

demo: all
	scripts/demo.sh $(BUILD)

install: lib tools
	install -d $(DESTDIR)$(PREFIX)/include/uebpf $(DESTDIR)$(PREFIX)/include/bpf \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/uebpf/*.h $(DESTDIR)$(PREFIX)/include/uebpf/
	install -m 644 include/bpf/*.h $(DESTDIR)$(PREFIX)/include/bpf/
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libuebpf.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libuebpf.so
	install -m 755 $(CLI) $(PLUGIN) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' scripts/uebpf.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/uebpf.pc

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
