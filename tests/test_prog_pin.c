/*
 * Pinned programs (src/api/prog_pin.c): BPF_OBJ_PIN of a program fd writes a file that
 * BPF_OBJ_GET loads again through the verifier, with the program's maps opened from their
 * pins (PATH.maps/NAME, made beside the program). Expected values come from the program
 * below, reasoned next to each check: it adds 1 to counts[0] and stores 7 at seen[0].
 * A damaged file is refused with EINVAL and a reason; a file the caller may not open, EACCES.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <uebpf/uebpf.h>
#define PIN_ROOT_TAG "progpin"
#include "pin_root.h"
#include "ut.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
						  .off = (o), .imm = (i) })
#define LD_MAP(d, fd) INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), INSN(0, 0, 0, 0, 0)

struct fixture {
	int counts, seen, prog;
};

/* counts: array of one u64 (the run counter); seen: hash u32 -> u64. */
static int make(struct fixture *f)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo);
	f->counts = bpf_map_create(BPF_MAP_TYPE_ARRAY, "counts", 4, 8, 1, &mo);
	f->seen = bpf_map_create(BPF_MAP_TYPE_HASH, "seen", 4, 8, 4, &mo);
	if (f->counts < 0 || f->seen < 0)
		return -1;
	struct bpf_insn insns[] = {
		INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),	/* key = 0 */
		INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -16, 7),	/* value = 7 */
		LD_MAP(BPF_REG_1, f->counts),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 11, 0),	/* NULL: to exit, r0 = 0 */
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD),
		LD_MAP(BPF_REG_1, f->seen),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -16),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	f->prog = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "counter", "GPL", insns,
				sizeof(insns) / sizeof(insns[0]), NULL);
	return f->prog < 0 ? -1 : 0;
}

static void unmake(struct fixture *f)
{
	close(f->prog), close(f->counts), close(f->seen);
}

/* One test run: the program's return value (1 when it counted), or -1. */
static int run(int prog)
{
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));

	return bpf_prog_test_run_opts(prog, &o) ? -1 : (int)o.retval;
}

static uint64_t count(int map)
{
	uint32_t k = 0;
	uint64_t v = ~0ull;

	bpf_map_lookup_elem(map, &k, &v);
	return v;
}

static void tag_of(int prog, uint8_t tag[BPF_TAG_SIZE])
{
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);

	memset(tag, 0, BPF_TAG_SIZE);
	if (!bpf_obj_get_info_by_fd(prog, &info, &len))
		memcpy(tag, info.tag, BPF_TAG_SIZE);
}

static void in_root(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", root, name);
}

UT_TEST(pin_get_same_and_forked_process)
{
	struct fixture f;
	char file[160];
	struct stat st;
	uint8_t t1[BPF_TAG_SIZE], t2[BPF_TAG_SIZE];

	UT_CHECK(root[0] && !make(&f), "setup: %s", strerror(errno));
	if (!root[0] || f.prog < 0)
		return;
	UT_CHECK(!bpf_obj_pin(f.prog, "/sys/fs/bpf/counter"), "pin: %s", uebpf_last_error());
	in_root(file, sizeof(file), "counter");
	UT_CHECK(!stat(file, &st) && (st.st_mode & 0777) == 0600, "pin file mode 0600");
	in_root(file, sizeof(file), "counter.maps/counts");
	UT_CHECK(!stat(file, &st), "counts pinned beside the program");
	in_root(file, sizeof(file), "counter.maps/seen");
	UT_CHECK(!stat(file, &st), "seen pinned beside the program");
	/* As the kernel: pinning again at a taken path is EEXIST. */
	UT_CHECK(bpf_obj_pin(f.prog, "/sys/fs/bpf/counter") && errno == EEXIST, "re-pin EEXIST");

	int again = bpf_obj_get("/sys/fs/bpf/counter");
	UT_CHECK(again >= 0, "get: %s", uebpf_last_error());
	/* Two runs, one per fd, both counting in the one map: counts[0] == 2. */
	UT_CHECK_EQ(run(f.prog), 1);
	UT_CHECK_EQ(run(again), 1);
	UT_CHECK_EQ(count(f.counts), 2);
	tag_of(f.prog, t1), tag_of(again, t2);
	UT_CHECK(!memcmp(t1, t2, sizeof(t1)), "same tag for the re-opened program");

	/* Another process: gets the program, runs it once; counts[0] becomes 3. */
	pid_t pid = fork();
	if (pid == 0) {
		int fd = bpf_obj_get("/sys/fs/bpf/counter");
		_exit(fd >= 0 && run(fd) == 1 ? 0 : 1);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	UT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", status);
	UT_CHECK_EQ(count(f.counts), 3);
	uint32_t k = 0;
	uint64_t v = 0;
	UT_CHECK(!bpf_map_lookup_elem(f.seen, &k, &v) && v == 7, "seen[0] == 7: %llu",
		 (unsigned long long)v);
	close(again);
	unmake(&f);
}

/* Maps this process pinned already are named by those pins, not pinned again. */
UT_TEST(maps_pinned_first_keep_their_pins)
{
	struct fixture f;
	char file[160];
	struct stat st;

	UT_CHECK(root[0] && !make(&f), "setup");
	if (!root[0] || f.prog < 0)
		return;
	UT_CHECK(!bpf_obj_pin(f.counts, "/sys/fs/bpf/mine_counts"), "pin counts");
	UT_CHECK(!bpf_obj_pin(f.prog, "/sys/fs/bpf/mine"), "pin: %s", uebpf_last_error());
	in_root(file, sizeof(file), "mine.maps/counts");
	UT_CHECK(stat(file, &st) && errno == ENOENT, "counts not pinned again");
	in_root(file, sizeof(file), "mine.maps/seen");
	UT_CHECK(!stat(file, &st), "seen pinned beside the program");
	/* With the maps' first pin gone, the program cannot load: EINVAL naming the map. */
	in_root(file, sizeof(file), "mine_counts");
	UT_CHECK(!unlink(file), "unpin counts");
	errno = 0;
	UT_CHECK(bpf_obj_get("/sys/fs/bpf/mine") < 0 && errno == EINVAL, "errno %d", errno);
	UT_CHECK_STR(uebpf_last_error(), "mine_counts");
	unmake(&f);
}

static int read_all(const char *path, unsigned char **buf, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) || !(*buf = malloc((size_t)st.st_size + 1)))
		return -1;
	*len = (size_t)read(fd, *buf, (size_t)st.st_size);
	close(fd);
	return *len == (size_t)st.st_size ? 0 : -1;
}

/* Writes a damaged copy under the root and expects BPF_OBJ_GET to refuse it. */
static void expect_refused(const char *name, const unsigned char *buf, size_t len, int want,
			   const char *why)
{
	char file[160], user[160];
	int fd;

	in_root(file, sizeof(file), name);
	snprintf(user, sizeof(user), "/sys/fs/bpf/%s", name);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	UT_CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len, "write %s", name);
	close(fd);
	errno = 0;
	int got = bpf_obj_get(user);
	UT_CHECK(got < 0 && errno == want, "%s: got %d errno %d (want %d)", name, got, errno, want);
	UT_CHECK_STR(uebpf_last_error(), why);
	if (got >= 0)
		close(got);
}

UT_TEST(damaged_files_refused)
{
	struct fixture f;
	unsigned char *buf = NULL;
	size_t len = 0;
	char file[160];

	UT_CHECK(root[0] && !make(&f), "setup");
	if (!root[0] || f.prog < 0)
		return;
	UT_CHECK(!bpf_obj_pin(f.prog, "/sys/fs/bpf/good"), "pin: %s", uebpf_last_error());
	in_root(file, sizeof(file), "good");
	UT_CHECK(!read_all(file, &buf, &len) && len > 64, "read pin");
	if (!buf || len <= 64)
		return;
	expect_refused("trunc", buf, len - 1, EINVAL, "does not match its counts");
	expect_refused("hdr-only", buf, 40, EINVAL, "shorter than its header");

	/* insn_cnt is the header's 4th u32 after the magic (magic, version, hdr_size, type). */
	uint32_t cnt;
	memcpy(&cnt, buf + 20, 4);
	cnt++;
	memcpy(buf + 20, &cnt, 4);
	expect_refused("count", buf, len, EINVAL, "does not match its counts");
	cnt = 0;
	memcpy(buf + 20, &cnt, 4);
	expect_refused("count0", buf, len, EINVAL, "a count out of range");
	free(buf);

	/* A map path that is not there: "good.maps/counts" in the table becomes ".../countz". */
	UT_CHECK(!read_all(file, &buf, &len), "read pin");
	unsigned char *at = memmem(buf, len, "good.maps/counts", 16);
	UT_CHECK(at != NULL, "map path in the file");
	if (at) {
		at[15] = 'z';
		expect_refused("badmap", buf, len, EINVAL, "good.maps/countz");
		/* A "map" that is a pinned program (here the good program): refused, no recursion. */
		memcpy(at, "good\0", 5);
		/* "good" is shorter: the rest of the old string stays after its NUL, harmless. */
		expect_refused("progmap", buf, len, EINVAL, "not a valid pinned program");
	}
	/* An instruction naming map 9 of a table of 2. */
	struct bpf_insn *in = (struct bpf_insn *)(buf + 64);
	for (int i = 0; i < 20; i++)
		if (in[i].code == (BPF_LD | BPF_DW | BPF_IMM)) {
			in[i].imm = 9;
			break;
		}
	if (at)
		memcpy(at, "good.maps/counts", 16);
	expect_refused("badidx", buf, len, EINVAL, "names a map not in the table");
	free(buf);
	unmake(&f);
}

static int gpl_of(int prog)
{
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(prog, &info, &len) ? -1 : (int)info.gpl_compatible;
}

/* XDP, r0 = ctx->egress_ifindex: the verifier allows that read only with the expected
 * attach type BPF_XDP_DEVMAP (as the kernel's xdp_is_valid_access). */
static int load_devmap_prog(uint32_t attach, const char *license)
{
	struct bpf_insn insns[] = {
		INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_1, 20, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = attach);
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "devmap", license, insns, 2, &o);
}

/*
 * A pinned program keeps its expected attach type (a program that needs it loads again)
 * and its licence's GPL compatibility. A version 1 file (no such fields: the 8 bytes at
 * the header's end missing) still opens, as GPL with no attach type, as it was loaded then.
 */
UT_TEST(attach_type_and_licence_kept)
{
	int need = load_devmap_prog(BPF_XDP_DEVMAP, "Dual BSD/GPL");
	int prop = load_devmap_prog(BPF_XDP_DEVMAP, "Proprietary");

	UT_CHECK(root[0] && need >= 0 && prop >= 0, "setup: %s", uebpf_last_error());
	UT_CHECK(load_devmap_prog(0, "GPL") < 0, "egress_ifindex read without the attach type");
	if (!root[0] || need < 0 || prop < 0)
		return;
	UT_CHECK_EQ(gpl_of(need), 1);
	UT_CHECK_EQ(gpl_of(prop), 0);
	UT_CHECK(!bpf_obj_pin(need, "/sys/fs/bpf/devmap"), "pin: %s", uebpf_last_error());
	UT_CHECK(!bpf_obj_pin(prop, "/sys/fs/bpf/prop"), "pin: %s", uebpf_last_error());
	int a = bpf_obj_get("/sys/fs/bpf/devmap"), b = bpf_obj_get("/sys/fs/bpf/prop");
	UT_CHECK(a >= 0 && b >= 0, "get: %s", uebpf_last_error());
	UT_CHECK_EQ(gpl_of(a), 1);
	UT_CHECK_EQ(gpl_of(b), 0);

	/* The same file as version 1: header without its last 8 bytes, version 1, size 56. */
	char file[160];
	unsigned char *buf = NULL;
	size_t len = 0;
	in_root(file, sizeof(file), "prop");
	UT_CHECK(!read_all(file, &buf, &len) && len > 64, "read pin");
	if (buf && len > 64) {
		uint32_t v1 = 1, v1size = 56;
		memcpy(buf + 8, &v1, 4);
		memcpy(buf + 12, &v1size, 4);
		memmove(buf + 56, buf + 64, len - 64);
		/* Version 1 had no attach type: this program no longer loads (the
		 * verifier's EACCES); reading ingress_ifindex (offset 12) instead, it loads,
		 * and as GPL (what version 1 loaded every program as). */
		expect_refused("v1", buf, len - 8, EACCES, "invalid bpf_context access");
		struct bpf_insn *in = (struct bpf_insn *)(buf + 56);
		in->off = 12;
		in_root(file, sizeof(file), "v1ok");
		int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		UT_CHECK(fd >= 0 && write(fd, buf, len - 8) == (ssize_t)(len - 8), "write v1ok");
		close(fd);
		int c = bpf_obj_get("/sys/fs/bpf/v1ok");
		UT_CHECK(c >= 0, "version 1 file: %s", uebpf_last_error());
		UT_CHECK_EQ(gpl_of(c), 1);
		if (c >= 0)
			close(c);
	}
	free(buf);
	close(a), close(b), close(need), close(prop);
}

UT_TEST(permissions_as_for_maps)
{
	struct fixture f;
	char file[160];
	struct stat st;

	UT_CHECK(root[0] && !make(&f), "setup");
	if (!root[0] || f.prog < 0)
		return;
	UT_CHECK(!uebpf_obj_pin_mode(f.prog, "/sys/fs/bpf/mode640", 0640), "pin mode: %s",
		 uebpf_last_error());
	in_root(file, sizeof(file), "mode640");
	UT_CHECK(!stat(file, &st) && (st.st_mode & 0777) == 0640, "mode 0640: %o",
		 (unsigned)st.st_mode);
	UT_CHECK(uebpf_obj_pin_mode(f.prog, "/sys/fs/bpf/bad", 01777) == -EINVAL, "mode bits");
	if (geteuid() != 0) {
		unmake(&f);
		ut_skip("not root: cannot switch to another user");
		return;
	}
	/* Another user may not open a 0600 pin of root's (the directory lets them look). */
	UT_CHECK(!chmod(root, 0755), "chmod root");
	UT_CHECK(!bpf_obj_pin(f.prog, "/sys/fs/bpf/private"), "pin");
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		int fd = bpf_obj_get("/sys/fs/bpf/private");
		_exit(fd < 0 && errno == EACCES ? 0 : 1);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	UT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody gets EACCES: %d", status);
	chmod(root, 0700);
	unmake(&f);
}

/* The libbpf calls: a program from an ELF object (compiled here; skipped without clang). */
static const char obj_src[] =
	"#include <linux/bpf.h>\n"
	"#define SEC(n) __attribute__((section(n), used))\n"
	"static void *(*lookup)(void *, const void *) = (void *)1;\n"
	"struct { int (*type)[BPF_MAP_TYPE_ARRAY]; int (*max_entries)[1]; unsigned *key;\n"
	"         unsigned long long *value; } hits SEC(\".maps\"), more SEC(\".maps\");\n"
	"SEC(\"socket\") int hit(void *ctx) {\n"
	"	unsigned k = 0; unsigned long long *a = lookup(&hits, &k), *b = lookup(&more, &k);\n"
	"	if (!a || !b) return 0;\n"
	"	__sync_fetch_and_add(a, 1); __sync_fetch_and_add(b, 2); return 1; }\n"
	"char LICENSE[] SEC(\"license\") = \"GPL\";\n";

UT_TEST(bpf_program_pin_unpin)
{
	char dir[] = "/tmp/uebpf-progpin-XXXXXX", cmd[512], c[96], o[96];
	uint8_t t1[BPF_TAG_SIZE], t2[BPF_TAG_SIZE];

	if (!mkdtemp(dir)) {
		ut_skip("mkdtemp");
		return;
	}
	snprintf(c, sizeof(c), "%s/p.c", dir);
	snprintf(o, sizeof(o), "%s/p.o", dir);
	FILE *f = fopen(c, "w");
	if (f)
		fputs(obj_src, f), fclose(f);
	snprintf(cmd, sizeof(cmd), "clang -O2 -g -target bpf -I/usr/include/$(cc -print-multiarch) "
		 "-c %s -o %s 2>/dev/null", c, o);
	if (!f || system(cmd)) {
		ut_skip("clang cannot compile BPF here");
		goto out;
	}
	struct bpf_object *obj = bpf_object__open_file(o, NULL);
	UT_CHECK(obj && !bpf_object__load(obj), "open/load: %s", strerror(errno));
	struct bpf_program *prog = obj ? bpf_object__find_program_by_name(obj, "hit") : NULL;
	UT_CHECK(prog != NULL, "program 'hit'");
	if (prog) {
		UT_CHECK(!bpf_program__pin(prog, "/sys/fs/bpf/hit"), "bpf_program__pin: %s",
			 uebpf_last_error());
		int fd = bpf_obj_get("/sys/fs/bpf/hit");
		UT_CHECK(fd >= 0, "get: %s", uebpf_last_error());
		/* One run of each: hits[0] == 2, more[0] == 4 in the object's own maps. */
		UT_CHECK_EQ(run(bpf_program__fd(prog)), 1);
		UT_CHECK_EQ(run(fd), 1);
		UT_CHECK_EQ(count(bpf_object__find_map_fd_by_name(obj, "hits")), 2);
		UT_CHECK_EQ(count(bpf_object__find_map_fd_by_name(obj, "more")), 4);
		tag_of(bpf_program__fd(prog), t1), tag_of(fd, t2);
		UT_CHECK(!memcmp(t1, t2, sizeof(t1)), "same tag");
		UT_CHECK(!bpf_program__unpin(prog, "/sys/fs/bpf/hit"), "unpin");
		char file[160];
		in_root(file, sizeof(file), "hit");
		UT_CHECK(access(file, F_OK) && errno == ENOENT, "unpinned");
		if (fd >= 0)
			close(fd);
	}
	bpf_object__close(obj);
out:
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd)) {}
}
