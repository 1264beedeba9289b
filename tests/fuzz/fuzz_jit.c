/*
 * fuzz_jit: the JIT against the interpreter.
 *
 * Input: one byte N, N bytes of memory (the program's context: r1 points at it, r2 holds
 * its size), then instructions. A program that passes validation is built by both engines
 * (and by the JIT with constant blinding) in checked mode and run on the same memory: all
 * must fault with the same errno, or none, and then agree on r0 and on every byte of
 * memory. Runs that spend their instruction budget are not compared (the engines count it
 * at different places: every instruction against function entries and backward jumps).
 * A program that ran to its end checked is then run again in trusted mode (no runtime
 * checks; the same path, so no fault) by all three, and must give the same answer again.
 *
 * tests/jit_diff.h compares the same way for the unit tests; this target keeps its own
 * runner because it needs one context block for every engine (jd_run gives each its own
 * copy, so a program that computes with its context address, r0 = r1, would differ).
 *
 * What the ISA leaves undefined is made defined first, or the engines would be compared
 * on garbage: a prologue gives r0 and r3-r9 fixed values and zeroes the 512-byte frame
 * (the program's own jumps before its start land in the prologue, the same for both).
 * Registers r1-r5 after a helper call or an LD_ABS/LD_IND (which the kernel treats as a
 * call: its verifier marks r1-r5 unreadable after one, as uebpf's do_ld_abs does) and the
 * frames of local calls are undefined too, and cannot be fixed up from outside: programs
 * with calls or legacy packet loads run in both engines (under ASan) without being
 * compared. The helpers are deterministic ones of the harness's own.
 */
#include <uebpf/uebpf.h>
#include "fuzz.h"

#define MAX_INSNS	512
#define BUDGET		200000

static uint64_t h_mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return (a * 0x9e3779b97f4a7c15ull) ^ (b << 7) ^ (c >> 3) ^ (d + e);
}

static uint64_t h_first(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return a;
}

static uint64_t h_sum(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return a + b + c + d + e;
}

static const struct uebpf_helper helpers[] = {
	{ .id = 1, .name = "mix", .fn = h_mix },
	{ .id = 2, .name = "first", .fn = h_first },
	{ .id = 7, .name = "sum", .fn = h_sum },
};

struct outcome {
	int err;
	int budget;		/* the run stopped at its budget */
	uint64_t r0;
	uint8_t mem[256];
	char why[256];
};

static int build(const struct bpf_insn *p, size_t n, enum uebpf_engine engine, uint32_t flags,
		 size_t ctx_size, struct uebpf_prog **prog)
{
	struct uebpf_prog_opts o = { .sz = sizeof(o), .engine = engine, .flags = flags,
				     .insn_budget = BUDGET, .helpers = helpers,
				     .helper_cnt = sizeof(helpers) / sizeof(helpers[0]),
				     .ctx_size = ctx_size };
	return uebpf_prog_new(p, n, &o, prog);
}

/*
 * The context: a heap block of exactly len bytes (ASan sees an access past it in a
 * trusted run), the same block for every run of an input, since a program may compute
 * with its address.
 */
static uint8_t *ctx_block;

static void run(struct uebpf_prog *prog, const uint8_t *mem, size_t len, struct outcome *out)
{
	uint8_t *m = ctx_block;
	struct uebpf_run_opts r = { .sz = sizeof(r), .ctx = m, .ctx_size = len,
				    .err_buf = out->why, .err_size = sizeof(out->why) };

	memcpy(m, mem, len);
	out->why[0] = 0;
	out->err = uebpf_prog_run_opts(prog, &r);
	out->budget = out->err && strstr(out->why, "budget") != NULL;
	out->r0 = r.retval;
	memcpy(out->mem, m, len);
}

static void compare(const char *what, const struct outcome *i, const struct outcome *j,
		    size_t len)
{
	if (i->err != j->err)	/* both fault (with the same errno), or neither */
		fuzz_fail("%s: interpreter %d '%s', JIT %d '%s'", what, i->err, i->why, j->err,
			  j->why);
	if (i->err)
		return;
	if (i->r0 != j->r0)
		fuzz_fail("%s: r0 differs: interpreter 0x%llx, JIT 0x%llx", what,
			  (unsigned long long)i->r0, (unsigned long long)j->r0);
	for (size_t k = 0; k < len; k++)
		if (i->mem[k] != j->mem[k])
			fuzz_fail("%s: memory byte %zu differs: interpreter 0x%02x, JIT 0x%02x",
				  what, k, i->mem[k], j->mem[k]);
}

/*
 * The interpreter and the JIT (and the JIT with constant blinding, which must not change
 * an answer either) in one mode; 1 if the runs were compared and ended without a fault.
 */
static int both(const char *what, const struct bpf_insn *p, size_t n, uint32_t flags,
		const uint8_t *mem, size_t len, int cmp)
{
	static const struct { enum uebpf_engine engine; uint32_t extra; const char *name; } e[] = {
		{ UEBPF_ENGINE_INTERP, 0, "interpreter" },
		{ UEBPF_ENGINE_JIT, 0, "JIT" },
		{ UEBPF_ENGINE_JIT, UEBPF_PROG_F_JIT_HARDEN, "hardened JIT" },
	};
	static struct outcome o[3];
	struct uebpf_prog *prog[3] = { NULL, NULL, NULL };
	int err[3], ran = 1, budget = 0;

	for (int k = 0; k < 3; k++) {
		err[k] = build(p, n, e[k].engine, flags | e[k].extra, len, &prog[k]);
		if (!err[0] != !err[k])
			fuzz_fail("%s: the interpreter says %d to the program, the %s %d", what,
				  err[0], e[k].name, err[k]);
		if (!err[k]) {
			run(prog[k], mem, len, &o[k]);
			budget |= o[k].budget;
		}
		uebpf_prog_free(prog[k]);
	}
	if (err[0] || !cmp || budget)
		return 0;
	for (int k = 1; k < 3; k++) {
		char name[64];
		snprintf(name, sizeof(name), "%s, %s", what, e[k].name);
		compare(name, &o[0], &o[k], len);
		ran &= !o[k].err;
	}
	return ran && !o[0].err;
}

#define PROLOGUE	(8 + 64)

static size_t prologue(struct bpf_insn *p)
{
	static const uint8_t regs[] = { 0, 3, 4, 5, 6, 7, 8, 9 };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(regs); i++)
		p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = regs[i],
					    .imm = (int32_t)(0x1000 * i + 0x77) };
	for (int16_t off = -8; off >= -512; off -= 8)
		p[n++] = (struct bpf_insn){ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = 10,
					    .off = off };
	return n;
}

/*
 * Programs the engines may rightly disagree on: calls and LD_ABS/LD_IND (see above; found
 * by this target: a program reading r2 after LD_IND got the JIT's clobbered value), and
 * programs that read r10 as a value rather than use it as a base address (the stacks of
 * the two engines are at different addresses, so r10's value may reach r0 or memory).
 */
static int comparable(const struct bpf_insn *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t cls = BPF_CLASS(p[i].code);
		if (p[i].code == (BPF_JMP | BPF_CALL))
			return 0;
		if (cls == BPF_LD && (BPF_MODE(p[i].code) == BPF_ABS ||
				      BPF_MODE(p[i].code) == BPF_IND))
			return 0;
		if ((cls == BPF_ALU || cls == BPF_ALU64 || cls == BPF_JMP || cls == BPF_JMP32) &&
		    BPF_SRC(p[i].code) == BPF_X && p[i].src_reg == 10)
			return 0;
		if ((cls == BPF_STX) && p[i].src_reg == 10)
			return 0;
		if ((cls == BPF_ALU || cls == BPF_ALU64) && p[i].dst_reg == 10)
			return 0;
		if ((cls == BPF_JMP || cls == BPF_JMP32) && p[i].dst_reg == 10 &&
		    BPF_OP(p[i].code) != BPF_CALL && BPF_OP(p[i].code) != BPF_EXIT &&
		    BPF_OP(p[i].code) != BPF_JA)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bpf_insn p[PROLOGUE + MAX_INSNS];
	uint8_t mem[256];

	if (size < 1)
		return 0;
	size_t len = data[0] < size - 1 ? data[0] : size - 1;
	memcpy(mem, data + 1, len);
	size_t n = (size - 1 - len) / sizeof(p[0]);
	if (!n)
		return 0;
	if (n > MAX_INSNS)
		n = MAX_INSNS;
	size_t pro = prologue(p);
	memcpy(p + pro, data + 1 + len, n * sizeof(p[0]));
	n += pro;
	int cmp = comparable(p, n);
	ctx_block = malloc(len ? len : 1);
	if (!ctx_block)
		fuzz_fail("out of memory");
	if (both("checked", p, n, UEBPF_PROG_F_CHECKED, mem, len, cmp) && cmp)
		both("trusted", p, n, UEBPF_PROG_F_TRUSTED, mem, len, cmp);
	free(ctx_block);
	return 0;
}
