#!/usr/bin/env bash
# uebpf prog ... and object show: programs from ELF objects (compiled here by clang),
# loaded, pinned, shown, dumped, run on packets and over capture files, and the trace log.
# Expected values: the kernel side by side (bpftool runs the same object: same retval and
# data_out, the same source lines in `dump xlated`), or reasoning written next to the check
# (the verdict counts of the capture, from how tests/tools/gen_pcap.c builds each packet).
set -u
. "$(dirname "$0")/lib.sh"
GEN=$(cd "$top" && realpath "$BUILD/tests/gen_pcap")
export UEBPF_PIN_ROOT=$tmp/pins
K=/sys/fs/bpf/uebpf_cli_prog_$$		# kernel pins (bpftool); for uebpf, under the pin root
cleanup() { rm -rf "$tmp"; [ -d "$K" ] && rm -rf "$K"; }
trap cleanup EXIT

if ! command -v clang >/dev/null 2>&1; then
	skip=1
	echo "SKIP everything: no clang to compile the BPF programs"
	finish
fi

# ---- the programs ----
cat >fw.bpf.c <<'C'
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

/* 0: pass, 1: UDP to port 53, 2: from 10.0.0.4 */
static __always_inline int classify(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)ip + sizeof(*ip);

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != 17)
		return 0;
	if (udp->dest == bpf_htons(53))
		return 1;
	if (ip->saddr == bpf_htonl(0x0a000004))
		return 2;
	return 0;
}

static __always_inline void count(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&verdicts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int fw(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	int c = classify(data, end);

	if (c == 1) {
		count(XDP_DROP);
		return XDP_DROP;
	}
	if (c == 2) {	/* back where it came from: swap the MACs */
		struct ethhdr *eth = data;
		unsigned char tmp[ETH_ALEN];
		__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
		__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
		count(XDP_TX);
		return XDP_TX;
	}
	count(XDP_PASS);
	bpf_printk("pass len %d", (int)(end - data));
	return XDP_PASS;
}

SEC("tc")
int tcf(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	return classify(data, end) == 1 ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("xdp")
int redir(struct xdp_md *ctx)
{
	return bpf_redirect(7, 0);	/* every packet out of device 7 */
}

SEC("socket")
int trim(struct __sk_buff *skb)
{
	return 42;	/* keep Ethernet + IPv4 + UDP headers: 14 + 20 + 8 */
}

char LICENSE[] SEC("license") = "GPL";
C
MA=$(cc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
if ! clang -O2 -g -target bpf -I/usr/include/$MA -c fw.bpf.c -o fw.o 2>clang.err; then
	skip=1
	echo "SKIP everything: clang cannot compile for BPF here:"; head -n 5 clang.err
	finish
fi

# ---- object show ----
t obj-show 0 "prog fw  section xdp  type xdp  insns" "$U" object show fw.o
t obj-show-tc 0 "prog tcf  section tc  type sched_cls" "$U" object show fw.o
t obj-show-sock 0 "prog trim  section socket  type socket_filter  insns 2" "$U" object show fw.o
t obj-show-map 0 "map verdicts  type array  key 4B  value 8B  max_entries 8  flags 0x0" "$U" object show fw.o
t obj-show-json 0 '{"name":"trim","section":"socket","type":"socket_filter","insns":2}' "$U" -j object show fw.o
t obj-missing 1 "Error: failed to open object file nope.o" "$U" object show nope.o
printf 'not an ELF file' >junk.o
t obj-junk 1 "Error: failed to open object file junk.o" "$U" object show junk.o
t obj-no-arg 2 "'show' needs an OBJ" "$U" object show
t obj-help 0 "Usage: uebpf object show OBJ" "$U" object help

# ---- load, loadall, show ----
t loadall 0 "" "$U" prog loadall fw.o /sys/fs/bpf/fw pinmaps /sys/fs/bpf/fw_maps
ok loadall-pins [ -f pins/fw/fw ] && [ -f pins/fw/tcf ] && [ -f pins/fw/trim ] && [ -f pins/fw_maps/verdicts ]
t load 0 "" "$U" prog load fw.o /sys/fs/bpf/one
ok load-pins [ -f pins/one ] && [ -f pins/one.maps/verdicts ] && [ ! -e pins/one.maps/trim ]
t load-json 0 "null" "$U" -j prog load fw.o /sys/fs/bpf/two type xdp
t load-exists 1 "Error: can't pin the object (/sys/fs/bpf/one): File exists" "$U" prog load fw.o /sys/fs/bpf/one
t load-missing 1 "Error: failed to open object file nope.o" "$U" prog load nope.o /sys/fs/bpf/x
t load-junk 1 "Error: failed to open object file junk.o" "$U" prog load junk.o /sys/fs/bpf/x
t load-few 2 "'load' needs at least 2 arguments (OBJ PATH), 1 found" "$U" prog load fw.o
t load-type 2 "unrecognized program type: frob" "$U" prog load fw.o /sys/fs/bpf/x type frob
t load-word 2 "expected no more arguments, 'type', 'map' or 'pinmaps', got: 'frob'?" \
	"$U" prog load fw.o /sys/fs/bpf/x frob
t load-dev 1 "uebpf has no devices" "$U" prog load fw.o /sys/fs/bpf/x dev eth0
t load-map-missing 1 "map 'nope' not found in the object" \
	"$U" prog load fw.o /sys/fs/bpf/x map name nope pinned /sys/fs/bpf/fw_maps/verdicts
ok load-failed-no-pin [ ! -e pins/x ]
# the ids: maps first, then programs, in path order: fw/fw fw/tcf fw/trim one two
t show 0 "name fw" "$U" prog show
t show-types 0 ": socket_filter  name trim" "$U" prog show
t show-pinned 0 "	pinned $UEBPF_PIN_ROOT/fw/tcf" "$U" prog show pinned /sys/fs/bpf/fw/tcf
t show-xlated 0 "	xlated " "$U" prog show pinned /sys/fs/bpf/fw/fw
t show-maps 0 "  map_ids " "$U" prog show pinned /sys/fs/bpf/fw/fw
t show-name 0 "sched_cls  name tcf" "$U" prog show name tcf
t show-name-many 1 "several programs match this name: 'fw'" "$U" prog show name fw
t show-json 0 '"type":"socket_filter","name":"trim"' "$U" -j prog show pinned /sys/fs/bpf/fw/trim
id=$("$U" -j prog show pinned /sys/fs/bpf/fw/tcf | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
t show-id 0 "$id: sched_cls  name tcf" "$U" prog show id "$id"
t show-id-again 0 "$id: sched_cls  name tcf" "$U" prog list id "$id"
t show-id-missing 1 "Error: get by id (999): No such file or directory" "$U" prog show id 999
t show-tag-missing 1 "no program with tag '0102030405060708'" "$U" prog show tag 0102030405060708
t show-tag-bad 1 "can't parse tag" "$U" prog show tag 01020304zz
tag=$("$U" -j prog show pinned /sys/fs/bpf/fw/tcf | python3 -c 'import json,sys; print(json.load(sys.stdin)["tag"])')
t show-tag 0 "$id: sched_cls  name tcf  tag $tag" "$U" prog show tag "$tag"
t show-bad-ref 2 "expected 'id', 'tag', 'name' or 'pinned', got: 'frob'?" "$U" prog show frob x
t show-missing 1 "Error: bpf obj get (/sys/fs/bpf/nope): No such file or directory" \
	"$U" prog show pinned /sys/fs/bpf/nope
t show-a-map 1 "not a pinned program" "$U" prog show pinned /sys/fs/bpf/fw_maps/verdicts
t map-a-prog 1 "a pinned program, not a map" "$U" map dump pinned /sys/fs/bpf/fw/fw
t show-extra 2 "unexpected argument 'x' after PROG" "$U" prog show pinned /sys/fs/bpf/fw/fw x

# ---- the kernel side by side ----
kernel=0
if command -v bpftool >/dev/null 2>&1 && bpftool prog loadall fw.o "$K" 2>/dev/null; then
	kernel=1
else
	echo "SKIP kernel comparisons: bpftool or the kernel's bpf() not available"
fi

# dump xlated: the source lines and function prototypes bpftool prints are the same (the
# instructions differ: the kernel rewrites context accesses and inlines map lookups)
notes() { grep -v '^ *[0-9]*: \|^       [0-9a-f][0-9a-f] '; }
for p in fw tcf trim; do
	for o in "" linum; do
		if [ $kernel -eq 1 ]; then
			k=$(bpftool prog dump xlated pinned $K/$p $o | notes)
			u=$("$U" prog dump xlated pinned /sys/fs/bpf/fw/$p $o | notes)
			if [ -n "$k" ] && [ "$k" == "$u" ]; then pass=$((pass + 1)); else
				fail=$((fail + 1)); echo "FAIL xlated-lines-$p-$o:"
				diff <(echo "$k") <(echo "$u") | head -n 10 | sed 's/^/    /'
			fi
		else
			skip=$((skip + 1))
		fi
	done
done
# trim is two instructions the kernel leaves alone: the whole dump is the same
if [ $kernel -eq 1 ]; then
	x xlated-trim "$(bpftool prog dump xlated pinned $K/trim opcodes)" \
		"$U" prog dump xlated pinned /sys/fs/bpf/fw/trim opcodes
	x xlated-trim-json "$(bpftool -j prog dump xlated pinned $K/trim linum)" \
		"$U" -j prog dump xlated pinned /sys/fs/bpf/fw/trim linum
else
	skip=$((skip + 2))
fi
t xlated-insn 0 "   0: (b7) r0 = 42" "$U" prog dump xlated pinned /sys/fs/bpf/fw/trim
t xlated-map 0 "= map[id:" "$U" prog dump xlated pinned /sys/fs/bpf/fw/fw
t xlated-both 0 "       b7 00 00 00 2a 00 00 00" "$U" prog dump xlated pinned /sys/fs/bpf/fw/trim linum opcodes
t xlated-json-opcodes 0 '"opcodes":{"code":"0xb7","src_reg":"0x0","dst_reg":"0x0","off":["0x00","0x00"],"imm":["0x2a","0x00","0x00","0x00"]}' \
	"$U" -j prog dump xlated pinned /sys/fs/bpf/fw/trim opcodes
t xlated-file 0 "" "$U" prog dump xlated pinned /sys/fs/bpf/fw/trim file trim.bin
# r0 = 42 (b7 00 0000 2a000000), exit (95 ...)
ok xlated-file-bytes [ "$(od -An -tx1 -v trim.bin | tr -s ' \n' ' ')" == " b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00 " ]
t xlated-visual 1 "'visual' (a DOT graph) is not supported" "$U" prog dump xlated pinned /sys/fs/bpf/fw/trim visual
t xlated-word 2 "expected no more arguments, 'file', 'opcodes' or 'linum', got: 'frob'?" \
	"$U" prog dump xlated pinned /sys/fs/bpf/fw/trim frob
t dump-what 2 "expected 'xlated' or 'jited', got: frob" "$U" prog dump frob pinned /sys/fs/bpf/fw/trim
# jited: the JIT's code, or a clear reason why there is none
out=$("$U" prog dump jited pinned /sys/fs/bpf/fw/trim 2>&1); rc=$?
jited_ok() { [ $rc -eq 0 ] || grep -q "no JIT image: the program runs in the interpreter" <<<"$out"; }
ok jited jited_ok
t jited-file 1 "gives the JIT's code as text only" "$U" prog dump jited pinned /sys/fs/bpf/fw/trim file x

# prog run on single packets: the same retval and data_out as the kernel
for i in 0 1 7; do
	"$GEN" --packet $i >pkt$i
	for p in fw tcf trim; do
		if [ $kernel -eq 1 ]; then
			x run-$p-$i "$(bpftool prog run pinned $K/$p data_in pkt$i data_out - | sed 's/duration: [0-9]*ns//')" \
				sh -c "'$U' prog run pinned /sys/fs/bpf/fw/$p data_in pkt$i data_out - | sed 's/duration: [0-9]*ns//'"
		else
			skip=$((skip + 1))
		fi
	done
done
# packet 1 (UDP 10.0.0.2:1001 -> 10.0.1.1:80) passes the firewall: XDP_PASS is 2
t run-pass 0 "Return value: 2, duration: " "$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt1
t run-repeat 0 "Return value: 2, duration (average): " "$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt1 repeat 10
t run-json 0 '{"retval":2,"duration":' "$U" -j prog run pinned /sys/fs/bpf/fw/fw data_in pkt1
t run-json-out 0 '{"data_out":[2,0,0,0,0,2,2,0,0,0,0,1,8,0,69,0,' "$U" -j prog run pinned /sys/fs/bpf/fw/fw data_in pkt1 data_out -
t run-out-file 0 "Return value: 2" "$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt1 data_out out1
ok run-out-bytes cmp -s pkt1 out1
t run-small-out 1 "Error: failed to run program: No space left on device" \
	"$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt1 data_out - data_size_out 10
head -c 5 pkt1 >pkt5
t run-short 1 "Error: failed to run program: Invalid argument" "$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt5
t run-no-file 1 "Error: nope: No such file or directory" "$U" prog run pinned /sys/fs/bpf/fw/fw data_in nope
t run-bad-repeat 2 "repeat: 'x' is not a whole number" "$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt1 repeat x
t run-bad-word 2 "got: 'frob'?" "$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt1 frob
t run-twice 2 "data_in given twice" "$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt1 data_in pkt1
t run-size-alone 2 "data_size_out given without data_out" "$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt1 data_size_out 10
t run-missing-value 2 "'repeat' needs a value" "$U" prog run pinned /sys/fs/bpf/fw/fw data_in pkt1 repeat
t run-no-prog 2 "expected 'id', 'pinned' or 'name'" "$U" prog run

# ---- capture files ----
# gen_pcap: 30 packets; i % 3 == 0 go to port 53 (10 packets: 0 3 ... 27); of the others,
# i % 4 == 3 come from 10.0.0.4 (7 11 19 23: 4 packets, sent back with XDP_TX); 16 pass.
# Packet i is 42 + (i % 7) * 8 bytes: 30 * 42 + 8 * (0+1+...+6) * 4 + 8 * (0+1) = 1940.
"$GEN" in.pcap
# the verdicts map counts from here: reset it by loading a fresh copy
t pcap-load 0 "" "$U" prog load fw.o /sys/fs/bpf/pc pinmaps /sys/fs/bpf/pc_maps
x pcap-xdp "$(printf 'Packets: 30 (1940 bytes), duration (average): Nns\n  XDP_DROP         10\n  XDP_PASS         16\n  XDP_TX           4\nWritten: 20 packets to out.pcap')" \
	sh -c "'$U' prog run pinned /sys/fs/bpf/pc --pcap in.pcap --out out.pcap | sed -E 's/average\): [0-9]+ns/average): Nns/'"
# the program counted the same: verdicts[1] (XDP_DROP) 10, [2] (PASS) 16, [3] (TX) 4 (the
# map has the object's BTF: its elements are also printed as numbers, "formatted")
t pcap-map-drop 0 '"formatted":{"key":1,"value":10}' "$U" -j map dump pinned /sys/fs/bpf/pc_maps/verdicts
t pcap-map-pass 0 '"formatted":{"key":2,"value":16}' "$U" -j map dump pinned /sys/fs/bpf/pc_maps/verdicts
t pcap-map-tx 0 '"formatted":{"key":3,"value":4}' "$U" -j map dump pinned /sys/fs/bpf/pc_maps/verdicts
# out.pcap: the 20 packets not sent to port 53, in order, timestamps kept, the XDP_TX ones
# (7 11 19 23) with their MACs swapped; microseconds as in.pcap.
cat >check.py <<'PY'
import struct, sys
def read(path):
    d = open(path, 'rb').read()
    magic = struct.unpack('<I', d[:4])[0]
    pk, off = [], 24
    while off < len(d):
        s, frac, cap, ln = struct.unpack('<IIII', d[off:off + 16])
        pk.append((s, frac, d[off + 16:off + 16 + cap], ln))
        off += 16 + cap
    return magic, struct.unpack('<I', d[20:24])[0], pk
magic, link, pk = read(sys.argv[1])
_, _, orig = read(sys.argv[2])
keep = [i for i in range(30) if i % 3 != 0]
assert magic == int(sys.argv[3], 16), hex(magic)
assert link == 1 and len(pk) == len(keep), (link, len(pk))
for (s, frac, data, ln), i in zip(pk, keep):
    o = orig[i][2]
    assert s == 1700000000 + i and frac == i * 1000 + 7, (i, s, frac)
    want = o[6:12] + o[0:6] + o[12:] if i % 4 == 3 else o
    assert data == want and ln == len(o), i
print("ok")
PY
t pcap-out 0 "ok" python3 check.py out.pcap in.pcap a1b2c3d4
t pcap-json 0 '{"packets":30,"bytes":1940,"verdicts":{"XDP_DROP":10,"XDP_PASS":16,"XDP_TX":4},"errors":0,"duration":' \
	"$U" -j prog run pinned /sys/fs/bpf/pc --pcap in.pcap
# nanosecond files stay nanosecond
"$GEN" nano.pcap --nano
t pcap-nano 0 "Written: 20 packets" "$U" prog run pinned /sys/fs/bpf/pc --pcap nano.pcap --out nano_out.pcap
t pcap-nano-out 0 "ok" python3 check.py nano_out.pcap nano.pcap a1b23c4d
# tc: SHOT for the 10 packets to port 53, OK for the other 20
t pcap-tc 0 "  TC_ACT_SHOT      10" "$U" prog run pinned /sys/fs/bpf/fw/tcf --pcap in.pcap
t pcap-tc-ok 0 "  TC_ACT_OK        20" "$U" prog run pinned /sys/fs/bpf/fw/tcf --pcap in.pcap
# redirect: where to is part of the verdict; redirected packets are written
t pcap-redirect 0 "  XDP_REDIRECT ifindex 7 30" "$U" prog run pinned /sys/fs/bpf/fw/redir --pcap in.pcap --out redir.pcap
t pcap-redirect-out 0 "ok" sh -c "python3 -c \"import sys; d=open('redir.pcap','rb').read(); sys.exit(len(d) != 2444)\" && echo ok"
# socket filter: keeps 42 bytes; packets of exactly 42 bytes (i % 7 == 0: 0 7 14 21 28)
# are accepted whole, the other 25 trimmed; all 30 written, 42 bytes each
t pcap-sock 0 '"verdicts":{"accept":5,"trim":25},"errors":0' "$U" -j prog run pinned /sys/fs/bpf/fw/trim --pcap in.pcap --out trim.pcap
ok pcap-sock-size [ "$(stat -c %s trim.pcap)" -eq $((24 + 30 * (16 + 42))) ]
# the kept bytes are the packet's own (a socket filter cannot change them)
cat >trimcheck.py <<'PY'
import struct
def recs(path):
    d = open(path, 'rb').read()
    off, out = 24, []
    while off < len(d):
        cap = struct.unpack('<I', d[off + 8:off + 12])[0]
        out.append(d[off + 16:off + 16 + cap])
        off += 16 + cap
    return out
a, b = recs('trim.pcap'), recs('in.pcap')
assert len(a) == 30 and all(x == y[:42] for x, y in zip(a, b))
print("ok")
PY
t pcap-sock-bytes 0 "ok" python3 trimcheck.py
# a runt of 10 bytes: XDP refuses it (EINVAL, as the kernel's test run); counted, exit 1
"$GEN" runt.pcap --runt
t pcap-runt 1 "errors           1 (first: packet 31: Invalid argument)" "$U" prog run pinned /sys/fs/bpf/pc --pcap runt.pcap
cp in.pcap raw.pcap
printf '\x65\x00\x00\x00' | dd of=raw.pcap bs=1 seek=20 conv=notrunc 2>/dev/null	# LINKTYPE_RAW
t pcap-linktype 0 "Warning: raw.pcap: link type RAW, not Ethernet" "$U" prog run pinned /sys/fs/bpf/pc --pcap raw.pcap
t pcap-missing 1 "Error: nope.pcap: " "$U" prog run pinned /sys/fs/bpf/pc --pcap nope.pcap
t pcap-junk 1 "Error: junk.o: " "$U" prog run pinned /sys/fs/bpf/pc --pcap junk.o
head -c 100 in.pcap >cut.pcap
t pcap-truncated 1 "Error: cut.pcap: packet 2: " "$U" prog run pinned /sys/fs/bpf/pc --pcap cut.pcap
t pcap-out-dir 1 "Error: nodir/o.pcap: " "$U" prog run pinned /sys/fs/bpf/pc --pcap in.pcap --out nodir/o.pcap
t pcap-out-alone 2 "--out given without --pcap" "$U" prog run pinned /sys/fs/bpf/pc data_in pkt1 --out o.pcap
t pcap-data-in 2 "--pcap gives the packets and runs each once: no data_in" "$U" prog run pinned /sys/fs/bpf/pc --pcap in.pcap data_in pkt1
t pcap-repeat 2 "--pcap gives the packets and runs each once" "$U" prog run pinned /sys/fs/bpf/pc --pcap in.pcap repeat 3

# ---- pin, map replacement ----
t pin 0 "" "$U" prog pin pinned /sys/fs/bpf/pc /sys/fs/bpf/pc2
t pin-run 0 "Return value: 2" "$U" prog run pinned /sys/fs/bpf/pc2 data_in pkt1
# pc2 uses pc's maps: five runs over the capture passed 16 packets each (--out, -j, nano,
# raw, runt), and this run one more: 81 = 0x51
t pin-same-map 0 '"formatted":{"key":2,"value":81}' "$U" -j map dump pinned /sys/fs/bpf/pc_maps/verdicts
t pin-exists 1 "File exists" "$U" prog pin pinned /sys/fs/bpf/pc /sys/fs/bpf/pc2
t pin-few 2 "'pin' needs a FILE after PROG" "$U" prog pin pinned /sys/fs/bpf/pc
# map name|idx: the object's map replaced by a pinned one (bpf_map__reuse_fd)
if "$U" prog load fw.o /sys/fs/bpf/r map name verdicts pinned /sys/fs/bpf/pc_maps/verdicts \
	2>&1 | grep -q "is not pointing to valid bpf_map"; then
	skip=$((skip + 5))
	echo "SKIP repl-*: bpf_map__reuse_fd gives the loader an fd the library does not know"
else
	ok repl [ -e pins/r ]
	t repl-run 0 "Return value: 2" "$U" prog run pinned /sys/fs/bpf/r data_in pkt1
	t repl-same-map 0 '"formatted":{"key":2,"value":82}' \
		"$U" -j map dump pinned /sys/fs/bpf/pc_maps/verdicts
	ok repl-no-own-map [ ! -e pins/r.maps/verdicts ]
	t repl-idx 0 "" "$U" prog load fw.o /sys/fs/bpf/r2 map idx 0 pinned /sys/fs/bpf/pc_maps/verdicts
fi
t repl-idx-missing 1 "map idx '9' not found" "$U" prog load fw.o /sys/fs/bpf/r3 map idx 9 pinned /sys/fs/bpf/pc_maps/verdicts

# ---- damaged pinned programs: refused with the reason, never loaded ----
cp pins/pc pins/bad1
truncate -s 40 pins/bad1
t bad-short 1 "not a valid pinned program: shorter than its header" "$U" prog show pinned /sys/fs/bpf/bad1
cp pins/pc pins/bad2
printf '\xff\xff\xff\x7f' | dd of=pins/bad2 bs=1 seek=16 conv=notrunc 2>/dev/null	# prog_type
t bad-type 1 "loading the pinned program failed: Invalid argument" "$U" prog show pinned /sys/fs/bpf/bad2
cp pins/pc pins/bad3
printf '\x00\x00\x10\x00' | dd of=pins/bad3 bs=1 seek=20 conv=notrunc 2>/dev/null	# insn_cnt
t bad-count 1 "not a valid pinned program" "$U" prog show pinned /sys/fs/bpf/bad3
t bad-listing 0 "name trim" "$U" prog show	# the others still list
rm -f pins/bad1 pins/bad2 pins/bad3

# ---- tracelog: the lines bpf_printk wrote, as trace_pipe shows them ----
rm -f pins/trace_pipe
t trace-run 0 "Return value: 2" "$U" prog run pinned /sys/fs/bpf/pc data_in pkt1
# packet 1 is 42 + 8 bytes
t tracelog 0 "bpf_trace_printk: pass len 50" "$U" prog tracelog --no-follow
t tracelog-json 0 'bpf_trace_printk: pass len 50"]' "$U" -j prog tracelog --no-follow
t tracelog-word 2 "tracelog takes only --no-follow" "$U" prog tracelog frob
# following: a line written after tracelog started shows up. tracelog runs until SIGINT;
# timeout sends it after 2 seconds whatever happens here, so nothing is left running.
if command -v timeout >/dev/null 2>&1; then
	timeout -s INT 2 "$U" prog tracelog >follow.txt 2>&1 &
	fpid=$!
	sleep 0.5
	"$U" prog run pinned /sys/fs/bpf/pc data_in pkt1 >/dev/null
	wait $fpid
	ok tracelog-follow [ "$(grep -c 'pass len 50' follow.txt)" -eq 2 ]
else
	skip=$((skip + 1)); echo "SKIP tracelog-follow: no timeout(1)"
fi

# ---- map event_pipe: a ring buffer's records, written by another process ----
# Each run of `emit` outputs 16 bytes: 0x1122334455667788 and a counter from 0, both
# little-endian u64. So run k's record is 88 77 66 55 44 33 22 11, then k, then 7 zeros.
cat >rb.bpf.c <<'C'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

__u64 runs = 0;

SEC("xdp")
int emit(struct xdp_md *ctx)
{
	__u64 rec[2] = { 0x1122334455667788ULL, __sync_fetch_and_add(&runs, 1) };

	bpf_ringbuf_output(&ring, rec, sizeof(rec), 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
C
rec() { printf '== index: %d size: 16 =====\n88 77 66 55 44 33 22 11  %02x 00 00 00 00 00 00 00\n' "$1" "$2"; }
if ! clang -O2 -g -target bpf -I/usr/include/$MA -c rb.bpf.c -o rb.o 2>clang.err; then
	skip=$((skip + 1)); echo "SKIP event_pipe: clang:"; head -n 5 clang.err
elif ! command -v timeout >/dev/null 2>&1; then
	skip=$((skip + 1)); echo "SKIP event_pipe: no timeout(1)"
else
	t rb-load 0 "" "$U" prog load rb.o /sys/fs/bpf/rb pinmaps /sys/fs/bpf/rb_maps
	# The reader waits (asleep in epoll_wait) while another process runs the program 3
	# times; timeout stops it after 10 s whatever happens, so nothing is left running.
	timeout -s INT 10 "$U" map event_pipe pinned /sys/fs/bpf/rb_maps/ring count 3 \
		>pipe.txt 2>&1 &
	ppid=$!
	sleep 0.5
	"$U" prog run pinned /sys/fs/bpf/rb data_in pkt1 repeat 3 >/dev/null
	wait $ppid
	ok event-pipe-exit [ $? -eq 0 ]
	ok event-pipe [ "$(cat pipe.txt)" == "$(rec 0 0; rec 1 1; rec 2 2)" ]
	# Records written while nobody read are there for the next reader, as with the
	# kernel (its map poll reports data already in the ring): runs 3 and 4, then JSON.
	"$U" prog run pinned /sys/fs/bpf/rb data_in pkt1 repeat 2 >/dev/null
	x event-pipe-earlier "$(rec 0 3)" timeout -s INT 10 "$U" map event_pipe \
		pinned /sys/fs/bpf/rb_maps/ring count 1
	h='"0x88","0x77","0x66","0x55","0x44","0x33","0x22","0x11"'
	z='"0x00","0x00","0x00","0x00","0x00","0x00","0x00"'
	x event-pipe-json "[{\"index\":0,\"size\":16,\"data\":[$h,\"0x04\",$z]}]" \
		timeout -s INT 10 "$U" -j map event_pipe pinned /sys/fs/bpf/rb_maps/ring count 1
	# SIGINT ends a reader that has nothing to read: exit 0, nothing printed.
	x event-pipe-sigint "" timeout --preserve-status -s INT 0.5 "$U" map event_pipe pinned /sys/fs/bpf/rb_maps/ring
	t event-pipe-not-ring 1 "Error: map is not a ring buffer" \
		"$U" map event_pipe pinned /sys/fs/bpf/fw_maps/verdicts
	t event-pipe-word 2 "event_pipe takes count N" \
		"$U" map event_pipe pinned /sys/fs/bpf/rb_maps/ring cpu 0
	t event-pipe-count 2 "count" "$U" map event_pipe pinned /sys/fs/bpf/rb_maps/ring count 0
	t event-pipe-no-map 2 "" "$U" map event_pipe
fi

# ---- help and mistakes ----
t help 0 "Usage: uebpf prog { show | list } [PROG]" "$U" prog help
t help-top 0 "uebpf prog run PROG" "$U" help prog
t no-command 2 "Usage: uebpf prog" "$U" prog
t unknown 2 "Error: unknown command 'frob'" "$U" prog frob

finish
