/*
 * A raw BTF blob for the spin-lock tests (test_maps_lock*.c), written out by hand in the
 * kernel's UAPI encoding (<linux/btf.h>), so that the same bytes can be loaded into the
 * kernel and into uebpf. C equivalent:
 *
 *   struct bpf_spin_lock { int val; };                                  T_LOCK
 *   struct val_t { int cnt; struct bpf_spin_lock lock; int a, b; };     T_VAL (16 bytes)
 *   struct nolock_t { int cnt, a, b, lock; };                           T_NOLOCK
 *   struct lock_first { struct bpf_spin_lock lock; int cnt; };          T_LOCK_FIRST
 *   struct nested { int cnt; struct val_t inner; };                     T_NESTED (20 bytes)
 *   long; typedef int u32; int (void) prototype;
 *   struct big_t { struct bpf_spin_lock lock; int w[15]; };             T_BIG (64 bytes)
 * and, in a second blob only (the kernel refuses a struct with two locks at BPF_BTF_LOAD):
 *   struct two_locks { struct bpf_spin_lock a, b; };                    T_TWO_LOCKS
 */
#ifndef MAPS_LOCK_BTF_H
#define MAPS_LOCK_BTF_H
#include <stdint.h>
#include <string.h>
#include <linux/btf.h>

enum { T_INT = 1, T_LOCK, T_VAL, T_NOLOCK, T_LOCK_FIRST, T_NESTED, T_LONG, T_U32,
       T_FPROTO, T_ARR15, T_BIG, T_TWO_LOCKS };

static const char lock_btf_strs[] =
	"\0int\0bpf_spin_lock\0val\0val_t\0cnt\0lock\0a\0b\0nolock_t\0lock_first\0two_locks\0"
	"nested\0inner\0long\0u32\0big_t\0w";

static uint32_t lock_btf_str(const char *s)
{
	for (uint32_t off = 1; off < sizeof(lock_btf_strs); off += (uint32_t)strlen(lock_btf_strs + off) + 1)
		if (!strcmp(lock_btf_strs + off, s))
			return off;
	return 0;
}

struct lock_btf_buf {
	uint8_t b[2048];
	size_t n;
};

static void lb_u32(struct lock_btf_buf *b, uint32_t v)
{
	memcpy(b->b + b->n, &v, 4);
	b->n += 4;
}

static void lb_type(struct lock_btf_buf *b, const char *name, uint32_t kind, uint32_t vlen,
		    uint32_t size_or_type)
{
	lb_u32(b, name ? lock_btf_str(name) : 0);
	lb_u32(b, kind << 24 | vlen);		/* info: kind, vlen (kind_flag 0) */
	lb_u32(b, size_or_type);
}

static void lb_member(struct lock_btf_buf *b, const char *name, uint32_t type, uint32_t bit_off)
{
	lb_u32(b, lock_btf_str(name));
	lb_u32(b, type);
	lb_u32(b, bit_off);
}

/* The blob (static storage) and its size; with two_locks, also struct two_locks. */
static const void *lock_btf2(size_t *size, int two_locks)
{
	static struct lock_btf_buf bufs[2][2];
	struct lock_btf_buf *tp = &bufs[two_locks][0], *outp = &bufs[two_locks][1];
#define t (*tp)
#define out (*outp)

	if (!out.n) {
		lb_type(&t, "int", BTF_KIND_INT, 0, 4);				/* T_INT */
		lb_u32(&t, BTF_INT_SIGNED << 24 | 32);	/* encoding, offset 0, bits */
		lb_type(&t, "bpf_spin_lock", BTF_KIND_STRUCT, 1, 4);		/* T_LOCK */
		lb_member(&t, "val", T_INT, 0);
		lb_type(&t, "val_t", BTF_KIND_STRUCT, 4, 16);			/* T_VAL */
		lb_member(&t, "cnt", T_INT, 0);
		lb_member(&t, "lock", T_LOCK, 32);
		lb_member(&t, "a", T_INT, 64);
		lb_member(&t, "b", T_INT, 96);
		lb_type(&t, "nolock_t", BTF_KIND_STRUCT, 4, 16);		/* T_NOLOCK */
		lb_member(&t, "cnt", T_INT, 0);
		lb_member(&t, "a", T_INT, 32);
		lb_member(&t, "b", T_INT, 64);
		lb_member(&t, "lock", T_INT, 96);
		lb_type(&t, "lock_first", BTF_KIND_STRUCT, 2, 8);		/* T_LOCK_FIRST */
		lb_member(&t, "lock", T_LOCK, 0);
		lb_member(&t, "cnt", T_INT, 32);
		lb_type(&t, "nested", BTF_KIND_STRUCT, 2, 20);			/* T_NESTED */
		lb_member(&t, "cnt", T_INT, 0);
		lb_member(&t, "inner", T_VAL, 32);
		lb_type(&t, "long", BTF_KIND_INT, 0, 8);			/* T_LONG */
		lb_u32(&t, BTF_INT_SIGNED << 24 | 64);
		lb_type(&t, "u32", BTF_KIND_TYPEDEF, 0, T_INT);			/* T_U32 */
		lb_type(&t, NULL, BTF_KIND_FUNC_PROTO, 0, T_INT);		/* T_FPROTO */
		lb_type(&t, NULL, BTF_KIND_ARRAY, 0, 0);			/* T_ARR15 */
		lb_u32(&t, T_INT), lb_u32(&t, T_INT), lb_u32(&t, 15);
		lb_type(&t, "big_t", BTF_KIND_STRUCT, 2, 64);			/* T_BIG */
		lb_member(&t, "lock", T_LOCK, 0);
		lb_member(&t, "w", T_ARR15, 32);
		if (two_locks) {
			lb_type(&t, "two_locks", BTF_KIND_STRUCT, 2, 8);	/* T_TWO_LOCKS */
			lb_member(&t, "a", T_LOCK, 0);
			lb_member(&t, "b", T_LOCK, 32);
		}
		struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION,
					.hdr_len = sizeof(h), .type_off = 0,
					.type_len = (uint32_t)t.n, .str_off = (uint32_t)t.n,
					.str_len = sizeof(lock_btf_strs) };
		memcpy(out.b, &h, sizeof(h));
		memcpy(out.b + sizeof(h), t.b, t.n);
		memcpy(out.b + sizeof(h) + t.n, lock_btf_strs, sizeof(lock_btf_strs));
		out.n = sizeof(h) + t.n + sizeof(lock_btf_strs);
	}
	*size = out.n;
	return out.b;
#undef t
#undef out
}

static const void *lock_btf(size_t *size)
{
	return lock_btf2(size, 0);
}

#endif
