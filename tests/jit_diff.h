/*
 * jit_diff: the JIT against the interpreter on one program, for tests/test_jit_diff.c and
 * fuzz targets. Header-only (static inline functions) so that any test or fuzz target can include
 * it without a library of its own.
 *
 * jd_compare() loads the program into both engines with the same options, runs each on its
 * own copy of the same memory (r1 = the copy, r2 = its size) and compares:
 *   - the load verdict (both accept or both refuse);
 *   - the run's result: both fault with the same errno, or both finish with the same r0
 *     and every byte of memory equal.
 * A run that spends its instruction budget is not compared: the interpreter counts every
 * instruction, the JIT only function entries and backward jumps, so where each stops
 * differs by design. With harden set, a third run (the JIT with constant blinding) must
 * match too.
 */
#ifndef JIT_DIFF_H
#define JIT_DIFF_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uebpf/uebpf.h>

#define JD_MEM_MAX 4096

struct jd_case {
	const struct bpf_insn *insns;
	size_t cnt;
	const uint8_t *mem;		/* the program's context: r1 points at a copy */
	size_t mem_len;			/* at most JD_MEM_MAX */
	uint32_t flags;			/* UEBPF_PROG_F_CHECKED or UEBPF_PROG_F_TRUSTED */
	const struct uebpf_helper *helpers;	/* NULL: the kernel's helpers */
	size_t helper_cnt;
	uint64_t budget;		/* checked mode: instructions per run, 0: default */
	int harden;			/* also compare the JIT with constant blinding */
};

struct jd_outcome {
	int load_err;
	int err;
	int budget;		/* the run stopped at its instruction budget */
	uint64_t r0;
	uint8_t mem[JD_MEM_MAX];
	char why[200];
};

enum jd_verdict {
	JD_SAME = 0,		/* equal results (or both refused the program) */
	JD_DIFF = 1,		/* a mismatch, described in the message */
	JD_SKIP = 2,		/* not comparable: a run ran out of budget */
};

static inline void jd_run(const struct jd_case *c, enum uebpf_engine engine, uint32_t extra,
			  struct jd_outcome *o)
{
	struct uebpf_prog_opts po = { .sz = sizeof(po), .engine = engine,
				      .flags = c->flags | extra, .insn_budget = c->budget,
				      .helpers = c->helpers, .helper_cnt = c->helper_cnt,
				      .ctx_size = c->mem_len };
	struct uebpf_prog *prog = NULL;
	/* a heap block of exactly mem_len bytes, so that ASan sees a stray trusted access */
	uint8_t *m = malloc(c->mem_len ? c->mem_len : 1);

	memset(o, 0, sizeof(*o));
	o->load_err = m ? uebpf_prog_new(c->insns, c->cnt, &po, &prog) : -ENOMEM;
	if (o->load_err) {
		free(m);
		return;
	}
	memcpy(m, c->mem, c->mem_len);
	struct uebpf_run_opts r = { .sz = sizeof(r), .ctx = m, .ctx_size = c->mem_len,
				    .err_buf = o->why, .err_size = sizeof(o->why) };
	o->err = uebpf_prog_run_opts(prog, &r);
	o->budget = o->err == -ETIME;
	o->r0 = r.retval;
	memcpy(o->mem, m, c->mem_len);
	free(m);
	uebpf_prog_free(prog);
}

/* Describes the first difference between a (the interpreter) and b into msg; JD_SAME if none. */
static inline enum jd_verdict jd_diff(const char *what, const struct jd_outcome *a,
				      const struct jd_outcome *b, size_t len, char *msg,
				      size_t msgsz)
{
	if (!a->load_err != !b->load_err) {
		snprintf(msg, msgsz, "%s: load: interpreter %d, JIT %d", what, a->load_err,
			 b->load_err);
		return JD_DIFF;
	}
	if (a->load_err)
		return JD_SAME;
	if (a->budget || b->budget)
		return JD_SKIP;
	if (a->err != b->err) {
		snprintf(msg, msgsz, "%s: run: interpreter %d '%.200s', JIT %d '%.200s'", what,
			 a->err, a->why, b->err, b->why);
		return JD_DIFF;
	}
	if (a->err)
		return JD_SAME;
	if (a->r0 != b->r0) {
		snprintf(msg, msgsz, "%s: r0: interpreter 0x%llx, JIT 0x%llx", what,
			 (unsigned long long)a->r0, (unsigned long long)b->r0);
		return JD_DIFF;
	}
	for (size_t k = 0; k < len; k++)
		if (a->mem[k] != b->mem[k]) {
			snprintf(msg, msgsz, "%s: memory byte %zu: interpreter 0x%02x, JIT 0x%02x",
				 what, k, a->mem[k], b->mem[k]);
			return JD_DIFF;
		}
	return JD_SAME;
}

/*
 * Runs c in both engines (and the hardened JIT if asked). JD_SAME, JD_SKIP, or JD_DIFF with
 * the difference in msg. *ran_ok (may be NULL) tells whether the interpreter's run ended
 * without a fault, e.g. to go on with the same program in trusted mode.
 */
static inline enum jd_verdict jd_compare(const struct jd_case *c, int *ran_ok, char *msg,
					 size_t msgsz)
{
	static __thread struct jd_outcome oi, oj;
	enum jd_verdict v;

	if (c->mem_len > JD_MEM_MAX) {
		snprintf(msg, msgsz, "memory of %zu bytes: more than %d", c->mem_len, JD_MEM_MAX);
		return JD_DIFF;
	}
	jd_run(c, UEBPF_ENGINE_INTERP, 0, &oi);
	jd_run(c, UEBPF_ENGINE_JIT, 0, &oj);
	if (ran_ok)
		*ran_ok = !oi.load_err && !oi.err;
	v = jd_diff("jit", &oi, &oj, c->mem_len, msg, msgsz);
	if (v != JD_SAME || !c->harden)
		return v;
	jd_run(c, UEBPF_ENGINE_JIT, UEBPF_PROG_F_JIT_HARDEN, &oj);
	return jd_diff("hardened jit", &oi, &oj, c->mem_len, msg, msgsz);
}

#endif
