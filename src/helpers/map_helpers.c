/*
 * Map helpers. r1 is the map (the loader turned the program's map fd into the map's
 * address); keys and values are program memory.
 */
#include <errno.h>
#include "helpers/helpers.h"
#include "maps/map.h"
#include "vm/vm.h"

#define MAP(x) ((struct ub_map *)(uintptr_t)(x))
#define PTR(x) ((void *)(uintptr_t)(x))

uint64_t ub_h_map_lookup_elem(uint64_t map, uint64_t key, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return (uint64_t)(uintptr_t)MAP(map)->ops->lookup(MAP(map), PTR(key));
}

uint64_t ub_h_map_update_elem(uint64_t map, uint64_t key, uint64_t value, uint64_t flags,
			      uint64_t r5)
{
	return (uint64_t)(int64_t)MAP(map)->ops->update_elem(MAP(map), PTR(key), PTR(value), flags);
}

uint64_t ub_h_map_delete_elem(uint64_t map, uint64_t key, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return (uint64_t)(int64_t)MAP(map)->ops->delete(MAP(map), PTR(key));
}

/*
 * Tail calls are jumps that the interpreter (and JIT) perform themselves; this is
 * reached only through callx, which the kernel does not allow for bpf_tail_call either.
 */
uint64_t ub_h_tail_call(uint64_t ctx, uint64_t map, uint64_t idx, uint64_t r4, uint64_t r5)
{
	return (uint64_t)-EINVAL;
}
