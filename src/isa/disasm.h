/*
 * ub_disasm templates: how each operand format is spelled, internal to src/isa.
 *
 * The disassembler fills a template in; the assembler matches text against the very same
 * template, so the two cannot disagree about a spelling and every printed line assembles
 * back to its bytes. Rows of ub_ops[] choose a template by their format (and, for lddw,
 * by whether src names a pseudo source); the mnemonic and operator come from the row.
 *
 * Template language:
 *   ' '  a space when printing; optional white space when parsing (but two word
 *        characters on either side must still be separated)
 *   %C   the row's conf mnemonic          %S  the row's LLVM operator or type (sym)
 *   %d   dst register    %s  src register   (LLVM: w or r by operation width; conf: %rN)
 *   %b   dst register as a base address, always 64-bit       %0  r0/w0 (implicit operand)
 *   %i   imm, 32 bits    %h  helper id in imm ("5"; also accepts the kernel's "name#5")
 *   %o   off as a jump target "+N"   %j  imm as a jump target   %p  imm as "pc+N"
 *   %m   off as a displacement " + N"    %n  imm as LD_IND displacement (omitted when 0)
 *   %k   kfunc off ", N" (omitted when 0)
 *   %z   access size type u8..u64        %6  prints nothing; parses an optional "64"
 *   %I   the 64-bit immediate of lddw    %P  lddw pseudo operands "5", "5, 16", "+3"
 */
#ifndef UB_ISA_DISASM_H
#define UB_ISA_DISASM_H
#include "isa/isa.h"

/* Instruction fields that a template's operands carry (all others must be zero). */
enum { UB_TF_DST = 1, UB_TF_SRC = 2, UB_TF_OFF = 4, UB_TF_IMM = 8 };

/*
 * Template of operation op in syntax syn. alt = 1 asks for the parse-only variant (the
 * kernel verifier's spelling where it differs from LLVM's); NULL if there is none.
 */
const char *ub_disasm_tmpl(int op, enum ub_syntax syn, int alt);

/* UB_TF_* mask of the fields a template reads or writes. */
unsigned ub_disasm_tmpl_fields(const char *tmpl);

/* 'w' where LLVM names the registers of operation op by their low 32 bits, else 'r'. */
char ub_disasm_width(const struct ub_opinfo *oi);

/* lddw pseudo sources whose second slot carries a value offset ("map_value(5, 16)"). */
static inline int ub_disasm_pseudo_has_off(const struct ub_opinfo *oi)
{
	return oi->dval == BPF_PSEUDO_MAP_VALUE || oi->dval == BPF_PSEUDO_MAP_IDX_VALUE;
}

#endif
