/*
 * sk_buff helpers of tc and socket-filter programs, as net/core/filter.c: loads and
 * stores, growing and shrinking the packet at either end or after its headers, VLAN tags,
 * the flow hash and the socket cookie. Each works on the run's packet descriptor and
 * resyncs what the program sees afterwards (bpf_compute_data_pointers()).
 *
 * Test runs build linear, uncloned sk_buffs with CHECKSUM_NONE and no GSO, as the
 * kernel's do, so checksum-offload and GSO bookkeeping has nothing to update here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <string.h>
#include "helpers/helpers.h"
#include "progs/pkt.h"
#include "vm/vm.h"

#define PTR(x) ((void *)(uintptr_t)(x))
#define NEG(e) ((uint64_t)(int64_t)(e))
#define SKB(ctx) ub_pkt_cur((ctx), UB_PKT_SKB)
#define LEN(pk) ((uint32_t)((pk)->end - (pk)->data))

uint64_t ub_h_skb_load_bytes(uint64_t ctx, uint64_t off, uint64_t to, uint64_t len, uint64_t r5)
{
	struct ub_pkt *pk = SKB(ctx);
	uint32_t o = (uint32_t)off, n = (uint32_t)len;

	/* skb_header_pointer(): within skb->len. A failed load zeroes the buffer, so the
	 * program never reads stale stack. */
	if (pk && o <= INT_MAX && (uint64_t)o + n <= LEN(pk)) {
		memcpy(PTR(to), pk->data + o, n);
		return 0;
	}
	memset(PTR(to), 0, n);
	return NEG(-EFAULT);
}

uint64_t ub_h_skb_load_bytes_relative(uint64_t ctx, uint64_t off, uint64_t to, uint64_t len,
				      uint64_t hdr)
{
	struct ub_pkt *pk = SKB(ctx);
	uint32_t o = (uint32_t)off, n = (uint32_t)len;
	const uint8_t *start = NULL;

	if (pk && o <= 0xffff)
		start = (uint32_t)hdr == BPF_HDR_START_MAC ? pk->mac
		      : (uint32_t)hdr == BPF_HDR_START_NET ? pk->net : NULL;
	/* Bounded by the tail, not by skb->data: the mac header may lie before data. */
	if (start && (uintptr_t)start + o + n <= (uintptr_t)pk->end) {
		memcpy(PTR(to), start + o, n);
		return 0;
	}
	memset(PTR(to), 0, n);
	return NEG(-EFAULT);
}

uint64_t ub_h_skb_store_bytes(uint64_t ctx, uint64_t off, uint64_t from, uint64_t len,
			      uint64_t flags)
{
	struct ub_pkt *pk = SKB(ctx);
	uint32_t o = (uint32_t)off, n = (uint32_t)len;

	if (flags & ~(uint64_t)(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH))
		return NEG(-EINVAL);
	if (!pk || o > INT_MAX)
		return NEG(-EFAULT);
	/* bpf_try_make_writable(skb, offset + len): the bytes must be in the packet. */
	if ((uint32_t)(o + n) > LEN(pk))
		return NEG(-EFAULT);
	memmove(pk->data + o, PTR(from), n);	/* the source may be the packet itself */
	/* BPF_F_RECOMPUTE_CSUM updates skb->csum only under CHECKSUM_COMPLETE. */
	if (flags & BPF_F_INVALIDATE_HASH)
		ub_pkt_clear_hash(pk);
	ub_pkt_sync(pk);
	return 0;
}

/* The smallest length change_tail may trim to: the headers before the network one. */
static uint32_t skb_min_len(const struct ub_pkt *pk)
{
	return (uint32_t)(int32_t)(pk->net - pk->data);
}

uint64_t ub_h_skb_change_tail(uint64_t ctx, uint64_t new_len, uint64_t flags, uint64_t r4,
			      uint64_t r5)
{
	struct ub_pkt *pk = SKB(ctx);
	uint32_t n = (uint32_t)new_len;

	if (!pk || flags || n > UB_SKB_MAX_LEN || n < skb_min_len(pk))
		return NEG(-EINVAL);
	if (pk->encap)
		return NEG(-UB_ENOTSUPP);
	if (n > LEN(pk)) {
		if ((size_t)(pk->hi - pk->data) < n)
			return NEG(-ENOMEM);
		memset(pk->end, 0, n - LEN(pk));	/* grown bytes read as zero */
	}
	pk->end = pk->data + n;
	ub_pkt_sync(pk);
	return 0;
}

uint64_t ub_h_skb_change_head(uint64_t ctx, uint64_t room, uint64_t flags, uint64_t r4,
			      uint64_t r5)
{
	struct ub_pkt *pk = SKB(ctx);
	uint32_t head = (uint32_t)room, new_len = pk ? LEN(pk) + head : 0;
	int err;

	if (!pk || flags || new_len > UB_SKB_MAX_LEN || new_len < LEN(pk))
		return NEG(-EINVAL);
	/* Zeroed room for a new mac header: the network header and protocol stay. */
	if (!(err = ub_pkt_push(pk, head))) {
		memset(pk->data, 0, head);
		pk->mac = pk->data;
	}
	ub_pkt_sync(pk);
	return NEG(err);
}

uint64_t ub_h_get_hash_recalc(uint64_t ctx, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ub_pkt *pk = SKB(ctx);
	return pk ? ub_pkt_hash(pk) : 0;
}

uint64_t ub_h_set_hash(uint64_t ctx, uint64_t hash, uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ub_pkt *pk = SKB(ctx);

	if (pk) {
		pk->hash = (uint32_t)hash;	/* a software hash, not an L4 one: kept as is */
		pk->sw_hash = 1;
		ub_pkt_sync(pk);
	}
	return 0;
}

/* The test run's socket (the kernel gives each test run a dummy socket). */
uint64_t ub_h_get_socket_cookie(uint64_t ctx, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ub_pkt *pk = SKB(ctx);
	return pk ? ub_pkt_cookie(pk) : 0;
}

int ub_helper_changes_pkt_data(uint32_t id)
{
	switch (id) {
	case BPF_FUNC_skb_store_bytes:
	case BPF_FUNC_l3_csum_replace:
	case BPF_FUNC_l4_csum_replace:
	case BPF_FUNC_clone_redirect:
	case BPF_FUNC_skb_vlan_push:
	case BPF_FUNC_skb_vlan_pop:
	case BPF_FUNC_skb_change_tail:
	case BPF_FUNC_skb_change_head:
	case BPF_FUNC_skb_change_proto:
	case BPF_FUNC_skb_pull_data:
	case BPF_FUNC_skb_adjust_room:
	case BPF_FUNC_xdp_adjust_head:
	case BPF_FUNC_xdp_adjust_meta:
	case BPF_FUNC_xdp_adjust_tail:
		return 1;
	}
	return 0;
}
