/*
 * ub_cmd (maps): BPF_MAP_* commands with the kernel's argument checks and error numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include "api/bpf_cmd.h"
#include "api/fdcache.h"
#include "api/map_keyless.h"
#include "maps/map.h"

#define U64_PTR(x) ((void *)(uintptr_t)(x))
#define UB_ENOTSUPP 524	/* the kernel's internal ENOTSUPP, which bpf() passes to user space */

enum { PERM_READ = UB_ACC_READ, PERM_WRITE = UB_ACC_WRITE };

/*
 * As map_get_sys_perms(): the fd's access (fixed when the fd was made: the fd table), less
 * writing when the map is frozen. A process that mapped the file read-only (BPF_OBJ_GET
 * with BPF_F_RDONLY: BPF_F_RDONLY in map->flags) cannot write through any fd of that map.
 */
static unsigned sys_perms(const struct ub_map *map, unsigned acc)
{
	unsigned p = acc;

	if (map->flags & BPF_F_RDONLY)
		p &= ~(unsigned)PERM_WRITE;
	if (__atomic_load_n(&map->hdr->frozen, __ATOMIC_ACQUIRE))
		p &= ~(unsigned)PERM_WRITE;	/* a frozen map is read-only for the syscall side */
	return p;
}

/* A reference map_for() took from the fd table (fds the thread cache does not keep). */
static __thread struct ub_map *owned;

/* Ends a command's use of the map from map_for(). */
static void map_done(struct ub_map *map)
{
	if (map && map == owned) {
		owned = NULL;
		ub_map_put(map);
	}
}

/*
 * Resolves attr->map_fd, checking the permission the command needs. The map is borrowed
 * from the thread's fd cache (api/fdcache.h: no lock, no system call) and valid until
 * map_done(); fds the cache does not keep go to the fd table.
 */
static struct ub_map *map_for(const union bpf_attr *attr, unsigned need, int *err)
{
	unsigned acc = 0;
	struct ub_map *map = (struct ub_map *)ub_fdcache_get((int)attr->map_fd, UB_OBJ_MAP, &acc);

	if (!map && !errno)
		map = owned = ub_map_get_acc((int)attr->map_fd, &acc);
	if (!map) {
		*err = -errno;
		return NULL;
	}
	if ((sys_perms(map, acc) & need) != need) {
		map_done(map);
		*err = -EPERM;
		return NULL;
	}
	return map;
}

/* Bytes of a value as user space passes it: per-CPU maps carry one rounded value per CPU. */
static size_t user_value_size(const struct ub_map *map)
{
	if (map->type == BPF_MAP_TYPE_PERCPU_ARRAY || map->type == BPF_MAP_TYPE_PERCPU_HASH ||
	    map->type == BPF_MAP_TYPE_LRU_PERCPU_HASH)
		return (size_t)ub_map_value_stride(map) * map->nr_cpus;
	return map->value_size;
}

int ub_cmd_map_create(union bpf_attr *attr, unsigned int size)
{
	if (ub_attr_tail_zero(attr, UB_ATTR_END(map_extra)))
		return -EINVAL;
	return ub_map_create(attr);
}

int ub_cmd_map_lookup(union bpf_attr *attr, unsigned int size)
{
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(flags)) || (attr->flags & ~(uint64_t)BPF_F_LOCK))
		return -EINVAL;
	struct ub_map *map = map_for(attr, PERM_READ, &err);
	if (!map)
		return err;
	if ((attr->flags & BPF_F_LOCK) && map->lock_off < 0)
		err = -EINVAL;	/* needs a bpf_spin_lock in the value, described by BTF */
	else if (ub_map_is_keyless(map))
		err = ub_keyless_lookup(map, attr);	/* queue, stack: peek; bloom: test */
	else if (!map->key_size)	/* ring buffer: __bpf_copy_key() takes only NULL */
		err = attr->key ? -EINVAL
				: map->ops->lookup_user(map, NULL, U64_PTR(attr->value), attr->flags);
	else if (!attr->key)
		err = -EFAULT;
	else if (!attr->value)	/* as the kernel: a missing key is ENOENT before any copy */
		err = map->ops->lookup && !map->ops->lookup(map, U64_PTR(attr->key)) ? -ENOENT
										      : -EFAULT;
	else
		err = map->ops->lookup_user(map, U64_PTR(attr->key), U64_PTR(attr->value), attr->flags);
	map_done(map);
	return err;
}

int ub_cmd_map_update(union bpf_attr *attr, unsigned int size)
{
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(flags)))
		return -EINVAL;
	struct ub_map *map = map_for(attr, PERM_WRITE, &err);
	if (!map)
		return err;
	if (__atomic_load_n(&map->hdr->frozen, __ATOMIC_ACQUIRE))
		err = -EPERM;
	else if ((attr->flags & BPF_F_LOCK) && map->lock_off < 0)
		err = -EINVAL;	/* as map_update_elem(): before the key, the value, the family */
	else if (ub_map_is_keyless(map))
		err = ub_keyless_update(map, attr);	/* push */
	else if (!map->key_size)	/* ring buffer: BPF_F_LOCK, then the key must be NULL */
		err = attr->key || (attr->flags & BPF_F_LOCK)
			      ? -EINVAL
			      : map->ops->update(map, NULL, U64_PTR(attr->value), attr->flags);
	else if (!attr->key || !attr->value)
		err = -EFAULT;
	else
		err = map->ops->update(map, U64_PTR(attr->key), U64_PTR(attr->value), attr->flags);
	map_done(map);
	return err;
}

int ub_cmd_map_delete(union bpf_attr *attr, unsigned int size)
{
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(key)))
		return -EINVAL;
	struct ub_map *map = map_for(attr, PERM_WRITE, &err);
	if (!map)
		return err;
	if (__atomic_load_n(&map->hdr->frozen, __ATOMIC_ACQUIRE))
		err = -EPERM;
	else if (ub_map_is_keyless(map))	/* no key to name: NULL, as __bpf_copy_key() */
		err = attr->key ? -EINVAL : map->ops->delete(map, NULL);
	else if (!map->key_size)	/* ring buffer */
		err = attr->key ? -EINVAL : map->ops->delete(map, NULL);
	else if (!attr->key)
		err = -EFAULT;
	else
		err = map->ops->delete(map, U64_PTR(attr->key));
	map_done(map);
	return err;
}

int ub_cmd_map_get_next_key(union bpf_attr *attr, unsigned int size)
{
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(next_key)))
		return -EINVAL;
	struct ub_map *map = map_for(attr, PERM_READ, &err);
	if (!map)
		return err;
	if (!map->key_size && attr->key) {	/* __bpf_copy_key(): a key of size 0 must be NULL */
		map_done(map);
		return -EINVAL;
	}
	/* As the kernel: the answer goes to a buffer first, so an empty map is ENOENT. */
	uint8_t *next = malloc(map->key_size);
	err = next ? map->ops->get_next_key(map, attr->key ? U64_PTR(attr->key) : NULL, next)
		   : -ENOMEM;
	if (!err && !attr->next_key)
		err = -EFAULT;
	else if (!err)
		memcpy(U64_PTR(attr->next_key), next, map->key_size);
	free(next);
	map_done(map);
	return err;
}

/* One element out: in one step where the family can (no update slips in between). */
static int lookup_and_delete(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	if (map->ops->lookup_and_delete)
		return map->ops->lookup_and_delete(map, key, value, flags);
	int err = map->ops->lookup_user(map, key, value, flags);
	return err ? err : map->ops->delete(map, key);
}

int ub_cmd_map_lookup_and_delete(union bpf_attr *attr, unsigned int size)
{
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(flags)) || (attr->flags & ~(uint64_t)BPF_F_LOCK))
		return -EINVAL;
	struct ub_map *map = map_for(attr, PERM_READ | PERM_WRITE, &err);
	if (!map)
		return err;
	int is_hash = map->type == BPF_MAP_TYPE_HASH || map->type == BPF_MAP_TYPE_PERCPU_HASH ||
		      map->type == BPF_MAP_TYPE_LRU_HASH || map->type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	/* Kernel order: BPF_F_LOCK (no spin lock), the key, then the map type. */
	if (attr->flags && (ub_map_is_keyless(map) || map->lock_off < 0))
		err = -EINVAL;
	else if (ub_map_is_keyless(map))
		err = ub_keyless_lookup_and_delete(map, attr);	/* pop */
	else if (!map->key_size)	/* ring buffer: NULL key, then no such command */
		err = attr->key ? -EINVAL : -UB_ENOTSUPP;
	else if (!attr->key)
		err = -EFAULT;
	else if (!is_hash)
		err = -UB_ENOTSUPP;	/* queue and stack come with their families */
	else {
		void *tmp = malloc(user_value_size(map));
		err = tmp ? lookup_and_delete(map, U64_PTR(attr->key), tmp, attr->flags) : -ENOMEM;
		if (!err && !attr->value)
			err = -EFAULT;	/* as the kernel: deleted, then the copy out fails */
		else if (!err)
			memcpy(U64_PTR(attr->value), tmp, user_value_size(map));
		free(tmp);
	}
	map_done(map);
	return err;
}

int ub_cmd_map_freeze(union bpf_attr *attr, unsigned int size)
{
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(map_fd)))
		return -EINVAL;
	struct ub_map *map = map_for(attr, PERM_WRITE, &err);
	if (!map)
		return err;
	err = 0;
	uint32_t expect = 0;
	if (!__atomic_compare_exchange_n(&map->hdr->frozen, &expect, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		err = -EBUSY;	/* already frozen */
	else
		ub_map_seal(map);
	map_done(map);
	return err;
}

int ub_cmd_map_get_next_id(union bpf_attr *attr, unsigned int size)
{
	if (ub_attr_tail_zero(attr, UB_ATTR_END(next_id)))
		return -EINVAL;
	uint32_t next = ub_obj_next_id(UB_OBJ_MAP, attr->start_id);
	if (!next)
		return -ENOENT;
	attr->next_id = next;
	return 0;
}

int ub_cmd_map_get_fd_by_id(union bpf_attr *attr, unsigned int size)
{
	if (ub_attr_tail_zero(attr, UB_ATTR_END(open_flags)))
		return -EINVAL;
	if ((attr->open_flags & ~(uint32_t)(BPF_F_RDONLY | BPF_F_WRONLY)) ||
	    (attr->open_flags & BPF_F_RDONLY && attr->open_flags & BPF_F_WRONLY))
		return -EINVAL;
	/* As the kernel: the new fd's access is open_flags', whatever the map was made with. */
	return ub_obj_fd_by_id_acc(UB_OBJ_MAP, attr->map_id, ub_obj_acc_of_flags(attr->open_flags));
}

/*
 * Batch commands, done as the kernel's generic_map_*_batch(): the batch cursor is the
 * last key handled; lookup reports -ENOENT once the map is exhausted, with count set to
 * the elements copied; update and delete stop at the first failing element and report
 * how many were done.
 */
/*
 * The batch commands each family has, as the kernel's map ops (checked against 6.18):
 * the hash family all four, arrays lookup and update, the LPM trie all but
 * lookup-and-delete. Every other family (CPUMAP, DEVMAP, PROG_ARRAY, XSKMAP, STACK_TRACE,
 * the keyless ones...) has none: ENOTSUPP.
 */
enum { B_LOOKUP = 1, B_LOOKUP_DEL = 2, B_UPDATE = 4, B_DELETE = 8, B_ALL = 15 };
static const struct { uint32_t type; uint8_t cmds; } batch_families[] = {
	{ BPF_MAP_TYPE_HASH, B_ALL },
	{ BPF_MAP_TYPE_PERCPU_HASH, B_ALL },
	{ BPF_MAP_TYPE_LRU_HASH, B_ALL },
	{ BPF_MAP_TYPE_LRU_PERCPU_HASH, B_ALL },
	{ BPF_MAP_TYPE_HASH_OF_MAPS, B_ALL },
	{ BPF_MAP_TYPE_ARRAY, B_LOOKUP | B_UPDATE },
	{ BPF_MAP_TYPE_PERCPU_ARRAY, B_LOOKUP | B_UPDATE },
	{ BPF_MAP_TYPE_ARRAY_OF_MAPS, B_LOOKUP | B_UPDATE },
	{ BPF_MAP_TYPE_LPM_TRIE, B_LOOKUP | B_UPDATE | B_DELETE },
};

static int batch_supported(const struct ub_map *map, int need, int del)
{
	int cmd = (need & PERM_READ) ? (del ? B_LOOKUP_DEL : B_LOOKUP) : (del ? B_DELETE : B_UPDATE);

	for (size_t i = 0; i < sizeof(batch_families) / sizeof(batch_families[0]); i++)
		if (batch_families[i].type == map->type)
			return !!(batch_families[i].cmds & cmd);
	return 0;
}

/*
 * Kernel order (bpf_map_do_batch): the fd and its permissions, then whether the family has
 * the command (arrays have no delete batches: ENOTSUPP), then the flags. elem_flags may
 * only be BPF_F_LOCK, which needs a spin lock in the value (BTF), else EINVAL. batch.flags is
 * checked by the hash lookup batches only; the generic code ignores it.
 */
static int batch_prologue(union bpf_attr *attr, int need, int del, struct ub_map **mapp)
{
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(batch)))
		return -EINVAL;
	union bpf_attr a = { .map_fd = attr->batch.map_fd };
	struct ub_map *map = map_for(&a, need, &err);
	if (!map)
		return err;
	/* the hash family (the only one with lookup-and-delete) has its own lookup batch */
	int hash_lookup = (need & PERM_READ) && batch_supported(map, PERM_READ, 1);
	err = 0;
	if (!batch_supported(map, need, del))
		err = -UB_ENOTSUPP;
	else if ((attr->batch.elem_flags & ~(uint64_t)BPF_F_LOCK) ||
		 ((attr->batch.elem_flags & BPF_F_LOCK) && map->lock_off < 0) ||
		 (hash_lookup && attr->batch.flags))
		err = -EINVAL;
	if (err) {
		map_done(map);
		return err;
	}
	*mapp = map;
	return 0;
}

static int lookup_batch(union bpf_attr *attr, int del)
{
	struct ub_map *map;
	int err = batch_prologue(attr, del ? PERM_READ | PERM_WRITE : PERM_READ, del, &map);
	if (err)
		return err;
	uint32_t max = attr->batch.count, cp = 0;
	size_t ks = map->key_size, vs = user_value_size(map);
	uint8_t *prev = NULL, *key = malloc(ks * 2);
	uint8_t *keys = U64_PTR(attr->batch.keys), *vals = U64_PTR(attr->batch.values);

	if (!key)
		err = -ENOMEM;
	if (!err && attr->batch.in_batch && !del) {
		prev = key + ks;
		memcpy(prev, U64_PTR(attr->batch.in_batch), ks);
	}
	while (!err && cp < max) {
		err = map->ops->get_next_key(map, prev, key);
		if (err)
			break;
		if (!keys || !vals) {	/* as the kernel: EFAULT when there is something to copy */
			err = -EFAULT;
			break;
		}
		uint64_t ef = attr->batch.elem_flags;
		int got = (del ? lookup_and_delete(map, key, vals + cp * vs, ef)
			       : map->ops->lookup_user(map, key, vals + cp * vs, ef)) == 0;
		if (got) {
			memcpy(keys + cp * ks, key, ks);
			cp++;
		}
		prev = key + ks;
		memcpy(prev, key, ks);
		if (del && got)	/* deleted: start again from the first key; else go past it */
			prev = NULL;
	}
	if (cp && attr->batch.out_batch)
		memcpy(U64_PTR(attr->batch.out_batch), keys + (cp - 1) * ks, ks);
	attr->batch.count = cp;
	free(key);
	map_done(map);
	return err;
}

static int write_batch(union bpf_attr *attr, int del)
{
	struct ub_map *map;
	int err = batch_prologue(attr, PERM_WRITE, del, &map);
	if (err)
		return err;
	uint32_t max = attr->batch.count, done = 0;
	const uint8_t *keys = U64_PTR(attr->batch.keys), *vals = U64_PTR(attr->batch.values);
	size_t ks = map->key_size, vs = user_value_size(map);

	if (max && (!keys || (!del && !vals)))
		err = -EFAULT;
	for (; !err && done < max; done++) {
		err = del ? map->ops->delete(map, keys + done * ks)
			  : map->ops->update(map, keys + done * ks, vals + done * vs,
					     attr->batch.elem_flags);
		if (err)
			break;
	}
	attr->batch.count = done;
	map_done(map);
	return err;
}

int ub_cmd_map_lookup_batch(union bpf_attr *attr, unsigned int size)
{
	return lookup_batch(attr, 0);
}

int ub_cmd_map_lookup_and_delete_batch(union bpf_attr *attr, unsigned int size)
{
	return lookup_batch(attr, 1);
}

int ub_cmd_map_update_batch(union bpf_attr *attr, unsigned int size)
{
	return write_batch(attr, 0);
}

int ub_cmd_map_delete_batch(union bpf_attr *attr, unsigned int size)
{
	return write_batch(attr, 1);
}
