/*
 * ub_vm: loaded programs, the run context helpers see, and the interpreter's entry points.
 */
#ifndef UB_VM_H
#define UB_VM_H
#include <uebpf/uebpf.h>
#include <setjmp.h>
#include "isa/isa.h"

#define UB_DEFAULT_BUDGET	100000000ull
#define UB_MAX_TAIL_CALLS	33	/* MAX_TAIL_CALL_CNT */
#define UB_LBL_LDDW_HI		UB_OP__COUNT		/* extra handlers after the table's */
#define UB_LBL_TAIL_CALL	(UB_OP__COUNT + 1)
#define UB_NR_LABELS		(UB_OP__COUNT + 2)

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
	int kind;		/* 0: plain memory, or what else the region is (below) */
};

/* A ring buffer record the run reserved and has not submitted or discarded yet
 * (maps/ringbuf.c): what bpf_ringbuf_submit/discard accept in checked mode. */
#define UB_REGION_RINGBUF_REC	1
/* A map the run reached through a map-in-map lookup (maps/map_in_map.c): start is the
 * struct ub_map, size 0 (an empty range allows no access). The map's values are a plain
 * region of their own. */
#define UB_REGION_INNER_MAP	2

#define UB_MAX_REGIONS 72	/* MAX_USED_MAPS (64) and the packet, with room */

/* State of one run, visible to helpers through ub_run_cur (like the kernel's `current`). */
struct ub_run {
	const struct uebpf_prog *prog;
	uint8_t *ctx;
	size_t ctx_size;
	const uint8_t *pkt;
	size_t pkt_size;
	uint64_t budget;
	unsigned cpu;			/* the per-CPU slot this run owns */
	int has_slot;			/* took the slot (the program changes on a tail call) */
	unsigned tail_calls;		/* taken so far, at most UB_MAX_TAIL_CALLS */
	int fault;			/* set when a callback run by a helper faulted */
	unsigned nest;			/* callback nesting level (bpf_loop in bpf_loop ...) */
	struct ub_run *outer;		/* the run a callback run belongs to */
	/* JIT: where a fault or an out-of-bounds LD_ABS returns to, and the native frames
	 * (their frame pointers) that checked code may address as eBPF stack. */
	jmp_buf *jb;
	int jit_active;
	uint32_t jit_depth;
	uint64_t jit_frame[UB_MAX_FRAMES];
	unsigned nregions;
	struct ub_pkt *pkt_ctx;		/* packet programs' packet (progs/pkt.h), or NULL */
	/* A libunwind context taken where the JIT run of a program that walks the stack
	 * began: maps/stack_trace.c walks from there, as JIT frames carry no unwind
	 * information. NULL otherwise (the interpreter's frames have it). */
	void *unwind_ctx;
	/* The address of a local of ub_run_exec: frames whose stack pointer is at or below
	 * it are uebpf's own (the engine, helpers), the frames above the user's. */
	uintptr_t stack_bound;
	struct ub_log err;
	struct ub_region regions[UB_MAX_REGIONS];
	/* The program's stack: all frames, frame 0 at the top. Not zeroed per run. */
	uint8_t stack[UB_MAX_FRAMES * UB_STACK_SIZE] __attribute__((aligned(16)));
};

extern __thread struct ub_run *ub_run_cur;

struct ub_map;
struct ub_helper_def;
struct ub_pkt;

struct uebpf_prog {
	struct bpf_insn *insns;
	size_t cnt;
	struct ub_tslot *code;
	uebpf_helper_fn *helper_fn;	/* indexed by helper id */
	const struct ub_helper_def **helper_def;	/* prototypes, for checked runs */
	struct ub_helper_def *own_defs;	/* prototypes of an explicit helper table */
	uint32_t helper_cnt;
	uint32_t flags;
	int checked;			/* run with runtime memory checks and a budget */
	int needs_slot;			/* owns a per-CPU slot while it runs (see ub_cpu_slot_get) */
	int walks_stack;		/* its run may walk the user stack (get_stack*, tail calls) */
	uint64_t budget;
	size_t ctx_size;		/* bytes of the context (checked mode bounds) */
	struct ub_map **maps;		/* maps the program uses (one reference each) */
	uint32_t nr_maps;
	uint64_t run_cnt;		/* statistics, while enabled (atomic) */
	uint64_t run_time_ns;
	struct ub_jit_image *jit;	/* compiled code, when the JIT runs this program */
};

/*
 * uebpf_prog_new for the loader: the program also takes over `maps` (an array of
 * nr_maps references, freed with the program, also when creation fails).
 */
int ub_prog_create(const struct bpf_insn *insns, size_t insn_cnt,
		   const struct uebpf_prog_opts *opts, struct ub_map **maps, uint32_t nr_maps,
		   struct uebpf_prog **progp);

/*
 * Superinstructions (fast mode): the 64-bit ALU operations that fuse with a neighbour,
 * each as an expression of v_ (dst) and s_ (the source operand).
 */
#define UB_FX_ADD	v_ + s_
#define UB_FX_SUB	v_ - s_
#define UB_FX_MUL	v_ * s_
#define UB_FX_OR	v_ | s_
#define UB_FX_AND	v_ & s_
#define UB_FX_XOR	v_ ^ s_
#define UB_FX_LSH	v_ << (s_ & 63)
#define UB_FX_RSH	v_ >> (s_ & 63)
#define UB_FX_ARSH	(uint64_t)((int64_t)v_ >> (s_ & 63))
#define UB_FX_MOV	s_
#define UB_FUSABLE(X) X(ADD) X(SUB) X(MUL) X(OR) X(AND) X(XOR) X(LSH) X(RSH) X(ARSH)
/* The same list, for the inner level of a nested expansion (a macro does not expand
 * inside its own expansion), and the first operations of an ALU pair: those and mov. */
#define UB_FUSABLE_IN(X, ...) X(ADD, __VA_ARGS__) X(SUB, __VA_ARGS__) X(MUL, __VA_ARGS__) \
	X(OR, __VA_ARGS__) X(AND, __VA_ARGS__) X(XOR, __VA_ARGS__) X(LSH, __VA_ARGS__) \
	X(RSH, __VA_ARGS__) X(ARSH, __VA_ARGS__)
#define UB_FUSABLE_FIRST(X) UB_FUSABLE(X) X(MOV)
/* Loads that fuse with the ALU operation after them: the type in memory. */
#define UB_FUSABLE_LDX(X) X(LDXB, uint8_t) X(LDXH, uint16_t) X(LDXW, uint32_t) X(LDXDW, uint64_t)
/* Their indexes in the pair tables below (0: does not fuse there). */
#define UB_FI_ENUM(n) UB_FI_##n##_K, UB_FI_##n##_X,
#define UB_SI_ENUM(n) UB_SI_##n##_K, UB_SI_##n##_X,
#define UB_LI_ENUM(n, T) UB_LI_##n,
enum { UB_FI_NONE, UB_FUSABLE_FIRST(UB_FI_ENUM) UB_FI_COUNT };
enum { UB_SI_NONE, UB_FUSABLE(UB_SI_ENUM) UB_SI_COUNT };
enum { UB_LI_NONE, UB_FUSABLE_LDX(UB_LI_ENUM) UB_LI_COUNT };
#undef UB_FI_ENUM
#undef UB_SI_ENUM
#undef UB_LI_ENUM

/*
 * The 64-bit conditional jumps fused with a preceding `dst += imm` on the same register
 * (loop counters and bounds checks: `r3 += 1; if r3 != N goto`), and with the move before
 * that (`rD = rS; rD += imm; if rD > rE goto`, clang's pointer-plus-size bounds check).
 */
#define UB_CMP_FUSABLE(X) \
	X(JEQ, d_ == s_) X(JNE, d_ != s_) X(JGT, d_ > s_) X(JGE, d_ >= s_) \
	X(JLT, d_ < s_) X(JLE, d_ <= s_) X(JSET, (d_ & s_) != 0) \
	X(JSGT, (int64_t)d_ > (int64_t)s_) X(JSGE, (int64_t)d_ >= (int64_t)s_) \
	X(JSLT, (int64_t)d_ < (int64_t)s_) X(JSLE, (int64_t)d_ <= (int64_t)s_)

struct ub_interp_tables {
	const void *const *labels;	/* per operation (and the extra UB_LBL_* handlers) */
	/* Pairs as one handler, or NULL: [first * UB_SI_COUNT + second] */
	const void *const *alu2;	/* two ALU operations on one dst (UB_FI_, UB_SI_) */
	const void *const *ldalu;	/* a load, then an ALU operation on what it loaded */
	const void *const *ldsrc;	/* a load, then `rD op= rT` on the loaded rT */
	const void *const *addj;	/* per jump: `dst += imm` and that jump, or NULL */
	const void *const *maddj;	/* per jump: `dst = src`, `dst += imm` and the jump */
	const void *const *jccja;	/* per jump: it and a following `goto` (two-way branch) */
	const void *const *bchk;	/* per jump: `a = b; a += c` then a maddj on `d = a` */
};

/* Threaded code for prog in the given mode (interp.c). */
int ub_interp_prepare(struct uebpf_prog *prog, int checked, struct ub_log *log);
/*
 * Runs run->prog from `start` (NULL: insn 0) with r1..r5 = args[0..4] until the exit of
 * that frame. 0 and *r0, or -errno with the reason in run->err.
 */
int ub_interp_run_fast(struct ub_run *run, const struct ub_tslot *start, const uint64_t *args,
		       uint64_t *r0);
int ub_interp_run_checked(struct ub_run *run, const struct ub_tslot *start,
			  const uint64_t *args, uint64_t *r0);

/* Checked mode: may the program touch [addr, addr + size)? */
int ub_run_mem_ok(const struct ub_run *run, const uint8_t *stack, uint64_t addr, size_t size,
		  int store);

/* Checked runs: did this run get that map from a lookup in a map of maps? */
int ub_run_reached_map(const struct ub_run *run, uintptr_t map);

/* Checked runs: are a helper's arguments what its prototype says? (helpers/helpers.c) */
int ub_helper_args_ok(const struct ub_run *run, const struct ub_helper_def *def,
		      const uint64_t *args, char *why, size_t whysz);

/* A helper's name for messages ("map_lookup_elem"), or "unknown". */
const char *ub_helper_name(int32_t id);

/* Sets up a run of prog: context, packet, and (checked mode) the maps' memory. */
void ub_run_init(struct ub_run *run, const struct uebpf_prog *prog, void *ctx, size_t ctx_size,
		 void *pkt, size_t pkt_size, char *err_buf, size_t err_size);
/*
 * Per-CPU slots. Per-CPU maps keep one value per possible CPU (the kernel's user-space
 * layout); a run owns one slot from start to end, so two running programs never use the
 * same slot at once, as two programs never run on one CPU at once in the kernel. The
 * slot of the CPU the thread runs on is tried first.
 */
unsigned ub_cpu_slot_get(void);
void ub_cpu_slot_put(unsigned slot);
/* True when no run holds a slot: nothing started earlier is still running. */
int ub_cpu_slots_idle(void);

/* Checked mode: lets the run touch [start, start + size). */
void ub_run_add_region(struct ub_run *run, const void *start, size_t size, int writable);
/* Checked mode: lets the run touch the memory of prog's maps (also after a tail call). */
void ub_run_add_maps(struct ub_run *run, const struct uebpf_prog *prog);
/*
 * Callbacks (bpf_loop, for_each_map_elem ...): a helper begins a nested run, calls the
 * program's function `fn` (a value from lddw func) as often as it needs, and ends it.
 * A fault inside a callback stops the whole program.
 */
int ub_callback_begin(struct ub_run *nested, uint64_t fn);
int ub_callback_call(struct ub_run *nested, uint64_t fn, const uint64_t *args, uint64_t *r0);
void ub_callback_end(struct ub_run *nested, int err);
/* Runs prog in its mode. 0 and *r0, or -errno with the reason in run->err. */
int ub_run_exec(struct ub_run *run, uint64_t r1, uint64_t r2, uint64_t *r0);



#endif
