/*
 * ub_shm: backing files for maps. Files live in the pin root's file system so that a map
 * can later be pinned by linking its file there: the pinned map is then the very memory
 * running programs use, not a copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "maps/shm.h"

const char *ub_shm_pin_root(void)
{
	static char root[512];
	const char *env = getenv("UEBPF_PIN_ROOT");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		return env;
	if (geteuid() == 0 || !xdg)
		return "/run/uebpf";
	snprintf(root, sizeof(root), "%s/uebpf", xdg);
	return root;
}

static void ensure_dir(const char *dir)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
	mkdir(tmp, 0700);
}

int ub_shm_pin_path(const char *path, char *out, size_t outsz)
{
	static const char bpffs[] = "/sys/fs/bpf";
	const char *rest = NULL;
	int n;

	if (!path || !*path)
		return -EINVAL;
	if (!strncmp(path, bpffs, sizeof(bpffs) - 1) &&
	    (path[sizeof(bpffs) - 1] == '/' || !path[sizeof(bpffs) - 1]))
		rest = path + sizeof(bpffs) - 1;
	else if (path[0] != '/')
		rest = path;
	if (rest) {
		while (*rest == '/')
			rest++;
		n = snprintf(out, outsz, "%s/%s", ub_shm_pin_root(), rest);
	} else {
		n = snprintf(out, outsz, "%s", path);
	}
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

static int open_backing(const char *name)
{
	const char *root = ub_shm_pin_root();
	char label[64];
	int fd = open(root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 && errno == ENOENT) {
		ensure_dir(root);
		fd = open(root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	}
	if (fd >= 0)
		return fd;
	snprintf(label, sizeof(label), "uebpf-map:%.16s", name ? name : "");
	fd = memfd_create(label, MFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int ub_shm_create(const char *name, size_t size, void **mem)
{
	int fd = open_backing(name);

	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size)) {
		int err = errno == EFBIG ? -E2BIG : -ENOMEM;
		close(fd);
		return err;
	}
	/*
	 * The memory is taken now, as the kernel allocates a map's memory at creation: a sparse
	 * file on a full tmpfs would map fine and then SIGBUS the first program or process that
	 * touches a page. A file system without fallocate keeps the sparse file.
	 */
	int rc;
	while ((rc = fallocate(fd, 0, 0, (off_t)size)) && errno == EINTR)
		;
	if (rc && errno != EOPNOTSUPP && errno != ENOSYS) {
		int err = errno == EFBIG ? -E2BIG : -ENOMEM;
		close(fd);
		return err;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	*mem = p;
	return fd;
}
