/*
 * ub_btf: parsing and validation of a .BTF blob (the kernel's UAPI encoding, <linux/btf.h>).
 *
 * The blob is untrusted (it comes from an ELF object or a file), so ub_btf_parse checks
 * everything the rest of uebpf indexes with: the header and section bounds, the string
 * table, each type's size and trailing records, every type id and name offset, and the
 * absence of loops through types that contain others by value (typedef/const chains,
 * arrays, struct members). Afterwards, callers index without re-checking.
 */
#include "btf/btf.h"
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ub_btf {
	uint8_t *raw;			/* the whole blob (copy), placed so its types are 4-aligned */
	uint8_t *mem;			/* raw's allocation */
	size_t size;
	const char *strs;		/* string section */
	uint32_t str_len;
	const struct btf_type **types;	/* [0] is NULL (void) */
	uint32_t nr;			/* number of ids including void */
	struct ub_core_index *core_idx;	/* CO-RE's name index (core.c), built on first use */
};

#define BTF_ERR(log, ...) (ub_log_printf((log), "BTF: " __VA_ARGS__), ub_log_printf((log), "\n"), -EINVAL)

/* Bytes of trailing records after struct btf_type for each kind; -1: kind invalid. */
static long btf_extra_size(const struct btf_type *t)
{
	uint32_t vlen = ub_btf_vlen(t);

	switch (ub_btf_kind(t)) {
	case BTF_KIND_INT:		return sizeof(uint32_t);
	case BTF_KIND_PTR: case BTF_KIND_FWD: case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE: case BTF_KIND_CONST: case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC: case BTF_KIND_FLOAT: case BTF_KIND_TYPE_TAG:
		return 0;
	case BTF_KIND_ARRAY:		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		return (long)vlen * (long)sizeof(struct btf_member);
	case BTF_KIND_ENUM:		return (long)vlen * (long)sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:	return (long)vlen * (long)sizeof(struct btf_param);
	case BTF_KIND_VAR:		return sizeof(struct btf_var);
	case BTF_KIND_DATASEC:		return (long)vlen * (long)sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG:		return sizeof(struct btf_decl_tag);
	case BTF_KIND_ENUM64:		return (long)vlen * (long)sizeof(struct btf_enum64);
	default:			return -1;
	}
}

static int btf_check_header(const uint8_t *data, size_t size, struct ub_log *log)
{
	struct btf_header h;

	if (size < sizeof(h))
		return BTF_ERR(log, "blob of %zu bytes is shorter than the %zu-byte header", size, sizeof(h));
	memcpy(&h, data, sizeof(h));
	if (h.magic != BTF_MAGIC)
		return BTF_ERR(log, "offset 0x0: bad magic 0x%04x (want 0x%04x, little-endian)", h.magic, BTF_MAGIC);
	if (h.version != BTF_VERSION)
		return BTF_ERR(log, "offset 0x2: unsupported version %u", h.version);
	if (h.flags)
		return BTF_ERR(log, "offset 0x3: unsupported flags 0x%x", h.flags);
	if (h.hdr_len < sizeof(h) || h.hdr_len > size)
		return BTF_ERR(log, "offset 0x4: header length %u out of range (blob %zu bytes)", h.hdr_len, size);
	for (size_t i = sizeof(h); i < h.hdr_len; i++)
		if (data[i])
			return BTF_ERR(log, "offset 0x%zx: unknown non-zero header byte", i);
	size_t body = size - h.hdr_len;
	if ((uint64_t)h.type_off + h.type_len > body)
		return BTF_ERR(log, "offset 0x8: type section [%u, +%u) beyond the blob end (%zu)",
			       h.type_off, h.type_len, body);
	if ((uint64_t)h.str_off + h.str_len > body)
		return BTF_ERR(log, "offset 0x10: string section [%u, +%u) beyond the blob end (%zu)",
			       h.str_off, h.str_len, body);
	if (h.type_off % 4)
		return BTF_ERR(log, "offset 0x8: type section offset %u not 4-byte aligned", h.type_off);
	if (h.type_off < h.str_off ? (uint64_t)h.type_off + h.type_len > h.str_off
				   : (uint64_t)h.str_off + h.str_len > h.type_off)
		if (h.type_len && h.str_len)
			return BTF_ERR(log, "type and string sections overlap");
	if (!h.str_len || h.str_len > BTF_MAX_NAME_OFFSET + 1)
		return BTF_ERR(log, "string section length %u out of range", h.str_len);
	const char *s = (const char *)data + h.hdr_len + h.str_off;
	if (s[0] || s[h.str_len - 1])
		return BTF_ERR(log, "string section at offset 0x%x must start and end with NUL",
			       h.hdr_len + h.str_off);
	return 0;
}

/* First pass: find where each type starts and count them. */
static int btf_index_types(struct ub_btf *b, const struct btf_header *h, struct ub_log *log)
{
	const uint8_t *p = b->raw + h->hdr_len + h->type_off, *end = p + h->type_len;
	uint32_t cap = 64;

	b->types = calloc(cap, sizeof(*b->types));
	if (!b->types)
		return -ENOMEM;
	b->nr = 1;
	while (p < end) {
		size_t off = (size_t)(p - b->raw);
		if ((size_t)(end - p) < sizeof(struct btf_type))
			return BTF_ERR(log, "type %u at offset 0x%zx: truncated header", b->nr, off);
		const struct btf_type *t = (const void *)p;
		long extra = btf_extra_size(t);
		if (extra < 0)
			return BTF_ERR(log, "type %u at offset 0x%zx: unknown kind %u", b->nr, off, ub_btf_kind(t));
		if ((size_t)(end - p) - sizeof(*t) < (size_t)extra)
			return BTF_ERR(log, "type %u at offset 0x%zx: %ld bytes of records run past the type section",
				       b->nr, off, extra);
		if (b->nr > BTF_MAX_TYPE)
			return BTF_ERR(log, "more than %u types", BTF_MAX_TYPE);
		if (b->nr == cap) {
			const struct btf_type **n = realloc(b->types, 2 * cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			b->types = n;
			cap *= 2;
		}
		b->types[b->nr++] = t;
		p += sizeof(*t) + (size_t)extra;
	}
	return 0;
}

struct btf_ck {
	struct ub_btf *b;
	struct ub_log *log;
	uint32_t id;
	size_t off;
};

static int ck_name(struct btf_ck *c, uint32_t name_off, const char *what)
{
	if (name_off >= c->b->str_len)
		return BTF_ERR(c->log, "type %u at offset 0x%zx: %s name offset %u beyond the string section (%u)",
			       c->id, c->off, what, name_off, c->b->str_len);
	return 0;
}

static int ck_id(struct btf_ck *c, uint32_t id, const char *what)
{
	if (id >= c->b->nr)
		return BTF_ERR(c->log, "type %u at offset 0x%zx: %s type id %u out of range (%u types)",
			       c->id, c->off, what, id, c->b->nr - 1);
	return 0;
}

static int ck_int(struct btf_ck *c, const struct btf_type *t)
{
	uint32_t v;

	memcpy(&v, t + 1, sizeof(v));
	if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8 && t->size != 16)
		return BTF_ERR(c->log, "type %u at offset 0x%zx: int size %u invalid", c->id, c->off, t->size);
	if (BTF_INT_BITS(v) > 128 || BTF_INT_OFFSET(v) + BTF_INT_BITS(v) > t->size * 8)
		return BTF_ERR(c->log, "type %u at offset 0x%zx: int bits %u at bit %u exceed size %u",
			       c->id, c->off, BTF_INT_BITS(v), BTF_INT_OFFSET(v), t->size);
	if ((v & 0xf000ff00u) || (BTF_INT_ENCODING(v) & (BTF_INT_ENCODING(v) - 1)) ||
	    BTF_INT_ENCODING(v) > BTF_INT_BOOL)
		return BTF_ERR(c->log, "type %u at offset 0x%zx: int encoding 0x%x has reserved bits",
			       c->id, c->off, v);
	return 0;
}

static int ck_members(struct btf_ck *c, const struct btf_type *t)
{
	const struct btf_member *m = (const void *)(t + 1);

	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		int err = ck_name(c, m[i].name_off, "member");
		if (!err)
			err = ck_id(c, m[i].type, "member");
		if (err)
			return err;
		if (!m[i].type)
			return BTF_ERR(c->log, "type %u at offset 0x%zx: member %u has type void", c->id, c->off, i);
	}
	return 0;
}

static int ck_enum(struct btf_ck *c, const struct btf_type *t)
{
	size_t rec = ub_btf_kind(t) == BTF_KIND_ENUM ? sizeof(struct btf_enum) : sizeof(struct btf_enum64);

	if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
		return BTF_ERR(c->log, "type %u at offset 0x%zx: enum size %u invalid", c->id, c->off, t->size);
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		uint32_t name;
		memcpy(&name, (const uint8_t *)(t + 1) + i * rec, sizeof(name));
		int err = ck_name(c, name, "enumerator");
		if (err)
			return err;
	}
	return 0;
}

static int ck_params(struct btf_ck *c, const struct btf_type *t)
{
	const struct btf_param *p = (const void *)(t + 1);
	int err = ck_id(c, t->type, "return");

	for (uint32_t i = 0; !err && i < ub_btf_vlen(t); i++) {
		err = ck_name(c, p[i].name_off, "parameter");
		if (!err)
			err = ck_id(c, p[i].type, "parameter");
	}
	return err;
}

static int ck_datasec(struct btf_ck *c, const struct btf_type *t)
{
	const struct btf_var_secinfo *v = (const void *)(t + 1);

	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		int err = ck_id(c, v[i].type, "section variable");
		if (err)
			return err;
		if ((uint64_t)v[i].offset + v[i].size > t->size && t->size)
			return BTF_ERR(c->log, "type %u at offset 0x%zx: variable %u [%u, +%u) beyond section size %u",
				       c->id, c->off, i, v[i].offset, v[i].size, t->size);
	}
	return 0;
}

/* Kind-specific checks of one type: fields, trailing records, referenced ids. */
static int btf_check_type(struct btf_ck *c, const struct btf_type *t)
{
	const struct btf_array *a = (const void *)(t + 1);
	uint32_t k = ub_btf_kind(t);
	int err = ck_name(c, t->name_off, "type");

	if (err)
		return err;
	switch (k) {
	case BTF_KIND_INT:		return ck_int(c, t);
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		return ck_members(c, t);
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		return ck_enum(c, t);
	case BTF_KIND_FUNC_PROTO:	return ck_params(c, t);
	case BTF_KIND_DATASEC:		return ck_datasec(c, t);
	case BTF_KIND_ARRAY:
		err = ck_id(c, a->type, "array element");
		return err ? err : ck_id(c, a->index_type, "array index");
	case BTF_KIND_FWD:		return 0;
	case BTF_KIND_FLOAT:
		if (t->size != 2 && t->size != 4 && t->size != 8 && t->size != 12 && t->size != 16)
			return BTF_ERR(c->log, "type %u at offset 0x%zx: float size %u invalid", c->id, c->off, t->size);
		return 0;
	case BTF_KIND_DECL_TAG: {
		int32_t idx;
		memcpy(&idx, t + 1, sizeof(idx));
		if (idx < -1)
			return BTF_ERR(c->log, "type %u at offset 0x%zx: decl tag component %d invalid", c->id, c->off, idx);
		return ck_id(c, t->type, "tagged");
	}
	default:			/* ptr, typedef, modifiers, func, var, type tag */
		return ck_id(c, t->type, "referenced");
	}
}

/* Children a type contains by value (a loop through them would make its size infinite). */
static uint32_t btf_value_child(const struct btf_type *t, uint32_t i, bool *ok)
{
	*ok = true;
	switch (ub_btf_kind(t)) {
	case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT: case BTF_KIND_TYPE_TAG: case BTF_KIND_VAR:
		if (i == 0)
			return t->type;
		break;
	case BTF_KIND_ARRAY:
		if (i == 0)
			return ((const struct btf_array *)(t + 1))->type;
		break;
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		if (i < ub_btf_vlen(t))
			return ((const struct btf_member *)(t + 1))[i].type;
		break;
	default:
		break;
	}
	*ok = false;
	return 0;
}

/* Iterative depth-first search over "contains by value" edges; a back edge is a loop. */
static int btf_check_loops(struct ub_btf *b, struct ub_log *log)
{
	uint8_t *state = calloc(b->nr, 1);	/* 0 new, 1 on the stack, 2 done */
	uint32_t *stk = malloc(b->nr * sizeof(*stk)), *pos = malloc(b->nr * sizeof(*pos));
	int err = 0;

	if (!state || !stk || !pos) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t root = 1; root < b->nr && !err; root++) {
		uint32_t sp = 0;
		if (state[root])
			continue;
		stk[sp] = root, pos[sp++] = 0, state[root] = 1;
		while (sp && !err) {
			uint32_t id = stk[sp - 1];
			bool ok;
			uint32_t ch = btf_value_child(b->types[id], pos[sp - 1]++, &ok);
			if (!ok) {
				state[id] = 2, sp--;
			} else if (ch && state[ch] == 1) {
				err = BTF_ERR(log, "type %u at offset 0x%zx: type id loop through type %u",
					      id, (size_t)((const uint8_t *)b->types[id] - b->raw), ch);
			} else if (ch && !state[ch]) {
				stk[sp] = ch, pos[sp++] = 0, state[ch] = 1;
			}
		}
	}
out:
	free(state), free(stk), free(pos);
	return err;
}

int ub_btf_parse(const void *data, size_t size, struct ub_btf **out, struct ub_log *log)
{
	struct btf_header h;
	struct ub_btf *b;
	int err;

	*out = NULL;
	err = btf_check_header(data, size, log);
	if (err)
		return err;
	memcpy(&h, data, sizeof(h));
	b = calloc(1, sizeof(*b));
	/* The kernel accepts any hdr_len (extra header bytes only have to be zero), which
	 * can leave the type section unaligned in the caller's buffer; the copy is shifted
	 * so that the records read through struct btf_type are 4-byte aligned. */
	if (!b || !(b->mem = malloc(size + 3))) {
		free(b);
		return -ENOMEM;
	}
	b->raw = b->mem + (4 - h.hdr_len % 4) % 4;
	memcpy(b->raw, data, size);
	b->size = size;
	b->strs = (const char *)b->raw + h.hdr_len + h.str_off;
	b->str_len = h.str_len;
	err = btf_index_types(b, &h, log);
	for (uint32_t id = 1; !err && id < b->nr; id++) {
		struct btf_ck c = { b, log, id, (size_t)((const uint8_t *)b->types[id] - b->raw) };
		err = btf_check_type(&c, b->types[id]);
	}
	if (!err)
		err = btf_check_loops(b, log);
	if (err) {
		ub_btf_free(b);
		return err;
	}
	*out = b;
	return 0;
}

void ub_btf_free(struct ub_btf *btf)
{
	if (!btf)
		return;
	ub_core_index_free(btf->core_idx);
	free(btf->types);
	free(btf->mem);
	free(btf);
}

/* The .BTF section of an ELF file (e.g. a vmlinux image or a BPF object). */
static int btf_from_elf(int fd, const char *path, struct ub_btf **out, struct ub_log *log)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int err = -ENOENT;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx)) {
		ub_log_printf(log, "BTF: %s: not a readable ELF file: %s\n", path, elf_errmsg(-1));
		elf_end(elf);
		return -EINVAL;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (strcmp(name, ".BTF"))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || sh.sh_type == SHT_NOBITS) {
			ub_log_printf(log, "BTF: %s: .BTF section unreadable\n", path);
			err = -EINVAL;
		} else {
			err = ub_btf_parse(d->d_buf, d->d_size, out, log);
		}
		break;
	}
	if (err == -ENOENT)
		ub_log_printf(log, "BTF: %s: ELF file has no .BTF section\n", path);
	elf_end(elf);
	return err;
}

int ub_btf_load_file(const char *path, struct ub_btf **out, struct ub_log *log)
{
	struct stat st;
	uint8_t *buf;
	int fd, err;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		ub_log_printf(log, "BTF: %s: %s\n", path, strerror(errno));
		return err;
	}
	uint8_t magic[4] = { 0 };
	if (pread(fd, magic, 4, 0) == 4 && !memcmp(magic, ELFMAG, SELFMAG)) {
		err = btf_from_elf(fd, path, out, log);
		close(fd);
		return err;
	}
	/* sysfs files report size 4096, so read until EOF rather than trusting st_size */
	size_t cap = fstat(fd, &st) == 0 && st.st_size > 4096 ? (size_t)st.st_size : 1 << 20, len = 0;
	buf = malloc(cap);
	for (ssize_t n = 1; buf && n > 0;) {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb, cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			err = -errno;
			ub_log_printf(log, "BTF: %s: %s\n", path, strerror(errno));
			free(buf);
			close(fd);
			return err;
		}
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	err = ub_btf_parse(buf, len, out, log);
	free(buf);
	return err;
}

const void *ub_btf_raw(const struct ub_btf *btf, size_t *size)
{
	*size = btf->size;
	return btf->raw;
}

struct ub_core_index **ub_btf_core_index_slot(const struct ub_btf *btf)
{
	return &((struct ub_btf *)btf)->core_idx;
}

uint32_t ub_btf_type_cnt(const struct ub_btf *btf)
{
	return btf->nr;
}

const struct btf_type *ub_btf_type(const struct ub_btf *btf, uint32_t id)
{
	return id && id < btf->nr ? btf->types[id] : NULL;
}

const char *ub_btf_str(const struct ub_btf *btf, uint32_t off)
{
	return off < btf->str_len ? btf->strs + off : "";
}

static bool btf_is_mod(uint32_t kind)
{
	return kind == BTF_KIND_TYPEDEF || kind == BTF_KIND_VOLATILE || kind == BTF_KIND_CONST ||
	       kind == BTF_KIND_RESTRICT || kind == BTF_KIND_TYPE_TAG;
}

const struct btf_type *ub_btf_skip_mods(const struct ub_btf *btf, uint32_t id, uint32_t *res)
{
	const struct btf_type *t = ub_btf_type(btf, id);

	/* parse proved modifier chains loop-free, so this terminates */
	while (t && btf_is_mod(ub_btf_kind(t))) {
		id = t->type;
		t = ub_btf_type(btf, id);
	}
	if (res)
		*res = id;
	return t;
}

int64_t ub_btf_resolve_size(const struct ub_btf *btf, uint32_t id)
{
	uint64_t mult = 1;

	for (int depth = 0; depth < 64; depth++) {
		const struct btf_type *t = ub_btf_skip_mods(btf, id, &id);
		if (!t)
			return -EINVAL;
		switch (ub_btf_kind(t)) {
		case BTF_KIND_INT: case BTF_KIND_ENUM: case BTF_KIND_ENUM64: case BTF_KIND_FLOAT:
		case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_DATASEC:
			if (t->size && mult > (uint64_t)INT64_MAX / t->size)
				return -E2BIG;
			return (int64_t)(mult * t->size);
		case BTF_KIND_PTR:
			return mult > (uint64_t)INT64_MAX / 8 ? -E2BIG : (int64_t)(mult * 8);
		case BTF_KIND_VAR:
			id = t->type;
			break;
		case BTF_KIND_ARRAY: {
			const struct btf_array *a = (const void *)(t + 1);
			if (a->nelems && mult > (uint64_t)INT64_MAX / a->nelems)
				return -E2BIG;
			mult *= a->nelems;
			id = a->type;
			break;
		}
		default:
			return -EINVAL;
		}
	}
	return -E2BIG;
}

int ub_btf_find(const struct ub_btf *btf, const char *name, uint32_t kind)
{
	for (uint32_t id = 1; id < btf->nr; id++) {
		const struct btf_type *t = btf->types[id];
		if ((!kind || ub_btf_kind(t) == kind) && !strcmp(btf->strs + t->name_off, name))
			return (int)id;
	}
	return -ENOENT;
}
