#!/usr/bin/env bash
# The example programs run valgrind-clean: no invalid access, no use of uninitialised
# memory, no leak (valgrind --leak-check=full; any report fails). Each example runs as
# tests/examples.sh runs it (its BPF object as the argument, when it has one) and must
# still print what it prints there ("NAME: ok" for the object examples).
# A child an example forks (count_pid) inherits the parent's heap and _exit()s with it,
# its pointers to it maybe gone from its registers: valgrind would call that a leak. Only
# the examples' own processes are checked: children are silent (--child-silent-after-fork)
# and a report is what valgrind writes to the log, not its exit status (which a child's
# exit status, seen by its parent, would carry).
# Skips when valgrind is absent, and in sanitizer builds (SAN set: ASan and valgrind
# cannot share a process).
set -u
BUILD=${BUILD:-build}
pass=0 fail=0 skip=0
name=valgrind_examples
if ! command -v valgrind >/dev/null 2>&1; then
	echo "skipped: valgrind is not installed"
	echo "$name: 0 passed, 0 failed, 1 skipped"; exit 0
fi
if [ -n "${SAN:-}" ]; then
	echo "skipped: a sanitizer build (SAN=$SAN)"
	echo "$name: 0 passed, 0 failed, 1 skipped"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export UEBPF_PIN_ROOT=$tmp/pins	# maps live in the pin root's file system
mkdir -p "$UEBPF_PIN_ROOT"
for dir in "$BUILD"/examples/*/; do
	ex=$(basename "$dir") bin=$dir$ex
	[ -x "$bin" ] || continue
	args=() want=""
	if [ -f "$bin.bpf.o" ]; then args=("$bin.bpf.o"); want="$ex: ok"; fi
	log=$tmp/$ex.log
	out=$(timeout 600 valgrind -q --leak-check=full \
		--child-silent-after-fork=yes --log-file="$log" \
		"$bin" "${args[@]}" 2>&1)
	rc=$?
	if [ -s "$log" ]; then
		echo "FAIL $ex: valgrind reports (exit $rc):"; head -n 40 "$log"; fail=$((fail + 1))
	elif [ $rc -ne 0 ] || { [ -n "$want" ] && ! grep -qF -- "$want" <<<"$out"; }; then
		echo "FAIL $ex: exit $rc under valgrind; output:"; head -n 20 <<<"$out"
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
done
echo "$name: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
