/* PLACEHOLDER until the assembler lands: refuses everything. */
#include <errno.h>
#include "isa/isa.h"
int ub_asm(const char *text, size_t len, struct bpf_insn **out, size_t *cnt, struct ub_log *log)
{
	(void)text; (void)len; (void)out; (void)cnt;
	ub_log_printf(log, "1:1: assembler not built yet\n");
	return -EINVAL;
}
