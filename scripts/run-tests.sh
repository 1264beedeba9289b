#!/usr/bin/env bash
# Runs every test executable and the conformance suite; prints per-suite lines and a
# closing "N passed, N failed" line. Exits non-zero if anything failed.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
total_p=0 total_f=0 total_s=0
record() {	# parses "...: N passed, N failed[, N skipped]" from a suite's last line
	local line=$1 p f s
	p=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")
	f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
	s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
	total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-1})); total_s=$((total_s + ${s:-0}))
}
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	out=$("$t" 2>&1); rc=$?
	last=$(tail -n 1 <<<"$out")
	[ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 40
	[ $rc -ne 0 ] && ! grep -q ' failed' <<<"$last" && last="$t: 0 passed, 1 failed (exit $rc)"
	echo "$last"
	record "$last"
done
for t in tests/*.sh; do
	[ -x "$t" ] || continue
	out=$(BUILD=$BUILD "$t" 2>&1); rc=$?
	last=$(tail -n 1 <<<"$out")
	[ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 40
	[ $rc -ne 0 ] && ! grep -q ' failed' <<<"$last" && last="$t: 0 passed, 1 failed (exit $rc)"
	echo "$last"
	record "$last"
done
for engine in --interp --jit; do
	out=$(python3 tests/conformance.py "$BUILD/bin/uebpf-plugin" $engine 2>&1)
	last=$(tail -n 1 <<<"$out")
	grep FAIL <<<"$out" | head -20
	echo "$last"
	record "$last"
done
echo
echo "total: $total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
