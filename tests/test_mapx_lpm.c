/*
 * BPF_MAP_TYPE_LPM_TRIE against the live kernel: create checks, a scripted transcript, random
 * transcripts over several key sizes (the trie's shape is deterministic, so even
 * get_next_key's post-order must match byte for byte), programs, batches; then uebpf-only:
 * concurrent lock-free lookups against writers (a lookup must never miss the permanent /0
 * route nor return a prefix that does not cover the address) and pinned-file validation.
 */
#include <pthread.h>
#include "mapx.h"

#define LPM	BPF_MAP_TYPE_LPM_TRIE
#define NP	BPF_F_NO_PREALLOC

struct k4 {
	uint32_t pl;
	uint8_t d[4];
};

UT_TEST(lpm_create_vs_kernel)
{
	static const struct { uint32_t ks, vs, max, flags; uint64_t extra; } c[] = {
		{ 8, 4, 10, 0, 0 }, { 8, 4, 10, NP, 0 }, { 4, 4, 10, NP, 0 }, { 5, 4, 10, NP, 0 },
		{ 260, 4, 10, NP, 0 }, { 261, 4, 10, NP, 0 }, { 8, 0, 10, NP, 0 },
		{ 8, 4194024, 10, NP, 0 },	/* LPM_VAL_SIZE_MAX */
		{ 8, 4194025, 10, NP, 0 }, { 8, 4, 0, NP, 0 },
		{ 8, 4, 10, NP | BPF_F_ZERO_SEED, 0 }, { 8, 4, 10, NP | BPF_F_MMAPABLE, 0 },
		{ 8, 4, 10, NP | BPF_F_RDONLY_PROG, 0 }, { 8, 4, 10, NP | BPF_F_NUMA_NODE, 0 },
		{ 8, 4, 10, NP | BPF_F_INNER_MAP, 0 }, { 8, 4, 10, NP | BPF_F_NO_COMMON_LRU, 0 },
		{ 8, 4, 10, NP, 1 }, { 8, 4, 1u << 20, NP, 0 },
	};
	MX_NEED_KERNEL();
	for (size_t i = 0; i < MX_LEN(c); i++) {
		struct mx m;
		mx_create(&m, "lpm create", LPM, c[i].ks, c[i].vs, c[i].max, c[i].flags, c[i].extra);
		mx_close(&m);
	}
}

/* Walks the whole trie from NULL on both sides, comparing every step. */
static int walk_all(struct mx *m, int limit)
{
	uint8_t key[4 + 256];
	int n = 0;

	if (MX_NEXT(m, NULL))
		return 0;
	do {
		memcpy(key, m->out, m->key_size);
		n++;
	} while (n < limit && MX_NEXT(m, key) == 0);
	return n;
}

/* The example at the top of the kernel's lpm_trie.c, then every error. */
UT_TEST(lpm_scripted_vs_kernel)
{
	struct mx m;
	struct k4 a = { 16, { 192, 168, 0, 0 } }, b = { 24, { 192, 168, 1, 0 } },
		  c = { 24, { 192, 168, 128, 0 } }, d = { 24, { 192, 168, 0, 0 } },
		  big = { 33, { 0 } }, q = { 32, { 192, 168, 1, 7 } }, z = { 0, { 0 } };
	uint32_t v = 1;

	MX_NEED_KERNEL();
	if (mx_create(&m, "lpm", LPM, 8, 4, 3, NP, 0))
		return;
	MX_NEXT(&m, NULL);				/* empty: ENOENT */
	MX_LOOKUP(&m, &q);
	MX_UPDATE(&m, &a, &v, 0);
	v = 2, MX_UPDATE(&m, &b, &v, 0);
	v = 3, MX_UPDATE(&m, &c, &v, 0);
	MX_UPDATE(&m, &d, &v, 0);			/* full: ENOSPC */
	MX_UPDATE(&m, &d, &v, BPF_EXIST);		/* ENOENT */
	MX_UPDATE(&m, &a, &v, BPF_NOEXIST);		/* EEXIST */
	MX_UPDATE(&m, &a, &v, BPF_EXIST);		/* replaces */
	MX_UPDATE(&m, &a, &v, 3);			/* EINVAL */
	MX_UPDATE(&m, &a, &v, BPF_F_LOCK);
	MX_UPDATE(&m, &big, &v, 0);			/* prefixlen > 32: EINVAL */
	MX_UPDATE(&m, NULL, &v, 0);			/* EFAULT */
	MX_UPDATE(&m, &a, NULL, 0);
	MX_LOOKUP(&m, &q);				/* longest prefix: b */
	q.d[2] = 200, MX_LOOKUP(&m, &q);		/* a */
	q.d[1] = 0, MX_LOOKUP(&m, &q);			/* nothing */
	MX_LOOKUP(&m, &big);				/* ENOENT */
	MX_LOOKUP(&m, &z);
	MX_ELEM(&m, BPF_MAP_LOOKUP_ELEM, &a, MX_VNULL, NULL, 0);	/* EFAULT */
	MX_ELEM(&m, BPF_MAP_LOOKUP_ELEM, &d, MX_VNULL, NULL, 0);	/* ENOENT first */
	MX_ELEM(&m, BPF_MAP_LOOKUP_ELEM, NULL, MX_VOUT, NULL, 0);
	MX_POP(&m, &a);					/* no lookup-and-delete: ENOTSUPP */
	MX_NEXT(&m, &big);				/* an invalid key: the first */
	MX_NEXT(&m, &d);				/* a missing key: the first */
	walk_all(&m, 10);				/* post-order: b, c, a */
	MX_ELEM(&m, BPF_MAP_GET_NEXT_KEY, NULL, MX_VNULL, NULL, 0);
	MX_DELETE(&m, &big);				/* EINVAL */
	MX_DELETE(&m, &d);				/* ENOENT */
	MX_DELETE(&m, NULL);				/* EFAULT */
	MX_DELETE(&m, &a);				/* a has two children: becomes IM */
	MX_DELETE(&m, &a);
	MX_LOOKUP(&m, &q);
	walk_all(&m, 10);
	MX_UPDATE(&m, &z, &v, BPF_NOEXIST);		/* /0 over the IM node */
	MX_UPDATE(&m, &a, &v, BPF_NOEXIST);		/* full again: ENOSPC */
	MX_DELETE(&m, &b);				/* its IM parent goes too */
	walk_all(&m, 10);
	MX_UPDATE(&m, &a, &v, BPF_NOEXIST);
	walk_all(&m, 10);
	UT_CHECK_EQ(mx_freeze(MX_U, m.fd[MX_U]), mx_freeze(MX_K, m.fd[MX_K]));
	MX_UPDATE(&m, &a, &v, 0);			/* EPERM */
	MX_DELETE(&m, &a);
	MX_LOOKUP(&m, &a);
	mx_close(&m);
}

/* A random key: prefix length mostly in range and mostly short, data from few patterns so
 * prefixes overlap; bits past the prefix vary too (the kernel stores and returns them). */
static void random_key(uint8_t *key, uint32_t ds, uint64_t *s)
{
	static const uint8_t pat[] = { 0x00, 0x80, 0xc0, 0xff, 0x0f, 0x55 };
	uint32_t r = mx_rand(s), bits = ds * 8, shrt = bits < 24 ? bits : 24;
	uint32_t pl = (r >> 3) % 3 ? r % (shrt + 1) : r % (bits + 1);

	if (r % 97 == 0)
		pl = bits + 1 + r % 5;	/* now and then an invalid one */
	memcpy(key, &pl, 4);
	uint32_t base = mx_rand(s);
	for (uint32_t i = 0; i < ds; i++)
		key[4 + i] = pat[(base >> (i % 8 * 3)) % MX_LEN(pat)];
	if (r & 0x100)
		key[4 + (r >> 9) % ds] ^= (uint8_t)(r >> 20);
}

/* Half the time a key used before (so deletes and exact updates hit), else a new one. */
static void pool_key(uint8_t pool[][4 + 256], uint8_t *key, uint32_t ds, uint64_t *s)
{
	uint32_t r = mx_rand(s), slot = (r >> 1) % 32;

	if (r & 1) {
		memcpy(key, pool[slot], 4 + ds);
		return;
	}
	random_key(key, ds, s);
	memcpy(pool[slot], key, 4 + ds);
}

static void random_lpm(uint32_t ds, uint32_t max, int ops, uint64_t seed)
{
	struct mx m;
	uint8_t key[4 + 256];
	uint64_t v;

	if (mx_create(&m, "lpm random", LPM, 4 + ds, 8, max, NP, 0))
		return;
	int ok[4] = { 0 }, full = 0, size = 0;	/* successes: update, delete, lookup, next */
	static uint8_t pool[32][4 + 256];

	for (int i = 0; i < 32; i++)
		random_key(pool[i], ds, &seed);

	for (int i = 0; i < ops; i++) {
		uint32_t r = mx_rand(&seed);
		int rc, op = r % 10 < 3 ? 0 : r % 10 < 6 ? 1 : r % 10 == 9 ? 3 : 2;
		pool_key(pool, key, ds, &seed);
		v = (uint64_t)i << 16 | r;
		if (op == 0)
			rc = MX_UPDATE(&m, key, &v, r % 61 == 0 ? 4 : (r >> 4) % 3);
		else if (op == 1)
			rc = MX_DELETE(&m, key);
		else if (op == 3)
			rc = MX_NEXT(&m, key);
		else
			rc = MX_LOOKUP(&m, key);
		ok[op] += rc == 0;
		full += rc == -ENOSPC;
		if (i % 97 == 0)
			size += walk_all(&m, (int)max + 5);
	}
	walk_all(&m, (int)max + 5);
	if (getenv("UT_VERBOSE"))
		printf("  lpm data %u max %u: ok update %d delete %d lookup %d next %d, ENOSPC %d, "
		       "mean size %d\n", ds, max, ok[0], ok[1], ok[2], ok[3], full,
		       size / (ops / 97 + 1));
	mx_close(&m);
}

UT_TEST(lpm_random_vs_kernel)
{
	MX_NEED_KERNEL();
	random_lpm(4, 64, 4000, 1);	/* IPv4 */
	random_lpm(1, 300, 3000, 2);	/* 8-bit prefixes: fills up */
	random_lpm(9, 40, 3000, 3);	/* crosses a word */
	random_lpm(16, 128, 4000, 4);	/* IPv6 */
	random_lpm(256, 50, 2000, 5);	/* the longest keys (2048 bits) */
	random_lpm(3, 7, 2000, 6);	/* a tiny map: ENOSPC often */
}

UT_TEST(lpm_batch_vs_kernel)
{
	struct mx m;
	struct k4 k = { 24, { 10, 0, 0, 0 } };
	uint32_t v;

	MX_NEED_KERNEL();
	if (mx_create(&m, "lpm batch", LPM, 8, 4, 64, NP, 0))
		return;
	MX_BATCH(&m, BPF_MAP_LOOKUP_BATCH, 8);		/* empty */
	for (v = 0; v < 20; v++) {
		k.d[1] = (uint8_t)(v * 37), k.pl = 8 + v % 20;
		MX_UPDATE(&m, &k, &v, 0);
	}
	MX_BATCH(&m, BPF_MAP_LOOKUP_BATCH, 0);
	MX_BATCH(&m, BPF_MAP_LOOKUP_BATCH, 8);		/* the first 8 in post-order */
	MX_BATCH(&m, BPF_MAP_LOOKUP_BATCH, 64);		/* all, then ENOENT */
	MX_BATCH(&m, BPF_MAP_LOOKUP_AND_DELETE_BATCH, 4);	/* ENOTSUPP */
	mx_close(&m);
}

/* ---- programs: lookup with a key built on the stack ---- */

/* Looks up arg's low 32 bits (an address, network order) with prefix length 32 and returns
 * the value, or 0xffffffff when no prefix matches. */
static size_t prog_lookup(struct bpf_insn *p, const int *fds, uint64_t arg)
{
	struct bpf_insn b[] = {
		MX_ST_W(10, -8, 32),
		MX_ST_W(10, -4, (int32_t)(uint32_t)arg),
		MX_MOV_REG(2, 10), MX_ADD_IMM(2, -8),
		MX_LD_MAP(1, fds[0]),
		MX_CALL(BPF_FUNC_map_lookup_elem),
		MX_JNE_IMM(0, 0, 2),
		MX_MOV_IMM(0, -1),
		MX_EXIT,
		MX_LDX_W(0, 0, 0),
		MX_EXIT,
	};
	memcpy(p, b, sizeof(b));
	return MX_LEN(b);
}

UT_TEST(lpm_programs_vs_kernel)
{
	struct mx m;
	uint64_t seed = 11;

	MX_NEED_KERNEL();
	if (mx_create(&m, "lpm progs", LPM, 8, 4, 100, NP, 0))
		return;
	int fds[2][4] = { { m.fd[MX_U] }, { m.fd[MX_K] } };
	for (uint32_t i = 0; i < 60; i++) {
		uint8_t key[8];
		random_key(key, 4, &seed);
		MX_UPDATE(&m, key, &i, BPF_ANY);
	}
	for (int i = 0; i < 200; i++) {
		uint8_t key[8];
		random_key(key, 4, &seed);
		uint32_t addr;
		memcpy(&addr, key + 4, 4);
		MX_PROG_BOTH("lookup", prog_lookup, fds, addr);
	}
	mx_close(&m);
}

/* ---- concurrency (uebpf only): lock-free lookups against writers ---- */

#define READERS		3
#define WRITERS		2
#define R_LOOKUPS	60000
#define W_OPS		20000

struct conc {
	int fd;
	int stop;		/* atomic */
	int bad;		/* atomic: a lookup that missed /0 or returned a foreign prefix */
};

static uint32_t mask_of(uint32_t pl)
{
	return pl ? ~0u << (32 - pl) : 0;
}

/* value = prefix length << 32 | prefix bits (host order): what the entry covers */
static void *writer(void *arg)
{
	struct conc *c = arg;
	uint64_t s = (uint64_t)(uintptr_t)&s;

	for (int i = 0; i < W_OPS; i++) {
		uint32_t r = mx_rand(&s), pl = 1 + r % 32;
		uint32_t addr = (0x0a000000u | (mx_rand(&s) & 0x0003ffffu)) & mask_of(pl);
		struct k4 k = { pl, { (uint8_t)(addr >> 24), (uint8_t)(addr >> 16),
				      (uint8_t)(addr >> 8), (uint8_t)addr } };
		uint64_t v = (uint64_t)pl << 32 | addr;
		if (r & 0x80000000u)
			bpf_map_delete_elem(c->fd, &k);
		else
			bpf_map_update_elem(c->fd, &k, &v, BPF_ANY);	/* may be ENOSPC */
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct conc *c = arg;
	uint64_t s = (uint64_t)(uintptr_t)&s;

	for (int i = 0; i < R_LOOKUPS && !__atomic_load_n(&c->stop, __ATOMIC_RELAXED); i++) {
		uint32_t addr = 0x0a000000u | (mx_rand(&s) & 0x0003ffffu);
		struct k4 k = { 32, { (uint8_t)(addr >> 24), (uint8_t)(addr >> 16),
				      (uint8_t)(addr >> 8), (uint8_t)addr } };
		uint64_t v;
		uint32_t pl;
		if (bpf_map_lookup_elem(c->fd, &k, &v) ||
		    (pl = (uint32_t)(v >> 32)) > 32 || (addr & mask_of(pl)) != (uint32_t)v)
			__atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

UT_TEST(lpm_concurrent_lookups)
{
	static struct conc c;
	pthread_t t[READERS + WRITERS];
	struct k4 zero = { 0, { 0 } };
	uint64_t v = 0;

	c.fd = bpf_map_create(LPM, "conc", 8, 8, 200,
			      &(struct bpf_map_create_opts){ .sz = sizeof(struct bpf_map_create_opts),
							      .map_flags = NP });
	UT_CHECK(c.fd >= 0, "create %d", c.fd);
	UT_CHECK_EQ(bpf_map_update_elem(c.fd, &zero, &v, 0), 0);	/* /0: never deleted */
	for (int i = 0; i < READERS; i++)
		pthread_create(&t[i], NULL, reader, &c);
	for (int i = 0; i < WRITERS; i++)
		pthread_create(&t[READERS + i], NULL, writer, &c);
	for (int i = READERS; i < READERS + WRITERS; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < READERS; i++)
		pthread_join(t[i], NULL);
	UT_CHECK_EQ(c.bad, 0);
	/* The trie is still well-formed: a full walk ends, every key found is looked up. */
	struct k4 k, prev;
	int n = 0, err = bpf_map_get_next_key(c.fd, NULL, &k);
	for (; !err && n < 1000; n++) {
		UT_CHECK_EQ(bpf_map_lookup_elem(c.fd, &k, &v), 0);
		prev = k;
		err = bpf_map_get_next_key(c.fd, &prev, &k);
	}
	UT_CHECK(err == -ENOENT && n >= 1 && n <= 200, "walk: %d entries, end %d", n, err);
	close(c.fd);
}

/* ---- pinned files ---- */

UT_TEST(lpm_pinned_file_validation)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = NP);
	int fd = bpf_map_create(LPM, "pl", 8, 4, 16, &o);
	struct k4 a = { 8, { 10 } }, q = { 32, { 10, 1, 2, 3 } };
	char path[128];
	uint32_t v = 9;

	UT_CHECK_EQ(bpf_map_update_elem(fd, &a, &v, 0), 0);
	if (mx_pin_tmp(fd, path, sizeof(path))) {
		ut_skip("cannot pin under %s", path);
		close(fd);
		return;
	}
	int g = bpf_obj_get(path);
	UT_CHECK(g >= 0, "obj_get %d", g);
	v = 0;
	UT_CHECK_EQ(bpf_map_lookup_elem(g, &q, &v), 0);
	UT_CHECK_EQ(v, 9);
	close(g);
	/* struct lpm_ctl { lock, seq, root, n_entries, nnodes, node_size, data_size, pad,
	 * u64 free_head, free_tail, ring_off } */
	static const struct { long off; uint32_t val; } corrupt[] = {
		{ 8, 1000 },	/* root past the node pool (2 * 16 + 1 + 64 nodes) */
		{ 12, 17 },	/* more entries than max_entries */
		{ 16, 5 },	/* nnodes */
		{ 20, 8 },	/* node_size */
		{ 24, 3 },	/* data_size */
		{ 40, 1000 },	/* free_tail - free_head beyond the pool */
	};
	for (size_t i = 0; i < MX_LEN(corrupt); i++) {
		uint32_t old = 0, bad = corrupt[i].val;
		FILE *f = fopen(path, "rb");
		UT_CHECK(f && fseek(f, corrupt[i].off, SEEK_SET) == 0 && fread(&old, 4, 1, f) == 1,
			 "read");
		if (f)
			fclose(f);
		UT_CHECK_EQ(mx_poke(path, corrupt[i].off, &bad, 4), 0);
		UT_CHECK_EQ(bpf_obj_get(path), -EINVAL);
		UT_CHECK_EQ(mx_poke(path, corrupt[i].off, &old, 4), 0);
	}
	/* A child index past the pool, after the file was opened: lookups stop there (bounds
	 * checks), they do not read outside the map. Node 0 holds the /8 entry: child[0]. */
	g = bpf_obj_get(path);
	uint32_t wild = 0x7fffffff;
	UT_CHECK_EQ(mx_poke(path, 64, &wild, 4), 0);
	UT_CHECK_EQ(bpf_map_lookup_elem(g, &q, &v), 0);	/* 10.1.2.3: bit 8 is 0, child[0] */
	UT_CHECK_EQ(v, 9);
	struct k4 n;
	UT_CHECK_EQ(bpf_map_get_next_key(g, NULL, &n), -EINVAL);	/* the walk sees it */
	close(g);
	unlink(path);
	close(fd);
}
