/*
 * kern_run: the kernel side of the loader's differential test (tests/test_elf_kdiff.c).
 * Loads a BPF object with the SYSTEM libbpf into the live kernel and prints what the
 * uebpf side compares: the names libbpf gives programs and maps, and test-run results.
 *
 *   kern_run OBJ names                     one line per program and map
 *   kern_run OBJ run PROG LEN [MAP=HEX...]  "retval N"; MAP=HEX sets key 0 of a map first
 *
 * Exit 2 when the kernel refuses bpf() (no privilege), so the test can skip.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	return l == LIBBPF_WARN ? vfprintf(stderr, f, ap) : 0;
}

static int set_map(struct bpf_object *obj, const char *arg)
{
	char name[64];
	unsigned char val[256];
	const char *eq = strchr(arg, '=');
	size_t n = 0;

	if (!eq || (size_t)(eq - arg) >= sizeof(name))
		return -1;
	snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
	for (const char *h = eq + 1; h[0] && h[1] && n < sizeof(val); h += 2) {
		unsigned b;
		sscanf(h, "%2x", &b);
		val[n++] = (unsigned char)b;
	}
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	__u32 key = 0;
	return m ? bpf_map_update_elem(bpf_map__fd(m), &key, val, 0) : -1;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return fprintf(stderr, "usage: kern_run OBJ names | run PROG LEN [MAP=HEX]\n"), 1;
	libbpf_set_print(quiet);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj)
		return fprintf(stderr, "open: %s\n", strerror(errno)), 1;
	if (!strcmp(argv[2], "names")) {
		struct bpf_program *p;
		struct bpf_map *m;
		bpf_object__for_each_program(p, obj)
			printf("prog %s %s %d\n", bpf_program__name(p), bpf_program__section_name(p),
			       bpf_program__type(p));
		bpf_object__for_each_map(m, obj)
			printf("map %s %d %u %u %u\n", bpf_map__name(m), bpf_map__type(m), bpf_map__key_size(m),
			       bpf_map__value_size(m), bpf_map__max_entries(m));
		return 0;
	}
	if (argc < 5)
		return 1;
	struct bpf_program *p, *want = bpf_object__find_program_by_name(obj, argv[3]);
	if (!want)
		return fprintf(stderr, "no program %s\n", argv[3]), 1;
	/* programs of the same type load too (prog arrays name them as initial values) */
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, bpf_program__type(p) == bpf_program__type(want));
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj)	/* never pin in the host's /sys/fs/bpf */
		bpf_map__set_pin_path(m, NULL);
	int err = bpf_object__load(obj);
	if (err)
		return fprintf(stderr, "load: %s\n", strerror(-err)), err == -EPERM ? 2 : 1;
	for (int i = 5; i < argc; i++)
		if (set_map(obj, argv[i]))
			return fprintf(stderr, "set %s failed\n", argv[i]), 1;
	unsigned char pkt[256];
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (unsigned char)(i * 7 + 1);
	pkt[12] = 0x08, pkt[13] = 0x00;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)atoi(argv[4]), .repeat = 1);
	err = bpf_prog_test_run_opts(bpf_program__fd(want), &o);
	if (err)
		return fprintf(stderr, "test_run: %s\n", strerror(-err)), 1;
	printf("retval %u\n", o.retval);
	bpf_object__close(obj);
	return 0;
}
