/*
 * ub_rbw: cross-process wake-ups of ring buffer readers (see rb_wake.h).
 *
 * Everything read from the table comes from a shared file another process may have
 * written anything into: a slot that names no reader costs a datagram to an address
 * nobody bound (ECONNREFUSED), a full table leaves the reader without cross-process
 * wake-ups (it still sees the data at its next look), never more.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "maps/rb_wake.h"
#include "maps/shm.h"

static uint32_t *slot_table(void *cons_page)
{
	return (uint32_t *)(void *)((uint8_t *)cons_page + UB_RBW_OFF);
}

/* The abstract socket address of reader `pid` in slot `slot` of the file dev/ino. */
static socklen_t rbw_addr(struct sockaddr_un *a, dev_t dev, ino_t ino, uint32_t pid,
			  unsigned slot)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "uebpf-rbw-%llx-%llx-%u-%u",
			 (unsigned long long)dev, (unsigned long long)ino, pid, slot);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* A slot holds nobody, or a process that is gone. */
static int slot_free(uint32_t v)
{
	uint32_t pid = v & UB_RBW_PID;

	return !pid || ub_shm_owner_dead(pid);
}

int ub_rbw_join(struct ub_rbw *w, void *cons_page, dev_t dev, ino_t ino)
{
	uint32_t me = ub_shm_self_id();
	struct sockaddr_un a;

	w->slots = slot_table(cons_page);
	w->slot = -1;
	w->fd = -1;
	w->pid = me;
	for (unsigned i = 0; i < UB_RBW_SLOTS && w->slot < 0; i++) {
		uint32_t v = __atomic_load_n(&w->slots[i], __ATOMIC_ACQUIRE);
		/* Asleep from the start, as an eventfd reader's `pending` starts clear. */
		if (slot_free(v) && __atomic_compare_exchange_n(&w->slots[i], &v,
								 me | UB_RBW_ASLEEP, 0,
								 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			w->slot = (int)i;
	}
	if (w->slot < 0)
		return 0;	/* a full table: no cross-process wake-ups for this reader */
	w->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->fd < 0 || bind(w->fd, (struct sockaddr *)&a,
			      rbw_addr(&a, dev, ino, me, (unsigned)w->slot))) {
		int err = errno;
		ub_rbw_leave(w);
		return -err;
	}
	return 0;
}

void ub_rbw_leave(struct ub_rbw *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->slot >= 0)
		__atomic_store_n(&w->slots[w->slot], 0, __ATOMIC_RELEASE);
	w->fd = -1;
	w->slot = -1;
}

int ub_rbw_arm(struct ub_rbw *w)
{
	uint32_t armed = w->pid | UB_RBW_ASLEEP;

	/* Unchanged since the last arm: no producer of another process had to wake us. */
	if (w->slot < 0 || __atomic_load_n(&w->slots[w->slot], __ATOMIC_RELAXED) == armed)
		return 0;
	if (__atomic_exchange_n(&w->slots[w->slot], armed, __ATOMIC_SEQ_CST) & UB_RBW_SENT)
		ub_rbw_take(w);	/* a datagram came (or is coming: then epoll sees it) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* before the reader's last look */
	return 1;
}

void ub_rbw_take(struct ub_rbw *w)
{
	char b[16];

	while (w->fd >= 0 && recv(w->fd, b, sizeof(b), MSG_DONTWAIT) >= 0)
		;
}

/* One unbound datagram socket per process sends every wake-up. */
static int send_fd(void)
{
	static int fd = -1;
	int cur = __atomic_load_n(&fd, __ATOMIC_ACQUIRE);

	if (cur >= 0)
		return cur;
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (!__atomic_compare_exchange_n(&fd, &cur, s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		close(s);	/* another thread made one first */
		return cur;
	}
	return s;
}

void ub_rbw_wake(void *cons_page, dev_t dev, ino_t ino)
{
	uint32_t *slots = slot_table(cons_page), me = ub_shm_self_id();
	struct sockaddr_un a;

	for (unsigned i = 0; i < UB_RBW_SLOTS; i++) {
		/* Sequentially consistent: after the caller's commit, as ub_evfd_signal. */
		uint32_t v = __atomic_load_n(&slots[i], __ATOMIC_SEQ_CST);
		if (!(v & UB_RBW_ASLEEP))
			continue;
		if ((v & UB_RBW_PID) == me)
			continue;	/* this process's readers: its eventfd (maps/evfd.h) */
		if (!__atomic_compare_exchange_n(&slots[i], &v, v & ~UB_RBW_ASLEEP, 0,
						 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			continue;	/* woken by another producer, or awake */
		int fd = send_fd();
		if (fd >= 0) {
			ssize_t rc = sendto(fd, "", 1, MSG_DONTWAIT, (struct sockaddr *)&a,
					    rbw_addr(&a, dev, ino, v & UB_RBW_PID, i));
			(void)rc;	/* ECONNREFUSED: nobody there; EAGAIN: one is queued */
		}
		__atomic_fetch_or(&slots[i], UB_RBW_SENT, __ATOMIC_RELEASE);
	}
}
