/*
 * Differential test of the object loader: the same objects (tests/bpf) loaded by uebpf
 * and, through the system libbpf, by the live kernel ($BUILD/tests/kern_run, a separate
 * executable so that uebpf never links libbpf). Compared: the names and shapes libbpf
 * gives programs and maps, and test-run results (with map values set first).
 * Skips when the kernel refuses bpf().
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "elf_util.h"
#include "ut.h"

__attribute__((constructor)) static void private_pins(void)
{
	elf_private_pin_root("elf-kdiff");
}

static char kern_run[512];
static int kernel_state;	/* 0 unknown, 1 usable, -1 refused */

/* Runs kern_run; its output in out. Returns its exit status (-1: could not run). */
static int kern(const char *args, char *out, size_t outsz)
{
	char cmd[1024];
	const char *b = getenv("BUILD");

	snprintf(kern_run, sizeof(kern_run), "%s/tests/kern_run", b && *b ? b : "build");
	snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", kern_run, args);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, outsz - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int kernel_usable(void)
{
	char out[256];

	if (!kernel_state) {
		char args[600];
		snprintf(args, sizeof(args), "%s run xdp_loop 64", elf_obj_path("elf_basic"));
		int rc = kern(args, out, sizeof(out));
		kernel_state = rc == 0 ? 1 : -1;
	}
	if (kernel_state < 0)
		ut_skip("the kernel side (%s) cannot load programs here (bpf() refused?)", kern_run);
	return kernel_state > 0;
}

/* The names listing kern_run prints, produced the same way from uebpf's object. */
static void names(struct bpf_object *obj, char *out, size_t sz)
{
	struct bpf_program *p;
	struct bpf_map *m;
	size_t n = 0;

	out[0] = '\0';
	bpf_object__for_each_program(p, obj)
		n += (size_t)snprintf(out + n, n < sz ? sz - n : 0, "prog %s %s %d\n", bpf_program__name(p),
				      bpf_program__section_name(p), bpf_program__type(p));
	bpf_object__for_each_map(m, obj)
		n += (size_t)snprintf(out + n, n < sz ? sz - n : 0, "map %s %d %u %u %u\n", bpf_map__name(m),
				      bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
				      bpf_map__max_entries(m));
}

UT_TEST(elf_kdiff_names_and_shapes)
{
	static const char *objs[] = { "elf_basic", "elf_maps", "elf_kconfig", "elf_core", "elf_str" };
	char k[4096], u[4096], args[600];

	if (!kernel_usable())
		return;
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		snprintf(args, sizeof(args), "%s names", elf_obj_path(objs[i]));
		UT_CHECK(kern(args, k, sizeof(k)) == 0, "kern_run %s", args);
		struct bpf_object *obj = bpf_object__open_file(elf_obj_path(objs[i]), NULL);
		UT_CHECK(obj, "open %s", objs[i]);
		if (!obj)
			continue;
		names(obj, u, sizeof(u));
		UT_CHECK(!strcmp(k, u), "%s:\nkernel libbpf:\n%suebpf:\n%s", objs[i], k, u);
		bpf_object__close(obj);
	}
}

struct run_case {
	const char *obj, *prog;
	size_t len;
	const char *set;	/* MAP=HEX of key 0, or NULL */
};

static const struct run_case cases[] = {
	{ "elf_basic", "xdp_count", 64, NULL },
	{ "elf_basic", "xdp_count", 20, NULL },
	{ "elf_basic", "xdp_count", 20, ".data=c8000000" },
	{ "elf_basic", "xdp_loop", 64, NULL },
	{ "elf_basic", "sock_len", 64, NULL },
	{ "elf_basic", "sock_len", 100, ".data.custom=05000000" },
	{ "elf_maps", "xdp_mim", 64, "inner_a=0a000000" },
	{ "elf_maps", "xdp_mim", 65, "inner_b=14000000" },
	{ "elf_maps", "xdp_mim", 64, NULL },
	{ "elf_maps", "xdp_tail", 64, NULL },
	{ "elf_kconfig", "kver", 64, NULL },
	{ "elf_kconfig", "kbool", 64, NULL },
	/* CO-RE against /sys/kernel/btf/vmlinux on both sides */
	{ "elf_core", "core_off", 64, NULL },
	{ "elf_core", "core_exists", 64, NULL },
	{ "elf_core", "core_enum", 64, NULL },
	{ "elf_str", "str_lit", 64, NULL },
	{ "elf_str", "str_lit", 100, NULL },
};

/* uebpf's side of one case: the same steps as kern_run. */
static int uebpf_run(const struct run_case *c, __u32 *ret)
{
	struct bpf_object *obj = bpf_object__open_file(elf_obj_path(c->obj), NULL);
	struct bpf_program *p, *want = obj ? bpf_object__find_program_by_name(obj, c->prog) : NULL;
	int err = -ENOENT;

	if (!want)
		goto out;
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, bpf_program__type(p) == bpf_program__type(want));
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj)
		bpf_map__set_pin_path(m, NULL);
	if ((err = bpf_object__load(obj)))
		goto out;
	if (c->set) {
		char name[64];
		unsigned char val[64];
		size_t n = 0;
		const char *eq = strchr(c->set, '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq - c->set), c->set);
		for (const char *h = eq + 1; h[0] && h[1]; h += 2) {
			unsigned b;
			sscanf(h, "%2x", &b);
			val[n++] = (unsigned char)b;
		}
		__u32 key = 0;
		if ((err = bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, name), &key, val, 0)))
			goto out;
	}
	err = elf_run(bpf_program__fd(want), c->len, ret);
out:
	bpf_object__close(obj);
	return err;
}

UT_TEST(elf_kdiff_test_runs)
{
	char out[256], args[700];

	if (!kernel_usable())
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct run_case *c = &cases[i];
		unsigned kret = 0;
		__u32 uret = 0;
		snprintf(args, sizeof(args), "%s run %s %zu %s", elf_obj_path(c->obj), c->prog, c->len,
			 c->set ? c->set : "");
		int rc = kern(args, out, sizeof(out));
		UT_CHECK(rc == 0 && sscanf(out, "retval %u", &kret) == 1, "kernel: %s (rc %d)", args, rc);
		int err = uebpf_run(c, &uret);
		UT_CHECK(!err, "uebpf: %s %s: %d", c->obj, c->prog, err);
		UT_CHECK(rc || err || kret == uret, "%s %s len %zu %s: kernel %u, uebpf %u", c->obj, c->prog,
			 c->len, c->set ? c->set : "", kret, uret);
	}
}
