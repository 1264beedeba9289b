// SPDX-License-Identifier: GPL-2.0
/* The BPF side of tests/skel.sh: global data in every section kind, a map, two programs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "skel_test.h"

int counter = 0;			/* .bss */
struct pair last = {};			/* .bss, 8-byte aligned after an int: padded */
long total = 5;				/* .data */
char name[16] = "hello";		/* .data */
const volatile int limit = 10;		/* .rodata: set by user space before load */
int extra SEC(".data.extra") = 7;	/* a custom data section */
static int hidden = 3;			/* static: not in the skeleton */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

SEC("xdp")
int count_xdp(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&hits, &k);

	if (v)
		(*v)++;
	counter++;
	total += limit + hidden;
	last.a = counter;
	last.b = total;
	extra++;
	return XDP_PASS;
}

SEC("socket")
int sock_prog(struct __sk_buff *skb)
{
	return counter;
}

char LICENSE[] SEC("license") = "GPL";
