/*
 * The harness of the packet differential tests (test_pkt_kernel*.c): the same raw
 * instructions are loaded into the live kernel (raw bpf(2): BPF_PROG_LOAD,
 * BPF_PROG_TEST_RUN, no libbpf) and into uebpf, run on the same packet, and the answers
 * compared: the run's return code, retval, data_size_out, the output bytes and ctx_out.
 * The kernel is the oracle. Programs are written as the kernel's verifier wants them
 * (bounds checks before packet access ...): a program the kernel refuses fails the case.
 */
#ifndef PKT_KDIFF_H
#define PKT_KDIFF_H
#include <sys/syscall.h>
#include "pkt_util.h"

#define KATTR_END(f) (offsetof(union bpf_attr, f) + sizeof(((union bpf_attr *)0)->f))

static inline int k_sys(int cmd, union bpf_attr *a, size_t size)
{
	int r = (int)syscall(SYS_bpf, cmd, a, size);
	return r < 0 ? -errno : r;
}

static inline int k_load(int type, const struct bpf_insn *p, size_t n, int attach)
{
	static char log[1 << 16];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = (uint32_t)type;
	a.insns = (uintptr_t)p;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	a.expected_attach_type = (uint32_t)attach;
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	log[0] = 0;
	int fd = k_sys(BPF_PROG_LOAD, &a, KATTR_END(fd_array));
	if (fd < 0 && fd != -EPERM)
		fprintf(stderr, "    kernel load: %d\n%.2000s\n", fd, log);
	return fd;
}

static inline int k_map(int type, uint32_t ks, uint32_t vs, uint32_t max)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = (uint32_t)type;
	a.key_size = ks;
	a.value_size = vs;
	a.max_entries = max;
	return k_sys(BPF_MAP_CREATE, &a, KATTR_END(map_extra));
}

static inline int k_update(int fd, const void *k, const void *v, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)k;
	a.value = (uintptr_t)v;
	a.flags = flags;
	return k_sys(BPF_MAP_UPDATE_ELEM, &a, KATTR_END(flags));
}

struct k_res {
	int rc;
	uint32_t retval;
	uint32_t len;
	uint8_t out[16384];
	uint8_t ctx[256];
	uint32_t ctx_len;
};

static inline void k_run(int fd, const void *pkt, size_t len, const void *ctx, size_t ctx_len,
			 struct k_res *r)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	memset(r, 0, sizeof(*r));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = (uint32_t)len;
	a.test.data_out = (uintptr_t)r->out;
	a.test.data_size_out = sizeof(r->out);
	if (ctx_len) {
		a.test.ctx_in = (uintptr_t)ctx;
		a.test.ctx_size_in = (uint32_t)ctx_len;
		a.test.ctx_out = (uintptr_t)r->ctx;
		a.test.ctx_size_out = sizeof(r->ctx);
	}
	r->rc = k_sys(BPF_PROG_TEST_RUN, &a, KATTR_END(test.batch_size));
	r->retval = a.test.retval;
	r->len = a.test.data_size_out;
	r->ctx_len = a.test.ctx_size_out;
}

/* uebpf's side of the same run, through bpf() as uebpf_bpf(). */
static inline void ue_run(int fd, const void *pkt, size_t len, const void *ctx, size_t ctx_len,
			  struct k_res *r)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	memset(r, 0, sizeof(*r));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = (uint32_t)len;
	a.test.data_out = (uintptr_t)r->out;
	a.test.data_size_out = sizeof(r->out);
	if (ctx_len) {
		a.test.ctx_in = (uintptr_t)ctx;
		a.test.ctx_size_in = (uint32_t)ctx_len;
		a.test.ctx_out = (uintptr_t)r->ctx;
		a.test.ctx_size_out = sizeof(r->ctx);
	}
	int rc = uebpf_bpf(BPF_PROG_TEST_RUN, &a, (unsigned)KATTR_END(test.batch_size));
	r->rc = rc < 0 ? -errno : rc;
	r->retval = a.test.retval;
	r->len = a.test.data_size_out;
	r->ctx_len = a.test.ctx_size_out;
}

/* Is bpf() there for us? Otherwise the differential cases skip. */
static inline int k_available(void)
{
	static int state;	/* 0 unknown, 1 yes, -1 no */
	if (!state) {
		struct bpf_insn p[] = { MOV64_IMM(0, XDP_PASS), EXIT_INSN };
		int fd = k_load(BPF_PROG_TYPE_XDP, p, N(p), 0);
		state = fd >= 0 ? 1 : -1;
		if (fd >= 0)
			close(fd);
	}
	return state > 0;
}

#define K_REQUIRE() do { if (!k_available()) { ut_skip("bpf() refused: no kernel to compare with"); return; } } while (0)

static int k_cases, k_diverged;

__attribute__((destructor)) static void k_summary(void)
{
	if (k_cases)
		fprintf(stderr, "  %d runs compared with the kernel, %d diverged\n", k_cases, k_diverged);
}

static inline int k_same(const char *name, const struct k_res *k, const struct k_res *u)
{
	k_cases++;
	if (k->rc != u->rc || k->retval != u->retval || (!k->rc && k->len != u->len)) {
		fprintf(stderr, "    DIVERGENCE %s: kernel rc %d retval 0x%x len %u, uebpf rc %d retval 0x%x len %u\n",
			name, k->rc, k->retval, k->len, u->rc, u->retval, u->len);
		return 0;
	}
	uint32_t n = k->len < sizeof(k->out) ? k->len : sizeof(k->out);
	for (uint32_t i = 0; !k->rc && i < n; i++) {
		if (k->out[i] != u->out[i]) {
			fprintf(stderr, "    DIVERGENCE %s: byte %u: kernel 0x%02x, uebpf 0x%02x\n", name,
				i, k->out[i], u->out[i]);
			return 0;
		}
	}
	if (k->ctx_len != u->ctx_len || memcmp(k->ctx, u->ctx, k->ctx_len)) {
		fprintf(stderr, "    DIVERGENCE %s: ctx_out differs\n", name);
		return 0;
	}
	return 1;
}

/*
 * Runs kp in the kernel and up in uebpf (the same program but for map fds) on the packet
 * and compares. Returns the kernel's retval (for cases that also check a value).
 */
static inline uint32_t kdiff2(const char *name, int type, const struct bpf_insn *kp,
			      const struct bpf_insn *up, size_t n, const void *pkt, size_t len,
			      const void *ctx, size_t ctx_len)
{
	static struct k_res k, u;
	static const uint32_t modes[] = { 0, UEBPF_F_PROG_UNVERIFIED };
	int kfd = k_load(type, kp, n, 0);

	UT_CHECK(kfd >= 0, "%s: the kernel refused the program (%d)", name, kfd);
	if (kfd < 0)
		return 0;
	k_run(kfd, pkt, len, ctx, ctx_len, &k);
	close(kfd);
	for (size_t m = 0; m < N(modes); m++) {
		int ufd = u_load_flags(type, up, n, modes[m]);
		UT_CHECK(ufd >= 0, "%s: uebpf refused the program (%d)", name, ufd);
		if (ufd < 0)
			continue;
		ue_run(ufd, pkt, len, ctx, ctx_len, &u);
		close(ufd);
		if (!k_same(name, &k, &u)) {
			k_diverged++;
			ut_fail(__FILE__, __LINE__, "%s: uebpf (%s) and the kernel differ", name,
				modes[m] ? "checked" : "verified");
		}
	}
	return k.retval;
}

static inline uint32_t kdiff(const char *name, int type, const struct bpf_insn *p, size_t n,
			     const void *pkt, size_t len)
{
	return kdiff2(name, type, p, p, n, pkt, len, NULL, 0);
}

/*
 * A program that calls one helper with constant arguments and returns r0:
 * r1 = ctx (ctx_arg) or a1, r2..r5 = a2..a5 (64-bit immediates).
 */
static inline size_t call_prog(struct bpf_insn *p, int helper, int ctx_arg, uint64_t a1,
			       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	uint64_t a[5] = { a1, a2, a3, a4, a5 };
	size_t n = 0;
	for (int i = ctx_arg ? 1 : 0; i < 5; i++) {
		struct bpf_insn ld[2] = { LD_IMM64(i + 1, a[i]) };
		p[n++] = ld[0];
		p[n++] = ld[1];
	}
	p[n++] = I(BPF_JMP | BPF_CALL, 0, 0, 0, helper);
	p[n++] = EXIT_INSN;
	return n;
}

/* kdiff of call_prog(...) with a name saying the call. */
static inline uint32_t kcall(int type, const void *pkt, size_t len, int helper, const char *hname,
			     int ctx_arg, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
			     uint64_t a5)
{
	struct bpf_insn p[16];
	char name[160];
	size_t n = call_prog(p, helper, ctx_arg, a1, a2, a3, a4, a5);
	snprintf(name, sizeof(name), "%s(%#llx, %#llx, %#llx, %#llx) on %zu bytes", hname,
		 (unsigned long long)a2, (unsigned long long)a3, (unsigned long long)a4,
		 (unsigned long long)a5, len);
	return kdiff(name, type, p, n, pkt, len);
}

#define KCALL(type, pkt, len, helper, ...) \
	kcall(type, pkt, len, BPF_FUNC_##helper, #helper, 1, 0, __VA_ARGS__)

#endif
