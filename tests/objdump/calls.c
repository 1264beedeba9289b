/* Helper calls, bpf-to-bpf calls, a map reference (lddw with a relocation). */
struct { int type; int max_entries; } map __attribute__((section(".maps"), used));

static void *(*lookup)(void *map, const void *key) = (void *)1;
static long (*trace)(const char *fmt, unsigned int size, ...) = (void *)6;

static __attribute__((noinline)) int twice(int a)
{
	return a * 2 + 1;
}

static __attribute__((noinline)) int thrice(int a, int b)
{
	return twice(a) + twice(b) * 3;
}

int prog(int *ctx)
{
	int key = *ctx;
	int *v = lookup(&map, &key);
	char fmt[] = "x %d";

	if (!v)
		return thrice(key, 7);
	trace(fmt, sizeof(fmt), *v);
	return twice(*v) + thrice(*v, key);
}
