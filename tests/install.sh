#!/usr/bin/env bash
# `make install` into a scratch prefix, then build a program against the installed
# headers, pkg-config file and shared library, and check the library exports only the
# public API (uebpf_* symbols; internal ub_* ones stay hidden).
set -u
BUILD=${BUILD:-build}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if make -s BUILD="$BUILD" install PREFIX=/usr DESTDIR="$tmp" >"$tmp/log" 2>&1; then ok; else bad "make install"; cat "$tmp/log"; fi
for f in usr/include/uebpf/uebpf.h usr/lib/libuebpf.a usr/lib/libuebpf.so usr/lib/libuebpf.so.0 \
	 usr/lib/pkgconfig/uebpf.pc usr/bin/uebpf usr/bin/uebpf-plugin; do
	[ -e "$tmp/$f" ] && ok || bad "missing $f"
done
soname=$(readelf -d "$tmp/usr/lib/libuebpf.so" 2>/dev/null | sed -nE 's/.*SONAME.*\[(.*)\]/\1/p')
[ "$soname" = libuebpf.so.0 ] && ok || bad "SONAME is '$soname', want libuebpf.so.0"
exported=$(nm -D --defined-only "$tmp/usr/lib/libuebpf.so" | awk '$2 ~ /[TDBR]/ {print $3}')
# The public API: uebpf_* and the libbpf-compatible names; internal ub_* must stay hidden.
# close, dup2, dup3 and close_range are libc's, interposed on purpose (src/api/fdcache.c:
# the map commands' fd cache must see fds closed or replaced).
leaked=$(grep -v -E '^(uebpf_|bpf_|libbpf_|btf__|ring_buffer__|ring__|perf_buffer__|_init$|_fini$|close$|close_range$|dup2$|dup3$)' <<<"$exported" | head -5)
[ -z "$leaked" ] && ok || bad "non-public symbols exported: $leaked"
grep -q '^uebpf_prog_new$' <<<"$exported" && ok || bad "uebpf_prog_new not exported"
cat >"$tmp/user.c" <<'C'
#include <stdio.h>
#include <uebpf/uebpf.h>
int main(void)
{
	/* r0 = 40; r0 += 2; exit */
	struct bpf_insn p[] = { { .code = 0xb7, .imm = 40 }, { .code = 0x07, .imm = 2 },
				{ .code = 0x95 } };
	struct uebpf_prog *prog;
	struct uebpf_prog_opts o = { .sz = sizeof(o), .flags = UEBPF_PROG_F_CHECKED };
	if (uebpf_prog_new(p, 3, &o, &prog))
		return 1;
	struct uebpf_run_opts r = { .sz = sizeof(r) };
	int rc = uebpf_prog_run_opts(prog, &r);
	uebpf_prog_free(prog);
	printf("%llu\n", (unsigned long long)r.retval);
	return rc;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR="$tmp" PKG_CONFIG_LIBDIR="$tmp/usr/lib/pkgconfig" pkg-config --cflags --libs uebpf)
san=""
[ "${SAN:-}" = 1 ] && san="-fsanitize=address,undefined"	# the library itself is instrumented
if ${CC:-cc} $san "$tmp/user.c" -o "$tmp/user" $flags 2>"$tmp/cc.log"; then ok; else bad "build against installed uebpf: $(cat "$tmp/cc.log")"; fi
out=$(LD_LIBRARY_PATH="$tmp/usr/lib" "$tmp/user" 2>&1)
[ "$out" = 42 ] && ok || bad "installed program printed '$out', want 42"
echo "install: $pass passed, $fail failed"
[ $fail -eq 0 ]
