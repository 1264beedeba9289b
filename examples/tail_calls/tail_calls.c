/*
 * tail_calls: loads tail_calls.bpf.o, puts the TCP handler in slot 6 (IPPROTO_TCP) and the
 * UDP handler in slot 17 (IPPROTO_UDP) of the prog array, then runs the dispatcher over
 * a TCP, a UDP and an ICMP packet. TCP is dropped by its handler, UDP passed by its
 * handler, ICMP has no handler and the dispatcher passes it.
 *
 *   build/examples/tail_calls/tail_calls build/examples/tail_calls/tail_calls.bpf.o
 */
#include <stdio.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../include/ex_pkt.h"

static int run(int fd, uint8_t proto, __u32 *retval)
{
	uint8_t pkt[256];
	LIBBPF_OPTS(bpf_test_run_opts, o);

	o.data_in = pkt;
	o.data_size_in = (__u32)ex_pkt_build(pkt, "10.0.0.2", "10.0.0.1", proto, 80, 8);
	int err = bpf_prog_test_run_opts(fd, &o);
	*retval = o.retval;
	return err;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "tail_calls.bpf.o";
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	static const struct { const char *name; uint8_t proto; __u32 want; } cases[] = {
		{ "TCP", IPPROTO_TCP, XDP_DROP }, { "UDP", IPPROTO_UDP, XDP_PASS },
		{ "ICMP", IPPROTO_ICMP, XDP_PASS },
	};
	static const char *const verdict[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };
	int bad = 0;

	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "tail_calls: cannot open or load %s\n", path);
		return 1;
	}
	int table = bpf_map__fd(bpf_object__find_map_by_name(obj, "handlers"));
	int seen = bpf_map__fd(bpf_object__find_map_by_name(obj, "seen"));
	int disp = bpf_program__fd(bpf_object__find_program_by_name(obj, "dispatch"));
	__u32 k_tcp = IPPROTO_TCP, k_udp = IPPROTO_UDP;
	int f_tcp = bpf_program__fd(bpf_object__find_program_by_name(obj, "handle_tcp"));
	int f_udp = bpf_program__fd(bpf_object__find_program_by_name(obj, "handle_udp"));
	if (bpf_map_update_elem(table, &k_tcp, &f_tcp, BPF_ANY) ||
	    bpf_map_update_elem(table, &k_udp, &f_udp, BPF_ANY)) {
		fprintf(stderr, "tail_calls: cannot fill the prog array\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u32 r = 99;
		int err = run(disp, cases[i].proto, &r);
		printf("%-5s -> XDP_%s%s\n", cases[i].name, r < 5 ? verdict[r] : "?",
		       !err && r == cases[i].want ? "" : " (WRONG)");
		bad |= err || r != cases[i].want;
	}
	/* Each handler ran once (the ICMP packet reached none). */
	__u32 keys[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };
	__u64 want[] = { 1, 1, 0 };
	for (int i = 0; i < 3; i++) {
		__u64 n = 99;
		bpf_map_lookup_elem(seen, &keys[i], &n);
		printf("handler for protocol %u ran %llu times%s\n", keys[i], (unsigned long long)n,
		       n == want[i] ? "" : " (WRONG)");
		bad |= n != want[i];
	}
	bpf_object__close(obj);
	printf("tail_calls: %s\n", bad ? "FAILED" : "ok");
	return bad;
}
