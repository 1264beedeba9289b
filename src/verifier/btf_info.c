/*
 * ub_vbtf: the program's BTF information, checked as the kernel's check_btf_info does:
 * func_info (one record per subprogram, at its first instruction, naming a BTF FUNC) and
 * line_info (source lines by instruction, one at the start of every subprogram). The
 * line records then give the log its source lines ("; int x = ctx->y @ prog.c:12").
 *
 * Global functions (BTF_FUNC_GLOBAL linkage) are verified once on their own, as the
 * kernel does: their arguments are typed from the BTF prototype (ub_vbtf_global_args),
 * and a call only checks that the caller's registers match those types (calls.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "btf/btf.h"
#include "progs/progs.h"
#include "verifier/env.h"

#define MIN_FUNCINFO_SIZE	8u	/* sizeof(struct bpf_func_info) */
#define MIN_LINEINFO_SIZE	16u	/* sizeof(struct bpf_line_info) */
#define MAX_REC_SIZE		252u	/* MAX_FUNCINFO_REC_SIZE, MAX_LINEINFO_REC_SIZE */

static bool rec_size_ok(uint32_t size, uint32_t min)
{
	return size >= min && size <= MAX_REC_SIZE && size % 4 == 0;
}

static struct bpf_func_info func_rec(const struct ub_ver_req *req, uint32_t i)
{
	struct bpf_func_info r;
	memcpy(&r, (const uint8_t *)req->func_info + (size_t)i * req->func_info_rec_size, sizeof(r));
	return r;
}

/* A FUNC type whose prototype returns an int or an enum (check_btf_func). */
static bool returns_scalar(const struct ub_btf *btf, uint32_t func_id)
{
	const struct btf_type *f = ub_btf_type(btf, func_id);
	const struct btf_type *proto = f ? ub_btf_type(btf, f->type) : NULL;
	const struct btf_type *ret = proto && proto->type ? ub_btf_skip_mods(btf, proto->type, NULL) : NULL;
	uint32_t k = ret ? ub_btf_kind(ret) : 0;

	return (k == BTF_KIND_INT && ret->size <= 8) || k == BTF_KIND_ENUM || k == BTF_KIND_ENUM64;
}

static int einval(struct ub_venv *env, const char *msg, uint32_t a, uint32_t b)
{
	ub_vlog(env, msg, a, b);
	return -EINVAL;
}

/* check_btf_info_early / check_btf_func_early: the records on their own. */
int ub_vbtf_early(struct ub_venv *env)
{
	const struct ub_ver_req *req = env->req;

	if (!req->func_info_cnt && !req->line_info_cnt)
		return 0;
	if (!req->btf)
		return -EBADF;	/* the loader found no BTF behind prog_btf_fd */
	if (!req->func_info_cnt)
		return 0;
	if (!rec_size_ok(req->func_info_rec_size, MIN_FUNCINFO_SIZE))
		return einval(env, "invalid func info rec size %u\n", req->func_info_rec_size, 0);
	/* offsets strictly increase inside the program: more records than instructions
	 * cannot be right, and are not read (the count is the caller's word only) */
	if (req->func_info_cnt > (uint32_t)env->cnt)
		return einval(env, "number of funcs in func_info doesn't match number of subprogs\n", 0, 0);
	for (uint32_t i = 0, prev = 0; i < req->func_info_cnt; i++) {
		struct bpf_func_info r = func_rec(req, i);
		const struct btf_type *t = ub_btf_type(req->btf, r.type_id);
		const struct btf_type *proto = t ? ub_btf_type(req->btf, t->type) : NULL;
		if (i == 0 && r.insn_off)
			return einval(env, "nonzero insn_off %u for the first func info record", r.insn_off, 0);
		if (i && r.insn_off <= prev)
			return einval(env, "same or smaller insn offset (%u) than previous func info record (%u)",
				      r.insn_off, prev);
		if (!t || ub_btf_kind(t) != BTF_KIND_FUNC || !proto ||
		    ub_btf_kind(proto) != BTF_KIND_FUNC_PROTO)
			return einval(env, "invalid type id %d in func info", r.type_id, 0);
		prev = r.insn_off;
	}
	env->has_func_info = true;
	return 0;
}

/* check_btf_func: one record per subprogram, at its start. */
static int check_funcs(struct ub_venv *env)
{
	const struct ub_ver_req *req = env->req;

	if (!req->func_info_cnt)
		return 0;
	if (req->func_info_cnt != (uint32_t)env->nsubs)
		return einval(env, "number of funcs in func_info doesn't match number of subprogs\n", 0, 0);
	for (int i = 0; i < env->nsubs; i++) {
		struct bpf_func_info r = func_rec(req, (uint32_t)i);
		bool scalar = returns_scalar(req->btf, r.type_id);
		if ((uint32_t)env->subs[i].start != r.insn_off)
			return einval(env, "func_info BTF section doesn't match subprog layout in BPF program\n",
				      0, 0);
		if (i && !scalar && env->subs[i].has_ld_abs)
			return einval(env, "LD_ABS is only allowed in functions that return 'int'.\n", 0, 0);
		if (i && !scalar && env->subs[i].has_tail_call)
			return einval(env, "Tail call is only allowed in functions that return 'int'.\n", 0, 0);
		const struct btf_type *f = ub_btf_type(req->btf, r.type_id);
		env->subs[i].is_global = i && f && ub_btf_vlen(f) == BTF_FUNC_GLOBAL;
	}
	return 0;
}

/* ---- Global functions' arguments (btf_prepare_func_args) ---- */

/* The context struct a program type's C code names (bpf_ctx_convert): a pointer to it
 * is the context; KPROBE also takes the kernel's own name of its registers. */
static bool is_ctx_name(uint32_t prog_type, const char *name)
{
	static const struct { uint32_t type; const char *name; } tab[] = {
		{ BPF_PROG_TYPE_SOCKET_FILTER, "__sk_buff" }, { BPF_PROG_TYPE_SCHED_CLS, "__sk_buff" },
		{ BPF_PROG_TYPE_SCHED_ACT, "__sk_buff" }, { BPF_PROG_TYPE_XDP, "xdp_md" },
		{ BPF_PROG_TYPE_KPROBE, "bpf_user_pt_regs_t" }, { BPF_PROG_TYPE_KPROBE, "pt_regs" },
		{ BPF_PROG_TYPE_PERF_EVENT, "bpf_perf_event_data" },
		{ BPF_PROG_TYPE_RAW_TRACEPOINT, "bpf_raw_tracepoint_args" },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].type == prog_type && !strcmp(tab[i].name, name))
			return true;
	return false;
}

static const struct btf_type *sub_func(const struct ub_venv *env, int sub)
{
	return ub_btf_type(env->req->btf, func_rec(env->req, (uint32_t)sub).type_id);
}

const char *ub_vbtf_func_name(const struct ub_venv *env, int sub)
{
	const struct btf_type *f = env->has_func_info ? sub_func(env, sub) : NULL;
	return f ? ub_btf_str(env->req->btf, f->name_off) : "";
}

/* A pointer argument: the context (named like the program type's, typedefs included),
 * or memory of its pointee's size that may be NULL. */
static int ptr_arg(struct ub_venv *env, int sub, uint32_t i, uint32_t pointee)
{
	const struct ub_btf *btf = env->req->btf;
	const struct btf_type *t = ub_btf_type(btf, pointee);
	struct ub_vsub *s = &env->subs[sub];

	/* walk the modifier chain by hand: a typedef's own name may be the context's */
	for (uint32_t k = t ? ub_btf_kind(t) : 0; t; t = ub_btf_type(btf, t->type), k = t ? ub_btf_kind(t) : 0) {
		if ((k == BTF_KIND_STRUCT || k == BTF_KIND_TYPEDEF) &&
		    is_ctx_name(env->req->pt->type, ub_btf_str(btf, t->name_off))) {
			s->arg_kind[i] = UB_GARG_CTX;
			return 0;
		}
		if (k != BTF_KIND_TYPEDEF && k != BTF_KIND_CONST && k != BTF_KIND_VOLATILE &&
		    k != BTF_KIND_RESTRICT && k != BTF_KIND_TYPE_TAG)
			break;
	}
	int64_t size = pointee ? ub_btf_resolve_size(btf, pointee) : -EINVAL;
	if (size < 0 || size > UB_MAX_VAR_SIZ) {
		ub_vlog(env, "arg#%u reference type('%s') size cannot be determined: %d\n", i,
			ub_btf_kind_name(t ? ub_btf_kind(t) : 0), -EINVAL);
		return -EINVAL;
	}
	s->arg_kind[i] = UB_GARG_MEM;
	s->arg_size[i] = (uint32_t)size;
	return 0;
}

static int einval_arg(struct ub_venv *env, uint32_t i, uint32_t kind, const char *name)
{
	ub_vlog(env, "Arg#%u type %s in %s() is not supported yet.\n", i, ub_btf_kind_name(kind), name);
	return -EINVAL;
}

int ub_vbtf_global_args(struct ub_venv *env, int sub)
{
	const struct ub_btf *btf = env->req->btf;
	struct ub_vsub *s = &env->subs[sub];
	const struct btf_type *f = sub_func(env, sub);
	const struct btf_type *proto = f ? ub_btf_type(btf, f->type) : NULL;
	const char *name = ub_vbtf_func_name(env, sub);

	if (s->args_ready)
		return 0;
	if (!proto)
		return einval(env, "verifier bug: no prototype for func#%u\n", (uint32_t)sub, 0);
	if (!returns_scalar(btf, func_rec(env->req, (uint32_t)sub).type_id)) {
		ub_vlog(env, "Global function %s() doesn't return scalar. Only those are supported.\n", name);
		return -EINVAL;
	}
	uint32_t n = ub_btf_vlen(proto);
	const struct btf_param *p = (const struct btf_param *)(proto + 1);
	if (n > 5) {
		ub_vlog(env, "Function %s() has %u > 5 args\n", name, n);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct btf_type *t = ub_btf_skip_mods(btf, p[i].type, NULL);
		uint32_t k = t ? ub_btf_kind(t) : 0;
		int err = 0;
		if (k == BTF_KIND_INT || k == BTF_KIND_ENUM || k == BTF_KIND_ENUM64)
			s->arg_kind[i] = UB_GARG_SCALAR;
		else if (k == BTF_KIND_PTR)
			err = ptr_arg(env, sub, i, t->type);
		else
			err = einval_arg(env, i, k, name);
		if (err)
			return err;
	}
	s->nargs = (uint8_t)n;
	s->args_ready = 1;
	return 0;
}

/* A string offset of the BTF's string section (offset 0 is the empty string). */
static bool str_ok(const struct ub_btf *btf, uint32_t off)
{
	return !off || *ub_btf_str(btf, off);
}

static int line_rec(struct ub_venv *env, uint32_t i, uint32_t prev, int *sub)
{
	const struct bpf_line_info *l = &env->linfo[i];

	if ((i && l->insn_off <= prev) || l->insn_off >= (uint32_t)env->cnt) {
		ub_vlog(env, "Invalid line_info[%u].insn_off:%u (prev_offset:%u prog->len:%u)\n", i,
			l->insn_off, prev, (uint32_t)env->cnt);
		return -EINVAL;
	}
	if (!env->insns[l->insn_off].code)
		return einval(env, "Invalid insn code at line_info[%u].insn_off\n", i, 0);
	if (!str_ok(env->req->btf, l->line_off) || !str_ok(env->req->btf, l->file_name_off))
		return einval(env, "Invalid line_info[%u].line_off or .file_name_off\n", i, 0);
	if (*sub < env->nsubs) {
		if (l->insn_off == (uint32_t)env->subs[*sub].start)
			(*sub)++;
		else if ((uint32_t)env->subs[*sub].start < l->insn_off)
			return einval(env, "missing bpf_line_info for func#%u\n", (uint32_t)*sub, 0);
	}
	return 0;
}

/* check_btf_line: increasing offsets inside the program, valid strings, every
 * subprogram's first instruction covered. */
static int check_lines(struct ub_venv *env)
{
	const struct ub_ver_req *req = env->req;
	uint32_t n = req->line_info_cnt, prev = 0;
	int sub = 0, err;

	if (!n)
		return 0;
	if (!rec_size_ok(req->line_info_rec_size, MIN_LINEINFO_SIZE))
		return -EINVAL;
	if (n > (uint32_t)env->cnt)	/* as for func_info: offsets increase inside the program */
		return einval(env, "Invalid line_info[%u].insn_off:%u\n", (uint32_t)env->cnt, 0);
	if (!(env->linfo = calloc(n, sizeof(*env->linfo))))
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		memcpy(&env->linfo[i], (const uint8_t *)req->line_info + (size_t)i * req->line_info_rec_size,
		       sizeof(env->linfo[i]));
	env->nr_linfo = n;
	for (uint32_t i = 0; i < n; prev = env->linfo[i++].insn_off)
		if ((err = line_rec(env, i, prev, &sub)))
			return err;
	if (sub != env->nsubs)
		return einval(env, "missing bpf_line_info for %u funcs starting from func#%u\n",
			      (uint32_t)(env->nsubs - sub), (uint32_t)sub);
	return 0;
}

int ub_vbtf_check(struct ub_venv *env)
{
	int err = check_funcs(env);
	return err ? err : check_lines(env);
}

/* The line record in effect at insn: the last one at or before it (find_linfo). */
static const struct bpf_line_info *find_line(const struct ub_venv *env, int insn)
{
	uint32_t lo = 0, hi = env->nr_linfo;

	while (lo < hi) {	/* first record after insn */
		uint32_t mid = lo + (hi - lo) / 2;
		if (env->linfo[mid].insn_off <= (uint32_t)insn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &env->linfo[lo - 1] : NULL;
}

void ub_vbtf_log_line(struct ub_venv *env, int insn)
{
	const struct bpf_line_info *l = env->nr_linfo ? find_line(env, insn) : NULL;

	if (!l || l == env->prev_linfo)
		return;
	const char *src = ub_btf_str(env->req->btf, l->line_off);
	const char *file = ub_btf_str(env->req->btf, l->file_name_off);
	const char *slash = strrchr(file, '/');
	while (*src == ' ' || *src == '\t' || *src == '\n')
		src++;
	ub_vlog(env, "; %s @ %s:%u\n", src, slash ? slash + 1 : file, BPF_LINE_INFO_LINE_NUM(l->line_col));
	env->prev_linfo = l;
}
