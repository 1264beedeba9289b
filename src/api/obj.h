/*
 * ub_obj: maps, programs and links behind real file descriptors. The fd table maps an fd
 * number to the object it stands for; objects are reference counted, and the fd holds
 * one reference until uebpf notices the fd was closed (see ub_obj_sweep).
 */
#ifndef UB_API_OBJ_H
#define UB_API_OBJ_H
#include <stdint.h>
#include <sys/types.h>

enum ub_obj_type { UB_OBJ_NONE, UB_OBJ_MAP, UB_OBJ_PROG, UB_OBJ_LINK };

struct ub_obj {
	enum ub_obj_type type;
	int refcnt;			/* atomic */
	uint32_t id;			/* process-wide, per type, from 1 */
	int fd;				/* the object's own fd (closed by its release); the
					 * fds users hold are dups of it, so a user closing
					 * theirs never touches the object */
	void (*release)(struct ub_obj *obj);
	/* User references (fds in the table), as the kernel's usercnt: when the last one
	 * goes, last_user runs (a prog array drops its programs, breaking the cycle of a
	 * program that tail-calls through the array it is stored in). */
	int usercnt;
	void (*last_user)(struct ub_obj *obj);
};

/* Assigns an id and registers fd -> obj (taking over the caller's reference). */
int ub_obj_install(struct ub_obj *obj, int fd);
/* Hands out a new user fd for the object (a dup of obj->fd) and registers it. */
int ub_obj_publish(struct ub_obj *obj);
/* The object behind fd with a new reference, or NULL with errno EBADF / EINVAL. */
struct ub_obj *ub_obj_get(int fd, enum ub_obj_type type);
void ub_obj_hold(struct ub_obj *obj);
void ub_obj_put(struct ub_obj *obj);
/* Next id after `id` of a live object of `type`, or 0. */
uint32_t ub_obj_next_id(enum ub_obj_type type, uint32_t id);
/* A new fd for the object with that id (a dup of its fd), or -errno. */
int ub_obj_fd_by_id(enum ub_obj_type type, uint32_t id);
/* Drops entries whose fd was closed behind uebpf's back. */
void ub_obj_sweep(void);

#endif
