/*
 * BPF_MAP_TYPE_BLOOM_FILTER against the live kernel. With BPF_F_ZERO_SEED both filters hash
 * with the same seed, so uebpf must answer every peek exactly as the kernel, false positives
 * included: that checks the bit-array size, jhash/jhash2 and the number of hash functions.
 */
#include "mapx.h"

#define B BPF_MAP_TYPE_BLOOM_FILTER

UT_TEST(bloom_create_vs_kernel)
{
	static const struct { uint32_t ks, vs, max, flags; uint64_t extra; } c[] = {
		{ 0, 4, 10, 0, 0 }, { 4, 4, 10, 0, 0 }, { 0, 0, 10, 0, 0 }, { 0, 4, 0, 0, 0 },
		{ 0, 4, 10, 0, 15 }, { 0, 4, 10, 0, 16 }, { 0, 4, 10, 0, 1ull << 40 },
		{ 0, 4u << 20, 1, 0, 0 }, { 0, (4u << 20) + 1, 10, 0, 0 },
		{ 4, (4u << 20) + 1, 10, 0, 16 },	/* E2BIG (alloc_check) before EINVAL */
		{ 0, 4, 10, BPF_F_ZERO_SEED, 0 }, { 0, 4, 10, BPF_F_NO_PREALLOC, 0 },
		{ 0, 4, 10, BPF_F_MMAPABLE, 0 }, { 0, 4, 10, BPF_F_NUMA_NODE, 0 },
		{ 0, 4, 10, BPF_F_RDONLY_PROG, 0 }, { 0, 4, 10, BPF_F_INNER_MAP, 0 },
		{ 0, 4, 0xffffffffu, 0, 15 },		/* the largest bit array: 2^32 bits */
	};
	MX_NEED_KERNEL();
	for (size_t i = 0; i < MX_LEN(c); i++) {
		struct mx m;
		mx_create(&m, "bloom create", B, c[i].ks, c[i].vs, c[i].max, c[i].flags, c[i].extra);
		mx_close(&m);
	}
}

UT_TEST(bloom_scripted_vs_kernel)
{
	struct mx m;
	uint32_t v = 7, k = 0;

	MX_NEED_KERNEL();
	if (mx_create(&m, "bloom", B, 0, 4, 10, BPF_F_ZERO_SEED, 0))
		return;
	MX_LOOKUP_IN(&m, &v);				/* empty: ENOENT */
	MX_UPDATE(&m, NULL, &v, 0);
	MX_LOOKUP_IN(&m, &v);				/* present: 0 */
	MX_UPDATE(&m, NULL, &v, BPF_EXIST);		/* only BPF_ANY: EINVAL */
	MX_UPDATE(&m, NULL, &v, BPF_NOEXIST);
	MX_UPDATE(&m, NULL, &v, BPF_F_LOCK);
	MX_UPDATE(&m, &k, &v, 0);			/* a key: EINVAL */
	MX_UPDATE(&m, NULL, NULL, 0);			/* EFAULT */
	MX_ELEM(&m, BPF_MAP_LOOKUP_ELEM, &k, MX_VIN, &v, 0);
	MX_ELEM(&m, BPF_MAP_LOOKUP_ELEM, NULL, MX_VNULL, NULL, 0);
	MX_ELEM(&m, BPF_MAP_LOOKUP_ELEM, NULL, MX_VIN, &v, BPF_F_LOCK);
	MX_POP(&m, NULL);				/* no pop from user space: ENOTSUPP */
	MX_ELEM(&m, BPF_MAP_LOOKUP_AND_DELETE_ELEM, NULL, MX_VOUT, NULL, BPF_EXIST);
	MX_POP(&m, &k);
	MX_DELETE(&m, NULL);				/* EOPNOTSUPP */
	MX_DELETE(&m, &k);				/* a key: EINVAL */
	MX_NEXT(&m, NULL);				/* EOPNOTSUPP */
	MX_NEXT(&m, &k);				/* EINVAL */
	for (int cmd = BPF_MAP_LOOKUP_BATCH; cmd <= BPF_MAP_DELETE_BATCH; cmd++)
		MX_BATCH(&m, cmd, 2);
	UT_CHECK_EQ(mx_freeze(MX_U, m.fd[MX_U]), mx_freeze(MX_K, m.fd[MX_K]));
	MX_UPDATE(&m, NULL, &v, 0);			/* frozen: EPERM */
	MX_LOOKUP_IN(&m, &v);
	mx_close(&m);
}

/*
 * Push `n` values, then ask about 4n values (the first n present, the rest mostly not):
 * every answer must be the kernel's. A small filter (few bits) makes false positives common.
 */
static void same_answers(uint32_t vs, uint32_t max, uint64_t extra, uint32_t n, uint64_t seed)
{
	struct mx m;
	uint8_t v[64];
	uint32_t fp = 0;

	if (mx_create(&m, "bloom zero seed", B, 0, vs, max, BPF_F_ZERO_SEED, extra))
		return;
	for (uint32_t i = 0; i < 4 * n; i++) {
		uint64_t s = seed + i;
		for (uint32_t b = 0; b < vs; b++)
			v[b] = (uint8_t)mx_rand(&s);
		int rc = i < n ? MX_UPDATE(&m, NULL, v, 0) : MX_LOOKUP_IN(&m, v);
		fp += i >= n && rc == 0;
	}
	/* Everything pushed is found (a bloom filter has no false negatives). */
	for (uint32_t i = 0; i < n; i++) {
		uint64_t s = seed + i;
		for (uint32_t b = 0; b < vs; b++)
			v[b] = (uint8_t)mx_rand(&s);
		UT_CHECK_EQ(MX_LOOKUP_IN(&m, v), 0);
	}
	if (getenv("UT_VERBOSE"))
		printf("  bloom vs=%u max=%u k=%llu: %u false positives of %u\n", vs, max,
		       (unsigned long long)extra, fp, 3 * n);
	mx_close(&m);
}

UT_TEST(bloom_false_positives_match_kernel)
{
	MX_NEED_KERNEL();
	/* value sizes: jhash2 (multiples of 4: 1, 3, 4, 8 words) and jhash (tails 1..3, >12) */
	static const uint32_t sizes[] = { 4, 12, 16, 32, 1, 3, 7, 13, 25, 40 };
	for (size_t i = 0; i < MX_LEN(sizes); i++)
		same_answers(sizes[i], 8, 1, 40, i * 1000);
	for (uint64_t k = 0; k <= 15; k++)	/* 0: the default of 5 functions */
		same_answers(8, 30, k, 60, 77 + k);
	same_answers(4, 1000, 0, 1500, 5);	/* a larger array (power-of-two rounding) */
	same_answers(6, 100000, 3, 2000, 9);
}

/* push(map, &arg, BPF_ANY) then peek(map, &(arg ^ 1)): returns push | peek << 8 (low bytes). */
static size_t prog_push_peek(struct bpf_insn *p, const int *fds, uint64_t arg)
{
	struct bpf_insn b[] = {
		MX_ST_W(10, -8, (int32_t)arg),
		MX_MOV_REG(2, 10), MX_ADD_IMM(2, -8),
		MX_LD_MAP(1, fds[0]), MX_MOV_IMM(3, BPF_ANY),
		MX_CALL(BPF_FUNC_map_push_elem),
		MX_MOV_REG(6, 0),
		MX_ST_W(10, -8, (int32_t)(arg >> 32)),
		MX_MOV_REG(2, 10), MX_ADD_IMM(2, -8),
		MX_LD_MAP(1, fds[0]),
		MX_CALL(BPF_FUNC_map_peek_elem),
		MX_I(BPF_ALU64 | BPF_AND | BPF_K, 0, 0, 0, 0xff),
		MX_I(BPF_ALU64 | BPF_LSH | BPF_K, 0, 0, 0, 8),
		MX_I(BPF_ALU64 | BPF_AND | BPF_K, 6, 0, 0, 0xff),
		MX_I(BPF_ALU64 | BPF_OR | BPF_X, 0, 6, 0, 0),
		MX_EXIT,
	};
	memcpy(p, b, sizeof(b));
	return MX_LEN(b);
}

UT_TEST(bloom_programs_vs_kernel)
{
	struct mx m;
	uint64_t seed = 3;

	MX_NEED_KERNEL();
	if (mx_create(&m, "bloom progs", B, 0, 4, 16, BPF_F_ZERO_SEED, 2))
		return;
	int fds[2][4] = { { m.fd[MX_U] }, { m.fd[MX_K] } };
	for (int i = 0; i < 100; i++) {
		uint32_t a = mx_rand(&seed) % 200, q = mx_rand(&seed) % 200;
		MX_PROG_BOTH("push+peek", prog_push_peek, fds, (uint64_t)q << 32 | a);
		MX_LOOKUP_IN(&m, &q);	/* user space agrees with what programs pushed */
	}
	mx_close(&m);
}

/* With a random seed the bits differ from the kernel's, but nothing pushed is ever missed. */
UT_TEST(bloom_random_seed_no_false_negatives)
{
	int fd = bpf_map_create(B, "b", 0, 8, 500, NULL);
	uint64_t v;

	UT_CHECK(fd >= 0, "create %d", fd);
	for (v = 0; v < 500; v++)
		UT_CHECK_EQ(bpf_map_update_elem(fd, NULL, &v, BPF_ANY), 0);
	for (v = 0; v < 500; v++)
		UT_CHECK_EQ(bpf_map_lookup_elem(fd, NULL, &v), 0);
	close(fd);
}

UT_TEST(bloom_pinned_file_validation)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_ZERO_SEED, .map_extra = 3);
	int fd = bpf_map_create(B, "pb", 0, 4, 100, &o);
	char path[128];
	uint32_t v = 5, bad;

	UT_CHECK_EQ(bpf_map_update_elem(fd, NULL, &v, 0), 0);
	if (mx_pin_tmp(fd, path, sizeof(path))) {
		ut_skip("cannot pin under %s", path);
		close(fd);
		return;
	}
	int g = bpf_obj_get(path);
	UT_CHECK(g >= 0, "obj_get %d", g);
	UT_CHECK_EQ(bpf_map_lookup_elem(g, NULL, &v), 0);	/* same bits, same seed */
	close(g);
	/* struct bloom_ctl { nr_hash_funcs, bitset_mask, seed, pad, u64 bitset_bytes } */
	static const struct { long off; uint32_t val; } corrupt[] = {
		{ 0, 4 },		/* 3 functions were asked for */
		{ 4, 0xffffffffu },	/* a mask past the bit array */
		{ 8, 1 },		/* a seed in a BPF_F_ZERO_SEED filter */
		{ 16, 1 },		/* bitset_bytes */
	};
	for (size_t i = 0; i < MX_LEN(corrupt); i++) {
		uint32_t old = 0;
		FILE *f = fopen(path, "rb");
		if (f && fseek(f, corrupt[i].off, SEEK_SET) == 0 && fread(&old, 4, 1, f) == 1)
			bad = corrupt[i].val;
		else
			bad = old;
		if (f)
			fclose(f);
		UT_CHECK_EQ(mx_poke(path, corrupt[i].off, &bad, 4), 0);
		UT_CHECK_EQ(bpf_obj_get(path), -EINVAL);
		UT_CHECK_EQ(mx_poke(path, corrupt[i].off, &old, 4), 0);
	}
	unlink(path);
	close(fd);
}
