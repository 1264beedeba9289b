/*
 * ub_bnd: scalar value tracking. A scalar register carries a tnum and four ranges
 * (signed/unsigned, 64/32-bit); each operation updates what it can and then the ranges
 * and the tnum teach each other (ub_bnd_sync), as the kernel's reg_bounds_sync does.
 * Also here: the ALU transfer functions on scalars and the branch logic (which way a
 * comparison goes, and what each side learns from it).
 */
#include <limits.h>
#include "verifier/env.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
/* Two's complement wrap-around, as the kernel's arithmetic (never C overflow). */
#define WRAP32(x, d) ((int32_t)((uint32_t)(x) + (uint32_t)(d)))
#define WRAP64(x, d) ((int64_t)((uint64_t)(x) + (uint64_t)(d)))

void ub_bnd_unbounded64(struct ub_vreg *r)
{
	r->smin = INT64_MIN;
	r->smax = INT64_MAX;
	r->umin = 0;
	r->umax = UINT64_MAX;
}

void ub_bnd_unbounded32(struct ub_vreg *r)
{
	r->s32_min = INT32_MIN;
	r->s32_max = INT32_MAX;
	r->u32_min = 0;
	r->u32_max = UINT32_MAX;
}

void ub_bnd_unbounded(struct ub_vreg *r)
{
	ub_bnd_unbounded64(r);
	ub_bnd_unbounded32(r);
}

void ub_bnd_mark32_known(struct ub_vreg *r, uint64_t imm)
{
	r->var_off = ub_tnum_const_subreg(r->var_off, (uint32_t)imm);
	r->s32_min = r->s32_max = (int32_t)imm;
	r->u32_min = r->u32_max = (uint32_t)imm;
}

/* ---- Ranges from the tnum, and each range from the others ---- */

static void update32(struct ub_vreg *r)
{
	struct ub_tnum v = ub_tnum_subreg(r->var_off);

	/* min signed is max(sign bit) | min(other bits), and the converse */
	r->s32_min = MAX(r->s32_min, (int32_t)(v.value | (v.mask & 0x80000000u)));
	r->s32_max = MIN(r->s32_max, (int32_t)(v.value | (v.mask & 0x7fffffffu)));
	r->u32_min = MAX(r->u32_min, (uint32_t)v.value);
	r->u32_max = MIN(r->u32_max, (uint32_t)(v.value | v.mask));
}

static void mark_known(struct ub_vreg *r, uint64_t v)
{
	r->var_off = ub_tnum_const(v);
	r->smin = r->smax = (int64_t)v;
	r->umin = r->umax = v;
	r->s32_min = r->s32_max = (int32_t)v;
	r->u32_min = r->u32_max = (uint32_t)v;
}

static void update64(struct ub_vreg *r)
{
	struct ub_tnum v = r->var_off;

	r->smin = MAX(r->smin, (int64_t)(v.value | (v.mask & (1ull << 63))));
	r->smax = MIN(r->smax, (int64_t)(v.value | (v.mask & ~(1ull << 63))));
	r->umin = MAX(r->umin, v.value);
	r->umax = MIN(r->umax, v.value | v.mask);

	/* the u64 range and the tnum may share a single value: then it is known (as the
	 * kernel's __update_reg64_bounds) */
	uint64_t next = ub_tnum_step(v, r->umin), tmax = v.value | v.mask;
	bool umin_in = (r->umin & ~v.mask) == v.value;
	if (umin_in && next > r->umax)
		mark_known(r, r->umin);
	else if (!umin_in && next == tmax)
		mark_known(r, tmax);
	else if (!umin_in && next <= r->umax && ub_tnum_step(v, next) > r->umax)
		mark_known(r, next);
}

void ub_bnd_update(struct ub_vreg *r)
{
	update32(r);
	update64(r);
}

/* Intersects the 32-bit signed range with [lo, hi]. */
static void s32_clamp(struct ub_vreg *r, int32_t lo, int32_t hi)
{
	r->s32_min = MAX(r->s32_min, lo);
	r->s32_max = MIN(r->s32_max, hi);
}

static void u32_clamp(struct ub_vreg *r, uint32_t lo, uint32_t hi)
{
	r->u32_min = MAX(r->u32_min, lo);
	r->u32_max = MIN(r->u32_max, hi);
}

/* 32-bit bounds from 64-bit ones where the upper halves pin them down. */
static void deduce32_from64(struct ub_vreg *r)
{
	if ((r->umin >> 32) == (r->umax >> 32)) {
		u32_clamp(r, (uint32_t)r->umin, (uint32_t)r->umax);
		if ((int32_t)r->umin <= (int32_t)r->umax)
			s32_clamp(r, (int32_t)r->umin, (int32_t)r->umax);
	}
	if ((r->smin >> 32) == (r->smax >> 32)) {
		if ((uint32_t)r->smin <= (uint32_t)r->smax)
			u32_clamp(r, (uint32_t)r->smin, (uint32_t)r->smax);
		if ((int32_t)r->smin <= (int32_t)r->smax)
			s32_clamp(r, (int32_t)r->smin, (int32_t)r->smax);
	}
	/* upper halves two consecutive numbers, low halves crossing from negative to
	 * positive: still a valid s32 range */
	if ((uint32_t)(r->umin >> 32) + 1 == (uint32_t)(r->umax >> 32) &&
	    (int32_t)r->umin < 0 && (int32_t)r->umax >= 0)
		s32_clamp(r, (int32_t)r->umin, (int32_t)r->umax);
	if ((uint32_t)((uint64_t)r->smin >> 32) + 1 == (uint32_t)((uint64_t)r->smax >> 32) &&
	    (int32_t)r->smin < 0 && (int32_t)r->smax >= 0)
		s32_clamp(r, (int32_t)r->smin, (int32_t)r->smax);
}

static void deduce32(struct ub_vreg *r)
{
	deduce32_from64(r);
	/* a u32 range that does not cross the sign bit is also an s32 range ... */
	if ((int32_t)r->u32_min <= (int32_t)r->u32_max)
		s32_clamp(r, (int32_t)r->u32_min, (int32_t)r->u32_max);
	/* ... and vice versa */
	if ((uint32_t)r->s32_min <= (uint32_t)r->s32_max) {
		u32_clamp(r, (uint32_t)r->s32_min, (uint32_t)r->s32_max);
	} else if (r->u32_max < (uint32_t)r->s32_min) {
		/* an s32 range that wraps, met by the u32 range on one side only: that
		 * side is the range (as deduce64) */
		r->s32_min = (int32_t)r->u32_min;
		r->u32_max = MIN(r->u32_max, (uint32_t)r->s32_max);
	} else if ((uint32_t)r->s32_max < r->u32_min) {
		r->s32_max = (int32_t)r->u32_max;
		r->u32_min = MAX(r->u32_min, (uint32_t)r->s32_min);
	}
}

static void deduce64(struct ub_vreg *r)
{
	if ((int64_t)r->umin <= (int64_t)r->umax) {
		r->smin = MAX(r->smin, (int64_t)r->umin);
		r->smax = MIN(r->smax, (int64_t)r->umax);
	}
	if ((uint64_t)r->smin <= (uint64_t)r->smax) {
		r->umin = MAX(r->umin, (uint64_t)r->smin);
		r->umax = MIN(r->umax, (uint64_t)r->smax);
	} else if (r->umax < (uint64_t)r->smin) {
		/* the s64 range wraps around the end of the u64 domain: where the u64
		 * range meets only its non-negative part ... */
		r->smin = (int64_t)r->umin;
		r->umax = MIN(r->umax, (uint64_t)r->smax);
	} else if ((uint64_t)r->smax < r->umin) {
		/* ... or only its negative part, that part is the range (kernel 6.17) */
		r->smax = (int64_t)r->umax;
		r->umin = MAX(r->umin, (uint64_t)r->smin);
	}
}

/* 64-bit bounds tightened with the 32-bit ones substituted into their low halves. */
static void deduce_mixed(struct ub_vreg *r)
{
	const uint64_t hi = ~0xffffffffull;
	uint64_t umin, umax;
	int64_t smin, smax;

	umin = (r->umin & hi) | r->u32_min;
	umax = (r->umax & hi) | r->u32_max;
	r->umin = MAX(r->umin, umin);
	r->umax = MIN(r->umax, umax);
	smin = (int64_t)(((uint64_t)r->smin & hi) | r->u32_min);
	smax = (int64_t)(((uint64_t)r->smax & hi) | r->u32_max);
	r->smin = MAX(r->smin, smin);
	r->smax = MIN(r->smax, smax);
	if ((uint32_t)r->s32_min <= (uint32_t)r->s32_max) {
		umin = (r->umin & hi) | (uint32_t)r->s32_min;
		umax = (r->umax & hi) | (uint32_t)r->s32_max;
		r->umin = MAX(r->umin, umin);
		r->umax = MIN(r->umax, umax);
		smin = (int64_t)(((uint64_t)r->smin & hi) | (uint32_t)r->s32_min);
		smax = (int64_t)(((uint64_t)r->smax & hi) | (uint32_t)r->s32_max);
		r->smin = MAX(r->smin, smin);
		r->smax = MIN(r->smax, smax);
	}
	/* after a sign-extending load: upper bits all 0 or all 1, low half non-negative */
	if (r->s32_min >= 0 && r->smin >= INT32_MIN && r->smax <= INT32_MAX) {
		r->smin = r->s32_min;
		r->smax = r->s32_max;
		r->umin = (uint64_t)(int64_t)r->s32_min;
		r->umax = (uint64_t)(int64_t)r->s32_max;
		r->var_off = ub_tnum_intersect(r->var_off, ub_tnum_range((uint64_t)r->smin,
									 (uint64_t)r->smax));
	}
}

static void deduce(struct ub_vreg *r)
{
	deduce32(r);
	deduce64(r);
	deduce_mixed(r);
}

/* Known bits from the unsigned ranges. */
static void bound_offset(struct ub_vreg *r)
{
	struct ub_tnum v64 = ub_tnum_intersect(r->var_off, ub_tnum_range(r->umin, r->umax));
	struct ub_tnum v32 = ub_tnum_intersect(ub_tnum_subreg(v64),
					       ub_tnum_range(r->u32_min, r->u32_max));

	r->var_off = ub_tnum_or(ub_tnum_clear_subreg(v64), v32);
}

void ub_bnd_sync(struct ub_vreg *r)
{
	/* a known constant pins every range (what the general path arrives at too,
	 * unless the ranges already contradict it: then leave that to sanitize) */
	if (ub_tnum_is_const(r->var_off)) {
		uint64_t v = r->var_off.value;
		if (r->umin <= v && v <= r->umax && r->smin <= (int64_t)v && (int64_t)v <= r->smax &&
		    r->u32_min <= (uint32_t)v && (uint32_t)v <= r->u32_max &&
		    r->s32_min <= (int32_t)v && (int32_t)v <= r->s32_max) {
			r->umin = r->umax = v;
			r->smin = r->smax = (int64_t)v;
			r->u32_min = r->u32_max = (uint32_t)v;
			r->s32_min = r->s32_max = (int32_t)v;
			return;
		}
	}
	ub_bnd_update(r);
	deduce(r);
	deduce(r);
	bound_offset(r);
	ub_bnd_update(r);
}

/*
 * Bounds that contradict each other come from a path that cannot happen; the kernel
 * (outside its selftest mode) resets them to unbounded, which is always sound.
 */
void ub_bnd_sanitize(struct ub_vreg *r)
{
	bool bad = r->umin > r->umax || r->smin > r->smax || r->u32_min > r->u32_max ||
		   r->s32_min > r->s32_max;

	if (!bad && ub_tnum_is_const(r->var_off))
		bad = r->umin != r->var_off.value || r->umax != r->var_off.value ||
		      r->smin != (int64_t)r->var_off.value || r->smax != (int64_t)r->var_off.value;
	if (!bad && ub_tnum_subreg_is_const(r->var_off)) {
		uint32_t v = (uint32_t)r->var_off.value;
		bad = r->u32_min != v || r->u32_max != v || r->s32_min != (int32_t)v ||
		      r->s32_max != (int32_t)v;
	}
	if (bad)
		ub_bnd_unbounded(r);
}

/* ---- Size changes ---- */

static void assign_32_into_64(struct ub_vreg *r)
{
	r->umin = r->u32_min;
	r->umax = r->u32_max;
	/* the signed 32-bit range carries over only when it is non-negative */
	if (r->s32_min >= 0 && r->s32_max >= 0) {
		r->smin = r->s32_min;
		r->smax = r->s32_max;
	} else {
		r->smin = 0;
		r->smax = UINT32_MAX;
	}
}

/* ALU32 results are zero-extended to 64 bits. */
void ub_bnd_zext32(struct ub_vreg *r)
{
	r->var_off = ub_tnum_subreg(r->var_off);
	assign_32_into_64(r);
}

/* A load of `size` (< 8) bytes zero-extends: keep the low bytes. */
void ub_bnd_coerce(struct ub_vreg *r, int size)
{
	uint64_t mask = (1ull << (size * 8)) - 1;

	r->var_off = ub_tnum_cast(r->var_off, (uint8_t)size);
	if ((r->umin & ~mask) == (r->umax & ~mask)) {
		r->umin &= mask;
		r->umax &= mask;
	} else {
		r->umin = 0;
		r->umax = mask;
	}
	r->smin = (int64_t)r->umin;
	r->smax = (int64_t)r->umax;
	if (size < 4)
		ub_bnd_unbounded32(r);
	ub_bnd_sync(r);
}

static int64_t sext(uint64_t v, int size)
{
	return size == 1 ? (int8_t)v : size == 2 ? (int16_t)v : (int32_t)v;
}

static void sext64_default(struct ub_vreg *r, int size)
{
	int64_t lo = size == 1 ? INT8_MIN : size == 2 ? INT16_MIN : INT32_MIN;
	int64_t hi = size == 1 ? INT8_MAX : size == 2 ? INT16_MAX : INT32_MAX;

	r->s32_min = (int32_t)lo;
	r->s32_max = (int32_t)hi;
	r->smin = lo;
	r->smax = hi;
	r->umin = 0;
	r->u32_min = 0;
	r->umax = UINT64_MAX;
	r->u32_max = UINT32_MAX;
	r->var_off = UB_TNUM_UNKNOWN;
}

/* Sign-extending from `size` bytes to 64 bits (ldsx, movsx). */
void ub_bnd_coerce_sx(struct ub_vreg *r, int size)
{
	int bits = size * 8;

	if (ub_tnum_is_const(r->var_off)) {
		uint64_t v = (uint64_t)sext(r->var_off.value, size);
		r->var_off = ub_tnum_const(v);
		r->smin = r->smax = (int64_t)v;
		r->umin = r->umax = v;
		r->s32_min = r->s32_max = (int32_t)v;
		r->u32_min = r->u32_max = (uint32_t)v;
		return;
	}
	uint64_t top_max = ((uint64_t)r->smax >> bits) << bits;
	uint64_t top_min = ((uint64_t)r->smin >> bits) << bits;
	if (top_max == top_min) {
		int64_t a = sext((uint64_t)r->smax, size), b = sext((uint64_t)r->smin, size);
		int64_t hi = MAX(a, b), lo = MIN(a, b);
		if ((hi >= 0) == (lo >= 0)) {
			r->s32_min = (int32_t)lo;
			r->smin = lo;
			r->s32_max = (int32_t)hi;
			r->smax = hi;
			r->u32_min = (uint32_t)lo;
			r->umin = (uint64_t)lo;
			r->u32_max = (uint32_t)hi;
			r->umax = (uint64_t)hi;
			r->var_off = ub_tnum_range((uint64_t)lo, (uint64_t)hi);
			return;
		}
	}
	sext64_default(r, size);
}

/* Sign-extending the low `size` bytes into the 32-bit subregister (movsx32). */
void ub_bnd_coerce_subreg_sx(struct ub_vreg *r, int size)
{
	int bits = size * 8;

	if (ub_tnum_is_const(r->var_off)) {
		uint32_t v = (uint32_t)sext(r->var_off.value, size);
		r->var_off = ub_tnum_const(v);
		r->s32_min = r->s32_max = (int32_t)v;
		r->u32_min = r->u32_max = v;
		return;
	}
	uint32_t top_max = ((uint32_t)r->s32_max >> bits) << bits;
	uint32_t top_min = ((uint32_t)r->s32_min >> bits) << bits;
	if (top_max == top_min) {
		int32_t a = (int32_t)sext((uint32_t)r->s32_max, size);
		int32_t b = (int32_t)sext((uint32_t)r->s32_min, size);
		int32_t hi = MAX(a, b), lo = MIN(a, b);
		if ((lo >= 0) == (hi >= 0)) {
			r->s32_min = lo;
			r->s32_max = hi;
			r->u32_min = (uint32_t)lo;
			r->u32_max = (uint32_t)hi;
			r->var_off = ub_tnum_subreg(ub_tnum_range((uint64_t)(int64_t)lo,
								  (uint64_t)(int64_t)hi));
			return;
		}
	}
	r->s32_min = size == 1 ? INT8_MIN : INT16_MIN;
	r->s32_max = size == 1 ? INT8_MAX : INT16_MAX;
	r->u32_min = 0;
	r->u32_max = UINT32_MAX;
	r->var_off = ub_tnum_subreg(UB_TNUM_UNKNOWN);
}

int ub_bnd_width(const struct ub_vreg *r)
{
	return r->umax ? 64 - __builtin_clzll(r->umax) : 0;
}

bool ub_bnd_range_within(const struct ub_vreg *old, const struct ub_vreg *cur)
{
	return old->umin <= cur->umin && old->umax >= cur->umax &&
	       old->smin <= cur->smin && old->smax >= cur->smax &&
	       old->u32_min <= cur->u32_min && old->u32_max >= cur->u32_max &&
	       old->s32_min <= cur->s32_min && old->s32_max >= cur->s32_max;
}

/* ---- Scalar ALU ---- */

static bool add_ovf64(int64_t a, int64_t b, int64_t *r)
{
	return __builtin_add_overflow(a, b, r);
}

static void scalar32_add(struct ub_vreg *d, const struct ub_vreg *s)
{
	int32_t smin, smax;
	uint32_t umin, umax;

	if (__builtin_add_overflow(d->s32_min, s->s32_min, &smin) ||
	    __builtin_add_overflow(d->s32_max, s->s32_max, &smax)) {
		d->s32_min = INT32_MIN;
		d->s32_max = INT32_MAX;
	} else {
		d->s32_min = smin;
		d->s32_max = smax;
	}
	if (__builtin_add_overflow(d->u32_min, s->u32_min, &umin) ||
	    __builtin_add_overflow(d->u32_max, s->u32_max, &umax)) {
		d->u32_min = 0;
		d->u32_max = UINT32_MAX;
	} else {
		d->u32_min = umin;
		d->u32_max = umax;
	}
}

static void scalar64_add(struct ub_vreg *d, const struct ub_vreg *s)
{
	int64_t smin, smax;
	uint64_t umin, umax;

	if (add_ovf64(d->smin, s->smin, &smin) || add_ovf64(d->smax, s->smax, &smax)) {
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
	} else {
		d->smin = smin;
		d->smax = smax;
	}
	if (__builtin_add_overflow(d->umin, s->umin, &umin) ||
	    __builtin_add_overflow(d->umax, s->umax, &umax)) {
		d->umin = 0;
		d->umax = UINT64_MAX;
	} else {
		d->umin = umin;
		d->umax = umax;
	}
}

void ub_bnd_add(struct ub_vreg *d, const struct ub_vreg *s)
{
	scalar32_add(d, s);
	scalar64_add(d, s);
	d->var_off = ub_tnum_add(d->var_off, s->var_off);
}

static void scalar32_sub(struct ub_vreg *d, const struct ub_vreg *s)
{
	int32_t smin, smax;

	if (__builtin_sub_overflow(d->s32_min, s->s32_max, &smin) ||
	    __builtin_sub_overflow(d->s32_max, s->s32_min, &smax)) {
		d->s32_min = INT32_MIN;
		d->s32_max = INT32_MAX;
	} else {
		d->s32_min = smin;
		d->s32_max = smax;
	}
	if (d->u32_min < s->u32_max) {
		d->u32_min = 0;
		d->u32_max = UINT32_MAX;
	} else {
		d->u32_min -= s->u32_max;
		d->u32_max -= s->u32_min;
	}
}

static void scalar64_sub(struct ub_vreg *d, const struct ub_vreg *s)
{
	int64_t smin, smax;

	if (__builtin_sub_overflow(d->smin, s->smax, &smin) ||
	    __builtin_sub_overflow(d->smax, s->smin, &smax)) {
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
	} else {
		d->smin = smin;
		d->smax = smax;
	}
	if (d->umin < s->umax) {
		d->umin = 0;
		d->umax = UINT64_MAX;
	} else {
		d->umin -= s->umax;
		d->umax -= s->umin;
	}
}

static void scalar32_mul(struct ub_vreg *d, const struct ub_vreg *s)
{
	int32_t p[4];
	uint32_t umin, umax;

	if (__builtin_mul_overflow(d->u32_max, s->u32_max, &umax) ||
	    __builtin_mul_overflow(d->u32_min, s->u32_min, &umin)) {
		d->u32_min = 0;
		d->u32_max = UINT32_MAX;
	} else {
		d->u32_min = umin;
		d->u32_max = umax;
	}
	if (__builtin_mul_overflow(d->s32_min, s->s32_min, &p[0]) ||
	    __builtin_mul_overflow(d->s32_min, s->s32_max, &p[1]) ||
	    __builtin_mul_overflow(d->s32_max, s->s32_min, &p[2]) ||
	    __builtin_mul_overflow(d->s32_max, s->s32_max, &p[3])) {
		d->s32_min = INT32_MIN;
		d->s32_max = INT32_MAX;
		return;
	}
	d->s32_min = MIN(MIN(p[0], p[1]), MIN(p[2], p[3]));
	d->s32_max = MAX(MAX(p[0], p[1]), MAX(p[2], p[3]));
}

static void scalar64_mul(struct ub_vreg *d, const struct ub_vreg *s)
{
	int64_t p[4];
	uint64_t umin, umax;

	if (__builtin_mul_overflow(d->umax, s->umax, &umax) ||
	    __builtin_mul_overflow(d->umin, s->umin, &umin)) {
		d->umin = 0;
		d->umax = UINT64_MAX;
	} else {
		d->umin = umin;
		d->umax = umax;
	}
	if (__builtin_mul_overflow(d->smin, s->smin, &p[0]) ||
	    __builtin_mul_overflow(d->smin, s->smax, &p[1]) ||
	    __builtin_mul_overflow(d->smax, s->smin, &p[2]) ||
	    __builtin_mul_overflow(d->smax, s->smax, &p[3])) {
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
		return;
	}
	d->smin = MIN(MIN(p[0], p[1]), MIN(p[2], p[3]));
	d->smax = MAX(MAX(p[0], p[1]), MAX(p[2], p[3]));
}

/* Signed 32-bit bounds follow unsigned ones when these do not cross the sign bit. */
static void s32_from_u32(struct ub_vreg *d)
{
	if ((int32_t)d->u32_min <= (int32_t)d->u32_max) {
		d->s32_min = (int32_t)d->u32_min;
		d->s32_max = (int32_t)d->u32_max;
	} else {
		d->s32_min = INT32_MIN;
		d->s32_max = INT32_MAX;
	}
}

static void s64_from_u64(struct ub_vreg *d)
{
	if ((int64_t)d->umin <= (int64_t)d->umax) {
		d->smin = (int64_t)d->umin;
		d->smax = (int64_t)d->umax;
	} else {
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
	}
}

/* AND, OR, XOR: var_off was already combined; ranges follow from it. */
static void scalar32_bitop(struct ub_vreg *d, const struct ub_vreg *s, uint8_t op)
{
	struct ub_tnum v = ub_tnum_subreg(d->var_off);

	if (ub_tnum_subreg_is_const(s->var_off) && ub_tnum_subreg_is_const(d->var_off)) {
		ub_bnd_mark32_known(d, v.value);
		return;
	}
	if (op == BPF_AND) {
		d->u32_min = (uint32_t)v.value;
		d->u32_max = MIN(d->u32_max, s->u32_max);
	} else if (op == BPF_OR) {
		d->u32_min = MAX(d->u32_min, s->u32_min);
		d->u32_max = (uint32_t)(v.value | v.mask);
	} else {
		d->u32_min = (uint32_t)v.value;
		d->u32_max = (uint32_t)(v.value | v.mask);
	}
	s32_from_u32(d);
}

static void scalar64_bitop(struct ub_vreg *d, const struct ub_vreg *s, uint8_t op)
{
	if (ub_tnum_is_const(s->var_off) && ub_tnum_is_const(d->var_off)) {
		ub_vst_mark_known(d, d->var_off.value);
		return;
	}
	if (op == BPF_AND) {
		d->umin = d->var_off.value;
		d->umax = MIN(d->umax, s->umax);
	} else if (op == BPF_OR) {
		d->umin = MAX(d->umin, s->umin);
		d->umax = d->var_off.value | d->var_off.mask;
	} else {
		d->umin = d->var_off.value;
		d->umax = d->var_off.value | d->var_off.mask;
	}
	s64_from_u64(d);
	ub_bnd_update(d);
}

static void lsh32_ranges(struct ub_vreg *d, uint64_t umin_val, uint64_t umax_val)
{
	d->s32_min = INT32_MIN;
	d->s32_max = INT32_MAX;
	if (umax_val > 31 || d->u32_max > 1ull << (31 - umax_val)) {
		d->u32_min = 0;
		d->u32_max = UINT32_MAX;
	} else {
		d->u32_min <<= umin_val;
		d->u32_max <<= umax_val;
	}
}

static void lsh64_ranges(struct ub_vreg *d, uint64_t umin_val, uint64_t umax_val)
{
	/* <<32 of a non-negative subregister (the s>>32 sign-extension idiom) */
	bool by32 = umin_val == 32 && umax_val == 32;

	d->smax = by32 && d->s32_max >= 0 ? (int64_t)((uint64_t)d->s32_max << 32) : INT64_MAX;
	d->smin = by32 && d->s32_min >= 0 ? (int64_t)((uint64_t)d->s32_min << 32) : INT64_MIN;
	if (d->umax > 1ull << (63 - umax_val)) {
		d->umin = 0;
		d->umax = UINT64_MAX;
	} else {
		d->umin <<= umin_val;
		d->umax <<= umax_val;
	}
}

static void scalar_shift(struct ub_vreg *d, const struct ub_vreg *s, uint8_t op, bool alu32)
{
	uint64_t umin = alu32 ? s->u32_min : s->umin, umax = alu32 ? s->u32_max : s->umax;
	struct ub_tnum sub = ub_tnum_subreg(d->var_off);

	if (op == BPF_LSH && alu32) {
		lsh32_ranges(d, umin, umax);
		d->var_off = ub_tnum_subreg(ub_tnum_lshift(sub, (uint8_t)umin));
		ub_bnd_unbounded64(d);
		update32(d);
	} else if (op == BPF_LSH) {
		lsh64_ranges(d, umin, umax);	/* uses the unshifted 32-bit bounds */
		lsh32_ranges(d, umin, umax);
		d->var_off = ub_tnum_lshift(d->var_off, (uint8_t)umin);
		ub_bnd_update(d);
	} else if (op == BPF_RSH && alu32) {
		d->s32_min = INT32_MIN;
		d->s32_max = INT32_MAX;
		d->var_off = ub_tnum_rshift(sub, (uint8_t)umin);
		d->u32_min >>= umax;
		d->u32_max >>= umin;
		ub_bnd_unbounded64(d);
		update32(d);
	} else if (op == BPF_RSH) {
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
		d->var_off = ub_tnum_rshift(d->var_off, (uint8_t)umin);
		d->umin >>= umax;
		d->umax >>= umin;
		ub_bnd_unbounded32(d);
		ub_bnd_update(d);
	} else if (alu32) {	/* ARSH, the shift is a known constant here */
		d->s32_min = d->s32_min >> umin;
		d->s32_max = d->s32_max >> umin;
		d->var_off = ub_tnum_arshift(sub, (uint8_t)umin, 32);
		d->u32_min = 0;
		d->u32_max = UINT32_MAX;
		ub_bnd_unbounded64(d);
		update32(d);
	} else {
		d->smin >>= umin;
		d->smax >>= umin;
		d->var_off = ub_tnum_arshift(d->var_off, (uint8_t)umin, 64);
		d->umin = 0;
		d->umax = UINT64_MAX;
		ub_bnd_unbounded32(d);
		ub_bnd_update(d);
	}
}

/* Can dst's range be computed for this op (shifts need a known in-range amount)? */
bool ub_bnd_alu_computable(uint8_t op, const struct ub_vreg *s, bool alu32)
{
	bool k;

	switch (op) {
	case BPF_ADD: case BPF_SUB: case BPF_AND: case BPF_XOR: case BPF_OR: case BPF_MUL:
		return true;
	case BPF_LSH: case BPF_RSH: case BPF_ARSH:
		if (alu32)
			k = ub_tnum_subreg_is_const(s->var_off) && s->s32_min == s->s32_max &&
			    s->u32_min == s->u32_max;
		else
			k = ub_tnum_is_const(s->var_off) && s->smin == s->smax && s->umin == s->umax;
		return k && s->umax < (alu32 ? 32u : 64u);
	default:
		return false;
	}
}

void ub_bnd_alu(struct ub_vreg *d, const struct ub_vreg *s, uint8_t op, bool alu32)
{
	switch (op) {
	case BPF_ADD:
		ub_bnd_add(d, s);
		break;
	case BPF_SUB:
		scalar32_sub(d, s);
		scalar64_sub(d, s);
		d->var_off = ub_tnum_sub(d->var_off, s->var_off);
		break;
	case BPF_MUL:
		d->var_off = ub_tnum_mul(d->var_off, s->var_off);
		scalar32_mul(d, s);
		scalar64_mul(d, s);
		break;
	case BPF_AND: case BPF_OR: case BPF_XOR:
		d->var_off = op == BPF_AND ? ub_tnum_and(d->var_off, s->var_off) :
			     op == BPF_OR ? ub_tnum_or(d->var_off, s->var_off) :
			     ub_tnum_xor(d->var_off, s->var_off);
		scalar32_bitop(d, s, op);
		scalar64_bitop(d, s, op);
		break;
	default:
		scalar_shift(d, s, op, alu32);
		break;
	}
	if (alu32)
		ub_bnd_zext32(d);
	ub_bnd_sync(d);
}

/* dst = -dst, as the kernel (6.13+): 0 - dst on the ranges, tnum_neg on the bits. */
void ub_bnd_neg(struct ub_vreg *d, bool alu32)
{
	struct ub_vreg f = *d;

	ub_vst_mark_const(d, 0);
	scalar32_sub(d, &f);
	scalar64_sub(d, &f);
	d->var_off = ub_tnum_neg(f.var_off);
	if (alu32)
		ub_bnd_zext32(d);
	ub_bnd_sync(d);
}

/* ---- Branches ---- */

uint8_t ub_bnd_flip_op(uint8_t op)
{
	switch (op) {
	case BPF_JGE: return BPF_JLE;
	case BPF_JGT: return BPF_JLT;
	case BPF_JLE: return BPF_JGE;
	case BPF_JLT: return BPF_JGT;
	case BPF_JSGE: return BPF_JSLE;
	case BPF_JSGT: return BPF_JSLT;
	case BPF_JSLE: return BPF_JSGE;
	case BPF_JSLT: return BPF_JSGT;
	default: return op;	/* JEQ, JNE, JSET are symmetric */
	}
}

/* The condition of the fall-through branch; JSET|X stands for "not JSET". */
uint8_t ub_bnd_rev_op(uint8_t op)
{
	switch (op) {
	case BPF_JEQ: return BPF_JNE;
	case BPF_JNE: return BPF_JEQ;
	case BPF_JSET: return BPF_JSET | BPF_X;
	case BPF_JSET | BPF_X: return BPF_JSET;
	case BPF_JGE: return BPF_JLT;
	case BPF_JGT: return BPF_JLE;
	case BPF_JLE: return BPF_JGT;
	case BPF_JLT: return BPF_JGE;
	case BPF_JSGE: return BPF_JSLT;
	case BPF_JSGT: return BPF_JSLE;
	case BPF_JSLE: return BPF_JSGT;
	case BPF_JSLT: return BPF_JSGE;
	default: return 0;
	}
}

struct span {
	struct ub_tnum t;
	uint64_t umin, umax;
	int64_t smin, smax;
};

static struct span span_of(const struct ub_vreg *r, bool is32)
{
	if (is32)
		return (struct span){ ub_tnum_subreg(r->var_off), r->u32_min, r->u32_max,
				      r->s32_min, r->s32_max };
	return (struct span){ r->var_off, r->umin, r->umax, r->smin, r->smax };
}

static int eq_taken(const struct ub_vreg *r1, const struct ub_vreg *r2, struct span a,
		    struct span b, bool is32)
{
	if (ub_tnum_is_const(a.t) && ub_tnum_is_const(b.t))
		return a.t.value == b.t.value;
	/* a bit known in both, set in one and clear in the other (kernel 6.18) */
	if ((a.t.value ^ b.t.value) & ~(a.t.mask | b.t.mask))
		return 0;
	if (a.umin > b.umax || a.umax < b.umin || a.smin > b.smax || a.smax < b.smin)
		return 0;
	if (!is32 && (r1->u32_min > r2->u32_max || r1->u32_max < r2->u32_min ||
		      r1->s32_min > r2->s32_max || r1->s32_max < r2->s32_min))
		return 0;
	return -1;
}

int ub_bnd_branch_taken(const struct ub_vreg *r1, const struct ub_vreg *r2, uint8_t op, bool is32)
{
	struct span a = span_of(r1, is32), b = span_of(r2, is32);
	int eq;

	switch (op) {
	case BPF_JEQ:
		return eq_taken(r1, r2, a, b, is32);
	case BPF_JNE:
		eq = eq_taken(r1, r2, a, b, is32);
		return eq < 0 ? -1 : !eq;
	case BPF_JSET:
		if (!ub_vst_is_const(r2, is32)) {
			struct span t = a;
			a = b;
			b = t;
			if (!ub_vst_is_const(r1, is32))
				return -1;
		}
		if ((~a.t.mask & a.t.value) & b.t.value)
			return 1;
		if (!((a.t.mask | a.t.value) & b.t.value))
			return 0;
		return -1;
	case BPF_JGT: return a.umin > b.umax ? 1 : a.umax <= b.umin ? 0 : -1;
	case BPF_JSGT: return a.smin > b.smax ? 1 : a.smax <= b.smin ? 0 : -1;
	case BPF_JLT: return a.umax < b.umin ? 1 : a.umin >= b.umax ? 0 : -1;
	case BPF_JSLT: return a.smax < b.smin ? 1 : a.smin >= b.smax ? 0 : -1;
	case BPF_JGE: return a.umin >= b.umax ? 1 : a.umax < b.umin ? 0 : -1;
	case BPF_JSGE: return a.smin >= b.smax ? 1 : a.smax < b.smin ? 0 : -1;
	case BPF_JLE: return a.umax <= b.umin ? 1 : a.umin > b.umax ? 0 : -1;
	case BPF_JSLE: return a.smax <= b.smin ? 1 : a.smin > b.smax ? 0 : -1;
	default: return -1;
	}
}

static void refine_eq(struct ub_vreg *r1, struct ub_vreg *r2, bool is32)
{
	if (is32) {
		r1->u32_min = MAX(r1->u32_min, r2->u32_min);
		r1->u32_max = MIN(r1->u32_max, r2->u32_max);
		r1->s32_min = MAX(r1->s32_min, r2->s32_min);
		r1->s32_max = MIN(r1->s32_max, r2->s32_max);
		r2->u32_min = r1->u32_min;
		r2->u32_max = r1->u32_max;
		r2->s32_min = r1->s32_min;
		r2->s32_max = r1->s32_max;
		struct ub_tnum t = ub_tnum_intersect(ub_tnum_subreg(r1->var_off),
						     ub_tnum_subreg(r2->var_off));
		r1->var_off = ub_tnum_with_subreg(r1->var_off, t);
		r2->var_off = ub_tnum_with_subreg(r2->var_off, t);
		return;
	}
	r1->umin = MAX(r1->umin, r2->umin);
	r1->umax = MIN(r1->umax, r2->umax);
	r1->smin = MAX(r1->smin, r2->smin);
	r1->smax = MIN(r1->smax, r2->smax);
	r2->umin = r1->umin;
	r2->umax = r1->umax;
	r2->smin = r1->smin;
	r2->smax = r1->smax;
	r1->var_off = ub_tnum_intersect(r1->var_off, r2->var_off);
	r2->var_off = r1->var_off;
}

/* r1 != const: a range edge equal to the constant moves inward. */
static void refine_ne(struct ub_vreg *r1, uint64_t val, bool is32)
{
	if (is32) {
		if (r1->u32_min == (uint32_t)val)
			r1->u32_min++;
		if (r1->u32_max == (uint32_t)val)
			r1->u32_max--;
		if (r1->s32_min == (int32_t)val)
			r1->s32_min = WRAP32(r1->s32_min, 1);
		if (r1->s32_max == (int32_t)val)
			r1->s32_max = WRAP32(r1->s32_max, -1);
		return;
	}
	if (r1->umin == val)
		r1->umin++;
	if (r1->umax == val)
		r1->umax--;
	if (r1->smin == (int64_t)val)
		r1->smin = WRAP64(r1->smin, 1);
	if (r1->smax == (int64_t)val)
		r1->smax = WRAP64(r1->smax, -1);
}

static uint64_t const_val(const struct ub_vreg *r, bool is32)
{
	return is32 ? ub_tnum_subreg(r->var_off).value : r->var_off.value;
}

static void refine_jset(struct ub_vreg *r1, struct ub_vreg *r2, bool set, bool is32)
{
	if (!ub_vst_is_const(r2, is32)) {
		struct ub_vreg *t = r1;
		r1 = r2;
		r2 = t;
	}
	if (!ub_vst_is_const(r2, is32))
		return;
	uint64_t val = const_val(r2, is32);
	struct ub_tnum t;
	if (set) {
		/* only a single bit tells which bit is set */
		if (!val || (val & (val - 1)))
			return;
		t = ub_tnum_or(is32 ? ub_tnum_subreg(r1->var_off) : r1->var_off, ub_tnum_const(val));
	} else {
		/* As the kernel: forget the ranges before narrowing the tnum (they could
		 * contradict it on a dead branch); only the tnum speaks afterwards. */
		ub_bnd_unbounded(r1);
		t = ub_tnum_and(is32 ? ub_tnum_subreg(r1->var_off) : r1->var_off, ub_tnum_const(~val));
	}
	r1->var_off = is32 ? ub_tnum_with_subreg(r1->var_off, t) : t;
}

/* What "r1 <op> r2 holds" teaches about both (the kernel's regs_refine_cond_op). */
void ub_bnd_refine(struct ub_vreg *r1, struct ub_vreg *r2, uint8_t op, bool is32)
{
	if (op == BPF_JGE || op == BPF_JGT || op == BPF_JSGE || op == BPF_JSGT) {
		struct ub_vreg *t = r1;
		op = ub_bnd_flip_op(op);
		r1 = r2;
		r2 = t;
	}
	switch (op) {
	case BPF_JEQ:
		refine_eq(r1, r2, is32);
		break;
	case BPF_JNE:
		if (!ub_vst_is_const(r2, is32)) {
			struct ub_vreg *t = r1;
			r1 = r2;
			r2 = t;
		}
		if (ub_vst_is_const(r2, is32))
			refine_ne(r1, const_val(r2, is32), is32);
		break;
	case BPF_JSET:
	case BPF_JSET | BPF_X:
		refine_jset(r1, r2, op == BPF_JSET, is32);
		break;
	case BPF_JLE:
		if (is32) {
			r1->u32_max = MIN(r1->u32_max, r2->u32_max);
			r2->u32_min = MAX(r1->u32_min, r2->u32_min);
		} else {
			r1->umax = MIN(r1->umax, r2->umax);
			r2->umin = MAX(r1->umin, r2->umin);
		}
		break;
	case BPF_JLT:
		if (is32) {
			r1->u32_max = MIN(r1->u32_max, r2->u32_max - 1);
			r2->u32_min = MAX(r1->u32_min + 1, r2->u32_min);
		} else {
			r1->umax = MIN(r1->umax, r2->umax - 1);
			r2->umin = MAX(r1->umin + 1, r2->umin);
		}
		break;
	case BPF_JSLE:
		if (is32) {
			r1->s32_max = MIN(r1->s32_max, r2->s32_max);
			r2->s32_min = MAX(r1->s32_min, r2->s32_min);
		} else {
			r1->smax = MIN(r1->smax, r2->smax);
			r2->smin = MAX(r1->smin, r2->smin);
		}
		break;
	case BPF_JSLT:
		if (is32) {
			r1->s32_max = MIN(r1->s32_max, WRAP32(r2->s32_max, -1));
			r2->s32_min = MAX(WRAP32(r1->s32_min, 1), r2->s32_min);
		} else {
			r1->smax = MIN(r1->smax, WRAP64(r2->smax, -1));
			r2->smin = MAX(WRAP64(r1->smin, 1), r2->smin);
		}
		break;
	default:
		break;
	}
}
