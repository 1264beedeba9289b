/* FNV-1a, 64-bit, over the packet (at most 1 KiB); the hash folded into the return value. */
#include "shim.h"

#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL
#define MAX_BYTES	1024

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u64 h = FNV_OFFSET;

	for (int i = 0; i < MAX_BYTES; i++) {
		if (data + i + 1 > end)
			break;
		h ^= data[i];
		h *= FNV_PRIME;
	}
	return (int)(__u32)(h ^ (h >> 32));
}
