/*
 * fuzz_map_ops: map commands from user space with random shapes, keys, values and flags.
 *
 * Input: a map shape (type, key/value size, entries, flags, map_extra), then a list of
 * operations, each an opcode byte, a flags choice and the key and value bytes it needs:
 * update, lookup, delete, get_next_key, lookup_and_delete, the four batch commands,
 * freeze, pin + get, a full walk, info. Buffers are heap blocks of exactly the size the
 * kernel's ABI says (value_size, or one rounded value per possible CPU for per-CPU maps),
 * so ASan sees a command that writes past what the caller gave it.
 *
 * Invariants beyond "no crash, no sanitizer report":
 *  - an update that succeeded on a hash or array map (not LRU: it may evict; not with
 *    BPF_F_LOCK) is seen by a lookup right after, byte for byte;
 *  - a delete that succeeded on a hash map leaves the key absent (ENOENT);
 *  - a get_next_key walk ends within max_entries + 1 steps;
 *  - errors are negative errnos with errno set, and fds do not pile up: a thread's fd
 *    cache (api/fdcache.c, 8 slots) keeps closed maps alive until their slots are reused,
 *    and a map may hold an eventfd, so the count may rise 24 above the first input's,
 *    no more.
 *
 * Map memory is kept small (a shape estimated past 32 MiB gets fewer entries): the
 * fuzzer looks for bugs, not for the machine's memory limit.
 */
#include <dirent.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "fuzz.h"

#define MAX_OPS		48
#define MAX_BATCH	16

static const uint32_t types[] = {
	BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_HASH,
	BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
	BPF_MAP_TYPE_LPM_TRIE, BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK,
	BPF_MAP_TYPE_BLOOM_FILTER, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_PROG_ARRAY,
	BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_STACK_TRACE, BPF_MAP_TYPE_ARRAY_OF_MAPS,
	BPF_MAP_TYPE_HASH_OF_MAPS, BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH,
	BPF_MAP_TYPE_CPUMAP, BPF_MAP_TYPE_XSKMAP,
};

static const uint64_t flag_choices[] = {
	BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, BPF_F_LOCK | BPF_EXIST, 3, 1ull << 40,
};

static unsigned ncpus;
static int inner_map;	/* a value for the map-in-map types */
static int a_prog;	/* a value for PROG_ARRAY */

/* Possible CPUs: the last number of /sys/devices/system/cpu/possible ("0-N", "0"), + 1. */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned last = 0;
	int c;

	if (!f)
		return 1;
	while ((c = fgetc(f)) != EOF)
		if (c >= '0' && c <= '9')
			last = last * 10 + (unsigned)(c - '0');
		else if (c == '-' || c == ',')
			last = 0;
	fclose(f);
	return last + 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K }, { .code = BPF_JMP | BPF_EXIT },
	};

	ncpus = possible_cpus();
	inner_map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "inner", 4, 8, 4, NULL);
	a_prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "ret0", "GPL", ret0, 2, NULL);
	if (inner_map < 0 || a_prog < 0)
		fuzz_fail("setup: %s", uebpf_last_error());
	return 0;
}

struct shape {
	uint32_t type, key_size, value_size, max_entries, flags;
	uint64_t extra;
	int percpu, fd;
	size_t vbuf;		/* bytes of a value buffer */
};

static int is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static int keyless(uint32_t t)
{
	return t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK || t == BPF_MAP_TYPE_BLOOM_FILTER;
}

static void take_shape(struct fuzz_in *in, struct shape *s)
{
	uint8_t t = (uint8_t)fuzz_take(in, 1);
	uint8_t how = (uint8_t)fuzz_take(in, 1);

	/* Mostly a type uebpf has; now and then any number. */
	s->type = t < 240 ? types[t % (sizeof(types) / sizeof(types[0]))] : (uint32_t)t - 200;
	/* Mostly small sizes; with `how` bits set, any 32-bit value (the limits' paths). */
	s->key_size = how & 1 ? (uint32_t)fuzz_take(in, 4) : (uint32_t)fuzz_take(in, 1) % 72;
	s->value_size = how & 2 ? (uint32_t)fuzz_take(in, 4) : (uint32_t)fuzz_take(in, 2) % 1100;
	s->max_entries = how & 4 ? (uint32_t)fuzz_take(in, 4) : (uint32_t)fuzz_take(in, 2) % 300;
	s->flags = how & 8 ? (uint32_t)fuzz_take(in, 4) : (uint32_t)fuzz_take(in, 1);
	s->extra = how & 16 ? fuzz_take(in, 8) : fuzz_take(in, 1) % 16;
	if (s->type == BPF_MAP_TYPE_RINGBUF && !(how & 4))
		s->max_entries = 4096u << (s->max_entries % 4);
	if (s->type == BPF_MAP_TYPE_LPM_TRIE && !(how & 8))
		s->flags |= BPF_F_NO_PREALLOC;
	s->percpu = is_percpu(s->type);
	/* Keep the memory small: the shape's rough size, entries cut down past 32 MiB. */
	uint64_t per = (uint64_t)s->key_size + 64 +
		       (uint64_t)((s->value_size + 7) & ~7u) * (s->percpu ? ncpus : 1);
	if (per * s->max_entries > (32u << 20) || per > (32u << 20)) {
		s->max_entries = s->max_entries % 64 + 1;
		if (per * s->max_entries > (32u << 20))
			s->value_size %= 4096, s->key_size %= 4096;
	}
	if (s->type == BPF_MAP_TYPE_RINGBUF && s->max_entries > (16u << 20))
		s->max_entries = 1u << 16;
}

static int create(struct shape *s)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = s->flags, .map_extra = s->extra);
	if (s->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || s->type == BPF_MAP_TYPE_HASH_OF_MAPS)
		o.inner_map_fd = (uint32_t)inner_map;
	s->fd = bpf_map_create(s->type, "fz", s->key_size, s->value_size, s->max_entries, &o);
	if (s->fd < 0 && (errno <= 0 || s->fd != -errno))
		fuzz_fail("map create: rc %d errno %d", s->fd, errno);
	/* Per-CPU values: one value rounded to 8 bytes for each possible CPU. */
	s->vbuf = s->percpu ? (size_t)((s->value_size + 7) & ~7u) * ncpus : s->value_size;
	return s->fd;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		fuzz_fail("out of memory");
	return p;
}

/* The value an update of a map of maps or a prog array needs is an fd. */
static void fix_value(const struct shape *s, uint8_t *v, int real)
{
	int fd = s->type == BPF_MAP_TYPE_PROG_ARRAY ? a_prog
	       : s->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || s->type == BPF_MAP_TYPE_HASH_OF_MAPS
	       ? inner_map : -1;
	if (fd >= 0 && real && s->value_size == 4)
		memcpy(v, &fd, 4);
}

/* Maps whose updates lookups must show (through an fd that may read: not BPF_F_WRONLY). */
static int plain(const struct shape *s)
{
	return !(s->flags & BPF_F_WRONLY) && (s->type == BPF_MAP_TYPE_HASH || s->type == BPF_MAP_TYPE_ARRAY ||
	       s->type == BPF_MAP_TYPE_PERCPU_HASH || s->type == BPF_MAP_TYPE_PERCPU_ARRAY);
}

static void check_rc(const char *what, int rc)
{
	if (rc < 0 && (errno <= 0 || rc != -errno))
		fuzz_fail("%s: rc %d but errno %d", what, rc, errno);
}

static void same_value(const struct shape *s, const uint8_t *want, const uint8_t *got,
		       const char *what)
{
	size_t slot = (s->value_size + 7) & ~7u;

	for (unsigned c = 0; c < (s->percpu ? ncpus : 1); c++)
		if (memcmp(want + c * slot, got + c * slot, s->value_size))
			fuzz_fail("%s: lookup after update gives other bytes (type %u, cpu %u)",
				  what, s->type, c);
}

static void op_update(const struct shape *s, struct fuzz_in *in, uint64_t flags)
{
	uint8_t *k = xmalloc(s->key_size), *v = xmalloc(s->vbuf), *back = xmalloc(s->vbuf);
	int real = (int)fuzz_take(in, 1) & 1;

	fuzz_take_buf(in, k, s->key_size);
	fuzz_take_buf(in, v, s->vbuf);
	fix_value(s, v, real);
	int rc = bpf_map_update_elem(s->fd, keyless(s->type) ? NULL : k, v, flags);
	check_rc("update", rc);
	if (!rc && plain(s) && !(flags & BPF_F_LOCK)) {
		int lr = bpf_map_lookup_elem(s->fd, k, back);
		if (lr)
			fuzz_fail("update succeeded (type %u, flags 0x%llx) but lookup fails: %d",
				  s->type, (unsigned long long)flags, errno);
		same_value(s, v, back, "update");
	}
	free(k), free(v), free(back);
}

static void op_lookup(const struct shape *s, struct fuzz_in *in, uint64_t flags, int del)
{
	uint8_t *k = xmalloc(s->key_size), *v = xmalloc(s->vbuf);

	fuzz_take_buf(in, k, s->key_size);
	const void *key = keyless(s->type) ? NULL : k;
	int rc = del ? bpf_map_lookup_and_delete_elem_flags(s->fd, key, v, flags)
		     : bpf_map_lookup_elem_flags(s->fd, key, v, flags);
	check_rc(del ? "lookup_and_delete" : "lookup", rc);
	free(k), free(v);
}

static void op_delete(const struct shape *s, struct fuzz_in *in)
{
	uint8_t *k = xmalloc(s->key_size), *v = xmalloc(s->vbuf);

	fuzz_take_buf(in, k, s->key_size);
	int rc = bpf_map_delete_elem(s->fd, k);
	check_rc("delete", rc);
	if (!rc && plain(s) && s->type != BPF_MAP_TYPE_ARRAY && s->type != BPF_MAP_TYPE_PERCPU_ARRAY &&
	    (bpf_map_lookup_elem(s->fd, k, v) == 0 || errno != ENOENT))
		fuzz_fail("deleted key still found (type %u)", s->type);
	free(k), free(v);
}

static void op_walk(const struct shape *s, struct fuzz_in *in, int full)
{
	uint8_t *k = xmalloc(s->key_size), *next = xmalloc(s->key_size);
	unsigned steps = 0;

	fuzz_take_buf(in, k, s->key_size);
	int rc = bpf_map_get_next_key(s->fd, full ? NULL : k, next);
	check_rc("get_next_key", rc);
	while (full && !rc && ++steps <= s->max_entries + 1u) {
		memcpy(k, next, s->key_size);
		rc = bpf_map_get_next_key(s->fd, k, next);
	}
	if (full && steps > s->max_entries + 1u)
		fuzz_fail("get_next_key walk longer than max_entries %u (type %u)", s->max_entries,
			  s->type);
	free(k), free(next);
}

static void op_batch(const struct shape *s, struct fuzz_in *in, uint64_t elem_flags, int which)
{
	uint32_t n = (uint32_t)fuzz_take(in, 1) % (MAX_BATCH + 1), count = n;
	size_t tok = s->key_size > 8 ? s->key_size : 8;
	uint8_t *keys = xmalloc((size_t)s->key_size * n), *vals = xmalloc(s->vbuf * n);
	uint8_t *in_b = xmalloc(tok), *out_b = xmalloc(tok);
	int first = (int)fuzz_take(in, 1) & 1, rc;
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = elem_flags);

	fuzz_take_buf(in, keys, (size_t)s->key_size * n);
	fuzz_take_buf(in, vals, s->vbuf * n);
	fuzz_take_buf(in, in_b, tok);
	for (uint32_t i = 0; i < n; i++)
		fix_value(s, vals + i * s->vbuf, 1);
	switch (which) {
	case 0: rc = bpf_map_lookup_batch(s->fd, first ? NULL : in_b, out_b, keys, vals, &count, &o); break;
	case 1: rc = bpf_map_lookup_and_delete_batch(s->fd, first ? NULL : in_b, out_b, keys, vals, &count, &o); break;
	case 2: rc = bpf_map_update_batch(s->fd, keys, vals, &count, &o); break;
	default: rc = bpf_map_delete_batch(s->fd, keys, &count, &o); break;
	}
	check_rc("batch", rc);
	if (count > n)
		fuzz_fail("batch command %d reports %u elements of %u", which, count, n);
	free(keys), free(vals), free(in_b), free(out_b);
}

/* Pin, get the pin back, check it is the same map (a lookup agrees), unpin. */
static void op_pin(const struct shape *s, struct fuzz_in *in)
{
	char path[256];
	uint8_t *k = xmalloc(s->key_size), *v1 = xmalloc(s->vbuf), *v2 = xmalloc(s->vbuf);

	fuzz_take_buf(in, k, s->key_size);
	snprintf(path, sizeof(path), "%s/fz-%d", getenv("UEBPF_PIN_ROOT") ? getenv("UEBPF_PIN_ROOT")
									  : "/tmp", getpid());
	unlink(path);
	int rc = bpf_obj_pin(s->fd, path);
	check_rc("pin", rc);
	if (!rc) {
		int fd = bpf_obj_get(path);
		check_rc("get", fd);
		if (fd < 0)
			fuzz_fail("a map just pinned does not open: %s", uebpf_last_error());
		int a = bpf_map_lookup_elem(s->fd, keyless(s->type) ? NULL : k, v1);
		int b = bpf_map_lookup_elem(fd, keyless(s->type) ? NULL : k, v2);
		/* (the creating fd may be write-only: the pin's fd is read-write) */
		if (plain(s) && (a != b || (!a && memcmp(v1, v2, s->vbuf))))
			fuzz_fail("the pinned map reads differently (type %u): %d/%d", s->type, a, b);
		close(fd);
		unlink(path);
	}
	free(k), free(v1), free(v2);
}

static void op_info(const struct shape *s)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	int rc = bpf_obj_get_info_by_fd(s->fd, &info, &len);
	check_rc("info", rc);
	if (!rc && (info.type != s->type || info.key_size != s->key_size ||
		    info.value_size != s->value_size))
		fuzz_fail("info disagrees with the shape (type %u/%u)", info.type, s->type);
}

static void one_op(const struct shape *s, struct fuzz_in *in)
{
	uint8_t op = (uint8_t)fuzz_take(in, 1), f = (uint8_t)fuzz_take(in, 1);
	uint64_t flags = f < 224 ? flag_choices[f % (sizeof(flag_choices) / sizeof(flag_choices[0]))]
				 : fuzz_take(in, 8);

	switch (op % 14) {
	case 0: case 1: case 2: op_update(s, in, flags); break;
	case 3: case 4: op_lookup(s, in, flags, 0); break;
	case 5: op_delete(s, in); break;
	case 6: op_walk(s, in, 0); break;
	case 7: op_lookup(s, in, flags, 1); break;
	case 8: op_batch(s, in, flags, op / 14 % 4); break;
	case 9: check_rc("freeze", bpf_map_freeze(s->fd)); break;
	case 10: op_pin(s, in); break;
	case 11: op_walk(s, in, 1); break;
	case 12: op_info(s); break;
	default: op_batch(s, in, flags, 2); break;
	}
}

/*
 * Open fds, after letting uebpf notice closed ones: an object keeps its own fd until the
 * next object creation finds its user's fd closed (docs/internals.md), so a throwaway map
 * is made first; its own fd stays open, one in every count.
 */
static int count_fds(void)
{
	int n = 0, m = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sweep", 4, 4, 1, NULL);
	DIR *d = opendir("/proc/self/fd");

	if (m >= 0)
		close(m);
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* UEBPF_FUZZ_SEEDS=DIR: a few inputs, one per common map type. */
static void write_seeds(const char *dir)
{
	for (unsigned t = 0; t < 10; t++) {
		uint8_t b[64] = { (uint8_t)t, 0, 4, 8, 0, 16, 0, 0, 0 };
		char path[512];
		for (unsigned i = 9; i < sizeof(b); i++)
			b[i] = (uint8_t)(i * 7 + t);
		snprintf(path, sizeof(path), "%s/type-%u", dir, t);
		FILE *f = fopen(path, "wb");
		if (f)
			fwrite(b, 1, sizeof(b), f), fclose(f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int seeded;
	struct fuzz_in in = { data, size };
	struct shape s;

	if (!seeded++ && getenv("UEBPF_FUZZ_SEEDS")) {
		write_seeds(getenv("UEBPF_FUZZ_SEEDS"));
		exit(0);
	}
	static int base = -1;
	if (base < 0)
		base = count_fds();
	take_shape(&in, &s);
	if (create(&s) >= 0) {
		for (int i = 0; i < MAX_OPS && in.n; i++)
			one_op(&s, &in);
		close(s.fd);
	}
	int after = count_fds();
	if (after > base + 24) {
		DIR *d = opendir("/proc/self/fd");
		for (struct dirent *e; d && (e = readdir(d));) {
			char l[300], t[256] = "";
			snprintf(l, sizeof(l), "/proc/self/fd/%s", e->d_name);
			ssize_t k = readlink(l, t, sizeof(t) - 1);
			t[k > 0 ? k : 0] = 0;
			fprintf(stderr, "  fd %s -> %s\n", e->d_name, t);
		}
		if (d)
			closedir(d);
		fuzz_fail("fds leaked: %d open, at most %d expected (map type %u)", after, base + 24,
			  s.type);
	}
	return 0;
}
