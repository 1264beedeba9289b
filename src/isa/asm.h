/*
 * ub_asm internals, shared by asm.c (lines, labels, the program) and asm_match.c (one
 * statement against one template).
 */
#ifndef UB_ISA_ASM_H
#define UB_ISA_ASM_H
#include "isa/disasm.h"

/* How telling a failure is when attempts fail at the same column. */
enum { UB_ASM_PRIO_SYNTAX, UB_ASM_PRIO_OPERAND, UB_ASM_PRIO_VALUE };

struct ub_asm_err {
	const char *at;		/* NULL: no failure recorded */
	int prio;
	char msg[128];
};

struct ub_asm_ref {		/* a label used as a jump or call target */
	const char *name;
	size_t len;
	const char *at;
	unsigned field;		/* UB_TF_OFF or UB_TF_IMM */
};

/* One attempt at matching a statement against one template. */
struct ub_asm_try {
	const char *start, *p, *end;
	enum ub_syntax syn;
	const struct ub_opinfo *oi;
	struct bpf_insn in[2];
	unsigned given;		/* UB_TF_* set so far: a register named twice must agree */
	int glue;		/* the last thing matched was a letter of a literal word */
	struct ub_asm_ref ref;
	struct ub_asm_err *best;
};

/*
 * Matches the statement [t->start, t->end) against template tmpl of operation op in
 * syntax syn. On success returns 0 with t->in (and t->ref) filled; otherwise records the
 * failure in *t->best if it got further than the best so far, and returns -1.
 */
int ub_asm_match(struct ub_asm_try *t, int op, const char *tmpl, enum ub_syntax syn);

/* Length of the token at p, for messages: a word, or a run of punctuation. */
int ub_asm_token_len(const char *p, const char *end);

/* ---- Characters ---- */

static inline int ub_asm_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static inline int ub_asm_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline int ub_asm_hex_val(char c)
{
	if (ub_asm_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline int ub_asm_is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.';
}

static inline int ub_asm_is_word(char c)
{
	return ub_asm_is_ident_start(c) || ub_asm_is_digit(c) || c == '$';
}

static inline const char *ub_asm_skip_ws(const char *p, const char *end)
{
	while (p < end && ub_asm_is_space(*p))
		p++;
	return p;
}

static inline const char *ub_asm_scan_ident(const char *p, const char *end)
{
	if (p < end && ub_asm_is_ident_start(*p))
		while (++p < end && ub_asm_is_word(*p))
			;
	return p;
}

#endif
