/*
 * ub_cmd (maps): BPF_MAP_* commands with the kernel's argument checks and error numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include "api/bpf_cmd.h"
#include "maps/map.h"

#define U64_PTR(x) ((void *)(uintptr_t)(x))

enum { PERM_READ = 1, PERM_WRITE = 2 };

/* As map_get_sys_perms(): the fd's access mode, less what the map's flags forbid. */
static int sys_perms(const struct ub_map *map, int fd)
{
	int acc = fcntl(fd, F_GETFL) & O_ACCMODE;
	int p = acc == O_RDONLY ? PERM_READ : acc == O_WRONLY ? PERM_WRITE : PERM_READ | PERM_WRITE;

	if (map->flags & BPF_F_RDONLY)
		p &= ~PERM_WRITE;
	if (map->flags & BPF_F_WRONLY)
		p &= ~PERM_READ;
	return p;
}

/* Resolves attr->map_fd, checking the permission the command needs. */
static struct ub_map *map_for(const union bpf_attr *attr, int need, int *err)
{
	struct ub_map *map = ub_map_get((int)attr->map_fd);

	if (!map) {
		*err = -errno;
		return NULL;
	}
	if ((sys_perms(map, (int)attr->map_fd) & need) != need) {
		ub_map_put(map);
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
	if (attr->flags & BPF_F_LOCK)
		err = -EINVAL;	/* needs a bpf_spin_lock in the value, described by BTF */
	else if (!attr->key || !attr->value)
		err = -EFAULT;
	else
		err = map->ops->lookup_user(map, U64_PTR(attr->key), U64_PTR(attr->value), attr->flags);
	ub_map_put(map);
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
	else if (!attr->key || !attr->value)
		err = -EFAULT;
	else
		err = map->ops->update(map, U64_PTR(attr->key), U64_PTR(attr->value), attr->flags);
	ub_map_put(map);
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
	else if (!attr->key)
		err = -EFAULT;
	else
		err = map->ops->delete(map, U64_PTR(attr->key));
	ub_map_put(map);
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
	if (!attr->next_key)
		err = -EFAULT;
	else
		err = map->ops->get_next_key(map, attr->key ? U64_PTR(attr->key) : NULL,
					     U64_PTR(attr->next_key));
	ub_map_put(map);
	return err;
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
	if (__atomic_load_n(&map->hdr->frozen, __ATOMIC_ACQUIRE))
		err = -EPERM;
	else if (!is_hash)
		err = -ENOTSUP;	/* queue and stack come with their families */
	else if (attr->flags)
		err = -EINVAL;
	else if (!attr->key || !attr->value)
		err = -EFAULT;
	else {
		void *tmp = malloc(user_value_size(map));
		err = tmp ? map->ops->lookup_user(map, U64_PTR(attr->key), tmp, 0) : -ENOMEM;
		if (!err)
			err = map->ops->delete(map, U64_PTR(attr->key));
		if (!err)
			memcpy(U64_PTR(attr->value), tmp, user_value_size(map));
		free(tmp);
	}
	ub_map_put(map);
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
	uint32_t expect = 0;
	if (!__atomic_compare_exchange_n(&map->hdr->frozen, &expect, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		err = -EBUSY;	/* already frozen */
	ub_map_put(map);
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
	if (attr->open_flags & ~(uint32_t)(BPF_F_RDONLY | BPF_F_WRONLY))
		return -EINVAL;
	return ub_obj_fd_by_id(UB_OBJ_MAP, attr->map_id);
}

/*
 * Batch commands, done as the kernel's generic_map_*_batch(): the batch cursor is the
 * last key handled; lookup reports -ENOENT once the map is exhausted, with count set to
 * the elements copied; update and delete stop at the first failing element and report
 * how many were done.
 */
static int batch_prologue(union bpf_attr *attr, int need, struct ub_map **mapp)
{
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(batch)))
		return -EINVAL;
	if (attr->batch.flags || (attr->batch.elem_flags & ~(uint64_t)BPF_F_LOCK))
		return -EINVAL;
	union bpf_attr a = { .map_fd = attr->batch.map_fd };
	struct ub_map *map = map_for(&a, need, &err);
	if (!map)
		return err;
	if ((need & PERM_WRITE) && __atomic_load_n(&map->hdr->frozen, __ATOMIC_ACQUIRE)) {
		ub_map_put(map);
		return -EPERM;
	}
	*mapp = map;
	return 0;
}

static int lookup_batch(union bpf_attr *attr, int del)
{
	struct ub_map *map;
	int err = batch_prologue(attr, del ? PERM_READ | PERM_WRITE : PERM_READ, &map);
	if (err)
		return err;
	uint32_t max = attr->batch.count, cp = 0;
	size_t ks = map->key_size, vs = user_value_size(map);
	uint8_t *prev = NULL, *key = malloc(ks * 2);
	uint8_t *keys = U64_PTR(attr->batch.keys), *vals = U64_PTR(attr->batch.values);

	if (!key)
		err = -ENOMEM;
	else if (del && (map->type == BPF_MAP_TYPE_ARRAY || map->type == BPF_MAP_TYPE_PERCPU_ARRAY))
		err = -ENOTSUP;	/* array elements cannot be deleted */
	else if (max && (!keys || !vals))
		err = -EFAULT;
	if (!err && attr->batch.in_batch && !del) {
		prev = key + ks;
		memcpy(prev, U64_PTR(attr->batch.in_batch), ks);
	}
	while (!err && cp < max) {
		err = map->ops->get_next_key(map, prev, key);
		if (err)
			break;
		if (map->ops->lookup_user(map, key, vals + cp * vs, 0) == 0) {
			memcpy(keys + cp * ks, key, ks);
			if (del)
				map->ops->delete(map, key);
			cp++;
		}
		prev = key + ks;
		memcpy(prev, key, ks);
		if (del)
			prev = NULL;	/* deleted: start again from the first key */
	}
	if (cp && attr->batch.out_batch)
		memcpy(U64_PTR(attr->batch.out_batch), keys + (cp - 1) * ks, ks);
	attr->batch.count = cp;
	free(key);
	ub_map_put(map);
	return err;
}

static int write_batch(union bpf_attr *attr, int del)
{
	struct ub_map *map;
	int err = batch_prologue(attr, PERM_WRITE, &map);
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
	ub_map_put(map);
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
