/*
 * ub_lru_hash: BPF_MAP_TYPE_LRU_HASH and BPF_MAP_TYPE_LRU_PERCPU_HASH. The table is hash.c's
 * (same layout, lock-free lookups, FIFO element reuse); this file adds what makes it LRU:
 *
 *   hash table (hash.c) | struct lru_ctl | links[nelems] | ref[nelems]
 *
 * links[] is a list of the table's elements, by element index, newest insert at the head;
 * ref[] is one "used" byte per element, set by a program's lookup (lock-free, a relaxed store
 * only when not already set). When a new key needs room in a full map, the element at the
 * tail is evicted unless it was used since it was last considered; a used one gets a second
 * chance (ref cleared, moved to the head), at most SCAN_MAX of them per eviction, then the
 * tail goes regardless. This is the kernel's approximation (bpf_lru_list.c: ref bit, inactive
 * list scanned from its tail, referenced nodes rotated to the active list, nr_scans bound).
 *
 * As the kernel: new elements start unused; a lookup from user space does not mark an element
 * (htab_lru_map_lookup_elem_sys); an update that replaces a key marks the new element.
 * Unlike the kernel, which takes a free node before looking at the key (so a failing update,
 * or one replacing a key, may evict in a full map), uebpf evicts only when a new key needs
 * room, one element at a time, so a full map stays full. The kernel frees nodes in batches
 * through per-CPU lists and may evict before the map is full; both are within the LRU
 * contract (the map may evict at any time, and prefers the least recently used).
 *
 * Every writer (update, delete, eviction) of an LRU map holds the lock in lru_ctl, taken
 * before the table's bucket locks (never the other way round), so the list always holds
 * exactly the elements linked in the table. BPF_F_NO_COMMON_LRU is accepted and, as in the
 * kernel, rounds max_entries to a multiple of the CPU count; the list stays common.
 */
#include <errno.h>
#include <string.h>
#include "maps/hash.h"
#include "maps/map.h"
#include "maps/shm.h"

#define KERNEL_ENOTSUPP	524		/* the kernel's internal ENOTSUPP, seen by user space */
#define NIL		UINT32_MAX
#define SCAN_MAX	128u		/* second chances per eviction (the kernel's nr_scans) */
#define CTL_SIZE	64u

#define LD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

struct lru_ctl {
	uint32_t lock;
	uint32_t count;			/* elements in the list (and in the table) */
	uint32_t head, tail;		/* newest and oldest; NIL when empty */
	uint32_t nelems;		/* the table's pool, checked when a pinned file opens */
	uint32_t pad;
	uint64_t evictions;
};

_Static_assert(sizeof(struct lru_ctl) <= CTL_SIZE, "control block fits its line");

struct lru_link {
	uint32_t prev, next;
};

/* The LRU part of a bound map, located from hash.c's process-local geometry. */
struct lru_view {
	struct lru_ctl *ctl;
	struct lru_link *links;
	uint8_t *ref;
	uint32_t nelems;
};

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static struct lru_view lru_view(const struct ub_map *map)
{
	uint8_t *base = map->data + align64((size_t)(ub_hash_end(map) - map->data));
	uint32_t n = ub_hash_nelems(map);

	return (struct lru_view){ .ctl = (struct lru_ctl *)base,
				  .links = (struct lru_link *)(base + CTL_SIZE),
				  .ref = base + CTL_SIZE + (size_t)n * sizeof(struct lru_link),
				  .nelems = n };
}

/* htab_map_alloc(): with per-CPU lists each CPU gets the same share, at least one. */
static uint32_t lru_max_entries(uint32_t max, uint32_t flags, uint32_t ncpus)
{
	if (!(flags & BPF_F_NO_COMMON_LRU) || !ncpus)
		return max;
	uint64_t up = ((uint64_t)max + ncpus - 1) / ncpus * ncpus;
	return up <= UINT32_MAX ? (uint32_t)up : max / ncpus * ncpus;
}

/*
 * htab_map_alloc_check() for LRU maps: the flag mask, then no BPF_F_NO_PREALLOC (ENOTSUPP),
 * no NUMA node with per-CPU lists; the rest is the hash table's check.
 */
static int lru_check(const union bpf_attr *attr)
{
	const uint32_t allowed = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE |
				 BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_ZERO_SEED |
				 BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
	uint32_t f = attr->map_flags;

	if (f & ~allowed)
		return -EINVAL;
	if (f & BPF_F_NO_PREALLOC)
		return -KERNEL_ENOTSUPP;
	if ((f & BPF_F_NUMA_NODE) && (f & BPF_F_NO_COMMON_LRU))
		return -EINVAL;
	union bpf_attr a = *attr;
	a.map_flags &= ~(uint32_t)BPF_F_NO_COMMON_LRU;	/* hash.c refuses it for plain hashes */
	return ub_hash_ops.check(&a);
}

static size_t lru_data_size(const struct ub_shm_hdr *h)
{
	struct ub_shm_hdr r = *h;

	r.max_entries = lru_max_entries(h->max_entries, h->map_flags, h->nr_cpus);
	return align64(ub_hash_ops.data_size(&r)) + CTL_SIZE +
	       (size_t)ub_hash_nelems_of(&r) * (sizeof(struct lru_link) + 1);
}

static int lru_init(struct ub_map *map)
{
	/* The rounded size is the map's (the kernel reports it too); set before the table's
	 * geometry is derived from the header. */
	map->max_entries = lru_max_entries(map->max_entries, map->flags, map->nr_cpus);
	if (map->hdr->max_entries != map->max_entries) {
		map->hdr->max_entries = map->max_entries;
		map->hdr->checksum = ub_shm_hdr_checksum(map->hdr);	/* re-seal the header */
	}
	int err = ub_hash_ops.init(map);
	if (err)
		return err;
	struct lru_view v = lru_view(map);
	*v.ctl = (struct lru_ctl){ .head = NIL, .tail = NIL, .nelems = v.nelems };
	return 0;	/* links and ref bytes of a fresh file are zero: unused */
}

/* ---- the list (under the LRU lock); links from the file are bounds-checked ---- */

static void list_del(struct lru_view *v, uint32_t i)
{
	uint32_t p = v->links[i].prev, n = v->links[i].next;

	if (p < v->nelems)
		v->links[p].next = n;
	else
		v->ctl->head = n < v->nelems ? n : NIL;
	if (n < v->nelems)
		v->links[n].prev = p;
	else
		v->ctl->tail = p < v->nelems ? p : NIL;
	if (v->ctl->count)
		v->ctl->count--;
}

static void list_add_head(struct lru_view *v, uint32_t i)
{
	uint32_t h = v->ctl->head;

	if (h >= v->nelems)
		h = NIL;
	v->links[i] = (struct lru_link){ .prev = NIL, .next = h };
	if (h != NIL)
		v->links[h].prev = i;
	else
		v->ctl->tail = i;
	v->ctl->head = i;
	v->ctl->count++;
}

/*
 * A writer killed while it held the LRU lock may have left the list half relinked. The
 * process that takes the lock over rebuilds it from the table (repaired first): every linked
 * element, unused, in index order. Recency is lost, which the LRU contract allows (the map
 * may evict any element); membership is exact again.
 */
static void relink_one(void *arg, uint32_t idx)
{
	struct lru_view *v = arg;

	ST(&v->ref[idx], 0);
	list_add_head(v, idx);
}

static void lru_rebuild(struct ub_map *map, struct lru_view *v)
{
	v->ctl->head = v->ctl->tail = NIL;
	v->ctl->count = 0;
	ub_hash_repair(map, relink_one, v);
}

static void lru_lock(struct ub_map *map, struct lru_view *v)
{
	if (ub_shm_lock_robust(&v->ctl->lock))
		lru_rebuild(map, v);
}

static int lru_validate(const struct ub_map *cmap)
{
	struct ub_map *map = (struct ub_map *)cmap;
	int err = ub_hash_ops.validate(map);
	if (err)
		return err;
	struct lru_view v = lru_view(map);
	const struct lru_ctl *c = v.ctl;

	/* hash.c sized its table from the shared header: the LRU part must still be mapped. */
	if (v.ref + v.nelems > map->data + map->map_size - UB_SHM_HDR_SIZE ||
	    c->nelems != v.nelems)
		return -EINVAL;
	/*
	 * A writer that died holding the lock may have left the list half relinked: rebuilt
	 * from the (checked) table, it is sound. Otherwise the list must be sound as it is.
	 * Nothing is written to a file that is then refused.
	 */
	if (!(map->flags & BPF_F_RDONLY) && ub_shm_lock_reap(&v.ctl->lock)) {
		lru_rebuild(map, &v);
		ub_shm_unlock(&v.ctl->lock);
	} else if (c->count > map->max_entries || (c->head != NIL && c->head >= v.nelems) ||
		   (c->tail != NIL && c->tail >= v.nelems) || (c->count == 0) != (c->head == NIL)) {
		return -EINVAL;
	}
	if (!(map->flags & BPF_F_RDONLY))
		ub_hash_recover(map);
	return 0;
}

/* The element a lookup found (NULL: not found), or NIL. */
static uint32_t elem_of(const struct ub_map *map, const void *value)
{
	return value ? ub_hash_elem_index(map, value) : NIL;
}

/* The element to evict: the oldest not used since last considered (second chance). */
static uint32_t pick_victim(struct lru_view *v)
{
	for (uint32_t scans = 0; scans < SCAN_MAX && v->ctl->tail < v->nelems; scans++) {
		uint32_t t = v->ctl->tail;
		if (!LD(&v->ref[t]))
			return t;
		ST(&v->ref[t], 0);
		list_del(v, t);
		list_add_head(v, t);
	}
	return v->ctl->tail;	/* everything scanned was in use: the oldest goes anyway */
}

static int evict_one(struct ub_map *map, struct lru_view *v)
{
	uint32_t victim = pick_victim(v);
	const void *key = victim < v->nelems ? ub_hash_elem_key(map, victim) : NULL;

	if (!key)
		return -ENOMEM;	/* the kernel's answer when no node can be freed */
	list_del(v, victim);
	/* The key is read in place: deleting unlinks and frees the element, leaves the bytes. */
	if (ub_hash_ops.delete(map, key))
		return -ENOMEM;
	v->ctl->evictions++;
	return 0;
}

static int lru_update_how(struct ub_map *map, const void *key, const void *value,
			  uint64_t flags, int prog)
{
	struct lru_view v = lru_view(map);
	int err = 0;

	if (flags > BPF_EXIST)
		return -EINVAL;	/* before anything is evicted */
	lru_lock(map, &v);
	uint32_t old = elem_of(map, ub_hash_ops.lookup(map, key));
	if (old == NIL && flags != BPF_EXIST && v.ctl->count >= map->max_entries)
		err = evict_one(map, &v);
	if (!err)
		err = prog ? ub_hash_ops.update_elem(map, key, value, flags)
			   : ub_hash_ops.update(map, key, value, flags);
	if (!err) {
		/* The table linked a fresh element (also for an existing key). */
		uint32_t now = elem_of(map, ub_hash_ops.lookup(map, key));
		if (old < v.nelems)
			list_del(&v, old);
		if (now < v.nelems) {
			list_add_head(&v, now);
			ST(&v.ref[now], old != NIL);	/* a replaced key counts as used */
		}
	}
	ub_shm_unlock(&v.ctl->lock);
	return err;
}

static int lru_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	return lru_update_how(map, key, value, flags, 0);
}

static int lru_update_elem(struct ub_map *map, const void *key, const void *value,
			   uint64_t flags)
{
	return lru_update_how(map, key, value, flags, 1);
}

static int lru_delete(struct ub_map *map, const void *key)
{
	struct lru_view v = lru_view(map);

	lru_lock(map, &v);
	uint32_t old = elem_of(map, ub_hash_ops.lookup(map, key));
	int err = ub_hash_ops.delete(map, key);
	if (!err && old < v.nelems)
		list_del(&v, old);
	ub_shm_unlock(&v.ctl->lock);
	return err;
}

/* A program's lookup marks the element used (lock-free; user-space lookups do not). */
static void *lru_lookup(struct ub_map *map, const void *key)
{
	void *value = ub_hash_ops.lookup(map, key);

	if (value) {
		struct lru_view v = lru_view(map);
		uint32_t i = ub_hash_elem_index(map, value);
		if (i < v.nelems && !LD(&v.ref[i]))
			ST(&v.ref[i], 1);
	}
	return value;
}

static int lru_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	return ub_hash_ops.lookup_user(map, key, value, flags);
}

static int lru_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	return ub_hash_ops.get_next_key(map, key, next_key);
}

#define LRU_OPS { \
	.check = lru_check, .data_size = lru_data_size, .init = lru_init, \
	.validate = lru_validate, .lookup = lru_lookup, .lookup_user = lru_lookup_user, \
	.update = lru_update, .update_elem = lru_update_elem, .delete = lru_delete, \
	.get_next_key = lru_get_next_key }

const struct ub_map_ops ub_lru_hash_ops = LRU_OPS;
const struct ub_map_ops ub_lru_percpu_hash_ops = LRU_OPS;
