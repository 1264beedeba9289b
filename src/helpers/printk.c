/*
 * Formatted output: bpf_trace_printk, bpf_trace_vprintk and bpf_snprintf, with the
 * kernel's rules (bpf_bprintf_prepare): a NUL-terminated format, at most 3 arguments for
 * trace_printk and 12 otherwise, only the kernel's conversions, %s read safely.
 *
 * trace output goes where the kernel's trace_pipe would be read from: lines are appended
 * to $UEBPF_PIN_ROOT/trace_pipe (or standard error when UEBPF_TRACE=stderr), in the
 * kernel's line format, and `uebpf prog tracelog` follows that file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "helpers/helpers.h"
#include "maps/shm.h"
#include "vm/vm.h"

#define PTR(x) ((void *)(uintptr_t)(x))
#define MAX_VARARGS 12

/* Reads a string from program-given memory without faulting (as %s does in the kernel). */
static void safe_str(uint64_t src, char *dst, size_t n)
{
	size_t i = 0;

	for (; i + 1 < n; i++) {
		struct iovec l = { dst + i, 1 }, r = { PTR(src + i), 1 };
		if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != 1) {
			if (i == 0)
				snprintf(dst, n, "(efault)");
			else
				dst[i] = '\0';
			return;
		}
		if (!dst[i])
			return;
	}
	dst[i] = '\0';
}

/* One conversion spec: flags, width and length, then the conversion character. */
static const char *spec_end(const char *p, const char *end, int *longs)
{
	while (p < end && strchr("-+ #0", *p))
		p++;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	*longs = 0;
	while (p < end && (*p == 'l' || *p == 'z')) {
		(*longs)++;
		p++;
	}
	return p < end ? p : NULL;
}

/* Appends one converted argument to out; -EINVAL for what the kernel refuses. */
static int convert(char *out, size_t n, const char *spec, size_t speclen, int longs, char conv,
		   uint64_t arg)
{
	char fmt[32], s[256];

	if (speclen >= sizeof(fmt) - 4 || longs > 2)
		return -EINVAL;
	memcpy(fmt, spec, speclen);
	fmt[speclen] = '\0';
	switch (conv) {
	case 'd': case 'i':
		fmt[speclen - 1 - longs] = '\0';
		strcat(fmt, longs ? PRId64 : "d");
		return longs ? snprintf(out, n, fmt, (int64_t)arg) : snprintf(out, n, fmt, (int)arg);
	case 'u': case 'x': case 'X': case 'o': {
		fmt[speclen - 1 - longs] = '\0';
		const char *l64 = conv == 'u' ? PRIu64 : conv == 'x' ? PRIx64 : conv == 'X' ? PRIX64 : PRIo64;
		char c32[2] = { conv, 0 };
		strcat(fmt, longs ? l64 : c32);
		return longs ? snprintf(out, n, fmt, arg) : snprintf(out, n, fmt, (unsigned)arg);
	}
	case 'c':
		return snprintf(out, n, fmt, (int)(char)arg);
	case 's':
		safe_str(arg, s, sizeof(s));
		return snprintf(out, n, fmt, s);
	case 'p':
		return snprintf(out, n, "0x%" PRIx64, arg);
	default:
		return -EINVAL;
	}
}

/*
 * Formats like the kernel's bpf_bprintf_prepare + bstr_printf. Returns the length of the
 * whole result (it may not all fit), or -EINVAL.
 */
static int bprintf(char *out, size_t n, const char *fmt, uint32_t fmt_size, const uint64_t *args,
		   uint32_t nargs)
{
	const char *end = fmt_size ? memchr(fmt, '\0', fmt_size) : NULL;
	size_t len = 0;
	uint32_t used = 0;

	if (!end)
		return -EINVAL;	/* the format must be NUL-terminated inside fmt_size */
	for (const char *p = fmt; p < end; p++) {
		int w;
		if (*p != '%') {
			if (len + 1 < n)
				out[len] = *p;
			len++;
			continue;
		}
		if (p + 1 < end && p[1] == '%') {
			if (len + 1 < n)
				out[len] = '%';
			len++;
			p++;
			continue;
		}
		int longs;
		const char *c = spec_end(p + 1, end, &longs);
		if (!c || used >= nargs)
			return -EINVAL;
		/* %p takes the kernel's extensions (%pK, %px ...): skip one letter after it. */
		size_t speclen = (size_t)(c - p) + 1;
		w = convert(len < n ? out + len : NULL, len < n ? n - len : 0, p, speclen, longs, *c,
			    args[used++]);
		if (w < 0)
			return w;
		len += (size_t)w;
		if (*c == 'p' && c + 1 < end && strchr("KxBSsi", c[1]))
			c++;
		p = c;
	}
	if (n)
		out[len < n ? len : n - 1] = '\0';
	return (int)len;
}

static int trace_fd = -2;

static int trace_out(void)
{
	if (trace_fd != -2)
		return trace_fd;
	const char *env = getenv("UEBPF_TRACE");
	char path[4096];
	if (env && !strcmp(env, "stderr")) {
		trace_fd = STDERR_FILENO;
	} else {
		snprintf(path, sizeof(path), "%s/trace_pipe", ub_shm_pin_root());
		trace_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	}
	return trace_fd;
}

/* "<comm>-<pid> [cpu] ..... secs.usecs: bpf_trace_printk: msg", as trace_pipe shows it. */
static void emit(const char *msg, size_t len)
{
	char comm[17] = "", line[640];
	struct timespec ts;
	int fd = trace_out();

	if (fd < 0)
		return;
	prctl(PR_GET_NAME, comm);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int n = snprintf(line, sizeof(line), "%16s-%-7d [%03u] ..... %5lld.%06ld: bpf_trace_printk: %.*s%s",
			 comm, (int)getpid(), ub_run_cur ? ub_run_cur->cpu : 0,
			 (long long)ts.tv_sec, ts.tv_nsec / 1000, (int)len, msg,
			 len && msg[len - 1] == '\n' ? "" : "\n");
	if (n > 0)
		(void)!write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

uint64_t ub_h_trace_printk(uint64_t fmt, uint64_t fmt_size, uint64_t a1, uint64_t a2, uint64_t a3)
{
	uint64_t args[3] = { a1, a2, a3 };
	char buf[512];
	int n = bprintf(buf, sizeof(buf), PTR(fmt), (uint32_t)fmt_size, args, 3);

	if (n < 0)
		return (uint64_t)(int64_t)n;
	emit(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return (uint64_t)n;
}

uint64_t ub_h_trace_vprintk(uint64_t fmt, uint64_t fmt_size, uint64_t data, uint64_t data_len,
			    uint64_t r5)
{
	char buf[512];

	if (data_len % 8 || data_len > MAX_VARARGS * 8 || (data_len && !data))
		return (uint64_t)-EINVAL;
	int n = bprintf(buf, sizeof(buf), PTR(fmt), (uint32_t)fmt_size, PTR(data),
			(uint32_t)(data_len / 8));
	if (n < 0)
		return (uint64_t)(int64_t)n;
	emit(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return (uint64_t)n;
}

/* Returns the size the whole string needs, including its NUL, as the kernel. */
uint64_t ub_h_snprintf(uint64_t str, uint64_t size, uint64_t fmt, uint64_t data, uint64_t data_len)
{
	if (data_len % 8 || data_len > MAX_VARARGS * 8 || (data_len && !data))
		return (uint64_t)-EINVAL;
	/* The format is a constant string of the program: copied without trusting it. */
	char f[512];
	safe_str(fmt, f, sizeof(f));
	int n = bprintf(PTR(str), size, f, (uint32_t)strlen(f) + 1, PTR(data),
			(uint32_t)(data_len / 8));
	return n < 0 ? (uint64_t)(int64_t)n : (uint64_t)n + 1;
}
