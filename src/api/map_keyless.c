/*
 * ub_keyless: BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM and BPF_MAP_LOOKUP_AND_DELETE_ELEM
 * on queue, stack and bloom filter maps, in the kernel's order (syscall.c: map_lookup_elem,
 * map_update_elem, map_lookup_and_delete_elem with bpf_map_copy_value/update_value):
 * a key must be NULL (key_size is 0: __bpf_copy_key() refuses any pointer with EINVAL),
 * then the value, then the family's peek, push or pop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "api/map_keyless.h"

#define U64_PTR(x) ((void *)(uintptr_t)(x))
#define KERNEL_ENOTSUPP 524	/* the kernel's internal ENOTSUPP, seen by user space */

/*
 * Peek or pop into a buffer first, as the kernel does, so that a failure leaves the
 * caller's buffer alone (the family zeroes its output on ENOENT, for programs).
 */
static int take(struct ub_map *map, const union bpf_attr *attr, int del)
{
	void *tmp = malloc(map->value_size);
	void *out = U64_PTR(attr->value);

	if (!tmp)
		return -ENOMEM;
	/*
	 * No output buffer: ENOENT on an empty map, else EFAULT (copy_to_user fails). As the
	 * kernel (and hash.c's lookup-and-delete), a pop has already taken the element then.
	 */
	int err = del ? map->ops->pop(map, tmp) : map->ops->peek(map, tmp);
	if (!err && !out)
		err = -EFAULT;
	if (!err)
		memcpy(out, tmp, map->value_size);
	free(tmp);
	return err;
}

int ub_keyless_lookup(struct ub_map *map, const union bpf_attr *attr)
{
	if (attr->key)
		return -EINVAL;
	if (map->type == BPF_MAP_TYPE_BLOOM_FILTER)	/* the value is the question */
		return attr->value ? map->ops->peek(map, U64_PTR(attr->value)) : -EFAULT;
	return take(map, attr, 0);
}

int ub_keyless_update(struct ub_map *map, const union bpf_attr *attr)
{
	if (attr->flags & BPF_F_LOCK)
		return -EINVAL;	/* no bpf_spin_lock in such a value */
	if (attr->key)
		return -EINVAL;
	if (!attr->value)
		return -EFAULT;
	return map->ops->push(map, U64_PTR(attr->value), attr->flags);
}

int ub_keyless_lookup_and_delete(struct ub_map *map, const union bpf_attr *attr)
{
	if (attr->key)
		return -EINVAL;
	if (map->type == BPF_MAP_TYPE_BLOOM_FILTER)
		return -KERNEL_ENOTSUPP;	/* only queues and stacks pop from user space */
	return take(map, attr, 1);
}
