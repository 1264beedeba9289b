/*
 * map event_pipe: the records of a ring buffer as they come, from whatever process writes
 * them (the reader is woken across processes: docs/maps.md). bpftool's event_pipe reads a
 * perf event array through perf buffers it creates and stores in the map; a uebpf perf
 * event array's buffers belong to the process that stored them, so here the command reads
 * BPF_MAP_TYPE_RINGBUF maps instead (bpftool refuses those: "map is not a perf event
 * array"). It runs until SIGINT or SIGTERM, or until `count N` records came.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"

static volatile sig_atomic_t stop_pipe;

static void on_signal(int sig)
{
	stop_pipe = 1;
}

struct pipe_state {
	uint64_t index;		/* records printed so far */
	uint64_t count;		/* stop after this many (0: never) */
};

/* One record, in the shape of bpftool's event_pipe sample: a header line, then the bytes. */
static int print_record(void *ctx, void *data, size_t size)
{
	struct pipe_state *ps = ctx;

	if (cli_json) {
		jw_begin_object();
		jw_kuint("index", ps->index);
		jw_kuint("size", size);
		jw_key("data");
		cli_json_hex(data, size);
		jw_end_object();
	} else {
		printf("== index: %llu size: %zu =====\n", (unsigned long long)ps->index, size);
		cli_print_hex(stdout, data, size);
		printf("\n");
	}
	fflush(stdout);
	ps->index++;
	/* The last one wanted: a negative answer stops the reader after this record (as
	 * libbpf's does), so the records after it stay in the ring for the next reader. */
	return ps->count && ps->index == ps->count ? -ECANCELED : 0;
}

static int pipe_args(int argc, char **argv, struct pipe_state *ps)
{
	for (int i = 0; i < argc; i += 2) {
		if (strcmp(argv[i], "count"))
			return cli_bt_usage("unexpected argument '%s' (event_pipe takes count N)",
					    argv[i]);
		if (i + 1 >= argc)
			return cli_bt_usage("'count' needs a number");
		if (cli_number("map event_pipe", "count", argv[i + 1], 1, UINT32_MAX, &ps->count))
			return CLI_USAGE;
	}
	return CLI_OK;
}

static int read_ring(int fd, struct pipe_state *ps)
{
	struct ring_buffer *rb = ring_buffer__new(fd, print_record, ps, NULL);

	if (!rb)
		return cli_err("can't read the ring buffer: %s", strerror(errno));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (cli_json)
		jw_begin_array();
	int rc = CLI_OK;
	while (!stop_pipe && (!ps->count || ps->index < ps->count)) {
		/* 100 ms: a signal is seen that soon even with no records coming */
		int n = ring_buffer__poll(rb, 100);
		if (n < 0 && n != -EINTR && n != -ECANCELED) {
			rc = cli_err("reading the ring buffer failed: %s", strerror(-n));
			break;
		}
	}
	if (cli_json)
		jw_end_array();
	ring_buffer__free(rb);
	return rc;
}

int cli_map_event_pipe(int argc, char **argv)
{
	struct pipe_state ps = { 0 };
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	int usage;

	int fd = cli_map_ref("map", &argc, &argv, &usage);
	if (fd < 0)
		return usage ? CLI_USAGE : CLI_FAIL;
	int rc = pipe_args(argc, argv, &ps);
	memset(&info, 0, sizeof(info));
	if (rc == CLI_OK && bpf_obj_get_info_by_fd(fd, &info, &len))
		rc = cli_err("can't get map info: %s", strerror(errno));
	else if (rc == CLI_OK && info.type != BPF_MAP_TYPE_RINGBUF)
		rc = cli_err("map is not a ring buffer (uebpf's event_pipe reads ring buffers: the "
			     "buffers of a perf event array belong to the process that stored them)");
	if (rc == CLI_OK)
		rc = read_ring(fd, &ps);
	close(fd);
	return rc;
}
