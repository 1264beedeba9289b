/*
 * BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK: create-time checks, a scripted and a random
 * transcript against the live kernel (tests/mapx.h), programs using map_push/pop/peek_elem
 * on both, a pinned-file check, and a multi-threaded stress (no element lost or duplicated)
 * that also runs under TSan.
 */
#include <pthread.h>
#include <stdint.h>
#include "mapx.h"

#define Q	BPF_MAP_TYPE_QUEUE
#define S	BPF_MAP_TYPE_STACK

/* Every case on both sides; the kernel's answers are the expectation. */
UT_TEST(queue_stack_create_vs_kernel)
{
	static const struct { uint32_t ks, vs, max, flags; uint64_t extra; } c[] = {
		{ 0, 4, 10, 0, 0 }, { 4, 4, 10, 0, 0 }, { 0, 0, 10, 0, 0 }, { 0, 4, 0, 0, 0 },
		{ 0, 4u << 20, 1, 0, 0 }, { 0, (4u << 20) + 1, 1, 0, 0 },
		{ 4, (4u << 20) + 1, 1, 0, 0 },	/* EINVAL (key) before E2BIG (value) */
		{ 0, 4, 10, BPF_F_NO_PREALLOC, 0 }, { 0, 4, 10, BPF_F_ZERO_SEED, 0 },
		{ 0, 4, 10, BPF_F_NUMA_NODE, 0 }, { 0, 4, 10, BPF_F_RDONLY, 0 },
		{ 0, 4, 10, BPF_F_WRONLY_PROG, 0 }, { 0, 4, 10, BPF_F_MMAPABLE, 0 },
		{ 0, 4, 10, BPF_F_INNER_MAP, 0 }, { 0, 4, 10, 0, 1 },
		{ 0, 4, 10, BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG, 0 },
	};
	MX_NEED_KERNEL();
	for (int t = Q; t <= S; t++)
		for (size_t i = 0; i < MX_LEN(c); i++) {
			struct mx m;
			mx_create(&m, t == Q ? "queue create" : "stack create", (uint32_t)t, c[i].ks,
				  c[i].vs, c[i].max, c[i].flags, c[i].extra);
			mx_close(&m);
		}
}

/* The errno of every element command, and the values, on a 3-slot map. */
static void scripted(uint32_t type)
{
	struct mx m;
	uint32_t v, k = 0;

	if (mx_create(&m, type == Q ? "queue" : "stack", type, 0, 4, 3, 0, 0))
		return;
	MX_UPDATE(&m, &k, &v, 0);			/* a key: EINVAL */
	MX_UPDATE(&m, NULL, NULL, 0);			/* no value: EFAULT */
	v = 1;
	MX_UPDATE(&m, NULL, &v, BPF_NOEXIST);		/* EINVAL */
	MX_UPDATE(&m, NULL, &v, 3);
	MX_UPDATE(&m, NULL, &v, BPF_F_LOCK);
	MX_LOOKUP(&m, NULL);				/* empty: ENOENT, buffer untouched */
	MX_POP(&m, NULL);
	for (v = 1; v <= 4; v++)			/* the 4th: full, E2BIG */
		MX_UPDATE(&m, NULL, &v, v == 2 ? BPF_EXIST : BPF_ANY);
	MX_UPDATE(&m, NULL, &v, BPF_EXIST);		/* full: drops the oldest (1) */
	MX_LOOKUP(&m, NULL);
	MX_LOOKUP(&m, &k);				/* a key: EINVAL */
	MX_ELEM(&m, BPF_MAP_LOOKUP_ELEM, NULL, MX_VNULL, NULL, 0);	/* EFAULT */
	MX_ELEM(&m, BPF_MAP_LOOKUP_ELEM, NULL, MX_VOUT, NULL, BPF_F_LOCK);
	MX_ELEM(&m, BPF_MAP_LOOKUP_ELEM, NULL, MX_VOUT, NULL, 8);
	MX_ELEM(&m, BPF_MAP_LOOKUP_AND_DELETE_ELEM, NULL, MX_VOUT, NULL, BPF_F_LOCK);
	MX_ELEM(&m, BPF_MAP_LOOKUP_AND_DELETE_ELEM, NULL, MX_VOUT, NULL, BPF_EXIST);
	MX_POP(&m, &k);
	/* No buffer: EFAULT, and the element is gone anyway (the kernel pops, then copies). */
	MX_ELEM(&m, BPF_MAP_LOOKUP_AND_DELETE_ELEM, NULL, MX_VNULL, NULL, 0);
	MX_LOOKUP(&m, NULL);
	MX_DELETE(&m, NULL);
	MX_DELETE(&m, &k);
	MX_NEXT(&m, NULL);
	MX_NEXT(&m, &k);
	MX_ELEM(&m, BPF_MAP_GET_NEXT_KEY, NULL, MX_VNULL, NULL, 0);
	for (int cmd = BPF_MAP_LOOKUP_BATCH; cmd <= BPF_MAP_DELETE_BATCH; cmd++)
		MX_BATCH(&m, cmd, 2);			/* no batch ops: ENOTSUPP */
	for (int i = 0; i < 4; i++)
		MX_POP(&m, NULL);
	UT_CHECK_EQ(mx_freeze(MX_U, m.fd[MX_U]), mx_freeze(MX_K, m.fd[MX_K]));
	MX_UPDATE(&m, NULL, &v, 0);			/* frozen: EPERM */
	MX_POP(&m, NULL);
	MX_LOOKUP(&m, NULL);
	mx_close(&m);
}

UT_TEST(queue_scripted_vs_kernel)
{
	MX_NEED_KERNEL();
	scripted(Q);
}

UT_TEST(stack_scripted_vs_kernel)
{
	MX_NEED_KERNEL();
	scripted(S);
}

/* Random push (ANY or EXIST) / pop / peek, value sizes that are not multiples of 8. */
static void random_transcript(uint32_t type, uint32_t vs, uint32_t max, uint64_t seed)
{
	struct mx m;
	uint8_t v[64];

	if (mx_create(&m, type == Q ? "queue random" : "stack random", type, 0, vs, max, 0, 0))
		return;
	for (int i = 0; i < 3000; i++) {
		uint32_t r = mx_rand(&seed);
		for (uint32_t b = 0; b < vs; b++)
			v[b] = (uint8_t)(i + b * 7);
		switch (r % 5) {
		case 0: case 1: MX_UPDATE(&m, NULL, v, r & 64 ? BPF_EXIST : BPF_ANY); break;
		case 2: case 3: MX_POP(&m, NULL); break;
		default: MX_LOOKUP(&m, NULL); break;
		}
	}
	mx_close(&m);
}

UT_TEST(queue_stack_random_vs_kernel)
{
	MX_NEED_KERNEL();
	random_transcript(Q, 4, 5, 1);
	random_transcript(S, 4, 5, 2);
	random_transcript(Q, 13, 1, 3);
	random_transcript(S, 13, 1, 4);
	random_transcript(Q, 40, 17, 5);
	random_transcript(S, 40, 17, 6);
}

/* ---- programs ---- */

/* push(map, &arg, BPF_ANY or BPF_EXIST per bit 32 of arg); returns the helper's result. */
static size_t prog_push(struct bpf_insn *p, const int *fds, uint64_t arg)
{
	struct bpf_insn b[] = {
		MX_ST_W(10, -8, (int32_t)(uint32_t)arg),
		MX_MOV_REG(2, 10), MX_ADD_IMM(2, -8),
		MX_LD_MAP(1, fds[0]),
		MX_MOV_IMM(3, (arg >> 32) ? BPF_EXIST : BPF_ANY),
		MX_CALL(BPF_FUNC_map_push_elem),
		MX_EXIT,
	};
	memcpy(p, b, sizeof(b));
	return MX_LEN(b);
}

/* pop (arg 0) or peek (arg 1) into a stack slot; returns the value, or 1000 + errno. */
static size_t prog_take(struct bpf_insn *p, const int *fds, uint64_t arg)
{
	struct bpf_insn b[] = {
		MX_ST_W(10, -8, 0x7777),
		MX_MOV_REG(2, 10), MX_ADD_IMM(2, -8),
		MX_LD_MAP(1, fds[0]),
		MX_CALL(arg ? BPF_FUNC_map_peek_elem : BPF_FUNC_map_pop_elem),
		MX_JEQ_IMM(0, 0, 3),
		MX_NEG(0), MX_ADD_IMM(0, 1000),
		MX_EXIT,
		MX_LDX_W(0, 10, -8),	/* on success the slot holds the value */
		MX_EXIT,
	};
	memcpy(p, b, sizeof(b));
	return MX_LEN(b);
}

/* On an empty map pop/peek zero the program's buffer: the program sees 0, not 0x7777. */
static size_t prog_take_empty(struct bpf_insn *p, const int *fds, uint64_t arg)
{
	struct bpf_insn b[] = {
		MX_ST_W(10, -8, 0x7777),
		MX_MOV_REG(2, 10), MX_ADD_IMM(2, -8),
		MX_LD_MAP(1, fds[0]),
		MX_CALL(arg ? BPF_FUNC_map_peek_elem : BPF_FUNC_map_pop_elem),
		MX_LDX_W(0, 10, -8),
		MX_EXIT,
	};
	memcpy(p, b, sizeof(b));
	return MX_LEN(b);
}

static void programs(uint32_t type)
{
	struct mx m;
	uint64_t seed = type;

	if (mx_create(&m, type == Q ? "queue progs" : "stack progs", type, 0, 4, 4, 0, 0))
		return;
	int fds[2][4] = { { m.fd[MX_U] }, { m.fd[MX_K] } };
	UT_CHECK_EQ(MX_PROG_BOTH("take empty", prog_take_empty, fds, 0), 0);
	UT_CHECK_EQ(MX_PROG_BOTH("peek empty", prog_take_empty, fds, 1), 0);
	for (int i = 0; i < 200; i++) {
		uint32_t r = mx_rand(&seed);
		if (r % 3 == 0)
			MX_PROG_BOTH("push", prog_push, fds, (uint64_t)(r & 1) << 32 | (r >> 8));
		else
			MX_PROG_BOTH("pop/peek", prog_take, fds, r % 3 == 1);
		if (i % 17 == 0)	/* user space sees what the programs did */
			MX_LOOKUP(&m, NULL);
	}
	mx_close(&m);
}

UT_TEST(queue_stack_programs_vs_kernel)
{
	MX_NEED_KERNEL();
	programs(Q);
	programs(S);
}

/* Order, from reasoning: a queue returns pushes first-in first-out, a stack last-in first-out,
 * and BPF_EXIST on a full map drops the oldest for both (the stack's bottom). */
UT_TEST(queue_stack_order)
{
	int q = bpf_map_create(BPF_MAP_TYPE_QUEUE, "q", 0, 8, 3, NULL);
	int s = bpf_map_create(BPF_MAP_TYPE_STACK, "s", 0, 8, 3, NULL);
	uint64_t v;

	UT_CHECK(q >= 0 && s >= 0, "create %d %d", q, s);
	for (v = 1; v <= 4; v++) {
		UT_CHECK_EQ(bpf_map_update_elem(q, NULL, &v, BPF_EXIST), 0);
		UT_CHECK_EQ(bpf_map_update_elem(s, NULL, &v, BPF_EXIST), 0);
	}
	static const uint64_t qwant[] = { 2, 3, 4 }, swant[] = { 4, 3, 2 };
	for (int i = 0; i < 3; i++) {
		UT_CHECK_EQ(bpf_map_lookup_and_delete_elem(q, NULL, &v), 0);
		UT_CHECK_EQ(v, qwant[i]);
		UT_CHECK_EQ(bpf_map_lookup_and_delete_elem(s, NULL, &v), 0);
		UT_CHECK_EQ(v, swant[i]);
	}
	UT_CHECK_EQ(bpf_map_lookup_and_delete_elem(q, NULL, &v), -ENOENT);
	UT_CHECK_EQ(bpf_map_lookup_and_delete_elem(s, NULL, &v), -ENOENT);
	close(q);
	close(s);
}

/* A pinned map reopens with its elements; a control block that disagrees is refused. */
UT_TEST(queue_pinned_file_validation)
{
	int q = bpf_map_create(BPF_MAP_TYPE_QUEUE, "pq", 0, 4, 3, NULL);
	char path[128];
	uint32_t v = 42, bad = 7;

	UT_CHECK_EQ(bpf_map_update_elem(q, NULL, &v, 0), 0);
	if (mx_pin_tmp(q, path, sizeof(path))) {
		ut_skip("cannot pin under %s", path);
		close(q);
		return;
	}
	int g = bpf_obj_get(path);
	UT_CHECK(g >= 0, "obj_get %d", g);
	v = 0;
	UT_CHECK_EQ(bpf_map_lookup_elem(g, NULL, &v), 0);
	UT_CHECK_EQ(v, 42);
	close(g);
	/* struct qs_ctl { lock, head, tail, size, value_size } at offset 0 */
	static const struct { long off; uint32_t val; } corrupt[] = {
		{ 4, 7 },	/* head beyond size (4 slots) */
		{ 8, 4 },	/* tail == size */
		{ 12, 5 },	/* size is not max_entries + 1 */
		{ 16, 8 },	/* value_size differs */
	};
	for (size_t i = 0; i < MX_LEN(corrupt); i++) {
		uint32_t old;
		FILE *f = fopen(path, "rb");
		UT_CHECK(f && fseek(f, corrupt[i].off, SEEK_SET) == 0 && fread(&old, 4, 1, f) == 1,
			 "read %s", path);
		if (f)
			fclose(f);
		bad = corrupt[i].val;
		UT_CHECK_EQ(mx_poke(path, corrupt[i].off, &bad, 4), 0);
		UT_CHECK_EQ(bpf_obj_get(path), -EINVAL);
		UT_CHECK_EQ(mx_poke(path, corrupt[i].off, &old, 4), 0);
	}
	g = bpf_obj_get(path);
	UT_CHECK(g >= 0, "obj_get after repair %d", g);
	close(g);
	unlink(path);
	close(q);
}

/* ---- stress: no element lost or duplicated ---- */

#define PRODUCERS	3
#define CONSUMERS	3
#define PER_PRODUCER	20000

struct stress {
	int fd;
	int stack;
	uint32_t next[PRODUCERS];		/* consumer-side: last sequence seen (queue order) */
	uint8_t seen[PRODUCERS][PER_PRODUCER];	/* written by consumers (one byte each) */
	uint64_t popped;			/* atomic */
	int order_bad;				/* atomic */
	int id;					/* atomic thread counter */
};

static void *producer(void *arg)
{
	struct stress *st = arg;
	uint64_t id = (uint64_t)__atomic_fetch_add(&st->id, 1, __ATOMIC_RELAXED);

	for (uint64_t i = 0; i < PER_PRODUCER; i++) {
		uint64_t v = id << 32 | i;
		while (bpf_map_update_elem(st->fd, NULL, &v, BPF_ANY) == -E2BIG)
			sched_yield();	/* full: let a consumer run */
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *st = arg;
	uint32_t last[PRODUCERS];
	uint64_t v;

	memset(last, 0xff, sizeof(last));
	while (__atomic_load_n(&st->popped, __ATOMIC_RELAXED) < (uint64_t)PRODUCERS * PER_PRODUCER) {
		if (bpf_map_lookup_and_delete_elem(st->fd, NULL, &v)) {
			sched_yield();
			continue;
		}
		uint32_t p = (uint32_t)(v >> 32), i = (uint32_t)v;
		if (p >= PRODUCERS || i >= PER_PRODUCER) {
			__atomic_store_n(&st->order_bad, 2, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_fetch_add(&st->seen[p][i], 1, __ATOMIC_RELAXED);
		/* A queue hands each producer's elements out in push order, so every consumer
		 * sees them increasing (linearisability of push and pop under one lock). */
		if (!st->stack && last[p] != UINT32_MAX && i <= last[p])
			__atomic_store_n(&st->order_bad, 1, __ATOMIC_RELAXED);
		last[p] = i;
		__atomic_fetch_add(&st->popped, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void stress(uint32_t type)
{
	static struct stress st;
	pthread_t t[PRODUCERS + CONSUMERS];

	memset(&st, 0, sizeof(st));
	st.stack = type == S;
	st.fd = bpf_map_create(type, "stress", 0, 8, 64, NULL);
	UT_CHECK(st.fd >= 0, "create %d", st.fd);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_create(&t[PRODUCERS + i], NULL, consumer, &st);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&t[i], NULL, producer, &st);
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
		pthread_join(t[i], NULL);
	size_t lost = 0, dup = 0;
	for (int p = 0; p < PRODUCERS; p++)
		for (int i = 0; i < PER_PRODUCER; i++) {
			lost += st.seen[p][i] == 0;
			dup += st.seen[p][i] > 1;
		}
	UT_CHECK(lost == 0 && dup == 0, "%s: %zu lost, %zu duplicated", type == Q ? "queue" : "stack",
		 lost, dup);
	UT_CHECK(st.order_bad == 0, "order_bad %d", st.order_bad);
	uint64_t v;
	UT_CHECK_EQ(bpf_map_lookup_elem(st.fd, NULL, &v), -ENOENT);	/* all drained */
	close(st.fd);
}

UT_TEST(queue_stress_threads)
{
	stress(Q);
}

UT_TEST(stack_stress_threads)
{
	stress(S);
}
