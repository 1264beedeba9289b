/*
 * uebpf btf: BTF as text, bpftool's grammar.
 *   uebpf btf dump file FILE [format {raw|c}]
 * FILE is a BPF object (its .BTF section), a vmlinux image or a raw BTF blob such as
 * /sys/kernel/btf/vmlinux. Raw format is bpftool's text, type by type; with -j the same
 * fields as JSON, as bpftool -j prints them. Format c is a compilable header (vmlinux.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "btf/btf.h"
#include "cli.h"

static int btf_help(int argc, char **argv);
static int btf_dump(int argc, char **argv);

static const struct cli_cmd btf_cmds[] = {
	{ "dump", btf_dump, "btf dump file FILE [format {raw|c}]" },
	{ "help", btf_help, "btf help" },
	{ NULL, NULL, NULL },
};

static int btf_help(int argc, char **argv)
{
	cli_print_usage(stdout, btf_cmds);
	return CLI_OK;
}

int do_btf(int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "help"))
		return btf_help(argc - 1, argv + 1);
	return cli_select(btf_cmds, "btf", argc, argv);
}

/* ---- JSON: bpftool's -j form, the raw format's fields, one object per type ---- */

static const char *btf_anon(const struct ub_btf *btf, uint32_t off)
{
	return off ? ub_btf_str(btf, off) : "(anon)";
}

static const char *btf_linkage(uint32_t l)
{
	static const char *const names[] = { "static", "global", "extern" };
	return l < 3 ? names[l] : "(unknown)";
}

static void btf_json_members(const struct ub_btf *btf, const struct btf_type *t)
{
	const struct btf_member *m = (const void *)(t + 1);
	int kflag = BTF_INFO_KFLAG(t->info);

	jw_key("members");
	jw_begin_array();
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		jw_begin_object();
		jw_kstring("name", btf_anon(btf, m[i].name_off));
		jw_kuint("type_id", m[i].type);
		jw_kuint("bits_offset", kflag ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset);
		if (kflag && BTF_MEMBER_BITFIELD_SIZE(m[i].offset))
			jw_kuint("bitfield_size", BTF_MEMBER_BITFIELD_SIZE(m[i].offset));
		jw_end_object();
	}
	jw_end_array();
}

static void btf_json_enum(const struct ub_btf *btf, const struct btf_type *t)
{
	int sign = BTF_INFO_KFLAG(t->info), e64 = ub_btf_kind(t) == BTF_KIND_ENUM64;

	jw_kstring("encoding", sign ? "SIGNED" : "UNSIGNED");
	jw_kuint("size", t->size);
	jw_kuint("vlen", ub_btf_vlen(t));
	jw_key("values");
	jw_begin_array();
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		uint32_t name;
		uint64_t v;
		if (e64) {
			const struct btf_enum64 *e = (const struct btf_enum64 *)(t + 1) + i;
			name = e->name_off, v = (uint64_t)e->val_hi32 << 32 | e->val_lo32;
		} else {
			const struct btf_enum *e = (const struct btf_enum *)(t + 1) + i;
			/* bpftool -j widens the 32-bit value with its sign even for unsigned
			 * enums (0xffffffff prints as 18446744073709551615); so do we */
			name = e->name_off, v = (uint64_t)(int64_t)e->val;
		}
		jw_begin_object();
		jw_kstring("name", btf_anon(btf, name));
		if (sign)
			jw_kint("val", (int64_t)v);
		else
			jw_kuint("val", v);
		jw_end_object();
	}
	jw_end_array();
}

static void btf_json_params(const struct ub_btf *btf, const struct btf_type *t)
{
	const struct btf_param *p = (const void *)(t + 1);

	jw_kuint("ret_type_id", t->type);
	jw_kuint("vlen", ub_btf_vlen(t));
	jw_key("params");
	jw_begin_array();
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		jw_begin_object();
		jw_kstring("name", btf_anon(btf, p[i].name_off));
		jw_kuint("type_id", p[i].type);
		jw_end_object();
	}
	jw_end_array();
}

static void btf_json_datasec(const struct btf_type *t)
{
	const struct btf_var_secinfo *v = (const void *)(t + 1);

	jw_kuint("size", t->size);
	jw_kuint("vlen", ub_btf_vlen(t));
	jw_key("vars");
	jw_begin_array();
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++) {
		jw_begin_object();
		jw_kuint("type_id", v[i].type);
		jw_kuint("offset", v[i].offset);
		jw_kuint("size", v[i].size);
		jw_end_object();
	}
	jw_end_array();
}

static void btf_json_int(const struct btf_type *t)
{
	static const char *const enc[] = { "(none)", "SIGNED", "CHAR", "UNKN", "BOOL" };
	uint32_t v;

	memcpy(&v, t + 1, 4);
	jw_kuint("size", t->size);
	jw_kuint("bits_offset", BTF_INT_OFFSET(v));
	jw_kuint("nr_bits", BTF_INT_BITS(v));
	jw_kstring("encoding", BTF_INT_ENCODING(v) <= 4 ? enc[BTF_INT_ENCODING(v)] : "UNKN");
}

static void btf_json_type(const struct ub_btf *btf, uint32_t id)
{
	const struct btf_type *t = ub_btf_type(btf, id);
	uint32_t k = ub_btf_kind(t);

	jw_begin_object();
	jw_kuint("id", id);
	jw_kstring("kind", ub_btf_kind_name(k));
	jw_kstring("name", btf_anon(btf, t->name_off));
	switch (k) {
	case BTF_KIND_INT:
		btf_json_int(t);
		break;
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		jw_kuint("size", t->size);
		jw_kuint("vlen", ub_btf_vlen(t));
		btf_json_members(btf, t);
		break;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = (const void *)(t + 1);
		jw_kuint("type_id", a->type);
		jw_kuint("index_type_id", a->index_type);
		jw_kuint("nr_elems", a->nelems);
		break;
	}
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		btf_json_enum(btf, t);
		break;
	case BTF_KIND_FLOAT:
		jw_kuint("size", t->size);
		break;
	case BTF_KIND_DATASEC:
		btf_json_datasec(t);
		break;
	case BTF_KIND_FWD:
		jw_kstring("fwd_kind", BTF_INFO_KFLAG(t->info) ? "union" : "struct");
		break;
	case BTF_KIND_FUNC_PROTO:
		btf_json_params(btf, t);
		break;
	case BTF_KIND_FUNC:
		jw_kuint("type_id", t->type);
		jw_kstring("linkage", btf_linkage(ub_btf_vlen(t)));
		break;
	case BTF_KIND_VAR:
		jw_kuint("type_id", t->type);
		jw_kstring("linkage", btf_linkage(((const struct btf_var *)(t + 1))->linkage));
		break;
	case BTF_KIND_DECL_TAG: {
		int32_t idx;
		memcpy(&idx, t + 1, 4);
		jw_kuint("type_id", t->type);
		jw_kint("component_idx", idx);
		break;
	}
	default:	/* pointers, typedefs, modifiers, type tags */
		jw_kuint("type_id", t->type);
	}
	jw_end_object();
}

static int btf_dump_json(const struct ub_btf *btf)
{
	jw_begin_object();
	jw_key("types");
	jw_begin_array();
	for (uint32_t id = 1; id < ub_btf_type_cnt(btf); id++)
		btf_json_type(btf, id);
	jw_end_array();
	jw_end_object();
	return CLI_OK;
}

static int btf_dump(int argc, char **argv)
{
	static const char *const formats[] = { "raw", "c", NULL };
	const char *file = NULL;
	int format = 0;
	char msg[4096];
	struct ub_log log;
	struct ub_btf *btf;

	if (argc >= 1 && !strcmp(argv[0], "help"))
		return btf_help(0, NULL);
	if (argc < 2 || strcmp(argv[0], "file"))
		return cli_usage_err("btf", "expected 'file FILE' (%s)", btf_cmds[0].help);
	file = argv[1];
	argc -= 2, argv += 2;
	while (argc > 0) {
		if (strcmp(argv[0], "format"))
			return cli_usage_err("btf", "unexpected argument '%s'", argv[0]);
		if (argc < 2)
			return cli_usage_err("btf", "'format' needs raw or c");
		format = cli_keyword("btf", "format", argv[1], formats);
		if (format < 0)
			return CLI_USAGE;
		argc -= 2, argv += 2;
	}
	ub_log_init(&log, msg, sizeof(msg));
	int err = ub_btf_load_file(file, &btf, &log);
	if (err)
		return cli_err_log(msg, "%s: cannot read BTF: %s", file, strerror(-err));
	if (format == 1 && cli_json) {
		ub_btf_free(btf);
		return cli_err("btf dump: format c has no JSON form");
	}
	if (cli_json)
		err = btf_dump_json(btf);
	else
		err = format ? ub_btf_dump_c(btf, stdout) : ub_btf_dump_raw(btf, stdout);
	ub_btf_free(btf);
	if (err == -ELOOP)
		return cli_err("%s: types nest or loop (through pointers) deeper than C can be "
			       "written", file);
	if (err < 0)
		return cli_err("%s: %s", file, strerror(-err));
	return CLI_OK;
}
