#!/bin/sh
# Run every unit-test binary in the given folder (default build/tests), each
# with a time limit, and print one line per binary and a closing line
#     tests: N passed, N failed
# A binary that crashes or times out before printing its summary counts as
# one failed test.  Exit status 0 iff nothing failed.
set -u
dir=${1:-build/tests}
limit=${TEST_TIMEOUT:-600}
passed=0
failed=0
for t in "$dir"/test_*; do
	case "$t" in *.d|*.log) continue ;; esac
	[ -x "$t" ] || continue
	name=$(basename "$t")
	log="$t.log"
	start=$(date +%s)
	timeout "$limit" "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		[ "$rc" -eq 124 ] && echo "$name: timed out after ${limit}s"
		echo "$name: exited with status $rc before its summary"
	fi
	printf '%-24s %4d passed, %d failed (%ss)\n' "$name" "$p" "$f" "$secs"
	if [ "$f" -ne 0 ]; then
		echo "---- $log"
		grep -v '^\[ RUN      \]\|^\[       OK \]' "$log" | tail -n 60
		echo "----"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
# The command's end-to-end checks count one test each.
if [ -x build/cowlab ] && [ -f "$(dirname "$0")/cli.sh" ]; then
	sh "$(dirname "$0")/cli.sh" >"$dir/cli.log" 2>&1
	p=$(sed -n 's/^cli: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$dir/cli.log")
	f=$(sed -n 's/^cli: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$dir/cli.log")
	p=${p:-0}
	f=${f:-1}
	printf '%-24s %4d passed, %d failed\n' "cli.sh" "$p" "$f"
	[ "$f" -ne 0 ] && grep -v '^cli: ok' "$dir/cli.log" | tail -n 30
	passed=$((passed + p))
	failed=$((failed + f))
fi
# The layering rules count as one test.
if sh "$(dirname "$0")/check_layers.sh"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
