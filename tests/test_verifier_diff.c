/*
 * The verifier's newer parts against the live kernel, program by program: socket
 * lookups and their references, bpf_spin_lock in a map value described by BTF,
 * program BTF (func_info, line_info) and the log's source lines, bpf_strtol/strtoul,
 * and LD_ABS at the negative offsets SKF_NET_OFF / SKF_LL_OFF.
 *
 * Each program goes to both verifiers with the same maps (made in both, with the same
 * BTF); the verdicts must agree, and programs both accept and that the kernel can run
 * (BPF_PROG_TEST_RUN) must return the same value on the same packet. Expected values
 * are the kernel's, measured in the same run; without bpf() the test skips.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/btf.h>
#include <linux/filter.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "kdiff.h"
#include "ut.h"

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })
#define MOV_K(d, k)	I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, k)
#define MOV_X(d, s)	I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD_K(d, k)	I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, k)
#define CALL(f)		I(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT		I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define JEQ_K(d, k, o)	I(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, k)
#define ST_W(d, o, k)	I(BPF_ST | BPF_MEM | BPF_W, d, 0, o, k)
#define ST_DW(d, o, k)	I(BPF_ST | BPF_MEM | BPF_DW, d, 0, o, k)
#define LDX_W(d, s, o)	I(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define LDX_DW(d, s, o)	I(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define LD_MAP(d, fd)	I(BPF_LD | BPF_IMM | BPF_DW, d, BPF_PSEUDO_MAP_FD, 0, fd), I(0, 0, 0, 0, 0)
#define MAP_SLOT	-1	/* LD_MAP placeholder: the map of the test, per side */

/* ---- BTF: test_verifier's struct val { int cnt; struct bpf_spin_lock l; } ---- */

static const char btf_strs[] = "\0bpf_spin_lock\0val\0cnt\0l\0f\0prog.c\0int x = 1;\0return x;";
enum { S_F = 25, S_FILE = 27, S_LINE1 = 34, S_LINE2 = 45 };
static const uint32_t btf_types[] = {
	0, BTF_KIND_INT << 24, 4, 32 | (BTF_INT_SIGNED << 24),	/* [1] int */
	1, (BTF_KIND_STRUCT << 24) | 1, 4, 15, 1, 0,			/* [2] bpf_spin_lock */
	15, (BTF_KIND_STRUCT << 24) | 2, 8, 19, 1, 0, 23, 2, 32,	/* [3] struct val */
	0, BTF_KIND_FUNC_PROTO << 24, 1,				/* [4] int (void) */
	S_F, BTF_KIND_FUNC << 24, 4,					/* [5] static f */
};

static int btf_load(int kernel)
{
	uint8_t raw[512];
	struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(h),
				.type_len = sizeof(btf_types), .str_off = sizeof(btf_types),
				.str_len = sizeof(btf_strs) };
	union bpf_attr a;

	memcpy(raw, &h, sizeof(h));
	memcpy(raw + sizeof(h), btf_types, sizeof(btf_types));
	memcpy(raw + sizeof(h) + sizeof(btf_types), btf_strs, sizeof(btf_strs));
	memset(&a, 0, sizeof(a));
	a.btf = (uintptr_t)raw;
	a.btf_size = (uint32_t)(sizeof(h) + sizeof(btf_types) + sizeof(btf_strs));
	return kd_bpf(kernel, BPF_BTF_LOAD, &a);
}

/* An array of one struct val with its lock (BTF value type 3), or a plain one. */
static int lock_map(int kernel, int btf)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 1;
	if (btf >= 0) {
		a.btf_fd = (uint32_t)btf;
		a.btf_key_type_id = 1;
		a.btf_value_type_id = 3;
	}
	return kd_bpf(kernel, BPF_MAP_CREATE, &a);
}

/* ---- One program, both sides ---- */

struct side {
	int map, btf;
	int fd;
	char log[8192];
};

struct progdesc {
	const char *name;
	enum bpf_prog_type type;
	const struct bpf_insn *insns;
	size_t cnt;
	int funcs;			/* func_info records: 0 none, else starts[] */
	uint32_t starts[3];
	int lines;			/* line_info: two records, at 0 and at line2_at */
	uint32_t line2_at;
	uint32_t log_level;
	uint32_t flags;			/* uebpf only: UEBPF_F_PROG_UNVERIFIED (interpreter, checked) */
};

static int load_side(const struct progdesc *d, struct side *s, int kernel)
{
	struct bpf_insn *p = malloc(d->cnt * sizeof(*p));
	struct bpf_func_info fi[3];
	struct bpf_line_info li[2] = {
		{ .insn_off = 0, .file_name_off = S_FILE, .line_off = S_LINE1, .line_col = 12 << 10 },
		{ .insn_off = d->line2_at, .file_name_off = S_FILE, .line_off = S_LINE2,
		  .line_col = 13 << 10 },
	};
	union bpf_attr a;

	memcpy(p, d->insns, d->cnt * sizeof(*p));
	for (size_t i = 0; i < d->cnt; i++)
		if (p[i].code == (BPF_LD | BPF_IMM | BPF_DW) && p[i].src_reg == BPF_PSEUDO_MAP_FD)
			p[i].imm = s->map;
	for (int i = 0; i < d->funcs; i++)
		fi[i] = (struct bpf_func_info){ .insn_off = d->starts[i], .type_id = 5 };
	memset(&a, 0, sizeof(a));
	a.prog_type = d->type;
	a.insns = (uintptr_t)p;
	a.insn_cnt = (uint32_t)d->cnt;
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)s->log;
	a.log_size = sizeof(s->log);
	a.log_level = d->log_level ? d->log_level : 1;
	a.prog_flags = kernel ? 0 : d->flags;
	if (d->funcs || d->lines) {
		a.prog_btf_fd = (uint32_t)s->btf;
		a.func_info = d->funcs ? (uintptr_t)fi : 0;
		a.func_info_cnt = (uint32_t)d->funcs;
		a.func_info_rec_size = d->funcs ? sizeof(fi[0]) : 0;
		a.line_info = d->lines ? (uintptr_t)li : 0;
		a.line_info_cnt = d->lines ? 2 : 0;
		a.line_info_rec_size = d->lines ? sizeof(li[0]) : 0;
	}
	s->log[0] = 0;
	s->fd = kd_bpf(kernel, BPF_PROG_LOAD, &a);
	free(p);
	return s->fd;
}

static struct side ks, us;
static int have_kernel = -1;

static int setup(void)
{
	if (have_kernel >= 0)
		return have_kernel;
	ks.btf = btf_load(1);
	us.btf = btf_load(0);
	ks.map = lock_map(1, ks.btf);
	us.map = lock_map(0, us.btf);
	have_kernel = ks.btf >= 0 && ks.map >= 0;
	UT_CHECK(us.btf >= 0 && us.map >= 0, "uebpf BTF %d, map %d: %s", us.btf, us.map,
		 uebpf_last_error());
	return have_kernel;
}

/* Same verdict; both accept: same return value where the kernel runs the type. */
static void both(const struct progdesc *d)
{
	if (!setup()) {
		ut_skip("bpf() refused: no kernel to compare with");
		return;
	}
	int kf = load_side(d, &ks, 1), uf = load_side(d, &us, 0);
	UT_CHECK((kf >= 0) == (uf >= 0), "%s: kernel %s ('%s'), uebpf %s ('%s')", d->name,
		 kf >= 0 ? "accepts" : "rejects", kd_last_line(ks.log), uf >= 0 ? "accepts" : "rejects",
		 kd_last_line(us.log));
	if (kf >= 0 && uf >= 0 && d->type != BPF_PROG_TYPE_TRACEPOINT) {
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

#define PROG(nm, t, ...) static const struct bpf_insn nm##_insns[] = { __VA_ARGS__ }; \
	static const struct progdesc nm = { .name = #nm, .type = t, .insns = nm##_insns, \
					    .cnt = sizeof(nm##_insns) / sizeof(nm##_insns[0])

/* ---- Sockets: bpf_sk_lookup_tcp and its reference ---- */

/* r0 = sk_lookup_tcp(ctx, fp-48 (a zeroed tuple), 36, -1, 0) */
#define SK_LOOKUP \
	ST_DW(10, -8, 0), ST_DW(10, -16, 0), ST_DW(10, -24, 0), ST_DW(10, -32, 0), \
	ST_DW(10, -40, 0), ST_DW(10, -48, 0), \
	MOV_X(2, 10), ADD_K(2, -48), MOV_K(3, 36), MOV_K(4, -1), MOV_K(5, 0), \
	CALL(BPF_FUNC_sk_lookup_tcp)

PROG(sk_released, BPF_PROG_TYPE_SCHED_CLS, SK_LOOKUP, JEQ_K(0, 0, 2), MOV_X(1, 0),
     CALL(BPF_FUNC_sk_release), MOV_K(0, 7), EXIT) };
PROG(sk_leaked, BPF_PROG_TYPE_SCHED_CLS, SK_LOOKUP, MOV_K(0, 0), EXIT) };
PROG(sk_unchecked_read, BPF_PROG_TYPE_SCHED_CLS, SK_LOOKUP, LDX_W(1, 0, 4), MOV_K(0, 0), EXIT) };
PROG(sk_use_after_release, BPF_PROG_TYPE_SCHED_CLS, SK_LOOKUP, JEQ_K(0, 0, 4), MOV_X(6, 0),
     MOV_X(1, 0), CALL(BPF_FUNC_sk_release), LDX_W(0, 6, 4), MOV_K(0, 0), EXIT) };
PROG(sk_fullsock_cast, BPF_PROG_TYPE_SCHED_CLS, SK_LOOKUP, JEQ_K(0, 0, 7), MOV_X(6, 0),
     MOV_X(1, 0), CALL(BPF_FUNC_sk_fullsock), JEQ_K(0, 0, 1), LDX_W(7, 0, 4),
     MOV_X(1, 6), CALL(BPF_FUNC_sk_release), MOV_K(0, 3), EXIT) };

UT_TEST(socket_references_as_the_kernel)
{
	both(&sk_released);
	both(&sk_leaked);
	both(&sk_unchecked_read);
	both(&sk_use_after_release);
	both(&sk_fullsock_cast);
}

/* ---- bpf_spin_lock ---- */

/* r6 = lookup(map, key 0) or exit (an array with a constant key: never NULL) */
#define LOOKUP6 ST_W(10, -4, 0), MOV_X(2, 10), ADD_K(2, -4), LD_MAP(1, MAP_SLOT), \
	CALL(BPF_FUNC_map_lookup_elem), MOV_X(6, 0), I(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 1, 0), EXIT
#define LOCK(f) MOV_X(1, 6), ADD_K(1, 4), CALL(f)

PROG(lock_ok, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 0), LOOKUP6, LOCK(BPF_FUNC_spin_lock),
     LDX_W(7, 6, 0), LOCK(BPF_FUNC_spin_unlock), MOV_X(0, 7), EXIT) };
PROG(lock_missing_unlock, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 0), LOOKUP6,
     LOCK(BPF_FUNC_spin_lock), MOV_K(0, 0), EXIT) };
PROG(lock_unlock_without_lock, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 0), LOOKUP6,
     LOCK(BPF_FUNC_spin_unlock), MOV_K(0, 0), EXIT) };
PROG(lock_twice, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 0), LOOKUP6, LOCK(BPF_FUNC_spin_lock),
     LOCK(BPF_FUNC_spin_lock), MOV_K(0, 0), EXIT) };
PROG(lock_read_lock_word, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 0), LOOKUP6, LDX_W(0, 6, 4),
     EXIT) };
PROG(lock_wrong_offset, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 0), LOOKUP6, MOV_X(1, 6),
     CALL(BPF_FUNC_spin_lock), LOCK(BPF_FUNC_spin_unlock), MOV_K(0, 0), EXIT) };
PROG(lock_call_inside, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 0), LOOKUP6, LOCK(BPF_FUNC_spin_lock),
     CALL(BPF_FUNC_get_prandom_u32), LOCK(BPF_FUNC_spin_unlock), MOV_K(0, 0), EXIT) };
PROG(lock_value_to_helper, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 0), LOOKUP6, ST_W(10, -8, 0),
     MOV_X(2, 10), ADD_K(2, -8), MOV_X(3, 6), MOV_K(4, 0), LD_MAP(1, MAP_SLOT),
     CALL(BPF_FUNC_map_update_elem), MOV_K(0, 0), EXIT) };
/* two lookups of the same element: two locks as far as the verifier knows */
PROG(lock_unlock_other, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 0), LOOKUP6, MOV_X(7, 6), LOOKUP6,
     LOCK(BPF_FUNC_spin_lock), MOV_X(1, 7), ADD_K(1, 4), CALL(BPF_FUNC_spin_unlock),
     MOV_K(0, 0), EXIT) };
PROG(lock_in_tracing, BPF_PROG_TYPE_TRACEPOINT, MOV_K(0, 0), LOOKUP6, MOV_K(0, 0), EXIT) };
PROG(lock_in_socket_filter, BPF_PROG_TYPE_SOCKET_FILTER, MOV_K(0, 0), LOOKUP6, MOV_K(0, 0),
     EXIT) };

UT_TEST(spin_locks_as_the_kernel)
{
	both(&lock_ok);
	both(&lock_missing_unlock);
	both(&lock_unlock_without_lock);
	both(&lock_twice);
	both(&lock_read_lock_word);
	both(&lock_wrong_offset);
	both(&lock_call_inside);
	both(&lock_value_to_helper);
	both(&lock_unlock_other);
	both(&lock_in_tracing);
	both(&lock_in_socket_filter);
}

/* ---- Program BTF: func_info and line_info ---- */

/* main calls f (at 3); f returns 5. */
PROG(two_funcs, BPF_PROG_TYPE_SCHED_CLS, I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2),
     ADD_K(0, 1), EXIT, MOV_K(0, 5), EXIT), .funcs = 2, .starts = { 0, 3 } };
PROG(func_info_count, BPF_PROG_TYPE_SCHED_CLS, I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2),
     ADD_K(0, 1), EXIT, MOV_K(0, 5), EXIT), .funcs = 1, .starts = { 0 } };
PROG(func_info_layout, BPF_PROG_TYPE_SCHED_CLS, I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2),
     ADD_K(0, 1), EXIT, MOV_K(0, 5), EXIT), .funcs = 2, .starts = { 0, 2 } };
PROG(func_info_first, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 1), EXIT), .funcs = 1,
     .starts = { 1 } };
PROG(lines_ok, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 1), MOV_K(1, 2), EXIT), .lines = 1,
     .line2_at = 2, .log_level = 2 };
PROG(lines_past_end, BPF_PROG_TYPE_SCHED_CLS, MOV_K(0, 1), MOV_K(1, 2), EXIT), .lines = 1,
     .line2_at = 3 };
PROG(lines_missing_func, BPF_PROG_TYPE_SCHED_CLS,
     I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2), ADD_K(0, 1), EXIT, MOV_K(0, 5), EXIT),
     .funcs = 2, .starts = { 0, 3 }, .lines = 1, .line2_at = 1 };

UT_TEST(program_btf_as_the_kernel)
{
	both(&two_funcs);
	both(&func_info_count);
	both(&func_info_layout);
	both(&func_info_first);
	both(&lines_ok);
	both(&lines_past_end);
	both(&lines_missing_func);
}

/* The log shows the source line before the instructions it covers, as the kernel's. */
UT_TEST(log_prints_source_lines)
{
	setup();
	UT_CHECK(load_side(&lines_ok, &us, 0) >= 0, "load: %s", us.log);
	close(us.fd);
	UT_CHECK_STR(us.log, "; int x = 1; @ prog.c:12\n0: (b7) r0 = 1");
	UT_CHECK_STR(us.log, "; return x; @ prog.c:13\n2: (95) exit");
	if (have_kernel) {
		load_side(&lines_ok, &ks, 1);
		close(ks.fd);
		UT_CHECK_STR(ks.log, "; int x = 1; @ prog.c:12\n0: (b7) r0 = 1");
	}
}

/* Level 4 adds the time and the stack depth per function before the counts. */
UT_TEST(log_statistics)
{
	struct progdesc d = two_funcs;
	setup();
	d.log_level = 4;
	UT_CHECK(load_side(&d, &us, 0) >= 0, "load: %s", us.log);
	close(us.fd);
	UT_CHECK_STR(us.log, "verification time ");
	UT_CHECK_STR(us.log, " usec\nstack depth 0+0\nprocessed ");
}

/* ---- bpf_strtol / bpf_strtoul ---- */

/* The string at fp-16 (8 bytes of text, 8 of NUL), parsed with flags; returns
 * (ret & 0xff) << 24 | (res & 0xffffff). */
#define STRTO(f, w0, flags) \
	I(BPF_LD | BPF_IMM | BPF_DW, 1, 0, 0, (int32_t)(w0)), I(0, 0, 0, 0, (int32_t)((w0) >> 32)), \
	I(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -16, 0), ST_DW(10, -8, 0), ST_DW(10, -24, 0x7777), \
	MOV_X(1, 10), ADD_K(1, -16), MOV_K(2, 16), MOV_K(3, flags), MOV_X(4, 10), ADD_K(4, -24), \
	CALL(f), I(BPF_ALU64 | BPF_LSH | BPF_K, 0, 0, 0, 24), LDX_DW(1, 10, -24), \
	I(BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, 0xffffff), I(BPF_ALU64 | BPF_OR | BPF_X, 0, 1, 0, 0), EXIT

#define STR8(a, b, c, d, e, f, g, h) \
	((uint64_t)(a) | (uint64_t)(b) << 8 | (uint64_t)(c) << 16 | (uint64_t)(d) << 24 | \
	 (uint64_t)(e) << 32 | (uint64_t)(f) << 40 | (uint64_t)(g) << 48 | (uint64_t)(h) << 56)

PROG(strtol_dec, BPF_PROG_TYPE_SOCKET_FILTER, STRTO(BPF_FUNC_strtol, STR8(' ', '-', '1', '2', 'x', 0, 0, 0), 0)) };
PROG(strtol_hex0, BPF_PROG_TYPE_SOCKET_FILTER, STRTO(BPF_FUNC_strtol, STR8('0', 'x', '1', 'f', 0, 0, 0, 0), 0)) };
PROG(strtol_oct0, BPF_PROG_TYPE_SOCKET_FILTER, STRTO(BPF_FUNC_strtol, STR8('0', '7', '7', '9', 0, 0, 0, 0), 0)) };
PROG(strtol_hex16, BPF_PROG_TYPE_SOCKET_FILTER, STRTO(BPF_FUNC_strtol, STR8('0', 'X', 'a', 'B', 0, 0, 0, 0), 16)) };
PROG(strtol_badbase, BPF_PROG_TYPE_SOCKET_FILTER, STRTO(BPF_FUNC_strtol, STR8('1', 0, 0, 0, 0, 0, 0, 0), 7)) };
PROG(strtol_nodigit, BPF_PROG_TYPE_SOCKET_FILTER, STRTO(BPF_FUNC_strtol, STR8('\t', '-', 'z', 0, 0, 0, 0, 0), 10)) };
PROG(strtoul_neg, BPF_PROG_TYPE_SOCKET_FILTER, STRTO(BPF_FUNC_strtoul, STR8('-', '5', 0, 0, 0, 0, 0, 0), 0)) };
PROG(strtoul_dec, BPF_PROG_TYPE_SOCKET_FILTER, STRTO(BPF_FUNC_strtoul, STR8('4', '2', '9', '4', '9', '6', 0, 0), 10)) };

UT_TEST(strtol_as_the_kernel)
{
	both(&strtol_dec);
	both(&strtol_hex0);
	both(&strtol_oct0);
	both(&strtol_hex16);
	both(&strtol_badbase);
	both(&strtol_nodigit);
	both(&strtoul_neg);
	both(&strtoul_dec);
}

/* ---- LD_ABS / LD_IND below 0: the sk_buff's network and link-layer headers ---- */

#define LDABS(sz, k) I(BPF_LD | BPF_ABS | (sz), 0, 0, 0, k)
PROG(ldabs_net, BPF_PROG_TYPE_SOCKET_FILTER, MOV_X(6, 1), LDABS(BPF_W, SKF_NET_OFF + 2), EXIT) };
PROG(ldabs_ll, BPF_PROG_TYPE_SOCKET_FILTER, MOV_X(6, 1), LDABS(BPF_H, SKF_LL_OFF + 12), EXIT) };
PROG(ldabs_ll_past, BPF_PROG_TYPE_SOCKET_FILTER, MOV_X(6, 1), MOV_K(0, 9),
     LDABS(BPF_W, SKF_LL_OFF + 62), EXIT) };
PROG(ldabs_below_ll, BPF_PROG_TYPE_SOCKET_FILTER, MOV_X(6, 1), LDABS(BPF_B, SKF_LL_OFF - 1),
     EXIT) };
PROG(ldind_ll, BPF_PROG_TYPE_SCHED_CLS, MOV_X(6, 1), MOV_K(7, 3),
     I(BPF_LD | BPF_IND | BPF_W, 0, 7, 0, SKF_LL_OFF), EXIT) };

UT_TEST(ld_abs_negative_offsets_as_the_kernel)
{
	const struct progdesc *all[] = { &ldabs_net, &ldabs_ll, &ldabs_ll_past, &ldabs_below_ll,
					 &ldind_ll };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct progdesc d = *all[i];
		both(&d);		/* verified: the JIT */
		d.flags = UEBPF_F_PROG_UNVERIFIED;
		both(&d);		/* unverified: the checked interpreter */
	}
}


/* ---- Loops around bpf_loop ---- */

#define LD_FUNC(d, off) I(BPF_LD | BPF_IMM | BPF_DW, d, BPF_PSEUDO_FUNC, 0, off), I(0, 0, 0, 0, 0)

/* for (r6 = 3; r6 > 0; r6--) bpf_loop(1, cb, NULL, 0); cb returns 0. */
PROG(loop_around_bpf_loop, BPF_PROG_TYPE_XDP, MOV_K(6, 3), MOV_K(1, 1), LD_FUNC(2, 8),
     MOV_K(3, 0), MOV_K(4, 0), CALL(BPF_FUNC_loop), ADD_K(6, -1),
     I(BPF_JMP | BPF_JGT | BPF_K, 6, 0, -8, 0), MOV_K(0, 2), EXIT, MOV_K(0, 0), EXIT),
     .funcs = 2, .starts = { 0, 12 } };

UT_TEST(bounded_loop_around_bpf_loop_as_the_kernel)
{
	both(&loop_around_bpf_loop);
}

/*
 * The same loop with no progress: "if r10 >= 47" never fails (r10 is a stack address).
 * uebpf refuses it as an infinite loop. The kernel 6.18 accepts it (its convergence
 * rule for callbacks also prunes the outer loop at the bpf_loop call) and would spin
 * forever when run: this one is not loaded into the kernel. Found by the soundness fuzz.
 */
PROG(endless_loop_around_bpf_loop, BPF_PROG_TYPE_XDP, MOV_K(1, 0), LD_FUNC(2, 7), MOV_K(3, 0),
     MOV_K(4, 0), CALL(BPF_FUNC_loop), I(BPF_JMP | BPF_JGE | BPF_K, 10, 0, -7, 47), MOV_K(0, 2),
     EXIT, MOV_K(0, 0), EXIT) };

UT_TEST(endless_loop_around_bpf_loop_is_refused)
{
	setup();
	int fd = load_side(&endless_loop_around_bpf_loop, &us, 0);
	UT_CHECK(fd < 0, "uebpf accepted a loop that never ends");
	if (fd >= 0)
		close(fd);
	UT_CHECK_STR(us.log, "infinite loop detected at insn 5");
}
