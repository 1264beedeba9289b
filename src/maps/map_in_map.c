/*
 * ub_map_in_map: BPF_MAP_TYPE_ARRAY_OF_MAPS and BPF_MAP_TYPE_HASH_OF_MAPS. Values are maps
 * of this process, so (as in prog_array.c) the references themselves are process-local
 * slots and the map file holds each value's map id, which is what user space reads back.
 *
 * Array of maps: data = ids[max_entries] | meta; slot[i] is the map of index i.
 * Hash of maps: data = a ub_hash table with 4-byte values (the ids) | meta; slot[e] is the
 * map of hash element e (ub_hash_elem_index), cleared when the element is freed. The hash
 * runs on a shadow struct ub_map (same memory, its own priv), since map->priv is ours.
 *
 * meta is the inner-map template of BPF_MAP_CREATE's inner_map_fd (kernel:
 * bpf_map_meta_alloc), in the file so that a pinned outer map keeps it. Maps that leave a
 * slot are retired, not released, while a run may be in flight (programs take no
 * reference to what a lookup returned): released once ub_cpu_slots_idle().
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "maps/map.h"
#include "maps/hash.h"
#include "vm/vm.h"

#define META_MAGIC	0x4d494d31u	/* "MIM1" */
#define UB_ENOTSUPP	524		/* the kernel's internal ENOTSUPP */
#define NO_ELEM		UINT32_MAX

struct mim_meta {
	uint32_t magic;
	uint32_t type, key_size, value_size, max_entries, flags;
	uint32_t pad[2];
};

struct mim {
	pthread_mutex_t lock;		/* serialises user-side writers */
	struct mim_meta meta;		/* process-local copy, never re-read from the file */
	struct ub_map tmpl;		/* the template as a map shape, for the verifier */
	struct ub_map shadow;		/* hash of maps: the table's view (own priv) */
	struct ub_map **retired;
	size_t nretired, cap;
	uint32_t nslots;
	struct ub_map *slot[];
};

/* The template of a map being created: set by create_check, taken by init (same thread,
 * same ub_map_create call). */
static __thread struct mim_meta pending;

static int is_hash(const struct ub_map *map)
{
	return map->type == BPF_MAP_TYPE_HASH_OF_MAPS;
}

static int mim_check(const union bpf_attr *attr)
{
	union bpf_attr a = *attr;

	/* fd_array_map_alloc_check / fd_htab_map_alloc_check: a u32 value, then the family's
	 * own checks (array: array_map_alloc_check; hash: htab_map_alloc_check). */
	if (attr->value_size != 4)
		return -EINVAL;
	if (attr->map_type == BPF_MAP_TYPE_HASH_OF_MAPS) {
		a.map_type = BPF_MAP_TYPE_HASH;
		return ub_hash_ops.check(&a);
	}
	a.map_type = BPF_MAP_TYPE_ARRAY;
	if (attr->map_flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP))
		return -EINVAL;		/* not allowed for fd arrays */
	return ub_array_ops.check(&a);
}

/* Only at creation (not for a pinned file): the inner map template, as bpf_map_meta_alloc. */
static int mim_create_check(const union bpf_attr *attr)
{
	struct ub_map *in = ub_map_get((int)attr->inner_map_fd);

	if (!in)
		return errno == EBADF ? -EBADF : -EINVAL;
	int err = 0;
	if (in->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || in->type == BPF_MAP_TYPE_HASH_OF_MAPS)
		err = -EINVAL;		/* no more than one level */
	else if (in->type == BPF_MAP_TYPE_PROG_ARRAY)
		err = -UB_ENOTSUPP;	/* as the kernel 6.18 */
	if (!err)
		pending = (struct mim_meta){ .magic = META_MAGIC, .type = in->type,
					     .key_size = in->key_size,
					     .value_size = in->value_size,
					     .max_entries = in->max_entries,
					     .flags = in->flags & ~(uint32_t)BPF_F_RDONLY };
	ub_map_put(in);
	return err;
}

static size_t meta_off(const struct ub_shm_hdr *h)
{
	size_t n = h->map_type == BPF_MAP_TYPE_HASH_OF_MAPS ? ub_hash_ops.data_size(h)
							     : (size_t)h->max_entries * 4;
	return (n + 63) & ~(size_t)63;
}

static size_t mim_data_size(const struct ub_shm_hdr *h)
{
	return meta_off(h) + sizeof(struct mim_meta);
}

/* Process-local state for a bound map; the hash's shadow bound by `bind`. */
static int mim_bind(struct ub_map *map, int (*bind)(struct ub_map *))
{
	uint32_t n = map->max_entries;
	struct mim *m;

	if (is_hash(map)) {
		struct ub_map sh = *map;
		sh.priv = NULL;
		sh.ops = &ub_hash_ops;
		int err = bind(&sh);
		if (err) {
			free(sh.priv);
			return err;
		}
		n = ub_hash_nelems(&sh);
		m = calloc(1, sizeof(*m) + (size_t)n * sizeof(m->slot[0]));
		if (!m) {
			free(sh.priv);
			return -ENOMEM;
		}
		m->shadow = sh;
	} else {
		m = calloc(1, sizeof(*m) + (size_t)n * sizeof(m->slot[0]));
		if (!m)
			return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->nslots = n;
	m->tmpl.obj.type = UB_OBJ_MAP;
	map->priv = m;
	return 0;
}

static int array_bind_nop(struct ub_map *map)
{
	return 0;
}

static int hash_bind_file(struct ub_map *map)
{
	return ub_hash_ops.validate(map);
}

static struct mim_meta *file_meta(const struct ub_map *map)
{
	return (struct mim_meta *)(map->data + meta_off(map->hdr));
}

static void set_tmpl(struct mim *m)
{
	m->tmpl.ops = ub_map_ops_for(m->meta.type);
	m->tmpl.type = m->meta.type, m->tmpl.key_size = m->meta.key_size;
	m->tmpl.value_size = m->meta.value_size, m->tmpl.max_entries = m->meta.max_entries;
	m->tmpl.flags = m->meta.flags;
	m->tmpl.nr_cpus = (uint32_t)ub_num_possible_cpus();
	m->tmpl.lock_off = -1;	/* the template carries no bpf_spin_lock (0 would be one at 0) */
}

const struct ub_map *ub_map_inner_tmpl(const struct ub_map *outer)
{
	if (outer->type != BPF_MAP_TYPE_ARRAY_OF_MAPS && outer->type != BPF_MAP_TYPE_HASH_OF_MAPS)
		return NULL;
	return &((const struct mim *)outer->priv)->tmpl;
}

static int mim_init(struct ub_map *map)
{
	int err = mim_bind(map, is_hash(map) ? ub_hash_ops.init : array_bind_nop);
	if (err)
		return err;
	struct mim *m = map->priv;
	m->meta = pending;
	*file_meta(map) = pending;
	set_tmpl(m);
	return 0;
}

/*
 * A pinned outer map opened in another process: maps do not cross processes, so none of
 * the file's entries has a map here; lookups (programs and user space) find nothing until
 * this process stores maps of its own. The file is left as it is: clearing it would take
 * the maps away from the programs of the process that stored them. The template comes
 * from the file.
 */
static int mim_validate(const struct ub_map *cmap)
{
	struct ub_map *map = (struct ub_map *)cmap;
	const struct mim_meta *fm = file_meta(map);
	struct mim_meta meta;

	memcpy(&meta, fm, sizeof(meta));
	if (meta.magic != META_MAGIC || !ub_map_ops_for(meta.type) ||
	    meta.type == BPF_MAP_TYPE_ARRAY_OF_MAPS || meta.type == BPF_MAP_TYPE_HASH_OF_MAPS)
		return -EINVAL;
	int err = mim_bind(map, is_hash(map) ? hash_bind_file : array_bind_nop);
	if (err)
		return err;
	struct mim *m = map->priv;
	m->meta = meta;
	set_tmpl(m);
	return 0;
}

static void mim_release(struct ub_map *map)
{
	struct mim *m = map->priv;

	if (!m)
		return;
	for (uint32_t i = 0; i < m->nslots; i++)
		ub_map_put(m->slot[i]);
	for (size_t i = 0; i < m->nretired; i++)
		ub_map_put(m->retired[i]);
	free(m->retired);
	free(m->shadow.priv);
	pthread_mutex_destroy(&m->lock);
}

/* Retired maps go once no run is in flight. Called with m->lock held. */
static void release_retired(struct mim *m)
{
	if (!m->nretired || !ub_cpu_slots_idle())
		return;
	for (size_t i = 0; i < m->nretired; i++)
		ub_map_put(m->retired[i]);
	m->nretired = 0;
}

/* Room for one more retired map. Called with m->lock held. */
static int reserve_retired(struct mim *m)
{
	if (m->nretired < m->cap)
		return 0;
	size_t cap = m->cap ? m->cap * 2 : 8;
	struct ub_map **r = realloc(m->retired, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	m->retired = r;
	m->cap = cap;
	return 0;
}

/* Empties slot i (its map retired). Called with m->lock held. */
static int clear_slot(struct mim *m, uint32_t i)
{
	struct ub_map *old = m->slot[i];

	if (!old)
		return 0;
	if (reserve_retired(m))
		return -ENOMEM;
	m->retired[m->nretired++] = old;
	__atomic_store_n(&m->slot[i], NULL, __ATOMIC_RELEASE);
	return 0;
}

int ub_run_reached_map(const struct ub_run *run, uintptr_t map)
{
	for (unsigned i = 0; i < run->nregions; i++)
		if (run->regions[i].kind == UB_REGION_INNER_MAP && run->regions[i].start == map)
			return 1;
	return 0;
}

/* Checked runs may touch the values of an inner map the program reached, and pass it to
 * map helpers (ub_helper_args_ok). */
static void run_grant(struct ub_map *inner)
{
	struct ub_run *run = ub_run_cur;

	if (!inner || !run || !run->prog->checked)
		return;
	if (ub_run_reached_map(run, (uintptr_t)inner) || run->nregions + 2 > UB_MAX_REGIONS)
		return;
	ub_run_add_region(run, inner->data, inner->map_size - UB_SHM_HDR_SIZE,
			  !(inner->flags & BPF_F_RDONLY_PROG) && !(inner->flags & BPF_F_RDONLY));
	/* The marker: the map itself, no memory (an empty range matches no access). */
	run->regions[run->nregions++] = (struct ub_region){ .start = (uintptr_t)inner,
							    .kind = UB_REGION_INNER_MAP };
}

/* Hash of maps: the map of key's element; `locked` when m->lock is held. */
static struct ub_map *hash_map_of(struct mim *m, const void *key, int locked)
{
	const uint32_t *v = ub_hash_ops.lookup(&m->shadow, key);
	if (!v)
		return NULL;
	uint32_t e = ub_hash_elem_index(&m->shadow, v);
	struct ub_map *in = e < m->nslots ? __atomic_load_n(&m->slot[e], __ATOMIC_ACQUIRE) : NULL;
	if (in && in->obj.id == __atomic_load_n(v, __ATOMIC_RELAXED))
		return in;
	if (locked)
		return NULL;
	/* An update is between linking the element and filling its slot: wait for it. */
	pthread_mutex_lock(&m->lock);
	in = hash_map_of(m, key, 1);
	pthread_mutex_unlock(&m->lock);
	return in;
}

static void *mim_lookup(struct ub_map *map, const void *key)
{
	struct mim *m = map->priv;
	struct ub_map *in;

	if (is_hash(map)) {
		if (!ub_run_cur) {	/* user space: no run keeps a retired map alive */
			pthread_mutex_lock(&m->lock);
			in = hash_map_of(m, key, 1);
			pthread_mutex_unlock(&m->lock);
			return in;
		}
		in = hash_map_of(m, key, 0);
	} else {
		uint32_t idx;
		memcpy(&idx, key, 4);
		in = idx < map->max_entries ? __atomic_load_n(&m->slot[idx], __ATOMIC_ACQUIRE)
					    : NULL;
	}
	run_grant(in);
	return in;
}

static int mim_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	struct mim *m = map->priv;
	struct ub_map *in = NULL;
	uint32_t idx, id;

	/* The id of this process's map in that entry: an entry another process stored (in
	 * a pinned outer map) names a map that does not exist here. */
	pthread_mutex_lock(&m->lock);
	if (is_hash(map)) {
		in = hash_map_of(m, key, 1);
	} else {
		memcpy(&idx, key, 4);
		in = idx < map->max_entries ? m->slot[idx] : NULL;
	}
	id = in ? in->obj.id : 0;
	pthread_mutex_unlock(&m->lock);
	if (!id)
		return -ENOENT;
	memcpy(value, &id, 4);
	return 0;
}

/* As the kernel's map_meta_equal: array-like inner maps also match max_entries, unless
 * the template was made with BPF_F_INNER_MAP. */
static int compatible(const struct mim_meta *t, const struct ub_map *in)
{
	if (t->type != in->type || t->key_size != in->key_size ||
	    t->value_size != in->value_size || t->flags != (in->flags & ~(uint32_t)BPF_F_RDONLY))
		return 0;
	int arrayish = t->type == BPF_MAP_TYPE_ARRAY || t->type == BPF_MAP_TYPE_PERCPU_ARRAY ||
		       t->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY ||
		       t->type == BPF_MAP_TYPE_CGROUP_ARRAY;
	return !arrayish || (t->flags & BPF_F_INNER_MAP) || t->max_entries == in->max_entries;
}

/* The map a value names (an fd), with a reference, or NULL and the kernel's errno. */
static struct ub_map *value_map(const struct mim *m, const void *value, int *err)
{
	int32_t fd;

	memcpy(&fd, value, 4);
	struct ub_map *in = ub_map_get(fd);
	if (!in) {
		*err = errno == EBADF ? -EBADF : -EINVAL;
		return NULL;
	}
	if (!compatible(&m->meta, in)) {
		ub_map_put(in);
		*err = -EINVAL;
		return NULL;
	}
	return in;
}

static int array_update(struct ub_map *map, struct mim *m, const void *key, const void *value,
			uint64_t flags)
{
	uint32_t idx;
	int err = 0;

	if (flags != BPF_ANY)
		return -EINVAL;
	memcpy(&idx, key, 4);
	if (idx >= map->max_entries)
		return -E2BIG;
	struct ub_map *in = value_map(m, value, &err);
	if (!in)
		return err;
	pthread_mutex_lock(&m->lock);
	err = clear_slot(m, idx);
	if (!err) {
		__atomic_store_n(&m->slot[idx], in, __ATOMIC_RELEASE);
		__atomic_store_n(&((uint32_t *)map->data)[idx], in->obj.id, __ATOMIC_RELEASE);
	}
	release_retired(m);
	pthread_mutex_unlock(&m->lock);
	if (err)
		ub_map_put(in);
	return err;
}

static uint32_t elem_of(struct mim *m, const void *key)
{
	const void *v = ub_hash_ops.lookup(&m->shadow, key);
	return v ? ub_hash_elem_index(&m->shadow, v) : NO_ELEM;
}

static int hash_update(struct ub_map *map, struct mim *m, const void *key, const void *value,
		       uint64_t flags)
{
	int err = 0;

	if (flags & BPF_F_LOCK)
		return -EINVAL;
	struct ub_map *in = value_map(m, value, &err);
	if (!in)
		return err;
	uint32_t id = in->obj.id;
	pthread_mutex_lock(&m->lock);
	uint32_t old = elem_of(m, key);
	/* Room to retire the replaced map first, so nothing can fail after the update. */
	err = old < m->nslots && m->slot[old] ? reserve_retired(m) : 0;
	if (!err)
		err = ub_hash_ops.update(&m->shadow, key, &id, flags);
	if (!err) {
		uint32_t e = elem_of(m, key);
		if (old < m->nslots && old != e)
			clear_slot(m, old);
		if (e < m->nslots) {
			clear_slot(m, e);	/* empty: cleared when its element was freed */
			__atomic_store_n(&m->slot[e], in, __ATOMIC_RELEASE);
			in = NULL;
		}
	}
	release_retired(m);
	pthread_mutex_unlock(&m->lock);
	if (in)
		ub_map_put(in);
	return err;
}

static int mim_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	struct mim *m = map->priv;

	return is_hash(map) ? hash_update(map, m, key, value, flags)
			    : array_update(map, m, key, value, flags);
}

/* Programs may only look up (the kernel's verifier refuses the other helpers here). */
static int mim_update_elem(struct ub_map *map, const void *key, const void *value,
			   uint64_t flags)
{
	return ub_run_cur ? -EINVAL : mim_update(map, key, value, flags);
}

static int mim_delete_user(struct ub_map *map, const void *key)
{
	struct mim *m = map->priv;
	int err;

	pthread_mutex_lock(&m->lock);
	if (is_hash(map)) {
		uint32_t e = elem_of(m, key);
		err = reserve_retired(m);
		if (!err)
			err = ub_hash_ops.delete(&m->shadow, key);
		if (!err && e < m->nslots)
			clear_slot(m, e);
	} else {
		uint32_t idx;
		memcpy(&idx, key, 4);
		if (idx >= map->max_entries)
			err = -E2BIG;
		else if (!m->slot[idx])
			err = -ENOENT;
		else if (!(err = clear_slot(m, idx)))
			__atomic_store_n(&((uint32_t *)map->data)[idx], 0, __ATOMIC_RELEASE);
	}
	release_retired(m);
	pthread_mutex_unlock(&m->lock);
	return err;
}

static int mim_delete(struct ub_map *map, const void *key)
{
	return ub_run_cur ? -EINVAL : mim_delete_user(map, key);
}

static int mim_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	struct mim *m = map->priv;

	if (is_hash(map))
		return ub_hash_ops.get_next_key(&m->shadow, key, next_key);
	return ub_array_ops.get_next_key(map, key, next_key);
}

#define MIM_OPS { \
	.check = mim_check, .create_check = mim_create_check, .data_size = mim_data_size, \
	.init = mim_init, .validate = mim_validate, .lookup = mim_lookup, \
	.lookup_user = mim_lookup_user, .update = mim_update, .update_elem = mim_update_elem, \
	.delete = mim_delete, .get_next_key = mim_get_next_key, .release = mim_release }

const struct ub_map_ops ub_array_of_maps_ops = MIM_OPS;
const struct ub_map_ops ub_hash_of_maps_ops = MIM_OPS;
