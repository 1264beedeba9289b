/*
 * The interpreter, through the public API, on what the conformance suite does not cover:
 * lddw pseudo forms, LD_ABS/LD_IND, local calls and callx, the call depth limit, the
 * instruction budget, checked-mode memory faults, division and shift corner cases, sign
 * extension, byte swaps, 32-bit atomics, helper tables, and the fast path.
 *
 * Every expected value is worked out by hand from RFC 9669 and the Linux kernel's rules
 * (the comment next to it says how). Value tests run three ways: checked mode through
 * uebpf_prog_run_opts, trusted mode through uebpf_prog_run_opts, and trusted mode through
 * uebpf_prog_run (the fast path); all three must agree.
 *
 * UEBPF_TEST_ENGINE=jit runs the same tests through the JIT.
 */
#include <errno.h>
#include <stdlib.h>
#include <uebpf/uebpf.h>
#include "ut.h"

#ifndef BPF_MEMSX
#define BPF_MEMSX 0x80
#endif

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })
#define ALU64_K(op, d, v)	I(BPF_ALU64 | BPF_##op | BPF_K, d, 0, 0, v)
#define ALU64_X(op, d, s)	I(BPF_ALU64 | BPF_##op | BPF_X, d, s, 0, 0)
#define ALU32_K(op, d, v)	I(BPF_ALU | BPF_##op | BPF_K, d, 0, 0, v)
#define ALU32_X(op, d, s)	I(BPF_ALU | BPF_##op | BPF_X, d, s, 0, 0)
/* sdiv / smod: DIV / MOD with off = 1 */
#define SALU64_K(op, d, v)	I(BPF_ALU64 | BPF_##op | BPF_K, d, 0, 1, v)
#define SALU64_X(op, d, s)	I(BPF_ALU64 | BPF_##op | BPF_X, d, s, 1, 0)
#define SALU32_K(op, d, v)	I(BPF_ALU | BPF_##op | BPF_K, d, 0, 1, v)
#define SALU32_X(op, d, s)	I(BPF_ALU | BPF_##op | BPF_X, d, s, 1, 0)
#define NEG64(d)		I(BPF_ALU64 | BPF_NEG, d, 0, 0, 0)
#define NEG32(d)		I(BPF_ALU | BPF_NEG, d, 0, 0, 0)
#define MOV64_K(d, v)		ALU64_K(MOV, d, v)
#define MOV64_X(d, s)		ALU64_X(MOV, d, s)
/* movsx: MOV X with the source width in off */
#define MOVSX64(d, s, bits)	I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, bits, 0)
#define MOVSX32(d, s, bits)	I(BPF_ALU | BPF_MOV | BPF_X, d, s, bits, 0)
#define ENDIAN(cls, dir, d, bits) I((cls) | BPF_END | (dir), d, 0, 0, bits)
#define LDDW_SRC(d, src, lo, hi) I(BPF_LD | BPF_IMM | BPF_DW, d, src, 0, lo), I(0, 0, 0, 0, hi)
#define LDDW(d, v)		LDDW_SRC(d, 0, (int32_t)(uint32_t)(uint64_t)(v), \
					 (int32_t)(uint32_t)((uint64_t)(v) >> 32))
#define LDX(sz, d, s, o)	I(BPF_LDX | BPF_MEM | BPF_##sz, d, s, o, 0)
#define LDXS(sz, d, s, o)	I(BPF_LDX | BPF_MEMSX | BPF_##sz, d, s, o, 0)
#define STX(sz, d, s, o)	I(BPF_STX | BPF_MEM | BPF_##sz, d, s, o, 0)
#define ST(sz, d, o, v)		I(BPF_ST | BPF_MEM | BPF_##sz, d, 0, o, v)
#define ATOMIC(sz, d, s, o, op)	I(BPF_STX | BPF_ATOMIC | BPF_##sz, d, s, o, op)
#define JA(o)			I(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define JMP_K(op, d, v, o)	I(BPF_JMP | BPF_##op | BPF_K, d, 0, o, v)
#define JMP32_K(op, d, v, o)	I(BPF_JMP32 | BPF_##op | BPF_K, d, 0, o, v)
#define CALL(id)		I(BPF_JMP | BPF_CALL, 0, 0, 0, id)
#define CALL_LOCAL(rel)		I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, rel)
#define CALL_KFUNC(id)		I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, id)
#define CALLX(r)		I(BPF_JMP | BPF_CALL | BPF_X, r, 0, 0, 0)
#define EXIT			I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LD_ABS(sz, v)		I(BPF_LD | BPF_ABS | BPF_##sz, 0, 0, 0, v)
#define LD_IND(sz, s, v)	I(BPF_LD | BPF_IND | BPF_##sz, 0, s, 0, v)

/* ---- Running programs ---- */

struct cfg {
	uint32_t flags;			/* 0: UEBPF_PROG_F_CHECKED */
	uint64_t budget;
	const struct uebpf_helper *helpers;
	size_t helper_cnt;
	void *ctx;
	size_t ctx_size;
	void *data;
	size_t data_size;
	size_t prog_ctx_size;		/* uebpf_prog_opts.ctx_size (the fast path's bounds) */
	int fast;			/* run with uebpf_prog_run instead of _run_opts */
};

struct res {
	int load;			/* uebpf_prog_new */
	int run;			/* uebpf_prog_run_opts (0 for the fast path) */
	uint64_t r0;
	char log[2048];
	char err[512];
};

static enum uebpf_engine engine(void)
{
	const char *e = getenv("UEBPF_TEST_ENGINE");
	return e && !strcmp(e, "jit") ? UEBPF_ENGINE_JIT : UEBPF_ENGINE_INTERP;
}

static struct res run_cfg(const struct bpf_insn *p, size_t n, struct cfg c)
{
	struct res r = { .load = -1, .run = -1 };
	struct uebpf_prog_opts po = { .sz = sizeof(po), .engine = engine(),
				      .flags = c.flags ? c.flags : UEBPF_PROG_F_CHECKED,
				      .insn_budget = c.budget, .helpers = c.helpers,
				      .helper_cnt = c.helper_cnt, .log_buf = r.log,
				      .log_size = sizeof(r.log), .ctx_size = c.prog_ctx_size };
	struct uebpf_prog *prog = NULL;

	r.load = uebpf_prog_new(p, n, &po, &prog);
	if (r.load)
		return r;
	if (c.fast) {
		r.r0 = uebpf_prog_run(prog, c.ctx);
		r.run = 0;
	} else {
		struct uebpf_run_opts ro = { .sz = sizeof(ro), .ctx = c.ctx, .ctx_size = c.ctx_size,
					     .data = c.data, .data_size = c.data_size,
					     .err_buf = r.err, .err_size = sizeof(r.err) };
		r.run = uebpf_prog_run_opts(prog, &ro);
		r.r0 = ro.retval;
	}
	uebpf_prog_free(prog);
	return r;
}

#define RUN(p, ...) run_cfg((p), N(p), (struct cfg){ __VA_ARGS__ })

static const char *const mode_name[3] = { "checked", "trusted", "trusted fast path" };

/* Checked, trusted, and trusted through uebpf_prog_run: each must load, run and give want. */
static void expect_r0_at(const struct bpf_insn *p, size_t n, struct cfg c, uint64_t want,
			 const char *what, int line)
{
	for (int m = 0; m < 3; m++) {
		struct cfg cm = c;
		cm.flags = m ? UEBPF_PROG_F_TRUSTED : UEBPF_PROG_F_CHECKED;
		cm.fast = m == 2;
		if (cm.fast && c.data && c.ctx)
			continue;	/* the fast path has no separate packet */
		if (cm.fast && c.data) {	/* ... so the packet goes in as the context */
			cm.ctx = c.data;
			cm.ctx_size = c.data_size;
		}
		if (cm.fast && !cm.prog_ctx_size)
			cm.prog_ctx_size = cm.ctx_size;
		struct res r = run_cfg(p, n, cm);
		if (r.load || r.run || r.r0 != want)
			ut_fail(__FILE__, line, "%s (%s): load %d, run %d, r0 0x%" PRIx64
				", want 0x%" PRIx64 " %s%s", what, mode_name[m], r.load, r.run,
				r.r0, want, r.log, r.err);
	}
}

#define EXPECT_R0(p, want, ...) \
	expect_r0_at((p), N(p), (struct cfg){ __VA_ARGS__ }, (want), #p, __LINE__)

/* A run that must stop with err (checked mode), its message containing each of msgs. */
static void expect_fault_at(struct res r, int err, const char *const *msgs, int line)
{
	if (r.load || r.run != err)
		ut_fail(__FILE__, line, "load %d, run %d (want %d), r0 0x%" PRIx64 ": %s%s",
			r.load, r.run, err, r.r0, r.log, r.err);
	for (; *msgs; msgs++)
		if (!strstr(r.err, *msgs))
			ut_fail(__FILE__, line, "fault message '%s' lacks '%s'", r.err, *msgs);
}

#define EXPECT_FAULT(res, err, ...) \
	expect_fault_at((res), (err), (const char *const[]){ __VA_ARGS__, NULL }, __LINE__)

/* A program uebpf_prog_new must refuse with err and a log naming the reason. */
static void expect_refused_at(struct res r, int err, const char *const *msgs, int line)
{
	if (r.load != err)
		ut_fail(__FILE__, line, "load %d, want %d: %s", r.load, err, r.log);
	for (; *msgs; msgs++)
		if (!strstr(r.log, *msgs))
			ut_fail(__FILE__, line, "load log '%s' lacks '%s'", r.log, *msgs);
}

#define EXPECT_REFUSED(res, err, ...) \
	expect_refused_at((res), (err), (const char *const[]){ __VA_ARGS__, NULL }, __LINE__)

/* ---- lddw and its pseudo sources ---- */

UT_TEST(lddw_imm64)
{
	/* src 0: dst = (u64)(u32)insn[0].imm | (u64)(u32)insn[1].imm << 32 */
	struct bpf_insn a[] = { LDDW(0, 0x1122334455667788ull), EXIT };
	/* The low half is not sign-extended: 0x89abcdef has bit 31 set, the high half is 0. */
	struct bpf_insn b[] = { LDDW(0, 0x0000000089abcdefull), EXIT };
	struct bpf_insn c[] = { LDDW(0, 0xfedcba9800000000ull), EXIT };

	EXPECT_R0(a, 0x1122334455667788ull);
	EXPECT_R0(b, 0x89abcdefull);
	EXPECT_R0(c, 0xfedcba9800000000ull);
}

UT_TEST(lddw_loader_forms_are_raw_imm64_today)
{
	/*
	 * src 1 (map fd), 2 (map value), 3 (btf id), 5 (map index), 6 (map index value) name
	 * objects that a loader (bpf_prog_load, the ELF loader) resolves to addresses before
	 * the program runs. uebpf_prog_new has no loader step: it accepts the forms and the
	 * interpreter loads the raw 64-bit immediate, 0x5678 << 32 | 0x1234 here.
	 */
	static const uint8_t srcs[] = { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_BTF_ID,
					BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE };
	for (size_t k = 0; k < N(srcs); k++) {
		struct bpf_insn p[] = { LDDW_SRC(0, srcs[k], 0x1234, 0x5678), EXIT };
		char what[32];
		snprintf(what, sizeof(what), "lddw src %u", srcs[k]);
		expect_r0_at(p, N(p), (struct cfg){ 0 }, 0x0000567800001234ull, what, __LINE__);
	}
}

UT_TEST(lddw_func_and_callx)
{
	/*
	 * src 4 (BPF_PSEUDO_FUNC): dst = the function at insn index i + imm + 1, an opaque
	 * value that callx calls like a local call: 41 + 1 = 42, and r6 (callee-saved) keeps
	 * the caller's 5 although the function sets it to 99: 42 + 5 = 47.
	 */
	struct bpf_insn p[] = {
		LDDW_SRC(1, BPF_PSEUDO_FUNC, 6, 0),	/* 0: fn at 0 + 6 + 1 = 7 */
		MOV64_K(6, 5),				/* 2 */
		CALLX(1),				/* 3 */
		ALU64_K(ADD, 0, 1),			/* 4 */
		ALU64_X(ADD, 0, 6),			/* 5 */
		EXIT,					/* 6 */
		MOV64_K(0, 41),				/* 7: fn */
		MOV64_K(6, 99),				/* 8 */
		EXIT,					/* 9 */
	};
	EXPECT_R0(p, 47);

	/* The value can be passed to a subprogram, which calls it: 41 + 1 = 42 again. */
	struct bpf_insn q[] = {
		LDDW_SRC(1, BPF_PSEUDO_FUNC, 6, 0),	/* 0: fn at 7 */
		CALL_LOCAL(2),				/* 2: sub at 5 */
		ALU64_K(ADD, 0, 1),			/* 3 */
		EXIT,					/* 4 */
		CALLX(1),				/* 5: sub: calls r1 */
		EXIT,					/* 6 */
		MOV64_K(0, 41),				/* 7: fn */
		EXIT,					/* 8 */
	};
	EXPECT_R0(q, 42);

	/* A function value's second half carries nothing: a non-zero imm there is refused. */
	struct bpf_insn bad[] = { LDDW_SRC(1, BPF_PSEUDO_FUNC, 1, 7), EXIT, EXIT };
	EXPECT_REFUSED(RUN(bad), -EINVAL, "insn 0", "second half imm must be zero");
}

/* ---- LD_ABS / LD_IND ---- */

static uint8_t pkt[8] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0 };

#define EXPECT_PKT(p, want) EXPECT_R0(p, want, .data = pkt, .data_size = sizeof(pkt))

UT_TEST(ld_abs_ind_read_network_order)
{
	/* r0 = the packet's bytes at the offset, most significant first (ntohs/ntohl). */
	struct bpf_insn b[] = { MOV64_K(0, -1), LD_ABS(B, 1), EXIT };	/* r0 fully replaced */
	struct bpf_insn h[] = { LD_ABS(H, 2), EXIT };
	struct bpf_insn w[] = { LD_ABS(W, 4), EXIT };
	struct bpf_insn last_h[] = { LD_ABS(H, 6), EXIT };	/* bytes 6..7: the last two */
	struct bpf_insn last_b[] = { LD_ABS(B, 7), EXIT };
	EXPECT_PKT(b, 0x34);
	EXPECT_PKT(h, 0x5678);
	EXPECT_PKT(w, 0x9abcdef0);
	EXPECT_PKT(last_h, 0xdef0);
	EXPECT_PKT(last_b, 0xf0);

	/* LD_IND: offset = (s32)(src + imm): 3 + 1 = 4 */
	struct bpf_insn ib[] = { MOV64_K(2, 3), LD_IND(B, 2, 1), EXIT };
	/* -2 + 4 = 2: the sum is taken in 32 bits */
	struct bpf_insn ih[] = { MOV64_K(2, -2), LD_IND(H, 2, 4), EXIT };
	/* only the low 32 bits of src count: 0x1_00000001 gives offset 1 */
	struct bpf_insn iu[] = { LDDW(2, 0x100000001ull), LD_IND(B, 2, 0), EXIT };
	EXPECT_PKT(ib, 0x9a);
	EXPECT_PKT(ih, 0x5678);
	EXPECT_PKT(iu, 0x34);
}

UT_TEST(ld_abs_out_of_bounds_ends_program)
{
	/* Out of bounds, the kernel's packet load helpers make the program return 0 at once:
	 * neither 77 (set before) nor 99 (set after) comes back, and the run succeeds. */
	struct bpf_insn w[] = { MOV64_K(0, 77), LD_ABS(W, 5), MOV64_K(0, 99), EXIT };
	struct bpf_insn b[] = { MOV64_K(0, 77), LD_ABS(B, 8), MOV64_K(0, 99), EXIT };
	/* LD_IND with a negative offset: -1 + 0 */
	struct bpf_insn neg[] = { MOV64_K(0, 77), MOV64_K(2, -1), LD_IND(W, 2, 0), MOV64_K(0, 99),
				  EXIT };
	/* 1 + 0x7fffffff = 0x80000000, negative as s32 */
	struct bpf_insn wrap[] = { MOV64_K(0, 77), MOV64_K(2, 1), LD_IND(B, 2, 0x7fffffff),
				   MOV64_K(0, 99), EXIT };
	EXPECT_PKT(w, 0);
	EXPECT_PKT(b, 0);
	EXPECT_PKT(neg, 0);
	EXPECT_PKT(wrap, 0);

	/*
	 * The kernel's rule, which uebpf follows: bpf_gen_ld_abs() (net/core/filter.c)
	 * rewrites LD_ABS/IND into a helper call and "if r0 s>= 0 goto +2; w0 ^= w0; exit",
	 * an exit of the CURRENT function, so an out-of-bounds load returns 0 from the
	 * subprogram and main goes on (returning 99 here); that is why its verifier demands
	 * that subprograms with LD_ABS return int.
	 */
	struct bpf_insn sub[] = {
		MOV64_K(0, 5),		/* 0 */
		CALL_LOCAL(2),		/* 1: sub at 4 */
		MOV64_K(0, 99),		/* 2 */
		EXIT,			/* 3 */
		LD_ABS(B, 100),		/* 4: sub */
		MOV64_K(0, 7),		/* 5 */
		EXIT,			/* 6 */
	};
	EXPECT_PKT(sub, 99);
}

UT_TEST(ld_abs_packet_defaults_to_ctx)
{
	/* data NULL: the packet is the context (r1), with ctx_size bytes. */
	uint8_t ctx[8];
	memcpy(ctx, pkt, sizeof(ctx));
	struct bpf_insn h[] = { LD_ABS(H, 0), EXIT };
	struct bpf_insn oob[] = { MOV64_K(0, 1), LD_ABS(B, 8), EXIT };
	EXPECT_R0(h, 0x1234, .ctx = ctx, .ctx_size = sizeof(ctx));
	EXPECT_R0(oob, 0, .ctx = ctx, .ctx_size = sizeof(ctx));

	/* With both, data is the packet: 0x12 from pkt, not 0xaa from the context. */
	uint8_t other[4] = { 0xaa, 0xbb, 0xcc, 0xdd };
	struct bpf_insn b[] = { LD_ABS(B, 0), EXIT };
	struct res r = RUN(b, .ctx = other, .ctx_size = sizeof(other), .data = pkt,
			   .data_size = sizeof(pkt));
	UT_CHECK_EQ(r.run, 0);
	UT_CHECK_EQ(r.r0, 0x12);
}

/* ---- Local calls ---- */

UT_TEST(local_call_args_and_callee_saved)
{
	/*
	 * r1-r5 carry arguments (3 * 4 = 12 comes back in r0); r6-r9 are the caller's after
	 * the call although the callee sets them to 100: 12 + 6 + 7 + 8 + 9 = 42 (412 if
	 * they leaked).
	 */
	struct bpf_insn p[] = {
		MOV64_K(6, 6), MOV64_K(7, 7), MOV64_K(8, 8), MOV64_K(9, 9),	/* 0-3 */
		MOV64_K(1, 3), MOV64_K(2, 4),					/* 4-5 */
		CALL_LOCAL(5),							/* 6: 12 */
		ALU64_X(ADD, 0, 6), ALU64_X(ADD, 0, 7),				/* 7-8 */
		ALU64_X(ADD, 0, 8), ALU64_X(ADD, 0, 9),				/* 9-10 */
		EXIT,								/* 11 */
		MOV64_X(0, 1), ALU64_X(MUL, 0, 2),				/* 12-13 */
		MOV64_K(6, 100), MOV64_K(7, 100), MOV64_K(8, 100), MOV64_K(9, 100),
		EXIT,
	};
	EXPECT_R0(p, 42);
}

UT_TEST(local_call_gets_its_own_stack_frame)
{
	/*
	 * The callee's r10 is a fresh 512-byte frame: it writes r10-8 and r10-512 of its own
	 * frame without touching the caller's, reads the caller's slot through a pointer the
	 * caller passed, and r10 is the caller's again after the return.
	 * out[0] = 0x1111 << 16 | 0x2222 (caller's slot via r1, then the callee's own slot)
	 * out[1] = 0x1111, out[2] = 0x3333 (the caller's slots after the call)
	 * out[3] = 0 (r10 after the call minus r10 before)
	 */
	struct bpf_insn p[] = {
		MOV64_X(6, 1),			/* 0: r6 = out */
		ST(DW, 10, -8, 0x1111),		/* 1 */
		ST(DW, 10, -512, 0x3333),	/* 2 */
		MOV64_X(7, 10),			/* 3 */
		MOV64_X(1, 10),			/* 4 */
		ALU64_K(ADD, 1, -8),		/* 5: r1 = &caller's slot */
		CALL_LOCAL(10),			/* 6: callee at 17 */
		STX(DW, 6, 0, 0),		/* 7 */
		LDX(DW, 2, 10, -8),		/* 8 */
		STX(DW, 6, 2, 8),		/* 9 */
		LDX(DW, 2, 10, -512),		/* 10 */
		STX(DW, 6, 2, 16),		/* 11 */
		MOV64_X(2, 10),			/* 12 */
		ALU64_X(SUB, 2, 7),		/* 13 */
		STX(DW, 6, 2, 24),		/* 14 */
		MOV64_K(0, 0),			/* 15 */
		EXIT,				/* 16 */
		ST(DW, 10, -8, 0x2222),		/* 17: callee */
		ST(DW, 10, -512, 0x4444),	/* 18 */
		LDX(DW, 0, 1, 0),		/* 19: 0x1111 through the pointer */
		LDX(DW, 2, 10, -8),		/* 20: 0x2222 */
		ALU64_K(LSH, 0, 16),		/* 21 */
		ALU64_X(OR, 0, 2),		/* 22 */
		EXIT,				/* 23 */
	};
	for (int m = 0; m < 2; m++) {
		uint64_t out[4] = { 0 };
		struct res r = RUN(p, .ctx = out, .ctx_size = sizeof(out),
				   .flags = m ? UEBPF_PROG_F_TRUSTED : 0);
		UT_CHECK(r.load == 0 && r.run == 0, "%s: %d %d %s%s", mode_name[m], r.load, r.run,
			 r.log, r.err);
		UT_CHECK_EQ(out[0], 0x11112222);
		UT_CHECK_EQ(out[1], 0x1111);
		UT_CHECK_EQ(out[2], 0x3333);
		UT_CHECK_EQ(out[3], 0);
	}
}

/*
 * A chain of `calls` nested local calls: f0 (main) calls f1 ... calls f<calls>, which
 * returns 0; each f<k> adds 1 on the way back, so r0 = calls. f<k> is at index 3k:
 * [3k] call +2 (to 3k+3), [3k+1] r0 += 1, [3k+2] exit; f<calls> is mov r0, 0; exit.
 */
static struct bpf_insn *call_chain(int calls, size_t *n)
{
	struct bpf_insn *p = calloc((size_t)calls * 3 + 2, sizeof(*p));

	for (int k = 0; k < calls; k++) {
		p[3 * k] = CALL_LOCAL(2);
		p[3 * k + 1] = ALU64_K(ADD, 0, 1);
		p[3 * k + 2] = EXIT;
	}
	p[3 * calls] = MOV64_K(0, 0);
	p[3 * calls + 1] = EXIT;
	*n = (size_t)calls * 3 + 2;
	return p;
}

UT_TEST(call_depth_limit)
{
	/*
	 * The kernel's rule: MAX_CALL_FRAMES is 8 and counts the main program's frame
	 * (frame 0); check_func_call() refuses a call when curframe + 1 >= MAX_CALL_FRAMES
	 * ("the call stack of 9 frames is too deep"). So 7 nested calls (8 frames) work and
	 * the 8th nested call (a 9th frame) is refused. Unverified programs meet the same
	 * limit at run time: the call at f7 (index 21) stops the run with -E2BIG.
	 */
	size_t n;
	struct bpf_insn *ok = call_chain(7, &n);
	expect_r0_at(ok, n, (struct cfg){ 0 }, 7, "7 nested calls", __LINE__);
	free(ok);

	struct bpf_insn *deep = call_chain(8, &n);
	for (int m = 0; m < 2; m++) {
		struct res r = run_cfg(deep, n, (struct cfg){
			.flags = m ? UEBPF_PROG_F_TRUSTED : UEBPF_PROG_F_CHECKED });
		EXPECT_FAULT(r, -E2BIG, "insn 21", "call stack too deep", "8 frames");
	}
	free(deep);
}

/* ---- callx ---- */

static uint64_t h_add(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return a + b;
}

static uint64_t h_digits(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return a + 10 * b + 100 * c + 1000 * d + 10000 * e;
}

static const struct uebpf_helper helpers[] = {
	{ .id = 1, .name = "digits", .fn = h_digits },
	{ .id = 5, .name = "add", .fn = h_add },
};

#define HELPERS .helpers = helpers, .helper_cnt = N(helpers)

UT_TEST(callx_helper_id)
{
	/* callx with a helper id in the register calls that helper: 20 + 22 */
	struct bpf_insn p[] = { MOV64_K(1, 20), MOV64_K(2, 22), MOV64_K(6, 5), CALLX(6), EXIT };
	EXPECT_R0(p, 42, HELPERS);
}

UT_TEST(callx_non_function_faults)
{
	/* 12345 = 0x3039 is neither a function of the program nor a helper of its table. */
	struct bpf_insn num[] = { MOV64_K(6, 12345), CALLX(6), EXIT };
	EXPECT_FAULT(RUN(num, HELPERS), -EINVAL, "insn 1", "callx to 0x3039",
		     "neither a function nor a known helper");
	/* 4 is below the table's largest id (5) but has no helper. */
	struct bpf_insn hole[] = { MOV64_K(6, 4), CALLX(6), EXIT };
	EXPECT_FAULT(RUN(hole, HELPERS), -EINVAL, "insn 1", "callx to 0x4");
	/* A function value plus one byte points into the middle of the code. */
	struct bpf_insn mid[] = {
		LDDW_SRC(6, BPF_PSEUDO_FUNC, 3, 0),	/* 0: fn at 4 */
		ALU64_K(ADD, 6, 1),			/* 2 */
		CALLX(6),				/* 3 */
		EXIT,					/* 4: fn (and the end) */
	};
	EXPECT_FAULT(RUN(mid, HELPERS), -EINVAL, "insn 3", "neither a function");
}

UT_TEST(callx_helper_arguments_checked)
{
	/*
	 * Checked mode checks a helper's arguments against its prototype whether it is
	 * reached by call or by callx: 0x1000 is no map of the program, so
	 * bpf_map_lookup_elem must not be entered (it would dereference 0x1000).
	 */
	struct bpf_insn p[] = {
		MOV64_K(1, 0x1000), MOV64_K(2, 0x2000),
		MOV64_K(6, BPF_FUNC_map_lookup_elem), CALLX(6), EXIT,
	};
	EXPECT_FAULT(RUN(p), -EFAULT, "insn 3", "map_lookup_elem", "not a valid map");
	struct bpf_insn q[] = {
		MOV64_K(1, 0x1000), MOV64_K(2, 0x2000), CALL(BPF_FUNC_map_lookup_elem), EXIT,
	};
	EXPECT_FAULT(RUN(q), -EFAULT, "insn 2", "map_lookup_elem", "not a valid map");
}

/* ---- The instruction budget (checked mode) ---- */

UT_TEST(budget_stops_endless_loop)
{
	/* ja -1 jumps to itself forever: stopped after 1000 instructions, at insn 0. */
	struct bpf_insn p[] = { JA(-1) };
	EXPECT_FAULT(RUN(p, .budget = 1000), -ETIME, "insn 0", "budget of 1000 exhausted");
}

UT_TEST(budget_is_exact)
{
	/* The budget counts executed instructions, exit included: 3 run in 3, not in 2. */
	struct bpf_insn p[] = { MOV64_K(0, 1), MOV64_K(0, 2), EXIT };
	struct res r = RUN(p, .budget = 3);
	UT_CHECK_EQ(r.run, 0);
	UT_CHECK_EQ(r.r0, 2);
	EXPECT_FAULT(RUN(p, .budget = 2), -ETIME, "insn 2", "budget of 2 exhausted");

	/*
	 * 1000 rounds of 3 instructions, 2 before and the exit after: 2 + 3000 + 1 = 3003
	 * instructions; r0 = 1000 * 2. With 3002 the exit (insn 5) is one too many.
	 */
	struct bpf_insn loop[] = {
		MOV64_K(0, 0),			/* 0 */
		MOV64_K(1, 1000),		/* 1 */
		ALU64_K(ADD, 0, 2),		/* 2 */
		ALU64_K(SUB, 1, 1),		/* 3 */
		JMP_K(JNE, 1, 0, -3),		/* 4: to 2 */
		EXIT,				/* 5 */
	};
	r = RUN(loop, .budget = 3003);
	UT_CHECK_EQ(r.run, 0);
	UT_CHECK_EQ(r.r0, 2000);
	EXPECT_FAULT(RUN(loop, .budget = 3002), -ETIME, "insn 5", "budget of 3002 exhausted");
}

UT_TEST(budget_default_allows_long_loops)
{
	/* 0 means 100 million: a million rounds (3000003 instructions) finish. */
	struct bpf_insn loop[] = {
		MOV64_K(0, 0), LDDW(1, 1000000), ALU64_K(ADD, 0, 1), ALU64_K(SUB, 1, 1),
		JMP_K(JNE, 1, 0, -3), EXIT,
	};
	struct res r = RUN(loop);
	UT_CHECK_EQ(r.run, 0);
	UT_CHECK_EQ(r.r0, 1000000);
}

/* ---- Checked mode: memory ---- */

UT_TEST(checked_wild_accesses_fault)
{
	struct bpf_insn ld[] = { MOV64_K(2, 0), LDX(DW, 0, 2, 0), EXIT };
	struct bpf_insn st[] = { MOV64_K(2, 0x1000), ST(W, 2, 0, 1), MOV64_K(0, 0), EXIT };
	EXPECT_FAULT(RUN(ld), -EFAULT, "insn 1: invalid load of 8 bytes at 0x0",
		     "outside the stack, context and maps");
	EXPECT_FAULT(RUN(st), -EFAULT, "insn 1: invalid store of 4 bytes at 0x1000");
}

UT_TEST(checked_stack_edges)
{
	/* The frame is [r10 - 512, r10): its first and last bytes are the program's. */
	struct bpf_insn top[] = { ST(B, 10, -1, 7), LDX(B, 0, 10, -1), EXIT };
	struct bpf_insn top8[] = { ST(DW, 10, -8, 9), LDX(DW, 0, 10, -8), EXIT };
	struct bpf_insn bottom[] = { ST(B, 10, -512, 5), LDX(B, 0, 10, -512), EXIT };
	EXPECT_R0(top, 7);
	EXPECT_R0(top8, 9);
	EXPECT_R0(bottom, 5);

	/* One byte past the top: r10 itself, or 8 bytes at r10 - 7. */
	struct bpf_insn over1[] = { LDX(B, 0, 10, 0), EXIT };
	struct bpf_insn over8[] = { ST(DW, 10, -7, 1), MOV64_K(0, 0), EXIT };
	EXPECT_FAULT(RUN(over1), -EFAULT, "insn 0: invalid load of 1 bytes at 0x");
	EXPECT_FAULT(RUN(over8), -EFAULT, "insn 0: invalid store of 8 bytes at 0x");

	/*
	 * One byte below the bottom: r10 - 513 is outside the frame; the kernel refuses it
	 * ("invalid write to stack R10 off=-513 size=1"), and in checked mode it must fault.
	 */
	struct bpf_insn under[] = { ST(B, 10, -513, 1), MOV64_K(0, 0), EXIT };
	EXPECT_FAULT(RUN(under), -EFAULT, "insn 0: invalid store of 1 bytes at 0x");
}

UT_TEST(checked_ctx_edges)
{
	/* A 16-byte context inside a bigger buffer: bytes 16.. are not the program's. */
	uint8_t buf[24];
	for (int i = 0; i < 24; i++)
		buf[i] = (uint8_t)(i + 1);
	char want[64];

	struct bpf_insn last[] = { LDX(B, 0, 1, 15), EXIT };		/* buf[15] = 16 */
	struct bpf_insn last8[] = { LDX(DW, 0, 1, 8), EXIT };		/* bytes 9..16, LE */
	EXPECT_R0(last, 16, .ctx = buf, .ctx_size = 16);
	EXPECT_R0(last8, 0x100f0e0d0c0b0a09ull, .ctx = buf, .ctx_size = 16);

	struct bpf_insn past[] = { LDX(B, 0, 1, 16), EXIT };
	snprintf(want, sizeof(want), "insn 0: invalid load of 1 bytes at 0x%llx",
		 (unsigned long long)(uintptr_t)(buf + 16));
	EXPECT_FAULT(RUN(past, .ctx = buf, .ctx_size = 16), -EFAULT, want);
	struct bpf_insn past8[] = { LDX(DW, 0, 1, 9), EXIT };
	EXPECT_FAULT(RUN(past8, .ctx = buf, .ctx_size = 16), -EFAULT, "invalid load of 8 bytes");
	struct bpf_insn before[] = { LDX(B, 0, 1, -1), EXIT };
	EXPECT_FAULT(RUN(before, .ctx = buf, .ctx_size = 16), -EFAULT, "invalid load of 1 bytes");

	/* Stores: the last byte is written; one past faults and leaves buf[16] alone. */
	struct bpf_insn st_last[] = { ST(B, 1, 15, 0x5a), MOV64_K(0, 0), EXIT };
	struct bpf_insn st_past[] = { ST(B, 1, 16, 0x5a), MOV64_K(0, 0), EXIT };
	struct res r = RUN(st_last, .ctx = buf, .ctx_size = 16);
	UT_CHECK_EQ(r.run, 0);
	UT_CHECK_EQ(buf[15], 0x5a);
	EXPECT_FAULT(RUN(st_past, .ctx = buf, .ctx_size = 16), -EFAULT, "invalid store of 1 bytes");
	UT_CHECK_EQ(buf[16], 17);
}

UT_TEST(checked_misaligned_atomics_fault)
{
	/* Atomics need natural alignment (the kernel refuses misaligned ones). r10 is
	 * 8-aligned, so r10 - 12 is misaligned for 8 bytes and r10 - 6 for 4 bytes. */
	struct bpf_insn dw[] = { MOV64_K(1, 1), ATOMIC(DW, 10, 1, -12, BPF_ADD), MOV64_K(0, 0),
				 EXIT };
	struct bpf_insn w[] = { MOV64_K(1, 1), ATOMIC(W, 10, 1, -6, BPF_ADD), MOV64_K(0, 0),
				EXIT };
	/* r10 - 4 is 4-aligned: fine for a 4-byte atomic, 0 + 1 = 1 */
	struct bpf_insn w_ok[] = { ST(W, 10, -4, 0), MOV64_K(1, 1),
				   ATOMIC(W, 10, 1, -4, BPF_ADD), LDX(W, 0, 10, -4), EXIT };
	EXPECT_FAULT(RUN(dw), -EFAULT, "insn 1: misaligned atomic access at 0x");
	EXPECT_FAULT(RUN(w), -EFAULT, "insn 1: misaligned atomic access at 0x");
	EXPECT_R0(w_ok, 1);

	uint64_t ctx[2] = { 0 };
	struct bpf_insn c[] = { MOV64_K(2, 1), ATOMIC(W, 1, 2, 2, BPF_ADD), MOV64_K(0, 0), EXIT };
	EXPECT_FAULT(RUN(c, .ctx = ctx, .ctx_size = sizeof(ctx)), -EFAULT, "misaligned atomic");
	/* An aligned atomic past the end is a bounds fault, not an alignment one. */
	struct bpf_insn oob[] = { MOV64_K(2, 1), ATOMIC(DW, 1, 2, 16, BPF_ADD), MOV64_K(0, 0),
				  EXIT };
	EXPECT_FAULT(RUN(oob, .ctx = ctx, .ctx_size = sizeof(ctx)), -EFAULT,
		     "invalid store of 8 bytes");
}

/* ---- ALU corner cases: r0 = a, r1 = b, then one operation on r0 ---- */

static void alu_case(const char *what, struct bpf_insn op, uint64_t a, uint64_t b,
		     uint64_t want, int line)
{
	struct bpf_insn p[] = { LDDW(0, a), LDDW(1, b), op, EXIT };
	expect_r0_at(p, N(p), (struct cfg){ 0 }, want, what, line);
}

#define ALU(op, a, b, want) alu_case(#op " " #a " " #b, op, a, b, want, __LINE__)

#define MIN64 0x8000000000000000ull
#define ONES 0xffffffffffffffffull

UT_TEST(div_mod_unsigned)
{
	/* Kernel rules: x / 0 = 0, x % 0 = x (64-bit) or (u32)x (32-bit). The kernel
	 * refuses K forms with imm 0 at load; RFC 9669 gives them the same results. */
	ALU(ALU64_X(DIV, 0, 1), 10, 0, 0);
	ALU(ALU64_X(MOD, 0, 1), 10, 0, 10);
	ALU(ALU64_K(DIV, 0, 0), 10, 0, 0);
	ALU(ALU64_K(MOD, 0, 0), 10, 0, 10);
	ALU(ALU64_X(DIV, 0, 1), ONES, 2, 0x7fffffffffffffffull);	/* unsigned */
	/* 64-bit K forms sign-extend imm: -1 is 2^64 - 1, larger than 0xffffffff ... */
	ALU(ALU64_K(DIV, 0, -1), 0xffffffffull, 0, 0);
	/* ... so 2^32 % (2^64 - 1) = 2^32 (it would be 1 modulo 0xffffffff) */
	ALU(ALU64_K(MOD, 0, -1), 0x100000000ull, 0, 0x100000000ull);
	ALU(ALU64_K(DIV, 0, -2), 0xfffffffffffffffeull, 0, 1);
	/* 32-bit: low halves only, result zero-extended */
	ALU(ALU32_X(DIV, 0, 1), 0xffffffff0000000aull, 0, 0);
	ALU(ALU32_X(MOD, 0, 1), 0xffffffff0000000aull, 0, 0xa);
	ALU(ALU32_X(MOD, 0, 1), 0xffffffff0000000aull, 0xffffffff00000000ull, 0xa);	/* % 0 */
	ALU(ALU32_X(DIV, 0, 1), 0x100000064ull, 0x10000000aull, 10);		/* 100 / 10 */
	ALU(ALU32_K(DIV, 0, -1), 0xfffffffeull, 0, 0);	/* imm is 0xffffffff here */
	ALU(ALU32_K(DIV, 0, -1), 0xffffffffull, 0, 1);
	ALU(ALU32_K(MOD, 0, 0), 0xdeadbeef00000007ull, 0, 7);
}

UT_TEST(div_mod_signed)
{
	/* INT_MIN / -1 overflows: the kernel gives INT_MIN (it negates), INT_MIN % -1 = 0. */
	ALU(SALU64_X(DIV, 0, 1), MIN64, ONES, MIN64);
	ALU(SALU64_X(MOD, 0, 1), MIN64, ONES, 0);
	ALU(SALU64_K(DIV, 0, -1), MIN64, 0, MIN64);
	ALU(SALU64_K(MOD, 0, -1), MIN64, 0, 0);
	/* Truncation toward zero; the remainder takes the dividend's sign. */
	ALU(SALU64_X(DIV, 0, 1), (uint64_t)-7, 2, (uint64_t)-3);
	ALU(SALU64_X(MOD, 0, 1), (uint64_t)-7, 2, (uint64_t)-1);
	ALU(SALU64_X(MOD, 0, 1), 7, (uint64_t)-2, 1);
	ALU(SALU64_X(MOD, 0, 1), (uint64_t)-7, (uint64_t)-2, (uint64_t)-1);
	ALU(SALU64_K(DIV, 0, -2), 10, 0, (uint64_t)-5);	/* imm sign-extended */
	/* by zero: 0, and the dividend unchanged */
	ALU(SALU64_X(DIV, 0, 1), (uint64_t)-7, 0, 0);
	ALU(SALU64_X(MOD, 0, 1), (uint64_t)-7, 0, (uint64_t)-7);
	/* 32-bit: INT32_MIN / -1 = INT32_MIN, zero-extended; the upper halves are ignored */
	ALU(SALU32_X(DIV, 0, 1), 0xdeadbeef80000000ull, ONES, 0x80000000ull);
	ALU(SALU32_X(MOD, 0, 1), 0xdeadbeef80000000ull, ONES, 0);
	ALU(SALU32_K(DIV, 0, -1), 0x80000000ull, 0, 0x80000000ull);
	ALU(SALU32_K(MOD, 0, -1), 0x80000000ull, 0, 0);
	ALU(SALU32_X(DIV, 0, 1), 0xfffffff9ull, 2, 0xfffffffdull);		/* -7 / 2 = -3 */
	ALU(SALU32_X(MOD, 0, 1), 0xfffffff9ull, 2, 0xffffffffull);		/* -7 % 2 = -1 */
	ALU(SALU32_X(DIV, 0, 1), 0x100000007ull, 0xfffffffeull, 0xfffffffdull);	/* 7 / -2 */
	ALU(SALU32_X(DIV, 0, 1), 0xfffffff9ull, 0, 0);
	ALU(SALU32_X(MOD, 0, 1), 0xabcdef00fffffff9ull, 0, 0xfffffff9ull);	/* (u32)dst */
}

UT_TEST(shifts_are_masked)
{
	/* The kernel masks the amount: & 63 for 64-bit, & 31 for 32-bit shifts. */
	ALU(ALU64_X(LSH, 0, 1), 1, 65, 2);
	ALU(ALU64_X(LSH, 0, 1), 1, 0x100, 1);			/* 256 & 63 = 0 */
	ALU(ALU64_X(RSH, 0, 1), MIN64, 127, 1);
	ALU(ALU64_X(ARSH, 0, 1), MIN64, 127, ONES);
	ALU(ALU64_X(ARSH, 0, 1), MIN64, 64, MIN64);
	ALU(ALU32_X(LSH, 0, 1), 1, 33, 2);
	ALU(ALU32_X(LSH, 0, 1), 0x80000001ull, 1, 2);		/* bit 31 leaves */
	ALU(ALU32_X(RSH, 0, 1), 0xffffffff80000000ull, 63, 1);
	ALU(ALU32_X(ARSH, 0, 1), 0x80000000ull, 63, 0xffffffffull);
	ALU(ALU32_X(RSH, 0, 1), 0x100000000ull, 0, 0);		/* zero-extended even by 0 */
	/* arsh32 sees bit 31 as the sign; arsh64 of the same value does not */
	ALU(ALU32_K(ARSH, 0, 4), 0x80000000ull, 0, 0xf8000000ull);
	ALU(ALU64_K(ARSH, 0, 4), 0x80000000ull, 0, 0x08000000ull);
}

UT_TEST(alu32_zero_extends_alu64_k_sign_extends)
{
	ALU(ALU32_K(ADD, 0, 0), 0xffffffff00000005ull, 0, 5);
	ALU(ALU32_X(MOV, 0, 1), 0, 0xffffffff00000005ull, 5);
	ALU(ALU32_K(MOV, 0, -1), 0, 0, 0xffffffffull);
	ALU(ALU32_K(MUL, 0, 2), 0x80000001ull, 0, 2);
	ALU(ALU32_K(XOR, 0, -1), 0, 0, 0xffffffffull);
	ALU(NEG32(0), 1, 0, 0xffffffffull);
	ALU(NEG64(0), 1, 0, ONES);
	ALU(ALU64_K(MOV, 0, -1), 0, 0, ONES);
	ALU(ALU64_K(ADD, 0, -1), 0, 0, ONES);
	ALU(ALU64_K(AND, 0, -2), ONES, 0, 0xfffffffffffffffeull);
	ALU(ALU64_K(XOR, 0, -1), 0, 0, ONES);
	ALU(ALU64_K(OR, 0, (int32_t)0x80000000), 0, 0, 0xffffffff80000000ull);

	/* Jumps: 64-bit compares sign-extend imm too; jmp32 compares the low halves. */
	struct bpf_insn j64[] = { LDDW(0, 0xffffffffull), JMP_K(JEQ, 0, -1, 2), MOV64_K(0, 1),
				  EXIT, MOV64_K(0, 2), EXIT };
	struct bpf_insn j32[] = { LDDW(0, 0xffffffffull), JMP32_K(JEQ, 0, -1, 2), MOV64_K(0, 1),
				  EXIT, MOV64_K(0, 2), EXIT };
	EXPECT_R0(j64, 1);	/* 0xffffffff != 0xffffffffffffffff */
	EXPECT_R0(j32, 2);
}

UT_TEST(movsx_and_sign_extending_loads)
{
	/* movsx: the low 8/16/32 bits of src, sign-extended (to 64, or to 32 then zero) */
	ALU(MOVSX64(0, 1, 8), 0, 0x180, 0xffffffffffffff80ull);
	ALU(MOVSX64(0, 1, 8), 0, 0x7f, 0x7f);
	ALU(MOVSX64(0, 1, 16), 0, 0x8000, 0xffffffffffff8000ull);
	ALU(MOVSX64(0, 1, 32), 0, 0x80000000ull, 0xffffffff80000000ull);
	ALU(MOVSX64(0, 1, 32), 0, 0xffffffff7fffffffull, 0x7fffffff);
	ALU(MOVSX32(0, 1, 8), 0, 0x80, 0xffffff80ull);
	ALU(MOVSX32(0, 1, 16), 0, 0x18000, 0xffff8000ull);
	ALU(MOVSX32(0, 1, 16), 0, 0x7fff, 0x7fff);

	struct bpf_insn sb[] = { ST(B, 10, -1, 0x80), LDXS(B, 0, 10, -1), EXIT };
	struct bpf_insn sh[] = { ST(H, 10, -2, 0x8001), LDXS(H, 0, 10, -2), EXIT };
	struct bpf_insn sw[] = { ST(W, 10, -4, (int32_t)0x80000002), LDXS(W, 0, 10, -4), EXIT };
	struct bpf_insn zb[] = { ST(B, 10, -1, 0x80), LDX(B, 0, 10, -1), EXIT };
	EXPECT_R0(sb, 0xffffffffffffff80ull);
	EXPECT_R0(sh, 0xffffffffffff8001ull);
	EXPECT_R0(sw, 0xffffffff80000002ull);
	EXPECT_R0(zb, 0x80);
}

UT_TEST(bswap_versus_be_le)
{
	const uint64_t v = 0x0123456789abcdefull;

	/* bswap (ALU64 class, v4): always swaps the low 16/32/64 bits, zero-extended */
	ALU(ENDIAN(BPF_ALU64, BPF_TO_LE, 0, 16), v, 0, 0xefcd);
	ALU(ENDIAN(BPF_ALU64, BPF_TO_LE, 0, 32), v, 0, 0xefcdab89ull);
	ALU(ENDIAN(BPF_ALU64, BPF_TO_LE, 0, 64), v, 0, 0xefcdab8967452301ull);
	/* be (ALU class): host to big-endian, a swap on this little-endian host */
	ALU(ENDIAN(BPF_ALU, BPF_TO_BE, 0, 16), v, 0, 0xefcd);
	ALU(ENDIAN(BPF_ALU, BPF_TO_BE, 0, 32), v, 0, 0xefcdab89ull);
	ALU(ENDIAN(BPF_ALU, BPF_TO_BE, 0, 64), v, 0, 0xefcdab8967452301ull);
	/* le (ALU class): no swap here, only the truncation */
	ALU(ENDIAN(BPF_ALU, BPF_TO_LE, 0, 16), v, 0, 0xcdef);
	ALU(ENDIAN(BPF_ALU, BPF_TO_LE, 0, 32), v, 0, 0x89abcdefull);
	ALU(ENDIAN(BPF_ALU, BPF_TO_LE, 0, 64), v, 0, v);
}

/* ---- Atomics ---- */

/*
 * mem (8 bytes at r10 - 8) = mem0, r1 = src, r0 = r0_0; then one atomic on r10 - 8 with
 * r1. Checks r1, the 8 bytes of memory and r0 afterwards.
 */
static void atomic_case(const char *what, struct bpf_insn op, uint64_t mem0, uint64_t src,
			uint64_t r0_0, uint64_t want_src, uint64_t want_mem, uint64_t want_r0,
			int line)
{
	struct bpf_insn p[] = {
		MOV64_X(6, 1), LDDW(2, mem0), STX(DW, 10, 2, -8), LDDW(1, src), LDDW(0, r0_0),
		op,
		STX(DW, 6, 1, 0), LDX(DW, 2, 10, -8), STX(DW, 6, 2, 8), STX(DW, 6, 0, 16),
		MOV64_K(0, 0), EXIT,
	};
	for (int m = 0; m < 2; m++) {
		uint64_t out[3] = { 0 };
		struct res r = run_cfg(p, N(p), (struct cfg){ .ctx = out, .ctx_size = sizeof(out),
			.flags = m ? UEBPF_PROG_F_TRUSTED : UEBPF_PROG_F_CHECKED });
		if (r.load || r.run || out[0] != want_src || out[1] != want_mem ||
		    out[2] != want_r0)
			ut_fail(__FILE__, line, "%s (%s): load %d run %d: src 0x%" PRIx64
				" (want 0x%" PRIx64 "), mem 0x%" PRIx64 " (want 0x%" PRIx64
				"), r0 0x%" PRIx64 " (want 0x%" PRIx64 ") %s%s", what, mode_name[m],
				r.load, r.run, out[0], want_src, out[1], want_mem, out[2], want_r0,
				r.log, r.err);
	}
}

#define ATOM(sz, opimm, mem0, src, r0_0, wsrc, wmem, wr0) \
	atomic_case(#sz " " #opimm, ATOMIC(sz, 10, 1, -8, opimm), mem0, src, r0_0, wsrc, wmem, \
		    wr0, __LINE__)

UT_TEST(atomics_32bit_zero_extend)
{
	/*
	 * The 4-byte slot is the low half of mem (little-endian); the high half 0x11111111
	 * must survive. Fetch forms put the OLD 32-bit value in src, zero-extended (the
	 * upper 0xffffffff of src is gone); the operation uses src's low half.
	 */
	const uint64_t hi = 0x1111111100000000ull, junk = 0xffffffff00000000ull;
	ATOM(W, BPF_ADD | BPF_FETCH, hi | 0x80000000, junk | 1, 0x77,
	     0x80000000, hi | 0x80000001, 0x77);
	ATOM(W, BPF_OR | BPF_FETCH, hi | 0x80000000, junk | 0xf, 0x77,
	     0x80000000, hi | 0x8000000f, 0x77);
	ATOM(W, BPF_AND | BPF_FETCH, hi | 0xf0f0f0f0, junk | 0xff00, 0x77,
	     0xf0f0f0f0, hi | 0xf000, 0x77);
	ATOM(W, BPF_XOR | BPF_FETCH, hi | 0xffff0000, junk | 0xffff, 0x77,
	     0xffff0000, hi | 0xffffffff, 0x77);
	ATOM(W, BPF_XCHG, hi | 0x80000000, junk | 7, 0x77,
	     0x80000000, hi | 7, 0x77);
	/* Without BPF_FETCH, src is left alone. */
	ATOM(W, BPF_ADD, hi | 0x80000000, junk | 1, 0x77,
	     junk | 1, hi | 0x80000001, 0x77);
	/* cmpxchg32 compares (u32)r0 with the slot; r0 = the old value, zero-extended */
	ATOM(W, BPF_CMPXCHG, hi | 0x80000000, 0xabcdef0000000009ull, junk | 0x80000000,
	     0xabcdef0000000009ull, hi | 9, 0x80000000);
	ATOM(W, BPF_CMPXCHG, hi | 0x80000000, 9, 0x80000001,
	     9, hi | 0x80000000, 0x80000000);
}

UT_TEST(atomics_64bit)
{
	ATOM(DW, BPF_ADD | BPF_FETCH, 5, (uint64_t)-2, 0x77, 5, 3, 0x77);
	ATOM(DW, BPF_XCHG, MIN64, 1, 0x77, MIN64, 1, 0x77);
	ATOM(DW, BPF_AND, 0xff00, 0x0ff0, 0x77, 0x0ff0, 0x0f00, 0x77);
	ATOM(DW, BPF_OR, 0xff00, 0x0ff0, 0x77, 0x0ff0, 0xfff0, 0x77);
	ATOM(DW, BPF_XOR, 0xff00, 0x0ff0, 0x77, 0x0ff0, 0xf0f0, 0x77);
	/* cmpxchg success: mem == r0 (5), so mem = src (9); r0 = old (5) */
	ATOM(DW, BPF_CMPXCHG, 5, 9, 5, 9, 9, 5);
	/* failure: mem (5) != r0 (4): mem unchanged, r0 = old (5) */
	ATOM(DW, BPF_CMPXCHG, 5, 9, 4, 9, 5, 5);
}

/* ---- Helpers ---- */

UT_TEST(helper_table_calls)
{
	/* r1..r5 = 1..5 reach the helper: 1 + 20 + 300 + 4000 + 50000 */
	struct bpf_insn p[] = { MOV64_K(1, 1), MOV64_K(2, 2), MOV64_K(3, 3), MOV64_K(4, 4),
				MOV64_K(5, 5), CALL(1), EXIT };
	EXPECT_R0(p, 54321, HELPERS);
}

UT_TEST(unknown_helper_refused_at_load)
{
	/* id 2 is not in the table (1 and 5 are); neither is 77 nor -1 */
	struct bpf_insn a[] = { MOV64_K(0, 0), CALL(2), EXIT };
	struct bpf_insn b[] = { MOV64_K(0, 0), MOV64_K(0, 0), CALL(77), EXIT };
	struct bpf_insn c[] = { CALL(-1), EXIT };
	EXPECT_REFUSED(RUN(a, HELPERS), -EINVAL, "insn 1", "call to an unknown helper");
	EXPECT_REFUSED(RUN(b, HELPERS), -EINVAL, "insn 2", "call to an unknown helper");
	EXPECT_REFUSED(RUN(c, HELPERS), -EINVAL, "insn 0", "call to an unknown helper");
	/* The default (kernel) table has no helper 100000 either. */
	struct bpf_insn d[] = { CALL(100000), EXIT };
	EXPECT_REFUSED(RUN(d), -EINVAL, "insn 0", "call to an unknown helper");
}

UT_TEST(kfunc_call_refused)
{
	struct bpf_insn p[] = { MOV64_K(0, 0), CALL_KFUNC(1234), EXIT };
	EXPECT_REFUSED(RUN(p), -EOPNOTSUPP, "insn 1", "kfunc calls are not supported");
}

/* ---- The fast path ---- */

UT_TEST(fast_path_matches_run_opts)
{
	/* Sums the 16 bytes of the context with a fixed count: 1 + 2 + ... + 16 = 136. */
	uint8_t ctx[16];
	for (int i = 0; i < 16; i++)
		ctx[i] = (uint8_t)(i + 1);
	struct bpf_insn p[] = {
		MOV64_K(0, 0),			/* 0 */
		MOV64_K(3, 16),			/* 1 */
		LDX(B, 4, 1, 0),		/* 2 */
		ALU64_X(ADD, 0, 4),		/* 3 */
		ALU64_K(ADD, 1, 1),		/* 4 */
		ALU64_K(SUB, 3, 1),		/* 5 */
		JMP_K(JNE, 3, 0, -5),		/* 6: to 2 */
		EXIT,				/* 7 */
	};
	EXPECT_R0(p, 136, .ctx = ctx, .ctx_size = sizeof(ctx));

	/* The fast path's packet for LD_ABS is the context with the program's ctx_size:
	 * 8 bytes here, so bytes 4..7 are in and bytes 5..8 are not. */
	uint8_t c8[8];
	memcpy(c8, pkt, sizeof(c8));
	struct bpf_insn in[] = { LD_ABS(W, 4), EXIT };
	struct bpf_insn out[] = { MOV64_K(0, 1), LD_ABS(W, 5), EXIT };
	struct res r = RUN(in, .flags = UEBPF_PROG_F_TRUSTED, .fast = 1, .ctx = c8,
			   .prog_ctx_size = 8);
	UT_CHECK_EQ(r.r0, 0x9abcdef0);
	r = RUN(out, .flags = UEBPF_PROG_F_TRUSTED, .fast = 1, .ctx = c8, .prog_ctx_size = 8);
	UT_CHECK_EQ(r.r0, 0);
}

/*
 * Compare-and-branch superinstructions (trusted mode fuses `d += imm; if d op x` and
 * `d = s; d += imm; if d op x`): each form against hand-worked results, checked mode (never
 * fused) giving the same.
 */
UT_TEST(fused_add_and_branch)
{
	/* r1 counts 0..10 by ones (add + jne, backwards), r0 += 3 each time: 30. */
	struct bpf_insn cnt[] = {
		MOV64_K(0, 0), MOV64_K(1, 0),
		ALU64_K(ADD, 0, 3),		/* 2 */
		ALU64_K(ADD, 1, 1),		/* 3: fused with 4 */
		JMP_K(JNE, 1, 10, -3),		/* 4: to 2 */
		EXIT,
	};
	EXPECT_R0(cnt, 30);

	/* Signed compare with a negative counter: r1 = -5 up to 0, five rounds. */
	struct bpf_insn sgn[] = {
		MOV64_K(0, 0), MOV64_K(1, -5),
		ALU64_K(ADD, 0, 1),		/* 2 */
		ALU64_K(ADD, 1, 1),		/* 3 */
		JMP_K(JSLT, 1, 0, -3),		/* 4: to 2 while r1 s< 0 */
		EXIT,
	};
	EXPECT_R0(sgn, 5);

	/* Register form whose source is the added register: compares the new value with
	 * itself, so jeq is taken and r0 stays 7. */
	struct bpf_insn self[] = {
		MOV64_K(0, 7), MOV64_K(1, 5), ALU64_K(ADD, 1, 1),
		I(BPF_JMP | BPF_JEQ | BPF_X, 1, 1, 1, 0), MOV64_K(0, 1), EXIT,
	};
	EXPECT_R0(self, 7);

	/* jset on the sum: 0 + 4 has bit 2, taken, r0 stays 0; the untaken case gives 1. */
	struct bpf_insn set[] = {
		MOV64_K(0, 0), MOV64_K(1, 0), ALU64_K(ADD, 1, 4), JMP_K(JSET, 1, 4, 1),
		MOV64_K(0, 1), EXIT,
	};
	EXPECT_R0(set, 0);
	struct bpf_insn unset[] = {
		MOV64_K(0, 0), MOV64_K(1, 0), ALU64_K(ADD, 1, 4), JMP_K(JSET, 1, 3, 1),
		MOV64_K(0, 1), EXIT,
	};
	EXPECT_R0(unset, 1);

	/* mov + add + jgt: r1 = r3 + 60 = 100, not > r2 = 100, so r0 = r1 = 100; with jge
	 * it is taken and r0 stays 1. */
	struct bpf_insn mov3[] = {
		MOV64_K(0, 1), MOV64_K(2, 100), MOV64_K(3, 40),
		MOV64_X(1, 3), ALU64_K(ADD, 1, 60),
		I(BPF_JMP | BPF_JGT | BPF_X, 1, 2, 1, 0),
		MOV64_X(0, 1), EXIT,
	};
	EXPECT_R0(mov3, 100);
	struct bpf_insn mov3ge[] = {
		MOV64_K(0, 1), MOV64_K(2, 100), MOV64_K(3, 40),
		MOV64_X(1, 3), ALU64_K(ADD, 1, 60),
		I(BPF_JMP | BPF_JGE | BPF_X, 1, 2, 1, 0),
		MOV64_X(0, 1), EXIT,
	};
	EXPECT_R0(mov3ge, 1);

	/* A jump into the middle of a fused group runs from there: the mov at 4 is skipped,
	 * so r2 = 10 + 5 = 15 and jeq 15 is taken, r0 stays 0 (run from 4, r2 would be 5
	 * and r0 99). */
	struct bpf_insn mid[] = {
		MOV64_K(0, 0), MOV64_K(1, 0), MOV64_K(2, 10),
		JA(1),				/* 3: to 5 */
		MOV64_X(2, 1),			/* 4 */
		ALU64_K(ADD, 2, 5),		/* 5 */
		JMP_K(JEQ, 2, 15, 1),		/* 6 */
		MOV64_K(0, 99), EXIT,
	};
	EXPECT_R0(mid, 0);

	/* Conditional jump then goto (fused into a two-way branch). r1 counts to 4 by ones,
	 * r0 += 10 each round: 5 -> 9 -> 10, back to 5 while r1 < 4; then 10 falls through to
	 * the goto at 11, to 3, whose jeq r1 == 4 is taken, to 7: r0 = 40. */
	struct bpf_insn two[] = {
		MOV64_K(0, 0), MOV64_K(1, 0),
		JA(2),				/* 2: to 5 */
		JMP_K(JEQ, 1, 4, 3),		/* 3: to 7 */
		JA(2),				/* 4: to 7 (not reached) */
		ALU64_K(ADD, 1, 1),		/* 5 */
		JA(2),				/* 6: to 9 */
		EXIT,				/* 7 */
		EXIT,				/* 8 */
		ALU64_K(ADD, 0, 10),		/* 9 */
		JMP_K(JLT, 1, 4, -6),		/* 10: to 5 while r1 < 4 */
		JA(-9),				/* 11: to 3 */
	};
	EXPECT_R0(two, 40);
	/* A jump to the goto of a fused pair runs the goto alone: 2 -> 4 -> 5, r0 = 99. */
	struct bpf_insn gmid[] = {
		MOV64_K(0, 0), MOV64_K(1, 5),
		JA(1),				/* 2: to 4 */
		JMP_K(JEQ, 1, 5, 2),		/* 3: to 6 */
		JA(0),				/* 4: to 5 */
		MOV64_K(0, 99),			/* 5 */
		EXIT,				/* 6 */
	};
	EXPECT_R0(gmid, 99);
}

/*
 * Pair superinstructions (trusted mode): two ALU operations on one dst, a load then an
 * ALU operation on the loaded register, a load then one using it as source. Values by
 * hand; checked mode (never fused) runs the same programs through EXPECT_R0.
 */
UT_TEST(fused_alu_pairs_and_loads)
{
	/* The second operation's source is the dst: it must see the first's result,
	 * (3 + 4) * 7 = 49 (reading it early would give 7 * 3 = 21). r1 is set by lddw,
	 * which fuses with nothing, so the add and the mul run as one pair. */
	struct bpf_insn alias[] = {
		LDDW(1, 3), ALU64_K(ADD, 1, 4), ALU64_X(MUL, 1, 1), MOV64_X(0, 1), EXIT,
	};
	EXPECT_R0(alias, 49);
	/* mov then an op whose source is the moved-to register: r1 = 5, r1 += r1 = 10. */
	struct bpf_insn movself[] = {
		MOV64_K(2, 5), MOV64_X(1, 2), ALU64_X(ADD, 1, 1), MOV64_X(0, 1), EXIT,
	};
	EXPECT_R0(movself, 10);
	/* arsh then rsh on one dst: -256 s>> 4 = -16 = 0xff..f0, >> 60 = 0xf. */
	struct bpf_insn shifts[] = {
		MOV64_K(0, -256), ALU64_K(ARSH, 0, 4), ALU64_K(RSH, 0, 60), EXIT,
	};
	EXPECT_R0(shifts, 0xf);

	uint8_t ctx[8] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0 };
	/* Load then shift the loaded register: 0x12 << 8 = 0x1200; then load a u16
	 * (little-endian 0x7856) and add it to itself: 0xf0ac. Sum 0x102ac. */
	struct bpf_insn ldalu[] = {
		LDX(B, 2, 1, 0), ALU64_K(LSH, 2, 8),
		LDX(H, 3, 1, 2), ALU64_X(ADD, 3, 3),
		MOV64_X(0, 2), ALU64_X(ADD, 0, 3), EXIT,
	};
	EXPECT_R0(ldalu, 0x102ac, .ctx = ctx, .ctx_size = sizeof(ctx));
	/* Load then use it as source: 100 ^ 0x34 = 0x50. Then a load whose base is the
	 * next operation's dst: r6 = ctx + 0; r7 = *(u8 *)(r6 + 0) = 0x12; r6 += r7 moves the
	 * pointer by 0x12 after the load read through the old one: r6 - r8 = 0x12. */
	struct bpf_insn ldsrc[] = {
		MOV64_K(4, 100), LDX(B, 5, 1, 1), ALU64_X(XOR, 4, 5),
		MOV64_X(6, 1), MOV64_X(8, 1), LDX(B, 7, 6, 0), ALU64_X(ADD, 6, 7),
		ALU64_X(SUB, 6, 8), MOV64_X(0, 4), ALU64_K(LSH, 0, 8), ALU64_X(OR, 0, 6), EXIT,
	};
	EXPECT_R0(ldsrc, 0x5012, .ctx = ctx, .ctx_size = sizeof(ctx));
	/* A jump into the second half of a pair runs it alone: r1 = 2, then r1 *= 3 = 6
	 * (the skipped r1 = 100 would give 300). */
	struct bpf_insn mid[] = {
		MOV64_K(1, 2), JA(1), MOV64_K(1, 100), ALU64_K(MUL, 1, 3), MOV64_X(0, 1), EXIT,
	};
	EXPECT_R0(mid, 6);

	/* FNV-1a (64-bit) over "foobar", written as clang writes it (see bench/progs/fnv.c):
	 * the published test vector is 0x85944171f73967e8. */
	uint8_t foobar[6] = { 'f', 'o', 'o', 'b', 'a', 'r' };
	struct bpf_insn fnv[] = {
		LDDW(2, 0xcbf29ce484222325ull), LDDW(5, 0x100000001b3ull),
		MOV64_K(3, 0),
		MOV64_X(0, 1), ALU64_X(ADD, 0, 3),	/* 7: r0 = ctx + i */
		LDX(B, 0, 0, 0),
		ALU64_X(XOR, 2, 0), ALU64_X(MUL, 2, 5),
		ALU64_K(ADD, 3, 1), JMP_K(JNE, 3, 6, -7),	/* to 7 */
		MOV64_X(0, 2), EXIT,
	};
	EXPECT_R0(fnv, 0x85944171f73967e8ull, .ctx = foobar, .ctx_size = sizeof(foobar));
}

/*
 * Every pair the fast interpreter fuses, against checked mode (which runs them one by
 * one): each ALU operation then each other on one dst, in all four K/X forms, with the
 * second source both another register and the dst itself; each load size then each ALU
 * operation on the loaded register, and each load then each operation using it.
 */
UT_TEST(fused_pairs_match_checked_mode)
{
	static const uint8_t ops[] = { BPF_ADD, BPF_SUB, BPF_MUL, BPF_OR, BPF_AND, BPF_XOR,
				       BPF_LSH, BPF_RSH, BPF_ARSH, BPF_MOV };
	static const uint8_t sizes[] = { BPF_B, BPF_H, BPF_W, BPF_DW };
	uint8_t ctx[8] = { 0x81, 0x92, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7, 0xf8 };
	int compared = 0;

	for (unsigned a = 0; a < N(ops); a++)
		for (unsigned b = 0; b < N(ops); b++)
			for (int form = 0; form < 8; form++) {
				uint8_t sa = form & 1 ? BPF_X : BPF_K, sb = form & 2 ? BPF_X : BPF_K;
				uint8_t bsrc = form & 4 ? 1 : 3;
				struct bpf_insn p[] = {
					LDDW(1, 0xfedcba9876543210ull), LDDW(2, 0x0123456789abcdefull),
					MOV64_K(3, 13),
					sa == BPF_X ? I(BPF_ALU64 | ops[a] | sa, 1, 2, 0, 0)
						    : I(BPF_ALU64 | ops[a] | sa, 1, 0, 0, -7),
					sb == BPF_X ? I(BPF_ALU64 | ops[b] | sb, 1, bsrc, 0, 0)
						    : I(BPF_ALU64 | ops[b] | sb, 1, 0, 0, 29),
					MOV64_X(0, 1), ALU64_K(RSH, 0, 32), ALU64_X(XOR, 0, 1), EXIT,
				};
				if (sb == BPF_K && bsrc == 1)
					continue;	/* K forms have no source */
				struct res c = RUN(p), f = RUN(p, .flags = UEBPF_PROG_F_TRUSTED);
				UT_CHECK(!c.load && !c.run && !f.load && !f.run && c.r0 == f.r0,
					 "ops %#x %#x form %d: checked %d/%d 0x%" PRIx64 ", trusted %d/%d 0x%"
					 PRIx64 " %s%s", ops[a], ops[b], form, c.load, c.run, c.r0, f.load,
					 f.run, f.r0, c.log, c.err);
				compared++;
			}
	for (unsigned z = 0; z < N(sizes); z++)
		for (unsigned b = 0; b + 1 < N(ops); b++)	/* all but mov */
			for (int form = 0; form < 3; form++) {
				/* 0: r2 op= 13 after loading r2; 1: r2 op= r2; 2: r4 op= r2 */
				uint8_t cls = form ? BPF_X : BPF_K, dst = form == 2 ? 4 : 2;
				struct bpf_insn p[] = {
					LDDW(4, 0x0f0f0f0f12345678ull),
					I(BPF_LDX | BPF_MEM | sizes[z], 2, 1, 0, 0),
					I(BPF_ALU64 | ops[b] | cls, dst, 2, 0, 13),
					MOV64_X(0, 4), ALU64_X(XOR, 0, 2), MOV64_X(3, 0),
					ALU64_K(RSH, 3, 32), ALU64_X(XOR, 0, 3), EXIT,
				};
				if (!form)
					p[3].src_reg = 0;
				else
					p[3].imm = 0;
				struct res c = RUN(p, .ctx = ctx, .ctx_size = sizeof(ctx));
				struct res f = RUN(p, .flags = UEBPF_PROG_F_TRUSTED, .ctx = ctx,
						   .ctx_size = sizeof(ctx));
				UT_CHECK(!c.load && !c.run && !f.load && !f.run && c.r0 == f.r0,
					 "load %#x op %#x form %d: checked %d/%d 0x%" PRIx64
					 ", trusted %d/%d 0x%" PRIx64 " %s%s%s", sizes[z], ops[b], form,
					 c.load, c.run, c.r0, f.load, f.run, f.r0, c.log, c.err, f.err);
				compared++;
			}
	/* 10 x 10 x 6 ALU pairs, 4 x 9 x 3 load pairs */
	UT_CHECK_EQ(compared, 708);
}

/*
 * The bounds-check group `rA = rB; rA += rC; rD = rA; rD += imm; if rD op ...` (clang's
 * `p = data + i; if (p + n > data_end)`), one handler in fast mode. By hand first: A =
 * 100 + 20 = 120, D = 128; then with rC = rA (A = B + B) and with the jump comparing D
 * against A or D itself. Then every jump, K and X, against checked mode.
 */
static uint64_t bchk_run(uint8_t c, uint8_t jcode, uint8_t e, int32_t imm, uint64_t rb,
			 uint64_t re, int trusted)
{
	struct bpf_insn p[] = {
		LDDW(1, rb), MOV64_K(2, 20), LDDW(3, re),
		MOV64_X(4, 1), ALU64_X(ADD, 4, c), MOV64_X(5, 4), ALU64_K(ADD, 5, 8),
		I(jcode, 5, e, 4, imm),
		MOV64_X(0, 4), ALU64_K(MUL, 0, 1000), ALU64_X(ADD, 0, 5), EXIT,	/* not taken */
		MOV64_X(0, 5), ALU64_X(SUB, 0, 4), EXIT,		/* taken: D - A */
	};
	struct res r = trusted ? RUN(p, .flags = UEBPF_PROG_F_TRUSTED) : RUN(p);

	return r.load || r.run ? 0xdeadULL : r.r0;
}

UT_TEST(fused_bounds_check)
{
	static const uint8_t jops[] = { BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE,
					BPF_JSET, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE };
	static const uint64_t vals[] = { 127, 128, 129, 0, (uint64_t)-1, 1ull << 63 };
	int compared = 0;

	for (int t = 0; t < 2; t++) {
		/* 128 > 127: taken, r0 = D - A = 8 */
		UT_CHECK_EQ(bchk_run(2, BPF_JMP | BPF_JGT | BPF_X, 3, 0, 100, 127, t), 8);
		/* 128 > 128 is false: r0 = 120 * 1000 + 128 */
		UT_CHECK_EQ(bchk_run(2, BPF_JMP | BPF_JGT | BPF_X, 3, 0, 100, 128, t), 120128);
		/* rA += rA: A = 200, D = 208; 208 > 207: taken, 8 */
		UT_CHECK_EQ(bchk_run(4, BPF_JMP | BPF_JGT | BPF_X, 3, 0, 100, 207, t), 8);
		/* if D > A (128 > 120): taken; if D > D: not, 120128 */
		UT_CHECK_EQ(bchk_run(2, BPF_JMP | BPF_JGT | BPF_X, 4, 0, 100, 0, t), 8);
		UT_CHECK_EQ(bchk_run(2, BPF_JMP | BPF_JGT | BPF_X, 5, 0, 100, 0, t), 120128);
		/* K form: 128 >= 128 taken; 128 >= 129 not */
		UT_CHECK_EQ(bchk_run(2, BPF_JMP | BPF_JGE | BPF_K, 0, 128, 100, 0, t), 8);
		UT_CHECK_EQ(bchk_run(2, BPF_JMP | BPF_JGE | BPF_K, 0, 129, 100, 0, t), 120128);
	}
	for (unsigned j = 0; j < N(jops); j++)
		for (unsigned v = 0; v < N(vals); v++)
			for (int form = 0; form < 5; form++) {
				/* 0-2: X against r3, rA, rD; 3: X with rC = rA; 4: K */
				uint8_t code = BPF_JMP | jops[j] | (form == 4 ? BPF_K : BPF_X);
				uint8_t c = form == 3 ? 4 : 2, e = form == 1 ? 4 : form == 2 ? 5 : 3;
				int32_t imm = form == 4 ? (int32_t)vals[v] : 0;
				uint64_t rb = vals[v] - 28;	/* D = vals[v] with rC = 20 */
				uint64_t want = bchk_run(c, code, form == 4 ? 0 : e, imm, rb, vals[v], 0);
				uint64_t got = bchk_run(c, code, form == 4 ? 0 : e, imm, rb, vals[v], 1);
				UT_CHECK(want == got && want != 0xdead, "jump %#x value %#" PRIx64
					 " form %d: checked 0x%" PRIx64 ", trusted 0x%" PRIx64,
					 jops[j], vals[v], form, want, got);
				compared++;
			}
	UT_CHECK_EQ(compared, 11 * 6 * 5);
}
