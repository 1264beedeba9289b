/*
 * ub_vcfg: the program's shape before any state is tracked. Subprograms (targets of
 * local calls and of lddw func), jumps that stay inside their subprogram, every
 * instruction reachable, prune points (where states are compared), and a static
 * register liveness (which registers an instruction's continuation may read) that lets
 * state comparison ignore dead registers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helpers/helpers.h"
#include "progs/progs.h"
#include "verifier/env.h"

/* ---- Subprograms ---- */

static int add_subprog(struct ub_venv *env, int off)
{
	if (off < 0 || off >= env->cnt) {
		ub_vlog(env, "call to invalid destination\n");
		return -EINVAL;
	}
	if (ub_vcall_find_subprog(env, off) >= 0)
		return 0;
	if (env->nsubs >= UB_MAX_SUBPROGS) {
		ub_vlog(env, "too many subprograms\n");
		return -E2BIG;
	}
	int i = env->nsubs++;
	while (i > 0 && env->subs[i - 1].start > off) {	/* keep them sorted by start */
		env->subs[i] = env->subs[i - 1];
		i--;
	}
	memset(&env->subs[i], 0, sizeof(env->subs[i]));
	env->subs[i].start = off;
	return 0;
}

static bool is_pseudo_call(const struct bpf_insn *in)
{
	return in->code == (BPF_JMP | BPF_CALL) && in->src_reg == BPF_PSEUDO_CALL;
}

static bool is_pseudo_func(const struct bpf_insn *in)
{
	return in->code == (BPF_LD | BPF_IMM | BPF_DW) && in->src_reg == BPF_PSEUDO_FUNC;
}

static int find_subprogs(struct ub_venv *env)
{
	int err = add_subprog(env, 0);

	for (int i = 0; !err && i < env->cnt; i++) {
		const struct bpf_insn *in = &env->insns[i];
		if (is_pseudo_call(in) || is_pseudo_func(in))
			err = add_subprog(env, ub_vtarget(i, in->imm));
		if (ub_isa_is_lddw(in))
			env->aux[++i].is_lddw_hi = 1;
	}
	env->subs[env->nsubs].start = env->cnt;	/* a sentinel: the end of the last one */
	return err;
}

static bool is_jump(const struct bpf_insn *in)
{
	uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);

	return (cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_EXIT && op != BPF_CALL;
}

static int jump_target(const struct bpf_insn *in, int i)
{
	return ub_vtarget(i, in->code == (BPF_JMP32 | BPF_JA) ? in->imm : in->off);
}

/* Jumps stay in their subprogram, and none falls through into the next one. */
static int check_subprogs(struct ub_venv *env)
{
	int cur = 0, start = env->subs[0].start, end = env->subs[1].start;

	for (int i = 0; i < env->cnt; i++) {
		const struct bpf_insn *in = &env->insns[i];
		if (in->code == (BPF_JMP | BPF_CALL) && in->src_reg == 0 && in->imm == BPF_FUNC_tail_call)
			env->subs[cur].has_tail_call = 1;
		if (BPF_CLASS(in->code) == BPF_LD &&
		    (BPF_MODE(in->code) == BPF_ABS || BPF_MODE(in->code) == BPF_IND))
			env->subs[cur].has_ld_abs = 1;
		if (is_jump(in) && !env->aux[i].is_lddw_hi) {
			int t = jump_target(in, i);
			if (t < start || t >= end) {
				ub_vlog(env, "jump out of range from insn %d to %d\n", i, t);
				return -EINVAL;
			}
		}
		if (i != end - 1)
			continue;
		if (in->code != (BPF_JMP | BPF_EXIT) && in->code != (BPF_JMP32 | BPF_JA) &&
		    in->code != (BPF_JMP | BPF_JA)) {
			ub_vlog(env, "last insn is not an exit or jmp\n");
			return -EINVAL;
		}
		start = end;
		if (++cur < env->nsubs)
			end = env->subs[cur + 1].start;
	}
	return 0;
}

/* Without BTF func_info, tail calls and LD_ABS are allowed in the main program only. */
static int check_abnormal_return(struct ub_venv *env)
{
	for (int i = 1; i < env->nsubs; i++) {
		if (env->subs[i].has_ld_abs) {
			ub_vlog(env, "LD_ABS is not allowed in subprogs without BTF\n");
			return -EINVAL;
		}
		if (env->subs[i].has_tail_call) {
			ub_vlog(env, "tail_call is not allowed in subprogs without BTF\n");
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- Depth-first walk: reachability and prune points ---- */

enum { DISCOVERED = 0x10, EXPLORED = 0x20, FALLTHROUGH = 1, BRANCH = 2 };

struct dfs {
	int *state;
	int *stack;
	int sp;
};

/* 1: w pushed (keep exploring), 0: edge done, < 0: error. */
static int push_edge(struct ub_venv *env, struct dfs *d, int t, int w, int e)
{
	if (e == FALLTHROUGH && d->state[t] >= (DISCOVERED | FALLTHROUGH))
		return 0;
	if (e == BRANCH && d->state[t] >= (DISCOVERED | BRANCH))
		return 0;
	if (w < 0 || w >= env->cnt) {
		ub_vlog(env, "jump out of range from insn %d to %d\n", t, w);
		return -EINVAL;
	}
	if (e == BRANCH)
		env->aux[w].prune = 1;
	if (d->state[w] == 0) {
		d->state[t] = DISCOVERED | e;
		d->state[w] = DISCOVERED;
		if (d->sp >= env->cnt)
			return -E2BIG;
		d->stack[d->sp++] = w;
		return 1;
	}
	if ((d->state[w] & 0xf0) == DISCOVERED)
		return 0;	/* a back edge: bounded loops are allowed (bpf_capable) */
	d->state[t] = DISCOVERED | e;	/* forward or cross edge */
	return 0;
}

static bool calls_callback(const struct bpf_insn *in)
{
	return in->code == (BPF_JMP | BPF_CALL) && in->src_reg == 0 &&
	       (in->imm == BPF_FUNC_loop || in->imm == BPF_FUNC_for_each_map_elem);
}

static int visit_call(struct ub_venv *env, struct dfs *d, int t, bool callee)
{
	const struct bpf_insn *in = &env->insns[t];
	int sz = ub_isa_is_lddw(in) ? 2 : 1;
	int ret = push_edge(env, d, t, t + sz, FALLTHROUGH);

	if (ret)
		return ret;
	env->aux[t + sz].prune = 1;
	if (!callee)
		return 0;
	env->aux[t].prune = 1;
	return push_edge(env, d, t, ub_vtarget(t, in->imm), BRANCH);
}

static int visit(struct ub_venv *env, struct dfs *d, int t)
{
	const struct bpf_insn *in = &env->insns[t];
	uint8_t cls = BPF_CLASS(in->code);

	if (is_pseudo_func(in))
		return visit_call(env, d, t, true);
	if (cls != BPF_JMP && cls != BPF_JMP32)
		return push_edge(env, d, t, t + (ub_isa_is_lddw(in) ? 2 : 1), FALLTHROUGH);
	switch (BPF_OP(in->code)) {
	case BPF_EXIT:
		return 0;
	case BPF_CALL:
		if (calls_callback(in)) {
			env->aux[t].calls_cb = 1;
			env->aux[t].force_ckpt = 1;
			env->aux[t].prune = 1;
		}
		return visit_call(env, d, t, in->src_reg == BPF_PSEUDO_CALL);
	case BPF_JA: {
		int w = jump_target(in, t), ret = push_edge(env, d, t, w, FALLTHROUGH);
		if (ret)
			return ret;
		env->aux[w].prune = 1;
		return 0;
	}
	default: {
		env->aux[t].prune = 1;
		int ret = push_edge(env, d, t, t + 1, FALLTHROUGH);
		return ret ? ret : push_edge(env, d, t, ub_vtarget(t, in->off), BRANCH);
	}
	}
}

static int walk(struct ub_venv *env, struct dfs *d)
{
	d->state[0] = DISCOVERED;
	d->stack[0] = 0;
	d->sp = 1;
	while (d->sp > 0) {
		int t = d->stack[d->sp - 1], ret = visit(env, d, t);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			d->state[t] = EXPLORED;
			d->sp--;
		}
	}
	for (int i = 0; i < env->cnt; i++) {
		if (d->state[i] != EXPLORED) {
			ub_vlog(env, "unreachable insn %d\n", i);
			return -EINVAL;
		}
		if (ub_isa_is_lddw(&env->insns[i])) {
			if (i + 1 < env->cnt && d->state[i + 1] != 0) {
				ub_vlog(env, "jump into the middle of ldimm64 insn %d\n", i);
				return -EINVAL;
			}
			i++;
		}
	}
	return 0;
}

static int check_cfg(struct ub_venv *env)
{
	struct dfs d = { .state = calloc((size_t)env->cnt, sizeof(int)),
			 .stack = calloc((size_t)env->cnt, sizeof(int)) };
	int err = d.state && d.stack ? walk(env, &d) : -ENOMEM;

	free(d.state);
	free(d.stack);
	return err;
}

/* ---- Static register liveness ---- */

#define ALL_REGS	0x3ffu	/* r0..r9; r10 is read-only and always exact */
#define ARG_REGS	0x3eu	/* r1..r5 */
#define CALLER_SAVED	0x3fu	/* r0..r5 */

static uint16_t bit(int r)
{
	return r < UB_REG_FP ? (uint16_t)(1u << r) : 0;
}

static uint16_t helper_uses(int32_t id)
{
	const struct ub_helper_def *d = id >= 0 ? ub_helper_find((uint32_t)id) : NULL;
	uint16_t m = 0;

	if (!d)
		return ARG_REGS;
	for (int i = 0; i < 5 && d->args[i] != UB_ARG_NONE; i++)
		m |= bit(i + 1);
	return m;
}

/* Registers an instruction reads (*use) and writes (*def). */
static void use_def(const struct bpf_insn *in, uint16_t *use, uint16_t *def)
{
	uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code), mode = BPF_MODE(in->code);

	*use = *def = 0;
	switch (cls) {
	case BPF_ALU: case BPF_ALU64:
		*def = bit(in->dst_reg);
		if (op == BPF_MOV) {
			*use = BPF_SRC(in->code) == BPF_X ? bit(in->src_reg) : 0;
			return;
		}
		*use = bit(in->dst_reg) | (BPF_SRC(in->code) == BPF_X && op != BPF_NEG &&
					   op != BPF_END ? bit(in->src_reg) : 0);
		return;
	case BPF_LDX:
		*use = bit(in->src_reg);
		*def = bit(in->dst_reg);
		return;
	case BPF_ST:
		*use = bit(in->dst_reg);
		return;
	case BPF_STX:
		*use = bit(in->dst_reg) | bit(in->src_reg);
		if (mode == BPF_ATOMIC && in->imm == BPF_CMPXCHG) {
			*use |= bit(0);
			*def = bit(0);
		} else if (mode == BPF_ATOMIC && (in->imm & BPF_FETCH)) {
			*def = bit(in->src_reg);
		}
		return;
	case BPF_LD:
		if (mode == BPF_IMM) {
			*def = bit(in->dst_reg);
			return;
		}
		*use = bit(6) | (mode == BPF_IND ? bit(in->src_reg) : 0);
		*def = CALLER_SAVED;
		return;
	default:
		break;
	}
	if (op == BPF_EXIT) {
		*use = bit(0);
	} else if (op == BPF_CALL) {
		*use = in->src_reg == 0 ? helper_uses(in->imm) : ARG_REGS;
		*def = CALLER_SAVED;
	} else if (op != BPF_JA) {
		*use = bit(in->dst_reg) | (BPF_SRC(in->code) == BPF_X ? bit(in->src_reg) : 0);
	}
}

/* live_out of insn i: the union of its successors' live_in. */
static uint16_t live_out(const struct ub_venv *env, int i)
{
	const struct bpf_insn *in = &env->insns[i];
	uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
	int next = i + (ub_isa_is_lddw(in) ? 2 : 1);
	uint16_t m = 0;

	if ((cls == BPF_JMP || cls == BPF_JMP32) && op == BPF_EXIT)
		return 0;
	if (is_jump(in)) {
		int t = jump_target(in, i);
		if (t >= 0 && t < env->cnt)
			m |= env->aux[t].live_in;
		if (op == BPF_JA)
			return m;
	}
	if (next < env->cnt)
		m |= env->aux[next].live_in;
	return m;
}

/* Backward dataflow to a fixed point; if it does not settle (or memory is short),
 * everything is live. Uses and definitions are computed once (a helper's arguments
 * come from a table lookup), the passes then only combine bit masks. */
static void compute_liveness(struct ub_venv *env)
{
	uint16_t *ud = malloc(2 * (size_t)env->cnt * sizeof(*ud));
	bool changed = ud != NULL;

	for (int i = 0; ud && i < env->cnt; i++)
		use_def(&env->insns[i], &ud[2 * i], &ud[2 * i + 1]);
	for (int pass = 0; changed && pass < 64; pass++) {
		changed = false;
		for (int i = env->cnt - 1; i >= 0; i--) {
			if (env->aux[i].is_lddw_hi)
				continue;
			uint16_t in = (uint16_t)(ud[2 * i] | (live_out(env, i) & ~ud[2 * i + 1]));
			if (in != env->aux[i].live_in) {
				env->aux[i].live_in = in;
				changed = true;
			}
		}
	}
	for (int i = 0; (changed || !ud) && i < env->cnt; i++)
		env->aux[i].live_in = ALL_REGS;
	free(ud);
}

uint16_t ub_vcfg_live(const struct ub_venv *env, const struct ub_vstate *st, int frame)
{
	if (frame == st->curframe)
		return env->aux[st->insn_idx].live_in;
	const struct ub_vframe *callee = st->frame[frame + 1];
	int cs = callee->callsite;
	/* a callback returns to its helper call; a subprogram to the next instruction,
	 * where only the callee-saved r6..r9 of the caller survive */
	if (callee->in_callback)
		return env->aux[cs].live_in;
	return env->aux[cs + 1].live_in & 0x3c0;
}

/* Level 2 lists the subprograms and the registers live before each instruction. */
static void log_subprogs(struct ub_venv *env)
{
	for (int i = 0; env->log.level & 2 && i < env->nsubs; i++)
		ub_vlog(env, "func#%d @%d\n", i, env->subs[i].start);
}

static void log_liveness(struct ub_venv *env)
{
	if (!(env->log.level & 2))
		return;
	ub_vlog(env, "Live regs before insn:\n");
	for (int i = 0; i < env->cnt; i++) {
		char live[11], text[128];
		for (int r = 0; r < 10; r++)
			live[r] = env->aux[i].live_in & (1u << r) ? (char)('0' + r) : '.';
		live[10] = '\0';
		if (ub_disasm_insn(env->insns, (size_t)env->cnt, (size_t)i, UB_SYNTAX_LLVM, text,
				   sizeof(text)) < 0)
			snprintf(text, sizeof(text), "(bad)");
		ub_vlog(env, "    %3d: %s (%02x) %s\n", i, live, env->insns[i].code, text);
		if (ub_isa_is_lddw(&env->insns[i]))
			i++;
	}
}

int ub_vcfg_check(struct ub_venv *env)
{
	int err = ub_vbtf_early(env);

	if (!err)
		err = find_subprogs(env);
	log_subprogs(env);
	if (!err)
		err = check_subprogs(env);
	if (!err)
		err = ub_vbtf_check(env);
	if (!err && !env->has_func_info)
		err = check_abnormal_return(env);
	if (!err)
		err = ub_vinsn_prepass(env);
	if (!err)
		err = check_cfg(env);
	if (!err) {
		compute_liveness(env);
		log_liveness(env);
	}
	return err;
}

/* ---- Stack depth over call chains (check_max_stack_depth) ---- */

static int round_depth(int depth)
{
	return (depth + 15) & ~15;	/* the JIT's granularity */
}

/*
 * Tracing programs without tail calls get a private stack per subprogram (the x86 JIT
 * of recent kernels): a subprogram of 64 bytes or more then stops counting toward the
 * combined depth.
 */
static bool private_stacks(const struct ub_venv *env)
{
	switch (env->req->pt->type) {
	case BPF_PROG_TYPE_KPROBE: case BPF_PROG_TYPE_TRACEPOINT: case BPF_PROG_TYPE_PERF_EVENT:
	case BPF_PROG_TYPE_RAW_TRACEPOINT:
		break;
	default:
		return false;
	}
	for (int i = 0; i < env->nsubs; i++)
		if (env->subs[i].has_tail_call)
			return false;
	return true;
}

static int sub_depth(const struct ub_venv *env, int idx, bool priv)
{
	int d = round_depth(env->subs[idx].stack_depth);

	return priv && d >= 64 ? 0 : d;
}

int ub_vcfg_max_stack(struct ub_venv *env)
{
	int ret_insn[UB_MAX_FRAMES], ret_sub[UB_MAX_FRAMES];
	int depth = 0, frame = 0, idx = 0, i = 0;
	bool priv = private_stacks(env);

	depth += sub_depth(env, 0, priv);
	if (depth > UB_STACK_SIZE)
		goto too_large;
	for (int guard = 0; guard < env->cnt * UB_MAX_FRAMES + 16; guard++) {
		for (; i < env->subs[idx + 1].start; i++) {
			const struct bpf_insn *in = &env->insns[i];
			if (!is_pseudo_call(in) && !is_pseudo_func(in))
				continue;
			/* callbacks run on top of the helper's caller: they count too */
			int sidx = ub_vcall_find_subprog(env, ub_vtarget(i, in->imm));
			if (sidx < 0)
				continue;
			ret_insn[frame] = i + 1;
			ret_sub[frame] = idx;
			if (++frame >= UB_MAX_FRAMES) {
				ub_vlog(env, "the call stack of %d frames is too deep !\n", frame);
				return -E2BIG;
			}
			idx = sidx;
			i = env->subs[idx].start;
			if (env->subs[idx].has_tail_call && depth >= 256) {
				ub_vlog(env, "tail_calls are not allowed when call stack of previous frames is %d bytes. Too large\n",
					depth);
				return -EACCES;
			}
			depth += sub_depth(env, idx, priv);
			if (depth > UB_STACK_SIZE)
				goto too_large;
			i--;	/* the loop's i++ lands on the callee's first insn */
		}
		if (frame == 0)
			return 0;
		depth -= sub_depth(env, idx, priv);
		frame--;
		i = ret_insn[frame];
		idx = ret_sub[frame];
	}
	return 0;
too_large:
	ub_vlog(env, "combined stack size of %d calls is %d. Too large\n", frame + 1, depth);
	return -EACCES;
}
