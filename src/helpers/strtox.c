/*
 * bpf_strtol and bpf_strtoul (kernel/bpf/helpers.c): parse an integer from a buffer
 * that need not be NUL-terminated. Leading white space, one '-', then digits in base
 * 8, 10 or 16 (flags; 0 picks it from a 0 / 0x prefix as kstrtoull does). Returns the
 * bytes consumed and stores the value, or -EINVAL (nothing parsed, bad flags) or
 * -ERANGE (overflow); on error *res becomes 0 (the kernel zeroes the output of a failed
 * call since 6.11, so that a program never reads stale stack through it).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "helpers/helpers.h"

#define NEG(e) ((uint64_t)(int64_t)(e))
#define BASE_MASK 0x1f	/* BPF_STRTOX_BASE_MASK */
#define MAX_DIGITS 63	/* the kernel copies at most 63 bytes after the sign */

/* The kernel's isspace(): the C locale's six plus Latin-1 no-break space. */
static bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

static int digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
}

/* Picks the base from the prefix when asked to, and skips a 0x for base 16. */
static const char *fix_radix(const char *s, const char *end, unsigned *base)
{
	bool ox = end - s >= 2 && s[0] == '0' && (s[1] | 0x20) == 'x';

	if (*base == 0 && s < end && s[0] == '0')
		*base = ox && end - s >= 3 && digit((unsigned char)s[2]) < 16 ? 16 : 8;
	else if (*base == 0)
		*base = 10;
	return *base == 16 && ox ? s + 2 : s;
}

/* Digits of base at s (bounded by end): their count, or -ERANGE on overflow. */
static int parse_digits(const char *s, const char *end, unsigned base, uint64_t *res)
{
	uint64_t v = 0;
	int n = 0;

	for (; s + n < end; n++) {
		int d = digit((unsigned char)s[n]);
		if (d >= (int)base)
			break;
		if (v > (UINT64_MAX - (unsigned)d) / base)
			return -ERANGE;
		v = v * base + (unsigned)d;
	}
	*res = v;
	return n;
}

static int strtoull_(const char *buf, uint64_t len, uint64_t flags, uint64_t *res, bool *neg)
{
	unsigned base = (unsigned)(flags & BASE_MASK);
	const char *p = buf, *end = buf + len;

	if (!buf || !len || (base && base != 8 && base != 10 && base != 16) ||
	    (flags & ~(uint64_t)BASE_MASK))
		return -EINVAL;
	while (p < end && is_space((unsigned char)*p))
		p++;
	*neg = p < end && *p == '-';
	p += *neg;
	if (p == end)
		return -EINVAL;
	if (end - p > MAX_DIGITS)
		end = p + MAX_DIGITS;
	const char *d = fix_radix(p, end, &base);
	int n = parse_digits(d, end, base, res);
	if (n <= 0)
		return n < 0 ? n : -EINVAL;
	return (int)(d + n - buf);
}

static uint64_t store(uint64_t res, uint64_t v, int ret)
{
	if (ret < 0)
		v = 0;
	memcpy((void *)(uintptr_t)res, &v, sizeof(v));
	return NEG(ret);
}

uint64_t ub_h_strtol(uint64_t buf, uint64_t len, uint64_t flags, uint64_t res, uint64_t r5)
{
	uint64_t v = 0;
	bool neg = false;
	int n = strtoull_((const char *)(uintptr_t)buf, len, flags, &v, &neg);

	(void)r5;
	if (n >= 0 && (neg ? (int64_t)(0 - v) > 0 : (int64_t)v < 0))
		n = -ERANGE;
	return store(res, neg ? 0 - v : v, n);
}

uint64_t ub_h_strtoul(uint64_t buf, uint64_t len, uint64_t flags, uint64_t res, uint64_t r5)
{
	uint64_t v = 0;
	bool neg = false;
	int n = strtoull_((const char *)(uintptr_t)buf, len, flags, &v, &neg);

	(void)r5;
	return store(res, v, n >= 0 && neg ? -EINVAL : n);
}
