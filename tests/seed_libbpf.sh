#!/usr/bin/env bash
# The libbpf user-space example of the seed document (../shared/seed/ebpf-programming-model.md,
# section "2. libbpf"), taken from the document as it is, compiled against uebpf's headers,
# linked with -luebpf and run on an object that has a program named "prog_name".
# It must exit 0: the object opens, loads, and the program is found.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${UEBPF_SHARED:-$top/../shared}
seed=$shared/seed/ebpf-programming-model.md
if [ ! -f "$seed" ]; then
	echo "seed_libbpf: 0 passed, 0 failed, 1 skipped (no $seed)"
	exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# The first C block after the "### 2. libbpf" heading, unchanged.
awk '/^### 2\. libbpf/ { sec = 1 } sec && /^```c/ { inb = 1; next } inb && /^```/ { exit }
     inb { print }' "$seed" > "$tmp/seed.c"
grep -q bpf_object__open "$tmp/seed.c" && ok || bad "no libbpf example found in the seed"

# The program it looks for, by name.
cat > "$tmp/prog.bpf.c" <<'BPF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int prog_name(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
BPF
clang -O2 -g -target bpf -I/usr/include/$(cc -print-multiarch) -c "$tmp/prog.bpf.c" -o "$tmp/program.o" \
	&& ok || bad "clang could not build program.o"

# Compiled as a user would (no -Werror: the seed's `int main()` is old-style), linked with
# the shared library.
# Under the sanitizer build the library needs the sanitizer runtimes linked in too.
san=; [ "${SAN:-}" = 1 ] && san="-fsanitize=address,undefined"
if ${CC:-cc} $san -o "$tmp/seed" "$tmp/seed.c" -I"$top/include" -L"$top/$BUILD/lib" -luebpf \
	2> "$tmp/cc.log"; then
	ok
else
	bad "the seed example does not compile against uebpf's headers:"; cat "$tmp/cc.log"
fi
if [ -x "$tmp/seed" ]; then
	(cd "$tmp" && LD_LIBRARY_PATH="$top/$BUILD/lib" ./seed) > "$tmp/run.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] && ok || { bad "the seed example exited $rc:"; cat "$tmp/run.log"; }
fi
echo "seed_libbpf: $pass passed, $fail failed, 0 skipped"
[ $fail -eq 0 ]
