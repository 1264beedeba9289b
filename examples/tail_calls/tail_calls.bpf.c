// SPDX-License-Identifier: MIT
/*
 * tail_calls: an XDP dispatcher that tail-calls one handler per IP protocol through a
 * PROG_ARRAY (slot = protocol number). The TCP handler drops, the UDP handler passes,
 * and a protocol without a handler falls through to XDP_ABORTED-free default: pass.
 * Each handler counts what it saw in its own slot of `seen`.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} handlers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static __always_inline void saw(__u32 proto)
{
	__u64 *n = bpf_map_lookup_elem(&seen, &proto);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int dispatch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	bpf_tail_call(ctx, &handlers, ip->protocol);
	return XDP_PASS;	/* no handler in that slot */
}

SEC("xdp")
int handle_tcp(struct xdp_md *ctx)
{
	saw(IPPROTO_TCP);
	return XDP_DROP;
}

SEC("xdp")
int handle_udp(struct xdp_md *ctx)
{
	saw(IPPROTO_UDP);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
