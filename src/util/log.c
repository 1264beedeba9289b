#include "util/log.h"
#include <stdio.h>

void ub_log_init(struct ub_log *log, char *buf, size_t size)
{
	log->buf = size ? buf : NULL;
	log->size = size;
	log->len = 0;
	if (log->buf)
		log->buf[0] = '\0';
}

void ub_log_vprintf(struct ub_log *log, const char *fmt, va_list ap)
{
	char *dst = NULL;
	size_t room = 0;

	if (log->buf && log->len < log->size) {
		dst = log->buf + log->len;
		room = log->size - log->len;
	}
	int n = vsnprintf(dst, room, fmt, ap);
	if (n > 0)
		log->len += (size_t)n;
}

void ub_log_printf(struct ub_log *log, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ub_log_vprintf(log, fmt, ap);
	va_end(ap);
}
