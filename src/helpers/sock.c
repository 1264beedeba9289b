/*
 * Socket helpers of tc and XDP programs (net/core/filter.c), and the two sk_buff
 * helpers that ask about the socket's world (cgroup class id, checksum offload).
 *
 * uebpf has no socket table: a lookup finds nothing and returns NULL, which every
 * program must already handle (the verifier makes it null-check the result). So no
 * program ever holds a socket pointer at run time, and the helpers that take one are
 * only reached with what the verifier proved is a socket; they answer "none" too. The
 * verifier side (reference counting of looked-up sockets, casts between socket kinds)
 * is the kernel's and lives in src/verifier/calls.c.
 */
#include <errno.h>
#include "helpers/helpers.h"

#define NEG(e) ((uint64_t)(int64_t)(e))

/* bpf_sk_lookup_tcp/udp(ctx, tuple, tuple_size, netns, flags): no socket matches. */
uint64_t ub_h_sk_lookup_tcp(uint64_t ctx, uint64_t tuple, uint64_t size, uint64_t netns,
			    uint64_t flags)
{
	(void)ctx, (void)tuple, (void)size, (void)netns, (void)flags;
	return 0;
}

uint64_t ub_h_sk_lookup_udp(uint64_t ctx, uint64_t tuple, uint64_t size, uint64_t netns,
			    uint64_t flags)
{
	(void)ctx, (void)tuple, (void)size, (void)netns, (void)flags;
	return 0;
}

uint64_t ub_h_skc_lookup_tcp(uint64_t ctx, uint64_t tuple, uint64_t size, uint64_t netns,
			     uint64_t flags)
{
	(void)ctx, (void)tuple, (void)size, (void)netns, (void)flags;
	return 0;
}

/* Releasing a reference that uebpf never took (the lookups return NULL). */
uint64_t ub_h_sk_release(uint64_t sk, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)sk, (void)r2, (void)r3, (void)r4, (void)r5;
	return 0;
}

/* Casts of a socket to its full, TCP or listener form: there is no socket to cast. */
uint64_t ub_h_sk_fullsock(uint64_t sk, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)sk, (void)r2, (void)r3, (void)r4, (void)r5;
	return 0;
}

uint64_t ub_h_tcp_sock(uint64_t sk, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)sk, (void)r2, (void)r3, (void)r4, (void)r5;
	return 0;
}

uint64_t ub_h_get_listener_sock(uint64_t sk, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)sk, (void)r2, (void)r3, (void)r4, (void)r5;
	return 0;
}

/* bpf_skc_to_*: the kernel object of a socket of that kind; uebpf has no sockets. */
#define SKC_TO(kind) \
uint64_t ub_h_skc_to_##kind(uint64_t sk, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5) \
{ \
	(void)sk, (void)r2, (void)r3, (void)r4, (void)r5; \
	return 0; \
}
SKC_TO(tcp6_sock)
SKC_TO(tcp_sock)
SKC_TO(tcp_timewait_sock)
SKC_TO(tcp_request_sock)
SKC_TO(udp6_sock)

/* The net_cls class id of the packet's socket: test-run packets have none (0), as in
 * the kernel. */
uint64_t ub_h_get_cgroup_classid(uint64_t ctx, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)ctx, (void)r2, (void)r3, (void)r4, (void)r5;
	return 0;
}

/* Adds to skb->csum only under CHECKSUM_COMPLETE; uebpf's sk_buffs are CHECKSUM_NONE
 * (see pkt.c), where the kernel answers -ENOTSUPP (524, not a UAPI errno). */
uint64_t ub_h_csum_update(uint64_t ctx, uint64_t csum, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)ctx, (void)csum, (void)r3, (void)r4, (void)r5;
	return NEG(-524);
}
