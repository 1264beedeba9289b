/*
 * ub_tnum: tristate numbers. A tnum is a 64-bit value where each bit is known 0, known 1
 * or unknown: `mask` has the unknown bits, `value` the known ones (value & mask == 0).
 * The arithmetic follows the kernel's kernel/bpf/tnum.c, so that bounds derived here are
 * the ones the kernel derives.
 */
#ifndef UB_VER_TNUM_H
#define UB_VER_TNUM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ub_tnum {
	uint64_t value;
	uint64_t mask;
};

#define UB_TNUM(v, m) ((struct ub_tnum){ .value = (v), .mask = (m) })
#define UB_TNUM_UNKNOWN UB_TNUM(0, UINT64_MAX)

static inline struct ub_tnum ub_tnum_const(uint64_t v)
{
	return UB_TNUM(v, 0);
}

static inline bool ub_tnum_is_const(struct ub_tnum a)
{
	return !a.mask;
}

static inline bool ub_tnum_is_unknown(struct ub_tnum a)
{
	return !~a.mask;
}

static inline bool ub_tnum_equals_const(struct ub_tnum a, uint64_t b)
{
	return ub_tnum_is_const(a) && a.value == b;
}

/* The smallest tnum that contains every value of [min, max]. */
struct ub_tnum ub_tnum_range(uint64_t min, uint64_t max);
struct ub_tnum ub_tnum_lshift(struct ub_tnum a, uint8_t shift);
struct ub_tnum ub_tnum_rshift(struct ub_tnum a, uint8_t shift);
/* Arithmetic shift of a 32- or 64-bit value (insn_bitness). */
struct ub_tnum ub_tnum_arshift(struct ub_tnum a, uint8_t min_shift, uint8_t insn_bitness);
struct ub_tnum ub_tnum_add(struct ub_tnum a, struct ub_tnum b);
struct ub_tnum ub_tnum_sub(struct ub_tnum a, struct ub_tnum b);
struct ub_tnum ub_tnum_neg(struct ub_tnum a);
struct ub_tnum ub_tnum_and(struct ub_tnum a, struct ub_tnum b);
struct ub_tnum ub_tnum_or(struct ub_tnum a, struct ub_tnum b);
struct ub_tnum ub_tnum_xor(struct ub_tnum a, struct ub_tnum b);
struct ub_tnum ub_tnum_mul(struct ub_tnum a, struct ub_tnum b);
/* Values known to be in both a and b. */
struct ub_tnum ub_tnum_intersect(struct ub_tnum a, struct ub_tnum b);
/* The low `size` bytes of a, zero-extended. */
struct ub_tnum ub_tnum_cast(struct ub_tnum a, uint8_t size);
bool ub_tnum_is_aligned(struct ub_tnum a, uint64_t size);
/* Is every value of b also a value of a? */
bool ub_tnum_in(struct ub_tnum a, struct ub_tnum b);
uint64_t ub_tnum_step(struct ub_tnum t, uint64_t z);
/* "(value; mask)" in hex, as the kernel prints var_off. */
int ub_tnum_str(char *buf, size_t size, struct ub_tnum a);

/* 32-bit subregister helpers. */
static inline struct ub_tnum ub_tnum_subreg(struct ub_tnum a)
{
	return ub_tnum_cast(a, 4);
}

static inline struct ub_tnum ub_tnum_clear_subreg(struct ub_tnum a)
{
	return ub_tnum_lshift(ub_tnum_rshift(a, 32), 32);
}

static inline struct ub_tnum ub_tnum_with_subreg(struct ub_tnum reg, struct ub_tnum subreg)
{
	return ub_tnum_or(ub_tnum_clear_subreg(reg), ub_tnum_subreg(subreg));
}

static inline struct ub_tnum ub_tnum_const_subreg(struct ub_tnum a, uint32_t v)
{
	return ub_tnum_with_subreg(a, ub_tnum_const(v));
}

static inline bool ub_tnum_subreg_is_const(struct ub_tnum a)
{
	return !(uint32_t)a.mask;
}

#endif
