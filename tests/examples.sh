#!/usr/bin/env bash
# Runs the example programs and checks their output against values worked out by hand.
set -u
BUILD=${BUILD:-build}
pass=0 fail=0
check() {	# name, command output, expected substring
	if grep -qF -- "$3" <<<"$2"; then pass=$((pass + 1)); else
		echo "FAIL $1: output lacks '$3'"; echo "$2" | head -20; fail=$((fail + 1)); fi
}
out=$("$BUILD/examples/embed/embed" 2>&1)
# total = price * qty * 9200 / 10000 (fx_rate(1) = 9200); accepted when under 100000:
# 2500*3 = 7500 -> 6900 accept; 99900*2 -> 183816 reject; 50000*2 -> 92000 accept;
# 1*1 -> 0 accept.
check embed "$out" "order 0: 2500 cents x 3 -> accept"
check embed "$out" "order 1: 99900 cents x 2 -> reject"
check embed "$out" "order 2: 50000 cents x 2 -> accept"
check embed "$out" "order 3: 1 cents x 1 -> accept"
# The object examples: each loader checks its own results against values worked out in
# its source (and the same loaders built against the system libbpf give the same results
# on the kernel), printing "NAME: ok" last.
for ex in count_pid xdp_firewall tc_rewrite sockfilter ringbuf_events tail_calls; do
	out=$(timeout 60 "$BUILD/examples/$ex/$ex" "$BUILD/examples/$ex/$ex.bpf.o" 2>&1)
	check "$ex" "$out" "$ex: ok"
done
# The firewall over a capture file its own generator wrote: 9 drops, 11 passes (the
# verdicts listed in xdp_firewall.c's traffic table).
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fw="$BUILD/examples/xdp_firewall/xdp_firewall"
out=$("$fw" "$fw.bpf.o" --write-pcap "$tmp/s.pcap" 2>&1 && "$fw" "$fw.bpf.o" "$tmp/s.pcap" 2>&1)
check xdp_firewall_pcap "$out" "20 packets from"
check xdp_firewall_pcap "$out" "XDP_DROP     9"
check xdp_firewall_pcap "$out" "XDP_PASS     11"
echo "examples: $pass passed, $fail failed"
[ $fail -eq 0 ]
