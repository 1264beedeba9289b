#!/usr/bin/env bash
# `uebpf btf dump file X [format raw|c]` against bpftool, the reference:
#  - raw format must be byte-identical to `bpftool btf dump file X` on the kernel's BTF,
#    on Debian's xdp-tools objects, on an object using every BTF kind clang 14 emits, and
#    on a hand-made blob with ENUM64 and odd encodings;
#  - format c must compile (gcc and clang), and every struct/union size and member offset
#    it declares must equal what bpftool's raw dump says (static asserts generated from it);
#  - -j gives the same JSON as `bpftool -j btf dump file` (compared parsed);
#  - bad input fails with exit 1 and a message.
# Skips (with a message) what needs bpftool or clang when they are absent.
set -u
. "$(dirname "$0")/lib.sh"

# same_raw NAME FILE: our raw dump equals bpftool's, byte for byte.
same_raw() {
	"$U" btf dump file "$2" >mine.txt 2>mine.err || { echo "  uebpf failed: $(head -3 mine.err)"; return 1; }
	bpftool btf dump file "$2" >ref.txt 2>/dev/null || { echo "  bpftool failed on $2"; return 1; }
	cmp -s mine.txt ref.txt || { diff mine.txt ref.txt | head -10 | sed 's/^/    /'; return 1; }
}

# layout_asserts RAWDUMP: _Static_asserts of sizes and member offsets of every uniquely
# named struct/union (bit-fields and anonymous members skipped: offsetof cannot name them).
layout_asserts() {
	awk '
	/^\[[0-9]+\] (STRUCT|UNION|ENUM|ENUM64|FWD) / { n = $3; gsub("\047", "", n); tags[n]++ }
	{ lines[NR] = $0 }
	END {
		cur = "";
		for (i = 1; i <= NR; i++) {
			l = lines[i];
			if (l ~ /^\[[0-9]+\] (STRUCT|UNION) \047[^(]/) {
				split(l, f, " "); n = f[3]; gsub("\047", "", n);
				kind = (f[2] == "STRUCT") ? "struct" : "union";
				sz = f[4]; sub("size=", "", sz);
				if (tags[n] > 1) { cur = ""; continue }
				cur = kind " " n;
				print "_Static_assert(sizeof(" cur ") == " sz ", \"" cur "\");";
			} else if (l ~ /^\[/) {
				cur = "";
			} else if (cur != "" && l ~ /^\t\047/ && l !~ /bitfield_size/) {
				split(l, f, " "); m = f[1]; gsub("[\t\047]", "", m);
				if (m == "(anon)") continue;
				off = f[3]; sub("bits_offset=", "", off);
				print "_Static_assert(__builtin_offsetof(" cur ", " m ") == " off " / 8, \"" cur "." m "\");";
			}
		}
	}' "$1"
}

# same_json FILE: our -j dump equals bpftool's, compared as parsed JSON.
same_json() {
	"$U" -j btf dump file "$1" >mine.json 2>/dev/null || return 1
	bpftool -j btf dump file "$1" >ref.json 2>/dev/null || return 1
	python3 -c 'import json,sys; a=json.load(open("mine.json")); b=json.load(open("ref.json")); sys.exit(a != b)'
}

# c_compiles NAME FILE: format c output compiles with gcc and clang, and its layout holds.
c_compiles() {
	"$U" btf dump file "$2" format c >"$1.h" 2>c.err || { head -3 c.err; return 1; }
	bpftool btf dump file "$2" >"$1.raw"
	layout_asserts "$1.raw" >"$1.asserts.h"
	printf '#include "%s.h"\n#include "%s.asserts.h"\n' "$1" "$1" >"$1.c"
	gcc -fsyntax-only -w "$1.c" 2>"$1.gcc" || { head -5 "$1.gcc" | sed 's/^/    /'; return 1; }
	if command -v clang >/dev/null; then
		clang -fsyntax-only -w "$1.c" 2>"$1.clang" || { head -5 "$1.clang" | sed 's/^/    /'; return 1; }
	fi
}

# A BPF object with every kind clang 14 emits: bit-fields, unions, anonymous members,
# enums (signed, unsigned, packed), float, function pointers, const/volatile/restrict,
# forward declarations, arrays of arrays, decl and type tags, typedef chains, globals.
cat >kinds.c <<'EOF'
typedef unsigned int u32;
typedef u32 my_u32;
struct fwd_only;
union fwd_union;
enum color { RED = 0, GREEN = 5, BLUE = -1 };
enum __attribute__((packed)) small { S1 = 1, S2 = 200 };
enum big { HUGE = 0xffffffff };
struct bits {
	unsigned int a: 3, b: 5;
	int c: 7;
	unsigned long long d: 40;
	enum small e: 4;
	char tail;
};
struct nested {
	int x;
	union { int y; float f; struct { short s1, s2; }; };
	struct bits bf;
	double d;
	const volatile char *restrict p;
	int (*fn)(struct fwd_only *, union fwd_union *, ...);
	void (*arr_fn[2])(void);
	int matrix[3][4];
	int (*pmatrix)[4];
	my_u32 tagged __attribute__((btf_decl_tag("user")));
	int __attribute__((btf_type_tag("percpu"))) *tp;
	struct nested *self;
	char flex[];
} __attribute__((aligned(16)));
struct __attribute__((packed)) pk { char c; int i; long l; };
struct holes { char c; long l __attribute__((aligned(32))); };
typedef struct { int anon_a; } anon_t;
typedef int (*cb_t)(anon_t *, enum color);
struct nested g_nested;
struct pk g_pk;
struct holes g_holes;
anon_t g_anon;
cb_t g_cb;
enum big g_big;
const int g_const = 3;
__attribute__((section("prog"), used)) int f(struct nested *n) { return n->x; }
EOF

have_bpftool=1
command -v bpftool >/dev/null || have_bpftool=0
have_clang=1
command -v clang >/dev/null || have_clang=0
[ $have_clang = 1 ] && ! clang -O2 -g -target bpf -c kinds.c -o kinds.o 2>clang.err && have_clang=0

# A raw blob by hand (python3): ENUM64 signed and unsigned, an enum with kflag, a CHAR and
# a BOOL int, an int with a bit offset, a FLOAT, FWD union, VAR static/extern, FUNC extern.
python3 - <<'EOF'
import struct
strs = b"\0"
def s(x):
    global strs
    off = len(strs); strs += x.encode() + b"\0"; return off
types = b""
def t(name, kind, vlen, kflag, size_or_type, extra=b""):
    global types
    types += struct.pack("<III", s(name) if name else 0, kflag << 31 | kind << 24 | vlen, size_or_type) + extra
t("e64", 19, 2, 1, 8, struct.pack("<III", s("NEG"), 0xffffffff, 0xffffffff) + struct.pack("<III", s("BIG"), 5, 1))
t("u64", 19, 1, 0, 8, struct.pack("<III", s("TOP"), 0, 0x80000000))
t("se", 6, 1, 1, 4, struct.pack("<Ii", s("M"), -7))
t("ch", 1, 0, 0, 1, struct.pack("<I", 2 << 24 | 8))
t("bo", 1, 0, 0, 1, struct.pack("<I", 4 << 24 | 1))
t("odd", 1, 0, 0, 4, struct.pack("<I", 0 << 24 | 3 << 16 | 5))
t("fl", 16, 0, 0, 8)
t("fu", 7, 0, 1, 0)
t("v", 14, 0, 0, 3, struct.pack("<I", 0))
t("ve", 14, 0, 0, 3, struct.pack("<I", 2))
t(None, 13, 0, 0, 3)
t("fx", 12, 0, 0, 11)
t("fe", 12, 2, 0, 11)
hdr = struct.pack("<HBBIIIII", 0xeb9f, 1, 0, 24, 0, len(types), len(types), len(strs))
open("hand.btf", "wb").write(hdr + types + strs)
open("trunc.btf", "wb").write((hdr + types + strs)[:40])
# loops that only pointers and function prototypes allow: PTR -> itself, a prototype
# returning a pointer to itself, a typedef of a pointer to itself
strs = b"\0"; types = b""
t(None, 2, 0, 0, 1)
t(None, 13, 0, 0, 3)
t(None, 2, 0, 0, 2)
t("selfp", 8, 0, 0, 5)
t(None, 2, 0, 0, 4)
t("s", 4, 2, 0, 16, struct.pack("<III", s("p"), 1, 0) + struct.pack("<III", s("f"), 3, 64))
hdr = struct.pack("<HBBIIIII", 0xeb9f, 1, 0, 24, 0, len(types), len(types), len(strs))
open("loop.btf", "wb").write(hdr + types + strs)
EOF

if [ $have_bpftool = 1 ]; then
	if [ -r /sys/kernel/btf/vmlinux ]; then
		ok raw-vmlinux same_raw vmlinux /sys/kernel/btf/vmlinux
		ok c-vmlinux c_compiles vmlinux /sys/kernel/btf/vmlinux
		ok json-vmlinux same_json /sys/kernel/btf/vmlinux
	else
		skipped "no /sys/kernel/btf/vmlinux"
	fi
	n=0
	for o in /usr/lib/x86_64-linux-gnu/bpf/*.o; do
		[ -e "$o" ] || continue
		ok "raw-$(basename "$o")" same_raw obj "$o"
		n=$((n + 1))
	done
	[ $n = 0 ] && skipped "no Debian BPF objects in /usr/lib/x86_64-linux-gnu/bpf"
	if [ $have_clang = 1 ]; then
		ok raw-kinds same_raw kinds kinds.o
		ok json-kinds same_json kinds.o
		ok c-kinds c_compiles kinds kinds.o
	else
		skipped "clang cannot compile BPF here"
	fi
	ok raw-hand same_raw hand hand.btf
	ok json-hand same_json hand.btf
	ok json-xdp-dispatcher same_json /usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o
else
	skipped "bpftool absent: raw format not compared"
fi

# format c of the hand-made blob: enum64 constants and the mode attribute compile.
ok c-hand bash -c "'$U' btf dump file hand.btf format c >hand.h && gcc -fsyntax-only -w -x c hand.h"

# Bad input and the command line.
out=$("$U" btf dump file trunc.btf 2>&1); rc=$?
ok trunc-fails test $rc -eq 1
ok trunc-msg grep -q "Error: trunc.btf: cannot read BTF" <<<"$out"
ok trunc-offset grep -q "offset" <<<"$out"
out=$("$U" btf dump file loop.btf format c 2>&1); rc=$?
ok loop-c-fails test $rc -eq 1
ok loop-c-msg grep -q "deeper than C can be written" <<<"$out"
"$U" btf dump file loop.btf >/dev/null 2>&1; ok loop-raw test $? -eq 0
out=$("$U" btf dump file /nonexistent 2>&1); rc=$?
ok missing-file test $rc -eq 1
out=$("$U" btf dump 2>&1); rc=$?
ok usage-no-file test $rc -eq 2
out=$("$U" btf dump file hand.btf format xml 2>&1); rc=$?
ok usage-bad-format test $rc -eq 2
out=$("$U" btf dump file hand.btf bogus 2>&1); rc=$?
ok usage-bogus test $rc -eq 2
ok help bash -c "'$U' btf help | grep -q 'btf dump file FILE'"
ok json bash -c "'$U' -j btf dump file hand.btf | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"types\"][0][\"kind\"]==\"ENUM64\" and d[\"types\"][3][\"name\"]==\"ch\"'"

finish btf_dump
