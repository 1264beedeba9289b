/*
 * Helpers every program type has: time, randomness, CPU and NUMA ids.
 */
#include <sched.h>
#include <time.h>
#include "helpers/helpers.h"
#include "vm/vm.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ub_h_ktime_get_ns(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t ub_h_ktime_get_boot_ns(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return clock_ns(CLOCK_BOOTTIME);
}

uint64_t ub_h_ktime_get_coarse_ns(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

/* jiffies at the kernel's default CONFIG_HZ of 250, counted from boot. */
uint64_t ub_h_jiffies64(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return clock_ns(CLOCK_BOOTTIME) / 4000000ull;
}

uint64_t ub_h_get_prandom_u32(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	/* Per-thread xorshift64: cheap and never shared between threads (not for crypto,
	 * like the kernel's prandom). */
	static __thread uint64_t s;
	if (!s)
		s = clock_ns(CLOCK_MONOTONIC) ^ (uint64_t)(uintptr_t)&s;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)(s >> 16);
}

/* The per-CPU slot the run owns, so that per-CPU maps and this id agree. */
uint64_t ub_h_get_smp_processor_id(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return ub_run_cur ? ub_run_cur->cpu : 0;
}

uint64_t ub_h_get_numa_node_id(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return 0;	/* user space sees one node unless libnuma says otherwise */
}
