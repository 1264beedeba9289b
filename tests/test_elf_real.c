/*
 * Real BPF objects: Debian's xdp-tools / libxdp objects (the .o files in XDP_DIR) and
 * the objects embedded in libbpf-tools' binaries (/usr/sbin/<tool>: each carries its
 * BPF ELF, found by the ELF magic with e_machine EM_BPF). Every object must open; each
 * program is then loaded on its own and the outcome counted, with the reasons grouped:
 *
 *   opened N/M objects, loaded K/L programs
 *
 * Skips (with a message) when neither package is installed.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "elf_util.h"
#include "ut.h"

__attribute__((constructor)) static void private_pins(void)
{
	elf_private_pin_root("elf-real");
}

#define XDP_DIR "/usr/lib/x86_64-linux-gnu/bpf"
#define TOOLS_LIST "/var/lib/dpkg/info/libbpf-tools.list"

struct blob {
	char name[128];
	unsigned char *buf;
	size_t size;
};

static struct blob *blobs;
static size_t nblobs;

static void add_blob(const char *name, const void *buf, size_t size)
{
	struct blob *n = realloc(blobs, (nblobs + 1) * sizeof(*n));
	if (!n)
		return;
	blobs = n;
	snprintf(blobs[nblobs].name, sizeof(blobs[nblobs].name), "%s", name);
	blobs[nblobs].buf = malloc(size);
	if (!blobs[nblobs].buf)
		return;
	memcpy(blobs[nblobs].buf, buf, size);
	blobs[nblobs].size = size;
	nblobs++;
}

static unsigned char *slurp(const char *path, size_t *size)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	unsigned char *buf = NULL;

	if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (buf = malloc((size_t)st.st_size)) && read(fd, buf, (size_t)st.st_size) == st.st_size)
		*size = (size_t)st.st_size;
	else
		free(buf), buf = NULL;
	if (fd >= 0)
		close(fd);
	return buf;
}

/* An embedded BPF ELF: 64-bit little-endian relocatable, EM_BPF; its extent is the end of
 * its section header table (clang puts the headers last). */
static size_t embedded_size(const unsigned char *p, size_t room)
{
	Elf64_Ehdr eh;

	if (room < sizeof(eh))
		return 0;
	memcpy(&eh, p, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_BPF || eh.e_type != ET_REL || eh.e_shentsize != sizeof(Elf64_Shdr))
		return 0;
	uint64_t end = eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize;
	return end <= room ? (size_t)end : 0;
}

static void scan_binary(const char *path)
{
	size_t size = 0;
	unsigned char *buf = slurp(path, &size);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int k = 0;

	for (size_t i = 1; buf && i + 4 <= size; i++) {	/* i = 0 is the tool's own ELF */
		if (memcmp(buf + i, ELFMAG, SELFMAG))
			continue;
		size_t n = embedded_size(buf + i, size - i);
		if (!n)
			continue;
		char name[128];
		snprintf(name, sizeof(name), k ? "%s#%d" : "%s", base, k);
		add_blob(name, buf + i, n);
		k++;
		i += n - 1;
	}
	free(buf);
}

static void collect(void)
{
	DIR *d = opendir(XDP_DIR);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name), size = 0;
		char path[512];
		if (n < 3 || strcmp(e->d_name + n - 2, ".o"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", XDP_DIR, e->d_name);
		unsigned char *buf = slurp(path, &size);
		if (buf)
			add_blob(e->d_name, buf, size);
		free(buf);
	}
	if (d)
		closedir(d);
	/* libbpf-tools' executables, from the package's file list */
	FILE *f = fopen(TOOLS_LIST, "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		struct stat st;
		if (!strncmp(line, "/usr/sbin/", 10) && !stat(line, &st) && S_ISREG(st.st_mode))
			scan_binary(line);
	}
	if (f)
		fclose(f);
}

/* Reasons, grouped by the first line the loader printed (object-specific names cut). */
struct reason {
	char text[200];
	int count;
	char example[300];
};
static struct reason reasons[64];
static int nreasons;

static void reason_add(const char *msg, const char *example)
{
	char text[200];
	/* the line that says why: the first "prog '...': ..." or "CO-RE"/"map" line */
	const char *p = strstr(msg, "not loadable in user space: ");
	if (p)
		p += strlen("not loadable in user space: ");
	else if ((p = strstr(msg, "-- BEGIN PROG LOAD LOG --\n"))) {
		p += strlen("-- BEGIN PROG LOAD LOG --\n");
		/* the verifier's last line before its statistics and the end marker */
		const char *last = p, *q;
		for (q = p; q && *q && strncmp(q, "-- END", 6); q = strchr(q, '\n') ? strchr(q, '\n') + 1 : NULL)
			if (strncmp(q, "processed ", 10) && strncmp(q, "verification time", 17))
				last = q;
		p = last;
	} else if (!(p = strstr(msg, "libbpf: ")))
		p = msg;
	else
		p += 8;
	snprintf(text, sizeof(text), "%.*s", (int)strcspn(p, "\n"), p);
	for (int i = 0; i < nreasons; i++)
		if (!strcmp(reasons[i].text, text)) {
			reasons[i].count++;
			return;
		}
	if (nreasons < 64) {
		snprintf(reasons[nreasons].text, sizeof(reasons[nreasons].text), "%s", text);
		snprintf(reasons[nreasons].example, sizeof(reasons[nreasons].example), "%s", example);
		reasons[nreasons++].count = 1;
	}
}

static int warn_only(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? elf_capture(level, fmt, ap) : 0;
}

UT_TEST(elf_real_objects_open_and_load)
{
	int opened = 0, progs = 0, loaded = 0;

	collect();
	if (!nblobs) {
		ut_skip("neither xdp-tools objects (%s) nor libbpf-tools (%s) installed", XDP_DIR, TOOLS_LIST);
		return;
	}
	for (size_t i = 0; i < nblobs; i++) {
		elf_capture_start();
		struct bpf_object *obj = bpf_object__open_mem(blobs[i].buf, blobs[i].size, NULL);
		libbpf_set_print(NULL);
		UT_CHECK(obj, "%s does not open: %s", blobs[i].name, elf_msgs);
		if (!obj)
			continue;
		opened++;
		struct bpf_program *p;
		int np = 0;
		bpf_object__for_each_program(p, obj)
			np++;
		bpf_object__close(obj);
		for (int k = 0; k < np; k++) {	/* each program alone, in a fresh object */
			obj = bpf_object__open_mem(blobs[i].buf, blobs[i].size, NULL);
			int j = 0;
			struct bpf_program *want = NULL;
			bpf_object__for_each_program(p, obj) {
				bpf_program__set_autoload(p, j == k);
				if (j++ == k)
					want = p;
			}
			elf_capture_start();
			libbpf_set_print(warn_only);
			int err = bpf_object__load(obj);
			libbpf_set_print(NULL);
			progs++;
			char ex[300];
			snprintf(ex, sizeof(ex), "%s:%s", blobs[i].name, bpf_program__name(want));
			if (!err)
				loaded++;
			else
				reason_add(elf_msgs, ex);
			bpf_object__close(obj);
		}
	}
	printf("real objects: opened %d/%zu objects, loaded %d/%d programs\n", opened, nblobs, loaded, progs);
	for (int i = 0; i < nreasons; i++)
		printf("  %3d x %s  (e.g. %s)\n", reasons[i].count, reasons[i].text, reasons[i].example);
	UT_CHECK_EQ(opened, nblobs);
}
