/* Loader test object: several programs, subprograms, global data, BTF maps, callbacks. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} arr SEC(".maps");

volatile const __u32 rodata_mul = 3;		/* .rodata */
volatile __u32 data_add = 7;			/* .data */
volatile __u64 bss_seen;			/* .bss */
volatile __u32 custom_val SEC(".data.custom") = 11;

/* a .text subprogram: a bpf-to-bpf call */
static __attribute__((noinline)) __u32 mix(__u32 a, __u32 b)
{
	return a * rodata_mul + b;
}

/* a static function that calls another one */
static __attribute__((noinline)) __u32 mix2(__u32 a)
{
	return mix(a, 1) + 1;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 key = 0;
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_ANY);
	bss_seen += len;
	return mix(len, data_add) > 100 ? XDP_DROP : XDP_PASS;
}

SEC("socket")
int sock_len(struct __sk_buff *skb)
{
	__u32 key = 1, *a = bpf_map_lookup_elem(&arr, &key);

	return mix(skb->len, custom_val) + (a ? *a : 0) + mix2(0);
}

static int loop_cb(__u32 i, void *c)
{
	*(__u64 *)c += i;
	return 0;
}

/* a callback passed by address: lddw with BPF_PSEUDO_FUNC */
SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	__u64 sum = 0;

	bpf_loop(10, loop_cb, &sum, 0);
	return sum == 45 ? XDP_PASS : XDP_ABORTED;
}

/* no type of uebpf's: opens, refuses to load with a reason */
SEC("fentry/do_nothing")
int fentry_prog(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
