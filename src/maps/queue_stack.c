/*
 * ub_queue, ub_stack: BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK, as the kernel's
 * queue_stack_maps.c. Both are one ring of max_entries + 1 slots (one slot always stays
 * free, so head == tail means empty) under one spin lock in the file:
 *   struct qs_ctl | slots[(max_entries + 1) * value_size]
 * head is the next slot to write, tail the oldest element. A queue pops at tail, a stack
 * at head - 1. BPF_EXIST on a full map advances tail, dropping the OLDEST element for both
 * kinds (for a stack that is the bottom, not the top: the kernel's choice).
 * head and tail live in shared memory, so every use is bounds-checked: a corrupt file
 * makes an operation fail (EINVAL), never touch memory outside the map.
 * A process that mapped the file read-only (BPF_OBJ_GET with BPF_F_RDONLY) cannot write
 * the lock word, so writers also make `seq` odd around every change, and such a process
 * peeks as a seqlock reader (qs_peek_ro): the kernel lets a read-only fd peek.
 */
#include <errno.h>
#include <string.h>
#include "maps/map.h"
#include "maps/shm.h"

#define KMALLOC_MAX	(4u << 20)	/* x86-64 KMALLOC_MAX_SIZE: the kernel's bound on a value */
#define SLOTS_OFF	64u		/* the control block gets its own cache line */

struct qs_ctl {
	uint32_t lock;
	uint32_t head;
	uint32_t tail;
	uint32_t size;			/* max_entries + 1, checked against the header on open */
	uint32_t value_size;
	uint32_t seq;			/* odd while a push or pop changes the ring */
};

_Static_assert(sizeof(struct qs_ctl) <= SLOTS_OFF, "control block fits before the slots");

/* As queue_stack_map_alloc_check(): QUEUE_STACK_CREATE_FLAG_MASK, then the value bound. */
static int qs_check(const union bpf_attr *attr)
{
	const uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY |
				 BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;

	if (attr->max_entries == 0 || attr->key_size != 0 || attr->value_size == 0 ||
	    (attr->map_flags & ~allowed))
		return -EINVAL;
	if (attr->value_size > KMALLOC_MAX)
		return -E2BIG;	/* user space could not copy such a value */
	return 0;
}

static size_t qs_data_size(const struct ub_shm_hdr *h)
{
	return SLOTS_OFF + ((size_t)h->max_entries + 1) * h->value_size;
}

static int qs_init(struct ub_map *map)
{
	struct qs_ctl *c = (struct qs_ctl *)map->data;

	c->size = map->max_entries + 1;
	c->value_size = map->value_size;
	return 0;	/* head = tail = 0: empty */
}

static int qs_validate(const struct ub_map *map)
{
	const struct qs_ctl *c = (const struct qs_ctl *)map->data;
	uint32_t size = map->max_entries + 1;

	if (c->size != size || c->value_size != map->value_size || c->head >= size ||
	    c->tail >= size)
		return -EINVAL;
	return 0;
}

/* The ring's state, copied under the lock and checked before any slot is addressed. */
struct qs_pos {
	uint32_t head, tail, size;
};

static struct qs_ctl *qs_lock(struct ub_map *map, struct qs_pos *p)
{
	struct qs_ctl *c = (struct qs_ctl *)map->data;

	ub_shm_lock(&c->lock);
	p->head = c->head;
	p->tail = c->tail;
	p->size = map->max_entries + 1;	/* the validated copy, never the file's */
	if (p->head >= p->size || p->tail >= p->size) {
		ub_shm_unlock(&c->lock);
		return NULL;
	}
	return c;
}

/* A push or pop: the lock is held. Orders as lpm_trie.c's write_begin/write_end. */
static void qs_change_begin(struct qs_ctl *c)
{
	__atomic_store_n(&c->seq, __atomic_load_n(&c->seq, __ATOMIC_RELAXED) | 1,
			 __ATOMIC_RELAXED);	/* odd even if the file held an odd value */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void qs_change_end(struct qs_ctl *c)
{
	__atomic_store_n(&c->seq, __atomic_load_n(&c->seq, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELEASE);
	ub_shm_unlock(&c->lock);
}

static inline uint8_t *slot(struct ub_map *map, uint32_t i)
{
	return map->data + SLOTS_OFF + (size_t)i * map->value_size;
}

static inline uint32_t ring_next(uint32_t i, uint32_t size)
{
	return i + 1 >= size ? 0 : i + 1;
}

static int qs_push(struct ub_map *map, const void *value, uint64_t flags)
{
	struct qs_pos p;

	/* BPF_EXIST makes room by dropping the oldest element; nothing else is a flag here. */
	if ((flags & BPF_NOEXIST) || flags > BPF_EXIST)
		return -EINVAL;
	if (map->flags & BPF_F_RDONLY)
		return -EPERM;	/* this process mapped the file read-only (a program's push) */
	struct qs_ctl *c = qs_lock(map, &p);
	if (!c)
		return -EINVAL;
	if (ring_next(p.head, p.size) == p.tail) {
		if (!(flags & BPF_EXIST)) {
			ub_shm_unlock(&c->lock);
			return -E2BIG;
		}
		qs_change_begin(c);
		c->tail = ring_next(p.tail, p.size);
	} else {
		qs_change_begin(c);
	}
	memcpy(slot(map, p.head), value, map->value_size);
	c->head = ring_next(p.head, p.size);
	qs_change_end(c);
	return 0;
}

/* One unlocked look at the ring: what qs_get(.., 0) answers, from a consistent state or not. */
static int qs_peek_once(struct ub_map *map, void *value, int stack)
{
	const struct qs_ctl *c = (const struct qs_ctl *)map->data;
	uint32_t size = map->max_entries + 1;	/* the validated copy, never the file's */
	uint32_t head = __atomic_load_n(&c->head, __ATOMIC_RELAXED);
	uint32_t tail = __atomic_load_n(&c->tail, __ATOMIC_RELAXED);

	if (head >= size || tail >= size)
		return -EINVAL;
	if (head == tail)
		return -ENOENT;
	memcpy(value, slot(map, stack ? (head ? head - 1 : size - 1) : tail), map->value_size);
	return 0;
}

/* A peek through a read-only mapping: a seqlock read, retried while a writer is busy. */
static int qs_peek_ro(struct ub_map *map, void *value, int stack)
{
	struct qs_ctl *c = (struct qs_ctl *)map->data;
	int as_is = 0, rc = -EINVAL;

	for (unsigned tries = 0;; tries++) {
		uint32_t s = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		if (!(s & 1) || as_is) {
			rc = qs_peek_once(map, value, stack);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (as_is || __atomic_load_n(&c->seq, __ATOMIC_RELAXED) == s)
				break;
		}
		as_is = ub_shm_seq_wait(&c->lock, &c->seq, tries);
	}
	if (rc == -ENOENT)
		memset(value, 0, map->value_size);
	return rc;
}

/*
 * Copies out the element a pop would take (queue: the oldest, stack: the newest) and, if
 * `del`, removes it. On an empty map the value is zeroed, as the kernel does, so a program
 * never reads stale stack bytes after a failed pop.
 */
static int qs_get(struct ub_map *map, void *value, int stack, int del)
{
	struct qs_pos p;

	if (map->flags & BPF_F_RDONLY)
		return del ? -EPERM : qs_peek_ro(map, value, stack);
	struct qs_ctl *c = qs_lock(map, &p);
	if (!c)
		return -EINVAL;
	if (p.head == p.tail) {
		ub_shm_unlock(&c->lock);
		memset(value, 0, map->value_size);
		return -ENOENT;
	}
	uint32_t i = stack ? (p.head ? p.head - 1 : p.size - 1) : p.tail;
	memcpy(value, slot(map, i), map->value_size);
	if (!del) {
		ub_shm_unlock(&c->lock);
		return 0;
	}
	qs_change_begin(c);
	if (stack)
		c->head = i;
	else
		c->tail = ring_next(p.tail, p.size);
	qs_change_end(c);
	return 0;
}

static int queue_pop(struct ub_map *map, void *value)
{
	return qs_get(map, value, 0, 1);
}

static int queue_peek(struct ub_map *map, void *value)
{
	return qs_get(map, value, 0, 0);
}

static int stack_pop(struct ub_map *map, void *value)
{
	return qs_get(map, value, 1, 1);
}

static int stack_peek(struct ub_map *map, void *value)
{
	return qs_get(map, value, 1, 0);
}

/*
 * The keyed operations, as the kernel's: a program's map_lookup_elem gets NULL, the others
 * EINVAL (the verifier refuses these calls; uebpf's checked runs reach them). The bpf()
 * commands route lookup, update and lookup-and-delete to peek, push and pop themselves.
 */
static void *qs_lookup(struct ub_map *map, const void *key)
{
	return NULL;
}

static int qs_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	return -EINVAL;
}

static int qs_delete(struct ub_map *map, const void *key)
{
	return -EINVAL;
}

static int qs_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	return -EINVAL;
}

/* A plain lookup from user space is a peek (bpf_map_copy_value()). */
static int queue_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	return queue_peek(map, value);
}

static int stack_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	return stack_peek(map, value);
}

#define QS_OPS(kind) { \
	.check = qs_check, .data_size = qs_data_size, .init = qs_init, .validate = qs_validate, \
	.lookup = qs_lookup, .lookup_user = kind##_lookup_user, .update = qs_update, \
	.update_elem = qs_update, .delete = qs_delete, .get_next_key = qs_get_next_key, \
	.push = qs_push, .pop = kind##_pop, .peek = kind##_peek }

const struct ub_map_ops ub_queue_ops = QS_OPS(queue);
const struct ub_map_ops ub_stack_ops = QS_OPS(stack);
