/*
 * cli_prog_lines: the C source lines of a program loaded from an object, from the object's
 * .BTF.ext line_info, kept with the program (and written into its pin file) so that
 * `prog dump xlated` can show them as bpftool does.
 *
 * The object API has no call for line info (neither has libbpf's public API), so this
 * reads the loader's object (src/obj/bo.h) directly: the CLI is linked statically with the
 * library. Only the program's own function is covered: the loader appends subprograms
 * after it, and their positions are not recorded.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "obj/bo.h"

/* out = a then b, cut to n bytes with its NUL. */
static void join(char *out, size_t n, const char *a, const char *b)
{
	size_t la = strnlen(a, n - 1), lb = strnlen(b, n - 1 - la);

	memmove(out, a, la);
	memcpy(out + la, b, lb);
	out[la + lb] = '\0';
}

/* A type as bpftool's btf_dumper writes it in a prototype: "struct __sk_buff *". */
static void type_str(const struct ub_btf *btf, uint32_t id, char *out, size_t n, int depth)
{
	const struct btf_type *t = ub_btf_type(btf, id);
	char inner[256];

	if (!t || depth > 16) {
		snprintf(out, n, "void");
		return;
	}
	const char *name = ub_btf_str(btf, t->name_off);
	switch (ub_btf_kind(t)) {
	case BTF_KIND_STRUCT: snprintf(out, n, "struct %s", name); return;
	case BTF_KIND_UNION: snprintf(out, n, "union %s", name); return;
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64: snprintf(out, n, "enum %s", name); return;
	case BTF_KIND_FWD:
		snprintf(out, n, "%s %s", BTF_INFO_KFLAG(t->info) ? "union" : "struct", name);
		return;
	case BTF_KIND_PTR:
		type_str(btf, t->type, inner, sizeof(inner), depth + 1);
		join(out, n, inner, " *");
		return;
	case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT:
		type_str(btf, t->type, inner, sizeof(inner), depth + 1);
		join(out, n, ub_btf_kind(t) == BTF_KIND_CONST ? "const " :
			     ub_btf_kind(t) == BTF_KIND_VOLATILE ? "volatile " : "restrict ", inner);
		return;
	case BTF_KIND_TYPE_TAG: case BTF_KIND_DECL_TAG:
		type_str(btf, t->type, out, n, depth + 1);
		return;
	default:	/* int, float, typedef: by name */
		snprintf(out, n, "%s", *name ? name : "void");
	}
}

/* "int fw(struct xdp_md * ctx)" from a BTF FUNC: bpftool's btf_dump_func. */
static char *func_proto(const struct ub_btf *btf, uint32_t func_id)
{
	const struct btf_type *fn = ub_btf_type(btf, func_id), *pr;
	char *out = NULL, ty[256];
	size_t len = 0;
	FILE *f;

	if (!fn || ub_btf_kind(fn) != BTF_KIND_FUNC || !(pr = ub_btf_type(btf, fn->type)) ||
	    ub_btf_kind(pr) != BTF_KIND_FUNC_PROTO || !(f = open_memstream(&out, &len)))
		return NULL;
	type_str(btf, pr->type, ty, sizeof(ty), 0);
	fprintf(f, "%s %s(", ty, ub_btf_str(btf, fn->name_off));
	const struct btf_param *a = (const struct btf_param *)(pr + 1);
	for (uint32_t i = 0; i < ub_btf_vlen(pr); i++) {
		type_str(btf, a[i].type, ty, sizeof(ty), 0);
		fprintf(f, "%s%s %s", i ? ", " : "", ty, ub_btf_str(btf, a[i].name_off));
	}
	fprintf(f, ")");
	fclose(f);
	return out;
}

/* The prototype of the program's function (the func_info record at its first insn). */
static char *prog_proto(const struct bpf_program *p)
{
	const struct ub_btf_ext_sec *s = ub_btf_ext_find(p->obj->ext, UB_BTF_EXT_FUNC, p->sec_name);

	for (uint32_t i = 0; s && i < s->nr; i++) {
		struct bpf_func_info fi;
		memcpy(&fi, (const uint8_t *)s->recs + (size_t)i * s->rec_size, sizeof(fi));
		if (fi.insn_off / sizeof(struct bpf_insn) == p->off)
			return func_proto(p->obj->btf, fi.type_id);
	}
	return NULL;
}

static char *trimmed(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return strdup(s);
}

void cli_prog_note_obj_lines(const struct bpf_program *p)
{
	const struct bpf_object *obj = p->obj;
	const struct ub_btf_ext_sec *s;
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info), n = 0;

	if (!obj->btf || !obj->ext || p->fd < 0 || bpf_obj_get_info_by_fd(p->fd, &info, &len))
		return;
	s = ub_btf_ext_find(obj->ext, UB_BTF_EXT_LINE, p->sec_name);
	if (!s || !s->nr)
		return;
	struct cli_src_line *lines = calloc(s->nr + 1, sizeof(*lines));
	char *proto = lines ? prog_proto(p) : NULL;
	if (proto)
		lines[n++] = (struct cli_src_line){ .is_proto = 1, .file = strdup(""), .src = proto };
	for (uint32_t i = 0; lines && i < s->nr; i++) {
		struct bpf_line_info li;
		memcpy(&li, (const uint8_t *)s->recs + (size_t)i * s->rec_size, sizeof(li));
		uint32_t at = li.insn_off / sizeof(struct bpf_insn);
		if (at < p->off || at >= p->off + p->cnt)
			continue;	/* another function of the section */
		lines[n] = (struct cli_src_line){
			.insn_off = at - p->off, .line = BPF_LINE_INFO_LINE_NUM(li.line_col),
			.col = BPF_LINE_INFO_LINE_COL(li.line_col),
			.file = strdup(ub_btf_str(obj->btf, li.file_name_off)),
			.src = trimmed(ub_btf_str(obj->btf, li.line_off)) };
		if (!lines[n].file || !lines[n].src) {
			cli_src_lines_free(lines, n + 1);
			return;
		}
		n++;
	}
	if (lines)
		cli_prog_note_lines(info.id, lines, n);
}
