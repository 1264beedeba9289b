/*
 * ub_rbw: wake-ups of ring buffer readers in other processes than the producer.
 *
 * maps/evfd.h wakes a reader of the same process (an eventfd does not cross processes). A
 * ring buffer's file is shared, so its consumer page, which the kernel's layout leaves
 * empty past consumer_pos, holds a small table of reader slots: a reader's pid, with
 * UB_RBW_ASLEEP set while it may sleep. Each reader also binds an abstract unix datagram
 * socket named after the file and its pid, which its epoll set watches. A producer whose
 * commit would wake the reader (the kernel's rule: the reader is at this record) clears
 * the ASLEEP bit of every sleeping reader of another process and sends it one datagram;
 * the bit makes that at most one datagram per sleep, as `pending` does for the eventfd.
 */
#ifndef UB_RB_WAKE_H
#define UB_RB_WAKE_H
#include <stdint.h>
#include <sys/types.h>

/* The slot table's offset in the consumer page: far from consumer_pos (offset 0), which
 * producers read at every commit. At offset 64, the line next to it, the reader's slot
 * writes cut two-thread throughput from 64 to 11 M records/s (measured: the CPU fetches
 * lines in pairs). */
#define UB_RBW_OFF	2048u
#define UB_RBW_SLOTS	8u
#define UB_RBW_ASLEEP	0x80000000u	/* pids are below 2^22 (PID_MAX_LIMIT) */

/* A reader's membership: its slot and its socket (-1 when the table was full). */
struct ub_rbw {
	uint32_t *slots;
	int slot;
	int fd;
	uint32_t pid;	/* at join: getpid() is a system call, and a look must be cheap */
};

/* Joins the readers of the ring whose consumer page is cons_page (the file dev/ino):
 * claims a free slot (or one of a dead process) and binds the socket. 0, or -errno. */
int ub_rbw_join(struct ub_rbw *w, void *cons_page, dev_t dev, ino_t ino);
void ub_rbw_leave(struct ub_rbw *w);

/* The reader protocol of maps/evfd.h: awake before looking at the data, asleep (sequentially
 * consistent) before the last look; take drains the datagrams epoll reported. */
void ub_rbw_awake(struct ub_rbw *w);
void ub_rbw_sleep(struct ub_rbw *w);
void ub_rbw_take(struct ub_rbw *w);

/* Producer: wakes the sleeping readers of other processes (see above). */
void ub_rbw_wake(void *cons_page, dev_t dev, ino_t ino);

#endif
