/*
 * ub_elf: reads a BPF ELF object (relocatable, EM_BPF, little-endian) with libelf and
 * fills struct bpf_object: executable sections and the functions in them (programs and
 * .text subprograms), BTF and BTF.ext, maps (through mapdef.c), license and version, and
 * the relocation records of each executable section, classified once here so that load
 * only applies them. Every offset and index read from the file is checked first: errors
 * name the section and the offset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include "obj/bo.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif
#define INSN_SZ sizeof(struct bpf_insn)

int ub_elf_sym(struct ub_elf *e, size_t i, GElf_Sym *sym)
{
	return i < e->nsyms && gelf_getsym(e->syms, (int)i, sym) ? 0 : -EINVAL;
}

const char *ub_elf_sym_name(struct ub_elf *e, const GElf_Sym *sym)
{
	const char *n = elf_strptr(e->elf, e->symstr, sym->st_name);
	return n ? n : "";
}

const char *ub_elf_sec_name(struct ub_elf *e, size_t shndx)
{
	Elf_Scn *scn = elf_getscn(e->elf, shndx);
	GElf_Shdr sh;
	const char *n;

	if (!scn || !gelf_getshdr(scn, &sh) || !(n = elf_strptr(e->elf, e->shstrndx, sh.sh_name)))
		return "";
	return n;
}

const void *ub_elf_sec_data(struct ub_elf *e, size_t shndx, GElf_Shdr *sh, size_t *size)
{
	Elf_Scn *scn = elf_getscn(e->elf, shndx);
	Elf_Data *d;

	*size = 0;
	if (!scn || !gelf_getshdr(scn, sh))
		return NULL;
	if (sh->sh_type == SHT_NOBITS) {
		*size = sh->sh_size;
		return NULL;
	}
	d = elf_getdata(scn, NULL);
	if (!d)
		return NULL;
	*size = d->d_size;
	return d->d_buf;
}

static int elf_err(const char *what)
{
	ub_bo_warn("elf: %s: %s\n", what, elf_errmsg(-1));
	return -EINVAL;
}

static int elf_check_header(struct ub_elf *e, size_t size)
{
	GElf_Ehdr eh;

	if (elf_kind(e->elf) != ELF_K_ELF || !gelf_getehdr(e->elf, &eh))
		return elf_err("not an ELF file");
	if (gelf_getclass(e->elf) != ELFCLASS64) {
		ub_bo_warn("elf: only 64-bit ELF objects are BPF objects\n");
		return -EINVAL;
	}
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		ub_bo_warn("elf: big-endian BPF objects are not supported\n");
		return -EOPNOTSUPP;
	}
	if (eh.e_type != ET_REL || eh.e_machine != EM_BPF) {
		ub_bo_warn("elf: not a BPF relocatable object (e_type %u, e_machine %u; want %u, %u)\n",
			   eh.e_type, eh.e_machine, ET_REL, EM_BPF);
		return -EINVAL;
	}
	if (elf_getshdrstrndx(e->elf, &e->shstrndx) || elf_getshdrnum(e->elf, &e->nsec))
		return elf_err("section headers");
	/* libelf reads a table past the end as "no sections": say what is wrong instead */
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > size ||
	    (uint64_t)e->nsec * sizeof(Elf64_Shdr) > size - eh.e_shoff) {
		ub_bo_warn("elf: section header table at offset 0x%llx (%zu entries of %u bytes) is outside the %zu-byte file\n",
			   (unsigned long long)eh.e_shoff, e->nsec, eh.e_shentsize, size);
		return -EINVAL;
	}
	return 0;
}

static int elf_add_xsec(struct bpf_object *obj, size_t shndx, const char *name,
			const void *data, size_t size)
{
	struct ub_xsec *n = realloc(obj->xsecs, (obj->nxsecs + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	obj->xsecs = n;
	if (size % INSN_SZ) {
		ub_bo_warn("elf: section '%s': size %zu is not a multiple of %zu\n", name, size, INSN_SZ);
		return -EINVAL;
	}
	struct ub_xsec *x = &obj->xsecs[obj->nxsecs];
	*x = (struct ub_xsec){ .name = name, .shndx = shndx, .cnt = size / INSN_SZ };
	x->insns = malloc(size ? size : 1);
	if (!x->insns)
		return -ENOMEM;
	memcpy(x->insns, data, size);
	obj->nxsecs++;
	return 0;
}

static int elf_xsec_of(const struct bpf_object *obj, size_t shndx)
{
	for (size_t i = 0; i < obj->nxsecs; i++)
		if (obj->xsecs[i].shndx == shndx)
			return (int)i;
	return -1;
}

static int elf_license(struct bpf_object *obj, const char *data, size_t size)
{
	size_t n = size < sizeof(obj->license) - 1 ? size : sizeof(obj->license) - 1;

	memcpy(obj->license, data ? data : "", data ? n : 0);
	obj->license[data ? n : 0] = '\0';
	return 0;
}

static int elf_version_sec(struct bpf_object *obj, const void *data, size_t size)
{
	if (size != sizeof(uint32_t) || !data) {
		ub_bo_warn("elf: section 'version': size %zu, want 4\n", size);
		return -EINVAL;
	}
	memcpy(&obj->kversion, data, sizeof(uint32_t));
	return 0;
}

static int elf_btf(struct bpf_object *obj, const void *data, size_t size, bool ext)
{
	char msg[512];
	struct ub_log log;
	int err;

	ub_log_init(&log, msg, sizeof(msg));
	if (!data) {
		ub_bo_warn("elf: section '%s' has no data\n", ext ? ".BTF.ext" : ".BTF");
		return -EINVAL;
	}
	if (!ext) {
		err = ub_btf_parse(data, size, &obj->btf, &log);
		if (err)
			ub_bo_warn("elf: section '.BTF': %s", msg);
		return err;
	}
	if (!obj->btf)
		return 0;
	err = ub_btf_ext_parse(data, size, obj->btf, &obj->ext, &log);
	if (err)	/* as libbpf: line info and CO-RE are lost, the object still opens */
		ub_bo_warn("elf: section '.BTF.ext' ignored: %s", msg);
	return 0;
}

/* First pass: symbol table, special sections, executable sections. */
static int elf_sections(struct bpf_object *obj, struct ub_elf *e)
{
	size_t btf = 0, btf_ext = 0;
	int err = 0;

	for (size_t i = 1; i < e->nsec && !err; i++) {
		GElf_Shdr sh;
		size_t size;
		const void *data = ub_elf_sec_data(e, i, &sh, &size);
		const char *name = ub_elf_sec_name(e, i);
		if (!data && sh.sh_type != SHT_NOBITS && sh.sh_size && sh.sh_type != SHT_NULL) {
			ub_bo_warn("elf: section %zu ('%s') at offset 0x%llx, size %llu: unreadable: %s\n",
				   i, name, (unsigned long long)sh.sh_offset,
				   (unsigned long long)sh.sh_size, elf_errmsg(-1));
			return -EINVAL;
		}
		if (sh.sh_type == SHT_SYMTAB) {
			if (e->syms) {
				ub_bo_warn("elf: more than one symbol table\n");
				return -EINVAL;
			}
			e->syms = elf_getdata(elf_getscn(e->elf, i), NULL);
			e->nsyms = sh.sh_entsize ? size / sh.sh_entsize : 0;
			e->symstr = sh.sh_link;
			if (sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= e->nsec) {
				ub_bo_warn("elf: symbol table: entry size %llu or string section %u invalid\n",
					   (unsigned long long)sh.sh_entsize, sh.sh_link);
				return -EINVAL;
			}
		} else if (!strcmp(name, "license")) {
			err = elf_license(obj, data, size);
		} else if (!strcmp(name, "version")) {
			err = elf_version_sec(obj, data, size);
		} else if (!strcmp(name, ".BTF")) {
			btf = i;
		} else if (!strcmp(name, ".BTF.ext")) {
			btf_ext = i;
		} else if (!strcmp(name, ".maps")) {
			e->maps_shndx = i;
		} else if (!strcmp(name, "maps")) {
			e->legacy_shndx = i;
		} else if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR) && size) {
			err = elf_add_xsec(obj, i, name, data, size);
		}
	}
	if (!err && !e->syms) {
		ub_bo_warn("elf: no symbol table\n");
		return -ENOENT;
	}
	if (!err && btf) {
		GElf_Shdr sh;
		size_t size;
		const void *d = ub_elf_sec_data(e, btf, &sh, &size);
		err = elf_btf(obj, d, size, false);
		if (!err && btf_ext)
			d = ub_elf_sec_data(e, btf_ext, &sh, &size), err = elf_btf(obj, d, size, true);
	}
	return err;
}

static int prog_cmp(const void *a, const void *b)
{
	const struct bpf_program *p = *(struct bpf_program *const *)a, *q = *(struct bpf_program *const *)b;

	if (p->xsec != q->xsec)
		return p->xsec < q->xsec ? -1 : 1;
	return p->off < q->off ? -1 : p->off > q->off;
}

static int elf_add_prog(struct bpf_object *obj, int xsec, const char *name, const GElf_Sym *s)
{
	struct ub_xsec *x = &obj->xsecs[xsec];
	struct bpf_program **n, *p;

	if (s->st_value % INSN_SZ || s->st_size % INSN_SZ || s->st_value / INSN_SZ > x->cnt ||
	    s->st_size / INSN_SZ > x->cnt - s->st_value / INSN_SZ || !s->st_size) {
		ub_bo_warn("elf: section '%s': function '%s' at offset 0x%llx size %llu is outside the section (%zu bytes)\n",
			   x->name, name, (unsigned long long)s->st_value,
			   (unsigned long long)s->st_size, x->cnt * INSN_SZ);
		return -EINVAL;
	}
	n = realloc(obj->progs, (obj->nprogs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	obj->progs = n;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	obj->progs[obj->nprogs++] = p;
	*p = (struct bpf_program){ .obj = obj, .xsec = (uint32_t)xsec, .fd = -1, .autoload = true,
				   .off = (uint32_t)(s->st_value / INSN_SZ),
				   .cnt = (uint32_t)(s->st_size / INSN_SZ),
				   .subprog = !strcmp(x->name, ".text") };
	p->name = strdup(name);
	p->sec_name = strdup(x->name);
	if (!p->name || !p->sec_name)
		return -ENOMEM;
	p->def = ub_sec_find(x->name);
	if (p->def) {
		p->type = p->def->type;
		p->attach = p->def->attach;
		p->flags = (p->def->flags & UB_SEC_SLEEPABLE ? BPF_F_SLEEPABLE : 0) |
			   (p->def->flags & UB_SEC_FRAGS ? BPF_F_XDP_HAS_FRAGS : 0);
	}
	return 0;
}

/* Every function symbol in an executable section is a program (.text: a subprogram). */
static int elf_programs(struct bpf_object *obj, struct ub_elf *e)
{
	for (size_t i = 1; i < e->nsyms; i++) {
		GElf_Sym s;
		int xs, err;
		if (ub_elf_sym(e, i, &s))
			return -EINVAL;
		if (GELF_ST_TYPE(s.st_info) != STT_FUNC || (xs = elf_xsec_of(obj, s.st_shndx)) < 0)
			continue;
		if ((err = elf_add_prog(obj, xs, ub_elf_sym_name(e, &s), &s)))
			return err;
	}
	if (obj->nprogs)
		qsort(obj->progs, obj->nprogs, sizeof(*obj->progs), prog_cmp);
	for (size_t i = 0; i < obj->nprogs; i++)
		obj->progs[i]->idx = (uint32_t)i;
	for (size_t i = 1; i < obj->nprogs; i++) {
		struct bpf_program *a = obj->progs[i - 1], *b = obj->progs[i];
		if (a->xsec == b->xsec && a->off + a->cnt > b->off) {
			ub_bo_warn("elf: section '%s': functions '%s' and '%s' overlap\n",
				   obj->xsecs[a->xsec].name, a->name, b->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Maps by (section, offset of the definition), sorted once: relocations find theirs by
 * binary search (global data maps sort with offset 0 of their section). */
struct map_key {
	size_t shndx;
	uint64_t off;
	int map;
};

static int map_key_cmp(const void *a, const void *b)
{
	const struct map_key *p = a, *q = b;

	if (p->shndx != q->shndx)
		return p->shndx < q->shndx ? -1 : 1;
	return p->off < q->off ? -1 : p->off > q->off;
}

static struct map_key *map_index(const struct bpf_object *obj)
{
	struct map_key *k = malloc((obj->nmaps ? obj->nmaps : 1) * sizeof(*k));

	for (size_t i = 0; k && i < obj->nmaps; i++) {
		const struct bpf_map *m = obj->maps[i];
		k[i] = (struct map_key){ m->kind == UB_MAP_KCONFIG ? SIZE_MAX : m->shndx,
					 m->kind == UB_MAP_USER ? m->sec_off : 0, (int)i };
	}
	if (k && obj->nmaps)
		qsort(k, obj->nmaps, sizeof(*k), map_key_cmp);
	return k;
}

static int find_map(const struct bpf_object *obj, const struct map_key *idx, size_t shndx, uint64_t off,
		    bool data)
{
	struct map_key key = { shndx, data ? 0 : off, 0 };
	const struct map_key *k = obj->nmaps ? bsearch(&key, idx, obj->nmaps, sizeof(*idx), map_key_cmp) : NULL;

	if (!k || (obj->maps[k->map]->kind != UB_MAP_USER) != data)
		return -1;
	return k->map;
}

struct rel_ctx {
	struct bpf_object *obj;
	struct ub_elf *e;
	const struct map_key *maps;
	struct ub_xsec *x;
	size_t nr;		/* record number, for messages */
	uint64_t off;
};

#define REL_ERR(c, fmt, ...) (ub_bo_warn("elf: section '%s': relocation %zu at offset 0x%llx: " fmt "\n", \
			      (c)->x->name, (c)->nr, (unsigned long long)(c)->off, ##__VA_ARGS__), -EINVAL)

static int rel_undef(struct rel_ctx *c, struct ub_rel *r, const GElf_Sym *s, const struct bpf_insn *in)
{
	r->ext = ub_mapdef_ext(c->obj, r->name);
	if (r->ext >= 0) {
		r->kind = UB_REL_EXTERN;
		return in->code == (BPF_LD | BPF_IMM | BPF_DW) || in->code == (BPF_JMP | BPF_CALL) ? 0 :
			REL_ERR(c, "extern '%s' used by an instruction that is not lddw", r->name);
	}
	if (in->code == (BPF_JMP | BPF_CALL)) {
		r->kind = UB_REL_KFUNC;
		return 0;
	}
	return REL_ERR(c, "extern '%s' is not in .kconfig or .ksyms", r->name);
}

static int rel_one(struct rel_ctx *c, const GElf_Rel *rel, struct ub_rel *r)
{
	GElf_Sym s;
	const struct bpf_insn *in;
	size_t symi = GELF_R_SYM(rel->r_info);

	c->off = rel->r_offset;
	if (rel->r_offset % INSN_SZ || rel->r_offset / INSN_SZ >= c->x->cnt)
		return REL_ERR(c, "offset outside the section (%zu bytes)", c->x->cnt * INSN_SZ);
	if (ub_elf_sym(c->e, symi, &s))
		return REL_ERR(c, "symbol %zu out of range (%zu symbols)", symi, c->e->nsyms);
	r->insn = (uint32_t)(rel->r_offset / INSN_SZ);
	r->name = ub_elf_sym_name(c->e, &s);
	r->sym_off = (int64_t)s.st_value;
	in = &c->x->insns[r->insn];
	if (s.st_shndx == SHN_UNDEF)
		return rel_undef(c, r, &s, in);
	bool lddw = in->code == (BPF_LD | BPF_IMM | BPF_DW);
	if (lddw && r->insn + 1 >= c->x->cnt)
		return REL_ERR(c, "lddw is the section's last instruction");
	/* a call, or the address of a function (lddw against code: a callback) */
	int xs = elf_xsec_of(c->obj, s.st_shndx);
	if (in->code == (BPF_JMP | BPF_CALL) || (lddw && xs >= 0)) {
		if (xs < 0 || (!lddw && in->src_reg != BPF_PSEUDO_CALL))
			return REL_ERR(c, "call to '%s' in section '%s', which holds no code", r->name,
				       ub_elf_sec_name(c->e, s.st_shndx));
		r->kind = UB_REL_CALL, r->sec = (uint32_t)xs;
		return 0;
	}
	if (!lddw)
		return REL_ERR(c, "relocation against '%s' on an instruction (code 0x%02x) that is not lddw or call",
			       r->name, in->code);
	if (s.st_shndx == c->e->maps_shndx || s.st_shndx == c->e->legacy_shndx) {
		r->kind = UB_REL_MAP;
		r->map = find_map(c->obj, c->maps, s.st_shndx, s.st_value, false);
		return r->map >= 0 ? 0 : REL_ERR(c, "'%s' is no map definition", r->name);
	}
	r->kind = UB_REL_DATA;
	r->map = find_map(c->obj, c->maps, s.st_shndx, 0, true);
	if (r->map < 0)
		return REL_ERR(c, "'%s' refers to section '%s', which is not a map or global data",
			       r->name, ub_elf_sec_name(c->e, s.st_shndx));
	return 0;
}

static int rel_cmp(const void *a, const void *b)
{
	const struct ub_rel *p = a, *q = b;
	return p->insn < q->insn ? -1 : p->insn > q->insn;
}

static int elf_relocs_idx(struct bpf_object *obj, struct ub_elf *e, const struct map_key *maps);

static int elf_relocs(struct bpf_object *obj, struct ub_elf *e)
{
	struct map_key *maps = map_index(obj);
	int err = maps ? elf_relocs_idx(obj, e, maps) : -ENOMEM;

	free(maps);
	return err;
}

static int elf_relocs_idx(struct bpf_object *obj, struct ub_elf *e, const struct map_key *maps)
{
	for (size_t i = 1; i < e->nsec; i++) {
		GElf_Shdr sh;
		size_t size;
		Elf_Data *d;
		if (!gelf_getshdr(elf_getscn(e->elf, i), &sh) || sh.sh_type != SHT_REL)
			continue;
		int xs = elf_xsec_of(obj, sh.sh_info);
		if (xs < 0)
			continue;	/* .maps slots: mapdef.c; debug info: not needed */
		if (!ub_elf_sec_data(e, i, &sh, &size) || !(d = elf_getdata(elf_getscn(e->elf, i), NULL)))
			return elf_err("relocation section");
		struct ub_xsec *x = &obj->xsecs[xs];
		size_t n = sh.sh_entsize == sizeof(Elf64_Rel) ? size / sizeof(Elf64_Rel) : 0;
		if (!n)
			continue;
		if (x->rels) {
			ub_bo_warn("elf: section '%s' has two relocation sections\n", x->name);
			return -EINVAL;
		}
		x->rels = calloc(n, sizeof(*x->rels));
		if (!x->rels)
			return -ENOMEM;
		for (size_t k = 0; k < n; k++) {
			GElf_Rel rel;
			struct rel_ctx c = { obj, e, maps, x, k, 0 };
			if (!gelf_getrel(d, (int)k, &rel))
				return elf_err("relocation record");
			int err = rel_one(&c, &rel, &x->rels[k]);
			if (err)
				return err;
		}
		x->nrels = n;
		qsort(x->rels, n, sizeof(*x->rels), rel_cmp);
	}
	return 0;
}

int ub_elf_collect(struct bpf_object *obj)
{
	struct ub_elf e = { 0 };
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return elf_err("libelf");
	e.elf = elf_memory((char *)obj->buf, obj->size);
	if (!e.elf)
		return elf_err("cannot read");
	err = elf_check_header(&e, obj->size);
	if (!err)
		err = elf_sections(obj, &e);
	if (!err)
		err = elf_programs(obj, &e);
	if (!err)
		err = ub_mapdef_btf_maps(obj, &e);
	if (!err)
		err = ub_mapdef_legacy(obj, &e);
	if (!err)
		err = ub_mapdef_data(obj, &e);
	if (!err)
		err = ub_mapdef_externs(obj, &e);
	if (!err)
		err = elf_relocs(obj, &e);
	if (!err)
		err = ub_mapdef_slots(obj, &e);
	/* names handed out (sections, symbols) are libelf's strings: the handle stays open
	 * until bpf_object__close */
	obj->elf = e.elf;
	return err;
}
