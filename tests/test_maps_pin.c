/*
 * Pinned maps, which the kernel comparison cannot show: maps live in files under the pin
 * root, so a pin is the live map, is shared with other processes, outlives its creator,
 * and a damaged or foreign file must be refused with a reason, never crash the reader.
 *
 * The pin root is a fresh directory under /dev/shm (UEBPF_PIN_ROOT), set before the first
 * map is created because map memory is allocated in the pin root's file system. A child
 * process started with fork+exec of this binary finds its role in TEST_MAPS_PIN_CHILD.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "ut.h"

#define HDR_SIZE	4096u	/* the header page at the end of every map file (maps/map.h) */

static char root[64];

/* ---- helpers ---- */

static void path_in_root(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", root, name);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* A value whose every 8-byte word says (key, round): a reader can tell a torn value. */
static void mkval(uint64_t *v, unsigned words, uint32_t key, uint32_t round)
{
	for (unsigned i = 0; i < words; i++)
		v[i] = (uint64_t)key << 32 | round;
}

/* The round the value holds, or -1 if its words disagree or name another key. */
static long val_round(const uint64_t *v, unsigned words, uint32_t key)
{
	for (unsigned i = 1; i < words; i++)
		if (v[i] != v[0])
			return -1;
	return (uint32_t)(v[0] >> 32) == key ? (long)(uint32_t)v[0] : -1;
}

static int write_file(const char *path, const void *buf, size_t n)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	int ok = fd >= 0 && write(fd, buf, n) == (ssize_t)n;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static void *read_file(const char *path, size_t *n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *buf = NULL;

	if (fd >= 0 && !fstat(fd, &st)) {
		buf = malloc((size_t)st.st_size + 1);
		if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
			free(buf);
			buf = NULL;
		}
		*n = (size_t)st.st_size;
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

/* ---- the child roles (run from a constructor, before the test cases register) ---- */

enum { XPROC_KEYS = 64, XPROC_ROUNDS = 2000, XPROC_WORDS = 8, CHILD_BASE = 1000 };

/*
 * Writer role: opens the pinned hash, writes keys CHILD_BASE.. for XPROC_ROUNDS rounds
 * while reading the parent's keys, then tells the parent (pipe) and waits for the go to
 * check the parent's final values. Exit status: the number of problems seen (capped).
 */
static int child_writer(const char *path, int to_parent, int from_parent)
{
	uint64_t v[XPROC_WORDS];
	int bad = 0, seen = 0, fd = bpf_obj_get(path);
	char c = 'd';

	if (fd < 0)
		return 100;
	for (uint32_t r = 0; r < XPROC_ROUNDS; r++) {
		if (r == 1 && write(to_parent, "s", 1) != 1)	/* round 0 is in: go */
			return 101;
		for (uint32_t k = 0; k < XPROC_KEYS; k++) {
			uint32_t key = CHILD_BASE + k;
			mkval(v, XPROC_WORDS, key, r);
			bad += bpf_map_update_elem(fd, &key, v, BPF_ANY) != 0;
		}
		uint32_t other = r % XPROC_KEYS;
		if (!bpf_map_lookup_elem(fd, &other, v)) {
			seen++;
			bad += val_round(v, XPROC_WORDS, other) < 0;
		}
	}
	if (write(to_parent, &c, 1) != 1 || read(from_parent, &c, 1) != 1)
		return 101;
	for (uint32_t k = 0; k < XPROC_KEYS; k++)
		bad += bpf_map_lookup_elem(fd, &k, v) || val_round(v, XPROC_WORDS, k) != XPROC_ROUNDS - 1;
	bad += seen == 0;	/* the parent had written its keys before starting us */
	return bad > 99 ? 99 : bad;
}

static void rm_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (root[0] && system(cmd)) {}
}

__attribute__((constructor)) static void setup(void)
{
	const char *role = getenv("TEST_MAPS_PIN_CHILD");

	if (role) {	/* "writer PATH FD_TO_PARENT FD_FROM_PARENT" */
		char path[256];
		int to, from;
		if (sscanf(role, "writer %255s %d %d", path, &to, &from) != 3)
			_exit(102);
		_exit(child_writer(path, to, from));
	}
	snprintf(root, sizeof(root), "/dev/shm/uebpf-test-pin-XXXXXX");
	if (!mkdtemp(root)) {
		root[0] = '\0';
		return;
	}
	setenv("UEBPF_PIN_ROOT", root, 1);
	atexit(rm_root);
}

/* ---- pin and get in one process ---- */

UT_TEST(pin_get_same_map)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	uint32_t k1 = 1, k2 = 2, v = 0;
	uint64_t v1 = 111, v2 = 222, out = 0;
	char file[128];
	struct stat st;

	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "pinned", 4, 8, 16, &o);
	UT_CHECK(fd >= 0, "create: %d", fd);
	UT_CHECK_EQ(bpf_map_update_elem(fd, &k1, &v1, BPF_ANY), 0);
	/* libbpf's habit: a path under /sys/fs/bpf lands under the pin root. */
	UT_CHECK_EQ(bpf_obj_pin(fd, "/sys/fs/bpf/pinned"), 0);
	path_in_root(file, sizeof(file), "pinned");
	UT_CHECK(stat(file, &st) == 0, "%s: %s", file, strerror(errno));
	UT_CHECK(S_ISREG(st.st_mode), "pinned object is not a regular file");
	UT_CHECK_EQ(st.st_mode & 07777, 0600);	/* owner only: access follows the file mode */
	/* Pinning again at the same path fails like the kernel (EEXIST). */
	UT_CHECK_EQ(bpf_obj_pin(fd, "/sys/fs/bpf/pinned"), -EEXIST);

	int fd2 = bpf_obj_get("/sys/fs/bpf/pinned");
	UT_CHECK(fd2 >= 0 && fd2 != fd, "obj_get: %d (%s)", fd2, uebpf_last_error());
	/* Writes through one fd are visible through the other: one map, not a copy. */
	UT_CHECK_EQ(bpf_map_lookup_elem(fd2, &k1, &out), 0);
	UT_CHECK_EQ(out, 111);
	UT_CHECK_EQ(bpf_map_update_elem(fd2, &k2, &v2, BPF_NOEXIST), 0);
	UT_CHECK_EQ(bpf_map_lookup_elem(fd, &k2, &out), 0);
	UT_CHECK_EQ(out, 222);
	UT_CHECK_EQ(bpf_map_delete_elem(fd, &k1), 0);
	UT_CHECK_EQ(bpf_map_lookup_elem(fd2, &k1, &out), -ENOENT);
	/* Both fds describe the same shape. */
	struct bpf_map_info a = { 0 }, b = { 0 };
	__u32 la = sizeof(a), lb = sizeof(b);
	UT_CHECK_EQ(bpf_obj_get_info_by_fd(fd, &a, &la), 0);
	UT_CHECK_EQ(bpf_obj_get_info_by_fd(fd2, &b, &lb), 0);
	UT_CHECK(a.type == b.type && a.key_size == b.key_size && a.value_size == b.value_size &&
		 a.max_entries == b.max_entries && !strcmp(a.name, b.name), "info differs");

	/* A relative path is placed under the pin root too. */
	UT_CHECK_EQ(bpf_obj_pin(fd, "relative-pin"), 0);
	path_in_root(file, sizeof(file), "relative-pin");
	UT_CHECK(access(file, F_OK) == 0, "%s missing", file);
	/* An absolute path elsewhere is used as given (same file system as the root). */
	path_in_root(file, sizeof(file), "absolute-pin");
	UT_CHECK_EQ(bpf_obj_pin(fd, file), 0);
	int fd3 = bpf_obj_get(file);
	UT_CHECK(fd3 >= 0, "obj_get %s: %d", file, fd3);
	UT_CHECK_EQ(bpf_map_lookup_elem(fd3, &k2, &out), 0);

	/* Read-only and write-only opens: the fd's mode limits the commands (EPERM). */
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
	LIBBPF_OPTS(bpf_obj_get_opts, wo, .file_flags = BPF_F_WRONLY);
	LIBBPF_OPTS(bpf_obj_get_opts, rw, .file_flags = BPF_F_RDONLY | BPF_F_WRONLY);
	int rfd = bpf_obj_get_opts("/sys/fs/bpf/pinned", &ro);
	int wfd = bpf_obj_get_opts("/sys/fs/bpf/pinned", &wo);
	UT_CHECK(rfd >= 0 && wfd >= 0, "rdonly %d wronly %d", rfd, wfd);
	UT_CHECK_EQ(bpf_obj_get_opts("/sys/fs/bpf/pinned", &rw), -EINVAL);	/* as the kernel */
	UT_CHECK_EQ(bpf_map_lookup_elem(rfd, &k2, &out), 0);
	UT_CHECK_EQ(bpf_map_update_elem(rfd, &k2, &v, BPF_ANY), -EPERM);
	UT_CHECK_EQ(bpf_map_update_elem(wfd, &k2, &v2, BPF_ANY), 0);
	/* Kernel: a BPF_F_WRONLY fd lacks FMODE_CAN_READ, so lookups are refused. */
	UT_CHECK_EQ(bpf_map_lookup_elem(wfd, &k2, &out), -EPERM);
	UT_CHECK_EQ(bpf_map_get_next_key(wfd, NULL, &out), -EPERM);
	/* Freezing through one fd freezes the map for all of them. */
	UT_CHECK_EQ(bpf_map_freeze(fd2), 0);
	UT_CHECK_EQ(bpf_map_update_elem(fd, &k2, &v2, BPF_ANY), -EPERM);
	UT_CHECK_EQ(bpf_map_update_elem(fd3, &k2, &v2, BPF_ANY), -EPERM);
	UT_CHECK_EQ(bpf_map_lookup_elem(fd, &k2, &out), 0);
	close(rfd), close(wfd), close(fd3), close(fd2), close(fd);
}

UT_TEST(pin_errors)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "perr", 4, 8, 4, &o);

	UT_CHECK(fd >= 0, "create: %d", fd);
	/* Not a map: the kernel answers EINVAL for any fd that is no bpf object. */
	UT_CHECK_EQ(bpf_obj_pin(devnull, "/sys/fs/bpf/perr"), -EINVAL);
	UT_CHECK_EQ(bpf_obj_pin(-1, "/sys/fs/bpf/perr"), -EINVAL);
	/* A missing directory on the way (ENOENT), an empty path (ENOENT in the kernel). */
	UT_CHECK_EQ(bpf_obj_pin(fd, "/sys/fs/bpf/no/such/dir/perr"), -ENOENT);
	UT_CHECK(bpf_obj_pin(fd, "") < 0, "empty path accepted");
	UT_CHECK(bpf_obj_pin(fd, NULL) < 0, "NULL path accepted");
	UT_CHECK_EQ(bpf_obj_get("/sys/fs/bpf/never-pinned"), -ENOENT);
	UT_CHECK_STR(uebpf_last_error(), "never-pinned");
	close(devnull);
	close(fd);
}

/* ---- lifetime ---- */

UT_TEST(pin_survives_close)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	uint64_t v, out;
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "survivor", 4, 8, 8, &o);

	UT_CHECK(fd >= 0, "create: %d", fd);
	for (uint32_t k = 0; k < 8; k++) {
		v = 1000 + k;
		UT_CHECK_EQ(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	}
	UT_CHECK_EQ(bpf_obj_pin(fd, "/sys/fs/bpf/survivor"), 0);
	close(fd);
	fd = bpf_obj_get("/sys/fs/bpf/survivor");
	UT_CHECK(fd >= 0, "obj_get after close: %d (%s)", fd, uebpf_last_error());
	for (uint32_t k = 0; k < 8; k++) {
		UT_CHECK_EQ(bpf_map_lookup_elem(fd, &k, &out), 0);
		UT_CHECK_EQ(out, 1000 + k);
	}
	close(fd);
}

/* A forked child creates and fills a map, pins it and exits; the parent reads it. */
UT_TEST(pin_survives_creator_exit)
{
	uint64_t out[XPROC_WORDS];
	pid_t pid = fork();

	if (pid == 0) {
		LIBBPF_OPTS(bpf_map_create_opts, o);
		uint64_t v[XPROC_WORDS];
		int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "orphan", 4, sizeof(v), 128, &o);
		int bad = fd < 0;
		for (uint32_t k = 0; k < 100 && !bad; k++) {
			mkval(v, XPROC_WORDS, k, k * 3);
			bad = bpf_map_update_elem(fd, &k, v, BPF_NOEXIST) != 0;
		}
		bad = bad || bpf_obj_pin(fd, "/sys/fs/bpf/orphan") != 0;
		_exit(bad);	/* no close: the process ends with the fd open */
	}
	int status = 0;
	UT_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
	UT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	int fd = bpf_obj_get("/sys/fs/bpf/orphan");
	UT_CHECK(fd >= 0, "obj_get: %d (%s)", fd, uebpf_last_error());
	for (uint32_t k = 0; k < 100; k++) {
		UT_CHECK_EQ(bpf_map_lookup_elem(fd, &k, out), 0);
		UT_CHECK_EQ(val_round(out, XPROC_WORDS, k), k * 3);
	}
	/* A full walk sees the 100 keys once each. */
	uint8_t seen[100] = { 0 };
	uint32_t key, n = 0;
	for (int rc = bpf_map_get_next_key(fd, NULL, &key); !rc && n < 200;
	     rc = bpf_map_get_next_key(fd, &key, &key), n++)
		UT_CHECK(key < 100 && !seen[key]++, "walk: key %u unexpected or repeated", key);
	UT_CHECK_EQ(n, 100);
	close(fd);
}

/* ---- two processes on one pinned map ---- */

UT_TEST(pin_two_processes_concurrently)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	uint64_t v[XPROC_WORDS];
	int to_child[2], to_parent[2], bad = 0, seen = 0;
	char env[512], path[] = "/sys/fs/bpf/xproc", c;

	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "xproc", 4, sizeof(v), 4 * XPROC_KEYS, &o);
	UT_CHECK(fd >= 0, "create: %d", fd);
	for (uint32_t k = 0; k < XPROC_KEYS; k++) {
		mkval(v, XPROC_WORDS, k, 0);
		UT_CHECK_EQ(bpf_map_update_elem(fd, &k, v, BPF_NOEXIST), 0);
	}
	UT_CHECK_EQ(bpf_obj_pin(fd, path), 0);
	UT_CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipe");
	pid_t pid = fork();
	if (pid == 0) {	/* a separate program image: this binary, in its writer role */
		snprintf(env, sizeof(env), "TEST_MAPS_PIN_CHILD=writer %s %d %d", path, to_parent[1],
			 to_child[0]);
		char *envp[] = { env, NULL, NULL };
		char pin_env[128];
		snprintf(pin_env, sizeof(pin_env), "UEBPF_PIN_ROOT=%s", root);
		envp[1] = pin_env;
		char *argv[] = { "test_maps_pin", "writer", NULL };
		execve("/proc/self/exe", argv, envp);
		_exit(103);
	}
	UT_CHECK(pid > 0, "fork");
	UT_CHECK(read(to_parent[0], &c, 1) == 1 && c == 's', "child did not start");
	/*
	 * Meanwhile: our keys, round after round, and reads of the child's keys. Seeing the
	 * child's keys at two different rounds proves that both processes wrote at once.
	 */
	long last = -1;
	for (uint32_t r = 1; r < XPROC_ROUNDS; r++) {
		for (uint32_t k = 0; k < XPROC_KEYS; k++) {
			mkval(v, XPROC_WORDS, k, r);
			bad += bpf_map_update_elem(fd, &k, v, BPF_EXIST) != 0;
		}
		uint32_t other = CHILD_BASE + r % XPROC_KEYS;
		if (!bpf_map_lookup_elem(fd, &other, v)) {
			long round = val_round(v, XPROC_WORDS, other);
			bad += round < 0;
			seen += round != last && last >= 0;
			last = round;
		}
	}
	UT_CHECK(read(to_parent[0], &c, 1) == 1 && c == 'd', "child did not finish");
	/* The child is done: its last round is visible to us. */
	for (uint32_t k = 0; k < XPROC_KEYS; k++) {
		uint32_t key = CHILD_BASE + k;
		UT_CHECK_EQ(bpf_map_lookup_elem(fd, &key, v), 0);
		UT_CHECK_EQ(val_round(v, XPROC_WORDS, key), XPROC_ROUNDS - 1);
	}
	UT_CHECK(write(to_child[1], "g", 1) == 1, "pipe");
	int status = 0;
	UT_CHECK(waitpid(pid, &status, 0) == pid, "wait");
	UT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "child: %d problems (status 0x%x; 100+ = setup failure)", WEXITSTATUS(status), status);
	UT_CHECK(bad == 0, "%d failed updates or torn values in the parent", bad);
	UT_CHECK(seen > 0, "the child's keys never changed while we wrote: no overlap");
	close(to_child[0]), close(to_child[1]), close(to_parent[0]), close(to_parent[1]);
	close(fd);
}

/* ---- damaged and foreign files ---- */

/* A valid pinned map file, created and returned as bytes (the pin is removed). */
static uint8_t *map_file(enum bpf_map_type type, uint32_t vs, uint32_t max, size_t *n)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	char file[128];
	int fd = bpf_map_create(type, "victim", 4, vs, max, &o);
	uint8_t v[64] = { 7 };

	for (uint32_t k = 0; k < max / 2; k++)
		bpf_map_update_elem(fd, &k, v, BPF_ANY);
	path_in_root(file, sizeof(file), "victim.src");
	if (fd < 0 || bpf_obj_pin(fd, file))
		return NULL;
	close(fd);
	uint8_t *buf = read_file(file, n);
	unlink(file);
	return buf;
}

/*
 * Opening `bytes` as a pinned map fails with errno `want` and a reason naming `why`; no fd
 * leaks. A file that is no map file at all (no map header where one belongs) is EACCES, as
 * the kernel's BPF_OBJ_GET on a file that is no bpf object (compared in test_maps.c); a uebpf
 * map file that is damaged is EINVAL, the reason in uebpf_last_error().
 */
enum { FOREIGN = EACCES, DAMAGED = EINVAL };

static void expect_refused(const char *name, const void *bytes, size_t n, int want,
			   const char *why)
{
	char file[128];
	size_t n2 = 0;

	path_in_root(file, sizeof(file), name);
	UT_CHECK(write_file(file, bytes, n) == 0, "write %s", file);
	int before = count_fds();
	int fd = bpf_obj_get(file);
	int e = errno;
	UT_CHECK(fd < 0, "%s: damaged file accepted (fd %d)", name, fd);
	if (fd >= 0) {
		close(fd);
		unlink(file);
		return;
	}
	UT_CHECK(e == -fd && e == want, "%s: rc %d errno %d, want %d (%s)", name, fd, e, want,
		 uebpf_last_error());
	UT_CHECK_STR(uebpf_last_error(), file);
	UT_CHECK_STR(uebpf_last_error(), why);
	UT_CHECK_EQ(count_fds(), before);
	uint8_t *after = read_file(file, &n2);	/* a refused file is left as it was */
	UT_CHECK(after && n2 == n && !memcmp(after, bytes, n), "%s: file changed", name);
	free(after);
	unlink(file);
}

/* Header fields by offset (struct ub_shm_hdr in maps/map.h: the layout of the file). */
enum { H_MAGIC = 0, H_VERSION = 8, H_HDR_SIZE = 12, H_DATA_SIZE = 16, H_TYPE = 24,
       H_KEY = 28, H_VALUE = 32, H_MAX = 36, H_FLAGS = 40, H_NR_CPUS = 44, H_NAME = 48,
       H_FROZEN = 64, H_CREATE_NS = 72, H_MAP_EXTRA = 80, H_CHECKSUM = 88 };

static void put32(uint8_t *file, size_t n, unsigned off, uint32_t v)
{
	memcpy(file + n - HDR_SIZE + off, &v, 4);
}

UT_TEST(obj_get_refuses_damaged_files)
{
	size_t n = 0;
	uint8_t *good = map_file(BPF_MAP_TYPE_HASH, 8, 32, &n), *bad = malloc(n + 8192);
	uint64_t rng = 0x1234567;

	UT_CHECK(good && n > HDR_SIZE, "no map file to damage");
	if (!good)
		return;
	/* Not map files at all. */
	for (size_t i = 0; i < 3 * 4096; i++)
		bad[i] = (uint8_t)((rng = rng * 6364136223846793005ull + 1) >> 56);
	expect_refused("random", bad, 3 * 4096, FOREIGN, "bad magic");
	expect_refused("empty", bad, 0, FOREIGN, "too small");
	expect_refused("text", "hello\n", 6, FOREIGN, "too small");
	/* Truncated or extended: no map header where the size puts it. */
	expect_refused("truncated-page", good, n - 4096, FOREIGN, "not a uebpf map file");
	expect_refused("truncated-bytes", good, n - 100, FOREIGN, "not a uebpf map file");
	memcpy(bad, good, n);
	memset(bad + n, 0, 4096);
	expect_refused("extended", bad, n + 4096, FOREIGN, "bad magic");
	/* One field of the header wrong at a time. */
	struct { const char *name; unsigned off; uint32_t v; const char *why; } f[] = {
		{ "magic", H_MAGIC, 0x46504245, "magic" },
		{ "version", H_VERSION, 99, "version" },
		{ "hdr-size", H_HDR_SIZE, 12, "header size" },
		{ "data-size", H_DATA_SIZE, 2 * 4096, "data size" },
		{ "type-unknown", H_TYPE, 9999, "map type" },
		{ "type-percpu-hash", H_TYPE, BPF_MAP_TYPE_PERCPU_HASH, "" },
		/* A hash of 32 small elements and an array of 32 values both fit one page. */
		{ "type-array", H_TYPE, BPF_MAP_TYPE_ARRAY, "" },
		{ "key-zero", H_KEY, 0, "shape" },
		{ "key-bigger", H_KEY, 64, "" },
		{ "value-zero", H_VALUE, 0, "shape" },
		{ "max-bigger", H_MAX, 1u << 20, "" },
		{ "flags", H_FLAGS, BPF_F_MMAPABLE, "shape" },
		{ "nr-cpus", H_NR_CPUS, 999, "CPUs" },
		{ "name", H_NAME + 12, 0x41414141, "name" },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		memcpy(bad, good, n);
		if (!strcmp(f[i].name, "name"))
			memset(bad + n - HDR_SIZE + H_NAME, 'A', 16);	/* no terminating NUL */
		else
			put32(bad, n, f[i].off, f[i].v);
		expect_refused(f[i].name, bad, n, f[i].off == H_MAGIC ? FOREIGN : DAMAGED, f[i].why);
	}
	/* Fields no check of the shape can fault: only the checksum tells. */
	struct { const char *name; unsigned off; uint32_t v; } c[] = {
		{ "create-time", H_CREATE_NS, 12345 },
		{ "name-changed", H_NAME, 0x00414141 },
		{ "flags-zero-seed", H_FLAGS, BPF_F_ZERO_SEED },
		{ "flags-rdonly", H_FLAGS, BPF_F_RDONLY },	/* an fd's flag, never the map's */
		{ "checksum", H_CHECKSUM, 0x12345678 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memcpy(bad, good, n);
		put32(bad, n, c[i].off, c[i].v);
		expect_refused(c[i].name, bad, n, DAMAGED, "checksum");
	}
	/* The hash's control block at offset 0 disagreeing with the header. */
	memcpy(bad, good, n);
	bad[8] ^= 0xff;		/* hash_ctl.nbuckets */
	expect_refused("hash-ctl", bad, n, DAMAGED, "corrupt");
	free(good);
	free(bad);

	/* An array has no control block: its header alone must reveal a flipped byte. */
	good = map_file(BPF_MAP_TYPE_ARRAY, 8, 32, &n);
	bad = malloc(n);
	UT_CHECK(good && n > HDR_SIZE, "no array file to damage");
	if (!good)
		return;
	struct { const char *name; unsigned off; uint32_t v; } g[] = {
		{ "array-value-size", H_VALUE, 16 },	/* 32 x 16 bytes: still one page */
		{ "array-max-entries", H_MAX, 64 },	/* 64 x 8 bytes: still one page */
		{ "array-type", H_TYPE, BPF_MAP_TYPE_HASH },
		{ "array-type-percpu", H_TYPE, BPF_MAP_TYPE_PERCPU_ARRAY },
	};
	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		memcpy(bad, good, n);
		put32(bad, n, g[i].off, g[i].v);
		expect_refused(g[i].name, bad, n, DAMAGED, "");
	}
	free(good);
	free(bad);
}

/* Foreign files at a pin path: missing, a directory, a symlink, a FIFO, /dev/null. */
UT_TEST(obj_get_refuses_foreign_files)
{
	char file[128], link[128];

	path_in_root(file, sizeof(file), "a-dir");
	UT_CHECK(mkdir(file, 0700) == 0, "mkdir");
	UT_CHECK(bpf_obj_get(file) < 0, "directory accepted");
	UT_CHECK_STR(uebpf_last_error(), file);
	path_in_root(file, sizeof(file), "a-fifo");
	UT_CHECK(mkfifo(file, 0600) == 0, "mkfifo");
	UT_CHECK(bpf_obj_get(file) < 0, "FIFO accepted");	/* must not block either */
	UT_CHECK_STR(uebpf_last_error(), file);
	UT_CHECK(bpf_obj_get("/dev/null") < 0, "/dev/null accepted");
	/* A symlink to a valid map is not followed (a pin is the object itself). */
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "target", 4, 4, 1, &o);
	UT_CHECK_EQ(bpf_obj_pin(fd, "/sys/fs/bpf/target"), 0);
	path_in_root(file, sizeof(file), "target");
	path_in_root(link, sizeof(link), "a-link");
	UT_CHECK(symlink(file, link) == 0, "symlink");
	UT_CHECK(bpf_obj_get(link) < 0, "symlink followed");
	close(fd);
}

/*
 * Random damage anywhere in the header page and the hash's first page: opening either
 * fails cleanly or gives a map on which every command returns without crashing and a walk
 * ends. Run under ASan/UBSan this is the "never crashes" check.
 */
UT_TEST(obj_get_random_damage_never_crashes)
{
	size_t n = 0;
	uint8_t *good = map_file(BPF_MAP_TYPE_HASH, 8, 16, &n), *bad = malloc(n);
	uint64_t rng = 42, v[8];
	char file[128];
	int opened = 0, walk_cut = 0;

	if (!good)
		return;
	path_in_root(file, sizeof(file), "fuzzed");
	for (int iter = 0; iter < 300; iter++) {
		memcpy(bad, good, n);
		for (int j = 0; j < 1 + iter % 4; j++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t off = (rng >> 33) % (2 * 4096);
			size_t at = off < 4096 ? off : n - HDR_SIZE + (off - 4096) % 128;
			bad[at] ^= (uint8_t)(1u << ((rng >> 20) & 7));
		}
		write_file(file, bad, n);
		int fd = bpf_obj_get(file);
		if (fd < 0)
			continue;
		opened++;
		for (uint32_t k = 0; k < 24; k++) {
			bpf_map_lookup_elem(fd, &k, v);
			bpf_map_update_elem(fd, &k, v, BPF_ANY);
			if (k & 1)
				bpf_map_delete_elem(fd, &k);
		}
		uint32_t key, steps = 0;
		for (int rc = bpf_map_get_next_key(fd, NULL, &key); !rc && steps < 1000;
		     rc = bpf_map_get_next_key(fd, &key, &key))
			steps++;
		walk_cut += steps >= 1000;
		close(fd);
	}
	unlink(file);
	/* Flips in the data region mostly leave the file openable: both paths ran. */
	UT_CHECK(opened > 0, "no damaged file was opened; the data path was not exercised");
	UT_CHECK(walk_cut == 0, "%d of %d opened damaged maps have a get_next_key walk that "
		 "never ends", walk_cut, opened);
	free(good);
	free(bad);
}

/* ---- hash chains: damage at rest is refused, damage while open never loops a walk ---- */

/* struct hash_ctl and the element layout of maps/hash.c, by offset (a white-box view). */
enum { C_NBUCKETS = 8, C_NELEMS = 12, C_ELEM_SIZE = 16, C_BUCKETS_OFF = 48, C_ELEMS_OFF = 56 };
#define NULLS 0x80000000u

struct chains {
	uint8_t *data;
	uint32_t nbuckets, nelems, elem_size;
	uint64_t boff, eoff;
};

static struct chains chains_of(uint8_t *data)
{
	struct chains c = { .data = data };

	memcpy(&c.nbuckets, data + C_NBUCKETS, 4);
	memcpy(&c.nelems, data + C_NELEMS, 4);
	memcpy(&c.elem_size, data + C_ELEM_SIZE, 4);
	memcpy(&c.boff, data + C_BUCKETS_OFF, 8);
	memcpy(&c.eoff, data + C_ELEMS_OFF, 8);
	return c;
}

static uint32_t *head_of(const struct chains *c, uint32_t b)
{
	return (uint32_t *)(c->data + c->boff + (size_t)b * 8);
}

static uint32_t *next_of(const struct chains *c, uint32_t e)
{
	return (uint32_t *)(c->data + c->eoff + (size_t)e * c->elem_size);
}

/* The first bucket from `from` whose chain has at least `len` elements, or UINT32_MAX. */
static uint32_t bucket_with(const struct chains *c, uint32_t from, unsigned len)
{
	for (uint32_t b = from; b < c->nbuckets; b++) {
		unsigned n = 0;
		for (uint32_t e = *head_of(c, b); !(e & NULLS) && e < c->nelems && n < 64; n++)
			e = *next_of(c, e);
		if (n >= len)
			return b;
	}
	return UINT32_MAX;
}

enum { SELF_LOOP, TWO_CYCLE, INTO_OTHER_CHAIN, WRONG_NULLS, WRONG_HASH, DUP_KEY, BAD_INDEX,
       NDAMAGE };
static const char *const damage_names[] = { "a chain looping on itself", "a two-element cycle",
	"a chain running into another", "a chain ending in another bucket's nulls",
	"an element whose hash is not its key's", "a key twice in one chain",
	"a chain head out of range" };

/* Damages the chains as named; 0, or -1 when the map has no chain to damage that way. */
static int damage_chains(const struct chains *c, int how, uint32_t key_size)
{
	uint32_t b = bucket_with(c, 0, how == TWO_CYCLE || how == DUP_KEY ? 2 : 1);
	if (b == UINT32_MAX)
		return -1;
	uint32_t a = *head_of(c, b), second = *next_of(c, a);
	uint8_t *ea = (uint8_t *)next_of(c, a), *e2 = (uint8_t *)next_of(c, second & ~NULLS);
	uint32_t other = bucket_with(c, b + 1, 1), last = a;

	switch (how) {
	case SELF_LOOP: *next_of(c, a) = a; break;
	case TWO_CYCLE: *next_of(c, second) = a; break;
	case INTO_OTHER_CHAIN:
		if (other == UINT32_MAX)
			return -1;
		*next_of(c, a) = *head_of(c, other);
		break;
	case WRONG_NULLS:
		while (!(*next_of(c, last) & NULLS))
			last = *next_of(c, last);
		*next_of(c, last) = NULLS | ((b + 1) % c->nbuckets);
		break;
	case WRONG_HASH: ea[7] ^= 0x40; break;	/* a high bit of the stored hash */
	case DUP_KEY: memcpy(e2 + 4, ea + 4, 4 + key_size); break;	/* hash and key */
	case BAD_INDEX: *head_of(c, b) = c->nelems + 3; break;
	}
	return 0;
}

/* A pinned hash file damaged in its chains is refused on open: EINVAL, "corrupt". */
UT_TEST(obj_get_refuses_damaged_chains)
{
	size_t n = 0;
	/* 64 keys in 128 buckets: some bucket holds two whatever the random hash seed
	 * (all distinct has probability about e^-19). */
	uint8_t *good = map_file(BPF_MAP_TYPE_HASH, 8, 128, &n), *bad = malloc(n);

	UT_CHECK(good && n > HDR_SIZE, "no map file to damage");
	for (int how = 0; good && how < NDAMAGE; how++) {
		memcpy(bad, good, n);
		struct chains c = chains_of(bad);
		if (damage_chains(&c, how, 4)) {
			UT_CHECK(how == DUP_KEY, "no chain for '%s'", damage_names[how]);
			continue;
		}
		if (how == DUP_KEY)
			continue;	/* the same key twice is sound for lookups: walks see to it */
		expect_refused(damage_names[how], bad, n, DAMAGED, "corrupt");
	}
	free(good);
	free(bad);
}

/*
 * The same damage done to a map that is already open (by a process that can write its file):
 * every command still returns, and a get_next_key walk ends, naming no key twice.
 */
UT_TEST(damaged_chains_while_open_walks_end)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	const uint32_t max = 32;
	unsigned damaged = 0;

	for (int how = 0; how < NDAMAGE; how++) {
		int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "live", 4, 8, max, &o);
		struct stat st;
		UT_CHECK(fd >= 0 && fstat(fd, &st) == 0, "create: %d", fd);
		uint64_t v = 0;
		for (uint32_t k = 0; k < max; k++)
			bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST);
		size_t len = (size_t)st.st_size - HDR_SIZE;
		uint8_t *data = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		UT_CHECK(data != MAP_FAILED, "mmap: %s", strerror(errno));
		if (data == MAP_FAILED) {
			close(fd);
			continue;
		}
		struct chains c = chains_of(data);
		if (damage_chains(&c, how, 4) == 0) {
			damaged++;
			uint8_t seen[4 * 32] = { 0 };
			uint32_t key, steps = 0;
			int rc;
			for (rc = bpf_map_get_next_key(fd, NULL, &key); !rc && steps <= max;
			     rc = bpf_map_get_next_key(fd, &key, &key), steps++) {
				UT_CHECK(key < sizeof(seen) && !seen[key]++, "%s: key %u twice or unknown",
					 damage_names[how], key);
				if (key >= sizeof(seen) || seen[key] > 1)
					break;
			}
			UT_CHECK(rc == -ENOENT && steps <= max, "%s: walk of %u steps ended with %d",
				 damage_names[how], steps, rc);
			for (uint32_t k = 0; k < 2 * max; k++) {
				bpf_map_lookup_elem(fd, &k, &v);
				bpf_map_update_elem(fd, &k, &v, BPF_ANY);
				if (k & 1)
					bpf_map_delete_elem(fd, &k);
			}
		}
		munmap(data, len);
		close(fd);
	}
	UT_CHECK(damaged >= NDAMAGE - 1, "only %u of %d kinds of damage could be done", damaged,
		 NDAMAGE);
}

/* FREEZE is the one header field that changes: a frozen pinned map opens, and is frozen. */
UT_TEST(frozen_map_reopens_frozen)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	uint32_t k = 1;
	uint64_t v = 7, out = 0;
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "frozen", 4, 8, 4, &o);

	UT_CHECK(fd >= 0, "create: %d", fd);
	UT_CHECK_EQ(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	UT_CHECK_EQ(bpf_map_freeze(fd), 0);
	UT_CHECK_EQ(bpf_obj_pin(fd, "/sys/fs/bpf/frozen"), 0);
	close(fd);
	fd = bpf_obj_get("/sys/fs/bpf/frozen");
	UT_CHECK(fd >= 0, "obj_get: %d (%s)", fd, uebpf_last_error());
	UT_CHECK_EQ(bpf_map_lookup_elem(fd, &k, &out), 0);
	UT_CHECK_EQ(out, 7);
	UT_CHECK_EQ(bpf_map_update_elem(fd, &k, &v, BPF_ANY), -EPERM);
	close(fd);
}

/*
 * A map's memory is taken when it is created: on a file system without room the creation
 * fails with ENOMEM (as the kernel's, when it cannot allocate), instead of a sparse file
 * that would kill the first process touching a page with SIGBUS. A child does it, in a
 * mount namespace of its own with a 64 KiB tmpfs as the pin root.
 */
UT_TEST(create_on_full_fs_is_enomem)
{
	char dir[128];
	int pfd[2];

	path_in_root(dir, sizeof(dir), "tiny");
	UT_CHECK(mkdir(dir, 0700) == 0 && pipe(pfd) == 0, "mkdir/pipe");
	pid_t pid = fork();
	if (pid == 0) {
		char msg[160] = "";
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tmpfs", dir, "tmpfs", 0, "size=64k")) {
			snprintf(msg, sizeof(msg), "skip: no tmpfs of our own (%s)", strerror(errno));
		} else {
			LIBBPF_OPTS(bpf_map_create_opts, o);
			setenv("UEBPF_PIN_ROOT", dir, 1);
			int small = bpf_map_create(BPF_MAP_TYPE_ARRAY, "small", 4, 8, 16, &o);
			int big = bpf_map_create(BPF_MAP_TYPE_ARRAY, "big", 4, 4096, 64, &o);
			int hash = bpf_map_create(BPF_MAP_TYPE_HASH, "bigh", 4, 1024, 1024, &o);
			if (small < 0 || big != -ENOMEM || hash != -ENOMEM)
				snprintf(msg, sizeof(msg), "small %d, big %d, big hash %d (want an fd, "
					 "-ENOMEM, -ENOMEM)", small, big, hash);
		}
		_exit(write(pfd[1], msg, strlen(msg)) < 0);
	}
	char msg[160] = "";
	close(pfd[1]);
	ssize_t got = read(pfd[0], msg, sizeof(msg) - 1);
	int status = 0;
	UT_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status), "child 0x%x",
		 status);
	close(pfd[0]);
	rmdir(dir);
	if (got > 0 && !strncmp(msg, "skip:", 5))
		ut_skip("%s", msg + 6);
	else
		UT_CHECK(got <= 0, "%s", msg);
}

/* ---- BPF_F_MMAPABLE arrays ---- */

UT_TEST(mmapable_array_shows_values)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	const uint32_t max = 100, vs = 12, stride = 16;	/* values rounded up to 8 bytes */
	const size_t len = 4096;			/* 100 * 16 = 1600 bytes: one page */
	uint8_t v[12], out[12];

	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "mm", 4, vs, max, &o);
	UT_CHECK(fd >= 0, "create: %d", fd);
	for (uint32_t k = 0; k < max; k += 7) {
		memset(v, (int)k, sizeof(v));
		UT_CHECK_EQ(bpf_map_update_elem(fd, &k, v, BPF_ANY), 0);
	}
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	UT_CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	if (p == MAP_FAILED)
		return;
	/* Value k at offset k * stride (the kernel's layout for mmapable arrays). */
	for (uint32_t k = 0; k < max; k++)
		for (uint32_t i = 0; i < vs; i++)
			UT_CHECK_EQ(p[k * stride + i], k % 7 ? 0 : k);
	/* Stores through the mapping are what lookups return. */
	for (uint32_t k = 0; k < max; k++)
		memset(p + k * stride, (int)(200 - k), vs);
	for (uint32_t k = 0; k < max; k += 9) {
		UT_CHECK_EQ(bpf_map_lookup_elem(fd, &k, out), 0);
		UT_CHECK_EQ(out[0], 200 - k);
		UT_CHECK_EQ(out[vs - 1], 200 - k);
	}
	/* Another process mapping the pinned map sees the same memory. */
	UT_CHECK_EQ(bpf_obj_pin(fd, "/sys/fs/bpf/mm"), 0);
	pid_t pid = fork();
	if (pid == 0) {
		int cfd = bpf_obj_get("/sys/fs/bpf/mm");
		uint8_t *q = cfd < 0 ? MAP_FAILED
				     : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		if (q == MAP_FAILED || q[5 * stride] != 195)
			_exit(1);
		memset(q + 42 * stride, 0x42, vs);
		_exit(0);
	}
	int status = 0;
	UT_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && status == 0, "child 0x%x", status);
	uint32_t k = 42;
	UT_CHECK_EQ(bpf_map_lookup_elem(fd, &k, out), 0);
	UT_CHECK_EQ(out[0], 0x42);
	UT_CHECK_EQ(p[42 * stride + vs - 1], 0x42);
	munmap(p, len);
	close(fd);
}
