/*
 * uebpf gen skeleton OBJ [name NAME]: a C header in the shape of bpftool's skeletons.
 *
 *   struct NAME { skeleton; obj; maps {...}; progs {...}; links {...};
 *                 struct NAME__bss {...} *bss; ... data, rodata, custom .data.x ... };
 *   NAME__open, __open_opts, __load, __open_and_load, __attach, __detach, __destroy,
 *   __elf_bytes (the object, embedded).
 *
 * Maps and programs are listed by uebpf's own loader (so the names round-trip through
 * bpf_object__open_skeleton); global-data structs come from the BTF DATASEC of each
 * section, with variable offsets taken from the ELF symbol table as libbpf does (clang
 * leaves them 0 in the object's BTF) and explicit padding where the next variable does
 * not fall where C would put it. Static variables are not exposed (bpftool's rule).
 */
#include <ctype.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "btf/btf.h"
#include "cli.h"

static int gen_help(int argc, char **argv);
static int gen_skeleton(int argc, char **argv);

static const struct cli_cmd gen_cmds[] = {
	{ "skeleton", gen_skeleton, "gen skeleton FILE [name OBJECT_NAME]" },
	{ "help", gen_help, "gen help" },
	{ NULL, NULL, NULL },
};

static int gen_help(int argc, char **argv)
{
	cli_print_usage(stdout, gen_cmds);
	return CLI_OK;
}

int do_gen(int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "help"))
		return gen_help(argc - 1, argv + 1);
	return cli_select(gen_cmds, "gen", argc, argv);
}

/* ---- names ---- */

static void gen_sanitize(char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			*s = '_';
}

/* "dir/foo.bpf.o" -> "foo_bpf" (bpftool: drop the last extension, then sanitize). */
static void gen_obj_name(const char *file, char *out, size_t outsz)
{
	const char *b = strrchr(file, '/');

	snprintf(out, outsz, "%s", b ? b + 1 : file);
	char *dot = strrchr(out, '.');
	if (dot && dot != out)
		*dot = 0;
	gen_sanitize(out);
	if (out[0] >= '0' && out[0] <= '9')
		out[0] = '_';
}

/* The section of an internal map ("obj.bss" -> ".bss", ".data.x" -> ".data.x"), or NULL. */
static const char *gen_map_sec(const struct bpf_map *map)
{
	static const char *const secs[] = { ".data", ".rodata", ".bss", ".kconfig" };
	const char *name = bpf_map__name(map);

	if (!bpf_map__is_internal(map))
		return NULL;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		const char *p = strstr(name, secs[i]);
		if (p)
			return p;
	}
	return NULL;
}

/* The field name of a map: its own name, or for global data the section without the dot. */
static int gen_map_ident(const struct bpf_map *map, char *out, size_t outsz)
{
	const char *sec = gen_map_sec(map);

	if (!bpf_map__is_internal(map))
		snprintf(out, outsz, "%s", bpf_map__name(map));
	else if (sec)
		snprintf(out, outsz, "%s", sec + 1);
	else
		return -1;
	gen_sanitize(out);
	return 0;
}

/* ---- the ELF side: BTF and symbol values ---- */

struct gen {
	const char *file;
	char name[128];
	uint8_t *buf;
	size_t len;
	Elf *elf;
	size_t shstrndx;
	struct ub_btf *btf;
	struct ub_cdump *cd;
	struct bpf_object *obj;
};

static Elf_Scn *gen_scn(struct gen *g, const char *want, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(g->elf, scn))) {
		const char *n;
		if (gelf_getshdr(scn, sh) && (n = elf_strptr(g->elf, g->shstrndx, sh->sh_name)) &&
		    !strcmp(n, want))
			return scn;
	}
	return NULL;
}

/* The value of symbol `var` defined in section `sec`, or -1. */
static int64_t gen_sym_off(struct gen *g, const char *sec, const char *var)
{
	GElf_Shdr sh, ssh;
	Elf_Scn *scn = NULL, *target = gen_scn(g, sec, &ssh);

	if (!target)
		return -1;
	size_t tidx = elf_ndxscn(target);
	while ((scn = elf_nextscn(g->elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;
			if (gelf_getsym(d, (int)i, &s) && s.st_shndx == tidx &&
			    (n = elf_strptr(g->elf, sh.sh_link, s.st_name)) && !strcmp(n, var))
				return (int64_t)s.st_value;
		}
	}
	return -1;
}

static int gen_open(struct gen *g)
{
	char msg[2048];
	struct ub_log log;
	GElf_Shdr sh;
	Elf_Scn *scn;

	if (cli_read_file(g->file, &g->buf, &g->len))
		return -1;
	elf_version(EV_CURRENT);
	g->elf = elf_memory((char *)g->buf, g->len);
	if (!g->elf || elf_kind(g->elf) != ELF_K_ELF || elf_getshdrstrndx(g->elf, &g->shstrndx))
		return cli_err("%s: not an ELF object", g->file), -1;
	/* without BTF (no -g) there are maps and programs but no global-data structs */
	if ((scn = gen_scn(g, ".BTF", &sh)) && sh.sh_type != SHT_NOBITS) {
		Elf_Data *d = elf_getdata(scn, NULL);
		ub_log_init(&log, msg, sizeof(msg));
		if (!d || ub_btf_parse(d->d_buf, d->d_size, &g->btf, &log))
			return cli_err_log(msg, "%s: bad .BTF section", g->file), -1;
		if (ub_cdump_new(g->btf, &g->cd))
			return cli_err("out of memory"), -1;
	}
	LIBBPF_OPTS(bpf_object_open_opts, o, .object_name = g->name);
	g->obj = bpf_object__open_mem(g->buf, g->len, &o);
	if (!g->obj)
		return cli_err("%s: cannot open the object: %s", g->file, strerror(errno)), -1;
	return 0;
}

static void gen_close(struct gen *g)
{
	bpf_object__close(g->obj);
	ub_cdump_free(g->cd);
	ub_btf_free(g->btf);
	if (g->elf)
		elf_end(g->elf);
	free(g->buf);
}

/* ---- output ---- */

/* The variable type without top-level const/volatile, so the user can write the field. */
static uint32_t gen_strip(struct gen *g, uint32_t id)
{
	for (int i = 0; i < 16; i++) {
		const struct btf_type *t = ub_btf_type(g->btf, id);
		if (!t || (ub_btf_kind(t) != BTF_KIND_CONST && ub_btf_kind(t) != BTF_KIND_VOLATILE))
			break;
		id = t->type;
	}
	return id;
}

struct gen_var {
	uint32_t type;
	const char *name;
	uint64_t off, size;
};

static int gen_var_cmp(const void *a, const void *b)
{
	const struct gen_var *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* "struct NAME__bss { ... } *bss;" for one global-data section; 0 if it has none. */
static int gen_datasec(struct gen *g, const char *sec, const char *ident)
{
	int id = g->btf ? ub_btf_find(g->btf, sec, BTF_KIND_DATASEC) : -ENOENT;
	if (id <= 0)
		return 0;
	const struct btf_type *ds = ub_btf_type(g->btf, (uint32_t)id);
	const struct btf_var_secinfo *vi = (const void *)(ds + 1);
	struct gen_var *v = calloc(ub_btf_vlen(ds) + 1, sizeof(*v));
	uint32_t n = 0;

	if (!v)
		return -1;
	for (uint32_t i = 0; i < ub_btf_vlen(ds); i++) {
		const struct btf_type *vt = ub_btf_type(g->btf, vi[i].type);
		if (!vt || ub_btf_kind(vt) != BTF_KIND_VAR ||
		    ((const struct btf_var *)(vt + 1))->linkage == BTF_VAR_STATIC)
			continue;
		const char *name = ub_btf_str(g->btf, vt->name_off);
		int64_t off = gen_sym_off(g, sec, name);
		v[n++] = (struct gen_var){ vt->type, name, off >= 0 ? (uint64_t)off : vi[i].offset,
					   vi[i].size };
	}
	qsort(v, n, sizeof(*v), gen_var_cmp);
	printf("\tstruct %s__%s {\n", g->name, ident);
	uint64_t end = 0;
	int pad = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (v[i].off > end)	/* explicit, so the layout never depends on alignment */
			printf("\t\tchar __pad%d[%llu];\n", pad++, (unsigned long long)(v[i].off - end));
		printf("\t\t");
		fflush(stdout);
		if (ub_cdump_decl(g->cd, gen_strip(g, v[i].type), v[i].name, 2, stdout)) {
			free(v);
			return -1;
		}
		printf(";\n");
		end = v[i].off + v[i].size;
	}
	printf("\t} *%s;\n", ident);
	free(v);
	return 1;
}

static int gen_struct(struct gen *g, unsigned char *has_data)
{
	struct bpf_map *m;
	struct bpf_program *p;
	char ident[256];
	int i = 0;

	printf("struct %s {\n\tstruct bpf_object_skeleton *skeleton;\n\tstruct bpf_object *obj;\n",
	       g->name);
	printf("\tstruct {\n");
	bpf_object__for_each_map(m, g->obj)
		if (!gen_map_ident(m, ident, sizeof(ident)))
			printf("\t\tstruct bpf_map *%s;\n", ident);
	printf("\t} maps;\n\tstruct {\n");
	bpf_object__for_each_program(p, g->obj)
		printf("\t\tstruct bpf_program *%s;\n", bpf_program__name(p));
	printf("\t} progs;\n\tstruct {\n");
	bpf_object__for_each_program(p, g->obj)
		printf("\t\tstruct bpf_link *%s;\n", bpf_program__name(p));
	printf("\t} links;\n");
	bpf_object__for_each_map(m, g->obj) {
		const char *sec = gen_map_sec(m);
		has_data[i] = 0;
		/* .kconfig is laid out by the loader at open time, not by the ELF symbols */
		if (sec && strcmp(sec, ".kconfig") && !gen_map_ident(m, ident, sizeof(ident))) {
			int r = gen_datasec(g, sec, ident);
			if (r < 0)
				return -1;
			has_data[i] = r > 0;
		}
		i++;
	}
	printf("};\n\n");
	return 0;
}

static void gen_functions(struct gen *g)
{
	const char *n = g->name;

	printf("static inline void\n%s__destroy(struct %s *obj)\n{\n\tif (!obj)\n\t\treturn;\n"
	       "\tif (obj->skeleton)\n\t\tbpf_object__destroy_skeleton(obj->skeleton);\n"
	       "\tfree(obj);\n}\n\n", n, n);
	printf("static inline int\n%s__create_skeleton(struct %s *obj);\n\n", n, n);
	printf("static inline struct %s *\n%s__open_opts(const struct bpf_object_open_opts *opts)\n"
	       "{\n\tstruct %s *obj;\n\tint err;\n\n"
	       "\tobj = (struct %s *)calloc(1, sizeof(*obj));\n"
	       "\tif (!obj) {\n\t\terrno = ENOMEM;\n\t\treturn NULL;\n\t}\n"
	       "\terr = %s__create_skeleton(obj);\n"
	       "\tif (!err)\n\t\terr = bpf_object__open_skeleton(obj->skeleton, opts);\n"
	       "\tif (err) {\n\t\t%s__destroy(obj);\n\t\terrno = -err;\n\t\treturn NULL;\n\t}\n"
	       "\treturn obj;\n}\n\n", n, n, n, n, n, n);
	printf("static inline struct %s *\n%s__open(void)\n{\n\treturn %s__open_opts(NULL);\n}\n\n",
	       n, n, n);
	printf("static inline int\n%s__load(struct %s *obj)\n{\n"
	       "\treturn bpf_object__load_skeleton(obj->skeleton);\n}\n\n", n, n);
	printf("static inline struct %s *\n%s__open_and_load(void)\n{\n"
	       "\tstruct %s *obj = %s__open();\n\tint err;\n\n"
	       "\tif (!obj)\n\t\treturn NULL;\n\terr = %s__load(obj);\n"
	       "\tif (err) {\n\t\t%s__destroy(obj);\n\t\terrno = -err;\n\t\treturn NULL;\n\t}\n"
	       "\treturn obj;\n}\n\n", n, n, n, n, n, n);
	printf("static inline int\n%s__attach(struct %s *obj)\n{\n"
	       "\treturn bpf_object__attach_skeleton(obj->skeleton);\n}\n\n", n, n);
	printf("static inline void\n%s__detach(struct %s *obj)\n{\n"
	       "\tbpf_object__detach_skeleton(obj->skeleton);\n}\n\n", n, n);
	printf("static inline const void *%s__elf_bytes(size_t *sz);\n\n", n);
}

static void gen_create(struct gen *g, const unsigned char *has_data)
{
	struct bpf_map *m;
	struct bpf_program *p;
	char ident[256];
	int nm = 0, np = 0, i = 0, k = 0;

	bpf_object__for_each_map(m, g->obj)
		nm += !gen_map_ident(m, ident, sizeof(ident));
	bpf_object__for_each_program(p, g->obj)
		np++;
	printf("static inline int\n%s__create_skeleton(struct %s *obj)\n{\n"
	       "\tstruct bpf_object_skeleton *s;\n\n"
	       "\ts = (struct bpf_object_skeleton *)calloc(1, sizeof(*s));\n"
	       "\tif (!s)\n\t\treturn -ENOMEM;\n"
	       "\ts->sz = sizeof(*s);\n\ts->name = \"%s\";\n\ts->obj = &obj->obj;\n\n",
	       g->name, g->name, g->name);
	printf("\ts->map_cnt = %d;\n\ts->map_skel_sz = sizeof(*s->maps);\n"
	       "\ts->maps = (struct bpf_map_skeleton *)calloc(s->map_cnt ? s->map_cnt : 1, "
	       "s->map_skel_sz);\n\tif (!s->maps)\n\t\tgoto err;\n", nm);
	bpf_object__for_each_map(m, g->obj) {
		if (!gen_map_ident(m, ident, sizeof(ident))) {
			const char *sec = gen_map_sec(m);
			printf("\ts->maps[%d].name = \"%s\";\n\ts->maps[%d].map = &obj->maps.%s;\n",
			       k, sec ? sec : bpf_map__name(m), k, ident);
			if (has_data[i])
				printf("\ts->maps[%d].mmaped = (void **)&obj->%s;\n", k, ident);
			k++;
		}
		i++;
	}
	printf("\n\ts->prog_cnt = %d;\n\ts->prog_skel_sz = sizeof(*s->progs);\n"
	       "\ts->progs = (struct bpf_prog_skeleton *)calloc(s->prog_cnt ? s->prog_cnt : 1, "
	       "s->prog_skel_sz);\n\tif (!s->progs)\n\t\tgoto err;\n", np);
	k = 0;
	bpf_object__for_each_program(p, g->obj) {
		const char *pn = bpf_program__name(p);
		printf("\ts->progs[%d].name = \"%s\";\n\ts->progs[%d].prog = &obj->progs.%s;\n"
		       "\ts->progs[%d].link = &obj->links.%s;\n", k, pn, k, pn, k, pn);
		k++;
	}
	printf("\n\ts->data = %s__elf_bytes(&s->data_sz);\n\tobj->skeleton = s;\n\treturn 0;\n"
	       "err:\n\tbpf_object__destroy_skeleton(s);\n\treturn -ENOMEM;\n}\n\n", g->name);
}

static void gen_bytes(struct gen *g)
{
	printf("static inline const void *%s__elf_bytes(size_t *sz)\n{\n\t*sz = %zu;\n"
	       "\treturn (const void *)\"\\\n", g->name, g->len);
	for (size_t i = 0; i < g->len; i++) {
		if (g->buf[i])
			printf("\\x%02x", g->buf[i]);
		else
			printf("\\0");
		if (i % 24 == 23 && i + 1 < g->len)
			printf("\\\n");
	}
	printf("\";\n}\n\n");
}

static int gen_skeleton(int argc, char **argv)
{
	struct gen g = { 0 };
	unsigned char *has_data = NULL;
	struct bpf_map *m;
	int nmaps = 0, rc = CLI_FAIL;

	if (argc < 1)
		return cli_usage_err("gen", "expected FILE (%s)", gen_cmds[0].help);
	g.file = argv[0];
	gen_obj_name(g.file, g.name, sizeof(g.name));
	if (argc == 3 && !strcmp(argv[1], "name")) {
		snprintf(g.name, sizeof(g.name), "%s", argv[2]);
		gen_sanitize(g.name);
	} else if (argc != 1) {
		return cli_usage_err("gen", "unexpected argument '%s'", argv[1]);
	}
	if (cli_json)
		return cli_err("gen skeleton writes C; -j has no meaning here");
	if (gen_open(&g))
		goto out;
	bpf_object__for_each_map(m, g.obj)
		nmaps++;
	if (!(has_data = calloc((size_t)nmaps + 1, 1))) {
		cli_err("out of memory");
		goto out;
	}
	char guard[sizeof(g.name)];
	for (size_t k = 0; k < sizeof(guard); k++)
		guard[k] = (char)toupper((unsigned char)g.name[k]);
	printf("/* Generated by uebpf gen skeleton from %s: do not edit. */\n"
	       "#ifndef __%s_SKEL_H__\n#define __%s_SKEL_H__\n\n"
	       "#include <errno.h>\n#include <stdlib.h>\n#include <bpf/libbpf.h>\n\n",
	       cli_display_name(g.file), guard, guard);
	if (gen_struct(&g, has_data)) {
		cli_err("%s: a global variable's type cannot be written in C", g.file);
		goto out;
	}
	gen_functions(&g);
	gen_create(&g, has_data);
	gen_bytes(&g);
	printf("#endif /* __%s_SKEL_H__ */\n", guard);
	rc = CLI_OK;
out:
	free(has_data);
	gen_close(&g);
	return rc;
}
