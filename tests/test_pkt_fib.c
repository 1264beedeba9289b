/*
 * bpf_fib_lookup() over uebpf's routing model (uebpf_fib_*), and the same lookups in the
 * live kernel: a child process in a network namespace of its own sets up a veth pair,
 * addresses, routes and neighbours with `ip`, the same network is declared to uebpf, and
 * every query's return code and output params must agree.
 */
#include <linux/if_ether.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/wait.h>
#include "pkt_kdiff.h"

static uint8_t pkt[128];

__attribute__((constructor)) static void packets(void)
{
	build_ipv4(pkt, IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 1, 2, sizeof(pkt) - 42);
}

/* fib_lookup(ctx, params, 64, flags) with params built here; the params after the call are
 * copied to the packet's first 64 bytes (data_out), r0 is the retval. */
static size_t fib_prog(struct bpf_insn *p, const struct bpf_fib_lookup *fl, int32_t flags)
{
	const uint32_t *w = (const uint32_t *)fl;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(*fl) / 4; i++)
		p[n++] = ST(BPF_W, 10, (int16_t)(-64 + 4 * (int)i), (int32_t)w[i]);
	p[n++] = MOV64_REG(6, 1);
	p[n++] = MOV64_REG(2, 10);
	p[n++] = ALU64_IMM(BPF_ADD, 2, -64);
	p[n++] = MOV64_IMM(3, sizeof(*fl));
	p[n++] = MOV64_IMM(4, flags);
	p[n++] = CALL(fib_lookup);
	p[n++] = MOV64_REG(7, 0);
	p[n++] = LDX(BPF_W, 2, 6, XCTX(data));	/* xdp_md.data: the first field of both */
	p[n++] = LDX(BPF_W, 3, 6, XCTX(data_end));
	p[n++] = MOV64_REG(4, 2);
	p[n++] = ALU64_IMM(BPF_ADD, 4, 64);
	p[n++] = JMP_REG(BPF_JGT, 4, 3, 16);
	for (int i = 0; i < 8; i++) {
		p[n++] = LDX(BPF_DW, 1, 10, (int16_t)(-64 + 8 * i));
		p[n++] = STX(BPF_DW, 2, 1, (int16_t)(8 * i));
	}
	p[n++] = MOV64_REG(0, 7);
	p[n++] = EXIT_INSN;
	return n;
}

/* The tc context puts data and data_end elsewhere: patch the two loads. */
static void tc_offsets(struct bpf_insn *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i].code == (BPF_LDX | BPF_MEM | BPF_W) && p[i].src_reg == 6)
			p[i].off = p[i].off == XCTX(data) ? CTX(data) : CTX(data_end);
	}
}

static struct bpf_fib_lookup q4(uint32_t ifindex, const char *dst, uint16_t tot_len)
{
	struct bpf_fib_lookup fl = { .family = AF_INET, .ifindex = ifindex, .tot_len = tot_len };
	inet_pton(AF_INET, dst, &fl.ipv4_dst);
	return fl;
}

static void u_fib(const struct bpf_fib_lookup *fl, int32_t flags, uint32_t *ret,
		  struct bpf_fib_lookup *out)
{
	struct bpf_insn p[64];
	struct u_res r;
	size_t n = fib_prog(p, fl, flags);
	*ret = u_once(BPF_PROG_TYPE_XDP, p, n, pkt, sizeof(pkt), &r);
	memcpy(out, r.out, sizeof(*out));
}

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 1 }, mac_gw[6] = { 2, 0, 0, 0, 0, 0xfe };

/* A small network: dev 2 (10.0.0.1/24, forwarding), dev 3 (not forwarding), routes. */
static void model(void)
{
	uebpf_fib_clear();
	struct uebpf_fib_dev d2 = { .sz = sizeof(d2), .ifindex = 2, .mtu = 1500, .forwarding = 1,
				    .addr4 = { 10, 0, 0, 1 } };
	memcpy(d2.mac, mac_a, 6);
	struct uebpf_fib_dev d3 = { .sz = sizeof(d3), .ifindex = 3 };
	UT_CHECK_EQ(uebpf_fib_add_dev(&d2), 0);
	UT_CHECK_EQ(uebpf_fib_add_dev(&d3), 0);
	struct uebpf_fib_route r = { .sz = sizeof(r), .family = AF_INET, .ifindex = 2 };
	inet_pton(AF_INET, "10.0.0.0", r.dst), r.prefix_len = 24;
	UT_CHECK_EQ(uebpf_fib_add_route(&r), 0);
	UT_CHECK_EQ(uebpf_fib_add_route(&r), -EEXIST);
	inet_pton(AF_INET, "10.9.0.0", r.dst), r.prefix_len = 16, r.metric = 10;
	r.gw_family = AF_INET, inet_pton(AF_INET, "10.0.0.254", r.gw);
	UT_CHECK_EQ(uebpf_fib_add_route(&r), 0);
	r.metric = 20, r.mtu = 1280;	/* same prefix, worse metric: never chosen */
	UT_CHECK_EQ(uebpf_fib_add_route(&r), 0);
	struct uebpf_fib_route bh = { .sz = sizeof(bh), .family = AF_INET, .prefix_len = 16,
				      .type = RTN_BLACKHOLE };
	inet_pton(AF_INET, "10.66.0.0", bh.dst);
	UT_CHECK_EQ(uebpf_fib_add_route(&bh), 0);
	inet_pton(AF_INET, "10.66.0.1", bh.dst);	/* host bits under the prefix */
	UT_CHECK_EQ(uebpf_fib_add_route(&bh), -EINVAL);
	struct uebpf_fib_neigh nb = { .sz = sizeof(nb), .family = AF_INET, .ifindex = 2 };
	inet_pton(AF_INET, "10.0.0.254", nb.addr);
	memcpy(nb.mac, mac_gw, 6);
	UT_CHECK_EQ(uebpf_fib_add_neigh(&nb), 0);
}

UT_TEST(fib_model_lookups)
{
	struct bpf_fib_lookup fl, out;
	uint32_t ret;

	model();
	/* Via the gateway: the /16 of metric 10; dst becomes the gateway, MACs filled. */
	fl = q4(2, "10.9.3.4", 0);
	u_fib(&fl, 0, &ret, &out);
	UT_CHECK_EQ(ret, BPF_FIB_LKUP_RET_SUCCESS);
	uint32_t gw;
	inet_pton(AF_INET, "10.0.0.254", &gw);
	UT_CHECK(out.ifindex == 2 && out.ipv4_dst == gw && out.rt_metric == 10 &&
		 out.mtu_result == 1500 && !memcmp(out.dmac, mac_gw, 6) && !memcmp(out.smac, mac_a, 6),
		 "forwarded via 10.0.0.254");
	/* Connected, but no neighbour for the host itself. */
	fl = q4(2, "10.0.0.77", 0);
	u_fib(&fl, 0, &ret, &out);
	UT_CHECK_EQ(ret, BPF_FIB_LKUP_RET_NO_NEIGH);
	u_fib(&fl, BPF_FIB_LOOKUP_SKIP_NEIGH | BPF_FIB_LOOKUP_SRC, &ret, &out);
	uint32_t src;
	inet_pton(AF_INET, "10.0.0.1", &src);
	UT_CHECK(ret == 0 && out.ipv4_src == src, "skip neigh, source from the device");
	/* Too big for the MTU: the MTU comes back. */
	fl = q4(2, "10.9.3.4", 1501);
	u_fib(&fl, 0, &ret, &out);
	UT_CHECK(ret == BPF_FIB_LKUP_RET_FRAG_NEEDED && out.mtu_result == 1500, "frag needed");
	/* Blackhole, no route, no forwarding on the way in, no such device. */
	fl = q4(2, "10.66.1.1", 0);
	u_fib(&fl, 0, &ret, &out);
	UT_CHECK_EQ(ret, BPF_FIB_LKUP_RET_BLACKHOLE);
	fl = q4(2, "8.8.8.8", 0);
	u_fib(&fl, 0, &ret, &out);
	UT_CHECK_EQ(ret, BPF_FIB_LKUP_RET_NOT_FWDED);
	fl = q4(3, "10.9.3.4", 0);
	u_fib(&fl, 0, &ret, &out);
	UT_CHECK_EQ(ret, BPF_FIB_LKUP_RET_FWD_DISABLED);
	fl = q4(4, "10.9.3.4", 0);
	u_fib(&fl, 0, &ret, &out);
	UT_CHECK_EQ(ret, ERR(ENODEV));
	/* A table nobody filled. */
	fl = q4(2, "10.9.3.4", 0);
	fl.tbid = 100;
	u_fib(&fl, BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID, &ret, &out);
	UT_CHECK_EQ(ret, BPF_FIB_LKUP_RET_NOT_FWDED);
	uebpf_fib_clear();
}

/* ---- the same network in a namespace of the live kernel ---- */

static const char *const setup =
	"ip link set lo up && ip link add v0 type veth peer name v1 && "
	"ip link set v0 address 02:00:00:00:00:01 && ip link set v0 up && ip link set v1 up && "
	"ip addr add 10.0.0.1/24 dev v0 && "
	"ip route add 10.9.0.0/16 via 10.0.0.254 dev v0 metric 10 && "
	"ip route add 10.9.1.0/24 dev v0 metric 5 && "
	"ip route add 10.70.0.0/16 via 10.0.0.254 dev v0 mtu lock 1280 && "
	"ip route add 10.71.0.0/16 via 10.0.0.254 dev v0 mtu 1280 && "
	"ip route add blackhole 10.66.0.0/16 && ip route add unreachable 10.67.0.0/16 && "
	"ip route add prohibit 10.68.0.0/16 && "
	"ip neigh add 10.0.0.254 lladdr 02:00:00:00:00:fe dev v0 nud permanent && "
	"ip neigh add 10.9.1.5 lladdr 02:00:00:00:00:05 dev v0 nud permanent && "
	"echo 1 > /proc/sys/net/ipv4/conf/all/forwarding && "
	"echo 0 > /proc/sys/net/ipv4/conf/lo/forwarding";

static void add_route(const char *dst, uint8_t plen, uint8_t type, uint32_t table, uint32_t dev,
		      const char *gw, uint32_t metric, uint32_t mtu, const char *src)
{
	struct uebpf_fib_route r = { .sz = sizeof(r), .family = AF_INET, .prefix_len = plen,
				     .type = type, .table = table, .ifindex = dev, .metric = metric,
				     .mtu = mtu };
	inet_pton(AF_INET, dst, r.dst);
	if (gw)
		r.gw_family = AF_INET, inet_pton(AF_INET, gw, r.gw);
	if (src)
		inet_pton(AF_INET, src, r.prefsrc);
	UT_CHECK(uebpf_fib_add_route(&r) == 0, "route %s/%u", dst, plen);
}

/* What `ip` made, declared to uebpf (with the routes the kernel adds by itself). */
static void mirror(uint32_t lo, uint32_t v0, uint32_t v1)
{
	uebpf_fib_clear();
	struct uebpf_fib_dev d[3] = {
		{ .sz = sizeof(d[0]), .ifindex = lo, .mtu = 65536, .forwarding = 0 },
		{ .sz = sizeof(d[0]), .ifindex = v0, .mtu = 1500, .forwarding = 1, .addr4 = { 10, 0, 0, 1 } },
		{ .sz = sizeof(d[0]), .ifindex = v1, .mtu = 1500, .forwarding = 1 },
	};
	memcpy(d[1].mac, mac_a, 6);
	for (int i = 0; i < 3; i++)
		UT_CHECK_EQ(uebpf_fib_add_dev(&d[i]), 0);
	add_route("10.0.0.0", 24, RTN_UNICAST, 0, v0, NULL, 0, 0, "10.0.0.1");
	add_route("10.0.0.1", 32, RTN_LOCAL, RT_TABLE_LOCAL, v0, NULL, 0, 0, "10.0.0.1");
	add_route("10.0.0.255", 32, RTN_BROADCAST, RT_TABLE_LOCAL, v0, NULL, 0, 0, "10.0.0.1");
	add_route("127.0.0.0", 8, RTN_LOCAL, RT_TABLE_LOCAL, lo, NULL, 0, 0, "127.0.0.1");
	add_route("127.0.0.1", 32, RTN_LOCAL, RT_TABLE_LOCAL, lo, NULL, 0, 0, "127.0.0.1");
	add_route("127.255.255.255", 32, RTN_BROADCAST, RT_TABLE_LOCAL, lo, NULL, 0, 0, "127.0.0.1");
	add_route("10.9.0.0", 16, RTN_UNICAST, 0, v0, "10.0.0.254", 10, 0, NULL);
	add_route("10.9.1.0", 24, RTN_UNICAST, 0, v0, NULL, 5, 0, NULL);
	add_route("10.70.0.0", 16, RTN_UNICAST, 0, v0, "10.0.0.254", 0, 1280, NULL);
	/* An unlocked route MTU does not bind forwarding: uebpf's model has none. */
	add_route("10.71.0.0", 16, RTN_UNICAST, 0, v0, "10.0.0.254", 0, 0, NULL);
	add_route("10.66.0.0", 16, RTN_BLACKHOLE, 0, 0, NULL, 0, 0, NULL);
	add_route("10.67.0.0", 16, RTN_UNREACHABLE, 0, 0, NULL, 0, 0, NULL);
	add_route("10.68.0.0", 16, RTN_PROHIBIT, 0, 0, NULL, 0, 0, NULL);
	static const char *const nb[][2] = { { "10.0.0.254", "\2\0\0\0\0\xfe" }, { "10.9.1.5", "\2\0\0\0\0\5" } };
	for (int i = 0; i < 2; i++) {
		struct uebpf_fib_neigh n = { .sz = sizeof(n), .family = AF_INET, .ifindex = v0 };
		inet_pton(AF_INET, nb[i][0], n.addr);
		memcpy(n.mac, nb[i][1], 6);
		UT_CHECK_EQ(uebpf_fib_add_neigh(&n), 0);
	}
}

/* Every query in XDP and tc; returns the number of divergences. */
static int queries(uint32_t lo, uint32_t v0, uint32_t v1)
{
	static const struct { const char *dst; uint16_t tot_len; int in; int32_t flags; uint32_t tbid; } q[] = {
		{ "10.9.1.5", 0, 1, 0, 0 }, { "10.9.2.7", 0, 1, 0, 0 },
		{ "10.9.2.7", 0, 1, BPF_FIB_LOOKUP_SKIP_NEIGH, 0 }, { "10.0.0.77", 0, 1, 0, 0 },
		{ "10.0.0.1", 0, 1, 0, 0 }, { "10.0.0.255", 0, 1, 0, 0 }, { "10.66.1.1", 0, 1, 0, 0 },
		{ "10.67.1.1", 0, 1, 0, 0 }, { "10.68.1.1", 0, 1, 0, 0 }, { "8.8.8.8", 0, 1, 0, 0 },
		{ "10.70.0.1", 1300, 1, 0, 0 }, { "10.70.0.1", 1200, 1, 0, 0 },
		{ "10.71.0.1", 1300, 1, 0, 0 }, { "127.0.0.1", 0, 1, 0, 0 },
		{ "10.9.1.5", 1501, 1, 0, 0 }, { "10.9.1.5", 1500, 1, 0, 0 },
		{ "10.9.1.5", 0, 1, BPF_FIB_LOOKUP_SRC, 0 }, { "10.9.2.7", 0, 1, BPF_FIB_LOOKUP_SRC, 0 },
		{ "10.9.1.5", 0, 1, BPF_FIB_LOOKUP_DIRECT, 0 }, { "10.0.0.1", 0, 1, BPF_FIB_LOOKUP_DIRECT, 0 },
		{ "10.9.1.5", 0, 1, BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID, 100 },
		{ "10.9.1.5", 0, 1, BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID, RT_TABLE_MAIN },
		{ "10.9.1.5", 0, 0, BPF_FIB_LOOKUP_OUTPUT, 0 }, { "10.9.1.5", 0, 2, 0, 0 },
		{ "10.9.1.5", 0, 2, BPF_FIB_LOOKUP_OUTPUT, 0 }, { "10.9.1.5", 0, 1, 1 << 5, 0 },
	};
	uint32_t devs[3] = { v0, v1, lo };
	int before = k_diverged;
	for (size_t i = 0; i < N(q); i++) {
		struct bpf_fib_lookup fl = q4(devs[q[i].in], q[i].dst, q[i].tot_len);
		fl.tbid = q[i].tbid;
		struct bpf_insn p[64];
		size_t n = fib_prog(p, &fl, q[i].flags);
		char name[96];
		snprintf(name, sizeof(name), "fib %s in %u tot_len %u flags %#x", q[i].dst,
			 devs[q[i].in], q[i].tot_len, (unsigned)q[i].flags);
		kdiff(name, BPF_PROG_TYPE_XDP, p, n, pkt, sizeof(pkt));
		tc_offsets(p, n);
		kdiff(name, BPF_PROG_TYPE_SCHED_CLS, p, n, pkt, sizeof(pkt));
	}
	return k_diverged - before;
}

/* The child: a namespace of its own, the network, the model, the queries. */
static int child(void)
{
	if (unshare(CLONE_NEWNET))
		return 100;
	if (system(setup) != 0)
		return 101;
	uint32_t lo = if_nametoindex("lo"), v0 = if_nametoindex("v0"), v1 = if_nametoindex("v1");
	mirror(lo, v0, v1);
	return queries(lo, v0, v1) ? 1 : 0;
}

UT_TEST(kdiff_fib_lookup_namespace)
{
	K_REQUIRE();
	if (system("ip -V >/dev/null 2>&1") != 0) {
		ut_skip("no `ip` command (iproute2)");
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(child());
	int status = 0;
	waitpid(pid, &status, 0);
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 200;
	if (rc >= 100) {
		ut_skip("cannot build a test network namespace (%d)", rc);
		return;
	}
	UT_CHECK(rc == 0, "the child saw divergences (above)");
}
