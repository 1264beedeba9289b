/*
 * Allocation-failure injection. This test is linked with -Wl,--wrap for the allocation and
 * memory calls the library makes (malloc, calloc, realloc, strdup, strndup, aligned_alloc,
 * mmap, ftruncate, fallocate, memfd_create; see the Makefile): every such call in uebpf goes
 * through the __wrap_ functions below, which count calls and fail exactly the Nth one when
 * asked (as SQLite's fault injection). Each creation path (a map of every type, a program
 * load, a pin, opening a pin, a ring buffer reader) runs with the failure at N = 0, 1, 2,
 * ... until it runs through without reaching N. After every failed run the test requires:
 *   - an error (never a crash: a crash fails the whole binary);
 *   - no leak: heap blocks allocated by uebpf and mappings made by it are all released
 *     (counted by the wrappers; ASan's leak checker agrees in the sanitizer build);
 *   - no half-built object: the process's fd count and the pin root's entries are as
 *     before.
 * A run where the injected failure was absorbed (a fallback: fallocate unsupported,
 * memfd instead of a file) must succeed and release everything once cleaned up.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "elf_util.h"
#define PIN_ROOT_TAG "fi"
#include "pin_root.h"
#include "ut.h"

/* Internal (the static library exposes it): drop objects whose fds were closed. */
void ub_obj_sweep(void);

/* ---- the wrappers ---- */

static long countdown = -1;	/* fail when it reaches 0; -1: off */
static long failing_call;	/* N of the run in progress (a debugger's breakpoint condition) */
static int fired;
static long live_blocks, live_maps;

static int inject(void)
{
	if (countdown < 0)
		return 0;
	if (countdown-- == 0) {
		fired = 1;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);
void *__real_mmap(void *a, size_t n, int prot, int fl, int fd, off_t off);
int __real_munmap(void *a, size_t n);
int __real_ftruncate(int fd, off_t n);
int __real_fallocate(int fd, int mode, off_t off, off_t n);
int __real_memfd_create(const char *name, unsigned flags);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);
void *__wrap_mmap(void *a, size_t n, int prot, int fl, int fd, off_t off);
int __wrap_munmap(void *a, size_t n);
int __wrap_ftruncate(int fd, off_t n);
int __wrap_fallocate(int fd, int mode, off_t off, off_t n);
int __wrap_memfd_create(const char *name, unsigned flags);

static void *counted(void *p)
{
	if (p)
		__atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
	return p;
}

void *__wrap_malloc(size_t n) { return inject() ? NULL : counted(__real_malloc(n)); }
void *__wrap_calloc(size_t a, size_t b) { return inject() ? NULL : counted(__real_calloc(a, b)); }
void *__wrap_aligned_alloc(size_t a, size_t n)
{
	return inject() ? NULL : counted(__real_aligned_alloc(a, n));
}
char *__wrap_strdup(const char *s) { return inject() ? NULL : counted(__real_strdup(s)); }
char *__wrap_strndup(const char *s, size_t n)
{
	return inject() ? NULL : counted(__real_strndup(s, n));
}

void *__wrap_realloc(void *p, size_t n)
{
	if (inject())
		return NULL;
	void *q = __real_realloc(p, n);
	if (q && !p)
		__atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
	return q;
}

void __wrap_free(void *p)
{
	if (p)
		__atomic_sub_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
	__real_free(p);
}

void *__wrap_mmap(void *a, size_t n, int prot, int fl, int fd, off_t off)
{
	if (inject())
		return MAP_FAILED;
	void *p = __real_mmap(a, n, prot, fl, fd, off);
	if (p != MAP_FAILED && !(fl & MAP_FIXED))
		__atomic_add_fetch(&live_maps, 1, __ATOMIC_RELAXED);
	return p;
}

int __wrap_munmap(void *a, size_t n)
{
	int rc = __real_munmap(a, n);
	if (!rc)
		__atomic_sub_fetch(&live_maps, 1, __ATOMIC_RELAXED);
	return rc;
}

int __wrap_ftruncate(int fd, off_t n) { return inject() ? -1 : __real_ftruncate(fd, n); }
int __wrap_fallocate(int fd, int mode, off_t off, off_t n)
{
	return inject() ? -1 : __real_fallocate(fd, mode, off, n);
}
int __wrap_memfd_create(const char *name, unsigned flags)
{
	return inject() ? -1 : __real_memfd_create(name, flags);
}

/* ---- what must not change ---- */

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n++;
	closedir(d);
	return n;
}

static void list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	char p[300], target[256];

	for (struct dirent *e; d && (e = readdir(d));) {
		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(p, target, sizeof(target) - 1);
		if (n > 0 && e->d_name[0] != '.') {
			target[n] = '\0';
			struct bpf_map_info info = { 0 };
			uint32_t len = sizeof(info);
			int mine = bpf_obj_get_info_by_fd(atoi(e->d_name), &info, &len) == 0;
			printf("    fd %s -> %s%s%s\n", e->d_name, target, mine ? ": map " : "",
			       mine ? info.name : "");
		}
	}
	if (d)
		closedir(d);
}

struct snap {
	int fds, pins;
	long blocks, maps;
};

static struct snap snap_now(void)
{
	ub_obj_sweep();
	return (struct snap){ .fds = count_dir("/proc/self/fd"), .pins = count_dir(root),
			      .blocks = __atomic_load_n(&live_blocks, __ATOMIC_RELAXED),
			      .maps = __atomic_load_n(&live_maps, __ATOMIC_RELAXED) };
}

/*
 * An operation under test: run() returns >= 0 (a handle to clean up) or -errno; cleanup()
 * releases what a successful run made.
 */
struct op {
	const char *name;
	long (*run)(const void *arg);
	void (*cleanup)(long handle, const void *arg);
	const void *arg;
};

/* Fails the Nth call for N = 0.. until a run never reaches N; returns the number of sites. */
static long sweep_op(const struct op *o)
{
	long n;
	long h = o->run(o->arg);	/* warm up: caches and tables exist from now on */

	UT_CHECK(h >= 0, "%s: fails without injection: %ld", o->name, h);
	if (h < 0)
		return 0;
	o->cleanup(h, o->arg);
	for (n = 0; n < 100000; n++) {
		struct snap before = snap_now();
		fired = 0;
		countdown = failing_call = n;
		h = o->run(o->arg);
		countdown = -1;
		if (h >= 0)
			o->cleanup(h, o->arg);
		struct snap after = snap_now();
		if (!fired) {
			UT_CHECK(h >= 0, "%s: fails with no failure injected: %ld", o->name, h);
			break;
		}
		int clean = after.fds == before.fds && after.pins == before.pins &&
			    after.blocks == before.blocks && after.maps == before.maps;
		UT_CHECK(clean,
			 "%s: call %ld failed (%s: %ld): fds %d -> %d, pins %d -> %d, heap blocks "
			 "%ld -> %ld, mappings %ld -> %ld", o->name, n, h < 0 ? "error" : "absorbed",
			 h, before.fds, after.fds, before.pins, after.pins, before.blocks,
			 after.blocks, before.maps, after.maps);
		if (after.fds != before.fds || after.blocks != before.blocks) {
			list_fds();	/* what was left open, for the report */
			break;	/* one report per path */
		}
	}
	return n;
}

static void close_fd(long h, const void *arg)
{
	close((int)h);
}

/* ---- maps of every type ---- */

struct mapreq {
	const char *name;
	enum bpf_map_type type;
	uint32_t key, value, max, flags;
	uint64_t extra;
	int inner;
};

static int inner_fd = -1;

static long make_map(const void *arg)
{
	const struct mapreq *r = arg;
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = r->flags, .map_extra = r->extra);

	if (r->inner)
		o.inner_map_fd = (uint32_t)inner_fd;
	return bpf_map_create(r->type, "fi", r->key, r->value, r->max, &o);
}

static const struct mapreq maps[] = {
	{ "hash", BPF_MAP_TYPE_HASH, 4, 8, 64, 0, 0, 0 },
	{ "array", BPF_MAP_TYPE_ARRAY, 4, 8, 64, 0, 0, 0 },
	{ "percpu_hash", BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 64, 0, 0, 0 },
	{ "percpu_array", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 64, 0, 0, 0 },
	{ "lru_hash", BPF_MAP_TYPE_LRU_HASH, 4, 8, 64, 0, 0, 0 },
	{ "lru_percpu_hash", BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 64, 0, 0, 0 },
	{ "lpm_trie", BPF_MAP_TYPE_LPM_TRIE, 8, 8, 64, BPF_F_NO_PREALLOC, 0, 0 },
	{ "queue", BPF_MAP_TYPE_QUEUE, 0, 8, 64, 0, 0, 0 },
	{ "stack", BPF_MAP_TYPE_STACK, 0, 8, 64, 0, 0, 0 },
	{ "bloom_filter", BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, 64, 0, 3, 0 },
	{ "ringbuf", BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, 0, 0 },
	{ "perf_event_array", BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 4, 0, 0, 0 },
	{ "prog_array", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, 0, 0 },
	{ "stack_trace", BPF_MAP_TYPE_STACK_TRACE, 4, 64, 16, 0, 0, 0 },
	{ "devmap", BPF_MAP_TYPE_DEVMAP, 4, 4, 4, 0, 0, 0 },
	{ "devmap_hash", BPF_MAP_TYPE_DEVMAP_HASH, 4, 4, 4, 0, 0, 0 },
	{ "cpumap", BPF_MAP_TYPE_CPUMAP, 4, 4, 1, 0, 0, 0 },
	{ "xskmap", BPF_MAP_TYPE_XSKMAP, 4, 4, 4, 0, 0, 0 },
	{ "array_of_maps", BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4, 0, 0, 1 },
	{ "hash_of_maps", BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 4, 0, 0, 1 },
};

UT_TEST(faultinj_map_create_every_type)
{
	long total = 0;

	inner_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "inner", 4, 8, 1, NULL);
	UT_CHECK(inner_fd >= 0, "inner map");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		struct op o = { maps[i].name, make_map, close_fd, &maps[i] };
		long n = sweep_op(&o);
		total += n;
		printf("  map %-18s %3ld failure points\n", maps[i].name, n);
	}
	close(inner_fd);
	UT_CHECK(total > 40, "only %ld failure points: is the wrapping in place?", total);
}

/* ---- program load ---- */

static int prog_map = -1;

static long load_prog(const void *arg)
{
	/* r1 = map; r2 = fp - 4 (key 0); r0 = lookup; exit: a verified load with a map. */
	struct bpf_insn insns[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = 10, .off = -4, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -4 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD,
		  .imm = prog_map },
		{ 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "fi", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
}

UT_TEST(faultinj_prog_load)
{
	prog_map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pm", 4, 8, 1, NULL);
	UT_CHECK(prog_map >= 0, "map");
	struct op o = { "prog_load", load_prog, close_fd, NULL };
	long n = sweep_op(&o);
	printf("  prog load: %ld failure points\n", n);
	UT_CHECK(n > 3, "prog load: %ld failure points", n);
	close(prog_map);
}

/* ---- pin and get ---- */

static int pin_src = -1;

/*
 * A fresh map each run, made with injection paused: a map file whose last link was removed
 * cannot be linked again (the kernel refuses to link an inode with no links left), so each
 * pin needs a map that was never pinned.
 */
static long do_pin(const void *arg)
{
	long saved = countdown;

	countdown = -1;
	pin_src = bpf_map_create(BPF_MAP_TYPE_HASH, "pin", 4, 8, 16, NULL);
	countdown = saved;
	if (pin_src < 0)
		return pin_src;
	int err = bpf_obj_pin(pin_src, "fi_pin");
	if (err)
		close(pin_src);
	return err ? err : 0;
}

static void unpin(long h, const void *arg)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/fi_pin", root);
	unlink(p);
	close(pin_src);
}

static long do_get(const void *arg)
{
	return bpf_obj_get("fi_pinned");
}

UT_TEST(faultinj_pin_and_get)
{
	if (!root[0]) {
		ut_skip("no pin root");
		return;
	}
	struct op pin = { "pin", do_pin, unpin, NULL };
	long np = sweep_op(&pin);
	pin_src = bpf_map_create(BPF_MAP_TYPE_HASH, "pin", 4, 8, 16, NULL);
	UT_CHECK(!bpf_obj_pin(pin_src, "fi_pinned"), "pin for get");
	close(pin_src);
	struct op get = { "obj_get", do_get, close_fd, NULL };
	long ng = sweep_op(&get);
	printf("  pin: %ld failure points, obj_get: %ld\n", np, ng);
}

/* ---- ring buffer reader ---- */

static int rb_map = -1;

static int on_sample(void *ctx, void *data, size_t size)
{
	return 0;
}

static struct ring_buffer *last_rb;

static long new_reader(const void *arg)
{
	last_rb = ring_buffer__new(rb_map, on_sample, NULL, NULL);
	return last_rb ? 0 : (errno ? -errno : -ENOMEM);
}

static void free_reader(long h, const void *arg)
{
	ring_buffer__free(last_rb);
	last_rb = NULL;
}

UT_TEST(faultinj_ringbuf_reader)
{
	rb_map = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rb", 0, 0, 4096, NULL);
	UT_CHECK(rb_map >= 0, "ring buffer map");
	struct op o = { "ring_buffer__new", new_reader, free_reader, NULL };
	long n = sweep_op(&o);
	printf("  ring_buffer__new: %ld failure points\n", n);
	close(rb_map);
}

/* ---- an ELF object: open and load ---- */

static struct bpf_object *elf_obj;

static long open_load(const void *arg)
{
	elf_obj = bpf_object__open_file(elf_obj_path("elf_basic"), NULL);
	if (!elf_obj)
		return errno ? -errno : -ENOMEM;
	/* As tests/test_elf_obj.c: its fentry program has no target in user space. */
	bpf_program__set_autoload(bpf_object__find_program_by_name(elf_obj, "fentry_prog"), false);
	int err = bpf_object__load(elf_obj);
	if (err) {
		bpf_object__close(elf_obj);
		elf_obj = NULL;
		return err;
	}
	return 0;
}

static void close_obj(long h, const void *arg)
{
	bpf_object__close(elf_obj);
	elf_obj = NULL;
}

UT_TEST(faultinj_elf_open_and_load)
{
	if (access(elf_obj_path("elf_basic"), R_OK)) {
		ut_skip("%s missing (built by make tests)", elf_obj_path("elf_basic"));
		return;
	}
	libbpf_set_print(elf_capture);	/* the loader's messages about each failure: quiet */
	/* A closed object's maps must go at once, also from this thread's fd cache (they
	 * lingered there after some runs: +1 fd, heap block and mapping). */
	struct op o = { "bpf_object__open_file + load", open_load, close_obj, NULL };
	long n = sweep_op(&o);
	printf("  ELF open and load: %ld failure points\n", n);
	libbpf_set_print(NULL);
}
