/*
 * ub_prog_pin: pinned programs. A uebpf program lives inside the process that loaded it:
 * there is no kernel to keep it after the process exits, and its code is compiled for one
 * process. So a pinned program is a file that holds what is needed to load it again (type,
 * name, instructions, the pin paths of the maps it uses); BPF_OBJ_GET of it loads the
 * program again, through the verifier, with the same maps: state lives on in the maps, as
 * with the kernel. The kernel keeps a pinned program's maps alive through the program;
 * uebpf needs them as files, so the maps are pinned beside it, at PATH.maps/NAME.
 *
 * File layout (host byte order; every field checked on open: the file is untrusted):
 *   struct ub_pin_hdr, insns[insn_cnt], map_path_off[nr_maps], struct ub_pin_line[nr_lines],
 *   string table (NUL-separated, strtab_size bytes, ends in NUL).
 * In the instructions, an lddw of a map (src BPF_PSEUDO_MAP_FD / _VALUE / _IDX / _IDX_VALUE)
 * holds the map's index in the path table instead of an fd (the _IDX forms are loaded with
 * an fd_array in path-table order). Source lines are written by the CLI, which knows them;
 * the library writes none and skips them when loading (it checks them all the same).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "api/bpf_cmd.h"
#include "api/prog_obj.h"
#include "api/prog_pin.h"
#include "maps/map.h"
#include "vm/vm.h"

#define PIN_MAX_NOTES 1024		/* map pins remembered (see known_pin) */

static int is_map_ld(const struct bpf_insn *in)
{
	return in->code == (BPF_LD | BPF_DW | BPF_IMM) && in->src_reg >= BPF_PSEUDO_MAP_FD &&
	       in->src_reg <= BPF_PSEUDO_MAP_IDX_VALUE && in->src_reg != BPF_PSEUDO_BTF_ID &&
	       in->src_reg != BPF_PSEUDO_FUNC;
}

static int is_idx_ld(const struct bpf_insn *in)
{
	return in->src_reg == BPF_PSEUDO_MAP_IDX || in->src_reg == BPF_PSEUDO_MAP_IDX_VALUE;
}

/* ---- where this process pinned maps, or opened them from ---- */

/* A map file (by inode) and a pin path of it (as the caller wrote it, and the real one). */
struct map_pin {
	dev_t dev;
	ino_t ino;
	char *user, *real;
};

static pthread_mutex_t pins_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map_pin *pins;
static size_t nr_pins;

void ub_prog_pin_note_map(int map_file_fd, const char *user_path, const char *real)
{
	struct stat st;

	if (fstat(map_file_fd, &st))
		return;
	pthread_mutex_lock(&pins_lock);
	for (size_t i = 0; i < nr_pins; i++) {
		if (pins[i].dev == st.st_dev && pins[i].ino == st.st_ino &&
		    !strcmp(pins[i].user, user_path) && !strcmp(pins[i].real, real)) {
			pthread_mutex_unlock(&pins_lock);
			return;	/* known already */
		}
	}
	if (nr_pins >= PIN_MAX_NOTES) {	/* a bounded memory: forget the oldest */
		free(pins[0].user), free(pins[0].real);
		memmove(pins, pins + 1, --nr_pins * sizeof(*pins));
	}
	struct map_pin *n = realloc(pins, (nr_pins + 1) * sizeof(*n));
	if (n) {
		pins = n;
		n[nr_pins] = (struct map_pin){ st.st_dev, st.st_ino, strdup(user_path), strdup(real) };
		if (n[nr_pins].user && n[nr_pins].real)
			nr_pins++;
		else
			free(n[nr_pins].user), free(n[nr_pins].real);
	}
	pthread_mutex_unlock(&pins_lock);
}

/* A pin path of the map that still holds it (copied to out), or 0 when there is none. */
static int known_pin(struct ub_map *map, char *out, size_t outsz)
{
	struct stat st, at;
	int found = 0;

	if (fstat(map->obj.fd, &st))
		return 0;
	pthread_mutex_lock(&pins_lock);
	for (size_t i = nr_pins; !found && i-- > 0;) {
		if (pins[i].dev != st.st_dev || pins[i].ino != st.st_ino || lstat(pins[i].real, &at) ||
		    at.st_dev != st.st_dev || at.st_ino != st.st_ino || strlen(pins[i].user) >= outsz)
			continue;
		snprintf(out, outsz, "%s", pins[i].user);
		found = 1;
	}
	pthread_mutex_unlock(&pins_lock);
	return found;
}

/* ---- writing ---- */

/*
 * Replaces the map references of the instructions as loaded by indexes into the program's
 * map list. The loader appends a map at its first reference, so the n-th distinct reference
 * (an fd, or an fd_array index) is map n; a program that named one map by two references
 * would shift that count, and is refused rather than pinned wrongly.
 */
static int pw_index_maps(struct bpf_insn *insns, uint32_t cnt, uint32_t nr_maps)
{
	int32_t key[UB_PIN_MAX_MAPS];
	uint8_t kind[UB_PIN_MAX_MAPS];
	uint32_t nk = 0;

	for (uint32_t i = 0; i + 1 < cnt; i++) {
		if (!is_map_ld(&insns[i]))
			continue;
		uint8_t kd = (uint8_t)is_idx_ld(&insns[i]);
		uint32_t k = 0;
		while (k < nk && !(key[k] == insns[i].imm && kind[k] == kd))
			k++;
		if (k == nk) {
			if (nk >= nr_maps || nk >= UB_PIN_MAX_MAPS)
				goto shifted;
			key[nk] = insns[i].imm, kind[nk++] = kd;
		}
		insns[i].imm = (int32_t)k;
		i++;	/* the second half of the lddw */
	}
	if (nk == nr_maps)
		return 0;
shifted:
	ub_set_error("pin: the program names one map by two fds; pinning needs one per map");
	return -EINVAL;
}

/* A file name for map k: its name when that is a plain, unique one, else "map<k>". */
static void pw_map_name(struct ub_map **maps, uint32_t k, char *out, size_t outsz)
{
	char name[BPF_OBJ_NAME_LEN];
	int plain;

	memcpy(name, maps[k]->hdr->name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	plain = name[0] && name[0] != '.';
	for (const char *c = name; plain && *c; c++)
		plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '_' || *c == '.';
	for (uint32_t j = 0; plain && j < k; j++)
		plain = strncmp(maps[j]->hdr->name, name, sizeof(name) - 1) != 0;
	if (plain)
		snprintf(out, outsz, "%s", name);
	else
		snprintf(out, outsz, "map%u", k);
}

/* Links the map's file at real (replacing a stale link there: PATH.maps belongs to PATH). */
static int pw_link_map(struct ub_map *map, const char *real)
{
	char proc[64], tmp[4500];
	struct stat a, b;

	if (!fstat(map->obj.fd, &a) && !lstat(real, &b) && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return 0;	/* already pinned there */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", map->obj.fd);
	snprintf(tmp, sizeof(tmp), "%.4400s.tmp%ld", real, (long)getpid());
	unlink(tmp);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) || rename(tmp, real)) {
		int err = -errno;
		unlink(tmp);
		ub_set_error("pin %s: %s%s", real, strerror(-err),
			     err == -EXDEV ? " (the map's memory lives on another file system: "
					     "pin under the pin root, UEBPF_PIN_ROOT)" : "");
		return err;
	}
	return 0;
}

int ub_pin_str_add(struct ub_pin_strtab *t, const char *s, uint32_t *off)
{
	size_t n = strlen(s ? s : "") + 1;
	char *b = realloc(t->buf, t->len + n);

	if (!b)
		return -ENOMEM;
	memcpy(b + t->len, s ? s : "", n);
	*off = (uint32_t)t->len;
	t->buf = b;
	t->len += n;
	return 0;
}

void *ub_pin_encode(struct ub_pin_hdr *h, const struct bpf_insn *insns, const uint32_t *offs,
		    const struct ub_pin_line *lines, const struct ub_pin_strtab *t, size_t *len)
{
	size_t isz = (size_t)h->insn_cnt * sizeof(*insns), msz = h->nr_maps * 4u;
	size_t lsz = (size_t)h->nr_lines * sizeof(*lines);
	uint8_t *buf = malloc(sizeof(*h) + isz + msz + lsz + t->len), *p = buf;

	if (!buf)
		return NULL;
	memcpy(h->magic, UB_PIN_MAGIC, 8);
	h->version = UB_PIN_VERSION;
	h->hdr_size = sizeof(*h);
	h->strtab_size = (uint32_t)t->len;
	h->name[sizeof(h->name) - 1] = '\0';
	memcpy(p, h, sizeof(*h)), p += sizeof(*h);
	memcpy(p, insns, isz), p += isz;
	if (msz)
		memcpy(p, offs, msz), p += msz;
	if (lsz)
		memcpy(p, lines, lsz), p += lsz;
	memcpy(p, t->buf, t->len);
	*len = sizeof(*h) + isz + msz + lsz + t->len;
	return buf;
}

/* PATH.maps, made when the first map needs it. */
static int pw_mkdir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		int err = -errno;
		ub_set_error("pin: mkdir %s: %s", dir, strerror(errno));
		return err;
	}
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode)) {
		ub_set_error("pin: %s is there and is not a directory", dir);
		return -EEXIST;
	}
	return 0;
}

/* Pins the maps not pinned yet at PATH.maps/NAME and records their (caller's) paths in the string table. */
static int pw_maps(struct ub_prog_obj *p, const char *user_path, const char *real,
		   struct ub_pin_strtab *t, uint32_t *offs)
{
	char dir[4200], name[BPF_OBJ_NAME_LEN + 16], path[4400];
	int err = 0;

	snprintf(dir, sizeof(dir), "%.4100s.maps", real);
	for (uint32_t k = 0; !err && k < p->prog->nr_maps; k++) {
		if (known_pin(p->prog->maps[k], path, sizeof(path))) {
			if (ub_pin_str_add(t, path, &offs[k]))
				err = -ENOMEM;
			continue;
		}
		if ((err = pw_mkdir(dir)))
			break;
		pw_map_name(p->prog->maps, k, name, sizeof(name));
		snprintf(path, sizeof(path), "%.4200s/%.40s", dir, name);
		err = pw_link_map(p->prog->maps[k], path);
		snprintf(path, sizeof(path), "%.4100s.maps/%.40s", user_path, name);
		if (!err && ub_pin_str_add(t, path, &offs[k]))
			err = -ENOMEM;
	}
	return err;
}

/* Writes the file at a temporary name and links it at real: a reader never sees half. */
static int pw_file(const char *real, unsigned mode, const void *buf, size_t len)
{
	char tmp[4200];
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%.4100s.XXXXXX", real);
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		ub_set_error("pin %s: %s", real, strerror(errno));
		return err;
	}
	errno = 0;	/* a short write leaves it alone: EIO then */
	if (fchmod(fd, mode) || write(fd, buf, len) != (ssize_t)len || link(tmp, real))
		err = errno ? -errno : -EIO;
	if (err)
		ub_set_error("pin %s: %s", real, strerror(-err));
	close(fd);
	unlink(tmp);
	return err;
}

static int pw_build(struct ub_prog_obj *p, const struct bpf_insn *insns, const uint32_t *offs,
		    const struct ub_pin_strtab *t, const char *real, unsigned mode)
{
	struct ub_pin_hdr h = { .prog_type = p->type, .insn_cnt = p->insn_cnt,
				.nr_maps = p->prog->nr_maps,
				.expected_attach_type = p->expected_attach_type,
				.flags = p->gpl_compatible ? UB_PIN_F_GPL : 0 };
	size_t sz;
	uint8_t *buf;

	memcpy(h.name, p->name, sizeof(h.name));
	buf = ub_pin_encode(&h, insns, offs, NULL, t, &sz);
	if (!buf)
		return -ENOMEM;
	int err = pw_file(real, mode, buf, sz);
	free(buf);
	return err;
}

int ub_prog_pin_write(int prog_fd, const char *user_path, const char *real, unsigned mode)
{
	struct ub_prog_obj *p = ub_prog_obj_get(prog_fd);
	struct ub_pin_strtab t = { NULL, 0 };
	uint32_t offs[UB_PIN_MAX_MAPS], zero;
	struct bpf_insn *insns = NULL;
	struct stat st;
	int err;

	if (!p)
		return -EINVAL;
	/* Room for PATH.maps/NAME.tmpPID and PATH.XXXXXX within PATH_MAX, never truncated. */
	if (strlen(real) + 64 >= 4096 || strlen(user_path) + 64 >= 4096) {
		err = -ENAMETOOLONG;
		ub_set_error("pin %s: %s", real, strerror(ENAMETOOLONG));
	} else if (!lstat(real, &st)) {
		err = -EEXIST;
		ub_set_error("pin %s: %s", real, strerror(EEXIST));
	} else if (!(insns = malloc((size_t)p->insn_cnt * sizeof(*insns))) || ub_pin_str_add(&t, "", &zero)) {
		err = -ENOMEM;
	} else {
		memcpy(insns, p->orig_insns, (size_t)p->insn_cnt * sizeof(*insns));
		err = pw_index_maps(insns, p->insn_cnt, p->prog->nr_maps);
		if (!err)
			err = pw_maps(p, user_path, real, &t, offs);
		if (!err)
			err = pw_build(p, insns, offs, &t, real, mode);
	}
	free(insns);
	free(t.buf);
	ub_prog_obj_put(p);
	return err;
}

/* ---- reading ---- */

int ub_prog_pin_is(int fd)
{
	char magic[8];

	return pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	       !memcmp(magic, UB_PIN_MAGIC, 8);
}

const char *ub_pin_str(const struct ub_pin_file *f, uint32_t off)
{
	return off < f->h.strtab_size ? f->strtab + off : NULL;
}

static int corrupt(const struct ub_pin_file *f, const char *why)
{
	ub_set_error("%s: not a valid pinned program: %s", f->real, why);
	return -EINVAL;
}

static int pf_counts(struct ub_pin_file *f)
{
	const struct ub_pin_hdr *h = &f->h;

	if (f->len < sizeof(*h))
		return corrupt(f, "shorter than its header");
	memcpy(&f->h, f->buf, sizeof(f->h));
	if (memcmp(h->magic, UB_PIN_MAGIC, 8) || (h->version != 1 && h->version != UB_PIN_VERSION) ||
	    h->hdr_size != (h->version == 1 ? UB_PIN_HDR_V1 : sizeof(*h)))
		return corrupt(f, "wrong magic, version or header size");
	if (h->version == 1) {	/* what version 1 files were loaded as */
		f->h.expected_attach_type = 0;
		f->h.flags = UB_PIN_F_GPL;
	}
	if (h->flags & ~UB_PIN_F_GPL)
		return corrupt(f, "unknown flags");
	if (!h->insn_cnt || h->insn_cnt > UB_PIN_MAX_INSNS || h->nr_maps > UB_PIN_MAX_MAPS ||
	    h->nr_lines > UB_PIN_MAX_LINES || !h->strtab_size || h->strtab_size > UB_PIN_MAX_STRTAB)
		return corrupt(f, "a count out of range");
	size_t want = h->hdr_size + (size_t)h->insn_cnt * 8 + (size_t)h->nr_maps * 4 +
		      (size_t)h->nr_lines * sizeof(struct ub_pin_line) + h->strtab_size;
	if (want != f->len)
		return corrupt(f, "its size does not match its counts");
	if (h->name[sizeof(h->name) - 1])
		return corrupt(f, "name not NUL-terminated");
	return 0;
}

int ub_pin_parse(struct ub_pin_file *f)
{
	const struct ub_pin_hdr *h = &f->h;
	int err = pf_counts(f);

	if (err)
		return err;
	const uint8_t *p = f->buf + h->hdr_size + (size_t)h->insn_cnt * 8;
	f->offs = (const uint32_t *)p;
	f->lines = (const struct ub_pin_line *)(p + h->nr_maps * 4u);
	f->strtab = (const char *)f->buf + f->len - h->strtab_size;
	if (f->strtab[h->strtab_size - 1])
		return corrupt(f, "string table not NUL-terminated");
	for (uint32_t i = 0; i < h->nr_maps; i++)
		if (!ub_pin_str(f, f->offs[i]) || !*ub_pin_str(f, f->offs[i]))
			return corrupt(f, "a map path out of the string table");
	for (uint32_t i = 0; i < h->nr_lines; i++)
		if (!ub_pin_str(f, f->lines[i].file_off) || !ub_pin_str(f, f->lines[i].src_off) ||
		    f->lines[i].insn_off >= h->insn_cnt || f->lines[i].is_proto > 1)
			return corrupt(f, "a source line out of range");
	f->insns = malloc((size_t)h->insn_cnt * 8);
	if (!f->insns)
		return -ENOMEM;
	memcpy(f->insns, f->buf + h->hdr_size, (size_t)h->insn_cnt * 8);
	return 0;
}

int ub_pin_prog_load(const struct ub_pin_file *f, const int *fd_array, char *log,
		     size_t logsz)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = log ? logsz : 0,
		    .log_level = log ? 1 : 0, .kern_version = f->h.kern_version,
		    .expected_attach_type = f->h.expected_attach_type,
		    .fd_array = f->h.nr_maps ? fd_array : NULL);
	/* Only gpl_compatible is kept (as the kernel keeps of a licence); uebpf does not
	 * restrict helpers by licence, so this changes what info reports, nothing else. */
	const char *license = f->h.flags & UB_PIN_F_GPL ? "GPL" : "Proprietary";

	return bpf_prog_load(f->h.prog_type, f->h.name, license, f->insns, f->h.insn_cnt, &o);
}

/* Opens the maps (fds[], closed by the caller) and puts their fds into the lddw's. */
static int pf_maps(struct ub_pin_file *f, int *fds)
{
	for (uint32_t i = 0; i < f->h.nr_maps; i++) {
		const char *mp = ub_pin_str(f, f->offs[i]);
		fds[i] = bpf_obj_get(mp);
		if (fds[i] < 0) {
			int err = errno;
			ub_set_error("%s: not a valid pinned program: map %s: %s", f->real, mp,
				     strerror(err));
			return -EINVAL;
		}
		struct ub_map *m = ub_map_get(fds[i]);
		if (!m) {
			ub_set_error("%s: not a valid pinned program: %s is not a map", f->real, mp);
			return -EINVAL;
		}
		ub_map_put(m);
	}
	for (uint32_t i = 0; i < f->h.insn_cnt; i++) {
		struct bpf_insn *in = &f->insns[i];
		if (!is_map_ld(in))
			continue;
		if (i + 1 >= f->h.insn_cnt || (uint32_t)in->imm >= f->h.nr_maps)
			return corrupt(f, "an instruction names a map not in the table");
		if (!is_idx_ld(in))
			in->imm = fds[in->imm];
		i++;
	}
	return 0;
}

static int pf_load(struct ub_pin_file *f, const int *fds)
{
	const size_t logsz = 1 << 16;
	char *log = calloc(1, logsz);
	int fd = ub_pin_prog_load(f, fds, log, logsz);

	if (fd < 0) {
		int err = errno;
		const char *last = log ? log : "";
		/* The verifier's last line says why. */
		size_t n = log ? strlen(log) : 0;
		while (n && log[n - 1] == '\n')
			log[--n] = '\0';
		const char *nl = n ? strrchr(log, '\n') : NULL;
		last = nl ? nl + 1 : last;
		if (nl && !strncmp(last, "processed ", 10)) {	/* statistics, not the reason */
			*(char *)nl = '\0';
			nl = strrchr(log, '\n');
			last = nl ? nl + 1 : log;
		}
		ub_set_error("%s: loading the pinned program failed: %s%s%s", f->real,
			     strerror(err), *last ? ": " : "", last);
		fd = -err;
	}
	free(log);
	return fd;
}

/* Set while this thread opens a pinned program's maps: a "map" path that names a pinned
 * program (perhaps the file itself) is refused instead of recursing. */
static __thread int opening_maps;

int ub_prog_pin_open(int fd, const char *real)
{
	struct ub_pin_file f = { .real = real };
	int fds[UB_PIN_MAX_MAPS], err;
	struct stat st;

	if (opening_maps)
		return corrupt(&f, "a pinned program where a map was expected");
	if (fstat(fd, &st))
		return -errno;
	/* The largest file the counts allow, roughly: refuse before reading it. */
	if ((uint64_t)st.st_size > sizeof(struct ub_pin_hdr) + (uint64_t)UB_PIN_MAX_INSNS * 8 +
				   UB_PIN_MAX_MAPS * 4 + (uint64_t)UB_PIN_MAX_LINES *
				   sizeof(struct ub_pin_line) + UB_PIN_MAX_STRTAB)
		return corrupt(&f, "too large");
	f.len = (size_t)st.st_size;
	f.buf = malloc(f.len ? f.len : 1);
	if (!f.buf)
		return -ENOMEM;
	if (pread(fd, f.buf, f.len, 0) != (ssize_t)f.len) {
		free(f.buf);
		ub_set_error("%s: read: %s", real, strerror(errno ? errno : EIO));
		return -EIO;
	}
	for (uint32_t i = 0; i < UB_PIN_MAX_MAPS; i++)
		fds[i] = -1;
	err = ub_pin_parse(&f);
	if (!err) {
		opening_maps = 1;
		err = pf_maps(&f, fds);
		opening_maps = 0;
	}
	if (!err)
		err = pf_load(&f, fds);
	/* The program holds its maps: the fds opened to load it are done. */
	for (uint32_t i = 0; i < UB_PIN_MAX_MAPS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(f.insns);
	free(f.buf);
	return err;
}
