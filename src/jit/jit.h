/*
 * ub_jit: eBPF to x86-64 machine code.
 */
#ifndef UB_JIT_H
#define UB_JIT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "vm/vm.h"

/* The compiled code of a program (one image holds the main program and subprograms). */
struct ub_jit_image {
	uint8_t *code;		/* executable, never writable at the same time */
	size_t size;		/* bytes of code */
	size_t map_size;	/* bytes mapped */
	uint32_t *insn_off;	/* per instruction: offset of its code (for dumps and calls) */
	uint32_t *entry_off;	/* per instruction: its function prologue's offset, or 0 */
	size_t body_off;	/* where the main program's body starts */
	size_t tail_off;	/* where a tail call into this program jumps */
	size_t tramp_off;	/* the callback trampoline */
	size_t stubs_off;	/* where the runtime stubs after the last function start */
	int hardened;		/* constant blinding was applied */
	int needs_jmpbuf;	/* some instruction may leave through longjmp */
	/* Trusted code that needs no run state at all: no helper, no LD_ABS/LD_IND, no tail
	 * call or callx, nothing that can fault. uebpf_prog_run calls it straight. */
	int direct;
};

/* The native entry: r1, r2, and the run (kept in a callee-saved register). */
typedef uint64_t (*ub_jit_entry)(uint64_t r1, uint64_t r2, struct ub_run *run);

/* Compiles prog (checked: with runtime memory checks, budget and depth limit). */
int ub_jit_compile(struct uebpf_prog *prog, int checked, struct ub_log *log);
void ub_jit_free(struct ub_jit_image *img);

/* Runs a compiled program from its first instruction. 0 and *r0, or -errno. */
int ub_jit_run(struct ub_run *run, const uint64_t *args, uint64_t *r0);

/* Runs a direct image (img->direct) on ctx: r1 = ctx, r2 = 0, no run. */
static inline uint64_t ub_jit_run_direct(const struct ub_jit_image *img, void *ctx)
{
	return ((ub_jit_entry)(uintptr_t)img->code)((uintptr_t)ctx, 0, NULL);
}

/* Is fn the entry of one of prog's functions (a value lddw func produced)? */
int ub_jit_is_entry(const struct uebpf_prog *prog, uint64_t fn);
/* Calls function fn of run->prog with r1..r5 (callbacks and callx). */
uint64_t ub_jit_call_fn(struct ub_run *run, uint64_t fn, const uint64_t *args);

/*
 * Disassembles prog's machine code to out (capstone, AT&T syntax), each block headed by
 * the eBPF instruction it comes from; opcodes: the bytes too, on a line after each
 * instruction. 0, -ENOENT (not compiled by the JIT) or -EIO (capstone failed to open).
 */
int ub_jit_dump(const struct uebpf_prog *prog, FILE *out, int opcodes);

/* Should prog's code be blinded (its flag, or UEBPF_JIT_HARDEN in the environment)? */
int ub_jit_want_harden(const struct uebpf_prog *prog);

#endif
