// SPDX-License-Identifier: MIT
/*
 * xdp_firewall: drops IPv4 packets whose source address is in blocked_src, or whose
 * TCP/UDP destination port is in blocked_port; passes everything else. Counts every
 * verdict in a per-CPU array indexed by the XDP action.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);		/* IPv4 source address, network byte order */
	__type(value, __u8);
} blocked_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);		/* destination port, host byte order */
	__type(value, __u8);
} blocked_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 5);		/* XDP_ABORTED .. XDP_REDIRECT */
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

static __always_inline int count(__u32 action)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &action);

	if (n)
		*n += 1;	/* per-CPU slot: no other run uses it at the same time */
	return action;
}

/* The destination port of a TCP or UDP header at l4, or 0 when it is not there. */
static __always_inline __u16 dst_port(void *l4, void *end, __u8 proto)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > end)
			return 0;
		return bpf_ntohs(th->dest);
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > end)
			return 0;
		return bpf_ntohs(uh->dest);
	}
	return 0;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return count(XDP_DROP);		/* runt frame */
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return count(XDP_PASS);
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl < 5)
		return count(XDP_DROP);
	if (bpf_map_lookup_elem(&blocked_src, &ip->saddr))
		return count(XDP_DROP);
	__u16 port = dst_port((void *)ip + ip->ihl * 4, end, ip->protocol);
	if (port && bpf_map_lookup_elem(&blocked_port, &port))
		return count(XDP_DROP);
	return count(XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
