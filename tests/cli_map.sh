#!/usr/bin/env bash
# uebpf map ...: bpftool's map commands. The differential part runs every command twice,
# with bpftool on a kernel map and with uebpf on a uebpf map of the same shape, and wants
# the same output byte for byte (stdout and stderr) and the same success or failure:
# expected values come from the kernel, run side by side. /sys/fs/bpf/... paths name the
# kernel's bpffs for bpftool and the pin root ($UEBPF_PIN_ROOT) for uebpf. Hash maps are
# compared as sorted lines (the kernel's bucket order is its own). The rest checks what
# only uebpf has (ids across invocations, names, pinned files) and bad input.
set -u
. "$(dirname "$0")/lib.sh"
export UEBPF_PIN_ROOT=$tmp/pins
K=/sys/fs/bpf/uebpf_cli_map_$$
mkdir -p "$UEBPF_PIN_ROOT/uebpf_cli_map_$$"
cleanup() { rm -rf "$tmp"; [ -d "$K" ] && rm -rf "$K"; }
trap cleanup EXIT

# ---- differential: bpftool on the kernel, uebpf on itself ----
kernel=0
if ! command -v bpftool >/dev/null 2>&1; then
	echo "SKIP differential: no bpftool"
elif ! mkdir -p "$K" 2>/dev/null ||
     ! bpftool map create "$K/probe" type array key 4 value 4 entries 1 name probe 2>/dev/null; then
	echo "SKIP differential: the kernel refuses bpf() or /sys/fs/bpf here"
else
	kernel=1
	rm -f "$K/probe"
fi

# run TOOL SORT ARGS...: "rc=ok|fail", then stdout, then stderr, each sorted if SORT.
run() {
	local tool=$1 sort=$2 rc
	shift 2
	"$tool" "$@" >"$tmp/o" 2>"$tmp/e"; rc=$?
	[ "$rc" -eq 0 ] && echo "rc=ok" || echo "rc=fail"
	if [ "$sort" = 1 ]; then sort "$tmp/o"; else cat "$tmp/o"; fi
	echo "--- stderr"
	cat "$tmp/e"
}

# same NAME ARGS...: bpftool ARGS and uebpf ARGS print the same. same_sorted: as sets of lines.
same_common() {
	local name=$1 sort=$2 k u
	shift 2
	if [ $kernel -eq 0 ]; then
		skip=$((skip + 1))
		return
	fi
	k=$(run bpftool "$sort" "$@")
	u=$(run "$U" "$sort" "$@")
	if [ "$k" == "$u" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: $*"
		diff <(echo "$k") <(echo "$u") | head -n 20 | sed 's/^/    /'
	fi
}
same() { same_common "$1" 0 "${@:2}"; }
same_sorted() { same_common "$1" 1 "${@:2}"; }

M="map"
same create-hash $M create $K/h type hash key 4 value 8 entries 4 name h
same create-array $M create $K/a type array key 4 value 4 entries 3 name a
same create-percpu $M create $K/pa type percpu_array key 4 value 4 entries 2 name pa
same create-percpu-hash $M create $K/ph type percpu_hash key 4 value 12 entries 4 name ph
same create-queue $M create $K/q type queue key 0 value 4 entries 3 name q
same create-stack $M create $K/s type stack key 0 value 4 entries 2 name s
same create-big $M create $K/big type hash key 20 value 40 entries 2 name big
same create-json -j $M create $K/h2 type hash key 4 value 4 entries 1 name h2
same create-prefix $M cr $K/h3 ty hash ke 4 val 4 ent 1 na h3
same create-flags $M create $K/nop type hash key 4 value 4 entries 1 name nop flags 1
same create-exists $M create $K/h type hash key 4 value 8 entries 4 name h
same create-few $M create $K/x type hash key 4
same create-type $M create $K/x type frob key 4 value 4 entries 1 name x
same create-type-twice $M create $K/x type hash type hash key 4 value 4 entries 1 name x
same create-noname $M create $K/x type hash key 4 value 4 entries 1 flags 0
same create-keysize $M create $K/x type hash key x value 4 entries 1 name x
same create-unknown $M create $K/x type hash key 4 value 4 entries 1 name x frob 1
same create-dangling $M create $K/x type hash key 4 value 4 entries 1 name x foo
same create-zero $M create $K/x type hash key 4 value 4 entries 0 name x
same create-array-key $M create $K/x type array key 8 value 4 entries 1 name x

# every map family: the same shapes are accepted or refused, with the same message
n=0
while read -r ty args; do
	n=$((n + 1))
	same create-$ty-$n $M create $K/t$n type $ty $args name t$n
done <<'TYPES'
array key 4 value 8 entries 4
percpu_hash key 8 value 16 entries 4
lru_hash key 4 value 4 entries 16
lru_percpu_hash key 4 value 4 entries 16
lpm_trie key 8 value 4 entries 16 flags 1
lpm_trie key 8 value 4 entries 16
lpm_trie key 3 value 4 entries 16 flags 1
prog_array key 4 value 4 entries 4
prog_array key 4 value 8 entries 4
perf_event_array key 4 value 4 entries 2
stack_trace key 4 value 64 entries 4
stack_trace key 4 value 12 entries 4
queue key 4 value 4 entries 4
stack key 0 value 0 entries 4
ringbuf key 0 value 0 entries 4096
ringbuf key 0 value 0 entries 4097
ringbuf key 4 value 4 entries 4096
bloom_filter key 0 value 4 entries 16
bloom_filter key 4 value 4 entries 16
devmap key 4 value 4 entries 4
devmap_hash key 4 value 8 entries 4
cpumap key 4 value 4 entries 2
xskmap key 4 value 4 entries 4
hash key 0 value 4 entries 4
array key 4 value 0 entries 4
hash key 4 value 4 entries 4 flags 0x80000000
TYPES

# hash: update, lookup, dump, delete, and every mistake in an element
same update $M update pinned $K/h key 1 0 0 0 value 1 2 3 4 5 6 7 8
same update-hex $M update pinned $K/h key hex 02 00 00 00 value hex 0a 0b 0c 0d 0e 0f 10 11
same update-bases $M update pinned $K/h key 0x3 0 0 0 value 010 0 0 0 0 0 0 255
same update-json -j $M update pinned $K/h key 4 0 0 0 value 4 0 0 0 0 0 0 0
same update-exist $M update pinned $K/h key 4 0 0 0 value 5 0 0 0 0 0 0 0 exist
same update-noexist $M update pinned $K/h key 4 0 0 0 value 5 0 0 0 0 0 0 0 noexist
same update-noexist-json -j $M update pinned $K/h key 4 0 0 0 value 5 0 0 0 0 0 0 0 noexist
same update-exist-missing $M update pinned $K/h key 9 0 0 0 value 5 0 0 0 0 0 0 0 exist
same update-flags-first $M update pinned $K/h any key 4 0 0 0 value 6 0 0 0 0 0 0 0
same update-full $M update pinned $K/h key 5 0 0 0 value 5 0 0 0 0 0 0 0
same update-short-key $M update pinned $K/h key 2 0 0 value 0 0 0 0 0 0 0 0
same update-long-key $M update pinned $K/h key 2 0 0 0 0 value 0 0 0 0 0 0 0 0
same update-short-value $M update pinned $K/h key 2 0 0 0 value 0 0 0 0 0 0 0
same update-long-value $M update pinned $K/h key 2 0 0 0 value 0 0 0 0 0 0 0 0 0
same update-bad-byte $M update pinned $K/h key hex 0g 0 0 0 value 0 0 0 0 0 0 0 0
same update-no-value $M update pinned $K/h key 2 0 0 0
same update-no-key $M update pinned $K/h value 2 0 0 0 0 0 0 0
same update-dup-key $M update pinned $K/h key 2 0 0 0 key 2 0 0 0 value 0 0 0 0 0 0 0 0
same update-dup-flags $M update pinned $K/h key 2 0 0 0 value 0 0 0 0 0 0 0 0 any exist
same update-bad-word $M update pinned $K/h key 2 0 0 0 value 0 0 0 0 0 0 0 0 frob
same update-json-error -j $M update pinned $K/h key 2 0 0 value 0 0 0 0 0 0 0 0
same_sorted dump-hash $M dump pinned $K/h
same lookup $M lookup pinned $K/h key 1 0 0 0
same lookup-hex $M lookup pinned $K/h key hex 3 0 0 0
same lookup-json -j $M lookup pinned $K/h key 1 0 0 0
same lookup-pretty -p $M lookup pinned $K/h key 1 0 0 0
same lookup-missing $M lookup pinned $K/h key 9 0 0 0
same lookup-missing-json -j $M lookup pinned $K/h key 9 0 0 0
same lookup-no-key $M lookup pinned $K/h
same lookup-value $M lookup pinned $K/h key 1 0 0 0 value 1 0 0 0 0 0 0 0
same delete $M delete pinned $K/h key 1 0 0 0
same delete-again $M delete pinned $K/h key 1 0 0 0
same delete-json -j $M delete pinned $K/h key 3 0 0 0
same delete-no-key $M delete pinned $K/h
same_sorted dump-after-delete $M dump pinned $K/h
same dump-missing $M dump pinned $K/nope
same dump-missing-json -j $M dump pinned $K/nope
same lookup-bad-ref $M lookup frob $K/h key 1 0 0 0

# array: order is defined, so JSON and pretty output compare whole
same array-update $M update pinned $K/a key 1 0 0 0 value 7 0 0 0
same array-dump $M dump pinned $K/a
same array-dump-json -j $M dump pinned $K/a
same array-dump-pretty -p $M dump pinned $K/a
same array-getnext-first $M getnext pinned $K/a
same array-getnext $M getnext pinned $K/a key 1 0 0 0
same array-getnext-json -j $M getnext pinned $K/a key 0 0 0 0
same array-getnext-first-json -j $M getnext pinned $K/a
same array-getnext-pretty -p $M getnext pinned $K/a
same array-getnext-last $M getnext pinned $K/a key 2 0 0 0
same array-getnext-last-json -j $M getnext pinned $K/a key 2 0 0 0
same array-lookup-out $M lookup pinned $K/a key 3 0 0 0
same array-delete $M delete pinned $K/a key 1 0 0 0
same array-noexist $M update pinned $K/a key 1 0 0 0 value 1 0 0 0 noexist
same array-out-of-range $M update pinned $K/a key 3 0 0 0 value 1 0 0 0
same array-push $M push pinned $K/a value 1 0 0 0

# per-CPU maps: one value per possible CPU, a value given once goes to every CPU
same percpu-update $M update pinned $K/pa key 1 0 0 0 value 7 0 0 0
same percpu-dump $M dump pinned $K/pa
same percpu-dump-json -j $M dump pinned $K/pa
same percpu-dump-pretty -p $M dump pinned $K/pa
same percpu-lookup $M lookup pinned $K/pa key 1 0 0 0
same percpu-hash-update $M update pinned $K/ph key 5 0 0 0 value 1 2 3 4 5 6 7 8 9 10 11 12
same percpu-hash-lookup $M lookup pinned $K/ph key 5 0 0 0
same percpu-hash-json -j $M lookup pinned $K/ph key 5 0 0 0

# wide keys and values: groups of 8, lines of 16 bytes
same big-update $M update pinned $K/big key $(seq 1 20) value $(seq 100 139)
same big-dump $M dump pinned $K/big
same big-lookup-json -j $M lookup pinned $K/big key $(seq 1 20)
same big-getnext $M getnext pinned $K/big

# queue and stack
same queue-push $M push pinned $K/q value 1 0 0 0
same queue-enqueue $M enqueue pinned $K/q value 2 0 0 0
same queue-push-json -j $M push pinned $K/q value 3 0 0 0
same queue-full $M push pinned $K/q value 4 0 0 0
same queue-peek $M peek pinned $K/q
same queue-peek-json -j $M peek pinned $K/q
same queue-dump $M dump pinned $K/q
same queue-pop $M pop pinned $K/q
same queue-dequeue-json -j $M dequeue pinned $K/q
same queue-pop2 $M pop pinned $K/q
same queue-empty $M pop pinned $K/q
same queue-empty-json -j $M pop pinned $K/q
same queue-peek-empty $M peek pinned $K/q
same queue-delete $M delete pinned $K/q key 1 0 0 0
same queue-key $M push pinned $K/q key value 1 0 0 0
same stack-push $M push pinned $K/s value 1 0 0 0
same stack-push2 $M push pinned $K/s value 2 0 0 0
same stack-full $M push pinned $K/s value 3 0 0 0
same stack-pop $M pop pinned $K/s
same stack-pop-pretty -p $M pop pinned $K/s

# freeze, pin, show
same freeze $M freeze pinned $K/a
same freeze-json -j $M freeze pinned $K/nop
same frozen-update $M update pinned $K/a key 1 0 0 0 value 7 0 0 0
same frozen-lookup $M lookup pinned $K/a key 1 0 0 0
same pin $M pin pinned $K/a $K/a2
same pin-dump $M dump pinned $K/a2
same pin-exists $M pin pinned $K/a $K/a2
same pin-no-file $M pin pinned $K/a
t help-unknown 2 "Error: unknown command 'frob'" "$U" map frob

# show: ids and memory differ by nature; the rest of each line is the same
norm_show() { sed -E 's/^[0-9]+: /ID: /; s/memlock [0-9]+B/memlock NB/; /^\tpinned /d' "$@"; }
if [ $kernel -eq 1 ]; then
	for m in h a pa q; do
		bpftool map show pinned $K/$m | norm_show >"$tmp/k"
		"$U" map show pinned $K/$m | norm_show >"$tmp/u"
		if cmp -s "$tmp/k" "$tmp/u"; then pass=$((pass + 1)); else
			fail=$((fail + 1)); echo "FAIL show-$m:"; diff "$tmp/k" "$tmp/u" | sed 's/^/    /'
		fi
	done
	js() { python3 -c 'import json,sys; d=json.load(sys.stdin); [d.pop(k,None) for k in ("id","bytes_memlock","pinned")]; print(json.dumps(d, sort_keys=True))'; }
	k=$(bpftool -j map show pinned $K/a | js); u=$("$U" -j map show pinned $K/a | js)
	if [ "$k" == "$u" ]; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL show-json: $k vs $u"
	fi
else
	skip=$((skip + 5))
fi

# ---- uebpf only: what the kernel has no word for ----
P=$UEBPF_PIN_ROOT/uebpf_cli_map_$$
# Ids: every invocation opens the pinned maps in path order, so an id stays the same.
id_a=$("$U" -j map show pinned $K/a | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
id_a2=$("$U" -j map show pinned $K/a2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# a and a2 are the same file: one map, one id, two pinned paths
ok id-same-file [ -n "$id_a" ] && [ "$id_a" == "$id_a2" ]
t id-show 0 "$id_a: array  name a  flags 0x0" "$U" map show id "$id_a"
t id-pinned-both 0 "	pinned $P/a2" "$U" map show id "$id_a"
t id-dump 0 "Found 3 elements" "$U" map dump id "$id_a"
t id-missing 1 "Error: get map by id (999): No such file or directory" "$U" map show id 999
t id-bad 2 "can't parse x as ID" "$U" map show id x
t name-show 0 ": hash  name big  flags 0x0" "$U" map show name big
t name-lookup 0 "value (CPU 00): 01 02 03 04 05 06 07 08  09 0a 0b 0c" \
	"$U" map lookup name ph key 5 0 0 0
t name-dump-json 0 '"key":["0x00","0x00","0x00","0x00"],"value":["0x00"' "$U" -j map dump name a
t name-missing 1 "no map with name 'nope'" "$U" map show name nope
t show-all 0 "name q  flags 0x0" "$U" map show
t list-all 0 "name s  flags 0x0" "$U" map list
t show-all-json 0 '"name":"pa","flags":0,"bytes_key":4,"bytes_value":4,"max_entries":2' "$U" -j map show
t show-frozen 0 "	frozen" "$U" map show pinned $K/a
t show-pinned-json 0 "\"pinned\":[\"$P/a\",\"$P/a2\"]" "$U" -j map show pinned $K/a
t show-relative 0 "name h  flags" "$U" map show pinned uebpf_cli_map_$$/h
t show-real-path 0 "name h  flags" "$U" map show pinned $P/h
t show-extra 2 "unexpected argument 'x' after MAP" "$U" map show pinned $K/h x
t show-no-value 2 "expected 'id', 'pinned' or 'name'" "$U" map show pinned
t ref-bad-json 2 '{"error":"expected' "$U" -j map dump frob x
t missing-pin 1 "Error: bpf obj get ($K/nope): " "$U" map dump pinned $K/nope
printf 'not a map at all, just some bytes' >"$P/junk"
t junk-pin 1 "Error: bpf obj get ($K/junk): " "$U" map dump pinned $K/junk
t junk-not-listed 0 "" "$U" map show
ok junk-not-shown [ -z "$("$U" map show | grep junk)" ]
t no-command 2 "Usage: uebpf map { show | list } [MAP]" "$U" map
t help 0 "MAP := { id MAP_ID | pinned FILE | name MAP_NAME }" "$U" map help
t help-top 0 "uebpf map dump MAP" "$U" help map
t byte-too-big 1 "Error: error parsing byte: 256" "$U" map update pinned $K/h key 256 0 0 0 value 0 0 0 0 0 0 0 0
t byte-negative 1 "Error: error parsing byte: -1" "$U" map update pinned $K/h key -1 0 0 0 value 0 0 0 0 0 0 0 0
t create-no-dev 1 "uebpf has no devices" "$U" map create $K/x type hash key 4 value 4 entries 1 name x dev eth0
t create-bad-entries 2 "can't parse -1 as max entries" "$U" map create $K/x type hash key 4 value 4 entries -1 name x
# map of maps: the inner map by MAP, a lookup gives its id
t create-outer 0 "" "$U" map create $K/outer type array_of_maps key 4 value 4 entries 2 name outer inner_map pinned $K/nop
t outer-update 0 "" "$U" map update pinned $K/outer key 0 0 0 0 value pinned $K/nop
t outer-update-bad 1 "not enough value arguments for map in map" "$U" map update pinned $K/outer key 0 0 0 0 value pinned
same peek-extra $M peek pinned $K/q x

finish
