/*
 * Corrupt, truncated and hostile ELF objects: each gets a clear error naming the section
 * and offset, or (for damage the format cannot detect) opens; never a crash or a hang.
 * The damaged bytes start from the test objects in $BUILD/bpf.
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "elf_util.h"
#include "ut.h"

__attribute__((constructor)) static void private_pins(void)
{
	elf_private_pin_root("elf-bad");
}

static unsigned char *read_obj(const char *name, size_t *size)
{
	FILE *f = fopen(elf_obj_path(name), "rb");
	unsigned char *buf = malloc(1 << 20);

	*size = f && buf ? fread(buf, 1, 1 << 20, f) : 0;
	if (f)
		fclose(f);
	UT_CHECK(*size > 0, "read %s", name);
	return buf;
}

/* File offset and size of a section, found with libelf on the intact bytes. */
static size_t sec_off(unsigned char *buf, size_t size, const char *name, size_t *sec_size)
{
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t str, off = 0;

	elf_version(EV_CURRENT);
	e = elf_memory((char *)buf, size);
	if (!e || elf_getshdrstrndx(e, &str))
		return 0;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *n;
		if (gelf_getshdr(scn, &sh) && (n = elf_strptr(e, str, sh.sh_name)) && !strcmp(n, name)) {
			off = sh.sh_offset;
			*sec_size = sh.sh_size;
			break;
		}
	}
	elf_end(e);
	return off;
}

/* Opens (and, if that works, loads) damaged bytes; returns the open error (0 opened). */
static int try_open(const unsigned char *buf, size_t size)
{
	elf_capture_start();
	struct bpf_object *obj = bpf_object__open_mem(buf, size, NULL);
	int err = obj ? 0 : -errno;
	if (obj) {
		struct bpf_program *p;
		bpf_object__for_each_program(p, obj)
			if (strncmp(bpf_program__section_name(p), "fentry", 6))
				bpf_program__set_autoload(p, true);
			else
				bpf_program__set_autoload(p, false);
		bpf_object__load(obj);
	}
	bpf_object__close(obj);
	libbpf_set_print(NULL);
	return err;
}

UT_TEST(elf_not_elf_and_wrong_machine)
{
	size_t size;
	unsigned char *buf = read_obj("elf_basic", &size);

	if (!size)
		return;
	unsigned char junk[64] = "this is not an ELF file at all";
	UT_CHECK(try_open(junk, sizeof(junk)) == -EINVAL, "junk");
	UT_CHECK_STR(elf_msgs, "not an ELF file");
	Elf64_Ehdr eh;
	memcpy(&eh, buf, sizeof(eh));
	eh.e_machine = 62;	/* EM_X86_64 */
	memcpy(buf, &eh, sizeof(eh));
	UT_CHECK(try_open(buf, size) == -EINVAL, "x86 object");
	UT_CHECK_STR(elf_msgs, "not a BPF relocatable object (e_type 1, e_machine 62");
	free(buf);
}

UT_TEST(elf_bad_section_offsets)
{
	size_t size;
	unsigned char *buf = read_obj("elf_basic", &size);
	Elf64_Ehdr eh;

	if (!size)
		return;
	memcpy(&eh, buf, sizeof(eh));
	/* the section header table beyond the end of the file */
	Elf64_Ehdr bad = eh;
	bad.e_shoff = size + 4096;
	memcpy(buf, &bad, sizeof(bad));
	UT_CHECK(try_open(buf, size) == -EINVAL, "shoff");
	UT_CHECK_STR(elf_msgs, "section header table at offset");
	memcpy(buf, &eh, sizeof(eh));
	/* one section's data beyond the end of the file: named with its offset */
	Elf64_Shdr sh;
	size_t at = eh.e_shoff + 4 * sizeof(Elf64_Shdr);	/* section 4 */
	memcpy(&sh, buf + at, sizeof(sh));
	Elf64_Shdr bsh = sh;
	bsh.sh_offset = size * 4;
	memcpy(buf + at, &bsh, sizeof(bsh));
	UT_CHECK(try_open(buf, size) == -EINVAL, "section offset");
	UT_CHECK_STR(elf_msgs, "section 4 (");
	UT_CHECK_STR(elf_msgs, "unreadable");
	free(buf);
}

UT_TEST(elf_bad_relocation)
{
	size_t size, rsz = 0;
	unsigned char *buf = read_obj("elf_basic", &size);

	if (!size)
		return;
	size_t off = sec_off(buf, size, ".relxdp", &rsz);
	UT_CHECK(off && rsz >= sizeof(Elf64_Rel), ".relxdp");
	if (!off)
		return;
	Elf64_Rel r;
	memcpy(&r, buf + off, sizeof(r));
	r.r_offset = 0x100000;
	memcpy(buf + off, &r, sizeof(r));
	UT_CHECK(try_open(buf, size) == -EINVAL, "relocation offset");
	UT_CHECK_STR(elf_msgs, "section 'xdp': relocation 0 at offset 0x100000: offset outside the section");
	r.r_offset = 0;
	r.r_info = ELF64_R_INFO(100000, ELF64_R_TYPE(r.r_info));
	memcpy(buf + off, &r, sizeof(r));
	UT_CHECK(try_open(buf, size) == -EINVAL, "relocation symbol");
	UT_CHECK_STR(elf_msgs, "symbol 100000 out of range");
	free(buf);
}

UT_TEST(elf_bad_btf_section)
{
	size_t size, bsz = 0;
	unsigned char *buf = read_obj("elf_basic", &size);

	if (!size)
		return;
	size_t off = sec_off(buf, size, ".BTF", &bsz);
	UT_CHECK(off && bsz > 24, ".BTF");
	if (!off)
		return;
	unsigned char save = buf[off + 24 + 8];
	buf[off] ^= 0xff;	/* magic */
	UT_CHECK(try_open(buf, size) == -EINVAL, "btf magic");
	UT_CHECK_STR(elf_msgs, "section '.BTF': BTF: offset 0x0: bad magic");
	buf[off] ^= 0xff;
	buf[off + 24 + 8] = 0xff;	/* first type's size/type word: a referenced id out of range */
	buf[off + 24 + 9] = 0xff;
	int err = try_open(buf, size);
	UT_CHECK(err == -EINVAL || err == 0, "btf type damage: %d", err);
	buf[off + 24 + 8] = save;
	free(buf);
}

UT_TEST(elf_truncated_everywhere)
{
	size_t size;
	unsigned char *buf = read_obj("elf_maps", &size);

	if (!size)
		return;
	/* every prefix: refused with a message (the section headers come last in the file) */
	for (size_t n = 0; n < size; n += n < 256 ? 1 : 61) {
		int err = try_open(buf, n);
		UT_CHECK(err || n == size, "prefix %zu opened", n);
		UT_CHECK(err == 0 || elf_msgs[0] || n == 0, "prefix %zu: no message", n);
	}
	free(buf);
}

UT_TEST(elf_random_damage)
{
	static const char *objs[] = { "elf_basic", "elf_maps", "elf_legacy", "elf_kconfig" };
	unsigned seed = 777;

	for (size_t o = 0; o < sizeof(objs) / sizeof(objs[0]); o++) {
		size_t size;
		unsigned char *orig = read_obj(objs[o], &size), *buf = malloc(size ? size : 1);
		for (int i = 0; size && buf && i < 150; i++) {
			memcpy(buf, orig, size);
			for (int k = 0; k < 1 + i % 4; k++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 4) % size] ^= (unsigned char)(1u << ((seed >> 28) & 7));
			}
			try_open(buf, size);	/* any answer; ASan/valgrind runs check memory */
		}
		free(buf);
		free(orig);
	}
}
