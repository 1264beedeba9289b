/*
 * Differential tests of the map commands against the live kernel (the harness and what is
 * and is not compared: test_maps.h): BPF_MAP_CREATE with valid and invalid parameters,
 * a scripted and a random sequence of element commands on every configuration, freeze,
 * bad and foreign fds, BPF_OBJ_PIN / BPF_OBJ_GET where the kernel answers without a bpffs,
 * and what each fd of a map may do (creation flags, BPF_OBJ_GET, BPF_MAP_GET_FD_BY_ID: the
 * kernel's pins then go to a bpffs mounted in a mount namespace of the test's own).
 * Batch commands and mmap: test_maps_batch.c.
 */
#include "test_maps.h"

/* ---- BPF_MAP_CREATE: valid and invalid parameters ---- */

struct create_case {
	uint32_t type, ks, vs, max, flags;
	const char *name;
	uint32_t numa_node;
	const char *why;	/* what the case probes */
};

static void d_create(const struct create_case *c)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = c->flags, .numa_node = c->numa_node);
	struct dm m = { 0 };
	int rc[2];

	snprintf(m.label, sizeof(m.label), "create %s ks=%u vs=%u max=%u flags=0x%x name='%s'",
		 type_name(c->type), c->ks, c->vs, c->max, c->flags, c->name ? c->name : "");
	for (int b = 0; b < 2; b++)
		rc[b] = post(&m, b, c->why, BE[b]->create(c->type, c->name, c->ks, c->vs, c->max, &o));
	SAME_FD(&m, c->why, rc);
	for (int b = 0; b < 2; b++)
		if (rc[b] >= 0)
			close(rc[b]);
}

#define KMALLOC_MAX (4u << 20)		/* x86-64: 1 << (PAGE_SHIFT + MAX_PAGE_ORDER) */

/*
 * Sizes are chosen so that the kernel either rejects by arithmetic or allocates little:
 * nothing here asks the kernel for more than a few MiB.
 */
static const struct create_case create_cases[] = {
	{ H, 4, 8, 16, 0, "ok", 0, "valid hash" },
	{ H, 0, 8, 16, 0, "k0", 0, "key_size 0" },
	{ H, 4, 0, 16, 0, "v0", 0, "value_size 0" },
	{ H, 4, 8, 0, 0, "m0", 0, "max_entries 0" },
	{ H, 513, 8, 4, 0, "k513", 0, "key_size 513 (> MAX_BPF_STACK)" },
	{ H, 4096, 8, 4, BPF_F_NO_PREALLOC, "k4096", 0, "key_size 4096" },
	{ H, KMALLOC_MAX, 8, 4, 0, "kbig", 0, "key_size KMALLOC_MAX_SIZE" },
	{ H, 4, KMALLOC_MAX - 48 - 4 - 1, 1, BPF_F_NO_PREALLOC, "vmax", 0,
	  "key+value just under KMALLOC_MAX_SIZE - sizeof(htab_elem)" },
	{ H, 4, KMALLOC_MAX - 48 - 4, 1, BPF_F_NO_PREALLOC, "vover", 0,
	  "key+value == KMALLOC_MAX_SIZE - sizeof(htab_elem)" },
	{ H, 4, KMALLOC_MAX, 1, 0, "v4m", 0, "value_size KMALLOC_MAX_SIZE" },
	{ H, 4, 8, (1u << 31) + 1, 0, "m2g", 0, "max_entries 2^31+1" },
	{ H, 4, 8, 1u << 31, 0, "m2g", 0, "max_entries 2^31" },
	{ H, 4, 8, 0xffffffffu, 0, "mmax", 0, "max_entries U32_MAX" },
	{ H, 4, 8, (1u << 27) + 1, BPF_F_NO_PREALLOC, "m128m", 0,
	  "max_entries 2^27+1 (buckets overflow u32 bytes)" },
	{ H, 4, 8, 16, BPF_F_NO_PREALLOC, "np", 0, "BPF_F_NO_PREALLOC" },
	{ H, 4, 8, 16, BPF_F_ZERO_SEED, "zs", 0, "BPF_F_ZERO_SEED" },
	{ H, 4, 8, 16, BPF_F_NO_COMMON_LRU, "ncl", 0, "BPF_F_NO_COMMON_LRU on a hash" },
	{ H, 4, 8, 16, BPF_F_MMAPABLE, "mm", 0, "BPF_F_MMAPABLE on a hash" },
	{ H, 4, 8, 16, BPF_F_INNER_MAP, "im", 0, "BPF_F_INNER_MAP on a hash" },
	{ H, 4, 8, 16, BPF_F_CLONE, "cl", 0, "BPF_F_CLONE on a hash" },
	{ H, 4, 8, 16, BPF_F_STACK_BUILD_ID, "sb", 0, "BPF_F_STACK_BUILD_ID on a hash" },
	{ H, 4, 8, 16, BPF_F_RDONLY | BPF_F_WRONLY, "rw", 0, "BPF_F_RDONLY|BPF_F_WRONLY" },
	{ H, 4, 8, 16, BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG, "rwp", 0, "RDONLY_PROG|WRONLY_PROG" },
	{ H, 4, 8, 16, 1u << 20, "f20", 0, "unknown flag 1<<20" },
	{ H, 4, 8, 16, BPF_F_NUMA_NODE, "numa", 0, "BPF_F_NUMA_NODE node 0" },
	{ H, 4, 8, 16, BPF_F_NUMA_NODE, "numa", 1000, "BPF_F_NUMA_NODE node 1000 (offline)" },
	{ H, 4, 8, 16, BPF_F_NUMA_NODE, "numa", 1, "BPF_F_NUMA_NODE node 1" },
	{ H, 4, 8, 16, BPF_F_NUMA_NODE, "numa", 0xffffffffu, "BPF_F_NUMA_NODE NUMA_NO_NODE (-1)" },
	{ H, 4, 8, 16, BPF_F_NUMA_NODE, "numa", 0xfffffffeu, "BPF_F_NUMA_NODE node -2" },
	{ H, 4, 8, 16, 0, "numa", 1000, "numa_node 1000 without BPF_F_NUMA_NODE (ignored)" },
	{ H, 4, KMALLOC_MAX, 1, BPF_F_NUMA_NODE, "numa", 1000,
	  "offline node and too-large value (which first?)" },
	{ A, 4, 8, 16, BPF_F_NUMA_NODE, "numa", 1000, "array BPF_F_NUMA_NODE node 1000" },
	{ H, 4, 8, 16, 0, "", 0, "empty name" },
	{ H, 4, 8, 16, 0, "a.b_C9", 0, "name with . and _" },
	{ H, 4, 8, 16, 0, "abcdefghijklmno", 0, "15-character name" },
	{ H, 4, 8, 16, 0, "abcdefghijklmnopqrst", 0, "20-character name (libbpf truncates)" },
	{ H, 4, 8, 16, 0, "bad-name", 0, "name with '-'" },
	{ H, 4, 8, 16, 0, "bad name", 0, "name with ' '" },
	{ H, 4, 8, 16, 0, "caf\xc3\xa9", 0, "name with UTF-8" },
	{ H, 4, KMALLOC_MAX, 1, 0, "bad-name", 0, "bad name and too-large value (which first?)" },
	{ PH, 4, 8, 16, 0, "ok", 0, "valid percpu hash" },
	{ PH, 4, 32768, 1, 0, "v32k", 0, "percpu value 32768 (PCPU_MIN_UNIT_SIZE)" },
	{ PH, 4, 32769, 1, 0, "v32k1", 0, "percpu value 32769" },
	{ PH, 4, 8, 16, BPF_F_NUMA_NODE, "numa", 0, "BPF_F_NUMA_NODE on a percpu hash" },
	{ PH, 4, 8, 16, BPF_F_NO_PREALLOC, "np", 0, "percpu hash, BPF_F_NO_PREALLOC" },
	{ A, 4, 8, 16, 0, "ok", 0, "valid array" },
	{ A, 0, 8, 16, 0, "k0", 0, "array key_size 0" },
	{ A, 3, 8, 16, 0, "k3", 0, "array key_size 3" },
	{ A, 8, 8, 16, 0, "k8", 0, "array key_size 8" },
	{ A, 4, 0, 16, 0, "v0", 0, "array value_size 0" },
	{ A, 4, 8, 0, 0, "m0", 0, "array max_entries 0" },
	{ A, 4, KMALLOC_MAX, 1, 0, "v4m", 0, "array value_size KMALLOC_MAX_SIZE" },
	{ A, 4, KMALLOC_MAX + 8, 1, 0, "v4m8", 0, "array value_size KMALLOC_MAX_SIZE+8" },
	{ A, 4, 0x80000000u, 1, 0, "v2g", 0, "array value_size > INT_MAX" },
	{ A, 4, 8, 16, BPF_F_MMAPABLE, "mm", 0, "BPF_F_MMAPABLE" },
	{ A, 4, 8, 16, BPF_F_NO_PREALLOC, "np", 0, "BPF_F_NO_PREALLOC on an array" },
	{ A, 4, 8, 16, BPF_F_ZERO_SEED, "zs", 0, "BPF_F_ZERO_SEED on an array" },
	{ A, 4, 8, 16, BPF_F_INNER_MAP, "im", 0, "BPF_F_INNER_MAP on an array" },
	{ A, 4, 8, 16, BPF_F_RDONLY, "ro", 0, "BPF_F_RDONLY" },
	{ A, 4, 8, 16, BPF_F_WRONLY, "wo", 0, "BPF_F_WRONLY" },
	{ A, 4, 8, 16, BPF_F_RDONLY | BPF_F_WRONLY, "rw", 0, "array RDONLY|WRONLY" },
	{ A, 4, 8, 16, BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG, "rwp", 0, "array RDONLY_PROG|WRONLY_PROG" },
	{ A, 4, 8, 16, 1u << 11, "pe", 0, "BPF_F_PRESERVE_ELEMS on an array" },
	{ A, 4, 8, 16, BPF_F_NUMA_NODE, "numa", 0, "array BPF_F_NUMA_NODE node 0" },
	{ A, 4, 8, 16, 0, "bad-name", 0, "array name with '-'" },
	{ PA, 4, 8, 16, 0, "ok", 0, "valid percpu array" },
	{ PA, 4, 32765, 1, 0, "v32k", 0, "percpu array value 32765 (rounds to 32768)" },
	{ PA, 4, 32769, 1, 0, "v32k1", 0, "percpu array value 32769" },
	{ PA, 4, 8, 16, BPF_F_MMAPABLE, "mm", 0, "BPF_F_MMAPABLE on a percpu array" },
	{ PA, 4, 8, 16, BPF_F_INNER_MAP, "im", 0, "BPF_F_INNER_MAP on a percpu array" },
	{ PA, 4, 8, 16, BPF_F_NUMA_NODE, "numa", 0, "BPF_F_NUMA_NODE on a percpu array" },
	{ 0, 4, 8, 16, 0, "t0", 0, "map type 0 (UNSPEC)" },
	{ 9999, 4, 8, 16, 0, "t9999", 0, "map type 9999" },
};

UT_TEST(create_params_vs_kernel)
{
	NEED_KERNEL();
	for (size_t i = 0; i < ARRAY_LEN(create_cases); i++)
		d_create(&create_cases[i]);
}

/* Requests bpf_map_create() cannot express: the raw union bpf_attr to both. */
static const char *const raw_cases[] = {
	"name of 16 characters, not terminated",
	"map_extra 1 on a hash",
	"btf_key_type_id 1 with a non-BTF btf_fd",
	"non-zero byte at the end of a full-size attr",
	"full-size attr, zero tail",
	"attr of 4 bytes (key_size etc. read as 0)",
	"btf_key_type_id without btf_value_type_id",
	"btf_value_type_id alone with a non-BTF btf_fd",
	"btf type ids with a btf_fd that is not open",
	"a non-BTF btf_fd and no type ids (ignored)",
	"btf_vmlinux_value_type_id on a hash",
	"btf ids, btf_fd not open, value too large (which first?)",
	"btf ids, btf_fd not open, bad name (which first?)",
	"btf ids, btf_fd not open, offline NUMA node (which first?)",
	"btf ids, btf_fd not open, percpu hash with BPF_F_NUMA_NODE (which first?)",
};

static unsigned raw_case(int i, union bpf_attr *a, int devnull)
{
	const __u32 closed = 900;	/* not open in this process */

	memset(a, 0, sizeof(*a));
	a->map_type = BPF_MAP_TYPE_HASH, a->key_size = 4, a->value_size = 8, a->max_entries = 4;
	if (i >= 8 && i != 9 && i != 10)
		a->btf_fd = closed, a->btf_key_type_id = 1, a->btf_value_type_id = 2;
	switch (i) {
	case 0: memcpy(a->map_name, "abcdefghijklmnop", 16); break;
	case 1: a->map_extra = 1; break;
	case 2: a->btf_fd = (__u32)devnull, a->btf_key_type_id = 1, a->btf_value_type_id = 1; break;
	case 3: ((char *)a)[sizeof(*a) - 1] = 1; return sizeof(*a);
	case 4: return sizeof(*a);
	case 5: return 4;
	case 6: a->btf_fd = (__u32)devnull, a->btf_key_type_id = 1; break;
	case 7: a->btf_fd = (__u32)devnull, a->btf_value_type_id = 1; break;
	case 9: a->btf_fd = (__u32)devnull; break;
	case 10: a->btf_vmlinux_value_type_id = 1; break;
	case 11: a->value_size = 4u << 20; break;
	case 12: memcpy(a->map_name, "bad-name", 9); break;
	case 13: a->map_flags = BPF_F_NUMA_NODE, a->numa_node = 1000; break;
	case 14: a->map_type = BPF_MAP_TYPE_PERCPU_HASH, a->map_flags = BPF_F_NUMA_NODE; break;
	}
	return ATTR_END(map_extra);
}

UT_TEST(create_raw_attr_vs_kernel)
{
	NEED_KERNEL();
	struct dm m = { .label = "create (raw attr)" };
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	for (int i = 0; i < (int)ARRAY_LEN(raw_cases); i++) {
		int rc[2];
		for (int b = 0; b < 2; b++) {
			union bpf_attr a;
			unsigned size = raw_case(i, &a, devnull);
			rc[b] = post(&m, b, raw_cases[i], BE[b]->raw(BPF_MAP_CREATE, &a, size));
		}
		SAME_FD(&m, raw_cases[i], rc);
		for (int b = 0; b < 2; b++)
			if (rc[b] >= 0)
				close(rc[b]);
	}
	close(devnull);
}

/* ---- the scripted sequence ---- */

static void d_info(struct dm *m)
{
	struct { struct bpf_map_info i; uint8_t tail[256]; } in[2];
	__u32 len[2];
	int rc[2];

	/* Exactly our struct: every field but the id must agree; both ids are non-zero. */
	for (int b = 0; b < 2; b++) {
		memset(&in[b], 0, sizeof(in[b]));
		len[b] = sizeof(struct bpf_map_info);
		rc[b] = post(m, b, "info", BE[b]->info(m->fd[b], &in[b].i, &len[b]));
	}
	if (SAME_RC(m, "obj_get_info_by_fd", rc) && !rc[0]) {
		if (len[0] != len[1])
			DIVERGE(m, "info: info_len uebpf %u, kernel %u", len[0], len[1]);
		if (!in[0].i.id || !in[1].i.id)
			DIVERGE(m, "info: id uebpf %u, kernel %u (both must be non-zero)", in[0].i.id,
				in[1].i.id);
		in[0].i.id = in[1].i.id = 0;
		SAME_BYTES(m, "info (all fields but id)", &in[0].i, &in[1].i, sizeof(in[0].i));
	}
	/* A short buffer: only info_len bytes are written and info_len stays. */
	for (int b = 0; b < 2; b++) {
		memset(&in[b], FILL, sizeof(in[b]));
		len[b] = 4;
		rc[b] = post(m, b, "info", BE[b]->info(m->fd[b], &in[b].i, &len[b]));
	}
	if (SAME_RC(m, "info with info_len 4", rc) && !rc[0]) {
		UT_CHECK(len[0] == 4 && len[1] == 4, "info_len 4: uebpf %u, kernel %u", len[0], len[1]);
		SAME_BYTES(m, "info with info_len 4", &in[0], &in[1], 8);
	}
	/* A longer buffer with a zero tail is fine; a non-zero byte past the struct is E2BIG. */
	for (int b = 0; b < 2; b++) {
		memset(&in[b], 0, sizeof(in[b]));
		len[b] = sizeof(in[b]);
		rc[b] = post(m, b, "info", BE[b]->info(m->fd[b], &in[b].i, &len[b]));
	}
	if (SAME_RC(m, "info with a longer zeroed buffer", rc) && !rc[0]) {
		/* uebpf's UAPI struct is Debian's 6.1 one; the running kernel's may be longer. */
		UT_CHECK_EQ(len[0], sizeof(struct bpf_map_info));
		UT_CHECK(len[1] >= sizeof(struct bpf_map_info), "kernel info_len %u", len[1]);
	}
	for (int b = 0; b < 2; b++) {
		memset(&in[b], 0, sizeof(in[b]));
		in[b].tail[sizeof(in[b].tail) - 1] = 1;
		len[b] = sizeof(in[b]);
		rc[b] = post(m, b, "info", BE[b]->info(m->fd[b], &in[b].i, &len[b]));
	}
	SAME_RC(m, "info with a non-zero byte past the struct", rc);
	for (int b = 0; b < 2; b++) {
		len[b] = sizeof(struct bpf_map_info);
		rc[b] = post(m, b, "info", BE[b]->info(m->fd[b], NULL, &len[b]));
	}
	SAME_RC(m, "info into a NULL buffer", rc);
}

/* Calls with NULL pointers where the kernel copies from or to user memory. */
static void d_null_pointers(struct dm *m)
{
	uint8_t key[512], *v = calloc(1, m->uvs + GUARD);
	int rc[2];

	mkkey(m, 0, key);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "lookup", BE[b]->lookup(m->fd[b], NULL, v));
	SAME_RC(m, "lookup(NULL key)", rc);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "update", BE[b]->update(m->fd[b], key, NULL, BPF_ANY));
	SAME_RC(m, "update(key #0, NULL value)", rc);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "update", BE[b]->update(m->fd[b], NULL, v, BPF_ANY));
	SAME_RC(m, "update(NULL key)", rc);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "delete", BE[b]->del(m->fd[b], NULL));
	SAME_RC(m, "delete(NULL key)", rc);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "gnk", BE[b]->next_key(m->fd[b], NULL, NULL));
	SAME_RC(m, "get_next_key(NULL, NULL next_key)", rc);
	/* A NULL value: the kernel looks first (ENOENT for a missing key), then copies. */
	uint8_t missing[512];
	mkkey(m, 3 * m->max + 11, missing);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "lookup", BE[b]->lookup(m->fd[b], missing, NULL));
	SAME_RC(m, "lookup(missing key, NULL value)", rc);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "lad", BE[b]->lad(m->fd[b], missing, NULL));
	SAME_RC(m, "lookup_and_delete(missing key, NULL value)", rc);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "lad", BE[b]->lad(m->fd[b], NULL, v));
	SAME_RC(m, "lookup_and_delete(NULL key)", rc);
	d_update(m, 0, BPF_ANY);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "lookup", BE[b]->lookup(m->fd[b], key, NULL));
	SAME_RC(m, "lookup(key #0, NULL value)", rc);
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "lad", BE[b]->lad(m->fd[b], key, NULL));
	SAME_RC(m, "lookup_and_delete(key #0, NULL value)", rc);
	d_compare_all(m, "after calls with NULL pointers");
	free(v);
}

static void d_lookup_flags(struct dm *m, uint32_t ki, uint64_t flags)
{
	size_t n = m->uvs + GUARD;
	uint8_t key[512], *out[2] = { malloc(n), malloc(n) };
	char op[64];
	int rc[2];

	mkkey(m, ki, key);
	snprintf(op, sizeof(op), "lookup_elem_flags(key #%u, %s)", ki, flagname(flags));
	for (int b = 0; b < 2; b++) {
		memset(out[b], FILL, n);
		rc[b] = post(m, b, op, BE[b]->lookup_flags(m->fd[b], key, out[b], flags));
	}
	if (SAME_RC(m, op, rc))
		SAME_BYTES(m, op, out[0], out[1], n);
	free(out[0]);
	free(out[1]);
}

static void script(struct dm *m)
{
	uint32_t max = m->max;

	d_info(m);
	d_compare_all(m, "of the new map");
	d_lookup(m, 0);
	d_lookup(m, max);
	d_lookup(m, max + 1000);
	d_next_missing(m, max + 3);
	/* update flags on an absent key (arrays: every index below max exists) */
	d_update(m, 1, BPF_EXIST);
	d_update(m, 1, BPF_NOEXIST);
	d_update(m, 1, BPF_NOEXIST);
	d_update(m, 1, BPF_EXIST);
	d_update(m, 1, BPF_ANY);
	d_lookup(m, 1);
	d_update(m, 2, BPF_NOEXIST | BPF_EXIST);	/* 3: unknown */
	d_update(m, 2, BPF_F_LOCK);			/* no bpf_spin_lock in the value */
	d_update(m, 2, BPF_F_LOCK | BPF_EXIST);
	d_update(m, 2, 8);
	d_update(m, 2, 1ull << 32);
	d_lookup(m, 2);
	d_lookup_flags(m, 1, BPF_F_LOCK);
	d_lookup_flags(m, 1, 1);
	d_lookup_flags(m, 1, 1ull << 40);
	d_null_pointers(m);
	d_delete(m, 1);
	d_delete(m, 1);
	d_delete(m, max);
	d_lookup(m, 1);
	d_update(m, 3, BPF_ANY);
	d_lad(m, 3, 0);
	d_lad(m, 3, 0);
	d_update(m, 3, BPF_ANY);
	d_lad(m, 3, BPF_F_LOCK);
	d_lad(m, 3, 1);
	d_lookup(m, 3);
	d_compare_all(m, "after the single-element script");
	/* Fill to max_entries, then one more. */
	for (uint32_t i = 0; i < max; i++)
		d_update(m, i, m->hash ? BPF_NOEXIST : BPF_ANY);
	d_update(m, max, BPF_NOEXIST);
	d_update(m, max, BPF_ANY);
	d_update(m, max + 1, BPF_EXIST);
	d_update(m, 0, BPF_ANY);	/* replacing in a full map */
	d_update(m, 0, BPF_EXIST);
	d_update(m, 0, BPF_NOEXIST);
	d_compare_all(m, "when full");
	d_next_existing(m);
	d_next_missing(m, max + 5);
	d_delete(m, max / 2);
	d_update(m, max, BPF_NOEXIST);	/* a slot is free again (hash) */
	d_compare_all(m, "after delete + insert in a full map");
}

static void random_ops(struct dm *m, unsigned nops)
{
	uint32_t range = m->max + m->max / 2 + 1;
	char when[48];

	if (m->ks == 1 && range > 256)
		range = 256;
	for (unsigned i = 0; i < nops; i++) {
		uint64_t r = rnd(&m->rng);
		uint32_t ki = (uint32_t)((r >> 8) % range);
		static const uint64_t flags[] = { BPF_ANY, BPF_ANY, BPF_NOEXIST, BPF_EXIST };

		switch (r % 20) {
		case 0 ... 7: d_update(m, ki, flags[(r >> 40) & 3]); break;
		case 8 ... 11: d_lookup(m, ki); break;
		case 12 ... 15: d_delete(m, ki); break;
		case 16 ... 17: d_lad(m, ki, 0); break;
		case 18: d_next_missing(m, 2 * m->max + 7); break;	/* outside the key range */
		case 19:
			if (i % 4 == 0) {
				snprintf(when, sizeof(when), "after random op %u", i);
				d_compare_all(m, when);
			}
			break;
		}
	}
	d_compare_all(m, "after the random ops");
}

/* ---- freeze ---- */

static void d_freeze(struct dm *m)
{
	int rc[2];

	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "freeze", BE[b]->freeze(m->fd[b]));
	SAME_RC(m, "freeze", rc);
	d_update(m, 0, BPF_ANY);
	d_update(m, m->max - 1, BPF_EXIST);
	d_delete(m, 0);
	d_lad(m, 0, 0);
	d_lookup(m, 0);
	d_update_batch(m, 0, 2, 0, 0);
	uint32_t kis[] = { 0 };
	d_delete_batch(m, kis, 1);
	d_compare_all(m, "after freeze");
	for (int b = 0; b < 2; b++)
		rc[b] = post(m, b, "freeze", BE[b]->freeze(m->fd[b]));
	SAME_RC(m, "freeze of a frozen map", rc);
}

UT_TEST(scripted_ops_vs_kernel)
{
	NEED_KERNEL();
	run_cfgs(script);
}

static void random_2000(struct dm *m)
{
	random_ops(m, 2000);
}

UT_TEST(random_ops_vs_kernel)
{
	NEED_KERNEL();
	run_cfgs(random_2000);
}

static void freeze_after_fill(struct dm *m)
{
	for (uint32_t i = 0; i < m->max; i += 2)
		d_update(m, i, BPF_ANY);
	d_freeze(m);
}

UT_TEST(freeze_vs_kernel)
{
	NEED_KERNEL();
	run_cfgs(freeze_after_fill);
}

/* ---- bad fds ---- */

/* Every map command with one fd; the rc of each is compared (no map, so no state). */
static void all_cmds_on(struct dm *m, const int fd[2], const char *what)
{
	uint8_t key[8] = { 0 }, val[64 * 64] = { 0 }, out[64];
	struct bpf_map_info info;
	char op[128];
	int rc[2];
	__u32 cnt[2], len[2];

#define ON_BOTH(name, call) do { snprintf(op, sizeof(op), "%s on %s", name, what); \
	for (int b = 0; b < 2; b++) { rc[b] = post(m, b, op, call); } SAME_RC(m, op, rc); } while (0)
	ON_BOTH("lookup", BE[b]->lookup(fd[b], key, val));
	ON_BOTH("update", BE[b]->update(fd[b], key, val, BPF_ANY));
	ON_BOTH("delete", BE[b]->del(fd[b], key));
	ON_BOTH("get_next_key", BE[b]->next_key(fd[b], NULL, out));
	ON_BOTH("lookup_and_delete", BE[b]->lad(fd[b], key, val));
	ON_BOTH("info", (len[b] = sizeof(info), BE[b]->info(fd[b], &info, &len[b])));
	ON_BOTH("lookup_batch",
		(cnt[b] = 1, BE[b]->lookup_batch(fd[b], NULL, out, key, val, &cnt[b], NULL)));
	ON_BOTH("update_batch", (cnt[b] = 1, BE[b]->update_batch(fd[b], key, val, &cnt[b], NULL)));
	ON_BOTH("delete_batch", (cnt[b] = 1, BE[b]->delete_batch(fd[b], key, &cnt[b], NULL)));
	ON_BOTH("freeze", BE[b]->freeze(fd[b]));
#undef ON_BOTH
}

UT_TEST(bad_fds_vs_kernel)
{
	NEED_KERNEL();
	struct dm m = { .label = "bad fds" };
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), pfd[2];
	LIBBPF_OPTS(bpf_map_create_opts, o);

	UT_CHECK(pipe(pfd) == 0, "pipe");
	all_cmds_on(&m, (int[2]){ -1, -1 }, "fd -1");
	all_cmds_on(&m, (int[2]){ 1000000, 1000000 }, "fd 1000000 (beyond the fd table)");
	all_cmds_on(&m, (int[2]){ 900, 900 }, "fd 900 (not open)");
	all_cmds_on(&m, (int[2]){ devnull, devnull }, "/dev/null");
	all_cmds_on(&m, (int[2]){ pfd[0], pfd[0] }, "a pipe");

	/* Each side's map fd is a non-map fd for the other side (kernel: EINVAL). */
	int ufd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "other", 4, 8, 4, &o);
	int kfd = k_map_create(BPF_MAP_TYPE_ARRAY, "other", 4, 8, 4, &o);
	UT_CHECK(ufd >= 0 && kfd >= 0, "create: %d %d", ufd, kfd);
	all_cmds_on(&m, (int[2]){ kfd, ufd }, "the other side's map fd");

	/*
	 * A map fd closed with plain close() and its number reused by another file: the fd
	 * is now /dev/null on both sides and must be refused like /dev/null.
	 */
	int fds[2] = { ufd, kfd };
	for (int b = 0; b < 2; b++) {
		close(fds[b]);
		int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
		UT_CHECK_EQ(nfd, fds[b]);	/* lowest free number: the one just closed */
	}
	all_cmds_on(&m, fds, "a closed map fd whose number now holds /dev/null");
	close(fds[0]);
	close(fds[1]);
	close(devnull);
	close(pfd[0]);
	close(pfd[1]);
	if (m.ndiv > MAX_PRINT)
		ut_fail(__FILE__, __LINE__, "%u more divergences not shown", m.ndiv - MAX_PRINT);
}

/* ---- BPF_OBJ_PIN / BPF_OBJ_GET where the kernel needs no bpffs to answer ---- */

static int u_obj(int cmd, const char *path, int fd, __u32 flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.pathname = PTR(path), a.bpf_fd = (__u32)fd, a.file_flags = flags;
	return u_raw(cmd, &a, ATTR_END(file_flags));
}

static int k_obj(int cmd, const char *path, int fd, __u32 flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.pathname = PTR(path), a.bpf_fd = (__u32)fd, a.file_flags = flags;
	return ksys(cmd, &a, ATTR_END(file_flags));
}

/*
 * The same absolute paths (outside /sys/fs/bpf, so uebpf uses them as given) for both:
 * files that are no bpf object are refused by the kernel with EACCES, missing ones with
 * ENOENT; pinning an fd that is no bpf object is EINVAL before any path is looked at.
 */
UT_TEST(obj_pin_get_vs_kernel)
{
	NEED_KERNEL();
	struct dm m = { .label = "obj pin/get" };
	char file[96], dir[96], missing[96], fifo[96], zeros[96], op[160];
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), rc[2];
	static uint8_t three_pages[3 * 4096];

	snprintf(file, sizeof(file), "%s/not-a-map", pin_root);
	snprintf(dir, sizeof(dir), "%s/a-dir", pin_root);
	snprintf(missing, sizeof(missing), "%s/missing", pin_root);
	snprintf(fifo, sizeof(fifo), "%s/a-fifo", pin_root);
	snprintf(zeros, sizeof(zeros), "%s/zeros", pin_root);
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	UT_CHECK(fd >= 0 && write(fd, "hello\n", 6) == 6, "write %s", file);
	close(fd);
	fd = open(zeros, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	UT_CHECK(fd >= 0 && write(fd, three_pages, sizeof(three_pages)) == sizeof(three_pages),
		 "write %s", zeros);
	close(fd);
	UT_CHECK(mkdir(dir, 0700) == 0, "mkdir");
	UT_CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
	const char *paths[] = { missing, file, zeros, dir, fifo, "/dev/null" };
	const char *names[] = { "a missing path", "a text file", "a file of three zero pages",
				"a directory", "a FIFO", "/dev/null" };
	/* Each with each file_flags: the fd's mode does not change why a file is refused. */
	static const __u32 fl[] = { 0, BPF_F_RDONLY, BPF_F_WRONLY };
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		for (size_t f = 0; f < ARRAY_LEN(fl); f++) {
			snprintf(op, sizeof(op), "obj_get(%s, file_flags 0x%x)", names[i], fl[f]);
			rc[0] = post(&m, 0, op, u_obj(BPF_OBJ_GET, paths[i], 0, fl[f]));
			rc[1] = k_obj(BPF_OBJ_GET, paths[i], 0, fl[f]);
			SAME_FD(&m, op, rc);
		}
	}
	rc[0] = u_obj(BPF_OBJ_GET, file, 0, BPF_F_RDONLY | BPF_F_WRONLY);
	rc[1] = k_obj(BPF_OBJ_GET, file, 0, BPF_F_RDONLY | BPF_F_WRONLY);
	SAME_FD(&m, "obj_get(file_flags RDONLY|WRONLY)", rc);
	int fds[] = { -1, devnull, 900 };
	const char *fdnames[] = { "fd -1", "/dev/null", "fd 900 (not open)" };
	for (size_t i = 0; i < ARRAY_LEN(fds); i++) {
		snprintf(op, sizeof(op), "obj_pin(%s)", fdnames[i]);
		rc[0] = post(&m, 0, op, u_obj(BPF_OBJ_PIN, missing, fds[i], 0));
		rc[1] = k_obj(BPF_OBJ_PIN, missing, fds[i], 0);
		SAME_FD(&m, op, rc);
	}
	for (int b = 0; b < 2; b++)
		if (rc[b] >= 0)
			close(rc[b]);
	close(devnull);
	unlink(file);
	unlink(zeros);
	unlink(fifo);
	rmdir(dir);
}

/* ---- what each fd of a map may do: creation flags, BPF_OBJ_GET, BPF_MAP_GET_FD_BY_ID ---- */

#include <sched.h>
#include <sys/mount.h>

/*
 * A bpffs for the kernel's pins, in a mount namespace of this process's own (nothing is
 * mounted for anyone else, and it goes when the process ends). NULL, with the reason, when
 * the kernel will not have it.
 */
static const char *kernel_bpffs(char *why, size_t n)
{
	static char dir[96];

	snprintf(dir, sizeof(dir), "%s/bpffs", pin_root);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mkdir(dir, 0700) || mount("bpf", dir, "bpf", 0, NULL)) {
		snprintf(why, n, "no bpffs for the kernel's pins (%s): needs root", strerror(errno));
		return NULL;
	}
	return dir;
}

static int u_fd_by_id(__u32 id, __u32 flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_id = id, a.open_flags = flags;
	return u_raw(BPF_MAP_GET_FD_BY_ID, &a, ATTR_END(open_flags));
}

static int k_fd_by_id(__u32 id, __u32 flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_id = id, a.open_flags = flags;
	return ksys(BPF_MAP_GET_FD_BY_ID, &a, ATTR_END(open_flags));
}

/* Every map command through one fd of each side; the answers (and bytes) must agree. */
static void d_through(struct dm *m, const int fd[2], const char *what)
{
	struct dm v = *m;
	struct bpf_map_info info[2];
	__u32 len[2], cnt[2];
	uint8_t keys[2][16 * 8], vals[2][16 * 64], out[2][8];
	int rc[2];

	snprintf(v.label, sizeof(v.label), "%.100s via %.80s", m->label, what);
	v.fd[0] = fd[0], v.fd[1] = fd[1], v.ndiv = 0;
	d_update(&v, 0, BPF_ANY);
	d_lookup(&v, 0);
	d_next_missing(&v, v.max + 3);
	d_update(&v, 1, BPF_ANY);
	d_delete(&v, 1);
	d_lad(&v, 0, 0);
	for (int b = 0; b < 2; b++) {
		memset(&info[b], 0, sizeof(info[b]));
		len[b] = sizeof(info[b]);
		rc[b] = post(&v, b, "info", BE[b]->info(fd[b], &info[b], &len[b]));
	}
	if (SAME_RC(&v, "info", rc) && !rc[0] && info[0].map_flags != info[1].map_flags)
		DIVERGE(&v, "info: map_flags uebpf 0x%x, kernel 0x%x", info[0].map_flags,
			info[1].map_flags);
	for (int b = 0; b < 2; b++) {
		cnt[b] = v.max;
		rc[b] = post(&v, b, "lookup_batch",
			     BE[b]->lookup_batch(fd[b], NULL, out[b], keys[b], vals[b], &cnt[b], NULL));
	}
	SAME_RC(&v, "lookup_batch (all)", rc);
	if (v.ndiv > MAX_PRINT)
		ut_fail(__FILE__, __LINE__, "[%s] %u more divergences not shown", v.label,
			v.ndiv - MAX_PRINT);
	m->rng = v.rng;
}

/*
 * The kernel's rule (checked here against it): BPF_F_RDONLY / BPF_F_WRONLY belong to an fd,
 * never to the map. A map created with BPF_F_RDONLY gives a read-only first fd, but a later
 * BPF_OBJ_GET or BPF_MAP_GET_FD_BY_ID fd has whatever mode it asks for; a BPF_F_WRONLY fd
 * can update and delete but not look up, walk or lookup_and_delete; and freezing needs a
 * writable fd and takes writing away from every fd.
 */
UT_TEST(fd_access_vs_kernel)
{
	NEED_KERNEL();
	char why[160], path[2][160];
	const char *bpffs = kernel_bpffs(why, sizeof(why));

	if (!bpffs) {
		ut_skip("%s", why);
		return;
	}
	static const struct cfg maps[] = {
		{ H, 4, 8, 16, 0 }, { H, 4, 8, 16, BPF_F_RDONLY }, { H, 4, 8, 16, BPF_F_WRONLY },
		{ A, 4, 8, 16, 0 }, { A, 4, 8, 16, BPF_F_RDONLY }, { A, 4, 8, 16, BPF_F_WRONLY },
	};
	static const __u32 modes[] = { 0, BPF_F_RDONLY, BPF_F_WRONLY, BPF_F_RDONLY | BPF_F_WRONLY,
				       1u << 5 };
	for (size_t i = 0; i < ARRAY_LEN(maps); i++) {
		struct dm m;
		int rc[2], fds[2][2 * ARRAY_LEN(modes)], nfds = 0;
		char what[96];
		__u32 id[2];

		if (dm_open(&m, maps[i].type, maps[i].ks, maps[i].vs, maps[i].max, maps[i].flags,
			    i + 1))
			continue;
		d_through(&m, m.fd, "the creating fd");
		snprintf(path[0], sizeof(path[0]), "%s/acc%zu", pin_root, i);
		snprintf(path[1], sizeof(path[1]), "%s/acc%zu", bpffs, i);
		rc[0] = post(&m, 0, "pin", u_obj(BPF_OBJ_PIN, path[0], m.fd[0], 0));
		rc[1] = k_obj(BPF_OBJ_PIN, path[1], m.fd[1], 0);
		if (!SAME_RC(&m, "pin", rc) || rc[0]) {
			dm_close(&m);
			continue;
		}
		for (int b = 0; b < 2; b++) {
			struct bpf_map_info info = { 0 };
			__u32 len = sizeof(info);
			BE[b]->info(m.fd[b], &info, &len);
			id[b] = info.id;
		}
		for (size_t f = 0; f < ARRAY_LEN(modes); f++) {
			for (int how = 0; how < 2; how++) {
				snprintf(what, sizeof(what), "%s(file_flags 0x%x)",
					 how ? "get_fd_by_id" : "obj_get", modes[f]);
				rc[0] = how ? u_fd_by_id(id[0], modes[f])
					    : u_obj(BPF_OBJ_GET, path[0], 0, modes[f]);
				rc[1] = how ? k_fd_by_id(id[1], modes[f])
					    : k_obj(BPF_OBJ_GET, path[1], 0, modes[f]);
				if (SAME_FD(&m, what, rc) && rc[0] >= 0)
					d_through(&m, rc, what);
				fds[0][nfds] = rc[0], fds[1][nfds++] = rc[1];
			}
		}
		/* Freezing: a read-only fd may not (EPERM), a write-only one may; then every fd
		 * has lost writing, the creating one included. */
		int ro[2] = { u_obj(BPF_OBJ_GET, path[0], 0, BPF_F_RDONLY),
			      k_obj(BPF_OBJ_GET, path[1], 0, BPF_F_RDONLY) };
		int wo[2] = { u_obj(BPF_OBJ_GET, path[0], 0, BPF_F_WRONLY),
			      k_obj(BPF_OBJ_GET, path[1], 0, BPF_F_WRONLY) };
		for (int b = 0; b < 2; b++)
			rc[b] = post(&m, b, "freeze", BE[b]->freeze(ro[b]));
		SAME_RC(&m, "freeze through a BPF_F_RDONLY fd", rc);
		for (int b = 0; b < 2; b++)
			rc[b] = post(&m, b, "freeze", BE[b]->freeze(wo[b]));
		SAME_RC(&m, "freeze through a BPF_F_WRONLY fd", rc);
		d_through(&m, wo, "a BPF_F_WRONLY fd, frozen");
		d_through(&m, m.fd, "the creating fd, frozen");
		for (int b = 0; b < 2; b++) {
			close(ro[b]), close(wo[b]);
			for (int j = 0; j < nfds; j++)
				if (fds[b][j] >= 0)
					close(fds[b][j]);
		}
		unlink(path[0]);
		unlink(path[1]);
		dm_close(&m);
	}
	/* Gone before the pin root is removed at exit (bpffs keeps files rm cannot remove). */
	if (umount2(bpffs, MNT_DETACH) == 0)
		rmdir(bpffs);
}
