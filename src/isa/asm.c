/*
 * ub_asm: the assembler.
 *
 * Every line is recognised on its own: a statement is matched against the templates of
 * every row of ub_ops[] (disasm.h), in both syntaxes, and the first template that matches
 * the whole statement gives the instruction. The disassembler prints with the same
 * templates, so whatever it prints assembles back to the same bytes.
 *
 * Around the templates, a line may carry what listings put there, so that llvm-objdump
 * output and verifier logs paste back in: "12:" index, llvm-objdump's raw bytes, the
 * verifier's "(b7)" opcode (which then also picks the row), a trailing "<LBB0_2>".
 * Labels ("name:") may precede a statement; ';', '//' and '#' (at the start or after a
 * blank, since the kernel writes helpers as "name#1") start comments.
 *
 * When no template matches, the error of the attempt that got furthest is reported.
 * The text is (ptr, len) and is never read past len.
 */
#include "isa/asm.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ub_asm_label {
	const char *name;
	size_t len;
	size_t idx;
	unsigned line, col;
};

struct ub_asm_fix {
	struct ub_asm_ref ref;
	size_t idx;
	unsigned line, col;
};

struct ub_asm {
	struct bpf_insn *insns;
	size_t cnt, cap;
	struct ub_asm_label *labels;
	size_t nlabels, lcap;
	struct ub_asm_fix *fixes;
	size_t nfixes, fcap;
	size_t first_exit;	/* the implicit label "exit" (bpf_conformance) */
	int have_exit;
	const char *line_start;
	unsigned line;
	struct ub_log *log;
};

/* ---- Output arrays ---- */

/* arr with room for need elements (doubling), or NULL with arr untouched. */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return arr;
	size_t n = *cap ? *cap : 64;
	while (n < need && n <= SIZE_MAX / 2)
		n *= 2;
	if (n < need || n > SIZE_MAX / elem || !(arr = realloc(arr, n * elem)))
		return NULL;
	*cap = n;
	return arr;
}

static unsigned col_of(const struct ub_asm *a, const char *at)
{
	return (unsigned)(at - a->line_start) + 1;
}

__attribute__((format(printf, 4, 5)))
static int error_at(struct ub_asm *a, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	if (!a->log)
		return -EINVAL;
	ub_log_printf(a->log, "%u:%u: ", line, col);
	va_start(ap, fmt);
	ub_log_vprintf(a->log, fmt, ap);
	va_end(ap);
	ub_log_printf(a->log, "\n");
	return -EINVAL;
}

static int emit(struct ub_asm *a, const struct bpf_insn *in, size_t n)
{
	struct bpf_insn *p = grow(a->insns, &a->cap, a->cnt + n, sizeof(*in));

	if (!p)
		return -ENOMEM;
	a->insns = p;
	memcpy(&a->insns[a->cnt], in, n * sizeof(*in));
	a->cnt += n;
	return 0;
}

static int add_fix(struct ub_asm *a, const struct ub_asm_ref *ref)
{
	struct ub_asm_fix *p = grow(a->fixes, &a->fcap, a->nfixes + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	a->fixes = p;
	a->fixes[a->nfixes++] = (struct ub_asm_fix){ .ref = *ref, .idx = a->cnt, .line = a->line,
						     .col = col_of(a, ref->at) };
	return 0;
}

static int add_label(struct ub_asm *a, const char *name, size_t len)
{
	struct ub_asm_label *p = grow(a->labels, &a->lcap, a->nlabels + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	a->labels = p;
	a->labels[a->nlabels++] = (struct ub_asm_label){ .name = name, .len = len, .idx = a->cnt,
							 .line = a->line, .col = col_of(a, name) };
	return 0;
}

/* ---- Statements ---- */

static int emit_match(struct ub_asm *a, const struct ub_asm_try *t)
{
	int err = 0;

	if (t->ref.name)
		err = add_fix(a, &t->ref);
	if (!err && t->oi->fmt == UB_FMT_EXIT && !a->have_exit) {
		a->first_exit = a->cnt;
		a->have_exit = 1;
	}
	return err ? err : emit(a, t->in, t->oi->fmt == UB_FMT_LDDW ? 2 : 1);
}

/* The statement [s, e) against every row; annot >= 0 restricts to that opcode byte. */
static int statement(struct ub_asm *a, const char *s, const char *e, int annot)
{
	static const enum ub_syntax syns[] = { UB_SYNTAX_LLVM, UB_SYNTAX_CONF, UB_SYNTAX_LLVM };
	struct ub_asm_err best = { .at = NULL };
	struct ub_asm_try t = { .start = s, .end = e, .best = &best };

	for (int op = 0; op < UB_OP__COUNT; op++) {
		if (annot >= 0 && ub_ops[op].code != annot)
			continue;
		for (int k = 0; k < 3; k++) {
			const char *tmpl = ub_disasm_tmpl(op, syns[k], k == 2);
			if (tmpl && !ub_asm_match(&t, op, tmpl, syns[k]))
				return emit_match(a, &t);
		}
	}
	if (!best.at)
		return error_at(a, a->line, col_of(a, s), "no instruction has opcode 0x%02x",
				annot);
	/* Nothing matched even the first word: name it rather than guess at an operand. */
	if (best.at < s + ub_asm_token_len(s, e) && best.prio < UB_ASM_PRIO_VALUE)
		return error_at(a, a->line, col_of(a, s), "unknown mnemonic '%.*s'",
				ub_asm_token_len(s, e), s);
	return error_at(a, a->line, col_of(a, best.at), "%s", best.msg);
}

/* "0x<16 hex digits>": one raw slot in memory order. Returns the end, or NULL. */
static const char *raw_slot(const char *p, const char *e, struct bpf_insn *in)
{
	unsigned char b[sizeof(*in)];

	if (e - p < 18 || p[0] != '0' || (p[1] | 0x20) != 'x')
		return NULL;
	p += 2;
	for (size_t k = 0; k < sizeof(b); k++, p += 2) {
		if (ub_asm_hex_val(p[0]) < 0 || ub_asm_hex_val(p[1]) < 0)
			return NULL;
		b[k] = (unsigned char)(ub_asm_hex_val(p[0]) << 4 | ub_asm_hex_val(p[1]));
	}
	if (p < e && ub_asm_is_word(*p))
		return NULL;
	memcpy(in, b, sizeof(b));
	return p;
}

/* ".insn 0x<16 hex digits>[, 0x<16 hex digits>]": what the disassembler cannot name. */
static int directive_insn(struct ub_asm *a, const char *s, const char *e)
{
	struct bpf_insn in[2];
	size_t n = 0;
	const char *p = s + 5, *q;

	do {
		p = ub_asm_skip_ws(p, e);
		if (n && (p >= e || *p++ != ','))
			return error_at(a, a->line, col_of(a, p), "expected ','");
		p = ub_asm_skip_ws(p, e);
		if (!(q = raw_slot(p, e, &in[n++])))
			return error_at(a, a->line, col_of(a, p), "expected 0x and 16 hex digits");
		p = ub_asm_skip_ws(q, e);
	} while (p < e && n < 2);
	if (p < e)
		return error_at(a, a->line, col_of(a, p), "unexpected trailing '%.*s'",
				ub_asm_token_len(p, e), p);
	return emit(a, in, n);
}

/* ---- Lines ---- */

/* Where the comment starts: ';', '//', or '#' at the start or after a blank. */
static const char *strip_comment(const char *s, const char *e)
{
	for (const char *p = s; p < e; p++) {
		if (*p == ';' || (*p == '/' && p + 1 < e && p[1] == '/'))
			return p;
		if (*p == '#' && (p == s || ub_asm_is_space(p[-1])))
			return p;
	}
	return e;
}

/* llvm-objdump's " <LBB0_2>" after a jump. */
static const char *strip_symbol(const char *s, const char *e)
{
	while (e > s && ub_asm_is_space(e[-1]))
		e--;
	if (e == s || e[-1] != '>')
		return e;
	for (const char *p = e - 1; p > s; p--) {
		if (*p == '>' && p != e - 1)
			return e;
		if (*p == '<')
			return ub_asm_is_space(p[-1]) ? p : e;
	}
	return e;
}

/* llvm-objdump's raw bytes: exactly 8 or 16 hex pairs (one or two slots). */
static const char *skip_raw_bytes(const char *s, const char *e)
{
	const char *p = s;
	int n = 0;

	while (e - p >= 2 && ub_asm_hex_val(p[0]) >= 0 && ub_asm_hex_val(p[1]) >= 0 &&
	       (e - p == 2 || ub_asm_is_space(p[2]))) {
		p = ub_asm_skip_ws(p + 2, e);
		n++;
	}
	return n == 8 || n == 16 ? p : s;
}

/* "12:" (an instruction index), raw bytes, then the verifier's "(b7)" into *annot. */
static const char *skip_prefix(const char *s, const char *e, int *annot)
{
	const char *p = s;

	while (p < e && ub_asm_is_digit(*p))
		p++;
	if (p > s && p < e && *p == ':')
		s = skip_raw_bytes(ub_asm_skip_ws(p + 1, e), e);
	if (e - s >= 4 && s[0] == '(' && ub_asm_hex_val(s[1]) >= 0 && ub_asm_hex_val(s[2]) >= 0 &&
	    s[3] == ')') {
		*annot = ub_asm_hex_val(s[1]) << 4 | ub_asm_hex_val(s[2]);
		s = ub_asm_skip_ws(s + 4, e);
	}
	return s;
}

static int line(struct ub_asm *a, const char *s, const char *e)
{
	int annot = -1, err;

	e = strip_symbol(s, strip_comment(s, e));
	s = skip_prefix(ub_asm_skip_ws(s, e), e, &annot);
	for (;;) {
		const char *q = ub_asm_scan_ident(s, e);
		if (q == s || q >= e || *q != ':')
			break;
		if ((err = add_label(a, s, (size_t)(q - s))))
			return err;
		s = ub_asm_skip_ws(q + 1, e);
	}
	if (s == e)
		return 0;
	if (e - s >= 5 && !memcmp(s, ".insn", 5) && (e - s == 5 || !ub_asm_is_word(s[5])))
		return directive_insn(a, s, e);
	return statement(a, s, e, annot);
}

/* ---- Labels ---- */

static int name_cmp(const struct ub_asm_label *a, const struct ub_asm_label *b)
{
	int c = memcmp(a->name, b->name, a->len < b->len ? a->len : b->len);

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* By name, then by position: a duplicate sorts after the first definition. */
static int label_cmp(const void *x, const void *y)
{
	const struct ub_asm_label *a = x, *b = y;
	int c = name_cmp(a, b);

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return a->col < b->col ? -1 : a->col > b->col;
}

/* Sorts the labels for lookup and refuses a name defined twice. */
static int check_labels(struct ub_asm *a)
{
	if (a->nlabels)
		qsort(a->labels, a->nlabels, sizeof(*a->labels), label_cmp);
	for (size_t i = 1; i < a->nlabels; i++) {
		const struct ub_asm_label *p = &a->labels[i - 1], *l = &a->labels[i];
		if (!name_cmp(p, l))
			return error_at(a, l->line, l->col,
					"duplicate label '%.*s' (first on line %u)",
					(int)l->len, l->name, p->line);
	}
	return 0;
}

static int find_label(const struct ub_asm *a, const struct ub_asm_ref *ref, size_t *idx)
{
	struct ub_asm_label key = { .name = ref->name, .len = ref->len };
	size_t lo = 0, hi = a->nlabels;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(&a->labels[mid], &key);
		if (!c) {
			*idx = a->labels[mid].idx;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* bpf_conformance: "exit" names the first exit unless defined otherwise. */
	if (ref->len == 4 && !memcmp(ref->name, "exit", 4) && a->have_exit) {
		*idx = a->first_exit;
		return 1;
	}
	return 0;
}

static int resolve(struct ub_asm *a, const struct ub_asm_fix *f)
{
	const struct ub_asm_ref *r = &f->ref;
	size_t idx;

	if (!find_label(a, r, &idx))
		return error_at(a, f->line, f->col, "undefined label '%.*s'", (int)r->len, r->name);
	int64_t delta = (int64_t)idx - (int64_t)(f->idx + 1);
	int64_t lim = r->field == UB_TF_OFF ? INT16_MAX : INT32_MAX;
	if (delta > lim || delta < -lim - 1)
		return error_at(a, f->line, f->col,
				"jump offset %lld to '%.*s' out of %d-bit range", (long long)delta,
				(int)r->len, r->name, r->field == UB_TF_OFF ? 16 : 32);
	if (r->field == UB_TF_OFF)
		a->insns[f->idx].off = (int16_t)delta;
	else
		a->insns[f->idx].imm = (int32_t)delta;
	return 0;
}

/* ---- Entry point ---- */

static int assemble(struct ub_asm *a, const char *text, size_t len)
{
	const char *end = text + len;
	int err = 0;

	for (const char *s = text; s < end && !err;) {
		const char *e = memchr(s, '\n', (size_t)(end - s));
		e = e ? e : end;
		a->line++;
		a->line_start = s;
		err = line(a, s, e);
		s = e < end ? e + 1 : end;
	}
	if (!err)
		err = check_labels(a);
	for (size_t i = 0; i < a->nfixes && !err; i++)
		err = resolve(a, &a->fixes[i]);
	/* Even an empty program gets an array, so *out is never NULL on success. */
	if (!err && !a->cap && !(a->insns = grow(NULL, &a->cap, 1, sizeof(*a->insns))))
		err = -ENOMEM;
	return err;
}

int ub_asm(const char *text, size_t len, struct bpf_insn **out, size_t *cnt, struct ub_log *log)
{
	struct ub_asm a = { .log = log };

	if ((!text && len) || !out || !cnt)
		return -EINVAL;
	int err = assemble(&a, text ? text : "", len);
	free(a.labels);
	free(a.fixes);
	if (err == -ENOMEM && log)
		ub_log_printf(log, "%u:1: out of memory\n", a.line);
	if (err) {
		free(a.insns);
		return err;
	}
	*out = a.insns;
	*cnt = a.cnt;
	return 0;
}
