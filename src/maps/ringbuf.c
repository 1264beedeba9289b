/*
 * ub_ringbuf: BPF_MAP_TYPE_RINGBUF and its helpers (bpf_ringbuf_output, _reserve, _submit,
 * _discard, _query), with the kernel's semantics (kernel/bpf/ringbuf.c).
 *
 * Each process maps the file once more as the kernel lays the ring out in its own memory
 * (struct bpf_ringbuf): one page of process-local state, the consumer page, the producer
 * page, then the data pages twice. Records handed to programs point into that view, and
 * their header's pg_off is the page distance back to its start, as in the kernel, so
 * bpf_ringbuf_submit() finds the ring from the record alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "helpers/helpers.h"
#include "maps/evfd.h"
#include "maps/map.h"
#include "maps/rb_wake.h"
#include "maps/ringbuf.h"
#include "vm/vm.h"

#define KERNEL_ENOTSUPP 524

/* The process-local page at the start of a view (the kernel's non-mmapable first page). */
struct ub_ringbuf {
	uint64_t mask;
	uint64_t *cons_pos;
	uint64_t *prod_pos;
	uint32_t *lock;
	uint8_t *data;
	struct ub_evfd *ev;
	size_t view_size;
	int writable;
	/* Last consumer position seen under the lock: reserve re-reads the shared one only
	 * when this says the ring is full (it only ever grows, so it is never optimistic). */
	uint64_t cons_cache;
};

struct ringbuf_priv {
	struct ub_ringbuf *rb;
};

static size_t view_size(uint64_t size)
{
	return 3 * (size_t)UB_RB_PAGE + 2 * (size_t)size;
}

void *ub_ringbuf_map_data(int fd, size_t size, int prot, void *at)
{
	size_t len = UB_RB_PAGE + 2 * size;
	uint8_t *p = at ? at : mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mmap(p, UB_RB_PAGE + size, prot, MAP_SHARED | MAP_FIXED, fd, UB_RB_PROD_OFF) ==
		    MAP_FAILED ||
	    mmap(p + UB_RB_PAGE + size, size, prot, MAP_SHARED | MAP_FIXED, fd, UB_RB_DATA_OFF) ==
		    MAP_FAILED) {
		int err = errno;
		if (!at)
			munmap(p, len);
		errno = err;
		return NULL;
	}
	return p;
}

/* Maps [state page][consumer page][producer page][data][data] for map. */
static struct ub_ringbuf *view_create(const struct ub_map *map)
{
	size_t size = map->max_entries, len = view_size(size);
	int writable = !(map->flags & BPF_F_RDONLY);
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint8_t *v = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (v == MAP_FAILED)
		return NULL;
	if (mmap(v + UB_RB_PAGE, UB_RB_PAGE, prot, MAP_SHARED | MAP_FIXED, map->obj.fd,
		 UB_RB_CONS_OFF) == MAP_FAILED ||
	    !ub_ringbuf_map_data(map->obj.fd, size, prot, v + 2 * UB_RB_PAGE)) {
		munmap(v, len);
		return NULL;
	}
	struct ub_ringbuf *rb = (struct ub_ringbuf *)v;
	rb->mask = size - 1;
	rb->cons_pos = (uint64_t *)(v + UB_RB_PAGE);
	rb->prod_pos = (uint64_t *)(v + 2 * UB_RB_PAGE);
	rb->lock = (uint32_t *)(v + UB_RB_PAGE + UB_RB_LOCK_OFF);
	rb->data = v + 3 * UB_RB_PAGE;
	rb->view_size = len;
	rb->writable = writable;
	return rb;
}

/* ---- the map family ---- */

static int ringbuf_check(const union bpf_attr *attr)
{
	uint32_t n = attr->max_entries;

	/* As ringbuf_map_alloc(): NUMA_NODE is the only flag; no key, no value. */
	if (attr->map_flags & ~(uint32_t)BPF_F_NUMA_NODE)
		return -EINVAL;
	if (attr->key_size || attr->value_size || !n || (n & (n - 1)) || n % UB_RB_PAGE)
		return -EINVAL;
	return 0;	/* a u32 power of 2 is always under RINGBUF_MAX_DATA_SZ (64 GiB) */
}

static size_t ringbuf_data_size(const struct ub_shm_hdr *h)
{
	return UB_RB_DATA_OFF + (size_t)h->max_entries;
}

static int ringbuf_init(struct ub_map *map)
{
	struct ringbuf_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	map->priv = p;
	p->rb = view_create(map);
	if (!p->rb)
		return -ENOMEM;
	p->rb->ev = ub_evfd_get(map->obj.fd);
	return p->rb->ev ? 0 : -ENOMEM;
}

/* A pinned ring buffer opened here gets this process's view and wake-up fd. */
static int ringbuf_validate(const struct ub_map *map)
{
	return ringbuf_init((struct ub_map *)map);
}

static void ringbuf_release(struct ub_map *map)
{
	struct ringbuf_priv *p = map->priv;

	if (!p || !p->rb)
		return;
	ub_evfd_put(p->rb->ev);
	munmap(p->rb, p->rb->view_size);
}

static void *ringbuf_lookup(struct ub_map *map, const void *key)
{
	return NULL;	/* programs cannot look into a ring buffer */
}

/* User space: lookup, update, delete and get_next_key are ENOTSUPP, as the kernel's. */
static int ringbuf_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t fl)
{
	return -KERNEL_ENOTSUPP;
}

static int ringbuf_update(struct ub_map *map, const void *key, const void *value, uint64_t fl)
{
	return -KERNEL_ENOTSUPP;
}

static int ringbuf_delete(struct ub_map *map, const void *key)
{
	return -KERNEL_ENOTSUPP;
}

static int ringbuf_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	return -KERNEL_ENOTSUPP;
}

static int ringbuf_event_fd(struct ub_map *map)
{
	struct ub_evfd *ev = ub_ringbuf_evfd(map);
	return ev ? ev->fd : -1;
}

struct ub_evfd *ub_ringbuf_evfd(struct ub_map *map)
{
	const struct ringbuf_priv *p = map->priv;

	if (map->type != BPF_MAP_TYPE_RINGBUF || !p || !p->rb)
		return NULL;
	return p->rb->ev;
}

int ub_ringbuf_producer_view(struct ub_map *map, uint64_t **cons_pos, uint8_t **data)
{
	const struct ringbuf_priv *p = map->priv;

	if (map->type != BPF_MAP_TYPE_RINGBUF || !p || !p->rb)
		return -EINVAL;
	*cons_pos = p->rb->cons_pos;
	*data = p->rb->data;
	return 0;
}

const struct ub_map_ops ub_ringbuf_ops = {
	.check = ringbuf_check,
	.data_size = ringbuf_data_size,
	.init = ringbuf_init,
	.validate = ringbuf_validate,
	.lookup = ringbuf_lookup,
	.lookup_user = ringbuf_lookup_user,
	.update = ringbuf_update,
	.update_elem = ringbuf_update,
	.delete = ringbuf_delete,
	.get_next_key = ringbuf_get_next_key,
	.release = ringbuf_release,
	.event_fd = ringbuf_event_fd,
};

/* ---- producing (kernel: __bpf_ringbuf_reserve, bpf_ringbuf_commit) ---- */

static struct ub_ringbuf *rb_of(uint64_t map_arg)
{
	const struct ub_map *map = (const struct ub_map *)(uintptr_t)map_arg;

	/* The verifier would have refused another map type; a checked run gets a failure. */
	if (!map || map->type != BPF_MAP_TYPE_RINGBUF || !map->priv)
		return NULL;
	return ((const struct ringbuf_priv *)map->priv)->rb;
}

/* Is there room for len more bytes? The kernel's test: the producer stays less than a
 * whole ring ahead of the consumer. Called with the lock held. */
static int has_room(struct ub_ringbuf *rb, uint64_t prod, uint32_t len)
{
	if (prod + len - rb->cons_cache <= rb->mask)
		return 1;
	rb->cons_cache = __atomic_load_n(rb->cons_pos, __ATOMIC_ACQUIRE);
	return prod + len - rb->cons_cache <= rb->mask;
}

static void *rb_reserve(struct ub_ringbuf *rb, uint64_t size)
{
	if (size > UB_RB_MAX_RECORD_SZ || !rb->writable)
		return NULL;
	uint32_t len = ub_ringbuf_rec_len((uint32_t)size);
	if (len > rb->mask + 1)
		return NULL;
	ub_shm_lock(rb->lock);
	uint64_t prod = __atomic_load_n(rb->prod_pos, __ATOMIC_RELAXED);	/* written under the lock */
	if (!has_room(rb, prod, len)) {
		ub_shm_unlock(rb->lock);
		return NULL;
	}
	uint32_t *hdr = (uint32_t *)(void *)(rb->data + (prod & rb->mask));
	/* pg_off: pages from the view's start, as bpf_ringbuf_rec_pg_off(). */
	__atomic_store_n(&hdr[0], (uint32_t)size | BPF_RINGBUF_BUSY_BIT, __ATOMIC_RELAXED);
	hdr[1] = (uint32_t)(((uint8_t *)hdr - (uint8_t *)rb) / UB_RB_PAGE);
	/* Pairs with the reader's acquire of producer_pos: it then sees the busy header. */
	__atomic_store_n(rb->prod_pos, prod + len, __ATOMIC_RELEASE);
	ub_shm_unlock(rb->lock);
	return hdr + 2;
}

/* The ring a record belongs to, from the page offset in its header (the kernel's
 * bpf_ringbuf_restore_from_rec). */
static struct ub_ringbuf *rb_of_record(uint8_t *sample)
{
	uintptr_t hdr = (uintptr_t)(sample - BPF_RINGBUF_HDR_SZ);
	uint32_t pg_off = ((const uint32_t *)hdr)[1];

	return (struct ub_ringbuf *)((hdr & ~(uintptr_t)(UB_RB_PAGE - 1)) -
				     (uintptr_t)pg_off * UB_RB_PAGE);
}

/* Wakes the readers: this process's (eventfd), then other processes' (rb_wake.h). */
static void wake(struct ub_ringbuf *rb)
{
	ub_evfd_signal(rb->ev);
	ub_rbw_wake(rb->cons_pos, rb->ev->dev, rb->ev->ino);
}

static void rb_commit(uint8_t *sample, uint64_t flags, int discard)
{
	uint32_t *hdr = (uint32_t *)(void *)(sample - BPF_RINGBUF_HDR_SZ);
	struct ub_ringbuf *rb = rb_of_record(sample);
	uint32_t len = __atomic_load_n(hdr, __ATOMIC_RELAXED) & ~(uint32_t)BPF_RINGBUF_BUSY_BIT;

	if (discard)
		len |= BPF_RINGBUF_DISCARD_BIT;
	/*
	 * Sequentially consistent, as the kernel's xchg(): ordered before the loads below, so
	 * a reader that stored its position and then found this record still busy is seen
	 * here at that position and woken.
	 */
	__atomic_exchange_n(hdr, len, __ATOMIC_SEQ_CST);
	if (flags & BPF_RB_FORCE_WAKEUP) {
		wake(rb);
		return;
	}
	if (flags & BPF_RB_NO_WAKEUP)
		return;
	/*
	 * Wake the reader only if it has caught up with this record and may be waiting, as
	 * the kernel's bpf_ringbuf_commit(). The consumer position is written by the reader
	 * only every few records, so this load rarely misses the cache; `pending` (written
	 * whenever the reader wakes or sleeps) is read only then, in ub_evfd_signal().
	 */
	uint64_t rec_pos = (uint64_t)((uint8_t *)hdr - rb->data);
	if ((__atomic_load_n(rb->cons_pos, __ATOMIC_SEQ_CST) & rb->mask) == rec_pos)
		wake(rb);
}

/* ---- checked runs: reserved records are memory the run may use until released ---- */

static int run_checked(const struct ub_run *run)
{
	return run && run->prog && run->prog->checked;
}

/* Adds [rec, rec + size) to the run's regions, reusing a freed slot. */
static int track_record(struct ub_run *run, void *rec, uint64_t size)
{
	unsigned i = 0;

	while (i < run->nregions && (run->regions[i].start || run->regions[i].size))
		i++;
	if (i == UB_MAX_REGIONS)
		return 0;
	run->regions[i] = (struct ub_region){ .start = (uintptr_t)rec, .size = (size_t)size,
					      .writable = 1, .kind = UB_REGION_RINGBUF_REC };
	if (i == run->nregions)
		run->nregions++;
	return 1;
}

static void untrack_record(struct ub_run *run, const void *rec)
{
	for (unsigned i = 0; i < run->nregions; i++) {
		struct ub_region *r = &run->regions[i];
		if (r->kind == UB_REGION_RINGBUF_REC && r->start == (uintptr_t)rec)
			*r = (struct ub_region){ 0 };
	}
	while (run->nregions && !run->regions[run->nregions - 1].start &&
	       !run->regions[run->nregions - 1].size)
		run->nregions--;
}

void ub_ringbuf_run_end(struct ub_run *run)
{
	for (unsigned i = 0; run && i < run->nregions; i++) {
		struct ub_region *r = &run->regions[i];
		if (r->kind == UB_REGION_RINGBUF_REC) {
			rb_commit((uint8_t *)r->start, 0, 1);
			*r = (struct ub_region){ 0 };
		}
	}
}

/* ---- helpers ---- */

uint64_t ub_h_ringbuf_reserve(uint64_t map, uint64_t size, uint64_t flags, uint64_t r4,
			      uint64_t r5)
{
	struct ub_ringbuf *rb = rb_of(map);

	if (flags || !rb)
		return 0;
	void *rec = rb_reserve(rb, size);
	if (rec && run_checked(ub_run_cur) && !track_record(ub_run_cur, rec, size)) {
		rb_commit(rec, BPF_RB_NO_WAKEUP, 1);	/* no room to make it accessible */
		rec = NULL;
	}
	return (uint64_t)(uintptr_t)rec;
}

static uint64_t release(uint64_t sample, uint64_t flags, int discard)
{
	if (run_checked(ub_run_cur))
		untrack_record(ub_run_cur, (void *)(uintptr_t)sample);
	rb_commit((uint8_t *)(uintptr_t)sample, flags, discard);
	return 0;
}

uint64_t ub_h_ringbuf_submit(uint64_t sample, uint64_t flags, uint64_t r3, uint64_t r4,
			     uint64_t r5)
{
	return release(sample, flags, 0);
}

uint64_t ub_h_ringbuf_discard(uint64_t sample, uint64_t flags, uint64_t r3, uint64_t r4,
			      uint64_t r5)
{
	return release(sample, flags, 1);
}

uint64_t ub_h_ringbuf_output(uint64_t map, uint64_t data, uint64_t size, uint64_t flags,
			     uint64_t r5)
{
	struct ub_ringbuf *rb = rb_of(map);

	if (flags & ~(uint64_t)(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP))
		return (uint64_t)-EINVAL;
	if (!rb)
		return (uint64_t)-EINVAL;
	uint8_t *rec = rb_reserve(rb, size);
	if (!rec)
		return (uint64_t)-EAGAIN;
	memcpy(rec, (const void *)(uintptr_t)data, (size_t)size);
	rb_commit(rec, flags, 0);
	return 0;
}

uint64_t ub_h_ringbuf_query(uint64_t map, uint64_t flags, uint64_t r3, uint64_t r4,
			    uint64_t r5)
{
	struct ub_ringbuf *rb = rb_of(map);

	if (!rb)
		return 0;
	switch (flags) {
	case BPF_RB_AVAIL_DATA: {
		uint64_t cons = __atomic_load_n(rb->cons_pos, __ATOMIC_ACQUIRE);
		return __atomic_load_n(rb->prod_pos, __ATOMIC_ACQUIRE) - cons;
	}
	case BPF_RB_RING_SIZE:
		return rb->mask + 1;
	case BPF_RB_CONS_POS:
		return __atomic_load_n(rb->cons_pos, __ATOMIC_ACQUIRE);
	case BPF_RB_PROD_POS:
		return __atomic_load_n(rb->prod_pos, __ATOMIC_ACQUIRE);
	default:
		return 0;
	}
}
