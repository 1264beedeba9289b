// SPDX-License-Identifier: MIT
/*
 * ringbuf_events: every run sends one event (PID, a sequence number, the context's first
 * argument, the command name) to user space through a BPF ring buffer; user space reads
 * them with ring_buffer__poll. A global counter numbers the events.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u32 seq;
	__u64 arg;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);	/* room for every event of the example */
} events SEC(".maps");

__u32 seq = 0;		/* .bss: numbers the events */
__u64 dropped = 0;	/* events the ring buffer had no room for */

SEC("raw_tracepoint/sys_enter")
int send_event(struct bpf_raw_tracepoint_args *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->seq = __sync_fetch_and_add(&seq, 1);
	e->arg = ctx->args[0];
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
