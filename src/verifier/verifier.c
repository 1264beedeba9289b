/*
 * ub_ver: the verifier's main loop (the kernel's do_check). Paths are explored depth
 * first: the current state walks instructions; at a conditional jump one side is pushed
 * on a stack of pending paths; a path ends at the program's exit or when pruning finds
 * an equivalent state already proven safe. Every instruction processed counts toward the
 * kernel's limit of one million.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "maps/map.h"
#include "progs/progs.h"
#include "verifier/env.h"

#define INSN_LIMIT	1000000u	/* BPF_COMPLEXITY_LIMIT_INSNS */
#define JMP_SEQ_LIMIT	8192		/* BPF_COMPLEXITY_LIMIT_JMP_SEQ */

/* ---- Pending paths ---- */

struct ub_vstate *ub_ver_push(struct ub_venv *env, int insn_idx, int prev_insn_idx)
{
	struct ub_vstack_elem *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->insn_idx = insn_idx;
	e->prev_insn_idx = prev_insn_idx;
	e->log_pos = ub_vlog_pos(env);
	e->next = env->head;
	env->head = e;
	env->stack_size++;
	if (ub_vst_copy(&e->st, env->cur))
		return NULL;
	if (env->stack_size > JMP_SEQ_LIMIT) {
		ub_vlog(env, "The sequence of %d jumps is too complex.\n", env->stack_size);
		return NULL;
	}
	if (e->st.parent)
		e->st.parent->branches++;
	return &e->st;
}

/* 0 and the next path in env->cur, or -ENOENT when none is left. */
static int pop(struct ub_venv *env, int *insn_idx, int *prev_insn_idx)
{
	struct ub_vstack_elem *e = env->head;

	if (!e)
		return -ENOENT;
	int err = ub_vst_copy(env->cur, &e->st);
	if (!(env->log.level & 2))
		ub_vlog_reset(env, e->log_pos);	/* level 1 keeps the failing path only */
	env->prev_linfo = NULL;	/* the next path prints its source line again */
	*insn_idx = e->insn_idx;
	*prev_insn_idx = e->prev_insn_idx;
	env->head = e->next;
	env->stack_size--;
	ub_vst_free(&e->st);
	free(e);
	return err;
}

static void free_stack(struct ub_venv *env)
{
	while (env->head) {
		struct ub_vstack_elem *n = env->head->next;
		ub_vst_free(&env->head->st);
		free(env->head);
		env->head = n;
	}
}

/* ---- Instructions with no module of their own ---- */

/* One instruction must see one kind of pointer on every path (ctx vs others); so must
 * a load from a map pointer, which the loader rewrites (see map_ptr_access in mem.c). */
static bool mismatch_ok(uint16_t type)
{
	switch (VT_BASE(type)) {
	case VT_CTX: case VT_SOCKET: case VT_SOCK_COMMON: case VT_TCP_SOCK: case VT_XDP_SOCK:
	case VT_BTF_ID: case VT_MAP_PTR:
		return false;
	default:
		return true;
	}
}

static int save_ptr_type(struct ub_venv *env, uint16_t type)
{
	uint16_t *prev = &env->aux[env->insn_idx].ptr_type;

	if (!*prev) {
		*prev = type;
	} else if (type != *prev && (!mismatch_ok(type) || !mismatch_ok(*prev))) {
		ub_vlog(env, "same insn cannot be used with different pointers\n");
		return -EINVAL;
	}
	return 0;
}

static int do_ldx(struct ub_venv *env, const struct bpf_insn *insn)
{
	struct ub_vreg *regs = ub_vst_regs(env);
	int err;

	if ((err = ub_vst_check_reg(env, insn->src_reg, SRC_OP)) ||
	    (err = ub_vst_check_reg(env, insn->dst_reg, DST_OP_NO_MARK)))
		return err;
	uint16_t type = regs[insn->src_reg].type;
	err = ub_vmem_access(env, env->insn_idx, insn->src_reg, insn->off,
			     (int)ub_isa_size(insn->code), false, insn->dst_reg, false,
			     BPF_MODE(insn->code) == BPF_MEMSX);
	if (!err)
		err = save_ptr_type(env, type);
	if (!err)
		ub_bnd_sanitize(&regs[insn->dst_reg]);
	return err;
}

static int do_store(struct ub_venv *env, const struct bpf_insn *insn)
{
	struct ub_vreg *regs = ub_vst_regs(env);
	bool stx = BPF_CLASS(insn->code) == BPF_STX;
	int err;

	if (stx && BPF_MODE(insn->code) == BPF_ATOMIC)
		return ub_vmem_atomic(env, env->insn_idx, insn);
	if (stx && (err = ub_vst_check_reg(env, insn->src_reg, SRC_OP)))
		return err;
	if ((err = ub_vst_check_reg(env, insn->dst_reg, SRC_OP)))
		return err;
	uint16_t type = regs[insn->dst_reg].type;
	err = ub_vmem_access(env, env->insn_idx, insn->dst_reg, insn->off,
			     (int)ub_isa_size(insn->code), true, stx ? insn->src_reg : -1, false, false);
	return err ? err : save_ptr_type(env, type);
}

static const struct ub_map *find_map(struct ub_venv *env, uint64_t addr, bool value,
				     uint32_t *off)
{
	for (uint32_t i = 0; i < env->req->nr_maps; i++) {
		const struct ub_map *m = env->req->maps[i];
		if (!value && (uintptr_t)m == addr)
			return m;
		if (value && addr >= (uintptr_t)m->data && addr < (uintptr_t)m->data + m->value_size) {
			*off = (uint32_t)(addr - (uintptr_t)m->data);
			return m;
		}
	}
	return NULL;
}

static int do_ld_imm(struct ub_venv *env, const struct bpf_insn *insn)
{
	struct ub_vreg *dst = &ub_vst_regs(env)[insn->dst_reg];
	uint64_t imm = ((uint64_t)(uint32_t)insn[1].imm << 32) | (uint32_t)insn->imm;
	uint32_t off = 0;
	int err = ub_vst_check_reg(env, insn->dst_reg, DST_OP);

	if (err)
		return err;
	switch (insn->src_reg) {
	case 0:
		ub_vst_mark_const(dst, imm);
		return 0;
	case BPF_PSEUDO_FUNC: {
		int sub = ub_vcall_find_subprog(env, ub_vtarget(env->insn_idx, insn->imm));
		if (sub < 0)
			break;
		ub_vst_mark_ptr(dst, VT_FUNC);
		dst->subprog = (uint32_t)sub;
		return 0;
	}
	case BPF_PSEUDO_MAP_FD: case BPF_PSEUDO_MAP_IDX:
		ub_vst_mark_ptr(dst, VT_MAP_PTR);
		if (!(dst->map = find_map(env, imm, false, &off)))
			break;
		return 0;
	case BPF_PSEUDO_MAP_VALUE: case BPF_PSEUDO_MAP_IDX_VALUE:
		ub_vst_mark_ptr(dst, VT_MAP_VALUE);
		if (!(dst->map = find_map(env, imm, true, &off)))
			break;
		dst->off = (int32_t)off;
		return 0;
	default:
		break;
	}
	ub_vlog(env, "bpf verifier is misconfigured\n");
	return -EINVAL;
}

static bool may_access_skb(uint32_t type)
{
	return type == BPF_PROG_TYPE_SOCKET_FILTER || type == BPF_PROG_TYPE_SCHED_CLS ||
	       type == BPF_PROG_TYPE_SCHED_ACT;
}

/* LD_ABS/LD_IND: a helper call in disguise that reads the packet through r6 = ctx. */
static int do_ld_abs(struct ub_venv *env, const struct bpf_insn *insn)
{
	struct ub_vreg *regs = ub_vst_regs(env);
	int err;

	if (!may_access_skb(env->req->pt->type)) {
		ub_vlog(env, "BPF_LD_[ABS|IND] instructions not allowed for this program type\n");
		return -EINVAL;
	}
	if ((err = ub_vst_check_reg(env, 6, SRC_OP)))
		return err;
	/* it may end the program: nothing may be held */
	if ((err = ub_vcall_leaks(env, true, true, "BPF_LD_[ABS|IND]")))
		return err;
	if (regs[6].type != VT_CTX) {
		ub_vlog(env, "at the time of BPF_LD_ABS|IND R6 != pointer to skb\n");
		return -EINVAL;
	}
	if (BPF_MODE(insn->code) == BPF_IND && (err = ub_vst_check_reg(env, insn->src_reg, SRC_OP)))
		return err;
	if ((err = ub_vmem_check_ptr_off(env, &regs[6], 6, false)))
		return err;
	for (int i = 0; i <= 5; i++)
		ub_vst_mark_not_init(&regs[i]);
	ub_vst_mark_unknown(&regs[0]);
	return 0;
}

static int do_call(struct ub_venv *env, const struct bpf_insn *insn)
{
	if (env->cur->active_locks && (insn->src_reg != 0 || insn->imm != BPF_FUNC_spin_unlock)) {
		ub_vlog(env, "function calls are not allowed while holding a lock\n");
		return -EINVAL;
	}
	if (insn->src_reg == BPF_PSEUDO_CALL)
		return ub_vcall_func(env, insn, &env->insn_idx);
	if (insn->src_reg == BPF_PSEUDO_KFUNC_CALL) {
		ub_vlog(env, "calling kernel functions is not supported\n");
		return -EINVAL;
	}
	return ub_vcall_helper(env, insn, &env->insn_idx);
}

/* The main program's exit: references released, r0 set (and in range, per type). */
static int main_exit(struct ub_venv *env)
{
	int err = ub_vcall_leaks(env, true, true, "BPF_EXIT instruction in main prog");

	if (err || (err = ub_vst_check_reg(env, 0, SRC_OP)))
		return err;
	/* a global function runs as frame 0 of its own verification: it returns a scalar */
	const struct ub_vreg *r0 = &ub_vst_regs(env)[0];
	if (env->cur->frame[0]->subprog && r0->type != VT_SCALAR) {
		char t[48];
		ub_vlog(env, "At subprogram exit the register R0 is not a scalar value (%s)\n",
			ub_vst_type_str(r0->type, t, sizeof(t)));
		return -EINVAL;
	}
	return 0;
}

/* ---- The loop ---- */

enum { STEP_NEXT, STEP_JUMPED, STEP_PATH_END };

static int step_jmp(struct ub_venv *env, const struct bpf_insn *insn, int *step)
{
	uint8_t op = BPF_OP(insn->code);

	env->jmps_processed++;
	if (op == BPF_CALL)
		return do_call(env, insn);
	if (op == BPF_JA) {
		env->insn_idx += (BPF_CLASS(insn->code) == BPF_JMP ? insn->off : insn->imm) + 1;
		*step = STEP_JUMPED;
		return 0;
	}
	if (op != BPF_EXIT)
		return ub_vjmp_cond(env, insn, &env->insn_idx);
	if (env->cur->curframe) {
		int err = ub_vcall_leaks(env, false, false, "BPF_EXIT instruction in main prog");
		if (!err)
			err = ub_vcall_exit(env, &env->insn_idx);
		*step = STEP_JUMPED;
		return err;
	}
	*step = STEP_PATH_END;
	return main_exit(env);
}

/* Processes env->insn_idx; *step says where to go next. */
static int step(struct ub_venv *env, int *step)
{
	const struct bpf_insn *insn = &env->insns[env->insn_idx];
	struct ub_vaux *aux = &env->aux[env->insn_idx];
	/* the fields never change: checked the first time a path reaches the instruction */
	int err = aux->fields_ok ? 0 : ub_vinsn_fields(env, insn);

	aux->fields_ok = !err;
	*step = STEP_NEXT;
	if (err)
		return err;
	switch (BPF_CLASS(insn->code)) {
	case BPF_ALU: case BPF_ALU64:
		return ub_valu_check(env, insn);
	case BPF_LDX:
		return do_ldx(env, insn);
	case BPF_STX: case BPF_ST:
		return do_store(env, insn);
	case BPF_JMP: case BPF_JMP32:
		return step_jmp(env, insn, step);
	default:
		if (BPF_MODE(insn->code) != BPF_IMM)
			return do_ld_abs(env, insn);
		env->aux[env->insn_idx + 1].seen = 1;
		err = do_ld_imm(env, insn);
		env->insn_idx++;
		return err;
	}
}

/* At a prune point: 1 if this path is already proven safe. */
static int try_prune(struct ub_venv *env, bool from_pop)
{
	int ret = ub_vprune_visit(env, env->insn_idx);

	if (ret == 1 && ub_vlog_trace(env)) {
		if (from_pop)
			ub_vlog(env, "\nfrom %d to %d: safe\n", env->prev_insn_idx, env->insn_idx);
		else
			ub_vlog(env, "%d: safe\n", env->insn_idx);
	}
	return ret;
}

/* The kernel's order: at level 2 the whole state where a popped path resumes, then
 * what the last instruction touched, then the instruction. */
static void log_insn(struct ub_venv *env, bool from_pop)
{
	if (!ub_vlog_trace(env))
		return;
	if (from_pop && env->log.level & 2) {
		ub_vlog(env, "\nfrom %d to %d:", env->prev_insn_idx, env->insn_idx);
		ub_vlog_state(env, env->cur, env->cur->curframe);
	}
	ub_vlog_insn_state(env);
	ub_vlog_insn(env, env->insn_idx);
}

static int do_check(struct ub_venv *env)
{
	bool from_pop = false;
	int err, st;

	for (;;) {
		if (env->insn_idx < 0 || env->insn_idx >= env->cnt) {
			ub_vlog(env, "invalid insn idx %d insn_cnt %d\n", env->insn_idx, env->cnt);
			return -EFAULT;
		}
		if (++env->insn_processed > INSN_LIMIT) {
			ub_vlog(env, "BPF program is too large. Processed %u insn\n", env->insn_processed);
			return -E2BIG;
		}
		st = STEP_NEXT;
		err = env->aux[env->insn_idx].prune ? try_prune(env, from_pop) : 0;
		if (err < 0)
			return err;
		if (err == 0) {
			log_insn(env, from_pop);
			env->aux[env->insn_idx].seen = 1;
			env->prev_insn_idx = env->insn_idx;
			if ((err = step(env, &st)))
				return err;
		}
		from_pop = false;
		if (err == 1 || st == STEP_PATH_END) {
			ub_vprune_branch_done(env, env->cur);
			ub_vlog_scratch_all(env);	/* the next path starts with its whole state */
			err = pop(env, &env->insn_idx, &env->prev_insn_idx);
			if (err == -ENOENT)
				return 0;
			if (err)
				return err;
			from_pop = true;
			continue;
		}
		if (st == STEP_NEXT)
			env->insn_idx++;
		else
			from_pop = true;	/* after a return: print the state like a new path */
	}
}

/* ---- Setup ---- */

static void type_rules(struct ub_venv *env)
{
	switch (env->req->pt->type) {
	case BPF_PROG_TYPE_SCHED_CLS: case BPF_PROG_TYPE_SCHED_ACT: case BPF_PROG_TYPE_XDP:
		env->pkt_direct_read = env->pkt_direct_write = true;
		break;
	default:
		break;
	}
	uint32_t f = env->req->prog_flags;
	env->strict_alignment = (f & BPF_F_STRICT_ALIGNMENT) && !(f & BPF_F_ANY_ALIGNMENT);
	env->test_state_freq = f & BPF_F_TEST_STATE_FREQ;
}

/* The state at the start of subprogram sub: the main program gets the context in r1,
 * a global function the arguments its BTF prototype gives. */
static int init_state(struct ub_venv *env, int sub)
{
	struct ub_vstate *st = ub_vst_new();

	if (!st || !(st->frame[0] = ub_vst_frame_new(-1, 0, sub))) {
		ub_vst_destroy(st);
		return -ENOMEM;
	}
	st->branches = 1;
	env->cur = st;
	env->insn_idx = env->subs[sub].start;
	if (sub)
		return ub_vcall_global_entry(env, st, sub);
	ub_vst_mark_ptr(&st->frame[0]->regs[1], VT_CTX);
	return 0;
}

/* One verification from subprogram sub's start (do_check_common). */
static int check_from(struct ub_venv *env, int sub)
{
	int err;

	if (sub) {	/* the previous run's states belong to another entry */
		free_stack(env);
		ub_vprune_free_all(env);
		ub_vst_destroy(env->cur);
		env->cur = NULL;
		if (ub_vlog_trace(env))
			ub_vlog(env, "Validating %s() func#%d...\n", ub_vbtf_func_name(env, sub), sub);
	}
	err = init_state(env, sub);
	ub_vlog_scratch_all(env);	/* the first line shows the whole initial state */
	if (!err)
		err = do_check(env);
	if (!err && sub && ub_vlog_trace(env))
		ub_vlog(env, "Func#%d ('%s') is safe for any args that match its prototype\n", sub,
			ub_vbtf_func_name(env, sub));
	if (!err && !(env->log.level & 2))
		ub_vlog_reset(env, 0);	/* level 1 shows a failing path only, as the kernel */
	return err;
}

/* The main program, then every global function a verified path calls, each once on its
 * own (do_check_subprogs); verifying one may find calls to more. */
static int check_all(struct ub_venv *env)
{
	int err = check_from(env, 0);

	for (bool again = true; !err && again;) {
		again = false;
		for (int i = 1; !err && i < env->nsubs; i++) {
			struct ub_vsub *s = &env->subs[i];
			if (!s->is_global || !s->called || s->verified)
				continue;
			s->verified = 1;
			again = true;
			err = check_from(env, i);
		}
	}
	return err;
}

static void fill_result(struct ub_venv *env, struct ub_ver_res *res)
{
	res->insn_processed = env->insn_processed;
	res->max_states_per_insn = env->max_states_per_insn;
	res->total_states = env->total_states;
	res->peak_states = env->peak_states;
	res->stack_depth = (uint32_t)env->subs[0].stack_depth;
	res->max_ctx_off = env->max_ctx_off;
	res->ctx_conv = malloc((size_t)env->cnt);
	res->seen = malloc((size_t)env->cnt);
	for (int i = 0; i < env->cnt && res->ctx_conv && res->seen; i++) {
		res->ctx_conv[i] = env->aux[i].ctx_conv;
		res->seen[i] = env->aux[i].seen;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Log level 4 (BPF_LOG_STATS): time and stack depth per function, before the counts. */
static void log_stats(struct ub_venv *env)
{
	ub_vlog(env, "verification time %llu usec\nstack depth ",
		(unsigned long long)((now_ns() - env->start_ns) / 1000));
	for (int i = 0; i < env->nsubs; i++)
		ub_vlog(env, "%d%s", env->subs[i].stack_depth, i + 1 < env->nsubs ? "+" : "\n");
}

/* Maps a program type may not use (check_map_prog_compatibility), before any path. */
static int maps_compatible(struct ub_venv *env)
{
	uint32_t t = env->req->pt->type;
	bool tracing = t == BPF_PROG_TYPE_KPROBE || t == BPF_PROG_TYPE_TRACEPOINT ||
		       t == BPF_PROG_TYPE_PERF_EVENT || t == BPF_PROG_TYPE_RAW_TRACEPOINT ||
		       t == BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE;

	for (uint32_t i = 0; i < env->req->nr_maps; i++) {
		if (env->req->maps[i]->lock_off < 0)
			continue;
		if (t == BPF_PROG_TYPE_SOCKET_FILTER || tracing) {
			ub_vlog(env, "%s progs cannot use bpf_spin_lock yet\n",
				tracing ? "tracing" : "socket filter");
			return -EINVAL;
		}
	}
	return 0;
}

static int run(struct ub_venv *env)
{
	int err = ub_vcfg_check(env);

	if (!err)
		err = maps_compatible(env);

	if (!err)
		err = check_all(env);
	if (!err)
		err = ub_vcfg_max_stack(env);
	if (env->log.level & 4)
		log_stats(env);
	if (ub_vlog_on(env))
		ub_vlog(env, "processed %u insns (limit %u) max_states_per_insn %u total_states %u peak_states %u mark_read 0\n",
			env->insn_processed, INSN_LIMIT, env->max_states_per_insn, env->total_states,
			env->peak_states);
	return err;
}

static void cleanup(struct ub_venv *env)
{
	free_stack(env);
	ub_vprune_free_all(env);
	ub_vst_destroy(env->cur);
	free(env->explored);
	free(env->aux);
	free(env->linfo);
	free(env);
}

int ub_verify(const struct ub_ver_req *req, struct ub_ver_res *res)
{
	struct ub_venv *env;
	int err;

	memset(res, 0, sizeof(*res));
	if (!req->cnt || req->cnt > (1u << 20))
		return -EINVAL;
	if (!(env = calloc(1, sizeof(*env))))
		return -ENOMEM;
	env->start_ns = now_ns();
	env->insns = req->insns;
	env->cnt = (int32_t)req->cnt;
	env->req = req;
	env->aux = calloc(req->cnt + 1, sizeof(*env->aux));
	env->explored = calloc(req->cnt, sizeof(*env->explored));
	ub_vlog_init(&env->log, req->log, req->log_level);
	type_rules(env);
	err = env->aux && env->explored ? run(env) : -ENOMEM;
	if (!err)
		fill_result(env, res);
	if (!err && (!res->ctx_conv || !res->seen))
		err = -ENOMEM;
	ub_vlog_finish(env);
	if (err && ub_vlog_overflowed(env))
		err = -ENOSPC;	/* as the kernel; an accepted program loads all the same */
	if (err) {
		free(res->ctx_conv);
		free(res->seen);
		res->ctx_conv = res->seen = NULL;
	}
	cleanup(env);
	return err;
}
