/*
 * ub_test_run: BPF_PROG_TEST_RUN, building each program type's input the kernel's way.
 *
 * Packet contexts (struct xdp_md, struct __sk_buff) hold packet addresses in __u32
 * fields. The kernel rewrites those loads into pointer loads at verification; until
 * uebpf's verifier does the same, packet buffers live in the low 2 GiB of the address
 * space (MAP_32BIT), so the 32-bit fields hold the real addresses and the same bytecode
 * works unchanged.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "api/bpf_cmd.h"
#include "api/prog_obj.h"
#include "maps/map.h"
#include "vm/vm.h"

#define U64_PTR(x) ((void *)(uintptr_t)(x))
#define PKT_BUF		4096u
#define XDP_HEADROOM	256u	/* XDP_PACKET_HEADROOM */
#define SKB_HEADROOM	66u	/* NET_SKB_PAD + NET_IP_ALIGN */
#define SHINFO		320u	/* room the kernel keeps for struct skb_shared_info */

struct tr {
	struct ub_prog_obj *p;
	union bpf_attr *attr;
	uint8_t *buf;		/* packet buffer (low memory) */
	uint8_t *start;		/* first byte reported in data_out */
	uint32_t out_size;
	uint64_t retval;
	uint64_t duration;
};

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

static int run_xdp(struct tr *t)
{
	union bpf_attr *attr = t->attr;
	struct xdp_md md = { 0 };
	uint32_t size = attr->test.data_size_in, meta = 0;
	int err;

	if (attr->test.flags & ~(uint32_t)BPF_F_TEST_XDP_LIVE_FRAMES)
		return -EINVAL;
	if (attr->test.flags || attr->test.batch_size)
		return -EOPNOTSUPP;	/* live frames need a device */
	if ((err = ctx_in(attr, &md, sizeof(md))))
		return err;
	if (attr->test.ctx_size_in) {
		/* data is the metadata length; data_end the input size; nothing before meta. */
		if (md.data_meta || md.data_end != size || md.data > md.data_end ||
		    md.data > 32 || md.data % 4 || md.egress_ifindex)
			return -EINVAL;
		if (md.ingress_ifindex || md.rx_queue_index)
			return -ENODEV;	/* no devices in user space */
		meta = md.data;
	}
	if ((err = data_in(attr, PKT_BUF - XDP_HEADROOM - SHINFO + meta, t->buf + XDP_HEADROOM - meta)))
		return err;
	uint8_t *data_meta = t->buf + XDP_HEADROOM - meta;
	md.data_meta = (uint32_t)(uintptr_t)data_meta;
	md.data = (uint32_t)(uintptr_t)(data_meta + meta);
	md.data_end = (uint32_t)(uintptr_t)(data_meta + size);
	md.ingress_ifindex = 0;
	err = run_loop(t, &md, sizeof(md), t->buf, PKT_BUF);
	if (err)
		return err;
	t->start = (uint8_t *)(uintptr_t)md.data_meta;
	t->out_size = md.data_end - md.data_meta;
	struct xdp_md out = { .data = md.data - md.data_meta, .data_end = md.data_end - md.data_meta,
			      .ingress_ifindex = md.ingress_ifindex,
			      .rx_queue_index = md.rx_queue_index };
	err = ctx_out(attr, &out, sizeof(out));
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
	return !memcmp(&z, &zero, sizeof(z));
}

static int run_skb(struct tr *t, int l2)
{
	union bpf_attr *attr = t->attr;
	struct __sk_buff skb = { 0 };
	uint32_t size = attr->test.data_size_in;
	int err;

	if (attr->test.flags || attr->test.cpu)
		return -EINVAL;
	if ((err = ctx_in(attr, &skb, sizeof(skb))))
		return err;
	if (!skb_ctx_ok(&skb))
		return -EINVAL;
	uint8_t *mac = t->buf + SKB_HEADROOM;
	if ((err = data_in(attr, PKT_BUF - SKB_HEADROOM - SHINFO, mac)))
		return err;
	/* As eth_type_trans(): the protocol, and the Ethernet header pulled unless L2. */
	uint8_t *data = l2 ? mac : mac + ETH_HLEN;
	skb.len = (uint32_t)(mac + size - data);
	skb.protocol = (uint32_t)(mac[12] | mac[13] << 8);
	skb.pkt_type = (mac[0] & 1) ? (!memcmp(mac, "\xff\xff\xff\xff\xff\xff", 6) ? 1 : 2) : 0;
	skb.ifindex = skb.ifindex ? skb.ifindex : 1;	/* test runs use the loopback device */
	if (!skb.wire_len)
		skb.wire_len = size;
	skb.data = (uint32_t)(uintptr_t)data;
	skb.data_end = (uint32_t)(uintptr_t)(mac + size);
	skb.data_meta = skb.data;
	err = run_loop(t, &skb, sizeof(skb), data, skb.len);
	if (err)
		return err;
	/* Output always starts at the Ethernet header. */
	t->start = mac;
	t->out_size = (uint32_t)(skb.data_end - (uint32_t)(uintptr_t)mac);
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
	size_t size = max ? max : n;

	if (attr->test.data_size_in || attr->test.data_out || attr->test.flags)
		return -EINVAL;
	if (max && n > max)
		return -EINVAL;
	uint8_t *ctx = calloc(1, size ? size : 1);
	if (!ctx)
		return -ENOMEM;
	int err = ctx_in(attr, ctx, size);
	if (!err)
		err = run_loop(t, size ? ctx : NULL, size, NULL, 0);
	if (!err)
		err = ctx_out(attr, ctx, size);
	free(ctx);
	t->out_size = 0;
	if (!err || err == -ENOSPC) {
		int ferr = finish(t);
		err = err ? err : ferr;
	}
	return err;
}

int ub_prog_test_run(struct ub_prog_obj *p, union bpf_attr *attr)
{
	struct tr t = { .p = p, .attr = attr };
	int err;

	if (p->ptype->run == UB_RUN_CTX)
		return run_ctx(&t);
	t.buf = low_alloc(PKT_BUF);
	if (!t.buf)
		return -ENOMEM;
	err = p->ptype->run == UB_RUN_XDP ? run_xdp(&t) : run_skb(&t, p->ptype->run == UB_RUN_SKB_L2);
	munmap(t.buf, PKT_BUF);
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
