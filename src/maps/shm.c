/*
 * ub_shm: backing files for maps. Files live in the pin root's file system so that a map
 * can later be pinned by linking its file there: the pinned map is then the very memory
 * running programs use, not a copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "maps/map.h"
#include "maps/shm.h"
#include "api/bpf_cmd.h"

const char *ub_shm_pin_root(void)
{
	static char root[512];
	const char *env = getenv("UEBPF_PIN_ROOT");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		return env;
	if (geteuid() == 0 || !xdg)
		return "/run/uebpf";
	snprintf(root, sizeof(root), "%s/uebpf", xdg);
	return root;
}

static void ensure_dir(const char *dir)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
	mkdir(tmp, 0700);
}

int ub_shm_pin_path(const char *path, char *out, size_t outsz)
{
	static const char bpffs[] = "/sys/fs/bpf";
	const char *rest = NULL;
	int n;

	if (!path || !*path)
		return -EINVAL;
	if (!strncmp(path, bpffs, sizeof(bpffs) - 1) &&
	    (path[sizeof(bpffs) - 1] == '/' || !path[sizeof(bpffs) - 1]))
		rest = path + sizeof(bpffs) - 1;
	else if (path[0] != '/')
		rest = path;
	if (rest) {
		while (*rest == '/')
			rest++;
		n = snprintf(out, outsz, "%s/%s", ub_shm_pin_root(), rest);
	} else {
		n = snprintf(out, outsz, "%s", path);
	}
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

static int open_backing(const char *name)
{
	const char *root = ub_shm_pin_root();
	char label[64];
	int fd = open(root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 && errno == ENOENT) {
		ensure_dir(root);
		fd = open(root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	}
	if (fd >= 0)
		return fd;
	snprintf(label, sizeof(label), "uebpf-map:%.16s", name ? name : "");
	fd = memfd_create(label, MFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ---- Map memory limits ----
 *
 * The kernel charges a map's memory to the creator's memory cgroup and fails the creation
 * with ENOMEM when it does not fit (RLIMIT_MEMLOCK before 5.11). uebpf has two bounds,
 * checked before any memory is taken, both answered with ENOMEM:
 *   - UEBPF_MAP_MEMORY_LIMIT (bytes, or with a K, M or G suffix): the total size of the
 *     maps this process has created and not yet released, as a cgroup's memory.max;
 *   - always: one map no larger than the memory the system has available (MemAvailable),
 *     so that a huge map fails at creation instead of inviting the OOM killer (a memfd,
 *     unlike a tmpfs with a size, has no bound of its own).
 * Charges are found again by address when the map is unmapped (ub_shm_unmap).
 */
struct charge {
	void *mem;
	size_t size;
};

static pthread_mutex_t charge_lock = PTHREAD_MUTEX_INITIALIZER;
static struct charge *charges;
static size_t ncharges, charges_cap, charged_total;

/* The configured limit: SIZE_MAX for none, 0 with *bad set for a value that is no size. */
static size_t memory_limit(int *bad)
{
	const char *e = getenv("UEBPF_MAP_MEMORY_LIMIT");
	char *end;

	*bad = 0;
	if (!e || !*e)
		return SIZE_MAX;
	errno = 0;
	unsigned long long v = strtoull(e, &end, 10);
	unsigned shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20
		       : *end == 'G' || *end == 'g' ? 30 : 0;
	if (shift)
		end++;
	if (errno || end == e || *end || *e == '-' || (shift && v > (SIZE_MAX >> shift))) {
		*bad = 1;
		return 0;
	}
	return (size_t)v << shift;
}

static size_t mem_available(void)
{
	char line[128];
	unsigned long long kb;
	size_t avail = SIZE_MAX;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return SIZE_MAX;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			avail = kb > SIZE_MAX / 1024 ? SIZE_MAX : (size_t)kb * 1024;
			break;
		}
	fclose(f);
	return avail;
}

/* Takes `size` from the budget before the memory exists: 0, -ENOMEM or -EINVAL. */
static int charge_check(size_t size)
{
	int bad;
	size_t limit = memory_limit(&bad);

	if (bad) {
		ub_set_error("UEBPF_MAP_MEMORY_LIMIT=%s: not a size (bytes, or with K, M, G)",
			     getenv("UEBPF_MAP_MEMORY_LIMIT"));
		return -EINVAL;
	}
	if (size > mem_available()) {
		ub_set_error("map of %zu bytes: more than the memory available", size);
		return -ENOMEM;
	}
	int ok = 0;
	for (int pass = 0; pass < 2 && !ok; pass++) {
		if (pass)
			ub_obj_sweep();	/* maps whose fds were closed give their memory back */
		pthread_mutex_lock(&charge_lock);
		ok = charged_total <= limit && size <= limit - charged_total;
		pthread_mutex_unlock(&charge_lock);
	}
	if (!ok)
		ub_set_error("map of %zu bytes: over UEBPF_MAP_MEMORY_LIMIT (%zu in use of %zu)",
			     size, charged_total, limit);
	return ok ? 0 : -ENOMEM;
}

static int charge_add(void *mem, size_t size)
{
	int err = 0;

	pthread_mutex_lock(&charge_lock);
	if (ncharges == charges_cap) {
		size_t cap = charges_cap ? 2 * charges_cap : 16;
		struct charge *c = realloc(charges, cap * sizeof(*c));
		if (c) {
			charges = c;
			charges_cap = cap;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err) {
		charges[ncharges++] = (struct charge){ mem, size };
		charged_total += size;
	}
	pthread_mutex_unlock(&charge_lock);
	return err;
}

void ub_shm_unmap(void *mem, size_t size)
{
	pthread_mutex_lock(&charge_lock);
	for (size_t i = 0; i < ncharges; i++)
		if (charges[i].mem == mem) {
			charged_total -= charges[i].size;
			charges[i] = charges[--ncharges];
			break;
		}
	pthread_mutex_unlock(&charge_lock);
	munmap(mem, size);
}

size_t ub_shm_charged(void)
{
	pthread_mutex_lock(&charge_lock);
	size_t n = charged_total;
	pthread_mutex_unlock(&charge_lock);
	return n;
}

int ub_shm_create(const char *name, size_t size, void **mem)
{
	int fd = charge_check(size);

	if (!fd)
		fd = open_backing(name);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size)) {
		int err = errno == EFBIG ? -E2BIG : -ENOMEM;
		close(fd);
		return err;
	}
	/*
	 * The memory is taken now, as the kernel allocates a map's memory at creation: a sparse
	 * file on a full tmpfs would map fine and then SIGBUS the first program or process that
	 * touches a page. A file system without fallocate keeps the sparse file.
	 */
	int rc;
	while ((rc = fallocate(fd, 0, 0, (off_t)size)) && errno == EINTR)
		;
	if (rc && errno != EOPNOTSUPP && errno != ENOSYS) {
		int err = errno == EFBIG ? -E2BIG : -ENOMEM;
		close(fd);
		return err;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	if (charge_add(p, size)) {
		munmap(p, size);
		close(fd);
		return -ENOMEM;
	}
	*mem = p;
	return fd;
}

/* ---- Locks in shared memory that outlive their holder ----
 *
 * A lock word holds 0 or the process id of its holder. A process killed while it holds a
 * lock (SIGKILL in the middle of an update) would otherwise leave the word set for good and
 * every later writer of the pinned map spinning forever. A waiter that has spun for a while
 * looks whether the holder still exists; if not, it takes the lock over and is told so, so
 * that the map family can repair what the dead holder left half done (ub_shm_lock_robust).
 * A holder that still runs but does not map the file is not the holder: its id was reused.
 * Process ids are those of the waiter's pid namespace: processes that share a map across pid
 * namespaces must not rely on this (docs/maps.md).
 */
static uint32_t self_pid;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_reset(void)
{
	__atomic_store_n(&self_pid, (uint32_t)getpid(), __ATOMIC_RELAXED);
}

static void self_init(void)
{
	self_reset();
	pthread_atfork(NULL, NULL, self_reset);	/* a forked child is another holder */
}

uint32_t ub_shm_self_id(void)
{
	pthread_once(&self_once, self_init);
	return __atomic_load_n(&self_pid, __ATOMIC_RELAXED);
}

/* Whether process `pid` is gone: no such process, or a zombie not yet reaped. */
int ub_shm_owner_dead(uint32_t pid)
{
	char path[64], buf[512];

	if (!pid)
		return 0;
	if (pid > INT32_MAX)
		return 1;	/* no process has such an id: a damaged or hostile word */
	if (kill((pid_t)pid, 0) && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return fd < 0 && errno == ENOENT;
	buf[n] = '\0';
	const char *state = strrchr(buf, ')');	/* "pid (comm) S ...": comm may hold ')' */
	return state && (state[2] == 'Z' || state[2] == 'X');
}

/*
 * The file (device and inode, as /proc/PID/maps writes them) mapped at `addr` in process
 * `pid` (0: this process) when `want` is NULL; else whether that process maps the file
 * `want` names. -1 when the maps cannot be read (another user's process: assume yes).
 */
static int maps_find(uint32_t pid, uintptr_t addr, const char *want, char *found, size_t fsz)
{
	char path[64], line[512];
	int hit = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (!hit && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, ino;
		char dev[32];
		if (sscanf(line, "%lx-%lx %*s %*s %31s %lu", &lo, &hi, dev, &ino) != 4 || !ino)
			continue;
		char id[64];
		snprintf(id, sizeof(id), "%s:%lu", dev, ino);
		if (want)
			hit = !strcmp(id, want);
		else if (addr >= lo && addr < hi && (hit = 1))
			snprintf(found, fsz, "%s", id);
	}
	fclose(f);
	return hit;
}

/*
 * Whether the lock at `word` held by `pid` is held by no one: the process is gone, or it
 * runs but does not map the map's file, so it is another process that got the same id
 * (ids are reused; after a reboot a file on disk may hold the id of a process of the last
 * boot). A holder must map the file to have written its id there.
 */
static int holder_gone(uint32_t pid, const uint32_t *word)
{
	char file[64];

	if (ub_shm_owner_dead(pid))
		return 1;
	if (maps_find(0, (uintptr_t)word, NULL, file, sizeof(file)) != 1)
		return 0;
	return maps_find(pid, 0, file, NULL, 0) == 0;
}

int ub_shm_lock_robust(uint32_t *word)
{
	uint32_t me = ub_shm_self_id();

	for (unsigned spins = 0;; spins++) {
		uint32_t cur = __atomic_load_n(word, __ATOMIC_RELAXED);
		if (!cur) {
			if (__atomic_compare_exchange_n(word, &cur, me, 0, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				return 0;
			continue;
		}
		if (spins < 128) {
			__builtin_ia32_pause();
			continue;
		}
		sched_yield();	/* the holder may be descheduled */
		/* Now and then (a look costs a system call or two): is the holder alive? */
		if (spins % 64 || cur == me || !holder_gone(cur, word))
			continue;
		if (__atomic_compare_exchange_n(word, &cur, me, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return 1;
	}
}

int ub_shm_lock_reap(uint32_t *word)
{
	uint32_t cur = __atomic_load_n(word, __ATOMIC_RELAXED);

	if (!cur || cur == ub_shm_self_id() || !holder_gone(cur, word))
		return 0;
	return __atomic_compare_exchange_n(word, &cur, ub_shm_self_id(), 0, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

void ub_shm_lock(uint32_t *word)
{
	(void)ub_shm_lock_robust(word);
}

void ub_shm_unlock(uint32_t *word)
{
	__atomic_store_n(word, 0, __ATOMIC_RELEASE);
}

#define SEQ_WAIT_MAX	(1u << 14)	/* ~16k yields: live writers get many chances first */

int ub_shm_seq_wait(const uint32_t *lock, const uint32_t *seq, unsigned tries)
{
	if (tries >= SEQ_WAIT_MAX)
		return 1;
	if (tries < 128) {
		__builtin_ia32_pause();
		return 0;
	}
	sched_yield();	/* the writer may be descheduled */
	if (tries % 64 || !(__atomic_load_n(seq, __ATOMIC_ACQUIRE) & 1))
		return 0;
	uint32_t holder = __atomic_load_n(lock, __ATOMIC_RELAXED);
	return !holder || holder_gone(holder, lock);
}
