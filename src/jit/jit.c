/*
 * ub_jit: translation of eBPF to x86-64, one instruction at a time, in one pass into a
 * heap buffer: every branch to an instruction, a function or a stub uses a 32-bit
 * displacement, recorded as a fixup and filled in once all offsets are known. The code is
 * then copied into memory mapped writable, which becomes executable and read-only
 * (never writable and executable at once).
 *
 * Registers: r0 rax, r1 rdi, r2 rsi, r3 rdx, r4 rcx, r5 r8 (the C argument registers, so
 * helper calls need no shuffling), r6 rbx, r7 r13, r8 r14, r9 r15 (callee-saved, as r6-r9
 * are), r10 rbp (the frame pointer). r12 holds the run (struct ub_run *), r9-r11 are
 * scratch. Every function (the program and each subprogram) has the same frame:
 * rbp, 512 bytes of eBPF stack, the saved rbx r13 r14 r15 r12, 8 bytes of padding.
 *
 * Checked mode (unverified programs) calls a checker before every memory access, counts
 * an instruction budget at function entries and backward jumps, and limits call depth.
 * A fault leaves through longjmp to ub_jit_run, discarding the native frames.
 */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include "jit/jit.h"
#include "jit/x86.h"
#include "helpers/helpers.h"
#include "maps/map.h"
#include "progs/pkt.h"

static const uint8_t map_reg[UB_MAX_REG] = {
	X_RAX, X_RDI, X_RSI, X_RDX, X_RCX, X_R8, X_RBX, X_R13, X_R14, X_R15, X_RBP,
};
#define RUN	X_R12
#define TMP	X_R11
#define TMP2	X_R10
#define AUX	X_R9
/*
 * The frame below rbp: the eBPF stack, then one slot per callee-saved register (SAVED, in
 * this order) and padding, 16-byte aligned for calls into C. Registers are saved and
 * restored with mov at fixed slots, and the epilogue ends with leave: it does not depend
 * on rsp, so a tail call may enter a body from another program's frame.
 */
static const uint8_t saved_reg[] = { X_RBX, X_R13, X_R14, X_R15, X_R12 };
#define NSAVED		5
#define SLOT(k)		(-(int32_t)UB_STACK_SIZE - 8 * ((k) + 1))
#define FRAME		(UB_STACK_SIZE + 8 * NSAVED + 8)

struct jctx {
	struct ub_x86 x;
	const struct uebpf_prog *prog;
	int checked;
	int direct;		/* trusted code that needs no run (jit.h) */
	int may_fault, uses_run;	/* note_needs() */
	uint8_t save_mask;	/* which of saved_reg[] the prologues save */
	uint32_t *off;		/* per insn: start of its body code */
	uint32_t *entry;	/* per insn: start of its prologue if a function entry, else 0 */
	uint8_t *is_entry;	/* per insn: MARK_ENTRY, MARK_TARGET (jit_opt.h) */
	int16_t *ops;		/* per insn: its operation (ub_isa_lookup once, not per pass) */
	uint32_t *keys;		/* hardened: per insn, the key its immediate is blinded with */
	size_t stubs;		/* where the stubs start */
	size_t stub_check, stub_budget, stub_depth, stub_cbtramp, stub_tail;
	size_t fold;		/* instructions after this one that it translated too */
	struct jfix *fix;	/* displacements to fill in at the end */
	size_t nfix, capfix;
	struct ub_log *log;
	int bad;		/* 1: an instruction the JIT cannot translate; JIT_NOMEM */
};
#define JIT_NOMEM 2

#define R(n) (map_reg[(n)])

/* A rel32 that ends at `pos` and points at an instruction, a function or a stub. */
enum { FIX_OFF, FIX_ENTRY, FIX_STUB_CHECK, FIX_STUB_BUDGET, FIX_STUB_DEPTH };
struct jfix {
	uint32_t pos;
	uint32_t kind : 3;
	uint32_t idx : 29;	/* the instruction, for FIX_OFF and FIX_ENTRY */
};

/* Records that the rel32 just emitted goes to (kind, idx). */
static void fix_here(struct jctx *j, int kind, size_t idx)
{
	if (j->nfix == j->capfix) {
		size_t cap = j->capfix ? 2 * j->capfix : 256;
		struct jfix *f = realloc(j->fix, cap * sizeof(*f));
		if (!f) {
			j->bad = JIT_NOMEM;
			return;
		}
		j->fix = f;
		j->capfix = cap;
	}
	j->fix[j->nfix++] = (struct jfix){ .pos = (uint32_t)j->x.len, .kind = (uint32_t)kind & 7,
					   .idx = (uint32_t)idx };
}

/* jcc / jmp / call to a target known only at the end. */
static void emit_jcc_to(struct jctx *j, int cc, int kind, size_t idx)
{
	x_jcc(&j->x, cc, 0);
	fix_here(j, kind, idx);
}

static void emit_jmp_to(struct jctx *j, int kind, size_t idx)
{
	x_jmp(&j->x, 0);
	fix_here(j, kind, idx);
}

static void emit_call_to(struct jctx *j, int kind, size_t idx)
{
	x_call_rel(&j->x, 0);
	fix_here(j, kind, idx);
}

/* ---- Runtime support called from generated code ---- */

/* Leaves the program: the fault reaches the outermost run (callbacks nest runs). */
static void jit_fault(struct ub_run *run, int err)
{
	run->fault = err;
	for (struct ub_run *r = run; r->outer; r = r->outer) {
		r->outer->fault = err;
		r->outer->err = r->err;
	}
	longjmp(*run->jb, 1);
}

/* Checked mode: may the program touch [addr, addr + size)? */
static void jit_check(struct ub_run *run, uint64_t addr, uint32_t sizeflags, uint32_t insn)
{
	size_t size = sizeflags & 0xff;
	int store = (sizeflags >> 8) & 1, atomic = (sizeflags >> 9) & 1;
	const uint8_t *stack = NULL;	/* the frames in run->jit_frame are the stack */

	if (ub_run_mem_ok(run, stack, addr, size, store) && !(atomic && (addr & (size - 1))))
		return;
	if (atomic && ub_run_mem_ok(run, stack, addr, size, store))
		ub_log_printf(&run->err, "insn %u: misaligned atomic access at 0x%llx\n", insn,
			      (unsigned long long)addr);
	else
		ub_log_printf(&run->err, "insn %u: invalid %s of %zu bytes at 0x%llx (%s)\n", insn,
			      store ? "store" : "load", size, (unsigned long long)addr,
			      ub_run_mem_ok(run, stack, addr, size, 0) ? "memory is read-only"
								       : "outside the stack, context and maps");
	jit_fault(run, -EFAULT);
}

static void jit_budget(struct ub_run *run, uint32_t insn)
{
	ub_log_printf(&run->err, "insn %u: instruction budget of %llu exhausted\n", insn,
		      (unsigned long long)run->prog->budget);
	jit_fault(run, -ETIME);
}

static void jit_depth(struct ub_run *run, uint32_t insn)
{
	ub_log_printf(&run->err, "insn %u: call stack too deep (more than %d frames)\n", insn,
		      UB_MAX_FRAMES);
	jit_fault(run, -E2BIG);
}

/* Helper call from checked code: arguments checked by the prototype first. */
static uint64_t jit_helper_checked(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				   uint64_t r5, uint32_t id)
{
	struct ub_run *run = ub_run_cur;
	const struct uebpf_prog *prog = run->prog;
	uint64_t args[5] = { r1, r2, r3, r4, r5 };
	char why[160];

	if (prog->helper_def && prog->helper_def[id] &&
	    !ub_helper_args_ok(run, prog->helper_def[id], args, why, sizeof(why))) {
		ub_log_printf(&run->err, "call %s#%u: %s\n", ub_helper_name((int32_t)id), id, why);
		jit_fault(run, -EFAULT);
	}
	uint64_t r0 = prog->helper_fn[id](r1, r2, r3, r4, r5);
	if (run->fault)
		jit_fault(run, run->fault);
	return r0;
}

/* After a helper that runs callbacks: a fault inside one stops the program. */
static void jit_after_callbacks(void)
{
	struct ub_run *run = ub_run_cur;
	if (run->fault)
		jit_fault(run, run->fault);
}

/*
 * LD_ABS / LD_IND: network byte order; negative offsets reach the sk_buff's headers
 * (SKF_NET_OFF, SKF_LL_OFF, progs/pkt.c). Out of bounds gives UB_JIT_LD_OOB, on which the
 * generated code returns 0 from the current function (the kernel's rewrite of LD_ABS).
 */
#define UB_JIT_LD_OOB (1ull << 32)

static uint64_t jit_ld_pkt(int64_t off, uint32_t size)
{
	struct ub_run *run = ub_run_cur;
	uint32_t v32 = 0;
	uint16_t v16 = 0;

	const uint8_t *p = off < 0 ? ub_pkt_ld_neg(run, off, size) :
			   (uint64_t)off + size <= run->pkt_size ? run->pkt + off : NULL;

	if (!p)
		return UB_JIT_LD_OOB;
	if (size == 1)
		return *p;
	if (size == 2) {
		memcpy(&v16, p, 2);
		return __builtin_bswap16(v16);
	}
	memcpy(&v32, p, 4);
	return __builtin_bswap32(v32);
}

/* bpf_tail_call: the body of the target program, or NULL to fall through. */
static const void *jit_tail(uint64_t map, uint64_t idx)
{
	struct ub_run *run = ub_run_cur;
	const struct uebpf_prog *np = ub_prog_array_get((const struct ub_map *)(uintptr_t)map,
							(uint32_t)idx);

	int known = !run->prog->checked;
	for (uint32_t i = 0; !known && i < run->prog->nr_maps; i++)
		known = (uintptr_t)run->prog->maps[i] == map;
	if (!known)
		return NULL;	/* checked mode: not one of the program's maps */
	if (!np || !np->jit || np->checked != run->prog->checked ||
	    run->tail_calls >= UB_MAX_TAIL_CALLS)
		return NULL;
	run->tail_calls++;
	run->prog = np;
	if (np->checked)
		ub_run_add_maps(run, np);
	return np->jit->code + np->jit->tail_off;
}

/* callx: a function of this program (from lddw func), or a helper id. */
static uint64_t jit_callx(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			  uint64_t target)
{
	struct ub_run *run = ub_run_cur;
	const struct uebpf_prog *prog = run->prog;
	uint64_t args[5] = { r1, r2, r3, r4, r5 }, r0 = 0;

	if (ub_jit_is_entry(prog, target)) {
		int err = ub_callback_call(run, target, args, &r0);
		if (err)
			jit_fault(run, err);
		return r0;
	}
	if (target < prog->helper_cnt && prog->helper_fn[target]) {
		if (prog->checked)
			return jit_helper_checked(r1, r2, r3, r4, r5, (uint32_t)target);
		return prog->helper_fn[target](r1, r2, r3, r4, r5);
	}
	ub_log_printf(&run->err, "callx to 0x%llx, which is neither a function nor a known helper\n",
		      (unsigned long long)target);
	jit_fault(run, -EINVAL);
	return 0;
}

/* ---- Emission helpers ---- */

static void emit_prologue(struct jctx *j, int is_main, size_t insn)
{
	struct ub_x86 *x = &j->x;

	x_push(x, X_RBP);
	x_rr(x, XO_MOV_RM_R, 1, X_RSP, X_RBP);		/* mov rbp, rsp */
	x_grp1_ri(x, XG1_SUB, 1, X_RSP, FRAME);
	for (int k = 0; k < NSAVED; k++)
		if (j->save_mask & (1u << k))
			x_rm(x, XO_MOV_RM_R, 1, saved_reg[k], X_RBP, SLOT(k), 0);
	if (is_main && !j->direct)
		x_rr(x, XO_MOV_RM_R, 1, X_RDX, RUN);	/* mov r12, rdx: the run */
	if (!j->checked)
		return;
	if (!is_main) {		/* inc dword [r12 + depth]; cmp ..., 8; jae depth fault */
		x_rm(x, XO_GRP1_RM_I8, 0, XG1_ADD, RUN, offsetof(struct ub_run, jit_depth), 0);
		x_byte(x, 1);
		x_rm(x, XO_GRP1_RM_I8, 0, XG1_CMP, RUN, offsetof(struct ub_run, jit_depth), 0);
		x_byte(x, UB_MAX_FRAMES);
		x_mov_ri(x, AUX, insn);
		emit_jcc_to(j, CC_AE, FIX_STUB_DEPTH, 0);
	}
	/* jit_frame[depth] = rbp: this frame's eBPF stack is addressable */
	x_rm(x, XO_MOV_R_RM, 0, TMP, RUN, offsetof(struct ub_run, jit_depth), 0);
	x_store_idx8(x, X_RBP, RUN, TMP, offsetof(struct ub_run, jit_frame));
}

static void emit_budget(struct jctx *j, size_t insn)
{
	struct ub_x86 *x = &j->x;

	if (!j->checked)
		return;
	x_mov_ri(x, AUX, insn);
	x_rm(x, XO_GRP1_RM_I8, 1, XG1_SUB, RUN, offsetof(struct ub_run, budget), 0);
	x_byte(x, 1);
	emit_jcc_to(j, CC_E, FIX_STUB_BUDGET, 0);
}

/*
 * Checked mode counts the frame down: depth - (depth != 0), whichever function's exit this
 * is. Unverified code may jump from one function into another's body (the kernel refuses
 * that: "jump out of range"); as in the interpreter, an exit then leaves the frame it runs
 * in, not the function it was written in: a subprogram's frame has depth >= 1, the main
 * program's 0. Branch-free: cmp sets CF when depth is 0, adc -1 adds it back.
 */
static void emit_epilogue(struct jctx *j)
{
	struct ub_x86 *x = &j->x;

	if (j->checked) {	/* cmp dword [r12 + depth], 1; adc dword [r12 + depth], -1 */
		x_rm(x, XO_GRP1_RM_I8, 0, XG1_CMP, RUN, offsetof(struct ub_run, jit_depth), 0);
		x_byte(x, 1);
		x_rm(x, XO_GRP1_RM_I8, 0, XG1_ADC, RUN, offsetof(struct ub_run, jit_depth), 0);
		x_byte(x, 0xff);
	}
	for (int k = 0; k < NSAVED; k++)
		if (j->save_mask & (1u << k))
			x_rm(x, XO_MOV_R_RM, 1, saved_reg[k], X_RBP, SLOT(k), 0);
	x_byte(x, XO_LEAVE);
	x_byte(x, XO_RET);
}

/*
 * Before a tail call leaves this program: the callee-saved registers get their values from
 * the function's caller back (r12, the run, stays). The target restores only the ones it
 * uses itself, so the others must already be right.
 */
static void emit_tail_restore(struct jctx *j)
{
	for (int k = 0; k < NSAVED; k++)
		if (saved_reg[k] != RUN && (j->save_mask & (1u << k)))
			x_rm(&j->x, XO_MOV_R_RM, 1, saved_reg[k], X_RBP, SLOT(k), 0);
}

/* Checked mode: address in TMP, then call the check stub. */
static void emit_mem_check(struct jctx *j, int base, int16_t off, unsigned size, int store,
			   int atomic, size_t insn)
{
	struct ub_x86 *x = &j->x;

	if (!j->checked)
		return;
	x_rm(x, XO_LEA, 1, TMP, base, off, 0);
	x_mov_ri(x, TMP2, size | (unsigned)store << 8 | (unsigned)atomic << 9);
	x_mov_ri(x, AUX, insn);
	emit_call_to(j, FIX_STUB_CHECK, 0);
}

/* A C call from generated code: helpers take r1-r5 where they are. */
static void emit_call_c(struct jctx *j, const void *fn)
{
	x_call_abs(&j->x, TMP, fn);
}

#include "jit/jit_opt.h"
#include "jit/jit_insn.h"

/* ---- Stubs shared by the whole image ---- */

static void emit_stubs(struct jctx *j)
{
	struct ub_x86 *x = &j->x;
	static const uint8_t saved[] = { X_RAX, X_RDI, X_RSI, X_RDX, X_RCX, X_R8 };

	j->stubs = x->len;
	/* check stub: called with the address in r11, size/flags in r10, insn in r9 */
	j->stub_check = x->len;
	for (size_t i = 0; i < sizeof(saved); i++)
		x_push(x, saved[i]);
	x_grp1_ri(x, XG1_SUB, 1, X_RSP, 8);
	x_rr(x, XO_MOV_RM_R, 1, RUN, X_RDI);
	x_rr(x, XO_MOV_RM_R, 1, TMP, X_RSI);
	x_rr(x, XO_MOV_RM_R, 0, TMP2, X_RDX);
	x_rr(x, XO_MOV_RM_R, 0, AUX, X_RCX);
	emit_call_c(j, (const void *)jit_check);
	x_grp1_ri(x, XG1_ADD, 1, X_RSP, 8);
	for (size_t i = sizeof(saved); i-- > 0;)
		x_pop(x, saved[i]);
	x_byte(x, XO_RET);
	/* budget and depth stubs: jumped to with the insn in r9; they never return */
	j->stub_budget = x->len;
	x_rr(x, XO_MOV_RM_R, 1, RUN, X_RDI);
	x_rr(x, XO_MOV_RM_R, 0, AUX, X_RSI);
	emit_call_c(j, (const void *)jit_budget);
	j->stub_depth = x->len;
	x_rr(x, XO_MOV_RM_R, 1, RUN, X_RDI);
	x_rr(x, XO_MOV_RM_R, 0, AUX, X_RSI);
	emit_call_c(j, (const void *)jit_depth);
	/* tail entry of a direct image: entered from a full frame, it gives r12 back to the
	 * C caller (this code never restores it), then runs the body */
	j->stub_tail = x->len;
	if (j->direct) {
		x_rm(x, XO_MOV_R_RM, 1, RUN, X_RBP, SLOT(NSAVED - 1), 0);
		emit_jmp_to(j, FIX_OFF, 0);
	}
	/* callback trampoline: (r1..r5, fn in r9, run as 7th argument) -> r0 */
	j->stub_cbtramp = x->len;
	x_push(x, X_R12);
	x_rm(x, XO_MOV_R_RM, 1, X_R12, X_RSP, 16, 0);
	x_rex(x, 0, 0, 0, AUX, 0);
	x_byte(x, XO_GRP5_RM);
	x_modrm(x, 3, XG5_CALL, AUX);
	x_pop(x, X_R12);
	x_byte(x, XO_RET);
}

/* ---- Function entries and the two passes ---- */

/*
 * What an instruction asks of the run. Trusted code faults only through callx (a bad
 * target) or a callback whose run faulted (checked code can fault anywhere): programs
 * that cannot fault skip setjmp. Code that calls no helper, loads no packet bytes and
 * makes no callable values never looks at its run at all (a direct image).
 */
static void note_needs(struct jctx *j, int op, int fmt, const struct bpf_insn *in)
{
	if (op == UB_OP_CALLX || op == UB_OP_LDDW_FUNC ||
	    (op == UB_OP_CALL && (in->imm == BPF_FUNC_loop || in->imm == BPF_FUNC_for_each_map_elem)))
		j->may_fault = 1;
	if (fmt == UB_FMT_CALL || fmt == UB_FMT_CALLX || fmt == UB_FMT_LDABS ||
	    fmt == UB_FMT_LDIND || op == UB_OP_LDDW_FUNC)
		j->uses_run = 1;
}

static int mark_entries(struct jctx *j)
{
	const struct bpf_insn *in = j->prog->insns;
	size_t n = j->prog->cnt;

	j->is_entry[0] = MARK_ENTRY;
	for (size_t i = 0; i < n; i++)
		j->ops[i] = (int16_t)ub_isa_lookup(&in[i]);
	for (size_t i = 0; i < n; i++) {
		int op = j->ops[i];
		if (op < 0)
			return -EINVAL;
		int fmt = ub_ops[op].fmt;
		long t = (long)i + 1 + in[i].imm;
		if (op == UB_OP_CALL_LOCAL || op == UB_OP_LDDW_FUNC) {
			if (t < 0 || (size_t)t >= n)
				return -EINVAL;
			j->is_entry[t] |= MARK_ENTRY;
		}
		if (fmt == UB_FMT_JA || fmt == UB_FMT_JMP_K || fmt == UB_FMT_JMP_X)
			t = (long)i + 1 + in[i].off;
		if (fmt == UB_FMT_JA || fmt == UB_FMT_JA32 || fmt == UB_FMT_JMP_K ||
		    fmt == UB_FMT_JMP_X) {
			if (t < 0 || (size_t)t >= n)
				return -EINVAL;
			j->is_entry[t] |= MARK_TARGET;
		}
		note_needs(j, op, fmt, &in[i]);
		if (fmt == UB_FMT_LDDW)
			i++;
	}
	return 0;
}

/* Does control leave instruction i only by a jump or an exit (never into i + its size)? */
static int ends_flow(const struct jctx *j, size_t i)
{
	int fmt = ub_ops[j->ops[i]].fmt;

	return fmt == UB_FMT_EXIT || fmt == UB_FMT_JA || fmt == UB_FMT_JA32;
}

/*
 * The last instruction must not run on into the stubs. ub_interp_prepare refuses such a
 * program before the JIT sees it ("falls off the end"); checked again here because what
 * follows the code is not eBPF.
 */
static int check_end(struct jctx *j)
{
	size_t n = j->prog->cnt, last = 0;

	for (size_t i = 0; i < n; i++) {
		last = i;
		if (ub_ops[j->ops[i]].fmt == UB_FMT_LDDW)
			i++;
	}
	if (n && !ends_flow(j, last)) {
		ub_log_printf(j->log, "JIT: insn %zu: the program ends without exit or jump\n", last);
		return -EINVAL;
	}
	return 0;
}

static void emit_all(struct jctx *j)
{
	const struct bpf_insn *in = j->prog->insns;
	size_t n = j->prog->cnt;
	int flows = 0;	/* the code before can run on into the next instruction */

	for (size_t i = 0; i < n; i++) {
		if (j->is_entry[i] & MARK_ENTRY) {	/* functions are contiguous: each runs to the next */
			/*
			 * Unverified code may run on from one function into the next (the kernel
			 * refuses that: "last insn is not an exit or jmp"). As in the interpreter,
			 * it stays in its own frame: over the prologue, straight to the body.
			 */
			if (flows)
				emit_jmp_to(j, FIX_OFF, i);
			j->entry[i] = (uint32_t)j->x.len;
			emit_prologue(j, i == 0, i);
			emit_budget(j, i);
		}
		j->off[i] = (uint32_t)j->x.len;
		int op = j->ops[i];
		size_t used = opt_lea(j, i);
		j->fold = used ? used - 1 : 0;
		if (!used && !opt_zext_redundant(j, i))
			emit_insn(j, op, &in[i], i);
		if (ub_ops[op].fmt == UB_FMT_LDDW)
			j->fold = 1;
		flows = j->fold || !ends_flow(j, i);	/* a fused group: assume it may */
		for (; j->fold; j->fold--)	/* translated with insn i: no code of their own */
			j->off[++i] = (uint32_t)j->x.len;
	}
	emit_stubs(j);
}

/* Which of saved_reg[] (r6-r9's) a direct program writes or reads anywhere. */
static uint8_t used_saved(const struct uebpf_prog *prog)
{
	uint8_t mask = 0;

	for (size_t i = 0; i < prog->cnt; i++) {
		const struct bpf_insn *in = &prog->insns[i];
		for (int r = 6; r <= 9; r++)
			if (in->dst_reg == r || in->src_reg == r)
				mask |= (uint8_t)(1u << (r - 6));
	}
	return mask;
}

int ub_jit_is_entry(const struct uebpf_prog *prog, uint64_t fn)
{
	const struct ub_jit_image *img = prog->jit;
	uintptr_t base = img ? (uintptr_t)img->code : 0;

	if (!img || fn < base || fn >= base + img->size)
		return 0;
	for (size_t i = 0; i < prog->cnt; i++)
		if (img->entry_off[i] && base + img->entry_off[i] == fn)
			return 1;
	return fn == base;	/* insn 0's prologue starts the image */
}

int ub_jit_want_harden(const struct uebpf_prog *prog)
{
	const char *env = getenv("UEBPF_JIT_HARDEN");
	int level = env ? atoi(env) : 0;

	return (prog->flags & UEBPF_PROG_F_JIT_HARDEN) || level >= 2 || (level == 1 && prog->checked);
}

/*
 * Blinding keys, one per instruction, from getrandom(2); never zero (a zero key would
 * leave the immediate as it is). Where getrandom fails the addresses and the clock mix.
 */
static uint32_t *make_keys(size_t cnt)
{
	uint32_t *keys = malloc((cnt + 1) * sizeof(*keys));
	size_t want = (cnt + 1) * sizeof(*keys);

	if (!keys)
		return NULL;
	if (getrandom(keys, want, GRND_NONBLOCK) != (ssize_t)want) {
		uint64_t s = (uintptr_t)keys ^ (uint64_t)clock() << 32 ^ (uintptr_t)&want;
		for (size_t i = 0; i <= cnt; i++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			keys[i] = (uint32_t)(s >> 32);
		}
	}
	for (size_t i = 0; i <= cnt; i++)
		keys[i] |= keys[i] ? 0 : 0x5a5a5a5a;
	return keys;
}

/* Where a fixup's displacement points. */
static size_t fix_target(const struct jctx *j, const struct jfix *f)
{
	switch (f->kind) {
	case FIX_OFF: return j->off[f->idx];
	case FIX_ENTRY: return j->entry[f->idx];
	case FIX_STUB_CHECK: return j->stub_check;
	case FIX_STUB_BUDGET: return j->stub_budget;
	default: return j->stub_depth;
	}
}

/*
 * Emits the whole program into a heap buffer (grown and emitted again if the estimate
 * was short), fills in the displacements, and copies the code into its own pages:
 * mapped read-write, then read-execute.
 */
static int emit_image(struct jctx *j, struct ub_jit_image *img)
{
	size_t cap = j->prog->cnt * 48 + 1024;
	uint8_t *buf = NULL;

	for (;;) {
		uint8_t *nb = realloc(buf, cap);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		j->x = (struct ub_x86){ .buf = buf, .cap = cap };
		j->nfix = 0;
		emit_all(j);
		if (!j->x.overflow)
			break;
		cap = j->x.len + 1024;	/* the size is known now */
	}
	for (size_t k = 0; k < j->nfix; k++) {
		int32_t rel = (int32_t)((int64_t)fix_target(j, &j->fix[k]) - (int64_t)j->fix[k].pos);
		memcpy(buf + j->fix[k].pos - 4, &rel, 4);
	}
	img->size = j->x.len;
	img->map_size = (img->size + 4095) & ~(size_t)4095;
	void *mem = mmap(NULL, img->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (mem != MAP_FAILED) {
		memcpy(mem, buf, img->size);
		img->code = mem;
	}
	free(buf);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	if (j->bad)
		return j->bad == JIT_NOMEM ? -ENOMEM : -EFAULT;
	if (mprotect(mem, img->map_size, PROT_READ | PROT_EXEC))
		return -errno;
	return 0;
}

int ub_jit_compile(struct uebpf_prog *prog, int checked, struct ub_log *log)
{
	struct jctx j = { .prog = prog, .checked = checked, .log = log };
	struct ub_jit_image *img = calloc(1, sizeof(*img));
	int harden = ub_jit_want_harden(prog);

	j.off = calloc(prog->cnt + 1, sizeof(*j.off));
	j.entry = calloc(prog->cnt + 1, sizeof(*j.entry));
	j.is_entry = calloc(prog->cnt + 1, 1);
	j.ops = malloc((prog->cnt + 1) * sizeof(*j.ops));
	j.keys = harden ? make_keys(prog->cnt) : NULL;
	int err = !img || !j.off || !j.entry || !j.is_entry || !j.ops || (harden && !j.keys)
		  ? -ENOMEM : mark_entries(&j);
	if (!err)
		err = check_end(&j);
	if (!err) {
		j.direct = !checked && !j.may_fault && !j.uses_run;
		j.save_mask = j.direct ? used_saved(prog) : (1u << NSAVED) - 1;
		err = emit_image(&j, img);
	}
	if (err) {
		if (img && img->code)
			munmap(img->code, img->map_size);
		free(img);
		free(j.off);
		free(j.entry);
	} else {
		img->insn_off = j.off;
		img->entry_off = j.entry;
		img->body_off = j.off[0];
		img->tramp_off = j.stub_cbtramp;
		img->stubs_off = j.stubs;
		img->hardened = harden;
		img->needs_jmpbuf = checked || j.may_fault;
		img->direct = j.direct;
		img->tail_off = j.direct ? j.stub_tail : j.off[0];
		prog->jit = img;
	}
	free(j.is_entry);
	free(j.ops);
	free(j.fix);
	if (j.keys)	/* the keys must not outlive the compilation */
		explicit_bzero(j.keys, (prog->cnt + 1) * sizeof(*j.keys));
	free(j.keys);
	return err;
}

void ub_jit_free(struct ub_jit_image *img)
{
	if (!img)
		return;
	munmap(img->code, img->map_size);
	free(img->insn_off);
	free(img->entry_off);
	free(img);
}

int ub_jit_run(struct ub_run *run, const uint64_t *args, uint64_t *r0)
{
	const struct ub_jit_image *img = run->prog->jit;
	jmp_buf jb, *saved = run->jb;

	run->jit_active = 1;
	run->jit_depth = 0;
	if (!img->needs_jmpbuf) {	/* nothing in it can fault: no setjmp on the fast path */
		*r0 = ((ub_jit_entry)(uintptr_t)img->code)(args[0], args[1], run);
		return 0;
	}
	run->jb = &jb;
	if (setjmp(jb)) {
		run->jb = saved;
		ub_run_cur = run;
		*r0 = 0;
		return run->fault ? run->fault : -EFAULT;
	}
	*r0 = ((ub_jit_entry)(uintptr_t)img->code)(args[0], args[1], run);
	run->jb = saved;
	return 0;
}

/* Calls a function of a compiled program with r1..r5 (callbacks, callx). */
uint64_t ub_jit_call_fn(struct ub_run *run, uint64_t fn, const uint64_t *args)
{
	typedef uint64_t (*tramp_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
				     struct ub_run *);
	const struct ub_jit_image *img = run->prog->jit;
	tramp_fn t = (tramp_fn)(uintptr_t)(img->code + img->tramp_off);

	return t(args[0], args[1], args[2], args[3], args[4], fn, run);
}
