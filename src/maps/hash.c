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
#include "maps/hash.h"
#include "maps/shm.h"
#include "vm/vm.h"

#define NULLS		0x80000000u	/* chain end marker; low bits: the bucket's index */
#define KMALLOC_MAX	(4ull << 20)	/* x86-64 KMALLOC_MAX_SIZE */
#define KERNEL_ELEM	48u		/* sizeof(struct htab_elem) in the kernel */
#define PCPU_MIN_UNIT	(32u << 10)	/* PCPU_MIN_UNIT_SIZE: bound of one per-CPU value */

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
	uint32_t repair;		/* a writer died holding a lock: see hash_repair */
	uint32_t pad;
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
	/* As htab_map_alloc_check() and htab_map_alloc() (HTAB_CREATE_FLAG_MASK). */
	const uint32_t allowed = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE |
				 BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_ZERO_SEED |
				 BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
	int percpu = hash_is_percpu(attr->map_type);

	if ((attr->map_flags & ~allowed) || (attr->map_flags & BPF_F_NO_COMMON_LRU) ||
	    (percpu && (attr->map_flags & BPF_F_NUMA_NODE)))
		return -EINVAL;
	if (attr->max_entries == 0 || attr->key_size == 0 || attr->value_size == 0)
		return -EINVAL;
	if ((uint64_t)attr->key_size + attr->value_size >= KMALLOC_MAX - KERNEL_ELEM)
		return -E2BIG;
	if (percpu && ((attr->value_size + 7ull) & ~7ull) > PCPU_MIN_UNIT)
		return -E2BIG;
	/* Buckets are 16 bytes in the kernel, whose bucket array must stay under 4 GiB. */
	if (attr->max_entries > (1u << 31) || roundup_pow2(attr->max_entries) > UINT32_MAX / 16)
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
		uint32_t w4;
		w = 0;
		if (len == 4) {	/* the common u32 key: one load (no byte loop, and no 4-byte
				 * store read back as 8, which stalls store forwarding) */
			memcpy(&w4, p, 4);
			w = w4;
		} else {
			memcpy(&w, p, len);
		}
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	}
	h ^= h >> 29;
	h *= 0x9E3779B97F4A7C15ull;
	return (uint32_t)(h >> 32);
}

/*
 * Writers killed in the middle of an update (SIGKILL) leave no torn element where readers
 * look: an element is filled before one release store links it, and unlinked by one store.
 * What they can leave is bookkeeping: an element taken from the free ring and not yet
 * linked, or unlinked and not yet given back, and `count` off by one. Every such step is
 * done under the bucket lock (elem_alloc and elem_free nest the free lock inside it), so
 * a writer that died in one died holding a lock. The next process to take that lock over
 * (ub_shm_lock_robust) sets `repair`; the next writer to unlock a bucket then repairs the
 * table with every lock held, when no update is half done: the free ring becomes exactly
 * the elements in no chain, `count` the elements in chains. A repairer that dies in turn
 * leaves `repair` set for the next one.
 */
static void chains_mark(const struct hash_geom *g, uint8_t *linked, uint32_t *count)
{
	*count = 0;
	for (uint32_t b = 0; b < g->nbuckets; b++) {
		uint32_t n = g->buckets[b].head;
		while (!(n & NULLS) && n < g->nelems && !linked[n]) {
			linked[n] = 1;
			(*count)++;
			n = elem_at(g, n)->next;
		}
	}
}

static void locks_all(struct hash_geom *g, int lock)
{
	for (uint32_t b = 0; b < g->nbuckets; b++)
		if (lock)
			(void)ub_shm_lock_robust(&g->buckets[b].lock);
		else
			ub_shm_unlock(&g->buckets[b].lock);
	if (lock)
		(void)ub_shm_lock_robust(&g->ctl->free_lock);
	else
		ub_shm_unlock(&g->ctl->free_lock);
}

/* `each`, when not NULL, is called for every linked element while every lock is held. */
static void hash_repair(struct hash_geom *g, void (*each)(void *arg, uint32_t idx), void *arg)
{
	struct hash_ctl *c = g->ctl;
	uint8_t *linked = calloc(g->nelems, 1);
	uint32_t count;

	if (!linked)
		return;		/* `repair` stays set: the next unlock tries again */
	locks_all(g, 1);
	chains_mark(g, linked, &count);
	/* free_head never goes back: lock-free copies (copy_lockless) use it as a sequence. */
	uint64_t tail = c->free_head;
	for (uint32_t i = 0; i < g->nelems; i++)
		if (!linked[i])
			g->ring[tail++ % g->nelems] = i;
	c->free_tail = tail;
	__atomic_store_n(&c->count, count, __ATOMIC_RELAXED);
	for (uint32_t i = 0; each && i < g->nelems; i++)
		if (linked[i])
			each(arg, i);
	__atomic_store_n(&c->repair, 0, __ATOMIC_RELEASE);
	locks_all(g, 0);
	free(linked);
}

static void bucket_lock(struct hash_geom *g, uint32_t b)
{
	if (ub_shm_lock_robust(&g->buckets[b].lock))
		__atomic_store_n(&g->ctl->repair, 1, __ATOMIC_RELAXED);
}

static void bucket_unlock(struct hash_geom *g, uint32_t b)
{
	ub_shm_unlock(&g->buckets[b].lock);
	if (__atomic_load_n(&g->ctl->repair, __ATOMIC_ACQUIRE))
		hash_repair(g, NULL, NULL);
}

/* A file opened for writing: locks whose holder is dead are taken over and repaired now,
 * not at the next update that happens to need them. */
static void reap_dead_writers(struct hash_geom *g)
{
	int dead = ub_shm_lock_reap(&g->ctl->free_lock);

	if (dead)
		ub_shm_unlock(&g->ctl->free_lock);
	for (uint32_t b = 0; b < g->nbuckets; b++)
		if (ub_shm_lock_reap(&g->buckets[b].lock)) {
			ub_shm_unlock(&g->buckets[b].lock);
			dead = 1;
		}
	if (dead || __atomic_load_n(&g->ctl->repair, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&g->ctl->repair, 1, __ATOMIC_RELAXED);
		hash_repair(g, NULL, NULL);
	}
}

void ub_hash_recover(struct ub_map *map)
{
	reap_dead_writers(map->priv);
}

void ub_hash_repair(struct ub_map *map, void (*each)(void *arg, uint32_t idx), void *arg)
{
	hash_repair(map->priv, each, arg);
}

/*
 * Whether element n can stand in chain b: a lookup of its key comes to this chain and
 * recognises it (its stored hash is its key's). Every element of a sound chain can.
 */
static int elem_fits(const struct ub_map *map, const struct hash_geom *g, uint32_t n,
		     uint32_t b)
{
	const struct hash_elem *e = elem_at(g, n);
	uint32_t hash = __atomic_load_n(&e->hash, __ATOMIC_RELAXED);

	return (hash & (g->nbuckets - 1)) == b && hash_key(g, e->key, map->key_size) == hash;
}

/*
 * Checks chain b of a file being opened: indices in range, every element fits the chain,
 * the chain ends with b's own nulls marker, and within `budget` elements (what the other
 * chains left of the pool: a chain that loops never ends, so it runs out). The walk is
 * lock-free (the file may be live in another process, and a read-only mapping cannot
 * lock), so a chain that changed under it is looked at again before it is called damaged.
 */
static int chain_sound(const struct ub_map *map, const struct hash_geom *g, uint32_t b,
		       uint32_t budget, uint32_t *len)
{
	for (unsigned tries = 0; tries < 8; tries++) {
		uint32_t n = __atomic_load_n(&g->buckets[b].head, __ATOMIC_ACQUIRE), steps = 0;
		while (!(n & NULLS) && steps < budget && n < g->nelems && elem_fits(map, g, n, b)) {
			steps++;
			n = __atomic_load_n(&elem_at(g, n)->next, __ATOMIC_ACQUIRE);
		}
		if (n == (NULLS | b)) {
			*len = steps;
			return 1;
		}
	}
	return 0;
}

/* A pinned file from elsewhere: its control block must agree with its header, its chains
 * must be sound (so that lookups and get_next_key walks end), its free ring in range. */
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
	uint32_t left = g->nelems;	/* chains share no element: together at most the pool */
	for (uint32_t i = 0; i < g->nbuckets; i++) {
		uint32_t len = 0;
		if (!chain_sound(map, g, i, left, &len))
			return -EINVAL;
		left -= len;
	}
	for (uint64_t i = c->free_head; i != c->free_tail; i++)
		if (__atomic_load_n(&g->ring[i % g->nelems], __ATOMIC_RELAXED) >= g->nelems)
			return -EINVAL;
	/* Only a file that passed every check is written; an LRU map checks its own part
	 * first and then calls ub_hash_recover itself. */
	if (!(map->flags & BPF_F_RDONLY) && map->type != BPF_MAP_TYPE_LRU_HASH &&
	    map->type != BPF_MAP_TYPE_LRU_PERCPU_HASH)
		reap_dead_writers(g);
	return 0;
}

/*
 * Lock-free readers (find, and the copy of copy_lockless) read elements that a writer may
 * be filling for a new owner at the same time: by design, as the kernel's RCU readers of
 * its hash table. What they read then is thrown away (a chain that ends in another
 * bucket's nulls marker is walked again; a copy during which an element was taken is made
 * again under the lock), which ThreadSanitizer cannot see: these readers are not
 * instrumented (the kernel marks such reads data_race() for its own race detector).
 */
#define LOCKFREE_READER __attribute__((no_sanitize("thread")))

/*
 * Under ThreadSanitizer user-space lookups copy under the bucket lock: the lock-free copy's
 * check (the free ring's head did not move) is a sequence lock, whose fences TSan does not
 * model. tests/test_maps_stress.c checks the lock-free copy for torn values in plain builds.
 */
#if defined(__SANITIZE_THREAD__)
#define LOCKFREE_USER_COPY 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOCKFREE_USER_COPY 0
#endif
#endif
#ifndef LOCKFREE_USER_COPY
#define LOCKFREE_USER_COPY 1
#endif

/* memcmp() for keys, with the usual sizes compared inline rather than by a call. */
LOCKFREE_READER static inline int keys_equal(const uint8_t *a, const void *b, uint32_t ksz)
{
	uint32_t x4, y4;
	uint64_t x8, y8;

	if (ksz == 4) {
		memcpy(&x4, a, 4), memcpy(&y4, b, 4);
		return x4 == y4;
	}
	if (ksz == 8) {
		memcpy(&x8, a, 8), memcpy(&y8, b, 8);
		return x8 == y8;
	}
	return !memcmp(a, b, ksz);
}

/*
 * Lock-free search. An index read from shared memory is bounds-checked before use, so a
 * corrupt file can make a lookup miss, never read outside the map.
 */
LOCKFREE_READER static struct hash_elem *find(const struct hash_geom *g, const void *key,
					      uint32_t ksz, uint32_t hash)
{
	uint32_t b = hash & (g->nbuckets - 1);
	unsigned restarts = 0;
again:;
	uint32_t n = __atomic_load_n(&g->buckets[b].head, __ATOMIC_ACQUIRE);
	for (uint32_t steps = 0; !(n & NULLS); steps++) {
		if (n >= g->nelems || steps > g->nelems)
			return NULL;
		struct hash_elem *e = elem_at(g, n);
		if (e->hash == hash && keys_equal(e->key, key, ksz))
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

/*
 * A value copied out to user space: all CPUs' values of a per-CPU map; otherwise the value
 * without its bpf_spin_lock word (zero in the copy), under that lock with BPF_F_LOCK (as
 * the kernel's copy_map_value_locked(); a read-only mapping cannot take it).
 */
static void copy_out(const struct ub_map *map, const struct hash_geom *g, void *value,
		     struct hash_elem *e, uint64_t flags)
{
	if (g->nvalues > 1) {
		memcpy(value, elem_value(g, e), (size_t)g->nvalues * g->value_stride);
		return;
	}
	if ((flags & BPF_F_LOCK) && !(map->flags & BPF_F_RDONLY))
		ub_map_copy_value_locked(map, value, elem_value(g, e), 1);
	else
		ub_map_copy_value(map, value, elem_value(g, e));
	ub_map_clear_lock(map, value);
}

/*
 * The lock-free copy of a user-space lookup, as a sequence lock whose sequence is the free
 * ring's head: an element's memory is written only by the update that takes it from the
 * ring (elem_alloc moves free_head first), or in place by programs and BPF_F_LOCK updates
 * (which a kernel lookup without BPF_F_LOCK may see half done too). If free_head did not
 * move while the value was copied, no element was taken, so the copy is one whole value
 * of the key: the one before or after any concurrent update or delete. If it moved, the
 * caller copies again under the bucket lock. Words are read with relaxed atomics: a copy
 * racing with a reuse is thrown away, and the race is a declared one.
 * 1: copied, 0: not found, -1: do it under the lock.
 */
LOCKFREE_READER static int copy_lockless(const struct ub_map *map, const struct hash_geom *g,
					const void *key, uint32_t hash, void *value)
{
	uint64_t seq = __atomic_load_n(&g->ctl->free_head, __ATOMIC_ACQUIRE);
	struct hash_elem *e = find(g, key, map->key_size, hash);
	const uint8_t *v = e ? elem_value(g, e) : NULL;
	size_t n = map->value_size, i = 0;

	if (!e)
		return 0;
	for (uint64_t w; i + 8 <= n; i += 8) {
		w = __atomic_load_n((const uint64_t *)(const void *)(v + i), __ATOMIC_RELAXED);
		memcpy((uint8_t *)value + i, &w, 8);
	}
	for (; i < n; i++)
		((uint8_t *)value)[i] = __atomic_load_n(v + i, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&g->ctl->free_head, __ATOMIC_RELAXED) != seq)
		return -1;
	ub_map_clear_lock(map, value);
	return 1;
}

/*
 * User space copies lock-free when it can (copy_lockless), else under the bucket lock:
 * the element cannot be unlinked, freed and reused for another key while it is copied,
 * so the copy is one whole value. BPF_F_LOCK copies under the value's lock, and per-CPU
 * values are copied under the bucket lock. Programs read in place, lock-free, and so does
 * a read-only mapping (BPF_F_RDONLY open), which cannot write the lock word.
 */
static int hash_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	struct hash_geom *g = map->priv;
	uint32_t hash = hash_key(g, key, map->key_size);
	uint32_t b = hash & (g->nbuckets - 1);
	int lock = !(map->flags & BPF_F_RDONLY);

	if (LOCKFREE_USER_COPY && g->nvalues == 1 && !(flags & BPF_F_LOCK)) {
		int rc = copy_lockless(map, g, key, hash, value);
		if (rc >= 0)
			return rc ? 0 : -ENOENT;
	}
	if (lock)
		bucket_lock(g, b);	/* not ub_shm_lock: a dead holder's mess is repaired */
	struct hash_elem *e = find(g, key, map->key_size, hash);
	if (e)
		copy_out(map, g, value, e, flags);
	if (lock)
		bucket_unlock(g, b);
	return e ? 0 : -ENOENT;
}

/* The free ring: FIFO, so a freed element is reused as late as possible. */
static int elem_alloc(struct hash_geom *g, uint32_t *idx)
{
	struct hash_ctl *c = g->ctl;
	int ok = 0;

	if (ub_shm_lock_robust(&c->free_lock))
		__atomic_store_n(&c->repair, 1, __ATOMIC_RELAXED);
	if (c->free_head != c->free_tail) {
		*idx = g->ring[c->free_head % g->nelems];
		/* The sequence of lock-free user lookups (copy_lockless): moved before the
		 * element is written, and ordered before those writes. */
		__atomic_store_n(&c->free_head, c->free_head + 1, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		ok = *idx < g->nelems;
	}
	ub_shm_unlock(&c->free_lock);
	return ok;
}

static void elem_free(struct hash_geom *g, uint32_t idx)
{
	struct hash_ctl *c = g->ctl;

	if (ub_shm_lock_robust(&c->free_lock))
		__atomic_store_n(&c->repair, 1, __ATOMIC_RELAXED);
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

	if (g->nvalues == 1) {	/* a fresh element: its spin lock starts unlocked */
		ub_map_copy_value(map, v, value);
		ub_map_clear_lock(map, v);
		return;
	}
	if (how == VALUE_ALL) {	/* padding included, as the kernel's copy_map_value_long() */
		memcpy(v, value, (size_t)g->nvalues * g->value_stride);
		return;
	}
	/* A program writes its own CPU's value; the others keep theirs (or start at zero). */
	if (old)
		memcpy(v, elem_value(g, old), (size_t)g->nvalues * g->value_stride);
	else
		memset(v, 0, (size_t)g->nvalues * g->value_stride);
	memcpy(v + cur_cpu(map) * g->value_stride, value, map->value_size);
}

/*
 * Takes one of the max_entries places for a new element. Updates of different buckets run
 * at once (one lock per bucket), so a check of the count followed by an increment later
 * would let two of them take the last place. A compare-and-swap takes the place in one
 * step and never shows a count above max_entries, even for a moment (readers of the file,
 * and the checks made when it is opened, may look at any time).
 */
static int count_reserve(struct hash_geom *g, uint32_t max_entries)
{
	uint32_t c = __atomic_load_n(&g->ctl->count, __ATOMIC_RELAXED);

	do {
		if (c >= max_entries)
			return 0;
	} while (!__atomic_compare_exchange_n(&g->ctl->count, &c, c + 1, 1, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return 1;
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
	if ((flags & BPF_F_LOCK) && map->lock_off < 0)
		return -EINVAL;	/* no bpf_spin_lock in the value */
	bucket_lock(g, b);
	struct hash_elem *old = find(g, key, map->key_size, hash);
	if (old && mode == BPF_NOEXIST)
		err = -EEXIST;
	else if (!old && mode == BPF_EXIST)
		err = -ENOENT;
	else if (old && (flags & BPF_F_LOCK)) {
		/* In place under the value's lock, as htab_map_update_elem(): programs holding
		 * the lock see the whole update or none of it. */
		ub_map_copy_value_locked(map, elem_value(g, old), value, 0);
		bucket_unlock(g, b);
		return 0;
	}
	else if (!old && !count_reserve(g, map->max_entries))
		err = -E2BIG;
	else if (!elem_alloc(g, &idx)) {
		err = old ? -EBUSY : -E2BIG;
		if (!old)
			__atomic_sub_fetch(&g->ctl->count, 1, __ATOMIC_RELAXED);
	}
	if (err) {
		bucket_unlock(g, b);
		return err;
	}
	struct hash_elem *e = elem_at(g, idx);
	e->hash = hash;
	memcpy(e->key, key, map->key_size);
	fill_value(map, g, e, old, value, how);
	if (old) {
		uint32_t old_idx = (uint32_t)(((uint8_t *)old - g->elems) / g->elem_size);
		uint32_t *link = link_to(g, b, old_idx);
		/* Relaxed atomics: lock-free readers load `next` atomically (find). */
		__atomic_store_n(&e->next, __atomic_load_n(&old->next, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
		if (link)
			__atomic_store_n(link, idx, __ATOMIC_RELEASE);
		elem_free(g, old_idx);	/* under the bucket lock: see hash_repair */
		bucket_unlock(g, b);
		return 0;
	}
	__atomic_store_n(&e->next, g->buckets[b].head, __ATOMIC_RELAXED);
	__atomic_store_n(&g->buckets[b].head, idx, __ATOMIC_RELEASE);
	bucket_unlock(g, b);
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

/*
 * Unlinks key's element, copying its value out first when `value` is not NULL: the copy and
 * the unlink under one hold of the bucket lock, so that for BPF_MAP_LOOKUP_AND_DELETE_ELEM
 * no update of the key lands between them and is deleted unseen.
 */
static int take(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	struct hash_geom *g = map->priv;
	uint32_t hash = hash_key(g, key, map->key_size);
	uint32_t b = hash & (g->nbuckets - 1);

	bucket_lock(g, b);
	struct hash_elem *e = find(g, key, map->key_size, hash);
	uint32_t idx = e ? (uint32_t)(((uint8_t *)e - g->elems) / g->elem_size) : 0;
	uint32_t *link = e ? link_to(g, b, idx) : NULL;
	if (link) {
		if (value)
			copy_out(map, g, value, e, flags);
		/* e->next stays intact: a reader standing on e still reaches the chain's end. */
		__atomic_store_n(link, e->next, __ATOMIC_RELEASE);
		__atomic_sub_fetch(&g->ctl->count, 1, __ATOMIC_RELAXED);
		elem_free(g, idx);	/* under the bucket lock: see hash_repair */
	}
	bucket_unlock(g, b);
	return link ? 0 : -ENOENT;
}

static int hash_delete(struct ub_map *map, const void *key)
{
	return take(map, key, NULL, 0);
}

static int hash_lookup_and_delete(struct ub_map *map, const void *key, void *value,
				  uint64_t flags)
{
	return take(map, key, value, flags);
}

/*
 * Keys are copied under their bucket's lock (as user-space lookups): an element deleted
 * and reused meanwhile never yields a torn key. A read-only mapping cannot lock.
 */
static int copy_first_key(struct ub_map *map, uint32_t b, void *next_key)
{
	struct hash_geom *g = map->priv;
	int lock = !(map->flags & BPF_F_RDONLY), found;

	if (lock)
		bucket_lock(g, b);
	uint32_t n = __atomic_load_n(&g->buckets[b].head, __ATOMIC_ACQUIRE);
	found = !(n & NULLS) && n < g->nelems && elem_fits(map, g, n, b);	/* see walk_next */
	if (found)
		memcpy(next_key, elem_at(g, n)->key, map->key_size);
	if (lock)
		bucket_unlock(g, b);
	return found;
}

/* The first key in buckets b.. (an empty bucket is skipped without its lock). */
static int first_key_from(struct ub_map *map, uint32_t b, void *next_key)
{
	struct hash_geom *g = map->priv;

	for (; b < g->nbuckets; b++)
		if (!(__atomic_load_n(&g->buckets[b].head, __ATOMIC_ACQUIRE) & NULLS) &&
		    copy_first_key(map, b, next_key))
			return 0;
	return -ENOENT;
}

/*
 * The element after e in chain b that a get_next_key walk goes on to, or NULLS to end the
 * chain there. In a sound chain that is e's successor. In a damaged file the chain may loop
 * back, repeat a key, or run into elements a lookup would not find in this chain; each ends
 * the chain here. So every key a walk returns is found again where the walk found it, the
 * next one is always further along, and a walk ends over any file not changed under it.
 */
static uint32_t walk_next(const struct ub_map *map, const struct hash_geom *g, uint32_t b,
			  const struct hash_elem *e)
{
	uint32_t n = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE);

	if ((n & NULLS) || n >= g->nelems || !elem_fits(map, g, n, b))
		return NULLS;
	const struct hash_elem *c = elem_at(g, n);
	/* Nothing from the head to e (inclusive) may be n or hold n's key. */
	uint32_t m = __atomic_load_n(&g->buckets[b].head, __ATOMIC_ACQUIRE);
	for (uint32_t steps = 0; !(m & NULLS) && m < g->nelems && steps <= g->nelems; steps++) {
		const struct hash_elem *p = elem_at(g, m);
		if (m == n || (p->hash == c->hash && !memcmp(p->key, c->key, map->key_size)))
			return NULLS;
		if (p == e)
			return n;
		m = __atomic_load_n(&p->next, __ATOMIC_ACQUIRE);
	}
	return NULLS;	/* e is no longer on the chain (a lock-free walk): leave it */
}

/* As the kernel: the element after `key` in bucket order; a missing key restarts. */
static int hash_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	struct hash_geom *g = map->priv;

	if (!key)
		return first_key_from(map, 0, next_key);
	uint32_t hash = hash_key(g, key, map->key_size);
	uint32_t b = hash & (g->nbuckets - 1);
	int lock = !(map->flags & BPF_F_RDONLY);

	if (lock)
		bucket_lock(g, b);
	struct hash_elem *e = find(g, key, map->key_size, hash);
	uint32_t n = e ? walk_next(map, g, b, e) : NULLS;
	int found = !(n & NULLS);
	if (found)
		memcpy(next_key, elem_at(g, n)->key, map->key_size);
	if (lock)
		bucket_unlock(g, b);
	return found ? 0 : first_key_from(map, e ? b + 1 : 0, next_key);
}

/* ---- For families layered on the table (maps/hash.h): elements by index ---- */

uint32_t ub_hash_nelems_of(const struct ub_shm_hdr *h)
{
	struct hash_geom g;

	geom_of(h, &g);
	return g.nelems;
}

uint32_t ub_hash_nelems(const struct ub_map *map)
{
	return ((const struct hash_geom *)map->priv)->nelems;
}

uint8_t *ub_hash_end(const struct ub_map *map)
{
	const struct hash_geom *g = map->priv;

	return (uint8_t *)(g->ring + g->nelems);
}

uint32_t ub_hash_elem_index(const struct ub_map *map, const void *p)
{
	const struct hash_geom *g = map->priv;
	uintptr_t off = (uintptr_t)p - (uintptr_t)g->elems;

	return (uintptr_t)p >= (uintptr_t)g->elems && off / g->elem_size < g->nelems
		       ? (uint32_t)(off / g->elem_size) : UINT32_MAX;
}

const void *ub_hash_elem_key(const struct ub_map *map, uint32_t idx)
{
	const struct hash_geom *g = map->priv;

	return idx < g->nelems ? elem_at(g, idx)->key : NULL;
}

#define HASH_OPS(name) { \
	.check = hash_check, .data_size = hash_data_size, .init = hash_init, \
	.validate = hash_validate, .lookup = hash_lookup, .lookup_user = hash_lookup_user, \
	.update = hash_update, .update_elem = hash_update_elem, .delete = hash_delete, \
	.lookup_and_delete = hash_lookup_and_delete, .get_next_key = hash_get_next_key }

const struct ub_map_ops ub_hash_ops = HASH_OPS(hash);
const struct ub_map_ops ub_percpu_hash_ops = HASH_OPS(percpu_hash);
