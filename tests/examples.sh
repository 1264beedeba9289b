#!/usr/bin/env bash
# Runs the example programs and checks their output against values worked out by hand.
set -u
BUILD=${BUILD:-build}
pass=0 fail=0
check() {	# name, command output, expected substring
	if grep -qF -- "$3" <<<"$2"; then pass=$((pass + 1)); else
		echo "FAIL $1: output lacks '$3'"; echo "$2" | head -20; fail=$((fail + 1)); fi
}
out=$("$BUILD/examples/embed/embed" 2>&1)
# total = price * qty * 9200 / 10000 (fx_rate(1) = 9200); accepted when under 100000:
# 2500*3 = 7500 -> 6900 accept; 99900*2 -> 183816 reject; 50000*2 -> 92000 accept;
# 1*1 -> 0 accept.
check embed "$out" "order 0: 2500 cents x 3 -> accept"
check embed "$out" "order 1: 99900 cents x 2 -> reject"
check embed "$out" "order 2: 50000 cents x 2 -> accept"
check embed "$out" "order 3: 1 cents x 1 -> accept"
echo "examples: $pass passed, $fail failed"
[ $fail -eq 0 ]
