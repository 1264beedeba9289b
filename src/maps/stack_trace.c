/*
 * ub_stack_trace: BPF_MAP_TYPE_STACK_TRACE and the helpers bpf_get_stackid and bpf_get_stack,
 * as the kernel's kernel/bpf/stackmap.c, for what user space can see.
 *
 * The "user stack" of a program is the stack of the thread running it (uebpf runs programs
 * in-process, at a uprobe or from bpf_prog_test_run): it is unwound with libunwind (DWARF
 * CFI, frame pointers where there is none, memory reads validated). It starts at the first
 * frame outside the run: the frames of the helper, the interpreter or JIT code and of the
 * function that holds the run are dropped (those below the run's struct ub_run on the
 * stack), so the first IP is a return address into whatever started the program
 * (bpf_prog_test_run_opts' internals, an attach trampoline), followed by its callers.
 * There is no kernel stack in user space: without BPF_F_USER_STACK the trace is empty, as
 * the kernel's for a uprobe, so bpf_get_stackid answers -EFAULT, and bpf_get_stack 0 (the
 * buffer zeroed) or -EFAULT when asked to skip frames.
 *
 * Map layout in the file (offsets and indices, never pointers):
 *   struct st_ctl | u32 index[n_buckets] | elems[max_entries]
 * index[id] is 0 (empty) or 1 + the element holding stack `id`; an element is
 *   struct st_elem { hash, nr, next_free } | u64 ips[value_size / 8].
 * n_buckets is max_entries rounded up to a power of two (the id is the hash masked), and
 * max_entries elements exist, as the kernel's prealloc'd freelist: with a max_entries that
 * is not a power of two, bpf_get_stackid can answer -ENOMEM. One spin lock in the file
 * guards everything; every index read from the file is bounds-checked before use.
 *
 * BPF_F_STACK_BUILD_ID (build-id + offset values) is not supported: creation answers
 * EINVAL, and so does bpf_get_stack with BPF_F_USER_BUILD_ID.
 */
#define UNW_LOCAL_ONLY
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers/helpers.h"
#include "maps/map.h"
#include "vm/vm.h"

#define ST_CTL_SIZE	64u
#define ST_MAX_STACK_DEFAULT 127u	/* sysctl kernel.perf_event_max_stack's default */
#define ST_IPS_CAP (256 + ST_MAX_STACK_DEFAULT)	/* the helpers' IP buffers: skip (<= 255) + depth */
#define ST_INTERNAL_MAX	64u		/* frames of uebpf itself below the run, at most */

struct st_ctl {
	uint32_t lock;
	uint32_t n_buckets;
	uint32_t max_entries;
	uint32_t value_size;
	uint32_t free_head;		/* 1 + first free element, or 0 */
};

struct st_elem {
	uint32_t hash;
	uint32_t nr;			/* IPs stored */
	uint32_t next_free;		/* 1 + next free element, or 0 */
	uint32_t pad;
	/* uint64_t ips[value_size / 8] */
};

_Static_assert(sizeof(struct st_ctl) <= ST_CTL_SIZE, "control block fits");

/* kernel.perf_event_max_stack, read once (the kernel's bound on a trace). */
static uint32_t max_stack(void)
{
	static uint32_t cached;
	uint32_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	char buf[32];

	if (v)
		return v;
	v = ST_MAX_STACK_DEFAULT;
	int fd = open("/proc/sys/kernel/perf_event_max_stack", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			unsigned long x = strtoul(buf, NULL, 10);
			if (x > 0 && x <= 0xffffffu)
				v = (uint32_t)x;
		}
		close(fd);
	}
	__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	return v;
}

static uint32_t roundup_pow2(uint32_t x)
{
	uint32_t p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

/* As stack_map_alloc(). */
static int st_check(const union bpf_attr *attr)
{
	const uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY |
				 BPF_F_STACK_BUILD_ID;
	uint32_t vs = attr->value_size;

	if (attr->map_flags & ~allowed)
		return -EINVAL;
	if (attr->max_entries == 0 || attr->key_size != 4 || vs < 8 || vs % 8)
		return -EINVAL;
	if (attr->map_flags & BPF_F_STACK_BUILD_ID) {
		/* The kernel's checks first, so a bad shape answers as there; then uebpf's
		 * refusal of build-id values. */
		if (vs % sizeof(struct bpf_stack_build_id) ||
		    vs / sizeof(struct bpf_stack_build_id) > max_stack())
			return -EINVAL;
		return -EINVAL;
	}
	if (vs / 8 > max_stack())
		return -EINVAL;
	if (attr->max_entries > 1u << 31)
		return -E2BIG;
	return 0;
}

static size_t elem_size(uint32_t value_size)
{
	return sizeof(struct st_elem) + value_size;
}

static size_t index_off(void)
{
	return ST_CTL_SIZE;
}

static size_t elems_off(uint32_t n_buckets)
{
	return (ST_CTL_SIZE + (size_t)n_buckets * 4 + 7) & ~(size_t)7;
}

static size_t st_data_size(const struct ub_shm_hdr *h)
{
	uint32_t nb = roundup_pow2(h->max_entries);

	return elems_off(nb) + (size_t)h->max_entries * elem_size(h->value_size);
}

static inline struct st_ctl *ctl_of(const struct ub_map *map)
{
	return (struct st_ctl *)(void *)map->data;
}

static inline uint32_t *index_of(const struct ub_map *map)
{
	return (uint32_t *)(void *)(map->data + index_off());
}

static inline uint32_t nbuckets(const struct ub_map *map)
{
	return roundup_pow2(map->max_entries);	/* from the validated copy, never the file */
}

static inline struct st_elem *elem_at(const struct ub_map *map, uint32_t i)
{
	return (struct st_elem *)(void *)(map->data + elems_off(nbuckets(map)) +
					  (size_t)i * elem_size(map->value_size));
}

static inline uint64_t *elem_ips(struct st_elem *e)
{
	return (uint64_t *)(void *)(e + 1);
}

static int st_init(struct ub_map *map)
{
	struct st_ctl *c = ctl_of(map);

	c->n_buckets = nbuckets(map);
	c->max_entries = map->max_entries;
	c->value_size = map->value_size;
	for (uint32_t i = 0; i < map->max_entries; i++)
		elem_at(map, i)->next_free = i + 1 < map->max_entries ? i + 2 : 0;
	c->free_head = 1;
	return 0;
}

static int st_validate(const struct ub_map *map)
{
	const struct st_ctl *c = ctl_of(map);
	const uint32_t *idx = index_of(map);

	if (c->n_buckets != nbuckets(map) || c->max_entries != map->max_entries ||
	    c->value_size != map->value_size || c->free_head > map->max_entries)
		return -EINVAL;
	for (uint32_t i = 0; i < c->n_buckets; i++)
		if (idx[i] > map->max_entries)
			return -EINVAL;
	return 0;
}

/* The element a slot of the index names, checked; NULL for empty or damaged. */
static struct st_elem *slot_elem(const struct ub_map *map, uint32_t id)
{
	uint32_t v = __atomic_load_n(&index_of(map)[id], __ATOMIC_RELAXED);

	if (v == 0 || v > map->max_entries)
		return NULL;
	struct st_elem *e = elem_at(map, v - 1);
	return e->nr <= map->value_size / 8 ? e : NULL;
}

static void free_elem(struct ub_map *map, uint32_t v)
{
	struct st_ctl *c = ctl_of(map);

	if (v == 0 || v > map->max_entries)
		return;
	elem_at(map, v - 1)->next_free = c->free_head;
	c->free_head = v;
}

static uint32_t alloc_elem(struct ub_map *map)
{
	struct st_ctl *c = ctl_of(map);
	uint32_t v = c->free_head;

	if (v == 0 || v > map->max_entries)
		return 0;
	uint32_t next = elem_at(map, v - 1)->next_free;
	c->free_head = next <= map->max_entries ? next : 0;
	return v;
}

static void *st_lookup(struct ub_map *map, const void *key)
{
	return NULL;	/* the kernel's -EOPNOTSUPP; the verifier refuses the call anyway */
}

/* As bpf_stackmap_copy(): the IPs, zero-padded to value_size. */
static int st_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	uint32_t id;
	int rc = -ENOENT;

	memcpy(&id, key, 4);
	if (id >= nbuckets(map))
		return -ENOENT;
	/* A read-only mapping cannot take the lock: it copies unlocked, which slot_elem's
	 * checks keep inside the map (a trace stored meanwhile may come out torn). */
	int lock = !(map->flags & BPF_F_RDONLY);
	if (lock)
		ub_shm_lock(&ctl_of(map)->lock);
	struct st_elem *e = slot_elem(map, id);
	uint32_t nr = e ? __atomic_load_n(&e->nr, __ATOMIC_RELAXED) : 0;
	if (e && nr <= map->value_size / 8) {
		size_t len = (size_t)nr * 8;
		memcpy(value, elem_ips(e), len);
		memset((uint8_t *)value + len, 0, map->value_size - len);
		rc = 0;
	}
	if (lock)
		ub_shm_unlock(&ctl_of(map)->lock);
	return rc;
}

static int st_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	return -EINVAL;	/* stack_map_update_elem() */
}

static int st_delete(struct ub_map *map, const void *key)
{
	uint32_t id;

	memcpy(&id, key, 4);
	if (id >= nbuckets(map))
		return -E2BIG;
	if (map->flags & BPF_F_RDONLY)
		return -EPERM;	/* this process mapped the file read-only */
	ub_shm_lock(&ctl_of(map)->lock);
	uint32_t v = __atomic_exchange_n(&index_of(map)[id], 0, __ATOMIC_RELAXED);
	if (v)
		free_elem(map, v);
	ub_shm_unlock(&ctl_of(map)->lock);
	return v ? 0 : -ENOENT;
}

static int st_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	uint32_t nb = nbuckets(map), id = UINT32_MAX;
	const uint32_t *idx = index_of(map);

	if (key)
		memcpy(&id, key, 4);
	if (id >= nb || !__atomic_load_n(&idx[id], __ATOMIC_RELAXED))
		id = 0;
	else
		id++;
	while (id < nb && !__atomic_load_n(&idx[id], __ATOMIC_RELAXED))
		id++;
	if (id >= nb)
		return -ENOENT;
	memcpy(next_key, &id, 4);
	return 0;
}

const struct ub_map_ops ub_stack_trace_ops = {
	.check = st_check,
	.data_size = st_data_size,
	.init = st_init,
	.validate = st_validate,
	.lookup = st_lookup,
	.lookup_user = st_lookup_user,
	.update = st_update,
	.update_elem = st_update,
	.delete = st_delete,
	.get_next_key = st_get_next_key,
};

/* ---- Unwinding ---- */

/*
 * The user stack of this thread, from the first frame outside the running program (the
 * caller of ub_run_exec, whatever the engine): at most `max` IPs into ips. Returns how
 * many. A JIT run left a context to start from (ub_run's unwind_ctx): JIT frames have no
 * unwind information to step through.
 */
static __attribute__((noinline)) uint32_t user_stack(uint64_t *ips, uint32_t max)
{
	unw_context_t uc;
	unw_cursor_t cur;
	uintptr_t bound = 0;
	uint32_t n = 0, internal = 0;
	void *from = NULL;

	for (const struct ub_run *r = ub_run_cur; r; r = r->outer) {
		/* the outermost run: callbacks' runs are deeper */
		bound = r->stack_bound;
		from = r->unwind_ctx;
	}
	if (max == 0 || (!from && unw_getcontext(&uc)) ||
	    unw_init_local(&cur, from ? (unw_context_t *)from : &uc))
		return 0;
	do {
		unw_word_t ip = 0, sp = 0;
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) || unw_get_reg(&cur, UNW_REG_SP, &sp) || !ip)
			break;
		/* Still inside the run (this helper, the interpreter, ub_run_exec); without
		 * a run, this function and the helper. */
		if (bound ? sp <= bound : internal < 2) {
			if (++internal > ST_INTERNAL_MAX)
				return 0;
			continue;
		}
		ips[n++] = ip;
	} while (n < max && unw_step(&cur) > 0);
	return n;
}

/* The kernel's jhash2() with initval 0, so ids are the kernel's for the same IPs. */
#define ROL32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
static uint32_t word(const uint8_t *p, uint32_t i)
{
	uint32_t w;

	memcpy(&w, p + 4 * (size_t)i, 4);
	return w;
}

static uint32_t jhash2(const uint8_t *k, uint32_t len, uint32_t initval)
{
	uint32_t a, b, c;

	a = b = c = 0xdeadbeefu + (len << 2) + initval;
	while (len > 3) {
		a += word(k, 0); b += word(k, 1); c += word(k, 2);
		a -= c; a ^= ROL32(c, 4); c += b;
		b -= a; b ^= ROL32(a, 6); a += c;
		c -= b; c ^= ROL32(b, 8); b += a;
		a -= c; a ^= ROL32(c, 16); c += b;
		b -= a; b ^= ROL32(a, 19); a += c;
		c -= b; c ^= ROL32(b, 4); b += a;
		len -= 3;
		k += 12;
	}
	switch (len) {
	case 3: c += word(k, 2); /* fall through */
	case 2: b += word(k, 1); /* fall through */
	case 1: a += word(k, 0);
		c ^= b; c -= ROL32(b, 14);
		a ^= c; a -= ROL32(c, 11);
		b ^= a; b -= ROL32(a, 25);
		c ^= b; c -= ROL32(b, 16);
		a ^= c; a -= ROL32(c, 4);
		b ^= a; b -= ROL32(a, 14);
		c ^= b; c -= ROL32(b, 24);
		break;
	default:
		break;
	}
	return c;
}

static const uint64_t stackid_flags = BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK |
				      BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID;

/* How many frames to unwind for want: bounded by the sysctl limit and by cap (the room in
 * the caller's buffer). The caller calls user_stack() itself: it drops its caller's frame. */
static uint32_t stack_depth(uint32_t want, uint32_t cap)
{
	if (want > max_stack())
		want = max_stack();
	return want > cap ? cap : want;
}

/* bpf_get_stackid(ctx, map, flags), as the kernel's bpf_get_stackid/__bpf_get_stackid. */
uint64_t ub_h_get_stackid(uint64_t ctx, uint64_t mapp, uint64_t flags, uint64_t r4,
			  uint64_t r5)
{
	struct ub_map *map = (struct ub_map *)(uintptr_t)mapp;
	uint64_t ips[ST_IPS_CAP];
	uint32_t skip = (uint32_t)(flags & BPF_F_SKIP_FIELD_MASK), nr = 0;

	if (flags & ~stackid_flags)
		return (uint64_t)-EINVAL;
	if (!map || map->type != BPF_MAP_TYPE_STACK_TRACE)
		return (uint64_t)-EINVAL;
	if (flags & BPF_F_USER_STACK)
		nr = user_stack(ips, stack_depth(map->value_size / 8 + skip, ST_IPS_CAP));
	if (nr <= skip)
		return (uint64_t)-EFAULT;	/* also: no kernel stack in user space */

	uint32_t trace_nr = nr - skip, len = trace_nr * 8;
	const uint64_t *tip = ips + skip;
	uint32_t hash = jhash2((const uint8_t *)tip, len / 4, 0);
	uint32_t id = hash & (nbuckets(map) - 1);
	struct st_ctl *c = ctl_of(map);
	int64_t rc;

	if (map->flags & BPF_F_RDONLY)
		return (uint64_t)-EPERM;	/* this process mapped the file read-only */
	ub_shm_lock(&c->lock);
	struct st_elem *e = slot_elem(map, id);
	int match = e && e->hash == hash;
	if (match && (flags & BPF_F_FAST_STACK_CMP)) {
		rc = id;
	} else if (match && e->nr == trace_nr && !memcmp(elem_ips(e), tip, len)) {
		rc = id;
	} else if (e && !(flags & BPF_F_REUSE_STACKID)) {
		rc = -EEXIST;
	} else {
		uint32_t v = alloc_elem(map);
		if (!v) {
			rc = -ENOMEM;
		} else {
			struct st_elem *ne = elem_at(map, v - 1);
			ne->hash = hash;
			ne->nr = trace_nr;
			memcpy(elem_ips(ne), tip, len);
			uint32_t old = __atomic_exchange_n(&index_of(map)[id], v, __ATOMIC_RELEASE);
			free_elem(map, old);
			rc = id;
		}
	}
	ub_shm_unlock(&c->lock);
	return (uint64_t)rc;
}

/* bpf_get_stack(ctx, buf, size, flags), as the kernel's __bpf_get_stack. */
uint64_t ub_h_get_stack(uint64_t ctx, uint64_t bufp, uint64_t size64, uint64_t flags,
			uint64_t r5)
{
	uint8_t *buf = (uint8_t *)(uintptr_t)bufp;
	uint32_t size = (uint32_t)size64, skip = (uint32_t)(flags & BPF_F_SKIP_FIELD_MASK);
	uint64_t ips[ST_IPS_CAP];
	int64_t err = -EINVAL;
	uint32_t nr = 0;

	if (flags & ~(uint64_t)(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_USER_BUILD_ID))
		goto clear;
	if (flags & BPF_F_USER_BUILD_ID)
		goto clear;	/* build-id traces: not supported (the kernel has them) */
	if (size % 8)
		goto clear;
	uint32_t num = size / 8;
	if (flags & BPF_F_USER_STACK)
		nr = user_stack(ips, stack_depth(num + skip, ST_IPS_CAP));
	if (nr < skip) {
		err = -EFAULT;
		goto clear;
	}
	uint32_t trace_nr = nr - skip < num ? nr - skip : num, len = trace_nr * 8;
	if (len)
		memcpy(buf, ips + skip, len);
	if (size > len)
		memset(buf + len, 0, size - len);
	return len;
clear:
	if (size)
		memset(buf, 0, size);
	return (uint64_t)err;
}
