/*
 * ub_array: BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY.
 * Values are contiguous from offset 0 of the map file, each rounded up to 8 bytes as in
 * the kernel, so a BPF_F_MMAPABLE array mmapped at offset 0 shows the values. A per-CPU
 * array holds nr_cpus values per index, one per CPU slot.
 */
#include <errno.h>
#include <string.h>
#include "maps/map.h"
#include "maps/shm.h"
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

/*
 * The journal, after the values: a user-space update writes the new value into a journal
 * slot, marks the slot with the element's index (+1), copies the value into place and
 * clears the mark, all under the slot's lock (ub_shm_lock_robust). A writer killed in the
 * middle of the copy (SIGKILL) leaves the mark set and the lock held by a dead process: the
 * next process that takes the lock over, or that opens the file for writing, copies the
 * journaled value into place again, so the element holds the new value whole, never a mix
 * of two. A writer killed before the mark leaves the element untouched.
 * Slots are chosen by index, so updates of different elements mostly take different locks.
 * Programs write values in place (through value pointers, as in the kernel): no journal.
 */
struct array_jslot {
	uint32_t lock;
	uint32_t idx1;			/* 1 + index of the element being written, or 0 */
	uint8_t data[];			/* the whole value (per-CPU: every CPU's) */
};

#define JSLOT_SMALL	4096u		/* values up to this size get 8 slots, larger ones 1 */

static size_t jvalue_bytes(uint32_t value_size, uint32_t nvalues)
{
	return (((size_t)value_size + 7) & ~(size_t)7) * nvalues;
}

static uint32_t jslots(size_t vbytes)
{
	return vbytes <= JSLOT_SMALL ? 8 : 1;
}

static size_t jslot_size(size_t vbytes)
{
	return sizeof(struct array_jslot) + vbytes;
}

/*
 * The journal starts on the page after the values: the pages a BPF_F_MMAPABLE array maps
 * hold the values and zeros after them, as the kernel's.
 */
static size_t with_journal(size_t values, size_t vbytes)
{
	return ub_shm_page_align(values) + jslots(vbytes) * jslot_size(vbytes);
}

static size_t array_data_size(const struct ub_shm_hdr *h)
{
	return with_journal((size_t)h->max_entries * stride_of(h), jvalue_bytes(h->value_size, 1));
}

static size_t percpu_array_data_size(const struct ub_shm_hdr *h)
{
	return with_journal((size_t)h->max_entries * h->nr_cpus * stride_of(h),
			    jvalue_bytes(h->value_size, h->nr_cpus));
}

/* Bytes of one element's value(s) as user space writes them (per-CPU: all CPUs). */
static uint32_t nvalues_of(const struct ub_map *map)
{
	return map->type == BPF_MAP_TYPE_PERCPU_ARRAY ? map->nr_cpus : 1;
}

static struct array_jslot *jslot_at(const struct ub_map *map, uint32_t i)
{
	size_t vbytes = jvalue_bytes(map->value_size, nvalues_of(map));
	size_t values = (size_t)map->max_entries * vbytes;

	return (struct array_jslot *)(map->data + ub_shm_page_align(values) +
				      i * jslot_size(vbytes));
}

static uint8_t *elem_at(const struct ub_map *map, uint32_t idx)
{
	return map->data + (size_t)idx * jvalue_bytes(map->value_size, nvalues_of(map));
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
	return 0;	/* a fresh file is zero-filled: zero values, an empty journal */
}

/* Redoes the copy a dead writer left half done (the slot's lock is held). */
static void jslot_replay(const struct ub_map *map, struct array_jslot *j, size_t n)
{
	uint32_t idx1 = __atomic_load_n(&j->idx1, __ATOMIC_ACQUIRE);

	if (idx1 && idx1 - 1 < map->max_entries)
		copy_in(elem_at(map, idx1 - 1), j->data, n);
	__atomic_store_n(&j->idx1, 0, __ATOMIC_RELEASE);
}

/* A user-space update of element idx: `n` bytes (the value, or every CPU's). */
static void journaled_copy(const struct ub_map *map, uint32_t idx, const void *value, size_t n)
{
	size_t vbytes = jvalue_bytes(map->value_size, nvalues_of(map));
	struct array_jslot *j = jslot_at(map, idx % jslots(vbytes));

	if (ub_shm_lock_robust(&j->lock))
		jslot_replay(map, j, vbytes);
	copy_in(j->data, value, n);
	__atomic_store_n(&j->idx1, idx + 1, __ATOMIC_RELEASE);
	copy_in(elem_at(map, idx), value, n);
	__atomic_store_n(&j->idx1, 0, __ATOMIC_RELEASE);
	ub_shm_unlock(&j->lock);
}

/*
 * Opening a file for writing finishes what dead writers left: slots whose lock is held by
 * a process that is gone are replayed. A read-only mapping cannot, and sees the element
 * as the writer left it until a writer opens the map.
 */
static int array_validate(const struct ub_map *map)
{
	size_t vbytes = jvalue_bytes(map->value_size, nvalues_of(map));

	if (map->flags & BPF_F_RDONLY)
		return 0;
	for (uint32_t i = 0; i < jslots(vbytes); i++) {
		struct array_jslot *j = jslot_at(map, i);
		if (ub_shm_lock_reap(&j->lock)) {
			jslot_replay(map, j, vbytes);
			ub_shm_unlock(&j->lock);
		}
	}
	return 0;
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

/*
 * A value with a bpf_spin_lock: the word itself is never copied (zero in the copy, left
 * alone in the map); with BPF_F_LOCK the rest is copied under it, as the kernel's
 * copy_map_value_locked(). A read-only mapping cannot take the lock.
 */
static int array_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	uint8_t *v = array_lookup(map, key);
	size_t off = (size_t)map->lock_off;

	if (!v)
		return -ENOENT;
	if (map->lock_off < 0) {
		copy_out(value, v, map->value_size);
		return 0;
	}
	if ((flags & BPF_F_LOCK) && !(map->flags & BPF_F_RDONLY)) {
		ub_map_copy_value_locked(map, value, v, 1);
	} else {
		copy_out(value, v, off);
		copy_out((uint8_t *)value + off + 4, v + off + 4, map->value_size - off - 4);
	}
	ub_map_clear_lock(map, value);
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

/* The checks of every update, with the key's index (*idx) read from it. */
static int array_update_check(const struct ub_map *map, const void *key, uint64_t flags,
			      uint32_t *idx)
{
	memcpy(idx, key, 4);
	if ((flags & ~(uint64_t)BPF_F_LOCK) > BPF_EXIST)
		return -EINVAL;
	if (*idx >= map->max_entries)
		return -E2BIG;
	if ((flags & ~(uint64_t)BPF_F_LOCK) == BPF_NOEXIST)
		return -EEXIST;	/* every element of an array always exists */
	if ((flags & BPF_F_LOCK) && map->lock_off < 0)
		return -EINVAL;	/* no bpf_spin_lock in the value */
	return 0;
}

static int array_update_prog(struct ub_map *map, const void *key, const void *value,
			     uint64_t flags);

static int array_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	uint32_t idx;
	int err = array_update_check(map, key, flags, &idx);

	if (err)
		return err;
	if (map->lock_off >= 0)	/* around the lock word, or under it: never through the journal,
				 * whose replay would write the lock word */
		return array_update_prog(map, key, value, flags);
	journaled_copy(map, idx, value, map->value_size);
	return 0;
}

/* A program's update: in place, as its stores through a value pointer. */
static int array_update_prog(struct ub_map *map, const void *key, const void *value,
			     uint64_t flags)
{
	uint32_t idx;
	int err = array_update_check(map, key, flags, &idx);

	if (err)
		return err;
	uint8_t *v = map->data + (size_t)idx * ub_map_value_stride(map);
	size_t off = (size_t)map->lock_off;
	if (map->lock_off < 0) {
		copy_in(v, value, map->value_size);
	} else if (flags & BPF_F_LOCK) {
		ub_map_copy_value_locked(map, v, value, 0);
	} else {	/* around the lock word, which stays as it is */
		copy_in(v, value, off);
		copy_in(v + off + 4, (const uint8_t *)value + off + 4, map->value_size - off - 4);
	}
	return 0;
}

static int percpu_array_update(struct ub_map *map, const void *key, const void *value,
			       uint64_t flags)
{
	uint32_t idx;
	size_t stride = ub_map_value_stride(map);
	int err = array_update_check(map, key, flags, &idx);

	if (err)
		return err;
	/* Padding included, as the kernel's copy_map_value_long(). */
	journaled_copy(map, idx, value, map->nr_cpus * stride);
	return 0;
}

/* A program updates its own CPU's value only. */
static int percpu_array_update_elem(struct ub_map *map, const void *key, const void *value,
				    uint64_t flags)
{
	uint32_t idx;
	int err = array_update_check(map, key, flags, &idx);

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
	.validate = array_validate,
	.lookup = array_lookup,
	.lookup_user = array_lookup_user,
	.update = array_update,
	.update_elem = array_update_prog,
	.delete = array_delete,
	.get_next_key = array_get_next_key,
};

const struct ub_map_ops ub_percpu_array_ops = {
	.check = percpu_array_check,
	.data_size = percpu_array_data_size,
	.init = array_init,
	.validate = array_validate,
	.lookup = percpu_array_lookup,
	.lookup_user = percpu_array_lookup_user,
	.update = percpu_array_update,
	.update_elem = percpu_array_update_elem,
	.delete = array_delete,
	.get_next_key = array_get_next_key,
};
