#!/bin/sh
# Run every unit-test binary in the given folder (default build/tests), each
# with a time limit, and print one line per binary and a closing line
#     tests: N passed, N failed, N skipped
# A skipped test (cmocka's skip(): it cannot run on this host, e.g. not
# root) is neither passed nor failed.  A binary that crashes or times out
# before printing its summary counts as one failed test.  Exit status 0
# iff nothing failed and something passed.
# Where build/cowlab exists, the browser suite (tests/browser.sh build:
# the trace page in headless Chromium) runs after the command's checks
# the same way ("browser: N passed, N failed", or "browser: SKIPPED
# (reason)" without Chromium, one skipped test).
# With SANITIZE=DIR (make test sets it to build/asan), the sanitizer suite
# (tests/sanitize.sh DIR) runs last; its line
#     sanitize: N passed, N failed
# is printed before the closing line, and its counts are folded into it
# (each unit-test binary and each scenario run under the sanitizers is one
# test).  With TSAN=DIR (make test sets it to build/tsan), the
# ThreadSanitizer suite (tests/tsan.sh DIR) runs after it the same way:
#     tsan: N passed, N failed
# (or "tsan: SKIPPED (reason)" where TSan cannot run, which counts as
# one skipped test, never as a pass).
set -u
dir=${1:-build/tests}
limit=${TEST_TIMEOUT:-600}
passed=0
failed=0
skipped=0
# count WORD LOG: the N of cmocka's last "[  WORD  ] N test(s)" line, or 0.
count() {
	n=$(sed -n "s/^\\[  *$1  *\\] \\([0-9][0-9]*\\) test(s).*/\\1/p" "$2" | tail -n 1)
	echo "${n:-0}"
}
for t in "$dir"/test_*; do
	case "$t" in *.d|*.log) continue ;; esac
	[ -x "$t" ] || continue
	name=$(basename "$t")
	log="$t.log"
	start=$(date +%s)
	timeout "$limit" "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	p=$(count PASSED "$log")
	f=$(count FAILED "$log")
	s=$(count SKIPPED "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		[ "$rc" -eq 124 ] && echo "$name: timed out after ${limit}s"
		echo "$name: exited with status $rc before its summary"
	fi
	printf '%-24s %4d passed, %d failed, %d skipped (%ss)\n' "$name" "$p" "$f" "$s" "$secs"
	if [ "$s" -ne 0 ]; then
		grep -A 1 '^# skip: ' "$log" | grep -v '^--$' | sed 's/^/    /'
	fi
	if [ "$f" -ne 0 ]; then
		echo "---- $log"
		grep -v '^\[ RUN      \]\|^\[       OK \]' "$log" | tail -n 60
		echo "----"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
done
# The command's end-to-end checks count one test each.
if [ -x build/cowlab ] && [ -f "$(dirname "$0")/cli.sh" ]; then
	sh "$(dirname "$0")/cli.sh" >"$dir/cli.log" 2>&1
	line='^cli: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$'
	p=$(sed -n "s/$line/\1/p" "$dir/cli.log")
	f=$(sed -n "s/$line/\2/p" "$dir/cli.log")
	s=$(sed -n "s/$line/\3/p" "$dir/cli.log")
	p=${p:-0}
	f=${f:-1}
	s=${s:-0}
	printf '%-24s %4d passed, %d failed, %d skipped\n' "cli.sh" "$p" "$f" "$s"
	[ "$s" -ne 0 ] && grep '^cli: SKIPPED' "$dir/cli.log" | sed 's/^/    /'
	[ "$f" -ne 0 ] && grep -v '^cli: ok' "$dir/cli.log" | tail -n 30
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
fi
# The layering rules count as one test.
if sh "$(dirname "$0")/check_layers.sh"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
# suite NAME BUILD: run tests/NAME.sh on the build folder BUILD and fold
# its closing line "NAME: N passed, N failed" into the totals; one that
# says "NAME: SKIPPED (why)" (the host cannot run it) counts one skip.
suite() {
	sh "$(dirname "$0")/$1.sh" "$2" >"$dir/$1.log" 2>&1
	if grep -q "^$1: SKIPPED" "$dir/$1.log"; then
		grep "^$1: SKIPPED" "$dir/$1.log"
		skipped=$((skipped + 1))
		return
	fi
	line="^$1: \\([0-9]*\\) passed, \\([0-9]*\\) failed.*"
	p=$(sed -n "s/$line/\\1/p" "$dir/$1.log")
	f=$(sed -n "s/$line/\\2/p" "$dir/$1.log")
	p=${p:-0}
	f=${f:-1}
	[ "$f" -ne 0 ] && grep -v "^$1: " "$dir/$1.log" | tail -n 80
	grep "^$1 time: " "$dir/$1.log"
	grep "^$1: " "$dir/$1.log" || echo "$1: no summary (see $dir/$1.log)"
	passed=$((passed + p))
	failed=$((failed + f))
}
# The trace page (cowlab replay --html) in headless Chromium, on the
# cowlab the command's checks use; "browser: SKIPPED" where there is no
# Chromium and it cannot be installed.
[ -x build/cowlab ] && suite browser build
# The scale-out recipes (docs/scale-out.md): the Slurm one on a real
# one-node cluster (root; it installs Debian's slurm and munge), the
# Kubernetes manifest read and its pods' commands played out here.
[ -x build/cowlab ] && suite slurm build
[ -x build/cowlab ] && suite k8s build
# The sanitizer suites, when asked for: ASan/UBSan, then ThreadSanitizer.
[ -n "${SANITIZE:-}" ] && suite sanitize "$SANITIZE"
[ -n "${TSAN:-}" ] && suite tsan "$TSAN"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
