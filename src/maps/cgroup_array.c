/*
 * ub_cgroup_array: BPF_MAP_TYPE_CGROUP_ARRAY (the kernel's cgroup_array_map_ops).
 *
 * User space stores directory fds of the cgroup v2 hierarchy; the kernel keeps a reference
 * to the cgroup and never gives it back (lookups from user space answer ENOTSUPP). Here a
 * slot keeps the directory's identity, (st_dev, st_ino), in the map file: it means the
 * same cgroup in every process that opens a pinned map, and needs no process-local state.
 * A cgroup removed and another created may reuse the inode; the kernel's reference would
 * keep the old one alive instead. That is the one difference, and it is documented.
 *
 * "Under": this process is the current task (in user space programs run in the loader's
 * process). Its cgroup is the "0::" line of /proc/self/cgroup, found under the cgroup2
 * mount of /proc/self/mountinfo; the slot's cgroup must be it or one of its ancestors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include "maps/cgroup_array.h"
#include "maps/map.h"

#define CGA_ENOTSUPP 524	/* the kernel's internal ENOTSUPP, as user space sees it */

struct cga_slot {
	uint64_t dev, ino;	/* ino 0: empty */
};

struct cga_data {
	uint32_t lock;		/* ub_shm_lock word: a slot is two words */
	uint32_t pad;
	struct cga_slot slot[];
};

#define CGA(map) ((struct cga_data *)(map)->data)

/* The kernel's fd_array_map_alloc_check then array_map_alloc_check. */
static int cga_check(const union bpf_attr *attr)
{
	const uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY;

	if (attr->max_entries == 0 || attr->key_size != 4 || attr->value_size != 4 ||
	    (attr->map_flags & ~allowed))
		return -EINVAL;
	return 0;
}

static size_t cga_data_size(const struct ub_shm_hdr *h)
{
	return sizeof(struct cga_data) + (size_t)h->max_entries * sizeof(struct cga_slot);
}

static int cga_init(struct ub_map *map)
{
	(void)map;
	return 0;
}

static int cga_validate(const struct ub_map *map)
{
	(void)map;	/* any (dev, ino) pair is harmless: it is only compared */
	return 0;
}

/* Programs never read a slot directly: the verifier allows only the two helpers. */
static void *cga_lookup(struct ub_map *map, const void *key)
{
	(void)map, (void)key;
	return NULL;
}

static int cga_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	(void)map, (void)key, (void)value, (void)flags;
	return -CGA_ENOTSUPP;
}

static int cga_index(const struct ub_map *map, const void *key, uint32_t *idx)
{
	memcpy(idx, key, 4);
	return *idx < map->max_entries ? 0 : -E2BIG;
}

/*
 * Writers serialise on the lock and write ino 0, then dev, then ino; readers take no lock
 * (a process may have mapped a pinned map read-only) and read ino, dev, ino again until
 * both inos agree, so they never pair one cgroup's dev with another's ino.
 */
static void cga_store(struct ub_map *map, uint32_t idx, uint64_t dev, uint64_t ino)
{
	struct cga_slot *s = &CGA(map)->slot[idx];

	__atomic_store_n(&s->ino, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&s->dev, dev, __ATOMIC_RELEASE);
	__atomic_store_n(&s->ino, ino, __ATOMIC_RELEASE);
}

static struct cga_slot cga_read(const struct ub_map *map, uint32_t idx)
{
	struct cga_slot *s = &CGA(map)->slot[idx], r;
	uint64_t again;

	do {
		r.ino = __atomic_load_n(&s->ino, __ATOMIC_ACQUIRE);
		r.dev = __atomic_load_n(&s->dev, __ATOMIC_ACQUIRE);
		again = __atomic_load_n(&s->ino, __ATOMIC_ACQUIRE);
	} while (again != r.ino);
	return r;
}

/* The kernel's cgroup_fd_array_get_ptr: a directory of the cgroup v2 hierarchy, else EBADF
 * (a v1 hierarchy, another directory, a file or a closed fd alike). */
static int cga_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	struct statfs sf;
	struct stat st;
	uint32_t idx;
	int32_t fd;

	if (flags != BPF_ANY)
		return -EINVAL;
	int err = cga_index(map, key, &idx);
	if (err)
		return err;
	memcpy(&fd, value, 4);
	if (fd < 0 || fstat(fd, &st) || !S_ISDIR(st.st_mode) || fstatfs(fd, &sf) ||
	    sf.f_type != CGROUP2_SUPER_MAGIC)
		return -EBADF;
	ub_shm_lock(&CGA(map)->lock);
	cga_store(map, idx, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	ub_shm_unlock(&CGA(map)->lock);
	return 0;
}

static int cga_delete(struct ub_map *map, const void *key)
{
	uint32_t idx;
	int err = cga_index(map, key, &idx);

	if (err)
		return err;
	struct cga_data *d = CGA(map);
	ub_shm_lock(&d->lock);
	err = d->slot[idx].ino ? 0 : -ENOENT;
	cga_store(map, idx, 0, 0);
	ub_shm_unlock(&d->lock);
	return err;
}

static int cga_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	return ub_array_ops.get_next_key(map, key, next_key);
}

/* ---- is this process under a cgroup ---- */

/* The cgroup2 mount: its mount point and the cgroup path it shows at that point. */
static int cga_mount(char *mnt, size_t mntsz, char *root, size_t rootsz)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char r[PATH_MAX], m[PATH_MAX];
		const char *sep = strstr(line, " - ");
		if (sep && !strncmp(sep + 3, "cgroup2 ", 8) &&
		    sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) == 2) {
			found = snprintf(mnt, mntsz, "%s", m) < (int)mntsz &&
				snprintf(root, rootsz, "%s", r) < (int)rootsz;
		}
	}
	if (f)
		fclose(f);
	return found ? 0 : -ENOENT;
}

/* This process's cgroup v2 directory, e.g. /sys/fs/cgroup/unified/user.slice/x. */
static int cga_self_dir(char *dir, size_t size)
{
	char mnt[PATH_MAX], root[PATH_MAX], line[PATH_MAX + 8], *path = NULL;
	FILE *f = fopen("/proc/self/cgroup", "r");

	while (f && !path && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			path = line + 3;
			path[strcspn(path, "\n")] = '\0';
		}
	if (f)
		fclose(f);
	if (!path || cga_mount(mnt, sizeof(mnt), root, sizeof(root)))
		return -ENOENT;
	size_t rl = strlen(root);
	if (!strcmp(root, "/"))
		rl = 0;
	else if (strncmp(path, root, rl) || (path[rl] && path[rl] != '/'))
		return -ENOENT;	/* our cgroup is outside what the mount shows */
	if (snprintf(dir, size, "%s%s", mnt, path + rl) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

/* Does dir or one of its parents up to the mount point have this identity? */
static int cga_ancestor_is(char *dir, size_t mnt_len, uint64_t dev, uint64_t ino)
{
	for (;;) {
		struct stat st;
		if (!stat(dir, &st) && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino)
			return 1;
		char *slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < mnt_len)
			return 0;
		*slash = '\0';
	}
}

int ub_cgroup_array_under(const struct ub_map *map, uint32_t idx)
{
	char dir[PATH_MAX], mnt[PATH_MAX], root[PATH_MAX];

	if (map->type != BPF_MAP_TYPE_CGROUP_ARRAY)
		return -EINVAL;
	if (idx >= map->max_entries)
		return -E2BIG;
	struct cga_slot s = cga_read(map, idx);
	if (!s.ino)
		return -EAGAIN;
	if (cga_self_dir(dir, sizeof(dir)) || cga_mount(mnt, sizeof(mnt), root, sizeof(root)))
		return 0;	/* no cgroup v2 hierarchy: under nothing stored */
	return cga_ancestor_is(dir, strlen(mnt), s.dev, s.ino);
}

const struct ub_map_ops ub_cgroup_array_ops = {
	.check = cga_check,
	.data_size = cga_data_size,
	.init = cga_init,
	.validate = cga_validate,
	.lookup = cga_lookup,
	.lookup_user = cga_lookup_user,
	.update = cga_update,
	.update_elem = cga_update,
	.delete = cga_delete,
	.get_next_key = cga_get_next_key,
};
