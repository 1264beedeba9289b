/* bpf_snprintf / trace_printk formatting (kernel rules) and the trace_pipe file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "ut.h"
#include "helpers/helpers.h"

#define P(x) ((uint64_t)(uintptr_t)(x))

static int64_t fmt1(char *out, size_t n, const char *fmt, const uint64_t *args, int nargs)
{
	return (int64_t)ub_h_snprintf(P(out), n, P(fmt), P(args), (uint64_t)nargs * 8);
}

UT_TEST(snprintf_conversions)
{
	char out[128];
	uint64_t a[] = { 42, (uint64_t)-7, 0xbeef, P("str"), 'Z' };
	/* Return value: bytes needed including the NUL (kernel bpf_snprintf). */
	UT_CHECK_EQ(fmt1(out, sizeof(out), "x=%d", a, 1), 5);
	UT_CHECK_STR(out, "x=42");
	fmt1(out, sizeof(out), "%d %u %x %s %c", (uint64_t[]){ (uint64_t)-7, 7, 0xbeef, P("str"), 'Z' }, 5);
	UT_CHECK(!strcmp(out, "-7 7 beef str Z"), "got '%s'", out);
	fmt1(out, sizeof(out), "%lld %llx %5d|%-3u|", (uint64_t[]){ (uint64_t)-1, 0x1122334455667788ull, 3, 4 }, 4);
	UT_CHECK(!strcmp(out, "-1 1122334455667788     3|4  |"), "got '%s'", out);
	fmt1(out, sizeof(out), "100%%", a, 0);
	UT_CHECK(!strcmp(out, "100%"), "got '%s'", out);
	/* Truncation: still the full length returned, output cut and terminated. */
	UT_CHECK_EQ(fmt1(out, 4, "abcdefgh", a, 0), 9);
	UT_CHECK(!strcmp(out, "abc"), "got '%s'", out);
	/* %s of a bad pointer does not fault. */
	fmt1(out, sizeof(out), "[%s]", (uint64_t[]){ 8 }, 1);
	UT_CHECK(!strcmp(out, "[(efault)]"), "got '%s'", out);
}

UT_TEST(snprintf_rejects)
{
	char out[64];
	uint64_t a[] = { 1 };
	/* More conversions than arguments, unknown conversions: -EINVAL (bpf_bprintf_prepare). */
	UT_CHECK_EQ(fmt1(out, sizeof(out), "%d %d", a, 1), -EINVAL);
	UT_CHECK_EQ(fmt1(out, sizeof(out), "%n", a, 1), -EINVAL);
	UT_CHECK_EQ(fmt1(out, sizeof(out), "%lllld", a, 1), -EINVAL);
	/* data_len must be a multiple of 8 and at most 12 arguments. */
	UT_CHECK_EQ((int64_t)ub_h_snprintf(P(out), sizeof(out), P("x"), P(a), 4), -EINVAL);
	UT_CHECK_EQ((int64_t)ub_h_snprintf(P(out), sizeof(out), P("x"), P(a), 13 * 8), -EINVAL);
}

UT_TEST(trace_printk_writes_trace_pipe)
{
	char dir[] = "/tmp/uebpf-trace-XXXXXX", path[256], buf[4096] = "";
	UT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	setenv("UEBPF_PIN_ROOT", dir, 1);
	/* "v=%d\n" built on the stack, then trace_printk(fmt, 6, 1234) */
	struct bpf_insn p[] = {
		{ .code = BPF_LD | BPF_IMM | BPF_DW, .dst_reg = 1, .imm = 0x64253d76 }, { .imm = 0x0a }, /* "v=%d" "\n\0" */
		{ .code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = 10, .src_reg = 1, .off = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 1, .src_reg = 10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 1, .imm = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 2, .imm = 6 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3, .imm = 1234 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_trace_printk },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "tp", "GPL", p, 9, NULL);
	UT_CHECK(fd >= 0, "load %d", fd);
	unsigned char regs[168] = { 0 };	/* struct pt_regs */
	LIBBPF_OPTS(bpf_test_run_opts, t, .ctx_in = regs, .ctx_size_in = sizeof(regs));
	UT_CHECK_EQ(bpf_prog_test_run_opts(fd, &t), 0);
	UT_CHECK_EQ(t.retval, 7);	/* "v=1234\n" is 7 bytes */
	snprintf(path, sizeof(path), "%s/trace_pipe", dir);
	int tf = open(path, O_RDONLY);
	UT_CHECK(tf >= 0, "open %s", path);
	UT_CHECK(read(tf, buf, sizeof(buf) - 1) > 0, "read");
	UT_CHECK_STR(buf, "bpf_trace_printk: v=1234\n");
	close(tf);
	close(fd);
}
