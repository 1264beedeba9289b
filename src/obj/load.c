/*
 * ub_bo: opening, loading and closing a BPF object.
 *
 * Open reads the ELF (elf.c) and checks all it can without creating anything. Load
 * creates the maps (reusing or creating pins of LIBBPF_PIN_BY_NAME maps), fills global
 * data and initial slots, applies CO-RE, links each program and loads it through
 * bpf_prog_load (the verifier). On any failure everything load created is released, as
 * libbpf does, and the program or map at fault is named through the print callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "api/fdcache.h"
#include "obj/bo.h"
#include "maps/shm.h"
#include "progs/progs.h"

static int bo_set_str(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

/* libbpf's object name: the file's base name up to its first '.'. */
static int bo_name(struct bpf_object *obj, const void *buf, size_t size, const char *path,
		   const char *override)
{
	char tmp[64];

	if (override)
		return bo_set_str(&obj->name, override);
	if (!path) {
		snprintf(tmp, sizeof(tmp), "%lx-%zx", (unsigned long)(uintptr_t)buf, size);
		return bo_set_str(&obj->name, tmp);
	}
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	obj->name = strndup(base, strcspn(base, "."));
	return obj->name ? 0 : -ENOMEM;
}

static int bo_opts(struct bpf_object *obj, const struct bpf_object_open_opts *o)
{
#define OOPT(f, def) (o && o->sz >= offsetof(struct bpf_object_open_opts, f) + sizeof(o->f) ? o->f : (def))
	int err;

	obj->relaxed_maps = OOPT(relaxed_maps, false);
	obj->log_buf = OOPT(kernel_log_buf, NULL);
	obj->log_size = OOPT(kernel_log_size, 0);
	obj->log_level = OOPT(kernel_log_level, 0);
	if (!!obj->log_buf != !!obj->log_size)
		return -EINVAL;
	if ((err = bo_set_str(&obj->pin_root, OOPT(pin_root_path, "/sys/fs/bpf"))) ||
	    (err = bo_set_str(&obj->btf_custom_path, OOPT(btf_custom_path, NULL))) ||
	    (err = bo_set_str(&obj->kconfig, OOPT(kconfig, NULL))))
		return err;
	return 0;
#undef OOPT
}

static int bo_pin_paths(struct bpf_object *obj)
{
	for (size_t i = 0; i < obj->nmaps; i++) {
		struct bpf_map *m = obj->maps[i];
		char path[4096];
		if (m->pinning != LIBBPF_PIN_BY_NAME)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", obj->pin_root, m->name) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		if (bo_set_str(&m->pin_path, path))
			return -ENOMEM;
	}
	return 0;
}

struct bpf_object *ub_bo_open(const void *buf, size_t size, const char *path,
			      const struct bpf_object_open_opts *opts)
{
	struct bpf_object *obj;
	int err;

	if (!buf || !size || (opts && opts->sz < sizeof(size_t))) {
		errno = EINVAL;
		return NULL;
	}
	obj = calloc(1, sizeof(*obj));
	if (!obj || !(obj->buf = malloc(size))) {
		free(obj);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(obj->buf, buf, size);
	obj->size = size;
	obj->kconfig_map = -1;
	obj->btf_fd = -1;
	err = bo_name(obj, buf, size, path, opts && opts->sz > offsetof(struct bpf_object_open_opts, object_name)
				       ? opts->object_name : NULL);
	if (!err)
		err = bo_set_str(&obj->path, path);
	if (!err)
		err = bo_opts(obj, opts);
	if (!err) {
		err = ub_elf_collect(obj);
		if (err)
			ub_bo_warn("failed to open %s: %s\n", path ? path : obj->name, strerror(-err));
	}
	if (!err)
		err = bo_pin_paths(obj);
	if (err) {
		ub_bo_close(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

/* ---- maps ---- */

static int map_compatible(const struct bpf_map *m, int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.type == m->type && info.key_size == m->key_size &&
	       info.value_size == m->value_size && info.max_entries == m->max_entries &&
	       info.map_flags == m->map_flags;
}

/* LIBBPF_PIN_BY_NAME: an existing compatible pin is reused, as libbpf. 1 reused, 0 not. */
static int map_reuse_pin(struct bpf_map *m)
{
	int fd = bpf_obj_get(m->pin_path);

	if (fd == -ENOENT)
		return 0;
	if (fd < 0) {
		ub_bo_warn("map '%s': pinned map at '%s' cannot be opened: %s\n", m->name, m->pin_path, strerror(-fd));
		return fd;
	}
	if (!map_compatible(m, fd)) {
		ub_bo_warn("map '%s': pinned map at '%s' does not match the definition\n", m->name, m->pin_path);
		close(fd);
		return -EINVAL;
	}
	m->fd = fd, m->reused = m->pinned = true;
	return 1;
}

/* Map types whose values are no data to describe: libbpf creates them without BTF. */
static bool map_takes_btf(uint32_t type)
{
	static const uint32_t none[] = {
		BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_CGROUP_ARRAY, BPF_MAP_TYPE_STACK_TRACE,
		BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS, BPF_MAP_TYPE_DEVMAP,
		BPF_MAP_TYPE_DEVMAP_HASH, BPF_MAP_TYPE_CPUMAP, BPF_MAP_TYPE_XSKMAP,
		BPF_MAP_TYPE_SOCKMAP, BPF_MAP_TYPE_SOCKHASH, BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK,
		BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_USER_RINGBUF,
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		if (type == none[i])
			return false;
	return true;
}

static int map_create_raw(const struct bpf_map *m, int inner_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = m->map_flags, .numa_node = m->numa_node,
		    .map_extra = m->map_extra);
	uint32_t max = m->max_entries;

	if (inner_fd >= 0)
		o.inner_map_fd = (__u32)inner_fd;
	if (m->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && !max) {
		int n = libbpf_num_possible_cpus();
		max = n > 0 ? (uint32_t)n : 1;
	}
	/* As libbpf: the map's BTF types when the object's BTF is loaded; a map the BTF does
	 * not fit is created again without it. */
	if (m->obj && m->obj->btf_fd >= 0 && m->btf_value_type_id && map_takes_btf(m->type)) {
		LIBBPF_OPTS(bpf_map_create_opts, b, .map_flags = o.map_flags, .numa_node = o.numa_node,
			    .map_extra = o.map_extra, .inner_map_fd = o.inner_map_fd,
			    .btf_fd = (__u32)m->obj->btf_fd, .btf_key_type_id = m->btf_key_type_id,
			    .btf_value_type_id = m->btf_value_type_id);
		int fd = bpf_map_create(m->type, m->name, m->key_size, m->value_size, max, &b);
		if (fd >= 0)
			return fd;
	}
	return bpf_map_create(m->type, m->name, m->key_size, m->value_size, max, &o);
}

static int map_create(struct bpf_map *m)
{
	int inner = m->inner_fd, fd, err;

	if (m->fd >= 0 || !m->autocreate)
		return 0;
	if (m->pin_path && (err = map_reuse_pin(m)))
		return err < 0 ? err : 0;
	if (m->inner && inner < 0 && (inner = map_create_raw(m->inner, -1)) < 0) {
		ub_bo_warn("map '%s': inner map: %s\n", m->name, strerror(-inner));
		return inner;
	}
	fd = map_create_raw(m, inner);
	if (inner >= 0 && inner != m->inner_fd)
		close(inner);	/* only a template: the outer map keeps what it needs */
	if (fd < 0) {
		ub_bo_warn("map '%s' (type %u, key %u, value %u, max_entries %u, flags 0x%x): failed to create: %s\n",
			   m->name, m->type, m->key_size, m->value_size, m->max_entries, m->map_flags, strerror(-fd));
		return fd;
	}
	m->fd = fd;
	if (m->kind != UB_MAP_USER) {
		__u32 zero = 0;
		if ((err = bpf_map_update_elem(fd, &zero, m->data, 0)) ||
		    ((m->kind == UB_MAP_RODATA || m->kind == UB_MAP_KCONFIG) && (err = bpf_map_freeze(fd)))) {
			ub_bo_warn("map '%s': failed to set the initial value: %s\n", m->name, strerror(-err));
			return err;
		}
	}
	return 0;
}

static int map_pin(struct bpf_map *m)
{
	if (!m->pin_path || m->pinned || m->fd < 0)
		return 0;
	int err = bpf_obj_pin(m->fd, m->pin_path);
	if (err) {
		ub_bo_warn("map '%s': failed to pin at '%s': %s\n", m->name, m->pin_path, strerror(-err));
		return err;
	}
	m->pinned = true;
	return 0;
}

/* Initial values of outer maps (map fds) or prog arrays (program fds). */
static int map_fill_slots(struct bpf_object *obj, struct bpf_map *m, bool progs)
{
	if (m->slots_progs != progs || m->fd < 0 || m->reused)
		return 0;
	for (uint32_t i = 0; i < m->nr_slots; i++) {
		if (!m->slots[i])
			continue;
		int fd = progs ? obj->progs[m->slots[i] - 1]->fd : obj->maps[m->slots[i] - 1]->fd;
		if (fd < 0)
			continue;	/* not loaded (autoload off) */
		int err = bpf_map_update_elem(m->fd, &i, &fd, 0);
		if (err) {
			ub_bo_warn("map '%s': initial slot %u: %s\n", m->name, i, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* ---- programs ---- */

static int prog_check_type(const struct bpf_program *p)
{
	if (!p->type) {
		ub_bo_warn("prog '%s': missing BPF prog type, check ELF section name '%s'\n", p->name, p->sec_name);
		return -EINVAL;
	}
	if (p->def && p->def->why && p->type == p->def->type) {
		ub_bo_warn("prog '%s': section '%s' (%s): not loadable in user space: %s\n", p->name, p->sec_name,
			   ub_sec_type_name(p->type), p->def->why);
		return -EOPNOTSUPP;
	}
	if (!ub_prog_type_find(p->type)) {
		ub_bo_warn("prog '%s': program type %s (%u) is not one uebpf runs\n", p->name,
			   ub_sec_type_name(p->type), p->type);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int prog_load(struct bpf_object *obj, struct bpf_program *p)
{
	/* relocated first: kernel-only programs still link, and their errors surface */
	int err = p->type ? ub_reloc_prog(obj, p) : 0;

	if (!err)
		err = prog_check_type(p);
	if (err)
		return err;
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = p->attach, .prog_flags = p->flags,
		    .kern_version = obj->kversion);
	if (obj->btf_fd >= 0 && (p->func_info_cnt || p->line_info_cnt)) {
		o.prog_btf_fd = (__u32)obj->btf_fd;
		o.func_info = p->func_info, o.func_info_cnt = p->func_info_cnt;
		o.func_info_rec_size = p->func_info_rec;
		o.line_info = p->line_info, o.line_info_cnt = p->line_info_cnt;
		o.line_info_rec_size = p->line_info_rec;
	}
	o.log_buf = p->log_buf ? p->log_buf : obj->log_buf;
	o.log_size = (__u32)(p->log_buf ? p->log_size : obj->log_size);
	o.log_level = p->log_level ? p->log_level : obj->log_level;
	if (o.log_buf && !o.log_level)
		o.log_level = 1;
	int fd = bpf_prog_load(p->type, p->name, obj->license, p->insns, p->insn_cnt, &o);
	if (fd >= 0) {
		p->fd = fd;
		return 0;
	}
	err = fd;
	if (!o.log_buf && ub_bo_pr_enabled()) {	/* as libbpf: load again with a log to say why */
		size_t sz = 1 << 20;
		char *log = malloc(sz);
		o.log_buf = log, o.log_size = log ? (__u32)sz : 0, o.log_level = log ? 1 : 0;
		fd = log ? bpf_prog_load(p->type, p->name, obj->license, p->insns, p->insn_cnt, &o) : -1;
		if (fd >= 0)
			close(fd);
		else if (log && log[0])
			ub_bo_warn("prog '%s': -- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n", p->name, log);
		free(log);
	}
	ub_bo_warn("prog '%s': failed to load: %s\n", p->name, strerror(-err));
	return err;
}

/* Removes a pin: paths are placed as bpf_obj_pin places them (under the pin root). */
int ub_bo_unlink_pin(const char *path)
{
	char real[4096];
	int err = ub_shm_pin_path(path, real, sizeof(real));

	if (err)
		return err;
	return unlink(real) ? -errno : 0;
}

/* Releases what load made; a failed load also removes the pins it created (libbpf). */
static void bo_unload(struct bpf_object *obj, bool unpin)
{
	for (size_t i = 0; i < obj->nprogs; i++)
		if (obj->progs[i]->fd >= 0)
			close(obj->progs[i]->fd), obj->progs[i]->fd = -1;
	if (obj->btf_fd >= 0)
		close(obj->btf_fd), obj->btf_fd = -1;
	for (size_t i = 0; i < obj->nmaps; i++) {
		struct bpf_map *m = obj->maps[i];
		if (unpin && m->pinned && !m->reused)
			ub_bo_unlink_pin(m->pin_path);
		if (m->fd >= 0)
			close(m->fd), m->fd = -1;
		m->pinned = m->reused = false;
	}
}

static int bo_load_maps(struct bpf_object *obj)
{
	int err = ub_mapdef_kconfig_fill(obj);

	for (size_t i = 0; !err && i < obj->nmaps; i++)
		err = map_create(obj->maps[i]);
	for (size_t i = 0; !err && i < obj->nmaps; i++)
		err = map_fill_slots(obj, obj->maps[i], false);
	for (size_t i = 0; !err && i < obj->nmaps; i++)
		err = map_pin(obj->maps[i]);
	return err;
}

/* The object's BTF as a BTF object, so programs carry func_info and line_info (the
 * verifier log then shows source lines) and maps their key and value types. Optional, as in libbpf: failure only warns. */
static void bo_load_btf(struct bpf_object *obj)
{
	size_t size;

	if (!obj->btf)
		return;
	const void *raw = ub_btf_raw(obj->btf, &size);
	int fd = bpf_btf_load(raw, size, NULL);
	if (fd < 0 && obj->ext)
		ub_bo_warn("object '%s': BTF not loaded (%s): programs load without line info\n", obj->name,
			   strerror(-fd));
	obj->btf_fd = fd < 0 ? -1 : fd;
}

int ub_bo_load(struct bpf_object *obj)
{
	int err;

	if (!obj)
		return -EINVAL;
	if (obj->loaded) {
		ub_bo_warn("object '%s': load can't be attempted twice\n", obj->name);
		return -EINVAL;
	}
	obj->loaded = true;
	bo_load_btf(obj);
	err = bo_load_maps(obj);
	if (!err)
		err = ub_reloc_core(obj);
	for (size_t i = 0; !err && i < obj->nprogs; i++) {
		struct bpf_program *p = obj->progs[i];
		if (!p->subprog && p->autoload)
			err = prog_load(obj, p);
	}
	for (size_t i = 0; !err && i < obj->nmaps; i++)
		err = map_fill_slots(obj, obj->maps[i], true);
	if (err) {
		bo_unload(obj, true);
		ub_bo_warn("failed to load object '%s'\n", obj->path ? obj->path : obj->name);
	}
	return err;
}

void ub_bo_close(struct bpf_object *obj)
{
	if (!obj)
		return;
	bo_unload(obj, false);
	for (size_t i = 0; i < obj->nprogs; i++) {
		free(obj->progs[i]->name);
		free(obj->progs[i]->sec_name);
		free(obj->progs[i]->insns);
		free(obj->progs[i]->func_info);
		free(obj->progs[i]->line_info);
		free(obj->progs[i]);
	}
	for (size_t i = 0; i < obj->nmaps; i++)
		ub_mapdef_free(obj->maps[i]);
	for (size_t i = 0; i < obj->nxsecs; i++) {
		free(obj->xsecs[i].insns);
		free(obj->xsecs[i].rels);
	}
	for (size_t i = 0; i < obj->nexts; i++)
		free(obj->exts[i].name);
	free(obj->progs), free(obj->maps), free(obj->xsecs), free(obj->exts);
	ub_btf_ext_free(obj->ext);
	ub_btf_free(obj->btf);
	if (obj->elf)
		elf_end(obj->elf);
	free(obj->buf), free(obj->name), free(obj->path);
	free(obj->pin_root), free(obj->btf_custom_path), free(obj->kconfig);
	free(obj);
	/* The maps closed above may live on in this thread's fd cache (a lookup cached them):
	 * let them go now, as the kernel frees a map with its last fd. */
	ub_fdcache_flush();
}
