/*
 * map_btf_make PATH TYPE: creates a map of that type with hand-built BTF (int key;
 * struct val { int a; long b; char name[8]; unsigned int arr[2]; } value), stores two
 * elements and pins it at PATH. Built twice by tests/cli_map_btf.sh, against the system's
 * libbpf (a kernel map, for bpftool) and against uebpf (a uebpf map, for `uebpf map`), so
 * both tools print the same map. Exit 0, or 1 with the failing step on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../btf_build.h"

struct val {
	int a;
	long b;
	char name[8];
	unsigned int arr[2];
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "map_btf_make: %s: %s\n", what, strerror(err < 0 ? -err : errno));
	return 1;
}

int main(int argc, char **argv)
{
	struct bb b;
	size_t size;

	if (argc != 3)
		return fprintf(stderr, "usage: map_btf_make PATH TYPE\n"), 2;
	bb_init(&b);
	uint32_t i = bb_int(&b, "int", 4, BTF_INT_SIGNED);
	uint32_t l = bb_int(&b, "long", 8, BTF_INT_SIGNED);
	uint32_t c = bb_int(&b, "char", 1, BTF_INT_CHAR);
	uint32_t u = bb_int(&b, "unsigned int", 4, 0);
	uint32_t ca = bb_array(&b, c, i, 8);
	uint32_t ua = bb_array(&b, u, i, 2);
	uint32_t v = bb_comp(&b, BTF_KIND_STRUCT, "val", sizeof(struct val), 4, 0);
	bb_member(&b, "a", i, 0, 0);
	bb_member(&b, "b", l, 64, 0);
	bb_member(&b, "name", ca, 128, 0);
	bb_member(&b, "arr", ua, 192, 0);
	const void *blob = bb_finish(&b, &size);
	int bfd = bpf_btf_load(blob, size, NULL);
	if (bfd < 0)
		return fail("BTF load", bfd);
	LIBBPF_OPTS(bpf_map_create_opts, o, .btf_fd = (__u32)bfd, .btf_key_type_id = i,
		    .btf_value_type_id = v);
	int fd = bpf_map_create((enum bpf_map_type)atoi(argv[2]), "btfmap", 4, sizeof(struct val),
				4, &o);
	if (fd < 0)
		return fail("map create", fd);
	int ncpus = libbpf_num_possible_cpus(), err;
	struct val *vals = calloc(ncpus > 0 ? (size_t)ncpus : 1, sizeof(*vals));
	if (!vals)
		return fail("calloc", -ENOMEM);
	for (int k = 0; k < (ncpus > 0 ? ncpus : 1); k++)
		vals[k] = (struct val){ .a = -5 - k, .b = 1234567890123L, .name = "cpu", .arr = { 7, 8 } };
	int key = 3;
	if (bpf_map_update_elem(fd, &key, vals, 0)) {
		err = -errno;
		free(vals);
		return fail("update", err);
	}
	key = 1;
	vals[0].a = 42;
	memcpy(vals[0].name, "x\"y", 4);
	err = bpf_map_update_elem(fd, &key, vals, 0) ? -errno : 0;
	free(vals);
	if (err)
		return fail("update", err);
	unlink(argv[1]);
	if (bpf_obj_pin(fd, argv[1]))
		return fail("pin", -errno);
	return 0;
}
