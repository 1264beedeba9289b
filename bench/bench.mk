# Benchmarks (included by the Makefile).
#   make bench-bins   the harness and the programs (part of `make all`)
#   make bench        ... and runs them: ns per run against native C and the kernel's JIT
#
# Each bench/progs/NAME.c is one XDP-style program, compiled twice from the same source:
#   clang -target bpf   -> $(BUILD)/bench/progs/NAME.bin, the raw instructions of its "xdp"
#                          section (no ELF loader yet, so no maps, globals or relocations:
#                          the build checks there is no relocation section);
#   $(NATIVE_CC) -O2    -> $(BUILD)/bench/native/NAME.o, prog() renamed bench_native_NAME,
#                          linked into the harness as the native anchor.
# Without clang or llvm-objcopy the benchmarks are skipped with a message, not an error.

BPF_CLANG    ?= clang
LLVM_OBJCOPY ?= llvm-objcopy
LLVM_READELF ?= llvm-readelf
NATIVE_CC    ?= gcc
BPF_CFLAGS   := -O2 -target bpf -mcpu=v3 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror)
NATIVE_FLAGS := -O2 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror)

BENCH_DIR    := $(BUILD)/bench
BENCH_BIN    := $(BENCH_DIR)/bench
BENCH_NAMES  := $(sort $(basename $(notdir $(wildcard bench/progs/*.c))))
BENCH_RAW    := $(BENCH_NAMES:%=$(BENCH_DIR)/progs/%.bin)
BENCH_NATIVE := $(BENCH_NAMES:%=$(BENCH_DIR)/native/%.o)
BENCH_TOOLS  := $(shell command -v $(BPF_CLANG) >/dev/null 2>&1 && \
		  command -v $(LLVM_OBJCOPY) >/dev/null 2>&1 && echo yes)

.PHONY: bench-bins bench
ifeq ($(BENCH_TOOLS),yes)
bench-bins: $(BENCH_BIN) $(BENCH_RAW)

bench: bench-bins
	$(BENCH_BIN)
else
bench-bins:
	@echo "bench: skipped: needs $(BPF_CLANG) and $(LLVM_OBJCOPY) to build the BPF programs"

bench: bench-bins
endif

$(BENCH_BIN): $(BUILD)/obj/bench/bench.o $(BENCH_NATIVE) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BENCH_DIR)/native/%.o: bench/progs/%.c bench/progs/shim.h
	@mkdir -p $(dir $@)
	$(NATIVE_CC) $(NATIVE_FLAGS) -Dprog=bench_native_$* -c $< -o $@

$(BENCH_DIR)/progs/%.bpf.o: bench/progs/%.c bench/progs/shim.h
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

# The section's bytes are the program only if nothing in it needs relocating.
$(BENCH_DIR)/progs/%.bin: $(BENCH_DIR)/progs/%.bpf.o
	@if $(LLVM_READELF) -S $< 2>/dev/null | grep -q '\.rel'; then \
		echo "$<: has relocations: bench programs may not use maps, globals or calls"; \
		exit 1; fi
	$(LLVM_OBJCOPY) -O binary --only-section=xdp $< $@
	@test -s $@ || { echo "$@: empty: no \"xdp\" section in $<"; rm -f $@; exit 1; }

.SECONDARY: $(BENCH_NAMES:%=$(BENCH_DIR)/progs/%.bpf.o)	# kept, to inspect with llvm-objdump

# Maps (bench/map_bench.c): user-space and program lookups, ring buffer, memory per entry,
# each next to the running kernel's figure. Plain C: built whether or not clang is there.
MAP_BENCH := $(BENCH_DIR)/map_bench
.PHONY: bench-maps
bench-bins: $(MAP_BENCH)
bench: bench-maps
# After everything is built and the verifier bench has run: timings are taken one at a
# time, not next to a compiler or another benchmark (make -j).
bench-maps: $(MAP_BENCH) bench-bins bench-verifier
	$(MAP_BENCH)

$(MAP_BENCH): $(BUILD)/obj/bench/map_bench.o $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The verifier (bench/verifier_bench.c): verification time of generated programs, next to
# the running kernel's "verification time" from a level-4 log. Plain C, like the above.
VERIFIER_BENCH := $(BENCH_DIR)/verifier_bench
.PHONY: bench-verifier
bench-bins: $(VERIFIER_BENCH)
bench: bench-verifier
bench-verifier: $(VERIFIER_BENCH)
	$(VERIFIER_BENCH)

$(VERIFIER_BENCH): $(BUILD)/obj/bench/verifier_bench.o $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
