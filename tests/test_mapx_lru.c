/*
 * BPF_MAP_TYPE_LRU_HASH and BPF_MAP_TYPE_LRU_PERCPU_HASH against the live kernel.
 *
 * What is compared exactly: create-time checks (and max_entries as reported, rounded for
 * BPF_F_NO_COMMON_LRU), and every element command while the map has room (no eviction).
 * What is compared by contract, because the eviction choice legitimately differs (the kernel
 * frees nodes in batches through per-CPU lists and may evict before the map is full, uebpf
 * evicts exactly one element when a new key needs room):
 *   - after a run of inserts, both maps hold at most max_entries keys, and the most recently
 *     inserted half of max_entries survive in both;
 *   - keys a program looked up (the "ref" bit) survive a wave of fewer new keys than the map
 *     has unused slots for them, in both.
 * The process runs on CPU 0 only, so the kernel's per-CPU free lists do not scatter nodes.
 * Hash iteration order differs (different hash functions): walks compare key sets.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include "mapx.h"

#define LRU	BPF_MAP_TYPE_LRU_HASH
#define LRUP	BPF_MAP_TYPE_LRU_PERCPU_HASH

static void pin_cpu0(void)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(0, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static int ncpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	int a, b, n = 0;
	char c;

	while (f && fscanf(f, "%d", &a) == 1) {
		b = a;
		if (fscanf(f, "%c", &c) == 1 && c == '-' && fscanf(f, "%d", &b) == 1)
			(void)!fscanf(f, "%c", &c);
		n += b - a + 1;
	}
	if (f)
		fclose(f);
	return n ? n : 1;
}

UT_TEST(lru_create_vs_kernel)
{
	static const struct { uint32_t t, ks, vs, max, flags; } c[] = {
		{ LRU, 4, 8, 10, 0 }, { LRU, 4, 8, 10, BPF_F_NO_PREALLOC },
		{ LRU, 0, 8, 10, BPF_F_NO_PREALLOC },	/* ENOTSUPP before the key check */
		{ LRU, 4, 8, 10, BPF_F_NO_COMMON_LRU },
		{ LRU, 4, 8, 10, BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE },
		{ LRU, 4, 8, 10, BPF_F_NUMA_NODE }, { LRUP, 4, 8, 10, BPF_F_NUMA_NODE },
		{ LRU, 4, 8, 10, BPF_F_NO_PREALLOC | BPF_F_MMAPABLE },
		{ LRU, 4, 8, 10, BPF_F_INNER_MAP }, { LRU, 4, 8, 10, BPF_F_ZERO_SEED },
		{ LRU, 4, 8, 10, BPF_F_RDONLY_PROG }, { LRU, 0, 8, 10, 0 }, { LRU, 4, 0, 10, 0 },
		{ LRU, 4, 8, 0, 0 }, { LRUP, 4, 32768, 2, 0 }, { LRUP, 4, 32769, 2, 0 },
		{ LRU, 4, 4194251, 1, 0 }, { LRU, 4, 4194252, 1, 0 },	/* key + value + 48 */
		{ LRU, 600, 4, 2, 0 }, { LRUP, 8, 16, 10, BPF_F_NO_COMMON_LRU },
	};
	MX_NEED_KERNEL();
	for (size_t i = 0; i < MX_LEN(c); i++) {
		struct mx m;
		mx_create(&m, "lru create", c[i].t, c[i].ks, c[i].vs, c[i].max, c[i].flags, 0);
		mx_close(&m);
	}
	/* Per-CPU lists: max_entries becomes a multiple of the CPU count (both report it). */
	for (uint32_t max = 1; max <= 9; max++) {
		struct mx m;
		if (mx_create(&m, "lru rounding", LRU, 4, 8, max, BPF_F_NO_COMMON_LRU, 0))
			continue;
		UT_CHECK_EQ(mx_info_max_entries(MX_U, m.fd[MX_U]),
			    mx_info_max_entries(MX_K, m.fd[MX_K]));
		mx_close(&m);
	}
}

/* Keys present on each side, by lookup (no ref bit: user-space lookups do not mark). */
static int present(struct mx *m, int side, uint32_t key)
{
	uint8_t v[MX_MAXV];
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (__u32)m->fd[side], a.key = MX_PTR(&key), a.value = MX_PTR(v);
	return mx_sys(side, BPF_MAP_LOOKUP_ELEM, &a, MX_END(flags)) == 0;
}

static int count_keys(struct mx *m, int side)
{
	uint32_t k, prev;
	int n = 0;
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (__u32)m->fd[side], a.next_key = MX_PTR(&k);
	while (n < 100000 && mx_sys(side, BPF_MAP_GET_NEXT_KEY, &a, MX_END(next_key)) == 0) {
		prev = k, a.key = MX_PTR(&prev);
		n++;
	}
	return n;
}

/* While nothing is evicted an LRU map is a hash map: every answer must be the kernel's. */
static void no_eviction(uint32_t type, uint32_t vs)
{
	struct mx m;
	uint8_t v[MX_MAXV];
	uint64_t seed = type;

	if (mx_create(&m, type == LRU ? "lru" : "lru percpu", type, 4, vs, 64, 0, 0))
		return;
	if (type == LRUP)
		m.value_size = ((vs + 7) & ~7u) * (uint32_t)ncpus();
	for (int i = 0; i < 3000; i++) {
		uint32_t r = mx_rand(&seed), key = r % 48;	/* never more than 48 < 64 keys */
		for (uint32_t b = 0; b < m.value_size; b++)
			v[b] = (uint8_t)(r + b);
		switch (r % 8) {
		case 0: case 1: case 2: MX_UPDATE(&m, &key, v, (r >> 8) % 3); break;
		case 3: MX_DELETE(&m, &key); break;
		case 4: MX_POP(&m, &key); break;
		case 5: MX_UPDATE(&m, &key, v, 4 + (r >> 8) % 2); break;	/* EINVAL */
		default: MX_LOOKUP(&m, &key); break;
		}
	}
	for (uint32_t k = 0; k < 48; k++)
		UT_CHECK_EQ(present(&m, MX_U, k), present(&m, MX_K, k));
	UT_CHECK_EQ(count_keys(&m, MX_U), count_keys(&m, MX_K));
	MX_UPDATE(&m, NULL, v, 0);				/* EFAULT */
	MX_LOOKUP(&m, NULL);
	/* The first key differs (hash order), so only the return code: EFAULT, no buffer. */
	MX_ELEM(&m, BPF_MAP_GET_NEXT_KEY, NULL, MX_VNULL, NULL, 0);
	mx_close(&m);
}

UT_TEST(lru_no_eviction_vs_kernel)
{
	MX_NEED_KERNEL();
	pin_cpu0();
	no_eviction(LRU, 8);
	no_eviction(LRU, 13);
	no_eviction(LRUP, 8);
	no_eviction(LRUP, 12);
}

UT_TEST(lru_sequential_inserts_vs_kernel)
{
	static const uint32_t sizes[] = { 1, 4, 16, 32, 200 };
	uint64_t v = 0;

	MX_NEED_KERNEL();
	pin_cpu0();
	for (size_t i = 0; i < MX_LEN(sizes); i++) {
		struct mx m;
		uint32_t max = sizes[i], n = 4 * max + 3;
		if (mx_create(&m, "lru seq", LRU, 4, 8, max, 0, 0))
			continue;
		for (uint32_t k = 0; k < n; k++)
			MX_UPDATE(&m, &k, &v, BPF_ANY);	/* every insert succeeds on both */
		for (int s = 0; s < 2; s++) {
			int cnt = count_keys(&m, s);
			UT_CHECK(cnt <= (int)max, "%s holds %d > %u", mx_side[s], cnt, max);
			for (uint32_t k = n - (max + 1) / 2; k < n; k++)
				UT_CHECK(present(&m, s, k), "%s max %u lost recent key %u", mx_side[s],
					 max, k);
		}
		/* uebpf (reasoning): nothing was looked up, so eviction is oldest-first and one at
		 * a time: exactly the last max keys remain. */
		UT_CHECK_EQ(count_keys(&m, MX_U), max);
		for (uint32_t k = n - max; k < n; k++)
			UT_CHECK(present(&m, MX_U, k), "uebpf lost key %u", k);
		mx_close(&m);
	}
}

/* A program's lookup of arg (a u32 key): returns 1 if found. Marks the element used. */
static size_t prog_touch(struct bpf_insn *p, const int *fds, uint64_t arg)
{
	struct bpf_insn b[] = {
		MX_ST_W(10, -4, (int32_t)arg),
		MX_MOV_REG(2, 10), MX_ADD_IMM(2, -4),
		MX_LD_MAP(1, fds[0]),
		MX_CALL(BPF_FUNC_map_lookup_elem),
		MX_JEQ_IMM(0, 0, 2),
		MX_MOV_IMM(0, 1),
		MX_EXIT,
		MX_MOV_IMM(0, 0),
		MX_EXIT,
	};
	memcpy(p, b, sizeof(b));
	return MX_LEN(b);
}

UT_TEST(lru_used_keys_survive_vs_kernel)
{
	/* max, hot (looked up by a program), new keys after: new < max - hot */
	static const uint32_t c[][3] = { { 32, 8, 8 }, { 32, 8, 20 }, { 64, 16, 40 },
					 { 200, 50, 100 } };
	uint64_t v = 0;

	MX_NEED_KERNEL();
	pin_cpu0();
	for (size_t i = 0; i < MX_LEN(c); i++) {
		struct mx m;
		uint32_t max = c[i][0], hot = c[i][1], n = c[i][2];
		if (mx_create(&m, "lru ref", LRU, 4, 8, max, 0, 0))
			continue;
		int fds[2][4] = { { m.fd[MX_U] }, { m.fd[MX_K] } };
		for (uint32_t k = 0; k < max; k++)
			MX_UPDATE(&m, &k, &v, BPF_ANY);
		for (uint32_t k = 0; k < hot; k++)
			UT_CHECK_EQ(MX_PROG_BOTH("touch", prog_touch, fds, k), 1);
		for (uint32_t k = 1000; k < 1000 + n; k++)
			MX_UPDATE(&m, &k, &v, BPF_ANY);
		for (int s = 0; s < 2; s++) {
			for (uint32_t k = 0; k < hot; k++)
				UT_CHECK(present(&m, s, k), "%s: used key %u evicted", mx_side[s], k);
			for (uint32_t k = 1000; k < 1000 + n; k++)
				UT_CHECK(present(&m, s, k), "%s: new key %u evicted", mx_side[s], k);
			UT_CHECK(count_keys(&m, s) <= (int)max, "%s over max", mx_side[s]);
		}
		UT_CHECK_EQ(count_keys(&m, MX_U), max);	/* uebpf: a full map stays full */
		mx_close(&m);
	}
}

/* Per-CPU LRU: a program writes only its CPU's slot; user space sees all slots. */
UT_TEST(lru_percpu_eviction)
{
	int fd = bpf_map_create(LRUP, "lp", 4, 8, 4, NULL);
	size_t nv = (size_t)ncpus();
	uint64_t *vals = calloc(nv, 8);

	UT_CHECK(fd >= 0 && vals, "create %d", fd);
	for (uint32_t k = 0; k < 10; k++) {
		for (size_t c = 0; c < nv; c++)
			vals[c] = k * 100 + c;
		UT_CHECK_EQ(bpf_map_update_elem(fd, &k, vals, BPF_ANY), 0);
	}
	/* Oldest-first eviction (no lookups): 6..9 remain, each with all its CPU values. */
	for (uint32_t k = 0; k < 10; k++) {
		int rc = bpf_map_lookup_elem(fd, &k, vals);
		UT_CHECK_EQ(rc, k < 6 ? -ENOENT : 0);
		for (size_t c = 0; !rc && c < nv; c++)
			UT_CHECK_EQ(vals[c], k * 100 + c);
	}
	/* BPF_EXIST on a missing key evicts nothing (there is nothing to insert). */
	uint32_t k = 77;
	UT_CHECK_EQ(bpf_map_update_elem(fd, &k, vals, BPF_EXIST), -ENOENT);
	k = 6;
	UT_CHECK_EQ(bpf_map_lookup_elem(fd, &k, vals), 0);
	free(vals);
	close(fd);
}

/*
 * Memory: bytes of the map file per element, for a 4-byte key and an 8-byte value. The
 * LRU's own cost is 9 bytes per element (list links and a ref byte); the rest is the hash
 * table's (element header 8, key padded to 8, value 8, bucket 8 per power-of-two slot,
 * free-ring slot 4, a few spare elements). The kernel's element alone is 48 + 8 + 8 bytes.
 */
UT_TEST(lru_memory_per_element)
{
	static const uint32_t sizes[] = { 1000, 10000, 100000 };

	for (size_t i = 0; i < MX_LEN(sizes); i++) {
		int lru = bpf_map_create(LRU, "mem", 4, 8, sizes[i], NULL);
		int hash = bpf_map_create(BPF_MAP_TYPE_HASH, "mem", 4, 8, sizes[i], NULL);
		struct stat a, b;
		UT_CHECK(lru >= 0 && hash >= 0 && !fstat(lru, &a) && !fstat(hash, &b), "create");
		double per = (double)(a.st_size - 4096) / sizes[i];
		double extra = (double)(a.st_size - b.st_size) / sizes[i];
		if (getenv("UT_VERBOSE"))
			printf("  LRU max %u: %.1f bytes/element (%.1f more than a hash map)\n",
			       sizes[i], per, extra);
		UT_CHECK(extra <= 9.0 + 64.0 * 4096 / sizes[i] + 0.5, "LRU extra %.1f B/elem", extra);
		UT_CHECK(per <= 64.0, "%.1f bytes per element", per);
		close(lru);
		close(hash);
	}
}

/* ---- concurrency (uebpf only; also under TSan) ---- */

struct lru_conc {
	int fd, prog;
	int bad;	/* atomic */
};

static void *lru_worker(void *arg)
{
	struct lru_conc *c = arg;
	uint64_t s = (uint64_t)(uintptr_t)&s, v;
	uint8_t pkt[64] = { 0 };

	for (int i = 0; i < 20000; i++) {
		uint32_t r = mx_rand(&s), k = r % 300;
		v = (uint64_t)k << 32 | i;
		switch (r % 4) {
		case 0: case 1:
			if (bpf_map_update_elem(c->fd, &k, &v, BPF_ANY))
				__atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
			break;
		case 2:
			bpf_map_delete_elem(c->fd, &k);
			break;
		default:
			if (bpf_map_lookup_elem(c->fd, &k, &v) == 0 && (v >> 32) != k)
				__atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
			break;
		}
		if (i % 64 == 0) {	/* a program's lookups set ref bits concurrently */
			LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt));
			bpf_prog_test_run_opts(c->prog, &t);
		}
	}
	return NULL;
}

UT_TEST(lru_concurrent_updates)
{
	static struct lru_conc c;
	pthread_t t[4];
	struct bpf_insn insns[16];
	int fds[4];

	c.fd = bpf_map_create(LRU, "conc", 4, 8, 64, NULL);
	fds[0] = c.fd;
	size_t n = prog_touch(insns, fds, 5);
	c.prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "t", "GPL", insns, n, NULL);
	UT_CHECK(c.fd >= 0 && c.prog >= 0, "create %d %d", c.fd, c.prog);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, lru_worker, &c);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	UT_CHECK_EQ(c.bad, 0);	/* no update failed (a full map evicts), no value mixed up */
	struct mx m = { .fd = { c.fd, -1 } };
	int cnt = count_keys(&m, MX_U);
	UT_CHECK(cnt <= 64, "%d keys", cnt);
	/*
	 * The list and the table still agree. Keys replaced or looked up by the program carry
	 * the ref bit and get a second chance over fresh keys, so one wave of 64 new keys may
	 * leave some of them; the rotation clears their bits, so after a second wave of 64 the
	 * map holds exactly the second wave (oldest-first eviction of unused keys).
	 */
	for (uint32_t wave = 1; wave <= 2; wave++)
		for (uint32_t k = wave * 1000; k < wave * 1000 + 64; k++) {
			uint64_t v = k;
			UT_CHECK_EQ(bpf_map_update_elem(c.fd, &k, &v, BPF_NOEXIST), 0);
		}
	UT_CHECK_EQ(count_keys(&m, MX_U), 64);
	for (uint32_t k = 2000; k < 2064; k++)
		UT_CHECK(present(&m, MX_U, k), "key %u", k);
	close(c.prog);
	close(c.fd);
}

/* ---- pinned files ---- */

/*
 * The LRU block sits after the hash table (64-byte aligned): found here by scanning for its
 * nelems field, so the test does not depend on hash.c's layout. struct lru_ctl { lock,
 * count, head, tail, nelems, pad, u64 evictions }.
 */
static long find_lru_ctl(const char *path, uint32_t count, uint32_t nelems)
{
	FILE *f = fopen(path, "rb");
	uint32_t w[5];
	long found = -1;

	for (long off = 0; f && found < 0 && fseek(f, off, SEEK_SET) == 0 &&
			   fread(w, 4, 5, f) == 5; off += 64)
		if (w[1] == count && w[2] < nelems && w[3] < nelems && w[4] == nelems)
			found = off;
	if (f)
		fclose(f);
	return found;
}

UT_TEST(lru_pinned_file_validation)
{
	int fd = bpf_map_create(LRU, "pl", 4, 8, 16, NULL);
	char path[128];
	uint64_t v = 3;
	uint32_t nelems = 16 + 2 * (uint32_t)ncpus() + 16;	/* hash.c's pool (hash.h) */

	for (uint32_t k = 0; k < 5; k++)
		UT_CHECK_EQ(bpf_map_update_elem(fd, &k, &v, 0), 0);
	if (mx_pin_tmp(fd, path, sizeof(path))) {
		ut_skip("cannot pin under %s", path);
		close(fd);
		return;
	}
	long off = find_lru_ctl(path, 5, nelems);
	if (off < 0) {
		ut_skip("LRU control block not found (pool size changed?)");
	} else {
		static const struct { int field; uint32_t val; } corrupt[] = {
			{ 1, 17 },		/* count > max_entries */
			{ 2, 0xfffffff0u },	/* head out of range */
			{ 3, 9999 },		/* tail out of range */
			{ 4, 7 },		/* nelems differs from the table's */
		};
		for (size_t i = 0; i < MX_LEN(corrupt); i++) {
			uint32_t old = 0, bad = corrupt[i].val;
			long at = off + 4 * corrupt[i].field;
			FILE *f = fopen(path, "rb");
			UT_CHECK(f && fseek(f, at, SEEK_SET) == 0 && fread(&old, 4, 1, f) == 1, "rd");
			if (f)
				fclose(f);
			UT_CHECK_EQ(mx_poke(path, at, &bad, 4), 0);
			UT_CHECK_EQ(bpf_obj_get(path), -EINVAL);
			UT_CHECK_EQ(mx_poke(path, at, &old, 4), 0);
		}
		int g = bpf_obj_get(path);
		UT_CHECK(g >= 0, "repaired file opens: %d", g);
		uint32_t k = 4;
		UT_CHECK_EQ(bpf_map_lookup_elem(g, &k, &v), 0);
		close(g);
	}
	unlink(path);
	close(fd);
}

/* BPF_F_NO_COMMON_LRU: max_entries rounded up to a multiple of the CPU count (the kernel's
 * htab_map_alloc), kept when the pinned file is opened again, and that many keys fit. */
UT_TEST(lru_no_common_lru_rounding_reopens)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_COMMON_LRU);
	uint32_t n = (uint32_t)ncpus(), want = (3 + n - 1) / n * n;
	int fd = bpf_map_create(LRU, "nc", 4, 8, 3, &o);
	char path[128];
	uint64_t v = 0;

	UT_CHECK(fd >= 0, "create %d", fd);
	UT_CHECK_EQ(mx_info_max_entries(MX_U, fd), want);
	for (uint32_t k = 0; k < want + 2; k++)
		UT_CHECK_EQ(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	struct mx m = { .fd = { fd, -1 } };
	UT_CHECK_EQ(count_keys(&m, MX_U), want);
	if (mx_pin_tmp(fd, path, sizeof(path)) == 0) {
		int g = bpf_obj_get(path);
		UT_CHECK(g >= 0, "obj_get %d: %s", g, uebpf_last_error());
		UT_CHECK_EQ(mx_info_max_entries(MX_U, g), want);
		close(g);
		unlink(path);
	}
	close(fd);
}
