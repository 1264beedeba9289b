/*
 * ub_cgroup_array: BPF_MAP_TYPE_CGROUP_ARRAY, slots holding cgroup v2 directories, and the
 * test the helpers bpf_current_task_under_cgroup / bpf_skb_under_cgroup make with them.
 */
#ifndef UB_MAPS_CGROUP_ARRAY_H
#define UB_MAPS_CGROUP_ARRAY_H
#include <stdint.h>

struct ub_map;
/* Is this process in the cgroup of slot idx or one of its descendants? 1 or 0; -E2BIG for
 * an index past the end, -EAGAIN for an empty slot (the kernel's answers); -EINVAL when
 * map is not a cgroup array. */
int ub_cgroup_array_under(const struct ub_map *map, uint32_t idx);

#endif
