/*
 * ub_vm: loading programs and running them.
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include "vm/vm.h"
#include "helpers/helpers.h"
#include "maps/map.h"
#include "jit/jit.h"
#include "maps/ringbuf.h"

/*
 * An explicit helper table (uebpf_prog_opts.helpers) replaces the process's: each entry
 * brings its own prototype, kept in defs owned by the program.
 */
static int build_helper_table(struct uebpf_prog *prog, const struct uebpf_helper *h, size_t n)
{
	uint32_t max = 0;

	for (size_t i = 0; i < n; i++)
		if (h[i].fn && h[i].id + 1 > max)
			max = h[i].id + 1;
	prog->helper_fn = calloc(max ? max : 1, sizeof(*prog->helper_fn));
	prog->helper_def = calloc(max ? max : 1, sizeof(*prog->helper_def));
	prog->own_defs = calloc(n ? n : 1, sizeof(*prog->own_defs));
	if (!prog->helper_fn || !prog->helper_def || !prog->own_defs)
		return -ENOMEM;
	prog->helper_cnt = max;
	for (size_t i = 0; i < n; i++) {
		if (!h[i].fn)
			continue;
		struct ub_helper_def *d = &prog->own_defs[i];
		*d = (struct ub_helper_def){ .id = h[i].id, .name = h[i].name, .fn = h[i].fn,
					     .grp = UB_GRP_CUSTOM, .ret = h[i].ret };
		memcpy(d->args, h[i].args, sizeof(d->args));
		prog->helper_fn[h[i].id] = h[i].fn;
		prog->helper_def[h[i].id] = d;
	}
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

/*
 * What a program's helper calls ask of the run, found in one pass at load:
 * NEED_SLOT: a per-CPU slot of its own (per-CPU state: the CPU id, perf buffers with
 * BPF_F_CURRENT_CPU, tail calls whose target may need one, callx and embedders' helpers,
 * which may ask); other programs skip the slot's two atomics.
 * NEED_UNWIND: its run may walk the user stack (its own get_stack* calls, or those of a
 * program it tail-calls), which libunwind cannot do through JIT frames: a JIT run takes
 * an unwind context on entry (run_jit_unwindable).
 */
enum { NEED_SLOT = 1, NEED_UNWIND = 2 };

static const struct { uint32_t id; unsigned need; } helper_needs[] = {
	{ BPF_FUNC_get_smp_processor_id, NEED_SLOT },
	{ BPF_FUNC_tail_call, NEED_SLOT | NEED_UNWIND },
	{ BPF_FUNC_perf_event_output, NEED_SLOT },
	{ BPF_FUNC_get_stackid, NEED_UNWIND },
	{ BPF_FUNC_get_stack, NEED_UNWIND },
};

static unsigned call_needs(const struct uebpf_prog *prog, const struct bpf_insn *in)
{
	const struct ub_helper_def *d = (uint32_t)in->imm < prog->helper_cnt
					? prog->helper_def[in->imm] : NULL;

	if (!d || d->grp & UB_GRP_CUSTOM)
		return NEED_SLOT;
	for (size_t k = 0; k < sizeof(helper_needs) / sizeof(helper_needs[0]); k++)
		if (helper_needs[k].id == (uint32_t)in->imm)
			return helper_needs[k].need;
	return 0;
}

static unsigned prog_needs(const struct uebpf_prog *prog)
{
	unsigned need = 0;

	for (uint32_t i = 0; i < prog->nr_maps; i++) {
		uint32_t t = prog->maps[i]->type;
		if (t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
		    t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_PERF_EVENT_ARRAY ||
		    t == BPF_MAP_TYPE_PROG_ARRAY || t == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
		    t == BPF_MAP_TYPE_HASH_OF_MAPS)
			need |= NEED_SLOT;
	}
	for (size_t i = 0; i < prog->cnt; i++) {
		const struct bpf_insn *in = &prog->insns[i];
		int op = ub_isa_lookup(in);
		if (op == UB_OP_CALLX)
			need |= NEED_SLOT;
		else if (op == UB_OP_CALL)
			need |= call_needs(prog, in);
		else if (ub_ops[op].fmt == UB_FMT_LDDW)
			i++;
	}
	return need;
}

/*
 * The engine of programs that ask for none. Verified programs run in the JIT, as in the
 * kernel with bpf_jit_enable=1; checked (unverified) programs in the interpreter, whose
 * faults and budget stops name the exact instruction. UEBPF_ENGINE=interp in the
 * environment selects the interpreter for all (debugging, comparing engines).
 */
static enum uebpf_engine default_engine(const struct uebpf_prog *prog)
{
	const char *e = getenv("UEBPF_ENGINE");

	if (prog->checked || (e && !strcmp(e, "interp")))
		return UEBPF_ENGINE_INTERP;
	return UEBPF_ENGINE_JIT;
}

static int prog_init(struct uebpf_prog *prog, const struct bpf_insn *insns, size_t cnt,
		     const struct uebpf_prog_opts *opts, struct ub_log *log)
{
	int err;

	prog->cnt = cnt;
	prog->insns = malloc(cnt * sizeof(*insns));
	if (!prog->insns)
		return -ENOMEM;
	memcpy(prog->insns, insns, cnt * sizeof(*insns));
	prog->flags = opts ? opts->flags : 0;
	prog->budget = opts && opts->insn_budget ? opts->insn_budget : UB_DEFAULT_BUDGET;
	if (opts && opts->sz >= offsetof(struct uebpf_prog_opts, ctx_size) + sizeof(size_t))
		prog->ctx_size = opts->ctx_size;
	/* Until the verifier exists, only an explicit TRUSTED flag runs without checks. */
	prog->checked = !(prog->flags & UEBPF_PROG_F_TRUSTED);
	if (opts && opts->helpers)
		err = build_helper_table(prog, opts->helpers, opts->helper_cnt);
	else
		err = ub_helper_fill(prog);
	if (!err)
		err = check_calls(prog, log);
	if (!err)
		err = ub_interp_prepare(prog, prog->checked, log);
	unsigned need = prog_needs(prog);
	prog->needs_slot = !!(need & NEED_SLOT);
	prog->walks_stack = !!(need & NEED_UNWIND);
	enum uebpf_engine engine = opts ? opts->engine : UEBPF_ENGINE_DEFAULT;
	if (!err && engine == UEBPF_ENGINE_DEFAULT)
		engine = default_engine(prog);
	if (!err && engine == UEBPF_ENGINE_JIT)
		err = ub_jit_compile(prog, prog->checked, log);
	return err;
}

int uebpf_prog_new(const struct bpf_insn *insns, size_t insn_cnt,
		   const struct uebpf_prog_opts *opts, struct uebpf_prog **progp)
{
	return ub_prog_create(insns, insn_cnt, opts, NULL, 0, progp);
}

/* Checks that come before any allocation: 0, or -errno with the reason in log. */
static int precheck(const struct bpf_insn *insns, size_t insn_cnt,
		    const struct uebpf_prog_opts *opts, struct ub_log *log)
{
	if (insn_cnt > (1u << 20)) {
		ub_log_printf(log, "program of %zu instructions is too large (limit %u)\n",
			      insn_cnt, 1u << 20);
		return -E2BIG;
	}
	return ub_isa_validate(insns, insn_cnt, log);
}

int ub_prog_create(const struct bpf_insn *insns, size_t insn_cnt,
		   const struct uebpf_prog_opts *opts, struct ub_map **maps, uint32_t nr_maps,
		   struct uebpf_prog **progp)
{
	struct ub_log log;
	struct uebpf_prog *prog = NULL;
	int err = -EINVAL;

	if (progp && (insns || !insn_cnt) && UEBPF_OPTS_VALID(opts, uebpf_prog_opts)) {
		*progp = NULL;
		ub_log_init(&log, opts ? opts->log_buf : NULL, opts ? opts->log_size : 0);
		err = precheck(insns, insn_cnt, opts, &log);
		if (!err && !(prog = calloc(1, sizeof(*prog))))
			err = -ENOMEM;
	}
	if (!prog) {
		for (uint32_t i = 0; i < nr_maps; i++)
			ub_map_put(maps[i]);
		free(maps);
		return err;
	}
	prog->maps = maps;	/* owned by the program from here, even on failure */
	prog->nr_maps = nr_maps;
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
	for (uint32_t i = 0; i < prog->nr_maps; i++)
		ub_map_put(prog->maps[i]);
	free(prog->maps);
	ub_jit_free(prog->jit);
	free(prog->code);
	free(prog->helper_fn);
	free(prog->helper_def);
	free(prog->own_defs);
	free(prog->insns);
	free(prog);
}

void ub_run_add_region(struct ub_run *run, const void *start, size_t size, int writable)
{
	if (start && size && run->nregions < UB_MAX_REGIONS)
		run->regions[run->nregions++] = (struct ub_region){
			.start = (uintptr_t)start, .size = size, .writable = writable };
}

/* Fields are set one by one: zeroing the whole struct would also clear its 4 KiB stack. */
void ub_run_init(struct ub_run *run, const struct uebpf_prog *prog, void *ctx, size_t ctx_size,
		 void *pkt, size_t pkt_size, char *err_buf, size_t err_size)
{
	run->prog = prog;
	run->ctx = ctx;
	run->ctx_size = ctx ? ctx_size : 0;
	run->pkt = pkt ? pkt : ctx;
	run->pkt_size = pkt ? pkt_size : run->ctx_size;
	run->budget = prog->budget;
	run->cpu = 0;
	run->has_slot = 0;
	run->tail_calls = 0;
	run->fault = 0;
	run->nest = 0;
	run->outer = NULL;
	run->jb = NULL;
	run->jit_active = 0;
	run->jit_depth = 0;
	run->nregions = 0;
	run->pkt_ctx = NULL;
	run->unwind_ctx = NULL;
	run->stack_bound = 0;
	ub_log_init(&run->err, err_buf, err_size);
	if (!prog->checked)
		return;
	if (pkt != ctx)
		ub_run_add_region(run, pkt, pkt_size, 1);
	ub_run_add_maps(run, prog);
}

void ub_run_add_maps(struct ub_run *run, const struct uebpf_prog *prog)
{
	for (uint32_t i = 0; i < prog->nr_maps; i++) {
		const struct ub_map *m = prog->maps[i];
		ub_run_add_region(run, m->data, m->map_size - UB_SHM_HDR_SIZE,
			   !(m->flags & BPF_F_RDONLY_PROG));
	}
}

struct cpu_slot {
	uint32_t busy;
} __attribute__((aligned(64)));	/* one cache line each: no false sharing */

static struct cpu_slot *slots;
static unsigned nslots;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_init(void)
{
	nslots = (unsigned)ub_num_possible_cpus();
	slots = aligned_alloc(64, nslots * sizeof(*slots));
	if (slots)
		memset(slots, 0, nslots * sizeof(*slots));
	else
		nslots = 0;
}

unsigned ub_cpu_slot_get(void)
{
	pthread_once(&slots_once, slots_init);
	if (!nslots)
		return 0;
	int cpu = sched_getcpu();
	unsigned first = cpu < 0 ? 0 : (unsigned)cpu % nslots;
	for (unsigned spins = 0;; spins++) {
		for (unsigned i = 0; i < nslots; i++) {
			struct cpu_slot *s = &slots[(first + i) % nslots];
			if (!__atomic_load_n(&s->busy, __ATOMIC_RELAXED) &&
			    !__atomic_exchange_n(&s->busy, 1, __ATOMIC_ACQUIRE))
				return (first + i) % nslots;
		}
		/* More runs than CPUs: wait for one to end, as the kernel would queue them. */
		if (spins > 16)
			sched_yield();
	}
}

int ub_cpu_slots_idle(void)
{
	pthread_once(&slots_once, slots_init);
	for (unsigned i = 0; i < nslots; i++)
		if (__atomic_load_n(&slots[i].busy, __ATOMIC_ACQUIRE))
			return 0;
	return 1;
}

void ub_cpu_slot_put(unsigned slot)
{
	if (slot < nslots)
		__atomic_store_n(&slots[slot].busy, 0, __ATOMIC_RELEASE);
}

/*
 * A JIT run whose helpers walk the user stack: the walk starts from the context taken
 * here, in a frame libunwind can step out of, since it cannot step through JIT frames.
 * The frames above are the caller's and do not change while the run lasts.
 */
static __attribute__((noinline)) int run_jit_unwindable(struct ub_run *run,
							 const uint64_t *args, uint64_t *r0)
{
	unw_context_t uc;

	run->unwind_ctx = unw_getcontext(&uc) ? NULL : &uc;
	int err = ub_jit_run(run, args, r0);
	run->unwind_ctx = NULL;
	return err;
}

int ub_run_exec(struct ub_run *run, uint64_t r1, uint64_t r2, uint64_t *r0)
{
	struct ub_run *saved = ub_run_cur;
	int err;

	uint64_t args[5] = { r1, r2, 0, 0, 0 };

	run->stack_bound = (uintptr_t)args;	/* in this frame, which the engines never leave */

	run->has_slot = run->prog->needs_slot;
	run->cpu = run->has_slot ? ub_cpu_slot_get() : 0;
	ub_run_cur = run;
	if (run->prog->jit)
		err = run->prog->walks_stack ? run_jit_unwindable(run, args, r0)
					     : ub_jit_run(run, args, r0);
	else if (run->prog->checked)
		err = ub_interp_run_checked(run, NULL, args, r0);
	else
		err = ub_interp_run_fast(run, NULL, args, r0);
	ub_run_cur = saved;
	/* A checked program that exits holding a ring buffer record must not stall the
	 * reader: the record is discarded, as the verifier would have refused the program. */
	if (run->prog->checked) {
		ub_ringbuf_run_end(run);
		ub_spin_lock_run_end();	/* the same for a bpf_spin_lock still held */
	}
	if (run->has_slot)
		ub_cpu_slot_put(run->cpu);
	return err;
}

/* Is fn the address of an instruction slot of the running program? */
static const struct ub_tslot *fn_slot(const struct uebpf_prog *prog, uint64_t fn)
{
	uintptr_t lo = (uintptr_t)prog->code, hi = (uintptr_t)(prog->code + prog->cnt);

	if (fn < lo || fn >= hi || (fn - lo) % sizeof(struct ub_tslot))
		return NULL;
	return (const struct ub_tslot *)(uintptr_t)fn;
}

/* Is fn a function of the running program, in its engine's form? */
static int fn_ok(const struct uebpf_prog *prog, uint64_t fn)
{
	return prog->jit ? ub_jit_is_entry(prog, fn) : fn_slot(prog, fn) != NULL;
}

int ub_callback_begin(struct ub_run *in, uint64_t fn)
{
	struct ub_run *out = ub_run_cur;

	if (!out || !fn_ok(out->prog, fn))
		return -EINVAL;
	if (out->nest + 1 >= UB_MAX_FRAMES)
		return -E2BIG;
	/* The callback gets its own stack; the caller's stays reachable through pointers
	 * the program passes (callback_ctx often points into it). */
	in->prog = out->prog;
	in->ctx = out->ctx;
	in->ctx_size = out->ctx_size;
	in->pkt = out->pkt;
	in->pkt_size = out->pkt_size;
	in->budget = out->budget;
	in->cpu = out->cpu;
	in->has_slot = 0;	/* the outer run releases it */
	in->tail_calls = out->tail_calls;
	in->fault = 0;
	in->nest = out->nest + 1;
	in->outer = out;
	in->err = out->err;
	in->nregions = out->nregions;
	in->pkt_ctx = out->pkt_ctx;
	memcpy(in->regions, out->regions, out->nregions * sizeof(in->regions[0]));
	in->jb = out->jb;
	in->jit_active = out->jit_active;
	in->jit_depth = 0;
	in->jit_frame[0] = 0;	/* the callback's own frames are recorded as it enters */
	if (!out->jit_active)
		ub_run_add_region(in, out->stack, sizeof(out->stack), 1);
	for (uint32_t k = 0; out->jit_active && k <= out->jit_depth && k < UB_MAX_FRAMES; k++)
		if (out->jit_frame[k])
			ub_run_add_region(in, (void *)(uintptr_t)(out->jit_frame[k] - UB_STACK_SIZE),
					  UB_STACK_SIZE, 1);
	ub_run_cur = in;
	return 0;
}

int ub_callback_call(struct ub_run *in, uint64_t fn, const uint64_t *args, uint64_t *r0)
{
	const struct ub_tslot *start = fn_slot(in->prog, fn);

	if (in->prog->jit) {
		*r0 = ub_jit_call_fn(in, fn, args);
		return 0;	/* a fault inside left through longjmp */
	}
	if (in->prog->checked)
		return ub_interp_run_checked(in, start, args, r0);
	return ub_interp_run_fast(in, start, args, r0);
}

void ub_callback_end(struct ub_run *in, int err)
{
	struct ub_run *out = in->outer;

	ub_run_cur = out;
	out->err = in->err;	/* keep the log position, and a fault's message */
	out->budget = in->budget;
	if (err)
		out->fault = err;
}

int uebpf_prog_run_opts(struct uebpf_prog *prog, struct uebpf_run_opts *opts)
{
	struct ub_run run;
	uint64_t r0 = 0;

	if (!prog || !opts || !UEBPF_OPTS_VALID(opts, uebpf_run_opts))
		return -EINVAL;
	ub_run_init(&run, prog, opts->ctx, opts->ctx_size, opts->data, opts->data_size,
		    opts->err_buf, opts->err_size);
	int err = ub_run_exec(&run, (uintptr_t)opts->ctx, run.ctx_size, &r0);
	opts->retval = r0;
	return err;
}

uint64_t uebpf_prog_run(const struct uebpf_prog *prog, void *ctx)
{
	struct ub_run run;
	uint64_t r0 = 0;

	if (prog->jit && prog->jit->direct)	/* trusted code that uses no run state */
		return ub_jit_run_direct(prog->jit, ctx);
	ub_run_init(&run, prog, ctx, prog->ctx_size, NULL, 0, NULL, 0);
	ub_run_exec(&run, (uintptr_t)ctx, 0, &r0);
	return r0;
}
