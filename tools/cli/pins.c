/*
 * cli_pins: what is pinned under the pin root, and the MAP / PROG words of bpftool's
 * grammar (id ID | pinned PATH | name NAME).
 *
 * uebpf's ids are per process: a map gets its id when a process creates or opens it. So
 * that "id N" names the same map in every invocation of the CLI, the CLI opens the pinned
 * maps in a fixed order (a depth-first walk of the pin root, names sorted) before it
 * resolves any id or name; the same file pinned twice is opened once. Programs (pinned by
 * the CLI, see prog_pin.c) are opened after all maps, in the same order.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "cli.h"
/* Internal: the pin root and a map's header (frozen). The CLI is linked statically. */
#include "maps/map.h"
#include "maps/shm.h"

#define PIN_MAX_DEPTH 16

struct pin_ent {
	dev_t dev;
	ino_t ino;
	char **paths;		/* NULL-terminated */
	size_t npaths;
	int is_prog;		/* a program file of prog_pin.c */
	int fd;			/* once opened; -1 if it is no object or failed to open */
	uint32_t id;
};

static struct pin_ent *ents;
static size_t nents;
static int maps_scanned, progs_scanned;
static const char *const no_paths[] = { NULL };

const char *cli_pin_root(void)
{
	return ub_shm_pin_root();
}

int cli_pin_real(const char *path, char *out, size_t outsz)
{
	return ub_shm_pin_path(path, out, outsz);
}

static struct pin_ent *find_ino(dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < nents; i++)
		if (ents[i].dev == dev && ents[i].ino == ino)
			return &ents[i];
	return NULL;
}

static int add_path(struct pin_ent *e, const char *path)
{
	char **p = realloc(e->paths, (e->npaths + 2) * sizeof(*p));

	if (!p)
		return -1;
	e->paths = p;
	if (!(p[e->npaths] = strdup(path)))
		return -1;
	p[++e->npaths] = NULL;
	return 0;
}

/* A regular file: a map file, a program file, or something else (trace_pipe ...). */
static void add_file(const char *path, const struct stat *st)
{
	struct pin_ent *e = find_ino(st->st_dev, st->st_ino);

	if (!e) {
		struct pin_ent *n = realloc(ents, (nents + 1) * sizeof(*n));
		if (!n)
			return;
		ents = n;
		e = &ents[nents++];
		*e = (struct pin_ent){ .dev = st->st_dev, .ino = st->st_ino, .fd = -1,
				       .is_prog = cli_prog_pin_is(path) };
	}
	add_path(e, path);
}

static void walk(const char *dir, int depth)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		char path[4096];
		struct stat st;

		if (strcmp(name, ".") && strcmp(name, "..") &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path) &&
		    !lstat(path, &st)) {
			if (S_ISDIR(st.st_mode) && depth < PIN_MAX_DEPTH)
				walk(path, depth + 1);
			else if (S_ISREG(st.st_mode))
				add_file(path, &st);
		}
		free(list[i]);
	}
	free(list);
}

static uint32_t id_of(int fd)
{
	struct bpf_map_info mi = { 0 };
	uint32_t len = sizeof(mi);

	/* The id is the second field of both bpf_map_info and bpf_prog_info. */
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		return 0;
	return mi.id;
}

static void scan_tree(void)
{
	static int walked;

	if (!walked) {
		walked = 1;
		walk(cli_pin_root(), 0);
	}
}

void cli_pins_scan(void)
{
	if (maps_scanned)
		return;
	maps_scanned = 1;
	scan_tree();
	for (size_t i = 0; i < nents; i++) {
		if (ents[i].is_prog)
			continue;
		ents[i].fd = bpf_obj_get(ents[i].paths[0]);
		if (ents[i].fd >= 0)
			ents[i].id = id_of(ents[i].fd);
	}
}

void cli_pins_scan_progs(void)
{
	cli_pins_scan();
	if (progs_scanned)
		return;
	progs_scanned = 1;
	for (size_t i = 0; i < nents; i++) {
		if (!ents[i].is_prog)
			continue;
		ents[i].fd = cli_prog_pin_open(ents[i].paths[0], 1);
		if (ents[i].fd >= 0)
			ents[i].id = id_of(ents[i].fd);
	}
}

int cli_pins_map_fd(const char *real)
{
	struct stat st;

	cli_pins_scan();
	if (stat(real, &st))
		return -1;
	struct pin_ent *e = find_ino(st.st_dev, st.st_ino);
	/* A new fd through the library (a plain dup() would be no map fd to it). */
	return e && !e->is_prog && e->fd >= 0 ? bpf_map_get_fd_by_id(e->id) : -1;
}

const char *const *cli_pins_of(int is_prog, uint32_t id)
{
	for (size_t i = 0; id && i < nents; i++)
		if (ents[i].is_prog == is_prog && ents[i].fd >= 0 && ents[i].id == id)
			return (const char *const *)ents[i].paths;
	return no_paths;
}

void cli_show_pins(const char *const *pins)
{
	if (!cli_json) {
		for (; *pins; pins++)
			printf("\n\tpinned %s", *pins);
		return;
	}
	if (!*pins)
		return;
	jw_key("pinned");
	jw_begin_array();
	for (; *pins; pins++)
		jw_string(*pins);
	jw_end_array();
}

/* ---- MAP := id ID | pinned PATH | name NAME ---- */

static int need_words(const char *cmd, int argc, int n, const char *what)
{
	if (argc >= n)
		return 0;
	cli_bt_usage("%s", what);
	return -1;
}

/*
 * Why a pin or open failed: strerror, as bpftool says it, for the common cases; the
 * library's message (which names the real path and the check that failed) for the rest.
 */
const char *cli_why(int err)
{
	const char *m = uebpf_last_error();

	if (err == ENOENT || err == EEXIST || err == EACCES || err == EPERM || !m || !*m)
		return strerror(err);
	return m;
}

int cli_bt_usage(const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	cli_err("%s", msg ? msg : "out of memory");
	free(msg);
	return CLI_USAGE;
}

int cli_map_by_pin(const char *path)
{
	char real[4096];

	if (cli_pin_real(path, real, sizeof(real))) {
		cli_err("bpf obj get (%s): %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	int fd = cli_pins_map_fd(real);
	if (fd >= 0)
		return fd;
	/* Checked first: the library's bpf_obj_get opens a pinned program too. */
	if (cli_prog_pin_is(real)) {
		cli_err("bpf obj get (%s): a pinned program, not a map", path);
		return -1;
	}
	fd = bpf_obj_get(path);
	if (fd < 0)
		cli_err("bpf obj get (%s): %s", path, cli_why(errno));
	return fd;
}

int *cli_maps_named(const char *name, size_t *n)
{
	int *fds = NULL;
	uint32_t id = 0;

	*n = 0;
	cli_pins_scan();
	while (!bpf_map_get_next_id(id, &id)) {
		struct bpf_map_info mi = { 0 };
		uint32_t len = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			continue;
		int *nf = NULL;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &len) &&
		    !strncmp(mi.name, name, BPF_OBJ_NAME_LEN - 1) &&
		    (nf = realloc(fds, (*n + 1) * sizeof(*nf)))) {
			fds = nf;
			fds[(*n)++] = fd;
		} else {
			close(fd);
		}
	}
	return fds;
}

/* id ID: 0 and *id, or -1 (reported). */
static int parse_id(const char *cmd, const char *word, uint32_t *id)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(word, &end, 0);
	if (!*word || *end || errno || v > UINT32_MAX || word[0] == '-') {
		cli_bt_usage("can't parse %s as ID", word);
		return -1;
	}
	*id = (uint32_t)v;
	return 0;
}

int cli_map_ref(const char *cmd, int *argc, char ***argv, int *usage)
{
	char **av = *argv;
	int fd = -1;
	uint32_t id;

	*usage = 1;
	if (need_words(cmd, *argc, 2, "expected 'id', 'pinned' or 'name' and a value "
		       "(MAP := { id MAP_ID | pinned FILE | name MAP_NAME })"))
		return -1;
	*argc -= 2;
	*argv += 2;
	if (!strcmp(av[0], "id")) {
		if (parse_id(cmd, av[1], &id))
			return -1;
		*usage = 0;
		cli_pins_scan();
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			cli_err("get map by id (%u): %s", id, strerror(errno));
		return fd;
	}
	if (!strcmp(av[0], "pinned")) {
		*usage = 0;
		return cli_map_by_pin(av[1]);
	}
	if (!strcmp(av[0], "name")) {
		size_t n;
		int *fds = cli_maps_named(av[1], &n);
		*usage = 0;
		if (n == 1)
			fd = fds[0];
		else if (!n)
			cli_err("no map with name '%s' (pinned under %s, or in this process)",
				av[1], cli_pin_root());
		else
			cli_err("several maps match this name: '%s' (use id or pinned)", av[1]);
		for (size_t i = 0; n > 1 && i < n; i++)
			close(fds[i]);
		free(fds);
		return fd;
	}
	cli_bt_usage("expected 'id', 'name' or 'pinned', got: '%s'?", av[0]);
	return -1;
}

int cli_map_frozen(int fd)
{
	struct ub_map *m = ub_map_get(fd);
	int frozen = m ? (int)__atomic_load_n(&m->hdr->frozen, __ATOMIC_ACQUIRE) : 0;

	if (m)
		ub_map_put(m);
	return frozen;
}

uint64_t cli_map_memory(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint64_t)st.st_size;
}

/* ---- PROG := id ID | pinned PATH | name NAME ---- */

static int prog_by_pin(const char *path)
{
	char real[4096];
	struct stat st;

	cli_pins_scan_progs();
	if (!cli_pin_real(path, real, sizeof(real)) && !stat(real, &st)) {
		struct pin_ent *e = find_ino(st.st_dev, st.st_ino);
		if (e && e->is_prog && e->fd >= 0)
			return bpf_prog_get_fd_by_id(e->id);
	}
	return cli_prog_pin_open(path, 0);
}

/* The program a name or a tag (8 bytes, tag != NULL) names: exactly one may match. */
static int prog_by_match(const char *name, const uint8_t *tag, const char *what)
{
	uint32_t id = 0;
	int found = -1, n = 0;

	cli_pins_scan_progs();
	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info pi = { 0 };
		uint32_t len = sizeof(pi);
		int fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &pi, &len) &&
		    (tag ? !memcmp(pi.tag, tag, sizeof(pi.tag))
			 : !strncmp(pi.name, name, BPF_OBJ_NAME_LEN - 1)) && !n++) {
			found = fd;
			continue;
		}
		close(fd);
	}
	if (n == 1)
		return found;
	if (found >= 0)
		close(found);
	if (!n)
		cli_err("no program with %s '%s' (pinned under %s, or in this process)", what, name,
			cli_pin_root());
	else
		cli_err("several programs match this %s: '%s' (use id or pinned)", what, name);
	return -1;
}

static int prog_by_name(const char *name)
{
	return prog_by_match(name, NULL, "name");
}

/* A tag as bpftool reads it: 16 hex digits, no separators. */
static int prog_by_tag(const char *s)
{
	uint8_t tag[8];
	int end = 0;

	if (sscanf(s, "%2hhx%2hhx%2hhx%2hhx%2hhx%2hhx%2hhx%2hhx%n", &tag[0], &tag[1], &tag[2],
		   &tag[3], &tag[4], &tag[5], &tag[6], &tag[7], &end) != 8 || s[end])
		return cli_err("can't parse tag"), -1;
	return prog_by_match(s, tag, "tag");
}

int cli_prog_ref(const char *cmd, int *argc, char ***argv, int *usage)
{
	char **av = *argv;
	uint32_t id;
	int fd;

	*usage = 1;
	if (need_words(cmd, *argc, 2, "expected 'id', 'pinned' or 'name' and a value "
		       "(PROG := { id PROG_ID | pinned FILE | name PROG_NAME })"))
		return -1;
	*argc -= 2;
	*argv += 2;
	if (!strcmp(av[0], "id")) {
		if (parse_id(cmd, av[1], &id))
			return -1;
		*usage = 0;
		cli_pins_scan_progs();
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			cli_err("get by id (%u): %s", id, strerror(errno));
		return fd;
	}
	*usage = 0;
	if (!strcmp(av[0], "pinned"))
		return prog_by_pin(av[1]);
	if (!strcmp(av[0], "name"))
		return prog_by_name(av[1]);
	if (!strcmp(av[0], "tag"))
		return prog_by_tag(av[1]);
	*usage = 1;
	cli_bt_usage("expected 'id', 'tag', 'name' or 'pinned', got: '%s'?", av[0]);
	return -1;
}
