/*
 * ub_vst: abstract registers, stack slots, frames and whole verifier states; the
 * references a state holds (ringbuf records, sockets, spin locks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "verifier/env.h"

/* ---- Registers ---- */

void ub_vst_mark_unknown(struct ub_vreg *reg)
{
	memset(reg, 0, sizeof(*reg));
	reg->type = VT_SCALAR;
	reg->var_off = UB_TNUM_UNKNOWN;
	ub_bnd_unbounded(reg);
}

void ub_vst_mark_not_init(struct ub_vreg *reg)
{
	ub_vst_mark_unknown(reg);
	reg->type = VT_NOT_INIT;
}

/* The value part only: var_off and all ranges become imm. */
static void set_known(struct ub_vreg *reg, uint64_t imm)
{
	reg->var_off = ub_tnum_const(imm);
	reg->smin = reg->smax = (int64_t)imm;
	reg->umin = reg->umax = imm;
	reg->s32_min = reg->s32_max = (int32_t)imm;
	reg->u32_min = reg->u32_max = (uint32_t)imm;
}

void ub_vst_mark_known(struct ub_vreg *reg, uint64_t imm)
{
	uint16_t type = reg->type;
	uint8_t frameno = reg->frameno;

	memset(reg, 0, sizeof(*reg));
	reg->type = type;
	reg->frameno = frameno;
	set_known(reg, imm);
}

void ub_vst_mark_const(struct ub_vreg *reg, uint64_t imm)
{
	memset(reg, 0, sizeof(*reg));
	reg->type = VT_SCALAR;
	set_known(reg, imm);
}

void ub_vst_mark_known_zero(struct ub_vreg *reg)
{
	ub_vst_mark_known(reg, 0);
}

void ub_vst_mark_ptr(struct ub_vreg *reg, uint16_t type)
{
	memset(reg, 0, sizeof(*reg));
	set_known(reg, 0);
	reg->type = type;
}

bool ub_vst_is_null(const struct ub_vreg *reg)
{
	return reg->type == VT_SCALAR && ub_tnum_equals_const(reg->var_off, 0);
}

bool ub_vst_is_const(const struct ub_vreg *reg, bool subreg32)
{
	return reg->type == VT_SCALAR &&
	       ub_tnum_is_const(subreg32 ? ub_tnum_subreg(reg->var_off) : reg->var_off);
}

bool ub_vst_is_pkt(const struct ub_vreg *reg)
{
	return reg->type == VT_PKT || reg->type == VT_PKT_META;
}

bool ub_vst_is_pkt_any(const struct ub_vreg *reg)
{
	return ub_vst_is_pkt(reg) || reg->type == VT_PKT_END;
}

bool ub_vst_not_null(const struct ub_vreg *reg)
{
	if (reg->type & VF_MAYBE_NULL)
		return false;
	switch (VT_BASE(reg->type)) {
	case VT_SOCKET: case VT_TCP_SOCK: case VT_MAP_VALUE: case VT_MAP_KEY:
	case VT_SOCK_COMMON: case VT_MEM:
		return true;
	default:
		return false;
	}
}

void ub_vst_mark_not_null(struct ub_vreg *reg)
{
	reg->type &= (uint16_t)~VF_MAYBE_NULL;
}

bool ub_vst_is_spillable(uint16_t type)
{
	switch (VT_BASE(type)) {
	case VT_MAP_VALUE: case VT_STACK: case VT_CTX: case VT_PKT: case VT_PKT_META:
	case VT_PKT_END: case VT_MAP_PTR: case VT_SOCKET: case VT_SOCK_COMMON:
	case VT_TCP_SOCK: case VT_XDP_SOCK: case VT_BTF_ID: case VT_MEM: case VT_FUNC:
	case VT_MAP_KEY:
		return true;
	default:
		return false;
	}
}

/* Before rX = rY (or a spill) of a scalar: make sure rY has an id to share. */
void ub_vst_scalar_id(struct ub_venv *env, struct ub_vreg *reg)
{
	if (reg->type != VT_SCALAR)
		return;
	if (reg->id & UB_ADD_CONST) {
		/* rY = rZ + k already: a second link cannot be expressed */
		reg->id = 0;
		reg->off = 0;
	}
	if (!reg->id && !ub_tnum_is_const(reg->var_off))
		reg->id = ++env->id_gen;
}

/* The kernel's check_reg_arg: a source must be initialized, r10 is never written. */
int ub_vst_check_reg(struct ub_venv *env, uint32_t regno, int t)
{
	struct ub_vreg *regs = ub_vst_regs(env);

	if (regno >= UB_MAX_REG) {
		ub_vlog(env, "R%u is invalid\n", regno);
		return -EINVAL;
	}
	ub_vlog_scratch_reg(env, regno);
	if (t == SRC_OP) {
		if (regs[regno].type == VT_NOT_INIT) {
			ub_vlog(env, "R%u !read_ok\n", regno);
			return -EACCES;
		}
		return 0;
	}
	if (regno == UB_REG_FP) {
		ub_vlog(env, "frame pointer is read only\n");
		return -EACCES;
	}
	if (t == DST_OP)
		ub_vst_mark_unknown(&regs[regno]);
	return 0;
}

static const char *const type_names[VT__COUNT] = {
	[VT_NOT_INIT] = "?", [VT_SCALAR] = "scalar", [VT_CTX] = "ctx", [VT_MAP_PTR] = "map_ptr",
	[VT_MAP_VALUE] = "map_value", [VT_MAP_KEY] = "map_key", [VT_STACK] = "fp",
	[VT_PKT_META] = "pkt_meta", [VT_PKT] = "pkt", [VT_PKT_END] = "pkt_end", [VT_MEM] = "mem",
	[VT_FUNC] = "func", [VT_SOCKET] = "sock", [VT_SOCK_COMMON] = "sock_common",
	[VT_TCP_SOCK] = "tcp_sock", [VT_XDP_SOCK] = "xdp_sock", [VT_BTF_ID] = "ptr_",
};

/* The kernel's reg_type_str: prefixes for memory flags, "_or_null" for maybe-NULL. */
const char *ub_vst_type_str(uint16_t type, char *buf, size_t size)
{
	unsigned base = VT_BASE(type);
	const char *name = base < VT__COUNT ? type_names[base] : "?";

	/* a map-in-map lookup result: the kernel holds it as a map value until its NULL
	 * check turns it into the inner map's pointer, and names it so */
	if (base == VT_MAP_PTR && type & VF_MAYBE_NULL)
		name = "map_value";
	const char *prefix = type & VF_RINGBUF ? "ringbuf_" : type & VF_RDONLY ? "rdonly_" : "";

	snprintf(buf, size, "%s%s%s", prefix, name,
		 type & VF_MAYBE_NULL && base != VT_BTF_ID ? "_or_null" :
		 type & VF_MAYBE_NULL ? "or_null_" : "");
	return buf;
}

/* ---- Frames and states ---- */

struct ub_vframe *ub_vst_frame_new(int callsite, int frameno, int subprog)
{
	struct ub_vframe *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->callsite = callsite;
	f->frameno = (uint16_t)frameno;
	f->subprog = (uint16_t)subprog;
	for (int i = 0; i < UB_MAX_REG; i++)
		ub_vst_mark_not_init(&f->regs[i]);
	ub_vst_mark_ptr(&f->regs[UB_REG_FP], VT_STACK);
	f->regs[UB_REG_FP].frameno = (uint8_t)frameno;
	return f;
}

void ub_vst_frame_free(struct ub_vframe *f)
{
	if (f)
		free(f->stack);
	free(f);
}

/* Makes room for `bytes` of stack (rounded up to whole slots); new slots are INVALID. */
int ub_vst_grow_stack(struct ub_vframe *f, int bytes)
{
	int n = (bytes + UB_REG_SIZE - 1) / UB_REG_SIZE;

	if (n <= f->nslots)
		return 0;
	if (n > UB_MAX_SLOTS)
		n = UB_MAX_SLOTS;
	struct ub_vslot *s = realloc(f->stack, (size_t)n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + f->nslots, 0, (size_t)(n - f->nslots) * sizeof(*s));
	for (int i = f->nslots; i < n; i++)
		ub_vst_mark_not_init(&s[i].spilled);
	f->stack = s;
	f->nslots = n;
	return 0;
}

static int copy_frame(struct ub_vframe **dstp, const struct ub_vframe *src)
{
	struct ub_vframe *dst = *dstp;
	struct ub_vslot *stack;

	if (!dst && !(dst = *dstp = calloc(1, sizeof(*dst))))
		return -ENOMEM;
	stack = dst->stack;
	if (src->nslots > dst->nslots || !stack) {
		stack = realloc(stack, (size_t)(src->nslots ? src->nslots : 1) * sizeof(*stack));
		if (!stack)
			return -ENOMEM;
	}
	*dst = *src;
	dst->stack = stack;
	if (src->nslots)
		memcpy(stack, src->stack, (size_t)src->nslots * sizeof(*stack));
	return 0;
}

struct ub_vstate *ub_vst_new(void)
{
	return calloc(1, sizeof(struct ub_vstate));
}

void ub_vst_free(struct ub_vstate *st)
{
	for (int i = 0; i < UB_MAX_FRAMES; i++) {
		ub_vst_frame_free(st->frame[i]);
		st->frame[i] = NULL;
	}
	free(st->refs);
	st->refs = NULL;
	st->nrefs = st->refcap = 0;
}

void ub_vst_destroy(struct ub_vstate *st)
{
	if (st)
		ub_vst_free(st);
	free(st);
}

static int copy_refs(struct ub_vstate *dst, const struct ub_vstate *src)
{
	if (src->nrefs > dst->refcap) {
		struct ub_vref *r = realloc(dst->refs, (size_t)src->nrefs * sizeof(*r));
		if (!r)
			return -ENOMEM;
		dst->refs = r;
		dst->refcap = src->nrefs;
	}
	if (src->nrefs)
		memcpy(dst->refs, src->refs, (size_t)src->nrefs * sizeof(*dst->refs));
	dst->nrefs = src->nrefs;
	return 0;
}

/* dst becomes a deep copy of src (dst's allocations are reused). */
int ub_vst_copy(struct ub_vstate *dst, const struct ub_vstate *src)
{
	int err = copy_refs(dst, src);

	for (int i = src->curframe + 1; i < UB_MAX_FRAMES; i++) {
		ub_vst_frame_free(dst->frame[i]);
		dst->frame[i] = NULL;
	}
	for (int i = 0; !err && i <= src->curframe; i++)
		err = copy_frame(&dst->frame[i], src->frame[i]);
	dst->curframe = src->curframe;
	dst->active_locks = src->active_locks;
	dst->parent = src->parent;
	dst->branches = src->branches;
	dst->insn_idx = src->insn_idx;
	dst->callback_unroll_depth = src->callback_unroll_depth;
	return err;
}

/* ---- References ---- */

int ub_vst_acquire_ref(struct ub_venv *env, int insn, uint8_t type, uint32_t id, const void *ptr)
{
	struct ub_vstate *st = env->cur;

	if (st->nrefs >= 4096)
		return -E2BIG;
	if (st->nrefs == st->refcap) {
		int cap = st->refcap ? st->refcap * 2 : 4;
		struct ub_vref *r = realloc(st->refs, (size_t)cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		st->refs = r;
		st->refcap = cap;
	}
	if (!id && type != REF_LOCK)	/* a lock keeps its value's id, 0 for a direct value */
		id = ++env->id_gen;
	st->refs[st->nrefs++] = (struct ub_vref){ .id = id, .insn = insn, .type = type, .ptr = ptr };
	if (type == REF_LOCK)
		st->active_locks++;
	return (int)id;
}

int ub_vst_release_ref(struct ub_vstate *st, uint32_t id)
{
	for (int i = 0; i < st->nrefs; i++) {
		if (st->refs[i].type != REF_PTR || st->refs[i].id != id)
			continue;
		memmove(&st->refs[i], &st->refs[i + 1], (size_t)(st->nrefs - i - 1) * sizeof(st->refs[0]));
		st->nrefs--;
		return 0;
	}
	return -EINVAL;
}

/* A released object's pointers become unusable scalars, in every copy. */
int ub_vst_release_reference(struct ub_venv *env, uint32_t ref_obj_id)
{
	int err = ub_vst_release_ref(env->cur, ref_obj_id);

	if (err)
		return err;
	UB_FOR_EACH_REG(env->cur, f, reg, {
		if (reg->ref_obj_id == ref_obj_id)
			ub_vst_mark_unknown(reg);
	});
	return 0;
}

/* After a helper that may move the packet, packet pointers are no longer pointers. */
void ub_vst_clear_pkt_pointers(struct ub_venv *env)
{
	UB_FOR_EACH_REG(env->cur, f, reg, {
		if (ub_vst_is_pkt_any(reg))
			ub_vst_mark_unknown(reg);
	});
}
