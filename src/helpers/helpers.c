/*
 * ub_helper: the helper table, expanded from helpers.def.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helpers/helpers.h"
#include "maps/map.h"
#include "vm/vm.h"

static const char *ub_arg_name(uint8_t t)
{
	static const char *const names[] = {
		[UB_ARG_ANYTHING] = "scalar", [UB_ARG_CONST_MAP_PTR] = "map of this program",
		[UB_ARG_PTR_TO_MAP_KEY] = "pointer to a map key",
		[UB_ARG_PTR_TO_MAP_VALUE] = "pointer to a map value",
		[UB_ARG_PTR_TO_MEM] = "pointer to readable memory of that size",
		[UB_ARG_PTR_TO_MEM_OR_NULL] = "NULL or a pointer to readable memory of that size",
		[UB_ARG_PTR_TO_UNINIT_MEM] = "pointer to writable memory of that size",
		[UB_ARG_CONST_SIZE] = "non-zero size", [UB_ARG_CONST_SIZE_OR_ZERO] = "size",
		[UB_ARG_PTR_TO_CTX] = "pointer to the context",
		[UB_ARG_PTR_TO_UNINIT_MAP_VALUE] = "pointer to writable memory for a map value",
		[UB_ARG_PTR_TO_RINGBUF_MEM] = "ring buffer record reserved by this run",
		[UB_ARG_PTR_TO_LONG] = "pointer to 8 writable bytes",
		[UB_ARG_PTR_TO_SPIN_LOCK] = "bpf_spin_lock in a map value",
	};
	return t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "argument";
}

static const struct ub_helper_def defs[] = {
#define UB_HELPER(name_, grp_, ret_, a1, a2, a3, a4, a5) \
	{ .id = BPF_FUNC_##name_, .name = #name_, .fn = ub_h_##name_, .grp = UB_GRP_##grp_, \
	  .ret = UB_RET_##ret_, .args = { UB_ARG_##a1, UB_ARG_##a2, UB_ARG_##a3, UB_ARG_##a4, \
					  UB_ARG_##a5 } },
#include "helpers/helpers.def"
#undef UB_HELPER
};

/* Helpers registered by embedders: appended, never removed (programs may use them). */
static struct ub_helper_def *custom[256];
static size_t ncustom;
static pthread_mutex_t custom_lock = PTHREAD_MUTEX_INITIALIZER;

_Static_assert((int)UEBPF_ARG_PTR_TO_CTX == (int)UB_ARG_PTR_TO_CTX &&
	       (int)UEBPF_ARG_CONST_MAP_PTR == (int)UB_ARG_CONST_MAP_PTR &&
	       (int)UEBPF_RET_PTR_TO_MAP_VALUE_OR_NULL == (int)UB_RET_PTR_TO_MAP_VALUE_OR_NULL,
	       "public and internal prototype kinds share their numbers");

static const struct ub_helper_def *find_builtin(uint32_t id)
{
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		if (defs[i].id == id)
			return &defs[i];
	return NULL;
}

const struct ub_helper_def *ub_helper_find(uint32_t id)
{
	const struct ub_helper_def *d = find_builtin(id);
	size_t n = __atomic_load_n(&ncustom, __ATOMIC_ACQUIRE);

	for (size_t i = 0; !d && i < n; i++)
		if (custom[i]->id == id)
			d = custom[i];
	return d;
}

int uebpf_helper_register(const struct uebpf_helper *h)
{
	if (!h || !h->fn || h->id > 0xffff || h->ret > UEBPF_RET_PTR_TO_MAP_VALUE_OR_NULL)
		return -EINVAL;
	for (int i = 0; i < 5; i++)
		if (h->args[i] > UEBPF_ARG_PTR_TO_CTX)
			return -EINVAL;
	struct ub_helper_def *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = (struct ub_helper_def){ .id = h->id, .name = h->name ? h->name : "custom",
				     .fn = h->fn, .grp = UB_GRP_CUSTOM, .ret = h->ret };
	memcpy(d->args, h->args, 5);
	int err = 0;
	pthread_mutex_lock(&custom_lock);
	if (ub_helper_find(h->id))
		err = -EEXIST;
	else if (ncustom >= sizeof(custom) / sizeof(custom[0]))
		err = -E2BIG;
	else {
		custom[ncustom] = d;
		__atomic_store_n(&ncustom, ncustom + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&custom_lock);
	if (err)
		free(d);
	return err;
}

int ub_helper_fill(struct uebpf_prog *prog)
{
	size_t n = __atomic_load_n(&ncustom, __ATOMIC_ACQUIRE), nb = sizeof(defs) / sizeof(defs[0]);
	uint32_t max = 0;

	for (size_t i = 0; i < nb + n; i++) {
		const struct ub_helper_def *d = i < nb ? &defs[i] : custom[i - nb];
		if (d->id + 1 > max)
			max = d->id + 1;
	}
	prog->helper_fn = calloc(max, sizeof(*prog->helper_fn));
	prog->helper_def = calloc(max, sizeof(*prog->helper_def));
	if (!prog->helper_fn || !prog->helper_def)
		return -ENOMEM;
	prog->helper_cnt = max;
	for (size_t i = 0; i < nb + n; i++) {
		const struct ub_helper_def *d = i < nb ? &defs[i] : custom[i - nb];
		prog->helper_fn[d->id] = d->fn;
		prog->helper_def[d->id] = d;
	}
	return 0;
}

const char *ub_helper_name(int32_t id)
{
	const struct ub_helper_def *d = id >= 0 ? ub_helper_find((uint32_t)id) : NULL;
	return d ? d->name : "unknown";
}

static int prog_has_map(const struct uebpf_prog *prog, uint64_t p)
{
	for (uint32_t i = 0; i < prog->nr_maps; i++)
		if ((uintptr_t)prog->maps[i] == p)
			return 1;
	return 0;
}

static int mem_ok(const struct ub_run *run, uint64_t p, uint64_t n, int store)
{
	return n == 0 || ub_run_mem_ok(run, run->stack, p, (size_t)n, store);
}

/* Is p the start of a ring buffer record this run reserved and still holds? */
static int has_ringbuf_record(const struct ub_run *run, uint64_t p)
{
	for (unsigned i = 0; i < run->nregions; i++)
		if (run->regions[i].kind == UB_REGION_RINGBUF_REC && run->regions[i].start == p)
			return 1;
	return 0;
}

/*
 * What the verifier proves statically, checked at run time for unverified programs:
 * a map argument is one of the program's maps, and every memory argument lies in
 * memory the program may touch, for the size the prototype pairs with it.
 */
int ub_helper_args_ok(const struct ub_run *run, const struct ub_helper_def *def,
		      const uint64_t *a, char *why, size_t whysz)
{
	const struct ub_map *map = NULL;

	for (int i = 0; i < 5 && def->args[i] != UB_ARG_NONE; i++) {
		uint8_t t = def->args[i];
		uint64_t size = i < 4 ? a[i + 1] : 0;
		int bad = 0;

		if (t == UB_ARG_CONST_MAP_PTR) {
			bad = !prog_has_map(run->prog, a[i]) && !ub_run_reached_map(run, a[i]);
			map = bad ? NULL : (const struct ub_map *)(uintptr_t)a[i];
		} else if (t == UB_ARG_PTR_TO_MAP_KEY) {
			bad = !map || !mem_ok(run, a[i], map->key_size, 0);
		} else if (t == UB_ARG_PTR_TO_MAP_VALUE) {
			bad = !map || !mem_ok(run, a[i], map->value_size, 0);
		} else if (t == UB_ARG_PTR_TO_UNINIT_MAP_VALUE) {
			bad = !map || !mem_ok(run, a[i], map->value_size, 1);
		} else if (t == UB_ARG_PTR_TO_MEM_OR_NULL) {
			bad = a[i] && (size > (1u << 29) || !mem_ok(run, a[i], size, 0));
		} else if (t == UB_ARG_PTR_TO_MEM || t == UB_ARG_PTR_TO_UNINIT_MEM) {
			bad = size > (1u << 29) || !mem_ok(run, a[i], size, t == UB_ARG_PTR_TO_UNINIT_MEM);
		} else if (t == UB_ARG_CONST_SIZE) {
			bad = a[i] == 0;
		} else if (t == UB_ARG_PTR_TO_STACK_OR_NULL) {
			/* a callback's context: the helper only hands it on, and every access
			 * the callback makes through it is checked where it happens (the
			 * verifier lets a program point anywhere, as the kernel's) */
			bad = 0;
		} else if (t == UB_ARG_PTR_TO_CTX) {
			bad = a[i] != (uintptr_t)run->ctx;
		} else if (t == UB_ARG_PTR_TO_RINGBUF_MEM) {
			bad = !has_ringbuf_record(run, a[i]);
		} else if (t == UB_ARG_PTR_TO_LONG) {
			bad = !mem_ok(run, a[i], 8, 1);
		} else if (t == UB_ARG_PTR_TO_SPIN_LOCK) {
			bad = !ub_spin_lock_ptr_ok(run, a[i]);
		}
		if (bad) {
			snprintf(why, whysz, "R%d (0x%llx) is not a valid %s", i + 1,
				 (unsigned long long)a[i], ub_arg_name(t));
			return 0;
		}
	}
	return 1;
}
