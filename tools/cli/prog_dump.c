/*
 * uebpf prog dump xlated|jited: a program's instructions as loaded, in bpftool's layout
 * ("   3: (79) r7 = *(u64 *)(r1 + 0)"), with the C source lines the object's BTF gave
 * ("; void *data = (void *)(long)ctx->data;" before the first instruction of each line).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <uebpf/uebpf.h>
#include "cli.h"

struct dump_args {
	int jited;
	int opcodes, linum;
	const char *file;	/* raw bytes to this file instead of text */
};

static int parse_dump_opts(struct dump_args *d, int argc, char **argv)
{
	while (argc) {
		if (cli_is_prefix(argv[0], "file")) {
			if (argc < 2)
				return cli_bt_usage("'file' needs a FILE");
			d->file = argv[1];
			argc -= 2;
			argv += 2;
			continue;
		}
		if (cli_is_prefix(argv[0], "opcodes"))
			d->opcodes = 1;
		else if (cli_is_prefix(argv[0], "linum"))
			d->linum = 1;
		else if (cli_is_prefix(argv[0], "visual"))
			return cli_err("'visual' (a DOT graph) is not supported by uebpf");
		else
			return cli_bt_usage("expected no more arguments, 'file', 'opcodes' "
					     "or 'linum', got: '%s'?", argv[0]);
		argc--;
		argv++;
	}
	return CLI_OK;
}

struct bpf_insn *cli_prog_xlated(int fd, struct bpf_prog_info *info, uint32_t *cnt)
{
	uint32_t len = sizeof(*info);
	struct bpf_insn *insns;

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len)) {
		cli_err("can't get prog info: %s", strerror(errno));
		return NULL;
	}
	uint32_t n = info->xlated_prog_len;
	if (!n || !(insns = calloc(1, n))) {
		cli_err("no instructions");
		return NULL;
	}
	uint32_t id = info->id;
	memset(info, 0, sizeof(*info));
	info->xlated_prog_len = n;
	info->xlated_prog_insns = (uint64_t)(uintptr_t)insns;
	len = sizeof(*info);
	if (bpf_obj_get_info_by_fd(fd, info, &len)) {
		free(insns);
		cli_err("can't get prog info: %s", strerror(errno));
		return NULL;
	}
	info->id = id;
	*cnt = n / sizeof(*insns);
	return insns;
}

static uint32_t map_id_of_fd(int fd)
{
	struct bpf_map_info mi = { 0 };
	uint32_t len = sizeof(mi);

	return bpf_obj_get_info_by_fd(fd, &mi, &len) ? 0 : mi.id;
}

/*
 * The text of insn i: the library's disassembler, except that a map reference holds an fd
 * of this process, shown as the kernel shows it: map[id:N], map[id:N][0]+OFF.
 */
static void insn_text(const struct bpf_insn *in, uint32_t cnt, uint32_t i, char *buf,
		      size_t n)
{
	const struct bpf_insn *x = &in[i];

	if (x->code == (BPF_LD | BPF_DW | BPF_IMM) && i + 1 < cnt &&
	    (x->src_reg == BPF_PSEUDO_MAP_FD || x->src_reg == BPF_PSEUDO_MAP_VALUE)) {
		uint32_t id = map_id_of_fd(x->imm);
		if (x->src_reg == BPF_PSEUDO_MAP_FD)
			snprintf(buf, n, "r%u = map[id:%u]", x->dst_reg, id);
		else
			snprintf(buf, n, "r%u = map[id:%u][0]+%d", x->dst_reg, id, in[i + 1].imm);
		return;
	}
	if (uebpf_disasm_insn(in, cnt, i, UEBPF_SYNTAX_LLVM, buf, n) < 0)
		snprintf(buf, n, "<invalid instruction>");
}

/* The source line (is_proto 0) or function prototype (1) that starts at insn i. */
static const struct cli_src_line *line_at(const struct cli_src_line *l, uint32_t nl,
					  uint32_t i, uint32_t is_proto)
{
	for (uint32_t k = 0; k < nl; k++)
		if (l[k].insn_off == i && l[k].is_proto == is_proto)
			return &l[k];
	return NULL;
}

static void src_plain(const struct cli_src_line *s, int linum)
{
	printf("; %s", s->src);
	if (linum)
		printf(" [file:%s line_num:%u line_col:%u]", s->file, s->line, s->col);
	printf("\n");
}

static void insn_json(const struct bpf_insn *in, uint32_t cnt, uint32_t i, int dbl,
		      const struct cli_src_line *s, const struct cli_src_line *fn,
		      const struct dump_args *d)
{
	char text[256], line[300], b[8];

	insn_text(in, cnt, i, text, sizeof(text));
	snprintf(line, sizeof(line), "(%02x) %s", in[i].code, text);
	jw_begin_object();
	if (fn)
		jw_kstring("proto", fn->src);
	if (s) {
		jw_kstring("src", s->src);
		if (d->linum) {
			jw_kstring("file", s->file);
			jw_kuint("line_num", s->line);
			jw_kuint("line_col", s->col);
		}
	}
	jw_kstring("disasm", line);
	if (d->opcodes) {
		uint8_t raw[16];
		cli_insn_encode(&in[i], raw);
		if (dbl)
			cli_insn_encode(&in[i + 1], raw + 8);
		jw_key("opcodes");
		jw_begin_object();
		snprintf(b, sizeof(b), "0x%02x", in[i].code);
		jw_kstring("code", b);
		snprintf(b, sizeof(b), "0x%x", in[i].src_reg);
		jw_kstring("src_reg", b);
		snprintf(b, sizeof(b), "0x%x", in[i].dst_reg);
		jw_kstring("dst_reg", b);
		jw_key("off");
		cli_json_hex(raw + 2, 2);
		jw_key("imm");
		cli_json_hex(raw + 4, dbl ? 12 : 4);
		jw_end_object();
	}
	jw_end_object();
}

static void insn_plain(const struct bpf_insn *in, uint32_t cnt, uint32_t i, int dbl,
		       const struct dump_args *d)
{
	char text[256];

	insn_text(in, cnt, i, text, sizeof(text));
	printf("%4u: (%02x) %s\n", i, in[i].code, text);
	if (d->opcodes) {
		uint8_t raw[16];
		cli_insn_encode(&in[i], raw);
		if (dbl)
			cli_insn_encode(&in[i + 1], raw + 8);
		printf("       ");
		cli_print_hex(stdout, raw, dbl ? 16 : 8);
		printf("\n");
	}
}

static void dump_text(const struct bpf_insn *in, uint32_t cnt, uint32_t id,
		      const struct dump_args *d)
{
	uint32_t nl;
	const struct cli_src_line *lines = cli_prog_lines(id, &nl);

	if (cli_json)
		jw_begin_array();
	for (uint32_t i = 0; i < cnt; i++) {
		int dbl = in[i].code == (BPF_LD | BPF_DW | BPF_IMM) && i + 1 < cnt;
		const struct cli_src_line *s = line_at(lines, nl, i, 0);
		const struct cli_src_line *fn = line_at(lines, nl, i, 1);
		if (cli_json) {
			insn_json(in, cnt, i, dbl, s, fn, d);
		} else {
			if (fn)
				printf("%s:\n", fn->src);
			if (s)
				src_plain(s, d->linum);
			insn_plain(in, cnt, i, dbl, d);
		}
		i += dbl;
	}
	if (cli_json)
		jw_end_array();
}

static int dump_xlated(int fd, const struct dump_args *d)
{
	struct bpf_prog_info info;
	uint32_t cnt = 0;
	struct bpf_insn *insns = cli_prog_xlated(fd, &info, &cnt);
	int rc = CLI_OK;

	if (!insns)
		return CLI_FAIL;
	if (d->file) {
		uint8_t *raw = malloc((size_t)cnt * 8);
		for (uint32_t i = 0; raw && i < cnt; i++)
			cli_insn_encode(&insns[i], raw + 8 * i);
		rc = !raw ? cli_err("out of memory")
			  : cli_write_file(d->file, raw, (size_t)cnt * 8) ? CLI_FAIL : CLI_OK;
		free(raw);
		if (rc == CLI_OK && cli_json)
			jw_null();
	} else {
		dump_text(insns, cnt, info.id, d);
	}
	free(insns);
	return rc;
}

static int dump_jited(int fd, const struct dump_args *d)
{
	return cli_jit_dump(fd, d->opcodes, d->file);
}

int cli_prog_dump(int argc, char **argv)
{
	struct dump_args d = { 0 };
	int usage, fd, rc;

	if (argc < 1)
		return cli_bt_usage("'dump' needs 'xlated' or 'jited'");
	if (cli_is_prefix(argv[0], "xlated"))
		d.jited = 0;
	else if (cli_is_prefix(argv[0], "jited"))
		d.jited = 1;
	else
		return cli_bt_usage("expected 'xlated' or 'jited', got: %s", argv[0]);
	argc--;
	argv++;
	fd = cli_prog_ref("prog", &argc, &argv, &usage);
	if (fd < 0)
		return usage ? CLI_USAGE : CLI_FAIL;
	rc = parse_dump_opts(&d, argc, argv);
	if (rc == CLI_OK)
		rc = d.jited ? dump_jited(fd, &d) : dump_xlated(fd, &d);
	close(fd);
	return rc;
}
