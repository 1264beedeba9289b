/*
 * The verifier's internal model, shared by its modules (see verifier.h for the map):
 * abstract registers, stack slots, call frames, whole states, and the environment of
 * one verification run.
 */
#ifndef UB_VER_ENV_H
#define UB_VER_ENV_H
#include <stdbool.h>
#include "isa/isa.h"
#include "verifier/tnum.h"
#include "verifier/verifier.h"

struct ub_helper_def;

/* ---- Register types (the kernel's enum bpf_reg_type with its flag bits) ---- */

enum ub_vtype {
	VT_NOT_INIT = 0,
	VT_SCALAR,
	VT_CTX,			/* the program's context */
	VT_MAP_PTR,		/* CONST_PTR_TO_MAP: struct ub_map * */
	VT_MAP_VALUE,
	VT_MAP_KEY,		/* key of for_each_map_elem callbacks */
	VT_STACK,		/* frame pointer plus offset */
	VT_PKT_META,
	VT_PKT,
	VT_PKT_END,
	VT_MEM,			/* helper-returned memory of mem_size bytes (ringbuf) */
	VT_FUNC,		/* a subprogram, for callbacks */
	VT_SOCKET,
	VT_SOCK_COMMON,
	VT_TCP_SOCK,
	VT_XDP_SOCK,
	VT_BTF_ID,		/* a kernel object uebpf cannot describe (never dereferenced) */
	VT__COUNT,
};

#define VF_MAYBE_NULL	0x100
#define VF_RDONLY	0x200
#define VF_RINGBUF	0x400
#define VT_BASE(t)	((t) & 0xff)

/* Largest variable offsets and sizes the kernel lets a program build (1 << 29). */
#define UB_MAX_VAR_OFF	(1 << 29)
#define UB_MAX_VAR_SIZ	(1 << 29)
#define UB_MAX_PACKET_OFF 0xffff
#define UB_REG_SIZE	8
#define UB_MAX_SLOTS	(UB_STACK_SIZE / UB_REG_SIZE)

/* Packet pointer ranges below zero: compared against pkt_end (the kernel's values). */
#define UB_AT_PKT_END		(-1)
#define UB_BEYOND_PKT_END	(-2)

/*
 * One abstract register. Fields that do not apply to a type are zero, so that whole
 * registers compare with memcmp: everything up to var_off is "identity" (type, offset,
 * the object pointed to), var_off..u32_max the value ranges, then the ids.
 */
struct ub_vreg {
	uint16_t type;
	uint8_t frameno;	/* VT_STACK: the frame it points into */
	uint8_t pad0;
	int32_t off;		/* fixed offset of a pointer */
	const struct ub_map *map;	/* VT_MAP_PTR, VT_MAP_VALUE, VT_MAP_KEY */
	int32_t range;		/* packet pointers: bytes known to be inside the packet */
	uint32_t mem_size;	/* VT_MEM */
	uint32_t subprog;	/* VT_FUNC */
	uint32_t pad1;
	struct ub_tnum var_off;	/* scalar value, or variable offset of a pointer */
	int64_t smin, smax;
	uint64_t umin, umax;
	int32_t s32_min, s32_max;
	uint32_t u32_min, u32_max;
	uint32_t id;		/* null checks, packet ranges and linked scalars */
	uint32_t ref_obj_id;	/* the reference this pointer holds */
};

/* Stack byte kinds, as the kernel's slot_type. */
enum { STK_INVALID = 0, STK_SPILL, STK_MISC, STK_ZERO };

struct ub_vslot {
	struct ub_vreg spilled;	/* the register stored here by an 8-byte (or scalar) spill */
	uint8_t st[UB_REG_SIZE];	/* per byte; st[0] is the highest address */
};

struct ub_vframe {
	struct ub_vreg regs[UB_MAX_REG];
	int32_t callsite;	/* the call instruction, -1 for the main program */
	uint16_t frameno;
	uint16_t subprog;
	uint8_t in_callback;	/* a callback of bpf_loop / for_each_map_elem */
	uint8_t pad[3];
	int32_t cb_ret_min, cb_ret_max;
	uint32_t callback_depth;	/* times a callback was entered from this frame */
	int32_t nslots;		/* stack slots allocated (8 bytes each) */
	struct ub_vslot *stack;	/* stack[i] covers fp-8*(i+1) .. fp-8*i-1 */
};

enum { REF_PTR = 1, REF_LOCK = 2 };

struct ub_vref {
	uint32_t id;
	int32_t insn;		/* where it was acquired */
	uint8_t type;
	const void *ptr;	/* REF_LOCK: the map whose value holds the lock */
};

struct ub_vstate {
	struct ub_vframe *frame[UB_MAX_FRAMES];
	int32_t curframe;
	int32_t nrefs;
	struct ub_vref *refs;
	int32_t refcap;
	int32_t active_locks;
	struct ub_vstate *parent;	/* the checkpoint this state descends from */
	uint32_t branches;	/* paths from this state still being explored */
	int32_t insn_idx;	/* checkpoints: the instruction they belong to */
	uint32_t callback_unroll_depth;
};

/* ---- Per-instruction data ---- */

struct ub_vaux {
	uint16_t live_in;	/* registers that may be read before written (static) */
	uint16_t ptr_type;	/* type of the pointer a load/store used, for consistency */
	uint8_t prune;		/* a state checkpoint may be taken here */
	uint8_t force_ckpt;
	uint8_t calls_cb;	/* bpf_loop / for_each_map_elem call */
	uint8_t seen;
	uint8_t ctx_conv;	/* enum ub_ver_ctx_conv */
	uint8_t is_lddw_hi;
	uint8_t fields_ok;	/* ub_vinsn_fields passed here once */
};

struct ub_vsub {
	int32_t start;
	int32_t stack_depth;
	uint8_t has_tail_call;
	uint8_t has_ld_abs;
	uint8_t is_cb;
	uint8_t changes_pkt;
	/* BTF_FUNC_GLOBAL: verified once on its own, with arguments typed by BTF (btf_info.c) */
	uint8_t is_global;
	uint8_t called;		/* a verified path calls it: it is verified too */
	uint8_t verified;
	uint8_t args_ready;	/* nargs, arg_kind and arg_size are filled in */
	uint8_t nargs;
	uint8_t arg_kind[5];	/* enum ub_vglobal_arg */
	uint32_t arg_size[5];	/* UB_GARG_MEM: bytes pointed to */
};

/* A global function's argument, as the kernel's btf_prepare_func_args types it. */
enum ub_vglobal_arg { UB_GARG_SCALAR, UB_GARG_CTX, UB_GARG_MEM };

/* A saved state at a prune point, and a pending path. */
struct ub_vsl {
	struct ub_vsl *next;
	struct ub_vstate st;
	uint32_t hit, miss;
};

struct ub_vstack_elem {
	struct ub_vstack_elem *next;
	struct ub_vstate st;
	int32_t insn_idx, prev_insn_idx;
	size_t log_pos;
};

#define UB_MAX_SUBPROGS 256
#define UB_ID_MAP_SIZE (UB_MAX_REG * UB_MAX_FRAMES * (1 + UB_MAX_SLOTS) + 64)

struct ub_vidmap {
	uint32_t n;
	uint32_t tmp_gen;
	struct { uint32_t old, cur; } map[UB_ID_MAP_SIZE];
};

/* The rotating log (log.c). */
struct ub_vlog {
	struct ub_log *out;	/* the caller's log; its buffer holds the text */
	uint32_t level;
	size_t start, end;	/* absolute positions of the kept text */
	size_t max_end;
};

struct ub_venv {
	const struct bpf_insn *insns;
	int32_t cnt;
	const struct ub_ver_req *req;
	struct ub_vaux *aux;
	struct ub_vsub subs[UB_MAX_SUBPROGS + 1];
	int32_t nsubs;
	struct ub_vstate *cur;
	struct ub_vstack_elem *head;	/* paths still to explore */
	int32_t stack_size;
	struct ub_vsl **explored;	/* per instruction */
	struct ub_vsl *free_list;	/* evicted checkpoints that may still be parents */
	uint32_t id_gen;
	uint32_t insn_processed, prev_insn_processed;
	uint32_t jmps_processed, prev_jmps_processed;
	uint32_t total_states, peak_states, max_states_per_insn;
	int32_t insn_idx, prev_insn_idx;
	bool strict_alignment;
	bool test_state_freq;
	bool pkt_direct_read, pkt_direct_write;	/* per program type */
	bool has_func_info;
	struct bpf_line_info *linfo;	/* the checked line_info records, or NULL */
	uint32_t nr_linfo;
	const struct bpf_line_info *prev_linfo;	/* the source line the log printed last */
	uint32_t max_ctx_off;		/* highest context byte accessed + 1 */
	uint64_t start_ns;		/* CLOCK_MONOTONIC at the start, for the statistics */
	struct ub_vlog log;
	/* The log's one-line state after each instruction (log.c): what it touched, and
	 * where its text ended */
	uint32_t scratched_regs;
	uint64_t scratched_stack;	/* stack slots 0..63 of the current frame */
	size_t prev_log_pos, prev_insn_print_pos;
	struct ub_vidmap idmap;
	struct ub_vreg fake[2];	/* immediates as registers */
};

/* ---- state.c ---- */

enum { SRC_OP, DST_OP, DST_OP_NO_MARK };

static inline struct ub_vframe *ub_vst_cur_frame(struct ub_venv *env)
{
	return env->cur->frame[env->cur->curframe];
}

static inline struct ub_vreg *ub_vst_regs(struct ub_venv *env)
{
	return ub_vst_cur_frame(env)->regs;
}

/* The frame a stack pointer points into. */
static inline struct ub_vframe *ub_vst_func(struct ub_venv *env, const struct ub_vreg *reg)
{
	return env->cur->frame[reg->frameno];
}

void ub_vst_mark_unknown(struct ub_vreg *reg);
void ub_vst_mark_not_init(struct ub_vreg *reg);
void ub_vst_mark_known(struct ub_vreg *reg, uint64_t imm);	/* keeps type */
void ub_vst_mark_const(struct ub_vreg *reg, uint64_t imm);	/* scalar constant */
void ub_vst_mark_known_zero(struct ub_vreg *reg);		/* a pointer at offset 0 */
void ub_vst_mark_ptr(struct ub_vreg *reg, uint16_t type);	/* known_zero + type */
bool ub_vst_is_null(const struct ub_vreg *reg);			/* scalar known 0 */
bool ub_vst_is_const(const struct ub_vreg *reg, bool subreg32);
bool ub_vst_is_pkt(const struct ub_vreg *reg);			/* pkt or pkt_meta */
bool ub_vst_is_pkt_any(const struct ub_vreg *reg);		/* ... or pkt_end */
bool ub_vst_not_null(const struct ub_vreg *reg);		/* pointer that is never NULL */
void ub_vst_mark_not_null(struct ub_vreg *reg);
bool ub_vst_is_spillable(uint16_t type);
/* Linked scalars: rX = rY gives both one id, so a branch on one bounds the other. */
#define UB_ADD_CONST (1u << 31)	/* id flag: this register is its id's value + off */
void ub_vst_scalar_id(struct ub_venv *env, struct ub_vreg *reg);
int ub_vst_check_reg(struct ub_venv *env, uint32_t regno, int t);

struct ub_vstate *ub_vst_new(void);
void ub_vst_free(struct ub_vstate *st);		/* contents only */
void ub_vst_destroy(struct ub_vstate *st);	/* contents and st */
int ub_vst_copy(struct ub_vstate *dst, const struct ub_vstate *src);
struct ub_vframe *ub_vst_frame_new(int callsite, int frameno, int subprog);
void ub_vst_frame_free(struct ub_vframe *f);
int ub_vst_grow_stack(struct ub_vframe *f, int bytes);

int ub_vst_acquire_ref(struct ub_venv *env, int insn, uint8_t type, uint32_t id, const void *ptr);
int ub_vst_release_ref(struct ub_vstate *st, uint32_t id);	/* 0 or -EINVAL */
int ub_vst_release_reference(struct ub_venv *env, uint32_t ref_obj_id);
void ub_vst_clear_pkt_pointers(struct ub_venv *env);
const char *ub_vst_type_str(uint16_t type, char *buf, size_t size);

/* Calls body for every register and spilled register of every frame of st. */
#define UB_FOR_EACH_REG(st_, fr_, reg_, body) do { \
	for (int fi_ = 0; fi_ <= (st_)->curframe; fi_++) { \
		struct ub_vframe *fr_ = (st_)->frame[fi_]; \
		for (int ri_ = 0; ri_ < UB_MAX_REG; ri_++) { \
			struct ub_vreg *reg_ = &fr_->regs[ri_]; body; } \
		for (int si_ = 0; si_ < fr_->nslots; si_++) { \
			if (fr_->stack[si_].st[UB_REG_SIZE - 1] != STK_SPILL) continue; \
			struct ub_vreg *reg_ = &fr_->stack[si_].spilled; body; } \
	} } while (0)

/* ---- bounds.c ---- */

void ub_bnd_unbounded(struct ub_vreg *reg);
void ub_bnd_unbounded32(struct ub_vreg *reg);
void ub_bnd_unbounded64(struct ub_vreg *reg);
void ub_bnd_update(struct ub_vreg *reg);
void ub_bnd_sync(struct ub_vreg *reg);
void ub_bnd_sanitize(struct ub_vreg *reg);	/* impossible bounds become unbounded */
void ub_bnd_zext32(struct ub_vreg *reg);
void ub_bnd_mark32_known(struct ub_vreg *reg, uint64_t imm);
void ub_bnd_coerce(struct ub_vreg *reg, int size);
void ub_bnd_coerce_sx(struct ub_vreg *reg, int size);
void ub_bnd_coerce_subreg_sx(struct ub_vreg *reg, int size);
int ub_bnd_width(const struct ub_vreg *reg);	/* bits needed for umax */
bool ub_bnd_range_within(const struct ub_vreg *old, const struct ub_vreg *cur);
/* dst op= src on two scalars (ALU ops other than MOV/NEG/END/DIV/MOD). */
void ub_bnd_alu(struct ub_vreg *dst, const struct ub_vreg *src, uint8_t op, bool alu32);
void ub_bnd_neg(struct ub_vreg *dst, bool alu32);
bool ub_bnd_alu_computable(uint8_t op, const struct ub_vreg *src, bool alu32);
void ub_bnd_add(struct ub_vreg *dst, const struct ub_vreg *src);	/* 64 and 32 bit */
/* 1 taken, 0 not taken, -1 unknown for scalar reg1 <op> reg2. */
int ub_bnd_branch_taken(const struct ub_vreg *r1, const struct ub_vreg *r2, uint8_t op, bool is32);
void ub_bnd_refine(struct ub_vreg *r1, struct ub_vreg *r2, uint8_t op, bool is32);
uint8_t ub_bnd_flip_op(uint8_t op);
uint8_t ub_bnd_rev_op(uint8_t op);

/* ---- mem.c ---- */

struct ub_vcall_meta;
int ub_vmem_access(struct ub_venv *env, int insn_idx, uint32_t regno, int off, int size,
		   bool write, int value_regno, bool strict_once, bool ldsx);
int ub_vmem_atomic(struct ub_venv *env, int insn_idx, const struct bpf_insn *insn);
int ub_vmem_helper_access(struct ub_venv *env, uint32_t regno, int size, bool write,
			  bool zero_ok, struct ub_vcall_meta *meta);
int ub_vmem_check_ptr_off(struct ub_venv *env, const struct ub_vreg *reg, uint32_t regno,
			  bool fixed_off_ok);
int ub_vmem_map_access(struct ub_venv *env, uint32_t regno, int off, int size, bool zero_ok);
bool ub_vmem_pkt_ok(const struct ub_venv *env, bool write, const struct ub_vcall_meta *meta);

/* ---- alu.c, jmp.c ---- */

int ub_valu_check(struct ub_venv *env, const struct bpf_insn *insn);
int ub_vjmp_cond(struct ub_venv *env, const struct bpf_insn *insn, int *insn_idx);

/* ---- calls.c ---- */

struct ub_vcall_meta {
	const struct ub_map *map;
	uint32_t func_id;
	int regno;		/* raw-mode (uninitialized memory) argument ... */
	int access_size;	/* ... and the bytes the helper writes there */
	bool raw_mode;
	bool pkt_access;	/* the helper accepts packet pointers */
	uint8_t release_regno;
	uint32_t ref_obj_id;
	uint64_t msize_max;
	int64_t const_map_key;
	uint32_t subprog;
	uint32_t mem_size;
};

int ub_vcall_helper(struct ub_venv *env, const struct bpf_insn *insn, int *insn_idx);
int ub_vcall_func(struct ub_venv *env, const struct bpf_insn *insn, int *insn_idx);
int ub_vcall_exit(struct ub_venv *env, int *insn_idx);
int ub_vcall_leaks(struct ub_venv *env, bool check_lock, bool check_refs, const char *prefix);
int ub_vcall_find_subprog(const struct ub_venv *env, int start);
/* The entry state of a global function verified on its own. */
int ub_vcall_global_entry(struct ub_venv *env, struct ub_vstate *st, int sub);

/* ---- btf_info.c ---- */

int ub_vbtf_early(struct ub_venv *env);	/* func_info records, before subprograms */
int ub_vbtf_check(struct ub_venv *env);	/* func_info and line_info against subprograms */
void ub_vbtf_log_line(struct ub_venv *env, int insn);	/* "; source @ file:line" */
int ub_vbtf_global_args(struct ub_venv *env, int sub);	/* types a global's arguments */
const char *ub_vbtf_func_name(const struct ub_venv *env, int sub);

/* ---- cfg.c ---- */

int ub_vcfg_check(struct ub_venv *env);

/* The instruction d + 1 after i, with the kernel's int wrap-around (no UB on garbage). */
static inline int ub_vtarget(int i, int32_t d)
{
	return (int)((uint32_t)i + (uint32_t)d + 1u);
}

/* ---- insn.c ---- */

int ub_vinsn_prepass(struct ub_venv *env);
int ub_vinsn_fields(struct ub_venv *env, const struct bpf_insn *insn);
int ub_vcfg_max_stack(struct ub_venv *env);
/* Registers live at insn for a frame (caller frames: live after their call). */
uint16_t ub_vcfg_live(const struct ub_venv *env, const struct ub_vstate *st, int frame);

/* ---- prune.c ---- */

int ub_vprune_visit(struct ub_venv *env, int insn_idx);
void ub_vprune_branch_done(struct ub_venv *env, struct ub_vstate *st);
bool ub_vprune_states_exact(struct ub_venv *env, const struct ub_vstate *old,
			    const struct ub_vstate *cur);
void ub_vprune_free_all(struct ub_venv *env);

/* ---- verifier.c ---- */

struct ub_vstate *ub_ver_push(struct ub_venv *env, int insn_idx, int prev_insn_idx);

/* ---- log.c ---- */

void ub_vlog_init(struct ub_vlog *log, struct ub_log *out, uint32_t level);
void ub_vlog(struct ub_venv *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool ub_vlog_on(const struct ub_venv *env)
{
	return env->log.level != 0;
}
/* The instruction-by-instruction trace: levels 1 and 2, not 4 (statistics) alone. */
static inline bool ub_vlog_trace(const struct ub_venv *env)
{
	return (env->log.level & 3) != 0;
}
size_t ub_vlog_pos(const struct ub_venv *env);
void ub_vlog_reset(struct ub_venv *env, size_t pos);
void ub_vlog_finish(struct ub_venv *env);
bool ub_vlog_overflowed(const struct ub_venv *env);
void ub_vlog_insn(struct ub_venv *env, int idx);
void ub_vlog_insn_state(struct ub_venv *env);

/* Marks what an instruction reads or writes, for the state printed after it. */
static inline void ub_vlog_scratch_reg(struct ub_venv *env, uint32_t regno)
{
	env->scratched_regs |= 1u << (regno & 31);
}

static inline void ub_vlog_scratch_slot(struct ub_venv *env, int spi)
{
	if (spi >= 0 && spi < 64)
		env->scratched_stack |= 1ull << spi;
}

static inline void ub_vlog_scratch_all(struct ub_venv *env)
{
	env->scratched_regs = ~0u;
	env->scratched_stack = ~0ull;
}
void ub_vlog_state(struct ub_venv *env, const struct ub_vstate *st, int frame);
void ub_vlog_reg(struct ub_venv *env, const struct ub_vreg *reg);

#endif
