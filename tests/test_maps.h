/*
 * The harness of the differential map tests (test_maps.c, test_maps_batch.c): every
 * operation runs on a uebpf map through <bpf/bpf.h> and on a kernel map of the same shape
 * through raw bpf(2) (libbpf is not linked: uebpf defines the same symbols), and the two
 * answers are compared: return code, errno, returned bytes (with guard bytes after each
 * output buffer, so a write past the value shows too). The kernel is the oracle; nothing
 * here is derived from uebpf.
 *
 * Not compared, because it legitimately differs:
 *  - fd numbers and map ids (process-local in uebpf, global in the kernel): only "is an fd".
 *  - hash iteration order: both walk buckets, but with different hash functions, so
 *    get_next_key(existing key) may name different keys; the SET of keys visited by a full
 *    walk from NULL is compared, and each walk must visit each key once and end in ENOENT.
 *  - hash batch cursors: the kernel's cursor is a bucket index and a call returns whole
 *    buckets (so counts per call differ, and a bucket larger than `count` gives ENOSPC);
 *    uebpf's cursor is the last key. Compared: the (key, value) pairs over all calls, their
 *    number, and the final ENOENT.
 *  - bpf_map_info's length when the caller's struct is longer than ours: uebpf implements
 *    the UAPI of its <linux/bpf.h> (Debian's 6.1), the running kernel's struct is longer.
 *  - mmap of a map fd: uebpf's fd is a plain file, so a few requests the kernel refuses are
 *    granted. They are listed, each with its reason, in test_maps_batch.c's table of known
 *    divergences, printed as "KNOWN", and fail the test if they stop diverging.
 * Every divergence is printed as "DIVERGENCE [map] op: uebpf X, kernel Y" and fails the case;
 * the first few per map are printed, all of them with UT_VERBOSE=1.
 */
#ifndef TEST_MAPS_H
#define TEST_MAPS_H
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "ut.h"

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))
#define ATTR_END(f)	(offsetof(union bpf_attr, f) + sizeof(((union bpf_attr *)0)->f))
#define PTR(p)		((__u64)(uintptr_t)(p))
#define GUARD		16		/* bytes after every output buffer that must stay FILL */
#define FILL		0xA5
#define MAX_PRINT	max_print()	/* divergences printed per map before summarising */
#define KERNEL_ENOTSUPP	524		/* the kernel's internal ENOTSUPP, seen by user space */

/* UT_VERBOSE=1 prints every divergence, not only the first few of each map. */
static inline unsigned max_print(void)
{
	return getenv("UT_VERBOSE") ? ~0u : 12;
}

/* ---- the kernel side: raw bpf(2) with libbpf 1.x conventions (-errno on failure) ---- */

static inline int ksys(int cmd, union bpf_attr *attr, size_t size)
{
	long rc = syscall(__NR_bpf, cmd, attr, size);
	return rc < 0 ? -errno : (int)rc;
}

static inline int k_raw(int cmd, union bpf_attr *attr, unsigned int size)
{
	return ksys(cmd, attr, size);
}

static inline int u_raw(int cmd, union bpf_attr *attr, unsigned int size)
{
	int rc = uebpf_bpf(cmd, attr, size);
	return rc < 0 ? -errno : rc;
}

static inline int k_map_create(enum bpf_map_type type, const char *name, __u32 ks, __u32 vs,
				__u32 max, const struct bpf_map_create_opts *o)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = type;
	if (name)	/* as libbpf: truncated to 15 characters and terminated */
		strncpy(a.map_name, name, sizeof(a.map_name) - 1);
	a.key_size = ks, a.value_size = vs, a.max_entries = max;
	if (o) {
		a.map_flags = o->map_flags, a.numa_node = o->numa_node, a.btf_fd = o->btf_fd;
		a.btf_key_type_id = o->btf_key_type_id, a.btf_value_type_id = o->btf_value_type_id;
		a.inner_map_fd = o->inner_map_fd, a.map_extra = o->map_extra;
	}
	return ksys(BPF_MAP_CREATE, &a, ATTR_END(map_extra));
}

static inline int k_elem(int cmd, int fd, const void *key, const void *value, __u64 flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (__u32)fd, a.key = PTR(key), a.value = PTR(value), a.flags = flags;
	return ksys(cmd, &a, ATTR_END(flags));
}

static inline int k_update(int fd, const void *k, const void *v, __u64 f)
{
	return k_elem(BPF_MAP_UPDATE_ELEM, fd, k, v, f);
}

static inline int k_lookup(int fd, const void *k, void *v)
{
	return k_elem(BPF_MAP_LOOKUP_ELEM, fd, k, v, 0);
}

static inline int k_lookup_flags(int fd, const void *k, void *v, __u64 f)
{
	return k_elem(BPF_MAP_LOOKUP_ELEM, fd, k, v, f);
}

static inline int k_lad(int fd, const void *k, void *v)
{
	return k_elem(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, k, v, 0);
}

static inline int k_lad_flags(int fd, const void *k, void *v, __u64 f)
{
	return k_elem(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, k, v, f);
}

static inline int k_delete(int fd, const void *key)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (__u32)fd, a.key = PTR(key);
	return ksys(BPF_MAP_DELETE_ELEM, &a, ATTR_END(key));
}

static inline int k_next_key(int fd, const void *key, void *next)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (__u32)fd, a.key = PTR(key), a.next_key = PTR(next);
	return ksys(BPF_MAP_GET_NEXT_KEY, &a, ATTR_END(next_key));
}

static inline int k_freeze(int fd)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (__u32)fd;
	return ksys(BPF_MAP_FREEZE, &a, ATTR_END(map_fd));
}

static inline int k_batch(int cmd, int fd, void *in, void *out, const void *keys,
			  const void *values, __u32 *count, const struct bpf_map_batch_opts *o)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (__u32)fd, a.batch.in_batch = PTR(in), a.batch.out_batch = PTR(out);
	a.batch.keys = PTR(keys), a.batch.values = PTR(values), a.batch.count = *count;
	a.batch.elem_flags = o ? o->elem_flags : 0, a.batch.flags = o ? o->flags : 0;
	int rc = ksys(cmd, &a, ATTR_END(batch));
	*count = a.batch.count;	/* as libbpf: progress is reported on failure too */
	return rc;
}

static inline int k_lookup_batch(int fd, void *in, void *out, void *keys, void *values,
				 __u32 *count, const struct bpf_map_batch_opts *o)
{
	return k_batch(BPF_MAP_LOOKUP_BATCH, fd, in, out, keys, values, count, o);
}

static inline int k_lad_batch(int fd, void *in, void *out, void *keys, void *values,
			      __u32 *count, const struct bpf_map_batch_opts *o)
{
	return k_batch(BPF_MAP_LOOKUP_AND_DELETE_BATCH, fd, in, out, keys, values, count, o);
}

static inline int k_update_batch(int fd, const void *keys, const void *values, __u32 *count,
				 const struct bpf_map_batch_opts *o)
{
	return k_batch(BPF_MAP_UPDATE_BATCH, fd, NULL, NULL, keys, values, count, o);
}

static inline int k_delete_batch(int fd, const void *keys, __u32 *count,
				 const struct bpf_map_batch_opts *o)
{
	return k_batch(BPF_MAP_DELETE_BATCH, fd, NULL, NULL, keys, NULL, count, o);
}

static inline int k_info(int fd, void *info, __u32 *len)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (__u32)fd, a.info.info_len = *len, a.info.info = PTR(info);
	int rc = ksys(BPF_OBJ_GET_INFO_BY_FD, &a, ATTR_END(info));
	if (!rc)
		*len = a.info.info_len;
	return rc;
}

/* ---- the two backends behind one table ---- */

struct be {
	const char *name;
	int (*raw)(int cmd, union bpf_attr *attr, unsigned int size);
	int (*create)(enum bpf_map_type, const char *, __u32, __u32, __u32,
		      const struct bpf_map_create_opts *);
	int (*update)(int, const void *, const void *, __u64);
	int (*lookup)(int, const void *, void *);
	int (*lookup_flags)(int, const void *, void *, __u64);
	int (*del)(int, const void *);
	int (*next_key)(int, const void *, void *);
	int (*lad)(int, const void *, void *);
	int (*lad_flags)(int, const void *, void *, __u64);
	int (*freeze)(int);
	int (*lookup_batch)(int, void *, void *, void *, void *, __u32 *,
			    const struct bpf_map_batch_opts *);
	int (*lad_batch)(int, void *, void *, void *, void *, __u32 *,
			 const struct bpf_map_batch_opts *);
	int (*update_batch)(int, const void *, const void *, __u32 *,
			    const struct bpf_map_batch_opts *);
	int (*delete_batch)(int, const void *, __u32 *, const struct bpf_map_batch_opts *);
	int (*info)(int, void *, __u32 *);
};

static const struct be UB = {
	"uebpf", u_raw, bpf_map_create, bpf_map_update_elem, bpf_map_lookup_elem,
	bpf_map_lookup_elem_flags, bpf_map_delete_elem, bpf_map_get_next_key,
	bpf_map_lookup_and_delete_elem, bpf_map_lookup_and_delete_elem_flags, bpf_map_freeze,
	bpf_map_lookup_batch, bpf_map_lookup_and_delete_batch, bpf_map_update_batch,
	bpf_map_delete_batch, bpf_obj_get_info_by_fd,
};

static const struct be KB = {
	"kernel", k_raw, k_map_create, k_update, k_lookup, k_lookup_flags, k_delete, k_next_key,
	k_lad, k_lad_flags, k_freeze, k_lookup_batch, k_lad_batch, k_update_batch,
	k_delete_batch, k_info,
};

static const struct be *const BE[2] = { &UB, &KB };

/* ---- environment ---- */

/* libbpf_num_possible_cpus(): the count of /sys/devices/system/cpu/possible ("0-3,8-11"). */
static inline int possible_cpus(void)
{
	static int n;
	char buf[256];
	int fd = n ? -1 : open("/sys/devices/system/cpu/possible", O_RDONLY);

	if (fd >= 0) {
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[len > 0 ? len : 0] = '\0';
		for (char *p = buf; *p >= '0' && *p <= '9';) {
			long a = strtol(p, &p, 10), b = a;
			if (*p == '-')
				b = strtol(p + 1, &p, 10);
			n += (int)(b - a + 1);
			if (*p == ',')
				p++;
		}
	}
	return n > 0 ? n : 1;
}

/* Whether bpf() reaches a kernel that creates maps; the reason why not otherwise. */
static const char *kernel_refusal(void)
{
	static int state;	/* 0 unknown, 1 ok, 2 refused */
	static char why[128];

	if (!state) {
		int fd = k_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL);
		state = fd >= 0 ? 1 : 2;
		if (fd >= 0)
			close(fd);
		else
			snprintf(why, sizeof(why), "bpf(BPF_MAP_CREATE) refused by the kernel: %s",
				 strerror(-fd));
	}
	return state == 1 ? NULL : why;
}

#define NEED_KERNEL() do { const char *why_ = kernel_refusal(); \
	if (why_) { ut_skip("%s", why_); return; } } while (0)

/* Maps uebpf creates live under the pin root; keep them out of /run/uebpf. */
static char pin_root[64];

static inline void rm_pin_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pin_root);
	if (pin_root[0] && system(cmd)) {}
}

__attribute__((constructor)) static void set_pin_root(void)
{
	snprintf(pin_root, sizeof(pin_root), "/dev/shm/uebpf-test-maps-XXXXXX");
	if (mkdtemp(pin_root)) {
		setenv("UEBPF_PIN_ROOT", pin_root, 1);
		atexit(rm_pin_root);
	} else {
		pin_root[0] = '\0';
	}
}

/* ---- reporting ---- */

static const char *errname(int e)
{
	static __thread char buf[4][24];
	static __thread int slot;
	char *b = buf[slot++ & 3];

	switch (e) {
	case KERNEL_ENOTSUPP: return "ENOTSUPP(524)";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case E2BIG: return "E2BIG";
	case ENOSPC: return "ENOSPC";
	case ENODEV: return "ENODEV";
	case EOPNOTSUPP: return "EOPNOTSUPP(95)";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case EISDIR: return "EISDIR";
	case ELOOP: return "ELOOP";
	case EBADFD: return "EBADFD";
	}
	snprintf(b, sizeof(buf[0]), "errno %d", e);
	return b;
}

/* "0", "fd", or "-1 errno=EEXIST" in syscall terms (bpf.h returns -errno). */
static const char *rcstr(int rc, int is_fd)
{
	static __thread char buf[4][48];
	static __thread int slot;
	char *b = buf[slot++ & 3];

	if (rc >= 0)
		snprintf(b, sizeof(buf[0]), is_fd ? "an fd" : "rc=%d", rc);
	else
		snprintf(b, sizeof(buf[0]), "rc=-1 errno=%s", errname(-rc));
	return b;
}

/* A map made twice: [0] in uebpf, [1] in the kernel. */
struct dm {
	char label[192];
	int fd[2];
	uint32_t type, ks, vs, max, flags;
	size_t uvs;		/* one value as user space passes it (per-CPU: one per CPU) */
	int hash, percpu;
	unsigned ndiv;
	uint64_t rng;
};

static unsigned total_div, total_cmp;

/* One line at exit: how much was compared, how much differed. */
__attribute__((destructor)) static void print_totals(void)
{
	if (total_cmp)
		fprintf(stderr, "  %u comparisons with the kernel, %u divergences\n", total_cmp,
			total_div);
}

static inline void report(struct dm *m, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline void report(struct dm *m, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	total_div++;
	if (m && ++m->ndiv > MAX_PRINT)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ut_fail(file, line, "DIVERGENCE [%s] %s", m ? m->label : "-", msg);
}

#define DIVERGE(m, ...) report(m, __FILE__, __LINE__, __VA_ARGS__)

/* libbpf contract: a failing call returns -errno AND leaves errno set to the same value. */
static inline int post(struct dm *m, int b, const char *op, int rc)
{
	int e = errno;

	if (b == 0 && rc < 0 && e != -rc)
		DIVERGE(m, "%s: uebpf returned %d but errno is %d", op, rc, e);
	return rc;
}

/* Compares two results; fd-returning calls compare only "is an fd". Returns 1 if equal. */
static inline int same_rc(struct dm *m, const char *file, int line, const char *op,
			  const int rc[2], int is_fd)
{
	int a = is_fd && rc[0] >= 0 ? 0 : rc[0], b = is_fd && rc[1] >= 0 ? 0 : rc[1];

	total_cmp++;
	if (a == b)
		return 1;
	report(m, file, line, "%s: uebpf %s, kernel %s", op, rcstr(rc[0], is_fd),
	       rcstr(rc[1], is_fd));
	return 0;
}

#define SAME_RC(m, op, rc) same_rc(m, __FILE__, __LINE__, op, rc, 0)
#define SAME_FD(m, op, rc) same_rc(m, __FILE__, __LINE__, op, rc, 1)	/* only "is an fd" */

static inline void hexdiff(char *out, size_t outsz, const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;

	while (i < n && a[i] == b[i])
		i++;
	snprintf(out, outsz, "first difference at byte %zu of %zu: uebpf %02x, kernel %02x", i, n,
		 i < n ? a[i] : 0, i < n ? b[i] : 0);
}

static inline void same_bytes(struct dm *m, const char *file, int line, const char *op,
			      const void *a, const void *b, size_t n)
{
	char d[128];

	total_cmp++;
	if (!memcmp(a, b, n))
		return;
	hexdiff(d, sizeof(d), a, b, n);
	report(m, file, line, "%s: returned bytes differ, %s", op, d);
}

#define SAME_BYTES(m, op, a, b, n) same_bytes(m, __FILE__, __LINE__, op, a, b, n)

/* ---- keys, values, randomness ---- */

static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Key number i as bytes: arrays take the index; hashes spread i over the key size. */
static inline void mkkey(const struct dm *m, uint32_t i, uint8_t *key)
{
	uint32_t n = m->ks < 4 ? m->ks : 4;

	for (uint32_t j = 0; j < m->ks; j++)
		key[j] = (uint8_t)(i * 7 + j * 13 + 1);
	for (uint32_t j = 0; j < n; j++)
		key[j] = (uint8_t)(i >> (8 * j));
}

/* A random value as user space passes it, padding of per-CPU slots included. */
static inline void mkval(struct dm *m, uint8_t *v)
{
	for (size_t i = 0; i < m->uvs; i++)
		v[i] = (uint8_t)rnd(&m->rng);
}

static const char *flagname(uint64_t f)
{
	static __thread char buf[24];

	switch (f) {
	case BPF_ANY: return "BPF_ANY";
	case BPF_NOEXIST: return "BPF_NOEXIST";
	case BPF_EXIST: return "BPF_EXIST";
	case BPF_F_LOCK: return "BPF_F_LOCK";
	}
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)f);
	return buf;
}

/* ---- one operation on both sides ---- */

static inline void d_update(struct dm *m, uint32_t ki, uint64_t flags)
{
	uint8_t key[512], *v = malloc(m->uvs + 1);
	char op[96];
	int rc[2];

	mkkey(m, ki, key);
	mkval(m, v);
	snprintf(op, sizeof(op), "update(key #%u, %s)", ki, flagname(flags));
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, op, BE[b]->update(m->fd[b], key, v, flags));
	SAME_RC(m, op, rc);
	free(v);
}

static inline void d_lookup_key(struct dm *m, const uint8_t *key, const char *op)
{
	size_t n = m->uvs + GUARD;
	uint8_t *out[2] = { malloc(n), malloc(n) };
	int rc[2];

	for (int b = 0; b < 2; b++) {
		memset(out[b], FILL, n);
		rc[b] = post(m, b, op, BE[b]->lookup(m->fd[b], key, out[b]));
	}
	if (SAME_RC(m, op, rc))
		SAME_BYTES(m, op, out[0], out[1], n);
	free(out[0]);
	free(out[1]);
}

static inline void d_lookup(struct dm *m, uint32_t ki)
{
	uint8_t key[512];
	char op[64];

	mkkey(m, ki, key);
	snprintf(op, sizeof(op), "lookup(key #%u)", ki);
	d_lookup_key(m, key, op);
}

static inline void d_delete(struct dm *m, uint32_t ki)
{
	uint8_t key[512];
	char op[64];
	int rc[2];

	mkkey(m, ki, key);
	snprintf(op, sizeof(op), "delete(key #%u)", ki);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, op, BE[b]->del(m->fd[b], key));
	SAME_RC(m, op, rc);
}

static inline void d_lad(struct dm *m, uint32_t ki, uint64_t flags)
{
	size_t n = m->uvs + GUARD;
	uint8_t key[512], *out[2] = { malloc(n), malloc(n) };
	char op[96];
	int rc[2];

	mkkey(m, ki, key);
	snprintf(op, sizeof(op), "lookup_and_delete(key #%u, flags %s)", ki, flagname(flags));
	for (int b = 0; b < 2; b++) {
		memset(out[b], FILL, n);
		rc[b] = post(m, b, op, BE[b]->lad_flags(m->fd[b], key, out[b], flags));
	}
	if (SAME_RC(m, op, rc))
		SAME_BYTES(m, op, out[0], out[1], n);
	free(out[0]);
	free(out[1]);
}

/* get_next_key from a key that is not in the map: both restart at their first key. */
static inline void d_next_missing(struct dm *m, uint32_t ki)
{
	uint8_t key[512], next[2][512 + GUARD];
	char op[64];
	int rc[2];

	mkkey(m, ki, key);
	snprintf(op, sizeof(op), "get_next_key(missing key #%u)", ki);
	for (int b = 0; b < 2; b++) {
		memset(next[b], FILL, sizeof(next[b]));
		rc[b] = post(m, b, op, BE[b]->next_key(m->fd[b], key, next[b]));
	}
	/* Arrays: the first index is 0 on both. Hashes: each side's own first key. */
	if (SAME_RC(m, op, rc) && !m->hash)
		SAME_BYTES(m, op, next[0], next[1], m->ks + GUARD);
}

/* Orders keys (with their values) by key bytes: hash iteration order is not compared. */
static inline void sort_pairs(uint8_t *keys, uint8_t *vals, uint32_t n, size_t ks, size_t vs)
{
	uint8_t tk[512], *tv = malloc(vs + 1);

	for (uint32_t i = 1; i < n; i++) {
		for (uint32_t j = i; j > 0 && memcmp(keys + (j - 1) * ks, keys + j * ks, ks) > 0; j--) {
			memcpy(tk, keys + j * ks, ks);
			memcpy(keys + j * ks, keys + (j - 1) * ks, ks);
			memcpy(keys + (j - 1) * ks, tk, ks);
			if (vals) {
				memcpy(tv, vals + j * vs, vs);
				memcpy(vals + j * vs, vals + (j - 1) * vs, vs);
				memcpy(vals + (j - 1) * vs, tv, vs);
			}
		}
	}
	free(tv);
}

/*
 * Walks one side with get_next_key from NULL. Returns the number of keys and stores the
 * rc that ended the walk (ENOENT when it ran to the end). A walk longer than max_entries
 * (a cycle, or a key visited twice) is reported.
 */
static inline uint32_t walk(struct dm *m, int b, uint8_t *keys, int *end_rc)
{
	uint32_t n = 0;
	const uint8_t *prev = NULL;
	char op[64];

	snprintf(op, sizeof(op), "%s: get_next_key walk", BE[b]->name);
	for (;;) {
		int rc = post(m, b, op, BE[b]->next_key(m->fd[b], prev, keys + n * m->ks));
		if (rc) {
			*end_rc = rc;
			break;
		}
		for (uint32_t i = 0; i < n; i++)
			if (!memcmp(keys + i * m->ks, keys + n * m->ks, m->ks)) {
				DIVERGE(m, "%s visits a key twice (after %u keys)", op, n);
				*end_rc = -ELOOP;
				return n;
			}
		prev = keys + n * m->ks;
		if (++n > m->max) {
			DIVERGE(m, "%s returns more than max_entries keys", op);
			*end_rc = -ELOOP;
			return n;
		}
	}
	return n;
}

/* Full comparison of contents: the key sets, then every value. */
static inline void d_compare_all(struct dm *m, const char *when)
{
	size_t kbytes = ((size_t)m->max + 2) * m->ks;
	uint8_t *keys[2] = { malloc(kbytes), malloc(kbytes) };
	uint32_t n[2];
	int end[2];
	char op[96];

	for (int b = 0; b < 2; b++)
		n[b] = walk(m, b, keys[b], &end[b]);
	snprintf(op, sizeof(op), "full walk %s", when);
	if (!SAME_RC(m, op, end))
		goto out;
	if (n[0] != n[1]) {
		DIVERGE(m, "%s: uebpf visits %u keys, kernel %u", op, n[0], n[1]);
		goto out;
	}
	if (m->hash)
		for (int b = 0; b < 2; b++)
			sort_pairs(keys[b], NULL, n[b], m->ks, 0);
	SAME_BYTES(m, op, keys[0], keys[1], (size_t)n[0] * m->ks);
	for (uint32_t i = 0; i < n[0]; i++) {
		snprintf(op, sizeof(op), "lookup of walked key %u %s", i, when);
		d_lookup_key(m, keys[0] + i * m->ks, op);
	}
out:
	free(keys[0]);
	free(keys[1]);
}

/* get_next_key from an existing key: both answer with a live key other than the input. */
static inline void d_next_existing(struct dm *m)
{
	size_t kbytes = ((size_t)m->max + 2) * m->ks;
	uint8_t *keys = malloc(kbytes), next[512];
	int end;

	for (int b = 0; b < 2; b++) {
		uint32_t n = walk(m, b, keys, &end);
		for (uint32_t i = 0; i < n; i++) {
			int rc = BE[b]->next_key(m->fd[b], keys + i * m->ks, next);
			/* In walk order: the next key, and ENOENT after the last one. */
			int want = i + 1 < n ? 0 : -ENOENT;
			if (rc != want || (!rc && memcmp(next, keys + (i + 1) * m->ks, m->ks)))
				DIVERGE(m, "%s: get_next_key(key %u of %u) gives %s, its own walk %s",
					BE[b]->name, i, n, rcstr(rc, 0), rcstr(want, 0));
		}
	}
	free(keys);
}

/* ---- map pairs ---- */

static inline int map_is_hash(uint32_t t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_PERCPU_HASH;
}

static inline int map_is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case BPF_MAP_TYPE_HASH: return "HASH";
	case BPF_MAP_TYPE_ARRAY: return "ARRAY";
	case BPF_MAP_TYPE_PERCPU_HASH: return "PERCPU_HASH";
	case BPF_MAP_TYPE_PERCPU_ARRAY: return "PERCPU_ARRAY";
	}
	return "?";
}

static inline int dm_open(struct dm *m, uint32_t type, uint32_t ks, uint32_t vs,
			  uint32_t max, uint32_t flags, uint64_t seed)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	int rc[2];

	memset(m, 0, sizeof(*m));
	m->type = type, m->ks = ks, m->vs = vs, m->max = max, m->flags = flags;
	m->hash = map_is_hash(type), m->percpu = map_is_percpu(type);
	m->uvs = m->percpu ? (size_t)((vs + 7) & ~7u) * possible_cpus() : vs;
	m->rng = seed | 1;
	snprintf(m->label, sizeof(m->label), "%s ks=%u vs=%u max=%u flags=0x%x", type_name(type),
		 ks, vs, max, flags);
	for (int b = 0; b < 2; b++)
		rc[b] = m->fd[b] = BE[b]->create(type, "diff", ks, vs, max, &o);
	if (!SAME_FD(m, "create", rc) || rc[0] < 0 || rc[1] < 0) {
		for (int b = 0; b < 2; b++)
			if (rc[b] >= 0)
				close(rc[b]);
		return -1;
	}
	return 0;
}

static inline void dm_close(struct dm *m)
{
	if (m->ndiv > MAX_PRINT)
		ut_fail(__FILE__, __LINE__, "[%s] %u more divergences not shown", m->label,
			m->ndiv - MAX_PRINT);
	close(m->fd[0]);
	close(m->fd[1]);
}

#define H BPF_MAP_TYPE_HASH
#define PH BPF_MAP_TYPE_PERCPU_HASH
#define A BPF_MAP_TYPE_ARRAY
#define PA BPF_MAP_TYPE_PERCPU_ARRAY

/* Fresh random values for keys [first, first + n); both sides get the same bytes. */
static inline void mkbatch(struct dm *m, uint32_t first, uint32_t n, uint8_t *keys, uint8_t *vals)
{
	for (uint32_t i = 0; i < n; i++) {
		mkkey(m, first + i, keys + i * m->ks);
		mkval(m, vals + i * m->uvs);
	}
}

static inline void d_update_batch(struct dm *m, uint32_t first, uint32_t n,
				  uint64_t elem_flags, uint64_t flags)
{
	uint8_t *keys = malloc((size_t)(n + 1) * m->ks), *vals = malloc((n + 1) * m->uvs);
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = elem_flags, .flags = flags);
	__u32 cnt[2];
	char op[96];
	int rc[2];

	mkbatch(m, first, n, keys, vals);
	snprintf(op, sizeof(op), "update_batch(keys #%u..#%u, elem_flags %s, flags 0x%llx)", first,
		 first + n - 1, flagname(elem_flags), (unsigned long long)flags);
	for (int b = 0; b < 2; b++) {
		cnt[b] = n;
		rc[b] = post(m, b, op, BE[b]->update_batch(m->fd[b], keys, vals, &cnt[b], &o));
	}
	if (SAME_RC(m, op, rc) && cnt[0] != cnt[1])
		DIVERGE(m, "%s: count uebpf %u, kernel %u", op, cnt[0], cnt[1]);
	free(keys);
	free(vals);
}

static inline void d_delete_batch(struct dm *m, const uint32_t *kis, uint32_t n)
{
	uint8_t *keys = malloc((size_t)(n + 1) * m->ks);
	__u32 cnt[2];
	char op[96];
	int rc[2];

	for (uint32_t i = 0; i < n; i++)
		mkkey(m, kis[i], keys + i * m->ks);
	snprintf(op, sizeof(op), "delete_batch(%u keys from #%u)", n, n ? kis[0] : 0);
	for (int b = 0; b < 2; b++) {
		cnt[b] = n;
		rc[b] = post(m, b, op, BE[b]->delete_batch(m->fd[b], keys, &cnt[b], NULL));
	}
	if (SAME_RC(m, op, rc) && cnt[0] != cnt[1])
		DIVERGE(m, "%s: count uebpf %u, kernel %u", op, cnt[0], cnt[1]);
	free(keys);
}

/* ---- the configurations ---- */

struct cfg {
	uint32_t type, ks, vs, max, flags;
};

static const struct cfg cfgs[] = {
	{ H, 4, 8, 16, 0 },
	{ H, 12, 20, 32, BPF_F_NO_PREALLOC },
	{ H, 1, 5, 8, 0 },
	{ H, 6, 64, 24, BPF_F_ZERO_SEED },
	{ H, 64, 3, 16, BPF_F_NO_PREALLOC },
	{ H, 4, 8, 16, BPF_F_RDONLY },
	{ H, 4, 8, 16, BPF_F_WRONLY },
	{ H, 4, 8, 16, BPF_F_RDONLY_PROG },
	{ H, 4, 8, 16, BPF_F_WRONLY_PROG },
	{ PH, 4, 12, 16, 0 },
	{ PH, 8, 8, 16, BPF_F_NO_PREALLOC },
	{ PH, 3, 5, 8, BPF_F_RDONLY_PROG },
	{ A, 4, 8, 16, 0 },
	{ A, 4, 13, 10, BPF_F_MMAPABLE },
	{ A, 4, 1, 7, 0 },
	{ A, 4, 8, 8, BPF_F_RDONLY },
	{ A, 4, 8, 8, BPF_F_WRONLY },
	{ A, 4, 8, 8, BPF_F_RDONLY_PROG },
	{ A, 4, 8, 8, BPF_F_WRONLY_PROG },
	{ A, 4, 8, 8, BPF_F_INNER_MAP },
	{ PA, 4, 5, 8, 0 },
	{ PA, 4, 64, 4, 0 },
	{ PA, 4, 16, 6, BPF_F_WRONLY },
};

static inline void run_cfgs(void (*body)(struct dm *))
{
	for (size_t i = 0; i < ARRAY_LEN(cfgs); i++) {
		struct dm m;
		const struct cfg *c = &cfgs[i];
		if (dm_open(&m, c->type, c->ks, c->vs, c->max, c->flags, 0x9E3779B97F4A7C15ull * (i + 1)))
			continue;
		body(&m);
		dm_close(&m);
	}
}

#endif
