/*
 * CO-RE end to end: a program compiled by clang with CO-RE builtins on local "flavor"
 * types (task_struct___mine...) is opened and loaded by uebpf's loader, which resolves
 * its relocations against the running kernel's BTF; the program stores the relocated
 * values in .bss and the test compares them with bpftool's dump of the kernel's BTF and
 * with <linux/bpf.h>. Skips without clang, bpftool or /sys/kernel/btf/vmlinux.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ut.h"

static const char src[] =
	"struct task_struct___mine { int pid; int tgid; int no_such_field; }\n"
	"\t__attribute__((preserve_access_index));\n"
	"struct not_in_any_kernel___x { int a; };\n"
	"enum bpf_map_type___mine { BPF_MAP_TYPE_RINGBUF___mine = 1, NO_SUCH_VALUE___mine = 2 };\n"
	"unsigned long long out[8];\n"
	"__attribute__((section(\"xdp\"), used)) int core_prog(void *ctx)\n"
	"{\n"
	"\tstruct task_struct___mine *t = 0;\n"
	"\tout[0] = __builtin_preserve_field_info(t->pid, 0);\n"		/* byte offset */
	"\tout[1] = __builtin_preserve_field_info(t->tgid, 0);\n"
	"\tout[2] = __builtin_preserve_field_info(t->no_such_field, 2);\n"	/* exists */
	"\tout[3] = __builtin_preserve_type_info(*(struct task_struct___mine *)0, 1);\n" /* size */
	"\tout[4] = __builtin_preserve_type_info(*(struct not_in_any_kernel___x *)0, 0);\n"
	"\tout[5] = __builtin_preserve_enum_value(*(enum bpf_map_type___mine *)"
	"BPF_MAP_TYPE_RINGBUF___mine, 1);\n"						/* value */
	"\tout[6] = __builtin_preserve_enum_value(*(enum bpf_map_type___mine *)"
	"NO_SUCH_VALUE___mine, 0);\n"							/* exists */
	"\tout[7] = __builtin_preserve_field_info(t->pid, 1);\n"		/* byte size */
	"\treturn 2;\n"
	"}\n"
	"char _license[] __attribute__((section(\"license\"), used)) = \"GPL\";\n";

/* A number from bpftool's raw dump of the kernel's BTF: `grep` picks the line, `field=`
 * the value. -1 if absent. */
static long kernel_fact(const char *grep, const char *field)
{
	char cmd[512], line[512];
	long v = -1;

	snprintf(cmd, sizeof(cmd),
		 "bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | %s | head -1", grep);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fgets(line, sizeof(line), p)) {
		const char *f = strstr(line, field);
		if (f)
			v = strtol(f + strlen(field), NULL, 10);
	}
	pclose(p);
	return v;
}

UT_TEST(core_object_against_kernel)
{
	char dir[] = "/tmp/uebpf-coreobj-XXXXXX", cmd[1024], path[64], obj_path[64];

	if (access("/sys/kernel/btf/vmlinux", R_OK) || system("bpftool version >/dev/null 2>&1")) {
		ut_skip("needs /sys/kernel/btf/vmlinux and bpftool");
		return;
	}
	if (!mkdtemp(dir)) {
		ut_skip("mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/core.c", dir);
	snprintf(obj_path, sizeof(obj_path), "%s/core.o", dir);
	FILE *f = fopen(path, "w");
	fputs(src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "clang -O2 -g -target bpf -c %s -o %s 2>/dev/null", path, obj_path);
	if (system(cmd)) {
		ut_skip("clang cannot compile BPF here");
		goto out;
	}
	/* the oracle: task_struct's pid/tgid offsets and size, from bpftool */
	long pid = kernel_fact("awk '/^\\[[0-9]+\\] STRUCT .task_struct. /{on=1;next} /^\\[/{on=0} "
			       "on && /^\\t.pid. /'", "bits_offset=");
	long tgid = kernel_fact("awk '/^\\[[0-9]+\\] STRUCT .task_struct. /{on=1;next} /^\\[/{on=0} "
				"on && /^\\t.tgid. /'", "bits_offset=");
	long size = kernel_fact("grep \"^\\[[0-9]*\\] STRUCT 'task_struct' \"", "size=");
	UT_CHECK(pid > 0 && tgid > 0 && size > 0, "bpftool facts: %ld %ld %ld", pid, tgid, size);

	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	UT_CHECK(obj, "open: %s", strerror(errno));
	if (!obj)
		goto out;
	int err = bpf_object__load(obj);
	UT_CHECK(!err, "load: %d", err);
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "core_prog");
	struct bpf_map *bss = bpf_object__find_map_by_name(obj, ".bss");
	UT_CHECK(prog && bss, "program and .bss");
	if (err || !prog || !bss) {
		bpf_object__close(obj);
		goto out;
	}
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));
	UT_CHECK(!bpf_prog_test_run_opts(bpf_program__fd(prog), &o) && o.retval == 2, "run");
	size_t sz = 0;
	const unsigned long long *out = bpf_map__initial_value(bss, &sz);
	UT_CHECK(out && sz >= 64, ".bss memory");
	if (out && sz >= 64) {
		UT_CHECK_EQ(out[0], pid / 8);
		UT_CHECK_EQ(out[1], tgid / 8);
		UT_CHECK_EQ(out[2], 0);			/* no such field in the kernel */
		UT_CHECK_EQ(out[3], size);
		UT_CHECK_EQ(out[4], 0);			/* no such type */
		UT_CHECK_EQ(out[5], BPF_MAP_TYPE_RINGBUF);	/* the UAPI value */
		UT_CHECK_EQ(out[6], 0);			/* no such enumerator */
		UT_CHECK_EQ(out[7], 4);			/* pid_t: int */
	}
	bpf_object__close(obj);
out:
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	UT_CHECK(!system(cmd), "cleanup");
}
