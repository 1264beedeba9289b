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

#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

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

/* ---- Registers, the kernel's print_verifier_state ---- */

/* A growing line: appends stop quietly at the end of the buffer. */
struct line {
	char *b;
	size_t n, len;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;

	if (l->len + 1 >= l->n)
		return;
	va_start(ap, fmt);
	int k = vsnprintf(l->b + l->len, l->n - l->len, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->len = MIN(l->len + (size_t)k, l->n - 1);
}

/* The kernel's verbose_snum/verbose_unum: small numbers in decimal, others in hex. */
static void snum(struct line *l, int64_t v)
{
	if (v >= INT16_MIN && v <= INT16_MAX)
		add(l, "%lld", (long long)v);
	else
		add(l, "0x%llx", (unsigned long long)v);
}

static void unum(struct line *l, uint64_t v)
{
	if (v <= INT16_MAX)
		add(l, "%llu", (unsigned long long)v);
	else
		add(l, "0x%llx", (unsigned long long)v);
}

static bool snum_decimal(int64_t v)
{
	return v >= INT16_MIN && v <= INT16_MAX;
}

/*
 * The kernel's print_scalar_ranges: each bound once, with the names of the others of its
 * kind (min or max) that have the same value, e.g. "smin=smin32=0,smax=umax=255"; 32-bit
 * signed bounds in hex are not sign-extended.
 */
static void scalar_ranges(struct line *l, const struct ub_vreg *r, const char **sep)
{
	struct {
		const char *name;
		uint64_t val;
		bool omit;
	} m[8] = {
		{ "smin", (uint64_t)r->smin, r->smin == INT64_MIN },
		{ "smax", (uint64_t)r->smax, r->smax == INT64_MAX },
		{ "umin", r->umin, r->umin == 0 },
		{ "umax", r->umax, r->umax == UINT64_MAX },
		{ "smin32", snum_decimal(r->s32_min) ? (uint64_t)(int64_t)r->s32_min : (uint32_t)r->s32_min,
		  r->s32_min == INT32_MIN },
		{ "smax32", snum_decimal(r->s32_max) ? (uint64_t)(int64_t)r->s32_max : (uint32_t)r->s32_max,
		  r->s32_max == INT32_MAX },
		{ "umin32", r->u32_min, r->u32_min == 0 },
		{ "umax32", r->u32_max, r->u32_max == UINT32_MAX },
	};

	for (int i = 0; i < 8; i++) {
		if (m[i].omit)
			continue;
		bool neg = m[i].name[0] == 's' && (int64_t)m[i].val < 0;
		add(l, "%s%s=", *sep, m[i].name);
		*sep = ",";
		for (int j = i + 2; j < 8; j += 2) {
			if (m[j].omit || m[j].val != m[i].val ||
			    (m[j].name[0] == 's' && (int64_t)m[j].val < 0) != neg)
				continue;	/* don't mix negatives with positives */
			m[j].omit = true;
			add(l, "%s=", m[j].name);
		}
		if (m[i].name[0] == 's')
			snum(l, (int64_t)m[i].val);
		else
			unum(l, m[i].val);
	}
}

static void tnum_text(struct line *l, struct ub_tnum t)
{
	add(l, "(0x%llx; 0x%llx)", (unsigned long long)t.value, (unsigned long long)t.mask);
}

/* The kernel's print_reg_state; frameno is the frame whose state is printed. */
static void reg_text(struct line *l, const struct ub_vreg *r, int frameno)
{
	unsigned base = VT_BASE(r->type);
	const char *sep = "";
	char t[48];

	if (r->type == VT_SCALAR && ub_tnum_is_const(r->var_off)) {
		snum(l, (int64_t)r->var_off.value);
		return;
	}
	add(l, "%s", ub_vst_type_str(r->type, t, sizeof(t)));
	if (base == VT_STACK) {
		if (r->frameno != frameno)
			add(l, "[%d]", r->frameno);
		if (ub_tnum_is_const(r->var_off)) {
			snum(l, (int64_t)(r->var_off.value + (uint64_t)(int64_t)r->off));
			return;
		}
	}
	add(l, "(");
#define ITEM(...) do { add(l, "%s", sep); add(l, __VA_ARGS__); sep = ","; } while (0)
	if (r->id)
		ITEM("id=%u", r->id & ~UB_ADD_CONST);
	if (r->id & UB_ADD_CONST)
		add(l, "%+d", r->off);
	if (r->ref_obj_id)
		ITEM("ref_obj_id=%u", r->ref_obj_id);
	if (r->map && (base == VT_MAP_PTR || base == VT_MAP_VALUE || base == VT_MAP_KEY)) {
		ITEM("ks=%u,vs=%u", r->map->key_size, r->map->value_size);
	}
	if (r->type != VT_SCALAR && r->off) {
		ITEM("off=");
		snum(l, r->off);
	}
	if (ub_vst_is_pkt(r)) {
		ITEM("r=");
		unum(l, (uint64_t)(int64_t)r->range);
	}
	if (base == VT_MEM) {
		ITEM("sz=");
		unum(l, r->mem_size);
	}
	if (ub_tnum_is_const(r->var_off)) {
		if (r->var_off.value) {
			ITEM("imm=");
			snum(l, (int64_t)r->var_off.value);
		}
	} else {
		scalar_ranges(l, r, &sep);
		if (!ub_tnum_is_unknown(r->var_off)) {
			ITEM("var_off=");
			tnum_text(l, r->var_off);
		}
	}
#undef ITEM
	add(l, ")");
}

void ub_vlog_reg(struct ub_venv *env, const struct ub_vreg *r)
{
	char b[320];
	struct line l = { b, sizeof(b), 0 };

	b[0] = '\0';
	reg_text(&l, r, env->cur ? env->cur->curframe : 0);
	ub_vlog(env, "%s", b);
}

/* One stack slot, as the kernel prints it: the byte kinds from the highest address
 * down, and for a spill the kinds above it followed by the register. */
static void slot_text(struct line *l, const struct ub_vslot *s, int spi, int frameno)
{
	static const char kind[] = { [STK_INVALID] = '?', [STK_SPILL] = 'r', [STK_MISC] = 'm',
				      [STK_ZERO] = '0' };
	char types[UB_REG_SIZE + 1];
	bool valid = false;

	for (int j = 0; j < UB_REG_SIZE; j++) {
		valid |= s->st[j] != STK_INVALID;
		types[j] = kind[s->st[j] & 3];
	}
	types[UB_REG_SIZE] = '\0';
	if (!valid)
		return;
	add(l, " fp%d=", (-spi - 1) * UB_REG_SIZE);
	if (s->st[UB_REG_SIZE - 1] != STK_SPILL) {
		add(l, "%s", types);
		return;
	}
	for (int j = 0; j < UB_REG_SIZE; j++)
		if (s->st[j] == STK_SPILL) {
			types[j] = '\0';
			break;
		}
	add(l, "%s", types);
	reg_text(l, &s->spilled, frameno);
}

/* The kernel's print_verifier_state: all of it, or what the instruction touched. */
static void state_text(struct ub_venv *env, const struct ub_vstate *st, int frame, bool all)
{
	const struct ub_vframe *f = st->frame[frame];
	char b[1024];

	if (!f)
		return;
	if (frame)
		ub_vlog(env, " frame%d:", frame);
	for (int i = 0; i < UB_MAX_REG; i++) {
		struct line l = { b, sizeof(b), 0 };
		if (f->regs[i].type == VT_NOT_INIT || (!all && !(env->scratched_regs & (1u << i))))
			continue;
		add(&l, " R%d=", i);
		reg_text(&l, &f->regs[i], frame);
		ub_vlog(env, "%s", b);
	}
	for (int i = 0; i < f->nslots; i++) {
		struct line l = { b, sizeof(b), 0 };
		if (!all && (i >= 64 || !(env->scratched_stack & (1ull << i))))
			continue;
		b[0] = '\0';
		slot_text(&l, &f->stack[i], i, frame);
		ub_vlog(env, "%s", b);
	}
	for (int i = 0; i < st->nrefs; i++)
		ub_vlog(env, "%s%u", i ? "," : " refs=", st->refs[i].id);
	if (f->in_callback)
		ub_vlog(env, " cb");
	ub_vlog(env, "\n");
	if (!all)
		env->scratched_regs = 0, env->scratched_stack = 0;
}

void ub_vlog_state(struct ub_venv *env, const struct ub_vstate *st, int frame)
{
	if (ub_vlog_trace(env))
		state_text(env, st, frame, true);
}

/* The kernel's vlog_alignment: the column of the ';' that starts the state after an
 * instruction, at least 40 and a multiple of 8. */
static int alignment(size_t pos)
{
	size_t col = MAX(pos + 4, 40);
	return (int)((col + 7) / 8 * 8 - pos - 1);
}

/*
 * The kernel's print_insn_state, before the next instruction is printed: what the last
 * one touched, on its line after a ';' when nothing came in between, else on a line
 * of its own that starts with the instruction index.
 */
void ub_vlog_insn_state(struct ub_venv *env)
{
	if (!ub_vlog_trace(env) || (!env->scratched_regs && !env->scratched_stack))
		return;
	if (env->prev_log_pos && env->prev_log_pos == env->log.end) {
		ub_vlog_reset(env, env->prev_log_pos - 1);	/* the newline */
		ub_vlog(env, "%*c;", alignment(env->prev_insn_print_pos), ' ');
	} else {
		ub_vlog(env, "%d:", env->insn_idx);
	}
	state_text(env, env->cur, env->cur->curframe, false);
}

void ub_vlog_insn(struct ub_venv *env, int idx)
{
	char text[128];
	const struct bpf_insn *in = &env->insns[idx];

	if (!ub_vlog_trace(env))
		return;
	if (ub_disasm_insn(env->insns, (size_t)env->cnt, (size_t)idx, UB_SYNTAX_LLVM, text,
			   sizeof(text)) < 0)
		snprintf(text, sizeof(text), "(bad)");
	ub_vbtf_log_line(env, idx);
	env->prev_log_pos = env->log.end;
	ub_vlog(env, "%d: (%02x) %s\n", idx, in->code, text);
	env->prev_insn_print_pos = env->log.end - env->prev_log_pos;
	env->prev_log_pos = env->log.end;
}
