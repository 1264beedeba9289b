/*
 * Permissions of pinned maps, with a real second user.
 *
 * As root, the test adds a throwaway system user (useradd; removed at exit), pins maps under
 * a fresh pin root that everyone may traverse, and runs checks as that user in a forked
 * child that has dropped to the user's uid and gid (setgid/setuid). Expectations are the
 * kernel's rules for bpffs pins (a pin is 0600 by default; bpf_obj_get needs read and
 * write permission on the file, read only with BPF_F_RDONLY; a read-only fd cannot update)
 * plus uebpf's own rule for pins it will not trust (docs/security.md): a file another
 * non-root user owns and lets others write is refused, even to root.
 * Skips with a message when not root or when useradd is missing.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "ut.h"

static char root[128], user[32];
static uid_t uid;
static gid_t gid;
static int have_user;

static void cleanup(void)
{
	char cmd[256];

	if (root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", root);
	}
	if (have_user) {
		snprintf(cmd, sizeof(cmd), "userdel %s 2>/dev/null", user);
		if (system(cmd))
			fprintf(stderr, "cannot remove user %s\n", user);
	}
}

__attribute__((constructor)) static void setup(void)
{
	char cmd[256];

	if (geteuid() != 0 || access("/usr/sbin/useradd", X_OK))
		return;
	snprintf(root, sizeof(root), "/dev/shm/uebpf-test-perm-XXXXXX");
	if (!mkdtemp(root)) {
		root[0] = '\0';
		return;
	}
	chmod(root, 0755);	/* the other user may look up pins, not add them */
	setenv("UEBPF_PIN_ROOT", root, 1);
	atexit(cleanup);
	snprintf(user, sizeof(user), "uebpft%d", (int)getpid() % 100000);
	snprintf(cmd, sizeof(cmd),
		 "useradd -r -M -N -s /usr/sbin/nologin %s >/dev/null 2>&1", user);
	if (system(cmd))
		return;
	have_user = 1;
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return;
	uid = pw->pw_uid;
	gid = pw->pw_gid;
}

static int ready(void)
{
	if (geteuid() != 0) {
		ut_skip("not root: cannot add a second user");
		return 0;
	}
	if (!have_user || !uid) {
		ut_skip("useradd failed: no second user");
		return 0;
	}
	return 1;
}

/* Runs fn(arg) as the second user in a child; returns its exit code (0: all as expected). */
static int as_user(int (*fn)(const char *), const char *arg)
{
	fflush(NULL);	/* a child must not repeat what is buffered */
	pid_t pid = fork();

	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid) || !getuid())
			_exit(100);
		_exit(fn(arg));
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int make_pinned(const char *name, unsigned mode, uint64_t value)
{
	uint32_t k = 1;
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "perm", 4, 8, 4, NULL);

	if (fd < 0 || bpf_map_update_elem(fd, &k, &value, BPF_ANY))
		return -1;
	int err = mode ? uebpf_obj_pin_mode(fd, name, mode) : bpf_obj_pin(fd, name);
	close(fd);
	return err;
}

static mode_t mode_of(const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", root, name);
	return stat(p, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

/* ---- what the second user does (exit code: 0 as expected, else which check failed) ---- */

static int user_denied(const char *name)
{
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);

	if (bpf_obj_get(name) != -EACCES)
		return 1;
	if (bpf_obj_get_opts(name, &ro) != -EACCES)
		return 2;
	return 0;
}

static int user_read_only(const char *name)
{
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
	uint32_t k = 1;
	uint64_t v = 0, nv = 7;

	if (bpf_obj_get(name) != -EACCES)
		return 1;	/* no write permission: no read-write fd */
	int fd = bpf_obj_get_opts(name, &ro);
	if (fd < 0)
		return 2;
	if (bpf_map_lookup_elem(fd, &k, &v) || v != 0x644)
		return 3;
	if (bpf_map_update_elem(fd, &k, &nv, BPF_ANY) != -EPERM)
		return 4;	/* a read-only fd cannot change the map */
	if (bpf_map_delete_elem(fd, &k) != -EPERM)
		return 5;
	return 0;
}

static int user_read_write(const char *name)
{
	uint32_t k = 1;
	uint64_t v = 0, nv = 0xbeef;
	int fd = bpf_obj_get(name);

	if (fd < 0)
		return 1;
	if (bpf_map_lookup_elem(fd, &k, &v) || v != 0x666)
		return 2;
	if (bpf_map_update_elem(fd, &k, &nv, BPF_ANY))
		return 3;
	return 0;
}

/* The user's own map, made writable by anyone: the user (its owner) may open it. */
static int user_own_open(const char *path)
{
	int fd = bpf_obj_get(path);
	return fd >= 0 ? 0 : 1;
}

/* ---- tests ---- */

UT_TEST(pin_default_mode_0600)
{
	if (!ready())
		return;
	UT_CHECK(!make_pinned("m600", 0, 0x600), "pin");
	UT_CHECK_EQ(mode_of("m600"), 0600);
	int rc = as_user(user_denied, "m600");
	UT_CHECK(rc == 0, "second user on a 0600 pin: check %d failed (want EACCES)", rc);
}

UT_TEST(pin_mode_0644_read_only_for_others)
{
	if (!ready())
		return;
	UT_CHECK(!make_pinned("m644", 0644, 0x644), "pin with mode 0644");
	UT_CHECK_EQ(mode_of("m644"), 0644);
	int rc = as_user(user_read_only, "m644");
	UT_CHECK(rc == 0, "second user on a 0644 pin: check %d failed", rc);
}

UT_TEST(pin_mode_0666_others_may_change)
{
	uint32_t k = 1;
	uint64_t v = 0;

	if (!ready())
		return;
	UT_CHECK(!make_pinned("m666", 0666, 0x666), "pin with mode 0666");
	UT_CHECK_EQ(mode_of("m666"), 0666);
	int rc = as_user(user_read_write, "m666");
	UT_CHECK(rc == 0, "second user on a 0666 pin: check %d failed", rc);
	int fd = bpf_obj_get("m666");	/* owned by root: root trusts it */
	UT_CHECK(fd >= 0, "root opens its own 0666 pin: %d", fd);
	UT_CHECK(!bpf_map_lookup_elem(fd, &k, &v) && v == 0xbeef,
		 "root sees the second user's update: 0x%llx", (unsigned long long)v);
	close(fd);
}

UT_TEST(pin_mode_bad_bits)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "perm", 4, 8, 1, NULL);

	UT_CHECK(fd >= 0, "create");
	UT_CHECK_EQ(uebpf_obj_pin_mode(fd, "msetuid", 04600), -EINVAL);
	UT_CHECK_EQ(uebpf_obj_pin_mode(-1, "mbadfd", 0600), -EINVAL);
	close(fd);
}

UT_TEST(pin_of_other_user_writable_by_others_refused)
{
	char p[256];

	if (!ready())
		return;
	UT_CHECK(!make_pinned("mowned", 0666, 0x666), "pin");
	snprintf(p, sizeof(p), "%s/mowned", root);
	UT_CHECK(!chown(p, uid, gid), "chown to the second user");
	int fd = bpf_obj_get("mowned");
	UT_CHECK(fd == -EACCES, "root opens a pin another user owns and anyone may write: %d", fd);
	UT_CHECK_STR(uebpf_last_error(), "writable by anyone");
	int rc = as_user(user_own_open, "mowned");
	UT_CHECK(rc == 0, "its owner opens it: check %d failed", rc);
	/* Only its owner writing: root may open it. */
	UT_CHECK(!chmod(p, 0600), "chmod");
	fd = bpf_obj_get("mowned");
	UT_CHECK(fd >= 0, "root opens a 0600 pin of another user: %d", fd);
	if (fd >= 0)
		close(fd);
}

UT_TEST(pin_in_world_writable_dir_refused)
{
	char dir[256];

	if (!root[0]) {
		ut_skip("no pin root");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/open", root);
	UT_CHECK(!mkdir(dir, 0777) && !chmod(dir, 0777), "mkdir");
	UT_CHECK(!make_pinned("open/m", 0, 1), "pin");
	int fd = bpf_obj_get("open/m");
	UT_CHECK(fd == -EACCES, "a pin in a directory anyone may write: %d", fd);
	UT_CHECK_STR(uebpf_last_error(), "sticky");
	UT_CHECK(!chmod(dir, 01777), "chmod +t");
	fd = bpf_obj_get("open/m");
	UT_CHECK(fd >= 0, "with the sticky bit: %d", fd);
	if (fd >= 0)
		close(fd);
}
