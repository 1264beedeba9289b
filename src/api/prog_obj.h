/* ub_prog_obj: a program behind an fd (what BPF_PROG_LOAD returns). */
#ifndef UB_API_PROG_OBJ_H
#define UB_API_PROG_OBJ_H
#include <linux/bpf.h>
#include "api/obj.h"
#include "progs/progs.h"

struct uebpf_prog;

struct ub_prog_obj {
	struct ub_obj obj;
	struct uebpf_prog *prog;
	const struct ub_prog_type *ptype;
	uint32_t type;
	uint32_t expected_attach_type;
	uint32_t insn_cnt;
	struct bpf_insn *orig_insns;	/* as loaded, before map fds were resolved */
	char name[BPF_OBJ_NAME_LEN];
	uint64_t load_time;
	uint8_t tag[BPF_TAG_SIZE];	/* ub_prog_calc_tag() of the instructions as loaded */
	uint8_t gpl_compatible;		/* ub_prog_license_gpl() of the licence */
	/* Verified programs: per instruction, the context loads that yield packet
	 * pointers (enum ub_ver_ctx_conv), for the JIT and the context rewrite. */
	uint8_t *ctx_conv;
};

struct ub_prog_obj *ub_prog_obj_get(int fd);
void ub_prog_obj_put(struct ub_prog_obj *p);
int ub_prog_info(struct ub_prog_obj *p, union bpf_attr *attr);

/* Tag and licence (prog_tag.c), as the kernel's bpf_prog_calc_tag() and
 * license_is_gpl_compatible(). */
void ub_prog_calc_tag(const struct bpf_insn *insns, uint32_t cnt, uint8_t tag[BPF_TAG_SIZE]);
int ub_prog_license_gpl(const char *license);

/* BPF_PROG_TEST_RUN (progs/test_run.c). */
int ub_prog_test_run(struct ub_prog_obj *p, union bpf_attr *attr);

/* Statistics switch: runs are timed and counted while > 0 (bpf_enable_stats). */
extern int ub_stats_enabled;

#endif
