/*
 * ub_prog_pin: a pinned program is a file (see prog_pin.c for the layout): BPF_OBJ_PIN of a
 * program fd writes it, BPF_OBJ_GET of it loads the program again through the verifier.
 */
#ifndef UB_API_PROG_PIN_H
#define UB_API_PROG_PIN_H

#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

/* ---- the file format, shared with the CLI (which also writes source lines) ---- */

#define UB_PIN_MAGIC "UEBPFPRG"
#define UB_PIN_VERSION 2	/* 1: no attach type or licence flag (read as GPL, type 0) */
#define UB_PIN_MAX_INSNS (1u << 20)	/* BPF_COMPLEXITY_LIMIT_INSNS */
#define UB_PIN_MAX_MAPS 64		/* MAX_USED_MAPS */
#define UB_PIN_MAX_LINES (1u << 20)
#define UB_PIN_MAX_STRTAB (16u << 20)

struct ub_pin_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	uint32_t prog_type;
	uint32_t insn_cnt;
	uint32_t nr_maps;
	uint32_t nr_lines;
	uint32_t strtab_size;
	uint32_t kern_version;
	char name[BPF_OBJ_NAME_LEN];
	/* version 2 on */
	uint32_t expected_attach_type;
	uint32_t flags;			/* UB_PIN_F_* */
};

#define UB_PIN_F_GPL	1u		/* loaded with a GPL-compatible licence */
#define UB_PIN_HDR_V1	offsetof(struct ub_pin_hdr, expected_attach_type)

struct ub_pin_line {
	uint32_t insn_off, file_off, src_off, line, col, is_proto;
};

/* A growing string table; offsets of added strings are stable. */
struct ub_pin_strtab {
	char *buf;
	size_t len;
};

/* Appends s (NULL as "") and its NUL; *off is where it starts. 0 or -ENOMEM. */
int ub_pin_str_add(struct ub_pin_strtab *t, const char *s, uint32_t *off);
/* The file's bytes (malloc'd, *len set; NULL when out of memory) from h, whose counts the
 * caller sets (magic, version, header and strtab sizes are filled here), and the arrays. */
void *ub_pin_encode(struct ub_pin_hdr *h, const struct bpf_insn *insns, const uint32_t *offs,
		    const struct ub_pin_line *lines, const struct ub_pin_strtab *t, size_t *len);

/* A parsed pin file: pointers into buf, every offset checked. */
struct ub_pin_file {
	uint8_t *buf;
	size_t len;
	struct ub_pin_hdr h;
	struct bpf_insn *insns;		/* a copy, to patch (freed by the caller) */
	const uint32_t *offs;
	const struct ub_pin_line *lines;
	const char *strtab;
	const char *real;		/* the name in messages */
};

/* Checks buf/len and fills the rest of f: 0, -EINVAL with uebpf_last_error() naming
 * f->real and the reason, or -ENOMEM. */
int ub_pin_parse(struct ub_pin_file *f);
/* The string at off in f's table, or NULL when off is out of it. */
const char *ub_pin_str(const struct ub_pin_file *f, uint32_t off);
/* bpf_prog_load() of f's program as it was pinned (type, name, expected attach type,
 * licence, kern_version; fd_array when given), its verifier log into log. fd or -1. */
int ub_pin_prog_load(const struct ub_pin_file *f, const int *fd_array, char *log,
		     size_t logsz);

/* Writes the program behind prog_fd at real (user_path is the path as the caller gave it,
 * the base of the PATH.maps/ names stored in the file), with the file mode `mode`. */
int ub_prog_pin_write(int prog_fd, const char *user_path, const char *real, unsigned mode);
/* Notes that this process pinned (or opened) the map whose file is map_file_fd at this
 * path: pinning a program that uses the map then records this path rather than pinning the
 * map again beside the program (as long as the path still holds the map). */
void ub_prog_pin_note_map(int map_file_fd, const char *user_path, const char *real);
/* Whether the open file fd starts like a pinned program. */
int ub_prog_pin_is(int fd);
/* Loads the pinned program in the open file fd (named real in messages): a new program
 * fd, or -errno with uebpf_last_error() saying where and why. */
int ub_prog_pin_open(int fd, const char *real);

#endif
