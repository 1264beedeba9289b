/*
 * ub_array: BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY.
 * Values are contiguous from offset 0 of the map file, each rounded up to 8 bytes as in
 * the kernel, so a BPF_F_MMAPABLE array mmapped at offset 0 shows the values. A per-CPU
 * array holds nr_cpus values per index, one per CPU slot.
 */
#include <errno.h>
#include <string.h>
#include "maps/map.h"
#include "vm/vm.h"

#define UB_VALUE_MAX		0x7fffffffu	/* INT_MAX: the kernel's limit on one value */
#define UB_PCPU_MIN_UNIT_SIZE	(32u << 10)	/* ... and on one per-CPU value */

static int array_check_common(const union bpf_attr *attr, int percpu)
{
	/* As array_map_alloc_check(): MMAPABLE, INNER_MAP and NUMA_NODE are for plain arrays. */
	const uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_RDONLY | BPF_F_WRONLY |
				 BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG | BPF_F_INNER_MAP;
	const uint32_t plain_only = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_INNER_MAP;

	if (attr->max_entries == 0 || attr->key_size != 4 || attr->value_size == 0 ||
	    (attr->map_flags & ~allowed) || (percpu && (attr->map_flags & plain_only)))
		return -EINVAL;
	if (attr->value_size > (percpu ? UB_PCPU_MIN_UNIT_SIZE : UB_VALUE_MAX))
		return -E2BIG;
	return 0;
}

static int array_check(const union bpf_attr *attr)
{
	return array_check_common(attr, 0);
}

static int percpu_array_check(const union bpf_attr *attr)
{
	return array_check_common(attr, 1);
}

static size_t stride_of(const struct ub_shm_hdr *h)
{
	return ((size_t)h->value_size + 7) & ~(size_t)7;
}

static size_t array_data_size(const struct ub_shm_hdr *h)
{
	return (size_t)h->max_entries * stride_of(h);
}

static size_t percpu_array_data_size(const struct ub_shm_hdr *h)
{
	return (size_t)h->max_entries * h->nr_cpus * stride_of(h);
}

/*
 * Values are copied in 8-byte words with relaxed atomics: a lookup racing with an update
 * (allowed, as in the kernel: array values are plain memory) sees each word whole, old or
 * new, and the race is a declared one rather than undefined behaviour, so ThreadSanitizer
 * accepts it. Values in the map start at multiples of 8; the caller's buffer may not.
 */
static void copy_out(void *dst, const uint8_t *val, size_t n)
{
	size_t i = 0;

	for (uint64_t w; i + 8 <= n; i += 8) {
		w = __atomic_load_n((const uint64_t *)(const void *)(val + i), __ATOMIC_RELAXED);
		memcpy((uint8_t *)dst + i, &w, 8);
	}
	for (; i < n; i++)
		((uint8_t *)dst)[i] = __atomic_load_n(val + i, __ATOMIC_RELAXED);
}

static void copy_in(uint8_t *val, const void *src, size_t n)
{
	size_t i = 0;

	for (uint64_t w; i + 8 <= n; i += 8) {
		memcpy(&w, (const uint8_t *)src + i, 8);
		__atomic_store_n((uint64_t *)(void *)(val + i), w, __ATOMIC_RELAXED);
	}
	for (; i < n; i++)
		__atomic_store_n(val + i, ((const uint8_t *)src)[i], __ATOMIC_RELAXED);
}

static int array_init(struct ub_map *map)
{
	return 0;	/* a fresh file is zero-filled, which is an array of zero values */
}

static unsigned cur_cpu(const struct ub_map *map)
{
	unsigned cpu = ub_run_cur ? ub_run_cur->cpu : 0;
	return cpu < map->nr_cpus ? cpu : 0;
}

static void *array_lookup(struct ub_map *map, const void *key)
{
	uint32_t idx;

	memcpy(&idx, key, 4);
	if (idx >= map->max_entries)
		return NULL;
	return map->data + (size_t)idx * ub_map_value_stride(map);
}

static void *percpu_array_lookup(struct ub_map *map, const void *key)
{
	uint32_t idx;
	size_t stride = ub_map_value_stride(map);

	memcpy(&idx, key, 4);
	if (idx >= map->max_entries)
		return NULL;
	return map->data + ((size_t)idx * map->nr_cpus + cur_cpu(map)) * stride;
}

static int array_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	void *v = array_lookup(map, key);

	if (!v)
		return -ENOENT;
	copy_out(value, v, map->value_size);
	return 0;
}

/* User space sees one value per possible CPU, each rounded up to 8 bytes (kernel ABI). */
static int percpu_array_lookup_user(struct ub_map *map, const void *key, void *value,
				    uint64_t flags)
{
	uint32_t idx;
	size_t stride = ub_map_value_stride(map);

	memcpy(&idx, key, 4);
	if (idx >= map->max_entries)
		return -ENOENT;
	copy_out(value, map->data + (size_t)idx * map->nr_cpus * stride, map->nr_cpus * stride);
	return 0;
}

static int array_update_check(const struct ub_map *map, uint32_t idx, uint64_t flags)
{
	if ((flags & ~(uint64_t)BPF_F_LOCK) > BPF_EXIST)
		return -EINVAL;
	if (idx >= map->max_entries)
		return -E2BIG;
	if ((flags & ~(uint64_t)BPF_F_LOCK) == BPF_NOEXIST)
		return -EEXIST;	/* every element of an array always exists */
	if (flags & BPF_F_LOCK)
		return -EINVAL;	/* no bpf_spin_lock in the value (needs BTF) */
	return 0;
}

static int array_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	uint32_t idx;

	memcpy(&idx, key, 4);
	int err = array_update_check(map, idx, flags);
	if (err)
		return err;
	copy_in(map->data + (size_t)idx * ub_map_value_stride(map), value, map->value_size);
	return 0;
}

static int percpu_array_update(struct ub_map *map, const void *key, const void *value,
			       uint64_t flags)
{
	uint32_t idx;
	size_t stride = ub_map_value_stride(map);

	memcpy(&idx, key, 4);
	int err = array_update_check(map, idx, flags);
	if (err)
		return err;
	/* Padding included, as the kernel's copy_map_value_long(). */
	copy_in(map->data + (size_t)idx * map->nr_cpus * stride, value, map->nr_cpus * stride);
	return 0;
}

/* A program updates its own CPU's value only. */
static int percpu_array_update_elem(struct ub_map *map, const void *key, const void *value,
				    uint64_t flags)
{
	uint32_t idx;

	memcpy(&idx, key, 4);
	int err = array_update_check(map, idx, flags);
	if (err)
		return err;
	copy_in(percpu_array_lookup(map, key), value, map->value_size);
	return 0;
}

static int array_delete(struct ub_map *map, const void *key)
{
	return -EINVAL;
}

static int array_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	uint32_t idx, next;

	if (!key || (memcpy(&idx, key, 4), idx >= map->max_entries)) {
		next = 0;
	} else {
		if (idx == map->max_entries - 1)
			return -ENOENT;
		next = idx + 1;
	}
	memcpy(next_key, &next, 4);
	return 0;
}

const struct ub_map_ops ub_array_ops = {
	.check = array_check,
	.data_size = array_data_size,
	.init = array_init,
	.lookup = array_lookup,
	.lookup_user = array_lookup_user,
	.update = array_update,
	.update_elem = array_update,
	.delete = array_delete,
	.get_next_key = array_get_next_key,
};

const struct ub_map_ops ub_percpu_array_ops = {
	.check = percpu_array_check,
	.data_size = percpu_array_data_size,
	.init = array_init,
	.lookup = percpu_array_lookup,
	.lookup_user = percpu_array_lookup_user,
	.update = percpu_array_update,
	.update_elem = percpu_array_update_elem,
	.delete = array_delete,
	.get_next_key = array_get_next_key,
};
