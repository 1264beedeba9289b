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
[ -x scripts/demo-objects.sh ] && scripts/demo-objects.sh "$BUILD"
echo
echo "demo finished"
