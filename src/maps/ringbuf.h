/*
 * ub_ringbuf: BPF_MAP_TYPE_RINGBUF, shared by the map family (maps/ringbuf.c) and the
 * user-space reader (api/ringbuf_user.c).
 *
 * The map file holds the kernel's mmap layout: the consumer position page at offset 0,
 * the producer position page at 4096, then max_entries bytes of data. In memory the data
 * pages are mapped twice back to back (as the kernel's vmap of the same pages twice), so a
 * record that wraps past the end of the data area is contiguous. Records are the kernel's:
 * an 8-byte header { u32 len | BUSY | DISCARD; u32 pg_off } then the sample, each record
 * 8-byte aligned.
 */
#ifndef UB_RINGBUF_H
#define UB_RINGBUF_H
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>

#define UB_RB_PAGE		4096u
#define UB_RB_CONS_OFF		0u		/* file offsets */
#define UB_RB_PROD_OFF		UB_RB_PAGE
#define UB_RB_DATA_OFF		(2 * UB_RB_PAGE)
/* The reservation lock (the kernel's rb->spinlock) lives in the producer page, two cache
 * lines after producer_pos: shared by every process that produces into the file. */
#define UB_RB_LOCK_OFF		(UB_RB_PROD_OFF + 128u)
#define UB_RB_MAX_RECORD_SZ	(UINT32_MAX / 4)	/* RINGBUF_MAX_RECORD_SZ */

/*
 * Maps the producer page and the data pages of a ring buffer file (data size `size`) as
 * libbpf's reader sees them: the producer page, then the data twice. At `at` (MAP_FIXED
 * into a reservation the caller owns) or, with at == NULL, at a new address. Returns the
 * start (the producer page) or NULL with errno set.
 */
void *ub_ringbuf_map_data(int fd, size_t size, int prot, void *at);

/* Bytes of one record with its header, rounded to 8 (libbpf's roundup_len()). */
static inline uint32_t ub_ringbuf_rec_len(uint32_t hdr_len)
{
	hdr_len &= ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
	return (hdr_len + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
}

struct ub_map;
struct ub_run;
/* The wake-up fd registry entry of a ring buffer map (maps/evfd.h), or NULL. */
struct ub_evfd *ub_ringbuf_evfd(struct ub_map *map);
/* This process's producer view of map: where producers see the consumer position and the
 * data (for the reader's ThreadSanitizer annotations, api/ringbuf_user.c). 0, or -EINVAL. */
int ub_ringbuf_producer_view(struct ub_map *map, uint64_t **cons_pos, uint8_t **data);

/*
 * Checked runs: discards the records the run reserved and did not submit or discard.
 * The kernel's verifier refuses a program that can exit holding a record ("Unreleased
 * reference"); an unverified program that does so would otherwise leave a busy record
 * that stops every reader. Meant for the end of ub_run_exec().
 */
void ub_ringbuf_run_end(struct ub_run *run);

#endif
