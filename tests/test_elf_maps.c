/*
 * Map definitions of objects: map-in-map and prog arrays with initial values, pinning by
 * name (LIBBPF_PIN_BY_NAME, reused on the next load), the legacy `maps` section, and
 * .kconfig externs. Expected values are reasoned from the objects' C sources (tests/bpf) next to each check.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "elf_util.h"
#include "ut.h"

__attribute__((constructor)) static void private_pins(void)
{
	elf_private_pin_root("elf-maps");
}

static struct bpf_object *load(const char *name)
{
	struct bpf_object *obj = bpf_object__open_file(elf_obj_path(name), NULL);

	UT_CHECK(obj, "open %s: %s", name, strerror(errno));
	if (obj && bpf_object__load(obj)) {
		UT_CHECK(0, "load %s failed", name);
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

static __u32 run(struct bpf_object *obj, const char *prog, size_t len)
{
	__u32 ret = 0xdead;
	int err = elf_run(bpf_program__fd(bpf_object__find_program_by_name(obj, prog)), len, &ret);

	UT_CHECK(!err, "run %s: %d", prog, err);
	return ret;
}

UT_TEST(elf_map_in_map_initial_slots)
{
	struct bpf_object *obj = load("elf_maps");
	__u32 zero = 0, v;

	if (!obj)
		return;
	struct bpf_map *outer = bpf_object__find_map_by_name(obj, "outer");
	UT_CHECK(bpf_map__type(outer) == BPF_MAP_TYPE_ARRAY_OF_MAPS && bpf_map__value_size(outer) == 4,
		 "outer def");
	UT_CHECK(bpf_map__inner_map(outer) && bpf_map__value_size(bpf_map__inner_map(outer)) == 4,
		 "inner definition");
	v = 10;
	UT_CHECK(!bpf_map__update_elem(bpf_object__find_map_by_name(obj, "inner_a"), &zero, 4, &v, 4, 0), "a");
	v = 20;
	UT_CHECK(!bpf_map__update_elem(bpf_object__find_map_by_name(obj, "inner_b"), &zero, 4, &v, 4, 0), "b");
	/* .values = { &inner_a, &inner_b }: even lengths read inner_a, odd inner_b */
	UT_CHECK_EQ(run(obj, "xdp_mim", 64), 10);
	UT_CHECK_EQ(run(obj, "xdp_mim", 65), 20);
	bpf_object__close(obj);
}

UT_TEST(elf_prog_array_initial_slots_and_pinning)
{
	struct bpf_object *obj = load("elf_maps");
	__u32 zero = 0;
	__u64 cnt = 0;

	if (!obj)
		return;
	/* jmp = { [1] = &tail_target }: the tail call lands there -> XDP_TX */
	UT_CHECK_EQ(run(obj, "xdp_tail", 64), XDP_TX);
	struct bpf_map *pc = bpf_object__find_map_by_name(obj, "pinned_cnt");
	UT_CHECK(bpf_map__is_pinned(pc) && !strcmp(bpf_map__pin_path(pc), "/sys/fs/bpf/pinned_cnt"),
		 "pinned at %s", bpf_map__pin_path(pc) ? bpf_map__pin_path(pc) : "-");
	int fd = bpf_obj_get("/sys/fs/bpf/pinned_cnt");	/* under uebpf's pin root */
	UT_CHECK(fd >= 0, "pin exists: %d", fd);
	if (fd >= 0)
		close(fd);
	bpf_object__close(obj);

	/* the next load reuses the pinned map: the count goes on */
	obj = load("elf_maps");
	if (!obj)
		return;
	pc = bpf_object__find_map_by_name(obj, "pinned_cnt");
	UT_CHECK_EQ(run(obj, "xdp_tail", 64), XDP_TX);
	UT_CHECK(!bpf_map__lookup_elem(pc, &zero, 4, &cnt, 8, 0) && cnt == 2, "count %llu", (unsigned long long)cnt);
	UT_CHECK(!bpf_map__unpin(pc, NULL), "unpin");
	UT_CHECK(bpf_obj_get("/sys/fs/bpf/pinned_cnt") == -ENOENT, "unpinned");
	bpf_object__close(obj);
}

UT_TEST(elf_pinned_map_mismatch_refused)
{
	/* a pin of another shape at the map's path: load must fail and say so */
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pinned_cnt", 4, 4, 1, NULL);
	UT_CHECK(fd >= 0 && !bpf_obj_pin(fd, "/sys/fs/bpf/pinned_cnt"), "make pin");
	struct bpf_object *obj = bpf_object__open_file(elf_obj_path("elf_maps"), NULL);
	elf_capture_start();
	int err = obj ? bpf_object__load(obj) : -1;
	libbpf_set_print(NULL);
	UT_CHECK(err == -EINVAL, "load: %d", err);
	UT_CHECK_STR(elf_msgs, "pinned map at '/sys/fs/bpf/pinned_cnt' does not match");
	bpf_object__close(obj);
	char path[256];
	snprintf(path, sizeof(path), "%s/pinned_cnt", elf_pin_root);
	unlink(path);
	if (fd >= 0)
		close(fd);
}

UT_TEST(elf_legacy_maps_section)
{
	struct bpf_object *obj = load("elf_legacy");
	__u32 key = 1, hv = 0;
	__u64 v = 0;

	if (!obj)
		return;
	struct bpf_map *arr = bpf_object__find_map_by_name(obj, "legacy_arr");
	struct bpf_map *hash = bpf_object__find_map_by_name(obj, "legacy_hash");
	UT_CHECK(arr && bpf_map__type(arr) == BPF_MAP_TYPE_ARRAY && bpf_map__value_size(arr) == 8 &&
		 bpf_map__max_entries(arr) == 2, "legacy_arr def");
	UT_CHECK(hash && bpf_map__type(hash) == BPF_MAP_TYPE_HASH && bpf_map__max_entries(hash) == 8,
		 "legacy_hash def");
	UT_CHECK_EQ(bpf_object__kversion(obj), 0x060000);
	/* legacy_arr[1] += 5 each run */
	UT_CHECK_EQ(run(obj, "xdp_legacy", 64), 5);
	UT_CHECK_EQ(run(obj, "xdp_legacy", 64), 10);
	UT_CHECK(!bpf_map__lookup_elem(arr, &key, 4, &v, 8, 0) && v == 10, "arr %llu", (unsigned long long)v);
	UT_CHECK(!bpf_map__lookup_elem(hash, &key, 4, &hv, 4, 0) && hv == 3, "hash %u", hv);
	bpf_object__close(obj);
}

UT_TEST(elf_kconfig_externs)
{
	struct utsname u;
	unsigned a = 0, b = 0, c = 0;

	UT_CHECK(!uname(&u) && sscanf(u.release, "%u.%u.%u", &a, &b, &c) >= 2, "uname");
	/* KERNEL_VERSION(a, b, c) with c saturated at 255, as libbpf computes it */
	__u32 want = (a << 16) + (b << 8) + (c > 255 ? 255 : c);
	struct bpf_object *obj = load("elf_kconfig");
	if (!obj)
		return;
	struct bpf_map *kc = bpf_object__find_map_by_name(obj, ".kconfig");
	UT_CHECK(kc && bpf_map__is_internal(kc), ".kconfig map");
	/* LINUX_KERNEL_VERSION + an unknown __weak CONFIG_ (0) */
	UT_CHECK_EQ(run(obj, "kver", 64), want);
	bpf_object__close(obj);

	/* bpf_object_open_opts.kconfig supplies values */
	LIBBPF_OPTS(bpf_object_open_opts, o, .kconfig = "CONFIG_UEBPF_TEST_BOOL=y\n");
	obj = bpf_object__open_file(elf_obj_path("elf_kconfig"), &o);
	UT_CHECK(obj && !bpf_object__load(obj), "load with kconfig");
	if (obj)
		UT_CHECK_EQ(run(obj, "kbool", 64), 7);
	bpf_object__close(obj);
	obj = load("elf_kconfig");
	if (obj)
		UT_CHECK_EQ(run(obj, "kbool", 64), 3);
	bpf_object__close(obj);
}
