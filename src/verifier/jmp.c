/*
 * ub_vjmp: conditional jumps. A branch whose outcome the ranges decide is followed one
 * way only; otherwise the taken path is pushed for later and both paths learn from the
 * condition: scalar ranges narrow (and so do registers linked to them), a maybe-NULL
 * pointer becomes a pointer or NULL, and a packet pointer compared with data_end proves
 * a range of the packet readable.
 */
#include <errno.h>
#include <string.h>
#include "maps/map.h"
#include "verifier/env.h"

/* ---- Packet pointers against data_end ---- */

static bool init_pkt_ptr(const struct ub_vreg *reg, uint16_t which)
{
	return reg->type == which && reg->id == 0 && reg->off == 0 &&
	       ub_tnum_equals_const(reg->var_off, 0);
}

/* dst + off <= end (or < end when open) proves [pkt, pkt + off) for all copies. */
static void good_pkt_pointers(struct ub_vstate *st, const struct ub_vreg *dst, uint16_t type,
			      bool open)
{
	if (dst->off < 0 || (dst->off == 0 && open))
		return;
	if (dst->umax > UB_MAX_PACKET_OFF || dst->umax + (uint64_t)dst->off > UB_MAX_PACKET_OFF)
		return;
	int32_t range = dst->off + (open ? 1 : 0);
	uint32_t id = dst->id;
	UB_FOR_EACH_REG(st, f, reg, {
		if (reg->type == type && reg->id == id && reg->range < range)
			reg->range = range;
	});
}

static void mark_pkt_end(struct ub_vstate *st, int regno, bool open)
{
	struct ub_vreg *reg = &st->frame[st->curframe]->regs[regno];

	if (reg->type == VT_PKT)
		reg->range = open ? UB_BEYOND_PKT_END : UB_AT_PKT_END;
}

static bool pkt_vs_end(const struct ub_vreg *a, const struct ub_vreg *b)
{
	return (a->type == VT_PKT && b->type == VT_PKT_END) ||
	       (a->type == VT_PKT_META && init_pkt_ptr(b, VT_PKT));
}

/*
 * The kernel's try_match_pkt_pointers. `this` continues at the next instruction (the
 * condition is false there), `other` at the jump target.
 */
static bool match_pkt_pointers(const struct bpf_insn *insn, const struct ub_vreg *dst,
			       const struct ub_vreg *src, struct ub_vstate *this,
			       struct ub_vstate *other)
{
	uint8_t op = BPF_OP(insn->code);
	bool fwd, rev;

	if (BPF_SRC(insn->code) != BPF_X || BPF_CLASS(insn->code) == BPF_JMP32)
		return false;
	fwd = pkt_vs_end(dst, src);	/* pkt' <op> end */
	rev = pkt_vs_end(src, dst);	/* end <op> pkt' */
	if (!fwd && !rev)
		return false;
	const struct ub_vreg *pkt = fwd ? dst : src;
	int pkt_regno = fwd ? insn->dst_reg : insn->src_reg;
	if (rev)
		op = ub_bnd_flip_op(op);	/* now: pkt' <op> end */
	switch (op) {
	case BPF_JGT:	/* pkt' > end: fall-through has pkt' <= end */
		good_pkt_pointers(this, pkt, pkt->type, false);
		mark_pkt_end(other, pkt_regno, true);
		break;
	case BPF_JLT:	/* pkt' < end: taken */
		good_pkt_pointers(other, pkt, pkt->type, true);
		mark_pkt_end(this, pkt_regno, false);
		break;
	case BPF_JGE:	/* pkt' >= end: fall-through has pkt' < end */
		good_pkt_pointers(this, pkt, pkt->type, true);
		mark_pkt_end(other, pkt_regno, false);
		break;
	case BPF_JLE:	/* pkt' <= end: taken */
		good_pkt_pointers(other, pkt, pkt->type, false);
		mark_pkt_end(this, pkt_regno, true);
		break;
	default:
		return false;
	}
	return true;
}

static int pkt_branch_taken(const struct ub_vreg *dst, const struct ub_vreg *src, uint8_t op)
{
	const struct ub_vreg *pkt;

	if (src->type == VT_PKT_END) {
		pkt = dst;
	} else if (dst->type == VT_PKT_END) {
		pkt = src;
		op = ub_bnd_flip_op(op);
	} else {
		return -1;
	}
	if (pkt->range >= 0)
		return -1;
	if ((op == BPF_JLE || op == BPF_JGT) && pkt->range == UB_BEYOND_PKT_END)
		return op == BPF_JGT;
	if ((op == BPF_JLT || op == BPF_JGE) &&
	    (pkt->range == UB_BEYOND_PKT_END || pkt->range == UB_AT_PKT_END))
		return op == BPF_JGE;
	return -1;
}

static int branch_taken(const struct ub_vreg *r1, const struct ub_vreg *r2, uint8_t op, bool is32)
{
	if (ub_vst_is_pkt_any(r1) && ub_vst_is_pkt_any(r2) && !is32)
		return pkt_branch_taken(r1, r2, op);
	if (r1->type != VT_SCALAR || r2->type != VT_SCALAR) {
		/* a pointer against a constant: only "== 0" of a never-NULL one is known */
		if (!ub_vst_is_const(r2, is32)) {
			const struct ub_vreg *t = r1;
			op = ub_bnd_flip_op(op);
			r1 = r2;
			r2 = t;
		}
		if (!ub_vst_is_const(r2, is32) || !ub_vst_not_null(r1))
			return -1;
		if ((is32 ? (uint32_t)r2->var_off.value : r2->var_off.value) != 0)
			return -1;
		return op == BPF_JEQ ? 0 : op == BPF_JNE ? 1 : -1;
	}
	return ub_bnd_branch_taken(r1, r2, op, is32);
}

/* ---- Null checks ---- */

static void ptr_or_null_reg(struct ub_vreg *reg, uint32_t id, bool is_null)
{
	if (!(reg->type & VF_MAYBE_NULL) || reg->id != id)
		return;
	if (reg->smin || reg->smax || !ub_tnum_equals_const(reg->var_off, 0) || reg->off)
		return;	/* arithmetic on maybe-NULL pointers is refused, so never here */
	if (is_null) {
		reg->type = VT_SCALAR;
		reg->map = NULL;
		reg->mem_size = 0;
		reg->range = 0;
		reg->frameno = 0;
		reg->id = 0;
		reg->ref_obj_id = 0;
		return;
	}
	if (VT_BASE(reg->type) == VT_MAP_VALUE && reg->map &&
	    (reg->map->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || reg->map->type == BPF_MAP_TYPE_HASH_OF_MAPS)) {
		reg->type = VT_BTF_ID;	/* an inner map: uebpf cannot describe it */
	} else if (VT_BASE(reg->type) == VT_MAP_VALUE && reg->map &&
		   reg->map->type == BPF_MAP_TYPE_XSKMAP) {
		reg->type = VT_XDP_SOCK;
		reg->map = NULL;
	} else if (VT_BASE(reg->type) == VT_MAP_VALUE && reg->map &&
		   (reg->map->type == BPF_MAP_TYPE_SOCKMAP || reg->map->type == BPF_MAP_TYPE_SOCKHASH)) {
		reg->type = VT_SOCKET;
		reg->map = NULL;
	} else {
		ub_vst_mark_not_null(reg);
	}
	/* the id is not needed any more, except as the identity of a spin lock in the value */
	if (VT_BASE(reg->type) != VT_MAP_VALUE || !reg->map || reg->map->lock_off < 0)
		reg->id = 0;
}

static void ptr_or_null_regs(struct ub_vstate *st, int regno, bool is_null)
{
	struct ub_vreg *r = &st->frame[st->curframe]->regs[regno];
	uint32_t ref = r->ref_obj_id, id = r->id;

	if (ref && ref == id && is_null)
		ub_vst_release_ref(st, id);	/* a NULL reference holds nothing */
	UB_FOR_EACH_REG(st, f, reg, ptr_or_null_reg(reg, id, is_null));
}

/* ---- Linked scalars ---- */

#define LINKED_MAX 6

struct linked {
	int n;
	struct ub_vreg *regs[LINKED_MAX];
};

static void collect_linked(struct ub_vstate *st, uint32_t id, struct linked *out)
{
	id &= ~UB_ADD_CONST;
	out->n = 0;
	UB_FOR_EACH_REG(st, f, reg, {
		if (reg->type == VT_SCALAR && (reg->id & ~UB_ADD_CONST) == id) {
			if (out->n < LINKED_MAX)
				out->regs[out->n++] = reg;
			else
				reg->id = 0;
		}
	});
}

/* Copies what `known` learned to every register sharing its id (offset by their k). */
static void sync_linked(struct ub_vstate *st, struct ub_vreg *known)
{
	struct linked l;
	struct ub_vreg k = *known;

	collect_linked(st, known->id, &l);
	for (int i = 0; i < l.n; i++) {
		struct ub_vreg *r = l.regs[i];
		if (r == known)
			continue;
		if ((!(r->id & UB_ADD_CONST) && !(k.id & UB_ADD_CONST)) || r->off == k.off) {
			*r = k;
			continue;
		}
		int32_t saved_off = r->off;
		uint32_t saved_id = r->id;
		struct ub_vreg delta;
		ub_vst_mark_const(&delta, (uint64_t)(int64_t)(int32_t)((uint32_t)r->off - (uint32_t)k.off));
		*r = k;
		r->off = saved_off;
		r->id = saved_id;
		ub_bnd_add(r, &delta);
	}
}

/* ---- The jump ---- */

static int check_operands(struct ub_venv *env, const struct bpf_insn *insn, struct ub_vreg **src)
{
	struct ub_vreg *regs = ub_vst_regs(env);
	int err = ub_vst_check_reg(env, insn->dst_reg, SRC_OP);

	if (err)
		return err;
	if (BPF_SRC(insn->code) == BPF_X) {
		if ((err = ub_vst_check_reg(env, insn->src_reg, SRC_OP)))
			return err;
		*src = &regs[insn->src_reg];
		return 0;
	}
	*src = &env->fake[0];
	ub_vst_mark_const(*src, (uint64_t)(int64_t)insn->imm);
	return 0;
}

/* Both branches learn from the condition (the kernel's reg_set_min_max). */
static void refine_scalars(struct ub_vreg *t1, struct ub_vreg *t2, struct ub_vreg *f1,
			   struct ub_vreg *f2, uint8_t op, bool is32)
{
	if (f1->type != VT_SCALAR || f2->type != VT_SCALAR)
		return;
	ub_bnd_refine(f1, f2, ub_bnd_rev_op(op), is32);
	ub_bnd_sync(f1);
	ub_bnd_sync(f2);
	ub_bnd_refine(t1, t2, op, is32);
	ub_bnd_sync(t1);
	ub_bnd_sync(t2);
	ub_bnd_sanitize(t1);
	ub_bnd_sanitize(t2);
	ub_bnd_sanitize(f1);
	ub_bnd_sanitize(f2);
}

/* JEQ/JNE of a maybe-NULL pointer with a never-NULL one: equal means not NULL. */
static void pointer_eq_nonnull(const struct bpf_insn *insn, struct ub_vreg *dst,
			       struct ub_vreg *src, struct ub_vreg *this_regs,
			       struct ub_vreg *other_regs)
{
	uint8_t op = BPF_OP(insn->code);
	struct ub_vreg *eq;

	if (BPF_CLASS(insn->code) == BPF_JMP32 || BPF_SRC(insn->code) != BPF_X ||
	    src->type == VT_SCALAR || dst->type == VT_SCALAR ||
	    !(src->type & VF_MAYBE_NULL) == !(dst->type & VF_MAYBE_NULL) ||
	    VT_BASE(src->type) == VT_BTF_ID || VT_BASE(dst->type) == VT_BTF_ID)
		return;
	eq = op == BPF_JEQ ? other_regs : op == BPF_JNE ? this_regs : NULL;
	if (!eq)
		return;
	if (src->type & VF_MAYBE_NULL)
		ub_vst_mark_not_null(&eq[insn->src_reg]);
	else
		ub_vst_mark_not_null(&eq[insn->dst_reg]);
}

static int follow_both(struct ub_venv *env, const struct bpf_insn *insn, int *insn_idx,
		       struct ub_vreg *dst, struct ub_vreg *src)
{
	uint8_t op = BPF_OP(insn->code);
	bool is32 = BPF_CLASS(insn->code) == BPF_JMP32, x = BPF_SRC(insn->code) == BPF_X;
	struct ub_vstate *this = env->cur, *other = ub_ver_push(env, ub_vtarget(*insn_idx, insn->off),
							      *insn_idx);

	if (!other)
		return -ENOMEM;
	struct ub_vreg *oregs = other->frame[other->curframe]->regs;
	struct ub_vreg *tregs = this->frame[this->curframe]->regs;
	if (x) {
		refine_scalars(&oregs[insn->dst_reg], &oregs[insn->src_reg], dst, src, op, is32);
	} else {
		env->fake[1] = env->fake[0];
		refine_scalars(&oregs[insn->dst_reg], &env->fake[0], dst, &env->fake[1], op, is32);
	}
	if (x && src->type == VT_SCALAR && src->id) {
		sync_linked(this, src);
		sync_linked(other, &oregs[insn->src_reg]);
	}
	if (dst->type == VT_SCALAR && dst->id) {
		sync_linked(this, dst);
		sync_linked(other, &oregs[insn->dst_reg]);
	}
	pointer_eq_nonnull(insn, dst, src, tregs, oregs);
	if (!is32 && !x && insn->imm == 0 && (op == BPF_JEQ || op == BPF_JNE) &&
	    (dst->type & VF_MAYBE_NULL)) {
		ptr_or_null_regs(this, insn->dst_reg, op == BPF_JNE);
		ptr_or_null_regs(other, insn->dst_reg, op == BPF_JEQ);
	} else if (x) {
		match_pkt_pointers(insn, dst, &tregs[insn->src_reg], this, other);
	}
	return 0;
}

int ub_vjmp_cond(struct ub_venv *env, const struct bpf_insn *insn, int *insn_idx)
{
	struct ub_vreg *dst, *src;
	bool is32 = BPF_CLASS(insn->code) == BPF_JMP32;
	int err = check_operands(env, insn, &src);

	if (err)
		return err;
	dst = &ub_vst_regs(env)[insn->dst_reg];
	int pred = branch_taken(dst, src, BPF_OP(insn->code), is32);
	if (pred == 1) {
		*insn_idx += insn->off;
		return 0;
	}
	if (pred == 0)
		return 0;
	return follow_both(env, insn, insn_idx, dst, src);
}
