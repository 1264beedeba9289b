/*
 * Arithmetic: 1000 rounds of xorshift64 mixed with a multiply and an add, seeded from the
 * packet length so that no compiler can fold it away; the state folded into the return
 * value.
 */
#include "shim.h"

#define ROUNDS 1000

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u64 x = (__u64)(ctx->data_end - ctx->data) + 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < ROUNDS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		x = x * 0x2545f4914f6cdd1dULL + (__u64)i;
	}
	return (int)(__u32)(x ^ (x >> 32));
}
