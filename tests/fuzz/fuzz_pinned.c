/*
 * fuzz_pinned: opening pinned map files whose bytes are damaged.
 *
 * At start the harness pins real maps of several types (filled half way) and keeps each
 * file's bytes as a template. An input picks a template and patches it: a list of
 * (offset, bytes) edits, half of them aimed at the header page at the end of the file;
 * a mode bit recomputes the header checksum afterwards, so that damage reaches the checks
 * past it (the shape, the family's data region) instead of stopping at the checksum.
 * Another mode takes the input whole as the file.
 *
 * The file goes to the pin root and BPF_OBJ_GET opens it. Either it is refused, with a
 * negative errno and a message that names the file, the file left as it was and no fd
 * left open; or it opens, and then lookups, updates, deletes and a get_next_key walk over
 * it must return (a walk within 4 * max_entries + 16 steps: a damaged map may list a few
 * keys more than it should, but it must not loop) without a crash or a sanitizer
 * report: what a damaged file may not do is take down the process that opens it.
 *
 * Left out (UEBPF_FUZZ_KNOWN=1 puts them back): lock words that name a live process (this
 * one included). A lock in the file is a process id, taken over only from a dead holder
 * (maps/shm.c), so such a file makes its openers wait for that process. Inputs whose
 * patches turn a word of the file (data region or header page) into a live pid are
 * skipped: what a hostile file can do by design. (A number no process can have, above
 * INT32_MAX, made the lock wait forever too: a bug, found here and fixed, now a
 * regression test.) Bugs found here and fixed since (damaged LPM tries and files
 * relabelled DEVMAP_HASH whose walks never ended or read out of bounds) are no longer left
 * out: their reproducers are in tests/test_fuzz_regress.c.
 */
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "maps/map.h"
#include "fuzz.h"

struct tmpl {
	uint32_t type, key_size, value_size, max_entries, flags;
	uint8_t *bytes;
	size_t size;
};

#define T(t, k, v, m, f) { .type = t, .key_size = k, .value_size = v, .max_entries = m, \
			    .flags = f, .bytes = NULL, .size = 0 }
static struct tmpl tmpls[] = {
	T(BPF_MAP_TYPE_HASH, 4, 8, 16, 0),
	T(BPF_MAP_TYPE_HASH, 8, 24, 64, BPF_F_NO_PREALLOC),
	T(BPF_MAP_TYPE_ARRAY, 4, 8, 32, 0),
	T(BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 8, 0),
	T(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 8, 0),
	T(BPF_MAP_TYPE_LRU_HASH, 4, 8, 16, 0),
	T(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 16, BPF_F_NO_PREALLOC),
	T(BPF_MAP_TYPE_QUEUE, 0, 8, 16, 0),
	T(BPF_MAP_TYPE_STACK, 0, 8, 16, 0),
	T(BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, 16, 0),
	T(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0),
	T(BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 16, 0),
};
#define NTMPL (sizeof(tmpls) / sizeof(tmpls[0]))

static char path[512];

static void fill(int fd, const struct tmpl *t)
{
	uint8_t key[16] = { 0 }, val[4096] = { 0 };

	for (uint32_t i = 0; i < t->max_entries / 2 && t->type != BPF_MAP_TYPE_RINGBUF; i++) {
		memcpy(key, &i, 4);
		if (t->type == BPF_MAP_TYPE_LPM_TRIE)	/* prefix length, then data */
			key[0] = (uint8_t)(8 + i % 24), key[4] = (uint8_t)i, key[1] = 0;
		memset(val, (int)i + 1, sizeof(val));
		bpf_map_update_elem(fd, t->key_size ? key : NULL, val, BPF_ANY);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *root = getenv("UEBPF_PIN_ROOT");

	if (!root)	/* map memory lives in the pin root's file system: set it first */
		fuzz_fail("set UEBPF_PIN_ROOT to a scratch directory (scripts/fuzz.sh does)");
	snprintf(path, sizeof(path), "%s/fz-pinned-%d", root, getpid());
	for (size_t i = 0; i < NTMPL; i++) {
		struct tmpl *t = &tmpls[i];
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = t->flags);
		int fd = bpf_map_create(t->type, "tmpl", t->key_size, t->value_size,
					t->max_entries, &o);
		if (fd < 0)
			fuzz_fail("template %zu (type %u): %s", i, t->type, uebpf_last_error());
		fill(fd, t);
		unlink(path);
		if (bpf_obj_pin(fd, path) || !(t->bytes = fuzz_slurp(path, &t->size)))
			fuzz_fail("template %zu: pin: %s", i, uebpf_last_error());
		unlink(path);
		close(fd);
	}
	return 0;
}

static int write_file(const uint8_t *b, size_t n)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	int ok = fd >= 0 && write(fd, b, n) == (ssize_t)n;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Edits: [3 bytes offset (top bit: in the header page)] [1 byte length] [bytes]. */
static void patch(uint8_t *f, size_t n, struct fuzz_in *in)
{
	while (in->n >= 4) {
		uint32_t off = (uint32_t)fuzz_take(in, 3);
		size_t len = (size_t)fuzz_take(in, 1) % 16 + 1;
		size_t at = off & 0x800000 ? n - UB_SHM_HDR_SIZE + (off & 0xfff) % 128
					   : (off & 0x7fffff) % n;
		for (size_t i = 0; i < len && at + i < n; i++)
			f[at + i] = (uint8_t)fuzz_take(in, 1);
	}
}

static int known(void)
{
	static int want = -1;

	if (want < 0)
		want = getenv("UEBPF_FUZZ_KNOWN") && atoi(getenv("UEBPF_FUZZ_KNOWN"));
	return want;
}

/* Whether a word of the file that an edit changed now names a live process. */
static int live_pid_planted(const struct tmpl *t, const uint8_t *f, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i += 4) {
		uint32_t was, now;
		memcpy(&was, t->bytes + i, 4);
		memcpy(&now, f + i, 4);
		if (was != now && now && now <= INT32_MAX && (!kill((pid_t)now, 0) || errno == EPERM))
			return 1;
	}
	return 0;
}

/* What a program or a user does with a map: every command must come back. */
static void exercise(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	static uint8_t key[1 << 16], next[1 << 16], val[1 << 20];

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		fuzz_fail("an opened map has no info: %s", uebpf_last_error());
	/* Buffers must hold what the map says; past that the shape is too big to try. */
	if (info.key_size > sizeof(key) || (uint64_t)info.value_size * 256 > sizeof(val))
		return;
	memset(key, 0, info.key_size);
	for (uint32_t k = 0; k < 24; k++) {
		memcpy(key, &k, info.key_size < 4 ? info.key_size : 4);
		void *kp = info.key_size ? key : NULL;
		bpf_map_lookup_elem(fd, kp, val);
		bpf_map_update_elem(fd, kp, val, BPF_ANY);
		if (k & 1)
			bpf_map_delete_elem(fd, kp);
	}
	uint32_t steps = 0;
	for (int rc = bpf_map_get_next_key(fd, NULL, next); !rc; rc = bpf_map_get_next_key(fd, key, next)) {
		if (++steps > 4 * info.max_entries + 16)
			fuzz_fail("get_next_key walk of a damaged map does not end (type %u, %u entries)",
				  info.type, info.max_entries);
		memcpy(key, next, info.key_size);
	}
}

static void write_seeds(const char *dir)
{
	for (unsigned t = 0; t < NTMPL; t++)
		for (unsigned mode = 0; mode < 2; mode++) {
			uint8_t b[] = { (uint8_t)t, (uint8_t)mode, 0x80, 0x00, 0x00, 0, 0 };
			char p[600];
			snprintf(p, sizeof(p), "%s/tmpl-%u-%u", dir, t, mode);
			FILE *f = fopen(p, "wb");
			if (f)
				fwrite(b, 1, sizeof(b), f), fclose(f);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int seeded;
	struct fuzz_in in = { data, size };
	uint8_t *f;
	size_t n;

	if (!seeded++ && getenv("UEBPF_FUZZ_SEEDS")) {
		write_seeds(getenv("UEBPF_FUZZ_SEEDS"));
		exit(0);
	}
	const struct tmpl *t = &tmpls[fuzz_take(&in, 1) % NTMPL];
	uint8_t mode = (uint8_t)fuzz_take(&in, 1);
	if (mode == 0xff) {	/* the input itself is the file */
		n = in.n;
		f = malloc(n ? n : 1);
		memcpy(f, in.p, n);
	} else {
		n = t->size;
		f = malloc(n);
		memcpy(f, t->bytes, n);
		patch(f, n, &in);
		if (!known() && live_pid_planted(t, f, n)) {
			free(f);
			return 0;
		}
		if (mode & 1) {
			struct ub_shm_hdr *h = (struct ub_shm_hdr *)(f + n - UB_SHM_HDR_SIZE);
			h->checksum = ub_shm_hdr_checksum(h);
		}
	}
	if (write_file(f, n))
		fuzz_fail("cannot write %s", path);
	uint32_t flags = (mode >> 1) & 3;	/* 0, BPF_F_RDONLY (1 << 3) or BPF_F_WRONLY (1 << 4) */
	LIBBPF_OPTS(bpf_obj_get_opts, o, .file_flags = flags == 1 ? BPF_F_RDONLY
						  : flags == 2 ? BPF_F_WRONLY : 0);
	int before = fuzz_count_fds();
	int fd = bpf_obj_get_opts(path, &o);
	if (fd < 0) {
		size_t n2 = 0;
		uint8_t *after = fuzz_slurp(path, &n2);
		if (errno <= 0 || fd != -errno)
			fuzz_fail("refused with rc %d, errno %d", fd, errno);
		if (!strstr(uebpf_last_error(), path))
			fuzz_fail("the refusal does not name the file: '%s'", uebpf_last_error());
		if (!after || n2 != n || memcmp(after, f, n)) {
			size_t at = 0;
			while (after && at < n && at < n2 && after[at] == f[at])
				at++;
			fuzz_fail("a refused file was changed (type %u, size %zu -> %zu, first "
				  "difference at %zu; refused: %s)", t->type, n, n2, at,
				  uebpf_last_error());
		}
		if (fuzz_count_fds() != before)
			fuzz_fail("a refused open leaked an fd");
		free(after);
	} else {
		exercise(fd);
		close(fd);
	}
	unlink(path);
	free(f);
	return 0;
}
