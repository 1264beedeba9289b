#!/usr/bin/env bash
# The main demo (make demo): a tour of uebpf from the command line.
# Usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
U="$BUILD/bin/uebpf"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "Assemble a program (bpf_conformance syntax) and disassemble it (kernel syntax)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
show "$U" asm examples/asm/fib.s -o "$tmp/fib.o"
show "$U" disasm "$tmp/fib.o"

step "Run it: the 50th Fibonacci number, in the interpreter and in the x86-64 JIT"
show "$U" run --raw "$tmp/fib.o" --interp
show "$U" run --raw "$tmp/fib.o" --jit

step "A program over data: the sum of the bytes 01 02 03 fa"
show "$U" run --raw examples/asm/sum.s --mem "01 02 03 fa"
show "$U" -j run --raw examples/asm/sum.s --mem "01 02 03 fa"

step "An unsafe program: reads past its memory, stopped with a clear error"
show "$U" run --raw examples/asm/oob.s --mem "01 02 03 04" || true

step "Malformed bytecode is refused before it runs"
printf '\xff\x00\x00\x00\x00\x00\x00\x00' > "$tmp/bad.o"
show "$U" run --raw "$tmp/bad.o" || true

# From here on, C programs compiled by clang for the kernel, loaded unchanged. Pins go to
# a pin root of the demo's own, removed at the end.
export UEBPF_PIN_ROOT="$tmp/pins"
mkdir -p "$UEBPF_PIN_ROOT"
E="$BUILD/examples"
FW="$E/xdp_firewall/xdp_firewall"

step "An XDP firewall written in C (examples/xdp_firewall): load it, verified and JIT-compiled"
show "$U" object show "$FW.bpf.o"
show "$U" prog load "$FW.bpf.o" demo/fw
show "$U" prog show pinned demo/fw

step "Block source 10.0.0.66 and destination ports 23 and 445 (0x01bd), in its hash maps"
show "$U" map update pinned demo/fw.maps/blocked_src key 10 0 0 66 value 1
show "$U" map update pinned demo/fw.maps/blocked_port key 23 0 value 1
show "$U" map update pinned demo/fw.maps/blocked_port key hex bd 01 value 1
show "$U" map dump pinned demo/fw.maps/blocked_port

step "Generate a capture file (20 packets) and run the firewall over it"
show "$FW" "$FW.bpf.o" --write-pcap "$tmp/traffic.pcap"
show "$U" prog run pinned demo/fw --pcap "$tmp/traffic.pcap" --out "$tmp/passed.pcap"

step "The per-verdict counters it kept (per-CPU array: 1 = XDP_DROP, 2 = XDP_PASS)"
show "$U" map dump pinned demo/fw.maps/verdicts

step "An unsafe C program (examples/unsafe): reads the packet without a bounds check"
show "$U" prog load "$E/unsafe/unsafe.bpf.o" demo/unsafe || echo "(refused, as the kernel refuses it)"

step "The other examples, each checking its own results"
for ex in count_pid tc_rewrite sockfilter ringbuf_events tail_calls; do
	"$E/$ex/$ex" "$E/$ex/$ex.bpf.o" | tail -n 1
done
echo
echo "demo finished"
