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
#define UB_SHM_VERSION	3	/* 2: header checksum; 3: array journal, lock words hold pids */
#define UB_SHM_HDR_SIZE	4096u

/*
 * The header page at the end of every map file. Only immutable fields, and `frozen`.
 * `checksum` covers every other byte of the struct (ub_shm_hdr_checksum): a damaged header
 * that still describes a plausible map of the same file size (a hash relabelled as an
 * array, another value size) is refused on open.
 */
struct ub_shm_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	uint64_t data_size;		/* bytes before this header */
	uint32_t map_type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t map_flags;		/* permanent flags: never BPF_F_RDONLY/WRONLY */
	uint32_t nr_cpus;		/* per-CPU maps: slots per value */
	char name[BPF_OBJ_NAME_LEN];
	uint32_t frozen;		/* set once by BPF_MAP_FREEZE */
	/* 1 + offset of the struct bpf_spin_lock in each value (from the value's BTF at
	 * creation), 0 when values have none. Kept in the file: a process that opens a pinned
	 * map locks the same word as the programs of its creator. */
	uint32_t spin_lock_off1;
	uint64_t create_ns;
	uint64_t map_extra;		/* bloom filter: hash function count (low 4 bits) */
	uint64_t checksum;		/* FNV-1a 64 of the header, frozen and checksum as 0 */
};

/* The checksum a header should carry (computed at creation, verified on open). */
uint64_t ub_shm_hdr_checksum(const struct ub_shm_hdr *h);

struct ub_map;
struct ub_btf_obj;

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
	/*
	 * Optional: BPF_MAP_LOOKUP_AND_DELETE_ELEM on a keyed map in one step (copy out as
	 * lookup_user, then delete, with no update of the key in between). Without it the
	 * command is a lookup followed by a delete.
	 */
	int (*lookup_and_delete)(struct ub_map *map, const void *key, void *value, uint64_t flags);
	int (*get_next_key)(struct ub_map *map, const void *key, void *next_key);
	/* Queue, stack and bloom filter (BPF_MAP_{PUSH,POP,PEEK}_ELEM semantics). */
	int (*push)(struct ub_map *map, const void *value, uint64_t flags);
	int (*pop)(struct ub_map *map, void *value);
	int (*peek)(struct ub_map *map, void *value);
	/* Optional: frees per-type process-local state (map->priv is freed by the core). */
	void (*release)(struct ub_map *map);
	/* Optional: extra poll/wakeup fd for ring buffers and perf event arrays, or -1. */
	int (*event_fd)(struct ub_map *map);
	/* Optional: checks of BPF_MAP_CREATE beyond the shape, at creation only (not for a
	 * pinned file), right after check: map-in-map's inner_map_fd. */
	int (*create_check)(const union bpf_attr *attr);
};

struct ub_map {
	struct ub_obj obj;
	const struct ub_map_ops *ops;
	struct ub_shm_hdr *hdr;		/* in the mapping */
	uint8_t *data;			/* start of the mapping */
	size_t map_size;		/* data + header; the backing file is obj.fd */
	/*
	 * Copies of immutable header fields, never re-read from shared memory. `flags` are the
	 * map's permanent flags; BPF_F_RDONLY/WRONLY belong to fds (the fd table, as the
	 * kernel's f_mode), except that BPF_F_RDONLY here says this process mapped the file
	 * read-only (BPF_OBJ_GET with BPF_F_RDONLY): nothing may write it, not even a lock word.
	 */
	uint32_t type, key_size, value_size, max_entries, flags, nr_cpus;
	int32_t lock_off;		/* offset of the value's bpf_spin_lock, or -1 */
	void *priv;			/* per-type process-local state */
	/* The map's BTF (BPF_MAP_CREATE's btf_fd, or the copy kept in a pinned map's file),
	 * with a reference; NULL when it has none. */
	struct ub_btf_obj *btf;
	uint32_t btf_key_type_id, btf_value_type_id;
};

/* The family for a map type, or NULL if uebpf has none. */
const struct ub_map_ops *ub_map_ops_for(uint32_t map_type);

/* BPF_MAP_CREATE: creates the map and its fd. Returns the fd or -errno. */
int ub_map_create(const union bpf_attr *attr);
/* Opens a map file (a pinned map), validating it. Returns the fd or -errno. */
int ub_map_open_file(int file_fd, int flags, char *err, size_t errsz);

struct ub_map *ub_map_get(int fd);	/* takes a reference; NULL + errno */
/* The same, also giving what the fd may do (UB_ACC_* of api/obj.h). */
struct ub_map *ub_map_get_acc(int fd, unsigned *acc);
void ub_map_put(struct ub_map *map);

/* Rounded value size and per-CPU value stride, as the kernel's round_up(value_size, 8). */
static inline uint32_t ub_map_value_stride(const struct ub_map *map)
{
	return (map->value_size + 7) & ~7u;
}

int ub_num_possible_cpus(void);

/*
 * The BTF of BPF_MAP_CREATE (btf_fd, btf_key_type_id, btf_value_type_id,
 * btf_vmlinux_value_type_id), checked where the kernel's map_create() checks it, after the
 * family and the name, as the kernel's map_check_btf(): the fd must be a BTF object
 * (BPF_BTF_LOAD; EBADF when not open, EINVAL for another file), the key and value types
 * must have the map's key and value sizes, and a struct bpf_spin_lock in the value is
 * found (*lock_off, else -1) and allowed only where the kernel allows it. 0 or -errno.
 */
int ub_map_check_btf(const union bpf_attr *attr, int32_t *lock_off);
/*
 * Is the map's content fixed for good, so that the verifier may read it as constants (the
 * kernel's bpf_map_direct_read)? Frozen, and its file writable by no one but, at most, this
 * process's own user: freezing stops bpf() writes, and ub_map_seal (at freeze) takes the
 * write bits off the file, so that no other user can map it writable and change what a
 * verified program was proven against.
 */
int ub_map_sealed(const struct ub_map *map);
/* BPF_MAP_FREEZE's last step: the file loses its write permission bits. */
void ub_map_seal(struct ub_map *map);

/*
 * Values with a bpf_spin_lock (kernel: copy_map_value, copy_map_value_locked,
 * check_and_init_map_value). Copies skip the lock word, so user space never reads or
 * overwrites it; the locked forms copy under the lock of the value in the map (`in_map`:
 * src for a lookup, dst for an update). Without a lock they are plain copies.
 */
void ub_map_copy_value(const struct ub_map *map, void *dst, const void *src);
void ub_map_copy_value_locked(const struct ub_map *map, void *dst, const void *src,
			      int lock_src);
/* Zeroes the lock word of a value copied out to user space. */
void ub_map_clear_lock(const struct ub_map *map, void *value);

/* The program in a prog array's slot, or NULL (maps/prog_array.c). */
struct uebpf_prog;
const struct uebpf_prog *ub_prog_array_get(const struct ub_map *map, uint32_t idx);

/* A map of maps' inner-map template (shape only: no memory), or NULL (maps/map_in_map.c):
 * what a program's lookup in it returns, as the verifier sees it. */
const struct ub_map *ub_map_inner_tmpl(const struct ub_map *outer);

/* Shared-memory spin lock (works across processes: a plain word in the file). */
void ub_shm_lock(uint32_t *word);
void ub_shm_unlock(uint32_t *word);

extern const struct ub_map_ops ub_array_ops, ub_percpu_array_ops;
extern const struct ub_map_ops ub_hash_ops, ub_percpu_hash_ops;
/*
 * Families whose file exists are named strongly: a weak reference does not make the linker
 * take a member out of libuebpf.a, so a weak-only family would be missing from programs
 * linked statically (its type answering EINVAL).
 */
extern const struct ub_map_ops ub_lru_hash_ops, ub_lru_percpu_hash_ops, ub_lpm_trie_ops;
extern const struct ub_map_ops ub_queue_ops, ub_stack_ops, ub_bloom_filter_ops;
extern const struct ub_map_ops ub_devmap_ops, ub_devmap_hash_ops, ub_cpumap_ops, ub_xskmap_ops;
extern const struct ub_map_ops ub_cgroup_array_ops;
extern const struct ub_map_ops ub_stack_trace_ops;
extern const struct ub_map_ops ub_array_of_maps_ops, ub_hash_of_maps_ops;
/*
 * Families in their own files. Weak, so that the map-type table in map.c can name a
 * family before its file exists: an absent family leaves its type unsupported (EINVAL).
 */
#define UB_MAP_FAMILY(name) extern const struct ub_map_ops name __attribute__((weak));
UB_MAP_FAMILY(ub_ringbuf_ops)
UB_MAP_FAMILY(ub_perf_event_array_ops)
UB_MAP_FAMILY(ub_prog_array_ops)
#undef UB_MAP_FAMILY

#endif
