# Sourced by the shell tests (not executable: scripts/run-tests.sh runs only executable
# tests/*.sh), right after `set -u`. Gives:
#   BUILD (default build), top (the repository), U (the CLI), tmp (a fresh directory,
#   the current one, removed at exit: a test with more to clean sets its own EXIT trap),
#   the counters pass, fail, skip, and the checks below; `finish` prints the last line
#   scripts/run-tests.sh reads ("NAME: N passed, N failed[, N skipped]") and exits.
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
U=$(cd "$top" && realpath "$BUILD/bin/uebpf")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0 skip=0

# t NAME WANT_RC WANT_SUBSTRING CMD...: exit code and a substring of stdout+stderr.
t() {
	local name=$1 rc=$2 want=$3 out got
	shift 3
	out=$("$@" 2>&1); got=$?
	if [ "$got" -eq "$rc" ] && grep -qF -- "$want" <<<"$out"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $got (want $rc), output lacks '$want' or differs:"
		head -n 10 <<<"$out" | sed 's/^/    /'
	fi
}

# x NAME WANT_STDOUT CMD...: exit 0 and stdout exactly WANT_STDOUT (with X_QUIET=1, also
# nothing on stderr).
x() {
	local name=$1 want=$2 out err got
	shift 2
	out=$("$@" 2>"$tmp/stderr"); got=$?
	err=$(cat "$tmp/stderr")
	if [ "$got" -eq 0 ] && [ "$out" == "$want" ] && { [ "${X_QUIET:-0}" != 1 ] || [ -z "$err" ]; }; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $got; stdout:"; head -n 12 <<<"$out" | sed 's/^/    /'
		echo "  want:"; head -n 12 <<<"$want" | sed 's/^/    /'
		[ -n "$err" ] && { echo "  stderr:"; head -n 5 <<<"$err" | sed 's/^/    /'; }
	fi
}

# ok NAME CONDITION...: a shell test.
ok() {
	local name=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $name"; fi
}

# skipped WHAT: one check that cannot run here, and why.
skipped() { skip=$((skip + 1)); echo "SKIP $1"; }

# finish [NAME]: the summary line (NAME defaults to the script's name), then exit 0 when
# nothing failed.
finish() {
	local name=${1:-$(basename "$0" .sh)}
	if [ $skip -gt 0 ]; then
		echo "$name: $pass passed, $fail failed, $skip skipped"
	else
		echo "$name: $pass passed, $fail failed"
	fi
	[ $fail -eq 0 ]
	exit
}
