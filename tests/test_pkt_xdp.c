/*
 * XDP helpers (adjust_head/tail/meta boundaries and errors, the context following the
 * packet), redirect maps (DEVMAP, DEVMAP_HASH, CPUMAP, XSKMAP: the kernel's create and
 * update checks) and what a test run reports for XDP_TX and XDP_REDIRECT. Boundaries are
 * the kernel's frame: 4096 bytes, data at 256, sizeof(struct xdp_frame) = 40 kept at the
 * head, 320 bytes of skb_shared_info at the end (data_hard_end = 3776).
 */
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "pkt_util.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

static uint8_t pkt[64];

__attribute__((constructor)) static void packets(void)
{
	build_ipv4(pkt, IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 1, 2, 64 - 42);
}

/* r0 = helper(ctx, off) */
static uint32_t adjust(int helper, int32_t off, struct u_res *r)
{
	struct bpf_insn p[] = { MOV64_IMM(2, off), I(BPF_JMP | BPF_CALL, 0, 0, 0, helper), EXIT_INSN };
	return u_once(BPF_PROG_TYPE_XDP, p, N(p), pkt, sizeof(pkt), r);
}

UT_TEST(xdp_adjust_head_bounds)
{
	struct u_res r;
	static const uint8_t zero[216];

	/* Down to the end of the xdp_frame: 256 - 40 = 216 bytes of headroom. */
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_head, -216, &r), 0);
	UT_CHECK(r.len == 64 + 216 && !memcmp(r.out, zero, 216) && !memcmp(r.out + 216, pkt, 64),
		 "216 zeroed head bytes, then the packet");
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_head, -217, &r), ERR(EINVAL));
	/* Up to an Ethernet header before the end: 64 - 14 = 50. */
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_head, 50, &r), 0);
	UT_CHECK(r.len == 14 && !memcmp(r.out, pkt + 50, 14), "last 14 bytes");
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_head, 51, &r), ERR(EINVAL));
}

UT_TEST(xdp_adjust_tail_bounds)
{
	struct u_res r;

	/* Grow to data_hard_end: 3776 - 256 - 64 = 3456 bytes, zeroed. */
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_tail, 3456, &r), 0);
	UT_CHECK_EQ(r.len, 64 + 3456);
	int zero = 1;
	for (uint32_t i = 64; i < r.len; i++)
		zero &= r.out[i] == 0;
	UT_CHECK(zero && !memcmp(r.out, pkt, 64), "grown bytes are zero");
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_tail, 3457, &r), ERR(EINVAL));
	/* Shrink to an Ethernet header: 64 - 14 = 50. */
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_tail, -50, &r), 0);
	UT_CHECK_EQ(r.len, 14);
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_tail, -51, &r), ERR(EINVAL));
}

UT_TEST(xdp_adjust_meta_bounds)
{
	struct u_res r;

	/* Metadata grows into the headroom down to the xdp_frame (216 bytes), in 4-byte
	 * multiples (-EACCES otherwise), never past data (-EINVAL). */
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_meta, -216, &r), 0);
	UT_CHECK_EQ(r.len, 64 + 216);	/* data_out starts at data_meta */
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_meta, -220, &r), ERR(EINVAL));
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_meta, -2, &r), ERR(EACCES));
	UT_CHECK_EQ(adjust(BPF_FUNC_xdp_adjust_meta, 4, &r), ERR(EINVAL));
}

UT_TEST(xdp_context_follows_the_packet)
{
	/* adjust_head(14), then read data[0] behind a bounds check: the byte after the
	 * Ethernet header (0x45, IPv4 version/IHL); adjust_tail(-36) leaves 64 - 14 - 36 =
	 * 14 bytes: data + 11 <= data_end, data + 16 > data_end. */
	struct bpf_insn p[] = {
		MOV64_REG(6, 1), MOV64_IMM(2, 14), CALL(xdp_adjust_head),
		MOV64_REG(1, 6), MOV64_IMM(2, -36), CALL(xdp_adjust_tail),
		LDX(BPF_W, 2, 6, XCTX(data)), LDX(BPF_W, 3, 6, XCTX(data_end)),
		MOV64_REG(4, 2), ALU64_IMM(BPF_ADD, 4, 1), MOV64_IMM(0, 1000),
		JMP_REG(BPF_JGT, 4, 3, 7),
		LDX(BPF_B, 0, 2, 0),
		ALU64_IMM(BPF_ADD, 4, 10), JMP_REG(BPF_JGT, 4, 3, 1),
		ALU64_IMM(BPF_ADD, 0, 0x100),		/* 11 bytes fit: +0x100 */
		ALU64_IMM(BPF_ADD, 4, 5), JMP_REG(BPF_JGT, 4, 3, 1),
		ALU64_IMM(BPF_ADD, 0, 0x1000),		/* 16 bytes would not */
		EXIT_INSN,
	};
	struct u_res r;
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_XDP, p, N(p), pkt, sizeof(pkt), &r), 0x145);
	UT_CHECK(r.len == 14 && !memcmp(r.out, pkt + 14, 14), "14 bytes out");
	/* Shrinking below an Ethernet header fails and leaves the packet (50 bytes). */
	p[4] = MOV64_IMM(2, -37);
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_XDP, p, N(p), pkt, sizeof(pkt), &r), 0x1145);
	UT_CHECK_EQ(r.len, 50);
	/* The test run's device is the loopback's rx queue 0. */
	struct bpf_insn q[] = { LDX(BPF_W, 0, 1, XCTX(ingress_ifindex)), EXIT_INSN };
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_XDP, q, N(q), pkt, sizeof(pkt), &r), 1);
}

UT_TEST(xdp_test_run_metadata_in_ctx)
{
	/* ctx_in.data = metadata length, data_end = the input size. The output starts at
	 * data_meta and ctx_out gives offsets from it. */
	struct bpf_insn p[] = { MOV64_IMM(0, XDP_PASS), EXIT_INSN };
	int fd = u_load(BPF_PROG_TYPE_XDP, p, N(p));
	struct xdp_md md = { .data = 8, .data_end = sizeof(pkt) };
	struct u_res r;
	u_run_ctx(fd, pkt, sizeof(pkt), &md, sizeof(md), &r);
	UT_CHECK(r.rc == 0 && r.len == 64 && md.data == 8 && md.data_end == 64, "meta 8");
	/* Too much metadata for the headroom, unaligned, or under an Ethernet header left. */
	uint32_t bad[][2] = { { 220, 1000 }, { 6, 64 }, { 52, 64 } };
	for (size_t i = 0; i < N(bad); i++) {
		uint8_t big[1000] = { 0 };
		struct xdp_md m = { .data = bad[i][0], .data_end = bad[i][1] };
		u_run_ctx(fd, big, bad[i][1], &m, sizeof(m), &r);
		UT_CHECK_EQ(r.rc, -EINVAL);
	}
	close(fd);
}

static int devmap(uint32_t type, uint32_t vsize, uint32_t max)
{
	return bpf_map_create((enum bpf_map_type)type, "dev", 4, vsize, max, NULL);
}

UT_TEST(devmap_create_and_update_checks)
{
	/* Values of 4 (ifindex) or 8 bytes (with a program fd); keys of 4. */
	UT_CHECK_EQ(devmap(BPF_MAP_TYPE_DEVMAP, 12, 4), -EINVAL);
	UT_CHECK_EQ(bpf_map_create(BPF_MAP_TYPE_DEVMAP, "d", 8, 4, 4, NULL), -EINVAL);
	LIBBPF_OPTS(bpf_map_create_opts, mm, .map_flags = BPF_F_MMAPABLE);
	UT_CHECK_EQ(bpf_map_create(BPF_MAP_TYPE_DEVMAP, "d", 4, 4, 4, &mm), -EINVAL);
	int m = devmap(BPF_MAP_TYPE_DEVMAP, 8, 4);
	UT_CHECK(m >= 0, "devmap %d", m);
	uint32_t k = 0;
	struct bpf_devmap_val v = { .ifindex = 1 }, o;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), 0);
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_NOEXIST), -EEXIST);	/* slots exist */
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, 4), -EINVAL);
	k = 4;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), -E2BIG);
	k = 1;
	v.ifindex = 0x7fffff00;		/* no such device on the host */
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), -EINVAL);
	v.ifindex = 0;			/* an empty slot ... */
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), 0);
	UT_CHECK_EQ(bpf_map_lookup_elem(m, &k, &o), -ENOENT);
	v.bpf_prog.fd = 5;		/* ... cannot have a program */
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), -EINVAL);
	/* A program must be an XDP program for BPF_XDP_DEVMAP. */
	struct bpf_insn p[] = { MOV64_IMM(0, XDP_PASS), EXIT_INSN };
	int plain = u_load(BPF_PROG_TYPE_XDP, p, N(p));
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = BPF_XDP_DEVMAP);
	int dp = bpf_prog_load(BPF_PROG_TYPE_XDP, "d", "GPL", p, N(p), &lo);
	v = (struct bpf_devmap_val){ .ifindex = 1, .bpf_prog.fd = plain };
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), -EINVAL);
	v.bpf_prog.fd = dp;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), 0);
	struct bpf_prog_info info = { 0 };
	uint32_t ilen = sizeof(info);
	UT_CHECK_EQ(bpf_obj_get_info_by_fd(dp, &info, &ilen), 0);
	UT_CHECK_EQ(bpf_map_lookup_elem(m, &k, &o), 0);
	UT_CHECK(o.ifindex == 1 && o.bpf_prog.id == info.id, "lookup gives ifindex and prog id");
	/* Deleting an empty slot succeeds; a key past the end is -EINVAL. */
	k = 3;
	UT_CHECK_EQ(bpf_map_delete_elem(m, &k), 0);
	k = 9;
	UT_CHECK_EQ(bpf_map_delete_elem(m, &k), -EINVAL);
	close(plain), close(dp), close(m);
}

UT_TEST(devmap_hash_checks)
{
	int m = devmap(BPF_MAP_TYPE_DEVMAP_HASH, 4, 2);
	uint32_t k = 100, v = 1, o, next;

	/* The kernel checks only NOEXIST: BPF_EXIST on an absent key inserts. */
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_EXIST), 0);
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_NOEXIST), -EEXIST);
	k = 101;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), 0);
	k = 102;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), -E2BIG);	/* full */
	v = 0;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), -EINVAL);	/* no ifindex */
	k = 555;
	UT_CHECK_EQ(bpf_map_delete_elem(m, &k), -ENOENT);
	UT_CHECK_EQ(bpf_map_lookup_elem(m, &k, &o), -ENOENT);
	/* Iteration: bucket key & 1 (2 buckets), so 100 then 101. */
	UT_CHECK_EQ(bpf_map_get_next_key(m, NULL, &next), 0);
	UT_CHECK_EQ(next, 100);
	UT_CHECK_EQ(bpf_map_get_next_key(m, &next, &next), 0);
	UT_CHECK_EQ(next, 101);
	UT_CHECK_EQ(bpf_map_get_next_key(m, &next, &next), -ENOENT);
	close(m);
}

UT_TEST(cpumap_checks)
{
	UT_CHECK_EQ(devmap(BPF_MAP_TYPE_CPUMAP, 12, 4), -EINVAL);
	UT_CHECK_EQ(devmap(BPF_MAP_TYPE_CPUMAP, 4, 8193), -E2BIG);	/* > NR_CPUS */
	int m = devmap(BPF_MAP_TYPE_CPUMAP, 8, 4);
	struct bpf_cpumap_val v = { .qsize = 192 }, o;
	uint32_t k = 0;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), 0);
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_NOEXIST), -EEXIST);
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, 3), -EINVAL);
	v.qsize = 16385;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), -EOVERFLOW);
	UT_CHECK_EQ(bpf_map_lookup_elem(m, &k, &o), 0);
	UT_CHECK(o.qsize == 192 && o.bpf_prog.id == 0, "qsize kept");
	/* A queue size of 0 empties the slot; deleting an empty one succeeds. */
	v.qsize = 0;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), 0);
	UT_CHECK_EQ(bpf_map_lookup_elem(m, &k, &o), -ENOENT);
	UT_CHECK_EQ(bpf_map_delete_elem(m, &k), 0);
	/* A bad program fd is reported as an allocation failure, as the kernel does. */
	v = (struct bpf_cpumap_val){ .qsize = 8, .bpf_prog.fd = 999 };
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &v, BPF_ANY), -ENOMEM);
	close(m);
}

UT_TEST(xskmap_checks)
{
	UT_CHECK_EQ(devmap(BPF_MAP_TYPE_XSKMAP, 8, 4), -EINVAL);
	int m = devmap(BPF_MAP_TYPE_XSKMAP, 4, 4);
	int udp = socket(AF_INET, SOCK_DGRAM, 0), xsk = socket(AF_XDP, SOCK_RAW, 0);
	uint32_t k = 0;
	int fd = 0x7ffffff0;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &fd, BPF_ANY), -EBADF);
	fd = udp;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &fd, BPF_ANY), -EOPNOTSUPP);
	if (xsk < 0) {
		ut_skip("no AF_XDP sockets here");
	} else {
		fd = xsk;
		UT_CHECK_EQ(bpf_map_update_elem(m, &k, &fd, BPF_EXIST), -ENOENT);
		UT_CHECK_EQ(bpf_map_update_elem(m, &k, &fd, BPF_ANY), 0);
		UT_CHECK_EQ(bpf_map_update_elem(m, &k, &fd, BPF_NOEXIST), -EEXIST);
		UT_CHECK_EQ(bpf_map_lookup_elem(m, &k, &fd), -EOPNOTSUPP);
		close(xsk);
	}
	k = 4;
	UT_CHECK_EQ(bpf_map_update_elem(m, &k, &fd, BPF_ANY), -E2BIG);
	UT_CHECK_EQ(bpf_map_delete_elem(m, &k), -EINVAL);
	close(udp), close(m);
}

/* redirect_map(map, key, flags) in a program; the outcome of its test run. */
static uint32_t redirect_map_run(int map, uint32_t key, int32_t flags,
				 struct uebpf_pkt_outcome *out)
{
	struct bpf_insn p[] = {
		LD_MAP(1, map), MOV64_IMM(2, (int32_t)key), MOV64_IMM(3, flags),
		CALL(redirect_map), EXIT_INSN,
	};
	int fd = u_load(BPF_PROG_TYPE_XDP, p, N(p));
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt));
	*out = (struct uebpf_pkt_outcome){ .sz = sizeof(*out) };
	int rc = uebpf_prog_test_run_pkt(fd, &t, out);
	close(fd);
	return rc ? 0xdead0000u : t.retval;
}

UT_TEST(redirect_map_targets)
{
	struct uebpf_pkt_outcome o;
	int dm = devmap(BPF_MAP_TYPE_DEVMAP, 4, 4);
	uint32_t k = 2, ifindex = 1;
	struct bpf_map_info info = { 0 };
	uint32_t ilen = sizeof(info);

	UT_CHECK_EQ(bpf_map_update_elem(dm, &k, &ifindex, BPF_ANY), 0);
	UT_CHECK_EQ(bpf_obj_get_info_by_fd(dm, &info, &ilen), 0);
	/* A set slot: XDP_REDIRECT, and the run names the map, key and device. */
	UT_CHECK_EQ(redirect_map_run(dm, 2, 0, &o), XDP_REDIRECT);
	UT_CHECK(o.redirected && o.target.map_id == info.id && o.target.key == 2 &&
		 o.target.ifindex == 1 && o.target.map_type == BPF_MAP_TYPE_DEVMAP, "target");
	/* An empty slot: the low flag bits are the action (here XDP_PASS), no target. */
	UT_CHECK_EQ(redirect_map_run(dm, 1, XDP_PASS, &o), XDP_PASS);
	UT_CHECK(!o.redirected && o.action == XDP_PASS, "no target");
	UT_CHECK_EQ(redirect_map_run(dm, 1, 0, &o), XDP_ABORTED);
	/* Broadcast redirects even from an empty slot; unknown flags abort. */
	UT_CHECK_EQ(redirect_map_run(dm, 1, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS, &o), XDP_REDIRECT);
	UT_CHECK(o.redirected && (o.target.flags & BPF_F_BROADCAST), "broadcast");
	UT_CHECK_EQ(redirect_map_run(dm, 2, 1 << 5, &o), XDP_ABORTED);
	/* CPU maps take no broadcast flags. */
	int cm = devmap(BPF_MAP_TYPE_CPUMAP, 4, 2);
	uint32_t qsize = 64, cpu = 0;
	UT_CHECK_EQ(bpf_map_update_elem(cm, &cpu, &qsize, BPF_ANY), 0);
	UT_CHECK_EQ(redirect_map_run(cm, 0, 0, &o), XDP_REDIRECT);
	UT_CHECK(o.target.map_type == BPF_MAP_TYPE_CPUMAP && o.target.key == 0, "cpu 0");
	UT_CHECK_EQ(redirect_map_run(cm, 0, BPF_F_BROADCAST, &o), XDP_ABORTED);
	UT_CHECK_EQ(redirect_map_run(cm, 1, XDP_DROP, &o), XDP_DROP);
	close(cm), close(dm);
}

UT_TEST(xdp_redirect_and_tx_outcomes)
{
	struct uebpf_pkt_outcome o = { .sz = sizeof(o) };
	/* redirect(7, 0) -> XDP_REDIRECT to ifindex 7; any flag -> XDP_ABORTED. */
	struct bpf_insn p[] = { MOV64_IMM(1, 7), MOV64_IMM(2, 0), CALL(redirect), EXIT_INSN };
	int fd = u_load(BPF_PROG_TYPE_XDP, p, N(p));
	uint8_t out[128];
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .data_out = out, .data_size_out = sizeof(out));
	UT_CHECK_EQ(uebpf_prog_test_run_pkt(fd, &t, &o), 0);
	UT_CHECK(t.retval == XDP_REDIRECT && o.redirected && o.target.ifindex == 7 &&
		 !o.target.map_id, "ifindex 7");
	UT_CHECK(t.data_size_out == sizeof(pkt) && !memcmp(out, pkt, sizeof(pkt)), "bytes as usual");
	close(fd);
	p[1] = MOV64_IMM(2, 1);
	struct u_res r;
	UT_CHECK_EQ(u_once(BPF_PROG_TYPE_XDP, p, N(p), pkt, sizeof(pkt), &r), XDP_ABORTED);
	/* XDP_TX goes back out of the device it came from (the test run's loopback). */
	struct bpf_insn tx[] = { MOV64_IMM(0, XDP_TX), EXIT_INSN };
	fd = u_load(BPF_PROG_TYPE_XDP, tx, N(tx));
	UT_CHECK_EQ(uebpf_prog_test_run_pkt(fd, &t, &o), 0);
	UT_CHECK(o.action == XDP_TX && o.tx_ifindex == 1 && !o.redirected, "tx");
	/* A short outcome struct (an older caller) gets only its part. */
	struct { size_t sz; uint32_t action; } small = { sizeof(small), 99 };
	UT_CHECK_EQ(uebpf_prog_test_run_pkt(fd, &t, (struct uebpf_pkt_outcome *)&small), 0);
	UT_CHECK_EQ(small.action, XDP_TX);
	close(fd);
}

/* Checked mode (unverified programs): the packet region follows the packet, so a pointer
 * taken before a helper moved the packet no longer reaches bytes that left it. */
UT_TEST(checked_region_follows_the_packet)
{
	struct bpf_insn p[] = {
		MOV64_REG(6, 1), LDX(BPF_W, 7, 6, XCTX(data)),
		MOV64_IMM(2, 14), CALL(xdp_adjust_head),
		LDX(BPF_B, 0, 7, 0),		/* the old data: now before data_meta */
		EXIT_INSN,
	};
	int fd = u_load_flags(BPF_PROG_TYPE_XDP, p, N(p), UEBPF_F_PROG_UNVERIFIED);
	struct u_res r;
	u_run(fd, pkt, sizeof(pkt), &r);
	UT_CHECK(r.rc < 0, "stale pointer refused: rc %d", r.rc);
	close(fd);
	/* Reloading data after the helper is what the kernel's verifier demands, and works. */
	p[4] = LDX(BPF_W, 7, 6, XCTX(data));
	struct bpf_insn q[N(p) + 1];
	memcpy(q, p, sizeof(p));
	q[5] = LDX(BPF_B, 0, 7, 0);
	q[6] = EXIT_INSN;
	fd = u_load_flags(BPF_PROG_TYPE_XDP, q, N(q), UEBPF_F_PROG_UNVERIFIED);
	u_run(fd, pkt, sizeof(pkt), &r);
	UT_CHECK(r.rc == 0 && r.retval == pkt[14], "reloaded pointer reads 0x45: rc %d 0x%x", r.rc, r.retval);
	close(fd);
	/* A grown tail is reachable once data_end is reloaded. */
	struct bpf_insn t[] = {
		MOV64_REG(6, 1), MOV64_IMM(2, 100), CALL(xdp_adjust_tail),
		LDX(BPF_W, 7, 6, XCTX(data)), LDX(BPF_B, 0, 7, 64 + 99), EXIT_INSN,
	};
	fd = u_load_flags(BPF_PROG_TYPE_XDP, t, N(t), UEBPF_F_PROG_UNVERIFIED);
	u_run(fd, pkt, sizeof(pkt), &r);
	UT_CHECK(r.rc == 0 && r.retval == 0, "grown byte reads 0: rc %d", r.rc);
	t[2] = CALL(xdp_adjust_meta);	/* without the growth, 163 is past the end */
	t[1] = MOV64_IMM(2, -4);
	close(fd);
	fd = u_load_flags(BPF_PROG_TYPE_XDP, t, N(t), UEBPF_F_PROG_UNVERIFIED);
	u_run(fd, pkt, sizeof(pkt), &r);
	UT_CHECK(r.rc < 0, "past the end refused: rc %d", r.rc);
	close(fd);
}

UT_TEST(xdp_test_run_flags)
{
	/* test_run.c in the kernel: batch_size only with BPF_F_TEST_XDP_LIVE_FRAMES (else
	 * -EINVAL); live frames need a device, which uebpf has not (-EOPNOTSUPP). */
	struct bpf_insn p[] = { MOV64_IMM(0, XDP_PASS), EXIT_INSN };
	int fd = u_load(BPF_PROG_TYPE_XDP, p, N(p));
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt), .batch_size = 4);
	UT_CHECK_EQ(bpf_prog_test_run_opts(fd, &t), -EINVAL);
	t.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
	UT_CHECK_EQ(bpf_prog_test_run_opts(fd, &t), -EOPNOTSUPP);
	close(fd);
}
