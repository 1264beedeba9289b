/*
 * ub_prog_tag: a program's tag and licence, as bpf_obj_get_info_by_fd reports them.
 *
 * The tag is the kernel's bpf_prog_calc_tag(): a digest of the instructions as loaded, with
 * the immediates of map pseudo loads (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE) zeroed, so
 * the same program gets the same tag whichever fd numbers its maps had; its first 8 bytes.
 * Kernels up to 6.17 used SHA-1; 6.18 (the reference here) switched to SHA-256, the digest
 * program signing uses. Checked against the live kernel in tests/test_map_btf_prog.c.
 */
#include <string.h>
#include <sha2.h>
#include "api/prog_obj.h"

/* An lddw of a map fd or map value: its immediates (fd, value offset) are left out of the
 * tag; the second half counts as such only if it is well formed (as the kernel checks). */
static int is_map_ld(const struct bpf_insn *in)
{
	return in->code == (BPF_LD | BPF_IMM | BPF_DW) &&
	       (in->src_reg == BPF_PSEUDO_MAP_FD || in->src_reg == BPF_PSEUDO_MAP_VALUE);
}

void ub_prog_calc_tag(const struct bpf_insn *insns, uint32_t cnt, uint8_t tag[BPF_TAG_SIZE])
{
	uint8_t digest[SHA256_DIGEST_LENGTH];
	SHA2_CTX ctx;
	int was_ld_map = 0;

	SHA256Init(&ctx);
	for (uint32_t i = 0; i < cnt; i++) {
		struct bpf_insn in = insns[i];
		if (!was_ld_map && is_map_ld(&in)) {
			was_ld_map = 1;
			in.imm = 0;
		} else if (was_ld_map && !in.code && !in.dst_reg && !in.src_reg && !in.off) {
			was_ld_map = 0;
			in.imm = 0;
		} else {
			was_ld_map = 0;
		}
		SHA256Update(&ctx, (const uint8_t *)&in, sizeof(in));
	}
	SHA256Final(digest, &ctx);
	memcpy(tag, digest, BPF_TAG_SIZE);
}

/* The kernel's license_is_gpl_compatible(): exact strings only. */
int ub_prog_license_gpl(const char *license)
{
	static const char *const gpl[] = { "GPL", "GPL v2", "GPL and additional rights",
					   "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL" };
	char buf[128];	/* the kernel reads at most 128 bytes of it */

	if (!license)
		return 0;
	strncpy(buf, license, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	for (size_t i = 0; i < sizeof(gpl) / sizeof(gpl[0]); i++)
		if (!strcmp(buf, gpl[i]))
			return 1;
	return 0;
}
