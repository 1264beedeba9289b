/*
 * ub_disasm: the disassembler, and the operand templates the assembler shares (disasm.h).
 *
 * LLVM syntax is what llvm-objdump 14 prints (decimal immediates, "goto +3"); forms it
 * cannot print use LLVM 18's spelling, and where LLVM's spelling would be ambiguous we
 * choose one that assembles back: local calls "call pc+N", kfunc calls "call kfunc N",
 * lddw pseudo sources "map_fd(5)". Anything that no template can express exactly (an
 * unknown opcode, a reserved field that is not zero) prints as ".insn 0x<raw bytes>".
 *
 * An lddw always covers two slots when the second exists, even when it is malformed
 * (".insn 0x<slot 0>, 0x<slot 1>"), so a listing may step by ub_isa_is_lddw() ? 2 : 1.
 */
#include "isa/disasm.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct tmpl {
	const char *llvm, *conf;
	const char *alt;	/* parse only: the kernel verifier log's spelling */
};

static const struct tmpl fmt_tmpl[] = {
	[UB_FMT_ALU_K]	    = { "%d %S %i", "%C %d, %i", NULL },
	[UB_FMT_ALU_X]	    = { "%d %S %s", "%C %d, %s", NULL },
	[UB_FMT_NEG]	    = { "%d = -%d", "%C %d", NULL },
	[UB_FMT_MOVSX]	    = { "%d = (%S)%s", "%C %d, %s", NULL },
	[UB_FMT_END]	    = { "%d = %S %d", "%C %d", NULL },
	[UB_FMT_JA]	    = { "%S %o", "%C %o", NULL },
	[UB_FMT_JA32]	    = { "%S %j", "%C %j", NULL },
	[UB_FMT_JMP_K]	    = { "if %d %S %i goto %o", "%C %d, %i, %o", NULL },
	[UB_FMT_JMP_X]	    = { "if %d %S %s goto %o", "%C %d, %s, %o", NULL },
	[UB_FMT_CALL]	    = { "%S %h", "%C %i", NULL },
	[UB_FMT_CALL_LOCAL] = { "%S %p", "%C %j", NULL },
	[UB_FMT_CALL_KFUNC] = { "%S kfunc %i%k", "%C %i%k", NULL },
	[UB_FMT_CALLX]	    = { "%S %d", "%C %d", NULL },
	[UB_FMT_EXIT]	    = { "%S", "%C", NULL },
	[UB_FMT_LDX]	    = { "%d = *(%S *)(%s%m)", "%C %d, [%s%m]", NULL },
	[UB_FMT_ST]	    = { "*(%S *)(%d%m) = %i", "%C [%d%m], %i", NULL },
	[UB_FMT_STX]	    = { "*(%S *)(%d%m) = %s", "%C [%d%m], %s", NULL },
	[UB_FMT_ATOMIC]	    = { "lock *(%z *)(%b%m) %S %s", "lock %C [%b%m], %s", NULL },
	/* The kernel writes atomic64_fetch_add where LLVM writes atomic_fetch_add: %6. */
	[UB_FMT_AFETCH]	    = { "%s = atomic%6_fetch_%S((%z *)(%b%m), %s)", "lock %C [%b%m], %s",
				NULL },
	[UB_FMT_AXCHG]	    = { "%s = %S(%b%m, %s)", "lock %C [%b%m], %s",
				"%s = atomic%6_xchg((%z *)(%b%m), %s)" },
	[UB_FMT_ACMPXCHG]   = { "%0 = %S(%b%m, %0, %s)", "lock %C [%b%m], %s",
				"%0 = atomic%6_cmpxchg((%z *)(%b%m), %0, %s)" },
	/* The kernel prints a plain lddw as "r1 = 0x..." without "ll". */
	[UB_FMT_LDDW]	    = { "%d = %I ll", "%C %d, %I", "%d = %I" },
	[UB_FMT_LDABS]	    = { "r0 = *(%S *)skb[%i]", "%C %i", NULL },
	[UB_FMT_LDIND]	    = { "r0 = *(%S *)skb[%s%n]", "%C %s, %i", NULL },
};

/* lddw with a pseudo source (src_reg 1..6): the row's sym names it. */
static const struct tmpl pseudo_tmpl = { "%d = %S(%P) ll", "%C %d, %S(%P)", NULL };

const char *ub_disasm_tmpl(int op, enum ub_syntax syn, int alt)
{
	const struct ub_opinfo *oi = &ub_ops[op];
	const struct tmpl *t = &fmt_tmpl[oi->fmt];

	if (oi->fmt == UB_FMT_LDDW && oi->dval)
		t = &pseudo_tmpl;
	if (alt)
		return t->alt;
	return syn == UB_SYNTAX_CONF ? t->conf : t->llvm;
}

unsigned ub_disasm_tmpl_fields(const char *tmpl)
{
	unsigned f = 0;

	for (const char *q = tmpl; *q; q++) {
		if (*q != '%' || !q[1])
			continue;
		switch (*++q) {
		case 'd': case 'b': f |= UB_TF_DST; break;
		case 's': f |= UB_TF_SRC; break;
		case 'o': case 'm': case 'k': f |= UB_TF_OFF; break;
		case 'i': case 'h': case 'j': case 'p': case 'n': case 'I': case 'P':
			f |= UB_TF_IMM; break;
		default: break;
		}
	}
	return f;
}

char ub_disasm_width(const struct ub_opinfo *oi)
{
	uint8_t cls = BPF_CLASS(oi->code);

	/* Byte swaps act on the whole register whatever their class. */
	if (oi->fmt == UB_FMT_END)
		return 'r';
	if (cls == BPF_ALU || cls == BPF_JMP32)
		return 'w';
	if (cls == BPF_STX && BPF_MODE(oi->code) == BPF_ATOMIC && BPF_SIZE(oi->code) == BPF_W)
		return 'w';
	return 'r';
}

/* ---- Output: an snprintf-like buffer that counts what did not fit ---- */

struct out {
	char *buf;
	size_t size, len;
};

__attribute__((format(printf, 2, 3)))
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	char *dst = o->len < o->size ? o->buf + o->len : NULL;
	size_t room = o->len < o->size ? o->size - o->len : 0;

	va_start(ap, fmt);
	int n = vsnprintf(dst, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

/* ---- Whether the templates can express an instruction exactly ---- */

static int reg_ok(uint8_t reg, int used)
{
	return used ? reg < UB_MAX_REG : reg == 0;
}

static int fields_fit(const struct ub_opinfo *oi, const struct bpf_insn *in, unsigned used)
{
	if (!reg_ok(in->dst_reg, used & UB_TF_DST))
		return 0;
	/* A discriminating field was matched by the lookup and is printed by the mnemonic. */
	if (oi->disc != UB_DISC_SRC && !reg_ok(in->src_reg, used & UB_TF_SRC))
		return 0;
	if (oi->disc != UB_DISC_OFF && !(used & UB_TF_OFF) && in->off)
		return 0;
	return oi->disc == UB_DISC_IMM || (used & UB_TF_IMM) || !in->imm;
}

/* The second slot of an lddw carries nothing but (for some forms) imm. */
static int lddw_hi_fits(const struct ub_opinfo *oi, const struct bpf_insn *hi)
{
	if (hi->code || hi->dst_reg || hi->src_reg || hi->off)
		return 0;
	return oi->dval != BPF_PSEUDO_FUNC || !hi->imm;
}

/* ---- Operands ---- */

struct ctx {
	const struct ub_opinfo *oi;
	const struct bpf_insn *in;	/* in[1] is read only for lddw */
	enum ub_syntax syn;
};

static void put_reg(struct out *o, const struct ctx *c, unsigned reg, char width)
{
	if (c->syn == UB_SYNTAX_CONF)
		out_printf(o, "%%r%u", reg);
	else
		out_printf(o, "%c%u", width, reg);
}

/* " + 4" / " - 8" in LLVM syntax, "+4" / "-8" (nothing for 0) in conf syntax. */
static void put_disp(struct out *o, const struct ctx *c, int64_t v, int omit_zero)
{
	if (omit_zero && !v)
		return;
	if (c->syn == UB_SYNTAX_CONF)
		out_printf(o, "%+" PRId64, v);
	else
		out_printf(o, " %c %" PRId64, v < 0 ? '-' : '+', v < 0 ? -v : v);
}

static void put_imm64(struct out *o, const struct ctx *c)
{
	uint64_t v = (uint64_t)(uint32_t)c->in[1].imm << 32 | (uint32_t)c->in[0].imm;

	if (c->syn == UB_SYNTAX_CONF)
		out_printf(o, "0x%" PRIx64, v);
	else
		out_printf(o, "%" PRId64, (int64_t)v);
}

static void put_pseudo(struct out *o, const struct ctx *c)
{
	if (c->oi->dval == BPF_PSEUDO_FUNC) {
		out_printf(o, "%+" PRId32, c->in[0].imm);
		return;
	}
	out_printf(o, "%" PRId32, c->in[0].imm);
	if (c->in[1].imm || ub_disasm_pseudo_has_off(c->oi))
		out_printf(o, ", %" PRId32, c->in[1].imm);
}

static void put_operand(struct out *o, const struct ctx *c, char ph)
{
	const struct bpf_insn *in = c->in;
	char w = ub_disasm_width(c->oi);

	switch (ph) {
	case 'C': out_printf(o, "%s", c->oi->conf); break;
	case 'S': out_printf(o, "%s", c->oi->sym); break;
	case 'd': put_reg(o, c, in->dst_reg, w); break;
	case 's': put_reg(o, c, in->src_reg, w); break;
	case 'b': put_reg(o, c, in->dst_reg, 'r'); break;
	case '0': put_reg(o, c, 0, w); break;
	case 'i': case 'h': out_printf(o, "%" PRId32, in->imm); break;
	case 'o': out_printf(o, "%+d", in->off); break;
	case 'j': out_printf(o, "%+" PRId32, in->imm); break;
	case 'p': out_printf(o, "pc%+" PRId32, in->imm); break;
	case 'm': put_disp(o, c, in->off, c->syn == UB_SYNTAX_CONF); break;
	case 'n': put_disp(o, c, in->imm, 1); break;
	case 'k': if (in->off) out_printf(o, ", %d", in->off); break;
	case 'z': out_printf(o, "u%u", ub_isa_size(c->oi->code) * 8); break;
	case 'I': put_imm64(o, c); break;
	case 'P': put_pseudo(o, c); break;
	case '6': break;
	default: out_printf(o, "%%%c", ph); break;
	}
}

static void put_tmpl(struct out *o, const struct ctx *c, const char *tmpl)
{
	for (const char *q = tmpl; *q; q++) {
		if (*q == '%' && q[1])
			put_operand(o, c, *++q);
		else
			out_printf(o, "%c", *q);
	}
}

/* ".insn 0x<8 bytes in memory order>", once per slot. */
static void put_raw(struct out *o, const struct bpf_insn *in, size_t n)
{
	out_printf(o, ".insn");
	for (size_t k = 0; k < n; k++) {
		unsigned char b[sizeof(*in)];
		memcpy(b, &in[k], sizeof(b));
		out_printf(o, "%s0x", k ? ", " : " ");
		for (size_t j = 0; j < sizeof(b); j++)
			out_printf(o, "%02x", b[j]);
	}
}

int ub_disasm_insn(const struct bpf_insn *insns, size_t cnt, size_t i, enum ub_syntax syn,
		   char *buf, size_t size)
{
	struct out o = { .buf = buf, .size = size };

	if (!insns || i >= cnt)
		return -EINVAL;
	if (size)
		buf[0] = '\0';

	const struct bpf_insn *in = &insns[i];
	int op = ub_isa_lookup(in);
	size_t slots = ub_isa_is_lddw(in) && i + 1 < cnt ? 2 : 1;

	if (op < 0 || (ub_ops[op].fmt == UB_FMT_LDDW && slots < 2)) {
		put_raw(&o, in, slots);
		return (int)o.len;
	}

	const struct ub_opinfo *oi = &ub_ops[op];
	const char *tmpl = ub_disasm_tmpl(op, syn, 0);
	struct ctx c = { .oi = oi, .in = in, .syn = syn };

	if (!fields_fit(oi, in, ub_disasm_tmpl_fields(tmpl)) ||
	    (slots == 2 && !lddw_hi_fits(oi, &in[1])))
		put_raw(&o, in, slots);
	else
		put_tmpl(&o, &c, tmpl);
	return (int)o.len;
}
