/*
 * ub_vcall: calls. Helper calls are checked against their prototypes in the helper
 * table (helpers.def): each argument's register type, memory and size pairs, map key
 * and value sizes; the return value gets its type; references (ring buffer records)
 * are acquired and released; helpers that move the packet invalidate packet pointers.
 * bpf-to-bpf calls get a frame of their own; callbacks of bpf_loop and
 * for_each_map_elem are explored like the kernel explores them, by re-entering the
 * callback until its states converge.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "helpers/helpers.h"
#include "maps/map.h"
#include "progs/progs.h"
#include "verifier/env.h"

static char tb[64];

static const char *tstr(uint16_t type)
{
	return ub_vst_type_str(type, tb, sizeof(tb));
}

/* ---- Argument kinds, as the kernel's bpf_arg_type ---- */

enum abase {
	A_NONE, A_ANY, A_MAP_PTR, A_MAP_KEY, A_MAP_VALUE, A_MEM, A_SIZE, A_SIZE_OR_ZERO, A_CTX,
	A_FUNC, A_STACK, A_RINGBUF_MEM, A_ALLOC_SIZE, A_SOCK_COMMON, A_BTF_SOCK, A_LONG,
	A_SPIN_LOCK, A_UNSUPPORTED,
};

struct argdesc {
	uint8_t base;
	bool rdonly;		/* MEM_RDONLY: the helper only reads */
	bool uninit;		/* MEM_UNINIT: the helper fills it (raw mode) */
	bool maybe_null;
	bool release;		/* OBJ_RELEASE */
};

static struct argdesc arg_desc(uint8_t kind)
{
	switch (kind) {
	case UB_ARG_NONE: return (struct argdesc){ .base = A_NONE };
	case UB_ARG_ANYTHING: return (struct argdesc){ .base = A_ANY };
	case UB_ARG_CONST_MAP_PTR: return (struct argdesc){ .base = A_MAP_PTR };
	case UB_ARG_PTR_TO_MAP_KEY: return (struct argdesc){ .base = A_MAP_KEY };
	case UB_ARG_PTR_TO_MAP_VALUE: return (struct argdesc){ .base = A_MAP_VALUE };
	case UB_ARG_PTR_TO_UNINIT_MAP_VALUE:
		return (struct argdesc){ .base = A_MAP_VALUE, .uninit = true };
	case UB_ARG_PTR_TO_MEM: return (struct argdesc){ .base = A_MEM, .rdonly = true };
	case UB_ARG_PTR_TO_UNINIT_MEM: return (struct argdesc){ .base = A_MEM, .uninit = true };
	case UB_ARG_CONST_SIZE: return (struct argdesc){ .base = A_SIZE };
	case UB_ARG_CONST_SIZE_OR_ZERO: return (struct argdesc){ .base = A_SIZE_OR_ZERO };
	case UB_ARG_PTR_TO_CTX: return (struct argdesc){ .base = A_CTX };
	case UB_ARG_PTR_TO_FUNC: return (struct argdesc){ .base = A_FUNC };
	case UB_ARG_PTR_TO_STACK_OR_NULL: return (struct argdesc){ .base = A_STACK, .maybe_null = true };
	case UB_ARG_PTR_TO_RINGBUF_MEM:
		return (struct argdesc){ .base = A_RINGBUF_MEM, .release = true };
	case UB_ARG_CONST_ALLOC_SIZE_OR_ZERO: return (struct argdesc){ .base = A_ALLOC_SIZE };
	case UB_ARG_PTR_TO_MEM_OR_NULL:
		return (struct argdesc){ .base = A_MEM, .rdonly = true, .maybe_null = true };
	case UB_ARG_PTR_TO_SOCK_COMMON: return (struct argdesc){ .base = A_SOCK_COMMON };
	case UB_ARG_PTR_TO_BTF_ID_SOCK_COMMON: return (struct argdesc){ .base = A_BTF_SOCK };
	case UB_ARG_PTR_TO_SOCK_RELEASE:
		return (struct argdesc){ .base = A_BTF_SOCK, .release = true };
	case UB_ARG_PTR_TO_LONG: return (struct argdesc){ .base = A_LONG, .uninit = true };
	case UB_ARG_PTR_TO_SPIN_LOCK: return (struct argdesc){ .base = A_SPIN_LOCK };
	default: return (struct argdesc){ .base = A_UNSUPPORTED };
	}
}

/* ---- Per-helper properties the kernel keeps by function id ---- */

static bool in_list(uint32_t id, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

#define IN(id, ...) ({ static const uint32_t l_[] = { __VA_ARGS__ }; \
		       in_list(id, l_, sizeof(l_) / sizeof(l_[0])); })

/* Helpers that may move the packet (bpf_helper_changes_pkt_data). */
static bool changes_pkt_data(uint32_t id)
{
	return IN(id, BPF_FUNC_clone_redirect, BPF_FUNC_l3_csum_replace, BPF_FUNC_l4_csum_replace,
		  BPF_FUNC_lwt_push_encap, BPF_FUNC_lwt_seg6_action, BPF_FUNC_lwt_seg6_adjust_srh,
		  BPF_FUNC_lwt_seg6_store_bytes, BPF_FUNC_msg_pop_data, BPF_FUNC_msg_pull_data,
		  BPF_FUNC_msg_push_data, BPF_FUNC_skb_adjust_room, BPF_FUNC_skb_change_head,
		  BPF_FUNC_skb_change_proto, BPF_FUNC_skb_change_tail, BPF_FUNC_skb_pull_data,
		  BPF_FUNC_skb_store_bytes, BPF_FUNC_skb_vlan_pop, BPF_FUNC_skb_vlan_push,
		  BPF_FUNC_store_hdr_opt, BPF_FUNC_xdp_adjust_head, BPF_FUNC_xdp_adjust_meta,
		  BPF_FUNC_xdp_adjust_tail);
}

/* Helpers whose memory arguments may point into the packet (fn->pkt_access). */
static bool pkt_access(uint32_t id)
{
	return IN(id, BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_map_delete_elem,
		  BPF_FUNC_map_push_elem, BPF_FUNC_map_pop_elem, BPF_FUNC_map_peek_elem,
		  BPF_FUNC_csum_diff, BPF_FUNC_sk_lookup_tcp, BPF_FUNC_sk_lookup_udp,
		  BPF_FUNC_skc_lookup_tcp, BPF_FUNC_tcp_check_syncookie, BPF_FUNC_tcp_gen_syncookie);
}

static bool is_acquire(uint32_t id, const struct ub_map *map)
{
	if (IN(id, BPF_FUNC_sk_lookup_tcp, BPF_FUNC_sk_lookup_udp, BPF_FUNC_skc_lookup_tcp,
	       BPF_FUNC_ringbuf_reserve, BPF_FUNC_kptr_xchg))
		return true;
	return id == BPF_FUNC_map_lookup_elem && map &&
	       (map->type == BPF_MAP_TYPE_SOCKMAP || map->type == BPF_MAP_TYPE_SOCKHASH);
}

static bool is_ptr_cast(uint32_t id)
{
	return IN(id, BPF_FUNC_tcp_sock, BPF_FUNC_sk_fullsock, BPF_FUNC_skc_to_tcp_sock,
		  BPF_FUNC_skc_to_tcp6_sock, BPF_FUNC_skc_to_udp6_sock,
		  BPF_FUNC_skc_to_tcp_timewait_sock, BPF_FUNC_skc_to_tcp_request_sock);
}

static bool is_map_helper(uint32_t id)
{
	return IN(id, BPF_FUNC_tail_call, BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem,
		  BPF_FUNC_map_delete_elem, BPF_FUNC_map_push_elem, BPF_FUNC_map_pop_elem,
		  BPF_FUNC_map_peek_elem, BPF_FUNC_for_each_map_elem, BPF_FUNC_redirect_map,
		  BPF_FUNC_map_lookup_percpu_elem);
}

/* ---- Map and helper compatibility (check_map_func_compatibility) ---- */

static bool map_allows(uint32_t mt, uint32_t id)
{
	switch (mt) {
	case BPF_MAP_TYPE_PROG_ARRAY: return id == BPF_FUNC_tail_call;
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
		return IN(id, BPF_FUNC_perf_event_read, BPF_FUNC_perf_event_output,
			  BPF_FUNC_skb_output, BPF_FUNC_perf_event_read_value, BPF_FUNC_xdp_output);
	case BPF_MAP_TYPE_RINGBUF:
		return IN(id, BPF_FUNC_ringbuf_output, BPF_FUNC_ringbuf_reserve, BPF_FUNC_ringbuf_query,
			  BPF_FUNC_ringbuf_reserve_dynptr, BPF_FUNC_ringbuf_submit_dynptr,
			  BPF_FUNC_ringbuf_discard_dynptr);
	case BPF_MAP_TYPE_STACK_TRACE: return id == BPF_FUNC_get_stackid;
	case BPF_MAP_TYPE_CGROUP_ARRAY:
		return IN(id, BPF_FUNC_skb_under_cgroup, BPF_FUNC_current_task_under_cgroup);
	case BPF_MAP_TYPE_CGROUP_STORAGE: case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
		return id == BPF_FUNC_get_local_storage;
	case BPF_MAP_TYPE_DEVMAP: case BPF_MAP_TYPE_DEVMAP_HASH: case BPF_MAP_TYPE_XSKMAP:
		return IN(id, BPF_FUNC_redirect_map, BPF_FUNC_map_lookup_elem);
	case BPF_MAP_TYPE_CPUMAP: return id == BPF_FUNC_redirect_map;
	case BPF_MAP_TYPE_ARRAY_OF_MAPS: case BPF_MAP_TYPE_HASH_OF_MAPS:
		return id == BPF_FUNC_map_lookup_elem;
	case BPF_MAP_TYPE_SOCKMAP: case BPF_MAP_TYPE_SOCKHASH:
		return IN(id, BPF_FUNC_sk_redirect_map, BPF_FUNC_sock_map_update,
			  BPF_FUNC_msg_redirect_map, BPF_FUNC_sk_select_reuseport,
			  BPF_FUNC_map_lookup_elem, BPF_FUNC_sk_redirect_hash,
			  BPF_FUNC_sock_hash_update, BPF_FUNC_msg_redirect_hash,
			  BPF_FUNC_map_update_elem, BPF_FUNC_map_delete_elem);
	case BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: return id == BPF_FUNC_sk_select_reuseport;
	case BPF_MAP_TYPE_QUEUE: case BPF_MAP_TYPE_STACK:
		return IN(id, BPF_FUNC_map_peek_elem, BPF_FUNC_map_pop_elem, BPF_FUNC_map_push_elem);
	case BPF_MAP_TYPE_SK_STORAGE:
		return IN(id, BPF_FUNC_sk_storage_get, BPF_FUNC_sk_storage_delete, BPF_FUNC_kptr_xchg);
	case BPF_MAP_TYPE_BLOOM_FILTER:
		return IN(id, BPF_FUNC_map_peek_elem, BPF_FUNC_map_push_elem);
	default:
		return true;
	}
}

/* ... and the helper's side: which map types it takes. */
static bool helper_allows(uint32_t id, uint32_t mt)
{
	switch (id) {
	case BPF_FUNC_tail_call: return mt == BPF_MAP_TYPE_PROG_ARRAY;
	case BPF_FUNC_perf_event_read: case BPF_FUNC_perf_event_output:
	case BPF_FUNC_perf_event_read_value: case BPF_FUNC_skb_output: case BPF_FUNC_xdp_output:
		return mt == BPF_MAP_TYPE_PERF_EVENT_ARRAY;
	case BPF_FUNC_ringbuf_output: case BPF_FUNC_ringbuf_reserve: case BPF_FUNC_ringbuf_query:
		return mt == BPF_MAP_TYPE_RINGBUF;
	case BPF_FUNC_get_stackid: return mt == BPF_MAP_TYPE_STACK_TRACE;
	case BPF_FUNC_redirect_map:
		return mt == BPF_MAP_TYPE_DEVMAP || mt == BPF_MAP_TYPE_DEVMAP_HASH ||
		       mt == BPF_MAP_TYPE_CPUMAP || mt == BPF_MAP_TYPE_XSKMAP;
	case BPF_FUNC_get_local_storage:
		return mt == BPF_MAP_TYPE_CGROUP_STORAGE || mt == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
	case BPF_FUNC_map_pop_elem:
		return mt == BPF_MAP_TYPE_QUEUE || mt == BPF_MAP_TYPE_STACK;
	case BPF_FUNC_map_peek_elem: case BPF_FUNC_map_push_elem:
		return mt == BPF_MAP_TYPE_QUEUE || mt == BPF_MAP_TYPE_STACK ||
		       mt == BPF_MAP_TYPE_BLOOM_FILTER;
	case BPF_FUNC_map_lookup_percpu_elem:
		return mt == BPF_MAP_TYPE_PERCPU_ARRAY || mt == BPF_MAP_TYPE_PERCPU_HASH ||
		       mt == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	case BPF_FUNC_sk_storage_get: case BPF_FUNC_sk_storage_delete:
		return mt == BPF_MAP_TYPE_SK_STORAGE;
	default:
		return true;
	}
}

static int map_func_compat(struct ub_venv *env, const struct ub_map *map,
			   const struct ub_helper_def *fn)
{
	if (!map)
		return 0;
	if (map_allows(map->type, fn->id) && helper_allows(fn->id, map->type))
		return 0;
	ub_vlog(env, "cannot pass map_type %u into func bpf_%s#%u\n", map->type, fn->name, fn->id);
	return -EINVAL;
}

/* ---- Arguments ---- */

struct reg_types {
	uint16_t t[10];
	uint8_t n;
	const char *more;	/* kernel types uebpf never makes, for the message only */
};

static const struct reg_types mem_types = { { VT_STACK, VT_PKT, VT_PKT_META, VT_MAP_KEY,
					      VT_MAP_VALUE, VT_MEM, VT_MEM | VF_RINGBUF }, 7,
					    ", buf, trusted_ptr_" };

static const struct reg_types *compatible(uint8_t base)
{
	static const struct reg_types scalar = { { VT_SCALAR }, 1, NULL },
				      map_ptr = { { VT_MAP_PTR }, 1, NULL },
				      ctx = { { VT_CTX }, 1, NULL }, func = { { VT_FUNC }, 1, NULL },
				      stack = { { VT_STACK }, 1, NULL },
				      rb = { { VT_MEM | VF_RINGBUF }, 1, NULL };
	/* the kernel's sock_types and btf_id_sock_common_types */
	static const struct reg_types sock = { { VT_SOCK_COMMON, VT_SOCKET, VT_TCP_SOCK, VT_XDP_SOCK },
						4, NULL },
				      btf_sock = { { VT_SOCK_COMMON, VT_SOCKET, VT_TCP_SOCK, VT_XDP_SOCK,
						     VT_BTF_ID }, 5, ", trusted_ptr_" },
				      lock = { { VT_MAP_VALUE }, 1, ", ptr_" };
	switch (base) {
	case A_MAP_KEY: case A_MAP_VALUE: case A_MEM: case A_LONG: return &mem_types;
	case A_SOCK_COMMON: return &sock;
	case A_SPIN_LOCK: return &lock;
	case A_BTF_SOCK: return &btf_sock;
	case A_SIZE: case A_SIZE_OR_ZERO: case A_ALLOC_SIZE: return &scalar;
	case A_MAP_PTR: return &map_ptr;
	case A_CTX: return &ctx;
	case A_FUNC: return &func;
	case A_STACK: return &stack;
	case A_RINGBUF_MEM: return &rb;
	default: return NULL;
	}
}

static int check_reg_type(struct ub_venv *env, uint32_t regno, struct argdesc a)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	const struct reg_types *c = compatible(a.base);
	uint16_t type = reg->type;
	char names[256];
	size_t len = 0;

	if (!c) {
		ub_vlog(env, "verifier internal error: unsupported arg type\n");
		return -EFAULT;
	}
	if (a.rdonly)
		type &= (uint16_t)~VF_RDONLY;
	if (a.maybe_null)
		type &= (uint16_t)~VF_MAYBE_NULL;
	/* the only kernel objects uebpf hands out as "ptr_" without a map are sockets
	 * (bpf_skc_to_tcp_sock); an inner map of a map-in-map is no socket */
	bool btf_sock_ok = type != VT_BTF_ID || !reg->map;
	for (int i = 0; i < c->n; i++)
		if (type == c->t[i] && (a.base != A_BTF_SOCK || btf_sock_ok))
			return 0;
	for (int i = 0; i < c->n && len < sizeof(names); i++) {
		char t[48];
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
					ub_vst_type_str(c->t[i], t, sizeof(t)));
	}
	ub_vlog(env, "R%u type=%s expected=%s%s\n", regno, tstr(reg->type), names,
		c->more ? c->more : "");
	return -EACCES;
}

/* Which pointers may carry an offset into a helper (check_func_arg_reg_off). */
static int check_arg_off(struct ub_venv *env, const struct ub_vreg *reg, uint32_t regno,
			 struct argdesc a)
{
	if (a.release) {
		if (reg->off) {
			ub_vlog(env, "R%u must have zero offset when passed to release func or trusted arg to kfunc\n",
				regno);
			return -EINVAL;
		}
		return ub_vmem_check_ptr_off(env, reg, regno, false);
	}
	switch (reg->type) {
	case VT_STACK: case VT_PKT: case VT_PKT_META: case VT_MAP_KEY: case VT_MAP_VALUE:
	case VT_MEM: case VT_MEM | VF_RDONLY: case VT_MEM | VF_RINGBUF: case VT_SCALAR:
		return 0;
	case VT_BTF_ID:
		return ub_vmem_check_ptr_off(env, reg, regno, true);
	default:
		return ub_vmem_check_ptr_off(env, reg, regno, false);
	}
}

/* A memory argument's size, the register after it (check_mem_size_reg). */
static int check_size_arg(struct ub_venv *env, uint32_t regno, bool write, bool zero_ok,
			  struct ub_vcall_meta *meta)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];

	meta->msize_max = reg->umax;
	if (!ub_tnum_is_const(reg->var_off))
		meta = NULL;	/* the buffer must then be initialized */
	if (reg->smin < 0) {
		ub_vlog(env, "R%u min value is negative, either use unsigned or 'var &= const'\n", regno);
		return -EACCES;
	}
	if (reg->umin == 0 && !zero_ok) {
		ub_vlog(env, "R%u invalid zero-sized read: u64=[%lld,%lld]\n", regno,
			(long long)reg->umin, (long long)reg->umax);
		return -EACCES;
	}
	if (reg->umax >= UB_MAX_VAR_SIZ) {
		ub_vlog(env, "R%u unbounded memory access, use 'var &= const' or 'if (var < const)'\n",
			regno);
		return -EACCES;
	}
	return ub_vmem_helper_access(env, regno - 1, (int)reg->umax, write, zero_ok, meta);
}

/* A constant key on the stack of an array lookup lets the result be non-NULL. */
static int64_t const_key(struct ub_venv *env, const struct ub_vreg *key, uint32_t key_size)
{
	if (key->type != VT_STACK || !ub_tnum_is_const(key->var_off))
		return -1;
	int64_t off = key->off + (int64_t)key->var_off.value;
	int slot = (int)(-off - 1), spi = slot / UB_REG_SIZE, idx = slot % UB_REG_SIZE;
	struct ub_vframe *f = ub_vst_func(env, key);
	if (off >= 0 || spi >= f->nslots)
		return -1;
	struct ub_vslot *s = &f->stack[spi];
	uint32_t zeros = 0, spills = 0;
	for (int i = idx; i >= 0 && s->st[i] == STK_ZERO; i--)
		zeros++;
	if (zeros >= key_size)
		return 0;
	if (s->st[UB_REG_SIZE - 1] != STK_SPILL || s->spilled.type != VT_SCALAR)
		return -1;
	for (int i = idx; i >= 0 && s->st[i] == STK_SPILL; i--)
		spills++;
	if (spills != key_size || !ub_tnum_is_const(s->spilled.var_off))
		return -1;
	return (int64_t)s->spilled.var_off.value;
}

/* ---- Spin locks (process_spin_lock) ---- */

static int release_lock(struct ub_vstate *st, uint32_t id, const void *ptr)
{
	for (int i = 0; i < st->nrefs; i++) {
		if (st->refs[i].type != REF_LOCK || st->refs[i].id != id || st->refs[i].ptr != ptr)
			continue;
		memmove(&st->refs[i], &st->refs[i + 1], (size_t)(st->nrefs - i - 1) * sizeof(st->refs[0]));
		st->nrefs--;
		st->active_locks--;
		return 0;
	}
	return -EINVAL;
}

/*
 * bpf_spin_lock / bpf_spin_unlock: the argument is the lock of a map value (constant
 * offset, where the value's BTF put it); one lock at a time, and unlock releases the
 * lock taken through the same lookup (the value pointer's id) of the same map.
 */
static int spin_lock_arg(struct ub_venv *env, uint32_t regno, bool lock)
{
	const struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	const struct ub_map *map = reg->map;
	int64_t off = (int64_t)reg->var_off.value + reg->off;

	if (!ub_tnum_is_const(reg->var_off)) {
		ub_vlog(env, "R%u doesn't have constant offset. bpf_spin_lock has to be at the constant offset\n",
			regno);
		return -EINVAL;
	}
	if (map->lock_off < 0) {
		ub_vlog(env, "map has no valid bpf_spin_lock\n");
		return -EINVAL;
	}
	if (off != map->lock_off) {
		ub_vlog(env, "off %lld doesn't point to 'struct bpf_spin_lock' that is at %d\n",
			(long long)off, map->lock_off);
		return -EINVAL;
	}
	if (lock) {
		if (env->cur->active_locks) {
			ub_vlog(env, "Locking two bpf_spin_locks are not allowed\n");
			return -EINVAL;
		}
		int id = ub_vst_acquire_ref(env, env->insn_idx, REF_LOCK, reg->id, map);
		return id < 0 ? id : 0;
	}
	if (!env->cur->active_locks) {
		ub_vlog(env, "bpf_spin_unlock without taking a lock\n");
		return -EINVAL;
	}
	if (release_lock(env->cur, reg->id, map)) {
		ub_vlog(env, "bpf_spin_unlock of different lock\n");
		return -EINVAL;
	}
	return 0;
}

static int arg_by_kind(struct ub_venv *env, uint32_t regno, struct argdesc a,
		       const struct ub_helper_def *fn, int arg, struct ub_vcall_meta *meta)
{
	struct ub_vreg *reg = &ub_vst_regs(env)[regno];

	switch (a.base) {
	case A_MAP_PTR:
		meta->map = reg->map;
		return 0;
	case A_MAP_KEY:
		if (!meta->map) {
			ub_vlog(env, "invalid map_ptr to access map->key\n");
			return -EACCES;
		}
		meta->const_map_key = -1;
		if (meta->map->type == BPF_MAP_TYPE_ARRAY || meta->map->type == BPF_MAP_TYPE_PERCPU_ARRAY)
			meta->const_map_key = const_key(env, reg, meta->map->key_size);
		return ub_vmem_helper_access(env, regno, (int)meta->map->key_size, false, false, NULL);
	case A_MAP_VALUE:
		if (!meta->map) {
			ub_vlog(env, "invalid map_ptr to access map->value\n");
			return -EACCES;
		}
		meta->raw_mode = a.uninit;
		return ub_vmem_helper_access(env, regno, (int)meta->map->value_size, a.uninit, false,
					     meta);
	case A_FUNC:
		meta->subprog = reg->subprog;
		return 0;
	case A_MEM:
		meta->raw_mode = a.uninit;
		return 0;
	case A_SIZE: case A_SIZE_OR_ZERO:
		return check_size_arg(env, regno, arg_desc(fn->args[arg - 1]).uninit,
				      a.base == A_SIZE_OR_ZERO, meta);
	case A_SPIN_LOCK:
		return spin_lock_arg(env, regno, fn->id == BPF_FUNC_spin_lock);
	case A_LONG:
		/* 8 bytes the helper writes: may be uninitialized stack (MEM_UNINIT) */
		meta->raw_mode = true;
		return ub_vmem_helper_access(env, regno, 8, true, false, meta);
	case A_ALLOC_SIZE:
		if (!ub_tnum_is_const(reg->var_off)) {
			ub_vlog(env, "R%u is not a known constant'\n", regno);
			return -EACCES;
		}
		meta->mem_size = (uint32_t)reg->var_off.value;
		return 0;
	default:
		return 0;
	}
}

static int check_arg(struct ub_venv *env, int arg, const struct ub_helper_def *fn,
		     struct ub_vcall_meta *meta)
{
	uint32_t regno = (uint32_t)arg + 1;
	struct argdesc a = arg_desc(fn->args[arg]);
	struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	int err;

	if (a.base == A_NONE)
		return 0;
	if ((err = ub_vst_check_reg(env, regno, SRC_OP)))
		return err;
	if (a.base == A_ANY)
		return 0;	/* privileged: pointers may be passed as numbers */
	if (ub_vst_is_pkt(reg) && !ub_vmem_pkt_ok(env, false, meta)) {
		ub_vlog(env, "helper access to the packet is not allowed\n");
		return -EACCES;
	}
	if (!(ub_vst_is_null(reg) && a.maybe_null)) {
		if ((err = check_reg_type(env, regno, a)) || (err = check_arg_off(env, reg, regno, a)))
			return err;
	}
	if (a.release) {
		if (!reg->ref_obj_id && !ub_vst_is_null(reg)) {
			ub_vlog(env, "R%u must be referenced when passed to release function\n", regno);
			return -EINVAL;
		}
		meta->release_regno = (uint8_t)regno;
	}
	if (reg->ref_obj_id) {
		if (meta->ref_obj_id) {
			ub_vlog(env, "verifier internal error: more than one arg with ref_obj_id R%u\n",
				regno);
			return -EFAULT;
		}
		meta->ref_obj_id = reg->ref_obj_id;
	}
	return arg_by_kind(env, regno, a, fn, arg, meta);
}

/* ---- Frames ---- */

int ub_vcall_find_subprog(const struct ub_venv *env, int start)
{
	for (int i = 0; i < env->nsubs; i++)
		if (env->subs[i].start == start)
			return i;
	return -1;
}

/* A new frame for subprog entered from `callsite`, on top of st. */
static int setup_frame(struct ub_venv *env, struct ub_vstate *st, int subprog, int callsite,
		       struct ub_vframe **out)
{
	if (st->curframe + 1 >= UB_MAX_FRAMES) {
		ub_vlog(env, "the call stack of %d frames is too deep\n", st->curframe + 2);
		return -E2BIG;
	}
	struct ub_vframe *callee = ub_vst_frame_new(callsite, st->curframe + 1, subprog);
	if (!callee)
		return -ENOMEM;
	ub_vst_frame_free(st->frame[st->curframe + 1]);
	st->frame[st->curframe + 1] = callee;
	*out = callee;
	return 0;
}

static void clear_caller_saved(struct ub_vreg *regs)
{
	for (int i = 0; i <= 5; i++)
		ub_vst_mark_not_init(&regs[i]);
}

/* ---- Global functions: verified on their own, called like a helper ---- */

/* One argument against its BTF type (btf_check_func_arg_match). */
static int global_arg(struct ub_venv *env, const struct ub_vsub *s, int i)
{
	uint32_t regno = (uint32_t)i + 1;
	struct ub_vreg *reg = &ub_vst_regs(env)[regno];
	struct ub_vcall_meta meta = { .const_map_key = -1 };
	int err;

	switch (s->arg_kind[i]) {
	case UB_GARG_SCALAR:
		if (reg->type == VT_SCALAR)
			return 0;
		ub_vlog(env, "R%u is not a scalar\n", regno);
		return -EINVAL;
	case UB_GARG_CTX:
		if ((err = ub_vmem_check_ptr_off(env, reg, regno, false)))
			return err;
		if (reg->type == VT_CTX)
			return 0;
		ub_vlog(env, "arg#%d expects pointer to ctx\n", i);
		return -EINVAL;
	default:
		break;
	}
	if (ub_vst_is_null(reg))
		return 0;	/* the argument may be NULL: the callee checks */
	/* the callee may read and write all of it, assuming the pointer is not NULL; a
	 * stack range it may write loses what the caller knew about it (clobbered) */
	uint16_t saved = reg->type;
	reg->type &= (uint16_t)~VF_MAYBE_NULL;
	meta.pkt_access = true;
	err = ub_vmem_helper_access(env, regno, (int)s->arg_size[i], false, false, &meta);
	if (!err)
		err = ub_vmem_helper_access(env, regno, (int)s->arg_size[i], true, false, &meta);
	reg->type = saved;
	return err;
}

/* Whether subprogram sub, or one it calls, may move the packet (the kernel's
 * changes_pkt_data of a subprogram, found from its code); a tail call counts, the
 * program it runs may. depth bounds the walk (calls cannot nest deeper than frames). */
static bool sub_changes_pkt(const struct ub_venv *env, int sub, int depth)
{
	if (depth >= UB_MAX_FRAMES)
		return true;	/* cannot be a valid program; stay on the safe side */
	for (int i = env->subs[sub].start; i < env->subs[sub + 1].start; i++) {
		const struct bpf_insn *in = &env->insns[i];
		bool call = in->code == (BPF_JMP | BPF_CALL);
		/* a callback (its address loaded for bpf_loop ...) runs on the same packet */
		bool func_addr = in->code == (BPF_LD | BPF_IMM | BPF_DW) && in->src_reg == BPF_PSEUDO_FUNC;
		if (call && in->src_reg == 0 &&
		    (changes_pkt_data((uint32_t)in->imm) || in->imm == BPF_FUNC_tail_call))
			return true;
		int callee = (call && in->src_reg == BPF_PSEUDO_CALL) || func_addr ?
			     ub_vcall_find_subprog(env, ub_vtarget(i, in->imm)) : -1;
		if (callee >= 0 && sub_changes_pkt(env, callee, depth + 1))
			return true;
	}
	return false;
}

static int call_global(struct ub_venv *env, int sub)
{
	struct ub_vsub *s = &env->subs[sub];
	struct ub_vreg *regs = ub_vst_regs(env);
	int err = ub_vbtf_global_args(env, sub);

	for (int i = 0; !err && i < s->nargs; i++)
		err = global_arg(env, s, i);
	if (env->cur->active_locks) {
		ub_vlog(env, "global function calls are not allowed while holding a lock,\nuse static function instead\n");
		return -EINVAL;
	}
	if (err) {
		ub_vlog(env, "Caller passes invalid args into func#%d ('%s')\n", sub, ub_vbtf_func_name(env, sub));
		return err;
	}
	if (ub_vlog_trace(env))
		ub_vlog(env, "Func#%d ('%s') is global and assumed valid.\n", sub, ub_vbtf_func_name(env, sub));
	s->called = 1;
	if (sub_changes_pkt(env, sub, 0))
		ub_vst_clear_pkt_pointers(env);	/* the packet may have moved */
	clear_caller_saved(regs);
	ub_vst_mark_unknown(&regs[0]);	/* all global functions return a 64-bit scalar */
	for (uint32_t i = 0; i <= 5; i++)
		ub_vlog_scratch_reg(env, i);
	return 0;
}

/* Frame 0 of a global function's own run: its arguments as BTF types them. */
int ub_vcall_global_entry(struct ub_venv *env, struct ub_vstate *st, int sub)
{
	const struct ub_vsub *s = &env->subs[sub];
	struct ub_vreg *regs = st->frame[0]->regs;
	int err = ub_vbtf_global_args(env, sub);

	if (err)
		return err;
	for (int i = 0; i < s->nargs; i++) {
		struct ub_vreg *r = &regs[i + 1];
		if (s->arg_kind[i] == UB_GARG_SCALAR) {
			ub_vst_mark_unknown(r);
		} else if (s->arg_kind[i] == UB_GARG_CTX) {
			ub_vst_mark_ptr(r, VT_CTX);
		} else {
			ub_vst_mark_ptr(r, VT_MEM | VF_MAYBE_NULL);
			r->mem_size = s->arg_size[i];
			r->id = ++env->id_gen;
		}
	}
	return 0;
}

int ub_vcall_func(struct ub_venv *env, const struct bpf_insn *insn, int *insn_idx)
{
	struct ub_vstate *st = env->cur;
	struct ub_vframe *caller = st->frame[st->curframe], *callee;
	int target = ub_vtarget(*insn_idx, insn->imm), sub = ub_vcall_find_subprog(env, target), err;

	if (sub < 0) {
		ub_vlog(env, "verifier bug. No program starts at insn %d\n", target);
		return -EFAULT;
	}
	if (env->subs[sub].is_global)
		return call_global(env, sub);
	if ((err = setup_frame(env, st, sub, *insn_idx, &callee)))
		return err;
	for (int i = 1; i <= 5; i++)
		callee->regs[i] = caller->regs[i];
	st->curframe++;
	clear_caller_saved(caller->regs);
	*insn_idx = env->subs[sub].start - 1;
	if (ub_vlog_trace(env)) {
		ub_vlog(env, "caller:\n");
		ub_vlog_state(env, st, st->curframe - 1);
		ub_vlog(env, "callee:\n");
		ub_vlog_state(env, st, st->curframe);
	}
	ub_vlog_scratch_all(env);	/* the callee starts with its whole state */
	return 0;
}

/* The callback's arguments, as the helper will pass them. */
static void callback_args(struct ub_vframe *caller, struct ub_vframe *callee, uint32_t func_id)
{
	struct ub_vreg *c = callee->regs;

	if (func_id == BPF_FUNC_for_each_map_elem) {
		/* callback(map, key, value, ctx) */
		const struct ub_map *map = caller->regs[1].map;
		c[1] = caller->regs[1];
		ub_vst_mark_ptr(&c[2], VT_MAP_KEY);
		c[2].map = map;
		ub_vst_mark_ptr(&c[3], VT_MAP_VALUE);
		c[3].map = map;
		c[4] = caller->regs[3];
		ub_vst_mark_not_init(&c[5]);
	} else {
		/* bpf_loop: callback(index, ctx) */
		ub_vst_mark_unknown(&c[1]);
		c[2] = caller->regs[3];
		ub_vst_mark_not_init(&c[3]);
		ub_vst_mark_not_init(&c[4]);
		ub_vst_mark_not_init(&c[5]);
	}
	callee->in_callback = 1;
	callee->cb_ret_min = 0;
	callee->cb_ret_max = 1;
}

/* Queues one more run of the callback; this path goes on after the helper call. */
static int push_callback(struct ub_venv *env, int insn_idx, uint32_t subprog, uint32_t func_id)
{
	struct ub_vframe *caller = ub_vst_cur_frame(env), *callee;
	struct ub_vstate *cb;
	int err;

	if ((int)subprog >= env->nsubs) {
		ub_vlog(env, "verifier bug. Bad callback subprog %u\n", subprog);
		return -EFAULT;
	}
	env->subs[subprog].is_cb = 1;
	if (!(cb = ub_ver_push(env, env->subs[subprog].start, insn_idx)))
		return -ENOMEM;
	if ((err = setup_frame(env, cb, (int)subprog, insn_idx, &callee)))
		return err;
	callback_args(cb->frame[cb->curframe], callee, func_id);
	cb->curframe++;
	cb->callback_unroll_depth++;
	cb->frame[cb->curframe - 1]->callback_depth++;
	caller->callback_depth = 0;
	return 0;
}

/* ---- Helper calls ---- */

/* Base helpers the kernel withholds from some types (not NMI-safe in tracing). */
static bool kernel_forbids(const struct ub_venv *env, uint32_t id)
{
	switch (env->req->pt->type) {
	case BPF_PROG_TYPE_KPROBE: case BPF_PROG_TYPE_TRACEPOINT: case BPF_PROG_TYPE_PERF_EVENT:
	case BPF_PROG_TYPE_RAW_TRACEPOINT:
		return id == BPF_FUNC_ktime_get_coarse_ns;
	default:
		return false;
	}
}

static int find_helper(struct ub_venv *env, int32_t id, const struct ub_helper_def **out)
{
	const struct ub_helper_def *d = id >= 0 ? ub_helper_find((uint32_t)id) : NULL;

	if (!d) {
		if (id < 0 || id >= __BPF_FUNC_MAX_ID)
			ub_vlog(env, "invalid func unknown#%d\n", id);
		else
			ub_vlog(env, "program of this type cannot use helper unknown#%d\n", id);
		return -EINVAL;
	}
	if (!ub_prog_type_allows(env->req->pt, d->id, d->grp) || kernel_forbids(env, d->id)) {
		ub_vlog(env, "program of this type cannot use helper bpf_%s#%d\n", d->name, id);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

static int release_arg(struct ub_venv *env, const struct ub_helper_def *fn,
		       struct ub_vcall_meta *meta)
{
	struct ub_vreg *regs = ub_vst_regs(env);
	int err = -EINVAL;

	if (meta->ref_obj_id)
		err = ub_vst_release_reference(env, meta->ref_obj_id);
	else if (ub_vst_is_null(&regs[meta->release_regno]))
		err = 0;
	if (err)
		ub_vlog(env, "func bpf_%s#%u reference has not been acquired before\n", fn->name, fn->id);
	return err;
}

/* Any reference still held, or a lock, where the program could leave. */
int ub_vcall_leaks(struct ub_venv *env, bool check_lock, bool check_refs, const char *prefix)
{
	struct ub_vstate *st = env->cur;
	bool leak = false;

	if (check_lock && st->active_locks) {
		ub_vlog(env, "%s cannot be used inside bpf_spin_lock-ed region\n", prefix);
		return -EINVAL;
	}
	for (int i = 0; check_refs && i < st->nrefs; i++) {
		if (st->refs[i].type != REF_PTR)
			continue;
		ub_vlog(env, "Unreleased reference id=%u alloc_insn=%d\n", st->refs[i].id,
			st->refs[i].insn);
		leak = true;
	}
	if (leak) {
		ub_vlog(env, "%s would lead to reference leak\n", prefix);
		return -EINVAL;
	}
	return 0;
}

static int special_helper(struct ub_venv *env, const struct bpf_insn *insn, int insn_idx,
			  const struct ub_helper_def *fn, struct ub_vcall_meta *meta)
{
	struct ub_vreg *regs = ub_vst_regs(env);

	switch (fn->id) {
	case BPF_FUNC_tail_call:
		return ub_vcall_leaks(env, true, true, "tail_call");
	case BPF_FUNC_for_each_map_elem:
		return push_callback(env, insn_idx, meta->subprog, fn->id);
	case BPF_FUNC_loop:
		/* one more iteration while the callback may still run (r1 is the count) */
		if (ub_vst_cur_frame(env)->callback_depth < regs[1].umax)
			return push_callback(env, insn_idx, meta->subprog, fn->id);
		ub_vst_cur_frame(env)->callback_depth = 0;
		return 0;
	default:
		(void)insn;
		return 0;
	}
}

static int set_return(struct ub_venv *env, const struct ub_helper_def *fn,
		      struct ub_vcall_meta *meta, int insn_idx)
{
	struct ub_vreg *r0 = &ub_vst_regs(env)[0];

	switch (fn->ret) {
	case UB_RET_INTEGER:
		ub_vst_mark_unknown(r0);
		break;
	case UB_RET_VOID:
		ub_vst_mark_not_init(r0);
		break;
	case UB_RET_PTR_TO_MAP_VALUE_OR_NULL:
		if (!meta->map) {
			ub_vlog(env, "kernel subsystem misconfigured verifier\n");
			return -EINVAL;
		}
		if (fn->id == BPF_FUNC_map_lookup_elem && ub_map_inner_tmpl(meta->map)) {
			/* map of maps: the inner map (kernel: CONST_PTR_TO_MAP of inner_map_meta) */
			ub_vst_mark_ptr(r0, VT_MAP_PTR | VF_MAYBE_NULL);
			r0->map = ub_map_inner_tmpl(meta->map);
			break;
		}
		ub_vst_mark_ptr(r0, VT_MAP_VALUE | VF_MAYBE_NULL);
		r0->map = meta->map;
		/* an in-range constant key of an array always finds its element */
		if (fn->id == BPF_FUNC_map_lookup_elem && meta->const_map_key >= 0 &&
		    meta->const_map_key < meta->map->max_entries &&
		    (meta->map->type == BPF_MAP_TYPE_ARRAY || meta->map->type == BPF_MAP_TYPE_PERCPU_ARRAY))
			r0->type = VT_MAP_VALUE;
		break;
	case UB_RET_PTR_TO_RINGBUF_MEM_OR_NULL:
		ub_vst_mark_ptr(r0, VT_MEM | VF_RINGBUF | VF_MAYBE_NULL);
		r0->mem_size = meta->mem_size;
		break;
	case UB_RET_PTR_TO_SOCKET_OR_NULL:
		ub_vst_mark_ptr(r0, VT_SOCKET | VF_MAYBE_NULL);
		break;
	case UB_RET_PTR_TO_SOCK_COMMON_OR_NULL:
		ub_vst_mark_ptr(r0, VT_SOCK_COMMON | VF_MAYBE_NULL);
		break;
	case UB_RET_PTR_TO_TCP_SOCK_OR_NULL:
		ub_vst_mark_ptr(r0, VT_TCP_SOCK | VF_MAYBE_NULL);
		break;
	case UB_RET_PTR_TO_BTF_ID_OR_NULL:
		ub_vst_mark_ptr(r0, VT_BTF_ID | VF_MAYBE_NULL);	/* map NULL: a socket object */
		break;
	default:
		ub_vlog(env, "unknown return type %u of func bpf_%s#%u\n", fn->ret, fn->name, fn->id);
		return -EINVAL;
	}
	/* a value with a lock gets an id even when it cannot be NULL: the lock's identity */
	if ((r0->type & VF_MAYBE_NULL) || (r0->type == VT_MAP_VALUE && r0->map->lock_off >= 0))
		r0->id = ++env->id_gen;
	if (is_ptr_cast(fn->id)) {
		r0->ref_obj_id = meta->ref_obj_id;
	} else if (is_acquire(fn->id, meta->map)) {
		int id = ub_vst_acquire_ref(env, insn_idx, REF_PTR, 0, NULL);
		if (id < 0)
			return id;
		r0->id = r0->ref_obj_id = (uint32_t)id;
	}
	return 0;
}

/* Return values the kernel bounds (do_refine_retval_range). */
static void refine_return(struct ub_venv *env, const struct ub_helper_def *fn,
			  const struct ub_vcall_meta *meta)
{
	struct ub_vreg *r0 = &ub_vst_regs(env)[0];

	if (fn->ret != UB_RET_INTEGER)
		return;
	if (IN(fn->id, BPF_FUNC_get_stack, BPF_FUNC_get_task_stack, BPF_FUNC_probe_read_str,
	       BPF_FUNC_probe_read_kernel_str, BPF_FUNC_probe_read_user_str)) {
		r0->smax = (int64_t)meta->msize_max;
		r0->s32_max = (int32_t)meta->msize_max;
		r0->smin = -4095;	/* -MAX_ERRNO */
		r0->s32_min = -4095;
		ub_bnd_sync(r0);
		ub_bnd_sanitize(r0);
	} else if (fn->id == BPF_FUNC_get_smp_processor_id) {
		uint32_t max = (uint32_t)ub_num_possible_cpus() - 1;
		r0->umax = r0->u32_max = max;
		r0->smax = r0->s32_max = (int32_t)max;
		r0->umin = r0->u32_min = 0;
		r0->smin = r0->s32_min = 0;
		ub_bnd_sync(r0);
		ub_bnd_sanitize(r0);
	}
}

static int record_map(struct ub_venv *env, const struct ub_helper_def *fn,
		      const struct ub_vcall_meta *meta)
{
	if (!is_map_helper(fn->id))
		return 0;
	if (!meta->map) {
		ub_vlog(env, "kernel subsystem misconfigured verifier\n");
		return -EINVAL;
	}
	if ((meta->map->flags & BPF_F_RDONLY_PROG) &&
	    IN(fn->id, BPF_FUNC_map_delete_elem, BPF_FUNC_map_update_elem, BPF_FUNC_map_push_elem,
	       BPF_FUNC_map_pop_elem)) {
		ub_vlog(env, "write into map forbidden\n");
		return -EACCES;
	}
	return 0;
}

static int check_args(struct ub_venv *env, const struct ub_helper_def *fn,
		      struct ub_vcall_meta *meta, int insn_idx)
{
	int err;

	for (int i = 0; i < 5; i++)
		if ((err = check_arg(env, i, fn, meta)))
			return err;
	if ((err = record_map(env, fn, meta)))
		return err;
	/* the bytes a raw-mode argument receives become written stack */
	for (int i = 0; i < meta->access_size; i++)
		if ((err = ub_vmem_access(env, insn_idx, (uint32_t)meta->regno, i, 1, true, -1,
					  false, false)))
			return err;
	return 0;
}

int ub_vcall_helper(struct ub_venv *env, const struct bpf_insn *insn, int *insn_idx)
{
	struct ub_vcall_meta meta = { .const_map_key = -1 };
	const struct ub_helper_def *fn;
	int err;

	if ((err = find_helper(env, insn->imm, &fn)))
		return err;
	meta.func_id = fn->id;
	meta.pkt_access = pkt_access(fn->id);
	if ((err = check_args(env, fn, &meta, *insn_idx)))
		return err;
	if (meta.release_regno && (err = release_arg(env, fn, &meta)))
		return err;
	if ((err = special_helper(env, insn, *insn_idx, fn, &meta)))
		return err;
	clear_caller_saved(ub_vst_regs(env));
	for (uint32_t i = 0; i <= 5; i++)
		ub_vlog_scratch_reg(env, i);	/* the log shows the new R0 */
	if ((err = set_return(env, fn, &meta, *insn_idx)))
		return err;
	refine_return(env, fn, &meta);
	if ((err = map_func_compat(env, meta.map, fn)))
		return err;
	if (changes_pkt_data(fn->id))
		ub_vst_clear_pkt_pointers(env);
	return 0;
}

/* ---- Returning from a subprogram or a callback ---- */

/* The checkpoint at insn on the current path (the callsite of a running callback). */
static struct ub_vstate *prev_entry(struct ub_venv *env, int insn)
{
	for (struct ub_vsl *sl = env->explored[insn]; sl; sl = sl->next) {
		if (sl->st.insn_idx != insn || sl->st.curframe != env->cur->curframe ||
		    !sl->st.branches)
			continue;
		bool same = true;
		for (int f = 0; f <= env->cur->curframe && same; f++)
			same = sl->st.frame[f]->callsite == env->cur->frame[f]->callsite;
		if (same)
			return &sl->st;
	}
	return NULL;
}

/*
 * Callback iterations converge only when states repeat: scalars that changed since the
 * previous visit of the callsite lose what is known about them (a sound widening; the
 * kernel widens the ones no check depends on).
 */
static void widen(struct ub_vreg *old, struct ub_vreg *cur)
{
	if (old->type != VT_SCALAR || cur->type != VT_SCALAR)
		return;
	if (ub_bnd_range_within(old, cur) && ub_tnum_in(old->var_off, cur->var_off))
		return;
	ub_vst_mark_unknown(cur);
}

static void widen_scalars(struct ub_vstate *old, struct ub_vstate *cur)
{
	for (int f = 0; f <= old->curframe && f <= cur->curframe; f++) {
		struct ub_vframe *fo = old->frame[f], *fc = cur->frame[f];
		for (int i = 0; i < UB_REG_FP; i++)
			widen(&fo->regs[i], &fc->regs[i]);
		for (int i = 0; i < fo->nslots && i < fc->nslots; i++)
			if (fo->stack[i].st[UB_REG_SIZE - 1] == STK_SPILL &&
			    fc->stack[i].st[UB_REG_SIZE - 1] == STK_SPILL)
				widen(&fo->stack[i].spilled, &fc->stack[i].spilled);
	}
}

static int callback_return(struct ub_venv *env, struct ub_vframe *callee)
{
	struct ub_vreg *r0 = &callee->regs[0];

	if (r0->type != VT_SCALAR) {
		ub_vlog(env, "R0 not a scalar value\n");
		return -EACCES;
	}
	if (r0->smin < callee->cb_ret_min || r0->smax > callee->cb_ret_max) {
		ub_vlog(env, "At callback return the register R0 has");
		if (r0->smin > INT64_MIN)
			ub_vlog(env, " smin=%lld", (long long)r0->smin);
		if (r0->smax < INT64_MAX)
			ub_vlog(env, " smax=%lld", (long long)r0->smax);
		if (r0->smin == INT64_MIN && r0->smax == INT64_MAX)
			ub_vlog(env, " unknown scalar value");
		ub_vlog(env, " should have been in [%d, %d]\n", callee->cb_ret_min, callee->cb_ret_max);
		return -EINVAL;
	}
	return 0;
}

int ub_vcall_exit(struct ub_venv *env, int *insn_idx)
{
	struct ub_vstate *st = env->cur;
	struct ub_vframe *callee = st->frame[st->curframe], *caller = st->frame[st->curframe - 1];
	bool cb = callee->in_callback;
	int err;

	if (callee->regs[0].type == VT_STACK) {
		ub_vlog(env, "cannot return stack pointer to the caller\n");
		return -EINVAL;
	}
	if (cb && (err = callback_return(env, callee)))
		return err;
	if (!cb)
		caller->regs[0] = callee->regs[0];
	*insn_idx = cb ? callee->callsite : callee->callsite + 1;
	if (ub_vlog_trace(env)) {
		ub_vlog(env, "returning from callee:\n");
		ub_vlog_state(env, st, st->curframe);
		ub_vlog(env, "to caller at %d:\n", *insn_idx);
		ub_vlog_state(env, st, st->curframe - 1);
	}
	ub_vst_frame_free(callee);
	st->frame[st->curframe--] = NULL;
	if (cb) {
		struct ub_vstate *prev = prev_entry(env, *insn_idx);
		if (prev)
			widen_scalars(prev, st);
	}
	return 0;
}
