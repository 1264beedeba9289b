/*
 * ub_bpf: the bpf() command interface. uebpf_bpf() takes the kernel's union bpf_attr and
 * answers like the syscall: a result >= 0, or -1 with errno set to what the kernel would
 * set for the same request.
 */
#include <errno.h>
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
	[BPF_MAP_LOOKUP_BATCH] = ub_cmd_map_lookup_batch,
	[BPF_MAP_LOOKUP_AND_DELETE_BATCH] = ub_cmd_map_lookup_and_delete_batch,
	[BPF_MAP_UPDATE_BATCH] = ub_cmd_map_update_batch,
	[BPF_MAP_DELETE_BATCH] = ub_cmd_map_delete_batch,
};

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
	memset(&attr, 0, sizeof(attr));
	if (uattr && size)
		memcpy(&attr, uattr, size);
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
			memcpy(uattr, &attr, size);
		errno = -rc;
		return -1;
	}
	/* Commands that fill attr (info_len, next_id, batch counts) are copied back. */
	if (uattr)
		memcpy(uattr, &attr, size);
	return rc;
}
