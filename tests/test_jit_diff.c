/*
 * The JIT against the interpreter on random programs (the comparison is tests/jit_diff.h).
 *
 * The kernel differential test needs programs the kernel's verifier accepts; this one does
 * not, so its programs go where the verifier would not let them: memory accesses that
 * leave the context (checked mode must fault in both engines, with the same errno),
 * misaligned atomics, division by a register that may be zero, bounded loops (backward
 * jumps), helper calls, bpf-to-bpf calls, LD_ABS/LD_IND in and out of the packet, and
 * early exits. Each program runs in checked mode; one that ran to its end without a fault
 * runs again in trusted mode (no runtime checks), and every JIT run is also done with
 * constant blinding, all against the interpreter.
 *
 * What the generator keeps fixed, so that both engines must give the same bytes:
 *   - r6 holds the context pointer (a different heap copy per engine) and is never written
 *     nor read as a value; memory accesses use it, or r10, as their base;
 *   - the stack area used ([r10 - 64, r10)) is written before it is read;
 *   - r1..r5 are set again after a helper call and after LD_ABS/LD_IND (they clobber them);
 *   - loops count down r7, which their bodies leave alone.
 * At the end r0 is a hash of r0..r5, r7..r9 and the stack, so every register counts.
 *
 * Environment: UEBPF_JIT_DIFF_N programs (4000), UEBPF_JIT_DIFF_SEED (random by default,
 * printed).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/bpf.h>
#include <uebpf/uebpf.h>
#include "jit_diff.h"
#include "kdiff.h"
#include "ut.h"

#ifndef BPF_MEMSX
#define BPF_MEMSX 0x80
#endif

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })
#define MAX_INSNS	700
#define MEM		64	/* bytes of context */
#define STACK		64	/* bytes of stack used */
#define CTX		6	/* the register holding the context */
#define LOOPREG		7

struct gen {
	uint64_t rng;
	struct bpf_insn p[MAX_INSNS];
	size_t n;
	int in_loop;
	size_t calls[16];	/* local calls, patched to the subprogram at the end */
	unsigned ncalls;
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

static uint64_t rand_val(struct gen *g)
{
	static const uint64_t edge[] = {
		0, 1, 2, 7, 8, 31, 32, 63, 64, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL,
		0x8000000000000000ULL, 0xffffffff80000000ULL, -1ULL, -2ULL, -8ULL,
	};
	switch (pick(g, 5)) {
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

/* A register whose value is data: not r6 (a pointer), not r10, not the loop counter. */
static uint8_t rand_reg(struct gen *g)
{
	static const uint8_t any[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9 };
	static const uint8_t loop[] = { 0, 1, 2, 3, 4, 5, 8, 9 };

	return g->in_loop ? loop[pick(g, sizeof(loop))] : any[pick(g, sizeof(any))];
}

static void emit_lddw(struct gen *g, uint8_t dst, uint64_t v)
{
	emit(g, I(BPF_LD | BPF_IMM | BPF_DW, dst, 0, 0, (int32_t)(uint32_t)v));
	emit(g, I(0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32)));
}

static void set_args(struct gen *g)	/* r1..r5 = constants */
{
	for (uint8_t r = 1; r <= 5; r++)
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, rand_imm(g)));
}

static const uint8_t sizes[4] = { BPF_B, BPF_H, BPF_W, BPF_DW };
static const unsigned size_bytes[4] = { 1, 2, 4, 8 };

/* A memory operand: the stack (always in bounds) or the context (now and then not). */
static void rand_mem(struct gen *g, unsigned size, int aligned, uint8_t *base, int16_t *off)
{
	if (pick(g, 2)) {
		*base = 10;
		*off = (int16_t)-(int)(size * (1 + pick(g, STACK / size)));
		return;
	}
	*base = CTX;
	*off = (int16_t)(size * pick(g, MEM / size));
	if (!aligned && pick(g, 4) == 0)
		*off = (int16_t)(*off + 1 + pick(g, 7));	/* misaligned, maybe past the end */
	if (pick(g, 40) == 0)
		*off = (int16_t)(pick(g, 2) ? (int)(MEM + pick(g, 16)) : -(int)(1 + pick(g, 16)));
}

static void gen_alu(struct gen *g)
{
	static const uint8_t ops[] = { BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND,
				       BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV,
				       BPF_ARSH, BPF_END };
	int is64 = pick(g, 2);
	uint8_t cls = is64 ? BPF_ALU64 : BPF_ALU, op = ops[pick(g, sizeof(ops))];
	uint8_t dst = rand_reg(g), src = rand_reg(g);

	if (op == BPF_NEG) {
		emit(g, I(cls | BPF_NEG | BPF_K, dst, 0, 0, 0));
	} else if (op == BPF_END) {
		uint8_t order = is64 ? BPF_TO_LE : pick(g, 2) ? BPF_TO_BE : BPF_TO_LE;
		emit(g, I(cls | BPF_END | order, dst, 0, 0, 16 << pick(g, 3)));
	} else if (op == BPF_MOV && pick(g, 4) == 0) {	/* movsx */
		emit(g, I(cls | BPF_MOV | BPF_X, dst, src, (int16_t)(8 << pick(g, is64 ? 3 : 2)), 0));
	} else if (pick(g, 2)) {
		int16_t off = (op == BPF_DIV || op == BPF_MOD) ? (int16_t)pick(g, 2) : 0;
		emit(g, I(cls | op | BPF_X, dst, src, off, 0));
	} else {
		int32_t imm = rand_imm(g);
		int16_t off = 0;
		if (op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH)
			imm = (int32_t)pick(g, is64 ? 64 : 32);
		if (op == BPF_DIV || op == BPF_MOD) {
			off = (int16_t)pick(g, 2);
			imm = imm ? imm : 3;	/* the validator refuses a constant 0 divisor */
		}
		emit(g, I(cls | op | BPF_K, dst, 0, off, imm));
	}
}

static void gen_mem(struct gen *g)
{
	unsigned s = pick(g, 4), k = pick(g, 3);
	uint8_t base;
	int16_t off;

	rand_mem(g, size_bytes[s], 0, &base, &off);
	if (k == 0) {
		int sx = s < 3 && pick(g, 3) == 0;
		emit(g, I(BPF_LDX | (sx ? BPF_MEMSX : BPF_MEM) | sizes[s], rand_reg(g), base, off, 0));
	} else if (k == 1) {
		emit(g, I(BPF_ST | BPF_MEM | sizes[s], base, 0, off, rand_imm(g)));
	} else {
		emit(g, I(BPF_STX | BPF_MEM | sizes[s], base, rand_reg(g), off, 0));
	}
}

static void gen_atomic(struct gen *g)
{
	static const int32_t ops[] = {
		BPF_ADD, BPF_OR, BPF_AND, BPF_XOR, BPF_ADD | BPF_FETCH, BPF_OR | BPF_FETCH,
		BPF_AND | BPF_FETCH, BPF_XOR | BPF_FETCH, BPF_XCHG, BPF_CMPXCHG,
	};
	unsigned s = 2 + pick(g, 2);
	uint8_t base;
	int16_t off;

	rand_mem(g, size_bytes[s], pick(g, 8) != 0, &base, &off);
	emit(g, I(BPF_STX | BPF_ATOMIC | sizes[s], base, rand_reg(g), off,
		  ops[pick(g, sizeof(ops) / sizeof(ops[0]))]));
}

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
	int32_t d = (int32_t)((long)target - (long)at - 1);

	if (BPF_CLASS(g->p[at].code) == BPF_JMP32 && BPF_OP(g->p[at].code) == BPF_JA)
		g->p[at].imm = d;
	else
		g->p[at].off = (int16_t)d;
}

static void gen_block(struct gen *g, unsigned depth, unsigned len);

static void gen_branch(struct gen *g, unsigned depth)
{
	size_t jcc = emit_jcc(g);

	gen_block(g, depth + 1, 1 + pick(g, 6));
	if (pick(g, 2)) {
		patch_jump(g, jcc, g->n);
		return;
	}
	size_t ja = g->n;
	emit(g, pick(g, 2) ? I(BPF_JMP | BPF_JA, 0, 0, 0, 0) : I(BPF_JMP32 | BPF_JA, 0, 0, 0, 0));
	patch_jump(g, jcc, g->n);
	gen_block(g, depth + 1, 1 + pick(g, 6));
	patch_jump(g, ja, g->n);
}

/*
 * r7 = n; do { body } while (--r7 != 0): a backward jump, bounded. Half the loops end the
 * way clang often ends them, `if r7 == 0 goto +1; goto top`, which the JIT folds into one
 * jump.
 */
static void gen_loop(struct gen *g, unsigned depth)
{
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_K, LOOPREG, 0, 0, 1 + (int32_t)pick(g, 6)));
	size_t top = g->n;
	g->in_loop = 1;
	gen_block(g, depth + 1, 1 + pick(g, 8));
	g->in_loop = 0;
	emit(g, I(BPF_ALU64 | BPF_SUB | BPF_K, LOOPREG, 0, 0, 1));
	if (pick(g, 2)) {
		emit(g, I((pick(g, 2) ? BPF_JMP32 : BPF_JMP) | BPF_JEQ | BPF_K, LOOPREG, 0, 1, 0));
		emit(g, I(BPF_JMP | BPF_JA, 0, 0, 0, 0));
	} else {
		emit(g, I(BPF_JMP | BPF_JNE | BPF_K, LOOPREG, 0, 0, 0));
	}
	patch_jump(g, g->n - 1, top);
}

/*
 * The shapes the JIT's peepholes fold: mov a, b; add a, c [; add a, K] (one lea), a
 * stack address made from r10 and used at once (then overwritten: addresses differ
 * between the engines), and a 32-bit operation followed by w = w.
 */
static void gen_fusable(struct gen *g)
{
	uint8_t a = rand_reg(g), b = rand_reg(g), c = rand_reg(g);

	switch (pick(g, 3)) {
	case 0:
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, a, b, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_X, a, c, 0, 0));
		if (pick(g, 2))
			emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, a, 0, 0, rand_imm(g)));
		break;
	case 1:
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, a, 10, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, a, 0, 0, -8 * (1 + (int32_t)pick(g, 8))));
		if (pick(g, 2) && b != a)	/* (storing a itself would store an address) */
			emit(g, I(BPF_STX | BPF_MEM | BPF_DW, a, b, 0, 0));
		else
			emit(g, I(BPF_LDX | BPF_MEM | BPF_W, b == a ? c : b, a, 4, 0));
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_K, a, 0, 0, rand_imm(g)));
		break;
	default:
		gen_alu(g);
		emit(g, I(BPF_ALU | BPF_MOV | BPF_X, g->p[g->n - 1].dst_reg, g->p[g->n - 1].dst_reg,
			  0, 0));
		break;
	}
}

/* Helpers of the test's own (deterministic), and a call to one. */
static uint64_t h_mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return (a * 0x9e3779b97f4a7c15ull) ^ (b << 7) ^ (c >> 3) ^ (d + e);
}

static uint64_t h_sum(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return a + b + c + d + e;
}

static const struct uebpf_helper helpers[] = {
	{ .id = 1, .name = "mix", .fn = h_mix },
	{ .id = 7, .name = "sum", .fn = h_sum },
};

static void gen_call(struct gen *g)
{
	unsigned k = pick(g, 3);

	if (k == 2 && g->ncalls < 16) {	/* bpf-to-bpf, target patched at the end */
		g->calls[g->ncalls++] = g->n;
		emit(g, I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0));
		return;
	}
	emit(g, I(BPF_JMP | BPF_CALL, 0, 0, 0, k ? 7 : 1));
	set_args(g);
}

/* LD_ABS / LD_IND on the context as the packet; out of bounds returns 0 from the program. */
static void gen_ld_pkt(struct gen *g)
{
	static const uint8_t sz[3] = { BPF_B, BPF_H, BPF_W };
	uint8_t s = sz[pick(g, 3)];
	int32_t off = (int32_t)pick(g, MEM + 4) - (pick(g, 30) == 0 ? 8 : 0);

	if (pick(g, 2)) {
		emit(g, I(BPF_LD | BPF_ABS | s, 0, 0, 0, off));
	} else {
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, (int32_t)pick(g, 16)));
		emit(g, I(BPF_LD | BPF_IND | s, 0, 2, 0, off - 8));
	}
	set_args(g);
}

static void gen_insn(struct gen *g, unsigned depth)
{
	unsigned k = pick(g, 100);

	if (k < 37)
		gen_alu(g);
	else if (k < 45)
		gen_fusable(g);
	else if (k < 60)
		gen_mem(g);
	else if (k < 66)
		gen_atomic(g);
	else if (k < 70)
		emit_lddw(g, rand_reg(g), rand_val(g));
	else if (k < 74)
		gen_call(g);
	else if (k < 76)
		gen_ld_pkt(g);
	else if (k < 77) {	/* an early exit */
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, rand_imm(g)));
		emit(g, I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	} else if (k < 82 && !g->in_loop && depth < 3)
		gen_loop(g, depth);
	else if (depth < 3)
		gen_branch(g, depth);
	else
		gen_alu(g);
}

static void gen_block(struct gen *g, unsigned depth, unsigned len)
{
	for (unsigned i = 0; i < len && g->n < MAX_INSNS - 250; i++)
		gen_insn(g, depth);
}

/* r0 = hash(r0..r5, r7..r9, the stack); exit. */
static void gen_fold(struct gen *g)
{
	static const uint8_t regs[] = { 1, 2, 3, 4, 5, 7, 8, 9 };
	const int32_t mul = (int32_t)0x9e3779b1;

	for (size_t i = 0; i < sizeof(regs); i++) {
		emit(g, I(BPF_ALU64 | BPF_XOR | BPF_X, 0, regs[i], 0, 0));
		emit(g, I(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, mul));
	}
	for (int off = -8; off >= -STACK; off -= 8) {
		emit(g, I(BPF_LDX | BPF_MEM | BPF_DW, 1, 10, off, 0));
		emit(g, I(BPF_ALU64 | BPF_XOR | BPF_X, 0, 1, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, mul));
	}
	emit(g, I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

/*
 * The subprogram: a few ALU operations on r0..r5 and the callee-saved r6..r9 (the caller's
 * come back: both engines restore them), a round trip through its own stack, r0 out.
 */
static void gen_subprog(struct gen *g)
{
	size_t start = g->n;

	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, 0, 1, 0, 0));
	for (unsigned i = 0, n = 2 + pick(g, 6); i < n; i++) {
		uint8_t dst = (uint8_t)pick(g, 10), src = (uint8_t)pick(g, 6);
		static const uint8_t ops[] = { BPF_ADD, BPF_XOR, BPF_MUL, BPF_LSH, BPF_MOV };
		uint8_t op = ops[pick(g, sizeof(ops))];
		emit(g, I(BPF_ALU64 | op | BPF_X, dst, src, 0, 0));
	}
	emit(g, I(BPF_STX | BPF_MEM | BPF_DW, 10, 0, -8, 0));
	emit(g, I(BPF_LDX | BPF_MEM | BPF_W, 2, 10, -8, 0));
	emit(g, I(BPF_ALU64 | BPF_XOR | BPF_X, 0, 2, 0, 0));
	emit(g, I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	for (unsigned i = 0; i < g->ncalls; i++)
		g->p[g->calls[i]].imm = (int32_t)(start - g->calls[i] - 1);
}

static void gen_prog(struct gen *g)
{
	g->n = 0;
	g->ncalls = 0;
	g->in_loop = 0;
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, CTX, 1, 0, 0));
	for (uint8_t r = 0; r <= 9; r++) {
		if (r == CTX)
			continue;
		if (pick(g, 2))
			emit_lddw(g, r, rand_val(g));
		else
			emit(g, I(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, rand_imm(g)));
	}
	for (int off = -8; off >= -STACK; off -= 8)
		emit(g, I(BPF_STX | BPF_MEM | BPF_DW, 10, rand_reg(g), off, 0));
	gen_block(g, 0, 8 + pick(g, 60));
	gen_fold(g);
	if (g->ncalls)
		gen_subprog(g);
}

static unsigned long env_num(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static void show(const struct gen *g)
{
	char text[128];

	for (size_t i = 0; i < g->n; i++) {
		uebpf_disasm_insn(g->p, g->n, i, UEBPF_SYNTAX_LLVM, text, sizeof(text));
		fprintf(stderr, "  %3zu: %s\n", i, text);
	}
}

UT_TEST(jit_matches_interpreter_on_random_programs)
{
	static struct gen g;
	uint64_t seed = env_num("UEBPF_JIT_DIFF_SEED", 0);
	unsigned long n = env_num("UEBPF_JIT_DIFF_N", 4000), diffs = 0, skipped = 0;
	unsigned long trusted = 0, faulted = 0;
	uint8_t mem[MEM];
	char msg[600];

	if (!seed)
		seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull | 1;
	printf("jit_diff: seed 0x%llx (UEBPF_JIT_DIFF_SEED), %lu programs\n",
	       (unsigned long long)seed, n);
	g.rng = seed;
	for (unsigned long i = 0; i < n; i++) {
		gen_prog(&g);
		for (size_t k = 0; k < MEM; k++)
			mem[k] = (uint8_t)rnd(&g);
		struct jd_case c = { .insns = g.p, .cnt = g.n, .mem = mem, .mem_len = MEM,
				     .flags = UEBPF_PROG_F_CHECKED, .helpers = helpers,
				     .helper_cnt = 2, .budget = 1000000, .harden = 1 };
		int ok = 0;
		enum jd_verdict v = jd_compare(&c, &ok, msg, sizeof(msg));
		if (v == JD_SAME && ok) {	/* the same path again, without runtime checks */
			c.flags = UEBPF_PROG_F_TRUSTED;
			v = jd_compare(&c, NULL, msg, sizeof(msg));
			trusted++;
		} else if (v == JD_SAME) {
			faulted++;
		}
		skipped += v == JD_SKIP;
		if (v == JD_DIFF && diffs++ < 3) {
			fprintf(stderr, "program %lu: %s\n", i, msg);
			show(&g);
		}
	}
	printf("jit_diff: %lu programs, %lu also trusted, %lu faulted alike, %lu skipped "
	       "(budget), %lu mismatches\n", n, trusted, faulted, skipped, diffs);
	UT_CHECK(diffs == 0, "%lu of %lu programs differ (seed 0x%llx)", diffs, n,
		 (unsigned long long)seed);
	UT_CHECK(trusted > n / 4, "only %lu of %lu programs ran to the end", trusted, n);
}
