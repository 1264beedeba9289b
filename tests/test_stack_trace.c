/* BPF_MAP_TYPE_STACK_TRACE, bpf_get_stackid and bpf_get_stack (maps/stack_trace.c). */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "ut.h"

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LD_MAP_FD(d, fd) I(BPF_LD | BPF_IMM | BPF_DW, d, BPF_PSEUDO_MAP_FD, 0, fd), I(0, 0, 0, 0, 0)
#define MOV64_IMM(d, v) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v)
#define MOV64_REG(d, s) I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define CALL(f) I(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT_INSN I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define NINSN(p) (sizeof(p) / sizeof((p)[0]))

/* The kernel's BPF_MAP_CREATE, through the raw syscall: -errno, or -1000 when bpf() is refused. */
static int kernel_map_create(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = type, a.key_size = ks, a.value_size = vs, a.max_entries = max;
	a.map_flags = flags;
	long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	if (fd >= 0)
		return (int)fd;
	return errno == EPERM ? -1000 : -errno;
}

static int kernel_map_op(int cmd, int fd, const void *key, void *value_or_next)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)key;
	if (cmd == BPF_MAP_GET_NEXT_KEY)
		a.next_key = (uint64_t)(uintptr_t)value_or_next;
	else
		a.value = (uint64_t)(uintptr_t)value_or_next;
	return syscall(SYS_bpf, cmd, &a, sizeof(a)) ? -errno : 0;
}

/* r0 = bpf_get_stackid(ctx, map, flags) */
static int load_stackid_prog(int map, int32_t flags)
{
	struct bpf_insn p[] = {
		LD_MAP_FD(2, map),
		MOV64_IMM(3, flags),
		CALL(BPF_FUNC_get_stackid),
		EXIT_INSN,
	};
	char log[2048] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "stackid", "GPL", p, NINSN(p), &lo);
	UT_CHECK(fd >= 0, "prog_load: %d %s", fd, log);
	return fd;
}

static void *volatile last_ret;	/* the return address of the last run_once */

/* Runs the program once on a zeroed struct pt_regs; its r0 as an int. */
static __attribute__((noinline)) int run_once(int prog)
{
	unsigned char regs[168] = { 0 };	/* struct pt_regs */
	LIBBPF_OPTS(bpf_test_run_opts, t, .ctx_in = regs, .ctx_size_in = sizeof(regs));
	int rc = bpf_prog_test_run_opts(prog, &t);

	UT_CHECK_EQ(rc, 0);
	last_ret = __builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
	return (int)t.retval;
}

static int has_ip(const uint64_t *ips, size_t n, const void *ip)
{
	for (size_t i = 0; i < n; i++)
		if (ips[i] == (uint64_t)(uintptr_t)ip)
			return 1;
	return 0;
}

/* Runs prog `depth` frames deeper than the caller. */
static __attribute__((noinline)) int run_at_depth(int prog, int depth)
{
	int r = depth ? run_at_depth(prog, depth - 1) : run_once(prog);

	__asm__ volatile("" ::: "memory");
	return r;
}

/*
 * Runs steps[i] (a program at a depth) from ONE call site, so that equal depths give equal
 * stacks; before step i, hook(i) (through a pointer the compiler cannot see through).
 */
struct step {
	int prog, depth, r;
	void *ret;
};
#define S(p, d) ((struct step){ .prog = (p), .depth = (d) })
static __attribute__((noinline)) void run_steps(struct step *st, int n, void (*volatile hook)(int))
{
	for (int i = 0; i < n; i++) {
		hook(i);
		st[i].r = run_at_depth(st[i].prog, st[i].depth);
		st[i].ret = last_ret;
	}
}

static int g_map;
static uint32_t g_key;
static int g_hook_rc[8];
static struct step *g_steps;
static void delete_before_3(int i)
{
	if (i == 3) {
		g_key = (uint32_t)g_steps[0].r;
		g_hook_rc[0] = bpf_map_delete_elem(g_map, &g_key);
		g_hook_rc[1] = bpf_map_delete_elem(g_map, &g_key);
	}
}

UT_TEST(stackid_same_site_same_id)
{
	/* The id is the stack's hash modulo the bucket count, and two different stacks in
	 * one bucket give -EEXIST (no BPF_F_REUSE_STACKID): 64K buckets make that a 1 in
	 * 65536 event rather than 1 in 64 with addresses that change with every run (ASLR). */
	enum { NB = 1 << 16 };
	int map = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st", 4, 127 * 8, NB, NULL);
	UT_CHECK(map >= 0, "map_create: %d", map);
	int prog = load_stackid_prog(map, BPF_F_USER_STACK);
	if (map < 0 || prog < 0)
		return;
	struct step st[4] = { S(prog, 0), S(prog, 0), S(prog, 1), S(prog, 0) };
	uint64_t ips[127], dips[127];

	g_map = map;
	/* Steps 0 and 1: the same stack; 2: one frame deeper; 3: step 0's after deleting it. */
	g_steps = st;
	run_steps(st, 4, delete_before_3);
	UT_CHECK(st[0].r >= 0 && st[0].r < NB, "id %d", st[0].r);
	UT_CHECK_EQ(st[0].r, st[1].r);
	UT_CHECK(st[0].ret == st[1].ret, "one call site");
	UT_CHECK(st[2].r >= 0 && st[2].r < NB && st[2].r != st[0].r, "deeper id %d vs %d",
		 st[2].r, st[0].r);
	UT_CHECK_EQ(g_hook_rc[0], 0);		/* deleted */
	UT_CHECK_EQ(g_hook_rc[1], -ENOENT);	/* already gone */
	UT_CHECK_EQ(st[3].r, st[0].r);		/* the same stack again: the same id */
	uint32_t k = (uint32_t)st[0].r, dk = (uint32_t)st[2].r;
	UT_CHECK_EQ(bpf_map_lookup_elem(map, &k, ips), 0);
	UT_CHECK_EQ(bpf_map_lookup_elem(map, &dk, dips), 0);
	/* The stored IPs are return addresses into this test: run_once returns into
	 * run_at_depth; the deeper stack has one run_at_depth frame more. Zero padding. */
	UT_CHECK(has_ip(ips, 127, st[0].ret), "return address %p into the test not in the stack",
		 st[0].ret);
	UT_CHECK(has_ip(dips, 127, st[2].ret), "return address %p not in the deeper stack",
		 st[2].ret);
	UT_CHECK_EQ(ips[126], 0);
	/* Iteration finds both ids, and nothing else. */
	uint32_t cur, next;
	int seen = 0, other = 0, rc = bpf_map_get_next_key(map, NULL, &next);
	while (rc == 0) {
		seen += next == k || next == dk;
		other += next != k && next != dk;
		cur = next;
		rc = bpf_map_get_next_key(map, &cur, &next);
	}
	UT_CHECK_EQ(rc, -ENOENT);
	UT_CHECK_EQ(seen, 2);
	UT_CHECK_EQ(other, 0);
	close(prog);
	close(map);
}

static void no_hook(int i)
{
}

static uint64_t g_val[64];
static void copy_before_2(int i)
{
	if (i == 2) {
		g_key = (uint32_t)g_steps[0].r;
		g_hook_rc[2] = bpf_map_lookup_elem(g_map, &g_key, g_val);
	}
}

UT_TEST(stackid_skip_collision_and_reuse)
{
	/* One bucket: every stack is id 0, and the one element is in use, so replacing
	 * it needs a free one: -ENOMEM, as the kernel's freelist. */
	int one = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st1", 4, 64 * 8, 1, NULL);
	int p1 = load_stackid_prog(one, BPF_F_USER_STACK);
	int f1 = load_stackid_prog(one, BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP);
	int r1 = load_stackid_prog(one, BPF_F_USER_STACK | BPF_F_REUSE_STACKID);
	if (one < 0 || p1 < 0 || f1 < 0 || r1 < 0)
		return;
	struct step a[5] = { S(p1, 0), S(p1, 1), S(f1, 1), S(r1, 1), S(f1, 0) };
	run_steps(a, 5, no_hook);
	UT_CHECK_EQ(a[0].r, 0);
	UT_CHECK_EQ(a[1].r, -EEXIST);	/* another stack in the bucket */
	UT_CHECK_EQ(a[2].r, -EEXIST);	/* another hash: no fast match */
	UT_CHECK_EQ(a[3].r, -ENOMEM);	/* no free element to replace it with */
	UT_CHECK_EQ(a[4].r, 0);		/* the same hash: fast match */
	close(p1), close(f1), close(r1), close(one);

	/* Skipping one frame stores the same trace without its first IP (REUSE_STACKID: if
	 * both land in one bucket, the second replaces the first, copied before by the hook). */
	int map = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st2", 4, 64 * 8, 64, NULL);
	int plain = load_stackid_prog(map, BPF_F_USER_STACK);
	int reuse = load_stackid_prog(map, BPF_F_USER_STACK | BPF_F_REUSE_STACKID);
	int skip1 = load_stackid_prog(map, BPF_F_USER_STACK | BPF_F_REUSE_STACKID | 1);
	if (map < 0 || plain < 0 || reuse < 0 || skip1 < 0)
		return;
	uint64_t z[64];
	struct step c[3] = { S(reuse, 1), S(plain, 1), S(skip1, 1) };
	g_map = map;
	g_steps = c;
	run_steps(c, 3, copy_before_2);
	UT_CHECK(c[0].r >= 0 && c[0].r < 64, "id %d", c[0].r);
	UT_CHECK_EQ(c[1].r, c[0].r);		/* the same stack: found */
	UT_CHECK_EQ(g_hook_rc[2], 0);
	int s = c[2].r;
	UT_CHECK(s >= 0 && s < 64, "skip id %d", s);
	uint32_t k = (uint32_t)s;
	UT_CHECK_EQ(bpf_map_lookup_elem(map, &k, z), 0);
	UT_CHECK(memcmp(z, g_val + 1, 63 * 8) == 0, "skip 1 drops the first frame");
	close(plain), close(reuse), close(skip1), close(map);
}

UT_TEST(no_kernel_stack_in_user_space)
{
	int map = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "stk", 4, 8 * 8, 4, NULL);
	int prog = load_stackid_prog(map, 0);
	int bad = load_stackid_prog(map, BPF_F_USER_STACK | (1 << 12));
	if (map < 0 || prog < 0 || bad < 0)
		return;
	UT_CHECK_EQ(run_once(prog), -EFAULT);	/* no kernel frames: trace->nr <= skip */
	UT_CHECK_EQ(run_once(bad), -EINVAL);	/* unknown flag */
	uint32_t k;
	UT_CHECK_EQ(bpf_map_get_next_key(map, NULL, &k), -ENOENT);
	close(prog), close(bad), close(map);
}

/*
 * r7 = get_stack(ctx, fp-256, 256, flags); r8 = get_stackid(ctx, st, USER_STACK);
 * arr[0] = the buffer; return r7 << 16 | (r8 & 0xffff).
 */
static int load_get_stack_prog(int st, int arr, int32_t flags)
{
	struct bpf_insn p[] = {
		MOV64_REG(6, 1),
		MOV64_REG(2, 10),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -256),
		MOV64_IMM(3, 256),
		MOV64_IMM(4, flags),
		CALL(BPF_FUNC_get_stack),
		MOV64_REG(7, 0),
		MOV64_REG(1, 6),
		LD_MAP_FD(2, st),
		MOV64_IMM(3, BPF_F_USER_STACK),
		CALL(BPF_FUNC_get_stackid),
		MOV64_REG(8, 0),
		I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -260, 0),
		LD_MAP_FD(1, arr),
		MOV64_REG(2, 10),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -260),
		MOV64_REG(3, 10),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -256),
		MOV64_IMM(4, 0),
		CALL(BPF_FUNC_map_update_elem),
		MOV64_REG(0, 7),
		I(BPF_ALU64 | BPF_LSH | BPF_K, 0, 0, 0, 16),
		I(BPF_ALU64 | BPF_AND | BPF_K, 8, 0, 0, 0xffff),
		I(BPF_ALU64 | BPF_OR | BPF_X, 0, 8, 0, 0),
		EXIT_INSN,
	};
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "getstack", "GPL", p, NINSN(p), &lo);
	UT_CHECK(fd >= 0, "prog_load: %d %s", fd, log);
	return fd;
}

UT_TEST(get_stack_matches_stackid)
{
	int st = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st", 4, 32 * 8, 16, NULL);
	int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "buf", 4, 256, 1, NULL);
	int prog = load_get_stack_prog(st, arr, BPF_F_USER_STACK);
	int kern = load_get_stack_prog(st, arr, 0);
	int kskip = load_get_stack_prog(st, arr, 2);
	if (st < 0 || arr < 0 || prog < 0 || kern < 0 || kskip < 0)
		return;
	uint64_t buf[32], ips[32];
	uint32_t k = 0;
	int r = run_once(prog);
	void *ret = last_ret;
	int len = r >> 16;
	uint32_t id = (uint32_t)r & 0xffff;
	UT_CHECK(len > 0 && len <= 256 && len % 8 == 0, "get_stack returned %d", len);
	UT_CHECK(id < 16, "stackid %u", id);
	UT_CHECK_EQ(bpf_map_lookup_elem(arr, &k, buf), 0);
	UT_CHECK_EQ(bpf_map_lookup_elem(st, &id, ips), 0);
	UT_CHECK(memcmp(buf, ips, sizeof(buf)) == 0, "get_stack and the stackid entry differ");
	UT_CHECK(has_ip(buf, (size_t)len / 8, ret), "return address into the test missing");
	for (int i = len / 8; i < 32; i++)
		UT_CHECK_EQ(buf[i], 0);	/* the rest is zeroed */

	/* Kernel stack: empty, so 0 bytes and a zeroed buffer; with a skip, -EFAULT. */
	r = run_once(kern);
	UT_CHECK_EQ(r >> 16, 0);
	UT_CHECK_EQ(bpf_map_lookup_elem(arr, &k, buf), 0);
	for (int i = 0; i < 32; i++)
		UT_CHECK_EQ(buf[i], 0);
	r = run_once(kskip);
	UT_CHECK_EQ((int16_t)(r >> 16), -EFAULT);
	close(prog), close(kern), close(kskip), close(arr), close(st);
}

static uint32_t jited_len(int prog)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	UT_CHECK_EQ(bpf_obj_get_info_by_fd(prog, &info, &len), 0);
	return info.jited_prog_len;
}

/* r0 = bpf_tail_call(ctx, progs, 0), then -1 (the tail call did not happen). */
static int load_tail_caller(int progs)
{
	struct bpf_insn p[] = {
		LD_MAP_FD(2, progs),
		MOV64_IMM(3, 0),
		CALL(BPF_FUNC_tail_call),
		MOV64_IMM(0, -1),
		EXIT_INSN,
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "tailer", "GPL", p, NINSN(p), NULL);
	UT_CHECK(fd >= 0, "prog_load: %d", fd);
	return fd;
}

static int g_arr;
static uint64_t g_rec[3][32];
static void save_prev_record(int i)
{
	uint32_t k = 0;

	if (i > 0)
		UT_CHECK_EQ(bpf_map_lookup_elem(g_arr, &k, g_rec[i - 1]), 0);
}

/*
 * The user stack does not depend on the engine: the JIT's frames carry no unwind
 * information, so a JIT run walks from a context taken where it began (vm.c); the
 * interpreter's frames have it. Each program runs from the same call site (run_steps), so
 * the stack above run_once is the same, and so must be what get_stack records: the JIT's
 * record, the interpreter's (UEBPF_ENGINE=interp at load), and the record of the JIT'd
 * program reached by a tail call from a JIT'd program that walks nothing itself.
 */
UT_TEST(jit_and_interp_walk_the_same_stack)
{
	int st = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st", 4, 32 * 8, 16, NULL);
	int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "buf", 4, 256, 1, NULL);
	int progs = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "pa", 4, 4, 1, NULL);
	int jit = load_get_stack_prog(st, arr, BPF_F_USER_STACK);
	setenv("UEBPF_ENGINE", "interp", 1);
	int interp = load_get_stack_prog(st, arr, BPF_F_USER_STACK);
	unsetenv("UEBPF_ENGINE");
	uint32_t k = 0;
	int tailer = progs >= 0 ? load_tail_caller(progs) : -1;
	if (st < 0 || arr < 0 || progs < 0 || jit < 0 || interp < 0 || tailer < 0)
		return;
	UT_CHECK_EQ(bpf_map_update_elem(progs, &k, &jit, 0), 0);
	UT_CHECK(jited_len(jit) > 0, "the get_stack program is not JIT-compiled");
	UT_CHECK_EQ(jited_len(interp), 0);
	UT_CHECK(jited_len(tailer) > 0, "the tail-calling program is not JIT-compiled");

	/* run_steps: one call site whatever the compiler unrolls (its hook call is opaque);
	 * the hook saves the previous run's record before the next run overwrites it. */
	struct step steps[3] = { S(jit, 0), S(interp, 0), S(tailer, 0) };
	g_arr = arr;
	run_steps(steps, 3, save_prev_record);
	UT_CHECK_EQ(bpf_map_lookup_elem(arr, &k, g_rec[2]), 0);
	int len = steps[0].r >> 16;
	UT_CHECK(len > 0 && len <= 256, "get_stack returned %d", len);
	UT_CHECK(steps[0].ret == steps[1].ret && steps[1].ret == steps[2].ret, "one call site");
	UT_CHECK(has_ip(g_rec[0], (size_t)len / 8, steps[0].ret),
		 "return address into the test missing");
	for (int i = 1; i < 3; i++) {
		UT_CHECK_EQ(steps[i].r >> 16, len);
		UT_CHECK_EQ((uint32_t)steps[i].r & 0xffff, (uint32_t)steps[0].r & 0xffff);	/* same id */
		UT_CHECK(memcmp(g_rec[0], g_rec[i], sizeof(g_rec[0])) == 0,
			 "stack of run %d differs from the JIT's", i);
	}
	close(tailer), close(interp), close(jit), close(progs), close(arr), close(st);
}

UT_TEST(stack_shared_with_child_process)
{
	int map = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st", 4, 16 * 8, 8, NULL);
	int prog = load_stackid_prog(map, BPF_F_USER_STACK);
	if (map < 0 || prog < 0)
		return;
	pid_t pid = fork();
	if (pid == 0)
		_exit(run_once(prog) >= 0 ? 0 : 1);	/* the child records its stack */
	int status = 0;
	waitpid(pid, &status, 0);
	UT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");
	uint32_t k;
	uint64_t ips[16];
	UT_CHECK_EQ(bpf_map_get_next_key(map, NULL, &k), 0);	/* the parent sees it */
	UT_CHECK_EQ(bpf_map_lookup_elem(map, &k, ips), 0);
	UT_CHECK(ips[0] != 0, "a stack was stored");
	close(prog), close(map);
}

UT_TEST(create_errors_as_kernel)
{
	static const struct { uint32_t ks, vs, max, flags; } c[] = {
		{ 4, 8, 1, 0 }, { 4, 127 * 8, 16, 0 },
		{ 8, 64, 16, 0 }, { 0, 64, 16, 0 },		/* key must be u32 */
		{ 4, 0, 16, 0 }, { 4, 4, 16, 0 }, { 4, 12, 16, 0 },	/* value: n * 8 */
		{ 4, 128 * 8, 16, 0 },				/* > perf_event_max_stack */
		{ 4, 64, 0, 0 },				/* no entries */
		{ 4, 64, 16, BPF_F_MMAPABLE }, { 4, 64, 16, BPF_F_NO_PREALLOC },
		{ 4, 64, 16, BPF_F_ZERO_SEED }, { 4, 64, 16, BPF_F_RDONLY | BPF_F_WRONLY },
		{ 4, 64, 16, BPF_F_RDONLY_PROG }, { 4, 64, 16, BPF_F_RDONLY },
		{ 4, 8, 16, BPF_F_STACK_BUILD_ID },		/* not a multiple of the record */
		{ 4, 64, 0x80000001u, 0 },			/* E2BIG */
	};
	int skipped = 0;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = c[i].flags);
		int u = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st", c[i].ks, c[i].vs, c[i].max, &o);
		int kfd = kernel_map_create(BPF_MAP_TYPE_STACK_TRACE, c[i].ks, c[i].vs, c[i].max,
					    c[i].flags);
		if (kfd == -1000) {
			skipped = 1;
			if (u >= 0)
				close(u);
			continue;
		}
		UT_CHECK((u >= 0) == (kfd >= 0) && (u >= 0 || u == kfd),
			 "case %zu: uebpf %d, kernel %d", i, u, kfd);
		if (u >= 0)
			close(u);
		if (kfd >= 0)
			close(kfd);
	}
	/* Build-id values are the kernel's, not uebpf's: refused (documented). */
	LIBBPF_OPTS(bpf_map_create_opts, bo, .map_flags = BPF_F_STACK_BUILD_ID);
	UT_CHECK_EQ(bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st", 4, 32 * 4, 16, &bo), -EINVAL);
	if (skipped)
		ut_skip("bpf() refused: kernel comparison skipped");
}

UT_TEST(user_ops_errors_as_kernel)
{
	int u = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st", 4, 64, 16, NULL);
	int kfd = kernel_map_create(BPF_MAP_TYPE_STACK_TRACE, 4, 64, 16, 0);
	uint64_t v[8] = { 1 };
	uint32_t k0 = 0, kbig = 1000, next;
	if (u < 0)
		return;
	int ur[5] = {
		bpf_map_update_elem(u, &k0, v, 0),
		bpf_map_lookup_elem(u, &k0, v),
		bpf_map_lookup_elem(u, &kbig, v),
		bpf_map_delete_elem(u, &kbig),
		bpf_map_get_next_key(u, NULL, &next),
	};
	UT_CHECK_EQ(ur[0], -EINVAL);
	UT_CHECK_EQ(ur[1], -ENOENT);
	UT_CHECK_EQ(ur[2], -ENOENT);
	UT_CHECK_EQ(ur[3], -E2BIG);
	UT_CHECK_EQ(ur[4], -ENOENT);
	close(u);
	if (kfd < 0) {
		ut_skip("bpf() refused: kernel comparison skipped");
		return;
	}
	int kr[5] = {
		kernel_map_op(BPF_MAP_UPDATE_ELEM, kfd, &k0, v),
		kernel_map_op(BPF_MAP_LOOKUP_ELEM, kfd, &k0, v),
		kernel_map_op(BPF_MAP_LOOKUP_ELEM, kfd, &kbig, v),
		kernel_map_op(BPF_MAP_DELETE_ELEM, kfd, &kbig, NULL),
		kernel_map_op(BPF_MAP_GET_NEXT_KEY, kfd, NULL, &next),
	};
	for (int i = 0; i < 5; i++)
		UT_CHECK(ur[i] == kr[i], "op %d: uebpf %d, kernel %d", i, ur[i], kr[i]);
	close(kfd);
}
