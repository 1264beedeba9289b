/*
 * ub_keyless: the bpf() element commands on maps whose elements have no key (queue, stack,
 * bloom filter: the families with push/pop/peek). map_cmd.c hands a command here after its
 * common checks (attr tail, fd, permissions, frozen, the flags it checks first).
 */
#ifndef UB_API_MAP_KEYLESS_H
#define UB_API_MAP_KEYLESS_H
#include <linux/bpf.h>
#include "maps/map.h"

/* Does this map take BPF_MAP_*_ELEM through push, pop and peek? */
static inline int ub_map_is_keyless(const struct ub_map *map)
{
	return map->ops->peek != NULL;
}

int ub_keyless_lookup(struct ub_map *map, const union bpf_attr *attr);	/* peek */
int ub_keyless_update(struct ub_map *map, const union bpf_attr *attr);	/* push */
int ub_keyless_lookup_and_delete(struct ub_map *map, const union bpf_attr *attr);	/* pop */

#endif
