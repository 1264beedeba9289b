/*
 * uebpf asm / uebpf disasm: assembly text to raw instructions and back.
 * Raw instructions are 8 bytes each, little-endian, the layout of struct bpf_insn.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uebpf/uebpf.h>
#include "cli.h"

/* ---- asm ---- */

static int asm_help(void)
{
	printf("Usage: %s asm FILE [-o OUT]\n"
	       "\n"
	       "Assembles FILE (\"-\": standard input) into raw instructions, 8 bytes each,\n"
	       "little-endian. Both syntaxes are accepted, mixed freely:\n"
	       "  r0 = *(u32 *)(r1 + 4)      the LLVM / verifier-log syntax\n"
	       "  ldxw %%r0, [%%r1+4]          the bpf_conformance syntax\n"
	       "Output goes to OUT (\"-\": standard output), or to standard output when it\n"
	       "is not a terminal. With -j and -o, prints a summary object.\n", cli_prog);
	return CLI_OK;
}

/* FILE and -o OUT from the command line: CLI_OK, CLI_DONE (help) or CLI_USAGE. */
static int asm_args(int argc, char **argv, const char **file, const char **out)
{
	static const struct cli_opt opts[] = {
		{ "out", 'o', 1, 'o' },
		{ NULL, 0, 0, 0 },
	};
	struct cli_args a;
	const char *arg;
	int r;

	cli_args_init(&a, "asm", argc, argv);
	while ((r = cli_args_next(&a, opts, &arg)) != CLI_ARG_END) {
		if (r == CLI_ARG_BAD)
			return CLI_USAGE;
		if (r == CLI_ARG_HELP)
			return asm_help() == CLI_OK ? CLI_DONE : CLI_FAIL;
		if (r == 'o')
			*out = arg;
		else if (*file)
			return cli_usage_err("asm", "unexpected argument '%s'", arg);
		else
			*file = arg;
	}
	if (!*file)
		return cli_usage_err("asm", "missing FILE (the assembly to read; '-' for stdin)");
	if (!*out && isatty(STDOUT_FILENO))
		return cli_usage_err("asm", "not writing binary instructions to a terminal: "
				     "give -o OUT, or redirect standard output");
	return CLI_OK;
}

/* The instructions as bytes to out ("-": standard output); with -j, a summary. */
static int write_insns(const char *out, const struct bpf_insn *insns, size_t cnt)
{
	uint8_t *bytes = malloc(cnt ? cnt * 8 : 1);

	if (!bytes)
		return cli_err("%s: out of memory", out);
	for (size_t i = 0; i < cnt; i++)
		cli_insn_encode(&insns[i], bytes + 8 * i);
	int err = cli_write_file(out, bytes, cnt * 8);
	free(bytes);
	if (err)
		return CLI_FAIL;
	if (cli_json && strcmp(out, "-")) {
		jw_begin_object();
		jw_kstring("file", out);
		jw_kuint("insn_cnt", cnt);
		jw_kuint("bytes", cnt * 8);
		jw_end_object();
	}
	return CLI_OK;
}

int do_asm(int argc, char **argv)
{
	const char *file = NULL, *out = NULL;
	struct bpf_insn *insns;
	size_t cnt;

	if (argc >= 1 && !strcmp(argv[0], "help"))
		return asm_help();
	int rc = asm_args(argc, argv, &file, &out);
	if (rc != CLI_OK)
		return rc == CLI_DONE ? CLI_OK : rc;
	if (cli_load_insns(file, 1, &insns, &cnt))
		return CLI_FAIL;
	rc = write_insns(out ? out : "-", insns, cnt);
	free(insns);
	return rc;
}

/* ---- disasm ---- */

static int disasm_help(void)
{
	printf("Usage: %s disasm FILE [--syntax llvm|conf] [--opcodes]\n"
	       "\n"
	       "Prints the raw instructions of FILE (\"-\": standard input), one line each:\n"
	       "   0: (b7) r0 = 1\n"
	       "the index, the opcode byte and the instruction (an lddw takes two indexes).\n"
	       "  --syntax llvm   LLVM / verifier-log syntax (default)\n"
	       "  --syntax conf   bpf_conformance syntax\n"
	       "  --opcodes       also the raw bytes, under each line\n"
	       "With -j: an array of {\"index\", \"code\", \"text\", \"raw\"}.\n", cli_prog);
	return CLI_OK;
}

static void hex_bytes(const struct bpf_insn *insns, size_t i, size_t n, char *out)
{
	uint8_t b[8];

	out[0] = '\0';
	for (size_t k = 0; k < n; k++) {
		cli_insn_encode(&insns[i + k], b);
		for (int j = 0; j < 8; j++)
			sprintf(out + strlen(out), "%s%02x", k || j ? " " : "", b[j]);
	}
}

static void print_insn(const struct bpf_insn *insns, size_t cnt, size_t i, size_t n,
		       enum uebpf_syntax syn, int opcodes)
{
	char text[256], raw[2 * 8 * 3 + 1];

	if (uebpf_disasm_insn(insns, cnt, i, syn, text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "(cannot disassemble)");
	hex_bytes(insns, i, n, raw);
	if (cli_json) {
		jw_begin_object();
		jw_kuint("index", i);
		jw_kuint("code", insns[i].code);
		jw_kstring("text", text);
		jw_kstring("raw", raw);
		jw_end_object();
		return;
	}
	printf("%4zu: (%02x) %s\n", i, insns[i].code, text);
	if (opcodes)
		printf("       %s\n", raw);
}

/* FILE, --syntax and --opcodes: CLI_OK, CLI_DONE (help) or CLI_USAGE. */
static int disasm_args(int argc, char **argv, const char **file, enum uebpf_syntax *syn,
		       int *opcodes)
{
	static const struct cli_opt opts[] = {
		{ "syntax", 0, 1, 's' },
		{ "opcodes", 0, 0, 'o' },
		{ NULL, 0, 0, 0 },
	};
	static const char *const syntaxes[] = { "llvm", "conf", NULL };
	struct cli_args a;
	const char *arg;
	int r, k = 0;

	cli_args_init(&a, "disasm", argc, argv);
	while ((r = cli_args_next(&a, opts, &arg)) != CLI_ARG_END) {
		if (r == CLI_ARG_BAD)
			return CLI_USAGE;
		if (r == CLI_ARG_HELP)
			return disasm_help() == CLI_OK ? CLI_DONE : CLI_FAIL;
		if (r == 's' && (k = cli_keyword("disasm", "--syntax", arg, syntaxes)) < 0)
			return CLI_USAGE;
		if (r == 's')
			*syn = k ? UEBPF_SYNTAX_CONF : UEBPF_SYNTAX_LLVM;
		else if (r == 'o')
			*opcodes = 1;
		else if (*file)
			return cli_usage_err("disasm", "unexpected argument '%s'", arg);
		else
			*file = arg;
	}
	if (!*file)
		return cli_usage_err("disasm", "missing FILE (raw instructions; '-' for stdin)");
	return CLI_OK;
}

int do_disasm(int argc, char **argv)
{
	const char *file = NULL;
	enum uebpf_syntax syn = UEBPF_SYNTAX_LLVM;
	int opcodes = 0;
	struct bpf_insn *insns;
	size_t cnt;

	if (argc >= 1 && !strcmp(argv[0], "help"))
		return disasm_help();
	int rc = disasm_args(argc, argv, &file, &syn, &opcodes);
	if (rc != CLI_OK)
		return rc == CLI_DONE ? CLI_OK : rc;
	if (cli_load_insns(file, 0, &insns, &cnt))
		return CLI_FAIL;
	if (cli_json)
		jw_begin_array();
	for (size_t i = 0, n; i < cnt; i += n) {
		/* An lddw spans two slots (if the file has the second one). */
		n = insns[i].code == (BPF_LD | BPF_IMM | BPF_DW) && i + 1 < cnt ? 2 : 1;
		print_insn(insns, cnt, i, n, syn, opcodes);
	}
	if (cli_json)
		jw_end_array();
	free(insns);
	return CLI_OK;
}
