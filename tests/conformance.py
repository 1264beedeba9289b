#!/usr/bin/env python3
"""Runs ../shared/conformance/tests.jsonl through uebpf-plugin, one process per test, the
way the public bpf_conformance runner drives a plugin: MEM as "aa  bb  " in argv, the
program as hex on standard input, r0 in hex on standard output."""
import json, os, subprocess, sys

def main():
    plugin = sys.argv[1]
    opts = sys.argv[2:]
    here = os.path.dirname(os.path.abspath(__file__))
    suite = os.environ.get('UEBPF_SHARED', os.path.join(here, '..', '..', 'shared'))
    path = os.path.join(suite, 'conformance', 'tests.jsonl')
    if not os.path.exists(path):
        print(f'conformance: {path} not found (set UEBPF_SHARED)', file=sys.stderr)
        return 1
    passed = failed = 0
    for line in open(path):
        t = json.loads(line)
        mem = ''.join(t['mem'][i:i + 2] + '  ' for i in range(0, len(t['mem']), 2))
        argv = [plugin] + ([mem] if mem else []) + opts
        p = subprocess.run(argv, input=t['insns'] + '\n', capture_output=True, text=True,
                           timeout=30)
        if t.get('error'):
            msg = (p.stdout or p.stderr).split('\r')[0].rstrip()
            ok = p.returncode != 0 and msg == t['error']
        else:
            ok = p.returncode == 0 and p.stdout.strip() and \
                int(p.stdout.strip(), 16) == int(t['result'], 16)
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {t['name']}: want {t.get('result') or t.get('error')}, "
                  f"got rc={p.returncode} out={p.stdout.strip()!r} err={p.stderr.strip()[:300]!r}")
    print(f'conformance{" " + " ".join(opts) if opts else ""}: {passed} passed, {failed} failed')
    return 1 if failed else 0

sys.exit(main())
