/*
 * kern_verdicts: the kernel side of tests/test_elf_real.c. Loads every program of each
 * object alone (the others' autoload off, no pinning) with the SYSTEM libbpf into the live
 * kernel and prints one line per program:
 *
 *   V <object-name> <program> <prog-type> <0 or errno> <why: the verifier's last line>
 *
 * Arguments: pairs of PATH NAME (the test writes embedded objects to temporary files).
 * Exit 2 when the kernel refuses bpf() altogether (no privilege), so the test can skip.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static char msgs[65536];
static size_t msgs_len;

static int capture(enum libbpf_print_level l, const char *f, va_list ap)
{
	if (l != LIBBPF_WARN || msgs_len >= sizeof(msgs) - 1)
		return 0;
	int n = vsnprintf(msgs + msgs_len, sizeof(msgs) - msgs_len, f, ap);
	if (n > 0)
		msgs_len += (size_t)n < sizeof(msgs) - msgs_len ? (size_t)n : sizeof(msgs) - 1 - msgs_len;
	return 0;
}

/* The verifier's last line (before its statistics), else libbpf's first message. */
static void why(char *out, size_t size)
{
	const char *p = strstr(msgs, "-- BEGIN PROG LOAD LOG --\n"), *last = NULL;

	if (p) {
		for (const char *q = p + 26; *q && strncmp(q, "-- END", 6); q = strchr(q, '\n') ? strchr(q, '\n') + 1 : "")
			if (strncmp(q, "processed ", 10) && strncmp(q, "verification time", 17) && *q != '\n')
				last = q;
	}
	if (!last)
		last = strncmp(msgs, "libbpf: ", 8) ? msgs : msgs + 8;
	snprintf(out, size, "%.*s", (int)strcspn(last, "\n"), last);
	for (char *c = out; *c; c++)
		if (*c == '\t')
			*c = ' ';
}

static int bpf_usable(void)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY, a.key_size = 4, a.value_size = 4, a.max_entries = 1;
	long fd = syscall(__NR_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	if (fd >= 0)
		close((int)fd);
	return fd >= 0;
}

static void one_object(const char *path, const char *name)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p;
	int np = 0;

	if (!obj) {
		printf("O %s open failed %d\n", name, errno);
		return;
	}
	bpf_object__for_each_program(p, obj)
		np++;
	bpf_object__close(obj);
	for (int k = 0; k < np; k++) {
		struct bpf_program *want = NULL;
		struct bpf_map *m;
		int j = 0;
		obj = bpf_object__open_file(path, NULL);
		if (!obj)
			break;
		bpf_object__for_each_program(p, obj) {
			bpf_program__set_autoload(p, j == k);
			if (j++ == k)
				want = p;
		}
		bpf_object__for_each_map(m, obj)	/* never pin in the host's /sys/fs/bpf */
			bpf_map__set_pin_path(m, NULL);
		msgs_len = 0, msgs[0] = '\0';
		int err = bpf_object__load(obj);
		char reason[300] = "";
		if (err)
			why(reason, sizeof(reason));
		printf("V %s %s %d %d %s\n", name, bpf_program__name(want), bpf_program__type(want), err < 0 ? -err : 0,
		       reason);
		bpf_object__close(obj);
	}
}

int main(int argc, char **argv)
{
	if (!bpf_usable())
		return fprintf(stderr, "bpf() refused: %s\n", strerror(errno)), 2;
	libbpf_set_print(capture);
	for (int i = 1; i + 1 < argc; i += 2)
		one_object(argv[i], argv[i + 1]);
	return 0;
}
