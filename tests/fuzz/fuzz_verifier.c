/*
 * fuzz_verifier: bytes as a program, through instruction validation, the verifier and
 * both run modes.
 *
 * Input: byte 0 picks the program type, the rest are instructions (8 bytes each). lddw
 * map pseudo-loads are pointed at one of a few fixed maps (imm modulo their number), as a
 * loader's fixups would. The program is loaded verified; if the verifier accepts it, the
 * same bytes are loaded unverified (checked mode: every access checked at run time) and
 * both run on a fixed packet or context, in the default engine (the JIT where there is
 * one; fuzz_jit holds the JIT to the interpreter). The verifier promises the checked run never
 * faults: a fault there means the verifier accepted an unsafe program, and aborts. ASan
 * and UBSan watch the verifier itself and the fast (unchecked) run.
 */
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "fuzz.h"

#define MAX_INSNS	512
#define VALUE_SIZE	48

static const enum bpf_prog_type types[] = {
	BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_SCHED_CLS,
	BPF_PROG_TYPE_KPROBE,
};

static int maps[4];
static const unsigned nmaps = sizeof(maps) / sizeof(maps[0]);
static char log_buf[1 << 16];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	maps[0] = bpf_map_create(BPF_MAP_TYPE_ARRAY, "arr", 4, VALUE_SIZE, 4, NULL);
	maps[1] = bpf_map_create(BPF_MAP_TYPE_HASH, "hash", 8, 16, 16, NULL);
	maps[2] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rb", 0, 0, 4096, NULL);
	maps[3] = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "pcpu", 4, 8, 2, NULL);
	for (unsigned i = 0; i < nmaps; i++)
		if (maps[i] < 0)
			fuzz_fail("map %u: %s", i, uebpf_last_error());
	return 0;
}

/* The maps start every input the same, so an input replays alone as it ran. */
static void reset_maps(void)
{
	uint8_t v[VALUE_SIZE];

	for (uint32_t k = 0; k < 4; k++) {
		memset(v, (int)(k * 17), sizeof(v));
		bpf_map_update_elem(maps[0], &k, v, BPF_ANY);
	}
	for (uint64_t k; !bpf_map_get_next_key(maps[1], NULL, &k);)
		bpf_map_delete_elem(maps[1], &k);
	uint64_t hk = 1;
	bpf_map_update_elem(maps[1], &hk, v, BPF_ANY);
}

static void fix_maps(struct bpf_insn *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i].code != (BPF_LD | BPF_IMM | BPF_DW))
			continue;
		if (p[i].src_reg == BPF_PSEUDO_MAP_FD)
			p[i].imm = maps[(uint32_t)p[i].imm % nmaps];
		else if (p[i].src_reg == BPF_PSEUDO_MAP_VALUE)
			p[i].imm = maps[0];
		i++;
	}
}

static int load(enum bpf_prog_type type, const struct bpf_insn *p, size_t n, uint32_t flags)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o, .prog_flags = flags, .log_buf = log_buf,
		    .log_size = sizeof(log_buf), .log_level = 1);
	log_buf[0] = 0;
	return bpf_prog_load(type, "fuzz", "GPL", p, n, &o);
}

/* One run on a fixed input: a 64-byte packet, or a zeroed context for the others. */
static int run(enum bpf_prog_type type, int fd, uint32_t *retval)
{
	static uint8_t pkt[64], ctx[512], out[256];
	int pkt_type = type != BPF_PROG_TYPE_KPROBE;

	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 37 + 11);
	pkt[12] = 0x08, pkt[13] = 0x00;	/* IPv4 */
	memset(ctx, 0, sizeof(ctx));
	LIBBPF_OPTS(bpf_test_run_opts, t, .repeat = 1);
	if (pkt_type) {
		t.data_in = pkt, t.data_size_in = sizeof(pkt);
		t.data_out = out, t.data_size_out = sizeof(out);
	} else {
		t.ctx_in = ctx, t.ctx_size_in = 168;	/* struct pt_regs */
	}
	reset_maps();
	int err = bpf_prog_test_run_opts(fd, &t);
	*retval = t.retval;
	return err;
}

/*
 * A load from a map pointer reads struct bpf_map in the kernel; uebpf's loader rewrites
 * it to dst = 0 in the verified program only (verifier/mem.c, UB_VER_CONV_ZERO), so the
 * checked run of the original bytes faults there by design. Whether the fault is that
 * load: the verifier's every-instruction log shows the source register as map_ptr.
 */
static int map_ptr_load(enum bpf_prog_type type, const struct bpf_insn *p, size_t n,
			const char *why)
{
	static char log2[1 << 20];
	char want[32], reg[16];
	unsigned long at;

	if (sscanf(why, "insn %lu:", &at) != 1 || at >= n || BPF_CLASS(p[at].code) != BPF_LDX)
		return 0;
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log2, .log_size = sizeof(log2),
		    .log_level = 2);
	log2[0] = 0;
	int fd = bpf_prog_load(type, "fuzz", "GPL", p, n, &o);
	if (fd >= 0)
		close(fd);
	snprintf(want, sizeof(want), "\n%lu: (", at);
	snprintf(reg, sizeof(reg), "R%u=map_ptr", p[at].src_reg);
	for (const char *l = strstr(log2, want); l; l = strstr(l + 1, want)) {
		const char *e = strchr(l + 1, '\n');
		const char *r = strstr(l, reg);
		if (r && (!e || r < e))
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bpf_insn p[MAX_INSNS];
	uint32_t r_fast, r_checked;

	if (size < 1 + sizeof(struct bpf_insn))
		return 0;
	enum bpf_prog_type type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	size_t n = (size - 1) / sizeof(struct bpf_insn);
	if (n > MAX_INSNS)
		n = MAX_INSNS;
	memcpy(p, data + 1, n * sizeof(p[0]));
	fix_maps(p, n);

	int fast = load(type, p, n, 0);
	if (fast < 0) {
		if (!log_buf[0] && errno != E2BIG && errno != ENOMEM)
			fuzz_fail("rejected (errno %d) without a log: %s", errno, uebpf_last_error());
		return 0;
	}
	int checked = load(type, p, n, UEBPF_F_PROG_UNVERIFIED);
	if (checked >= 0) {
		int err = run(type, checked, &r_checked);
		char why[256];
		snprintf(why, sizeof(why), "%s", uebpf_last_error());
		if (err && !map_ptr_load(type, p, n, why))
			fuzz_fail("UNSOUND: the verifier accepted a program whose checked run faults "
				  "(%d): %s", err, why);
		close(checked);
	}
	/* Unreached garbage the verifier skips can fail the unverified load's structural
	 * checks; the fast run still goes, under ASan. */
	run(type, fast, &r_fast);
	close(fast);
	return 0;
}
