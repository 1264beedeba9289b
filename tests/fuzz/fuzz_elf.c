/*
 * fuzz_elf: the object loader (bpf_object__open_mem, then load) on damaged BPF objects.
 *
 * Templates: the BPF objects Debian ships with xdp-tools (/usr/lib/x86_64-linux-gnu/bpf)
 * and the loader tests' objects (BUILD/bpf/elf_NAME.o), read at start. An input's first
 * byte picks a template (or, when odd past the template count, takes the rest of the input
 * whole as the file); the rest is a list of edits (u32 offset, u8 length, bytes) applied
 * to the template. The result must open or be refused with errno set and a message, and
 * an object that opens must load or be refused, never crash: kernel-only programs are
 * left out of the load (autoload off), maps are made small and never pinned.
 */
#include <glob.h>
#include <bpf/libbpf.h>
#include "fuzz.h"

static struct fz_tmpl tmpls[64];
static size_t ntmpls;

static void add_template(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);
	size_t n = f && buf ? fread(buf, 1, 1 << 20, f) : 0;

	if (f)
		fclose(f);
	if (n && n < (1 << 20) && ntmpls < 64)
		tmpls[ntmpls++] = (struct fz_tmpl){ buf, n };
	else
		free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *pats[] = { "/usr/lib/x86_64-linux-gnu/bpf/*.o", "build/bpf/elf_*.o",
				      "build/*/bpf/elf_*.o" };
	for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		glob_t g;
		if (glob(pats[p], 0, NULL, &g))
			continue;
		for (size_t i = 0; i < g.gl_pathc; i++)
			add_template(g.gl_pathv[i]);
		globfree(&g);
	}
	libbpf_set_print(NULL);	/* silent, and no verifier logs made */
	return 0;
}

static void try(const uint8_t *buf, size_t size)
{
	errno = 0;
	struct bpf_object *obj = bpf_object__open_mem(buf, size, NULL);
	if (!obj) {
		if (!errno)
			fuzz_fail("open refused without errno");
		return;
	}
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		const char *s = bpf_program__section_name(p);
		bpf_program__set_autoload(p, strncmp(s, "fentry", 6) && strncmp(s, "fexit", 5));
	}
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj) {	/* small maps: the loader is under test, not maps */
		if (bpf_map__max_entries(m) > 4 && bpf_map__type(m) != BPF_MAP_TYPE_RINGBUF)
			bpf_map__set_max_entries(m, 4);
		bpf_map__set_pin_path(m, NULL);
	}
	int err = bpf_object__load(obj);
	if (err > 0)
		fuzz_fail("load returned %d", err);
	bpf_object__close(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_patched_template(data, size, tmpls, ntmpls, try);
	return 0;
}
