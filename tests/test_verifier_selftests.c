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
 * agreement: map types it cannot create, maps described by BTF, program BTF and func_info,
 * kfunc calls, and helpers it does not implement.
 *
 * The test fails when agreement drops below AGREE_FLOOR (percent of supported tests), and
 * always when uebpf accepts a program the kernel rejected for a memory-safety reason
 * (out-of-bounds access, uninitialized read, pointer leak, null dereference, unreleased
 * reference), classified from the kernel's log.
 *
 * Rejections are also compared by reason: the kernel's last log line before the statistics
 * against uebpf's (informational; VST_REASONS=1 lists the differences).
 *
 * Environment: VST_VERBOSE=1 lists every disagreement with both logs' last lines;
 * VST_ONLY=<index> runs one test (and prints uebpf's whole log).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "helpers/helpers.h"
#include "ut.h"
#include "verifier_selftests_json.h"

/* Agreement (percent of supported tests) below which the test fails. */
#define AGREE_FLOOR 99.5

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
	/* spin_lock, sk_storage, timer, kptr: the map value is described by BTF. */
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
	if (vj_get(tc->j, "btf_types") || vj_get(tc->j, "func_info")) {
		snprintf(tc->why, sizeof(tc->why), "program BTF");
		return -1;
	}
	if (vj_get(tc->j, "kfunc_fixups")) {
		snprintf(tc->why, sizeof(tc->why), "kfunc");
		return -1;
	}
	if (!helpers_supported(tc))
		return -1;
	return apply_fixups(tc);
}

/* ---- Load and run ---- */

static int load(struct tcase *tc, char *log, size_t log_size)
{
	uint32_t flags = (uint32_t)vj_num(tc->j, "prog_flags", 0);
	const char *att = vj_str(tc->j, "expected_attach_type");
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = (uint32_t)log_size,
		    .log_level = 1, .prog_flags = flags);
	if (att && !strcmp(att, "BPF_XDP_DEVMAP"))
		o.expected_attach_type = BPF_XDP_DEVMAP;
	log[0] = 0;
	return bpf_prog_load(tc->pt->type, "vst", "GPL", tc->insns, tc->cnt, &o);
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

struct report {
	struct stats per[NTYPES];
	int unsafe;		/* accepted although the kernel rejected for memory safety */
	int shown;
	int both_reject, same_reason;	/* rejected by both; with the same last log line */
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
		if (only < 0 && supported && 100.0 * agree / supported < AGREE_FLOOR)
			UT_CHECK(0, "agreement %.1f%% is below the floor %.1f%%", 100.0 * agree / supported,
				 AGREE_FLOOR);
		UT_CHECK(r->unsafe == 0, "%d programs the kernel rejects for memory safety were accepted",
			 r->unsafe);
	}
	free(ulog);
	free(r);
	free(all);
}
