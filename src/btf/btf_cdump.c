/*
 * btf_cdump: BTF as a C header, like `bpftool btf dump file X format c` (vmlinux.h).
 *
 * Every named struct, union, enum and typedef is emitted once, after whatever it needs:
 * a type used by value needs the full definition first, a type used through a pointer
 * only a forward declaration (the walk in cd_need). Anonymous types are written inline
 * where they are used. Layout is kept exactly: a struct whose members are not where
 * natural C layout puts them gets unnamed bit-field padding ("long: 24;") or, when its
 * members are under-aligned, __attribute__((packed)), the rules libbpf's dumper uses.
 * Names that occur twice (vmlinux has several `struct console`) get "___2", "___3".
 */
#include "btf/btf.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable string ---- */

struct sb {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_putn(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p, b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(tmp)) {
		sb_putn(b, tmp, (size_t)n);
		return;
	}
	char *big = NULL;
	va_start(ap, fmt);
	if (vasprintf(&big, fmt, ap) >= 0)
		sb_puts(b, big);
	else
		b->oom = true;
	va_end(ap);
	free(big);
}

static void sb_tabs(struct sb *b, int n)
{
	for (int i = 0; i < n; i++)
		sb_putn(b, "\t", 1);
}

/* ---- names: a small hash of name -> times used, for the ___N suffixes ---- */

struct nm_ent {
	struct nm_ent *next;
	uint32_t cnt;
	char name[];
};

struct nm_tab {
	struct nm_ent **b;
	uint32_t nb;
};

static uint32_t nm_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* How many times name was used before, counting this use; 0 on allocation failure. */
static uint32_t nm_use(struct nm_tab *t, const char *name)
{
	if (!t->b) {
		t->nb = 4096;
		t->b = calloc(t->nb, sizeof(*t->b));
		if (!t->b)
			return 0;
	}
	struct nm_ent **pp = &t->b[nm_hash(name) % t->nb];
	for (struct nm_ent *e = *pp; e; e = e->next)
		if (!strcmp(e->name, name))
			return ++e->cnt;
	struct nm_ent *e = malloc(sizeof(*e) + strlen(name) + 1);
	if (!e)
		return 0;
	strcpy(e->name, name);
	e->cnt = 1;
	e->next = *pp;
	*pp = e;
	return 1;
}

static void nm_free(struct nm_tab *t)
{
	for (uint32_t i = 0; t->b && i < t->nb; i++)
		for (struct nm_ent *e = t->b[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	free(t->b);
}

/* ---- the dumper ---- */

enum { CD_NONE, CD_BUSY, CD_DONE };

struct ub_cdump {
	const struct ub_btf *btf;
	uint32_t n;
	uint8_t *state;		/* definition: CD_NONE / CD_BUSY / CD_DONE */
	uint8_t *fwd;		/* forward declaration (or typedef line) written */
	uint8_t *full;		/* typedef: what it names is complete */
	uint8_t *refd;		/* referenced by another type */
	uint8_t *align;		/* natural alignment (0: not computed) */
	char **names;		/* resolved C names (NULL: anonymous) */
	struct nm_tab idents;	/* enumerators */
	struct sb out;
	int depth;		/* recursion guard: pointers may loop (PTR -> itself) */
	bool too_deep;
	uint32_t fwd_id;	/* the last forward declaration written, and where */
	size_t fwd_start, fwd_end;
};

static const struct btf_type *cd_t(const struct ub_cdump *c, uint32_t id)
{
	return ub_btf_type(c->btf, id);
}

static bool cd_is_tag(uint32_t k)
{
	return k == BTF_KIND_STRUCT || k == BTF_KIND_UNION || k == BTF_KIND_ENUM ||
	       k == BTF_KIND_ENUM64 || k == BTF_KIND_FWD;
}

static int cd_resolve_names(struct ub_cdump *c)
{
	struct nm_tab tags = { 0 }, types = { 0 };
	int err = 0;

	for (uint32_t id = 1; id < c->n && !err; id++) {
		const struct btf_type *t = cd_t(c, id);
		uint32_t k = ub_btf_kind(t);
		const char *nm = ub_btf_str(c->btf, t->name_off);
		if (!*nm || !(cd_is_tag(k) || k == BTF_KIND_TYPEDEF))
			continue;
		uint32_t cnt = nm_use(k == BTF_KIND_TYPEDEF ? &types : &tags, nm);
		if (!cnt || (cnt == 1 ? !(c->names[id] = strdup(nm))
				      : asprintf(&c->names[id], "%s___%u", nm, cnt) < 0))
			err = -ENOMEM;
	}
	nm_free(&tags);
	nm_free(&types);
	return err;
}

static void cd_mark_ref(struct ub_cdump *c, uint32_t id)
{
	if (id < c->n)
		c->refd[id] = 1;
}

/* Which types something else refers to (unreferenced anonymous enums stand alone). */
static void cd_mark_refs(struct ub_cdump *c)
{
	for (uint32_t id = 1; id < c->n; id++) {
		const struct btf_type *t = cd_t(c, id);
		switch (ub_btf_kind(t)) {
		case BTF_KIND_STRUCT: case BTF_KIND_UNION:
			for (uint32_t i = 0; i < ub_btf_vlen(t); i++)
				cd_mark_ref(c, ((const struct btf_member *)(t + 1))[i].type);
			break;
		case BTF_KIND_ARRAY:
			cd_mark_ref(c, ((const struct btf_array *)(t + 1))->type);
			break;
		case BTF_KIND_FUNC_PROTO:
			for (uint32_t i = 0; i < ub_btf_vlen(t); i++)
				cd_mark_ref(c, ((const struct btf_param *)(t + 1))[i].type);
			cd_mark_ref(c, t->type);
			break;
		case BTF_KIND_PTR: case BTF_KIND_TYPEDEF: case BTF_KIND_CONST:
		case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT: case BTF_KIND_TYPE_TAG:
		case BTF_KIND_VAR:
			cd_mark_ref(c, t->type);
			break;
		default:
			break;
		}
	}
}

void ub_cdump_free(struct ub_cdump *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; c->names && i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	free(c->state), free(c->fwd), free(c->full), free(c->refd), free(c->align);
	nm_free(&c->idents);
	free(c->out.s);
	free(c);
}

int ub_cdump_new(const struct ub_btf *btf, struct ub_cdump **out)
{
	struct ub_cdump *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->btf = btf;
	c->n = ub_btf_type_cnt(btf);
	c->state = calloc(c->n, 1), c->fwd = calloc(c->n, 1), c->full = calloc(c->n, 1);
	c->refd = calloc(c->n, 1), c->align = calloc(c->n, 1);
	c->names = calloc(c->n, sizeof(*c->names));
	if (!c->state || !c->fwd || !c->full || !c->refd || !c->align || !c->names ||
	    cd_resolve_names(c)) {
		ub_cdump_free(c);
		return -ENOMEM;
	}
	cd_mark_refs(c);
	*out = c;
	return 0;
}

/* ---- layout ---- */

static bool cd_packed(struct ub_cdump *c, const struct btf_type *t);

static uint32_t cd_align(struct ub_cdump *c, uint32_t id)
{
	const struct btf_type *t = ub_btf_skip_mods(c->btf, id, &id);
	uint32_t a = 1;

	if (!t)
		return 1;
	if (c->align[id])
		return c->align[id];
	switch (ub_btf_kind(t)) {
	case BTF_KIND_INT: case BTF_KIND_FLOAT: case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		a = t->size < 16 ? t->size : 16;
		break;
	case BTF_KIND_PTR:
		a = 8;
		break;
	case BTF_KIND_ARRAY:
		a = cd_align(c, ((const struct btf_array *)(t + 1))->type);
		break;
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		if (cd_packed(c, t))
			break;
		for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
			uint32_t m = cd_align(c, ((const struct btf_member *)(t + 1))[i].type);
			a = m > a ? m : a;
		}
		break;
	default:
		break;
	}
	c->align[id] = (uint8_t)(a ? a : 1);
	return c->align[id];
}

/* A member's bit offset and bit-field width (0: not a bit-field), either BTF encoding. */
static void cd_member_bits(struct ub_cdump *c, const struct btf_type *t, uint32_t i,
			   uint32_t *off, uint32_t *bits)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1) + i;

	if (BTF_INFO_KFLAG(t->info)) {
		*off = BTF_MEMBER_BIT_OFFSET(m->offset);
		*bits = BTF_MEMBER_BITFIELD_SIZE(m->offset);
		return;
	}
	*off = m->offset;
	*bits = 0;
	const struct btf_type *mt = ub_btf_skip_mods(c->btf, m->type, NULL);
	if (mt && ub_btf_kind(mt) == BTF_KIND_INT) {
		uint32_t v;
		memcpy(&v, mt + 1, sizeof(v));
		if (BTF_INT_BITS(v) != mt->size * 8 || BTF_INT_OFFSET(v)) {
			*off += BTF_INT_OFFSET(v);
			*bits = BTF_INT_BITS(v);
		}
	}
}

static bool cd_packed(struct ub_cdump *c, const struct btf_type *t)
{
	uint32_t maxa = 1;

	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		const struct btf_member *m = (const struct btf_member *)(t + 1) + i;
		uint32_t off, bits, a = cd_align(c, m->type);
		cd_member_bits(c, t, i, &off, &bits);
		if (!bits && off % (8 * a))
			return true;
		maxa = a > maxa ? a : maxa;
	}
	return t->size % maxa != 0;
}

/* ---- declarators ---- */

static void cd_decl(struct ub_cdump *c, uint32_t id, const char *inner, int ind, struct sb *o);
static void cd_body(struct ub_cdump *c, uint32_t id, int ind, struct sb *o);

static void cd_base(struct sb *o, const char *base, const char *inner)
{
	sb_puts(o, base);
	if (*inner) {
		sb_putn(o, " ", 1);
		sb_puts(o, inner);
	}
}

static void cd_wrap(struct ub_cdump *c, uint32_t id, const char *pre, const char *inner,
		    const char *post, int ind, struct sb *o)
{
	struct sb in = { 0 };

	sb_puts(&in, pre);
	sb_puts(&in, inner);
	sb_puts(&in, post);
	cd_decl(c, id, in.s ? in.s : "", ind, o);
	o->oom |= in.oom;
	free(in.s);
}

static void cd_params(struct ub_cdump *c, const struct btf_type *t, int ind, struct sb *o)
{
	const struct btf_param *p = (const void *)(t + 1);
	uint32_t n = ub_btf_vlen(t);

	sb_putn(o, "(", 1);
	if (!n)
		sb_puts(o, "void");
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			sb_puts(o, ", ");
		if (i == n - 1 && !p[i].type)
			sb_puts(o, "...");
		else
			cd_decl(c, p[i].type, "", ind, o);
	}
	sb_putn(o, ")", 1);
}

/* Does a qualifier kind already apply to what id names (through arrays)? */
static bool cd_has_qual(struct ub_cdump *c, uint32_t id, uint32_t kind)
{
	for (int depth = 0; depth < 64; depth++) {
		const struct btf_type *t = cd_t(c, id);
		if (!t)
			return false;
		uint32_t k = ub_btf_kind(t);
		if (k == kind)
			return true;
		if (k == BTF_KIND_ARRAY)
			id = ((const struct btf_array *)(t + 1))->type;
		else if (k == BTF_KIND_CONST || k == BTF_KIND_VOLATILE || k == BTF_KIND_RESTRICT ||
			 k == BTF_KIND_TYPE_TAG)
			id = t->type;
		else
			return false;
	}
	return false;
}

static void cd_qual(struct ub_cdump *c, const struct btf_type *t, const char *q, const char *inner,
		    int ind, struct sb *o)
{
	const struct btf_type *u = cd_t(c, t->type);

	if (cd_has_qual(c, t->type, ub_btf_kind(t))) {	/* "const const int": once is enough */
		cd_decl(c, t->type, inner, ind, o);
		return;
	}
	if (u && ub_btf_kind(u) == BTF_KIND_PTR) {	/* "int *const p" */
		cd_wrap(c, t->type, q, inner, "", ind, o);
		return;
	}
	sb_puts(o, q);					/* "const int p" */
	cd_decl(c, t->type, inner, ind, o);
}

#define CD_MAX_DEPTH 512

static void cd_decl_one(struct ub_cdump *c, uint32_t id, const char *inner, int ind,
			struct sb *o);

/* A declarator: what `inner` (a name with its pointer/array/function parts) is. */
static void cd_decl(struct ub_cdump *c, uint32_t id, const char *inner, int ind, struct sb *o)
{
	if (c->depth >= CD_MAX_DEPTH) {
		c->too_deep = true;
		return;
	}
	c->depth++;
	cd_decl_one(c, id, inner, ind, o);
	c->depth--;
}

static void cd_decl_one(struct ub_cdump *c, uint32_t id, const char *inner, int ind,
			struct sb *o)
{
	const struct btf_type *t = cd_t(c, id), *u;
	char tmp[32];

	if (!t) {
		cd_base(o, "void", inner);
		return;
	}
	switch (ub_btf_kind(t)) {
	case BTF_KIND_INT: case BTF_KIND_FLOAT:
		cd_base(o, ub_btf_str(c->btf, t->name_off), inner);
		break;
	case BTF_KIND_TYPEDEF:
		cd_base(o, c->names[id], inner);
		break;
	case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
	case BTF_KIND_FWD:
		if (!c->names[id]) {
			cd_body(c, id, ind, o);
			if (*inner)
				sb_printf(o, " %s", inner);
			break;
		}
		sb_puts(o, ub_btf_kind(t) == BTF_KIND_UNION ||
			   (ub_btf_kind(t) == BTF_KIND_FWD && BTF_INFO_KFLAG(t->info)) ? "union " :
			   ub_btf_kind(t) == BTF_KIND_ENUM || ub_btf_kind(t) == BTF_KIND_ENUM64 ?
			   "enum " : "struct ");
		cd_base(o, c->names[id], inner);
		break;
	case BTF_KIND_PTR:
		u = ub_btf_skip_mods(c->btf, t->type, NULL);
		if (u && (ub_btf_kind(u) == BTF_KIND_ARRAY || ub_btf_kind(u) == BTF_KIND_FUNC_PROTO))
			cd_wrap(c, t->type, "(*", inner, ")", ind, o);
		else
			cd_wrap(c, t->type, "*", inner, "", ind, o);
		break;
	case BTF_KIND_CONST:
		cd_qual(c, t, "const ", inner, ind, o);
		break;
	case BTF_KIND_VOLATILE:
		cd_qual(c, t, "volatile ", inner, ind, o);
		break;
	case BTF_KIND_RESTRICT:
		cd_qual(c, t, "restrict ", inner, ind, o);
		break;
	case BTF_KIND_ARRAY:
		snprintf(tmp, sizeof(tmp), "[%u]", ((const struct btf_array *)(t + 1))->nelems);
		cd_wrap(c, ((const struct btf_array *)(t + 1))->type, "", inner, tmp, ind, o);
		break;
	case BTF_KIND_FUNC_PROTO: {
		struct sb p = { 0 };
		cd_params(c, t, ind, &p);
		cd_wrap(c, t->type, "", inner, p.s ? p.s : "()", ind, o);
		o->oom |= p.oom;
		free(p.s);
		break;
	}
	default:	/* type tags and the rest carry no C syntax */
		cd_decl(c, t->type, inner, ind, o);
	}
}

/* Unnamed bit-fields filling bits [from, to), none crossing a 64-bit unit. */
static void cd_pad(struct sb *o, uint64_t from, uint64_t to, int ind)
{
	while (from < to) {
		uint64_t n = 64 - from % 64;
		if (n > to - from)
			n = to - from;
		sb_tabs(o, ind);
		sb_printf(o, "long: %" PRIu64 ";\n", n);
		from += n;
	}
}

/* Where natural C layout would put the member (bits), given the end of the previous one. */
static uint64_t cd_natural(struct ub_cdump *c, uint32_t type, uint32_t bits, uint64_t cur,
			   bool packed)
{
	int64_t sz = ub_btf_resolve_size(c->btf, type);
	uint64_t unit;

	if (bits) {
		unit = sz > 0 ? (uint64_t)sz * 8 : 8;
		return packed || cur % unit + bits <= unit ? cur : (cur + unit - 1) / unit * unit;
	}
	unit = packed ? 8 : 8 * cd_align(c, type);
	return (cur + unit - 1) / unit * unit;
}

static void cd_members(struct ub_cdump *c, const struct btf_type *t, int ind, struct sb *o)
{
	const struct btf_member *m = (const void *)(t + 1);
	bool is_union = ub_btf_kind(t) == BTF_KIND_UNION, packed = cd_packed(c, t);
	uint64_t cur = 0;

	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		uint32_t off, bits;
		cd_member_bits(c, t, i, &off, &bits);
		if (!is_union) {
			uint64_t nat = cd_natural(c, m[i].type, bits, cur, packed);
			if (off > nat)
				cd_pad(o, cur, off, ind + 1);
		}
		sb_tabs(o, ind + 1);
		cd_decl(c, m[i].type, ub_btf_str(c->btf, m[i].name_off), ind + 1, o);
		if (bits)
			sb_printf(o, ": %u", bits);
		sb_puts(o, ";\n");
		int64_t sz = ub_btf_resolve_size(c->btf, m[i].type);
		uint64_t end = off + (bits ? bits : (sz > 0 ? (uint64_t)sz * 8 : 0));
		cur = is_union ? (end > cur ? end : cur) : end;
	}
	if (!is_union) {
		uint64_t sa = 8;
		if (!packed)
			for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
				uint64_t ma = 8 * (uint64_t)cd_align(c, m[i].type);
				sa = ma > sa ? ma : sa;
			}
		uint64_t nat_end = (cur + sa - 1) / sa * sa;
		if ((uint64_t)t->size * 8 > nat_end)
			cd_pad(o, cur, (uint64_t)t->size * 8, ind + 1);
	}
}

static void cd_enum_body(struct ub_cdump *c, const struct btf_type *t, int ind, struct sb *o)
{
	bool e64 = ub_btf_kind(t) == BTF_KIND_ENUM64, sign = BTF_INFO_KFLAG(t->info);

	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		uint32_t name;
		uint64_t v;
		if (e64) {
			const struct btf_enum64 *e = (const struct btf_enum64 *)(t + 1) + i;
			name = e->name_off;
			v = (uint64_t)e->val_hi32 << 32 | e->val_lo32;
		} else {
			const struct btf_enum *e = (const struct btf_enum *)(t + 1) + i;
			name = e->name_off;
			v = sign ? (uint64_t)(int64_t)e->val : (uint32_t)e->val;
		}
		const char *nm = ub_btf_str(c->btf, name);
		uint32_t cnt = nm_use(&c->idents, nm);
		sb_tabs(o, ind + 1);
		sb_puts(o, nm);
		if (cnt > 1)
			sb_printf(o, "___%u", cnt);
		if (e64 && sign)
			sb_printf(o, " = %" PRId64 "LL,\n", (int64_t)v);
		else if (e64)
			sb_printf(o, " = %" PRIu64 "ULL,\n", v);
		else if (sign)
			sb_printf(o, " = %" PRId64 ",\n", (int64_t)v);
		else
			sb_printf(o, " = %" PRIu64 ",\n", v);
	}
}

/* "struct NAME {\n ... }" (no semicolon), NAME omitted for anonymous types. */
static void cd_body(struct ub_cdump *c, uint32_t id, int ind, struct sb *o)
{
	const struct btf_type *t = cd_t(c, id);
	uint32_t k = ub_btf_kind(t);
	bool is_enum = k == BTF_KIND_ENUM || k == BTF_KIND_ENUM64;

	sb_puts(o, is_enum ? "enum" : k == BTF_KIND_UNION ? "union" : "struct");
	if (c->names[id])
		sb_printf(o, " %s", c->names[id]);
	if (!ub_btf_vlen(t) && !is_enum) {
		sb_puts(o, " {}");
		return;
	}
	sb_puts(o, " {\n");
	if (is_enum)
		cd_enum_body(c, t, ind, o);
	else
		cd_members(c, t, ind, o);
	sb_tabs(o, ind);
	sb_putn(o, "}", 1);
	if (!is_enum && cd_packed(c, t))
		sb_puts(o, " __attribute__((packed))");
	/* C makes an enum as big as an int: other sizes need the mode attribute */
	if (is_enum && t->size != 4)
		sb_printf(o, " __attribute__((mode(%s)))",
			  t->size == 1 ? "byte" : t->size == 2 ? "HI" : "DI");
}

/* ---- order: what a use of a type needs written before it ---- */

static void cd_need(struct ub_cdump *c, uint32_t id, bool complete);

static bool cd_is_comp(const struct btf_type *t)
{
	return ub_btf_kind(t) == BTF_KIND_STRUCT || ub_btf_kind(t) == BTF_KIND_UNION;
}

static void cd_fwd(struct ub_cdump *c, uint32_t id)
{
	const struct btf_type *t = cd_t(c, id);

	if (c->state[id] == CD_DONE || c->fwd[id])
		return;
	c->fwd[id] = 1;
	bool un = ub_btf_kind(t) == BTF_KIND_UNION ||
		  (ub_btf_kind(t) == BTF_KIND_FWD && BTF_INFO_KFLAG(t->info));
	c->fwd_id = id, c->fwd_start = c->out.len;
	sb_printf(&c->out, "%s %s;\n\n", un ? "union" : "struct", c->names[id]);
	c->fwd_end = c->out.len;
}

static void cd_need_members(struct ub_cdump *c, const struct btf_type *t)
{
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++)
		cd_need(c, ((const struct btf_member *)(t + 1))[i].type, true);
}

static void cd_def(struct ub_cdump *c, uint32_t id)
{
	if (c->state[id] != CD_NONE)
		return;
	c->state[id] = CD_BUSY;
	if (cd_is_comp(cd_t(c, id)))
		cd_need_members(c, cd_t(c, id));
	/* a struct pointing at itself asked for its own forward declaration: not needed
	 * when nothing came between it and the definition */
	if (c->fwd_id == id && c->out.len == c->fwd_end && c->fwd_end)
		c->out.len = c->fwd_start, c->fwd_id = 0;
	cd_body(c, id, 0, &c->out);
	sb_puts(&c->out, ";\n\n");
	c->state[id] = CD_DONE;
}

/*
 * A typedef line needs only forward declarations of what it names (except what C needs
 * complete: arrays, anonymous bodies, enums); uses by value then need the full type.
 */
static void cd_typedef(struct ub_cdump *c, uint32_t id, bool complete)
{
	const struct btf_type *t = cd_t(c, id);

	/* the compiler's own type: a typedef of it would not compile with another compiler */
	if (!strcmp(c->names[id], "__builtin_va_list"))
		c->fwd[id] = c->full[id] = 1;
	if (!c->fwd[id]) {
		if (c->state[id] == CD_BUSY)
			return;
		c->state[id] = CD_BUSY;
		cd_need(c, t->type, false);
		if (!c->fwd[id]) {
			sb_puts(&c->out, "typedef ");
			if (!t->type && !strcmp(c->names[id], "__gnuc_va_list"))
				sb_puts(&c->out, "__builtin_va_list __gnuc_va_list");
			else
				cd_decl(c, t->type, c->names[id], 0, &c->out);
			sb_puts(&c->out, ";\n\n");
			c->fwd[id] = 1;
		}
		c->state[id] = CD_DONE;
	}
	if (complete && !c->full[id]) {
		c->full[id] = 1;
		cd_need(c, t->type, true);
	}
}

static void cd_need_one(struct ub_cdump *c, uint32_t id, bool complete);

static void cd_need(struct ub_cdump *c, uint32_t id, bool complete)
{
	if (c->depth >= CD_MAX_DEPTH) {
		c->too_deep = true;
		return;
	}
	c->depth++;
	cd_need_one(c, id, complete);
	c->depth--;
}

static void cd_need_one(struct ub_cdump *c, uint32_t id, bool complete)
{
	const struct btf_type *t = cd_t(c, id);

	if (!t)
		return;
	switch (ub_btf_kind(t)) {
	case BTF_KIND_PTR:
		cd_need(c, t->type, false);
		break;
	case BTF_KIND_ARRAY:
		cd_need(c, ((const struct btf_array *)(t + 1))->type, true);
		break;
	case BTF_KIND_FUNC_PROTO:
		cd_need(c, t->type, false);
		for (uint32_t i = 0; i < ub_btf_vlen(t); i++)
			cd_need(c, ((const struct btf_param *)(t + 1))[i].type, false);
		break;
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		if (!c->names[id])
			cd_need_members(c, t);	/* written inline */
		else if (complete)
			cd_def(c, id);
		else
			cd_fwd(c, id);
		break;
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		if (c->names[id])
			cd_def(c, id);
		break;
	case BTF_KIND_FWD:
		cd_fwd(c, id);
		break;
	case BTF_KIND_TYPEDEF:
		cd_typedef(c, id, complete);
		break;
	case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG: case BTF_KIND_VAR:
		cd_need(c, t->type, complete);
		break;
	default:
		break;
	}
}

/* Writes (into the dumper's buffer) one type and everything it needs before it. */
static void cd_top(struct ub_cdump *c, uint32_t id)
{
	const struct btf_type *t = cd_t(c, id);
	uint32_t k = ub_btf_kind(t);

	if ((k == BTF_KIND_ENUM || k == BTF_KIND_ENUM64) && !c->names[id]) {
		if (!c->refd[id] && c->state[id] == CD_NONE) {	/* constants only */
			c->state[id] = CD_DONE;
			cd_body(c, id, 0, &c->out);
			sb_puts(&c->out, ";\n\n");
		}
		return;
	}
	if (c->names[id])
		cd_need(c, id, true);
}

static int cd_flush(struct ub_cdump *c, FILE *f)
{
	if (c->out.oom)
		return -ENOMEM;
	if (c->too_deep)
		return -ELOOP;
	if (c->out.len && fwrite(c->out.s, 1, c->out.len, f) != c->out.len)
		return -EIO;
	c->out.len = 0;
	return 0;
}

int ub_cdump_type(struct ub_cdump *c, uint32_t id, FILE *f)
{
	if (!id || id >= c->n)
		return -EINVAL;
	cd_top(c, id);
	return cd_flush(c, f);
}

int ub_cdump_decl(struct ub_cdump *c, uint32_t id, const char *name, int indent, FILE *f)
{
	if (id >= c->n)
		return -EINVAL;
	cd_decl(c, id, name, indent, &c->out);
	return cd_flush(c, f);
}

int ub_btf_dump_c(const struct ub_btf *btf, FILE *f)
{
	struct ub_cdump *c;
	int err = ub_cdump_new(btf, &c);

	if (err)
		return err;
	fputs("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n"
	      "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
	      "#pragma clang attribute push (__attribute__((preserve_access_index)), "
	      "apply_to = record)\n#endif\n\n", f);
	for (uint32_t id = 1; id < c->n && !err; id++) {
		cd_top(c, id);
		if (c->out.len > (1u << 16))
			err = cd_flush(c, f);
	}
	if (!err)
		err = cd_flush(c, f);
	fputs("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n"
	      "#endif /* __VMLINUX_H__ */\n", f);
	ub_cdump_free(c);
	return err ? err : ferror(f) ? -EIO : 0;
}
