/*
 * Agreement with the live kernel's verifier on the Linux verifier selftests.
 *
 * Reads $UEBPF_SHARED/verifier-tests/tests.jsonl (default ../shared relative to the repo
 * root; the test skips if it is absent), one selftest per line with the verdict this
 * machine's kernel gave. For each test of a program type uebpf has, the runner creates
 * the fixup maps with bpf_map_create, patches their fds into the instructions, loads the
 * program with bpf_prog_load (type, flags, expected attach type, a level-1 log) and
 * compares uebpf's verdict with the kernel's. Accepted programs whose type has a test run
 * are run once on the test's 64-byte input and their return value compared with the
 * kernel's.
 *
 * Tests that need what uebpf does not have are counted as "unsupported", never as
 * agreement: map types it cannot create, maps whose BTF names kernel objects (kptrs,
 * timers), and helpers it does not implement. Maps with a bpf_spin_lock get the BTF
 * test_verifier gives them, and program BTF with func_info is loaded with BPF_BTF_LOAD.
 * Programs that call kfuncs are loaded as they are: uebpf has no kfuncs and refuses
 * every kfunc call (the kernel's verdicts for them are compared all the same; its test
 * kfuncs are not in this kernel either).
 *
 * The test fails when agreement drops below AGREE_FLOOR (percent of supported tests) or
 * AGREE_ALL_FLOOR (percent of all tests of these types), and
 * always when uebpf accepts a program the kernel rejected for a memory-safety reason
 * (out-of-bounds access, uninitialized read, pointer leak, null dereference, unreleased
 * reference), classified from the kernel's log.
 *
 * Rejections are also compared by reason: the kernel's last log line before the statistics
 * against uebpf's (informational; VST_REASONS=1 lists the differences).
 *
 * Environment: VST_VERBOSE=1 lists every disagreement with both logs' last lines;
 * VST_ONLY=<index> runs one test (and prints uebpf's whole log); VST_TIME=1 also loads
 * each test with maps the kernel can be given into both verifiers at log level 4 and
 * compares their "verification time" (a measurement, printed, never failed on).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/btf.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "helpers/helpers.h"
#include "ut.h"
#include "verifier_selftests_json.h"

/* Agreement below which the test fails: percent of supported tests, and percent of all
 * tests of uebpf's program types with "unsupported" counted as disagreement (issue 5's
 * goal is 97). */
#define AGREE_FLOOR 99.5
#define AGREE_ALL_FLOOR 97.0

#define MAX_INSNS	(1 << 20)
#define MAX_MAPS	8
#define LOG_SIZE	(1u << 20)

struct ptype {
	const char *name;
	enum bpf_prog_type type;
	int runs;		/* BPF_PROG_TEST_RUN works for it in the kernel */
};

static const struct ptype ptypes[] = {
	{ "BPF_PROG_TYPE_SOCKET_FILTER", BPF_PROG_TYPE_SOCKET_FILTER, 1 },
	{ "BPF_PROG_TYPE_SCHED_CLS", BPF_PROG_TYPE_SCHED_CLS, 1 },
	{ "BPF_PROG_TYPE_SCHED_ACT", BPF_PROG_TYPE_SCHED_ACT, 1 },
	{ "BPF_PROG_TYPE_XDP", BPF_PROG_TYPE_XDP, 1 },
	{ "BPF_PROG_TYPE_KPROBE", BPF_PROG_TYPE_KPROBE, 0 },
	{ "BPF_PROG_TYPE_TRACEPOINT", BPF_PROG_TYPE_TRACEPOINT, 0 },
	{ "BPF_PROG_TYPE_RAW_TRACEPOINT", BPF_PROG_TYPE_RAW_TRACEPOINT, 0 },
	{ "BPF_PROG_TYPE_PERF_EVENT", BPF_PROG_TYPE_PERF_EVENT, 0 },
	{ "BPF_PROG_TYPE_SYSCALL", BPF_PROG_TYPE_SYSCALL, 0 },
};
#define NTYPES (sizeof(ptypes) / sizeof(ptypes[0]))

/* Outcome classes. */
enum { R_AGREE, R_UNSUP, R_FALSE_REJECT, R_FALSE_ACCEPT, R_RETVAL, R_NCLASS };
static const char *const rname[] = { "agree", "unsupported", "uebpf rejects, kernel accepts",
				     "uebpf accepts, kernel rejects", "retval differs" };

struct stats {
	int n[R_NCLASS];
};

struct tcase {
	const struct vj *j;
	const struct ptype *pt;
	struct bpf_insn *insns;
	size_t cnt;
	int fds[MAX_MAPS];
	int nfds;
	char why[160];		/* reason for "unsupported" */
	int same_reason;	/* both reject: -1 n/a, 1 if uebpf's last log line is the kernel's */
	char ureason[200], kreason[200];
};

static char *ulog;

/* ---- The kernel's reason for a rejection, and whether it is about memory safety ---- */

struct safety_class {
	const char *name;
	const char *needles[12];
};

static const struct safety_class safety[] = {
	{ "out-of-bounds", { "outside of the packet", "outside of the allowed memory range",
			     "min value is negative", "unbounded memory access", "invalid access to",
			     "invalid write to stack", "invalid bpf_context access",
			     "out of bounds", "is not allowed", "access beyond",
			     "invalid variable-offset", NULL } },
	{ "uninitialized read", { "!read_ok", "invalid read from stack", "invalid size of register fill",
				  NULL } },
	{ "null dereference", { "_or_null", "invalid mem access", NULL } },
	{ "pointer leak", { "leaks addr", "leaking pointer", "partial copy of pointer", NULL } },
	{ "unreleased reference", { "reference leak", "Unreleased reference", "must be referenced",
				    NULL } },
};

static const char *kernel_reason(const struct vj *k)
{
	const char *t = vj_str(k, "log_tail");
	return t ? t : "";
}

/* The kernel's last log line before the statistics: the reason it rejected. */
static void kernel_reason_line(const struct vj *k, char *out, size_t size)
{
	const char *t = kernel_reason(k), *best = "", *p = t;
	size_t blen = 0;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len && strncmp(p, "processed ", 10)) {
			best = p;
			blen = len;
		}
		p += len + (e ? 1 : 0);
	}
	snprintf(out, size, "%.*s", (int)(blen < size ? blen : size - 1), best);
}

static const char *safety_of(const char *reason)
{
	for (size_t i = 0; i < sizeof(safety) / sizeof(safety[0]); i++)
		for (const char *const *n = safety[i].needles; *n; n++)
			if (strstr(reason, *n))
				return safety[i].name;
	return NULL;
}

/* ---- Building the test's program ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	while (s && s[0] && s[1] && n < max) {
		out[n++] = (uint8_t)(hexval(s[0]) * 16 + hexval(s[1]));
		s += 2;
	}
	return n;
}

static int load_one_prog(enum bpf_prog_type t, const struct bpf_insn *p, size_t n)
{
	return bpf_prog_load(t, "fix", "GPL", p, n, NULL);
}

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
					     .off = (o), .imm = (i) })

/* test_verifier's prog array: slots hold r0 = 42, a self tail call then r0 = 41, r0 = 24. */
static int prog_array(struct tcase *tc, int max, int slot42)
{
	int map = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "prog", 4, 4, (uint32_t)max, NULL);
	if (map < 0)
		return map;
	struct bpf_insn r42[] = { I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 42),
				  I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0) };
	struct bpf_insn r24[] = { I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 24),
				  I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0) };
	struct bpf_insn tail[] = {
		I(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 1),
		I(BPF_LD | BPF_IMM | BPF_DW, 2, BPF_PSEUDO_MAP_FD, 0, map), I(0, 0, 0, 0, 0),
		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call),
		I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 41),
		I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	int p[3] = { load_one_prog(tc->pt->type, r42, 2), load_one_prog(tc->pt->type, tail, 6),
		     load_one_prog(tc->pt->type, r24, 2) };
	uint32_t keys[3] = { (uint32_t)slot42, 1, 2 };
	for (int i = 0; i < 3; i++) {
		if (p[i] >= 0)
			bpf_map_update_elem(map, &keys[i], &p[i], BPF_ANY);
		if (p[i] >= 0)
			close(p[i]);
	}
	return map;
}

/* BPF_BTF_LOAD of a raw blob: header, then types, then strings. */
static int load_btf(const void *types, uint32_t tlen, const void *strs, uint32_t slen)
{
	struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION,
				.hdr_len = sizeof(h), .type_off = 0, .type_len = tlen,
				.str_off = tlen, .str_len = slen };
	uint8_t *raw = malloc(sizeof(h) + tlen + slen);
	union bpf_attr a;
	if (!raw)
		return -ENOMEM;
	memcpy(raw, &h, sizeof(h));
	memcpy(raw + sizeof(h), types, tlen);
	memcpy(raw + sizeof(h) + tlen, strs, slen);
	memset(&a, 0, sizeof(a));
	a.btf = (uint64_t)(uintptr_t)raw;
	a.btf_size = (uint32_t)(sizeof(h) + tlen + slen);
	int fd = uebpf_bpf(BPF_BTF_LOAD, &a, sizeof(a));
	free(raw);
	return fd;
}

#define T_INT(name, bits) (name), BTF_INFO_ENC(BTF_KIND_INT, 0, 0), 4, \
			  (BTF_INT_SIGNED << 24) | (bits)
#define T_STRUCT(name, vlen, size) (name), BTF_INFO_ENC(BTF_KIND_STRUCT, 0, vlen), (size)
#define T_MEMBER(name, type, bitoff) (name), (type), (bitoff)
#ifndef BTF_INFO_ENC
#define BTF_INFO_ENC(kind, kflag, vlen) (((kflag) << 31) | ((kind) << 24) | (vlen))
#endif

/* test_verifier's map with a lock: array of one struct val { int cnt; struct bpf_spin_lock l; },
 * key int (type 1), value type 3, as its load_btf() and create_map_spin_lock(). */
static int map_spin_lock(void)
{
	static const char strs[] = "\0bpf_spin_lock\0val\0cnt\0l";
	static const uint32_t types[] = {
		T_INT(0, 32),			/* [1] int */
		T_STRUCT(1, 1, 4),		/* [2] struct bpf_spin_lock */
		T_MEMBER(15, 1, 0),		/*     int val */
		T_STRUCT(15, 2, 8),		/* [3] struct val */
		T_MEMBER(19, 1, 0),		/*     int cnt */
		T_MEMBER(23, 2, 32),		/*     struct bpf_spin_lock l */
	};
	int btf = load_btf(types, sizeof(types), strs, sizeof(strs));
	if (btf < 0)
		return btf;
	LIBBPF_OPTS(bpf_map_create_opts, o, .btf_fd = (uint32_t)btf, .btf_key_type_id = 1,
		    .btf_value_type_id = 3);
	int m = bpf_map_create(BPF_MAP_TYPE_ARRAY, "test_map", 4, 8, 1, &o);
	close(btf);
	return m;
}

static int array_48b(uint32_t flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "arr", 4, 48, 1, &o);
	if (map < 0)
		return map;
	uint8_t v[48] = { 0 };
	uint32_t a = 28, b = 0xabcdef12, k = 0;
	memcpy(v, &a, 4);
	memcpy(v + 28, &b, 4);
	/* A read-only-for-programs array is still writable from user space. */
	bpf_map_update_elem(map, &k, v, BPF_ANY);
	return map;
}

/* One map per fixup kind, as test_verifier.c creates them; < 0 if uebpf cannot. */
static int fixup_map(struct tcase *tc, const char *kind)
{
	LIBBPF_OPTS(bpf_map_create_opts, nopre, .map_flags = BPF_F_NO_PREALLOC);
	if (!strcmp(kind, "fixup_map_hash_8b"))
		return bpf_map_create(BPF_MAP_TYPE_HASH, "h8", 8, 8, 1, &nopre);
	if (!strcmp(kind, "fixup_map_hash_48b"))
		return bpf_map_create(BPF_MAP_TYPE_HASH, "h48", 8, 48, 1, &nopre);
	if (!strcmp(kind, "fixup_map_hash_16b"))
		return bpf_map_create(BPF_MAP_TYPE_HASH, "h16", 8, 16, 1, &nopre);
	if (!strcmp(kind, "fixup_map_array_48b"))
		return array_48b(0);
	if (!strcmp(kind, "fixup_map_array_ro"))
		return array_48b(BPF_F_RDONLY_PROG);
	if (!strcmp(kind, "fixup_map_array_wo"))
		return array_48b(BPF_F_WRONLY_PROG);
	if (!strcmp(kind, "fixup_map_array_small")) {
		int m = bpf_map_create(BPF_MAP_TYPE_ARRAY, "small", 4, 1, 1, NULL);
		uint32_t k = 0;
		uint8_t v = 0x1c;
		if (m >= 0)
			bpf_map_update_elem(m, &k, &v, BPF_ANY);
		return m;
	}
	if (!strcmp(kind, "fixup_prog1"))
		return prog_array(tc, 4, 0);
	if (!strcmp(kind, "fixup_prog2"))
		return prog_array(tc, 8, 7);
	if (!strcmp(kind, "fixup_map_in_map")) {
		int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "inner", 4, 4, 1, NULL);
		if (inner < 0)
			return inner;
		LIBBPF_OPTS(bpf_map_create_opts, o, .inner_map_fd = (uint32_t)inner);
		int m = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "outer", 4, 4, 1, &o);
		close(inner);
		return m;
	}
	if (!strcmp(kind, "fixup_map_sockmap"))
		return bpf_map_create(BPF_MAP_TYPE_SOCKMAP, "sm", 4, 4, 1, NULL);
	if (!strcmp(kind, "fixup_map_sockhash"))
		return bpf_map_create(BPF_MAP_TYPE_SOCKHASH, "sh", 4, 4, 1, NULL);
	if (!strcmp(kind, "fixup_map_xskmap"))
		return bpf_map_create(BPF_MAP_TYPE_XSKMAP, "xsk", 4, 4, 1, NULL);
	if (!strcmp(kind, "fixup_map_stacktrace"))
		return bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "st", 4, 8, 1, NULL);
	if (!strcmp(kind, "fixup_map_event_output"))
		return bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "ev", 4, 4, 1, NULL);
	if (!strcmp(kind, "fixup_map_reuseport_array"))
		return bpf_map_create(BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, "rp", 4, 8, 1, NULL);
	if (!strcmp(kind, "fixup_map_ringbuf"))
		return bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rb", 0, 0, 4096, NULL);
	if (!strcmp(kind, "fixup_cgroup_storage"))
		return bpf_map_create(BPF_MAP_TYPE_CGROUP_STORAGE, "cg", 16, 64, 0, NULL);
	if (!strcmp(kind, "fixup_percpu_cgroup_storage"))
		return bpf_map_create(BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, "pcg", 16, 64, 0, NULL);
	if (!strcmp(kind, "fixup_map_spin_lock"))
		return map_spin_lock();
	/* sk_storage, timer, kptr: the BTF describes kernel objects uebpf does not have. */
	return -EOPNOTSUPP;
}

static int apply_fixups(struct tcase *tc)
{
	const struct vj *f = vj_get(tc->j, "fixups");
	for (const struct vj *k = f ? f->child : NULL; k; k = k->next) {
		int fd = fixup_map(tc, k->key);
		if (fd < 0) {
			snprintf(tc->why, sizeof(tc->why), "map %s", k->key + strlen("fixup_"));
			return -1;
		}
		if (tc->nfds < MAX_MAPS)
			tc->fds[tc->nfds++] = fd;
		for (const struct vj *i = k->child; i; i = i->next)
			if (i->num >= 0 && (size_t)i->num < tc->cnt)
				tc->insns[i->num].imm = fd;
	}
	return 0;
}

/* Calls of kernel helpers that uebpf does not implement make the test unsupported. */
static int helpers_supported(struct tcase *tc)
{
	for (size_t i = 0; i < tc->cnt; i++) {
		const struct bpf_insn *in = &tc->insns[i];
		if (in->code != (BPF_JMP | BPF_CALL) || in->src_reg != 0)
			continue;
		if (in->imm > 0 && in->imm < __BPF_FUNC_MAX_ID && !ub_helper_find((uint32_t)in->imm)) {
			snprintf(tc->why, sizeof(tc->why), "helper #%d", in->imm);
			return 0;
		}
	}
	return 1;
}

static int build(struct tcase *tc)
{
	const char *hex = vj_str(tc->j, "insns");
	size_t n = hex ? strlen(hex) / 2 : 0;

	if (n / 8 > MAX_INSNS || !(tc->insns = malloc(n ? n : 8))) {
		snprintf(tc->why, sizeof(tc->why), "program too large");
		return -1;
	}
	tc->cnt = unhex(hex, (uint8_t *)tc->insns, n) / 8;
	if (!helpers_supported(tc))
		return -1;
	return apply_fixups(tc);
}

/* ---- Load and run ---- */

#define MAX_FUNCS 64

/* The test's program BTF (btf_types, btf_strings: hex) and func_info, if it has them. */
static int prog_btf(struct tcase *tc, struct bpf_func_info *fi, uint32_t *nfi)
{
	const char *th = vj_str(tc->j, "btf_types"), *sh = vj_str(tc->j, "btf_strings");
	const struct vj *f = vj_get(tc->j, "func_info");
	*nfi = 0;
	if (!th || !sh)
		return 0;
	size_t tl = strlen(th) / 2, sl = strlen(sh) / 2;
	uint8_t *t = malloc(tl + 1), *s = malloc(sl + 1);
	int fd = t && s ? load_btf(t, (uint32_t)unhex(th, t, tl), s, (uint32_t)unhex(sh, s, sl))
		       : -ENOMEM;
	free(t);
	free(s);
	for (const struct vj *r = f ? f->child : NULL; r && *nfi < MAX_FUNCS; r = r->next) {
		const struct vj *a = r->child, *b = a ? a->next : NULL;
		if (b)
			fi[(*nfi)++] = (struct bpf_func_info){ .insn_off = (uint32_t)a->num,
							       .type_id = (uint32_t)b->num };
	}
	return fd;
}

static int load(struct tcase *tc, char *log, size_t log_size)
{
	uint32_t flags = (uint32_t)vj_num(tc->j, "prog_flags", 0);
	const char *att = vj_str(tc->j, "expected_attach_type");
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = (uint32_t)log_size,
		    .log_level = 1, .prog_flags = flags);
	if (att && !strcmp(att, "BPF_XDP_DEVMAP"))
		o.expected_attach_type = BPF_XDP_DEVMAP;
	struct bpf_func_info fi[MAX_FUNCS];
	uint32_t nfi;
	int btf = prog_btf(tc, fi, &nfi);
	if (btf > 0) {
		o.prog_btf_fd = (uint32_t)btf;
		o.func_info = nfi ? fi : NULL;
		o.func_info_cnt = nfi;
		o.func_info_rec_size = nfi ? sizeof(fi[0]) : 0;
	}
	log[0] = 0;
	int fd = bpf_prog_load(tc->pt->type, "vst", "GPL", tc->insns, tc->cnt, &o);
	if (btf > 0)
		close(btf);
	return fd;
}

static int run_once(int fd, const char *hexdata, uint32_t *retval)
{
	uint8_t data[64] = { 0 }, out[256];
	unhex(hexdata, data, sizeof(data));
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = data, .data_size_in = sizeof(data),
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &t);
	*retval = t.retval;
	return err;
}

/* 0 when every run gives the kernel's return value (pointer-valued ones excepted). */
static int check_retvals(struct tcase *tc, int fd, char *why, size_t whysz)
{
	const struct vj *k = vj_get(tc->j, "kernel");
	const struct vj *runs = vj_get(tc->j, "runs");
	const struct vj *kr = vj_get(k, "kernel_retvals");
	uint32_t got;

	if (!tc->pt->runs || vj_num(tc->j, "retval_any", 0) || vj_num(tc->j, "no_test_run", 0))
		return 0;
	if (runs && kr) {
		const struct vj *r = runs->child, *v = kr->child;
		for (int i = 0; r && v; r = r->next, v = v->next, i++) {
			if (run_once(fd, vj_str(r, "data"), &got) || got != (uint32_t)v->num) {
				snprintf(why, whysz, "run %d: retval %u, kernel %u", i, got, (uint32_t)v->num);
				return -1;
			}
		}
		return 0;
	}
	if (!vj_get(k, "kernel_retval"))
		return 0;
	uint32_t want = (uint32_t)vj_num(k, "kernel_retval", 0);
	int err = run_once(fd, vj_str(tc->j, "data"), &got);
	if (err || got != want) {
		snprintf(why, whysz, "retval %u (err %d), kernel %u", got, err, want);
		return -1;
	}
	return 0;
}

/* Last non-empty line of uebpf's log that is not the statistics line. */
static void log_reason(const char *log, char *out, size_t size)
{
	const char *best = "", *p = log;
	size_t blen = 0;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len && strncmp(p, "processed ", 10)) {
			best = p;
			blen = len;
		}
		p += len + (e ? 1 : 0);
	}
	snprintf(out, size, "%.*s", (int)(blen < size ? blen : size - 1), best);
}

static int classify(struct tcase *tc, char *detail, size_t dsz)
{
	const struct vj *k = vj_get(tc->j, "kernel");
	int kacc = !strcmp(vj_str(k, "verdict") ? vj_str(k, "verdict") : "", "accept");
	char reason[200];

	tc->same_reason = -1;
	if (build(tc) < 0) {
		snprintf(detail, dsz, "%s", tc->why);
		return R_UNSUP;
	}
	int fd = load(tc, ulog, LOG_SIZE);
	log_reason(ulog, reason, sizeof(reason));
	if (fd < 0 && kacc) {
		snprintf(detail, dsz, "uebpf: %s (%d)", reason, fd);
		return R_FALSE_REJECT;
	}
	if (fd >= 0 && !kacc) {
		close(fd);
		snprintf(detail, dsz, "kernel: %s", kernel_reason(k));
		return R_FALSE_ACCEPT;
	}
	if (fd < 0) {
		kernel_reason_line(k, tc->kreason, sizeof(tc->kreason));
		snprintf(tc->ureason, sizeof(tc->ureason), "%s", reason);
		tc->same_reason = !strcmp(reason, tc->kreason);
		return R_AGREE;
	}
	int rc = check_retvals(tc, fd, detail, dsz);
	close(fd);
	return rc ? R_RETVAL : R_AGREE;
}

static const struct ptype *find_ptype(const char *name)
{
	for (size_t i = 0; name && i < NTYPES; i++)
		if (!strcmp(ptypes[i].name, name))
			return &ptypes[i];
	return NULL;
}

/* ---- The report ---- */

/* VST_TIME=1 (below) */
struct timing {
	int n, over2;		/* timed tests; uebpf more than 2x the kernel (and >= 20 us) */
	double usum, ksum;
	struct { double u, k; int idx; } worst[5];
};

struct report {
	struct stats per[NTYPES];
	int unsafe;		/* accepted although the kernel rejected for memory safety */
	int shown;
	int both_reject, same_reason;	/* rejected by both; with the same last log line */
	struct timing timing;
};

static void note(struct report *r, const struct tcase *tc, int cls, const char *detail)
{
	const struct vj *k = vj_get(tc->j, "kernel");
	const char *unsafe = cls == R_FALSE_ACCEPT ? safety_of(kernel_reason(k)) : NULL;
	int verbose = getenv("VST_VERBOSE") != NULL;

	r->per[tc->pt - ptypes].n[cls]++;
	if (tc->same_reason >= 0) {
		r->both_reject++;
		r->same_reason += tc->same_reason;
		if (!tc->same_reason && getenv("VST_REASONS"))
			printf("  #%-4d reason differs: uebpf '%s', kernel '%s'\n",
			       (int)vj_num(tc->j, "index", -1), tc->ureason, tc->kreason);
	}
	if (unsafe) {
		r->unsafe++;
		UT_CHECK(0, "#%d %s: accepted, the kernel rejects (%s): %s", (int)vj_num(tc->j, "index", -1),
			 vj_str(tc->j, "name"), unsafe, detail);
	}
	if (cls != R_AGREE && (cls != R_UNSUP || verbose) && (verbose || r->shown < 400)) {
		r->shown++;
		printf("  #%-4d %-30s %-26s %s: %s\n", (int)vj_num(tc->j, "index", -1),
		       rname[cls], tc->pt->name + 14, vj_str(tc->j, "name"), detail);
	}
}

/* ---- VST_TIME=1: verification time, uebpf next to the kernel ---- */

static int kmap(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type, a.key_size = ks, a.value_size = vs, a.max_entries = max;
	a.map_flags = flags;
	return (int)syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a));
}

/* The kernel's twin of a fixup map (same shape, empty), or -1 if not made here. */
static int kernel_fixup(const char *kind)
{
	static const struct { const char *kind; uint32_t type, ks, vs, max, flags; } t[] = {
		{ "fixup_map_hash_8b", BPF_MAP_TYPE_HASH, 8, 8, 1, BPF_F_NO_PREALLOC },
		{ "fixup_map_hash_48b", BPF_MAP_TYPE_HASH, 8, 48, 1, BPF_F_NO_PREALLOC },
		{ "fixup_map_hash_16b", BPF_MAP_TYPE_HASH, 8, 16, 1, BPF_F_NO_PREALLOC },
		{ "fixup_map_array_48b", BPF_MAP_TYPE_ARRAY, 4, 48, 1, 0 },
		{ "fixup_map_array_ro", BPF_MAP_TYPE_ARRAY, 4, 48, 1, BPF_F_RDONLY_PROG },
		{ "fixup_map_array_wo", BPF_MAP_TYPE_ARRAY, 4, 48, 1, BPF_F_WRONLY_PROG },
		{ "fixup_map_array_small", BPF_MAP_TYPE_ARRAY, 4, 1, 1, 0 },
		{ "fixup_prog1", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0 },
		{ "fixup_prog2", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8, 0 },
		{ "fixup_map_event_output", BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, 0 },
		{ "fixup_map_ringbuf", BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0 },
		{ "fixup_map_stacktrace", BPF_MAP_TYPE_STACK_TRACE, 4, 8, 1, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(kind, t[i].kind))
			return kmap(t[i].type, t[i].ks, t[i].vs, t[i].max, t[i].flags);
	return -1;
}

static double log_usec(const char *log)
{
	const char *v = strstr(log, "verification time ");
	return v ? atof(v + strlen("verification time ")) : -1;
}

/* Best of 3 level-4 loads: the kernel's (raw bpf()) and uebpf's, same instructions. */
static double time_load(struct tcase *tc, const struct bpf_insn *p, int kernel)
{
	double best = -1;
	for (int i = 0; i < 3; i++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.prog_type = tc->pt->type;
		a.insns = (uintptr_t)p;
		a.insn_cnt = (uint32_t)tc->cnt;
		a.license = (uintptr_t)"GPL";
		a.prog_flags = (uint32_t)vj_num(tc->j, "prog_flags", 0);
		a.log_level = 4;
		a.log_buf = (uintptr_t)ulog;
		a.log_size = LOG_SIZE;
		ulog[0] = 0;
		int fd = kernel ? (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a))
				: uebpf_bpf(BPF_PROG_LOAD, &a, sizeof(a));
		if (fd >= 0)
			close(fd);
		double t = log_usec(ulog);
		if (t >= 0 && (best < 0 || t < best))
			best = t;
	}
	return best;
}

static void time_one(struct tcase *tc, struct timing *tm)
{
	const struct vj *f = vj_get(tc->j, "fixups");
	struct bpf_insn *kp = malloc(tc->cnt * sizeof(*kp));
	int kfds[MAX_MAPS], nk = 0, ok = kp != NULL;

	if (!ok || vj_get(tc->j, "btf_types"))
		goto out;
	memcpy(kp, tc->insns, tc->cnt * sizeof(*kp));
	for (const struct vj *k = f ? f->child : NULL; k && ok; k = k->next) {
		int fd = nk < MAX_MAPS ? kernel_fixup(k->key) : -1;
		if (fd < 0) {
			ok = 0;
			break;
		}
		kfds[nk++] = fd;
		for (const struct vj *i = k->child; i; i = i->next)
			if (i->num >= 0 && (size_t)i->num < tc->cnt)
				kp[i->num].imm = fd;
	}
	double u = ok ? time_load(tc, tc->insns, 0) : -1, k = ok ? time_load(tc, kp, 1) : -1;
	if (u >= 0 && k >= 0) {
		tm->n++;
		tm->usum += u;
		tm->ksum += k;
		if (u > 2 * k && u >= 20)
			tm->over2++;
		for (int w = 0; w < 5; w++) {
			if (tm->worst[w].u && tm->worst[w].u - tm->worst[w].k >= u - k)
				continue;
			memmove(&tm->worst[w + 1], &tm->worst[w], (size_t)(4 - w) * sizeof(tm->worst[0]));
			tm->worst[w].u = u, tm->worst[w].k = k;
			tm->worst[w].idx = (int)vj_num(tc->j, "index", -1);
			break;
		}
	}
out:
	for (int i = 0; i < nk; i++)
		close(kfds[i]);
	free(kp);
}

static void print_timing(const struct timing *tm)
{
	if (!tm->n)
		return;
	printf("\n  verification time (log level 4, best of 3), %d tests: uebpf %.0f us, "
	       "kernel %.0f us in all\n", tm->n, tm->usum, tm->ksum);
	printf("  uebpf over 2x the kernel (and >= 20 us): %d\n", tm->over2);
	for (int w = 0; w < 5 && tm->worst[w].u; w++)
		printf("    #%-4d uebpf %.0f us, kernel %.0f us\n", tm->worst[w].idx, tm->worst[w].u,
		       tm->worst[w].k);
}

static int unsupported_total(const struct report *r)
{
	int n = 0;
	for (size_t i = 0; i < NTYPES; i++)
		n += r->per[i].n[R_UNSUP];
	return n;
}

static void print_report(const struct report *r, int *agree, int *supported)
{
	struct stats tot = { { 0 } };

	printf("\n  %-22s %6s %6s %6s %6s %6s %6s %8s\n", "program type", "tests", "agree",
	       "unsup", "f-rej", "f-acc", "retval", "agree%");
	for (size_t i = 0; i < NTYPES; i++) {
		const int *n = r->per[i].n;
		int all = 0, sup;
		for (int c = 0; c < R_NCLASS; c++)
			all += n[c], tot.n[c] += n[c];
		if (!all)
			continue;
		sup = all - n[R_UNSUP];
		printf("  %-22s %6d %6d %6d %6d %6d %6d %7.1f%%\n", ptypes[i].name + 14, all,
		       n[R_AGREE], n[R_UNSUP], n[R_FALSE_REJECT], n[R_FALSE_ACCEPT], n[R_RETVAL],
		       sup ? 100.0 * n[R_AGREE] / sup : 0.0);
	}
	*agree = tot.n[R_AGREE];
	*supported = 0;
	for (int c = 0; c < R_NCLASS; c++)
		*supported += c == R_UNSUP ? 0 : tot.n[c];
	int all = *supported + tot.n[R_UNSUP];
	printf("  %-22s %6d %6d %6d %6d %6d %6d %7.1f%%\n", "total", all, tot.n[R_AGREE],
	       tot.n[R_UNSUP], tot.n[R_FALSE_REJECT], tot.n[R_FALSE_ACCEPT], tot.n[R_RETVAL],
	       *supported ? 100.0 * *agree / *supported : 0.0);
	printf("  agreement over all %d tests of these types (unsupported as disagreement): %.1f%%\n",
	       all, all ? 100.0 * *agree / all : 0.0);
	printf("  rejected by both: %d, with the kernel's reason as uebpf's last log line: %d (%.1f%%)\n",
	       r->both_reject, r->same_reason,
	       r->both_reject ? 100.0 * r->same_reason / r->both_reject : 0.0);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	if (s)
		s[n] = 0, *len = (size_t)n;
	return s;
}

static char *open_vectors(size_t *len)
{
	const char *shared = getenv("UEBPF_SHARED");
	char path[4096];
	const char *rel[] = { "../shared", "../../shared", "../../../shared" };

	if (shared) {
		snprintf(path, sizeof(path), "%s/verifier-tests/tests.jsonl", shared);
		return read_file(path, len);
	}
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(path, sizeof(path), "%s/verifier-tests/tests.jsonl", rel[i]);
		char *s = read_file(path, len);
		if (s)
			return s;
	}
	return NULL;
}

static void run_line(struct report *r, const char *line, size_t len, long only)
{
	struct vj *j = vj_parse(line, len);
	struct tcase *tc = j ? calloc(1, sizeof(*tc)) : NULL;
	char detail[400] = "";

	if (tc && (tc->pt = find_ptype(vj_str(j, "prog_type"))) &&
	    (only < 0 || vj_num(j, "index", -1) == only)) {
		tc->j = j;
		int cls = classify(tc, detail, sizeof(detail));
		note(r, tc, cls, detail);
		if (getenv("VST_TIME") && cls != R_UNSUP)
			time_one(tc, &r->timing);
		if (only >= 0)
			printf("--- uebpf log ---\n%s\n--- kernel ---\n%s\n", ulog, kernel_reason(vj_get(j, "kernel")));
		for (int i = 0; i < tc->nfds; i++)
			close(tc->fds[i]);
	}
	if (tc)
		free(tc->insns);
	free(tc);
	vj_free(j);
}

UT_TEST(verifier_selftests_agree_with_kernel)
{
	size_t len = 0;
	char *all = open_vectors(&len);
	const char *only_s = getenv("VST_ONLY");
	long only = only_s ? strtol(only_s, NULL, 10) : -1;
	struct report *r = calloc(1, sizeof(*r));
	int agree, supported;

	if (!all) {
		ut_skip("no verifier-tests/tests.jsonl (set UEBPF_SHARED)");
		free(r);
		return;
	}
	ulog = malloc(LOG_SIZE);
	for (char *p = all; r && ulog && p < all + len;) {
		char *e = memchr(p, '\n', (size_t)(all + len - p));
		size_t n = e ? (size_t)(e - p) : (size_t)(all + len - p);
		if (n)
			run_line(r, p, n, only);
		p += n + 1;
	}
	if (r && ulog) {
		print_report(r, &agree, &supported);
		print_timing(&r->timing);
		if (only < 0 && supported && 100.0 * agree / supported < AGREE_FLOOR)
			UT_CHECK(0, "agreement %.1f%% is below the floor %.1f%%", 100.0 * agree / supported,
				 AGREE_FLOOR);
		int ntests = supported + unsupported_total(r);
		if (only < 0 && ntests && 100.0 * agree / ntests < AGREE_ALL_FLOOR)
			UT_CHECK(0, "agreement over all tests %.1f%% is below the floor %.1f%%",
				 100.0 * agree / ntests, AGREE_ALL_FLOOR);
		UT_CHECK(r->unsafe == 0, "%d programs the kernel rejects for memory safety were accepted",
			 r->unsafe);
	}
	free(ulog);
	free(r);
	free(all);
}
