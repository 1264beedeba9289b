/*
 * uebpf run --raw: loads a program from raw instructions or assembly and runs it once (or
 * --repeat times) in checked mode on the memory given by --mem; prints r0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uebpf/uebpf.h>
#include "cli.h"

struct run_args {
	const char *file;
	int raw;
	int as_asm;
	enum uebpf_engine engine;
	uint64_t budget;	/* 0: the library's default */
	uint64_t repeat;	/* 0: once, no timing printed */
	int dump_jited;		/* print the JIT's machine code first */
	uint8_t *mem;
	size_t mem_len;
};

static int run_help(void)
{
	printf("Usage: %s run --raw FILE [--asm] [--mem HEX|@FILE] [--interp|--jit]\n"
	       "                    [--budget N] [--repeat N] [--dump-jited]\n"
	       "\n"
	       "Loads FILE (\"-\": standard input) and runs it unverified, with every memory\n"
	       "access checked, then prints r0 (\"0x2a\"; with -j {\"retval\", \"retval_hex\"}).\n"
	       "  --raw            FILE holds raw instructions (8 bytes each), or assembly\n"
	       "                   if its name ends in .s or .asm\n"
	       "  --asm            FILE holds assembly, whatever its name\n"
	       "  --mem HEX|@FILE  the memory the program gets in r1 (its size in r2), as hex\n"
	       "                   bytes (\"01 02 ff\") or the bytes of a file\n"
	       "  --interp, --jit  the engine (default: the library's choice)\n"
	       "  --budget N       stop after N instructions (default 100 million)\n"
	       "  --repeat N       run N times on the same memory; also print the mean time\n"
	       "  --dump-jited     print the JIT's x86-64 code under each instruction (implies\n"
	       "                   --jit), then run\n"
	       "A load error prints the loader's log; a fault prints where and why; both exit 1.\n",
	       cli_prog);
	return CLI_OK;
}

static int ends_with(const char *s, const char *sfx)
{
	size_t n = strlen(s), m = strlen(sfx);
	return n >= m && !strcmp(s + n - m, sfx);
}

static int set_mem(struct run_args *ra, const char *arg)
{
	char why[128];

	if (arg[0] == '@' && !arg[1])
		return cli_usage_err("run", "--mem: '@' needs a file name");
	if (arg[0] == '@')
		return cli_read_file(arg + 1, &ra->mem, &ra->mem_len) ? CLI_FAIL : CLI_OK;
	if (cli_parse_hex(arg, &ra->mem, &ra->mem_len, why, sizeof(why)))
		return cli_usage_err("run", "--mem: %s (give hex bytes like \"01 02 ff\", "
				     "or @FILE)", why);
	return CLI_OK;
}

/* One option or argument of the command line; CLI_OK or an exit status. */
static int take_arg(struct run_args *ra, int r, const char *arg)
{
	switch (r) {
	case 'r': ra->raw = 1; return CLI_OK;
	case 'a': ra->as_asm = 1; return CLI_OK;
	case 'm':
		if (ra->mem)
			return cli_usage_err("run", "--mem given twice");
		return set_mem(ra, arg);
	case 'i': case 'j':
		if (ra->engine != UEBPF_ENGINE_DEFAULT)
			return cli_usage_err("run", "give one of --interp and --jit");
		ra->engine = r == 'i' ? UEBPF_ENGINE_INTERP : UEBPF_ENGINE_JIT;
		return CLI_OK;
	case 'b':
		return cli_number("run", "--budget", arg, 1, UINT64_MAX, &ra->budget) ? CLI_USAGE
										     : CLI_OK;
	case 'd': ra->dump_jited = 1; return CLI_OK;
	case 'n':
		return cli_number("run", "--repeat", arg, 1, UINT32_MAX, &ra->repeat) ? CLI_USAGE
										     : CLI_OK;
	case CLI_ARG_POS:
		if (ra->file)
			return cli_usage_err("run", "unexpected argument '%s'", arg);
		ra->file = arg;
		return CLI_OK;
	default:
		return CLI_USAGE;
	}
}

static int parse_run(struct run_args *ra, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "raw", 0, 0, 'r' },
		{ "asm", 0, 0, 'a' },
		{ "mem", 0, 1, 'm' },
		{ "interp", 0, 0, 'i' },
		{ "jit", 0, 0, 'j' },
		{ "budget", 0, 1, 'b' },
		{ "repeat", 0, 1, 'n' },
		{ "dump-jited", 0, 0, 'd' },
		{ NULL, 0, 0, 0 },
	};
	struct cli_args a;
	const char *arg;
	int r, rc;

	cli_args_init(&a, "run", argc, argv);
	while ((r = cli_args_next(&a, opts, &arg)) != CLI_ARG_END) {
		if (r == CLI_ARG_BAD)
			return CLI_USAGE;
		if (r == CLI_ARG_HELP)
			return run_help() == CLI_OK ? CLI_DONE : CLI_FAIL;
		if ((rc = take_arg(ra, r, arg)) != CLI_OK)
			return rc;
	}
	if (!ra->file)
		return cli_usage_err("run", "missing FILE (the program; '-' for stdin)");
	if (!ra->raw)
		return cli_usage_err("run", "give --raw: FILE holds raw instructions or "
				     "assembly (ELF objects: 'prog load')");
	if (ends_with(ra->file, ".s") || ends_with(ra->file, ".asm"))
		ra->as_asm = 1;
	if (ra->dump_jited && ra->engine == UEBPF_ENGINE_INTERP)
		return cli_usage_err("run", "--dump-jited needs the JIT, not --interp");
	if (ra->dump_jited && cli_json)
		return cli_usage_err("run", "--dump-jited prints text, not JSON");
	if (ra->dump_jited)
		ra->engine = UEBPF_ENGINE_JIT;
	return CLI_OK;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void print_result(const struct run_args *ra, uint64_t retval, uint64_t ns)
{
	char hex[24];

	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)retval);
	if (cli_json) {
		jw_begin_object();
		jw_kuint("retval", retval);
		jw_kstring("retval_hex", hex);
		if (ra->repeat) {
			jw_kuint("repeat", ra->repeat);
			jw_kuint("duration_ns", ns / ra->repeat);
		}
		jw_end_object();
		return;
	}
	printf("%s\n", hex);
	if (ra->repeat)
		printf("duration: %llu ns (mean of %llu runs)\n",
		       (unsigned long long)(ns / ra->repeat), (unsigned long long)ra->repeat);
}

/* Strips the newline the library ends its messages with. */
static const char *trim(char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '\n')
		s[--n] = '\0';
	return s;
}

/* The program, loaded in checked mode; NULL (reported, with the loader's log) if refused. */
static struct uebpf_prog *load_prog(const struct run_args *ra, const struct bpf_insn *insns,
				    size_t cnt)
{
	const size_t logsz = 65536;
	char *log = calloc(1, logsz);
	struct uebpf_prog_opts po = { .sz = sizeof(po), .engine = ra->engine,
				      .flags = UEBPF_PROG_F_CHECKED, .insn_budget = ra->budget,
				      .log_buf = log, .log_size = log ? logsz : 0 };
	struct uebpf_prog *prog = NULL;
	int rc = uebpf_prog_new(insns, cnt, &po, &prog);

	/* The log says why: the instruction refused, or an engine not available. */
	if (rc)
		cli_err_log(log, "%s: load failed (%s):", cli_display_name(ra->file), strerror(-rc));
	free(log);
	return rc ? NULL : prog;
}

/* Runs prog once or --repeat times; prints r0 (and the mean time), or the fault. */
static int run_prog(const struct run_args *ra, struct uebpf_prog *prog)
{
	char err[1024] = "";
	struct uebpf_run_opts ro = { .sz = sizeof(ro), .ctx = ra->mem, .ctx_size = ra->mem_len,
				     .err_buf = err, .err_size = sizeof(err) };
	uint64_t runs = ra->repeat ? ra->repeat : 1, t0 = now_ns(), k;
	int rc = 0;

	for (k = 0; k < runs && !rc; k++)
		rc = uebpf_prog_run_opts(prog, &ro);
	if (!rc) {
		print_result(ra, ro.retval, now_ns() - t0);
		return CLI_OK;
	}
	char which[64] = "";
	if (runs > 1)
		snprintf(which, sizeof(which), " %llu of %llu", (unsigned long long)k,
			 (unsigned long long)runs);
	return cli_err("%s: run%s failed (%s): %s", cli_display_name(ra->file), which,
		       strerror(-rc), err[0] ? trim(err) : "no reason given");
}

int do_run(int argc, char **argv)
{
	struct run_args ra = { .engine = UEBPF_ENGINE_DEFAULT };
	struct bpf_insn *insns = NULL;
	size_t cnt = 0;
	int rc;

	if (argc >= 1 && !strcmp(argv[0], "help"))
		return run_help();
	rc = parse_run(&ra, argc, argv);
	if (rc == CLI_OK && cli_load_insns(ra.file, ra.as_asm, &insns, &cnt))
		rc = CLI_FAIL;
	if (rc == CLI_OK) {
		struct uebpf_prog *prog = load_prog(&ra, insns, cnt);
		int derr = prog && ra.dump_jited ? uebpf_prog_dump_jited(prog, stdout, 0) : 0;
		if (derr)
			rc = cli_err("%s: --dump-jited: %s", cli_display_name(ra.file), strerror(-derr));
		else
			rc = prog ? run_prog(&ra, prog) : CLI_FAIL;
		uebpf_prog_free(prog);
	}
	free(insns);
	free(ra.mem);
	return rc == CLI_DONE ? CLI_OK : rc;
}
