/* ub_cmd: handlers of the bpf() commands. Each returns >= 0 or -errno. */
#ifndef UB_API_BPF_CMD_H
#define UB_API_BPF_CMD_H
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>

#define UB_ATTR_END(field) (offsetof(union bpf_attr, field) + sizeof(((union bpf_attr *)0)->field))

/* The kernel's CHECK_ATTR: bytes after the command's last field must be zero. */
int ub_attr_tail_zero(const union bpf_attr *attr, size_t end);

/*
 * How BPF_OBJ_GET_INFO_BY_FD starts for every object: as bpf_check_uarg_tail_zero(), a
 * user struct longer than ours (size bytes) must be zero past it (-E2BIG); *len is the
 * caller's info_len clamped to ours, and info (zeroed) gets the caller's first *len bytes
 * (its pointer fields: where to write the blobs). -EFAULT when there is no buffer.
 */
int ub_info_in(const union bpf_attr *attr, void *info, size_t size, uint32_t *len);

/*
 * The libbpf layer's element calls (lookup, update, delete, lookup-and-delete) straight to
 * their handler: attr is the caller's own, zero past `size`, and these commands write
 * nothing back, so uebpf_bpf()'s copies in and out are not needed. >= 0 or -errno.
 */
int ub_bpf_elem(int cmd, union bpf_attr *attr, unsigned int size);

/* A thread-local message for the last failure, for callers that want more than errno. */
void ub_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int ub_cmd_map_create(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_lookup(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_update(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_delete(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_get_next_key(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_lookup_and_delete(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_freeze(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_lookup_batch(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_lookup_and_delete_batch(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_update_batch(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_delete_batch(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_get_next_id(union bpf_attr *attr, unsigned int size);
int ub_cmd_map_get_fd_by_id(union bpf_attr *attr, unsigned int size);
int ub_cmd_prog_load(union bpf_attr *attr, unsigned int size);
int ub_cmd_prog_test_run(union bpf_attr *attr, unsigned int size);
int ub_cmd_prog_get_next_id(union bpf_attr *attr, unsigned int size);
int ub_cmd_prog_get_fd_by_id(union bpf_attr *attr, unsigned int size);
int ub_cmd_enable_stats(union bpf_attr *attr, unsigned int size);
int ub_cmd_btf_load(union bpf_attr *attr, unsigned int size);
int ub_cmd_btf_get_fd_by_id(union bpf_attr *attr, unsigned int size);
int ub_cmd_obj_pin(union bpf_attr *attr, unsigned int size);
int ub_cmd_obj_get(union bpf_attr *attr, unsigned int size);
int ub_cmd_obj_get_info(union bpf_attr *attr, unsigned int size);

#endif
