/*
 * ub_pbuser: libbpf's perf buffer reader (perf_buffer__new/poll/consume/epoll_fd/
 * buffer_cnt/free) over uebpf's BPF_MAP_TYPE_PERF_EVENT_ARRAY, following libbpf 1.1:
 * one buffer per online CPU (up to max_entries), stored in the array under the CPU's
 * index, read as perf_event_read_simple() reads a perf mmap ring. Where libbpf opens a
 * perf event per CPU, uebpf makes a perf buffer file (maps/perf_event_array.h) and waits
 * on its wake-up eventfd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "maps/evfd.h"
#include "maps/map.h"
#include "maps/perf_event_array.h"

struct perf_cpu_buf {
	struct perf_buffer *pb;
	void *base;		/* the mapped buffer: header page, then data */
	void *buf;		/* for records that wrap around the end of the data */
	size_t buf_size;
	int fd;
	int cpu;
	int map_key;
	struct ub_evfd *ev;
};

struct perf_buffer {
	perf_buffer_sample_fn sample_cb;
	perf_buffer_lost_fn lost_cb;
	void *ctx;
	size_t page_size;
	size_t mmap_size;	/* data bytes per buffer */
	struct perf_cpu_buf **cpu_bufs;
	struct epoll_event *events;
	int cpu_cnt;
	int epoll_fd;
	int map_fd;
};

struct perf_sample_raw {
	struct perf_event_header header;
	uint32_t size;
	char data[];
};

struct perf_sample_lost {
	struct perf_event_header header;
	uint64_t id;
	uint64_t lost;
};

static int pb_err(int err)
{
	if (err < 0)
		errno = -err;
	return err;
}

int libbpf_num_possible_cpus(void)
{
	return ub_num_possible_cpus();
}

/* The online CPUs, as libbpf's parse_cpu_mask_file(): a bool per CPU; 0 or -errno. */
static int online_cpus(int n, char *online)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	int a, b;
	char sep;

	if (!f)
		return -errno;
	memset(online, 0, (size_t)n);
	while (fscanf(f, "%d", &a) == 1) {
		b = a;
		if (fscanf(f, "%c", &sep) == 1 && sep == '-' && fscanf(f, "%d", &b) == 1)
			(void)fscanf(f, "%c", &sep);
		for (int c = a; c <= b && c < n; c++)
			if (c >= 0)
				online[c] = 1;
	}
	fclose(f);
	return 0;
}

static void free_cpu_buf(struct perf_buffer *pb, struct perf_cpu_buf *cb)
{
	if (!cb)
		return;
	if (cb->base)
		munmap(cb->base, pb->mmap_size + pb->page_size);
	if (cb->fd >= 0)
		close(cb->fd);
	ub_evfd_put(cb->ev);
	free(cb->buf);
	free(cb);
}

void perf_buffer__free(struct perf_buffer *pb)
{
	if (!pb)
		return;
	for (int i = 0; pb->cpu_bufs && i < pb->cpu_cnt && pb->cpu_bufs[i]; i++) {
		struct perf_cpu_buf *cb = pb->cpu_bufs[i];
		bpf_map_delete_elem(pb->map_fd, &cb->map_key);
		free_cpu_buf(pb, cb);
	}
	free(pb->cpu_bufs);
	if (pb->epoll_fd >= 0)
		close(pb->epoll_fd);
	free(pb->events);
	free(pb);
}

/* perf_buffer__open_cpu_buf(): the buffer file, mapped, with its wake-up fd. */
static struct perf_cpu_buf *open_cpu_buf(struct perf_buffer *pb, int cpu, int map_key,
					 int *err)
{
	struct perf_cpu_buf *cb = calloc(1, sizeof(*cb));

	if (!cb) {
		*err = -ENOMEM;
		return NULL;
	}
	*cb = (struct perf_cpu_buf){ .pb = pb, .cpu = cpu, .map_key = map_key };
	cb->fd = ub_perfbuf_open(cpu, pb->mmap_size / pb->page_size);
	*err = cb->fd < 0 ? cb->fd : 0;
	if (!*err) {
		cb->base = mmap(NULL, pb->mmap_size + pb->page_size, PROT_READ | PROT_WRITE,
				MAP_SHARED, cb->fd, 0);
		if (cb->base == MAP_FAILED) {
			cb->base = NULL;
			*err = -errno;
		}
	}
	if (!*err && !(cb->ev = ub_evfd_get(cb->fd)))
		*err = -errno;
	if (*err) {
		free_cpu_buf(pb, cb);
		return NULL;
	}
	return cb;
}

/* One buffer: opened, stored under its key, watched. 0 or -errno. */
static int add_cpu_buf(struct perf_buffer *pb, int cpu, int j)
{
	int err;
	struct perf_cpu_buf *cb = open_cpu_buf(pb, cpu, cpu, &err);

	if (!cb)
		return err;
	pb->cpu_bufs[j] = cb;
	if (bpf_map_update_elem(pb->map_fd, &cb->map_key, &cb->fd, 0))
		return -errno;
	pb->events[j].events = EPOLLIN;
	pb->events[j].data.ptr = cb;
	if (epoll_ctl(pb->epoll_fd, EPOLL_CTL_ADD, cb->ev->fd, &pb->events[j]) < 0)
		return -errno;
	return 0;
}

/* __perf_buffer__new() after the checks: a buffer per online CPU. */
static int open_all(struct perf_buffer *pb, uint32_t max_entries)
{
	pb->cpu_cnt = libbpf_num_possible_cpus();
	if (pb->cpu_cnt < 0)
		return pb->cpu_cnt;
	if (max_entries && max_entries < (uint32_t)pb->cpu_cnt)
		pb->cpu_cnt = (int)max_entries;
	pb->events = calloc((size_t)pb->cpu_cnt, sizeof(*pb->events));
	pb->cpu_bufs = calloc((size_t)pb->cpu_cnt, sizeof(*pb->cpu_bufs));
	char *online = malloc((size_t)pb->cpu_cnt);
	int err = pb->events && pb->cpu_bufs && online ? online_cpus(pb->cpu_cnt, online)
						       : -ENOMEM;
	int j = 0;
	for (int i = 0; !err && i < pb->cpu_cnt; i++) {
		if (!online[i])
			continue;	/* as libbpf: offline CPUs get no buffer */
		err = add_cpu_buf(pb, i, j);
		if (pb->cpu_bufs[j])
			j++;
	}
	free(online);
	pb->cpu_cnt = j;
	return err;
}

struct perf_buffer *perf_buffer__new(int map_fd, size_t page_cnt,
				     perf_buffer_sample_fn sample_cb, perf_buffer_lost_fn lost_cb,
				     void *ctx, const struct perf_buffer_opts *opts)
{
	struct bpf_map_info map;
	__u32 len = sizeof(map);
	size_t sz = 0;

	if (opts)
		memcpy(&sz, &opts->sz, sizeof(sz));
	if (opts && sz < sizeof(size_t))
		return errno = EINVAL, NULL;
	for (size_t i = sizeof(*opts); opts && i < sz; i++)
		if (((const unsigned char *)opts)[i])
			return errno = EINVAL, NULL;
	if (page_cnt == 0 || (page_cnt & (page_cnt - 1)))
		return errno = EINVAL, NULL;	/* "page count should be power of two" */
	memset(&map, 0, sizeof(map));
	if (bpf_obj_get_info_by_fd(map_fd, &map, &len))
		return NULL;	/* errno from the command */
	if (map.type != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return errno = EINVAL, NULL;
	struct perf_buffer *pb = calloc(1, sizeof(*pb));
	if (!pb)
		return errno = ENOMEM, NULL;
	*pb = (struct perf_buffer){ .sample_cb = sample_cb, .lost_cb = lost_cb, .ctx = ctx,
				    .page_size = (size_t)getpagesize(), .map_fd = map_fd };
	pb->mmap_size = pb->page_size * page_cnt;
	pb->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	int err = pb->epoll_fd < 0 ? -errno : open_all(pb, map.max_entries);
	if (err) {
		perf_buffer__free(pb);
		return errno = -err, NULL;
	}
	return pb;
}

/* perf_buffer__process_record() */
static enum bpf_perf_event_ret process_record(struct perf_event_header *e, void *ctx)
{
	struct perf_cpu_buf *cb = ctx;
	struct perf_buffer *pb = cb->pb;

	switch (e->type) {
	case PERF_RECORD_SAMPLE: {
		struct perf_sample_raw *s = (struct perf_sample_raw *)e;
		if (pb->sample_cb)
			pb->sample_cb(pb->ctx, cb->cpu, s->data, s->size);
		break;
	}
	case PERF_RECORD_LOST: {
		struct perf_sample_lost *s = (struct perf_sample_lost *)e;
		if (pb->lost_cb)
			pb->lost_cb(pb->ctx, cb->cpu, s->lost);
		break;
	}
	default:
		return LIBBPF_PERF_EVENT_ERROR;	/* "unknown perf sample type" */
	}
	return LIBBPF_PERF_EVENT_CONT;
}

/* A record that wraps past the end of the data, copied whole into cb->buf. */
static struct perf_event_header *unwrap(struct perf_cpu_buf *cb, uint8_t *base, size_t off,
					size_t n)
{
	size_t first = cb->pb->mmap_size - off;

	if (cb->buf_size < n) {
		free(cb->buf);
		cb->buf = malloc(n);
		cb->buf_size = cb->buf ? n : 0;
		if (!cb->buf)
			return NULL;
	}
	memcpy(cb->buf, base + off, first);
	memcpy((uint8_t *)cb->buf + first, base, n - first);
	return cb->buf;
}

/* perf_event_read_simple(): records from data_tail to data_head, then the new tail. */
static int read_simple(struct perf_cpu_buf *cb, uint64_t head)
{
	struct perf_event_mmap_page *header = cb->base;
	uint8_t *base = (uint8_t *)cb->base + cb->pb->page_size;
	size_t size = cb->pb->mmap_size;
	uint64_t tail = header->data_tail;
	int ret = LIBBPF_PERF_EVENT_CONT;

	while (head != tail) {
		size_t off = (size_t)(tail & (size - 1));
		struct perf_event_header *e = (struct perf_event_header *)(void *)(base + off);
		size_t n = e->size;
		if (n < sizeof(*e) || n > head - tail) {
			ret = LIBBPF_PERF_EVENT_ERROR;	/* corrupt: stop, do not loop */
			break;
		}
		if (off + n > size && !(e = unwrap(cb, base, off, n))) {
			ret = LIBBPF_PERF_EVENT_ERROR;
			break;
		}
		ret = process_record(e, cb);
		tail += n;
		if (ret != LIBBPF_PERF_EVENT_CONT)
			break;
	}
	__atomic_store_n(&header->data_tail, tail, __ATOMIC_RELEASE);
	return ret == LIBBPF_PERF_EVENT_CONT ? 0 : ret;
}

/* Every record of the buffer, with the reader protocol of maps/evfd.h around it. */
static int process_records(struct perf_cpu_buf *cb)
{
	struct perf_event_mmap_page *header = cb->base;

	for (;;) {
		ub_evfd_awake(cb->ev);
		int err = read_simple(cb, __atomic_load_n(&header->data_head, __ATOMIC_ACQUIRE));
		ub_evfd_sleep(cb->ev);
		if (err)
			return err;
		if (__atomic_load_n(&header->data_head, __ATOMIC_ACQUIRE) == header->data_tail)
			return 0;
	}
}

int perf_buffer__poll(struct perf_buffer *pb, int timeout_ms)
{
	int cnt = epoll_wait(pb->epoll_fd, pb->events, pb->cpu_cnt, timeout_ms);

	if (cnt < 0)
		return pb_err(-errno);
	for (int i = 0; i < cnt; i++) {
		int err = process_records(pb->events[i].data.ptr);
		if (err)
			return pb_err(err);
	}
	return cnt;
}

int perf_buffer__consume(struct perf_buffer *pb)
{
	for (int i = 0; i < pb->cpu_cnt; i++) {
		int err = pb->cpu_bufs[i] ? process_records(pb->cpu_bufs[i]) : 0;
		if (err)
			return pb_err(err);
	}
	return 0;
}

int perf_buffer__epoll_fd(const struct perf_buffer *pb)
{
	return pb->epoll_fd;
}

size_t perf_buffer__buffer_cnt(const struct perf_buffer *pb)
{
	return (size_t)pb->cpu_cnt;
}
