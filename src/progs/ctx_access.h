/*
 * ub_ctx: which context fields a program of each type may load and store, with which
 * sizes, and which loads yield packet pointers: the kernel's is_valid_access callbacks
 * (net/core/filter.c, kernel/trace/bpf_trace.c), as data the verifier asks.
 */
#ifndef UB_PROGS_CTX_ACCESS_H
#define UB_PROGS_CTX_ACCESS_H
#include <stdbool.h>
#include <stdint.h>

struct ub_prog_type;

/* What a context load gives the program. */
enum ub_ctx_ret {
	UB_CTX_SCALAR = 0,
	UB_CTX_PKT,		/* start of the packet (xdp_md.data, __sk_buff.data) */
	UB_CTX_PKT_META,	/* start of the metadata */
	UB_CTX_PKT_END,		/* end of the packet */
	UB_CTX_SOCK_COMMON_OR_NULL,	/* __sk_buff.sk */
};

struct ub_ctx_req {
	const struct ub_prog_type *pt;
	uint32_t attach_type;	/* expected_attach_type of the program */
	int off;
	int size;
	bool write;
	bool ldsx;		/* a sign-extending load */
};

/* True if the access is allowed; *ret says what a load yields. */
bool ub_ctx_access(const struct ub_ctx_req *rq, uint8_t *ret);

/* May helpers see the context as plain memory (no field rewrites, e.g. syscall)? */
bool ub_ctx_is_raw(const struct ub_prog_type *pt);

/* Socket objects a program may be given (struct bpf_sock and friends). */
enum ub_sock_kind { UB_SOCK_COMMON, UB_SOCK_FULL, UB_SOCK_TCP, UB_SOCK_XDP };
bool ub_ctx_sock_access(enum ub_sock_kind kind, int off, int size, bool write);

#endif
