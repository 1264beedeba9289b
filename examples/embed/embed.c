/*
 * Embedding uebpf: an application exposes a hook of its own ("price_filter") to
 * user-supplied eBPF programs. It registers a helper the programs may call and a program
 * type whose context is the application's own struct, loads a program through the
 * libbpf-style bpf_prog_load(), and then calls it directly on each record, with no
 * test_run overhead.
 *
 *   build/examples/embed        runs the demo program over a few records
 */
#include <stdio.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>

/* The context the application hands to programs: read-only to them by convention. */
struct order {
	uint64_t price_cents;
	uint64_t quantity;
};

#define HELPER_FX_RATE 1000	/* our helper's id: outside the kernel's numbers */

/* fx_rate(currency) -> rate in basis points; a stand-in for an application service. */
static uint64_t fx_rate(uint64_t currency, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	return currency == 1 ? 9200 : 10000;
}

int main(void)
{
	const struct uebpf_helper helper = {
		.id = HELPER_FX_RATE, .name = "fx_rate", .fn = fx_rate,
		.ret = UEBPF_RET_INTEGER, .args = { UEBPF_ARG_ANYTHING },
	};
	const uint32_t allowed[] = { HELPER_FX_RATE };
	struct uebpf_prog_type_opts type = {
		.sz = sizeof(type), .name = "price_filter", .ctx_size = sizeof(struct order),
		.helper_ids = allowed, .helper_cnt = 1, .base_helpers = 1,
	};
	int err = uebpf_helper_register(&helper);
	int prog_type = uebpf_prog_type_register(&type);
	if (err || prog_type < 0) {
		fprintf(stderr, "registration failed: %d %d\n", err, prog_type);
		return 1;
	}

	/* The user's program: total = price * qty * fx_rate(1) / 10000; accept if < 1000.00 */
	struct bpf_insn prog[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = 6, .src_reg = 1, .off = 0 },
		{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = 7, .src_reg = 1, .off = 8 },
		{ .code = BPF_ALU64 | BPF_MUL | BPF_X, .dst_reg = 6, .src_reg = 7 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1, .imm = 1 },
		{ .code = BPF_JMP | BPF_CALL, .imm = HELPER_FX_RATE },
		{ .code = BPF_ALU64 | BPF_MUL | BPF_X, .dst_reg = 6, .src_reg = 0 },
		{ .code = BPF_ALU64 | BPF_DIV | BPF_K, .dst_reg = 6, .imm = 10000 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 },
		{ .code = BPF_JMP | BPF_JLT | BPF_K, .dst_reg = 6, .off = 1, .imm = 100000 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[1024] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int fd = bpf_prog_load((enum bpf_prog_type)prog_type, "price", "MIT", prog,
			       sizeof(prog) / sizeof(prog[0]), &opts);
	if (fd < 0) {
		fprintf(stderr, "load failed: %d\n%s", fd, log);
		return 1;
	}
	struct uebpf_prog *p = uebpf_prog_from_fd(fd);
	struct order orders[] = { { 2500, 3 }, { 99900, 2 }, { 50000, 2 }, { 1, 1 } };
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++)
		printf("order %zu: %llu cents x %llu -> %s\n", i,
		       (unsigned long long)orders[i].price_cents,
		       (unsigned long long)orders[i].quantity,
		       uebpf_prog_run(p, &orders[i]) ? "accept" : "reject");
	close(fd);
	return 0;
}
