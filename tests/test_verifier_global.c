/*
 * Global functions (BTF func_info linkage BTF_FUNC_GLOBAL) against the live kernel: the
 * kernel verifies each one once, on its own, with arguments typed from its BTF
 * prototype (int: unknown scalar; pointer to the program type's context struct: the
 * context; other pointers: memory of the pointee's size, possibly NULL), and checks at a
 * call only that the caller's registers fit those types; the call returns an unknown
 * scalar. Each program goes to both verifiers; the verdicts must agree, and programs both
 * accept must return the same value on the same packet (XDP, BPF_PROG_TEST_RUN).
 * Expected verdicts are the kernel's, measured in the same run; the reason each program
 * exists is written next to it. Without bpf() the test skips.
 *
 * Also: a load from a frozen read-only array (.rodata) is a constant for both verifiers,
 * so a branch on it is decided at load time (the kernel's bpf_map_direct_read).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "kdiff.h"
#include "ut.h"

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })
#define MOV_K(d, k)	I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, k)
#define MOV_X(d, s)	I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD_K(d, k)	I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, k)
#define ADD_X(d, s)	I(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define CALL_PC(o)	I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, o)
#define EXIT		I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define CALL(f)		I(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define JGT_X(d, s, o)	I(BPF_JMP | BPF_JGT | BPF_X, d, s, o, 0)
#define JEQ_K(d, k, o)	I(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, k)
#define ST_W(d, o, k)	I(BPF_ST | BPF_MEM | BPF_W, d, 0, o, k)
#define ST_DW(d, o, k)	I(BPF_ST | BPF_MEM | BPF_DW, d, 0, o, k)
#define LDX_W(d, s, o)	I(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define LDX_B(d, s, o)	I(BPF_LDX | BPF_MEM | BPF_B, d, s, o, 0)
#define LDX_DW(d, s, o)	I(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define LD_MAP_VALUE(d)	I(BPF_LD | BPF_IMM | BPF_DW, d, BPF_PSEUDO_MAP_VALUE, 0, 0), I(0, 0, 0, 0, 0)

/* ---- BTF, built at run time so the string offsets cannot go stale ---- */

struct btfb {
	uint32_t types[128];
	uint32_t nt;
	char strs[256];
	uint32_t ns;
};

static uint32_t str(struct btfb *b, const char *s)
{
	uint32_t off = b->ns;
	memcpy(b->strs + b->ns, s, strlen(s) + 1);
	b->ns += (uint32_t)strlen(s) + 1;
	return off;
}

static void put(struct btfb *b, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		b->types[b->nt++] = va_arg(ap, uint32_t);
	va_end(ap);
}

/* Type ids below, in the order they are added. */
enum {
	T_INT = 1, T_XDP_MD, T_PAIR, T_PCTX, T_PPAIR, T_PROTO_CTX, T_MAIN, T_PROTO_MEM, T_G_MEM,
	T_G_CTX, T_PROTO_RETPTR, T_G_RETPTR, T_S_MEM, T_G_MEM2,
};

static void build_btf(struct btfb *b)
{
	memset(b, 0, sizeof(*b));
	b->ns = 1;	/* offset 0: the empty string */
	uint32_t s_int = str(b, "int"), s_xdp = str(b, "xdp_md"), s_pair = str(b, "pair");
	uint32_t s_a = str(b, "a"), s_b = str(b, "b"), s_ctx = str(b, "ctx"), s_p = str(b, "p");
	uint32_t s_x = str(b, "x");
	put(b, 4, 0u, (uint32_t)BTF_KIND_INT << 24, 4u, 32u | (BTF_INT_SIGNED << 24));	/* int */
	put(b, 3, s_xdp, (uint32_t)BTF_KIND_STRUCT << 24, 24u);	/* struct xdp_md (name is what counts) */
	put(b, 9, s_pair, ((uint32_t)BTF_KIND_STRUCT << 24) | 2, 8u, s_a, (uint32_t)T_INT, 0u,
	    s_b, (uint32_t)T_INT, 32u);				/* struct pair { int a, b; } */
	put(b, 3, 0u, (uint32_t)BTF_KIND_PTR << 24, (uint32_t)T_XDP_MD);
	put(b, 3, 0u, (uint32_t)BTF_KIND_PTR << 24, (uint32_t)T_PAIR);
	put(b, 5, 0u, ((uint32_t)BTF_KIND_FUNC_PROTO << 24) | 1, (uint32_t)T_INT, s_ctx,
	    (uint32_t)T_PCTX);					/* int (struct xdp_md *ctx) */
	put(b, 3, str(b, "prog"), ((uint32_t)BTF_KIND_FUNC << 24) | BTF_FUNC_GLOBAL,
	    (uint32_t)T_PROTO_CTX);
	put(b, 7, 0u, ((uint32_t)BTF_KIND_FUNC_PROTO << 24) | 2, (uint32_t)T_INT, s_p,
	    (uint32_t)T_PPAIR, s_x, (uint32_t)T_INT);		/* int (struct pair *p, int x) */
	put(b, 3, str(b, "g_mem"), ((uint32_t)BTF_KIND_FUNC << 24) | BTF_FUNC_GLOBAL,
	    (uint32_t)T_PROTO_MEM);
	put(b, 3, str(b, "g_ctx"), ((uint32_t)BTF_KIND_FUNC << 24) | BTF_FUNC_GLOBAL,
	    (uint32_t)T_PROTO_CTX);
	put(b, 3, 0u, (uint32_t)BTF_KIND_FUNC_PROTO << 24, (uint32_t)T_PPAIR);	/* pair *(void) */
	put(b, 3, str(b, "g_retptr"), ((uint32_t)BTF_KIND_FUNC << 24) | BTF_FUNC_GLOBAL,
	    (uint32_t)T_PROTO_RETPTR);
	put(b, 3, str(b, "s_mem"), ((uint32_t)BTF_KIND_FUNC << 24) | BTF_FUNC_STATIC,
	    (uint32_t)T_PROTO_MEM);
	put(b, 3, str(b, "g_mem2"), ((uint32_t)BTF_KIND_FUNC << 24) | BTF_FUNC_GLOBAL,
	    (uint32_t)T_PROTO_MEM);
	(void)s_int;
}

static int btf_load(int kernel)
{
	static struct btfb b;
	static uint8_t raw[sizeof(struct btf_header) + sizeof(b.types) + sizeof(b.strs)];
	build_btf(&b);
	struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(h),
				.type_len = b.nt * 4, .str_off = b.nt * 4, .str_len = b.ns };
	union bpf_attr a;

	memcpy(raw, &h, sizeof(h));
	memcpy(raw + sizeof(h), b.types, b.nt * 4);
	memcpy(raw + sizeof(h) + b.nt * 4, b.strs, b.ns);
	memset(&a, 0, sizeof(a));
	a.btf = (uintptr_t)raw;
	a.btf_size = (uint32_t)(sizeof(h) + b.nt * 4 + b.ns);
	return kd_bpf(kernel, BPF_BTF_LOAD, &a);
}

/* A .rodata-like map: one 8-byte element, read-only for programs, value set, frozen. */
static int rodata_map(int kernel, uint8_t first, bool freeze)
{
	union bpf_attr a;
	uint32_t key = 0;
	uint8_t val[8] = { first };

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 1;
	a.map_flags = BPF_F_RDONLY_PROG;
	int fd = kd_bpf(kernel, BPF_MAP_CREATE, &a);
	if (fd < 0)
		return fd;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)val;
	int e1 = kd_bpf(kernel, BPF_MAP_UPDATE_ELEM, &a);
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	int e2 = freeze ? kd_bpf(kernel, BPF_MAP_FREEZE, &a) : 0;
	return e1 || e2 ? -1 : fd;
}

/* ---- One program, both sides ---- */

struct side {
	int btf, map, map_unfrozen;
	char log[16384];
};

struct progdesc {
	const char *name;
	const struct bpf_insn *insns;
	size_t cnt;
	int funcs;			/* func_info records */
	uint32_t starts[3], types[3];	/* first instruction and BTF FUNC of each */
	bool unfrozen;			/* the map value is the one of a map not frozen */
};

static int load_side(const struct progdesc *d, struct side *s, int kernel)
{
	struct bpf_insn *p = malloc(d->cnt * sizeof(*p));
	struct bpf_func_info fi[3];
	union bpf_attr a;

	memcpy(p, d->insns, d->cnt * sizeof(*p));
	for (size_t i = 0; i < d->cnt; i++)
		if (p[i].code == (BPF_LD | BPF_IMM | BPF_DW) && p[i].src_reg == BPF_PSEUDO_MAP_VALUE)
			p[i].imm = d->unfrozen ? s->map_unfrozen : s->map;
	for (int i = 0; i < d->funcs; i++)
		fi[i] = (struct bpf_func_info){ .insn_off = d->starts[i], .type_id = d->types[i] };
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)p;
	a.insn_cnt = (uint32_t)d->cnt;
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)s->log;
	a.log_size = sizeof(s->log);
	a.log_level = 1;
	if (d->funcs) {
		a.prog_btf_fd = (uint32_t)s->btf;
		a.func_info = (uintptr_t)fi;
		a.func_info_cnt = (uint32_t)d->funcs;
		a.func_info_rec_size = sizeof(fi[0]);
	}
	s->log[0] = 0;
	int fd = kd_bpf(kernel, BPF_PROG_LOAD, &a);
	free(p);
	return fd;
}

static struct side ks, us;
static int have_kernel = -1;

static int setup(void)
{
	if (have_kernel >= 0)
		return have_kernel;
	ks.btf = btf_load(1);
	us.btf = btf_load(0);
	ks.map = rodata_map(1, 0, true);
	us.map = rodata_map(0, 0, true);
	ks.map_unfrozen = rodata_map(1, 0, false);
	us.map_unfrozen = rodata_map(0, 0, false);
	have_kernel = ks.btf >= 0 && ks.map >= 0 && ks.map_unfrozen >= 0;
	UT_CHECK(us.btf >= 0 && us.map >= 0 && us.map_unfrozen >= 0, "uebpf BTF %d, maps %d %d: %s",
		 us.btf, us.map, us.map_unfrozen, uebpf_last_error());
	return have_kernel;
}

/* Same verdict, and for a rejection the kernel's reason as uebpf's last log line;
 * both accept: same return value. */
static void both(const struct progdesc *d)
{
	if (!setup()) {
		ut_skip("bpf() refused: no kernel to compare with");
		return;
	}
	int kf = load_side(d, &ks, 1), uf = load_side(d, &us, 0);
	char kl[200];
	snprintf(kl, sizeof(kl), "%s", kd_last_line(ks.log));
	UT_CHECK((kf >= 0) == (uf >= 0), "%s: kernel %s ('%s'), uebpf %s ('%s')", d->name,
		 kf >= 0 ? "accepts" : "rejects", kl, uf >= 0 ? "accepts" : "rejects", kd_last_line(us.log));
	if (getenv("VG_VERBOSE"))
		printf("  %-22s kernel %s '%s'\n  %-22s uebpf  %s '%s'\n", d->name,
		       kf >= 0 ? "accepts" : "rejects", kl, "", uf >= 0 ? "accepts" : "rejects",
		       kd_last_line(us.log));
	if (kf < 0 && uf < 0)
		UT_CHECK(!strcmp(kl, kd_last_line(us.log)), "%s: kernel '%s', uebpf '%s'", d->name, kl,
			 kd_last_line(us.log));
	if (kf >= 0 && uf >= 0) {
		uint32_t kr = 0, ur = 0;
		int ke = kd_test_run(kf, 1, &kr), ue = kd_test_run(uf, 0, &ur);
		UT_CHECK(ke == 0 && ue == 0 && kr == ur, "%s: kernel run %d retval %u, uebpf %d retval %u",
			 d->name, ke, kr, ue, ur);
	}
	if (kf >= 0)
		close(kf);
	if (uf >= 0)
		close(uf);
}

#define PROG(nm, ...) static const struct bpf_insn nm##_insns[] = { __VA_ARGS__ }; \
	static const struct progdesc nm = { .name = #nm, .insns = nm##_insns, \
					    .cnt = sizeof(nm##_insns) / sizeof(nm##_insns[0])

/* main: pair {3, 4} on the stack, r0 = callee(&pair, 5); 7 instructions, the callee at 7 */
#define CALL_WITH_PAIR \
	ST_W(10, -8, 3), ST_W(10, -4, 4), MOV_X(1, 10), ADD_K(1, -8), MOV_K(2, 5), CALL_PC(1), EXIT
/* g_mem(p, x): p ? p->a + x : 0 (checks NULL, as its BTF says p may be) */
#define MEM_BODY_CHECKED JEQ_K(1, 0, 3), LDX_W(0, 1, 0), ADD_X(0, 2), EXIT, MOV_K(0, 0), EXIT
#define TWO_FUNCS(type1) .funcs = 2, .starts = { 0, 7 }, .types = { T_MAIN, type1 }

/* Accepted by both: the callee checks its possibly-NULL argument; returns 3 + 5. */
PROG(mem_checked, CALL_WITH_PAIR, MEM_BODY_CHECKED), TWO_FUNCS(T_G_MEM) };
/* The same body without the NULL check: a global function cannot know the caller
 * passes the stack, so the kernel refuses the load from 'mem_or_null'. */
PROG(mem_unchecked, CALL_WITH_PAIR, LDX_W(0, 1, 0), ADD_X(0, 2), EXIT), TWO_FUNCS(T_G_MEM) };
/* ... while a static function is checked in the caller's context: accepted. */
PROG(mem_unchecked_static, CALL_WITH_PAIR, LDX_W(0, 1, 0), ADD_X(0, 2), EXIT), TWO_FUNCS(T_S_MEM) };
/* NULL for the pointer is a valid argument; the callee returns 0. */
PROG(mem_null_arg, MOV_K(1, 0), MOV_K(2, 5), CALL_PC(1), EXIT, MEM_BODY_CHECKED),
	.funcs = 2, .starts = { 0, 4 }, .types = { T_MAIN, T_G_MEM } };
/* 4 bytes of stack for an 8-byte struct pair: the call's arguments do not match. */
PROG(mem_arg_too_small, ST_W(10, -4, 3), MOV_X(1, 10), ADD_K(1, -4), MOV_K(2, 5), CALL_PC(1),
     EXIT, MEM_BODY_CHECKED), .funcs = 2, .starts = { 0, 6 }, .types = { T_MAIN, T_G_MEM } };
/* A pointer where the prototype says int. */
PROG(scalar_arg_is_ptr, ST_W(10, -8, 3), ST_W(10, -4, 4), MOV_X(1, 10), ADD_K(1, -8),
     MOV_X(2, 10), CALL_PC(1), EXIT, MEM_BODY_CHECKED), TWO_FUNCS(T_G_MEM) };
/* The context goes where the prototype says struct xdp_md *; the callee reads data. */
PROG(ctx_arg, CALL_PC(1), EXIT, LDX_W(0, 1, 0), MOV_K(0, 2), EXIT),
	.funcs = 2, .starts = { 0, 2 }, .types = { T_MAIN, T_G_CTX } };
/* A stack pointer where the context is expected. */
PROG(ctx_arg_is_stack, MOV_X(1, 10), CALL_PC(1), EXIT, LDX_W(0, 1, 0), MOV_K(0, 2), EXIT),
	.funcs = 2, .starts = { 0, 3 }, .types = { T_MAIN, T_G_CTX } };
/* A global function's prototype must return a scalar. */
PROG(returns_ptr_type, CALL_PC(1), EXIT, MOV_K(0, 0), EXIT),
	.funcs = 2, .starts = { 0, 2 }, .types = { T_MAIN, T_G_RETPTR } };
/* ... and so must its code: here it returns its pointer argument. */
PROG(returns_ptr_value, CALL_WITH_PAIR, MOV_X(0, 1), EXIT), TWO_FUNCS(T_G_MEM) };
/* The caller learns nothing from the call: r0 is unknown, so using it as an offset into
 * the stack is refused, although the callee always returns 0 ... */
#define USE_R0_AS_OFFSET \
	ST_DW(10, -8, 0), MOV_X(1, 10), ADD_K(1, -8), ADD_X(1, 0), LDX_B(0, 1, 0), EXIT
PROG(result_unknown, MOV_K(1, 0), MOV_K(2, 0), CALL_PC(6), USE_R0_AS_OFFSET, MOV_K(0, 0), EXIT),
	.funcs = 2, .starts = { 0, 9 }, .types = { T_MAIN, T_G_MEM } };
/* ... and accepted with the same callee static (r0 is known to be 0). */
PROG(result_known_static, MOV_K(1, 0), MOV_K(2, 0), CALL_PC(6), USE_R0_AS_OFFSET, MOV_K(0, 0), EXIT),
	.funcs = 2, .starts = { 0, 9 }, .types = { T_MAIN, T_S_MEM } };
/* A global function no path calls (r0 is 1, the branch skips the call) is not
 * verified: its unchecked load does not matter. */
PROG(uncalled_global, MOV_K(0, 1), JEQ_K(0, 1, 1), CALL_PC(1), EXIT, LDX_W(0, 1, 0), EXIT),
	.funcs = 2, .starts = { 0, 4 }, .types = { T_MAIN, T_G_MEM } };
/* A global function calls another global one, which is then verified too (its unchecked
 * load is refused). */
PROG(nested_global, CALL_WITH_PAIR, CALL_PC(1), EXIT, LDX_W(0, 1, 0), EXIT),
	.funcs = 3, .starts = { 0, 7, 9 }, .types = { T_MAIN, T_G_MEM, T_G_MEM2 } };

/* A packet pointer checked against data_end, kept in r7 across a call of g_ctx(ctx),
 * then read: still valid when the callee cannot move the packet ... */
#define PKT_ACROSS_CALL \
	MOV_X(6, 1), LDX_W(2, 6, 0), LDX_W(3, 6, 4), MOV_X(7, 2), ADD_K(2, 8), JGT_X(2, 3, 4), \
	MOV_X(1, 6), CALL_PC(4), LDX_B(0, 7, 0), EXIT, MOV_K(0, 0), EXIT
PROG(pkt_kept, PKT_ACROSS_CALL, MOV_K(0, 0), EXIT),
	.funcs = 2, .starts = { 0, 12 }, .types = { T_MAIN, T_G_CTX } };
/* ... and invalid when it calls bpf_xdp_adjust_head. */
PROG(pkt_moved, PKT_ACROSS_CALL, MOV_K(2, 0), CALL(BPF_FUNC_xdp_adjust_head), MOV_K(0, 0), EXIT),
	.funcs = 2, .starts = { 0, 12 }, .types = { T_MAIN, T_G_CTX } };

UT_TEST(global_functions_as_the_kernel)
{
	both(&pkt_kept);
	both(&pkt_moved);
	both(&mem_checked);
	both(&mem_unchecked);
	both(&mem_unchecked_static);
	both(&mem_null_arg);
	both(&mem_arg_too_small);
	both(&scalar_arg_is_ptr);
	both(&ctx_arg);
	both(&ctx_arg_is_stack);
	both(&returns_ptr_type);
	both(&returns_ptr_value);
	both(&result_unknown);
	both(&result_known_static);
	both(&uncalled_global);
	both(&nested_global);
}

/* A frozen read-only array's byte is 0: the branch to the out-of-bounds stack read is
 * dead, for the kernel (bpf_map_direct_read) and for uebpf. */
#define RODATA_BRANCH LD_MAP_VALUE(1), LDX_B(2, 1, 0), MOV_K(0, 1), JEQ_K(2, 0, 1), \
	LDX_DW(0, 10, 8), EXIT
PROG(rodata_dead_branch, RODATA_BRANCH) };
/* The same map not frozen: user space may still change the byte, the branch is live. */
PROG(unfrozen_live_branch, RODATA_BRANCH), .unfrozen = true };

UT_TEST(rodata_loads_are_constants_as_the_kernel)
{
	both(&rodata_dead_branch);
	both(&unfrozen_live_branch);
}

/*
 * uebpf only: a frozen map whose file another user may write is not a constant. The
 * kernel's guarantee rests on frozen maps having no writable mapping; uebpf's files can be
 * mapped by any process the file mode lets in, so freezing also takes the write bits off
 * the file, and a file given them back (here 0666) is read as unknown again: the branch
 * to the out-of-bounds stack read is live and the program refused.
 */
UT_TEST(rodata_writable_by_others_is_not_constant)
{
	struct side s = { .btf = -1 };
	struct stat st;

	s.map = rodata_map(0, 0, true);
	UT_CHECK(s.map >= 0, "map: %d", s.map);
	if (s.map < 0)
		return;
	UT_CHECK(fstat(s.map, &st) == 0 && !(st.st_mode & 0222), "freeze left mode %o",
		 (unsigned)st.st_mode & 0777);
	int fd = load_side(&rodata_dead_branch, &s, 0);
	UT_CHECK(fd >= 0, "sealed map: refused: %s", s.log);
	if (fd >= 0)
		close(fd);
	UT_CHECK_EQ(fchmod(s.map, 0666), 0);
	fd = load_side(&rodata_dead_branch, &s, 0);
	UT_CHECK(fd < 0, "a frozen map writable by others was read as a constant");
	if (fd >= 0)
		close(fd);
	close(s.map);
}
