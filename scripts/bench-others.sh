#!/bin/sh
# Other eBPF interpreters on bench's programs, next to uebpf's interpreter and JIT.
#
#   UBPF_SRC=/path/to/ubpf scripts/bench-others.sh [BUILD]
#
# UBPF_SRC is a checkout of github.com/iovisor/ubpf (not fetched here: this script never
# downloads anything, and nothing of uBPF is kept in this repository). It is built with
# its own CMake files, gcc -O2, under BUILD/others (default BUILD: build), then
# bench/others/ubpf_bench.c runs the same raw programs (BUILD/bench/progs/*.bin) on the
# same packet and context as `make bench`, timed the same way. Without UBPF_SRC the
# script prints why and exits 0.
#
# UBPF_LIB=/path/libubpf.a skips uBPF's CMake and links that library instead (a tree
# built by hand, e.g. when uBPF's CMake wants submodules that are not there offline);
# UBPF_INC names the directories holding its generated ubpf_config.h (default: the
# library's directory). The headers still come from UBPF_SRC.
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=$BUILD/others
NAMES="parse fnv loop csum"	# "call" needs a helper table; left out

if [ -z "${UBPF_SRC:-}" ]; then
	echo "bench-others: skipped: set UBPF_SRC to a uBPF source tree (github.com/iovisor/ubpf)"
	exit 0
fi
[ -f "$UBPF_SRC/vm/inc/ubpf.h" ] || { echo "bench-others: $UBPF_SRC: no vm/inc/ubpf.h, not a uBPF tree"; exit 1; }
[ -n "${UBPF_LIB:-}" ] || command -v cmake >/dev/null ||
	{ echo "bench-others: skipped: uBPF builds with cmake, not installed"; exit 0; }

make -s BUILD="$BUILD" "$BUILD/bench/bench" $(for n in $NAMES; do printf '%s ' "$BUILD/bench/progs/$n.bin"; done)

mkdir -p "$OUT"
if [ -n "${UBPF_LIB:-}" ]; then
	[ -f "$UBPF_LIB" ] || { echo "bench-others: UBPF_LIB=$UBPF_LIB: no such file"; exit 1; }
	LIB=$UBPF_LIB
	INC=$(for d in ${UBPF_INC:-$(dirname "$UBPF_LIB")}; do printf -- '-I%s ' "$d"; done)
else
	cmake -S "$UBPF_SRC" -B "$OUT/ubpf" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
		-DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DUBPF_ENABLE_TESTS=OFF \
		-DUBPF_ENABLE_INSTALL=OFF >"$OUT/cmake.log" 2>&1 ||
		{ echo "bench-others: uBPF's cmake failed, see $OUT/cmake.log"; exit 1; }
	cmake --build "$OUT/ubpf" --target ubpf -j2 >"$OUT/build.log" 2>&1 ||
		{ echo "bench-others: building uBPF failed, see $OUT/build.log"; exit 1; }
	LIB=$(find "$OUT/ubpf" -name 'libubpf.a' | head -n 1)
	[ -n "$LIB" ] || { echo "bench-others: no libubpf.a under $OUT/ubpf"; exit 1; }
	# ubpf.h includes the generated ubpf_config.h: every directory of the build that holds one.
	INC=$(find "$OUT/ubpf" -name 'ubpf_config.h' -exec dirname {} \; | sort -u | sed 's/^/-I/')
fi
gcc -O2 -Wall -Wextra -I"$UBPF_SRC/vm/inc" -I"$UBPF_SRC/vm" $INC \
	bench/others/ubpf_bench.c "$LIB" -o "$OUT/ubpf_bench"

# uebpf's rows from bench (interp = fast mode, jit), uBPF's from its driver.
"$BUILD/bench/bench" $NAMES >"$OUT/uebpf.txt"
"$OUT/ubpf_bench" "$BUILD/bench/progs" $NAMES >"$OUT/ubpf.txt"
awk -v names="$NAMES" '
	BEGIN { n = split(names, order, " "); for (i = 1; i <= n; i++) want[order[i]] = 1 }
	FNR == NR { if ($1 in want) { kern[$1] = $3; jit[$1] = $4; it[$1] = $5; res[$1] = $NF }; next }
	{ ui[$1] = $2; uj[$1] = $3; ur[$1] = $4 }
	END {
		printf "%-6s %9s %10s %10s %10s %10s %8s  %s\n", "prog", "kernel", "uebpf-int",
		       "ubpf-int", "uebpf-jit", "ubpf-jit", "int/int", "ubpf result"
		for (i = 1; i <= n; i++) { p = order[i]; if (!(p in ui) || !(p in it)) continue
			printf "%-6s %9s %10s %10s %10s %10s %7.2fx  %s %s\n", p, kern[p], it[p],
			       ui[p], jit[p], uj[p], ui[p] / it[p], ur[p],
			       ur[p] == res[p] ? "(= uebpf)" : "(uebpf: " res[p] ")" }
		print "ns per run; int/int: uBPF interpreter / uebpf interpreter (above 1: uebpf faster)"
	}' "$OUT/uebpf.txt" "$OUT/ubpf.txt"
