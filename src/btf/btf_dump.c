/*
 * btf_dump: BTF as text, the way bpftool prints it.
 *
 * - ub_btf_dump_raw: `bpftool btf dump file X` (format raw), one type per line with its
 *   records on tab-indented lines; the text is meant to be identical to bpftool's.
 * - ub_btf_format / ub_btf_fprint: one value of a type, as `bpftool map dump` prints keys
 *   and values of maps with BTF (its JSON writer in pretty mode, plain-text variants:
 *   pointers with %p, unprintable chars in hex).
 * The C header dumper is in btf_cdump.c.
 */
#include "btf/btf.h"
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- raw dump ---- */

static const char *const dump_kind_names[] = {
	[BTF_KIND_UNKN] = "UNKNOWN", [BTF_KIND_INT] = "INT", [BTF_KIND_PTR] = "PTR",
	[BTF_KIND_ARRAY] = "ARRAY", [BTF_KIND_STRUCT] = "STRUCT", [BTF_KIND_UNION] = "UNION",
	[BTF_KIND_ENUM] = "ENUM", [BTF_KIND_FWD] = "FWD", [BTF_KIND_TYPEDEF] = "TYPEDEF",
	[BTF_KIND_VOLATILE] = "VOLATILE", [BTF_KIND_CONST] = "CONST",
	[BTF_KIND_RESTRICT] = "RESTRICT", [BTF_KIND_FUNC] = "FUNC",
	[BTF_KIND_FUNC_PROTO] = "FUNC_PROTO", [BTF_KIND_VAR] = "VAR",
	[BTF_KIND_DATASEC] = "DATASEC", [BTF_KIND_FLOAT] = "FLOAT",
	[BTF_KIND_DECL_TAG] = "DECL_TAG", [BTF_KIND_TYPE_TAG] = "TYPE_TAG",
	[BTF_KIND_ENUM64] = "ENUM64",
};

const char *ub_btf_kind_name(uint32_t kind)
{
	if (kind < sizeof(dump_kind_names) / sizeof(dump_kind_names[0]) && dump_kind_names[kind])
		return dump_kind_names[kind];
	return "UNKNOWN";
}

/* bpftool names an empty name "(anon)". */
static const char *dump_name(const struct ub_btf *btf, uint32_t off)
{
	return off ? ub_btf_str(btf, off) : "(anon)";
}

static const char *dump_int_enc(uint32_t enc)
{
	switch (enc) {
	case 0:			return "(none)";
	case BTF_INT_SIGNED:	return "SIGNED";
	case BTF_INT_CHAR:	return "CHAR";
	case BTF_INT_BOOL:	return "BOOL";
	default:		return "UNKN";
	}
}

static const char *dump_linkage(uint32_t l, bool var)
{
	static const char *const fn[] = { "static", "global", "extern" };
	static const char *const vr[] = { "static", "global", "extern" };

	if (l > 2)
		return "(unknown)";
	return var ? vr[l] : fn[l];
}

static void raw_int(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	uint32_t v;

	memcpy(&v, t + 1, sizeof(v));
	fprintf(f, " size=%u bits_offset=%u nr_bits=%u encoding=%s", t->size, BTF_INT_OFFSET(v),
		BTF_INT_BITS(v), dump_int_enc(BTF_INT_ENCODING(v)));
}

static void raw_ref(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	fprintf(f, " type_id=%u", t->type);
}

static void raw_array(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	const struct btf_array *a = (const void *)(t + 1);

	fprintf(f, " type_id=%u index_type_id=%u nr_elems=%u", a->type, a->index_type, a->nelems);
}

static void raw_struct(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	const struct btf_member *m = (const void *)(t + 1);
	bool kflag = BTF_INFO_KFLAG(t->info);

	fprintf(f, " size=%u vlen=%u", t->size, ub_btf_vlen(t));
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		uint32_t off = kflag ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset;
		uint32_t bits = kflag ? BTF_MEMBER_BITFIELD_SIZE(m[i].offset) : 0;
		fprintf(f, "\n\t'%s' type_id=%u bits_offset=%u", dump_name(btf, m[i].name_off),
			m[i].type, off);
		if (bits)
			fprintf(f, " bitfield_size=%u", bits);
	}
}

static void raw_enum(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	const struct btf_enum *e = (const void *)(t + 1);
	bool sign = BTF_INFO_KFLAG(t->info);

	fprintf(f, " encoding=%s size=%u vlen=%u", sign ? "SIGNED" : "UNSIGNED", t->size,
		ub_btf_vlen(t));
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		if (sign)
			fprintf(f, "\n\t'%s' val=%d", dump_name(btf, e[i].name_off), e[i].val);
		else
			fprintf(f, "\n\t'%s' val=%u", dump_name(btf, e[i].name_off), (uint32_t)e[i].val);
	}
}

static void raw_enum64(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	const struct btf_enum64 *e = (const void *)(t + 1);
	bool sign = BTF_INFO_KFLAG(t->info);

	fprintf(f, " encoding=%s size=%u vlen=%u", sign ? "SIGNED" : "UNSIGNED", t->size,
		ub_btf_vlen(t));
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		uint64_t v = (uint64_t)e[i].val_hi32 << 32 | e[i].val_lo32;
		if (sign)
			fprintf(f, "\n\t'%s' val=%" PRId64 "LL", dump_name(btf, e[i].name_off), (int64_t)v);
		else
			fprintf(f, "\n\t'%s' val=%" PRIu64 "ULL", dump_name(btf, e[i].name_off), v);
	}
}

static void raw_fwd(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	fprintf(f, " fwd_kind=%s", BTF_INFO_KFLAG(t->info) ? "union" : "struct");
}

static void raw_func(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	fprintf(f, " type_id=%u linkage=%s", t->type, dump_linkage(ub_btf_vlen(t), false));
}

static void raw_proto(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	const struct btf_param *p = (const void *)(t + 1);

	fprintf(f, " ret_type_id=%u vlen=%u", t->type, ub_btf_vlen(t));
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++)
		fprintf(f, "\n\t'%s' type_id=%u", dump_name(btf, p[i].name_off), p[i].type);
}

static void raw_var(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	const struct btf_var *v = (const void *)(t + 1);

	fprintf(f, " type_id=%u, linkage=%s", t->type, dump_linkage(v->linkage, true));
}

static void raw_datasec(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	const struct btf_var_secinfo *v = (const void *)(t + 1);

	fprintf(f, " size=%u vlen=%u", t->size, ub_btf_vlen(t));
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		const struct btf_type *vt = ub_btf_type(btf, v[i].type);
		fprintf(f, "\n\ttype_id=%u offset=%u size=%u", v[i].type, v[i].offset, v[i].size);
		if (vt)
			fprintf(f, " (%s '%s')", ub_btf_kind_name(ub_btf_kind(vt)),
				ub_btf_str(btf, vt->name_off));
	}
}

static void raw_float(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	fprintf(f, " size=%u", t->size);
}

static void raw_decl_tag(const struct ub_btf *btf, const struct btf_type *t, FILE *f)
{
	int32_t idx;

	memcpy(&idx, t + 1, sizeof(idx));
	fprintf(f, " type_id=%u component_idx=%d", t->type, idx);
}

typedef void (*raw_fn)(const struct ub_btf *, const struct btf_type *, FILE *);
static const raw_fn raw_fns[] = {
	[BTF_KIND_INT] = raw_int, [BTF_KIND_PTR] = raw_ref, [BTF_KIND_ARRAY] = raw_array,
	[BTF_KIND_STRUCT] = raw_struct, [BTF_KIND_UNION] = raw_struct,
	[BTF_KIND_ENUM] = raw_enum, [BTF_KIND_FWD] = raw_fwd, [BTF_KIND_TYPEDEF] = raw_ref,
	[BTF_KIND_VOLATILE] = raw_ref, [BTF_KIND_CONST] = raw_ref, [BTF_KIND_RESTRICT] = raw_ref,
	[BTF_KIND_FUNC] = raw_func, [BTF_KIND_FUNC_PROTO] = raw_proto, [BTF_KIND_VAR] = raw_var,
	[BTF_KIND_DATASEC] = raw_datasec, [BTF_KIND_FLOAT] = raw_float,
	[BTF_KIND_DECL_TAG] = raw_decl_tag, [BTF_KIND_TYPE_TAG] = raw_ref,
	[BTF_KIND_ENUM64] = raw_enum64,
};

void ub_btf_dump_raw_type(const struct ub_btf *btf, uint32_t id, FILE *f)
{
	const struct btf_type *t = ub_btf_type(btf, id);
	uint32_t k;

	if (!t)
		return;
	k = ub_btf_kind(t);
	fprintf(f, "[%u] %s '%s'", id, ub_btf_kind_name(k), dump_name(btf, t->name_off));
	if (k < sizeof(raw_fns) / sizeof(raw_fns[0]) && raw_fns[k])
		raw_fns[k](btf, t, f);
	fputc('\n', f);
}

int ub_btf_dump_raw(const struct ub_btf *btf, FILE *f)
{
	for (uint32_t id = 1; id < ub_btf_type_cnt(btf); id++)
		ub_btf_dump_raw_type(btf, id, f);
	return ferror(f) ? -EIO : 0;
}

/* ---- values (bpftool's btf_dumper, plain text) ---- */

/*
 * bpftool prints values through its JSON writer in pretty mode, and the text follows that
 * writer's rules: a separator before every item but the first, a new line (and indent)
 * only before an object key and before a closing bracket of a non-empty container, so an
 * array of numbers stays on one line ("[1,2\n    ]"). struct fmt is that writer.
 */
struct fmt {
	const struct ub_btf *btf;
	FILE *f;
	int depth;
	char sep;	/* ',' once something was written at this level */
	int err;
};

static void fmt_eor(struct fmt *x)
{
	if (x->sep)
		fputc(x->sep, x->f);
	x->sep = ',';
}

static void fmt_eol(struct fmt *x)
{
	fprintf(x->f, "\n%*s", 4 * x->depth, "");
}

static void fmt_begin(struct fmt *x, char c)
{
	fmt_eor(x);
	fputc(c, x->f);
	x->depth++;
	x->sep = 0;
}

static void fmt_end(struct fmt *x, char c)
{
	x->depth--;
	if (x->sep)
		fmt_eol(x);
	fputc(c, x->f);
	x->sep = ',';
}

static void fmt_quoted(struct fmt *x, const char *s, size_t n)
{
	fputc('"', x->f);
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(x->f, "\\%c", c);
		else if (c < 0x20)
			fprintf(x->f, "\\u%04x", c);
		else
			fputc(c, x->f);
	}
	fputc('"', x->f);
}

static void fmt_name(struct fmt *x, const char *name)
{
	fmt_eor(x);
	fmt_eol(x);
	x->sep = 0;
	fmt_quoted(x, name, SIZE_MAX);
	fputs(": ", x->f);
}

__attribute__((format(printf, 2, 3)))
static void fmt_printf(struct fmt *x, const char *fmt, ...)
{
	va_list ap;

	fmt_eor(x);
	va_start(ap, fmt);
	vfprintf(x->f, fmt, ap);
	va_end(ap);
}

static void fmt_value(struct fmt *x, uint32_t id, const uint8_t *p, uint32_t bit_off,
		      uint32_t bits);

/* Bits [off, off + n) of little-endian memory as an unsigned number (n <= 64). */
static uint64_t fmt_bits(const uint8_t *p, uint32_t off, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t b = off + i;
		v |= (uint64_t)((p[b / 8] >> (b % 8)) & 1) << i;
	}
	return v;
}

static void fmt_int128(struct fmt *x, const uint8_t *p)
{
	uint64_t lo, hi;

	memcpy(&lo, p, 8);
	memcpy(&hi, p + 8, 8);
	if (hi)
		fmt_printf(x, "0x%" PRIx64 "%016" PRIx64, hi, lo);
	else
		fmt_printf(x, "0x%" PRIx64, lo);
}

/* A bit-field (or an int with its own bit offset): printed in hex as bpftool does. */
static void fmt_bitfield(struct fmt *x, const uint8_t *p, uint32_t off, uint32_t bits)
{
	if (bits > 64) {
		uint8_t tmp[16] = { 0 };
		for (uint32_t i = 0; i < bits && i < 128; i++)
			tmp[i / 8] |= (uint8_t)(((p[(off + i) / 8] >> ((off + i) % 8)) & 1) << (i % 8));
		fmt_int128(x, tmp);
		return;
	}
	fmt_printf(x, "0x%" PRIx64, fmt_bits(p, off, bits));
}

static void fmt_int(struct fmt *x, const struct btf_type *t, const uint8_t *p, uint32_t bit_off,
		    uint32_t bits)
{
	uint32_t v;
	uint64_t u = 0;

	memcpy(&v, t + 1, sizeof(v));
	bit_off += BTF_INT_OFFSET(v);
	if (bits || bit_off % 8 || BTF_INT_BITS(v) % 8) {
		fmt_bitfield(x, p, bit_off, bits ? bits : BTF_INT_BITS(v));
		return;
	}
	p += bit_off / 8;
	if (t->size == 16) {
		fmt_int128(x, p);
		return;
	}
	memcpy(&u, p, t->size);
	switch (BTF_INT_ENCODING(v)) {
	case BTF_INT_SIGNED: {
		int64_t s = t->size == 8 ? (int64_t)u : t->size == 4 ? (int32_t)u
			  : t->size == 2 ? (int16_t)u : (int8_t)u;
		fmt_printf(x, "%" PRId64, s);
		break;
	}
	case BTF_INT_CHAR:
		if (isprint((int)(u & 0xff)))
			fmt_printf(x, "\"%c\"", (char)u);
		else
			fmt_printf(x, "0x%" PRIx64, u & 0xff);
		break;
	case BTF_INT_BOOL:
		fmt_printf(x, "%s", u ? "true" : "false");
		break;
	default:
		fmt_printf(x, "%" PRIu64, u);
	}
}

/* bpftool prints a char array as a string when it holds a printable, NUL-ended string. */
static bool fmt_is_str(struct fmt *x, const struct btf_array *a, const uint8_t *p)
{
	const struct btf_type *e = ub_btf_type(x->btf, a->type);
	uint32_t v;

	while (e && (ub_btf_kind(e) == BTF_KIND_CONST || ub_btf_kind(e) == BTF_KIND_VOLATILE ||
		     ub_btf_kind(e) == BTF_KIND_RESTRICT || ub_btf_kind(e) == BTF_KIND_TYPE_TAG))
		e = ub_btf_type(x->btf, e->type);
	if (!a->nelems || !e || ub_btf_kind(e) != BTF_KIND_INT || e->size != 1)
		return false;
	memcpy(&v, e + 1, sizeof(v));
	if (BTF_INT_ENCODING(v) != BTF_INT_CHAR && strcmp(ub_btf_str(x->btf, e->name_off), "char"))
		return false;
	for (uint32_t i = 0; i < a->nelems; i++) {
		if (!p[i])
			return true;
		if (p[i] <= 0x1f || p[i] >= 0x7f)
			return false;
	}
	return false;
}

static void fmt_array(struct fmt *x, const struct btf_type *t, const uint8_t *p)
{
	const struct btf_array *a = (const void *)(t + 1);
	int64_t esz = ub_btf_resolve_size(x->btf, a->type);

	if (esz < 0) {
		x->err = -EINVAL;
		return;
	}
	if (fmt_is_str(x, a, p)) {
		fmt_eor(x);
		fmt_quoted(x, (const char *)p, a->nelems);
		return;
	}
	fmt_begin(x, '[');
	for (uint32_t i = 0; i < a->nelems && !x->err; i++)
		fmt_value(x, a->type, p + (size_t)i * (size_t)esz, 0, 0);
	fmt_end(x, ']');
}

static void fmt_struct(struct fmt *x, const struct btf_type *t, const uint8_t *p)
{
	const struct btf_member *m = (const void *)(t + 1);
	bool kflag = BTF_INFO_KFLAG(t->info);

	fmt_begin(x, '{');
	for (uint32_t i = 0; i < ub_btf_vlen(t) && !x->err; i++) {
		uint32_t off = kflag ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset;
		uint32_t bits = kflag ? BTF_MEMBER_BITFIELD_SIZE(m[i].offset) : 0;
		fmt_name(x, ub_btf_str(x->btf, m[i].name_off));
		fmt_value(x, m[i].type, p + off / 8, off % 8, bits);
	}
	fmt_end(x, '}');
}

static void fmt_enum(struct fmt *x, const struct btf_type *t, const uint8_t *p)
{
	bool e64 = ub_btf_kind(t) == BTF_KIND_ENUM64, sign = BTF_INFO_KFLAG(t->info);
	uint64_t u = 0;
	int64_t s;

	memcpy(&u, p, t->size < 8 ? t->size : 8);
	s = t->size == 8 ? (int64_t)u : t->size == 4 ? (int32_t)u : t->size == 2 ? (int16_t)u
	  : (int8_t)u;
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		uint64_t ev;
		uint32_t name;
		if (e64) {
			const struct btf_enum64 *e = (const struct btf_enum64 *)(t + 1) + i;
			ev = (uint64_t)e->val_hi32 << 32 | e->val_lo32;
			name = e->name_off;
		} else {
			const struct btf_enum *e = (const struct btf_enum *)(t + 1) + i;
			ev = sign ? (uint64_t)(int64_t)e->val : (uint32_t)e->val;
			name = e->name_off;
		}
		if (ev == (sign ? (uint64_t)s : u)) {
			fmt_eor(x);
			fmt_quoted(x, ub_btf_str(x->btf, name), SIZE_MAX);
			return;
		}
	}
	if (sign)
		fmt_printf(x, "%" PRId64, s);
	else
		fmt_printf(x, "%" PRIu64, u);
}

/* {"SEC": [{"var": value},{"var2": value}]} as bpftool prints .bss and friends. */
static void fmt_datasec(struct fmt *x, const struct btf_type *t, const uint8_t *p)
{
	const struct btf_var_secinfo *v = (const void *)(t + 1);

	fmt_begin(x, '{');
	fmt_name(x, ub_btf_str(x->btf, t->name_off));
	fmt_begin(x, '[');
	for (uint32_t i = 0; i < ub_btf_vlen(t) && !x->err; i++) {
		fmt_begin(x, '{');
		fmt_value(x, v[i].type, p + v[i].offset, 0, 0);
		fmt_end(x, '}');
	}
	fmt_end(x, ']');
	fmt_end(x, '}');
}

static void fmt_value(struct fmt *x, uint32_t id, const uint8_t *p, uint32_t bit_off,
		      uint32_t bits)
{
	const struct btf_type *t = ub_btf_skip_mods(x->btf, id, &id);
	uint64_t u;

	if (!t) {
		x->err = -EINVAL;
		return;
	}
	switch (ub_btf_kind(t)) {
	case BTF_KIND_INT:
		fmt_int(x, t, p, bit_off, bits);
		break;
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		fmt_struct(x, t, p);
		break;
	case BTF_KIND_ARRAY:
		fmt_array(x, t, p);
		break;
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		if (bits)
			fmt_bitfield(x, p, bit_off, bits);
		else
			fmt_enum(x, t, p);
		break;
	case BTF_KIND_PTR:
		memcpy(&u, p, 8);
		if (u)
			fmt_printf(x, "0x%" PRIx64, u);
		else
			fmt_printf(x, "(nil)");
		break;
	case BTF_KIND_FLOAT:
		if (t->size == 4) {
			float fl;
			memcpy(&fl, p, 4);
			fmt_printf(x, "%f", fl);
		} else if (t->size == 8) {
			double d;
			memcpy(&d, p, 8);
			fmt_printf(x, "%lf", d);
		} else {
			fmt_printf(x, "\"<unsupported float>\"");
		}
		break;
	case BTF_KIND_VAR:
		fmt_name(x, ub_btf_str(x->btf, t->name_off));
		fmt_value(x, t->type, p, 0, 0);
		break;
	case BTF_KIND_DATASEC:
		fmt_datasec(x, t, p);
		break;
	case BTF_KIND_FWD:
		fmt_printf(x, "\"<incomplete>\"");
		break;
	default:
		x->err = -EINVAL;
	}
}

int ub_btf_fprint(const struct ub_btf *btf, uint32_t id, const void *data, size_t size, FILE *f,
		  int depth)
{
	int64_t need = ub_btf_resolve_size(btf, id);
	const struct btf_type *t = ub_btf_type(btf, id);

	/* A datasec's size may be 0 in an object file: its variables say how far it goes. */
	if (t && ub_btf_kind(t) == BTF_KIND_DATASEC) {
		const struct btf_var_secinfo *v = (const void *)(t + 1);
		need = 0;
		for (uint32_t i = 0; i < ub_btf_vlen(t); i++)
			if ((int64_t)v[i].offset + v[i].size > need)
				need = (int64_t)v[i].offset + v[i].size;
	}
	if (need < 0 || (uint64_t)need > size)
		return -EINVAL;
	struct fmt x = { btf, f, depth, 0, 0 };
	fmt_value(&x, id, data, 0, 0);
	return x.err;
}

int ub_btf_format(const struct ub_btf *btf, uint32_t id, const void *data, size_t size,
		  char *buf, size_t bufsz)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	int err;

	if (!f)
		return -ENOMEM;
	err = ub_btf_fprint(btf, id, data, size, f, 0);
	if (fclose(f))
		err = err ? err : -ENOMEM;
	if (!err && bufsz)
		snprintf(buf, bufsz, "%s", s ? s : "");
	free(s);
	return err ? err : (int)n;
}
