#!/usr/bin/env bash
# Skeletons: `uebpf gen skeleton` on tests/skel/skel_test.bpf.c gives a header that
#  - compiles warning-free (gcc -Wall -Wextra -Werror, clang, and g++ as C++),
#  - declares the same struct as `bpftool gen skeleton` (maps, progs, links, and the
#    global-data structs field for field, padding included),
#  - drives a loader (tests/skel/skel_user.c) that opens, sets .rodata, loads, runs the
#    program and reads and writes .bss/.data through the skeleton (its own checks);
# and bad command lines or files fail cleanly. Skips without clang.
set -u
. "$(dirname "$0")/lib.sh"
LIB=$(cd "$top" && realpath "$BUILD/lib/libuebpf.a")

# Command-line mistakes need no compiler.
"$U" gen skeleton >/dev/null 2>&1; ok usage-no-file test $? -eq 2
"$U" gen skeleton a.o extra >/dev/null 2>&1; ok usage-extra test $? -eq 2
"$U" gen skeleton /nonexistent.o >/dev/null 2>&1; ok missing-file test $? -eq 1
printf 'not an object' >junk.o
out=$("$U" gen skeleton junk.o 2>&1); rc=$?
ok junk-fails test $rc -eq 1
ok junk-msg grep -q "not an ELF object" <<<"$out"
ok help bash -c "'$U' gen help | grep -q 'gen skeleton FILE'"

multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
if ! clang -O2 -g -target bpf -mcpu=v3 -I"/usr/include/$multiarch" -I"$top/tests/skel" \
	-c "$top/tests/skel/skel_test.bpf.c" -o skel_test.bpf.o 2>clang.err; then
	skip=$((skip + 1))
	echo "SKIP: clang cannot compile BPF here: $(head -2 clang.err)"
	finish
fi

ok gen bash -c "'$U' gen skeleton skel_test.bpf.o >skel_test.skel.h"
ok name-opt bash -c "'$U' gen skeleton skel_test.bpf.o name other | grep -q 'struct other {'"
ok compiles-gcc gcc -Wall -Wextra -Werror -I"$top/include" -I. -I"$top/tests/skel" \
	-c "$top/tests/skel/skel_user.c" -o skel_user.o
ok compiles-clang clang -Wall -Wextra -Werror -I"$top/include" -I. -I"$top/tests/skel" \
	-fsyntax-only "$top/tests/skel/skel_user.c"
printf '#include "skel_test.h"\n#include "skel_test.skel.h"\nint main() { auto *s = skel_test_bpf__open(); skel_test_bpf__destroy(s); return 0; }\n' >cxx.cc
if command -v g++ >/dev/null; then
	ok compiles-cxx g++ -Wall -Wextra -Werror -I"$top/include" -I. -I"$top/tests/skel" -fsyntax-only cxx.cc
fi
libs="-lpthread $(pkg-config --libs libunwind 2>/dev/null || echo -lunwind) $(pkg-config --libs libelf 2>/dev/null || echo -lelf) $(pkg-config --libs libmd 2>/dev/null || echo -lmd) $(pkg-config --libs capstone 2>/dev/null || echo -lcapstone)"
# The library of a sanitizer build needs the sanitizer runtimes at link time.
san=; [ "${SAN:-}" = 1 ] && san="-fsanitize=address,undefined"
# shellcheck disable=SC2086
ok links ${CC:-gcc} $san -o skel_user skel_user.o "$LIB" $libs
out=$(./skel_user 2>&1); rc=$?
echo "$out" | grep FAIL
ok user-program test $rc -eq 0
ok user-checks grep -q "skel_user: 16 passed, 0 failed" <<<"$out"

# The struct bpftool declares (its C++ members aside) is the struct we declare.
struct_of() {	# the "struct NAME {" ... "};" block, without the __cplusplus part
	awk -v n="struct $2 {" '$0 == n { on = 1 } on && /^#ifdef __cplusplus/ { cxx = 1 }
		on && !cxx && NF { print } on && cxx && /^#endif/ { cxx = 0 } on && /^};/ { exit }' "$1"
}
if command -v bpftool >/dev/null && bpftool gen skeleton skel_test.bpf.o >ref.skel.h 2>/dev/null; then
	struct_of ref.skel.h skel_test_bpf >ref.struct
	struct_of skel_test.skel.h skel_test_bpf >mine.struct
	if cmp -s ref.struct mine.struct; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL struct-shape:"
		diff mine.struct ref.struct | head -20
	fi
else
	skip=$((skip + 1))
	echo "SKIP: bpftool gen skeleton unavailable: shape not compared"
fi
finish
