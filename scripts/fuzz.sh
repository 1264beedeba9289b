#!/usr/bin/env bash
# Runs the libFuzzer targets: scripts/fuzz.sh FUZZ_DIR SECONDS [TARGET...]
#   FUZZ_DIR  where `make fuzz-bins` put them ($(BUILD)/fuzz); work goes to FUZZ_DIR/work/TARGET
#   SECONDS   per target (-max_total_time)
#   TARGET    fuzz_asm ... (default: every FUZZ_DIR/fuzz_* executable)
# Each target keeps its corpus between runs (FUZZ_DIR/work/TARGET/corpus) and starts from
# seeds made now from the repository's data (examples, ../shared conformance and verifier
# vectors, files the target writes itself): nothing generated lives in the source tree.
# A crash is saved as FUZZ_DIR/work/TARGET/crash-* (reproduce: FUZZ_DIR/TARGET FILE).
# Totals per target accumulate in FUZZ_DIR/work/hours.tsv. Last line: "fuzz: N passed, N failed".
set -u
dir=${1:?usage: scripts/fuzz.sh FUZZ_DIR SECONDS [TARGET...]}
secs=${2:?usage: scripts/fuzz.sh FUZZ_DIR SECONDS [TARGET...]}
shift 2
dir=$(cd "$dir" && pwd) || exit 1	# absolute: fuzz_cli works in a directory of its own
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${UEBPF_SHARED:-$top/../shared}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for b in "$dir"/fuzz_*; do [ -x "$b" ] && targets+=("$(basename "$b")"); done
fi

# Seeds from JSON lines: "asm" texts, or "insns" hex as raw bytes after a prefix byte.
jsonl_seeds() {	# FILE OUTDIR MODE(asm|insns|vinsns|jit)
	[ -f "$1" ] || return 0
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys, os
src, out, mode = sys.argv[1:4]
types = {"BPF_PROG_TYPE_XDP": 0, "BPF_PROG_TYPE_SOCKET_FILTER": 1, "BPF_PROG_TYPE_SCHED_CLS": 2}
for n, line in enumerate(open(src)):
    t = json.loads(line)
    if mode == "asm":
        data = t.get("asm", "").encode()
    elif mode == "insns":
        data = bytes.fromhex(t.get("insns", ""))
    elif mode == "vinsns":	# fuzz_verifier: program type byte, then the instructions
        data = bytes([types.get(t.get("prog_type"), 3)]) + bytes.fromhex(t.get("insns", ""))
    else:			# fuzz_jit: memory length, memory, then the instructions
        mem = bytes.fromhex(t.get("mem", ""))[:255]
        data = bytes([len(mem)]) + mem + bytes.fromhex(t.get("insns", ""))
    if data:
        open(os.path.join(out, "%s-%d" % (mode, n)), "wb").write(data)
PY
}

seed() {	# TARGET OUTDIR
	local t=$1 out=$2 conf=$shared/conformance/tests.jsonl ver=$shared/verifier-tests/tests.jsonl
	case $t in
	fuzz_asm)
		cp "$top"/examples/asm/*.s "$out"/ 2>/dev/null
		jsonl_seeds "$conf" "$out" asm; jsonl_seeds "$conf" "$out" insns ;;
	fuzz_verifier)
		jsonl_seeds "$ver" "$out" vinsns; jsonl_seeds "$conf" "$out" vinsns ;;
	fuzz_jit)
		jsonl_seeds "$conf" "$out" jit ;;
	fuzz_cli)	# command lines, arguments separated by NUL; files the target provides
		local i=0 line
		while IFS= read -r line; do
			printf '%s' "$line" | tr ' ' '\0' >"$out/line-$i"; i=$((i + 1))
		done <<-'LINES'
		asm prog.s -o out.bin
		disasm prog.bin --syntax conf
		-j disasm prog.bin
		run --raw prog.s --mem 2a0102 --interp
		run --raw prog.bin --mem @mem.bin --jit --repeat 3
		run --raw prog.s --budget 10
		map show
		-j map dump pinned m
		map lookup pinned m key 1 0 0 0
		map update pinned m key 2 0 0 0 value 1 2 3 4 5 6 7 8 any
		map getnext pinned m
		map create m2 type hash key 4 value 8 entries 4 name x
		map create q type queue key 0 value 4 entries 4
		prog show
		prog help
		btf dump file prog.bin
		object show prog.bin
		-p version
		help map
		LINES
		;;
	*)	# the target writes its own seeds (UEBPF_FUZZ_SEEDS) and exits
		UEBPF_FUZZ_SEEDS=$out "$dir/$t" -runs=0 >/dev/null 2>&1 ;;
	esac
}

passed=0 failed=0
for t in "${targets[@]}"; do
	bin=$dir/$t work=$dir/work/$t
	mkdir -p "$work/corpus" "$work/seeds"
	rm -f "$work"/seeds/*
	pin=$(mktemp -d /dev/shm/uebpf-fuzz.XXXXXX)
	export UEBPF_PIN_ROOT=$pin
	seed "$t" "$work/seeds"
	extra=()
	case $t in
	fuzz_cli) extra+=(-close_fd_mask=3) ;;	# the CLI's own output; reports still show
	fuzz_pinned) extra+=(-max_len=8192) ;;
	esac
	# one input may take long where the limit is the verifier's own (1M instructions
	# processed take seconds under the sanitizers; the kernel too takes seconds)
	limit=30
	[ "$t" = fuzz_verifier ] && limit=120
	start=$(date +%s)
	"$bin" -max_total_time="$secs" -timeout=$limit -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$work/" "${extra[@]}" "$work/corpus" "$work/seeds" \
		>"$work/log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	rm -rf "$pin"
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$work/log" | tail -n 1)
	corpus=$(find "$work/corpus" -type f | wc -l)
	printf '%s\t%s\t%s\t%s\n' "$t" "$took" "${execs:-0}" "$(date -u +%FT%TZ)" >>"$dir/work/hours.tsv"
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "$t: ${took}s, ${execs:-0} execs, corpus $corpus, no crash"
	else
		failed=$((failed + 1))
		echo "$t: FAILED (exit $rc) after ${took}s, ${execs:-0} execs; see $work/log:"
		grep -E 'ERROR|fuzz invariant|SUMMARY|Test unit written' "$work/log" | head -n 8
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
