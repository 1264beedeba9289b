/*
 * ub_reloc: from section bytes to the instructions of one loadable program.
 *
 * CO-RE first (once per load, on the section copies): each bpf_core_relo of .BTF.ext is
 * resolved against the target BTF (btf_custom_path, else /sys/kernel/btf/vmlinux, else
 * the object's own) and patched into its instruction; one that cannot be satisfied
 * poisons the instruction with libbpf's marker call, so the verifier names it if reached.
 *
 * Then linking, as libbpf's bpf_object__reloc_code: the program's own instructions come
 * first; every bpf-to-bpf call or function-pointer lddw that reaches another function
 * (a .text subprogram, a static function, another program used as a function) appends
 * that function once, and the call's immediate becomes the relative distance. Map,
 * global data and extern lddws get the map fds.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "obj/bo.h"

#define INSN_SZ sizeof(struct bpf_insn)

/* ---- CO-RE ---- */

/* The host kernel's BTF, parsed once per process (it does not change while we run). */
static struct ub_btf *vmlinux_btf;
static pthread_mutex_t vmlinux_lock = PTHREAD_MUTEX_INITIALIZER;

static int core_vmlinux(struct ub_btf **target, struct ub_log *log)
{
	int err = 0;

	pthread_mutex_lock(&vmlinux_lock);
	if (!vmlinux_btf)
		err = ub_btf_load_file("/sys/kernel/btf/vmlinux", &vmlinux_btf, log);
	*target = vmlinux_btf;
	pthread_mutex_unlock(&vmlinux_lock);
	return err;
}

/* *own: the caller frees the target. */
static int core_target(struct bpf_object *obj, struct ub_btf **target, bool *own)
{
	char msg[512];
	struct ub_log log;
	const char *path = obj->btf_custom_path;
	int err;

	*own = false;
	ub_log_init(&log, msg, sizeof(msg));
	if (path) {
		err = ub_btf_load_file(path, target, &log);
		*own = !err;
	} else if (access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
		path = "/sys/kernel/btf/vmlinux";
		err = core_vmlinux(target, &log);
	} else {
		*target = obj->btf;
		return 0;
	}
	if (err)
		ub_bo_warn("CO-RE: target BTF %s: %s", path, msg);
	return err;
}

static int core_sec(struct bpf_object *obj, struct ub_xsec *x, const struct ub_btf *target)
{
	const struct ub_btf_ext_sec *s = ub_btf_ext_find(obj->ext, UB_BTF_EXT_CORE, x->name);

	for (uint32_t i = 0; s && i < s->nr; i++) {
		struct bpf_core_relo r = { 0 };
		char msg[512];
		struct ub_log log;
		memcpy(&r, (const uint8_t *)s->recs + (size_t)i * s->rec_size,
		       s->rec_size < sizeof(r) ? s->rec_size : sizeof(r));
		if (r.insn_off % INSN_SZ || r.insn_off / INSN_SZ >= x->cnt) {
			ub_bo_warn("CO-RE: section '%s' record %u: insn offset 0x%x outside the section\n", x->name, i,
				   r.insn_off);
			return -EINVAL;
		}
		ub_log_init(&log, msg, sizeof(msg));
		/* unsatisfiable relocations poison their instruction (not an error) */
		int err = ub_core_apply(obj->btf, target, &r, x->insns, x->cnt, &log);
		if (err) {
			ub_bo_warn("CO-RE: section '%s' insn %u: %s", x->name, r.insn_off / (uint32_t)INSN_SZ, msg);
			return err;
		}
		if (log.len)
			ub_bo_debug("CO-RE: section '%s': %s", x->name, msg);
	}
	return 0;
}

/* As libbpf, only code that is loaded is relocated: sections holding a program to load,
 * and sections of subprograms (any loaded program may call them). */
static bool core_wanted(const struct bpf_object *obj, size_t xsec)
{
	bool any_load = false, here = false, subprogs = false;

	for (size_t i = 0; i < obj->nprogs; i++) {
		const struct bpf_program *p = obj->progs[i];
		bool load = !p->subprog && p->autoload;
		any_load |= load;
		if (p->xsec == xsec) {
			here |= load;
			subprogs |= p->subprog;
		}
	}
	return here || (subprogs && any_load);
}

int ub_reloc_core(struct bpf_object *obj)
{
	struct ub_btf *target = NULL;
	bool own = false, any = false;
	int err = 0;

	for (size_t i = 0; obj->ext && i < obj->nxsecs; i++)
		any |= core_wanted(obj, i) && ub_btf_ext_find(obj->ext, UB_BTF_EXT_CORE, obj->xsecs[i].name);
	if (!any)
		return 0;
	if ((err = core_target(obj, &target, &own)))
		return err;
	for (size_t i = 0; !err && i < obj->nxsecs; i++)
		if (core_wanted(obj, i))
			err = core_sec(obj, &obj->xsecs[i], target);
	if (own)
		ub_btf_free(target);
	return err;
}

/* ---- linking ---- */

struct link {
	struct bpf_object *obj;
	struct bpf_program *main;
	struct bpf_insn *insns;
	struct { uint32_t sec, idx; } *orig;	/* where each instruction came from */
	size_t cnt, cap;
	struct { struct bpf_program *fn; size_t pos; } *placed;	/* in order of placement */
	size_t nplaced;
	size_t *pos_of;		/* by program index: its position, or SIZE_MAX */
};

#define LINK_ERR(l, i, ...) (ub_bo_warn("prog '%s': section '%s' insn %u: ", (l)->main->name, \
			     (l)->obj->xsecs[(l)->orig[i].sec].name, (l)->orig[i].idx), \
			     ub_bo_pr(LIBBPF_WARN, __VA_ARGS__), -EINVAL)

static int link_append(struct link *l, const struct bpf_program *fn, size_t *pos)
{
	if (l->cnt + fn->cnt > l->cap) {
		size_t cap = (l->cnt + fn->cnt) * 2;
		struct bpf_insn *n = realloc(l->insns, cap * sizeof(*n));
		if (n)
			l->insns = n;
		void *o = n ? realloc(l->orig, cap * sizeof(*l->orig)) : NULL;
		if (!n || !o)
			return -ENOMEM;
		l->orig = o, l->cap = cap;
	}
	*pos = l->cnt;
	memcpy(l->insns + l->cnt, l->obj->xsecs[fn->xsec].insns + fn->off, fn->cnt * INSN_SZ);
	for (uint32_t k = 0; k < fn->cnt; k++)
		l->orig[l->cnt + k].sec = fn->xsec, l->orig[l->cnt + k].idx = fn->off + k;
	l->cnt += fn->cnt;
	return 0;
}

/* The function holding instruction idx of section sec: programs are sorted by section
 * and offset and do not overlap (elf.c), so a binary search finds it. */
static struct bpf_program *func_at(const struct bpf_object *obj, uint32_t sec, uint32_t idx)
{
	size_t lo = 0, hi = obj->nprogs;

	while (lo < hi) {	/* first program after (sec, idx) */
		size_t mid = (lo + hi) / 2;
		const struct bpf_program *p = obj->progs[mid];
		if (p->xsec < sec || (p->xsec == sec && p->off <= idx))
			lo = mid + 1;
		else
			hi = mid;
	}
	struct bpf_program *p = lo ? obj->progs[lo - 1] : NULL;
	return p && p->xsec == sec && idx - p->off < p->cnt ? p : NULL;
}

/* Where fn's first instruction is in the linked program (appending it if new). */
static int link_place(struct link *l, struct bpf_program *fn, size_t *pos)
{
	if (fn == l->main) {
		*pos = 0;
		return 0;
	}
	if (l->pos_of[fn->idx] != SIZE_MAX) {
		*pos = l->pos_of[fn->idx];
		return 0;
	}
	void *n = realloc(l->placed, (l->nplaced + 1) * sizeof(*l->placed));
	if (!n)
		return -ENOMEM;
	l->placed = n;
	int err = link_append(l, fn, pos);
	if (!err) {
		l->placed[l->nplaced].fn = fn, l->placed[l->nplaced].pos = *pos;
		l->nplaced++;
		l->pos_of[fn->idx] = *pos;
	}
	return err;
}

static const struct ub_rel *rel_at(const struct ub_xsec *x, uint32_t idx)
{
	size_t lo = 0, hi = x->nrels;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (x->rels[mid].insn < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->nrels && x->rels[lo].insn == idx ? &x->rels[lo] : NULL;
}

static int link_call(struct link *l, size_t i, uint32_t sec, int64_t target)
{
	const struct ub_xsec *x = &l->obj->xsecs[sec];
	struct bpf_program *fn;
	size_t pos;
	int err;

	if (target < 0 || (uint64_t)target >= x->cnt || !(fn = func_at(l->obj, sec, (uint32_t)target)))
		return LINK_ERR(l, i, "call target %lld in section '%s' is not in a function\n", (long long)target,
				x->name);
	if ((err = link_place(l, fn, &pos)))
		return err;
	int64_t rel = (int64_t)(pos + ((uint32_t)target - fn->off)) - (int64_t)(i + 1);
	if (rel < INT32_MIN || rel > INT32_MAX)
		return LINK_ERR(l, i, "call distance out of range\n");
	l->insns[i].imm = (int32_t)rel;
	return 0;
}

static int map_fd_of(struct link *l, size_t i, int map)
{
	const struct bpf_map *m = l->obj->maps[map];

	if (m->fd < 0)
		return LINK_ERR(l, i, "map '%s' is used but was not created (autocreate off)\n", m->name);
	return m->fd;
}

static int link_ext(struct link *l, size_t i, const struct ub_rel *r)
{
	const struct ub_ext *x = &l->obj->exts[r->ext];
	struct bpf_insn *in = &l->insns[i];
	int fd;

	if (x->ksym)
		return LINK_ERR(l, i, "extern '%s' is a kernel symbol (__ksym); user space has none\n", x->name);
	if (in->code != (BPF_LD | BPF_IMM | BPF_DW))
		return LINK_ERR(l, i, "extern '%s' used by a call\n", x->name);
	if ((fd = map_fd_of(l, i, l->obj->kconfig_map)) < 0)
		return fd;
	in[0].src_reg = BPF_PSEUDO_MAP_VALUE, in[0].imm = fd;
	in[1].imm = (int32_t)x->off;
	return 0;
}

static int link_rel(struct link *l, size_t i, const struct ub_rel *r)
{
	struct bpf_insn *in = &l->insns[i];
	bool lddw = in->code == (BPF_LD | BPF_IMM | BPF_DW);
	int fd;

	switch (r->kind) {
	case UB_REL_CALL:
		if (lddw)
			in[0].src_reg = BPF_PSEUDO_FUNC, in[1].imm = 0;
		return link_call(l, i, r->sec, lddw ? r->sym_off / (int64_t)INSN_SZ + in->imm / (int64_t)INSN_SZ
						   : r->sym_off / (int64_t)INSN_SZ + in->imm + 1);
	case UB_REL_MAP:
	case UB_REL_DATA:
		if ((fd = map_fd_of(l, i, r->map)) < 0)
			return fd;
		if (r->kind == UB_REL_DATA) {
			int64_t off = (int64_t)in[0].imm + r->sym_off;
			if (off < 0 || off >= l->obj->maps[r->map]->value_size)
				return LINK_ERR(l, i, "'%s' + %d is outside '%s'\n", r->name, in[0].imm,
						l->obj->maps[r->map]->real_name);
			in[1].imm = (int32_t)off;
		}
		in[0].src_reg = r->kind == UB_REL_MAP ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE;
		in[0].imm = fd;
		return 0;
	case UB_REL_EXTERN:
		return link_ext(l, i, r);
	default:
		return LINK_ERR(l, i, "calls kernel function '%s' (kfunc); user space has no kernel functions\n",
				r->name);
	}
}

static int link_insn(struct link *l, size_t i)
{
	const struct ub_xsec *x = &l->obj->xsecs[l->orig[i].sec];
	const struct ub_rel *r = rel_at(x, l->orig[i].idx);
	const struct bpf_insn *in = &l->insns[i];

	if (r)
		return link_rel(l, i, r);
	if (in->code == (BPF_JMP | BPF_CALL) && in->src_reg == BPF_PSEUDO_CALL)
		return link_call(l, i, l->orig[i].sec, (int64_t)l->orig[i].idx + in->imm + 1);
	if (in->code == (BPF_JMP | BPF_CALL) && in->src_reg == BPF_PSEUDO_KFUNC_CALL)
		return LINK_ERR(l, i, "kfunc call without relocation\n");
	if (in->code == (BPF_LD | BPF_IMM | BPF_DW) && in->src_reg && in->src_reg != BPF_PSEUDO_FUNC)
		return LINK_ERR(l, i, "lddw with pseudo source %u and no relocation\n", in->src_reg);
	return 0;
}

/* Index of the first record at or after byte `off` (records sorted by offset). */
static uint32_t ext_first(const struct ub_btf_ext_sec *s, uint32_t off)
{
	uint32_t lo = 0, hi = s->nr;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, v;
		memcpy(&v, (const uint8_t *)s->recs + (size_t)mid * s->rec_size, sizeof(v));
		if (v < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The func_info or line_info records of every function in the linked program, their
 * insn_off turned from bytes in the ELF section into the index in the program (the
 * placements are in increasing position, so the result is sorted as the verifier wants).
 */
static int link_ext_info(struct link *l, int what, void **out, uint32_t *cnt, uint32_t *rec)
{
	struct bpf_program *main = l->main;
	size_t n = 0, cap = 0;
	uint8_t *buf = NULL;

	*out = NULL, *cnt = 0, *rec = 0;
	for (size_t f = 0; l->obj->ext && f <= l->nplaced; f++) {
		struct bpf_program *fn = f ? l->placed[f - 1].fn : main;
		size_t pos = f ? l->placed[f - 1].pos : 0;
		const struct ub_btf_ext_sec *s = ub_btf_ext_find(l->obj->ext, what, l->obj->xsecs[fn->xsec].name);
		/* records are sorted by offset (LLVM writes them so; the verifier checks the
		 * result): start at the function's first and stop past its end */
		for (uint32_t i = s ? ext_first(s, fn->off * (uint32_t)INSN_SZ) : 0; s && i < s->nr; i++) {
			const uint8_t *r = (const uint8_t *)s->recs + (size_t)i * s->rec_size;
			uint32_t off;
			memcpy(&off, r, sizeof(off));
			if (off / INSN_SZ >= (uint64_t)fn->off + fn->cnt)
				break;
			if (off % INSN_SZ || off / INSN_SZ < fn->off)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				uint8_t *nb = realloc(buf, cap * s->rec_size);
				if (!nb) {
					free(buf);
					return -ENOMEM;
				}
				buf = nb;
			}
			uint32_t idx = (uint32_t)(pos + off / INSN_SZ - fn->off);
			memcpy(buf + n * s->rec_size, r, s->rec_size);
			memcpy(buf + n * s->rec_size, &idx, sizeof(idx));
			n++, *rec = s->rec_size;
		}
	}
	*out = buf, *cnt = (uint32_t)n;
	return 0;
}

int ub_reloc_prog(struct bpf_object *obj, struct bpf_program *prog)
{
	struct link l = { .obj = obj, .main = prog };
	size_t pos;
	int err = (l.pos_of = malloc((obj->nprogs ? obj->nprogs : 1) * sizeof(size_t))) ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < obj->nprogs; i++)
		l.pos_of[i] = SIZE_MAX;
	if (!err)
		err = link_append(&l, prog, &pos);

	for (size_t i = 0; !err && i < l.cnt; i++) {
		bool lddw = l.insns[i].code == (BPF_LD | BPF_IMM | BPF_DW);
		if (lddw && i + 1 >= l.cnt)
			err = LINK_ERR(&l, i, "lddw is the function's last instruction\n");
		else
			err = link_insn(&l, i);
		i += lddw;
	}
	free(prog->func_info), free(prog->line_info);
	prog->func_info = prog->line_info = NULL;
	if (!err)
		err = link_ext_info(&l, UB_BTF_EXT_FUNC, &prog->func_info, &prog->func_info_cnt,
				    &prog->func_info_rec);
	if (!err)
		err = link_ext_info(&l, UB_BTF_EXT_LINE, &prog->line_info, &prog->line_info_cnt,
				    &prog->line_info_rec);
	free(l.orig);
	free(l.placed);
	free(l.pos_of);
	if (err) {
		free(l.insns);
		return err;
	}
	free(prog->insns);
	prog->insns = l.insns;
	prog->insn_cnt = l.cnt;
	return 0;
}
