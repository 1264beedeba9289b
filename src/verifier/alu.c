/*
 * ub_valu: ALU instructions. Scalars go through the range and tnum arithmetic of
 * bounds.c; pointers may only move by add and sub (within the limits the kernel sets),
 * and every other operation on a pointer, or any 32-bit one, is refused as the kernel
 * refuses it for privileged programs.
 */
#include <errno.h>
#include "verifier/env.h"

static const char *const alu_str[16] = {
	"+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=",
	"endian", "?", "?",
};

static const char *op_str(uint8_t op)
{
	return alu_str[op >> 4];
}

static char tb[64];

static const char *tstr(uint16_t type)
{
	return ub_vst_type_str(type, tb, sizeof(tb));
}

/* The kernel's check_reg_sane_offset: offsets must stay far from overflow. */
static bool sane_offset(struct ub_venv *env, const struct ub_vreg *reg, uint16_t type)
{
	bool known = ub_tnum_is_const(reg->var_off);
	int64_t val = (int64_t)reg->var_off.value;

	if (known && (val >= UB_MAX_VAR_OFF || val <= -UB_MAX_VAR_OFF)) {
		ub_vlog(env, "math between %s pointer and %lld is not allowed\n", tstr(type),
			(long long)val);
		return false;
	}
	if (reg->off >= UB_MAX_VAR_OFF || reg->off <= -UB_MAX_VAR_OFF) {
		ub_vlog(env, "%s pointer offset %d is not allowed\n", tstr(type), reg->off);
		return false;
	}
	if (reg->smin == INT64_MIN) {
		ub_vlog(env, "math between %s pointer and register with unbounded min value is not allowed\n",
			tstr(type));
		return false;
	}
	if (reg->smin >= UB_MAX_VAR_OFF || reg->smin <= -UB_MAX_VAR_OFF) {
		ub_vlog(env, "value %lld makes %s pointer be out of bounds\n", (long long)reg->smin,
			tstr(type));
		return false;
	}
	return true;
}

static bool arith_allowed(uint16_t type, bool known, int64_t val, uint8_t op)
{
	switch (VT_BASE(type)) {
	case VT_CTX: case VT_MAP_VALUE: case VT_MAP_KEY: case VT_STACK: case VT_PKT_META:
	case VT_PKT: case VT_BTF_ID: case VT_MEM: case VT_FUNC:
		return true;
	case VT_MAP_PTR:
		return known && val == 0 && op == BPF_ADD;
	default:
		return false;
	}
}

/* The pointer's identity (what it points into) carried to the result. */
static void copy_target(struct ub_vreg *dst, const struct ub_vreg *ptr)
{
	dst->map = ptr->map;
	dst->range = ptr->range;
	dst->mem_size = ptr->mem_size;
	dst->subprog = ptr->subprog;
	dst->frameno = ptr->frameno;
}

static void ptr_add_var(struct ub_venv *env, struct ub_vreg *dst, const struct ub_vreg *p,
			const struct ub_vreg *o)
{
	int64_t smin, smax;
	uint64_t umin, umax;

	if (__builtin_add_overflow(p->smin, o->smin, &smin) ||
	    __builtin_add_overflow(p->smax, o->smax, &smax)) {
		smin = INT64_MIN;
		smax = INT64_MAX;
	}
	if (__builtin_add_overflow(p->umin, o->umin, &umin) ||
	    __builtin_add_overflow(p->umax, o->umax, &umax)) {
		umin = 0;
		umax = UINT64_MAX;
	}
	struct ub_tnum v = ub_tnum_add(p->var_off, o->var_off);
	dst->smin = smin, dst->smax = smax, dst->umin = umin, dst->umax = umax;
	dst->var_off = v;
	dst->off = p->off;
	copy_target(dst, p);
	if (ub_vst_is_pkt(p)) {
		/* a new variable offset: a new packet pointer with nothing proven yet */
		dst->id = ++env->id_gen;
		dst->range = 0;
	}
}

static void ptr_sub_var(struct ub_venv *env, struct ub_vreg *dst, const struct ub_vreg *p,
			const struct ub_vreg *o)
{
	int64_t smin, smax;
	uint64_t umin = 0, umax = UINT64_MAX;
	bool neg = o->smin < 0;

	if (__builtin_sub_overflow(p->smin, o->smax, &smin) ||
	    __builtin_sub_overflow(p->smax, o->smin, &smax)) {
		smin = INT64_MIN;
		smax = INT64_MAX;
	}
	if (p->umin >= o->umax) {
		umin = p->umin - o->umax;
		umax = p->umax - o->umin;
	}
	struct ub_tnum v = ub_tnum_sub(p->var_off, o->var_off);
	dst->smin = smin, dst->smax = smax, dst->umin = umin, dst->umax = umax;
	dst->var_off = v;
	dst->off = p->off;
	copy_target(dst, p);
	if (ub_vst_is_pkt(p)) {
		dst->id = ++env->id_gen;
		if (neg)
			dst->range = 0;
	}
}

/* ptr op= scalar (or scalar += ptr): the kernel's adjust_ptr_min_max_vals. */
static int ptr_arith(struct ub_venv *env, const struct bpf_insn *insn, const struct ub_vreg *ptr,
		     const struct ub_vreg *off_reg)
{
	struct ub_vreg *dst = &ub_vst_regs(env)[insn->dst_reg];
	struct ub_vreg p = *ptr, o = *off_reg;	/* dst may be either of them */
	bool known = ub_tnum_is_const(o.var_off);
	uint8_t op = BPF_OP(insn->code);

	if ((known && (o.smin != o.smax || o.umin != o.umax)) || o.smin > o.smax || o.umin > o.umax) {
		ub_vst_mark_unknown(dst);	/* offsets from a dead branch */
		return 0;
	}
	if (BPF_CLASS(insn->code) != BPF_ALU64) {
		if (op == BPF_SUB) {	/* allow_ptr_leaks: a meaningless scalar */
			ub_vst_mark_unknown(dst);
			return 0;
		}
		ub_vlog(env, "R%d 32-bit pointer arithmetic prohibited\n", insn->dst_reg);
		return -EACCES;
	}
	if (p.type & VF_MAYBE_NULL) {
		ub_vlog(env, "R%d pointer arithmetic on %s prohibited, null-check it first\n",
			insn->dst_reg, tstr(p.type));
		return -EACCES;
	}
	if (!arith_allowed(p.type, known, o.smin, op)) {
		ub_vlog(env, "R%d pointer arithmetic on %s prohibited\n", insn->dst_reg, tstr(p.type));
		return -EACCES;
	}
	dst->type = p.type;
	dst->id = p.id;
	if (!sane_offset(env, &o, p.type) || !sane_offset(env, &p, p.type))
		return -EINVAL;
	ub_bnd_unbounded32(dst);
	switch (op) {
	case BPF_ADD:
		if (known && p.off + o.smin == (int64_t)(int32_t)(p.off + o.smin)) {
			dst->smin = p.smin, dst->smax = p.smax, dst->umin = p.umin, dst->umax = p.umax;
			dst->var_off = p.var_off;
			dst->off = (int32_t)(p.off + o.smin);
			copy_target(dst, &p);
			break;
		}
		ptr_add_var(env, dst, &p, &o);
		break;
	case BPF_SUB:
		if (dst != ptr) {
			ub_vlog(env, "R%d tried to subtract pointer from scalar\n", insn->dst_reg);
			return -EACCES;
		}
		if (p.type == VT_STACK) {
			ub_vlog(env, "R%d subtraction from stack pointer prohibited\n", insn->dst_reg);
			return -EACCES;
		}
		if (known && p.off - o.smin == (int64_t)(int32_t)(p.off - o.smin)) {
			dst->smin = p.smin, dst->smax = p.smax, dst->umin = p.umin, dst->umax = p.umax;
			dst->var_off = p.var_off;
			dst->id = p.id;
			dst->off = (int32_t)(p.off - o.smin);
			copy_target(dst, &p);
			break;
		}
		ptr_sub_var(env, dst, &p, &o);
		break;
	case BPF_AND: case BPF_OR: case BPF_XOR:
		ub_vlog(env, "R%d bitwise operator %s on pointer prohibited\n", insn->dst_reg,
			op_str(op));
		return -EACCES;
	default:
		ub_vlog(env, "R%d pointer arithmetic with %s operator prohibited\n", insn->dst_reg,
			op_str(op));
		return -EACCES;
	}
	dst->ref_obj_id = p.ref_obj_id;
	if (!sane_offset(env, dst, p.type))
		return -EINVAL;
	ub_bnd_sync(dst);
	return 0;
}

/* Two scalars: ranges by bounds.c, then the link with the source register. */
static void scalar_arith(struct ub_venv *env, const struct bpf_insn *insn, struct ub_vreg *dst,
			 struct ub_vreg src)
{
	uint8_t op = BPF_OP(insn->code);
	bool alu32 = BPF_CLASS(insn->code) != BPF_ALU64;

	if (!ub_bnd_alu_computable(op, &src, alu32)) {
		ub_vst_mark_unknown(dst);
		return;
	}
	ub_bnd_alu(dst, &src, op, alu32);
	/* rX = rY; rX += k: remember k so that bounds learned on rY carry to rX */
	if (op == BPF_ADD && !alu32 && dst->id && ub_vst_is_const(&src, false)) {
		uint64_t val = src.var_off.value;
		if ((dst->id & UB_ADD_CONST) || val > (uint32_t)INT32_MAX) {
			dst->off = 0;
			dst->id = 0;
		} else {
			dst->id |= UB_ADD_CONST;
			dst->off = (int32_t)val;
		}
	} else {
		dst->id = 0;
		dst->off = 0;
	}
}

static int binary_op(struct ub_venv *env, const struct bpf_insn *insn)
{
	struct ub_vreg *regs = ub_vst_regs(env), *dst = &regs[insn->dst_reg], *src, imm;

	if (BPF_SRC(insn->code) == BPF_K) {
		ub_vst_mark_const(&imm, (uint64_t)(int64_t)insn->imm);
		if (dst->type != VT_SCALAR)
			return ptr_arith(env, insn, dst, &imm);
		scalar_arith(env, insn, dst, imm);
		return 0;
	}
	src = &regs[insn->src_reg];
	if (src->type != VT_SCALAR) {
		if (dst->type == VT_SCALAR)
			return ptr_arith(env, insn, src, dst);	/* scalar += pointer */
		if (BPF_OP(insn->code) == BPF_SUB) {	/* allow_ptr_leaks */
			ub_vst_mark_unknown(dst);
			return 0;
		}
		ub_vlog(env, "R%d pointer %s pointer prohibited\n", insn->dst_reg,
			op_str(BPF_OP(insn->code)));
		return -EACCES;
	}
	if (dst->type != VT_SCALAR)
		return ptr_arith(env, insn, dst, src);
	scalar_arith(env, insn, dst, *src);
	return 0;
}

/* rX = rY, and the sign-extending movsx forms. */
static void mov_reg(struct ub_venv *env, const struct bpf_insn *insn)
{
	struct ub_vreg *regs = ub_vst_regs(env), *dst = &regs[insn->dst_reg];
	struct ub_vreg *src = &regs[insn->src_reg];
	bool alu64 = BPF_CLASS(insn->code) == BPF_ALU64;
	int off = insn->off;

	if (alu64 && !off) {
		ub_vst_scalar_id(env, src);
		*dst = *src;
		return;
	}
	if (src->type != VT_SCALAR) {
		/* a partial copy of a pointer is just data (allow_ptr_leaks) */
		ub_vst_mark_unknown(dst);
	} else if (alu64 || off) {
		bool keep = off ? src->umax < (1ull << (off - 1)) : ub_bnd_width(src) <= 32;
		if (keep)
			ub_vst_scalar_id(env, src);
		*dst = *src;
		if (!keep)
			dst->id = 0;
		if (alu64)
			ub_bnd_coerce_sx(dst, off >> 3);
		else if (off)
			ub_bnd_coerce_subreg_sx(dst, off >> 3);
	} else {
		bool keep = ub_bnd_width(src) <= 32;
		if (keep)
			ub_vst_scalar_id(env, src);
		*dst = *src;
		if (!keep)
			dst->id = 0;
	}
	if (!alu64) {
		ub_bnd_zext32(dst);
		ub_bnd_sync(dst);
	}
}

static int mov_op(struct ub_venv *env, const struct bpf_insn *insn)
{
	struct ub_vreg *dst = &ub_vst_regs(env)[insn->dst_reg];
	int err;

	if (BPF_SRC(insn->code) == BPF_X && (err = ub_vst_check_reg(env, insn->src_reg, SRC_OP)))
		return err;
	if ((err = ub_vst_check_reg(env, insn->dst_reg, DST_OP_NO_MARK)))
		return err;
	if (BPF_SRC(insn->code) == BPF_X) {
		mov_reg(env, insn);
		return 0;
	}
	if (BPF_CLASS(insn->code) == BPF_ALU64)
		ub_vst_mark_const(dst, (uint64_t)(int64_t)insn->imm);
	else
		ub_vst_mark_const(dst, (uint32_t)insn->imm);
	return 0;
}

int ub_valu_check(struct ub_venv *env, const struct bpf_insn *insn)
{
	uint8_t op = BPF_OP(insn->code);
	int err;

	if (op == BPF_NEG || op == BPF_END) {
		struct ub_vreg *dst = &ub_vst_regs(env)[insn->dst_reg];
		if ((err = ub_vst_check_reg(env, insn->dst_reg, SRC_OP)))
			return err;
		if (op == BPF_END || dst->type != VT_SCALAR)
			return ub_vst_check_reg(env, insn->dst_reg, DST_OP);
		if ((err = ub_vst_check_reg(env, insn->dst_reg, DST_OP_NO_MARK)))
			return err;
		ub_bnd_neg(dst, BPF_CLASS(insn->code) == BPF_ALU);
		ub_bnd_sanitize(dst);
		return 0;
	}
	if (op == BPF_MOV)
		return mov_op(env, insn);
	if (BPF_SRC(insn->code) == BPF_X && (err = ub_vst_check_reg(env, insn->src_reg, SRC_OP)))
		return err;
	if ((err = ub_vst_check_reg(env, insn->dst_reg, SRC_OP)))
		return err;
	if ((op == BPF_MOD || op == BPF_DIV) && BPF_SRC(insn->code) == BPF_K && insn->imm == 0) {
		ub_vlog(env, "div by zero\n");
		return -EINVAL;
	}
	if ((op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH) && BPF_SRC(insn->code) == BPF_K) {
		int size = BPF_CLASS(insn->code) == BPF_ALU64 ? 64 : 32;
		if (insn->imm < 0 || insn->imm >= size) {
			ub_vlog(env, "invalid shift %d\n", insn->imm);
			return -EINVAL;
		}
	}
	if ((err = ub_vst_check_reg(env, insn->dst_reg, DST_OP_NO_MARK)))
		return err;
	err = binary_op(env, insn);
	if (!err)
		ub_bnd_sanitize(&ub_vst_regs(env)[insn->dst_reg]);
	return err;
}
