/*
 * sockfilter: loads sockfilter.bpf.o and runs its socket filter over a DNS query, a large
 * DNS query, an HTTP SYN and an ICMP packet. A socket filter returns how many bytes of
 * the packet to keep: 0 drops it.
 *
 *   build/examples/sockfilter/sockfilter build/examples/sockfilter/sockfilter.bpf.o
 */
#include <stdio.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../include/ex_pkt.h"

struct sample {
	const char *what;
	uint8_t proto;
	uint16_t port;
	size_t payload;
	uint32_t keep;		/* what the filter must return */
};

/* DNS (UDP to 53) is kept, trimmed to 128 bytes; everything else dropped. A small query
 * is shorter than 128 bytes: the filter still returns 128 (the kernel then keeps the
 * whole packet, min(len, 128)). */
static const struct sample samples[] = {
	{ "DNS query, 30 bytes", IPPROTO_UDP, 53, 30, 128 },
	{ "DNS query, 400 bytes", IPPROTO_UDP, 53, 400, 128 },
	{ "UDP to port 5353", IPPROTO_UDP, 5353, 30, 0 },
	{ "TCP SYN to port 80", IPPROTO_TCP, 80, 0, 0 },
	{ "ICMP", IPPROTO_ICMP, 0, 16, 0 },
};

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "sockfilter.bpf.o";
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	uint8_t pkt[1024];
	int bad = 0;

	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "sockfilter: cannot open or load %s\n", path);
		return 1;
	}
	int fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "dns_only"));
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *s = &samples[i];
		LIBBPF_OPTS(bpf_test_run_opts, o);
		o.data_in = pkt;
		o.data_size_in = (__u32)ex_pkt_build(pkt, "10.0.0.2", "10.0.0.53", s->proto, s->port,
						     s->payload);
		int err = bpf_prog_test_run_opts(fd, &o);
		printf("%-22s -> keep %u bytes%s\n", s->what, o.retval,
		       !err && o.retval == s->keep ? "" : " (WRONG)");
		bad |= err || o.retval != s->keep;
	}
	bpf_object__close(obj);
	printf("sockfilter: %s\n", bad ? "FAILED" : "ok");
	return bad;
}
