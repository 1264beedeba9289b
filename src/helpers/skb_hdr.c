/*
 * sk_buff helpers that insert or remove headers inside the packet: bpf_skb_adjust_room()
 * and the VLAN tag helpers, as net/core/filter.c and net/core/skbuff.c do them. tc
 * programs see the packet from its mac header (skb->data == mac header), which these
 * helpers rely on as the kernel does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <string.h>
#include "helpers/helpers.h"
#include "progs/pkt.h"
#include "vm/vm.h"

#define NEG(e) ((uint64_t)(int64_t)(e))
#define SKB(ctx) ub_pkt_cur((ctx), UB_PKT_SKB)
#define LEN(pk) ((uint32_t)((pk)->end - (pk)->data))

#define ENCAP_L3_MASK	(BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6)
#define DECAP_L3_MASK	(UB_F_ADJ_ROOM_DECAP_L3_IPV4 | UB_F_ADJ_ROOM_DECAP_L3_IPV6)
#define ADJ_ROOM_MASK	(BPF_F_ADJ_ROOM_FIXED_GSO | ENCAP_L3_MASK | BPF_F_ADJ_ROOM_ENCAP_L4_GRE | \
			 BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH | \
			 BPF_F_ADJ_ROOM_ENCAP_L2(BPF_ADJ_ROOM_ENCAP_L2_MASK) | DECAP_L3_MASK)

static uint32_t net_base_len(uint16_t proto)
{
	if (proto == htons(ETH_P_IP))
		return 20;	/* sizeof(struct iphdr) */
	if (proto == htons(ETH_P_IPV6))
		return 40;	/* sizeof(struct ipv6hdr) */
	return ~0u;
}

/* bpf_skb_generic_pop(): the first `off` bytes move up over the `len` removed after them. */
static int room_pop(struct ub_pkt *pk, uint32_t off, uint32_t len)
{
	if ((uint64_t)off + len > LEN(pk))
		return -ENOMEM;	/* pskb_may_pull() */
	memmove(pk->data + len, pk->data, off);
	ub_pkt_pull(pk, len);
	pk->mac += len;
	pk->net += len;
	return 0;
}

/* bpf_skb_generic_push(): `len` zero bytes appear after the first `off` bytes. */
static int room_push(struct ub_pkt *pk, uint32_t off, uint32_t len)
{
	int err = ub_pkt_push(pk, len);
	if (err)
		return err;
	memmove(pk->data, pk->data + len, off);
	memset(pk->data + off, 0, len);
	pk->mac -= len;
	pk->net -= len;
	return 0;
}

static int room_shrink(struct ub_pkt *pk, uint32_t off, uint32_t len, uint64_t flags)
{
	if (flags & ~(uint64_t)(BPF_F_ADJ_ROOM_FIXED_GSO | DECAP_L3_MASK |
				BPF_F_ADJ_ROOM_NO_CSUM_RESET))
		return -EINVAL;
	int err = room_pop(pk, off, len);
	if (err)
		return err;
	/* Decapsulation: skb->protocol becomes the inner header's. */
	if (pk->protocol == htons(ETH_P_IP) && (flags & UB_F_ADJ_ROOM_DECAP_L3_IPV6))
		pk->protocol = htons(ETH_P_IPV6);
	else if (pk->protocol == htons(ETH_P_IPV6) && (flags & UB_F_ADJ_ROOM_DECAP_L3_IPV4))
		pk->protocol = htons(ETH_P_IP);
	return 0;
}

/* The checks bpf_skb_net_grow() makes before an encapsulation. */
static int encap_ok(const struct ub_pkt *pk, uint32_t len, uint64_t flags)
{
	uint32_t inner_mac_len = (uint32_t)(flags >> BPF_ADJ_ROOM_ENCAP_L2_SHIFT);

	if (pk->protocol != htons(ETH_P_IP) && pk->protocol != htons(ETH_P_IPV6))
		return -UB_ENOTSUPP;
	if ((flags & ENCAP_L3_MASK) == ENCAP_L3_MASK)
		return -EINVAL;
	if ((flags & BPF_F_ADJ_ROOM_ENCAP_L4_GRE) && (flags & BPF_F_ADJ_ROOM_ENCAP_L4_UDP))
		return -EINVAL;
	if ((flags & BPF_F_ADJ_ROOM_ENCAP_L2_ETH) && inner_mac_len < ETH_HLEN)
		return -EINVAL;
	if (pk->encap)
		return -EALREADY;
	if (inner_mac_len > len)
		return -EINVAL;
	return 0;
}

static int room_grow(struct ub_pkt *pk, uint32_t off, uint32_t len, uint64_t flags)
{
	int encap = !!(flags & ENCAP_L3_MASK), err;
	uint32_t mac_len = (uint32_t)(pk->net - pk->mac);

	if ((size_t)(pk->data - pk->lo) < len)
		return -ENOMEM;	/* skb_cow_head() */
	if (encap && (err = encap_ok(pk, len, flags)))
		return err;
	if ((err = room_push(pk, off, len)) || !encap)
		return err;
	/* The outer header now starts where the inner one did; the protocol follows it. */
	pk->encap = 1;
	pk->net = pk->data + mac_len;
	if (pk->protocol == htons(ETH_P_IP) && (flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV6))
		pk->protocol = htons(ETH_P_IPV6);
	else if (pk->protocol == htons(ETH_P_IPV6) && (flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
		pk->protocol = htons(ETH_P_IP);
	return 0;
}

/* Where adjust_room opens or closes the gap, and the smallest inner header it may leave. */
static int room_geometry(const struct ub_pkt *pk, uint32_t mode, uint64_t flags, int shrink,
			 uint32_t *off, uint32_t *len_min)
{
	*off = (uint32_t)(pk->net - pk->mac);	/* skb_mac_header_len() */
	*len_min = net_base_len(pk->protocol);
	if (mode == BPF_ADJ_ROOM_NET)
		*off += *len_min;
	else if (mode != BPF_ADJ_ROOM_MAC)
		return -UB_ENOTSUPP;
	if (flags & DECAP_L3_MASK) {
		if (!shrink || (flags & DECAP_L3_MASK) == DECAP_L3_MASK)
			return -EINVAL;
		*len_min = (flags & UB_F_ADJ_ROOM_DECAP_L3_IPV4) ? 20 : 40;
	}
	return 0;
}

uint64_t ub_h_skb_adjust_room(uint64_t ctx, uint64_t diff, uint64_t mode, uint64_t flags,
			      uint64_t r5)
{
	struct ub_pkt *pk = SKB(ctx);
	int32_t d = (int32_t)diff;
	uint32_t abs = d < 0 ? 0u - (uint32_t)d : (uint32_t)d, off, len_min;
	int shrink = d < 0, err;

	if (!pk || (flags & ~(uint64_t)(ADJ_ROOM_MASK | BPF_F_ADJ_ROOM_NO_CSUM_RESET)))
		return NEG(-EINVAL);
	if (abs > 0xfff)
		return NEG(-EFAULT);
	if (pk->protocol != htons(ETH_P_IP) && pk->protocol != htons(ETH_P_IPV6))
		return NEG(-UB_ENOTSUPP);
	if ((err = room_geometry(pk, (uint32_t)mode, flags, shrink, &off, &len_min)))
		return NEG(err);
	uint32_t len_cur = LEN(pk) - (uint32_t)(pk->net - pk->data);
	if ((shrink && (abs >= len_cur || len_cur - abs < len_min)) ||
	    (!shrink && LEN(pk) + abs > UB_SKB_MAX_LEN))
		return NEG(-UB_ENOTSUPP);
	err = shrink ? room_shrink(pk, off, abs, flags) : room_grow(pk, off, abs, flags);
	ub_pkt_sync(pk);
	return NEG(err);
}

static int eth_type_vlan(uint16_t proto)
{
	return proto == htons(ETH_P_8021Q) || proto == htons(ETH_P_8021AD);
}

/* __skb_vlan_pop(): the tag after the MAC addresses leaves the packet. */
static int vlan_pop_data(struct ub_pkt *pk, uint16_t *tci)
{
	uint16_t t, inner, raw;

	if (pk->data != pk->mac)
		return -EINVAL;
	if (LEN(pk) < ETH_HLEN + UB_VLAN_HLEN)
		return -ENOMEM;	/* skb_ensure_writable(skb, VLAN_ETH_HLEN) */
	memcpy(&t, pk->data + ETH_HLEN, 2);
	memcpy(&inner, pk->data + ETH_HLEN + 2, 2);
	memcpy(&raw, pk->data + ETH_HLEN + 4, 2);
	*tci = ntohs(t);
	memmove(pk->data + UB_VLAN_HLEN, pk->data, 2 * ETH_ALEN);
	ub_pkt_pull(pk, UB_VLAN_HLEN);
	/* vlan_set_encap_proto(): an Ethernet type, else raw 802.3 or 802.2. */
	if (ntohs(inner) >= ETH_P_802_3_MIN)
		pk->protocol = inner;
	else
		pk->protocol = raw == 0xffff ? htons(ETH_P_802_3) : htons(ETH_P_802_2);
	pk->mac += UB_VLAN_HLEN;
	if (pk->net < pk->data + ETH_HLEN)
		pk->net = pk->data + ETH_HLEN;
	return 0;
}

/* __vlan_insert_tag(): the offloaded tag goes into the packet after the MAC addresses. */
static int vlan_insert(struct ub_pkt *pk)
{
	uint16_t tci = htons(pk->vlan_tci);
	int err;

	if (pk->data != pk->mac)
		return -EINVAL;
	if ((err = ub_pkt_push(pk, UB_VLAN_HLEN)))
		return err;
	memmove(pk->data, pk->data + UB_VLAN_HLEN, 2 * ETH_ALEN);
	memcpy(pk->data + 2 * ETH_ALEN, &pk->vlan_proto, 2);
	memcpy(pk->data + ETH_HLEN, &tci, 2);
	pk->mac = pk->data;
	pk->protocol = pk->vlan_proto;
	pk->net -= UB_VLAN_HLEN;	/* as skb_vlan_push(): the vlan header counts as L3 */
	return 0;
}

/* skb_vlan_push(): a new tag is offloaded (metadata); an offloaded one moves in first. */
uint64_t ub_h_skb_vlan_push(uint64_t ctx, uint64_t proto, uint64_t tci, uint64_t r4,
			    uint64_t r5)
{
	struct ub_pkt *pk = SKB(ctx);
	uint16_t p = (uint16_t)proto;
	int err = 0;

	if (!pk)
		return NEG(-EINVAL);
	if (!eth_type_vlan(p))
		p = htons(ETH_P_8021Q);
	if (pk->vlan_present)
		err = vlan_insert(pk);
	if (!err) {
		pk->vlan_present = 1;
		pk->vlan_proto = p;
		pk->vlan_tci = (uint16_t)tci;
	}
	ub_pkt_sync(pk);
	return NEG(err);
}

static int vlan_pop(struct ub_pkt *pk)
{
	uint16_t tci, proto;
	int err;

	if (pk->vlan_present) {
		pk->vlan_present = 0;
		pk->vlan_proto = pk->vlan_tci = 0;
	} else {
		if (!eth_type_vlan(pk->protocol))
			return 0;
		if ((err = vlan_pop_data(pk, &tci)))
			return err;
	}
	/* The next tag in the packet, if any, becomes the offloaded one. */
	if (!eth_type_vlan(pk->protocol))
		return 0;
	proto = pk->protocol;
	if ((err = vlan_pop_data(pk, &tci)))
		return err;
	pk->vlan_present = 1;
	pk->vlan_proto = proto;
	pk->vlan_tci = tci;
	return 0;
}

uint64_t ub_h_skb_vlan_pop(uint64_t ctx, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ub_pkt *pk = SKB(ctx);
	int err;

	if (!pk)
		return NEG(-EINVAL);
	err = vlan_pop(pk);
	ub_pkt_sync(pk);
	return NEG(err);
}
