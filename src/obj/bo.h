/*
 * ub_bo: the BPF object (an ELF file from `clang -target bpf`) as libbpf models it:
 * struct bpf_object holds programs and maps; open parses and checks everything that does
 * not need the running system (ELF, BTF, map definitions, relocation records); load
 * creates maps, links and relocates each program, and loads it through bpf_prog_load.
 *
 * The files of this module: elf.c (ub_elf_: sections, symbols, relocation records),
 * secdef.c (ub_sec_: SEC() names), mapdef.c (ub_mapdef_: .maps, legacy maps, global data,
 * .kconfig), reloc.c (ub_reloc_: CO-RE, subprogram linking, map and extern relocations),
 * load.c (ub_bo_: open, load, close). The public calls are in src/api/libbpf_obj.c and
 * src/api/libbpf_map.c.
 */
#ifndef UB_OBJ_BO_H
#define UB_OBJ_BO_H
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <gelf.h>
#include <bpf/libbpf.h>
#include "btf/btf.h"

struct bpf_insn;

/* One SEC() name pattern (libbpf's section_defs, plus uebpf's own types). */
struct ub_secdef {
	const char *prefix;
	uint32_t type;			/* enum bpf_prog_type, or a uebpf type */
	uint32_t attach;		/* expected attach type */
	uint8_t flags;			/* UB_SEC_* */
	const char *why;		/* non-NULL: uebpf cannot load it, and why */
};
enum {
	UB_SEC_EXACT = 1,		/* the name must equal prefix */
	UB_SEC_SLASH = 2,		/* prefix, or prefix followed by '/' and anything */
	UB_SEC_ANY = 4,			/* prefix followed by anything */
	UB_SEC_SLEEPABLE = 8,
	UB_SEC_FRAGS = 16,
};
const struct ub_secdef *ub_sec_find(const char *sec_name);
const char *ub_sec_type_name(uint32_t type);

/* A relocation of one instruction, classified at open time. */
enum ub_rel_kind { UB_REL_CALL, UB_REL_MAP, UB_REL_DATA, UB_REL_EXTERN, UB_REL_KFUNC };
struct ub_rel {
	uint32_t insn;			/* instruction index in the section */
	uint8_t kind;
	uint32_t sec;			/* UB_REL_CALL: target executable section (index in xsecs) */
	int64_t sym_off;		/* byte offset of the symbol in its section */
	int map;			/* UB_REL_MAP / UB_REL_DATA: index in obj->maps */
	int ext;			/* UB_REL_EXTERN: index in obj->exts */
	const char *name;		/* the symbol's name, for messages */
};

/* An executable ELF section: programs and subprograms point into it. */
struct ub_xsec {
	const char *name;
	size_t shndx;
	struct bpf_insn *insns;		/* copy; CO-RE rewrites it at load */
	size_t cnt;
	struct ub_rel *rels;		/* sorted by insn */
	size_t nrels;
};

struct bpf_program {
	struct bpf_object *obj;
	char *name;
	char *sec_name;
	uint32_t idx;			/* index in obj->progs */
	uint32_t xsec;			/* index in obj->xsecs */
	uint32_t off, cnt;		/* instructions [off, off + cnt) of the section */
	bool subprog;			/* a .text function: linked into programs, not loaded alone */
	bool autoload;
	const struct ub_secdef *def;
	uint32_t type, attach;
	uint32_t flags;
	uint32_t log_level;
	char *log_buf;
	size_t log_size;
	struct bpf_insn *insns;		/* NULL until load: then the instructions loaded */
	size_t insn_cnt;
	/* .BTF.ext records of the linked program, insn_off in instructions (as BPF_PROG_LOAD) */
	void *func_info, *line_info;
	uint32_t func_info_cnt, func_info_rec, line_info_cnt, line_info_rec;
	int fd;
};

enum ub_map_kind { UB_MAP_USER, UB_MAP_DATA, UB_MAP_RODATA, UB_MAP_BSS, UB_MAP_KCONFIG };

struct bpf_map {
	struct bpf_object *obj;
	char *name;			/* as libbpf: internal maps "<obj>.<sec>" */
	char *real_name;		/* the variable or ELF section name */
	uint8_t kind;			/* enum ub_map_kind */
	uint32_t type, key_size, value_size, max_entries, map_flags, numa_node;
	uint64_t map_extra;
	uint32_t btf_key_type_id, btf_value_type_id;
	uint32_t pinning;
	char *pin_path;
	bool pinned, autocreate, reused;
	size_t shndx;			/* ELF section of the definition or data */
	uint64_t sec_off;		/* offset of the definition in it */
	uint32_t values_off;		/* BTF maps: offset of the `values` member, for slots */
	void *data;			/* internal maps: initial value (value_size bytes) */
	struct bpf_map *inner;		/* map-in-map: the inner map's definition */
	int inner_fd;			/* bpf_map__set_inner_map_fd */
	int *slots;			/* initial values: map or program index + 1, 0 none */
	uint32_t nr_slots;
	bool slots_progs;		/* slots name programs (prog array) */
	int fd;
};

/* An extern variable (.kconfig) or symbol (.ksyms). */
struct ub_ext {
	char *name;
	bool weak, ksym;
	uint32_t type_id;
	uint32_t off, size;
};

struct bpf_object {
	char *name;
	char *path;
	uint8_t *buf;			/* the ELF bytes (copy) */
	size_t size;
	Elf *elf;			/* open for the object's life: names point into it */
	char license[128];
	uint32_t kversion;
	struct ub_btf *btf;
	struct ub_btf_ext *ext;
	struct ub_xsec *xsecs;
	size_t nxsecs;
	struct bpf_program **progs;	/* programs and subprograms, in ELF order */
	size_t nprogs;
	struct bpf_map **maps;
	size_t nmaps;
	struct ub_ext *exts;
	size_t nexts;
	int kconfig_map;		/* index in maps, or -1 */
	int btf_fd;			/* the object's BTF loaded (BPF_BTF_LOAD), or -1 */
	bool loaded, relaxed_maps;
	char *pin_root;
	char *btf_custom_path;
	char *kconfig;
	char *log_buf;
	size_t log_size;
	uint32_t log_level;
};

/* Messages go through libbpf_set_print's callback (libbpf_obj.c). */
void ub_bo_pr(enum libbpf_print_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* false when libbpf_set_print(NULL) silenced everything (no log worth making then) */
bool ub_bo_pr_enabled(void);
#define ub_bo_warn(...) ub_bo_pr(LIBBPF_WARN, "libbpf: " __VA_ARGS__)
#define ub_bo_info(...) ub_bo_pr(LIBBPF_INFO, "libbpf: " __VA_ARGS__)
#define ub_bo_debug(...) ub_bo_pr(LIBBPF_DEBUG, "libbpf: " __VA_ARGS__)

/* elf.c: fills obj from obj->buf (sections, programs, maps, relocations). -errno. */
int ub_elf_collect(struct bpf_object *obj);

/* The ELF file being opened (elf.c), shared by the collectors of mapdef.c. */
struct ub_elf {
	Elf *elf;
	size_t shstrndx, nsec;
	Elf_Data *syms;			/* symbol table */
	size_t nsyms, symstr;		/* symbols, their string section */
	size_t maps_shndx, legacy_shndx, btf_maps_rel;	/* 0: none */
};
int ub_elf_sym(struct ub_elf *e, size_t i, GElf_Sym *sym);
const char *ub_elf_sym_name(struct ub_elf *e, const GElf_Sym *sym);
const char *ub_elf_sec_name(struct ub_elf *e, size_t shndx);
/* A section's header and bytes (NULL for SHT_NOBITS); NULL + -EINVAL if unreadable. */
const void *ub_elf_sec_data(struct ub_elf *e, size_t shndx, GElf_Shdr *sh, size_t *size);

/* mapdef.c */
int ub_mapdef_btf_maps(struct bpf_object *obj, struct ub_elf *e);
int ub_mapdef_legacy(struct bpf_object *obj, struct ub_elf *e);
int ub_mapdef_data(struct bpf_object *obj, struct ub_elf *e);
int ub_mapdef_externs(struct bpf_object *obj, struct ub_elf *e);
int ub_mapdef_slots(struct bpf_object *obj, struct ub_elf *e);
/* Index in obj->exts of the extern of that name, or -1. */
int ub_mapdef_ext(const struct bpf_object *obj, const char *name);
struct bpf_map *ub_mapdef_new(struct bpf_object *obj, const char *name, const char *real);
void ub_mapdef_free(struct bpf_map *map);
/* Values of .kconfig externs into the kconfig map's initial data. */
int ub_mapdef_kconfig_fill(struct bpf_object *obj);

/* reloc.c: applies CO-RE to every section, then links and relocates one program into
 * prog->insns. */
int ub_reloc_core(struct bpf_object *obj);
int ub_reloc_prog(struct bpf_object *obj, struct bpf_program *prog);

/* load.c */
struct bpf_object *ub_bo_open(const void *buf, size_t size, const char *path,
			      const struct bpf_object_open_opts *opts);
int ub_bo_load(struct bpf_object *obj);
void ub_bo_close(struct bpf_object *obj);
int ub_bo_unlink_pin(const char *path);

#endif
