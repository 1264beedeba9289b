/* Loader test object: string literals in .rodata.str1.1 (a mergeable string section),
 * reached by lddw with a section-relative offset. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int str_lit(struct __sk_buff *skb)
{
	const char *s = skb->len > 60 ? "long packet" : "short";
	int n = 0;

	for (int i = 0; i < 6; i++) {	/* stays inside both strings with their NUL */
		char c = *(volatile const char *)(s + i);
		if (!c)
			break;
		n = n * 3 + c;
	}
	return n;
}

char LICENSE[] SEC("license") = "GPL";
