/*
 * cli_names: map and program type names, as bpftool prints and parses them (libbpf's
 * libbpf_bpf_map_type_str / libbpf_bpf_prog_type_str tables, indexed by the UAPI enums).
 */
#include <string.h>
#include <linux/bpf.h>
#include "cli.h"

/* uebpf's own program types (src/progs/progs.h); they have no kernel number. */
#define CLI_PROG_TYPE_SECCOMP 0x10000u
#define CLI_PROG_TYPE_UEBPF_LSM 0x10001u

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const map_names[] = {
	"unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash",
	"percpu_array", "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash",
	"lpm_trie", "array_of_maps", "hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap",
	"sockhash", "cgroup_storage", "reuseport_sockarray", "percpu_cgroup_storage", "queue",
	"stack", "sk_storage", "devmap_hash", "struct_ops", "ringbuf", "inode_storage",
	"task_storage", "bloom_filter", "user_ringbuf", "cgrp_storage", "arena",
};

static const char *const prog_names[] = {
	"unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
	"perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops",
	"sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr",
	"lwt_seg6local", "lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl",
	"raw_tracepoint_writable", "cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm",
	"sk_lookup", "syscall", "netfilter",
};

const char *cli_map_type_name(uint32_t type)
{
	return type < N(map_names) ? map_names[type] : NULL;
}

const char *cli_prog_type_name(uint32_t type)
{
	if (type == CLI_PROG_TYPE_SECCOMP)
		return "seccomp";
	if (type == CLI_PROG_TYPE_UEBPF_LSM)
		return "uebpf_lsm";
	return type < N(prog_names) ? prog_names[type] : NULL;
}

int cli_map_type_by_name(const char *name, uint32_t *type)
{
	for (uint32_t i = 1; i < N(map_names); i++) {
		if (!strcmp(map_names[i], name)) {
			*type = i;
			return 0;
		}
	}
	return -1;
}

/* bpftool's `prog load ... type TYPE` takes section names (libbpf_prog_type_by_name). */
static const struct {
	const char *name;
	uint32_t type;
} sec_types[] = {
	{ "socket", BPF_PROG_TYPE_SOCKET_FILTER },
	{ "kprobe", BPF_PROG_TYPE_KPROBE },
	{ "kretprobe", BPF_PROG_TYPE_KPROBE },
	{ "uprobe", BPF_PROG_TYPE_KPROBE },
	{ "uretprobe", BPF_PROG_TYPE_KPROBE },
	{ "classifier", BPF_PROG_TYPE_SCHED_CLS },
	{ "tc", BPF_PROG_TYPE_SCHED_CLS },
	{ "action", BPF_PROG_TYPE_SCHED_ACT },
	{ "tracepoint", BPF_PROG_TYPE_TRACEPOINT },
	{ "tp", BPF_PROG_TYPE_TRACEPOINT },
	{ "raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT },
	{ "raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT },
	{ "xdp", BPF_PROG_TYPE_XDP },
	{ "perf_event", BPF_PROG_TYPE_PERF_EVENT },
	{ "syscall", BPF_PROG_TYPE_SYSCALL },
	{ "seccomp", CLI_PROG_TYPE_SECCOMP },
	{ "uebpf_lsm", CLI_PROG_TYPE_UEBPF_LSM },
};

int cli_prog_type_by_name(const char *name, uint32_t *type)
{
	for (size_t i = 0; i < N(sec_types); i++) {
		if (!strcmp(sec_types[i].name, name)) {
			*type = sec_types[i].type;
			return 0;
		}
	}
	return -1;
}
