#!/bin/sh
# End-to-end checks of the cowlab command: exit codes, error positions,
# bad input, replay tokens.  Prints one line per check and a closing line
#     cli: N passed, N failed
# Run from the repository root with the binary built (build/cowlab).
set -u
cow=${COWLAB:-build/cowlab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "cli: ok: $1"; }
bad() { failed=$((failed + 1)); echo "cli: FAILED: $1"; }
# expect CODE DESCRIPTION COMMAND...: the command exits with CODE
expect() {
	want=$1; what=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$what"; else bad "$what (exit $got, want $want)"; cat "$tmp/out" "$tmp/err" | head -n 5; fi
}

expect 0 "--help" "$cow" --help
expect 0 "--version" "$cow" --version
expect 2 "no command" "$cow"
expect 2 "unknown command" "$cow" frobnicate
for c in run replay policies demo; do
	expect 0 "$c --help" "$cow" "$c" --help
done
expect 0 "policies" "$cow" policies
grep -q "linux-2.6.29" "$tmp/out" && ok "policies lists linux-2.6.29" || bad "policies lists linux-2.6.29"
expect 0 "run a bundled scenario" "$cow" run scenarios/cow_parent_writes.cow
expect 0 "run stress" "$cow" run scenarios/fork_vs_writer.cow --mode stress --iterations 50
expect 0 "run explore" "$cow" run scenarios/fork_vs_writer.cow --mode explore --runs 200
expect 2 "run without a file" "$cow" run
expect 2 "run an unknown mode" "$cow" run scenarios/zero_page.cow --mode fast
expect 2 "run an unknown policy" "$cow" run scenarios/zero_page.cow --policy linux-9
expect 2 "run a bad number" "$cow" run scenarios/zero_page.cow --runs -5
expect 2 "run a missing file" "$cow" run "$tmp/nope.cow"

printf 'process P\n  map buf 1 page\n  wirte buf 0x01\n' >"$tmp/typo.cow"
expect 2 "syntax error" "$cow" run "$tmp/typo.cow"
grep -q "typo.cow:3:3:" "$tmp/err" && ok "syntax error has file:line:col" || bad "syntax error has file:line:col"
: >"$tmp/empty.cow"
expect 2 "empty file" "$cow" run "$tmp/empty.cow"
grep -q "empty" "$tmp/err" && ok "empty file says so" || bad "empty file says so"
head -c 4096 /dev/urandom >"$tmp/random.cow"
expect 2 "random bytes" "$cow" run "$tmp/random.cow"
printf 'process P\n  map buf 1 page\n  madvise buf pageout\n' >"$tmp/later.cow"
expect 2 "madvise pageout" "$cow" run "$tmp/later.cow"
grep -q "spelled 'swapout RANGE'" "$tmp/err" && ok "madvise pageout points to swapout" || bad "madvise pageout points to swapout"

# A failing explore run prints a token that replays the same failure.
expect 1 "broken policy fails" "$cow" run scenarios/cow_parent_writes.cow --mode explore --policy broken-always-reuse --runs 50
token=$(sed -n 's/^ *cowlab replay //p' "$tmp/out" | head -n 1)
if [ -n "$token" ]; then
	ok "failure prints a replay token"
	expect 1 "replay reproduces the failure" "$cow" replay "$token"
	grep -q "leak" "$tmp/out" && ok "replay shows the verdict" || bad "replay shows the verdict"
else
	bad "failure prints a replay token"
fi
expect 2 "replay a malformed token" "$cow" replay "cow1:oops"
expect 0 "replay a demo token" "$cow" replay "cow1:locked-counter:-:random:3"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
