/*
 * uebpf: an eBPF runtime in user space.
 *
 * This header holds what libbpf has no word for: running programs directly, choosing the
 * engine, registering helpers, the assembler and disassembler. Conventions follow libbpf:
 * opaque handles, *_opts structs that start with `size_t sz`, negative errno on failure.
 */
#ifndef UEBPF_UEBPF_H
#define UEBPF_UEBPF_H

#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UEBPF_API __attribute__((visibility("default")))

#define UEBPF_OPTS_VALID(opts, type) (!(opts) || (opts)->sz >= sizeof(size_t))

struct uebpf_prog;

enum uebpf_engine {
	UEBPF_ENGINE_DEFAULT = 0,	/* the JIT where available, else the interpreter */
	UEBPF_ENGINE_INTERP = 1,
	UEBPF_ENGINE_JIT = 2,
};

/* Program flags. */
enum {
	/*
	 * Run without the verifier's proof: every load and store is checked against the
	 * memory the program was given, and a runaway program stops at insn_budget.
	 * This is how conformance vectors and other unverified bytecode run.
	 */
	UEBPF_PROG_F_CHECKED = 1u << 0,
	/*
	 * Run with no runtime checks and no verification. For benchmarks and tests of
	 * programs known to be safe only: a bad program can crash the process.
	 */
	UEBPF_PROG_F_TRUSTED = 1u << 1,
	/*
	 * JIT constant blinding, as the kernel's bpf_jit_harden: every immediate the
	 * program supplies is emitted XORed with a random key and decoded at run time, so
	 * that no chosen constant appears in executable memory. The environment variable
	 * UEBPF_JIT_HARDEN does the same for every program (1: checked programs, the
	 * untrusted ones; 2: all), like the sysctl net.core.bpf_jit_harden.
	 */
	UEBPF_PROG_F_JIT_HARDEN = 1u << 2,
};

/*
 * bpf_prog_load() / BPF_PROG_LOAD prog_flags bit, uebpf's own: load without the verifier.
 * The program then runs in checked mode (UEBPF_PROG_F_CHECKED: every memory access
 * checked at run time, an instruction budget). Every other load is verified first, as
 * the kernel verifies it, and runs without runtime checks. For tests and tools that must
 * run bytecode the verifier refuses (conformance vectors, fuzzers).
 */
#define UEBPF_F_PROG_UNVERIFIED (1u << 31)

/* A helper: r0 = fn(r1, r2, r3, r4, r5). */
typedef uint64_t (*uebpf_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				    uint64_t r5);

/* Argument types of a helper's prototype (the kernel's enum bpf_arg_type). */
enum uebpf_arg_type {
	UEBPF_ARG_NONE = 0,		/* no more arguments */
	UEBPF_ARG_ANYTHING,		/* any scalar */
	UEBPF_ARG_CONST_MAP_PTR,	/* a map of the program */
	UEBPF_ARG_PTR_TO_MAP_KEY,	/* key_size readable bytes of the previous map */
	UEBPF_ARG_PTR_TO_MAP_VALUE,	/* value_size readable bytes */
	UEBPF_ARG_PTR_TO_MEM,		/* readable memory; the next argument is its size */
	UEBPF_ARG_PTR_TO_UNINIT_MEM,	/* writable memory; the next argument is its size */
	UEBPF_ARG_CONST_SIZE,		/* a size > 0 */
	UEBPF_ARG_CONST_SIZE_OR_ZERO,	/* a size >= 0 */
	UEBPF_ARG_PTR_TO_CTX,		/* the program's context */
};

enum uebpf_ret_type {
	UEBPF_RET_INTEGER = 0,
	UEBPF_RET_VOID,
	UEBPF_RET_PTR_TO_MAP_VALUE_OR_NULL,
};

struct uebpf_helper {
	uint32_t id;		/* the number in `call N` */
	const char *name;
	uebpf_helper_fn fn;
	/* The prototype that calls are checked against (zero: returns an integer, and
	 * takes no checked arguments). */
	uint8_t ret;		/* enum uebpf_ret_type */
	uint8_t args[5];	/* enum uebpf_arg_type */
};

/*
 * Adds a helper to the process-wide table, for programs of the types that allow it
 * (uebpf_prog_type_register). The id must not be one of the kernel's helpers that
 * uebpf implements (-EEXIST). Returns 0 or a negative errno.
 */
UEBPF_API int uebpf_helper_register(const struct uebpf_helper *helper);

/* A program type of the embedder's own, loaded through bpf_prog_load() with its id. */
struct uebpf_prog_type_opts {
	size_t sz;
	const char *name;
	uint32_t ctx_size;		/* bytes of the context the program gets in r1 */
	const uint32_t *helper_ids;	/* registered helpers this type may call */
	size_t helper_cnt;
	int base_helpers;		/* also the kernel's helpers every type has */
};

/* Registers a program type; returns its id (>= 0x20000) or a negative errno. */
UEBPF_API int uebpf_prog_type_register(const struct uebpf_prog_type_opts *opts);

/*
 * The program behind a program fd (from bpf_prog_load), to run directly with
 * uebpf_prog_run(). Valid while the fd stays open; NULL (errno set) if fd is no program.
 */
UEBPF_API struct uebpf_prog *uebpf_prog_from_fd(int prog_fd);

struct uebpf_prog_opts {
	size_t sz;
	enum uebpf_engine engine;
	uint32_t flags;			/* UEBPF_PROG_F_* */
	uint64_t insn_budget;		/* checked mode: instructions per run, 0 = 100 million */
	/* Helpers this program may call, replacing the default (kernel) table when set. */
	const struct uebpf_helper *helpers;
	size_t helper_cnt;
	char *log_buf;			/* load-time messages, like the kernel's log_buf */
	size_t log_size;
	size_t ctx_size;		/* checked mode: bytes readable and writable at r1 */
};

/* Loads a program: validates it and prepares it to run. *progp is set on success. */
UEBPF_API int uebpf_prog_new(const struct bpf_insn *insns, size_t insn_cnt,
			     const struct uebpf_prog_opts *opts, struct uebpf_prog **progp);
UEBPF_API void uebpf_prog_free(struct uebpf_prog *prog);

struct uebpf_run_opts {
	size_t sz;
	void *ctx;		/* r1 */
	size_t ctx_size;	/* r2, and the bytes the program may touch at ctx (checked mode) */
	void *data;		/* packet for LD_ABS/LD_IND; defaults to ctx */
	size_t data_size;
	uint64_t retval;	/* out: r0 */
	char *err_buf;		/* out: why a checked run stopped */
	size_t err_size;
};

/* Runs a program once. Returns 0 (result in opts->retval) or a negative errno. */
UEBPF_API int uebpf_prog_run_opts(struct uebpf_prog *prog, struct uebpf_run_opts *opts);

/* The fast path for embedders: r1 = ctx, returns r0. No checks beyond the program's own. */
UEBPF_API uint64_t uebpf_prog_run(const struct uebpf_prog *prog, void *ctx);

/*
 * Disassembles the JIT's machine code of prog (capstone, AT&T syntax), each block under
 * the eBPF instruction it comes from; opcodes: also the bytes of each instruction.
 * Returns 0, -ENOENT if prog was not JIT-compiled, or -EIO if no disassembler opens.
 */
UEBPF_API int uebpf_prog_dump_jited(const struct uebpf_prog *prog, FILE *out, int opcodes);

/* ---- The bpf() command interface ---- */

/*
 * Mirrors the bpf(2) syscall with the kernel's union bpf_attr: returns >= 0 on success,
 * or -1 with errno set as the kernel would set it for the same request.
 */
UEBPF_API int uebpf_bpf(int cmd, union bpf_attr *attr, unsigned int size);

/* A message about the calling thread's last failed uebpf_bpf() call, or "". */
UEBPF_API const char *uebpf_last_error(void);

/*
 * bpf_obj_pin() with the pinned file's mode (permission bits only, e.g. 0640) instead of
 * the default 0600. A map has one file, linked at each of its pins: the mode is the map's,
 * for all its pins. Opening a pin (bpf_obj_get) needs read permission on the file, and
 * write permission too unless BPF_F_RDONLY is asked; a pin owned by another user (not root)
 * that its group or others may write, or one in a directory anyone may write without the
 * sticky bit, is refused (EACCES). docs/security.md has the rules. 0 or -errno.
 */
UEBPF_API int uebpf_obj_pin_mode(int fd, const char *path, unsigned int mode);

/* ---- Assembler and disassembler ---- */

enum uebpf_syntax {
	UEBPF_SYNTAX_LLVM = 0,	/* r0 = *(u32 *)(r1 + 4): llvm-objdump and verifier-log style */
	UEBPF_SYNTAX_CONF = 1,	/* ldxw %r0, [%r1+4]: bpf_conformance style */
};

/*
 * Assembles text (either syntax, mixed freely). On success *insns is malloc'd (free it)
 * and *insn_cnt set. On error: -EINVAL with "LINE:COL: reason" in err_buf.
 */
UEBPF_API int uebpf_asm(const char *text, size_t len, struct bpf_insn **insns,
			size_t *insn_cnt, char *err_buf, size_t err_size);

/* Disassembles insns[i] into buf (snprintf semantics). */
UEBPF_API int uebpf_disasm_insn(const struct bpf_insn *insns, size_t insn_cnt, size_t i,
				enum uebpf_syntax syntax, char *buf, size_t size);

/* Structural validation only; messages in log_buf. Returns 0 or -EINVAL. */
UEBPF_API int uebpf_validate(const struct bpf_insn *insns, size_t insn_cnt, char *log_buf,
			     size_t log_size);

/* ---- Packet programs: where a test run sent the packet ---- */

/*
 * A target a packet program chose: bpf_redirect(ifindex, flags), bpf_redirect_map(map,
 * key, flags) or bpf_clone_redirect(skb, ifindex, flags). uebpf has no devices, so nothing
 * is transmitted: the target is recorded for the caller to act on.
 */
struct uebpf_redirect {
	uint32_t ifindex;	/* the device: bpf_redirect's, or a devmap slot's; 0 if none */
	uint32_t map_id;	/* bpf_redirect_map: the map's id, else 0 */
	uint32_t map_type;	/* ... and its type (BPF_MAP_TYPE_DEVMAP, _CPUMAP, _XSKMAP ...) */
	uint32_t key;		/* ... and the key (a devmap slot, a CPU, an XSK queue) */
	uint64_t flags;		/* the helper's flags (BPF_F_INGRESS, BPF_F_BROADCAST ...) */
};

#define UEBPF_PKT_MAX_CLONES 16

struct uebpf_pkt_outcome {
	size_t sz;
	uint32_t action;	/* the program's return value (XDP_TX, TC_ACT_REDIRECT ...) */
	/* 1 when action is XDP_REDIRECT or TC_ACT_REDIRECT and a helper set the target
	 * below (as the kernel's xdp_do_redirect() / skb_do_redirect() would use it). For a
	 * BPF_F_BROADCAST redirect, map_id names the devmap whose every slot is a target. */
	int redirected;
	struct uebpf_redirect target;
	/* XDP_TX: the device the packet goes back out of (the test run's ingress device). */
	uint32_t tx_ifindex;
	uint32_t nr_clones;	/* bpf_clone_redirect() calls that succeeded */
	struct uebpf_redirect clones[UEBPF_PKT_MAX_CLONES];	/* the first ones */
};

/*
 * BPF_PROG_TEST_RUN for XDP, tc and socket-filter programs, as bpf_prog_test_run_opts()
 * (same options, same results), that also reports where the packet went. The kernel's
 * test run without live frames returns only the action; this says which device, map slot
 * or CPU a redirect chose. Returns 0 or a negative errno; out may be NULL.
 */
struct bpf_test_run_opts;
UEBPF_API int uebpf_prog_test_run_pkt(int prog_fd, struct bpf_test_run_opts *opts,
				      struct uebpf_pkt_outcome *out);

/* ---- The routing table of bpf_fib_lookup() ---- */

/*
 * uebpf does not read the host's routes: bpf_fib_lookup() answers from a process-wide
 * model network that user space declares here, with the kernel's rules (see
 * docs/packets.md): devices (an ifindex not declared is -ENODEV), routes in tables
 * (longest prefix, then lowest metric; without BPF_FIB_LOOKUP_DIRECT the kernel's default
 * rules: IPv4 main merged with local (255), then default (253); IPv6 local then main), and
 * neighbours (no neighbour for the next hop: BPF_FIB_LKUP_RET_NO_NEIGH). Calls return 0 or
 * a negative errno.
 */
struct uebpf_fib_dev {
	size_t sz;
	uint32_t ifindex;
	uint8_t mac[6];		/* smac of lookups that leave through this device */
	uint32_t mtu;		/* 0: 1500 */
	int forwarding;		/* 0: lookups arriving here give BPF_FIB_LKUP_RET_FWD_DISABLED */
	uint8_t addr4[4];	/* source for BPF_FIB_LOOKUP_SRC when a route has none (0: none) */
	uint8_t addr6[16];
};

struct uebpf_fib_route {
	size_t sz;
	int family;		/* AF_INET or AF_INET6 */
	uint8_t dst[16];	/* the prefix, network byte order (first 4 bytes for IPv4) */
	uint8_t prefix_len;
	uint8_t type;		/* RTN_UNICAST (0 means it too), RTN_LOCAL, RTN_BLACKHOLE,
				 * RTN_UNREACHABLE, RTN_PROHIBIT, ... */
	uint32_t table;		/* 0: RT_TABLE_MAIN (254) */
	uint32_t ifindex;	/* the output device of a unicast route (declared) */
	int gw_family;		/* 0: directly connected; AF_INET or AF_INET6 gateway */
	uint8_t gw[16];
	uint8_t prefsrc[16];	/* preferred source (all zero: none) */
	uint32_t metric;	/* priority; reported as rt_metric */
	uint32_t mtu;		/* 0: the device's MTU. IPv4: a locked MTU (`mtu lock N`),
				 * the only kind the kernel applies to forwarded packets */
};

struct uebpf_fib_neigh {
	size_t sz;
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint32_t ifindex;
	uint8_t mac[6];
};

UEBPF_API int uebpf_fib_add_dev(const struct uebpf_fib_dev *dev);	/* replaces */
UEBPF_API int uebpf_fib_add_route(const struct uebpf_fib_route *route);	/* -EEXIST */
UEBPF_API int uebpf_fib_add_neigh(const struct uebpf_fib_neigh *neigh);	/* replaces */
/* Forgets every device, route and neighbour. */
UEBPF_API void uebpf_fib_clear(void);

#ifdef __cplusplus
}
#endif
#endif
