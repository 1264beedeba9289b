# Fuzzing (included by the Makefile; docs/fuzzing.md says how to use it).
#   make fuzz-bins               libFuzzer targets tests/fuzz/fuzz_*.c -> $(BUILD)/fuzz/fuzz_*
#   make fuzz [FUZZ_TIME=60]     ... and runs each for FUZZ_TIME seconds (scripts/fuzz.sh)
#
# The targets and everything under them (library, CLI) are compiled by clang with
# -fsanitize=fuzzer-no-link,address,undefined, in a sub-make whose BUILD is $(BUILD)/fuzz:
# its objects never mix with the normal build. FUZZ_BUILD=1 marks that sub-make.

FUZZ_TIME ?= 60
FUZZ_CC   ?= clang
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: fuzz-bins fuzz fuzz-targets
ifeq ($(FUZZ_BUILD),1)
CFLAGS += -fsanitize=fuzzer-no-link
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/%)

fuzz-targets: $(FUZZ_BINS)

$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(STATIC)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# fuzz_cli calls the CLI in-process: main.c again, its main() renamed (the harness
# declares it; -Wmissing-prototypes does not exempt the new name).
FUZZ_CLI_OBJS := $(filter-out %/tools/cli/main.o,$(CLI_OBJS)) $(BUILD)/obj/tools/cli/main_fuzz.o
$(BUILD)/obj/tools/cli/main_fuzz.o: tools/cli/main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Dmain=uebpf_cli_main -Wno-missing-prototypes -c $< -o $@

$(BUILD)/fuzz_cli: $(BUILD)/obj/tests/fuzz/fuzz_cli.o $(FUZZ_CLI_OBJS) $(STATIC)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) $(CLI_LIBS)
else
fuzz-bins:
	$(MAKE) BUILD=$(BUILD)/fuzz CC=$(FUZZ_CC) SAN=1 FUZZ_BUILD=1 fuzz-targets

fuzz: fuzz-bins
	scripts/fuzz.sh $(BUILD)/fuzz $(FUZZ_TIME)
endif
