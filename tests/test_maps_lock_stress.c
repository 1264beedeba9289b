/*
 * Concurrency of programs and user space on the same maps (threads x programs x user-space
 * updates); also built under ThreadSanitizer (`make tsan`).
 *
 *  - no torn values: programs update a 64-byte value under bpf_spin_lock (every word set
 *    to one new number) while user threads write whole values with BPF_F_LOCK and others
 *    read with BPF_F_LOCK; every read must find all 15 words equal. Hash and array.
 *  - no lost updates with atomics: programs on several threads add 1 to a counter with
 *    BPF_ATOMIC_ADD while user space reads it; the end count is exactly the number of runs.
 *  - no use-after-free: programs hold a hash value pointer and write through it many times
 *    while user threads delete and re-add that key (the element is reused); nothing may
 *    crash (and ASan/TSan builds must stay silent). uebpf's hash elements are never
 *    unmapped while the map lives (the kernel's preallocated maps give the same guarantee).
 *
 * Expected values follow from the operations themselves (see each test), not from uebpf.
 * Programs are loaded through the verifier when it accepts them, else unverified (checked
 * mode); the run says which.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "ut.h"
#include "maps_lock_btf.h"

#define WORDS	15		/* struct big_t: lock, then int w[15] */
#define RUNS	(UNDER_TSAN ? 2000 : 20000)	/* program runs per thread */
#define OPS	(UNDER_TSAN ? 2000 : 20000)	/* user operations per thread */

struct big {
	uint32_t lock;
	uint32_t w[WORDS];
};

static int btf_fd(void)
{
	static int fd = -2;
	size_t size;
	const void *blob = lock_btf(&size);

	if (fd == -2) {
		LIBBPF_OPTS(bpf_btf_load_opts, o);
		fd = bpf_btf_load(blob, size, &o);
	}
	return fd;
}

static int big_map(enum bpf_map_type type)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .btf_fd = (uint32_t)btf_fd(),
		    .btf_key_type_id = T_INT, .btf_value_type_id = T_BIG);
	return bpf_map_create(type, "big", 4, sizeof(struct big), 4, &o);
}

/* Loads through the verifier, else unverified (checked). *how says which. */
static int load(const struct bpf_insn *p, size_t n, const char **how)
{
	static char log[8192];
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "stress", "GPL", p, n, &o);

	*how = "verified";
	if (fd >= 0)
		return fd;
	LIBBPF_OPTS(bpf_prog_load_opts, u, .prog_flags = UEBPF_F_PROG_UNVERIFIED);
	*how = "unverified (the verifier refused it)";
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "stress", "GPL", p, n, &u);
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
						 .off = (o), .imm = (i) })

/* r0 = map_lookup_elem(map, &key 0); NULL: exit. r6 = r0 afterwards. */
static size_t lookup_key0(struct bpf_insn *p, size_t n, int map_fd, int out_off)
{
	p[n++] = INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0);
	p[n++] = INSN(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_FD, 0, map_fd);
	p[n++] = INSN(0, 0, 0, 0, 0);
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
	p[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4);
	p[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
	p[n] = INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, (int16_t)(out_off - (int)n - 1), 0);
	n++;
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 6, 0, 0, 0);
	return n;
}

/*
 * Under the value's lock: r7 = w[0] + 1, then every w[i] = r7. Without the lock a reader
 * (or another writer) could see some words old and some new.
 */
static int lock_prog(int map_fd, const char **how)
{
	struct bpf_insn p[64];
	size_t n = 0, out = 8 + 4 + WORDS + 2;	/* index of the exit sequence */

	n = lookup_key0(p, n, map_fd, (int)out);
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0);
	p[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_spin_lock);
	p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 7, 6, 4, 0);
	p[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, 7, 0, 0, 1);
	for (int i = 0; i < WORDS; i++)
		p[n++] = INSN(BPF_STX | BPF_MEM | BPF_W, 6, 7, (int16_t)(4 + 4 * i), 0);
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0);
	p[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_spin_unlock);
	if (n != out)
		return -1000;
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS);
	p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return load(p, n, how);
}

/* `iters` times: lock-free atomic add of 1 to w[0] (r6 = the value; an 8-step loop). */
static int atomic_prog(int map_fd, int iters, const char **how)
{
	struct bpf_insn p[32];
	size_t n = 0, out = 8 + 5;

	n = lookup_key0(p, n, map_fd, (int)out);
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 7, 0, 0, iters);
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 1);
	p[n++] = INSN(BPF_STX | BPF_ATOMIC | BPF_W, 6, 1, 4, BPF_ADD);
	p[n++] = INSN(BPF_ALU64 | BPF_SUB | BPF_K, 7, 0, 0, 1);
	p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 7, 0, -4, 0);
	if (n != out)
		return -1000;
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS);
	p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return load(p, n, how);
}

struct shared {
	int map_fd, prog_fd;
	int stop;			/* atomic: the programs are done */
	unsigned torn, bad_rc;		/* atomic counters */
	unsigned reads;
	uint32_t first_bad[WORDS + 1];
};

static void *run_prog(void *arg)
{
	struct shared *s = arg;
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = RUNS);

	if (bpf_prog_test_run_opts(s->prog_fd, &t) || t.retval != XDP_PASS)
		__atomic_add_fetch(&s->bad_rc, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Runs the program (in batches of 100) until the user threads are done. */
static void *run_prog_until_stop(void *arg)
{
	struct shared *s = arg;
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 100);

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		if (bpf_prog_test_run_opts(s->prog_fd, &t) || t.retval != XDP_PASS)
			__atomic_add_fetch(&s->bad_rc, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void *user_writer(void *arg)
{
	struct shared *s = arg;
	uint32_t key = 0;
	struct big v;

	for (unsigned i = 0; i < OPS; i++) {
		v.lock = 0;
		for (int w = 0; w < WORDS; w++)
			v.w[w] = 1000000 + i;
		if (bpf_map_update_elem(s->map_fd, &key, &v, BPF_F_LOCK))
			__atomic_add_fetch(&s->bad_rc, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *user_reader(void *arg)
{
	struct shared *s = arg;
	uint32_t key = 0;
	struct big v;

	for (unsigned i = 0; i < OPS; i++) {
		if (bpf_map_lookup_elem_flags(s->map_fd, &key, &v, BPF_F_LOCK)) {
			__atomic_add_fetch(&s->bad_rc, 1, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_add_fetch(&s->reads, 1, __ATOMIC_RELAXED);
		int torn = v.lock != 0;
		for (int w = 1; w < WORDS; w++)
			torn |= v.w[w] != v.w[0];
		if (torn && !__atomic_fetch_add(&s->torn, 1, __ATOMIC_RELAXED))
			memcpy(s->first_bad, &v, sizeof(v));
	}
	return NULL;
}

/* 2 program threads, 1 user writer, 2 user readers on key 0 of a map of `type`. */
static void torn_values(enum bpf_map_type type)
{
	struct shared s = { .map_fd = big_map(type) };
	const char *how = "";
	pthread_t th[5];
	struct big zero = { 0 };
	uint32_t key = 0;

	UT_CHECK(s.map_fd >= 0, "map create: %d (%s)", s.map_fd, uebpf_last_error());
	if (s.map_fd < 0)
		return;
	UT_CHECK_EQ(bpf_map_update_elem(s.map_fd, &key, &zero, BPF_ANY), 0);
	s.prog_fd = lock_prog(s.map_fd, &how);
	UT_CHECK(s.prog_fd >= 0, "program load: %d", s.prog_fd);
	if (s.prog_fd >= 0) {
		printf("  %s: spin-lock program %s\n", type == BPF_MAP_TYPE_HASH ? "hash" : "array", how);
		pthread_create(&th[0], NULL, run_prog_until_stop, &s);
		pthread_create(&th[1], NULL, run_prog_until_stop, &s);
		pthread_create(&th[2], NULL, user_writer, &s);
		pthread_create(&th[3], NULL, user_reader, &s);
		pthread_create(&th[4], NULL, user_reader, &s);
		for (int i = 2; i < 5; i++)
			pthread_join(th[i], NULL);
		__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		UT_CHECK(!s.bad_rc, "%u operations failed", s.bad_rc);
		UT_CHECK(!s.torn, "%u of %u BPF_F_LOCK reads torn, first: lock %u, w0 %u, w1 %u, "
			 "w14 %u", s.torn, s.reads, s.first_bad[0], s.first_bad[1], s.first_bad[2],
			 s.first_bad[WORDS]);
		close(s.prog_fd);
	}
	close(s.map_fd);
}

UT_TEST(no_torn_values_hash)
{
	torn_values(BPF_MAP_TYPE_HASH);
}

UT_TEST(no_torn_values_array)
{
	torn_values(BPF_MAP_TYPE_ARRAY);
}

static void *reader_plain(void *arg)
{
	struct shared *s = arg;
	uint32_t key = 0;
	struct big v;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		if (!bpf_map_lookup_elem(s->map_fd, &key, &v))
			__atomic_add_fetch(&s->reads, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Every run adds `iters` with atomic adds; nothing else writes w[0]: the end value is
 * 2 threads x RUNS runs x iters. */
UT_TEST(no_lost_atomic_updates)
{
	struct shared s = { .map_fd = big_map(BPF_MAP_TYPE_ARRAY) };
	const char *how = "";
	const int iters = 8;
	pthread_t th[3];

	UT_CHECK(s.map_fd >= 0, "map create: %d", s.map_fd);
	if (s.map_fd < 0)
		return;
	s.prog_fd = atomic_prog(s.map_fd, iters, &how);
	UT_CHECK(s.prog_fd >= 0, "program load: %d", s.prog_fd);
	if (s.prog_fd >= 0) {
		printf("  atomic-add program %s\n", how);
		pthread_create(&th[2], NULL, reader_plain, &s);
		pthread_create(&th[0], NULL, run_prog, &s);
		pthread_create(&th[1], NULL, run_prog, &s);
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
		pthread_join(th[2], NULL);
		struct big v;
		uint32_t key = 0;
		UT_CHECK_EQ(bpf_map_lookup_elem(s.map_fd, &key, &v), 0);
		UT_CHECK_EQ(v.w[0], 2u * RUNS * iters);
		UT_CHECK(!s.bad_rc, "%u runs failed", s.bad_rc);
		close(s.prog_fd);
	}
	close(s.map_fd);
}

static void *delete_readd(void *arg)
{
	struct shared *s = arg;
	uint32_t key = 0, other;
	struct big v = { 0 };

	for (unsigned i = 0; !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); i++) {
		bpf_map_delete_elem(s->map_fd, &key);
		other = 1 + i % 3;	/* other keys take the freed elements in between */
		bpf_map_update_elem(s->map_fd, &other, &v, BPF_ANY);
		bpf_map_delete_elem(s->map_fd, &other);
		bpf_map_update_elem(s->map_fd, &key, &v, BPF_ANY);
	}
	return NULL;
}

/*
 * Programs keep writing (atomically, 64 times per run) through a value pointer while the
 * key is deleted and re-added under them: the pointer may then name a free or reused
 * element, whose memory stays mapped, so the writes land in map memory and the process
 * lives on. Checked: every run ends normally.
 */
UT_TEST(delete_under_running_programs)
{
	struct shared s = { 0 };
	const char *how = "";
	pthread_t th[4];
	LIBBPF_OPTS(bpf_map_create_opts, o, .btf_fd = (uint32_t)btf_fd(), .btf_key_type_id = T_INT,
		    .btf_value_type_id = T_BIG);

	s.map_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "uaf", 4, sizeof(struct big), 4, &o);
	UT_CHECK(s.map_fd >= 0, "map create: %d", s.map_fd);
	if (s.map_fd < 0)
		return;
	s.prog_fd = atomic_prog(s.map_fd, 64, &how);
	UT_CHECK(s.prog_fd >= 0, "program load: %d", s.prog_fd);
	if (s.prog_fd >= 0) {
		printf("  delete-under-program %s\n", how);
		pthread_create(&th[0], NULL, delete_readd, &s);
		pthread_create(&th[1], NULL, delete_readd, &s);
		pthread_create(&th[2], NULL, run_prog, &s);
		pthread_create(&th[3], NULL, run_prog, &s);
		pthread_join(th[2], NULL);
		pthread_join(th[3], NULL);
		__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		UT_CHECK(!s.bad_rc, "%u program runs failed", s.bad_rc);
		close(s.prog_fd);
	}
	close(s.map_fd);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_maps_lock_stress: hung on a lock a program left held\n";
	if (write(2, msg, sizeof(msg) - 1)) {}
	_exit(1);
}

/*
 * An unverified program that takes the value's lock and exits without releasing it (the
 * verifier refuses it: "bpf_spin_unlock is missing"): the run's end releases the lock, so
 * a BPF_F_LOCK lookup afterwards returns instead of spinning for ever (alarm: 10 s).
 */
UT_TEST(checked_run_releases_forgotten_lock)
{
	int map_fd = big_map(BPF_MAP_TYPE_HASH);
	struct bpf_insn p[16];
	size_t n = 0;
	struct big v = { 0 };
	uint32_t key = 0;

	UT_CHECK(map_fd >= 0, "map create: %d", map_fd);
	if (map_fd < 0)
		return;
	UT_CHECK_EQ(bpf_map_update_elem(map_fd, &key, &v, BPF_ANY), 0);
	n = lookup_key0(p, n, map_fd, 11);
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0);
	p[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_spin_lock);
	p[n++] = INSN(BPF_ST | BPF_MEM | BPF_W, 6, 0, 4, 42);
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS);
	p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	LIBBPF_OPTS(bpf_prog_load_opts, o, .prog_flags = UEBPF_F_PROG_UNVERIFIED);
	int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "forget", "GPL", p, n, &o);
	UT_CHECK(prog >= 0, "load: %d", prog);
	if (prog >= 0) {
		uint8_t pkt[64] = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = 3);
		signal(SIGALRM, on_alarm);
		alarm(10);
		UT_CHECK_EQ(bpf_prog_test_run_opts(prog, &t), 0);
		UT_CHECK_EQ(bpf_map_lookup_elem_flags(map_fd, &key, &v, BPF_F_LOCK), 0);
		alarm(0);
		UT_CHECK_EQ(v.w[0], 42);
		close(prog);
	}
	close(map_fd);
}
