/*
 * ub_asm_match: one statement against one template (disasm.h). Literal text matches with
 * optional blanks around punctuation; each %x operand has a parser that fills its field of
 * the instruction. A failure records where and why, so that when no template matches the
 * assembler can report the attempt that got furthest.
 */
#include "isa/asm.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- Failures ---- */

int ub_asm_token_len(const char *p, const char *end)
{
	const char *q = p;

	if (q < end && ub_asm_is_word(*q))
		while (q < end && ub_asm_is_word(*q) && q - p < 32)
			q++;
	else
		while (q < end && !ub_asm_is_word(*q) && !ub_asm_is_space(*q) && q - p < 32)
			q++;
	return (int)(q - p);
}

/* Records a failure at 'at' if it beats the best one so far. Returns -1. */
__attribute__((format(printf, 4, 5)))
static int fail(struct ub_asm_try *t, const char *at, int prio, const char *fmt, ...)
{
	struct ub_asm_err *b = t->best;
	va_list ap;

	if (b->at && (at < b->at || (at == b->at && prio <= b->prio)))
		return -1;
	b->at = at;
	b->prio = prio;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_unexpected(struct ub_asm_try *t, char want)
{
	if (t->p >= t->end)
		return fail(t, t->p, UB_ASM_PRIO_SYNTAX, "expected '%c'", want);
	return fail(t, t->p, UB_ASM_PRIO_SYNTAX, "unexpected '%.*s'",
		    ub_asm_token_len(t->p, t->end), t->p);
}

/* ---- Literal text ---- */

/*
 * A template blank: optional white space, except that two words cannot run together
 * ("ja32" is not "ja 32").
 */
static int lit_space(struct ub_asm_try *t)
{
	const char *q = ub_asm_skip_ws(t->p, t->end);
	int after_word = t->p > t->start && ub_asm_is_word(t->p[-1]);

	t->glue = 0;
	if (q == t->p && after_word && q < t->end && ub_asm_is_word(*q))
		return fail_unexpected(t, ' ');
	t->p = q;
	return 0;
}

static int lit_char(struct ub_asm_try *t, char c)
{
	if (c == ' ')
		return lit_space(t);
	/* Blanks may precede punctuation or a new word, never the inside of a word. */
	if (!ub_asm_is_word(c) || !t->glue)
		t->p = ub_asm_skip_ws(t->p, t->end);
	if (t->p >= t->end || *t->p != c)
		return fail_unexpected(t, c);
	t->p++;
	t->glue = ub_asm_is_word(c);
	return 0;
}

static int lit_str(struct ub_asm_try *t, const char *s)
{
	for (; *s; s++)
		if (lit_char(t, *s))
			return -1;
	t->glue = 0;
	return 0;
}

/* The conf mnemonic; bpf_conformance also spells bswapN as swapN. */
static int conf_mnemonic(struct ub_asm_try *t)
{
	const char *conf = t->oi->conf, *p = t->p;

	if (!lit_str(t, conf))
		return 0;
	if (strncmp(conf, "bswap", 5))
		return -1;
	t->p = p;
	t->glue = 0;
	return lit_str(t, conf + 1);
}

/* ---- Numbers ---- */

/* Whether the token at p looks like a number (for the priority of an error). */
static int looks_like_num(const char *p, const char *end)
{
	if (p < end && (*p == '+' || *p == '-'))
		p++;
	return p < end && ub_asm_is_digit(*p);
}

struct num {
	const char *at, *end;	/* the token, for messages */
	int neg, overflow;
	uint64_t mag;
};

static void scan_digits(struct ub_asm_try *t, struct num *n, unsigned base)
{
	int d;

	while (t->p < t->end && (d = ub_asm_hex_val(*t->p)) >= 0 && (unsigned)d < base) {
		if (n->mag > (UINT64_MAX - (unsigned)d) / base)
			n->overflow = 1;
		n->mag = n->mag * base + (unsigned)d;
		t->p++;
	}
}

/* [+-] (0x<hex> | <decimal>), not followed by a word character. */
static int scan_num(struct ub_asm_try *t, struct num *n, const char *what)
{
	memset(n, 0, sizeof(*n));
	t->p = ub_asm_skip_ws(t->p, t->end);
	n->at = t->p;
	if (t->p < t->end && (*t->p == '+' || *t->p == '-'))
		n->neg = *t->p++ == '-';

	const char *digits = t->p;
	int hex = t->end - t->p > 2 && t->p[0] == '0' && (t->p[1] | 0x20) == 'x' &&
		  ub_asm_hex_val(t->p[2]) >= 0;
	t->p += hex ? 2 : 0;
	scan_digits(t, n, hex ? 16 : 10);
	if (t->p == digits || (t->p < t->end && ub_asm_is_word(*t->p))) {
		int prio = looks_like_num(n->at, t->end) ? UB_ASM_PRIO_OPERAND : UB_ASM_PRIO_SYNTAX;
		return fail(t, n->at, prio, "expected %s", what);
	}
	n->end = t->p;
	return 0;
}

/*
 * Whether n fits a field of 'bits' bits: as a signed value, or also as an unsigned one
 * (0xffffffff is a 32-bit -1) when wrap is set. *v gets the value.
 */
static int num_fits(const struct num *n, unsigned bits, int wrap, int64_t *v)
{
	uint64_t smax = (UINT64_C(1) << (bits - 1)) - 1;
	uint64_t umax = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;

	*v = 0;
	if (n->overflow)
		return 0;
	if (n->neg) {
		*v = (int64_t)(~n->mag + 1);
		return n->mag <= smax + 1;
	}
	*v = (int64_t)n->mag;
	return n->mag <= (wrap ? umax : smax);
}

/* A number into a 'bits'-bit field, or a failure naming what it is. */
static int parse_num(struct ub_asm_try *t, const char *what, unsigned bits, int wrap, int64_t *v)
{
	struct num n;

	if (scan_num(t, &n, what))
		return -1;
	if (!num_fits(&n, bits, wrap, v))
		return fail(t, n.at, UB_ASM_PRIO_VALUE, "%s %.*s does not fit in %u bits", what,
			    (int)(n.end - n.at), n.at, bits);
	return 0;
}

/* ---- Operands ---- */

/*
 * Register width is part of ALU, jump and lddw spellings ("w1 += 2"); a memory access
 * takes either name (llvm-objdump -mattr=alu32 writes "w1 = *(u32 *)...", the kernel
 * "lock *(u32 *)(r1 +0) += r2").
 */
static int width_is_strict(const struct ub_opinfo *oi)
{
	uint8_t cls = BPF_CLASS(oi->code);
	return cls != BPF_LDX && cls != BPF_ST && cls != BPF_STX;
}

/* Whether the token at p looks like a register (for the priority of an error). */
static int looks_like_reg(const char *p, const char *end)
{
	if (p < end && *p == '%')
		return 1;
	return end - p >= 2 && (*p == 'r' || *p == 'w') && ub_asm_is_digit(p[1]);
}

/* "%rN" in conf syntax, "rN" or "wN" (of the wanted width) in LLVM syntax. */
static int parse_reg(struct ub_asm_try *t, char width, unsigned *reg)
{
	const char *at = t->p = ub_asm_skip_ws(t->p, t->end), *p = at;
	int conf = t->syn == UB_SYNTAX_CONF;

	if (conf && p < t->end && *p == '%')
		p++;
	int prio = looks_like_reg(at, t->end) ? UB_ASM_PRIO_OPERAND : UB_ASM_PRIO_SYNTAX;
	if ((conf && p == at) || t->end - p < 2 || (*p != 'r' && *p != 'w') ||
	    !ub_asm_is_digit(p[1]))
		return fail(t, at, prio, "expected register");
	char letter = *p++;
	unsigned n = 0;
	while (p < t->end && ub_asm_is_digit(*p) && n < 100)
		n = n * 10 + (unsigned)(*p++ - '0');
	if (p < t->end && ub_asm_is_word(*p))
		return fail(t, at, prio, "expected register");
	if (n >= UB_MAX_REG)
		return fail(t, at, UB_ASM_PRIO_VALUE, "invalid register '%.*s'", (int)(p - at), at);
	if (letter != (conf ? 'r' : width) && (conf || width_is_strict(t->oi)))
		return fail(t, at, UB_ASM_PRIO_OPERAND,
			    "register '%.*s' has the wrong width (want %c%u)", (int)(p - at), at,
			    conf ? 'r' : width, n);
	t->p = p;
	*reg = n;
	return 0;
}

static int reg_field(struct ub_asm_try *t, unsigned field, char width)
{
	struct bpf_insn *in = &t->in[0];
	const char *at = ub_asm_skip_ws(t->p, t->end);
	unsigned reg;

	if (parse_reg(t, width, &reg))
		return -1;
	unsigned old = field == UB_TF_DST ? in->dst_reg : in->src_reg;
	if ((t->given & field) && old != reg)
		return fail(t, at, UB_ASM_PRIO_VALUE, "both registers must be the same (r%u)", old);
	t->given |= field;
	if (field == UB_TF_DST)
		in->dst_reg = reg & 0xf;
	else
		in->src_reg = reg & 0xf;
	return 0;
}

/* The implicit r0 of cmpxchg. */
static int reg_zero(struct ub_asm_try *t)
{
	const char *at = ub_asm_skip_ws(t->p, t->end);
	unsigned reg;

	if (parse_reg(t, ub_disasm_width(t->oi), &reg))
		return -1;
	return reg ? fail(t, at, UB_ASM_PRIO_VALUE, "expected r0") : 0;
}

static int imm_field(struct ub_asm_try *t)
{
	int64_t v;

	if (parse_num(t, "immediate", 32, 1, &v))
		return -1;
	t->in[0].imm = (int32_t)(uint32_t)v;
	return 0;
}

/* A helper id: "5", or the verifier's "bpf_map_lookup_elem#1". */
static int helper(struct ub_asm_try *t)
{
	const char *p = ub_asm_skip_ws(t->p, t->end), *q = ub_asm_scan_ident(p, t->end);

	if (q > p) {
		if (q >= t->end || *q != '#')
			return fail(t, q, UB_ASM_PRIO_OPERAND, "expected '#' and a helper id");
		t->p = q + 1;
	}
	return imm_field(t);
}

static void set_field(struct ub_asm_try *t, unsigned field, int64_t v)
{
	if (field == UB_TF_OFF)
		t->in[0].off = (int16_t)v;
	else
		t->in[0].imm = (int32_t)v;
}

/*
 * A jump or call target: a label, "+N" / "-N", or the verifier's "pc+N". need_pc: a
 * bare "+N" is refused ("call -3" names a helper, "call pc-3" a function).
 */
static int target(struct ub_asm_try *t, unsigned field, int need_pc)
{
	const char *at = t->p = ub_asm_skip_ws(t->p, t->end);
	const char *q = ub_asm_scan_ident(at, t->end);
	int pc = q - at == 2 && !memcmp(at, "pc", 2) && q < t->end && (*q == '+' || *q == '-');

	if (q > at && !pc) {
		t->ref = (struct ub_asm_ref){ .name = at, .len = (size_t)(q - at), .at = at,
					      .field = field };
		t->p = q;
		return 0;
	}
	t->p = q;
	if ((need_pc && !pc) || t->p >= t->end || (*t->p != '+' && *t->p != '-'))
		return fail(t, at, UB_ASM_PRIO_OPERAND, need_pc ? "expected pc+N or a label"
								: "expected +N, -N or a label");
	struct num n;
	int64_t v;
	unsigned bits = field == UB_TF_OFF ? 16 : 32;
	if (scan_num(t, &n, "jump offset"))
		return -1;
	if (!num_fits(&n, bits, 0, &v))
		return fail(t, at, UB_ASM_PRIO_VALUE, "jump offset %.*s out of %u-bit range",
			    (int)(n.end - at), at, bits);
	set_field(t, field, v);
	return 0;
}

/* A displacement: " + 4", "-8", "+0x10", the kernel's "+ -4"; none at ')' or ']'. */
static int disp(struct ub_asm_try *t, unsigned field)
{
	const char *at = t->p = ub_asm_skip_ws(t->p, t->end);
	unsigned bits = field == UB_TF_OFF ? 16 : 32;
	struct num n;
	int64_t v;

	if (at < t->end && (*at == ')' || *at == ']'))
		return 0;
	if (at >= t->end || (*at != '+' && *at != '-'))
		return fail(t, at, UB_ASM_PRIO_OPERAND, "expected '+' or '-' and an offset");
	int neg = *t->p++ == '-';
	if (scan_num(t, &n, "offset"))
		return -1;
	n.neg ^= neg;
	if (!num_fits(&n, bits, 0, &v))
		return fail(t, at, UB_ASM_PRIO_VALUE, "offset %.*s does not fit in %u bits",
			    (int)(n.end - at), at, bits);
	set_field(t, field, v);
	return 0;
}

/* The optional ", N" of a kfunc call: the BTF object of the function, in off. */
static int kfunc_off(struct ub_asm_try *t)
{
	const char *p = ub_asm_skip_ws(t->p, t->end);
	int64_t v;

	if (p >= t->end || *p != ',')
		return 0;
	t->p = p + 1;
	if (parse_num(t, "offset", 16, 0, &v))
		return -1;
	t->in[0].off = (int16_t)v;
	return 0;
}

static int size_type(struct ub_asm_try *t)
{
	char ty[8];

	snprintf(ty, sizeof(ty), "u%u", ub_isa_size(t->oi->code) * 8);
	return lit_str(t, ty);
}

static void set_imm64(struct ub_asm_try *t, uint64_t v)
{
	t->in[0].imm = (int32_t)(uint32_t)v;
	t->in[1].imm = (int32_t)(uint32_t)(v >> 32);
}

static int imm64(struct ub_asm_try *t)
{
	int64_t v;

	if (parse_num(t, "immediate", 64, 1, &v))
		return -1;
	set_imm64(t, (uint64_t)v);
	return 0;
}

/* lddw pseudo operands: "fd[, off]", or for func a target like a call's. */
static int pseudo(struct ub_asm_try *t)
{
	int64_t v;

	if (t->oi->dval == BPF_PSEUDO_FUNC)
		return target(t, UB_TF_IMM, 0);
	if (imm_field(t))
		return -1;
	const char *p = ub_asm_skip_ws(t->p, t->end);
	if (p >= t->end || *p != ',')
		return 0;
	t->p = p + 1;
	if (parse_num(t, "immediate", 32, 1, &v))
		return -1;
	t->in[1].imm = (int32_t)(uint32_t)v;
	return 0;
}

static int operand(struct ub_asm_try *t, char ph)
{
	char w = ub_disasm_width(t->oi);

	t->glue = 0;
	switch (ph) {
	case 'C': return conf_mnemonic(t);
	case 'S': return lit_str(t, t->oi->sym);
	case 'd': return reg_field(t, UB_TF_DST, w);
	case 's': return reg_field(t, UB_TF_SRC, w);
	case 'b': return reg_field(t, UB_TF_DST, 'r');
	case '0': return reg_zero(t);
	case 'i': return imm_field(t);
	case 'h': return helper(t);
	case 'o': return target(t, UB_TF_OFF, 0);
	case 'j': return target(t, UB_TF_IMM, 0);
	case 'p': return target(t, UB_TF_IMM, 1);
	case 'm': return disp(t, UB_TF_OFF);
	case 'n': return disp(t, UB_TF_IMM);
	case 'k': return kfunc_off(t);
	case 'z': return size_type(t);
	case 'I': return imm64(t);
	case 'P': return pseudo(t);
	case '6':
		if (t->end - t->p >= 2 && !memcmp(t->p, "64", 2))
			t->p += 2;
		return 0;
	default: return -1;
	}
}

/* Matches the whole statement [start, end) against tmpl; fills t->in on success. */
static int match(struct ub_asm_try *t, const char *tmpl)
{
	for (const char *q = tmpl; *q; q++) {
		int err = *q == '%' && q[1] ? operand(t, *++q) : lit_char(t, *q);
		if (err)
			return -1;
	}
	t->p = ub_asm_skip_ws(t->p, t->end);
	if (t->p < t->end)
		return fail(t, t->p, UB_ASM_PRIO_SYNTAX, "unexpected trailing '%.*s'",
			    ub_asm_token_len(t->p, t->end), t->p);
	return 0;
}

int ub_asm_match(struct ub_asm_try *t, int op, const char *tmpl, enum ub_syntax syn)
{
	const struct ub_opinfo *oi = &ub_ops[op];

	t->p = t->start;
	t->syn = syn;
	t->oi = oi;
	t->given = 0;
	t->glue = 0;
	memset(t->in, 0, sizeof(t->in));
	memset(&t->ref, 0, sizeof(t->ref));
	t->in[0].code = oi->code;
	if (oi->disc == UB_DISC_OFF)
		t->in[0].off = (int16_t)oi->dval;
	else if (oi->disc == UB_DISC_IMM)
		t->in[0].imm = oi->dval;
	else if (oi->disc == UB_DISC_SRC)
		t->in[0].src_reg = (uint8_t)oi->dval & 0xf;
	return match(t, tmpl);
}

