/*
 * BPF_MAP_TYPE_RINGBUF: creation and bpf() errors (checked against the kernel), the
 * ringbuf helpers from XDP programs, libbpf's ring_buffer reader, wake-ups, wrap-around,
 * full rings, several producers, and the memory layout compared with the kernel's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <uebpf/uebpf.h>
#define PIN_ROOT_TAG "ringbuf"
#include "pin_root.h"
#include "ut.h"
#include "rbx.h"

#define KERNEL_ENOTSUPP 524

/* ---- a small program builder ---- */

struct prog {
	struct bpf_insn in[96];
	int n;
};

static void emit(struct prog *p, struct bpf_insn i)
{
	p->in[p->n++] = i;
}

static void emit2(struct prog *p, struct bpf_insn a, struct bpf_insn b)
{
	emit(p, a);
	emit(p, b);
}

/* Stack bytes fp-16 .. fp-1 hold 0x01, 0x02, ... 0x10. */
static void emit_pattern(struct prog *p)
{
	emit2(p, LD_IMM64(1, 0x0807060504030201ull));
	emit(p, STX_DW(10, 1, -16));
	emit2(p, LD_IMM64(1, 0x100f0e0d0c0b0a09ull));
	emit(p, STX_DW(10, 1, -8));
}

/* r0 = bpf_ringbuf_output(map, fp-16, size, flags) */
static void emit_output(struct prog *p, int map, int size, uint64_t flags)
{
	emit2(p, LD_MAP_FD(1, map));
	emit(p, MOV64_REG(2, 10));
	emit(p, ADD64_IMM(2, -16));
	emit(p, MOV64_IMM(3, size));
	emit2(p, LD_IMM64(4, flags));
	emit(p, CALL(ringbuf_output));
}

/* rec = reserve(map, size, 0); if (!rec) return 1; fill rec's first 8 bytes (size >= 8)
 * with v; submit or discard it with flags. */
static void emit_reserve(struct prog *p, int map, int size, uint64_t v, int discard,
			 uint64_t flags)
{
	emit2(p, LD_MAP_FD(1, map));
	emit(p, MOV64_IMM(2, size));
	emit(p, MOV64_IMM(3, 0));
	emit(p, CALL(ringbuf_reserve));
	emit(p, JEQ_IMM(0, 0, size >= 8 ? 10 : 7));
	emit(p, MOV64_REG(6, 0));
	if (size >= 8) {
		emit2(p, LD_IMM64(1, v));
		emit(p, STX_DW(6, 1, 0));
	}
	emit(p, MOV64_REG(1, 6));
	emit2(p, LD_IMM64(2, flags));
	emit(p, I(BPF_JMP | BPF_CALL, 0, 0, 0,
		  discard ? BPF_FUNC_ringbuf_discard : BPF_FUNC_ringbuf_submit));
	emit(p, MOV64_IMM(0, 0));
	emit(p, I(BPF_JMP | BPF_JA, 0, 0, 1, 0));
	emit(p, MOV64_IMM(0, 1));	/* reserve failed */
}

static void emit_exit(struct prog *p, int r0)
{
	emit(p, MOV64_IMM(0, r0));
	emit(p, EXIT_INSN);
}

static int output_prog(int map, int size, uint64_t flags)
{
	struct prog p = { .n = 0 };
	emit_pattern(&p);
	emit_output(&p, map, size, flags);
	emit(&p, EXIT_INSN);
	return load_xdp(p.in, (size_t)p.n);
}

/* Returns 0 after submit/discard, 1 if the reservation failed. */
static int reserve_prog(int map, int size, uint64_t v, int discard, uint64_t flags)
{
	struct prog p = { .n = 0 };
	emit_reserve(&p, map, size, v, discard, flags);
	emit(&p, EXIT_INSN);
	return load_xdp(p.in, (size_t)p.n);
}

static uint64_t query(int map, uint64_t flag)
{
	struct prog p = { .n = 0 };
	emit2(&p, LD_MAP_FD(1, map));
	emit2(&p, LD_IMM64(2, flag));
	emit(&p, CALL(ringbuf_query));
	emit(&p, EXIT_INSN);
	int prog = load_xdp(p.in, (size_t)p.n);
	uint32_t r = run_xdp(prog);
	close(prog);
	return r;
}

/* ---- a collecting consumer ---- */

#define MAXREC 128
struct collect {
	int n;
	size_t size[MAXREC];
	uint8_t data[MAXREC][4200];
	int ret;	/* what the callback returns */
};

static int collect_cb(void *ctx, void *data, size_t size)
{
	struct collect *c = ctx;

	if (c->n < MAXREC) {
		c->size[c->n] = size;
		memcpy(c->data[c->n], data, size < 4200 ? size : 4200);
	}
	c->n++;
	return c->ret;
}

static int new_rb(uint32_t size)
{
	return bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rb", 0, 0, size, NULL);
}

/* ---- creation and bpf() commands, against the kernel ---- */

UT_TEST(ringbuf_create_checks)
{
	/* Kernel (ringbuf_map_alloc): only NUMA_NODE; key and value sizes 0; max_entries a
	 * power of 2 and page aligned. All EINVAL (checked on Linux 6.18). */
	LIBBPF_OPTS(bpf_map_create_opts, numa, .map_flags = BPF_F_NUMA_NODE);
	struct { uint32_t ks, vs, max, flags; int want; } c[] = {
		{ 4, 0, 4096, 0, -EINVAL }, { 0, 4, 4096, 0, -EINVAL }, { 0, 0, 0, 0, -EINVAL },
		{ 0, 0, 3000, 0, -EINVAL }, { 0, 0, 12288, 0, -EINVAL }, { 0, 0, 2048, 0, -EINVAL },
		{ 0, 0, 4096, BPF_F_RDONLY, -EINVAL }, { 0, 0, 4096, BPF_F_MMAPABLE, -EINVAL },
		{ 0, 0, 4096, BPF_F_RDONLY_PROG, -EINVAL }, { 0, 0, 4096, BPF_F_NO_PREALLOC, -EINVAL },
	};
	for (size_t i = 0; i < NINSN(c); i++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = c[i].flags);
		int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rb", c[i].ks, c[i].vs, c[i].max, &o);
		UT_CHECK(fd == c[i].want, "case %zu: %d, want %d", i, fd, c[i].want);
		int kfd = kmap_create(BPF_MAP_TYPE_RINGBUF, c[i].ks, c[i].vs, c[i].max, c[i].flags);
		if (kfd != -EPERM)
			UT_CHECK(kfd == c[i].want, "kernel case %zu: %d", i, kfd);
		if (kfd >= 0)
			close(kfd);
	}
	int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rb", 0, 0, 1u << 16, &numa);
	UT_CHECK(fd >= 0, "NUMA_NODE is allowed: %d", fd);
	close(fd);
}

typedef int (*bpf_fn)(int cmd, union bpf_attr *a);

static int ubpf(int cmd, union bpf_attr *a)
{
	int r = uebpf_bpf(cmd, a, sizeof(*a));
	return r < 0 ? -errno : r;
}

/* Element commands on a ring buffer: the same answers from uebpf and the kernel. */
static void elem_cmds(bpf_fn f, int fd, int *out)
{
	uint32_t k = 0;
	uint8_t v[16] = { 0 }, nk[8];
	union bpf_attr a;
	int i = 0;
#define CMD(c, k_, v_, fl) (memset(&a, 0, sizeof(a)), a.map_fd = (uint32_t)fd, \
	a.key = (uintptr_t)(k_), a.value = (uintptr_t)(v_), a.flags = (fl), f(c, &a))
	out[i++] = CMD(BPF_MAP_LOOKUP_ELEM, NULL, NULL, 0);
	out[i++] = CMD(BPF_MAP_LOOKUP_ELEM, NULL, v, 0);
	out[i++] = CMD(BPF_MAP_LOOKUP_ELEM, &k, v, 0);
	out[i++] = CMD(BPF_MAP_LOOKUP_ELEM, NULL, v, BPF_F_LOCK);
	out[i++] = CMD(BPF_MAP_UPDATE_ELEM, NULL, NULL, 0);
	out[i++] = CMD(BPF_MAP_UPDATE_ELEM, NULL, v, BPF_EXIST);
	out[i++] = CMD(BPF_MAP_UPDATE_ELEM, &k, v, 0);
	out[i++] = CMD(BPF_MAP_UPDATE_ELEM, NULL, v, BPF_F_LOCK);
	out[i++] = CMD(BPF_MAP_DELETE_ELEM, NULL, NULL, 0);
	out[i++] = CMD(BPF_MAP_DELETE_ELEM, &k, NULL, 0);
	out[i++] = CMD(BPF_MAP_LOOKUP_AND_DELETE_ELEM, NULL, v, 0);
	out[i++] = CMD(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &k, v, 0);
#undef CMD
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd, a.next_key = (uintptr_t)nk;
	out[i++] = f(BPF_MAP_GET_NEXT_KEY, &a);
	a.key = (uintptr_t)&k;
	out[i++] = f(BPF_MAP_GET_NEXT_KEY, &a);
	a.key = 0, a.next_key = 0;
	out[i++] = f(BPF_MAP_GET_NEXT_KEY, &a);
}

UT_TEST(ringbuf_elem_commands_match_kernel)
{
	/* Kernel answers (Linux 6.18): a NULL key reaches ringbuf_map_*: ENOTSUPP (524); a
	 * key pointer with key_size 0 fails __bpf_copy_key(): EINVAL; BPF_F_LOCK: EINVAL. */
	static const int want[15] = {
		-KERNEL_ENOTSUPP, -KERNEL_ENOTSUPP, -EINVAL, -EINVAL,
		-KERNEL_ENOTSUPP, -KERNEL_ENOTSUPP, -EINVAL, -EINVAL,
		-KERNEL_ENOTSUPP, -EINVAL, -KERNEL_ENOTSUPP, -EINVAL,
		-KERNEL_ENOTSUPP, -EINVAL, -KERNEL_ENOTSUPP,
	};
	int got[15], kgot[15];
	int fd = new_rb(4096);
	UT_CHECK(fd >= 0, "create %d", fd);
	elem_cmds(ubpf, fd, got);
	for (int i = 0; i < 15; i++)
		UT_CHECK(got[i] == want[i], "uebpf command %d: %d, want %d", i, got[i], want[i]);
	int kfd = kmap_create(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	if (kfd < 0) {
		ut_skip("kernel bpf() refused (%d): no kernel comparison", kfd);
	} else {
		elem_cmds(kbpf, kfd, kgot);
		for (int i = 0; i < 15; i++)
			UT_CHECK(got[i] == kgot[i], "command %d: uebpf %d, kernel %d", i, got[i],
				 kgot[i]);
		close(kfd);
	}
	UT_CHECK_EQ(bpf_map_freeze(fd), 0);	/* the kernel allows freezing a ring buffer */
	close(fd);
}

/* ---- helpers and the reader ---- */

UT_TEST(ringbuf_output_records)
{
	int map = new_rb(4096);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);
	UT_CHECK(rb != NULL, "ring_buffer__new: %d", errno);
	int sizes[] = { 1, 5, 16, 0 };
	for (int i = 0; i < 4; i++) {
		int prog = output_prog(map, sizes[i], 0);
		UT_CHECK_EQ(run_xdp(prog), 0);	/* bpf_ringbuf_output returns 0 */
		close(prog);
	}
	/* Record lengths: round_up(size + 8, 8): 16, 16, 24, 8 bytes. */
	UT_CHECK_EQ(query(map, BPF_RB_PROD_POS), 16 + 16 + 24 + 8);
	UT_CHECK_EQ(query(map, BPF_RB_AVAIL_DATA), 64);
	UT_CHECK_EQ(query(map, BPF_RB_CONS_POS), 0);
	UT_CHECK_EQ(query(map, BPF_RB_RING_SIZE), 4096);
	UT_CHECK_EQ(query(map, 99), 0);	/* unknown query: 0 */
	UT_CHECK_EQ(ring_buffer__poll(rb, 1000), 4);
	UT_CHECK_EQ(c->n, 4);
	for (int i = 0; i < 4 && i < c->n; i++) {
		UT_CHECK_EQ(c->size[i], sizes[i]);
		for (int b = 0; b < sizes[i]; b++)
			UT_CHECK_EQ(c->data[i][b], b + 1);	/* the stack pattern 01 02 ... */
	}
	UT_CHECK_EQ(query(map, BPF_RB_CONS_POS), 64);
	UT_CHECK_EQ(query(map, BPF_RB_AVAIL_DATA), 0);
	UT_CHECK_EQ(ring_buffer__consume(rb), 0);
	ring_buffer__free(rb);
	free(c);
	close(map);
}

UT_TEST(ringbuf_flags_and_errors)
{
	int map = new_rb(4096);
	/* bpf_ringbuf_output: unknown flags are EINVAL; bpf_ringbuf_reserve: any flag fails. */
	int p = output_prog(map, 4, 4);
	UT_CHECK_EQ(run_xdp(p), (uint32_t)-EINVAL);
	close(p);
	p = reserve_prog(map, 8, 1, 0, 0);
	UT_CHECK_EQ(run_xdp(p), 0);
	close(p);
	/* reserve(map, 8, 1): NULL, so the program returns 0 (1 would mean a record). */
	struct prog q = { .n = 0 };
	emit2(&q, LD_MAP_FD(1, map));
	emit(&q, MOV64_IMM(2, 8));
	emit(&q, MOV64_IMM(3, 1));
	emit(&q, CALL(ringbuf_reserve));
	emit(&q, JEQ_IMM(0, 0, 5));
	emit(&q, MOV64_REG(1, 0));
	emit(&q, MOV64_IMM(2, 0));
	emit(&q, CALL(ringbuf_discard));
	emit_exit(&q, 1);
	emit(&q, EXIT_INSN);
	p = load_xdp(q.in, (size_t)q.n);
	UT_CHECK_EQ(run_xdp(p), 0);
	close(p);
	/* A ring buffer helper given another map type: the verifier refuses it (as the
	 * kernel's check_map_func_compatibility); unverified, the call fails at run time
	 * rather than treating the array as a ring. */
	int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "a", 4, 8, 1, NULL);
	struct prog o = { .n = 0 };
	emit_pattern(&o);
	emit_output(&o, arr, 4, 0);
	emit(&o, EXIT_INSN);
	UT_CHECK_EQ(load_xdp(o.in, (size_t)o.n), -EINVAL);
	p = load_xdp_flags(o.in, (size_t)o.n, UEBPF_F_PROG_UNVERIFIED);
	UT_CHECK_EQ(run_xdp(p), (uint32_t)-EINVAL);
	close(p);
	close(arr);
	/* ring_buffer__new on a map of another type, a bad fd, bad opts: as libbpf 1.1. */
	arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "a", 4, 8, 1, NULL);
	errno = 0;
	UT_CHECK(!ring_buffer__new(arr, collect_cb, NULL, NULL) && errno == EINVAL, "type %d", errno);
	struct ring_buffer_opts small = { .sz = 4 };
	UT_CHECK(!ring_buffer__new(map, collect_cb, NULL, &small) && errno == EINVAL, "opts %d", errno);
	UT_CHECK(!ring_buffer__new(-1, collect_cb, NULL, NULL) && errno, "bad fd %d", errno);
	close(arr);
	close(map);
}

UT_TEST(ringbuf_reserve_submit_discard)
{
	int map = new_rb(4096);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);
	int a = reserve_prog(map, 8, 0x1111111111111111ull, 0, 0);
	int d = reserve_prog(map, 24, 0x2222222222222222ull, 1, 0);
	int b = reserve_prog(map, 12, 0x3333333333333333ull, 0, 0);
	UT_CHECK_EQ(run_xdp(a), 0);
	UT_CHECK_EQ(run_xdp(d), 0);
	UT_CHECK_EQ(run_xdp(b), 0);
	/* 16 + 32 (discarded, but it took its room) + 24 bytes of records. */
	UT_CHECK_EQ(query(map, BPF_RB_PROD_POS), 72);
	UT_CHECK_EQ(ring_buffer__poll(rb, 1000), 2);	/* the discarded record is skipped */
	UT_CHECK_EQ(c->n, 2);
	UT_CHECK_EQ(c->size[0], 8);
	UT_CHECK_EQ(c->size[1], 12);
	uint64_t v0, v1;
	memcpy(&v0, c->data[0], 8);
	memcpy(&v1, c->data[1], 8);
	UT_CHECK_EQ(v0, 0x1111111111111111ull);
	UT_CHECK_EQ(v1, 0x3333333333333333ull);
	UT_CHECK_EQ(query(map, BPF_RB_CONS_POS), 72);	/* and the consumer passed it */
	ring_buffer__free(rb);
	close(a), close(d), close(b);
	free(c);
	close(map);
}

/* A program whose record pointer misuse must fault in checked mode, not corrupt. */
UT_TEST(ringbuf_checked_misuse)
{
	int map = new_rb(4096);
	/* submit(fp-8): not a record */
	struct prog p = { .n = 0 };
	emit(&p, MOV64_REG(1, 10));
	emit(&p, ADD64_IMM(1, -8));
	emit(&p, MOV64_IMM(2, 0));
	emit(&p, CALL(ringbuf_submit));
	emit_exit(&p, 0);
	UT_CHECK(load_xdp(p.in, (size_t)p.n) < 0, "the verifier takes a stack pointer as a record");
	int fd = load_xdp_flags(p.in, (size_t)p.n, UEBPF_F_PROG_UNVERIFIED);
	UT_CHECK((run_xdp(fd) & 0xffff0000u) == 0xdead0000u, "submit of a stack pointer runs");
	close(fd);
	/* reserve 8; submit; submit again: the second is a released record */
	p.n = 0;
	emit2(&p, LD_MAP_FD(1, map));
	emit(&p, MOV64_IMM(2, 8));
	emit(&p, MOV64_IMM(3, 0));
	emit(&p, CALL(ringbuf_reserve));
	emit(&p, JEQ_IMM(0, 0, 7));
	emit(&p, MOV64_REG(6, 0));
	emit(&p, MOV64_REG(1, 6));
	emit(&p, MOV64_IMM(2, 0));
	emit(&p, CALL(ringbuf_submit));
	emit(&p, MOV64_REG(1, 6));
	emit(&p, MOV64_IMM(2, 0));
	emit(&p, CALL(ringbuf_submit));
	emit_exit(&p, 0);
	UT_CHECK(load_xdp(p.in, (size_t)p.n) < 0, "the verifier takes a double submit");
	fd = load_xdp_flags(p.in, (size_t)p.n, UEBPF_F_PROG_UNVERIFIED);
	UT_CHECK((run_xdp(fd) & 0xffff0000u) == 0xdead0000u, "double submit runs");
	close(fd);
	/* writing past the reserved 8 bytes faults */
	p.n = 0;
	emit2(&p, LD_MAP_FD(1, map));
	emit(&p, MOV64_IMM(2, 8));
	emit(&p, MOV64_IMM(3, 0));
	emit(&p, CALL(ringbuf_reserve));
	emit(&p, JEQ_IMM(0, 0, 4));
	emit(&p, STX_DW(0, 10, 8));
	emit(&p, MOV64_REG(1, 0));
	emit(&p, MOV64_IMM(2, 0));
	emit(&p, CALL(ringbuf_discard));
	emit_exit(&p, 0);
	UT_CHECK(load_xdp(p.in, (size_t)p.n) < 0, "the verifier takes a write past the record");
	fd = load_xdp_flags(p.in, (size_t)p.n, UEBPF_F_PROG_UNVERIFIED);
	UT_CHECK((run_xdp(fd) & 0xffff0000u) == 0xdead0000u, "write past the record runs");
	close(fd);
	close(map);
}

/* An array value of n bytes 0, 1, 2, ... (mod 251) to output from. */
static int pattern_array(uint32_t n)
{
	int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pat", 4, n, 1, NULL);
	uint8_t *v = malloc(n);
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++)
		v[i] = (uint8_t)(i % 251);
	bpf_map_update_elem(arr, &k, v, 0);
	free(v);
	return arr;
}

/* r0 = bpf_ringbuf_output(rb, &arr[0], size, 0); the array value holds the pattern. */
static int output_from_array_prog(int rbmap, int arr, int size)
{
	struct prog p = { .n = 0 };
	emit(&p, I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0));
	emit(&p, MOV64_REG(2, 10));
	emit(&p, ADD64_IMM(2, -4));
	emit2(&p, LD_MAP_FD(1, arr));
	emit(&p, CALL(map_lookup_elem));
	emit(&p, JEQ_IMM(0, 0, 7));
	emit(&p, MOV64_REG(2, 0));
	emit2(&p, LD_MAP_FD(1, rbmap));
	emit(&p, MOV64_IMM(3, size));
	emit(&p, MOV64_IMM(4, 0));
	emit(&p, CALL(ringbuf_output));
	emit(&p, EXIT_INSN);
	emit_exit(&p, 2);
	return load_xdp(p.in, (size_t)p.n);
}

static int pattern_ok(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (d[i] != (uint8_t)(i % 251))
			return 0;
	return 1;
}

UT_TEST(ringbuf_wraps_around)
{
	int map = new_rb(4096), arr = pattern_array(2000);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);
	int p1000 = output_from_array_prog(map, arr, 1000);
	int p2000 = output_from_array_prog(map, arr, 2000);
	for (int i = 0; i < 3; i++)
		UT_CHECK_EQ(run_xdp(p1000), 0);
	UT_CHECK_EQ(ring_buffer__consume(rb), 3);	/* 3 x 1008 bytes: at 3024 now */
	/* 2008 bytes from 3024: the record runs past the end of the 4096-byte area. */
	UT_CHECK_EQ(run_xdp(p2000), 0);
	UT_CHECK_EQ(query(map, BPF_RB_PROD_POS), 3024 + 2008);
	UT_CHECK_EQ(ring_buffer__consume(rb), 1);
	UT_CHECK_EQ(c->n, 4);
	UT_CHECK_EQ(c->size[3], 2000);
	UT_CHECK(pattern_ok(c->data[3], 2000), "wrapped record is not contiguous");
	for (int i = 0; i < 3; i++)
		UT_CHECK(c->size[i] == 1000 && pattern_ok(c->data[i], 1000), "record %d", i);
	ring_buffer__free(rb);
	close(p1000), close(p2000), close(arr);
	free(c);
	close(map);
}

UT_TEST(ringbuf_full)
{
	int map = new_rb(4096), arr = pattern_array(4096);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);
	/* The producer must stay less than a whole ring ahead (new_prod - cons <= mask):
	 * 4080 + 8 = 4088 fits an empty 4096 ring, 4088 + 8 = 4096 never does. */
	int big = output_from_array_prog(map, arr, 4088);
	UT_CHECK_EQ(run_xdp(big), (uint32_t)-EAGAIN);
	close(big);
	int r4096 = reserve_prog(map, 4096, 0, 0, 0);
	UT_CHECK_EQ(run_xdp(r4096), 1);	/* reserve returns NULL */
	close(r4096);
	int fill = output_from_array_prog(map, arr, 4000);	/* 4008 bytes */
	UT_CHECK_EQ(run_xdp(fill), 0);
	int more = output_from_array_prog(map, arr, 100);	/* 108 -> 112 more: 4120 > 4095 */
	UT_CHECK_EQ(run_xdp(more), (uint32_t)-EAGAIN);
	int r100 = reserve_prog(map, 100, 7, 0, 0);
	UT_CHECK_EQ(run_xdp(r100), 1);
	int r80 = reserve_prog(map, 80, 8, 0, 0);	/* 88: 4008 + 88 = 4096 > 4095 */
	UT_CHECK_EQ(run_xdp(r80), 1);
	int r72 = reserve_prog(map, 72, 9, 0, 0);	/* 80: 4088 <= 4095 */
	UT_CHECK_EQ(run_xdp(r72), 0);
	UT_CHECK_EQ(query(map, BPF_RB_AVAIL_DATA), 4088);
	UT_CHECK_EQ(ring_buffer__consume(rb), 2);
	UT_CHECK_EQ(run_xdp(more), 0);	/* room again */
	UT_CHECK_EQ(ring_buffer__consume(rb), 1);
	UT_CHECK(c->n == 3 && c->size[0] == 4000 && pattern_ok(c->data[0], 4000) &&
		 c->size[1] == 72 && c->size[2] == 100 && pattern_ok(c->data[2], 100),
		 "records after a full ring");
	ring_buffer__free(rb);
	close(fill), close(more), close(r100), close(r80), close(r72), close(arr);
	free(c);
	close(map);
}

UT_TEST(ringbuf_callback_error_stops)
{
	int map = new_rb(4096);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);
	int p = output_prog(map, 4, 0);
	for (int i = 0; i < 3; i++)
		UT_CHECK_EQ(run_xdp(p), 0);
	/* libbpf: a negative return stops at that record (consumed) and is returned. */
	c->ret = -ENOSPC;
	UT_CHECK_EQ(ring_buffer__consume(rb), -ENOSPC);
	UT_CHECK_EQ(errno, ENOSPC);
	UT_CHECK_EQ(c->n, 1);
	c->ret = 5;	/* positive returns are ignored */
	/* The records left are reported by the next poll at once (level-triggered). */
	UT_CHECK_EQ(ring_buffer__poll(rb, 2000), 2);
	UT_CHECK_EQ(c->n, 3);
	ring_buffer__free(rb);
	close(p);
	free(c);
	close(map);
}

/* ---- wake-ups ---- */

struct waiter {
	struct ring_buffer *rb;
	int timeout;
	int got;
	double secs;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *wait_poll(void *arg)
{
	struct waiter *w = arg;
	double t0 = now();
	w->got = ring_buffer__poll(w->rb, w->timeout);
	w->secs = now() - t0;
	return NULL;
}

UT_TEST(ringbuf_poll_wakes_on_submit)
{
	int map = new_rb(4096);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);
	int p = reserve_prog(map, 8, 42, 0, 0);
	struct waiter w = { rb, 10000, 0, 0 };
	pthread_t t;
	pthread_create(&t, NULL, wait_poll, &w);
	usleep(100 * 1000);	/* let it block */
	UT_CHECK_EQ(run_xdp(p), 0);
	pthread_join(t, NULL);
	UT_CHECK_EQ(w.got, 1);
	UT_CHECK(w.secs < 5.0, "poll woke after %.2fs, not on submit", w.secs);
	/* epoll on ring_buffer__epoll_fd, then consume: the same wake-up. */
	struct epoll_event ev;
	UT_CHECK_EQ(run_xdp(p), 0);
	UT_CHECK_EQ(epoll_wait(ring_buffer__epoll_fd(rb), &ev, 1, 5000), 1);
	UT_CHECK_EQ(ring_buffer__consume(rb), 1);
	UT_CHECK_EQ(epoll_wait(ring_buffer__epoll_fd(rb), &ev, 1, 0), 0);	/* drained */
	ring_buffer__free(rb);
	close(p);
	free(c);
	close(map);
}

/*
 * libbpf 1.3's ring__ getters and 1.5's consume_n. Expected values by the kernel's layout:
 * a record is its 8-byte header and its data rounded up to 8, so an 8-byte output moves
 * the producer 16 bytes; positions count bytes from 0 and never wrap (u64). A discarded
 * record is consumed but not counted, as libbpf's ringbuf_process_ring does.
 */
UT_TEST(ringbuf_ring_getters_and_consume_n)
{
	int m1 = new_rb(4096), m2 = new_rb(8192);
	int p1 = output_prog(m1, 8, 0), p2 = output_prog(m2, 8, 0);
	int drop = reserve_prog(m1, 8, 7, 1, 0);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(m1, collect_cb, c, NULL);

	UT_CHECK_EQ(ring_buffer__add(rb, m2, collect_cb, c), 0);
	struct ring *r1 = ring_buffer__ring(rb, 0), *r2 = ring_buffer__ring(rb, 1);
	errno = 0;
	UT_CHECK(r1 && r2 && !ring_buffer__ring(rb, 2) && errno == ERANGE,
		 "ring_buffer__ring: %p %p, idx 2 errno %d", (void *)r1, (void *)r2, errno);
	if (!r1 || !r2)
		return;
	UT_CHECK_EQ(ring__size(r1), 4096);
	UT_CHECK_EQ(ring__size(r2), 8192);
	UT_CHECK_EQ(ring__map_fd(r1), m1);
	UT_CHECK_EQ(ring__map_fd(r2), m2);
	UT_CHECK_EQ(run_xdp(drop), 0);	/* a discarded record first: 16 bytes, no sample */
	for (int i = 0; i < 3; i++) {
		UT_CHECK_EQ(run_xdp(p1), 0);
		UT_CHECK_EQ(run_xdp(p2), 0);
	}
	UT_CHECK_EQ(ring__producer_pos(r1), 64);
	UT_CHECK_EQ(ring__consumer_pos(r1), 0);
	UT_CHECK_EQ(ring__avail_data_size(r1), 64);
	UT_CHECK_EQ(ring__avail_data_size(r2), 48);
	/* 2 records of r1: the discarded one is passed over and not counted */
	UT_CHECK_EQ(ring__consume_n(r1, 2), 2);
	UT_CHECK_EQ(ring__consumer_pos(r1), 48);
	UT_CHECK_EQ(c->n, 2);
	/* 3 over both rings, in the order added: r1's last, then 2 of r2 */
	UT_CHECK_EQ(ring_buffer__consume_n(rb, 3), 3);
	UT_CHECK_EQ(ring__avail_data_size(r1), 0);
	UT_CHECK_EQ(ring__consumer_pos(r2), 32);
	UT_CHECK_EQ(ring_buffer__consume_n(rb, 0), 0);
	UT_CHECK_EQ(ring__consume(r2), 1);
	UT_CHECK_EQ(ring__consume(r2), 0);
	UT_CHECK_EQ(c->n, 6);
	ring_buffer__free(rb);
	close(p1), close(p2), close(drop), close(m1), close(m2);
	free(c);
}

UT_TEST(ringbuf_wakeup_flags)
{
	int map = new_rb(4096);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);
	int quiet = output_prog(map, 4, BPF_RB_NO_WAKEUP);
	int plain = output_prog(map, 4, 0);
	int force = output_prog(map, 4, BPF_RB_FORCE_WAKEUP);
	/* Kernel (bpf_ringbuf_commit): NO_WAKEUP never wakes; a plain commit wakes only if
	 * the consumer is at that record (consumer 0, record at 16: no); FORCE always. */
	UT_CHECK_EQ(run_xdp(quiet), 0);
	UT_CHECK_EQ(run_xdp(plain), 0);
	UT_CHECK_EQ(ring_buffer__poll(rb, 200), 0);	/* no wake-up: times out */
	UT_CHECK_EQ(run_xdp(force), 0);
	UT_CHECK_EQ(ring_buffer__poll(rb, 5000), 3);
	/* Now the consumer is at the next record: a plain output wakes it. */
	UT_CHECK_EQ(run_xdp(plain), 0);
	UT_CHECK_EQ(ring_buffer__poll(rb, 5000), 1);
	ring_buffer__free(rb);
	close(quiet), close(plain), close(force);
	free(c);
	close(map);
}

/*
 * A reader sleeping in ring_buffer__poll is woken by a producer in another process: the
 * ring and a program that outputs one 8-byte record into it are pinned, and the CLI, a
 * separate program image (a forked copy of this one would share our eventfd), runs the
 * pinned program. As the kernel: the reader is at that record, so the commit wakes it
 * (maps/rb_wake.h; an eventfd does not cross processes, and without it the poll times out
 * with 0). A record output with BPF_RB_NO_WAKEUP does not wake it (the poll times out, as
 * in ringbuf_wakeup_flags); then one with BPF_RB_FORCE_WAKEUP does (both records come).
 */
/* Starts the CLI running the pinned program prog_pin, 200 ms from now. */
static pid_t other_process_repeat(const char *prog_pin, const char *repeat)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char cli[256], pkt[160];

	snprintf(cli, sizeof(cli), "%s/bin/uebpf", build);
	snprintf(pkt, sizeof(pkt), "%s/pkt", root);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(200 * 1000);	/* the parent is asleep in epoll_wait by now */
		execl(cli, "uebpf", "prog", "run", "pinned", prog_pin, "data_in", pkt, "repeat",
		      repeat, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* The packet the CLI's runs take (data_in): 64 bytes. 1 when written. */
static int make_pkt(void)
{
	char pkt[160];

	snprintf(pkt, sizeof(pkt), "%s/pkt", root);
	FILE *f = root[0] ? fopen(pkt, "w") : NULL;
	if (!f)
		return 0;
	for (int i = 0; i < 64; i++)
		fputc(i, f);
	return !fclose(f);
}

/*
 * For a test whose other process is the CLI: pins the ring and the program and writes the
 * packet. 1 when all is there; 0 with a skip (no CLI: `make tsan` builds the tests only)
 * or a failed check.
 */
static int other_process_ready(int map, const char *map_pin, int prog, const char *prog_pin)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char cli[256];

	snprintf(cli, sizeof(cli), "%s/bin/uebpf", build);
	if (access(cli, X_OK) || !root[0]) {
		ut_skip("%s: %s (the CLI is the other process)", cli, strerror(errno));
		return 0;
	}
	int ok = make_pkt() && !bpf_obj_pin(map, map_pin) && !bpf_obj_pin(prog, prog_pin);
	UT_CHECK(ok, "pin: %s", uebpf_last_error());
	return ok;
}

static pid_t other_process_run(const char *prog_pin)
{
	return other_process_repeat(prog_pin, "1");
}

static void other_process_wait(pid_t pid)
{
	int status = -1;

	waitpid(pid, &status, 0);
	UT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "uebpf prog run: status %d",
		 status);
}

static int poll_with_other_process(struct ring_buffer *rb, const char *prog_pin,
				   int timeout_ms, double *secs)
{
	pid_t pid = other_process_run(prog_pin);
	double t0 = now();
	int got = ring_buffer__poll(rb, timeout_ms);

	*secs = now() - t0;
	other_process_wait(pid);
	return got;
}

UT_TEST(ringbuf_wakes_reader_of_other_process)
{
	int map = new_rb(4096);
	int plain = output_prog(map, 8, 0), quiet = output_prog(map, 8, BPF_RB_NO_WAKEUP);
	int force = output_prog(map, 8, BPF_RB_FORCE_WAKEUP);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);
	double secs;

	int ready = rb && other_process_ready(map, "/sys/fs/bpf/xrb", plain, "/sys/fs/bpf/xplain");
	if (ready) {
		ready = !bpf_obj_pin(quiet, "/sys/fs/bpf/xquiet") &&
			!bpf_obj_pin(force, "/sys/fs/bpf/xforce");
		UT_CHECK(ready, "pin: %s", uebpf_last_error());
	}
	if (!ready) {
		ring_buffer__free(rb);
		free(c);
		close(plain), close(quiet), close(force), close(map);
		return;
	}
	UT_CHECK_EQ(poll_with_other_process(rb, "/sys/fs/bpf/xplain", 10000, &secs), 1);
	UT_CHECK(secs < 5.0, "woken after %.2fs: not by the other process's commit", secs);
	UT_CHECK_EQ(poll_with_other_process(rb, "/sys/fs/bpf/xquiet", 1500, &secs), 0);
	UT_CHECK(secs >= 1.4, "NO_WAKEUP woke the reader after %.2fs", secs);
	UT_CHECK_EQ(poll_with_other_process(rb, "/sys/fs/bpf/xforce", 10000, &secs), 2);
	UT_CHECK(secs < 5.0, "FORCE_WAKEUP woke the reader after %.2fs", secs);
	/* A reader that waits on ring_buffer__epoll_fd and then consumes (no poll): the
	 * wake-up is taken with the records, so the fd is not left readable. */
	struct epoll_event ev;
	pid_t pid = other_process_run("/sys/fs/bpf/xplain");
	UT_CHECK_EQ(epoll_wait(ring_buffer__epoll_fd(rb), &ev, 1, 10000), 1);
	other_process_wait(pid);
	UT_CHECK_EQ(ring_buffer__consume(rb), 1);
	UT_CHECK_EQ(epoll_wait(ring_buffer__epoll_fd(rb), &ev, 1, 0), 0);
	ring_buffer__free(rb);
	free(c);
	close(plain), close(quiet), close(force), close(map);
}

/*
 * output_prog after a pause of random length: bpf_loop over an empty callback 0-65535
 * times (0 to about half a millisecond), so that the reader of a stream of such records
 * sometimes keeps up by looking and sometimes goes to sleep.
 */
static int bursty_output_prog(int map)
{
	struct prog p = { .n = 0 };
	emit(&p, CALL(get_prandom_u32));
	emit(&p, MOV64_REG(1, 0));
	emit(&p, I(BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, 0xffff));
	int ld = p.n;	/* r2 = the callback (its imm is filled in below) */
	emit2(&p, I(BPF_LD | BPF_IMM | BPF_DW, 2, BPF_PSEUDO_FUNC, 0, 0), I(0, 0, 0, 0, 0));
	emit(&p, MOV64_IMM(3, 0));
	emit(&p, MOV64_IMM(4, 0));
	emit(&p, CALL(loop));
	emit_pattern(&p);
	emit_output(&p, map, 8, 0);
	emit(&p, EXIT_INSN);
	p.in[ld].imm = p.n - ld - 1;	/* as a call's: relative to the next instruction */
	emit_exit(&p, 0);		/* the callback: 0, go on */
	return load_xdp(p.in, (size_t)p.n);
}

/*
 * A stream from another process: its CLI runs a program 4000 times, each run pausing a
 * random while and then committing one 8-byte record (16 bytes with the header) into a
 * 1 MiB ring, so none is dropped. The reader polls with a 3 s timeout until it has them
 * all: it goes to sleep and is woken again and again while records keep coming (about 1 s
 * of them), and a wake-up lost would leave it asleep with records waiting once the
 * producer is done: a poll that times out before all 4000 came. (The narrow race that
 * arm_all's second look closes, a commit between a reader's last look and its arming, is
 * not hit by this test: taking that look out, three runs still passed. A poll that
 * follows a busy one looks for records before it sleeps, which hides such a loss here.)
 */
UT_TEST(ringbuf_other_process_stream_loses_no_wakeup)
{
	int map = new_rb(1 << 20);
	int plain = bursty_output_prog(map);
	struct collect *c = calloc(1, sizeof(*c));
	struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);

	if (other_process_ready(map, "/sys/fs/bpf/srb", plain, "/sys/fs/bpf/splain")) {
		pid_t pid = other_process_repeat("/sys/fs/bpf/splain", "4000");
		long total = 0, timeouts = 0, early = 0;
		while (total < 4000) {
			double t0 = now();
			int got = ring_buffer__poll(rb, 3000);
			UT_CHECK(got >= 0, "poll: %d", got);
			if (got < 0)
				break;
			/* 0 before the timeout: a wake-up whose records an earlier look had
			 * taken already (libbpf's poll may return 0 too) */
			if (!got && now() - t0 < 2.5) {
				early++;
				continue;
			}
			if (!got) {
				timeouts++;
				break;
			}
			total += got;
		}
		other_process_wait(pid);
		UT_CHECK(timeouts == 0, "a poll timed out with %ld of 4000 records taken (and %ld "
			 "early returns with none)", total, early);
		UT_CHECK_EQ(total + ring_buffer__consume(rb), 4000);
	}
	ring_buffer__free(rb);
	free(c);
	close(plain), close(map);
}

/*
 * Records committed before the reader exists are reported by its first poll at once: the
 * kernel's map poll says "readable" whenever the ring holds data (6.18, run by hand with
 * libbpf: two records output, then ring_buffer__new, then ring_buffer__poll(rb, 1000)
 * returned 2 after 0.000 s). The records come from another process (the CLI), so no
 * wake-up of this process's producers makes the reader's fd readable by chance. Also
 * through ring_buffer__epoll_fd.
 */
UT_TEST(ringbuf_reader_sees_records_from_before_it)
{
	int map = new_rb(4096);
	int plain = output_prog(map, 8, 0);
	struct collect *c = calloc(1, sizeof(*c));

	if (other_process_ready(map, "/sys/fs/bpf/brb", plain, "/sys/fs/bpf/bplain")) {
		other_process_wait(other_process_repeat("/sys/fs/bpf/bplain", "2"));
		struct ring_buffer *rb = ring_buffer__new(map, collect_cb, c, NULL);
		double t0 = now();
		UT_CHECK_EQ(ring_buffer__poll(rb, 5000), 2);
		UT_CHECK(now() - t0 < 2.0, "first poll took %.2f s", now() - t0);
		ring_buffer__free(rb);
		other_process_wait(other_process_run("/sys/fs/bpf/bplain"));
		rb = ring_buffer__new(map, collect_cb, c, NULL);
		struct epoll_event ev;
		UT_CHECK_EQ(epoll_wait(ring_buffer__epoll_fd(rb), &ev, 1, 5000), 1);
		UT_CHECK_EQ(ring_buffer__consume(rb), 1);
		ring_buffer__free(rb);
	}
	close(plain);
	free(c);
	close(map);
}

/* ---- several producers ---- */

#define NPROD 4
#ifndef RB_PER_THREAD
#define RB_PER_THREAD 20000
#endif

struct mp {
	int map, prog_out, prog_res;
	uint8_t *seen;	/* NPROD * RB_PER_THREAD */
	int bad, dups;
	long total;
	volatile int done;
};

/* A record is {u32 tid, u32 seq, u64 ~(tid << 32 | seq)} taken from the packet. */
static int mp_cb(void *ctx, void *data, size_t size)
{
	struct mp *m = ctx;
	uint32_t tid, seq;
	uint64_t chk;

	memcpy(&tid, data, 4);
	memcpy(&seq, (uint8_t *)data + 4, 4);
	memcpy(&chk, (uint8_t *)data + 8, 8);
	if (size != 16 || tid >= NPROD || seq >= RB_PER_THREAD ||
	    chk != ~(((uint64_t)tid << 32) | seq)) {
		m->bad++;
		return 0;
	}
	if (m->seen[tid * RB_PER_THREAD + seq]++)
		m->dups++;
	m->total++;
	return 0;
}

/* Packet bytes 0..15 copied into a 16-byte record: by output or reserve + submit. */
static int mp_prog(int map, int reserve)
{
	struct prog p = { .n = 0 };
	emit(&p, LDX_W(2, 1, 0));	/* data */
	emit(&p, LDX_W(3, 1, 4));	/* data_end */
	emit(&p, MOV64_REG(4, 2));
	emit(&p, ADD64_IMM(4, 16));
	emit(&p, JGT_REG(4, 3, reserve ? 17 : 12));
	emit(&p, LDX_DW(6, 2, 0));
	emit(&p, LDX_DW(7, 2, 8));
	if (reserve) {
		emit2(&p, LD_MAP_FD(1, map));
		emit(&p, MOV64_IMM(2, 16));
		emit(&p, MOV64_IMM(3, 0));
		emit(&p, CALL(ringbuf_reserve));
		emit(&p, JEQ_IMM(0, 0, 7));
		emit(&p, STX_DW(0, 6, 0));
		emit(&p, STX_DW(0, 7, 8));
		emit(&p, MOV64_REG(1, 0));
		emit(&p, MOV64_IMM(2, 0));
		emit(&p, CALL(ringbuf_submit));
		emit_exit(&p, 0);
		emit_exit(&p, 1);	/* full */
	} else {
		emit(&p, STX_DW(10, 6, -16));
		emit(&p, STX_DW(10, 7, -8));
		emit2(&p, LD_MAP_FD(1, map));
		emit(&p, MOV64_REG(2, 10));
		emit(&p, ADD64_IMM(2, -16));
		emit(&p, MOV64_IMM(3, 16));
		emit(&p, MOV64_IMM(4, 0));
		emit(&p, CALL(ringbuf_output));
		emit(&p, EXIT_INSN);	/* 0 or -EAGAIN */
	}
	emit_exit(&p, 2);	/* short packet */
	return load_xdp(p.in, (size_t)p.n);
}

struct producer {
	struct mp *m;
	uint32_t tid;
	int fails;
};

static void *produce(void *arg)
{
	struct producer *pr = arg;
	int prog = pr->tid % 2 ? pr->m->prog_res : pr->m->prog_out;
	uint8_t pkt[64] = { 0 };

	for (uint32_t seq = 0; seq < RB_PER_THREAD; seq++) {
		uint64_t chk = ~(((uint64_t)pr->tid << 32) | seq);
		memcpy(pkt, &pr->tid, 4);
		memcpy(pkt + 4, &seq, 4);
		memcpy(pkt + 8, &chk, 8);
		uint32_t r;
		while ((r = run_xdp_on(prog, pkt, sizeof(pkt))) != 0) {
			if (r != 1 && r != (uint32_t)-EAGAIN) {
				pr->fails++;	/* anything but "full" is an error */
				break;
			}
			sched_yield();	/* full: let the consumer catch up, then retry */
		}
	}
	return NULL;
}

/* Producers 0 and 1 write ring A (a->map), 2 and 3 ring B (b->map: b may be a): one
 * reader of both, every record counted in a (mp_cb's ctx). */
struct rings {
	struct mp *a, *b;
};

static void *consume(void *arg)
{
	struct rings *rs = arg;
	struct mp *m = rs->a;
	struct ring_buffer *rb = ring_buffer__new(m->map, mp_cb, m, NULL);
	double deadline = now() + 120;

	if (rb && rs->b != rs->a && ring_buffer__add(rb, rs->b->map, mp_cb, m))
		m->bad++;
	while (m->total < (long)NPROD * RB_PER_THREAD && now() < deadline && rb)
		if (ring_buffer__poll(rb, 100) < 0)
			m->bad++;
	ring_buffer__free(rb);
	return NULL;
}

static void mp_init(struct mp *m, uint32_t ring_size)
{
	m->map = new_rb(ring_size);
	m->prog_out = mp_prog(m->map, 0);
	m->prog_res = mp_prog(m->map, 1);
}

/* Runs the producers and the reader, then checks that every record came once, whole. */
static void mp_run(struct mp *a, struct mp *b)
{
	struct rings rs = { a, b };
	pthread_t c, t[NPROD];
	struct producer pr[NPROD];

	a->seen = calloc(NPROD * RB_PER_THREAD, 1);
	pthread_create(&c, NULL, consume, &rs);
	for (uint32_t i = 0; i < NPROD; i++) {
		pr[i] = (struct producer){ i < NPROD / 2 ? a : b, i, 0 };
		pthread_create(&t[i], NULL, produce, &pr[i]);
	}
	for (int i = 0; i < NPROD; i++)
		pthread_join(t[i], NULL);
	pthread_join(c, NULL);
	for (int i = 0; i < NPROD; i++)
		UT_CHECK_EQ(pr[i].fails, 0);
	UT_CHECK_EQ(a->bad, 0);		/* every record whole */
	UT_CHECK_EQ(a->dups, 0);	/* nothing twice */
	UT_CHECK_EQ(a->total, (long)NPROD * RB_PER_THREAD);	/* nothing lost */
	free(a->seen);
}

static void mp_fini(struct mp *m)
{
	close(m->prog_out), close(m->prog_res), close(m->map);
}

UT_TEST(ringbuf_many_producers)
{
	struct mp m = { 0 };

	mp_init(&m, 1u << 16);
	mp_run(&m, &m);
	mp_fini(&m);
}

/*
 * One reader, two rings (ring_buffer__add): producers 0 and 1 write a 64 KiB ring, 2 and 3
 * a 4 KiB one, whose quarter (1 KiB) is all a spinning reader may leave behind in it (see
 * ringbuf_user.c). Every record of both arrives once, whole.
 */
UT_TEST(ringbuf_two_rings_one_reader)
{
	struct mp a = { 0 }, b = { 0 };

	mp_init(&a, 1u << 16);
	mp_init(&b, 4096);
	mp_run(&a, &b);
	mp_fini(&a);
	mp_fini(&b);
}

/* ---- the memory layout against the kernel's ---- */

/* Outputs 1 and 5 bytes, reserves 12 and discards, reserves 16 and submits, outputs 16
 * with NO_WAKEUP: every header shape (lengths, padding, discard bit). */
static void layout_prog(struct prog *p, int map)
{
	p->n = 0;
	emit_pattern(p);
	emit_output(p, map, 1, 0);
	emit_output(p, map, 5, 0);
	emit_reserve(p, map, 12, 0xa1a2a3a4a5a6a7a8ull, 1, 0);
	emit_reserve(p, map, 16, 0xb1b2b3b4b5b6b7b8ull, 0, BPF_RB_FORCE_WAKEUP);
	emit_output(p, map, 16, BPF_RB_NO_WAKEUP);
	emit_exit(p, XDP_PASS);
}

struct rb_mem {
	uint64_t *cons;
	uint8_t *prod;	/* producer page, data after it */
};

/* libbpf's mappings: the consumer page writable at 0, producer and data read-only. */
static int map_like_libbpf(int fd, uint32_t size, struct rb_mem *m)
{
	void *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	void *p = mmap(NULL, 4096 + 2 * (size_t)size, PROT_READ, MAP_SHARED, fd, 4096);
	if (c == MAP_FAILED || p == MAP_FAILED)
		return -1;
	m->cons = c;
	m->prod = p;
	return 0;
}

UT_TEST(ringbuf_layout_matches_kernel)
{
	struct prog p;
	struct rb_mem um, km;
	int kmap = kmap_create(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	if (kmap < 0) {
		ut_skip("kernel bpf() refused (%d)", kmap);
		return;
	}
	layout_prog(&p, kmap);
	int kprog = kprog_load_xdp(p.in, (size_t)p.n);
	UT_CHECK(kprog >= 0, "kernel load %d", kprog);
	UT_CHECK_EQ(krun_xdp(kprog, rbx_pkt, sizeof(rbx_pkt)), XDP_PASS);
	int umap = new_rb(4096);
	layout_prog(&p, umap);
	int uprog = load_xdp(p.in, (size_t)p.n);
	UT_CHECK_EQ(run_xdp(uprog), XDP_PASS);
	UT_CHECK(!map_like_libbpf(kmap, 4096, &km) && !map_like_libbpf(umap, 4096, &um), "mmap");
	uint64_t kprod, uprod;
	memcpy(&kprod, km.prod, 8);
	memcpy(&uprod, um.prod, 8);
	/* 16 + 16 + 24 + 24 + 24 bytes of records. */
	UT_CHECK_EQ(kprod, 104);
	UT_CHECK_EQ(uprod, kprod);
	UT_CHECK_EQ(*um.cons, *km.cons);
	UT_CHECK(!memcmp(um.prod + 4096, km.prod + 4096, 104), "record bytes differ from the kernel's");
	for (int off = 0; off < 104; off += 8) {
		uint64_t a, b;
		memcpy(&a, um.prod + 4096 + off, 8);
		memcpy(&b, km.prod + 4096 + off, 8);
		if (a != b)
			fprintf(stderr, "  +%3d uebpf %016llx kernel %016llx\n", off,
				(unsigned long long)a, (unsigned long long)b);
	}
	/* The first header as the kernel writes it: len 1, pg_off = 3 (the pages before the
	 * data: struct bpf_ringbuf's own page, the consumer and the producer pages). */
	uint32_t h[2];
	memcpy(h, um.prod + 4096, 8);
	UT_CHECK_EQ(h[0], 1);
	UT_CHECK_EQ(h[1], 3);
	memcpy(h, um.prod + 4096 + 32, 8);
	UT_CHECK_EQ(h[0], 12 | BPF_RINGBUF_DISCARD_BIT);
	munmap(um.cons, 4096), munmap(km.cons, 4096);
	munmap(um.prod, 4096 + 8192), munmap(km.prod, 4096 + 8192);
	close(kprog), close(kmap), close(uprog), close(umap);
}

/* A record at the end of the ring: the kernel's pg_off counts the data page it starts in. */
UT_TEST(ringbuf_pg_off_past_first_page)
{
	int map = new_rb(8192), arr = pattern_array(5000);
	int p = output_from_array_prog(map, arr, 5000);
	int q = output_prog(map, 1, 0);
	UT_CHECK_EQ(run_xdp(p), 0);	/* 5008 bytes: the next record is at 5008, page 1 */
	UT_CHECK_EQ(run_xdp(q), 0);
	struct rb_mem m;
	UT_CHECK(!map_like_libbpf(map, 8192, &m), "mmap");
	uint32_t h[2];
	memcpy(h, m.prod + 4096 + 5008, 8);
	UT_CHECK_EQ(h[0], 1);
	UT_CHECK_EQ(h[1], 3 + 1);	/* bpf_ringbuf_rec_pg_off(): (hdr - rb) >> PAGE_SHIFT */
	munmap(m.cons, 4096), munmap(m.prod, 4096 + 16384);
	close(p), close(q), close(arr), close(map);
}
