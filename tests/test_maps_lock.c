/*
 * BPF_F_LOCK and struct bpf_spin_lock in map values, against the live kernel.
 *
 * A raw BTF blob is built by hand here (types below) and loaded with BPF_BTF_LOAD into
 * both the kernel (raw bpf(2)) and uebpf (uebpf_bpf); maps are then created with the same
 * btf ids on both sides and every answer is compared: map creation (where a lock is
 * allowed, sizes, key types), then a transcript of element operations with and without
 * BPF_F_LOCK (return codes and the bytes returned, where the lock word must read 0 and is
 * never overwritten). The kernel is the oracle: no expected value here comes from uebpf.
 *
 * The torn-value test (uebpf only: it needs programs running on several threads) is in
 * test_maps_lock_stress.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/btf.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#define PIN_ROOT_TAG "lock"
#include "pin_root.h"
#include "ut.h"
#include "maps_lock_btf.h"

#define PTR(p) ((__u64)(uintptr_t)(p))

static int kbpf(int cmd, union bpf_attr *a)
{
	long rc = syscall(SYS_bpf, cmd, a, sizeof(*a));
	return rc < 0 ? -errno : (int)rc;
}

static int ubpf(int cmd, union bpf_attr *a)
{
	int rc = uebpf_bpf(cmd, a, sizeof(*a));
	return rc < 0 ? -errno : rc;
}

typedef int (*bpf_fn)(int cmd, union bpf_attr *a);

struct side {
	const char *name;
	bpf_fn bpf;
	int btf_fd;
};

static struct side sides[2] = { { "uebpf", ubpf, -1 }, { "kernel", kbpf, -1 } };
static const char *kernel_refused;

static int btf_load(struct side *s, const void *blob, size_t size, char *log, size_t logsz)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.btf = PTR(blob);
	a.btf_size = (uint32_t)size;
	if (log) {
		a.btf_log_buf = PTR(log);
		a.btf_log_size = (uint32_t)logsz;
		a.btf_log_level = 1;
	}
	return s->bpf(BPF_BTF_LOAD, &a);
}

/* Loads the test BTF into both sides once; 0 if the kernel refuses bpf() (skip). */
static int setup(void)
{
	static int done;
	static char log[4096];
	size_t size;
	const void *blob = lock_btf(&size);

	if (done)
		return sides[1].btf_fd >= 0;
	done = 1;
	sides[0].btf_fd = btf_load(&sides[0], blob, size, log, sizeof(log));
	UT_CHECK(sides[0].btf_fd >= 0, "uebpf BPF_BTF_LOAD: %d: %s", sides[0].btf_fd, log);
	sides[1].btf_fd = btf_load(&sides[1], blob, size, NULL, 0);
	if (sides[1].btf_fd < 0)
		kernel_refused = strerror(-sides[1].btf_fd);
	return sides[1].btf_fd >= 0;
}

struct create_case {
	const char *what;
	uint32_t type, key_size, value_size, max_entries, flags, key_id, value_id;
	int btf;		/* 0: the BTF fd; 1: a map fd (not BTF); 2: a closed fd */
};

static int create(struct side *s, const struct create_case *c, int other_fd)
{
	union bpf_attr a;
	int closed = dup(0);

	close(closed);
	memset(&a, 0, sizeof(a));
	a.map_type = c->type;
	a.key_size = c->key_size;
	a.value_size = c->value_size;
	a.max_entries = c->max_entries;
	a.map_flags = c->flags;
	a.btf_fd = (uint32_t)(c->btf == 0 ? s->btf_fd : c->btf == 1 ? other_fd : closed);
	a.btf_key_type_id = c->key_id;
	a.btf_value_type_id = c->value_id;
	return s->bpf(BPF_MAP_CREATE, &a);
}

UT_TEST(btf_load_errors_vs_kernel)
{
	if (!setup()) {
		ut_skip("kernel refuses BPF_BTF_LOAD: %s", kernel_refused);
		return;
	}
	size_t size;
	const uint8_t *blob = lock_btf(&size);
	uint8_t bad[4096];
	memcpy(bad, blob, size);
	bad[0] ^= 0xff;	/* magic */
	size_t size2;
	const void *two = lock_btf2(&size2, 1);
	const struct { const char *what; const void *p; size_t n; } cases[] = {
		{ "a struct with two spin locks", two, size2 },
		{ "bad magic", bad, size },
		{ "truncated", blob, size - 3 },
		{ "header only", blob, sizeof(struct btf_header) },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int u = btf_load(&sides[0], cases[i].p, cases[i].n, NULL, 0);
		int k = btf_load(&sides[1], cases[i].p, cases[i].n, NULL, 0);
		UT_CHECK((u < 0) == (k < 0) && (u >= 0 || u == k), "%s: uebpf %d, kernel %d",
			 cases[i].what, u, k);
		if (u >= 0)
			close(u);
		if (k >= 0)
			close(k);
	}
}

UT_TEST(create_with_spin_lock_vs_kernel)
{
	if (!setup()) {
		ut_skip("kernel refuses BPF_BTF_LOAD: %s", kernel_refused);
		return;
	}
	const struct create_case cases[] = {
		{ "hash, lock inside", BPF_MAP_TYPE_HASH, 4, 16, 8, 0, T_INT, T_VAL, 0 },
		{ "array, lock inside", BPF_MAP_TYPE_ARRAY, 4, 16, 8, 0, T_INT, T_VAL, 0 },
		{ "hash, lock first", BPF_MAP_TYPE_HASH, 4, 8, 8, 0, T_INT, T_LOCK_FIRST, 0 },
		{ "hash, value is the lock itself", BPF_MAP_TYPE_HASH, 4, 4, 8, 0, T_INT, T_LOCK, 0 },
		{ "hash, no lock", BPF_MAP_TYPE_HASH, 4, 16, 8, 0, T_INT, T_NOLOCK, 0 },
		{ "percpu hash with lock", BPF_MAP_TYPE_PERCPU_HASH, 4, 16, 8, 0, T_INT, T_VAL, 0 },
		{ "percpu array with lock", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 16, 8, 0, T_INT, T_VAL, 0 },
		{ "lru hash with lock", BPF_MAP_TYPE_LRU_HASH, 4, 16, 8, 0, T_INT, T_VAL, 0 },
		{ "lock in a nested struct", BPF_MAP_TYPE_HASH, 4, 20, 8, 0, T_INT, T_NESTED, 0 },
		{ "value size differs", BPF_MAP_TYPE_HASH, 4, 24, 8, 0, T_INT, T_VAL, 0 },
		{ "key size differs", BPF_MAP_TYPE_HASH, 8, 16, 8, 0, T_INT, T_VAL, 0 },
		{ "key type long", BPF_MAP_TYPE_HASH, 8, 16, 8, 0, T_LONG, T_VAL, 0 },
		{ "hash without key type", BPF_MAP_TYPE_HASH, 4, 16, 8, 0, 0, T_VAL, 0 },
		{ "array without key type", BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0, 0, T_VAL, 0 },
		{ "array, key a struct of 4 bytes", BPF_MAP_TYPE_ARRAY, 4, 16, 8, 0, T_LOCK, T_VAL, 0 },
		{ "array, key typedef of int", BPF_MAP_TYPE_ARRAY, 4, 16, 8, 0, T_U32, T_VAL, 0 },
		{ "lock with BPF_F_RDONLY_PROG", BPF_MAP_TYPE_HASH, 4, 16, 8, BPF_F_RDONLY_PROG,
		  T_INT, T_VAL, 0 },
		{ "lock with BPF_F_WRONLY_PROG", BPF_MAP_TYPE_ARRAY, 4, 16, 8, BPF_F_WRONLY_PROG,
		  T_INT, T_VAL, 0 },
		{ "value type id out of range", BPF_MAP_TYPE_HASH, 4, 16, 8, 0, T_INT, 999, 0 },
		{ "value type is a function proto", BPF_MAP_TYPE_HASH, 4, 16, 8, 0, T_INT, T_FPROTO, 0 },
		{ "btf_fd is a map", BPF_MAP_TYPE_HASH, 4, 16, 8, 0, T_INT, T_VAL, 1 },
		{ "btf_fd is closed", BPF_MAP_TYPE_HASH, 4, 16, 8, 0, T_INT, T_VAL, 2 },
	};
	int other[2] = { bpf_map_create(BPF_MAP_TYPE_ARRAY, "o", 4, 4, 1, NULL), -1 };
	union bpf_attr oa = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4,
			      .max_entries = 1 };
	other[1] = kbpf(BPF_MAP_CREATE, &oa);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int u = create(&sides[0], &cases[i], other[0]);
		int k = create(&sides[1], &cases[i], other[1]);
		UT_CHECK((u < 0) == (k < 0) && (u >= 0 || u == k), "%s: uebpf %d, kernel %d",
			 cases[i].what, u, k);
		if (u >= 0)
			close(u);
		if (k >= 0)
			close(k);
	}
	close(other[0]);
	close(other[1]);
}

/* ---- element operations, transcript against the kernel ---- */

struct val {			/* T_VAL: int cnt; struct bpf_spin_lock lock; int a, b; */
	int32_t cnt;
	uint32_t lock;
	int32_t a, b;
};

static int elem(struct side *s, int cmd, int fd, const void *key, void *value, uint64_t flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = PTR(key);
	a.value = PTR(value);
	a.flags = flags;
	return s->bpf(cmd, &a);
}

static int batch(struct side *s, int cmd, int fd, void *keys, void *vals, uint32_t *count,
		 uint64_t elem_flags)
{
	union bpf_attr a;
	uint32_t out = 0;

	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (uint32_t)fd;
	a.batch.keys = PTR(keys);
	a.batch.values = PTR(vals);
	a.batch.count = *count;
	a.batch.elem_flags = elem_flags;
	if (cmd == BPF_MAP_LOOKUP_BATCH)
		a.batch.out_batch = PTR(&out);
	int rc = s->bpf(cmd, &a);
	*count = a.batch.count;
	return rc;
}

/* One step's answer on one side: rc and the value bytes returned. */
struct answer {
	int rc;
	struct val v;
};

static void step(int fds[2], const char *what, int cmd, uint32_t key, const struct val *in,
		 uint64_t flags)
{
	struct answer ans[2];

	for (int s = 0; s < 2; s++) {
		struct val v;
		memset(&v, 0xA5, sizeof(v));
		if (in)
			v = *in;
		ans[s].rc = elem(&sides[s], cmd, fds[s], &key, &v, flags);
		ans[s].v = v;
	}
	UT_CHECK(ans[0].rc == ans[1].rc, "%s: uebpf rc %d, kernel rc %d", what, ans[0].rc, ans[1].rc);
	if (!in && !ans[0].rc && !ans[1].rc)
		UT_CHECK(!memcmp(&ans[0].v, &ans[1].v, sizeof(struct val)),
			 "%s: uebpf {%d, lock %u, %d, %d}, kernel {%d, lock %u, %d, %d}", what,
			 ans[0].v.cnt, ans[0].v.lock, ans[0].v.a, ans[0].v.b, ans[1].v.cnt,
			 ans[1].v.lock, ans[1].v.a, ans[1].v.b);
}

static void transcript(uint32_t type, uint32_t value_id)
{
	const struct create_case c = { "transcript", type, 4, 16, 4, 0, T_INT, value_id, 0 };
	int fds[2] = { create(&sides[0], &c, -1), create(&sides[1], &c, -1) };
	const char *tn = type == BPF_MAP_TYPE_HASH ? "hash" : "array";

	UT_CHECK(fds[0] >= 0 && fds[1] >= 0, "%s create: uebpf %d, kernel %d", tn, fds[0], fds[1]);
	if (fds[0] < 0 || fds[1] < 0)
		goto out;
	/* The lock word of what user space writes is ignored; what it reads is 0. */
	struct val v1 = { 1, 0xdeadbeef, 2, 3 }, v2 = { 4, 0x1234, 5, 6 }, v3 = { 7, 1, 8, 9 };
	step(fds, "update k0", BPF_MAP_UPDATE_ELEM, 0, &v1, BPF_ANY);
	step(fds, "lookup k0", BPF_MAP_LOOKUP_ELEM, 0, NULL, 0);
	step(fds, "lookup k0 F_LOCK", BPF_MAP_LOOKUP_ELEM, 0, NULL, BPF_F_LOCK);
	step(fds, "update k0 F_LOCK", BPF_MAP_UPDATE_ELEM, 0, &v2, BPF_F_LOCK);
	step(fds, "lookup k0 after", BPF_MAP_LOOKUP_ELEM, 0, NULL, BPF_F_LOCK);
	step(fds, "update k0 F_LOCK|NOEXIST", BPF_MAP_UPDATE_ELEM, 0, &v3, BPF_F_LOCK | BPF_NOEXIST);
	step(fds, "update k1 F_LOCK|EXIST", BPF_MAP_UPDATE_ELEM, 1, &v3, BPF_F_LOCK | BPF_EXIST);
	step(fds, "update k1 F_LOCK", BPF_MAP_UPDATE_ELEM, 1, &v3, BPF_F_LOCK);
	step(fds, "lookup k1", BPF_MAP_LOOKUP_ELEM, 1, NULL, 0);
	step(fds, "update k2 F_LOCK|3", BPF_MAP_UPDATE_ELEM, 2, &v3, BPF_F_LOCK | 3);
	step(fds, "update k9 F_LOCK", BPF_MAP_UPDATE_ELEM, 9, &v3, BPF_F_LOCK);
	step(fds, "lookup flags 8", BPF_MAP_LOOKUP_ELEM, 0, NULL, 8);
	step(fds, "lookup k9 F_LOCK", BPF_MAP_LOOKUP_ELEM, 9, NULL, BPF_F_LOCK);
	step(fds, "lookup_and_delete k1 F_LOCK", BPF_MAP_LOOKUP_AND_DELETE_ELEM, 1, NULL, BPF_F_LOCK);
	step(fds, "lookup_and_delete k0 flags 8", BPF_MAP_LOOKUP_AND_DELETE_ELEM, 0, NULL, 8);
	step(fds, "lookup k1 after delete", BPF_MAP_LOOKUP_ELEM, 1, NULL, 0);
	/* Batches with elem_flags: every (key, value) pair, as a set (orders may differ). */
	for (uint64_t ef = 0; ef <= 8; ef += 4) {
		uint32_t keys[2][8] = { { 0 } }, cnt[2];
		struct val vals[2][8];
		int rc[2];
		memset(vals, 0xA5, sizeof(vals));
		for (int s = 0; s < 2; s++) {
			cnt[s] = 8;
			rc[s] = batch(&sides[s], BPF_MAP_LOOKUP_BATCH, fds[s], keys[s], vals[s], &cnt[s], ef);
		}
		UT_CHECK(rc[0] == rc[1] && cnt[0] == cnt[1], "%s lookup batch elem_flags %llu: uebpf "
			 "%d (%u), kernel %d (%u)", tn, (unsigned long long)ef, rc[0], cnt[0], rc[1], cnt[1]);
		for (uint32_t i = 0; rc[0] == rc[1] && cnt[0] == cnt[1] && i < cnt[0]; i++) {
			uint32_t j = 0;
			while (j < cnt[1] && keys[1][j] != keys[0][i])
				j++;
			UT_CHECK(j < cnt[1] && !memcmp(&vals[0][i], &vals[1][j], sizeof(struct val)),
				 "%s lookup batch: key %u differs", tn, keys[0][i]);
		}
		uint32_t ukey = 3, n = 1;
		struct val uv = { 11, 0x77, 12, 13 };
		for (int s = 0; s < 2; s++) {
			n = 1;
			rc[s] = batch(&sides[s], BPF_MAP_UPDATE_BATCH, fds[s], &ukey, &uv, &n, ef);
		}
		UT_CHECK(rc[0] == rc[1], "%s update batch elem_flags %llu: uebpf %d, kernel %d", tn,
			 (unsigned long long)ef, rc[0], rc[1]);
		step(fds, "lookup k3 after batch", BPF_MAP_LOOKUP_ELEM, 3, NULL, 0);
	}
out:
	for (int s = 0; s < 2; s++)
		if (fds[s] >= 0)
			close(fds[s]);
}

UT_TEST(lock_transcript_hash_vs_kernel)
{
	if (!setup()) {
		ut_skip("kernel refuses BPF_BTF_LOAD: %s", kernel_refused);
		return;
	}
	transcript(BPF_MAP_TYPE_HASH, T_VAL);
}

UT_TEST(lock_transcript_array_vs_kernel)
{
	if (!setup()) {
		ut_skip("kernel refuses BPF_BTF_LOAD: %s", kernel_refused);
		return;
	}
	transcript(BPF_MAP_TYPE_ARRAY, T_VAL);
}

/* A map whose value has no lock: every BPF_F_LOCK request is EINVAL, as the kernel's. */
UT_TEST(no_lock_transcript_vs_kernel)
{
	if (!setup()) {
		ut_skip("kernel refuses BPF_BTF_LOAD: %s", kernel_refused);
		return;
	}
	transcript(BPF_MAP_TYPE_HASH, T_NOLOCK);
	transcript(BPF_MAP_TYPE_ARRAY, T_NOLOCK);
}

/* The lock offset lives in the map file: a second open of the same map (a pin) knows it. */
UT_TEST(lock_offset_survives_pin)
{
	if (sides[0].btf_fd < 0)
		setup();
	const struct create_case c = { "pin", BPF_MAP_TYPE_HASH, 4, 16, 4, 0, T_INT, T_VAL, 0 };
	int fd = create(&sides[0], &c, -1);
	char path[128];

	UT_CHECK(fd >= 0, "create: %d", fd);
	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "test_maps_lock_%d", (int)getpid());
	UT_CHECK_EQ(bpf_obj_pin(fd, path), 0);
	int fd2 = bpf_obj_get(path);
	UT_CHECK(fd2 >= 0, "obj_get: %d", fd2);
	struct val v = { 1, 0xffffffff, 2, 3 }, out;
	uint32_t key = 5;
	UT_CHECK_EQ(bpf_map_update_elem(fd2, &key, &v, BPF_F_LOCK), 0);
	memset(&out, 0xA5, sizeof(out));
	UT_CHECK_EQ(bpf_map_lookup_elem_flags(fd, &key, &out, BPF_F_LOCK), 0);
	UT_CHECK(out.cnt == 1 && out.lock == 0 && out.a == 2 && out.b == 3,
		 "got {%d, %u, %d, %d}", out.cnt, out.lock, out.a, out.b);
	char full[512];
	snprintf(full, sizeof(full), "%s/%s", root, path);
	unlink(full);
	close(fd2);
	close(fd);
}

/*
 * The map commands' fd cache (api/fdcache.c) answers without asking the kernel whether the
 * fd is still open: close(), dup2() and dup3() must make it ask again. Expected answers
 * are the kernel's for the same fd states: EBADF for a closed fd, EINVAL for an fd that is
 * no map, the new map's value for an fd number now holding another map.
 */
struct cache_thread {
	int fd;
	uint32_t want;
	int rc;
	uint32_t got;
};

static void *lookup_in_thread(void *arg)
{
	struct cache_thread *t = arg;
	uint32_t key = 0;

	t->rc = bpf_map_lookup_elem(t->fd, &key, &t->got);
	return NULL;
}

static int array_with(uint32_t v)
{
	uint32_t key = 0;
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "c", 4, 4, 1, NULL);

	if (fd >= 0)
		bpf_map_update_elem(fd, &key, &v, BPF_ANY);
	return fd;
}

UT_TEST(fd_cache_follows_close_and_dup)
{
	uint32_t key = 0, v = 0;
	int a = array_with(1), b = array_with(2);
	struct cache_thread t = { 0 };
	pthread_t th;

	UT_CHECK(a >= 0 && b >= 0, "create: %d %d", a, b);
	UT_CHECK(!bpf_map_lookup_elem(a, &key, &v) && v == 1, "lookup a: %u", v);
	/* Another thread caches a too. */
	t.fd = a;
	pthread_create(&th, NULL, lookup_in_thread, &t);
	pthread_join(th, NULL);
	UT_CHECK(!t.rc && t.got == 1, "thread lookup a: %d %u", t.rc, t.got);

	close(a);
	UT_CHECK_EQ(bpf_map_lookup_elem(a, &key, &v), -EBADF);
	/* a's number for another file, by open() (not through an interposed call): lower
	 * numbers freed meanwhile (map a's own eventfd or file, let go with it) are taken
	 * by placeholders first. */
	int other, extra[16], nextra = 0;
	while ((other = open("/dev/null", O_RDONLY)) >= 0 && other != a && nextra < 16)
		extra[nextra++] = other;
	UT_CHECK_EQ(other, a);
	UT_CHECK_EQ(bpf_map_lookup_elem(a, &key, &v), -EINVAL);
	pthread_create(&th, NULL, lookup_in_thread, &t);
	pthread_join(th, NULL);
	UT_CHECK_EQ(t.rc, -EINVAL);

	/*
	 * a's number now holds map b's file. The kernel answers with map b's value; uebpf's
	 * fd table knows only the fds uebpf made, so a dup of a map fd is no map to it
	 * (EINVAL, a known difference). What must never come back is map a's value.
	 */
	UT_CHECK_EQ(dup2(b, a), a);
	v = 0;
	int rc = bpf_map_lookup_elem(a, &key, &v);
	UT_CHECK((!rc && v == 2) || rc == -EINVAL, "lookup after dup2: %d %u", rc, v);
	pthread_create(&th, NULL, lookup_in_thread, &t);
	pthread_join(th, NULL);
	UT_CHECK((!t.rc && t.got == 2) || t.rc == -EINVAL, "thread lookup after dup2: %d %u",
		 t.rc, t.got);

	int c = array_with(3);
	UT_CHECK_EQ(dup3(c, a, O_CLOEXEC), a);
	v = 0;
	rc = bpf_map_lookup_elem(a, &key, &v);
	UT_CHECK((!rc && v == 3) || rc == -EINVAL, "lookup after dup3: %d %u", rc, v);
	close(a);
	close(b);
	close(c);
	while (nextra)
		close(extra[--nextra]);
}
