/*
 * ub_pkt: the packet descriptor shared by test runs and packet helpers.
 */
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "progs/pkt.h"
#include "vm/vm.h"

#define LOW32(p) ((uint32_t)(uintptr_t)(p))	/* packet buffers live below 4 GiB */

struct ub_pkt *ub_pkt_cur(uint64_t ctx, int kind)
{
	struct ub_run *r = ub_run_cur;
	struct ub_pkt *pk = r ? r->pkt_ctx : NULL;

	if (!pk || (kind && pk->kind != kind) || (ctx && (uintptr_t)pk->ctx != ctx))
		return NULL;
	return pk;
}

/* The packet window of one run: LD_ABS reads data..end, checked mode allows meta..end. */
static void sync_run(const struct ub_pkt *pk, struct ub_run *r)
{
	r->pkt = pk->data;
	r->pkt_size = (size_t)(pk->end - pk->data);
	if (pk->region >= 0 && (unsigned)pk->region < r->nregions)
		r->regions[pk->region] = (struct ub_region){
			.start = (uintptr_t)pk->meta, .size = (size_t)(pk->end - pk->meta),
			.writable = 1 };
}

static void sync_ctx(const struct ub_pkt *pk)
{
	if (pk->kind == UB_PKT_XDP) {
		struct xdp_md *md = pk->ctx;
		md->data_meta = LOW32(pk->meta);
		md->data = LOW32(pk->data);
		md->data_end = LOW32(pk->end);
		return;
	}
	struct __sk_buff *s = pk->ctx;
	s->len = (uint32_t)(pk->end - pk->data);
	s->data = LOW32(pk->data);
	s->data_end = LOW32(pk->end);
	s->data_meta = LOW32(pk->meta);
	s->protocol = pk->protocol;
	s->vlan_present = pk->vlan_present;
	s->vlan_tci = pk->vlan_present ? pk->vlan_tci : 0;
	s->vlan_proto = pk->vlan_present ? pk->vlan_proto : 0;
	s->hash = pk->hash;
}

const uint8_t *ub_pkt_ld_neg(const struct ub_run *run, int64_t off, uint32_t size)
{
	const struct ub_pkt *pk = run->pkt_ctx;
	const uint8_t *base = NULL;
	int64_t k = 0;

	if (!pk || pk->kind != UB_PKT_SKB)
		return NULL;
	if (off >= SKF_NET_OFF)
		base = pk->net, k = off - SKF_NET_OFF;
	else if (off >= SKF_LL_OFF)
		base = pk->mac, k = off - SKF_LL_OFF;
	/* integer arithmetic: k may point anywhere, and C forbids forming such pointers */
	uintptr_t p = (uintptr_t)base + (uintptr_t)k;
	if (!base || p < (uintptr_t)pk->lo || p + size > (uintptr_t)pk->end || p + size < p)
		return NULL;
	return (const uint8_t *)p;
}

void ub_pkt_sync(struct ub_pkt *pk)
{
	sync_ctx(pk);
	/* A helper may run inside a callback: its run and every run it nests in see the
	 * packet (their region tables are copies). */
	struct ub_run *r = ub_run_cur && ub_run_cur->pkt_ctx == pk ? ub_run_cur : pk->run;
	for (; r; r = r->outer)
		sync_run(pk, r);
}

void ub_pkt_attach(struct ub_pkt *pk, struct ub_run *run)
{
	pk->run = run;
	pk->region = -1;
	for (unsigned i = 0; i < run->nregions; i++)
		if (run->regions[i].start == (uintptr_t)run->pkt)
			pk->region = (int)i;
	run->pkt_ctx = pk;
	sync_ctx(pk);
	sync_run(pk, run);
}

int ub_pkt_push(struct ub_pkt *pk, uint32_t len)
{
	if ((size_t)(pk->data - pk->lo) < len)
		return -12;	/* -ENOMEM: pskb_expand_head() could not grow the head */
	pk->data -= len;
	pk->meta = pk->data;
	return 0;
}

void ub_pkt_pull(struct ub_pkt *pk, uint32_t len)
{
	pk->data += len;
	pk->meta = pk->data;
}

/* A key chosen once per process, as the kernel's hashrnd is once per boot. */
static uint64_t hash_key(void)
{
	static uint64_t key;
	uint64_t k = __atomic_load_n(&key, __ATOMIC_RELAXED);
	if (!k) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		k = ((uint64_t)ts.tv_nsec << 32 ^ (uint64_t)ts.tv_sec ^ (uintptr_t)&key) | 1;
		__atomic_store_n(&key, k, __ATOMIC_RELAXED);
	}
	return k;
}

static uint64_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

/* The flow's addresses, protocol and ports (the flow dissector's keys), hashed. */
static uint32_t flow_hash(const uint8_t *p, const uint8_t *end, uint16_t proto)
{
	uint64_t h = mix(hash_key(), proto);
	uint8_t l4 = 0;

	if (proto == htons(ETH_P_IP) && end - p >= 20) {
		h = mix(mix(h, ld32(p + 12)), ld32(p + 16));
		l4 = p[9];
		p += (p[0] & 15) * 4;
	} else if (proto == htons(ETH_P_IPV6) && end - p >= 40) {
		for (int i = 8; i < 40; i += 4)
			h = mix(h, ld32(p + i));
		l4 = p[6];
		p += 40;
	}
	h = mix(h, l4);
	if ((l4 == IPPROTO_TCP || l4 == IPPROTO_UDP || l4 == IPPROTO_SCTP) && end - p >= 4)
		h = mix(h, ld32(p));
	return (uint32_t)h ? (uint32_t)h : 1;	/* 0 means "no hash" */
}

/* As skb_get_hash(): computed once (the kernel marks it a software hash), then kept
 * until cleared; a hash set by bpf_set_hash() is kept the same way. */
uint32_t ub_pkt_hash(struct ub_pkt *pk)
{
	if (!pk->sw_hash) {
		const uint8_t *p = pk->net ? pk->net : pk->data;
		pk->hash = flow_hash(p, pk->end, pk->protocol);
		pk->sw_hash = 1;
		ub_pkt_sync(pk);
	}
	return pk->hash;
}

void ub_pkt_clear_hash(struct ub_pkt *pk)
{
	pk->hash = 0;
	pk->sw_hash = 0;
}

uint64_t ub_pkt_cookie(struct ub_pkt *pk)
{
	static uint64_t next;
	if (!pk->cookie)
		pk->cookie = __atomic_add_fetch(&next, 1, __ATOMIC_RELAXED);
	return pk->cookie;
}
