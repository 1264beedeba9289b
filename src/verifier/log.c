/*
 * ub_vlog: the verifier log, in the kernel's format.
 *
 * Level 1 shows the path that failed: every processed instruction is printed, and when
 * a path ends the log is rewound to where its branch was pushed, so what remains is the
 * last path (the kernel's pop_log). Level 2 keeps every path and prints the state at
 * each branch target. The text is kept as the kernel's rotating log keeps it: when the
 * buffer is too small, the oldest text goes, so the reason (the last lines) survives.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "maps/map.h"
#include "verifier/env.h"

void ub_vlog_init(struct ub_vlog *log, struct ub_log *out, uint32_t level)
{
	memset(log, 0, sizeof(*log));
	log->out = out && out->buf && out->size > 1 ? out : NULL;
	log->level = log->out ? level : 0;
}

static size_t cap_of(const struct ub_vlog *log)
{
	return log->out->size - 1;	/* one byte for the final NUL */
}

/* Appends text at the absolute position log->end, in a circular buffer. */
static void put(struct ub_vlog *log, const char *s, size_t n)
{
	size_t cap = cap_of(log);
	char *buf = log->out->buf;

	for (size_t i = 0; i < n; i++)
		buf[(log->end + i) % cap] = s[i];
	log->end += n;
	if (log->end - log->start > cap)
		log->start = log->end - cap;
	if (log->end > log->max_end)
		log->max_end = log->end;
}

void ub_vlog(struct ub_venv *env, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	if (!env->log.level)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(&env->log, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

size_t ub_vlog_pos(const struct ub_venv *env)
{
	return env->log.end;
}

void ub_vlog_reset(struct ub_venv *env, size_t pos)
{
	struct ub_vlog *log = &env->log;

	if (!log->level || pos > log->end)
		return;
	log->end = pos;
	if (log->start > pos)
		log->start = pos;
}

static void reverse(char *a, size_t lo, size_t hi)	/* [lo, hi) */
{
	while (lo + 1 < hi) {
		char t = a[lo];
		a[lo++] = a[--hi];
		a[hi] = t;
	}
}

/* Rotates the kept text to the start of the buffer and NUL-terminates it. */
void ub_vlog_finish(struct ub_venv *env)
{
	struct ub_vlog *log = &env->log;

	if (!log->out)
		return;
	size_t cap = cap_of(log), n = log->end - log->start, first = log->start % cap;
	char *buf = log->out->buf;
	/* the text sits at [first, first + n) modulo cap: rotate the ring left by first */
	if (first) {
		reverse(buf, 0, first);
		reverse(buf, first, cap);
		reverse(buf, 0, cap);
	}
	buf[n] = '\0';
	log->out->len = n;
}

/* Text was lost (the kernel's len_max > len_total): the load fails with ENOSPC. */
bool ub_vlog_overflowed(const struct ub_venv *env)
{
	return env->log.out && env->log.max_end > cap_of(&env->log);
}

void ub_vlog_insn(struct ub_venv *env, int idx)
{
	char text[128];
	const struct bpf_insn *in = &env->insns[idx];

	if (ub_disasm_insn(env->insns, (size_t)env->cnt, (size_t)idx, UB_SYNTAX_LLVM, text,
			   sizeof(text)) < 0)
		snprintf(text, sizeof(text), "(bad)");
	ub_vlog(env, "%d: (%02x) %s\n", idx, in->code, text);
}

/* ---- Registers, the kernel's print_verifier_state ---- */

static void scalar_str(const struct ub_vreg *r, char *b, size_t n)
{
	size_t len = 0;

	if (ub_tnum_is_const(r->var_off)) {
		snprintf(b, n, "%lld", (long long)r->var_off.value);
		return;
	}
	len += (size_t)snprintf(b + len, n - len, "scalar(");
	if (r->smin != INT64_MIN && len < n)
		len += (size_t)snprintf(b + len, n - len, "smin=%lld,", (long long)r->smin);
	if (r->smax != INT64_MAX && len < n)
		len += (size_t)snprintf(b + len, n - len, "smax=%lld,", (long long)r->smax);
	if (r->umin && len < n)
		len += (size_t)snprintf(b + len, n - len, "umin=%llu,", (unsigned long long)r->umin);
	if (r->umax != UINT64_MAX && len < n)
		len += (size_t)snprintf(b + len, n - len, "umax=%llu,", (unsigned long long)r->umax);
	if (!ub_tnum_is_unknown(r->var_off) && len < n) {
		len += (size_t)snprintf(b + len, n - len, "var_off=");
		if (len < n)
			len += (size_t)ub_tnum_str(b + len, n - len, r->var_off);
		if (len < n)
			len += (size_t)snprintf(b + len, n - len, ",");
	}
	if (len < n && b[len - 1] == ',')
		len--;
	snprintf(b + (len < n ? len : n - 1), n - (len < n ? len : n - 1), ")");
}

static void ptr_str(const struct ub_vreg *r, char *b, size_t n)
{
	char t[48], extra[160] = "";
	size_t len = 0;

	ub_vst_type_str(r->type, t, sizeof(t));
	if (VT_BASE(r->type) == VT_STACK && ub_tnum_equals_const(r->var_off, 0)) {
		snprintf(b, n, "fp%d", r->off);
		return;
	}
	if (r->id)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "id=%u,", r->id);
	if (r->ref_obj_id && len < sizeof(extra))
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "ref_obj_id=%u,", r->ref_obj_id);
	if (r->off && len < sizeof(extra))
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "off=%d,", r->off);
	if (ub_vst_is_pkt(r) && len < sizeof(extra))
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "r=%d,", r->range);
	if (r->map && len < sizeof(extra))
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "ks=%u,vs=%u,",
					r->map->key_size, r->map->value_size);
	if (VT_BASE(r->type) == VT_MEM && len < sizeof(extra))
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "sz=%u,", r->mem_size);
	if (!ub_tnum_equals_const(r->var_off, 0) && len < sizeof(extra)) {
		char v[80];
		scalar_str(r, v, sizeof(v));
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "%s,", v + 6);
	}
	if (len && len < sizeof(extra))
		extra[len - 1] = '\0';
	snprintf(b, n, "%s(%s)", t, extra);
}

void ub_vlog_reg(struct ub_venv *env, const struct ub_vreg *r)
{
	char b[256];

	if (r->type == VT_SCALAR)
		scalar_str(r, b, sizeof(b));
	else
		ptr_str(r, b, sizeof(b));
	ub_vlog(env, "%s", b);
}

static void slot_str(const struct ub_vslot *s, char *b, size_t n)
{
	static const char kind[] = { [STK_INVALID] = '?', [STK_SPILL] = 'r', [STK_MISC] = 'm',
				      [STK_ZERO] = '0' };
	for (int i = 0; i < UB_REG_SIZE && (size_t)i + 1 < n; i++)
		b[i] = kind[s->st[UB_REG_SIZE - 1 - i] & 3];
	b[n > UB_REG_SIZE ? UB_REG_SIZE : n - 1] = '\0';
}

void ub_vlog_state(struct ub_venv *env, const struct ub_vstate *st, int frame)
{
	const struct ub_vframe *f = st->frame[frame];

	if (!env->log.level || !f)
		return;
	if (frame)
		ub_vlog(env, " frame%d:", frame);
	for (int i = 0; i < UB_MAX_REG; i++) {
		if (f->regs[i].type == VT_NOT_INIT)
			continue;
		ub_vlog(env, " R%d=", i);
		ub_vlog_reg(env, &f->regs[i]);
	}
	for (int i = 0; i < f->nslots; i++) {
		const struct ub_vslot *s = &f->stack[i];
		char b[16];
		if (s->st[UB_REG_SIZE - 1] == STK_SPILL) {
			ub_vlog(env, " fp%d=", -(i + 1) * UB_REG_SIZE);
			ub_vlog_reg(env, &s->spilled);
			continue;
		}
		slot_str(s, b, sizeof(b));
		if (strcmp(b, "????????"))
			ub_vlog(env, " fp%d=%s", -(i + 1) * UB_REG_SIZE, b);
	}
	for (int i = 0; i < st->nrefs; i++)
		ub_vlog(env, "%s%u", i ? "," : " refs=", st->refs[i].id);
	ub_vlog(env, "\n");
}
