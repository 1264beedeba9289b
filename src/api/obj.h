/*
 * ub_obj: maps, programs and links behind real file descriptors. The fd table maps an fd
 * number to the object it stands for; objects are reference counted, and the fd holds
 * one reference until uebpf notices the fd was closed (see ub_obj_sweep).
 */
#ifndef UB_API_OBJ_H
#define UB_API_OBJ_H
#include <stdint.h>
#include <sys/types.h>

enum ub_obj_type { UB_OBJ_NONE, UB_OBJ_MAP, UB_OBJ_PROG, UB_OBJ_LINK, UB_OBJ_BTF, UB_OBJ__COUNT };

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

/*
 * What an fd may do with its object through bpf(), as the kernel's FMODE_CAN_READ and
 * FMODE_CAN_WRITE of a bpf fd: fixed when the fd is installed (BPF_F_RDONLY/BPF_F_WRONLY of
 * the map's creation, of BPF_OBJ_GET's file_flags or of BPF_MAP_GET_FD_BY_ID's open_flags),
 * so that a command never asks the kernel for the fd's mode.
 */
enum { UB_ACC_READ = 1, UB_ACC_WRITE = 2, UB_ACC_RW = 3 };
/* The access of an fd opened with these BPF_F_RDONLY / BPF_F_WRONLY flags. */
unsigned ub_obj_acc_of_flags(uint32_t bpf_flags);

/* Assigns an id and registers fd -> obj (taking over the caller's reference); the fd's
 * access is its open mode (O_RDONLY: read, O_WRONLY: write, O_RDWR: both). */
int ub_obj_install(struct ub_obj *obj, int fd);
/* The same with the fd's access given (UB_ACC_*). */
int ub_obj_install_acc(struct ub_obj *obj, int fd, unsigned acc);
/* Hands out a new user fd for the object (a dup of obj->fd) and registers it. */
int ub_obj_publish(struct ub_obj *obj);
int ub_obj_publish_acc(struct ub_obj *obj, unsigned acc);
/* The object behind fd with a new reference, or NULL with errno EBADF / EINVAL. */
struct ub_obj *ub_obj_get(int fd, enum ub_obj_type type);
/* The same, also giving the fd's access (UB_ACC_*) when acc is not NULL. */
struct ub_obj *ub_obj_get_acc(int fd, enum ub_obj_type type, unsigned *acc);
void ub_obj_hold(struct ub_obj *obj);
void ub_obj_put(struct ub_obj *obj);
/* Next id after `id` of a live object of `type`, or 0. */
uint32_t ub_obj_next_id(enum ub_obj_type type, uint32_t id);
/* A new fd for the object with that id (a dup of its fd), or -errno. */
int ub_obj_fd_by_id(enum ub_obj_type type, uint32_t id);
int ub_obj_fd_by_id_acc(enum ub_obj_type type, uint32_t id, unsigned acc);
/* Drops entries whose fd was closed behind uebpf's back. */
void ub_obj_sweep(void);

#endif
