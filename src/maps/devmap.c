/*
 * ub_devmap: BPF_MAP_TYPE_DEVMAP and BPF_MAP_TYPE_DEVMAP_HASH, the device tables of
 * bpf_redirect_map(). Values are struct bpf_devmap_val (4 bytes: ifindex; 8: and a
 * devmap program's fd, stored as its id). uebpf has no devices of its own: an ifindex
 * must name a device of the host (if_indextoname), or the update fails as the kernel's
 * dev_get_by_index() would.
 *
 * DEVMAP: slot i of the data region is key i. DEVMAP_HASH: chains of entries from
 * buckets key & (nbuckets - 1), newest first, which is the kernel's layout and so its
 * iteration order. Writers take the map's lock; a slot's memory never moves, so a value
 * pointer a program holds stays valid.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include "api/prog_obj.h"
#include "maps/map.h"

#define DEV_CREATE_FLAGS (BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY)

struct dev_ctl {
	uint32_t lock;
	uint32_t count;		/* DEVMAP_HASH: live entries */
	uint32_t nbuckets;
	uint32_t pad;
};

struct dev_slot {
	uint32_t used;
	uint32_t key;		/* DEVMAP_HASH */
	uint32_t next;		/* DEVMAP_HASH: next entry + 1 in the chain, 0: end */
	struct bpf_devmap_val val;
};

static int is_hash(const struct ub_map *m)
{
	return m->type == BPF_MAP_TYPE_DEVMAP_HASH;
}

/* n is at most 1 << 31 (dev_check): the result fits. */
static uint32_t pow2_at_least(uint32_t n)
{
	return n <= 1 ? 1 : 1u << (32 - __builtin_clz(n - 1));
}

static int dev_check(const union bpf_attr *attr)
{
	uint32_t vs = attr->value_size;

	if (attr->max_entries == 0 || attr->key_size != 4 ||
	    (vs != 4 && vs != sizeof(struct bpf_devmap_val)) ||
	    (attr->map_flags & ~(uint32_t)DEV_CREATE_FLAGS))
		return -EINVAL;
	if (attr->map_type == BPF_MAP_TYPE_DEVMAP_HASH && attr->max_entries > 1u << 31)
		return -EINVAL;	/* the bucket count must be a power of two */
	return 0;
}

static uint32_t nbuckets_of(const struct ub_shm_hdr *h)
{
	return h->map_type == BPF_MAP_TYPE_DEVMAP_HASH ? pow2_at_least(h->max_entries) : 0;
}

static size_t dev_data_size(const struct ub_shm_hdr *h)
{
	return sizeof(struct dev_ctl) + (size_t)nbuckets_of(h) * sizeof(uint32_t) +
	       (size_t)h->max_entries * sizeof(struct dev_slot);
}

static struct dev_ctl *ctl_of(const struct ub_map *m)
{
	return (struct dev_ctl *)m->data;
}

/* From the checked copy of the header (struct ub_map), never from the shared control
 * block, which another process could change after the file was opened. */
static uint32_t nbuckets(const struct ub_map *m)
{
	return is_hash(m) ? pow2_at_least(m->max_entries) : 0;
}

static uint32_t *buckets_of(const struct ub_map *m)
{
	return (uint32_t *)(m->data + sizeof(struct dev_ctl));
}

static struct dev_slot *slots_of(const struct ub_map *m)
{
	return (struct dev_slot *)(buckets_of(m) + nbuckets(m));
}

/* Process-local (map->priv): the devmap programs the slots name, held while named. */
static int dev_priv_new(struct ub_map *m)
{
	m->priv = calloc(m->max_entries, sizeof(struct ub_prog_obj *));
	return m->priv ? 0 : -ENOMEM;
}

static int dev_init(struct ub_map *m)
{
	ctl_of(m)->nbuckets = nbuckets_of(m->hdr);
	return dev_priv_new(m);
}

/*
 * One look at the chains of a DEVMAP_HASH file being opened: every index in range, every
 * entry used and in its key's bucket, and none reached twice (so no chain loops or joins
 * another; all chains together hold at most max_entries). seen[] has max_entries bytes.
 */
static int chains_sound(const struct ub_map *m, uint8_t *seen)
{
	const struct dev_slot *s = slots_of(m);
	uint32_t nb = nbuckets(m);

	memset(seen, 0, m->max_entries);
	for (uint32_t b = 0; b < nb; b++) {
		uint32_t n = __atomic_load_n(&buckets_of(m)[b], __ATOMIC_ACQUIRE);
		for (; n; n = __atomic_load_n(&s[n - 1].next, __ATOMIC_ACQUIRE)) {
			if (n > m->max_entries || seen[n - 1] ||
			    !__atomic_load_n(&s[n - 1].used, __ATOMIC_ACQUIRE) ||
			    (s[n - 1].key & (nb - 1)) != b)
				return 0;
			seen[n - 1] = 1;
		}
	}
	return 1;
}

/*
 * A pinned devmap opened here: its control block must agree with its header and a
 * DEVMAP_HASH's chains must be sound (a file of another family relabelled, or damaged,
 * is refused). The look is lock-free (the file may be live elsewhere, and a read-only
 * mapping cannot lock), so chains that fail are looked at again before the file is
 * called damaged, as hash.c does. Its slots stay; their programs belong to the creator.
 */
static int dev_validate(const struct ub_map *m)
{
	if (ctl_of(m)->nbuckets != nbuckets(m) ||
	    (is_hash(m) && ctl_of(m)->count > m->max_entries))
		return -EINVAL;
	if (is_hash(m)) {
		uint8_t *seen = malloc(m->max_entries);
		int ok = 0;
		if (!seen)
			return -ENOMEM;
		for (unsigned tries = 0; tries < 8 && !ok; tries++)
			ok = chains_sound(m, seen);
		free(seen);
		if (!ok)
			return -EINVAL;
	}
	return dev_priv_new((struct ub_map *)m);
}

static void dev_release(struct ub_map *m)
{
	struct ub_prog_obj **progs = m->priv;
	for (uint32_t i = 0; progs && i < m->max_entries; i++)
		ub_prog_obj_put(progs[i]);
}

/* __dev_map_alloc_node(): the device must exist, a program must be a devmap program. */
static int dev_val_resolve(const struct ub_map *m, const void *value, struct bpf_devmap_val *v,
			   struct ub_prog_obj **prog)
{
	char name[IF_NAMESIZE];

	memset(v, 0, sizeof(*v));
	memcpy(v, value, m->value_size);
	*prog = NULL;
	if (!if_indextoname(v->ifindex, name))
		return -EINVAL;
	if (v->bpf_prog.fd <= 0) {
		v->bpf_prog.id = 0;
		return 0;
	}
	*prog = ub_prog_obj_get(v->bpf_prog.fd);
	if (!*prog || (*prog)->type != BPF_PROG_TYPE_XDP ||
	    (*prog)->expected_attach_type != BPF_XDP_DEVMAP) {
		ub_prog_obj_put(*prog);
		return -EINVAL;
	}
	v->bpf_prog.id = (*prog)->obj.id;
	return 0;
}

/* Under the lock: slot i now holds v (or nothing); the program it named is dropped. */
static void slot_set(struct ub_map *m, uint32_t i, const struct bpf_devmap_val *v,
		     struct ub_prog_obj *prog)
{
	struct dev_slot *s = &slots_of(m)[i];
	struct ub_prog_obj **progs = m->priv;

	ub_prog_obj_put(progs[i]);
	progs[i] = prog;
	if (v) {
		__atomic_store_n(&s->val.bpf_prog.id, v->bpf_prog.id, __ATOMIC_RELAXED);
		__atomic_store_n(&s->val.ifindex, v->ifindex, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&s->used, v != NULL, __ATOMIC_RELEASE);
}

static void *array_lookup(struct ub_map *m, const void *key)
{
	uint32_t k;

	memcpy(&k, key, 4);
	if (k >= m->max_entries)
		return NULL;
	struct dev_slot *s = &slots_of(m)[k];
	return __atomic_load_n(&s->used, __ATOMIC_ACQUIRE) ? &s->val : NULL;
}

static int copy_out(const struct ub_map *m, const void *v, void *value)
{
	if (!v)
		return -ENOENT;
	memcpy(value, v, m->value_size);
	return 0;
}

static int array_lookup_user(struct ub_map *m, const void *key, void *value, uint64_t flags)
{
	return copy_out(m, array_lookup(m, key), value);
}

static int array_update(struct ub_map *m, const void *key, const void *value, uint64_t flags)
{
	struct bpf_devmap_val v;
	struct ub_prog_obj *prog = NULL;
	uint32_t k;
	int err = 0;

	memcpy(&k, key, 4);
	if (flags > BPF_EXIST)
		return -EINVAL;
	if (k >= m->max_entries)
		return -E2BIG;
	if (flags == BPF_NOEXIST)
		return -EEXIST;	/* every slot of an array exists */
	memset(&v, 0, sizeof(v));
	memcpy(&v, value, m->value_size);
	if (!v.ifindex && v.bpf_prog.fd > 0)
		return -EINVAL;	/* no program for an empty slot */
	if (v.ifindex && (err = dev_val_resolve(m, value, &v, &prog)))
		return err;
	ub_shm_lock(&ctl_of(m)->lock);
	slot_set(m, k, v.ifindex ? &v : NULL, prog);
	ub_shm_unlock(&ctl_of(m)->lock);
	return 0;
}

static int array_delete(struct ub_map *m, const void *key)
{
	uint32_t k;

	memcpy(&k, key, 4);
	if (k >= m->max_entries)
		return -EINVAL;
	ub_shm_lock(&ctl_of(m)->lock);
	slot_set(m, k, NULL, NULL);	/* an empty slot deletes fine */
	ub_shm_unlock(&ctl_of(m)->lock);
	return 0;
}

static int array_get_next_key(struct ub_map *m, const void *key, void *next_key)
{
	uint32_t k, next = 0;

	if (key && (memcpy(&k, key, 4), k < m->max_entries)) {
		if (k == m->max_entries - 1)
			return -ENOENT;
		next = k + 1;
	}
	memcpy(next_key, &next, 4);
	return 0;
}

/* ---- DEVMAP_HASH ---- */

/* Index + 1 of key's entry, 0 if absent; *at: how many hops from its bucket's head. */
static uint32_t hash_find_at(const struct ub_map *m, uint32_t key, uint32_t *at)
{
	const struct dev_slot *s = slots_of(m);
	uint32_t n = __atomic_load_n(&buckets_of(m)[key & (nbuckets(m) - 1)], __ATOMIC_ACQUIRE);

	for (uint32_t hops = 0; n && n <= m->max_entries && hops < m->max_entries; hops++) {
		if (s[n - 1].key == key && __atomic_load_n(&s[n - 1].used, __ATOMIC_ACQUIRE)) {
			*at = hops;
			return n;
		}
		n = __atomic_load_n(&s[n - 1].next, __ATOMIC_ACQUIRE);
	}
	return 0;
}

static uint32_t hash_find(const struct ub_map *m, uint32_t key)
{
	uint32_t at;

	return hash_find_at(m, key, &at);
}

static void *hash_lookup(struct ub_map *m, const void *key)
{
	uint32_t k, n;

	memcpy(&k, key, 4);
	n = hash_find(m, k);
	return n ? &slots_of(m)[n - 1].val : NULL;
}

static int hash_lookup_user(struct ub_map *m, const void *key, void *value, uint64_t flags)
{
	return copy_out(m, hash_lookup(m, key), value);
}

static uint32_t free_slot(const struct ub_map *m)
{
	for (uint32_t i = 0; i < m->max_entries; i++)
		if (!slots_of(m)[i].used)
			return i + 1;
	return 0;
}

/* Under the lock: a new entry at the head of its bucket, as hlist_add_head_rcu(). */
static int hash_insert(struct ub_map *m, uint32_t key, const struct bpf_devmap_val *v,
		       struct ub_prog_obj *prog)
{
	struct dev_ctl *c = ctl_of(m);
	uint32_t n = c->count < m->max_entries ? free_slot(m) : 0;
	uint32_t *head = &buckets_of(m)[key & (nbuckets(m) - 1)];

	if (!n)
		return -E2BIG;
	struct dev_slot *s = &slots_of(m)[n - 1];
	s->key = key;
	s->next = *head;
	slot_set(m, n - 1, v, prog);
	__atomic_store_n(head, n, __ATOMIC_RELEASE);
	c->count++;
	return 0;
}

static int hash_update(struct ub_map *m, const void *key, const void *value, uint64_t flags)
{
	struct bpf_devmap_val v;
	struct ub_prog_obj *prog = NULL;
	uint32_t k;
	int err;

	memcpy(&k, key, 4);
	memset(&v, 0, sizeof(v));
	memcpy(&v, value, m->value_size);
	/* BPF_EXIST on an absent key inserts: the kernel checks only NOEXIST. */
	if (flags > BPF_EXIST || !v.ifindex)
		return -EINVAL;
	ub_shm_lock(&ctl_of(m)->lock);
	uint32_t n = hash_find(m, k);
	err = n && flags == BPF_NOEXIST ? -EEXIST : dev_val_resolve(m, value, &v, &prog);
	if (!err && n)
		slot_set(m, n - 1, &v, prog);
	else if (!err && (err = hash_insert(m, k, &v, prog)))
		ub_prog_obj_put(prog);
	ub_shm_unlock(&ctl_of(m)->lock);
	return err;
}

/* Under the lock: unlinks entry n (index + 1). */
static void hash_unlink(struct ub_map *m, uint32_t n)
{
	struct dev_slot *s = slots_of(m);
	uint32_t *link = &buckets_of(m)[s[n - 1].key & (nbuckets(m) - 1)];

	/* hash_find just came to n this way; the bounds keep a chain another process
	 * damaged since from sending this loop astray */
	for (uint32_t hops = 0; *link && *link != n && *link <= m->max_entries &&
	     hops < m->max_entries; hops++)
		link = &s[*link - 1].next;
	if (*link == n)
		__atomic_store_n(link, s[n - 1].next, __ATOMIC_RELEASE);
	slot_set(m, n - 1, NULL, NULL);
	ctl_of(m)->count--;
}

static int hash_delete(struct ub_map *m, const void *key)
{
	uint32_t k;

	memcpy(&k, key, 4);
	ub_shm_lock(&ctl_of(m)->lock);
	uint32_t n = hash_find(m, k);
	if (n)
		hash_unlink(m, n);
	ub_shm_unlock(&ctl_of(m)->lock);
	return n ? 0 : -ENOENT;
}

/*
 * Whether entry c (index + 1) stands where a lookup of its key finds it: in chain b, `at`
 * hops from the head. A walk goes on only to such entries, so every step moves forward
 * (a later bucket, or further down the same chain), and a chain damaged after the file
 * was opened (a loop, a repeated key, an entry of another bucket, an index out of range)
 * ends the chain there instead of sending the walk round for ever or out of bounds.
 */
static int entry_at(const struct ub_map *m, uint32_t c, uint32_t b, uint32_t at)
{
	uint32_t key, hops = 0;

	if (!c || c > m->max_entries)
		return 0;
	key = slots_of(m)[c - 1].key;
	return (key & (nbuckets(m) - 1)) == b && hash_find_at(m, key, &hops) == c && hops == at;
}

/* The kernel's order: the rest of key's chain, then the following buckets; an absent
 * (or no) key starts from the first entry. */
static int hash_get_next_key(struct ub_map *m, const void *key, void *next_key)
{
	const struct dev_slot *s = slots_of(m);
	uint32_t mask = nbuckets(m) - 1, k = 0, n = 0, at = 0, b = 0;

	if (key && (memcpy(&k, key, 4), n = hash_find_at(m, k, &at))) {
		uint32_t c = __atomic_load_n(&s[n - 1].next, __ATOMIC_ACQUIRE);
		if (entry_at(m, c, k & mask, at + 1)) {
			memcpy(next_key, &s[c - 1].key, 4);
			return 0;
		}
		b = (k & mask) + 1;
	}
	for (; b <= mask; b++) {
		uint32_t h = __atomic_load_n(&buckets_of(m)[b], __ATOMIC_ACQUIRE);
		if (entry_at(m, h, b, 0)) {
			memcpy(next_key, &s[h - 1].key, 4);
			return 0;
		}
	}
	return -ENOENT;
}

const struct ub_map_ops ub_devmap_ops = {
	.check = dev_check,
	.data_size = dev_data_size,
	.init = dev_init,
	.validate = dev_validate,
	.lookup = array_lookup,
	.lookup_user = array_lookup_user,
	.update = array_update,
	.update_elem = array_update,
	.delete = array_delete,
	.get_next_key = array_get_next_key,
	.release = dev_release,
};

const struct ub_map_ops ub_devmap_hash_ops = {
	.check = dev_check,
	.data_size = dev_data_size,
	.init = dev_init,
	.validate = dev_validate,
	.lookup = hash_lookup,
	.lookup_user = hash_lookup_user,
	.update = hash_update,
	.update_elem = hash_update,
	.delete = hash_delete,
	.get_next_key = hash_get_next_key,
	.release = dev_release,
};
