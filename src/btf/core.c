/*
 * ub_core: CO-RE relocations, resolved the way libbpf's relo_core.c does.
 *
 * A relocation names a local type (in the object's BTF), an access string ("0:1:3": an
 * array index on the root, then member or element indices) and what it wants (a field's
 * offset, size, existence, signedness or bit-field shifts; a type's existence, size or
 * id; an enumerator's existence or value). Resolution:
 *   1. parse the access string against the local BTF into a spec: the named accessors
 *      (members with names, array elements, enumerators) and the bit offset they reach;
 *   2. candidates: target types of the same kind whose "essential" name (the name
 *      without a "___flavor" suffix) equals the local one's;
 *   3. match the local spec in each candidate (members by name, descending through
 *      anonymous members; field types compatible), compute the value for every match;
 *      all matches must agree;
 *   4. no match: existence relocations give 0, type-based ones 0, the rest poison the
 *      instruction (a call to the unknown helper 0xbad2310, as libbpf does), so the
 *      program fails to verify only if that instruction is reachable.
 */
#include "btf/btf.h"
#include <errno.h>
#include <limits.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CORE_MAX_SPEC 64		/* libbpf's BPF_CORE_SPEC_MAX_LEN */
#define CORE_POISON_IMM 0xbad2310	/* "bad relo": libbpf's poison helper id */

struct core_acc {
	uint32_t type_id;	/* composite (named member), element type (array) or enum */
	uint32_t idx;
	const char *name;	/* NULL for array accessors */
};

struct core_spec {
	const struct ub_btf *btf;
	uint32_t root_id;
	uint32_t kind;
	struct core_acc acc[CORE_MAX_SPEC];
	uint32_t len;
	uint32_t raw[CORE_MAX_SPEC];
	uint32_t raw_len;
	uint64_t bit_off;
};

static bool kind_field(uint32_t k)
{
	return k <= BPF_CORE_FIELD_RSHIFT_U64;
}

static bool kind_type(uint32_t k)
{
	return (k >= BPF_CORE_TYPE_ID_LOCAL && k <= BPF_CORE_TYPE_SIZE) || k == BPF_CORE_TYPE_MATCHES;
}

static bool kind_enum(uint32_t k)
{
	return k == BPF_CORE_ENUMVAL_EXISTS || k == BPF_CORE_ENUMVAL_VALUE;
}

static const char *const core_kind_names[] = {
	"byte_off", "byte_sz", "field_exists", "signed", "lshift_u64", "rshift_u64",
	"local_type_id", "target_type_id", "type_exists", "type_size", "enumval_exists",
	"enumval_value", "type_matches",
};

const char *ub_core_kind_name(uint32_t kind)
{
	return kind < sizeof(core_kind_names) / sizeof(core_kind_names[0]) ? core_kind_names[kind]
									   : "unknown";
}

/* Length of a name without its "___flavor" suffix (libbpf's essential name). */
size_t ub_core_essential_len(const char *name)
{
	size_t n = strlen(name);

	for (long i = (long)n - 5; i >= 0; i--)
		if (name[i] != '_' && name[i + 1] == '_' && name[i + 2] == '_' &&
		    name[i + 3] == '_' && name[i + 4] != '_')
			return (size_t)i + 1;
	return n;
}

static bool core_is_comp(const struct btf_type *t)
{
	return t && (ub_btf_kind(t) == BTF_KIND_STRUCT || ub_btf_kind(t) == BTF_KIND_UNION);
}

static bool core_is_enum(const struct btf_type *t)
{
	return t && (ub_btf_kind(t) == BTF_KIND_ENUM || ub_btf_kind(t) == BTF_KIND_ENUM64);
}

static uint32_t core_mbit_off(const struct btf_type *t, uint32_t i)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1) + i;

	return BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BIT_OFFSET(m->offset) : m->offset;
}

static uint32_t core_mbit_size(const struct btf_type *t, uint32_t i)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1) + i;

	return BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BITFIELD_SIZE(m->offset) : 0;
}

static uint32_t core_enum_name(const struct btf_type *t, uint32_t i)
{
	if (ub_btf_kind(t) == BTF_KIND_ENUM)
		return ((const struct btf_enum *)(t + 1))[i].name_off;
	return ((const struct btf_enum64 *)(t + 1))[i].name_off;
}

static uint64_t core_enum_val(const struct btf_type *t, uint32_t i)
{
	if (ub_btf_kind(t) == BTF_KIND_ENUM) {
		int32_t v = ((const struct btf_enum *)(t + 1))[i].val;
		return BTF_INFO_KFLAG(t->info) ? (uint64_t)(int64_t)v : (uint32_t)v;
	}
	const struct btf_enum64 *e = (const struct btf_enum64 *)(t + 1) + i;
	return (uint64_t)e->val_hi32 << 32 | e->val_lo32;
}

/* A zero-length array as the last accessed member: indices past its end are allowed. */
static bool core_flex(const struct core_spec *s, const struct btf_array *a)
{
	if (a->nelems || !s->len)
		return false;
	const struct core_acc *prev = &s->acc[s->len - 1];
	const struct btf_type *t = ub_btf_type(s->btf, prev->type_id);
	return prev->name && core_is_comp(t) && prev->idx == ub_btf_vlen(t) - 1;
}

/* ---- 1. the local spec ---- */

static int core_parse_raw(struct core_spec *s, const char *str)
{
	s->raw_len = 0;
	while (*str) {
		char *end;
		if (*str == ':')
			str++;
		if (*str < '0' || *str > '9')
			return -EINVAL;
		unsigned long v = strtoul(str, &end, 10);
		if (v > INT_MAX || s->raw_len == CORE_MAX_SPEC)
			return -E2BIG;
		s->raw[s->raw_len++] = (uint32_t)v;
		str = end;
		if (*str && *str != ':')
			return -EINVAL;
	}
	return s->raw_len ? 0 : -EINVAL;
}

static int core_parse_step(struct core_spec *s, uint32_t *id, uint32_t idx)
{
	const struct btf_type *t = ub_btf_skip_mods(s->btf, *id, id);

	if (core_is_comp(t)) {
		const struct btf_member *m = (const struct btf_member *)(t + 1) + idx;
		if (idx >= ub_btf_vlen(t))
			return -EINVAL;
		s->bit_off += core_mbit_off(t, idx);
		if (m->name_off)
			s->acc[s->len++] = (struct core_acc){ *id, idx, ub_btf_str(s->btf, m->name_off) };
		*id = m->type;
		return 0;
	}
	if (t && ub_btf_kind(t) == BTF_KIND_ARRAY) {
		const struct btf_array *a = (const void *)(t + 1);
		bool flex = core_flex(s, a);
		if (!ub_btf_skip_mods(s->btf, a->type, id) || (!flex && idx >= a->nelems))
			return -EINVAL;
		int64_t sz = ub_btf_resolve_size(s->btf, *id);
		if (sz < 0)
			return -EINVAL;
		s->acc[s->len++] = (struct core_acc){ *id, idx, NULL };
		s->bit_off += (uint64_t)idx * (uint64_t)sz * 8;
		return 0;
	}
	return -EINVAL;
}

static int core_parse_spec(struct core_spec *s, const struct ub_btf *btf, uint32_t type_id,
			   const char *str, uint32_t kind)
{
	uint32_t id;
	const struct btf_type *t;
	int err;

	memset(s, 0, sizeof(*s));
	s->btf = btf, s->root_id = type_id, s->kind = kind;
	err = core_parse_raw(s, str);
	if (err)
		return err;
	if (kind_type(kind))
		return strcmp(str, "0") ? -EINVAL : 0;
	t = ub_btf_skip_mods(btf, type_id, &id);
	if (!t)
		return -EINVAL;
	s->acc[0] = (struct core_acc){ id, s->raw[0], NULL };
	s->len = 1;
	if (kind_enum(kind)) {
		if (!core_is_enum(t) || s->raw_len > 1 || s->raw[0] >= ub_btf_vlen(t))
			return -EINVAL;
		s->acc[0].name = ub_btf_str(btf, core_enum_name(t, s->raw[0]));
		return 0;
	}
	if (!kind_field(kind))
		return -EINVAL;
	int64_t sz = ub_btf_resolve_size(btf, id);
	if (sz < 0)
		return -EINVAL;
	s->bit_off = (uint64_t)s->raw[0] * (uint64_t)sz * 8;
	for (uint32_t i = 1; i < s->raw_len; i++)
		if ((err = core_parse_step(s, &id, s->raw[i])))
			return err;
	return 0;
}

/* ---- compatibility ---- */

static bool core_kinds_compat(const struct btf_type *a, const struct btf_type *b)
{
	return ub_btf_kind(a) == ub_btf_kind(b) || (core_is_enum(a) && core_is_enum(b));
}

static bool core_int_plain(const struct btf_type *t)
{
	uint32_t v;

	memcpy(&v, t + 1, sizeof(v));
	return BTF_INT_OFFSET(v) == 0;
}

static bool core_names_compat(const char *a, const char *b)
{
	size_t la = ub_core_essential_len(a), lb = ub_core_essential_len(b);

	return !la || !lb || (la == lb && !strncmp(a, b, la));
}

/* Are a local field type and a target field type compatible (libbpf's fields_are_compat)? */
static int core_fields_compat(const struct ub_btf *lb, uint32_t lid, const struct ub_btf *tb,
			      uint32_t tid)
{
	for (int depth = 0; depth < 32; depth++) {
		const struct btf_type *l = ub_btf_skip_mods(lb, lid, &lid);
		const struct btf_type *t = ub_btf_skip_mods(tb, tid, &tid);
		if (!l || !t)
			return !l && !t;	/* void matches void */
		if (core_is_comp(l) && core_is_comp(t))
			return 1;
		if (!core_kinds_compat(l, t))
			return 0;
		switch (ub_btf_kind(l)) {
		case BTF_KIND_PTR: case BTF_KIND_FLOAT:
			return 1;
		case BTF_KIND_FWD: case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
			return core_names_compat(ub_btf_str(lb, l->name_off), ub_btf_str(tb, t->name_off));
		case BTF_KIND_INT:
			return core_int_plain(l) && core_int_plain(t);
		case BTF_KIND_ARRAY:
			lid = ((const struct btf_array *)(l + 1))->type;
			tid = ((const struct btf_array *)(t + 1))->type;
			continue;
		default:
			return 0;
		}
	}
	return -EINVAL;
}

/* Types compatible for type-based relocations (libbpf's types_are_compat). */
static int core_types_compat(const struct ub_btf *lb, uint32_t lid, const struct ub_btf *tb,
			     uint32_t tid, int level)
{
	const struct btf_type *l = ub_btf_type(lb, lid), *t = ub_btf_type(tb, tid);

	if (!l || !t)
		return !l && !t;
	if (!core_kinds_compat(l, t))
		return 0;
	for (int depth = 0; depth < 32; depth++) {
		l = ub_btf_skip_mods(lb, lid, &lid);
		t = ub_btf_skip_mods(tb, tid, &tid);
		if (!l || !t)
			return !l && !t;
		if (!core_kinds_compat(l, t))
			return 0;
		switch (ub_btf_kind(l)) {
		case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_ENUM: case BTF_KIND_FWD:
		case BTF_KIND_ENUM64:
			return 1;
		case BTF_KIND_INT:
			return core_int_plain(l) && core_int_plain(t);
		case BTF_KIND_PTR:
			lid = l->type, tid = t->type;
			continue;
		case BTF_KIND_ARRAY:
			lid = ((const struct btf_array *)(l + 1))->type;
			tid = ((const struct btf_array *)(t + 1))->type;
			continue;
		case BTF_KIND_FUNC_PROTO: {
			const struct btf_param *lp = (const void *)(l + 1), *tp = (const void *)(t + 1);
			if (ub_btf_vlen(l) != ub_btf_vlen(t))
				return 0;
			if (level <= 0)
				return -EINVAL;
			for (uint32_t i = 0; i < ub_btf_vlen(l); i++) {
				uint32_t a, b;
				ub_btf_skip_mods(lb, lp[i].type, &a);
				ub_btf_skip_mods(tb, tp[i].type, &b);
				int r = core_types_compat(lb, a, tb, b, level - 1);
				if (r <= 0)
					return r;
			}
			lid = l->type, tid = t->type;
			continue;
		}
		default:
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Types that "match" (bpf_core_type_matches): the same kind at every level, and the same
 * (essential) name for structs, unions and enums; for structs and unions every local member exists by name in the target with a
 * matching type, except behind a pointer where the name is enough; enums of one size with
 * every local enumerator present; ints of one size and signedness; arrays of one length;
 * prototypes with matching parameters and return.
 */
static int core_types_match(const struct ub_btf *lb, uint32_t lid, const struct ub_btf *tb,
			    uint32_t tid, bool behind_ptr, int level)
{
	const struct btf_type *l = ub_btf_skip_mods(lb, lid, &lid);
	const struct btf_type *t = ub_btf_skip_mods(tb, tid, &tid);

	if (level <= 0)
		return -EINVAL;
	if (!l || !t)
		return !l && !t;
	if (!core_kinds_compat(l, t))
		return 0;
	/* named aggregates and enums must agree on the name; ints and floats need not
	 * ("long" in the program is "long int" in the kernel) */
	if ((core_is_comp(l) || core_is_enum(l) || ub_btf_kind(l) == BTF_KIND_FWD) &&
	    !core_names_compat(ub_btf_str(lb, l->name_off), ub_btf_str(tb, t->name_off)))
		return 0;
	switch (ub_btf_kind(l)) {
	case BTF_KIND_INT: {
		uint32_t a, b;
		memcpy(&a, l + 1, 4), memcpy(&b, t + 1, 4);
		return l->size == t->size &&
		       (BTF_INT_ENCODING(a) & BTF_INT_SIGNED) == (BTF_INT_ENCODING(b) & BTF_INT_SIGNED);
	}
	case BTF_KIND_FLOAT:
		return l->size == t->size;
	case BTF_KIND_FWD:
		return BTF_INFO_KFLAG(l->info) == BTF_INFO_KFLAG(t->info);
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		if (l->size != t->size)
			return 0;
		for (uint32_t i = 0; i < ub_btf_vlen(l); i++) {
			const char *n = ub_btf_str(lb, core_enum_name(l, i));
			bool found = false;
			for (uint32_t j = 0; j < ub_btf_vlen(t) && !found; j++)
				found = core_names_compat(n, ub_btf_str(tb, core_enum_name(t, j))) &&
					*ub_btf_str(tb, core_enum_name(t, j));
			if (!found)
				return 0;
		}
		return 1;
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		if (behind_ptr)
			return 1;
		if (ub_btf_vlen(l) > ub_btf_vlen(t))
			return 0;
		for (uint32_t i = 0; i < ub_btf_vlen(l); i++) {
			const struct btf_member *lm = (const struct btf_member *)(l + 1) + i;
			const struct btf_member *tm = (const void *)(t + 1);
			int r = 0;
			for (uint32_t j = 0; j < ub_btf_vlen(t) && !r; j++)
				if (!strcmp(ub_btf_str(lb, lm->name_off), ub_btf_str(tb, tm[j].name_off)))
					r = core_types_match(lb, lm->type, tb, tm[j].type, false, level - 1);
			if (r <= 0)
				return r;
		}
		return 1;
	case BTF_KIND_PTR:
		return core_types_match(lb, l->type, tb, t->type, true, level - 1);
	case BTF_KIND_ARRAY: {
		const struct btf_array *la = (const void *)(l + 1), *ta = (const void *)(t + 1);
		if (la->nelems != ta->nelems)
			return 0;
		return core_types_match(lb, la->type, tb, ta->type, behind_ptr, level - 1);
	}
	case BTF_KIND_FUNC_PROTO: {
		const struct btf_param *lp = (const void *)(l + 1), *tp = (const void *)(t + 1);
		if (ub_btf_vlen(l) != ub_btf_vlen(t))
			return 0;
		for (uint32_t i = 0; i < ub_btf_vlen(l); i++) {
			int r = core_types_match(lb, lp[i].type, tb, tp[i].type, behind_ptr, level - 1);
			if (r <= 0)
				return r;
		}
		return core_types_match(lb, l->type, tb, t->type, behind_ptr, level - 1);
	}
	default:
		return 0;
	}
}

/* ---- 3. matching a local spec in a candidate ---- */

static int core_match_member(const struct core_spec *ls, const struct core_acc *la,
			     struct core_spec *ts, uint32_t tid, uint32_t *next)
{
	const struct btf_type *lt = ub_btf_type(ls->btf, la->type_id);
	const struct btf_member *lm = (const struct btf_member *)(lt + 1) + la->idx;
	const struct btf_type *t = ub_btf_skip_mods(ts->btf, tid, &tid);

	if (!core_is_comp(t))
		return 0;
	const struct btf_member *m = (const void *)(t + 1);
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		uint32_t off = core_mbit_off(t, i);
		const char *name = ub_btf_str(ts->btf, m[i].name_off);
		if (ts->raw_len == CORE_MAX_SPEC || ts->len == CORE_MAX_SPEC)
			return -E2BIG;
		ts->bit_off += off;
		ts->raw[ts->raw_len++] = i;
		if (!*name) {		/* anonymous struct/union member: look inside */
			int r = core_match_member(ls, la, ts, m[i].type, next);
			if (r)
				return r;
		} else if (!strcmp(la->name, name)) {
			ts->acc[ts->len++] = (struct core_acc){ tid, i, name };
			*next = m[i].type;
			int r = core_fields_compat(ls->btf, lm->type, ts->btf, m[i].type);
			if (r <= 0)
				ts->len--;
			return r;
		}
		ts->bit_off -= off;
		ts->raw_len--;
	}
	return 0;
}

static int core_match_enum(const struct core_spec *ls, struct core_spec *ts, uint32_t tid)
{
	const struct btf_type *t = ub_btf_skip_mods(ts->btf, tid, &tid);
	size_t ll = ub_core_essential_len(ls->acc[0].name);

	if (!core_is_enum(t))
		return 0;
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		const char *n = ub_btf_str(ts->btf, core_enum_name(t, i));
		if (ub_core_essential_len(n) == ll && !strncmp(n, ls->acc[0].name, ll)) {
			ts->acc[0] = (struct core_acc){ tid, i, n };
			ts->len = 1;
			ts->raw[0] = i, ts->raw_len = 1;
			return 1;
		}
	}
	return 0;
}

static int core_match_array(const struct core_spec *ls, struct core_spec *ts, uint32_t i,
			    uint32_t *tid)
{
	const struct core_acc *la = &ls->acc[i];

	if (i > 0) {
		const struct btf_type *t = ub_btf_skip_mods(ts->btf, *tid, tid);
		if (!t || ub_btf_kind(t) != BTF_KIND_ARRAY)
			return 0;
		const struct btf_array *a = (const void *)(t + 1);
		if (!core_flex(ts, a) && la->idx >= a->nelems)
			return 0;
		if (!ub_btf_skip_mods(ts->btf, a->type, tid))
			return -EINVAL;
	}
	if (ts->raw_len == CORE_MAX_SPEC || ts->len == CORE_MAX_SPEC)
		return -E2BIG;
	ts->acc[ts->len++] = (struct core_acc){ *tid, la->idx, NULL };
	ts->raw[ts->raw_len++] = la->idx;
	int64_t sz = ub_btf_resolve_size(ts->btf, *tid);
	if (sz < 0)
		return -EINVAL;
	ts->bit_off += (uint64_t)la->idx * (uint64_t)sz * 8;
	return 1;
}

static int core_spec_match(const struct core_spec *ls, const struct ub_btf *tb, uint32_t tid,
			   struct core_spec *ts)
{
	memset(ts, 0, sizeof(*ts));
	ts->btf = tb, ts->root_id = tid, ts->kind = ls->kind;
	if (kind_type(ls->kind))
		return ls->kind == BPF_CORE_TYPE_MATCHES
			       ? core_types_match(ls->btf, ls->root_id, tb, tid, false, 32)
			       : core_types_compat(ls->btf, ls->root_id, tb, tid, 32);
	if (kind_enum(ls->kind))
		return core_match_enum(ls, ts, tid);
	for (uint32_t i = 0; i < ls->len; i++) {
		int r = ls->acc[i].name ? core_match_member(ls, &ls->acc[i], ts, tid, &tid)
					: core_match_array(ls, ts, i, &tid);
		if (r <= 0)
			return r;
	}
	return 1;
}

/* ---- values ---- */

struct core_val {
	uint64_t val;
	uint32_t sz;		/* field byte size (field offset relocations) */
	uint32_t type_id;	/* field type, for memory-size adjustment */
	bool validate;
};

#define CORE_POISON 1		/* internal: the relocation cannot be satisfied */

static int core_field_array(const struct core_spec *s, uint32_t kind, struct core_val *v)
{
	const struct core_acc *a = &s->acc[s->len - 1];
	int64_t sz = ub_btf_resolve_size(s->btf, a->type_id);

	if (sz < 0)
		return -EINVAL;
	if (kind == BPF_CORE_FIELD_BYTE_OFFSET) {
		v->val = s->bit_off / 8;
		v->sz = (uint32_t)sz;
		v->type_id = a->type_id;
	} else if (kind == BPF_CORE_FIELD_BYTE_SIZE) {
		v->val = (uint64_t)sz;
	} else {
		return -EINVAL;
	}
	v->validate = true;
	return 0;
}

static int core_field_val(const struct core_spec *s, uint32_t kind, struct core_val *v)
{
	if (kind == BPF_CORE_FIELD_EXISTS) {
		v->val = s != NULL;
		v->validate = true;
		return 0;
	}
	if (!s)
		return CORE_POISON;
	const struct core_acc *a = &s->acc[s->len - 1];
	if (!a->name)
		return core_field_array(s, kind, v);
	const struct btf_type *t = ub_btf_type(s->btf, a->type_id);
	const struct btf_member *m = (const struct btf_member *)(t + 1) + a->idx;
	uint32_t ftype;
	const struct btf_type *mt = ub_btf_skip_mods(s->btf, m->type, &ftype);
	uint64_t bit_off = s->bit_off, bit_sz = core_mbit_size(t, a->idx), byte_off, byte_sz;
	bool bitfield = bit_sz > 0;

	if (bitfield) {
		byte_sz = mt->size;
		byte_off = bit_off / 8 / byte_sz * byte_sz;
		while (bit_off + bit_sz - byte_off * 8 > byte_sz * 8) {
			if (byte_sz >= 8)
				return -E2BIG;
			byte_sz *= 2;
			byte_off = bit_off / 8 / byte_sz * byte_sz;
		}
	} else {
		int64_t sz = ub_btf_resolve_size(s->btf, ftype);
		if (sz < 0)
			return -EINVAL;
		byte_sz = (uint64_t)sz;
		byte_off = bit_off / 8;
		bit_sz = byte_sz * 8;
	}
	v->validate = !bitfield;	/* the compiler's bit-field guesses may differ: no check */
	switch (kind) {
	case BPF_CORE_FIELD_BYTE_OFFSET:
		v->val = byte_off;
		if (!bitfield)
			v->sz = (uint32_t)byte_sz, v->type_id = ftype;
		break;
	case BPF_CORE_FIELD_BYTE_SIZE:
		v->val = byte_sz;
		break;
	case BPF_CORE_FIELD_SIGNED: {
		uint32_t enc = 0;
		if (mt && ub_btf_kind(mt) == BTF_KIND_INT)
			memcpy(&enc, mt + 1, 4);
		v->val = (core_is_enum(mt) && BTF_INFO_KFLAG(mt->info)) ||
			 (BTF_INT_ENCODING(enc) & BTF_INT_SIGNED);
		v->validate = true;
		break;
	}
	case BPF_CORE_FIELD_LSHIFT_U64:
		v->val = 64 - (bit_off + bit_sz - byte_off * 8);	/* little-endian */
		break;
	case BPF_CORE_FIELD_RSHIFT_U64:
		v->val = 64 - bit_sz;
		v->validate = true;
		break;
	default:
		return -EOPNOTSUPP;
	}
	return 0;
}

static int core_type_val(const struct core_spec *s, uint32_t kind, struct core_val *v)
{
	v->validate = true;
	if (!s) {			/* type-based relocations give 0 for a missing type */
		v->val = 0;
		return 0;
	}
	switch (kind) {
	case BPF_CORE_TYPE_ID_TARGET:
		v->val = s->root_id;
		return 0;
	case BPF_CORE_TYPE_EXISTS: case BPF_CORE_TYPE_MATCHES:
		v->val = 1;
		return 0;
	case BPF_CORE_TYPE_SIZE: {
		int64_t sz = ub_btf_resolve_size(s->btf, s->root_id);
		if (sz < 0)
			return -EINVAL;
		v->val = (uint64_t)sz;
		return 0;
	}
	default:
		return -EOPNOTSUPP;
	}
}

static int core_enumval(const struct core_spec *s, uint32_t kind, struct core_val *v)
{
	v->validate = true;
	if (kind == BPF_CORE_ENUMVAL_EXISTS) {
		v->val = s != NULL;
		return 0;
	}
	if (!s)
		return CORE_POISON;
	v->val = core_enum_val(ub_btf_type(s->btf, s->acc[0].type_id), s->acc[0].idx);
	return 0;
}

static int core_value(const struct core_spec *s, uint32_t kind, struct core_val *v)
{
	memset(v, 0, sizeof(*v));
	if (kind_field(kind))
		return core_field_val(s, kind, v);
	if (kind_type(kind))
		return core_type_val(s, kind, v);
	return core_enumval(s, kind, v);
}

/* Both sides of a relocation: the local value (what the instruction holds) and the new. */
static int core_calc(const struct core_spec *ls, const struct core_spec *ts, uint32_t kind,
		     struct ub_core_res *res)
{
	struct core_val lv, tv;
	int err = core_value(ls, kind, &lv);

	memset(res, 0, sizeof(*res));
	if (err)
		return err == CORE_POISON ? -EINVAL : err;
	err = core_value(ts, kind, &tv);
	if (err == CORE_POISON) {
		res->poison = 1;
		return 0;
	}
	if (err)
		return err;
	res->orig_val = lv.val, res->new_val = tv.val;
	res->orig_sz = lv.sz, res->new_sz = tv.sz;
	res->validate = lv.validate;
	if (kind_field(kind) && lv.sz != tv.sz) {
		/* a load may change size only between pointers or same-signedness ints */
		const struct btf_type *a = ub_btf_type(ls->btf, lv.type_id);
		const struct btf_type *b = ub_btf_type(ts->btf, tv.type_id);
		uint32_t ea = 0, eb = 0;
		bool ptrs = a && b && ub_btf_kind(a) == BTF_KIND_PTR && ub_btf_kind(b) == BTF_KIND_PTR;
		bool ints = a && b && ub_btf_kind(a) == BTF_KIND_INT && ub_btf_kind(b) == BTF_KIND_INT;
		if (ints)
			memcpy(&ea, a + 1, 4), memcpy(&eb, b + 1, 4);
		if (!ptrs && !(ints && BTF_INT_ENCODING(ea) == BTF_INT_ENCODING(eb)))
			res->fail_memsz_adjust = 1;
	}
	return 0;
}

/* ---- putting it together ---- */

static void core_log_err(struct ub_log *log, const struct bpf_core_relo *r, const struct ub_btf *lb,
			 const char *why)
{
	const struct btf_type *t = ub_btf_type(lb, r->type_id);

	ub_log_printf(log, "CO-RE: insn #%u: relocation %s of [%u] %s '%s' access '%s': %s\n",
		      r->insn_off / 8, ub_core_kind_name(r->kind), r->type_id,
		      t ? ub_btf_kind_name(ub_btf_kind(t)) : "?", t ? ub_btf_str(lb, t->name_off) : "",
		      ub_btf_str(lb, r->access_str_off), why);
}

/*
 * ---- candidate index ----
 * A linear search over vmlinux's ~100k types cost ~2.5 ms per relocation. The index chains
 * every named type by a hash of its essential name (head[bucket] and next[id] hold ids; 0,
 * void, ends a chain), in increasing id order so candidates come as the linear search found
 * them. Built once per target BTF, on first use, and kept with it.
 */
struct ub_core_index {
	uint32_t mask;		/* buckets - 1 (a power of two) */
	uint32_t *head;
	uint32_t *next;
};

static uint32_t core_name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

void ub_core_index_free(struct ub_core_index *idx)
{
	if (!idx)
		return;
	free(idx->head);
	free(idx->next);
	free(idx);
}

static struct ub_core_index *core_index_build(const struct ub_btf *tb)
{
	uint32_t nr = ub_btf_type_cnt(tb), nb = 16;
	struct ub_core_index *idx = calloc(1, sizeof(*idx));

	while (nb < nr && nb < (1u << 30))
		nb <<= 1;
	if (idx) {
		idx->head = calloc(nb, sizeof(uint32_t));
		idx->next = calloc(nr ? nr : 1, sizeof(uint32_t));
	}
	if (!idx || !idx->head || !idx->next) {
		ub_core_index_free(idx);
		return NULL;
	}
	idx->mask = nb - 1;
	for (uint32_t id = nr ? nr - 1 : 0; id >= 1; id--) {	/* prepend: chains ascend */
		const char *nm = ub_btf_str(tb, ub_btf_type(tb, id)->name_off);
		size_t len = ub_core_essential_len(nm);
		if (!len)
			continue;
		uint32_t b = core_name_hash(nm, len) & idx->mask;
		idx->next[id] = idx->head[b];
		idx->head[b] = id;
	}
	return idx;
}

/* The target's index, building it if this is the first relocation against it. Threads may
 * race to build: one wins the slot, the others free theirs. NULL when out of memory. */
static const struct ub_core_index *core_index(const struct ub_btf *tb)
{
	struct ub_core_index **slot = ub_btf_core_index_slot(tb);
	struct ub_core_index *idx = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *none = NULL;

	if (idx)
		return idx;
	if (!(idx = core_index_build(tb)))
		return NULL;
	if (!__atomic_compare_exchange_n(slot, &none, idx, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		ub_core_index_free(idx);
		idx = none;
	}
	return idx;
}

/* Every candidate that matches; they must agree. No candidate: the "not found" result. */
static int core_candidates(const struct core_spec *ls, const struct ub_btf *tb,
			   const struct bpf_core_relo *r, struct ub_core_res *res,
			   struct ub_log *log)
{
	const struct btf_type *lt = ub_btf_type(ls->btf, r->type_id);
	const char *lname = ub_btf_str(ls->btf, lt->name_off);
	size_t llen = ub_core_essential_len(lname);
	struct core_spec *ts = malloc(sizeof(*ts));
	uint64_t first_off = 0;
	int n = 0, err = 0;

	const struct ub_core_index *idx = core_index(tb);

	if (!ts || !idx) {
		free(ts);
		return -ENOMEM;
	}
	if (!llen) {
		core_log_err(log, r, ls->btf, "an anonymous type cannot be relocated");
		free(ts);
		return -EINVAL;
	}
	for (uint32_t id = idx->head[core_name_hash(lname, llen) & idx->mask]; id && !err;
	     id = idx->next[id]) {
		const struct btf_type *t = ub_btf_type(tb, id);
		const char *nm = ub_btf_str(tb, t->name_off);
		struct ub_core_res cr;
		if (!core_kinds_compat(t, lt) || ub_core_essential_len(nm) != llen ||
		    strncmp(nm, lname, llen))
			continue;
		int m = core_spec_match(ls, tb, id, ts);
		if (m < 0)
			err = m;
		if (m <= 0)
			continue;
		err = core_calc(ls, ts, r->kind, &cr);
		if (err)
			break;
		if (!n) {
			*res = cr;
			first_off = ts->bit_off;
		} else if (ts->bit_off != first_off || cr.poison != res->poison ||
			   cr.new_val != res->new_val) {
			core_log_err(log, r, ls->btf, "candidates disagree (ambiguous target types)");
			err = -EINVAL;
		}
		n++;
	}
	free(ts);
	if (err)
		return err;
	return n ? 0 : core_calc(ls, NULL, r->kind, res);
}

int ub_core_calc(const struct ub_btf *local, const struct ub_btf *target,
		 const struct bpf_core_relo *relo, struct ub_core_res *res, struct ub_log *log)
{
	struct core_spec *ls;
	int err;

	memset(res, 0, sizeof(*res));
	if (!target)
		target = local;
	if (!ub_btf_type(local, relo->type_id) || (uint32_t)relo->kind > BPF_CORE_TYPE_MATCHES) {
		core_log_err(log, relo, local, "bad relocation record");
		return -EINVAL;
	}
	ls = malloc(sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	size_t logged = log->len;
	err = core_parse_spec(ls, local, relo->type_id, ub_btf_str(local, relo->access_str_off),
			      relo->kind);
	if (err) {
		core_log_err(log, relo, local, "access string does not fit the local type");
	} else if (relo->kind == BPF_CORE_TYPE_ID_LOCAL) {
		res->orig_val = res->new_val = relo->type_id;	/* no check: linking moves ids */
	} else {
		err = core_candidates(ls, target, relo, res, log);
	}
	free(ls);
	if (err && log->len == logged)		/* every failure says why */
		core_log_err(log, relo, local, err == -E2BIG ? "a bit-field wider than a 64-bit "
			     "load, or an access nested too deep" : err == -ENOMEM ? "out of memory"
			     : "this relocation kind does not apply to the accessed field or type");
	return err;
}

int ub_core_resolve(const struct ub_btf *local, const struct ub_btf *target,
		    const struct bpf_core_relo *relo, uint64_t *val, struct ub_log *log)
{
	struct ub_core_res res;
	int err = ub_core_calc(local, target, relo, &res, log);

	if (err)
		return err;
	if (res.poison) {
		core_log_err(log, relo, local, "no matching field in the target BTF");
		return -ESRCH;
	}
	*val = res.new_val;
	return 0;
}

/* ---- patching the instruction ---- */

static void core_poison(struct bpf_insn *insn)
{
	*insn = (struct bpf_insn){ .code = BPF_JMP | BPF_CALL, .imm = CORE_POISON_IMM };
}

static int core_bytes_to_size(uint32_t n)
{
	switch (n) {
	case 1: return BPF_B;
	case 2: return BPF_H;
	case 4: return BPF_W;
	case 8: return BPF_DW;
	default: return -1;
	}
}

static uint32_t core_size_bytes(uint8_t code)
{
	static const uint32_t b[] = { [BPF_W >> 3] = 4, [BPF_H >> 3] = 2, [BPF_B >> 3] = 1,
				      [BPF_DW >> 3] = 8 };
	return b[BPF_SIZE(code) >> 3];
}

static int core_patch_mem(struct bpf_insn *insn, const struct ub_core_res *res, struct ub_log *log,
			  uint32_t idx)
{
	if (res->validate && (uint64_t)(int64_t)insn->off != res->orig_val) {
		ub_log_printf(log, "CO-RE: insn #%u: offset %d is not the expected %llu\n", idx,
			      insn->off, (unsigned long long)res->orig_val);
		return -EINVAL;
	}
	if (res->new_val > SHRT_MAX) {
		ub_log_printf(log, "CO-RE: insn #%u: offset %llu too big for a memory access\n", idx,
			      (unsigned long long)res->new_val);
		return -ERANGE;
	}
	if (res->fail_memsz_adjust) {
		ub_log_printf(log, "CO-RE: insn #%u: field of size %u accessed as size %u; access "
			      "pointers, unsigned integers or fields of matching size (poisoned)\n",
			      idx, res->new_sz, res->orig_sz);
		core_poison(insn);
		return 0;
	}
	insn->off = (int16_t)res->new_val;
	if (res->new_sz != res->orig_sz) {
		int sz = core_bytes_to_size(res->new_sz);
		if (core_size_bytes(insn->code) != res->orig_sz || sz < 0) {
			ub_log_printf(log, "CO-RE: insn #%u: memory size %u, expected %u\n", idx,
				      core_size_bytes(insn->code), res->orig_sz);
			return -EINVAL;
		}
		insn->code = (uint8_t)(BPF_MODE(insn->code) | sz | BPF_CLASS(insn->code));
	}
	return 0;
}

int ub_core_patch(const struct bpf_core_relo *relo, const struct ub_core_res *res,
		  struct bpf_insn *insns, size_t cnt, struct ub_log *log)
{
	uint32_t idx = relo->insn_off / 8;
	struct bpf_insn *insn = &insns[idx];

	if (relo->insn_off % 8 || idx >= cnt) {
		ub_log_printf(log, "CO-RE: relocation at byte %u outside the %zu instructions\n",
			      relo->insn_off, cnt);
		return -EINVAL;
	}
	bool ld64 = insn->code == (BPF_LD | BPF_IMM | BPF_DW);
	if (res->poison) {
		if (ld64 && idx + 1 < cnt)
			core_poison(insn + 1);
		core_poison(insn);
		return 0;
	}
	switch (BPF_CLASS(insn->code)) {
	case BPF_ALU: case BPF_ALU64:
		if (BPF_SRC(insn->code) != BPF_K)
			break;
		if (res->validate && (uint64_t)(int64_t)insn->imm != res->orig_val) {
			ub_log_printf(log, "CO-RE: insn #%u: immediate %d is not the expected %llu\n",
				      idx, insn->imm, (unsigned long long)res->orig_val);
			return -EINVAL;
		}
		insn->imm = (int32_t)res->new_val;
		return 0;
	case BPF_LDX: case BPF_ST: case BPF_STX:
		return core_patch_mem(insn, res, log, idx);
	case BPF_LD:
		if (!ld64 || idx + 1 >= cnt || insn->src_reg || insn->off || insn[1].code ||
		    insn[1].dst_reg || insn[1].src_reg || insn[1].off)
			break;
		uint64_t imm = (uint32_t)insn[0].imm | (uint64_t)(uint32_t)insn[1].imm << 32;
		if (res->validate && imm != res->orig_val) {
			ub_log_printf(log, "CO-RE: insn #%u: 64-bit immediate %llu is not the expected "
				      "%llu\n", idx, (unsigned long long)imm,
				      (unsigned long long)res->orig_val);
			return -EINVAL;
		}
		insn[0].imm = (int32_t)(uint32_t)res->new_val;
		insn[1].imm = (int32_t)(uint32_t)(res->new_val >> 32);
		return 0;
	default:
		break;
	}
	ub_log_printf(log, "CO-RE: insn #%u: opcode 0x%02x cannot take a relocation\n", idx,
		      insn->code);
	return -EINVAL;
}

int ub_core_apply(const struct ub_btf *local, const struct ub_btf *target,
		  const struct bpf_core_relo *relo, struct bpf_insn *insns, size_t cnt,
		  struct ub_log *log)
{
	struct ub_core_res res;
	int err = ub_core_calc(local, target, relo, &res, log);

	return err ? err : ub_core_patch(relo, &res, insns, cnt, log);
}
