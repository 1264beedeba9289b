/*
 * Assembler and disassembler: the bpf_conformance programs, spellings checked against
 * llvm-mc/llvm-objdump 14, verifier-log variants, exact round trips of every row of
 * ub_ops[] in both syntaxes, and errors with their line:column.
 */
#include <errno.h>
#include <stdlib.h>
#include "ut.h"
#include "isa/isa.h"

#define I(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

/* Assembles a copy of text that is exactly strlen(text) long: no NUL to lean on. */
static int assemble(const char *text, struct bpf_insn **out, size_t *cnt, char *log, size_t logsz)
{
	size_t len = strlen(text);
	char *copy = malloc(len ? len : 1);
	struct ub_log l;

	memcpy(copy, text, len);
	ub_log_init(&l, log, logsz);
	*out = NULL;
	*cnt = 0;
	int rc = ub_asm(copy, len, out, cnt, &l);
	free(copy);
	return rc;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "b7000000..." into bytes; returns the byte count or -1. */
static long unhex(const char *hex, size_t len, unsigned char *out, size_t max)
{
	if (len % 2 || len / 2 > max)
		return -1;
	for (size_t k = 0; k < len; k += 2) {
		int hi = hex_nibble(hex[k]), lo = hex_nibble(hex[k + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[k / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

/* Disassembles a whole program, one line per instruction (lddw: one line, two slots). */
static char *disasm_prog(const struct bpf_insn *p, size_t n, enum ub_syntax syn)
{
	size_t cap = 64 * n + 1, len = 0;
	char *text = malloc(cap), line[160];

	text[0] = '\0';
	for (size_t i = 0; i < n; i += ub_isa_is_lddw(&p[i]) && i + 1 < n ? 2 : 1) {
		ub_disasm_insn(p, n, i, syn, line, sizeof(line));
		len += (size_t)snprintf(text + len, cap - len, "%s\n", line);
	}
	return text;
}

/* Whether p disassembles (in syntax syn) to text that assembles back to p, bit for bit. */
static int round_trips(const struct bpf_insn *p, size_t n, enum ub_syntax syn, char *why,
		       size_t whysz)
{
	char *text = disasm_prog(p, n, syn), log[256];
	struct bpf_insn *back;
	size_t cnt;
	int ok = assemble(text, &back, &cnt, log, sizeof(log)) == 0 && cnt == n &&
		 !memcmp(back, p, n * sizeof(*p));

	if (!ok)
		snprintf(why, whysz, "'%.100s' -> %.150s", text, log);
	free(back);
	free(text);
	return ok;
}

static const char *shared_dir(void)
{
	const char *s = getenv("UEBPF_SHARED");
	return s && *s ? s : "../shared";
}

/* ---- bpf_conformance: every asm program assembles to its insns ---- */

/* The JSON string value of "key" in line, unescaped into out. */
static int json_field(const char *line, const char *key, char *out, size_t size)
{
	char pat[64];
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	const char *p = strstr(line, pat);
	if (!p)
		return -1;
	for (p += strlen(pat); *p && *p != '"' && n + 1 < size; p++) {
		char c = *p;
		if (c == '\\') {
			c = *++p;
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'u' && p[1] && p[2] && p[3] && p[4]) {	/* ASCII only */
				c = (char)strtol((char[]){ p[1], p[2], p[3], p[4], 0 }, NULL, 16);
				p += 4;
			}
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return *p == '"' ? 0 : -1;
}

static void check_conformance_line(const char *line, int *ok, int *rt)
{
	static char name[128], hex[16384], text[16384], log[512];
	static unsigned char want[8192];
	struct bpf_insn *got;
	size_t cnt;
	char why[300];

	if (json_field(line, "name", name, sizeof(name)) ||
	    json_field(line, "insns", hex, sizeof(hex)) ||
	    json_field(line, "asm", text, sizeof(text))) {
		UT_CHECK(0, "cannot parse: %.80s", line);
		return;
	}
	long nbytes = unhex(hex, strlen(hex), want, sizeof(want));
	int rc = assemble(text, &got, &cnt, log, sizeof(log));
	UT_CHECK(rc == 0, "%s: %s", name, log);
	if (rc)
		return;
	int same = nbytes >= 0 && cnt * sizeof(*got) == (size_t)nbytes &&
		   !memcmp(got, want, (size_t)nbytes);
	UT_CHECK(same, "%s: assembled bytes differ from insns", name);
	*ok += same;
	/* The program read back in either syntax reassembles to the same bytes. */
	int both = round_trips(got, cnt, UB_SYNTAX_LLVM, why, sizeof(why));
	UT_CHECK(both, "%s: llvm round trip: %s", name, why);
	both = both && round_trips(got, cnt, UB_SYNTAX_CONF, why, sizeof(why));
	UT_CHECK(both, "%s: conf round trip: %s", name, why);
	*rt += both;
	free(got);
}

UT_TEST(conformance_programs)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/conformance/tests.jsonl", shared_dir());
	FILE *f = fopen(path, "r");
	if (!f) {
		ut_skip("%s not found (set UEBPF_SHARED)", path);
		return;
	}
	char *line = NULL;
	size_t cap = 0;
	int lines = 0, ok = 0, rt = 0;
	while (getline(&line, &cap, f) > 0) {
		lines++;
		check_conformance_line(line, &ok, &rt);
	}
	free(line);
	fclose(f);
	UT_CHECK(lines >= 313, "only %d programs in %s", lines, path);
	UT_CHECK_EQ(ok, lines);
	printf("  conformance: %d/%d programs assemble to their insns, %d round-trip\n", ok, lines,
	       rt);
}

/* ---- Spellings ---- */

struct spelling {
	const char *hex;	/* the instruction's bytes in memory order */
	const char *text;
};

/* Disassembles hex (syntax syn) and expects text; assembles text and expects the bytes. */
static void check_spellings(const struct spelling *sp, size_t n, enum ub_syntax syn)
{
	for (size_t k = 0; k < n; k++) {
		struct bpf_insn want[2], *got;
		char buf[160], log[256];
		size_t cnt;
		long nb = unhex(sp[k].hex, strlen(sp[k].hex), (unsigned char *)want, sizeof(want));
		size_t slots = (size_t)nb / sizeof(want[0]);

		UT_CHECK(nb > 0, "bad hex %s", sp[k].hex);
		ub_disasm_insn(want, slots, 0, syn, buf, sizeof(buf));
		UT_CHECK(!strcmp(buf, sp[k].text), "%s: printed '%s', want '%s'", sp[k].hex, buf,
			 sp[k].text);
		int rc = assemble(sp[k].text, &got, &cnt, log, sizeof(log));
		UT_CHECK(rc == 0 && cnt == slots && !memcmp(got, want, (size_t)nb),
			 "'%s' does not assemble to %s: %s", sp[k].text, sp[k].hex, log);
		free(got);
	}
}

/* Pairs printed by llvm-mc --disassemble -triple=bpfel (LLVM 14.0.6; +alu32 for the
 * 32-bit atomics, which LLVM 14 cannot decode otherwise) and by llvm-objdump -d. */
static const struct spelling llvm14[] = {
	{ "07010000fdffffff", "r1 += -3" },
	{ "0f21000000000000", "r1 += r2" },
	{ "04010000fdffffff", "w1 += -3" },
	{ "0c21000000000000", "w1 += w2" },
	{ "b701000000000080", "r1 = -2147483648" },
	{ "b4010000ffffffff", "w1 = -1" },
	{ "bf10000000000000", "r0 = r1" },
	{ "bc10000000000000", "w0 = w1" },
	{ "c700000002000000", "r0 s>>= 2" },
	{ "cc43000000000000", "w3 s>>= w4" },
	{ "8700000000000000", "r0 = -r0" },
	{ "8400000000000000", "w0 = -w0" },
	{ "670100003f000000", "r1 <<= 63" },
	{ "740100001f000000", "w1 >>= 31" },
	{ "a7050000ffffff7f", "r5 ^= 2147483647" },
	{ "3701000003000000", "r1 /= 3" },
	{ "3c21000000000000", "w1 /= w2" },
	{ "dc00000010000000", "r0 = be16 r0" },
	{ "d400000040000000", "r0 = le64 r0" },
	{ "dc05000020000000", "r5 = be32 r5" },
	{ "6110040000000000", "r0 = *(u32 *)(r1 + 4)" },
	{ "79a0f8ff00000000", "r0 = *(u64 *)(r10 - 8)" },
	{ "6921008000000000", "r1 = *(u16 *)(r2 - 32768)" },
	{ "7143ff7f00000000", "r3 = *(u8 *)(r4 + 32767)" },
	{ "6b36000000000000", "*(u16 *)(r6 + 0) = r3" },
	{ "7b1af8ff00000000", "*(u64 *)(r10 - 8) = r1" },
	{ "6321040000000000", "*(u32 *)(r1 + 4) = r2" },
	{ "7389ffff00000000", "*(u8 *)(r9 - 1) = r8" },
	{ "db27000000000000", "lock *(u64 *)(r7 + 0) += r2" },
	{ "db27000040000000", "lock *(u64 *)(r7 + 0) |= r2" },
	{ "db27000050000000", "lock *(u64 *)(r7 + 0) &= r2" },
	{ "db270000a0000000", "lock *(u64 *)(r7 + 0) ^= r2" },
	{ "db1af8ff01000000", "r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)" },
	{ "db1af8ff41000000", "r1 = atomic_fetch_or((u64 *)(r10 - 8), r1)" },
	{ "db1af8ff51000000", "r1 = atomic_fetch_and((u64 *)(r10 - 8), r1)" },
	{ "db1af8ffa1000000", "r1 = atomic_fetch_xor((u64 *)(r10 - 8), r1)" },
	{ "db270000e1000000", "r2 = xchg_64(r7 + 0, r2)" },
	{ "db170000f1000000", "r0 = cmpxchg_64(r7 + 0, r0, r1)" },
	{ "c321f8ff00000000", "lock *(u32 *)(r1 - 8) += w2" },
	{ "c321f8ff40000000", "lock *(u32 *)(r1 - 8) |= w2" },
	{ "c321f8ff50000000", "lock *(u32 *)(r1 - 8) &= w2" },
	{ "c321f8ffa0000000", "lock *(u32 *)(r1 - 8) ^= w2" },
	{ "c321f8ff01000000", "w2 = atomic_fetch_add((u32 *)(r1 - 8), w2)" },
	{ "c321f8ff41000000", "w2 = atomic_fetch_or((u32 *)(r1 - 8), w2)" },
	{ "c321f8ff51000000", "w2 = atomic_fetch_and((u32 *)(r1 - 8), w2)" },
	{ "c321f8ffa1000000", "w2 = atomic_fetch_xor((u32 *)(r1 - 8), w2)" },
	{ "c321f8ffe1000000", "w2 = xchg32_32(r1 - 8, w2)" },
	{ "c3170000f1000000", "w0 = cmpxchg32_32(r7 + 0, w0, w1)" },
	{ "6d82020000000000", "if r2 s> r8 goto +2" },
	{ "a601fdff05000000", "if w1 < 5 goto -3" },
	{ "15010100ffffffff", "if r1 == -1 goto +1" },
	{ "5d21ffff00000000", "if r1 != r2 goto -1" },
	{ "be43070000000000", "if w3 <= w4 goto +7" },
	{ "2e90000000000000", "if w0 > w9 goto +0" },
	{ "65010900ffffff7f", "if r1 s> 2147483647 goto +9" },
	{ "0500030000000000", "goto +3" },
	{ "0500008000000000", "goto -32768" },
	{ "850000001f000000", "call 31" },
	{ "9500000000000000", "exit" },
	{ "180200007eefcd6b00000000adde0000", "r2 = 244836419366782 ll" },
	{ "18000000ffffffff00000000ffffffff", "r0 = -1 ll" },
	{ "18000000887766550000000044332211", "r0 = 1234605616436508552 ll" },
	{ "3000000004000000", "r0 = *(u8 *)skb[4]" },
	{ "28000000fdffffff", "r0 = *(u16 *)skb[-3]" },
	{ "2000000008000000", "r0 = *(u32 *)skb[8]" },
	{ "5010000000000000", "r0 = *(u8 *)skb[r1]" },
	{ "4870000000000000", "r0 = *(u16 *)skb[r7]" },
	{ "4030000000000000", "r0 = *(u32 *)skb[r3]" },
};

/*
 * Forms LLVM 14 cannot print: LLVM 18's spelling (sdiv, smod, movsx, sign-extending
 * loads, stores of an immediate, bswap, gotol, callx, jset, mod), and for the forms where
 * LLVM's spelling is ambiguous, the spelling chosen so that the text assembles back.
 */
static const struct spelling later[] = {
	{ "3f10010000000000", "r0 s/= r1" },		/* DIV|X with off 1 */
	{ "9f10010000000000", "r0 s%= r1" },
	{ "3400010003000000", "w0 s/= 3" },
	{ "9f21000000000000", "r1 %= r2" },
	{ "bf10080000000000", "r0 = (s8)r1" },		/* MOV|X with off 8 */
	{ "bc10100000000000", "w0 = (s16)w1" },
	{ "bf10200000000000", "r0 = (s32)r1" },
	{ "9110000000000000", "r0 = *(s8 *)(r1 + 0)" },	/* LDX|MEMSX|B */
	{ "8110feff00000000", "r0 = *(s32 *)(r1 - 2)" },
	{ "620afcff05000000", "*(u32 *)(r10 - 4) = 5" },	/* ST|MEM|W */
	{ "7a01f0fffdffffff", "*(u64 *)(r1 - 16) = -3" },
	{ "d700000010000000", "r0 = bswap16 r0" },		/* ALU64|END, imm 16 */
	{ "d701000040000000", "r1 = bswap64 r1" },
	{ "0600000005000000", "gotol +5" },			/* JMP32|JA, offset in imm */
	{ "06000000fdffffff", "gotol -3" },
	{ "8d02000000000000", "callx r2" },			/* register in dst */
	{ "4501010010000000", "if r1 & 16 goto +1" },
	{ "4e21fdff00000000", "if w1 & w2 goto -3" },
	{ "8510000005000000", "call pc+5" },			/* src 1: local call */
	{ "85100000fdffffff", "call pc-3" },
	{ "8520000007000000", "call kfunc 7" },		/* src 2: kfunc by BTF id */
	{ "8520020007000000", "call kfunc 7, 2" },
	/* lddw pseudo sources */
	{ "18110000050000000000000000000000", "r1 = map_fd(5) ll" },
	{ "18210000050000000000000010000000", "r1 = map_value(5, 16) ll" },
	{ "18310000070000000000000000000000", "r1 = btf_id(7) ll" },
	{ "18410000030000000000000000000000", "r1 = func(+3) ll" },
	{ "18510000000000000000000000000000", "r1 = map_idx(0) ll" },
	{ "18610000000000000000000010000000", "r1 = map_idx_value(0, 16) ll" },
	{ "18110000050000000000000009000000", "r1 = map_fd(5, 9) ll" },	/* odd but valid */
	{ "5010000004000000", "r0 = *(u8 *)skb[r1 + 4]" },	/* LLVM 14 drops a nonzero imm */
	{ "40300000fcffffff", "r0 = *(u32 *)skb[r3 - 4]" },
	{ "ff00000000000000", ".insn 0xff00000000000000" },	/* no such opcode */
	{ "0731000001000000", ".insn 0x0731000001000000" },	/* src_reg set in an imm form */
	{ "bfb0000000000000", ".insn 0xbfb0000000000000" },	/* r11 */
};

UT_TEST(llvm_spellings)
{
	check_spellings(llvm14, sizeof(llvm14) / sizeof(llvm14[0]), UB_SYNTAX_LLVM);
	check_spellings(later, sizeof(later) / sizeof(later[0]), UB_SYNTAX_LLVM);
}

/* bpf_conformance syntax: mnemonics from the conformance files, bytes from their insns. */
static const struct spelling conf[] = {
	{ "b70100000a000000", "mov %r1, 10" },
	{ "b4000000fdffffff", "mov32 %r0, -3" },
	{ "0c10000000000000", "add32 %r0, %r1" },
	{ "6110040000000000", "ldxw %r0, [%r1+4]" },
	{ "7b0af8ff00000000", "stxdw [%r10-8], %r0" },
	{ "620afcff01000080", "stw [%r10-4], -2147483647" },
	{ "c31af8ff01000000", "lock fetch add32 [%r10-8], %r1" },
	{ "db1af8fff1000000", "lock cmpxchg [%r10-8], %r1" },
	{ "db1af8ff00000000", "lock add [%r10-8], %r1" },
	{ "18000000112233440000000055667788", "lddw %r0, 0x8877665544332211" },
	{ "dc00000010000000", "be16 %r0" },
	{ "d700000010000000", "bswap16 %r0" },
	{ "8700000000000000", "neg %r0" },
	{ "bc10080000000000", "movsx832 %r0, %r1" },
	{ "3c21010000000000", "sdiv32 %r1, %r2" },
	{ "8500000005000000", "call 5" },
	{ "8510000009000000", "call local +9" },
	{ "8d02000000000000", "call %r2" },
	{ "0600000002000000", "ja32 +2" },
	{ "1501010000000080", "jeq %r1, -2147483648, +1" },
	{ "7110000000000000", "ldxb %r0, [%r1]" },
	{ "18110000050000000000000000000000", "lddw %r1, map_fd(5)" },
	{ "9500000000000000", "exit" },
};

UT_TEST(conf_spellings)
{
	check_spellings(conf, sizeof(conf) / sizeof(conf[0]), UB_SYNTAX_CONF);
}

/* ---- What the assembler accepts besides what the disassembler prints ---- */

struct accept {
	const char *text;
	struct bpf_insn want;
};

static void check_accepts(const struct accept *a, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct bpf_insn *got;
		size_t cnt;
		char log[256];
		int rc = assemble(a[k].text, &got, &cnt, log, sizeof(log));
		UT_CHECK(rc == 0 && cnt >= 1 && !memcmp(got, &a[k].want, sizeof(a[k].want)),
			 "'%s': rc %d %s", a[k].text, rc, log);
		free(got);
	}
}

UT_TEST(verifier_log_variants)
{
	static const struct accept acc[] = {
		/* index and opcode annotation of the verifier log */
		{ "0: (b7) r0 = 0", I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0) },
		{ "12: (61) r2 = *(u32 *)(r1 +4)", I(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 4, 0) },
		{ "(7b) *(u64 *)(r10 -8) = r1", I(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8, 0) },
		{ "goto pc+2", I(BPF_JMP | BPF_JA, 0, 0, 2, 0) },
		{ "goto pc-3", I(BPF_JMP | BPF_JA, 0, 0, -3, 0) },
		{ "if r1 > 0x5 goto pc+2", I(BPF_JMP | BPF_JGT | BPF_K, 1, 0, 2, 5) },
		{ "if w1 != 0xffffffff goto pc-1", I(BPF_JMP32 | BPF_JNE | BPF_K, 1, 0, -1, -1) },
		{ "call pc+5", I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 5) },
		{ "call bpf_map_lookup_elem#1", I(BPF_JMP | BPF_CALL, 0, 0, 0, 1) },
		{ "r0 = *(u8 *)skb[r1 + 4]", I(BPF_LD | BPF_IND | BPF_B, 0, 1, 0, 4) },
		{ "r0 = *(u8 *)skb[r1 + -4]", I(BPF_LD | BPF_IND | BPF_B, 0, 1, 0, -4) },
		{ "gotol pc+5", I(BPF_JMP32 | BPF_JA, 0, 0, 0, 5) },
		/* the kernel's atomics: r registers for 32-bit ones, atomic64_ names */
		{ "lock *(u32 *)(r1 +0) += r2", I(BPF_STX | BPF_ATOMIC | BPF_W, 1, 2, 0, BPF_ADD) },
		{ "r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)",
		  I(BPF_STX | BPF_ATOMIC | BPF_DW, 10, 1, -8, BPF_ADD | BPF_FETCH) },
		{ "r2 = atomic_fetch_xor((u32 *)(r1 +0), r2)",
		  I(BPF_STX | BPF_ATOMIC | BPF_W, 1, 2, 0, BPF_XOR | BPF_FETCH) },
		{ "r2 = atomic64_xchg((u64 *)(r1 -16), r2)",
		  I(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, -16, BPF_XCHG) },
		{ "r0 = atomic_cmpxchg((u32 *)(r1 +8), r0, r3)",
		  I(BPF_STX | BPF_ATOMIC | BPF_W, 1, 3, 8, BPF_CMPXCHG) },
		/* the kernel prints lddw without "ll"; its (18) picks lddw over mov */
		{ "(18) r1 = 0x5", I(BPF_LD | BPF_IMM | BPF_DW, 1, 0, 0, 5) },
		{ "r1 = 0x100000000", I(BPF_LD | BPF_IMM | BPF_DW, 1, 0, 0, 0) },
		/* llvm-objdump's alu32 decoding names loaded registers w */
		{ "w1 = *(u32 *)(r1 + 12)", I(BPF_LDX | BPF_MEM | BPF_W, 1, 1, 12, 0) },
		{ "*(u32 *)(r1 + 0) = w2", I(BPF_STX | BPF_MEM | BPF_W, 1, 2, 0, 0) },
		/* a whole llvm-objdump line, with its raw bytes and target symbol */
		{ "       3:\t65 01 09 00 ff ff ff 7f\tif r1 s> 2147483647 goto +9 <LBB0_3>",
		  I(BPF_JMP | BPF_JSGT | BPF_K, 1, 0, 9, 0x7fffffff) },
		/* conformance details: swapN, hex offsets, spaces and comments */
		{ "swap16 %r0", I(BPF_ALU64 | BPF_END | BPF_TO_LE, 0, 0, 0, 16) },
		{ "ldxh %r0, [%r1+0x10]", I(BPF_LDX | BPF_MEM | BPF_H, 0, 1, 16, 0) },
		{ "  mov32 %r0, 2  # two", I(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 2) },
		{ "r0 = 7 ; seven", I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 7) },
		{ "r0 = 7 // seven", I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 7) },
		{ "call local +2", I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2) },
		{ "call kfunc 9", I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, 9) },
		{ ".insn 0xb701000005000000", I(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 5) },
	};
	check_accepts(acc, sizeof(acc) / sizeof(acc[0]));
}

/* ---- Labels ---- */

UT_TEST(labels)
{
	static const char *text =
		"start: mov %r0, 0\n"		/* 0 */
		"  jeq %r1, 0, done\n"		/* 1: off 2 */
		"  if r1 > 5 goto start\n"	/* 2: off -3 */
		"  call local fn\n"		/* 3: imm 2 */
		"done:\n"
		"  ja32 exit\n"			/* 4: imm 0 (implicit label: the first exit) */
		"  exit\n"			/* 5 */
		"fn: r1 = func(fn) ll\n"	/* 6-7: imm -1 */
		"  call fn\n"			/* 8: imm -3 */
		"  goto exit\n"			/* 9: off -5 */
		;
	struct bpf_insn *p;
	size_t n;
	char log[256];

	UT_CHECK_EQ(assemble(text, &p, &n, log, sizeof(log)), 0);
	UT_CHECK_EQ(n, 10);
	if (n != 10)
		return;
	UT_CHECK_EQ(p[1].off, 2);
	UT_CHECK_EQ(p[2].off, -3);
	UT_CHECK_EQ(p[3].imm, 2);
	UT_CHECK_EQ(p[3].src_reg, BPF_PSEUDO_CALL);
	UT_CHECK_EQ(p[4].imm, 0);
	UT_CHECK_EQ(p[6].imm, -1);
	UT_CHECK_EQ(p[6].src_reg, BPF_PSEUDO_FUNC);
	UT_CHECK_EQ(p[8].imm, -3);
	UT_CHECK_EQ(p[9].off, -5);
	free(p);
}

UT_TEST(empty_and_comments)
{
	struct bpf_insn *p;
	size_t n;
	char log[64];

	UT_CHECK_EQ(assemble("", &p, &n, log, sizeof(log)), 0);
	UT_CHECK_EQ(n, 0);
	UT_CHECK(p != NULL, "an empty program still gets an array");
	free(p);
	UT_CHECK_EQ(assemble("# only\n; comments\r\n// here\n\n  \t\n", &p, &n, log, sizeof(log)),
		    0);
	UT_CHECK_EQ(n, 0);
	free(p);
}

/* ---- Errors ---- */

static void expect_error(const char *text, const char *msg)
{
	struct bpf_insn *p;
	size_t n;
	char log[256];

	int rc = assemble(text, &p, &n, log, sizeof(log));
	UT_CHECK(rc == -EINVAL, "'%s' assembled (rc %d)", text, rc);
	UT_CHECK_STR(log, msg);
	free(p);
}

UT_TEST(errors)
{
	/* Columns are 1-based byte positions of the offending token. */
	expect_error("exit\n\n  mvo %r0, 1\n", "3:3: unknown mnemonic 'mvo'");
	expect_error("exit\nmov %r0, %q1\n", "2:10: expected register");
	expect_error("exit\nmov32 %r0, %r11\n", "2:12: invalid register '%r11'");
	expect_error("mov %r0, 0x1ffffffff", "1:10: immediate 0x1ffffffff does not fit in 32 bits");
	expect_error("w1 = 4294967296", "1:6: immediate 4294967296 does not fit in 32 bits");
	expect_error("lddw %r0, 0x10000000000000000",
		     "1:11: immediate 0x10000000000000000 does not fit in 64 bits");
	expect_error("mov %r0, 1\nexit\nja +1\nja foo\n", "4:4: undefined label 'foo'");
	expect_error("a: exit\nb: exit\n  a: exit\n", "3:3: duplicate label 'a' (first on line 1)");
	expect_error("exit 5", "1:6: unexpected trailing '5'");
	expect_error("r0 = r1 r2", "1:9: unexpected trailing 'r2'");
	expect_error("ldxw %r0, [%r1+40000]", "1:15: offset +40000 does not fit in 16 bits");
	expect_error("r0 = *(u32 *)(r1 + 4", "1:21: expected ')'");
	expect_error("goto +32768", "1:6: jump offset +32768 out of 16-bit range");
	expect_error("r0 = -r1", "1:7: both registers must be the same (r0)");
	expect_error("r0 += w1", "1:7: register 'w1' has the wrong width (want r1)");
	expect_error("lock fetch add32 [%r10-8]", "1:26: expected ','");
	expect_error("(ee) r0 = 0", "1:6: no instruction has opcode 0xee");
	expect_error(".insn 0x12", "1:7: expected 0x and 16 hex digits");
}

/* "JUMP far", 40000 increments, "far: exit". */
static char *far_jump(const char *jump)
{
	size_t n = 40000, len = 0;
	char *text = malloc(n * 8 + 64);

	len += (size_t)sprintf(text + len, "%s far\n", jump);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "r0 += 1\n");
	sprintf(text + len, "far: exit\n");
	return text;
}

UT_TEST(jump_out_of_range)
{
	struct bpf_insn *p;
	size_t cnt;
	char log[128];

	/* The label is 40000 instructions past the jump: too far for a 16-bit offset ... */
	char *text = far_jump("ja");
	expect_error(text, "1:4: jump offset 40000 to 'far' out of 16-bit range");
	free(text);
	/* ... while ja32 carries its offset in imm. */
	text = far_jump("ja32");
	UT_CHECK_EQ(assemble(text, &p, &cnt, log, sizeof(log)), 0);
	UT_CHECK_EQ(cnt, 40002);
	if (cnt)
		UT_CHECK_EQ(p[0].imm, 40000);
	free(p);
	free(text);
}

/* ---- Round trips ---- */

/* Whether in is a valid instruction in the middle of a run of exits (for any jump in it). */
static int valid_in_context(const struct bpf_insn *in, size_t n)
{
	struct bpf_insn prog[64];
	char log[256];
	struct ub_log l;

	for (size_t k = 0; k < 64; k++)
		prog[k] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	memcpy(&prog[32], in, n * sizeof(*in));
	ub_log_init(&l, log, sizeof(log));
	return ub_isa_validate(prog, 64, &l) == 0;
}

static long rt_count, rt_valid;

static void check_one(const struct bpf_insn *in, size_t n)
{
	char why[300], text[160];

	for (int syn = UB_SYNTAX_LLVM; syn <= UB_SYNTAX_CONF; syn++) {
		UT_CHECK(round_trips(in, n, (enum ub_syntax)syn, why, sizeof(why)),
			 "%02x %x%x %d %d: %s", in->code, in->src_reg, in->dst_reg, in->off, in->imm,
			 why);
		/* A valid instruction has a real spelling, not the .insn fallback. */
		if (valid_in_context(in, n)) {
			ub_disasm_insn(in, n, 0, (enum ub_syntax)syn, text, sizeof(text));
			UT_CHECK(strncmp(text, ".insn", 5), "valid but printed '%s'", text);
			rt_valid++;
		}
		rt_count++;
	}
}

UT_TEST(roundtrip_every_row)
{
	static const uint8_t regs[] = { 0, 1, 9, 10 };
	static const int16_t offs[] = { 0, 1, -1, 5, -7, INT16_MAX, INT16_MIN };
	static const int32_t imms[] = { 0, 1, -1, 3, -5, INT32_MAX, INT32_MIN, 0x12345678 };
	static const int32_t his[] = { 0, -1, 77 };

	rt_count = rt_valid = 0;
	for (int op = 0; op < UB_OP__COUNT; op++) {
		const struct ub_opinfo *oi = &ub_ops[op];
		size_t n = oi->fmt == UB_FMT_LDDW ? 2 : 1;
		for (size_t d = 0; d < sizeof(regs); d++)
		for (size_t s = 0; s < sizeof(regs); s++)
		for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
		for (size_t k = 0; k < sizeof(imms) / sizeof(imms[0]); k++)
		for (size_t h = 0; h < (n == 2 ? 3 : 1); h++) {
			struct bpf_insn in[2] = { I(oi->code, regs[d], regs[s], offs[o], imms[k]),
						  I(0, 0, 0, 0, his[h]) };
			if (oi->disc == UB_DISC_OFF) in[0].off = (int16_t)oi->dval;
			if (oi->disc == UB_DISC_IMM) in[0].imm = oi->dval;
			if (oi->disc == UB_DISC_SRC) in[0].src_reg = (uint8_t)oi->dval & 0xf;
			check_one(in, n);
		}
	}
	printf("  round trip: %ld instruction texts (%ld of valid instructions)\n", rt_count,
	       rt_valid);
	UT_CHECK(rt_valid > 10000, "only %ld valid", rt_valid);
}

/* xorshift64: a fixed sequence, so failures reproduce. */
static uint64_t rnd(void)
{
	static uint64_t x = 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

UT_TEST(roundtrip_random_bytes)
{
	/* Anything round-trips: random slots, half of them with a real opcode byte. */
	for (int k = 0; k < 20000; k++) {
		struct bpf_insn in[2];
		uint64_t a = rnd(), b = rnd();
		memcpy(&in[0], &a, 8);
		memcpy(&in[1], &b, 8);
		if (k & 1)
			in[0].code = ub_ops[rnd() % UB_OP__COUNT].code;
		if (k % 4 == 1)		/* a plausible second lddw slot */
			in[1] = I(0, 0, 0, 0, (int32_t)b);
		check_one(in, ub_isa_is_lddw(in) ? 2 : 1);
	}
}

UT_TEST(lddw_at_the_end)
{
	/* Only one slot of an lddw left: printed raw, and that reassembles too. */
	struct bpf_insn in = I(BPF_LD | BPF_IMM | BPF_DW, 1, 0, 0, 5);
	char buf[64];
	ub_disasm_insn(&in, 1, 0, UB_SYNTAX_LLVM, buf, sizeof(buf));
	UT_CHECK(!strcmp(buf, ".insn 0x1801000005000000"), "printed '%s'", buf);
	/* A malformed second slot: both slots raw on one line. */
	struct bpf_insn two[2] = { in, I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1) };
	ub_disasm_insn(two, 2, 0, UB_SYNTAX_CONF, buf, sizeof(buf));
	UT_CHECK(!strcmp(buf, ".insn 0x1801000005000000, 0xb700000001000000"), "printed '%s'", buf);
}

UT_TEST(disasm_buffer)
{
	struct bpf_insn in = I(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -3);
	char small[5] = "xxxx";

	/* snprintf semantics: the full length, a truncated NUL-terminated prefix. */
	UT_CHECK_EQ(ub_disasm_insn(&in, 1, 0, UB_SYNTAX_LLVM, small, sizeof(small)),
		    strlen("r1 += -3"));
	UT_CHECK(!strcmp(small, "r1 +"), "got '%s'", small);
	UT_CHECK_EQ(ub_disasm_insn(&in, 1, 0, UB_SYNTAX_CONF, NULL, 0), strlen("add %r1, -3"));
	UT_CHECK_EQ(ub_disasm_insn(&in, 1, 1, UB_SYNTAX_LLVM, small, sizeof(small)), -EINVAL);
}

UT_TEST(garbage_never_crashes)
{
	/* Random printable lines (the fuzzer will do better); only the outcome matters. */
	static const char alphabet[] = "rw%0123456789 ,+-=*()[]<>&|^:#;/.xabcdefglnopstu_kmi";
	for (int k = 0; k < 3000; k++) {
		char text[48];
		size_t len = rnd() % sizeof(text);
		for (size_t i = 0; i < len; i++)
			text[i] = alphabet[rnd() % (sizeof(alphabet) - 1)];
		struct bpf_insn *p = NULL;
		size_t n;
		struct ub_log l;
		char log[128];
		char *copy = malloc(len ? len : 1);
		memcpy(copy, text, len);
		ub_log_init(&l, log, sizeof(log));
		int rc = ub_asm(copy, len, &p, &n, &l);
		UT_CHECK(rc == 0 || (rc == -EINVAL && strchr(log, ':')), "rc %d", rc);
		if (!rc)
			free(p);
		free(copy);
	}
}
