/*
 * ub_interp: threaded-code interpreter, built twice from interp_body.h (fast and checked).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "vm/vm.h"
#include "maps/map.h"

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

static const void *const *labels_for(int checked)
{
	const void *const *labels = NULL;
	uint64_t *out = (uint64_t *)&labels;

	if (checked)
		ub_interp_run_checked(NULL, NULL, NULL, out);
	else
		ub_interp_run_fast(NULL, NULL, NULL, out);
	return labels;
}

int ub_interp_prepare(struct uebpf_prog *prog, int checked, struct ub_log *log)
{
	const void *const *labels = labels_for(checked);
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
	free(prog->code);
	prog->code = code;
	(void)log;
	return 0;
}
