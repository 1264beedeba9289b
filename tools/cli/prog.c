/*
 * uebpf prog ...: bpftool's program commands. Programs come from ELF objects (through the
 * libbpf-compatible object API) and persist as pinned program files (prog_pin.c); each
 * command loads what it needs into this process.
 */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <uebpf/uebpf.h>
#include "cli.h"

#define LOAD_MAX_REPL 64

static int prog_help(int argc, char **argv);

/* ---- load and loadall ---- */

struct map_repl {
	int by_idx;
	uint32_t idx;
	const char *name;
	int fd;
};

struct load_args {
	const char *obj, *path, *pinmaps;
	uint32_t type;
	int have_type;
	struct map_repl repl[LOAD_MAX_REPL];
	int nrepl;
};

/* "map idx 2 pinned /x" or "map name counts id 3". */
static int parse_repl(struct load_args *a, int *argc, char ***argv)
{
	struct map_repl *r = &a->repl[a->nrepl];
	char **av = *argv;
	int usage;

	if (*argc < 4)
		return cli_bt_usage("'map' needs { idx IDX | name NAME } MAP");
	if (a->nrepl >= LOAD_MAX_REPL)
		return cli_bt_usage("more than %d map replacements", LOAD_MAX_REPL);
	if (cli_is_prefix(av[1], "idx")) {
		uint64_t v;
		if (cli_number("prog", "map idx", av[2], 0, UINT32_MAX, &v))
			return CLI_USAGE;
		r->by_idx = 1;
		r->idx = (uint32_t)v;
	} else if (cli_is_prefix(av[1], "name")) {
		r->name = av[2];
	} else {
		return cli_bt_usage("expected 'idx' or 'name', got: '%s'?", av[1]);
	}
	*argc -= 3;
	*argv += 3;
	r->fd = cli_map_ref("prog", argc, argv, &usage);
	if (r->fd < 0)
		return usage ? CLI_USAGE : CLI_FAIL;
	a->nrepl++;
	return CLI_OK;
}

static int parse_load(struct load_args *a, int argc, char **argv, const char *verb)
{
	if (argc < 2)
		return cli_bt_usage("'%s' needs at least 2 arguments (OBJ PATH), %d found",
				     verb, argc);
	a->obj = argv[0];
	a->path = argv[1];
	argc -= 2;
	argv += 2;
	while (argc) {
		int rc = CLI_OK;
		if (cli_is_prefix(argv[0], "type") && argc >= 2) {
			if (a->have_type)
				return cli_bt_usage("program type already specified");
			if (cli_prog_type_by_name(argv[1], &a->type))
				return cli_bt_usage("unrecognized program type: %s", argv[1]);
			a->have_type = 1;
			argc -= 2;
			argv += 2;
		} else if (cli_is_prefix(argv[0], "map")) {
			rc = parse_repl(a, &argc, &argv);
		} else if (cli_is_prefix(argv[0], "pinmaps") && argc >= 2) {
			a->pinmaps = argv[1];
			argc -= 2;
			argv += 2;
		} else if (cli_is_prefix(argv[0], "dev") && argc >= 2) {
			return cli_err("dev %s: uebpf has no devices to offload programs to", argv[1]);
		} else {
			return cli_bt_usage("expected no more arguments, 'type', 'map' or "
					     "'pinmaps', got: '%s'?", argv[0]);
		}
		if (rc != CLI_OK)
			return rc;
	}
	return CLI_OK;
}

/* mkdir -p of the directory that will hold real (a path under the pin root). */
static void make_parents(const char *real)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", real);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
}

static int apply_repl(struct bpf_object *obj, const struct load_args *a)
{
	for (int i = 0; i < a->nrepl; i++) {
		const struct map_repl *r = &a->repl[i];
		struct bpf_map *m, *hit = NULL;
		uint32_t k = 0;
		bpf_object__for_each_map(m, obj) {
			if (r->by_idx ? k == r->idx : !strcmp(bpf_map__name(m), r->name))
				hit = m;
			k++;
		}
		if (!hit) {
			if (r->by_idx)
				return cli_err("map idx '%u' not found in the object", r->idx);
			return cli_err("map '%s' not found in the object", r->name);
		}
		int err = bpf_map__reuse_fd(hit, r->fd);
		if (err)
			return cli_err("unable to reuse map '%s': %s", bpf_map__name(hit),
				       strerror(-err));
	}
	return CLI_OK;
}

/* libbpf names pinned maps after the map, with '.' (in ".rodata") made '_'. */
static void pin_name(char *out, size_t n, const char *dir, const char *name)
{
	size_t at = (size_t)snprintf(out, n, "%s/", dir);

	for (const char *p = name; *p && at + 1 < n; p++)
		out[at++] = *p == '.' ? '_' : *p;
	out[at < n ? at : n - 1] = '\0';
}

/* Pins every map of the object that is not pinned yet, under dir. */
static int pin_maps(struct bpf_object *obj, const char *dir)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		char path[4096], real[4096];
		int fd = bpf_map__fd(m);
		if (fd < 0)
			continue;
		struct bpf_map_info mi = { 0 };
		uint32_t len = sizeof(mi);
		if (!bpf_obj_get_info_by_fd(fd, &mi, &len) && *cli_pins_of(0, mi.id))
			continue;	/* a reused map that is pinned already */
		pin_name(path, sizeof(path), dir, bpf_map__name(m));
		if (cli_pin_real(path, real, sizeof(real)))
			return cli_err("can't pin the object (%s): %s", path, strerror(ENAMETOOLONG));
		make_parents(real);
		if (cli_pin_fd(fd, real) != CLI_OK)
			return CLI_FAIL;
		cli_map_path_note(fd, real);
	}
	return CLI_OK;
}

static int pin_prog(struct bpf_program *p, const char *path)
{
	char real[4096];
	struct stat st;

	if (cli_pin_real(path, real, sizeof(real)))
		return cli_err("can't pin the object (%s): %s", path, strerror(ENAMETOOLONG));
	if (!lstat(real, &st))
		return cli_err("can't pin the object (%s): %s", path, strerror(EEXIST));
	make_parents(real);
	cli_prog_note_obj_lines(p);
	return cli_prog_pin_write(bpf_program__fd(p), real);
}

/* Where the maps go when no pinmaps is given: next to the program(s). */
static void default_map_dir(char *out, size_t n, const char *path, int all)
{
	snprintf(out, n, all ? "%s/.maps" : "%s.maps", path);
}

static int load_obj(const struct load_args *a, int all)
{
	struct bpf_program *p, *first = NULL;
	char mapdir[4096], real[4096];
	struct stat st;
	int rc;

	/* Refused before anything is loaded or pinned, so nothing is left half done. */
	if (!all && (cli_pin_real(a->path, real, sizeof(real)) || !lstat(real, &st)))
		return cli_err("can't pin the object (%s): %s", a->path, strerror(EEXIST));
	struct bpf_object *obj = bpf_object__open_file(a->obj, NULL);
	if (!obj)
		return cli_err("failed to open object file %s: %s", a->obj, strerror(errno));
	bpf_object__for_each_program(p, obj) {
		if (a->have_type)
			bpf_program__set_type(p, a->type);
		if (!all && first)
			bpf_program__set_autoload(p, false);
		if (!first)
			first = p;
	}
	rc = first ? apply_repl(obj, a) : cli_err("%s: no program in the object", a->obj);
	if (rc == CLI_OK && bpf_object__load(obj))
		rc = cli_err("failed to load object file %s: %s", a->obj, strerror(errno));
	if (rc == CLI_OK) {
		default_map_dir(mapdir, sizeof(mapdir), a->path, all);
		rc = pin_maps(obj, a->pinmaps ? a->pinmaps : mapdir);
	}
	if (rc == CLI_OK && !all)
		rc = pin_prog(first, a->path);
	bpf_object__for_each_program(p, obj) {
		char path[4096];
		if (rc != CLI_OK || !all || bpf_program__fd(p) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->path, bpf_program__name(p));
		rc = pin_prog(p, path);
	}
	bpf_object__close(obj);
	return rc;
}

static int load_common(int argc, char **argv, int all)
{
	struct load_args a = { 0 };
	int rc = parse_load(&a, argc, argv, all ? "loadall" : "load");

	if (rc == CLI_OK)
		rc = load_obj(&a, all);
	for (int i = 0; i < a.nrepl; i++)
		close(a.repl[i].fd);
	if (rc == CLI_OK && cli_json)
		jw_null();
	return rc;
}

static int do_load(int argc, char **argv) { return load_common(argc, argv, 0); }
static int do_loadall(int argc, char **argv) { return load_common(argc, argv, 1); }

/* ---- show ---- */

/* Load time (CLOCK_BOOTTIME ns, as the kernel's) as wall-clock seconds. */
static time_t wall_time(uint64_t boot_ns)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return rt.tv_sec - bt.tv_sec + (time_t)(boot_ns / 1000000000ull);
}

static uint32_t *prog_map_ids(int fd, uint32_t n)
{
	struct bpf_prog_info pi = { 0 };
	uint32_t len = sizeof(pi), *ids = calloc(n ? n : 1, sizeof(*ids));

	pi.nr_map_ids = n;
	pi.map_ids = (uint64_t)(uintptr_t)ids;
	if (ids && bpf_obj_get_info_by_fd(fd, &pi, &len)) {
		free(ids);
		return NULL;
	}
	return ids;
}

static void show_plain(const struct bpf_prog_info *i, int fd)
{
	const char *t = cli_prog_type_name(i->type);
	const char *const *pins = cli_pins_of(1, i->id);

	printf("%u: ", i->id);
	if (t)
		printf("%s  ", t);
	else
		printf("type %u  ", i->type);
	/* As bpftool: the name when there is one, then the tag and the licence. */
	if (i->name[0])
		printf("name %s  ", i->name);
	printf("tag ");
	for (size_t k = 0; k < sizeof(i->tag); k++)
		printf("%02x", i->tag[k]);
	if (i->gpl_compatible)
		printf("  gpl");
	if (i->run_time_ns)
		printf("  run_time_ns %llu run_cnt %llu", (unsigned long long)i->run_time_ns,
		       (unsigned long long)i->run_cnt);
	printf("\n");
	if (i->load_time) {
		char buf[64];
		time_t w = wall_time(i->load_time);
		struct tm tm;
		strftime(buf, sizeof(buf), "%FT%T%z", localtime_r(&w, &tm));
		printf("\tloaded_at %s  uid %u\n", buf, i->created_by_uid);
	}
	printf("\txlated %uB", i->xlated_prog_len);
	if (i->jited_prog_len)
		printf("  jited %uB", i->jited_prog_len);
	else
		printf("  not jited");
	uint32_t *ids = i->nr_map_ids ? prog_map_ids(fd, i->nr_map_ids) : NULL;
	for (uint32_t k = 0; ids && k < i->nr_map_ids; k++)
		printf("%s%u", k ? "," : "  map_ids ", ids[k]);
	free(ids);
	cli_show_pins(pins);
	if (i->btf_id)
		printf("\n\tbtf_id %u", i->btf_id);
	printf("\n");
}

static void show_json(const struct bpf_prog_info *i, int fd)
{
	const char *t = cli_prog_type_name(i->type);
	const char *const *pins = cli_pins_of(1, i->id);

	jw_begin_object();
	jw_kuint("id", i->id);
	if (t)
		jw_kstring("type", t);
	else
		jw_kuint("type", i->type);
	jw_kstring("name", i->name);
	char tag[2 * sizeof(i->tag) + 1];
	for (size_t k = 0; k < sizeof(i->tag); k++)
		snprintf(tag + 2 * k, 3, "%02x", i->tag[k]);
	jw_kstring("tag", tag);
	jw_kbool("gpl_compatible", i->gpl_compatible);
	if (i->run_time_ns) {
		jw_kuint("run_time_ns", i->run_time_ns);
		jw_kuint("run_cnt", i->run_cnt);
	}
	if (i->load_time) {
		jw_kint("loaded_at", (int64_t)wall_time(i->load_time));
		jw_kuint("uid", i->created_by_uid);
	}
	jw_kuint("bytes_xlated", i->xlated_prog_len);
	jw_kbool("jited", i->jited_prog_len != 0);
	if (i->jited_prog_len)
		jw_kuint("bytes_jited", i->jited_prog_len);
	uint32_t *ids = i->nr_map_ids ? prog_map_ids(fd, i->nr_map_ids) : NULL;
	if (ids) {
		jw_key("map_ids");
		jw_begin_array();
		for (uint32_t k = 0; k < i->nr_map_ids; k++)
			jw_uint(ids[k]);
		jw_end_array();
	}
	free(ids);
	cli_show_pins(pins);
	if (i->btf_id)
		jw_kuint("btf_id", i->btf_id);
	jw_end_object();
}

static int show_fd(int fd)
{
	struct bpf_prog_info i = { 0 };
	uint32_t len = sizeof(i);

	if (bpf_obj_get_info_by_fd(fd, &i, &len))
		return cli_err("can't get prog info: %s", strerror(errno));
	if (cli_json)
		show_json(&i, fd);
	else
		show_plain(&i, fd);
	return CLI_OK;
}

static int do_show(int argc, char **argv)
{
	int rc, usage;

	if (argc) {
		int fd = cli_prog_ref("prog", &argc, &argv, &usage);
		if (fd < 0)
			return usage ? CLI_USAGE : CLI_FAIL;
		rc = argc ? cli_bt_usage("unexpected argument '%s' after PROG", argv[0])
			  : show_fd(fd);
		close(fd);
		return rc;
	}
	cli_pins_scan_progs();
	return cli_show_all(bpf_prog_get_next_id, bpf_prog_get_fd_by_id, show_fd);
}

/* ---- pin ---- */

static int do_pin(int argc, char **argv)
{
	int usage, fd = cli_prog_ref("prog", &argc, &argv, &usage);
	char real[4096];
	struct stat st;
	int rc;

	if (fd < 0)
		return usage ? CLI_USAGE : CLI_FAIL;
	if (argc != 1)
		rc = cli_bt_usage(argc ? "unexpected argument '%s' after FILE"
					       : "'pin' needs a FILE after PROG", argc ? argv[1] : "");
	else if (cli_pin_real(argv[0], real, sizeof(real)) || !lstat(real, &st))
		rc = cli_err("can't pin the object (%s): %s", argv[0], strerror(EEXIST));
	else
		rc = cli_prog_pin_write(fd, real);
	close(fd);
	if (rc == CLI_OK && cli_json)
		jw_null();
	return rc;
}

/* ---- tracelog: follows the trace file src/helpers/printk.c appends to ---- */

static volatile sig_atomic_t stop_tracing;

static void on_signal(int sig)
{
	stop_tracing = 1;
}

static void trace_line(char *line)
{
	size_t n = strlen(line);

	if (!cli_json) {
		fputs(line, stdout);
		fflush(stdout);
		return;
	}
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	jw_string(line);
	fflush(stdout);
}

static int do_tracelog(int argc, char **argv)
{
	char path[4096], line[1024];
	int follow = 1;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--no-follow") || !strcmp(argv[i], "-n"))
			follow = 0;
		else
			return cli_bt_usage("unexpected argument '%s' (tracelog takes only "
					     "--no-follow)", argv[i]);
	}
	snprintf(path, sizeof(path), "%s/trace_pipe", cli_pin_root());
	FILE *f = fopen(path, "r");
	if (!f && (errno != ENOENT || !follow))
		return cli_err("%s: %s", path, strerror(errno));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (cli_json)
		jw_begin_array();
	while (!stop_tracing) {
		if (!f && !(f = fopen(path, "r"))) {	/* not written yet */
			usleep(100 * 1000);
			continue;
		}
		if (fgets(line, sizeof(line), f)) {
			trace_line(line);
			continue;
		}
		if (!follow)
			break;
		clearerr(f);
		usleep(100 * 1000);
	}
	if (f)
		fclose(f);
	if (cli_json)
		jw_end_array();
	return CLI_OK;
}

/* ---- the table ---- */

static const struct cli_cmd prog_cmds[] = {
	{ "show", do_show, "prog { show | list } [PROG]" },
	{ "list", do_show, NULL },
	{ "help", prog_help, "prog help" },
	{ "dump", cli_prog_dump, "prog dump xlated PROG [{ file FILE | opcodes | linum }]\n"
				 "       uebpf prog dump jited  PROG [opcodes]" },
	{ "pin", do_pin, "prog pin   PROG FILE" },
	{ "load", do_load, "prog { load | loadall } OBJ PATH [type TYPE] \\\n"
			   "                         [map { idx IDX | name NAME } MAP] "
			   "[pinmaps MAP_DIR]" },
	{ "loadall", do_loadall, NULL },
	{ "run", cli_prog_run, "prog run PROG [data_in FILE] [data_out FILE [data_size_out L]] \\\n"
			       "                         [ctx_in FILE [ctx_out FILE [ctx_size_out M]]] "
			       "[repeat N]\n"
			       "       uebpf prog run PROG --pcap IN [--out OUT] [ctx_in FILE]" },
	{ "tracelog", do_tracelog, "prog tracelog [--no-follow]" },
	{ NULL, NULL, NULL },
};

static int prog_help(int argc, char **argv)
{
	cli_print_usage(stdout, prog_cmds);
	printf("\n"
	       "       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }\n"
	       "       PROG := { id PROG_ID | pinned FILE | name PROG_NAME }\n"
	       "       TYPE := { socket | kprobe | kretprobe | uprobe | uretprobe | classifier |\n"
	       "                 tc | action | tracepoint | tp | raw_tracepoint | raw_tp | xdp |\n"
	       "                 perf_event | syscall | seccomp | uebpf_lsm }\n"
	       "       A pinned program is a file under the pin root (%s) from which\n"
	       "       each command loads the program again; its maps are pinned too (pinmaps\n"
	       "       MAP_DIR, else PATH.maps/ for load and DIR/.maps/ for loadall).\n",
	       cli_pin_root());
	return CLI_OK;
}

int do_prog(int argc, char **argv)
{
	return cli_select_help(prog_cmds, "prog", prog_help, argc, argv);
}
