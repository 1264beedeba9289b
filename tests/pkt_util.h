/*
 * Shared by the packet tests (test_pkt*.c): instruction macros, packets built field by
 * field, and reference checksums written from the RFCs (RFC 1071 for the sum, RFC 1624
 * eqn. 3 for incremental updates), independent of uebpf's own checksum code.
 */
#ifndef PKT_UTIL_H
#define PKT_UTIL_H
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "ut.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV64_IMM(d, v)	I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v)
#define MOV64_REG(d, s)	I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ALU64_IMM(op, d, v) I(BPF_ALU64 | (op) | BPF_K, d, 0, 0, v)
#define ALU64_REG(op, d, s) I(BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define LDX(sz, d, s, o) I(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, s, o) I(BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define ST(sz, d, o, v)	I(BPF_ST | BPF_MEM | (sz), d, 0, o, v)
#define JMP_IMM(op, d, v, o) I(BPF_JMP | (op) | BPF_K, d, 0, o, v)
#define JMP_REG(op, d, s, o) I(BPF_JMP | (op) | BPF_X, d, s, o, 0)
#define CALL(f)		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_##f)
#define EXIT_INSN	I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LD_MAP(d, fd)	I(BPF_LD | BPF_IMM | BPF_DW, d, BPF_PSEUDO_MAP_FD, 0, fd), I(0, 0, 0, 0, 0)
#define LD_IMM64(d, v)	I(BPF_LD | BPF_IMM | BPF_DW, d, 0, 0, (int32_t)(uint32_t)(v)), \
			I(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))
#define CTX(field)	((int16_t)offsetof(struct __sk_buff, field))
#define XCTX(field)	((int16_t)offsetof(struct xdp_md, field))
/* A 32-bit retval for a negative errno, as the kernel reports r0's low half. */
#define ERR(e)		((uint32_t)-(e))

#define ETH_LEN 14
#define IP_LEN 20

/* RFC 1071: the ones' complement of the ones' complement sum of 16-bit words. */
static inline uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static inline uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;	/* host order value of the big-endian field */
}

static inline uint16_t ref_csum(const uint8_t *p, size_t n)
{
	return ref_fold(ref_sum(p, n, 0));
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), all 16-bit ones' complement. */
static inline uint16_t ref_incr(uint16_t hc, uint16_t m, uint16_t m2)
{
	uint32_t s = (uint16_t)~hc + (uint32_t)(uint16_t)~m + m2;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The L4 checksum over the IPv4 pseudo header (RFC 768 / RFC 793), from scratch. */
static inline uint16_t ref_l4_csum(const uint8_t *ip, const uint8_t *l4, size_t l4len)
{
	uint32_t s = ref_sum(ip + 12, 8, 0);	/* source and destination addresses */
	s += ip[9];				/* zero, protocol */
	s += (uint32_t)l4len;
	return ref_fold(ref_sum(l4, l4len, s));
}

/* Does the IPv4 header checksum verify (sum over the header is all ones)? */
static inline int ip_csum_ok(const uint8_t *ip)
{
	return ref_fold(ref_sum(ip, IP_LEN, 0)) == 0;
}

static inline int l4_csum_ok(const uint8_t *ip, size_t l4len, int csum_at)
{
	uint8_t tmp[2048];
	memcpy(tmp, ip + IP_LEN, l4len);
	uint16_t want = get16(tmp + csum_at);
	put16(tmp + csum_at, 0);
	uint16_t c = ref_l4_csum(ip, tmp, l4len);
	if (ip[9] == IPPROTO_UDP && c == 0)
		c = 0xffff;	/* RFC 768: a computed 0 is sent as all ones */
	return c == want;
}

/*
 * Ethernet + IPv4 + UDP (proto 17) or TCP (proto 6) with `payload` bytes of 0xa5.., all
 * checksums filled in by the reference functions. Returns the frame length.
 */
static inline size_t build_ipv4(uint8_t *f, int proto, const char *src, const char *dst,
				uint16_t sport, uint16_t dport, size_t payload)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01 };
	size_t l4 = proto == IPPROTO_TCP ? 20 : 8, len = ETH_LEN + IP_LEN + l4 + payload;
	uint8_t *ip = f + ETH_LEN, *t = ip + IP_LEN;

	memset(f, 0, len);
	memcpy(f, macs, 12);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_LEN + l4 + payload));
	put16(ip + 4, 0x1c46);
	ip[8] = 64;
	ip[9] = (uint8_t)proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	put16(ip + 10, ref_csum(ip, IP_LEN));
	put16(t, sport);
	put16(t + 2, dport);
	for (size_t i = 0; i < payload; i++)
		t[l4 + i] = (uint8_t)(0xa5 + i);
	if (proto == IPPROTO_TCP) {
		put16(t + 4, 0x1234), put16(t + 6, 0x5678);	/* sequence number */
		t[12] = 0x50;					/* data offset 5 words */
		t[13] = 0x18;					/* PSH ACK */
		put16(t + 14, 512);				/* window */
		put16(t + 16, ref_l4_csum(ip, t, l4 + payload));
	} else {
		put16(t + 4, (uint16_t)(l4 + payload));
		uint16_t c = ref_l4_csum(ip, t, l4 + payload);
		put16(t + 6, c ? c : 0xffff);
	}
	return len;
}

/*
 * Every program runs twice in uebpf: verified (no runtime checks) and unverified
 * (UEBPF_F_PROG_UNVERIFIED: checked mode, where every access must fall in the packet's
 * region as helpers move it). Both must agree. PKT_TEST_CHECKED_ONLY=1 keeps only the
 * checked run (to sanitize the packet code alone).
 */
static inline int u_checked_only(void)
{
	const char *e = getenv("PKT_TEST_CHECKED_ONLY");
	return e && *e == '1';
}

static inline int u_load_flags(int type, const struct bpf_insn *p, size_t n, uint32_t flags)
{
	char log[4096] = "";
	if (u_checked_only())
		flags |= UEBPF_F_PROG_UNVERIFIED;
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log), .log_level = 1,
		    .prog_flags = flags);
	int fd = bpf_prog_load((enum bpf_prog_type)type, "t", "GPL", p, n, &o);
	if (fd < 0)
		fprintf(stderr, "    uebpf load: %d %s\n", fd, log);
	return fd;
}

static inline int u_load(int type, const struct bpf_insn *p, size_t n)
{
	return u_load_flags(type, p, n, 0);
}

struct u_res {
	int rc;
	uint32_t retval;
	uint32_t len;
	uint8_t out[16384];
};

static inline void u_run_ctx(int fd, const void *pkt, size_t len, void *ctx, size_t ctx_len,
			     struct u_res *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = ctx,
		    .ctx_size_in = (uint32_t)ctx_len, .ctx_out = ctx, .ctx_size_out = (uint32_t)ctx_len);
	memset(r->out, 0, sizeof(r->out));
	r->rc = bpf_prog_test_run_opts(fd, &t);
	r->retval = t.retval;
	r->len = t.data_size_out;
}

static inline void u_run(int fd, const void *pkt, size_t len, struct u_res *r)
{
	u_run_ctx(fd, pkt, len, NULL, 0, r);
}

static inline uint32_t u_once_flags(int type, const struct bpf_insn *p, size_t n, const void *pkt,
				    size_t len, struct u_res *r, uint32_t flags)
{
	int fd = u_load_flags(type, p, n, flags);
	if (fd < 0)
		return 0xdead0000u | (uint32_t)-fd;
	u_run(fd, pkt, len, r);
	close(fd);
	return r->rc ? 0xdead0000u | (uint32_t)-r->rc : r->retval;
}

/* Loads and runs once in each mode: the retval, or 0xdead0000 | errno when load or run
 * fails. The checked run must give the same retval, length and bytes. */
static inline uint32_t u_once(int type, const struct bpf_insn *p, size_t n, const void *pkt,
			      size_t len, struct u_res *r)
{
	static struct u_res c;
	uint32_t rv = u_once_flags(type, p, n, pkt, len, r, 0);
	uint32_t cv = u_once_flags(type, p, n, pkt, len, &c, UEBPF_F_PROG_UNVERIFIED);
	UT_CHECK(rv == cv && r->len == c.len && !memcmp(r->out, c.out, r->len < sizeof(r->out) ? r->len : sizeof(r->out)),
		 "verified run 0x%x (%u bytes) and checked run 0x%x (%u bytes) differ", rv, r->len, cv, c.len);
	return rv;
}

#endif
