/*
 * ub_jit_dump: the machine code of a compiled program, disassembled by capstone (Debian's
 * libcapstone-dev) in AT&T syntax as bpftool's `prog dump jited` prints it, each block
 * under the eBPF instruction it was translated from (the JIT's insn -> offset table).
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include "jit/jit.h"

/* One range of code and what it came from: an instruction, a prologue, or the stubs. */
struct dump_block {
	size_t start, end;
	long insn;		/* -1: stubs; otherwise the instruction (or function) index */
	int prologue;
};

static void dump_bytes(FILE *out, const uint8_t *b, size_t n)
{
	fputc('\t', out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%02x", i ? " " : "", b[i]);
	fputc('\n', out);
}

static void dump_code(csh cs, FILE *out, const struct ub_jit_image *img, size_t start, size_t end,
		      int opcodes)
{
	const uint8_t *code = img->code + start;
	size_t size = end - start;
	uint64_t addr = start;
	cs_insn *ci = cs_malloc(cs);

	while (ci && size && cs_disasm_iter(cs, &code, &size, &addr, ci)) {
		fprintf(out, "%4llx:\t%s\t%s\n", (unsigned long long)ci->address, ci->mnemonic,
			ci->op_str);
		if (opcodes)
			dump_bytes(out, ci->bytes, ci->size);
	}
	if (size) {	/* capstone stopped: show what is left as bytes */
		fprintf(out, "%4llx:\t(bytes capstone does not decode)\n", (unsigned long long)addr);
		dump_bytes(out, code, size);
	}
	cs_free(ci, 1);
}

static void dump_header(FILE *out, const struct uebpf_prog *prog, const struct dump_block *b)
{
	char text[128];

	if (b->insn < 0) {
		fprintf(out, "; runtime stubs (memory checks, faults, callback trampoline)\n");
	} else if (b->prologue) {
		fprintf(out, "; function at insn %ld: prologue\n", b->insn);
	} else {
		ub_disasm_insn(prog->insns, prog->cnt, (size_t)b->insn, UB_SYNTAX_LLVM, text,
			       sizeof(text));
		fprintf(out, "; %ld: %s\n", b->insn, text);
	}
}

/* Where the code of the instruction at i (the next one at k) ends: at the next
 * instruction's prologue or body, or at the stubs after the last one. */
static size_t insn_end(const struct ub_jit_image *img, size_t cnt, size_t k)
{
	if (k >= cnt)
		return img->stubs_off;
	return img->entry_off[k] ? img->entry_off[k] : img->insn_off[k];
}

int ub_jit_dump(const struct uebpf_prog *prog, FILE *out, int opcodes)
{
	const struct ub_jit_image *img = prog ? prog->jit : NULL;
	csh cs;

	if (!img || !out)
		return -ENOENT;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -EIO;
	cs_option(cs, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	for (size_t i = 0; i < prog->cnt; i++) {
		struct dump_block b = { .insn = (long)i };
		if (i == 0 || img->entry_off[i]) {
			b.prologue = 1;
			b.start = i ? img->entry_off[i] : 0;
			b.end = img->insn_off[i];
			dump_header(out, prog, &b);
			dump_code(cs, out, img, b.start, b.end, opcodes);
			b.prologue = 0;
		}
		/* an lddw's second half has no code of its own */
		size_t next = i + 1 + (ub_ops[ub_isa_lookup(&prog->insns[i])].fmt == UB_FMT_LDDW);
		b.start = img->insn_off[i];
		b.end = insn_end(img, prog->cnt, next);
		dump_header(out, prog, &b);
		dump_code(cs, out, img, b.start, b.end, opcodes);
		i = next - 1;
	}
	struct dump_block s = { .start = img->stubs_off, .end = img->size, .insn = -1 };
	dump_header(out, prog, &s);
	dump_code(cs, out, img, s.start, s.end, opcodes);
	cs_close(&cs);
	return 0;
}

int uebpf_prog_dump_jited(const struct uebpf_prog *prog, FILE *out, int opcodes)
{
	return ub_jit_dump(prog, out, opcodes);
}
