/*
 * ub_cmd (objects): pinning, opening pinned objects, object info, and shared helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uebpf/uebpf.h>
#include "api/bpf_cmd.h"
#include "maps/map.h"
#include "maps/shm.h"
#include "api/prog_obj.h"
#include "api/btf_obj.h"
#include "api/prog_pin.h"
#include <sys/mman.h>

#define U64_PTR(x) ((void *)(uintptr_t)(x))

static __thread char last_error[256];

void ub_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *uebpf_last_error(void)
{
	return last_error;
}

int ub_attr_tail_zero(const union bpf_attr *attr, size_t end)
{
	const unsigned char *p = (const unsigned char *)attr;
	size_t i = end;
	uint64_t w;

	/* Byte by byte to a word boundary, then by words: this runs on every command. */
	for (; i < sizeof(*attr) && i % 8; i++)
		if (p[i])
			return -EINVAL;
	uint64_t any = 0;
	for (; i + 8 <= sizeof(*attr); i += 8) {	/* no branch per word: vectorised */
		memcpy(&w, p + i, 8);
		any |= w;
	}
	if (any)
		return -EINVAL;
	for (; i < sizeof(*attr); i++)
		if (p[i])
			return -EINVAL;
	return 0;
}

/* Reads a NUL-terminated user path, refusing one longer than PATH_MAX. */
static int user_path(uint64_t uptr, char *buf, size_t size)
{
	const char *s = U64_PTR(uptr);

	if (!s)
		return -EFAULT;
	size_t n = strnlen(s, size);
	if (n == size)
		return -ENAMETOOLONG;
	memcpy(buf, s, n + 1);
	return 0;
}

/* Pins a map by linking its backing file at the path: the pin is the live map. */
int ub_cmd_obj_pin(union bpf_attr *attr, unsigned int size)
{
	char path[4096], real[4096], proc[64];
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(file_flags)) || attr->file_flags)
		return -EINVAL;
	if ((err = user_path(attr->pathname, path, sizeof(path))) ||
	    (err = ub_shm_pin_path(path, real, sizeof(real))))
		return err;
	struct ub_map *map = ub_map_get((int)attr->bpf_fd);
	if (!map)	/* a program is a file of its own (prog_pin.c); the kernel answers
			 * EINVAL for any fd that is no bpf object (links: once they exist) */
		return ub_prog_pin_write((int)attr->bpf_fd, path, real, 0600);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", map->obj.fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, real, AT_SYMLINK_FOLLOW)) {
		err = -errno;
		if (err == -EXDEV)
			ub_set_error("pin %s: the map's memory lives in %s, another file system; "
				     "pin under the pin root (UEBPF_PIN_ROOT)", real, ub_shm_pin_root());
		else
			ub_set_error("pin %s: %s", real, strerror(-err));
	} else {
		ub_prog_pin_note_map(map->obj.fd, path, real);
	}
	ub_map_put(map);
	return err;
}

/*
 * uebpf_obj_pin_mode: a pin with a chosen mode. A pin is the map's file itself (every pin
 * of a map is a link to the one file), so the mode is the map's: it changes for all its
 * pins. Plain pins keep the mode the file was made with, 0600 (as the kernel's bpffs pins,
 * S_IRUSR | S_IWUSR, less the umask).
 */
int uebpf_obj_pin_mode(int fd, const char *path, unsigned int mode)
{
	struct stat st;
	int err;

	if (mode & ~0777u)
		return -EINVAL;
	struct ub_map *map = ub_map_get(fd);
	if (!map) {	/* a program: its own file, made with that mode */
		char real[4096];
		if (!path)
			return -EFAULT;
		err = ub_shm_pin_path(path, real, sizeof(real));
		return err ? err : ub_prog_pin_write(fd, path, real, mode);
	}
	err = fstat(map->obj.fd, &st) || fchmod(map->obj.fd, mode) ? -errno : 0;
	if (!err) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.pathname = (uint64_t)(uintptr_t)path;
		attr.bpf_fd = (uint32_t)fd;
		err = ub_cmd_obj_pin(&attr, sizeof(attr));
		if (err && fchmod(map->obj.fd, st.st_mode & 07777))
			err = -errno;
	}
	ub_map_put(map);
	return err;
}

/*
 * Whether a pin may be trusted, beyond what open() checked (the file's mode against the
 * caller): a file that another user owns (not root) and lets group or others write could
 * have been written by anyone, and a file in a directory that anyone may write (without the
 * sticky bit) could have been put there by anyone. NULL or the reason to refuse it.
 */
static const char *pin_untrusted(const char *real, const struct stat *st, char *buf,
				 size_t bufsz)
{
	char dir[4096];
	struct stat dst;
	const char *slash = strrchr(real, '/');

	if (st->st_uid != geteuid() && st->st_uid != 0 && (st->st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(buf, bufsz, "owned by uid %u and writable by %s", (unsigned)st->st_uid,
			 st->st_mode & S_IWOTH ? "anyone" : "its group");
		return buf;
	}
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - real) : 1, slash ? real : ".");
	if (!dir[0])
		snprintf(dir, sizeof(dir), "/");
	if (!stat(dir, &dst) && (dst.st_mode & S_IWOTH) && !(dst.st_mode & S_ISVTX)) {
		snprintf(buf, bufsz, "its directory is writable by anyone (no sticky bit)");
		return buf;
	}
	return NULL;
}

/*
 * Opens a pin path for ub_map_open_file(). As the kernel's bpf_obj_get(): a path that is not
 * there is ENOENT, a file that is no bpf object (a directory, a device, a FIFO) is EACCES.
 * Only regular files are opened, so a FIFO or a device is never opened at all; a symlink is
 * not followed (ELOOP): a pin is the object itself. Returns the fd or -errno, with a message.
 */
static int open_pinned(const char *real, uint32_t file_flags)
{
	struct stat st, st2;
	/* A write-only fd still needs read access to the file to map it. */
	int mode = file_flags & BPF_F_RDONLY ? O_RDONLY : O_RDWR;

	if (fstatat(AT_FDCWD, real, &st, AT_SYMLINK_NOFOLLOW)) {
		int err = -errno;
		ub_set_error("open %s: %s", real, strerror(errno));
		return err;
	}
	if (S_ISLNK(st.st_mode)) {
		ub_set_error("open %s: a symlink (not followed: a pin is the object itself)", real);
		return -ELOOP;
	}
	if (!S_ISREG(st.st_mode)) {
		ub_set_error("%s: not a uebpf map file: not a regular file", real);
		return -EACCES;
	}
	int fd = open(real, mode | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int err = -errno;
		ub_set_error("open %s: %s", real, strerror(errno));
		return err;
	}
	/* Replaced between the two looks: whatever is there now was not checked. */
	if (fstat(fd, &st2) || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		close(fd);
		ub_set_error("%s: not a uebpf map file: replaced while opening", real);
		return -EACCES;
	}
	char why[160];
	if (pin_untrusted(real, &st2, why, sizeof(why))) {
		close(fd);
		ub_set_error("%s: refused: %s", real, why);
		return -EACCES;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);	/* only against FIFOs */
	return fd;
}

int ub_cmd_obj_get(union bpf_attr *attr, unsigned int size)
{
	char path[4096], real[4096], why[200];
	int err;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(file_flags)))
		return -EINVAL;
	if (attr->bpf_fd || (attr->file_flags & ~(uint32_t)(BPF_F_RDONLY | BPF_F_WRONLY)) ||
	    (attr->file_flags & BPF_F_RDONLY && attr->file_flags & BPF_F_WRONLY))
		return -EINVAL;
	if ((err = user_path(attr->pathname, path, sizeof(path))) ||
	    (err = ub_shm_pin_path(path, real, sizeof(real))))
		return err;
	int fd = open_pinned(real, attr->file_flags);
	if (fd < 0)
		return fd;
	if (ub_prog_pin_is(fd)) {	/* a pinned program: load it again */
		err = ub_prog_pin_open(fd, real);
		close(fd);
		return err;
	}
	err = ub_map_open_file(fd, attr->file_flags, why, sizeof(why));
	if (err < 0) {
		ub_set_error("%s: %s", real, why);
		close(fd);
	} else {
		struct ub_map *map = ub_map_get(err);
		if (map)
			ub_prog_pin_note_map(map->obj.fd, path, real);
		ub_map_put(map);
	}
	return err;
}

int ub_info_in(const union bpf_attr *attr, void *info, size_t size, uint32_t *len)
{
	const unsigned char *u = U64_PTR(attr->info.info);

	*len = attr->info.info_len;
	for (uint32_t i = (uint32_t)size; u && i < *len; i++)
		if (u[i])
			return -E2BIG;
	if (*len > size)
		*len = (uint32_t)size;
	if (!u && *len)
		return -EFAULT;
	memset(info, 0, size);
	if (*len)
		memcpy(info, u, *len);
	return 0;
}

static int map_info(struct ub_map *map, union bpf_attr *attr)
{
	struct bpf_map_info info;
	uint32_t len;
	int err = ub_info_in(attr, &info, sizeof(info), &len);

	if (err)
		return err;
	memset(&info, 0, sizeof(info));	/* a map's info has no pointer fields */
	info.type = map->type;
	info.id = map->obj.id;
	info.key_size = map->key_size;
	info.value_size = map->value_size;
	info.max_entries = map->max_entries;
	/* As bpf_map_flags_retain_permanent(): RDONLY/WRONLY belong to the fd, not the map. */
	info.map_flags = map->flags & ~(uint32_t)(BPF_F_RDONLY | BPF_F_WRONLY);
	memcpy(info.name, map->hdr->name, sizeof(info.name));
	if (map->btf) {
		info.btf_id = map->btf->obj.id;
		info.btf_key_type_id = map->btf_key_type_id;
		info.btf_value_type_id = map->btf_value_type_id;
	}
	info.name[sizeof(info.name) - 1] = '\0';
	memcpy(U64_PTR(attr->info.info), &info, len);
	attr->info.info_len = len;
	return 0;
}

int ub_cmd_obj_get_info(union bpf_attr *attr, unsigned int size)
{
	if (ub_attr_tail_zero(attr, UB_ATTR_END(info.info)))
		return -EINVAL;
	struct ub_map *map = ub_map_get((int)attr->info.bpf_fd);
	if (map) {
		int err = map_info(map, attr);
		ub_map_put(map);
		return err;
	}
	struct ub_btf_obj *b = ub_btf_obj_get((int)attr->info.bpf_fd);
	if (b) {
		int err = ub_btf_info(b, attr);
		ub_obj_put(&b->obj);
		return err;
	}
	struct ub_prog_obj *p = ub_prog_obj_get((int)attr->info.bpf_fd);
	if (!p)	/* the kernel answers EBADFD (not EBADF) for an fd that is not open */
		return errno == EINVAL ? -EINVAL : -EBADFD;
	int err = ub_prog_info(p, attr);
	ub_prog_obj_put(p);
	return err;
}

int ub_stats_enabled;

/*
 * BPF_ENABLE_STATS: the kernel returns an fd and counts while it is open. Closing it is
 * invisible to us, so statistics stay on from the first call; documented in the README.
 */
int ub_cmd_enable_stats(union bpf_attr *attr, unsigned int size)
{
	if (ub_attr_tail_zero(attr, UB_ATTR_END(enable_stats)))
		return -EINVAL;
	if (attr->enable_stats.type != BPF_STATS_RUN_TIME)
		return -EINVAL;
	int fd = memfd_create("uebpf-stats", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	__atomic_add_fetch(&ub_stats_enabled, 1, __ATOMIC_RELAXED);
	return fd;
}
