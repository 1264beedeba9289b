/*
 * Public wrappers over ub_isa: status codes and log buffers at the API edge.
 */
#include <errno.h>
#include "isa/isa.h"
#include <uebpf/uebpf.h>

int uebpf_asm(const char *text, size_t len, struct bpf_insn **insns, size_t *insn_cnt,
	      char *err_buf, size_t err_size)
{
	struct ub_log log;

	if (!text || !insns || !insn_cnt)
		return -EINVAL;
	ub_log_init(&log, err_buf, err_size);
	return ub_asm(text, len, insns, insn_cnt, &log);
}

int uebpf_disasm_insn(const struct bpf_insn *insns, size_t insn_cnt, size_t i,
		      enum uebpf_syntax syntax, char *buf, size_t size)
{
	if (!insns || i >= insn_cnt)
		return -EINVAL;
	return ub_disasm_insn(insns, insn_cnt, i,
			      syntax == UEBPF_SYNTAX_CONF ? UB_SYNTAX_CONF : UB_SYNTAX_LLVM, buf, size);
}

int uebpf_validate(const struct bpf_insn *insns, size_t insn_cnt, char *log_buf, size_t log_size)
{
	struct ub_log log;

	if (!insns && insn_cnt)
		return -EINVAL;
	ub_log_init(&log, log_buf, log_size);
	return ub_isa_validate(insns, insn_cnt, &log);
}
