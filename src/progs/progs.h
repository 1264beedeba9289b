/*
 * ub_progtype: program types as data. Each row gives the context the program sees (the
 * kernel's UAPI struct), which helper groups it may call, and how BPF_PROG_TEST_RUN
 * builds its input.
 */
#ifndef UB_PROGS_H
#define UB_PROGS_H
#include <linux/bpf.h>
#include <stdint.h>

/* uebpf's own program types, above the kernel's numbers. */
#define UEBPF_PROG_TYPE_SECCOMP	0x10000u
#define UEBPF_PROG_TYPE_LSM	0x10001u

enum ub_run_kind {
	UB_RUN_CTX,		/* ctx_in is the context as given (raw memory) */
	UB_RUN_XDP,		/* struct xdp_md over data_in */
	UB_RUN_SKB,		/* struct __sk_buff, data starting at the network header */
	UB_RUN_SKB_L2,		/* struct __sk_buff, data starting at the Ethernet header */
};

struct ub_prog_type {
	uint32_t type;
	const char *name;
	uint32_t ctx_size;	/* 0: any ctx_in size */
	uint8_t grp;		/* enum ub_helper_grp bits */
	uint8_t run;		/* enum ub_run_kind */
	const uint32_t *helper_ids;	/* registered types: the custom helpers they may call */
	size_t nr_helper_ids;
};

#define UB_FIRST_CUSTOM_TYPE 0x20000u

const struct ub_prog_type *ub_prog_type_find(uint32_t type);

/* May programs of this type call helper `id` of group `grp`? */
int ub_prog_type_allows(const struct ub_prog_type *pt, uint32_t id, uint8_t grp);

#endif
