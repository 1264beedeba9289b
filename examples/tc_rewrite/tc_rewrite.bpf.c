// SPDX-License-Identifier: MIT
/*
 * tc_rewrite: a TC classifier that rewrites the IPv4 destination address of UDP packets
 * sent to OLD_DST into NEW_DST (a DNAT), storing the new address with bpf_skb_store_bytes
 * and fixing the IP header checksum with bpf_l3_csum_replace and the UDP checksum (whose
 * pseudo-header covers the address) with bpf_l4_csum_replace.
 * The two addresses come from the read-only global data, set by the loader before load.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 old_dst = 0;	/* network byte order */
const volatile __u32 new_dst = 0;

#define IP_DST_OFF	(ETH_HLEN + offsetof(struct iphdr, daddr))
#define IP_CSUM_OFF	(ETH_HLEN + offsetof(struct iphdr, check))
#define UDP_CSUM_OFF	(ETH_HLEN + sizeof(struct iphdr) + offsetof(struct udphdr, check))

SEC("tc")
int tc_dnat(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->ihl != 5 || ip->protocol != IPPROTO_UDP || ip->daddr != old_dst)
		return TC_ACT_OK;

	__u32 from = old_dst, to = new_dst;
	/* The UDP checksum first (BPF_F_PSEUDO_HDR: the address is in its pseudo-header),
	 * then the IP header checksum, then the address itself. */
	bpf_l4_csum_replace(skb, UDP_CSUM_OFF, from, to, BPF_F_PSEUDO_HDR | sizeof(to));
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, from, to, sizeof(to));
	bpf_skb_store_bytes(skb, IP_DST_OFF, &to, sizeof(to), 0);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
