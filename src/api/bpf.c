/*
 * ub_bpf: the bpf() command interface. uebpf_bpf() takes the kernel's union bpf_attr and
 * answers like the syscall: a result >= 0, or -1 with errno set to what the kernel would
 * set for the same request.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <uebpf/uebpf.h>
#include "api/bpf_cmd.h"

/* Commands by number; each checks its own attr fields (as the kernel's CHECK_ATTR). */
static int (*const cmds[])(union bpf_attr *attr, unsigned int size) = {
	[BPF_MAP_CREATE] = ub_cmd_map_create,
	[BPF_MAP_LOOKUP_ELEM] = ub_cmd_map_lookup,
	[BPF_MAP_UPDATE_ELEM] = ub_cmd_map_update,
	[BPF_MAP_DELETE_ELEM] = ub_cmd_map_delete,
	[BPF_MAP_GET_NEXT_KEY] = ub_cmd_map_get_next_key,
	[BPF_MAP_LOOKUP_AND_DELETE_ELEM] = ub_cmd_map_lookup_and_delete,
	[BPF_MAP_FREEZE] = ub_cmd_map_freeze,
	[BPF_OBJ_PIN] = ub_cmd_obj_pin,
	[BPF_OBJ_GET] = ub_cmd_obj_get,
	[BPF_OBJ_GET_INFO_BY_FD] = ub_cmd_obj_get_info,
	[BPF_MAP_GET_NEXT_ID] = ub_cmd_map_get_next_id,
	[BPF_MAP_GET_FD_BY_ID] = ub_cmd_map_get_fd_by_id,
	[BPF_PROG_LOAD] = ub_cmd_prog_load,
	[BPF_PROG_TEST_RUN] = ub_cmd_prog_test_run,
	[BPF_PROG_GET_NEXT_ID] = ub_cmd_prog_get_next_id,
	[BPF_PROG_GET_FD_BY_ID] = ub_cmd_prog_get_fd_by_id,
	[BPF_ENABLE_STATS] = ub_cmd_enable_stats,
	[BPF_BTF_LOAD] = ub_cmd_btf_load,
	[BPF_BTF_GET_FD_BY_ID] = ub_cmd_btf_get_fd_by_id,
	[BPF_MAP_LOOKUP_BATCH] = ub_cmd_map_lookup_batch,
	[BPF_MAP_LOOKUP_AND_DELETE_BATCH] = ub_cmd_map_lookup_and_delete_batch,
	[BPF_MAP_UPDATE_BATCH] = ub_cmd_map_update_batch,
	[BPF_MAP_DELETE_BATCH] = ub_cmd_map_delete_batch,
};

/* The attr in and out by words: most commands pass 32 bytes or so, for which GCC's inline
 * `rep movs` costs more than the command itself. */
static void attr_copy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	size_t i = 0;

	for (uint64_t w; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		memcpy(d + i, &w, 8);
	}
	for (; i < n; i++)
		d[i] = s[i];
}

int uebpf_bpf(int cmd, union bpf_attr *uattr, unsigned int size)
{
	union bpf_attr attr;

	/* As the kernel: a larger attr is fine if the part we do not know is zero. */
	if (size > sizeof(attr)) {
		for (unsigned i = sizeof(attr); i < size; i++) {
			if (((const unsigned char *)uattr)[i]) {
				errno = E2BIG;
				return -1;
			}
		}
		size = sizeof(attr);
	}
	/* A copy of a constant size (vector moves) rather than memset's `rep stos`, which
	 * alone took a third of a map lookup. */
	static const union bpf_attr zero;
	memcpy(&attr, &zero, sizeof(attr));
	if (uattr && size)
		attr_copy(&attr, uattr, size);
	else if (size) {
		errno = EFAULT;
		return -1;
	}
	if (cmd < 0 || (size_t)cmd >= sizeof(cmds) / sizeof(cmds[0]) || !cmds[cmd]) {
		errno = EINVAL;
		return -1;
	}
	int rc = cmds[cmd](&attr, size);
	if (rc < 0) {
		/* Batch commands report their progress (batch.count) on failure too. */
		if (uattr && cmd >= BPF_MAP_LOOKUP_BATCH && cmd <= BPF_MAP_DELETE_BATCH)
			attr_copy(uattr, &attr, size);
		errno = -rc;
		return -1;
	}
	/* Commands that fill attr (info_len, next_id, batch counts) are copied back. */
	if (uattr)
		attr_copy(uattr, &attr, size);
	return rc;
}

int ub_bpf_elem(int cmd, union bpf_attr *attr, unsigned int size)
{
	return cmds[cmd](attr, size);
}
