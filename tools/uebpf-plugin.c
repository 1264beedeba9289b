/*
 * uebpf-plugin: the bpf_conformance plugin protocol.
 *   uebpf-plugin [MEM] [--interp|--jit]
 * MEM is the program's memory as hex bytes (spaces allowed); the program comes on standard
 * input as hex. On success the plugin prints r0 in hex and exits 0; on failure it prints
 * the reason and exits 1. Programs run unverified, in the interpreter's checked mode.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uebpf/uebpf.h>

/* The suite's plugin helpers that its tests call (ids are the suite's, not the kernel's). */
static uint64_t gather_bytes(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return (a & 0xff) << 32 | (b & 0xff) << 24 | (c & 0xff) << 16 | (d & 0xff) << 8 | (e & 0xff);
}

static uint64_t no_op(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return 0;
}

static uint64_t sqrti(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	uint64_t r = 0;
	while ((r + 1) * (r + 1) <= a && r < 0xffffffffull)
		r++;
	return r;
}

static uint64_t unwind(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return a;	/* "helper 5 returns its first argument" */
}

static const struct uebpf_helper conf_helpers[] = {
	{ .id = 0, .name = "gather_bytes", .fn = gather_bytes },
	{ .id = 2, .name = "no_op", .fn = no_op },
	{ .id = 3, .name = "sqrti", .fn = sqrti },
	{ .id = 5, .name = "unwind", .fn = unwind },
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses hex digits, ignoring white space. Returns the byte count or -1. */
static long parse_hex(const char *s, unsigned char **out)
{
	size_t n = strlen(s), len = 0;
	unsigned char *buf = malloc(n / 2 + 1);
	int hi = -1;

	if (!buf)
		return -1;
	for (; *s; s++) {
		if (isspace((unsigned char)*s))
			continue;
		int v = hexval((unsigned char)*s);
		if (v < 0) {
			free(buf);
			return -1;
		}
		if (hi < 0) {
			hi = v;
		} else {
			buf[len++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	return (long)len;
}

static char *read_stdin(void)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;

	while (buf && (n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	struct uebpf_prog_opts popts = { .sz = sizeof(popts), .engine = UEBPF_ENGINE_INTERP,
					 .flags = UEBPF_PROG_F_CHECKED, .helpers = conf_helpers,
					 .helper_cnt = sizeof(conf_helpers) / sizeof(conf_helpers[0]) };
	unsigned char *mem = NULL, *code = NULL;
	long mem_len = 0, code_len;
	char log[4096] = "", err[1024] = "";
	struct uebpf_prog *prog;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--jit")) {
			popts.engine = UEBPF_ENGINE_JIT;
		} else if (!strcmp(argv[i], "--interp")) {
			popts.engine = UEBPF_ENGINE_INTERP;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			fprintf(stderr, "uebpf-plugin: unknown option '%s'\n"
				"usage: uebpf-plugin [MEM-HEX] [--interp|--jit] < PROGRAM-HEX\n", argv[i]);
			return 2;
		} else if (!mem && (mem_len = parse_hex(argv[i], &mem)) < 0) {
			fprintf(stderr, "uebpf-plugin: memory argument is not hex bytes\n");
			return 2;
		}
	}
	char *text = read_stdin();
	if (!text || (code_len = parse_hex(text, &code)) < 0) {
		fprintf(stderr, "uebpf-plugin: standard input is not a hex program\n");
		return 2;
	}
	free(text);
	if (code_len % 8) {
		fprintf(stderr, "uebpf-plugin: program is %ld bytes, not a multiple of 8\n", code_len);
		return 2;
	}
	popts.log_buf = log;
	popts.log_size = sizeof(log);
	int rc = uebpf_prog_new((struct bpf_insn *)code, (size_t)code_len / 8, &popts, &prog);
	if (rc) {
		fprintf(stderr, "%s", log[0] ? log : "load failed\n");
		return 1;
	}
	struct uebpf_run_opts ropts = { .sz = sizeof(ropts), .ctx = mem, .ctx_size = (size_t)mem_len,
					.err_buf = err, .err_size = sizeof(err) };
	rc = uebpf_prog_run_opts(prog, &ropts);
	uebpf_prog_free(prog);
	free(mem);
	free(code);
	if (rc) {
		fprintf(stderr, "%s", err[0] ? err : "run failed\n");
		return 1;
	}
	printf("%llx\n", (unsigned long long)ropts.retval);
	return 0;
}
