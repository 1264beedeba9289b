/*
 * fuzz_prog_pin: opening pinned program files (src/api/prog_pin.c) whose bytes are damaged.
 *
 * At start the harness pins three real programs and keeps each file's bytes as a template:
 * a socket filter using an array and a hash map (pinned beside it, PATH.maps/NAME), an XDP
 * program that needs its expected attach type (BPF_XDP_DEVMAP) with a non-GPL licence, and
 * a program with a bpf-to-bpf call and a map value load. An input's first byte picks a
 * template, and the rest is a list of edits (u32 offset, u8 length, bytes: fz_patched_template
 * in fuzz.h); a first byte past the templates takes the rest of the input whole as the file.
 *
 * The file goes to the pin root and BPF_OBJ_GET opens it. Either it is refused, with -errno,
 * a message that names the file, the file left as it was and no fd left open; or the
 * program loads again (the verifier checked it, whatever the file said) and then a test run
 * of it must come back, and closing it must leave no fd behind.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <uebpf/uebpf.h>
#include "fuzz.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
						  .off = (o), .imm = (i) })
#define NTMPL 3

static struct fz_tmpl tmpls[NTMPL];
static char path[512];

/* Socket filter: counts[0] += 1 (array), seen[0] = 7 (hash); returns 1. */
static int prog_with_maps(void)
{
	int counts = bpf_map_create(BPF_MAP_TYPE_ARRAY, "counts", 4, 8, 1, NULL);
	int seen = bpf_map_create(BPF_MAP_TYPE_HASH, "seen", 4, 8, 4, NULL);
	struct bpf_insn p[] = {
		INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),
		INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -16, 7),
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, counts),
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 11, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD),
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, seen),
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -16),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	int fd = counts >= 0 && seen >= 0
		 ? bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "counter", "GPL", p, 20, NULL) : -1;
	close(counts), close(seen);	/* the program holds them */
	return fd;
}

/* XDP: r0 = ctx->egress_ifindex, readable only with BPF_XDP_DEVMAP. */
static int prog_with_attach_type(void)
{
	struct bpf_insn p[] = {
		INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_1, 20, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_XDP_DEVMAP);
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "devmap", "Proprietary", p, 2, &o);
}

/* XDP: calls a function that reads word 1 of an array's value through a map value load. */
static int prog_with_call(void)
{
	int arr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vals", 4, 16, 1, NULL);
	struct bpf_insn p[] = {
		INSN(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_0, 0, 0, 2),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_VALUE, 0, arr),
		INSN(0, 0, 0, 0, 8),
		INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_1, 0, 0),
		INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_0, 0, 0, 1),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	int fd = arr >= 0 ? bpf_prog_load(BPF_PROG_TYPE_XDP, "caller", "GPL", p, 8, NULL) : -1;
	close(arr);
	return fd;
}

static void test_run(int fd)
{
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));

	bpf_prog_test_run_opts(fd, &o);	/* any answer; it must come back */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int (*make[NTMPL])(void) = { prog_with_maps, prog_with_attach_type, prog_with_call };
	const char *root = getenv("UEBPF_PIN_ROOT");

	if (!root)	/* map memory lives in the pin root's file system: set it first */
		fuzz_fail("set UEBPF_PIN_ROOT to a scratch directory (scripts/fuzz.sh does)");
	snprintf(path, sizeof(path), "/sys/fs/bpf/fz-prog-%d", getpid());
	for (int i = 0; i < NTMPL; i++) {
		char at[600], file[600];
		int fd = make[i]();
		/* The templates stay pinned (with their maps) while the target runs: inputs
		 * name their maps by these paths. */
		snprintf(at, sizeof(at), "/sys/fs/bpf/fz-prog-tmpl-%d-%d", getpid(), i);
		snprintf(file, sizeof(file), "%s/fz-prog-tmpl-%d-%d", root, getpid(), i);
		if (fd < 0 || bpf_obj_pin(fd, at) || !(tmpls[i].buf = fuzz_slurp(file, &tmpls[i].size)))
			fuzz_fail("template %d: %s", i, uebpf_last_error());
		close(fd);
		/* Opened and run once here: what the library opens once, on first use (the
		 * trace file, per-CPU state), is not an fd an input left behind. */
		fd = bpf_obj_get(at);
		if (fd < 0)
			fuzz_fail("template %d does not open: %s", i, uebpf_last_error());
		test_run(fd);
		close(fd);
	}
	return 0;
}

/* Open fds, once closed objects are released: close() only marks their fds (it must stay
 * async-signal-safe); the next command that sweeps the fd table, as get_next_id does,
 * releases them (src/api/obj.c). */
static int count_fds(void)
{
	uint32_t id;

	bpf_prog_get_next_id(0, &id);
	return fuzz_count_fds();
}

static void try(const uint8_t *f, size_t n)
{
	char file[600];
	const char *root = getenv("UEBPF_PIN_ROOT");

	snprintf(file, sizeof(file), "%s/%s", root, path + strlen("/sys/fs/bpf/"));
	int w = open(file, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (w < 0 || write(w, f, n) != (ssize_t)n)
		fuzz_fail("cannot write %s", file);
	close(w);
	int before = count_fds();
	errno = 0;
	int fd = bpf_obj_get(path);
	if (fd < 0) {
		size_t n2 = 0;
		uint8_t *after = fuzz_slurp(file, &n2);
		if (errno <= 0 || fd != -errno)
			fuzz_fail("refused with rc %d, errno %d", fd, errno);
		if (!strstr(uebpf_last_error(), file) && !strstr(uebpf_last_error(), path))
			fuzz_fail("the refusal does not name the file: '%s'", uebpf_last_error());
		if (!after || n2 != n || memcmp(after, f, n))
			fuzz_fail("a refused file was changed");
		free(after);
	} else {
		test_run(fd);
		close(fd);
	}
	if (count_fds() != before)
		fuzz_fail("opening the file left an fd behind (%s)", fd < 0 ? "refused" : "opened");
	unlink(file);
}

static void write_seeds(const char *dir)
{
	for (unsigned t = 0; t < NTMPL; t++) {
		/* the template unchanged, and with its version word set to 1 */
		uint8_t same[] = { (uint8_t)t }, v1[] = { (uint8_t)t, 8, 0, 0, 0, 1, 1 };
		char p[600];
		snprintf(p, sizeof(p), "%s/tmpl-%u", dir, t);
		FILE *fp = fopen(p, "wb");
		if (fp)
			fwrite(same, 1, sizeof(same), fp), fclose(fp);
		snprintf(p, sizeof(p), "%s/tmpl-%u-v1", dir, t);
		fp = fopen(p, "wb");
		if (fp)
			fwrite(v1, 1, sizeof(v1), fp), fclose(fp);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int seeded;

	if (!seeded++ && getenv("UEBPF_FUZZ_SEEDS")) {
		write_seeds(getenv("UEBPF_FUZZ_SEEDS"));
		exit(0);
	}
	fz_patched_template(data, size, tmpls, NTMPL, try);
	return 0;
}
