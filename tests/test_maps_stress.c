/*
 * Concurrency: NTHREADS threads do random updates, deletes and lookups on one hash map and
 * one array through the bpf() commands, while checking invariants:
 *  - every 8-byte word of a 64-byte value is (key << 32 | writer, sequence), and a hash
 *    update publishes the whole value at once, so a hash lookup returns 8 equal words
 *    naming the key looked up (no torn value, no value of another key);
 *  - array values are plain memory (kernel semantics: an update races with a lookup), so
 *    only each word is checked to name the right key;
 *  - each command returns one of the answers the kernel gives for it;
 *  - the element count never exceeds max_entries (read from the hash's control block,
 *    a white-box look: struct hash_ctl begins with u32 free_lock, u32 count);
 *  - afterwards a get_next_key walk visits each live key once.
 * The work is a fixed number of operations per thread (fewer under ThreadSanitizer), so
 * the run is short; the interleaving varies, the invariants must hold for all of them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#define PIN_ROOT_TAG "stress"
#include "pin_root.h"
#include "ut.h"

enum { NTHREADS = 4, HASH_MAX = 128, HASH_KEYS = 192, ARRAY_MAX = 64, WORDS = 8 };
/* Operations per thread; UT_STRESS_OPS overrides (for longer runs by hand). */
static unsigned ops(void)
{
	const char *e = getenv("UT_STRESS_OPS");
	return e ? (unsigned)strtoul(e, NULL, 0) : UNDER_TSAN ? 40000 : 100000;
}

struct worker {
	pthread_t th;
	unsigned tid;
	int hfd, afd;
	const uint32_t *hcount;		/* the hash's live count in the map file, or NULL */
	/* what the thread saw */
	unsigned torn, wrong_key, bad_rc, over_max, array_bad, array_mixed;
	unsigned found, inserted, full;
	char first[160];		/* the first problem, for the report */
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void problem(struct worker *w, unsigned *counter, const char *what, uint32_t key, int rc)
{
	if (!w->first[0])
		snprintf(w->first, sizeof(w->first), "thread %u: %s (key %u, rc %d)", w->tid, what, key,
			 rc);
	(*counter)++;
}

/* A hash value is whole: eight equal words, naming the key. */
static void check_hash_value(struct worker *w, uint32_t key, const uint64_t *v)
{
	for (int i = 1; i < WORDS; i++)
		if (v[i] != v[0]) {
			problem(w, &w->torn, "torn hash value", key, 0);
			return;
		}
	if ((uint32_t)(v[0] >> 32) != key)
		problem(w, &w->wrong_key, "hash value of another key", key, 0);
}

static void hash_op(struct worker *w, uint64_t r, uint64_t *v, uint64_t *out, uint32_t seq)
{
	uint32_t key = (uint32_t)((r >> 8) % HASH_KEYS);
	static const uint64_t flags[] = { BPF_ANY, BPF_NOEXIST, BPF_EXIST };
	int rc;

	for (int i = 0; i < WORDS; i++)
		v[i] = (uint64_t)key << 32 | w->tid << 24 | (seq & 0xffffff);
	switch (r % 12) {
	case 0 ... 5: {
		uint64_t f = flags[(r >> 32) % 3];
		rc = bpf_map_update_elem(w->hfd, &key, v, f);
		/* ANY: 0, or E2BIG when full; NOEXIST adds EEXIST; EXIST: 0 or ENOENT. */
		int ok = rc == 0 || (f != BPF_EXIST && rc == -E2BIG) ||
			 (f == BPF_NOEXIST && rc == -EEXIST) || (f == BPF_EXIST && rc == -ENOENT);
		if (!ok)
			problem(w, &w->bad_rc, "update answer", key, rc);
		w->inserted += rc == 0;
		w->full += rc == -E2BIG;
		break;
	}
	case 6 ... 7:
		rc = bpf_map_delete_elem(w->hfd, &key);
		if (rc && rc != -ENOENT)
			problem(w, &w->bad_rc, "delete answer", key, rc);
		break;
	case 8 ... 10:
		rc = bpf_map_lookup_elem(w->hfd, &key, out);
		if (!rc) {
			w->found++;
			check_hash_value(w, key, out);
		} else if (rc != -ENOENT) {
			problem(w, &w->bad_rc, "lookup answer", key, rc);
		}
		break;
	default:
		rc = bpf_map_lookup_and_delete_elem(w->hfd, &key, out);
		if (!rc)
			check_hash_value(w, key, out);
		else if (rc != -ENOENT)
			problem(w, &w->bad_rc, "lookup_and_delete answer", key, rc);
		break;
	}
}

static void array_op(struct worker *w, uint64_t r, uint64_t *v, uint64_t *out, uint32_t seq)
{
	uint32_t key = (uint32_t)((r >> 8) % ARRAY_MAX);
	int rc;

	if (r & 1) {
		for (int i = 0; i < WORDS; i++)
			v[i] = (uint64_t)key << 32 | w->tid << 24 | (seq & 0xffffff);
		rc = bpf_map_update_elem(w->afd, &key, v, BPF_ANY);
		if (rc)
			problem(w, &w->bad_rc, "array update answer", key, rc);
		return;
	}
	rc = bpf_map_lookup_elem(w->afd, &key, out);
	if (rc) {
		problem(w, &w->bad_rc, "array lookup answer", key, rc);
		return;
	}
	for (int i = 0; i < WORDS; i++) {
		/* Zero until first written; otherwise every word names the key. */
		if (out[i] && (uint32_t)(out[i] >> 32) != key)
			problem(w, &w->array_bad, "array word of another key", key, 0);
		w->array_mixed += out[i] != out[0];	/* legal: plain memory, as the kernel */
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = 0x9E3779B97F4A7C15ull * (w->tid + 1), v[WORDS], out[WORDS];
	unsigned n = ops();

	for (unsigned i = 0; i < n; i++) {
		uint64_t r = rnd(&rng);
		if (r % 4 == 0)
			array_op(w, r >> 2, v, out, i);
		else
			hash_op(w, r >> 2, v, out, i);
		if (w->hcount && i % 64 == 0 && __atomic_load_n(w->hcount, __ATOMIC_RELAXED) > HASH_MAX)
			problem(w, &w->over_max, "count above max_entries", 0,
				(int)__atomic_load_n(w->hcount, __ATOMIC_RELAXED));
	}
	return NULL;
}

UT_TEST(threads_hash_and_array)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	struct worker w[NTHREADS];
	int hfd = bpf_map_create(BPF_MAP_TYPE_HASH, "stress_h", 4, WORDS * 8, HASH_MAX, &o);
	int afd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "stress_a", 4, WORDS * 8, ARRAY_MAX, &o);

	UT_CHECK(hfd >= 0 && afd >= 0, "create: %d %d", hfd, afd);
	if (hfd < 0 || afd < 0)
		return;
	/* The map's fd is its file: its first page holds the hash's control block. */
	void *ctl = mmap(NULL, 4096, PROT_READ, MAP_SHARED, hfd, 0);
	const uint32_t *hcount = ctl == MAP_FAILED ? NULL : (const uint32_t *)ctl + 1;
	if (!hcount)
		fprintf(stderr, "  NOTE threads_hash_and_array: the hash's file cannot be mapped; "
			"the count is checked after the run only\n");
	/* Start full, so inserts of new keys meet E2BIG from the first operations on. */
	uint64_t v0[WORDS];
	for (uint32_t k = 0; k < HASH_MAX; k++) {
		for (int i = 0; i < WORDS; i++)
			v0[i] = (uint64_t)k << 32 | 0xff000000u;
		UT_CHECK_EQ(bpf_map_update_elem(hfd, &k, v0, BPF_NOEXIST), 0);
	}
	for (unsigned t = 0; t < NTHREADS; t++) {
		w[t] = (struct worker){ .tid = t, .hfd = hfd, .afd = afd, .hcount = hcount };
		UT_CHECK_EQ(pthread_create(&w[t].th, NULL, work, &w[t]), 0);
	}
	unsigned found = 0, full = 0, mixed = 0;
	for (unsigned t = 0; t < NTHREADS; t++) {
		pthread_join(w[t].th, NULL);
		UT_CHECK(!w[t].torn && !w[t].wrong_key && !w[t].bad_rc && !w[t].over_max &&
			 !w[t].array_bad,
			 "torn %u, other key %u, bad answers %u, over max %u, array %u; first: %s",
			 w[t].torn, w[t].wrong_key, w[t].bad_rc, w[t].over_max, w[t].array_bad,
			 w[t].first);
		found += w[t].found, full += w[t].full, mixed += w[t].array_mixed;
	}
	/* The mix must have done its job: hits, and the map full at times. */
	UT_CHECK(found > 0 && full > 0, "lookups found %u, updates on a full map %u", found, full);

	/* Afterwards: each live key once in a walk, and the walk agrees with lookups. */
	uint8_t in_walk[HASH_KEYS] = { 0 };
	uint32_t key, steps = 0;
	uint64_t out[WORDS];
	int rc;
	for (rc = bpf_map_get_next_key(hfd, NULL, &key); !rc && steps <= HASH_MAX;
	     rc = bpf_map_get_next_key(hfd, &key, &key), steps++) {
		UT_CHECK(key < HASH_KEYS, "walk: key %u was never written", key);
		if (key < HASH_KEYS)
			UT_CHECK(!in_walk[key]++, "walk: key %u visited twice", key);
	}
	UT_CHECK_EQ(rc, -ENOENT);
	UT_CHECK(steps <= HASH_MAX, "walk of %u keys in a map of %u", steps, HASH_MAX);
	unsigned live = 0;
	for (uint32_t k = 0; k < HASH_KEYS; k++) {
		rc = bpf_map_lookup_elem(hfd, &k, out);
		UT_CHECK(rc == 0 || rc == -ENOENT, "lookup %u: %d", k, rc);
		UT_CHECK((rc == 0) == (in_walk[k] != 0), "key %u: lookup %d, in walk %d", k, rc,
			 in_walk[k]);
		if (!rc) {
			live++;
			for (int i = 0; i < WORDS; i++)
				UT_CHECK(out[i] == out[0] && (uint32_t)(out[0] >> 32) == k,
					 "key %u: final value torn", k);
		}
	}
	UT_CHECK_EQ(live, steps);
	if (hcount)
		UT_CHECK_EQ(*hcount, live);
	/* With the map full, an insert of a new key fails; after a delete, it succeeds. */
	uint64_t v[WORDS] = { 0 };
	for (uint32_t k = 0; live < HASH_MAX && k < HASH_KEYS; k++)
		live += bpf_map_update_elem(hfd, &k, v, BPF_NOEXIST) == 0;
	uint32_t absent = HASH_KEYS + 1;
	UT_CHECK_EQ(bpf_map_update_elem(hfd, &absent, v, BPF_NOEXIST), -E2BIG);
	if (ctl != MAP_FAILED)
		munmap(ctl, 4096);
	if (mixed)
		fprintf(stderr, "  NOTE threads_hash_and_array: %u array lookups saw words of "
			"different updates (allowed: array values are plain memory)\n", mixed);
	close(hfd);
	close(afd);
}

/*
 * Per-CPU hash and program-style updates are not exercised here; this case covers
 * deletes racing with get_next_key walks: a walk never returns a key outside the key set
 * and always ends.
 */
struct walker_arg {
	int fd;
	unsigned bad, walks;
	volatile int stop;
};

static void *churn(void *arg)
{
	struct walker_arg *a = arg;
	uint64_t rng = 77, v = 0;

	while (!__atomic_load_n(&a->stop, __ATOMIC_RELAXED)) {
		uint32_t key = (uint32_t)(rnd(&rng) % 96);
		if (rng & 1)
			bpf_map_update_elem(a->fd, &key, &v, BPF_ANY);
		else
			bpf_map_delete_elem(a->fd, &key);
	}
	return NULL;
}

UT_TEST(walk_while_deleting)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	struct walker_arg a = { .fd = bpf_map_create(BPF_MAP_TYPE_HASH, "walk", 4, 8, 64, &o) };
	pthread_t th[2];

	UT_CHECK(a.fd >= 0, "create: %d", a.fd);
	for (int t = 0; t < 2; t++)
		pthread_create(&th[t], NULL, churn, &a);
	for (unsigned n = 0; n < (UNDER_TSAN ? 300u : 3000u); n++) {
		uint32_t key, steps = 0;
		int rc;
		/* A key deleted under the walk restarts it (kernel semantics), so a walk may be
		 * longer than the map; it must still only name keys that were written. */
		for (rc = bpf_map_get_next_key(a.fd, NULL, &key); !rc && steps < 2000;
		     rc = bpf_map_get_next_key(a.fd, &key, &key), steps++)
			a.bad += key >= 96;
		a.bad += rc != -ENOENT && rc != 0;
		a.walks++;
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELAXED);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	UT_CHECK_EQ(a.bad, 0);
	close(a.fd);
}

/*
 * BPF_MAP_LOOKUP_AND_DELETE_ELEM is one step: threads insert unique values with BPF_NOEXIST
 * and take values with lookup_and_delete, on a few keys, and afterwards every value
 * inserted was taken exactly once. Were it a lookup followed by a delete, two takers could
 * both copy one value while the next value of the key, inserted between the first taker's
 * delete and the second's, was deleted unseen. That needs a taker preempted between its two
 * steps, hence more threads than cores: on two cores, about four runs in five of this case
 * caught the two-step version (the failure is never a false alarm).
 */
enum { LAD_KEYS = 2, LAD_THREADS = 16 };

struct lad_arg {
	pthread_t th;
	pthread_barrier_t *start;
	int fd;
	unsigned tid, nin, nout, cap;
	uint64_t *in, *out;		/* values this thread inserted, and took */
	unsigned bad_rc;
};

static void *lad_work(void *arg)
{
	struct lad_arg *a = arg;
	uint64_t rng = 0x51ED270B27ull * (a->tid + 3), v;

	pthread_barrier_wait(a->start);
	for (unsigned i = 0; i < a->cap; i++) {
		uint64_t r = rnd(&rng);
		uint32_t key = (uint32_t)((r >> 8) % LAD_KEYS);
		if (r & 1) {
			v = (uint64_t)a->tid << 32 | i;
			int rc = bpf_map_update_elem(a->fd, &key, &v, BPF_NOEXIST);
			if (!rc)
				a->in[a->nin++] = v;
			else if (rc != -EEXIST)
				a->bad_rc++;
		} else {
			int rc = bpf_map_lookup_and_delete_elem(a->fd, &key, &v);
			if (!rc)
				a->out[a->nout++] = v;
			else if (rc != -ENOENT)
				a->bad_rc++;
		}
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

UT_TEST(lookup_and_delete_takes_each_value_once)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	struct lad_arg a[LAD_THREADS];
	pthread_barrier_t start;
	unsigned cap = ops(), ni = 0, no = 0;
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "lad", 4, 8, LAD_KEYS, &o);

	UT_CHECK(fd >= 0, "create: %d", fd);
	if (fd < 0)
		return;
	pthread_barrier_init(&start, NULL, LAD_THREADS);
	for (unsigned t = 0; t < LAD_THREADS; t++) {
		a[t] = (struct lad_arg){ .start = &start, .fd = fd, .tid = t, .cap = cap,
					 .in = malloc(cap * sizeof(uint64_t)),
					 .out = malloc(cap * sizeof(uint64_t)) };
		UT_CHECK_EQ(pthread_create(&a[t].th, NULL, lad_work, &a[t]), 0);
	}
	for (unsigned t = 0; t < LAD_THREADS; t++) {
		pthread_join(a[t].th, NULL);
		UT_CHECK_EQ(a[t].bad_rc, 0);
		ni += a[t].nin, no += a[t].nout;
	}
	pthread_barrier_destroy(&start);
	/* What is left in the map was inserted and not taken. */
	uint64_t *in = malloc((ni + 1) * sizeof(uint64_t));
	uint64_t *out = malloc((no + LAD_KEYS + 1) * sizeof(uint64_t));
	unsigned taken = no;
	ni = no = 0;
	for (unsigned t = 0; t < LAD_THREADS; t++) {
		memcpy(in + ni, a[t].in, a[t].nin * sizeof(uint64_t)), ni += a[t].nin;
		memcpy(out + no, a[t].out, a[t].nout * sizeof(uint64_t)), no += a[t].nout;
	}
	for (uint32_t k = 0; k < LAD_KEYS; k++)
		if (!bpf_map_lookup_and_delete_elem(fd, &k, &out[no]))
			no++;
	qsort(in, ni, sizeof(*in), cmp_u64);
	qsort(out, no, sizeof(*out), cmp_u64);
	unsigned bad = ni != no;
	for (unsigned i = 0; !bad && i < ni; i++)
		bad = in[i] != out[i];
	UT_CHECK(!bad, "%u values inserted, %u taken (%u of them left at the end): a value was "
		 "taken twice or lost", ni, no, no - taken);
	UT_CHECK(taken > 1000, "only %u values taken: too little contention", taken);
	free(in);
	free(out);
	for (unsigned t = 0; t < LAD_THREADS; t++)
		free(a[t].in), free(a[t].out);
	close(fd);
}
