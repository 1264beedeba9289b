/*
 * ub_isa: the instruction set as data. Everything here is expanded from opcodes.def.
 */
#ifndef UB_ISA_H
#define UB_ISA_H
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include "util/log.h"

/* Constants newer than the UAPI headers of Debian 12. */
#ifndef BPF_MEMSX
#define BPF_MEMSX 0x80
#endif

#define UB_MAX_REG	11		/* r0..r10 */
#define UB_REG_FP	10
#define UB_STACK_SIZE	512		/* bytes per frame, as MAX_BPF_STACK */
#define UB_MAX_FRAMES	8		/* call depth, as MAX_CALL_FRAMES */

enum ub_op {
#define UB_OP(id, ...) UB_OP_##id,
#include "isa/opcodes.def"
#undef UB_OP
	UB_OP__COUNT
};

enum ub_disc { UB_DISC_NONE, UB_DISC_OFF, UB_DISC_IMM, UB_DISC_SRC };

/* Operand formats: which fields carry operands; every other field must be zero. */
enum ub_fmt {
	UB_FMT_ALU_K,		/* dst op= imm */
	UB_FMT_ALU_X,		/* dst op= src */
	UB_FMT_NEG,		/* dst = -dst */
	UB_FMT_MOVSX,		/* dst = (sN) src, N in off */
	UB_FMT_END,		/* dst = swap dst, width in imm */
	UB_FMT_JA,		/* pc += off */
	UB_FMT_JA32,		/* pc += imm */
	UB_FMT_JMP_K,		/* if dst op imm goto pc + off */
	UB_FMT_JMP_X,		/* if dst op src goto pc + off */
	UB_FMT_CALL,		/* helper imm */
	UB_FMT_CALL_LOCAL,	/* subprogram at pc + imm */
	UB_FMT_CALL_KFUNC,	/* kernel function by BTF id imm (off: module BTF fd) */
	UB_FMT_CALLX,		/* call the function in dst */
	UB_FMT_EXIT,
	UB_FMT_LDX,		/* dst = *(size *)(src + off) */
	UB_FMT_ST,		/* *(size *)(dst + off) = imm */
	UB_FMT_STX,		/* *(size *)(dst + off) = src */
	UB_FMT_ATOMIC,		/* lock *(size *)(dst + off) op= src */
	UB_FMT_AFETCH,		/* src = atomic_fetch_op(dst + off, src) */
	UB_FMT_AXCHG,		/* src = xchg(dst + off, src) */
	UB_FMT_ACMPXCHG,	/* r0 = cmpxchg(dst + off, r0, src) */
	UB_FMT_LDDW,		/* dst = imm64 (two slots), pseudo source in src */
	UB_FMT_LDABS,		/* r0 = ntoh(*(size *)(packet + imm)) */
	UB_FMT_LDIND,		/* r0 = ntoh(*(size *)(packet + src + imm)) */
};

struct ub_opinfo {
	const char *id;		/* "ADD64_K" */
	const char *conf;	/* bpf_conformance mnemonic */
	const char *sym;	/* LLVM/kernel operator or type */
	int32_t dval;
	uint8_t code;
	uint8_t disc;		/* enum ub_disc */
	uint8_t fmt;		/* enum ub_fmt */
	uint8_t ver;
};

extern const struct ub_opinfo ub_ops[UB_OP__COUNT];

/* The operation of an instruction, or -1 if no row of the table matches it. */
int ub_isa_lookup(const struct bpf_insn *insn);

/* Access size in bytes of a load/store/atomic/LD_ABS code (1, 2, 4 or 8). */
static inline unsigned ub_isa_size(uint8_t code)
{
	static const unsigned char sz[4] = { 4, 2, 1, 8 };	/* W, H, B, DW */
	return sz[(code >> 3) & 3];
}

/* True when the operation works on 32-bit values (ALU, JMP32, W-sized atomics). */
static inline int ub_isa_is32(uint8_t code)
{
	uint8_t cls = BPF_CLASS(code);
	if (cls == BPF_ALU || cls == BPF_JMP32)
		return 1;
	return cls == BPF_STX && BPF_SIZE(code) == BPF_W;
}

static inline int ub_isa_is_lddw(const struct bpf_insn *insn)
{
	return insn->code == (BPF_LD | BPF_IMM | BPF_DW);
}

/*
 * Structural validation of an instruction stream (no data-flow analysis: that is the
 * verifier's job). Every message names the instruction index and the instruction.
 * Returns 0 or -EINVAL.
 */
int ub_isa_validate(const struct bpf_insn *insns, size_t cnt, struct ub_log *log);

/* Prints "insn N (raw bytes) 'disassembly'" as the start of a message about insns[i]. */
void ub_isa_log_insn(struct ub_log *log, const struct bpf_insn *insns, size_t cnt, size_t i);

/* ---- Assembler and disassembler (asm.c, disasm.c) ---- */

enum ub_syntax {
	UB_SYNTAX_LLVM,		/* r0 = *(u32 *)(r1 + 4), as llvm-objdump and the verifier log */
	UB_SYNTAX_CONF,		/* ldxw %r0, [%r1+4], as bpf_conformance */
};

/*
 * Disassembles insns[i] (an lddw also reads insns[i + 1]) into buf, snprintf-style.
 * Jump and call targets are printed relative ("goto +3"). Unknown instructions print
 * as ".insn 0x<16 hex digits>" so that the output still assembles to the same bytes.
 */
int ub_disasm_insn(const struct bpf_insn *insns, size_t cnt, size_t i, enum ub_syntax syn,
		   char *buf, size_t size);

/*
 * Assembles text in either syntax (each line is recognised on its own; ';', '#' and
 * '//' start comments; "name:" defines a label). On success *out is a malloc'd array of
 * *cnt instructions. On error returns -EINVAL (or -ENOMEM) with "LINE:COL: reason" in log.
 */
int ub_asm(const char *text, size_t len, struct bpf_insn **out, size_t *cnt, struct ub_log *log);

#endif
