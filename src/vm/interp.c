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

/*
 * Superinstructions: slot i runs `mov d, s` and slot i + 1's `d op= x` together when the
 * second operand is not d; `d += imm` and a conditional jump on d together; the three
 * (`mov`, `add`, jump) together, the longest match winning; a conditional jump and the
 * `goto` after it together. The slots inside a fused group
 * keep their own handlers, so a jump into the middle of one still works.
 */
static void fuse(struct ub_tslot *code, const struct bpf_insn *insns, size_t cnt,
		 const struct ub_interp_tables *t)
{
	for (size_t i = 0; i < cnt; i++) {
		const void *j = addj_at(insns, cnt, i, t->addj);
		if (j) {
			code[i].lbl = j;
			continue;
		}
		if (i + 1 >= cnt)
			break;
		int cur = ub_isa_lookup(&insns[i]);
		if (cur >= 0 && t->jccja[cur] && ub_isa_lookup(&insns[i + 1]) == UB_OP_JA) {
			code[i].lbl = t->jccja[cur];
			continue;
		}
		const struct bpf_insn *a = &insns[i], *b = &insns[i + 1];
		if (ub_isa_lookup(a) != UB_OP_MOV64_X || a->dst_reg == a->src_reg ||
		    b->dst_reg != a->dst_reg)
			continue;
		int op = ub_isa_lookup(&insns[i + 1]);
		const void *m = addj_at(insns, cnt, i + 1, t->maddj);
		if (m)
			code[i].lbl = m;
		else if (op >= 0 && t->fused[op] &&
			 !(BPF_SRC(b->code) == BPF_X && b->src_reg == a->dst_reg))
			code[i].lbl = t->fused[op];
	}
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
	if (!checked)
		fuse(code, prog->insns, prog->cnt, &t);
	free(prog->code);
	prog->code = code;
	(void)log;
	return 0;
}
