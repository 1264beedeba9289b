/*
 * ub_vmem: loads, stores, atomics and the memory arguments of helpers. Each pointer type
 * has its own rules (the kernel's check_mem_access): stack slots track spilled registers
 * and which bytes were written; map values, packets and helper memory are bounded by
 * their size, the packet by the range proven against data_end; the context by the
 * program type's layout (progs/ctx_access.c).
 */
#include <errno.h>
#include <string.h>
#include "maps/map.h"
#include "progs/ctx_access.h"
#include "progs/progs.h"
#include "verifier/env.h"

static char tbuf[64];	/* scratch for type names in messages; one message at a time */

static const char *tstr(uint16_t type)
{
	return ub_vst_type_str(type, tbuf, sizeof(tbuf));
}

/* ---- Alignment ---- */

static int check_alignment(struct ub_venv *env, const struct ub_vreg *reg, int off, int size,
			   bool strict_once)
{
	bool strict = env->strict_alignment || strict_once;
	const char *desc = "";
	char tn[48];
	int ip_align = 0;

	switch (reg->type) {
	case VT_PKT: case VT_PKT_META:
		ip_align = 2;	/* NET_IP_ALIGN, as the kernel's strict mode assumes */
		break;
	case VT_MAP_KEY: desc = "key "; break;
	case VT_MAP_VALUE: desc = "value "; break;
	case VT_CTX: desc = "context "; break;
	case VT_STACK:
		desc = "stack ";
		strict = true;	/* spill tracking relies on aligned stack accesses */
		break;
	case VT_SOCKET: desc = "sock "; break;
	case VT_SOCK_COMMON: desc = "sock_common "; break;
	case VT_TCP_SOCK: desc = "tcp_sock "; break;
	case VT_XDP_SOCK: desc = "xdp_sock "; break;
	default: break;
	}
	if (!strict || size == 1)
		return 0;
	struct ub_tnum t = ub_tnum_add(reg->var_off, ub_tnum_const((uint64_t)(int64_t)(ip_align + reg->off + off)));
	if (ub_tnum_is_aligned(t, (uint64_t)size))
		return 0;
	ub_tnum_str(tn, sizeof(tn), reg->var_off);
	if (ip_align)
		ub_vlog(env, "misaligned packet access off %d+%s+%d+%d size %d\n", ip_align, tn,
			reg->off, off, size);
	else
		ub_vlog(env, "misaligned %saccess off %s+%d+%d size %d\n", desc, tn, reg->off, off, size);
	return -EACCES;
}

/* ---- Bounded memory: map keys and values, packets, helper memory ---- */

static int mem_in_bounds(struct ub_venv *env, uint32_t regno, int64_t off, int size,
			 uint32_t mem_size, bool zero_ok)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	bool size_ok = size > 0 || (size == 0 && zero_ok);

	if (off >= 0 && size_ok && (uint64_t)off + (uint64_t)size <= mem_size)
		return 0;
	switch (VT_BASE(reg->type)) {
	case VT_MAP_KEY:
		ub_vlog(env, "invalid access to map key, key_size=%u off=%d size=%d\n", mem_size,
			(int)off, size);
		break;
	case VT_MAP_VALUE:
		ub_vlog(env, "invalid access to map value, value_size=%u off=%d size=%d\n", mem_size,
			(int)off, size);
		break;
	case VT_PKT: case VT_PKT_META: case VT_PKT_END:
		ub_vlog(env, "invalid access to packet, off=%d size=%d, R%u(id=%u,off=%d,r=%u)\n",
			(int)off, size, regno, reg->id, (int)off, mem_size);
		break;
	default:
		ub_vlog(env, "invalid access to memory, mem_size=%u off=%d size=%d\n", mem_size,
			(int)off, size);
		break;
	}
	return -EACCES;
}

/* [reg + off, + size) inside mem_size bytes for every value of reg's variable part. */
static int region_access(struct ub_venv *env, uint32_t regno, int off, int size,
			 uint32_t mem_size, bool zero_ok)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	int64_t lo = reg->smin + off;

	if (reg->smin < 0 && (reg->smin == INT64_MIN || lo != (int64_t)(int32_t)lo || lo < 0)) {
		ub_vlog(env, "R%u min value is negative, either use unsigned index or do a if (index >=0) check.\n",
			regno);
		return -EACCES;
	}
	if (mem_in_bounds(env, regno, lo, size, mem_size, zero_ok)) {
		ub_vlog(env, "R%u min value is outside of the allowed memory range\n", regno);
		return -EACCES;
	}
	if (reg->umax >= UB_MAX_VAR_OFF) {
		ub_vlog(env, "R%u unbounded memory access, make sure to bounds check any such access\n",
			regno);
		return -EACCES;
	}
	if (mem_in_bounds(env, regno, (int64_t)reg->umax + off, size, mem_size, zero_ok)) {
		ub_vlog(env, "R%u max value is outside of the allowed memory range\n", regno);
		return -EACCES;
	}
	return 0;
}

int ub_vmem_map_access(struct ub_venv *env, uint32_t regno, int off, int size, bool zero_ok)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	int err = region_access(env, regno, off, size, reg->map->value_size, zero_ok);
	int32_t lock = reg->map->lock_off;

	if (err || lock < 0)
		return err;
	/* any byte of the struct bpf_spin_lock, by a load, a store or a helper (check_map_access) */
	if (reg->smin + off < (int64_t)lock + 4 && (int64_t)lock < (int64_t)reg->umax + off + size) {
		ub_vlog(env, "bpf_spin_lock cannot be accessed directly by load/store\n");
		return -EACCES;
	}
	return 0;
}

static int map_access_type(struct ub_venv *env, uint32_t regno, int off, int size, bool write)
{
	const struct ub_map *map = ub_vst_regs(env)[regno].map;

	if (write && (map->flags & BPF_F_RDONLY_PROG)) {
		ub_vlog(env, "write into map forbidden, value_size=%u off=%d size=%d\n",
			map->value_size, off, size);
		return -EACCES;
	}
	if (!write && (map->flags & BPF_F_WRONLY_PROG)) {
		ub_vlog(env, "read from map forbidden, value_size=%u off=%d size=%d\n",
			map->value_size, off, size);
		return -EACCES;
	}
	return 0;
}

/* Direct packet access per program type (the kernel's may_access_direct_pkt_data). */
bool ub_vmem_pkt_ok(const struct ub_venv *env, bool write, const struct ub_vcall_meta *meta)
{
	if (!env->pkt_direct_read || (write && !env->pkt_direct_write))
		return false;
	return meta ? meta->pkt_access : true;
}

static int packet_access(struct ub_venv *env, uint32_t regno, int off, int size, bool zero_ok)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];

	if (reg->smin < 0) {
		ub_vlog(env, "R%u min value is negative, either use unsigned index or do a if (index >=0) check.\n",
			regno);
		return -EACCES;
	}
	if (reg->range < 0 || mem_in_bounds(env, regno, off, size, (uint32_t)reg->range, zero_ok)) {
		ub_vlog(env, "R%u offset is outside of the packet\n", regno);
		return -EACCES;
	}
	return 0;
}

/* Pointers passed to helpers or dereferenced must be unmodified (ctx, sockets ...). */
int ub_vmem_check_ptr_off(struct ub_venv *env, const struct ub_vreg *reg, uint32_t regno,
			  bool fixed_off_ok)
{
	char tn[48];

	if (reg->off < 0) {
		ub_vlog(env, "negative offset %s ptr R%u off=%d disallowed\n", tstr(reg->type), regno,
			reg->off);
		return -EACCES;
	}
	if (!fixed_off_ok && reg->off) {
		ub_vlog(env, "dereference of modified %s ptr R%u off=%d disallowed\n",
			tstr(reg->type), regno, reg->off);
		return -EACCES;
	}
	if (!ub_tnum_is_const(reg->var_off) || reg->var_off.value) {
		ub_tnum_str(tn, sizeof(tn), reg->var_off);
		ub_vlog(env, "variable %s access var_off=%s disallowed\n", tstr(reg->type), tn);
		return -EACCES;
	}
	return 0;
}

/* ---- The stack ---- */

static int stack_bounds(struct ub_venv *env, uint32_t regno, int off, int size, bool write)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	const char *extra = write ? " write to" : " read from";
	int64_t min_off, max_off;
	char tn[48];

	if (ub_tnum_is_const(reg->var_off)) {
		min_off = (int64_t)reg->var_off.value + off;
		max_off = min_off + size;
	} else {
		if (reg->smax >= UB_MAX_VAR_OFF || reg->smin <= -UB_MAX_VAR_OFF) {
			ub_vlog(env, "invalid unbounded variable-offset%s stack R%u\n", extra, regno);
			return -EACCES;
		}
		min_off = reg->smin + off;
		max_off = reg->smax + off + size;
	}
	/* privileged programs may read the stack they never wrote (allow_uninit_stack) */
	if (min_off < -UB_STACK_SIZE || min_off > -1 || max_off > 0 || size < 0) {
		if (ub_tnum_is_const(reg->var_off)) {
			ub_vlog(env, "invalid%s stack R%u off=%d size=%d\n", extra, regno, off, size);
		} else {
			ub_tnum_str(tn, sizeof(tn), reg->var_off);
			ub_vlog(env, "invalid variable-offset%s stack R%u var_off=%s off=%d size=%d\n",
				extra, regno, tn, off, size);
		}
		return -EACCES;
	}
	struct ub_vframe *f = ub_vst_func(env, reg);
	int depth = (int)((-min_off + UB_REG_SIZE - 1) & ~(int64_t)(UB_REG_SIZE - 1));
	if (env->subs[f->subprog].stack_depth < depth)
		env->subs[f->subprog].stack_depth = depth;
	return ub_vst_grow_stack(f, depth);
}

static bool is_spilled(const struct ub_vslot *s)
{
	return s->st[UB_REG_SIZE - 1] == STK_SPILL;
}

static bool is_spilled_scalar(const struct ub_vslot *s)
{
	return is_spilled(s) && s->spilled.type == VT_SCALAR;
}

/* The kernel's mark_stack_slot_misc (privileged): zero and invalid bytes stay. */
static void mark_misc(uint8_t *st)
{
	if (*st != STK_ZERO && *st != STK_INVALID)
		*st = STK_MISC;
}

static void save_reg(struct ub_vslot *s, const struct ub_vreg *reg, int size)
{
	int i;

	s->spilled = *reg;
	for (i = UB_REG_SIZE; i > UB_REG_SIZE - size; i--)
		s->st[i - 1] = STK_SPILL;
	for (; i; i--)
		mark_misc(&s->st[i - 1]);
}

static int stack_write_fixed(struct ub_venv *env, struct ub_vframe *state, int off, int size,
			     int value_regno, int insn_idx)
{
	struct ub_vframe *cur = ub_vst_cur_frame(env);
	const struct bpf_insn *insn = &env->insns[insn_idx];
	struct ub_vreg *reg = value_regno >= 0 ? &cur->regs[value_regno] : NULL;
	int slot = -off - 1, spi = slot / UB_REG_SIZE;
	struct ub_vslot *s = &state->stack[spi];
	bool is_st = BPF_CLASS(insn->code) == BPF_ST;

	ub_vlog_scratch_slot(env, spi);

	if (reg && !(off % UB_REG_SIZE) && reg->type == VT_SCALAR) {
		bool fits = ub_bnd_width(reg) <= 8 * size;
		if (fits)
			ub_vst_scalar_id(env, reg);	/* the spill stays linked */
		save_reg(s, reg, size);
		if (!fits)
			s->spilled.id = 0;	/* a narrowing spill breaks the link */
		return 0;
	}
	if (!reg && !(off % UB_REG_SIZE) && is_st) {
		struct ub_vreg tmp;
		ub_vst_mark_const(&tmp, (uint64_t)(int64_t)insn->imm);
		save_reg(s, &tmp, size);
		return 0;
	}
	if (reg && ub_vst_is_spillable(reg->type)) {
		if (size != UB_REG_SIZE) {
			ub_vlog(env, "invalid size of register spill\n");
			return -EACCES;
		}
		if (state != cur && reg->type == VT_STACK) {
			ub_vlog(env, "cannot spill pointers to stack into stack frame of the caller\n");
			return -EINVAL;
		}
		save_reg(s, reg, size);
		return 0;
	}
	/* plain data: any spilled register here is gone */
	uint8_t type = STK_MISC;
	s->spilled.type = VT_NOT_INIT;
	if (is_spilled(s))
		for (int i = 0; i < UB_REG_SIZE; i++)
			if (s->st[i] != STK_INVALID)
				s->st[i] = STK_MISC;
	if ((reg && ub_vst_is_null(reg)) || (!reg && is_st && insn->imm == 0))
		type = STK_ZERO;
	for (int i = 0; i < size; i++)
		s->st[(slot - i) % UB_REG_SIZE] = type;
	return 0;
}

/* A write at a variable offset may touch any byte of its range. */
static int stack_write_var(struct ub_venv *env, struct ub_vframe *state, uint32_t ptr_regno,
			   int off, int size, int value_regno, int insn_idx)
{
	struct ub_vframe *cur = ub_vst_cur_frame(env);
	const struct ub_vreg *ptr = &cur->regs[ptr_regno];
	const struct bpf_insn *insn = &env->insns[insn_idx];
	const struct ub_vreg *val = value_regno >= 0 ? &cur->regs[value_regno] : NULL;
	int64_t min_off = ptr->smin + off, max_off = ptr->smax + off + size;
	bool zero = (val && ub_vst_is_null(val)) ||
		    (!val && BPF_CLASS(insn->code) == BPF_ST && insn->imm == 0);

	for (int64_t i = min_off; i < max_off; i++) {
		int slot = (int)(-i - 1), spi = slot / UB_REG_SIZE;
		struct ub_vslot *s = &state->stack[spi];
		uint8_t *st = &s->st[slot % UB_REG_SIZE];

		ub_vlog_scratch_slot(env, spi);
		if (zero && *st == STK_SPILL && is_spilled_scalar(s) &&
		    ub_tnum_equals_const(s->spilled.var_off, 0))
			continue;
		s->spilled.type = VT_NOT_INIT;
		*st = zero && *st == STK_ZERO ? STK_ZERO : STK_MISC;
	}
	return 0;
}

/* dst gets the bytes [min_off, max_off) of a frame's stack: zero if all known zero. */
static void mark_stack_read(struct ub_venv *env, struct ub_vframe *ptr_state, int64_t min_off,
			    int64_t max_off, int dst)
{
	struct ub_vreg *regs = ub_vst_regs(env);
	int64_t zeros = 0;

	for (int64_t i = min_off; i < max_off; i++) {
		int slot = (int)(-i - 1);
		if (ptr_state->stack[slot / UB_REG_SIZE].st[slot % UB_REG_SIZE] != STK_ZERO)
			break;
		zeros++;
	}
	if (zeros == max_off - min_off)
		ub_vst_mark_const(&regs[dst], 0);
	else
		ub_vst_mark_unknown(&regs[dst]);
}

/* A partial read of a spilled register: only scalars, maybe the register narrowed. */
static int fill_partial(struct ub_venv *env, struct ub_vslot *s, int off, int size,
			int spill_size, int dst)
{
	struct ub_vreg *regs = ub_vst_regs(env);
	int slot = -off - 1, spill = 0, zero = 0;

	if (s->spilled.type != VT_SCALAR) {
		ub_vlog(env, "invalid size of register fill\n");
		return -EACCES;
	}
	if (dst < 0)
		return 0;
	if (size <= spill_size && !(off % UB_REG_SIZE)) {
		regs[dst] = s->spilled;
		if (ub_bnd_width(&s->spilled) > size * 8)
			regs[dst].id = 0;	/* a narrowing fill breaks the link */
		return 0;
	}
	for (int i = 0; i < size; i++) {
		uint8_t t = s->st[(slot - i) % UB_REG_SIZE];
		spill += t == STK_SPILL;
		zero += t == STK_ZERO;
	}
	if ((spill == size && ub_tnum_equals_const(s->spilled.var_off, 0)) || zero == size)
		ub_vst_mark_const(&regs[dst], 0);
	else
		ub_vst_mark_unknown(&regs[dst]);
	return 0;
}

static int stack_read_fixed(struct ub_venv *env, struct ub_vframe *rstate, int off, int size,
			    int dst)
{
	int slot = -off - 1, spi = slot / UB_REG_SIZE;
	struct ub_vslot *s = &rstate->stack[spi];
	struct ub_vreg *regs = ub_vst_regs(env);

	ub_vlog_scratch_slot(env, spi);
	if (!is_spilled(s)) {
		/* privileged: uninitialized bytes read as unknown data */
		if (dst >= 0)
			mark_stack_read(env, rstate, off, off + size, dst);
		return 0;
	}
	int spill_size = 1;
	for (int i = UB_REG_SIZE - 1; i > 0 && s->st[i - 1] == STK_SPILL; i--)
		spill_size++;
	if (size != UB_REG_SIZE || spill_size != UB_REG_SIZE)
		return fill_partial(env, s, off, size, spill_size, dst);
	if (dst >= 0)
		regs[dst] = s->spilled;
	return 0;
}

static int stack_range_init(struct ub_venv *env, uint32_t regno, int off, int size,
			    bool zero_ok, bool write, struct ub_vcall_meta *meta);

static int stack_read(struct ub_venv *env, uint32_t regno, int off, int size, int dst)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	struct ub_vframe *state = ub_vst_func(env, reg);
	char tn[48];

	if (ub_tnum_is_const(reg->var_off))
		return stack_read_fixed(env, state, off + (int)reg->var_off.value, size, dst);
	if (dst < 0) {
		ub_tnum_str(tn, sizeof(tn), reg->var_off);
		ub_vlog(env, "variable offset stack pointer cannot be passed into helper function; var_off=%s off=%d size=%d\n",
			tn, off, size);
		return -EACCES;
	}
	int err = stack_range_init(env, regno, off, size, false, false, NULL);
	if (err)
		return err;
	mark_stack_read(env, state, reg->smin + off, reg->smax + off + size, dst);
	return 0;
}

static int stack_write(struct ub_venv *env, uint32_t regno, int off, int size, int value_regno,
		       int insn_idx)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	struct ub_vframe *state = ub_vst_func(env, reg);

	if (ub_tnum_is_const(reg->var_off))
		return stack_write_fixed(env, state, off + (int)reg->var_off.value, size,
					 value_regno, insn_idx);
	return stack_write_var(env, state, regno, off, size, value_regno, insn_idx);
}

/* Stack memory a helper reads or writes (privileged: uninitialized bytes are fine). */
static int stack_range_init(struct ub_venv *env, uint32_t regno, int off, int size,
			    bool zero_ok, bool write, struct ub_vcall_meta *meta)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	struct ub_vframe *state = ub_vst_func(env, reg);
	int64_t min_off, max_off;
	int err;

	if (size == 0 && !zero_ok) {
		ub_vlog(env, "invalid zero-sized read\n");
		return -EACCES;
	}
	if ((err = stack_bounds(env, regno, off, size, write)))
		return err;
	if (ub_tnum_is_const(reg->var_off)) {
		min_off = max_off = (int64_t)reg->var_off.value + off;
	} else {
		if (meta && meta->raw_mode)
			meta = NULL;	/* a variable-offset buffer must be initialized */
		min_off = reg->smin + off;
		max_off = reg->smax + off;
	}
	if (meta && meta->raw_mode) {
		meta->access_size = size;
		meta->regno = (int)regno;
		return 0;
	}
	for (int64_t i = min_off; write && i < max_off + size; i++) {
		int slot = (int)(-i - 1);
		struct ub_vslot *s = &state->stack[slot / UB_REG_SIZE];
		uint8_t *st = &s->st[slot % UB_REG_SIZE];
		ub_vlog_scratch_slot(env, slot / UB_REG_SIZE);
		if (*st == STK_SPILL && is_spilled(s)) {
			ub_vst_mark_unknown(&s->spilled);
			for (int j = 0; j < UB_REG_SIZE; j++)
				s->st[j] = s->st[j] == STK_INVALID ? STK_INVALID : STK_MISC;
		} else if (*st == STK_ZERO || *st == STK_INVALID) {
			*st = STK_MISC;
		}
	}
	return 0;
}

/* ---- Loads and stores ---- */

static int ctx_access(struct ub_venv *env, int insn_idx, uint32_t regno, int off, int size,
		      bool write, int value_regno, bool ldsx)
{
	struct ub_vreg *regs = ub_vst_regs(env);
	struct ub_ctx_req rq = { .pt = env->req->pt, .attach_type = env->req->expected_attach_type,
				 .off = off, .size = size, .write = write, .ldsx = ldsx };
	uint8_t ret;
	int err = ub_vmem_check_ptr_off(env, &regs[regno], regno, false);

	if (err)
		return err;
	if (!ub_ctx_access(&rq, &ret)) {
		ub_vlog(env, "invalid bpf_context access off=%d size=%d\n", off, size);
		return -EACCES;
	}
	if ((uint32_t)(off + size) > env->max_ctx_off)
		env->max_ctx_off = (uint32_t)(off + size);
	if (write || value_regno < 0)
		return 0;
	static const uint16_t types[] = { [UB_CTX_PKT] = VT_PKT, [UB_CTX_PKT_META] = VT_PKT_META,
					   [UB_CTX_PKT_END] = VT_PKT_END,
					   [UB_CTX_SOCK_COMMON_OR_NULL] = VT_SOCK_COMMON | VF_MAYBE_NULL };
	if (ret == UB_CTX_SCALAR) {
		ub_vst_mark_unknown(&regs[value_regno]);
		return 0;
	}
	ub_vst_mark_ptr(&regs[value_regno], types[ret]);
	if (regs[value_regno].type & VF_MAYBE_NULL)
		regs[value_regno].id = ++env->id_gen;
	if (ret != UB_CTX_SOCK_COMMON_OR_NULL)
		env->aux[insn_idx].ctx_conv = ret == UB_CTX_PKT ? UB_VER_CTX_PKT_DATA :
					      ret == UB_CTX_PKT_END ? UB_VER_CTX_PKT_END :
					      UB_VER_CTX_PKT_META;
	return 0;
}

static int sock_access(struct ub_venv *env, uint32_t regno, int off, int size, bool write)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	enum ub_sock_kind kind = reg->type == VT_SOCK_COMMON ? UB_SOCK_COMMON :
				 reg->type == VT_SOCKET ? UB_SOCK_FULL :
				 reg->type == VT_TCP_SOCK ? UB_SOCK_TCP : UB_SOCK_XDP;

	if (reg->smin < 0) {
		ub_vlog(env, "R%u min value is negative, either use unsigned index or do a if (index >=0) check.\n",
			regno);
		return -EACCES;
	}
	if (ub_ctx_sock_access(kind, off, size, write))
		return 0;
	ub_vlog(env, "R%u invalid %s access off=%d size=%d\n", regno, tstr(reg->type), off, size);
	return -EACCES;
}

/* The kernel struct a map pointer points to, by map type (its BTF name). */
static const char *map_struct(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_ARRAY: case BPF_MAP_TYPE_PERCPU_ARRAY: case BPF_MAP_TYPE_PROG_ARRAY:
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY: case BPF_MAP_TYPE_CGROUP_ARRAY:
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		return "bpf_array";
	case BPF_MAP_TYPE_HASH: case BPF_MAP_TYPE_PERCPU_HASH: case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH: case BPF_MAP_TYPE_HASH_OF_MAPS:
		return "bpf_htab";
	case BPF_MAP_TYPE_LPM_TRIE: return "lpm_trie";
	case BPF_MAP_TYPE_QUEUE: case BPF_MAP_TYPE_STACK: return "bpf_queue_stack";
	case BPF_MAP_TYPE_RINGBUF: return "bpf_ringbuf_map";
	case BPF_MAP_TYPE_BLOOM_FILTER: return "bpf_bloom_filter";
	case BPF_MAP_TYPE_STACK_TRACE: return "bpf_stack_map";
	case BPF_MAP_TYPE_DEVMAP: case BPF_MAP_TYPE_DEVMAP_HASH: return "bpf_dtab";
	case BPF_MAP_TYPE_CPUMAP: return "bpf_cpu_map";
	case BPF_MAP_TYPE_XSKMAP: return "xsk_map";
	default: return NULL;
	}
}

/*
 * Fields of the map itself (the kernel's check_ptr_to_map_access, through BTF): reads
 * only, within struct bpf_map. uebpf has no such struct behind the pointer, so the
 * loader turns the load into dst = 0 (UB_VER_CONV_ZERO) and it never touches memory.
 */
static int map_ptr_access(struct ub_venv *env, int insn_idx, uint32_t regno, int off, int size,
			  bool write)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	const char *tname = reg->map ? map_struct(reg->map->type) : NULL;

	if (!tname) {
		ub_vlog(env, "map_ptr access not supported for map type %u\n",
			reg->map ? reg->map->type : 0);
		return -EOPNOTSUPP;
	}
	if (off < 0) {
		ub_vlog(env, "R%u is %s invalid negative access: off=%d\n", regno, tname, off);
		return -EACCES;
	}
	if (write) {
		ub_vlog(env, "only read from %s is supported\n", tname);
		return -EACCES;
	}
	if (!ub_tnum_is_const(reg->var_off) || off + size > 256) {	/* sizeof(struct bpf_map) */
		ub_vlog(env, "access beyond struct %s at off %d size %d\n", tname, off, size);
		return -EACCES;
	}
	env->aux[insn_idx].ctx_conv = UB_VER_CONV_ZERO;
	return 0;
}

static int access_by_type(struct ub_venv *env, int insn_idx, uint32_t regno, int off, int size,
			  bool write, int value_regno, bool ldsx)
{
	struct ub_vreg *regs = ub_vst_regs(env), *reg = &regs[regno];
	int err;

	switch (VT_BASE(reg->type)) {
	case VT_MAP_KEY:
		if (write) {
			ub_vlog(env, "write to change key R%u not allowed\n", regno);
			return -EACCES;
		}
		return region_access(env, regno, off, size, reg->map->key_size, false);
	case VT_MAP_VALUE:
		if (reg->type & VF_MAYBE_NULL)
			break;
		if ((err = map_access_type(env, regno, off, size, write)))
			return err;
		return ub_vmem_map_access(env, regno, off, size, false);
	case VT_MEM:
		if (reg->type & VF_MAYBE_NULL)
			break;
		if (write && (reg->type & VF_RDONLY)) {
			ub_vlog(env, "R%u cannot write into %s\n", regno, tstr(reg->type));
			return -EACCES;
		}
		return region_access(env, regno, off, size, reg->mem_size, false);
	case VT_CTX:
		return ctx_access(env, insn_idx, regno, off, size, write, value_regno, ldsx);
	case VT_STACK:
		if ((err = stack_bounds(env, regno, off, size, write)))
			return err;
		return write ? stack_write(env, regno, off, size, value_regno, insn_idx) :
			       stack_read(env, regno, off, size, value_regno);
	case VT_PKT: case VT_PKT_META:
		if (write && !ub_vmem_pkt_ok(env, true, NULL)) {
			ub_vlog(env, "cannot write into packet\n");
			return -EACCES;
		}
		return packet_access(env, regno, off, size, false);
	case VT_SOCKET: case VT_SOCK_COMMON: case VT_TCP_SOCK: case VT_XDP_SOCK:
		if (reg->type & VF_MAYBE_NULL)
			break;
		if (write) {
			ub_vlog(env, "R%u cannot write into %s\n", regno, tstr(reg->type));
			return -EACCES;
		}
		return sock_access(env, regno, off, size, write);
	case VT_MAP_PTR:
		if (reg->type & VF_MAYBE_NULL)
			break;
		return map_ptr_access(env, insn_idx, regno, off, size, write);
	default:
		break;
	}
	ub_vlog(env, "R%u invalid mem access '%s'\n", regno, tstr(reg->type));
	return -EACCES;
}

/*
 * A load from a frozen array the program may only read (libbpf's .rodata: one element,
 * BPF_F_RDONLY_PROG, frozen before the load) gives the constant stored there, as the
 * kernel's bpf_map_direct_read: code that a configuration disables is then dead. The
 * kernel relies on frozen maps having no writable mapping; here the map must be sealed
 * (ub_map_sealed: no other user can write its file).
 */
static bool direct_read(const struct ub_vreg *reg, int off, int size, bool ldsx, uint64_t *val)
{
	const struct ub_map *m = reg->map;
	union { uint8_t b; uint16_t h; uint32_t w; uint64_t d; } v = { .d = 0 };

	if (!m || !ub_tnum_is_const(reg->var_off) || !(m->flags & BPF_F_RDONLY_PROG) ||
	    m->type != BPF_MAP_TYPE_ARRAY || m->max_entries != 1 || !ub_map_sealed(m))
		return false;
	int64_t o = (int64_t)off + (int64_t)reg->var_off.value;
	if (o < 0 || o + size > (int64_t)m->value_size || (size != 1 && size != 2 && size != 4 && size != 8))
		return false;
	memcpy(&v, m->data + o, (size_t)size);
	switch (size) {
	case 1: *val = ldsx ? (uint64_t)(int64_t)(int8_t)v.b : v.b; break;
	case 2: *val = ldsx ? (uint64_t)(int64_t)(int16_t)v.h : v.h; break;
	case 4: *val = ldsx ? (uint64_t)(int64_t)(int32_t)v.w : v.w; break;
	default: *val = v.d; break;
	}
	return true;
}

/*
 * The kernel's check_mem_access: may regno + off be read (value into value_regno, -1:
 * nowhere) or written (from value_regno, -1: an immediate or unknown)?
 */
int ub_vmem_access(struct ub_venv *env, int insn_idx, uint32_t regno, int off, int size,
		   bool write, int value_regno, bool strict_once, bool ldsx)
{
	struct ub_vreg *regs = ub_vst_regs(env), *reg = &regs[regno];
	uint16_t type = reg->type;
	int err = check_alignment(env, reg, off, size, strict_once);

	if (err)
		return err;
	off += reg->off;
	err = access_by_type(env, insn_idx, regno, off, size, write, value_regno, ldsx);
	if (err || write || value_regno < 0)
		return err;
	/* loads from anything but the stack and the context give unknown data */
	uint64_t val;
	if (type == VT_MAP_VALUE && direct_read(reg, off, size, ldsx, &val)) {
		ub_vst_mark_const(&regs[value_regno], val);
		return 0;
	}
	if (type != VT_STACK && type != VT_CTX)
		ub_vst_mark_unknown(&regs[value_regno]);
	if (size < UB_REG_SIZE && regs[value_regno].type == VT_SCALAR) {
		if (ldsx)
			ub_bnd_coerce_sx(&regs[value_regno], size);
		else
			ub_bnd_coerce(&regs[value_regno], size);
	}
	return 0;
}

/* ---- Atomics ---- */

static bool atomic_target_ok(const struct ub_vreg *reg)
{
	return reg->type != VT_CTX && !ub_vst_is_pkt(reg) && reg->type != VT_SOCKET &&
	       reg->type != VT_SOCK_COMMON && reg->type != VT_TCP_SOCK && reg->type != VT_XDP_SOCK;
}

int ub_vmem_atomic(struct ub_venv *env, int insn_idx, const struct bpf_insn *insn)
{
	struct ub_vreg *regs = ub_vst_regs(env);
	int size = (int)ub_isa_size(insn->code), load_reg = -1, err;

	if ((err = ub_vst_check_reg(env, insn->src_reg, SRC_OP)) ||
	    (err = ub_vst_check_reg(env, insn->dst_reg, SRC_OP)))
		return err;
	if (insn->imm == BPF_CMPXCHG && (err = ub_vst_check_reg(env, 0, SRC_OP)))
		return err;
	if (!atomic_target_ok(&regs[insn->dst_reg])) {
		ub_vlog(env, "BPF_ATOMIC stores into R%d %s is not allowed\n", insn->dst_reg,
			tstr(regs[insn->dst_reg].type));
		return -EACCES;
	}
	if (insn->imm & BPF_FETCH) {
		load_reg = insn->imm == BPF_CMPXCHG ? 0 : insn->src_reg;
		if ((err = ub_vst_check_reg(env, (uint32_t)load_reg, DST_OP)))
			return err;
	}
	err = ub_vmem_access(env, insn_idx, insn->dst_reg, insn->off, size, false, -1, true, false);
	if (!err && load_reg >= 0)
		err = ub_vmem_access(env, insn_idx, insn->dst_reg, insn->off, size, false, load_reg,
				     true, false);
	if (!err)
		err = ub_vmem_access(env, insn_idx, insn->dst_reg, insn->off, size, true, -1, true,
				     false);
	return err;
}

/* ---- Helper memory arguments ---- */

int ub_vmem_helper_access(struct ub_venv *env, uint32_t regno, int size, bool write,
			  bool zero_ok, struct ub_vcall_meta *meta)
{
	struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	int err;

	switch (VT_BASE(reg->type)) {
	case VT_PKT: case VT_PKT_META:
		return packet_access(env, regno, reg->off, size, zero_ok);
	case VT_MAP_KEY:
		if (write) {
			ub_vlog(env, "R%u cannot write into %s\n", regno, tstr(reg->type));
			return -EACCES;
		}
		return region_access(env, regno, reg->off, size, reg->map->key_size, false);
	case VT_MAP_VALUE:
		if ((err = map_access_type(env, regno, reg->off, size, write)))
			return err;
		return ub_vmem_map_access(env, regno, reg->off, size, zero_ok);
	case VT_MEM:
		if (write && (reg->type & VF_RDONLY)) {
			ub_vlog(env, "R%u cannot write into %s\n", regno, tstr(reg->type));
			return -EACCES;
		}
		return region_access(env, regno, reg->off, size, reg->mem_size, zero_ok);
	case VT_STACK:
		return stack_range_init(env, regno, reg->off, size, zero_ok, write, meta);
	case VT_CTX:
		/* contexts without field rewrites are plain memory (syscall programs) */
		if (ub_ctx_is_raw(env->req->pt)) {
			if (size == 0)
				return zero_ok ? 0 : -EACCES;
			return ub_vmem_access(env, env->insn_idx, regno, size - 1, 1, write, -1,
					      false, false);
		}
		break;
	default:
		break;
	}
	if (zero_ok && size == 0 && ub_vst_is_null(reg))
		return 0;
	ub_vlog(env, "R%u type=%s ", regno, tstr(reg->type));
	ub_vlog(env, "expected=fp\n");
	return -EACCES;
}
