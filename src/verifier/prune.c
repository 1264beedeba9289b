/*
 * ub_vprune: state pruning. At prune points the current state is compared with the
 * states already seen there; if one of them is known safe (all its paths explored) and
 * at least as general (every register range contains the current one, stack and
 * references match), the current path is safe too and is not explored further. States
 * still being explored (loops) are only used to detect infinite loops, except at
 * callback call sites, where convergence is expected.
 *
 * Scalars are compared by range (there is no precision tracking), registers only when
 * the static liveness says the continuation may read them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "verifier/env.h"

/* ---- Ids: the same id relations in both states ---- */

static void idmap_reset(struct ub_venv *env)
{
	env->idmap.n = 0;
	env->idmap.tmp_gen = env->id_gen;
}

static bool check_ids(struct ub_vidmap *m, uint32_t old_id, uint32_t cur_id)
{
	if (!!old_id != !!cur_id)
		return false;
	if (!old_id)
		return true;
	for (uint32_t i = 0; i < m->n; i++) {
		if (m->map[i].old == old_id)
			return m->map[i].cur == cur_id;
		if (m->map[i].cur == cur_id)
			return false;
	}
	if (m->n >= UB_ID_MAP_SIZE)
		return false;
	m->map[m->n].old = old_id;
	m->map[m->n].cur = cur_id;
	m->n++;
	return true;
}

/* Scalars without an id get a fresh one, so "no link" matches only "no link". */
static bool check_scalar_ids(struct ub_vidmap *m, uint32_t old_id, uint32_t cur_id)
{
	old_id = old_id ? old_id : ++m->tmp_gen;
	cur_id = cur_id ? cur_id : ++m->tmp_gen;
	return check_ids(m, old_id, cur_id);
}

/* ---- Registers ---- */

static bool regs_exact(struct ub_vidmap *m, const struct ub_vreg *a, const struct ub_vreg *b)
{
	return !memcmp(a, b, offsetof(struct ub_vreg, id)) && check_ids(m, a->id, b->id) &&
	       check_ids(m, a->ref_obj_id, b->ref_obj_id);
}

static bool values_within(const struct ub_vreg *old, const struct ub_vreg *cur)
{
	return ub_bnd_range_within(old, cur) && ub_tnum_in(old->var_off, cur->var_off);
}

/* Is a continuation that was safe with old also safe with cur? */
static bool regsafe(struct ub_vidmap *m, const struct ub_vreg *old, const struct ub_vreg *cur,
		    bool exact)
{
	if (exact)
		return regs_exact(m, old, cur);
	if (old->type == VT_NOT_INIT)
		return true;	/* the continuation never read it */
	if (old->type != cur->type)
		return false;
	switch (VT_BASE(old->type)) {
	case VT_SCALAR:
		if ((old->id & UB_ADD_CONST) != (cur->id & UB_ADD_CONST))
			return false;
		if ((old->id & UB_ADD_CONST) && old->off != cur->off)
			return false;
		return values_within(old, cur) && check_scalar_ids(m, old->id, cur->id);
	case VT_MAP_KEY: case VT_MAP_VALUE: case VT_MEM:
		return !memcmp(old, cur, offsetof(struct ub_vreg, var_off)) && values_within(old, cur) &&
		       check_ids(m, old->id, cur->id) && check_ids(m, old->ref_obj_id, cur->ref_obj_id);
	case VT_PKT: case VT_PKT_META:
		/* at least the range proven before, from the same offset */
		if (old->range > cur->range || old->off != cur->off)
			return false;
		return check_ids(m, old->id, cur->id) && values_within(old, cur);
	case VT_STACK:
		return regs_exact(m, old, cur) && old->frameno == cur->frameno;
	default:
		return regs_exact(m, old, cur);
	}
}

/* ---- Stack ---- */

static bool spilled_scalar64(const struct ub_vslot *s)
{
	for (int i = 0; i < UB_REG_SIZE; i++)
		if (s->st[i] != STK_SPILL)
			return false;
	return s->spilled.type == VT_SCALAR;
}

static bool all_misc(const struct ub_vslot *s)
{
	for (int i = 0; i < UB_REG_SIZE; i++)
		if (s->st[i] != STK_MISC && s->st[i] != STK_INVALID)
			return false;
	return true;
}

/* A slot read as a whole 8-byte scalar: the spilled one, or unknown for plain data. */
static const struct ub_vreg *slot_scalar(const struct ub_vslot *s, struct ub_vreg *unbound)
{
	if (spilled_scalar64(s))
		return &s->spilled;
	if (all_misc(s)) {
		ub_vst_mark_unknown(unbound);
		return unbound;
	}
	return NULL;
}

static bool slot_safe(struct ub_vidmap *m, const struct ub_vframe *old, const struct ub_vframe *cur,
		      int spi, bool exact)
{
	const struct ub_vslot *os = &old->stack[spi], *cs = spi < cur->nslots ? &cur->stack[spi] : NULL;
	struct ub_vreg ob, cb;

	for (int i = 0; i < UB_REG_SIZE; i++) {
		uint8_t ot = os->st[i];
		if (exact && (!cs || ot != cs->st[i]))
			return false;
		/* never-written and (privileged) plain data read as unknown values */
		if (ot == STK_INVALID || ot == STK_MISC)
			continue;
		if (!cs)
			return false;
		const struct ub_vreg *o = slot_scalar(os, &ob), *c = slot_scalar(cs, &cb);
		if (o && c)
			return regsafe(m, o, c, exact);
		if (ot != cs->st[i])
			return false;
		if (i == UB_REG_SIZE - 1 && ot == STK_SPILL)
			return regsafe(m, &os->spilled, &cs->spilled, exact);
	}
	return true;
}

static bool stacksafe(struct ub_vidmap *m, const struct ub_vframe *old, const struct ub_vframe *cur,
		      bool exact)
{
	for (int spi = 0; spi < old->nslots; spi++)
		if (!slot_safe(m, old, cur, spi, exact))
			return false;
	return true;
}

static bool refsafe(struct ub_vidmap *m, const struct ub_vstate *old, const struct ub_vstate *cur)
{
	if (old->nrefs != cur->nrefs || old->active_locks != cur->active_locks)
		return false;
	for (int i = 0; i < old->nrefs; i++) {
		if (!check_ids(m, old->refs[i].id, cur->refs[i].id) ||
		    old->refs[i].type != cur->refs[i].type || old->refs[i].ptr != cur->refs[i].ptr)
			return false;
	}
	return true;
}

static bool frames_equal(struct ub_venv *env, const struct ub_vstate *old_st, int f,
			 const struct ub_vframe *old, const struct ub_vframe *cur, bool exact)
{
	uint16_t live = exact ? 0xffff : ub_vcfg_live(env, old_st, f);

	if (old->callback_depth > cur->callback_depth)
		return false;
	for (int i = 0; i < UB_MAX_REG; i++) {
		if (i < UB_REG_FP && !(live & (1u << i)))
			continue;
		if (!regsafe(&env->idmap, &old->regs[i], &cur->regs[i], exact))
			return false;
	}
	return stacksafe(&env->idmap, old, cur, exact);
}

static bool states_equal(struct ub_venv *env, const struct ub_vstate *old,
			 const struct ub_vstate *cur, bool exact)
{
	if (old->curframe != cur->curframe)
		return false;
	idmap_reset(env);
	if (!refsafe(&env->idmap, old, cur))
		return false;
	for (int i = 0; i <= old->curframe; i++) {
		if (old->frame[i]->callsite != cur->frame[i]->callsite)
			return false;
		if (!frames_equal(env, old, i, old->frame[i], cur->frame[i], exact))
			return false;
	}
	return true;
}

bool ub_vprune_states_exact(struct ub_venv *env, const struct ub_vstate *old,
			    const struct ub_vstate *cur)
{
	return states_equal(env, old, cur, true);
}

/* Registers of the current frame byte-identical: a cheap first test for a loop. */
static bool maybe_looping(const struct ub_vstate *old, const struct ub_vstate *cur)
{
	if (old->curframe != cur->curframe)
		return false;
	return !memcmp(old->frame[old->curframe]->regs, cur->frame[cur->curframe]->regs,
		       sizeof(old->frame[0]->regs));
}

/* ---- Explored states ---- */

void ub_vprune_branch_done(struct ub_venv *env, struct ub_vstate *st)
{
	(void)env;
	while (st) {
		if (st->branches)
			st->branches--;
		if (st->branches)
			break;
		st = st->parent;
	}
}

static void free_sl(struct ub_vsl *sl)
{
	ub_vst_free(&sl->st);
	free(sl);
}

/* A state that keeps missing is dropped (kept for later freeing if still a parent). */
static void evict(struct ub_venv *env, struct ub_vsl **pprev, struct ub_vsl *sl)
{
	*pprev = sl->next;
	if (!sl->st.branches) {
		free_sl(sl);
		env->peak_states--;
		return;
	}
	sl->next = env->free_list;
	env->free_list = sl;
}

static int add_checkpoint(struct ub_venv *env, int insn_idx)
{
	struct ub_vsl *sl = calloc(1, sizeof(*sl));
	struct ub_vstate *cur = env->cur;

	if (!sl || ub_vst_copy(&sl->st, cur)) {
		if (sl)
			free_sl(sl);
		return -ENOMEM;
	}
	sl->st.insn_idx = insn_idx;
	env->total_states++;
	env->peak_states++;
	env->prev_jmps_processed = env->jmps_processed;
	env->prev_insn_processed = env->insn_processed;
	cur->parent = &sl->st;
	sl->next = env->explored[insn_idx];
	env->explored[insn_idx] = sl;
	return 0;
}

/* A state still being explored: an exact repeat is an infinite loop. */
static int in_progress(struct ub_venv *env, struct ub_vsl *sl, int insn_idx, bool force_new,
		       bool *add_new)
{
	struct ub_vstate *cur = env->cur;
	/* Back at a bpf_loop / for_each_map_elem call from one more run of its callback:
	 * callback iterations converge when a state repeats within the ranges. Arriving
	 * there by plain control flow (a loop around the call) is an ordinary loop, held
	 * to the infinite-loop check (the kernel 6.18 prunes that too, and so accepts a
	 * loop around bpf_loop that never ends) */
	bool cb_return = env->aux[insn_idx].calls_cb && ub_vst_cur_frame(env)->callback_depth > 0;

	if (cb_return) {
		if (states_equal(env, &sl->st, cur, false))
			return 1;
	} else if (maybe_looping(&sl->st, cur) && states_equal(env, &sl->st, cur, true) &&
		   sl->st.callback_unroll_depth == cur->callback_unroll_depth) {
		ub_vlog(env, "infinite loop detected at insn %d\n", insn_idx);
		ub_vlog(env, "cur state:");
		ub_vlog_state(env, cur, cur->curframe);
		ub_vlog(env, "old state:");
		ub_vlog_state(env, &sl->st, cur->curframe);
		return -EINVAL;
	}
	/* in a loop, a checkpoint per iteration rarely helps */
	if (!force_new && env->jmps_processed - env->prev_jmps_processed < 20 &&
	    env->insn_processed - env->prev_insn_processed < 100)
		*add_new = false;
	return 0;
}

/* 1: an equivalent safe state exists (prune), 0: go on, < 0: error. */
int ub_vprune_visit(struct ub_venv *env, int insn_idx)
{
	bool force_new = env->test_state_freq || env->aux[insn_idx].force_ckpt;
	bool add_new = force_new || (env->jmps_processed - env->prev_jmps_processed >= 2 &&
				     env->insn_processed - env->prev_insn_processed >= 8);
	struct ub_vsl **pprev = &env->explored[insn_idx], *sl;
	uint32_t cnt = 0;
	int ret;

	env->cur->insn_idx = insn_idx;
	while ((sl = *pprev)) {
		cnt++;
		if (sl->st.branches) {
			ret = in_progress(env, sl, insn_idx, force_new, &add_new);
			if (ret)
				return ret < 0 ? ret : (sl->hit++, 1);
		} else if (states_equal(env, &sl->st, env->cur, false)) {
			sl->hit++;
			return 1;
		}
		if (add_new)
			sl->miss++;
		uint32_t n = env->aux[insn_idx].force_ckpt && sl->st.branches ? 64 : 3;
		if (sl->miss > sl->hit * n + n) {
			evict(env, pprev, sl);
			continue;
		}
		pprev = &sl->next;
	}
	if (env->max_states_per_insn < cnt)
		env->max_states_per_insn = cnt;
	return add_new ? add_checkpoint(env, insn_idx) : 0;
}

void ub_vprune_free_all(struct ub_venv *env)
{
	for (int i = 0; env->explored && i < env->cnt; i++) {
		struct ub_vsl *sl = env->explored[i];
		while (sl) {
			struct ub_vsl *n = sl->next;
			free_sl(sl);
			sl = n;
		}
		env->explored[i] = NULL;	/* a global function's run starts afresh */
	}
	while (env->free_list) {
		struct ub_vsl *n = env->free_list->next;
		free_sl(env->free_list);
		env->free_list = n;
	}
}
