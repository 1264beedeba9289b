/*
 * current_task_under_cgroup, skb_under_cgroup: tests against a cgroup array's slot.
 *
 * The current task is this process (programs run in the loader's process). A packet's
 * socket: the kernel's BPF_PROG_TEST_RUN gives the skb a socket created by the caller, so
 * its cgroup is the caller's too; both helpers ask the same question here.
 */
#include <errno.h>
#include "helpers/helpers.h"
#include "maps/cgroup_array.h"
#include "maps/map.h"

#define MAP(x) ((const struct ub_map *)(uintptr_t)(x))

uint64_t ub_h_current_task_under_cgroup(uint64_t map, uint64_t idx, uint64_t r3, uint64_t r4,
					uint64_t r5)
{
	return (uint64_t)(int64_t)ub_cgroup_array_under(MAP(map), (uint32_t)idx);
}

uint64_t ub_h_skb_under_cgroup(uint64_t skb, uint64_t map, uint64_t idx, uint64_t r4, uint64_t r5)
{
	return (uint64_t)(int64_t)ub_cgroup_array_under(MAP(map), (uint32_t)idx);
}
