/*
 * ub_jit: translation of one instruction (included by jit.c, which owns the context).
 * One handler per operand format of the opcode table; the table's `op` column picks the
 * x86 operation.
 */

/*
 * Constant blinding (hardened code): the immediate of insn idx reaches TMP2 as
 * `mov r10, imm ^ key; xor r10, key` with the instruction's random key, in fixed-size forms
 * (both passes emit the same bytes count). r10 then holds the sign-extended immediate, which
 * serves both the 32-bit and the 64-bit forms of every operation. Returns TMP2.
 */
static int emit_blind_imm(struct jctx *j, size_t idx, int32_t imm)
{
	uint32_t key = j->keys[idx];

	x_mov_ri32sx(&j->x, TMP2, (int32_t)((uint32_t)imm ^ key));
	x_grp1_ri32(&j->x, XG1_XOR, 1, TMP2, (int32_t)key);
	return TMP2;
}

/* x86 group-1 extension and RM-R opcode for an eBPF ALU operation. */
static int alu_x86(uint8_t code, int *ext, uint8_t *rr)
{
	switch (BPF_OP(code)) {
	case BPF_ADD: *ext = XG1_ADD; *rr = XO_ADD_RM_R; return 1;
	case BPF_SUB: *ext = XG1_SUB; *rr = XO_SUB_RM_R; return 1;
	case BPF_OR:  *ext = XG1_OR;  *rr = XO_OR_RM_R;  return 1;
	case BPF_AND: *ext = XG1_AND; *rr = XO_AND_RM_R; return 1;
	case BPF_XOR: *ext = XG1_XOR; *rr = XO_XOR_RM_R; return 1;
	default: return 0;
	}
}

static int shift_ext(uint8_t code)
{
	return BPF_OP(code) == BPF_LSH ? XG2_SHL : BPF_OP(code) == BPF_RSH ? XG2_SHR : XG2_SAR;
}

/* dst = dst (op) src for shifts by a register: x86 wants the count in cl (r4's rcx). */
static void emit_shift_x(struct jctx *j, int w, int ext, int dst, int src)
{
	struct ub_x86 *x = &j->x;

	if (src == X_RCX) {
		x_rr(x, XO_GRP2_RM_CL, w, ext, dst);
		return;
	}
	x_rr(x, XO_MOV_RM_R, 1, X_RCX, TMP);		/* save rcx */
	x_rr(x, XO_MOV_RM_R, 1, src, X_RCX);
	x_rr(x, XO_GRP2_RM_CL, w, ext, dst == X_RCX ? TMP : dst);
	x_rr(x, XO_MOV_RM_R, 1, TMP, X_RCX);		/* restore (or deliver dst) */
}

/*
 * Division and modulo, with the kernel's results for a zero divisor (div: 0, mod: dst)
 * and for INT_MIN / -1 (sdiv: -dst, smod: 0), which would trap on x86.
 */
static void emit_div(struct jctx *j, const struct bpf_insn *in, int src, int w, int is_signed,
		     int is_mod)
{
	struct ub_x86 *x = &j->x;
	int dst = R(in->dst_reg);

	if (src >= 0)
		x_rr(x, XO_MOV_RM_R, 1, src, TMP);
	else
		x_mov_ri(x, TMP, w ? (uint64_t)(int64_t)in->imm : (uint32_t)in->imm);
	x_rr(x, XO_TEST_RM_R, w, TMP, TMP);
	size_t jz = x->len;
	x_jcc(x, CC_E, 0);				/* patched below */
	size_t jm1 = 0;
	if (is_signed) {
		x_grp1_ri(x, XG1_CMP, w, TMP, -1);
		jm1 = x->len;
		x_jcc(x, CC_E, 0);
	}
	x_push(x, X_RAX);
	x_push(x, X_RDX);
	x_rr(x, XO_MOV_RM_R, 1, dst, X_RAX);
	if (is_signed) {
		if (w)
			x_rex(x, 1, 0, 0, 0, 0);
		x_byte(x, XO_CQO);			/* sign-extend rax into rdx */
	} else {
		x_rr(x, XO_XOR_RM_R, 0, X_RDX, X_RDX);
	}
	x_rr(x, XO_GRP3_RM, w, is_signed ? XG3_IDIV : XG3_DIV, TMP);
	x_rr(x, XO_MOV_RM_R, 1, is_mod ? X_RDX : X_RAX, TMP2);
	x_pop(x, X_RDX);
	x_pop(x, X_RAX);
	x_rr(x, XO_MOV_RM_R, w, TMP2, dst);
	size_t jend = x->len;
	x_jmp(x, 0);
	/* divisor 0: div gives 0, mod keeps dst (32-bit: zero-extended) */
	size_t zero = x->len;
	if (is_mod)
		x_rr(x, XO_MOV_RM_R, w, dst, dst);
	else
		x_rr(x, XO_XOR_RM_R, 0, dst, dst);
	size_t jend2 = x->len;
	x_jmp(x, 0);
	size_t minus1 = x->len;
	if (is_signed) {	/* divisor -1: sdiv negates, smod gives 0 */
		if (is_mod)
			x_rr(x, XO_XOR_RM_R, 0, dst, dst);
		else
			x_rr(x, XO_GRP3_RM, w, XG3_NEG, dst);
	}
	size_t end = x->len;
	{	/* patch the forward jumps now that the targets are known */
		struct ub_x86 p = *x;
		p.len = jz, x_jcc(&p, CC_E, zero);
		if (is_signed)
			p.len = jm1, x_jcc(&p, CC_E, minus1);
		p.len = jend, x_jmp(&p, end);
		p.len = jend2, x_jmp(&p, end);
	}
}

static void emit_alu(struct jctx *j, int op, const struct bpf_insn *in, size_t idx)
{
	struct ub_x86 *x = &j->x;
	uint8_t code = in->code, rr;
	int w = BPF_CLASS(code) == BPF_ALU64, ext;
	int dst = R(in->dst_reg), src = R(in->src_reg), is_x = BPF_SRC(code) == BPF_X;

	if (!is_x && j->keys && BPF_OP(code) != BPF_NEG) {	/* the register form on r10 */
		src = emit_blind_imm(j, idx, in->imm);
		is_x = 1;
	}

	if (alu_x86(code, &ext, &rr)) {
		if (is_x)
			x_rr(x, rr, w, src, dst);
		else
			x_grp1_ri(x, ext, w, dst, in->imm);
		return;
	}
	switch (BPF_OP(code)) {
	case BPF_MOV:
		if (is_x)
			x_rr(x, XO_MOV_RM_R, w, src, dst);
		else
			x_mov_ri(x, dst, w ? (uint64_t)(int64_t)in->imm : (uint32_t)in->imm);
		return;
	case BPF_MUL:
		if (!is_x)
			x_mov_ri(x, TMP, w ? (uint64_t)(int64_t)in->imm : (uint32_t)in->imm);
		x_rr2(x, XO2_IMUL_R_RM, w, dst, is_x ? src : TMP);
		return;
	case BPF_LSH: case BPF_RSH: case BPF_ARSH:
		if (is_x) {
			emit_shift_x(j, w, shift_ext(code), dst, src);
		} else {
			x_rr(x, XO_GRP2_RM_I8, w, shift_ext(code), dst);
			x_byte(x, (uint8_t)(in->imm & (w ? 63 : 31)));
		}
		return;
	case BPF_NEG:
		x_rr(x, XO_GRP3_RM, w, XG3_NEG, dst);
		return;
	case BPF_DIV: case BPF_MOD:
		emit_div(j, in, is_x ? src : -1, w, in->off == 1, BPF_OP(code) == BPF_MOD);
		return;
	}
	(void)op;
	j->bad = 1;
}

static void emit_movsx(struct jctx *j, const struct bpf_insn *in)
{
	struct ub_x86 *x = &j->x;
	int w = BPF_CLASS(in->code) == BPF_ALU64, dst = R(in->dst_reg), src = R(in->src_reg);

	if (in->off == 32) {
		x_rr(x, XO_MOVSXD, 1, dst, src);
		return;
	}
	/* movsx r, r8/r16; sil/dil need a REX prefix to be byte registers */
	x_rex(x, w, dst, 0, src, in->off == 8);
	x_byte(x, XO_TWO_BYTE);
	x_byte(x, in->off == 8 ? XO2_MOVSX8 : XO2_MOVSX16);
	x_modrm(x, 3, dst, src);
}

static void emit_end(struct jctx *j, const struct bpf_insn *in)
{
	struct ub_x86 *x = &j->x;
	int dst = R(in->dst_reg);
	int swap = BPF_CLASS(in->code) == BPF_ALU64 || BPF_SRC(in->code) == BPF_TO_BE;

	if (in->imm == 16) {
		if (swap) {	/* rol r16, 8 */
			x_byte(x, XO_OPSIZE);
			x_rr(x, XO_GRP2_RM_I8, 0, XG2_ROL, dst);
			x_byte(x, 8);
		}
		x_rr2(x, XO2_MOVZX16, 0, dst, dst);
	} else if (in->imm == 32) {
		if (swap) {
			x_rex(x, 0, 0, 0, dst, 0);
			x_byte(x, XO_TWO_BYTE);
			x_byte(x, (uint8_t)(XO2_BSWAP + (dst & 7)));
		} else {
			x_rr(x, XO_MOV_RM_R, 0, dst, dst);	/* zero-extend */
		}
	} else if (swap) {
		x_rex(x, 1, 0, 0, dst, 0);
		x_byte(x, XO_TWO_BYTE);
		x_byte(x, (uint8_t)(XO2_BSWAP + (dst & 7)));
	}
}

static void emit_ldx(struct jctx *j, const struct bpf_insn *in, size_t idx)
{
	struct ub_x86 *x = &j->x;
	int dst = R(in->dst_reg), src = R(in->src_reg), sx = BPF_MODE(in->code) == BPF_MEMSX;
	unsigned size = ub_isa_size(in->code);

	emit_mem_check(j, src, in->off, size, 0, 0, idx);
	switch (size) {
	case 1: x_rm2(x, sx ? XO2_MOVSX8 : XO2_MOVZX8, sx, dst, src, in->off); break;
	case 2: x_rm2(x, sx ? XO2_MOVSX16 : XO2_MOVZX16, sx, dst, src, in->off); break;
	case 4: x_rm(x, sx ? XO_MOVSXD : XO_MOV_R_RM, sx, dst, src, in->off, 0); break;
	default: x_rm(x, XO_MOV_R_RM, 1, dst, src, in->off, 0); break;
	}
}

static void emit_store(struct jctx *j, const struct bpf_insn *in, size_t idx)
{
	struct ub_x86 *x = &j->x;
	int dst = R(in->dst_reg), src = R(in->src_reg), imm = BPF_CLASS(in->code) == BPF_ST;
	unsigned size = ub_isa_size(in->code);

	emit_mem_check(j, dst, in->off, size, 1, 0, idx);
	if (imm && j->keys) {	/* after the check, which uses r10 */
		src = emit_blind_imm(j, idx, in->imm);
		imm = 0;
	}
	if (size == 2)
		x_byte(x, XO_OPSIZE);
	if (imm) {
		x_rm(x, size == 1 ? XO_MOV_RM_I8 : XO_MOV_RM_I32, size == 8, 0, dst, in->off, 0);
		if (size == 1)
			x_byte(x, (uint8_t)in->imm);
		else if (size == 2)
			x_byte(x, (uint8_t)in->imm), x_byte(x, (uint8_t)(in->imm >> 8));
		else
			x_u32(x, (uint32_t)in->imm);
		return;
	}
	x_rm(x, size == 1 ? XO_MOV_RM_R8 : XO_MOV_RM_R, size == 8, src, dst, in->off,
	     size == 1 && (src == X_RSI || src == X_RDI || src == X_RBP || src == X_RSP));
}

/*
 * Atomics: the address goes to r10 first (the base may be rax, which cmpxchg needs).
 * Plain add/or/and/xor are `lock op`; fetch-add is `lock xadd`; fetch-or/and/xor loop on
 * `lock cmpxchg`; xchg is implicitly locked; cmpxchg uses r0 (rax) as the expected value.
 */
static void emit_atomic(struct jctx *j, int op, const struct bpf_insn *in, size_t idx)
{
	struct ub_x86 *x = &j->x;
	int w = BPF_SIZE(in->code) == BPF_DW, src = R(in->src_reg);
	int fetch = in->imm & BPF_FETCH, aop = in->imm & ~BPF_FETCH;
	int ext = 0;
	uint8_t rr = 0;

	emit_mem_check(j, R(in->dst_reg), in->off, w ? 8 : 4, 1, 1, idx);
	x_rm(x, XO_LEA, 1, TMP2, R(in->dst_reg), in->off, 0);
	if (in->imm == BPF_XCHG) {
		x_rm(x, XO_XCHG_RM_R, w, src, TMP2, 0, 0);
		return;
	}
	if (in->imm == BPF_CMPXCHG) {
		x_byte(x, XO_LOCK);
		x_rm2(x, XO2_CMPXCHG, w, src, TMP2, 0);
		if (!w)
			x_rr(x, XO_MOV_RM_R, 0, X_RAX, X_RAX);	/* r0 is the zero-extended old value */
		return;
	}
	if (aop == BPF_ADD && fetch) {
		x_byte(x, XO_LOCK);
		x_rm2(x, XO2_XADD, w, src, TMP2, 0);
		return;
	}
	alu_x86((uint8_t)aop, &ext, &rr);
	if (!fetch) {
		x_byte(x, XO_LOCK);
		x_rm(x, rr, w, src, TMP2, 0, 0);
		return;
	}
	/* old = *p; do { new = old op src } while (!cmpxchg(p, old, new)); src = old.
	 * cmpxchg needs rax, which may be src itself (r0): the operand goes to r9 first. */
	int keep_rax = src != X_RAX;
	x_rr(x, XO_MOV_RM_R, 1, src, AUX);
	if (keep_rax)
		x_push(x, X_RAX);
	x_rm(x, XO_MOV_R_RM, w, X_RAX, TMP2, 0, 0);
	size_t loop = x->len;
	x_rr(x, XO_MOV_RM_R, 1, X_RAX, TMP);
	x_rr(x, rr, w, AUX, TMP);
	x_byte(x, XO_LOCK);
	x_rm2(x, XO2_CMPXCHG, w, TMP, TMP2, 0);
	x_jcc(x, CC_NE, loop);
	x_rr(x, XO_MOV_RM_R, w, X_RAX, src);
	if (keep_rax)
		x_pop(x, X_RAX);
	(void)op;
}

static void emit_jmp(struct jctx *j, const struct bpf_insn *in, size_t idx)
{
	struct ub_x86 *x = &j->x;
	int w = BPF_CLASS(in->code) == BPF_JMP, dst = R(in->dst_reg);
	long t;
	static const int8_t cc[16] = {
		[BPF_JEQ >> 4] = CC_E, [BPF_JGT >> 4] = CC_A, [BPF_JGE >> 4] = CC_AE,
		[BPF_JSET >> 4] = CC_NE, [BPF_JNE >> 4] = CC_NE, [BPF_JSGT >> 4] = CC_G,
		[BPF_JSGE >> 4] = CC_GE, [BPF_JLT >> 4] = CC_B, [BPF_JLE >> 4] = CC_BE,
		[BPF_JSLT >> 4] = CC_L, [BPF_JSLE >> 4] = CC_LE,
	};
	int inv = 0;

	if (BPF_OP(in->code) != BPF_JA && (t = opt_jcc_over_ja(j, in, idx)) >= 0) {
		inv = 1;	/* if c goto +1; goto L: jump to L unless c */
		j->fold = 1;
	} else {
		t = (long)idx + 1 + in->off;
		if (BPF_CLASS(in->code) == BPF_JMP32 && BPF_OP(in->code) == BPF_JA)
			t = (long)idx + 1 + in->imm;
	}
	if (t <= (long)idx)
		emit_budget(j, idx);	/* backward jumps spend budget in checked mode */
	if (BPF_OP(in->code) == BPF_JA) {
		emit_jmp_to(j, FIX_OFF, (size_t)t);
		return;
	}
	int is_x = BPF_SRC(in->code) == BPF_X, src = R(in->src_reg);
	if (!is_x && j->keys) {
		src = emit_blind_imm(j, idx, in->imm);
		is_x = 1;
	}
	if (BPF_OP(in->code) == BPF_JSET) {
		if (is_x)
			x_rr(x, XO_TEST_RM_R, w, src, dst);
		else {
			x_mov_ri(x, TMP, w ? (uint64_t)(int64_t)in->imm : (uint32_t)in->imm);
			x_rr(x, XO_TEST_RM_R, w, TMP, dst);
		}
	} else if (is_x) {
		x_rr(x, XO_CMP_RM_R, w, src, dst);
	} else {
		x_grp1_ri(x, XG1_CMP, w, dst, in->imm);
	}
	emit_jcc_to(j, cc[BPF_OP(in->code) >> 4] ^ inv, FIX_OFF, (size_t)t);	/* cc ^ 1 negates */
}

static void emit_helper_call(struct jctx *j, const struct bpf_insn *in)
{
	struct ub_x86 *x = &j->x;
	uint32_t id = (uint32_t)in->imm;

	if (id == BPF_FUNC_tail_call) {
		/* r1 (ctx) must survive the lookup; the stack stays 16-byte aligned */
		x_push(x, X_RDI);
		x_grp1_ri(x, XG1_SUB, 1, X_RSP, 8);
		x_rr(x, XO_MOV_RM_R, 1, X_RSI, X_RDI);
		x_rr(x, XO_MOV_RM_R, 1, X_RDX, X_RSI);
		emit_call_c(j, (const void *)jit_tail);
		x_grp1_ri(x, XG1_ADD, 1, X_RSP, 8);
		x_pop(x, X_RDI);
		x_rr(x, XO_TEST_RM_R, 1, X_RAX, X_RAX);
		size_t skip = x->len;
		x_jcc(x, CC_E, 0);
		emit_tail_restore(j);
		x_rex(x, 0, 0, 0, X_RAX, 0);
		x_byte(x, XO_GRP5_RM);
		x_modrm(x, 3, XG5_JMP, X_RAX);		/* jmp rax: into the target's body */
		{
			struct ub_x86 p = *x;
			p.len = skip, x_jcc(&p, CC_E, x->len);
		}
		return;
	}
	if (j->checked) {
		x_mov_ri(x, AUX, id);
		emit_call_c(j, (const void *)jit_helper_checked);
		return;
	}
	emit_call_c(j, (const void *)j->prog->helper_fn[id]);
	if (id == BPF_FUNC_loop || id == BPF_FUNC_for_each_map_elem) {
		x_push(x, X_RAX);
		x_grp1_ri(x, XG1_SUB, 1, X_RSP, 8);
		emit_call_c(j, (const void *)jit_after_callbacks);
		x_grp1_ri(x, XG1_ADD, 1, X_RSP, 8);
		x_pop(x, X_RAX);
	}
}

static void emit_ld_pkt(struct jctx *j, const struct bpf_insn *in, size_t idx)
{
	struct ub_x86 *x = &j->x;

	/* offset = (s32)(src + imm) for LD_IND, imm for LD_ABS; jit_ld_pkt(offset, size) */
	if (BPF_MODE(in->code) == BPF_IND) {
		x_rr(x, XO_MOV_RM_R, 0, R(in->src_reg), TMP);
		if (j->keys)
			x_rr(x, XO_ADD_RM_R, 0, emit_blind_imm(j, idx, in->imm), TMP);
		else
			x_grp1_ri(x, XG1_ADD, 0, TMP, in->imm);
		x_rr(x, XO_MOVSXD, 1, X_RDI, TMP);
	} else if (j->keys) {
		x_rr(x, XO_MOV_RM_R, 1, emit_blind_imm(j, idx, in->imm), X_RDI);
	} else {
		x_mov_ri(x, X_RDI, (uint64_t)(int64_t)in->imm);
	}
	x_mov_ri(x, X_RSI, ub_isa_size(in->code));
	emit_call_c(j, (const void *)jit_ld_pkt);
	/* out of bounds: r0 = 0 and return from this function */
	x_mov_ri(x, TMP, UB_JIT_LD_OOB);
	x_rr(x, XO_CMP_RM_R, 1, TMP, X_RAX);
	size_t skip = x->len;
	x_jcc(x, CC_NE, 0);
	x_rr(x, XO_XOR_RM_R, 0, X_RAX, X_RAX);
	emit_epilogue(j);
	{
		struct ub_x86 p = *x;
		p.len = skip, x_jcc(&p, CC_NE, x->len);
	}
}

static void emit_lddw(struct jctx *j, const struct bpf_insn *in, size_t idx)
{
	struct ub_x86 *x = &j->x;
	int dst = R(in->dst_reg);

	if (in->src_reg == BPF_PSEUDO_FUNC) {	/* lea dst, [rip + entry]: a callable value */
		x_rex(x, 1, dst, 0, 0, 0);
		x_byte(x, XO_LEA);
		x_modrm(x, 0, dst, 5);
		x_u32(x, 0);
		fix_here(j, FIX_ENTRY, idx + 1 + (size_t)in->imm);
		return;
	}
	uint64_t v = (uint64_t)(uint32_t)in[0].imm | (uint64_t)(uint32_t)in[1].imm << 32;
	if (j->keys) {	/* dst = (v ^ key) ^ key, key from both halves' keys */
		uint64_t key = (uint64_t)j->keys[idx] | (uint64_t)j->keys[idx + 1] << 32;
		x_movabs(x, dst, v ^ key);
		x_movabs(x, TMP2, key);
		x_rr(x, XO_XOR_RM_R, 1, TMP2, dst);
		return;
	}
	x_movabs(x, dst, v);	/* always the 10-byte form: size independent of value */
}

static void emit_insn(struct jctx *j, int op, const struct bpf_insn *in, size_t idx)
{
	struct ub_x86 *x = &j->x;

	switch (ub_ops[op].fmt) {
	case UB_FMT_ALU_K: case UB_FMT_ALU_X: case UB_FMT_NEG:
		emit_alu(j, op, in, idx);
		break;
	case UB_FMT_MOVSX: emit_movsx(j, in); break;
	case UB_FMT_END: emit_end(j, in); break;
	case UB_FMT_LDX: emit_ldx(j, in, idx); break;
	case UB_FMT_ST: case UB_FMT_STX: emit_store(j, in, idx); break;
	case UB_FMT_ATOMIC: case UB_FMT_AFETCH: case UB_FMT_AXCHG: case UB_FMT_ACMPXCHG:
		emit_atomic(j, op, in, idx);
		break;
	case UB_FMT_JA: case UB_FMT_JA32: case UB_FMT_JMP_K: case UB_FMT_JMP_X:
		emit_jmp(j, in, idx);
		break;
	case UB_FMT_CALL: emit_helper_call(j, in); break;
	case UB_FMT_CALL_LOCAL:
		emit_call_to(j, FIX_ENTRY, idx + 1 + (size_t)in->imm);
		break;
	case UB_FMT_CALLX:
		x_rr(x, XO_MOV_RM_R, 1, R(in->dst_reg), AUX);
		emit_call_c(j, (const void *)jit_callx);
		break;
	case UB_FMT_EXIT: emit_epilogue(j); break;
	case UB_FMT_LDDW: emit_lddw(j, in, idx); break;
	case UB_FMT_LDABS: case UB_FMT_LDIND: emit_ld_pkt(j, in, idx); break;
	default: j->bad = 1; break;	/* kfunc calls were refused at load */
	}
}
