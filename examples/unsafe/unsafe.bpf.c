// SPDX-License-Identifier: MIT
/*
 * unsafe: an XDP program with a classic bug, for the demo: it reads the IPv4 protocol
 * byte without first checking that the packet is long enough. The verifier refuses it
 * (the kernel says "invalid access to packet"); add the commented check to fix it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int unsafe_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);

	/* if ((void *)(ip + 1) > end) return XDP_DROP;   <- the missing bounds check */
	(void)end;
	return ip->protocol == 6 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
