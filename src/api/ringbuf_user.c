/*
 * ub_rbuser: libbpf's ring buffer reader (ring_buffer__new/add/poll/consume/epoll_fd/free)
 * over uebpf ring buffer maps, following libbpf 1.1's src/ringbuf.c: the consumer page is
 * mapped writable, the producer page and the twice-mapped data read-only, and records are
 * consumed in order, skipping discarded ones, until a busy (reserved) record.
 *
 * Waiting: the map fd is a plain file, so the epoll set holds the ring's wake-up eventfd
 * (maps/evfd.h) instead, which the producing helpers signal when the kernel would wake
 * the map's poll queue.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "maps/evfd.h"
#include "maps/map.h"
#include "maps/rb_wake.h"
#include "maps/ringbuf.h"

/*
 * ThreadSanitizer: the reader maps the ring on its own, as libbpf does, so it reaches the
 * positions and headers through other addresses than the producers of this process, and
 * the synchronization that really orders a producer's record, the reader's taking it and
 * another producer's reuse of its bytes (acquire of the header, release of the consumer
 * position) is invisible to TSan, which reports the reuse as a race. Under TSan the reader
 * also acquires and releases at the producers' addresses of the same bytes. (For the same
 * reason TSan cannot see the reader's own reads of a record race with its producer:
 * tests/test_ringbuf.c checks every record's contents instead.)
 */
#if defined(__SANITIZE_THREAD__)
#define UB_RB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UB_RB_TSAN 1
#endif
#endif
#ifdef UB_RB_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#endif

/* Looks for data before sleeping: UB_RB_SPIN looks, UB_RB_SPIN_EVERY pause instructions
 * apart (some tens of microseconds in all). */
#ifndef UB_RB_SPIN
#define UB_RB_SPIN 256
#endif
#ifndef UB_RB_SPIN_EVERY
#define UB_RB_SPIN_EVERY 16
#endif
/* A spinning reader of a fast stream (producers moved UB_RB_FAST bytes or more since the
 * last look, and have not paused since) takes records once UB_RB_KEEP bytes (at most a
 * quarter of the ring) lie past them, or once it has seen them waiting UB_RB_WAIT_NS: see
 * spin_for_data. */
#ifndef UB_RB_KEEP
#define UB_RB_KEEP (32u << 10)
#endif
#ifndef UB_RB_FAST
#define UB_RB_FAST 512u
#endif
#define UB_RB_ALL UINT64_MAX	/* no limit on the records a call takes */
#ifndef UB_RB_WAIT_NS
#define UB_RB_WAIT_NS 10000
#endif

struct ring {
	ring_buffer_sample_fn sample_cb;
	void *ctx;
	uint8_t *data;
	uint64_t *consumer_pos;
	uint64_t *producer_pos;
	uint64_t mask;
	uint64_t keep;	/* UB_RB_KEEP, or a quarter of the ring if less */
	uint64_t last_prod;	/* producer position at the reader's last look */
	uint64_t seen;		/* when a look first left records waiting, 0: none */
	int fast;		/* the stream is fast: see look() */
	int map_fd;
	struct ub_evfd *ev;	/* wake-ups from producers of this process */
	struct ub_rbw w;	/* ... and of other processes (maps/rb_wake.h) */
	/* TSan only: the map (held) and its producer view's addresses (UB_RB_TSAN above) */
	struct ub_map *tsan_map;
	uint64_t *tsan_cons;
	uint8_t *tsan_data;
};

struct ring_buffer {
	struct epoll_event *events;
	struct ring **rings;
	size_t page_size;
	int epoll_fd;
	int ring_cnt;
	int active;	/* the last poll found records: look a while before sleeping */
};

static int rb_err(int err)
{
	if (err < 0)
		errno = -err;
	return err;
}

/* libbpf's OPTS_VALID: at least the size field; bytes we do not know must be zero. */
static int ready(const struct ring *r, uint64_t cons);

static int opts_valid(const void *opts, size_t known)
{
	size_t sz;

	if (!opts)
		return 1;
	memcpy(&sz, opts, sizeof(sz));
	if (sz < sizeof(size_t))
		return 0;
	for (size_t i = known; i < sz; i++)
		if (((const unsigned char *)opts)[i])
			return 0;
	return 1;
}

static void ring_free(struct ring_buffer *rb, struct ring *r)
{
	ub_rbw_leave(&r->w);	/* its slot is in the consumer page */
	if (r->consumer_pos)
		munmap(r->consumer_pos, rb->page_size);
	if (r->producer_pos)
		munmap(r->producer_pos, rb->page_size + 2 * (r->mask + 1));
	ub_evfd_put(r->ev);
	ub_map_put(r->tsan_map);
	free(r);
}

/* Maps the ring of map_fd into r as libbpf does; 0 or -errno. */
static int ring_map(struct ring_buffer *rb, struct ring *r, uint32_t max_entries)
{
	void *tmp = mmap(NULL, rb->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->map_fd, 0);

	if (tmp == MAP_FAILED)
		return -errno;
	r->consumer_pos = tmp;
	uint64_t mmap_sz = rb->page_size + 2 * (uint64_t)max_entries;
	if (mmap_sz != (uint64_t)(size_t)mmap_sz)
		return -E2BIG;
	tmp = ub_ringbuf_map_data(r->map_fd, max_entries, PROT_READ, NULL);
	if (!tmp)
		return -errno;
	r->producer_pos = tmp;
	r->data = (uint8_t *)tmp + rb->page_size;
	r->ev = ub_evfd_get(r->map_fd);
	if (!r->ev)
		return -errno;
	/* Without a slot or a socket this reader is woken by this process's producers only
	 * (and sees the others' records at its next look), as before ub_rbw existed. */
	if (ub_rbw_join(&r->w, r->consumer_pos, r->ev->dev, r->ev->ino))
		r->w = (struct ub_rbw){ .slot = -1, .fd = -1 };
#ifdef UB_RB_TSAN
	r->tsan_map = ub_map_get(r->map_fd);
	if (r->tsan_map && ub_ringbuf_producer_view(r->tsan_map, &r->tsan_cons, &r->tsan_data))
		r->tsan_cons = NULL, r->tsan_data = NULL;
#endif
	return 0;
}

static int grow(struct ring_buffer *rb)
{
	void *tmp = realloc(rb->rings, (rb->ring_cnt + 1) * sizeof(*rb->rings));

	if (!tmp)
		return -ENOMEM;
	rb->rings = tmp;
	tmp = realloc(rb->events, 2 * (rb->ring_cnt + 1) * sizeof(*rb->events));
	if (!tmp)
		return -ENOMEM;
	rb->events = tmp;
	return 0;
}

int ring_buffer__add(struct ring_buffer *rb, int map_fd, ring_buffer_sample_fn sample_cb,
		     void *ctx)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return rb_err(-errno);
	if (info.type != BPF_MAP_TYPE_RINGBUF)
		return rb_err(-EINVAL);
	int err = grow(rb);
	struct ring *r = err ? NULL : calloc(1, sizeof(*r));
	if (!r)
		return rb_err(-ENOMEM);
	*r = (struct ring){ .sample_cb = sample_cb, .ctx = ctx, .map_fd = map_fd,
			    .w = { .slot = -1, .fd = -1 },
			    .mask = info.max_entries - 1,
			    .keep = info.max_entries / 4 < UB_RB_KEEP ? info.max_entries / 4 :
									 UB_RB_KEEP };
	err = ring_map(rb, r, info.max_entries);
	/* Two fds per ring in the epoll set; an event's u32 is 2 * ring index + which. */
	for (int k = 0; k < 2 && !err; k++) {
		int fd = k ? r->w.fd : r->ev->fd;
		struct epoll_event e = { .events = EPOLLIN,
					 .data.u32 = 2 * (uint32_t)rb->ring_cnt + (uint32_t)k };
		if (fd >= 0 && epoll_ctl(rb->epoll_fd, EPOLL_CTL_ADD, fd, &e) < 0)
			err = -errno;
	}
	if (err) {
		ring_free(rb, r);
		return rb_err(err);
	}
	rb->rings[rb->ring_cnt++] = r;
	/* Records already committed: the kernel's map poll reports a ring readable whenever it
	 * holds data, so epoll sees them from EPOLL_CTL_ADD on (run on 6.18: two records
	 * output before ring_buffer__new, the first poll returned 2 at once). */
	if (ready(r, __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE)))
		ub_evfd_signal(r->ev);
	return 0;
}

void ring_buffer__free(struct ring_buffer *rb)
{
	if (!rb)
		return;
	for (int i = 0; i < rb->ring_cnt; i++)
		ring_free(rb, rb->rings[i]);
	if (rb->epoll_fd >= 0)
		close(rb->epoll_fd);
	free(rb->events);
	free(rb->rings);
	free(rb);
}

struct ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx,
				     const struct ring_buffer_opts *opts)
{
	if (!opts_valid(opts, sizeof(*opts)))
		return errno = EINVAL, NULL;
	struct ring_buffer *rb = calloc(1, sizeof(*rb));
	if (!rb)
		return errno = ENOMEM, NULL;
	rb->page_size = (size_t)getpagesize();
	rb->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	int err = rb->epoll_fd < 0 ? -errno : ring_buffer__add(rb, map_fd, sample_cb, ctx);
	if (err) {
		ring_buffer__free(rb);
		return errno = -err, NULL;
	}
	return rb;
}

static uint32_t hdr_len_at(const struct ring *r, uint64_t pos)
{
	uint32_t len = __atomic_load_n((const uint32_t *)(const void *)(r->data + (pos & r->mask)),
				       __ATOMIC_ACQUIRE);
#ifdef UB_RB_TSAN
	if (r->tsan_data)
		__tsan_acquire(r->tsan_data + (pos & r->mask));
#endif
	return len;
}

/* Hands the bytes before cons back to the producers (release). */
static void store_cons(const struct ring *r, uint64_t cons)
{
#ifdef UB_RB_TSAN
	if (r->tsan_cons)
		__tsan_release(r->tsan_cons);	/* before: a producer that sees cons is ordered */
#endif
	__atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
}

/*
 * libbpf's ringbuf_process_ring(): records in order until a busy one. *cons is the
 * consumer position, stored for producers to see the room as the batch goes. A
 * record longer than what the producer published means a corrupt ring (another writer of
 * the shared file): EINVAL rather than reading past the data.
 */
static int64_t process_batch(struct ring *r, uint64_t *cons, int keep, uint64_t max)
{
	int64_t cnt = 0;
	unsigned since_store = 0;
	uint64_t prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);

	/* One pass up to the producer position read here (less `keep` bytes); process_ring
	 * looks again. */
	uint64_t left = keep ? r->keep : 0;
	while (*cons + left < prod && (uint64_t)cnt < max) {
		uint32_t len = hdr_len_at(r, *cons);
		if (len & BPF_RINGBUF_BUSY_BIT)	/* not committed yet */
			break;
		uint32_t step = ub_ringbuf_rec_len(len);
		if (step > prod - *cons) {
			store_cons(r, *cons);
			return -EINVAL;
		}
		void *sample = r->data + ((*cons + BPF_RINGBUF_HDR_SZ) & r->mask);
		*cons += step;
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			int err = r->sample_cb(r->ctx, sample,
					       len & ~(uint32_t)BPF_RINGBUF_DISCARD_BIT);
			if (err < 0) {
				store_cons(r, *cons);
				return err;
			}
			cnt++;
		}
		/* libbpf stores the position after every record; every 32 is enough to hand
		 * room back and keeps the line out of the producers' way. */
		if (!(++since_store & 31))
			store_cons(r, *cons);
	}
	store_cons(r, *cons);
	return cnt;
}

/* Is a committed record waiting at cons? */
static int ready(const struct ring *r, uint64_t cons)
{
	return cons < __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE) &&
	       !(hdr_len_at(r, cons) & BPF_RINGBUF_BUSY_BIT);
}

/*
 * Every committed record of r, with the reader protocol of maps/evfd.h around it. With
 * `drain` 0 (a poll that found data by looking, see spin_for_data) one pass only; with
 * `keep` set (drain 0 only) that pass leaves the last r->keep bytes the producer published
 * for a later look: those are the
 * lines the producer is writing (the record it reserved, the header of the next), and a
 * reader that read them would pull them back and forth between the cores once per record.
 * Records left behind are safe: a reader about to sleep drains with keep 0 first.
 */
static int64_t process_ring(struct ring *r, int drain, int keep, uint64_t max)
{
	uint64_t cons = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
	int64_t cnt = 0;

	ub_evfd_awake(r->ev);
	for (;;) {
		int64_t n = process_batch(r, &cons, keep, max - (uint64_t)cnt);
		ub_evfd_sleep(r->ev);
		if (n < 0 || (uint64_t)(cnt + n) == max) {
			/* Records that remain are seen by the next poll, as the kernel's
			 * level-triggered map poll would see them. */
			if (n < 0 || ready(r, cons))
				ub_evfd_signal(r->ev);
			return n < 0 ? n : cnt + n;
		}
		cnt += n;
		if (!drain)
			return cnt;	/* the next ring_buffer__poll looks first (rb->active) */
		/*
		 * A producer tests our position, then `pending`, after committing (rb_commit):
		 * either it sees us asleep at its record and wakes us, or we see its record.
		 */
		if (!ready(r, cons))
			return cnt;
		ub_evfd_awake(r->ev);
	}
}

/* Every ring in the order they were added, at most max records in all. */
static int64_t process_all(struct ring_buffer *rb, int drain, uint64_t max)
{
	int64_t res = 0;

	for (int i = 0; i < rb->ring_cnt && (uint64_t)res < max; i++) {
		int64_t err = process_ring(rb->rings[i], drain, 0, max - (uint64_t)res);
		if (err < 0)
			return err;
		res += err;
	}
	return res;
}

static int any_ready(struct ring_buffer *rb)
{
	for (int i = 0; i < rb->ring_cnt; i++) {
		struct ring *r = rb->rings[i];
		if (ready(r, __atomic_load_n(r->consumer_pos, __ATOMIC_RELAXED)))
			return 1;
	}
	return 0;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void set_awake(struct ring_buffer *rb, int awake)
{
	for (int i = 0; i < rb->ring_cnt; i++)
		(awake ? ub_evfd_awake : ub_evfd_sleep)(rb->rings[i]->ev);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum { LOOK_NONE, LOOK_BATCH, LOOK_ALL };

/* What a spinning reader takes from r now (see spin_for_data). */
static int look(struct ring *r)
{
	uint64_t cons = __atomic_load_n(r->consumer_pos, __ATOMIC_RELAXED);
	uint64_t prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	uint64_t moved = prod - r->last_prod;

	r->last_prod = prod;
	/*
	 * Fast from a look that saw UB_RB_FAST bytes come, until one that saw none: a reader
	 * that took a fast stream as slow would chase its producer, which slows the producer
	 * down (to 5 M records/s, measured), and the stream would look slow from then on.
	 */
	r->fast = moved >= UB_RB_FAST || (r->fast && moved);
	if (cons == prod)
		return LOOK_NONE;
	if (prod - cons > r->keep)
		return LOOK_BATCH;
	if (!r->fast)
		return LOOK_ALL;	/* a slow stream: nobody is writing next to them */
	uint64_t t = now_ns();
	if (!r->seen)
		r->seen = t;
	return t - r->seen >= UB_RB_WAIT_NS ? LOOK_ALL : LOOK_NONE;
}

/*
 * Before sleeping in epoll_wait, look for data a little while, awake (producers skip
 * their eventfd write meanwhile): a producer that keeps up then costs neither side a
 * system call per record. Returns records consumed, 0 if none came, or -errno.
 *
 * The producer position and the lines just past it are what producers write: a reader
 * that read them at every look would pull them back and forth between the cores once
 * per record (measured: 15 M records/s of 64 bytes between two threads instead of 60).
 * So a look comes every UB_RB_SPIN_EVERY pauses, and from a fast stream takes only the
 * records that lie a ring's `keep` bytes behind the producer, in one go; records of a
 * fast stream that do not are taken once seen waiting UB_RB_WAIT_NS, which bounds the
 * delay this adds; a slow stream's records are taken at once. When the looks run out,
 * whatever is committed is taken before the caller may sleep.
 */
static int64_t spin_for_data(struct ring_buffer *rb, int looks)
{
	for (int k = 0; k < looks; k++) {
		int64_t res = 0;
		set_awake(rb, 1);
		for (int j = 0; j < UB_RB_SPIN_EVERY; j++)
			cpu_relax();
		for (int i = 0; i < rb->ring_cnt && res >= 0; i++) {
			struct ring *r = rb->rings[i];
			int what = look(r);
			if (what == LOOK_NONE)
				continue;
			int64_t n = process_ring(r, 0, what == LOOK_BATCH, UB_RB_ALL);
			if (n)
				r->seen = 0;
			res = n < 0 ? n : res + n;
		}
		if (res)
			return res;
	}
	set_awake(rb, 0);
	for (int i = 0; i < rb->ring_cnt; i++)
		rb->rings[i]->seen = 0;
	return any_ready(rb) ? process_all(rb, 0, UB_RB_ALL) : 0;
}

/*
 * Before the reader may sleep (in epoll_wait, or in the caller's own wait on the epoll fd
 * after a consume): asks producers of other processes to wake it again (maps/rb_wake.h)
 * and, for a ring one of them had woken meanwhile, takes what was committed since (its
 * wake-up may have been the one that covered it), at most max records; past that, the
 * records left make the epoll fd readable. A ring nobody woke is left alone: records
 * committed there without a wake-up (BPF_RB_NO_WAKEUP, or the reader was behind) stay
 * unseen until one comes, as with the kernel. Returns records taken, or -errno.
 */
static int64_t arm_ring(struct ring *r, uint64_t max)
{
	if (!ub_rbw_arm(&r->w) || !ready(r, __atomic_load_n(r->consumer_pos, __ATOMIC_RELAXED)))
		return 0;
	if (!max) {
		ub_evfd_signal(r->ev);
		return 0;
	}
	return process_ring(r, 1, 0, max);
}

static int64_t arm_all(struct ring_buffer *rb, uint64_t max)
{
	int64_t res = 0;

	for (int i = 0; i < rb->ring_cnt && res >= 0; i++) {
		int64_t n = arm_ring(rb->rings[i], max - (uint64_t)res);
		res = n < 0 ? n : res + n;
	}
	return res;
}

/* What the calls return: res records (INT_MAX at most) or -errno with errno set. */
static int result(int64_t res)
{
	if (res < 0)
		return rb_err((int)res);
	return res > INT_MAX ? INT_MAX : (int)res;
}

/*
 * What poll and consume return, once the reader is armed (arm_all), since the caller may
 * wait on ring_buffer__epoll_fd next: res records (of at most max) or -errno. Cheap when
 * nobody woke it: a load per ring.
 */
static int finish(struct ring_buffer *rb, int64_t res, uint64_t max)
{
	if (res >= 0) {
		int64_t more = arm_all(rb, max - (uint64_t)res);
		res = more < 0 ? more : res + more;
	}
	return result(res);
}

int ring_buffer__consume(struct ring_buffer *rb)
{
	return finish(rb, process_all(rb, 1, UB_RB_ALL), UB_RB_ALL);
}

/* libbpf 1.5: at most n records over the rings, in the order they were added (n = 0: none;
 * libbpf's takes one record then). */
int ring_buffer__consume_n(struct ring_buffer *rb, size_t n)
{
	return finish(rb, process_all(rb, 1, n), n);
}

int ring_buffer__poll(struct ring_buffer *rb, int timeout_ms)
{
	/* Only while records flow: an idle reader sleeps at once, and what it sees is what
	 * the producers' wake-ups say, as with the kernel (BPF_RB_NO_WAKEUP stays unseen
	 * until the timeout or another wake-up). A poll that left records behind (one pass,
	 * see process_ring) looks at least once, even with timeout 0. */
	int64_t res = rb->active ? spin_for_data(rb, timeout_ms ? UB_RB_SPIN : 0) : 0;

	if (!res)
		res = arm_all(rb, UB_RB_ALL);
	if (res)
		return finish(rb, res, UB_RB_ALL);
	rb->active = 0;
	int cnt = epoll_wait(rb->epoll_fd, rb->events, 2 * rb->ring_cnt, timeout_ms);
	if (cnt < 0)
		return rb_err(-errno);
	for (int i = 0; i < cnt; i++) {
		struct ring *r = rb->rings[rb->events[i].data.u32 / 2];
		if (rb->events[i].data.u32 % 2)
			ub_rbw_take(&r->w);
		else
			ub_evfd_take(r->ev);
		int64_t err = process_ring(r, 1, 0, UB_RB_ALL);
		if (err < 0)
			return result(err);
		res += err;
	}
	rb->active = res > 0;
	return finish(rb, res, UB_RB_ALL);
}

int ring_buffer__epoll_fd(const struct ring_buffer *rb)
{
	return rb->epoll_fd;
}

/* ---- one ring of a ring_buffer (libbpf 1.3 and 1.5) ---- */

struct ring *ring_buffer__ring(struct ring_buffer *rb, unsigned int idx)
{
	if (idx >= (unsigned int)rb->ring_cnt) {
		errno = ERANGE;		/* libbpf's answer */
		return NULL;
	}
	return rb->rings[idx];
}

unsigned long ring__consumer_pos(const struct ring *r)
{
	return __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
}

unsigned long ring__producer_pos(const struct ring *r)
{
	return __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
}

/* A racy estimate, as libbpf says: both positions may move meanwhile. */
size_t ring__avail_data_size(const struct ring *r)
{
	return ring__producer_pos(r) - ring__consumer_pos(r);
}

size_t ring__size(const struct ring *r)
{
	return r->mask + 1;
}

int ring__map_fd(const struct ring *r)
{
	return r->map_fd;
}

int ring__consume_n(struct ring *r, size_t n)
{
	int64_t res = process_ring(r, 1, 0, n);

	if (res >= 0) {
		int64_t more = arm_ring(r, n - (uint64_t)res);
		res = more < 0 ? more : res + more;
	}
	return result(res);
}

int ring__consume(struct ring *r)
{
	return ring__consume_n(r, INT_MAX);
}
