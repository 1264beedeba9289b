/*
 * Value formatting (ub_btf_format, src/btf/btf_dump.c), compared with bpftool: the same
 * BTF is loaded into the kernel, an array map created with it, a value written, and
 * `bpftool map dump id N` prints it; our text must equal bpftool's "value" (its lines
 * de-indented). Skips when bpf() or bpftool is unavailable. A few fixed cases (checked
 * by hand against bpftool's rules, written next to them) run everywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "btf/btf.h"
#include "btf_build.h"
#include "ut.h"

/*
 * struct v {                     offset
 *     int i;                      0     -7
 *     unsigned short us;          4     65535
 *     char name[8];               6     "abc"
 *     unsigned int f3: 3;         14*8  5    (bit-field: hex)
 *     unsigned int f5: 5;               17
 *     enum e { A = 1, B = 2 } e;  16    B
 *     enum e e2;                  20    9 (no name: the number)
 *     long arr[2];                24    {1, -2}
 *     struct in { char c; _Bool ok; } in;   40  'x', true
 *     void *p;                    48    0 -> (nil)
 *     unsigned char raw[4];       56    not a char array: numbers
 *     signed char bin[4];         60    "char"-named but unprintable bytes: numbers
 * };                              size 64
 */
struct fmt_fx {
	struct bb b;
	uint32_t u32, v;
};

static void fmt_build(struct fmt_fx *f)
{
	struct bb *b = &f->b;

	bb_init(b);
	uint32_t i = bb_int(b, "int", 4, BTF_INT_SIGNED);
	uint32_t us = bb_int(b, "unsigned short", 2, 0);
	uint32_t ch = bb_int(b, "char", 1, BTF_INT_SIGNED);
	uint32_t u = bb_int(b, "unsigned int", 4, 0);
	uint32_t l = bb_int(b, "long", 8, BTF_INT_SIGNED);
	uint32_t c2 = bb_int(b, "char", 1, BTF_INT_CHAR);
	uint32_t bo = bb_int(b, "_Bool", 1, BTF_INT_BOOL);
	uint32_t uc = bb_int(b, "unsigned char", 1, 0);
	uint32_t sc = bb_int(b, "signed char", 1, BTF_INT_SIGNED);
	uint32_t name = bb_array(b, ch, i, 8);
	uint32_t e = bb_enum(b, "e", 4, 2, 0);
	bb_enumval(b, "A", 1);
	bb_enumval(b, "B", 2);
	uint32_t arr = bb_array(b, l, i, 2);
	uint32_t in = bb_comp(b, BTF_KIND_STRUCT, "in", 2, 2, 0);
	bb_member(b, "c", c2, 0, 0);
	bb_member(b, "ok", bo, 8, 0);
	uint32_t vp = bb_ref(b, BTF_KIND_PTR, NULL, 0);
	uint32_t raw = bb_array(b, uc, i, 4);
	uint32_t bin = bb_array(b, sc, i, 4);
	f->v = bb_comp(b, BTF_KIND_STRUCT, "v", 64, 12, 1);
	bb_member(b, "i", i, 0, 0);
	bb_member(b, "us", us, 32, 0);
	bb_member(b, "name", name, 48, 0);
	bb_member(b, "f3", u, 112, 3);
	bb_member(b, "f5", u, 115, 5);
	bb_member(b, "e", e, 128, 0);
	bb_member(b, "e2", e, 160, 0);
	bb_member(b, "arr", arr, 192, 0);
	bb_member(b, "in", in, 320, 0);
	bb_member(b, "p", vp, 384, 0);
	bb_member(b, "raw", raw, 448, 0);
	bb_member(b, "bin", bin, 480, 0);
	f->u32 = u;
}

static void fmt_value(uint8_t v[64])
{
	int32_t i = -7, e = 2, e2 = 9;
	uint16_t us = 65535;
	int64_t arr[2] = { 1, -2 };

	memset(v, 0, 64);
	memcpy(v, &i, 4);
	memcpy(v + 4, &us, 2);
	memcpy(v + 6, "abc", 4);
	v[14] = 5 | 17 << 3;		/* f3 = 5 (bits 0-2), f5 = 17 (bits 3-7) */
	memcpy(v + 16, &e, 4);
	memcpy(v + 20, &e2, 4);
	memcpy(v + 24, arr, 16);
	v[40] = 'x', v[41] = 1;
	v[56] = 1, v[57] = 2, v[58] = 3, v[59] = 255;
	v[60] = 'h', v[61] = 1, v[62] = 'i', v[63] = 0;
}

UT_TEST(format_by_rules)
{
	static struct fmt_fx f;
	size_t sz;
	struct ub_btf *btf;
	char msg[256], out[4096];
	struct ub_log log;
	uint8_t v[64];

	fmt_build(&f);
	const void *p = bb_finish(&f.b, &sz);
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_btf_parse(p, sz, &btf, &log), "%s", msg);
	fmt_value(v);
	int n = ub_btf_format(btf, f.v, v, sizeof(v), out, sizeof(out));
	UT_CHECK(n > 0 && (size_t)n < sizeof(out), "format: %d", n);
	/* bpftool's rules: signed/unsigned decimal; printable NUL-ended char arrays as strings;
	 * bit-fields in hex; enum values by name when one matches; bool as true/false;
	 * CHAR-encoded ints as quoted characters; null pointers as %p prints them. */
	UT_CHECK_STR(out, "\"i\": -7,");
	UT_CHECK_STR(out, "\"us\": 65535,");
	UT_CHECK_STR(out, "\"name\": \"abc\",");
	UT_CHECK_STR(out, "\"f3\": 0x5,");
	UT_CHECK_STR(out, "\"f5\": 0x11,");
	UT_CHECK_STR(out, "\"e\": \"B\",");
	UT_CHECK_STR(out, "\"e2\": 9,");
	UT_CHECK_STR(out, "\"c\": \"x\",");
	UT_CHECK_STR(out, "\"ok\": true");
	UT_CHECK_STR(out, "\"p\": (nil),");
	/* an array of numbers stays on one line until its closing bracket (JSON writer) */
	UT_CHECK_STR(out, "\"arr\": [1,-2\n    ],");
	/* a value shorter than the type is refused; a tiny buffer truncates like snprintf */
	UT_CHECK_EQ(ub_btf_format(btf, f.v, v, 63, out, sizeof(out)), -EINVAL);
	char small[8];
	UT_CHECK_EQ(ub_btf_format(btf, f.u32, v, 4, small, sizeof(small)), 10);
	UT_CHECK(!strcmp(small, "4294967"), "truncated: %s", small);	/* -7 as unsigned */
	ub_btf_free(btf);
}

/* ---- against bpftool on a kernel map ---- */

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

/* bpftool's text of the value of key 0, its lines shifted left to depth 0. */
static int bpftool_value(int map_fd, char *out, size_t outsz)
{
	struct bpf_map_info info = { 0 };
	union bpf_attr a = { 0 };
	char cmd[128], line[512];
	size_t len = 0;
	int in = 0;

	a.info.bpf_fd = (uint32_t)map_fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uint64_t)(uintptr_t)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a))
		return -1;
	snprintf(cmd, sizeof(cmd), "bpftool map dump id %u 2>/dev/null", info.id);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	out[0] = 0;
	while (fgets(line, sizeof(line), p)) {
		const char *v = strstr(line, "\"value\": ");
		if (!in && v) {
			in = 1;
			len += (size_t)snprintf(out + len, outsz - len, "%s", v + 9);
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "    }", 5) && (line[5] == '\n' || line[5] == ',')) {
			break;	/* the end of the {key, value} element */
		}
		len += (size_t)snprintf(out + len, outsz - len, "%s",
					strlen(line) > 8 ? line + 8 : line);
		if (len >= outsz)
			break;
	}
	pclose(p);
	if (len && out[len - 1] == '\n')
		out[--len] = 0;
	return in ? 0 : -1;
}

/* Loads blob into the kernel, makes a 1-entry array of value type vt, writes v, and
 * compares bpftool's dump of it with ours. */
static void kernel_compare(const void *blob, size_t sz, uint32_t kt, uint32_t vt, const void *v,
			   uint32_t vsz)
{
	union bpf_attr a;
	char log_buf[4096] = "", mine[8192], ref[8192], msg[256];
	struct ub_btf *btf;
	struct ub_log log;

	if (system("bpftool version >/dev/null 2>&1")) {
		ut_skip("bpftool absent");
		return;
	}
	memset(&a, 0, sizeof(a));
	a.btf = (uint64_t)(uintptr_t)blob;
	a.btf_size = (uint32_t)sz;
	a.btf_log_buf = (uint64_t)(uintptr_t)log_buf;
	a.btf_log_size = sizeof(log_buf);
	a.btf_log_level = 1;
	int btf_fd = (int)sys_bpf(BPF_BTF_LOAD, &a);
	if (btf_fd < 0) {
		ut_skip("kernel refused the BTF (%s): %.200s", strerror(errno), log_buf);
		return;
	}
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = vsz;
	a.max_entries = 1;
	a.btf_fd = (uint32_t)btf_fd;
	a.btf_key_type_id = kt;
	a.btf_value_type_id = vt;
	int map_fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
	if (map_fd < 0) {
		close(btf_fd);
		ut_skip("kernel refused the map: %s", strerror(errno));
		return;
	}
	uint32_t key = 0;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)map_fd;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)v;
	UT_CHECK(!sys_bpf(BPF_MAP_UPDATE_ELEM, &a), "update: %s", strerror(errno));
	UT_CHECK(!bpftool_value(map_fd, ref, sizeof(ref)), "bpftool map dump");
	ub_log_init(&log, msg, sizeof(msg));
	UT_CHECK(!ub_btf_parse(blob, sz, &btf, &log), "%s", msg);
	UT_CHECK(ub_btf_format(btf, vt, v, vsz, mine, sizeof(mine)) > 0, "format");
	UT_CHECK(!strcmp(mine, ref), "differs from bpftool:\n--- uebpf\n%s\n--- bpftool\n%s", mine,
		 ref);
	ub_btf_free(btf);
	close(map_fd);
	close(btf_fd);
}

UT_TEST(format_matches_bpftool)
{
	static struct fmt_fx f;
	size_t sz;
	uint8_t v[64];

	fmt_build(&f);
	const void *blob = bb_finish(&f.b, &sz);
	fmt_value(v);
	kernel_compare(blob, sz, f.u32, f.v, v, sizeof(v));
}

/* A global-data map (value type DATASEC ".bss"): int counter @0, struct v last @8,
 * an array of two struct in @72 (objects inside an array). */
UT_TEST(format_datasec_matches_bpftool)
{
	static struct fmt_fx f;
	size_t sz;
	uint8_t v[80] = { 0 };

	fmt_build(&f);
	struct bb *b = &f.b;
	uint32_t i = 1;		/* "int", the first type fmt_build adds */
	uint32_t c2 = bb_int(b, "char", 1, BTF_INT_CHAR);
	uint32_t in = bb_comp(b, BTF_KIND_STRUCT, "in2", 2, 2, 0);
	bb_member(b, "c", c2, 0, 0);
	bb_member(b, "d", c2, 8, 0);
	uint32_t arr = bb_array(b, in, i, 2);
	uint32_t v1 = bb_var(b, "counter", i, BTF_VAR_GLOBAL_ALLOCATED);
	uint32_t v2 = bb_var(b, "last", f.v, BTF_VAR_GLOBAL_ALLOCATED);
	uint32_t v3 = bb_var(b, "pairs", arr, BTF_VAR_GLOBAL_ALLOCATED);
	uint32_t ds = bb_datasec(b, ".bss", 80, 3);
	bb_secinfo(b, v1, 0, 4);
	bb_secinfo(b, v2, 8, 64);
	bb_secinfo(b, v3, 72, 4);
	const void *blob = bb_finish(b, &sz);
	int32_t c = 42;
	memcpy(v, &c, 4);
	fmt_value(v + 8);
	memcpy(v + 72, "abcd", 4);
	kernel_compare(blob, sz, f.u32, ds, v, sizeof(v));
}
