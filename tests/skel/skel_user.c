/*
 * The user side of tests/skel.sh: a loader written against a generated skeleton, as one
 * would against bpftool's. Expected values follow from skel_test.bpf.c (worked out below).
 */
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "skel_test.h"
#include "skel_test.skel.h"

static int fails, checks;
#define CHECK(c, ...) do { checks++; if (!(c)) { fails++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
	printf(__VA_ARGS__); printf("\n"); } } while (0)

static int run_xdp(struct skel_test_bpf *s)
{
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));
	int err = bpf_prog_test_run_opts(bpf_program__fd(s->progs.count_xdp), &o);
	return err ? err : (int)o.retval;
}

int main(void)
{
	struct skel_test_bpf *s = skel_test_bpf__open();

	CHECK(s, "open");
	if (!s)
		goto out;
	/* before load: the initial values from the object */
	CHECK(s->rodata->limit == 10, "rodata limit %d", s->rodata->limit);
	CHECK(s->data->total == 5 && !strcmp(s->data->name, "hello"), "data");
	CHECK(s->data_extra->extra == 7, "custom section: %d", s->data_extra->extra);
	CHECK(s->bss->counter == 0, "bss");
	s->rodata->limit = 100;		/* a constant chosen by user space before load */
	CHECK(!skel_test_bpf__load(s), "load");
	CHECK(bpf_program__fd(s->progs.count_xdp) >= 0 && bpf_program__fd(s->progs.sock_prog) >= 0,
	      "program fds");
	CHECK(!skel_test_bpf__attach(s), "attach (xdp/socket: nothing to auto-attach)");
	/* run 1: counter 0 -> 1, total 5 + 100 + 3 = 108, last = {1, 108}, extra 8 */
	CHECK(run_xdp(s) == 2 /* XDP_PASS */, "run");
	CHECK(s->bss->counter == 1, "counter %d", s->bss->counter);
	CHECK(s->data->total == 108, "total %ld", s->data->total);
	CHECK(s->bss->last.a == 1 && s->bss->last.b == 108, "last {%d, %ld}", s->bss->last.a,
	      s->bss->last.b);
	CHECK(s->data_extra->extra == 8, "extra %d", s->data_extra->extra);
	/* user space writes .bss through the skeleton; the program sees it: 41 -> 42 */
	s->bss->counter = 41;
	run_xdp(s);
	CHECK(s->bss->counter == 42 && s->bss->last.a == 42, "counter %d", s->bss->counter);
	__u32 k = 0;
	__u64 v = 0;
	CHECK(!bpf_map__lookup_elem(s->maps.hits, &k, sizeof(k), &v, sizeof(v), 0) && v == 2,
	      "hits[0] = %llu", (unsigned long long)v);
	size_t sz = 0;
	const void *elf = skel_test_bpf__elf_bytes(&sz);
	CHECK(elf && sz > 64 && !memcmp(elf, "\177ELF", 4), "embedded object");
	skel_test_bpf__detach(s);
out:
	skel_test_bpf__destroy(s);
	printf("skel_user: %d passed, %d failed\n", checks - fails, fails);
	return fails != 0;
}
