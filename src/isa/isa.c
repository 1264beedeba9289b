/*
 * ub_isa: the operation table, instruction lookup and structural validation.
 */
#include "isa/isa.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BPF_NONE 0	/* an empty column: no discriminating field */

const struct ub_opinfo ub_ops[UB_OP__COUNT] = {
#define UB_OP(id_, cls, op, src, disc_, dval_, fmt_, conf_, sym_, ver_) \
	[UB_OP_##id_] = { .id = #id_, .conf = conf_, .sym = sym_, .dval = (dval_), \
			  .code = BPF_##cls | BPF_##op | BPF_##src, .disc = UB_DISC_##disc_, \
			  .fmt = UB_FMT_##fmt_, .ver = ver_ },
#include "isa/opcodes.def"
#undef UB_OP
};

/* Rows that share an opcode byte form a chain, so lookup is O(1) plus the chain. */
static int16_t by_code[256];
static int16_t next_same[UB_OP__COUNT];
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void build_index(void)
{
	memset(by_code, -1, sizeof(by_code));
	for (int i = UB_OP__COUNT - 1; i >= 0; i--) {
		next_same[i] = by_code[ub_ops[i].code];
		by_code[ub_ops[i].code] = (int16_t)i;
	}
}

static int disc_matches(const struct ub_opinfo *oi, const struct bpf_insn *insn)
{
	switch (oi->disc) {
	case UB_DISC_OFF: return insn->off == oi->dval;
	case UB_DISC_IMM: return insn->imm == oi->dval;
	case UB_DISC_SRC: return insn->src_reg == oi->dval;
	default: return 1;
	}
}

int ub_isa_lookup(const struct bpf_insn *insn)
{
	pthread_once(&index_once, build_index);
	for (int i = by_code[insn->code]; i >= 0; i = next_same[i])
		if (disc_matches(&ub_ops[i], insn))
			return i;
	return -1;
}

void ub_isa_log_insn(struct ub_log *log, const struct bpf_insn *insns, size_t cnt, size_t i)
{
	const struct bpf_insn *in = &insns[i];
	char text[96];

	ub_log_printf(log, "insn %zu (%02x %x%x %04x %08x", i, in->code, in->src_reg,
		      in->dst_reg, (uint16_t)in->off, (uint32_t)in->imm);
	if (ub_isa_lookup(in) >= 0 && ub_disasm_insn(insns, cnt, i, UB_SYNTAX_LLVM, text,
						     sizeof(text)) > 0)
		ub_log_printf(log, " '%s'", text);
	ub_log_printf(log, ")");
}

static int fail(struct ub_log *log, const struct bpf_insn *insns, size_t cnt, size_t i,
		const char *why)
{
	ub_isa_log_insn(log, insns, cnt, i);
	ub_log_printf(log, ": %s\n", why);
	return -EINVAL;
}

/* Which fields a format uses; the others must be zero. */
enum { F_DST = 1, F_SRC = 2, F_OFF = 4, F_IMM = 8 };

static unsigned fmt_fields(uint8_t fmt)
{
	switch (fmt) {
	case UB_FMT_ALU_K: case UB_FMT_JMP_K: case UB_FMT_ST:
		return F_DST | F_IMM | (fmt != UB_FMT_ALU_K ? F_OFF : 0);
	case UB_FMT_ALU_X: case UB_FMT_MOVSX:
		return F_DST | F_SRC;
	case UB_FMT_NEG: case UB_FMT_END: case UB_FMT_CALLX:
		return F_DST;
	case UB_FMT_JA:
		return F_OFF;
	case UB_FMT_JA32: case UB_FMT_CALL: case UB_FMT_CALL_LOCAL: case UB_FMT_LDABS:
		return F_IMM;
	case UB_FMT_CALL_KFUNC:
		return F_IMM | F_OFF;
	case UB_FMT_JMP_X: case UB_FMT_LDX: case UB_FMT_STX:
		return F_DST | F_SRC | F_OFF;
	case UB_FMT_ATOMIC: case UB_FMT_AFETCH: case UB_FMT_AXCHG: case UB_FMT_ACMPXCHG:
		return F_DST | F_SRC | F_OFF;
	case UB_FMT_LDDW:
		return F_DST | F_IMM;
	case UB_FMT_LDIND:
		return F_SRC | F_IMM;
	default:
		return 0;
	}
}

/* The register a format writes, so that r10 (read-only) can be refused. */
static int written_reg(const struct ub_opinfo *oi, const struct bpf_insn *in)
{
	switch (oi->fmt) {
	case UB_FMT_ALU_K: case UB_FMT_ALU_X: case UB_FMT_NEG: case UB_FMT_MOVSX:
	case UB_FMT_END: case UB_FMT_LDX: case UB_FMT_LDDW:
		return in->dst_reg;
	case UB_FMT_AFETCH: case UB_FMT_AXCHG:
		return in->src_reg;
	default:
		return -1;
	}
}

static const char *check_fields(const struct ub_opinfo *oi, const struct bpf_insn *in)
{
	unsigned f = fmt_fields(oi->fmt);

	if (in->dst_reg >= UB_MAX_REG || in->src_reg >= UB_MAX_REG)
		return in->dst_reg >= UB_MAX_REG ? "invalid dst register" : "invalid src register";
	if (!(f & F_DST) && in->dst_reg)
		return "reserved field dst_reg is not zero";
	/* The src field of lddw and call selects the pseudo form; the table matched it. */
	if (!(f & F_SRC) && in->src_reg && oi->disc != UB_DISC_SRC)
		return "reserved field src_reg is not zero";
	if (!(f & F_OFF) && in->off && oi->disc != UB_DISC_OFF)
		return "reserved field off is not zero";
	if (!(f & F_IMM) && in->imm && oi->disc != UB_DISC_IMM)
		return "reserved field imm is not zero";
	if (written_reg(oi, in) == UB_REG_FP)
		return "frame pointer r10 is read only";
	return NULL;
}

/*
 * Whether insn i names another instruction (jump or call target, or the function an
 * lddw func loads); if so *t is its index, possibly outside the program.
 */
static int insn_target(const struct ub_opinfo *oi, const struct bpf_insn *in, size_t i, long *t)
{
	switch (oi->fmt) {
	case UB_FMT_JA: case UB_FMT_JMP_K: case UB_FMT_JMP_X:
		*t = (long)i + 1 + in->off;
		return 1;
	case UB_FMT_JA32: case UB_FMT_CALL_LOCAL:
		*t = (long)i + 1 + in->imm;
		return 1;
	case UB_FMT_LDDW:
		*t = (long)i + 1 + in->imm;
		return in->src_reg == BPF_PSEUDO_FUNC;
	default:
		return 0;
	}
}

static int check_lddw(const struct bpf_insn *insns, size_t cnt, size_t i, struct ub_log *log)
{
	const struct bpf_insn *hi = &insns[i + 1];

	if (i + 1 >= cnt)
		return fail(log, insns, cnt, i, "lddw is missing its second half");
	if (hi->code || hi->dst_reg || hi->src_reg || hi->off)
		return fail(log, insns, cnt, i + 1, "invalid second half of lddw: only imm may be set");
	if (insns[i].src_reg == BPF_PSEUDO_FUNC && hi->imm)
		return fail(log, insns, cnt, i, "lddw func: second half imm must be zero");
	return 0;
}

/* Pass 1: every instruction is known and uses only its own fields. Marks lddw halves. */
static int check_insns(const struct bpf_insn *insns, size_t cnt, uint8_t *is_hi,
		       struct ub_log *log)
{
	for (size_t i = 0; i < cnt; i++) {
		int op = ub_isa_lookup(&insns[i]);
		if (op < 0)
			return fail(log, insns, cnt, i, "unknown opcode");
		const char *why = check_fields(&ub_ops[op], &insns[i]);
		if (why)
			return fail(log, insns, cnt, i, why);
		if (ub_ops[op].fmt == UB_FMT_LDDW) {
			if (check_lddw(insns, cnt, i, log))
				return -EINVAL;
			is_hi[++i] = 1;
		}
	}
	return 0;
}

/* Pass 2: jumps and calls land on instructions; control cannot fall off the end. */
static int check_flow(const struct bpf_insn *insns, size_t cnt, const uint8_t *is_hi,
		      struct ub_log *log)
{
	for (size_t i = 0; i < cnt; i++) {
		if (is_hi[i])
			continue;
		const struct ub_opinfo *oi = &ub_ops[ub_isa_lookup(&insns[i])];
		int is_call = oi->fmt == UB_FMT_CALL_LOCAL || oi->fmt == UB_FMT_LDDW;
		long t;

		if (!insn_target(oi, &insns[i], i, &t))
			continue;
		if (t < 0 || (size_t)t >= cnt)
			return fail(log, insns, cnt, i, is_call ? "call to a target outside the program"
							      : "jump out of range");
		if (is_hi[t])
			return fail(log, insns, cnt, i, is_call ? "call into the middle of lddw"
							      : "jump into the middle of lddw");
	}
	size_t last = cnt - 1;
	if (is_hi[last])
		last--;
	uint8_t fmt = ub_ops[ub_isa_lookup(&insns[last])].fmt;
	if (fmt != UB_FMT_EXIT && fmt != UB_FMT_JA && fmt != UB_FMT_JA32)
		return fail(log, insns, cnt, last, "last instruction is not exit or jump: "
						   "control falls off the end");
	return 0;
}

int ub_isa_validate(const struct bpf_insn *insns, size_t cnt, struct ub_log *log)
{
	if (cnt == 0) {
		ub_log_printf(log, "empty program\n");
		return -EINVAL;
	}
	uint8_t small[256] = { 0 };
	uint8_t *is_hi = cnt <= sizeof(small) ? small : calloc(cnt, 1);
	if (!is_hi)
		return -ENOMEM;
	int err = check_insns(insns, cnt, is_hi, log);
	if (!err)
		err = check_flow(insns, cnt, is_hi, log);
	if (is_hi != small)
		free(is_hi);
	return err;
}
