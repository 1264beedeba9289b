/*
 * Differential test against the live kernel: random loop-free programs are loaded into
 * the kernel (BPF_PROG_TYPE_XDP, run with BPF_PROG_TEST_RUN) and into uebpf, checked and
 * trusted (the fast interpreter with its superinstructions, or the JIT without checks),
 * and the 32-bit results must all agree.
 *
 * The generator covers ALU and ALU64 (every operation, sdiv/smod, movsx, neg, le/be,
 * bswap), JMP and JMP32 conditional jumps in K and X form, ja and ja32 (gotol), stack
 * loads and stores of every size (sign-extending loads too), stack atomics and lddw.
 * Every program it makes must pass the kernel's verifier: a rejection is a generator bug
 * and fails the test. So a program
 *   - first sets r0..r9 to constants (r1, the context, is overwritten) and writes the
 *     whole stack area it uses (STACK_BYTES below r10);
 *   - touches the stack only as r10 + constant offset, aligned to the access size, and
 *     never copies r10 into another register;
 *   - steers clear of two kernel bugs (below);
 *   - uses shift immediates below the width and non-zero division immediates;
 *   - jumps only forward, in if/if-else shapes, so every instruction is reachable;
 *   - ends by hashing r1..r9 and the stack into r0 and folding r0 to 32 bits, as the
 *     XDP test run reports a 32-bit return value.
 *
 *
 * Two bugs of the kernel (seen on 6.18) would make it the one that is wrong, so the
 * generator avoids what triggers them. Both come from the verifier's state pruning: a
 * state found equivalent to one already explored is not walked any further.
 *
 * 1. Precision backtracking treats a fetching atomic (fetch_add/and/or/xor, xchg, cmpxchg)
 *    like a store, not as a fill from its stack slot, so a constant spilled there is never
 *    marked precise. A later path with another value in the slot is then pruned, branches
 *    that only it takes are deemed dead, and the kernel rewrites them away:
 *        r3 = 0 (four times: the verifier records a state only every 8 insns and 2 jumps)
 *        r2 = *(u32 *)(r1 + 16)        rx_queue_index: 0 when run, unknown to the verifier
 *        if r2 == 0 goto +2
 *        *(u64 *)(r10 - 8) = 1
 *        goto +1
 *        *(u64 *)(r10 - 8) = 100
 *        r0 = 0
 *        r0 = cmpxchg(r10 - 8, r0, r0)  (or xchg, or any fetch op)    r0 = 100
 *        if r0 > 50 goto +2
 *        r0 = 1; exit
 *        r0 = 2; exit
 *    returns 1 in the kernel and 2 by the ISA (and in uebpf). So atomics get their own
 *    part of the stack (ATOMIC_BYTES), which plain stores never touch, and whose slots the
 *    prologue turns into unknown data for the verifier (a non-fetching atomic does that).
 *
 * 2. A 32-bit cmpxchg must zero-extend r0. The x86 instruction leaves the upper half of
 *    rax alone when the compare succeeds, so the verifier inserts a zero extension, but
 *    only after a cmpxchg whose r0 it saw read as 64 bits on a path it walked; a pruned
 *    path never gets there:
 *        r3 = 0 (four times)
 *        r2 = *(u32 *)(r1 + 16)        0
 *        r0 = 0x100000005 ll
 *        *(u64 *)(r10 - 8) = 5
 *        r4 = 9
 *        if r2 == 0 goto +2
 *        r0 = 1
 *        goto +1
 *        w0 = cmpxchg32(r10 - 8, w0, w4)    equal: stores 9, r0 = 5
 *        r0 >>= 32
 *        exit
 *    returns 1 in the kernel and 0 by the ISA ("the value that was at dst + offset before
 *    the operation is zero-extended and loaded back to R0"). So every 32-bit cmpxchg is
 *    followed by r0 = r0, a 64-bit read that the verifier always walks.
 *
 * Environment: UEBPF_DIFF_N programs (3000), UEBPF_DIFF_SEED (printed; random by
 * default), UEBPF_DIFF_ENGINE interp (default) or jit, UEBPF_DIFF_SHOW mismatches shown
 * in full (3).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <uebpf/uebpf.h>
#include "kdiff.h"
#include "ut.h"

#ifndef BPF_MEMSX
#define BPF_MEMSX 0x80
#endif

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })
#define NOP_INSN	I(BPF_JMP | BPF_JA, 0, 0, 0, 0)
#define ZEXT_GUARD	I(BPF_ALU64 | BPF_MOV | BPF_X, 0, 0, 0, 0)	/* r0 = r0 */
#define STACK_BYTES	64
/* Atomics use [r10 - ATOMIC_BYTES, r10), plain stores the rest (kernel bug 1 above). */
#define ATOMIC_BYTES	32
#define MAX_INSNS	512
#define MAX_DEPTH	3
#define PKT_SIZE	64

/* ---- The kernel, through the raw bpf() syscall ---- */

/* Loads an XDP program; with a log buffer, the verifier's level-1 log goes there. */
static int kern_load(const struct bpf_insn *p, size_t n, char *log, size_t log_size)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uint64_t)(uintptr_t)p;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t)"GPL";
	if (log) {
		log[0] = 0;
		a.log_level = 1;
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = (uint32_t)log_size;
	}
	return (int)kd_sys_bpf(BPF_PROG_LOAD, &a);
}

static int kern_run(int fd, uint32_t *retval)
{
	static unsigned char pkt[PKT_SIZE];
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uint64_t)(uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	a.test.repeat = 1;
	if (kd_sys_bpf(BPF_PROG_TEST_RUN, &a) < 0)
		return -errno;
	*retval = a.test.retval;
	return 0;
}

/* ---- uebpf ---- */

static enum uebpf_engine diff_engine(void)
{
	const char *e = getenv("UEBPF_DIFF_ENGINE");

	return e && !strcmp(e, "jit") ? UEBPF_ENGINE_JIT : UEBPF_ENGINE_INTERP;
}

static int ub_load_flags(const struct bpf_insn *p, size_t n, struct uebpf_prog **prog,
			 char *log, size_t log_size, uint32_t flags)
{
	struct uebpf_prog_opts o = { .sz = sizeof(o), .engine = diff_engine(),
				     .flags = flags, .log_buf = log,
				     .log_size = log_size };
	if (log)
		log[0] = 0;
	return uebpf_prog_new(p, n, &o, prog);
}

static int ub_load(const struct bpf_insn *p, size_t n, struct uebpf_prog **prog, char *log,
		   size_t log_size)
{
	return ub_load_flags(p, n, prog, log, log_size, UEBPF_PROG_F_CHECKED);
}

static int ub_run(struct uebpf_prog *prog, uint64_t *retval, char *err, size_t err_size)
{
	static unsigned char ctx[PKT_SIZE];	/* the programs never read it */
	struct uebpf_run_opts r = { .sz = sizeof(r), .ctx = ctx, .ctx_size = sizeof(ctx),
				    .err_buf = err, .err_size = err_size };
	memset(ctx, 0, sizeof(ctx));
	err[0] = 0;
	int rc = uebpf_prog_run_opts(prog, &r);
	*retval = r.retval;
	return rc;
}

/* ---- Random programs ---- */

struct gen {
	uint64_t rng;
	struct bpf_insn p[MAX_INSNS];
	size_t n;
	size_t body_lo, body_hi;	/* [lo, hi): the random part, between prologue and fold */
};

static uint64_t rnd(struct gen *g)
{
	return kd_rnd(&g->rng);
}

static unsigned pick(struct gen *g, unsigned n)
{
	return kd_pick(&g->rng, n);
}

static void emit(struct gen *g, struct bpf_insn in)
{
	if (g->n < MAX_INSNS)
		g->p[g->n++] = in;
}

/* Values that find the edges: signs, widths, small numbers, and plain random ones. */
static uint64_t rand_val(struct gen *g)
{
	static const uint64_t edge[] = {
		0, 1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL,
		0x8000000000000000ULL, 0xffffffff80000000ULL, 0xffffffff7fffffffULL,
		-1ULL, -2ULL, -7ULL, -8ULL, 0x00000000ffff8000ULL, 0xffffffffffffff80ULL,
	};
	switch (pick(g, 6)) {
	case 0: case 1: return edge[pick(g, sizeof(edge) / sizeof(edge[0]))];
	case 2: return (uint64_t)((int64_t)pick(g, 41) - 20);
	case 3: return (uint64_t)(int64_t)(int32_t)rnd(g);
	default: return rnd(g);
	}
}

static int32_t rand_imm(struct gen *g)
{
	return (int32_t)rand_val(g);
}

static uint8_t rand_reg(struct gen *g)	/* r0..r9: r10 only appears as a memory base */
{
	return (uint8_t)pick(g, 10);
}

static void emit_lddw(struct gen *g, uint8_t dst, uint64_t v)
{
	emit(g, I(BPF_LD | BPF_IMM | BPF_DW, dst, 0, 0, (int32_t)(uint32_t)v));
	emit(g, I(0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32)));
}

/* r10 - from - k * size for a random k: aligned, inside [r10 - from - bytes, r10 - from). */
static int16_t stack_off(struct gen *g, unsigned size, unsigned from, unsigned bytes)
{
	return (int16_t)-(int)(from + size * (1 + pick(g, bytes / size)));
}

static const uint8_t sizes[4] = { BPF_B, BPF_H, BPF_W, BPF_DW };
static const unsigned size_bytes[4] = { 1, 2, 4, 8 };

static void gen_prologue(struct gen *g)
{
	for (uint8_t r = 0; r <= 9; r++) {
		switch (pick(g, 3)) {
		case 0: emit_lddw(g, r, rand_val(g)); break;
		case 1: emit(g, I(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, rand_imm(g))); break;
		default: emit(g, I(BPF_ALU | BPF_MOV | BPF_K, r, 0, 0, rand_imm(g))); break;
		}
	}
	for (int off = -8; off >= -STACK_BYTES; off -= 8) {
		if (pick(g, 2))
			emit(g, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, off, rand_imm(g)));
		else
			emit(g, I(BPF_STX | BPF_MEM | BPF_DW, 10, rand_reg(g), off, 0));
	}
	for (int off = -8; off >= -ATOMIC_BYTES; off -= 8)	/* the slots become "misc" */
		emit(g, I(BPF_STX | BPF_ATOMIC | BPF_DW, 10, rand_reg(g), off, BPF_ADD));
}

/* One ALU or ALU64 instruction, any operation. */
static void gen_alu(struct gen *g)
{
	static const uint8_t ops[] = { BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND,
				       BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV,
				       BPF_ARSH, BPF_END };
	int is64 = pick(g, 2);
	uint8_t cls = is64 ? BPF_ALU64 : BPF_ALU, op = ops[pick(g, sizeof(ops))];
	uint8_t dst = rand_reg(g), src = rand_reg(g);
	unsigned width = is64 ? 64 : 32;
	int x = pick(g, 2);

	if (op == BPF_NEG) {
		emit(g, I(cls | BPF_NEG | BPF_K, dst, 0, 0, 0));
	} else if (op == BPF_END) {	/* ALU64: bswap; ALU: le or be */
		uint8_t order = is64 ? BPF_TO_LE : pick(g, 2) ? BPF_TO_BE : BPF_TO_LE;
		emit(g, I(cls | BPF_END | order, dst, 0, 0, 16 << pick(g, 3)));
	} else if (op == BPF_MOV && x && pick(g, 3) == 0) {	/* movsx */
		int16_t bits = (int16_t)(8 << pick(g, is64 ? 3 : 2));	/* 8, 16 (, 32) */
		emit(g, I(cls | BPF_MOV | BPF_X, dst, src, bits, 0));
	} else if (x) {
		int16_t off = (op == BPF_DIV || op == BPF_MOD) ? (int16_t)pick(g, 2) : 0;
		emit(g, I(cls | op | BPF_X, dst, src, off, 0));
	} else {
		int32_t imm = rand_imm(g);
		int16_t off = 0;
		if (op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH)
			imm = (int32_t)pick(g, width);	/* the verifier refuses wider */
		if (op == BPF_DIV || op == BPF_MOD) {
			off = (int16_t)pick(g, 2);	/* 1: sdiv, smod */
			if (!imm)
				imm = 1 + (int32_t)pick(g, 9);	/* and division by constant 0 */
		}
		emit(g, I(cls | op | BPF_K, dst, 0, off, imm));
	}
}

static void gen_load(struct gen *g)
{
	unsigned s = pick(g, 4);
	int sx = s < 3 && pick(g, 3) == 0;

	emit(g, I(BPF_LDX | (sx ? BPF_MEMSX : BPF_MEM) | sizes[s], rand_reg(g), 10,
		  stack_off(g, size_bytes[s], 0, STACK_BYTES), 0));
}

static void gen_store(struct gen *g)
{
	unsigned s = pick(g, 4);
	int16_t off = stack_off(g, size_bytes[s], ATOMIC_BYTES, STACK_BYTES - ATOMIC_BYTES);

	if (pick(g, 2))
		emit(g, I(BPF_ST | BPF_MEM | sizes[s], 10, 0, off, rand_imm(g)));
	else
		emit(g, I(BPF_STX | BPF_MEM | sizes[s], 10, rand_reg(g), off, 0));
}

static void gen_atomic(struct gen *g)
{
	static const int32_t ops[] = {
		BPF_ADD, BPF_OR, BPF_AND, BPF_XOR, BPF_ADD | BPF_FETCH, BPF_OR | BPF_FETCH,
		BPF_AND | BPF_FETCH, BPF_XOR | BPF_FETCH, BPF_XCHG, BPF_CMPXCHG,
	};
	unsigned s = 2 + pick(g, 2);	/* W or DW */
	int32_t op = ops[pick(g, sizeof(ops) / sizeof(ops[0]))];

	emit(g, I(BPF_STX | BPF_ATOMIC | sizes[s], 10, rand_reg(g),
		  stack_off(g, size_bytes[s], 0, ATOMIC_BYTES), op));
	if (op == BPF_CMPXCHG && sizes[s] == BPF_W)	/* kernel bug 2 above */
		emit(g, ZEXT_GUARD);
}

/* A conditional jump with its offset left to patch. */
static size_t emit_jcc(struct gen *g)
{
	static const uint8_t ops[] = { BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT,
				       BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE };
	uint8_t cls = pick(g, 2) ? BPF_JMP32 : BPF_JMP, op = ops[pick(g, sizeof(ops))];

	if (pick(g, 2))
		emit(g, I(cls | op | BPF_X, rand_reg(g), rand_reg(g), 0, 0));
	else
		emit(g, I(cls | op | BPF_K, rand_reg(g), 0, 0, rand_imm(g)));
	return g->n - 1;
}

static void patch_jump(struct gen *g, size_t at, size_t target)
{
	int32_t d = (int32_t)(target - at - 1);

	if (BPF_CLASS(g->p[at].code) == BPF_JMP32 && BPF_OP(g->p[at].code) == BPF_JA)
		g->p[at].imm = d;	/* ja32 (gotol): the offset is in imm */
	else
		g->p[at].off = (int16_t)d;
}

static void gen_block(struct gen *g, unsigned depth, unsigned len);

/* if (cond) { else-part } else { then-part }: both arms reachable, jumps forward. */
static void gen_branch(struct gen *g, unsigned depth)
{
	size_t jcc = emit_jcc(g);

	gen_block(g, depth + 1, 1 + pick(g, 6));
	if (pick(g, 2)) {	/* if-then: the jump skips the block */
		patch_jump(g, jcc, g->n);
		return;
	}
	size_t ja = g->n;
	emit(g, pick(g, 2) ? I(BPF_JMP | BPF_JA, 0, 0, 0, 0) : I(BPF_JMP32 | BPF_JA, 0, 0, 0, 0));
	patch_jump(g, jcc, g->n);
	gen_block(g, depth + 1, 1 + pick(g, 6));
	patch_jump(g, ja, g->n);
}

static void gen_insn(struct gen *g, unsigned depth)
{
	unsigned k = pick(g, 100);

	if (k < 50)
		gen_alu(g);
	else if (k < 60)
		gen_load(g);
	else if (k < 70)
		gen_store(g);
	else if (k < 80)
		gen_atomic(g);
	else if (k < 85)
		emit_lddw(g, rand_reg(g), rand_val(g));
	else if (depth < MAX_DEPTH)
		gen_branch(g, depth);
	else
		gen_alu(g);
}

static void gen_block(struct gen *g, unsigned depth, unsigned len)
{
	for (unsigned i = 0; i < len && g->n < MAX_INSNS - 200; i++)
		gen_insn(g, depth);
}

/* r0 = hash(r0..r9, stack), folded to 32 bits; then exit. */
static void gen_fold(struct gen *g)
{
	const int32_t mul = (int32_t)0x9e3779b1;

	for (uint8_t r = 1; r <= 9; r++) {
		emit(g, I(BPF_ALU64 | BPF_XOR | BPF_X, 0, r, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, mul));
	}
	for (int off = -8; off >= -STACK_BYTES; off -= 8) {
		emit(g, I(BPF_LDX | BPF_MEM | BPF_DW, 1, 10, off, 0));
		emit(g, I(BPF_ALU64 | BPF_XOR | BPF_X, 0, 1, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, mul));
	}
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, 1, 0, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_RSH | BPF_K, 1, 0, 0, 32));
	emit(g, I(BPF_ALU64 | BPF_XOR | BPF_X, 0, 1, 0, 0));
	emit(g, I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

static void gen_prog(struct gen *g)
{
	g->n = 0;
	gen_prologue(g);
	g->body_lo = g->n;
	gen_block(g, 0, 8 + pick(g, 48));
	g->body_hi = g->n;
	gen_fold(g);
}

/* ---- Comparing one program ---- */

enum verdict { V_SAME, V_DIFF, V_KERN_REJECT, V_KERN_ERR, V_UB_ERR };

struct outcome {
	uint32_t kern;
	uint64_t ub;
	uint64_t ub_trusted;	/* the same program run trusted: no checks, superinstructions */
	int err;
};

static char log_buf[1 << 20];

/*
 * Runs p in the kernel and in uebpf. The kernel load asks for no log: the log of an
 * accepted program only costs time, so a rejected one is loaded again with the level-1
 * log to show why (show_reject).
 */
static enum verdict compare(const struct bpf_insn *p, size_t n, struct outcome *o)
{
	struct uebpf_prog *prog = NULL;
	char err[256];
	int fd = kern_load(p, n, NULL, 0);

	memset(o, 0, sizeof(*o));
	if (fd < 0)
		return o->err = -errno, V_KERN_REJECT;
	o->err = kern_run(fd, &o->kern);
	close(fd);
	if (o->err)
		return V_KERN_ERR;
	o->err = ub_load(p, n, &prog, NULL, 0);
	if (!o->err)
		o->err = ub_run(prog, &o->ub, err, sizeof(err));
	uebpf_prog_free(prog);
	prog = NULL;
	/* The kernel's verifier accepted it, so it may also run trusted (fast mode). */
	if (!o->err)
		o->err = ub_load_flags(p, n, &prog, NULL, 0, UEBPF_PROG_F_TRUSTED);
	if (!o->err)
		o->err = ub_run(prog, &o->ub_trusted, err, sizeof(err));
	uebpf_prog_free(prog);
	if (o->err)
		return V_UB_ERR;
	return (uint32_t)o->ub == o->kern && (uint32_t)o->ub_trusted == o->kern ? V_SAME : V_DIFF;
}

static void dump_prog(const struct bpf_insn *p, size_t n, size_t lo, size_t hi)
{
	for (size_t i = 0; i < n; i++) {
		char text[128] = "";
		uebpf_disasm_insn(p, n, i, UEBPF_SYNTAX_LLVM, text, sizeof(text));
		fprintf(stderr, "    %s%4zu: %02x %x%x %04x %08x  %s\n",
			i >= lo && i < hi ? "" : "~", i, p[i].code, p[i].src_reg, p[i].dst_reg,
			(uint16_t)p[i].off, (uint32_t)p[i].imm, text);
	}
}

/* Replaces p[i] (and the second half of an lddw) if kernel and uebpf still disagree. */
static int try_replace(struct bpf_insn *p, size_t n, size_t i, struct bpf_insn with)
{
	int wide = p[i].code == (BPF_LD | BPF_IMM | BPF_DW);
	struct bpf_insn save[2] = { p[i], wide ? p[i + 1] : p[i] };
	struct outcome o;

	if (!memcmp(&p[i], &with, sizeof(with)))
		return 0;
	p[i] = with;
	if (wide)
		p[i + 1] = NOP_INSN;
	if (compare(p, n, &o) == V_DIFF)
		return 1;
	p[i] = save[0];
	if (wide)
		p[i + 1] = save[1];
	return 0;
}

/* Simpler forms of p[i]: a no-op, a zero constant, a jump always or never taken. */
static int simplify(struct bpf_insn *p, size_t n, size_t lo, size_t i)
{
	uint8_t cls = BPF_CLASS(p[i].code), op = BPF_OP(p[i].code);
	int wide = p[i].code == (BPF_LD | BPF_IMM | BPF_DW);

	if ((cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_JA && op != BPF_EXIT) {
		int16_t off = p[i].off;	/* r0 == r0 is known: only one arm stays live */
		if (p[i].code == (BPF_JMP | BPF_JNE | BPF_X) && !p[i].dst_reg && !p[i].src_reg)
			return 0;	/* already simplest */
		if (try_replace(p, n, i, I(BPF_JMP | BPF_JNE | BPF_X, 0, 0, off, 0)))
			return 1;
		if (p[i].code == (BPF_JMP | BPF_JEQ | BPF_X) && !p[i].dst_reg && !p[i].src_reg)
			return 0;
		return try_replace(p, n, i, I(BPF_JMP | BPF_JEQ | BPF_X, 0, 0, off, 0));
	}
	if (cls == BPF_JMP || cls == BPF_JMP32 || !memcmp(&p[i], &ZEXT_GUARD, sizeof(p[i])))
		return 0;
	/* The prologue's writes stay, zeroed at most: root may read stack it never wrote
	 * (garbage), and a register never written may still hold the context pointer. */
	if (i < lo && p[i].code == (BPF_STX | BPF_ATOMIC | BPF_DW))
		return 0;
	if (i < lo && (cls == BPF_ST || cls == BPF_STX))
		return try_replace(p, n, i, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, p[i].off, 0));
	if (i < lo)
		return try_replace(p, n, i, I(BPF_ALU64 | BPF_MOV | BPF_K, p[i].dst_reg, 0, 0, 0));
	if (try_replace(p, n, i, NOP_INSN))
		return 1;
	if ((cls == BPF_ALU || cls == BPF_ALU64) && BPF_OP(p[i].code) == BPF_MOV)
		return try_replace(p, n, i, I(BPF_ALU64 | BPF_MOV | BPF_K, p[i].dst_reg, 0, 0, 0));
	if (wide)
		return try_replace(p, n, i, I(BPF_ALU64 | BPF_MOV | BPF_K, p[i].dst_reg, 0, 0, 0));
	if (p[i].code == (BPF_STX | BPF_MEM | BPF_DW))
		return try_replace(p, n, i, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, p[i].off, 0));
	if (cls == BPF_ST && p[i].imm)
		return try_replace(p, n, i, I(p[i].code, 10, 0, p[i].off, 0));
	return 0;
}

/* Shrinks a mismatching program to the instructions it needs to keep disagreeing. */
static void shrink(struct bpf_insn *p, size_t n, size_t lo, size_t hi)
{
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < hi; i++) {
			changed |= simplify(p, n, lo, i);
			i += p[i].code == (BPF_LD | BPF_IMM | BPF_DW);
		}
	}
}

static void dump_live(const struct bpf_insn *p, size_t n, size_t hi)
{
	for (size_t i = 0; i < n; i++) {
		char text[128] = "";
		if (i < hi && !memcmp(&p[i], &NOP_INSN, sizeof(p[i])))
			continue;
		uebpf_disasm_insn(p, n, i, UEBPF_SYNTAX_LLVM, text, sizeof(text));
		fprintf(stderr, "    %4zu: %02x %x%x %04x %08x  %s\n", i, p[i].code, p[i].src_reg,
			p[i].dst_reg, (uint16_t)p[i].off, (uint32_t)p[i].imm, text);
		if (i >= hi)
			break;	/* the fold is always the same */
	}
	fprintf(stderr, "          ... the fold of r1..r9 and the stack into r0, exit\n");
}

static void show_mismatch(struct gen *g, const struct outcome *o)
{
	struct bpf_insn small[MAX_INSNS];
	struct outcome so;

	fprintf(stderr, "  mismatch: kernel 0x%08x, uebpf 0x%08x (r0 0x%016llx), trusted 0x%08x; "
		"program (index: code src|dst off imm; ~ marks the prologue and the fold):\n",
		o->kern, (uint32_t)o->ub, (unsigned long long)o->ub, (uint32_t)o->ub_trusted);
	dump_prog(g->p, g->n, g->body_lo, g->body_hi);
	memcpy(small, g->p, g->n * sizeof(small[0]));
	shrink(small, g->n, g->body_lo, g->body_hi);
	compare(small, g->n, &so);
	fprintf(stderr, "  shrunk (no-ops left out; kernel 0x%08x, uebpf 0x%08x, r0 0x%016llx, "
		"trusted 0x%08x):\n", so.kern, (uint32_t)so.ub, (unsigned long long)so.ub,
		(uint32_t)so.ub_trusted);
	dump_live(small, g->n, g->body_hi);
}

static void show_reject(struct gen *g)
{
	int fd = kern_load(g->p, g->n, log_buf, sizeof(log_buf));

	if (fd >= 0) {
		close(fd);
		fprintf(stderr, "  kernel rejected the program once, then accepted it\n");
		return;
	}
	size_t len = strlen(log_buf);
	fprintf(stderr, "  kernel rejected a generated program (%s); program:\n", strerror(errno));
	dump_prog(g->p, g->n, g->body_lo, g->body_hi);
	/* The end of the log says why. */
	fprintf(stderr, "  verifier log (end):\n%s\n", log_buf + (len > 3000 ? len - 3000 : 0));
}

static void show_ub_error(struct gen *g, const struct outcome *o)
{
	struct uebpf_prog *prog = NULL;
	char err[512] = "";

	int rc = ub_load(g->p, g->n, &prog, log_buf, sizeof(log_buf));
	if (!rc)
		ub_run(prog, &(uint64_t){ 0 }, err, sizeof(err));
	uebpf_prog_free(prog);
	fprintf(stderr, "  uebpf failed on a program the kernel ran (%s): %s%s\n",
		strerror(-o->err), rc ? log_buf : "", err);
	dump_prog(g->p, g->n, g->body_lo, g->body_hi);
}

/* ---- The test ---- */

static const char *bpf_refused(void)
{
	struct bpf_insn p[] = { I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS),
				I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0) };
	int fd = kern_load(p, 2, NULL, 0);

	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	if (errno == EPERM || errno == ENOSYS || errno == EACCES)
		return strerror(errno);
	return NULL;	/* another error: the test itself reports it */
}

static unsigned long env_num(const char *name, unsigned long dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoul(s, NULL, 0) : dflt;
}

/* Can uebpf build the chosen engine at all? */
static int engine_ok(void)
{
	struct bpf_insn p[] = { I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0),
				I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0) };
	struct uebpf_prog *prog = NULL;
	int rc = ub_load(p, 2, &prog, NULL, 0);

	uebpf_prog_free(prog);
	return rc;
}

UT_TEST(kernel_diff_random_programs)
{
	const char *why = bpf_refused();
	if (why) {
		ut_skip("bpf() refused: %s", why);
		return;
	}
	int rc = engine_ok();
	if (rc == -EOPNOTSUPP) {
		ut_skip("uebpf has no %s engine yet", getenv("UEBPF_DIFF_ENGINE"));
		return;
	}
	UT_CHECK_EQ(rc, 0);

	unsigned long n = env_num("UEBPF_DIFF_N", 3000), show = env_num("UEBPF_DIFF_SHOW", 3);
	uint64_t seed = env_num("UEBPF_DIFF_SEED", 0);
	if (!getenv("UEBPF_DIFF_SEED"))
		seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	static struct gen g;
	g.rng = seed ? seed : 1;
	unsigned long cnt[V_UB_ERR + 1] = { 0 };
	fprintf(stderr, "  seed %llu (UEBPF_DIFF_SEED=%llu reproduces), engine %s, %lu programs\n",
		(unsigned long long)seed, (unsigned long long)seed,
		diff_engine() == UEBPF_ENGINE_JIT ? "jit" : "interp", n);

	for (unsigned long i = 0; i < n; i++) {
		struct outcome o;
		gen_prog(&g);
		enum verdict v = compare(g.p, g.n, &o);
		if (v != V_SAME && cnt[v]++ < show) {
			fprintf(stderr, "  program %lu:\n", i);
			if (v == V_DIFF)
				show_mismatch(&g, &o);
			else if (v == V_KERN_REJECT)
				show_reject(&g);
			else if (v == V_UB_ERR)
				show_ub_error(&g, &o);
			else
				fprintf(stderr, "  BPF_PROG_TEST_RUN failed: %s\n", strerror(-o.err));
		}
		if (v == V_SAME)
			cnt[V_SAME]++;
	}
	unsigned long compared = cnt[V_SAME] + cnt[V_DIFF];
	fprintf(stderr, "  generated %lu, compared %lu, mismatches %lu, kernel rejected %lu, "
		"test-run errors %lu, uebpf errors %lu (seed %llu)\n", n, compared, cnt[V_DIFF],
		cnt[V_KERN_REJECT], cnt[V_KERN_ERR], cnt[V_UB_ERR], (unsigned long long)seed);
	UT_CHECK(cnt[V_DIFF] == 0, "%lu programs gave different results", cnt[V_DIFF]);
	UT_CHECK(cnt[V_KERN_REJECT] == 0, "the kernel rejected %lu generated programs "
		 "(generator bug)", cnt[V_KERN_REJECT]);
	UT_CHECK(cnt[V_KERN_ERR] == 0, "%lu kernel test runs failed", cnt[V_KERN_ERR]);
	UT_CHECK(cnt[V_UB_ERR] == 0, "uebpf failed on %lu programs", cnt[V_UB_ERR]);
}
