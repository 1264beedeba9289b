#!/usr/bin/env bash
# Our disassembler against LLVM 14's on the same bytes, one instruction at a time.
#  1. tests/objdump/*.c compiled with clang -O2 -target bpf (and -mcpu=v3): every line
#     llvm-objdump -d prints, against build/tests/disasm_stdin fed objdump's own hex column.
#  2. sample instructions of every row of ub_ops[] up to ISA v3 (disasm_stdin --samples)
#     against llvm-mc --disassemble, for the forms clang does not emit (LLVM 14 cannot
#     decode BPF_ST, JSET or MOD: those are skipped).
# Last line: "objdump: N passed, N failed". Skips (0 failed) without clang/llvm-objdump.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tool=$BUILD/tests/disasm_stdin

summary() { echo "objdump: $1 passed, $2 failed"; }

if ! command -v clang >/dev/null || ! command -v llvm-objdump >/dev/null; then
	echo "SKIP: clang or llvm-objdump not found"
	summary 0 0
	exit 0
fi
if [ ! -x "$tool" ]; then
	echo "$tool missing: run make BUILD=$BUILD tests"
	summary 0 1
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0

# "hex<TAB>default text<TAB>alu32 text" -> "hex<TAB>text LLVM means", or text SKIP.
normalise() {
	awk -F'\t' '
	{
		hex = $1; llvm = $2; alu32 = $3
		sub(/ <[^ <>]+>$/, "", llvm)		# the jump target symbol, not part of the insn
		split(hex, b, " ")
		src = substr(b[2], 1, 1)		# high nibble of the register byte: src_reg
		off = b[3] b[4]
		imm = b[5] b[6] b[7] b[8]
		# LLVM 14 decodes 32-bit atomics only with +alu32 (without it: <unknown>, or a
		# fetch-add misprinted as a plain lock add); we print its alu32 spelling.
		if (alu32 ~ /^lock \*\(u32 \*\)|= atomic_fetch_[a-z]+\(\(u32 \*\)|xchg32_32\(|cmpxchg32_32\(/)
			llvm = alu32
		# src_reg 1 is a bpf-to-bpf call, which LLVM prints "call N" like a helper call:
		# ours says "call pc+N" so that the text assembles back to the same bytes.
		if (llvm ~ /^call -?[0-9]+$/ && src == "1") {
			n = substr(llvm, 6)
			llvm = "call pc" (n ~ /^-/ ? n : "+" n)
		}
		# src_reg 2 is a kfunc call (by BTF id): likewise ours says "call kfunc N"
		# (LLVM 14 ignores its off, the BTF object: then there is nothing to compare).
		if (llvm ~ /^call -?[0-9]+$/ && src == "2")
			llvm = off == "0000" ? "call kfunc " substr(llvm, 6) : "SKIP"
		# Forms LLVM 14 cannot print faithfully: llvm-mc shows lddw pseudo sources as
		# "ld_pseudo" (objdump shows relocated loads as "r1 = 0 ll"), drops the imm of
		# LD_IND, and takes callx'"'"'s register from imm (LLVM 18 and we use dst).
		if (llvm == "<unknown>" || llvm ~ /^ld_pseudo/ || llvm ~ /^callx/ ||
		    (llvm ~ /skb\[r[0-9]+\]/ && imm != "00000000"))
			llvm = "SKIP"
		print hex "\t" llvm
	}'
}

# Compares "hex<TAB>llvm text" lines of $1 with our disassembly; $2 names the source.
compare() {
	cut -f1 "$1" > "$tmp/hex"
	if ! "$tool" < "$tmp/hex" > "$tmp/ours"; then
		failed=$((failed + 1))
		return
	fi
	local counts
	counts=$(paste "$1" "$tmp/ours" | awk -F'\t' -v name="$2" -v out="$tmp/mismatch" '
		$2 == "SKIP" { s++; next }
		$2 == $3 { p++; next }
		{ f++; printf "MISMATCH %s: %s: LLVM \"%s\", uebpf \"%s\"\n", name, $1, $2, $3 > out }
		END { print p + 0, f + 0, s + 0 }')
	[ -s "$tmp/mismatch" ] && cat "$tmp/mismatch" && rm -f "$tmp/mismatch"
	set -- $counts
	passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + $3))
}

# llvm-objdump -d lines of $1 ($2: extra option) as "hex<TAB>text", in order.
objdump_lines() {
	llvm-objdump -d $2 "$1" | awk -F'\t' '/^ *[0-9]+:\t/ { sub(/ +$/, "", $2); print $2 "\t" $3 }'
}

# --- 1. llvm-objdump on compiled C ---
for src in tests/objdump/*.c; do
	cpus="default -mcpu=v3"
	grep -q 'objdump.sh: -mcpu=v3 only' "$src" && cpus="-mcpu=v3"
	for cpu in $cpus; do
		obj=$tmp/$(basename "$src" .c)$cpu.o
		flag=${cpu#default}
		if ! clang -O2 -target bpf $flag -c "$src" -o "$obj" 2>"$tmp/cc.err"; then
			echo "FAIL: clang $flag $src"; cat "$tmp/cc.err"
			failed=$((failed + 1))
			continue
		fi
		objdump_lines "$obj" "" > "$tmp/d"
		objdump_lines "$obj" --mattr=+alu32 | cut -f2 > "$tmp/a"
		paste "$tmp/d" "$tmp/a" | normalise > "$tmp/pairs"
		compare "$tmp/pairs" "$src $cpu"
	done
done
objdump_passed=$passed

# --- 2. llvm-mc on one sample of every row ---
# llvm-mc skips what it cannot decode and names the input line in a warning, so its
# output lines are matched back to the input lines that decoded.
mc_lines() {	# $1: input (one instruction per line), $2: extra option
	llvm-mc --disassemble -triple=bpfel $2 "$1" 2>"$tmp/mc.err" | grep -v '^[[:space:]]*\.text' |
		sed 's/^[[:space:]]*//' > "$tmp/mc.out"
	awk -v n="$(wc -l < "$1")" '
		FILENAME == ARGV[1] { if (match($0, /:[0-9]+:[0-9]+: warning/)) {
				split(substr($0, RSTART + 1), a, ":"); bad[a[1]] = 1 }
			next }
		{ out[++k] = $0 }
		END { for (i = 1; i <= n; i++) print (i in bad) ? "<unknown>" : out[++j] }
	' "$tmp/mc.err" "$tmp/mc.out"
}
if command -v llvm-mc >/dev/null; then
	"$tool" --samples > "$tmp/samples"
	sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g' "$tmp/samples" > "$tmp/samples.mc"
	mc_lines "$tmp/samples.mc" "" > "$tmp/d"
	mc_lines "$tmp/samples.mc" -mattr=+alu32 > "$tmp/a"
	paste "$tmp/samples" "$tmp/d" "$tmp/a" | normalise > "$tmp/pairs"
	compare "$tmp/pairs" "llvm-mc samples"
else
	echo "SKIP: llvm-mc not found, table samples not compared"
fi

echo "llvm-objdump lines compared: $objdump_passed; llvm-mc samples: $((passed - objdump_passed)); skipped (LLVM 14 cannot print them): $skipped"
summary "$passed" "$failed"
[ "$failed" -eq 0 ]
