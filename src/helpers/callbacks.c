/*
 * Helpers that call back into the program: bpf_loop and bpf_for_each_map_elem.
 * The callback is a function of the program (a value from lddw func); it runs in a
 * nested run with its own stack, and a fault inside it stops the whole program.
 */
#include <errno.h>
#include <string.h>
#include "helpers/helpers.h"
#include "maps/map.h"
#include "vm/vm.h"

#define UB_MAX_LOOPS (1u << 23)		/* BPF_MAX_LOOPS */

uint64_t ub_h_loop(uint64_t nr_loops, uint64_t fn, uint64_t cb_ctx, uint64_t flags, uint64_t r5)
{
	struct ub_run in;
	uint64_t i, ret = 0;
	int err;

	if (flags)
		return (uint64_t)-EINVAL;
	if (nr_loops > UB_MAX_LOOPS)
		return (uint64_t)-E2BIG;
	if ((err = ub_callback_begin(&in, fn)))
		return (uint64_t)(int64_t)err;
	for (i = 0; i < (uint32_t)nr_loops; i++) {
		uint64_t args[5] = { i, cb_ctx, 0, 0, 0 };
		err = ub_callback_call(&in, fn, args, &ret);
		if (err || ret) {	/* 1 from the callback ends the loop early */
			i++;
			break;
		}
	}
	ub_callback_end(&in, err);
	return i;
}

/* Map types whose elements can be walked (the kernel's map_check_for_each support). */
static int walkable(uint32_t type)
{
	return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

uint64_t ub_h_for_each_map_elem(uint64_t m, uint64_t fn, uint64_t cb_ctx, uint64_t flags,
				uint64_t r5)
{
	struct ub_map *map = (struct ub_map *)(uintptr_t)m;
	uint8_t key[2][512];
	struct ub_run in;
	uint64_t n = 0, ret = 0;
	int err, cur = 0;

	if (flags || !walkable(map->type) || map->key_size > sizeof(key[0]))
		return (uint64_t)-EINVAL;
	if ((err = ub_callback_begin(&in, fn)))
		return (uint64_t)(int64_t)err;
	ub_run_add_region(&in, key, sizeof(key), 0);	/* the callback reads the key */
	for (void *prev = NULL; !map->ops->get_next_key(map, prev, key[cur]); prev = key[cur], cur ^= 1) {
		void *value = map->ops->lookup(map, key[cur]);
		if (!value)
			continue;	/* deleted meanwhile */
		uint64_t args[5] = { m, (uintptr_t)key[cur], (uintptr_t)value, cb_ctx, 0 };
		n++;
		err = ub_callback_call(&in, fn, args, &ret);
		if (err || ret)
			break;
	}
	ub_callback_end(&in, err);
	return n;
}
