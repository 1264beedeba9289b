/*
 * ub_vm: loading programs and running them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "vm/vm.h"

static int build_helper_table(struct uebpf_prog *prog, const struct uebpf_helper *h, size_t n)
{
	uint32_t max = 0;

	for (size_t i = 0; i < n; i++)
		if (h[i].fn && h[i].id + 1 > max)
			max = h[i].id + 1;
	prog->helper_fn = calloc(max ? max : 1, sizeof(*prog->helper_fn));
	if (!prog->helper_fn)
		return -ENOMEM;
	prog->helper_cnt = max;
	for (size_t i = 0; i < n; i++)
		if (h[i].fn)
			prog->helper_fn[h[i].id] = h[i].fn;
	return 0;
}

/* Calls must name a helper the program has, and kfuncs have no user-space meaning yet. */
static int check_calls(const struct uebpf_prog *prog, struct ub_log *log)
{
	for (size_t i = 0; i < prog->cnt; i++) {
		const struct bpf_insn *in = &prog->insns[i];
		int op = ub_isa_lookup(in);
		const char *why = NULL;

		if (op == UB_OP_CALL && ((uint32_t)in->imm >= prog->helper_cnt ||
					 !prog->helper_fn[in->imm]))
			why = "call to an unknown helper";
		else if (op == UB_OP_CALL_KFUNC)
			why = "kfunc calls are not supported in user space";
		if (why) {
			ub_isa_log_insn(log, prog->insns, prog->cnt, i);
			ub_log_printf(log, ": %s\n", why);
			return op == UB_OP_CALL_KFUNC ? -EOPNOTSUPP : -EINVAL;
		}
		if (ub_ops[op].fmt == UB_FMT_LDDW)
			i++;
	}
	return 0;
}

static int prog_init(struct uebpf_prog *prog, const struct bpf_insn *insns, size_t cnt,
		     const struct uebpf_prog_opts *opts, struct ub_log *log)
{
	const struct uebpf_helper *h = ub_default_helpers;
	size_t hn = ub_default_helper_cnt;
	int err;

	if (opts && opts->helpers) {
		h = opts->helpers;
		hn = opts->helper_cnt;
	}
	prog->cnt = cnt;
	prog->insns = malloc(cnt * sizeof(*insns));
	if (!prog->insns)
		return -ENOMEM;
	memcpy(prog->insns, insns, cnt * sizeof(*insns));
	prog->flags = opts ? opts->flags : 0;
	prog->budget = opts && opts->insn_budget ? opts->insn_budget : UB_DEFAULT_BUDGET;
	/* Until the verifier exists, only an explicit TRUSTED flag runs without checks. */
	prog->checked = !(prog->flags & UEBPF_PROG_F_TRUSTED);
	err = build_helper_table(prog, h, hn);
	if (!err)
		err = check_calls(prog, log);
	if (!err)
		err = ub_interp_prepare(prog, prog->checked, log);
	return err;
}

int uebpf_prog_new(const struct bpf_insn *insns, size_t insn_cnt,
		   const struct uebpf_prog_opts *opts, struct uebpf_prog **progp)
{
	struct ub_log log;
	struct uebpf_prog *prog;
	int err;

	if (!progp || (!insns && insn_cnt) || !UEBPF_OPTS_VALID(opts, uebpf_prog_opts))
		return -EINVAL;
	*progp = NULL;
	ub_log_init(&log, opts ? opts->log_buf : NULL, opts ? opts->log_size : 0);
	if (opts && opts->engine == UEBPF_ENGINE_JIT) {
		ub_log_printf(&log, "JIT not available\n");
		return -EOPNOTSUPP;
	}
	if (insn_cnt > (1u << 20)) {
		ub_log_printf(&log, "program of %zu instructions is too large (limit %u)\n",
			      insn_cnt, 1u << 20);
		return -E2BIG;
	}
	err = ub_isa_validate(insns, insn_cnt, &log);
	if (err)
		return err;
	prog = calloc(1, sizeof(*prog));
	if (!prog)
		return -ENOMEM;
	err = prog_init(prog, insns, insn_cnt, opts, &log);
	if (err) {
		uebpf_prog_free(prog);
		return err;
	}
	*progp = prog;
	return 0;
}

void uebpf_prog_free(struct uebpf_prog *prog)
{
	if (!prog)
		return;
	free(prog->code);
	free(prog->helper_fn);
	free(prog->insns);
	free(prog);
}

int uebpf_prog_run_opts(struct uebpf_prog *prog, struct uebpf_run_opts *opts)
{
	struct ub_run run = { 0 };
	struct ub_run *saved = ub_run_cur;
	uint64_t r0 = 0;
	int err;

	if (!prog || !opts || !UEBPF_OPTS_VALID(opts, uebpf_run_opts))
		return -EINVAL;
	run.prog = prog;
	run.ctx = opts->ctx;
	run.ctx_size = opts->ctx ? opts->ctx_size : 0;
	run.pkt = opts->data ? opts->data : opts->ctx;
	run.pkt_size = opts->data ? opts->data_size : run.ctx_size;
	run.budget = prog->budget;
	ub_log_init(&run.err, opts->err_buf, opts->err_size);
	if (opts->data && opts->data_size) {
		run.regions[run.nregions++] = (struct ub_region){
			.start = (uintptr_t)opts->data, .size = opts->data_size, .writable = 1 };
	}
	ub_run_cur = &run;
	if (prog->checked)
		err = ub_interp_run_checked(prog, &run, (uintptr_t)opts->ctx, run.ctx_size, &r0);
	else
		err = ub_interp_run_fast(prog, &run, (uintptr_t)opts->ctx, run.ctx_size, &r0);
	ub_run_cur = saved;
	opts->retval = r0;
	return err;
}

uint64_t uebpf_prog_run(const struct uebpf_prog *prog, void *ctx)
{
	struct ub_run run = { .prog = prog, .ctx = ctx, .budget = prog->budget };
	struct ub_run *saved = ub_run_cur;
	uint64_t r0 = 0;

	ub_run_cur = &run;
	if (prog->checked)
		ub_interp_run_checked(prog, &run, (uintptr_t)ctx, 0, &r0);
	else
		ub_interp_run_fast(prog, &run, (uintptr_t)ctx, 0, &r0);
	ub_run_cur = saved;
	return r0;
}
