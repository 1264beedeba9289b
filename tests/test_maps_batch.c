/*
 * Differential tests of the batch commands and of mmap against the live kernel (the harness
 * and what is and is not compared: test_maps.h). Arrays go through the kernel's generic
 * batch code, whose cursor is the last key: every call is compared whole. Hash batches
 * walk buckets in the kernel, so only their contract is compared (see d_hash_batch).
 */
#include "test_maps.h"

/* ---- batch operations ---- */

/*
 * Arrays use the kernel's generic batch code, whose cursor is the last key: everything is
 * deterministic, so each call is compared whole (rc, count, keys, values, out_batch).
 */
static void d_array_lookup_batch(struct dm *m, uint32_t chunk)
{
	size_t kb = (size_t)chunk * m->ks + GUARD, vb = chunk * m->uvs + GUARD;
	uint8_t *keys[2] = { malloc(kb), malloc(kb) }, *vals[2] = { malloc(vb), malloc(vb) };
	uint8_t in[2][64], out[2][64];
	char op[96];
	int rc[2] = { 0, 0 };

	for (unsigned call = 0; call <= m->max + 1 && !rc[0] && !rc[1]; call++) {
		__u32 cnt[2];
		snprintf(op, sizeof(op), "lookup_batch(count %u, call %u)", chunk, call);
		for (int b = 0; b < 2; b++) {
			memset(keys[b], FILL, kb), memset(vals[b], FILL, vb), memset(out[b], FILL, 64);
			cnt[b] = chunk;
			rc[b] = post(m, b, op, BE[b]->lookup_batch(m->fd[b], call ? in[b] : NULL, out[b],
								   keys[b], vals[b], &cnt[b], NULL));
			memcpy(in[b], out[b], 64);
		}
		if (!SAME_RC(m, op, rc))
			break;
		if (cnt[0] != cnt[1]) {
			DIVERGE(m, "%s: count uebpf %u, kernel %u", op, cnt[0], cnt[1]);
			break;
		}
		SAME_BYTES(m, op, keys[0], keys[1], kb);
		SAME_BYTES(m, op, vals[0], vals[1], vb);
		SAME_BYTES(m, "out_batch", out[0], out[1], m->ks);
	}
	for (int b = 0; b < 2; b++)
		free(keys[b]), free(vals[b]);
}

/*
 * Hash batches: calls with `chunk` until ENOENT, on each side separately. ENOSPC (a kernel
 * bucket holds more than `count`) is answered as libbpf users do, with a larger count.
 * Returns the number of pairs; *end is the rc of the last call.
 */
static uint32_t hash_drain(struct dm *m, int b, int del, uint32_t chunk, uint8_t *keys,
			   uint8_t *vals, int *end)
{
	uint8_t cursor[2][64];
	uint32_t total = 0, cap = m->max + 1;
	int started = 0;
	char op[64];

	snprintf(op, sizeof(op), "%s: %s batch", BE[b]->name, del ? "lookup_and_delete" : "lookup");
	for (unsigned call = 0; call < 4 * m->max + 8; call++) {
		__u32 cnt = chunk < cap - total ? chunk : cap - total;
		void *in = started ? cursor[0] : NULL;
		int rc = del ? BE[b]->lad_batch(m->fd[b], in, cursor[1], keys + total * m->ks,
					       vals + total * m->uvs, &cnt, NULL)
			     : BE[b]->lookup_batch(m->fd[b], in, cursor[1], keys + total * m->ks,
						  vals + total * m->uvs, &cnt, NULL);
		post(m, b, op, rc);
		if (rc == -ENOSPC && cnt == 0 && chunk < cap) {
			chunk *= 2;	/* the cursor stays where it was */
			continue;
		}
		if (rc && rc != -ENOENT) {	/* count and keys mean nothing then */
			*end = rc;
			return total;
		}
		total += cnt;
		memcpy(cursor[0], cursor[1], sizeof(cursor[0]));
		started = 1;
		if (rc || total >= cap) {
			*end = rc;
			return total;
		}
	}
	*end = -ELOOP;
	return total;
}

static void d_hash_batch(struct dm *m, int del, uint32_t chunk)
{
	size_t kb = ((size_t)m->max + 2) * m->ks, vb = ((size_t)m->max + 2) * m->uvs;
	uint8_t *keys[2] = { malloc(kb), malloc(kb) }, *vals[2] = { malloc(vb), malloc(vb) };
	uint32_t n[2];
	int end[2];
	char op[96];

	snprintf(op, sizeof(op), "%s batch in chunks of %u, until the end",
		 del ? "lookup_and_delete" : "lookup", chunk);
	for (int b = 0; b < 2; b++)
		n[b] = hash_drain(m, b, del, chunk, keys[b], vals[b], &end[b]);
	if (SAME_RC(m, op, end)) {
		if (n[0] != n[1]) {
			DIVERGE(m, "%s: uebpf returns %u pairs, kernel %u", op, n[0], n[1]);
		} else {
			for (int b = 0; b < 2; b++)
				sort_pairs(keys[b], vals[b], n[b], m->ks, m->uvs);
			SAME_BYTES(m, op, keys[0], keys[1], (size_t)n[0] * m->ks);
			SAME_BYTES(m, op, vals[0], vals[1], n[0] * m->uvs);
		}
	}
	for (int b = 0; b < 2; b++)
		free(keys[b]), free(vals[b]);
}

/* Batch calls with bad arguments: flags, NULL buffers, count 0. */
static void d_batch_args(struct dm *m)
{
	uint8_t keys[8 * 512], vals[8 * 256 * 8 + 64], out[64];
	struct { const char *why; uint64_t ef, f; int nullkeys; __u32 count; } cases[] = {
		{ "lookup_batch with elem_flags BPF_F_LOCK", BPF_F_LOCK, 0, 0, 4 },
		{ "lookup_batch with elem_flags 1", 1, 0, 0, 4 },
		{ "lookup_batch with flags 1", 0, 1, 0, 4 },
		{ "lookup_batch with count 0", 0, 0, 0, 0 },
		{ "lookup_batch into NULL keys", 0, 0, 1, 4 },
	};
	int rc[2];

	if (m->uvs * 8 + 64 > sizeof(vals) || m->ks * 8 > sizeof(keys))
		return;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = cases[i].ef, .flags = cases[i].f);
		__u32 cnt[2];
		for (int b = 0; b < 2; b++) {
			cnt[b] = cases[i].count;
			rc[b] = post(m, b, cases[i].why,
				     BE[b]->lookup_batch(m->fd[b], NULL, out, cases[i].nullkeys ? NULL : keys,
							 vals, &cnt[b], &o));
		}
		if (SAME_RC(m, cases[i].why, rc) && cnt[0] != cnt[1])
			DIVERGE(m, "%s: count uebpf %u, kernel %u", cases[i].why, cnt[0], cnt[1]);
	}
	d_update_batch(m, 0, 2, BPF_NOEXIST, 0);
	d_update_batch(m, 0, 2, BPF_F_LOCK, 0);
	d_update_batch(m, 0, 2, 0, 1);
}

static void batches(struct dm *m)
{
	uint32_t half = m->max / 2 ? m->max / 2 : 1;

	d_batch_args(m);
	d_update_batch(m, 0, half, 0, 0);
	d_compare_all(m, "after update_batch");
	/* More new keys than free slots: the hash stops with E2BIG, count = what fit. */
	d_update_batch(m, half, m->max, 0, 0);
	d_compare_all(m, "after an overfull update_batch");
	if (m->hash) {
		d_hash_batch(m, 0, 1);
		d_hash_batch(m, 0, 3);
		d_hash_batch(m, 0, m->max + 1);
	} else {
		d_array_lookup_batch(m, 1);
		d_array_lookup_batch(m, 3);
		d_array_lookup_batch(m, m->max + 1);
	}
	/* delete_batch stops at the first key that is absent (ENOENT), count = deleted. */
	uint32_t kis[] = { 0, 1, m->max + 40, 2 };
	d_delete_batch(m, kis, ARRAY_LEN(kis));
	d_compare_all(m, "after delete_batch");
	if (m->hash) {
		d_hash_batch(m, 1, 2);
		d_compare_all(m, "after lookup_and_delete_batch");
		d_update_batch(m, 0, half, 0, 0);
		d_hash_batch(m, 1, m->max + 1);
		d_compare_all(m, "after a second lookup_and_delete_batch");
	} else {
		uint8_t keys[64], vals[64 * 8 + 64], out[64];
		__u32 cnt[2] = { 1, 1 };
		int rc[2];
		if (m->uvs <= 64 * 8)
			for (int b = 0; b < 2; b++)
				rc[b] = post(m, b, "lad batch", BE[b]->lad_batch(m->fd[b], NULL, out, keys, vals,
										 &cnt[b], NULL));
		if (m->uvs <= 64 * 8)
			SAME_RC(m, "lookup_and_delete_batch on an array", rc);
	}
}

UT_TEST(batch_ops_vs_kernel)
{
	NEED_KERNEL();
	run_cfgs(batches);
}

/* ---- mmap: BPF_F_MMAPABLE arrays have the kernel's layout; the rest is known to differ ---- */

/*
 * Known divergences: the mmap requests below are refused by the kernel and granted by
 * uebpf. A uebpf map fd is a plain file (a tmpfs file or a memfd holding the map's memory),
 * and mmap() of a file is decided by the kernel's file system, which knows nothing of maps:
 * uebpf sees no mmap() call, so it can neither refuse one nor count the writable mappings
 * that make the kernel's BPF_MAP_FREEZE answer EBUSY. docs/maps.md says the same to users.
 *
 * Each entry must diverge exactly as written: the case prints KNOWN instead of failing; if
 * the answers agree (or differ in another way) the case fails, so the table stays true.
 * Every comparison not in the table must agree, as everywhere else.
 */
struct known {
	const char *op;		/* the comparison, as named in the test */
	int urc, krc;		/* uebpf's and the kernel's answer: 0 or -errno */
	const char *why;
};

#define NOT_MMAPABLE "not BPF_F_MMAPABLE, but its fd is the file holding the map, and " \
	"mmap() of a file never asks uebpf"
static const struct known known_mmap[] = {
	{ "mmap(two pages) of a one-page array", 0, -EINVAL,
	  "the file is longer than the values (header page, then the rest of the map)" },
	{ "mmap(offset one page) of a one-page array", 0, -EINVAL,
	  "the file goes on past the values, so an offset inside it is valid" },
	{ "mmap(MAP_PRIVATE)", 0, -EINVAL, "any file can be mapped privately" },
	{ "freeze with a writable mapping", 0, -EBUSY,
	  "uebpf cannot see mappings made with mmap() of the fd, so it cannot count them" },
	{ "freeze after munmap", -EPERM, 0,
	  "follows from the one before: uebpf froze the map already, and a frozen map's fds "
	  "lose write access (EPERM), as in the kernel" },
	{ "mmap(rw) of a frozen map", 0, -EPERM,
	  "mmap() of the file is not refused when the map is frozen" },
	{ "mmap(rw, shared) of ARRAY ks=4 vs=8 max=16 flags=0x0", 0, -EINVAL, NOT_MMAPABLE },
	{ "mmap(rw, shared) of HASH ks=4 vs=8 max=16 flags=0x0", 0, -KERNEL_ENOTSUPP, NOT_MMAPABLE },
	{ "mmap(rw, shared) of PERCPU_ARRAY ks=4 vs=8 max=16 flags=0x0", 0, -KERNEL_ENOTSUPP,
	  NOT_MMAPABLE },
	{ "mmap(rw, shared) of ARRAY ks=4 vs=8 max=16 flags=0x480", 0, -EACCES,
	  "BPF_F_RDONLY_PROG, which the kernel keeps from writable mappings; mmap() of the "
	  "file never asks uebpf" },
};

static unsigned known_seen[ARRAY_LEN(known_mmap)];

/* SAME_RC, except that a comparison in known_mmap must diverge exactly as listed. */
static void same_or_known(struct dm *m, int line, const char *op, const int rc[2])
{
	for (size_t i = 0; i < ARRAY_LEN(known_mmap); i++) {
		const struct known *k = &known_mmap[i];
		if (strcmp(op, k->op))
			continue;
		total_cmp++;
		known_seen[i]++;
		if (rc[0] == k->urc && rc[1] == k->krc)
			fprintf(stderr, "  KNOWN [%s] %s: uebpf %s, kernel %s (%s)\n", m->label, op,
				rcstr(rc[0], 0), rcstr(rc[1], 0), k->why);
		else
			report(m, __FILE__, line, "%s: uebpf %s, kernel %s, but the table of known "
			       "divergences says uebpf %s, kernel %s: update known_mmap", op,
			       rcstr(rc[0], 0), rcstr(rc[1], 0), rcstr(k->urc, 0), rcstr(k->krc, 0));
		return;
	}
	same_rc(m, __FILE__, line, op, rc, 0);
}

#define SAME_OR_KNOWN(m, op, rc) same_or_known(m, __LINE__, op, rc)

static void *try_mmap(size_t len, int prot, int flags, int fd, off_t off, int *err)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);
	*err = p == MAP_FAILED ? -errno : 0;
	return p == MAP_FAILED ? NULL : p;
}

/* mmap on both sides, unmapped at once: only the answers are compared. */
static void d_mmap(struct dm *m, int line, const char *op, size_t len, int prot, int flags,
		   off_t off)
{
	int rc[2];

	for (int b = 0; b < 2; b++) {
		void *q = try_mmap(len, prot, flags, m->fd[b], off, &rc[b]);
		if (q)
			munmap(q, len);
	}
	same_or_known(m, line, op, rc);
}

UT_TEST(mmap_vs_kernel)
{
	NEED_KERNEL();
	struct dm m;
	const size_t page = 4096;
	uint8_t *p[2] = { NULL, NULL };
	char op[128];
	int rc[2];

	memset(known_seen, 0, sizeof(known_seen));
	/* 10 values of 13 bytes, each rounded to 16: one page; values at offset i * 16. */
	if (dm_open(&m, BPF_MAP_TYPE_ARRAY, 4, 13, 10, BPF_F_MMAPABLE, 7))
		return;
	for (int b = 0; b < 2; b++)
		p[b] = try_mmap(page, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd[b], 0, &rc[b]);
	if (!SAME_RC(&m, "mmap(one page, rw, shared)", rc) || rc[0])
		goto out;
	for (uint32_t i = 0; i < 10; i += 3)
		d_update(&m, i, BPF_ANY);
	SAME_BYTES(&m, "mapped values after updates", p[0], p[1], page);
	for (int b = 0; b < 2; b++)
		for (uint32_t i = 0; i < 10; i++)
			memset(p[b] + i * 16, (int)(0x10 + i), 13);	/* the value bytes only */
	for (uint32_t i = 0; i < 10; i++)
		d_lookup(&m, i);
	/* Mapping more than the values, at an offset, or privately. */
	d_mmap(&m, __LINE__, "mmap(two pages) of a one-page array", 2 * page, PROT_READ, MAP_SHARED, 0);
	d_mmap(&m, __LINE__, "mmap(offset one page) of a one-page array", page, PROT_READ, MAP_SHARED,
	       (off_t)page);
	d_mmap(&m, __LINE__, "mmap(MAP_PRIVATE)", page, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	d_mmap(&m, __LINE__, "mmap(read-only, shared) of an mmapable array", page, PROT_READ,
	       MAP_SHARED, 0);
	/* While a writable mapping exists the map cannot be frozen (EBUSY). */
	for (int b = 0; b < 2; b++)
		rc[b] = post(&m, b, "freeze", BE[b]->freeze(m.fd[b]));
	SAME_OR_KNOWN(&m, "freeze with a writable mapping", rc);
	for (int b = 0; b < 2; b++)
		munmap(p[b], page), p[b] = NULL;
	for (int b = 0; b < 2; b++)
		rc[b] = post(&m, b, "freeze", BE[b]->freeze(m.fd[b]));
	SAME_OR_KNOWN(&m, "freeze after munmap", rc);
	d_mmap(&m, __LINE__, "mmap(rw) of a frozen map", page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	d_mmap(&m, __LINE__, "mmap(read-only) of a frozen map", page, PROT_READ, MAP_SHARED, 0);
out:
	for (int b = 0; b < 2; b++)
		if (p[b])
			munmap(p[b], page);
	dm_close(&m);

	/* Maps that are not mmapable. */
	static const struct cfg no[] = {
		{ A, 4, 8, 16, 0 }, { H, 4, 8, 16, 0 }, { PA, 4, 8, 16, 0 },
		{ A, 4, 8, 16, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG },
	};
	for (size_t i = 0; i < ARRAY_LEN(no); i++) {
		if (dm_open(&m, no[i].type, no[i].ks, no[i].vs, no[i].max, no[i].flags, 1))
			continue;
		snprintf(op, sizeof(op), "mmap(rw, shared) of %.100s", m.label);
		d_mmap(&m, __LINE__, op, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
		dm_close(&m);
	}
	/* Every entry of the table was met: none names a comparison the test no longer makes. */
	for (size_t i = 0; i < ARRAY_LEN(known_mmap); i++)
		UT_CHECK(known_seen[i] == 1, "known divergence '%s' compared %u times, not once",
			 known_mmap[i].op, known_seen[i]);
}
