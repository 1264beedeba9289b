/* Loader test object: CO-RE relocations against the host kernel's BTF (vmlinux). The
 * local definitions are deliberately partial and out of order: relocation fixes offsets. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int tgid;
	int pid;
	int uebpf_no_such_field;
} __attribute__((preserve_access_index));

struct uebpf_no_such_type {
	int x;
} __attribute__((preserve_access_index));

enum bpf_map_type___local {
	BPF_MAP_TYPE_RINGBUF___local = 99,
};

SEC("socket")
int core_off(struct __sk_buff *skb)
{
	return bpf_core_field_offset(struct task_struct, tgid) * 1000 +
	       bpf_core_field_size(struct task_struct, pid);
}

SEC("socket")
int core_exists(struct __sk_buff *skb)
{
	return bpf_core_field_exists(struct task_struct, pid) * 1 +
	       bpf_core_field_exists(struct task_struct, uebpf_no_such_field) * 2 +
	       bpf_core_type_exists(struct task_struct) * 4 +
	       bpf_core_type_exists(struct uebpf_no_such_type) * 8;
}

SEC("socket")
int core_enum(struct __sk_buff *skb)
{
	return bpf_core_enum_value(enum bpf_map_type___local, BPF_MAP_TYPE_RINGBUF___local);
}

char LICENSE[] SEC("license") = "GPL";
