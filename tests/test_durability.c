/*
 * Durability of pinned maps: a writer killed with SIGKILL at a random moment in the middle
 * of its updates leaves a map that opens and reads consistently.
 *
 * For each map type, a pinned map is written by a series of child processes. Each child
 * opens the pin and performs a fixed, numbered sequence of operations (op s: key
 * key_of(s), delete when s % 5 == 4 on keyed maps, else an update to value_of(key, s)),
 * starting where the previous child's last committed operation left off; after each call
 * returns 0 it stores s + 1 in a word of memory it shares with the parent (a plain store:
 * no system call to spend the kill on, so most kills land inside map calls). The parent
 * kills it with SIGKILL after a random delay, reaps it, and reopens the pin in a checker
 * process with an alarm (a lock left held for good would hang it, and the test would
 * fail instead of hanging). The expected state is the parent's replay of every
 * committed operation; the one operation after the last committed one may or may not have
 * happened (the kill may land after its call returned and before the store), but only
 * whole. The checker (check_map) then requires:
 *   - every key holds exactly the value of the committed state, except the key of that one
 *     in-flight operation, which may hold the state after it instead (no torn value, no lost
 *     committed update, no deleted key back);
 *   - a get_next_key walk ends, returns no key twice, and returns exactly the keys present.
 * The next child starts again at the in-flight operation (re-doing it is harmless). At the
 * end the map is filled to max_entries: a kill that leaked an element of the pool would
 * make that fail with E2BIG.
 *
 * The parent also counts kills that left a lock held by the dead child (a word in the map
 * file equal to its pid): those are the runs that exercise the repair of a dead holder's
 * lock (ub_shm_lock_robust). UEBPF_DURABILITY_KILLS sets the number of kills per map type
 * (default 40, 200 in all).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#define PIN_ROOT_TAG "dur"
#include "pin_root.h"
#include "ut.h"

#define NKEYS		64u
#define VWORDS		6u		/* value: 48 bytes, several words to tear */
#define NONE		UINT64_MAX	/* key absent (hash) or never written (array: zeros) */

static int ncpus;

struct dcase {
	const char *name;
	uint32_t type, key_size, max_entries;
	int keyed;			/* deletes allowed, absent keys exist */
	int percpu;
};

static const struct dcase cases[] = {
	{ "hash", BPF_MAP_TYPE_HASH, 8, NKEYS, 1, 0 },
	{ "percpu_hash", BPF_MAP_TYPE_PERCPU_HASH, 8, NKEYS, 1, 1 },
	{ "lru_hash", BPF_MAP_TYPE_LRU_HASH, 8, 2 * NKEYS, 1, 0 },	/* never full: no eviction */
	{ "array", BPF_MAP_TYPE_ARRAY, 4, NKEYS, 0, 0 },
	{ "percpu_array", BPF_MAP_TYPE_PERCPU_ARRAY, 4, NKEYS, 0, 1 },
};

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return (x ^ (x >> 31)) | 1;	/* never 0: a zero word is an unwritten array value */
}

static uint32_t key_of(uint64_t s)
{
	return (uint32_t)((s * 7919u) % NKEYS);
}

static int is_delete(const struct dcase *c, uint64_t s)
{
	return c->keyed && s % 5 == 4;
}

static size_t value_bytes(const struct dcase *c)
{
	return (size_t)VWORDS * 8 * (c->percpu ? (size_t)ncpus : 1);
}

/* The value op s writes (every CPU's slot for per-CPU maps, each different). */
static void value_of(const struct dcase *c, uint64_t s, uint64_t *v)
{
	size_t n = value_bytes(c) / 8;

	for (size_t i = 0; i < n; i++)
		v[i] = mix(s * 4096 + i);
}

static void key_bytes(const struct dcase *c, uint32_t k, void *key)
{
	uint64_t k64 = k;

	if (c->key_size == 8)
		memcpy(key, &k64, 8);
	else
		memcpy(key, &k, 4);
}

/* ---- the child: ops from `start` on, each committed one reported through `out` ---- */

static void child_writer(const struct dcase *c, const char *pin, uint64_t start,
			 uint64_t *committed)
{
	int fd = bpf_obj_get(pin);
	uint64_t v[VWORDS * 512];
	uint8_t key[8];

	prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlive a test that was stopped */
	if (getppid() == 1)
		_exit(13);
	if (fd < 0)
		_exit(10);
	for (uint64_t s = start;; s++) {
		int err;
		key_bytes(c, key_of(s), key);
		if (is_delete(c, s)) {
			err = bpf_map_delete_elem(fd, key);
			if (err == -ENOENT)
				err = 0;
		} else {
			value_of(c, s, v);
			err = bpf_map_update_elem(fd, key, v, BPF_ANY);
		}
		if (err)
			_exit(11);
		__atomic_store_n(committed, s + 1, __ATOMIC_RELEASE);
	}
}

/* ---- the checker ---- */

struct model {
	uint64_t last[NKEYS];		/* op that wrote each key last, or NONE */
};

static void model_apply(const struct dcase *c, struct model *m, uint64_t s)
{
	m->last[key_of(s)] = is_delete(c, s) ? NONE : s;
}

/* Whether the value read for key k is what `op` (NONE: absent / zeros) leaves. */
static int value_is(const struct dcase *c, const uint64_t *got, int found, uint64_t op)
{
	uint64_t want[VWORDS * 512];

	if (op == NONE) {
		if (c->keyed)
			return !found;
		memset(want, 0, value_bytes(c));
	} else {
		if (!found)
			return 0;
		value_of(c, op, want);
	}
	return !memcmp(got, want, value_bytes(c));
}

/*
 * Checks the map against the committed state `m`, allowing op `next` (whole) for its key.
 * Returns 0 or a description of the first problem in `why`; *applied says whether the
 * in-flight op was seen applied.
 */
static int check_map(const struct dcase *c, int fd, const struct model *m, uint64_t next,
		     char *why, size_t whysz, int *applied)
{
	uint64_t got[VWORDS * 512];
	uint8_t key[8], nkey[8];
	int present = 0, seen[NKEYS] = { 0 };

	*applied = 0;
	for (uint32_t k = 0; k < NKEYS; k++) {
		key_bytes(c, k, key);
		memset(got, 0xa5, value_bytes(c));
		int err = bpf_map_lookup_elem(fd, key, got);
		if (err && err != -ENOENT) {
			snprintf(why, whysz, "key %u: lookup error %d", k, err);
			return -1;
		}
		int found = !err;
		present += found;
		if (value_is(c, got, found, m->last[k]))
			continue;
		uint64_t after = is_delete(c, next) ? NONE : next;
		if (k == key_of(next) && value_is(c, got, found, after)) {
			*applied = 1;
			continue;
		}
		snprintf(why, whysz, "key %u: %s, committed op %lld, in flight op %llu", k,
			 found ? "value is neither the committed nor the in-flight one (torn?)"
			       : "missing", m->last[k] == NONE ? -1ll : (long long)m->last[k],
			 (unsigned long long)next);
		return -1;
	}
	/* The walk: ends, no key twice, exactly the keys present. */
	int walked = 0;
	void *prev = NULL;
	for (uint32_t steps = 0;; steps++) {
		if (steps > 4 * c->max_entries) {
			snprintf(why, whysz, "get_next_key walk does not end");
			return -1;
		}
		int err = bpf_map_get_next_key(fd, prev, nkey);
		if (err == -ENOENT)
			break;
		if (err) {
			snprintf(why, whysz, "get_next_key error %d", err);
			return -1;
		}
		uint32_t k = 0;
		memcpy(&k, nkey, 4);	/* keys are < NKEYS: the low word (little endian) */
		if (k >= NKEYS || seen[k]++) {
			snprintf(why, whysz, "get_next_key returned key %u %s", k,
				 k >= NKEYS ? "never written" : "twice");
			return -1;
		}
		walked++;
		memcpy(key, nkey, sizeof(key));
		prev = key;
	}
	if (walked != (c->keyed ? present : (int)c->max_entries)) {
		snprintf(why, whysz, "walk returned %d keys, %d present", walked, present);
		return -1;
	}
	return 0;
}

/* Words of the map file equal to the dead child's pid: locks it held when killed. */
static int locks_held_by(const char *file, pid_t pid)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC), held = 0;
	struct stat st;

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	const uint32_t *w = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (w == MAP_FAILED)
		return 0;
	for (size_t i = 0; i < (size_t)st.st_size / 4; i++)
		held += w[i] == (uint32_t)pid;
	munmap((void *)w, (size_t)st.st_size);
	return held;
}

static unsigned kills_per_type(void)
{
	const char *e = getenv("UEBPF_DURABILITY_KILLS");
	unsigned n = e ? (unsigned)strtoul(e, NULL, 10) : 40;

	return n ? n : 40;
}

/* Fills every free place with new keys: a leaked element would make the map full early. */
static void check_capacity(const struct dcase *c, int fd)
{
	uint64_t v[VWORDS * 512];
	int added = 0, err = 0;

	if (!c->keyed)
		return;
	memset(v, 0x11, sizeof(v));
	for (uint64_t k = NKEYS; k < NKEYS + c->max_entries && !err; k++) {
		err = bpf_map_update_elem(fd, &k, v, BPF_NOEXIST);
		added += !err;
	}
	int present = 0;
	for (uint64_t k = 0; k < NKEYS; k++)
		present += !bpf_map_lookup_elem(fd, &k, v);
	/* LRU may evict once full; the others must take exactly max_entries keys. */
	if (c->type != BPF_MAP_TYPE_LRU_HASH)
		UT_CHECK((uint32_t)(present + added) == c->max_entries,
			 "%s: %d keys + %d new = %d, want max_entries %u (err %d): elements leaked",
			 c->name, present, added, present + added, c->max_entries, err);
	else
		UT_CHECK(!err, "%s: adding keys to an LRU map failed: %d", c->name, err);
}

/* Reopens and checks in a child with an alarm; returns 0, 1 (applied) or -1 (failed). */
static int check_in_child(const struct dcase *c, const char *pin, const struct model *m,
			  uint64_t next, unsigned it)
{
	fflush(NULL);	/* a child must not repeat what is buffered */
	pid_t pid = fork();

	if (pid == 0) {
		char why[256];
		int applied;
		alarm(20);
		int fd = bpf_obj_get(pin);
		if (fd < 0) {
			fprintf(stderr, "%s: reopen after kill %u: %d\n", c->name, it, fd);
			_exit(2);
		}
		if (check_map(c, fd, m, next, why, sizeof(why), &applied)) {
			fprintf(stderr, "%s: after kill %u: %s\n", c->name, it, why);
			_exit(2);
		}
		_exit(applied);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "%s: checker after kill %u died of signal %d (%s)\n", c->name, it,
			WTERMSIG(status), WTERMSIG(status) == SIGALRM ? "hung: a lock never freed?"
								      : "crash");
		return -1;
	}
	return WEXITSTATUS(status) <= 1 ? WEXITSTATUS(status) : -1;
}

static void run_case(const struct dcase *c)
{
	char pin[64], file[300];
	struct model m;
	uint64_t next = 0;
	unsigned kills = kills_per_type(), applied_n = 0, lock_kills = 0, fails = 0;
	uint64_t *committed = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				   -1, 0);

	if (!root[0] || committed == MAP_FAILED) {
		ut_skip("no pin root under /dev/shm, or no shared page");
		return;
	}
	for (uint32_t k = 0; k < NKEYS; k++)
		m.last[k] = NONE;
	snprintf(pin, sizeof(pin), "dur_%s", c->name);
	snprintf(file, sizeof(file), "%s/%s", root, pin);
	int fd = bpf_map_create(c->type, c->name, c->key_size, VWORDS * 8, c->max_entries, NULL);
	UT_CHECK(fd >= 0, "%s: create: %d", c->name, fd);
	if (fd < 0)
		return;
	UT_CHECK(!bpf_obj_pin(fd, pin), "%s: pin", c->name);
	close(fd);
	srand(12345);
	for (unsigned it = 0; it < kills && !fails; it++) {
		*committed = next;
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0)
			child_writer(c, pin, next, committed);
		struct timespec d = { 0, 200000 + (long)(rand() % 3000) * 1000 };
		nanosleep(&d, NULL);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status)) {
			UT_CHECK(0, "%s: writer exited with %d before the kill", c->name,
				 WEXITSTATUS(status));
			fails++;
		}
		lock_kills += locks_held_by(file, pid) > 0;
		for (uint64_t done = __atomic_load_n(committed, __ATOMIC_ACQUIRE); next < done; next++)
			model_apply(c, &m, next);
		int rc = check_in_child(c, pin, &m, next, it);
		UT_CHECK(rc >= 0, "%s: kill %u: the map is not consistent (see above)", c->name, it);
		fails += rc < 0;
		applied_n += rc == 1;
	}
	fd = bpf_obj_get(pin);
	if (fd >= 0 && !fails) {
		check_capacity(c, fd);
		close(fd);
	}
	printf("  %s: %u kills, %llu committed ops, %u kills left a lock held, "
	       "%u in-flight ops seen applied\n", c->name, kills, (unsigned long long)next,
	       lock_kills, applied_n);
	munmap(committed, 4096);
	unlink(file);
}
UT_TEST(durability_hash) { run_case(&cases[0]); }
UT_TEST(durability_percpu_hash) { run_case(&cases[1]); }
UT_TEST(durability_lru_hash) { run_case(&cases[2]); }
UT_TEST(durability_array) { run_case(&cases[3]); }
UT_TEST(durability_percpu_array) { run_case(&cases[4]); }

__attribute__((constructor)) static void cpus(void)
{
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0 || ncpus > 512)
		ncpus = 1;
}

/*
 * A lock word holding the id of a process that runs but does not map the file (an id
 * reused since its holder died, or one left in a file on disk by a process of an earlier
 * boot) is no holder: updates go on, from an fd opened before and after. The word poked
 * is the hash table's free-ring lock, the first word of the file (struct hash_ctl in
 * src/maps/hash.c); a live, unrelated process is a child sleeping in pause().
 */
UT_TEST(durability_lock_of_unrelated_live_process)
{
	char pin[] = "dur_stale", file[300];
	uint32_t k = 7;
	uint64_t v = 42, out = 0;

	if (!root[0]) {
		ut_skip("no pin root");
		return;
	}
	snprintf(file, sizeof(file), "%s/%s", root, pin);
	fflush(NULL);
	pid_t other = fork();	/* before the map exists: it never maps the file */
	if (other == 0)
		for (;;)
			pause();
	alarm(60);		/* a hang here is a failure, not a stuck test run */
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "stale", 4, 8, 8, NULL);
	UT_CHECK(fd >= 0 && !bpf_obj_pin(fd, pin), "create and pin");
	int wfd = open(file, O_RDWR | O_CLOEXEC);
	uint32_t *w = wfd < 0 ? MAP_FAILED
		      : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	UT_CHECK(w != MAP_FAILED, "map the file");
	if (w != MAP_FAILED) {
		__atomic_store_n(&w[0], (uint32_t)other, __ATOMIC_RELEASE);
		UT_CHECK(!bpf_map_update_elem(fd, &k, &v, BPF_ANY), "update through an open fd");
		UT_CHECK(__atomic_load_n(&w[0], __ATOMIC_ACQUIRE) == 0, "lock released after");
		__atomic_store_n(&w[0], (uint32_t)other, __ATOMIC_RELEASE);
		int fd2 = bpf_obj_get(pin);
		UT_CHECK(fd2 >= 0, "reopen: %d", fd2);
		UT_CHECK(__atomic_load_n(&w[0], __ATOMIC_ACQUIRE) == 0,
			 "opening for writing cleared the stale lock");
		k = 8;
		UT_CHECK(!bpf_map_update_elem(fd2, &k, &v, BPF_ANY), "update after reopen");
		UT_CHECK(!bpf_map_lookup_elem(fd2, &k, &out) && out == 42, "value");
		close(fd2);
		munmap(w, 4096);
	}
	if (wfd >= 0)
		close(wfd);
	alarm(0);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	close(fd);
	unlink(file);
}

/*
 * A pin on a disk file system outlives its process and is read back from the disk: a child
 * creates and fills a hash map pinned under a pin root on a disk file system (the one of
 * /var/tmp, skipped when that is tmpfs) and exits; the parent flushes the file (fsync), drops
 * its pages from the page cache (POSIX_FADV_DONTNEED, checked with mincore), and opens the
 * pin: every value the child wrote must be there, now read from the disk, as after a reboot.
 */
#define DISK_KEYS 200

static uint64_t disk_value(uint32_t k)
{
	return mix(k) ^ 0xd15c;
}

UT_TEST(durability_disk_pin_read_back_from_disk)
{
	char droot[] = "/var/tmp/uebpf-test-disk-XXXXXX", file[128];
	struct statfs sf;
	const char *saved = getenv("UEBPF_PIN_ROOT");
	char keep[128];

	if (!mkdtemp(droot)) {
		ut_skip("no /var/tmp");
		return;
	}
	if (statfs(droot, &sf) || sf.f_type == TMPFS_MAGIC) {
		rmdir(droot);
		ut_skip("/var/tmp is tmpfs: no disk file system to try");
		return;
	}
	snprintf(keep, sizeof(keep), "%s", saved ? saved : "");
	setenv("UEBPF_PIN_ROOT", droot, 1);	/* map files are made in the pin root's fs */
	snprintf(file, sizeof(file), "%s/disk", droot);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "disk", 4, 8, DISK_KEYS, NULL);
		for (uint32_t k = 0; fd >= 0 && k < DISK_KEYS; k++) {
			uint64_t v = disk_value(k);
			if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
				_exit(2);
		}
		_exit(fd < 0 || bpf_obj_pin(fd, "disk") ? 1 : 0);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	UT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %d", status);
	int ffd = open(file, O_RDONLY | O_CLOEXEC);
	UT_CHECK(ffd >= 0, "pinned file %s", file);
	if (ffd >= 0) {
		struct stat st;
		UT_CHECK(!fsync(ffd), "fsync");
		UT_CHECK(!posix_fadvise(ffd, 0, 0, POSIX_FADV_DONTNEED), "fadvise");
		fstat(ffd, &st);
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, ffd, 0);
		size_t pages = ((size_t)st.st_size + 4095) / 4096, resident = 0;
		unsigned char vec[4096];
		if (m != MAP_FAILED && pages <= sizeof(vec) && !mincore(m, (size_t)st.st_size, vec))
			for (size_t i = 0; i < pages; i++)
				resident += vec[i] & 1;
		if (m != MAP_FAILED)
			munmap(m, (size_t)st.st_size);
		printf("  disk pin: %zu of %zu pages still in the page cache before the reopen\n",
		       resident, pages);
		close(ffd);
	}
	int fd = bpf_obj_get("disk");
	UT_CHECK(fd >= 0, "reopen the disk pin: %d", fd);
	int bad = 0;
	for (uint32_t k = 0; fd >= 0 && k < DISK_KEYS; k++) {
		uint64_t v = 0;
		bad += bpf_map_lookup_elem(fd, &k, &v) || v != disk_value(k);
	}
	UT_CHECK(!bad, "%d of %d values lost or wrong after the read back", bad, DISK_KEYS);
	if (fd >= 0)
		close(fd);
	unlink(file);
	rmdir(droot);
	if (keep[0])
		setenv("UEBPF_PIN_ROOT", keep, 1);
	else
		unsetenv("UEBPF_PIN_ROOT");
}
