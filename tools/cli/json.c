/*
 * jw: a tiny JSON writer on standard output, laid out exactly as bpftool's json_writer
 * (so that `uebpf -p map dump` and `bpftool -p map dump` print the same text): compact by
 * default; with -p, every member name starts a new line indented by four spaces per level,
 * while array elements stay on the line of their opening bracket.
 */
#include <inttypes.h>
#include <stdio.h>
#include "cli.h"

static int depth;
static char sep;	/* what goes before the next item: ',' or nothing */

/* End of the previous item: its separator. */
static void eor(void)
{
	if (sep)
		putchar(sep);
	sep = ',';
}

static void eol(void)
{
	if (!cli_pretty)
		return;
	putchar('\n');
	for (int i = 0; i < depth; i++)
		fputs("    ", stdout);
}

/* A finished top-level value ends its line, and the next one starts afresh. */
static void top_done(void)
{
	if (depth == 0) {
		putchar('\n');
		sep = 0;
	}
}

static void begin(char c)
{
	eor();
	putchar(c);
	depth++;
	sep = 0;
}

static void end(char c)
{
	if (depth > 0)
		depth--;
	if (sep)
		eol();
	putchar(c);
	sep = ',';
	top_done();
}

void jw_begin_object(void) { begin('{'); }
void jw_end_object(void) { end('}'); }
void jw_begin_array(void) { begin('['); }
void jw_end_array(void) { end(']'); }

static void quoted(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\f': fputs("\\f", stdout); break;
		case '\b': fputs("\\b", stdout); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

void jw_key(const char *key)
{
	eor();
	eol();
	sep = 0;
	quoted(key);
	fputs(cli_pretty ? ": " : ":", stdout);
}

void jw_string(const char *s)
{
	eor();
	quoted(s ? s : "");
	top_done();
}

void jw_uint(uint64_t v)
{
	eor();
	printf("%" PRIu64, v);
	top_done();
}

void jw_int(int64_t v)
{
	eor();
	printf("%" PRId64, v);
	top_done();
}

void jw_bool(int v)
{
	eor();
	fputs(v ? "true" : "false", stdout);
	top_done();
}

void jw_null(void)
{
	eor();
	fputs("null", stdout);
	top_done();
}

/* A value already laid out as this writer would (BTF-formatted values, map_btf.c). */
void jw_raw(const char *text)
{
	eor();
	fputs(text, stdout);
	top_done();
}

int jw_depth(void)
{
	return depth;
}

void jw_kstring(const char *key, const char *s) { jw_key(key); jw_string(s); }
void jw_kuint(const char *key, uint64_t v) { jw_key(key); jw_uint(v); }
void jw_kint(const char *key, int64_t v) { jw_key(key); jw_int(v); }
void jw_kbool(const char *key, int v) { jw_key(key); jw_bool(v); }
