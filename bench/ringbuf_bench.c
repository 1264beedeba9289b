/*
 * ringbuf_bench: events per second through a BPF_MAP_TYPE_RINGBUF, one producer thread
 * and one consumer thread (ring_buffer__poll), 64-byte records.
 *
 *   helper  the producer calls bpf_ringbuf_output's implementation from C (the cost of
 *           the ring itself)
 *   prog    the producer runs an XDP program calling bpf_ringbuf_output, through
 *           bpf_prog_test_run_opts with a large repeat (checked mode, as loaded programs
 *           run today)
 *
 * Build (from the top directory, after `make lib`):
 *   cc -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/ringbuf_bench.c build/lib/libuebpf.a -lpthread \
 *      -o build/ringbuf_bench
 * Run: build/ringbuf_bench [events] [ring bytes]      (defaults 20000000, 4 MiB)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "helpers/helpers.h"
#include "maps/map.h"

#define REC 64

struct bench {
	int map_fd;
	struct ub_map *map;
	long events;
	long consumed __attribute__((aligned(64)));	/* consumer's line */
	long full_retries __attribute__((aligned(64)));	/* producer's line */
	int prog_fd;
	int producer_done;	/* atomic */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_cb(void *ctx, void *data, size_t size)
{
	struct bench *b = ctx;
	b->consumed++;
	return 0;
}

static void *consumer(void *arg)
{
	struct bench *b = arg;
	struct ring_buffer *rb = ring_buffer__new(b->map_fd, count_cb, b, NULL);

	/* Until everything came, or the producer is done and the ring stays empty (prog
	 * mode drops the runs whose output found the ring full). */
	while (rb && b->consumed < b->events)
		if (ring_buffer__poll(rb, 100) == 0 && ring_buffer__consume(rb) == 0 &&
		    __atomic_load_n(&b->producer_done, __ATOMIC_ACQUIRE))
			break;
	ring_buffer__free(rb);
	return NULL;
}

static void *produce_helper(void *arg)
{
	struct bench *b = arg;
	uint8_t rec[REC] = { 1, 2, 3 };

	for (long i = 0; i < b->events; i++) {
		memcpy(rec, &i, sizeof(i));
		while ((int64_t)ub_h_ringbuf_output((uintptr_t)b->map, (uintptr_t)rec, REC, 0, 0)) {
			b->full_retries++;	/* -EAGAIN: the ring is full, try again soon */
			for (int k = 0; k < 64; k++)
				__builtin_ia32_pause();
		}
	}
	return NULL;
}

/* r0 = bpf_ringbuf_output(map, fp-64, 64, 0); 64 bytes of stack written first. */
static int load_prog(int map_fd)
{
	struct bpf_insn p[32];
	int n = 0;

	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1, .imm = 7 };
	for (int off = -64; off < 0; off += 8)
		p[n++] = (struct bpf_insn){ .code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = 10,
					    .src_reg = 1, .off = (int16_t)off };
	p[n++] = (struct bpf_insn){ .code = BPF_LD | BPF_IMM | BPF_DW, .dst_reg = 1,
				    .src_reg = BPF_PSEUDO_MAP_FD, .imm = map_fd };
	p[n++] = (struct bpf_insn){ 0 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -64 };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3, .imm = REC };
	p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 4, .imm = 0 };
	p[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_ringbuf_output };
	p[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "rbbench", "GPL", p, (size_t)n, NULL);
}

static void *produce_prog(void *arg)
{
	struct bench *b = arg;
	uint8_t pkt[64] = { 0 };
	long done = 0;

	/* A full ring makes a run's output fail: such runs are counted and repeated. */
	while (done < b->events) {
		long chunk = b->events - done < 100000 ? b->events - done : 100000;
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = (int)chunk);
		if (bpf_prog_test_run_opts(b->prog_fd, &t))
			break;
		done += chunk;
	}
	return NULL;
}

static void run(const char *name, struct bench *b, void *(*producer)(void *))
{
	pthread_t c, p;

	b->consumed = 0;
	b->full_retries = 0;
	b->producer_done = 0;
	double t0 = now();
	pthread_create(&c, NULL, consumer, b);
	pthread_create(&p, NULL, producer, b);
	pthread_join(p, NULL);
	double tp = now();
	__atomic_store_n(&b->producer_done, 1, __ATOMIC_RELEASE);
	pthread_join(c, NULL);
	double t1 = now();
	printf("%-7s %ld events of %d bytes: %.2f M events/s consumed end to end "
	       "(producer %.2f M/s), %ld consumed, %ld full retries, %ld dropped\n", name,
	       b->events, REC, (double)b->consumed / (t1 - t0) / 1e6,
	       (double)b->events / (tp - t0) / 1e6, b->consumed, b->full_retries,
	       b->events - b->consumed);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct bench b = { .events = argc > 1 ? atol(argv[1]) : 20000000 };
	uint32_t size = argc > 2 ? (uint32_t)atol(argv[2]) : 4u << 20;

	b.map_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bench", 0, 0, size, NULL);
	b.map = b.map_fd >= 0 ? ub_map_get(b.map_fd) : NULL;
	if (!b.map) {
		fprintf(stderr, "ringbuf create: %d\n", b.map_fd);
		return 1;
	}
	run("helper", &b, produce_helper);
	b.prog_fd = load_prog(b.map_fd);
	if (b.prog_fd < 0) {
		fprintf(stderr, "prog load: %d\n", b.prog_fd);
		return 1;
	}
	/* Runs whose output found the ring full are dropped events here (not retried). */
	run("prog", &b, produce_prog);
	ub_map_put(b.map);
	return 0;
}
