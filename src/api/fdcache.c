/*
 * ub_fdcache: the fast path from an fd number to its object, for the map element commands
 * (a user-space lookup should cost tens of nanoseconds, as the kernel's fdget() does).
 *
 * The fd table (api/obj.c) answers under a mutex and checks with fstat() that the fd still
 * holds the file it held when it was installed: an fd closed with plain close() and reused
 * for another file must not reach the old object. That costs a system call per command.
 * Here each thread keeps a few (fd -> object, access) answers of the table, each holding a
 * reference, valid while a process-wide generation has not moved. The generation moves
 * whenever an fd that some thread cached is closed or replaced: uebpf interposes close(),
 * dup2(), dup3() and close_range() (the process's calls, through libc's symbols), and
 * moves it after the fd is gone. So the guarantee of the fstat() check is kept for every
 * fd closed through libc; an fd closed by a raw system call (syscall(SYS_close)) is not
 * seen, and a cached answer for it lives until another cached fd is closed.
 *
 * The fd table also moves the generation when it finds an fd number reused for a new
 * object while its entry still named an old one (closed by a raw system call).
 *
 * Ordering: a thread marks the fd as cached before it asks the table (so a close that
 * completes after the table's fstat() sees the mark and moves the generation), and stores
 * the generation it read before asking, so such a close makes the new answer stale at once.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uebpf/uebpf.h>
#include "api/fdcache.h"

#define MAX_CACHED_FD	65536	/* larger fds take the table's path */
#define SLOTS		8	/* per thread, by fd number */

static uint64_t gen = 1;				/* even the first lookup misses */
static uint64_t cached_bits[MAX_CACHED_FD / 64];	/* fds some thread has cached */

struct slot {
	int fd;
	unsigned acc;
	uint64_t gen;
	struct ub_obj *obj;	/* holds a reference */
};

static __thread struct slot slots[SLOTS];
static __thread int registered;
static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* A thread that ends gives back the references its slots hold. */
static void thread_exit(void *unused)
{
	for (int i = 0; i < SLOTS; i++) {
		struct ub_obj *o = slots[i].obj;
		slots[i] = (struct slot){ 0 };
		if (o)
			ub_obj_put(o);
	}
}

static void make_key(void)
{
	pthread_key_create(&exit_key, thread_exit);
}

/* Lets go of this thread's answers from before generation g: their fds may be closed,
 * and a map is freed with its last fd, as the kernel's. */
static void drop_stale(uint64_t g)
{
	for (int i = 0; i < SLOTS; i++) {
		struct ub_obj *o = slots[i].obj;
		if (!o || slots[i].gen == g)
			continue;	/* empty, or still a valid answer */
		slots[i] = (struct slot){ 0 };
		ub_obj_put(o);
	}
}

/* The table's answer, cached. Every miss after the generation moved is one, so a thread
 * that goes on using maps also lets go of the ones closed meanwhile. */
static struct ub_obj *fill(struct slot *s, int fd, enum ub_obj_type type, unsigned *acc)
{
	if (!registered) {
		pthread_once(&key_once, make_key);
		pthread_setspecific(exit_key, (void *)1);
		registered = 1;
	}
	__atomic_fetch_or(&cached_bits[fd / 64], 1ull << (fd % 64), __ATOMIC_SEQ_CST);
	uint64_t g = __atomic_load_n(&gen, __ATOMIC_SEQ_CST);
	drop_stale(g);
	unsigned a = 0;
	struct ub_obj *obj = ub_obj_get_acc(fd, type, &a);
	if (!obj)
		return NULL;
	struct ub_obj *old = s->obj;
	*s = (struct slot){ .fd = fd, .acc = a, .gen = g, .obj = obj };
	if (old)
		ub_obj_put(old);
	*acc = a;
	return obj;
}

struct ub_obj *ub_fdcache_get(int fd, enum ub_obj_type type, unsigned *acc)
{
	if (fd < 0 || fd >= MAX_CACHED_FD) {
		errno = 0;
		return NULL;	/* the caller takes the table's path */
	}
	struct slot *s = &slots[fd % SLOTS];
	if (s->obj && s->fd == fd && s->gen == __atomic_load_n(&gen, __ATOMIC_ACQUIRE)) {
		if (s->obj->type != type) {
			errno = EINVAL;
			return NULL;
		}
		*acc = s->acc;
		return s->obj;
	}
	return fill(s, fd, type, acc);
}

/* ---- interposed fd calls ---- */

/* An fd is gone or holds another file now: answers cached for it must not be used. */
static void fd_gone(int fd)
{
	if (fd < 0)
		return;
	if (fd >= MAX_CACHED_FD) {
		__atomic_add_fetch(&gen, 1, __ATOMIC_SEQ_CST);
		return;
	}
	uint64_t bit = 1ull << (fd % 64);
	if (__atomic_load_n(&cached_bits[fd / 64], __ATOMIC_SEQ_CST) & bit) {
		__atomic_fetch_and(&cached_bits[fd / 64], ~bit, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&gen, 1, __ATOMIC_SEQ_CST);
	}
}

void ub_fdcache_invalidate(void)
{
	__atomic_add_fetch(&gen, 1, __ATOMIC_SEQ_CST);
}

void ub_fdcache_flush(void)
{
	drop_stale(__atomic_load_n(&gen, __ATOMIC_ACQUIRE));
}

/*
 * The next definition of a symbol: a sanitizer's interceptor when there is one (so its
 * bookkeeping of fds still happens), else libc's.
 */
static void *next_sym(const char *intercepted, const char *name)
{
	void *p = dlsym(RTLD_DEFAULT, intercepted);
	return p ? p : dlsym(RTLD_NEXT, name);
}

static int (*real_close)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_close_range)(unsigned int, unsigned int, int);

/* Resolved at load, not at the first call: close() must stay async-signal-safe. */
__attribute__((constructor)) static void resolve(void)
{
	real_close = (int (*)(int))next_sym("__interceptor_close", "close");
	real_dup2 = (int (*)(int, int))next_sym("__interceptor_dup2", "dup2");
	real_dup3 = (int (*)(int, int, int))next_sym("__interceptor_dup3", "dup3");
	real_close_range = (int (*)(unsigned int, unsigned int, int))
		next_sym("__interceptor_close_range", "close_range");
}

UEBPF_API int close(int fd)
{
	int rc = real_close ? real_close(fd) : (int)syscall(SYS_close, fd);
	int err = errno;

	fd_gone(fd);
	errno = err;
	return rc;
}

UEBPF_API int dup2(int oldfd, int newfd)
{
	int rc = real_dup2 ? real_dup2(oldfd, newfd) : (int)syscall(SYS_dup2, oldfd, newfd);
	int err = errno;

	if (rc >= 0 && oldfd != newfd)
		fd_gone(newfd);
	errno = err;
	return rc;
}

UEBPF_API int dup3(int oldfd, int newfd, int flags)
{
	int rc = real_dup3 ? real_dup3(oldfd, newfd, flags)
			   : (int)syscall(SYS_dup3, oldfd, newfd, flags);
	int err = errno;

	if (rc >= 0)
		fd_gone(newfd);
	errno = err;
	return rc;
}

UEBPF_API int close_range(unsigned int first, unsigned int last, int flags)
{
	int rc = real_close_range ? real_close_range(first, last, flags)
				  : (int)syscall(SYS_close_range, first, last, flags);
	int err = errno;

	ub_fdcache_invalidate();	/* a range: every cached answer is checked again */
	errno = err;
	return rc;
}
