/*
 * Checksum helpers, with the kernel's arithmetic (include/net/checksum.h and x86-64's
 * csum_partial): the same operations on the same in-memory words give the same bits,
 * including which of the two ones'-complement zeroes comes out.
 *
 * Values are the raw packet words as loaded (network byte order in memory), exactly as
 * the program passes them. Test runs use CHECKSUM_NONE sk_buffs, so BPF_F_PSEUDO_HDR
 * only matters for skb->csum under CHECKSUM_COMPLETE/PARTIAL and changes nothing here.
 */
#include <errno.h>
#include <string.h>
#include "helpers/helpers.h"
#include "progs/pkt.h"
#include "vm/vm.h"

#define NEG(e) ((uint64_t)(int64_t)(e))
#define PTR(x) ((const void *)(uintptr_t)(x))
#define CSUM_MANGLED_0 0xffffu

static uint32_t csum_add(uint32_t a, uint32_t b)
{
	uint32_t r = a + b;
	return r + (r < b);
}

static uint32_t csum_sub(uint32_t a, uint32_t b)
{
	return csum_add(a, ~b);
}

static uint16_t csum_fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t csum16_add(uint16_t c, uint16_t a)
{
	uint16_t r = (uint16_t)(c + a);
	return (uint16_t)(r + (r < a));
}

static uint16_t csum_replace4(uint16_t sum, uint32_t from, uint32_t to)
{
	return csum_fold(csum_add(csum_sub(~(uint32_t)sum, from), to));
}

static uint16_t csum_replace2(uint16_t sum, uint16_t from, uint16_t to)
{
	return (uint16_t)~csum16_add(csum16_add((uint16_t)~sum, (uint16_t)~from), to);
}

static uint16_t csum_replace_by_diff(uint16_t sum, uint32_t diff)
{
	return csum_fold(csum_add(diff, ~(uint32_t)sum));
}

/* The checksum field at offset `off`: 16-bit aligned, inside the packet. */
static uint8_t *csum_field(struct ub_pkt *pk, uint32_t off)
{
	if (off > 0xffff || (off & 1) || (size_t)off + 2 > (size_t)(pk->end - pk->data))
		return NULL;
	return pk->data + off;
}

uint64_t ub_h_l3_csum_replace(uint64_t ctx, uint64_t off, uint64_t from, uint64_t to,
			      uint64_t flags)
{
	struct ub_pkt *pk = ub_pkt_cur(ctx, UB_PKT_SKB);
	uint8_t *p;
	uint16_t sum;

	if (flags & ~(uint64_t)BPF_F_HDR_FIELD_MASK)
		return NEG(-EINVAL);
	if (!pk || !(p = csum_field(pk, (uint32_t)off)))
		return NEG(-EFAULT);
	memcpy(&sum, p, 2);
	switch (flags & BPF_F_HDR_FIELD_MASK) {
	case 0:
		if (from)
			return NEG(-EINVAL);
		sum = csum_replace_by_diff(sum, (uint32_t)to);
		break;
	case 2:
		sum = csum_replace2(sum, (uint16_t)from, (uint16_t)to);
		break;
	case 4:
		sum = csum_replace4(sum, (uint32_t)from, (uint32_t)to);
		break;
	default:
		return NEG(-EINVAL);
	}
	memcpy(p, &sum, 2);
	return 0;
}

static int l4_update(uint16_t *sum, uint64_t from, uint64_t to, uint64_t size)
{
	switch (size) {
	case 0:
		if (from)
			return -EINVAL;
		*sum = csum_replace_by_diff(*sum, (uint32_t)to);
		return 0;
	case 2:	/* inet_proto_csum_replace2() widens to the 4-byte form */
		*sum = csum_replace4(*sum, (uint16_t)from, (uint16_t)to);
		return 0;
	case 4:
		*sum = csum_replace4(*sum, (uint32_t)from, (uint32_t)to);
		return 0;
	}
	return -EINVAL;
}

uint64_t ub_h_l4_csum_replace(uint64_t ctx, uint64_t off, uint64_t from, uint64_t to,
			      uint64_t flags)
{
	struct ub_pkt *pk = ub_pkt_cur(ctx, UB_PKT_SKB);
	const uint64_t known = BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR |
			       BPF_F_HDR_FIELD_MASK | BPF_F_IPV6;
	int mmzero = !!(flags & BPF_F_MARK_MANGLED_0);
	uint8_t *p;
	uint16_t sum;

	if (flags & ~known)
		return NEG(-EINVAL);
	if (!pk || !(p = csum_field(pk, (uint32_t)off)))
		return NEG(-EFAULT);
	memcpy(&sum, p, 2);
	/* UDP over IPv4 may carry no checksum (0): leave it so unless told otherwise. */
	if (mmzero && !(flags & BPF_F_MARK_ENFORCE) && !sum)
		return 0;
	int err = l4_update(&sum, from, to, flags & BPF_F_HDR_FIELD_MASK);
	if (err)
		return NEG(err);
	if (mmzero && !sum)
		sum = CSUM_MANGLED_0;	/* a computed 0 is sent as 0xffff */
	memcpy(p, &sum, 2);
	return 0;
}

static uint64_t add64(uint64_t a, uint64_t b)
{
	uint64_t r = a + b;
	return r + (r < b);	/* addq; adcq $0 */
}

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint64_t add_words(uint64_t sum, const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sum = add64(sum, ld64(p + 8 * i));
	return sum;
}

/*
 * x86-64's csum_partial(): 64-bit end-around-carry sums of little-endian words, two
 * 40-byte lanes while 80 bytes remain, then 40/32/16/8-byte blocks and a zero-padded
 * tail, folded to 32 bits as (sum + ror64(sum, 32)) >> 32.
 */
static uint32_t csum_partial(const uint8_t *p, uint32_t len, uint32_t seed)
{
	uint64_t s = seed, s2 = 0;

	if (len >= 80) {
		for (; len >= 80; p += 80, len -= 80) {
			s = add_words(s, p, 5);
			s2 = add_words(s2, p + 40, 5);
		}
		s = add64(s, s2);
	}
	if (len >= 40) {
		s = add_words(s, p, 5);
		p += 40, len -= 40;
	}
	for (unsigned blk = 32; blk >= 8; blk /= 2) {
		if (len & blk) {
			s = add_words(s, p, blk / 8);
			p += blk;
		}
	}
	if (len & 7) {
		uint64_t tail = 0;
		memcpy(&tail, p, len & 7);
		s = add64(s, tail);
	}
	return (uint32_t)((s + (s >> 32 | s << 32)) >> 32);
}

/* csum_from32to16(): the 32-bit sum folded to 16 bits, not complemented. */
static uint16_t csum_from32to16(uint32_t sum)
{
	sum += (sum >> 16) | (sum << 16);
	return (uint16_t)(sum >> 16);
}

static uint32_t csum_partial_at(uint64_t p, uint32_t len, uint32_t seed)
{
	return csum_partial((const uint8_t *)PTR(p), len, seed);
}

/*
 * Since Linux 6.12 the helper sums `to`, subtracts the sum of `from` (with the seed where
 * the kernel puts it), and returns the sum folded to 16 bits. Sizes are bounded by the
 * memory the verifier proved, not checked again (any length, as csum_partial takes).
 */
uint64_t ub_h_csum_diff(uint64_t from, uint64_t from_size, uint64_t to, uint64_t to_size,
			uint64_t seed)
{
	uint32_t fs = (uint32_t)from_size, ts = (uint32_t)to_size, ret = (uint32_t)seed;

	if (fs && ts)
		ret = csum_sub(csum_partial_at(to, ts, ret), csum_partial_at(from, fs, 0));
	else if (ts)
		ret = csum_partial_at(to, ts, ret);
	else if (fs)
		ret = ~csum_partial_at(from, fs, ~ret);
	return csum_from32to16(ret);
}
