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
/* Prints "Usage: ..." lines for a command table to f (rows without help are skipped). */
void cli_print_usage(FILE *f, const struct cli_cmd *cmds);
/* Whether word is a non-empty prefix of full (bpftool's is_prefix: keywords shorten). */
int cli_is_prefix(const char *word, const char *full);
/* As cli_select, but with no argument runs help(0, NULL) and returns CLI_USAGE. */
int cli_select_help(const struct cli_cmd *cmds, const char *what, int (*help)(int, char **),
		    int argc, char **argv);
/* Shows every object next_id lists (bpf_map_get_next_id and _get_fd_by_id, or the prog
 * ones) with show(fd), in a JSON array with -j; CLI_FAIL when one show failed. */
int cli_show_all(int (*next_id)(uint32_t, uint32_t *), int (*fd_by_id)(uint32_t),
		 int (*show)(int));

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
void jw_null(void);
/* A value already laid out in the writer's style, and the current nesting depth. */
void jw_raw(const char *text);
int jw_depth(void);
/* key and value in one call */
void jw_kstring(const char *key, const char *s);
void jw_kuint(const char *key, uint64_t v);
void jw_kint(const char *key, int64_t v);
void jw_kbool(const char *key, int v);

/* ---- The objects: one file each ---- */

int do_asm(int argc, char **argv);	/* isa_cmds.c */
int do_disasm(int argc, char **argv);	/* isa_cmds.c */
int do_run(int argc, char **argv);	/* run.c */
int do_map(int argc, char **argv);	/* map.c */

/* ---- map_btf.c: keys and values of maps with BTF, as bpftool prints them ---- */
struct ub_btf;
struct bpf_map_info;
/* The map's BTF (its btf_id), or NULL when it has none or it cannot be read. */
struct ub_btf *cli_map_btf(const struct bpf_map_info *info);
/* One element: plain text (bpftool's BTF writer: an object whose members are at `depth`;
 * `first`: no separator before it) or, in JSON, the "formatted" member. Per-CPU values
 * come ncpus of them (0: not per-CPU), each rounded to 8 bytes. */
void cli_btf_entry_plain(const struct ub_btf *btf, const struct bpf_map_info *info,
			 const uint8_t *key, const uint8_t *value, int ncpus, int depth,
			 int first);
void cli_btf_entry_json(const struct ub_btf *btf, const struct bpf_map_info *info,
			const uint8_t *key, const uint8_t *value, int ncpus);
int do_prog(int argc, char **argv);	/* prog.c */
int do_object(int argc, char **argv);	/* object.c */
int do_btf(int argc, char **argv);	/* btf.c: btf dump file */
int do_gen(int argc, char **argv);	/* gen.c: gen skeleton */

int cli_prog_dump(int argc, char **argv);	/* prog_dump.c: prog dump xlated|jited */
/* The program's instructions as loaded (map fds of this process in its lddw's), *cnt of
 * them, malloc'd; info is the program's full info. NULL after saying why (cli_err). */
struct bpf_prog_info;
struct bpf_insn *cli_prog_xlated(int fd, struct bpf_prog_info *info, uint32_t *cnt);
int cli_prog_run(int argc, char **argv);	/* prog_run.c: prog run, with --pcap */
int cli_map_event_pipe(int argc, char **argv);	/* map_pipe.c: a ring buffer's records */
/* prog_jit.c: the JIT's machine code of a program, disassembled (file: refused). */
int cli_jit_dump(int prog_fd, int opcodes, const char *file);

/* ---- pcap_io.c: capture files (libpcap) ---- */

struct cli_pcap;
/* A capture file to read ("-": standard input), or NULL (reported). */
struct cli_pcap *cli_pcap_open_read(const char *path);
/* A capture file to write, with the link type, snapshot length and precision of in. */
struct cli_pcap *cli_pcap_open_write(const struct cli_pcap *in, const char *path);
/* Does the file hold Ethernet frames? Its link type's name ("EN10MB", "RAW"). */
int cli_pcap_is_ethernet(const struct cli_pcap *c);
const char *cli_pcap_linktype(const struct cli_pcap *c);
/* The next packet: 1, 0 at the end, -1 on a damaged file (reason in err). */
int cli_pcap_next(struct cli_pcap *c, const uint8_t **pkt, uint32_t *caplen, char *err,
		  size_t errsz);
/* Writes len bytes as a packet with the timestamp of in's current packet. */
void cli_pcap_write(struct cli_pcap *out, const struct cli_pcap *in, const uint8_t *pkt,
		    uint32_t len);
/* Closes (flushing a writer): 0, or -1 if writing failed. */
int cli_pcap_close(struct cli_pcap *c);

/* ---- names.c: type names as bpftool prints them (libbpf's names) ---- */

const char *cli_map_type_name(uint32_t type);		/* NULL if unknown */
const char *cli_prog_type_name(uint32_t type);		/* NULL if unknown */
/* A map type by its name ("hash", "lru_percpu_hash"): 0, or -1 if there is none. */
int cli_map_type_by_name(const char *name, uint32_t *type);
/* A program type by a SEC()-style name as `prog load type` takes it ("xdp", "classifier"). */
int cli_prog_type_by_name(const char *name, uint32_t *type);

/* ---- pins.c: objects pinned under the pin root, and MAP / PROG arguments ---- */

/*
 * uebpf's ids are per process. The CLI opens every object pinned under the pin root in
 * path order (maps first, then programs) before it resolves an id or a name, so that within
 * one pin tree "id N" means the same object in every invocation. See docs/cli.md.
 */
void cli_pins_scan(void);
/* The same, then the pinned programs (loading each: it runs the verifier). */
void cli_pins_scan_progs(void);
/* The pinned paths of the map or program with that id (NULL-terminated; empty if none). */
const char *const *cli_pins_of(int is_prog, uint32_t id);
/* Shows those paths in a show command's entry: "\n\tpinned PATH" lines (plain), or a
 * "pinned" array when there is any (-j). */
void cli_show_pins(const char *const *pins);
/* A new fd for the scanned map pinned at real path (same file), or -1. */
int cli_pins_map_fd(const char *real);
/* A map pinned at path (bpf_obj_get, or the scanned one): fd or -1 (reported). */
int cli_map_by_pin(const char *path);
/* The pin root (UEBPF_PIN_ROOT, /run/uebpf, ...) and where a user path really lives. */
const char *cli_pin_root(void);
int cli_pin_real(const char *path, char *out, size_t outsz);

/*
 * MAP := id ID | pinned PATH | name NAME, taken from *argv (advanced past it). Returns an
 * fd (the caller closes it), or -1 (reported, as a usage error when the words were wrong:
 * *usage set).
 */
int cli_map_ref(const char *cmd, int *argc, char ***argv, int *usage);
/* PROG := id ID | pinned PATH | name NAME, as cli_map_ref: a program fd, or -1. */
int cli_prog_ref(const char *cmd, int *argc, char ***argv, int *usage);
/* A usage error in bpftool's words ("Error: ..." and no hint): returns CLI_USAGE. */
int cli_bt_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The reason for a failed pin or open: strerror(err), or the library's message. */
const char *cli_why(int err);
/* bpf_obj_pin with bpftool's message on failure: CLI_OK or CLI_FAIL. */
int cli_pin_fd(int fd, const char *path);
/* All maps NAME names, for commands that take several (show, dump); count in *n. */
int *cli_maps_named(const char *name, size_t *n);
/* Is the map frozen? (BPF_MAP_FREEZE; reads the map's header.) */
int cli_map_frozen(int fd);
/* Bytes of memory behind a map (its file's size). */
uint64_t cli_map_memory(int fd);

/* ---- prog_pin.c: pinned programs (files the CLI writes) ---- */

/* A C source line of an instruction (from BTF line_info), for `prog dump`. */
struct cli_src_line {
	uint32_t insn_off;	/* the first instruction of the line */
	uint32_t line, col;
	char *file;
	char *src;		/* the line, or a function's prototype when is_proto */
	uint32_t is_proto;	/* a function starts here: "int fw(struct xdp_md * ctx)" */
};
void cli_src_lines_free(struct cli_src_line *lines, uint32_t n);
/* Remembers the source lines of a program of this process (takes them over). */
void cli_prog_note_lines(uint32_t prog_id, struct cli_src_line *lines, uint32_t n);
const struct cli_src_line *cli_prog_lines(uint32_t prog_id, uint32_t *n);
/* Remembers where a map this process uses is pinned (for pinning programs that use it). */
void cli_map_path_note(int fd, const char *path);

/* prog_lines.c: remembers the C source lines of a loaded object program (its BTF). */
struct bpf_program;
void cli_prog_note_obj_lines(const struct bpf_program *prog);

/* Is the file at path a pinned program? */
int cli_prog_pin_is(const char *path);
/*
 * Loads the pinned program at path (its maps opened from their pins): a program fd, or -1
 * (reported unless quiet).
 */
int cli_prog_pin_open(const char *path, int quiet);
/* Pins the program behind prog_fd at path; its maps must be pinned. CLI_OK or CLI_FAIL. */
int cli_prog_pin_write(int prog_fd, const char *path);

/* ---- map_data.c: keys and values ---- */

/*
 * bpftool's DATA := [hex] BYTES: exactly n words, each one byte (decimal, 0x hex or 0 octal;
 * with "hex" first, hexadecimal). Advances *argv. 0, or -1 (reported).
 */
int cli_parse_bytes(const char *what, int *argc, char ***argv, uint8_t *out, uint32_t n);
/* "01 02 ff" */
void cli_print_hex(FILE *f, const uint8_t *p, size_t n);
/* A JSON array of "0x01" strings. */
void cli_json_hex(const uint8_t *p, size_t n);

#endif
