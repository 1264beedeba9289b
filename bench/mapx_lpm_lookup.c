/*
 * LPM trie lookups from programs, with and without concurrent writers: what the seqlock
 * (lock-free lookups) buys over lookups that take the trie's lock. Not part of `make bench`
 * (bench.mk is shared); build it against two libraries, one made with
 * CFLAGS=-DUB_LPM_LOCKED_LOOKUPS=1, and compare:
 *   cc -O2 -Iinclude bench/mapx_lpm_lookup.c build/X/lib/libuebpf.a -lpthread -o lpm_bench
 *   ./lpm_bench READERS WRITERS   (prints each reader's CPU time per program run)
 * The kernel runs the same program as an anchor (skipped when bpf() is refused).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })
#define PREFIXES 10000
#define REPEAT 2000000

struct k4 { uint32_t pl; uint8_t d[4]; };

static int map_fd, stop;
static uint8_t pkt[64];

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

static struct k4 random_prefix(uint64_t *s)
{
	uint32_t a = rnd(s), pl = 8 + rnd(s) % 25;
	struct k4 k = { pl, { 10, (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a } };
	return k;
}

/* key {32, 10.x.y.z} from the packet's bytes 6..9, then lookup; returns found */
static size_t build(struct bpf_insn *p, int fd)
{
	struct bpf_insn b[] = {
		I(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0),		/* r2 = xdp->data */
		I(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 4, 0),		/* r3 = xdp->data_end */
		I(BPF_ALU64 | BPF_MOV | BPF_X, 4, 2, 0, 0),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, 10),
		I(BPF_JMP | BPF_JGT | BPF_X, 4, 3, 9, 0),		/* bounds check */
		I(BPF_LDX | BPF_MEM | BPF_W, 5, 2, 6, 0),
		I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -8, 32),
		I(BPF_STX | BPF_MEM | BPF_W, 10, 5, -4, 0),
		I(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8),
		I(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_FD, 0, fd), I(0, 0, 0, 0, 0),
		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
		I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0),
		I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	memcpy(p, b, sizeof(b));
	return sizeof(b) / sizeof(b[0]);
}

/* A reader's CPU time per run (ns): on a loaded machine wall-clock durations mostly
 * measure preemption; thread CPU time counts what the lookups cost, spinning included. */
static void *reader(void *arg)
{
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = REPEAT);
	struct timespec a, b;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	bpf_prog_test_run_opts(*(int *)arg, &t);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	long ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
	return (void *)(uintptr_t)(ns / REPEAT);
}

static void *writer(void *arg)
{
	uint64_t s = (uintptr_t)arg, v = 1;
	long ops = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct k4 k = random_prefix(&s);
		if (ops++ & 1)
			bpf_map_delete_elem(map_fd, &k);
		else
			bpf_map_update_elem(map_fd, &k, &v, BPF_ANY);
	}
	return (void *)ops;
}

static long kernel_anchor(void)
{
	union bpf_attr a;
	struct bpf_insn p[32];
	uint64_t s = 1, v = 1;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_LPM_TRIE, a.key_size = 8, a.value_size = 8;
	a.max_entries = 2 * PREFIXES, a.map_flags = BPF_F_NO_PREALLOC;
	int fd = (int)syscall(__NR_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	if (fd < 0)
		return -1;
	for (int i = 0; i < PREFIXES; i++) {
		struct k4 k = random_prefix(&s);
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)fd, a.key = (uintptr_t)&k, a.value = (uintptr_t)&v;
		syscall(__NR_bpf, BPF_MAP_UPDATE_ELEM, &a, sizeof(a));
	}
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP, a.insns = (uintptr_t)p, a.insn_cnt = (uint32_t)build(p, fd);
	a.license = (uintptr_t)"GPL";
	int prog = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)prog, a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt), a.test.repeat = REPEAT;
	long ns = prog >= 0 && !syscall(__NR_bpf, BPF_PROG_TEST_RUN, &a, sizeof(a)) ? a.test.duration
										      : -1;
	close(prog);
	close(fd);
	return ns;
}

int main(int argc, char **argv)
{
	int readers = argc > 1 ? atoi(argv[1]) : 1, writers = argc > 2 ? atoi(argv[2]) : 0;
	struct bpf_insn p[32];
	pthread_t r[64], w[64];
	uint64_t s = 1, v = 1;
	long wops = 0, ns = 0;

	memcpy(pkt + 6, (uint8_t[]){ 10, 1, 2, 3 }, 4);
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	map_fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "bench", 8, 8, 2 * PREFIXES, &o);
	for (int i = 0; i < PREFIXES; i++) {
		struct k4 k = random_prefix(&s);
		bpf_map_update_elem(map_fd, &k, &v, BPF_ANY);
	}
	int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "b", "GPL", p, build(p, map_fd), NULL);
	if (map_fd < 0 || prog < 0 || readers < 1 || readers > 64 || writers > 64)
		return 1;
	for (int i = 0; i < writers; i++)
		pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)(i + 2));
	for (int i = 0; i < readers; i++)
		pthread_create(&r[i], NULL, reader, &prog);
	for (int i = 0; i < readers; i++) {
		void *d;
		pthread_join(r[i], &d);
		ns += (long)(uintptr_t)d;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < writers; i++) {
		void *n;
		pthread_join(w[i], &n);
		wops += (long)(uintptr_t)n;
	}
	printf("uebpf: %d readers, %d writers: %ld ns of reader CPU per lookup run (mean), "
	       "%ld writer ops\n", readers, writers, ns / readers, wops);
	printf("kernel anchor (1 reader, no writer): %ld ns per run\n", kernel_anchor());
	return 0;
}
