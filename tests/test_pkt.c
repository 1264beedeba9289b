/*
 * sk_buff helpers (tc and socket filters) on real packets: loads, stores, checksum
 * fix-ups verified by recomputing from scratch (RFC 1071) and by RFC 1624, head and tail
 * changes, adjust_room, VLAN tags, hash and cookie. Expected values come from the RFCs,
 * the kernel's documented semantics (<linux/bpf.h>) and the packets built here.
 */
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include "pkt_util.h"

static uint8_t udp[128], tcp[128];
static size_t udp_len, tcp_len;

__attribute__((constructor)) static void packets(void)
{
	udp_len = build_ipv4(udp, IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 1234, 53, 12);
	tcp_len = build_ipv4(tcp, IPPROTO_TCP, "192.168.1.10", "172.16.0.5", 40000, 80, 9);
}

UT_TEST(reference_packets_verify)
{
	/* The builders' checksums verify by the RFC 1071 rule (sum over the data = ~0). */
	UT_CHECK(ip_csum_ok(udp + ETH_LEN) && ip_csum_ok(tcp + ETH_LEN), "ip csum");
	UT_CHECK(l4_csum_ok(udp + ETH_LEN, udp_len - ETH_LEN - IP_LEN, 6), "udp csum");
	UT_CHECK(l4_csum_ok(tcp + ETH_LEN, tcp_len - ETH_LEN - IP_LEN, 16), "tcp csum");
	/* RFC 1624's example: HC 0xdd2f, m 0x5555 -> m' 0x3285 gives HC' 0x0000. */
	UT_CHECK_EQ(ref_incr(0xdd2f, 0x5555, 0x3285), 0x0000);
}

/* r0 = load_bytes(ctx, off, fp-8, len); return r0 ? r0 : *(u32 *)(fp-8) (stack pre-set). */
static uint32_t load_prog(int type, int32_t off, int32_t len, uint32_t *word)
{
	struct bpf_insn p[] = {
		ST(BPF_DW, 10, -8, 0x77777777),
		MOV64_IMM(2, off), MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -8), MOV64_IMM(4, len),
		CALL(skb_load_bytes),
		LDX(BPF_W, 1, 10, -8),
		JMP_IMM(BPF_JNE, 0, 0, 1),
		MOV64_REG(0, 1),
		EXIT_INSN,
	};
	struct u_res r;
	uint32_t v = u_once(type, p, N(p), udp, udp_len, &r);
	*word = v;
	return v;
}

UT_TEST(skb_load_bytes_tc_and_socket_filter)
{
	uint32_t w, ip_word;

	memcpy(&ip_word, udp + ETH_LEN, 4);
	/* tc sees the frame from the Ethernet header: offset 14 is the IP header. */
	UT_CHECK_EQ(load_prog(BPF_PROG_TYPE_SCHED_CLS, ETH_LEN, 4, &w), ip_word);
	/* Socket filters see it from the network header: offset 0 is the IP header. */
	UT_CHECK_EQ(load_prog(BPF_PROG_TYPE_SOCKET_FILTER, 0, 4, &w), ip_word);
	/* The last 4 bytes load; one more is past skb->len: -EFAULT. */
	uint32_t last;
	memcpy(&last, udp + udp_len - 4, 4);
	UT_CHECK_EQ(load_prog(BPF_PROG_TYPE_SCHED_CLS, (int32_t)udp_len - 4, 4, &w), last);
	UT_CHECK_EQ(load_prog(BPF_PROG_TYPE_SCHED_CLS, (int32_t)udp_len - 3, 4, &w), ERR(EFAULT));
	UT_CHECK_EQ(load_prog(BPF_PROG_TYPE_SCHED_CLS, -1, 4, &w), ERR(EFAULT));
}

/* The buffer of a failed load is zeroed (bpf.h: "on error ... the buffer is cleared"). */
UT_TEST(skb_load_bytes_clears_on_error)
{
	struct bpf_insn p[] = {
		ST(BPF_DW, 10, -8, 0x55555555),
		MOV64_IMM(2, 1000), MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -8), MOV64_IMM(4, 8),
		CALL(skb_load_bytes),
		LDX(BPF_DW, 0, 10, -8),
		EXIT_INSN,
	};
	struct u_res r;
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r), 0);
}

/* load_bytes_relative(ctx, off, fp-8, 4, hdr): return the word or the error. */
static uint32_t rel_prog(int type, int32_t off, int32_t hdr)
{
	struct bpf_insn p[] = {
		ST(BPF_DW, 10, -8, 0),
		MOV64_IMM(2, off), MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -8), MOV64_IMM(4, 4),
		MOV64_IMM(5, hdr),
		CALL(skb_load_bytes_relative),
		LDX(BPF_W, 1, 10, -8),
		JMP_IMM(BPF_JNE, 0, 0, 1),
		MOV64_REG(0, 1),
		EXIT_INSN,
	};
	struct u_res r;
	return u_once(type, p, N(p), udp, udp_len, &r);
}

UT_TEST(skb_load_bytes_relative_headers)
{
	uint32_t mac_word, saddr;
	memcpy(&mac_word, udp + 6, 4);
	memcpy(&saddr, udp + ETH_LEN + 12, 4);
	static const int types[] = { BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_SCHED_CLS };
	for (size_t i = 0; i < N(types); i++) {
		int type = types[i];
		/* The mac header is reachable even where skb->data is the network header. */
		UT_CHECK_EQ(rel_prog(type, 6, BPF_HDR_START_MAC), mac_word);
		UT_CHECK_EQ(rel_prog(type, 12, BPF_HDR_START_NET), saddr);
		UT_CHECK_EQ(rel_prog(type, 0, 7), ERR(EFAULT));		/* unknown header */
		UT_CHECK_EQ(rel_prog(type, 0x10000, BPF_HDR_START_NET), ERR(EFAULT));
		/* Bounded by the end of the packet. */
		UT_CHECK_EQ(rel_prog(type, (int32_t)udp_len - ETH_LEN - 3, BPF_HDR_START_NET),
			    ERR(EFAULT));
	}
}

/* store_bytes(ctx, off, fp-8, len, flags) of 0x11223344...; returns r0. */
static uint32_t store_prog(int32_t off, int32_t len, int32_t flags, struct u_res *r)
{
	struct bpf_insn p[] = {
		LD_IMM64(1, 0x8877665544332211ull), STX(BPF_DW, 10, 1, -8),
		MOV64_REG(1, 6),
		MOV64_IMM(2, off), MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -8), MOV64_IMM(4, len),
		MOV64_IMM(5, flags),
		CALL(skb_store_bytes),
		EXIT_INSN,
	};
	struct bpf_insn q[N(p) + 1];
	q[0] = MOV64_REG(6, 1);
	memcpy(q + 1, p, sizeof(p));
	return u_once(BPF_PROG_TYPE_SCHED_CLS, q, N(q), udp, udp_len, r);
}

UT_TEST(skb_store_bytes_in_and_out_of_range)
{
	struct u_res r;
	static const uint8_t want[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };

	UT_CHECK_EQ(store_prog(0, 6, 0, &r), 0);
	UT_CHECK(!memcmp(r.out, want, 6) && !memcmp(r.out + 6, udp + 6, udp_len - 6),
		 "dst MAC rewritten, rest intact");
	UT_CHECK_EQ(r.len, udp_len);
	/* The last 8 bytes are writable; one byte further is -EFAULT and nothing changes. */
	UT_CHECK_EQ(store_prog((int32_t)udp_len - 8, 8, 0, &r), 0);
	UT_CHECK(!memcmp(r.out + udp_len - 8, want, 8), "tail rewritten");
	UT_CHECK_EQ(store_prog((int32_t)udp_len - 7, 8, 0, &r), ERR(EFAULT));
	UT_CHECK(!memcmp(r.out, udp, udp_len), "untouched");
	UT_CHECK_EQ(store_prog(-1, 8, 0, &r), ERR(EFAULT));	/* offset > INT_MAX */
	/* Only BPF_F_RECOMPUTE_CSUM (1) and BPF_F_INVALIDATE_HASH (2) are flags. */
	UT_CHECK_EQ(store_prog(0, 4, BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH, &r), 0);
	UT_CHECK_EQ(store_prog(0, 4, 4, &r), ERR(EINVAL));
}

/* Rewrites 4 bytes at `at` (a field of the packet) from its old value to `neu`, fixing
 * the IPv4 header checksum (l3) and the L4 checksum at csum_at (l4, pseudo header). */
static void rewrite_addr(const uint8_t *pkt, size_t len, int at, uint32_t neu, int csum_at,
			 struct u_res *r)
{
	uint32_t old;
	memcpy(&old, pkt + at, 4);
	struct bpf_insn p[] = {
		MOV64_REG(6, 1),
		ST(BPF_W, 10, -4, (int32_t)neu),
		MOV64_IMM(2, at), MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -4), MOV64_IMM(4, 4),
		MOV64_IMM(5, 0), CALL(skb_store_bytes),
		JMP_IMM(BPF_JNE, 0, 0, 13),
		MOV64_REG(1, 6), MOV64_IMM(2, ETH_LEN + 10), MOV64_IMM(3, (int32_t)old),
		MOV64_IMM(4, (int32_t)neu), MOV64_IMM(5, 4), CALL(l3_csum_replace),
		JMP_IMM(BPF_JNE, 0, 0, 6),
		MOV64_REG(1, 6), MOV64_IMM(2, csum_at), MOV64_IMM(3, (int32_t)old),
		MOV64_IMM(4, (int32_t)neu),
		I(BPF_ALU64 | BPF_MOV | BPF_K, 5, 0, 0, BPF_F_PSEUDO_HDR | 4),
		CALL(l4_csum_replace),
		EXIT_INSN,
	};
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), pkt, len, r), 0);
}

UT_TEST(csum_replace_after_address_rewrite)
{
	struct u_res r;
	uint32_t neu;

	/* NAT of the UDP destination: both checksums must verify afterwards (recomputed from
	 * scratch) and equal the RFC 1624 incremental result. */
	inet_pton(AF_INET, "198.51.100.77", &neu);
	rewrite_addr(udp, udp_len, ETH_LEN + 16, neu, ETH_LEN + IP_LEN + 6, &r);
	uint8_t *ip = r.out + ETH_LEN;
	UT_CHECK(!memcmp(ip + 16, &neu, 4), "address stored");
	UT_CHECK(ip_csum_ok(ip), "IP header checksum verifies");
	UT_CHECK(l4_csum_ok(ip, udp_len - ETH_LEN - IP_LEN, 6), "UDP checksum verifies");
	uint16_t hc = get16(udp + ETH_LEN + 10);
	hc = ref_incr(hc, get16(udp + ETH_LEN + 16), get16(ip + 16));
	hc = ref_incr(hc, get16(udp + ETH_LEN + 18), get16(ip + 18));
	UT_CHECK_EQ(get16(ip + 10), hc);

	/* Same on TCP, the source address; the TCP checksum is at offset 16. */
	inet_pton(AF_INET, "203.0.113.9", &neu);
	rewrite_addr(tcp, tcp_len, ETH_LEN + 12, neu, ETH_LEN + IP_LEN + 16, &r);
	ip = r.out + ETH_LEN;
	UT_CHECK(ip_csum_ok(ip), "IP header checksum verifies");
	UT_CHECK(l4_csum_ok(ip, tcp_len - ETH_LEN - IP_LEN, 16), "TCP checksum verifies");
}

/* A port rewrite: store 2 bytes, l4_csum_replace with size 2 (no pseudo header). */
static void rewrite_port(const uint8_t *pkt, size_t len, int at, uint16_t port, int csum_at,
			 int32_t extra_flags, struct u_res *r)
{
	uint16_t old, neu = htons(port);
	memcpy(&old, pkt + at, 2);
	struct bpf_insn p[] = {
		MOV64_REG(6, 1),
		ST(BPF_H, 10, -2, neu),
		MOV64_IMM(2, at), MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -2), MOV64_IMM(4, 2),
		MOV64_IMM(5, 0), CALL(skb_store_bytes),
		JMP_IMM(BPF_JNE, 0, 0, 6),
		MOV64_REG(1, 6), MOV64_IMM(2, csum_at), MOV64_IMM(3, old), MOV64_IMM(4, neu),
		MOV64_IMM(5, 2 | extra_flags), CALL(l4_csum_replace),
		EXIT_INSN,
	};
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), pkt, len, r), 0);
}

UT_TEST(csum_replace_after_port_rewrite)
{
	struct u_res r;

	rewrite_port(udp, udp_len, ETH_LEN + IP_LEN, 5353, ETH_LEN + IP_LEN + 6, 0, &r);
	UT_CHECK_EQ(get16(r.out + ETH_LEN + IP_LEN), 5353);
	UT_CHECK(l4_csum_ok(r.out + ETH_LEN, udp_len - ETH_LEN - IP_LEN, 6), "UDP verifies");
	UT_CHECK_EQ(get16(r.out + ETH_LEN + IP_LEN + 6),
		    ref_incr(get16(udp + ETH_LEN + IP_LEN + 6), 1234, 5353));
	rewrite_port(tcp, tcp_len, ETH_LEN + IP_LEN + 2, 8080, ETH_LEN + IP_LEN + 16, 0, &r);
	UT_CHECK(l4_csum_ok(r.out + ETH_LEN, tcp_len - ETH_LEN - IP_LEN, 16), "TCP verifies");
}

UT_TEST(csum_replace_mangled_zero)
{
	struct u_res r;
	uint8_t pkt[128];
	int at = ETH_LEN + IP_LEN, csum_at = at + 6;

	/* A UDP checksum of 0 means "none": BPF_F_MARK_MANGLED_0 leaves it 0. */
	memcpy(pkt, udp, udp_len);
	put16(pkt + csum_at, 0);
	rewrite_port(pkt, udp_len, at, 7, csum_at, BPF_F_MARK_MANGLED_0, &r);
	UT_CHECK_EQ(get16(r.out + csum_at), 0);
	/* A port that makes the updated sum 0 (RFC 1624) is sent as 0xffff with the flag. */
	uint16_t hc = get16(udp + csum_at), port = 0;
	for (uint32_t m = 1; m < 0x10000 && !port; m++)
		if (ref_incr(hc, 1234, (uint16_t)m) == 0)
			port = (uint16_t)m;
	UT_CHECK(port != 0, "a port giving checksum 0 exists");
	rewrite_port(udp, udp_len, at, port, csum_at, BPF_F_MARK_MANGLED_0, &r);
	UT_CHECK_EQ(get16(r.out + csum_at), 0xffff);
}

/* l3/l4_csum_replace(ctx, off, from, to, flags) -> r0. */
static uint32_t csum_call(int l4, int32_t off, int32_t from, int32_t to, int32_t flags)
{
	struct bpf_insn p[] = {
		MOV64_IMM(2, off), MOV64_IMM(3, from), MOV64_IMM(4, to), MOV64_IMM(5, flags),
		l4 ? CALL(l4_csum_replace) : CALL(l3_csum_replace),
		EXIT_INSN,
	};
	struct u_res r;
	return u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r);
}

UT_TEST(csum_replace_errors)
{
	/* bpf.h: offset must be 16-bit aligned and in the packet (-EFAULT); sizes 0, 2, 4;
	 * size 0 takes a precomputed diff in `to`, so `from` must be 0 (-EINVAL). */
	UT_CHECK_EQ(csum_call(0, 25, 0, 0, 2), ERR(EFAULT));
	UT_CHECK_EQ(csum_call(0, (int32_t)udp_len, 0, 0, 2), ERR(EFAULT));
	UT_CHECK_EQ(csum_call(0, 0x10000, 0, 0, 2), ERR(EFAULT));
	UT_CHECK_EQ(csum_call(0, 24, 1, 0, 0), ERR(EINVAL));
	UT_CHECK_EQ(csum_call(0, 24, 0, 0, 3), ERR(EINVAL));
	UT_CHECK_EQ(csum_call(0, 24, 0, 0, BPF_F_PSEUDO_HDR | 2), ERR(EINVAL));	/* l4-only */
	UT_CHECK_EQ(csum_call(1, 40, 0, 0, 8), ERR(EINVAL));
	UT_CHECK_EQ(csum_call(1, 40, 0, 0, BPF_F_IPV6 | 2), 0);
	UT_CHECK_EQ(csum_call(1, 40, 0, 0, 1 << 8), ERR(EINVAL));
}

/* csum_diff(from, fs, to, ts, seed) on two stack words (from at fp-4, to at fp-8). */
static uint32_t csum_diff_prog(uint32_t from, int32_t fs, uint32_t to, int32_t ts)
{
	struct bpf_insn p[] = {
		ST(BPF_W, 10, -4, (int32_t)from), ST(BPF_W, 10, -8, (int32_t)to),
		MOV64_REG(1, 10), ALU64_IMM(BPF_ADD, 1, -4), MOV64_IMM(2, fs),
		MOV64_REG(3, 10), ALU64_IMM(BPF_ADD, 3, -8), MOV64_IMM(4, ts), MOV64_IMM(5, 0),
		CALL(csum_diff), EXIT_INSN,
	};
	struct u_res r;
	return u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r);
}

/* The folded (not complemented) RFC 1071 sum of big-endian words. */
static uint16_t ref_fold_sum(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

UT_TEST(csum_diff_matches_reference)
{
	/* Linux >= 6.12 returns sum(to) - sum(from) folded to 16 bits, computed on the words
	 * as they lie in memory: byte-swapped, it is the RFC 1071 sum of big-endian words. */
	uint32_t from, to;
	inet_pton(AF_INET, "10.0.0.2", &from);
	inet_pton(AF_INET, "198.51.100.77", &to);
	const uint8_t *f = (const uint8_t *)&from, *t = (const uint8_t *)&to;
	uint32_t ref = (uint16_t)~get16(f) + (uint32_t)(uint16_t)~get16(f + 2) + get16(t) + get16(t + 2);
	UT_CHECK_EQ(htons((uint16_t)csum_diff_prog(from, 4, to, 4)), ref_fold_sum(ref));
	/* Sizes are no longer checked: 3 bytes are summed with the RFC's zero padding. */
	UT_CHECK_EQ(htons((uint16_t)csum_diff_prog(0, 0, to, 3)),
		    ref_fold_sum((uint32_t)get16(t) + (uint32_t)(t[2] << 8)));
}

/* skb_change_head(ctx, room, flags) then return r0; output shows the frame. */
UT_TEST(skb_change_head_pushes_zeroes)
{
	struct bpf_insn p[] = { MOV64_IMM(2, 8), MOV64_IMM(3, 0), CALL(skb_change_head), EXIT_INSN };
	struct u_res r;
	static const uint8_t zero[8];

	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r), 0);
	UT_CHECK_EQ(r.len, udp_len + 8);
	UT_CHECK(!memcmp(r.out, zero, 8) && !memcmp(r.out + 8, udp, udp_len), "8 zero bytes first");
	/* Flags are reserved; the result may not exceed 16064 bytes (SKB_MAX_ALLOC). */
	p[1] = MOV64_IMM(3, 1);
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r), ERR(EINVAL));
	p[1] = MOV64_IMM(3, 0);
	p[0] = MOV64_IMM(2, 16064 - (int32_t)udp_len);
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r), 0);
	UT_CHECK_EQ(r.len, 16064);
	p[0] = MOV64_IMM(2, 16065 - (int32_t)udp_len);
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r), ERR(EINVAL));
}

/* skb_change_tail(ctx, len, 0); return r0 * 65536 + skb->len (as the program sees it). */
static uint32_t tail_prog(int32_t len, int32_t flags, struct u_res *r)
{
	struct bpf_insn p[] = {
		MOV64_REG(6, 1), MOV64_IMM(2, len), MOV64_IMM(3, flags), CALL(skb_change_tail),
		ALU64_IMM(BPF_LSH, 0, 16), LDX(BPF_W, 1, 6, CTX(len)), ALU64_REG(BPF_ADD, 0, 1),
		EXIT_INSN,
	};
	return u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, r);
}

UT_TEST(skb_change_tail_grows_and_trims)
{
	struct u_res r;
	static const uint8_t zero[100];

	UT_CHECK_EQ(tail_prog((int32_t)udp_len + 100, 0, &r), udp_len + 100);	/* len follows */
	UT_CHECK(!memcmp(r.out, udp, udp_len) && !memcmp(r.out + udp_len, zero, 100), "zeroes");
	UT_CHECK_EQ(tail_prog(20, 0, &r), 20);
	UT_CHECK_EQ(r.len, 20);
	UT_CHECK(!memcmp(r.out, udp, 20), "trimmed");
	/* Not below the mac header length (14 for tc), not over 16064, no flags. */
	UT_CHECK_EQ(tail_prog(14, 0, &r), 14);
	UT_CHECK_EQ(tail_prog(13, 0, &r), (ERR(EINVAL) << 16) + udp_len);
	UT_CHECK_EQ(tail_prog(16065, 0, &r), (ERR(EINVAL) << 16) + udp_len);
	UT_CHECK_EQ(tail_prog(100, 1, &r), (ERR(EINVAL) << 16) + udp_len);
}

/* adjust_room(ctx, diff, mode, flags); return r0, and the frame in r. */
static uint32_t room_prog(int32_t diff, int32_t mode, uint64_t flags, const uint8_t *pkt,
			  size_t len, struct u_res *r)
{
	struct bpf_insn p[] = {
		MOV64_IMM(2, diff), MOV64_IMM(3, mode), LD_IMM64(4, flags),
		CALL(skb_adjust_room), EXIT_INSN,
	};
	return u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), pkt, len, r);
}

UT_TEST(skb_adjust_room_net_and_mac)
{
	struct u_res r;
	static const uint8_t zero[16];

	/* NET: room after the IPv4 header (offset 14 + 20). */
	UT_CHECK_EQ(room_prog(8, BPF_ADJ_ROOM_NET, 0, udp, udp_len, &r), 0);
	UT_CHECK_EQ(r.len, udp_len + 8);
	UT_CHECK(!memcmp(r.out, udp, 34) && !memcmp(r.out + 34, zero, 8) &&
		 !memcmp(r.out + 42, udp + 34, udp_len - 34), "gap after the IP header");
	/* MAC: room after the Ethernet header. */
	UT_CHECK_EQ(room_prog(4, BPF_ADJ_ROOM_MAC, 0, udp, udp_len, &r), 0);
	UT_CHECK(!memcmp(r.out, udp, 14) && !memcmp(r.out + 14, zero, 4) &&
		 !memcmp(r.out + 18, udp + 14, udp_len - 14), "gap after the MAC header");
	/* Shrinking removes the bytes after the header. */
	UT_CHECK_EQ(room_prog(-8, BPF_ADJ_ROOM_NET, 0, udp, udp_len, &r), 0);
	UT_CHECK(!memcmp(r.out, udp, 34) && !memcmp(r.out + 34, udp + 42, udp_len - 42),
		 "UDP header removed");
	/* At most 0xfff at once (-EFAULT); unknown mode; a shrink below the IPv4 header. */
	UT_CHECK_EQ(room_prog(0x1000, BPF_ADJ_ROOM_NET, 0, udp, udp_len, &r), ERR(EFAULT));
	UT_CHECK_EQ(room_prog(4, 7, 0, udp, udp_len, &r), ERR(524));	/* ENOTSUPP */
	UT_CHECK_EQ(room_prog(-(int32_t)(udp_len - 14 - 19), BPF_ADJ_ROOM_MAC, 0, udp, udp_len, &r),
		    ERR(524));
	UT_CHECK_EQ(room_prog(4, BPF_ADJ_ROOM_NET, 1ull << 10, udp, udp_len, &r), ERR(EINVAL));
}

UT_TEST(skb_adjust_room_encap)
{
	struct u_res r;
	uint64_t ipip = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;

	/* An IPv4-in-IPv4 encapsulation opens 20 bytes after the MAC header. */
	UT_CHECK_EQ(room_prog(20, BPF_ADJ_ROOM_MAC, ipip, udp, udp_len, &r), 0);
	UT_CHECK_EQ(r.len, udp_len + 20);
	/* Both L3 kinds at once, both L4 kinds at once, an L2 header longer than the room. */
	UT_CHECK_EQ(room_prog(20, BPF_ADJ_ROOM_MAC, ipip | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6, udp,
			      udp_len, &r), ERR(EINVAL));
	UT_CHECK_EQ(room_prog(28, BPF_ADJ_ROOM_MAC, ipip | BPF_F_ADJ_ROOM_ENCAP_L4_GRE |
			      BPF_F_ADJ_ROOM_ENCAP_L4_UDP, udp, udp_len, &r), ERR(EINVAL));
	UT_CHECK_EQ(room_prog(20, BPF_ADJ_ROOM_MAC, ipip | BPF_F_ADJ_ROOM_ENCAP_L2(24), udp,
			      udp_len, &r), ERR(EINVAL));
	/* A second encapsulation of the same packet: -EALREADY. */
	struct bpf_insn p[] = {
		MOV64_REG(6, 1), MOV64_IMM(2, 20), MOV64_IMM(3, BPF_ADJ_ROOM_MAC), MOV64_IMM(4, (int32_t)ipip),
		CALL(skb_adjust_room), JMP_IMM(BPF_JNE, 0, 0, 5),
		MOV64_REG(1, 6), MOV64_IMM(2, 20), MOV64_IMM(3, BPF_ADJ_ROOM_MAC), MOV64_IMM(4, (int32_t)ipip),
		CALL(skb_adjust_room), EXIT_INSN,
	};
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r), ERR(EALREADY));
}

/* vlan_push(ctx, proto, tci) `pushes` times; returns vlan_present << 16 | vlan_tci. */
static uint32_t vlan_push_prog(int pushes, const uint8_t *pkt, size_t len, struct u_res *r)
{
	struct bpf_insn p[32];
	int n = 0;
	p[n++] = MOV64_REG(6, 1);
	for (int i = 0; i < pushes; i++) {
		p[n++] = MOV64_REG(1, 6);
		p[n++] = MOV64_IMM(2, htons(ETH_P_8021Q));
		p[n++] = MOV64_IMM(3, 100 + i);
		p[n++] = CALL(skb_vlan_push);
	}
	p[n++] = LDX(BPF_W, 0, 6, CTX(vlan_present));
	p[n++] = ALU64_IMM(BPF_LSH, 0, 16);
	p[n++] = LDX(BPF_W, 1, 6, CTX(vlan_tci));
	p[n++] = ALU64_REG(BPF_OR, 0, 1);
	p[n++] = EXIT_INSN;
	return u_once(BPF_PROG_TYPE_SCHED_CLS, p, (size_t)n, pkt, len, r);
}

UT_TEST(skb_vlan_push_pop_bytes)
{
	struct u_res r;

	/* The first tag is offloaded: metadata only, the bytes do not change. */
	UT_CHECK_EQ(vlan_push_prog(1, udp, udp_len, &r), 1 << 16 | 100);
	UT_CHECK(r.len == udp_len && !memcmp(r.out, udp, udp_len), "bytes unchanged");
	/* A second push moves the first tag into the packet after the MAC addresses. */
	UT_CHECK_EQ(vlan_push_prog(2, udp, udp_len, &r), 1 << 16 | 101);
	static const uint8_t tag[4] = { 0x81, 0x00, 0x00, 100 };
	UT_CHECK_EQ(r.len, udp_len + 4);
	UT_CHECK(!memcmp(r.out, udp, 12) && !memcmp(r.out + 12, tag, 4) &&
		 !memcmp(r.out + 16, udp + 12, udp_len - 12), "802.1Q tag 100 inserted");

	/* Popping a tag that is in the packet removes its 4 bytes. */
	uint8_t tagged[160];
	memcpy(tagged, r.out, r.len);
	size_t tlen = r.len;
	struct bpf_insn pop[] = {
		MOV64_REG(6, 1), CALL(skb_vlan_pop), JMP_IMM(BPF_JNE, 0, 0, 1),
		LDX(BPF_W, 0, 6, CTX(protocol)), EXIT_INSN,
	};
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, pop, N(pop), tagged, tlen, &r), htons(ETH_P_IP));
	UT_CHECK(r.len == udp_len && !memcmp(r.out, udp, udp_len), "tag removed");
	/* Popping an untagged packet is a no-op that succeeds. */
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, pop, N(pop), udp, udp_len, &r), htons(ETH_P_IP));
}

UT_TEST(skb_hash_and_cookie)
{
	/* set_hash(0x1234) then get_hash_recalc() gives it back and skb->hash shows it;
	 * store_bytes with BPF_F_INVALIDATE_HASH clears skb->hash. */
	struct bpf_insn p[] = {
		MOV64_REG(6, 1), MOV64_IMM(2, 0x1234), CALL(set_hash),
		MOV64_REG(1, 6), CALL(get_hash_recalc), MOV64_REG(7, 0),
		LDX(BPF_W, 8, 6, CTX(hash)), ALU64_REG(BPF_SUB, 7, 8),	/* 0 if they agree */
		ST(BPF_W, 10, -4, 0), MOV64_REG(1, 6), MOV64_IMM(2, 20), MOV64_REG(3, 10),
		ALU64_IMM(BPF_ADD, 3, -4), MOV64_IMM(4, 1), MOV64_IMM(5, BPF_F_INVALIDATE_HASH),
		CALL(skb_store_bytes),
		LDX(BPF_W, 0, 6, CTX(hash)), ALU64_IMM(BPF_LSH, 0, 16), ALU64_REG(BPF_OR, 0, 8),
		ALU64_REG(BPF_OR, 0, 7), EXIT_INSN,
	};
	struct u_res r;
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r), 0x1234);
	/* A computed flow hash is never 0, and the same on a second call. */
	struct bpf_insn q[] = {
		MOV64_REG(6, 1), CALL(get_hash_recalc), MOV64_REG(7, 0),
		MOV64_REG(1, 6), CALL(get_hash_recalc),
		MOV64_IMM(8, 1), JMP_REG(BPF_JEQ, 0, 7, 1), MOV64_IMM(8, 0),
		MOV64_IMM(0, 0), JMP_IMM(BPF_JEQ, 7, 0, 1), ALU64_REG(BPF_ADD, 0, 8), EXIT_INSN,
	};
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, q, N(q), udp, udp_len, &r), 1);
	/* The socket cookie is not 0 and stays the same within a run, for both types. */
	struct bpf_insn c[] = {
		MOV64_REG(6, 1), CALL(get_socket_cookie), MOV64_REG(7, 0),
		MOV64_REG(1, 6), CALL(get_socket_cookie),
		MOV64_IMM(8, 0), JMP_IMM(BPF_JEQ, 0, 0, 2), JMP_REG(BPF_JNE, 0, 7, 1), MOV64_IMM(8, 1),
		MOV64_REG(0, 8), EXIT_INSN,
	};
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, c, N(c), udp, udp_len, &r), 1);
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SOCKET_FILTER, c, N(c), udp, udp_len, &r), 1);
}

UT_TEST(skb_context_of_test_run)
{
	/* eth_type_trans() on the loopback, whose address and broadcast address are both
	 * 00:..:00 (`ip link`: "link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"): a
	 * unicast frame to another address is PACKET_OTHERHOST (3), any group address
	 * (ff:ff:ff:ff:ff:ff too) PACKET_MULTICAST (2), 00:..:00 PACKET_HOST (0). */
	struct bpf_insn p[] = { LDX(BPF_W, 0, 1, CTX(pkt_type)), EXIT_INSN };
	struct u_res r;
	uint8_t f[128];
	memcpy(f, udp, udp_len);
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), f, udp_len, &r), PACKET_OTHERHOST);
	memset(f, 0xff, 6);
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), f, udp_len, &r), PACKET_MULTICAST);
	f[5] = 0xfe;
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), f, udp_len, &r), PACKET_MULTICAST);
	memset(f, 0, 6);
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), f, udp_len, &r), PACKET_HOST);
	/* A socket filter sees len without the Ethernet header and gets the header back
	 * zeroed in data_out (the kernel pushes hh_len zero bytes). */
	struct bpf_insn l[] = { LDX(BPF_W, 0, 1, CTX(len)), EXIT_INSN };
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SOCKET_FILTER, l, N(l), udp, udp_len, &r), udp_len - 14);
	static const uint8_t zero[14];
	UT_CHECK(r.len == udp_len && !memcmp(r.out, zero, 14) && !memcmp(r.out + 14, udp + 14, udp_len - 14),
		 "socket filter output");
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, l, N(l), udp, udp_len, &r), udp_len);
}

UT_TEST(helpers_follow_program_types)
{
	/* As the kernel: socket filters may not write the packet, XDP has no skb helpers. */
	struct bpf_insn st[] = { MOV64_IMM(2, 0), MOV64_IMM(3, 0), MOV64_IMM(4, 0), MOV64_IMM(5, 0),
				 CALL(skb_store_bytes), EXIT_INSN };
	UT_CHECK_EQ(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "t", "GPL", st, N(st), NULL), -EINVAL);
	UT_CHECK_EQ(bpf_prog_load(BPF_PROG_TYPE_XDP, "t", "GPL", st, N(st), NULL), -EINVAL);
	struct bpf_insn ah[] = { MOV64_IMM(2, 0), CALL(xdp_adjust_head), EXIT_INSN };
	UT_CHECK_EQ(bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "t", "GPL", ah, N(ah), NULL), -EINVAL);
	struct bpf_insn ck[] = { CALL(get_socket_cookie), EXIT_INSN };
	UT_CHECK_EQ(bpf_prog_load(BPF_PROG_TYPE_XDP, "t", "GPL", ck, N(ck), NULL), -EINVAL);
}

UT_TEST(tc_redirect_and_clone)
{
	struct uebpf_pkt_outcome out = { .sz = sizeof(out) };
	/* redirect(ifindex 1, BPF_F_INGRESS) -> TC_ACT_REDIRECT; other flags -> TC_ACT_SHOT. */
	struct bpf_insn p[] = {
		MOV64_REG(6, 1),
		MOV64_REG(1, 6), MOV64_IMM(2, 1), MOV64_IMM(3, 0), CALL(clone_redirect),
		MOV64_REG(1, 6), MOV64_IMM(2, 1), MOV64_IMM(3, BPF_F_INGRESS), CALL(clone_redirect),
		MOV64_IMM(1, 1), MOV64_IMM(2, BPF_F_INGRESS), CALL(redirect), EXIT_INSN,
	};
	int fd = u_load(BPF_PROG_TYPE_SCHED_CLS, p, N(p));
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = udp, .data_size_in = (uint32_t)udp_len);
	UT_CHECK_EQ(uebpf_prog_test_run_pkt(fd, &t, &out), 0);
	UT_CHECK_EQ(t.retval, TC_ACT_REDIRECT);
	UT_CHECK(out.action == TC_ACT_REDIRECT && out.redirected, "redirected");
	UT_CHECK(out.target.ifindex == 1 && out.target.flags == BPF_F_INGRESS && !out.target.map_id,
		 "target");
	UT_CHECK_EQ(out.nr_clones, 2);
	UT_CHECK(out.clones[0].ifindex == 1 && out.clones[1].flags == BPF_F_INGRESS, "clones");
	close(fd);
	p[10] = MOV64_IMM(2, 4);
	struct u_res r;
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, p, N(p), udp, udp_len, &r), TC_ACT_SHOT);
	/* clone_redirect to a device the host lacks, or with unknown flags: -EINVAL. */
	struct bpf_insn c[] = { MOV64_IMM(2, 0x7fffffff), MOV64_IMM(3, 0), CALL(clone_redirect), EXIT_INSN };
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, c, N(c), udp, udp_len, &r), ERR(EINVAL));
	c[0] = MOV64_IMM(2, 1), c[1] = MOV64_IMM(3, 2);
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_SCHED_CLS, c, N(c), udp, udp_len, &r), ERR(EINVAL));
}
