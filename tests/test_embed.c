/* The embedding API: registered helpers and program types, direct runs. */
#include <errno.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "ut.h"

static uint64_t twice(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return a * 2;
}

#define CALL(id) { .code = BPF_JMP | BPF_CALL, .imm = (id) }
#define EXIT { .code = BPF_JMP | BPF_EXIT }

UT_TEST(register_and_run)
{
	const struct uebpf_helper h = { .id = 2000, .name = "twice", .fn = twice,
					.args = { UEBPF_ARG_ANYTHING } };
	UT_CHECK_EQ(uebpf_helper_register(&h), 0);
	UT_CHECK_EQ(uebpf_helper_register(&h), -EEXIST);	/* taken by the call above */
	const struct uebpf_helper kernel_id = { .id = BPF_FUNC_map_lookup_elem, .fn = twice };
	UT_CHECK_EQ(uebpf_helper_register(&kernel_id), -EEXIST);	/* a built-in helper */
	const struct uebpf_helper bad_arg = { .id = 2001, .fn = twice, .args = { 200 } };
	UT_CHECK_EQ(uebpf_helper_register(&bad_arg), -EINVAL);

	uint32_t ids[] = { 2000 };
	struct uebpf_prog_type_opts t = { .sz = sizeof(t), .name = "hook", .ctx_size = 8,
					  .helper_ids = ids, .helper_cnt = 1 };
	int type = uebpf_prog_type_register(&t);
	UT_CHECK(type >= 0x20000, "type id %d", type);

	/* r1 = *(u64 *)ctx; r0 = twice(r1); exit */
	struct bpf_insn p[] = { { .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = 1, .src_reg = 1 },
				CALL(2000), EXIT };
	int fd = bpf_prog_load((enum bpf_prog_type)type, "p", "GPL", p, 3, NULL);
	UT_CHECK(fd >= 0, "load %d", fd);
	uint64_t ctx = 21;
	UT_CHECK_EQ(uebpf_prog_run(uebpf_prog_from_fd(fd), &ctx), 42);
	close(fd);

	/* The same helper is not allowed to an XDP program, nor a kernel helper that is not
	 * a base helper to this type (base_helpers = 0). (r1 = 21 here: the verifier meets
	 * instructions in order, and XDP has no u64 at ctx + 0.) */
	char log[1024] = "";
	struct bpf_insn x[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1, .imm = 21 },
				CALL(2000), EXIT };
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	UT_CHECK_EQ(bpf_prog_load(BPF_PROG_TYPE_XDP, "p", "GPL", x, 3, &o), -EINVAL);
	UT_CHECK_STR(log, "cannot use helper bpf_twice#2000");
	struct bpf_insn k[] = { CALL(BPF_FUNC_ktime_get_ns), EXIT };
	UT_CHECK_EQ(bpf_prog_load((enum bpf_prog_type)type, "p", "GPL", k, 2, NULL), -EINVAL);
}

UT_TEST(checked_ctx_bounds)
{
	struct uebpf_prog_type_opts t = { .sz = sizeof(t), .name = "small", .ctx_size = 8 };
	int type = uebpf_prog_type_register(&t);
	/* Reads the u64 just past the 8-byte context: a checked run must refuse it. */
	struct bpf_insn p[] = { { .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = 0, .src_reg = 1,
				  .off = 8 }, EXIT };
	/* The verifier refuses it; unverified, it loads and runs in checked mode. */
	UT_CHECK_EQ(bpf_prog_load((enum bpf_prog_type)type, "p", "GPL", p, 2, NULL), -EACCES);
	LIBBPF_OPTS(bpf_prog_load_opts, o, .prog_flags = UEBPF_F_PROG_UNVERIFIED);
	int fd = bpf_prog_load((enum bpf_prog_type)type, "p", "GPL", p, 2, &o);
	UT_CHECK(fd >= 0, "load %d", fd);
	uint64_t ctx[2] = { 1, 2 };
	char err[256] = "";
	struct uebpf_run_opts r = { .sz = sizeof(r), .ctx = ctx, .ctx_size = 8, .err_buf = err,
				    .err_size = sizeof(err) };
	UT_CHECK_EQ(uebpf_prog_run_opts(uebpf_prog_from_fd(fd), &r), -EFAULT);
	UT_CHECK_STR(err, "invalid load of 8 bytes");
	UT_CHECK(uebpf_prog_from_fd(-1) == NULL, "fd -1 is no program");
	close(fd);
}
