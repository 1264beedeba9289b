/* ub_log: a bounded text log, the way the kernel fills a verifier log buffer. */
#ifndef UB_UTIL_LOG_H
#define UB_UTIL_LOG_H
#include <stdarg.h>
#include <stddef.h>

struct ub_log {
	char *buf;	/* may be NULL: messages are then only counted */
	size_t size;
	size_t len;	/* characters that were (or would have been) written */
};

void ub_log_init(struct ub_log *log, char *buf, size_t size);
void ub_log_printf(struct ub_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ub_log_vprintf(struct ub_log *log, const char *fmt, va_list ap);

#endif
