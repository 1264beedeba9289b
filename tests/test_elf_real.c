/*
 * Real BPF objects: Debian's xdp-tools / libxdp objects (the .o files in XDP_DIR) and
 * the objects embedded in libbpf-tools' binaries (/usr/sbin/<tool>: each carries its
 * BPF ELF, found by the ELF magic with e_machine EM_BPF). Every object must open; each
 * program is then loaded on its own and the outcome counted, with the reasons grouped:
 *
 *   opened N/M objects, loaded K/L programs
 *
 * Then the verdicts are compared with the live kernel's: $BUILD/tests/kern_verdicts (linked
 * with the system libbpf, a separate executable) loads the same programs the same way,
 * and the test prints how many both accept, both refuse, only uebpf refuses and only the
 * kernel refuses. Issue 5: for XDP, socket filter, tc, tracepoint, kprobe and perf_event
 * programs, uebpf must accept what the kernel accepts; each such program uebpf refuses is
 * printed with uebpf's reason and fails the test.
 *
 * Skips (with a message) when neither package is installed; the comparison alone is
 * skipped when bpf() is refused or kern_verdicts is missing.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
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

/* The line that says why a load failed (object-specific names cut). */
static void reason_of(const char *msg, char *text, size_t size)
{
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
	snprintf(text, size, "%.*s", (int)strcspn(p, "\n"), p);
}

static void reason_add(const char *text, const char *example)
{
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

/* ---- verdicts, uebpf's and the kernel's ---- */

struct verdict {
	size_t blob;
	char prog[64];
	int type;
	int uerr, kerr;		/* 0: loaded; kerr 1000: the kernel gave no answer */
	char uwhy[200], kwhy[200];
};
static struct verdict *verdicts;
static size_t nverdicts;

static void verdict_add(size_t blob, const char *prog, int type, int err, const char *why)
{
	struct verdict *n = realloc(verdicts, (nverdicts + 1) * sizeof(*n));
	if (!n)
		return;
	verdicts = n;
	struct verdict *v = &verdicts[nverdicts++];
	memset(v, 0, sizeof(*v));
	v->blob = blob, v->type = type, v->uerr = err, v->kerr = 1000;
	snprintf(v->prog, sizeof(v->prog), "%s", prog);
	snprintf(v->uwhy, sizeof(v->uwhy), "%s", why);
}

/* Issue 5's program types: uebpf must accept every one of these the kernel accepts. */
static bool in_scope(int type)
{
	switch (type) {
	case BPF_PROG_TYPE_XDP: case BPF_PROG_TYPE_SOCKET_FILTER: case BPF_PROG_TYPE_SCHED_CLS:
	case BPF_PROG_TYPE_SCHED_ACT: case BPF_PROG_TYPE_TRACEPOINT: case BPF_PROG_TYPE_KPROBE:
	case BPF_PROG_TYPE_PERF_EVENT:
		return true;
	default:
		return false;
	}
}

/* Writes every blob to a private directory and runs kern_verdicts on them all; its output
 * is "V <blob> <prog> <type> <errno> <why>" per program. Returns 0, or 1 to skip. */
static int kernel_verdicts(void)
{
	const char *b = getenv("BUILD");
	char dir[] = "/tmp/uebpf-elf-real-XXXXXX", tool[512], path[600];
	size_t cap = 1024, len;

	snprintf(tool, sizeof(tool), "%s/tests/kern_verdicts", b && *b ? b : "build");
	if (access(tool, X_OK) || !mkdtemp(dir))
		return printf("kernel comparison skipped: %s not built\n", tool), 1;
	char *cmd = malloc(cap);
	len = cmd ? (size_t)snprintf(cmd, cap, "%s", tool) : 0;
	for (size_t i = 0; cmd && i < nblobs; i++) {
		snprintf(path, sizeof(path), "%s/%zu.o", dir, i);
		FILE *f = fopen(path, "w");
		if (f)
			fwrite(blobs[i].buf, 1, blobs[i].size, f), fclose(f);
		if (len + strlen(path) + sizeof(blobs[i].name) + 8 > cap) {
			char *n = realloc(cmd, cap *= 2);
			if (!n)
				free(cmd);
			cmd = n;
		}
		if (cmd)	/* blob names have no spaces or quotes (file names of packages) */
			len += (size_t)snprintf(cmd + len, cap - len, " %s '%s'", path, blobs[i].name);
	}
	FILE *p = cmd ? popen(cmd, "r") : NULL;
	char line[1024];
	while (p && fgets(line, sizeof(line), p)) {
		char blob[128], prog[64];
		int type, err, n = 0;
		if (sscanf(line, "V %127s %63s %d %d %n", blob, prog, &type, &err, &n) != 4)
			continue;
		for (size_t i = 0; i < nverdicts; i++)
			if (!strcmp(verdicts[i].prog, prog) && !strcmp(blobs[verdicts[i].blob].name, blob)) {
				verdicts[i].kerr = err;
				snprintf(verdicts[i].kwhy, sizeof(verdicts[i].kwhy), "%.*s",
					 (int)strcspn(line + n, "\n"), line + n);
			}
	}
	int st = p ? pclose(p) : -1;
	for (size_t i = 0; i < nblobs; i++) {
		snprintf(path, sizeof(path), "%s/%zu.o", dir, i);
		unlink(path);
	}
	rmdir(dir);
	free(cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) == 2)
		return printf("kernel comparison skipped: bpf() refused\n"), 1;
	return 0;
}

static void compare_with_kernel(void)
{
	int both_ok = 0, both_no = 0, only_u = 0, only_k = 0, none = 0, missing = 0;

	if (kernel_verdicts())
		return;
	for (size_t i = 0; i < nverdicts; i++) {
		const struct verdict *v = &verdicts[i];
		if (v->kerr == 1000)
			none++;
		else if (!v->uerr && !v->kerr)
			both_ok++;
		else if (v->uerr && v->kerr)
			both_no++;
		else if (v->uerr)
			only_u++;
		else
			only_k++;
	}
	printf("verdicts vs the kernel: both accept %d, both refuse %d, only uebpf refuses %d, "
	       "only the kernel refuses %d, no kernel answer %d\n", both_ok, both_no, only_u, only_k, none);
	for (size_t i = 0; i < nverdicts; i++) {
		const struct verdict *v = &verdicts[i];
		bool scope = in_scope(v->type);
		if (v->kerr == 1000 || !v->uerr == !v->kerr)
			continue;
		if (v->uerr)
			printf("  only uebpf refuses%s %s:%s (type %d): %s\n", scope ? " [issue 5]" : "",
			       blobs[v->blob].name, v->prog, v->type, v->uwhy);
		else
			printf("  only the kernel refuses %s:%s (type %d): %s\n", blobs[v->blob].name, v->prog,
			       v->type, v->kwhy);
		missing += scope && v->uerr;
	}
	UT_CHECK(missing == 0, "%d XDP/socket/tc/tracepoint/kprobe/perf_event programs the kernel accepts "
		 "are refused by uebpf (listed above)", missing);
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
			char why[200] = "";
			if (err) {
				reason_of(elf_msgs, why, sizeof(why));
				reason_add(why, ex);
			}
			verdict_add(i, bpf_program__name(want), bpf_program__type(want), err, why);
			bpf_object__close(obj);
		}
	}
	printf("real objects: opened %d/%zu objects, loaded %d/%d programs\n", opened, nblobs, loaded, progs);
	for (int i = 0; i < nreasons; i++)
		printf("  %3d x %s  (e.g. %s)\n", reasons[i].count, reasons[i].text, reasons[i].example);
	UT_CHECK_EQ(opened, nblobs);
	compare_with_kernel();
}
