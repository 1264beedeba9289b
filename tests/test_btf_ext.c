/*
 * .BTF.ext parsing (src/btf/btf_ext.c): hand-built sections with every subsection, the
 * old 24-byte header, and hostile variants (each must fail with the offset and reason);
 * then what clang 14 writes for a small CO-RE program (the records counted from the
 * source: one function, two field accesses through preserve_access_index).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "btf/btf.h"
#include "btf_build.h"
#include "ut.h"

struct ext {
	uint8_t buf[1024];
	size_t len;
};

static void put32(struct ext *e, uint32_t v)
{
	memcpy(e->buf + e->len, &v, 4);
	e->len += 4;
}

/* BTF: int, func_proto int(void), FUNC "prog"; strings ".text", "a.c", "return 0;", "0:0" */
struct fixture {
	struct bb b;
	struct ub_btf *btf;
	uint32_t fn, sec, file, line, acc, st;
};

static void fixture(struct fixture *f)
{
	size_t sz;
	char msg[256];
	struct ub_log log;

	bb_init(&f->b);
	uint32_t i = bb_int(&f->b, "int", 4, BTF_INT_SIGNED);
	uint32_t proto = bb_ref(&f->b, BTF_KIND_FUNC_PROTO, NULL, i);
	f->fn = bb_ref(&f->b, BTF_KIND_FUNC, "prog", proto);
	f->st = bb_comp(&f->b, BTF_KIND_STRUCT, "s", 4, 1, 0);
	bb_member(&f->b, "x", i, 0, 0);
	f->sec = bb_str(&f->b, "xdp");
	f->file = bb_str(&f->b, "a.c");
	f->line = bb_str(&f->b, "return 0;");
	f->acc = bb_str(&f->b, "0:0");
	const void *p = bb_finish(&f->b, &sz);
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_btf_parse(p, sz, &f->btf, &log), "fixture BTF: %s", msg);
}

/*
 * A full section: 32-byte header; func_info (rec 8): xdp x1; line_info (rec 16): xdp x2;
 * core_relo (rec 16): xdp x1. Offsets are relative to the end of the header.
 */
static void build(struct ext *e, const struct fixture *f, uint32_t hdr_len)
{
	memset(e, 0, sizeof(*e));
	uint32_t fi_len = 4 + 8 + 8, li_len = 4 + 8 + 2 * 16, cr_len = 4 + 8 + 16;
	put32(e, BTF_MAGIC | 1u << 16);	/* magic, version 1, flags 0 */
	put32(e, hdr_len);
	put32(e, 0), put32(e, fi_len);
	put32(e, fi_len), put32(e, li_len);
	if (hdr_len >= 32)
		put32(e, fi_len + li_len), put32(e, cr_len);
	put32(e, 8);					/* func_info */
	put32(e, f->sec), put32(e, 1);
	put32(e, 0), put32(e, f->fn);
	put32(e, 16);					/* line_info */
	put32(e, f->sec), put32(e, 2);
	put32(e, 0), put32(e, f->file), put32(e, f->line), put32(e, 3 << 10 | 5);
	put32(e, 8), put32(e, f->file), put32(e, f->line), put32(e, 4 << 10 | 1);
	if (hdr_len >= 32) {
		put32(e, 16);				/* core_relo */
		put32(e, f->sec), put32(e, 1);
		put32(e, 8), put32(e, f->st), put32(e, f->acc), put32(e, BPF_CORE_FIELD_BYTE_OFFSET);
	}
}

static int parse(const struct ext *e, const struct fixture *f, char *msg, size_t msz,
		 struct ub_btf_ext **out)
{
	struct ub_log log;

	ub_log_init(&log, msg, msz);
	return ub_btf_ext_parse(e->buf, e->len, f->btf, out, &log);
}

UT_TEST(btf_ext_good)
{
	static struct fixture f;
	struct ext e;
	struct ub_btf_ext *x = NULL;
	char msg[256];

	fixture(&f);
	build(&e, &f, 32);
	UT_CHECK(!parse(&e, &f, msg, sizeof(msg), &x), "parse: %s", msg);
	const struct ub_btf_ext_sec *fi = ub_btf_ext_find(x, UB_BTF_EXT_FUNC, "xdp");
	const struct ub_btf_ext_sec *li = ub_btf_ext_find(x, UB_BTF_EXT_LINE, "xdp");
	const struct ub_btf_ext_sec *cr = ub_btf_ext_find(x, UB_BTF_EXT_CORE, "xdp");
	UT_CHECK(fi && fi->nr == 1 && fi->rec_size == 8, "func_info");
	UT_CHECK(li && li->nr == 2 && li->rec_size == 16, "line_info");
	UT_CHECK(cr && cr->nr == 1 && cr->rec_size == 16, "core_relo");
	if (li) {
		struct bpf_line_info l2;
		memcpy(&l2, (const uint8_t *)li->recs + 16, sizeof(l2));
		UT_CHECK_EQ(l2.insn_off, 8);
		UT_CHECK_EQ(BPF_LINE_INFO_LINE_NUM(l2.line_col), 4);
	}
	if (cr) {
		struct bpf_core_relo r;
		memcpy(&r, cr->recs, sizeof(r));
		UT_CHECK(!strcmp(ub_btf_str(f.btf, r.access_str_off), "0:0"), "access string");
	}
	UT_CHECK(!ub_btf_ext_find(x, UB_BTF_EXT_FUNC, ".text"), "no .text records");
	ub_btf_ext_free(x);
	/* The oldest header (24 bytes) has no core_relo subsection. */
	build(&e, &f, 24);
	UT_CHECK(!parse(&e, &f, msg, sizeof(msg), &x), "24-byte header: %s", msg);
	UT_CHECK(!ub_btf_ext_find(x, UB_BTF_EXT_CORE, "xdp"), "no core_relo");
	ub_btf_ext_free(x);
	ub_btf_free(f.btf);
}

/* Each hostile variant: which byte to change, its new 32-bit value, the message wanted. */
UT_TEST(btf_ext_hostile)
{
	static struct fixture f;
	struct ext e;
	char msg[256];
	struct ub_btf_ext *x;

	fixture(&f);
	/* layout (bytes): header 0..31; func_info 32: rec_size, 36: name, 40: cnt, 44: insn_off,
	 * 48: type; line_info 52: rec_size, 56: name, 60: cnt, 64..95: recs; core_relo
	 * 96: rec_size, 100: name, 104: cnt, 108: insn_off, 112: type, 116: access, 120: kind */
	const struct { size_t at; uint32_t val; const char *want; } cases[] = {
		{ 0, 0x1234 | 1u << 16, "bad magic" },
		{ 4, 1000, "header length" },
		{ 12, 4000, "beyond the section end" },
		{ 32, 4, "record size 4 invalid" },
		{ 32, 10, "record size 10 invalid" },
		{ 36, 9999, "section name offset 9999 invalid" },
		{ 40, 0, "has no records" },
		{ 40, 1000000, "run past the subsection end" },
		{ 44, 3, "not a multiple of 8" },
		{ 48, 1, "type id 1 is not a FUNC" },
		{ 68, 99999, "beyond the string table" },
		{ 112, 77, "type id 77 out of range" },
		{ 116, 0, "access string offset 0 invalid" },
		{ 120, 13, "unknown relocation kind 13" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		build(&e, &f, 32);
		memcpy(e.buf + cases[i].at, &cases[i].val, 4);
		x = NULL;
		int err = parse(&e, &f, msg, sizeof(msg), &x);
		UT_CHECK(err == -EINVAL && !x, "case %zu (byte %zu): err %d", i, cases[i].at, err);
		UT_CHECK_STR(msg, cases[i].want);
		UT_CHECK_STR(msg, "BTF.ext: ");
	}
	/* every truncation of a good section fails cleanly (or parses a shorter valid one) */
	build(&e, &f, 32);
	for (size_t n = 0; n < e.len; n++) {
		x = NULL;
		struct ub_log log;
		ub_log_init(&log, msg, sizeof(msg));
		int err = ub_btf_ext_parse(e.buf, n, f.btf, &x, &log);
		UT_CHECK(err == -EINVAL && !x, "truncated to %zu: %d", n, err);
		ub_btf_ext_free(x);
	}
	ub_btf_free(f.btf);
}

/* ---- clang's output ---- */

static const char core_src[] =
	"struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));\n"
	"__attribute__((section(\"kprobe/x\"), used))\n"
	"int prog(struct task_struct *t)\n"
	"{\n"
	"\treturn t->pid + t->tgid;\n"
	"}\n"
	"char _license[] __attribute__((section(\"license\"), used)) = \"GPL\";\n";

static int read_sec(Elf *elf, const char *want, Elf_Data **out)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return -1;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && !strcmp(elf_strptr(elf, shstrndx, sh.sh_name), want)) {
			*out = elf_getdata(scn, NULL);
			return *out ? 0 : -1;
		}
	}
	return -1;
}

UT_TEST(btf_ext_clang_object)
{
	char dir[] = "/tmp/uebpf-btfext-XXXXXX", cmd[1024], src[64], obj[64];
	Elf_Data *btf_d = NULL, *ext_d = NULL;

	if (!mkdtemp(dir)) {
		ut_skip("mkdtemp");
		return;
	}
	snprintf(src, sizeof(src), "%s/core.c", dir);
	snprintf(obj, sizeof(obj), "%s/core.o", dir);
	FILE *f = fopen(src, "w");
	fputs(core_src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "clang -O2 -g -target bpf -c %s -o %s 2>/dev/null", src, obj);
	if (system(cmd)) {
		ut_skip("clang cannot compile BPF here");
		goto out;
	}
	elf_version(EV_CURRENT);
	int fd = open(obj, O_RDONLY);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || read_sec(elf, ".BTF", &btf_d) || read_sec(elf, ".BTF.ext", &ext_d)) {
		UT_CHECK(0, "clang's object lacks .BTF or .BTF.ext");
		elf_end(elf);
		close(fd);
		goto out;
	}
	struct ub_btf *btf = NULL;
	struct ub_btf_ext *x = NULL;
	char msg[512];
	struct ub_log log;
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_btf_parse(btf_d->d_buf, btf_d->d_size, &btf, &log), "BTF: %s", msg);
	UT_CHECK(!ub_btf_ext_parse(ext_d->d_buf, ext_d->d_size, btf, &x, &log), "BTF.ext: %s", msg);
	const struct ub_btf_ext_sec *fi = ub_btf_ext_find(x, UB_BTF_EXT_FUNC, "kprobe/x");
	const struct ub_btf_ext_sec *li = ub_btf_ext_find(x, UB_BTF_EXT_LINE, "kprobe/x");
	const struct ub_btf_ext_sec *cr = ub_btf_ext_find(x, UB_BTF_EXT_CORE, "kprobe/x");
	UT_CHECK(fi && fi->nr == 1, "one function");
	UT_CHECK(li && li->nr >= 1, "line info");
	UT_CHECK(cr && cr->nr == 2, "two field accesses: %u", cr ? cr->nr : 0);
	for (uint32_t i = 0; cr && i < cr->nr; i++) {
		struct bpf_core_relo r;
		memcpy(&r, (const uint8_t *)cr->recs + i * cr->rec_size, sizeof(r));
		const struct btf_type *t = ub_btf_type(btf, r.type_id);
		UT_CHECK(t && !strcmp(ub_btf_str(btf, t->name_off), "task_struct"), "root type");
		UT_CHECK_EQ(r.kind, BPF_CORE_FIELD_BYTE_OFFSET);
		const char *acc = ub_btf_str(btf, r.access_str_off);
		UT_CHECK(!strcmp(acc, "0:0") || !strcmp(acc, "0:1"), "access '%s'", acc);
	}
	ub_btf_ext_free(x);
	ub_btf_free(btf);
	elf_end(elf);
	close(fd);
out:
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	UT_CHECK(!system(cmd), "cleanup");
}

/* Random byte changes to a good section: each parse either succeeds or fails with a
 * message, never crashes (run under ASan in `make asan`). xorshift: reproducible. */
UT_TEST(btf_ext_mutations)
{
	static struct fixture f;
	struct ext good, e;
	uint32_t s = 2463534242u;
	char msg[256];
	int ok = 0, bad = 0;

	fixture(&f);
	build(&good, &f, 32);
	for (int round = 0; round < 20000; round++) {
		e = good;
		for (int k = 0; k < 1 + round % 4; k++) {
			s ^= s << 13, s ^= s >> 17, s ^= s << 5;
			e.buf[s % e.len] = (uint8_t)(s >> 8);
		}
		struct ub_btf_ext *x = NULL;
		int err = parse(&e, &f, msg, sizeof(msg), &x);
		if (err) {
			bad++;
			UT_CHECK(err == -EINVAL && !x && strstr(msg, "BTF.ext: "), "round %d: %d", round, err);
		} else {
			ok++;
			/* what parsed is usable: records inside the copy, counts non-zero */
			for (int w = 0; w < 3; w++) {
				const struct ub_btf_ext_sec *sec = ub_btf_ext_find(x, w, "xdp");
				if (sec) {
					volatile uint8_t last = ((const uint8_t *)sec->recs)
						[(size_t)sec->nr * sec->rec_size - 1];
					(void)last;	/* ASan would flag a record past the end */
					UT_CHECK(sec->nr > 0, "records");
				}
			}
		}
		ub_btf_ext_free(x);
	}
	UT_CHECK(ok > 0 && bad > 0, "both outcomes seen: %d ok, %d refused", ok, bad);
	ub_btf_free(f.btf);
}
