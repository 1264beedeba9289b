/*
 * ub_progtype: the program type table.
 */
#include <linux/ptrace.h>
#include <linux/bpf_perf_event.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include "helpers/helpers.h"
#include "progs/progs.h"

#define NET	(UB_GRP_BASE | UB_GRP_NET)
#define TRACE	(UB_GRP_BASE | UB_GRP_TRACE)

static const struct ub_prog_type types[] = {
	{ BPF_PROG_TYPE_SOCKET_FILTER, "socket_filter", sizeof(struct __sk_buff), NET, UB_RUN_SKB },
	{ BPF_PROG_TYPE_SCHED_CLS, "sched_cls", sizeof(struct __sk_buff), NET, UB_RUN_SKB_L2 },
	{ BPF_PROG_TYPE_SCHED_ACT, "sched_act", sizeof(struct __sk_buff), NET, UB_RUN_SKB_L2 },
	{ BPF_PROG_TYPE_XDP, "xdp", sizeof(struct xdp_md), NET, UB_RUN_XDP },
	{ BPF_PROG_TYPE_KPROBE, "kprobe", sizeof(struct pt_regs), TRACE, UB_RUN_CTX },
	{ BPF_PROG_TYPE_TRACEPOINT, "tracepoint", 0, TRACE, UB_RUN_CTX },
	{ BPF_PROG_TYPE_RAW_TRACEPOINT, "raw_tracepoint", 0, TRACE, UB_RUN_CTX },
	{ BPF_PROG_TYPE_PERF_EVENT, "perf_event", sizeof(struct bpf_perf_event_data), TRACE,
	  UB_RUN_CTX },
	{ BPF_PROG_TYPE_SYSCALL, "syscall", 0, TRACE, UB_RUN_CTX },
	{ UEBPF_PROG_TYPE_SECCOMP, "seccomp", sizeof(struct seccomp_data), UB_GRP_BASE, UB_RUN_CTX },
	{ UEBPF_PROG_TYPE_LSM, "lsm", 0, TRACE, UB_RUN_CTX },
};

const struct ub_prog_type *ub_prog_type_find(uint32_t type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return &types[i];
	return NULL;
}
