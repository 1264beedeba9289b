// SPDX-License-Identifier: MIT
/*
 * sockfilter: a socket filter that keeps only DNS queries (UDP to port 53) and trims them
 * to their first 128 bytes; every other packet is dropped (return 0). It reads the packet
 * with the legacy LD_ABS loads (load_byte/load_half), as classic socket filters do.
 * Offsets count from the network header: that is where a socket filter's packet starts on
 * an IP socket or a SOCK_DGRAM packet socket, and in BPF_PROG_TEST_RUN (which strips the
 * Ethernet header it is given); the link-layer protocol is in skb->protocol.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

SEC("socket")
int dns_only(struct __sk_buff *skb)
{
	if (skb->protocol != __bpf_constant_htons(ETH_P_IP))
		return 0;
	if (load_byte(skb, offsetof(struct iphdr, protocol)) != IPPROTO_UDP)
		return 0;
	__u32 ihl = (load_byte(skb, 0) & 0x0f) * 4;
	if (load_half(skb, ihl + 2) != 53)	/* UDP destination port */
		return 0;
	return 128;
}

char LICENSE[] SEC("license") = "GPL";
