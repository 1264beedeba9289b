/*
 * Packet parser: Ethernet (with up to two VLAN tags), IPv4 (with options), then the UDP or
 * TCP header, every read bounds-checked against data_end as the kernel's verifier demands.
 * Drops traffic to a few blocked ports, passes everything else.
 */
#include "shim.h"

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88a8
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17

struct ethhdr { __u8 dst[6], src[6]; __u16 proto; };
struct vlanhdr { __u16 tci, proto; };
struct iphdr { __u8 ver_ihl, tos; __u16 tot_len, id, frag_off; __u8 ttl, protocol;
	       __u16 check; __u32 saddr, daddr; };
struct udphdr { __u16 source, dest, len, check; };
struct tcphdr { __u16 source, dest; __u32 seq, ack_seq; __u8 doff_res, flags;
		__u16 window, check, urg_ptr; };

INLINE int blocked(__u16 port_be)
{
	return port_be == bench_htons(9) || port_be == bench_htons(23) ||
	       port_be == bench_htons(445) || port_be == bench_htons(3389);
}

INLINE int l4_verdict(void *l4, void *end, __u8 proto)
{
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) > end)
			return XDP_DROP;
		return blocked(udp->dest) ? XDP_DROP : XDP_PASS;
	}
	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) > end || (tcp->doff_res >> 4) < 5)
			return XDP_DROP;
		return blocked(tcp->dest) ? XDP_DROP : XDP_PASS;
	}
	return XDP_PASS;
}

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *p = eth + 1;

	if (p > end)
		return XDP_DROP;
	__u16 proto = eth->proto;
	for (int i = 0; i < 2; i++) {
		struct vlanhdr *vlan = p;
		if (proto != bench_htons(ETH_P_8021Q) && proto != bench_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > end)
			return XDP_DROP;
		proto = vlan->proto;
		p = vlan + 1;
	}
	if (proto != bench_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = p;
	if ((void *)(ip + 1) > end)
		return XDP_DROP;
	__u32 ihl = ip->ver_ihl & 0x0f;
	if ((ip->ver_ihl >> 4) != 4 || ihl < 5)
		return XDP_DROP;
	if (ip->frag_off & bench_htons(0x1fff))	/* a later fragment: no L4 header */
		return XDP_PASS;
	void *l4 = (__u8 *)ip + ihl * 4;
	if (l4 > end)
		return XDP_DROP;
	return l4_verdict(l4, end, ip->protocol);
}
