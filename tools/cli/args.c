/*
 * cli_args: options in the GNU style (-o FILE, -oFILE, --out FILE, --out=FILE, -jp, "--"
 * ends options, "-" is an argument), found anywhere on the line. -j/--json and
 * -p/--pretty are global and taken wherever they appear.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const struct cli_opt global_opts[] = {
	{ "json", 'j', 0, 'j' },
	{ "pretty", 'p', 0, 'p' },
	{ "help", 'h', 0, 'h' },
	{ NULL, 0, 0, 0 },
};

void cli_args_init(struct cli_args *a, const char *cmd, int argc, char **argv)
{
	*a = (struct cli_args){ .argc = argc, .argv = argv, .cmd = cmd };
}

/* Applies a global option; returns the value cli_args_next reports for it (0: none). */
static int take_global(int id)
{
	if (id == 'h')
		return CLI_ARG_HELP;
	cli_json = 1;
	if (id == 'p')
		cli_pretty = 1;
	return 0;
}

/* The option named by a long name or a prefix of one; *ambig set when several match. */
static const struct cli_opt *find_long(const struct cli_opt *opts, const char *name, size_t n,
				       int *ambig)
{
	const struct cli_opt *hit = NULL;
	int hits = 0;

	for (const struct cli_opt *o = opts; o->name; o++) {
		if (strlen(o->name) == n && !strncmp(o->name, name, n))
			return o;
		if (!strncmp(o->name, name, n)) {
			if (!hit)
				hit = o;
			hits++;
		}
	}
	*ambig = hits > 1;
	return hits == 1 ? hit : NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *opts, char c)
{
	for (const struct cli_opt *o = opts; o->name; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

/* The argument of an option that takes one: the rest of the word, or the next word. */
static int opt_value(struct cli_args *a, const char *shown, const char *inline_val,
		     const char **arg)
{
	if (inline_val) {
		*arg = inline_val;
		return 0;
	}
	if (a->i >= a->argc) {
		cli_usage_err(a->cmd, "option '%s' needs an argument", shown);
		return -1;
	}
	*arg = a->argv[a->i++];
	return 0;
}

static int long_opt(struct cli_args *a, const struct cli_opt *opts, const char *word,
		    const char **arg)
{
	const char *name = word + 2, *eq = strchr(name, '=');
	size_t n = eq ? (size_t)(eq - name) : strlen(name);
	int ambig_cmd = 0, ambig_glob = 0;
	const struct cli_opt *o = opts ? find_long(opts, name, n, &ambig_cmd) : NULL;
	int global = 0;

	if (!o && !ambig_cmd) {
		o = find_long(global_opts, name, n, &ambig_glob);
		global = o != NULL;
	}
	if (!o) {
		cli_usage_err(a->cmd, "%s option '--%.*s'", ambig_cmd || ambig_glob ? "ambiguous"
				: "unknown", (int)n, name);
		return CLI_ARG_BAD;
	}
	if (!o->has_arg && eq) {
		cli_usage_err(a->cmd, "option '--%s' takes no argument", o->name);
		return CLI_ARG_BAD;
	}
	if (global)
		return take_global(o->id);
	if (o->has_arg) {
		char shown[64];
		snprintf(shown, sizeof(shown), "--%s", o->name);
		if (opt_value(a, shown, eq ? eq + 1 : NULL, arg))
			return CLI_ARG_BAD;
	}
	return o->id;
}

/* One letter of a short-option cluster ("-jp", "-oFILE"). */
static int short_opt(struct cli_args *a, const struct cli_opt *opts, const char **arg)
{
	char c = *a->cluster++;
	const struct cli_opt *o = opts ? find_short(opts, c) : NULL;
	int global = 0;

	if (!o) {
		o = find_short(global_opts, c);
		global = o != NULL;
	}
	if (!o) {
		a->cluster = NULL;
		cli_usage_err(a->cmd, "unknown option '-%c'", c);
		return CLI_ARG_BAD;
	}
	if (global)
		return take_global(o->id);
	if (o->has_arg) {
		char shown[4] = { '-', c, 0, 0 };
		const char *rest = *a->cluster ? a->cluster : NULL;
		a->cluster = NULL;
		if (opt_value(a, shown, rest, arg))
			return CLI_ARG_BAD;
	}
	return o->id;
}

int cli_args_next(struct cli_args *a, const struct cli_opt *opts, const char **arg)
{
	for (;;) {
		int r;

		if (a->cluster && *a->cluster) {
			r = short_opt(a, opts, arg);
		} else {
			a->cluster = NULL;
			if (a->i >= a->argc)
				return CLI_ARG_END;
			const char *w = a->argv[a->i++];
			if (a->only_pos || w[0] != '-' || !w[1]) {
				*arg = w;
				return CLI_ARG_POS;
			}
			if (!strcmp(w, "--")) {
				a->only_pos = 1;
				continue;
			}
			if (w[1] == '-') {
				r = long_opt(a, opts, w, arg);
			} else {
				a->cluster = w + 1;
				continue;
			}
		}
		if (r != 0)
			return r;	/* an option of the command, help, or a mistake */
	}
}

int cli_keyword(const char *cmd, const char *opt, const char *val, const char *const *words)
{
	size_t n = strlen(val);

	for (int i = 0; n && words[i]; i++)
		if (!strncmp(words[i], val, n))
			return i;
	char list[256] = "";
	for (int i = 0; words[i]; i++) {
		strncat(list, i ? "|" : "", sizeof(list) - strlen(list) - 1);
		strncat(list, words[i], sizeof(list) - strlen(list) - 1);
	}
	cli_usage_err(cmd, "%s: '%s' is not one of %s", opt, val, list);
	return -1;
}

int cli_number(const char *cmd, const char *opt, const char *val, uint64_t min, uint64_t max,
	       uint64_t *out)
{
	char *end = NULL;
	unsigned long long v = 0;

	/* Digits only: strtoull would also take white space and a sign. */
	if (isdigit((unsigned char)val[0])) {
		errno = 0;
		v = strtoull(val, &end, 0);
	}
	if (!end || *end || errno) {
		cli_usage_err(cmd, "%s: '%s' is not a whole number", opt, val);
		return -1;
	}
	if (v < min || v > max) {
		cli_usage_err(cmd, "%s: %llu is out of range [%llu, %llu]", opt, v,
			      (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}
