/*
 * CO-RE relocations (src/btf/core.c) on hand-built BTF: flavors, missing fields (poison),
 * bit-fields, anonymous members, arrays, enums, type relocations, load-size changes,
 * ambiguity, and the instruction patching. Expected values are worked out next to each
 * check from the layouts written in the test (libbpf's rules: relo_core.c). The last
 * cases resolve against the running kernel's BTF, with bpftool's dump as the oracle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/bpf.h>
#include "btf/btf.h"
#include "btf_build.h"
#include "ut.h"

static struct ub_btf *parse(struct bb *b)
{
	size_t sz;
	const void *p = bb_finish(b, &sz);
	struct ub_btf *btf = NULL;
	char msg[512];
	struct ub_log log;

	ub_log_init(&log, msg, sizeof(msg));
	int err = ub_btf_parse(p, sz, &btf, &log);
	UT_CHECK(!err, "parse: %d %s", err, msg);
	return btf;
}

/* A relocation of local type `type` with access string `acc` (added to the local strings). */
static struct bpf_core_relo relo(struct bb *local, uint32_t type, const char *acc, uint32_t kind)
{
	return (struct bpf_core_relo){ .insn_off = 0, .type_id = type,
				       .access_str_off = bb_str(local, acc), .kind = kind };
}

struct calc {
	int err;
	struct ub_core_res res;
	char msg[512];
};

static struct calc calc(struct ub_btf *l, struct ub_btf *t, struct bpf_core_relo r)
{
	struct calc c = { 0 };
	struct ub_log log;

	ub_log_init(&log, c.msg, sizeof(c.msg));
	c.err = ub_core_calc(l, t, &r, &c.res, &log);
	return c;
}

/*
 * local:  struct foo___v1 { int a; int b; };              b at byte 4
 * target: struct foo { long x; int b; };  (size 16)       b at byte 8
 *         struct other { int b; };        (a different name: not a candidate)
 */
struct fx {
	struct bb L, T;
	uint32_t l_foo, l_int, t_foo;
};

static void fx_build(struct fx *f)
{
	bb_init(&f->L);
	bb_init(&f->T);
	f->l_int = bb_int(&f->L, "int", 4, BTF_INT_SIGNED);
	f->l_foo = bb_comp(&f->L, BTF_KIND_STRUCT, "foo___v1", 8, 2, 0);
	bb_member(&f->L, "a", f->l_int, 0, 0);
	bb_member(&f->L, "b", f->l_int, 32, 0);
	uint32_t tl = bb_int(&f->T, "long", 8, BTF_INT_SIGNED);
	uint32_t ti = bb_int(&f->T, "int", 4, BTF_INT_SIGNED);
	f->t_foo = bb_comp(&f->T, BTF_KIND_STRUCT, "foo", 16, 2, 0);
	bb_member(&f->T, "x", tl, 0, 0);
	bb_member(&f->T, "b", ti, 64, 0);
	bb_comp(&f->T, BTF_KIND_STRUCT, "other", 4, 1, 0);
	bb_member(&f->T, "b", ti, 0, 0);
}

UT_TEST(core_flavor_field_offset)
{
	static struct fx f;
	fx_build(&f);
	struct bpf_core_relo r[] = {
		relo(&f.L, f.l_foo, "0:1", BPF_CORE_FIELD_BYTE_OFFSET),
		relo(&f.L, f.l_foo, "0:1", BPF_CORE_FIELD_BYTE_SIZE),
		relo(&f.L, f.l_foo, "0:1", BPF_CORE_FIELD_EXISTS),
		relo(&f.L, f.l_foo, "0:1", BPF_CORE_FIELD_SIGNED),
	};
	struct ub_btf *l = parse(&f.L), *t = parse(&f.T);
	/* offset 4 -> 8; size 4 -> 4; exists 1; int is signed: 1 */
	const uint64_t orig[] = { 4, 4, 1, 1 }, want[] = { 8, 4, 1, 1 };
	for (int i = 0; i < 4; i++) {
		struct calc c = calc(l, t, r[i]);
		UT_CHECK(!c.err && !c.res.poison, "relo %d: err %d poison %d %s", i, c.err,
			 c.res.poison, c.msg);
		UT_CHECK_EQ(c.res.orig_val, orig[i]);
		UT_CHECK_EQ(c.res.new_val, want[i]);
	}
	/* A load of b: ldxw r1, [r2 + 4] becomes [r2 + 8]. */
	struct bpf_insn in[2] = { { .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 1, .src_reg = 2,
				    .off = 4 }, { .code = BPF_JMP | BPF_EXIT } };
	char msg[256];
	struct ub_log log;
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_core_apply(l, t, &r[0], in, 2, &log), "apply: %s", msg);
	UT_CHECK_EQ(in[0].off, 8);
	UT_CHECK_EQ(in[0].code, BPF_LDX | BPF_MEM | BPF_W);
	/* The same record applied again: the instruction no longer holds 4, so it is refused. */
	UT_CHECK_EQ(ub_core_apply(l, t, &r[0], in, 2, &log), -EINVAL);
	UT_CHECK_STR(msg, "not the expected 4");
	uint64_t v = 0;
	UT_CHECK(!ub_core_resolve(l, t, &r[0], &v, &log) && v == 8, "resolve: %llu",
		 (unsigned long long)v);
	ub_btf_free(l), ub_btf_free(t);
}

UT_TEST(core_essential_name)
{
	/* libbpf's rule: cut at the last "___" that has a non-underscore on both sides */
	UT_CHECK_EQ(ub_core_essential_len("foo___v1"), 3);
	UT_CHECK_EQ(ub_core_essential_len("foo"), 3);
	UT_CHECK_EQ(ub_core_essential_len("foo____x"), 8);	/* 4 underscores: no flavor */
	UT_CHECK_EQ(ub_core_essential_len("a___b___c"), 5);	/* the last separator wins: "a___b" */
	UT_CHECK_EQ(ub_core_essential_len("___x"), 4);
}

UT_TEST(core_missing_field_poisons)
{
	static struct bb L, T;
	bb_init(&L), bb_init(&T);
	uint32_t li = bb_int(&L, "int", 4, BTF_INT_SIGNED);
	uint32_t lf = bb_comp(&L, BTF_KIND_STRUCT, "foo", 8, 2, 0);
	bb_member(&L, "a", li, 0, 0);
	bb_member(&L, "gone", li, 32, 0);
	uint32_t ti = bb_int(&T, "int", 4, BTF_INT_SIGNED);
	bb_comp(&T, BTF_KIND_STRUCT, "foo", 4, 1, 0);
	bb_member(&T, "a", ti, 0, 0);
	struct bpf_core_relo off = relo(&L, lf, "0:1", BPF_CORE_FIELD_BYTE_OFFSET);
	struct bpf_core_relo ex = relo(&L, lf, "0:1", BPF_CORE_FIELD_EXISTS);
	struct ub_btf *l = parse(&L), *t = parse(&T);

	struct calc c = calc(l, t, off);
	UT_CHECK(!c.err && c.res.poison, "offset of a missing field poisons: %d %d", c.err,
		 c.res.poison);
	c = calc(l, t, ex);
	UT_CHECK(!c.err && !c.res.poison && c.res.new_val == 0 && c.res.orig_val == 1,
		 "exists: 1 locally, 0 in the target");
	uint64_t v;
	char msg[256];
	struct ub_log log;
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK_EQ(ub_core_resolve(l, t, &off, &v, &log), -ESRCH);
	UT_CHECK_STR(msg, "access '0:1'");
	/* Poisoning: a load becomes "call 0xbad2310"; an lddw loses both halves. */
	struct bpf_insn in[3] = {
		{ .code = BPF_LD | BPF_IMM | BPF_DW, .dst_reg = 1, .imm = 4 }, { 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	UT_CHECK(!ub_core_apply(l, t, &off, in, 3, &log), "poisoning is not an error");
	UT_CHECK_EQ(in[0].code, BPF_JMP | BPF_CALL);
	UT_CHECK_EQ(in[0].imm, 0xbad2310);
	UT_CHECK_EQ(in[1].code, BPF_JMP | BPF_CALL);
	UT_CHECK_EQ(in[1].imm, 0xbad2310);
	UT_CHECK_EQ(in[2].code, BPF_JMP | BPF_EXIT);
	ub_btf_free(l), ub_btf_free(t);
}

/*
 * Bit-fields (unsigned int, kflag encoding):
 * local:  struct bf { u32 f1:3 @0; u32 f2:5 @3; }
 * target: struct bf { u32 pad @0; u32 f1:3 @32; u32 f2:5 @37; u32 f3:4 @62 } (size 16)
 * target f2: byte_sz 4, byte_off = 37/8/4*4 = 4; 37+5-32 = 10 bits used -> lshift 64-10 = 54,
 * rshift 64-5 = 59. local f2: byte_off 0, 3+5 = 8 -> lshift 56.
 * f3 at 62 width 4 crosses the 4-byte unit: byte_sz doubles to 8, byte_off = 62/8/8*8 = 0,
 * 62+4 = 66 > 64 so it doubles again -> more than 8 bytes: -E2BIG (libbpf refuses too).
 */
UT_TEST(core_bitfields)
{
	static struct bb L, T;
	bb_init(&L), bb_init(&T);
	uint32_t lu = bb_int(&L, "unsigned int", 4, 0);
	uint32_t lb = bb_comp(&L, BTF_KIND_STRUCT, "bf", 4, 3, 1);
	bb_member(&L, "f1", lu, 0, 3);
	bb_member(&L, "f2", lu, 3, 5);
	bb_member(&L, "f3", lu, 8, 4);
	uint32_t tu = bb_int(&T, "unsigned int", 4, 0);
	bb_comp(&T, BTF_KIND_STRUCT, "bf", 16, 4, 1);
	bb_member(&T, "pad", tu, 0, 0);
	bb_member(&T, "f1", tu, 32, 3);
	bb_member(&T, "f2", tu, 37, 5);
	bb_member(&T, "f3", tu, 62, 4);
	const struct { uint32_t kind; uint64_t orig, want; } cases[] = {
		{ BPF_CORE_FIELD_BYTE_OFFSET, 0, 4 },
		{ BPF_CORE_FIELD_BYTE_SIZE, 4, 4 },
		{ BPF_CORE_FIELD_LSHIFT_U64, 56, 54 },
		{ BPF_CORE_FIELD_RSHIFT_U64, 59, 59 },
		{ BPF_CORE_FIELD_SIGNED, 0, 0 },
		{ BPF_CORE_FIELD_EXISTS, 1, 1 },
	};
	struct bpf_core_relo r[6];
	for (int i = 0; i < 6; i++)
		r[i] = relo(&L, lb, "0:1", cases[i].kind);
	struct bpf_core_relo r3 = relo(&L, lb, "0:2", BPF_CORE_FIELD_BYTE_OFFSET);
	struct ub_btf *l = parse(&L), *t = parse(&T);
	for (int i = 0; i < 6; i++) {
		struct calc c = calc(l, t, r[i]);
		UT_CHECK(!c.err && !c.res.poison, "case %d: %d %s", i, c.err, c.msg);
		UT_CHECK_EQ(c.res.orig_val, cases[i].orig);
		UT_CHECK_EQ(c.res.new_val, cases[i].want);
	}
	/* bit-field offsets are not checked against the instruction (the compiler may differ) */
	UT_CHECK(!calc(l, t, r[0]).res.validate, "no validation for bit-field offsets");
	UT_CHECK(calc(l, t, r[3]).res.validate, "rshift is never ambiguous: validated");
	struct calc c = calc(l, t, r3);
	UT_CHECK_EQ(c.err, -E2BIG);
	ub_btf_free(l), ub_btf_free(t);
}

/*
 * Anonymous members and arrays:
 * local:  struct s { int a; int pad; int b; int v[4]; }    b @8, v[2] @12+8 = 20
 * target: struct s { int a; union { int y; int b; }; long x; int v[8]; }
 *         b inside the anonymous union @4 -> 4; v @16, v[2] @16+8 = 24.
 *         An index past the local array but inside the target's still works (v[6]: 40),
 *         one past the target's (local v[9] with a flex-less array) fails to parse.
 */
UT_TEST(core_anon_and_arrays)
{
	static struct bb L, T;
	bb_init(&L), bb_init(&T);
	uint32_t li = bb_int(&L, "int", 4, BTF_INT_SIGNED);
	uint32_t lidx = bb_int(&L, "__ARRAY_SIZE_TYPE__", 4, 0);
	uint32_t la = bb_array(&L, li, lidx, 8);
	uint32_t ls = bb_comp(&L, BTF_KIND_STRUCT, "s", 64, 4, 0);
	bb_member(&L, "a", li, 0, 0);
	bb_member(&L, "pad", li, 32, 0);
	bb_member(&L, "b", li, 64, 0);
	bb_member(&L, "v", la, 96, 0);
	uint32_t ti = bb_int(&T, "int", 4, BTF_INT_SIGNED);
	uint32_t tl = bb_int(&T, "long", 8, BTF_INT_SIGNED);
	uint32_t tidx = bb_int(&T, "__ARRAY_SIZE_TYPE__", 4, 0);
	uint32_t ta = bb_array(&T, ti, tidx, 4);
	uint32_t tu = bb_comp(&T, BTF_KIND_UNION, NULL, 4, 2, 0);
	bb_member(&T, "y", ti, 0, 0);
	bb_member(&T, "b", ti, 0, 0);
	bb_comp(&T, BTF_KIND_STRUCT, "s", 32, 4, 0);
	bb_member(&T, "a", ti, 0, 0);
	bb_member(&T, NULL, tu, 32, 0);
	bb_member(&T, "x", tl, 64, 0);
	bb_member(&T, "v", ta, 128, 0);
	struct bpf_core_relo rb = relo(&L, ls, "0:2", BPF_CORE_FIELD_BYTE_OFFSET);
	struct bpf_core_relo rv = relo(&L, ls, "0:3:2", BPF_CORE_FIELD_BYTE_OFFSET);
	struct bpf_core_relo rvs = relo(&L, ls, "0:3:2", BPF_CORE_FIELD_BYTE_SIZE);
	struct bpf_core_relo rfar = relo(&L, ls, "0:3:6", BPF_CORE_FIELD_BYTE_OFFSET);
	struct bpf_core_relo rbad = relo(&L, ls, "0:3:9", BPF_CORE_FIELD_BYTE_OFFSET);
	struct bpf_core_relo rnom = relo(&L, ls, "0:7", BPF_CORE_FIELD_BYTE_OFFSET);
	struct ub_btf *l = parse(&L), *t = parse(&T);

	struct calc c = calc(l, t, rb);
	UT_CHECK(!c.err && c.res.orig_val == 8 && c.res.new_val == 4, "b: %llu -> %llu (%s)",
		 (unsigned long long)c.res.orig_val, (unsigned long long)c.res.new_val, c.msg);
	c = calc(l, t, rv);
	UT_CHECK(!c.err && c.res.orig_val == 20 && c.res.new_val == 24, "v[2]: %llu -> %llu",
		 (unsigned long long)c.res.orig_val, (unsigned long long)c.res.new_val);
	c = calc(l, t, rvs);
	UT_CHECK(!c.err && c.res.new_val == 4, "element size 4");
	c = calc(l, t, rfar);
	UT_CHECK(!c.err && c.res.poison, "v[6] is past the target's v[4]: poison");
	c = calc(l, t, rbad);
	UT_CHECK(c.err == -EINVAL, "v[9] is past the local v[8]: bad relocation (%d)", c.err);
	UT_CHECK_STR(c.msg, "access '0:3:9'");
	c = calc(l, t, rnom);
	UT_CHECK(c.err == -EINVAL, "member 7 does not exist locally");
	ub_btf_free(l), ub_btf_free(t);
}

/*
 * Enums: local enum e___x { E_A = 1, E_B___y = 2, E_C = 3 };
 *        target enum e { E_B = 7, E_A = -1 } (signed) -> E_B___y matches E_B by essential
 *        name: value 7; E_A: -1 sign-extended to 64 bits; E_C: does not exist (0 / poison).
 */
UT_TEST(core_enums)
{
	static struct bb L, T;
	bb_init(&L), bb_init(&T);
	uint32_t le = bb_enum(&L, "e___x", 4, 3, 0);
	bb_enumval(&L, "E_A", 1);
	bb_enumval(&L, "E_B___y", 2);
	bb_enumval(&L, "E_C", 3);
	bb_enum(&T, "e", 4, 2, 1);
	bb_enumval(&T, "E_B", 7);
	bb_enumval(&T, "E_A", -1);
	struct bpf_core_relo vb = relo(&L, le, "1", BPF_CORE_ENUMVAL_VALUE);
	struct bpf_core_relo va = relo(&L, le, "0", BPF_CORE_ENUMVAL_VALUE);
	struct bpf_core_relo xc = relo(&L, le, "2", BPF_CORE_ENUMVAL_EXISTS);
	struct bpf_core_relo vc = relo(&L, le, "2", BPF_CORE_ENUMVAL_VALUE);
	struct ub_btf *l = parse(&L), *t = parse(&T);

	struct calc c = calc(l, t, vb);
	UT_CHECK(!c.err && c.res.orig_val == 2 && c.res.new_val == 7, "E_B: %s", c.msg);
	c = calc(l, t, va);
	UT_CHECK(!c.err && c.res.new_val == UINT64_MAX, "E_A = -1 (signed enum)");
	c = calc(l, t, xc);
	UT_CHECK(!c.err && !c.res.poison && c.res.orig_val == 1 && c.res.new_val == 0, "E_C exists: 0");
	c = calc(l, t, vc);
	UT_CHECK(!c.err && c.res.poison, "E_C value: poison");
	ub_btf_free(l), ub_btf_free(t);
}

/*
 * Type relocations: local struct foo (8 bytes), struct nothere; target struct foo (16
 * bytes, id 3 in fx). Missing types give 0, not poison. typedef vs struct: different
 * kinds are not candidates.
 */
UT_TEST(core_type_relos)
{
	static struct fx f;
	fx_build(&f);
	uint32_t missing = bb_comp(&f.L, BTF_KIND_STRUCT, "nothere", 0, 0, 0);
	const struct { uint32_t type, kind; uint64_t orig, want; } cases[] = {
		{ f.l_foo, BPF_CORE_TYPE_EXISTS, 1, 1 },
		{ f.l_foo, BPF_CORE_TYPE_SIZE, 8, 16 },
		{ f.l_foo, BPF_CORE_TYPE_ID_TARGET, f.l_foo, f.t_foo },
		{ f.l_foo, BPF_CORE_TYPE_ID_LOCAL, f.l_foo, f.l_foo },
		{ f.l_foo, BPF_CORE_TYPE_MATCHES, 1, 0 },	/* member a is missing in target */
		{ missing, BPF_CORE_TYPE_EXISTS, 1, 0 },
		{ missing, BPF_CORE_TYPE_SIZE, 0, 0 },
	};
	struct bpf_core_relo r[7];
	for (int i = 0; i < 7; i++)
		r[i] = relo(&f.L, cases[i].type, "0", cases[i].kind);
	struct bpf_core_relo bad = relo(&f.L, f.l_foo, "0:1", BPF_CORE_TYPE_SIZE);
	struct ub_btf *l = parse(&f.L), *t = parse(&f.T);
	for (int i = 0; i < 7; i++) {
		struct calc c = calc(l, t, r[i]);
		UT_CHECK(!c.err && !c.res.poison, "case %d: %d %s", i, c.err, c.msg);
		UT_CHECK_EQ(c.res.orig_val, cases[i].orig);
		UT_CHECK_EQ(c.res.new_val, cases[i].want);
	}
	UT_CHECK_EQ(calc(l, t, bad).err, -EINVAL);	/* type relocations take "0" only */
	/* an ALU immediate is patched: r0 = 8 (sizeof) becomes r0 = 16 */
	struct bpf_insn in = { .code = BPF_ALU64 | BPF_MOV | BPF_K, .imm = 8 };
	char msg[256];
	struct ub_log log;
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_core_apply(l, t, &r[1], &in, 1, &log), "%s", msg);
	UT_CHECK_EQ(in.imm, 16);
	ub_btf_free(l), ub_btf_free(t);
}

/*
 * Load size: local struct m { u32 v; }, target struct m { u64 v; } -> ldxw becomes ldxdw.
 * With local int (signed) against target unsigned long, the sizes cannot follow: poison.
 */
UT_TEST(core_load_size)
{
	static struct bb L, T;
	bb_init(&L), bb_init(&T);
	uint32_t lu = bb_int(&L, "unsigned int", 4, 0);
	uint32_t ls = bb_int(&L, "int", 4, BTF_INT_SIGNED);
	uint32_t lm = bb_comp(&L, BTF_KIND_STRUCT, "m", 8, 2, 0);
	bb_member(&L, "v", lu, 0, 0);
	bb_member(&L, "w", ls, 32, 0);
	uint32_t tu = bb_int(&T, "unsigned long", 8, 0);
	bb_comp(&T, BTF_KIND_STRUCT, "m", 16, 2, 0);
	bb_member(&T, "v", tu, 0, 0);
	bb_member(&T, "w", tu, 64, 0);
	struct bpf_core_relo rv = relo(&L, lm, "0:0", BPF_CORE_FIELD_BYTE_OFFSET);
	struct bpf_core_relo rw = relo(&L, lm, "0:1", BPF_CORE_FIELD_BYTE_OFFSET);
	struct ub_btf *l = parse(&L), *t = parse(&T);
	struct bpf_insn in = { .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 0, .src_reg = 1 };
	char msg[512];
	struct ub_log log;

	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_core_apply(l, t, &rv, &in, 1, &log), "%s", msg);
	UT_CHECK_EQ(in.code, BPF_LDX | BPF_MEM | BPF_DW);
	UT_CHECK_EQ(in.off, 0);
	struct bpf_insn in2 = { .code = BPF_LDX | BPF_MEM | BPF_W, .off = 4 };
	UT_CHECK(!ub_core_apply(l, t, &rw, &in2, 1, &log), "%s", msg);
	UT_CHECK_EQ(in2.code, BPF_JMP | BPF_CALL);
	UT_CHECK_EQ(in2.imm, 0xbad2310);
	UT_CHECK_STR(msg, "matching size");
	ub_btf_free(l), ub_btf_free(t);
}

/*
 * TYPE_MATCHES: local struct m___a { int x; struct other *p; } matches target
 * struct m { long pad; int x; struct other *p; } (members found by name, any order;
 * behind a pointer only the name counts, so struct other's members do not matter);
 * struct m___b { short x; } does not (int sizes differ); enum e___c { E1 } matches
 * enum e { E0, E1 }, enum e___d { E2 } does not (E2 missing).
 */
UT_TEST(core_type_matches)
{
	static struct bb L, T;
	bb_init(&L), bb_init(&T);
	uint32_t li = bb_int(&L, "int", 4, BTF_INT_SIGNED);
	uint32_t ls = bb_int(&L, "short", 2, BTF_INT_SIGNED);
	uint32_t lo = bb_comp(&L, BTF_KIND_STRUCT, "other", 4, 1, 0);
	bb_member(&L, "only_local", li, 0, 0);
	uint32_t lp = bb_ref(&L, BTF_KIND_PTR, NULL, lo);
	uint32_t ma = bb_comp(&L, BTF_KIND_STRUCT, "m___a", 16, 2, 0);
	bb_member(&L, "x", li, 0, 0);
	bb_member(&L, "p", lp, 64, 0);
	uint32_t mb = bb_comp(&L, BTF_KIND_STRUCT, "m___b", 2, 1, 0);
	bb_member(&L, "x", ls, 0, 0);
	uint32_t ec = bb_enum(&L, "e___c", 4, 1, 0);
	bb_enumval(&L, "E1", 1);
	uint32_t ed = bb_enum(&L, "e___d", 4, 1, 0);
	bb_enumval(&L, "E2", 2);
	uint32_t ti = bb_int(&T, "int", 4, BTF_INT_SIGNED);
	uint32_t tl = bb_int(&T, "long int", 8, BTF_INT_SIGNED);
	uint32_t to = bb_comp(&T, BTF_KIND_STRUCT, "other", 8, 1, 0);
	bb_member(&T, "only_target", tl, 0, 0);
	uint32_t tp = bb_ref(&T, BTF_KIND_PTR, NULL, to);
	bb_comp(&T, BTF_KIND_STRUCT, "m", 24, 3, 0);
	bb_member(&T, "pad", tl, 0, 0);
	bb_member(&T, "p", tp, 64, 0);
	bb_member(&T, "x", ti, 128, 0);
	bb_enum(&T, "e", 4, 2, 0);
	bb_enumval(&T, "E0", 0);
	bb_enumval(&T, "E1", 1);
	const struct { uint32_t type; uint64_t want; } cases[] = {
		{ ma, 1 }, { mb, 0 }, { ec, 1 }, { ed, 0 },
	};
	struct bpf_core_relo r[4];
	for (int i = 0; i < 4; i++)
		r[i] = relo(&L, cases[i].type, "0", BPF_CORE_TYPE_MATCHES);
	struct ub_btf *l = parse(&L), *t = parse(&T);
	for (int i = 0; i < 4; i++) {
		struct calc c = calc(l, t, r[i]);
		UT_CHECK(!c.err && c.res.new_val == cases[i].want, "case %d: err %d got %llu %s", i,
			 c.err, (unsigned long long)c.res.new_val, c.msg);
	}
	ub_btf_free(l), ub_btf_free(t);
}

/* Two target candidates (foo, foo___2) placing b differently: ambiguous, refused. */
UT_TEST(core_ambiguous)
{
	static struct fx f;
	fx_build(&f);
	uint32_t ti = bb_int(&f.T, "int", 4, BTF_INT_SIGNED);
	bb_comp(&f.T, BTF_KIND_STRUCT, "foo___2", 8, 1, 0);
	bb_member(&f.T, "b", ti, 32, 0);
	struct bpf_core_relo r = relo(&f.L, f.l_foo, "0:1", BPF_CORE_FIELD_BYTE_OFFSET);
	struct ub_btf *l = parse(&f.L), *t = parse(&f.T);
	struct calc c = calc(l, t, r);
	UT_CHECK_EQ(c.err, -EINVAL);
	UT_CHECK_STR(c.msg, "disagree");
	/* Without a target the object's own BTF is used: foo___v1 matches itself. */
	c = calc(l, NULL, r);
	UT_CHECK(!c.err && c.res.new_val == 4, "own BTF: %d %s", c.err, c.msg);
	ub_btf_free(l), ub_btf_free(t);
}

UT_TEST(core_bad_patch_targets)
{
	static struct fx f;
	fx_build(&f);
	struct bpf_core_relo r = relo(&f.L, f.l_foo, "0:1", BPF_CORE_FIELD_BYTE_OFFSET);
	struct ub_btf *l = parse(&f.L), *t = parse(&f.T);
	char msg[256];
	struct ub_log log;
	ub_log_init(&log, msg, sizeof(msg));
	/* ALU with a register source cannot carry an offset */
	struct bpf_insn x = { .code = BPF_ALU64 | BPF_ADD | BPF_X };
	UT_CHECK_EQ(ub_core_apply(l, t, &r, &x, 1, &log), -EINVAL);
	/* an instruction past the end */
	r.insn_off = 8;
	UT_CHECK_EQ(ub_core_apply(l, t, &r, &x, 1, &log), -EINVAL);
	UT_CHECK_STR(msg, "outside");
	ub_btf_free(l), ub_btf_free(t);
}

/* ---- against the running kernel ---- */

/* bits_offset (and bitfield_size) of a member of a named struct, from bpftool's dump. */
static int bpftool_member(const char *sname, const char *member, long *bits, long *bf)
{
	char cmd[256], line[512], head[128];
	int in = 0, found = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null");
	snprintf(head, sizeof(head), "STRUCT '%s' ", sname);
	if (!(p = popen(cmd, "r")))
		return -1;
	while (fgets(line, sizeof(line), p)) {
		if (line[0] == '[') {
			if (in)
				break;
			in = strstr(line, head) != NULL;
			continue;
		}
		char want[128];
		snprintf(want, sizeof(want), "\t'%s' ", member);
		if (in && !strncmp(line, want, strlen(want))) {
			const char *b = strstr(line, "bits_offset="), *s = strstr(line, "bitfield_size=");
			*bits = b ? strtol(b + 12, NULL, 10) : -1;
			*bf = s ? strtol(s + 14, NULL, 10) : 0;
			found = 0;
		}
	}
	pclose(p);
	return found;
}

UT_TEST(core_vmlinux_task_struct)
{
	struct ub_btf *vm = NULL;
	char msg[512];
	struct ub_log log;
	long pid_bits, bf, tgid_bits, fork_bits, fork_bf;

	ub_log_init(&log, msg, sizeof(msg));
	if (ub_btf_load_file("/sys/kernel/btf/vmlinux", &vm, &log)) {
		ut_skip("no /sys/kernel/btf/vmlinux");
		return;
	}
	if (bpftool_member("task_struct", "pid", &pid_bits, &bf) ||
	    bpftool_member("task_struct", "tgid", &tgid_bits, &bf) ||
	    bpftool_member("task_struct", "sched_reset_on_fork", &fork_bits, &fork_bf)) {
		ub_btf_free(vm);
		ut_skip("bpftool cannot dump the kernel's BTF");
		return;
	}
	/* local: struct task_struct___mine { int pid; int tgid; unsigned sched_reset_on_fork:1; } */
	static struct bb L;
	bb_init(&L);
	uint32_t li = bb_int(&L, "int", 4, BTF_INT_SIGNED);
	uint32_t lu = bb_int(&L, "unsigned int", 4, 0);
	uint32_t ts = bb_comp(&L, BTF_KIND_STRUCT, "task_struct___mine", 12, 3, 1);
	bb_member(&L, "pid", li, 0, 0);
	bb_member(&L, "tgid", li, 32, 0);
	bb_member(&L, "sched_reset_on_fork", lu, 64, 1);
	struct bpf_core_relo rp = relo(&L, ts, "0:0", BPF_CORE_FIELD_BYTE_OFFSET);
	struct bpf_core_relo rt = relo(&L, ts, "0:1", BPF_CORE_FIELD_BYTE_OFFSET);
	struct bpf_core_relo rl = relo(&L, ts, "0:2", BPF_CORE_FIELD_LSHIFT_U64);
	struct bpf_core_relo rs = relo(&L, ts, "0:2", BPF_CORE_FIELD_BYTE_OFFSET);
	struct ub_btf *l = parse(&L);
	struct calc c = calc(l, vm, rp);
	UT_CHECK(!c.err && c.res.new_val == (uint64_t)pid_bits / 8, "pid at %ld: got %llu %s",
		 pid_bits / 8, (unsigned long long)c.res.new_val, c.msg);
	c = calc(l, vm, rt);
	UT_CHECK(!c.err && c.res.new_val == (uint64_t)tgid_bits / 8, "tgid at %ld", tgid_bits / 8);
	/* the bit-field (unsigned int, width fork_bf): loaded as the 4-byte unit holding it */
	uint64_t byte_off = (uint64_t)fork_bits / 8 / 4 * 4;
	c = calc(l, vm, rs);
	UT_CHECK(!c.err && c.res.new_val == byte_off, "bit-field unit at %llu",
		 (unsigned long long)byte_off);
	c = calc(l, vm, rl);
	UT_CHECK(!c.err && c.res.new_val == 64 - ((uint64_t)fork_bits + fork_bf - byte_off * 8),
		 "lshift");
	ub_btf_free(l);
	ub_btf_free(vm);
}

/* Random relocations (type ids, access strings, kinds) against the hand-built and the
 * kernel's BTF: each gives 0 or a negative errno with a message, never a crash. */
UT_TEST(core_random_relos)
{
	static struct fx f;
	static struct bb L;
	struct ub_btf *vm = NULL;
	char msg[512];
	struct ub_log log;
	uint32_t s = 88172645u;
	int ok = 0, bad = 0;

	fx_build(&f);
	/* the access strings: valid-looking, too deep, malformed */
	const char *acc[] = { "0", "0:0", "0:1", "0:1:2", "1:0", "0:5", "0:0:0:0:0:0", ":", "0::1",
			      "x", "0:-1", "99999999999", "0:1:3:0", "2" };
	uint32_t acc_off[sizeof(acc) / sizeof(acc[0])];
	for (size_t i = 0; i < sizeof(acc) / sizeof(acc[0]); i++)
		acc_off[i] = bb_str(&f.L, acc[i]);
	(void)L;
	struct ub_btf *l = parse(&f.L), *t = parse(&f.T);
	ub_log_init(&log, msg, sizeof(msg));
	if (ub_btf_load_file("/sys/kernel/btf/vmlinux", &vm, &log))
		vm = NULL;
	for (int round = 0; round < 3000; round++) {
		s ^= s << 13, s ^= s >> 17, s ^= s << 5;
		struct bpf_core_relo r = {
			.insn_off = 0, .type_id = s % (ub_btf_type_cnt(l) + 1),
			.access_str_off = acc_off[(s >> 8) % (sizeof(acc) / sizeof(acc[0]))],
			.kind = (s >> 16) % 14,
		};
		struct ub_core_res res;
		ub_log_init(&log, msg, sizeof(msg));
		int err = ub_core_calc(l, (round & 1) && vm ? vm : t, &r, &res, &log);
		if (err) {
			bad++;
			UT_CHECK(err < 0 && log.len > 0, "round %d: error %d without a message", round, err);
		} else {
			ok++;
		}
	}
	UT_CHECK(ok > 0 && bad > 0, "both outcomes: %d ok, %d refused", ok, bad);
	ub_btf_free(l), ub_btf_free(t), ub_btf_free(vm);
}
