/*
 * disasm_stdin: the uebpf disassembler as a filter, for tests/objdump.sh.
 *
 *   disasm_stdin [--conf]   reads one instruction per line as hex bytes (8, or 16 for an
 *                           lddw; blanks between bytes allowed) and prints one line each
 *   disasm_stdin --samples  prints sample instructions of the rows of ub_ops[] up to
 *                           ISA v3 as hex, one per line, to compare with llvm-mc
 */
#include <stdio.h>
#include <string.h>
#include "isa/isa.h"

static int hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses hex digit pairs (blanks ignored) into insns; returns the number of slots. */
static size_t parse_line(const char *s, struct bpf_insn *insns, size_t max)
{
	unsigned char bytes[2 * sizeof(struct bpf_insn)];
	size_t n = 0;

	for (; *s && *s != '\n'; s++) {
		if (*s == ' ' || *s == '\t')
			continue;
		if (hex_val(s[0]) < 0 || hex_val(s[1]) < 0 || n == sizeof(bytes))
			return 0;
		bytes[n++] = (unsigned char)(hex_val(s[0]) << 4 | hex_val(s[1]));
		s++;
	}
	if (n % sizeof(struct bpf_insn) || n / sizeof(struct bpf_insn) > max)
		return 0;
	memcpy(insns, bytes, n);
	return n / sizeof(struct bpf_insn);
}

static int filter(enum ub_syntax syn)
{
	char line[256], text[256];
	struct bpf_insn insns[2];

	while (fgets(line, sizeof(line), stdin)) {
		size_t n = parse_line(line, insns, 2);
		if (!n) {
			fprintf(stderr, "disasm_stdin: bad line: %s", line);
			return 1;
		}
		ub_disasm_insn(insns, n, 0, syn, text, sizeof(text));
		printf("%s\n", text);
	}
	return 0;
}

static void print_hex(const struct bpf_insn *in, size_t n)
{
	const unsigned char *b = (const unsigned char *)in;

	for (size_t k = 0; k < n * sizeof(*in); k++)
		printf("%s%02x", k ? " " : "", b[k]);
	printf("\n");
}

/* Whether insn (two slots for lddw) is valid in the middle of a run of exits. */
static int valid_here(const struct bpf_insn *in, size_t n)
{
	struct bpf_insn prog[32];
	char log[256];
	struct ub_log l;

	for (size_t k = 0; k < 32; k++)
		prog[k] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	memcpy(&prog[16], in, n * sizeof(*in));
	ub_log_init(&l, log, sizeof(log));
	return ub_isa_validate(prog, 32, &l) == 0;
}

/*
 * Sample instructions of every row: registers 1 and 2, a positive and a negative
 * offset and immediate, each field kept only where the validator accepts it (so the
 * samples are valid instructions whatever our templates think).
 */
static void sample(const struct ub_opinfo *oi, int16_t off, int32_t imm)
{
	struct bpf_insn in[2] = { { .code = oi->code } };
	size_t n = oi->fmt == UB_FMT_LDDW ? 2 : 1;
	struct bpf_insn v;

	if (oi->disc == UB_DISC_OFF) in[0].off = (int16_t)oi->dval;
	if (oi->disc == UB_DISC_IMM) in[0].imm = oi->dval;
	if (oi->disc == UB_DISC_SRC) in[0].src_reg = (uint8_t)oi->dval & 0xf;
	for (int f = 0; f < 5; f++) {
		v = in[f == 4];
		switch (f) {	/* imm first: an lddw func must not point into itself */
		case 0: if (oi->disc != UB_DISC_IMM) in[0].imm = imm; break;
		case 1: if (oi->disc != UB_DISC_OFF) in[0].off = off; break;
		case 2: if (oi->disc != UB_DISC_SRC) in[0].src_reg = 2; break;
		case 3: in[0].dst_reg = 1; break;
		case 4: in[1].imm = imm; break;
		}
		if ((f == 4 && n < 2) || !valid_here(in, n))
			in[f == 4] = v;
	}
	print_hex(in, n);
}

/* Rows up to ISA v3 only: LLVM 14 misreads v4 forms (sdiv as div, movsx as mov). */
static int samples(void)
{
	for (int op = 0; op < UB_OP__COUNT; op++) {
		if (ub_ops[op].ver > 3)
			continue;
		sample(&ub_ops[op], 3, 7);
		sample(&ub_ops[op], -8, -5);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--samples"))
		return samples();
	return filter(argc > 1 && !strcmp(argv[1], "--conf") ? UB_SYNTAX_CONF : UB_SYNTAX_LLVM);
}
