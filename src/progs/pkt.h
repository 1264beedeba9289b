/*
 * ub_pkt: the packet of a packet program (the kernel's xdp_buff or sk_buff, reduced to
 * what the helpers and BPF_PROG_TEST_RUN need). A test run builds one and hangs it on its
 * struct ub_run (pkt_ctx); packet helpers find it there, move its pointers, and call
 * ub_pkt_sync() so that what the program reads follows the packet: the context fields
 * (data, data_end, data_meta, len ... as the kernel's bpf_compute_data_pointers() and
 * context rewrites), the LD_ABS window and the checked-mode packet region.
 */
#ifndef UB_PKT_H
#define UB_PKT_H
#include <stdint.h>
#include <uebpf/uebpf.h>

struct ub_run;

/* Kernel constants newer than Debian's <linux/bpf.h>. */
#define UB_F_ADJ_ROOM_DECAP_L3_IPV4	(1ULL << 7)
#define UB_F_ADJ_ROOM_DECAP_L3_IPV6	(1ULL << 8)
#define UB_FIB_LOOKUP_MARK		(1U << 5)
#define UB_ENOTSUPP			524	/* the kernel's internal ENOTSUPP */

enum ub_pkt_kind {
	UB_PKT_XDP = 1,		/* struct xdp_md over an xdp_buff */
	UB_PKT_SKB = 2,		/* struct __sk_buff over an sk_buff */
};

#define UB_XDP_FRAME_SIZE	40u	/* sizeof(struct xdp_frame): kept free at the head */
#define UB_SKB_MAX_LEN		16064u	/* SKB_MAX_ALLOC: (4096 << 2) - 320 */
#define UB_ETH_HLEN		14u
#define UB_VLAN_HLEN		4u

struct ub_pkt {
	uint8_t kind;		/* enum ub_pkt_kind */
	uint8_t l2;		/* skb: the program sees the Ethernet header (tc) */
	void *ctx;		/* the struct xdp_md or struct __sk_buff the program got */
	struct ub_run *run;	/* the test run's outermost run (callbacks nest under it) */
	uint8_t *lo, *hi;	/* the packet may move within [lo, hi) */
	uint8_t *meta, *data, *end;	/* data_meta, data, data_end */
	uint8_t *mac, *net;	/* skb: mac and network headers */
	uint16_t protocol;	/* skb->protocol, network byte order */
	uint16_t vlan_proto;	/* network byte order; with vlan_tci, the offloaded tag */
	uint16_t vlan_tci;
	uint8_t vlan_present;
	uint8_t encap;		/* skb->encapsulation (set by an encapsulating adjust_room) */
	uint8_t sw_hash;	/* hash is valid (computed or set by bpf_set_hash) */
	uint32_t hash;		/* skb->hash */
	uint32_t ifindex;	/* the device the packet arrived on */
	uint64_t cookie;	/* the test run's socket cookie, 0 until asked for */
	int region;		/* index of the packet's checked-mode region, -1: none */
	int target_set;		/* a redirect helper chose `target` */
	struct uebpf_redirect target;
	uint32_t nr_clones;
	struct uebpf_redirect clones[UEBPF_PKT_MAX_CLONES];
};

/*
 * The packet of the running program if it has one of `kind` (0: any) and ctx is its
 * context (the helper's r1; pass 0 for helpers without one). NULL otherwise: packet helpers
 * run only on packets a test run (or a hook) built.
 */
struct ub_pkt *ub_pkt_cur(uint64_t ctx, int kind);

/* Gives run (and the runs of its callbacks) the packet; run_init must have added the
 * packet's region if the run is checked. */
void ub_pkt_attach(struct ub_pkt *pk, struct ub_run *run);

/* After the packet moved: context fields, LD_ABS window, checked-mode region. */
void ub_pkt_sync(struct ub_pkt *pk);

/* LD_ABS / LD_IND at a negative offset: SKF_NET_OFF + k and SKF_LL_OFF + k address the
 * network and link-layer headers of the run's sk_buff (the kernel's
 * bpf_internal_load_pointer_neg_helper). The size bytes there, or NULL when they are not
 * all inside the buffer or the run has no sk_buff. */
const uint8_t *ub_pkt_ld_neg(const struct ub_run *run, int64_t off, uint32_t size);

/* skb: len bytes more at the head / fewer. -ENOMEM when the buffer has no room. */
int ub_pkt_push(struct ub_pkt *pk, uint32_t len);
void ub_pkt_pull(struct ub_pkt *pk, uint32_t len);

/* skb->hash as skb_get_hash(): the flow hash, computed once (never 0). */
uint32_t ub_pkt_hash(struct ub_pkt *pk);
void ub_pkt_clear_hash(struct ub_pkt *pk);

/* The test run's socket cookie (sock_gen_cookie(): process-wide counter, made once). */
uint64_t ub_pkt_cookie(struct ub_pkt *pk);

#endif
