/*
 * Soundness of the verifier, by random programs. Each program is an XDP program made of
 * "gadgets" that stress what the verifier proves: packet reads guarded (or not, or
 * badly) by data_end checks, map value accesses at constant and variable offsets with
 * and without NULL checks, stack spills and fills of pointers and scalars, context
 * reads, pointer arithmetic with bounded and unbounded scalars, branches on scalars,
 * helper calls with memory and size arguments (stack, map value, packet), bounded loops,
 * bpf-to-bpf calls that touch the caller's stack, and bpf_loop callbacks.
 *
 * For every program the verifier accepts, the same bytecode is loaded again unverified
 * (checked mode: every load and store checked at run time) and run on random packets:
 * a checked run that faults means the verifier accepted an unsafe program, and fails
 * the test. The verified (fast) run must give the same result as the checked one.
 *
 * Where bpf() works, the same programs also go to the live kernel's verifier and the
 * verdicts are compared; disagreements are counted and shown (a few), not failed on:
 * the agreement measure is test_verifier_selftests.
 *
 * Environment: VSOUND_N programs (default 1000), VSOUND_SEED (printed; random by
 * default), VSOUND_SHOW disagreements shown (default 3; VSOUND_LOGS=1 with both logs), VSOUND_KERNEL=0 to skip the
 * kernel.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/btf.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "kdiff.h"
#include "ut.h"

#define MAX_INSNS	320
#define VALUE_SIZE	48
#ifndef BPF_MEMSX
#define BPF_MEMSX	0x80	/* sign-extending loads (not in older uapi headers) */
#endif

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })

#define MAX_SUBS	6

/* Subprograms the main program calls, emitted after its exit. */
enum { SUB_STACK_RW, SUB_CALLBACK };

struct gen {
	uint64_t rng;
	struct { size_t at; int kind; int16_t off; int8_t size; uint8_t write, bad_ret, global; } sub[MAX_SUBS];
	unsigned nsub;
	struct bpf_func_info fi[MAX_SUBS + 1];	/* func_info: main, then each subprogram */
	unsigned nfi;
	unsigned bug_rate;	/* a gadget is buggy with probability 1/bug_rate (0: never) */
	int random;		/* calls get_prandom_u32: runs may differ in their result */
	int mutated;		/* bytes changed at random after generation */
	struct bpf_insn p[MAX_INSNS];
	size_t n;
};

static uint64_t rnd(struct gen *g)
{
	return kd_rnd(&g->rng);
}

static unsigned pick(struct gen *g, unsigned n)
{
	return kd_pick(&g->rng, n);
}

static int32_t small(struct gen *g, int lo, int hi)
{
	return lo + (int32_t)pick(g, (unsigned)(hi - lo + 1));
}

/* Whether this gadget should break a rule (most programs need to be mostly correct for
 * the accepted ones to say anything about soundness). */
static int buggy(struct gen *g)
{
	return g->bug_rate && !pick(g, g->bug_rate);
}

static void emit(struct gen *g, struct bpf_insn in)
{
	if (g->n < MAX_INSNS)
		g->p[g->n++] = in;
}

static const uint8_t sizes[4] = { BPF_B, BPF_H, BPF_W, BPF_DW };
static const int size_bytes[4] = { 1, 2, 4, 8 };

/*
 * Registers: r6 = ctx, r7 = data, r8 = data_end, r9 = map value or NULL; r1..r5 are
 * temporaries that hold scalars between gadgets (a gadget that puts a pointer in one
 * resets it before it ends, unless it is being buggy), so branches may land between any
 * two gadgets.
 */
static uint8_t tmp(struct gen *g)
{
	return (uint8_t)(1 + pick(g, 5));
}

static uint8_t tmp_other(struct gen *g, uint8_t not)
{
	uint8_t r = tmp(g);
	return r == not ? (uint8_t)(r % 5 + 1) : r;
}

static void mov_k(struct gen *g, uint8_t r, int32_t k)
{
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, k));
}

/* Ends a gadget that left a pointer in r: back to a scalar, unless buggy. A pointer
 * left behind may be stored into the map or the packet (privileged programs may), and
 * its value differs between the checked and the fast run: results are then not compared. */
static void unpoint(struct gen *g, uint8_t r)
{
	if (!buggy(g))
		mov_k(g, r, small(g, -4, 70));
	else
		g->random = 1;
}

static void gen_prologue(struct gen *g, int map_fd)
{
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0));
	emit(g, I(BPF_LDX | BPF_MEM | BPF_W, 7, 6, 0, 0));
	emit(g, I(BPF_LDX | BPF_MEM | BPF_W, 8, 6, 4, 0));
	emit(g, I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0));
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4));
	emit(g, I(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_FD, 0, map_fd));
	emit(g, I(0, 0, 0, 0, 0));
	emit(g, I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, 9, 0, 0, 0));
	for (uint8_t r = 0; r <= 5; r++)
		if (!buggy(g))	/* the call left r1..r5 uninitialized */
			mov_k(g, r, small(g, -4, 70));
}

/* A scalar temporary with a random, maybe bounded, value. */
static uint8_t scalar(struct gen *g)
{
	uint8_t r = tmp(g);
	switch (pick(g, 5)) {
	case 0:	/* unknown, from the context */
		emit(g, I(BPF_LDX | BPF_MEM | BPF_W, r, 6, 16, 0));	/* rx_queue_index */
		break;
	case 1:	/* unknown, from a helper: the call clobbers the other temporaries */
		emit(g, I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32));
		g->random = 1;
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, r, 0, 0, 0));
		for (uint8_t o = 1; o <= 5; o++)
			if (o != r && !buggy(g))
				mov_k(g, o, small(g, -4, 70));
		break;
	case 2:
		emit(g, I(BPF_ALU64 | BPF_AND | BPF_K, r, 0, 0, (int32_t)pick(g, 64)));
		break;
	case 3:
		mov_k(g, r, small(g, -8, 60));
		break;
	default:
		break;	/* whatever it holds */
	}
	return r;
}

/* rA = data + K; if rA > data_end skip; read/write data + off within K (or not). */
static void g_packet(struct gen *g)
{
	uint8_t a = tmp(g), b = tmp_other(g, a);
	int s = (int)pick(g, 4), k = small(g, size_bytes[s], 70);
	int off = buggy(g) ? small(g, -2, k + 2) : small(g, 0, k - size_bytes[s]);
	int write = !pick(g, 3);

	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, a, 7, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, a, 0, 0, k));
	emit(g, I(BPF_JMP | (pick(g, 4) ? BPF_JGT : BPF_JGE) | BPF_X, a, 8, 1, 0));
	if (write)
		emit(g, I(BPF_STX | BPF_MEM | sizes[s], 7, b, (int16_t)off, 0));
	else
		emit(g, I(BPF_LDX | BPF_MEM | sizes[s], b, 7, (int16_t)off, 0));
	unpoint(g, a);
}

/* A variable offset into the packet, bounded by a mask, checked against data_end. */
static void g_packet_var(struct gen *g)
{
	uint8_t r = scalar(g), a = tmp_other(g, r), b = tmp_other(g, a);
	int k = small(g, 1, 16);

	if (b == r)
		return;
	if (!buggy(g))
		emit(g, I(BPF_ALU64 | BPF_AND | BPF_K, r, 0, 0, (int32_t)pick(g, 255)));
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, a, 7, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_ADD | BPF_X, a, r, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, b, a, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, b, 0, 0, k));
	emit(g, I(BPF_JMP | BPF_JGT | BPF_X, b, 8, 1, 0));
	emit(g, I(BPF_LDX | BPF_MEM | BPF_B, b, a, (int16_t)(buggy(g) ? small(g, -1, k) : small(g, 0, k - 1)), 0));
	unpoint(g, a);
	unpoint(g, b);
}

/* Map value: NULL-checked (or not), at a constant or masked variable offset. */
static void g_map(struct gen *g)
{
	uint8_t a = tmp(g), b = tmp_other(g, a);
	int s = (int)pick(g, 4), mask = pick(g, 3) ? 0 : (int)pick(g, 16);
	int off = buggy(g) ? small(g, -4, VALUE_SIZE + 2) : small(g, 0, VALUE_SIZE - size_bytes[s] - mask);
	int checked = !buggy(g), write = !pick(g, 3);
	size_t at = g->n;

	if (checked)
		emit(g, I(BPF_JMP | BPF_JEQ | BPF_K, 9, 0, 0, 0));	/* patched below */
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, a, 9, 0, 0));
	if (mask) {
		uint8_t r = scalar(g);
		if (r == a)
			r = b;
		if (!buggy(g))
			emit(g, I(BPF_ALU64 | BPF_AND | BPF_K, r, 0, 0, mask));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_X, a, r, 0, 0));
	}
	if (!write)
		emit(g, I(BPF_LDX | BPF_MEM | sizes[s], b, a, (int16_t)off, 0));
	else if (pick(g, 2))
		emit(g, I(BPF_STX | BPF_MEM | sizes[s], a, b, (int16_t)off, 0));
	else
		emit(g, I(BPF_ST | BPF_MEM | sizes[s], a, 0, (int16_t)off, small(g, -1, 100)));
	if (checked && g->n < MAX_INSNS)
		g->p[at].off = (int16_t)(g->n - at - 1);
	unpoint(g, a);
}

/* Stack: spills and fills of scalars and pointers, now and then misaligned or out of
 * the frame; pointers are spilled whole, unless buggy. */
static void g_stack(struct gen *g)
{
	int s = (int)pick(g, 4), off = -size_bytes[s] * small(g, 1, 64 / size_bytes[s]);
	uint8_t src = (uint8_t)(1 + pick(g, 9));

	if (buggy(g))
		off += small(g, -1, 1);
	if (src >= 6 && !buggy(g))
		s = 3, off = -8 * small(g, 1, 8);
	else if (src >= 6)
		g->random = 1;	/* pointer bytes may come back as a scalar */
	if (pick(g, 2))
		emit(g, I(BPF_STX | BPF_MEM | sizes[s], 10, src, (int16_t)off, 0));
	else {
		uint8_t d = tmp(g);
		emit(g, I(BPF_LDX | BPF_MEM | sizes[s], d, 10, (int16_t)off, 0));
		unpoint(g, d);	/* it may have filled a pointer */
	}
}

/* Pointers back from the stack: a filled packet or map pointer is used again. */
static void g_spill_fill(struct gen *g)
{
	uint8_t p = pick(g, 2) ? 9 : 7, a = tmp(g), b = tmp_other(g, a);
	int16_t off = (int16_t)(-8 * small(g, 2, 8));
	int16_t at = (int16_t)small(g, 0, 3);

	emit(g, I(BPF_STX | BPF_MEM | BPF_DW, 10, p, off, 0));
	emit(g, I(BPF_LDX | BPF_MEM | BPF_DW, a, 10, off, 0));
	if (p == 9 && !buggy(g)) {
		emit(g, I(BPF_JMP | BPF_JEQ | BPF_K, a, 0, 1, 0));
	} else if (p == 7 && !buggy(g)) {
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, b, a, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, b, 0, 0, at + 1));
		emit(g, I(BPF_JMP | BPF_JGT | BPF_X, b, 8, 1, 0));
	}
	emit(g, I(BPF_LDX | BPF_MEM | BPF_B, b, a, at, 0));
	unpoint(g, a);
	unpoint(g, b);
}

/* xdp_md fields that read as scalars (ingress_ifindex, rx_queue_index; egress_ifindex
 * only for devmap programs),
 * 4 bytes; buggy: anything in or past the context, any size. */
static void g_ctx(struct gen *g)
{
	uint8_t d = tmp(g);

	if (buggy(g))
		emit(g, I(BPF_LDX | BPF_MEM | sizes[pick(g, 4)], d, 6, (int16_t)(4 * small(g, 0, 7)), 0));
	else
		emit(g, I(BPF_LDX | BPF_MEM | BPF_W, d, 6, (int16_t)(12 + 4 * small(g, 0, 1)), 0));
	unpoint(g, d);
}

static void g_alu(struct gen *g)
{
	static const uint8_t ops[] = { BPF_ADD, BPF_SUB, BPF_MUL, BPF_OR, BPF_AND, BPF_LSH,
				       BPF_RSH, BPF_XOR, BPF_ARSH, BPF_MOV, BPF_DIV, BPF_MOD };
	uint8_t op = ops[pick(g, sizeof(ops))], cls = pick(g, 3) ? BPF_ALU64 : BPF_ALU;
	uint8_t d = tmp(g);
	int shift = op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH;

	if (buggy(g))	/* arithmetic on a pointer */
		d = (uint8_t)(6 + pick(g, 4));
	if (pick(g, 2) && !shift)
		emit(g, I(cls | op | BPF_X, d, tmp(g), 0, 0));
	else
		emit(g, I(cls | op | BPF_K, d, 0, 0, shift ? (int32_t)pick(g, 32) : small(g, -70, 70)));
}

/*
 * Bounds refinement, where verifier bugs live: a value read from the packet (whose
 * bytes the runs choose near the edges), shifted or sign-extended now and then,
 * compared against one or two constants (64 or 32 bits, signed or not), then used as
 * an offset into the map value.
 */
static void g_bounded(struct gen *g)
{
	static const uint8_t ops[] = { BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE,
				       BPF_JSLT, BPF_JSLE, BPF_JEQ, BPF_JNE, BPF_JSET };
	uint8_t r = tmp(g), a = tmp_other(g, r), b = tmp_other(g, a);
	int s = (int)pick(g, 4), n = 1 + (int)pick(g, 3);
	size_t skips[6], nskip = 0;

	if (b == r)
		return;
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, b, 7, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, b, 0, 0, 8));
	skips[nskip++] = g->n;
	emit(g, I(BPF_JMP | BPF_JGT | BPF_X, b, 8, 0, 0));
	if (s < 3 && pick(g, 3) == 0)
		emit(g, I(BPF_LDX | BPF_MEMSX | sizes[s], r, 7, (int16_t)small(g, 0, 8 - size_bytes[s]), 0));
	else
		emit(g, I(BPF_LDX | BPF_MEM | sizes[s], r, 7, (int16_t)small(g, 0, 8 - size_bytes[s]), 0));
	switch (pick(g, 6)) {
	case 0: emit(g, I(BPF_ALU64 | BPF_ARSH | BPF_K, r, 0, 0, (int32_t)pick(g, 16))); break;
	case 1: emit(g, I(BPF_ALU | BPF_ADD | BPF_K, r, 0, 0, small(g, -64, 64))); break;
	case 2: emit(g, I(BPF_ALU64 | BPF_SUB | BPF_K, r, 0, 0, small(g, -64, 64))); break;
	default: break;
	}
	for (int i = 0; i < n && nskip < 4; i++) {
		uint8_t cls = pick(g, 3) ? BPF_JMP : BPF_JMP32;
		int32_t k = pick(g, 4) ? small(g, -2, VALUE_SIZE + 2) : (int32_t)rnd(g);
		skips[nskip++] = g->n;
		emit(g, I(cls | ops[pick(g, sizeof(ops))] | BPF_K, r, 0, 0, k));
	}
	skips[nskip++] = g->n;
	emit(g, I(BPF_JMP | BPF_JEQ | BPF_K, 9, 0, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, a, 9, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_ADD | BPF_X, a, r, 0, 0));
	s = (int)pick(g, 4);
	if (pick(g, 2))
		emit(g, I(BPF_LDX | BPF_MEM | sizes[s], b, a, (int16_t)small(g, -2, 8), 0));
	else	/* the scalar, not b (a packet pointer here, whose value differs per run) */
		emit(g, I(BPF_STX | BPF_MEM | sizes[s], a, r, (int16_t)small(g, -2, 8), 0));
	for (size_t i = 0; i < nskip; i++)
		g->p[skips[i]].off = (int16_t)(g->n - skips[i] - 1);
	unpoint(g, a);
	unpoint(g, b);
}

/* After a helper call: r1..r5 are uninitialized; give them scalars again, unless buggy. */
static void reset_tmps(struct gen *g)
{
	for (uint8_t r = 1; r <= 5; r++)
		if (!buggy(g))
			mov_k(g, r, small(g, -4, 70));
}

/* Stack bytes fp-off .. fp-off+len-1 written (8 at a time), for a helper to read. Less
 * than asked (buggy gadgets) leaves bytes a helper or callee reads uninitialized: the
 * privileged verifier allows that, and the result then depends on old stack contents. */
static void fill_stack(struct gen *g, int off, int len, int want)
{
	if (len < want)
		g->random = 1;
	for (int o = off; o > off - len; o -= 8)
		emit(g, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, (int16_t)-o, small(g, -3, 99)));
}

/* A memory argument in r1 (readable len bytes, or not when buggy): stack, map value
 * or packet. Returns 0 if it could not be built (the packet one needs a bounds check,
 * whose skip target is patched by the caller). */
static int mem_arg(struct gen *g, uint8_t r, int len, size_t *skip)
{
	switch (pick(g, 3)) {
	case 0: {	/* stack: initialized, or partly not (privileged: allowed by both) */
		int off = 8 * small(g, (len + 7) / 8, 16);
		fill_stack(g, off, buggy(g) ? len / 2 : len, len);
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, r, 10, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, r, 0, 0, -off + (buggy(g) ? small(g, -8, 8) : 0)));
		return 1;
	}
	case 1:		/* map value, NULL-checked (or not) */
		*skip = g->n;
		if (!buggy(g))
			emit(g, I(BPF_JMP | BPF_JEQ | BPF_K, 9, 0, 0, 0));
		else
			*skip = (size_t)-1;
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, r, 9, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, r, 0, 0,
			  buggy(g) ? small(g, 0, VALUE_SIZE) : small(g, 0, VALUE_SIZE - len)));
		return 1;
	default:	/* packet, after a data_end check of len bytes (or fewer) */
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, r, 7, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, r, 0, 0, buggy(g) ? small(g, 0, len) : len));
		*skip = g->n;
		emit(g, I(BPF_JMP | BPF_JGT | BPF_X, r, 8, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, r, 7, 0, 0));
		return 1;
	}
}

/* Helpers with memory and size arguments: csum_diff over stack, map or packet bytes
 * (sizes multiples of 4), map_update_elem with key and value from such memory. */
static void g_helper(struct gen *g)
{
	size_t skip1 = (size_t)-1, skip2 = (size_t)-1;

	if (pick(g, 2)) {
		int len = 4 * small(g, 1, 8);
		mem_arg(g, 1, len, &skip1);
		mov_k(g, 2, buggy(g) ? len + 4 * small(g, 1, 4) : len);
		mov_k(g, 3, 0);
		mov_k(g, 4, 0);
		mov_k(g, 5, small(g, 0, 1000));
		emit(g, I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_csum_diff));
	} else {
		/* value from memory first (r3), then the key on the stack (r2), map last */
		mem_arg(g, 3, VALUE_SIZE, &skip1);
		fill_stack(g, 8, buggy(g) ? 0 : 8, 8);
		emit(g, I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -8, 0));	/* key 0: in range */
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8));
		emit(g, I(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_FD, 0, g->p[6].imm));
		emit(g, I(0, 0, 0, 0, 0));
		mov_k(g, 4, 0);
		emit(g, I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem));
	}
	if (skip1 != (size_t)-1)
		g->p[skip1].off = (int16_t)(g->n - skip1 - 1);
	(void)skip2;
	reset_tmps(g);
}

/* A bounded loop: a counter from a constant or a masked unknown, counted down; the body
 * reads the map value at the counter (bounded by the loop condition, or not). */
static void g_loop(struct gen *g)
{
	uint8_t c = tmp(g), a = tmp_other(g, c);
	int n = small(g, 1, 6);
	size_t top, nul;

	if (pick(g, 2))
		mov_k(g, c, n);
	else {
		emit(g, I(BPF_LDX | BPF_MEM | BPF_W, c, 6, 16, 0));	/* rx_queue_index */
		emit(g, I(BPF_ALU64 | BPF_AND | BPF_K, c, 0, 0, 7));
	}
	top = g->n;
	nul = g->n;
	emit(g, I(BPF_JMP | BPF_JEQ | BPF_K, 9, 0, 0, 0));	/* patched: past the body */
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, a, 9, 0, 0));
	emit(g, I(BPF_ALU64 | BPF_ADD | BPF_X, a, c, 0, 0));
	emit(g, I(BPF_LDX | BPF_MEM | BPF_B, a, a, (int16_t)(buggy(g) ? VALUE_SIZE - 4 : 0), 0));
	g->p[nul].off = (int16_t)(g->n - nul - 1);
	if (!buggy(g))	/* buggy: the counter never changes, an endless loop */
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, c, 0, 0, -1));
	emit(g, I(BPF_JMP | (pick(g, 2) ? BPF_JSGT : BPF_JGT) | BPF_K, c, 0,
		  (int16_t)(top - g->n - 1), 0));
	unpoint(g, a);
}

/* A call of a subprogram with a pointer into this frame's stack (it reads or writes
 * there), or a bpf_loop whose callback gets the stack pointer as its context. */
static void g_call(struct gen *g)
{
	if (g->nsub >= MAX_SUBS)
		return;
	int kind = pick(g, 2) ? SUB_STACK_RW : SUB_CALLBACK, slot = 8 * small(g, 1, 8);
	unsigned s = g->nsub++;

	g->sub[s].kind = kind;
	g->sub[s].size = (int8_t)size_bytes[pick(g, 4)];
	if (buggy(g)) {	/* maybe past the 8 initialized bytes: old stack contents */
		g->sub[s].off = (int16_t)small(g, -8, 8);
		g->random = 1;
	} else {
		g->sub[s].off = (int16_t)small(g, 0, 8 - g->sub[s].size);
	}
	g->sub[s].write = (uint8_t)pick(g, 2);
	g->sub[s].bad_ret = (uint8_t)buggy(g);
	/* a global function (BTF linkage): verified on its own, its argument 8 bytes of
	 * memory that may be NULL; the caller only learns that the slot may have changed */
	g->sub[s].global = kind == SUB_STACK_RW && pick(g, 2);
	fill_stack(g, slot, buggy(g) ? 0 : 8, 8);
	if (kind == SUB_STACK_RW) {
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, 1, 10, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -slot));
		g->sub[s].at = g->n;
		emit(g, I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0));	/* patched */
	} else {
		mov_k(g, 1, small(g, buggy(g) ? -1 : 0, 4));
		g->sub[s].at = g->n;
		emit(g, I(BPF_LD | BPF_IMM | BPF_DW, 2, BPF_PSEUDO_FUNC, 0, 0));	/* patched */
		emit(g, I(0, 0, 0, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, 3, 10, 0, 0));
		emit(g, I(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -slot));
		mov_k(g, 4, 0);
		emit(g, I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_loop));
	}
	reset_tmps(g);
}

/* The subprograms, after the main program: each reads or writes its pointer argument
 * (r1, or r2 for a callback) and returns a scalar (a callback: 0 or 1). */
static void gen_subs(struct gen *g)
{
	for (unsigned s = 0; s < g->nsub && g->n < MAX_INSNS - 8; s++) {
		uint8_t p = g->sub[s].kind == SUB_CALLBACK ? 2 : 1;
		g->fi[g->nfi++] = (struct bpf_func_info){ .insn_off = (uint32_t)g->n,
							  .type_id = g->sub[s].global ? 7 : 3 };
		int sz = g->sub[s].size == 1 ? 0 : g->sub[s].size == 2 ? 1 : g->sub[s].size == 4 ? 2 : 3;
		g->p[g->sub[s].at].imm = (int32_t)(g->n - g->sub[s].at - 1);
		if (g->sub[s].global && !buggy(g))	/* NULL check; without it: refused */
			emit(g, I(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1, 0));
		if (g->sub[s].write)
			emit(g, I(BPF_ST | BPF_MEM | sizes[sz], p, 0, g->sub[s].off, small(g, 0, 9)));
		else
			emit(g, I(BPF_LDX | BPF_MEM | sizes[sz], 0, p, g->sub[s].off, 0));
		mov_k(g, 0, g->sub[s].bad_ret ? small(g, -1, 3) : (int32_t)pick(g, 2));
		emit(g, I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	}
}

/* A forward branch over the next few gadgets (patched later). */
static void g_branch(struct gen *g, size_t *pend, size_t *npend)
{
	static const uint8_t ops[] = { BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE,
				       BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE, BPF_JSET };
	uint8_t cls = pick(g, 3) ? BPF_JMP : BPF_JMP32;

	if (*npend >= 8)
		return;
	pend[(*npend)++] = g->n;
	if (pick(g, 2))
		emit(g, I(cls | ops[pick(g, sizeof(ops))] | BPF_K, tmp(g), 0, 0, small(g, -5, 70)));
	else
		emit(g, I(cls | ops[pick(g, sizeof(ops))] | BPF_X, tmp(g), tmp(g), 0, 0));
}

static void generate(struct gen *g, int map_fd)
{
	static const unsigned rates[] = { 0, 0, 40, 12, 4 };
	size_t pend[8], npend = 0;
	unsigned gadgets = 4 + pick(g, 24);

	g->n = 0;
	g->nsub = 0;
	g->nfi = 1;
	g->fi[0] = (struct bpf_func_info){ .insn_off = 0, .type_id = 3 };
	g->random = 0;
	g->bug_rate = rates[pick(g, sizeof(rates) / sizeof(rates[0]))];
	gen_prologue(g, map_fd);
	for (unsigned i = 0; i < gadgets && g->n < MAX_INSNS - 64; i++) {
		switch (pick(g, 15)) {
		case 0: case 1: g_packet(g); break;
		case 2: g_packet_var(g); break;
		case 3: case 4: g_map(g); break;
		case 5: g_stack(g); break;
		case 6: g_spill_fill(g); break;
		case 7: g_ctx(g); break;
		case 8: g_alu(g); break;
		case 9: case 10: g_bounded(g); break;
		case 11: g_helper(g); break;
		case 12: g_loop(g); break;
		case 13: g_call(g); break;
		default: g_branch(g, pend, &npend); break;
		}
		/* close branches that have waited long enough, forward to here */
		for (size_t j = 0; j < npend; j++) {
			if (pick(g, 3))
				continue;
			g->p[pend[j]].off = (int16_t)(g->n - pend[j] - 1);
			pend[j--] = pend[--npend];
		}
	}
	for (size_t j = 0; j < npend; j++)
		g->p[pend[j]].off = (int16_t)(g->n - pend[j] - 1);
	emit(g, I(BPF_ALU64 | BPF_MOV | BPF_X, 0, tmp(g), 0, 0));
	emit(g, I(BPF_ALU | BPF_AND | BPF_K, 0, 0, 0, 3));	/* an XDP action */
	emit(g, I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	gen_subs(g);
}

/* ---- Program BTF ---- */

/*
 * The kernel wants func_info (BTF) for programs with callbacks; every generated program
 * gets one record per function: the static FUNC "f" returning int, or the global "g"
 * taking a pointer to 8 bytes:
 * [1] int, [2] FUNC_PROTO int(void), [3] FUNC f, [4] long, [5] long *,
 * [6] FUNC_PROTO int(long *p), [7] FUNC g (global).
 */
static size_t btf_blob(uint8_t *out)
{
	static const char strs[] = "\0int\0f\0long\0p\0g";
	static const uint32_t types[] = {
		1, BTF_KIND_INT << 24, 4, 32 | (BTF_INT_SIGNED << 24),	/* [1] int */
		0, BTF_KIND_FUNC_PROTO << 24, 1,			/* [2] int (void) */
		5, BTF_KIND_FUNC << 24, 2,				/* [3] static f */
		7, BTF_KIND_INT << 24, 8, 64 | (BTF_INT_SIGNED << 24),	/* [4] long */
		0, BTF_KIND_PTR << 24, 4,				/* [5] long * */
		0, (BTF_KIND_FUNC_PROTO << 24) | 1, 1, 12, 5,		/* [6] int (long *p) */
		14, (BTF_KIND_FUNC << 24) | BTF_FUNC_GLOBAL, 6,		/* [7] global g */
	};
	struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(h),
				.type_len = sizeof(types), .str_off = sizeof(types),
				.str_len = sizeof(strs) };
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), types, sizeof(types));
	memcpy(out + sizeof(h) + sizeof(types), strs, sizeof(strs));
	return sizeof(h) + sizeof(types) + sizeof(strs);
}

/* The BTF loaded into uebpf (kernel 0) or the kernel (1); -1 on failure. */
static int btf_fd(int kernel)
{
	uint8_t raw[256];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.btf = (uintptr_t)raw;
	a.btf_size = (uint32_t)btf_blob(raw);
	return kd_bpf(kernel, BPF_BTF_LOAD, &a);
}

static int ubtf = -1;

/* ---- Runs ---- */

/* VSOUND_SAVE=<file>: appends each program as "<n> 6 <hex> 6" (XDP, map fd in insn 6),
 * the input of a script that compares the two verifiers' logs line by line. */
static void save(const struct gen *g, unsigned n)
{
	const char *path = getenv("VSOUND_SAVE");
	FILE *f = path ? fopen(path, "a") : NULL;

	if (!f)
		return;
	fprintf(f, "%u 6 ", n);
	for (size_t i = 0; i < g->n * sizeof(g->p[0]); i++)
		fprintf(f, "%02x", ((const uint8_t *)g->p)[i]);
	fprintf(f, " 6\n");
	fclose(f);
}

/* VSOUND_LOGLEVEL=2 for uebpf's every-instruction log in what VSOUND_LOGS shows. */
static uint32_t env_level(void)
{
	const char *v = getenv("VSOUND_LOGLEVEL");
	return v ? (uint32_t)atoi(v) : 1;
}

static int load(const struct gen *g, uint32_t flags, char *log, size_t log_size)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o, .prog_flags = flags, .log_buf = log,
		    .log_size = (uint32_t)log_size, .log_level = log ? env_level() : 0);
	if (ubtf >= 0 && !g->mutated) {	/* mutated programs: func_info may not match any more */
		o.prog_btf_fd = (uint32_t)ubtf;
		o.func_info = g->fi;
		o.func_info_cnt = g->nfi;
		o.func_info_rec_size = sizeof(g->fi[0]);
	}
	if (log)
		log[0] = 0;
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "s", "GPL", g->p, g->n, &o);
}

static void reset_map(int map)
{
	uint8_t v[VALUE_SIZE];
	uint32_t k = 0;
	for (int i = 0; i < VALUE_SIZE; i++)
		v[i] = (uint8_t)(i * 7);
	bpf_map_update_elem(map, &k, v, BPF_ANY);
}

static int run(int fd, int map, const uint8_t *pkt, uint32_t len, uint32_t *retval)
{
	uint8_t out[256];
	reset_map(map);
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &t);
	*retval = t.retval;
	return err;
}

static void dump(const struct gen *g)
{
	char text[128];
	for (size_t i = 0; i < g->n; i++) {
		if (uebpf_disasm_insn(g->p, g->n, i, UEBPF_SYNTAX_LLVM, text, sizeof(text)) < 0)
			snprintf(text, sizeof(text), "?");
		fprintf(stderr, "    %3zu: %s\n", i, text);
		if (g->p[i].code == (BPF_LD | BPF_IMM | BPF_DW))
			i++;
	}
}

/* Packet bytes: random, or 8-byte words near the edges the gadgets compare against. */
static void fill_packet(struct gen *r, uint8_t *pkt, uint32_t len)
{
	for (uint32_t j = 0; j < len; j += 8) {
		int64_t w;
		switch (pick(r, 6)) {
		case 0: w = 0; break;
		case 1: w = -1 - (int64_t)pick(r, 3); break;
		case 2: w = small(r, -2, VALUE_SIZE + 8); break;
		case 3: w = (int64_t)0x7fffffff + small(r, -2, 2); break;
		default: w = (int64_t)rnd(r); break;
		}
		if (pick(r, 2))	/* the same value in the first 4, 2 or 1 bytes, little end first */
			w = (int64_t)(((uint64_t)w << (8 * pick(r, 4))));
		memcpy(pkt + j, &w, len - j < 8 ? len - j : 8);
	}
}

/* A verified program that never finishes (the fast run has no budget) is a verifier
 * bug too: a watchdog names it and stops the test. */
#define WATCHDOG_S 60
static const struct gen *running;

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "  UNSOUND: an accepted program still runs after %d s (a loop the verifier "
		"should have refused)\n", WATCHDOG_S);
	if (running)
		dump(running);
	_exit(1);
}

/* Runs an accepted program checked and fast on a few packets; 0 if all is well. */
static int check_sound(const struct gen *g, int fast_fd, int map, struct gen *r)
{
	int checked = load(g, UEBPF_F_PROG_UNVERIFIED, NULL, 0);
	int bad = 0;


	if (checked < 0) {
		/* unreached garbage is fine to the verifier (the loader traps it), not to the
		 * static validation of an unverified load: only generated programs must load */
		UT_CHECK(g->mutated, "the accepted program does not load unverified: %d", checked);
		return -1;
	}
	running = g;
	signal(SIGALRM, on_alarm);
	alarm(WATCHDOG_S);
	for (int i = 0; i < 8 && !bad; i++) {
		uint8_t pkt[128];
		uint32_t len = 14 + pick(r, 100), rc, rf;
		fill_packet(r, pkt, len);
		int ec = run(checked, map, pkt, len, &rc);
		int ef = run(fast_fd, map, pkt, len, &rf);
		if (ec) {
			UT_CHECK(0, "UNSOUND: accepted, but a checked run faults (%d): %s", ec,
				 uebpf_last_error());
			bad = 1;
		} else if (ef || (rc != rf && !g->random && !g->mutated)) {
			/* (a mutated program may return a pointer's low bits, when a mutation
			 * removed a gadget's reset: only faults count for those) */
			UT_CHECK(0, "checked and verified runs differ: %d/%u vs %d/%u", ec, rc, ef, rf);
			bad = 1;
		}
	}
	alarm(0);
	close(checked);
	if (bad)
		dump(g);
	return bad ? -1 : 0;
}

/* ---- The kernel ---- */

static int kern_map(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = VALUE_SIZE;
	a.max_entries = 1;
	return (int)kd_sys_bpf(BPF_MAP_CREATE, &a);
}

/* 1 accept, 0 reject, -1 no kernel. */
static int kern_verdict(struct gen *g, int kmap, int umap, char *log, size_t log_size)
{
	static int kbtf = -2;
	union bpf_attr a;
	if (kbtf == -2)
		kbtf = btf_fd(1);
	for (size_t i = 0; i < g->n; i++)
		if (g->p[i].code == (BPF_LD | BPF_IMM | BPF_DW) && g->p[i].src_reg == BPF_PSEUDO_MAP_FD)
			g->p[i].imm = kmap;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)g->p;
	a.insn_cnt = (uint32_t)g->n;
	a.license = (uintptr_t)"GPL";
	a.log_level = 1;
	a.log_buf = (uintptr_t)log;
	a.log_size = (uint32_t)log_size;
	if (kbtf >= 0) {
		a.prog_btf_fd = (uint32_t)kbtf;
		a.func_info = (uintptr_t)g->fi;
		a.func_info_cnt = g->nfi;
		a.func_info_rec_size = sizeof(g->fi[0]);
	}
	log[0] = 0;
	int fd = (int)kd_sys_bpf(BPF_PROG_LOAD, &a);
	int e = errno;
	for (size_t i = 0; i < g->n; i++)
		if (g->p[i].code == (BPF_LD | BPF_IMM | BPF_DW) && g->p[i].src_reg == BPF_PSEUDO_MAP_FD)
			g->p[i].imm = umap;
	if (fd >= 0)
		close(fd);
	return fd >= 0 ? 1 : e == EPERM || e == ENOSYS ? -1 : 0;
}

/* The most common rejection reasons, to see what the generator keeps tripping on. */
#define MAX_REASONS 24
struct reasons {
	char text[MAX_REASONS][80];
	unsigned count[MAX_REASONS], n, other;
};

static void tally(struct reasons *rs, const char *why)
{
	char key[80];
	snprintf(key, sizeof(key), "%s", why);
	for (char *d = key; *d; d++)	/* register numbers and offsets vary: fold digits */
		if (*d >= '0' && *d <= '9')
			*d = '#';
	for (unsigned i = 0; i < rs->n; i++)
		if (!strcmp(rs->text[i], key)) {
			rs->count[i]++;
			return;
		}
	if (rs->n == MAX_REASONS) {
		rs->other++;
		return;
	}
	memcpy(rs->text[rs->n], key, sizeof(key));
	rs->count[rs->n++] = 1;
}

static unsigned env_num(const char *name, unsigned def)
{
	const char *v = getenv(name);
	return v ? (unsigned)strtoul(v, NULL, 0) : def;
}

UT_TEST(random_programs_are_sound)
{
	unsigned n = env_num("VSOUND_N", 1000), show = env_num("VSOUND_SHOW", 3);
	uint64_t seed = getenv("VSOUND_SEED") ? strtoull(getenv("VSOUND_SEED"), NULL, 0)
					      : (uint64_t)time(NULL) * 2654435761u;
	int umap = bpf_map_create(BPF_MAP_TYPE_ARRAY, "v", 4, VALUE_SIZE, 1, NULL);
	int kmap = env_num("VSOUND_KERNEL", 1) ? kern_map() : -1;
	static char ulog[1 << 16], klog[1 << 16];
	struct gen *g = calloc(1, sizeof(*g)), *r = calloc(1, sizeof(*r));
	unsigned accepted = 0, agree = 0, compared = 0, ub_only = 0, k_only = 0;
	struct reasons rs = { .n = 0 };

	UT_CHECK(umap >= 0 && g && r, "setup");
	if (ubtf < 0)
		ubtf = btf_fd(0);
	fprintf(stderr, "  seed 0x%llx, %u programs\n", (unsigned long long)seed, n);
	g->rng = seed | 1;
	r->rng = (seed ^ 0x9e3779b97f4a7c15ull) | 1;
	for (unsigned i = 0; i < n && umap >= 0 && g && r; i++) {
		generate(g, umap);
		save(g, i);
		int fd = load(g, 0, ulog, sizeof(ulog));
		if (fd >= 0) {
			accepted++;
			check_sound(g, fd, umap, r);
			close(fd);
		} else {
			tally(&rs, kd_last_line(ulog));
		}
		int kv = kmap >= 0 ? kern_verdict(g, kmap, umap, klog, sizeof(klog)) : -1;
		if (kv < 0)
			continue;
		compared++;
		if (kv == (fd >= 0)) {
			agree++;
			continue;
		}
		fd >= 0 ? ub_only++ : k_only++;
		if (show && show--) {
			fprintf(stderr, "  verdicts differ (uebpf %s): uebpf '%s', kernel '%s'\n",
				fd >= 0 ? "accepts" : "rejects", kd_last_line(ulog), kd_last_line(klog));
			dump(g);
			if (getenv("VSOUND_LOGS"))
				fprintf(stderr, "---- uebpf log\n%s---- kernel log\n%s----\n", ulog, klog);
		}
	}
	fprintf(stderr, "  %u accepted by uebpf and run checked and fast without a fault\n", accepted);
	for (unsigned i = 0; i < rs.n; i++)
		fprintf(stderr, "  rejected %4u: %s\n", rs.count[i], rs.text[i]);
	if (compared)
		fprintf(stderr, "  kernel: %u of %u verdicts agree (uebpf only accepts %u, only the kernel %u)\n",
			agree, compared, ub_only, k_only);
	else
		fprintf(stderr, "  kernel: not compared (bpf() refused or VSOUND_KERNEL=0)\n");
	if (kmap >= 0)
		close(kmap);
	if (umap >= 0)
		close(umap);
	free(g);
	free(r);
}

/*
 * The verifier meets raw bytecode first: random and mutated programs must be refused or
 * accepted without a crash (the sanitizer build makes this a memory-safety test), and
 * what it accepts must run checked without a fault.
 */
UT_TEST(mutated_programs_never_crash)
{
	unsigned n = env_num("VSOUND_N", 1000);
	uint64_t seed = getenv("VSOUND_SEED") ? strtoull(getenv("VSOUND_SEED"), NULL, 0)
					      : (uint64_t)time(NULL) * 40503u;
	int umap = bpf_map_create(BPF_MAP_TYPE_ARRAY, "v", 4, VALUE_SIZE, 1, NULL);
	struct gen *g = calloc(1, sizeof(*g)), *r = calloc(1, sizeof(*r));
	static char log[1 << 14];
	unsigned accepted = 0;

	UT_CHECK(umap >= 0 && g && r, "setup");
	g->rng = seed | 1;
	r->rng = (seed ^ 0x5bd1e995u) | 1;
	for (unsigned i = 0; i < n && umap >= 0 && g && r; i++) {
		generate(g, umap);
		uint8_t *bytes = (uint8_t *)g->p;
		g->mutated = 1;
		unsigned flips = 1 + pick(r, 4);
		for (unsigned f = 0; f < flips; f++) {
			size_t at = pick(r, (unsigned)(g->n * sizeof(g->p[0])));
			bytes[at] = pick(r, 3) ? (uint8_t)rnd(r) : (uint8_t)(bytes[at] ^ (1u << pick(r, 8)));
		}
		if (!pick(r, 8))	/* now and then, an instruction of pure noise */
			memcpy(&g->p[pick(r, (unsigned)g->n)], &(uint64_t){ rnd(r) }, 8);
		int fd = load(g, 0, log, sizeof(log));
		if (fd < 0)
			continue;
		accepted++;
		check_sound(g, fd, umap, r);
		close(fd);
	}
	fprintf(stderr, "  %u of %u mutated programs accepted, and ran without a fault\n", accepted, n);
	if (umap >= 0)
		close(umap);
	free(g);
	free(r);
}
