/*
 * Limits: map shapes too large for the kernel get the kernel's errno (checked against the
 * live kernel side by side, skipped where bpf() is refused); the map memory budget
 * (UEBPF_MAP_MEMORY_LIMIT) and the bound of the memory available answer ENOMEM at creation,
 * never an OOM kill later; run statistics are exact under concurrency (against the kernel
 * too); an unverified program that loops forever stops at its instruction budget.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "ut.h"

static int kbpf(int cmd, union bpf_attr *attr)
{
	long rc = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
	return rc < 0 ? -errno : (int)rc;
}

static int kernel_ok(void)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	int fd = kbpf(BPF_MAP_CREATE, &a);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* ---- shapes too large: uebpf's answer must be the kernel's ---- */

struct shape {
	const char *what;
	uint32_t type, key, value, max, flags;
};

static const struct shape shapes[] = {
	{ "hash key+value at KMALLOC_MAX", BPF_MAP_TYPE_HASH, 4u << 20, 8, 1, 0 },
	{ "hash value near KMALLOC_MAX", BPF_MAP_TYPE_HASH, 8, (4u << 20) - 48, 1, 0 },
	{ "hash max_entries 2^31+1", BPF_MAP_TYPE_HASH, 4, 8, (1u << 31) + 1, 0 },
	{ "hash max_entries UINT32_MAX", BPF_MAP_TYPE_HASH, 4, 8, UINT32_MAX, 0 },
	{ "percpu hash value over 32 KiB", BPF_MAP_TYPE_PERCPU_HASH, 4, (32u << 10) + 1, 1, 0 },
	{ "percpu array value over 32 KiB", BPF_MAP_TYPE_PERCPU_ARRAY, 4, (32u << 10) + 1, 1, 0 },
	{ "array value over INT_MAX", BPF_MAP_TYPE_ARRAY, 4, 0x80000000u, 1, 0 },
	{ "lru hash key+value at KMALLOC_MAX", BPF_MAP_TYPE_LRU_HASH, 4u << 20, 8, 1, 0 },
	{ "hash key 0", BPF_MAP_TYPE_HASH, 0, 8, 1, 0 },
	{ "hash max_entries 0", BPF_MAP_TYPE_HASH, 4, 8, 0, 0 },
	{ "array key 8", BPF_MAP_TYPE_ARRAY, 8, 8, 1, 0 },
	{ "queue with a key", BPF_MAP_TYPE_QUEUE, 4, 8, 1, 0 },
	{ "ringbuf not a page multiple", BPF_MAP_TYPE_RINGBUF, 0, 0, 4097, 0 },
	{ "lpm key over 256+4 bytes", BPF_MAP_TYPE_LPM_TRIE, 4 + 257, 8, 1, BPF_F_NO_PREALLOC },
};

UT_TEST(limits_shapes_vs_kernel)
{
	int kern = kernel_ok();

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct shape *s = &shapes[i];
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = s->flags);
		int u = bpf_map_create(s->type, "lim", s->key, s->value, s->max, &o);
		if (u >= 0)
			close(u);
		UT_CHECK(u < 0, "%s: uebpf accepted it", s->what);
		if (!kern)
			continue;
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = s->type;
		a.key_size = s->key;
		a.value_size = s->value;
		a.max_entries = s->max;
		a.map_flags = s->flags;
		int k = kbpf(BPF_MAP_CREATE, &a);
		if (k >= 0) {
			close(k);
			k = 0;
		}
		UT_CHECK(u == k, "%s: uebpf %d, kernel %d", s->what, u, k);
	}
	if (!kern)
		ut_skip("bpf() refused: uebpf's answers only checked to be errors");
}

/* ---- memory ---- */

UT_TEST(limits_map_memory_budget)
{
	setenv("UEBPF_MAP_MEMORY_LIMIT", "1M", 1);
	/* 512 KiB of values, plus the header page and the journal: one fits, two do not. */
	int a = bpf_map_create(BPF_MAP_TYPE_ARRAY, "a", 4, 8, 64 * 1024, NULL);
	UT_CHECK(a >= 0, "first map under the limit: %d", a);
	int b = bpf_map_create(BPF_MAP_TYPE_ARRAY, "b", 4, 8, 64 * 1024, NULL);
	UT_CHECK(b == -ENOMEM, "second map over the limit: %d, want -ENOMEM", b);
	UT_CHECK_STR(uebpf_last_error(), "UEBPF_MAP_MEMORY_LIMIT");
	close(a);	/* its memory comes back once uebpf sees the fd closed */
	b = bpf_map_create(BPF_MAP_TYPE_ARRAY, "b", 4, 8, 64 * 1024, NULL);
	UT_CHECK(b >= 0, "after the first is closed: %d", b);
	close(b);
	setenv("UEBPF_MAP_MEMORY_LIMIT", "64K", 1);
	b = bpf_map_create(BPF_MAP_TYPE_HASH, "h", 4, 8, 64 * 1024, NULL);
	UT_CHECK(b == -ENOMEM, "a hash over the limit: %d", b);
	setenv("UEBPF_MAP_MEMORY_LIMIT", "lots", 1);
	b = bpf_map_create(BPF_MAP_TYPE_ARRAY, "b", 4, 8, 1, NULL);
	UT_CHECK(b == -EINVAL, "a limit that is no size: %d, want -EINVAL", b);
	UT_CHECK_STR(uebpf_last_error(), "not a size");
	unsetenv("UEBPF_MAP_MEMORY_LIMIT");
}

static unsigned long long mem_available(void)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/*
 * A map about twice the memory available (but under uebpf's 64 GiB bound on one map, so
 * that this bound is the one tried): ENOMEM at once, not a process killed later.
 */
UT_TEST(limits_map_larger_than_memory)
{
	unsigned long long avail = mem_available();

	if (!avail || avail > (30ull << 30)) {
		ut_skip("MemAvailable %llu: too large to ask for twice of it", avail);
		return;
	}
	uint32_t value = 1u << 16;	/* 64 KiB values */
	uint32_t n = (uint32_t)(2 * avail / value);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "huge", 4, value, n, NULL);
	if (fd >= 0)
		close(fd);
	UT_CHECK(fd == -ENOMEM, "array of %llu bytes with %llu available: %d, want -ENOMEM",
		 (unsigned long long)n * value, avail, fd);
}

/* ---- run statistics under concurrency ---- */

#define THREADS	4
#define RUNS	500

static const struct bpf_insn ret0[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

struct runner {
	int fd, kernel, errors;
};

static void *run_many(void *arg)
{
	struct runner *r = arg;
	uint8_t pkt[64] = { 0 };

	for (int i = 0; i < RUNS; i++) {
		int rc;
		if (r->kernel) {
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.test.prog_fd = (uint32_t)r->fd;
			a.test.data_in = (uint64_t)(uintptr_t)pkt;
			a.test.data_size_in = sizeof(pkt);
			a.test.repeat = 1;
			rc = kbpf(BPF_PROG_TEST_RUN, &a);
		} else {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
				    .repeat = 1);
			rc = bpf_prog_test_run_opts(r->fd, &o);
		}
		r->errors += rc != 0;
	}
	return NULL;
}

static void run_threads(int fd, int kernel, int *errors)
{
	pthread_t t[THREADS];
	struct runner r[THREADS];

	*errors = 0;
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct runner){ fd, kernel, 0 };
		pthread_create(&t[i], NULL, run_many, &r[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		*errors += r[i].errors;
	}
}

/* The kernel's count for the same threads and runs (-1 when bpf() is refused). */
static long long kernel_run_cnt(void)
{
	union bpf_attr a;
	struct bpf_prog_info info;
	char license[] = "GPL";
	int errors;

	if (!kernel_ok())
		return -1;
	memset(&a, 0, sizeof(a));
	a.enable_stats.type = BPF_STATS_RUN_TIME;
	int sfd = kbpf(BPF_ENABLE_STATS, &a);
	if (sfd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uint64_t)(uintptr_t)ret0;
	a.insn_cnt = 2;
	a.license = (uint64_t)(uintptr_t)license;
	int fd = kbpf(BPF_PROG_LOAD, &a);
	if (fd < 0) {
		close(sfd);
		return -1;
	}
	run_threads(fd, 1, &errors);
	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uint64_t)(uintptr_t)&info;
	int rc = kbpf(BPF_OBJ_GET_INFO_BY_FD, &a);
	close(fd);
	close(sfd);
	return rc || errors ? -1 : (long long)info.run_cnt;
}

UT_TEST(limits_run_stats_exact_under_concurrency)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int errors;

	int sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	UT_CHECK(sfd >= 0, "enable stats: %d", sfd);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "stats", "GPL", ret0, 2, NULL);
	UT_CHECK(fd >= 0, "load: %d", fd);
	if (fd < 0)
		return;
	run_threads(fd, 0, &errors);
	UT_CHECK(!errors, "%d runs failed", errors);
	memset(&info, 0, sizeof(info));
	UT_CHECK(!bpf_obj_get_info_by_fd(fd, &info, &len), "info");
	UT_CHECK_EQ(info.run_cnt, THREADS * RUNS);
	UT_CHECK(info.run_time_ns > 0, "run_time_ns is 0");
	long long k = kernel_run_cnt();
	if (k >= 0)
		UT_CHECK(k == THREADS * RUNS, "the kernel counts %lld for the same runs", k);
	else
		printf("  kernel comparison skipped: bpf() refused\n");
	close(fd);
	if (sfd >= 0)
		close(sfd);
}

/* ---- the instruction budget ---- */

UT_TEST(limits_unverified_loop_stops_at_budget)
{
	/* r0 = 0; loop: r0 += 1; goto loop: the verifier refuses it, so load it unverified. */
	const struct bpf_insn loop[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 0, .imm = 1 },
		{ .code = BPF_JMP | BPF_JA, .off = -2 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, lo);
	uint8_t pkt[64] = { 0 };

	int v = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "loop", "GPL", loop, 4, &lo);
	UT_CHECK(v < 0, "the verifier accepted an endless loop");
	if (v >= 0)
		close(v);
	lo.prog_flags = UEBPF_F_PROG_UNVERIFIED;
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "loop", "GPL", loop, 4, &lo);
	UT_CHECK(fd >= 0, "unverified load: %d", fd);
	if (fd < 0)
		return;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));
	int rc = bpf_prog_test_run_opts(fd, &o);
	UT_CHECK(rc == -ETIME, "endless loop run: %d, want -ETIME", rc);
	UT_CHECK_STR(uebpf_last_error(), "budget");
	close(fd);
}
