/*
 * ub_jit peepholes (included by jit.c): where a short run of eBPF instructions has a
 * cheaper x86 form than one translation each. None applies across an instruction that a
 * jump or call can reach from elsewhere (MARK_TARGET, MARK_ENTRY), so every instruction
 * that can be reached still starts where its offset says; the instructions folded into
 * an earlier one get no code of their own (the dump shows them empty).
 *
 *   mov a, b; add a, c [; add a, K]  ->  lea a, [b + c + K]
 *   mov a, b; add a, K               ->  lea a, [b + K]   (r2 = r10; r2 += -8 -> one lea)
 *   w = <32-bit operation>; w = w    ->  the second dropped: x86 32-bit operations
 *                                        already zero-extend
 *   if c goto +1; goto L             ->  if !c goto L     (trusted code: a loop's back
 *                                        edge costs one jump, not two)
 */

#define MARK_ENTRY	1	/* a function starts here */
#define MARK_TARGET	2	/* some jump lands here */

static int is_mov64_x(const struct bpf_insn *in)
{
	return in->code == (BPF_ALU64 | BPF_MOV | BPF_X) && in->off == 0;
}

/* May insns i+1 .. i+k-1 be folded into insn i? None is reached from elsewhere. */
static int foldable(const struct jctx *j, size_t i, size_t k)
{
	if (i + k > j->prog->cnt)
		return 0;
	for (size_t m = 1; m < k; m++)
		if (j->is_entry[i + m])
			return 0;
	return 1;
}

/* lea dst, [base + index + disp] (index < 0: none). */
static void emit_lea(struct jctx *j, int dst, int base, int index, int32_t disp)
{
	if (index < 0)
		x_rm(&j->x, XO_LEA, 1, dst, base, disp, 0);
	else
		x_lea_idx(&j->x, dst, base, index, disp);
}

/*
 * mov a, b; add a, c [; add a, K] and mov a, b; add a, K: one lea. The register form
 * needs an index register other than rsp, which no eBPF register maps to.
 * Returns how many instructions it translated (0: none).
 */
static size_t opt_lea(struct jctx *j, size_t i)
{
	const struct bpf_insn *in = &j->prog->insns[i];

	if (!is_mov64_x(&in[0]) || !foldable(j, i, 2) || in[0].dst_reg == in[0].src_reg)
		return 0;
	int a = in[0].dst_reg, b = R(in[0].src_reg);
	if (in[1].code == (BPF_ALU64 | BPF_ADD | BPF_K) && in[1].dst_reg == a && !j->keys) {
		emit_lea(j, R(a), b, -1, in[1].imm);
		return 2;
	}
	if (in[1].code != (BPF_ALU64 | BPF_ADD | BPF_X) || in[1].dst_reg != a)
		return 0;
	int c = in[1].src_reg == a ? b : R(in[1].src_reg);	/* a was just set to b */
	int32_t disp = 0;
	size_t used = 2;
	if (foldable(j, i, 3) && in[2].code == (BPF_ALU64 | BPF_ADD | BPF_K) &&
	    in[2].dst_reg == a && !j->keys) {
		disp = in[2].imm;
		used = 3;
	}
	emit_lea(j, R(a), b, c, disp);
	return used;
}

/* w = w right after a 32-bit operation on w: the upper half is zero already. */
static int opt_zext_redundant(const struct jctx *j, size_t i)
{
	const struct bpf_insn *in = &j->prog->insns[i];

	return i > 0 && !j->is_entry[i] && in->code == (BPF_ALU | BPF_MOV | BPF_X) &&
	       in->off == 0 && in->dst_reg == in->src_reg &&
	       BPF_CLASS(in[-1].code) == BPF_ALU && in[-1].dst_reg == in->dst_reg &&
	       BPF_OP(in[-1].code) != BPF_END;	/* le64 emits nothing: no zero-extension */
}

/*
 * if c goto +1; goto L (a ja that nothing else jumps to): `j!c L`, and the ja has no code.
 * Checked code keeps both: its backward jumps spend budget, and only the ja's should.
 * Returns the jump's target instruction, or -1.
 */
static long opt_jcc_over_ja(const struct jctx *j, const struct bpf_insn *in, size_t idx)
{
	const struct bpf_insn *next = in + 1;

	if (j->checked || in->off != 1 || !foldable(j, idx, 2) ||
	    next->code != (BPF_JMP | BPF_JA))
		return -1;
	return (long)idx + 2 + next->off;
}
