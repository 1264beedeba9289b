/*
 * XDP helpers (moving the frame's head, tail and metadata) and the redirect helpers of
 * XDP and tc, as net/core/filter.c. uebpf has no devices: a redirect only records its
 * target in the packet descriptor, where the test run reports it (uebpf_pkt_outcome),
 * and returns what the kernel's helper returns.
 */
#include <errno.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <string.h>
#include "helpers/helpers.h"
#include "maps/map.h"
#include "progs/pkt.h"
#include "vm/vm.h"

#define NEG(e) ((uint64_t)(int64_t)(e))
#define XDP(ctx) ub_pkt_cur((ctx), UB_PKT_XDP)
#define ADDR(p) ((intptr_t)(uintptr_t)(p))	/* compare positions that may be off the buffer */

/* Move data by `off`, the metadata with it; data stays past the frame header and at
 * least an Ethernet header before the end. */
uint64_t ub_h_xdp_adjust_head(uint64_t ctx, uint64_t off, uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ub_pkt *pk = XDP(ctx);
	intptr_t o = (int32_t)off;

	if (!pk)
		return NEG(-EINVAL);
	intptr_t metalen = pk->data - pk->meta, data = ADDR(pk->data) + o;
	if (data < ADDR(pk->lo) + metalen || data > ADDR(pk->end) - (intptr_t)UB_ETH_HLEN)
		return NEG(-EINVAL);
	if (metalen)
		memmove(pk->meta + o, pk->meta, (size_t)metalen);
	pk->meta += o;
	pk->data += o;
	ub_pkt_sync(pk);
	return 0;
}

/* Move the end by `off` within the frame (data_hard_end keeps room for shared info);
 * grown bytes read as zero. */
uint64_t ub_h_xdp_adjust_tail(uint64_t ctx, uint64_t off, uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ub_pkt *pk = XDP(ctx);
	intptr_t o = (int32_t)off;

	if (!pk)
		return NEG(-EINVAL);
	intptr_t end = ADDR(pk->end) + o;
	if (end > ADDR(pk->hi) || end < ADDR(pk->data) + (intptr_t)UB_ETH_HLEN)
		return NEG(-EINVAL);
	if (o > 0)
		memset(pk->end, 0, (size_t)o);
	pk->end += o;
	ub_pkt_sync(pk);
	return 0;
}

/* Move the metadata start: between the frame header and data, 4-byte multiples of at
 * most 255 bytes (what skb_shared_info's meta_len can hold). */
uint64_t ub_h_xdp_adjust_meta(uint64_t ctx, uint64_t off, uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ub_pkt *pk = XDP(ctx);
	intptr_t o = (int32_t)off;

	if (!pk)
		return NEG(-EINVAL);
	intptr_t meta = ADDR(pk->meta) + o, metalen = ADDR(pk->data) - meta;
	if (meta < ADDR(pk->lo) || meta > ADDR(pk->data))
		return NEG(-EINVAL);
	if (metalen % 4 || metalen > 255)
		return NEG(-EACCES);
	pk->meta += o;
	ub_pkt_sync(pk);
	return 0;
}

static void set_target(struct ub_pkt *pk, const struct uebpf_redirect *r)
{
	if (pk) {
		pk->target = *r;
		pk->target_set = 1;
	}
}

/* XDP: flags must be 0 (else XDP_ABORTED); tc: only BPF_F_INGRESS (else TC_ACT_SHOT).
 * The device is looked up only when the redirect happens, so any ifindex is taken. */
uint64_t ub_h_redirect(uint64_t ifindex, uint64_t flags, uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ub_pkt *pk = ub_pkt_cur(0, 0);
	struct uebpf_redirect r = { .ifindex = (uint32_t)ifindex };

	if (!pk || pk->kind == UB_PKT_XDP) {
		if (flags)
			return XDP_ABORTED;
		set_target(pk, &r);
		return XDP_REDIRECT;
	}
	if (flags & ~(uint64_t)BPF_F_INGRESS)
		return TC_ACT_SHOT;
	r.flags = flags;
	set_target(pk, &r);
	return TC_ACT_REDIRECT;
}

static int redirect_map_type(uint32_t type)
{
	return type == BPF_MAP_TYPE_DEVMAP || type == BPF_MAP_TYPE_DEVMAP_HASH ||
	       type == BPF_MAP_TYPE_CPUMAP || type == BPF_MAP_TYPE_XSKMAP;
}

static int is_devmap(uint32_t type)
{
	return type == BPF_MAP_TYPE_DEVMAP || type == BPF_MAP_TYPE_DEVMAP_HASH;
}

/*
 * __bpf_xdp_redirect_map(): the low flag bits are the action when the slot is empty;
 * devmaps also take BPF_F_BROADCAST (every slot is a target, even if this one is empty)
 * and BPF_F_EXCLUDE_INGRESS.
 */
uint64_t ub_h_redirect_map(uint64_t m, uint64_t key, uint64_t flags, uint64_t r4, uint64_t r5)
{
	struct ub_map *map = (struct ub_map *)(uintptr_t)m;
	struct ub_pkt *pk = ub_pkt_cur(0, UB_PKT_XDP);
	const uint64_t actions = XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX;
	uint64_t allowed = actions;
	uint32_t k = (uint32_t)key, ifindex = 0;

	if (!redirect_map_type(map->type))
		return XDP_ABORTED;	/* the verifier refuses other maps */
	if (is_devmap(map->type))
		allowed |= BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS;
	if (flags & ~allowed)
		return XDP_ABORTED;
	const void *v = map->ops->lookup(map, &k);
	if (!v && !(flags & BPF_F_BROADCAST)) {
		if (pk)
			pk->target_set = 0;	/* the last lookup decides */
		return flags & actions;
	}
	if (v && is_devmap(map->type))
		memcpy(&ifindex, v, sizeof(ifindex));	/* struct bpf_devmap_val.ifindex */
	struct uebpf_redirect r = { .ifindex = ifindex, .map_id = map->obj.id,
				    .map_type = map->type, .key = k,
				    .flags = (flags & BPF_F_BROADCAST) ? flags : 0 };
	set_target(pk, &r);
	return XDP_REDIRECT;
}

/* A copy of the packet leaves now; the device must exist (on the host). */
uint64_t ub_h_clone_redirect(uint64_t ctx, uint64_t ifindex, uint64_t flags, uint64_t r4,
			     uint64_t r5)
{
	struct ub_pkt *pk = ub_pkt_cur(ctx, UB_PKT_SKB);
	char name[IF_NAMESIZE];

	if (flags & ~(uint64_t)BPF_F_INGRESS)
		return NEG(-EINVAL);
	if (!pk || !if_indextoname((uint32_t)ifindex, name))
		return NEG(-EINVAL);
	if (pk->nr_clones < UEBPF_PKT_MAX_CLONES)
		pk->clones[pk->nr_clones] = (struct uebpf_redirect){ .ifindex = (uint32_t)ifindex,
								     .flags = flags };
	pk->nr_clones++;
	return 0;
}
