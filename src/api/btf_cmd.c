/*
 * ub_btfobj: BPF_BTF_LOAD. The blob is parsed and validated (btf/btf.c) and kept in an
 * object behind a real fd: a memfd holding the raw bytes, so tools can read them back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "api/bpf_cmd.h"
#include "api/btf_obj.h"

#define U64_PTR(x)	((void *)(uintptr_t)(x))
#define BTF_MAX_SIZE	(16u << 20)	/* the kernel's BTF_MAX_SIZE */
#define LOG_MIN_SIZE	128u		/* bpf_verifier_log_attr_valid() */
#define LOG_LEVEL_MASK	7u		/* BPF_LOG_MASK */

/* The live BTF objects: a map keeps its BTF alive after the user closed the BTF fd, and
 * BPF_BTF_GET_FD_BY_ID must still find it then (no fd of it is in the fd table). */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ub_btf_obj *live;

static void btf_release(struct ub_obj *obj)
{
	struct ub_btf_obj *o = (struct ub_btf_obj *)obj;

	pthread_mutex_lock(&live_lock);
	for (struct ub_btf_obj **pp = &live; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	pthread_mutex_unlock(&live_lock);
	ub_btf_free(o->btf);
	if (o->obj.fd >= 0)
		close(o->obj.fd);
	free(o);
}

struct ub_btf_obj *ub_btf_obj_get(int fd)
{
	return (struct ub_btf_obj *)ub_obj_get(fd, UB_OBJ_BTF);
}

/* The log attributes, as bpf_verifier_log_attr_valid(): a level needs a buffer and the
 * other way round, of 128 bytes to UINT_MAX >> 2. */
static int log_attr_ok(const union bpf_attr *attr)
{
	if (!attr->btf_log_level)
		return !attr->btf_log_buf && !attr->btf_log_size;
	return !(attr->btf_log_level & ~LOG_LEVEL_MASK) && attr->btf_log_buf &&
	       attr->btf_log_size >= LOG_MIN_SIZE && attr->btf_log_size <= (UINT32_MAX >> 2);
}

/*
 * The kernel parses each struct's special fields at load (btf_parse_struct_metas): a
 * struct with more than one bpf_spin_lock member is refused then, with E2BIG (more fields
 * of that kind than a value may hold).
 */
static int check_struct_locks(const struct ub_btf *btf, struct ub_log *log)
{
	for (uint32_t id = 1; id < ub_btf_type_cnt(btf); id++) {
		const struct btf_type *t = ub_btf_type(btf, id);
		if (!t || ub_btf_kind(t) != BTF_KIND_STRUCT)
			continue;
		const struct btf_member *m = (const struct btf_member *)(t + 1);
		unsigned locks = 0;
		for (uint32_t i = 0; i < ub_btf_vlen(t); i++, m++) {
			const struct btf_type *mt = ub_btf_skip_mods(btf, m->type, NULL);
			locks += mt && ub_btf_kind(mt) == BTF_KIND_STRUCT &&
				 !strcmp(ub_btf_str(btf, mt->name_off), "bpf_spin_lock");
		}
		if (locks > 1) {
			ub_log_printf(log, "BTF: type %u (struct %s): more than one bpf_spin_lock\n", id,
				      ub_btf_str(btf, t->name_off));
			return -E2BIG;
		}
	}
	return 0;
}

static int make_fd(const void *data, size_t size)
{
	int fd = memfd_create("uebpf-btf", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* The object for a parsed blob (taking btf over; freed on failure), listed as live. */
static struct ub_btf_obj *btf_obj_new(struct ub_btf *btf, const void *data, uint32_t size)
{
	struct ub_btf_obj *o = calloc(1, sizeof(*o));
	int fd = o ? make_fd(data, size) : -ENOMEM;

	if (fd < 0) {
		free(o);
		ub_btf_free(btf);
		return NULL;
	}
	o->obj = (struct ub_obj){ .type = UB_OBJ_BTF, .refcnt = 1, .release = btf_release,
				  .fd = fd };
	o->btf = btf;
	o->size = size;
	pthread_mutex_lock(&live_lock);
	o->next = live;
	live = o;
	pthread_mutex_unlock(&live_lock);
	return o;
}

int ub_cmd_btf_load(union bpf_attr *attr, unsigned int size)
{
	struct ub_log log;
	struct ub_btf *btf = NULL;
	char why[256] = "";

	if (ub_attr_tail_zero(attr, UB_ATTR_END(btf_log_level)))
		return -EINVAL;
	if (!log_attr_ok(attr))
		return -EINVAL;
	if (attr->btf_size > BTF_MAX_SIZE)
		return -E2BIG;
	if (!attr->btf)
		return -EFAULT;
	/* The reason goes to the caller's log when it asked for one, else to
	 * uebpf_last_error() only. */
	if (attr->btf_log_level)
		ub_log_init(&log, U64_PTR(attr->btf_log_buf), attr->btf_log_size);
	else
		ub_log_init(&log, why, sizeof(why));
	int err = ub_btf_parse(U64_PTR(attr->btf), attr->btf_size, &btf, &log);
	if (!err && (err = check_struct_locks(btf, &log)))
		ub_btf_free(btf);
	if (err) {
		ub_set_error("BPF_BTF_LOAD: %s", log.buf[0] ? log.buf : "invalid BTF");
		return err;
	}
	struct ub_btf_obj *o = btf_obj_new(btf, U64_PTR(attr->btf), attr->btf_size);
	if (!o)
		return -ENOMEM;
	int ufd = ub_obj_publish(&o->obj);
	if (ufd < 0)
		btf_release(&o->obj);
	return ufd;
}

struct ub_btf_obj *ub_btf_obj_from_blob(const void *data, uint32_t size, char *why,
					size_t whysz)
{
	struct ub_log log;
	struct ub_btf *btf = NULL;

	ub_log_init(&log, why, whysz);
	if (size > BTF_MAX_SIZE || ub_btf_parse(data, size, &btf, &log) ||
	    check_struct_locks(btf, &log)) {
		if (!why[0])
			snprintf(why, whysz, "invalid BTF");
		ub_btf_free(btf);
		return NULL;
	}
	struct ub_btf_obj *o = btf_obj_new(btf, data, size);
	if (!o) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	/* An id, as every BTF object has: given when an fd is first installed. The fd is
	 * closed at once; the table drops its entry (and the reference the fd took) at the
	 * next sweep. */
	ub_obj_hold(&o->obj);
	int fd = ub_obj_publish(&o->obj);
	if (fd < 0) {
		snprintf(why, whysz, "%s", strerror(-fd));
		btf_release(&o->obj);
		return NULL;
	}
	close(fd);
	ub_obj_sweep();
	return o;
}

int ub_btf_obj_read(const struct ub_btf_obj *o, void *buf)
{
	ssize_t n = pread(o->obj.fd, buf, o->size, 0);
	return n == (ssize_t)o->size ? 0 : n < 0 ? -errno : -EIO;
}

/* Takes a reference unless the object is already on its way out (refcount 0). */
static int hold_live(struct ub_btf_obj *o)
{
	int n = __atomic_load_n(&o->obj.refcnt, __ATOMIC_ACQUIRE);

	while (n > 0)
		if (__atomic_compare_exchange_n(&o->obj.refcnt, &n, n + 1, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return 1;
	return 0;
}

int ub_cmd_btf_get_fd_by_id(union bpf_attr *attr, unsigned int size)
{
	struct ub_btf_obj *o;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(open_flags)) || attr->open_flags)
		return -EINVAL;
	pthread_mutex_lock(&live_lock);
	for (o = live; o && !(o->obj.id == attr->btf_id && hold_live(o)); o = o->next)
		;
	pthread_mutex_unlock(&live_lock);
	if (!o)
		return -ENOENT;
	int fd = ub_obj_publish(&o->obj);
	if (fd < 0)
		ub_obj_put(&o->obj);
	return fd;
}

/* As the kernel's btf_get_info_by_fd(): the raw blob (as much as fits), its size, the id
 * and the name (empty for user BTF; -ENOSPC when the name buffer is too small). */
int ub_btf_info(const struct ub_btf_obj *o, union bpf_attr *attr)
{
	struct bpf_btf_info info;
	uint32_t len;
	int err = ub_info_in(attr, &info, sizeof(info), &len);

	if (err)
		return err;
	info.id = o->obj.id;
	if (info.btf && info.btf_size) {
		uint32_t n = info.btf_size < o->size ? info.btf_size : o->size;
		if (pread(o->obj.fd, U64_PTR(info.btf), n, 0) != (ssize_t)n)
			return -EFAULT;
	}
	info.btf_size = o->size;
	info.kernel_btf = 0;
	if (!info.name != !info.name_len)
		return -EINVAL;
	if (info.name)
		*(char *)U64_PTR(info.name) = '\0';	/* user BTF has no name */
	info.name_len = 0;
	if (len)
		memcpy(U64_PTR(attr->info.info), &info, len);
	attr->info.info_len = len;
	return 0;
}
