/*
 * ub_mapdef: the maps an object declares, as libbpf reads them.
 *
 * - BTF-defined maps in `.maps`: each variable is a struct whose members encode the map
 *   (`__uint(type, X)` is `int (*type)[X]`, `__type(key, T)` is `T *key`,
 *   `__array(values, struct inner)` is `struct inner *values[]`).
 * - The legacy `maps` section: an array of struct bpf_map_def, one symbol per map.
 * - Global data: .data, .rodata, .bss and .data.* / .rodata.* become single-entry
 *   arrays whose value is the section (the programs address it directly).
 * - Externs: .kconfig variables become one read-only array the loader fills; .ksyms
 *   are recorded so that load can say they need the kernel.
 * - Initial slots of map-in-map and prog-array maps (`.values = { &inner, ... }`),
 *   from the relocations of the .maps section.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include "obj/bo.h"

#define MAP_ERR(map, ...) (ub_bo_warn("map '%s': ", (map)->name), ub_bo_pr(LIBBPF_WARN, __VA_ARGS__), -EINVAL)

struct bpf_map *ub_mapdef_new(struct bpf_object *obj, const char *name, const char *real)
{
	struct bpf_map *m = calloc(1, sizeof(*m)), **n;

	if (!m)
		return NULL;
	*m = (struct bpf_map){ .obj = obj, .fd = -1, .inner_fd = -1, .autocreate = true };
	m->name = strdup(name);
	m->real_name = strdup(real);
	n = realloc(obj->maps, (obj->nmaps + 1) * sizeof(*n));
	if (n)
		obj->maps = n;
	if (!m->name || !m->real_name || !n) {
		ub_mapdef_free(m);
		return NULL;
	}
	obj->maps[obj->nmaps++] = m;
	return m;
}

void ub_mapdef_free(struct bpf_map *map)
{
	if (!map)
		return;
	if (map->inner)
		ub_mapdef_free(map->inner);
	free(map->name);
	free(map->real_name);
	free(map->pin_path);
	free(map->data);
	free(map->slots);
	free(map);
}

/* `int (*name)[N]` gives N. */
static int btf_uint(const struct ub_btf *btf, const struct btf_member *m, uint32_t *val)
{
	const struct btf_type *t = ub_btf_skip_mods(btf, m->type, NULL), *a;

	if (!t || ub_btf_kind(t) != BTF_KIND_PTR)
		return -EINVAL;
	a = ub_btf_skip_mods(btf, t->type, NULL);
	if (!a || ub_btf_kind(a) != BTF_KIND_ARRAY)
		return -EINVAL;
	*val = ((const struct btf_array *)(a + 1))->nelems;
	return 0;
}

/* `T *name` gives T's id and size. */
static int btf_typed(const struct ub_btf *btf, const struct btf_member *m, uint32_t *id, uint32_t *size)
{
	const struct btf_type *t = ub_btf_skip_mods(btf, m->type, NULL);
	int64_t sz;

	if (!t || ub_btf_kind(t) != BTF_KIND_PTR)
		return -EINVAL;
	sz = ub_btf_resolve_size(btf, t->type);
	if (sz < 0 || sz > UINT32_MAX)
		return -EINVAL;
	*id = t->type;
	*size = (uint32_t)sz;
	return 0;
}

static int def_field_uint(struct bpf_map *map, const char *f, uint32_t v)
{
	static const struct { const char *name; size_t off; } fields[] = {
		{ "type", offsetof(struct bpf_map, type) },
		{ "max_entries", offsetof(struct bpf_map, max_entries) },
		{ "map_flags", offsetof(struct bpf_map, map_flags) },
		{ "numa_node", offsetof(struct bpf_map, numa_node) },
		{ "key_size", offsetof(struct bpf_map, key_size) },
		{ "value_size", offsetof(struct bpf_map, value_size) },
		{ "pinning", offsetof(struct bpf_map, pinning) },
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(f, fields[i].name))
			continue;
		uint32_t *p = (uint32_t *)((char *)map + fields[i].off);
		if ((!strcmp(f, "key_size") && map->btf_key_type_id && *p != v) ||
		    (!strcmp(f, "value_size") && map->btf_value_type_id && *p != v))
			return MAP_ERR(map, "%s %u conflicts with the size of its BTF type (%u)\n", f, v, *p);
		*p = v;
		return 0;
	}
	if (!strcmp(f, "map_extra")) {
		map->map_extra = v;
		return 0;
	}
	return -ENOENT;
}

static int def_parse(struct bpf_object *obj, struct bpf_map *map, const struct btf_type *def, int level);

/* `__array(values, ...)`: inner map definition (map-in-map) or programs (prog array). */
static int def_values(struct bpf_object *obj, struct bpf_map *map, const struct btf_member *m, int level)
{
	const struct ub_btf *btf = obj->btf;
	const struct btf_type *a = ub_btf_skip_mods(btf, m->type, NULL), *p, *t;

	if (level)
		return MAP_ERR(map, "an inner map definition cannot have values\n");
	if (!a || ub_btf_kind(a) != BTF_KIND_ARRAY ||
	    !(p = ub_btf_skip_mods(btf, ((const struct btf_array *)(a + 1))->type, NULL)) ||
	    ub_btf_kind(p) != BTF_KIND_PTR || !(t = ub_btf_skip_mods(btf, p->type, NULL)))
		return MAP_ERR(map, "'values' must be an array of pointers\n");
	map->values_off = BTF_MEMBER_BIT_OFFSET(m->offset) / 8;
	map->value_size = 4;	/* the values of both kinds are fds */
	if (map->type == BPF_MAP_TYPE_PROG_ARRAY) {
		if (ub_btf_kind(t) != BTF_KIND_FUNC_PROTO)
			return MAP_ERR(map, "prog array 'values' must point to functions\n");
		map->slots_progs = true;
		return 0;
	}
	if (map->type != BPF_MAP_TYPE_ARRAY_OF_MAPS && map->type != BPF_MAP_TYPE_HASH_OF_MAPS)
		return MAP_ERR(map, "'values' only for map-in-map and prog array maps (type %u)\n", map->type);
	if (ub_btf_kind(t) != BTF_KIND_STRUCT)
		return MAP_ERR(map, "inner map definition must be a struct\n");
	map->inner = calloc(1, sizeof(*map->inner));
	if (!map->inner)
		return -ENOMEM;
	*map->inner = (struct bpf_map){ .obj = obj, .fd = -1, .inner_fd = -1 };
	char name[128];
	snprintf(name, sizeof(name), "%s.inner", map->name);
	map->inner->name = strdup(name);
	map->inner->real_name = strdup(name);
	if (!map->inner->name || !map->inner->real_name)
		return -ENOMEM;
	return def_parse(obj, map->inner, t, level + 1);
}

static int def_member(struct bpf_object *obj, struct bpf_map *map, const struct btf_member *m, int level)
{
	const struct ub_btf *btf = obj->btf;
	const char *f = ub_btf_str(btf, m->name_off);
	uint32_t v, id;
	int err;

	if (!strcmp(f, "key") || !strcmp(f, "value")) {
		bool key = f[0] == 'k';
		if (btf_typed(btf, m, &id, &v))
			return MAP_ERR(map, "'%s' must be a pointer to a sized type\n", f);
		uint32_t *sz = key ? &map->key_size : &map->value_size;
		if (*sz && *sz != v)
			return MAP_ERR(map, "%s_size %u conflicts with the size of its BTF type (%u)\n", f, *sz, v);
		*sz = v;
		*(key ? &map->btf_key_type_id : &map->btf_value_type_id) = id;
		return 0;
	}
	if (!strcmp(f, "values"))
		return def_values(obj, map, m, level);
	if (btf_uint(btf, m, &v)) {
		if (obj->relaxed_maps)
			return 0;
		return MAP_ERR(map, "field '%s' is neither __uint() nor __type()\n", f);
	}
	err = def_field_uint(map, f, v);
	if (err == -ENOENT) {
		if (obj->relaxed_maps) {
			ub_bo_info("map '%s': unknown field '%s' ignored\n", map->name, f);
			return 0;
		}
		return MAP_ERR(map, "unknown field '%s'\n", f);
	}
	return err;
}

static int def_parse(struct bpf_object *obj, struct bpf_map *map, const struct btf_type *def, int level)
{
	const struct btf_member *m = (const void *)(def + 1);

	for (uint32_t i = 0; i < ub_btf_vlen(def); i++) {
		int err = def_member(obj, map, &m[i], level);
		if (err)
			return err;
	}
	if (map->pinning > LIBBPF_PIN_BY_NAME)
		return MAP_ERR(map, "pinning %u unknown (only LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME)\n", map->pinning);
	return 0;
}

/* The symbols of one section sorted by name, so each map finds its own in log time. */
struct sym_name {
	const char *name;
	uint64_t value;
};

static int sym_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sym_name *)a)->name, ((const struct sym_name *)b)->name);
}

static struct sym_name *sec_syms(struct ub_elf *e, size_t shndx, size_t *n)
{
	struct sym_name *v = malloc((e->nsyms ? e->nsyms : 1) * sizeof(*v));

	*n = 0;
	for (size_t i = 1; v && i < e->nsyms; i++) {
		GElf_Sym s;
		if (!ub_elf_sym(e, i, &s) && s.st_shndx == shndx && GELF_ST_TYPE(s.st_info) != STT_SECTION)
			v[(*n)++] = (struct sym_name){ ub_elf_sym_name(e, &s), s.st_value };
	}
	if (v && *n)
		qsort(v, *n, sizeof(*v), sym_name_cmp);
	return v;
}

int ub_mapdef_btf_maps(struct bpf_object *obj, struct ub_elf *e)
{
	int ds;

	if (!e->maps_shndx)
		return 0;
	if (!obj->btf || (ds = ub_btf_find(obj->btf, ".maps", BTF_KIND_DATASEC)) < 0) {
		ub_bo_warn("elf: section '.maps' needs BTF describing it (compile with -g)\n");
		return -EINVAL;
	}
	size_t nsyms;
	struct sym_name *syms = sec_syms(e, e->maps_shndx, &nsyms);
	int err = syms ? 0 : -ENOMEM;
	const struct btf_type *t = ub_btf_type(obj->btf, (uint32_t)ds);
	const struct btf_var_secinfo *vs = (const void *)(t + 1);
	for (uint32_t i = 0; !err && i < ub_btf_vlen(t); i++) {
		const struct btf_type *var = ub_btf_type(obj->btf, vs[i].type), *def;
		if (!var || ub_btf_kind(var) != BTF_KIND_VAR)
			continue;
		struct sym_name key = { ub_btf_str(obj->btf, var->name_off), 0 };
		const struct sym_name *s = nsyms ? bsearch(&key, syms, nsyms, sizeof(*syms), sym_name_cmp) : NULL;
		if (!s) {
			ub_bo_warn("elf: '.maps' variable '%s' has no ELF symbol\n", key.name);
			err = -EINVAL;
			break;
		}
		def = ub_btf_skip_mods(obj->btf, var->type, NULL);
		struct bpf_map *m = ub_mapdef_new(obj, key.name, key.name);
		if (!m) {
			err = -ENOMEM;
			break;
		}
		m->shndx = e->maps_shndx, m->sec_off = s->value;
		err = !def || ub_btf_kind(def) != BTF_KIND_STRUCT ? MAP_ERR(m, "definition is not a struct\n")
								  : def_parse(obj, m, def, 0);
	}
	free(syms);
	return err;
}

/* struct bpf_map_def: type, key_size, value_size, max_entries, map_flags (u32 each). */
int ub_mapdef_legacy(struct bpf_object *obj, struct ub_elf *e)
{
	GElf_Shdr sh;
	size_t size, nr = 0;
	const uint8_t *data;

	if (!e->legacy_shndx)
		return 0;
	data = ub_elf_sec_data(e, e->legacy_shndx, &sh, &size);
	for (size_t i = 1; i < e->nsyms; i++) {
		GElf_Sym s;
		if (!ub_elf_sym(e, i, &s) && s.st_shndx == e->legacy_shndx &&
		    GELF_ST_TYPE(s.st_info) != STT_SECTION)
			nr++;
	}
	if (!nr || !data || size % nr) {
		ub_bo_warn("elf: section 'maps': %zu bytes for %zu map symbols\n", size, nr);
		return nr || !size ? -EINVAL : 0;
	}
	size_t def_sz = size / nr;
	for (size_t i = 1; i < e->nsyms; i++) {
		GElf_Sym s;
		uint32_t def[5] = { 0 };
		if (ub_elf_sym(e, i, &s) || s.st_shndx != e->legacy_shndx || GELF_ST_TYPE(s.st_info) == STT_SECTION)
			continue;
		const char *name = ub_elf_sym_name(e, &s);
		if (s.st_value % def_sz || s.st_value + def_sz > size) {
			ub_bo_warn("elf: section 'maps': map '%s' at offset 0x%llx is not one of the %zu-byte definitions\n",
				   name, (unsigned long long)s.st_value, def_sz);
			return -EINVAL;
		}
		memcpy(def, data + s.st_value, def_sz < sizeof(def) ? def_sz : sizeof(def));
		for (size_t k = sizeof(def); k < def_sz; k++)
			if (data[s.st_value + k]) {	/* iproute2's id/pinning/inner fields */
				ub_bo_info("map '%s': legacy definition fields past map_flags ignored\n", name);
				break;
			}
		struct bpf_map *m = ub_mapdef_new(obj, name, name);
		if (!m)
			return -ENOMEM;
		m->shndx = e->legacy_shndx, m->sec_off = s.st_value;
		m->type = def[0], m->key_size = def[1], m->value_size = def[2];
		m->max_entries = def[3], m->map_flags = def[4];
	}
	return 0;
}

static int data_kind(const char *name)
{
	static const struct { const char *pfx; int kind; } kinds[] = {
		{ ".data", UB_MAP_DATA }, { ".rodata", UB_MAP_RODATA }, { ".bss", UB_MAP_BSS },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].pfx);
		if (!strncmp(name, kinds[i].pfx, n) && (name[n] == '\0' || name[n] == '.'))
			return kinds[i].kind;
	}
	return -1;
}

/* libbpf's internal map names: "<object name prefix>.<section>", kernel-legal characters. */
static void internal_name(const struct bpf_object *obj, const char *sec, char *out, size_t outsz)
{
	size_t sfx = strlen(sec) > 7 ? strlen(sec) : 7;
	size_t pfx = strlen(obj->name) < BPF_OBJ_NAME_LEN - 1 - sfx ? strlen(obj->name)
	    : sfx < BPF_OBJ_NAME_LEN - 1 ? BPF_OBJ_NAME_LEN - 1 - sfx : 0;

	if (strchr(sec + 1, '.'))	/* .data.foo, .rodata.foo: the section name itself */
		pfx = 0;
	snprintf(out, outsz, "%.*s%.*s", (int)pfx, obj->name, (int)sfx, sec);
	for (char *p = out; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.')
			*p = '_';
}

static struct bpf_map *data_map(struct bpf_object *obj, const char *sec, int kind, size_t size)
{
	char name[BPF_OBJ_NAME_LEN + 64];
	struct bpf_map *m;

	internal_name(obj, sec, name, sizeof(name));
	if (!(m = ub_mapdef_new(obj, name, sec)))
		return NULL;
	m->kind = (uint8_t)kind;
	m->type = BPF_MAP_TYPE_ARRAY, m->key_size = 4, m->max_entries = 1;
	m->value_size = (uint32_t)size;
	m->map_flags = BPF_F_MMAPABLE |
		       (kind == UB_MAP_RODATA || kind == UB_MAP_KCONFIG ? BPF_F_RDONLY_PROG : 0);
	if (obj->btf) {
		int id = ub_btf_find(obj->btf, sec, BTF_KIND_DATASEC);
		m->btf_value_type_id = id > 0 ? (uint32_t)id : 0;
	}
	m->data = calloc(1, size ? size : 1);
	return m->data ? m : NULL;
}

int ub_mapdef_data(struct bpf_object *obj, struct ub_elf *e)
{
	for (size_t i = 1; i < e->nsec; i++) {
		GElf_Shdr sh;
		size_t size;
		const char *name = ub_elf_sec_name(e, i);
		int kind = data_kind(name);
		const void *data = ub_elf_sec_data(e, i, &sh, &size);
		if (kind < 0 || (sh.sh_flags & SHF_EXECINSTR) || !size ||
		    (sh.sh_type != SHT_PROGBITS && sh.sh_type != SHT_NOBITS))
			continue;
		if (size > UINT32_MAX / 2) {
			ub_bo_warn("elf: section '%s': %zu bytes of global data is too large\n", name, size);
			return -E2BIG;
		}
		struct bpf_map *m = data_map(obj, name, kind, size);
		if (!m)
			return -ENOMEM;
		m->shndx = i;
		if (data && sh.sh_type != SHT_NOBITS)
			memcpy(m->data, data, size);
	}
	return 0;
}

/* The variables of a DATASEC (".kconfig", ".ksyms") sorted by name; value: type id. */
static struct sym_name *datasec_vars(const struct ub_btf *btf, const char *sec, size_t *n)
{
	int ds = btf ? ub_btf_find(btf, sec, BTF_KIND_DATASEC) : -1;
	const struct btf_type *t = ds > 0 ? ub_btf_type(btf, (uint32_t)ds) : NULL;
	struct sym_name *v = malloc(((t ? ub_btf_vlen(t) : 0) + 1) * sizeof(*v));

	*n = 0;
	for (uint32_t i = 0; v && t && i < ub_btf_vlen(t); i++) {
		const struct btf_var_secinfo *vs = (const struct btf_var_secinfo *)(t + 1) + i;
		const struct btf_type *var = ub_btf_type(btf, vs->type);
		if (var)
			v[(*n)++] = (struct sym_name){ ub_btf_str(btf, var->name_off),
						       ub_btf_kind(var) == BTF_KIND_VAR ? var->type : vs->type };
	}
	if (v && *n)
		qsort(v, *n, sizeof(*v), sym_name_cmp);
	return v;
}

static int find_var(const struct sym_name *vars, size_t n, const char *name, uint32_t *type)
{
	struct sym_name key = { name, 0 };
	const struct sym_name *v = n ? bsearch(&key, vars, n, sizeof(key), sym_name_cmp) : NULL;

	if (!v)
		return -ENOENT;
	*type = (uint32_t)v->value;
	return 0;
}

static int add_ext(struct bpf_object *obj, const char *name, bool weak, bool ksym, uint32_t type)
{
	struct ub_ext *n = realloc(obj->exts, (obj->nexts + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	obj->exts = n;
	n[obj->nexts] = (struct ub_ext){ .name = strdup(name), .weak = weak, .ksym = ksym, .type_id = type };
	if (!n[obj->nexts].name)
		return -ENOMEM;
	obj->nexts++;
	return 0;
}

/* A kconfig extern's alignment, as libbpf's btf__align_of (arrays: their element's). */
static uint32_t kcfg_align(const struct ub_btf *btf, uint32_t id)
{
	const struct btf_type *t = ub_btf_skip_mods(btf, id, NULL);

	for (int depth = 0; t && ub_btf_kind(t) == BTF_KIND_ARRAY && depth < 32; depth++)
		t = ub_btf_skip_mods(btf, ((const struct btf_array *)(t + 1))->type, NULL);
	if (!t)
		return 1;
	uint32_t k = ub_btf_kind(t), size = k == BTF_KIND_PTR ? 8 : t->size;
	if (k != BTF_KIND_INT && k != BTF_KIND_ENUM && k != BTF_KIND_ENUM64 && k != BTF_KIND_PTR &&
	    k != BTF_KIND_FLOAT)
		return 8;
	return size >= 8 ? 8 : size >= 4 ? 4 : size >= 2 ? 2 : 1;
}

/* libbpf's order: larger alignment first, then by name, so the map packs tightly. */
static int layout_cmp(const void *a, const void *b, void *arg)
{
	const struct bpf_object *obj = arg;
	const struct ub_ext *x = &obj->exts[*(const uint32_t *)a], *y = &obj->exts[*(const uint32_t *)b];
	uint32_t ax = kcfg_align(obj->btf, x->type_id), ay = kcfg_align(obj->btf, y->type_id);

	return ax != ay ? (ax > ay ? -1 : 1) : strcmp(x->name, y->name);
}

/* Lays out the .kconfig map: each extern at its alignment, in libbpf's order. */
static int kconfig_layout(struct bpf_object *obj)
{
	uint32_t off = 0, n = 0, *order = malloc((obj->nexts + 1) * sizeof(*order));

	if (!order)
		return -ENOMEM;
	for (uint32_t i = 0; i < obj->nexts; i++)
		if (!obj->exts[i].ksym)
			order[n++] = i;
	if (n)
		qsort_r(order, n, sizeof(*order), layout_cmp, obj);
	for (uint32_t i = 0; i < n; i++) {
		struct ub_ext *x = &obj->exts[order[i]];
		int64_t sz = ub_btf_resolve_size(obj->btf, x->type_id);
		if (sz <= 0 || sz > 4096) {
			ub_bo_warn("extern (kcfg) '%s': type of size %lld unsupported\n", x->name, (long long)sz);
			free(order);
			return -EINVAL;
		}
		uint32_t al = kcfg_align(obj->btf, x->type_id);
		off = (off + al - 1) / al * al;
		x->off = off, x->size = (uint32_t)sz;
		off += (uint32_t)sz;
	}
	free(order);
	if (!off)
		return 0;
	struct bpf_map *m = data_map(obj, ".kconfig", UB_MAP_KCONFIG, off);
	if (!m)
		return -ENOMEM;
	obj->kconfig_map = (int)obj->nmaps - 1;
	return 0;
}

static int ext_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ub_ext *)a)->name, ((const struct ub_ext *)b)->name);
}

int ub_mapdef_externs(struct bpf_object *obj, struct ub_elf *e)
{
	size_t nk, ns;
	struct sym_name *kc = datasec_vars(obj->btf, ".kconfig", &nk), *ks = datasec_vars(obj->btf, ".ksyms", &ns);
	int err = kc && ks ? 0 : -ENOMEM;

	for (size_t i = 1; !err && i < e->nsyms; i++) {
		GElf_Sym s;
		uint32_t type;
		if (ub_elf_sym(e, i, &s)) {
			err = -EINVAL;
			break;
		}
		const char *name = ub_elf_sym_name(e, &s);
		if (s.st_shndx != SHN_UNDEF || !*name || GELF_ST_TYPE(s.st_info) == STT_FUNC)
			continue;
		bool weak = GELF_ST_BIND(s.st_info) == STB_WEAK;
		if (!find_var(kc, nk, name, &type))
			err = add_ext(obj, name, weak, false, type);
		else if (!find_var(ks, ns, name, &type))
			err = add_ext(obj, name, weak, true, type);
	}
	free(kc), free(ks);
	if (err)
		return err;
	/* sorted by name: relocations find theirs by binary search (ub_mapdef_ext) */
	if (obj->nexts)
		qsort(obj->exts, obj->nexts, sizeof(*obj->exts), ext_cmp);
	return kconfig_layout(obj);
}

int ub_mapdef_ext(const struct bpf_object *obj, const char *name)
{
	struct ub_ext key = { .name = (char *)name };
	const struct ub_ext *x = obj->nexts ? bsearch(&key, obj->exts, obj->nexts, sizeof(key), ext_cmp) : NULL;

	return x ? (int)(x - obj->exts) : -1;
}

/* Lookup tables for the relocations of .maps, sorted once (a hostile file may hold tens
 * of thousands of maps and relocations): the BTF maps by offset, the programs by name. */
struct slot_ctx {
	struct bpf_object *obj;
	struct ub_elf *e;
	size_t sec_size;
	struct { uint64_t off; int map; } *by_off;
	size_t nmaps;
	struct sym_name *progs;		/* value: program index */
	size_t nprogs;
};

static int by_off_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int slot_tables(struct slot_ctx *c)
{
	struct bpf_object *obj = c->obj;

	c->by_off = malloc((obj->nmaps ? obj->nmaps : 1) * sizeof(*c->by_off));
	c->progs = malloc((obj->nprogs ? obj->nprogs : 1) * sizeof(*c->progs));
	if (!c->by_off || !c->progs)
		return -ENOMEM;
	for (size_t i = 0; i < obj->nmaps; i++)
		if (obj->maps[i]->shndx == c->e->maps_shndx && obj->maps[i]->kind == UB_MAP_USER)
			c->by_off[c->nmaps].off = obj->maps[i]->sec_off, c->by_off[c->nmaps++].map = (int)i;
	for (size_t i = 0; i < obj->nprogs; i++)
		if (!obj->progs[i]->subprog)
			c->progs[c->nprogs++] = (struct sym_name){ obj->progs[i]->name, i };
	if (c->nmaps)
		qsort(c->by_off, c->nmaps, sizeof(*c->by_off), by_off_cmp);
	if (c->nprogs)
		qsort(c->progs, c->nprogs, sizeof(*c->progs), sym_name_cmp);
	return 0;
}

/* The map whose definition starts at or last before byte `off` of .maps (-1: none). */
static int slot_map_at(const struct slot_ctx *c, uint64_t off, bool exact)
{
	size_t lo = 0, hi = c->nmaps;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->by_off[mid].off <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || (exact && c->by_off[lo - 1].off != off))
		return -1;
	return c->by_off[lo - 1].map;
}

static int slot_target(const struct slot_ctx *c, struct bpf_map *outer, const GElf_Sym *s, const char *name)
{
	if (outer->slots_progs) {
		struct sym_name key = { name, 0 };
		const struct sym_name *p = c->nprogs ? bsearch(&key, c->progs, c->nprogs, sizeof(key), sym_name_cmp)
						     : NULL;
		return p ? (int)p->value + 1
			 : MAP_ERR(outer, "initial value '%s' is not a program of this object\n", name);
	}
	int m = s->st_shndx == c->e->maps_shndx ? slot_map_at(c, s->st_value, true) : -1;
	return m >= 0 ? m + 1 : MAP_ERR(outer, "initial value '%s' is not a map of this object\n", name);
}

static int slot_one(const struct slot_ctx *c, const GElf_Rel *rel)
{
	GElf_Sym s;
	int mi = rel->r_offset < c->sec_size ? slot_map_at(c, rel->r_offset, false) : -1;
	struct bpf_map *m = mi >= 0 ? c->obj->maps[mi] : NULL;

	if (ub_elf_sym(c->e, GELF_R_SYM(rel->r_info), &s) || !m || (!m->inner && !m->slots_progs)) {
		ub_bo_warn("elf: section '.maps': relocation at offset 0x%llx is not an initial map value\n",
			   (unsigned long long)rel->r_offset);
		return -EINVAL;
	}
	uint64_t rel_off = rel->r_offset - m->sec_off;
	if (rel_off < m->values_off || (rel_off - m->values_off) % 8)
		return MAP_ERR(m, "relocation at offset 0x%llx is not a 'values' slot\n",
			       (unsigned long long)rel->r_offset);
	uint64_t slot = (rel_off - m->values_off) / 8;	/* < section size / 8 */
	if (slot >= m->max_entries)
		return MAP_ERR(m, "initial value %llu beyond max_entries %u\n", (unsigned long long)slot, m->max_entries);
	int target = slot_target(c, m, &s, ub_elf_sym_name(c->e, &s));
	if (target < 0)
		return target;
	if (slot >= m->nr_slots) {
		int *n = realloc(m->slots, (slot + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + m->nr_slots, 0, (slot + 1 - m->nr_slots) * sizeof(*n));
		m->slots = n, m->nr_slots = (uint32_t)slot + 1;
	}
	m->slots[slot] = target;
	return 0;
}

static int slots_rel_sec(struct slot_ctx *c, size_t i)
{
	GElf_Shdr sh;
	Elf_Data *d;

	if (!gelf_getshdr(elf_getscn(c->e->elf, i), &sh) || sh.sh_type != SHT_REL || sh.sh_info != c->e->maps_shndx)
		return 0;
	if (!(d = elf_getdata(elf_getscn(c->e->elf, i), NULL)) || sh.sh_entsize != sizeof(Elf64_Rel)) {
		ub_bo_warn("elf: section '.rel.maps' unreadable\n");
		return -EINVAL;
	}
	for (size_t k = 0; k < d->d_size / sizeof(Elf64_Rel); k++) {
		GElf_Rel rel;
		int err = gelf_getrel(d, (int)k, &rel) ? slot_one(c, &rel) : -EINVAL;
		if (err)
			return err;
	}
	return 0;
}

int ub_mapdef_slots(struct bpf_object *obj, struct ub_elf *e)
{
	struct slot_ctx c = { .obj = obj, .e = e };
	GElf_Shdr sh;
	int err;

	if (!e->maps_shndx)
		return 0;
	ub_elf_sec_data(e, e->maps_shndx, &sh, &c.sec_size);
	err = slot_tables(&c);
	for (size_t i = 1; !err && i < e->nsec; i++)
		err = slots_rel_sec(&c, i);
	free(c.by_off);
	free(c.progs);
	return err;
}

/* ---- .kconfig values ---- */

static uint32_t kernel_version(void)
{
	struct utsname u;
	unsigned a = 0, b = 0, c = 0;

	if (uname(&u) || sscanf(u.release, "%u.%u.%u", &a, &b, &c) < 2)
		return 0;
	return (a << 16) + (b << 8) + (c > 255 ? 255 : c);
}

/* A "CONFIG_X=..." line of the user's kconfig text or the running kernel's config. */
static const char *kconfig_lookup(const char *text, const char *name, char *val, size_t valsz)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, name, n) || p[n] != '=')
			continue;
		const char *v = p + n + 1;
		size_t len = strcspn(v, "\n");
		snprintf(val, valsz, "%.*s", (int)len, v);
		return val;
	}
	return NULL;
}

static char *read_config(void)
{
	struct utsname u;
	char path[512];

	if (uname(&u))
		return NULL;
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[4096];
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		memcpy(buf + len, chunk, n);
		len += n;
		buf[len] = '\0';
	}
	fclose(f);
	return buf;
}

static void kconfig_set(struct bpf_object *obj, struct ub_ext *x, const char *v, uint8_t *dst)
{
	const struct btf_type *t = ub_btf_skip_mods(obj->btf, x->type_id, NULL);
	uint64_t num = 0;

	if (t && ub_btf_kind(t) == BTF_KIND_ARRAY && v[0] == '"') {	/* char[N] string */
		size_t len = strcspn(v + 1, "\"");
		memcpy(dst, v + 1, len < x->size - 1 ? len : x->size - 1);
		return;
	}
	if (!strcmp(v, "y"))
		num = 1;
	else if (!strcmp(v, "m"))
		num = 2;	/* libbpf's enum libbpf_tristate: TRI_MODULE */
	else if (strcmp(v, "n"))
		num = strtoull(v, NULL, 0);
	memcpy(dst, &num, x->size < sizeof(num) ? x->size : sizeof(num));	/* little-endian */
}

int ub_mapdef_kconfig_fill(struct bpf_object *obj)
{
	char *sys = NULL, val[256];
	bool sys_read = false;

	if (obj->kconfig_map < 0)
		return 0;
	struct bpf_map *m = obj->maps[obj->kconfig_map];
	memset(m->data, 0, m->value_size);
	for (size_t i = 0; i < obj->nexts; i++) {
		struct ub_ext *x = &obj->exts[i];
		uint8_t *dst = (uint8_t *)m->data + x->off;
		const char *v = NULL;
		if (x->ksym)
			continue;
		if (!strcmp(x->name, "LINUX_KERNEL_VERSION")) {
			uint32_t kv = kernel_version();
			memcpy(dst, &kv, x->size < 4 ? x->size : 4);
			continue;
		}
		/* libbpf's other LINUX_ externs describe kernel features (BPF cookies, syscall
		 * wrappers) that uebpf does not have: 0 */
		if (!strncmp(x->name, "LINUX_", 6))
			continue;
		if (obj->kconfig)
			v = kconfig_lookup(obj->kconfig, x->name, val, sizeof(val));
		if (!v && !sys_read)
			sys = read_config(), sys_read = true;
		if (!v && sys)
			v = kconfig_lookup(sys, x->name, val, sizeof(val));
		if (v)
			kconfig_set(obj, x, v, dst);
		else if (!x->weak)	/* libbpf fails here; user space has no kernel config to demand */
			ub_bo_info("extern (kcfg) '%s': no value known, 0 used\n", x->name);
	}
	free(sys);
	return 0;
}
