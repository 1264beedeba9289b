/*
 * ub_map: creating, opening and releasing maps; the map-type table.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "maps/map.h"
#include "maps/shm.h"
#include "api/btf_obj.h"

/* Map types by number; a type absent here is refused with EINVAL, as by a kernel without it. */
static const struct ub_map_ops *const map_types[] = {
	[BPF_MAP_TYPE_HASH] = &ub_hash_ops,
	[BPF_MAP_TYPE_ARRAY] = &ub_array_ops,
	[BPF_MAP_TYPE_PERCPU_HASH] = &ub_percpu_hash_ops,
	[BPF_MAP_TYPE_PERCPU_ARRAY] = &ub_percpu_array_ops,
	[BPF_MAP_TYPE_LRU_HASH] = &ub_lru_hash_ops,
	[BPF_MAP_TYPE_LRU_PERCPU_HASH] = &ub_lru_percpu_hash_ops,
	[BPF_MAP_TYPE_RINGBUF] = &ub_ringbuf_ops,
	[BPF_MAP_TYPE_PERF_EVENT_ARRAY] = &ub_perf_event_array_ops,
	[BPF_MAP_TYPE_STACK_TRACE] = &ub_stack_trace_ops,
	[BPF_MAP_TYPE_PROG_ARRAY] = &ub_prog_array_ops,
	[BPF_MAP_TYPE_LPM_TRIE] = &ub_lpm_trie_ops,
	[BPF_MAP_TYPE_QUEUE] = &ub_queue_ops,
	[BPF_MAP_TYPE_STACK] = &ub_stack_ops,
	[BPF_MAP_TYPE_BLOOM_FILTER] = &ub_bloom_filter_ops,
	[BPF_MAP_TYPE_ARRAY_OF_MAPS] = &ub_array_of_maps_ops,
	[BPF_MAP_TYPE_HASH_OF_MAPS] = &ub_hash_of_maps_ops,
	[BPF_MAP_TYPE_DEVMAP] = &ub_devmap_ops,
	[BPF_MAP_TYPE_DEVMAP_HASH] = &ub_devmap_hash_ops,
	[BPF_MAP_TYPE_CPUMAP] = &ub_cpumap_ops,
	[BPF_MAP_TYPE_XSKMAP] = &ub_xskmap_ops,
	[BPF_MAP_TYPE_CGROUP_ARRAY] = &ub_cgroup_array_ops,
};

const struct ub_map_ops *ub_map_ops_for(uint32_t map_type)
{
	if (map_type >= sizeof(map_types) / sizeof(map_types[0]))
		return NULL;
	return map_types[map_type];
}

int ub_num_possible_cpus(void)
{
	static int cached;
	int n = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (n)
		return n;
	/* As libbpf: the count of /sys/devices/system/cpu/possible ("0-3,8-11"). */
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	int a, b;
	char sep;
	if (f) {
		while (fscanf(f, "%d", &a) == 1) {
			b = a;
			if (fscanf(f, "%c", &sep) == 1 && sep == '-' && fscanf(f, "%d", &b) == 1)
				(void)fscanf(f, "%c", &sep);
			n += b - a + 1;
		}
		fclose(f);
	}
	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_CONF);
	if (n <= 0)
		n = 1;
	__atomic_store_n(&cached, n, __ATOMIC_RELAXED);
	return n;
}

/* ub_shm_lock / ub_shm_unlock live in shm.c: robust to a holder that dies. */

static void map_release(struct ub_obj *obj)
{
	struct ub_map *map = (struct ub_map *)obj;

	if (map->ops && map->ops->release)
		map->ops->release(map);
	free(map->priv);
	if (map->btf)
		ub_obj_put(&map->btf->obj);
	if (map->data)
		ub_shm_unmap(map->data, map->map_size);	/* gives back a creation's charge */
	if (map->obj.fd >= 0)
		close(map->obj.fd);
	free(map);
}

struct ub_map *ub_map_get(int fd)
{
	return (struct ub_map *)ub_obj_get(fd, UB_OBJ_MAP);
}

struct ub_map *ub_map_get_acc(int fd, unsigned *acc)
{
	return (struct ub_map *)ub_obj_get_acc(fd, UB_OBJ_MAP, acc);
}

/*
 * Whether `node` is in a sysfs node list ("0", "0-3,8"). A machine without the file (a
 * kernel without NUMA) has node 0 only, as the kernel's nr_node_ids of 1.
 */
static int node_listed(const char *path, uint32_t node)
{
	char buf[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return node == 0;
	buf[n] = '\0';
	for (char *p = buf; *p >= '0' && *p <= '9';) {
		unsigned long a = strtoul(p, &p, 10), b = a;
		if (*p == '-')
			b = strtoul(p + 1, &p, 10);
		if (node >= a && node <= b)
			return 1;
		if (*p == ',')
			p++;
	}
	return 0;
}

/*
 * BPF_F_NUMA_NODE, as map_create(): the node must be below nr_node_ids and online, except
 * NUMA_NO_NODE (-1), which asks for no particular node.
 */
static int check_numa(const union bpf_attr *attr)
{
	if (!(attr->map_flags & BPF_F_NUMA_NODE) || attr->numa_node == UINT32_MAX)
		return 0;
	return node_listed("/sys/devices/system/node/possible", attr->numa_node) &&
		       node_listed("/sys/devices/system/node/online", attr->numa_node)
		       ? 0 : -EINVAL;
}

/* A struct named bpf_spin_lock (the type programs and user space declare). */
static int is_spin_lock(const struct ub_btf *btf, uint32_t id)
{
	const struct btf_type *t = ub_btf_skip_mods(btf, id, NULL);

	return t && ub_btf_kind(t) == BTF_KIND_STRUCT &&
	       !strcmp(ub_btf_str(btf, t->name_off), "bpf_spin_lock");
}

/*
 * The spin lock among the members of struct type t (as btf_parse_fields(): members of the
 * value's own struct): its byte offset in *off, or -1 if none. -EINVAL for two locks or
 * a misaligned one, as the kernel.
 */
static int find_spin_lock(const struct ub_btf *btf, const struct btf_type *t, int32_t *off)
{
	*off = -1;
	if (ub_btf_kind(t) != BTF_KIND_STRUCT)
		return 0;
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	for (uint32_t i = 0; i < ub_btf_vlen(t); i++, m++) {
		if (!is_spin_lock(btf, m->type))
			continue;
		uint32_t bit = BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BIT_OFFSET(m->offset) : m->offset;
		if (*off >= 0 || bit % 32)
			return -EINVAL;	/* one lock per value, 4-byte aligned */
		*off = (int32_t)(bit / 8);
	}
	return 0;
}

/* The family's own BTF checks (the kernel's map_check_btf ops): key is the key's type, or
 * NULL for void (no btf_key_type_id). */
static int family_check_btf(const union bpf_attr *attr, const struct btf_type *key,
			    const struct btf_type *value)
{
	switch (attr->map_type) {
	case BPF_MAP_TYPE_ARRAY: case BPF_MAP_TYPE_PERCPU_ARRAY:
		if (!key)	/* keyless: only a global-data section (.bss, .data, .rodata) */
			return attr->map_type == BPF_MAP_TYPE_ARRAY && attr->max_entries == 1 &&
				       ub_btf_kind(value) == BTF_KIND_DATASEC ? 0 : -EINVAL;
		return ub_btf_kind(key) == BTF_KIND_INT && key->size == 4 ? 0 : -EINVAL;
	case BPF_MAP_TYPE_BLOOM_FILTER:
		return key ? -EINVAL : 0;
	case BPF_MAP_TYPE_LPM_TRIE:
		return key && ub_btf_kind(key) == BTF_KIND_STRUCT ? 0 : -EINVAL;
	default:
		return key ? 0 : -EINVAL;	/* no check of its own: a key type is required */
	}
}

/* A type id of the BTF with its size (modifiers followed): the type, or NULL. */
static const struct btf_type *sized_type(const struct ub_btf *btf, uint32_t id, uint64_t *size)
{
	int64_t n = ub_btf_resolve_size(btf, id);
	const struct btf_type *t = ub_btf_skip_mods(btf, id, NULL);

	if (n < 0 || !t)
		return NULL;
	*size = (uint64_t)n;
	return t;
}

/* As map_check_btf(): the types' sizes, the value's special fields, the family's checks. */
static int check_btf_types(const union bpf_attr *attr, const struct ub_btf *btf,
			   int32_t *lock_off)
{
	const struct btf_type *key = NULL, *value;
	uint64_t ks = 0, vs = 0;

	if (attr->btf_key_type_id &&
	    (!(key = sized_type(btf, attr->btf_key_type_id, &ks)) || ks != attr->key_size))
		return -EINVAL;
	value = sized_type(btf, attr->btf_value_type_id, &vs);
	if (!value || vs != attr->value_size)
		return -EINVAL;
	int err = find_spin_lock(btf, value, lock_off);
	if (err)
		return err;
	if (*lock_off >= 0) {
		if (attr->map_flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG))
			return -EACCES;
		if (attr->map_type != BPF_MAP_TYPE_HASH && attr->map_type != BPF_MAP_TYPE_ARRAY)
			return -EOPNOTSUPP;
	}
	return family_check_btf(attr, key, value);
}

int ub_map_check_btf(const union bpf_attr *attr, int32_t *lock_off)
{
	*lock_off = -1;
	if (!attr->btf_key_type_id && !attr->btf_value_type_id &&
	    !attr->btf_vmlinux_value_type_id)
		return 0;	/* the kernel ignores btf_fd then */
	if (attr->btf_vmlinux_value_type_id)
		return -EINVAL;	/* struct_ops maps: uebpf has none (check_common refuses) */
	struct ub_btf_obj *o = ub_btf_obj_get((int)attr->btf_fd);
	if (!o)
		return -errno;	/* btf_get_by_fd(): EBADF, or EINVAL for another file */
	int err = check_btf_types(attr, o->btf, lock_off);
	ub_obj_put(&o->obj);
	return err;
}

static void copy_skipping(const struct ub_map *map, uint8_t *dst, const uint8_t *src)
{
	size_t off = (size_t)map->lock_off, end = off + 4;

	memcpy(dst, src, off);
	memcpy(dst + end, src + end, map->value_size - end);
}

void ub_map_copy_value(const struct ub_map *map, void *dst, const void *src)
{
	if (map->lock_off < 0)
		memcpy(dst, src, map->value_size);
	else
		copy_skipping(map, dst, src);
}

void ub_map_copy_value_locked(const struct ub_map *map, void *dst, const void *src,
			      int lock_src)
{
	if (map->lock_off < 0) {
		memcpy(dst, src, map->value_size);
		return;
	}
	uint32_t *lock = (uint32_t *)(void *)((uint8_t *)(lock_src ? (void *)src : dst) +
					      map->lock_off);
	ub_shm_lock(lock);
	copy_skipping(map, dst, src);
	ub_shm_unlock(lock);
}

void ub_map_clear_lock(const struct ub_map *map, void *value)
{
	if (map->lock_off >= 0)
		memset((uint8_t *)value + map->lock_off, 0, 4);
}

void ub_map_put(struct ub_map *map)
{
	if (map)
		ub_obj_put(&map->obj);
}

/* Generic checks of BPF_MAP_CREATE that every family shares (kernel: map_create()). */
static int check_common(const union bpf_attr *attr)
{
	const uint32_t known = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE |
			       BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_STACK_BUILD_ID |
			       BPF_F_ZERO_SEED | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG |
			       BPF_F_CLONE | BPF_F_MMAPABLE | BPF_F_INNER_MAP;
	uint32_t f = attr->map_flags;

	if (f & ~known)
		return -EINVAL;
	if ((f & BPF_F_RDONLY) && (f & BPF_F_WRONLY))
		return -EINVAL;
	if ((f & BPF_F_RDONLY_PROG) && (f & BPF_F_WRONLY_PROG))
		return -EINVAL;
	if (attr->map_extra && attr->map_type != BPF_MAP_TYPE_BLOOM_FILTER)
		return -EINVAL;
	/* Type ids come in pairs; vmlinux value types are for struct_ops maps only. */
	if (attr->btf_vmlinux_value_type_id
		    ? attr->map_type != BPF_MAP_TYPE_STRUCT_OPS || attr->btf_key_type_id ||
			      attr->btf_value_type_id
		    : attr->btf_key_type_id && !attr->btf_value_type_id)
		return -EINVAL;
	return check_numa(attr);
}

/* The name may hold only [A-Za-z0-9_.] and must be NUL-terminated. The kernel checks it
 * after the family's checks (bpf_obj_name_cpy() once the map is allocated). */
static int check_name(const union bpf_attr *attr)
{
	for (size_t i = 0; i < BPF_OBJ_NAME_LEN; i++) {
		char c = attr->map_name[i];
		if (!c)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return -EINVAL;
	}
	return -EINVAL;
}

static struct ub_map *map_new(const struct ub_map_ops *ops, int fd, void *mem, size_t size)
{
	struct ub_map *map = calloc(1, sizeof(*map));

	if (!map)
		return NULL;
	map->obj = (struct ub_obj){ .type = UB_OBJ_MAP, .refcnt = 1, .release = map_release,
				    .fd = fd };
	map->ops = ops;
	map->data = mem;
	map->map_size = size;
	map->hdr = (struct ub_shm_hdr *)((uint8_t *)mem + size - UB_SHM_HDR_SIZE);
	map->type = map->hdr->map_type;
	map->key_size = map->hdr->key_size;
	map->value_size = map->hdr->value_size;
	map->max_entries = map->hdr->max_entries;
	map->flags = map->hdr->map_flags;
	map->nr_cpus = map->hdr->nr_cpus;
	map->lock_off = (int32_t)map->hdr->spin_lock_off1 - 1;
	return map;
}

/* FNV-1a, 64 bits, over the header with `frozen` (the one mutable field) and itself as 0. */
uint64_t ub_shm_hdr_checksum(const struct ub_shm_hdr *h)
{
	struct ub_shm_hdr c = *h;
	const uint8_t *p = (const uint8_t *)&c;
	uint64_t x = 0xcbf29ce484222325ull;

	c.frozen = 0;
	c.checksum = 0;
	for (size_t i = 0; i < sizeof(c); i++)
		x = (x ^ p[i]) * 0x100000001b3ull;
	return x;
}

static void fill_hdr(struct ub_shm_hdr *h, const union bpf_attr *attr, size_t data_size)
{
	struct timespec ts;

	memcpy(h->magic, UB_SHM_MAGIC, 8);
	h->version = UB_SHM_VERSION;
	h->hdr_size = sizeof(*h);
	h->data_size = data_size;
	h->map_type = attr->map_type;
	h->key_size = attr->key_size;
	h->value_size = attr->value_size;
	h->max_entries = attr->max_entries;
	/* As bpf_map_flags_retain_permanent(): RDONLY/WRONLY are the creating fd's. */
	h->map_flags = attr->map_flags & ~(uint32_t)(BPF_F_RDONLY | BPF_F_WRONLY);
	h->nr_cpus = (uint32_t)ub_num_possible_cpus();
	memcpy(h->name, attr->map_name, BPF_OBJ_NAME_LEN);
	h->name[BPF_OBJ_NAME_LEN - 1] = '\0';
	clock_gettime(CLOCK_REALTIME, &ts);
	h->create_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	h->map_extra = attr->map_extra;
}

/*
 * A map's BTF lives in its file, so that a process opening the pin has it too: the raw
 * blob between the data region and the header page (page aligned), described by a record
 * in the header page past struct ub_shm_hdr. A file without BTF has neither, exactly as
 * before; a build that does not know the record refuses a file with one (its size does not
 * add up), rather than misreading it.
 */
#define UB_SHM_BTF_MAGIC	"UEBPFBTF"
#define UB_SHM_BTF_OFF		2048u	/* in the header page */

struct ub_shm_btf {
	char magic[8];
	uint32_t size;			/* bytes of the blob */
	uint32_t key_type_id, value_type_id;
	uint32_t pad;
	uint64_t checksum;		/* FNV-1a of this record (checksum as 0), then the blob */
};
_Static_assert(sizeof(struct ub_shm_hdr) <= UB_SHM_BTF_OFF, "BTF record overlaps the header");

static uint64_t btf_checksum(const struct ub_shm_btf *r, const uint8_t *blob)
{
	struct ub_shm_btf c = *r;
	const uint8_t *p = (const uint8_t *)&c;
	uint64_t x = 0xcbf29ce484222325ull;

	c.checksum = 0;
	for (size_t i = 0; i < sizeof(c); i++)
		x = (x ^ p[i]) * 0x100000001b3ull;
	for (size_t i = 0; i < r->size; i++)
		x = (x ^ blob[i]) * 0x100000001b3ull;
	return x;
}

/* The BTF object a BPF_MAP_CREATE names into *out (NULL when it names none): 0 or -errno.
 * Checked again on the object kept, in case the fd was replaced since ub_map_check_btf. */
static int create_btf(const union bpf_attr *attr, struct ub_btf_obj **out)
{
	int32_t lock_off;

	*out = NULL;
	if (!attr->btf_key_type_id && !attr->btf_value_type_id)
		return 0;
	struct ub_btf_obj *o = ub_btf_obj_get((int)attr->btf_fd);
	if (!o)
		return -errno;
	int err = check_btf_types(attr, o->btf, &lock_off);
	if (err) {
		ub_obj_put(&o->obj);
		return err;
	}
	*out = o;
	return 0;
}

/* Writes the blob and its record into a fresh file's memory (data: the data size). */
static int store_btf(struct ub_map *map, const union bpf_attr *attr, size_t data)
{
	struct ub_btf_obj *o = map->btf;
	uint8_t *blob = map->data + data;
	struct ub_shm_btf *r = (struct ub_shm_btf *)((uint8_t *)map->hdr + UB_SHM_BTF_OFF);
	int err = ub_btf_obj_read(o, blob);

	if (err)
		return err;
	memcpy(r->magic, UB_SHM_BTF_MAGIC, 8);
	r->size = o->size;
	r->key_type_id = map->btf_key_type_id = attr->btf_key_type_id;
	r->value_type_id = map->btf_value_type_id = attr->btf_value_type_id;
	r->checksum = btf_checksum(r, blob);
	return 0;
}

/* The BTF region of a file being opened, from the record in its header page: its size
 * (0 if the file has none) into *region, or the reason it is unusable. */
static const char *btf_region(const struct ub_shm_btf *r, const struct ub_shm_hdr *h,
			      size_t file_size, size_t *region)
{
	*region = 0;
	if (memcmp(r->magic, UB_SHM_BTF_MAGIC, 8))
		return NULL;
	*region = ub_shm_page_align(r->size);
	if (!r->size || h->data_size > file_size ||
	    *region != file_size - UB_SHM_HDR_SIZE - h->data_size)
		return "BTF size does not match the file size";
	return NULL;
}

/* Makes the BTF object of a pinned map from the copy in its file (validated as any
 * untrusted BTF, and against the map as BPF_MAP_CREATE would). */
static const char *load_btf(struct ub_map *map, const struct ub_shm_btf *rec, char *why,
			    size_t whysz)
{
	struct ub_shm_btf r = *rec;	/* the shared record could change under us */
	uint8_t *blob = malloc(r.size ? r.size : 1);

	if (!blob)
		return "out of memory";
	memcpy(blob, map->data + map->hdr->data_size, r.size);
	if (btf_checksum(&r, blob) != r.checksum) {
		free(blob);
		return "BTF checksum mismatch";
	}
	struct ub_btf_obj *o = ub_btf_obj_from_blob(blob, r.size, why, whysz);
	free(blob);
	if (!o)
		return why;
	union bpf_attr a = { .map_type = map->type, .key_size = map->key_size,
			     .value_size = map->value_size, .max_entries = map->max_entries,
			     .btf_key_type_id = r.key_type_id, .btf_value_type_id = r.value_type_id };
	int32_t lock_off;
	if (!r.value_type_id || check_btf_types(&a, o->btf, &lock_off) || lock_off != map->lock_off) {
		ub_obj_put(&o->obj);
		return "BTF does not describe the map";
	}
	map->btf = o;
	map->btf_key_type_id = r.key_type_id;
	map->btf_value_type_id = r.value_type_id;
	return NULL;
}

int ub_map_create(const union bpf_attr *attr)
{
	const struct ub_map_ops *ops = ub_map_ops_for(attr->map_type);
	struct ub_shm_hdr probe = { 0 };
	int32_t lock_off = -1;
	int err;

	if (!ops)
		return -EINVAL;
	err = check_common(attr);
	if (!err)
		err = ops->check(attr);
	if (!err && ops->create_check)
		err = ops->create_check(attr);
	if (!err)
		err = check_name(attr);
	if (!err)
		err = ub_map_check_btf(attr, &lock_off);
	if (err)
		return err;
	fill_hdr(&probe, attr, 0);
	probe.spin_lock_off1 = (uint32_t)(lock_off + 1);
	size_t data = ub_shm_page_align(ops->data_size(&probe));
	if (!data || data > UB_SHM_MAX_MAP_SIZE)
		return -E2BIG;
	probe.data_size = data;

	struct ub_btf_obj *btf;
	if ((err = create_btf(attr, &btf)))
		return err;
	size_t region = btf ? ub_shm_page_align(btf->size) : 0;
	size_t total = data + region + UB_SHM_HDR_SIZE;
	void *mem;
	int fd = ub_shm_create(attr->map_name, total, &mem);
	if (fd < 0) {
		if (btf)
			ub_obj_put(&btf->obj);
		return fd;
	}
	struct ub_shm_hdr *h = (struct ub_shm_hdr *)((uint8_t *)mem + data + region);
	*h = probe;
	struct ub_map *map = map_new(ops, fd, mem, total);
	if (!map) {
		if (btf)
			ub_obj_put(&btf->obj);
		ub_shm_unmap(mem, total);
		close(fd);
		return -ENOMEM;
	}
	map->btf = btf;
	err = btf ? store_btf(map, attr, data) : 0;
	if (!err)
		err = ops->init(map);
	/* A family may settle a field in init (LRU rounds max_entries): checksum the result. */
	h->checksum = ub_shm_hdr_checksum(h);
	/* The creating fd's access: BPF_F_RDONLY / BPF_F_WRONLY of the request. */
	int ufd = err ? err : ub_obj_publish_acc(&map->obj, ub_obj_acc_of_flags(attr->map_flags));
	if (ufd < 0)
		map_release(&map->obj);
	return ufd;
}

/* A uebpf map file that is damaged: EINVAL, with the reason. */
static int bad_file(char *err, size_t errsz, const char *why)
{
	if (err)
		snprintf(err, errsz, "damaged uebpf map file: %s", why);
	return -EINVAL;
}

/* A file that is no uebpf map at all: EACCES, as the kernel's bpf_obj_get() on a file that
 * is no bpf object. */
static int foreign_file(char *err, size_t errsz, const char *why)
{
	if (err)
		snprintf(err, errsz, "not a uebpf map file: %s", why);
	return -EACCES;
}

/* Header checks before trusting any size from the file (the magic is checked before). */
static const char *check_hdr(const struct ub_shm_hdr *h, size_t file_size, size_t region)
{
	if (h->version != UB_SHM_VERSION)
		return "unsupported version";
	if (h->hdr_size != sizeof(*h))
		return "header size mismatch";
	if (h->data_size + region + UB_SHM_HDR_SIZE != file_size || h->data_size % UB_SHM_PAGE)
		return "data size does not match the file size";
	const struct ub_map_ops *ops = ub_map_ops_for(h->map_type);
	if (!ops)
		return "unknown map type";
	if (h->name[BPF_OBJ_NAME_LEN - 1])
		return "name is not terminated";
	if ((uint32_t)ub_num_possible_cpus() != h->nr_cpus && h->nr_cpus)
		return "made for a different number of CPUs";
	union bpf_attr attr = { .map_type = h->map_type, .key_size = h->key_size,
				.value_size = h->value_size, .max_entries = h->max_entries,
				.map_flags = h->map_flags, .map_extra = h->map_extra };
	if (ops->check(&attr))
		return "map shape is invalid";
	if (ub_shm_page_align(ops->data_size(h)) != h->data_size)
		return "data size does not match the map shape";
	if (h->spin_lock_off1 && (h->spin_lock_off1 - 1 > h->value_size - 4 ||
				  (h->spin_lock_off1 - 1) % 4 || h->value_size < 4 ||
				  (h->map_type != BPF_MAP_TYPE_HASH && h->map_type != BPF_MAP_TYPE_ARRAY)))
		return "spin lock offset does not fit the values";
	if ((h->map_flags & (BPF_F_RDONLY | BPF_F_WRONLY)) || h->checksum != ub_shm_hdr_checksum(h))
		return "header checksum mismatch";
	return NULL;
}

int ub_map_open_file(int file_fd, int flags, char *err, size_t errsz)
{
	struct stat st;
	struct ub_shm_hdr h;

	if (fstat(file_fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return foreign_file(err, errsz, "not a regular file");
	if (st.st_size < (off_t)(UB_SHM_HDR_SIZE + UB_SHM_PAGE))
		return foreign_file(err, errsz, "too small to hold a map");
	if (pread(file_fd, &h, sizeof(h), st.st_size - UB_SHM_HDR_SIZE) != (ssize_t)sizeof(h))
		return bad_file(err, errsz, "cannot read the header");
	if (memcmp(h.magic, UB_SHM_MAGIC, 8))
		return foreign_file(err, errsz, "bad magic");
	struct ub_shm_btf rec;
	size_t region;
	if (pread(file_fd, &rec, sizeof(rec), st.st_size - UB_SHM_HDR_SIZE + UB_SHM_BTF_OFF) !=
	    (ssize_t)sizeof(rec))
		return bad_file(err, errsz, "cannot read the header");
	const char *why = btf_region(&rec, &h, (size_t)st.st_size, &region);
	if (!why)
		why = check_hdr(&h, (size_t)st.st_size, region);
	if (why)
		return bad_file(err, errsz, why);
	int prot = PROT_READ | ((flags & BPF_F_RDONLY) ? 0 : PROT_WRITE);
	void *mem = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, file_fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	int own = fcntl(file_fd, F_DUPFD_CLOEXEC, 0);
	struct ub_map *map = own < 0 ? NULL
			   : map_new(ub_map_ops_for(h.map_type), own, mem, (size_t)st.st_size);
	if (!map) {
		if (own >= 0)
			close(own);
		munmap(mem, (size_t)st.st_size);
		return -ENOMEM;
	}
	/* Use the validated copy, not the shared header another process could change. */
	map->type = h.map_type, map->key_size = h.key_size, map->value_size = h.value_size;
	map->max_entries = h.max_entries, map->flags = h.map_flags, map->nr_cpus = h.nr_cpus;
	map->lock_off = (int32_t)h.spin_lock_off1 - 1;
	if (flags & BPF_F_RDONLY)
		map->flags |= BPF_F_RDONLY;	/* mapped read-only: nothing may write, not even locks */
	/* A family sizes its view of the data from the checked copy of the header: the shared
	 * one could have been changed since it was checked. */
	struct ub_shm_hdr *shared = map->hdr;
	map->hdr = &h;
	int rc = map->ops->validate ? map->ops->validate(map) : 0;
	map->hdr = shared;
	if (rc) {
		map_release(&map->obj);	/* the caller still owns file_fd */
		return bad_file(err, errsz, "corrupt data region");
	}
	char bwhy[160] = "";
	const char *bad = region ? load_btf(map, &rec, bwhy, sizeof(bwhy)) : NULL;
	if (bad) {
		snprintf(err, errsz, "damaged uebpf map file: BTF: %s", bad);
		map_release(&map->obj);
		return -EINVAL;
	}
	rc = ub_obj_install_acc(&map->obj, file_fd, ub_obj_acc_of_flags((uint32_t)flags));
	if (rc) {
		map_release(&map->obj);
		return rc;
	}
	return file_fd;
}

int ub_map_sealed(const struct ub_map *map)
{
	struct stat st;

	if (!map->hdr || !__atomic_load_n(&map->hdr->frozen, __ATOMIC_ACQUIRE) ||
	    fstat(map->obj.fd, &st))
		return 0;
	if (!(st.st_mode & 0222))
		return 1;
	return st.st_uid == geteuid() && !(st.st_mode & 0022);
}

void ub_map_seal(struct ub_map *map)
{
	struct stat st;

	/* Best effort: a file of another owner keeps its mode, and ub_map_sealed says so. */
	if (!fstat(map->obj.fd, &st))
		(void)fchmod(map->obj.fd, st.st_mode & 07555);
}
