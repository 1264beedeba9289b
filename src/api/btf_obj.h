/*
 * ub_btfobj: BTF objects behind file descriptors (BPF_BTF_LOAD), for the commands that take
 * a btf_fd (BPF_MAP_CREATE, and BPF_PROG_LOAD's prog_btf_fd).
 */
#ifndef UB_API_BTF_OBJ_H
#define UB_API_BTF_OBJ_H
#include "api/obj.h"
#include "btf/btf.h"

struct ub_btf_obj {
	struct ub_obj obj;
	struct ub_btf *btf;		/* parsed and validated at load */
	struct ub_btf_obj *next;	/* the live BTF objects, for BPF_BTF_GET_FD_BY_ID */
	uint32_t size;			/* bytes of the raw blob (in obj.fd, a memfd) */
};

/*
 * The BTF object behind fd, with a reference (drop it with ub_obj_put(&o->obj)); NULL and
 * errno as the kernel's btf_get_by_fd(): EBADF for an fd that is not open, EINVAL for one
 * that is no BTF object.
 */
struct ub_btf_obj *ub_btf_obj_get(int fd);

/*
 * A BTF object made from a blob that is no user's BPF_BTF_LOAD (the BTF kept in a pinned
 * map's file), parsed and validated as untrusted: one reference and an id, no user fd.
 * NULL with the reason in why.
 */
struct ub_btf_obj *ub_btf_obj_from_blob(const void *data, uint32_t size, char *why,
					size_t whysz);
/* The raw blob into buf (o->size bytes): 0 or -errno. */
int ub_btf_obj_read(const struct ub_btf_obj *o, void *buf);
/* BPF_OBJ_GET_INFO_BY_FD on a BTF fd (struct bpf_btf_info). */
int ub_btf_info(const struct ub_btf_obj *o, union bpf_attr *attr);

#endif
