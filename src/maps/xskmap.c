/*
 * ub_xskmap: BPF_MAP_TYPE_XSKMAP, the AF_XDP socket table of bpf_redirect_map(). Values
 * are socket fds of AF_XDP sockets (the kernel checks no more: an unbound socket is
 * accepted). The map holds its own dup of each socket, process-local like the kernel's
 * reference; the shared data only says which slots are set. User space cannot read the
 * sockets back (EOPNOTSUPP, as the kernel); a program's lookup finds a set slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "maps/map.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

struct xsk_ctl {
	uint32_t lock;
	uint32_t pad;
};

static int xsk_check(const union bpf_attr *attr)
{
	if (attr->max_entries == 0 || attr->key_size != 4 || attr->value_size != 4 ||
	    (attr->map_flags & ~(uint32_t)(BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY)))
		return -EINVAL;
	return 0;
}

static size_t xsk_data_size(const struct ub_shm_hdr *h)
{
	return sizeof(struct xsk_ctl) + (size_t)h->max_entries * sizeof(uint32_t);
}

static uint32_t *slot_of(const struct ub_map *m, uint32_t i)
{
	return (uint32_t *)(m->data + sizeof(struct xsk_ctl)) + i;
}

static int xsk_init(struct ub_map *m)
{
	int *fds = malloc(m->max_entries * sizeof(int));

	if (!fds)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->max_entries; i++)
		fds[i] = -1;
	m->priv = fds;
	return 0;
}

/* Sockets do not cross processes: a pinned XSKMAP opened here starts empty here. */
static int xsk_validate(const struct ub_map *m)
{
	int err = xsk_init((struct ub_map *)m);
	if (!err)
		memset(m->data + sizeof(struct xsk_ctl), 0, m->max_entries * sizeof(uint32_t));
	return err;
}

static void xsk_release(struct ub_map *m)
{
	int *fds = m->priv;
	for (uint32_t i = 0; fds && i < m->max_entries; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void *xsk_lookup(struct ub_map *m, const void *key)
{
	uint32_t k;

	memcpy(&k, key, 4);
	if (k >= m->max_entries || !__atomic_load_n(slot_of(m, k), __ATOMIC_ACQUIRE))
		return NULL;
	return slot_of(m, k);
}

static int xsk_lookup_user(struct ub_map *m, const void *key, void *value, uint64_t flags)
{
	return -EOPNOTSUPP;
}

/* sockfd_lookup() and the family check: EBADF, ENOTSOCK, EOPNOTSUPP. */
static int xsk_socket(int fd)
{
	struct stat st;
	int domain = 0;
	socklen_t len = sizeof(domain);

	if (fd < 0 || fstat(fd, &st))
		return -EBADF;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) || domain != AF_XDP)
		return -EOPNOTSUPP;
	return 0;
}

/* Under the lock. */
static void slot_set(struct ub_map *m, uint32_t k, int fd)
{
	int *fds = m->priv;

	if (fds[k] >= 0)
		close(fds[k]);
	fds[k] = fd;
	__atomic_store_n(slot_of(m, k), fd >= 0, __ATOMIC_RELEASE);
}

static int xsk_update(struct ub_map *m, const void *key, const void *value, uint64_t flags)
{
	struct xsk_ctl *c = (struct xsk_ctl *)m->data;
	uint32_t k;
	int fd, err;

	memcpy(&k, key, 4);
	memcpy(&fd, value, 4);
	if (flags > BPF_EXIST)
		return -EINVAL;
	if (k >= m->max_entries)
		return -E2BIG;
	if ((err = xsk_socket(fd)))
		return err;
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return -ENOMEM;
	ub_shm_lock(&c->lock);
	uint32_t used = *slot_of(m, k);
	err = used && flags == BPF_NOEXIST ? -EEXIST : !used && flags == BPF_EXIST ? -ENOENT : 0;
	if (!err)
		slot_set(m, k, own);
	ub_shm_unlock(&c->lock);
	if (err)
		close(own);
	return err;
}

static int xsk_delete(struct ub_map *m, const void *key)
{
	struct xsk_ctl *c = (struct xsk_ctl *)m->data;
	uint32_t k;

	memcpy(&k, key, 4);
	if (k >= m->max_entries)
		return -EINVAL;
	ub_shm_lock(&c->lock);
	slot_set(m, k, -1);
	ub_shm_unlock(&c->lock);
	return 0;
}

static int xsk_get_next_key(struct ub_map *m, const void *key, void *next_key)
{
	uint32_t k, next = 0;

	if (key && (memcpy(&k, key, 4), k < m->max_entries)) {
		if (k == m->max_entries - 1)
			return -ENOENT;
		next = k + 1;
	}
	memcpy(next_key, &next, 4);
	return 0;
}

const struct ub_map_ops ub_xskmap_ops = {
	.check = xsk_check,
	.data_size = xsk_data_size,
	.init = xsk_init,
	.validate = xsk_validate,
	.lookup = xsk_lookup,
	.lookup_user = xsk_lookup_user,
	.update = xsk_update,
	.update_elem = xsk_update,
	.delete = xsk_delete,
	.get_next_key = xsk_get_next_key,
	.release = xsk_release,
};
