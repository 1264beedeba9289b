/*
 * mapx: support for tests/test_mapx_*.c (LPM trie, queue/stack, bloom filter, LRU hash).
 * A differential step runs the same bpf() command with the same arguments on a uebpf map
 * (uebpf_bpf) and on a kernel map (raw bpf(2); libbpf is not linked, uebpf defines the same
 * symbols) and compares what the caller sees: return code, errno, and the bytes written to
 * the output buffer (with MX_GUARD bytes after it, so a write past the value shows too).
 * A mismatch fails the case as "DIVERGENCE <map> line N: ...". Everything is static inline
 * so each test file uses what it needs.
 */
#ifndef TESTS_MAPX_H
#define TESTS_MAPX_H
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "ut.h"

#define MX_ENOTSUPP	524		/* the kernel's internal ENOTSUPP, as user space sees it */
#define MX_FILL		0xA5
#define MX_GUARD	16
#define MX_MAXV		4096		/* largest value (all CPUs) the helpers compare */
#define MX_LEN(a)	(sizeof(a) / sizeof((a)[0]))
#define MX_END(f)	(offsetof(union bpf_attr, f) + sizeof(((union bpf_attr *)0)->f))
#define MX_PTR(p)	((__u64)(uintptr_t)(p))

#define MX_AT		__FILE__, __LINE__	/* where a differential step is */

enum { MX_U, MX_K };			/* the two sides: uebpf, the kernel */
static const char *const mx_side[] = { "uebpf", "kernel" };

static inline int mx_sys(int side, int cmd, union bpf_attr *a, size_t size)
{
	long rc = side == MX_K ? syscall(__NR_bpf, cmd, a, size) : uebpf_bpf(cmd, a, (unsigned)size);
	return rc < 0 ? -errno : (int)rc;
}

/* Does this process get bpf() from the kernel? (root on these machines) */
static inline int mx_kernel_ok(void)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY, a.key_size = 4, a.value_size = 4, a.max_entries = 1;
	int fd = mx_sys(MX_K, BPF_MAP_CREATE, &a, MX_END(map_extra));
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

#define MX_NEED_KERNEL() do { if (!mx_kernel_ok()) { \
	ut_skip("the kernel refuses bpf() here: no oracle"); return; } } while (0)

/* A map made on both sides with the same attributes. */
struct mx {
	const char *name;
	int fd[2];
	uint32_t key_size, value_size;	/* value_size: bytes user space passes (all CPUs) */
	uint8_t out[MX_MAXV];		/* uebpf's output of the last step (same as the kernel's) */
};

static inline int mx_create_one(int side, uint32_t type, uint32_t ks, uint32_t vs, uint32_t max,
				uint32_t flags, uint64_t extra)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = type, a.key_size = ks, a.value_size = vs, a.max_entries = max;
	a.map_flags = flags, a.map_extra = extra;
	return mx_sys(side, BPF_MAP_CREATE, &a, MX_END(map_extra));
}

/* Both sides must agree: an fd each (returns 0) or the same error (returned). */
static inline int mx_create_(struct mx *m, const char *file, int line, const char *name,
			     uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags,
			     uint64_t extra)
{
	int rc[2];

	memset(m, 0, sizeof(*m));
	m->name = name, m->key_size = ks, m->value_size = vs;
	for (int s = 0; s < 2; s++)
		rc[s] = mx_create_one(s, type, ks, vs, max, flags, extra);
	if ((rc[0] >= 0) != (rc[1] >= 0) || (rc[0] < 0 && rc[0] != rc[1]))
		ut_fail(file, line, "DIVERGENCE %s: create uebpf %d, kernel %d", name, rc[0], rc[1]);
	for (int s = 0; s < 2; s++)
		m->fd[s] = rc[s];
	if (rc[0] >= 0 && rc[1] >= 0)
		return 0;
	for (int s = 0; s < 2; s++)
		if (rc[s] >= 0)
			close(rc[s]);
	m->fd[0] = m->fd[1] = -1;
	return rc[0] < 0 ? rc[0] : rc[1];
}
#define mx_create(m, ...) mx_create_(m, MX_AT, __VA_ARGS__)

static inline void mx_close(struct mx *m)
{
	for (int s = 0; s < 2; s++)
		if (m->fd[s] >= 0)
			close(m->fd[s]);
	m->fd[0] = m->fd[1] = -1;
}

/* What the value pointer of a step is. */
enum mx_val {
	MX_VNULL,	/* NULL */
	MX_VIN,		/* the caller's bytes (update; bloom lookups): read-only input */
	MX_VOUT,	/* an output buffer filled with MX_FILL */
};

/*
 * One element command on both sides: same key pointer (NULL allowed), same flags. Output
 * buffers are compared whole, with the guard. Returns the common return code.
 */
static inline int mx_elem_(struct mx *m, const char *file, int line, int cmd, const void *key,
			   enum mx_val how, const void *in, uint64_t flags)
{
	static uint8_t buf[2][MX_MAXV + MX_GUARD];
	size_t n = cmd == BPF_MAP_GET_NEXT_KEY ? m->key_size : m->value_size;
	int rc[2];

	for (int s = 0; s < 2; s++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		memset(buf[s], MX_FILL, sizeof(buf[s]));
		if (how == MX_VIN)
			memcpy(buf[s], in, n);
		a.map_fd = (__u32)m->fd[s];
		a.key = MX_PTR(key);
		if (cmd == BPF_MAP_GET_NEXT_KEY) {
			a.next_key = how == MX_VNULL ? 0 : MX_PTR(buf[s]);
			rc[s] = mx_sys(s, cmd, &a, MX_END(next_key));
			continue;
		}
		a.value = how == MX_VNULL ? 0 : MX_PTR(buf[s]);
		a.flags = flags;
		rc[s] = mx_sys(s, cmd, &a, MX_END(flags));
	}
	if (rc[0] != rc[1])
		ut_fail(file, line, "DIVERGENCE %s: cmd %d rc uebpf %d, kernel %d", m->name, cmd,
			rc[0], rc[1]);
	else if (how != MX_VNULL && memcmp(buf[0], buf[1], n + MX_GUARD))
		ut_fail(file, line, "DIVERGENCE %s: cmd %d (rc %d) output bytes differ", m->name,
			cmd, rc[0]);
	memcpy(m->out, buf[0], n < sizeof(m->out) ? n : sizeof(m->out));
	return rc[0];
}

static inline enum mx_val mx_vin(const void *p)
{
	return p ? MX_VIN : MX_VNULL;
}

#define MX_UPDATE(m, key, val, fl)	mx_elem_(m, MX_AT, BPF_MAP_UPDATE_ELEM, key, \
						 mx_vin(val), val, fl)
#define MX_LOOKUP(m, key)		mx_elem_(m, MX_AT, BPF_MAP_LOOKUP_ELEM, key, MX_VOUT, NULL, 0)
#define MX_LOOKUP_IN(m, val)		mx_elem_(m, MX_AT, BPF_MAP_LOOKUP_ELEM, NULL, MX_VIN, val, 0)
#define MX_POP(m, key)			mx_elem_(m, MX_AT, BPF_MAP_LOOKUP_AND_DELETE_ELEM, key, \
						 MX_VOUT, NULL, 0)
#define MX_DELETE(m, key)		mx_elem_(m, MX_AT, BPF_MAP_DELETE_ELEM, key, MX_VNULL, \
						 NULL, 0)
#define MX_NEXT(m, key)			mx_elem_(m, MX_AT, BPF_MAP_GET_NEXT_KEY, key, MX_VOUT, \
						 NULL, 0)
#define MX_ELEM(m, cmd, key, how, in, fl) mx_elem_(m, MX_AT, cmd, key, how, in, fl)

/* A batch command with `count` slots on both sides: same return code and count. */
static inline int mx_batch_(struct mx *m, const char *file, int line, int cmd, uint32_t count)
{
	static uint8_t keys[2][4096], vals[2][MX_MAXV * 4], out[2][256 + 4];
	uint32_t cnt[2];
	int rc[2];

	for (int s = 0; s < 2; s++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		memset(keys[s], 0, sizeof(keys[s]));
		memset(vals[s], 0, sizeof(vals[s]));
		a.batch.map_fd = (__u32)m->fd[s], a.batch.count = count;
		a.batch.keys = MX_PTR(keys[s]), a.batch.values = MX_PTR(vals[s]);
		a.batch.out_batch = MX_PTR(out[s]);	/* the kernel needs it once it copies */
		rc[s] = mx_sys(s, cmd, &a, MX_END(batch));
		cnt[s] = a.batch.count;
	}
	if (rc[0] != rc[1] || cnt[0] != cnt[1])
		ut_fail(file, line, "DIVERGENCE %s: batch cmd %d uebpf %d (count %u), kernel %d "
			"(count %u)", m->name, cmd, rc[0], cnt[0], rc[1], cnt[1]);
	else if (cnt[0] <= count && (memcmp(keys[0], keys[1], cnt[0] * m->key_size) ||
				     memcmp(vals[0], vals[1], cnt[0] * m->value_size)))
		ut_fail(file, line, "DIVERGENCE %s: batch cmd %d keys or values differ", m->name, cmd);
	return rc[0];
}
#define MX_BATCH(m, cmd, count) mx_batch_(m, MX_AT, cmd, count)

static inline int mx_freeze(int side, int fd)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (__u32)fd;
	return mx_sys(side, BPF_MAP_FREEZE, &a, MX_END(map_fd));
}

/* bpf_map_info.max_entries as each side reports it. */
static inline uint32_t mx_info_max_entries(int side, int fd)
{
	struct bpf_map_info info;
	union bpf_attr a;

	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (__u32)fd, a.info.info_len = sizeof(info), a.info.info = MX_PTR(&info);
	return mx_sys(side, BPF_OBJ_GET_INFO_BY_FD, &a, MX_END(info)) ? 0 : info.max_entries;
}

/* ---- programs ---- */

#define MX_I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
						 .off = (o), .imm = (i) })
#define MX_LD_MAP(d, fd)	MX_I(BPF_LD | BPF_IMM | BPF_DW, d, BPF_PSEUDO_MAP_FD, 0, fd), \
				MX_I(0, 0, 0, 0, 0)
#define MX_MOV_IMM(d, v)	MX_I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v)
#define MX_MOV_REG(d, s)	MX_I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MX_ADD_IMM(d, v)	MX_I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, v)
#define MX_ST_W(d, off, v)	MX_I(BPF_ST | BPF_MEM | BPF_W, d, 0, off, v)
#define MX_ST_DW(d, off, v)	MX_I(BPF_ST | BPF_MEM | BPF_DW, d, 0, off, v)
#define MX_LDX_W(d, s, off)	MX_I(BPF_LDX | BPF_MEM | BPF_W, d, s, off, 0)
#define MX_LDX_DW(d, s, off)	MX_I(BPF_LDX | BPF_MEM | BPF_DW, d, s, off, 0)
#define MX_STX_DW(d, s, off)	MX_I(BPF_STX | BPF_MEM | BPF_DW, d, s, off, 0)
#define MX_JEQ_IMM(d, v, off)	MX_I(BPF_JMP | BPF_JEQ | BPF_K, d, 0, off, v)
#define MX_JNE_IMM(d, v, off)	MX_I(BPF_JMP | BPF_JNE | BPF_K, d, 0, off, v)
#define MX_NEG(d)		MX_I(BPF_ALU64 | BPF_NEG, d, 0, 0, 0)
#define MX_CALL(fn)		MX_I(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define MX_EXIT			MX_I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* An XDP program loaded on one side; -errno (and the verifier log on stderr) on failure. */
static inline int mx_prog_load(int side, const struct bpf_insn *insns, size_t n)
{
	static char log[65536];
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	log[0] = 0;
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = MX_PTR(insns), a.insn_cnt = (__u32)n, a.license = MX_PTR("GPL");
	a.log_buf = MX_PTR(log), a.log_size = sizeof(log), a.log_level = 1;
	int fd = mx_sys(side, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0)
		fprintf(stderr, "%s prog load: %d\n%s\n", mx_side[side], fd, log);
	return fd;
}

/* One test run on a 64-byte packet: the program's return value, or 0xdead0000 | errno. */
static inline uint32_t mx_prog_run(int side, int fd)
{
	static uint8_t pkt[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 8, 0 };
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (__u32)fd, a.test.data_in = MX_PTR(pkt), a.test.data_size_in = sizeof(pkt);
	a.test.repeat = 1;
	int rc = mx_sys(side, BPF_PROG_TEST_RUN, &a, MX_END(test));
	return rc ? 0xdead0000u | (uint32_t)-rc : a.test.retval;
}

/* The same program, built for each side's map fds, run on both: the common return value. */
typedef size_t (*mx_build_fn)(struct bpf_insn *out, const int *fds, uint64_t arg);

static inline uint32_t mx_prog_both_(const char *file, int line, const char *what,
				     mx_build_fn build, const int fds[2][4], uint64_t arg)
{
	struct bpf_insn insns[256];
	uint32_t ret[2];

	for (int s = 0; s < 2; s++) {
		size_t n = build(insns, fds[s], arg);
		int fd = mx_prog_load(s, insns, n);
		ret[s] = fd < 0 ? 0xdead0000u | (uint32_t)-fd : mx_prog_run(s, fd);
		if (fd >= 0)
			close(fd);
	}
	if (ret[0] != ret[1])
		ut_fail(file, line, "DIVERGENCE %s (arg %llu): program returned uebpf 0x%x, "
			"kernel 0x%x", what, (unsigned long long)arg, ret[0], ret[1]);
	return ret[0];
}
#define MX_PROG_BOTH(what, build, fds, arg) mx_prog_both_(MX_AT, what, build, fds, arg)

/* A tiny deterministic PRNG for random transcripts (same sequence on every run). */
static inline uint32_t mx_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* ---- pinned files ---- */

/*
 * Maps live in the pin root's file system and a pin is a link there, so the tests use
 * their own root (set before any map exists) and remove it when done.
 */
static char mx_root[64];

__attribute__((constructor)) static void mx_pin_root_setup(void)
{
	snprintf(mx_root, sizeof(mx_root), "/tmp/uebpf-mapx-%d", (int)getpid());
	setenv("UEBPF_PIN_ROOT", mx_root, 1);
}

__attribute__((destructor)) static void mx_pin_root_cleanup(void)
{
	rmdir(mx_root);
}

/* Pins fd as a fresh file of the test root; fills `path`. 0 or -errno. */
static inline int mx_pin_tmp(int fd, char *path, size_t n)
{
	static int seq;

	mkdir(mx_root, 0700);
	snprintf(path, n, "%s/m%d", mx_root, seq++);
	return bpf_obj_pin(fd, path);
}

/* Overwrites `len` bytes at `off` of a pinned map file (simulating a corrupt file). */
static inline int mx_poke(const char *path, long off, const void *bytes, size_t len)
{
	FILE *f = fopen(path, "r+b");
	int ok = f && fseek(f, off, SEEK_SET) == 0 && fwrite(bytes, 1, len, f) == len;

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

#endif
