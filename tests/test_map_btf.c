/*
 * Maps that keep their BTF, BTF objects found by id, and program tags, differentially
 * against the running kernel (raw bpf(2), mapx.h): what bpf_obj_get_info_by_fd reports
 * for a map created with BTF (btf_id, btf_key_type_id, btf_value_type_id) and for its BTF
 * (struct bpf_btf_info), BPF_BTF_GET_FD_BY_ID once the BTF fd is closed, and a program's
 * tag and gpl_compatible. Ids differ between the sides; what is compared is that each side
 * reports its own consistently. A pinned uebpf map opened by another process still has its
 * BTF (no kernel counterpart: the kernel keeps it in memory). And dup() of a map or program
 * fd, which the kernel lets stand for the same object.
 */
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mapx.h"
#include "btf_build.h"
#define PIN_ROOT_TAG "mapbtf"
#include "pin_root.h"
#include "ut.h"

/* int key; struct val { int a; long b; } value: ids 1 (int), 2 (long), 3 (struct val). */
static const void *val_btf(struct bb *b, size_t *size)
{
	bb_init(b);
	uint32_t i = bb_int(b, "int", 4, BTF_INT_SIGNED);
	uint32_t l = bb_int(b, "long", 8, BTF_INT_SIGNED);
	bb_comp(b, BTF_KIND_STRUCT, "val", 16, 2, 0);
	bb_member(b, "a", i, 0, 0);
	bb_member(b, "b", l, 64, 0);
	return bb_finish(b, size);
}

static int btf_load(int side, const void *blob, size_t size)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.btf = MX_PTR(blob), a.btf_size = (uint32_t)size;
	return mx_sys(side, BPF_BTF_LOAD, &a, MX_END(btf_log_level));
}

static int btf_map(int side, int btf_fd, uint32_t key_id, uint32_t val_id)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_HASH, a.key_size = 4, a.value_size = 16, a.max_entries = 4;
	a.btf_fd = (uint32_t)btf_fd, a.btf_key_type_id = key_id, a.btf_value_type_id = val_id;
	memcpy(a.map_name, "btfmap", 7);
	return mx_sys(side, BPF_MAP_CREATE, &a, MX_END(map_extra));
}

static int info(int side, int fd, void *buf, uint32_t len)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd, a.info.info_len = len, a.info.info = MX_PTR(buf);
	return mx_sys(side, BPF_OBJ_GET_INFO_BY_FD, &a, MX_END(info));
}

static int btf_by_id(int side, uint32_t id)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.btf_id = id;
	return mx_sys(side, BPF_BTF_GET_FD_BY_ID, &a, MX_END(open_flags));
}

UT_TEST(map_info_reports_btf)
{
	MX_NEED_KERNEL();
	struct bb b;
	size_t size;
	const void *blob = val_btf(&b, &size);
	struct bpf_map_info mi[2];

	for (int s = 0; s < 2; s++) {
		int bfd = btf_load(s, blob, size);
		UT_CHECK(bfd >= 0, "%s: BTF_LOAD: %d", mx_side[s], bfd);
		int fd = btf_map(s, bfd, 1, 3);
		UT_CHECK(fd >= 0, "%s: create: %d", mx_side[s], fd);
		close(bfd);	/* the map keeps its BTF */
		memset(&mi[s], 0, sizeof(mi[s]));
		UT_CHECK_EQ(info(s, fd, &mi[s], sizeof(mi[s])), 0);
		UT_CHECK(mi[s].btf_id != 0, "%s: no btf_id", mx_side[s]);

		/* The map's BTF by id, after its last fd was closed. */
		int bfd2 = btf_by_id(s, mi[s].btf_id);
		UT_CHECK(bfd2 >= 0, "%s: BTF_GET_FD_BY_ID %u: %d", mx_side[s], mi[s].btf_id, bfd2);
		uint8_t raw[512] = { 0 };
		char name[16] = "x";
		struct bpf_btf_info bi = { .btf = MX_PTR(raw), .btf_size = sizeof(raw),
					   .name = MX_PTR(name), .name_len = sizeof(name) };
		UT_CHECK_EQ(info(s, bfd2, &bi, sizeof(bi)), 0);
		UT_CHECK_EQ(bi.id, mi[s].btf_id);
		UT_CHECK_EQ(bi.btf_size, size);
		UT_CHECK(!memcmp(raw, blob, size), "%s: BTF bytes differ", mx_side[s]);
		UT_CHECK_EQ(bi.name_len, 0);
		UT_CHECK_EQ(name[0], 0);
		UT_CHECK_EQ(bi.kernel_btf, 0);

		/* A short buffer gets what fits; the size is the whole. */
		memset(raw, 0, sizeof(raw));
		bi = (struct bpf_btf_info){ .btf = MX_PTR(raw), .btf_size = 8 };
		UT_CHECK_EQ(info(s, bfd2, &bi, sizeof(bi)), 0);
		UT_CHECK_EQ(bi.btf_size, size);
		UT_CHECK(!memcmp(raw, blob, 8) && !raw[8], "%s: short copy", mx_side[s]);
		/* A name pointer without a length, or the other way round: EINVAL. */
		bi = (struct bpf_btf_info){ .name = MX_PTR(name) };
		UT_CHECK_EQ(info(s, bfd2, &bi, sizeof(bi)), -EINVAL);
		close(bfd2);
		close(fd);
	}
	UT_CHECK_EQ(mi[MX_U].btf_key_type_id, mi[MX_K].btf_key_type_id);
	UT_CHECK_EQ(mi[MX_U].btf_value_type_id, mi[MX_K].btf_value_type_id);
	UT_CHECK_EQ(mi[MX_U].btf_key_type_id, 1);
	UT_CHECK_EQ(mi[MX_U].btf_value_type_id, 3);
}

UT_TEST(map_without_btf_has_no_btf_id)
{
	MX_NEED_KERNEL();
	for (int s = 0; s < 2; s++) {
		int fd = btf_map(s, 0, 0, 0);
		struct bpf_map_info mi = { 0 };
		UT_CHECK_EQ(info(s, fd, &mi, sizeof(mi)), 0);
		UT_CHECK_EQ(mi.btf_id, 0);
		UT_CHECK_EQ(mi.btf_value_type_id, 0);
		close(fd);
	}
}

UT_TEST(btf_fd_by_unknown_id)
{
	MX_NEED_KERNEL();
	for (int s = 0; s < 2; s++) {
		UT_CHECK_EQ(btf_by_id(s, 0x7ffffff0u), -ENOENT);
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.btf_id = 1, a.open_flags = 0x80;
		UT_CHECK_EQ(mx_sys(s, BPF_BTF_GET_FD_BY_ID, &a, MX_END(open_flags)), -EINVAL);
	}
}

/* A child process opens the pin and reports what it sees of the map's BTF. */
static int child_check(const char *path, const void *blob, size_t size)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.pathname = MX_PTR(path);
	int fd = mx_sys(MX_U, BPF_OBJ_GET, &a, MX_END(file_flags));
	if (fd < 0)
		return 10;
	struct bpf_map_info mi = { 0 };
	if (info(MX_U, fd, &mi, sizeof(mi)) || !mi.btf_id || mi.btf_key_type_id != 1 ||
	    mi.btf_value_type_id != 3)
		return 11;
	int bfd = btf_by_id(MX_U, mi.btf_id);
	uint8_t raw[512];
	struct bpf_btf_info bi = { .btf = MX_PTR(raw), .btf_size = sizeof(raw) };
	if (bfd < 0 || info(MX_U, bfd, &bi, sizeof(bi)))
		return 12;
	return bi.btf_size == size && !memcmp(raw, blob, size) ? 0 : 13;
}

static int pin(int fd, const char *path)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.pathname = MX_PTR(path), a.bpf_fd = (uint32_t)fd;
	return mx_sys(MX_U, BPF_OBJ_PIN, &a, MX_END(file_flags));
}

UT_TEST(pinned_map_keeps_btf_across_processes)
{
	struct bb b;
	size_t size;
	const void *blob = val_btf(&b, &size);
	char path[128];

	if (!root[0]) {
		ut_skip("no pin root");
		return;
	}
	snprintf(path, sizeof(path), "%s/btfmap", root);
	int bfd = btf_load(MX_U, blob, size);
	int fd = btf_map(MX_U, bfd, 1, 3);
	close(bfd);
	UT_CHECK(fd >= 0, "create: %d", fd);
	UT_CHECK_EQ(pin(fd, path), 0);
	pid_t pid = fork();
	if (!pid)
		_exit(child_check(path, blob, size));
	int st = 0;
	waitpid(pid, &st, 0);
	UT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status 0x%x", st);

	/* A byte of the stored BTF changed: the open is refused (checksum), not trusted. */
	struct stat sb;
	UT_CHECK_EQ(stat(path, &sb), 0);
	FILE *f = fopen(path, "r+b");
	UT_CHECK(f != NULL, "open %s", path);
	long blob_off = (long)sb.st_size - 4096 - 4096;	/* the blob fits one page */
	uint8_t c;
	if (f && !fseek(f, blob_off + 30, SEEK_SET) && fread(&c, 1, 1, f) == 1) {
		c ^= 0x40;
		fseek(f, blob_off + 30, SEEK_SET);
		fwrite(&c, 1, 1, f);
	}
	if (f)
		fclose(f);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = MX_PTR(path);
	int fd2 = mx_sys(MX_U, BPF_OBJ_GET, &a, MX_END(file_flags));
	UT_CHECK_EQ(fd2, -EINVAL);
	UT_CHECK_STR(uebpf_last_error(), "BTF");
	if (fd2 >= 0)
		close(fd2);
	close(fd);
	unlink(path);
}

/* ---- program tags ---- */

static int prog_load(int side, const struct bpf_insn *insns, uint32_t n, const char *license)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER, a.insns = MX_PTR(insns), a.insn_cnt = n;
	a.license = MX_PTR(license);
	return mx_sys(side, BPF_PROG_LOAD, &a, sizeof(a));
}

static void check_tag(int line, struct bpf_insn *insns, uint32_t n, const char *license,
		      const int map_fd[2], int map_at, int val_at)
{
	struct bpf_prog_info pi[2];

	for (int s = 0; s < 2; s++) {
		if (map_at >= 0)
			insns[map_at].imm = map_fd[s];
		if (val_at >= 0)
			insns[val_at].imm = map_fd[s];
		int fd = prog_load(s, insns, n, license);
		if (fd < 0) {
			ut_fail(__FILE__, line, "%s: load: %d", mx_side[s], fd);
			return;
		}
		memset(&pi[s], 0, sizeof(pi[s]));
		if (info(s, fd, &pi[s], sizeof(pi[s])))
			ut_fail(__FILE__, line, "%s: info", mx_side[s]);
		close(fd);
	}
	if (memcmp(pi[0].tag, pi[1].tag, sizeof(pi[0].tag)))
		ut_fail(__FILE__, line, "DIVERGENCE tag: uebpf %016llx, kernel %016llx",
			(unsigned long long)be64toh(*(uint64_t *)pi[0].tag),
			(unsigned long long)be64toh(*(uint64_t *)pi[1].tag));
	if (pi[0].gpl_compatible != pi[1].gpl_compatible)
		ut_fail(__FILE__, line, "DIVERGENCE gpl_compatible (%s): uebpf %u, kernel %u",
			license, pi[0].gpl_compatible, pi[1].gpl_compatible);
}

UT_TEST(prog_tag_matches_kernel)
{
	MX_NEED_KERNEL();
	int mfd[2];
	for (int s = 0; s < 2; s++)
		mfd[s] = mx_create_one(s, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, 0);	/* direct value access: one element */
	struct bpf_insn plain[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 7 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	check_tag(__LINE__, plain, 2, "GPL", mfd, -1, -1);
	check_tag(__LINE__, plain, 2, "Dual BSD/GPL", mfd, -1, -1);
	check_tag(__LINE__, plain, 2, "Proprietary", mfd, -1, -1);
	check_tag(__LINE__, plain, 2, "GPL v3", mfd, -1, -1);
	/* Map fd and map value loads: their immediates (fd numbers differ between the sides,
	 * and the value offset in the second half) are not part of the tag. */
	struct bpf_insn maps[] = {
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD },
		{ 0 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 2, .src_reg = BPF_PSEUDO_MAP_VALUE },
		{ .imm = 4 },
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 0, .src_reg = 2 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	check_tag(__LINE__, maps, 6, "GPL", mfd, 0, 2);
	/* A plain 64-bit immediate load is hashed whole. */
	struct bpf_insn imm64[] = {
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 0, .imm = 0x1234 },
		{ .imm = 0x5678 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	check_tag(__LINE__, imm64, 3, "GPL", mfd, -1, -1);
	for (int s = 0; s < 2; s++)
		close(mfd[s]);
}

/* ---- dup() of a bpf fd: another fd for the same object, as the kernel's ---- */

UT_TEST(dup_fd_is_the_same_object)
{
	MX_NEED_KERNEL();
	for (int s = 0; s < 2; s++) {
		int fd = mx_create_one(s, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0, 0);
		int d1 = dup(fd), d2 = fcntl(fd, F_DUPFD_CLOEXEC, 200), d3 = dup2(fd, 300);
		UT_CHECK(d1 >= 0 && d2 >= 200 && d3 == 300, "%s: dup", mx_side[s]);
		struct bpf_map_info a = { 0 }, b = { 0 };
		UT_CHECK_EQ(info(s, fd, &a, sizeof(a)), 0);
		UT_CHECK_EQ(info(s, d1, &b, sizeof(b)), 0);
		UT_CHECK_EQ(b.id, a.id);
		/* An update through one fd is seen through the others, also once the
		 * original is closed. */
		uint32_t k = 1;
		uint64_t v = 0x1122334455667788ull, got = 0;
		union bpf_attr at;
		memset(&at, 0, sizeof(at));
		at.map_fd = (uint32_t)d2, at.key = MX_PTR(&k), at.value = MX_PTR(&v);
		UT_CHECK_EQ(mx_sys(s, BPF_MAP_UPDATE_ELEM, &at, MX_END(flags)), 0);
		close(fd);
		memset(&at, 0, sizeof(at));
		at.map_fd = (uint32_t)d3, at.key = MX_PTR(&k), at.value = MX_PTR(&got);
		UT_CHECK_EQ(mx_sys(s, BPF_MAP_LOOKUP_ELEM, &at, MX_END(flags)), 0);
		UT_CHECK_EQ(got, v);
		memset(&b, 0, sizeof(b));
		UT_CHECK_EQ(info(s, d3, &b, sizeof(b)), 0);
		UT_CHECK_EQ(b.id, a.id);
		close(d1), close(d2), close(d3);

		/* A program fd too. */
		struct bpf_insn ret[] = {
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		int p = prog_load(s, ret, 2, "GPL"), pd = dup(p);
		struct bpf_prog_info pa = { 0 }, pb = { 0 };
		UT_CHECK_EQ(info(s, p, &pa, sizeof(pa)), 0);
		UT_CHECK_EQ(info(s, pd, &pb, sizeof(pb)), 0);
		UT_CHECK_EQ(pb.id, pa.id);
		close(p), close(pd);
	}
}
