/*
 * Differential tests of XDP: the frame helpers' boundaries, metadata passed in ctx_in,
 * redirects through DEVMAP, DEVMAP_HASH, CPUMAP and XSKMAP (the same slots set in a
 * kernel map and a uebpf map), and bpf_fib_lookup's argument checks. See pkt_kdiff.h.
 */
#include <linux/if_ether.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "pkt_kdiff.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

#define XDP BPF_PROG_TYPE_XDP

static uint8_t pkt[64], big[1500];

__attribute__((constructor)) static void packets(void)
{
	build_ipv4(pkt, IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 1, 2, sizeof(pkt) - 42);
	build_ipv4(big, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 1, 2, sizeof(big) - 54);
}

UT_TEST(kdiff_xdp_adjust)
{
	K_REQUIRE();
	static const int32_t head[] = { -216, -217, -20, 0, 14, 50, 51, -100000, 100000 };
	static const int32_t tail[] = { -51, -50, -10, 0, 100, 3456, 3457 };
	static const int32_t meta[] = { -4, -216, -220, -2, 4, -252, -256, 0 };
	for (size_t i = 0; i < N(head); i++)
		KCALL(XDP, pkt, sizeof(pkt), xdp_adjust_head, (uint64_t)(int64_t)head[i], 0, 0, 0);
	for (size_t i = 0; i < N(tail); i++) {
		KCALL(XDP, pkt, sizeof(pkt), xdp_adjust_tail, (uint64_t)(int64_t)tail[i], 0, 0, 0);
		KCALL(XDP, big, sizeof(big), xdp_adjust_tail, (uint64_t)(int64_t)tail[i] * 8, 0, 0, 0);
	}
	for (size_t i = 0; i < N(meta); i++)
		KCALL(XDP, pkt, sizeof(pkt), xdp_adjust_meta, (uint64_t)(int64_t)meta[i], 0, 0, 0);
}

/* adjust_meta(m), adjust_head(h), adjust_tail(t): r0 mixes the three results; the output
 * and the ctx_out offsets show where everything ended up. */
static void combo(int32_t m, int32_t h, int32_t t, uint32_t ctx_meta)
{
	struct bpf_insn p[] = {
		MOV64_REG(6, 1),
		MOV64_IMM(2, m), CALL(xdp_adjust_meta), MOV64_REG(7, 0),
		MOV64_REG(1, 6), MOV64_IMM(2, h), CALL(xdp_adjust_head), ALU64_IMM(BPF_LSH, 7, 8),
		ALU64_REG(BPF_XOR, 7, 0),
		MOV64_REG(1, 6), MOV64_IMM(2, t), CALL(xdp_adjust_tail), ALU64_IMM(BPF_LSH, 7, 8),
		ALU64_REG(BPF_XOR, 0, 7),
		/* The first byte of data, behind a bounds check (data moved). */
		LDX(BPF_W, 2, 6, XCTX(data)), LDX(BPF_W, 3, 6, XCTX(data_end)), MOV64_REG(4, 2),
		ALU64_IMM(BPF_ADD, 4, 1), JMP_REG(BPF_JGT, 4, 3, 3),
		LDX(BPF_B, 1, 2, 0), ALU64_IMM(BPF_LSH, 1, 24), ALU64_REG(BPF_XOR, 0, 1),
		EXIT_INSN,
	};
	struct xdp_md md = { .data = ctx_meta, .data_end = sizeof(pkt) };
	char name[96];
	snprintf(name, sizeof(name), "meta %d head %d tail %d (ctx meta %u)", m, h, t, ctx_meta);
	kdiff2(name, XDP, p, p, N(p), pkt, sizeof(pkt), ctx_meta ? &md : NULL, ctx_meta ? sizeof(md) : 0);
}

UT_TEST(kdiff_xdp_meta_and_moves)
{
	K_REQUIRE();
	combo(-8, -20, 4, 0);
	combo(-8, 20, -4, 0);
	combo(-32, -184, 0, 0);
	combo(-32, -185, 0, 0);
	combo(0, 0, 0, 8);
	combo(-4, 10, 10, 16);
	combo(-200, 0, 0, 16);
	combo(8, 0, 0, 8);
	combo(-2, 0, 0, 0);
	/* ctx_in metadata checks: alignment, room in the headroom, an Ethernet header left. */
	static const uint32_t metas[][2] = { { 4, 64 }, { 216, 300 }, { 220, 300 }, { 6, 64 },
					     { 48, 62 }, { 48, 61 }, { 0, 64 }, { 64, 63 } };
	struct bpf_insn p[] = { MOV64_IMM(0, XDP_PASS), EXIT_INSN };
	for (size_t i = 0; i < N(metas); i++) {
		struct xdp_md md = { .data = metas[i][0], .data_end = metas[i][1] };
		char name[64];
		snprintf(name, sizeof(name), "ctx_in meta %u end %u", metas[i][0], metas[i][1]);
		kdiff2(name, XDP, p, p, N(p), big, metas[i][1], &md, sizeof(md));
	}
	struct xdp_md eg = { .data_end = sizeof(pkt), .egress_ifindex = 1 };
	kdiff2("ctx_in egress_ifindex", XDP, p, p, N(p), pkt, sizeof(pkt), &eg, sizeof(eg));
	struct xdp_md rx = { .data_end = sizeof(pkt), .rx_queue_index = 1 };
	kdiff2("ctx_in rx queue without device", XDP, p, p, N(p), pkt, sizeof(pkt), &rx, sizeof(rx));
}

UT_TEST(kdiff_xdp_context)
{
	K_REQUIRE();
	static const int16_t f[] = { XCTX(ingress_ifindex), XCTX(rx_queue_index) };
	for (size_t i = 0; i < N(f); i++) {
		struct bpf_insn p[] = { LDX(BPF_W, 0, 1, f[i]), EXIT_INSN };
		kdiff(i ? "rx_queue_index" : "ingress_ifindex", XDP, p, N(p), pkt, sizeof(pkt));
	}
	static const uint64_t r[][2] = { { 7, 0 }, { 1, 1 }, { 0, 0 }, { 1, 1ull << 40 } };
	for (size_t i = 0; i < N(r); i++)
		kcall(XDP, pkt, sizeof(pkt), BPF_FUNC_redirect, "xdp redirect", 0, r[i][0], r[i][1], 0, 0, 0);
}

/* redirect_map(map, key, flags) for every key and flag combination, kernel and uebpf maps
 * of the same contents. */
static void redirect_cases(const char *what, int kmap, int umap, uint32_t max)
{
	static const int64_t flags[] = { 0, XDP_PASS, XDP_DROP, XDP_TX, 4, BPF_F_BROADCAST,
					 BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS,
					 BPF_F_EXCLUDE_INGRESS | XDP_PASS, 1 << 5, 1ll << 32 };
	for (uint32_t key = 0; key <= max; key++) {
		for (size_t i = 0; i < N(flags); i++) {
			struct bpf_insn kp[] = { LD_MAP(1, kmap), MOV64_IMM(2, (int32_t)key),
						 LD_IMM64(3, flags[i]), CALL(redirect_map), EXIT_INSN };
			struct bpf_insn up[] = { LD_MAP(1, umap), MOV64_IMM(2, (int32_t)key),
						 LD_IMM64(3, flags[i]), CALL(redirect_map), EXIT_INSN };
			char name[96];
			snprintf(name, sizeof(name), "%s redirect_map(key %u, flags %#llx)", what, key,
				 (unsigned long long)flags[i]);
			kdiff2(name, XDP, kp, up, N(kp), pkt, sizeof(pkt), NULL, 0);
		}
	}
}

/* Sets key in both maps; both must agree on the update's result. */
static void both_update(int kmap, int umap, uint32_t key, const void *v, uint64_t flags)
{
	int k = k_update(kmap, &key, v, flags), u = bpf_map_update_elem(umap, &key, v, flags);
	UT_CHECK(k == u, "update key %u: kernel %d, uebpf %d", key, k, u);
}

UT_TEST(kdiff_redirect_maps)
{
	K_REQUIRE();
	uint32_t one = 1;
	int types[] = { BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH };
	for (size_t t = 0; t < N(types); t++) {
		int km = k_map(types[t], 4, 4, 4), um = bpf_map_create(types[t], "d", 4, 4, 4, NULL);
		both_update(km, um, 1, &one, BPF_ANY);
		both_update(km, um, 3, &one, BPF_ANY);
		redirect_cases(t ? "devmap_hash" : "devmap", km, um, 4);
		close(km), close(um);
	}
	struct bpf_cpumap_val c = { .qsize = 64 };
	int km = k_map(BPF_MAP_TYPE_CPUMAP, 4, 8, 2), um = bpf_map_create(BPF_MAP_TYPE_CPUMAP, "c", 4, 8, 2, NULL);
	both_update(km, um, 0, &c, BPF_ANY);
	redirect_cases("cpumap", km, um, 2);
	close(km), close(um);
	km = k_map(BPF_MAP_TYPE_XSKMAP, 4, 4, 2), um = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "x", 4, 4, 2, NULL);
	int xsk = socket(AF_XDP, SOCK_RAW, 0);
	if (xsk >= 0)
		both_update(km, um, 1, &xsk, BPF_ANY);
	redirect_cases("xskmap", km, um, 2);
	if (xsk >= 0)
		close(xsk);
	close(km), close(um);
}

/* bpf_fib_lookup(ctx, params on the stack, plen, flags) with the arriving device and the
 * destination set; the run returns r0 and the params come back in the stack dump r0 mixes. */
static void fib_case(const char *name, int type, uint8_t family, uint32_t ifindex, const char *dst,
		     int32_t plen, int32_t flags)
{
	struct bpf_fib_lookup fl = { .family = family, .ifindex = ifindex };
	uint32_t d = 0;
	inet_pton(AF_INET, dst, &d);
	fl.ipv4_dst = d;
	struct bpf_insn p[40];
	size_t n = 0;
	const uint32_t *w = (const uint32_t *)&fl;
	for (size_t i = 0; i < sizeof(fl) / 4; i++)
		p[n++] = ST(BPF_W, 10, (int16_t)(-64 + 4 * (int)i), (int32_t)w[i]);
	p[n++] = MOV64_REG(2, 10);
	p[n++] = ALU64_IMM(BPF_ADD, 2, -64);
	p[n++] = MOV64_IMM(3, plen);
	p[n++] = MOV64_IMM(4, flags);
	p[n++] = CALL(fib_lookup);
	p[n++] = EXIT_INSN;
	kdiff(name, type, p, n, pkt, sizeof(pkt));
}

static int lo_forwarding(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/conf/lo/forwarding", "r");
	int v = 0;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

UT_TEST(kdiff_fib_lookup_host)
{
	K_REQUIRE();
	/* uebpf's model of what matters on the host for these lookups: the loopback device
	 * with its forwarding setting, and the local route of 127/8. */
	uebpf_fib_clear();
	struct uebpf_fib_dev lo = { .sz = sizeof(lo), .ifindex = 1, .mtu = 65536,
				    .forwarding = lo_forwarding() };
	UT_CHECK_EQ(uebpf_fib_add_dev(&lo), 0);
	struct uebpf_fib_route local = { .sz = sizeof(local), .family = AF_INET, .prefix_len = 8,
					 .type = RTN_LOCAL, .table = RT_TABLE_LOCAL, .ifindex = 1 };
	local.dst[0] = 127;
	UT_CHECK_EQ(uebpf_fib_add_route(&local), 0);
	static const int types[] = { XDP, BPF_PROG_TYPE_SCHED_CLS };
	for (size_t t = 0; t < N(types); t++) {
		fib_case("fib lo 127.0.0.1", types[t], AF_INET, 1, "127.0.0.1", 64, 0);
		fib_case("fib short params", types[t], AF_INET, 1, "127.0.0.1", 63, 0);
		fib_case("fib bad flags", types[t], AF_INET, 1, "127.0.0.1", 64, 1 << 6);
		fib_case("fib bad family", types[t], 99, 1, "127.0.0.1", 64, 0);
		fib_case("fib unknown device", types[t], AF_INET, 0x7fffff00, "127.0.0.1", 64, 0);
		fib_case("fib direct", types[t], AF_INET, 1, "127.0.0.1", 64, BPF_FIB_LOOKUP_DIRECT);
	}
	uebpf_fib_clear();
}
