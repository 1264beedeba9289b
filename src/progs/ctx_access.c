/*
 * ub_ctx: context layouts per program type (see ctx_access.h). Each function mirrors the
 * kernel's is_valid_access for that type, so that uebpf accepts exactly the context
 * accesses the kernel accepts; narrow loads of a field are allowed where the kernel
 * allows them (uebpf's contexts are the UAPI structs themselves, so a narrow load needs
 * no rewrite on a little-endian machine).
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <linux/ptrace.h>
#include <linux/seccomp.h>
#include "progs/ctx_access.h"
#include "progs/progs.h"

#define FIELD(T, f) offsetof(T, f), sizeof(((T *)0)->f)
#define SKB(f) FIELD(struct __sk_buff, f)
#define END_OF(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))

/* Is off inside field [start, start + len)? (the kernel's bpf_ctx_range) */
static bool in(int off, size_t start, size_t len)
{
	return off >= 0 && (size_t)off >= start && (size_t)off < start + len;
}

/* [first.start, last.end) of a run of fields (bpf_ctx_range_till) */
static bool in_till(int off, size_t start, size_t end)
{
	return off >= 0 && (size_t)off >= start && (size_t)off < end;
}

/* A load narrower than the field, of a power-of-two size (bpf_ctx_narrow_access_ok). */
static bool narrow_ok(int size, int field_size)
{
	return size <= field_size && !(size & (size - 1));
}

/* ---- struct __sk_buff ---- */

static bool skb_data_field(int off)
{
	return in(off, SKB(data)) || in(off, SKB(data_meta)) || in(off, SKB(data_end));
}

static bool skb_sock_field(int off)	/* family .. local_port */
{
	return in_till(off, offsetof(struct __sk_buff, family), END_OF(struct __sk_buff, local_port));
}

static bool skb_cb_field(int off)
{
	return in_till(off, offsetof(struct __sk_buff, cb[0]), END_OF(struct __sk_buff, cb[4]));
}

/* bpf_skb_is_valid_access: the checks common to every __sk_buff program type. */
static bool skb_common(int off, int size, bool write, bool ldsx, uint8_t *ret)
{
	const int dflt = 4;

	if (off < 0 || off >= (int)sizeof(struct __sk_buff) || off % size)
		return false;
	if (skb_cb_field(off))
		return off + size <= (int)END_OF(struct __sk_buff, cb[4]);
	if (skb_data_field(off))
		return !ldsx && size == dflt;
	if (in_till(off, offsetof(struct __sk_buff, remote_ip6[0]), END_OF(struct __sk_buff, remote_ip6[3])) ||
	    in_till(off, offsetof(struct __sk_buff, local_ip6[0]), END_OF(struct __sk_buff, local_ip6[3])) ||
	    in(off, SKB(remote_ip4)) || in(off, SKB(local_ip4)))
		return size == dflt;
	if (in(off, offsetof(struct __sk_buff, flow_keys), 8))
		return false;
	if (in(off, SKB(hwtstamp)))
		return !write && size == 8;
	if (in(off, SKB(tstamp)))
		return size == 8;
	if (in(off, offsetof(struct __sk_buff, sk), 8)) {
		*ret = UB_CTX_SOCK_COMMON_OR_NULL;
		return !write && size == 8;
	}
	if (off == (int)offsetof(struct __sk_buff, tstamp_type))
		return false;
	if (off >= (int)END_OF(struct __sk_buff, tstamp_type) &&
	    off < (int)offsetof(struct __sk_buff, hwtstamp))
		return false;	/* padding */
	if (write)
		return size == dflt;
	return narrow_ok(size, dflt);
}

/* Socket filters: no direct packet access, only cb[] is writable. */
static bool sk_filter_access(int off, int size, bool write, bool ldsx, uint8_t *ret)
{
	if (in(off, SKB(tc_classid)) || skb_data_field(off) || skb_sock_field(off) ||
	    in(off, SKB(tstamp)) || in(off, SKB(wire_len)) || in(off, SKB(hwtstamp)))
		return false;
	if (write && !skb_cb_field(off))
		return false;
	return skb_common(off, size, write, ldsx, ret);
}

static bool tc_writable(int off)
{
	return in(off, SKB(mark)) || in(off, SKB(tc_index)) || in(off, SKB(priority)) ||
	       in(off, SKB(tc_classid)) || skb_cb_field(off) || in(off, SKB(tstamp)) ||
	       in(off, SKB(queue_mapping));
}

/* tc classifiers and actions: direct packet access, and more writable fields. */
static bool tc_access(int off, int size, bool write, bool ldsx, uint8_t *ret)
{
	if (write && !tc_writable(off))
		return false;
	if (in(off, SKB(data)))
		*ret = UB_CTX_PKT;
	else if (in(off, SKB(data_meta)))
		*ret = UB_CTX_PKT_META;
	else if (in(off, SKB(data_end)))
		*ret = UB_CTX_PKT_END;
	else if (skb_sock_field(off))
		return false;
	else if (off == (int)offsetof(struct __sk_buff, tstamp_type))
		return size == 1;
	return skb_common(off, size, write, ldsx, ret);
}

/* ---- struct xdp_md ---- */

static bool xdp_access(int off, int size, bool write, bool ldsx, uint32_t attach, uint8_t *ret)
{
	if (attach != BPF_XDP_DEVMAP && off == (int)offsetof(struct xdp_md, egress_ifindex))
		return false;
	if (write)
		return false;
	if (off == (int)offsetof(struct xdp_md, data))
		*ret = UB_CTX_PKT;
	else if (off == (int)offsetof(struct xdp_md, data_meta))
		*ret = UB_CTX_PKT_META;
	else if (off == (int)offsetof(struct xdp_md, data_end))
		*ret = UB_CTX_PKT_END;
	if (*ret != UB_CTX_SCALAR && ldsx)
		return false;
	return off >= 0 && off < (int)sizeof(struct xdp_md) && !(off % size) && size == 4;
}

/* ---- Tracing contexts ---- */

static bool kprobe_access(int off, int size, bool write)
{
	if (off < 0 || off >= (int)sizeof(struct pt_regs) || write || off % size)
		return false;
	return off + size <= (int)sizeof(struct pt_regs);
}

#define PERF_MAX_TRACE_SIZE 2048

static bool tracepoint_access(int off, int size, bool write)
{
	if (off < (int)sizeof(void *) || off >= PERF_MAX_TRACE_SIZE || write || off % size)
		return false;
	return true;
}

#define MAX_BPF_FUNC_ARGS 12

static bool raw_tp_access(int off, int size, bool write)
{
	if (off < 0 || off >= (int)(sizeof(uint64_t) * MAX_BPF_FUNC_ARGS) || write)
		return false;
	return !(off % size);
}

static bool perf_event_access(int off, int size, bool write)
{
	if (off < 0 || off >= (int)sizeof(struct bpf_perf_event_data) || write || off % size)
		return false;
	if (in(off, FIELD(struct bpf_perf_event_data, sample_period)) ||
	    in(off, FIELD(struct bpf_perf_event_data, addr)))
		return narrow_ok(size, 8);
	return size == (int)sizeof(long);
}

/* Syscall programs: the context is plain memory the caller passed (up to 64 KiB). */
static bool syscall_access(int off, int size)
{
	return off >= 0 && off < 0xffff && !(off % size);
}

/*
 * Types of uebpf's own and embedders': the context is ctx_size bytes of memory, or (size
 * 0) whatever the caller passes, up to 64 KiB; the verifier then reports the highest
 * offset used, and runs must give at least that much.
 */
static bool raw_ctx_access(const struct ub_prog_type *pt, int off, int size)
{
	if (off < 0 || off % size)
		return false;
	if (!pt->ctx_size)
		return off < 0xffff;
	return (uint32_t)off + (uint32_t)size <= pt->ctx_size;
}

bool ub_ctx_access(const struct ub_ctx_req *rq, uint8_t *ret)
{
	int off = rq->off, size = rq->size;

	*ret = UB_CTX_SCALAR;
	if (size <= 0)
		return false;
	switch (rq->pt->type) {
	case BPF_PROG_TYPE_SOCKET_FILTER:
		return sk_filter_access(off, size, rq->write, rq->ldsx, ret);
	case BPF_PROG_TYPE_SCHED_CLS:
	case BPF_PROG_TYPE_SCHED_ACT:
		return tc_access(off, size, rq->write, rq->ldsx, ret);
	case BPF_PROG_TYPE_XDP:
		return xdp_access(off, size, rq->write, rq->ldsx, rq->attach_type, ret);
	case BPF_PROG_TYPE_KPROBE:
		return kprobe_access(off, size, rq->write);
	case BPF_PROG_TYPE_TRACEPOINT:
		return tracepoint_access(off, size, rq->write);
	case BPF_PROG_TYPE_RAW_TRACEPOINT:
		return raw_tp_access(off, size, rq->write);
	case BPF_PROG_TYPE_PERF_EVENT:
		return perf_event_access(off, size, rq->write);
	case BPF_PROG_TYPE_SYSCALL:
		return syscall_access(off, size);
	default:
		return raw_ctx_access(rq->pt, off, size);
	}
}

bool ub_ctx_is_raw(const struct ub_prog_type *pt)
{
	switch (pt->type) {
	case BPF_PROG_TYPE_SOCKET_FILTER: case BPF_PROG_TYPE_SCHED_CLS:
	case BPF_PROG_TYPE_SCHED_ACT: case BPF_PROG_TYPE_XDP: case BPF_PROG_TYPE_KPROBE:
	case BPF_PROG_TYPE_TRACEPOINT: case BPF_PROG_TYPE_RAW_TRACEPOINT:
	case BPF_PROG_TYPE_PERF_EVENT:
		return false;
	default:
		return true;
	}
}

/* ---- Sockets ---- */

#define SK(f) FIELD(struct bpf_sock, f)

static bool sock_access(int off, int size)
{
	const int dflt = 4;

	if (off < 0 || off >= (int)sizeof(struct bpf_sock) || off % size)
		return false;
	if (in(off, SK(state)) || in(off, SK(family)) || in(off, SK(type)) ||
	    in(off, SK(protocol)) || in(off, SK(src_port)) || in(off, SK(rx_queue_mapping)) ||
	    in(off, SK(src_ip4)) || in(off, SK(dst_ip4)) ||
	    in_till(off, offsetof(struct bpf_sock, src_ip6[0]), END_OF(struct bpf_sock, src_ip6[3])) ||
	    in_till(off, offsetof(struct bpf_sock, dst_ip6[0]), END_OF(struct bpf_sock, dst_ip6[3])))
		return narrow_ok(size, dflt);
	if (in(off, SK(dst_port)))
		return narrow_ok(size, size == dflt ? dflt : 2);
	if (off >= (int)END_OF(struct bpf_sock, dst_port) && off < (int)offsetof(struct bpf_sock, dst_ip4))
		return false;
	return size == dflt;
}

static bool tcp_sock_access(int off, int size)
{
	if (off < 0 || off >= (int)END_OF(struct bpf_tcp_sock, bytes_acked) || off % size)
		return false;
	if (off == (int)offsetof(struct bpf_tcp_sock, bytes_received) ||
	    off == (int)offsetof(struct bpf_tcp_sock, bytes_acked))
		return size == 8;
	return size == 4;
}

bool ub_ctx_sock_access(enum ub_sock_kind kind, int off, int size, bool write)
{
	if (write || size <= 0)
		return false;
	switch (kind) {
	case UB_SOCK_COMMON:
		if (in_till(off, offsetof(struct bpf_sock, type), END_OF(struct bpf_sock, priority)))
			return false;
		return sock_access(off, size);
	case UB_SOCK_FULL:
		return sock_access(off, size);
	case UB_SOCK_TCP:
		return tcp_sock_access(off, size);
	default:
		return off >= 0 && off < (int)END_OF(struct bpf_xdp_sock, queue_id) && !(off % size) &&
		       size == 4;
	}
}
