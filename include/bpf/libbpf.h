/*
 * uebpf's libbpf-compatible <bpf/libbpf.h>: the parts of libbpf 1.x's high-level API that
 * uebpf implements, with the same signatures and semantics (negative errno returns and
 * errno set; constructors return NULL with errno set). Each part sits in its own section.
 */
#ifndef UEBPF_BPF_LIBBPF_H
#define UEBPF_BPF_LIBBPF_H

#include <stddef.h>
#include <bpf/bpf.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Ring buffers and perf buffers (src/api/ringbuf_user.c, src/api/perf_buffer.c) ====
 *
 * Readers of BPF_MAP_TYPE_RINGBUF and BPF_MAP_TYPE_PERF_EVENT_ARRAY maps. Where libbpf
 * polls the kernel's map fd or perf event fds, uebpf's readers wait on eventfds that the
 * producing helpers signal; ring_buffer__epoll_fd() and perf_buffer__epoll_fd() give an
 * epoll fd over them, as libbpf's do. Producers in another process than the reader do not
 * wake it (their data is still read on the next poll timeout or consume).
 */

/* The number of possible CPUs (/sys/devices/system/cpu/possible), or -errno. */
LIBBPF_API int libbpf_num_possible_cpus(void);

struct ring_buffer;

typedef int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size);

struct ring_buffer_opts {
	size_t sz; /* size of this struct, for forward/backward compatibility */
};

#define ring_buffer_opts__last_field sz

LIBBPF_API struct ring_buffer *
ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx,
		 const struct ring_buffer_opts *opts);
LIBBPF_API void ring_buffer__free(struct ring_buffer *rb);
LIBBPF_API int ring_buffer__add(struct ring_buffer *rb, int map_fd,
				ring_buffer_sample_fn sample_cb, void *ctx);
LIBBPF_API int ring_buffer__poll(struct ring_buffer *rb, int timeout_ms);
LIBBPF_API int ring_buffer__consume(struct ring_buffer *rb);
LIBBPF_API int ring_buffer__epoll_fd(const struct ring_buffer *rb);

struct perf_buffer;

typedef void (*perf_buffer_sample_fn)(void *ctx, int cpu, void *data, __u32 size);
typedef void (*perf_buffer_lost_fn)(void *ctx, int cpu, __u64 cnt);

/* common use perf buffer options */
struct perf_buffer_opts {
	size_t sz;
};
#define perf_buffer_opts__last_field sz

LIBBPF_API struct perf_buffer *
perf_buffer__new(int map_fd, size_t page_cnt,
		 perf_buffer_sample_fn sample_cb, perf_buffer_lost_fn lost_cb, void *ctx,
		 const struct perf_buffer_opts *opts);

enum bpf_perf_event_ret {
	LIBBPF_PERF_EVENT_DONE	= 0,
	LIBBPF_PERF_EVENT_ERROR	= -1,
	LIBBPF_PERF_EVENT_CONT	= -2,
};

LIBBPF_API void perf_buffer__free(struct perf_buffer *pb);
LIBBPF_API int perf_buffer__epoll_fd(const struct perf_buffer *pb);
LIBBPF_API int perf_buffer__poll(struct perf_buffer *pb, int timeout_ms);
LIBBPF_API int perf_buffer__consume(struct perf_buffer *pb);
LIBBPF_API size_t perf_buffer__buffer_cnt(const struct perf_buffer *pb);

/* ==== end of ring buffers and perf buffers ==== */

#ifdef __cplusplus
}
#endif

#endif
