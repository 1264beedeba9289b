/*
 * BPF_MAP_TYPE_ARRAY_OF_MAPS and BPF_MAP_TYPE_HASH_OF_MAPS, differentially against the
 * running kernel (raw bpf(2), see mapx.h): creation errors, element commands, and an XDP
 * program that reaches an inner map through an array of maps. Map ids differ between the
 * sides; what is compared is that a lookup yields the id bpf_obj_get_info_by_fd gives for
 * the inner map on that side.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include "mapx.h"

static int create(int side, uint32_t type, uint32_t ks, uint32_t vs, uint32_t max,
		  uint32_t flags, int inner)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = type, a.key_size = ks, a.value_size = vs, a.max_entries = max;
	a.map_flags = flags, a.inner_map_fd = (uint32_t)inner;
	return mx_sys(side, BPF_MAP_CREATE, &a, MX_END(map_extra));
}

static uint32_t map_id(int side, int fd)
{
	struct bpf_map_info info;
	union bpf_attr a;

	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd, a.info.info_len = sizeof(info), a.info.info = MX_PTR(&info);
	return mx_sys(side, BPF_OBJ_GET_INFO_BY_FD, &a, MX_END(info)) ? 0 : info.id;
}

static int elem(int side, int cmd, int fd, const void *key, void *val, uint64_t flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd, a.key = MX_PTR(key), a.flags = flags;
	if (cmd == BPF_MAP_GET_NEXT_KEY)
		a.next_key = MX_PTR(val);
	else
		a.value = MX_PTR(val);
	return mx_sys(side, cmd, &a, cmd == BPF_MAP_GET_NEXT_KEY ? MX_END(next_key) : MX_END(flags));
}

/* The same create on both sides: the common result (>= 0: both made one). */
#define BOTH_CREATE(fds, type, ks, vs, max, flags, inner) \
	both_create(__LINE__, fds, type, ks, vs, max, flags, inner)
static int both_create(int line, int fds[2], uint32_t type, uint32_t ks, uint32_t vs,
		       uint32_t max, uint32_t flags, const int inner[2])
{
	int rc[2];

	for (int s = 0; s < 2; s++) {
		fds[s] = create(s, type, ks, vs, max, flags, inner[s]);
		rc[s] = fds[s] < 0 ? fds[s] : 0;
	}
	if (rc[0] != rc[1])
		ut_fail(__FILE__, line, "DIVERGENCE create type %u: uebpf %d, kernel %d", type,
			rc[0], rc[1]);
	return rc[1];
}

static void close2(int fds[2])
{
	for (int s = 0; s < 2; s++)
		if (fds[s] >= 0)
			close(fds[s]);
	fds[0] = fds[1] = -1;
}

/*
 * One element command on both sides. For updates `val` is a pair of fds (one per side);
 * a lookup's answer is an id each side checks against want[s]'s map id (want NULL: no
 * answer expected); get_next_key answers are compared as bytes. Returns the common rc.
 */
#define STEP(cmd, outer, key, val, flags, want) step(__LINE__, cmd, outer, key, val, flags, want)
static int step(int line, int cmd, const int outer[2], const void *key, const int *val,
		uint64_t flags, const int *want)
{
	int rc[2];
	uint32_t out[2][4];

	for (int s = 0; s < 2; s++) {
		memset(out[s], 0xA5, sizeof(out[s]));
		int32_t in = val ? val[s] : 0;
		void *v = cmd == BPF_MAP_UPDATE_ELEM ? (void *)&in : cmd == BPF_MAP_DELETE_ELEM
									? NULL : out[s];
		rc[s] = elem(s, cmd, outer[s], key, v, flags);
	}
	if (rc[0] != rc[1]) {
		ut_fail(__FILE__, line, "DIVERGENCE cmd %d: uebpf %d, kernel %d", cmd, rc[0], rc[1]);
		return rc[1];
	}
	if (cmd == BPF_MAP_LOOKUP_ELEM && !rc[0] && want)
		for (int s = 0; s < 2; s++)
			if (out[s][0] != map_id(s, want[s]) || out[s][1] != 0xA5A5A5A5u)
				ut_fail(__FILE__, line, "%s: lookup gave id %u, inner map is %u",
					mx_side[s], out[s][0], map_id(s, want[s]));
	if (cmd == BPF_MAP_GET_NEXT_KEY && !rc[0] && memcmp(out[0], out[1], sizeof(out[0])))
		ut_fail(__FILE__, line, "DIVERGENCE get_next_key: uebpf %u, kernel %u", out[0][0],
			out[1][0]);
	return rc[0];
}

UT_TEST(create_errors)
{
	MX_NEED_KERNEL();
	static const uint32_t outer_types[] = { BPF_MAP_TYPE_ARRAY_OF_MAPS,
						BPF_MAP_TYPE_HASH_OF_MAPS };
	int tmpl[2], pa[2], outer[2], nested[2], o[2];
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	const int missing[2] = { 9999, 9999 }, notmap[2] = { devnull, devnull };

	UT_CHECK_EQ(BOTH_CREATE(tmpl, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, missing), 0);
	UT_CHECK_EQ(BOTH_CREATE(pa, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, missing), 0);
	for (size_t t = 0; t < MX_LEN(outer_types); t++) {
		uint32_t ty = outer_types[t];
		BOTH_CREATE(o, ty, 4, 4, 4, 0, missing);	/* EBADF */
		close2(o);
		BOTH_CREATE(o, ty, 4, 4, 4, 0, notmap);		/* EINVAL */
		close2(o);
		BOTH_CREATE(o, ty, 4, 4, 4, 0, pa);		/* prog array template */
		close2(o);
		BOTH_CREATE(o, ty, 4, 8, 4, 0, tmpl);		/* value_size must be 4 */
		close2(o);
		BOTH_CREATE(o, ty, 4, 8, 4, 0, missing);	/* value_size before the fd */
		close2(o);
		BOTH_CREATE(o, ty, 4, 4, 0, 0, tmpl);		/* max_entries 0 */
		close2(o);
		BOTH_CREATE(o, ty, 8, 4, 4, 0, tmpl);		/* array: key_size 4 */
		close2(o);
		BOTH_CREATE(o, ty, 4, 4, 4, BPF_F_MMAPABLE, tmpl);
		close2(o);
		BOTH_CREATE(o, ty, 4, 4, 4, BPF_F_INNER_MAP, tmpl);
		close2(o);
		BOTH_CREATE(o, ty, 4, 4, 4, BPF_F_NO_PREALLOC, tmpl);
		close2(o);
		UT_CHECK_EQ(BOTH_CREATE(outer, ty, 4, 4, 4, 0, tmpl), 0);
		BOTH_CREATE(nested, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4, 0, outer);	/* 2 levels */
		close2(nested);
		BOTH_CREATE(nested, BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 4, 0, outer);
		close2(nested);
		close2(outer);
	}
	/* Templates of other families. */
	static const struct { uint32_t type, ks, vs, max, flags; } tm[] = {
		{ BPF_MAP_TYPE_HASH, 4, 8, 16, 0 }, { BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 2, 0 },
		{ BPF_MAP_TYPE_LRU_HASH, 4, 8, 16, 0 }, { BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0 },
		{ BPF_MAP_TYPE_QUEUE, 0, 8, 4, 0 }, { BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_INNER_MAP },
	};
	for (size_t i = 0; i < MX_LEN(tm); i++) {
		int t2[2];
		if (BOTH_CREATE(t2, tm[i].type, tm[i].ks, tm[i].vs, tm[i].max, tm[i].flags,
				missing))
			continue;
		BOTH_CREATE(o, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0, t2);
		close2(o);
		BOTH_CREATE(o, BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2, 0, t2);
		close2(o);
		close2(t2);
	}
	close2(pa);
	close2(tmpl);
	close(devnull);
}

/* Inner maps used by the element transcripts (same on both sides). */
struct inners {
	int a1[2], a2[2];	/* arrays of the template's shape */
	int big[2];		/* array, other max_entries */
	int h[2];		/* hash */
	int flg[2];		/* array, other flags */
	int outer[2];		/* an outer map: never a valid value */
};

static void make_inners(struct inners *in, int tmpl[2])
{
	const int none[2] = { -1, -1 };
	BOTH_CREATE(in->a1, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, none);
	BOTH_CREATE(in->a2, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, none);
	BOTH_CREATE(in->big, BPF_MAP_TYPE_ARRAY, 4, 8, 5, 0, none);
	BOTH_CREATE(in->h, BPF_MAP_TYPE_HASH, 4, 8, 4, 0, none);
	BOTH_CREATE(in->flg, BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_RDONLY_PROG, none);
	BOTH_CREATE(in->outer, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4, 0, tmpl);
}

static void close_inners(struct inners *in)
{
	close2(in->a1), close2(in->a2), close2(in->big), close2(in->h), close2(in->flg);
	close2(in->outer);
}

UT_TEST(array_of_maps_transcript)
{
	MX_NEED_KERNEL();
	const int none[2] = { -1, -1 }, missing[2] = { 9999, 9999 };
	int tmpl[2], o[2];
	struct inners in;
	uint32_t k0 = 0, k1 = 1, k3 = 3, k4 = 4, kbig = 1000;

	UT_CHECK_EQ(BOTH_CREATE(tmpl, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, none), 0);
	make_inners(&in, tmpl);
	UT_CHECK_EQ(BOTH_CREATE(o, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4, 0, tmpl), 0);
	close2(tmpl);	/* the template's shape stays */
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, NULL);		/* ENOENT */
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k4, NULL, 0, NULL);
	STEP(BPF_MAP_GET_NEXT_KEY, o, NULL, NULL, 0, NULL);		/* 0 */
	STEP(BPF_MAP_GET_NEXT_KEY, o, &k1, NULL, 0, NULL);
	STEP(BPF_MAP_GET_NEXT_KEY, o, &k3, NULL, 0, NULL);		/* ENOENT */
	STEP(BPF_MAP_GET_NEXT_KEY, o, &kbig, NULL, 0, NULL);		/* 0 */
	STEP(BPF_MAP_DELETE_ELEM, o, &k0, NULL, 0, NULL);		/* ENOENT */
	STEP(BPF_MAP_DELETE_ELEM, o, &k4, NULL, 0, NULL);		/* E2BIG */
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.a1, 0, NULL), 0);
	UT_CHECK_EQ(STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, in.a1), 0);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k1, in.a1, BPF_NOEXIST, NULL);	/* EINVAL */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k1, in.a1, BPF_EXIST, NULL);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k1, in.a1, BPF_F_LOCK, NULL);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k4, in.a1, 0, NULL);		/* E2BIG */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k4, missing, 0, NULL);		/* E2BIG first */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k1, missing, 0, NULL);		/* EBADF */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k1, in.big, 0, NULL);		/* EINVAL */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k1, in.h, 0, NULL);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k1, in.flg, 0, NULL);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k1, in.outer, 0, NULL);
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k1, NULL, 0, NULL);		/* still ENOENT */
	/* Replace, the same map twice, delete. */
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.a2, 0, NULL), 0);
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, in.a2);
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k3, in.a2, 0, NULL), 0);
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k3, NULL, 0, in.a2);
	UT_CHECK_EQ(STEP(BPF_MAP_DELETE_ELEM, o, &k0, NULL, 0, NULL), 0);
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, NULL);
	STEP(BPF_MAP_DELETE_ELEM, o, &k0, NULL, 0, NULL);		/* ENOENT again */
	/* The outer map keeps its inner maps alive: close ours, look it up by id. */
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k1, in.a1, 0, NULL), 0);
	uint32_t id[2] = { map_id(MX_U, in.a1[0]), map_id(MX_K, in.a1[1]) };
	close2(in.a1);
	for (int s = 0; s < 2; s++) {
		uint32_t got = 0;
		UT_CHECK_EQ(elem(s, BPF_MAP_LOOKUP_ELEM, o[s], &k1, &got, 0), 0);
		UT_CHECK_EQ(got, id[s]);
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_id = got;
		int fd = mx_sys(s, BPF_MAP_GET_FD_BY_ID, &a, MX_END(open_flags));
		/* Known divergence: uebpf finds ids only among objects some fd names (api/obj.c),
		 * so a map held only by an outer map is ENOENT there. */
		if (s == MX_K)
			UT_CHECK(fd >= 0, "%s: map %u is gone: %d", mx_side[s], got, fd);
		if (fd >= 0)
			close(fd);
	}
	close2(o);
	close_inners(&in);
}

UT_TEST(hash_of_maps_transcript)
{
	MX_NEED_KERNEL();
	const int none[2] = { -1, -1 }, missing[2] = { 9999, 9999 };
	int tmpl[2], o[2], hsmall[2], ho[2];
	struct inners in;
	uint64_t k0 = 0, k1 = 1, k2 = 2, knext[2];

	UT_CHECK_EQ(BOTH_CREATE(tmpl, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, none), 0);
	make_inners(&in, tmpl);
	UT_CHECK_EQ(BOTH_CREATE(o, BPF_MAP_TYPE_HASH_OF_MAPS, 8, 4, 2, 0, tmpl), 0);
	close2(tmpl);
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, NULL);		/* ENOENT */
	STEP(BPF_MAP_GET_NEXT_KEY, o, NULL, NULL, 0, NULL);		/* ENOENT */
	STEP(BPF_MAP_DELETE_ELEM, o, &k0, NULL, 0, NULL);		/* ENOENT */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.a1, BPF_EXIST, NULL);	/* ENOENT */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.a1, 3, NULL);		/* EINVAL */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.a1, BPF_F_LOCK, NULL);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, missing, 0, NULL);		/* EBADF */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, missing, 3, NULL);		/* fd or flags first? */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.big, 0, NULL);		/* EINVAL */
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.h, 0, NULL);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.flg, 0, NULL);
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.a1, BPF_NOEXIST, NULL), 0);
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, in.a1);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.a2, BPF_NOEXIST, NULL);	/* EEXIST */
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, in.a1);
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k0, in.a2, BPF_EXIST, NULL), 0);
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, in.a2);
	STEP(BPF_MAP_GET_NEXT_KEY, o, NULL, NULL, 0, NULL);		/* k0 */
	STEP(BPF_MAP_GET_NEXT_KEY, o, &k0, NULL, 0, NULL);		/* ENOENT */
	STEP(BPF_MAP_GET_NEXT_KEY, o, &k2, NULL, 0, NULL);		/* k0 (restart) */
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k1, in.a1, BPF_ANY, NULL), 0);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k2, in.a1, BPF_ANY, NULL);	/* E2BIG: full */
	/* Two keys: bucket order may differ, so the walk is compared as a set. */
	for (int s = 0; s < 2; s++) {
		uint64_t a = 0, b = 0;
		UT_CHECK_EQ(elem(s, BPF_MAP_GET_NEXT_KEY, o[s], NULL, &a, 0), 0);
		UT_CHECK_EQ(elem(s, BPF_MAP_GET_NEXT_KEY, o[s], &a, &b, 0), 0);
		UT_CHECK_EQ(elem(s, BPF_MAP_GET_NEXT_KEY, o[s], &b, knext, 0), -ENOENT);
		UT_CHECK_EQ(a + b, 1);
	}
	UT_CHECK_EQ(STEP(BPF_MAP_DELETE_ELEM, o, &k0, NULL, 0, NULL), 0);
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, NULL);		/* ENOENT */
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k1, NULL, 0, in.a1);
	STEP(BPF_MAP_DELETE_ELEM, o, &k0, NULL, 0, NULL);		/* ENOENT */
	STEP(BPF_MAP_LOOKUP_AND_DELETE_ELEM, o, &k1, NULL, 0, NULL);	/* not for fd maps */
	close2(o);
	/* A hash template: max_entries is not part of the match; flags are. */
	UT_CHECK_EQ(BOTH_CREATE(hsmall, BPF_MAP_TYPE_HASH, 4, 8, 2, 0, none), 0);
	UT_CHECK_EQ(BOTH_CREATE(ho, BPF_MAP_TYPE_HASH_OF_MAPS, 8, 4, 2, 0, hsmall), 0);
	STEP(BPF_MAP_UPDATE_ELEM, ho, &k0, in.h, 0, NULL);		/* hash of 4 entries */
	STEP(BPF_MAP_LOOKUP_ELEM, ho, &k0, NULL, 0, in.h);
	STEP(BPF_MAP_UPDATE_ELEM, ho, &k1, in.a1, 0, NULL);		/* EINVAL */
	close2(ho);
	close2(hsmall);
	close_inners(&in);
}

UT_TEST(inner_map_flag_template)
{
	MX_NEED_KERNEL();
	const int none[2] = { -1, -1 };
	int tmpl[2], o[2], small[2], big[2], plain[2];
	uint32_t k0 = 0;

	UT_CHECK_EQ(BOTH_CREATE(tmpl, BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_INNER_MAP, none), 0);
	UT_CHECK_EQ(BOTH_CREATE(small, BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_INNER_MAP, none), 0);
	UT_CHECK_EQ(BOTH_CREATE(big, BPF_MAP_TYPE_ARRAY, 4, 8, 100, BPF_F_INNER_MAP, none), 0);
	UT_CHECK_EQ(BOTH_CREATE(plain, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, none), 0);
	UT_CHECK_EQ(BOTH_CREATE(o, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0, tmpl), 0);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, small, 0, NULL);		/* any size */
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, small);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, big, 0, NULL);
	STEP(BPF_MAP_LOOKUP_ELEM, o, &k0, NULL, 0, big);
	STEP(BPF_MAP_UPDATE_ELEM, o, &k0, plain, 0, NULL);		/* flags differ */
	close2(o), close2(tmpl), close2(small), close2(big), close2(plain);
}

/*
 * key = 0; inner = lookup(outer, &key); if (!inner) return 1;
 * v = lookup(inner, &key); if (!v) return 2; *v += 5;
 * val = *v * 2; update(inner, &one, &val, BPF_ANY); return *v;
 */
static size_t build_prog(struct bpf_insn *p, const int *fds, uint64_t arg)
{
	struct bpf_insn insns[] = {
		MX_ST_DW(10, -8, 0),
		MX_MOV_REG(2, 10), MX_ADD_IMM(2, -8),
		MX_LD_MAP(1, fds[0]),
		MX_CALL(BPF_FUNC_map_lookup_elem),
		MX_JNE_IMM(0, 0, 2),
		MX_MOV_IMM(0, 1), MX_EXIT,
		MX_MOV_REG(6, 0),				/* r6 = inner map */
		MX_MOV_REG(1, 0), MX_MOV_REG(2, 10), MX_ADD_IMM(2, -8),
		MX_CALL(BPF_FUNC_map_lookup_elem),
		MX_JNE_IMM(0, 0, 2),
		MX_MOV_IMM(0, 2), MX_EXIT,
		MX_LDX_DW(7, 0, 0), MX_ADD_IMM(7, 5), MX_STX_DW(0, 7, 0),
		MX_MOV_REG(3, 7), MX_I(BPF_ALU64 | BPF_ADD | BPF_X, 3, 7, 0, 0),	/* r3 = 2 * r7 */
		MX_STX_DW(10, 3, -16),
		MX_ST_DW(10, -24, 1),
		MX_MOV_REG(1, 6), MX_MOV_REG(2, 10), MX_ADD_IMM(2, -24),
		MX_MOV_REG(3, 10), MX_ADD_IMM(3, -16), MX_MOV_IMM(4, 0),
		MX_CALL(BPF_FUNC_map_update_elem),
		MX_JEQ_IMM(0, 0, 2),
		MX_MOV_IMM(0, 3), MX_EXIT,
		MX_MOV_REG(0, 7), MX_EXIT,
	};
	memcpy(p, insns, sizeof(insns));
	return MX_LEN(insns);
}

UT_TEST(program_reaches_inner_map)
{
	MX_NEED_KERNEL();
	const int none[2] = { -1, -1 };
	int tmpl[2], o[2], a1[2], a2[2];
	uint32_t k0 = 0, k1 = 1, k2 = 2;

	UT_CHECK_EQ(BOTH_CREATE(tmpl, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, none), 0);
	UT_CHECK_EQ(BOTH_CREATE(a1, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, none), 0);
	UT_CHECK_EQ(BOTH_CREATE(a2, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, none), 0);
	UT_CHECK_EQ(BOTH_CREATE(o, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0, tmpl), 0);
	const int fds[2][4] = { { o[0] }, { o[1] } };
	UT_CHECK_EQ(MX_PROG_BOTH("empty outer", build_prog, fds, 0), 1);
	uint64_t v = 10;
	for (int s = 0; s < 2; s++)
		UT_CHECK_EQ(elem(s, BPF_MAP_UPDATE_ELEM, a1[s], &k0, &v, 0), 0);
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k0, a1, 0, NULL), 0);
	UT_CHECK_EQ(MX_PROG_BOTH("inner a1", build_prog, fds, 0), 15);
	UT_CHECK_EQ(MX_PROG_BOTH("inner a1 again", build_prog, fds, 0), 20);
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k0, a2, 0, NULL), 0);	/* swap */
	UT_CHECK_EQ(MX_PROG_BOTH("inner a2", build_prog, fds, 0), 5);
	for (int s = 0; s < 2; s++) {
		uint64_t got[2][3];
		for (uint32_t k = 0; k < 3; k++) {
			uint32_t key = k;
			UT_CHECK_EQ(elem(s, BPF_MAP_LOOKUP_ELEM, a1[s], &key, &got[0][k], 0), 0);
			UT_CHECK_EQ(elem(s, BPF_MAP_LOOKUP_ELEM, a2[s], &key, &got[1][k], 0), 0);
		}
		UT_CHECK(got[0][0] == 20 && got[0][1] == 40 && got[0][2] == 0 && got[1][0] == 5 &&
			 got[1][1] == 10 && got[1][2] == 0,
			 "%s: a1 %llu %llu %llu a2 %llu %llu %llu", mx_side[s],
			 (unsigned long long)got[0][0], (unsigned long long)got[0][1],
			 (unsigned long long)got[0][2], (unsigned long long)got[1][0],
			 (unsigned long long)got[1][1], (unsigned long long)got[1][2]);
	}
	UT_CHECK_EQ(STEP(BPF_MAP_DELETE_ELEM, o, &k0, NULL, 0, NULL), 0);
	UT_CHECK_EQ(MX_PROG_BOTH("deleted", build_prog, fds, 0), 1);
	(void)k1, (void)k2;
	/* The program keeps the outer map, and the outer map its inner maps, after the
	 * user's fds are gone (the kernel's array of maps has no release_uref). */
	UT_CHECK_EQ(STEP(BPF_MAP_UPDATE_ELEM, o, &k0, a1, 0, NULL), 0);
	int prog[2];
	struct bpf_insn insns[64];
	for (int s = 0; s < 2; s++) {
		size_t n = build_prog(insns, fds[s], 0);
		prog[s] = mx_prog_load(s, insns, n);
		UT_CHECK(prog[s] >= 0, "%s: load %d", mx_side[s], prog[s]);
	}
	close2(o), close2(a1), close2(a2), close2(tmpl);
	for (int s = 0; s < 2; s++) {
		if (prog[s] < 0)
			continue;
		UT_CHECK_EQ(mx_prog_run(s, prog[s]), 25);
		close(prog[s]);
	}
}

/*
 * A pinned hash of maps opened by a second process: the maps in it belong to the first
 * process, so the second finds no value for the key (ENOENT) but still sees the key, and
 * opening the pin must not take the entry away from the first process, whose lookup still
 * gives its inner map's id. (The kernel shares maps between processes; uebpf's maps of
 * maps hold process-local references: docs/maps.md.)
 */
UT_TEST(pinned_outer_map_opened_elsewhere_keeps_entries)
{
	char path[128];
	uint32_t key = 1, id = 0;
	int tmpl = create(0, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, -1);
	int inner = create(0, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, -1);
	int outer = create(0, BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 4, 0, tmpl);

	UT_CHECK(tmpl >= 0 && inner >= 0 && outer >= 0, "create: %d %d %d", tmpl, inner, outer);
	UT_CHECK_EQ(elem(0, BPF_MAP_UPDATE_ELEM, outer, &key, &inner, BPF_ANY), 0);
	UT_CHECK_EQ(mx_pin_tmp(outer, path, sizeof(path)), 0);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = bpf_obj_get(path);
		uint32_t v = 0, next = 0;
		int lookup = fd < 0 ? -1000 : elem(0, BPF_MAP_LOOKUP_ELEM, fd, &key, &v, 0);
		int walk = fd < 0 ? -1000 : elem(0, BPF_MAP_GET_NEXT_KEY, fd, NULL, &next, 0);
		_exit(lookup == -ENOENT && walk == 0 && next == key ? 0 : 1);
	}
	int st = -1;
	UT_CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "fork/wait");
	UT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: lookup ENOENT, key still listed");
	UT_CHECK_EQ(elem(0, BPF_MAP_LOOKUP_ELEM, outer, &key, &id, 0), 0);
	UT_CHECK_EQ(id, map_id(0, inner));
	unlink(path);
	close(outer);
	close(inner);
	close(tmpl);
}
