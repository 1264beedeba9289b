/*
 * ub_x86: a small x86-64 emitter. Named opcodes and helpers for the REX prefix, ModRM and
 * SIB bytes, so that translation sites read as instructions, not as hex (LuaJIT's habit).
 */
#ifndef UB_JIT_X86_H
#define UB_JIT_X86_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum ub_x86_reg {
	X_RAX, X_RCX, X_RDX, X_RBX, X_RSP, X_RBP, X_RSI, X_RDI,
	X_R8, X_R9, X_R10, X_R11, X_R12, X_R13, X_R14, X_R15,
};

/* One-byte opcodes (and the /digit extensions of the group opcodes). */
enum ub_x86_op {
	XO_ADD_RM_R = 0x01, XO_OR_RM_R = 0x09, XO_AND_RM_R = 0x21, XO_SUB_RM_R = 0x29,
	XO_XOR_RM_R = 0x31, XO_CMP_RM_R = 0x39, XO_TEST_RM_R = 0x85,
	XO_MOV_RM_R8 = 0x88, XO_MOV_RM_R = 0x89, XO_MOV_R_RM = 0x8b, XO_LEA = 0x8d,
	XO_GRP1_RM_I32 = 0x81, XO_GRP1_RM_I8 = 0x83,	/* /0 add /1 or /4 and /5 sub /6 xor /7 cmp */
	XO_MOV_RM_I32 = 0xc7, XO_MOV_RM_I8 = 0xc6, XO_MOV_R_I = 0xb8,
	XO_GRP2_RM_I8 = 0xc1, XO_GRP2_RM_CL = 0xd3,	/* /4 shl /5 shr /7 sar */
	XO_GRP3_RM = 0xf7,				/* /0 test imm /2 not /3 neg /4 mul /6 div /7 idiv */
	XO_GRP5_RM = 0xff,				/* /2 call /4 jmp */
	XO_XCHG_RM_R = 0x87, XO_PUSH_R = 0x50, XO_POP_R = 0x58, XO_RET = 0xc3, XO_LEAVE = 0xc9,
	XO_CALL_REL32 = 0xe8, XO_JMP_REL32 = 0xe9, XO_JMP_REL8 = 0xeb, XO_CQO = 0x99,
	XO_MOVSXD = 0x63, XO_LOCK = 0xf0, XO_OPSIZE = 0x66, XO_TWO_BYTE = 0x0f, XO_INT3 = 0xcc,
};

/* Second bytes after 0x0f. */
enum ub_x86_op2 {
	XO2_JCC_REL32 = 0x80, XO2_IMUL_R_RM = 0xaf, XO2_MOVZX8 = 0xb6, XO2_MOVZX16 = 0xb7,
	XO2_MOVSX8 = 0xbe, XO2_MOVSX16 = 0xbf, XO2_BSWAP = 0xc8, XO2_XADD = 0xc1,
	XO2_CMPXCHG = 0xb1,
};

/* Condition codes for Jcc (added to XO2_JCC_REL32). */
enum ub_x86_cc {
	CC_B = 0x2, CC_AE = 0x3, CC_E = 0x4, CC_NE = 0x5, CC_BE = 0x6, CC_A = 0x7,
	CC_L = 0xc, CC_GE = 0xd, CC_LE = 0xe, CC_G = 0xf,
};

/* Group extensions (the reg field of ModRM). */
enum { XG1_ADD = 0, XG1_OR = 1, XG1_ADC = 2, XG1_AND = 4, XG1_SUB = 5, XG1_XOR = 6, XG1_CMP = 7 };
enum { XG2_ROL = 0, XG2_SHL = 4, XG2_SHR = 5, XG2_SAR = 7 };
enum { XG3_TEST = 0, XG3_NEG = 3, XG3_MUL = 4, XG3_DIV = 6, XG3_IDIV = 7 };
enum { XG5_CALL = 2, XG5_JMP = 4 };

/* Bytes past cap are counted, not written: the caller grows the buffer and emits again. */
struct ub_x86 {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int overflow;
};

static inline void x_byte(struct ub_x86 *x, uint8_t b)
{
	if (x->len < x->cap)
		x->buf[x->len] = b;
	else
		x->overflow = 1;
	x->len++;
}

static inline void x_u32(struct ub_x86 *x, uint32_t v)
{
	if (x->len + 4 <= x->cap) {
		memcpy(x->buf + x->len, &v, 4);	/* little-endian, as x86 wants */
		x->len += 4;
		return;
	}
	for (int i = 0; i < 4; i++)
		x_byte(x, (uint8_t)(v >> (8 * i)));
}

static inline void x_u64(struct ub_x86 *x, uint64_t v)
{
	x_u32(x, (uint32_t)v);
	x_u32(x, (uint32_t)(v >> 32));
}

/* REX: W for 64-bit operands, R/X/B extend reg, index and base to r8..r15. */
static inline void x_rex(struct ub_x86 *x, int w, int reg, int index, int base, int force)
{
	uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((index & 8) ? 2 : 0) |
				((base & 8) ? 1 : 0));
	if (rex != 0x40 || force)
		x_byte(x, rex);
}

static inline void x_modrm(struct ub_x86 *x, int mod, int reg, int rm)
{
	x_byte(x, (uint8_t)((mod << 6) | ((reg & 7) << 3) | (rm & 7)));
}

/* ModRM (+SIB, +displacement) for [base + disp]. */
static inline void x_mem(struct ub_x86 *x, int reg, int base, int32_t disp)
{
	int mod = disp == 0 && (base & 7) != X_RBP ? 0 : (disp >= -128 && disp < 128) ? 1 : 2;

	x_modrm(x, mod, reg, base);
	if ((base & 7) == X_RSP)
		x_byte(x, 0x24);	/* SIB: base only */
	if (mod == 1)
		x_byte(x, (uint8_t)disp);
	else if (mod == 2)
		x_u32(x, (uint32_t)disp);
}

/* op reg, r/m (register direct). w: 64-bit. */
static inline void x_rr(struct ub_x86 *x, uint8_t op, int w, int reg, int rm)
{
	x_rex(x, w, reg, 0, rm, 0);
	x_byte(x, op);
	x_modrm(x, 3, reg, rm);
}

/* Two-byte (0x0f) op reg, r/m. */
static inline void x_rr2(struct ub_x86 *x, uint8_t op2, int w, int reg, int rm)
{
	x_rex(x, w, reg, 0, rm, 0);
	x_byte(x, XO_TWO_BYTE);
	x_byte(x, op2);
	x_modrm(x, 3, reg, rm);
}

/* mov [base + index * 8 + disp32], reg (64-bit). */
static inline void x_store_idx8(struct ub_x86 *x, int reg, int base, int index, int32_t disp)
{
	x_rex(x, 1, reg, index, base, 0);
	x_byte(x, XO_MOV_RM_R);
	x_modrm(x, 2, reg, 4);
	x_byte(x, (uint8_t)(3 << 6 | (index & 7) << 3 | (base & 7)));
	x_u32(x, (uint32_t)disp);
}

/* lea reg, [base + index + disp] (64-bit; index is never rsp, no eBPF register is). */
static inline void x_lea_idx(struct ub_x86 *x, int reg, int base, int index, int32_t disp)
{
	int mod = disp == 0 && (base & 7) != X_RBP ? 0 : (disp >= -128 && disp < 128) ? 1 : 2;

	x_rex(x, 1, reg, index, base, 0);
	x_byte(x, XO_LEA);
	x_modrm(x, mod, reg, 4);	/* rm 100: a SIB byte follows */
	x_byte(x, (uint8_t)((index & 7) << 3 | (base & 7)));	/* scale 1 */
	if (mod == 1)
		x_byte(x, (uint8_t)disp);
	else if (mod == 2)
		x_u32(x, (uint32_t)disp);
}

/* op reg, [base + disp]. force_rex for byte registers sil/dil. */
static inline void x_rm(struct ub_x86 *x, uint8_t op, int w, int reg, int base, int32_t disp,
			int force_rex)
{
	x_rex(x, w, reg, 0, base, force_rex);
	x_byte(x, op);
	x_mem(x, reg, base, disp);
}

static inline void x_rm2(struct ub_x86 *x, uint8_t op2, int w, int reg, int base, int32_t disp)
{
	x_rex(x, w, reg, 0, base, 0);
	x_byte(x, XO_TWO_BYTE);
	x_byte(x, op2);
	x_mem(x, reg, base, disp);
}

/* Group-1 op r/m, imm: uses the 8-bit immediate form when it fits. */
static inline void x_grp1_ri(struct ub_x86 *x, int ext, int w, int rm, int32_t imm)
{
	x_rex(x, w, 0, 0, rm, 0);
	if (imm >= -128 && imm < 128) {
		x_byte(x, XO_GRP1_RM_I8);
		x_modrm(x, 3, ext, rm);
		x_byte(x, (uint8_t)imm);
	} else {
		x_byte(x, XO_GRP1_RM_I32);
		x_modrm(x, 3, ext, rm);
		x_u32(x, (uint32_t)imm);
	}
}

/* Group-1 op r/m, imm32 in the 4-byte form always (its size never depends on imm). */
static inline void x_grp1_ri32(struct ub_x86 *x, int ext, int w, int rm, int32_t imm)
{
	x_rex(x, w, 0, 0, rm, 0);
	x_byte(x, XO_GRP1_RM_I32);
	x_modrm(x, 3, ext, rm);
	x_u32(x, (uint32_t)imm);
}

/* mov r64, sign-extended imm32, in the 7-byte form always. */
static inline void x_mov_ri32sx(struct ub_x86 *x, int reg, int32_t imm)
{
	x_rex(x, 1, 0, 0, reg, 0);
	x_byte(x, XO_MOV_RM_I32);
	x_modrm(x, 3, 0, reg);
	x_u32(x, (uint32_t)imm);
}

/* movabs r64, imm64 (10 bytes, whatever the value). */
static inline void x_movabs(struct ub_x86 *x, int reg, uint64_t v)
{
	x_rex(x, 1, 0, 0, reg, 0);
	x_byte(x, (uint8_t)(XO_MOV_R_I + (reg & 7)));
	x_u64(x, v);
}

/* mov reg, imm64 in its shortest form. */
static inline void x_mov_ri(struct ub_x86 *x, int reg, uint64_t v)
{
	if (v <= 0xffffffffull) {		/* mov r32, imm32 zero-extends */
		x_rex(x, 0, 0, 0, reg, 0);
		x_byte(x, (uint8_t)(XO_MOV_R_I + (reg & 7)));
		x_u32(x, (uint32_t)v);
	} else if ((int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX) {
		x_rex(x, 1, 0, 0, reg, 0);	/* mov r/m64, imm32 sign-extends */
		x_byte(x, XO_MOV_RM_I32);
		x_modrm(x, 3, 0, reg);
		x_u32(x, (uint32_t)v);
	} else {
		x_rex(x, 1, 0, 0, reg, 0);
		x_byte(x, (uint8_t)(XO_MOV_R_I + (reg & 7)));
		x_u64(x, v);
	}
}

static inline void x_push(struct ub_x86 *x, int reg)
{
	x_rex(x, 0, 0, 0, reg, 0);
	x_byte(x, (uint8_t)(XO_PUSH_R + (reg & 7)));
}

static inline void x_pop(struct ub_x86 *x, int reg)
{
	x_rex(x, 0, 0, 0, reg, 0);
	x_byte(x, (uint8_t)(XO_POP_R + (reg & 7)));
}

/* jcc/jmp/call rel32 to an absolute position in the buffer. */
static inline void x_jcc(struct ub_x86 *x, int cc, size_t target)
{
	x_byte(x, XO_TWO_BYTE);
	x_byte(x, (uint8_t)(XO2_JCC_REL32 + cc));
	x_u32(x, (uint32_t)((int64_t)target - (int64_t)(x->len + 4)));
}

static inline void x_jmp(struct ub_x86 *x, size_t target)
{
	x_byte(x, XO_JMP_REL32);
	x_u32(x, (uint32_t)((int64_t)target - (int64_t)(x->len + 4)));
}

static inline void x_call_rel(struct ub_x86 *x, size_t target)
{
	x_byte(x, XO_CALL_REL32);
	x_u32(x, (uint32_t)((int64_t)target - (int64_t)(x->len + 4)));
}

/* call an absolute address through a scratch register (the image may be far away). */
static inline void x_call_abs(struct ub_x86 *x, int scratch, const void *fn)
{
	x_mov_ri(x, scratch, (uint64_t)(uintptr_t)fn);
	x_rex(x, 0, 0, 0, scratch, 0);
	x_byte(x, XO_GRP5_RM);
	x_modrm(x, 3, XG5_CALL, scratch);
}

#endif
