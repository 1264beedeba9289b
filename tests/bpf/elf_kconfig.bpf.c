/* Loader test object: .kconfig externs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern __u32 LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_UEBPF_NOT_A_REAL_OPTION __kconfig __weak;
extern _Bool CONFIG_UEBPF_TEST_BOOL __kconfig __weak;

SEC("socket")
int kver(struct __sk_buff *skb)
{
	return LINUX_KERNEL_VERSION + CONFIG_UEBPF_NOT_A_REAL_OPTION;
}

SEC("socket")
int kbool(struct __sk_buff *skb)
{
	return CONFIG_UEBPF_TEST_BOOL ? 7 : 3;
}

char LICENSE[] SEC("license") = "GPL";
