/*
 * Keys and values of maps with BTF, printed as bpftool prints them. bpftool lays them out
 * with its JSON writer: in plain text, pretty (an array of objects with "key" and "value",
 * or "values" per CPU, each value formatted from its BTF type); in JSON, each element's
 * object gets a "formatted" member holding the same object. The values themselves come
 * from the BTF library (ub_btf_fprint), which follows that writer's layout at a depth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "btf/btf.h"
#include "util/log.h"
#include "cli.h"

struct ub_btf *cli_map_btf(const struct bpf_map_info *info)
{
	struct bpf_btf_info bi = { 0 };
	uint32_t len = sizeof(bi);
	struct ub_btf *btf = NULL;

	if (!info->btf_id || !info->btf_value_type_id)
		return NULL;
	int fd = bpf_btf_get_fd_by_id(info->btf_id);
	if (fd < 0)
		return NULL;
	void *raw = NULL;
	if (!bpf_obj_get_info_by_fd(fd, &bi, &len) && bi.btf_size && (raw = malloc(bi.btf_size))) {
		uint32_t size = bi.btf_size;
		memset(&bi, 0, sizeof(bi));
		bi.btf = (uint64_t)(uintptr_t)raw, bi.btf_size = size;
		len = sizeof(bi);
		char why[128];
		struct ub_log log;
		ub_log_init(&log, why, sizeof(why));
		if (bpf_obj_get_info_by_fd(fd, &bi, &len) || ub_btf_parse(raw, size, &btf, &log))
			btf = NULL;
	}
	free(raw);
	close(fd);
	return btf;
}

/* A value as text at a depth: pretty as ub_btf_fprint lays it out, or compact (-j without
 * -p: no line breaks or indents, no space after a name's colon; quoted text untouched). */
static char *value_text(const struct ub_btf *btf, uint32_t id, const uint8_t *p, size_t size,
			int depth, int pretty)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	if (ub_btf_fprint(btf, id, p, size, f, depth))
		fputs("null", f);
	fclose(f);
	if (pretty || !buf)
		return buf;
	char *w = buf;
	int quoted = 0;
	for (const char *r = buf; *r; r++) {
		if (quoted) {
			if (*r == '\\' && r[1])
				*w++ = *r++;
			else if (*r == '"')
				quoted = 0;
		} else if (*r == '"') {
			quoted = 1;
		} else if (*r == '\n') {
			while (r[1] == ' ')
				r++;
			continue;
		} else if (*r == ':' && r[1] == ' ') {
			*w++ = *r++;
			continue;
		}
		*w++ = *r;
	}
	*w = '\0';
	return buf;
}

static void put_value(FILE *f, const struct ub_btf *btf, uint32_t id, const uint8_t *p,
		      size_t size, int depth)
{
	char *t = value_text(btf, id, p, size, depth, 1);

	fputs(t ? t : "null", f);
	free(t);
}

void cli_btf_entry_plain(const struct ub_btf *btf, const struct bpf_map_info *info,
			 const uint8_t *key, const uint8_t *value, int ncpus, int depth,
			 int first)
{
	int d = depth;
	const char *sep = "";
	size_t step = (info->value_size + 7) & ~7u;

	printf("%s{", first ? "" : ",");
	if (info->btf_key_type_id) {
		printf("\n%*s\"key\": ", 4 * d, "");
		put_value(stdout, btf, info->btf_key_type_id, key, info->key_size, d);
		sep = ",";
	}
	if (!ncpus) {
		printf("%s\n%*s\"value\": ", sep, 4 * d, "");
		put_value(stdout, btf, info->btf_value_type_id, value, info->value_size, d);
	} else {
		printf("%s\n%*s\"values\": [", sep, 4 * d, "");
		for (int c = 0; c < ncpus; c++) {
			printf("%s{\n%*s\"cpu\": %d,\n%*s\"value\": ", c ? "," : "", 4 * (d + 2), "",
			       c, 4 * (d + 2), "");
			put_value(stdout, btf, info->btf_value_type_id, value + (size_t)c * step,
				  info->value_size, d + 2);
			printf("\n%*s}", 4 * (d + 1), "");
		}
		printf("\n%*s]", 4 * d, "");
	}
	printf("\n%*s}", 4 * (d - 1), "");
}

static void json_value(const struct ub_btf *btf, uint32_t id, const uint8_t *p, size_t size)
{
	char *t = value_text(btf, id, p, size, jw_depth(), cli_pretty);

	jw_raw(t ? t : "null");
	free(t);
}

void cli_btf_entry_json(const struct ub_btf *btf, const struct bpf_map_info *info,
			const uint8_t *key, const uint8_t *value, int ncpus)
{
	size_t step = (info->value_size + 7) & ~7u;

	jw_key("formatted");
	jw_begin_object();
	if (info->btf_key_type_id) {
		jw_key("key");
		json_value(btf, info->btf_key_type_id, key, info->key_size);
	}
	if (!ncpus) {
		jw_key("value");
		json_value(btf, info->btf_value_type_id, value, info->value_size);
	} else {
		jw_key("values");
		jw_begin_array();
		for (int c = 0; c < ncpus; c++) {
			jw_begin_object();
			jw_kint("cpu", c);
			jw_key("value");
			json_value(btf, info->btf_value_type_id, value + (size_t)c * step,
				   info->value_size);
			jw_end_object();
		}
		jw_end_array();
	}
	jw_end_object();
}
