/*
 * ub_vinsn: the kernel's structural checks of instructions, with its messages and in
 * its order, so that a malformed program fails as it would in the kernel:
 *
 *  - ub_vinsn_prepass, the checks of the kernel's resolve_pseudo_ldimm64 over the whole
 *    program (after the subprogram checks, before the CFG walk): LDX modes, ld_imm64
 *    pairs and pseudo sources, opcodes the instruction set has;
 *  - ub_vinsn_fields, do_check's reserved-field and register checks of one instruction,
 *    when a path reaches it. Instructions no path reaches are never checked, as in the
 *    kernel; the loader turns them into traps.
 *
 * Validity itself comes from the opcode table (ub_isa_lookup): these checks only choose
 * the kernel's words for what the table refuses, and refuse the few forms the table has
 * that the kernel's verifier does not take. Everything after them may rely on register
 * numbers below 11 and on a table row for the instruction.
 */
#include <errno.h>
#include <stdio.h>
#include "isa/isa.h"
#include "verifier/env.h"

/* Rows of the table whose opcode byte is c (any fields). */
static bool code_known(uint8_t c)
{
	static int8_t known[256];	/* 0 unknown yet, 1 yes, -1 no */

	if (!known[c]) {
		int8_t k = -1;
		for (int i = 0; i < UB_OP__COUNT; i++)
			if (ub_ops[i].code == c && ub_ops[i].fmt != UB_FMT_CALLX)
				k = 1;	/* callx: uebpf's own, the kernel has no such opcode */
		__atomic_store_n(&known[c], k, __ATOMIC_RELAXED);
	}
	return __atomic_load_n(&known[c], __ATOMIC_RELAXED) > 0;
}

static int einval(struct ub_venv *env, const char *msg)
{
	ub_vlog(env, "%s\n", msg);
	return -EINVAL;
}

/* An ld_imm64 pair: the kernel's checks of both halves and of the pseudo source. */
static int prepass_lddw(struct ub_venv *env, int i)
{
	const struct bpf_insn *in = &env->insns[i];

	if (i == env->cnt - 1 || in[1].code || in[1].dst_reg || in[1].src_reg || in[1].off)
		return einval(env, "invalid bpf_ld_imm64 insn");
	switch (in->src_reg) {
	case 0: case BPF_PSEUDO_FUNC: case BPF_PSEUDO_MAP_VALUE: case BPF_PSEUDO_MAP_IDX_VALUE:
		return 0;
	case BPF_PSEUDO_MAP_FD: case BPF_PSEUDO_MAP_IDX:
		return 0;	/* the loader refused a non-zero second imm already */
	default:
		return einval(env, "unrecognized bpf_ld_imm64 insn");
	}
}

int ub_vinsn_prepass(struct ub_venv *env)
{
	for (int i = 0; i < env->cnt; i++) {
		const struct bpf_insn *in = &env->insns[i];
		int err;

		if (BPF_CLASS(in->code) == BPF_LDX &&
		    ((BPF_MODE(in->code) != BPF_MEM && BPF_MODE(in->code) != BPF_MEMSX) || in->imm))
			return einval(env, "BPF_LDX uses reserved fields");
		if (ub_isa_is_lddw(in)) {
			if ((err = prepass_lddw(env, i)))
				return err;
			i++;
			continue;
		}
		if (!code_known(in->code)) {
			ub_vlog(env, "unknown opcode %02x\n", in->code);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- One instruction, as do_check meets it ---- */

static bool movsx_off_ok(const struct bpf_insn *in)
{
	int16_t off = in->off;
	return !off || off == 8 || off == 16 || (BPF_CLASS(in->code) == BPF_ALU64 && off == 32);
}

/* The kernel's check_alu_op field rules; the message names the operation's family. */
static const char *alu_reserved(const struct bpf_insn *in, char *buf, size_t n)
{
	uint8_t op = BPF_OP(in->code);
	bool x = BPF_SRC(in->code) == BPF_X, sdiv_ok = op == BPF_DIV || op == BPF_MOD;

	if (op == BPF_NEG)
		return x || in->src_reg || in->off || in->imm ? "BPF_NEG uses reserved fields" : NULL;
	if (op == BPF_END)
		return in->src_reg || in->off || (in->imm != 16 && in->imm != 32 && in->imm != 64) ||
		       (BPF_CLASS(in->code) == BPF_ALU64 && x) ? "BPF_END uses reserved fields" : NULL;
	if (op == BPF_MOV)
		return x ? (!movsx_off_ok(in) || in->imm ? "BPF_MOV uses reserved fields" : NULL)
			 : (in->src_reg || in->off ? "BPF_MOV uses reserved fields" : NULL);
	if (op > BPF_END) {
		snprintf(buf, n, "invalid BPF_ALU opcode %x", op);
		return buf;
	}
	if ((x && in->imm) || (!x && in->src_reg) || (in->off && (in->off != 1 || !sdiv_ok)))
		return "BPF_ALU uses reserved fields";
	return NULL;
}

static const char *jmp_reserved(const struct bpf_insn *in, char *buf, size_t n)
{
	uint8_t op = BPF_OP(in->code);
	bool x = BPF_SRC(in->code) == BPF_X, j32 = BPF_CLASS(in->code) == BPF_JMP32;

	switch (op) {
	case BPF_CALL:
		return x || (in->src_reg != BPF_PSEUDO_KFUNC_CALL && in->off) ||
		       (in->src_reg && in->src_reg != BPF_PSEUDO_CALL &&
			in->src_reg != BPF_PSEUDO_KFUNC_CALL) || in->dst_reg || j32
		       ? "BPF_CALL uses reserved fields" : NULL;
	case BPF_JA:
		return x || in->src_reg || in->dst_reg || (!j32 && in->imm) || (j32 && in->off)
		       ? "BPF_JA uses reserved fields" : NULL;
	case BPF_EXIT:
		return x || in->imm || in->src_reg || in->dst_reg || j32
		       ? "BPF_EXIT uses reserved fields" : NULL;
	default:
		if (op > BPF_JSLE) {
			snprintf(buf, n, "invalid BPF_JMP/JMP32 opcode %x", op);
			return buf;
		}
		return (x && in->imm) || (!x && in->src_reg) ? "BPF_JMP/JMP32 uses reserved fields"
							    : NULL;
	}
}

static const char *ld_reserved(const struct bpf_insn *in)
{
	uint8_t mode = BPF_MODE(in->code);

	if (mode == BPF_ABS || mode == BPF_IND)
		return in->dst_reg || in->off || BPF_SIZE(in->code) == BPF_DW ||
		       (mode == BPF_ABS && in->src_reg) ? "BPF_LD_[ABS|IND] uses reserved fields" : NULL;
	if (mode != BPF_IMM)
		return "invalid BPF_LD mode";
	if (BPF_SIZE(in->code) != BPF_DW)
		return "invalid BPF_LD_IMM insn";
	return in->off ? "BPF_LD_IMM64 uses reserved fields" : NULL;
}

static const char *reserved(const struct bpf_insn *in, char *buf, size_t n)
{
	switch (BPF_CLASS(in->code)) {
	case BPF_ALU: case BPF_ALU64:
		return alu_reserved(in, buf, n);
	case BPF_JMP: case BPF_JMP32:
		return jmp_reserved(in, buf, n);
	case BPF_LD:
		return ld_reserved(in);
	case BPF_ST:
		return BPF_MODE(in->code) != BPF_MEM || in->src_reg ? "BPF_ST uses reserved fields"
								    : NULL;
	case BPF_STX:
		if (BPF_MODE(in->code) == BPF_ATOMIC)
			return BPF_SIZE(in->code) != BPF_W && BPF_SIZE(in->code) != BPF_DW
			       ? "invalid atomic operand size" : NULL;
		return BPF_MODE(in->code) != BPF_MEM || in->imm ? "BPF_STX uses reserved fields"
								: NULL;
	default:
		return NULL;	/* LDX: the prepass saw it */
	}
}

/* Which register fields the instruction reads as registers, in the kernel's order of
 * checking them (a number above 10 is "R%d is invalid"). */
static int reg_fields(const struct bpf_insn *in, uint8_t regs[2])
{
	uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
	bool x = BPF_SRC(in->code) == BPF_X;

	switch (cls) {
	case BPF_ALU: case BPF_ALU64:
		if (x && op != BPF_NEG && op != BPF_END)
			return regs[0] = in->src_reg, regs[1] = in->dst_reg, 2;
		return regs[0] = in->dst_reg, 1;
	case BPF_JMP: case BPF_JMP32:
		if (op == BPF_CALL || op == BPF_JA || op == BPF_EXIT)
			return 0;
		if (x)
			return regs[0] = in->src_reg, regs[1] = in->dst_reg, 2;
		return regs[0] = in->dst_reg, 1;
	case BPF_LDX: case BPF_STX:
		return regs[0] = in->src_reg, regs[1] = in->dst_reg, 2;
	case BPF_ST:
		return regs[0] = in->dst_reg, 1;
	default:	/* LD: lddw writes dst; LD_IND reads src */
		if (BPF_MODE(in->code) == BPF_IND)
			return regs[0] = in->src_reg, 1;
		if (BPF_MODE(in->code) == BPF_IMM)
			return regs[0] = in->dst_reg, 1;
		return 0;
	}
}

int ub_vinsn_fields(struct ub_venv *env, const struct bpf_insn *in)
{
	char buf[48];
	const char *why = reserved(in, buf, sizeof(buf));
	uint8_t regs[2];

	if (why)
		return einval(env, why);
	for (int i = 0, n = reg_fields(in, regs); i < n; i++)
		if (regs[i] >= UB_MAX_REG) {
			ub_vlog(env, "R%u is invalid\n", regs[i]);
			return -EINVAL;
		}
	if (ub_isa_lookup(in) < 0) {	/* what the kernel takes and uebpf does not */
		ub_vlog(env, "unknown opcode %02x\n", in->code);
		return -EINVAL;
	}
	return 0;
}
