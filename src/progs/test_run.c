/*
 * ub_test_run: BPF_PROG_TEST_RUN, building each program type's input the kernel's way.
 *
 * Packet contexts (struct xdp_md, struct __sk_buff) hold packet addresses in __u32
 * fields. The kernel rewrites those loads into pointer loads at verification; until
 * uebpf's verifier does the same, packet buffers live in the low 2 GiB of the address
 * space (MAP_32BIT), so the 32-bit fields hold the real addresses and the same bytecode
 * works unchanged.
 *
 * Each packet run has a packet descriptor (progs/pkt.h) that helpers move: XDP gets the
 * kernel's 4 KiB frame (256 bytes of headroom, 320 bytes kept for skb_shared_info at the
 * end); an skb gets room enough on both sides for everything the kernel would reallocate
 * for (the kernel's skb_cow/pskb_expand_head), up to its 16064-byte limit.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "api/bpf_cmd.h"
#include "api/prog_obj.h"
#include "maps/map.h"
#include "progs/pkt.h"
#include "vm/vm.h"

#define U64_PTR(x) ((void *)(uintptr_t)(x))
#define PKT_BUF		4096u
#define XDP_HEADROOM	256u	/* XDP_PACKET_HEADROOM */
#define SKB_HEADROOM	66u	/* NET_SKB_PAD + NET_IP_ALIGN */
#define SHINFO		320u	/* room the kernel keeps for struct skb_shared_info */
#define SKB_BUF		(64u << 10)	/* skb buffer: the mac header starts in the middle */
#define LOOPBACK	1u	/* test runs use the loopback device */
#define GSO_LEGACY_MAX	65536u
#define GSO_MAX_SEGS	65535u

struct tr {
	struct ub_prog_obj *p;
	union bpf_attr *attr;
	uint8_t *buf;		/* packet buffer (low memory) */
	size_t buf_size;
	uint8_t *start;		/* first byte reported in data_out */
	uint32_t out_size;
	uint64_t retval;
	uint64_t duration;
	struct ub_pkt pk;	/* the packet helpers see (kind 0: none) */
};

/* uebpf_prog_test_run_pkt() asks the run below it for the outcome. */
static __thread struct uebpf_pkt_outcome *want_outcome;

static uint8_t *low_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Runs `repeat` times on the same context, as bpf_test_run(); duration is per run. */
static int run_loop(struct tr *t, void *ctx, size_t ctx_size, void *pkt, size_t pkt_size)
{
	struct ub_run *run = malloc(sizeof(*run));
	uint32_t repeat = t->attr->test.repeat ? t->attr->test.repeat : 1;
	uint64_t r0 = 0;
	char err[256];
	int rc = 0;

	if (!run)
		return -ENOMEM;
	ub_run_init(run, t->p->prog, ctx, ctx_size, pkt, pkt_size, err, sizeof(err));
	if (t->pk.kind)
		ub_pkt_attach(&t->pk, run);
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < repeat && !rc; i++) {
		run->budget = t->p->prog->budget;
		rc = ub_run_exec(run, (uintptr_t)ctx, ctx_size, &r0);
	}
	uint64_t dt = now_ns() - t0;
	if (rc)
		ub_set_error("%s", err);
	if (__atomic_load_n(&ub_stats_enabled, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&t->p->prog->run_cnt, repeat, __ATOMIC_RELAXED);
		__atomic_add_fetch(&t->p->prog->run_time_ns, dt, __ATOMIC_RELAXED);
	}
	t->retval = r0;
	t->duration = dt / repeat;
	free(run);
	return rc;
}

/* ctx_in: larger than the context is fine only if the extra bytes are zero. */
static int ctx_in(const union bpf_attr *attr, void *ctx, size_t max)
{
	const uint8_t *u = U64_PTR(attr->test.ctx_in);
	uint32_t n = attr->test.ctx_size_in;

	if (!n)
		return 0;
	if (!u)
		return -EFAULT;
	for (uint32_t i = (uint32_t)max; i < n; i++)
		if (u[i])
			return -E2BIG;
	memcpy(ctx, u, n < max ? n : max);
	return 0;
}

static int ctx_out(union bpf_attr *attr, const void *ctx, size_t size)
{
	uint8_t *u = U64_PTR(attr->test.ctx_out);
	int err = 0;

	if (!u || !attr->test.ctx_size_out)
		return 0;
	if (attr->test.ctx_size_out < size) {
		size = attr->test.ctx_size_out;
		err = -ENOSPC;
	}
	memcpy(u, ctx, size);
	attr->test.ctx_size_out = (uint32_t)size;
	return err;
}

/* Copies the packet out as bpf_test_finish(): a short buffer gets a prefix and ENOSPC. */
static int finish(struct tr *t)
{
	union bpf_attr *attr = t->attr;
	uint8_t *u = U64_PTR(attr->test.data_out);
	uint32_t n = t->out_size;
	int err = 0;

	if (u && attr->test.data_size_out && t->start) {
		uint32_t copy = n;
		if (attr->test.data_size_out < n) {
			copy = attr->test.data_size_out;
			err = -ENOSPC;
		}
		memcpy(u, t->start, copy);
	}
	attr->test.data_size_out = n;
	attr->test.retval = (uint32_t)t->retval;
	attr->test.duration = (uint32_t)(t->duration > UINT32_MAX ? UINT32_MAX : t->duration);
	return err;
}

static int data_in(const union bpf_attr *attr, uint32_t max, uint8_t *dst)
{
	uint32_t n = attr->test.data_size_in;

	if (n < ETH_HLEN || n > max)
		return -EINVAL;
	if (!attr->test.data_in)
		return -EFAULT;
	memcpy(dst, U64_PTR(attr->test.data_in), n);
	return 0;
}

/* The xdp_md a caller may pass: data is the metadata length, data_end the input size. */
static int xdp_ctx_ok(const struct xdp_md *md, uint32_t size)
{
	/* As the kernel: nothing before the metadata, metadata 4-byte aligned and leaving
	 * room for the xdp_frame in the headroom, at least an Ethernet header of packet. */
	if (md->data_meta || md->data_end != size || md->data > md->data_end ||
	    md->data % 4 || md->data > XDP_HEADROOM - UB_XDP_FRAME_SIZE ||
	    md->data_end - md->data < UB_ETH_HLEN || md->egress_ifindex)
		return -EINVAL;
	if (md->rx_queue_index && !md->ingress_ifindex)
		return -EINVAL;
	if (md->ingress_ifindex)
		return -ENODEV;	/* no devices (nor their rx queues) in user space */
	return 0;
}

/* xdp_buff over one 4 KiB frame: data at 256, data_hard_end 320 bytes before the end. */
static void xdp_pkt_init(struct tr *t, struct xdp_md *md, uint32_t meta, uint32_t size)
{
	struct ub_pkt *pk = &t->pk;

	pk->kind = UB_PKT_XDP;
	pk->ctx = md;
	pk->lo = t->buf + UB_XDP_FRAME_SIZE;
	pk->hi = t->buf + PKT_BUF - SHINFO;
	pk->meta = t->buf + XDP_HEADROOM - meta;
	pk->data = t->buf + XDP_HEADROOM;
	pk->end = pk->meta + size;
	pk->ifindex = LOOPBACK;
	/* The kernel runs XDP tests on the loopback device's rx queue 0. */
	md->ingress_ifindex = LOOPBACK;
	md->rx_queue_index = 0;
}

static int run_xdp(struct tr *t)
{
	union bpf_attr *attr = t->attr;
	struct xdp_md md = { 0 };
	uint32_t size = attr->test.data_size_in, meta = 0;
	int err;

	if ((attr->test.flags & ~(uint32_t)BPF_F_TEST_XDP_LIVE_FRAMES) ||
	    (!attr->test.flags && attr->test.batch_size))
		return -EINVAL;
	if (attr->test.flags)
		return -EOPNOTSUPP;	/* live frames need a device */
	if ((err = ctx_in(attr, &md, sizeof(md))))
		return err;
	if (attr->test.ctx_size_in && (err = xdp_ctx_ok(&md, size)))
		return err;
	meta = md.data;
	struct xdp_md user = md;
	if ((err = data_in(attr, PKT_BUF - XDP_HEADROOM - SHINFO + meta, t->buf + XDP_HEADROOM - meta)))
		return err;
	xdp_pkt_init(t, &md, meta, size);
	err = run_loop(t, &md, sizeof(md), t->pk.meta, size);
	if (err)
		return err;
	t->start = t->pk.meta;
	t->out_size = (uint32_t)(t->pk.end - t->pk.meta);
	/* As xdp_convert_buff_to_md(): only data and data_end change; they are offsets. */
	user.data = (uint32_t)(t->pk.data - t->pk.meta);
	user.data_end = (uint32_t)(t->pk.end - t->pk.meta);
	err = ctx_out(attr, &user, sizeof(user));
	int ferr = finish(t);
	return ferr ? ferr : err;
}

/* The __sk_buff fields a caller may set in ctx_in (the kernel's convert___skb_to_skb). */
static int skb_ctx_ok(const struct __sk_buff *s)
{
	struct __sk_buff z = *s;

	z.mark = z.priority = z.ingress_ifindex = z.ifindex = 0;
	memset(z.cb, 0, sizeof(z.cb));
	z.tstamp = 0;
	z.wire_len = z.gso_segs = z.gso_size = 0;
	z.hwtstamp = 0;
	static const struct __sk_buff zero;
	if (memcmp(&z, &zero, sizeof(z)) || s->gso_segs > GSO_MAX_SEGS)
		return -EINVAL;
	return 0;
}

/* The device's hardware and broadcast addresses, for eth_type_trans(). The loopback's are
 * both all zero (so to it ff:ff:ff:ff:ff:ff is multicast). */
static int dev_addrs(uint32_t ifindex, uint8_t mac[ETH_ALEN], uint8_t bcast[ETH_ALEN])
{
	struct ifreq ifr = { 0 };
	int fd, rc;

	memset(mac, 0, ETH_ALEN);
	memset(bcast, 0, ETH_ALEN);
	if (ifindex <= LOOPBACK)
		return 0;
	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rc = fd < 0 ? -1 : ioctl(fd, SIOCGIFHWADDR, &ifr);
	if (!rc)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	if (fd >= 0 && !ioctl(fd, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_LOOPBACK))
		memset(bcast, 0xff, ETH_ALEN);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* eth_type_trans(): the packet type against the device's address, and the protocol. */
static void eth_type_trans(struct ub_pkt *pk, struct __sk_buff *skb, const uint8_t dev[ETH_ALEN],
			   const uint8_t bcast[ETH_ALEN])
{
	const uint8_t *mac = pk->mac;
	uint16_t proto;

	skb->pkt_type = PACKET_HOST;
	if (memcmp(mac, dev, ETH_ALEN)) {
		if (!(mac[0] & 1))
			skb->pkt_type = PACKET_OTHERHOST;
		else if (!memcmp(mac, bcast, ETH_ALEN))
			skb->pkt_type = PACKET_BROADCAST;
		else
			skb->pkt_type = PACKET_MULTICAST;
	}
	memcpy(&proto, mac + 12, 2);
	if (ntohs(proto) < ETH_P_802_3_MIN) {
		/* Raw 802.3 frames: Novell's raw IPX starts with 0xffff, the rest is 802.2. */
		proto = !memcmp(mac + UB_ETH_HLEN, "\xff\xff", 2) ? htons(ETH_P_802_3)
								      : htons(ETH_P_802_2);
	}
	pk->protocol = proto;
}

/* Since Linux 6.x an IPv4 or IPv6 packet must hold its whole fixed header (the test
 * run's socket takes its addresses from it). */
static int net_hdr_ok(const struct ub_pkt *pk)
{
	size_t l3 = (size_t)(pk->end - pk->net);

	if ((pk->protocol == htons(ETH_P_IP) && l3 < 20) ||
	    (pk->protocol == htons(ETH_P_IPV6) && l3 < 40))
		return -EINVAL;
	return 0;
}

/* sk_buff with its mac header in the middle of the buffer; data at the network header
 * (socket filters) or at the mac header (tc, which the kernel pushes back). */
static void skb_pkt_init(struct tr *t, struct __sk_buff *skb, uint32_t size, int l2)
{
	struct ub_pkt *pk = &t->pk;

	pk->kind = UB_PKT_SKB;
	pk->l2 = (uint8_t)l2;
	pk->ctx = skb;
	pk->lo = t->buf;
	pk->hi = t->buf + t->buf_size;
	pk->mac = t->buf + t->buf_size / 2;
	pk->net = pk->mac + UB_ETH_HLEN;
	pk->data = pk->meta = l2 ? pk->mac : pk->net;
	pk->end = pk->mac + size;
	pk->ifindex = skb->ifindex;
}

/* With a ctx (in or out), wire_len (cb->pkt_len) is the caller's if plausible, else the
 * packet's length; with none the kernel leaves it 0. */
static int skb_wire_len(const union bpf_attr *attr, struct __sk_buff *skb, uint32_t len)
{
	if (!attr->test.ctx_in && !attr->test.ctx_out)
		return 0;
	if (!skb->wire_len)
		skb->wire_len = len;
	else if (skb->wire_len < len || skb->wire_len > GSO_LEGACY_MAX)
		return -EINVAL;
	return 0;
}

/* Output starts at the Ethernet header; a socket filter's comes back zeroed, as the
 * kernel pushes a fresh hh_len of zeroes in front of skb->data. */
static void skb_output(struct tr *t)
{
	struct ub_pkt *pk = &t->pk;

	t->start = pk->data;
	if (!pk->l2) {
		t->start = pk->data - UB_ETH_HLEN;
		memset(t->start, 0, UB_ETH_HLEN);
	}
	t->out_size = (uint32_t)(pk->end - t->start);
}

static int run_skb(struct tr *t, int l2)
{
	union bpf_attr *attr = t->attr;
	struct __sk_buff skb = { 0 };
	uint32_t size = attr->test.data_size_in;
	uint8_t dev[ETH_ALEN], bcast[ETH_ALEN];
	int err;

	if (attr->test.flags || attr->test.cpu || attr->test.batch_size)
		return -EINVAL;
	/* The kernel's order: data, ctx, the device, then the ctx fields. */
	if ((err = data_in(attr, PKT_BUF - SKB_HEADROOM - SHINFO, t->buf + t->buf_size / 2)))
		return err;
	if ((err = ctx_in(attr, &skb, sizeof(skb))))
		return err;
	int bad = skb_ctx_ok(&skb);
	if (skb.ifindex <= LOOPBACK)
		skb.ifindex = LOOPBACK;
	if ((err = dev_addrs(skb.ifindex, dev, bcast)) || (err = bad))
		return err;
	skb_pkt_init(t, &skb, size, l2);
	eth_type_trans(&t->pk, &skb, dev, bcast);
	if ((err = net_hdr_ok(&t->pk)) ||
	    (err = skb_wire_len(attr, &skb, (uint32_t)(t->pk.end - t->pk.data))))
		return err;
	err = run_loop(t, &skb, sizeof(skb), t->pk.data, (size_t)(t->pk.end - t->pk.data));
	if (err)
		return err;
	skb_output(t);
	/* As convert_skb_to___skb(): the fields a caller may set, as the run left them. */
	struct __sk_buff out = { .mark = skb.mark, .priority = skb.priority,
				 .ingress_ifindex = skb.ingress_ifindex, .ifindex = skb.ifindex,
				 .tstamp = skb.tstamp, .wire_len = skb.wire_len,
				 .gso_segs = skb.gso_segs, .gso_size = skb.gso_size,
				 .hwtstamp = skb.hwtstamp };
	memcpy(out.cb, skb.cb, sizeof(out.cb));
	err = ctx_out(attr, &out, sizeof(out));
	int ferr = finish(t);
	return ferr ? ferr : err;
}

/* Non-packet types run on ctx_in as given (uebpf also runs the kernel's untestable ones). */
static int run_ctx(struct tr *t)
{
	union bpf_attr *attr = t->attr;
	uint32_t max = t->p->ptype->ctx_size;
	uint32_t n = attr->test.ctx_size_in;
	size_t size = max ? max : n, out = size;

	if (attr->test.data_size_in || attr->test.data_out || attr->test.flags)
		return -EINVAL;
	if (max && n > max)
		return -EINVAL;
	/* A context of no fixed size holds at least the bytes the verifier saw the program
	 * use (prog->ctx_size), zero-filled past what the caller passed. */
	if (!max && t->p->prog->ctx_size > size)
		size = t->p->prog->ctx_size;
	uint8_t *ctx = calloc(1, size ? size : 1);
	if (!ctx)
		return -ENOMEM;
	int err = ctx_in(attr, ctx, size);
	if (!err)
		err = run_loop(t, size ? ctx : NULL, size, NULL, 0);
	if (!err)
		err = ctx_out(attr, ctx, out);
	free(ctx);
	t->out_size = 0;
	if (!err || err == -ENOSPC) {
		int ferr = finish(t);
		err = err ? err : ferr;
	}
	return err;
}

/* Where the packet went, from the descriptor the helpers filled. */
static void outcome(const struct tr *t, struct uebpf_pkt_outcome *o)
{
	const struct ub_pkt *pk = &t->pk;
	struct uebpf_pkt_outcome r = { .sz = o->sz, .action = (uint32_t)t->retval };
	uint32_t redirect = pk->kind == UB_PKT_XDP ? XDP_REDIRECT : TC_ACT_REDIRECT;
	size_t n = o->sz < sizeof(r) ? o->sz : sizeof(r);

	if (r.action == redirect && pk->target_set) {
		r.redirected = 1;
		r.target = pk->target;
	}
	if (pk->kind == UB_PKT_XDP && r.action == XDP_TX)
		r.tx_ifindex = pk->ifindex;
	r.nr_clones = pk->nr_clones;
	memcpy(r.clones, pk->clones, sizeof(r.clones));
	memcpy(o, &r, n);
}

int ub_prog_test_run(struct ub_prog_obj *p, union bpf_attr *attr)
{
	struct tr t = { .p = p, .attr = attr };
	uint8_t run_kind = p->ptype->run;
	int err;

	if (run_kind == UB_RUN_CTX)
		return run_ctx(&t);
	t.buf_size = run_kind == UB_RUN_XDP ? PKT_BUF : SKB_BUF;
	t.buf = low_alloc(t.buf_size);
	if (!t.buf)
		return -ENOMEM;
	err = run_kind == UB_RUN_XDP ? run_xdp(&t) : run_skb(&t, run_kind == UB_RUN_SKB_L2);
	if ((!err || err == -ENOSPC) && want_outcome && t.pk.kind)
		outcome(&t, want_outcome);
	munmap(t.buf, t.buf_size);
	return err;
}

int uebpf_prog_test_run_pkt(int prog_fd, struct bpf_test_run_opts *opts,
			    struct uebpf_pkt_outcome *out)
{
	if (out && out->sz < sizeof(size_t))
		return -(errno = EINVAL);
	if (out)
		memset((char *)out + sizeof(out->sz), 0,
		       (out->sz < sizeof(*out) ? out->sz : sizeof(*out)) - sizeof(out->sz));
	want_outcome = out;
	int err = bpf_prog_test_run_opts(prog_fd, opts);
	want_outcome = NULL;
	return err;
}

int ub_cmd_prog_test_run(union bpf_attr *attr, unsigned int size)
{
	if (ub_attr_tail_zero(attr, UB_ATTR_END(test.batch_size)))
		return -EINVAL;
	if ((attr->test.ctx_size_in && !attr->test.ctx_in) ||
	    (!attr->test.ctx_size_in && attr->test.ctx_in) ||
	    (attr->test.ctx_size_out && !attr->test.ctx_out) ||
	    (!attr->test.ctx_size_out && attr->test.ctx_out))
		return -EINVAL;
	struct ub_prog_obj *p = ub_prog_obj_get((int)attr->test.prog_fd);
	if (!p)
		return -errno;
	int err = ub_prog_test_run(p, attr);
	ub_prog_obj_put(p);
	return err;
}
