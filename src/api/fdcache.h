/*
 * ub_fdcache: per-thread answers of the fd table for the map element commands, valid until
 * an fd some thread cached is closed or replaced (close/dup2/dup3/close_range are
 * interposed). See fdcache.c for the guarantee and its limit (raw close system calls).
 */
#ifndef UB_API_FDCACHE_H
#define UB_API_FDCACHE_H
#include "api/obj.h"

/*
 * The object behind fd and the fd's access, as ub_obj_get_acc() answers, but borrowed:
 * the calling thread's cache holds the reference, which stays valid until this thread's
 * next call here (do not ub_obj_put it). NULL with errno as ub_obj_get_acc(), or errno 0
 * for an fd the cache does not take (use ub_obj_get_acc() then).
 */
struct ub_obj *ub_fdcache_get(int fd, enum ub_obj_type type, unsigned *acc);

/* Every cached answer is checked against the table again (an fd was reused). */
void ub_fdcache_invalidate(void);

/*
 * Gives back the references the calling thread's stale answers hold (their fd was closed):
 * an object closed by the program would otherwise stay alive, memory and all, until the
 * slot is reused. Only where no borrowed answer of this thread is in use (not inside a
 * map command): e.g. bpf_object__close.
 */
void ub_fdcache_flush(void);

#endif
