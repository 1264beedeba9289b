#!/usr/bin/env bash
# uebpf map dump / lookup of maps with BTF, against bpftool: tests/tools/map_btf_make.c
# makes the same map (same BTF, same elements) in the kernel (for bpftool) and in uebpf,
# and both tools must print the same bytes in plain text (bpftool's BTF writer), -j (the
# "formatted" member) and -p. Expected output comes from bpftool on the kernel map, run
# side by side. Hash maps are compared through lookups (the kernel's bucket order is its
# own); arrays through dumps.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
U=$(cd "$top" && realpath "$BUILD/bin/uebpf")
MK=$(cd "$top" && realpath "$BUILD/tests/map_btf_make_k")
MU=$(cd "$top" && realpath "$BUILD/tests/map_btf_make_u")
tmp=$(mktemp -d)
export UEBPF_PIN_ROOT=$tmp/pins
K=/sys/fs/bpf/uebpf_cli_map_btf_$$
mkdir -p "$UEBPF_PIN_ROOT"
cleanup() { rm -rf "$tmp"; [ -d "$K" ] && rm -rf "$K"; }
trap cleanup EXIT
pass=0 fail=0 skip=0

# same NAME ARGS...: `bpftool ARGS` on the kernel map and `uebpf ARGS` on the uebpf map
# (the word MAP stands for each side's pin) print the same output and both succeed or both fail
# (bpftool's failing exit codes vary with the errno).
same() {
	local name=$1 k u kr ur
	shift
	k=$(bpftool "${@//MAP/$K/m}" 2>&1); kr=$?
	u=$("$U" "${@//MAP/$UEBPF_PIN_ROOT/m}" 2>&1); ur=$?
	if [ "$k" == "$u" ] && [ $((kr == 0)) -eq $((ur == 0)) ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: bpftool exit $kr, uebpf exit $ur"
		diff <(echo "$k") <(echo "$u") | head -n 20 | sed 's/^/    /'
	fi
}

ok() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $name"; fi
}

if ! command -v bpftool >/dev/null 2>&1; then
	echo "SKIP: no bpftool"; skip=1
elif ! mkdir -p "$K" 2>/dev/null || ! "$MK" "$K/probe" 2 2>/dev/null; then
	echo "SKIP: the kernel refuses bpf() or /sys/fs/bpf here"; skip=1
else
	# type: 1 hash, 2 array, 5 percpu hash, 6 percpu array, 9 lru hash
	for type in 2 6; do
		"$MK" "$K/m" $type && "$MU" "$UEBPF_PIN_ROOT/m" $type || { fail=$((fail + 1)); continue; }
		for o in "" -j -p; do
			same "dump-$type$o" $o map dump pinned MAP
			same "lookup-$type$o" $o map lookup pinned MAP key 1 0 0 0
			same "lookup-zero-$type$o" $o map lookup pinned MAP key 0 0 0 0
		done
		rm -f "$K/m" "$UEBPF_PIN_ROOT/m"
	done
	for type in 1 5 9; do
		"$MK" "$K/m" $type && "$MU" "$UEBPF_PIN_ROOT/m" $type || { fail=$((fail + 1)); continue; }
		for o in "" -j -p; do
			same "lookup-$type$o" $o map lookup pinned MAP key 1 0 0 0
			same "lookup-3-$type$o" $o map lookup pinned MAP key 3 0 0 0
			same "lookup-missing-$type$o" $o map lookup pinned MAP key 2 0 0 0
		done
		# emptied, the dump is an empty BTF array (and no element count)
		bpftool map delete pinned "$K/m" key 1 0 0 0 && bpftool map delete pinned "$K/m" key 3 0 0 0
		"$U" map delete pinned "$UEBPF_PIN_ROOT/m" key 1 0 0 0 && "$U" map delete pinned "$UEBPF_PIN_ROOT/m" key 3 0 0 0
		for o in "" -j -p; do
			same "dump-empty-$type$o" $o map dump pinned MAP
		done
		rm -f "$K/m" "$UEBPF_PIN_ROOT/m"
	done
	rm -f "$K/probe"
fi

# Program tags: the same object loaded by bpftool into the kernel and by uebpf gives the
# same tags (the instructions after relocation, map immediates left out) and gpl marks.
obj="$top/$BUILD/bpf/elf_maps.o"
# elf_maps.o has a map pinned by name: libbpf (in bpftool) pins it in the host's
# /sys/fs/bpf; it is removed afterwards unless it was there before.
had_pin=0; [ -e /sys/fs/bpf/pinned_cnt ] && had_pin=1
if [ $skip -eq 0 ] && [ -f "$obj" ] && bpftool prog loadall "$obj" "$K/em" >/dev/null 2>&1; then
	"$U" prog loadall "$obj" /sys/fs/bpf/em >/dev/null 2>&1 || fail=$((fail + 1))
	for p in tail_target xdp_mim xdp_tail; do
		k=$(bpftool prog show pinned "$K/em/$p" | head -n 1 | sed 's/^[0-9]*: //')
		u=$("$U" prog show pinned "/sys/fs/bpf/em/$p" | head -n 1 | sed 's/^[0-9]*: //')
		if [ -n "$k" ] && [ "$k" == "$u" ]; then pass=$((pass + 1)); else
			fail=$((fail + 1)); echo "FAIL tag-$p: bpftool '$k', uebpf '$u'"; fi
		k=$(bpftool -j prog show pinned "$K/em/$p" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["tag"], d["gpl_compatible"])')
		u=$("$U" -j prog show pinned "/sys/fs/bpf/em/$p" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["tag"], d["gpl_compatible"])')
		if [ -n "$k" ] && [ "$k" == "$u" ]; then pass=$((pass + 1)); else
			fail=$((fail + 1)); echo "FAIL tag-json-$p: bpftool '$k', uebpf '$u'"; fi
	done
	rm -rf "$K/em"
	[ $had_pin -eq 0 ] && rm -f /sys/fs/bpf/pinned_cnt
else
	echo "SKIP program tags: no kernel, bpftool or $obj"
fi

# uebpf only: the map shows its BTF id, which names the BTF; a map without BTF dumps hex.
"$MU" "$UEBPF_PIN_ROOT/m" 2 || fail=$((fail + 1))
ok show-btf-id grep -q "btf_id [1-9]" <("$U" map show pinned "$UEBPF_PIN_ROOT/m")
ok json-btf-id grep -q '"btf_id":[1-9]' <("$U" -j map show pinned "$UEBPF_PIN_ROOT/m")
"$U" map create "$UEBPF_PIN_ROOT/plain" type array key 4 value 4 entries 1 name plain >/dev/null 2>&1
ok plain-hex grep -q "^key: 00 00 00 00  value: 00 00 00 00" <("$U" map dump pinned "$UEBPF_PIN_ROOT/plain")
ok plain-count grep -q "^Found 1 element" <("$U" map dump pinned "$UEBPF_PIN_ROOT/plain")

echo "cli_map_btf: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
