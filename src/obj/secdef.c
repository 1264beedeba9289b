/*
 * ub_sec: program type from the ELF section name, as libbpf's SEC() table (libbpf 1.x:
 * "name" must match exactly, "name+" means the name alone or followed by '/' and an
 * attach target). uebpf adds its own types: "seccomp" (UEBPF_PROG_TYPE_SECCOMP, a
 * struct seccomp_data context) and "uebpf_lsm/<hook>" (UEBPF_PROG_TYPE_LSM).
 *
 * Rows with a reason are types whose hook exists only inside the kernel: such programs
 * open and relocate, and load refuses them with that reason.
 */
#include <string.h>
#include <uebpf/uebpf.h>
#include "obj/bo.h"
#include "progs/progs.h"

/* Newer than Debian's <linux/bpf.h> (values from the kernel's UAPI). */
#define UB_PROG_TYPE_NETFILTER 32u
#define UB_TCX_INGRESS 46u
#define UB_TCX_EGRESS 47u

#define E UB_SEC_EXACT
#define S UB_SEC_SLASH
#define KFUNC "attaches to a kernel function through BTF (fentry/fexit/fmod_ret); no kernel functions run in user space"
#define KONLY(what) "a " what " program runs only inside the kernel"

static const struct ub_secdef defs[] = {
	{ "socket", BPF_PROG_TYPE_SOCKET_FILTER, 0, E, NULL },
	{ "sk_reuseport/migrate", BPF_PROG_TYPE_SK_REUSEPORT, 0, E, KONLY("sk_reuseport") },
	{ "sk_reuseport", BPF_PROG_TYPE_SK_REUSEPORT, 0, E, KONLY("sk_reuseport") },
	{ "kprobe", BPF_PROG_TYPE_KPROBE, 0, S, NULL },
	{ "uprobe", BPF_PROG_TYPE_KPROBE, 0, S, NULL },
	{ "uprobe.s", BPF_PROG_TYPE_KPROBE, 0, S | UB_SEC_SLEEPABLE, NULL },
	{ "kretprobe", BPF_PROG_TYPE_KPROBE, 0, S, NULL },
	{ "uretprobe", BPF_PROG_TYPE_KPROBE, 0, S, NULL },
	{ "uretprobe.s", BPF_PROG_TYPE_KPROBE, 0, S | UB_SEC_SLEEPABLE, NULL },
	{ "kprobe.multi", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, S, NULL },
	{ "kretprobe.multi", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, S, NULL },
	{ "uprobe.multi", BPF_PROG_TYPE_KPROBE, 0, S, NULL },
	{ "uretprobe.multi", BPF_PROG_TYPE_KPROBE, 0, S, NULL },
	{ "ksyscall", BPF_PROG_TYPE_KPROBE, 0, S, NULL },
	{ "kretsyscall", BPF_PROG_TYPE_KPROBE, 0, S, NULL },
	{ "usdt", BPF_PROG_TYPE_KPROBE, 0, S, NULL },
	{ "usdt.s", BPF_PROG_TYPE_KPROBE, 0, S | UB_SEC_SLEEPABLE, NULL },
	{ "tc/ingress", BPF_PROG_TYPE_SCHED_CLS, UB_TCX_INGRESS, E, NULL },
	{ "tc/egress", BPF_PROG_TYPE_SCHED_CLS, UB_TCX_EGRESS, E, NULL },
	{ "tcx/ingress", BPF_PROG_TYPE_SCHED_CLS, UB_TCX_INGRESS, E, NULL },
	{ "tcx/egress", BPF_PROG_TYPE_SCHED_CLS, UB_TCX_EGRESS, E, NULL },
	{ "tc", BPF_PROG_TYPE_SCHED_CLS, 0, E, NULL },
	{ "classifier", BPF_PROG_TYPE_SCHED_CLS, 0, E, NULL },
	{ "action", BPF_PROG_TYPE_SCHED_ACT, 0, E, NULL },
	{ "tracepoint", BPF_PROG_TYPE_TRACEPOINT, 0, S, NULL },
	{ "tp", BPF_PROG_TYPE_TRACEPOINT, 0, S, NULL },
	{ "raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, S, NULL },
	{ "raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, S, NULL },
	{ "raw_tracepoint.w", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, S, KONLY("writable raw tracepoint") },
	{ "raw_tp.w", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, S, KONLY("writable raw tracepoint") },
	{ "tp_btf", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, S,
	  "a BTF-typed tracepoint (tp_btf) takes its arguments from a kernel tracepoint; none run in user space" },
	{ "fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, S, KFUNC },
	{ "fmod_ret", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, S, KFUNC },
	{ "fexit", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, S, KFUNC },
	{ "fentry.s", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, S | UB_SEC_SLEEPABLE, KFUNC },
	{ "fmod_ret.s", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, S | UB_SEC_SLEEPABLE, KFUNC },
	{ "fexit.s", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, S | UB_SEC_SLEEPABLE, KFUNC },
	{ "freplace", BPF_PROG_TYPE_EXT, 0, S, "an freplace program replaces a function of a loaded kernel program (needs its BTF)" },
	{ "lsm", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, S, "a kernel LSM hook; use SEC(\"uebpf_lsm/<hook>\") for uebpf's own policy hooks" },
	{ "lsm.s", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, S | UB_SEC_SLEEPABLE, "a kernel LSM hook; use SEC(\"uebpf_lsm/<hook>\") for uebpf's own policy hooks" },
	{ "lsm_cgroup", BPF_PROG_TYPE_LSM, BPF_LSM_CGROUP, S, KONLY("cgroup LSM") },
	{ "iter", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, S, "a BPF iterator walks kernel objects (tasks, maps, sockets)" },
	{ "iter.s", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, S | UB_SEC_SLEEPABLE, "a BPF iterator walks kernel objects (tasks, maps, sockets)" },
	{ "syscall", BPF_PROG_TYPE_SYSCALL, 0, E | UB_SEC_SLEEPABLE, NULL },
	{ "xdp.frags/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, E | UB_SEC_FRAGS, NULL },
	{ "xdp/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, E, NULL },
	{ "xdp.frags/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, E | UB_SEC_FRAGS, NULL },
	{ "xdp/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, E, NULL },
	{ "xdp.frags", BPF_PROG_TYPE_XDP, BPF_XDP, E | UB_SEC_FRAGS, NULL },
	{ "xdp", BPF_PROG_TYPE_XDP, BPF_XDP, S, NULL },
	{ "perf_event", BPF_PROG_TYPE_PERF_EVENT, 0, E, NULL },
	{ "lwt_in", BPF_PROG_TYPE_LWT_IN, 0, E, KONLY("lightweight tunnel") },
	{ "lwt_out", BPF_PROG_TYPE_LWT_OUT, 0, E, KONLY("lightweight tunnel") },
	{ "lwt_xmit", BPF_PROG_TYPE_LWT_XMIT, 0, E, KONLY("lightweight tunnel") },
	{ "lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL, 0, E, KONLY("lightweight tunnel") },
	{ "sockops", BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS, E, KONLY("sockops") },
	{ "sk_skb/stream_parser", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_PARSER, E, KONLY("sk_skb") },
	{ "sk_skb/stream_verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_VERDICT, E, KONLY("sk_skb") },
	{ "sk_skb", BPF_PROG_TYPE_SK_SKB, 0, S, KONLY("sk_skb") },
	{ "sk_msg", BPF_PROG_TYPE_SK_MSG, BPF_SK_MSG_VERDICT, E, KONLY("sk_msg") },
	{ "lirc_mode2", BPF_PROG_TYPE_LIRC_MODE2, BPF_LIRC_MODE2, E, KONLY("lirc_mode2") },
	{ "flow_dissector", BPF_PROG_TYPE_FLOW_DISSECTOR, BPF_FLOW_DISSECTOR, E, KONLY("flow dissector") },
	{ "cgroup_skb/ingress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS, E, KONLY("cgroup") },
	{ "cgroup_skb/egress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, E, KONLY("cgroup") },
	{ "cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB, 0, E, KONLY("cgroup") },
	{ "cgroup/sock_create", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, E, KONLY("cgroup") },
	{ "cgroup/sock_release", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE, E, KONLY("cgroup") },
	{ "cgroup/sock", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, E, KONLY("cgroup") },
	{ "cgroup/post_bind4", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND, E, KONLY("cgroup") },
	{ "cgroup/post_bind6", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET6_POST_BIND, E, KONLY("cgroup") },
	{ "cgroup/dev", BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, E, KONLY("cgroup") },
	{ "cgroup/sysctl", BPF_PROG_TYPE_CGROUP_SYSCTL, BPF_CGROUP_SYSCTL, E, KONLY("cgroup") },
	{ "cgroup/getsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_GETSOCKOPT, E, KONLY("cgroup") },
	{ "cgroup/setsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT, E, KONLY("cgroup") },
	{ "cgroup/", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, 0, UB_SEC_ANY, KONLY("cgroup") },
	{ "struct_ops", BPF_PROG_TYPE_STRUCT_OPS, 0, S, "struct_ops programs implement kernel function tables" },
	{ "struct_ops.s", BPF_PROG_TYPE_STRUCT_OPS, 0, S | UB_SEC_SLEEPABLE, "struct_ops programs implement kernel function tables" },
	{ "sk_lookup", BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, E, KONLY("sk_lookup") },
	{ "netfilter", UB_PROG_TYPE_NETFILTER, 0, E, KONLY("netfilter") },
	{ "seccomp", UEBPF_PROG_TYPE_SECCOMP, 0, E, NULL },
	{ "uebpf_lsm", UEBPF_PROG_TYPE_LSM, 0, S, NULL },
};

static bool sec_matches(const struct ub_secdef *d, const char *name)
{
	size_t n = strlen(d->prefix);

	if (strncmp(name, d->prefix, n))
		return false;
	if (d->flags & UB_SEC_ANY)
		return true;
	if (d->flags & UB_SEC_SLASH)
		return name[n] == '\0' || name[n] == '/';
	return name[n] == '\0';
}

const struct ub_secdef *ub_sec_find(const char *sec_name)
{
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		if (sec_matches(&defs[i], sec_name))
			return &defs[i];
	return NULL;
}

/* libbpf_bpf_prog_type_str's names, for messages. */
static const char *const type_names[] = {
	[BPF_PROG_TYPE_UNSPEC] = "unspec", [BPF_PROG_TYPE_SOCKET_FILTER] = "socket_filter",
	[BPF_PROG_TYPE_KPROBE] = "kprobe", [BPF_PROG_TYPE_SCHED_CLS] = "sched_cls",
	[BPF_PROG_TYPE_SCHED_ACT] = "sched_act", [BPF_PROG_TYPE_TRACEPOINT] = "tracepoint",
	[BPF_PROG_TYPE_XDP] = "xdp", [BPF_PROG_TYPE_PERF_EVENT] = "perf_event",
	[BPF_PROG_TYPE_CGROUP_SKB] = "cgroup_skb", [BPF_PROG_TYPE_CGROUP_SOCK] = "cgroup_sock",
	[BPF_PROG_TYPE_LWT_IN] = "lwt_in", [BPF_PROG_TYPE_LWT_OUT] = "lwt_out",
	[BPF_PROG_TYPE_LWT_XMIT] = "lwt_xmit", [BPF_PROG_TYPE_SOCK_OPS] = "sock_ops",
	[BPF_PROG_TYPE_SK_SKB] = "sk_skb", [BPF_PROG_TYPE_CGROUP_DEVICE] = "cgroup_device",
	[BPF_PROG_TYPE_SK_MSG] = "sk_msg", [BPF_PROG_TYPE_RAW_TRACEPOINT] = "raw_tracepoint",
	[BPF_PROG_TYPE_CGROUP_SOCK_ADDR] = "cgroup_sock_addr",
	[BPF_PROG_TYPE_LWT_SEG6LOCAL] = "lwt_seg6local", [BPF_PROG_TYPE_LIRC_MODE2] = "lirc_mode2",
	[BPF_PROG_TYPE_SK_REUSEPORT] = "sk_reuseport", [BPF_PROG_TYPE_FLOW_DISSECTOR] = "flow_dissector",
	[BPF_PROG_TYPE_CGROUP_SYSCTL] = "cgroup_sysctl",
	[BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE] = "raw_tracepoint_writable",
	[BPF_PROG_TYPE_CGROUP_SOCKOPT] = "cgroup_sockopt", [BPF_PROG_TYPE_TRACING] = "tracing",
	[BPF_PROG_TYPE_STRUCT_OPS] = "struct_ops", [BPF_PROG_TYPE_EXT] = "ext",
	[BPF_PROG_TYPE_LSM] = "lsm", [BPF_PROG_TYPE_SK_LOOKUP] = "sk_lookup",
	[BPF_PROG_TYPE_SYSCALL] = "syscall", [UB_PROG_TYPE_NETFILTER] = "netfilter",
};

const char *ub_sec_type_name(uint32_t type)
{
	if (type == UEBPF_PROG_TYPE_SECCOMP)
		return "uebpf seccomp";
	if (type == UEBPF_PROG_TYPE_LSM)
		return "uebpf lsm";
	if (type < sizeof(type_names) / sizeof(type_names[0]) && type_names[type])
		return type_names[type];
	return "unknown";
}
