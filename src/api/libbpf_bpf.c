/*
 * The libbpf-compatible <bpf/bpf.h>: each call fills a union bpf_attr and goes through
 * uebpf_bpf(). Returns follow libbpf 1.x: -errno on failure (errno set too).
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include "api/bpf_cmd.h"

#define PTR_U64(p) ((__u64)(uintptr_t)(p))
#define OPT(opts, field, def) \
	((opts) && (opts)->sz >= offsetof(__typeof__(*(opts)), field) + sizeof((opts)->field) \
		 ? (opts)->field : (def))

/* Runs a command and turns the syscall convention into libbpf's. */
static int sys_bpf(int cmd, union bpf_attr *attr, size_t end)
{
	int rc = uebpf_bpf(cmd, attr, (unsigned int)end);
	return rc < 0 ? -errno : rc;
}

#define ATTR_END(field) (offsetof(union bpf_attr, field) + sizeof(((union bpf_attr *)0)->field))

int bpf_map_create(enum bpf_map_type map_type, const char *map_name, __u32 key_size,
		   __u32 value_size, __u32 max_entries, const struct bpf_map_create_opts *opts)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	if (opts && opts->sz < sizeof(size_t))
		return -(errno = EINVAL);
	attr.map_type = map_type;
	if (map_name)
		strncpy(attr.map_name, map_name, sizeof(attr.map_name) - 1);
	attr.key_size = key_size;
	attr.value_size = value_size;
	attr.max_entries = max_entries;
	attr.btf_fd = OPT(opts, btf_fd, 0);
	attr.btf_key_type_id = OPT(opts, btf_key_type_id, 0);
	attr.btf_value_type_id = OPT(opts, btf_value_type_id, 0);
	attr.btf_vmlinux_value_type_id = OPT(opts, btf_vmlinux_value_type_id, 0);
	attr.inner_map_fd = OPT(opts, inner_map_fd, 0);
	attr.map_flags = OPT(opts, map_flags, 0);
	attr.map_extra = OPT(opts, map_extra, 0);
	attr.numa_node = OPT(opts, numa_node, 0);
	attr.map_ifindex = OPT(opts, map_ifindex, 0);
	return sys_bpf(BPF_MAP_CREATE, &attr, ATTR_END(map_extra));
}

/*
 * Element commands go straight to their handler (ub_bpf_elem): a user-space lookup is a
 * few tens of nanoseconds, and uebpf_bpf()'s copies of attr were a good part of that.
 * The attr is zeroed by a copy of constant size (vector moves, not `rep stos`).
 */
static int elem_cmd(int cmd, int fd, const void *key, void *value, __u64 flags)
{
	static const union bpf_attr zero;
	union bpf_attr attr;

	memcpy(&attr, &zero, sizeof(attr));
	attr.map_fd = (__u32)fd;
	attr.key = PTR_U64(key);
	attr.value = PTR_U64(value);
	attr.flags = flags;
	int rc = ub_bpf_elem(cmd, &attr, ATTR_END(flags));
	if (rc < 0)
		errno = -rc;
	return rc;
}

int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags)
{
	return elem_cmd(BPF_MAP_UPDATE_ELEM, fd, key, (void *)value, flags);
}

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	return elem_cmd(BPF_MAP_LOOKUP_ELEM, fd, key, value, 0);
}

int bpf_map_lookup_elem_flags(int fd, const void *key, void *value, __u64 flags)
{
	return elem_cmd(BPF_MAP_LOOKUP_ELEM, fd, key, value, flags);
}

int bpf_map_lookup_and_delete_elem(int fd, const void *key, void *value)
{
	return elem_cmd(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, key, value, 0);
}

int bpf_map_lookup_and_delete_elem_flags(int fd, const void *key, void *value, __u64 flags)
{
	return elem_cmd(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, key, value, flags);
}

int bpf_map_delete_elem(int fd, const void *key)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (__u32)fd;
	attr.key = PTR_U64(key);
	return sys_bpf(BPF_MAP_DELETE_ELEM, &attr, ATTR_END(key));
}

int bpf_map_delete_elem_flags(int fd, const void *key, __u64 flags)
{
	return elem_cmd(BPF_MAP_DELETE_ELEM, fd, key, NULL, flags);
}

int bpf_map_get_next_key(int fd, const void *key, void *next_key)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (__u32)fd;
	attr.key = PTR_U64(key);
	attr.next_key = PTR_U64(next_key);
	return sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr, ATTR_END(next_key));
}

int bpf_map_freeze(int fd)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (__u32)fd;
	return sys_bpf(BPF_MAP_FREEZE, &attr, ATTR_END(map_fd));
}

static int batch_cmd(int cmd, int fd, void *in_batch, void *out_batch, void *keys, void *values,
		     __u32 *count, const struct bpf_map_batch_opts *opts)
{
	union bpf_attr attr;

	if (opts && opts->sz < sizeof(size_t))
		return -(errno = EINVAL);
	if (!count)
		return -(errno = EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.batch.map_fd = (__u32)fd;
	attr.batch.in_batch = PTR_U64(in_batch);
	attr.batch.out_batch = PTR_U64(out_batch);
	attr.batch.keys = PTR_U64(keys);
	attr.batch.values = PTR_U64(values);
	attr.batch.count = *count;
	attr.batch.elem_flags = OPT(opts, elem_flags, 0);
	attr.batch.flags = OPT(opts, flags, 0);
	int rc = uebpf_bpf(cmd, &attr, (unsigned int)ATTR_END(batch));
	int err = rc < 0 ? errno : 0;
	*count = attr.batch.count;	/* the kernel reports progress even on failure */
	return rc < 0 ? -(errno = err) : rc;
}

int bpf_map_delete_batch(int fd, const void *keys, __u32 *count,
			 const struct bpf_map_batch_opts *opts)
{
	return batch_cmd(BPF_MAP_DELETE_BATCH, fd, NULL, NULL, (void *)keys, NULL, count, opts);
}

int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values,
			 __u32 *count, const struct bpf_map_batch_opts *opts)
{
	return batch_cmd(BPF_MAP_LOOKUP_BATCH, fd, in_batch, out_batch, keys, values, count, opts);
}

int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch, void *keys,
				    void *values, __u32 *count,
				    const struct bpf_map_batch_opts *opts)
{
	return batch_cmd(BPF_MAP_LOOKUP_AND_DELETE_BATCH, fd, in_batch, out_batch, keys, values,
			 count, opts);
}

int bpf_map_update_batch(int fd, const void *keys, const void *values, __u32 *count,
			 const struct bpf_map_batch_opts *opts)
{
	return batch_cmd(BPF_MAP_UPDATE_BATCH, fd, NULL, NULL, (void *)keys, (void *)values, count,
			 opts);
}

int bpf_obj_pin(int fd, const char *pathname)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = PTR_U64(pathname);
	attr.bpf_fd = (__u32)fd;
	return sys_bpf(BPF_OBJ_PIN, &attr, ATTR_END(file_flags));
}

int bpf_obj_get_opts(const char *pathname, const struct bpf_obj_get_opts *opts)
{
	union bpf_attr attr;

	if (opts && opts->sz < sizeof(size_t))
		return -(errno = EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.pathname = PTR_U64(pathname);
	attr.file_flags = OPT(opts, file_flags, 0);
	return sys_bpf(BPF_OBJ_GET, &attr, ATTR_END(file_flags));
}

int bpf_obj_get(const char *pathname)
{
	return bpf_obj_get_opts(pathname, NULL);
}

static int next_id(int cmd, __u32 start_id, __u32 *next)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.start_id = start_id;
	int rc = sys_bpf(cmd, &attr, ATTR_END(open_flags));
	if (!rc && next)
		*next = attr.next_id;
	return rc;
}

int bpf_map_get_next_id(__u32 start_id, __u32 *next_id_out)
{
	return next_id(BPF_MAP_GET_NEXT_ID, start_id, next_id_out);
}

int bpf_prog_get_next_id(__u32 start_id, __u32 *next_id_out)
{
	return next_id(BPF_PROG_GET_NEXT_ID, start_id, next_id_out);
}

static int fd_by_id(int cmd, __u32 id)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_id = id;	/* shares its place with prog_id */
	return sys_bpf(cmd, &attr, ATTR_END(open_flags));
}

int bpf_map_get_fd_by_id(__u32 id)
{
	return fd_by_id(BPF_MAP_GET_FD_BY_ID, id);
}

int bpf_prog_get_fd_by_id(__u32 id)
{
	return fd_by_id(BPF_PROG_GET_FD_BY_ID, id);
}

int bpf_btf_get_fd_by_id(__u32 id)
{
	return fd_by_id(BPF_BTF_GET_FD_BY_ID, id);
}

int bpf_obj_get_info_by_fd(int bpf_fd, void *info, __u32 *info_len)
{
	union bpf_attr attr;

	if (!info_len)
		return -(errno = EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (__u32)bpf_fd;
	attr.info.info_len = *info_len;
	attr.info.info = PTR_U64(info);
	int rc = sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, ATTR_END(info));
	if (!rc)
		*info_len = attr.info.info_len;
	return rc;
}

int bpf_enable_stats(enum bpf_stats_type type)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.enable_stats.type = type;
	return sys_bpf(BPF_ENABLE_STATS, &attr, ATTR_END(enable_stats));
}

int bpf_prog_load(enum bpf_prog_type prog_type, const char *prog_name, const char *license,
		  const struct bpf_insn *insns, size_t insn_cnt,
		  const struct bpf_prog_load_opts *opts)
{
	union bpf_attr attr;

	if (opts && opts->sz < sizeof(size_t))
		return -(errno = EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = prog_type;
	attr.expected_attach_type = OPT(opts, expected_attach_type, 0);
	attr.prog_btf_fd = OPT(opts, prog_btf_fd, 0);
	attr.prog_flags = OPT(opts, prog_flags, 0);
	attr.prog_ifindex = OPT(opts, prog_ifindex, 0);
	attr.kern_version = OPT(opts, kern_version, 0);
	attr.attach_btf_id = OPT(opts, attach_btf_id, 0);
	attr.attach_prog_fd = OPT(opts, attach_prog_fd, 0);
	attr.fd_array = PTR_U64(OPT(opts, fd_array, NULL));
	attr.func_info = PTR_U64(OPT(opts, func_info, NULL));
	attr.func_info_cnt = OPT(opts, func_info_cnt, 0);
	attr.func_info_rec_size = OPT(opts, func_info_rec_size, 0);
	attr.line_info = PTR_U64(OPT(opts, line_info, NULL));
	attr.line_info_cnt = OPT(opts, line_info_cnt, 0);
	attr.line_info_rec_size = OPT(opts, line_info_rec_size, 0);
	attr.log_level = OPT(opts, log_level, 0);
	attr.log_size = OPT(opts, log_size, 0);
	attr.log_buf = PTR_U64(OPT(opts, log_buf, NULL));
	if (prog_name)
		strncpy(attr.prog_name, prog_name, sizeof(attr.prog_name) - 1);
	attr.license = PTR_U64(license);
	attr.insns = PTR_U64(insns);
	attr.insn_cnt = (__u32)insn_cnt;
	if (insn_cnt > UINT32_MAX)
		return -(errno = E2BIG);
	return sys_bpf(BPF_PROG_LOAD, &attr, ATTR_END(core_relo_rec_size));
}

int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts)
{
	union bpf_attr attr;

	if (!opts || opts->sz < sizeof(size_t))
		return -(errno = EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = (__u32)prog_fd;
	attr.test.data_in = PTR_U64(OPT(opts, data_in, NULL));
	attr.test.data_out = PTR_U64(OPT(opts, data_out, NULL));
	attr.test.data_size_in = OPT(opts, data_size_in, 0);
	attr.test.data_size_out = OPT(opts, data_size_out, 0);
	attr.test.ctx_in = PTR_U64(OPT(opts, ctx_in, NULL));
	attr.test.ctx_out = PTR_U64(OPT(opts, ctx_out, NULL));
	attr.test.ctx_size_in = OPT(opts, ctx_size_in, 0);
	attr.test.ctx_size_out = OPT(opts, ctx_size_out, 0);
	attr.test.repeat = (__u32)OPT(opts, repeat, 0);
	attr.test.flags = OPT(opts, flags, 0);
	attr.test.cpu = OPT(opts, cpu, 0);
	attr.test.batch_size = OPT(opts, batch_size, 0);
	int rc = uebpf_bpf(BPF_PROG_TEST_RUN, &attr, (unsigned int)ATTR_END(test.batch_size));
	int err = rc < 0 ? errno : 0;
	/* Out fields are reported on success and on ENOSPC, as libbpf does. */
	opts->data_size_out = attr.test.data_size_out;
	opts->ctx_size_out = attr.test.ctx_size_out;
	opts->retval = attr.test.retval;
	opts->duration = attr.test.duration;
	return rc < 0 ? -(errno = err) : rc;
}

int bpf_btf_load(const void *btf_data, size_t btf_size, struct bpf_btf_load_opts *opts)
{
	union bpf_attr attr;

	if (opts && opts->sz < sizeof(size_t))
		return -(errno = EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.btf = PTR_U64(btf_data);
	attr.btf_size = (__u32)btf_size;
	attr.btf_log_buf = PTR_U64(OPT(opts, log_buf, NULL));
	attr.btf_log_size = OPT(opts, log_size, 0);
	attr.btf_log_level = OPT(opts, log_level, 0);
	int fd = sys_bpf(BPF_BTF_LOAD, &attr, ATTR_END(btf_log_level));
	/* What uebpf wrote is what the log needed (its logs are not cut short silently). */
	const char *log = (const char *)(uintptr_t)attr.btf_log_buf;
	if (opts && opts->sz >= offsetof(struct bpf_btf_load_opts, log_true_size) + sizeof(__u32) &&
	    log && attr.btf_log_size)
		opts->log_true_size = (__u32)strnlen(log, attr.btf_log_size) + 1;
	return fd;
}
