/*
 * ub_ver: the verifier, uebpf's security boundary. It proves statically, the way the
 * Linux verifier does, that a program only touches memory it may touch, never reads
 * uninitialized registers or stack, never leaks pointers where the kernel would not let
 * it, releases what it acquires and terminates. A program it accepts runs without
 * runtime checks ("fast" mode); one it rejects is not loaded.
 *
 * The modules (one prefix each) are:
 *   tnum.c    ub_tnum_   tristate numbers
 *   bounds.c  ub_bnd_    scalar ranges: deduction, ALU transfer, branch refinement
 *   state.c   ub_vst_    register, stack and frame state; references
 *   cfg.c     ub_vcfg_   subprograms, control flow checks, prune points, liveness
 *   mem.c     ub_vmem_   loads, stores and helper memory arguments
 *   alu.c     ub_valu_   ALU instructions and pointer arithmetic
 *   jmp.c     ub_vjmp_   conditional jumps: branch prediction and refinement
 *   calls.c   ub_vcall_  helper calls, bpf-to-bpf calls, callbacks, exits
 *   prune.c   ub_vprune_ explored states and state equivalence
 *   btf_info.c ub_vbtf_  program BTF: func_info and line_info checks, source lines
 *   log.c     ub_vlog_   the kernel-style verifier log
 *   verifier.c ub_ver_   the main loop
 */
#ifndef UB_VER_VERIFIER_H
#define UB_VER_VERIFIER_H
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include "util/log.h"

struct ub_map;
struct ub_prog_type;
struct ub_btf;

/* Per-instruction results that later stages use (the JIT, context rewriting). */
enum ub_ver_ctx_conv {
	UB_VER_CTX_NONE = 0,
	UB_VER_CTX_PKT_DATA,	/* this ldx loads the packet start from the context */
	UB_VER_CTX_PKT_END,	/* ... the packet end */
	UB_VER_CTX_PKT_META,	/* ... the metadata start */
	UB_VER_CONV_ZERO,	/* this ldx reads a kernel struct uebpf does not have (a field
				 * of struct bpf_map): the loader makes it dst = 0 */
};

struct ub_ver_req {
	const struct bpf_insn *insns;	/* lddw map forms already hold struct ub_map * */
	size_t cnt;
	const struct ub_prog_type *pt;
	uint32_t prog_flags;		/* BPF_F_STRICT_ALIGNMENT, BPF_F_ANY_ALIGNMENT, ... */
	uint32_t expected_attach_type;
	struct ub_map *const *maps;	/* the maps lddw names (to recognise map values) */
	uint32_t nr_maps;
	struct ub_log *log;		/* may be NULL */
	uint32_t log_level;		/* 1: failing path, 2: every instruction, 4: stats */
	/* Program BTF (BPF_PROG_LOAD's prog_btf_fd, func_info, line_info): records of
	 * *_rec_size bytes, checked as the kernel checks them (btf_info.c). */
	const struct ub_btf *btf;	/* NULL: none */
	const void *func_info, *line_info;
	uint32_t func_info_cnt, func_info_rec_size;
	uint32_t line_info_cnt, line_info_rec_size;
};

struct ub_ver_res {
	uint8_t *ctx_conv;		/* out, malloc'd, cnt entries (enum ub_ver_ctx_conv) */
	uint8_t *seen;			/* out, malloc'd: 1 where an instruction is reachable */
	uint32_t insn_processed;
	uint32_t max_states_per_insn;
	uint32_t total_states;
	uint32_t peak_states;
	uint32_t stack_depth;		/* of the main program, bytes */
	uint32_t max_ctx_off;		/* bytes of context the program may touch */
};

/*
 * Verifies req->insns. Returns 0 (res filled, caller frees res->ctx_conv and res->seen)
 * or a negative errno as the kernel's BPF_PROG_LOAD would return it (-EACCES, -EINVAL,
 * -E2BIG, -ENOMEM), with the reason as the last line of the log.
 */
int ub_verify(const struct ub_ver_req *req, struct ub_ver_res *res);

#endif
