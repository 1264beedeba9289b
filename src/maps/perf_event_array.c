/*
 * ub_perfbuf: BPF_MAP_TYPE_PERF_EVENT_ARRAY and bpf_perf_event_output(), with the
 * kernel's semantics (kernel/bpf/arraymap.c fd arrays, kernel/trace/bpf_trace.c,
 * kernel/events/ring_buffer.c). Keys are CPU indexes, values the fds of perf buffers
 * (perf_event_array.h). Slots are process-local references to mapped buffers, as a prog
 * array's are: a pinned array opened by another process starts empty there.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "helpers/helpers.h"
#include "maps/evfd.h"
#include "maps/map.h"
#include "maps/perf_event_array.h"
#include "progs/pkt.h"
#include "vm/vm.h"

#define KERNEL_ENOTSUPP 524
#define PERF_MAX_RECORD 0xffffu		/* perf_event_header.size is a u16 */

/* One stored buffer, mapped in this process. */
struct pb_slot {
	uint8_t *base;			/* page 0: struct perf_event_mmap_page */
	size_t map_size;
	uint64_t data_size;		/* a power of 2 */
	uint32_t cpu;
	struct ub_perfbuf_meta *meta;	/* in page 0 */
	struct ub_evfd *ev;
};

struct perf_array {
	pthread_mutex_t lock;		/* serialises updates; programs read slots atomically */
	/* Slots replaced or deleted while the map lives: a run may still be writing into
	 * one, so they are unmapped only when no run is in flight, or with the map. */
	struct pb_slot **retired;
	size_t nretired;
	struct pb_slot *slot[];
};

/* ---- perf buffers ---- */

static uint64_t next_event_id(void)
{
	static uint64_t id;
	return __atomic_add_fetch(&id, 1, __ATOMIC_RELAXED);
}

static int init_buffer(int fd, int cpu, size_t page_cnt)
{
	size_t size = (page_cnt + 1) * UB_PERFBUF_PAGE;
	uint8_t *p = mmap(NULL, UB_PERFBUF_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (ftruncate(fd, (off_t)size) || p == MAP_FAILED) {
		if (p != MAP_FAILED)
			munmap(p, UB_PERFBUF_PAGE);
		return -ENOMEM;
	}
	struct perf_event_mmap_page *mp = (struct perf_event_mmap_page *)p;
	/* What the kernel's perf_event_init_userpage() sets for a software event. */
	mp->size = offsetof(struct perf_event_mmap_page, __reserved);
	mp->cap_bit0_is_deprecated = 1;
	mp->data_offset = UB_PERFBUF_PAGE;
	mp->data_size = page_cnt * UB_PERFBUF_PAGE;
	struct ub_perfbuf_meta *m = (struct ub_perfbuf_meta *)(p + UB_PERFBUF_META_OFF);
	m->cpu = (uint32_t)cpu;
	m->id = next_event_id();
	m->page_cnt = page_cnt;
	memcpy(m->magic, UB_PERFBUF_MAGIC, 8);
	munmap(p, UB_PERFBUF_PAGE);
	return 0;
}

int ub_perfbuf_open(int cpu, size_t page_cnt)
{
	char name[32];

	if (cpu < 0 || !page_cnt || (page_cnt & (page_cnt - 1)) || page_cnt > (1u << 20))
		return -EINVAL;
	snprintf(name, sizeof(name), "uebpf-perf:cpu%d", cpu);
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = init_buffer(fd, cpu, page_cnt);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int ub_perfbuf_probe(int fd, struct ub_perfbuf_meta *m)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    pread(fd, m, sizeof(*m), UB_PERFBUF_META_OFF) != (ssize_t)sizeof(*m) ||
	    memcmp(m->magic, UB_PERFBUF_MAGIC, 8))
		return -EBADF;	/* the kernel's answer for an fd that is no perf event */
	if (!m->page_cnt || (m->page_cnt & (m->page_cnt - 1)) ||
	    (uint64_t)st.st_size != (m->page_cnt + 1) * UB_PERFBUF_PAGE)
		return -EBADF;
	return 0;
}

static struct pb_slot *slot_open(int fd)
{
	struct ub_perfbuf_meta m;
	int err = ub_perfbuf_probe(fd, &m);

	if (err) {
		errno = -err;
		return NULL;
	}
	struct pb_slot *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->map_size = (m.page_cnt + 1) * UB_PERFBUF_PAGE;
	s->data_size = m.page_cnt * UB_PERFBUF_PAGE;
	s->cpu = m.cpu;
	s->base = mmap(NULL, s->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	s->ev = s->base == MAP_FAILED ? NULL : ub_evfd_get(fd);
	if (!s->ev) {
		if (s->base != MAP_FAILED)
			munmap(s->base, s->map_size);
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->meta = (struct ub_perfbuf_meta *)(s->base + UB_PERFBUF_META_OFF);
	return s;
}

static void slot_free(struct pb_slot *s)
{
	if (!s)
		return;
	ub_evfd_put(s->ev);
	munmap(s->base, s->map_size);
	free(s);
}

/* ---- writing records (kernel: perf_output_begin/copy/end) ---- */

struct pb_chunk {
	const void *p;
	size_t n;
};

/* Copies into the data area at pos, wrapping at its end (perf rings are mapped once). */
static void put(struct pb_slot *s, uint64_t pos, const void *src, size_t n)
{
	uint8_t *data = s->base + UB_PERFBUF_PAGE;
	size_t off = (size_t)(pos & (s->data_size - 1)), first = s->data_size - off;

	if (first > n)
		first = n;
	memcpy(data + off, src, first);
	memcpy(data, (const uint8_t *)src + first, n - first);
}

/* A PERF_RECORD_LOST for the records dropped since the last one. */
static uint64_t put_lost(struct pb_slot *s, uint64_t head, uint64_t lost)
{
	struct {
		struct perf_event_header h;
		uint64_t id, lost;
	} rec = { { PERF_RECORD_LOST, 0, sizeof(rec) }, s->meta->id, lost };

	put(s, head, &rec, sizeof(rec));
	return head + sizeof(rec);
}

/* A PERF_RECORD_SAMPLE with PERF_SAMPLE_RAW: u32 size, the chunks, zero padding. */
static uint64_t put_sample(struct pb_slot *s, uint64_t head, const struct pb_chunk *c,
			   uint32_t raw)
{
	static const uint8_t zero[8];
	struct perf_event_header h = { PERF_RECORD_SAMPLE, PERF_RECORD_MISC_KERNEL,
				       (uint16_t)(sizeof(h) + 4 + raw) };
	uint32_t sum = (uint32_t)(c[0].n + c[1].n);

	put(s, head, &h, sizeof(h));
	put(s, head + 8, &raw, 4);
	put(s, head + 12, c[0].p, c[0].n);
	put(s, head + 12 + c[0].n, c[1].p, c[1].n);
	put(s, head + 12 + sum, zero, raw - sum);
	return head + sizeof(h) + 4 + raw;
}

static int pb_output(struct pb_slot *s, const struct pb_chunk *c)
{
	struct perf_event_mmap_page *mp = (struct perf_event_mmap_page *)s->base;
	uint64_t n = c[0].n + c[1].n;
	/* perf_sample_save_raw_data(): the raw part is padded so the record stays 8-aligned. */
	uint64_t raw = ((n + 4 + 7) & ~7ull) - 4;

	if (sizeof(struct perf_event_header) + 4 + raw > PERF_MAX_RECORD)
		return -E2BIG;
	ub_shm_lock(&s->meta->lock);
	uint64_t head = __atomic_load_n(&mp->data_head, __ATOMIC_RELAXED);
	uint64_t tail = __atomic_load_n(&mp->data_tail, __ATOMIC_ACQUIRE);
	uint64_t lost = __atomic_load_n(&s->meta->lost, __ATOMIC_RELAXED);
	uint64_t need = 12 + raw + (lost ? 24 : 0);
	if (head - tail > s->data_size || need > s->data_size - (head - tail)) {
		__atomic_add_fetch(&s->meta->lost, 1, __ATOMIC_RELAXED);
		ub_shm_unlock(&s->meta->lock);
		return -ENOSPC;	/* perf_output_begin(): no room, counted as lost */
	}
	if (lost) {
		__atomic_store_n(&s->meta->lost, 0, __ATOMIC_RELAXED);
		head = put_lost(s, head, lost);
	}
	head = put_sample(s, head, c, (uint32_t)raw);
	/* Pairs with the reader's acquire of data_head (perf_output_put_handle). */
	__atomic_store_n(&mp->data_head, head, __ATOMIC_SEQ_CST);
	ub_shm_unlock(&s->meta->lock);
	ub_evfd_signal(s->ev);	/* wakeup_events = 1: every sample wakes the reader */
	return 0;
}

/* ---- the map family ---- */

static int perf_array_check(const union bpf_attr *attr)
{
	/* fd_array_map_alloc_check() and array_map_alloc_check() */
	const uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY;

	if (attr->max_entries == 0 || attr->key_size != 4 || attr->value_size != 4 ||
	    (attr->map_flags & ~allowed))
		return -EINVAL;
	return 0;
}

static size_t perf_array_data_size(const struct ub_shm_hdr *h)
{
	return (size_t)h->max_entries * sizeof(uint32_t);
}

static void perf_array_clear(struct ub_obj *obj);

static int perf_array_init(struct ub_map *map)
{
	struct perf_array *pa = calloc(1, sizeof(*pa) + map->max_entries * sizeof(pa->slot[0]));

	if (!pa)
		return -ENOMEM;
	pthread_mutex_init(&pa->lock, NULL);
	map->priv = pa;
	map->obj.last_user = perf_array_clear;
	return 0;
}

/* A pinned array opened elsewhere starts empty here: its buffers were another process's. */
static int perf_array_validate(const struct ub_map *map)
{
	return perf_array_init((struct ub_map *)map);
}

static void perf_array_release(struct ub_map *map)
{
	struct perf_array *pa = map->priv;

	for (uint32_t i = 0; pa && i < map->max_entries; i++)
		slot_free(pa->slot[i]);
	for (size_t i = 0; pa && i < pa->nretired; i++)
		slot_free(pa->retired[i]);
	if (pa) {
		free(pa->retired);
		pthread_mutex_destroy(&pa->lock);
	}
}

/* Called with pa->lock held (prog_array.c's scheme). */
static void release_retired(struct perf_array *pa)
{
	if (!pa->nretired || !ub_cpu_slots_idle())
		return;
	for (size_t i = 0; i < pa->nretired; i++)
		slot_free(pa->retired[i]);
	pa->nretired = 0;
}

static int set_slot(struct perf_array *pa, uint32_t idx, struct pb_slot *s)
{
	struct pb_slot *old = pa->slot[idx];

	if (old) {
		struct pb_slot **r = realloc(pa->retired, (pa->nretired + 1) * sizeof(*r));
		if (!r)
			return -ENOMEM;
		pa->retired = r;
		pa->retired[pa->nretired++] = old;
	}
	__atomic_store_n(&pa->slot[idx], s, __ATOMIC_RELEASE);
	return 0;
}

/* The last user fd is gone: drop every buffer (perf_event_fd_array_release). */
static void perf_array_clear(struct ub_obj *obj)
{
	struct ub_map *map = (struct ub_map *)obj;
	struct perf_array *pa = map->priv;

	pthread_mutex_lock(&pa->lock);
	for (uint32_t i = 0; i < map->max_entries; i++)
		if (pa->slot[i])
			set_slot(pa, i, NULL);
	release_retired(pa);
	pthread_mutex_unlock(&pa->lock);
}

static void *perf_array_lookup(struct ub_map *map, const void *key)
{
	return NULL;	/* the verifier refuses map_lookup_elem on this type */
}

/* User space cannot read the slots back: no map_fd_sys_lookup_elem in the kernel. */
static int perf_array_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t fl)
{
	return -KERNEL_ENOTSUPP;
}

static int perf_array_update(struct ub_map *map, const void *key, const void *value,
			     uint64_t flags)
{
	struct perf_array *pa = map->priv;
	uint32_t idx;
	int32_t fd;

	memcpy(&idx, key, 4);
	memcpy(&fd, value, 4);
	if (flags != BPF_ANY)
		return -EINVAL;
	if (idx >= map->max_entries)
		return -E2BIG;
	struct pb_slot *s = slot_open(fd);
	if (!s)
		return -errno;
	pthread_mutex_lock(&pa->lock);
	int err = set_slot(pa, idx, s);
	release_retired(pa);
	pthread_mutex_unlock(&pa->lock);
	if (err)
		slot_free(s);
	return err;
}

static int perf_array_delete(struct ub_map *map, const void *key)
{
	struct perf_array *pa = map->priv;
	uint32_t idx;

	memcpy(&idx, key, 4);
	if (idx >= map->max_entries)
		return -E2BIG;
	pthread_mutex_lock(&pa->lock);
	int err = pa->slot[idx] ? set_slot(pa, idx, NULL) : -ENOENT;
	release_retired(pa);
	pthread_mutex_unlock(&pa->lock);
	return err;
}

static int perf_array_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	return ub_array_ops.get_next_key(map, key, next_key);
}

const struct ub_map_ops ub_perf_event_array_ops = {
	.check = perf_array_check,
	.data_size = perf_array_data_size,
	.init = perf_array_init,
	.validate = perf_array_validate,
	.lookup = perf_array_lookup,
	.lookup_user = perf_array_lookup_user,
	.update = perf_array_update,
	.update_elem = perf_array_update,
	.delete = perf_array_delete,
	.get_next_key = perf_array_get_next_key,
	.release = perf_array_release,
};

/* ---- the helper ---- */

/*
 * The packet bytes a packet program asks for in flags' BPF_F_CTXLEN_MASK (the kernel's
 * bpf_xdp_event_output / bpf_skb_event_output); tracing programs may not ask (EINVAL).
 */
static int ctx_chunk(uint64_t ctx, uint64_t flags, struct pb_chunk *c)
{
	uint64_t want = (flags & BPF_F_CTXLEN_MASK) >> 32;
	struct ub_pkt *pk = ub_pkt_cur(ctx, 0);

	*c = (struct pb_chunk){ NULL, 0 };
	if (flags & ~(BPF_F_INDEX_MASK | (pk ? BPF_F_CTXLEN_MASK : 0)))
		return -EINVAL;
	if (!pk)
		return 0;
	if (want > (uint64_t)(pk->end - pk->data))
		return -EFAULT;
	*c = (struct pb_chunk){ pk->data, (size_t)want };
	return 0;
}

/* The buffer for flags' index (__bpf_perf_event_output's checks, in its order). */
static struct pb_slot *target(const struct ub_map *map, uint64_t flags, unsigned cpu, int *err)
{
	const struct perf_array *pa = map->priv;
	uint64_t idx = flags & BPF_F_INDEX_MASK;

	if (idx == BPF_F_CURRENT_CPU)
		idx = cpu;
	if (idx >= map->max_entries) {
		*err = -E2BIG;
		return NULL;
	}
	struct pb_slot *s = __atomic_load_n(&pa->slot[idx], __ATOMIC_ACQUIRE);
	*err = !s ? -ENOENT : s->cpu != cpu ? -EOPNOTSUPP : 0;
	return *err ? NULL : s;
}

uint64_t ub_h_perf_event_output(uint64_t ctx, uint64_t map_arg, uint64_t flags, uint64_t data,
				uint64_t size)
{
	const struct ub_map *map = (const struct ub_map *)(uintptr_t)map_arg;
	struct pb_chunk c[2] = { { (const void *)(uintptr_t)data, (size_t)size } };
	int err = ctx_chunk(ctx, flags, &c[1]);

	if (err)
		return (uint64_t)(int64_t)err;
	if (!map || map->type != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return (uint64_t)-EINVAL;	/* the verifier would have refused the map */
	struct pb_slot *s = target(map, flags, ub_run_cur ? ub_run_cur->cpu : 0, &err);
	if (s)
		err = pb_output(s, c);
	return (uint64_t)(int64_t)err;
}
