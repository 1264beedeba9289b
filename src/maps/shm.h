/* ub_shm: the files behind maps, and the pin root. */
#ifndef UB_SHM_H
#define UB_SHM_H
#include <stddef.h>

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

/* The pin root: $UEBPF_PIN_ROOT, else /run/uebpf (root) or $XDG_RUNTIME_DIR/uebpf. */
const char *ub_shm_pin_root(void);

/*
 * Where a pin path lives: paths under /sys/fs/bpf (libbpf's habit) and relative paths
 * are placed under the pin root; other absolute paths are used as given.
 */
int ub_shm_pin_path(const char *path, char *out, size_t outsz);

#endif
