/*
 * ub_vm: loaded programs, the run context helpers see, and the interpreter's entry points.
 */
#ifndef UB_VM_H
#define UB_VM_H
#include <uebpf/uebpf.h>
#include "isa/isa.h"

#define UB_DEFAULT_BUDGET	100000000ull
#define UB_MAX_TAIL_CALLS	33	/* MAX_TAIL_CALL_CNT */

/*
 * One instruction in threaded form: the handler's address, then the instruction's own
 * fields. Slots map 1:1 to instructions, so jump offsets stay valid; the second slot of
 * an lddw carries the upper 32 bits of the immediate in imm.
 */
struct ub_tslot {
	const void *lbl;
	uint8_t dst;
	uint8_t src;
	int16_t off;
	int32_t imm;
};

/* A caller's state saved by a bpf-to-bpf call. */
struct ub_frame {
	const struct ub_tslot *ret;
	uint64_t saved[5];	/* r6-r9 and r10 */
};

/* A memory range a checked run may touch besides its stack and context. */
struct ub_region {
	uintptr_t start;
	size_t size;
	int writable;
};

#define UB_MAX_REGIONS 16

/* State of one run, visible to helpers through ub_run_cur (like the kernel's `current`). */
struct ub_run {
	const struct uebpf_prog *prog;
	uint8_t *ctx;
	size_t ctx_size;
	const uint8_t *pkt;
	size_t pkt_size;
	uint64_t budget;
	unsigned cpu;			/* the per-CPU slot this run owns */
	struct ub_log err;
	unsigned nregions;
	struct ub_region regions[UB_MAX_REGIONS];
};

extern __thread struct ub_run *ub_run_cur;

struct uebpf_prog {
	struct bpf_insn *insns;
	size_t cnt;
	struct ub_tslot *code;
	uebpf_helper_fn *helper_fn;	/* indexed by helper id */
	uint32_t helper_cnt;
	uint32_t flags;
	int checked;			/* run with runtime memory checks and a budget */
	uint64_t budget;
};

/* Threaded code for prog in the given mode (interp.c). */
int ub_interp_prepare(struct uebpf_prog *prog, int checked, struct ub_log *log);
/* Runs from insn 0 with r1, r2 set. 0 and *r0, or -errno with the reason in run->err. */
int ub_interp_run_fast(const struct uebpf_prog *prog, struct ub_run *run, uint64_t r1,
		       uint64_t r2, uint64_t *r0);
int ub_interp_run_checked(const struct uebpf_prog *prog, struct ub_run *run, uint64_t r1,
			  uint64_t r2, uint64_t *r0);

/* Checked mode: may the program touch [addr, addr + size)? */
int ub_run_mem_ok(const struct ub_run *run, const uint8_t *stack, uint64_t addr, size_t size,
		  int store);

/* The default helper table (helpers/helpers.c). */
extern const struct uebpf_helper ub_default_helpers[];
extern const size_t ub_default_helper_cnt;

#endif
