/*
 * The object API on tests/bpf/elf_basic.bpf.c: programs and maps found by name and section,
 * subprograms linked, global data shared between user space and programs, load errors.
 * Expected results are computed next to each check from the C source of the object.
 */
#include <errno.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "elf_util.h"
#include "ut.h"

__attribute__((constructor)) static void private_pins(void)
{
	elf_private_pin_root("elf-obj");
}

static struct bpf_object *open_basic(void)
{
	struct bpf_object *obj = bpf_object__open_file(elf_obj_path("elf_basic"), NULL);
	UT_CHECK(obj, "open %s: %s", elf_obj_path("elf_basic"), strerror(errno));
	return obj;
}

UT_TEST(elf_open_lists_programs_and_maps)
{
	struct bpf_object *obj = open_basic();
	struct bpf_program *p;
	struct bpf_map *m;
	const char *progs[8];
	int n = 0;

	if (!obj)
		return;
	UT_CHECK(!strcmp(bpf_object__name(obj), "elf_basic"), "name %s", bpf_object__name(obj));
	bpf_object__for_each_program(p, obj)
		if (n < 8)
			progs[n++] = bpf_program__name(p);
	/* ELF order: sections xdp (xdp_count, xdp_loop), socket, fentry/...; .text
	 * functions (mix, mix2, loop_cb) are subprograms, not listed */
	UT_CHECK_EQ(n, 4);
	if (n == 4) {
		UT_CHECK(!strcmp(progs[0], "xdp_count") && !strcmp(progs[1], "xdp_loop") &&
			 !strcmp(progs[2], "sock_len") && !strcmp(progs[3], "fentry_prog"),
			 "order %s %s %s %s", progs[0], progs[1], progs[2], progs[3]);
	}
	p = bpf_object__find_program_by_name(obj, "sock_len");
	UT_CHECK(p && bpf_program__type(p) == BPF_PROG_TYPE_SOCKET_FILTER, "sock_len type");
	UT_CHECK(p && !strcmp(bpf_program__section_name(p), "socket"), "section");
	p = bpf_object__find_program_by_name(obj, "fentry_prog");
	UT_CHECK(p && bpf_program__type(p) == BPF_PROG_TYPE_TRACING, "fentry type");
	UT_CHECK(p && bpf_program__expected_attach_type(p) == BPF_TRACE_FENTRY, "fentry attach");
	UT_CHECK(!bpf_object__find_program_by_name(obj, "mix") && errno == ENOENT, "subprog hidden");
	p = bpf_object__find_program_by_name(obj, "xdp_loop");
	UT_CHECK(p && bpf_program__type(p) == BPF_PROG_TYPE_XDP && bpf_program__autoload(p), "xdp_loop");

	m = bpf_object__find_map_by_name(obj, "counts");
	UT_CHECK(m && bpf_map__type(m) == BPF_MAP_TYPE_HASH && bpf_map__key_size(m) == 4 &&
		 bpf_map__value_size(m) == 8 && bpf_map__max_entries(m) == 16, "counts def");
	UT_CHECK(m && bpf_map__btf_key_type_id(m) && bpf_map__btf_value_type_id(m), "counts btf ids");
	m = bpf_object__find_map_by_name(obj, "arr");
	UT_CHECK(m && bpf_map__type(m) == BPF_MAP_TYPE_ARRAY && bpf_map__value_size(m) == 4 &&
		 bpf_map__max_entries(m) == 4, "arr def (key_size/value_size form)");
	/* global data: libbpf's names "<obj prefix, 8 chars>.<section>", found by section name */
	m = bpf_object__find_map_by_name(obj, ".rodata");
	UT_CHECK(m && bpf_map__is_internal(m) && !strcmp(bpf_map__name(m), "elf_basi.rodata") &&
		 bpf_map__value_size(m) == 4 && (bpf_map__map_flags(m) & BPF_F_RDONLY_PROG),
		 "rodata map %s", m ? bpf_map__name(m) : "-");
	m = bpf_object__find_map_by_name(obj, ".bss");
	UT_CHECK(m && bpf_map__value_size(m) == 8, ".bss");
	m = bpf_object__find_map_by_name(obj, ".data.custom");
	UT_CHECK(m && !strcmp(bpf_map__name(m), ".data.custom"), ".data.custom");
	n = 0;
	bpf_object__for_each_map(m, obj)
		n++;
	UT_CHECK_EQ(n, 6);	/* counts, arr, .rodata, .data, .data.custom, .bss */
	bpf_object__close(obj);
}

static struct bpf_object *load_basic(void)
{
	struct bpf_object *obj = open_basic();

	if (!obj)
		return NULL;
	bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "fentry_prog"), false);
	int err = bpf_object__load(obj);
	UT_CHECK(!err, "load: %d", err);
	if (err) {
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

static __u32 run(struct bpf_object *obj, const char *prog, size_t len)
{
	__u32 ret = 0xdead;
	int fd = bpf_program__fd(bpf_object__find_program_by_name(obj, prog));
	int err = elf_run(fd, len, &ret);

	UT_CHECK(!err, "run %s: %d", prog, err);
	return ret;
}

UT_TEST(elf_load_runs_programs_with_subprograms)
{
	struct bpf_object *obj = load_basic();
	__u32 key = 0, v32 = 5;
	__u64 v64 = 0;

	if (!obj)
		return;
	/* xdp_count: len * rodata_mul(3) + data_add(7) > 100 ? DROP : PASS */
	UT_CHECK_EQ(run(obj, "xdp_count", 64), XDP_DROP);	/* 199 */
	UT_CHECK_EQ(run(obj, "xdp_count", 20), XDP_PASS);	/* 67 */
	/* the counts map saw both runs, .bss the sum of lengths */
	struct bpf_map *counts = bpf_object__find_map_by_name(obj, "counts");
	UT_CHECK(!bpf_map__lookup_elem(counts, &key, 4, &v64, 8, 0) && v64 == 2, "counts %llu",
		 (unsigned long long)v64);
	struct bpf_map *bss = bpf_object__find_map_by_name(obj, ".bss");
	UT_CHECK(!bpf_map__lookup_elem(bss, &key, 4, &v64, 8, 0) && v64 == 84, "bss %llu",
		 (unsigned long long)v64);
	/* bpf_loop with a callback given by address: sum 0..9 = 45 -> PASS */
	UT_CHECK_EQ(run(obj, "xdp_loop", 64), XDP_PASS);
	/* sock_len: skb->len (64 - 14 Ethernet) * 3 + custom(11) + arr[1] + mix2(0) (= 2) */
	key = 1;
	UT_CHECK(!bpf_map__update_elem(bpf_object__find_map_by_name(obj, "arr"), &key, 4, &v32, 4, 0), "arr");
	UT_CHECK_EQ(run(obj, "sock_len", 64), 50 * 3 + 11 + 5 + 2);
	bpf_object__close(obj);
}

UT_TEST(elf_global_data_shared_with_user_space)
{
	struct bpf_object *obj = load_basic();
	__u32 key = 0, v = 200;
	size_t sz = 0;

	if (!obj)
		return;
	/* .data written through the map: 20 * 3 + 200 > 100 -> DROP */
	struct bpf_map *data = bpf_object__find_map_by_name(obj, ".data");
	UT_CHECK(!bpf_map__update_elem(data, &key, 4, &v, 4, 0), "update .data");
	UT_CHECK_EQ(run(obj, "xdp_count", 20), XDP_DROP);
	/* ... and through the live memory libbpf's skeletons use: data_add = 0 -> 60 PASS */
	volatile __u32 *live = bpf_map__initial_value(data, &sz);
	UT_CHECK(live && sz == 4, "live .data");
	if (live) {
		UT_CHECK_EQ(*live, 200);
		*live = 0;
		UT_CHECK_EQ(run(obj, "xdp_count", 20), XDP_PASS);
	}
	/* .rodata is frozen after load: user space cannot write it any more */
	struct bpf_map *ro = bpf_object__find_map_by_name(obj, ".rodata");
	v = 1;
	int err = bpf_map__update_elem(ro, &key, 4, &v, 4, 0);
	UT_CHECK(err == -EPERM, "rodata update after load: %d", err);
	bpf_object__close(obj);
}

UT_TEST(elf_rodata_set_before_load)
{
	struct bpf_object *obj = open_basic();
	size_t sz = 0;

	if (!obj)
		return;
	struct bpf_map *ro = bpf_object__find_map_by_name(obj, ".rodata");
	__u32 *mul = bpf_map__initial_value(ro, &sz);
	UT_CHECK(mul && sz == 4 && *mul == 3, "rodata initial value");
	if (mul)
		*mul = 1;	/* 64 * 1 + 7 = 71 -> PASS */
	bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "fentry_prog"), false);
	UT_CHECK(!bpf_object__load(obj), "load");
	UT_CHECK_EQ(run(obj, "xdp_count", 64), XDP_PASS);
	bpf_object__close(obj);
}

UT_TEST(elf_linked_instruction_counts)
{
	struct bpf_object *obj = open_basic();

	if (!obj)
		return;
	struct bpf_program *xc = bpf_object__find_program_by_name(obj, "xdp_count");
	struct bpf_program *sl = bpf_object__find_program_by_name(obj, "sock_len");
	size_t xc0 = bpf_program__insn_cnt(xc), sl0 = bpf_program__insn_cnt(sl);
	bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "fentry_prog"), false);
	UT_CHECK(!bpf_object__load(obj), "load");
	/* mix() is 6 instructions, mix2() 5: xdp_count gains mix, sock_len both */
	UT_CHECK_EQ(bpf_program__insn_cnt(xc), xc0 + 6);
	UT_CHECK_EQ(bpf_program__insn_cnt(sl), sl0 + 11);
	/* the call in xdp_count now reaches the appended mix(): target = its first insn */
	const struct bpf_insn *in = bpf_program__insns(xc);
	for (size_t i = 0; i < xc0; i++)
		if (in[i].code == (BPF_JMP | BPF_CALL) && in[i].src_reg == BPF_PSEUDO_CALL)
			UT_CHECK_EQ(i + 1 + (size_t)(long)in[i].imm, xc0);
	bpf_object__close(obj);
}

UT_TEST(elf_kernel_only_program_says_why)
{
	struct bpf_object *obj = open_basic();
	struct bpf_program *p;

	if (!obj)
		return;
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), "fentry_prog"));
	elf_capture_start();
	int err = bpf_object__load(obj);
	libbpf_set_print(NULL);
	UT_CHECK(err == -EOPNOTSUPP, "load: %d", err);
	UT_CHECK_STR(elf_msgs, "prog 'fentry_prog': section 'fentry/do_nothing'");
	UT_CHECK_STR(elf_msgs, "kernel function");
	/* a failed load leaves nothing behind, and cannot be retried */
	UT_CHECK(bpf_map__fd(bpf_object__find_map_by_name(obj, "counts")) < 0, "maps released");
	UT_CHECK(bpf_object__load(obj) == -EINVAL, "second load");
	bpf_object__close(obj);
}

UT_TEST(elf_setters_before_and_after_load)
{
	struct bpf_object *obj = open_basic();
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	if (!obj)
		return;
	struct bpf_map *m = bpf_object__find_map_by_name(obj, "counts");
	UT_CHECK(!bpf_map__set_max_entries(m, 64), "set_max_entries");
	bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "fentry_prog"), false);
	UT_CHECK(!bpf_object__load(obj), "load");
	memset(&info, 0, sizeof(info));
	UT_CHECK(!bpf_obj_get_info_by_fd(bpf_map__fd(m), &info, &len) && info.max_entries == 64,
		 "created with %u", info.max_entries);
	UT_CHECK(bpf_map__set_max_entries(m, 8) == -EBUSY, "after load");
	UT_CHECK(bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "xdp_loop"), false) == -EBUSY,
		 "autoload after load");
	/* wrong sizes are refused before reaching the map */
	__u32 k = 0;
	__u64 v;
	libbpf_set_print(NULL);
	UT_CHECK(bpf_map__lookup_elem(m, &k, 2, &v, 8, 0) == -EINVAL, "key size");
	UT_CHECK(!bpf_program__attach(bpf_object__find_program_by_name(obj, "xdp_loop")) && errno == EOPNOTSUPP,
		 "attach");
	bpf_object__close(obj);
}

UT_TEST(elf_open_mem_and_names)
{
	FILE *f = fopen(elf_obj_path("elf_basic"), "rb");
	static char buf[1 << 20];
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;

	if (f)
		fclose(f);
	UT_CHECK(n > 0, "read");
	LIBBPF_OPTS(bpf_object_open_opts, o, .object_name = "named");
	struct bpf_object *obj = bpf_object__open_mem(buf, n, &o);
	UT_CHECK(obj && !strcmp(bpf_object__name(obj), "named"), "object_name");
	UT_CHECK(obj && !strcmp(bpf_map__name(bpf_object__find_map_by_name(obj, ".bss")), "named.bss"),
		 "internal map name follows object name");
	bpf_object__close(obj);
	UT_CHECK(!bpf_object__open_mem(buf, 0, NULL) && errno == EINVAL, "empty buffer");
	UT_CHECK(!bpf_object__open_file("/nonexistent/x.o", NULL) && errno == ENOENT, "missing file");
}

/* CO-RE against a BTF the user names: the object's own (an ELF file with .BTF), so every
 * relocation resolves to the local definitions of tests/bpf/elf_core.bpf.c. */
UT_TEST(elf_core_custom_btf)
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .btf_custom_path = elf_obj_path("elf_core"));
	struct bpf_object *obj = bpf_object__open_file(elf_obj_path("elf_core"), &o);

	UT_CHECK(obj && !bpf_object__load(obj), "load");
	if (!obj)
		return;
	/* tgid is the first member (offset 0), pid an int (4 bytes) */
	UT_CHECK_EQ(run(obj, "core_off", 64), 0 * 1000 + 4);
	/* every field and type exists in the local BTF: 1 + 2 + 4 + 8 */
	UT_CHECK_EQ(run(obj, "core_exists", 64), 15);
	/* the local enumerator's value */
	UT_CHECK_EQ(run(obj, "core_enum", 64), 99);
	bpf_object__close(obj);
}

/* bpf_map__reuse_fd: the program uses a map made outside the object (as bpftool's
 * `prog load ... map name X pinned P`); the caller may close its own fd afterwards. */
UT_TEST(elf_map_reuse_fd)
{
	struct bpf_object *obj = open_basic();
	__u32 key = 1, val = 9;

	if (!obj)
		return;
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "outside", 4, 4, 4, NULL);
	UT_CHECK(fd >= 0 && !bpf_map_update_elem(fd, &key, &val, 0), "outside map");
	struct bpf_map *arr = bpf_object__find_map_by_name(obj, "arr");
	UT_CHECK(!bpf_map__reuse_fd(arr, fd), "reuse_fd");
	close(fd);
	bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "fentry_prog"), false);
	UT_CHECK(!bpf_object__load(obj), "load");
	/* sock_len: 50 * 3 + 11 + arr[1] (9, set outside) + 2 */
	UT_CHECK_EQ(run(obj, "sock_len", 64), 50 * 3 + 11 + 9 + 2);
	bpf_object__close(obj);
}

/* String literals live in .rodata.str1.1, addressed section-relative by lddw: the value
 * is n = n * 3 + c over the string's characters (computed by hand in the comment). */
UT_TEST(elf_string_literal_section)
{
	struct bpf_object *obj = bpf_object__open_file(elf_obj_path("elf_str"), NULL);

	UT_CHECK(obj && !bpf_object__load(obj), "load");
	if (!obj)
		return;
	UT_CHECK(bpf_object__find_map_by_name(obj, ".rodata.str1.1"), "string section map");
	UT_CHECK_EQ(run(obj, "str_lit", 100), 39340);	/* skb->len 86: "long p" (of "long packet") */
	UT_CHECK_EQ(run(obj, "str_lit", 64), 13580);	/* skb->len 50: "short" */
	bpf_object__close(obj);
}

/* The verifier's log names the C source line of a rejected program: the loader passes the
 * object's BTF with func_info and line_info (tests/bpf/elf_unsafe.bpf.c). */
UT_TEST(elf_verifier_log_has_source_lines)
{
	static char log[65536];
	LIBBPF_OPTS(bpf_object_open_opts, o, .kernel_log_buf = log, .kernel_log_size = sizeof(log),
		    .kernel_log_level = 1);
	struct bpf_object *obj = bpf_object__open_file(elf_obj_path("elf_unsafe"), &o);

	UT_CHECK(obj, "open");
	if (!obj)
		return;
	libbpf_set_print(NULL);
	UT_CHECK(bpf_object__load(obj) == -EACCES, "unsafe program refused");
	UT_CHECK_STR(log, "return data[20] == 0x45");
	UT_CHECK_STR(log, "elf_unsafe.bpf.c:11");
	bpf_object__close(obj);
}
