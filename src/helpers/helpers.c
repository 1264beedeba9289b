/*
 * ub_helpers: the default helper table. Ids are the kernel's enum bpf_func_id.
 */
#include <stdlib.h>
#include <time.h>
#include <sched.h>
#include "vm/vm.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t h_ktime_get_ns(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t h_ktime_get_boot_ns(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return clock_ns(CLOCK_BOOTTIME);
}

static uint64_t h_ktime_get_coarse_ns(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

static uint64_t h_get_prandom_u32(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	/* A per-thread xorshift: cheap, and never shared between threads. */
	static __thread uint64_t s;
	if (!s)
		s = clock_ns(CLOCK_MONOTONIC) | 1;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)s;
}

static uint64_t h_get_smp_processor_id(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	int cpu = sched_getcpu();
	return cpu < 0 ? 0 : (uint64_t)cpu;
}

const struct uebpf_helper ub_default_helpers[] = {
	{ BPF_FUNC_ktime_get_ns, "ktime_get_ns", h_ktime_get_ns },
	{ BPF_FUNC_get_prandom_u32, "get_prandom_u32", h_get_prandom_u32 },
	{ BPF_FUNC_get_smp_processor_id, "get_smp_processor_id", h_get_smp_processor_id },
	{ BPF_FUNC_ktime_get_boot_ns, "ktime_get_boot_ns", h_ktime_get_boot_ns },
	{ BPF_FUNC_ktime_get_coarse_ns, "ktime_get_coarse_ns", h_ktime_get_coarse_ns },
};
const size_t ub_default_helper_cnt = sizeof(ub_default_helpers) / sizeof(ub_default_helpers[0]);
