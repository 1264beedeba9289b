/*
 * Differential tests of the sk_buff helpers and test runs (SCHED_CLS, SOCKET_FILTER):
 * the same programs run in the live kernel and in uebpf on the same packets; retval,
 * output bytes and ctx_out must agree (see pkt_kdiff.h). Values that differ by nature
 * (the flow hash's key, socket cookies) are reduced to properties inside the programs.
 */
#include <linux/if_ether.h>
#include <netinet/in.h>
#include "pkt_kdiff.h"

#define TC BPF_PROG_TYPE_SCHED_CLS
#define SF BPF_PROG_TYPE_SOCKET_FILTER
#define ENOTSUPP 524

static uint8_t udp[128], tcp[128], tagged[160], qinq[160], raw[64];
static size_t udp_len, tcp_len, tagged_len, qinq_len;

/* VLAN tags written into a copy of the UDP frame after the MAC addresses. */
static size_t add_tag(uint8_t *dst, const uint8_t *src, size_t len, uint16_t tpid, uint16_t tci)
{
	memcpy(dst, src, 12);
	put16(dst + 12, tpid);
	put16(dst + 14, tci);
	memcpy(dst + 16, src + 12, len - 12);
	return len + 4;
}

__attribute__((constructor)) static void packets(void)
{
	udp_len = build_ipv4(udp, IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 1234, 53, 12);
	tcp_len = build_ipv4(tcp, IPPROTO_TCP, "192.168.1.10", "172.16.0.5", 40000, 80, 9);
	tagged_len = add_tag(tagged, udp, udp_len, ETH_P_8021Q, 100);
	qinq_len = add_tag(qinq, tagged, tagged_len, ETH_P_8021AD, 7);
	/* A local experimental Ethertype: nothing on the host takes it (clone_redirect). */
	memcpy(raw, udp, 12);
	put16(raw + 12, 0x88b5);
}

/* load_bytes / load_bytes_relative: r0 ? r0 : the loaded word (stack pre-filled). */
static void load_case(int type, int helper, const char *hn, int32_t off, int32_t len, int32_t hdr)
{
	struct bpf_insn p[] = {
		ST(BPF_DW, 10, -8, 0x77777777), ST(BPF_DW, 10, -16, 0x66666666),
		MOV64_IMM(2, off), MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -16), MOV64_IMM(4, len),
		MOV64_IMM(5, hdr), I(BPF_JMP | BPF_CALL, 0, 0, 0, helper),
		LDX(BPF_W, 1, 10, -16), LDX(BPF_W, 2, 10, -4), ALU64_REG(BPF_XOR, 1, 2),
		JMP_IMM(BPF_JNE, 0, 0, 1), MOV64_REG(0, 1), EXIT_INSN,
	};
	char name[96];
	snprintf(name, sizeof(name), "%s %s(off %d, len %d, hdr %d)", type == TC ? "tc" : "sf", hn,
		 off, len, hdr);
	kdiff(name, type, p, N(p), udp, udp_len);
}

UT_TEST(kdiff_load_bytes)
{
	K_REQUIRE();
	static const int32_t offs[][2] = { { 0, 4 }, { 14, 8 }, { 60, 4 }, { 62, 4 }, { 63, 4 },
					  { 66, 1 }, { 65, 1 }, { -1, 4 }, { 0, 16 }, { 52, 16 } };
	static const int types[] = { TC, SF };
	for (size_t t = 0; t < N(types); t++) {
		for (size_t i = 0; i < N(offs); i++) {
			load_case(types[t], BPF_FUNC_skb_load_bytes, "load_bytes", offs[i][0], offs[i][1], 0);
			for (int32_t hdr = 0; hdr <= 2; hdr++)
				load_case(types[t], BPF_FUNC_skb_load_bytes_relative, "load_bytes_relative",
					  offs[i][0], offs[i][1], hdr);
		}
		load_case(types[t], BPF_FUNC_skb_load_bytes_relative, "load_bytes_relative", 0x10000, 4, 1);
	}
}

/* store 8 bytes of a pattern from the stack at off (len bytes), flags; r0. */
static void store_case(int32_t off, int32_t len, int32_t flags)
{
	struct bpf_insn p[] = {
		MOV64_REG(6, 1), LD_IMM64(1, 0x8877665544332211ull), STX(BPF_DW, 10, 1, -8),
		MOV64_REG(1, 6), MOV64_IMM(2, off), MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -8),
		MOV64_IMM(4, len), MOV64_IMM(5, flags), CALL(skb_store_bytes), EXIT_INSN,
	};
	char name[96];
	snprintf(name, sizeof(name), "store_bytes(off %d, len %d, flags %d)", off, len, flags);
	kdiff(name, TC, p, N(p), udp, udp_len);
}

UT_TEST(kdiff_store_bytes)
{
	K_REQUIRE();
	store_case(0, 6, 0);
	store_case(58, 8, 0);
	store_case(59, 8, 0);
	store_case(-1, 4, 0);
	store_case(0x7fffffff, 1, 0);
	store_case(4, 4, BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH);
	store_case(4, 4, 4);
}

/* The NAT rewrite of test_pkt.c: store an address, fix the IP and L4 checksums. */
static void nat_case(const char *name, const uint8_t *pkt, size_t len, int at, const char *addr,
		     int csum_at, int32_t l4flags)
{
	uint32_t old, neu;
	memcpy(&old, pkt + at, 4);
	inet_pton(AF_INET, addr, &neu);
	struct bpf_insn p[] = {
		MOV64_REG(6, 1), ST(BPF_W, 10, -4, (int32_t)neu),
		MOV64_IMM(2, at), MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -4), MOV64_IMM(4, 4),
		MOV64_IMM(5, 0), CALL(skb_store_bytes), JMP_IMM(BPF_JNE, 0, 0, 13),
		MOV64_REG(1, 6), MOV64_IMM(2, ETH_LEN + 10), MOV64_IMM(3, (int32_t)old),
		MOV64_IMM(4, (int32_t)neu), MOV64_IMM(5, 4), CALL(l3_csum_replace),
		JMP_IMM(BPF_JNE, 0, 0, 6),
		MOV64_REG(1, 6), MOV64_IMM(2, csum_at), MOV64_IMM(3, (int32_t)old),
		MOV64_IMM(4, (int32_t)neu), MOV64_IMM(5, l4flags | 4), CALL(l4_csum_replace),
		EXIT_INSN,
	};
	kdiff(name, TC, p, N(p), pkt, len);
}

UT_TEST(kdiff_checksum_fixups)
{
	K_REQUIRE();
	int u4 = ETH_LEN + IP_LEN + 6, t4 = ETH_LEN + IP_LEN + 16;
	nat_case("udp dnat", udp, udp_len, ETH_LEN + 16, "198.51.100.77", u4, BPF_F_PSEUDO_HDR);
	nat_case("udp snat", udp, udp_len, ETH_LEN + 12, "255.255.255.255", u4, BPF_F_PSEUDO_HDR);
	nat_case("tcp snat", tcp, tcp_len, ETH_LEN + 12, "203.0.113.9", t4, BPF_F_PSEUDO_HDR);
	nat_case("tcp dnat mangled", tcp, tcp_len, ETH_LEN + 16, "0.0.0.0", t4,
		 BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0);
	uint8_t nocsum[128];
	memcpy(nocsum, udp, udp_len);
	put16(nocsum + u4, 0);
	nat_case("udp no csum, mangled 0", nocsum, udp_len, ETH_LEN + 16, "1.2.3.4", u4,
		 BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0);
	nat_case("udp no csum, enforce", nocsum, udp_len, ETH_LEN + 16, "1.2.3.4", u4,
		 BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE);
	/* Every checksum value a 16-bit update can produce, both helpers, both sizes. */
	static const uint32_t vals[] = { 0, 1, 0xffff, 0xfffe, 0x8000, 0x1234, 0xffffffff, 0x80000000 };
	for (size_t i = 0; i < N(vals); i++) {
		for (size_t j = 0; j < N(vals); j += 3) {
			KCALL(TC, udp, udp_len, l3_csum_replace, 24, vals[i], vals[j], 2);
			KCALL(TC, udp, udp_len, l3_csum_replace, 24, vals[i], vals[j], 4);
			KCALL(TC, udp, udp_len, l4_csum_replace, (uint64_t)u4, vals[i], vals[j], 2);
			KCALL(TC, udp, udp_len, l4_csum_replace, (uint64_t)u4, vals[i], vals[j],
			      4 | BPF_F_MARK_MANGLED_0);
			KCALL(TC, udp, udp_len, l3_csum_replace, 24, 0, vals[j], 0);
			KCALL(TC, udp, udp_len, l4_csum_replace, 24, 0, vals[i], BPF_F_PSEUDO_HDR);
		}
	}
}

UT_TEST(kdiff_checksum_errors)
{
	K_REQUIRE();
	static const uint64_t l3[][3] = { { 25, 0, 2 }, { 66, 0, 2 }, { 64, 0, 2 }, { 0x10000, 0, 2 },
					  { 24, 1, 0 }, { 24, 0, 3 }, { 24, 0, 8 }, { 24, 0, 0x10 } };
	for (size_t i = 0; i < N(l3); i++)
		KCALL(TC, udp, udp_len, l3_csum_replace, l3[i][0], l3[i][1], 5, l3[i][2]);
	static const uint64_t l4f[] = { BPF_F_IPV6 | 2, 1 << 8, 1 << 9, BPF_F_MARK_ENFORCE | 4,
					BPF_F_HDR_FIELD_MASK, 1ull << 32 };
	for (size_t i = 0; i < N(l4f); i++)
		KCALL(TC, udp, udp_len, l4_csum_replace, 40, 0, 5, l4f[i]);
	KCALL(TC, udp, udp_len, l4_csum_replace, 41, 0, 5, 2);
}

/* csum_diff over stack words (a pattern in fp-512..fp-1). */
static void csum_diff_case(int type, uint32_t from_size, uint32_t to_size, uint32_t seed)
{
	struct bpf_insn p[80];
	size_t n = 0;
	for (int i = 1; i <= 64; i++)
		p[n++] = ST(BPF_DW, 10, (int16_t)(-8 * i), (int32_t)(0x9e3779b9u * (uint32_t)i));
	p[n++] = MOV64_REG(1, 10);
	p[n++] = ALU64_IMM(BPF_ADD, 1, -512);
	p[n++] = MOV64_IMM(2, (int32_t)from_size);
	p[n++] = MOV64_REG(3, 10);
	p[n++] = ALU64_IMM(BPF_ADD, 3, -256);
	p[n++] = MOV64_IMM(4, (int32_t)to_size);
	p[n++] = MOV64_IMM(5, (int32_t)seed);
	p[n++] = CALL(csum_diff);
	p[n++] = EXIT_INSN;
	char name[96];
	snprintf(name, sizeof(name), "csum_diff(%u, %u, seed %#x)", from_size, to_size, seed);
	kdiff(name, type, p, n, udp, udp_len);
}

UT_TEST(kdiff_csum_diff)
{
	K_REQUIRE();
	static const uint32_t sizes[][2] = { { 0, 0 }, { 4, 4 }, { 8, 0 }, { 0, 12 }, { 20, 20 },
					     { 40, 0 }, { 44, 36 }, { 84, 0 }, { 100, 100 },
					     { 252, 256 }, { 512, 0 }, { 256, 256 }, { 0, 256 },
					     { 3, 0 }, { 0, 2 }, { 260, 256 } };
	for (size_t i = 0; i < N(sizes); i++) {
		csum_diff_case(TC, sizes[i][0], sizes[i][1], 0);
		csum_diff_case(BPF_PROG_TYPE_XDP, sizes[i][0], sizes[i][1], 0xdeadbeef);
	}
}

UT_TEST(kdiff_change_head_tail)
{
	K_REQUIRE();
	static const uint64_t heads[][2] = { { 0, 0 }, { 8, 0 }, { 14, 0 }, { 16064 - 66, 0 },
					     { 16065 - 66, 0 }, { 8, 1 }, { 0xffffffff, 0 } };
	for (size_t i = 0; i < N(heads); i++)
		KCALL(TC, udp, udp_len, skb_change_head, heads[i][0], heads[i][1], 0, 0);
	static const uint64_t tails[][2] = { { 66, 0 }, { 166, 0 }, { 20, 0 }, { 14, 0 }, { 13, 0 },
					     { 0, 0 }, { 16064, 0 }, { 16065, 0 }, { 100, 1 } };
	for (size_t i = 0; i < N(tails); i++)
		KCALL(TC, udp, udp_len, skb_change_tail, tails[i][0], tails[i][1], 0, 0);
}

UT_TEST(kdiff_adjust_room)
{
	K_REQUIRE();
	const uint64_t ipip = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4, ip6 = BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
	const uint64_t cases[][3] = {
		{ 8, BPF_ADJ_ROOM_NET, 0 }, { 4, BPF_ADJ_ROOM_MAC, 0 }, { (uint64_t)-8, BPF_ADJ_ROOM_NET, 0 },
		{ (uint64_t)-4, BPF_ADJ_ROOM_MAC, 0 }, { 0, BPF_ADJ_ROOM_NET, 0 },
		{ 0xfff, BPF_ADJ_ROOM_NET, 0 }, { 0x1000, BPF_ADJ_ROOM_NET, 0 }, { 4, 2, 0 },
		{ (uint64_t)-32, BPF_ADJ_ROOM_MAC, 0 }, { (uint64_t)-33, BPF_ADJ_ROOM_MAC, 0 },
		{ (uint64_t)-12, BPF_ADJ_ROOM_NET, 0 }, { (uint64_t)-13, BPF_ADJ_ROOM_NET, 0 },
		{ 20, BPF_ADJ_ROOM_MAC, ipip }, { 28, BPF_ADJ_ROOM_MAC, ipip | BPF_F_ADJ_ROOM_ENCAP_L4_UDP },
		{ 40, BPF_ADJ_ROOM_MAC, ip6 }, { 20, BPF_ADJ_ROOM_MAC, ipip | ip6 },
		{ 28, BPF_ADJ_ROOM_MAC, ipip | BPF_F_ADJ_ROOM_ENCAP_L4_GRE | BPF_F_ADJ_ROOM_ENCAP_L4_UDP },
		{ 20, BPF_ADJ_ROOM_MAC, ipip | BPF_F_ADJ_ROOM_ENCAP_L2(24) },
		{ 34, BPF_ADJ_ROOM_MAC, ipip | BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(10) },
		{ 34, BPF_ADJ_ROOM_MAC, ipip | BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(14) },
		{ 8, BPF_ADJ_ROOM_NET, BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_NO_CSUM_RESET },
		{ (uint64_t)-8, BPF_ADJ_ROOM_NET, ipip }, { 8, BPF_ADJ_ROOM_NET, 1 << 7 },
		{ (uint64_t)-20, BPF_ADJ_ROOM_MAC, 1 << 7 }, { (uint64_t)-20, BPF_ADJ_ROOM_MAC, 3 << 7 },
		{ (uint64_t)-20, BPF_ADJ_ROOM_MAC, 1 << 8 }, { 4, BPF_ADJ_ROOM_NET, 1 << 9 },
	};
	for (size_t i = 0; i < N(cases); i++) {
		KCALL(TC, udp, udp_len, skb_adjust_room, cases[i][0], cases[i][1], cases[i][2], 0);
		KCALL(TC, tcp, tcp_len, skb_adjust_room, cases[i][0], cases[i][1], cases[i][2], 0);
	}
	KCALL(TC, raw, sizeof(raw), skb_adjust_room, 8, BPF_ADJ_ROOM_NET, 0, 0);
	KCALL(TC, tagged, tagged_len, skb_adjust_room, 8, BPF_ADJ_ROOM_MAC, 0, 0);
}

/* Two adjust_room calls, then r0 = first << 16 | second-r0, and skb->protocol added. */
UT_TEST(kdiff_adjust_room_twice)
{
	K_REQUIRE();
	const int32_t ipip = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4, ip6 = BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
	const int32_t flags[][2] = { { ipip, ipip }, { ip6, 0 }, { ipip, 1 << 7 }, { 0, ipip } };
	for (size_t i = 0; i < N(flags); i++) {
		struct bpf_insn p[] = {
			MOV64_REG(6, 1), MOV64_IMM(2, 20), MOV64_IMM(3, BPF_ADJ_ROOM_MAC),
			MOV64_IMM(4, flags[i][0]), CALL(skb_adjust_room), MOV64_REG(7, 0),
			MOV64_REG(1, 6), MOV64_IMM(2, -20), MOV64_IMM(3, BPF_ADJ_ROOM_MAC),
			MOV64_IMM(4, flags[i][1]), CALL(skb_adjust_room),
			ALU64_IMM(BPF_LSH, 7, 16), ALU64_REG(BPF_OR, 0, 7),
			LDX(BPF_W, 1, 6, CTX(protocol)), ALU64_IMM(BPF_LSH, 1, 8), ALU64_REG(BPF_XOR, 0, 1),
			EXIT_INSN,
		};
		p[7] = MOV64_IMM(2, flags[i][1] == ipip ? 20 : -20);
		char name[64];
		snprintf(name, sizeof(name), "adjust_room twice %#x %#x", flags[i][0], flags[i][1]);
		kdiff(name, TC, p, N(p), udp, udp_len);
	}
}

/* `pushes` vlan_push calls then `pops` vlan_pop calls; r0 mixes every result with the
 * offloaded tag and the protocol the program sees. */
static void vlan_case(const char *name, const uint8_t *pkt, size_t len, int pushes, int pops,
		      int32_t proto)
{
	struct bpf_insn p[64];
	size_t n = 0;
	p[n++] = MOV64_REG(6, 1);
	p[n++] = MOV64_IMM(7, 0);
	for (int i = 0; i < pushes + pops; i++) {
		p[n++] = MOV64_REG(1, 6);
		p[n++] = MOV64_IMM(2, proto);
		p[n++] = MOV64_IMM(3, 0x100 + i);
		p[n++] = i < pushes ? CALL(skb_vlan_push) : CALL(skb_vlan_pop);
		p[n++] = ALU64_IMM(BPF_LSH, 7, 2);
		p[n++] = ALU64_REG(BPF_ADD, 7, 0);
	}
	p[n++] = LDX(BPF_W, 0, 6, CTX(vlan_present));
	p[n++] = LDX(BPF_W, 1, 6, CTX(vlan_tci));
	p[n++] = ALU64_IMM(BPF_LSH, 1, 1);
	p[n++] = ALU64_REG(BPF_ADD, 0, 1);
	p[n++] = LDX(BPF_W, 1, 6, CTX(vlan_proto));
	p[n++] = ALU64_IMM(BPF_LSH, 1, 3);
	p[n++] = ALU64_REG(BPF_XOR, 0, 1);
	p[n++] = LDX(BPF_W, 1, 6, CTX(protocol));
	p[n++] = ALU64_IMM(BPF_LSH, 1, 5);
	p[n++] = ALU64_REG(BPF_XOR, 0, 1);
	p[n++] = ALU64_IMM(BPF_LSH, 7, 20);
	p[n++] = ALU64_REG(BPF_XOR, 0, 7);
	p[n++] = EXIT_INSN;
	kdiff(name, TC, p, n, pkt, len);
}

UT_TEST(kdiff_vlan)
{
	K_REQUIRE();
	int32_t q = htons(ETH_P_8021Q), ad = htons(ETH_P_8021AD), bad = 0x1234;
	vlan_case("push", udp, udp_len, 1, 0, q);
	vlan_case("push push", udp, udp_len, 2, 0, q);
	vlan_case("push 802.1ad push", udp, udp_len, 2, 0, ad);
	vlan_case("push (not a VLAN protocol)", udp, udp_len, 2, 0, bad);
	vlan_case("push x3", udp, udp_len, 3, 0, q);
	vlan_case("pop untagged", udp, udp_len, 0, 1, q);
	vlan_case("pop tagged", tagged, tagged_len, 0, 1, q);
	vlan_case("pop qinq", qinq, qinq_len, 0, 1, q);
	vlan_case("pop qinq twice", qinq, qinq_len, 0, 2, q);
	vlan_case("pop qinq x3", qinq, qinq_len, 0, 3, q);
	vlan_case("push pop", udp, udp_len, 1, 1, q);
	vlan_case("push push pop pop", udp, udp_len, 2, 2, q);
	vlan_case("push on tagged", tagged, tagged_len, 2, 0, q);
	uint8_t shorttag[18];
	memcpy(shorttag, tagged, sizeof(shorttag));
	vlan_case("pop a short tagged frame", shorttag, sizeof(shorttag), 0, 1, q);
}

UT_TEST(kdiff_hash_and_cookie)
{
	K_REQUIRE();
	/* set_hash, get_hash_recalc and skb->hash agree; invalidating clears skb->hash. */
	struct bpf_insn p[] = {
		MOV64_REG(6, 1), MOV64_IMM(2, 0x1234), CALL(set_hash), MOV64_REG(9, 0),
		MOV64_REG(1, 6), CALL(get_hash_recalc), MOV64_REG(7, 0),
		LDX(BPF_W, 8, 6, CTX(hash)), ALU64_REG(BPF_SUB, 7, 8),
		ST(BPF_W, 10, -4, 0), MOV64_REG(1, 6), MOV64_IMM(2, 20), MOV64_REG(3, 10),
		ALU64_IMM(BPF_ADD, 3, -4), MOV64_IMM(4, 1), MOV64_IMM(5, BPF_F_INVALIDATE_HASH),
		CALL(skb_store_bytes),
		LDX(BPF_W, 0, 6, CTX(hash)), ALU64_IMM(BPF_LSH, 0, 16), ALU64_REG(BPF_OR, 0, 8),
		ALU64_REG(BPF_OR, 0, 7), ALU64_REG(BPF_OR, 0, 9), EXIT_INSN,
	};
	kdiff("set_hash / get_hash_recalc / invalidate", TC, p, N(p), udp, udp_len);
	/* The flow hash: not 0, stable, and what skb->hash shows (its value has a key). */
	struct bpf_insn q[] = {
		MOV64_REG(6, 1), LDX(BPF_W, 9, 6, CTX(hash)), CALL(get_hash_recalc), MOV64_REG(7, 0),
		MOV64_REG(1, 6), CALL(get_hash_recalc), LDX(BPF_W, 8, 6, CTX(hash)),
		ALU64_REG(BPF_XOR, 0, 7), ALU64_REG(BPF_XOR, 8, 7), ALU64_REG(BPF_OR, 0, 8),
		ALU64_IMM(BPF_LSH, 9, 8), ALU64_REG(BPF_OR, 0, 9),
		JMP_IMM(BPF_JNE, 7, 0, 1), ALU64_IMM(BPF_OR, 0, 1 << 30), EXIT_INSN,
	};
	kdiff("flow hash", TC, q, N(q), udp, udp_len);
	kdiff("flow hash, tcp", TC, q, N(q), tcp, tcp_len);
	kdiff("flow hash, raw", TC, q, N(q), raw, sizeof(raw));
	struct bpf_insn c[] = {
		MOV64_REG(6, 1), CALL(get_socket_cookie), MOV64_REG(7, 0),
		MOV64_REG(1, 6), CALL(get_socket_cookie),
		MOV64_IMM(8, 0), JMP_IMM(BPF_JEQ, 0, 0, 2), JMP_REG(BPF_JNE, 0, 7, 1), MOV64_IMM(8, 1),
		MOV64_REG(0, 8), EXIT_INSN,
	};
	kdiff("socket cookie tc", TC, c, N(c), udp, udp_len);
	kdiff("socket cookie sf", SF, c, N(c), udp, udp_len);
}

/* r0 = a context field, on several frames, for both skb types. */
UT_TEST(kdiff_skb_context)
{
	K_REQUIRE();
	static const struct { const char *name; int16_t off; int tc_only; } f[] = {
		{ "len", CTX(len), 0 }, { "pkt_type", CTX(pkt_type), 0 },
		{ "protocol", CTX(protocol), 0 }, { "ifindex", CTX(ifindex), 0 },
		{ "ingress_ifindex", CTX(ingress_ifindex), 0 }, { "vlan_present", CTX(vlan_present), 0 },
		{ "hash", CTX(hash), 0 }, { "mark", CTX(mark), 0 }, { "priority", CTX(priority), 0 },
		{ "queue_mapping", CTX(queue_mapping), 0 }, { "wire_len", CTX(wire_len), 1 },
		{ "data_end - data", -1, 1 },
	};
	uint8_t frames[5][128];
	const uint8_t *dst[] = { (const uint8_t *)"\0\0\0\0\0\0", (const uint8_t *)"\xff\xff\xff\xff\xff\xff",
				 (const uint8_t *)"\x01\0\x5e\0\0\1", (const uint8_t *)"\x02\0\0\0\0\2" };
	for (size_t i = 0; i < 4; i++) {
		memcpy(frames[i], udp, udp_len);
		memcpy(frames[i], dst[i], 6);
	}
	memcpy(frames[4], udp, udp_len);
	put16(frames[4] + 12, 0x05dc);	/* an 802.3 length, not a type */
	for (size_t i = 0; i < N(f); i++) {
		for (int sf = 0; sf < 2; sf++) {
			if (sf && f[i].tc_only)
				continue;
			struct bpf_insn p[] = { LDX(BPF_W, 0, 1, f[i].off), EXIT_INSN, EXIT_INSN };
			struct bpf_insn d[] = { LDX(BPF_W, 2, 1, CTX(data)), LDX(BPF_W, 3, 1, CTX(data_end)),
						MOV64_IMM(0, 1), ALU64_IMM(BPF_ADD, 2, 60),
						JMP_REG(BPF_JGT, 2, 3, 1), MOV64_IMM(0, 2), EXIT_INSN };
			for (size_t fr = 0; fr < 5; fr++) {
				char name[80];
				snprintf(name, sizeof(name), "%s %s frame %zu", sf ? "sf" : "tc", f[i].name, fr);
				if (f[i].off < 0)
					kdiff(name, TC, d, N(d), frames[fr], udp_len);
				else
					kdiff(name, sf ? SF : TC, p, 2, frames[fr], udp_len);
			}
		}
	}
	/* LD_ABS reads relative to skb->data: the IP protocol (socket filter), the Ethernet
	 * type's low byte (tc). */
	struct bpf_insn ld[] = { MOV64_REG(6, 1), I(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 9), EXIT_INSN };
	kdiff("sf LD_ABS 9", SF, ld, N(ld), udp, udp_len);
	kdiff("tc LD_ABS 9", TC, ld, N(ld), udp, udp_len);
	ld[1].imm = 1000;
	kdiff("sf LD_ABS past the end", SF, ld, N(ld), udp, udp_len);
}

UT_TEST(kdiff_tc_redirects)
{
	K_REQUIRE();
	static const uint64_t r[][2] = { { 1, 0 }, { 1, BPF_F_INGRESS }, { 9999, 0 }, { 1, 2 }, { 1, 1ull << 33 } };
	for (size_t i = 0; i < N(r); i++)
		kcall(TC, udp, udp_len, BPF_FUNC_redirect, "redirect", 0, r[i][0], r[i][1], 0, 0, 0);
	KCALL(TC, raw, sizeof(raw), clone_redirect, 1, 0, 0, 0);
	KCALL(TC, raw, sizeof(raw), clone_redirect, 0x7fffffff, 0, 0, 0);
	KCALL(TC, raw, sizeof(raw), clone_redirect, 1, 2, 0, 0);
	KCALL(TC, raw, sizeof(raw), clone_redirect, 1, 1ull << 40, 0, 0);
}

UT_TEST(kdiff_socket_filter_output)
{
	K_REQUIRE();
	/* The output of a socket filter run comes back with a zeroed Ethernet header. */
	struct bpf_insn p[] = { MOV64_IMM(0, 0xffff), EXIT_INSN };
	kdiff("sf output", SF, p, N(p), udp, udp_len);
	kdiff("tc output", TC, p, N(p), udp, udp_len);
	kdiff("sf output of a 14-byte frame", SF, p, N(p), udp, 14);
}

/* Test-run arguments: a ctx_out without ctx_in (the kernel then fills wire_len), a ctx_in
 * with a wire_len shorter than the packet, the minimum IPv4 header. */
UT_TEST(kdiff_skb_test_run_args)
{
	K_REQUIRE();
	struct bpf_insn p[] = { LDX(BPF_W, 0, 1, CTX(wire_len)), EXIT_INSN };
	struct __sk_buff ctx = { 0 };
	kdiff2("ctx in, wire_len 0", TC, p, p, N(p), udp, udp_len, &ctx, sizeof(ctx));
	ctx.wire_len = 10;
	kdiff2("ctx in, wire_len 10", TC, p, p, N(p), udp, udp_len, &ctx, sizeof(ctx));
	ctx.wire_len = 1000, ctx.mark = 7, ctx.cb[2] = 9, ctx.priority = 3;
	kdiff2("ctx in, fields", TC, p, p, N(p), udp, udp_len, &ctx, sizeof(ctx));
	static struct k_res k, u;
	int kfd = k_load(TC, p, N(p), 0), ufd = u_load(TC, p, N(p));
	union bpf_attr a;
	for (int side = 0; side < 2; side++) {
		struct k_res *r = side ? &u : &k;
		memset(&a, 0, sizeof(a));
		memset(r, 0, sizeof(*r));
		a.test.prog_fd = (uint32_t)(side ? ufd : kfd);
		a.test.data_in = (uintptr_t)udp;
		a.test.data_size_in = (uint32_t)udp_len;
		a.test.ctx_out = (uintptr_t)r->ctx;
		a.test.ctx_size_out = sizeof(struct __sk_buff);
		r->rc = side ? (uebpf_bpf(BPF_PROG_TEST_RUN, &a, (unsigned)KATTR_END(test.batch_size)) < 0 ? -errno : 0)
			     : k_sys(BPF_PROG_TEST_RUN, &a, KATTR_END(test.batch_size));
		r->retval = a.test.retval;
		r->ctx_len = a.test.ctx_size_out;
	}
	UT_CHECK(k_same("ctx out only", &k, &u), "ctx out only differs");
	close(kfd), close(ufd);
	kdiff("ipv4 header cut at 19 bytes", TC, p, N(p), udp, 14 + 19);
	kdiff("ipv4 header of 20 bytes", TC, p, N(p), udp, 14 + 20);
}
