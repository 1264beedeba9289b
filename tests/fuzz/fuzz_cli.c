/*
 * fuzz_cli: the uebpf command line, called in-process.
 *
 * tools/cli/main.c is compiled a second time with its main() renamed uebpf_cli_main
 * (tests/fuzz/fuzz.mk), so each input is one command line: arguments separated by NUL
 * bytes (at most 24, 256 bytes each). The CLI must answer every line with output or an
 * error and an exit status of 0, 1 or 2, never a crash or a sanitizer report.
 *
 * The CLI reads and writes files and pins, so it runs in a scratch directory that is also
 * the pin root ($UEBPF_PIN_ROOT/cli): an argument's '/' becomes '_', so every path names
 * something in there (pins under /sys/fs/bpf go to the pin root anyway). The directory
 * holds prog.s, prog.bin, mem.bin and a pinned hash map "m"; whatever a command leaves
 * is removed after it. Standard input is /dev/null. Lines that would only wait are left
 * out: "prog tracelog" without --no-follow (it follows the trace pipe until a signal) and
 * "map event_pipe" (it reads a ring buffer until a signal or its count of records);
 * numbers above 65536 become 65536 (repeat counts, map sizes: the fuzzer looks for bugs,
 * not for the machine's limits), while numbers too big for 64 bits stay, for the parsers.
 *
 * The CLI keeps a little state between runs (a cache of pins, the JSON writer's depth);
 * a crash that needs an earlier input will not replay alone: run the corpus in order.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "fuzz.h"

int uebpf_cli_main(int argc, char **argv);
extern int cli_json, cli_pretty;

#define MAX_ARGS	24
#define MAX_ARG		256

static char dir[512];
static const char *const keep[] = { ".", "..", "prog.s", "prog.bin", "mem.bin", "m", NULL };

static void put_file(const char *name, const void *b, size_t n)
{
	int fd = open(name, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, b, n) != (ssize_t)n)
		fuzz_fail("setup: cannot write %s/%s", dir, name);
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char text[] = "r0 = 0\nr1 = 5\nloop:\nr0 += r1\nr1 -= 1\n"
				   "if r1 != 0 goto loop\nexit\n";
	static const struct bpf_insn bin[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_B, .dst_reg = 0, .src_reg = 1 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	const char *root = getenv("UEBPF_PIN_ROOT");

	if (!root)
		fuzz_fail("set UEBPF_PIN_ROOT to a scratch directory (scripts/fuzz.sh does)");
	snprintf(dir, sizeof(dir), "%s/cli", root);
	mkdir(dir, 0700);
	if (chdir(dir))
		fuzz_fail("cannot enter %s", dir);
	setenv("UEBPF_PIN_ROOT", dir, 1);
	int null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, 0) < 0)
		fuzz_fail("cannot redirect stdin");
	close(null);
	put_file("prog.s", text, sizeof(text) - 1);
	put_file("prog.bin", bin, sizeof(bin));
	put_file("mem.bin", "\x2a\x01\x02\x03", 4);
	int m = bpf_map_create(BPF_MAP_TYPE_HASH, "m", 4, 8, 16, NULL);
	uint32_t k = 1;
	uint64_t v = 42;
	unlink("m");
	if (m < 0 || bpf_map_update_elem(m, &k, &v, BPF_ANY) || bpf_obj_pin(m, "m"))
		fuzz_fail("setup: pinned map: %s", uebpf_last_error());
	return 0;	/* m stays open: the pin is the map */
}

static int kept(const char *name)
{
	for (const char *const *k = keep; *k; k++)
		if (!strcmp(name, *k))
			return 1;
	return 0;
}

static void remove_tree(int at, const char *name)
{
	if (!unlinkat(at, name, 0))
		return;
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	for (struct dirent *e; d && (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_tree(fd, e->d_name);
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	unlinkat(at, name, AT_REMOVEDIR);
}

/* Everything a command left in the scratch directory goes. */
static void clean(void)
{
	DIR *d = opendir(".");

	for (struct dirent *e; d && (e = readdir(d));)
		if (!kept(e->d_name))
			remove_tree(dirfd(d), e->d_name);
	if (d)
		closedir(d);
}

static int is_prefix(const char *word, const char *of)
{
	size_t n = strlen(word);
	return n && n <= strlen(of) && !strncmp(word, of, n);
}

/* Too big a number becomes 65536 (see the top); past 64 bits it stays as typed. */
static void cap_number(char *a)
{
	char *end;
	int hex = a[0] == '0' && (a[1] == 'x' || a[1] == 'X');

	if (!*a || (!hex && (*a < '0' || *a > '9')))
		return;
	errno = 0;
	unsigned long long v = strtoull(a, &end, 0);
	if (!*end && !errno && v > 65536)
		snprintf(a, MAX_ARG, "65536");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char args[MAX_ARGS][MAX_ARG];
	char *argv[MAX_ARGS + 2];
	int argc = 1, follow = 0, no_follow = 0, pipe = 0;
	size_t at = 0;

	argv[0] = "uebpf";
	while (at < size && argc <= MAX_ARGS) {
		char *a = args[argc - 1];
		size_t n = 0;
		while (at < size && data[at] && n < MAX_ARG - 1)
			a[n++] = data[at] == '/' ? '_' : (char)data[at], at++;
		a[n] = '\0';
		at++;	/* the NUL (or the cut) */
		cap_number(a);
		follow |= is_prefix(a, "tracelog");
		pipe |= is_prefix(a, "event_pipe");
		no_follow |= !strcmp(a, "--no-follow") || !strcmp(a, "-n");
		argv[argc++] = a;
	}
	argv[argc] = NULL;
	if ((follow && !no_follow) || pipe)
		return 0;
	cli_json = cli_pretty = 0;
	int rc = uebpf_cli_main(argc, argv);
	fflush(stdout);
	if (rc < 0 || rc > 2)
		fuzz_fail("exit status %d (want 0, 1 or 2)", rc);
	clean();
	return 0;
}
