/*
 * xdp_firewall: loads xdp_firewall.bpf.o, blocks source 10.0.0.66 and destination ports
 * 23 (telnet) and 445 (SMB), runs the firewall over every packet of a capture file read
 * with libpcap, and prints the verdict counts (summed over the per-CPU counters).
 *
 *   xdp_firewall OBJ --write-pcap FILE   writes the sample traffic (its own generator)
 *   xdp_firewall OBJ FILE                runs the firewall over FILE
 *   xdp_firewall OBJ                     both, with the sample traffic in memory, and
 *                                        checks the counts against the expected ones
 */
/* libpcap's own (classic BPF) struct bpf_insn and bpf_program would clash with the eBPF
 * ones of <linux/bpf.h>, which <bpf/bpf.h> includes: rename them while pcap.h is read. */
#define bpf_insn pcap_bpf_insn
#define bpf_program pcap_bpf_program
#include <pcap/pcap.h>
#undef bpf_insn
#undef bpf_program
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../include/ex_pkt.h"

/* The sample traffic: 20 packets, each with the verdict the rules give it. */
struct sample { const char *src; uint8_t proto; uint16_t port; int verdict; };
static const struct sample traffic[] = {
	{ "10.0.0.5", IPPROTO_TCP, 80, XDP_PASS },   { "10.0.0.5", IPPROTO_TCP, 23, XDP_DROP },
	{ "10.0.0.66", IPPROTO_TCP, 80, XDP_DROP },  { "10.0.0.7", IPPROTO_UDP, 53, XDP_PASS },
	{ "10.0.0.7", IPPROTO_UDP, 445, XDP_DROP },  { "10.0.0.66", IPPROTO_UDP, 53, XDP_DROP },
	{ "10.0.0.8", IPPROTO_ICMP, 0, XDP_PASS },   { "10.0.0.66", IPPROTO_ICMP, 0, XDP_DROP },
	{ "10.0.0.9", IPPROTO_TCP, 443, XDP_PASS },  { "10.0.0.9", IPPROTO_TCP, 445, XDP_DROP },
	{ "10.0.0.10", IPPROTO_TCP, 22, XDP_PASS },  { "10.0.0.10", IPPROTO_UDP, 123, XDP_PASS },
	{ "10.0.0.11", IPPROTO_TCP, 8080, XDP_PASS }, { "10.0.0.66", IPPROTO_TCP, 443, XDP_DROP },
	{ "10.0.0.12", IPPROTO_UDP, 23, XDP_DROP },  { "10.0.0.12", IPPROTO_TCP, 25, XDP_PASS },
	{ "10.0.0.13", IPPROTO_TCP, 80, XDP_PASS },  { "10.0.0.13", IPPROTO_TCP, 80, XDP_PASS },
	{ "10.0.0.14", IPPROTO_UDP, 5353, XDP_PASS }, { "10.0.0.66", IPPROTO_UDP, 5353, XDP_DROP },
};
#define NSAMPLES (sizeof(traffic) / sizeof(traffic[0]))

static size_t sample_pkt(size_t i, uint8_t *buf)
{
	return ex_pkt_build(buf, traffic[i].src, "10.0.0.1", traffic[i].proto, traffic[i].port, 16);
}

static int write_pcap(const char *file)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = dead ? pcap_dump_open(dead, file) : NULL;
	uint8_t buf[256];

	if (!d) {
		fprintf(stderr, "xdp_firewall: %s: %s\n", file, dead ? pcap_geterr(dead) : "pcap");
		return 1;
	}
	for (size_t i = 0; i < NSAMPLES; i++) {
		struct pcap_pkthdr h = { .ts = { (time_t)i, 0 } };
		h.caplen = h.len = (bpf_u_int32)sample_pkt(i, buf);
		pcap_dump((u_char *)d, &h, buf);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	printf("wrote %zu packets to %s\n", NSAMPLES, file);
	return 0;
}

static int block(struct bpf_object *obj)
{
	int src = bpf_map__fd(bpf_object__find_map_by_name(obj, "blocked_src"));
	int port = bpf_map__fd(bpf_object__find_map_by_name(obj, "blocked_port"));
	__u32 addr;
	__u16 ports[] = { 23, 445 };
	__u8 one = 1;

	inet_pton(AF_INET, "10.0.0.66", &addr);
	int err = bpf_map_update_elem(src, &addr, &one, BPF_ANY);
	for (int i = 0; i < 2 && !err; i++)
		err = bpf_map_update_elem(port, &ports[i], &one, BPF_ANY);
	return err;
}

static int run_one(int fd, const uint8_t *pkt, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len);
	return bpf_prog_test_run_opts(fd, &o) ? -1 : (int)o.retval;
}

static int run_pcap(int fd, const char *file)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(file, err);
	struct pcap_pkthdr *h;
	const u_char *data;
	int n = 0;

	if (!p) {
		fprintf(stderr, "xdp_firewall: %s\n", err);
		return -1;
	}
	while (pcap_next_ex(p, &h, &data) == 1) {
		if (run_one(fd, data, h->caplen) < 0)
			fprintf(stderr, "xdp_firewall: packet %d: test run failed\n", n);
		n++;
	}
	pcap_close(p);
	return n;
}

/* Sums the per-CPU counters of each verdict (one slot per possible CPU). */
static void verdict_counts(struct bpf_object *obj, __u64 *sum)
{
	int fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "verdicts"));
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*vals));

	for (__u32 k = 0; k < 5; k++) {
		sum[k] = 0;
		if (vals && !bpf_map_lookup_elem(fd, &k, vals))
			for (int c = 0; c < ncpu; c++)
				sum[k] += vals[c];
	}
	free(vals);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					     "XDP_REDIRECT" };
	const char *path = argc > 1 ? argv[1] : "xdp_firewall.bpf.o";

	if (argc > 3 && !strcmp(argv[2], "--write-pcap"))
		return write_pcap(argv[3]);
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj || bpf_object__load(obj) || block(obj)) {
		fprintf(stderr, "xdp_firewall: cannot open, load or configure %s\n", path);
		return 1;
	}
	int fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdp_firewall"));
	__u64 want[5] = { 0 }, got[5];
	int bad = 0;
	if (argc > 2) {
		printf("%d packets from %s\n", run_pcap(fd, argv[2]), argv[2]);
	} else {
		uint8_t buf[256];
		for (size_t i = 0; i < NSAMPLES; i++) {
			int v = run_one(fd, buf, sample_pkt(i, buf));
			bad |= v != traffic[i].verdict;
			want[traffic[i].verdict]++;
		}
	}
	verdict_counts(obj, got);
	for (int k = 0; k < 5; k++)
		if (got[k] || want[k])
			printf("%-12s %llu\n", names[k], (unsigned long long)got[k]);
	if (argc <= 2) {
		bad |= memcmp(got, want, sizeof(got)) != 0;
		printf("xdp_firewall: %s\n", bad ? "FAILED" : "ok");
	}
	bpf_object__close(obj);
	return bad;
}
