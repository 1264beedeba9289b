/*
 * Skeletons: what the code `uebpf gen skeleton` (or bpftool's) writes calls into.
 *
 * A skeleton embeds the object's ELF bytes and points at the user's struct: one slot per
 * map, program and link, and for global data (.bss, .data, .rodata, .kconfig and custom
 * .data.* sections) a pointer the user reads and writes directly. Before load that
 * pointer is the initial value (so .rodata constants can be set), after load the map's
 * live memory, shared with the programs, as libbpf's mmap of BPF_F_MMAPABLE arrays.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "obj/bo.h"

static int skel_err(int err)
{
	errno = -err;
	return err;
}

/* A map by the skeleton's name: the name itself, else (internal maps named "obj.bss" by
 * another generator or object name) the section part, ".bss". */
static struct bpf_map *skel_find_map(struct bpf_object *obj, const char *name)
{
	static const char *const secs[] = { ".data", ".rodata", ".bss", ".kconfig" };
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	for (size_t i = 0; !m && i < sizeof(secs) / sizeof(secs[0]); i++) {
		const char *p = strstr(name, secs[i]);
		if (p && p != name)
			m = bpf_object__find_map_by_name(obj, p);
	}
	return m;
}

/* Points every global-data slot at its map's memory (initial value or live). */
static void skel_mmaped(struct bpf_object_skeleton *s)
{
	for (int i = 0; i < s->map_cnt; i++) {
		struct bpf_map_skeleton *ms = (void *)((char *)s->maps + (size_t)i * s->map_skel_sz);
		size_t sz;
		if (ms->mmaped && *ms->map)
			*ms->mmaped = bpf_map__initial_value(*ms->map, &sz);
	}
}

int bpf_object__open_skeleton(struct bpf_object_skeleton *s, const struct bpf_object_open_opts *opts)
{
	struct bpf_object_open_opts o = { .sz = sizeof(o) };

	if (!s || !s->data || !s->obj || s->map_skel_sz < (int)(3 * sizeof(void *)) ||
	    s->prog_skel_sz < (int)(3 * sizeof(void *)))
		return skel_err(-EINVAL);
	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	o.sz = sizeof(o);
	if (!o.object_name)
		o.object_name = s->name;
	struct bpf_object *obj = bpf_object__open_mem(s->data, s->data_sz, &o);
	if (!obj)
		return skel_err(-(errno ? errno : EINVAL));
	*s->obj = obj;
	for (int i = 0; i < s->map_cnt; i++) {
		struct bpf_map_skeleton *ms = (void *)((char *)s->maps + (size_t)i * s->map_skel_sz);
		*ms->map = skel_find_map(obj, ms->name);
		if (!*ms->map) {
			ub_bo_warn("skeleton '%s': object has no map '%s'\n", s->name, ms->name);
			return skel_err(-ESRCH);
		}
	}
	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_prog_skeleton *ps = (void *)((char *)s->progs + (size_t)i * s->prog_skel_sz);
		*ps->prog = bpf_object__find_program_by_name(obj, ps->name);
		if (!*ps->prog) {
			ub_bo_warn("skeleton '%s': object has no program '%s'\n", s->name, ps->name);
			return skel_err(-ESRCH);
		}
	}
	skel_mmaped(s);
	return 0;
}

int bpf_object__load_skeleton(struct bpf_object_skeleton *s)
{
	if (!s || !s->obj || !*s->obj)
		return skel_err(-EINVAL);
	int err = bpf_object__load(*s->obj);
	if (err) {
		ub_bo_warn("skeleton '%s': failed to load the object: %d\n", s->name, err);
		return skel_err(err < 0 ? err : -EINVAL);
	}
	skel_mmaped(s);
	return 0;
}

/* Sections libbpf attaches by itself; the others (xdp, tc, socket...) need a target. */
static int skel_auto_attach(const char *sec)
{
	static const char *const pfx[] = {
		"kprobe/", "kretprobe/", "uprobe/", "uretprobe/", "usdt/", "tracepoint/", "tp/",
		"raw_tracepoint/", "raw_tp/", "tp_btf/", "fentry/", "fexit/", "fmod_ret/", "lsm/",
	};
	for (size_t i = 0; sec && i < sizeof(pfx) / sizeof(pfx[0]); i++)
		if (!strncmp(sec, pfx[i], strlen(pfx[i])))
			return 1;
	return 0;
}

int bpf_object__attach_skeleton(struct bpf_object_skeleton *s)
{
	if (!s)
		return skel_err(-EINVAL);
	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_prog_skeleton *ps = (void *)((char *)s->progs + (size_t)i * s->prog_skel_sz);
		struct bpf_program *p = *ps->prog;
		if (!p || !bpf_program__autoload(p) || !ps->link || *ps->link ||
		    !skel_auto_attach(bpf_program__section_name(p)))
			continue;
		*ps->link = bpf_program__attach(p);
		if (!*ps->link) {
			int err = -(errno ? errno : EINVAL);
			ub_bo_warn("skeleton '%s': failed to auto-attach program '%s': %d\n", s->name,
				   bpf_program__name(p), err);
			return skel_err(err);
		}
	}
	return 0;
}

void bpf_object__detach_skeleton(struct bpf_object_skeleton *s)
{
	for (int i = 0; s && i < s->prog_cnt; i++) {
		struct bpf_prog_skeleton *ps = (void *)((char *)s->progs + (size_t)i * s->prog_skel_sz);
		if (ps->link && *ps->link) {
			bpf_link__destroy(*ps->link);
			*ps->link = NULL;
		}
	}
}

void bpf_object__destroy_skeleton(struct bpf_object_skeleton *s)
{
	if (!s)
		return;
	bpf_object__detach_skeleton(s);
	if (s->obj && *s->obj) {
		bpf_object__close(*s->obj);
		*s->obj = NULL;
	}
	free(s->maps);
	free(s->progs);
	free(s);
}
