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
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "btf/btf.h"
#include "maps/map.h"
#include "ut.h"
#include "fuzz/fuzz.h"	/* fuzz_slurp */
#include "btf_build.h"

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
	uint8_t *b = fuzz_slurp(file, n);
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
/* Runs p in the interpreter (checked), and the JIT checked and trusted: what the
 * interpreter runs, the JIT must run too (fuzz_jit's rule), without crashing, and agree. */
static const char *jit_agrees(const struct bpf_insn *p, size_t n)
{
	static const struct { uint32_t flags; int engine; } how[] = {
		{ UEBPF_PROG_F_CHECKED, UEBPF_ENGINE_INTERP },
		{ UEBPF_PROG_F_CHECKED, UEBPF_ENGINE_JIT },
		{ UEBPF_PROG_F_TRUSTED, UEBPF_ENGINE_JIT },
	};
	static char why[160];
	uint64_t r[3] = { 0, 0, 0 };
	int err[3];

	for (int e = 0; e < 3; e++) {
		struct uebpf_prog_opts o = { .sz = sizeof(o), .flags = how[e].flags,
					     .engine = (enum uebpf_engine)how[e].engine };
		struct uebpf_prog *prog = NULL;
		uint8_t mem[8] = { 0 };
		err[e] = uebpf_prog_new(p, n, &o, &prog);
		if (err[e])
			continue;
		struct uebpf_run_opts ro = { .sz = sizeof(ro), .ctx = mem, .ctx_size = sizeof(mem) };
		err[e] = uebpf_prog_run_opts(prog, &ro);
		r[e] = ro.retval;
		uebpf_prog_free(prog);
	}
	for (int e = 1; e < 3; e++)
		if (!err[0] && err[e]) {
			snprintf(why, sizeof(why), "the interpreter runs it, the JIT (%s) says %d",
				 e == 1 ? "checked" : "trusted", err[e]);
			return why;
		} else if (!err[0] && r[0] != r[e]) {
			snprintf(why, sizeof(why), "interpreter r0 %llu, JIT (%s) r0 %llu",
				 (unsigned long long)r[0], e == 1 ? "checked" : "trusted",
				 (unsigned long long)r[e]);
			return why;
		}
	return NULL;
}

static const char *jit_call_into_fallthrough(void)
{
	static const struct bpf_insn p[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_CALL, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	return jit_agrees(p, 3);
}

/*
 * The same family, found reading the JIT while fixing it: a jump from the main program
 * into a subprogram's body (the kernel: "jump out of range"). The interpreter: r0 = 1,
 * the call sets r0 = 2 and returns to insn 2, which jumps to insn 5, an exit that leaves
 * the main program's frame: 2. The JIT (checked) counted the call depth down there.
 */
static const char *jit_jump_into_subprog(void)
{
	static const struct bpf_insn p[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 },
		{ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_CALL, .imm = 2 },
		{ .code = BPF_JMP | BPF_JA, .off = 2 },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 2 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	return jit_agrees(p, 6);
}

UT_TEST(jit_local_call_into_fallthrough)
{
	expect("JIT, local call into the caller's fall-through", jit_call_into_fallthrough, 0);	/* fixed */
}

/*
 * And the other way: a subprogram that jumps to the main program's exit, which then leaves
 * the subprogram's frame (the interpreter pops it and returns to insn 2). Called 20 times:
 * r0 = 20. The JIT (checked) did not count the depth down at the main program's exit, so
 * after 8 calls it stopped with "call stack too deep".
 */
static const char *jit_exit_through_main(void)
{
	static const struct bpf_insn p[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 6, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_CALL, .imm = 4 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 6, .imm = 1 },
		{ .code = BPF_JMP | BPF_JLT | BPF_K, .dst_reg = 6, .off = -3, .imm = 20 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 0, .src_reg = 6 },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_JMP | BPF_JA, .off = -2 },
	};
	return jit_agrees(p, 7);
}

UT_TEST(jit_jump_into_subprogram)
{
	expect("JIT, jump from the main program into a subprogram", jit_jump_into_subprog, 0);
	expect("JIT, a subprogram leaving through the main program's exit", jit_exit_through_main,
	       0);
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
	/* The kernel's map_lookup_and_delete_elem() needs FMODE_CAN_WRITE: EPERM. */
	if (!bpf_map_lookup_and_delete_elem(fd, NULL, &v) || errno != EPERM)
		return "pop through a read-only fd was not refused with EPERM";
	close(fd);
	unlink(file);
	/* A stack peeks its newest element: 9 after pushing 7 then 9. */
	int st = bpf_map_create(BPF_MAP_TYPE_STACK, "s", 0, 4, 4, NULL);
	path_in_root(file, sizeof(file), "rdonly-s");
	v = 9;
	if (st < 0 || bpf_map_update_elem(st, NULL, &v, BPF_ANY) || bpf_obj_pin(st, file))
		return "setup (stack)";
	fd = bpf_obj_get_opts(file, &ro);
	v = 0;
	if (fd < 0 || bpf_map_lookup_elem(fd, NULL, &v) || v != 9)
		return "stack peek through a read-only fd failed";
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
	/* 10.1.2.3/32 falls in 10.1.0.0/16, the only entry: its value 5. */
	uint8_t host[8] = { 32, 0, 0, 0, 10, 1, 2, 3 };
	uint64_t got = 0;
	if (bpf_map_lookup_elem(fd, host, &got) || got != lv)
		return "LPM lookup through a read-only fd failed";
	(void)k;
	close(fd);
	unlink(file);
	return NULL;
}

UT_TEST(pinned_rdonly_reads_do_not_write)
{
	expect("queue peek / LPM get_next_key through BPF_F_RDONLY", rdonly_reads, 0);	/* fixed */
}

/*
 * A writer that died mid-change leaves the change count odd and its (dead) id in the lock
 * word. A read-only opener cannot take the lock over, so it must not wait for it forever:
 * it answers from the file as it is. The words are set by hand where the families keep
 * them: a queue's control block { lock, head, tail, size, value_size, seq } and an LPM
 * trie's { lock, seq, ... } start the file. 0x7ffffffe is above any pid_max (2^22).
 */
static int dead_writer(const char *file, off_t lock_at, off_t seq_at)
{
	uint32_t dead = 0x7ffffffe, odd = 1;
	int f = open(file, O_RDWR | O_CLOEXEC);
	int ok = f >= 0 && pwrite(f, &dead, 4, lock_at) == 4 && pwrite(f, &odd, 4, seq_at) == 4;

	if (f >= 0)
		close(f);
	return ok ? 0 : -1;
}

static const char *rdonly_reads_dead_writer(void)
{
	char file[128];
	uint32_t v = 7;
	uint8_t lk[8] = { 16, 0, 0, 0, 10, 1 }, next[8];
	uint64_t lv = 5;
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);

	path_in_root(file, sizeof(file), "dead-q");
	int q = bpf_map_create(BPF_MAP_TYPE_QUEUE, "q", 0, 4, 4, NULL);
	if (q < 0 || bpf_map_update_elem(q, NULL, &v, BPF_ANY) || bpf_obj_pin(q, file) ||
	    dead_writer(file, 0, 20))
		return "setup (queue)";
	close(q);
	int fd = bpf_obj_get_opts(file, &ro);
	v = 0;
	if (fd < 0 || bpf_map_lookup_elem(fd, NULL, &v) || v != 7)
		return "peek through a read-only fd, writer dead mid-change";
	close(fd);
	unlink(file);
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int t = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "t", 8, 8, 4, &o);
	path_in_root(file, sizeof(file), "dead-t");
	if (t < 0 || bpf_map_update_elem(t, lk, &lv, BPF_ANY) || bpf_obj_pin(t, file) ||
	    dead_writer(file, 0, 4))
		return "setup (trie)";
	close(t);
	fd = bpf_obj_get_opts(file, &ro);
	uint64_t got = 0;
	if (fd < 0 || bpf_map_get_next_key(fd, NULL, next) || memcmp(next, lk, 8) ||
	    bpf_map_lookup_elem(fd, lk, &got) || got != lv)
		return "LPM read through a read-only fd, writer dead mid-change";
	close(fd);
	unlink(file);
	return NULL;
}

UT_TEST(pinned_rdonly_reads_after_dead_writer)
{
	expect("read-only reads of a map whose writer died mid-change", rdonly_reads_dead_writer,
	       0);
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
	expect("damaged LPM trie file", lpm_damaged_walk, 0);	/* fixed: refused on open */
}

/*
 * An LPM trie file whose free ring names a node of the trie (the next update would take that
 * live node for its new entry): refused on open, or its walks end. Written after a
 * fuzz_pinned walk that did not end (the saved input did not replay alone); this file does
 * not reproduce that run, it guards the ring check lpm_validate added for it. The layout, from
 * lpm_trie.c for key 8, value 8, 16 entries: control block { lock, seq, root, n_entries,
 * nnodes, node_size, data_size, pad, u64 free_head, u64 free_tail }, then 2 * 16 + 1 + 64
 * = 97 nodes of 16 + 8 + 8 bytes from offset 64, then the ring of 97 u32 (offset 3168).
 */
static const char *lpm_ring_names_live_node(void)
{
	size_t n = 0;
	char file[128];
	uint8_t *f = map_file(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 16, BPF_F_NO_PREALLOC, &n);
	uint64_t head;

	if (!f || n < 3168 + 97 * 4)
		return "setup";
	memcpy(&head, f + 32, 8);
	memcpy(f + 3168 + (head % 97) * 4, f + 8, 4);	/* the next free node: the root */
	path_in_root(file, sizeof(file), "lpm-ring");
	if (put(file, f, n))
		return "write";
	const char *why = open_and_walk(file, 8, 16, 1);
	unlink(file);
	free(f);
	return why;
}

UT_TEST(pinned_lpm_free_ring_names_live_node)
{
	expect("LPM trie file whose free ring names a live node", lpm_ring_names_live_node, 0);
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
	expect("damaged per-CPU hash file", percpu_hash_damaged_walk, 0);
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
	expect("per-CPU hash file relabelled DEVMAP_HASH", devmap_hash_from_percpu_hash, 0);	/* fixed */
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
	uint8_t *after = fuzz_slurp(file, &n2);
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

/*
 * Replaying a fuzz_pinned input as the target ran it (tests/fuzz/fuzz_pinned.c): byte 0
 * picks one of its templates (this table: the same, in its order), byte 1 the mode (bit 0:
 * recompute the header checksum; bits 1-2: 1 BPF_F_RDONLY, 2 BPF_F_WRONLY), then edits of
 * [3 bytes offset, top bit: in the header page][1 byte length - 1][bytes]. The file is
 * opened, keys 0..23 are looked up, updated and the odd ones deleted, then walked.
 */
static const struct { uint32_t type, ks, vs, max, flags; } pinned_tmpls[] = {
	{ BPF_MAP_TYPE_HASH, 4, 8, 16, 0 },
	{ BPF_MAP_TYPE_HASH, 8, 24, 64, BPF_F_NO_PREALLOC },
	{ BPF_MAP_TYPE_ARRAY, 4, 8, 32, 0 },
	{ BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 8, 0 },
	{ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 8, 0 },
	{ BPF_MAP_TYPE_LRU_HASH, 4, 8, 16, 0 },
	{ BPF_MAP_TYPE_LPM_TRIE, 8, 8, 16, BPF_F_NO_PREALLOC },
	{ BPF_MAP_TYPE_QUEUE, 0, 8, 16, 0 },
	{ BPF_MAP_TYPE_STACK, 0, 8, 16, 0 },
	{ BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, 16, 0 },
	{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0 },
	{ BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 16, 0 },
};

static const uint8_t *replay_in;
static size_t replay_len;

static const char *replay_pinned(void)
{
	static uint8_t key[256], next[256], val[1 << 16];
	const uint8_t *in = replay_in, *end = replay_in + replay_len;
	size_t ntm = sizeof(pinned_tmpls) / sizeof(pinned_tmpls[0]), n = 0;
	char file[128];
	uint8_t t = in[0] % ntm, mode = in[1];
	uint8_t *f = map_file(pinned_tmpls[t].type, pinned_tmpls[t].ks, pinned_tmpls[t].vs,
			      pinned_tmpls[t].max, pinned_tmpls[t].flags, &n);

	if (!f)
		return "setup";
	for (in += 2; end - in >= 4;) {
		uint32_t off = in[0] | in[1] << 8 | (uint32_t)in[2] << 16;
		size_t len = in[3] % 16 + 1;
		size_t at = off & 0x800000 ? n - UB_SHM_HDR_SIZE + (off & 0xfff) % 128
					   : (off & 0x7fffff) % n;
		in += 4;
		for (size_t i = 0; i < len && at + i < n; i++)
			f[at + i] = in < end ? *in++ : 0;
	}
	if (mode & 1)
		fix_checksum(f, n);
	path_in_root(file, sizeof(file), "replay");
	if (put(file, f, n))
		return "write";
	free(f);
	unsigned how = (mode >> 1) & 3;
	LIBBPF_OPTS(bpf_obj_get_opts, o, .file_flags = how == 1 ? BPF_F_RDONLY
						     : how == 2 ? BPF_F_WRONLY : 0);
	int fd = bpf_obj_get_opts(file, &o);
	struct bpf_map_info info;
	uint32_t ilen = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &ilen) || info.key_size > sizeof(key) ||
	    (uint64_t)info.value_size * 256 > sizeof(val))
		return NULL;	/* refused (or too big to try): fine */
	memset(key, 0, sizeof(key));
	for (uint32_t k = 0; k < 24; k++) {
		memcpy(key, &k, info.key_size < 4 ? info.key_size : 4);
		void *kp = info.key_size ? key : NULL;
		bpf_map_lookup_elem(fd, kp, val);
		bpf_map_update_elem(fd, kp, val, BPF_ANY);
		if (k & 1)
			bpf_map_delete_elem(fd, kp);
	}
	unsigned steps = 0;
	for (int rc = bpf_map_get_next_key(fd, NULL, next); !rc && steps <= 4 * info.max_entries + 16;
	     rc = bpf_map_get_next_key(fd, key, next)) {
		memcpy(key, next, info.key_size);
		steps++;
	}
	close(fd);
	unlink(file);
	return steps > 4 * info.max_entries + 16 ? "the walk does not end" : NULL;
}

/* fuzz_pinned, crash-1f0db139...: an LRU hash file relabelled DEVMAP_HASH with its data
 * damaged, checksum fixed: get_next_key read out of bounds (SEGV in devmap.c). */
UT_TEST(pinned_devmap_hash_damaged_get_next_key)
{
	static const uint8_t input[] = {
		0xf5, 0x7f, 0x18, 0x88, 0xff, 0x20, 0x19, 0xc1, 0xc1, 0x42, 0xf5, 0x7f, 0x08, 0x80,
		0xc4, 0x01, 0x2b, 0x34, 0x99, 0x99, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x99, 0x50, 0x46,
		0x4d, 0x41, 0x50, 0xf5, 0x7f, 0x08, 0x80, 0xc4, 0x01, 0x2b, 0x34, 0x99, 0x99, 0x00,
		0x00, 0x0d, 0x00, 0x00, 0x99, 0x47, 0xfc,
	};
	replay_in = input, replay_len = sizeof(input);
	expect("damaged file relabelled DEVMAP_HASH", replay_pinned, 0);	/* fixed */
}

/* fuzz_pinned, crash-7aa91338...: an LPM trie file with 14 bytes changed in its nodes,
 * checksum fixed: it opens, and its get_next_key walk never ends. */
UT_TEST(pinned_lpm_damaged_walk_ends_2)
{
	static const uint8_t input[] = {
		0x2a, 0x7e, 0xb6, 0xac, 0x4d, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,
	};
	replay_in = input, replay_len = sizeof(input);
	expect("damaged LPM trie file (2)", replay_pinned, 0);	/* fixed */
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
	/* 6.18 run side by side: -524 (ENOTSUPP) for every batch command on CPUMAP, DEVMAP
	 * and DEVMAP_HASH, count left as it was */
	return rc == -524 && count == 4 ? NULL : "not ENOTSUPP";
}

UT_TEST(cpumap_lookup_and_delete_batch_returns)
{
	expect("lookup_and_delete_batch on a CPUMAP", cpumap_lookup_and_delete_batch, 0);	/* fixed */
}

/*
 * A header longer than 24 bytes by 1-3 (zero) bytes: the kernel takes it (6.18, run by
 * hand: BPF_BTF_LOAD of an int type with hdr_len 24..28 gives an fd each time), but the
 * type records then start at an odd address of the blob and were read through an
 * unaligned struct btf_type pointer (fuzz_btf under UBSan, CI). The blob must parse and
 * mean what it means with hdr_len 24.
 */
static const char *btf_odd_hdr_len(void)
{
	static struct bb b;
	uint8_t blob[256] = { 0 };
	struct ub_btf *btf;
	struct ub_log log;
	size_t n;

	bb_init(&b);
	uint32_t u32 = bb_int(&b, "u32", 4, 0);
	uint32_t s = bb_comp(&b, BTF_KIND_STRUCT, "pair", 8, 2, 0);
	bb_member(&b, "a", u32, 0, 0);
	bb_member(&b, "b", u32, 32, 0);
	const uint8_t *src = bb_finish(&b, &n);
	for (uint32_t extra = 1; extra <= 3; extra++) {
		struct btf_header h;
		memcpy(&h, src, sizeof(h));
		h.hdr_len += extra;
		memset(blob, 0, sizeof(blob));
		memcpy(blob, &h, sizeof(h));
		memcpy(blob + h.hdr_len, src + sizeof(h), n - sizeof(h));
		ub_log_init(&log, NULL, 0);
		if (ub_btf_parse(blob, n + extra, &btf, &log))
			return "refused";
		const struct btf_type *t = ub_btf_type(btf, s);
		/* struct pair { u32 a; u32 b; }: 8 bytes, 2 members, the second named "b" */
		int ok = t && ub_btf_kind(t) == BTF_KIND_STRUCT && ub_btf_vlen(t) == 2 &&
			 ub_btf_resolve_size(btf, s) == 8 &&
			 !strcmp(ub_btf_str(btf, ((const struct btf_member *)(t + 1))[1].name_off), "b");
		ub_btf_free(btf);
		if (!ok)
			return "parsed to something else";
	}
	return NULL;
}

UT_TEST(btf_header_of_odd_length)
{
	expect("BTF with hdr_len 25..27", btf_odd_hdr_len, 0);	/* fixed */
}

/*
 * A map closed by its user stayed open inside uebpf while this thread's fd cache
 * (src/api/fdcache.c) held it from a lookup: its file and eventfd lived until the cache
 * slot was reused, and fuzz_map_ops, counting fds after each input, saw them pile up
 * past its margin (ring buffers: two fds each). The kernel frees a map with its last fd;
 * here it goes at the next object creation at the latest. So: 50 maps, each looked up
 * and closed, then one more map made and closed, and the fd count is where it started.
 */
static int count_open_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += !access(path, F_OK);
	}
	return n;
}

static const char *closed_maps_released(void)
{
	uint8_t k[8] = { 0 }, v[8];
	int probe = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL);

	close(probe);	/* settles what the library keeps for itself */
	int base = count_open_fds();
	for (int i = 0; i < 50; i++) {
		int fd = i % 2 ? bpf_map_create(BPF_MAP_TYPE_RINGBUF, "r", 0, 0, 4096, NULL)
			       : bpf_map_create(BPF_MAP_TYPE_HASH, "h", 4, 4, 8, NULL);
		if (fd < 0)
			return "create";
		bpf_map_lookup_elem(fd, k, v);	/* caches the fd's answer */
		close(fd);
	}
	probe = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL);
	close(probe);
	static char why[64];
	int now = count_open_fds();
	snprintf(why, sizeof(why), "%d fds open, %d before", now, base);
	return now == base ? NULL : why;
}

UT_TEST(closed_maps_released_at_next_creation)
{
	expect("maps closed after a lookup", closed_maps_released, 0);	/* fixed */
}

/*
 * The same with the lookup in another thread: that thread's cache held the closed map
 * until it reused the slot. Now its next map command that misses lets go of every answer
 * from before the close. The thread caches map m, the main thread closes m, the thread
 * looks up another map once: m's file is gone.
 */
struct cache_job {
	int fd, other;
	pthread_barrier_t *b;
};

static void *lookup_twice(void *arg)
{
	struct cache_job *j = arg;
	uint8_t k[4] = { 0 }, v[4];

	bpf_map_lookup_elem(j->fd, k, v);	/* caches m */
	pthread_barrier_wait(j->b);		/* the main thread closes m */
	pthread_barrier_wait(j->b);
	bpf_map_lookup_elem(j->other, k, v);	/* a miss (no object made here): stale
						 * answers go */
	pthread_barrier_wait(j->b);		/* the main thread counts */
	pthread_barrier_wait(j->b);
	return NULL;
}

static const char *closed_map_released_by_other_thread(void)
{
	pthread_barrier_t b;
	pthread_t t;
	int other = bpf_map_create(BPF_MAP_TYPE_HASH, "o", 4, 4, 1, NULL);
	int m = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "r", 0, 0, 4096, NULL);
	struct cache_job j = { m, other, &b };
	int base = count_open_fds() - 2;	/* m's file and eventfd */

	pthread_barrier_init(&b, NULL, 2);
	pthread_create(&t, NULL, lookup_twice, &j);
	pthread_barrier_wait(&b);
	close(m);
	pthread_barrier_wait(&b);
	pthread_barrier_wait(&b);
	/* the fd table's own hold on m goes at the next object creation (a sweep) */
	close(bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL));
	int now = count_open_fds();
	pthread_barrier_wait(&b);
	pthread_join(t, NULL);
	close(other);
	static char why[64];
	snprintf(why, sizeof(why), "%d fds open, %d before the map", now, base);
	return now == base ? NULL : why;
}

UT_TEST(closed_map_released_from_other_threads_cache)
{
	expect("a map closed while another thread had it cached", closed_map_released_by_other_thread,
	       0);	/* fixed */
}
