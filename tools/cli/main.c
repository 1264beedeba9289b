/*
 * uebpf: the command line. This file holds the top-level table, dispatch by (prefixes of)
 * keywords as bpftool does, the global options, and the message functions.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uebpf/uebpf.h>
#include "cli.h"

#ifndef UEBPF_VERSION
#define UEBPF_VERSION "0.1.0"
#endif

int cli_json;
int cli_pretty;
const char *cli_prog = "uebpf";

static int do_help(int argc, char **argv);
static int do_version(int argc, char **argv);

/* Order matters only for prefixes: the first row a prefix matches wins (bpftool's rule). */
static const struct cli_cmd top_cmds[] = {
	{ "asm", do_asm, "asm FILE [-o OUT]" },
	{ "disasm", do_disasm, "disasm FILE [--syntax llvm|conf]" },
	{ "run", do_run, "run --raw FILE [--asm] [--mem HEX|@FILE] [--interp|--jit] "
			 "[--budget N] [--repeat N]" },
	{ "btf", do_btf, "btf dump file FILE [format {raw|c}]" },
	{ "gen", do_gen, "gen skeleton FILE [name OBJECT_NAME]" },
	{ "prog", do_prog, "prog { show | dump | load | loadall | pin | run | tracelog | help }" },
	{ "map", do_map, "map { show | dump | create | lookup | update | delete | getnext |\n"
			 "                   pin | freeze | peek | push | pop | enqueue | dequeue | help }" },
	{ "object", do_object, "object show OBJ" },
	{ "version", do_version, "version" },
	{ "help", do_help, "help [COMMAND]" },
	{ NULL, NULL, NULL },
};

/* ---- Messages ---- */

static void emit_error(const char *log, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (cli_json) {
		jw_begin_object();
		jw_kstring("error", msg ? msg : "out of memory");
		if (log && *log)
			jw_kstring("log", log);
		jw_end_object();
	} else {
		fprintf(stderr, "Error: %s\n", msg ? msg : "out of memory");
		if (log && *log)
			fprintf(stderr, "%s%s", log, log[strlen(log) - 1] == '\n' ? "" : "\n");
	}
	free(msg);
}

int cli_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit_error(NULL, fmt, ap);
	va_end(ap);
	return CLI_FAIL;
}

int cli_err_log(const char *log, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit_error(log, fmt, ap);
	va_end(ap);
	return CLI_FAIL;
}

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit_error(NULL, fmt, ap);
	va_end(ap);
	if (!cli_json)
		fprintf(stderr, "Try '%s%s%s help'.\n", cli_prog, cmd ? " " : "", cmd ? cmd : "");
	return CLI_USAGE;
}

/* ---- Dispatch ---- */

const struct cli_cmd *cli_lookup(const struct cli_cmd *cmds, const char *word)
{
	size_t n = strlen(word);

	if (!n)
		return NULL;
	for (const struct cli_cmd *c = cmds; c->name; c++)
		if (!strncmp(c->name, word, n))
			return c;
	return NULL;
}

void cli_print_usage(FILE *f, const struct cli_cmd *cmds)
{
	const char *lead = "Usage:";

	for (const struct cli_cmd *c = cmds; c->name; c++) {
		if (c->help)	/* an alias row may have none */
			fprintf(f, "%-6s %s %s\n", lead, cli_prog, c->help);
		lead = "";
	}
}

int cli_is_prefix(const char *word, const char *full)
{
	size_t n = strlen(word);
	return n && !strncmp(word, full, n);
}

int cli_select_help(const struct cli_cmd *cmds, const char *what, int (*help)(int, char **),
		    int argc, char **argv)
{
	if (!argc) {
		help(0, NULL);
		return CLI_USAGE;
	}
	const struct cli_cmd *c = cli_lookup(cmds, argv[0]);
	if (!c)
		return cli_usage_err(what, "unknown command '%s'", argv[0]);
	return c->fn(argc - 1, argv + 1);
}

int cli_show_all(int (*next_id)(uint32_t, uint32_t *), int (*fd_by_id)(uint32_t),
		 int (*show)(int))
{
	uint32_t id = 0;
	int rc = CLI_OK;

	if (cli_json)
		jw_begin_array();
	while (!next_id(id, &id)) {
		int fd = fd_by_id(id);
		if (fd < 0)
			continue;	/* gone since it was listed */
		if (show(fd) != CLI_OK)
			rc = CLI_FAIL;
		close(fd);
	}
	if (cli_json)
		jw_end_array();
	return rc;
}

int cli_select(const struct cli_cmd *cmds, const char *what, int argc, char **argv)
{
	if (argc < 1) {
		cli_print_usage(stderr, cmds);
		return cli_usage_err(what, "missing command");
	}
	const struct cli_cmd *c = cli_lookup(cmds, argv[0]);
	if (!c)
		return cli_usage_err(what, "unknown command '%s'", argv[0]);
	return c->fn(argc - 1, argv + 1);
}

/* ---- help and version ---- */

static void print_top_usage(FILE *f)
{
	fprintf(f, "Usage: %s [OPTIONS] COMMAND ...\n", cli_prog);
	for (const struct cli_cmd *c = top_cmds; c->name; c++)
		fprintf(f, "       %s %s\n", cli_prog, c->help);
	fprintf(f, "\n"
		"       OPTIONS := { -j|--json [-p|--pretty] | -h|--help | -V|--version }\n"
		"       Keywords may be shortened to a prefix: '%s dis' is '%s disasm'.\n"
		"       '%s COMMAND help' describes a command.\n", cli_prog, cli_prog, cli_prog);
}

static int do_help(int argc, char **argv)
{
	if (argc >= 1) {
		const struct cli_cmd *c = cli_lookup(top_cmds, argv[0]);
		if (!c)
			return cli_usage_err(NULL, "unknown command '%s'", argv[0]);
		if (c->fn != do_help && c->fn != do_version) {
			char *sub[] = { "help", NULL };
			return c->fn(1, sub);
		}
	}
	print_top_usage(stdout);
	return CLI_OK;
}

/* Is the JIT there? Ask the library to compile the smallest program. */
static int have_jit(void)
{
	const struct bpf_insn p[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct uebpf_prog_opts o = { .sz = sizeof(o), .engine = UEBPF_ENGINE_JIT,
				     .flags = UEBPF_PROG_F_CHECKED };
	struct uebpf_prog *prog = NULL;

	if (uebpf_prog_new(p, 2, &o, &prog))
		return 0;
	uebpf_prog_free(prog);
	return 1;
}

static int do_version(int argc, char **argv)
{
	if (argc > 0)
		return cli_usage_err("version", "unexpected argument '%s'", argv[0]);
	int jit = have_jit();
	if (cli_json) {
		jw_begin_object();
		jw_kstring("version", UEBPF_VERSION);
		jw_key("features");
		jw_begin_object();
		jw_kbool("interpreter", 1);
		jw_kbool("jit", jit);
		jw_end_object();
		jw_end_object();
		return CLI_OK;
	}
	printf("%s v%s\nfeatures: interpreter%s\n", cli_prog, UEBPF_VERSION, jit ? ", jit" : "");
	return CLI_OK;
}

/* ---- main: options before the command, then the command ---- */

/*
 * -j and -p count wherever they are (bpftool parses all options first), so that even a
 * mistake found before the command reaches them is reported as JSON.
 */
static void prescan_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *w = argv[i];
		if (!strcmp(w, "--json") || !strcmp(w, "-j") || !strcmp(w, "-jp") ||
		    !strcmp(w, "-pj"))
			cli_json = 1;
		if (!strcmp(w, "--pretty") || !strcmp(w, "-p") || !strcmp(w, "-jp") ||
		    !strcmp(w, "-pj"))
			cli_json = cli_pretty = 1;
	}
}

/* Output that could not be written is a failure, not a success (disasm > /dev/full). */
static int finish(int rc)
{
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "Error: <stdout>: %s\n", strerror(errno ? errno : EIO));
		return rc ? rc : CLI_FAIL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "version", 'V', 0, 1 },
		{ NULL, 0, 0, 0 },
	};
	struct cli_args a;
	const char *arg;

	prescan_json(argc, argv);
	cli_args_init(&a, NULL, argc - 1, argv + 1);
	for (;;) {
		int r = cli_args_next(&a, opts, &arg);
		if (r == CLI_ARG_BAD)
			return CLI_USAGE;
		if (r == CLI_ARG_HELP) {
			print_top_usage(stdout);
			return finish(CLI_OK);
		}
		if (r == 1)
			return finish(do_version(0, NULL));
		if (r == CLI_ARG_END) {
			print_top_usage(stderr);
			return cli_usage_err(NULL, "missing command");
		}
		if (r == CLI_ARG_POS)
			break;
	}
	/* a.i is just past the command word. */
	return finish(cli_select(top_cmds, NULL, argc - a.i, argv + a.i));
}
