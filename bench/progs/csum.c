/*
 * The Internet checksum (RFC 1071) of the whole packet (at most 1 KiB): 16-bit words
 * summed in one's complement, an odd last byte padded with zero. Returns the checksum.
 */
#include "shim.h"

#define MAX_WORDS 512

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u64 sum = 0;
	int i;

	for (i = 0; i < MAX_WORDS; i++) {
		__u8 *w = data + 2 * i;
		if (w + 2 > end)
			break;
		sum += (__u32)w[0] << 8 | w[1];
	}
	if (i < MAX_WORDS && data + 2 * i + 1 <= end)	/* the odd byte */
		sum += (__u32)data[2 * i] << 8;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (int)(~sum & 0xffff);
}
