/*
 * ub_bloom: BPF_MAP_TYPE_BLOOM_FILTER, as the kernel's bloom_filter.c, bit for bit: the
 * same bit-array size, the same jhash/jhash2 with seed + i for hash function i, so a filter
 * made with BPF_F_ZERO_SEED answers exactly as the kernel's, false positives included.
 * Layout: struct bloom_ctl | bit array (u64 words; bit h is bit h % 64 of word h / 64).
 * Push sets bits with atomic ORs and peek reads them, so neither takes a lock (the kernel's
 * set_bit/test_bit). The geometry used at run time is process-local, computed from the
 * validated header, never read back from the file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "maps/map.h"

#define KMALLOC_MAX	(4u << 20)	/* x86-64 KMALLOC_MAX_SIZE: the kernel's bound on a value */
#define BITS_OFF	64u
#define DEFAULT_FUNCS	5u		/* map_extra's low 4 bits; 0 means this */

struct bloom_ctl {
	uint32_t nr_hash_funcs;
	uint32_t bitset_mask;
	uint32_t seed;
	uint32_t pad;
	uint64_t bitset_bytes;
};

struct bloom_geom {
	uint32_t nr_hash_funcs, bitset_mask, seed, aligned_u32_count;
	uint64_t bitset_bytes;
	uint64_t *bits;
};

/* Sizes as bloom_map_alloc(): about n * k / ln(2) bits (7/5 for 1/ln 2), a power of two. */
static void bloom_shape(uint32_t max_entries, uint64_t map_extra, struct bloom_geom *g)
{
	uint32_t k = (uint32_t)(map_extra & 0xf) ? (uint32_t)(map_extra & 0xf) : DEFAULT_FUNCS;
	uint64_t nr = (uint64_t)max_entries * k;

	g->nr_hash_funcs = k;
	if (nr > UINT32_MAX || (nr / 5) * 7 > UINT32_MAX || (nr / 5) * 7 > (1ull << 31)) {
		/* 2^32 bits, with U32_MAX as the mask (the kernel's overflow case) */
		g->bitset_mask = UINT32_MAX;
		g->bitset_bytes = (UINT32_MAX / 8) + 1;
		return;
	}
	nr = (nr / 5) * 7;
	if (nr <= 64)
		nr = 64;
	else
		nr = 1ull << (64 - __builtin_clzll(nr - 1));
	g->bitset_mask = (uint32_t)(nr - 1);
	g->bitset_bytes = nr / 8;	/* a multiple of 8: whole u64 words */
}

/* bloom_map_alloc_check() (the value bound, E2BIG) runs first, then bloom_map_alloc(). */
static int bloom_check(const union bpf_attr *attr)
{
	const uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | BPF_F_RDONLY | BPF_F_WRONLY |
				 BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;

	if (attr->value_size > KMALLOC_MAX)
		return -E2BIG;
	if (attr->key_size != 0 || attr->value_size == 0 || attr->max_entries == 0 ||
	    (attr->map_flags & ~allowed) || (attr->map_extra & ~0xfull))
		return -EINVAL;
	return 0;
}

static size_t bloom_data_size(const struct ub_shm_hdr *h)
{
	struct bloom_geom g;

	bloom_shape(h->max_entries, h->map_extra, &g);
	return BITS_OFF + g.bitset_bytes;
}

static int bloom_bind(struct ub_map *map)
{
	struct bloom_geom *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	bloom_shape(map->max_entries, map->hdr->map_extra, g);
	/* Values of whole u32 words hash with jhash2, others with jhash (kernel's choice). */
	g->aligned_u32_count = map->value_size % 4 ? 0 : map->value_size / 4;
	g->bits = (uint64_t *)(map->data + BITS_OFF);
	map->priv = g;
	return 0;
}

static uint32_t random_seed(void)
{
	uint32_t s;
	struct timespec ts;

	if (getentropy(&s, sizeof(s)) == 0)
		return s;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_nsec * 2654435761u) ^ (uint32_t)getpid();
}

static int bloom_init(struct ub_map *map)
{
	int err = bloom_bind(map);
	if (err)
		return err;
	struct bloom_geom *g = map->priv;
	struct bloom_ctl *c = (struct bloom_ctl *)map->data;

	g->seed = (map->flags & BPF_F_ZERO_SEED) ? 0 : random_seed();
	*c = (struct bloom_ctl){ .nr_hash_funcs = g->nr_hash_funcs, .bitset_mask = g->bitset_mask,
				 .seed = g->seed, .bitset_bytes = g->bitset_bytes };
	return 0;
}

/* A pinned file: its control block must describe the filter its header asks for. */
static int bloom_validate(const struct ub_map *cmap)
{
	struct ub_map *map = (struct ub_map *)cmap;
	if (bloom_bind(map))
		return -ENOMEM;
	struct bloom_geom *g = map->priv;
	const struct bloom_ctl *c = (const struct bloom_ctl *)map->data;

	/* The bit array must lie in the mapping even if the header changed after its check. */
	if (BITS_OFF + g->bitset_bytes > map->map_size - UB_SHM_HDR_SIZE ||
	    c->nr_hash_funcs != g->nr_hash_funcs || c->bitset_mask != g->bitset_mask ||
	    c->bitset_bytes != g->bitset_bytes || ((map->flags & BPF_F_ZERO_SEED) && c->seed))
		return -EINVAL;
	g->seed = c->seed;	/* any seed is safe: it only picks bits inside the mask */
	return 0;
}

/* ---- the kernel's jhash (include/linux/jhash.h) ---- */

#define JHASH_INITVAL	0xdeadbeefu

static inline uint32_t rol32(uint32_t w, unsigned s)
{
	return (w << s) | (w >> ((32 - s) & 31));
}

#define JHASH_MIX(a, b, c) do { \
	a -= c; a ^= rol32(c, 4);  c += b; \
	b -= a; b ^= rol32(a, 6);  a += c; \
	c -= b; c ^= rol32(b, 8);  b += a; \
	a -= c; a ^= rol32(c, 16); c += b; \
	b -= a; b ^= rol32(a, 19); a += c; \
	c -= b; c ^= rol32(b, 4);  b += a; } while (0)

#define JHASH_FINAL(a, b, c) do { \
	c ^= b; c -= rol32(b, 14); \
	a ^= c; a -= rol32(c, 11); \
	b ^= a; b -= rol32(a, 25); \
	c ^= b; c -= rol32(b, 16); \
	a ^= c; a -= rol32(c, 4);  \
	b ^= a; b -= rol32(a, 14); \
	c ^= b; c -= rol32(b, 24); } while (0)

static inline uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);	/* the kernel's get_unaligned on a little-endian host */
	return v;
}

static uint32_t jhash(const uint8_t *k, uint32_t length, uint32_t initval)
{
	uint32_t a, b, c;

	a = b = c = JHASH_INITVAL + length + initval;
	for (; length > 12; length -= 12, k += 12) {
		a += get_u32(k);
		b += get_u32(k + 4);
		c += get_u32(k + 8);
		JHASH_MIX(a, b, c);
	}
	if (!length)
		return c;
	/* The last 1..12 bytes, little-endian within each word, as the kernel's switch. */
	uint32_t w[3] = { 0, 0, 0 };
	for (uint32_t i = 0; i < length; i++)
		w[i / 4] += (uint32_t)k[i] << (8 * (i % 4));
	a += w[0];
	b += w[1];
	c += w[2];
	JHASH_FINAL(a, b, c);
	return c;
}

static uint32_t jhash2(const uint8_t *k, uint32_t words, uint32_t initval)
{
	uint32_t a, b, c;

	a = b = c = JHASH_INITVAL + (words << 2) + initval;
	for (; words > 3; words -= 3, k += 12) {
		a += get_u32(k);
		b += get_u32(k + 4);
		c += get_u32(k + 8);
		JHASH_MIX(a, b, c);
	}
	switch (words) {
	case 3: c += get_u32(k + 8);	/* fall through */
	case 2: b += get_u32(k + 4);	/* fall through */
	case 1: a += get_u32(k);
		JHASH_FINAL(a, b, c);
		break;
	default:
		break;
	}
	return c;
}

static uint32_t bloom_hash(const struct ub_map *map, const struct bloom_geom *g,
			   const void *value, uint32_t i)
{
	uint32_t h = g->aligned_u32_count ? jhash2(value, g->aligned_u32_count, g->seed + i)
					  : jhash(value, map->value_size, g->seed + i);
	return h & g->bitset_mask;	/* the mask keeps h inside the bit array */
}

static int bloom_push(struct ub_map *map, const void *value, uint64_t flags)
{
	const struct bloom_geom *g = map->priv;

	if (flags != BPF_ANY)
		return -EINVAL;
	for (uint32_t i = 0; i < g->nr_hash_funcs; i++) {
		uint32_t h = bloom_hash(map, g, value, i);
		__atomic_fetch_or(&g->bits[h / 64], 1ull << (h % 64), __ATOMIC_RELAXED);
	}
	return 0;
}

/* 0: maybe present; -ENOENT: certainly absent. */
static int bloom_peek(struct ub_map *map, void *value)
{
	const struct bloom_geom *g = map->priv;

	for (uint32_t i = 0; i < g->nr_hash_funcs; i++) {
		uint32_t h = bloom_hash(map, g, value, i);
		if (!(__atomic_load_n(&g->bits[h / 64], __ATOMIC_RELAXED) & (1ull << (h % 64))))
			return -ENOENT;
	}
	return 0;
}

/* Elements cannot be taken out or listed: the kernel's errors for each operation. */
static int bloom_pop(struct ub_map *map, void *value)
{
	return -EOPNOTSUPP;
}

static int bloom_delete(struct ub_map *map, const void *key)
{
	return -EOPNOTSUPP;
}

static int bloom_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	return -EOPNOTSUPP;
}

/* Programs use map_peek_elem and map_push_elem; the keyed calls answer as the kernel's. */
static void *bloom_lookup(struct ub_map *map, const void *key)
{
	return NULL;
}

static int bloom_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	return -EINVAL;
}

/* A lookup from user space tests the value it is given (bpf_map_copy_value()). */
static int bloom_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	return bloom_peek(map, value);
}

const struct ub_map_ops ub_bloom_filter_ops = {
	.check = bloom_check,
	.data_size = bloom_data_size,
	.init = bloom_init,
	.validate = bloom_validate,
	.lookup = bloom_lookup,
	.lookup_user = bloom_lookup_user,
	.update = bloom_update,
	.update_elem = bloom_update,
	.delete = bloom_delete,
	.get_next_key = bloom_get_next_key,
	.push = bloom_push,
	.pop = bloom_pop,
	.peek = bloom_peek,
};
