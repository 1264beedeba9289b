# uebpf: plain GNU Make. Everything is built under $(BUILD) (default build/).
#   make            library, CLI, plugin, tests, benchmarks
#   make test       run the whole test suite (prints "N passed, N failed")
#   make asan       the test suite built and run with ASan+UBSan (in build/asan)
#   make tsan       the tests that start threads, under ThreadSanitizer (in build/tsan)
#   make fuzz       libFuzzer targets, FUZZ_TIME seconds each (docs/fuzzing.md)
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
# UBSan's pointer-overflow, alignment and null checks in the interpreter's single function
# of several hundred computed-goto handlers make clang 14's code generator take 108 s on
# interp.c (5 s without those three; measured 2026-11-29). ASan still checks every memory
# access of the file, and the other UBSan checks stay; every other file keeps all of them.
$(BUILD)/obj/src/vm/interp.o: CFLAGS += -fno-sanitize=pointer-overflow,alignment,null
endif
ifeq ($(SAN),thread)
CFLAGS   += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=thread
endif
LDLIBS   += -lpthread
# libunwind (Debian libunwind-dev): user stacks for bpf_get_stackid/bpf_get_stack
LDLIBS   += $(shell pkg-config --libs libunwind 2>/dev/null || echo -lunwind)
# libelf (Debian libelf-dev): the ELF object loader and BTF from ELF files
LDLIBS   += $(shell pkg-config --libs libelf 2>/dev/null || echo -lelf)
# capstone (Debian libcapstone-dev): disassembly of JIT code (uebpf prog dump jited)
LDLIBS   += $(shell pkg-config --libs capstone 2>/dev/null || echo -lcapstone)
# libmd (Debian libmd-dev): SHA-256 for program tags (the kernel's bpf_prog_calc_tag)
LDLIBS   += $(shell pkg-config --libs libmd 2>/dev/null || echo -lmd)

LIB_SRCS  := $(sort $(shell find src -name '*.c'))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_SRCS  := $(sort $(wildcard tools/cli/*.c))
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_LIB  := $(BUILD)/obj/tests/ut.o

EXAMPLE_SRCS := $(sort $(filter-out %.bpf.c,$(wildcard examples/*/*.c)))
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))
# The examples' BPF programs (examples/NAME/NAME.bpf.c), compiled as for the kernel.
EXAMPLE_BPF  := $(patsubst examples/%.c,$(BUILD)/examples/%.o,$(wildcard examples/*/*.bpf.c))
BPF_CC       ?= clang
EX_BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -I/usr/include/$(shell $(CC) -print-multiarch)

STATIC  := $(BUILD)/lib/libuebpf.a
SONAME  := libuebpf.so.$(VERSION_MAJOR)
SHARED  := $(BUILD)/lib/libuebpf.so.$(VERSION)
CLI     := $(BUILD)/bin/uebpf
PLUGIN  := $(BUILD)/bin/uebpf-plugin

.PHONY: all lib tools tests examples test asan tsan tsan-run bench demo install clean
all: lib tools tests examples bench-bins

lib: $(STATIC) $(SHARED)
tools: $(CLI) $(PLUGIN)
tests: $(TEST_BINS)
examples: $(EXAMPLE_BINS) $(EXAMPLE_BPF)

# User-space example programs (one directory each), linked like an application would
# (libpcap for the firewall's capture files).
$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs libpcap 2>/dev/null || echo -lpcap)

$(BUILD)/examples/%.bpf.o: examples/%.bpf.c
	@mkdir -p $(dir $@)
	$(BPF_CC) $(EX_BPF_CFLAGS) -c $< -o $@

# BPF objects of the loader tests (tests/bpf/NAME.bpf.c -> $(BUILD)/bpf/NAME.o), compiled as
# for the kernel; tests find them in $BUILD/bpf.
TEST_BPF_OBJS := $(patsubst tests/bpf/%.bpf.c,$(BUILD)/bpf/%.o,$(wildcard tests/bpf/*.bpf.c))
tests: $(TEST_BPF_OBJS)
$(BUILD)/bpf/%.o: tests/bpf/%.bpf.c
	@mkdir -p $(dir $@)
	$(BPF_CC) -O2 -g -target bpf -Wall -I/usr/include/$(shell $(CC) -print-multiarch) -c $< -o $@

# The kernel side of the loader's differential test: the same objects through the system
# libbpf (its headers, not include/) into the live kernel. A separate executable: uebpf
# itself never links libbpf.
tests: $(BUILD)/tests/kern_run
$(BUILD)/tests/kern_run: tests/tools/kern_run.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $< -lbpf
tests: $(BUILD)/tests/kern_verdicts
$(BUILD)/tests/kern_verdicts: tests/tools/kern_verdicts.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $< -lbpf

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

# The CLI reads and writes capture files (prog run --pcap) with libpcap (libpcap-dev).
CLI_LIBS := $(shell pkg-config --libs libpcap 2>/dev/null || echo -lpcap)
$(CLI): $(CLI_OBJS) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(STATIC) $(LDLIBS) $(CLI_LIBS)

$(PLUGIN): $(BUILD)/obj/tools/uebpf-plugin.o $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_LIB) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Allocation-failure injection (tests/test_faultinj.c): the library's calls to these go
# through the test's __wrap_ functions, which can fail the Nth one.
FAULTINJ_WRAP := malloc calloc realloc strdup strndup aligned_alloc free mmap munmap \
		 ftruncate fallocate memfd_create
$(BUILD)/tests/test_faultinj: LDFLAGS += $(FAULTINJ_WRAP:%=-Wl,--wrap=%)

# The disassembler as a filter for tests/objdump.sh (its own main, so not a ut test).
tests: $(BUILD)/tests/disasm_stdin
$(BUILD)/tests/disasm_stdin: $(BUILD)/obj/tests/tools/disasm_stdin.o $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A map with BTF for tests/cli_map_btf.sh, made twice from one source: in the kernel
# (system libbpf, for bpftool) and in uebpf (for `uebpf map`).
tests: $(BUILD)/tests/map_btf_make_k $(BUILD)/tests/map_btf_make_u
$(BUILD)/tests/map_btf_make_k: tests/tools/map_btf_make.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $< -lbpf
$(BUILD)/tests/map_btf_make_u: $(BUILD)/obj/tests/tools/map_btf_make.o $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A capture-file generator for the CLI's --pcap tests (tests/cli_prog.sh); no library.
tests: $(BUILD)/tests/gen_pcap
$(BUILD)/tests/gen_pcap: $(BUILD)/obj/tests/tools/gen_pcap.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

test: all
	BUILD=$(BUILD) SAN=$(SAN) CC=$(CC) scripts/run-tests.sh

asan:
	$(MAKE) BUILD=build/asan SAN=1 CC=clang test

# The tests that start threads (any tests/test_*.c that uses pthreads: a new one joins by
# itself), built and run under ThreadSanitizer (clang) in build/tsan; a race report fails.
TSAN_TESTS := $(patsubst tests/%.c,%,$(shell grep -l pthread tests/test_*.c))
tsan:
	$(MAKE) BUILD=build/tsan SAN=thread CC=clang tsan-run

.SECONDARY: $(TSAN_TESTS:%=$(BUILD)/obj/tests/%.o) $(TEST_LIB)
tsan-run: $(TSAN_TESTS:%=$(BUILD)/tests/%)
	@p=0; f=0; for t in $^; do \
		if TSAN_OPTIONS="halt_on_error=1 exitcode=66 $(TSAN_OPTIONS)" $$t; then p=$$((p + 1)); \
		else f=$$((f + 1)); echo "$$t: FAILED under TSan"; fi; \
	done; echo "tsan: $$p passed, $$f failed"; [ $$f -eq 0 ]

include bench/bench.mk
include tests/fuzz/fuzz.mk

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
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(strip $(LDLIBS))|' scripts/uebpf.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/uebpf.pc

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
