/*
 * verifier_bench: how long uebpf's verifier takes, next to the kernel's on the same
 * program (BPF_PROG_LOAD with log level 4 reports "verification time N usec").
 *
 * Programs (XDP, 4096 instructions unless NAME says otherwise):
 *   alu       straight line: 64-bit and 32-bit ALU on scalars, then exit
 *   stack     straight line: stores to the stack and loads back (spill and fill)
 *   branches  4096 instructions with a conditional jump every 8 (paths join again)
 *   loop      a bounded loop of 1000 iterations (states per iteration)
 *
 * Build and run: `make bench-verifier` (part of `make bench`), or
 * build/bench/verifier_bench [repeat]      (default 200; the median is printed)
 *      NO_KERNEL=1 measures uebpf only (for profiling).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include "progs/progs.h"
#include "verifier/verifier.h"

#define N 4096

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })

static size_t gen_alu(struct bpf_insn *p)
{
	size_t n = 0;
	for (int r = 0; r < 10; r++)
		p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, r + 1);
	static const uint8_t ops[] = { BPF_ADD, BPF_SUB, BPF_XOR, BPF_OR, BPF_AND, BPF_MUL };
	while (n < N - 1) {
		uint8_t op = ops[n % 6], cls = n & 1 ? BPF_ALU64 : BPF_ALU;
		int d = (int)(n % 10), s = (int)((n / 10) % 10);
		p[n] = n % 3 ? I(cls | op | BPF_X, d, s, 0, 0) : I(cls | op | BPF_K, d, 0, 0, (int)n);
		n++;
	}
	p[n++] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

static size_t gen_stack(struct bpf_insn *p)
{
	size_t n = 0;
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 7);
	for (size_t k = 0; n < N - 1; k++, n++) {
		int16_t off = (int16_t)(-8 * (int)(1 + (k / 3) % 64));
		if (k % 3 == 0)
			p[n] = I(BPF_STX | BPF_MEM | BPF_DW, 10, 2, off, 0);
		else if (k % 3 == 1)
			p[n] = I(BPF_LDX | BPF_MEM | BPF_DW, 3, 10, off, 0);
		else
			p[n] = I(BPF_ALU64 | BPF_ADD | BPF_X, 2, 3, 0, 0);
	}
	p[n++] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

/* r1 = 0; every 8 insns: if r6 > k goto +1; r1 += 1 (both paths meet again) */
static size_t gen_branches(struct bpf_insn *p)
{
	size_t n = 0;
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 0);
	p[n++] = I(BPF_LDX | BPF_MEM | BPF_W, 6, 1, 0, 0);	/* xdp_md->data: unknown */
	while (n < N - 1) {
		if (n % 8 == 0 && n + 2 < N - 1) {
			p[n] = I(BPF_JMP | BPF_JGT | BPF_K, 6, 0, 1, (int)n);	/* imm: the index */
			n++;
			p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 1);
		} else {
			p[n++] = I(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, 1);
		}
	}
	p[n++] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

static size_t gen_loop(struct bpf_insn *p)
{
	size_t n = 0;
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 0);
	p[n++] = I(BPF_ALU64 | BPF_ADD | BPF_X, 0, 1, 0, 0);
	p[n++] = I(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, 1);
	p[n++] = I(BPF_JMP | BPF_JLT | BPF_K, 1, 0, -3, 1000);
	p[n++] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);	/* CPU time: steadier on a busy machine */
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

static double ub_time(const struct bpf_insn *p, size_t n, int repeat, uint32_t *processed)
{
	struct ub_ver_req req = { .insns = p, .cnt = n,
				  .pt = ub_prog_type_find(BPF_PROG_TYPE_XDP) };
	double *t = calloc((size_t)repeat, sizeof(double));
	for (int i = 0; i < repeat; i++) {
		struct ub_ver_res res;
		double t0 = now_us();
		int err = ub_verify(&req, &res);
		t[i] = now_us() - t0;
		if (err) {
			fprintf(stderr, "uebpf rejects: %d\n", err);
			free(t);
			return -1;
		}
		*processed = res.insn_processed;
		free(res.ctx_conv);
		free(res.seen);
	}
	double m = median(t, repeat);
	free(t);
	return m;
}

/* The kernel's own measure: "verification time N usec" from a level-4 log. */
static double kernel_time(const struct bpf_insn *p, size_t n, int repeat)
{
	static char log[1 << 16];
	double *t = calloc((size_t)repeat, sizeof(double));
	int ok = 0;
	for (int i = 0; i < repeat; i++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.prog_type = BPF_PROG_TYPE_XDP;
		a.insns = (uintptr_t)p;
		a.insn_cnt = (uint32_t)n;
		a.license = (uintptr_t)"GPL";
		a.log_level = 4;
		a.log_buf = (uintptr_t)log;
		a.log_size = sizeof(log);
		log[0] = 0;
		int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
		if (fd < 0)
			break;
		close(fd);
		const char *v = strstr(log, "verification time ");
		if (v)
			t[ok++] = atof(v + strlen("verification time "));
	}
	double m = ok ? median(t, ok) : -1;
	free(t);
	return m;
}

int main(int argc, char **argv)
{
	int repeat = argc > 1 ? atoi(argv[1]) : 200;
	static struct bpf_insn p[N];
	struct { const char *name; size_t (*gen)(struct bpf_insn *); } progs[] = {
		{ "alu", gen_alu }, { "stack", gen_stack }, { "branches", gen_branches },
		{ "loop", gen_loop },
	};

	if (repeat < 1)
		repeat = 1;
	printf("%-10s %6s %10s %12s %12s %8s\n", "program", "insns", "processed", "uebpf us",
	       "kernel us", "ratio");
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		uint32_t processed = 0;
		size_t n = progs[i].gen(p);
		double u = ub_time(p, n, repeat, &processed);
		double k = getenv("NO_KERNEL") ? -1 : kernel_time(p, n, repeat < 50 ? repeat : 50);
		printf("%-10s %6zu %10u %12.1f ", progs[i].name, n, processed, u);
		if (k >= 0)
			printf("%12.1f %8.2f\n", k, k > 0 ? u / k : 0);
		else
			printf("%12s %8s\n", "n/a", "-");
	}
	return 0;
}
