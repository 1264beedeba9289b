/* Loader test object: map-in-map and prog array with initial values, pinning by name. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { &inner_a, &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_cnt SEC(".maps");

SEC("xdp")
int tail_target(struct xdp_md *ctx)
{
	return XDP_TX;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jmp SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

/* the inner map of slot (len % 2), its value at key 0 */
SEC("xdp")
int xdp_mim(struct xdp_md *ctx)
{
	__u32 slot = (ctx->data_end - ctx->data) % 2, zero = 0, *v;
	void *inner = bpf_map_lookup_elem(&outer, &slot);

	if (!inner)
		return 99;
	v = bpf_map_lookup_elem(inner, &zero);
	return v ? *v : 98;
}

SEC("xdp")
int xdp_tail(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&pinned_cnt, &zero);

	if (c)
		__sync_fetch_and_add(c, 1);
	bpf_tail_call(ctx, &jmp, 1);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
