#include "ut.h"
#include <stdarg.h>
#include <stdlib.h>

#define UT_MAX 1024
static struct { const char *name; ut_fn fn; } cases[UT_MAX];
static int ncases, cur_failed, cur_skipped;
static const char *cur_name;

void ut_register(const char *name, ut_fn fn)
{
	if (ncases < UT_MAX)
		cases[ncases++].name = name, cases[ncases - 1].fn = fn;
}

void ut_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  FAIL %s (%s:%d): ", cur_name, file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cur_failed++;
}

void ut_skip(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  SKIP %s: ", cur_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cur_skipped = 1;
}

int main(int argc, char **argv)
{
	const char *filter = getenv("UT_FILTER");
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int passed = 0, failed = 0, skipped = 0;

	(void)argc;
	for (int i = 0; i < ncases; i++) {
		if (filter && !strstr(cases[i].name, filter))
			continue;
		cur_name = cases[i].name;
		cur_failed = cur_skipped = 0;
		cases[i].fn();
		if (cur_failed)
			failed++;
		else if (cur_skipped)
			skipped++;
		else
			passed++;
	}
	printf("%s: %d passed, %d failed, %d skipped\n", prog, passed, failed, skipped);
	return failed ? 1 : 0;
}
