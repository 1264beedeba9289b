/*
 * uBPF's interpreter and JIT on bench's programs (scripts/bench-others.sh builds this
 * against a uBPF source tree the user points to; nothing of uBPF is in this repository).
 *
 *   ubpf_bench DIR NAME...   runs DIR/NAME.bin (the raw "xdp" section bench runs) and
 *                            prints "NAME interp_ns jit_ns r0 jit_r0" per program
 *
 * Same packet, context and timing as bench/bench.c: a 1 KiB Ethernet/IPv4/UDP packet below
 * 4 GiB, a fake struct xdp_md holding its 32-bit addresses (uBPF has no context rewriting
 * either), the thread's CPU time, best of 5 runs of about 0.3 s. uBPF's bounds checks are
 * turned off: the program reads the packet through the addresses in that context, outside
 * the memory uBPF is given, as uebpf's trusted mode does not check either. A uBPF built
 * without its JIT (ubpf_compile fails) gets "-" in the JIT column.
 *
 * The calls used (ubpf_create, ubpf_toggle_bounds_check, ubpf_load, ubpf_exec, ubpf_compile,
 * ubpf_destroy) were checked against uBPF's vm/inc/ubpf.h at commits c900ed9 (2026) and
 * 5d54cf9 (older).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "ubpf.h"

#define PKT_SIZE	1024
#define TARGET_NS	3e8	/* as bench/bench.c */
#define REPS		5

struct xdp_md_fake {	/* the kernel's struct xdp_md layout */
	uint32_t data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

static volatile uint32_t sink;
static struct xdp_md_fake ctx;
static struct ubpf_vm *vm;
static ubpf_jit_fn jitted;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The packet of bench/bench.c's packet_init, byte for byte. */
static int packet_init(void)
{
	static const uint8_t hdr[] = {
		0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
		0x45, 0, 0x03, 0xf2, 0, 1, 0x40, 0, 64, 17, 0, 0,
		10, 0, 0, 1, 10, 0, 0, 2,
		0x30, 0x39, 0x00, 0x09, 0x03, 0xde, 0, 0,
	};
	uint8_t *p = mmap(NULL, PKT_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (p == MAP_FAILED || (uintptr_t)p + PKT_SIZE > UINT32_MAX)
		return -1;
	for (int i = 0; i < PKT_SIZE; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	memcpy(p, hdr, sizeof(hdr));
	ctx.data = (uint32_t)(uintptr_t)p;
	ctx.data_end = ctx.data + PKT_SIZE;
	return 0;
}

static void loop_interp(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t r = 0;
		ubpf_exec(vm, &ctx, sizeof(ctx), &r);
		sink += (uint32_t)r;
	}
}

static void loop_jit(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		sink += (uint32_t)jitted(&ctx, sizeof(ctx));
}

static double measure(void (*loop)(uint64_t))
{
	uint64_t n = 1;
	double el, best = 0;

	for (;; n *= 2) {
		double t0 = now_ns();
		loop(n);
		if ((el = now_ns() - t0) >= TARGET_NS / 10)
			break;
	}
	n = (uint64_t)(n * TARGET_NS / el) + 1;
	for (int r = 0; r < REPS; r++) {
		double t0 = now_ns();
		loop(n);
		el = (now_ns() - t0) / (double)n;
		if (r == 0 || el < best)
			best = el;
	}
	return best;
}

static int bench_one(const char *dir, const char *name)
{
	static uint8_t code[65536];
	char path[4096], *err = NULL;
	uint64_t r = 0;

	snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "ubpf_bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t len = fread(code, 1, sizeof(code), f);
	fclose(f);
	vm = ubpf_create();
	if (!vm)
		return -1;
	ubpf_toggle_bounds_check(vm, false);
	if (ubpf_load(vm, code, (uint32_t)len, &err) < 0) {
		fprintf(stderr, "ubpf_bench: %s: ubpf_load: %s\n", path, err ? err : "?");
		free(err);
		ubpf_destroy(vm);
		return -1;
	}
	if (ubpf_exec(vm, &ctx, sizeof(ctx), &r) < 0) {
		fprintf(stderr, "ubpf_bench: %s: ubpf_exec failed\n", path);
		ubpf_destroy(vm);
		return -1;
	}
	double t_int = measure(loop_interp);
	char jit_col[32] = "-", rjit_col[16] = "-";
	jitted = ubpf_compile(vm, &err);
	if (jitted) {
		snprintf(rjit_col, sizeof(rjit_col), "0x%x", (uint32_t)jitted(&ctx, sizeof(ctx)));
		snprintf(jit_col, sizeof(jit_col), "%.1f", measure(loop_jit));
	} else {
		fprintf(stderr, "ubpf_bench: %s: ubpf_compile: %s\n", path, err ? err : "?");
		free(err);
	}
	printf("%s %.1f %s 0x%x %s\n", name, t_int, jit_col, (uint32_t)r, rjit_col);
	ubpf_destroy(vm);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s DIR NAME...\n", argv[0]);
		return 2;
	}
	if (packet_init()) {
		fprintf(stderr, "ubpf_bench: cannot map the packet below 4 GiB\n");
		return 1;
	}
	for (int i = 2; i < argc; i++)
		rc |= bench_one(argv[1], argv[i]) != 0;
	return rc;
}
