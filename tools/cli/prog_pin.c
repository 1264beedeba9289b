/*
 * cli_prog_pin: pinned programs.
 *
 * A uebpf program lives inside the process that loaded it: there is no kernel to keep it
 * after the process exits, and the library pins maps only (a map is a file; a program is
 * code compiled for one process). So the CLI pins a program as a file of its own that holds
 * what is needed to load it again: type, name, instructions, and the pin paths of the maps
 * it uses (which must be pinned). Opening a pinned program loads it again, through the
 * verifier, with the same maps: state persists in the maps, exactly as with the kernel.
 *
 * The file format (layout, encoding, checks) is the library's (src/api/prog_pin.c): the
 * CLI adds what the library does not know, the source lines, and finds map pin paths its
 * own way (notes, then the pin registry). In the instructions, an lddw of a map (src
 * BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE) holds the map's index in the path table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "api/prog_obj.h"
#include "api/prog_pin.h"
#include "cli.h"

/* ---- what this process knows about pinned programs and maps ---- */

/* Where a map this process uses is pinned (by inode, so any fd of it matches). */
struct map_note {
	dev_t dev;
	ino_t ino;
	char *path;
};

/* A program loaded from, or written to, a pin file: its source lines and map paths. */
struct prog_note {
	uint32_t id;
	struct cli_src_line *lines;
	uint32_t nr_lines;
};

static struct map_note *map_notes;
static size_t nr_map_notes;
static struct prog_note *prog_notes;
static size_t nr_prog_notes;

void cli_map_path_note(int fd, const char *path)
{
	struct stat st;
	struct map_note *n;

	if (fstat(fd, &st) || !(n = realloc(map_notes, (nr_map_notes + 1) * sizeof(*n))))
		return;
	map_notes = n;
	n[nr_map_notes] = (struct map_note){ st.st_dev, st.st_ino, strdup(path) };
	if (n[nr_map_notes].path)
		nr_map_notes++;
}

static const char *map_path_of(int fd)
{
	struct stat st;
	const char *const *pins;
	struct bpf_map_info mi = { 0 };
	uint32_t len = sizeof(mi);

	if (fstat(fd, &st))
		return NULL;
	for (size_t i = 0; i < nr_map_notes; i++)
		if (map_notes[i].dev == st.st_dev && map_notes[i].ino == st.st_ino)
			return map_notes[i].path;
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		return NULL;
	pins = cli_pins_of(0, mi.id);
	return *pins;
}

void cli_prog_note_lines(uint32_t prog_id, struct cli_src_line *lines, uint32_t n)
{
	struct prog_note *p = realloc(prog_notes, (nr_prog_notes + 1) * sizeof(*p));

	if (!p) {
		cli_src_lines_free(lines, n);
		return;
	}
	prog_notes = p;
	p[nr_prog_notes++] = (struct prog_note){ prog_id, lines, n };
}

const struct cli_src_line *cli_prog_lines(uint32_t prog_id, uint32_t *n)
{
	for (size_t i = 0; i < nr_prog_notes; i++) {
		if (prog_notes[i].id == prog_id) {
			*n = prog_notes[i].nr_lines;
			return prog_notes[i].lines;
		}
	}
	*n = 0;
	return NULL;
}

void cli_src_lines_free(struct cli_src_line *l, uint32_t n)
{
	for (uint32_t i = 0; l && i < n; i++) {
		free(l[i].file);
		free(l[i].src);
	}
	free(l);
}

/* ---- writing ---- */

static int is_map_ld(const struct bpf_insn *in)
{
	return in->code == (BPF_LD | BPF_DW | BPF_IMM) &&
	       (in->src_reg == BPF_PSEUDO_MAP_FD || in->src_reg == BPF_PSEUDO_MAP_VALUE);
}

/* Replaces map fds by indexes into paths[] (filled, with their string offsets). */
static int index_maps(struct bpf_insn *insns, uint32_t cnt, struct ub_pin_strtab *t,
		      uint32_t *offs, int *fds, uint32_t *nr)
{
	for (uint32_t i = 0; i < cnt; i++) {
		if (!is_map_ld(&insns[i]) || i + 1 >= cnt)
			continue;
		int fd = insns[i].imm;
		uint32_t k = 0;
		while (k < *nr && fds[k] != fd)
			k++;
		if (k == *nr) {
			const char *path = map_path_of(fd);
			if (!path)
				return cli_err("insn %u uses a map that is not pinned: pin the program's "
					       "maps first (prog load ... pinmaps DIR)", i);
			if (*nr >= UB_PIN_MAX_MAPS)
				return cli_err("more than %d maps", UB_PIN_MAX_MAPS);
			if (ub_pin_str_add(t, path, &offs[k]))
				return cli_err("out of memory");
			fds[k] = fd;
			(*nr)++;
		}
		insns[i].imm = (int32_t)k;
		i++;	/* the second half of the lddw */
	}
	return CLI_OK;
}

static int lines_add(struct ub_pin_strtab *t, const struct cli_src_line *l, uint32_t n,
		     struct ub_pin_line **out)
{
	struct ub_pin_line *pl = calloc(n ? n : 1, sizeof(*pl));

	if (!pl)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		pl[i] = (struct ub_pin_line){ .insn_off = l[i].insn_off, .line = l[i].line,
					      .col = l[i].col, .is_proto = l[i].is_proto };
		if (ub_pin_str_add(t, l[i].file, &pl[i].file_off) ||
		    ub_pin_str_add(t, l[i].src, &pl[i].src_off)) {
			free(pl);
			return -1;
		}
	}
	*out = pl;
	return 0;
}

static int write_pin(const char *path, struct ub_pin_hdr *h, const struct bpf_insn *insns,
		     const uint32_t *offs, const struct ub_pin_line *pl,
		     const struct ub_pin_strtab *t)
{
	size_t sz;
	void *buf = ub_pin_encode(h, insns, offs, pl, t, &sz);

	if (!buf)
		return cli_err("out of memory");
	int rc = cli_write_file(path, buf, sz) ? CLI_FAIL : CLI_OK;
	free(buf);
	return rc;
}

int cli_prog_pin_write(int prog_fd, const char *path)
{
	struct bpf_prog_info info;
	uint32_t cnt;
	struct bpf_insn *insns = cli_prog_xlated(prog_fd, &info, &cnt);
	struct ub_pin_strtab t = { NULL, 0 };
	uint32_t offs[UB_PIN_MAX_MAPS], nr = 0, nlines = 0, dummy;
	int fds[UB_PIN_MAX_MAPS];
	struct ub_pin_line *pl = NULL;
	char real[4096];
	int rc;

	if (!insns)
		return CLI_FAIL;	/* cli_prog_xlated said why */
	if (cli_pin_real(path, real, sizeof(real))) {
		free(insns);
		return cli_err("can't pin the object (%s): %s", path, strerror(ENAMETOOLONG));
	}
	const struct cli_src_line *lines = cli_prog_lines(info.id, &nlines);
	rc = ub_pin_str_add(&t, "", &dummy) ? cli_err("out of memory") : CLI_OK;
	if (rc == CLI_OK)
		rc = index_maps(insns, cnt, &t, offs, fds, &nr);
	if (rc == CLI_OK && lines_add(&t, lines, nlines, &pl))
		rc = cli_err("out of memory");
	if (rc == CLI_OK) {
		struct ub_pin_hdr h = { .prog_type = info.type, .insn_cnt = cnt, .nr_maps = nr,
					.nr_lines = nlines,
					.flags = info.gpl_compatible ? UB_PIN_F_GPL : 0 };
		/* bpf_prog_info has no expected attach type (nor has the kernel's): the
		 * program object says. */
		struct ub_prog_obj *po = ub_prog_obj_get(prog_fd);
		h.expected_attach_type = po ? po->expected_attach_type : 0;
		ub_prog_obj_put(po);
		memcpy(h.name, info.name, sizeof(h.name));
		rc = write_pin(real, &h, insns, offs, pl, &t);
	}
	free(pl);
	free(t.buf);
	free(insns);
	return rc;
}

/* ---- reading ---- */

int cli_prog_pin_is(const char *path)
{
	char real[4096];
	int fd;

	if (cli_pin_real(path, real, sizeof(real)))
		return 0;
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return 0;
	int is = ub_prog_pin_is(fd);
	close(fd);
	return is;
}

/* "PATH: corrupt pinned program: reason" (or nothing when quiet). */
static int corrupt(const char *path, int quiet, const char *why)
{
	if (!quiet)
		cli_err("%s: not a valid pinned program: %s", path, why);
	return -1;
}

/* The library checks the file; its message names path (f->real) and the reason. */
static int pf_check(struct ub_pin_file *f, const char *path, int quiet)
{
	int err = ub_pin_parse(f);

	if (err == -ENOMEM)
		return corrupt(path, quiet, "out of memory");
	if (err && !quiet)
		cli_err("%s", uebpf_last_error());
	return err ? -1 : 0;
}

/* Opens the maps and puts their fds into the lddw's. fds[] receives them (closed by caller). */
static int pf_maps(struct ub_pin_file *f, const char *path, int quiet, int *fds)
{
	for (uint32_t i = 0; i < f->h.nr_maps; i++) {
		const char *mp = ub_pin_str(f, f->offs[i]);
		char real[4096];
		fds[i] = cli_pin_real(mp, real, sizeof(real)) ? -1 : cli_pins_map_fd(real);
		if (fds[i] < 0)
			fds[i] = bpf_obj_get(mp);
		if (fds[i] < 0) {
			if (!quiet)
				cli_err("%s: map %s of the program: %s", path, mp, cli_why(errno));
			return -1;
		}
	}
	for (uint32_t i = 0; i < f->h.insn_cnt; i++) {
		struct bpf_insn *in = &f->insns[i];
		if (!is_map_ld(in))
			continue;
		if (i + 1 >= f->h.insn_cnt || (uint32_t)in->imm >= f->h.nr_maps)
			return corrupt(path, quiet, "an instruction names a map not in the table");
		in->imm = fds[in->imm];
		i++;
	}
	return 0;
}

static struct cli_src_line *pf_lines(const struct ub_pin_file *f)
{
	struct cli_src_line *l = calloc(f->h.nr_lines ? f->h.nr_lines : 1, sizeof(*l));

	for (uint32_t i = 0; l && i < f->h.nr_lines; i++) {
		const struct ub_pin_line *p = &f->lines[i];
		l[i] = (struct cli_src_line){ .insn_off = p->insn_off, .line = p->line, .col = p->col,
					      .is_proto = p->is_proto != 0,
					      .file = strdup(ub_pin_str(f, p->file_off)),
					      .src = strdup(ub_pin_str(f, p->src_off)) };
	}
	return l;
}

static int pf_load(struct ub_pin_file *f, const char *path, int quiet)
{
	const size_t logsz = 1 << 16;
	char *log = calloc(1, logsz);
	int fd = ub_pin_prog_load(f, NULL, log, logsz);	/* map fds are in the lddw's */

	if (fd < 0 && !quiet)
		cli_err_log(log, "%s: loading the pinned program failed: %s", path,
			    strerror(errno));
	free(log);
	return fd;
}

int cli_prog_pin_open(const char *path, int quiet)
{
	char real[4096];
	struct ub_pin_file f = { .real = path };
	int fds[UB_PIN_MAX_MAPS], fd = -1;

	if (cli_pin_real(path, real, sizeof(real)))
		return corrupt(path, quiet, "path too long");
	if (!cli_prog_pin_is(path)) {
		if (!quiet)
			cli_err("bpf obj get (%s): %s", path,
				access(real, F_OK) ? strerror(errno) : "not a pinned program");
		return -1;
	}
	if (cli_read_file(real, &f.buf, &f.len))
		return -1;
	for (uint32_t i = 0; i < UB_PIN_MAX_MAPS; i++)
		fds[i] = -1;
	if (!pf_check(&f, path, quiet) && !pf_maps(&f, path, quiet, fds))
		fd = pf_load(&f, path, quiet);
	if (fd >= 0) {
		struct bpf_prog_info info = { 0 };
		uint32_t len = sizeof(info);
		struct cli_src_line *l = pf_lines(&f);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && l)
			cli_prog_note_lines(info.id, l, f.h.nr_lines);
		else
			cli_src_lines_free(l, f.h.nr_lines);
	}
	/* The map fds stay open while this process runs: the program's instructions (and so
	 * `prog dump xlated` and `prog pin`) refer to the maps by these fd numbers. */
	for (uint32_t i = 0; fd < 0 && i < UB_PIN_MAX_MAPS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(f.insns);
	free(f.buf);
	return fd;
}
