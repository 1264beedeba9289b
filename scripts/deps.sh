#!/bin/sh
# Installs the Debian 12 packages uebpf needs to build, test and benchmark.
# Idempotent, and silent when everything is already present.
set -e
# bpftool, libbpf-tools and xdp-tools are references for tests: bpftool's output is what the
# CLI matches, and the BPF objects inside the other two must open and load.
PKGS="make gcc clang llvm libclang-rt-14-dev python3 pkg-config libelf-dev libbpf-dev libunwind-dev libpcap-dev libcapstone-dev libmd-dev valgrind bpftool libbpf-tools xdp-tools"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
