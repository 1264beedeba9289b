/*
 * ub_obj: the fd table. An entry remembers the (device, inode) of the file the fd held
 * when it was installed, so that a sweep can tell an fd closed (or reused for another
 * file) with plain close() from a live one, and release the object then. It also holds
 * what the fd may do (UB_ACC_*), the kernel's f_mode of a bpf fd.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include "api/fdcache.h"
#include "api/obj.h"

struct fd_entry {
	struct ub_obj *obj;
	dev_t dev;
	ino_t ino;
	unsigned acc;			/* UB_ACC_*: fixed at install */
};

static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fd_entry *tab;
static size_t tab_len;
static uint32_t next_id[UB_OBJ__COUNT];

void ub_obj_hold(struct ub_obj *obj)
{
	__atomic_add_fetch(&obj->refcnt, 1, __ATOMIC_RELAXED);
}

void ub_obj_put(struct ub_obj *obj)
{
	if (obj && __atomic_sub_fetch(&obj->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		obj->release(obj);
}

/* Drops the reference of an fd-table entry (called without the table lock). */
static void drop_entry(struct ub_obj *obj)
{
	if (!obj)
		return;
	if (__atomic_sub_fetch(&obj->usercnt, 1, __ATOMIC_ACQ_REL) == 0 && obj->last_user)
		obj->last_user(obj);
	ub_obj_put(obj);
}

static int grow(size_t fd)
{
	size_t n = tab_len ? tab_len : 64;

	while (n <= fd)
		n *= 2;
	struct fd_entry *t = realloc(tab, n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = tab_len; i < n; i++)
		t[i] = (struct fd_entry){ 0 };
	tab = t;
	tab_len = n;
	return 0;
}

static int same_file(int fd, const struct fd_entry *e)
{
	struct stat st;
	return fstat(fd, &st) == 0 && st.st_dev == e->dev && st.st_ino == e->ino;
}

/* Called with tab_lock held: collects stale objects to release outside the lock. */
static size_t sweep_locked(struct ub_obj **dead, size_t max)
{
	size_t n = 0;

	for (size_t fd = 0; fd < tab_len && n < max; fd++) {
		if (tab[fd].obj && !same_file((int)fd, &tab[fd])) {
			dead[n++] = tab[fd].obj;
			tab[fd].obj = NULL;
		}
	}
	return n;
}

void ub_obj_sweep(void)
{
	struct ub_obj *dead[64];
	size_t n;

	do {
		pthread_mutex_lock(&tab_lock);
		n = sweep_locked(dead, 64);
		pthread_mutex_unlock(&tab_lock);
		for (size_t i = 0; i < n; i++)
			drop_entry(dead[i]);
	} while (n == 64);
	/* Objects whose fds were closed may live on in this thread's fd cache: let them go
	 * here too, as the kernel frees a map with its last fd (other threads' caches let
	 * theirs go at their next miss, or when they end). */
	ub_fdcache_flush();
}

unsigned ub_obj_acc_of_flags(uint32_t bpf_flags)
{
	if (bpf_flags & BPF_F_RDONLY)
		return UB_ACC_READ;
	if (bpf_flags & BPF_F_WRONLY)
		return UB_ACC_WRITE;
	return UB_ACC_RW;
}

int ub_obj_install(struct ub_obj *obj, int fd)
{
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

	if (fl < 0)
		return -EBADF;
	fl &= O_ACCMODE;
	return ub_obj_install_acc(obj, fd, fl == O_RDONLY ? UB_ACC_READ
					    : fl == O_WRONLY ? UB_ACC_WRITE : UB_ACC_RW);
}

int ub_obj_install_acc(struct ub_obj *obj, int fd, unsigned acc)
{
	struct stat st;
	struct ub_obj *old = NULL;
	int err = 0;

	if (fd < 0 || fstat(fd, &st))
		return -EBADF;
	ub_obj_sweep();
	pthread_mutex_lock(&tab_lock);
	if ((size_t)fd >= tab_len)
		err = grow((size_t)fd);
	if (!err) {
		if (!obj->id)
			obj->id = ++next_id[obj->type];
		old = tab[fd].obj;	/* the fd number was closed and reused */
		__atomic_add_fetch(&obj->usercnt, 1, __ATOMIC_RELAXED);
		tab[fd] = (struct fd_entry){ .obj = obj, .dev = st.st_dev, .ino = st.st_ino,
					     .acc = acc & UB_ACC_RW };
	}
	pthread_mutex_unlock(&tab_lock);
	if (old)
		ub_fdcache_invalidate();	/* reused behind uebpf's back (a raw close) */
	drop_entry(old);
	return err;
}

struct ub_obj *ub_obj_get(int fd, enum ub_obj_type type)
{
	return ub_obj_get_acc(fd, type, NULL);
}

/*
 * An fd the table does not know that holds the file of a known object: a dup() of one of
 * its fds (dup, dup2, F_DUPFD), which the kernel lets stand for the same object. The entry
 * is made now. Its access is what every live fd of the object may do, within the fd's own
 * open mode: all of an object's fds share one open file, so which one was duplicated cannot
 * be told, and the narrowest answer is the safe one. Called with tab_lock held and no
 * entry at fd.
 */
static struct ub_obj *adopt_locked(int fd)
{
	struct stat st;
	struct ub_obj *obj = NULL;
	unsigned acc = UB_ACC_RW;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fstat(fd, &st) || grow((size_t)fd))
		return NULL;
	for (size_t i = 0; i < tab_len; i++) {
		struct fd_entry *e = &tab[i];
		if ((int)i == fd || !e->obj || e->dev != st.st_dev || e->ino != st.st_ino ||
		    !same_file((int)i, e) || (obj && e->obj != obj))
			continue;
		obj = e->obj;
		acc &= e->acc;
	}
	if (!obj)
		return NULL;
	fl &= O_ACCMODE;
	acc &= fl == O_RDONLY ? UB_ACC_READ : fl == O_WRONLY ? UB_ACC_WRITE : UB_ACC_RW;
	ub_obj_hold(obj);
	__atomic_add_fetch(&obj->usercnt, 1, __ATOMIC_RELAXED);
	tab[fd] = (struct fd_entry){ .obj = obj, .dev = st.st_dev, .ino = st.st_ino, .acc = acc };
	return obj;
}

struct ub_obj *ub_obj_get_acc(int fd, enum ub_obj_type type, unsigned *acc)
{
	struct ub_obj *obj = NULL, *stale = NULL;

	pthread_mutex_lock(&tab_lock);
	if (fd >= 0 && (size_t)fd < tab_len && tab[fd].obj) {
		/* An fd closed with plain close() and reused for another file is not the object. */
		if (same_file(fd, &tab[fd])) {
			obj = tab[fd].obj;
			if (acc)
				*acc = tab[fd].acc;
		} else {
			stale = tab[fd].obj, tab[fd].obj = NULL;
		}
	}
	if (!obj && fd >= 0 && (obj = adopt_locked(fd)) && acc)
		*acc = tab[fd].acc;
	if (obj && obj->type == type)
		ub_obj_hold(obj);
	pthread_mutex_unlock(&tab_lock);
	drop_entry(stale);
	if (!obj) {
		/* As the kernel: EBADF for an fd that is not open, EINVAL for any other file. */
		errno = fd >= 0 && fcntl(fd, F_GETFD) >= 0 ? EINVAL : EBADF;
		return NULL;
	}
	if (obj->type != type) {
		errno = EINVAL;
		return NULL;
	}
	return obj;
}

/* Finds the live entry of (type, id) with tab_lock held; -1 if none. */
static int find_id_locked(enum ub_obj_type type, uint32_t id)
{
	for (size_t fd = 0; fd < tab_len; fd++)
		if (tab[fd].obj && tab[fd].obj->type == type && tab[fd].obj->id == id)
			return (int)fd;
	return -1;
}

uint32_t ub_obj_next_id(enum ub_obj_type type, uint32_t id)
{
	uint32_t best = 0;

	ub_obj_sweep();
	pthread_mutex_lock(&tab_lock);
	for (size_t fd = 0; fd < tab_len; fd++) {
		struct ub_obj *o = tab[fd].obj;
		if (o && o->type == type && o->id > id && (!best || o->id < best))
			best = o->id;
	}
	pthread_mutex_unlock(&tab_lock);
	return best;
}

int ub_obj_publish(struct ub_obj *obj)
{
	return ub_obj_publish_acc(obj, UB_ACC_RW);
}

int ub_obj_publish_acc(struct ub_obj *obj, unsigned acc)
{
	int fd = fcntl(obj->fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	int err = ub_obj_install_acc(obj, fd, acc);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int ub_obj_fd_by_id(enum ub_obj_type type, uint32_t id)
{
	return ub_obj_fd_by_id_acc(type, id, UB_ACC_RW);
}

int ub_obj_fd_by_id_acc(enum ub_obj_type type, uint32_t id, unsigned acc)
{
	ub_obj_sweep();
	pthread_mutex_lock(&tab_lock);
	int fd = find_id_locked(type, id);
	struct ub_obj *obj = fd >= 0 ? tab[fd].obj : NULL;
	if (obj)
		ub_obj_hold(obj);
	pthread_mutex_unlock(&tab_lock);
	if (!obj)
		return -ENOENT;
	int nfd = ub_obj_publish_acc(obj, acc);
	if (nfd < 0)
		ub_obj_put(obj);
	return nfd;
}
