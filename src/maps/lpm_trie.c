/*
 * ub_lpm_trie: BPF_MAP_TYPE_LPM_TRIE, as the kernel's lpm_trie.c: a path-compressed binary
 * trie whose nodes are either real entries or "intermediate" nodes (flag IM, no value,
 * exactly two children) that only split paths. Update and delete are exact-match; lookup
 * is longest-prefix; get_next_key walks in post-order (more specific prefixes first).
 *
 * Layout (indices, never pointers):  struct lpm_ctl | nodes[nnodes] | free ring[nnodes]
 * A node is { child[2], prefixlen, flags, data (key bytes, zero-padded to 8), value }.
 * The pool holds 2 * max_entries + 1 nodes (entries, at most max_entries - 1 intermediate
 * nodes, one spare for a replacing update) plus SPARE_NODES, so a freed node waits in the
 * FIFO ring before reuse: a value pointer a program got stays a valid value of this map.
 *
 * Concurrency: writers (update, delete) take the lock in the file and, around every change,
 * make the sequence counter odd. Lookups take no lock: they walk the trie reading every
 * shared word with atomic loads and every index bounds-checked, then accept the answer only
 * if the counter was even and unchanged (a seqlock). After RETRIES failed attempts (writers
 * keep changing the trie) a lookup takes the lock, so it always finishes. Like the kernel,
 * an update never changes a reachable entry in place: it links a new node, so a program
 * holding a value sees the old value or the new one, never a mix. get_next_key takes the
 * lock (it is a syscall, not a fast path). Build with -DUB_LPM_LOCKED_LOOKUPS=1 to make
 * lookups always lock, to measure what the seqlock buys (bench/mapx_lpm_lookup.c): on a
 * 2-vCPU machine both cost ~100 ns of reader CPU per program run (10k prefixes), and a busy
 * writer costs seqlock readers ~10% in retries. It stays because a seqlock reader never
 * writes shared memory, so readers on many cores do not bounce the lock's cache line.
 * A process that mapped the file read-only (BPF_OBJ_GET with BPF_F_RDONLY) cannot write the
 * lock word: its lookups and get_next_key stay seqlock readers however long it takes
 * (ub_shm_seq_wait), and it cannot update or delete (EPERM).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "maps/map.h"
#include "maps/shm.h"

#ifndef UB_LPM_LOCKED_LOOKUPS
#define UB_LPM_LOCKED_LOOKUPS 0
#endif

#define DATA_MAX	256u		/* LPM_DATA_SIZE_MAX: at most 2048-bit prefixes */
#define KEY_MIN		(4u + 1)	/* u32 prefixlen + at least one byte of data */
#define KEY_MAX		(4u + DATA_MAX)
#define KMALLOC_MAX	(4u << 20)	/* x86-64 KMALLOC_MAX_SIZE */
#define KERNEL_NODE	24u		/* sizeof(struct lpm_trie_node) in the kernel */
#define VALUE_MAX	(KMALLOC_MAX - DATA_MAX - KERNEL_NODE)	/* LPM_VAL_SIZE_MAX */
#define SPARE_NODES	64u
#define NODES_OFF	64u
#define NIL		UINT32_MAX
#define FLAG_IM		1u		/* intermediate node: no entry of its own */
#define RETRIES		16

#define LD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "prefix bits are read from LE words");

struct lpm_ctl {
	uint32_t lock;		/* writers, get_next_key, and lookups that gave up retrying */
	uint32_t seq;		/* odd while a writer changes the trie */
	uint32_t root;
	uint32_t n_entries;
	uint32_t nnodes, node_size, data_size, pad;
	uint64_t free_head, free_tail;	/* FIFO of free node indices, positions mod nnodes */
	uint64_t ring_off;
};

_Static_assert(sizeof(struct lpm_ctl) <= NODES_OFF, "control block fits before the nodes");

struct lpm_node {
	uint32_t child[2];
	uint32_t prefixlen;
	uint32_t flags;
	uint64_t data[];	/* data_stride bytes of key data, then the value */
};

/* Process-local geometry from the validated header; never re-read from the file. */
struct lpm_geom {
	uint32_t nnodes, node_size, data_size, data_stride, max_prefixlen, value_size;
	struct lpm_ctl *ctl;
	uint8_t *nodes;
	uint32_t *ring;
};

/* The pool for a map shape; 0 nodes when it would not fit 32-bit indices. */
static void geom_of(uint32_t key_size, uint32_t value_size, uint32_t max_entries,
		    struct lpm_geom *g)
{
	uint64_t n = 2ull * max_entries + 1 + SPARE_NODES;

	g->data_size = key_size - 4;
	g->data_stride = (g->data_size + 7) & ~7u;
	g->max_prefixlen = g->data_size * 8;
	g->value_size = value_size;
	g->node_size = (uint32_t)sizeof(struct lpm_node) + g->data_stride + ((value_size + 7) & ~7u);
	g->nnodes = n < NIL ? (uint32_t)n : 0;
}

static size_t ring_off(const struct lpm_geom *g)
{
	return NODES_OFF + (size_t)g->nnodes * g->node_size;
}

/* As trie_alloc(): every bad attribute is EINVAL, BPF_F_NO_PREALLOC is required. */
static int lpm_check(const union bpf_attr *attr)
{
	const uint32_t allowed = BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_RDONLY |
				 BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;

	if (attr->max_entries == 0 || !(attr->map_flags & BPF_F_NO_PREALLOC) ||
	    (attr->map_flags & ~allowed) || attr->key_size < KEY_MIN || attr->key_size > KEY_MAX ||
	    attr->value_size < 1 || attr->value_size > VALUE_MAX)
		return -EINVAL;
	return 0;
}

static size_t lpm_data_size(const struct ub_shm_hdr *h)
{
	struct lpm_geom g;

	geom_of(h->key_size, h->value_size, h->max_entries, &g);
	if (!g.nnodes)
		return (size_t)1 << 62;	/* more nodes than indices: refused as too big */
	return ring_off(&g) + (size_t)g.nnodes * sizeof(uint32_t);
}

static int geom_bind(struct ub_map *map)
{
	struct lpm_geom *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	geom_of(map->key_size, map->value_size, map->max_entries, g);
	g->ctl = (struct lpm_ctl *)map->data;
	g->nodes = map->data + NODES_OFF;
	g->ring = (uint32_t *)(map->data + ring_off(g));
	map->priv = g;
	return 0;
}

static int lpm_init(struct ub_map *map)
{
	int err = geom_bind(map);
	if (err)
		return err;
	struct lpm_geom *g = map->priv;

	*g->ctl = (struct lpm_ctl){ .root = NIL, .nnodes = g->nnodes, .node_size = g->node_size,
				    .data_size = g->data_size, .free_tail = g->nnodes,
				    .ring_off = ring_off(g) };
	for (uint32_t i = 0; i < g->nnodes; i++)
		g->ring[i] = i;
	return 0;
}

/* ---- nodes ---- */

static inline struct lpm_node *node_at(const struct lpm_geom *g, uint32_t i)
{
	return (struct lpm_node *)(g->nodes + (size_t)i * g->node_size);
}

static inline uint8_t *node_value(const struct lpm_geom *g, struct lpm_node *n)
{
	return (uint8_t *)n->data + g->data_stride;
}

/* Bit i (0 = most significant bit of byte 0) of a key's data and of a node's data. */
static inline unsigned key_bit(const uint8_t *kd, uint32_t i)
{
	return (kd[i / 8] >> (7 - i % 8)) & 1;
}

static inline unsigned node_bit(const struct lpm_node *n, uint32_t i)
{
	uint64_t w = LD(&n->data[i / 64]);
	return (unsigned)(w >> (8 * (i / 8 % 8) + 7 - i % 8)) & 1;
}

/* A key as the trie compares it: its data in node layout (zero-padded words), made once
 * per operation so the walk compares words, not bytes. */
struct lpm_key {
	uint32_t pl;
	const uint8_t *d;	/* the caller's data bytes */
	uint64_t w[DATA_MAX / 8];
};

static void key_load(const struct lpm_geom *g, const void *key, struct lpm_key *k)
{
	memcpy(&k->pl, key, 4);
	k->d = (const uint8_t *)key + 4;
	k->w[g->data_stride / 8 - 1] = 0;	/* the padding of the last word */
	memcpy(k->w, k->d, g->data_size);
}

/*
 * Leading bits node and key share, at most min(prefix lengths) (longest_prefix_match()).
 * Big-endian bit order inside little-endian words: byte-swapping the difference puts the
 * first differing bit at the top, where clz counts to it.
 */
static uint32_t prefix_match(const struct lpm_geom *g, const struct lpm_node *n, uint32_t npl,
			     const struct lpm_key *k)
{
	uint32_t limit = npl < k->pl ? npl : k->pl, bits = 0;

	for (uint32_t i = 0; i < g->data_stride / 8 && bits < limit; i++) {
		uint64_t diff = __builtin_bswap64(LD(&n->data[i]) ^ k->w[i]);
		if (diff) {
			bits += (uint32_t)__builtin_clzll(diff);
			break;
		}
		bits += 64;
	}
	return bits < limit ? bits : limit;
}

/*
 * The trie's shape, as every walk relies on it: from the root, each child has a longer
 * prefix than its parent, shares the parent's prefix and continues it with the bit of the
 * slot it hangs from, and no node is reached twice; the free ring names other nodes, each
 * once. A file that breaks this (damaged nodes) would make get_next_key list keys forever,
 * now or after updates, so it is refused on open. 0, -EINVAL,
 * or -ENOMEM.
 */
static int shape_check(const struct lpm_geom *g)
{
	uint32_t *stack = malloc((size_t)g->nnodes * sizeof(uint32_t));
	uint8_t *seen = calloc((g->nnodes + 7) / 8, 1);
	uint32_t root = LD(&g->ctl->root), sp = 0;
	int err = 0;

	if (!stack || !seen) {
		free(stack), free(seen);
		return -ENOMEM;
	}
	if (root != NIL)
		stack[sp++] = root;
	while (sp && !err) {
		uint32_t i = stack[--sp];
		if (i >= g->nnodes || (seen[i / 8] & (1u << (i % 8)))) {
			err = -EINVAL;
			break;
		}
		seen[i / 8] |= (uint8_t)(1u << (i % 8));
		const struct lpm_node *n = node_at(g, i);
		uint32_t npl = LD(&n->prefixlen);
		if (npl > g->max_prefixlen)
			err = -EINVAL;
		for (unsigned b = 0; b < 2 && !err; b++) {
			uint32_t c = LD(&n->child[b]);
			if (c == NIL)
				continue;
			if (c >= g->nnodes) {
				err = -EINVAL;
				break;
			}
			const struct lpm_node *cn = node_at(g, c);
			struct lpm_key k = { .pl = LD(&cn->prefixlen) };
			for (uint32_t w = 0; w < g->data_stride / 8; w++)
				k.w[w] = LD(&cn->data[w]);
			if (k.pl <= npl || k.pl > g->max_prefixlen ||
			    prefix_match(g, n, npl, &k) != npl || node_bit(cn, npl) != b)
				err = -EINVAL;
			else
				stack[sp++] = c;	/* each node once (seen): sp < nnodes */
		}
	}
	/* Free nodes: none in the trie, none twice, or an update would reuse a live node. */
	uint64_t head = LD(&g->ctl->free_head), tail = LD(&g->ctl->free_tail);
	for (uint64_t p = head; !err && p != tail && tail - head <= g->nnodes; p++) {
		uint32_t i = LD(&g->ring[p % g->nnodes]);
		if (i >= g->nnodes || (seen[i / 8] & (1u << (i % 8))))
			err = -EINVAL;
		else
			seen[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	free(stack), free(seen);
	return err;
}

/*
 * A pinned file: the control block must match the header's shape, indices in range, and
 * the trie its shape (shape_check). A writer in another process may be changing the trie:
 * the shape is judged from a consistent snapshot (seqlock), or as it is when its writer died.
 */
static int lpm_validate(const struct ub_map *cmap)
{
	struct ub_map *map = (struct ub_map *)cmap;
	if (geom_bind(map))
		return -ENOMEM;
	struct lpm_geom *g = map->priv;
	const struct lpm_ctl *c = g->ctl;

	if (c->nnodes != g->nnodes || c->node_size != g->node_size ||
	    c->data_size != g->data_size || c->ring_off != ring_off(g) ||
	    (c->root != NIL && c->root >= g->nnodes) || c->n_entries > map->max_entries ||
	    c->free_tail - c->free_head > g->nnodes)
		return -EINVAL;
	int as_is = 0;
	for (unsigned tries = 0;; tries++) {
		uint32_t s = __atomic_load_n(&g->ctl->seq, __ATOMIC_ACQUIRE);
		if (!(s & 1) || as_is) {
			int err = shape_check(g);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (as_is || err == -ENOMEM || LD(&g->ctl->seq) == s)
				return err;
		}
		as_is = ub_shm_seq_wait(&g->ctl->lock, &g->ctl->seq, tries);
	}
}

/* Values move word by word with atomic accesses: a lock-free reader may copy a value
 * while its (freed) node is being reused; the sequence check then discards the copy. */
static void value_out(void *dst, const uint8_t *src, uint32_t size)
{
	uint32_t off = 0;
	for (; off + 8 <= size; off += 8) {
		uint64_t w = LD((const uint64_t *)(src + off));
		memcpy((uint8_t *)dst + off, &w, 8);
	}
	if (off < size) {
		uint64_t w = LD((const uint64_t *)(src + off));
		memcpy((uint8_t *)dst + off, &w, size - off);
	}
}

static void value_in(uint8_t *dst, const void *src, uint32_t size)
{
	for (uint32_t off = 0; off < size; off += 8) {
		uint64_t w = 0;
		memcpy(&w, (const uint8_t *)src + off, size - off < 8 ? size - off : 8);
		ST((uint64_t *)(dst + off), w);
	}
}

/* The FIFO ring (writers only, under the lock). NIL when empty or corrupt. */
static uint32_t node_alloc(struct lpm_geom *g)
{
	struct lpm_ctl *c = g->ctl;
	uint64_t h = c->free_head;

	if (h == c->free_tail || c->free_tail - h > g->nnodes)
		return NIL;
	uint32_t i = g->ring[h % g->nnodes];
	c->free_head = h + 1;
	return i < g->nnodes ? i : NIL;
}

static void node_free(struct lpm_geom *g, uint32_t i)
{
	struct lpm_ctl *c = g->ctl;

	if (c->free_tail - c->free_head < g->nnodes) {
		g->ring[c->free_tail % g->nnodes] = i;
		c->free_tail++;
	}
}

/* A fresh node: prefix, data words, no children; `value` NULL for IM nodes. */
static void node_fill(struct lpm_geom *g, uint32_t i, uint32_t pl, uint32_t flags,
		      const uint64_t *data, const void *value)
{
	struct lpm_node *n = node_at(g, i);

	ST(&n->child[0], NIL);
	ST(&n->child[1], NIL);
	ST(&n->prefixlen, pl);
	ST(&n->flags, flags);
	for (uint32_t w = 0; w < g->data_stride / 8; w++)
		ST(&n->data[w], LD(&data[w]));
	if (value)
		value_in(node_value(g, n), value, g->value_size);
}

/* ---- lookup (lock-free) ---- */

/* The node of the longest prefix matching the key, or NIL (trie_lookup_elem()). */
static uint32_t lpm_find(const struct lpm_geom *g, const struct lpm_key *k)
{
	uint32_t found = NIL, n = __atomic_load_n(&g->ctl->root, __ATOMIC_ACQUIRE);

	for (uint32_t steps = 0; n != NIL && n < g->nnodes && steps <= g->max_prefixlen; steps++) {
		const struct lpm_node *nd = node_at(g, n);
		uint32_t npl = LD(&nd->prefixlen);
		if (npl > g->max_prefixlen)
			break;	/* torn or corrupt: the caller's sequence check decides */
		uint32_t match = prefix_match(g, nd, npl, k);
		if (match == g->max_prefixlen)
			return n;
		if (match < npl)
			break;
		if (!(LD(&nd->flags) & FLAG_IM))
			found = n;
		n = LD(&nd->child[key_bit(k->d, npl)]);
	}
	return found;
}

static void write_begin(struct lpm_geom *g)
{
	ub_shm_lock(&g->ctl->lock);
	ST(&g->ctl->seq, LD(&g->ctl->seq) | 1);	/* odd even if the file held an odd value */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(struct lpm_geom *g)
{
	__atomic_store_n(&g->ctl->seq, LD(&g->ctl->seq) + 1, __ATOMIC_RELEASE);
	ub_shm_unlock(&g->ctl->lock);
}

/* After a failed seqlock try: whether to read as it is (read-only mappings only). */
static int read_wait(struct lpm_geom *g, int ro, unsigned tries)
{
	if (ro)
		return ub_shm_seq_wait(&g->ctl->lock, &g->ctl->seq, tries);
	__builtin_ia32_pause();
	return 0;
}

/*
 * Runs find (and copies the value to `out` if given) as a seqlock reader; falls back to the
 * lock, except in a read-only mapping (`ro`). Returns the node or NIL.
 */
static uint32_t lpm_read(struct lpm_geom *g, int ro, const void *key, void *out)
{
	struct lpm_key k;
	uint32_t n;
	int as_is = 0;

	key_load(g, key, &k);
	if (k.pl > g->max_prefixlen)
		return NIL;
	for (unsigned tries = 0; ro || (!UB_LPM_LOCKED_LOOKUPS && tries < RETRIES); tries++) {
		uint32_t s = __atomic_load_n(&g->ctl->seq, __ATOMIC_ACQUIRE);
		if ((s & 1) && !as_is) {
			as_is = read_wait(g, ro, tries);
			continue;
		}
		n = lpm_find(g, &k);
		if (n != NIL && out)
			value_out(out, node_value(g, node_at(g, n)), g->value_size);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (as_is || LD(&g->ctl->seq) == s)
			return n;
		as_is = read_wait(g, ro, tries);
	}
	ub_shm_lock(&g->ctl->lock);
	n = lpm_find(g, &k);
	if (n != NIL && out)
		value_out(out, node_value(g, node_at(g, n)), g->value_size);
	ub_shm_unlock(&g->ctl->lock);
	return n;
}

static void *lpm_lookup(struct ub_map *map, const void *key)
{
	struct lpm_geom *g = map->priv;
	uint32_t n = lpm_read(g, map->flags & BPF_F_RDONLY, key, NULL);

	return n == NIL ? NULL : node_value(g, node_at(g, n));
}

static int lpm_lookup_user(struct ub_map *map, const void *key, void *value, uint64_t flags)
{
	return lpm_read(map->priv, map->flags & BPF_F_RDONLY, key, value) == NIL ? -ENOENT : 0;
}

/* ---- writers (under the lock) ---- */

/* Where a walk down the trie stopped, as the loops of trie_update_elem/delete_elem. */
struct walk {
	uint32_t *slot;		/* the slot holding `node` (or the empty slot reached) */
	uint32_t *pslot;	/* the slot holding `parent` */
	uint32_t node, parent;	/* NIL when absent */
	uint32_t npl, match;	/* node's prefix length, bits it shares with the key */
	uint32_t *stack;	/* if set: every node visited (get_next_key's node_stack) */
	uint32_t depth;
};

/* Descends while the node is a proper prefix of the key. -EINVAL if the file is corrupt. */
static int walk(struct lpm_geom *g, const struct lpm_key *k, struct walk *w)
{
	w->slot = w->pslot = &g->ctl->root;
	w->parent = NIL;
	w->depth = 0;
	for (uint32_t steps = 0;; steps++) {
		w->node = LD(w->slot);
		if (w->node == NIL)
			return 0;
		/* Prefixes grow strictly along a path: more steps than bits means a cycle. */
		if (w->node >= g->nnodes || steps > g->max_prefixlen)
			return -EINVAL;
		struct lpm_node *n = node_at(g, w->node);
		w->npl = LD(&n->prefixlen);
		if (w->npl > g->max_prefixlen)
			return -EINVAL;
		if (w->stack)
			w->stack[w->depth++] = w->node;
		w->match = prefix_match(g, n, w->npl, k);
		if (w->npl != w->match || w->npl == k->pl)
			return 0;
		w->pslot = w->slot;
		w->parent = w->node;
		w->slot = &n->child[key_bit(k->d, w->npl)];
	}
}

/* trie_check_add_elem(): a new entry is counted before it is linked. */
static int add_check(struct lpm_geom *g, uint32_t max_entries, uint64_t flags)
{
	if (flags == BPF_EXIST)
		return -ENOENT;
	if (g->ctl->n_entries >= max_entries)
		return -ENOSPC;
	g->ctl->n_entries++;
	return 0;
}

/* Links fresh node `nn` where the walk stopped: the four cases of trie_update_elem(). */
static int link_new(struct lpm_geom *g, struct ub_map *map, const struct walk *w, uint32_t nn,
		    const struct lpm_key *k, uint64_t flags)
{
	struct lpm_node *node = w->node == NIL ? NULL : node_at(g, w->node);
	struct lpm_node *nw = node_at(g, nn);
	int err;

	if (node && w->npl == w->match) {	/* the same prefix: replace the node */
		err = LD(&node->flags) & FLAG_IM ? add_check(g, map->max_entries, flags)
						   : flags == BPF_NOEXIST ? -EEXIST : 0;
		if (err)
			return err;
		ST(&nw->child[0], LD(&node->child[0]));
		ST(&nw->child[1], LD(&node->child[1]));
		ST(w->slot, nn);
		node_free(g, w->node);
		return 0;
	}
	if ((err = add_check(g, map->max_entries, flags)))
		return err;
	if (!node) {				/* an empty slot */
		ST(w->slot, nn);
		return 0;
	}
	if (w->match == k->pl) {		/* the new prefix covers node: insert above */
		ST(&nw->child[node_bit(node, w->match)], w->node);
		ST(w->slot, nn);
		return 0;
	}
	uint32_t im = node_alloc(g);		/* they diverge: an intermediate node splits */
	if (im == NIL) {
		g->ctl->n_entries--;
		return -ENOMEM;
	}
	node_fill(g, im, w->match, FLAG_IM, node->data, NULL);
	unsigned b = key_bit(k->d, w->match);
	ST(&node_at(g, im)->child[b], nn);
	ST(&node_at(g, im)->child[!b], w->node);
	ST(w->slot, im);
	return 0;
}

static int lpm_update(struct ub_map *map, const void *key, const void *value, uint64_t flags)
{
	struct lpm_geom *g = map->priv;
	struct walk w = { 0 };
	struct lpm_key k;
	int err;

	key_load(g, key, &k);
	if (flags > BPF_EXIST || k.pl > g->max_prefixlen)
		return -EINVAL;
	if (map->flags & BPF_F_RDONLY)
		return -EPERM;	/* this process mapped the file read-only (a program's update) */
	write_begin(g);
	uint32_t nn = node_alloc(g);
	if (nn == NIL) {
		err = -ENOMEM;
	} else {
		node_fill(g, nn, k.pl, 0, k.w, value);
		err = walk(g, &k, &w);
		if (!err)
			err = link_new(g, map, &w, nn, &k, flags);
		if (err)
			node_free(g, nn);
	}
	write_end(g);
	return err;
}

/* Unlinks the entry the walk found (trie_delete_elem()), keeping every IM node binary. */
static int unlink_entry(struct lpm_geom *g, const struct walk *w, uint32_t kpl)
{
	if (w->node == NIL)
		return -ENOENT;
	struct lpm_node *n = node_at(g, w->node);
	uint32_t fl = LD(&n->flags);
	if (w->npl != kpl || w->npl != w->match || (fl & FLAG_IM))
		return -ENOENT;
	g->ctl->n_entries--;
	uint32_t c0 = LD(&n->child[0]), c1 = LD(&n->child[1]);
	if (c0 != NIL && c1 != NIL) {		/* still splits two subtrees: becomes IM */
		ST(&n->flags, fl | FLAG_IM);
		return 0;
	}
	if (w->parent != NIL && c0 == NIL && c1 == NIL) {
		struct lpm_node *p = node_at(g, w->parent);
		if (LD(&p->flags) & FLAG_IM) {	/* an IM parent left with one child goes too */
			uint32_t p0 = LD(&p->child[0]);
			ST(w->pslot, p0 == w->node ? LD(&p->child[1]) : p0);
			node_free(g, w->parent);
			node_free(g, w->node);
			return 0;
		}
	}
	ST(w->slot, c0 != NIL ? c0 : c1);
	node_free(g, w->node);
	return 0;
}

static int lpm_delete(struct ub_map *map, const void *key)
{
	struct lpm_geom *g = map->priv;
	struct walk w = { 0 };
	struct lpm_key k;

	key_load(g, key, &k);
	if (k.pl > g->max_prefixlen)
		return -EINVAL;
	if (map->flags & BPF_F_RDONLY)
		return -EPERM;
	write_begin(g);
	int err = walk(g, &k, &w);
	if (!err)
		err = unlink_entry(g, &w, k.pl);
	write_end(g);
	return err;
}

/* ---- get_next_key: post-order, under the lock ---- */

static void copy_key(const struct lpm_geom *g, uint32_t n, void *next_key)
{
	const struct lpm_node *nd = node_at(g, n);
	uint32_t pl = LD(&nd->prefixlen);

	memcpy(next_key, &pl, 4);
	value_out((uint8_t *)next_key + 4, (const uint8_t *)nd->data, g->data_size);
}

/* The first entry in post-order below n: go left (else right) as deep as possible. */
static int leftmost(const struct lpm_geom *g, uint32_t n, void *next_key)
{
	uint32_t found = NIL;

	for (uint32_t steps = 0; n != NIL; steps++) {
		if (n >= g->nnodes || steps > g->max_prefixlen)
			return -EINVAL;
		const struct lpm_node *nd = node_at(g, n);
		uint32_t left = LD(&nd->child[0]);
		if (!(LD(&nd->flags) & FLAG_IM)) {
			found = n;
			if (left == NIL)
				left = LD(&nd->child[1]);
		}
		n = left;
	}
	if (found == NIL)
		return -ENOENT;	/* only in a corrupt trie: IM nodes have two children */
	copy_key(g, found, next_key);
	return 0;
}

/* The entry after the one on top of the walk's stack: trie_get_next_key()'s climb. */
static int successor(const struct lpm_geom *g, const struct walk *w, void *next_key)
{
	uint32_t cur = w->stack[w->depth - 1];

	for (uint32_t sp = w->depth - 1; sp > 0; sp--) {
		const struct lpm_node *p = node_at(g, w->stack[sp - 1]);
		uint32_t right = LD(&p->child[1]);
		if (LD(&p->child[0]) == cur && right != NIL)
			return leftmost(g, right, next_key);
		if (!(LD(&p->flags) & FLAG_IM)) {
			copy_key(g, w->stack[sp - 1], next_key);
			return 0;
		}
		cur = w->stack[sp - 1];
	}
	return -ENOENT;
}

static int next_locked(struct lpm_geom *g, const void *key, void *next_key)
{
	uint32_t root = LD(&g->ctl->root);
	struct walk w = { 0 };
	struct lpm_key k;

	if (root == NIL)
		return -ENOENT;
	if (key)
		key_load(g, key, &k);
	if (!key || k.pl > g->max_prefixlen)	/* no key, or an invalid one: the first entry */
		return leftmost(g, root, next_key);
	w.stack = malloc(((size_t)g->max_prefixlen + 1) * sizeof(uint32_t));
	if (!w.stack)
		return -ENOMEM;
	int err = walk(g, &k, &w);
	if (!err && (w.node == NIL || w.npl != w.match ||
		     (LD(&node_at(g, w.node)->flags) & FLAG_IM)))
		err = leftmost(g, root, next_key);	/* a key not in the trie: start over */
	else if (!err)
		err = successor(g, &w, next_key);
	free(w.stack);
	return err;
}

/* get_next_key in a read-only mapping: next_locked as a seqlock reader (it is bounded and
 * bounds-checks every index, as it must on a damaged file). */
static int next_ro(struct lpm_geom *g, const void *key, void *next_key)
{
	int as_is = 0, err = -ENOENT;

	for (unsigned tries = 0;; tries++) {
		uint32_t s = __atomic_load_n(&g->ctl->seq, __ATOMIC_ACQUIRE);
		if (!(s & 1) || as_is) {
			err = next_locked(g, key, next_key);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (as_is || err == -ENOMEM || LD(&g->ctl->seq) == s)
				return err;
		}
		as_is = read_wait(g, 1, tries);
	}
}

static int lpm_get_next_key(struct ub_map *map, const void *key, void *next_key)
{
	struct lpm_geom *g = map->priv;

	if (map->flags & BPF_F_RDONLY)
		return next_ro(g, key, next_key);
	ub_shm_lock(&g->ctl->lock);
	int err = next_locked(g, key, next_key);
	ub_shm_unlock(&g->ctl->lock);
	return err;
}

const struct ub_map_ops ub_lpm_trie_ops = {
	.check = lpm_check,
	.data_size = lpm_data_size,
	.init = lpm_init,
	.validate = lpm_validate,
	.lookup = lpm_lookup,
	.lookup_user = lpm_lookup_user,
	.update = lpm_update,
	.update_elem = lpm_update,
	.delete = lpm_delete,
	.get_next_key = lpm_get_next_key,
};
