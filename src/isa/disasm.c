/* PLACEHOLDER until the disassembler lands: prints raw words. */
#include <stdio.h>
#include "isa/isa.h"
int ub_disasm_insn(const struct bpf_insn *insns, size_t cnt, size_t i, enum ub_syntax syn,
		   char *buf, size_t size)
{
	const struct bpf_insn *in = &insns[i];
	(void)cnt; (void)syn;
	return snprintf(buf, size, ".insn %02x %x%x %d %d", in->code, in->src_reg, in->dst_reg,
			in->off, in->imm);
}
