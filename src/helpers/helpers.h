/*
 * ub_helper: helper prototypes and implementations, from helpers.def.
 */
#ifndef UB_HELPERS_H
#define UB_HELPERS_H
#include <stdint.h>
#include <uebpf/uebpf.h>

/* Argument types, as the kernel's enum bpf_arg_type (the subset uebpf's helpers use). */
enum ub_arg {
	UB_ARG_NONE,
	UB_ARG_ANYTHING,
	UB_ARG_CONST_MAP_PTR,
	UB_ARG_PTR_TO_MAP_KEY,
	UB_ARG_PTR_TO_MAP_VALUE,
	UB_ARG_PTR_TO_MEM,
	UB_ARG_PTR_TO_UNINIT_MEM,
	UB_ARG_CONST_SIZE,
	UB_ARG_CONST_SIZE_OR_ZERO,
	UB_ARG_PTR_TO_CTX,
	UB_ARG_PTR_TO_FUNC,		/* a function of the program (lddw func), for callbacks */
	UB_ARG_PTR_TO_STACK_OR_NULL,	/* callback context: stack memory or NULL */
	UB_ARG_PTR_TO_UNINIT_MAP_VALUE,	/* value_size writable bytes (map_pop_elem, map_peek_elem) */
	UB_ARG_PTR_TO_RINGBUF_MEM,	/* a record of this run from ringbuf_reserve, not yet released */
	UB_ARG_CONST_ALLOC_SIZE_OR_ZERO,	/* bytes to allocate (ringbuf_reserve): any scalar */
	UB_ARG_PTR_TO_MEM_OR_NULL,	/* readable memory of the next argument's size, or NULL */
	UB_ARG_PTR_TO_SOCK_COMMON,	/* a socket pointer of any kind (bpf_sk_fullsock ...) */
	UB_ARG_PTR_TO_BTF_ID_SOCK_COMMON,	/* ... or a kernel socket object (bpf_skc_to_*) */
	UB_ARG_PTR_TO_SOCK_RELEASE,	/* a referenced socket, released by the call (bpf_sk_release) */
	UB_ARG_PTR_TO_LONG,		/* 8 writable bytes the helper fills (bpf_strtol) */
	UB_ARG_PTR_TO_SPIN_LOCK,	/* the struct bpf_spin_lock of a map value (its BTF says where) */
};

enum ub_ret {
	UB_RET_INTEGER,
	UB_RET_VOID,
	UB_RET_PTR_TO_MAP_VALUE_OR_NULL,
	UB_RET_PTR_TO_RINGBUF_MEM_OR_NULL,	/* a reserved record, writable for the size asked */
	UB_RET_PTR_TO_SOCKET_OR_NULL,		/* struct bpf_sock (full socket) or NULL */
	UB_RET_PTR_TO_SOCK_COMMON_OR_NULL,	/* struct bpf_sock, common fields only, or NULL */
	UB_RET_PTR_TO_TCP_SOCK_OR_NULL,		/* struct bpf_tcp_sock or NULL */
	UB_RET_PTR_TO_BTF_ID_OR_NULL,		/* a kernel object uebpf does not describe, or NULL */
};

/* Which program types may call a helper. */
enum ub_helper_grp {
	UB_GRP_BASE = 1,	/* every program type */
	UB_GRP_TRACE = 2,	/* tracing types (kprobe, tracepoint, perf_event, ...) */
	UB_GRP_SOCK = 4,	/* socket filters */
	UB_GRP_TC = 8,		/* tc classifiers and actions */
	UB_GRP_XDP = 0x10,	/* XDP */
	/* Packet helpers as the kernel hands them out (sk_filter_func_proto,
	 * tc_cls_act_func_proto, xdp_func_proto): */
	UB_GRP_SKB = UB_GRP_SOCK | UB_GRP_TC,		/* programs that see an sk_buff */
	UB_GRP_TC_XDP = UB_GRP_TC | UB_GRP_XDP,
	UB_GRP_NET = UB_GRP_SOCK | UB_GRP_TC | UB_GRP_XDP,	/* every packet type */
	UB_GRP_TRACE_NET = UB_GRP_TRACE | UB_GRP_NET,	/* tracing and packet types (perf_event_output) */
	UB_GRP_CUSTOM = 0x80,	/* registered by an embedder: types list them by id */
};

struct ub_helper_def {
	uint32_t id;
	const char *name;
	uebpf_helper_fn fn;
	uint8_t grp;
	uint8_t ret;
	uint8_t args[5];
};

/* The row for a helper id (built in or registered), or NULL. */
const struct ub_helper_def *ub_helper_find(uint32_t id);

/*
 * Does the helper move or rewrite the packet (the kernel's bpf_helper_changes_pkt_data())?
 * After such a call the verifier must forget every packet pointer the program held.
 */
int ub_helper_changes_pkt_data(uint32_t id);

/* Checked runs: is p the bpf_spin_lock word of a value of one of the run's maps?
 * (helpers/spin_lock.c) */
struct ub_run;
int ub_spin_lock_ptr_ok(const struct ub_run *run, uint64_t p);
/* Checked runs, at their end: releases a bpf_spin_lock the program did not (the verifier
 * refuses such a program; an unverified one must not leave the value locked for good). */
void ub_spin_lock_run_end(void);

/* Fills prog->helper_fn/helper_def/helper_cnt with every helper of the process. */
struct uebpf_prog;
int ub_helper_fill(struct uebpf_prog *prog);

#define UB_HELPER(name, ...) \
	uint64_t ub_h_##name(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5);
#include "helpers/helpers.def"
#undef UB_HELPER

#endif
