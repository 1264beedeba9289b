/*
 * BPF_MAP_TYPE_CGROUP_ARRAY and its helpers, side by side with the live kernel.
 *
 * Map commands: the same requests go to the kernel (bpf(2)) and to uebpf_bpf(); each step
 * must give the same result and errno. The kernel's answers on 6.18 are also written next
 * to each step (from a run of this test), so the uebpf side is checked when bpf() is refused.
 *
 * Helpers: a process moved into <cgroup2>/A/B is under the cgroup2 root, A and A/B, and not
 * under the sibling C. bpf_skb_under_cgroup (a tc program, BPF_PROG_TEST_RUN: the kernel's
 * test skb has a socket of the caller's cgroup) and bpf_current_task_under_cgroup (a raw
 * tracepoint program, BPF_PROG_TEST_RUN) must answer 1/1/1/0 there, -EAGAIN for an empty
 * slot and -E2BIG past the end, in uebpf and in the kernel. Skips without a writable
 * cgroup v2 hierarchy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <uebpf/uebpf.h>
#include "ut.h"

#define ENOTSUPP_K 524	/* the kernel's internal ENOTSUPP, as user space sees it */

typedef int (*bpf_fn)(int cmd, union bpf_attr *attr);

static int kbpf(int cmd, union bpf_attr *attr)
{
	long rc = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
	return rc < 0 ? -errno : (int)rc;
}

static int ubpf(int cmd, union bpf_attr *attr)
{
	int rc = uebpf_bpf(cmd, attr, sizeof(*attr));
	return rc < 0 ? -errno : rc;
}

static int kernel_ok(void)
{
	union bpf_attr a = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1 };
	int fd = kbpf(BPF_MAP_CREATE, &a);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/* The cgroup v2 mount point and test directories under it. */
static char mnt[512], dir_a[600], dir_ab[640], dir_c[600];

static int cg_setup(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024], root[512];

	while (f && !mnt[0] && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");
		if (sep && !strncmp(sep + 3, "cgroup2 ", 8) &&
		    sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2)
			mnt[0] = '\0';
	}
	if (f)
		fclose(f);
	if (!mnt[0])
		return -1;
	snprintf(dir_a, sizeof(dir_a), "%s/uebpf-cga-%d", mnt, (int)getpid());
	snprintf(dir_ab, sizeof(dir_ab), "%s/B", dir_a);
	snprintf(dir_c, sizeof(dir_c), "%s/uebpf-cga-%d-C", mnt, (int)getpid());
	if (mkdir(dir_a, 0755) || mkdir(dir_ab, 0755) || mkdir(dir_c, 0755))
		return -1;
	return 0;
}

static void cg_cleanup(void)
{
	rmdir(dir_ab), rmdir(dir_a), rmdir(dir_c);
}

static int open_dir(const char *p)
{
	return open(p, O_RDONLY | O_DIRECTORY);
}

static int map_create(bpf_fn f, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	union bpf_attr a = { .map_type = BPF_MAP_TYPE_CGROUP_ARRAY, .key_size = ks, .value_size = vs,
			     .max_entries = max, .map_flags = flags };
	return f(BPF_MAP_CREATE, &a);
}

static int map_op(bpf_fn f, int cmd, int fd, uint32_t key, int32_t *val, uint64_t flags)
{
	union bpf_attr a = { .map_fd = (uint32_t)fd, .key = (uintptr_t)&key, .flags = flags };
	if (cmd == BPF_MAP_GET_NEXT_KEY)
		a.next_key = (uintptr_t)val;
	else if (cmd != BPF_MAP_DELETE_ELEM)
		a.value = (uintptr_t)val;
	return f(cmd, &a);
}

/* One step of the transcript: what it does and the kernel 6.18's answer. */
enum { S_UPD, S_LOOK, S_DEL, S_NEXT, S_LDEL };
enum { V_ROOT, V_V1, V_FILE, V_TMP, V_BAD, V_NEG };
static const struct step {
	const char *what;
	int op, key, val;
	uint64_t flags;
	int kernel;		/* result on 6.18: >= 0, or -errno; S_NEXT: the next key */
} steps[] = {
	{ "lookup of an empty slot", S_LOOK, 0, 0, 0, -ENOTSUPP_K },
	{ "update with the cgroup2 root", S_UPD, 0, V_ROOT, BPF_ANY, 0 },
	{ "lookup of a set slot", S_LOOK, 0, 0, 0, -ENOTSUPP_K },
	{ "lookup past the end", S_LOOK, 9, 0, 0, -ENOTSUPP_K },
	{ "update with a cgroup v1 directory", S_UPD, 1, V_V1, BPF_ANY, -EBADF },
	{ "update with a regular file", S_UPD, 1, V_FILE, BPF_ANY, -EBADF },
	{ "update with /tmp", S_UPD, 1, V_TMP, BPF_ANY, -EBADF },
	{ "update with a closed fd", S_UPD, 1, V_BAD, BPF_ANY, -EBADF },
	{ "update with fd -1", S_UPD, 1, V_NEG, BPF_ANY, -EBADF },
	{ "update past the end", S_UPD, 4, V_ROOT, BPF_ANY, -E2BIG },
	{ "update BPF_NOEXIST", S_UPD, 1, V_ROOT, BPF_NOEXIST, -EINVAL },
	{ "update BPF_EXIST", S_UPD, 1, V_ROOT, BPF_EXIST, -EINVAL },
	{ "update flags 7", S_UPD, 1, V_ROOT, 7, -EINVAL },
	{ "update of a set slot", S_UPD, 0, V_ROOT, BPF_ANY, 0 },
	{ "delete of a set slot", S_DEL, 0, 0, 0, 0 },
	{ "delete of an empty slot", S_DEL, 0, 0, 0, -ENOENT },
	{ "delete past the end", S_DEL, 4, 0, 0, -E2BIG },
	{ "next key after 0", S_NEXT, 0, 0, 0, 1 },
	{ "next key after the last", S_NEXT, 3, 0, 0, -ENOENT },
	{ "next key after one past the end", S_NEXT, 7, 0, 0, 0 },
	{ "lookup and delete", S_LDEL, 0, 0, 0, -ENOTSUPP_K },
};

static int run_step(bpf_fn f, int map, const struct step *s, const int *fds)
{
	static const int cmds[] = { BPF_MAP_UPDATE_ELEM, BPF_MAP_LOOKUP_ELEM, BPF_MAP_DELETE_ELEM,
				    BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_AND_DELETE_ELEM };
	int32_t v = s->op == S_UPD ? fds[s->val] : 0;
	int rc = map_op(f, cmds[s->op], map, (uint32_t)s->key, &v, s->flags);
	return s->op == S_NEXT && rc == 0 ? v : rc;
}

UT_TEST(cgroup_array_map_commands_match_kernel)
{
	static const struct { uint32_t ks, vs, max, flags; } bad[] = {
		{ 4, 4, 0, 0 }, { 8, 4, 1, 0 }, { 4, 8, 1, 0 }, { 4, 4, 1, BPF_F_NO_PREALLOC },
		{ 4, 4, 1, BPF_F_RDONLY_PROG }, { 4, 4, 1, BPF_F_MMAPABLE },
	};
	int kern = kernel_ok();

	if (cg_setup()) {
		cg_cleanup();
		ut_skip("no writable cgroup v2 hierarchy");
		return;
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int u = map_create(ubpf, bad[i].ks, bad[i].vs, bad[i].max, bad[i].flags);
		UT_CHECK(u == -EINVAL, "create %u/%u/%u/%#x: uebpf %d, kernel 6.18 -EINVAL", bad[i].ks,
			 bad[i].vs, bad[i].max, bad[i].flags, u);
		int k = kern ? map_create(kbpf, bad[i].ks, bad[i].vs, bad[i].max, bad[i].flags) : -EINVAL;
		UT_CHECK(k == u || (u >= 0 && k >= 0), "create %u/%u/%u/%#x: uebpf %d, kernel %d", bad[i].ks,
			 bad[i].vs, bad[i].max, bad[i].flags, u, k);
	}
	int fds[] = { open_dir(mnt), -1, open("/proc/self/exe", O_RDONLY), open_dir("/tmp"), 1000, -1 };
	/* a cgroup v1 hierarchy when there is one, else another non-cgroup directory */
	fds[V_V1] = open_dir("/sys/fs/cgroup/pids");
	if (fds[V_V1] < 0)
		fds[V_V1] = open_dir("/");
	close(1000);
	int um = map_create(ubpf, 4, 4, 4, 0), km = kern ? map_create(kbpf, 4, 4, 4, 0) : -1;
	UT_CHECK(um >= 0, "create: %s", uebpf_last_error());
	for (size_t i = 0; um >= 0 && i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct step *s = &steps[i];
		int u = run_step(ubpf, um, s, fds);
		UT_CHECK(u == s->kernel, "%s: uebpf %d, kernel 6.18 %d", s->what, u, s->kernel);
		if (km >= 0) {
			int k = run_step(kbpf, km, s, fds);
			UT_CHECK(u == k, "%s: uebpf %d, live kernel %d", s->what, u, k);
		}
	}
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0 && fds[i] != 1000)
			close(fds[i]);
	if (um >= 0)
		close(um);
	if (km >= 0)
		close(km);
	cg_cleanup();
}

/* ---- helpers ---- */

#define NSLOTS 5	/* root, A, A/B, C, empty */

/* r1 = ctx; r2 = map; r3 = idx; call helper; exit (a tc program calls skb_under_cgroup
 * with the skb, a raw tracepoint current_task_under_cgroup with (map, idx)). */
static int prog_load(bpf_fn f, int tc, int map, uint32_t idx)
{
	struct bpf_insn in[] = {
		{ .code = BPF_LD | BPF_IMM | BPF_DW, .dst_reg = tc ? 2 : 1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = tc ? 3 : 2, .imm = (int32_t)idx },
		{ .code = BPF_JMP | BPF_CALL, .imm = tc ? BPF_FUNC_skb_under_cgroup : BPF_FUNC_current_task_under_cgroup },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a = { .prog_type = tc ? BPF_PROG_TYPE_SCHED_CLS : BPF_PROG_TYPE_RAW_TRACEPOINT,
			     .insns = (uintptr_t)in, .insn_cnt = 5, .license = (uintptr_t)"GPL" };
	return f(BPF_PROG_LOAD, &a);
}

/* The helper's answer (sign-extended from the 32-bit retval), or a large value on failure. */
static int64_t prog_answer(bpf_fn f, int tc, int map, uint32_t idx)
{
	unsigned char pkt[64] = { 0 };
	uint64_t args[1] = { 0 };
	int fd = prog_load(f, tc, map, idx);
	if (fd < 0)
		return 1000 + fd;
	union bpf_attr a = { .test.prog_fd = (uint32_t)fd };
	if (tc)
		a.test.data_in = (uintptr_t)pkt, a.test.data_size_in = sizeof(pkt);
	else
		a.test.ctx_in = (uintptr_t)args, a.test.ctx_size_in = sizeof(args);
	int rc = f(BPF_PROG_TEST_RUN, &a);
	close(fd);
	return rc < 0 ? 2000 + rc : (int64_t)(int32_t)a.test.retval;
}

static int fill_map(bpf_fn f, int map)
{
	const char *dirs[] = { mnt, dir_a, dir_ab, dir_c };
	int err = 0;

	for (uint32_t i = 0; i < 4 && !err; i++) {
		int32_t d = open_dir(dirs[i]);
		err = map_op(f, BPF_MAP_UPDATE_ELEM, map, i, &d, BPF_ANY);
		close(d);
	}
	return err;
}

/* Checks every slot with both helpers in this process; returns the number of mismatches. */
static int check_answers(bpf_fn f, const char *who, const int64_t *want)
{
	int map = map_create(f, 4, 4, NSLOTS, 0), bad = 0;

	if (map < 0 || fill_map(f, map)) {
		printf("%s: cgroup array setup failed (%d)\n", who, map);
		return 1;
	}
	for (int tc = 0; tc < 2; tc++)
		for (uint32_t i = 0; i <= NSLOTS; i++) {
			uint32_t idx = i == NSLOTS ? 99 : i;
			int64_t got = prog_answer(f, tc, map, idx), w = idx == 99 ? -E2BIG : want[i];
			if (got != w) {
				printf("%s: %s slot %u: got %lld, want %lld\n", who,
				       tc ? "skb_under_cgroup" : "current_task_under_cgroup", idx, (long long)got,
				       (long long)w);
				bad++;
			}
		}
	close(map);
	return bad;
}

static int in_child(const char *cg, bpf_fn f, const char *who, const int64_t *want)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char procs[720];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
		FILE *p = fopen(procs, "w");
		if (!p || fprintf(p, "0\n") < 0 || fclose(p)) {
			printf("%s: cannot move into %s\n", who, cg);
			_exit(100);
		}
		int bad = check_answers(f, who, want);
		fflush(stdout);
		_exit(bad);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 101;
}

UT_TEST(cgroup_array_helpers_match_kernel)
{
	/* In A/B: under root, A, A/B; not under C; slot 4 empty. In C: under root and C only. */
	static const int64_t in_ab[NSLOTS] = { 1, 1, 1, 0, -EAGAIN };
	static const int64_t in_c[NSLOTS] = { 1, 0, 0, 1, -EAGAIN };
	int kern = kernel_ok();

	if (cg_setup()) {
		cg_cleanup();
		ut_skip("no writable cgroup v2 hierarchy");
		return;
	}
	int r = in_child(dir_ab, ubpf, "uebpf in A/B", in_ab);
	if (r == 100) {
		cg_cleanup();
		ut_skip("cannot move a process between cgroups here");
		return;
	}
	UT_CHECK(r == 0, "uebpf in A/B: %d wrong answers", r);
	UT_CHECK((r = in_child(dir_c, ubpf, "uebpf in C", in_c)) == 0, "uebpf in C: %d wrong answers", r);
	if (kern) {
		UT_CHECK((r = in_child(dir_ab, kbpf, "kernel in A/B", in_ab)) == 0,
			 "kernel in A/B: %d answers differ from the reasoning", r);
		UT_CHECK((r = in_child(dir_c, kbpf, "kernel in C", in_c)) == 0,
			 "kernel in C: %d answers differ from the reasoning", r);
	} else {
		printf("bpf() refused: the kernel side is not compared\n");
	}
	cg_cleanup();
}
