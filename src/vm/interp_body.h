/*
 * The interpreter. This file is compiled twice by interp.c, from this one source:
 *   UB_CHECKED 0  verified programs: no runtime checks at all;
 *   UB_CHECKED 1  unverified programs: every load and store is checked against the stack,
 *                 the context and the registered regions, and an instruction budget stops
 *                 runaway programs.
 * Dispatch is threaded (computed goto): each slot holds its handler's address, taken from
 * the label table below, which is expanded from opcodes.def so that every operation of the
 * ISA has exactly one handler (a missing one is a compile error).
 *
 * Semantics are the Linux kernel's where RFC 9669 leaves a choice: division by zero gives
 * 0, modulo by zero leaves dst, shift amounts are masked, signed INT_MIN / -1 gives INT_MIN
 * and INT_MIN % -1 gives 0, 32-bit results are zero-extended.
 */

#define REG_DST	reg[pc->dst]
#define REG_SRC	reg[pc->src]
#define IMM	((int64_t)pc->imm)	/* sign-extended, as the kernel's IMM */
#define UIMM32	((uint32_t)pc->imm)

#if UB_CHECKED
#define DISPATCH() do { if (__builtin_expect(--budget == 0, 0)) goto fault_budget; \
			goto *pc->lbl; } while (0)
#define MEM_CHECK(addr, size, store) do { \
		if (!stack_ok(stack, depth, (addr), (size)) && \
		    !ub_run_mem_ok(run, NULL, (addr), (size), (store))) { \
			fault_addr = (addr); fault_size = (size); fault_store = (store); \
			goto fault_mem; } } while (0)
#define ATOMIC_CHECK(addr, size) do { MEM_CHECK(addr, size, 1); \
		if ((addr) & ((size) - 1)) goto fault_align; } while (0)
#else
#define DISPATCH() goto *pc->lbl
#define MEM_CHECK(addr, size, store) ((void)0)
#define ATOMIC_CHECK(addr, size) ((void)0)
#endif

#define NEXT() do { pc++; DISPATCH(); } while (0)
#define JUMP(cond) do { pc += (cond) ? pc->off + 1 : 1; DISPATCH(); } while (0)

#define PTR(a) ((void *)(uintptr_t)(a))

#define ALU64(name, expr) \
	L_##name##64_K: { uint64_t s_ = (uint64_t)IMM; (void)s_; REG_DST = (expr); NEXT(); } \
	L_##name##64_X: { uint64_t s_ = REG_SRC; (void)s_; REG_DST = (expr); NEXT(); }
#define ALU32(name, expr) \
	L_##name##32_K: { uint32_t s_ = UIMM32; uint32_t d_ = (uint32_t)REG_DST; (void)s_; (void)d_; \
			  REG_DST = (uint32_t)(expr); NEXT(); } \
	L_##name##32_X: { uint32_t s_ = (uint32_t)REG_SRC; uint32_t d_ = (uint32_t)REG_DST; \
			  (void)s_; (void)d_; REG_DST = (uint32_t)(expr); NEXT(); }
#define JCC64(name, expr) \
	L_##name##_K: { uint64_t d_ = REG_DST, s_ = (uint64_t)IMM; JUMP(expr); } \
	L_##name##_X: { uint64_t d_ = REG_DST, s_ = REG_SRC; JUMP(expr); }
#define JCC32(name, expr) \
	L_##name##32_K: { uint32_t d_ = (uint32_t)REG_DST, s_ = UIMM32; JUMP(expr); } \
	L_##name##32_X: { uint32_t d_ = (uint32_t)REG_DST, s_ = (uint32_t)REG_SRC; JUMP(expr); }
#define LDX(name, T, ET) \
	L_##name: { uint64_t a_ = REG_SRC + (int64_t)pc->off; T v_; MEM_CHECK(a_, sizeof(T), 0); \
		    memcpy(&v_, PTR(a_), sizeof(T)); REG_DST = (uint64_t)(ET)v_; NEXT(); }
#define STORE(name, T, val) \
	L_##name: { uint64_t a_ = REG_DST + (int64_t)pc->off; T v_ = (T)(val); \
		    MEM_CHECK(a_, sizeof(T), 1); memcpy(PTR(a_), &v_, sizeof(T)); NEXT(); }
/* Atomics are sequentially consistent, as the kernel's fully ordered BPF_FETCH forms. */
#define AOP(name, T, fn, fetch) \
	L_##name: { uint64_t a_ = REG_DST + (int64_t)pc->off; ATOMIC_CHECK(a_, sizeof(T)); \
		    T old_ = fn((T *)PTR(a_), (T)REG_SRC, __ATOMIC_SEQ_CST); \
		    if (fetch) { REG_SRC = (uint64_t)old_; } (void)old_; NEXT(); }
#define ATOMICS(sfx, T) \
	AOP(AADD_##sfx, T, __atomic_fetch_add, 0) AOP(AFADD_##sfx, T, __atomic_fetch_add, 1) \
	AOP(AOR_##sfx, T, __atomic_fetch_or, 0)   AOP(AFOR_##sfx, T, __atomic_fetch_or, 1) \
	AOP(AAND_##sfx, T, __atomic_fetch_and, 0) AOP(AFAND_##sfx, T, __atomic_fetch_and, 1) \
	AOP(AXOR_##sfx, T, __atomic_fetch_xor, 0) AOP(AFXOR_##sfx, T, __atomic_fetch_xor, 1) \
	AOP(AXCHG_##sfx, T, __atomic_exchange_n, 1) \
	L_ACMPXCHG_##sfx: { uint64_t a_ = REG_DST + (int64_t)pc->off; T exp_ = (T)reg[0]; \
		ATOMIC_CHECK(a_, sizeof(T)); \
		__atomic_compare_exchange_n((T *)PTR(a_), &exp_, (T)REG_SRC, 0, \
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
		reg[0] = (uint64_t)exp_; NEXT(); }
/*
 * Legacy packet loads: big-endian; negative offsets reach the sk_buff's headers
 * (SKF_NET_OFF, SKF_LL_OFF). Out of bounds returns 0 from the current function,
 * as the kernel's rewrite of LD_ABS ("w0 ^= w0; exit") does.
 */
#define LDPKT(name, T, swap, offexpr) \
	L_##name: { int64_t o_ = (int32_t)(offexpr); T v_; \
		    const uint8_t *p_ = o_ < 0 ? ub_pkt_ld_neg(run, o_, sizeof(T)) : \
			    (uint64_t)o_ + sizeof(T) <= run->pkt_size ? run->pkt + o_ : NULL; \
		    if (!p_) { reg[0] = 0; goto do_exit; } \
		    memcpy(&v_, p_, sizeof(T)); reg[0] = swap(v_); NEXT(); }
#define ID8(x) (x)

int UB_INTERP_FN(struct ub_run *run, const struct ub_tslot *start, const uint64_t *args,
		 uint64_t *r0)
{
	static const void *const labels[UB_NR_LABELS] = {
#define UB_OP(id, ...) [UB_OP_##id] = &&L_##id,
#include "isa/opcodes.def"
#undef UB_OP
		[UB_LBL_LDDW_HI] = &&L_LDDW_HI,
		[UB_LBL_TAIL_CALL] = &&L_TAIL_CALL,
	};
#if !UB_CHECKED
	/* Superinstructions (fast mode only, as checked mode counts each instruction). */
#define ALU2_TIN(b, a, ka) [UB_SI_##b##_K] = &&P_##a##_##ka##_##b##_K, \
			   [UB_SI_##b##_X] = &&P_##a##_##ka##_##b##_X,
#define ALU2_TOUT(a) [UB_FI_##a##_K] = { UB_FUSABLE_IN(ALU2_TIN, a, K) }, \
		     [UB_FI_##a##_X] = { UB_FUSABLE_IN(ALU2_TIN, a, X) },
#define LDALU_TIN(b, l) [UB_SI_##b##_K] = &&Q_##l##_##b##_K, [UB_SI_##b##_X] = &&Q_##l##_##b##_X,
#define LDALU_TOUT(l, T) [UB_LI_##l] = { UB_FUSABLE_IN(LDALU_TIN, l) },
#define LDSRC_TIN(b, l) [UB_SI_##b##_X] = &&S_##l##_##b,
#define LDSRC_TOUT(l, T) [UB_LI_##l] = { UB_FUSABLE_IN(LDSRC_TIN, l) },
	static const void *const alu2[UB_FI_COUNT][UB_SI_COUNT] = { UB_FUSABLE_FIRST(ALU2_TOUT) };
	static const void *const ldalu[UB_LI_COUNT][UB_SI_COUNT] = { UB_FUSABLE_LDX(LDALU_TOUT) };
	static const void *const ldsrc[UB_LI_COUNT][UB_SI_COUNT] = { UB_FUSABLE_LDX(LDSRC_TOUT) };
#undef ALU2_TIN
#undef ALU2_TOUT
#undef LDALU_TIN
#undef LDALU_TOUT
#undef LDSRC_TIN
#undef LDSRC_TOUT
#endif
	/* ... and `dst += imm` (after a mov or not) then a compare-and-branch on dst. */
	static const void *const addj[UB_OP__COUNT] = {
#define ADDJ_LBL(name, expr) [UB_OP_##name##_K] = &&A_##name##_K, [UB_OP_##name##_X] = &&A_##name##_X,
		UB_CMP_FUSABLE(ADDJ_LBL)
#undef ADDJ_LBL
	};
	static const void *const maddj[UB_OP__COUNT] = {
#define MADDJ_LBL(name, expr) [UB_OP_##name##_K] = &&M_##name##_K, [UB_OP_##name##_X] = &&M_##name##_X,
		UB_CMP_FUSABLE(MADDJ_LBL)
#undef MADDJ_LBL
	};
#if !UB_CHECKED
	/* ... and before those three, `dst = src; dst += rC` on the mov's source: clang's
	 * packet bounds check `p = data + i; if (p + n > data_end)` as one handler. */
	static const void *const bchk[UB_OP__COUNT] = {
#define BCHK_LBL(name, expr) [UB_OP_##name##_K] = &&C_##name##_K, [UB_OP_##name##_X] = &&C_##name##_X,
		UB_CMP_FUSABLE(BCHK_LBL)
#undef BCHK_LBL
	};
#endif
	/* ... and a conditional jump followed by `goto` (a loop's exit test, then its back edge). */
	static const void *const jccja[UB_OP__COUNT] = {
#define JCCJA_LBL(name, expr) [UB_OP_##name##_K] = &&B_##name##_K, [UB_OP_##name##_X] = &&B_##name##_X,
		UB_CMP_FUSABLE(JCCJA_LBL)
#undef JCCJA_LBL
	};
	if (!run) {	/* asked for the handler tables, to build threaded code */
		struct ub_interp_tables *t = (struct ub_interp_tables *)(uintptr_t)r0;
		t->labels = labels;
#if !UB_CHECKED
		t->alu2 = &alu2[0][0];
		t->ldalu = &ldalu[0][0];
		t->ldsrc = &ldsrc[0][0];
		t->bchk = bchk;
#endif
		t->addj = addj;
		t->maddj = maddj;
		t->jccja = jccja;
		return 0;
	}
	const struct uebpf_prog *prog = run->prog;

	uint8_t *const stack = run->stack;
	struct ub_frame frames[UB_MAX_FRAMES];
	unsigned depth = 0;
	uint64_t reg[UB_MAX_REG];
	const struct ub_tslot *code = prog->code;	/* changes only on a tail call */
	const struct ub_tslot *pc = start ? start : code;
	const struct ub_tslot *target;
#if UB_CHECKED
	uint64_t budget = run->budget + 1;
	uint64_t fault_addr = 0;
	size_t fault_size = 0;
	int fault_store = 0;
	char fault_why[160];
	/* Unverified programs may read what they never wrote: make that deterministic. */
	memset(stack, 0, sizeof(run->stack));
	memset(reg, 0, sizeof(reg));
#endif
	memcpy(&reg[1], args, 5 * sizeof(uint64_t));
	reg[UB_REG_FP] = (uint64_t)(uintptr_t)(stack + sizeof(run->stack));
	DISPATCH();

	/* ---- ALU64 ---- */
	ALU64(ADD, REG_DST + s_)
	ALU64(SUB, REG_DST - s_)
	ALU64(MUL, REG_DST * s_)
	ALU64(DIV, s_ ? REG_DST / s_ : 0)
	ALU64(OR, REG_DST | s_)
	ALU64(AND, REG_DST & s_)
	ALU64(LSH, REG_DST << (s_ & 63))
	ALU64(RSH, REG_DST >> (s_ & 63))
	ALU64(MOD, s_ ? REG_DST % s_ : REG_DST)
	ALU64(XOR, REG_DST ^ s_)
	ALU64(MOV, s_)
	ALU64(ARSH, (uint64_t)((int64_t)REG_DST >> (s_ & 63)))
	/* Signed division: INT64_MIN / -1 overflows in C, so -1 is negation as in the kernel. */
	ALU64(SDIV, !s_ ? 0 : (int64_t)s_ == -1 ? -REG_DST
			      : (uint64_t)((int64_t)REG_DST / (int64_t)s_))
	ALU64(SMOD, !s_ ? REG_DST : (int64_t)s_ == -1 ? 0
			      : (uint64_t)((int64_t)REG_DST % (int64_t)s_))
L_NEG64:	REG_DST = -REG_DST; NEXT();
L_MOVSX8_64:	REG_DST = (uint64_t)(int64_t)(int8_t)REG_SRC; NEXT();
L_MOVSX16_64:	REG_DST = (uint64_t)(int64_t)(int16_t)REG_SRC; NEXT();
L_MOVSX32_64:	REG_DST = (uint64_t)(int64_t)(int32_t)REG_SRC; NEXT();
	/* bswap: unconditional byte swap, the low 16/32 bits zero-extended. */
L_BSWAP16:	REG_DST = __builtin_bswap16((uint16_t)REG_DST); NEXT();
L_BSWAP32:	REG_DST = __builtin_bswap32((uint32_t)REG_DST); NEXT();
L_BSWAP64:	REG_DST = __builtin_bswap64(REG_DST); NEXT();

#if !UB_CHECKED
	/*
	 * Pair superinstructions. Two ALU operations on one dst: the value stays in a host
	 * register between them (clang writes `a = b op c` as `a = b; a op= c`, and chains
	 * like fnv's `h ^= x; h *= p`). A load, then an ALU operation on the loaded register
	 * or one using it as source. Each result is stored before the second operand is
	 * read, so a second operand that is the first one's dst sees the new value.
	 */
#define P1_K ((uint64_t)IMM)
#define P1_X REG_SRC
#define P2_K ((uint64_t)(int64_t)pc[1].imm)
#define P2_X reg[pc[1].src]
#define ALU2(a, s1, b, s2) { uint64_t v_ = REG_DST, s_ = s1; (void)v_; v_ = UB_FX_##a; \
			     REG_DST = v_; s_ = s2; v_ = UB_FX_##b; REG_DST = v_; \
			     pc += 2; DISPATCH(); }
#define ALU2_IN(b, a) \
	P_##a##_K_##b##_K: ALU2(a, P1_K, b, P2_K) P_##a##_K_##b##_X: ALU2(a, P1_K, b, P2_X) \
	P_##a##_X_##b##_K: ALU2(a, P1_X, b, P2_K) P_##a##_X_##b##_X: ALU2(a, P1_X, b, P2_X)
#define ALU2_OUT(a) UB_FUSABLE_IN(ALU2_IN, a)
	UB_FUSABLE_FIRST(ALU2_OUT)
#define LOAD(T) ({ T m_; memcpy(&m_, PTR(REG_SRC + (int64_t)pc->off), sizeof(T)); (uint64_t)m_; })
#define LDALU(T, b, s2) { uint64_t v_ = LOAD(T), s_; REG_DST = v_; s_ = s2; v_ = UB_FX_##b; \
			  REG_DST = v_; pc += 2; DISPATCH(); }
#define LDSRC(T, b) { uint64_t s_ = LOAD(T), v_; REG_DST = s_; v_ = reg[pc[1].dst]; \
		      v_ = UB_FX_##b; reg[pc[1].dst] = v_; pc += 2; DISPATCH(); }
#define LDX2_IN(b, l, T) \
	Q_##l##_##b##_K: LDALU(T, b, P2_K) Q_##l##_##b##_X: LDALU(T, b, P2_X) \
	S_##l##_##b: LDSRC(T, b)
#define LDX2_OUT(l, T) UB_FUSABLE_IN(LDX2_IN, l, T)
	UB_FUSABLE_LDX(LDX2_OUT)
#undef P1_K
#undef P1_X
#undef P2_K
#undef P2_X
#undef ALU2
#undef ALU2_IN
#undef ALU2_OUT
#undef LOAD
#undef LDALU
#undef LDSRC
#undef LDX2_IN
#undef LDX2_OUT
#endif
	/*
	 * Compare-and-branch superinstructions: the add's result is the compare's left
	 * operand, so it is used from a register of the host, not reloaded. The right operand
	 * is read after the add, as the unfused pair would (it may be dst itself). pc ends on
	 * the jump's slot, whose offset JUMP then applies.
	 */
#define ADDJ(name, expr) \
	A_##name##_K: { uint64_t d_ = REG_DST + (uint64_t)IMM, s_ = (uint64_t)(int64_t)pc[1].imm; \
			REG_DST = d_; pc++; JUMP(expr); } \
	A_##name##_X: { uint64_t d_ = REG_DST + (uint64_t)IMM, s_; REG_DST = d_; \
			s_ = reg[pc[1].src]; pc++; JUMP(expr); } \
	M_##name##_K: { uint64_t d_ = REG_SRC + (uint64_t)(int64_t)pc[1].imm; \
			uint64_t s_ = (uint64_t)(int64_t)pc[2].imm; \
			REG_DST = d_; pc += 2; JUMP(expr); } \
	M_##name##_X: { uint64_t d_ = REG_SRC + (uint64_t)(int64_t)pc[1].imm, s_; REG_DST = d_; \
			s_ = reg[pc[2].src]; pc += 2; JUMP(expr); }
	UB_CMP_FUSABLE(ADDJ)
#undef ADDJ
#if !UB_CHECKED
	/*
	 * Bounds check: `rA = rB; rA += rC; rD = rA; rD += imm; if rD op ...`. rC is read after
	 * rA is stored and the jump's operand after rD is, as the five instructions would
	 * (either may be rA or rD); pc ends on the jump's slot.
	 */
#define BCHK(name, expr) \
	C_##name##_K: { uint64_t a_ = REG_SRC; REG_DST = a_; a_ += reg[pc[1].src]; REG_DST = a_; \
			uint64_t d_ = a_ + (uint64_t)(int64_t)pc[3].imm; \
			uint64_t s_ = (uint64_t)(int64_t)pc[4].imm; \
			reg[pc[2].dst] = d_; pc += 4; JUMP(expr); } \
	C_##name##_X: { uint64_t a_ = REG_SRC; REG_DST = a_; a_ += reg[pc[1].src]; REG_DST = a_; \
			uint64_t d_ = a_ + (uint64_t)(int64_t)pc[3].imm, s_; \
			reg[pc[2].dst] = d_; s_ = reg[pc[4].src]; pc += 4; JUMP(expr); }
	UB_CMP_FUSABLE(BCHK)
#undef BCHK
#endif
	/* Two-way branch: taken goes where the jump says, not taken where the goto says. */
#define JCCJA(name, expr) \
	B_##name##_K: { uint64_t d_ = REG_DST, s_ = (uint64_t)IMM; \
			pc += (expr) ? pc->off + 1 : pc[1].off + 2; DISPATCH(); } \
	B_##name##_X: { uint64_t d_ = REG_DST, s_ = REG_SRC; \
			pc += (expr) ? pc->off + 1 : pc[1].off + 2; DISPATCH(); }
	UB_CMP_FUSABLE(JCCJA)
#undef JCCJA

	/* ---- ALU (32-bit): operands are the low halves, the result is zero-extended ---- */
	ALU32(ADD, d_ + s_)
	ALU32(SUB, d_ - s_)
	ALU32(MUL, d_ * s_)
	ALU32(DIV, s_ ? d_ / s_ : 0)
	ALU32(OR, d_ | s_)
	ALU32(AND, d_ & s_)
	ALU32(LSH, d_ << (s_ & 31))
	ALU32(RSH, d_ >> (s_ & 31))
	ALU32(MOD, s_ ? d_ % s_ : d_)
	ALU32(XOR, d_ ^ s_)
	ALU32(MOV, s_)
	ALU32(ARSH, (uint32_t)((int32_t)d_ >> (s_ & 31)))
	ALU32(SDIV, !s_ ? 0 : (int32_t)s_ == -1 ? -d_ : (uint32_t)((int32_t)d_ / (int32_t)s_))
	ALU32(SMOD, !s_ ? d_ : (int32_t)s_ == -1 ? 0 : (uint32_t)((int32_t)d_ % (int32_t)s_))
L_NEG32:	REG_DST = (uint32_t)-(uint32_t)REG_DST; NEXT();
L_MOVSX8_32:	REG_DST = (uint32_t)(int32_t)(int8_t)REG_SRC; NEXT();
L_MOVSX16_32:	REG_DST = (uint32_t)(int32_t)(int16_t)REG_SRC; NEXT();
	/* le/be convert from host (little-endian) order: le truncates, be swaps. */
L_LE16:		REG_DST = (uint16_t)REG_DST; NEXT();
L_LE32:		REG_DST = (uint32_t)REG_DST; NEXT();
L_LE64:		NEXT();
L_BE16:		REG_DST = __builtin_bswap16((uint16_t)REG_DST); NEXT();
L_BE32:		REG_DST = __builtin_bswap32((uint32_t)REG_DST); NEXT();
L_BE64:		REG_DST = __builtin_bswap64(REG_DST); NEXT();

	/* ---- Jumps: 64-bit compares sign-extend imm, 32-bit ones compare low halves ---- */
L_JA:		pc += pc->off + 1; DISPATCH();
L_JA32:		pc += pc->imm + 1; DISPATCH();
	JCC64(JEQ, d_ == s_)
	JCC64(JGT, d_ > s_)
	JCC64(JGE, d_ >= s_)
	JCC64(JSET, d_ & s_)
	JCC64(JNE, d_ != s_)
	JCC64(JSGT, (int64_t)d_ > (int64_t)s_)
	JCC64(JSGE, (int64_t)d_ >= (int64_t)s_)
	JCC64(JLT, d_ < s_)
	JCC64(JLE, d_ <= s_)
	JCC64(JSLT, (int64_t)d_ < (int64_t)s_)
	JCC64(JSLE, (int64_t)d_ <= (int64_t)s_)
	JCC32(JEQ, d_ == s_)
	JCC32(JGT, d_ > s_)
	JCC32(JGE, d_ >= s_)
	JCC32(JSET, d_ & s_)
	JCC32(JNE, d_ != s_)
	JCC32(JSGT, (int32_t)d_ > (int32_t)s_)
	JCC32(JSGE, (int32_t)d_ >= (int32_t)s_)
	JCC32(JLT, d_ < s_)
	JCC32(JLE, d_ <= s_)
	JCC32(JSLT, (int32_t)d_ < (int32_t)s_)
	JCC32(JSLE, (int32_t)d_ <= (int32_t)s_)

	/* ---- Calls ---- */
L_CALL:		/* helper: the id was checked against the table at load time */
#if UB_CHECKED
	if (prog->helper_def && prog->helper_def[pc->imm] &&
	    !ub_helper_args_ok(run, prog->helper_def[pc->imm], &reg[1], fault_why, sizeof(fault_why)))
		goto fault_helper;
#endif
#if UB_CHECKED
	run->budget = budget;	/* callbacks the helper runs spend the same budget */
#endif
	reg[0] = prog->helper_fn[pc->imm](reg[1], reg[2], reg[3], reg[4], reg[5]);
#if UB_CHECKED
	budget = run->budget;
#endif
	if (__builtin_expect(run->fault != 0, 0))	/* a callback it ran faulted */
		return run->fault;
	NEXT();
L_CALL_LOCAL:	/* bpf-to-bpf call: new frame, r6-r9 preserved for the caller */
	target = pc + pc->imm + 1;
	goto call_local;
L_CALLX: {	/* dst holds a function (from lddw func) or a helper id */
	uint64_t v = REG_DST;
	if (v >= (uintptr_t)code && v < (uintptr_t)(code + prog->cnt) &&
	    (v - (uintptr_t)code) % sizeof(*code) == 0) {
		target = (const struct ub_tslot *)PTR(v);
		goto call_local;
	}
	if (v >= prog->helper_cnt || !prog->helper_fn[v])
		goto fault_callx;
#if UB_CHECKED	/* as L_CALL: the prototype's checks, and the budget shared with callbacks */
	if (prog->helper_def && prog->helper_def[v] &&
	    !ub_helper_args_ok(run, prog->helper_def[v], &reg[1], fault_why, sizeof(fault_why))) {
		ub_log_printf(&run->err, "insn %zu: callx %s#%llu: %s\n", (size_t)(pc - code),
			      ub_helper_name((int32_t)v), (unsigned long long)v, fault_why);
		return -EFAULT;
	}
	run->budget = budget;
#endif
	reg[0] = prog->helper_fn[v](reg[1], reg[2], reg[3], reg[4], reg[5]);
#if UB_CHECKED
	budget = run->budget;
#endif
	if (__builtin_expect(run->fault != 0, 0))	/* a callback it ran faulted */
		return run->fault;
	NEXT();
	}
call_local:
	if (depth + 1 >= UB_MAX_FRAMES)
		goto fault_depth;
	frames[depth].ret = pc + 1;
	memcpy(frames[depth].saved, &reg[6], 5 * sizeof(uint64_t));
	depth++;
	reg[UB_REG_FP] -= UB_STACK_SIZE;
	pc = target;
	DISPATCH();
L_TAIL_CALL: {	/* bpf_tail_call(ctx, prog_array, index): on success never returns */
#if UB_CHECKED
	if (prog->helper_def && prog->helper_def[BPF_FUNC_tail_call] &&
	    !ub_helper_args_ok(run, prog->helper_def[BPF_FUNC_tail_call], &reg[1], fault_why,
			       sizeof(fault_why)))
		goto fault_helper;
#endif
	const struct uebpf_prog *np = ub_prog_array_get(PTR(reg[2]), (uint32_t)reg[3]);
	/* A failed tail call (empty slot, bad index, limit reached) falls through. */
	if (!np || np->checked != UB_CHECKED || run->tail_calls >= UB_MAX_TAIL_CALLS)
		NEXT();
	run->tail_calls++;
#if UB_CHECKED
	ub_run_add_maps(run, np);
#endif
	prog = run->prog = np;	/* helpers see the program now running */
	pc = code = np->code;
	DISPATCH();
	}
L_CALL_KFUNC:	/* refused at load time; kept so that the table stays complete */
	goto fault_kfunc;
L_EXIT:
do_exit:
	if (depth == 0) {
#if UB_CHECKED
		run->budget = budget;
#endif
		*r0 = reg[0];
		return 0;
	}
	depth--;
	memcpy(&reg[6], frames[depth].saved, 5 * sizeof(uint64_t));
	pc = frames[depth].ret;
	DISPATCH();

	/* ---- Loads and stores ---- */
	LDX(LDXB, uint8_t, uint8_t)
	LDX(LDXH, uint16_t, uint16_t)
	LDX(LDXW, uint32_t, uint32_t)
	LDX(LDXDW, uint64_t, uint64_t)
	LDX(LDXSB, int8_t, int64_t)
	LDX(LDXSH, int16_t, int64_t)
	LDX(LDXSW, int32_t, int64_t)
	STORE(STB, uint8_t, pc->imm)
	STORE(STH, uint16_t, pc->imm)
	STORE(STW, uint32_t, pc->imm)
	STORE(STDW, uint64_t, IMM)
	STORE(STXB, uint8_t, REG_SRC)
	STORE(STXH, uint16_t, REG_SRC)
	STORE(STXW, uint32_t, REG_SRC)
	STORE(STXDW, uint64_t, REG_SRC)
	ATOMICS(W, uint32_t)
	ATOMICS(DW, uint64_t)

	/* ---- 64-bit immediates: the loader resolved every pseudo form to a value ---- */
L_LDDW: L_LDDW_MAPFD: L_LDDW_MAPVAL: L_LDDW_BTFID: L_LDDW_MAPIDX: L_LDDW_MAPIDXVAL:
	REG_DST = (uint64_t)(uint32_t)pc[0].imm | (uint64_t)(uint32_t)pc[1].imm << 32;
	pc += 2;
	DISPATCH();
L_LDDW_FUNC:	/* a function value: the address of its first slot, for callx */
	REG_DST = (uint64_t)(uintptr_t)(pc + pc->imm + 1);
	pc += 2;
	DISPATCH();
L_LDDW_HI:	/* validation keeps control out of the second half of an lddw */
	ub_log_printf(&run->err, "insn %zu: executed the second half of lddw\n",
		      (size_t)(pc - code));
	return -EFAULT;

	LDPKT(LDABSB, uint8_t, ID8, pc->imm)
	LDPKT(LDABSH, uint16_t, __builtin_bswap16, pc->imm)
	LDPKT(LDABSW, uint32_t, __builtin_bswap32, pc->imm)
	LDPKT(LDINDB, uint8_t, ID8, (uint32_t)REG_SRC + UIMM32)
	LDPKT(LDINDH, uint16_t, __builtin_bswap16, (uint32_t)REG_SRC + UIMM32)
	LDPKT(LDINDW, uint32_t, __builtin_bswap32, (uint32_t)REG_SRC + UIMM32)

	/* ---- Faults: stop the run and say where and why ---- */
fault_depth:
	ub_log_printf(&run->err, "insn %zu: call stack too deep (more than %d frames)\n",
		      (size_t)(pc - code), UB_MAX_FRAMES);
	return -E2BIG;
fault_callx:
	ub_log_printf(&run->err, "insn %zu: callx to 0x%llx, which is neither a function "
		      "nor a known helper\n", (size_t)(pc - code), (unsigned long long)REG_DST);
	return -EINVAL;
fault_kfunc:
	ub_log_printf(&run->err, "insn %zu: kfunc calls are not supported\n", (size_t)(pc - code));
	return -EOPNOTSUPP;
#if UB_CHECKED
fault_budget:
	ub_log_printf(&run->err, "insn %zu: instruction budget of %llu exhausted\n",
		      (size_t)(pc - code), (unsigned long long)prog->budget);
	return -ETIME;
fault_mem:
	ub_log_printf(&run->err, "insn %zu: invalid %s of %zu bytes at 0x%llx (%s)\n",
		      (size_t)(pc - code), fault_store ? "store" : "load", fault_size,
		      (unsigned long long)fault_addr,
		      ub_run_mem_ok(run, NULL, fault_addr, fault_size, 0)
			      ? "memory is read-only" : "outside the stack, context and maps");
	return -EFAULT;
fault_helper:
	ub_log_printf(&run->err, "insn %zu: call %s#%d: %s\n", (size_t)(pc - code),
		      ub_helper_name(pc->imm), pc->imm, fault_why);
	return -EFAULT;
fault_align:
	ub_log_printf(&run->err, "insn %zu: misaligned atomic access at 0x%llx\n",
		      (size_t)(pc - code), (unsigned long long)(REG_DST + (int64_t)pc->off));
	return -EFAULT;
#endif
}

#undef REG_DST
#undef REG_SRC
#undef IMM
#undef UIMM32
#undef DISPATCH
#undef MEM_CHECK
#undef ATOMIC_CHECK
#undef NEXT
#undef JUMP
#undef PTR
#undef ALU64
#undef ALU32
#undef JCC64
#undef JCC32
#undef LDX
#undef STORE
#undef AOP
#undef ATOMICS
#undef LDPKT
#undef ID8
