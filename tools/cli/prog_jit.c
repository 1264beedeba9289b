/*
 * uebpf prog dump jited: the JIT's machine code (disassembled by the library with capstone,
 * each block under the eBPF instruction it comes from).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uebpf/uebpf.h>
#include "cli.h"

/* With -j: the dump's lines as a JSON array of strings. */
static int dump_json(struct uebpf_prog *prog, int opcodes)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return -ENOMEM;
	int err = uebpf_prog_dump_jited(prog, m, opcodes);
	fclose(m);
	if (!err) {
		jw_begin_array();
		for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			jw_string(line);
		}
		jw_end_array();
	}
	free(text);
	return err;
}

int cli_jit_dump(int prog_fd, int opcodes, const char *file)
{
	struct uebpf_prog *prog = uebpf_prog_from_fd(prog_fd);

	if (!prog)
		return cli_err("can't get the program: %s", strerror(errno));
	if (file)
		return cli_err("file %s: uebpf gives the JIT's code as text only (drop 'file')",
			       file);
	int err = cli_json ? dump_json(prog, opcodes) : uebpf_prog_dump_jited(prog, stdout, opcodes);
	if (err == -ENOENT)
		return cli_err("no JIT image: the program runs in the interpreter");
	if (err)
		return cli_err("can't disassemble the JIT's code: %s", strerror(-err));
	return CLI_OK;
}
