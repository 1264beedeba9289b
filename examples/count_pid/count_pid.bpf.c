// SPDX-License-Identifier: MIT
/*
 * count_pid: the seed document's BCC example (count events per PID in a hash map),
 * written as a libbpf-style object. Each run of the program is one event; the key is
 * the caller's PID (the upper half of bpf_get_current_pid_tgid), the value the count.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} count_map SEC(".maps");

SEC("kprobe/sys_clone")
int count_clone(void *ctx)
{
	__u64 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 *val = bpf_map_lookup_elem(&count_map, &pid);

	if (!val) {
		__u64 init_val = 1;
		bpf_map_update_elem(&count_map, &pid, &init_val, BPF_NOEXIST);
	} else {
		__sync_fetch_and_add(val, 1);	/* atomic: several threads may count at once */
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
