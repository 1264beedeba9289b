/*
 * ub_evfd: wake-up fds for ring buffers and perf buffers.
 *
 * The kernel makes a ring buffer's map fd (and a perf event's fd) pollable. A uebpf map
 * is a plain shared-memory file, which poll() always reports ready and epoll refuses, so
 * the producer side signals an eventfd instead and readers wait on that. There is one
 * eventfd per backing file per process (found by device and inode), so every map object
 * and reader in the process that opened the same file shares it. An eventfd does not cross
 * processes: ring buffer readers of other processes are woken through maps/rb_wake.h; a
 * perf buffer reader in another process than the producer is not woken (it still sees
 * the data when it consumes).
 */
#ifndef UB_EVFD_H
#define UB_EVFD_H
#include <stdint.h>
#include <sys/types.h>

struct ub_evfd {
	dev_t dev;
	ino_t ino;
	int fd;			/* eventfd, non-blocking, close-on-exec */
	/*
	 * 1 while producers need not write the eventfd: a wake-up was written and not yet
	 * taken, or the reader is awake and will look at the data before it sleeps. The
	 * kernel similarly queues its wake-up irq_work only once.
	 */
	uint32_t pending;
	/* Set after a write() lands, so the reader knows the counter may be non-zero. */
	uint32_t written;
	int refcnt;		/* under the registry lock */
	struct ub_evfd *next;
};

/* The wake-up fd of the file behind file_fd (created on first use). NULL + errno. */
struct ub_evfd *ub_evfd_get(int file_fd);
void ub_evfd_put(struct ub_evfd *ev);

/* Producer, after publishing data: makes the fd readable unless `pending` says the
 * reader will see the data anyway. */
void ub_evfd_signal(struct ub_evfd *ev);

/*
 * Reader protocol: ub_evfd_awake() before looking at the data (takes any wake-up written,
 * tells producers not to write); ub_evfd_sleep() when done, then look once more: data
 * published before a producer found `pending` clear is seen by that look, and data
 * published after it makes the producer write. Readers that find more data call
 * ub_evfd_awake() again and go on.
 */
void ub_evfd_awake(struct ub_evfd *ev);
void ub_evfd_sleep(struct ub_evfd *ev);
/*
 * A reader that epoll found the fd readable takes the count whatever `written` says: a
 * producer descheduled between its write() and setting `written` would otherwise leave
 * the fd readable and epoll_wait returning at once, again and again, until it runs.
 */
void ub_evfd_take(struct ub_evfd *ev);

#endif
