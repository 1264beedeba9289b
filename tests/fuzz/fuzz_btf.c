/*
 * fuzz_btf: BTF parsing (ub_btf_parse) on damaged blobs.
 *
 * Templates: the .BTF sections of the BPF objects Debian ships with xdp-tools, read at
 * start. An input's first byte picks a template (past the template count: the rest of
 * the input is the blob); the rest is a list of edits (u32 offset, u8 length, bytes).
 * A blob is refused with -EINVAL and a message, or parsed; then every type must answer
 * ub_btf_type, ub_btf_str, ub_btf_skip_mods and ub_btf_resolve_size without a crash or a
 * hang (parse proved the id graph loop-free).
 */
#include <glob.h>
#include "btf/btf.h"
#include "fuzz.h"

static struct fz_tmpl tmpls[64];
static size_t ntmpls;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	glob_t g;

	if (glob("/usr/lib/x86_64-linux-gnu/bpf/*.o", 0, NULL, &g))
		return 0;
	for (size_t i = 0; i < g.gl_pathc && ntmpls < 64; i++) {
		struct ub_btf *btf;
		struct ub_log log;
		size_t n;
		ub_log_init(&log, NULL, 0);
		if (ub_btf_load_file(g.gl_pathv[i], &btf, &log))
			continue;
		const void *raw = ub_btf_raw(btf, &n);
		uint8_t *copy = malloc(n);
		if (copy) {
			memcpy(copy, raw, n);
			tmpls[ntmpls++] = (struct fz_tmpl){ copy, n };
		}
		ub_btf_free(btf);
	}
	globfree(&g);
	return 0;
}

static void try(const uint8_t *buf, size_t size)
{
	char msg[512];
	struct ub_log log;
	struct ub_btf *btf;

	ub_log_init(&log, msg, sizeof(msg));
	int err = ub_btf_parse(buf, size, &btf, &log);
	if (err) {
		if (err != -EINVAL && err != -ENOMEM)
			fuzz_fail("parse: unexpected %d", err);
		if (err == -EINVAL && !msg[0])
			fuzz_fail("refused without a message");
		return;
	}
	for (uint32_t id = 0; id < ub_btf_type_cnt(btf) + 1; id++) {
		const struct btf_type *t = ub_btf_type(btf, id);
		uint32_t res;
		if (t)
			(void)strlen(ub_btf_str(btf, t->name_off));
		(void)ub_btf_skip_mods(btf, id, &res);
		(void)ub_btf_resolve_size(btf, id);
	}
	ub_btf_free(btf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_patched_template(data, size, tmpls, ntmpls, try);
	return 0;
}
