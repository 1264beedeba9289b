/*
 * ringbuf_events: loads ringbuf_events.bpf.o, fires its program 10000 times from two
 * threads (the context's first argument numbers the calls), and reads the events with
 * ring_buffer__poll while they arrive. Every event must come exactly once, with a
 * distinct sequence number from the program's global counter.
 *
 *   build/examples/ringbuf_events/ringbuf_events build/examples/ringbuf_events/ringbuf_events.bpf.o
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define PER_THREAD 5000
#define NTHREADS 2
#define TOTAL (PER_THREAD * NTHREADS)

struct event {			/* as in ringbuf_events.bpf.c */
	__u32 pid;
	__u32 seq;
	__u64 arg;
	char comm[16];
};

static unsigned char seen_seq[TOTAL], seen_arg[TOTAL];
static int received, wrong;
static int prog_fd;

static int on_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;

	if (size != sizeof(*e) || e->seq >= TOTAL || e->arg >= TOTAL || e->pid != (__u32)getpid() ||
	    seen_seq[e->seq]++ || seen_arg[e->arg]++)
		wrong++;
	received++;
	return 0;
}

static void *producer(void *arg)
{
	__u64 args[6] = { 0 };	/* struct bpf_raw_tracepoint_args */
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = args, .ctx_size_in = sizeof(args));

	for (int i = 0; i < PER_THREAD; i++) {
		args[0] = (__u64)(long)arg * PER_THREAD + (__u64)i;
		if (bpf_prog_test_run_opts(prog_fd, &o))
			__atomic_add_fetch(&wrong, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "ringbuf_events.bpf.o";
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	pthread_t th[NTHREADS];

	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "ringbuf_events: cannot open or load %s\n", path);
		return 1;
	}
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "send_event"));
	struct ring_buffer *rb = ring_buffer__new(
		bpf_map__fd(bpf_object__find_map_by_name(obj, "events")), on_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "ringbuf_events: ring_buffer__new failed\n");
		return 1;
	}
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, producer, (void *)i);
	/* Poll while the producers run. The 1 MiB buffer holds all 10000 records (48 bytes
	 * each with their 8-byte header), so none is dropped however slow the reader. */
	for (int idle = 0; idle < 20 && received < TOTAL;)
		idle = ring_buffer__poll(rb, 50) > 0 ? 0 : idle + 1;
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	ring_buffer__consume(rb);
	printf("received %d of %d events, %d wrong\n", received, TOTAL, wrong);
	int bad = received != TOTAL || wrong;
	ring_buffer__free(rb);
	bpf_object__close(obj);
	printf("ringbuf_events: %s\n", bad ? "FAILED" : "ok");
	return bad;
}
