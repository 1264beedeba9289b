/* Loader test object: the legacy `maps` section (struct bpf_map_def), which libbpf 1.x
 * refuses but older objects still use; and a version section. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_arr = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 2,
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 8,
};

/* legacy_arr[1] += 5; returns the new value */
SEC("xdp")
int xdp_legacy(struct xdp_md *ctx)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&legacy_arr, &key);
	__u32 val = 3;

	bpf_map_update_elem(&legacy_hash, &key, &val, BPF_ANY);
	if (!v)
		return 0;
	*v += 5;
	return (int)*v;
}

char LICENSE[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x060000;
