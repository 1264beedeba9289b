/*
 * The JIT's own properties: the disassembly dump, constant blinding, W^X code pages freed
 * with their program. (Its results are tested by the conformance suite, the kernel
 * differential test and test_jit_diff.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <uebpf/uebpf.h>
#include "jit/jit.h"
#include "ut.h"

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })
#define EXIT I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static struct uebpf_prog *load(const struct bpf_insn *p, size_t n, enum uebpf_engine engine,
			       uint32_t flags)
{
	struct uebpf_prog_opts o = { .sz = sizeof(o), .engine = engine, .flags = flags,
				     .ctx_size = 64 };
	struct uebpf_prog *prog = NULL;
	int err = uebpf_prog_new(p, n, &o, &prog);

	UT_CHECK(!err, "uebpf_prog_new: %d", err);
	return prog;
}

static uint64_t run(struct uebpf_prog *prog, void *ctx, int *err)
{
	struct uebpf_run_opts r = { .sz = sizeof(r), .ctx = ctx, .ctx_size = 64 };

	*err = uebpf_prog_run_opts(prog, &r);
	return r.retval;
}

static char *dump(const struct uebpf_prog *prog, int opcodes, int *err)
{
	FILE *f = tmpfile();
	char *text = NULL;

	*err = f ? uebpf_prog_dump_jited(prog, f, opcodes) : -ENOMEM;
	long len = f ? ftell(f) : -1;
	if (len >= 0 && (text = calloc(1, (size_t)len + 1))) {
		rewind(f);
		if (fread(text, 1, (size_t)len, f) != (size_t)len)
			text[0] = 0;
	}
	if (f)
		fclose(f);
	return text;
}

/* ---- prog dump jited ---- */

static const struct bpf_insn small[] = {
	I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 7),	/* r0 = 7 */
	I(BPF_ALU64 | BPF_ADD | BPF_X, 0, 1, 0, 0),	/* r0 += r1 */
	EXIT,
};

UT_TEST(dump_interleaves_bpf_and_x86)
{
	struct uebpf_prog *prog = load(small, 3, UEBPF_ENGINE_JIT, UEBPF_PROG_F_TRUSTED);
	int err = 0;
	char *text = prog ? dump(prog, 0, &err) : NULL;

	if (!text)
		goto out;
	UT_CHECK(!err, "dump: %d", err);
	/* each eBPF instruction heads its block, in the disassembler's LLVM syntax */
	UT_CHECK_STR(text, "; 0: r0 = 7\n");
	UT_CHECK_STR(text, "; 1: r0 += r1\n");
	UT_CHECK_STR(text, "; 2: exit\n");
	UT_CHECK_STR(text, "; function at insn 0: prologue\n");
	/* what the JIT emits for them (register map: r0 rax, r1 rdi; frame in rbp) */
	UT_CHECK_STR(text, "pushq\t%rbp");
	UT_CHECK_STR(text, "movq\t%rsp, %rbp");
	UT_CHECK_STR(text, "addq\t%rdi, %rax");
	UT_CHECK_STR(text, "retq");
	/* blocks come in instruction order */
	UT_CHECK(strstr(text, "; 1:") < strstr(text, "addq\t%rdi, %rax") &&
		 strstr(text, "addq\t%rdi, %rax") < strstr(text, "; 2:"), "order:\n%s", text);
	free(text);
	text = dump(prog, 1, &err);
	UT_CHECK(text && !err, "dump with opcodes: %d", err);
	UT_CHECK_STR(text, "pushq\t%rbp\n\t55\n");	/* push rbp is the one byte 0x55 */
out:
	free(text);
	uebpf_prog_free(prog);
}

UT_TEST(dump_refuses_interpreted_program)
{
	struct uebpf_prog *prog = load(small, 3, UEBPF_ENGINE_INTERP, UEBPF_PROG_F_TRUSTED);
	int err = 0;
	char *text = prog ? dump(prog, 0, &err) : NULL;

	UT_CHECK(err == -ENOENT, "dump of an interpreted program: %d", err);
	free(text);
	uebpf_prog_free(prog);
}

/* ---- Constant blinding ---- */

/*
 * A program with a distinct 32-bit immediate in every form the JIT takes one: ALU64 and
 * ALU32 with K (mov, add, sub, mul, and, or, xor, div, mod), a jump with K, a store of an
 * immediate, lddw, LD_ABS. Every immediate has four different non-zero bytes, so finding
 * its little-endian bytes in the code is no accident.
 */
#define K(n) ((int32_t)(0x5a3c0000u + 0x1700u * (n) + 0x61u + (n)))
static const struct bpf_insn imms[] = {
	I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, K(1)),
	I(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, K(2)),
	I(BPF_ALU | BPF_SUB | BPF_K, 0, 0, 0, K(3)),
	I(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, K(4)),
	I(BPF_ALU64 | BPF_AND | BPF_K, 0, 0, 0, K(5)),
	I(BPF_ALU | BPF_OR | BPF_K, 0, 0, 0, K(6)),
	I(BPF_ALU64 | BPF_XOR | BPF_K, 0, 0, 0, K(7)),
	I(BPF_ALU64 | BPF_DIV | BPF_K, 0, 0, 0, K(8)),
	I(BPF_ALU | BPF_MOD | BPF_K, 0, 0, 0, K(9)),
	I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -8, K(10)),
	I(BPF_LDX | BPF_MEM | BPF_W, 2, 10, -8, 0),
	I(BPF_ALU64 | BPF_ADD | BPF_X, 0, 2, 0, 0),
	I(BPF_JMP | BPF_JGT | BPF_K, 0, 0, 1, K(11)),
	I(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, 1),
	I(BPF_LD | BPF_IMM | BPF_DW, 3, 0, 0, K(12)),
	I(0, 0, 0, 0, K(13)),
	I(BPF_ALU64 | BPF_XOR | BPF_X, 0, 3, 0, 0),
	I(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),
	I(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 0),	/* r0 = ctx[0] (offset 0 is not blinded) */
	I(BPF_ALU64 | BPF_MOV | BPF_X, 7, 0, 0, 0),
	I(BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, K(14) & 0x1f),
	I(BPF_ALU64 | BPF_ADD | BPF_X, 0, 7, 0, 0),
	EXIT,
};
#define NIMMS 14

static int code_has(const struct uebpf_prog *prog, int32_t imm)
{
	const struct ub_jit_image *img = prog->jit;

	return memmem(img->code, img->size, &imm, sizeof(imm)) != NULL;
}

static void check_blinding(uint32_t flags)
{
	size_t n = sizeof(imms) / sizeof(imms[0]);
	struct uebpf_prog *plain = load(imms, n, UEBPF_ENGINE_JIT, flags);
	struct uebpf_prog *hard = load(imms, n, UEBPF_ENGINE_JIT, flags | UEBPF_PROG_F_JIT_HARDEN);
	struct uebpf_prog *interp = load(imms, n, UEBPF_ENGINE_INTERP, flags);
	uint8_t ctx[64];
	int e1, e2, e3;

	if (!plain || !hard || !interp)
		goto out;
	UT_CHECK(hard->jit->hardened && !plain->jit->hardened, "hardened flags");
	/* the test finds the constants where they are: in the plain code */
	for (int i = 1; i <= NIMMS - 1; i++)
		UT_CHECK(code_has(plain, K(i)), "plain code lacks K(%d) = 0x%x", i, (unsigned)K(i));
	for (int i = 1; i <= NIMMS; i++)
		UT_CHECK(!code_has(hard, K(i)), "hardened code holds K(%d) = 0x%x", i, (unsigned)K(i));
	for (int k = 0; k < 64; k++)
		ctx[k] = (uint8_t)(k * 37 + 11);
	uint64_t r1 = run(plain, ctx, &e1), r2 = run(hard, ctx, &e2), r3 = run(interp, ctx, &e3);
	UT_CHECK(!e1 && !e2 && !e3, "runs: %d %d %d", e1, e2, e3);
	UT_CHECK_EQ(r2, r3);
	UT_CHECK_EQ(r1, r3);
out:
	uebpf_prog_free(plain);
	uebpf_prog_free(hard);
	uebpf_prog_free(interp);
}

UT_TEST(blinding_hides_immediates_trusted)
{
	check_blinding(UEBPF_PROG_F_TRUSTED);
}

UT_TEST(blinding_hides_immediates_checked)
{
	check_blinding(UEBPF_PROG_F_CHECKED);
}

/* Two compilations of one program get different keys: different code bytes. */
UT_TEST(blinding_keys_differ_per_compilation)
{
	size_t n = sizeof(imms) / sizeof(imms[0]);
	struct uebpf_prog *a = load(imms, n, UEBPF_ENGINE_JIT, UEBPF_PROG_F_JIT_HARDEN |
				    UEBPF_PROG_F_TRUSTED);
	struct uebpf_prog *b = load(imms, n, UEBPF_ENGINE_JIT, UEBPF_PROG_F_JIT_HARDEN |
				    UEBPF_PROG_F_TRUSTED);

	if (a && b) {
		UT_CHECK_EQ(a->jit->size, b->jit->size);	/* fixed-size blinded forms */
		UT_CHECK(memcmp(a->jit->code, b->jit->code, a->jit->size) != 0, "same keys twice");
	}
	uebpf_prog_free(a);
	uebpf_prog_free(b);
}

/* UEBPF_JIT_HARDEN=1 blinds checked (untrusted) programs only, 2 blinds all, as the sysctl. */
UT_TEST(blinding_from_environment)
{
	size_t n = sizeof(imms) / sizeof(imms[0]);
	static const struct { const char *val; uint32_t flags; int want; } cases[] = {
		{ "0", UEBPF_PROG_F_CHECKED, 0 }, { "1", UEBPF_PROG_F_CHECKED, 1 },
		{ "1", UEBPF_PROG_F_TRUSTED, 0 }, { "2", UEBPF_PROG_F_TRUSTED, 1 },
	};
	char *saved = getenv("UEBPF_JIT_HARDEN") ? strdup(getenv("UEBPF_JIT_HARDEN")) : NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("UEBPF_JIT_HARDEN", cases[i].val, 1);
		struct uebpf_prog *p = load(imms, n, UEBPF_ENGINE_JIT, cases[i].flags);
		if (p)
			UT_CHECK(p->jit->hardened == cases[i].want && code_has(p, K(2)) != cases[i].want,
				 "UEBPF_JIT_HARDEN=%s flags %u: hardened %d", cases[i].val,
				 cases[i].flags, p->jit->hardened);
		uebpf_prog_free(p);
	}
	if (saved)
		setenv("UEBPF_JIT_HARDEN", saved, 1);
	else
		unsetenv("UEBPF_JIT_HARDEN");
	free(saved);
}

/* The conformance suite's expected results, through the plugin with every program blinded. */
UT_TEST(blinding_keeps_conformance_results)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char cmd[512], line[512], last[512] = "";
	unsigned passed = 0, failed = 0;

	snprintf(cmd, sizeof(cmd), "%s/bin/uebpf-plugin", build);
	FILE *probe = fopen(cmd, "r");
	if (!probe) {
		ut_skip("%s not built", cmd);
		return;
	}
	fclose(probe);
	snprintf(cmd, sizeof(cmd), "UEBPF_JIT_HARDEN=2 python3 tests/conformance.py "
		 "%s/bin/uebpf-plugin --jit 2>&1", build);
	FILE *p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p)) {
		if (!strncmp(line, "FAIL", 4))
			fprintf(stderr, "%s", line);
		snprintf(last, sizeof(last), "%s", line);
	}
	int rc = p ? pclose(p) : -1;
	if (strstr(last, "not found")) {
		ut_skip("%s", last);
		return;
	}
	UT_CHECK(sscanf(last, "conformance --jit: %u passed, %u failed", &passed, &failed) == 2,
		 "conformance output: %s", last);
	UT_CHECK(rc == 0 && failed == 0 && passed >= 313, "hardened conformance: %s", last);
}

/* ---- W^X ---- */

/* The permissions ("r-xp") of the mapping holding addr in /proc/self/maps, or "" if none;
 * *wx counts mappings anywhere that are writable and executable at once. */
static void map_perms(const void *addr, char perms[5], int *wx)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	perms[0] = 0;
	*wx = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) != 3)
			continue;
		if (p[1] == 'w' && p[2] == 'x')
			(*wx)++;
		if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi)
			memcpy(perms, p, 5);
	}
	if (f)
		fclose(f);
}

UT_TEST(code_is_never_writable_and_is_freed)
{
	struct uebpf_prog *prog = load(small, 3, UEBPF_ENGINE_JIT, UEBPF_PROG_F_TRUSTED);
	char perms[5];
	int wx, err;

	if (!prog)
		return;
	void *code = prog->jit->code;
	map_perms(code, perms, &wx);
	UT_CHECK(!strcmp(perms, "r-xp"), "code mapping is '%s', want r-xp", perms);
	UT_CHECK(wx == 0, "%d mappings are writable and executable", wx);
	UT_CHECK_EQ(run(prog, NULL, &err), 7);
	uebpf_prog_free(prog);
	map_perms(code, perms, &wx);
	UT_CHECK(strcmp(perms, "r-xp") != 0, "code still mapped executable after free");
}
