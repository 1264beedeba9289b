/*
 * ub_perfbuf: the per-CPU buffers behind BPF_MAP_TYPE_PERF_EVENT_ARRAY.
 *
 * In the kernel each slot of the array holds a perf event (perf_event_open() with
 * PERF_COUNT_SW_BPF_OUTPUT) whose mmap()ed ring receives bpf_perf_event_output() records.
 * uebpf has no perf events, so a "perf buffer" is a shared-memory file in the same mmap
 * layout: page 0 is a struct perf_event_mmap_page (data_head, data_tail, data_offset,
 * data_size), the data pages follow, and records are the kernel's PERF_RECORD_SAMPLE
 * (PERF_SAMPLE_RAW: u32 size, then the data, padded to 8 bytes) and PERF_RECORD_LOST. The
 * fd of that file is what user space stores in the array (libbpf's perf_buffer__new does).
 * Wake-ups go through the file's eventfd (maps/evfd.h).
 */
#ifndef UB_PERF_EVENT_ARRAY_H
#define UB_PERF_EVENT_ARRAY_H
#include <stddef.h>
#include <stdint.h>

#define UB_PERFBUF_PAGE		4096u
#define UB_PERFBUF_META_OFF	2048u	/* uebpf's own fields, past the kernel's in page 0 */
#define UB_PERFBUF_MAGIC	"UEBPFPRF"

/* In page 0 at UB_PERFBUF_META_OFF: after struct perf_event_mmap_page's last field. */
struct ub_perfbuf_meta {
	char magic[8];
	uint32_t cpu;		/* the CPU the buffer is for (perf_event_open's cpu) */
	uint32_t lock;		/* writers (ub_shm_lock) */
	uint64_t lost;		/* records dropped since the last PERF_RECORD_LOST */
	uint64_t id;		/* the event id PERF_RECORD_LOST carries */
	uint64_t page_cnt;	/* data pages */
};

/* A new perf buffer for `cpu` with page_cnt (a power of 2) data pages: its fd or -errno. */
int ub_perfbuf_open(int cpu, size_t page_cnt);

/* The fd's buffer geometry if it is a uebpf perf buffer: 0, else -EBADF. */
int ub_perfbuf_probe(int fd, struct ub_perfbuf_meta *meta);

#endif
