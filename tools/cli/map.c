/*
 * uebpf map ...: bpftool's map commands over uebpf's maps (pinned under the pin root, or
 * opened by this process), with bpftool's grammar, output and messages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <uebpf/uebpf.h>
#include "btf/btf.h"
#include "cli.h"

/* A map being worked on: its fd, its shape, and buffers for one key and one value. */
struct map_ctx {
	int fd;
	struct bpf_map_info info;
	int percpu;		/* values are one per possible CPU, each rounded to 8 bytes */
	int ncpus;
	size_t vbytes;		/* bytes of a value as user space reads it */
	uint8_t *key, *next, *value;
	struct ub_btf *btf;	/* the map's BTF: keys and values printed by type */
	unsigned printed;	/* elements printed by a dump (BTF layout: separators) */
	int in_dump;
};

static int map_help(int argc, char **argv);

static int is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static int is_of_maps(uint32_t t)
{
	return t == BPF_MAP_TYPE_ARRAY_OF_MAPS || t == BPF_MAP_TYPE_HASH_OF_MAPS;
}

static int is_of_progs(uint32_t t)
{
	return t == BPF_MAP_TYPE_PROG_ARRAY;
}

static void map_ctx_free(struct map_ctx *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m->key);
	free(m->next);
	free(m->value);
	ub_btf_free(m->btf);
	m->btf = NULL;
	m->fd = -1;
	m->key = m->next = m->value = NULL;
}

/* Shape and buffers of the map behind fd (taken over). CLI_OK or CLI_FAIL (reported). */
static int map_ctx_init(struct map_ctx *m, int fd)
{
	uint32_t len = sizeof(m->info);

	*m = (struct map_ctx){ .fd = fd };
	if (bpf_obj_get_info_by_fd(fd, &m->info, &len)) {
		cli_err("can't get map info: %s", strerror(errno));
		return CLI_FAIL;
	}
	m->percpu = is_percpu(m->info.type);
	m->ncpus = m->percpu ? libbpf_num_possible_cpus() : 1;
	if (m->ncpus < 1) {
		cli_err("can't get the number of possible CPUs: %s", strerror(-m->ncpus));
		return CLI_FAIL;
	}
	m->vbytes = m->percpu ? (size_t)((m->info.value_size + 7) & ~7u) * (size_t)m->ncpus
			      : m->info.value_size;
	m->key = calloc(1, m->info.key_size + 1);
	m->next = calloc(1, m->info.key_size + 1);
	m->value = calloc(1, m->vbytes + 1);
	if (!m->key || !m->next || !m->value) {
		cli_err("out of memory");
		return CLI_FAIL;
	}
	m->btf = cli_map_btf(&m->info);
	return CLI_OK;
}

/* MAP from the words, then its shape: CLI_OK, CLI_FAIL or CLI_USAGE (reported). */
static int map_open(const char *cmd, int *argc, char ***argv, struct map_ctx *m)
{
	int usage;
	int fd = cli_map_ref(cmd, argc, argv, &usage);

	m->fd = -1;
	m->key = m->next = m->value = NULL;
	m->btf = NULL;
	if (fd < 0)
		return usage ? CLI_USAGE : CLI_FAIL;
	return map_ctx_init(m, fd);
}

/* ---- printing elements (bpftool's print_entry_plain / print_entry_json) ---- */

static void entry_plain(const struct map_ctx *m, const uint8_t *key, const uint8_t *value,
			const char *missing)
{
	const struct bpf_map_info *i = &m->info;

	if (!m->percpu) {
		int brk = i->key_size > 16 || i->value_size > 16;
		int one_line = i->key_size + i->value_size <= 24 && !brk;
		if (i->key_size) {
			printf("key:%c", brk ? '\n' : ' ');
			cli_print_hex(stdout, key, i->key_size);
			printf(one_line ? "  " : "\n");
		}
		if (i->value_size) {
			printf("value:%c", brk ? '\n' : ' ');
			if (value)
				cli_print_hex(stdout, value, i->value_size);
			else
				printf("%s", missing);
		}
		printf("\n");
		return;
	}
	size_t step = (i->value_size + 7) & ~7u;
	if (i->key_size) {
		printf("key:\n");
		cli_print_hex(stdout, key, i->key_size);
		printf("\n");
	}
	for (int c = 0; i->value_size && c < m->ncpus; c++) {
		printf("value (CPU %02d):%c", c, i->value_size > 16 ? '\n' : ' ');
		if (value)
			cli_print_hex(stdout, value + (size_t)c * step, i->value_size);
		else
			printf("%s", missing);
		printf("\n");
	}
}

static void entry_json(const struct map_ctx *m, const uint8_t *key, const uint8_t *value)
{
	const struct bpf_map_info *i = &m->info;

	jw_begin_object();
	jw_key("key");
	cli_json_hex(key, i->key_size);
	if (!m->percpu) {
		jw_key("value");
		cli_json_hex(value, i->value_size);
	} else {
		size_t step = (i->value_size + 7) & ~7u;
		jw_key("values");
		jw_begin_array();
		for (int c = 0; c < m->ncpus; c++) {
			jw_begin_object();
			jw_kint("cpu", c);
			jw_key("value");
			cli_json_hex(value + (size_t)c * step, i->value_size);
			jw_end_object();
		}
		jw_end_array();
	}
	if (m->btf)
		cli_btf_entry_json(m->btf, i, key, value, m->percpu ? m->ncpus : 0);
	jw_end_object();
}

/* With BTF, plain text is bpftool's BTF writer: a lookup prints one object, a dump an
 * array of them (dump_one opens and closes it). */
static void print_entry(struct map_ctx *m, const uint8_t *key, const uint8_t *value)
{
	if (cli_json) {
		entry_json(m, key, value);
	} else if (m->btf) {
		cli_btf_entry_plain(m->btf, &m->info, key, value, m->percpu ? m->ncpus : 0,
				    m->in_dump ? 2 : 1, !m->printed);
		if (!m->in_dump)
			printf("\n");
	} else {
		entry_plain(m, key, value, "");
	}
	m->printed++;
}

/* ---- parsing an element: bpftool's parse_elem (key, value, flags in any order) ---- */

struct elem_args {
	uint8_t *key;		/* NULL: no key wanted, or already given */
	uint8_t *value;
	uint64_t *flags;	/* NULL: no flags wanted, or already given */
	uint32_t ksz, vsz;	/* what the command takes (bpftool's messages depend on it) */
};

static int value_ref(const struct map_ctx *m, int *argc, char ***argv, uint8_t *value)
{
	int of_maps = is_of_maps(m->info.type), usage, fd;
	const char *what = of_maps ? "map in map" : "map of progs";

	if (m->info.value_size != 4) {
		cli_err("value smaller than 4B for %s?", what);
		return -1;
	}
	if (*argc < 2) {
		cli_err("not enough value arguments for %s", what);
		return -1;
	}
	fd = of_maps ? cli_map_ref("map", argc, argv, &usage)
		     : cli_prog_ref("map", argc, argv, &usage);
	if (fd < 0)
		return -1;
	uint32_t v = (uint32_t)fd;	/* user space stores fds; lookups answer ids */
	memcpy(value, &v, 4);
	return 0;
}

/* Copies a value given once into every CPU's slot (bpftool's fill_per_cpu_value). */
static void fill_per_cpu(const struct map_ctx *m, uint8_t *value)
{
	size_t step = (m->info.value_size + 7) & ~7u;

	for (int c = 1; m->percpu && c < m->ncpus; c++)
		memcpy(value + (size_t)c * step, value, m->info.value_size);
}

static int parse_elem(const struct map_ctx *m, int argc, char **argv, struct elem_args e)
{
	for (;;) {
		if (!argc) {
			if (!e.key && !e.value)
				return 0;
			cli_err("did not find %s", e.key ? "key" : "value");
			return -1;
		}
		const char *w = argv[0];
		argc--;
		argv++;
		if (cli_is_prefix(w, "key")) {
			if (!e.key) {
				cli_err(e.ksz ? "duplicate key" : "unnecessary key");
				return -1;
			}
			if (cli_parse_bytes("key", &argc, &argv, e.key, m->info.key_size))
				return -1;
			e.key = NULL;
		} else if (cli_is_prefix(w, "value")) {
			if (!e.value) {
				cli_err(e.vsz ? "duplicate value" : "unnecessary value");
				return -1;
			}
			if (is_of_maps(m->info.type) || is_of_progs(m->info.type)) {
				if (value_ref(m, &argc, &argv, e.value))
					return -1;
			} else {
				if (cli_parse_bytes("value", &argc, &argv, e.value,
						    m->info.value_size))
					return -1;
				fill_per_cpu(m, e.value);
			}
			e.value = NULL;
		} else if (cli_is_prefix(w, "any") || cli_is_prefix(w, "noexist") || cli_is_prefix(w, "exist")) {
			if (!e.flags) {
				cli_err("flags specified multiple times: %s", w);
				return -1;
			}
			*e.flags = cli_is_prefix(w, "any") ? BPF_ANY
				 : cli_is_prefix(w, "noexist") ? BPF_NOEXIST : BPF_EXIST;
			e.flags = NULL;
		} else {
			cli_err("expected key or value, got: %s", w);
			return -1;
		}
	}
}

/* ---- commands ---- */

/* The key to pass: none (NULL) for maps without keys, as the kernel wants for queues. */
static void *key_arg(const struct map_ctx *m)
{
	return m->info.key_size ? m->key : NULL;
}

static int done(int rc)
{
	if (rc == CLI_OK && cli_json)
		jw_null();
	return rc;
}

static int do_lookup(int argc, char **argv)
{
	struct map_ctx m;
	int rc = map_open("map", &argc, &argv, &m);

	if (rc == CLI_OK &&
	    parse_elem(&m, argc, argv, (struct elem_args){ .key = m.info.key_size ? m.key : NULL,
							   .ksz = m.info.key_size }))
		rc = CLI_FAIL;
	if (rc == CLI_OK && bpf_map_lookup_elem(m.fd, key_arg(&m), m.value)) {
		rc = CLI_FAIL;
		if (errno != ENOENT) {
			cli_err("lookup failed: %s", strerror(errno));
		} else if (cli_json) {
			jw_null();
		} else {
			printf("key:\n");
			cli_print_hex(stdout, m.key, m.info.key_size);
			printf("\n\nNot found\n");
		}
	} else if (rc == CLI_OK) {
		print_entry(&m, m.key, m.value);
	}
	map_ctx_free(&m);
	return rc;
}

static int do_getnext(int argc, char **argv)
{
	struct map_ctx m;
	int rc = map_open("map", &argc, &argv, &m);
	int have_key = argc > 0;

	if (rc == CLI_OK && have_key &&
	    parse_elem(&m, argc, argv, (struct elem_args){ .key = m.key, .ksz = m.info.key_size }))
		rc = CLI_FAIL;
	if (rc == CLI_OK && bpf_map_get_next_key(m.fd, have_key ? key_arg(&m) : NULL, m.next)) {
		cli_err("can't get next key: %s", strerror(errno));
		rc = CLI_FAIL;
	}
	if (rc == CLI_OK && cli_json) {
		jw_begin_object();
		jw_key("key");
		if (have_key)
			cli_json_hex(m.key, m.info.key_size);
		else
			jw_null();
		jw_key("next_key");
		cli_json_hex(m.next, m.info.key_size);
		jw_end_object();
	} else if (rc == CLI_OK) {
		if (have_key) {
			printf("key:\n");
			cli_print_hex(stdout, m.key, m.info.key_size);
			printf("\n");
		} else {
			printf("key: None\n");
		}
		printf("next key:\n");
		cli_print_hex(stdout, m.next, m.info.key_size);
		printf("\n");
	}
	map_ctx_free(&m);
	return rc;
}

/* update, push and enqueue: a key (unless the map has none), a value, and flags. */
static int do_update(int argc, char **argv)
{
	struct map_ctx m;
	uint64_t flags = BPF_ANY;
	int rc = map_open("map", &argc, &argv, &m);

	if (rc == CLI_OK &&
	    parse_elem(&m, argc, argv, (struct elem_args){ .key = m.info.key_size ? m.key : NULL,
							   .value = m.info.value_size ? m.value : NULL,
							   .flags = &flags, .ksz = m.info.key_size,
							   .vsz = m.info.value_size }))
		rc = CLI_FAIL;
	if (rc == CLI_OK && bpf_map_update_elem(m.fd, key_arg(&m), m.value, flags)) {
		cli_err("update failed: %s", strerror(errno));
		rc = CLI_FAIL;
	}
	if (is_of_maps(m.info.type) || is_of_progs(m.info.type)) {
		uint32_t vfd;
		memcpy(&vfd, m.value, 4);
		if (rc == CLI_OK || vfd)
			close((int)vfd);
	}
	map_ctx_free(&m);
	return done(rc);
}

static int do_delete(int argc, char **argv)
{
	struct map_ctx m;
	int rc = map_open("map", &argc, &argv, &m);

	if (rc == CLI_OK && parse_elem(&m, argc, argv, (struct elem_args){ .key = m.key,
									    .ksz = m.info.key_size }))
		rc = CLI_FAIL;
	if (rc == CLI_OK && bpf_map_delete_elem(m.fd, key_arg(&m))) {
		cli_err("delete failed: %s", strerror(errno));
		rc = CLI_FAIL;
	}
	map_ctx_free(&m);
	return done(rc);
}

/* pop and dequeue: lookup-and-delete with no key. (peek is bpftool's lookup.) */
static int do_pop(int argc, char **argv)
{
	struct map_ctx m;
	int rc = map_open("map", &argc, &argv, &m);

	if (rc == CLI_OK && argc)
		rc = cli_bt_usage("unexpected argument '%s'", argv[0]);
	if (rc == CLI_OK && bpf_map_lookup_and_delete_elem(m.fd, key_arg(&m), m.value)) {
		rc = CLI_FAIL;
		if (errno != ENOENT)
			cli_err("pop failed: %s", strerror(errno));
		else if (cli_json)
			jw_null();
		else
			printf("Error: empty map\n");	/* on stdout, as bpftool */
	} else if (rc == CLI_OK) {
		print_entry(&m, m.key, m.value);
	}
	map_ctx_free(&m);
	return rc;
}

/* A key whose value cannot be read (bpftool's lookup-error handling in dump). */
static void dump_missing(const struct map_ctx *m, const uint8_t *key, int err)
{
	if (cli_json) {
		jw_begin_object();
		jw_key("key");
		cli_json_hex(key, m->info.key_size);
		jw_key("value");
		jw_begin_object();
		jw_kstring("error", strerror(err));
		jw_end_object();
		jw_end_object();
		return;
	}
	entry_plain(m, key, NULL, err == ENOENT ? "<no entry>" : strerror(err));
}

static int dumped_btf;	/* a dump printed BTF-formatted elements */

static int dump_one(struct map_ctx *m, unsigned *count)
{
	uint8_t *prev = NULL;
	int rc = CLI_OK;

	if (cli_json)
		jw_begin_array();
	else if (m->btf)
		printf("["), dumped_btf = 1;
	m->in_dump = 1;
	for (;;) {
		if (bpf_map_get_next_key(m->fd, prev, m->info.key_size ? m->next : NULL)) {
			/* A queue or stack has no keys to walk: EINVAL, and bpftool fails
			 * silently after "Found 0 elements". */
			if (errno != ENOENT) {
				rc = CLI_FAIL;
				if (m->info.key_size)
					cli_err("can't get next key: %s", strerror(errno));
			}
			break;
		}
		if (bpf_map_lookup_elem(m->fd, m->info.key_size ? m->next : NULL, m->value) == 0) {
			print_entry(m, m->next, m->value);
			(*count)++;
		} else if (!is_of_maps(m->info.type) && !is_of_progs(m->info.type)) {
			dump_missing(m, m->next, errno);
		}
		memcpy(m->key, m->next, m->info.key_size);
		prev = m->key;
	}
	if (cli_json)
		jw_end_array();
	else if (m->btf)
		printf("%s]\n", m->printed ? "\n" : "");
	return rc;
}

static int no_more_words(int argc, char **argv)
{
	if (argc)
		return cli_bt_usage("unexpected argument '%s' after MAP", argv[0]);
	return CLI_OK;
}

static int dump_named(const char *name, unsigned *count)
{
	struct map_ctx m;
	size_t n;
	int *fds = cli_maps_named(name, &n), rc = CLI_OK;

	if (!n) {
		free(fds);
		return cli_err("no map with name '%s'", name);
	}
	if (cli_json && n > 1)
		jw_begin_array();
	for (size_t i = 0; i < n; i++) {
		int r = map_ctx_init(&m, fds[i]);
		if (r == CLI_OK)
			r = dump_one(&m, count);
		if (r != CLI_OK)
			rc = r;
		map_ctx_free(&m);
	}
	if (cli_json && n > 1)
		jw_end_array();
	free(fds);
	return rc;
}

static int do_dump(int argc, char **argv)
{
	struct map_ctx m;
	unsigned count = 0;
	int rc;

	if (argc == 2 && !strcmp(argv[0], "name")) {	/* every map of that name */
		rc = dump_named(argv[1], &count);
		if (rc != CLI_OK && !count)
			return rc;
	} else {
		rc = map_open("map", &argc, &argv, &m);
		if (rc == CLI_OK)
			rc = no_more_words(argc, argv);
		int opened = rc == CLI_OK;
		if (opened)
			rc = dump_one(&m, &count);
		map_ctx_free(&m);
		if (!opened)
			return rc;
	}
	if (!cli_json && !dumped_btf)	/* bpftool prints no count after BTF output */
		printf("Found %u element%s\n", count, count != 1 ? "s" : "");
	return rc;
}

static int do_freeze(int argc, char **argv)
{
	struct map_ctx m;
	int rc = map_open("map", &argc, &argv, &m);

	if (rc == CLI_OK)
		rc = no_more_words(argc, argv);
	if (rc == CLI_OK && bpf_map_freeze(m.fd)) {
		cli_err("failed to freeze map: %s", strerror(errno));
		rc = CLI_FAIL;
	}
	map_ctx_free(&m);
	return done(rc);
}

/* bpftool's do_pin_fd: "can't pin the object (PATH): reason". */
int cli_pin_fd(int fd, const char *path)
{
	if (!bpf_obj_pin(fd, path))
		return CLI_OK;
	int err = errno;
	return cli_err("can't pin the object (%s): %s", path, cli_why(err));
}

static int do_pin(int argc, char **argv)
{
	struct map_ctx m;

	if (argc < 3)
		return cli_bt_usage("'pin' needs at least 3 arguments, %d found", argc);
	int rc = map_open("map", &argc, &argv, &m);

	if (rc == CLI_OK && argc != 1)
		rc = cli_bt_usage("unexpected argument '%s' after FILE", argv[1]);
	if (rc == CLI_OK)
		rc = cli_pin_fd(m.fd, argv[0]);
	map_ctx_free(&m);
	return done(rc);
}

/* ---- create ---- */

struct create_args {
	uint32_t type, key, value, entries, flags;
	const char *name;
	int inner_fd;
};

/* "key 4": a u32 after the keyword, as bpftool's parse_u32_arg. */
static int u32_arg(int *argc, char ***argv, uint32_t *out, const char *what)
{
	char *end;
	const char *w = (*argv)[1];
	unsigned long v;

	errno = 0;
	v = strtoul(w, &end, 0);
	if (!*w || *end || errno || v > UINT32_MAX || w[0] == '-') {
		cli_bt_usage("can't parse %s as %s", w, what);
		return -1;
	}
	*out = (uint32_t)v;
	*argc -= 2;
	*argv += 2;
	return 0;
}

static int create_arg(struct create_args *c, int *argc, char ***argv)
{
	const char *w = (*argv)[0];
	int usage;

	/* bpftool's REQ_ARGS names the word before (argv[-1]): kept, for the same message. */
	if (*argc < 2)
		return cli_bt_usage("'%s' needs at least 2 arguments, %d found", (*argv)[-1],
				    *argc);
	if (cli_is_prefix(w, "type")) {
		if (c->type)
			return cli_bt_usage("map type already specified");
		if (cli_map_type_by_name((*argv)[1], &c->type))
			return cli_bt_usage("unrecognized map type: %s", (*argv)[1]);
		*argc -= 2;
		*argv += 2;
	} else if (cli_is_prefix(w, "name")) {
		c->name = (*argv)[1];
		*argc -= 2;
		*argv += 2;
	} else if (cli_is_prefix(w, "key")) {
		return u32_arg(argc, argv, &c->key, "key size") ? CLI_USAGE : CLI_OK;
	} else if (cli_is_prefix(w, "value")) {
		return u32_arg(argc, argv, &c->value, "value size") ? CLI_USAGE : CLI_OK;
	} else if (cli_is_prefix(w, "entries")) {
		return u32_arg(argc, argv, &c->entries, "max entries") ? CLI_USAGE : CLI_OK;
	} else if (cli_is_prefix(w, "flags")) {
		return u32_arg(argc, argv, &c->flags, "flags") ? CLI_USAGE : CLI_OK;
	} else if (cli_is_prefix(w, "inner_map")) {
		if (c->inner_fd >= 0)
			return cli_bt_usage("inner_map already specified");
		(*argc)--;
		(*argv)++;
		c->inner_fd = cli_map_ref("map", argc, argv, &usage);
		if (c->inner_fd < 0)
			return usage ? CLI_USAGE : CLI_FAIL;
	} else if (cli_is_prefix(w, "dev")) {
		return cli_err("dev %s: uebpf has no devices to offload maps to", (*argv)[1]);
	} else {
		return cli_bt_usage("unknown arg %s", w);
	}
	return CLI_OK;
}

static int do_create(int argc, char **argv)
{
	struct create_args c = { .inner_fd = -1 };
	int rc = CLI_OK;

	if (argc < 7)
		return cli_bt_usage("'create' needs at least 7 arguments, %d found", argc);
	const char *pinfile = argv[0];
	argc--;
	argv++;
	while (argc && rc == CLI_OK)
		rc = create_arg(&c, &argc, &argv);
	if (rc == CLI_OK && !c.name)
		rc = cli_bt_usage("map name not specified");
	if (rc == CLI_OK) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = c.flags,
			    .inner_map_fd = c.inner_fd >= 0 ? (uint32_t)c.inner_fd : 0);
		int fd = bpf_map_create(c.type, c.name, c.key, c.value, c.entries, &o);
		if (fd < 0) {
			const char *m = uebpf_last_error();
			int err = errno;
			rc = cli_err("map create failed: %s%s%s", strerror(err), m && *m ? ": " : "",
				     m && *m ? m : "");
		} else {
			rc = cli_pin_fd(fd, pinfile);
			close(fd);
		}
	}
	if (c.inner_fd >= 0)
		close(c.inner_fd);
	return done(rc);
}

/* ---- show ---- */

static void show_plain(const struct bpf_map_info *i, int fd)
{
	const char *t = cli_map_type_name(i->type);
	const char *const *pins = cli_pins_of(0, i->id);

	printf("%u: ", i->id);
	if (t)
		printf("%s  ", t);
	else
		printf("type %u  ", i->type);
	if (*i->name)
		printf("name %s  ", i->name);
	printf("flags 0x%x\n", i->map_flags);
	printf("\tkey %uB  value %uB  max_entries %u  memlock %lluB", i->key_size,
	       i->value_size, i->max_entries, (unsigned long long)cli_map_memory(fd));
	cli_show_pins(pins);
	int frozen = cli_map_frozen(fd);
	if (i->btf_id || frozen)
		printf("\n\t");
	if (i->btf_id)
		printf("btf_id %u", i->btf_id);
	if (frozen)
		printf("%sfrozen", i->btf_id ? "  " : "");
	printf("\n");
}

static void show_json(const struct bpf_map_info *i, int fd)
{
	const char *t = cli_map_type_name(i->type);
	const char *const *pins = cli_pins_of(0, i->id);

	jw_begin_object();
	jw_kuint("id", i->id);
	if (t)
		jw_kstring("type", t);
	else
		jw_kuint("type", i->type);
	if (*i->name)
		jw_kstring("name", i->name);
	jw_kuint("flags", i->map_flags);
	jw_kuint("bytes_key", i->key_size);
	jw_kuint("bytes_value", i->value_size);
	jw_kuint("max_entries", i->max_entries);
	jw_kuint("bytes_memlock", cli_map_memory(fd));
	jw_kint("frozen", cli_map_frozen(fd));
	if (i->btf_id)
		jw_kuint("btf_id", i->btf_id);
	cli_show_pins(pins);
	jw_end_object();
}

static int show_fd(int fd)
{
	struct bpf_map_info i = { 0 };
	uint32_t len = sizeof(i);

	if (bpf_obj_get_info_by_fd(fd, &i, &len))
		return cli_err("can't get map info: %s", strerror(errno));
	if (cli_json)
		show_json(&i, fd);
	else
		show_plain(&i, fd);
	return CLI_OK;
}

static int show_all(void)
{
	cli_pins_scan();
	return cli_show_all(bpf_map_get_next_id, bpf_map_get_fd_by_id, show_fd);
}

static int do_show(int argc, char **argv)
{
	if (!argc)
		return show_all();
	if (argc == 2 && !strcmp(argv[0], "name")) {
		size_t n;
		int *fds = cli_maps_named(argv[1], &n), rc = CLI_OK;
		if (!n)
			rc = cli_err("no map with name '%s'", argv[1]);
		if (cli_json && n > 1)
			jw_begin_array();
		for (size_t i = 0; i < n; i++) {
			if (show_fd(fds[i]) != CLI_OK)
				rc = CLI_FAIL;
			close(fds[i]);
		}
		if (cli_json && n > 1)
			jw_end_array();
		free(fds);
		return rc;
	}
	int usage, fd = cli_map_ref("map", &argc, &argv, &usage);
	if (fd < 0)
		return usage ? CLI_USAGE : CLI_FAIL;
	int rc = no_more_words(argc, argv);
	if (rc == CLI_OK)
		rc = show_fd(fd);
	close(fd);
	return rc;
}

/* ---- the table ---- */

static const struct cli_cmd map_cmds[] = {
	{ "show", do_show, "map { show | list } [MAP]" },
	{ "list", do_show, NULL },
	{ "help", map_help, "map help" },
	{ "dump", do_dump, "map dump MAP" },
	{ "update", do_update, "map update MAP [key DATA] [value VALUE] [UPDATE_FLAGS]" },
	{ "lookup", do_lookup, "map lookup MAP [key DATA]" },
	{ "getnext", do_getnext, "map getnext MAP [key DATA]" },
	{ "delete", do_delete, "map delete MAP key DATA" },
	{ "pin", do_pin, "map pin MAP FILE" },
	{ "create", do_create, "map create FILE type TYPE key KEY_SIZE value VALUE_SIZE \\\n"
			       "                        entries MAX_ENTRIES name NAME [flags FLAGS] "
			       "[inner_map MAP]" },
	{ "peek", do_lookup, "map peek MAP" },
	{ "push", do_update, "map push MAP value VALUE" },
	{ "enqueue", do_update, "map enqueue MAP value VALUE" },
	{ "pop", do_pop, "map pop MAP" },
	{ "dequeue", do_pop, "map dequeue MAP" },
	{ "freeze", do_freeze, "map freeze MAP" },
	{ "event_pipe", cli_map_event_pipe, "map event_pipe MAP [count N]" },
	{ NULL, NULL, NULL },
};

static int map_help(int argc, char **argv)
{
	cli_print_usage(stdout, map_cmds);
	printf("\n"
	       "       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }\n"
	       "       DATA := { [hex] BYTES }\n"
	       "       PROG := { id PROG_ID | pinned FILE | name PROG_NAME }\n"
	       "       VALUE := { DATA | MAP | PROG }\n"
	       "       UPDATE_FLAGS := { any | exist | noexist }\n"
	       "       TYPE := { hash | array | prog_array | perf_event_array | percpu_hash |\n"
	       "                 percpu_array | stack_trace | lru_hash | lru_percpu_hash |\n"
	       "                 lpm_trie | array_of_maps | hash_of_maps | devmap |\n"
	       "                 devmap_hash | cpumap | xskmap | queue | stack | ringbuf |\n"
	       "                 bloom_filter }\n"
	       "       FILE is a path under the pin root (%s); /sys/fs/bpf/... and\n"
	       "       relative paths are placed there. Ids are per process: see docs/cli.md.\n",
	       cli_pin_root());
	return CLI_OK;
}

int do_map(int argc, char **argv)
{
	return cli_select_help(map_cmds, "map", map_help, argc, argv);
}
