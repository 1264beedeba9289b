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
};

/*
 * The BTF object behind fd, with a reference (drop it with ub_obj_put(&o->obj)); NULL and
 * errno as the kernel's btf_get_by_fd(): EBADF for an fd that is not open, EINVAL for one
 * that is no BTF object.
 */
struct ub_btf_obj *ub_btf_obj_get(int fd);

#endif
