/*
 * make bench: each program of bench/progs/ timed five ways, in the same run:
 *   native   the same C source compiled with gcc -O2 (the physical limit);
 *   kernel   the kernel's JIT, through BPF_PROG_TEST_RUN (it reports ns per run);
 *   jit      uebpf's JIT (UEBPF_ENGINE_JIT, trusted, uebpf_prog_run);
 *   interp   uebpf's interpreter in fast mode (UEBPF_PROG_F_TRUSTED, uebpf_prog_run);
 *   checked  uebpf's interpreter in checked mode (UEBPF_PROG_F_CHECKED: every load and
 *            store checked, an instruction budget), through uebpf_prog_run_opts.
 * A figure is the best of 5 repetitions of a loop long enough to take about 0.3 s of CPU
 * time. The engines must agree on each program's return value; the last column says when
 * not.
 *
 * Two more rows measure the JIT's fixed costs:
 *   call     a trivial program (r0 = XDP_PASS) called directly through uebpf_prog_run,
 *            against a native call of a function that does the same (noinline);
 *   compile  the JIT's compilation of a 1000-instruction program (ub_jit_compile alone,
 *            and the whole uebpf_prog_new with and without the JIT), in microseconds.
 *
 * Usage: bench [PROGRAM...]   (default: all). The programs' raw instructions are read
 * from progs/NAME.bin next to this executable (made by bench/bench.mk).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <uebpf/uebpf.h>
#include "jit/jit.h"

#define PKT_SIZE	1024
#define TARGET_NS	3e8	/* each repetition runs about this long */
#define REPS		5

/* The native builds of bench/progs/NAME.c, renamed from prog() by the Makefile. */
#define BENCH_PROGS(X) X(parse) X(fnv) X(loop) X(csum)
#define DECLARE(name) int bench_native_##name(struct xdp_md *ctx);
BENCH_PROGS(DECLARE)
#define ENTRY(name) { #name, bench_native_##name },

/* The trivial program of the call row, and its native twin (not inlined: a real call). */
static __attribute__((noinline)) int native_call(struct xdp_md *ctx)
{
	__asm__ volatile("" ::: "memory");
	return XDP_PASS;
}

static struct bpf_insn call_insns[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
	{ .code = BPF_JMP | BPF_EXIT },
};

static const struct bench_prog {
	const char *name;
	int (*native)(struct xdp_md *ctx);
} progs[] = { BENCH_PROGS(ENTRY) { "call", native_call } };

static volatile uint32_t sink;	/* keeps every result alive */

/*
 * The thread's CPU time, not the wall clock: time spent descheduled (a busy machine) does
 * not count, as the kernel's test run does not count it either (it stops its timer
 * around cond_resched()).
 */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * The packet and its context. uebpf has no context rewriting yet: the kernel turns the
 * __u32 fields xdp_md->data and data_end into pointers when it loads an XDP program, and
 * uebpf will do the same once program types land. Until then the program reads the raw
 * __u32 fields of the context it is given, so the packet is mapped below 4 GiB
 * (MAP_32BIT) and a fake struct xdp_md holds its real 32-bit addresses: the program's
 * (void *)(long)ctx->data is then the packet itself. The native build reads the same fake
 * context the same way. The kernel gets the packet through BPF_PROG_TEST_RUN's data_in
 * and builds its own context. All of this goes away with program types.
 */
struct packet {
	uint8_t *data;
	struct xdp_md ctx;
};

/* Ethernet, IPv4, UDP to port 9 (which parse drops), and a patterned payload. */
static int packet_init(struct packet *pkt)
{
	static const uint8_t hdr[] = {
		0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,	/* Ethernet */
		0x45, 0, 0x03, 0xf2, 0, 1, 0x40, 0, 64, 17, 0, 0,		/* IPv4, 1010 bytes */
		10, 0, 0, 1, 10, 0, 0, 2,
		0x30, 0x39, 0x00, 0x09, 0x03, 0xde, 0, 0,			/* UDP, 990 bytes */
	};
	void *p = mmap(NULL, PKT_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (p == MAP_FAILED || (uintptr_t)p + PKT_SIZE > UINT32_MAX)
		return -1;
	pkt->data = p;
	for (int i = 0; i < PKT_SIZE; i++)
		pkt->data[i] = (uint8_t)(i * 7 + 3);
	memcpy(pkt->data, hdr, sizeof(hdr));
	memset(&pkt->ctx, 0, sizeof(pkt->ctx));
	pkt->ctx.data = (uint32_t)(uintptr_t)pkt->data;
	pkt->ctx.data_end = pkt->ctx.data + PKT_SIZE;
	return 0;
}

/* ---- The programs' bytes ---- */

static int load_insns(const char *name, struct bpf_insn **insns, size_t *cnt)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (!strcmp(name, "call")) {
		*insns = call_insns;
		*cnt = sizeof(call_insns) / sizeof(call_insns[0]);
		return 0;
	}
	if (n < 0)
		return -errno;
	exe[n] = 0;
	*strrchr(exe, '/') = 0;
	snprintf(path, sizeof(path), "%s/progs/%s.bin", exe, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -ENOENT;
	}
	static struct bpf_insn buf[4096];
	*cnt = fread(buf, sizeof(buf[0]), sizeof(buf) / sizeof(buf[0]), f);
	fclose(f);
	*insns = buf;
	return *cnt ? 0 : -EINVAL;
}

/* ---- Timing: best ns per run of REPS repetitions of about TARGET_NS each ---- */

struct target {
	const struct bench_prog *bp;
	struct packet *pkt;
	struct uebpf_prog *prog;
	struct uebpf_run_opts *opts;
};

typedef void (*loop_fn)(const struct target *t, uint64_t n);

static void loop_native(const struct target *t, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		sink += (uint32_t)t->bp->native(&t->pkt->ctx);
}

static void loop_interp(const struct target *t, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		sink += (uint32_t)uebpf_prog_run(t->prog, &t->pkt->ctx);
}

static void loop_checked(const struct target *t, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uebpf_prog_run_opts(t->prog, t->opts);
		sink += (uint32_t)t->opts->retval;
	}
}

static double measure(loop_fn loop, const struct target *t)
{
	uint64_t n = 1;
	double el, best = 0;

	for (;; n *= 2) {	/* calibrate: how many runs make 30 ms */
		double t0 = now_ns();
		loop(t, n);
		if ((el = now_ns() - t0) >= TARGET_NS / 10)
			break;
	}
	n = (uint64_t)(n * TARGET_NS / el) + 1;
	for (int r = 0; r < REPS; r++) {
		double t0 = now_ns();
		loop(t, n);
		el = (now_ns() - t0) / (double)n;
		if (r == 0 || el < best)
			best = el;
	}
	return best;
}

/* ---- The kernel ---- */

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int kern_load(const struct bpf_insn *insns, size_t cnt, char *log, size_t log_size)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = (uint32_t)cnt;
	a.license = (uint64_t)(uintptr_t)"GPL";
	if (log) {
		log[0] = 0;
		a.log_level = 1;
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = (uint32_t)log_size;
	}
	int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	return fd < 0 ? -errno : fd;
}

/* One BPF_PROG_TEST_RUN of repeat runs: ns per run (as the kernel reports it). */
static int kern_run(int fd, const struct packet *pkt, uint32_t repeat, uint32_t *ns,
		    uint32_t *retval)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uint64_t)(uintptr_t)pkt->data;
	a.test.data_size_in = PKT_SIZE;
	a.test.repeat = repeat;
	if (sys_bpf(BPF_PROG_TEST_RUN, &a) < 0)
		return -errno;
	*ns = a.test.duration;
	*retval = a.test.retval;
	return 0;
}

/* NULL if bpf() works, else why not. */
static const char *kern_refused(void)
{
	static char why[64];
	struct bpf_insn p[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = kern_load(p, 2, NULL, 0);

	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	snprintf(why, sizeof(why), "bpf(): %s", strerror(-fd));
	return why;
}

/* Best of REPS test runs, each of about TARGET_NS; the kernel only counts whole ns. */
static int kern_measure(const struct bpf_insn *insns, size_t cnt, const struct packet *pkt,
			double *ns, uint32_t *retval, char *why, size_t why_size)
{
	static char log[1 << 16];
	int fd = kern_load(insns, cnt, NULL, 0);
	uint32_t d = 0, best = UINT32_MAX;
	int err;

	if (fd < 0) {
		kern_load(insns, cnt, log, sizeof(log));	/* again, for the log */
		char *last = strrchr(log, '\n'), *prev = last;
		while (prev && prev > log && prev[-1] != '\n')
			prev--;
		snprintf(why, why_size, "rejected (%s): %.*s", strerror(-fd),
			 prev ? (int)(last - prev) : 0, prev ? prev : "");
		return fd;
	}
	err = kern_run(fd, pkt, 1000, &d, retval);
	uint64_t repeat = (uint64_t)(TARGET_NS / (d ? d : 1));
	repeat = repeat > UINT32_MAX ? UINT32_MAX : repeat < 1000 ? 1000 : repeat;
	for (int r = 0; !err && r < REPS; r++)
		if (!(err = kern_run(fd, pkt, (uint32_t)repeat, &d, retval)) && d < best)
			best = d;
	close(fd);
	if (err)
		snprintf(why, why_size, "BPF_PROG_TEST_RUN: %s", strerror(-err));
	*ns = best;
	return err;
}

/* ---- One program, every engine ---- */

struct result {
	double native, kernel, interp, checked, jit;	/* ns per run; < 0: not measured */
	uint32_t r_native, r_kernel, r_interp, r_checked, r_jit;
	char note[160];
};

static int ub_new(const struct bpf_insn *insns, size_t cnt, uint32_t flags,
		  struct uebpf_prog **prog, char *log, size_t log_size, enum uebpf_engine engine)
{
	struct uebpf_prog_opts o = { .sz = sizeof(o), .engine = engine,
				     .flags = flags, .log_buf = log, .log_size = log_size };
	return uebpf_prog_new(insns, cnt, &o, prog);
}

static void bench_uebpf(const struct bpf_insn *insns, size_t cnt, struct target *t,
			struct result *res)
{
	char log[256] = "";
	struct uebpf_run_opts ro = { .sz = sizeof(ro), .ctx = &t->pkt->ctx,
				     .ctx_size = sizeof(t->pkt->ctx), .data = t->pkt->data,
				     .data_size = PKT_SIZE };
	int err = ub_new(insns, cnt, UEBPF_PROG_F_TRUSTED, &t->prog, log, sizeof(log),
			 UEBPF_ENGINE_INTERP);

	if (!err) {
		res->r_interp = (uint32_t)uebpf_prog_run(t->prog, &t->pkt->ctx);
		res->interp = measure(loop_interp, t);
		uebpf_prog_free(t->prog);
		err = ub_new(insns, cnt, UEBPF_PROG_F_TRUSTED, &t->prog, log, sizeof(log),
			     UEBPF_ENGINE_JIT);
	}
	if (!err) {	/* the JIT, through the same direct call */
		res->r_jit = (uint32_t)uebpf_prog_run(t->prog, &t->pkt->ctx);
		res->jit = measure(loop_interp, t);
		uebpf_prog_free(t->prog);
		err = ub_new(insns, cnt, UEBPF_PROG_F_CHECKED, &t->prog, log, sizeof(log),
			     UEBPF_ENGINE_INTERP);
	}
	if (!err)	/* checked mode: the packet is a region the program may use */
		err = uebpf_prog_run_opts(t->prog, &ro);
	if (!err) {
		res->r_checked = (uint32_t)ro.retval;
		t->opts = &ro;
		res->checked = measure(loop_checked, t);
	}
	uebpf_prog_free(t->prog);
	t->prog = NULL;
	if (err)
		snprintf(res->note, sizeof(res->note), "uebpf: %s %s", strerror(-err), log);
}

static void bench_one(const struct bench_prog *bp, struct packet *pkt, const char *kern_why,
		      struct result *res)
{
	struct bpf_insn *insns;
	size_t cnt;
	struct target t = { .bp = bp, .pkt = pkt };

	*res = (struct result){ .native = -1, .kernel = -1, .interp = -1, .checked = -1,
				.jit = -1 };
	res->r_native = (uint32_t)bp->native(&pkt->ctx);
	res->native = measure(loop_native, &t);
	int err = load_insns(bp->name, &insns, &cnt);
	if (err) {
		snprintf(res->note, sizeof(res->note), "no instructions: %s", strerror(-err));
		return;
	}
	if (!kern_why && kern_measure(insns, cnt, pkt, &res->kernel, &res->r_kernel, res->note,
				      sizeof(res->note)))
		res->kernel = -1;
	bench_uebpf(insns, cnt, &t, res);
}

/* ---- The table ---- */

static void fmt_ns(char *buf, size_t size, double ns)
{
	if (ns < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f", ns);
}

static void fmt_ratio(char *buf, size_t size, double a, double b)
{
	if (a < 0 || b <= 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.2fx", a / b);
}

/* Do the engines that ran agree with native C? */
static void fmt_check(char *buf, size_t size, const struct result *r)
{
	int bad = (r->kernel >= 0 && r->r_kernel != r->r_native) ||
		  (r->interp >= 0 && r->r_interp != r->r_native) ||
		  (r->checked >= 0 && r->r_checked != r->r_native) ||
		  (r->jit >= 0 && r->r_jit != r->r_native);

	if (!bad)
		snprintf(buf, size, "ok 0x%x", r->r_native);
	else
		snprintf(buf, size, "WARNING: results differ: native 0x%x kernel 0x%x interp 0x%x "
			 "checked 0x%x", r->r_native, r->r_kernel, r->r_interp, r->r_checked);
}

static void print_row(const char *name, const struct result *r)
{
	char c[10][32], check[160];

	fmt_ns(c[0], sizeof(c[0]), r->native);
	fmt_ns(c[1], sizeof(c[1]), r->kernel);
	fmt_ns(c[2], sizeof(c[2]), r->jit);
	fmt_ns(c[3], sizeof(c[3]), r->interp);
	fmt_ns(c[4], sizeof(c[4]), r->checked);
	fmt_ratio(c[5], sizeof(c[5]), r->jit, r->kernel);
	fmt_ratio(c[6], sizeof(c[6]), r->jit, r->native);
	fmt_ratio(c[7], sizeof(c[7]), r->interp, r->kernel);
	fmt_ratio(c[8], sizeof(c[8]), r->interp, r->native);
	fmt_ratio(c[9], sizeof(c[9]), r->interp, r->jit);
	fmt_check(check, sizeof(check), r);
	printf("%-6s %9s %8s %8s %9s %9s %9s %10s %9s %9s %9s   %s\n", name, c[0], c[1], c[2],
	       c[3], c[4], c[5], c[6], c[7], c[8], c[9], check);
}

/* ---- Compile time ---- */

/*
 * A 1000-instruction program of the usual mix: ALU on registers and constants, stack
 * stores and loads, forward branches, an lddw now and then. Loop-free, so every kind of
 * instruction the JIT translates one by one is there, without helpers.
 */
static size_t make_big(struct bpf_insn *p, size_t n)
{
	static const uint8_t alu[] = { BPF_ADD, BPF_SUB, BPF_MUL, BPF_OR, BPF_AND, BPF_XOR,
				       BPF_LSH, BPF_RSH, BPF_MOV, BPF_ARSH };
	uint64_t s = 0x243f6a8885a308d3ull;
	size_t i = 0;

	for (uint8_t r = 0; r <= 9; r++)
		p[i++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = r,
					    .imm = r * 7 + 1 };
	while (i < n - 3) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t k = (uint32_t)(s >> 33), d = k % 10, r = (k >> 4) % 10, op = (k >> 8) % 16;
		int32_t imm = (int32_t)((k >> 12) % 64);
		if (op < 8)
			p[i++] = (struct bpf_insn){ .code = (uint8_t)((k & 1 ? BPF_ALU64 : BPF_ALU) |
						    alu[op] | BPF_X), .dst_reg = d, .src_reg = r };
		else if (op < 11)
			p[i++] = (struct bpf_insn){ .code = BPF_ALU64 | alu[k % 10] | BPF_K,
						    .dst_reg = d, .imm = imm };
		else if (op < 13)
			p[i++] = (struct bpf_insn){ .code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = 10,
						    .src_reg = r, .off = (int16_t)(-8 - 8 * (k % 8)) };
		else if (op < 14)
			p[i++] = (struct bpf_insn){ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = d,
						    .src_reg = 10, .off = -8 };
		else if (op < 15) {	/* if (rd > imm) skip the next add */
			p[i++] = (struct bpf_insn){ .code = BPF_JMP | BPF_JGT | BPF_K, .dst_reg = d,
						    .off = 1, .imm = imm };
			p[i++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = r,
						    .imm = imm };
		}
		else {
			p[i++] = (struct bpf_insn){ .code = BPF_LD | BPF_IMM | BPF_DW, .dst_reg = d,
						    .imm = (int32_t)k };
			p[i++] = (struct bpf_insn){ .imm = (int32_t)(k * 3) };
		}
	}
	while (i < n - 1)
		p[i++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0 };
	p[i++] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	return i;
}

/* Best time in microseconds of what fn does, over many tries. */
static double best_us(int (*fn)(const struct bpf_insn *, size_t, struct uebpf_prog *),
		      const struct bpf_insn *p, size_t n, struct uebpf_prog *arg)
{
	double best = -1;

	for (int r = 0; r < 2000; r++) {
		double t0 = now_ns();
		if (fn(p, n, arg))
			return -1;
		double el = (now_ns() - t0) / 1e3;
		if (best < 0 || el < best)
			best = el;
	}
	return best;
}

static int new_interp(const struct bpf_insn *p, size_t n, struct uebpf_prog *unused)
{
	struct uebpf_prog *prog;
	int err = ub_new(p, n, UEBPF_PROG_F_TRUSTED, &prog, NULL, 0, UEBPF_ENGINE_INTERP);
	uebpf_prog_free(err ? NULL : prog);
	return err;
}

static int new_jit(const struct bpf_insn *p, size_t n, struct uebpf_prog *unused)
{
	struct uebpf_prog *prog;
	int err = ub_new(p, n, UEBPF_PROG_F_TRUSTED, &prog, NULL, 0, UEBPF_ENGINE_JIT);
	uebpf_prog_free(err ? NULL : prog);
	return err;
}

/* The JIT alone, on a program loaded for the interpreter (its image freed each time). */
static int jit_only(const struct bpf_insn *p, size_t n, struct uebpf_prog *prog)
{
	int err = ub_jit_compile(prog, 0, NULL);
	ub_jit_free(prog->jit);
	prog->jit = NULL;
	return err;
}

static void bench_compile(void)
{
	static struct bpf_insn p[1000];
	size_t n = make_big(p, 1000);
	struct uebpf_prog *prog = NULL;
	double t_int = best_us(new_interp, p, n, NULL), t_jit = best_us(new_jit, p, n, NULL);
	double t_only = -1;

	if (!ub_new(p, n, UEBPF_PROG_F_TRUSTED, &prog, NULL, 0, UEBPF_ENGINE_INTERP))
		t_only = best_us(jit_only, p, n, prog);
	uebpf_prog_free(prog);
	printf("compile %zu insns (us, best of 2000): JIT alone %.1f; uebpf_prog_new: "
	       "interpreter %.1f, JIT %.1f\n", n, t_only, t_int, t_jit);
}

static int wanted(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct packet pkt;
	const char *kern_why = kern_refused();
	int failed = 0;

	if (packet_init(&pkt)) {
		fprintf(stderr, "bench: no packet memory below 4 GiB (mmap MAP_32BIT): %s\n",
			strerror(errno));
		return 1;
	}
	printf("ns per run, best of %d; packet: %d bytes, Ethernet/IPv4/UDP\n", REPS, PKT_SIZE);
	printf("%-6s %9s %8s %8s %9s %9s %9s %10s %9s %9s %9s   %s\n", "prog", "native",
	       "kernel", "jit", "interp", "checked", "jit/kern", "jit/native", "int/kern",
	       "int/nat", "int/jit", "result");
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct result r;
		if (!wanted(progs[i].name, argc, argv))
			continue;
		bench_one(&progs[i], &pkt, kern_why, &r);
		print_row(progs[i].name, &r);
		if (r.note[0])
			printf("  %s: %s\n", progs[i].name, r.note);
		failed |= r.interp < 0 || r.checked < 0;
	}
	if (wanted("compile", argc, argv))
		bench_compile();
	if (kern_why)
		printf("kernel: skipped (%s)\n", kern_why);
	return failed;
}
