/*
 * uebpf object show OBJ: what an ELF object holds (programs and maps), without loading it.
 * bpftool has no such command; the output follows its show commands' layout.
 */
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "cli.h"

static void show_progs(struct bpf_object *obj)
{
	struct bpf_program *p;

	if (cli_json) {
		jw_key("programs");
		jw_begin_array();
	}
	bpf_object__for_each_program(p, obj) {
		const char *t = cli_prog_type_name(bpf_program__type(p));
		if (cli_json) {
			jw_begin_object();
			jw_kstring("name", bpf_program__name(p));
			jw_kstring("section", bpf_program__section_name(p));
			if (t)
				jw_kstring("type", t);
			else
				jw_kuint("type", bpf_program__type(p));
			jw_kuint("insns", bpf_program__insn_cnt(p));
			jw_end_object();
			continue;
		}
		printf("prog %s  section %s  ", bpf_program__name(p), bpf_program__section_name(p));
		if (t)
			printf("type %s", t);
		else
			printf("type %u", bpf_program__type(p));
		printf("  insns %zu\n", bpf_program__insn_cnt(p));
	}
	if (cli_json)
		jw_end_array();
}

static void show_maps(struct bpf_object *obj)
{
	struct bpf_map *m;

	if (cli_json) {
		jw_key("maps");
		jw_begin_array();
	}
	bpf_object__for_each_map(m, obj) {
		const char *t = cli_map_type_name(bpf_map__type(m));
		if (cli_json) {
			jw_begin_object();
			jw_kstring("name", bpf_map__name(m));
			if (t)
				jw_kstring("type", t);
			else
				jw_kuint("type", bpf_map__type(m));
			jw_kuint("bytes_key", bpf_map__key_size(m));
			jw_kuint("bytes_value", bpf_map__value_size(m));
			jw_kuint("max_entries", bpf_map__max_entries(m));
			jw_kuint("flags", bpf_map__map_flags(m));
			jw_end_object();
			continue;
		}
		printf("map %s  ", bpf_map__name(m));
		if (t)
			printf("type %s", t);
		else
			printf("type %u", bpf_map__type(m));
		printf("  key %uB  value %uB  max_entries %u  flags 0x%x\n", bpf_map__key_size(m),
		       bpf_map__value_size(m), bpf_map__max_entries(m), bpf_map__map_flags(m));
	}
	if (cli_json)
		jw_end_array();
}

static int do_show(int argc, char **argv)
{
	if (argc != 1)
		return cli_bt_usage(argc ? "unexpected argument '%s' after OBJ"
						    : "'show' needs an OBJ", argc ? argv[1] : "");
	struct bpf_object *obj = bpf_object__open_file(argv[0], NULL);
	if (!obj)
		return cli_err("failed to open object file %s: %s", argv[0], strerror(errno));
	if (cli_json)
		jw_begin_object();
	show_progs(obj);
	show_maps(obj);
	if (cli_json)
		jw_end_object();
	bpf_object__close(obj);
	return CLI_OK;
}

static int object_help(int argc, char **argv)
{
	printf("Usage: %s object show OBJ\n"
	       "       %s object help\n"
	       "\n"
	       "       Lists the programs (name, section, type, instructions) and maps (name,\n"
	       "       type, sizes) of an ELF object, without loading it.\n", cli_prog, cli_prog);
	return CLI_OK;
}

static const struct cli_cmd object_cmds[] = {
	{ "show", do_show, "object show OBJ" },
	{ "list", do_show, NULL },
	{ "help", object_help, "object help" },
	{ NULL, NULL, NULL },
};

int do_object(int argc, char **argv)
{
	return cli_select_help(object_cmds, "object", object_help, argc, argv);
}
