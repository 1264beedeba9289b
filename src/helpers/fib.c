/*
 * bpf_fib_lookup() over uebpf's model network: devices, routes and neighbours that user
 * space declares (uebpf_fib_add_dev/route/neigh), looked up with the kernel's rules
 * (net/core/filter.c bpf_ipv4_fib_lookup / bpf_ipv6_fib_lookup over fib_lookup()):
 *
 *  - the arriving device (params->ifindex) must exist (-ENODEV) and forward (else
 *    BPF_FIB_LKUP_RET_FWD_DISABLED);
 *  - without BPF_FIB_LOOKUP_DIRECT the default policy rules: IPv4 the main table merged
 *    with the local one (as the kernel merges them while there are no custom rules),
 *    then the default table; IPv6 the local table, then the main one. With it the main
 *    table, or params->tbid with BPF_FIB_LOOKUP_TBID (an unknown table: NOT_FWDED);
 *  - in a table the longest matching prefix wins, then the lowest metric; with
 *    BPF_FIB_LOOKUP_OUTPUT only unicast routes out of params->ifindex match;
 *  - blackhole, unreachable and prohibit routes give their codes, other non-unicast
 *    routes (local, broadcast ...) and no route at all give NOT_FWDED;
 *  - then the MTU check, the gateway, the source (BPF_FIB_LOOKUP_SRC) and the neighbour.
 * There are no policy rules beyond the default ones, so BPF_FIB_LOOKUP_MARK changes
 * nothing; routes have one next hop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "helpers/helpers.h"
#include "progs/pkt.h"
#include "vm/vm.h"

#define NEG(e) ((uint64_t)(int64_t)(e))
#define LOOKUP_FLAGS (BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_OUTPUT | BPF_FIB_LOOKUP_SKIP_NEIGH | \
		      BPF_FIB_LOOKUP_TBID | BPF_FIB_LOOKUP_SRC | UB_FIB_LOOKUP_MARK)
#define DEFAULT_MTU 1500u
#define VLAN_HLEN 4u

struct fib {
	pthread_rwlock_t lock;
	struct uebpf_fib_dev *devs;
	size_t ndevs;
	struct uebpf_fib_route *routes;
	size_t nroutes;
	struct uebpf_fib_neigh *neighs;
	size_t nneighs;
};

static struct fib fib = { .lock = PTHREAD_RWLOCK_INITIALIZER };

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* Grows an array by one element; NULL when out of memory. */
static void *grow(void **arr, size_t *n, size_t elem)
{
	void *a = realloc(*arr, (*n + 1) * elem);
	if (!a)
		return NULL;
	*arr = a;
	return (char *)a + (*n)++ * elem;
}

/* Copies a caller's options struct of size sz into a zeroed one of ours. */
static int take(void *dst, size_t size, const void *src, size_t sz)
{
	if (!src || sz < sizeof(size_t))
		return -EINVAL;
	memset(dst, 0, size);
	memcpy(dst, src, sz < size ? sz : size);
	return 0;
}

static const struct uebpf_fib_dev *dev_find(uint32_t ifindex)
{
	for (size_t i = 0; i < fib.ndevs; i++)
		if (fib.devs[i].ifindex == ifindex)
			return &fib.devs[i];
	return NULL;
}

int uebpf_fib_add_dev(const struct uebpf_fib_dev *d)
{
	struct uebpf_fib_dev v;
	int err = take(&v, sizeof(v), d, d ? d->sz : 0);

	if (err || !v.ifindex)
		return -EINVAL;
	if (!v.mtu)
		v.mtu = DEFAULT_MTU;
	pthread_rwlock_wrlock(&fib.lock);
	struct uebpf_fib_dev *slot = (struct uebpf_fib_dev *)dev_find(v.ifindex);
	if (!slot)
		slot = grow((void **)&fib.devs, &fib.ndevs, sizeof(*slot));
	if (slot)
		*slot = v;
	pthread_rwlock_unlock(&fib.lock);
	return slot ? 0 : -ENOMEM;
}

/* Are the first `bits` bits of a and b equal? */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes))
		return 0;
	return !rest || !((a[bytes] ^ b[bytes]) & (0xff00u >> rest));
}

/* As `ip route add`: a known family, a prefix without host bits, a unicast route's
 * device declared, no second route of the same table, prefix and metric. */
static int route_ok(const struct uebpf_fib_route *r)
{
	static const uint8_t zero[16];
	size_t alen = addr_len(r->family);

	if (!alen || r->prefix_len > alen * 8 || r->type > RTN_XRESOLVE ||
	    (r->gw_family && !addr_len(r->gw_family)) ||
	    (r->family == AF_INET6 && r->gw_family == AF_INET))
		return -EINVAL;	/* IPv4 may route via IPv6 (RFC 5549), not the reverse */
	uint8_t masked[16] = { 0 };
	memcpy(masked, r->dst, r->prefix_len / 8 + (r->prefix_len % 8 != 0));
	if (r->prefix_len % 8)
		masked[r->prefix_len / 8] &= (uint8_t)(0xff00u >> (r->prefix_len % 8));
	if (memcmp(masked, r->dst, alen) || memcmp(r->dst + alen, zero, 16 - alen))
		return -EINVAL;
	if (r->type == RTN_UNICAST && !dev_find(r->ifindex))
		return -ENODEV;
	for (size_t i = 0; i < fib.nroutes; i++) {
		const struct uebpf_fib_route *o = &fib.routes[i];
		if (o->family == r->family && o->table == r->table &&
		    o->prefix_len == r->prefix_len && o->metric == r->metric &&
		    !memcmp(o->dst, r->dst, alen))
			return -EEXIST;
	}
	return 0;
}

int uebpf_fib_add_route(const struct uebpf_fib_route *route)
{
	struct uebpf_fib_route r;
	int err = take(&r, sizeof(r), route, route ? route->sz : 0);

	if (err)
		return err;
	r.type = r.type ? r.type : RTN_UNICAST;
	r.table = r.table ? r.table : RT_TABLE_MAIN;
	pthread_rwlock_wrlock(&fib.lock);
	if (!(err = route_ok(&r))) {
		struct uebpf_fib_route *slot = grow((void **)&fib.routes, &fib.nroutes, sizeof(r));
		if (slot)
			*slot = r;
		else
			err = -ENOMEM;
	}
	pthread_rwlock_unlock(&fib.lock);
	return err;
}

static const struct uebpf_fib_neigh *neigh_find(uint32_t ifindex, int family, const void *a)
{
	for (size_t i = 0; i < fib.nneighs; i++) {
		const struct uebpf_fib_neigh *n = &fib.neighs[i];
		if (n->ifindex == ifindex && n->family == family &&
		    !memcmp(n->addr, a, addr_len(family)))
			return n;
	}
	return NULL;
}

int uebpf_fib_add_neigh(const struct uebpf_fib_neigh *neigh)
{
	struct uebpf_fib_neigh n;
	int err = take(&n, sizeof(n), neigh, neigh ? neigh->sz : 0);

	if (err || !addr_len(n.family))
		return -EINVAL;
	pthread_rwlock_wrlock(&fib.lock);
	struct uebpf_fib_neigh *slot = (struct uebpf_fib_neigh *)neigh_find(n.ifindex, n.family,
									     n.addr);
	if (!dev_find(n.ifindex))
		err = -ENODEV;
	else if (!slot && !(slot = grow((void **)&fib.neighs, &fib.nneighs, sizeof(n))))
		err = -ENOMEM;
	if (!err)
		*slot = n;
	pthread_rwlock_unlock(&fib.lock);
	return err;
}

void uebpf_fib_clear(void)
{
	pthread_rwlock_wrlock(&fib.lock);
	free(fib.devs), free(fib.routes), free(fib.neighs);
	fib.devs = NULL, fib.routes = NULL, fib.neighs = NULL;
	fib.ndevs = fib.nroutes = fib.nneighs = 0;
	pthread_rwlock_unlock(&fib.lock);
}

/* IPv4 without policy rules merges the local and main tables into one trie (the kernel's
 * fib_has_custom_rules == false): a lookup in either sees both. */
static int same_table(int family, uint32_t route_table, uint32_t table)
{
	if (family == AF_INET && (table == RT_TABLE_MAIN || table == RT_TABLE_LOCAL))
		return route_table == RT_TABLE_MAIN || route_table == RT_TABLE_LOCAL;
	return route_table == table;
}

/* fib_table_lookup(): longest prefix, then lowest metric; oif filters unicast routes. */
static const struct uebpf_fib_route *table_lookup(uint32_t table, int family,
						  const uint8_t *dst, uint32_t oif, int *exists)
{
	const struct uebpf_fib_route *best = NULL;

	for (size_t i = 0; i < fib.nroutes; i++) {
		const struct uebpf_fib_route *r = &fib.routes[i];
		if (r->family != family || !same_table(family, r->table, table))
			continue;
		*exists = 1;
		if (!prefix_eq(r->dst, dst, r->prefix_len) ||
		    (oif && r->type == RTN_UNICAST && r->ifindex != oif))
			continue;
		if (!best || r->prefix_len > best->prefix_len ||
		    (r->prefix_len == best->prefix_len && r->metric < best->metric))
			best = r;
	}
	return best;
}

/* The default rules: IPv4 looks up main (merged with local), then default (fib_lookup());
 * IPv6 local, then main (fib6_lookup()). */
static const struct uebpf_fib_route *route_lookup(struct bpf_fib_lookup *p, uint32_t flags,
						  const uint8_t *dst)
{
	static const uint32_t rules4[] = { RT_TABLE_MAIN, RT_TABLE_DEFAULT, 0 };
	static const uint32_t rules6[] = { RT_TABLE_LOCAL, RT_TABLE_MAIN, 0 };
	uint32_t oif = (flags & BPF_FIB_LOOKUP_OUTPUT) ? p->ifindex : 0;
	const struct uebpf_fib_route *r = NULL;
	int exists = 0;

	if (flags & BPF_FIB_LOOKUP_DIRECT) {
		uint32_t table = RT_TABLE_MAIN;
		if (flags & BPF_FIB_LOOKUP_TBID) {
			table = p->tbid;
			p->tbid = 0;	/* it shares bytes with the VLAN output */
		}
		r = table_lookup(table, p->family, dst, oif, &exists);
		return exists || table == RT_TABLE_MAIN ? r : NULL;
	}
	for (const uint32_t *t = p->family == AF_INET ? rules4 : rules6; !r && *t; t++)
		r = table_lookup(*t, p->family, dst, oif, &exists);
	return r;
}

static int route_verdict(const struct uebpf_fib_route *r)
{
	if (!r)
		return BPF_FIB_LKUP_RET_NOT_FWDED;
	switch (r->type) {
	case RTN_UNICAST:
		return BPF_FIB_LKUP_RET_SUCCESS;
	case RTN_BLACKHOLE:
		return BPF_FIB_LKUP_RET_BLACKHOLE;
	case RTN_UNREACHABLE:
		return BPF_FIB_LKUP_RET_UNREACHABLE;
	case RTN_PROHIBIT:
		return BPF_FIB_LKUP_RET_PROHIBIT;
	}
	return BPF_FIB_LKUP_RET_NOT_FWDED;
}

/* BPF_FIB_LOOKUP_SRC: the route's preferred source, else the device's address. IPv4
 * settles for 0 (inet_select_addr() found none); IPv6 reports it. */
static int set_src(struct bpf_fib_lookup *p, const struct uebpf_fib_route *r,
		   const struct uebpf_fib_dev *out)
{
	static const uint8_t zero[16];
	size_t alen = addr_len(p->family);
	const uint8_t *src = memcmp(r->prefsrc, zero, alen) ? r->prefsrc
			   : p->family == AF_INET ? out->addr4 : out->addr6;

	if (p->family == AF_INET6 && !memcmp(src, zero, alen))
		return BPF_FIB_LKUP_RET_NO_SRC_ADDR;
	memcpy(p->family == AF_INET ? (void *)&p->ipv4_src : (void *)p->ipv6_src, src, alen);
	return 0;
}

/* After a unicast route: MTU, next hop, source, neighbour. */
static int forward(struct bpf_fib_lookup *p, uint32_t flags, int check_mtu,
		   const struct uebpf_fib_route *r)
{
	const struct uebpf_fib_dev *out = dev_find(r->ifindex);
	uint32_t mtu = 0;
	int rc;

	if (!out)
		return BPF_FIB_LKUP_RET_NOT_FWDED;	/* its device went away */
	if (check_mtu) {
		/* A route's MTU binds forwarded IPv4 only when locked (ip_mtu_from_fib_result());
		 * uebpf's route mtu is that locked one, and IPv6's (ip6_mtu_from_fib6()). */
		mtu = r->mtu ? r->mtu : out->mtu;
		if (p->tot_len > mtu) {
			p->mtu_result = (uint16_t)mtu;
			return BPF_FIB_LKUP_RET_FRAG_NEEDED;
		}
	}
	p->rt_metric = r->metric;
	p->ifindex = r->ifindex;
	if ((flags & BPF_FIB_LOOKUP_SRC) && (rc = set_src(p, r, out)))
		return rc;
	if (r->gw_family == AF_INET) {
		memcpy(&p->ipv4_dst, r->gw, 4);
	} else if (r->gw_family == AF_INET6) {
		p->family = AF_INET6;	/* an IPv4 route may have an IPv6 next hop */
		memcpy(p->ipv6_dst, r->gw, 16);
	}
	if (!(flags & BPF_FIB_LOOKUP_SKIP_NEIGH)) {
		const void *nh = p->family == AF_INET ? (void *)&p->ipv4_dst : (void *)p->ipv6_dst;
		const struct uebpf_fib_neigh *n = neigh_find(out->ifindex, p->family, nh);
		if (!n)
			return BPF_FIB_LKUP_RET_NO_NEIGH;
		memcpy(p->dmac, n->mac, 6);
		memcpy(p->smac, out->mac, 6);
	}
	p->h_vlan_TCI = p->h_vlan_proto = 0;
	if (mtu)
		p->mtu_result = (uint16_t)mtu;
	return BPF_FIB_LKUP_RET_SUCCESS;
}

static int lookup(struct bpf_fib_lookup *p, uint32_t flags, int check_mtu)
{
	const struct uebpf_fib_dev *in = dev_find(p->ifindex);

	if (!in)
		return -ENODEV;
	if (!in->forwarding)
		return BPF_FIB_LKUP_RET_FWD_DISABLED;
	const uint8_t *dst = p->family == AF_INET ? (const uint8_t *)&p->ipv4_dst
						  : (const uint8_t *)p->ipv6_dst;
	const struct uebpf_fib_route *r = route_lookup(p, flags, dst);
	int rc = route_verdict(r);
	return rc ? rc : forward(p, flags, check_mtu, r);
}

/* tc without tot_len: the packet itself must fit the output device (is_skb_forwardable). */
static int skb_mtu(struct bpf_fib_lookup *p, const struct ub_pkt *pk)
{
	const struct uebpf_fib_dev *out = dev_find(p->ifindex);
	uint32_t mtu = out ? out->mtu : DEFAULT_MTU;

	p->mtu_result = (uint16_t)mtu;
	return (uint64_t)(pk->end - pk->data) > (uint64_t)mtu + UB_ETH_HLEN + VLAN_HLEN
		       ? BPF_FIB_LKUP_RET_FRAG_NEEDED : 0;
}

uint64_t ub_h_fib_lookup(uint64_t ctx, uint64_t params, uint64_t plen, uint64_t flags,
			 uint64_t r5)
{
	struct bpf_fib_lookup *p = (struct bpf_fib_lookup *)(uintptr_t)params;
	struct ub_pkt *pk = ub_pkt_cur(ctx, 0);
	int skb = pk && pk->kind == UB_PKT_SKB, rc;

	/* plen is an int compared with a size_t, as the kernel's. */
	if ((uint64_t)(int64_t)(int32_t)plen < sizeof(*p))
		return NEG(-EINVAL);
	if ((uint32_t)flags & ~(uint32_t)LOOKUP_FLAGS)
		return NEG(-EINVAL);
	if (p->family != AF_INET && p->family != AF_INET6)
		return NEG(-EAFNOSUPPORT);
	/* XDP always checks tot_len against the MTU; tc only when the program gave one. */
	int check_mtu = !skb || p->tot_len;
	pthread_rwlock_rdlock(&fib.lock);
	rc = lookup(p, (uint32_t)flags, check_mtu);
	if (skb && !rc && !check_mtu)
		rc = skb_mtu(p, pk);
	pthread_rwlock_unlock(&fib.lock);
	return NEG(rc);
}
