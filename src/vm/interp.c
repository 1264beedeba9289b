/*
 * ub_interp: threaded-code interpreter, built twice from interp_body.h (fast and checked).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "vm/vm.h"
#include "maps/map.h"
#include "progs/pkt.h"

__thread struct ub_run *ub_run_cur;

static int in_range(uint64_t addr, size_t size, uintptr_t start, size_t len)
{
	return addr >= start && size <= len && addr - start <= len - size;
}

int ub_run_mem_ok(const struct ub_run *run, const uint8_t *stack, uint64_t addr, size_t size,
		  int store)
{
	if (stack && in_range(addr, size, (uintptr_t)stack, UB_MAX_FRAMES * UB_STACK_SIZE))
		return 1;
	/* JIT: the eBPF stack of each active native frame is the 512 bytes below its rbp. */
	for (uint32_t k = 0; run->jit_active && k <= run->jit_depth && k < UB_MAX_FRAMES; k++)
		if (run->jit_frame[k] &&
		    in_range(addr, size, (uintptr_t)run->jit_frame[k] - UB_STACK_SIZE, UB_STACK_SIZE))
			return 1;
	if (run->ctx && in_range(addr, size, (uintptr_t)run->ctx, run->ctx_size))
		return 1;
	for (unsigned i = 0; i < run->nregions; i++) {
		const struct ub_region *r = &run->regions[i];
		if (in_range(addr, size, r->start, r->size))
			return !store || r->writable;
	}
	return 0;
}

/*
 * Checked interpreter: the stack a frame may touch is its own 512 bytes and its callers'
 * frames above it (pointers a caller passed), never the frames below its r10 - 512, as
 * the kernel's frame is [r10 - 512, r10). depth is the current frame (0: main).
 */
static inline int stack_ok(const uint8_t *stack, unsigned depth, uint64_t addr, size_t size)
{
	size_t live = (size_t)(depth + 1) * UB_STACK_SIZE;

	return in_range(addr, size, (uintptr_t)stack + UB_MAX_FRAMES * UB_STACK_SIZE - live, live);
}

#define UB_CHECKED 0
#define UB_INTERP_FN ub_interp_run_fast
#include "vm/interp_body.h"
#undef UB_CHECKED
#undef UB_INTERP_FN

#define UB_CHECKED 1
#define UB_INTERP_FN ub_interp_run_checked
#include "vm/interp_body.h"
#undef UB_CHECKED
#undef UB_INTERP_FN

static struct ub_interp_tables tables_for(int checked)
{
	struct ub_interp_tables t = { 0 };
	uint64_t *out = (uint64_t *)&t;

	if (checked)
		ub_interp_run_checked(NULL, NULL, NULL, out);
	else
		ub_interp_run_fast(NULL, NULL, NULL, out);
	return t;
}

/* Is insns[i] (i < cnt) `dst += imm`, a conditional jump on dst in the fused set? */
static const void *addj_at(const struct bpf_insn *insns, size_t cnt, size_t i,
			   const void *const *tbl)
{
	if (i + 1 >= cnt || ub_isa_lookup(&insns[i]) != UB_OP_ADD64_K)
		return NULL;
	int op = ub_isa_lookup(&insns[i + 1]);
	if (op < 0 || insns[i + 1].dst_reg != insns[i].dst_reg)
		return NULL;
	return tbl[op];
}

/* Is insns[i] `dst = src` (dst != src), then addj_at on dst? The handler from tbl. */
static const void *maddj_at(const struct bpf_insn *insns, size_t cnt, size_t i,
			    const void *const *tbl)
{
	const struct bpf_insn *a = &insns[i];

	if (i + 1 >= cnt || ub_isa_lookup(a) != UB_OP_MOV64_X || a->dst_reg == a->src_reg ||
	    insns[i + 1].dst_reg != a->dst_reg)
		return NULL;
	return addj_at(insns, cnt, i + 1, tbl);
}

/* Where each operation sits in the pair tables (vm.h): 0 when it does not fuse there. */
#define FI_MAP(n) [UB_OP_##n##64_K] = UB_FI_##n##_K, [UB_OP_##n##64_X] = UB_FI_##n##_X,
#define SI_MAP(n) [UB_OP_##n##64_K] = UB_SI_##n##_K, [UB_OP_##n##64_X] = UB_SI_##n##_X,
#define LI_MAP(n, T) [UB_OP_##n] = UB_LI_##n,
static const uint8_t first_idx[UB_OP__COUNT] = { UB_FUSABLE_FIRST(FI_MAP) };
static const uint8_t second_idx[UB_OP__COUNT] = { UB_FUSABLE(SI_MAP) };
static const uint8_t ldx_idx[UB_OP__COUNT] = { UB_FUSABLE_LDX(LI_MAP) };
#undef FI_MAP
#undef SI_MAP
#undef LI_MAP

/* A handler that can start at slot i: how many instructions it runs, ending in a jump? */
struct cand {
	const void *lbl;
	unsigned len;
	int ends;	/* control does not fall through to i + len */
};

/* The superinstructions that can start at insns[i], into c: at most one of each kind. */
#define UB_MAX_CANDS 6
static unsigned cands_at(const struct bpf_insn *insns, size_t cnt, size_t i,
			 const struct ub_interp_tables *t, struct cand *c)
{
	unsigned n = 0;
	const void *l;

	if (i + 1 >= cnt)
		return 0;
	const struct bpf_insn *a = &insns[i], *b = &insns[i + 1];
	int opa = ub_isa_lookup(a), opb = ub_isa_lookup(b);
	if (opa < 0 || opb < 0)
		return 0;
	if ((l = addj_at(insns, cnt, i, t->addj)))	/* add; jump */
		c[n++] = (struct cand){ l, 2, 1 };
	if (t->jccja[opa] && opb == UB_OP_JA)		/* jump; goto */
		c[n++] = (struct cand){ t->jccja[opa], 2, 1 };
	if ((l = maddj_at(insns, cnt, i, t->maddj)))	/* mov; add; jump */
		c[n++] = (struct cand){ l, 3, 1 };
	if (opa == UB_OP_MOV64_X && opb == UB_OP_ADD64_X && b->dst_reg == a->dst_reg &&
	    i + 2 < cnt && insns[i + 2].src_reg == a->dst_reg &&
	    (l = maddj_at(insns, cnt, i + 2, t->bchk)))	/* mov; add; mov; add; jump */
		c[n++] = (struct cand){ l, 5, 1 };
	unsigned si = second_idx[opb];
	if (!si)
		return n;
	if (first_idx[opa] && b->dst_reg == a->dst_reg)	/* two ALU operations on one dst */
		c[n++] = (struct cand){ t->alu2[first_idx[opa] * UB_SI_COUNT + si], 2, 0 };
	if (ldx_idx[opa] && b->dst_reg == a->dst_reg)	/* load; ALU on it */
		c[n++] = (struct cand){ t->ldalu[ldx_idx[opa] * UB_SI_COUNT + si], 2, 0 };
	else if (ldx_idx[opa] && BPF_SRC(b->code) == BPF_X && b->src_reg == a->dst_reg)
		c[n++] = (struct cand){ t->ldsrc[ldx_idx[opa] * UB_SI_COUNT + si], 2, 0 };
	return n;
}

/* Does control leave insns[i] other than to the next instruction (a jump or an exit)? */
static int ends_block(const struct bpf_insn *in)
{
	uint8_t cls = BPF_CLASS(in->code);

	return (cls == BPF_JMP || cls == BPF_JMP32) && BPF_OP(in->code) != BPF_CALL;
}

/*
 * Superinstructions (fast mode): slot i may run a group of instructions starting there as
 * one handler (cands_at). The groups are chosen to need the fewest dispatches along
 * each straight run of code: cost[i] is the number of handlers from slot i to the next
 * jump, computed backwards, and slot i takes the group with the smallest 1 + cost after
 * it. On a tie a group wins over a single instruction, and the last-listed group over
 * earlier ones (measured on bench/progs: csum 8% faster than with the opposite rule, fnv
 * 3%, loop and parse the same). Slots inside a group keep their own handlers, so a jump
 * into the middle of one still works.
 */
static int fuse(struct ub_tslot *code, const struct bpf_insn *insns, size_t cnt,
		const struct ub_interp_tables *t)
{
	unsigned *cost = calloc(cnt + 1, sizeof(*cost));	/* cost[cnt]: past the end, 0 */

	if (!cost)
		return -ENOMEM;
	for (size_t i = cnt; i-- > 0;) {
		struct cand c[UB_MAX_CANDS];
		int op = ub_isa_lookup(&insns[i]);

		if (op < 0) {	/* the second half of an lddw: never a handler of its own */
			cost[i] = cost[i + 1];
			continue;
		}
		unsigned len = ub_isa_is_lddw(&insns[i]) ? 2 : 1;
		unsigned n = cands_at(insns, cnt, i, t, c);

		cost[i] = 1 + (ends_block(&insns[i]) ? 0 : cost[i + len]);
		for (unsigned k = 0; k < n; k++) {
			unsigned ck = 1 + (c[k].ends ? 0 : cost[i + c[k].len]);
			if (c[k].lbl && ck <= cost[i]) {
				cost[i] = ck;
				code[i].lbl = c[k].lbl;
			}
		}
	}
	free(cost);
	return 0;
}

int ub_interp_prepare(struct uebpf_prog *prog, int checked, struct ub_log *log)
{
	struct ub_interp_tables t = tables_for(checked);
	const void *const *labels = t.labels;
	struct ub_tslot *code = calloc(prog->cnt, sizeof(*code));

	if (!code)
		return -ENOMEM;
	for (size_t i = 0; i < prog->cnt; i++) {
		const struct bpf_insn *in = &prog->insns[i];
		int op = ub_isa_lookup(in);

		code[i] = (struct ub_tslot){ .lbl = labels[op], .dst = in->dst_reg,
					     .src = in->src_reg, .off = in->off, .imm = in->imm };
		/* bpf_tail_call is a jump, not a call: it gets its own handler. */
		if (op == UB_OP_CALL && in->imm == BPF_FUNC_tail_call)
			code[i].lbl = labels[UB_LBL_TAIL_CALL];
		if (ub_ops[op].fmt == UB_FMT_LDDW) {
			i++;
			code[i] = (struct ub_tslot){ .lbl = labels[UB_LBL_LDDW_HI],
						     .imm = prog->insns[i].imm };
		}
	}
	if (!checked && fuse(code, prog->insns, prog->cnt, &t)) {
		free(code);
		return -ENOMEM;
	}
	free(prog->code);
	prog->code = code;
	(void)log;
	return 0;
}
