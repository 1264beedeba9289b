/*
 * ub_tnum: tristate number arithmetic (see tnum.h). Every operation returns a tnum that
 * contains all results of the operation applied to members of its operands.
 */
#include <stdio.h>
#include "verifier/tnum.h"

/* Index of the highest set bit, 1-based; 0 for 0 (the kernel's fls64). */
static int fls64(uint64_t x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

struct ub_tnum ub_tnum_range(uint64_t min, uint64_t max)
{
	uint64_t chi = min ^ max, delta;
	int bits = fls64(chi);

	/* special case: the range spans every value, avoid a shift by 64 */
	if (bits > 63)
		return UB_TNUM_UNKNOWN;
	delta = (1ull << bits) - 1;
	return UB_TNUM(min & ~delta, delta);
}

struct ub_tnum ub_tnum_lshift(struct ub_tnum a, uint8_t shift)
{
	return UB_TNUM(a.value << shift, a.mask << shift);
}

struct ub_tnum ub_tnum_rshift(struct ub_tnum a, uint8_t shift)
{
	return UB_TNUM(a.value >> shift, a.mask >> shift);
}

struct ub_tnum ub_tnum_arshift(struct ub_tnum a, uint8_t min_shift, uint8_t insn_bitness)
{
	/* The sign bit of value and mask is shifted in: an unknown sign stays unknown. */
	if (insn_bitness == 32)
		return UB_TNUM((uint32_t)((int32_t)a.value >> min_shift),
			       (uint32_t)((int32_t)a.mask >> min_shift));
	return UB_TNUM((uint64_t)((int64_t)a.value >> min_shift),
		       (uint64_t)((int64_t)a.mask >> min_shift));
}

struct ub_tnum ub_tnum_add(struct ub_tnum a, struct ub_tnum b)
{
	uint64_t sm = a.mask + b.mask, sv = a.value + b.value;
	uint64_t sigma = sm + sv, chi = sigma ^ sv;
	uint64_t mu = chi | a.mask | b.mask;

	return UB_TNUM(sv & ~mu, mu);
}

struct ub_tnum ub_tnum_sub(struct ub_tnum a, struct ub_tnum b)
{
	uint64_t dv = a.value - b.value;
	uint64_t alpha = dv + a.mask, beta = dv - b.mask;
	uint64_t chi = alpha ^ beta, mu = chi | a.mask | b.mask;

	return UB_TNUM(dv & ~mu, mu);
}

struct ub_tnum ub_tnum_neg(struct ub_tnum a)
{
	return ub_tnum_sub(ub_tnum_const(0), a);
}

struct ub_tnum ub_tnum_and(struct ub_tnum a, struct ub_tnum b)
{
	uint64_t alpha = a.value | a.mask, beta = b.value | b.mask, v = a.value & b.value;

	return UB_TNUM(v, alpha & beta & ~v);
}

struct ub_tnum ub_tnum_or(struct ub_tnum a, struct ub_tnum b)
{
	uint64_t v = a.value | b.value, mu = a.mask | b.mask;

	return UB_TNUM(v, mu & ~v);
}

struct ub_tnum ub_tnum_xor(struct ub_tnum a, struct ub_tnum b)
{
	uint64_t v = a.value ^ b.value, mu = a.mask | b.mask;

	return UB_TNUM(v & ~mu, mu);
}

/*
 * Long multiplication: the known product, plus the unknown partial products of a's
 * uncertain (or certainly-set) bits with b. At most 64 rounds.
 */
struct ub_tnum ub_tnum_mul(struct ub_tnum a, struct ub_tnum b)
{
	uint64_t acc_v = a.value * b.value;
	struct ub_tnum acc_m = UB_TNUM(0, 0);

	for (int i = 0; i < 64 && (a.value || a.mask); i++) {
		if (a.value & 1)
			acc_m = ub_tnum_add(acc_m, UB_TNUM(0, b.mask));
		else if (a.mask & 1)
			acc_m = ub_tnum_add(acc_m, UB_TNUM(0, b.value | b.mask));
		a = ub_tnum_rshift(a, 1);
		b = ub_tnum_lshift(b, 1);
	}
	return ub_tnum_add(UB_TNUM(acc_v, 0), acc_m);
}

struct ub_tnum ub_tnum_intersect(struct ub_tnum a, struct ub_tnum b)
{
	uint64_t v = a.value | b.value, mu = a.mask & b.mask;

	return UB_TNUM(v & ~mu, mu);
}

struct ub_tnum ub_tnum_cast(struct ub_tnum a, uint8_t size)
{
	uint64_t keep = size >= 8 ? UINT64_MAX : (1ull << (size * 8)) - 1;

	return UB_TNUM(a.value & keep, a.mask & keep);
}

bool ub_tnum_is_aligned(struct ub_tnum a, uint64_t size)
{
	if (!size)
		return true;
	return !((a.value | a.mask) & (size - 1));
}

/*
 * The smallest member of t above z, or the largest member of t when z is not below it
 * (the kernel's tnum_step). The first fixed bit, from the top, where z + 1 differs from
 * t decides: t has a 1 there (go up to it, the rest minimal), or a 0 (carry into the
 * lowest unknown bit above it that is still 0).
 */
uint64_t ub_tnum_step(struct ub_tnum t, uint64_t z)
{
	uint64_t tmax = t.value | t.mask, y, d, low, up;
	int h;

	if (z >= tmax)
		return tmax;
	if (z < t.value)
		return t.value;
	y = z + 1;
	d = (y ^ t.value) & ~t.mask;
	if (!d)
		return y;
	h = 63 - __builtin_clzll(d);
	low = h == 63 ? ~0ull : (1ull << (h + 1)) - 1;	/* bits 0..h */
	if (t.value & (1ull << h))
		return (y & ~low) | (t.value & low);
	up = t.mask & ~y & ~low;	/* unknown bits above h that y has clear */
	if (!up)
		return tmax;	/* cannot happen when z < tmax */
	int m = __builtin_ctzll(up);
	uint64_t below = (1ull << m) - 1;
	return (y & ~below & ~t.mask) | (y & t.mask & ~below) | (1ull << m) | (t.value & below);
}

bool ub_tnum_in(struct ub_tnum a, struct ub_tnum b)
{
	if (b.mask & ~a.mask)
		return false;
	b.value &= ~a.mask;
	return a.value == b.value;
}

/* As the kernel's tnum_strn (6.18): a constant as its value, else "(0x..; 0x..)" with
 * the kernel's "0x0" for zero (glibc's %#llx would print "0"). */
int ub_tnum_str(char *buf, size_t size, struct ub_tnum a)
{
	if (!a.mask)
		return snprintf(buf, size, "%llu", (unsigned long long)a.value);
	return snprintf(buf, size, "(0x%llx; 0x%llx)", (unsigned long long)a.value,
			(unsigned long long)a.mask);
}
