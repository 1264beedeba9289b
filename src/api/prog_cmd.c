/*
 * ub_cmd (programs): BPF_PROG_LOAD and the program-object commands. A loaded program is
 * a real fd (a memfd holding its instructions) in the fd table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "api/bpf_cmd.h"
#include "api/btf_obj.h"
#include "api/prog_obj.h"
#include "helpers/helpers.h"
#include "maps/map.h"
#include "verifier/verifier.h"
#include "vm/vm.h"
#include "jit/jit.h"

#define U64_PTR(x) ((void *)(uintptr_t)(x))
#define UB_MAXINSNS (1u << 20)		/* BPF_COMPLEXITY_LIMIT_INSNS */

static void prog_release(struct ub_obj *obj)
{
	struct ub_prog_obj *p = (struct ub_prog_obj *)obj;

	uebpf_prog_free(p->prog);
	free(p->orig_insns);
	free(p->ctx_conv);
	if (p->obj.fd >= 0)
		close(p->obj.fd);
	free(p);
}

struct ub_prog_obj *ub_prog_obj_get(int fd)
{
	return (struct ub_prog_obj *)ub_obj_get(fd, UB_OBJ_PROG);
}

void ub_prog_obj_put(struct ub_prog_obj *p)
{
	if (p)
		ub_obj_put(&p->obj);
}

/* The kernel's bpf_verifier_log checks: a log needs a level, a buffer and >= 128 bytes. */
static int check_log_attr(const union bpf_attr *attr)
{
	if (!attr->log_level && !attr->log_buf && !attr->log_size)
		return 0;
	if (attr->log_size < 128 || attr->log_size > UINT32_MAX >> 2 || !attr->log_level ||
	    !attr->log_buf || (attr->log_level & ~7u))
		return -EINVAL;
	return 0;
}

struct used_maps {
	struct ub_map **maps;
	uint32_t n;
};

static int use_map(struct used_maps *u, struct ub_map *map)
{
	for (uint32_t i = 0; i < u->n; i++) {
		if (u->maps[i] == map) {
			ub_map_put(map);	/* already held once */
			return 0;
		}
	}
	if (u->n >= 64)
		return -E2BIG;	/* MAX_USED_MAPS */
	struct ub_map **m = realloc(u->maps, (u->n + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	u->maps = m;
	u->maps[u->n++] = map;
	return 0;
}

static int map_from(const union bpf_attr *attr, const struct bpf_insn *in, struct ub_log *log,
		    size_t i, struct ub_map **out)
{
	int fd = in->imm;

	if (in->src_reg == BPF_PSEUDO_MAP_IDX || in->src_reg == BPF_PSEUDO_MAP_IDX_VALUE) {
		const int32_t *fds = U64_PTR(attr->fd_array);
		if (!fds) {
			ub_log_printf(log, "insn %zu: map index without fd_array\n", i);
			return -EINVAL;
		}
		fd = fds[in->imm];
	}
	*out = ub_map_get(fd);
	if (!*out) {
		ub_log_printf(log, "fd %d is not pointing to valid bpf_map\n", fd);
		return -EBADF;
	}
	return 0;
}

/* The address a map-value lddw loads: only single-element arrays have one (as Linux). */
static int direct_value(struct ub_map *map, uint32_t off, struct ub_log *log, uint64_t *addr)
{
	if (off >= (1u << 29)) {	/* BPF_MAX_VAR_OFF */
		ub_log_printf(log, "direct value offset of %u is not allowed\n", off);
		return -EINVAL;
	}
	if (map->type != BPF_MAP_TYPE_ARRAY) {
		ub_log_printf(log, "no direct value access support for this map type\n");
		return -EINVAL;
	}
	if (map->max_entries != 1 || off >= map->value_size) {
		ub_log_printf(log, "invalid access to map value pointer, value_size=%u off=%u\n",
			      map->value_size, off);
		return -EINVAL;
	}
	*addr = (uintptr_t)map->data + off;
	return 0;
}

/*
 * The loader's half of lddw (the kernel's resolve_pseudo_ldimm64): a map fd becomes the
 * map's address, a map value the value's address. The program keeps a reference to each
 * map it names.
 */
static int resolve_lddw(const union bpf_attr *attr, struct bpf_insn *insns, size_t cnt,
			struct used_maps *u, struct ub_log *log)
{
	for (size_t i = 0; i + 1 < cnt; i++) {
		struct bpf_insn *in = &insns[i];
		uint8_t src = in->src_reg;
		struct ub_map *map;
		uint64_t v;
		int err;

		if (in->code != (BPF_LD | BPF_IMM | BPF_DW))
			continue;
		if (in[1].code || in[1].dst_reg || in[1].src_reg || in[1].off) {
			ub_log_printf(log, "invalid bpf_ld_imm64 insn\n");
			return -EINVAL;
		}
		if (src == 0 || src == BPF_PSEUDO_FUNC) {
			i++;
			continue;
		}
		if (src == BPF_PSEUDO_BTF_ID) {
			ub_log_printf(log, "insn %zu: ksym (BTF id) loads have no meaning in user space\n", i);
			return -EINVAL;
		}
		if (src > BPF_PSEUDO_MAP_IDX_VALUE) {
			ub_log_printf(log, "unrecognized bpf_ld_imm64 insn\n");
			return -EINVAL;
		}
		int value = src == BPF_PSEUDO_MAP_VALUE || src == BPF_PSEUDO_MAP_IDX_VALUE;
		if (!value && in[1].imm) {
			ub_log_printf(log, "unrecognized bpf_ld_imm64 insn\n");
			return -EINVAL;
		}
		if ((err = map_from(attr, in, log, i, &map)))
			return err;
		if ((err = use_map(u, map))) {
			ub_map_put(map);
			return err;
		}
		v = (uintptr_t)map;
		if (value && (err = direct_value(map, (uint32_t)in[1].imm, log, &v)))
			return err;
		in[0].imm = (int32_t)(uint32_t)v;
		in[1].imm = (int32_t)(uint32_t)(v >> 32);
		i++;
	}
	return 0;
}

/* Helpers must exist and be allowed for the program type (the kernel's get_func_proto). */
static int check_helpers(const struct bpf_insn *insns, size_t cnt, const struct ub_prog_type *pt,
			 struct ub_log *log)
{
	for (size_t i = 0; i < cnt; i++) {
		const struct bpf_insn *in = &insns[i];
		if (in->code == (BPF_LD | BPF_IMM | BPF_DW)) {
			i++;
			continue;
		}
		if (in->code != (BPF_JMP | BPF_CALL) || in->src_reg != 0)
			continue;
		const struct ub_helper_def *d = in->imm >= 0 ? ub_helper_find((uint32_t)in->imm) : NULL;
		if (!d) {
			ub_log_printf(log, "invalid func unknown#%d\n", in->imm);
			return -EINVAL;
		}
		if (!ub_prog_type_allows(pt, d->id, d->grp)) {
			ub_log_printf(log, "program of this type cannot use helper bpf_%s#%d\n",
				      d->name, in->imm);
			return -EINVAL;
		}
	}
	return 0;
}

static int make_fd(const char *name, const struct bpf_insn *insns, size_t cnt)
{
	char label[40];

	snprintf(label, sizeof(label), "uebpf-prog:%.16s", name);
	int fd = memfd_create(label, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The fd holds the program's instructions, for tools that read them back. */
	if (write(fd, insns, cnt * sizeof(*insns)) != (ssize_t)(cnt * sizeof(*insns))) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/*
 * Instructions the verifier never reached become `goto -1` traps, as the kernel's
 * sanitize_dead_code: nothing there (a helper uebpf lacks, a kfunc) reaches later stages.
 */
static void trap_dead_code(struct bpf_insn *insns, size_t cnt, const uint8_t *seen)
{
	for (size_t i = 0; i < cnt; i++)
		if (!seen[i])
			insns[i] = (struct bpf_insn){ .code = BPF_JMP | BPF_JA, .off = -1 };
}

/* The verifier's verdict on the resolved instructions (0: accepted). */
static int verify(const union bpf_attr *attr, const struct ub_prog_type *pt,
		  struct bpf_insn *insns, size_t cnt, const struct used_maps *u,
		  struct ub_log *log, struct ub_ver_res *res)
{
	struct ub_ver_req req = { .insns = insns, .cnt = cnt, .pt = pt,
				  .prog_flags = attr->prog_flags,
				  .expected_attach_type = attr->expected_attach_type,
				  .maps = u->maps, .nr_maps = u->n, .log = log,
				  .log_level = attr->log_level,
				  .func_info = U64_PTR(attr->func_info),
				  .func_info_cnt = attr->func_info_cnt,
				  .func_info_rec_size = attr->func_info_rec_size,
				  .line_info = U64_PTR(attr->line_info),
				  .line_info_cnt = attr->line_info_cnt,
				  .line_info_rec_size = attr->line_info_rec_size };
	/* program BTF: what func_info and line_info name (the verifier checks them) */
	struct ub_btf_obj *btf = NULL;
	if (attr->func_info_cnt || attr->line_info_cnt) {
		if (!(btf = ub_btf_obj_get((int)attr->prog_btf_fd)))
			return errno ? -errno : -EINVAL;
		req.btf = btf->btf;
	}
	int err = ub_verify(&req, res);

	if (btf)
		ub_obj_put(&btf->obj);

	if (!err)
		trap_dead_code(insns, cnt, res->seen);
	for (size_t i = 0; !err && i < cnt; i++)	/* reads of kernel structs uebpf lacks */
		if (res->ctx_conv[i] == UB_VER_CONV_ZERO)
			insns[i] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
						      .dst_reg = insns[i].dst_reg };
	free(res->seen);
	res->seen = NULL;
	return err;
}

static int load(union bpf_attr *attr, const struct ub_prog_type *pt, struct ub_log *log)
{
	size_t cnt = attr->insn_cnt;
	struct bpf_insn *insns = malloc(cnt * sizeof(*insns));
	struct used_maps u = { 0 };
	struct uebpf_prog *prog = NULL;
	struct ub_ver_res vres = { 0 };
	int verified = !(attr->prog_flags & UEBPF_F_PROG_UNVERIFIED);
	int err;

	if (!insns)
		return -ENOMEM;
	memcpy(insns, U64_PTR(attr->insns), cnt * sizeof(*insns));
	/* A verified program meets the verifier first, which checks its structure as the
	 * kernel does (and in its words); the static validation then still runs as a
	 * backstop on what the verifier let through (unreached code already trapped). */
	err = verified ? 0 : ub_isa_validate(insns, cnt, log);
	if (!err && !verified)
		err = check_helpers(insns, cnt, pt, log);
	if (!err)
		err = resolve_lddw(attr, insns, cnt, &u, log);
	if (!err && verified)
		err = verify(attr, pt, insns, cnt, &u, log, &vres);
	if (!err && verified)
		err = ub_isa_validate(insns, cnt, log);
	if (err) {
		for (uint32_t i = 0; i < u.n; i++)
			ub_map_put(u.maps[i]);
		free(u.maps);
		free(vres.ctx_conv);
		free(insns);
		return err;
	}
	/* Verified programs run without runtime checks; the others in checked mode. A
	 * context of no fixed size must give what the verifier saw the program use. */
	struct uebpf_prog_opts o = { .sz = sizeof(o),
				     .flags = verified ? UEBPF_PROG_F_TRUSTED : UEBPF_PROG_F_CHECKED,
				     .log_buf = verified ? NULL : log->buf,
				     .log_size = verified ? 0 : log->size,
				     .ctx_size = pt->ctx_size ? pt->ctx_size : vres.max_ctx_off };
	err = ub_prog_create(insns, cnt, &o, u.maps, u.n, &prog);
	if (err) {
		free(vres.ctx_conv);
		free(insns);
		return err;
	}
	memcpy(insns, U64_PTR(attr->insns), cnt * sizeof(*insns));	/* keep the original */
	struct ub_prog_obj *p = calloc(1, sizeof(*p));
	int fd = p ? make_fd(attr->prog_name, U64_PTR(attr->insns), cnt) : -ENOMEM;
	if (fd < 0) {
		free(p);
		free(insns);
		free(vres.ctx_conv);
		uebpf_prog_free(prog);
		return fd;
	}
	p->ctx_conv = vres.ctx_conv;
	p->obj = (struct ub_obj){ .type = UB_OBJ_PROG, .refcnt = 1, .release = prog_release,
				  .fd = fd };
	p->prog = prog;
	p->type = pt->type;
	p->ptype = pt;
	p->expected_attach_type = attr->expected_attach_type;
	p->orig_insns = insns;
	p->insn_cnt = (uint32_t)cnt;
	memcpy(p->name, attr->prog_name, sizeof(p->name));
	p->name[sizeof(p->name) - 1] = '\0';
	ub_prog_calc_tag(insns, (uint32_t)cnt, p->tag);
	p->gpl_compatible = (uint8_t)ub_prog_license_gpl(U64_PTR(attr->license));
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	p->load_time = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	int ufd = ub_obj_publish(&p->obj);
	if (ufd < 0)
		prog_release(&p->obj);
	return ufd;
}

int ub_cmd_prog_load(union bpf_attr *attr, unsigned int size)
{
	struct ub_log log;
	const uint32_t known_flags = BPF_F_STRICT_ALIGNMENT | BPF_F_ANY_ALIGNMENT |
				     BPF_F_TEST_RND_HI32 | BPF_F_TEST_STATE_FREQ | BPF_F_SLEEPABLE |
				     BPF_F_XDP_HAS_FRAGS | UEBPF_F_PROG_UNVERIFIED;

	if (ub_attr_tail_zero(attr, UB_ATTR_END(core_relo_rec_size)))
		return -EINVAL;
	if (attr->prog_flags & ~known_flags)
		return -EINVAL;
	const struct ub_prog_type *pt = ub_prog_type_find(attr->prog_type);
	if (!pt)
		return -EINVAL;
	if (attr->insn_cnt == 0)
		return -EINVAL;
	if (attr->insn_cnt > UB_MAXINSNS)
		return -E2BIG;
	if (!attr->insns || !attr->license)
		return -EFAULT;
	int err = check_log_attr(attr);
	if (err)
		return err;
	for (size_t i = 0; i < sizeof(attr->prog_name); i++) {
		char c = attr->prog_name[i];
		if (!c)
			break;
		if (i == sizeof(attr->prog_name) - 1 ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return -EINVAL;
	}
	ub_log_init(&log, attr->log_level ? U64_PTR(attr->log_buf) : NULL,
		    attr->log_level ? attr->log_size : 0);
	err = load(attr, pt, &log);
	if (err < 0 && log.buf && log.len >= log.size && attr->log_level)
		return -ENOSPC;
	return err;
}

struct uebpf_prog *uebpf_prog_from_fd(int prog_fd)
{
	struct ub_prog_obj *p = ub_prog_obj_get(prog_fd);
	if (!p)
		return NULL;
	struct uebpf_prog *prog = p->prog;
	ub_prog_obj_put(p);	/* the fd keeps the program alive */
	return prog;
}

int ub_cmd_prog_get_next_id(union bpf_attr *attr, unsigned int size)
{
	if (ub_attr_tail_zero(attr, UB_ATTR_END(next_id)))
		return -EINVAL;
	uint32_t next = ub_obj_next_id(UB_OBJ_PROG, attr->start_id);
	if (!next)
		return -ENOENT;
	attr->next_id = next;
	return 0;
}

int ub_cmd_prog_get_fd_by_id(union bpf_attr *attr, unsigned int size)
{
	if (ub_attr_tail_zero(attr, UB_ATTR_END(open_flags)) || attr->open_flags)
		return -EINVAL;
	return ub_obj_fd_by_id(UB_OBJ_PROG, attr->prog_id);
}

int ub_prog_info(struct ub_prog_obj *p, union bpf_attr *attr)
{
	struct bpf_prog_info info;
	uint32_t len;
	int err = ub_info_in(attr, &info, sizeof(info), &len);

	if (err)
		return err;
	/* Pointer fields the caller filled (xlated_prog_insns, map_ids ...) are honoured. */
	struct bpf_prog_info in = info;
	memset(&info, 0, sizeof(info));
	info.type = p->type;
	info.id = p->obj.id;
	info.load_time = p->load_time;
	info.created_by_uid = (uint32_t)getuid();
	info.nr_map_ids = p->prog->nr_maps;
	info.run_cnt = __atomic_load_n(&p->prog->run_cnt, __ATOMIC_RELAXED);
	info.run_time_ns = __atomic_load_n(&p->prog->run_time_ns, __ATOMIC_RELAXED);
	info.xlated_prog_len = p->insn_cnt * (uint32_t)sizeof(struct bpf_insn);
	info.jited_prog_len = p->prog->jit ? (uint32_t)p->prog->jit->size : 0;
	if (in.jited_prog_insns && in.jited_prog_len && info.jited_prog_len)
		memcpy(U64_PTR(in.jited_prog_insns), p->prog->jit->code,
		       in.jited_prog_len < info.jited_prog_len ? in.jited_prog_len
							       : info.jited_prog_len);
	info.jited_prog_insns = in.jited_prog_insns;
	memcpy(info.name, p->name, sizeof(info.name));
	memcpy(info.tag, p->tag, sizeof(info.tag));
	info.gpl_compatible = p->gpl_compatible;
	if (in.xlated_prog_insns && in.xlated_prog_len)
		memcpy(U64_PTR(in.xlated_prog_insns), p->orig_insns,
		       in.xlated_prog_len < info.xlated_prog_len ? in.xlated_prog_len
								  : info.xlated_prog_len);
	if (in.map_ids && in.nr_map_ids) {
		uint32_t *ids = U64_PTR(in.map_ids);
		for (uint32_t i = 0; i < in.nr_map_ids && i < p->prog->nr_maps; i++)
			ids[i] = p->prog->maps[i]->obj.id;
	}
	info.xlated_prog_insns = in.xlated_prog_insns;
	info.map_ids = in.map_ids;
	if (len)
		memcpy(U64_PTR(attr->info.info), &info, len);
	attr->info.info_len = len;
	return 0;
}
