/*
 * ub_cpumap: BPF_MAP_TYPE_CPUMAP, the CPU table of bpf_redirect_map(). Key i is CPU i;
 * values are struct bpf_cpumap_val (queue size, and optionally a cpumap program's fd,
 * stored as its id). A queue size of 0 empties the slot. uebpf runs nothing on the CPU:
 * a redirect records the target (see uebpf_pkt_outcome).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "api/prog_obj.h"
#include "maps/map.h"

/* NR_CPUS of the reference kernel configuration (Debian's amd64: CONFIG_NR_CPUS=8192). */
#define UB_NR_CPUS	8192u
#define QSIZE_MAX	16384u	/* the kernel's sanity limit on one queue */

struct cpu_slot {
	uint32_t used;
	struct bpf_cpumap_val val;
};

struct cpu_ctl {
	uint32_t lock;
	uint32_t pad;
};

static int cpu_check(const union bpf_attr *attr)
{
	uint32_t vs = attr->value_size;

	if (attr->max_entries == 0 || attr->key_size != 4 ||
	    (vs != 4 && vs != sizeof(struct bpf_cpumap_val)) ||
	    (attr->map_flags & ~(uint32_t)BPF_F_NUMA_NODE))
		return -EINVAL;
	if (attr->max_entries > UB_NR_CPUS)
		return -E2BIG;
	return 0;
}

static size_t cpu_data_size(const struct ub_shm_hdr *h)
{
	return sizeof(struct cpu_ctl) + (size_t)h->max_entries * sizeof(struct cpu_slot);
}

static struct cpu_ctl *ctl_of(const struct ub_map *m)
{
	return (struct cpu_ctl *)m->data;
}

static struct cpu_slot *slot_of(const struct ub_map *m, uint32_t i)
{
	return (struct cpu_slot *)(m->data + sizeof(struct cpu_ctl)) + i;
}

static int cpu_init(struct ub_map *m)
{
	m->priv = calloc(m->max_entries, sizeof(struct ub_prog_obj *));
	return m->priv ? 0 : -ENOMEM;
}

/* A pinned cpumap opened here: slots stay, their programs belong to the creator. */
static int cpu_validate(const struct ub_map *m)
{
	return cpu_init((struct ub_map *)m);
}

static void cpu_release(struct ub_map *m)
{
	struct ub_prog_obj **progs = m->priv;
	for (uint32_t i = 0; progs && i < m->max_entries; i++)
		ub_prog_obj_put(progs[i]);
}

static void *cpu_lookup(struct ub_map *m, const void *key)
{
	uint32_t k;

	memcpy(&k, key, 4);
	if (k >= m->max_entries)
		return NULL;
	struct cpu_slot *s = slot_of(m, k);
	return __atomic_load_n(&s->used, __ATOMIC_ACQUIRE) ? &s->val : NULL;
}

static int cpu_lookup_user(struct ub_map *m, const void *key, void *value, uint64_t flags)
{
	const void *v = cpu_lookup(m, key);

	if (!v)
		return -ENOENT;
	memcpy(value, v, m->value_size);
	return 0;
}

/* Under the lock. */
static void slot_set(struct ub_map *m, uint32_t k, const struct bpf_cpumap_val *v,
		     struct ub_prog_obj *prog)
{
	struct ub_prog_obj **progs = m->priv;
	struct cpu_slot *s = slot_of(m, k);

	ub_prog_obj_put(progs[k]);
	progs[k] = prog;
	if (v) {
		__atomic_store_n(&s->val.qsize, v->qsize, __ATOMIC_RELAXED);
		__atomic_store_n(&s->val.bpf_prog.id, v->bpf_prog.id, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&s->used, v != NULL, __ATOMIC_RELEASE);
}

/* A cpumap program must be an XDP program for BPF_XDP_CPUMAP. The kernel reports a bad
 * one as an allocation failure (__cpu_map_entry_alloc() returns NULL): ENOMEM. */
static int cpu_prog(struct bpf_cpumap_val *v, struct ub_prog_obj **prog)
{
	*prog = NULL;
	if (v->bpf_prog.fd <= 0) {
		v->bpf_prog.id = 0;
		return 0;
	}
	*prog = ub_prog_obj_get(v->bpf_prog.fd);
	if (!*prog || (*prog)->type != BPF_PROG_TYPE_XDP ||
	    (*prog)->expected_attach_type != BPF_XDP_CPUMAP) {
		ub_prog_obj_put(*prog);
		return -ENOMEM;
	}
	v->bpf_prog.id = (*prog)->obj.id;
	return 0;
}

static int cpu_update(struct ub_map *m, const void *key, const void *value, uint64_t flags)
{
	struct bpf_cpumap_val v = { 0 };
	struct ub_prog_obj *prog;
	uint32_t k;
	int err;

	memcpy(&k, key, 4);
	memcpy(&v, value, m->value_size);
	if (flags > BPF_EXIST)
		return -EINVAL;
	if (k >= m->max_entries)
		return -E2BIG;
	if (flags == BPF_NOEXIST)
		return -EEXIST;
	if (v.qsize > QSIZE_MAX)
		return -EOVERFLOW;
	if (k >= (uint32_t)ub_num_possible_cpus())
		return -ENODEV;
	if (v.qsize && (err = cpu_prog(&v, &prog)))
		return err;
	ub_shm_lock(&ctl_of(m)->lock);
	slot_set(m, k, v.qsize ? &v : NULL, v.qsize ? prog : NULL);	/* qsize 0 deletes */
	ub_shm_unlock(&ctl_of(m)->lock);
	return 0;
}

static int cpu_delete(struct ub_map *m, const void *key)
{
	uint32_t k;

	memcpy(&k, key, 4);
	if (k >= m->max_entries)
		return -EINVAL;
	ub_shm_lock(&ctl_of(m)->lock);
	slot_set(m, k, NULL, NULL);
	ub_shm_unlock(&ctl_of(m)->lock);
	return 0;
}

static int cpu_get_next_key(struct ub_map *m, const void *key, void *next_key)
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

const struct ub_map_ops ub_cpumap_ops = {
	.check = cpu_check,
	.data_size = cpu_data_size,
	.init = cpu_init,
	.validate = cpu_validate,
	.lookup = cpu_lookup,
	.lookup_user = cpu_lookup_user,
	.update = cpu_update,
	.update_elem = cpu_update,
	.delete = cpu_delete,
	.get_next_key = cpu_get_next_key,
	.release = cpu_release,
};
