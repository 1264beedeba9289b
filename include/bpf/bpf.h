/*
 * uebpf's libbpf-compatible low-level API: one call per bpf() command, with the
 * signatures of libbpf 1.x. Calls return 0 (or an fd) on success and a negative errno on
 * failure, and also set errno, as libbpf 1.x does. Everything goes to uebpf_bpf(), the
 * user-space bpf(); nothing here reaches the kernel.
 */
#ifndef UEBPF_BPF_BPF_H
#define UEBPF_BPF_BPF_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <uebpf/uebpf.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef LIBBPF_API
#define LIBBPF_API UEBPF_API
#endif

#ifndef LIBBPF_OPTS
/* Declares and zero-fills an options struct with its size set, as libbpf's macro. */
#define LIBBPF_OPTS(TYPE, NAME, ...)						\
	struct TYPE NAME = ({							\
		memset(&NAME, 0, sizeof(struct TYPE));				\
		(struct TYPE){ .sz = sizeof(struct TYPE), __VA_ARGS__ };	\
	})
#define DECLARE_LIBBPF_OPTS LIBBPF_OPTS
#endif

struct bpf_map_create_opts {
	size_t sz;
	__u32 btf_fd;
	__u32 btf_key_type_id;
	__u32 btf_value_type_id;
	__u32 btf_vmlinux_value_type_id;
	__u32 inner_map_fd;
	__u32 map_flags;
	__u64 map_extra;
	__u32 numa_node;
	__u32 map_ifindex;
};

LIBBPF_API int bpf_map_create(enum bpf_map_type map_type, const char *map_name, __u32 key_size,
			      __u32 value_size, __u32 max_entries,
			      const struct bpf_map_create_opts *opts);

LIBBPF_API int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags);
LIBBPF_API int bpf_map_lookup_elem(int fd, const void *key, void *value);
LIBBPF_API int bpf_map_lookup_elem_flags(int fd, const void *key, void *value, __u64 flags);
LIBBPF_API int bpf_map_lookup_and_delete_elem(int fd, const void *key, void *value);
LIBBPF_API int bpf_map_lookup_and_delete_elem_flags(int fd, const void *key, void *value,
						    __u64 flags);
LIBBPF_API int bpf_map_delete_elem(int fd, const void *key);
LIBBPF_API int bpf_map_delete_elem_flags(int fd, const void *key, __u64 flags);
LIBBPF_API int bpf_map_get_next_key(int fd, const void *key, void *next_key);
LIBBPF_API int bpf_map_freeze(int fd);

struct bpf_map_batch_opts {
	size_t sz;
	__u64 elem_flags;
	__u64 flags;
};

LIBBPF_API int bpf_map_delete_batch(int fd, const void *keys, __u32 *count,
				    const struct bpf_map_batch_opts *opts);
LIBBPF_API int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys,
				    void *values, __u32 *count,
				    const struct bpf_map_batch_opts *opts);
LIBBPF_API int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch,
					       void *keys, void *values, __u32 *count,
					       const struct bpf_map_batch_opts *opts);
LIBBPF_API int bpf_map_update_batch(int fd, const void *keys, const void *values, __u32 *count,
				    const struct bpf_map_batch_opts *opts);

struct bpf_prog_load_opts {
	size_t sz;
	int attempts;
	enum bpf_attach_type expected_attach_type;
	__u32 prog_btf_fd;
	__u32 prog_flags;
	__u32 prog_ifindex;
	__u32 kern_version;
	__u32 attach_btf_id;
	__u32 attach_prog_fd;
	__u32 attach_btf_obj_fd;
	const int *fd_array;
	const void *func_info;
	__u32 func_info_cnt;
	__u32 func_info_rec_size;
	const void *line_info;
	__u32 line_info_cnt;
	__u32 line_info_rec_size;
	__u32 log_level;
	__u32 log_size;
	char *log_buf;
};

LIBBPF_API int bpf_prog_load(enum bpf_prog_type prog_type, const char *prog_name,
			     const char *license, const struct bpf_insn *insns, size_t insn_cnt,
			     const struct bpf_prog_load_opts *opts);

struct bpf_btf_load_opts {
	size_t sz;
	char *log_buf;
	__u32 log_level;
	__u32 log_size;
	__u32 log_true_size;	/* out: bytes the whole log needs */
};

/* BPF_BTF_LOAD: a BTF object's fd, or -errno. */
LIBBPF_API int bpf_btf_load(const void *btf_data, size_t btf_size, struct bpf_btf_load_opts *opts);

struct bpf_test_run_opts {
	size_t sz;
	const void *data_in;
	void *data_out;
	__u32 data_size_in;
	__u32 data_size_out;
	const void *ctx_in;
	void *ctx_out;
	__u32 ctx_size_in;
	__u32 ctx_size_out;
	__u32 retval;
	int repeat;
	__u32 duration;
	__u32 flags;
	__u32 cpu;
	__u32 batch_size;
};

LIBBPF_API int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts);

struct bpf_obj_get_opts {
	size_t sz;
	__u32 file_flags;
	size_t :0;
};

LIBBPF_API int bpf_obj_pin(int fd, const char *pathname);
LIBBPF_API int bpf_obj_get(const char *pathname);
LIBBPF_API int bpf_obj_get_opts(const char *pathname, const struct bpf_obj_get_opts *opts);

LIBBPF_API int bpf_map_get_next_id(__u32 start_id, __u32 *next_id);
LIBBPF_API int bpf_prog_get_next_id(__u32 start_id, __u32 *next_id);
LIBBPF_API int bpf_map_get_fd_by_id(__u32 id);
LIBBPF_API int bpf_prog_get_fd_by_id(__u32 id);
LIBBPF_API int bpf_btf_get_fd_by_id(__u32 id);
LIBBPF_API int bpf_obj_get_info_by_fd(int bpf_fd, void *info, __u32 *info_len);
LIBBPF_API int bpf_enable_stats(enum bpf_stats_type type);

#ifdef __cplusplus
}
#endif
#endif
