/*
 * rbx: shared bits of the ring buffer and perf buffer tests: instruction macros, a raw
 * bpf() for the kernel side of differential checks, and program runners.
 */
#ifndef RBX_H
#define RBX_H
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LD_MAP_FD(d, fd) I(BPF_LD | BPF_IMM | BPF_DW, d, BPF_PSEUDO_MAP_FD, 0, fd), I(0, 0, 0, 0, 0)
#define LD_IMM64(d, v) I(BPF_LD | BPF_IMM | BPF_DW, d, 0, 0, (int32_t)(uint32_t)(v)), \
		       I(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))
#define MOV64_IMM(d, v) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v)
#define MOV64_REG(d, s) I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD64_IMM(d, v) I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, v)
#define STX_DW(d, s, o) I(BPF_STX | BPF_MEM | BPF_DW, d, s, o, 0)
#define LDX_DW(d, s, o) I(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define LDX_W(d, s, o) I(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define CALL(f) I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_##f)
#define JEQ_IMM(d, v, o) I(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, v)
#define JGT_REG(d, s, o) I(BPF_JMP | BPF_JGT | BPF_X, d, s, o, 0)
#define EXIT_INSN I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define NINSN(a) (sizeof(a) / sizeof((a)[0]))

/* The kernel's bpf(), for the other side of differential checks: fd/0 or -errno. */
static inline int kbpf(int cmd, union bpf_attr *a)
{
	int r = (int)syscall(SYS_bpf, cmd, a, sizeof(*a));
	return r < 0 ? -errno : r;
}

static inline int kmap_create(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t fl)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type, a.key_size = ks, a.value_size = vs, a.max_entries = max;
	a.map_flags = fl;
	return kbpf(BPF_MAP_CREATE, &a);
}

static inline int kprog_load_xdp(const struct bpf_insn *p, size_t n)
{
	static char log[65536];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)p;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)log, a.log_size = sizeof(log), a.log_level = 1;
	return kbpf(BPF_PROG_LOAD, &a);
}

/* Runs an XDP program once on pkt with the kernel: retval, or 0xdead0000 | errno. */
static inline uint32_t krun_xdp(int prog, const void *pkt, uint32_t len)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)prog;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = len;
	a.test.repeat = 1;
	int rc = kbpf(BPF_PROG_TEST_RUN, &a);
	return rc ? 0xdead0000u | (uint32_t)-rc : a.test.retval;
}

/* Loads through the verifier, or (prog_flags UEBPF_F_PROG_UNVERIFIED) checked mode. */
static inline int load_xdp_flags(const struct bpf_insn *p, size_t n, uint32_t prog_flags)
{
	char log[2048] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_buf = log, .log_size = sizeof(log), .log_level = 1,
		    .prog_flags = prog_flags);
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "t", "GPL", p, n, &lo);
	if (fd < 0)
		fprintf(stderr, "load: %d %s\n", fd, log);
	return fd;
}

static inline int load_xdp(const struct bpf_insn *p, size_t n)
{
	return load_xdp_flags(p, n, 0);
}

/* Runs an XDP program once with uebpf: retval, or 0xdead0000 | errno. */
static inline uint32_t run_xdp_on(int prog, const void *pkt, uint32_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = len);
	int rc = bpf_prog_test_run_opts(prog, &t);
	return rc ? 0xdead0000u | (uint32_t)-rc : t.retval;
}

static unsigned char rbx_pkt[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6,
				     0x08, 0x00, 0x45, 0x00, 0x11, 0x22, 0x33, 0x44 };

static inline uint32_t run_xdp(int prog)
{
	return run_xdp_on(prog, rbx_pkt, sizeof(rbx_pkt));
}

#endif
