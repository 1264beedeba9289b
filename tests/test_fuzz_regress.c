/*
 * Regression tests for what the fuzzers (tests/fuzz/, docs/fuzzing.md) found: each case
 * rebuilds the input a fuzzer saved and states what must happen instead.
 *
 * A case runs its reproducer in a child process with a time limit, so that a crash or a
 * hang (what was found) is a failed case, not a dead test run. Bugs in code that another
 * person is changing right now are marked `known`: while one still reproduces, its case
 * is skipped with "KNOWN BUG" and the reason (so the suite stays green and the bug stays
 * visible); once fixed it passes, and the mark should then be removed so that it can never
 * come back unnoticed. UEBPF_REGRESS_STRICT=1 fails known bugs too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "maps/map.h"
#include "ut.h"

static char root[64];

__attribute__((constructor)) static void pin_root(void)
{
	/* Map memory lives in the pin root's file system: set it before any map exists. */
	snprintf(root, sizeof(root), "/dev/shm/uebpf-regress-%d", getpid());
	mkdir(root, 0700);
	setenv("UEBPF_PIN_ROOT", root, 1);
}

__attribute__((destructor)) static void pin_root_gone(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd)) {
	}
}

/*
 * Runs fn in a child for at most `secs` seconds. fn returns NULL when all is well, or
 * what went wrong. The result: NULL, or a description (a static buffer).
 */
static const char *in_child(const char *(*fn)(void), unsigned secs)
{
	static char why[256];
	int pfd[2];

	if (pipe(pfd))
		return "pipe failed";
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		alarm(secs);
		const char *r = fn();
		if (r && write(pfd[1], r, strlen(r)) < 0)
			_exit(3);
		_exit(r ? 1 : 0);
	}
	close(pfd[1]);
	ssize_t n = read(pfd[0], why, sizeof(why) - 1);
	why[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return NULL;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		snprintf(why, sizeof(why), "no answer within %u s (hangs)", secs);
	else if (WIFSIGNALED(st))
		snprintf(why, sizeof(why), "crashed with signal %d", WTERMSIG(st));
	else if (!why[0])
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(st));
	return why;
}

static void expect(const char *what, const char *(*fn)(void), int known)
{
	const char *why = in_child(fn, 5);

	if (!why)
		return;
	if (known && !getenv("UEBPF_REGRESS_STRICT")) {
		ut_skip("KNOWN BUG (reported, not fixed yet): %s: %s", what, why);
		return;
	}
	UT_CHECK(0, "%s: %s", what, why);
}

/* ---- helpers ---- */

static void path_in_root(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", root, name);
}

static uint8_t *slurp(const char *file, size_t *n)
{
	struct stat st;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;

	if (fd >= 0 && !fstat(fd, &st) && (buf = malloc((size_t)st.st_size + 1)) &&
	    read(fd, buf, (size_t)st.st_size) == st.st_size)
		*n = (size_t)st.st_size;
	else
		free(buf), buf = NULL;
	if (fd >= 0)
		close(fd);
	return buf;
}

static int put(const char *file, const uint8_t *b, size_t n)
{
	int fd = open(file, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	int ok = fd >= 0 && write(fd, b, n) == (ssize_t)n;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/*
 * The bytes of a pinned map made as fuzz_pinned makes its templates: entries 0 ..
 * max/2 - 1, key i (an LPM trie: prefix 8 + i % 24, data byte i), value bytes i + 1.
 */
static uint8_t *map_file(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags,
			 size_t *n)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	uint8_t key[16] = { 0 }, val[4096];
	char file[128];
	int fd = bpf_map_create(type, "tmpl", ks, vs, max, &o);

	for (uint32_t i = 0; fd >= 0 && i < max / 2; i++) {
		memcpy(key, &i, 4);
		if (type == BPF_MAP_TYPE_LPM_TRIE)
			key[0] = (uint8_t)(8 + i % 24), key[4] = (uint8_t)i, key[1] = 0;
		memset(val, (int)i + 1, sizeof(val));
		bpf_map_update_elem(fd, ks ? key : NULL, val, BPF_ANY);
	}
	path_in_root(file, sizeof(file), "tmpl");
	unlink(file);
	if (fd < 0 || bpf_obj_pin(fd, file))
		return NULL;
	close(fd);
	uint8_t *b = slurp(file, n);
	unlink(file);
	return b;
}

static void fix_checksum(uint8_t *f, size_t n)
{
	struct ub_shm_hdr *h = (struct ub_shm_hdr *)(f + n - UB_SHM_HDR_SIZE);
	h->checksum = ub_shm_hdr_checksum(h);
}

/*
 * Opens file: refused, or (after fuzz_pinned's commands when `cmds`: keys 0..23 looked up,
 * updated, the odd ones deleted) a get_next_key walk that ends: within 4 * max_entries + 16
 * steps (a damaged map may list a few keys too many, as fuzz_pinned allows; it must not loop).
 */
static const char *open_and_walk(const char *file, uint32_t ks, uint32_t max, int cmds)
{
	static char why[160];
	static uint8_t val[1 << 16];
	uint8_t k[64] = { 0 }, next[64];
	int fd = bpf_obj_get(file);

	if (fd < 0)
		return errno == EINVAL || errno == EACCES ? NULL : "refused with an unexpected errno";
	for (uint32_t i = 0; cmds && i < 24; i++) {
		memcpy(k, &i, 4);
		bpf_map_lookup_elem(fd, k, val);
		bpf_map_update_elem(fd, k, val, BPF_ANY);
		if (i & 1)
			bpf_map_delete_elem(fd, k);
	}
	memset(k, 0, sizeof(k));
	unsigned steps = 0;
	for (int rc = bpf_map_get_next_key(fd, NULL, next); !rc && steps < 100000;
	     rc = bpf_map_get_next_key(fd, k, next)) {
		memcpy(k, next, ks);
		steps++;
	}
	close(fd);
	if (steps <= 4 * max + 16)
		return NULL;
	snprintf(why, sizeof(why), "the damaged map opened, and its walk %s (%u steps for %u "
		 "entries)", steps >= 100000 ? "never ends" : "is too long", steps, max);
	return why;
}

/* ---- fuzz_jit ---- */

/*
 * "r0 = 0; call pc+0; exit": a local call whose target (the exit) the caller also falls
 * into. The kernel's verifier refuses it; unverified, the interpreter runs it (r0 = 0,
 * the call returns 0, then exit: 0). The JIT crashed on it (a wild jump). Either engine
 * may refuse to load it; one that loads it must not crash and must agree.
 */
static const char *jit_call_into_fallthrough(void)
{
	static const struct bpf_insn p[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_CALL, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static char why[160];
	uint64_t r[2] = { 0, 0 };
	int err[2];

	for (int e = 0; e < 2; e++) {
		struct uebpf_prog_opts o = { .sz = sizeof(o), .flags = UEBPF_PROG_F_CHECKED,
					     .engine = e ? UEBPF_ENGINE_JIT : UEBPF_ENGINE_INTERP };
		struct uebpf_prog *prog = NULL;
		uint8_t mem[8] = { 0 };
		err[e] = uebpf_prog_new(p, 3, &o, &prog);
		if (err[e])
			continue;
		struct uebpf_run_opts ro = { .sz = sizeof(ro), .ctx = mem, .ctx_size = sizeof(mem) };
		err[e] = uebpf_prog_run_opts(prog, &ro);
		r[e] = ro.retval;
		uebpf_prog_free(prog);
	}
	if (!err[0] && !err[1] && r[0] != r[1]) {
		snprintf(why, sizeof(why), "interpreter r0 %llu, JIT r0 %llu",
			 (unsigned long long)r[0], (unsigned long long)r[1]);
		return why;
	}
	return NULL;
}

UT_TEST(jit_local_call_into_fallthrough)
{
	expect("JIT, local call into the caller's fall-through", jit_call_into_fallthrough, 1);
}

/* ---- fuzz_pinned ---- */

/* A map opened with BPF_F_RDONLY is mapped read-only: reads must not write (locks). */
static const char *rdonly_reads(void)
{
	char file[128];
	uint32_t v = 7, k = 0;
	uint8_t lk[8] = { 16, 0, 0, 0, 10, 1 };
	uint64_t lv = 5;

	path_in_root(file, sizeof(file), "rdonly-q");
	int q = bpf_map_create(BPF_MAP_TYPE_QUEUE, "q", 0, 4, 4, NULL);
	if (q < 0 || bpf_map_update_elem(q, NULL, &v, BPF_ANY) || bpf_obj_pin(q, file))
		return "setup (queue)";
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
	int fd = bpf_obj_get_opts(file, &ro);
	v = 0;
	if (fd < 0 || bpf_map_lookup_elem(fd, NULL, &v) || v != 7)	/* peek */
		return "peek through a read-only fd failed";
	close(fd);
	unlink(file);
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int t = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "t", 8, 8, 4, &o);
	path_in_root(file, sizeof(file), "rdonly-t");
	if (t < 0 || bpf_map_update_elem(t, lk, &lv, BPF_ANY) || bpf_obj_pin(t, file))
		return "setup (trie)";
	fd = bpf_obj_get_opts(file, &ro);
	uint8_t next[8];
	if (fd < 0 || bpf_map_get_next_key(fd, NULL, next) || memcmp(next, lk, 8))
		return "get_next_key through a read-only fd failed";
	(void)k;
	close(fd);
	unlink(file);
	return NULL;
}

UT_TEST(pinned_rdonly_reads_do_not_write)
{
	expect("queue peek / LPM get_next_key through BPF_F_RDONLY", rdonly_reads, 1);
}

/* fuzz_pinned: an LPM trie file with 11 bytes zeroed at offset 0x80, checksum fixed. */
static const char *lpm_damaged_walk(void)
{
	size_t n = 0;
	char file[128];
	uint8_t *f = map_file(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 16, BPF_F_NO_PREALLOC, &n);

	if (!f)
		return "setup";
	memset(f + 0x80, 0, 11);
	fix_checksum(f, n);
	path_in_root(file, sizeof(file), "lpm-damaged");
	if (put(file, f, n))
		return "write";
	const char *why = open_and_walk(file, 8, 16, 0);
	unlink(file);
	free(f);
	return why;
}

UT_TEST(pinned_lpm_damaged_walk_ends)
{
	expect("damaged LPM trie file", lpm_damaged_walk, 1);
}

/* fuzz_pinned: a per-CPU hash file with one byte changed in its data region (no checksum
 * fix needed: the header is untouched), then updates and deletes, then a walk. */
static const char *percpu_hash_damaged_walk(void)
{
	size_t n = 0;
	char file[128];
	uint8_t *f = map_file(BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 8, 0, &n);

	if (!f)
		return "setup";
	f[0x040004 % n] = 0x02;
	path_in_root(file, sizeof(file), "pcpu-damaged");
	if (put(file, f, n))
		return "write";
	const char *why = open_and_walk(file, 4, 8, 1);
	unlink(file);
	free(f);
	return why;
}

UT_TEST(pinned_percpu_hash_damaged_walk_ends)
{
	expect("damaged per-CPU hash file", percpu_hash_damaged_walk, 1);
}

/* fuzz_pinned: a per-CPU hash file whose header says DEVMAP_HASH (checksum fixed): the
 * data sizes agree, so only the family's own check can refuse it. */
static const char *devmap_hash_from_percpu_hash(void)
{
	size_t n = 0;
	char file[128];
	uint8_t *f = map_file(BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 8, 0, &n);
	uint32_t type = BPF_MAP_TYPE_DEVMAP_HASH;

	if (!f)
		return "setup";
	memcpy(f + n - UB_SHM_HDR_SIZE + offsetof(struct ub_shm_hdr, map_type), &type, 4);
	fix_checksum(f, n);
	path_in_root(file, sizeof(file), "devmap-hash");
	if (put(file, f, n))
		return "write";
	const char *why = open_and_walk(file, 4, 8, 0);
	unlink(file);
	free(f);
	return why;
}

UT_TEST(pinned_devmap_hash_from_other_family_walk_ends)
{
	expect("per-CPU hash file relabelled DEVMAP_HASH", devmap_hash_from_percpu_hash, 1);
}

/* fuzz_pinned: a lock word holding a number no process can have (0xfe000000, above
 * INT32_MAX): opening and updating must answer (an error is fine), not wait forever. */
static const char *impossible_lock_holder(void)
{
	size_t n = 0;
	char file[128];
	uint8_t *f = map_file(BPF_MAP_TYPE_HASH, 4, 8, 16, 0, &n);
	uint32_t k = 1;
	uint64_t v = 2;

	if (!f)
		return "setup";
	f[3] = 0xfe;
	path_in_root(file, sizeof(file), "lock-word");
	if (put(file, f, n))
		return "write";
	int fd = bpf_obj_get(file);
	if (fd >= 0) {
		bpf_map_update_elem(fd, &k, &v, BPF_ANY);
		close(fd);
	}
	unlink(file);
	free(f);
	return NULL;
}

UT_TEST(pinned_impossible_lock_holder_answers)
{
	expect("lock word above INT32_MAX", impossible_lock_holder, 0);	/* fixed */
}

/* fuzz_pinned: an LRU hash file damaged at 0x0b0502 % size (15 bytes: 'A', then zeros),
 * checksum fixed. It is refused ("corrupt data region"); a refused file must be left as
 * it was (DESIGN.md: bad input never changes a map it did not mean to change). */
static const char *refused_file_unchanged(void)
{
	size_t n = 0, n2 = 0;
	char file[128];
	uint8_t *f = map_file(BPF_MAP_TYPE_LRU_HASH, 4, 8, 16, 0, &n);

	if (!f)
		return "setup";
	size_t at = 0x0b0502 % n;
	for (size_t i = 0; i < 15 && at + i < n; i++)
		f[at + i] = i ? 0 : 'A';
	fix_checksum(f, n);
	path_in_root(file, sizeof(file), "refused");
	if (put(file, f, n))
		return "write";
	int fd = bpf_obj_get(file);
	uint8_t *after = slurp(file, &n2);
	int same = after && n2 == n && !memcmp(after, f, n);
	if (fd >= 0)
		close(fd);
	unlink(file);
	free(f);
	free(after);
	return fd >= 0 || same ? NULL : "the open refused the file, and changed it";
}

UT_TEST(pinned_refused_file_left_as_it_was)
{
	expect("refused LRU hash file", refused_file_unchanged, 0);	/* fixed */
}

/* ---- fuzz_map_ops ---- */

/*
 * lookup_and_delete_batch on a CPUMAP: get_next_key lists every slot, lookup_and_delete
 * refuses the empty ones, and the command started again from the first key forever. The
 * kernel has no lookup_and_delete_batch for array-like maps (an error at once).
 */
static const char *cpumap_lookup_and_delete_batch(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_CPUMAP, "c", 4, 8, 4, NULL);
	uint32_t keys[4], count = 4;
	uint64_t vals[4];
	LIBBPF_OPTS(bpf_map_batch_opts, o);

	if (fd < 0)
		return "setup";
	int rc = bpf_map_lookup_and_delete_batch(fd, NULL, keys, keys, vals, &count, &o);
	close(fd);
	return rc < 0 ? NULL : "succeeded";
}

UT_TEST(cpumap_lookup_and_delete_batch_returns)
{
	expect("lookup_and_delete_batch on a CPUMAP", cpumap_lookup_and_delete_batch, 1);
}
