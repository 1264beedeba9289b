/* Structural validation: every class of error, with the index and instruction named. */
#include <errno.h>
#include <stdlib.h>
#include "ut.h"
#include "isa/isa.h"

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define EXIT_INSN I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define MOV64_IMM(d, v) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v)

static int validate(const struct bpf_insn *p, size_t n, char *log, size_t logsz)
{
	struct ub_log l;
	ub_log_init(&l, log, logsz);
	return ub_isa_validate(p, n, &l);
}

#define EXPECT_INVALID(prog, msg) do { char log_[512]; \
	int rc_ = validate(prog, sizeof(prog) / sizeof(prog[0]), log_, sizeof(log_)); \
	UT_CHECK_EQ(rc_, -EINVAL); UT_CHECK_STR(log_, msg); } while (0)

UT_TEST(valid_minimal)
{
	struct bpf_insn p[] = { MOV64_IMM(0, 1), EXIT_INSN };
	char log[256];
	UT_CHECK_EQ(validate(p, 2, log, sizeof(log)), 0);
}

UT_TEST(unknown_opcode)
{
	/* 0xff is class ALU64 (7) with op 0xf0, which RFC 9669 leaves undefined. */
	struct bpf_insn p[] = { I(0xff, 0, 0, 0, 0), EXIT_INSN };
	EXPECT_INVALID(p, "insn 0 (ff 00 0000 00000000): unknown opcode");
}

UT_TEST(sdiv_needs_off_1)
{
	/* DIV with off 2 matches neither div (off 0) nor sdiv (off 1). */
	struct bpf_insn p[] = { I(BPF_ALU64 | BPF_DIV | BPF_X, 0, 1, 2, 0), EXIT_INSN };
	EXPECT_INVALID(p, "unknown opcode");
}

UT_TEST(reserved_fields)
{
	struct bpf_insn a[] = { I(BPF_ALU64 | BPF_ADD | BPF_K, 0, 3, 0, 1), EXIT_INSN };
	struct bpf_insn b[] = { I(BPF_ALU64 | BPF_ADD | BPF_X, 0, 1, 0, 7), EXIT_INSN };
	struct bpf_insn c[] = { I(BPF_JMP | BPF_EXIT, 1, 0, 0, 0) };
	struct bpf_insn d[] = { I(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 4, 1), EXIT_INSN };
	EXPECT_INVALID(a, "reserved field src_reg is not zero");
	EXPECT_INVALID(b, "reserved field imm is not zero");
	EXPECT_INVALID(c, "reserved field dst_reg is not zero");
	EXPECT_INVALID(d, "reserved field off is not zero");
}

UT_TEST(bad_registers)
{
	struct bpf_insn a[] = { MOV64_IMM(11, 0), EXIT_INSN };
	struct bpf_insn b[] = { I(BPF_ALU64 | BPF_MOV | BPF_X, 0, 12, 0, 0), EXIT_INSN };
	EXPECT_INVALID(a, "invalid dst register");
	EXPECT_INVALID(b, "invalid src register");
}

UT_TEST(write_to_r10)
{
	struct bpf_insn a[] = { MOV64_IMM(10, 0), EXIT_INSN };
	/* A fetch atomic writes its src register. */
	struct bpf_insn b[] = { I(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 10, 0, BPF_ADD | BPF_FETCH),
				EXIT_INSN };
	EXPECT_INVALID(a, "frame pointer r10 is read only");
	EXPECT_INVALID(b, "frame pointer r10 is read only");
}

UT_TEST(lddw_halves)
{
	struct bpf_insn a[] = { EXIT_INSN, I(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 1) };
	struct bpf_insn b[] = { I(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 1), I(0x07, 0, 0, 0, 0),
				EXIT_INSN };
	EXPECT_INVALID(a, "lddw is missing its second half");
	EXPECT_INVALID(b, "insn 1 (07 00 0000 00000000");
	EXPECT_INVALID(b, "invalid second half of lddw");
}

UT_TEST(jumps)
{
	struct bpf_insn out[] = { I(BPF_JMP | BPF_JA, 0, 0, 5, 0), EXIT_INSN };
	struct bpf_insn back[] = { I(BPF_JMP | BPF_JA, 0, 0, -3, 0), EXIT_INSN };
	struct bpf_insn mid[] = { I(BPF_JMP | BPF_JA, 0, 0, 1, 0),
				  I(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 1), I(0, 0, 0, 0, 0),
				  EXIT_INSN };
	struct bpf_insn ja32[] = { I(BPF_JMP32 | BPF_JA, 0, 0, 0, 100), EXIT_INSN };
	EXPECT_INVALID(out, "insn 0 (05 00 0005 00000000 'goto +5'): jump out of range");
	EXPECT_INVALID(back, "jump out of range");
	EXPECT_INVALID(mid, "jump into the middle of lddw");
	EXPECT_INVALID(ja32, "jump out of range");
}

UT_TEST(fall_off_end)
{
	struct bpf_insn a[] = { MOV64_IMM(0, 0) };
	struct bpf_insn b[] = { MOV64_IMM(0, 0), I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, -2, 0) };
	EXPECT_INVALID(a, "control falls off the end");
	EXPECT_INVALID(b, "control falls off the end");
}

UT_TEST(calls)
{
	struct bpf_insn out[] = { I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 7), EXIT_INSN };
	struct bpf_insn mid[] = { I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2), EXIT_INSN,
				  I(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 1), I(0, 0, 0, 0, 0),
				  EXIT_INSN };
	/* lddw with src 4 (BPF_PSEUDO_FUNC) names a function by relative index. */
	struct bpf_insn fn[] = { I(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_FUNC, 0, 9),
				 I(0, 0, 0, 0, 0), EXIT_INSN };
	EXPECT_INVALID(out, "call to a target outside the program");
	EXPECT_INVALID(mid, "insn 0");
	EXPECT_INVALID(mid, "call into the middle of lddw");
	EXPECT_INVALID(fn, "call to a target outside the program");
}

UT_TEST(empty_program)
{
	char log[128];
	UT_CHECK_EQ(validate(NULL, 0, log, sizeof(log)), -EINVAL);
	UT_CHECK_STR(log, "empty program");
}

UT_TEST(table_is_consistent)
{
	/* Every row must be found again by lookup from an instruction built from it. */
	for (int op = 0; op < UB_OP__COUNT; op++) {
		const struct ub_opinfo *oi = &ub_ops[op];
		struct bpf_insn in = { .code = oi->code };
		if (oi->disc == UB_DISC_OFF) in.off = (int16_t)oi->dval;
		if (oi->disc == UB_DISC_IMM) in.imm = oi->dval;
		if (oi->disc == UB_DISC_SRC) in.src_reg = (uint8_t)oi->dval;
		UT_CHECK(ub_isa_lookup(&in) == op, "row %s is shadowed by %d", oi->id, ub_isa_lookup(&in));
	}
}
