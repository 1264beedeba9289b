/*
 * BTF parsing as untrusted input (src/btf/btf.c): blobs built by hand, each broken in one
 * way, must be refused with a message naming the place and the reason; valid ones answer
 * lookups. Also the host kernel's BTF (/sys/kernel/btf/vmlinux) when present.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "btf/btf.h"
#include "ut.h"

/* A blob under construction: header, type words, string bytes. */
struct blob {
	uint32_t types[64];
	size_t ntypes;
	char strs[256];
	size_t nstrs;
	uint8_t out[1024];
	size_t size;
};

static void w(struct blob *b, uint32_t v)
{
	b->types[b->ntypes++] = v;
}

static uint32_t str(struct blob *b, const char *s)
{
	uint32_t off = (uint32_t)b->nstrs;
	memcpy(b->strs + b->nstrs, s, strlen(s) + 1);
	b->nstrs += strlen(s) + 1;
	return off;
}

#define INFO(kind, vlen) (((uint32_t)(kind) << 24) | (vlen))

static void init(struct blob *b)
{
	memset(b, 0, sizeof(*b));
	b->nstrs = 1;	/* offset 0: the empty string */
}

static void finish(struct blob *b)
{
	struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(h),
				.type_off = 0, .type_len = (uint32_t)(b->ntypes * 4),
				.str_off = (uint32_t)(b->ntypes * 4), .str_len = (uint32_t)b->nstrs };
	memcpy(b->out, &h, sizeof(h));
	memcpy(b->out + sizeof(h), b->types, b->ntypes * 4);
	memcpy(b->out + sizeof(h) + b->ntypes * 4, b->strs, b->nstrs);
	b->size = sizeof(h) + b->ntypes * 4 + b->nstrs;
}

/* [1] int "int" size 4; [2] struct "pair" { int a; int b; }; [3] typedef "pair_t" -> 2 */
static void valid(struct blob *b)
{
	init(b);
	w(b, str(b, "int")), w(b, INFO(BTF_KIND_INT, 0)), w(b, 4), w(b, 32 | (BTF_INT_SIGNED << 24));
	w(b, str(b, "pair")), w(b, INFO(BTF_KIND_STRUCT, 2)), w(b, 8);
	w(b, str(b, "a")), w(b, 1), w(b, 0);
	w(b, str(b, "b")), w(b, 1), w(b, 32);
	w(b, str(b, "pair_t")), w(b, INFO(BTF_KIND_TYPEDEF, 0)), w(b, 2);
}

static void expect_error(struct blob *b, const char *what)
{
	char msg[512];
	struct ub_log log;
	struct ub_btf *btf = (struct ub_btf *)1;

	ub_log_init(&log, msg, sizeof(msg));
	int err = ub_btf_parse(b->out, b->size, &btf, &log);
	UT_CHECK(err == -EINVAL && !btf, "%s: err %d", what, err);
	UT_CHECK_STR(msg, what);
}

UT_TEST(btf_valid_blob_lookups)
{
	struct blob b;
	struct ub_btf *btf;
	char msg[256];
	struct ub_log log;
	uint32_t id;

	valid(&b);
	finish(&b);
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_btf_parse(b.out, b.size, &btf, &log), "parse: %s", msg);
	UT_CHECK_EQ(ub_btf_type_cnt(btf), 4);
	UT_CHECK_EQ(ub_btf_find(btf, "pair", BTF_KIND_STRUCT), 2);
	UT_CHECK_EQ(ub_btf_find(btf, "pair", BTF_KIND_UNION), -ENOENT);
	UT_CHECK_EQ(ub_btf_resolve_size(btf, 3), 8);	/* typedef -> struct of two ints */
	const struct btf_type *t = ub_btf_skip_mods(btf, 3, &id);
	UT_CHECK(t && id == 2 && ub_btf_kind(t) == BTF_KIND_STRUCT, "skip_mods");
	UT_CHECK(!strcmp(ub_btf_str(btf, t->name_off), "pair"), "name");
	UT_CHECK(!strcmp(ub_btf_str(btf, 100000), ""), "out-of-range string");
	UT_CHECK(!ub_btf_type(btf, 0) && !ub_btf_type(btf, 4), "ids out of range");
	size_t sz;
	UT_CHECK(ub_btf_raw(btf, &sz) && sz == b.size, "raw");
	ub_btf_free(btf);
}

UT_TEST(btf_truncated_everywhere)
{
	struct blob b;
	struct ub_btf *btf;
	char msg[256];
	struct ub_log log;

	valid(&b);
	finish(&b);
	/* every strict prefix is refused (the header's lengths no longer fit) */
	for (size_t n = 0; n < b.size; n++) {
		ub_log_init(&log, msg, sizeof(msg));
		int err = ub_btf_parse(b.out, n, &btf, &log);
		UT_CHECK(err == -EINVAL && msg[0], "prefix %zu: %d", n, err);
	}
}

UT_TEST(btf_header_errors)
{
	struct blob b;

	valid(&b);
	finish(&b);
	b.out[0] ^= 0xff;
	expect_error(&b, "offset 0x0: bad magic");
	valid(&b);
	finish(&b);
	b.out[2] = 2;
	expect_error(&b, "unsupported version 2");
	valid(&b);
	finish(&b);
	struct btf_header h;
	memcpy(&h, b.out, sizeof(h));
	h.str_len += 100;
	memcpy(b.out, &h, sizeof(h));
	expect_error(&b, "string section [");
	valid(&b);
	finish(&b);
	memcpy(&h, b.out, sizeof(h));
	h.type_off = 2;
	memcpy(b.out, &h, sizeof(h));
	expect_error(&b, "not 4-byte aligned");
}

UT_TEST(btf_string_table_without_nul)
{
	struct blob b;

	valid(&b);
	finish(&b);
	b.out[b.size - 1] = 'x';	/* last string loses its terminator */
	expect_error(&b, "must start and end with NUL");
}

UT_TEST(btf_type_errors)
{
	struct blob b;

	/* member type id beyond the last type */
	valid(&b);
	b.types[4 + 3 + 1] = 99;	/* struct's first member type */
	finish(&b);
	expect_error(&b, "type 2 at offset 0x28: member type id 99 out of range");

	/* name offset beyond the strings */
	valid(&b);
	b.types[0] = 5000;
	finish(&b);
	expect_error(&b, "type 1 at offset 0x18: type name offset 5000 beyond the string section");

	/* vlen claims more members than the section holds */
	valid(&b);
	b.types[5] = INFO(BTF_KIND_STRUCT, 60);
	finish(&b);
	expect_error(&b, "run past the type section");

	/* unknown kind */
	valid(&b);
	b.types[1] = INFO(31, 0);
	finish(&b);
	expect_error(&b, "unknown kind 31");

	/* int of size 3 */
	valid(&b);
	b.types[2] = 3;
	finish(&b);
	expect_error(&b, "int size 3 invalid");
}

UT_TEST(btf_type_id_loops)
{
	struct blob b;

	/* [1] typedef "a" -> 2, [2] const -> 1: a modifier loop */
	init(&b);
	w(&b, str(&b, "a")), w(&b, INFO(BTF_KIND_TYPEDEF, 0)), w(&b, 2);
	w(&b, 0), w(&b, INFO(BTF_KIND_CONST, 0)), w(&b, 1);
	finish(&b);
	expect_error(&b, "type id loop");

	/* [1] struct "s" { struct s inner; } by value: infinite size */
	init(&b);
	w(&b, str(&b, "s")), w(&b, INFO(BTF_KIND_STRUCT, 1)), w(&b, 4);
	w(&b, str(&b, "inner")), w(&b, 1), w(&b, 0);
	finish(&b);
	expect_error(&b, "type id loop");

	/* [1] array of [1] */
	init(&b);
	w(&b, 0), w(&b, INFO(BTF_KIND_ARRAY, 0)), w(&b, 0), w(&b, 1), w(&b, 1), w(&b, 4);
	finish(&b);
	expect_error(&b, "type id loop");

	/* a self-referencing struct through a pointer is fine: struct node { struct node *next; } */
	init(&b);
	w(&b, str(&b, "node")), w(&b, INFO(BTF_KIND_STRUCT, 1)), w(&b, 8);
	w(&b, str(&b, "next")), w(&b, 2), w(&b, 0);
	w(&b, 0), w(&b, INFO(BTF_KIND_PTR, 0)), w(&b, 1);
	finish(&b);
	struct ub_btf *btf;
	char msg[256];
	struct ub_log log;
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_btf_parse(b.out, b.size, &btf, &log), "pointer cycle: %s", msg);
	UT_CHECK_EQ(ub_btf_resolve_size(btf, 1), 8);
	ub_btf_free(btf);
}

/* Random single-byte damage of a valid blob: an answer every time, never a crash. */
UT_TEST(btf_random_damage)
{
	struct blob b, d;
	unsigned seed = 12345;

	valid(&b);
	finish(&b);
	for (int i = 0; i < 20000; i++) {
		d = b;
		for (int k = 0; k < 1 + i % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			d.out[(seed >> 8) % d.size] = (uint8_t)(seed >> 20);
		}
		struct ub_btf *btf;
		char msg[256];
		struct ub_log log;
		ub_log_init(&log, msg, sizeof(msg));
		if (!ub_btf_parse(d.out, d.size, &btf, &log)) {
			for (uint32_t id = 1; id < ub_btf_type_cnt(btf); id++)
				(void)ub_btf_resolve_size(btf, id);
			ub_btf_free(btf);
		}
	}
}

UT_TEST(btf_vmlinux)
{
	struct ub_btf *btf;
	char msg[256];
	struct ub_log log;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		ut_skip("no /sys/kernel/btf/vmlinux");
		return;
	}
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_btf_load_file("/sys/kernel/btf/vmlinux", &btf, &log), "vmlinux: %s", msg);
	int id = ub_btf_find(btf, "task_struct", BTF_KIND_STRUCT);
	UT_CHECK(id > 0 && ub_btf_resolve_size(btf, (uint32_t)id) > 1000, "task_struct");
	ub_btf_free(btf);
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(ub_btf_load_file("/nonexistent", &btf, &log) == -ENOENT, "missing file");
}
