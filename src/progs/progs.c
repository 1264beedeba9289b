/*
 * ub_progtype: the program type table.
 */
#include <linux/ptrace.h>
#include <linux/bpf_perf_event.h>
#include <linux/seccomp.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uebpf/uebpf.h>
#include "helpers/helpers.h"
#include "progs/progs.h"

#define SOCK	(UB_GRP_BASE | UB_GRP_SOCK)
#define TC	(UB_GRP_BASE | UB_GRP_TC)
#define XDP	(UB_GRP_BASE | UB_GRP_XDP)
#define TRACE	(UB_GRP_BASE | UB_GRP_TRACE)

#define T(type_, name_, ctx_, grp_, run_) \
	{ .type = (type_), .name = (name_), .ctx_size = (ctx_), .grp = (grp_), .run = (run_) }

static const struct ub_prog_type types[] = {
	T(BPF_PROG_TYPE_SOCKET_FILTER, "socket_filter", sizeof(struct __sk_buff), SOCK, UB_RUN_SKB),
	T(BPF_PROG_TYPE_SCHED_CLS, "sched_cls", sizeof(struct __sk_buff), TC, UB_RUN_SKB_L2),
	T(BPF_PROG_TYPE_SCHED_ACT, "sched_act", sizeof(struct __sk_buff), TC, UB_RUN_SKB_L2),
	T(BPF_PROG_TYPE_XDP, "xdp", sizeof(struct xdp_md), XDP, UB_RUN_XDP),
	T(BPF_PROG_TYPE_KPROBE, "kprobe", sizeof(struct pt_regs), TRACE, UB_RUN_CTX),
	T(BPF_PROG_TYPE_TRACEPOINT, "tracepoint", 0, TRACE, UB_RUN_CTX),
	T(BPF_PROG_TYPE_RAW_TRACEPOINT, "raw_tracepoint", 0, TRACE, UB_RUN_CTX),
	T(BPF_PROG_TYPE_PERF_EVENT, "perf_event", sizeof(struct bpf_perf_event_data), TRACE,
	  UB_RUN_CTX),
	T(BPF_PROG_TYPE_SYSCALL, "syscall", 0, TRACE, UB_RUN_CTX),
	T(UEBPF_PROG_TYPE_SECCOMP, "seccomp", sizeof(struct seccomp_data), UB_GRP_BASE, UB_RUN_CTX),
	T(UEBPF_PROG_TYPE_LSM, "lsm", 0, TRACE, UB_RUN_CTX),
};

/* Types registered by embedders: appended, never removed (programs may use them). */
static struct ub_prog_type *custom[64];
static size_t ncustom;
static pthread_mutex_t custom_lock = PTHREAD_MUTEX_INITIALIZER;

const struct ub_prog_type *ub_prog_type_find(uint32_t type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return &types[i];
	size_t n = __atomic_load_n(&ncustom, __ATOMIC_ACQUIRE);
	if (type >= UB_FIRST_CUSTOM_TYPE && type - UB_FIRST_CUSTOM_TYPE < n)
		return custom[type - UB_FIRST_CUSTOM_TYPE];
	return NULL;
}

int ub_prog_type_allows(const struct ub_prog_type *pt, uint32_t id, uint8_t grp)
{
	if (grp & pt->grp & ~UB_GRP_CUSTOM)
		return 1;
	for (size_t i = 0; i < pt->nr_helper_ids; i++)
		if (pt->helper_ids[i] == id)
			return 1;
	return 0;
}

int uebpf_prog_type_register(const struct uebpf_prog_type_opts *o)
{
	if (!o || o->sz < sizeof(size_t) || !o->name || (o->helper_cnt && !o->helper_ids))
		return -EINVAL;
	struct ub_prog_type *pt = calloc(1, sizeof(*pt));
	uint32_t *ids = calloc(o->helper_cnt ? o->helper_cnt : 1, sizeof(*ids));
	char *name = strdup(o->name);
	if (!pt || !ids || !name) {
		free(pt), free(ids), free(name);
		return -ENOMEM;
	}
	if (o->helper_cnt)
		memcpy(ids, o->helper_ids, o->helper_cnt * sizeof(*ids));
	*pt = (struct ub_prog_type){ .name = name, .ctx_size = o->ctx_size,
				     .grp = (uint8_t)(o->base_helpers ? UB_GRP_BASE : 0),
				     .run = UB_RUN_CTX, .helper_ids = ids,
				     .nr_helper_ids = o->helper_cnt };
	int id = -E2BIG;
	pthread_mutex_lock(&custom_lock);
	if (ncustom < sizeof(custom) / sizeof(custom[0])) {
		id = (int)(UB_FIRST_CUSTOM_TYPE + ncustom);
		pt->type = (uint32_t)id;
		custom[ncustom] = pt;
		__atomic_store_n(&ncustom, ncustom + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&custom_lock);
	if (id < 0) {
		free(pt), free(ids), free(name);
	}
	return id;
}
