/*
 * Shared by the differential tests against the live kernel (test_kernel_diff, test_jit_diff,
 * test_verifier_sound, _diff, _global): the raw bpf() syscall, the random numbers of the
 * program generators, and the reason line of a verifier log.
 */
#ifndef TESTS_KDIFF_H
#define TESTS_KDIFF_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <uebpf/uebpf.h>

/* The kernel's bpf(), bypassing libbpf: <bpf/bpf.h> here is uebpf's. */
static inline long kd_sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* One bpf() command on one side: the kernel (kernel != 0) or uebpf. */
static inline int kd_bpf(int kernel, int cmd, union bpf_attr *a)
{
	return kernel ? (int)kd_sys_bpf(cmd, a) : uebpf_bpf(cmd, a, sizeof(*a));
}

/* One BPF_PROG_TEST_RUN of fd on a side, over the same 64-byte packet (bytes i * 3 + 1)
 * with room for 128 out: 0 or -1 (errno), the program's return value in *retval. */
static inline int kd_test_run(int fd, int kernel, uint32_t *retval)
{
	uint8_t pkt[64], out[128];
	union bpf_attr a;

	for (int i = 0; i < 64; i++)
		pkt[i] = (uint8_t)(i * 3 + 1);
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	a.test.data_out = (uintptr_t)out;
	a.test.data_size_out = sizeof(out);
	a.test.repeat = 1;
	int err = kd_bpf(kernel, BPF_PROG_TEST_RUN, &a);
	*retval = a.test.retval;
	return err;
}

/* xorshift64* (Vigna): repeatable from a seed, which must not be 0. */
static inline uint64_t kd_rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* A number in [0, n), from the high half (the better bits). */
static inline unsigned kd_pick(uint64_t *s, unsigned n)
{
	return (unsigned)(kd_rnd(s) >> 32) % n;
}

/* The verifier's reason: the last non-empty line of log that is not the "processed N
 * insns" summary. Two buffers take turns, so two calls may share one printf. */
static inline const char *kd_last_line(const char *log)
{
	static char lines[2][200];
	static int which;
	char *line = lines[which ^= 1];
	const char *best = "", *p = log;
	size_t blen = 0;

	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len && strncmp(p, "processed ", 10))
			best = p, blen = len;
		p += len + (e ? 1 : 0);
	}
	snprintf(line, sizeof(lines[0]), "%.*s",
		 (int)(blen < sizeof(lines[0]) ? blen : sizeof(lines[0]) - 1), best);
	return line;
}

#endif
