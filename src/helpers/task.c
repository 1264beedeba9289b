/*
 * Helpers about the current task and reading its memory. probe_read* go through
 * process_vm_readv on our own process, so a bad address returns -EFAULT instead of
 * faulting: a program can read only the memory of the process it runs in.
 */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include "helpers/helpers.h"
#include "vm/vm.h"

#define PTR(x) ((void *)(uintptr_t)(x))

uint64_t ub_h_get_current_pid_tgid(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return (uint64_t)getpid() << 32 | (uint32_t)gettid();
}

/* The kernel's struct task_struct of the current task: user space has none, so NULL; a
 * program reads through it with bpf_probe_read_kernel, which then fails (-EFAULT). */
uint64_t ub_h_get_current_task(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return 0;
}

uint64_t ub_h_get_current_uid_gid(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return (uint64_t)getgid() << 32 | (uint32_t)getuid();
}

uint64_t ub_h_get_current_comm(uint64_t buf, uint64_t size, uint64_t r3, uint64_t r4, uint64_t r5)
{
	char comm[17] = "";

	if (!size)
		return (uint64_t)-EINVAL;
	prctl(PR_GET_NAME, comm);
	/* As strscpy_pad: truncated, NUL-terminated, zero-filled. */
	memset(PTR(buf), 0, size);
	memcpy(PTR(buf), comm, strnlen(comm, size - 1));
	return 0;
}

/* Copies up to n bytes; returns how many could be read (stops at the first fault). */
static size_t safe_read(void *dst, uint64_t src, size_t n)
{
	size_t done = 0;

	while (done < n) {
		/* One page at a time, so a fault in a later page keeps what came before. */
		size_t chunk = 4096 - ((src + done) & 4095);
		if (chunk > n - done)
			chunk = n - done;
		struct iovec l = { (char *)dst + done, chunk }, r = { PTR(src + done), chunk };
		ssize_t got = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
		if (got <= 0)
			break;
		done += (size_t)got;
		if ((size_t)got < chunk)
			break;
	}
	return done;
}

static uint64_t probe_read(uint64_t dst, uint64_t size, uint64_t src)
{
	if (size && safe_read(PTR(dst), src, size) != size) {
		memset(PTR(dst), 0, size);	/* the kernel zeroes dst on failure */
		return (uint64_t)-EFAULT;
	}
	return 0;
}

/* Returns the length including the NUL, or -EFAULT; dst is always NUL-terminated. */
static uint64_t probe_read_str(uint64_t dst, uint64_t size, uint64_t src)
{
	char *d = PTR(dst);
	size_t i = 0;

	if (!size)
		return 0;
	for (; i < size - 1; i++) {
		if (safe_read(d + i, src + i, 1) != 1) {
			if (i == 0) {
				memset(d, 0, size);
				return (uint64_t)-EFAULT;
			}
			break;
		}
		if (!d[i])
			return i + 1;
	}
	d[i] = '\0';
	return i + 1;
}

uint64_t ub_h_probe_read(uint64_t dst, uint64_t size, uint64_t src, uint64_t r4, uint64_t r5)
{
	return probe_read(dst, size, src);
}

uint64_t ub_h_probe_read_user(uint64_t dst, uint64_t size, uint64_t src, uint64_t r4, uint64_t r5)
{
	return probe_read(dst, size, src);
}

uint64_t ub_h_probe_read_kernel(uint64_t dst, uint64_t size, uint64_t src, uint64_t r4, uint64_t r5)
{
	return probe_read(dst, size, src);
}

uint64_t ub_h_probe_read_user_str(uint64_t dst, uint64_t size, uint64_t src, uint64_t r4,
				  uint64_t r5)
{
	return probe_read_str(dst, size, src);
}

uint64_t ub_h_probe_read_kernel_str(uint64_t dst, uint64_t size, uint64_t src, uint64_t r4,
				    uint64_t r5)
{
	return probe_read_str(dst, size, src);
}
