/* Helpers of the ELF loader tests: object paths, a capturing print callback, test runs. */
#ifndef TESTS_ELF_UTIL_H
#define TESTS_ELF_UTIL_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>

/* $BUILD/bpf/NAME.o: the Makefile compiles tests/bpf/NAME.bpf.c there. */
static inline const char *elf_obj_path(const char *name)
{
	static char path[4][512];
	static int slot;
	const char *b = getenv("BUILD");

	slot = (slot + 1) % 4;
	snprintf(path[slot], sizeof(path[slot]), "%s/bpf/%s.o", b && *b ? b : "build", name);
	return path[slot];
}

/* Everything libbpf_set_print's callback receives, for checking messages. */
static char elf_msgs[1 << 16];
static size_t elf_msgs_len;

static inline int elf_capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (elf_msgs_len < sizeof(elf_msgs) - 1) {
		int n = vsnprintf(elf_msgs + elf_msgs_len, sizeof(elf_msgs) - elf_msgs_len, fmt, ap);
		if (n > 0)
			elf_msgs_len += (size_t)n;
		if (elf_msgs_len >= sizeof(elf_msgs))
			elf_msgs_len = sizeof(elf_msgs) - 1;
	}
	return 0;
}

static inline void elf_capture_start(void)
{
	elf_msgs_len = 0;
	elf_msgs[0] = '\0';
	libbpf_set_print(elf_capture);
}

/* A private pin root for tests whose objects pin maps by name (set before any map exists,
 * removed at exit), so that nothing is left in the shared one. */
static char elf_pin_root[128];

static inline void elf_pin_root_cleanup(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", elf_pin_root);
	if (system(cmd))
		fprintf(stderr, "cleanup of %s failed\n", elf_pin_root);
}

static inline void elf_private_pin_root(const char *test)
{
	snprintf(elf_pin_root, sizeof(elf_pin_root), "/dev/shm/uebpf-%s-%d", test, (int)getpid());
	mkdir(elf_pin_root, 0700);
	setenv("UEBPF_PIN_ROOT", elf_pin_root, 1);
	atexit(elf_pin_root_cleanup);
}

/* One test run of a program over `len` bytes of a fixed pattern; the return value. */
static inline int elf_run(int prog_fd, size_t len, __u32 *retval)
{
	unsigned char pkt[256];

	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (unsigned char)(i * 7 + 1);
	pkt[12] = 0x08, pkt[13] = 0x00;		/* Ethernet type IPv4 */
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len, .repeat = 1);
	int err = bpf_prog_test_run_opts(prog_fd, &o);
	*retval = o.retval;
	return err;
}

#endif
