#!/usr/bin/env python3
"""Extracts the BPF ELF objects embedded in executables (libbpf skeletons embed them, as
Debian's libbpf-tools do): every "\\x7fELF" with e_machine EM_BPF (247), 64-bit
little-endian, relocatable; its extent ends with its section header table.

    scripts/extract-bpf-objects.py OUTDIR BINARY...

Writes OUTDIR/<binary>.o (then <binary>-1.o, ... if one binary holds several) and prints
one line per object. tests/test_elf_real.c does the same scan in C."""
import os
import struct
import sys

EM_BPF, ET_REL = 247, 1


def objects(data):
    i = data.find(b"\x7fELF", 1)
    while i >= 0:
        hdr = data[i:i + 64]
        if len(hdr) == 64 and hdr[4] == 2 and hdr[5] == 1:
            e_type, e_machine = struct.unpack_from("<HH", hdr, 16)
            (shoff,) = struct.unpack_from("<Q", hdr, 0x28)
            shentsize, shnum = struct.unpack_from("<HH", hdr, 0x3A)
            end = shoff + shentsize * shnum
            if e_type == ET_REL and e_machine == EM_BPF and shentsize == 64 and i + end <= len(data):
                yield data[i:i + end]
                i = data.find(b"\x7fELF", i + end)
                continue
        i = data.find(b"\x7fELF", i + 1)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            data = f.read()
        base = os.path.basename(path)
        for n, obj in enumerate(objects(data)):
            name = os.path.join(out, f"{base}.o" if n == 0 else f"{base}-{n}.o")
            with open(name, "wb") as f:
                f.write(obj)
            print(f"{name}: {len(obj)} bytes")


if __name__ == "__main__":
    main()
