/*
 * ub_hash: BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_PERCPU_HASH in shared memory.
 *
 * Layout of the data region (all references are element indices, never pointers):
 *   struct hash_ctl | buckets[nbuckets] | elements[nelems] | free ring[nelems]
 * Buckets are chains ended by a "nulls" marker that names the bucket (as the kernel's
 * hlist_nulls): lookups take no lock, and a reader that followed an element which was
 * deleted and reused in another chain notices it ended in the wrong bucket and restarts.
 * Writers lock one bucket. An update of an existing key links a fresh element in place
 * of the old one, so a lock-free reader sees the old value or the new one, never a mix.
 * Freed elements go to the tail of a FIFO ring and are reused last, and element memory
 * stays mapped for the life of the map: a value pointer held by a running program never
 * points at unmapped memory (the guarantee of the kernel's preallocated maps).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "maps/map.h"
#include "vm/vm.h"

#define NULLS		0x80000000u	/* chain end marker; low bits: the bucket's index */
#define MAX_KEY		512u		/* MAX_BPF_STACK: keys live on the program stack */
#define MAX_VALUE	(4u << 20)

struct hash_ctl {
	uint32_t free_lock;
	uint32_t count;			/* live elements */
	uint32_t nbuckets;		/* power of two */
	uint32_t nelems;		/* max_entries + spares for replacing updates */
	uint32_t elem_size;
	uint32_t key_stride;
	uint64_t free_head;		/* FIFO of free element indices, positions mod nelems */
	uint64_t free_tail;
	uint64_t seed;
	uint64_t buckets_off, elems_off, ring_off;
};

struct hash_bucket {
	uint32_t head;
	uint32_t lock;
};

struct hash_elem {
	uint32_t next;
	uint32_t hash;
	uint8_t key[];			/* key, padded to 8, then the value(s) */
};

/* Computed once from the validated header, never from the shared control block. */
struct hash_geom {
	uint32_t nbuckets, nelems, elem_size, key_stride, value_stride, nvalues;
	struct hash_ctl *ctl;
	struct hash_bucket *buckets;
	uint8_t *elems;
	uint32_t *ring;
};

static int hash_is_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static uint32_t roundup_pow2(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

static void geom_of(const struct ub_shm_hdr *h, struct hash_geom *g)
{
	g->key_stride = (h->key_size + 7) & ~7u;
	g->value_stride = (h->value_size + 7) & ~7u;
	g->nvalues = hash_is_percpu(h->map_type) ? h->nr_cpus : 1;
	g->elem_size = (uint32_t)sizeof(struct hash_elem) + g->key_stride + g->value_stride * g->nvalues;
	g->nbuckets = roundup_pow2(h->max_entries);
	g->nelems = h->max_entries + 2 * h->nr_cpus + 16;
}

static size_t layout(const struct ub_shm_hdr *h, struct hash_geom *g, size_t *boff, size_t *eoff,
		     size_t *roff)
{
	geom_of(h, g);
	*boff = (sizeof(struct hash_ctl) + 63) & ~(size_t)63;
	*eoff = *boff + (size_t)g->nbuckets * sizeof(struct hash_bucket);
	*roff = *eoff + (size_t)g->nelems * g->elem_size;
	return *roff + (size_t)g->nelems * sizeof(uint32_t);
}

static int hash_check(const union bpf_attr *attr)
{
	const uint32_t allowed = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE |
				 BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_ZERO_SEED |
				 BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG | BPF_F_INNER_MAP;

	if (attr->max_entries == 0 || attr->key_size == 0 || attr->value_size == 0 ||
	    (attr->map_flags & ~allowed) || (attr->map_flags & BPF_F_NO_COMMON_LRU))
		return -EINVAL;
	if (attr->key_size > MAX_KEY || attr->value_size > MAX_VALUE)
		return -E2BIG;
	if (attr->max_entries > (1u << 30))
		return -E2BIG;
	return 0;
}

static size_t hash_data_size(const struct ub_shm_hdr *h)
{
	struct hash_geom g;
	size_t b, e, r;
	return layout(h, &g, &b, &e, &r);
}

static int geom_bind(struct ub_map *map)
{
	struct hash_geom *g = calloc(1, sizeof(*g));
	size_t b, e, r;

	if (!g)
		return -ENOMEM;
	layout(map->hdr, g, &b, &e, &r);
	g->ctl = (struct hash_ctl *)map->data;
	g->buckets = (struct hash_bucket *)(map->data + b);
	g->elems = map->data + e;
	g->ring = (uint32_t *)(map->data + r);
	map->priv = g;
	return 0;
}

static int hash_init(struct ub_map *map)
{
	int err = geom_bind(map);
	if (err)
		return err;
	struct hash_geom *g = map->priv;
	struct hash_ctl *c = g->ctl;
	size_t b, e, r;
	struct timespec ts;

	layout(map->hdr, g, &b, &e, &r);
	*c = (struct hash_ctl){ .nbuckets = g->nbuckets, .nelems = g->nelems,
				.elem_size = g->elem_size, .key_stride = g->key_stride,
				.free_tail = g->nelems, .buckets_off = b, .elems_off = e,
				.ring_off = r };
	if (!(map->flags & BPF_F_ZERO_SEED)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		c->seed = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uintptr_t)map;
	}
	for (uint32_t i = 0; i < g->nbuckets; i++)
		g->buckets[i].head = NULLS | i;
	for (uint32_t i = 0; i < g->nelems; i++)
		g->ring[i] = i;
	return 0;
}

/* A pinned file from elsewhere: its control block must agree with its header. */
static int hash_validate(const struct ub_map *cmap)
{
	struct ub_map *map = (struct ub_map *)cmap;
	if (geom_bind(map))
		return -ENOMEM;
	struct hash_geom *g = map->priv;
	const struct hash_ctl *c = g->ctl;
	size_t b, e, r;

	layout(map->hdr, g, &b, &e, &r);
	if (c->nbuckets != g->nbuckets || c->nelems != g->nelems || c->elem_size != g->elem_size ||
	    c->key_stride != g->key_stride || c->buckets_off != b || c->elems_off != e ||
	    c->ring_off != r || c->count > map->max_entries ||
	    c->free_tail - c->free_head > g->nelems)
		return -EINVAL;
	return 0;
}

static inline struct hash_elem *elem_at(const struct hash_geom *g, uint32_t i)
{
	return (struct hash_elem *)(g->elems + (size_t)i * g->elem_size);
}

static inline uint8_t *elem_value(const struct hash_geom *g, struct hash_elem *e)
{
	return e->key + g->key_stride;
}

static uint32_t hash_key(const struct hash_geom *g, const void *key, uint32_t len)
{
	const uint8_t *p = key;
	uint64_t h = g->ctl->seed ^ (len * 0x9E3779B97F4A7C15ull);
	uint64_t w;

	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	}
	h ^= h >> 29;
	h *= 0x9E3779B97F4A7C15ull;
	return (uint32_t)(h >> 32);
}

/*
 * Lock-free search. An index read from shared memory is bounds-checked before use, so a
 * corrupt file can make a lookup miss, never read outside the map.
 */
static struct hash_elem *find(const struct hash_geom *g, const void *key, uint32_t ksz,
			      uint32_t hash)
{
	uint32_t b = hash & (g->nbuckets - 1);
	unsigned restarts = 0;
again:;
	uint32_t n = __atomic_load_n(&g->buckets[b].head, __ATOMIC_ACQUIRE);
	for (uint32_t steps = 0; !(n & NULLS); steps++) {
		if (n >= g->nelems || steps > g->nelems)
			return NULL;
		struct hash_elem *e = elem_at(g, n);
		if (e->hash == hash && !memcmp(e->key, key, ksz))
			return e;
		n = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
	}
	if ((n & ~NULLS) != b && ++restarts < 64)
		goto again;	/* drifted into another chain through a reused element */
	return NULL;
}

static unsigned cur_cpu(const struct ub_map *map)
{
	unsigned cpu = ub_run_cur ? ub_run_cur->cpu : 0;
	return cpu < map->nr_cpus ? cpu : 0;
}

static void *hash_lookup(struct ub_map *map, const void *key)
{
	struct hash_geom *g = map->priv;
	struct hash_elem *e = find(g, key, map->key_size, hash_key(g, key, map->key_size));

	if (!e)
		return NULL;
	return elem_value(g, e) + (g->nvalues > 1 ? cur_cpu(map) * g->value_stride : 0);
}

static int hash_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	struct hash_geom *g = map->priv;
	struct hash_elem *e = find(g, key, map->key_size, hash_key(g, key, map->key_size));

	if (!e)
		return -ENOENT;
	if (g->nvalues == 1)
		memcpy(value, elem_value(g, e), map->value_size);
	else
		memcpy(value, elem_value(g, e), (size_t)g->nvalues * g->value_stride);
	return 0;
}

/* The free ring: FIFO, so a freed element is reused as late as possible. */
static int elem_alloc(struct hash_geom *g, uint32_t *idx)
{
	struct hash_ctl *c = g->ctl;
	int ok = 0;

	ub_shm_lock(&c->free_lock);
	if (c->free_head != c->free_tail) {
		*idx = g->ring[c->free_head % g->nelems];
		c->free_head++;
		ok = *idx < g->nelems;
	}
	ub_shm_unlock(&c->free_lock);
	return ok;
}

static void elem_free(struct hash_geom *g, uint32_t idx)
{
	struct hash_ctl *c = g->ctl;

	ub_shm_lock(&c->free_lock);
	if (c->free_tail - c->free_head < g->nelems) {
		g->ring[c->free_tail % g->nelems] = idx;
		c->free_tail++;
	}
	ub_shm_unlock(&c->free_lock);
}

/* Where the link to element `target` lives in bucket b (under the bucket lock). */
static uint32_t *link_to(struct hash_geom *g, uint32_t b, uint32_t target)
{
	uint32_t *link = &g->buckets[b].head;
	for (uint32_t steps = 0; !(*link & NULLS) && *link < g->nelems && steps <= g->nelems; steps++) {
		if (*link == target)
			return link;
		link = &elem_at(g, *link)->next;
	}
	return NULL;
}

enum { VALUE_ALL, VALUE_ONE_CPU };

static void fill_value(struct ub_map *map, struct hash_geom *g, struct hash_elem *e,
		       struct hash_elem *old, const void *value, int how)
{
	uint8_t *v = elem_value(g, e);

	if (g->nvalues == 1) {
		memcpy(v, value, map->value_size);
		return;
	}
	if (how == VALUE_ALL) {
		for (uint32_t c = 0; c < g->nvalues; c++)
			memcpy(v + c * g->value_stride, (const uint8_t *)value + c * g->value_stride,
			       map->value_size);
		return;
	}
	/* A program writes its own CPU's value; the others keep theirs (or start at zero). */
	if (old)
		memcpy(v, elem_value(g, old), (size_t)g->nvalues * g->value_stride);
	else
		memset(v, 0, (size_t)g->nvalues * g->value_stride);
	memcpy(v + cur_cpu(map) * g->value_stride, value, map->value_size);
}

static int hash_update_how(struct ub_map *map, const void *key, const void *value,
			   uint64_t flags, int how)
{
	struct hash_geom *g = map->priv;
	uint32_t hash = hash_key(g, key, map->key_size);
	uint32_t b = hash & (g->nbuckets - 1);
	uint64_t mode = flags & ~(uint64_t)BPF_F_LOCK;
	uint32_t idx;
	int err = 0;

	if (mode > BPF_EXIST)
		return -EINVAL;
	if (flags & BPF_F_LOCK)
		return -EINVAL;	/* no bpf_spin_lock in the value (needs BTF) */
	ub_shm_lock(&g->buckets[b].lock);
	struct hash_elem *old = find(g, key, map->key_size, hash);
	if (old && mode == BPF_NOEXIST)
		err = -EEXIST;
	else if (!old && mode == BPF_EXIST)
		err = -ENOENT;
	else if (!old && __atomic_load_n(&g->ctl->count, __ATOMIC_RELAXED) >= map->max_entries)
		err = -E2BIG;
	else if (!elem_alloc(g, &idx))
		err = old ? -EBUSY : -E2BIG;
	if (err) {
		ub_shm_unlock(&g->buckets[b].lock);
		return err;
	}
	struct hash_elem *e = elem_at(g, idx);
	e->hash = hash;
	memcpy(e->key, key, map->key_size);
	fill_value(map, g, e, old, value, how);
	if (old) {
		uint32_t old_idx = (uint32_t)(((uint8_t *)old - g->elems) / g->elem_size);
		uint32_t *link = link_to(g, b, old_idx);
		e->next = old->next;
		if (link)
			__atomic_store_n(link, idx, __ATOMIC_RELEASE);
		ub_shm_unlock(&g->buckets[b].lock);
		elem_free(g, old_idx);
		return 0;
	}
	e->next = g->buckets[b].head;
	__atomic_store_n(&g->buckets[b].head, idx, __ATOMIC_RELEASE);
	__atomic_add_fetch(&g->ctl->count, 1, __ATOMIC_RELAXED);
	ub_shm_unlock(&g->buckets[b].lock);
	return 0;
}

static int hash_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	return hash_update_how(map, key, value, flags, VALUE_ALL);
}

static int hash_update_elem(struct ub_map *map, const void *key, const void *value,
			    uint64_t flags)
{
	return hash_update_how(map, key, value, flags, VALUE_ONE_CPU);
}

static int hash_delete(struct ub_map *map, const void *key)
{
	struct hash_geom *g = map->priv;
	uint32_t hash = hash_key(g, key, map->key_size);
	uint32_t b = hash & (g->nbuckets - 1);

	ub_shm_lock(&g->buckets[b].lock);
	struct hash_elem *e = find(g, key, map->key_size, hash);
	uint32_t idx = e ? (uint32_t)(((uint8_t *)e - g->elems) / g->elem_size) : 0;
	uint32_t *link = e ? link_to(g, b, idx) : NULL;
	if (link) {
		/* e->next stays intact: a reader standing on e still reaches the chain's end. */
		__atomic_store_n(link, e->next, __ATOMIC_RELEASE);
		__atomic_sub_fetch(&g->ctl->count, 1, __ATOMIC_RELAXED);
	}
	ub_shm_unlock(&g->buckets[b].lock);
	if (!link)
		return -ENOENT;
	elem_free(g, idx);
	return 0;
}

static uint32_t first_in(const struct hash_geom *g, uint32_t b)
{
	for (; b < g->nbuckets; b++) {
		uint32_t n = __atomic_load_n(&g->buckets[b].head, __ATOMIC_ACQUIRE);
		if (!(n & NULLS) && n < g->nelems)
			return n;
	}
	return NULLS;
}

/* As the kernel: the element after `key` in bucket order; a missing key restarts. */
static int hash_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	struct hash_geom *g = map->priv;
	uint32_t n = NULLS;

	if (key) {
		uint32_t hash = hash_key(g, key, map->key_size);
		struct hash_elem *e = find(g, key, map->key_size, hash);
		if (e) {
			n = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);
			if (n & NULLS)
				n = first_in(g, (hash & (g->nbuckets - 1)) + 1);
			if (n & NULLS)
				return -ENOENT;
		}
	}
	if (n & NULLS)
		n = first_in(g, 0);
	if (n & NULLS || n >= g->nelems)
		return -ENOENT;
	memcpy(next_key, elem_at(g, n)->key, map->key_size);
	return 0;
}

#define HASH_OPS(name) { \
	.check = hash_check, .data_size = hash_data_size, .init = hash_init, \
	.validate = hash_validate, .lookup = hash_lookup, .lookup_user = hash_lookup_user, \
	.update = hash_update, .update_elem = hash_update_elem, .delete = hash_delete, \
	.get_next_key = hash_get_next_key }

const struct ub_map_ops ub_hash_ops = HASH_OPS(hash);
const struct ub_map_ops ub_percpu_hash_ops = HASH_OPS(percpu_hash);
