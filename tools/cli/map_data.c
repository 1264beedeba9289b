/*
 * cli_map_data: keys and values on the command line and on the screen, byte for byte as
 * bpftool writes and reads them (its parse_bytes, fprint_hex and print_entry_*).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/*
 * Each word is one byte: strtoul with base 0 (42, 0x2a, 052), or base 16 after "hex".
 * bpftool keeps the low byte of a larger number; uebpf refuses it (256 is no byte).
 */
static int parse_byte(const char *w, int base, uint8_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(w, &end, base);
	if (!*w || *end || errno || v > 0xff || w[0] == '-' || w[0] == '+' || w[0] == ' ') {
		cli_err("error parsing byte: %s", w);
		return -1;
	}
	*out = (uint8_t)v;
	return 0;
}

int cli_parse_bytes(const char *what, int *argc, char ***argv, uint8_t *out, uint32_t n)
{
	int base = 0;
	uint32_t i = 0;

	if (*argc && (**argv)[0] && !strncmp("hex", **argv, strlen(**argv))) {
		base = 16;
		(*argc)--;
		(*argv)++;
	}
	for (; i < n && *argc; i++, (*argc)--, (*argv)++)
		if (parse_byte(**argv, base, &out[i]))
			return -1;
	if (i != n) {
		cli_err("%s expected %u bytes got %u", what, n, i);
		return -1;
	}
	return 0;
}

/* Bytes in groups: two spaces after every 8th, a new line after every 16th (bpftool). */
void cli_print_hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *pfx = i == 0 ? "" : i % 16 == 0 ? "\n" : i % 8 == 0 ? "  " : " ";
		fprintf(f, "%s%02x", pfx, p[i]);
	}
}

void cli_json_hex(const uint8_t *p, size_t n)
{
	char b[8];

	jw_begin_array();
	for (size_t i = 0; i < n; i++) {
		snprintf(b, sizeof(b), "0x%02x", p[i]);
		jw_string(b);
	}
	jw_end_array();
}
