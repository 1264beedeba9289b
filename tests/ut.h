/*
 * ut: a tiny unit-test harness. Each tests/test_*.c file is one executable; UT_TEST
 * registers a case, UT_CHECK* record failures with file:line, and main() (ut.c) prints
 * "NAME: N passed, N failed" and exits non-zero on any failure. Set UT_FILTER=substr
 * to run only matching cases.
 */
#ifndef UT_H
#define UT_H
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef void (*ut_fn)(void);
void ut_register(const char *name, ut_fn fn);
void ut_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Marks the current case skipped (with the reason printed), e.g. when bpf() is refused. */
void ut_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define UT_TEST(name) \
	static void name(void); \
	__attribute__((constructor)) static void ut_reg_##name(void) { ut_register(#name, name); } \
	static void name(void)

#define UT_CHECK(cond, ...) do { if (!(cond)) ut_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define UT_CHECK_EQ(a, b) do { uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b); \
	if (a_ != b_) ut_fail(__FILE__, __LINE__, "%s == %s: got 0x%" PRIx64 ", want 0x%" PRIx64, \
			      #a, #b, a_, b_); } while (0)
#define UT_CHECK_STR(hay, needle) do { const char *h_ = (hay), *n_ = (needle); \
	if (!h_ || !strstr(h_, n_)) ut_fail(__FILE__, __LINE__, "'%s' does not contain '%s'", \
					    h_ ? h_ : "(null)", n_); } while (0)

/* Whether ThreadSanitizer instruments this build (gcc says so with a macro, clang with
 * __has_feature): stress tests run fewer rounds under it, which slows them down a lot. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#endif
