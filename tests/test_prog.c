/* Programs through the bpf() interface: load, map access from programs, test_run. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "ut.h"

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LD_MAP_FD(d, fd) I(BPF_LD | BPF_IMM | BPF_DW, d, BPF_PSEUDO_MAP_FD, 0, fd), I(0, 0, 0, 0, 0)
#define MOV64_IMM(d, v) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v)
#define MOV64_REG(d, s) I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define EXIT_INSN I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static unsigned char pkt[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x00 };

UT_TEST(xdp_counts_in_array_map)
{
	int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "counts", 4, 8, 1, NULL);
	UT_CHECK(map >= 0, "map_create: %d", map);
	/* key 0 on the stack; v = lookup(map, &key); if (v) *v += 1 (atomically); return XDP_PASS */
	struct bpf_insn p[] = {
		I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0),
		MOV64_REG(2, 10),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4),
		LD_MAP_FD(1, map),
		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2, 0),
		MOV64_IMM(1, 1),
		I(BPF_STX | BPF_ATOMIC | BPF_DW, 0, 1, 0, BPF_ADD),
		MOV64_IMM(0, XDP_PASS),
		EXIT_INSN,
	};
	char log[1024] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "count", "GPL", p, sizeof(p) / sizeof(p[0]), &lo);
	UT_CHECK(prog >= 0, "prog_load: %d %s", prog, log);
	unsigned char out[128];
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 5);
	UT_CHECK_EQ(bpf_prog_test_run_opts(prog, &t), 0);
	UT_CHECK_EQ(t.retval, XDP_PASS);
	UT_CHECK_EQ(t.data_size_out, sizeof(pkt));	/* the packet comes back unchanged */
	UT_CHECK(!memcmp(out, pkt, sizeof(pkt)), "data_out differs");
	uint32_t k = 0;
	uint64_t v = 0;
	UT_CHECK_EQ(bpf_map_lookup_elem(map, &k, &v), 0);
	UT_CHECK_EQ(v, 5);	/* repeat = 5 runs, one increment each */
	close(prog);
	close(map);
}

UT_TEST(load_errors)
{
	struct bpf_insn bad_map[] = { LD_MAP_FD(1, 9999), MOV64_IMM(0, 0), EXIT_INSN };
	struct bpf_insn ok[] = { MOV64_IMM(0, 0), EXIT_INSN };
	char log[512] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	/* The kernel answers EBADF for an lddw naming an fd that is no map. */
	UT_CHECK_EQ(bpf_prog_load(BPF_PROG_TYPE_XDP, "x", "GPL", bad_map, 4, &lo), -EBADF);
	UT_CHECK_STR(log, "fd 9999 is not pointing to valid bpf_map");
	UT_CHECK_EQ(bpf_prog_load(BPF_PROG_TYPE_XDP, "x", "GPL", ok, 0, NULL), -EINVAL);
	UT_CHECK_EQ(bpf_prog_load((enum bpf_prog_type)999, "x", "GPL", ok, 2, NULL), -EINVAL);
	/* A log buffer under 128 bytes is refused (kernel: bpf_verifier_log_attr_valid). */
	LIBBPF_OPTS(bpf_prog_load_opts, small, .log_buf = log, .log_size = 64, .log_level = 1);
	UT_CHECK_EQ(bpf_prog_load(BPF_PROG_TYPE_XDP, "x", "GPL", ok, 2, &small), -EINVAL);
}

UT_TEST(test_run_short_packet)
{
	struct bpf_insn ok[] = { MOV64_IMM(0, XDP_DROP), EXIT_INSN };
	int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "x", "GPL", ok, 2, NULL);
	UT_CHECK(prog >= 0, "load %d", prog);
	/* Less than an Ethernet header (14 bytes) is EINVAL, as bpf_test_init(). */
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = 13);
	UT_CHECK_EQ(bpf_prog_test_run_opts(prog, &t), -EINVAL);
	LIBBPF_OPTS(bpf_test_run_opts, t2, .data_in = pkt, .data_size_in = 14);
	UT_CHECK_EQ(bpf_prog_test_run_opts(prog, &t2), 0);
	UT_CHECK_EQ(t2.retval, XDP_DROP);
	close(prog);
}

static int load_xdp(const struct bpf_insn *p, size_t n)
{
	char log[512] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "t", "GPL", p, n, &lo);
	if (fd < 0)
		fprintf(stderr, "load: %d %s\n", fd, log);
	return fd;
}

static uint32_t run_xdp(int prog)
{
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt));
	int rc = bpf_prog_test_run_opts(prog, &t);
	return rc ? 0xdead0000u | (uint32_t)-rc : t.retval;
}

UT_TEST(tail_calls)
{
	int pa = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "jmp", 4, 4, 4, NULL);
	int cnt = bpf_map_create(BPF_MAP_TYPE_ARRAY, "cnt", 4, 8, 1, NULL);
	UT_CHECK(pa >= 0 && cnt >= 0, "maps %d %d", pa, cnt);
	struct bpf_insn r42[] = { MOV64_IMM(0, 42), EXIT_INSN };
	struct bpf_insn r24[] = { MOV64_IMM(0, 24), EXIT_INSN };
	/* Slot 1 counts its runs, then tail-calls itself; when that fails it returns 41. */
	struct bpf_insn self[] = {
		MOV64_REG(6, 1),
		I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0),
		MOV64_REG(2, 10), I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4),
		LD_MAP_FD(1, cnt),
		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2, 0),
		MOV64_IMM(1, 1), I(BPF_STX | BPF_ATOMIC | BPF_DW, 0, 1, 0, BPF_ADD),
		MOV64_REG(1, 6), LD_MAP_FD(2, pa), MOV64_IMM(3, 1),
		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call),
		MOV64_IMM(0, 41), EXIT_INSN,
	};
	int p0 = load_xdp(r42, 2), p1 = load_xdp(self, sizeof(self) / sizeof(self[0])),
	    p2 = load_xdp(r24, 2);
	UT_CHECK(p0 >= 0 && p1 >= 0 && p2 >= 0, "progs");
	int progs[3] = { p0, p1, p2 };
	for (uint32_t k = 0; k < 3; k++)
		UT_CHECK_EQ(bpf_map_update_elem(pa, &k, &progs[k], BPF_ANY), 0);
	/* Fd arrays take only BPF_ANY (kernel: bpf_fd_array_map_update_elem). */
	uint32_t k0 = 0;
	UT_CHECK_EQ(bpf_map_update_elem(pa, &k0, &p0, BPF_NOEXIST), -EINVAL);

	int results[][2] = { { 0, 42 }, { 2, 24 }, { 3, 1 }, { 100, 1 }, { 1, 41 } };
	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
		/* main: tail_call(ctx, pa, idx); return 1 when the tail call does not happen */
		struct bpf_insn main_p[] = {
			LD_MAP_FD(2, pa), MOV64_IMM(3, results[i][0]),
			I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call),
			MOV64_IMM(0, 1), EXIT_INSN,
		};
		int m = load_xdp(main_p, sizeof(main_p) / sizeof(main_p[0]));
		UT_CHECK_EQ(run_xdp(m), results[i][1]);
		close(m);
	}
	/* The kernel allows 33 tail calls per run (MAX_TAIL_CALL_CNT): main's call plus 32
	 * self-calls succeed, so slot 1 ran 33 times and its 34th tail call fell through. */
	uint64_t runs = 0;
	UT_CHECK_EQ(bpf_map_lookup_elem(cnt, &k0, &runs), 0);
	UT_CHECK_EQ(runs, 33);
	uint32_t id = 0;
	UT_CHECK_EQ(bpf_map_lookup_elem(pa, &k0, &id), 0);	/* user space reads the prog id */
	UT_CHECK(id != 0, "prog id");
	for (int i = 0; i < 3; i++)
		close(progs[i]);
	close(pa);
	close(cnt);
}

/* main: sum = 0 on the stack; n = bpf_loop(10, cb, &sum, 0); return sum * 100 + n.
 * cb(i, ctx): *ctx += i; return i == stop_at (1 ends the loop). */
static uint32_t loop_prog(int stop_at)
{
	struct bpf_insn p[] = {
		MOV64_IMM(1, 0),
		I(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8, 0),
		MOV64_IMM(1, 10),
		I(BPF_LD | BPF_IMM | BPF_DW, 2, BPF_PSEUDO_FUNC, 0, 10), I(0, 0, 0, 0, 0), /* cb at 3 + 10 + 1 = 14 */
		MOV64_REG(3, 10), I(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -8),
		MOV64_IMM(4, 0),
		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_loop),
		MOV64_REG(6, 0),
		I(BPF_LDX | BPF_MEM | BPF_DW, 0, 10, -8, 0),
		I(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, 100),
		I(BPF_ALU64 | BPF_ADD | BPF_X, 0, 6, 0, 0),
		EXIT_INSN,
		/* 14: cb */
		I(BPF_LDX | BPF_MEM | BPF_DW, 3, 2, 0, 0),
		I(BPF_ALU64 | BPF_ADD | BPF_X, 3, 1, 0, 0),
		I(BPF_STX | BPF_MEM | BPF_DW, 2, 3, 0, 0),
		MOV64_IMM(0, 0),
		I(BPF_JMP | BPF_JNE | BPF_K, 1, 0, 1, stop_at),
		MOV64_IMM(0, 1),
		EXIT_INSN,
	};
	int fd = load_xdp(p, sizeof(p) / sizeof(p[0]));
	uint32_t r = run_xdp(fd);
	close(fd);
	return r;
}

UT_TEST(bpf_loop_callbacks)
{
	/* All 10 iterations: sum 0..9 = 45, bpf_loop returns 10. */
	UT_CHECK_EQ(loop_prog(-1), 4510);
	/* Stop when i == 3: sum 0+1+2+3 = 6, and the kernel returns i + 1 = 4. */
	UT_CHECK_EQ(loop_prog(3), 604);
}

UT_TEST(for_each_map_elem_sums_values)
{
	int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "arr", 4, 8, 4, NULL);
	for (uint32_t k = 0; k < 4; k++) {
		uint64_t v = (k + 1) * 10;	/* 10, 20, 30, 40 */
		UT_CHECK_EQ(bpf_map_update_elem(map, &k, &v, BPF_ANY), 0);
	}
	/* sum = 0; n = for_each_map_elem(map, cb, &sum, 0); return sum * 100 + n;
	 * cb(map, key, value, ctx): *ctx += *value; return 0 */
	struct bpf_insn p[] = {
		MOV64_IMM(1, 0),
		I(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8, 0),
		LD_MAP_FD(1, map),
		I(BPF_LD | BPF_IMM | BPF_DW, 2, BPF_PSEUDO_FUNC, 0, 10), I(0, 0, 0, 0, 0), /* cb at 4 + 10 + 1 = 15 */
		MOV64_REG(3, 10), I(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -8),
		MOV64_IMM(4, 0),
		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_for_each_map_elem),
		MOV64_REG(6, 0),
		I(BPF_LDX | BPF_MEM | BPF_DW, 0, 10, -8, 0),
		I(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, 100),
		I(BPF_ALU64 | BPF_ADD | BPF_X, 0, 6, 0, 0),
		EXIT_INSN,
		/* 15: cb */
		I(BPF_LDX | BPF_MEM | BPF_DW, 5, 3, 0, 0),
		I(BPF_LDX | BPF_MEM | BPF_DW, 6, 4, 0, 0),
		I(BPF_ALU64 | BPF_ADD | BPF_X, 6, 5, 0, 0),
		I(BPF_STX | BPF_MEM | BPF_DW, 4, 6, 0, 0),
		MOV64_IMM(0, 0),
		EXIT_INSN,
	};
	int fd = load_xdp(p, sizeof(p) / sizeof(p[0]));
	/* 10 + 20 + 30 + 40 = 100 over 4 elements. */
	UT_CHECK_EQ(run_xdp(fd), 100 * 100 + 4);
	close(fd);
	close(map);
}
