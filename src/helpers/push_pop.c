/*
 * map_push_elem, map_pop_elem, map_peek_elem: the keyless map helpers (queue, stack,
 * bloom filter), each a call into the family's push/pop/peek as in the kernel's helpers.c.
 */
#include <errno.h>
#include "helpers/helpers.h"
#include "maps/map.h"

#define MAP(x) ((struct ub_map *)(uintptr_t)(x))
#define PTR(x) ((void *)(uintptr_t)(x))

/*
 * The kernel's verifier allows these helpers only on queue, stack and bloom maps (and pop
 * not on a bloom filter, whose pop answers EOPNOTSUPP anyway). An unverified program may
 * name another map: it gets EINVAL instead of a call through a missing operation.
 */
uint64_t ub_h_map_push_elem(uint64_t map, uint64_t value, uint64_t flags, uint64_t r4,
			    uint64_t r5)
{
	const struct ub_map_ops *ops = MAP(map)->ops;
	return (uint64_t)(int64_t)(ops->push ? ops->push(MAP(map), PTR(value), flags) : -EINVAL);
}

uint64_t ub_h_map_pop_elem(uint64_t map, uint64_t value, uint64_t r3, uint64_t r4, uint64_t r5)
{
	const struct ub_map_ops *ops = MAP(map)->ops;
	return (uint64_t)(int64_t)(ops->pop ? ops->pop(MAP(map), PTR(value)) : -EINVAL);
}

uint64_t ub_h_map_peek_elem(uint64_t map, uint64_t value, uint64_t r3, uint64_t r4, uint64_t r5)
{
	const struct ub_map_ops *ops = MAP(map)->ops;
	return (uint64_t)(int64_t)(ops->peek ? ops->peek(MAP(map), PTR(value)) : -EINVAL);
}
