/*
 * fuzz_asm: the assembler and the disassembler.
 *
 * The input is used twice:
 *  - as assembly text (either syntax): it assembles, or fails with "LINE:COL: reason";
 *    what assembles disassembles (in each syntax) to text that assembles back to the same
 *    bytes;
 *  - as raw instructions: any 8-byte slots disassemble (unknown ones as ".insn") to text
 *    that assembles back to the same bytes (the contract of isa/disasm.h).
 */
#include <ctype.h>
#include <uebpf/uebpf.h>
#include "fuzz.h"

#define LDDW (BPF_LD | BPF_IMM | BPF_DW)

/* The program as text, one instruction (an lddw: two slots) a line. */
static char *disasm_prog(const struct bpf_insn *p, size_t n, enum uebpf_syntax syn)
{
	size_t cap = 96 * n + 1, len = 0;
	char *text = malloc(cap);

	if (!text)
		fuzz_fail("out of memory");
	text[0] = '\0';
	for (size_t i = 0; i < n; i += p[i].code == LDDW && i + 1 < n ? 2 : 1) {
		char line[160];
		int k = uebpf_disasm_insn(p, n, i, syn, line, sizeof(line));
		if (k < 0 || (size_t)k >= sizeof(line) || len + (size_t)k + 2 > cap)
			fuzz_fail("insn %zu: disassembly failed or too long (%d)", i, k);
		memcpy(text + len, line, (size_t)k);
		len += (size_t)k;
		text[len++] = '\n';
		text[len] = '\0';
	}
	return text;
}

/* A refusal names the place: "LINE:COL: reason". */
static void check_error(const char *err, int rc)
{
	const char *p = err;

	if (rc != -EINVAL && rc != -ENOMEM)
		fuzz_fail("uebpf_asm returned %d", rc);
	if (rc == -ENOMEM)
		return;
	if (!isdigit((unsigned char)*p))
		fuzz_fail("error without a line: '%s'", err);
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':' || !isdigit((unsigned char)*p))
		fuzz_fail("error without a column: '%s'", err);
	while (isdigit((unsigned char)*p))
		p++;
	if (p[0] != ':' || p[1] != ' ' || !p[2])
		fuzz_fail("error without a reason: '%s'", err);
}

/* p (n slots) disassembles in syntax syn to text that assembles back to p, bit for bit. */
static void round_trip(const struct bpf_insn *p, size_t n, enum uebpf_syntax syn)
{
	char *text = disasm_prog(p, n, syn), err[256] = "";
	struct bpf_insn *back = NULL;
	size_t cnt = 0;
	int rc = uebpf_asm(text, strlen(text), &back, &cnt, err, sizeof(err));

	if (rc)
		fuzz_fail("%s disassembly does not assemble: %s\n%s",
			  syn == UEBPF_SYNTAX_LLVM ? "llvm" : "conf", err, text);
	if (cnt != n || memcmp(back, p, n * sizeof(*p)))
		fuzz_fail("%s disassembly assembles to other bytes (%zu slots, was %zu):\n%s",
			  syn == UEBPF_SYNTAX_LLVM ? "llvm" : "conf", cnt, n, text);
	free(back);
	free(text);
}

static void as_text(const uint8_t *data, size_t size)
{
	struct bpf_insn *p = NULL;
	size_t n = 0;
	char err[256] = "";
	int rc = uebpf_asm((const char *)data, size, &p, &n, err, sizeof(err));

	if (rc) {
		check_error(err, rc);
		return;
	}
	if (n) {
		round_trip(p, n, UEBPF_SYNTAX_LLVM);
		round_trip(p, n, UEBPF_SYNTAX_CONF);
	}
	free(p);
}

static void as_insns(const uint8_t *data, size_t size)
{
	size_t n = size / sizeof(struct bpf_insn);
	struct bpf_insn *p;

	if (!n)
		return;
	p = malloc(n * sizeof(*p));
	if (!p)
		fuzz_fail("out of memory");
	memcpy(p, data, n * sizeof(*p));
	round_trip(p, n, UEBPF_SYNTAX_LLVM);
	round_trip(p, n, UEBPF_SYNTAX_CONF);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_text(data, size);
	as_insns(data, size);
	return 0;
}
