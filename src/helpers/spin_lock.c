/*
 * bpf_spin_lock / bpf_spin_unlock: the lock is the 4-byte struct bpf_spin_lock inside a map
 * value (where the value's BTF put it, map->lock_off), a word of the map's shared file, so
 * it excludes programs in every thread and process and user space's BPF_F_LOCK copies
 * (maps/map.c: ub_map_copy_value_locked).
 *
 * The verifier proves what the kernel's does: the argument is the lock of a map value,
 * one lock is held at a time, and it is released before exit. Checked (unverified) runs
 * get the first checked at run time; taking a second lock while one is held fails the run
 * instead of deadlocking the thread on itself, and a lock still held when the run ends is
 * released then (ub_spin_lock_run_end).
 */
#include <errno.h>
#include <string.h>
#include "helpers/helpers.h"
#include "maps/hash.h"
#include "maps/map.h"
#include "vm/vm.h"

/* The lock a run of this thread holds (checked runs: a second one is refused). */
static __thread uint32_t *held;

/* Is p the lock word of one of map's values? */
static int map_lock_word(const struct ub_map *map, uintptr_t p)
{
	if (map->lock_off < 0)
		return 0;
	if (map->type == BPF_MAP_TYPE_ARRAY) {
		uintptr_t start = (uintptr_t)map->data, stride = ub_map_value_stride(map);
		return p >= start && p - start < (uintptr_t)map->max_entries * stride &&
		       (p - start) % stride == (uintptr_t)map->lock_off;
	}
	if (map->type == BPF_MAP_TYPE_HASH) {
		uint32_t idx = ub_hash_elem_index(map, (const void *)p);
		const uint8_t *key = idx == UINT32_MAX ? NULL : ub_hash_elem_key(map, idx);
		uintptr_t value = (uintptr_t)key + ((map->key_size + 7u) & ~7u);
		return key && p == value + (uintptr_t)map->lock_off;
	}
	return 0;
}

int ub_spin_lock_ptr_ok(const struct ub_run *run, uint64_t p)
{
	const struct uebpf_prog *prog = run->prog;

	for (uint32_t i = 0; prog && i < prog->nr_maps; i++)
		if (map_lock_word(prog->maps[i], (uintptr_t)p))
			return 1;
	return 0;
}

uint64_t ub_h_spin_lock(uint64_t lock, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	uint32_t *w = (uint32_t *)(uintptr_t)lock;

	if (held && ub_run_cur && ub_run_cur->prog && ub_run_cur->prog->checked)
		return (uint64_t)-EDEADLK;	/* the verifier refuses this; a checked run learns here */
	ub_shm_lock(w);
	held = w;
	return 0;
}

uint64_t ub_h_spin_unlock(uint64_t lock, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	uint32_t *w = (uint32_t *)(uintptr_t)lock;

	if (held == w)
		held = NULL;
	ub_shm_unlock(w);
	return 0;
}

void ub_spin_lock_run_end(void)
{
	if (held) {
		ub_shm_unlock(held);
		held = NULL;
	}
}
