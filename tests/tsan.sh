#!/bin/sh
# The ThreadSanitizer suite (make tsan; make test runs it too): in a build
# made with -fsanitize=thread -DCOW_TSAN=1 (default folder build/tsan), run
#   1. DIR/tsan_selftest (tests/tsan_selftest.c): its 'race' case must be
#      reported, so the suite cannot pass with TSan absent or blind, and
#      its 'fenced' and 'mb' cases (message passing through the sync
#      layer's fences) and 'rcu' (a plain store after a grace period)
#      must not be;
#   2. DIR/cowlab run FILE --mode stress over every bundled scenario:
#      scenarios/*.cow, scenarios/gup/*.cow and scenarios/matrix/*.cow.
# Each self-test case and each scenario counts as one item.  A scenario
# passes iff TSan reported nothing and it exited 0 or 1 (1 is a scenario's
# check failing under its policy, the model's verdict).  Prints one line
# per item that fails, with the end of its log, then
#     tsan time: Ns
#     tsan: N passed, N failed
# Exit status 0 iff nothing failed and something passed.
#
# Only the stress back end runs here: it is the one with real threads.  The
# explorer runs every task on one OS thread, switching stacks behind
# TSan's back.
#
# Budget (make test's TSan part is kept near 20 s on two cores):
# TSAN_ITERATIONS stress repetitions per scenario (default 100), but
# TSAN_PRESSURE_ITERATIONS (default 20) for a scenario whose 'system' line
# limits the frames (memory pressure: each repetition reclaims and swaps
# through a file, some 30 times the work of the others; they run first),
# two items at a time (TSAN_JOBS).  TSan finds a race from the order its
# two accesses were in, not from their overlapping, so what repetitions
# buy is coverage of paths (contended locks, reclaim meeting a fault), and
# a hundred short ones cover them.
#
# If TSan cannot start on this host (its runtime wants a narrower mmap
# randomisation than the kernel's vm.mmap_rnd_bits gives: "unexpected
# memory mapping"), the suite runs under setarch -R (no randomisation);
# if that is impossible too it prints
#     tsan: SKIPPED (reason)
# and exits 0, counting nothing.
set -u
dir=${1:-build/tsan}
limit=${TEST_TIMEOUT:-600}
iterations=${TSAN_ITERATIONS:-100}
pressure=${TSAN_PRESSURE_ITERATIONS:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
# --item LOG CMD...: run one item (in a job of xargs below), its exit
# status to LOG.rc.
if [ "${1:-}" = --item ]; then
	log=$2
	shift 2
	timeout "$limit" ${TSAN_WRAP:-} "$@" >"$log" 2>&1
	echo $? >"$log.rc"
	exit 0
fi
# A distinctive exit status for a TSan report, told apart from the
# program's own 1 and 2.  halt_on_error stays off: one run shows every
# race it meets.  atexit_sleep_ms=0: TSan would otherwise sleep a second
# before every exit, which is most of a small scenario's run.
TSAN_RC=86
export TSAN_OPTIONS="exitcode=$TSAN_RC:halt_on_error=0:second_deadlock_stack=1:atexit_sleep_ms=0${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
passed=0
failed=0
logs="$dir/tsan"
mkdir -p "$logs"

# Can TSan run here at all?  Try the self-test's quiet case plainly, then
# without address-space randomisation.
TSAN_WRAP=
if ! "$dir/tsan_selftest" fenced >"$logs/probe.log" 2>&1; then
	if grep -q 'unexpected memory mapping\|FATAL: ThreadSanitizer' "$logs/probe.log" &&
		setarch "$(uname -m)" -R "$dir/tsan_selftest" fenced >"$logs/probe.log" 2>&1; then
		TSAN_WRAP="setarch $(uname -m) -R"
	elif grep -q 'unexpected memory mapping\|FATAL: ThreadSanitizer' "$logs/probe.log"; then
		echo "tsan: SKIPPED (ThreadSanitizer cannot run on this host:" \
			"$(grep -m 1 'ThreadSanitizer' "$logs/probe.log"))"
		exit 0
	fi
fi
export TSAN_WRAP

# fail NAME LOG RC WHY: count one failed item.
fail() {
	failed=$((failed + 1))
	[ "$3" -eq 124 ] && echo "$1: timed out after ${limit}s"
	echo "$1: FAILED under TSan ($4, exit status $3)"
	echo "---- $2"
	tail -n 80 "$2"
	echo "----"
}
start=$(date +%s)

# 1. The self-test.
for c in race fenced mb rcu; do
	log="$logs/selftest_$c.log"
	sh "$0" --item "$log" "$dir/tsan_selftest" "$c"
	rc=$(cat "$log.rc")
	if [ "$c" = race ]; then
		if grep -q 'WARNING: ThreadSanitizer: data race' "$log" && [ "$rc" -eq $TSAN_RC ]; then
			passed=$((passed + 1))
		else
			fail "tsan_selftest $c" "$log" "$rc" "a deliberate race went unreported"
		fi
	elif grep -q 'WARNING: ThreadSanitizer' "$log" || [ "$rc" -ne 0 ]; then
		fail "tsan_selftest $c" "$log" "$rc" "a report on ordered accesses"
	else
		passed=$((passed + 1))
	fi
done

# 2. The scenarios, TSAN_JOBS at a time.
list="$logs/items"
: >"$list"
: >"$list.rest"
for f in "$root"/scenarios/*.cow "$root"/scenarios/gup/*.cow "$root"/scenarios/matrix/*.cow; do
	[ -f "$f" ] || continue
	name=${f#"$root"/}
	if grep -q '^system .*frames=' "$f"; then
		n=$pressure
		out=$list
	else
		n=$iterations
		out=$list.rest
	fi
	echo "$name $logs/$(echo "$name" | tr / _).log $dir/cowlab run $f --mode stress" \
		"--iterations $n" >>"$out"
done
cat "$list.rest" >>"$list"
cut -d' ' -f2- "$list" | xargs -P "${TSAN_JOBS:-2}" -L 1 sh "$0" --item
while read -r name log cmd; do
	rc=$(cat "$log.rc" 2>/dev/null || echo 127)
	if grep -q 'WARNING: ThreadSanitizer' "$log"; then
		fail "$name" "$log" "$rc" "a ThreadSanitizer report"
	elif [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		fail "$name" "$log" "$rc" "an unexpected exit status"
	else
		passed=$((passed + 1))
	fi
done <"$list"
echo "tsan time: $(( $(date +%s) - start ))s"
echo "tsan: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
