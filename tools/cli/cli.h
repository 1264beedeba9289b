/*
 * cli: the uebpf command line, a thin layer over <uebpf/uebpf.h>.
 *
 * Grammar (bpftool's): uebpf [OPTIONS] OBJECT COMMAND ... ; keywords may be shortened to
 * any prefix (the first match in table order wins, as in bpftool); options may appear
 * anywhere. Every command is a row of a table (struct cli_cmd) in the file of its object.
 *
 * Messages: errors go to stderr as "Error: <place>: <reason>", or, with -j, to stdout as
 * {"error": "..."}. Exit status: 0 success, 1 the request failed (bad program, fault, I/O),
 * 2 the command line was wrong.
 */
#ifndef UEBPF_CLI_H
#define UEBPF_CLI_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses; CLI_DONE: a step finished the command early with success (help). */
enum { CLI_DONE = -1, CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);	/* argv[0] is the first argument after the name */
	const char *help;			/* one line: "asm FILE [-o OUT]" */
};

/* Global options, set wherever they appear on the line. */
extern int cli_json;		/* -j / --json */
extern int cli_pretty;		/* -p / --pretty (implies -j) */
extern const char *cli_prog;	/* "uebpf" */

/* ---- main.c: dispatch ---- */

/*
 * Runs the row of cmds that argv[0] names (a prefix is enough); with no argument or
 * "help", prints the table's usage. `what` names the object in messages ("uebpf").
 */
int cli_select(const struct cli_cmd *cmds, const char *what, int argc, char **argv);
/* The first row whose name starts with word (bpftool's is_prefix), or NULL. */
const struct cli_cmd *cli_lookup(const struct cli_cmd *cmds, const char *word);
/* Prints "Usage: ..." lines for a command table to f. */
void cli_print_usage(FILE *f, const struct cli_cmd *cmds);

/* ---- Messages ---- */

/* "Error: ..." on stderr, or {"error": "..."} on stdout with -j. Returns CLI_FAIL. */
int cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* As cli_err, with a log (a load log, a fault message) after the message. */
int cli_err_log(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A command-line mistake: the message and a hint at the command's help. Returns CLI_USAGE. */
int cli_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- args.c: options ---- */

struct cli_opt {
	const char *name;	/* long name, without "--" */
	char short_name;	/* 0: none */
	int has_arg;
	int id;			/* > 0 */
};

enum {
	CLI_ARG_END = 0,	/* no more arguments */
	CLI_ARG_POS = -1,	/* a positional argument (in *arg) */
	CLI_ARG_BAD = -2,	/* a mistake, already reported */
	CLI_ARG_HELP = -3,	/* -h / --help */
};

struct cli_args {
	int argc;
	char **argv;
	int i;
	int only_pos;		/* after "--" */
	const char *cmd;	/* for messages */
	const char *cluster;	/* rest of a "-jp" cluster */
};

void cli_args_init(struct cli_args *a, const char *cmd, int argc, char **argv);
/*
 * The next option (its id, with its argument in *arg), a positional argument, the end, a
 * mistake, or a request for help. Global options (-j, -p) are taken on the way.
 * Long options may be shortened to an unambiguous prefix.
 */
int cli_args_next(struct cli_args *a, const struct cli_opt *opts, const char **arg);
/* A keyword value from a list (a prefix is enough): its index, or -1 (reported). */
int cli_keyword(const char *cmd, const char *opt, const char *val, const char *const *words);
/* A whole number in [min, max], decimal or 0x hex: 0, or -1 (reported). */
int cli_number(const char *cmd, const char *opt, const char *val, uint64_t min, uint64_t max,
	       uint64_t *out);

/* ---- io.c: files and bytes ---- */

/* A file's bytes ("-": standard input), NUL-terminated after *len. 0, or -1 (reported). */
int cli_read_file(const char *path, uint8_t **buf, size_t *len);
/*
 * Writes len bytes to path ("-": standard output). A file is written under a temporary
 * name and renamed, so a failure never leaves half an output. 0, or -1 (reported).
 */
int cli_write_file(const char *path, const void *buf, size_t len);
/* Hex bytes, white space ignored ("01 02ff"): 0, or -1 with the reason in why. */
int cli_parse_hex(const char *s, uint8_t **buf, size_t *len, char *why, size_t whysz);
/* The name of a path in messages: "<stdin>" for "-". */
const char *cli_display_name(const char *path);

/* ---- Instructions as bytes (8 each, little-endian, as the kernel's struct bpf_insn) ---- */

struct bpf_insn;
void cli_insn_encode(const struct bpf_insn *in, uint8_t out[8]);
void cli_insn_decode(const uint8_t in[8], struct bpf_insn *out);
/*
 * A program from a file: raw instructions, or assembly when as_asm (then assembled with
 * uebpf_asm, errors as "FILE:LINE:COL: reason"). 0, or -1 (reported).
 */
int cli_load_insns(const char *path, int as_asm, struct bpf_insn **insns, size_t *cnt);

/* ---- json.c: a tiny JSON writer on stdout ---- */

void jw_begin_object(void);
void jw_end_object(void);
void jw_begin_array(void);
void jw_end_array(void);
void jw_key(const char *key);
void jw_string(const char *s);
void jw_uint(uint64_t v);
void jw_int(int64_t v);
void jw_bool(int v);
/* key and value in one call */
void jw_kstring(const char *key, const char *s);
void jw_kuint(const char *key, uint64_t v);
void jw_kint(const char *key, int64_t v);
void jw_kbool(const char *key, int v);

/* ---- The objects: one file each ---- */

int do_asm(int argc, char **argv);	/* isa_cmds.c */
int do_disasm(int argc, char **argv);	/* isa_cmds.c */
int do_run(int argc, char **argv);	/* run.c */

#endif
