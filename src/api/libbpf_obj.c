/*
 * The libbpf-compatible object and program API (<bpf/libbpf.h>) over src/obj. Errors
 * follow libbpf 1.x: constructors return NULL with errno set, other calls -errno (and
 * errno); messages go through the print callback (libbpf_set_print).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "obj/bo.h"

/* ---- messages ---- */

static int default_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static libbpf_print_fn_t print_fn = default_print;

libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn)
{
	return __atomic_exchange_n(&print_fn, fn, __ATOMIC_ACQ_REL);
}

bool ub_bo_pr_enabled(void)
{
	return __atomic_load_n(&print_fn, __ATOMIC_ACQUIRE) != NULL;
}

void ub_bo_pr(enum libbpf_print_level level, const char *fmt, ...)
{
	libbpf_print_fn_t fn = __atomic_load_n(&print_fn, __ATOMIC_ACQUIRE);
	va_list ap;
	int saved = errno;	/* printing never changes the errno callers report */

	if (!fn)
		return;
	va_start(ap, fmt);
	fn(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

int libbpf_strerror(int err, char *buf, size_t size)
{
	if (!buf || !size)
		return -(errno = EINVAL);
	err = err < 0 ? -err : err;
	snprintf(buf, size, "%s", strerror(err));
	return 0;
}

long libbpf_get_error(const void *ptr)
{
	return ptr ? 0 : -errno;
}

static int ret_err(int err)
{
	if (err < 0)
		errno = -err;
	return err;
}

/* ---- objects ---- */

struct bpf_object *bpf_object__open_mem(const void *obj_buf, size_t obj_buf_sz,
					const struct bpf_object_open_opts *opts)
{
	return ub_bo_open(obj_buf, obj_buf_sz, NULL, opts);
}

static void *read_file(const char *path, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;
	uint8_t *buf = NULL;

	if (fd < 0 || fstat(fd, &st))
		e = errno;
	else if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		e = EINVAL;		/* a directory, a device, an empty file */
	else if (!(buf = malloc((size_t)st.st_size)))
		e = ENOMEM;
	for (size_t got = 0; buf && got < (size_t)st.st_size;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			free(buf);
			buf = NULL;
		}
		got += n > 0 ? (size_t)n : 0;
	}
	if (fd >= 0)
		close(fd);
	if (!buf) {
		ub_bo_warn("elf: failed to open %s: %s\n", path, strerror(e));
		errno = e;
		return NULL;
	}
	*size = (size_t)st.st_size;
	return buf;
}

struct bpf_object *bpf_object__open_file(const char *path, const struct bpf_object_open_opts *opts)
{
	size_t size = 0;
	void *buf;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	if (!(buf = read_file(path, &size)))
		return NULL;
	struct bpf_object *obj = ub_bo_open(buf, size, path, opts);
	int e = errno;
	free(buf);
	errno = e;
	return obj;
}

struct bpf_object *bpf_object__open(const char *path)
{
	return bpf_object__open_file(path, NULL);
}

int bpf_object__load(struct bpf_object *obj)
{
	return ret_err(obj ? ub_bo_load(obj) : -EINVAL);
}

void bpf_object__close(struct bpf_object *obj)
{
	int e = errno;

	ub_bo_close(obj);
	errno = e;
}

const char *bpf_object__name(const struct bpf_object *obj)
{
	return obj ? obj->name : NULL;
}

unsigned int bpf_object__kversion(const struct bpf_object *obj)
{
	return obj ? obj->kversion : 0;
}

/* ---- programs ---- */

static struct bpf_program *prog_step(const struct bpf_object *obj, const struct bpf_program *p, int dir)
{
	size_t i;

	if (!obj || !obj->nprogs)
		return NULL;
	if (!p)
		i = dir > 0 ? 0 : obj->nprogs - 1;
	else {
		for (i = 0; i < obj->nprogs && obj->progs[i] != p; i++)
			;
		if (i == obj->nprogs || (dir < 0 && i == 0))
			return NULL;
		i += (size_t)dir;
	}
	for (; i < obj->nprogs; i += (size_t)dir)	/* wraps past 0 to a huge index */
		if (!obj->progs[i]->subprog)
			return obj->progs[i];
	return NULL;
}

struct bpf_program *bpf_object__next_program(const struct bpf_object *obj, struct bpf_program *prog)
{
	return prog_step(obj, prog, 1);
}

struct bpf_program *bpf_object__prev_program(const struct bpf_object *obj, struct bpf_program *prog)
{
	return prog_step(obj, prog, -1);
}

struct bpf_program *bpf_object__find_program_by_name(const struct bpf_object *obj, const char *name)
{
	for (size_t i = 0; obj && name && i < obj->nprogs; i++)
		if (!obj->progs[i]->subprog && !strcmp(obj->progs[i]->name, name))
			return obj->progs[i];
	errno = ENOENT;
	return NULL;
}

const char *bpf_program__name(const struct bpf_program *prog)
{
	return prog->name;
}

const char *bpf_program__section_name(const struct bpf_program *prog)
{
	return prog->sec_name;
}

enum bpf_prog_type bpf_program__type(const struct bpf_program *prog)
{
	return (enum bpf_prog_type)prog->type;
}

static int prog_settable(const struct bpf_program *prog)
{
	return prog->obj->loaded ? ret_err(-EBUSY) : 0;
}

int bpf_program__set_type(struct bpf_program *prog, enum bpf_prog_type type)
{
	int err = prog_settable(prog);

	if (!err)
		prog->type = (uint32_t)type;
	return err;
}

enum bpf_attach_type bpf_program__expected_attach_type(const struct bpf_program *prog)
{
	return (enum bpf_attach_type)prog->attach;
}

int bpf_program__set_expected_attach_type(struct bpf_program *prog, enum bpf_attach_type type)
{
	int err = prog_settable(prog);

	if (!err)
		prog->attach = (uint32_t)type;
	return err;
}

bool bpf_program__autoload(const struct bpf_program *prog)
{
	return prog->autoload;
}

int bpf_program__set_autoload(struct bpf_program *prog, bool autoload)
{
	int err = prog_settable(prog);

	if (!err)
		prog->autoload = autoload;
	return err;
}

__u32 bpf_program__flags(const struct bpf_program *prog)
{
	return prog->flags;
}

int bpf_program__set_flags(struct bpf_program *prog, __u32 flags)
{
	int err = prog_settable(prog);

	if (!err)
		prog->flags = flags;
	return err;
}

__u32 bpf_program__log_level(const struct bpf_program *prog)
{
	return prog->log_level;
}

int bpf_program__set_log_level(struct bpf_program *prog, __u32 log_level)
{
	int err = prog_settable(prog);

	if (!err)
		prog->log_level = log_level;
	return err;
}

const char *bpf_program__log_buf(const struct bpf_program *prog, size_t *log_size)
{
	*log_size = prog->log_size;
	return prog->log_buf;
}

int bpf_program__set_log_buf(struct bpf_program *prog, char *log_buf, size_t log_size)
{
	int err = prog_settable(prog);

	if (!err && !!log_buf != !!log_size)
		err = ret_err(-EINVAL);
	if (!err && log_size > UINT32_MAX)
		err = ret_err(-EINVAL);
	if (!err)
		prog->log_buf = log_buf, prog->log_size = log_size;
	return err;
}

const struct bpf_insn *bpf_program__insns(const struct bpf_program *prog)
{
	if (prog->insns)
		return prog->insns;
	return prog->obj->xsecs[prog->xsec].insns + prog->off;
}

size_t bpf_program__insn_cnt(const struct bpf_program *prog)
{
	return prog->insns ? prog->insn_cnt : prog->cnt;
}

int bpf_program__fd(const struct bpf_program *prog)
{
	if (!prog)
		return ret_err(-EINVAL);
	return prog->fd >= 0 ? prog->fd : ret_err(-ENOENT);
}

int bpf_program__pin(struct bpf_program *prog, const char *path)
{
	if (prog->fd < 0) {
		ub_bo_warn("prog '%s': can't pin program that wasn't loaded\n", prog->name);
		return ret_err(-EINVAL);
	}
	int err = bpf_obj_pin(prog->fd, path);
	if (err)
		ub_bo_warn("prog '%s': failed to pin at '%s': %s\n", prog->name, path, strerror(-err));
	return ret_err(err);
}

int bpf_program__unpin(struct bpf_program *prog, const char *path)
{
	if (prog->fd < 0)
		return ret_err(-EINVAL);
	return ret_err(ub_bo_unlink_pin(path));
}

void bpf_program__unload(struct bpf_program *prog)
{
	if (prog && prog->fd >= 0)
		close(prog->fd), prog->fd = -1;
}

struct bpf_link *bpf_program__attach(const struct bpf_program *prog)
{
	ub_bo_warn("prog '%s': attaching (section '%s') is not supported yet by uebpf; "
		   "run the program with bpf_prog_test_run_opts() or the uebpf attach API\n",
		   prog ? prog->name : "?", prog ? prog->sec_name : "?");
	errno = EOPNOTSUPP;
	return NULL;
}

int bpf_link__destroy(struct bpf_link *link)
{
	if (!link)
		return 0;
	return ret_err(-EINVAL);	/* no links exist yet: bpf_program__attach makes none */
}
