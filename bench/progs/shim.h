/*
 * What the benchmark programs need from the kernel's headers, for both builds of the same
 * source: clang -target bpf (the program uebpf and the kernel run) and the native compiler
 * (the anchor). No system header is included, so the BPF build needs no kernel headers.
 * Layouts and values are the kernel's (struct xdp_md, enum xdp_action, ETH_P_*, IPPROTO_*).
 */
#ifndef BENCH_SHIM_H
#define BENCH_SHIM_H

typedef __UINT8_TYPE__ __u8;
typedef __UINT16_TYPE__ __u16;
typedef __UINT32_TYPE__ __u32;
typedef __UINT64_TYPE__ __u64;

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

enum xdp_action { XDP_ABORTED = 0, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };

#ifdef __bpf__
/* The harness takes the "xdp" section's bytes as the program: one function, no calls. */
#define SEC(name) __attribute__((section(name), used))
#else
#define SEC(name)
#endif

/* Helpers are inlined: a real call would need a relocation, which nothing resolves yet. */
#define INLINE static inline __attribute__((always_inline))

/* Network byte order for constants (both targets are little-endian). */
#define bench_htons(x) ((__u16)__builtin_bswap16(x))

#endif
