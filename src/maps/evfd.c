/*
 * ub_evfd: the process-wide registry of wake-up eventfds, one per backing file.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "maps/evfd.h"

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ub_evfd *reg_head;

static struct ub_evfd *find_locked(dev_t dev, ino_t ino)
{
	for (struct ub_evfd *e = reg_head; e; e = e->next)
		if (e->dev == dev && e->ino == ino)
			return e;
	return NULL;
}

static struct ub_evfd *create_locked(dev_t dev, ino_t ino)
{
	struct ub_evfd *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->fd < 0) {
		int err = errno;
		free(e);
		errno = err;
		return NULL;
	}
	e->dev = dev;
	e->ino = ino;
	e->next = reg_head;
	reg_head = e;
	return e;
}

struct ub_evfd *ub_evfd_get(int file_fd)
{
	struct stat st;

	if (fstat(file_fd, &st))
		return NULL;
	pthread_mutex_lock(&reg_lock);
	struct ub_evfd *e = find_locked(st.st_dev, st.st_ino);
	if (!e)
		e = create_locked(st.st_dev, st.st_ino);
	if (e)
		e->refcnt++;
	pthread_mutex_unlock(&reg_lock);
	return e;
}

void ub_evfd_put(struct ub_evfd *ev)
{
	if (!ev)
		return;
	pthread_mutex_lock(&reg_lock);
	int last = --ev->refcnt == 0;
	if (last) {
		struct ub_evfd **pp = &reg_head;
		while (*pp != ev)
			pp = &(*pp)->next;
		*pp = ev->next;
	}
	pthread_mutex_unlock(&reg_lock);
	if (last) {
		close(ev->fd);
		free(ev);
	}
}

void ub_evfd_signal(struct ub_evfd *ev)
{
	uint64_t one = 1;

	/* Sequentially consistent: ordered after the caller's publishing store. */
	if (__atomic_load_n(&ev->pending, __ATOMIC_SEQ_CST) ||
	    __atomic_exchange_n(&ev->pending, 1, __ATOMIC_SEQ_CST))
		return;
	/* EAGAIN only when the counter is at its maximum: the fd is readable anyway. */
	ssize_t rc = write(ev->fd, &one, sizeof(one));
	(void)rc;
	__atomic_store_n(&ev->written, 1, __ATOMIC_RELEASE);
}

void ub_evfd_awake(struct ub_evfd *ev)
{
	uint64_t cnt;

	/* Take the count only when a write landed: no system call per look otherwise. A
	 * write still under way is taken by a later look (it wakes an epoll once more). */
	if (__atomic_load_n(&ev->written, __ATOMIC_ACQUIRE) &&
	    __atomic_exchange_n(&ev->written, 0, __ATOMIC_ACQUIRE)) {
		ssize_t rc = read(ev->fd, &cnt, sizeof(cnt));
		(void)rc;
	}
	__atomic_store_n(&ev->pending, 1, __ATOMIC_SEQ_CST);
}

void ub_evfd_sleep(struct ub_evfd *ev)
{
	__atomic_store_n(&ev->pending, 0, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void ub_evfd_take(struct ub_evfd *ev)
{
	uint64_t cnt;

	__atomic_store_n(&ev->written, 0, __ATOMIC_RELAXED);
	ssize_t rc = read(ev->fd, &cnt, sizeof(cnt));
	(void)rc;	/* EAGAIN: taken already */
}
