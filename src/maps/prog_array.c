/*
 * ub_prog_array: BPF_MAP_TYPE_PROG_ARRAY, the table bpf_tail_call() jumps through.
 * Programs are objects of one process, so the slots themselves (program references) are
 * process-local; the map file holds each slot's program id, which is what user space
 * reads back (as the kernel's lookup on a prog array returns the program id).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "api/prog_obj.h"
#include "maps/map.h"
#include "vm/vm.h"

struct prog_array {
	pthread_mutex_t lock;		/* serialises updates; readers use atomic loads */
	uint32_t owner_type;		/* program type of the first program stored (0: none) */
	/* Programs replaced or deleted while the map lives: a run may still be inside one
	 * (it took no reference), so they are released only with the map. */
	struct ub_prog_obj **retired;
	size_t nretired;
	struct ub_prog_obj *slot[];
};

static void prog_array_clear(struct ub_obj *obj);

static int prog_array_check(const union bpf_attr *attr)
{
	const uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY |
				 BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;

	if (attr->max_entries == 0 || attr->key_size != 4 || attr->value_size != 4 ||
	    (attr->map_flags & ~allowed))
		return -EINVAL;
	return 0;
}

static size_t prog_array_data_size(const struct ub_shm_hdr *h)
{
	return (size_t)h->max_entries * sizeof(uint32_t);
}

static int prog_array_init(struct ub_map *map)
{
	struct prog_array *pa = calloc(1, sizeof(*pa) + map->max_entries * sizeof(pa->slot[0]));

	if (!pa)
		return -ENOMEM;
	pthread_mutex_init(&pa->lock, NULL);
	map->priv = pa;
	map->obj.last_user = prog_array_clear;
	return 0;
}

/* A pinned prog array opened elsewhere starts empty here: programs do not cross processes. */
static int prog_array_validate(const struct ub_map *map)
{
	int err = prog_array_init((struct ub_map *)map);
	if (!err)
		memset(map->data, 0, map->max_entries * sizeof(uint32_t));
	return err;
}

static void prog_array_release(struct ub_map *map)
{
	struct prog_array *pa = map->priv;

	for (uint32_t i = 0; pa && i < map->max_entries; i++)
		ub_prog_obj_put(pa->slot[i]);
	for (size_t i = 0; pa && i < pa->nretired; i++)
		ub_prog_obj_put(pa->retired[i]);
	if (pa)
		free(pa->retired);
}

static int key_index(const struct ub_map *map, const void *key, uint32_t *idx)
{
	memcpy(idx, key, 4);
	return *idx < map->max_entries;
}

/* Program side: a direct lookup is refused by the verifier; tail calls use the slot. */
static void *prog_array_lookup(struct ub_map *map, const void *key)
{
	return NULL;
}

static int prog_array_lookup_user(struct ub_map *map, const void *key, void *value,
				  uint64_t flags)
{
	uint32_t idx, id;

	if (!key_index(map, key, &idx))
		return -ENOENT;
	id = __atomic_load_n(&((uint32_t *)map->data)[idx], __ATOMIC_ACQUIRE);
	if (!id)
		return -ENOENT;
	memcpy(value, &id, 4);
	return 0;
}

/*
 * Retired programs can go once no run is in flight: a run that could still be inside one
 * started before it left its slot and holds a per-CPU slot until it ends. Called with
 * pa->lock held.
 */
static void release_retired(struct prog_array *pa)
{
	if (!pa->nretired || !ub_cpu_slots_idle())
		return;
	for (size_t i = 0; i < pa->nretired; i++)
		ub_prog_obj_put(pa->retired[i]);
	pa->nretired = 0;
}

/* Called with pa->lock held. */
static int set_slot(struct ub_map *map, uint32_t idx, struct ub_prog_obj *p)
{
	struct prog_array *pa = map->priv;
	struct ub_prog_obj *old = pa->slot[idx];

	if (old) {
		struct ub_prog_obj **r = realloc(pa->retired, (pa->nretired + 1) * sizeof(*r));
		if (!r)
			return -ENOMEM;
		pa->retired = r;
		pa->retired[pa->nretired++] = old;
	}
	__atomic_store_n(&pa->slot[idx], p, __ATOMIC_RELEASE);
	__atomic_store_n(&((uint32_t *)map->data)[idx], p ? p->obj.id : 0, __ATOMIC_RELEASE);
	return 0;
}

/* The last user fd is gone: drop every program (the kernel's bpf_fd_array_map_clear). */
static void prog_array_clear(struct ub_obj *obj)
{
	struct ub_map *map = (struct ub_map *)obj;
	struct prog_array *pa = map->priv;

	pthread_mutex_lock(&pa->lock);
	for (uint32_t i = 0; i < map->max_entries; i++)
		if (pa->slot[i])
			set_slot(map, i, NULL);
	release_retired(pa);
	pthread_mutex_unlock(&pa->lock);
}

static int prog_array_update(struct ub_map *map, const void *key, const void *value,
			     uint64_t flags)
{
	struct prog_array *pa = map->priv;
	uint32_t idx;
	int32_t fd;

	if (flags != BPF_ANY)
		return -EINVAL;
	if (!key_index(map, key, &idx))
		return -E2BIG;
	memcpy(&fd, value, 4);
	struct ub_prog_obj *p = ub_prog_obj_get(fd);
	if (!p)
		return errno == EINVAL ? -EINVAL : -EBADF;
	pthread_mutex_lock(&pa->lock);
	/* All programs of one array share a type (the kernel's bpf_prog_map_compatible). */
	int err = pa->owner_type && pa->owner_type != p->type ? -EINVAL : 0;
	if (!err)
		err = set_slot(map, idx, p);
	if (!err)
		pa->owner_type = p->type;
	release_retired(pa);
	pthread_mutex_unlock(&pa->lock);
	if (err)
		ub_prog_obj_put(p);
	return err;
}

static int prog_array_delete(struct ub_map *map, const void *key)
{
	struct prog_array *pa = map->priv;
	uint32_t idx;

	if (!key_index(map, key, &idx))
		return -E2BIG;
	pthread_mutex_lock(&pa->lock);
	int err = pa->slot[idx] ? 0 : -ENOENT;
	if (!err)
		err = set_slot(map, idx, NULL);
	release_retired(pa);
	pthread_mutex_unlock(&pa->lock);
	return err;
}

static int prog_array_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	return ub_array_ops.get_next_key(map, key, next_key);
}

const struct uebpf_prog *ub_prog_array_get(const struct ub_map *map, uint32_t idx)
{
	const struct prog_array *pa = map->priv;

	if (map->type != BPF_MAP_TYPE_PROG_ARRAY || idx >= map->max_entries)
		return NULL;
	struct ub_prog_obj *p = __atomic_load_n(&pa->slot[idx], __ATOMIC_ACQUIRE);
	return p ? p->prog : NULL;
}

const struct ub_map_ops ub_prog_array_ops = {
	.check = prog_array_check,
	.data_size = prog_array_data_size,
	.init = prog_array_init,
	.validate = prog_array_validate,
	.lookup = prog_array_lookup,
	.lookup_user = prog_array_lookup_user,
	.update = prog_array_update,
	.update_elem = prog_array_update,
	.delete = prog_array_delete,
	.get_next_key = prog_array_get_next_key,
	.release = prog_array_release,
};
