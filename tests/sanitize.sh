#!/bin/sh
# The sanitizer suite (make sanitize; make test runs it too): in a build
# made with -fsanitize=address,undefined (default folder build/asan), run
#   1. every unit-test binary of DIR/tests, and
#   2. DIR/cowlab run FILE --mode all (seq, stress and explore) over every
#      bundled scenario: scenarios/*.cow, scenarios/gup/*.cow and
#      scenarios/matrix/*.cow.
# Each binary and each scenario counts as one item.  An item passes iff
# no sanitizer reported anything and it exited as it does without
# sanitizers: a unit test with status 0; a scenario with 0 or 1 (1 is a
# scenario's check failing under its policy, which several bundled
# scenarios document; that is the model's verdict, not a memory error).
# Prints one line per item that fails, with the end of its log, and closes
#     sanitize: N passed, N failed
# Exit status 0 iff nothing failed and something passed.
#
# Budgets (kept so that the whole of make test stays well under ten
# minutes on two cores): the explore part runs SAN_RUNS schedules
# (default 200) and the stress part SAN_ITERATIONS repetitions (default
# 20) per scenario, two items at a time (SAN_JOBS); it prints
#     sanitize time: Ns
# before the closing line.
set -u
dir=${1:-build/asan}
limit=${TEST_TIMEOUT:-600}
runs=${SAN_RUNS:-200}
iterations=${SAN_ITERATIONS:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
# --item LOG CMD...: run one item (in a job of xargs below), its exit
# status to LOG.rc.
if [ "${1:-}" = --item ]; then
	log=$2
	shift 2
	timeout "$limit" "$@" >"$log" 2>&1
	echo $? >"$log.rc"
	exit 0
fi
# A distinctive exit status for a sanitizer report, told apart from the
# program's own 1 and 2.  Leak detection stays on: liburcu's and
# liburing's allocations are freed or still reachable at exit
# (LeakSanitizer reports only unreachable blocks); the only suppressed
# leaks are the deliberately abandoned failed runs of test_fork's programs
# and of one test_interp test (tests/lsan.supp says why).  detect_stack_use_after_return stays off (gcc's default): its
# fake stacks would need each finished coroutine's last switch to free
# them (src/sched/coro.h).
SAN_RC=86
export ASAN_OPTIONS="exitcode=$SAN_RC:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=0:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=$SAN_RC${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
passed=0
failed=0
logs="$dir/sanitize"
# judge NAME LOG RC OKRCS: count one item.
judge() {
	ok=1
	grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:\|WARNING: AddressSanitizer' "$2" && ok=0
	case " $4 " in *" $3 "*) ;; *) ok=0 ;; esac
	if [ "$ok" -eq 1 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		[ "$3" -eq 124 ] && echo "$1: timed out after ${limit}s"
		echo "$1: FAILED under sanitizers (exit status $3)"
		echo "---- $2"
		grep -v '^\[ RUN      \]\|^\[       OK \]' "$2" | tail -n 60
		echo "----"
	fi
}
mkdir -p "$logs"
start=$(date +%s)
# The items, one per line: NAME OKRCS LOG CMD...  The unit tests first:
# the longest ones (test_interp, test_fork) then overlap the rest.
list="$logs/items"
: >"$list"
for t in "$dir"/tests/test_*; do
	case "$t" in *.d|*.log) continue ;; esac
	[ -x "$t" ] || continue
	name=$(basename "$t")
	echo "$name 0 $logs/$name.log $t" >>"$list"
done
for f in "$root"/scenarios/*.cow "$root"/scenarios/gup/*.cow "$root"/scenarios/matrix/*.cow; do
	[ -f "$f" ] || continue
	name=${f#"$root"/}
	echo "$name 0,1 $logs/$(echo "$name" | tr / _).log $dir/cowlab run $f --mode all" \
		"--runs $runs --iterations $iterations" >>"$list"
done
# SAN_JOBS items at a time (default 2, CI's cores): each is one process,
# single-threaded but for the stress part.
cut -d' ' -f3- "$list" | xargs -P "${SAN_JOBS:-2}" -L 1 sh "$0" --item
while read -r name okrcs log cmd; do
	rc=$(cat "$log.rc" 2>/dev/null || echo 127)
	judge "$name" "$log" "$rc" "$(echo "$okrcs" | tr , ' ')"
done <"$list"
echo "sanitize time: $(( $(date +%s) - start ))s"
echo "sanitize: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
