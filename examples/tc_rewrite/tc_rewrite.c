/*
 * tc_rewrite: loads tc_rewrite.bpf.o with the addresses to rewrite set in its read-only
 * global data (10.0.0.1 -> 192.168.7.9), runs the TC program over a UDP packet to
 * 10.0.0.1 and one to 10.0.0.2, and checks the output packets: the first has its
 * destination rewritten and both its checksums still valid, the second is untouched.
 *
 *   build/examples/tc_rewrite/tc_rewrite build/examples/tc_rewrite/tc_rewrite.bpf.o
 */
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../include/ex_pkt.h"

struct rodata { __u32 old_dst, new_dst; };	/* the object's .rodata, in declaration order */

static struct bpf_map *find_rodata(struct bpf_object *obj)
{
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t l = strlen(n);
		if (l >= 7 && !strcmp(n + l - 7, ".rodata"))
			return m;
	}
	return NULL;
}

/* Both checksums of an output packet verify: the sum over the header (or the
 * pseudo-header and segment) including the checksum field folds to 0xffff. */
static int csums_ok(const uint8_t *pkt, size_t len)
{
	struct iphdr ip = ex_pkt_ip(pkt);
	const uint8_t *l4 = pkt + ETH_HLEN + sizeof(ip);
	size_t l4len = len - ETH_HLEN - sizeof(ip);
	return ex_csum_add(0, &ip, sizeof(ip)) == 0xffff && ex_l4_csum(&ip, l4, l4len) == 0;
}

static int run(int fd, const char *dst, uint8_t *out, size_t *outlen)
{
	uint8_t pkt[256];
	LIBBPF_OPTS(bpf_test_run_opts, o);

	o.data_in = pkt;
	o.data_size_in = (__u32)ex_pkt_build(pkt, "10.0.0.2", dst, IPPROTO_UDP, 53, 12);
	o.data_out = out;
	o.data_size_out = 256;
	int err = bpf_prog_test_run_opts(fd, &o);
	*outlen = o.data_size_out;
	return err ? err : (int)o.retval;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "tc_rewrite.bpf.o";
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct rodata ro;
	uint8_t out[256];
	size_t len;
	char addr[INET_ADDRSTRLEN];
	int bad = 0;

	struct bpf_map *rodata = obj ? find_rodata(obj) : NULL;
	if (!rodata) {
		fprintf(stderr, "tc_rewrite: cannot open %s or find its .rodata\n", path);
		return 1;
	}
	inet_pton(AF_INET, "10.0.0.1", &ro.old_dst);
	inet_pton(AF_INET, "192.168.7.9", &ro.new_dst);
	if (bpf_map__set_initial_value(rodata, &ro, sizeof(ro)) || bpf_object__load(obj)) {
		fprintf(stderr, "tc_rewrite: cannot load %s\n", path);
		return 1;
	}
	int fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "tc_dnat"));
	static const struct { const char *dst, *want; } cases[] = {
		{ "10.0.0.1", "192.168.7.9" }, { "10.0.0.2", "10.0.0.2" },
	};
	for (int i = 0; i < 2; i++) {
		int rc = run(fd, cases[i].dst, out, &len);
		struct iphdr ip = ex_pkt_ip(out);
		inet_ntop(AF_INET, &ip.daddr, addr, sizeof(addr));
		int ok = rc == 0 && !strcmp(addr, cases[i].want) && csums_ok(out, len);
		printf("UDP to %-9s -> to %-12s checksums %s%s\n", cases[i].dst, addr,
		       csums_ok(out, len) ? "valid" : "BROKEN", ok ? "" : " (WRONG)");
		bad |= !ok;
	}
	bpf_object__close(obj);
	printf("tc_rewrite: %s\n", bad ? "FAILED" : "ok");
	return bad;
}
