/*
 * ub_map: maps in shared memory. A map's memory is one mappable file: the type's data
 * region from offset 0 (so BPF_F_MMAPABLE arrays map their values at offset 0, as on
 * Linux), then a header page describing the map. Everything inside the file refers to
 * other parts of it by offset or index, never by pointer, so another process can map the
 * same file (a pinned map) and read and write it while programs run.
 */
#ifndef UB_MAP_H
#define UB_MAP_H
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include "api/obj.h"

#define UB_SHM_MAGIC	"UEBPFMAP"
#define UB_SHM_VERSION	1
#define UB_SHM_HDR_SIZE	4096u

/* The header page at the end of every map file. Only immutable fields and flags. */
struct ub_shm_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	uint64_t data_size;		/* bytes before this header */
	uint32_t map_type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t map_flags;
	uint32_t nr_cpus;		/* per-CPU maps: slots per value */
	char name[BPF_OBJ_NAME_LEN];
	uint32_t frozen;		/* set once by BPF_MAP_FREEZE */
	uint32_t inner_map_fd_unused;
	uint64_t create_ns;
};

struct ub_map;

/* A map family: the vtable that the bpf() commands, helpers and (later) the JIT use. */
struct ub_map_ops {
	/* Checks a BPF_MAP_CREATE request: 0 or the kernel's errno (negative). */
	int (*check)(const union bpf_attr *attr);
	/* Bytes of the data region for a map of this shape. */
	size_t (*data_size)(const struct ub_shm_hdr *hdr);
	/* Lays out a fresh, zeroed data region. */
	int (*init)(struct ub_map *map);
	/* Checks the data region of a file being opened (a pinned map): 0 or -EINVAL. */
	int (*validate)(const struct ub_map *map);
	/* Program side: the value's address, or NULL. */
	void *(*lookup)(struct ub_map *map, const void *key);
	/* User side: copy out (per-CPU maps: one value per CPU), 0 or -errno. */
	int (*lookup_user)(struct ub_map *map, const void *key, void *value, uint64_t flags);
	int (*update)(struct ub_map *map, const void *key, const void *value, uint64_t flags);
	/* Program side update: same as update but one value, not one per CPU. */
	int (*update_elem)(struct ub_map *map, const void *key, const void *value, uint64_t flags);
	int (*delete)(struct ub_map *map, const void *key);
	int (*get_next_key)(struct ub_map *map, const void *key, void *next_key);
	/* Queue, stack and bloom filter (BPF_MAP_{PUSH,POP,PEEK}_ELEM semantics). */
	int (*push)(struct ub_map *map, const void *value, uint64_t flags);
	int (*pop)(struct ub_map *map, void *value);
	int (*peek)(struct ub_map *map, void *value);
	/* Optional: frees per-type process-local state (map->priv is freed by the core). */
	void (*release)(struct ub_map *map);
	/* Optional: extra poll/wakeup fd for ring buffers and perf event arrays, or -1. */
	int (*event_fd)(struct ub_map *map);
};

struct ub_map {
	struct ub_obj obj;
	const struct ub_map_ops *ops;
	struct ub_shm_hdr *hdr;		/* in the mapping */
	uint8_t *data;			/* start of the mapping */
	size_t map_size;		/* data + header; the backing file is obj.fd */
	/* Copies of immutable header fields, never re-read from shared memory. */
	uint32_t type, key_size, value_size, max_entries, flags, nr_cpus;
	void *priv;			/* per-type process-local state */
};

/* The family for a map type, or NULL if uebpf has none. */
const struct ub_map_ops *ub_map_ops_for(uint32_t map_type);

/* BPF_MAP_CREATE: creates the map and its fd. Returns the fd or -errno. */
int ub_map_create(const union bpf_attr *attr);
/* Opens a map file (a pinned map), validating it. Returns the fd or -errno. */
int ub_map_open_file(int file_fd, int flags, char *err, size_t errsz);

struct ub_map *ub_map_get(int fd);	/* takes a reference; NULL + errno */
void ub_map_put(struct ub_map *map);

/* Rounded value size and per-CPU value stride, as the kernel's round_up(value_size, 8). */
static inline uint32_t ub_map_value_stride(const struct ub_map *map)
{
	return (map->value_size + 7) & ~7u;
}

int ub_num_possible_cpus(void);

/* The program in a prog array's slot, or NULL (maps/prog_array.c). */
struct uebpf_prog;
const struct uebpf_prog *ub_prog_array_get(const struct ub_map *map, uint32_t idx);

/* Shared-memory spin lock (works across processes: a plain word in the file). */
void ub_shm_lock(uint32_t *word);
void ub_shm_unlock(uint32_t *word);

extern const struct ub_map_ops ub_array_ops, ub_percpu_array_ops;
extern const struct ub_map_ops ub_hash_ops, ub_percpu_hash_ops;
/*
 * Families in their own files. Weak, so that the map-type table in map.c can name a
 * family before its file exists: an absent family leaves its type unsupported (EINVAL).
 */
#define UB_MAP_FAMILY(name) extern const struct ub_map_ops name __attribute__((weak));
UB_MAP_FAMILY(ub_lru_hash_ops)
UB_MAP_FAMILY(ub_lru_percpu_hash_ops)
UB_MAP_FAMILY(ub_ringbuf_ops)
UB_MAP_FAMILY(ub_perf_event_array_ops)
UB_MAP_FAMILY(ub_stack_trace_ops)
UB_MAP_FAMILY(ub_prog_array_ops)
UB_MAP_FAMILY(ub_lpm_trie_ops)
UB_MAP_FAMILY(ub_queue_ops)
UB_MAP_FAMILY(ub_stack_ops)
UB_MAP_FAMILY(ub_bloom_filter_ops)
UB_MAP_FAMILY(ub_array_of_maps_ops)
UB_MAP_FAMILY(ub_hash_of_maps_ops)
UB_MAP_FAMILY(ub_devmap_ops)
UB_MAP_FAMILY(ub_devmap_hash_ops)
UB_MAP_FAMILY(ub_cpumap_ops)
UB_MAP_FAMILY(ub_xskmap_ops)
#undef UB_MAP_FAMILY

#endif
