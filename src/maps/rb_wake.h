/*
 * ub_rbw: wake-ups of ring buffer readers in other processes than the producer.
 *
 * maps/evfd.h wakes a reader of the same process (an eventfd does not cross processes). A
 * ring buffer's file is shared, so its consumer page, which the kernel's layout leaves
 * empty past consumer_pos, holds a small table of reader slots: a reader's pid, with
 * UB_RBW_ASLEEP set while it may be asleep. Each reader also binds an abstract unix datagram
 * socket named after the file and its pid, which its epoll set watches. A producer whose
 * commit would wake the reader (the kernel's rule: the reader is at this record) clears
 * the ASLEEP bit of every sleeping reader of another process, sends it one datagram and
 * sets UB_RBW_SENT. The ASLEEP bit makes that at most one datagram per sleep, as `pending`
 * does for the eventfd; SENT tells the reader to take it (as the eventfd's `written`), so
 * that a reader that never calls ring_buffer__poll does not leave its epoll fd readable.
 *
 * Only producers clear ASLEEP, and the reader sets it again only where it may sleep: just
 * before epoll_wait and when ring_buffer__poll or __consume returns (ub_rbw_arm). A reader
 * spinning on a fast stream so never writes the line producers read at every wake-up, and
 * writes it at most once per wake-up otherwise.
 */
#ifndef UB_RB_WAKE_H
#define UB_RB_WAKE_H
#include <stdint.h>
#include <sys/types.h>

/* The slot table's offset in the consumer page: far from consumer_pos (offset 0), which
 * producers read at every commit, and from the line next to it (CPUs fetch lines in
 * pairs). The first version, which wrote its slot at every look, measured 11 instead of
 * 64 M records/s between two threads with the table at offset 64 (one run: this machine
 * also has slow streaks of its own, docs/maps.md). */
#define UB_RBW_OFF	2048u
#define UB_RBW_SLOTS	8u
#define UB_RBW_ASLEEP	0x80000000u	/* pids are below 2^22 (PID_MAX_LIMIT) */
#define UB_RBW_SENT	0x40000000u
#define UB_RBW_PID	0x3fffffffu

/* A reader's membership: its slot and its socket (-1 when the table was full). */
struct ub_rbw {
	uint32_t *slots;
	int slot;
	int fd;
	uint32_t pid;	/* this process's, at join */
};

/* Joins the readers of the ring whose consumer page is cons_page (the file dev/ino):
 * claims a free slot (or one of a dead process) and binds the socket. 0, or -errno. */
int ub_rbw_join(struct ub_rbw *w, void *cons_page, dev_t dev, ino_t ino);
void ub_rbw_leave(struct ub_rbw *w);

/*
 * Reader, before it may sleep: sets ASLEEP again if a producer of another process cleared
 * it (taking the datagram that producer SENT) and returns 1; then the caller must look at
 * the data once more (a full fence orders that look after the store): a record committed
 * before a producer found the bit clear is seen by that look, one committed after makes
 * the producer send. Returns 0 when the slot was still armed: every producer that had to
 * wake us since the last arm found the bit set and cleared it, so nothing was missed.
 */
int ub_rbw_arm(struct ub_rbw *w);
/* Drains the datagrams (epoll reported the socket readable). */
void ub_rbw_take(struct ub_rbw *w);

/* Producer: wakes the sleeping readers of other processes (see above). */
void ub_rbw_wake(void *cons_page, dev_t dev, ino_t ino);

#endif
