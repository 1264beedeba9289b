/*
 * Shared by the libFuzzer targets tests/fuzz/fuzz_*.c (one executable each; see
 * docs/fuzzing.md). A target reports a broken invariant with fuzz_fail(), which aborts so
 * that libFuzzer saves the input as a crash.
 */
#ifndef UEBPF_FUZZ_H
#define UEBPF_FUZZ_H
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static inline __attribute__((noreturn, format(printf, 1, 2))) void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz invariant broken: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* Takes bytes from the front of the input, zeros once it is used up: the structured part
 * of an input (which operation, which type, which flags) reads from here. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_take(struct fuzz_in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v |= (uint64_t)(in->n ? *in->p : 0) << (8 * i);
		if (in->n)
			in->p++, in->n--;
	}
	return v;
}

/* Up to n bytes into out (zero-filled past the end of the input). */
static inline void fuzz_take_buf(struct fuzz_in *in, void *out, size_t n)
{
	size_t k = n < in->n ? n : in->n;

	memcpy(out, in->p, k);
	memset((uint8_t *)out + k, 0, n - k);
	in->p += k;
	in->n -= k;
}


/* A file's bytes (malloc'd, *n set), or NULL. */
static inline uint8_t *fuzz_slurp(const char *file, size_t *n)
{
	struct stat st;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;

	if (fd >= 0 && !fstat(fd, &st) && (buf = malloc((size_t)st.st_size + 1)) &&
	    read(fd, buf, (size_t)st.st_size) == st.st_size)
		*n = (size_t)st.st_size;
	else
		free(buf), buf = NULL;
	if (fd >= 0)
		close(fd);
	return buf;
}

/* The fds this process has open (to tell that an operation left none behind). */
static inline int fuzz_count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/*
 * Runs `run` on the input as it is (first byte >= ntmpl), or on a copy of template
 * data[0] patched by the rest of the input: records of a 4-byte offset, a length byte and
 * that many bytes, written at the offset (modulo the template's size). Structure-aware
 * damage for parsers that reject random bytes at the first check (ELF, BTF).
 */
struct fz_tmpl {
	uint8_t *buf;
	size_t size;
};

static inline void fz_patched_template(const uint8_t *data, size_t size,
				       const struct fz_tmpl *tmpl, size_t ntmpl,
				       void (*run)(const uint8_t *, size_t))
{
	if (!size)
		return;
	size_t pick = data[0];
	if (pick >= ntmpl) {
		run(data + 1, size - 1);
		return;
	}
	size_t n = tmpl[pick].size;
	uint8_t *f = malloc(n);
	if (!f)
		return;
	memcpy(f, tmpl[pick].buf, n);
	for (size_t i = 1; i + 5 <= size;) {
		uint32_t off;
		memcpy(&off, data + i, 4);
		size_t len = data[i + 4];
		i += 5;
		for (size_t k = 0; k < len && i < size; k++, i++)
			f[(off + k) % n] = data[i];
	}
	run(f, n);
	free(f);
}

#endif
