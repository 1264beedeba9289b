/*
 * The libbpf-compatible map API of objects (<bpf/libbpf.h>, bpf_map__*). Setters work
 * until the object is loaded (then -EBUSY, as libbpf); element calls check the sizes
 * against the definition and then go to the bpf() commands.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "maps/map.h"
#include "obj/bo.h"

static int ret_err(int err)
{
	if (err < 0)
		errno = -err;
	return err;
}

static struct bpf_map *map_step(const struct bpf_object *obj, const struct bpf_map *m, int dir)
{
	size_t i;

	if (!obj || !obj->nmaps)
		return NULL;
	if (!m)
		return obj->maps[dir > 0 ? 0 : obj->nmaps - 1];
	for (i = 0; i < obj->nmaps && obj->maps[i] != m; i++)
		;
	if (i == obj->nmaps || (dir < 0 && i == 0) || (dir > 0 && i + 1 == obj->nmaps))
		return NULL;
	return obj->maps[i + (size_t)dir];
}

struct bpf_map *bpf_object__next_map(const struct bpf_object *obj, const struct bpf_map *map)
{
	return map_step(obj, map, 1);
}

struct bpf_map *bpf_object__prev_map(const struct bpf_object *obj, const struct bpf_map *map)
{
	return map_step(obj, map, -1);
}

/* libbpf: ".rodata"-style names match the section; custom .data.x/.rodata.x maps use
 * their section name; the others their map name. */
struct bpf_map *bpf_object__find_map_by_name(const struct bpf_object *obj, const char *name)
{
	for (size_t i = 0; obj && name && i < obj->nmaps; i++) {
		const struct bpf_map *m = obj->maps[i];
		bool real = m->kind != UB_MAP_USER && strchr(m->real_name + 1, '.');
		if (name[0] == '.' ? !strcmp(m->real_name, name) && m->kind != UB_MAP_USER
				   : !strcmp(real ? m->real_name : m->name, name))
			return obj->maps[i];
	}
	errno = ENOENT;
	return NULL;
}

int bpf_object__find_map_fd_by_name(const struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	return m ? bpf_map__fd(m) : ret_err(-ENOENT);
}

const char *bpf_map__name(const struct bpf_map *map)
{
	return map ? map->name : NULL;
}

int bpf_map__fd(const struct bpf_map *map)
{
	if (!map)
		return ret_err(-EINVAL);
	return map->fd >= 0 ? map->fd : ret_err(-ENOENT);
}

static int map_settable(const struct bpf_map *map)
{
	return map->obj->loaded || map->fd >= 0 ? ret_err(-EBUSY) : 0;
}

#define MAP_GETSET(field, type)								\
	type bpf_map__##field(const struct bpf_map *map) { return (type)map->field; }	\
	int bpf_map__set_##field(struct bpf_map *map, type v)				\
	{										\
		int err = map_settable(map);						\
		if (!err)								\
			map->field = v;							\
		return err;								\
	}

MAP_GETSET(max_entries, __u32)
MAP_GETSET(map_flags, __u32)
MAP_GETSET(numa_node, __u32)
MAP_GETSET(key_size, __u32)
MAP_GETSET(map_extra, __u64)

enum bpf_map_type bpf_map__type(const struct bpf_map *map)
{
	return (enum bpf_map_type)map->type;
}

int bpf_map__set_type(struct bpf_map *map, enum bpf_map_type type)
{
	int err = map_settable(map);

	if (!err)
		map->type = (uint32_t)type;
	return err;
}

__u32 bpf_map__value_size(const struct bpf_map *map)
{
	return map->value_size;
}

/* Global data maps can grow or shrink (libbpf 1.x): the initial value follows. */
int bpf_map__set_value_size(struct bpf_map *map, __u32 size)
{
	int err = map_settable(map);

	if (err)
		return err;
	if (map->kind != UB_MAP_USER) {
		if (!size)
			return ret_err(-EINVAL);
		void *n = realloc(map->data, size);
		if (!n)
			return ret_err(-ENOMEM);
		if (size > map->value_size)
			memset((char *)n + map->value_size, 0, size - map->value_size);
		map->data = n;
		map->btf_value_type_id = 0;	/* the section's BTF no longer describes it */
	}
	map->value_size = size;
	return 0;
}

__u32 bpf_map__btf_key_type_id(const struct bpf_map *map)
{
	return map->btf_key_type_id;
}

__u32 bpf_map__btf_value_type_id(const struct bpf_map *map)
{
	return map->btf_value_type_id;
}

bool bpf_map__autocreate(const struct bpf_map *map)
{
	return map->autocreate;
}

int bpf_map__set_autocreate(struct bpf_map *map, bool autocreate)
{
	int err = map_settable(map);

	if (!err)
		map->autocreate = autocreate;
	return err;
}

/* Uses an existing map instead of creating one (its shape is taken from the map). */
int bpf_map__reuse_fd(struct bpf_map *map, int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int err = map_settable(map);

	if (err)
		return err;
	memset(&info, 0, sizeof(info));
	if ((err = bpf_obj_get_info_by_fd(fd, &info, &len)))
		return err;
	/* libbpf dups the fd; a plain dup is no uebpf object fd, a new fd by id is */
	int nfd = bpf_map_get_fd_by_id(info.id);
	if (nfd < 0)
		return ret_err(nfd);
	map->fd = nfd, map->reused = true;
	map->type = info.type, map->key_size = info.key_size, map->value_size = info.value_size;
	map->max_entries = info.max_entries, map->map_flags = info.map_flags;
	return 0;
}

int bpf_map__set_initial_value(struct bpf_map *map, const void *data, size_t size)
{
	if (map->kind == UB_MAP_USER || map->kind == UB_MAP_KCONFIG || size != map->value_size)
		return ret_err(-EINVAL);
	int err = map_settable(map);
	if (!err)
		memcpy(map->data, data, size);
	return err;
}

void *bpf_map__initial_value(struct bpf_map *map, size_t *psize)
{
	if (map->kind == UB_MAP_USER)
		return NULL;
	*psize = map->value_size;
	if (map->fd < 0)
		return map->data;
	/* the live value: a single-entry array's value sits at the start of the map's
	 * memory, which stays mapped while the map exists (the object holds an fd) */
	struct ub_map *m = ub_map_get(map->fd);
	if (!m)
		return NULL;
	void *p = m->data;
	ub_map_put(m);
	return p;
}

bool bpf_map__is_internal(const struct bpf_map *map)
{
	return map->kind != UB_MAP_USER;
}

int bpf_map__set_pin_path(struct bpf_map *map, const char *path)
{
	char *p = path ? strdup(path) : NULL;

	if (path && !p)
		return ret_err(-ENOMEM);
	free(map->pin_path);
	map->pin_path = p;
	return 0;
}

const char *bpf_map__pin_path(const struct bpf_map *map)
{
	return map->pin_path;
}

bool bpf_map__is_pinned(const struct bpf_map *map)
{
	return map->pinned;
}

int bpf_map__pin(struct bpf_map *map, const char *path)
{
	if (!path)
		path = map->pin_path;
	if (!path) {
		ub_bo_warn("map '%s': no pin path\n", map->name);
		return ret_err(-EINVAL);
	}
	if (map->pinned && map->pin_path && !strcmp(path, map->pin_path))
		return 0;
	if (map->fd < 0) {
		ub_bo_warn("map '%s': can't pin a map that wasn't created\n", map->name);
		return ret_err(-EINVAL);
	}
	int err = bpf_obj_pin(map->fd, path);
	if (err) {
		ub_bo_warn("map '%s': failed to pin at '%s': %s\n", map->name, path, strerror(-err));
		return ret_err(err);
	}
	if ((err = bpf_map__set_pin_path(map, path)))
		return err;
	map->pinned = true;
	return 0;
}

int bpf_map__unpin(struct bpf_map *map, const char *path)
{
	if (!path)
		path = map->pin_path;
	if (!path)
		return ret_err(-EINVAL);
	int err = ub_bo_unlink_pin(path);
	if (err)
		return ret_err(err);
	map->pinned = false;
	return 0;
}

int bpf_map__set_inner_map_fd(struct bpf_map *map, int fd)
{
	int err = map_settable(map);

	if (err)
		return err;
	if (map->type != BPF_MAP_TYPE_ARRAY_OF_MAPS && map->type != BPF_MAP_TYPE_HASH_OF_MAPS)
		return ret_err(-EINVAL);
	map->inner_fd = fd;
	return 0;
}

struct bpf_map *bpf_map__inner_map(struct bpf_map *map)
{
	return map->inner;
}

/* ---- pinning the maps of an object ---- */

static int obj_pin_path(const struct bpf_map *m, const char *dir, char *out, size_t sz)
{
	if (!dir)
		return m->pin_path ? (snprintf(out, sz, "%s", m->pin_path), 0) : -EINVAL;
	return snprintf(out, sz, "%s/%s", dir, m->name) >= (int)sz ? -ENAMETOOLONG : 0;
}

int bpf_object__pin_maps(struct bpf_object *obj, const char *path)
{
	char p[4096];

	if (!obj || !obj->loaded)
		return ret_err(-ENOENT);
	for (size_t i = 0; i < obj->nmaps; i++) {
		struct bpf_map *m = obj->maps[i];
		if (m->fd < 0 || (!path && !m->pin_path))
			continue;
		int err = obj_pin_path(m, path, p, sizeof(p));
		if (!err)
			err = bpf_map__pin(m, p);
		if (err) {
			while (i--)
				if (obj->maps[i]->pinned && !obj_pin_path(obj->maps[i], path, p, sizeof(p)))
					bpf_map__unpin(obj->maps[i], p);
			return ret_err(err);
		}
	}
	return 0;
}

int bpf_object__unpin_maps(struct bpf_object *obj, const char *path)
{
	char p[4096];

	if (!obj)
		return ret_err(-ENOENT);
	for (size_t i = 0; i < obj->nmaps; i++) {
		struct bpf_map *m = obj->maps[i];
		if (!path && !m->pin_path)
			continue;
		int err = obj_pin_path(m, path, p, sizeof(p));
		if (!err)
			err = bpf_map__unpin(m, p);
		if (err)
			return ret_err(err);
	}
	return 0;
}

/* ---- elements ---- */

/* libbpf's validate_map_op: sizes must match; per-CPU values are one 8-aligned slot per
 * possible CPU. */
static int map_check(const struct bpf_map *map, size_t key_sz, size_t value_sz, bool check_value)
{
	if (map->fd < 0) {
		ub_bo_warn("map '%s': can't use BPF map without FD (was it created?)\n", map->name);
		return ret_err(-EINVAL);
	}
	if (key_sz != map->key_size) {
		ub_bo_warn("map '%s': unexpected key size %zu provided, expected %u\n", map->name, key_sz,
			   map->key_size);
		return ret_err(-EINVAL);
	}
	if (!check_value)
		return 0;
	size_t want = map->value_size;
	switch (map->type) {
	case BPF_MAP_TYPE_PERCPU_ARRAY: case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH: case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: {
		int n = libbpf_num_possible_cpus();
		if (n < 0)
			return ret_err(n);
		want = ((map->value_size + 7) / 8 * 8) * (size_t)n;
		break;
	}
	default:
		break;
	}
	if (value_sz != want) {
		ub_bo_warn("map '%s': unexpected value size %zu provided, expected %zu\n", map->name, value_sz, want);
		return ret_err(-EINVAL);
	}
	return 0;
}

int bpf_map__lookup_elem(const struct bpf_map *map, const void *key, size_t key_sz, void *value,
			 size_t value_sz, __u64 flags)
{
	int err = map_check(map, key_sz, value_sz, true);
	return err ? err : bpf_map_lookup_elem_flags(map->fd, key, value, flags);
}

int bpf_map__update_elem(const struct bpf_map *map, const void *key, size_t key_sz,
			 const void *value, size_t value_sz, __u64 flags)
{
	int err = map_check(map, key_sz, value_sz, true);
	return err ? err : bpf_map_update_elem(map->fd, key, value, flags);
}

int bpf_map__delete_elem(const struct bpf_map *map, const void *key, size_t key_sz, __u64 flags)
{
	int err = map_check(map, key_sz, 0, false);
	return err ? err : bpf_map_delete_elem_flags(map->fd, key, flags);
}

int bpf_map__lookup_and_delete_elem(const struct bpf_map *map, const void *key, size_t key_sz,
				    void *value, size_t value_sz, __u64 flags)
{
	int err = map_check(map, key_sz, value_sz, true);
	return err ? err : bpf_map_lookup_and_delete_elem_flags(map->fd, key, value, flags);
}

int bpf_map__get_next_key(const struct bpf_map *map, const void *cur_key, void *next_key, size_t key_sz)
{
	int err = map_check(map, key_sz, 0, false);
	return err ? err : bpf_map_get_next_key(map->fd, cur_key, next_key);
}
