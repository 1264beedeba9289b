/* ub_shm: the files behind maps, and the pin root. */
#ifndef UB_SHM_H
#define UB_SHM_H
#include <stddef.h>
#include <stdint.h>

#define UB_SHM_PAGE		4096u
#define UB_SHM_MAX_MAP_SIZE	(1ull << 36)	/* 64 GiB: larger requests get E2BIG */

static inline size_t ub_shm_page_align(size_t n)
{
	return (n + UB_SHM_PAGE - 1) & ~(size_t)(UB_SHM_PAGE - 1);
}

/*
 * Creates a zero-filled backing file of `size` bytes, its memory allocated (fallocate: a
 * file system that is full fails here with -ENOMEM, not later with SIGBUS on first touch),
 * and maps it shared. The file is an
 * unnamed file in the pin root's file system when it can be (so pinning is a link), else a
 * memfd. Returns the fd (close-on-exec) or -errno.
 */
int ub_shm_create(const char *name, size_t size, void **mem);

/*
 * Unmaps memory from ub_shm_create (giving its size back to the process's map memory
 * budget, UEBPF_MAP_MEMORY_LIMIT) or any other mapping of a map file (no charge).
 */
void ub_shm_unmap(void *mem, size_t size);
/* Bytes of map memory this process has created and not yet released. */
size_t ub_shm_charged(void);

/* The pin root: $UEBPF_PIN_ROOT, else /run/uebpf (root) or $XDG_RUNTIME_DIR/uebpf. */
const char *ub_shm_pin_root(void);

/*
 * Where a pin path lives: paths under /sys/fs/bpf (libbpf's habit) and relative paths
 * are placed under the pin root; other absolute paths are used as given.
 */
int ub_shm_pin_path(const char *path, char *out, size_t outsz);

/*
 * Locks in shared memory (a uint32_t word in a map file, zero when free) that survive the
 * death of their holder: the word holds the holder's process id, and a waiter takes over the
 * lock of a process that no longer exists. ub_shm_lock_robust returns 1 when it took the
 * lock over from a dead holder (whatever the lock protects may be half updated: repair it
 * before unlocking), else 0. ub_shm_lock is the same without the news (map.h).
 * ub_shm_lock_reap takes a lock only if it is held by a dead process (1), without waiting:
 * for the repair of a map file when it is opened.
 */
int ub_shm_lock_robust(uint32_t *word);
int ub_shm_lock_reap(uint32_t *word);
/* Whether process `pid` no longer runs (gone, or a zombie). */
int ub_shm_owner_dead(uint32_t pid);
/* This process's id, without a system call (kept right in forked children). */
uint32_t ub_shm_self_id(void);

/*
 * For a seqlock reader that may not write the file (a read-only mapping cannot take a lock
 * word), called after try number `tries` found the counter `seq` odd or changed. Waits a
 * little and returns 0 (read again) while a writer may still finish. Returns 1 when waiting
 * is pointless: the counter stays odd and the lock is free or held by a process that no
 * longer runs (a writer died mid-change; only a writable opener can repair that), or the
 * tries ran out. The reader then takes the data as it is, so it must be memory safe on torn
 * data, as it must be on a damaged file anyway.
 */
int ub_shm_seq_wait(const uint32_t *lock, const uint32_t *seq, unsigned tries);

#endif
