/*
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY and bpf_perf_event_output(): map checks and bpf()
 * errors (against the kernel), records per CPU with the kernel's padded sizes, lost
 * counts, wrap-around, packet bytes from XDP, and libbpf's perf_buffer reader.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ut.h"
#include "rbx.h"

#define KERNEL_ENOTSUPP 524

struct got {
	int n, lost_calls;
	uint64_t lost;
	int cpu[256];
	uint32_t size[256];
	uint8_t data[256][128];
};

static void sample_cb(void *ctx, int cpu, void *data, __u32 size)
{
	struct got *g = ctx;
	if (g->n < 256) {
		g->cpu[g->n] = cpu;
		g->size[g->n] = size;
		memcpy(g->data[g->n], data, size < 128 ? size : 128);
	}
	g->n++;
}

static void lost_cb(void *ctx, int cpu, __u64 cnt)
{
	struct got *g = ctx;
	g->lost += cnt;
	g->lost_calls++;
}

/* Runs on CPU 0 so BPF_F_CURRENT_CPU is 0 (the run takes the slot of its CPU). */
static void pin_cpu0(void)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(0, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

/* r0 = perf_event_output(ctx, map, flags, fp-16, size), stack = 01 02 .. 10 */
static int output_prog(int map, uint64_t flags, int size)
{
	struct bpf_insn p[] = {
		MOV64_REG(6, 1),
		LD_IMM64(1, 0x0807060504030201ull), STX_DW(10, 1, -16),
		LD_IMM64(1, 0x100f0e0d0c0b0a09ull), STX_DW(10, 1, -8),
		MOV64_REG(1, 6), LD_MAP_FD(2, map), LD_IMM64(3, flags),
		MOV64_REG(4, 10), ADD64_IMM(4, -16), MOV64_IMM(5, size),
		CALL(perf_event_output), EXIT_INSN,
	};
	return load_xdp(p, NINSN(p));
}

static int ncpus(void)
{
	return libbpf_num_possible_cpus();
}

UT_TEST(perf_array_create_checks)
{
	/* Kernel (fd_array_map_alloc_check, array_map_alloc_check), Linux 6.18: EINVAL. */
	struct { uint32_t ks, vs, max, flags; } bad[] = {
		{ 8, 4, 2, 0 }, { 4, 8, 2, 0 }, { 4, 4, 0, 0 }, { 4, 4, 2, BPF_F_MMAPABLE },
		{ 4, 4, 2, BPF_F_RDONLY_PROG }, { 4, 4, 2, BPF_F_NO_PREALLOC },
	};
	for (size_t i = 0; i < NINSN(bad); i++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = bad[i].flags);
		int fd = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "pa", bad[i].ks, bad[i].vs,
					bad[i].max, &o);
		UT_CHECK(fd == -EINVAL, "case %zu: %d", i, fd);
	}
	LIBBPF_OPTS(bpf_map_create_opts, ro, .map_flags = BPF_F_RDONLY);
	int fd = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "pa", 4, 4, 2, &ro);
	UT_CHECK(fd >= 0, "RDONLY allowed: %d", fd);
	close(fd);
}

typedef int (*bpf_fn)(int cmd, union bpf_attr *a);

static int ubpf(int cmd, union bpf_attr *a)
{
	int r = uebpf_bpf(cmd, a, sizeof(*a));
	return r < 0 ? -errno : r;
}

static void elem_cmds(bpf_fn f, int fd, int *out)
{
	uint32_t k = 0, k5 = 5, k1 = 1, nk = 77;
	int val = 0, memfd = memfd_create("not-perf", MFD_CLOEXEC), badfd = 9999;
	union bpf_attr a;
	int i = 0;
#define CMD(c, k_, v_, fl) (memset(&a, 0, sizeof(a)), a.map_fd = (uint32_t)fd, \
	a.key = (uintptr_t)(k_), a.value = (uintptr_t)(v_), a.flags = (fl), f(c, &a))
	out[i++] = CMD(BPF_MAP_LOOKUP_ELEM, &k, &val, 0);
	out[i++] = CMD(BPF_MAP_LOOKUP_ELEM, &k5, &val, 0);
	out[i++] = CMD(BPF_MAP_UPDATE_ELEM, &k, &memfd, 0);
	out[i++] = CMD(BPF_MAP_UPDATE_ELEM, &k, &badfd, 0);
	out[i++] = CMD(BPF_MAP_UPDATE_ELEM, &k, &memfd, BPF_EXIST);
	out[i++] = CMD(BPF_MAP_UPDATE_ELEM, &k5, &memfd, 0);
	out[i++] = CMD(BPF_MAP_DELETE_ELEM, &k5, NULL, 0);
	out[i++] = CMD(BPF_MAP_DELETE_ELEM, &k, NULL, 0);
	out[i++] = CMD(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &k, &val, 0);
#undef CMD
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd, a.next_key = (uintptr_t)&nk;
	out[i++] = f(BPF_MAP_GET_NEXT_KEY, &a);
	out[i++] = (int)nk;
	a.key = (uintptr_t)&k1;
	out[i++] = f(BPF_MAP_GET_NEXT_KEY, &a);
	close(memfd);
}

UT_TEST(perf_array_elem_commands_match_kernel)
{
	/* Kernel answers (Linux 6.18): lookups ENOTSUPP (no map_fd_sys_lookup_elem); a
	 * value that is no perf event fd EBADF; flags other than BPF_ANY EINVAL; index past
	 * max_entries E2BIG; deleting an empty slot ENOENT; next key as an array's. */
	static const int want[12] = {
		-KERNEL_ENOTSUPP, -KERNEL_ENOTSUPP, -EBADF, -EBADF, -EINVAL, -E2BIG, -E2BIG,
		-ENOENT, -KERNEL_ENOTSUPP, 0, 0, -ENOENT,
	};
	int got[12], kgot[12];
	int fd = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "pa", 4, 4, 2, NULL);
	elem_cmds(ubpf, fd, got);
	for (int i = 0; i < 12; i++)
		UT_CHECK(got[i] == want[i], "uebpf command %d: %d, want %d", i, got[i], want[i]);
	int kfd = kmap_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, 0);
	if (kfd < 0) {
		ut_skip("kernel bpf() refused (%d)", kfd);
	} else {
		elem_cmds(kbpf, kfd, kgot);
		for (int i = 0; i < 12; i++)
			UT_CHECK(got[i] == kgot[i], "command %d: uebpf %d, kernel %d", i, got[i],
				 kgot[i]);
		close(kfd);
	}
	close(fd);
}

UT_TEST(perf_buffer_new_checks)
{
	int pa = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "pa", 4, 4, (uint32_t)ncpus(), NULL);
	int rb = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rb", 0, 0, 4096, NULL);
	/* libbpf 1.1: page_cnt 0 or not a power of 2, or a map of another type: EINVAL. */
	errno = 0;
	UT_CHECK(!perf_buffer__new(pa, 0, sample_cb, lost_cb, NULL, NULL) && errno == EINVAL, "0");
	UT_CHECK(!perf_buffer__new(pa, 3, sample_cb, lost_cb, NULL, NULL) && errno == EINVAL, "3");
	UT_CHECK(!perf_buffer__new(rb, 1, sample_cb, lost_cb, NULL, NULL) && errno == EINVAL, "rb");
	struct perf_buffer_opts small = { .sz = 2 };
	UT_CHECK(!perf_buffer__new(pa, 1, sample_cb, lost_cb, NULL, &small) && errno == EINVAL,
		 "opts");
	struct perf_buffer *pb = perf_buffer__new(pa, 1, sample_cb, lost_cb, NULL, NULL);
	UT_CHECK(pb != NULL, "new: %d", errno);
	/* One buffer per online CPU (all are online here), up to max_entries. */
	UT_CHECK_EQ(perf_buffer__buffer_cnt(pb), ncpus());
	UT_CHECK(perf_buffer__epoll_fd(pb) >= 0, "epoll fd");
	perf_buffer__free(pb);
	int one = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "pa", 4, 4, 1, NULL);
	pb = perf_buffer__new(one, 1, sample_cb, lost_cb, NULL, NULL);
	UT_CHECK_EQ(perf_buffer__buffer_cnt(pb), 1);
	perf_buffer__free(pb);
	close(one), close(pa), close(rb);
}

UT_TEST(perf_output_records)
{
	pin_cpu0();
	int pa = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "pa", 4, 4, (uint32_t)ncpus() + 2, NULL);
	struct got *g = calloc(1, sizeof(*g));
	struct perf_buffer *pb = perf_buffer__new(pa, 1, sample_cb, lost_cb, g, NULL);
	UT_CHECK(pb != NULL, "new %d", errno);
	int sizes[] = { 1, 5, 9, 16 };
	for (int i = 0; i < 4; i++) {
		int p = output_prog(pa, BPF_F_CURRENT_CPU, sizes[i]);
		UT_CHECK_EQ(run_xdp(p), 0);
		close(p);
	}
	UT_CHECK_EQ(perf_buffer__poll(pb, 2000), 1);	/* one buffer (CPU 0) was ready */
	UT_CHECK_EQ(g->n, 4);
	/* Raw sizes are padded: round_up(size + 4, 8) - 4, as the kernel sent 1 -> 4,
	 * 5 -> 12, 9 -> 12 to libbpf on this machine; 16 -> 20. */
	uint32_t want[] = { 4, 12, 12, 20 };
	for (int i = 0; i < 4 && i < g->n; i++) {
		UT_CHECK_EQ(g->cpu[i], 0);
		UT_CHECK_EQ(g->size[i], want[i]);
		for (int b = 0; b < sizes[i]; b++)
			UT_CHECK_EQ(g->data[i][b], b + 1);
		for (uint32_t b = (uint32_t)sizes[i]; b < want[i]; b++)
			UT_CHECK_EQ(g->data[i][b], 0);	/* zero padding */
	}
	/* __bpf_perf_event_output(): index past max_entries E2BIG; an empty slot ENOENT;
	 * another CPU's buffer EOPNOTSUPP; flags outside index (and, for XDP, ctx length)
	 * EINVAL. */
	struct { uint64_t flags; uint32_t want; } e[] = {
		{ (uint64_t)ncpus() + 2, (uint32_t)-E2BIG }, { (uint64_t)ncpus(), (uint32_t)-ENOENT },
		{ 1, ncpus() > 1 ? (uint32_t)-EOPNOTSUPP : (uint32_t)-ENOENT },
		{ 1ull << 52, (uint32_t)-EINVAL },
	};
	for (size_t i = 0; i < NINSN(e); i++) {
		int p = output_prog(pa, e[i].flags, 4);
		UT_CHECK(run_xdp(p) == e[i].want, "case %zu", i);
		close(p);
	}
	perf_buffer__free(pb);
	free(g);
	close(pa);
}

UT_TEST(perf_output_packet_bytes)
{
	pin_cpu0();
	int pa = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "pa", 4, 4, (uint32_t)ncpus(), NULL);
	struct got *g = calloc(1, sizeof(*g));
	struct perf_buffer *pb = perf_buffer__new(pa, 2, sample_cb, lost_cb, g, NULL);
	/* XDP (bpf_xdp_event_output): flags' upper 32 bits ask for that many packet bytes
	 * after the data: 3 stack bytes + 14 packet bytes -> 17, padded to 20. */
	int p = output_prog(pa, BPF_F_CURRENT_CPU | (14ull << 32), 3);
	UT_CHECK_EQ(run_xdp(p), 0);
	close(p);
	/* More packet bytes than the packet has: EFAULT. */
	p = output_prog(pa, BPF_F_CURRENT_CPU | (65ull << 32), 3);
	UT_CHECK_EQ(run_xdp(p), (uint32_t)-EFAULT);
	close(p);
	UT_CHECK_EQ(perf_buffer__consume(pb), 0);
	UT_CHECK_EQ(g->n, 1);
	UT_CHECK_EQ(g->size[0], 20);
	UT_CHECK(g->data[0][0] == 1 && g->data[0][2] == 3 && !memcmp(g->data[0] + 3, rbx_pkt, 14),
		 "data then packet bytes");
	perf_buffer__free(pb);
	free(g);
	close(pa);
}

UT_TEST(perf_lost_and_wrap)
{
	pin_cpu0();
	int pa = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "pa", 4, 4, (uint32_t)ncpus(), NULL);
	struct got *g = calloc(1, sizeof(*g));
	struct perf_buffer *pb = perf_buffer__new(pa, 1, sample_cb, lost_cb, g, NULL);
	/* 16 bytes of data: a 8 + 4 + 20 = 32-byte record; 4096 / 32 = 128 fit. */
	int p = output_prog(pa, BPF_F_CURRENT_CPU, 16);
	for (int i = 0; i < 128; i++)
		UT_CHECK_EQ(run_xdp(p), 0);
	/* Full: perf_output_begin() fails with ENOSPC and counts the record lost. */
	UT_CHECK_EQ(run_xdp(p), (uint32_t)-ENOSPC);
	UT_CHECK_EQ(run_xdp(p), (uint32_t)-ENOSPC);
	UT_CHECK_EQ(run_xdp(p), (uint32_t)-ENOSPC);
	UT_CHECK_EQ(perf_buffer__consume(pb), 0);
	UT_CHECK_EQ(g->n, 128);
	UT_CHECK_EQ(g->lost, 0);
	/* The next output first writes PERF_RECORD_LOST (24 bytes) with the count, then
	 * the sample. Data head is at 4096 -> the records go on from the start. Then enough
	 * records to cross the end of the data area with a record split in two. */
	UT_CHECK_EQ(run_xdp(p), 0);
	UT_CHECK_EQ(perf_buffer__consume(pb), 0);
	UT_CHECK_EQ(g->lost, 3);
	UT_CHECK_EQ(g->lost_calls, 1);
	UT_CHECK_EQ(g->n, 129);
	for (int i = 0; i < 127; i++)	/* 4096 + 24 + 32 * 128 = 8216: past 8192 */
		UT_CHECK_EQ(run_xdp(p), 0);
	UT_CHECK_EQ(perf_buffer__consume(pb), 0);
	UT_CHECK_EQ(g->n, 256);
	int whole = 1;
	for (int i = 0; i < 256; i++)
		whole &= g->size[i] == 20 && g->data[i][0] == 1 && g->data[i][15] == 16;
	UT_CHECK(whole, "a record is not whole");
	perf_buffer__free(pb);
	free(g);
	close(p);
	close(pa);
}

struct pwait {
	struct perf_buffer *pb;
	int got;
};

static void *poll_thread(void *arg)
{
	struct pwait *w = arg;
	w->got = perf_buffer__poll(w->pb, 10000);
	return NULL;
}

UT_TEST(perf_poll_wakes)
{
	pin_cpu0();
	int pa = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "pa", 4, 4, (uint32_t)ncpus(), NULL);
	struct got *g = calloc(1, sizeof(*g));
	struct perf_buffer *pb = perf_buffer__new(pa, 1, sample_cb, lost_cb, g, NULL);
	int p = output_prog(pa, BPF_F_CURRENT_CPU, 8);
	struct pwait w = { pb, 0 };
	pthread_t t;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&t, NULL, poll_thread, &w);
	usleep(100 * 1000);
	UT_CHECK_EQ(run_xdp(p), 0);
	pthread_join(t, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	UT_CHECK_EQ(w.got, 1);
	UT_CHECK(t1.tv_sec - t0.tv_sec < 5, "woke late");
	UT_CHECK_EQ(g->n, 1);
	/* Once freed, the array's slots are empty again (libbpf deletes its keys). */
	perf_buffer__free(pb);
	UT_CHECK_EQ(run_xdp(p), (uint32_t)-ENOENT);
	free(g);
	close(p);
	close(pa);
}
