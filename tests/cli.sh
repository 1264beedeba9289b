#!/usr/bin/env bash
# The uebpf command line: every command with good and bad input, checking exit codes
# (0 ok, 1 the request failed, 2 the command line was wrong) and message substrings.
# Expected values are worked out by hand next to each check.
set -u
. "$(dirname "$0")/lib.sh"
X_QUIET=1	# x: nothing on stderr either

hexof() { od -An -v -tx1 "$1" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }

# ---- Raw programs, written byte by byte (8 bytes per instruction, little-endian) ----
# mov r0, 1 (b7, dst 0, imm 1); exit (95)
printf '\xb7\x00\x00\x00\x01\x00\x00\x00\x95\x00\x00\x00\x00\x00\x00\x00' >one.bin
# ldxb r0, [r1+2] (71, src 1 dst 0 -> 0x10, off 2); exit
printf '\x71\x10\x02\x00\x00\x00\x00\x00\x95\x00\x00\x00\x00\x00\x00\x00' >ldx2.bin
# ja -1 (05, off 0xffff): loops forever
printf '\x05\x00\xff\xff\x00\x00\x00\x00' >loop.bin
# an unknown opcode (ff), then exit
printf '\xff\x00\x00\x00\x00\x00\x00\x00\x95\x00\x00\x00\x00\x00\x00\x00' >badop.bin
# lddw r0, 0x1122334455667788 (two slots: imm 0x55667788, then 0x11223344); exit
printf '\x18\x00\x00\x00\x88\x77\x66\x55\x00\x00\x00\x00\x44\x33\x22\x11' >lddw.bin
printf '\x95\x00\x00\x00\x00\x00\x00\x00' >>lddw.bin
head -c 13 one.bin >short.bin
printf 'mov32 %%r0, 7\nexit\n' >seven.s
: >empty.bin
printf '\x0a\x0b\x0c\x0d' >mem4.bin

# ---- help, version, dispatch ----
t help-cmd 0 "Usage: uebpf [OPTIONS] COMMAND" "$U" help
t help-opt 0 "uebpf disasm FILE" "$U" -h
t help-long 0 "uebpf run --raw FILE" "$U" --help
t help-of-cmd 0 "Usage: uebpf asm FILE [-o OUT]" "$U" help asm
t help-prefix 0 "Usage: uebpf disasm FILE" "$U" help dis
t cmd-help 0 "Usage: uebpf run --raw FILE" "$U" run help
t cmd-h 0 "Usage: uebpf disasm FILE" "$U" disasm -h
t version 0 "uebpf v" "$U" version
t version-prefix 0 "uebpf v" "$U" ver
t version-opt 0 "features: interpreter" "$U" -V
t version-json 0 '"version":' "$U" -j version
t version-extra 2 "unexpected argument 'x'" "$U" version x
t no-command 2 "Error: missing command" "$U"
t unknown-command 2 "Error: unknown command 'frob'" "$U" frob
t unknown-command-hint 2 "Try 'uebpf help'." "$U" frob
t unknown-global-long 2 "Error: unknown option '--frob'" "$U" --frob version
t unknown-global-short 2 "Error: unknown option '-x'" "$U" -x version
t empty-command 2 "unknown command ''" "$U" ""

# ---- run --raw with raw instructions ----
x run-raw "0x1" "$U" run --raw one.bin
x run-prefix "0x1" "$U" r --raw one.bin			# "r" is run (first match)
x run-opt-prefix "0x1" "$U" run --ra one.bin		# --ra: only --raw
x run-stdin "0x1" "$U" run --raw - <one.bin
x run-json "{\"retval\":1,\"retval_hex\":\"0x1\"}" "$U" -j run --raw one.bin
x run-json-after "{\"retval\":1,\"retval_hex\":\"0x1\"}" "$U" run --raw one.bin --json
t run-pretty 0 '    "retval": 1,' "$U" run -p --raw one.bin
x run-interp "0x1" "$U" run --raw one.bin --interp
# The JIT is there now; before it was, this printed "JIT not available".
x run-jit "0x1" "$U" run --raw one.bin --jit
t run-two-engines 2 "give one of --interp and --jit" "$U" run --raw one.bin --interp --jit
# --mem: r1 points at 0a 0b 0c 0d, so *(u8 *)(r1 + 2) = 0x0c
x run-mem-hex "0xc" "$U" run --raw ldx2.bin --mem "0a 0b 0c 0d"
x run-mem-hex-0x "0xc" "$U" run --raw ldx2.bin --mem 0x0a0b0c0d
x run-mem-eq "0xc" "$U" run --raw ldx2.bin --mem=0a0b0c0d
x run-mem-file "0xc" "$U" run --raw ldx2.bin --mem @mem4.bin
t run-mem-bad-digit 2 "--mem: 'g' at position 2 is not a hex digit" "$U" run --raw ldx2.bin --mem 0g
t run-mem-odd 2 "odd number of hex digits" "$U" run --raw ldx2.bin --mem 0a0
t run-mem-nofile 1 "Error: nope.bin: No such file or directory" "$U" run --raw ldx2.bin --mem @nope.bin
t run-mem-twice 2 "--mem given twice" "$U" run --raw ldx2.bin --mem 00 --mem 00
# two bytes of memory: byte 2 is one past the end
t run-fault 1 "Error: ldx2.bin: run failed (Bad address): insn 0: invalid load of 1 bytes" \
	"$U" run --raw ldx2.bin --mem "0a 0b"
t run-fault-nomem 1 "insn 0: invalid load of 1 bytes at 0x2" "$U" run --raw ldx2.bin
t run-fault-json 1 '{"error":"ldx2.bin: run failed (Bad address): insn 0: invalid load' \
	"$U" -j run --raw ldx2.bin
# lddw: r0 = 0x1122334455667788
x run-lddw "0x1122334455667788" "$U" run --raw lddw.bin
# budget: ja -1 stops after N instructions, named in the message
t run-budget 1 "insn 0: instruction budget of 100 exhausted" "$U" run --raw loop.bin --budget 100
t run-budget-zero 2 "--budget: 0 is out of range" "$U" run --raw one.bin --budget 0
t run-budget-word 2 "--budget: 'abc' is not a whole number" "$U" run --raw one.bin --budget abc
t run-budget-neg 2 "--budget: '-5' is not a whole number" "$U" run --raw one.bin --budget -5
t run-budget-missing 2 "option '--budget' needs an argument" "$U" run --raw one.bin --budget
x run-budget-enough "0x1" "$U" run --raw one.bin --budget 2	# 2 instructions
t run-budget-short 1 "insn 1: instruction budget of 1 exhausted" "$U" run --raw one.bin --budget 1
# repeat: same r0, and a mean duration
t run-repeat 0 "duration:" "$U" run --raw one.bin --repeat 10
t run-repeat-r0 0 "0x1" "$U" run --raw one.bin --repeat 10
t run-repeat-json 0 '"repeat":10,"duration_ns":' "$U" -j run --raw one.bin --repeat 10
t run-repeat-zero 2 "--repeat: 0 is out of range" "$U" run --raw one.bin --repeat 0
t run-repeat-fault 1 "run 1 of 5 failed" "$U" run --raw ldx2.bin --repeat 5
t run-repeat-ambig 2 "ambiguous option '--r'" "$U" run --raw one.bin --r 3	# --raw, --repeat
# load errors: the log names the instruction
t run-badop 1 "Error: badop.bin: load failed (Invalid argument):" "$U" run --raw badop.bin
t run-badop-log 1 "insn 0 (ff 00 0000 00000000): unknown opcode" "$U" run --raw badop.bin
t run-badop-json 1 '"log":"insn 0 (ff 00 0000 00000000): unknown opcode' \
	"$U" -j run --raw badop.bin
t run-empty 1 "empty program" "$U" run --raw empty.bin
t run-short 1 "Error: short.bin: 13 bytes is not a whole number of instructions" \
	"$U" run --raw short.bin
t run-missing 1 "Error: nope.bin: No such file or directory" "$U" run --raw nope.bin
t run-dir 1 "Error: .: Is a directory" "$U" run --raw .
printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000' >obj.o
t run-elf 1 "Error: obj.o: an ELF object, not raw instructions" "$U" run --raw obj.o
t disasm-elf 1 "Error: obj.o: an ELF object" "$U" disasm obj.o
t run-json-missing 1 '{"error":"nope.bin: No such file or directory"}' \
	"$U" -j run --raw nope.bin
# command-line mistakes
t run-no-raw 2 "give --raw" "$U" run one.bin
t run-no-file 2 "missing FILE" "$U" run --raw
t run-two-files 2 "unexpected argument 'two.bin'" "$U" run --raw one.bin two.bin
t run-unknown-opt 2 "Error: unknown option '--frob'" "$U" run --raw one.bin --frob
t run-unknown-short 2 "Error: unknown option '-z'" "$U" run --raw one.bin -z
t run-flag-arg 2 "option '--raw' takes no argument" "$U" run --raw=yes one.bin
t run-usage-hint 2 "Try 'uebpf run help'." "$U" run --raw one.bin --frob
x run-dashdash "0x1" "$U" run --raw -- one.bin
# -j counts wherever it is, also for a mistake found before it
t run-json-late 2 '{"error":"unknown option '"'"'--frob'"'"'"}' "$U" run --raw one.bin --frob -j
# output that cannot be written is a failure
if [ -w /dev/full ]; then
	t run-full 1 "Error: <stdout>: No space left on device" sh -c "'$U' run --raw one.bin > /dev/full"
	t disasm-full 1 "No space left on device" sh -c "'$U' disasm one.bin > /dev/full"
	t asm-full 1 "No space left on device" sh -c "'$U' asm seven.s > /dev/full"
else
	skip=$((skip + 3)); echo "SKIP *-full: no /dev/full"
fi

# ---- disasm ----
x disasm-raw "$(printf '   0: (b7) r0 = 1\n   1: (95) exit')" "$U" disasm one.bin
x disasm-prefix "$(printf '   0: (b7) r0 = 1\n   1: (95) exit')" "$U" d one.bin
x disasm-stdin "$(printf '   0: (b7) r0 = 1\n   1: (95) exit')" "$U" disasm - <one.bin
x disasm-conf "$(printf '   0: (b7) mov %%r0, 1\n   1: (95) exit')" "$U" disasm one.bin --syntax conf
x disasm-conf-prefix "$(printf '   0: (b7) mov %%r0, 1\n   1: (95) exit')" \
	"$U" disasm one.bin --syn c
x disasm-opcodes "$(printf '   0: (b7) r0 = 1\n       b7 00 00 00 01 00 00 00\n   1: (95) exit\n       95 00 00 00 00 00 00 00')" \
	"$U" disasm one.bin --opcodes
# lddw takes indexes 0 and 1; exit is index 2
t disasm-lddw 0 "   0: (18) r0 = " "$U" disasm lddw.bin
t disasm-lddw-next 0 "   2: (95) exit" "$U" disasm lddw.bin
x disasm-json '[{"index":0,"code":183,"text":"r0 = 1","raw":"b7 00 00 00 01 00 00 00"},{"index":1,"code":149,"text":"exit","raw":"95 00 00 00 00 00 00 00"}]' \
	"$U" -j disasm one.bin
t disasm-json-lddw 0 '"index":2,"code":149' "$U" -j disasm lddw.bin
t disasm-json-lddw-raw 0 '"raw":"18 00 00 00 88 77 66 55 00 00 00 00 44 33 22 11"' \
	"$U" -j disasm lddw.bin
t disasm-json-pretty 0 '        "index": 0,' "$U" -p disasm one.bin
x disasm-empty "" "$U" disasm empty.bin
x disasm-empty-json "[]" "$U" -j disasm empty.bin
t disasm-unknown-op 0 "   0: (ff) " "$U" disasm badop.bin
t disasm-bad-syntax 2 "--syntax: 'intel' is not one of llvm|conf" "$U" disasm one.bin --syntax intel
t disasm-syntax-missing 2 "option '--syntax' needs an argument" "$U" disasm one.bin --syntax
t disasm-short 1 "Error: short.bin: 13 bytes is not a whole number of instructions (8 bytes each)" \
	"$U" disasm short.bin
t disasm-missing 1 "Error: nope.bin: No such file or directory" "$U" disasm nope.bin
t disasm-no-file 2 "missing FILE" "$U" disasm
t disasm-two-files 2 "unexpected argument" "$U" disasm one.bin one.bin

# ---- asm ----
printf '; LLVM syntax\nr0 = 5\nr0 += 2 # comment\nexit\n' >llvm.s
printf 'r0 = 1\nfrobnicate r1\nexit\n' >bad.s
printf 'r0 = 1\n' >falls.s
# mov32 %r0, 7 is b4 00 0000 07000000; exit is 95 00 0000 00000000
t asm-file 0 "" "$U" asm seven.s -o seven.bin
ok asm-bytes [ "$(hexof seven.bin)" == "b4 00 00 00 07 00 00 00 95 00 00 00 00 00 00 00" ]
t asm-stdout 0 "" sh -c "'$U' asm seven.s > seven2.bin"
ok asm-stdout-bytes cmp -s seven.bin seven2.bin
t asm-stdin 0 "" sh -c "'$U' asm - < seven.s > seven3.bin"
ok asm-stdin-bytes cmp -s seven.bin seven3.bin
t asm-o-dash 0 "" sh -c "'$U' asm seven.s -o - > seven4.bin"
ok asm-o-dash-bytes cmp -s seven.bin seven4.bin
t asm-o-cluster 0 "" "$U" asm seven.s -oseven5.bin
ok asm-o-cluster-bytes cmp -s seven.bin seven5.bin
t asm-json 0 '{"file":"seven6.bin","insn_cnt":2,"bytes":16}' "$U" -j asm seven.s -o seven6.bin
x asm-then-disasm "$(printf '   0: (b4) w0 = 7\n   1: (95) exit')" "$U" disasm seven.bin
# an assembly error names FILE:LINE:COL; no output file appears, an old one stays
t asm-error 1 "Error: bad.s:2:1: " "$U" asm bad.s -o bad.bin
ok asm-error-no-output [ ! -e bad.bin ]
cp one.bin keep.bin
t asm-error-keeps 1 "Error: bad.s:2:1" "$U" asm bad.s -o keep.bin
ok asm-error-keeps-old cmp -s one.bin keep.bin
ok asm-no-temp-left [ -z "$(ls | grep '\.tmp')" ]
t asm-stdin-error 1 "Error: <stdin>:2:1" sh -c "'$U' asm - < bad.s > /dev/null"
t asm-missing 1 "Error: nope.s: No such file or directory" "$U" asm nope.s -o x.bin
t asm-no-file 2 "missing FILE" "$U" asm -o x.bin
t asm-o-missing 2 "option '-o' needs an argument" "$U" asm seven.s -o
t asm-out-dir 1 "Error: nodir/x.bin: No such file or directory" "$U" asm seven.s -o nodir/x.bin
# -o /dev/null writes into the device and never replaces it
t asm-dev-null 0 "" "$U" asm seven.s -o /dev/null
ok asm-dev-null-intact [ -c /dev/null ]
# a terminal on stdout gets no binary: -o is required
if command -v script >/dev/null 2>&1; then
	t asm-tty 2 "not writing binary instructions to a terminal" \
		script -qec "'$U' asm seven.s" /dev/null
else
	skip=$((skip + 1)); echo "SKIP asm-tty: no 'script' to make a terminal"
fi

# ---- run --raw with assembly (.s, .asm, or --asm) ----
# mov32 %r0, 7; exit returns 7
x run-asm "0x7" "$U" run --raw seven.s
x run-asm-llvm "0x7" "$U" run --raw llvm.s			# 5 + 2
cp seven.s seven.asm
x run-asm-ext "0x7" "$U" run --raw seven.asm
cp seven.s seven.txt
x run-asm-flag "0x7" "$U" run --raw seven.txt --asm
x run-asm-stdin "0x7" "$U" run --raw --asm - <seven.s
t run-asm-error 1 "Error: bad.s:2:1" "$U" run --raw bad.s
t run-asm-load-error 1 "control falls off the end" "$U" run --raw falls.s
# the examples: fib(50) = 12586269025 = 0x2ee333961; sum of 01 02 03 04 = 10
x run-fib "0x2ee333961" "$U" run --raw "$top/examples/asm/fib.s"
x run-sum "0xa" "$U" run --raw "$top/examples/asm/sum.s" --mem "01 02 03 04"
t run-oob 1 "oob.s: run failed (Bad address): insn 0: invalid load of 1 bytes" \
	"$U" run --raw "$top/examples/asm/oob.s" --mem "01 02 03 04"
# disassembly assembles back to the same bytes, in both syntaxes
for f in fib sum; do
	"$U" asm "$top/examples/asm/$f.s" -o "$f.bin"
	for syn in llvm conf; do
		"$U" disasm "$f.bin" --syntax $syn | sed 's/^ *[0-9]*: ([0-9a-f]*) //' >"$f.$syn.s"
		"$U" asm "$f.$syn.s" -o "$f.$syn.bin" 2>/dev/null
		ok "roundtrip-$f-$syn" cmp -s "$f.bin" "$f.$syn.bin"
	done
done

finish
