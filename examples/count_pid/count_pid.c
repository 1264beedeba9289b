/*
 * count_pid: loads count_pid.bpf.o (the seed's BCC example as a libbpf object), lets three
 * child processes fire the program 1, 2 and 3 times 100 times ("events"), then prints the
 * per-PID counts the program kept in its hash map, which lives in shared memory: the
 * children's updates are visible to the parent.
 *
 *   build/examples/count_pid/count_pid build/examples/count_pid/count_pid.bpf.o
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define NCHILD 3

static int fire(int prog_fd, int times)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .repeat = 1);
	char ctx[64] = { 0 };	/* stands in for struct pt_regs */

	opts.ctx_in = ctx;
	opts.ctx_size_in = sizeof(ctx);
	for (int i = 0; i < times; i++)
		if (bpf_prog_test_run_opts(prog_fd, &opts))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "count_pid.bpf.o";
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	pid_t kids[NCHILD];
	int bad = 0;

	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "count_pid: cannot open or load %s\n", path);
		return 1;
	}
	int prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "count_clone"));
	int map_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "count_map"));
	for (int i = 0; i < NCHILD; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(fire(prog_fd, (i + 1) * 100) ? 1 : 0);
	}
	for (int i = 0; i < NCHILD; i++) {
		int st;
		if (waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	}
	/* Each child i ran the program (i + 1) * 100 times under its own PID. */
	for (int i = 0; i < NCHILD; i++) {
		__u64 pid = (__u64)kids[i], count = 0;
		int found = bpf_map_lookup_elem(map_fd, &pid, &count) == 0;
		printf("PID %llu: %llu events%s\n", (unsigned long long)pid,
		       (unsigned long long)count, found && count == (__u64)(i + 1) * 100 ? "" : " (WRONG)");
		bad |= !found || count != (__u64)(i + 1) * 100;
	}
	bpf_object__close(obj);
	printf("count_pid: %s\n", bad ? "FAILED" : "ok");
	return bad;
}
