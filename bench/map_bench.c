/*
 * map_bench (part of `make bench`): map speed and memory, each uebpf figure next to the
 * running kernel's, measured in the same run.
 *
 *   user hash lookup / update   bpf_map_lookup_elem / bpf_map_update_elem on a hash map of
 *                               1000 u32 -> u64 entries (uebpf: its <bpf/bpf.h>; kernel:
 *                               the bpf() syscall). ns per call, thread CPU time.
 *   prog array / hash lookup    a program calling bpf_map_lookup_elem 1000 times in a
 *                               loop (uebpf: its JIT, trusted; kernel: BPF_PROG_TEST_RUN,
 *                               which reports ns per run). ns per iteration, loop included.
 *   ring buffer                 64-byte records, one producer thread, one consumer thread
 *                               (uebpf: bpf_ringbuf_output's implementation called from C
 *                               and libbpf's ring_buffer__poll; kernel: a program calling
 *                               bpf_ringbuf_output run by BPF_PROG_TEST_RUN, consumed
 *                               through the mmapped ring by a loop like libbpf's).
 *                               Three figures: events over the wall clock (the target);
 *                               over the busier thread's CPU time (what two threads with a
 *                               core each would reach: on a shared machine the wall clock
 *                               also counts the time a thread waits for a CPU, while the
 *                               other spins waiting for it); and one thread producing and
 *                               consuming batches of 1000 (the ring's own cost per event).
 *   ring buffer delay           a slow stream (a record every 50 us) read by
 *                               ring_buffer__poll on another thread: microseconds from the
 *                               output to the callback, median and worst of 2000 records
 *                               (what the reader's batching of fast streams costs a slow
 *                               one; no target).
 *   hash memory                 bytes of the map's memory per entry beyond key and value
 *                               (uebpf: the map file's size; kernel: bpf_map_info's
 *                               memlock figure from /proc/self/fdinfo).
 * A figure is the best of REPS repetitions. The targets of issue 3 are printed alongside.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <uebpf/uebpf.h>
#include "helpers/helpers.h"
#include "maps/map.h"

#define REPS		5
#define NKEYS		1000
#define LOOP_N		1000	/* lookups per program run */
#define REC		64	/* ring buffer record */
#define RB_SIZE		(4u << 20)

static volatile uint64_t sink;

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the kernel, through the raw syscall (bpf_* names here are uebpf's) ---- */

static long kbpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

static int k_map_create(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max)
{
	union bpf_attr a = { .map_type = type, .key_size = ks, .value_size = vs,
			     .max_entries = max };
	return (int)kbpf(BPF_MAP_CREATE, &a);
}

static int k_elem(int cmd, int fd, const void *key, void *value, uint64_t flags)
{
	union bpf_attr a = { .map_fd = (uint32_t)fd, .key = (uintptr_t)key,
			     .value = (uintptr_t)value, .flags = flags };
	return (int)kbpf(cmd, &a);
}

static int k_prog_load(const struct bpf_insn *p, size_t n)
{
	union bpf_attr a = { .prog_type = BPF_PROG_TYPE_XDP, .insns = (uintptr_t)p,
			     .insn_cnt = (uint32_t)n, .license = (uintptr_t)"GPL" };
	return (int)kbpf(BPF_PROG_LOAD, &a);
}

/* ns per run of BPF_PROG_TEST_RUN over `repeat` runs, or -1. */
static double k_test_run(int fd, uint32_t repeat)
{
	uint8_t pkt[64] = { 0 };
	union bpf_attr a = { .test = { .prog_fd = (uint32_t)fd, .data_in = (uintptr_t)pkt,
				       .data_size_in = sizeof(pkt), .repeat = repeat } };
	return kbpf(BPF_PROG_TEST_RUN, &a) ? -1 : (double)a.test.duration;
}

/* ---- printing ---- */

static void row(const char *what, const char *unit, double ub, double kern, const char *target,
		int ok)
{
	char k[32] = "n/a", u[32] = "n/a";

	if (ub >= 0)
		snprintf(u, sizeof(u), "%.1f %s", ub, unit);
	if (kern >= 0)
		snprintf(k, sizeof(k), "%.1f %s", kern, unit);
	printf("%-28s %16s %16s   %-14s %s\n", what, u, k, target, ub < 0 ? "" : ok ? "ok" : "MISSED");
}

/* ---- user-space hash lookup and update ---- */

typedef int (*elem_fn)(int fd, const void *key, void *value, uint64_t flags);

static int ub_lookup(int fd, const void *k, void *v, uint64_t f)
{
	return bpf_map_lookup_elem(fd, k, v);
}

static int ub_update(int fd, const void *k, void *v, uint64_t f)
{
	return bpf_map_update_elem(fd, k, v, f);
}

static int kn_lookup(int fd, const void *k, void *v, uint64_t f)
{
	return k_elem(BPF_MAP_LOOKUP_ELEM, fd, k, v, 0);
}

static int kn_update(int fd, const void *k, void *v, uint64_t f)
{
	return k_elem(BPF_MAP_UPDATE_ELEM, fd, k, v, f);
}

/* Best ns per call of fn over the keys, `rounds` passes per repetition. */
static double time_elem(elem_fn fn, int fd, unsigned rounds)
{
	double best = -1;
	uint64_t v = 0, errs = 0;

	for (int r = 0; r < REPS; r++) {
		double t0 = cpu_ns();
		for (unsigned i = 0; i < rounds; i++)
			for (uint32_t k = 0; k < NKEYS; k++) {
				v += k;
				errs += fn(fd, &k, &v, BPF_ANY) != 0;
			}
		double ns = (cpu_ns() - t0) / ((double)rounds * NKEYS);
		if (best < 0 || ns < best)
			best = ns;
	}
	sink += v;
	return errs ? -1 : best;
}

static int fill(elem_fn fn, int fd)
{
	for (uint32_t k = 0; k < NKEYS; k++) {
		uint64_t v = k;
		if (fn(fd, &k, &v, BPF_ANY))
			return -1;
	}
	return 0;
}

static void bench_user(int kern_ok)
{
	int ufd = bpf_map_create(BPF_MAP_TYPE_HASH, "b_user", 4, 8, 2 * NKEYS, NULL);
	int kfd = kern_ok ? k_map_create(BPF_MAP_TYPE_HASH, 4, 8, 2 * NKEYS) : -1;
	double ul = -1, uu = -1, kl = -1, ku = -1;

	if (ufd >= 0 && !fill(ub_update, ufd)) {
		ul = time_elem(ub_lookup, ufd, 2000);
		uu = time_elem(ub_update, ufd, 1000);
	}
	if (kfd >= 0 && !fill(kn_update, kfd)) {
		kl = time_elem(kn_lookup, kfd, 100);
		ku = time_elem(kn_update, kfd, 100);
	}
	row("user hash lookup", "ns", ul, kl, "<= 30 ns", ul >= 0 && ul <= 30);
	row("user hash update", "ns", uu, ku, "<= 60 ns", uu >= 0 && uu <= 60);
	close(ufd);
	if (kfd >= 0)
		close(kfd);
}

/* ---- lookups from programs ---- */

/*
 * r6 = LOOP_N; r7 = 0
 * loop: *(u32 *)(r10 - 4) = r6 & mask; r1 = map; r2 = r10 - 4; call map_lookup_elem
 *       if r0 == 0 goto next; r7 += *(u64 *)(r0 + 0)
 * next: r6 -= 1; if r6 != 0 goto loop
 * r0 = r7 & 1 (XDP_DROP / XDP_ABORTED are fine: nothing is received); exit
 * `map` is a map fd (BPF_PSEUDO_MAP_FD) for the kernel, a map address for uebpf.
 */
static size_t lookup_prog(struct bpf_insn *p, uint8_t src, uint64_t map)
{
	size_t n = 0;

	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 6, .imm = LOOP_N };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 7, .imm = 0 };
	size_t loop = n;
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 1, .src_reg = 6 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = 1, .imm = 511 };
	p[n++] = (struct bpf_insn){ .code = BPF_STX | BPF_MEM | BPF_W, .dst_reg = 10, .src_reg = 1,
				    .off = -4 };
	p[n++] = (struct bpf_insn){ .code = BPF_LD | BPF_IMM | BPF_DW, .dst_reg = 1, .src_reg = src,
				    .imm = (int32_t)(uint32_t)map };
	p[n++] = (struct bpf_insn){ .imm = (int32_t)(uint32_t)(map >> 32) };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -4 };
	p[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem };
	p[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = 0, .off = 2 };
	p[n++] = (struct bpf_insn){ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = 1, .src_reg = 0 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_X, .dst_reg = 7, .src_reg = 1 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_SUB | BPF_K, .dst_reg = 6, .imm = 1 };
	p[n] = (struct bpf_insn){ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 6,
				  .off = (int16_t)((int)loop - (int)n - 1) };
	n++;
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 0, .src_reg = 7 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = 0, .imm = 1 };
	p[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	return n;
}

/* uebpf: the JIT, trusted, run directly; ns per iteration (best of REPS). */
static double ub_prog_lookup(int map_fd)
{
	struct ub_map *map = ub_map_get(map_fd);
	struct bpf_insn p[32];
	struct uebpf_prog *prog = NULL;
	char log[256] = "";
	double best = -1;

	if (!map)
		return -1;
	size_t n = lookup_prog(p, 0, (uintptr_t)map);
	struct uebpf_prog_opts o = { .sz = sizeof(o), .engine = UEBPF_ENGINE_JIT,
				     .flags = UEBPF_PROG_F_TRUSTED, .log_buf = log,
				     .log_size = sizeof(log) };
	if (uebpf_prog_new(p, n, &o, &prog)) {
		fprintf(stderr, "map_bench: uebpf_prog_new: %s\n", log);
		ub_map_put(map);
		return -1;
	}
	uint8_t ctx[64] = { 0 };
	for (int r = 0; r < REPS; r++) {
		double t0 = cpu_ns();
		for (int i = 0; i < 2000; i++)
			sink += uebpf_prog_run(prog, ctx);
		double ns = (cpu_ns() - t0) / (2000.0 * LOOP_N);
		if (best < 0 || ns < best)
			best = ns;
	}
	uebpf_prog_free(prog);
	ub_map_put(map);
	return best;
}

static double k_prog_lookup(int map_fd)
{
	struct bpf_insn p[32];
	size_t n = lookup_prog(p, BPF_PSEUDO_MAP_FD, (uint32_t)map_fd);
	int fd = k_prog_load(p, n);
	double best = -1;

	for (int r = 0; fd >= 0 && r < REPS; r++) {
		double ns = k_test_run(fd, 2000);
		if (ns >= 0 && (best < 0 || ns < best))
			best = ns;
	}
	if (fd >= 0)
		close(fd);
	return best < 0 ? -1 : best / LOOP_N;
}

static void bench_prog(int kern_ok)
{
	static const struct { uint32_t type; const char *name, *target; double max; } t[] = {
		{ BPF_MAP_TYPE_ARRAY, "prog array lookup", "<= 5 ns", 5 },
		{ BPF_MAP_TYPE_HASH, "prog hash lookup", "<= 20 ns", 20 },
	};
	for (size_t i = 0; i < 2; i++) {
		int ufd = bpf_map_create(t[i].type, "b_prog", 4, 8, 512, NULL);
		int kfd = kern_ok ? k_map_create(t[i].type, 4, 8, 512) : -1;
		for (uint32_t k = 0; k < 512; k++) {
			uint64_t v = k;
			bpf_map_update_elem(ufd, &k, &v, 0);
			if (kfd >= 0)
				k_elem(BPF_MAP_UPDATE_ELEM, kfd, &k, &v, 0);
		}
		double u = ufd >= 0 ? ub_prog_lookup(ufd) : -1;
		double k = kfd >= 0 ? k_prog_lookup(kfd) : -1;
		row(t[i].name, "ns", u, k, t[i].target, u >= 0 && u <= t[i].max);
		close(ufd);
		if (kfd >= 0)
			close(kfd);
	}
}

/* ---- ring buffer: one producer, one consumer ---- */

struct rb_bench {
	long events;
	double cpu_prod, cpu_cons;	/* each thread's CPU time, s */
	long consumed __attribute__((aligned(64)));
	int done __attribute__((aligned(64)));
	struct ub_map *map;
	int map_fd;
	/* the kernel's ring, mapped */
	uint64_t *cons, *prod;
	uint8_t *data;
	uint64_t mask;
	int prog_fd;
};

static int count_cb(void *ctx, void *data, size_t size)
{
	((struct rb_bench *)ctx)->consumed++;
	return 0;
}

static void *ub_consumer(void *arg)
{
	struct rb_bench *b = arg;
	struct ring_buffer *rb = ring_buffer__new(b->map_fd, count_cb, b, NULL);

	while (rb && b->consumed < b->events)
		if (ring_buffer__poll(rb, 100) <= 0 && __atomic_load_n(&b->done, __ATOMIC_ACQUIRE) &&
		    ring_buffer__consume(rb) <= 0)
			break;
	ring_buffer__free(rb);
	return NULL;
}

static void *ub_producer(void *arg)
{
	struct rb_bench *b = arg;
	uint8_t rec[REC] = { 1, 2, 3 };

	for (long i = 0; i < b->events; i++) {
		memcpy(rec, &i, sizeof(i));
		while ((int64_t)ub_h_ringbuf_output((uintptr_t)b->map, (uintptr_t)rec, REC, 0, 0))
			for (int k = 0; k < 64; k++)
				__builtin_ia32_pause();	/* full: let the consumer catch up */
	}
	__atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The kernel's ring, read as libbpf's ringbuf_process_ring() reads it (spinning). */
static void *k_consumer(void *arg)
{
	struct rb_bench *b = arg;
	uint64_t cons = __atomic_load_n(b->cons, __ATOMIC_ACQUIRE);

	for (;;) {
		uint64_t prod = __atomic_load_n(b->prod, __ATOMIC_ACQUIRE);
		if (cons == prod) {
			if (__atomic_load_n(&b->done, __ATOMIC_ACQUIRE) &&
			    cons == __atomic_load_n(b->prod, __ATOMIC_ACQUIRE))
				break;
			__builtin_ia32_pause();
			continue;
		}
		while (cons < prod) {
			uint32_t len = __atomic_load_n((uint32_t *)(void *)(b->data + (cons & b->mask)),
						       __ATOMIC_ACQUIRE);
			if (len & BPF_RINGBUF_BUSY_BIT)
				break;
			cons += ((len & ~(uint32_t)BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
			if (!(len & BPF_RINGBUF_DISCARD_BIT))
				b->consumed++;
			__atomic_store_n(b->cons, cons, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

/* Runs the program until `events` records went in (a full ring drops a run's record). */
static void *k_producer(void *arg)
{
	struct rb_bench *b = arg;
	long runs = 0;

	while (runs < b->events) {
		long chunk = b->events - runs < 100000 ? b->events - runs : 100000;
		if (k_test_run(b->prog_fd, (uint32_t)chunk) < 0)
			break;
		runs += chunk;
	}
	__atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct timed {
	struct rb_bench *b;
	void *(*fn)(void *);
	double *cpu;
};

static void *timed_thread(void *arg)
{
	struct timed *t = arg;
	double c0 = cpu_ns();

	t->fn(t->b);
	*t->cpu = (cpu_ns() - c0) / 1e9;
	return NULL;
}

/*
 * M events consumed per second, end to end (first start to last record), wall clock; and
 * in *per_cpu the same count over the busier thread's CPU time: what two threads that each
 * had a core to themselves would reach (this machine is shared: the wall clock also counts
 * the time either thread waited for a CPU).
 */
static double rb_run(struct rb_bench *b, void *(*prod)(void *), void *(*cons)(void *),
		     double *per_cpu)
{
	pthread_t c, p;
	struct timed tc = { b, cons, &b->cpu_cons }, tp = { b, prod, &b->cpu_prod };

	b->consumed = 0;
	b->done = 0;
	double t0 = wall_s();
	pthread_create(&c, NULL, timed_thread, &tc);
	pthread_create(&p, NULL, timed_thread, &tp);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	double busiest = b->cpu_prod > b->cpu_cons ? b->cpu_prod : b->cpu_cons;
	*per_cpu = (double)b->consumed / busiest / 1e6;
	return (double)b->consumed / (wall_s() - t0) / 1e6;
}

/* r0 = bpf_ringbuf_output(map, fp - 64, 64, 0) after writing 64 bytes of stack. */
static size_t rb_prog(struct bpf_insn *p, int map_fd)
{
	size_t n = 0;

	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1, .imm = 7 };
	for (int off = -REC; off < 0; off += 8)
		p[n++] = (struct bpf_insn){ .code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = 10,
					    .src_reg = 1, .off = (int16_t)off };
	p[n++] = (struct bpf_insn){ .code = BPF_LD | BPF_IMM | BPF_DW, .dst_reg = 1,
				    .src_reg = BPF_PSEUDO_MAP_FD, .imm = map_fd };
	p[n++] = (struct bpf_insn){ 0 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -REC };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3, .imm = REC };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 4, .imm = 0 };
	p[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_ringbuf_output };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS };
	p[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	return n;
}

/* The kernel's side of a ring benchmark: a ring buffer map, the program that outputs into
 * it (b->prog_fd) and the ring mapped (b->cons, b->prod, b->data). 0 when all is there;
 * k_rb_close() undoes what was made either way. */
static int k_rb_open(struct rb_bench *b)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct bpf_insn p[32];

	b->mask = RB_SIZE - 1;
	b->prog_fd = -1;
	b->cons = b->prod = NULL;
	b->map_fd = k_map_create(BPF_MAP_TYPE_RINGBUF, 0, 0, RB_SIZE);
	if (b->map_fd < 0)
		return -1;
	b->prog_fd = k_prog_load(p, rb_prog(p, b->map_fd));
	void *c = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, b->map_fd, 0);
	void *d = mmap(NULL, (size_t)pg + 2 * RB_SIZE, PROT_READ, MAP_SHARED, b->map_fd, pg);
	b->cons = c == MAP_FAILED ? NULL : c;
	b->prod = d == MAP_FAILED ? NULL : d;
	b->data = b->prod ? (uint8_t *)d + pg : NULL;
	return b->prog_fd >= 0 && b->cons && b->prod ? 0 : -1;
}

static void k_rb_close(struct rb_bench *b)
{
	long pg = sysconf(_SC_PAGESIZE);

	if (b->cons)
		munmap(b->cons, (size_t)pg);
	if (b->prod)
		munmap(b->prod, (size_t)pg + 2 * RB_SIZE);
	if (b->prog_fd >= 0)
		close(b->prog_fd);
	if (b->map_fd >= 0)
		close(b->map_fd);
}

static double k_ringbuf(long events, double *per_cpu)
{
	struct rb_bench b = { .events = events };
	double best = -1;

	if (!k_rb_open(&b)) {
		for (int r = 0; r < 3; r++) {
			double pc, m = rb_run(&b, k_producer, k_consumer, &pc);
			if (m > best)
				best = m;
			if (pc > *per_cpu)
				*per_cpu = pc;
		}
	}
	k_rb_close(&b);
	return best;
}

static double ub_ringbuf(long events, double *per_cpu)
{
	struct rb_bench b = { .events = events };
	double best = -1;

	b.map_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "b_rb", 0, 0, RB_SIZE, NULL);
	b.map = b.map_fd >= 0 ? ub_map_get(b.map_fd) : NULL;
	if (!b.map)
		return -1;
	for (int r = 0; r < 3; r++) {
		double pc, m = rb_run(&b, ub_producer, ub_consumer, &pc);
		if (m > best && b.consumed == b.events)
			best = m;
		if (pc > *per_cpu && b.consumed == b.events)
			*per_cpu = pc;
	}
	ub_map_put(b.map);
	close(b.map_fd);
	return best;
}

/*
 * One thread, batches of 1000 records produced then consumed: the ring's own cost per
 * event on both sides, without waiting for another thread to be scheduled. M events/s.
 */
static double ub_ringbuf_1thread(long events)
{
	struct rb_bench b = { .events = events };
	uint8_t rec[REC] = { 1 };
	double best = -1;

	b.map_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "b_rb1", 0, 0, RB_SIZE, NULL);
	b.map = b.map_fd >= 0 ? ub_map_get(b.map_fd) : NULL;
	struct ring_buffer *rb = b.map ? ring_buffer__new(b.map_fd, count_cb, &b, NULL) : NULL;
	for (int r = 0; rb && r < REPS; r++) {
		b.consumed = 0;
		double t0 = cpu_ns();
		for (long i = 0; i < events; i += 1000) {
			for (int j = 0; j < 1000; j++)
				ub_h_ringbuf_output((uintptr_t)b.map, (uintptr_t)rec, REC, BPF_RB_NO_WAKEUP, 0);
			ring_buffer__consume(rb);
		}
		double m = (double)b.consumed / ((cpu_ns() - t0) / 1e9) / 1e6;
		if (b.consumed == events && m > best)
			best = m;
	}
	ring_buffer__free(rb);
	ub_map_put(b.map);
	close(b.map_fd);
	return best;
}

/* The same for the kernel: a test run of 1000 outputs, then the records read. */
static double k_ringbuf_1thread(long events)
{
	struct rb_bench b = { .events = events };
	double best = -1;

	if (!k_rb_open(&b)) {
		for (int r = 0; r < REPS; r++) {
			b.consumed = 0;
			double t0 = cpu_ns();
			for (long i = 0; i < events; i += 1000) {
				k_test_run(b.prog_fd, 1000);
				b.done = 1;	/* k_consumer returns once the ring is empty */
				k_consumer(&b);
			}
			double m = (double)b.consumed / ((cpu_ns() - t0) / 1e9) / 1e6;
			if (m > best)
				best = m;
		}
	}
	k_rb_close(&b);
	return best;
}

/* ---- ring buffer delay on a slow stream ---- */

#define DELAY_N		2000
#define DELAY_GAP_NS	50000

struct rb_delay {
	double sent[DELAY_N], got[DELAY_N];
	long n;	/* records received */
	int done;
};

static int delay_cb(void *ctx, void *data, size_t size)
{
	struct rb_delay *d = ctx;
	uint64_t i;

	memcpy(&i, data, sizeof(i));
	if (i < DELAY_N)
		d->got[i] = wall_s();
	d->n++;
	return 0;
}

struct delay_args {
	struct rb_delay *d;
	struct ub_map *map;
	int map_fd;
};

static void *delay_consumer(void *arg)
{
	struct delay_args *a = arg;
	struct ring_buffer *rb = ring_buffer__new(a->map_fd, delay_cb, a->d, NULL);

	while (rb && a->d->n < DELAY_N && !__atomic_load_n(&a->d->done, __ATOMIC_ACQUIRE))
		ring_buffer__poll(rb, 100);
	ring_buffer__free(rb);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median and worst delay, us, of DELAY_N records output DELAY_GAP_NS apart. */
static void ub_ringbuf_delay(double *median, double *worst)
{
	static struct rb_delay d;
	struct delay_args a = { .d = &d };
	uint8_t rec[REC] = { 0 };
	pthread_t c;

	*median = *worst = -1;
	a.map_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "b_rbd", 0, 0, RB_SIZE, NULL);
	a.map = a.map_fd >= 0 ? ub_map_get(a.map_fd) : NULL;
	if (!a.map)
		return;
	memset(&d, 0, sizeof(d));
	pthread_create(&c, NULL, delay_consumer, &a);
	usleep(10000);	/* the reader asleep in epoll_wait first */
	for (uint64_t i = 0; i < DELAY_N; i++) {
		double next = wall_s() + DELAY_GAP_NS / 1e9;
		memcpy(rec, &i, sizeof(i));
		d.sent[i] = wall_s();
		ub_h_ringbuf_output((uintptr_t)a.map, (uintptr_t)rec, REC, 0, 0);
		while (wall_s() < next)
			;
	}
	usleep(200000);
	__atomic_store_n(&d.done, 1, __ATOMIC_RELEASE);
	pthread_join(c, NULL);
	if (d.n == DELAY_N) {
		for (int i = 0; i < DELAY_N; i++)
			d.got[i] = (d.got[i] - d.sent[i]) * 1e6;
		qsort(d.got, DELAY_N, sizeof(d.got[0]), cmp_double);
		*median = d.got[DELAY_N / 2];
		*worst = d.got[DELAY_N - 1];
	}
	ub_map_put(a.map);
	close(a.map_fd);
}

/* ---- memory per hash entry ---- */

/* The kernel's own figure for a map: memlock from /proc/self/fdinfo, or -1. */
static double k_memlock(int fd)
{
	char path[64], line[256];
	double v = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "memlock:", 8))
			v = strtod(line + 8, NULL);
	if (f)
		fclose(f);
	return v;
}

/* Bytes per entry beyond key and value, for max entries of 8-byte keys, 16-byte values. */
static void bench_memory_of(int kern_ok, uint32_t max, const char *what)
{
	const uint32_t ks = 8, vs = 16;
	int ufd = bpf_map_create(BPF_MAP_TYPE_HASH, "b_mem", ks, vs, max, NULL);
	int kfd = kern_ok ? k_map_create(BPF_MAP_TYPE_HASH, ks, vs, max) : -1;
	struct ub_map *m = ufd >= 0 ? ub_map_get(ufd) : NULL;
	double u = m ? (double)m->map_size / max - ks - vs : -1;
	double k = kfd >= 0 ? k_memlock(kfd) : -1;

	if (k >= 0)
		k = k / max - ks - vs;
	row(what, "B", u, k, "<= 32 B", u >= 0 && u <= 32);
	ub_map_put(m);
	close(ufd);
	if (kfd >= 0)
		close(kfd);
}

/* 100000 entries; and 65537, just over a power of two, where the bucket array (a power of
 * two, one bucket per entry at least) is largest per entry. */
static void bench_memory(int kern_ok)
{
	bench_memory_of(kern_ok, 100000, "hash overhead/entry, 100000");
	bench_memory_of(kern_ok, 65537, "hash overhead/entry, 65537");
}

int main(int argc, char **argv)
{
	long events = argc > 1 ? atol(argv[1]) : 5000000;
	union bpf_attr probe = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4,
				 .max_entries = 1 };
	int pfd = (int)kbpf(BPF_MAP_CREATE, &probe);
	int kern_ok = pfd >= 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (kern_ok)
		close(pfd);
	else
		printf("map_bench: kernel column skipped: bpf(): %s\n", strerror(errno));
	printf("%-28s %16s %16s   %-14s\n", "map operation", "uebpf", "kernel", "target");
	bench_user(kern_ok);
	bench_prog(kern_ok);
	double upc = -1, kpc = -1;
	double u = ub_ringbuf(events, &upc), k = kern_ok ? k_ringbuf(events, &kpc) : -1;
	row("ring buffer 64 B, wall clock", "M/s", u, k, ">= 30 M/s", u >= 30);
	row("ring buffer 64 B, per CPU", "M/s", upc, kpc, ">= 30 M/s", upc >= 30);
	double u1 = ub_ringbuf_1thread(events / 10), k1 = kern_ok ? k_ringbuf_1thread(events / 10) : -1;
	row("ring buffer 64 B, 1 thread", "M/s", u1, k1, "(no target)", 1);
	double dm, dw;
	ub_ringbuf_delay(&dm, &dw);
	row("ring buffer delay, median", "us", dm, -1, "(no target)", 1);
	row("ring buffer delay, worst", "us", dw, -1, "(no target)", 1);
	bench_memory(kern_ok);
	return 0;
}
