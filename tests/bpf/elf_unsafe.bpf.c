/* Loader test object: a program the verifier must refuse (a packet read without a bounds
 * check), to see the C source line in the log (func_info / line_info from .BTF.ext). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_unsafe(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	return data[20] == 0x45 ? XDP_DROP : XDP_PASS;	/* no check against data_end */
}

char LICENSE[] SEC("license") = "GPL";
