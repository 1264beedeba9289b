/*
 * ub_btf: BTF and BTF.ext, parsed and validated as untrusted input.
 *
 * Contract shared by the object loader (src/obj), CO-RE (src/btf/core.c), the verifier's
 * log (line info) and the CLI (btf dump, map dump). Types are the kernel's UAPI encoding
 * (<linux/btf.h>); every id and name offset handed out has been checked by ub_btf_parse,
 * so callers index without re-checking.
 */
#ifndef UB_BTF_BTF_H
#define UB_BTF_BTF_H
#include <stddef.h>
#include <stdint.h>
#include <linux/btf.h>
#include "util/log.h"

struct ub_btf;

/* Parses and validates a .BTF blob (copied). Errors name the offset and reason in log:
 * "BTF: type 12 at offset 0x1a4: member 3 type id 99 out of range". 0 or -EINVAL/-ENOMEM. */
int ub_btf_parse(const void *data, size_t size, struct ub_btf **out, struct ub_log *log);
/* The kernel's BTF (/sys/kernel/btf/vmlinux) or a file; -ENOENT when absent. */
int ub_btf_load_file(const char *path, struct ub_btf **out, struct ub_log *log);
void ub_btf_free(struct ub_btf *btf);

/* The raw blob as parsed (e.g. for BPF_BTF_LOAD, skeleton embedding). */
const void *ub_btf_raw(const struct ub_btf *btf, size_t *size);
/* Number of type ids: valid ids are 1 .. n-1 (0 is void). */
uint32_t ub_btf_type_cnt(const struct ub_btf *btf);
/* Type by id; NULL for 0 (void) or out of range. */
const struct btf_type *ub_btf_type(const struct ub_btf *btf, uint32_t id);
/* Name at a string offset ("" for 0 or out of range). */
const char *ub_btf_str(const struct ub_btf *btf, uint32_t off);
static inline uint32_t ub_btf_kind(const struct btf_type *t) { return BTF_INFO_KIND(t->info); }
static inline uint32_t ub_btf_vlen(const struct btf_type *t) { return BTF_INFO_VLEN(t->info); }
/* Follows typedef, const, volatile, restrict and type tags; *res gets the final id. */
const struct btf_type *ub_btf_skip_mods(const struct ub_btf *btf, uint32_t id, uint32_t *res);
/* Size in bytes of a type (arrays multiplied out, pointers 8); -EINVAL for void/func. */
int64_t ub_btf_resolve_size(const struct ub_btf *btf, uint32_t id);
/* First type of that name and kind (kind 0: any), or -ENOENT. */
int ub_btf_find(const struct ub_btf *btf, const char *name, uint32_t kind);
/* Formats one value of a type the way bpftool's map dump prints it (plain text: its JSON
 * writer in pretty mode, 4-space indents, %p pointers). Returns the text length (truncated
 * to bufsz like snprintf), or -EINVAL when size is smaller than the type. */
int ub_btf_format(const struct ub_btf *btf, uint32_t id, const void *data, size_t size,
		  char *buf, size_t bufsz);

/* .BTF.ext: func_info, line_info and CO-RE relocations, grouped by section name. */
struct ub_btf_ext;
struct ub_btf_ext_sec {
	const char *name;		/* ELF section the records belong to */
	uint32_t nr;
	const void *recs;		/* nr records of rec_size bytes */
	uint32_t rec_size;
};
/* Copies and checks a .BTF.ext section against its .BTF (every record size, count, string
 * offset and type id; insn_off only for alignment: callers compare it with the section's
 * size). Section names point into btf's strings: keep btf alive as long as ext. */
int ub_btf_ext_parse(const void *data, size_t size, const struct ub_btf *btf,
		     struct ub_btf_ext **out, struct ub_log *log);
void ub_btf_ext_free(struct ub_btf_ext *ext);
/* what: 0 func_info (struct bpf_func_info), 1 line_info (struct bpf_line_info),
 * 2 core_relo (struct bpf_core_relo). Returns the section's records or NULL. */
enum { UB_BTF_EXT_FUNC, UB_BTF_EXT_LINE, UB_BTF_EXT_CORE };
const struct ub_btf_ext_sec *ub_btf_ext_find(const struct ub_btf_ext *ext, int what,
					     const char *sec_name);

/* CO-RE (core.c): resolves one relocation of the local program against a target BTF
 * (vmlinux, a named file, or the object's own). On success *val is the new immediate
 * or offset; a relocation that cannot be satisfied gives -ESRCH and a message naming
 * the access string; the loader then poisons the instruction as libbpf does. */
struct bpf_core_relo;
int ub_core_resolve(const struct ub_btf *local, const struct ub_btf *target,
		    const struct bpf_core_relo *relo, uint64_t *val, struct ub_log *log);

/* Result of one CO-RE relocation (libbpf's bpf_core_relo_res). */
struct ub_core_res {
	uint64_t orig_val;	/* what the compiler put in the instruction (local BTF) */
	uint64_t new_val;	/* what it becomes (target BTF) */
	uint32_t orig_sz, new_sz;	/* field sizes: a load/store changes size with them */
	int poison;		/* unsatisfiable: the instruction becomes call 0xbad2310 */
	int validate;		/* the instruction must hold orig_val before patching */
	int fail_memsz_adjust;	/* sizes differ in a way a load cannot follow: poison */
};
/* Computes a relocation (target NULL: the local BTF itself). 0 (res->poison set when the
 * target lacks the field or enumerator), or -EINVAL/-E2BIG/-ENOMEM with a message. */
int ub_core_calc(const struct ub_btf *local, const struct ub_btf *target,
		 const struct bpf_core_relo *relo, struct ub_core_res *res, struct ub_log *log);
/* Patches insns[relo->insn_off / 8] (cnt instructions of the relocation's ELF section)
 * as libbpf does: ALU imm, LDX/ST/STX offset (and size), or lddw imm; or poisons it. */
struct bpf_insn;
int ub_core_patch(const struct bpf_core_relo *relo, const struct ub_core_res *res,
		  struct bpf_insn *insns, size_t cnt, struct ub_log *log);
/* ub_core_calc then ub_core_patch. A poisoned instruction is not an error (0). */
int ub_core_apply(const struct ub_btf *local, const struct ub_btf *target,
		  const struct bpf_core_relo *relo, struct bpf_insn *insns, size_t cnt,
		  struct ub_log *log);
/* CO-RE's index of a target BTF's types by essential name: built by core.c on the first
 * relocation against that BTF (thread-safe), kept in the BTF and freed with it. */
struct ub_core_index;
struct ub_core_index **ub_btf_core_index_slot(const struct ub_btf *btf);
void ub_core_index_free(struct ub_core_index *idx);
/* Length of a name without its "___flavor" suffix; relocation kind names for messages. */
size_t ub_core_essential_len(const char *name);
const char *ub_core_kind_name(uint32_t kind);

/* Text (btf_dump.c, btf_cdump.c): bpftool's `btf dump file X` raw format, exactly
 * ("[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED"). */
#include <stdio.h>
const char *ub_btf_kind_name(uint32_t kind);
void ub_btf_dump_raw_type(const struct ub_btf *btf, uint32_t id, FILE *f);
int ub_btf_dump_raw(const struct ub_btf *btf, FILE *f);
/* A value as ub_btf_format prints it, onto f, as bpftool's JSON writer would at nesting
 * depth `depth` (lines indented 4 * depth spaces; `bpftool map dump` prints keys and
 * values at depth 2, after `"value": `). 0 or -EINVAL. */
int ub_btf_fprint(const struct ub_btf *btf, uint32_t id, const void *data, size_t size,
		  FILE *f, int depth);
/* A C header of every named type (`format c`), in an order that compiles. */
int ub_btf_dump_c(const struct ub_btf *btf, FILE *f);
/* The same dumper for one type at a time (skeletons): a type with what it needs, or a
 * declarator ("int x[4]", "struct foo *p") with the dumper's names (struct foo___2). */
struct ub_cdump;
int ub_cdump_new(const struct ub_btf *btf, struct ub_cdump **out);
void ub_cdump_free(struct ub_cdump *cd);
int ub_cdump_type(struct ub_cdump *cd, uint32_t id, FILE *f);
int ub_cdump_decl(struct ub_cdump *cd, uint32_t id, const char *name, int indent, FILE *f);

#endif
