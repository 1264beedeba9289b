/*
 * jw: a tiny JSON writer on standard output, compact or (with -p) indented by four
 * spaces like bpftool's. It keeps one "how many members so far" count per open container.
 */
#include <inttypes.h>
#include <stdio.h>
#include "cli.h"

#define JW_MAX_DEPTH 32

static unsigned members[JW_MAX_DEPTH];	/* of each open container */
static int depth;
static int after_key;			/* a key was written; its value comes next */

static void newline_indent(void)
{
	if (!cli_pretty)
		return;
	putchar('\n');
	for (int i = 0; i < depth; i++)
		fputs("    ", stdout);
}

/* Separator and layout before a value or key. */
static void before_item(void)
{
	if (after_key) {
		after_key = 0;
		return;
	}
	if (depth > 0 && depth <= JW_MAX_DEPTH) {
		if (members[depth - 1]++)
			putchar(',');
		newline_indent();
	}
}

static void begin(char c)
{
	before_item();
	putchar(c);
	if (depth < JW_MAX_DEPTH)
		members[depth] = 0;
	depth++;
}

static void end(char c)
{
	int had = depth > 0 && depth <= JW_MAX_DEPTH && members[depth - 1];

	depth--;
	if (had)
		newline_indent();
	putchar(c);
	if (depth == 0)
		putchar('\n');
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
	before_item();
	quoted(key);
	fputs(cli_pretty ? ": " : ":", stdout);
	after_key = 1;
}

void jw_string(const char *s)
{
	before_item();
	quoted(s ? s : "");
}

void jw_uint(uint64_t v)
{
	before_item();
	printf("%" PRIu64, v);
}

void jw_int(int64_t v)
{
	before_item();
	printf("%" PRId64, v);
}

void jw_bool(int v)
{
	before_item();
	fputs(v ? "true" : "false", stdout);
}

void jw_kstring(const char *key, const char *s) { jw_key(key); jw_string(s); }
void jw_kuint(const char *key, uint64_t v) { jw_key(key); jw_uint(v); }
void jw_kint(const char *key, int64_t v) { jw_key(key); jw_int(v); }
void jw_kbool(const char *key, int v) { jw_key(key); jw_bool(v); }
