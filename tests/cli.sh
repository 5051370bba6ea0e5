#!/bin/sh
# End-to-end checks of the cowlab command: exit codes, error positions,
# bad input, replay tokens.  Prints one line per check and a closing line
#     cli: N passed, N failed, N skipped
# A check this host cannot make (it needs root, or no active swap) is
# skipped with the reason, never counted as passed.
# Run from the repository root with the binary built (build/cowlab).
set -u
cow=${COWLAB:-build/cowlab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0
failed=0
skipped=0
ok() { passed=$((passed + 1)); echo "cli: ok: $1"; }
bad() { failed=$((failed + 1)); echo "cli: FAILED: $1"; }
skip() { skipped=$((skipped + 1)); echo "cli: SKIPPED: $1"; }
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
for c in run explore matrix merge replay policies demo kernel diff check compare; do
	expect 0 "$c --help" "$cow" "$c" --help
done
expect 0 "policies" "$cow" policies
grep -q "linux-2.6.29" "$tmp/out" && ok "policies lists linux-2.6.29" || bad "policies lists linux-2.6.29"
# Every preset's listing whole, to its last rule and its commits.
np=$(grep -c "^[a-z]" "$tmp/out"); nl=$(grep -c "^    MADV_COLLAPSE: " "$tmp/out"); nc=$(grep -c "^    commits: " "$tmp/out")
[ "$np" -ge 18 ] && [ "$nl" = "$np" ] && [ "$nc" = "$np" ] && ok "policies lists every rule of all $np presets" || bad "policies lists every rule of every preset ($np presets, $nl last rules, $nc commit lines)"
# The replay token the README and docs/explorer.md print still replays
# the counterexample it names on this build (a rule change makes it
# stale: explore again and put the new token in both).
for doc in README.md docs/explorer.md; do
	tok=$(sed -n 's/.*replay --trace \(cow2:[^ ]*\).*/\1/p' "$doc" | head -n 1)
	if [ -n "$tok" ]; then
		expect 1 "the token in $doc replays its counterexample" "$cow" replay "$tok"
		grep -q "FAILED after" "$tmp/out" || bad "the token in $doc names a failing run"
	else
		bad "$doc shows a replay token"
	fi
done
# Rule sets of the user's: policies --rules names every rule, and under
# each rule every preset has exactly one value.
expect 0 "policies --rules" "$cow" policies --rules
nk=$(grep -c "^[a-z_]*: " "$tmp/out")
awk -v np="$np" '/^[a-z_]+: /{if (k != "" && n != np) bad = bad " " k; k = $1; n = 0} /presets: /{sub(/.*presets: /, ""); if ($0 != "none") n += split($0, a, ", ")} END {if (n != np) bad = bad " " k; exit bad != ""}' "$tmp/out" &&
	[ "$nk" -ge 20 ] && ok "policies --rules: $nk rules, each with one value per preset" || bad "policies --rules: $nk rules, or a rule without one value per preset"
expect 1 "run under a rule set: linux-6.5 with the write fault always reusing" "$cow" run scenarios/cow_parent_writes.cow --policy linux-6.5+wp_reuse=always
grep -q "FAILED (seq, linux-6.5+wp_reuse=always)" "$tmp/out" && grep -q "leak:" "$tmp/out" && ok "a rule set is named in the result and changes the verdict" || bad "a rule set is named in the result and changes the verdict"
expect 2 "a rule set with an unknown value" "$cow" run scenarios/cow_parent_writes.cow --policy linux-6.5+fork=sometimes
grep -q "rule 'fork' has no value 'sometimes' (one of share, " "$tmp/err" && ok "an unknown value is named with the choices" || bad "an unknown value is named with the choices"
expect 2 "a rule set with an unknown rule" "$cow" explore scenarios/cow_parent_writes.cow --policy linux-6.5+frok=share
grep -q "unknown rule 'frok' (cowlab policies --rules lists them)" "$tmp/err" && ok "an unknown rule is named" || bad "an unknown rule is named"
# linux-6.5 without its fork-time copy of pinned pages and with direct
# I/O by FOLL_GET: dma_thread's race is back, and its token replays the
# counterexample on this very build, rules and all.
expect 1 "explore a rule set: linux-6.5+fork=share+dio_pin=foll-get loses dma_thread's data" "$cow" explore scenarios/gup/dma_thread.cow --policy linux-6.5+fork=share+dio_pin=foll-get --time 120
tok=$(grep -o 'cow2:[^ ]*' "$tmp/out" | head -n 1)
case "$tok" in cow2:scenarios/gup/dma_thread.cow:linux-6.5+fork=share+dio_pin=foll-get:*) ok "the token carries the rule set" ;; *) bad "the token carries the rule set ($tok)" ;; esac
[ -n "$tok" ] && expect 1 "a rule set's token replays its counterexample" "$cow" replay "$tok"
alt=$(echo "$tok" | sed 's/linux-6.5+fork=share+dio_pin=foll-get/linux-6.5+fork=share/')
[ -n "$tok" ] && expect 2 "a token under other rules is refused" "$cow" replay "$alt"
grep -q "the rules of linux-6.5+fork=share differ" "$tmp/err" && ok "a token under other rules: says so" || bad "a token under other rules: says so"
# (Without anon_exclusive=off, S4 would call the reuse of a shared page
# a broken invariant, as it is under 5.19's rules.)
expect 1 "matrix with a rule set as a column (no expect line names it)" "$cow" matrix scenarios/matrix/r01_cow_after_fork.cow --policy linux-6.5,linux-6.5+wp_reuse=always+anon_exclusive=off
grep -q "^r01_cow_after_fork  *pass  *leak?" "$tmp/out" && ok "matrix: the rule set's column" || bad "matrix: the rule set's column"
# A rule set whose unshare fault never makes the page exclusive: GUP gives
# up after COW_GUP_MAX_FAULTS faults (a livelock), where it would spin.
expect 1 "a rule set that livelocks GUP ends, as a livelock" timeout 60 "$cow" run scenarios/swap_in_gup.cow --policy linux-2.6.29+gup=unshare-all
grep -q "livelock: scenarios/swap_in_gup.cow:11:3: pin: get_user_pages faulted 1000 times at one address" "$tmp/out" && ok "a GUP livelock names the operation and the bound" || bad "a GUP livelock names the operation and the bound"

# --policies FILE: named rule sets, usable by --policy of any command;
# the run and its token carry the rule set itself, so the token replays
# without the file.
printf '# rule sets\nnofix = linux-6.5 + fork=share + dio_pin = foll-get\nsix = linux-6.5+anon_exclusive=on\n' >"$tmp/my.policy"
expect 1 "--policies: a named rule set" "$cow" explore scenarios/gup/dma_thread.cow --policy nofix --policies "$tmp/my.policy"
tok=$(grep -o 'cow2:[^ ]*' "$tmp/out" | head -n 1)
case "$tok" in *:linux-6.5+fork=share+dio_pin=foll-get:*) ok "--policies: the token carries the rule set, not its name" ;; *) bad "--policies: the token carries the rule set, not its name ($tok)" ;; esac
[ -n "$tok" ] && expect 1 "--policies: the token replays without the file" "$cow" replay "$tok"
expect 0 "policies --policies lists the names" "$cow" policies --policies "$tmp/my.policy"
grep -q "^nofix = linux-6.5+fork=share+dio_pin=foll-get$" "$tmp/out" && grep -q "^six = linux-6.5$" "$tmp/out" && ok "policies: a name and its rule set" || bad "policies: a name and its rule set"
printf 'ok1 = linux-6.5\nlinux-5.8 = linux-6.5+fork=share\n' >"$tmp/bad.policy"
expect 2 "--policies: a preset's name is refused" "$cow" run scenarios/cow_parent_writes.cow --policies "$tmp/bad.policy"
grep -q "bad.policy:2: 'linux-5.8' is a preset already" "$tmp/err" && ok "--policies: FILE:LINE and the reason" || bad "--policies: FILE:LINE and the reason"
expect 2 "--policies: a missing file" "$cow" run scenarios/cow_parent_writes.cow --policies "$tmp/none.policy"

# explore --json: the trace as events, as many as the text's rows.
expect 1 "explore --json: a trace as events" "$cow" explore scenarios/gup/dma_thread.cow --policy linux-2.6.29 --json
if command -v python3 >/dev/null 2>&1; then
	python3 - "$tmp/out" <<'PY' && ok "explore --json: trace_events has the documented fields, a row per visible step" || bad "explore --json: trace_events"
import json, sys
res = [json.loads(l) for l in open(sys.argv[1]) if '"type":"result"' in l][0]
t = res["trace_events"]
assert set(t) == {"steps", "visible_steps", "preemptions", "truncated", "tasks", "events", "failed",
                  "failed_step", "failed_source", "failed_operation"}
assert t["visible_steps"] == res["visible_steps"] == len(t["events"]) > 5
assert t["failed"] == res["message"] and t["failed_source"] == "dma_thread.cow:21"
assert t["failed_operation"].startswith("check corrupt buf[4608..+4K]")
steps = [e["step"] for e in t["events"]]
assert steps == sorted(steps) and t["failed_step"] >= steps[-1] // 2
text = res["trace"].splitlines()
# The text's last row is the failing check's, with the bytes found and expected.
last = [l for l in text if l.startswith("!")]
assert len(last) == 1 and "dma_thread.cow:21  failed: corrupt:" in last[0] and "found 0xfa" in res["trace"]
assert max(len(l) for l in text) <= 120
for e in t["events"]:
    assert set(e) == {"step", "last_step", "task", "task_index", "source", "operation", "ops",
                      "object", "before", "after", "deviation", "decisions"}
    assert t["tasks"][e["task_index"]] == e["task"] and e["last_step"] >= e["step"]
    assert "%6d" % e["step"] in res["trace"]
    # Every row of a thread or device names its .cow line and operation.
    if e["source"]:
        assert e["source"].startswith("dma_thread.cow:") and e["operation"]
        assert any(("%6d" % e["step"]) in l and e["source"] in l for l in text)
    for d in e["decisions"]:
        assert ("= " + d)[:40] in res["trace"]
assert any(e["object"].startswith("page pfn") and e["before"] != e["after"] for e in t["events"])
assert {"dio of worker0 (cpu63)", "dio of worker1 (cpu63)", "dio of worker2 (cpu63)"} <= set(t["tasks"])
# The decisions that make the race, with their reasons.
ds = [d for e in t["events"] for d in e["decisions"]]
assert any(d.startswith("gup-fast 0x") and d.endswith("(no re-check in this era)") for d in ds)
assert any(d.startswith("fork pfn") and "the era shares every page" in d for d in ds)
assert any(d.startswith("do_wp_page pfn") and d.endswith("mapcount rule, copy") for d in ds)
assert sum(1 for e in t["events"] if e["source"]) >= len(t["events"]) - 1
PY
else
	skip "explore --json: trace_events (no python3 to read JSON)"
fi

# compare: the same seeds under two rule sets, the first that tells them
# apart with both traces and tokens, each of which replays its run.
expect 1 "compare: linux-2.6.29 and linux-6.5 on row 3" "$cow" compare scenarios/matrix/r03_pin_fork.cow --policy linux-2.6.29,linux-6.5 --runs 50
grep -q "tells them apart: desync under linux-2.6.29, pass under linux-6.5$" "$tmp/out" && [ "$(grep -c '^trace: ' "$tmp/out")" = 2 ] && ok "compare: both verdicts and both traces" || bad "compare: both verdicts and both traces"
ta=$(sed -n 's/^replay it with: cowlab replay --trace \(cow2:[^ ]*linux-2.6.29[^ ]*\)$/\1/p' "$tmp/out")
tb=$(sed -n 's/^replay it with: cowlab replay --trace \(cow2:[^ ]*linux-6.5[^ ]*\)$/\1/p' "$tmp/out")
[ -n "$ta" ] && expect 1 "compare: the failing side's token replays its failure" "$cow" replay "$ta"
[ -n "$tb" ] && expect 0 "compare: the passing side's token replays its pass" "$cow" replay "$tb"
expect 0 "compare: two presets that agree on a sample" "$cow" compare scenarios/cow_parent_writes.cow --policy linux-6.2,linux-6.5 --runs 20
grep -q "same verdict on every one of 20 schedules (the one without a deviation, then seeds from 1): sampled, not every schedule$" "$tmp/out" && ok "compare: agreement is called a sample" || bad "compare: agreement is called a sample"
expect 2 "compare: one policy" "$cow" compare scenarios/cow_parent_writes.cow --policy linux-6.5
expect 2 "compare: the same rules twice" "$cow" compare scenarios/cow_parent_writes.cow --policy linux-6.5,linux-6.5+anon_exclusive=on
grep -q "are the same rules" "$tmp/err" && ok "compare: the same rules twice, said" || bad "compare: the same rules twice, said"

# The README's quick start, as a reader would run it.
sed -n '/^<!-- quick start scenario -->$/,/^<!-- end of the quick start scenario -->$/p' README.md | sed '1,2d;$d' | sed '$d' >"$tmp/race.cow"
expect 0 "quick start: check" "$cow" check "$tmp/race.cow"
expect 1 "quick start: linux-2.6.29 loses the read" "$cow" explore "$tmp/race.cow" --policy linux-2.6.29
grep -q "corrupt: .*race.cow:12:3: check corrupt buf\[0..+2048\] == data" "$tmp/out" && ok "quick start: the verdict the README names" || bad "quick start: the verdict the README names"
tok=$(grep -o 'cow2:[^ ]*' "$tmp/out" | head -n 1)
[ -n "$tok" ] && expect 1 "quick start: the replay line" "$cow" replay --trace "$tok"
expect 0 "quick start: linux-6.5 finds nothing" "$cow" explore "$tmp/race.cow" --policy linux-6.5 --runs 3000
expect 1 "quick start: compare tells them apart" "$cow" compare "$tmp/race.cow" --policy linux-2.6.29,linux-6.5
expect 1 "quick start: linux-6.5 without its fix loses the read" "$cow" explore "$tmp/race.cow" --policy linux-6.5+fork=share+dio_pin=foll-get

# check: parse and validate, run nothing; every file is reported.
expect 0 "check every bundled scenario" "$cow" check scenarios scenarios/gup scenarios/matrix
nf=$(ls scenarios/*.cow scenarios/gup/*.cow scenarios/matrix/*.cow | wc -l)
grep -q "^check: $nf of $nf files valid$" "$tmp/out" && [ "$(grep -c ': ok: ' "$tmp/out")" = "$nf" ] && ok "check: all $nf files valid, one line each" || bad "check: all $nf files valid, one line each"
printf 'process P\n  map buf 1 page\n  wirte buf 0x11\n' >"$tmp/typo2.cow"
printf 'policy linux-6.5 + fork = sometimes\nprocess P\n  map buf 1 page\n' >"$tmp/rules.cow"
expect 2 "check: invalid files" "$cow" check "$tmp/typo2.cow" scenarios/zero_page.cow "$tmp/rules.cow"
grep -q "typo2.cow:3:3: " "$tmp/err" && grep -q "rules.cow:1:8: policy linux-6.5+fork=sometimes: rule 'fork' has no value 'sometimes'" "$tmp/err" && grep -q "^scenarios/zero_page.cow: ok: " "$tmp/out" && grep -q "^check: 1 of 3 files valid$" "$tmp/out" && ok "check: each error at FILE:LINE:COL, the valid file still reported" || bad "check: each error at FILE:LINE:COL, the valid file still reported"
expect 2 "check without a file" "$cow" check
expect 0 "run a bundled scenario" "$cow" run scenarios/cow_parent_writes.cow
expect 0 "run stress" "$cow" run scenarios/fork_vs_writer.cow --mode stress --iterations 50
expect 0 "run explore" "$cow" run scenarios/fork_vs_writer.cow --mode explore --runs 200
expect 2 "run without a file" "$cow" run
expect 2 "run an unknown mode" "$cow" run scenarios/zero_page.cow --mode fast
expect 2 "run an unknown policy" "$cow" run scenarios/zero_page.cow --policy linux-9
expect 2 "run a bad number" "$cow" run scenarios/zero_page.cow --runs -5
expect 2 "run a missing file" "$cow" run "$tmp/nope.cow"

# Options: an unknown one is named as unknown, a zero count names the
# option and its range, --opt=value is the same as --opt value.
for c in run explore matrix replay demo kernel diff policies check compare; do
	expect 2 "$c: an unknown option" "$cow" "$c" --frob
	grep -q "unknown option '--frob'" "$tmp/err" && ok "$c: says the option is unknown" || bad "$c: says the option is unknown"
done
expect 2 "run --runs 0" "$cow" run scenarios/zero_page.cow --mode explore --runs 0
grep -q -- "--runs takes a whole number from 1" "$tmp/err" && ok "run --runs 0 names the range" || bad "run --runs 0 names the range"
expect 2 "run --iterations 0" "$cow" run scenarios/zero_page.cow --mode stress --iterations 0
grep -q -- "--iterations takes a whole number from 1" "$tmp/err" && ok "run --iterations 0 names the range" || bad "run --iterations 0 names the range"
expect 2 "kernel --iterations 0" "$cow" kernel scenarios/zero_page.cow --iterations 0
grep -q -- "--iterations takes a whole number from 1" "$tmp/err" && ok "kernel --iterations 0 names the range" || bad "kernel --iterations 0 names the range"
expect 2 "demo --runs 0 (would never end)" timeout 20 "$cow" demo --runs 0
grep -q -- "--runs takes a whole number from 1" "$tmp/err" && ok "demo --runs 0 names the range" || bad "demo --runs 0 names the range"
expect 0 "run --runs=3" "$cow" run scenarios/fork_vs_writer.cow --mode=explore --runs=3
grep -q "3 runs" "$tmp/out" && ok "run --runs=3 ran 3 runs" || bad "run --runs=3 ran 3 runs"
expect 0 "explore --runs=3" "$cow" explore scenarios/fork_vs_writer.cow --runs=3 --algo=random
grep -q "3 run" "$tmp/out" && ok "explore --runs=3 ran 3 runs" || bad "explore --runs=3 ran 3 runs"
expect 0 "demo --runs=5" "$cow" demo --runs=5 --seed=2
expect 2 "a flag given a value" "$cow" explore scenarios/fork_vs_writer.cow --json=yes

printf 'process P\n  map buf 1 page\n  wirte buf 0x01\n' >"$tmp/typo.cow"
expect 2 "syntax error" "$cow" run "$tmp/typo.cow"
grep -q "typo.cow:3:3:" "$tmp/err" && ok "syntax error has file:line:col" || bad "syntax error has file:line:col"
: >"$tmp/empty.cow"
expect 2 "empty file" "$cow" run "$tmp/empty.cow"
grep -q "empty" "$tmp/err" && ok "empty file says so" || bad "empty file says so"
head -c 4096 /dev/urandom >"$tmp/random.cow"
expect 2 "random bytes" "$cow" run "$tmp/random.cow"
# An unknown preset on a policy line is reported at parse time, with its place.
printf 'policy frobnicate\nprocess P\n  map buf 1 page\n' >"$tmp/pol.cow"
expect 2 "an unknown policy line" "$cow" run "$tmp/pol.cow"
grep -q "pol.cow:1:8: unknown policy 'frobnicate' (cowlab policies lists them)" "$tmp/err" && ok "an unknown policy line has file:line:col" || bad "an unknown policy line has file:line:col"
# A scenario's own mistake (a write to a read-only mapping it does not
# mark 'check ... faults') is verdict error, exit 3: not a bug found.
printf 'process P\n  map buf 1 page ro\n  write buf 0x11\n' >"$tmp/ro.cow"
expect 3 "run: the scenario is wrong" "$cow" run "$tmp/ro.cow"
grep -q "ro.cow: ERROR (seq, linux-6.5): the scenario is wrong" "$tmp/out" && ok "run: says ERROR, the scenario is wrong" || bad "run: says ERROR, the scenario is wrong"
expect 3 "run --mode all: the scenario is wrong" "$cow" run "$tmp/ro.cow" --mode all --iterations 2 --runs 5
expect 3 "explore: the scenario is wrong" "$cow" explore "$tmp/ro.cow"
grep -q "ro.cow: ERROR (linux-6.5) in run 1 .*the scenario is wrong" "$tmp/out" && ok "explore: says ERROR, not FOUND" || bad "explore: says ERROR, not FOUND"
token=$(sed -n 's/^ *cowlab replay //p' "$tmp/out" | tail -n 1)
expect 3 "replay: the scenario is wrong" "$cow" replay "$token"
mkdir "$tmp/mxro"
cp "$tmp/ro.cow" "$tmp/mxro/ro.cow"
expect 3 "matrix: an unexpected error cell" "$cow" matrix "$tmp/mxro" --policy linux-6.5
printf 'expect error linux-6.5\n' | cat - "$tmp/ro.cow" >"$tmp/mxro/ro.cow"
expect 0 "matrix: 'expect error' matches an error cell" "$cow" matrix "$tmp/mxro" --policy linux-6.5
# The host's side says the same, with the same exit status.
expect 3 "kernel: the scenario is wrong" "$cow" kernel "$tmp/ro.cow"
grep -q "error 1" "$tmp/out" && ok "kernel: counts the error iteration" || bad "kernel: counts the error iteration"
expect 3 "diff: the scenario is wrong (both sides agree on error)" "$cow" diff "$tmp/ro.cow"
grep -q "the scenario is wrong in the model: .*ro.cow:3:3: write failed" "$tmp/out" && ok "diff: says the scenario is wrong" || bad "diff: says the scenario is wrong"

# Ctrl-C in matrix prints the cells finished so far and exits 130.
"$cow" matrix scenarios/matrix --jobs 1 --time 1 >"$tmp/out" 2>"$tmp/err" &
mpid=$!
sleep 2
kill -INT "$mpid"
wait "$mpid"
got=$?
[ "$got" -eq 130 ] && ok "matrix: SIGINT exits 130" || bad "matrix: SIGINT exits 130 (exit $got)"
ncells=$(( $(ls scenarios/matrix/*.cow | wc -l) * $("$cow" policies | grep -c "^[a-z]") ))
grep -q "^interrupted: [0-9]* of $ncells cells finished, the others are marked '-'" "$tmp/out" && ok "matrix: SIGINT says it was interrupted" || bad "matrix: SIGINT says it was interrupted"
grep -q "^r01_cow_after_fork  *pass " "$tmp/out" && grep -q "^r2[0-9].*  -  " "$tmp/out" && ok "matrix: SIGINT prints the finished cells and marks the others" || bad "matrix: SIGINT prints the finished cells and marks the others"

# A cell's default budget is runs, not seconds: the same search as with
# a time limit too long to matter (dma_thread's runs take longer
# than the 2 seconds a cell once had).
"$cow" matrix scenarios/gup/dma_thread.cow --policy linux-6.5 --runs 600 --json >"$tmp/out" 2>&1
"$cow" matrix scenarios/gup/dma_thread.cow --policy linux-6.5 --runs 600 --time 1000000 --json >"$tmp/out2" 2>&1
r1=$(grep -o '"runs":[0-9]*,"seconds"' "$tmp/out"); r2=$(grep -o '"runs":[0-9]*,"seconds"' "$tmp/out2")
grep -q '"budget":{"runs":600,"time":null,"cell_timeout":300}' "$tmp/out" && grep -q '"budget":{"runs":600,"time":1e+06,"cell_timeout":1.0003e+06}' "$tmp/out2" && ok "matrix --json: the budget" || bad "matrix --json: the budget"
[ -n "$r1" ] && [ "$r1" = "$r2" ] && ok "matrix: the default budget is runs alone ($r1)" || bad "matrix: the default budget is runs alone ($r1 vs $r2)"
# The watchdog kills a cell past --cell-timeout and marks it timeout.
expect 1 "matrix: a cell past --cell-timeout" "$cow" matrix scenarios/matrix/r17_gup_fast_vs_fork.cow --policy linux-6.5 --runs 100000000 --cell-timeout 1
grep -q "^r17_gup_fast_vs_fork  *timeout!" "$tmp/out" && grep -q "^1 crash\|^0 crash, 1 timeout (no verdict" "$tmp/out" && grep -q "0 fail (each a counterexample)" "$tmp/out" && ok "matrix: a timeout cell is no counterexample" || bad "matrix: a timeout cell is no counterexample"
expect 2 "matrix --cell-timeout 0" "$cow" matrix --cell-timeout 0
"$cow" matrix scenarios/matrix/r17_gup_fast_vs_fork.cow --policy linux-6.5 --runs 100000000 --cell-timeout 1 --json >"$tmp/out" 2>&1
grep -q '"found":"timeout",.*"search":"lost",.*"timeouts":1,' "$tmp/out" && ok "matrix --json: a timeout cell" || bad "matrix --json: a timeout cell"
# A worker that dies in a cell costs that cell: 'crash', with the token of
# the run in progress, which replays.
"$cow" matrix scenarios/gup/forkscrew.cow --policy linux-6.5 --runs 100000000 --jobs 1 >"$tmp/out" 2>&1 &
mpid=$!
sleep 1
wpid=$(pgrep -P "$mpid" | head -n 1)
[ -n "$wpid" ] && kill -SEGV "$wpid"
wait "$mpid"
got=$?
tok=$(sed -n 's/^ *cowlab replay \(cow2:.*\)$/\1/p' "$tmp/out" | head -n 1)
if [ "$got" -eq 1 ] && grep -q "^forkscrew  *crash?" "$tmp/out" && grep -q "^1 crash, 0 timeout" "$tmp/out" && [ -n "$tok" ]; then
	ok "matrix: a worker's crash is a crash cell with a token"
	"$cow" replay "$tok" >"$tmp/out2" 2>&1
	got=$?
	[ "$got" -le 1 ] && grep -q "forkscrew.cow (linux-6.5): " "$tmp/out2" && ok "matrix: a crash cell's token replays" || bad "matrix: a crash cell's token replays (exit $got)"
else
	bad "matrix: a worker's crash is a crash cell with a token (exit $got)"
	cat "$tmp/out"
fi

# The resource guard: a scenario whose run may take more memory than
# --max-memory (default half the RAM) is refused before anything is mapped.
printf 'process P\n  map buf 16777216 pages\n  write buf[0..4K] 0x11\n  check corrupt buf[0..4K] == 0x11\n' >"$tmp/big.cow"
for c in run explore matrix kernel diff; do
	expect 2 "$c: a 64 GiB mapping is refused" timeout 60 "$cow" "$c" "$tmp/big.cow" --max-memory 16G
	grep -q "big.cow: refused: a run may take 65.1 GiB of memory .*more than the limit of 16.0 GiB (--max-memory)" "$tmp/err" && ok "$c: says why it refused" || bad "$c: says why it refused"
done
if [ "$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo)" -lt 130000000 ]; then
	expect 2 "run: a 64 GiB mapping is refused by default" timeout 60 "$cow" run "$tmp/big.cow"
	grep -q "refused: .*(half of this machine's RAM)" "$tmp/err" && ok "run: names the default limit" || bad "run: names the default limit"
else
	skip "run: the default memory limit (this host has 130 GB or more: half of it holds the 64 GiB scenario)"
fi
expect 2 "run --max-memory 300K refuses a small scenario" "$cow" run scenarios/cow_parent_writes.cow --max-memory 300K
expect 0 "run --max-memory 1M runs it" "$cow" run scenarios/cow_parent_writes.cow --max-memory 1M
for v in 0 1X -5 G 1.5Q; do
	expect 2 "run --max-memory '$v'" "$cow" run scenarios/cow_parent_writes.cow --max-memory "$v"
	grep -q "max-memory takes a size in bytes" "$tmp/err" && ok "run --max-memory '$v' says why" || bad "run --max-memory '$v' says why"
done

# Ctrl-C in explore (one process or --jobs): the runs so far, exit 130.
for j in 1 2; do
	"$cow" explore scenarios/gup/forkscrew.cow --policy linux-6.5 --jobs $j --time 60 >"$tmp/out" 2>"$tmp/err" &
	epid=$!
	sleep 2
	kill -INT "$epid"
	wait "$epid"
	got=$?
	[ "$got" -eq 130 ] && grep -q "nothing found (linux-6.5), sampled: [0-9]* runs" "$tmp/out" && grep -q "interrupted: the search stopped after [0-9]* runs" "$tmp/err" && ok "explore --jobs $j: SIGINT reports the runs and exits 130" || bad "explore --jobs $j: SIGINT reports the runs and exits 130 (exit $got)"
	sleep 0.2
	pgrep -f "explore scenarios/gup/forkscrew.cow --policy linux-6.5 --jobs $j --time 60" >/dev/null && bad "explore --jobs $j: workers left after SIGINT" || ok "explore --jobs $j: no worker left after SIGINT"
done

# A run cut at --max-steps is a livelock, and its token replays it as one.
expect 1 "explore --max-steps 1: a livelock" "$cow" explore scenarios/fork_vs_writer.cow --max-steps 1
grep -q "FOUND livelock (linux-6.5)" "$tmp/out" && ok "explore --max-steps 1 says livelock" || bad "explore --max-steps 1 says livelock"
token=$(sed -n 's/^ *cowlab replay //p' "$tmp/out" | tail -n 1)
case $token in *:max-steps=1) ok "the token carries max-steps" ;; *) bad "the token carries max-steps ($token)" ;; esac
expect 1 "replay of a max-steps token: the livelock again" "$cow" replay "$token"
grep -q "livelock: no outcome after 1 steps" "$tmp/out" && ok "replay reproduces the livelock" || bad "replay reproduces the livelock"
! grep -q "livelock: livelock" "$tmp/out" "$tmp/err" && ok "replay names the livelock once" || bad "replay names the livelock once"
expect 2 "a token with a bad max-steps" "$cow" replay "${token%=1}=0"

# A negative number is said to be one, not taken for a misspelt '->'.
printf 'process P\n  map buf 1 page\n  write buf[-1..4] 0x11\n' >"$tmp/neg.cow"
expect 2 "a negative offset" "$cow" run "$tmp/neg.cow"
grep -q "neg.cow:3:13: a number cannot be negative" "$tmp/err" && ok "a negative offset is called negative" || bad "a negative offset is called negative"
printf 'process P\n  map buf 1 page\n  repeat -3\n    write buf 0x11\n' >"$tmp/neg2.cow"
expect 2 "a negative repeat" "$cow" run "$tmp/neg2.cow"
grep -q "neg2.cow:3:10: a number cannot be negative" "$tmp/err" && ok "a negative repeat is called negative" || bad "a negative repeat is called negative"
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
expect 2 "replay a malformed token" "$cow" replay "cow2:oops"
expect 0 "replay a demo token" "$cow" replay "cow2:locked-counter:-:1:-:random:3"
expect 2 "replay a demo token of another version" "$cow" replay "cow2:locked-counter:-:99:-:random:3"
grep -q "locked-counter has changed since the token was made" "$tmp/err" && ok "a demo's version binds its tokens" || bad "a demo's version binds its tokens"

# A token binds to what it replays: the scenario file's bytes and the
# preset's rules.  A copy of a scenario, changed after its token was made,
# or the token's rules hash edited (other rules under the preset's name),
# is refused with exit 2 and what changed; so is a token of the first
# format, which carries no hash.
mkdir -p "$tmp/tok"
cp scenarios/cow_parent_writes.cow "$tmp/tok/x.cow"
expect 1 "token: a failing run of a copy" "$cow" run "$tmp/tok/x.cow" --mode explore --policy broken-always-reuse --runs 50
token=$(sed -n 's/^ *cowlab replay //p' "$tmp/out" | head -n 1)
case $token in
"cow2:$tmp/tok/x.cow:broken-always-reuse:"*) ok "token: cow2, the file, the preset ($token)" ;;
*) bad "token: cow2, the file, the preset ($token)" ;;
esac
expect 1 "token: replays on the unchanged file" "$cow" replay "$token"
echo "# an edit after the token was made" >>"$tmp/tok/x.cow"
expect 2 "token: refused on the changed file" "$cow" replay "$token"
grep -q "x.cow has changed since the token was made" "$tmp/err" && ok "token: says the file changed" || bad "token: says the file changed: $(cat "$tmp/err")"
expect 2 "token: replay --trace refused on the changed file" "$cow" replay --trace "$token"
cp scenarios/cow_parent_writes.cow "$tmp/tok/x.cow"
expect 1 "token: replays on the file restored" "$cow" replay "$token"
other=$(echo "$token" | awk -F: -v OFS=: '{ $5 = ($5 == "1" ? "2" : "1"); print }')
expect 2 "token: refused under other rules" "$cow" replay "$other"
grep -q "the rules of broken-always-reuse differ from those the token was made under" "$tmp/err" && ok "token: says the rules differ" || bad "token: says the rules differ: $(cat "$tmp/err")"
grep -q "has changed" "$tmp/err" && bad "token: blames only the rules" || ok "token: blames only the rules"
other=$(echo "$token" | awk -F: -v OFS=: '{ $4 = $4 "0"; print }')
expect 2 "token: an overlong hash is malformed" "$cow" replay "$other"
expect 2 "token: the first format is refused" "$cow" replay "cow1:$tmp/tok/x.cow:broken-always-reuse:random:1"
grep -q 'a "cow1:" token carries no hash' "$tmp/err" && ok "token: says a cow1 token carries no hash" || bad "token: says a cow1 token carries no hash"

# Every verdict says what it rests on: a scenario without concurrency has
# one schedule, which every search runs (exhaustive); a racy one under a
# small budget is sampled; a failure is a counterexample.
expect 0 "explore: a single schedule" "$cow" explore scenarios/cow_parent_writes.cow --runs 10
grep -q "^scenarios/cow_parent_writes.cow: nothing found (linux-6.5), exhaustive: every schedule ran$" "$tmp/out" && ok "explore: says exhaustive" || bad "explore: says exhaustive: $(cat "$tmp/out")"
expect 0 "explore: a racy scenario, 20 runs" "$cow" explore scenarios/fork_vs_writer.cow --runs 20
grep -q "^scenarios/fork_vs_writer.cow: nothing found (linux-6.5), sampled: [0-9]* runs of PCT, random and dfs, not every schedule$" "$tmp/out" && ok "explore: says sampled" || bad "explore: says sampled: $(cat "$tmp/out")"
expect 0 "explore --json: sampled" "$cow" explore scenarios/fork_vs_writer.cow --runs 20 --json
grep -q '"type":"result",.*"found":false,"search":"sampled","runs":' "$tmp/out" && ok "explore --json: search sampled" || bad "explore --json: search sampled"
expect 0 "explore --json: exhaustive" "$cow" explore scenarios/cow_parent_writes.cow --runs 10 --json
grep -q '"found":false,"search":"exhaustive","runs":' "$tmp/out" && ok "explore --json: search exhaustive" || bad "explore --json: search exhaustive"
expect 0 "run --mode explore: exhaustive" "$cow" run scenarios/cow_parent_writes.cow --mode explore --runs 10
grep -q "; exhaustive: every schedule ran$" "$tmp/out" && ok "run --mode explore: says exhaustive" || bad "run --mode explore: says exhaustive"
expect 0 "run --mode explore: sampled" "$cow" run scenarios/fork_vs_writer.cow --mode explore --runs 20 --algo pct
grep -q "; sampled: 20 PCT runs, not every schedule$" "$tmp/out" && ok "run --mode explore: says sampled" || bad "run --mode explore: says sampled: $(cat "$tmp/out")"

# cowlab explore: found and not found, shrunk traces, tokens, workers, shards.
expect 1 "explore finds gup-fast vs fork under 2.6.29" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-2.6.29
grep -q "FOUND desync" "$tmp/out" && ok "explore names the verdict" || bad "explore names the verdict"
grep -q "^trace: " "$tmp/out" && ok "explore prints a trace" || bad "explore prints a trace"
grep -q "rmw page pfn [0-9]*.refcount \[ref" "$tmp/out" && ok "the trace names pages and their counts" || bad "the trace names pages and their counts"
token=$(sed -n 's/^ *cowlab replay //p' "$tmp/out" | head -n 1)
case $token in
cow2:*:s:*) ok "explore prints a schedule token" ;;
*) bad "explore prints a schedule token ($token)" ;;
esac
expect 1 "the shrunk token replays the failure" "$cow" replay "$token"
expect 1 "replay --trace" "$cow" replay --trace "$token"
grep -q "^trace: " "$tmp/out" && ok "replay --trace prints the trace" || bad "replay --trace prints the trace"
expect 0 "explore dfs under 6.5 finds nothing" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs
grep -q "nothing found (linux-6.5), exhaustive within 2 preemptions: every schedule with at most 2 ran$" "$tmp/out" && ok "dfs says it completed its bound" || bad "dfs says it completed its bound"
runs1=$(sed -n 's/^  \([0-9]*\) runs.*/\1/p' "$tmp/out")
expect 0 "explore dfs --jobs 2" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs --jobs 2
runs2=$(sed -n 's/^  \([0-9]*\) runs.*/\1/p' "$tmp/out")
[ -n "$runs1" ] && [ "$runs1" = "$runs2" ] && ok "dfs --jobs 2 runs the same schedules ($runs1)" || bad "dfs --jobs 2 runs the same schedules ($runs1 vs $runs2)"
expect 0 "explore --algo dfs-sleep" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs-sleep
expect 0 "explore dpor under 6.5 proves the race away" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dpor --json
grep -q '"search":"exhaustive"' "$tmp/out" && ok "explore dpor: exhaustive" || bad "explore dpor: exhaustive"
grep -q '"divergences":0[,}]' "$tmp/out" && ok "explore dpor: reports no divergence" || bad "explore dpor: reports no divergence"
expect 1 "explore dpor under 2.6.29 finds the race" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-2.6.29 --algo dpor
tok=$(sed -n 's/^ *cowlab replay \(cow2:[^ ]*\).*/\1/p' "$tmp/out" | head -n 1)
[ -n "$tok" ] && expect 1 "explore dpor: its token replays the failure" "$cow" replay "$tok" || bad "explore dpor: a replay line"
expect 2 "explore dpor with --jobs 2 is refused" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --algo dpor --jobs 2
grep -q "dpor runs in one job" "$tmp/err" && ok "explore dpor --jobs: says why" || bad "explore dpor --jobs: says why"

# --count-traces: dpor's runs are traces of their own, and sleep-set dfs
# without a bound runs the same set of traces (same count, same digest).
num() { sed -n "s/.*\"$1\":\"\{0,1\}\([0-9a-f]*\)\"\{0,1\}[,}].*/\1/p" "$tmp/out" | tail -n 1; }
expect 0 "explore dpor --count-traces" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dpor --count-traces --json
dr=$(num runs) dt=$(num traces) dd=$(num traces_digest)
[ -n "$dt" ] && [ "$dt" -gt 100 ] && [ "$dt" = "$dr" ] && ok "count-traces: each dpor run a trace of its own ($dt)" || bad "count-traces: dpor runs $dr, traces $dt"
expect 0 "explore dfs-sleep --count-traces" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs-sleep --preemptions 64 --count-traces --json
[ "$(num traces)" = "$dt" ] && [ "$(num traces_digest)" = "$dd" ] && ok "count-traces: dfs-sleep ran the same traces as dpor" || bad "count-traces: dfs-sleep traces $(num traces) digest $(num traces_digest), dpor $dt $dd"
expect 2 "explore --count-traces with --jobs 2 is refused" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --count-traces --jobs 2

# The step checker beside the full check at every branch, over every
# bundled scenario under every preset: no disagreement (a disagreement
# fails its run with "checks disagree").
searches=0 disagree=0
presets=$("$cow" policies | sed -n 's/^\([a-z][^ ]*\).*/\1/p')
for f in scenarios/*.cow scenarios/gup/*.cow scenarios/matrix/*.cow; do
	for p in $presets; do
		"$cow" explore "$f" --policy "$p" --checks both --runs 100 --no-shrink >"$tmp/out" 2>"$tmp/err"
		searches=$((searches + 1))
		if grep -q "checks disagree" "$tmp/out" "$tmp/err"; then
			disagree=$((disagree + 1))
			echo "cli: checks disagree: $f under $p: $(grep -h "checks disagree" "$tmp/out" "$tmp/err" | head -n 1)"
		fi
	done
done
[ "$disagree" = 0 ] && [ "$searches" -gt 900 ] && ok "explore --checks both: no disagreement in $searches searches" ||
	bad "explore --checks both: $disagree of $searches searches disagree"
expect 2 "explore --checks takes touched, full or both" "$cow" explore scenarios/zero_page.cow --checks some
expect 2 "COWLAB_CHECKS is checked" env COWLAB_CHECKS=bogus "$cow" explore scenarios/zero_page.cow
grep -q "COWLAB_CHECKS is 'bogus'" "$tmp/err" && ok "COWLAB_CHECKS: says why" || bad "COWLAB_CHECKS: says why"
expect 1 "explore --checks full finds dma_thread's race" "$cow" explore scenarios/gup/dma_thread.cow --policy linux-2.6.29 --checks full
tok=$(grep -o 'cow2:[^ ]*' "$tmp/out" | head -n 1)
grep -q "COWLAB_CHECKS=full cowlab replay" "$tmp/out" && ok "explore --checks full: the replay line carries it" || bad "explore --checks full: the replay line carries it"
[ -n "$tok" ] && expect 1 "explore --checks full: its token replays" env COWLAB_CHECKS=full "$cow" replay "$tok" || bad "explore --checks full: a token"

# matrix --prove: cells that pass on a sample become proofs with dpor.
rows="scenarios/matrix/r17_gup_fast_vs_fork.cow scenarios/matrix/r18_dirty_cow.cow scenarios/matrix/r07_vmsplice_swapin.cow"
expect 0 "matrix without --prove: samples" "$cow" matrix $rows --policy linux-6.5
grep -q "3 pass: 0 proven" "$tmp/out" && ok "matrix without --prove: nothing proven" || bad "matrix without --prove: nothing proven"
expect 0 "matrix --prove" "$cow" matrix $rows --policy linux-6.5 --prove 60
grep -q "3 pass: 3 proven (every schedule ran)" "$tmp/out" && ok "matrix --prove: three cells proven" || bad "matrix --prove: three cells proven"
expect 0 "matrix --prove under linux-2.6.29" "$cow" matrix $rows --policy linux-2.6.29 --prove 60 --json
[ "$(grep -o '"found":"[a-z]*"' "$tmp/out" | sort | tr '\n' ' ')" = '"found":"desync" "found":"leak" "found":"overwrite" ' ] && ok "matrix --prove: failing cells keep their counterexamples" || bad "matrix --prove: failing cells keep their counterexamples"

# Search-size estimates (dpor): a search that ends says so; one that does
# not gives an estimate above the runs it made.
expect 0 "explore --estimate: a search that ends" "$cow" explore scenarios/matrix/r17_gup_fast_vs_fork.cow --policy linux-6.5 --algo dpor --estimate 10
grep -q "the search is done" "$tmp/out" && ok "explore --estimate: says the search is done" || bad "explore --estimate: says the search is done"
expect 0 "explore --estimate: dma_thread under linux-6.5" "$cow" explore scenarios/gup/dma_thread.cow --policy linux-6.5 --algo dpor --estimate 1 --json
est=$(sed -n 's/.*"type":"estimate".*"runs":\([0-9]*\),.*"estimate":\([0-9]*\),.*/\1 \2/p' "$tmp/out")
made=${est% *} total=${est#* }
[ -n "$est" ] && [ "$total" -gt "$made" ] && ok "explore --estimate: about $total runs, more than the $made made" || bad "explore --estimate: an estimate ($est)"
grep -q '"type":"progress".*"estimate":[1-9]' "$tmp/out" && ok "explore --estimate: progress lines carry it" || bad "explore --estimate: progress lines carry it"
expect 2 "explore --estimate needs dpor" "$cow" explore scenarios/gup/dma_thread.cow --algo dfs --estimate 1

# Program reduction: the race stays a race (the fork stays), the reduced
# program has fewer statements, fails the same check, passes under
# linux-6.5, and its token replays 100 times out of 100.
red="$tmp/reduced.cow"
expect 1 "explore --reduce gup_fast_vs_fork" "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-2.6.29 --reduce "$red"
grep -q "^reduced scenarios/gup/gup_fast_vs_fork.cow from 13 to [0-9]* statements" "$tmp/out" && ok "explore --reduce: says what it dropped" || bad "explore --reduce: says what it dropped"
n=$(grep -cv '^ *#\|^ *$' "$red" 2>/dev/null || echo 99)
[ "$n" -lt 13 ] && ok "explore --reduce: $n statements of 13" || bad "explore --reduce: $n statements of 13"
grep -q "fork C" "$red" && grep -q "pin ring" "$red" && ok "explore --reduce: keeps the racing operations" || bad "explore --reduce: keeps the racing operations"
grep -q "FOUND desync (linux-2.6.29)" "$tmp/out" && grep -q "$red:[0-9]*:3: check desync ring" "$tmp/out" && ok "explore --reduce: the same check fails in the reduced file" || bad "explore --reduce: the same check fails in the reduced file"
tok=$(grep -o 'cow2:[^ ]*' "$tmp/out" | tail -n 1)
replays=0
for i in $(seq 100); do "$cow" replay "$tok" >/dev/null 2>&1; [ $? = 1 ] && replays=$((replays + 1)); done
[ "$replays" = 100 ] && ok "explore --reduce: the reduced token replays 100/100" || bad "explore --reduce: the reduced token replays $replays/100"
expect 0 "explore --reduce: the reduced program passes under linux-6.5" "$cow" explore "$red" --policy linux-6.5 --runs 2000
expect 1 "explore --reduce vmsplice_child_leak" "$cow" explore scenarios/gup/vmsplice_child_leak.cow --policy linux-2.6.29 --reduce "$red"
grep -q "vmsplice buf -> pipe" "$red" && ok "explore --reduce: a leak is not reduced to a check that fails anyway" || bad "explore --reduce: a leak is not reduced to a check that fails anyway"
# dma_thread: 18 statements and a counterexample of 24 visible steps before.
expect 1 "explore --reduce dma_thread" "$cow" explore scenarios/gup/dma_thread.cow --policy linux-2.6.29 --reduce "$red" --json
grep -q '"type":"reduced".*"statements_before":18,"statements_after":\([0-9]\|1[01]\),' "$tmp/out" && ok "explore --reduce dma_thread: at most 11 statements of 18" || bad "explore --reduce dma_thread: at most 11 statements of 18"
vis=$(sed -n 's/.*"visible_steps":\([0-9]*\).*/\1/p' "$tmp/out")
[ -n "$vis" ] && [ "$vis" -le 15 ] && ok "explore --reduce dma_thread: $vis visible steps (at most 15)" || bad "explore --reduce dma_thread: $vis visible steps (at most 15)"
# The ranges were cut: no transfer of a whole page is left.
grep -q 'dio_read .*+4K' "$red" && bad "explore --reduce dma_thread: its transfers are cut" || ok "explore --reduce dma_thread: its transfers are cut"
grep -q "dio_read" "$red" && grep -q "fork C" "$red" && ok "explore --reduce dma_thread: keeps the I/O and the fork" || bad "explore --reduce dma_thread: keeps the I/O and the fork"
tok=$(sed -n 's/.*"token":"\(cow2:[^"]*\)".*/\1/p' "$tmp/out")
replays=0
for i in $(seq 100); do "$cow" replay "$tok" >/dev/null 2>&1; [ $? = 1 ] && replays=$((replays + 1)); done
[ "$replays" = 100 ] && ok "explore --reduce dma_thread: replays 100/100" || bad "explore --reduce dma_thread: replays $replays/100"
expect 2 "explore --reduce refuses a demo" "$cow" explore racy-counter --reduce "$red"
expect 0 "explore --reduce with nothing found" "$cow" explore scenarios/zero_page.cow --reduce "$tmp/none.cow"
[ ! -e "$tmp/none.cow" ] && grep -q "nothing to reduce" "$tmp/err" && ok "explore --reduce: nothing found, nothing written" || bad "explore --reduce: nothing found, nothing written"
sum=0
for i in 0 1 2; do
	"$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs --shard $i/3 >"$tmp/shard" 2>&1
	n=$(sed -n 's/^  \([0-9]*\) runs.*/\1/p' "$tmp/shard")
	sum=$((sum + ${n:-0}))
done
[ "$sum" = "$runs1" ] && ok "three shards make the whole dfs" || bad "three shards make the whole dfs ($sum vs $runs1)"
expect 1 "explore finds forkscrew's loss" "$cow" explore scenarios/gup/forkscrew.cow --policy linux-2.6.29
grep -q "rmw pte@0x10001000 mm1 = pfn [0-9]* W" "$tmp/out" && ok "the trace shows fork write-protecting the PTE" || bad "the trace shows fork write-protecting the PTE"
# Dirty COW's trace says why: the forced write's fault, then its retry as a read.
expect 1 "explore finds Dirty COW" "$cow" explore scenarios/matrix/r18_dirty_cow.cow --policy linux-2.6.29
grep -q "= gup 0x[0-9a-f]*: the forced write faulted, retry as a read" "$tmp/out" && grep -q "r18_dirty_cow.cow:[0-9]*  poke " "$tmp/out" && ok "trace rows: the .cow line, the operation and GUP's decisions" || bad "trace rows: the .cow line, the operation and GUP's decisions"
expect 0 "Dirty COW under linux-6.5" "$cow" explore scenarios/matrix/r18_dirty_cow.cow --policy linux-6.5 --runs 300
# A pinned page's soft-dirty desync (5.9): clear_refs write-protects the
# pinned page, mprotect leaves it read-only, the write copies it.
expect 1 "explore finds the soft-dirty desync under linux-5.9" "$cow" explore scenarios/matrix/r11_pin_mprotect_softdirty.cow --policy linux-5.9
grep -q "= clear_refs pfn [0-9]* \[ref 1025 map 1 pin 0 excl\]: held beyond its" "$tmp/out" && grep -q "= mprotect pfn [0-9]* \[ref 1025 map 1 pin 0 excl\]: soft-dirty clear, leave" "$tmp/out" && grep -q "= do_wp_page pfn [0-9]* \[ref 1025 map 1 pin 0 excl\]: refcount rule, copy" "$tmp/out" && ok "trace rows: clear_refs's, mprotect's and do_wp_page's decisions" || bad "trace rows: clear_refs's, mprotect's and do_wp_page's decisions"
# A leak with no race: the rows are the operations that decided it.
expect 1 "explore finds the child's vmsplice leak" "$cow" explore scenarios/gup/vmsplice_child_leak.cow --policy linux-2.6.29
grep -q "vmsplice_child_leak.cow:12  vmsplice buf -> pipe" "$tmp/out" && grep -q "vmsplice_child_leak.cow:15  write buf 0x22" "$tmp/out" && grep -q "= do_wp_page pfn [0-9]* \[ref 2 map 1 pin 0 excl\]: mapcount rule, reuse" "$tmp/out" && grep -q "^!  *[0-9]*  a    vmsplice_child_leak.cow:19  failed: leak" "$tmp/out" && ok "trace rows: a leak's vmsplice, the write that reused the page, the check" || bad "trace rows: a leak's vmsplice, the write that reused the page, the check"
expect 1 "explore --jobs 2 finds dma_thread's loss" "$cow" explore scenarios/gup/dma_thread.cow --policy linux-2.6.29 --jobs 2
token=$(sed -n 's/^ *cowlab replay //p' "$tmp/out" | head -n 1)
expect 1 "a worker's find replays" "$cow" replay "$token"
expect 1 "explore --json" "$cow" explore racy-counter --json
grep -q '"type":"result".*"found":true.*"token":"cow2:racy-counter:-:1:-:s:' "$tmp/out" && ok "--json gives the result line" || bad "--json gives the result line"
expect 0 "explore --save" "$cow" explore locked-counter --algo random --runs 50 --save "$tmp/token"
grep -q '^cow2:locked-counter:-:1:-:random:50$' "$tmp/token" && ok "--save holds the last run's token" || bad "--save holds the last run's token"
expect 0 "explore --time" "$cow" explore locked-counter --time 0.3
expect 2 "explore without a file" "$cow" explore
expect 2 "explore two files" "$cow" explore racy-counter locked-counter
expect 2 "explore a bad algorithm" "$cow" explore racy-counter --algo bfs
expect 2 "explore a bad shard" "$cow" explore racy-counter --shard 3/3
expect 2 "explore a bad depth" "$cow" explore racy-counter --depth 0
expect 2 "explore a bad time" "$cow" explore racy-counter --time -1
expect 2 "explore an unknown policy" "$cow" explore scenarios/zero_page.cow --policy linux-9
expect 2 "explore a missing file" "$cow" explore "$tmp/nope.cow"
expect 2 "replay a token with a bad schedule" "$cow" replay "cow2:racy-counter:-:1:-:s:4"

# cowlab kernel: the same scenarios on the host's real kernel.
expect 0 "kernel: a scenario passes on the host" "$cow" kernel scenarios/cow_parent_writes.cow
grep -q "^scenarios/cow_parent_writes.cow  *PASS  1 iteration, 3 checks each$" "$tmp/out" && ok "kernel prints PASS and the checks every run made" || bad "kernel prints PASS and the checks every run made"
expect 0 "kernel: pin ... fast" "$cow" kernel scenarios/gup/gup_fast_vs_fork.cow
grep -q "^  note: pin ... fast is an io_uring buffer registration on the host" "$tmp/out" && ok "kernel says what pin ... fast is on the host" || bad "kernel says what pin ... fast is on the host"
expect 0 "kernel --iterations" "$cow" kernel scenarios/gup/vmsplice_child_leak.cow scenarios/gup/dma_thread.cow --iterations 20
[ "$(grep -c "PASS  20 iterations, [0-9]* checks* each$" "$tmp/out")" -eq 2 ] && ok "kernel --iterations runs each file N times" || bad "kernel --iterations runs each file N times"
expect 0 "kernel: a scenario the host cannot run" "$cow" kernel scenarios/matrix/r20_uffd_continue_dirty.cow scenarios/cow_child_writes.cow
grep -q "^scenarios/matrix/r20_uffd_continue_dirty.cow  *SKIP  uffd_continue: " "$tmp/out" && ok "kernel prints SKIP with the reason" || bad "kernel prints SKIP with the reason"
printf 'process P\n  map buf 2 pages\n  write buf 0x11\n  fork C\n  write buf 0x22\nprocess C\n  check corrupt buf[0..4K] == 0x11\n  check leak buf == 0x22\n' >"$tmp/kwrong.cow"
expect 1 "kernel: a wrong check fails" "$cow" kernel "$tmp/kwrong.cow" --iterations 3
grep -q "kwrong.cow  *FAIL  3 of 3 iterations failed: leak 3$" "$tmp/out" && ok "kernel counts the failed iterations by verdict" || bad "kernel counts the failed iterations by verdict"
grep -q "first: leak: .*kwrong.cow:8:3: check leak buf\[0..+8192\] == 0x22 failed: found 0x11, expected 0x22 at buf\[0\]" "$tmp/out" && ok "kernel words the failure as the model does" || bad "kernel words the failure as the model does"
expect 1 "kernel --json" "$cow" kernel "$tmp/kwrong.cow" scenarios/matrix/r20_uffd_continue_dirty.cow --iterations 2 --json
grep -q '^{"files":\[{"file":"[^"]*kwrong.cow","status":"fail","iterations":2,"failed":2,"skipped":0,"checks":2,"verdicts":{"leak":2},"message":"[^"]*kwrong.cow:8:3: check leak .*"},{"file":"scenarios/matrix/r20_uffd_continue_dirty.cow","status":"skip",.*"reason":"uffd_continue: .*}\],"failed":2}$' "$tmp/out" && ok "kernel --json: the document" || bad "kernel --json: the document"
expect 2 "kernel: a syntax error" "$cow" kernel "$tmp/typo.cow"
grep -q "typo.cow:3:3:" "$tmp/err" && ok "kernel: the syntax error has file:line:col" || bad "kernel: the syntax error has file:line:col"
expect 2 "kernel: a missing file" "$cow" kernel "$tmp/nope.cow"
expect 2 "kernel without a file" "$cow" kernel
expect 2 "kernel --iterations 0" "$cow" kernel scenarios/zero_page.cow --iterations 0
expect 2 "kernel: an unknown option" "$cow" kernel scenarios/zero_page.cow --frob
# The language's alternatives, repeat, fork bodies, page states and
# require, on the model and on the host.
cat >"$tmp/lang.cow" <<'EOF'
process P
  map buf 2 pages
  write buf 0x11
  thread writer
    repeat 3
      write buf[0..8] 0x22
      write buf[4088..4096] 0x22
      write buf[0..8] 0x33
      write buf[4088..4096] 0x33
      write buf[0..8] 0x11
      write buf[4088..4096] 0x11
  thread forker
    repeat 3
      fork C
        check leak buf[0..8], buf[4088..4096] == 0x11, 0x11 | 0x22, 0x11 | 0x22, 0x22 | 0x33, 0x22 | 0x33, 0x33 | 0x11, 0x33
        check leak buf[4K..8K] == 0x11 | 0x22
  join
  check corrupt buf present
EOF
expect 0 "run: alternatives, repeat and fork bodies in every mode" "$cow" run "$tmp/lang.cow" --mode all --iterations 5 --runs 100
expect 0 "kernel: alternatives, repeat and fork bodies" "$cow" kernel "$tmp/lang.cow" --iterations 3
grep -q "lang.cow  *PASS  3 iterations, 7 checks each$" "$tmp/out" && ok "kernel: the repeat passes" || bad "kernel: the repeat passes"
printf 'process P\n  map buf 2 pages\n  write buf[0..4K] 0x11\n  write buf[0..2K] 0x22\n  check leak buf[0..4K] == 0x11 | 0x22\n' >"$tmp/torn.cow"
expect 1 "run: a torn page matches no alternative" "$cow" run "$tmp/torn.cow"
grep -q "torn.cow:5:3: check leak buf\[0..+4096\] == 0x11 | 0x22 failed: the bytes match none of the 2 values: found 0x22, expected 0x11 at buf\[0\]; found 0x11, expected 0x22 at buf\[2048\]" "$tmp/out" &&
	ok "run: the torn page's message" || bad "run: the torn page's message"
printf 'process P\n  map buf 2 pages\n  write buf 0x11\n  require buf swapped\n  check corrupt buf == 0x22\n' >"$tmp/skip.cow"
expect 0 "run: a require that does not hold skips (exit 0)" "$cow" run "$tmp/skip.cow"
grep -q "skip.cow: SKIPPED (seq, linux-6.5)$" "$tmp/out" && grep -q "skipped: .*skip.cow:4:3: require buf swapped does not hold: the page at buf\[0\] is present" "$tmp/out" &&
	ok "run: the skip and its reason" || bad "run: the skip and its reason"
grep -q ": ok " "$tmp/out" && bad "run: a skip is no pass" || ok "run: a skip is no pass"
expect 0 "run --mode all: a skip" "$cow" run "$tmp/skip.cow" --mode all --iterations 3 --runs 20
[ "$(grep -c "SKIP" "$tmp/out")" -eq 1 ] && [ "$(grep -c "mode: skipped: " "$tmp/out")" -eq 3 ] && ok "run --mode all: SKIP cells" || bad "run --mode all: SKIP cells"
expect 0 "kernel: a require that does not hold skips" "$cow" kernel "$tmp/skip.cow"
grep -q "skip.cow  *SKIP  .*skip.cow:4:3: require buf swapped does not hold: the page at buf\[0\] is present$" "$tmp/out" &&
	ok "kernel: the require's reason" || bad "kernel: the require's reason"
expect 0 "diff: a skip is no disagreement" "$cow" diff "$tmp/skip.cow"
expect 1 "matrix: a cell whose every run skipped" "$cow" matrix "$tmp/skip.cow" --policy linux-6.5
grep -q "^skip  *skip?$" "$tmp/out" && ok "matrix: the cell says skip, not pass" || bad "matrix: the cell says skip, not pass"
printf 'process P\n  map buf 1 page\n  repeat 0\n    read buf\n' >"$tmp/rep0.cow"
expect 2 "run: repeat 0" "$cow" run "$tmp/rep0.cow"
grep -q "rep0.cow:3:10: repeat 0: the count is 1 to 1000000" "$tmp/err" && ok "run: repeat's bound, with its position" || bad "run: repeat's bound, with its position"
# Nothing is left behind: no process, no file, after a run and after a
# SIGTERM in the middle of one (the delays keep the workers busy).
mkdir -p "$tmp/kdir"
COWLAB_TMPDIR="$tmp/kdir" "$cow" kernel scenarios/gup/dma_thread.cow --iterations 5 >/dev/null 2>&1
[ -z "$(ls -A "$tmp/kdir")" ] && ok "kernel leaves no file behind" || bad "kernel leaves no file behind"
for sig in TERM INT; do
	# env: a background job of a script starts with SIGINT ignored.
	COWLAB_TMPDIR="$tmp/kdir" env --default-signal=INT "$cow" kernel scenarios/gup/dma_thread.cow \
		--iterations 100000 --delay 100000 >/dev/null 2>&1 &
	pid=$!
	sleep 1
	pgid=
	for i in 1 2 3 4 5 6 7 8 9 10; do
		kid=$(pgrep -P "$pid" | head -n 1)
		[ -n "$kid" ] && pgid=$(ps -o pgid= -p "$kid" | tr -d ' ')
		[ -n "$pgid" ] && break
		sleep 0.1
	done
	kill -$sig "$pid"
	wait "$pid"
	rc=$?
	want=143
	[ $sig = INT ] && want=130
	[ -n "$pgid" ] && [ "$pgid" != "$(ps -o pgid= -p $$ | tr -d ' ')" ] && ok "kernel: workers run in their own group ($sig)" || bad "kernel: workers run in their own group ($sig)"
	[ "$rc" -eq $want ] && ok "kernel dies of SIG$sig" || bad "kernel dies of SIG$sig (exit $rc)"
	left=$(pgrep -P "$pid"; [ -n "$pgid" ] && pgrep -g "$pgid")
	[ -z "$left" ] && ok "kernel leaves no process behind after SIG$sig" || bad "kernel leaves no process behind after SIG$sig: $left"
	[ -z "$(ls -A "$tmp/kdir")" ] && ok "kernel leaves no file behind after SIG$sig" || bad "kernel leaves no file behind after SIG$sig"
done

# A swapout scenario on a host without swap: as root, a temporary swap
# file for each run (or a skip saying why swapon refused), gone after the
# run and after a SIGTERM in the middle of one.  A swapout must swap: one
# whose pages a live child shares (MADV_PAGEOUT leaves them alone) skips
# with the reason, never passes.
printf 'process P\n  map buf 2 pages\n  write buf 0x11\n  swapout buf\n  check corrupt buf == 0x11\n' >"$tmp/kswap.cow"
printf 'process P\n  map buf 2 pages\n  write buf 0x11\n  fork C\n  swapout buf\n  check corrupt buf == 0x11\nprocess C\n  check leak buf == 0x11\n' >"$tmp/kswapfork.cow"
if [ "$(id -u)" = 0 ] && [ "$(wc -l </proc/swaps)" -le 1 ]; then
	COWLAB_TMPDIR="$tmp/kdir" "$cow" kernel "$tmp/kswap.cow" --iterations 3 >"$tmp/out" 2>&1
	if grep -q "SKIP  swapout: swapon" "$tmp/out"; then
		skip "kernel: swapout with a temporary swap file ($(cat "$tmp/out"))"
	else
		grep -q "kswap.cow  *PASS  3 iterations, 1 check each$" "$tmp/out" && ok "kernel: swapout with a temporary swap file" || bad "kernel: swapout with a temporary swap file: $(cat "$tmp/out")"
		expect 0 "kernel: a swapout that swaps nothing" env COWLAB_TMPDIR="$tmp/kdir" "$cow" kernel "$tmp/kswapfork.cow"
		grep -q "kswapfork.cow  *SKIP  .*kswapfork.cow:5:3: swapout: 2 of 2 pages stayed in memory (buf\[0\], buf\[4096\]); the first: it is mapped 2 times (a live parent or child shares it)" "$tmp/out" && ok "kernel: ... skips with the reason, not PASS" || bad "kernel: ... skips with the reason, not PASS: $(cat "$tmp/out")"
		expect 0 "diff: a swapout that swaps nothing" env COWLAB_TMPDIR="$tmp/kdir" "$cow" diff "$tmp/kswapfork.cow" --iterations 2
		grep -q "kswapfork.cow  *skip  *-  *-  *skip$" "$tmp/out" && grep -q "^  skipped: .*swapout: 2 of 2 pages stayed in memory" "$tmp/out" && grep -q "^diff: 0 agree, 0 disagree, 1 skipped (reasons above); 1 scenario," "$tmp/out" && ok "diff: ... is a skip, with the reason" || bad "diff: ... is a skip, with the reason"
	fi
	[ "$(wc -l </proc/swaps)" -le 1 ] && [ -z "$(ls -A "$tmp/kdir")" ] && ok "kernel: no swap and no swap file left after the run" || bad "kernel: no swap and no swap file left after the run"
	COWLAB_TMPDIR="$tmp/kdir" "$cow" kernel scenarios/swap_across_fork.cow --iterations 1000000 >/dev/null 2>&1 &
	pid=$!
	sleep 1
	kill -TERM "$pid"
	wait "$pid"
	[ "$(wc -l </proc/swaps)" -le 1 ] && [ -z "$(ls -A "$tmp/kdir")" ] && ok "kernel: no swap and no swap file left after SIGTERM" || bad "kernel: no swap and no swap file left after SIGTERM"
else
	skip "kernel: swapout with a temporary swap file, and one that swaps nothing (needs root and no active swap)"
fi

# A hugetlb scenario: as root, the pool raised for each run and
# nr_hugepages back after it, also after a SIGHUP or SIGTERM in the middle
# of one; a SIGBUS the scenario expects is caught, on the host as in the
# model.
printf 'system hugepages=1\nprocess P\n  map buf 2M hugetlb\n  write buf 0x11\n  fork C\nprocess C\n  write buf 0x22 sigbus\n  check leak buf == 0x11\n' >"$tmp/khuge.cow"
# (a pool one page larger than what is free: the run must raise it)
hfree=$(awk '/^HugePages_Free:/ { f = $2 } /^HugePages_Rsvd:/ { r = $2 } END { print f - r + 1 }' /proc/meminfo)
printf 'system hugepages=%d\nprocess P\n  map buf %dM hugetlb\n  repeat 1 host=1000000\n    write buf 0x11\n' "$hfree" $((2 * hfree)) >"$tmp/khugeloop.cow"
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
	before=$(cat /proc/sys/vm/nr_hugepages)
	COWLAB_TMPDIR="$tmp/kdir" "$cow" kernel "$tmp/khuge.cow" --iterations 3 >"$tmp/out" 2>&1
	if grep -q "khuge.cow  *SKIP  " "$tmp/out"; then
		skip "kernel: a hugetlb scenario with a SIGBUS ($(cat "$tmp/out"))"
	else
		grep -q "khuge.cow  *PASS  3 iterations, 1 check each$" "$tmp/out" && ok "kernel: a hugetlb scenario, its SIGBUS caught" || bad "kernel: a hugetlb scenario, its SIGBUS caught: $(cat "$tmp/out")"
		expect 0 "diff: a hugetlb scenario with a SIGBUS" env COWLAB_TMPDIR="$tmp/kdir" "$cow" diff "$tmp/khuge.cow" --iterations 2
		grep -q "khuge.cow  *pass  *pass  .*agree$" "$tmp/out" && ok "diff: host and model agree on the SIGBUS" || bad "diff: host and model agree on the SIGBUS: $(cat "$tmp/out")"
	fi
	# Shared hugetlb memory: the parent sees its child's write, the page
	# stays in the shared object after MADV_DONTNEED; a pool of one page
	# cannot promise a second mapping (an error on both sides, or a skip
	# where the host has spare huge pages).
	printf 'system hugepages=1\nprocess P\n  map buf 2M shared hugetlb\n  write buf 0x11\n  fork C\nprocess C\n  write buf[0..4K] 0x22\nprocess P\n  check corrupt buf[0..4K] == 0x22\n  check corrupt buf hugetlb\n  madvise buf dontneed\n  check corrupt buf[0..4K] == 0x22\n' >"$tmp/kshuge.cow"
	printf 'system hugepages=1\nprocess P\n  map a 2M shared hugetlb\n  map b 2M shared hugetlb\n' >"$tmp/kshugedry.cow"
	COWLAB_TMPDIR="$tmp/kdir" "$cow" diff "$tmp/kshuge.cow" "$tmp/kshugedry.cow" --iterations 2 >"$tmp/out" 2>&1
	if grep -q "kshuge.cow  *skip" "$tmp/out"; then
		skip "diff: shared hugetlb memory ($(cat "$tmp/out"))"
	else
		grep -q "kshuge.cow  *pass  *pass  .*agree$" "$tmp/out" && ok "diff: host and model agree on shared hugetlb memory" || bad "diff: host and model agree on shared hugetlb memory: $(cat "$tmp/out")"
		{ grep -q "kshugedry.cow  *error  *error  .*agree$" "$tmp/out" || grep -q "^  skipped: .*its pool (system hugepages=1) holds, .*free huge pages: a map may reserve a page" "$tmp/out"; } && ok "diff: a shared hugetlb map the pool cannot promise" || bad "diff: a shared hugetlb map the pool cannot promise: $(cat "$tmp/out")"
	fi
	[ "$(cat /proc/sys/vm/nr_hugepages)" = "$before" ] && ok "kernel: nr_hugepages back after the runs" || bad "kernel: nr_hugepages back after the runs ($(cat /proc/sys/vm/nr_hugepages), was $before)"
	for sig in HUP TERM; do
		COWLAB_TMPDIR="$tmp/kdir" "$cow" kernel "$tmp/khugeloop.cow" >/dev/null 2>&1 &
		pid=$!
		for i in $(seq 50); do
			[ "$(cat /proc/sys/vm/nr_hugepages)" != "$before" ] && break
			sleep 0.1
		done
		raised=$(cat /proc/sys/vm/nr_hugepages)
		sleep 0.2
		kill -$sig "$pid"
		wait "$pid"
		rc=$?
		want=129
		[ $sig = TERM ] && want=143
		[ "$raised" != "$before" ] && [ "$rc" -eq $want ] && ok "kernel: a hugetlb run dies of SIG$sig" || bad "kernel: a hugetlb run dies of SIG$sig (exit $rc, nr_hugepages was $raised in the run)"
		[ "$(cat /proc/sys/vm/nr_hugepages)" = "$before" ] && ok "kernel: nr_hugepages back after SIG$sig" || bad "kernel: nr_hugepages back after SIG$sig ($(cat /proc/sys/vm/nr_hugepages), was $before)"
	done
else
	skip "kernel: a hugetlb pool raised for a run and restored (needs root and /proc/sys/vm/nr_hugepages)"
fi

# make install into a DESTDIR: the optimised binary (the release build,
# not build/cowlab), the manual pages, every bundled scenario, the docs
# and bash completion; the installed `cowlab matrix` with no folder,
# started away from the source tree, explores the installed matrix.
inst="$tmp/inst"
if make -s install DESTDIR="$inst" PREFIX=/usr >"$tmp/out" 2>&1; then
	ok "make install into a DESTDIR"
	cmp -s "$inst/usr/bin/cowlab" build/release/cowlab && ! cmp -s "$inst/usr/bin/cowlab" "$cow" && ok "install: the optimised binary" || bad "install: the optimised binary"
	nf=$(ls scenarios/*.cow scenarios/gup/*.cow scenarios/matrix/*.cow | wc -l)
	ni=$(find "$inst/usr/share/cowlab/scenarios" -name '*.cow' | wc -l)
	[ -f "$inst/usr/share/man/man1/cowlab.1" ] && [ -f "$inst/usr/share/man/man5/cowlab-scenarios.5" ] && [ "$ni" = "$nf" ] &&
		[ -f "$inst/usr/share/cowlab/doc/README.md" ] && [ -f "$inst/usr/share/cowlab/doc/docs/history.md" ] &&
		[ -f "$inst/usr/share/bash-completion/completions/cowlab" ] && [ ! -e "$inst/usr/lib/libcowlab.a" ] &&
		ok "install: man pages, all $nf scenarios, the docs, bash completion (no library)" || bad "install: man pages, all $nf scenarios ($ni installed), the docs, bash completion"
	bash -n "$inst/usr/share/bash-completion/completions/cowlab" && ok "install: the completion script parses" || bad "install: the completion script parses"
	if command -v groff >/dev/null 2>&1; then
		groff -man -ww -z "$inst/usr/share/man/man1/cowlab.1" "$inst/usr/share/man/man5/cowlab-scenarios.5" 2>"$tmp/err" && [ ! -s "$tmp/err" ] &&
			ok "install: the man pages format without a warning" || bad "install: the man pages format without a warning: $(head -n 3 "$tmp/err")"
	else
		skip "install: the man pages' formatting (no groff on this host)"
	fi
	nm=$(ls scenarios/matrix/*.cow | wc -l)
	(cd "$tmp" && "$inst/usr/bin/cowlab" matrix --policy linux-6.5 >"$tmp/out" 2>"$tmp/err"); rc=$?
	[ "$rc" = 0 ] && grep -q "^$nm cells, $nm match, 0 differ$" "$tmp/out" && ok "install: the installed matrix runs the installed scenarios ($nm cells under linux-6.5)" || bad "install: the installed matrix runs the installed scenarios (exit $rc: $(tail -n 2 "$tmp/out") $(head -n 2 "$tmp/err"))"
	(cd "$tmp" && "$inst/usr/bin/cowlab" check "$inst/usr/share/cowlab/scenarios" >"$tmp/out" 2>&1) && ok "install: the installed scenarios check" || bad "install: the installed scenarios check"
else
	bad "make install into a DESTDIR: $(tail -n 3 "$tmp/out")"
fi

# --tap: KTAP as the kernel's selftests print it.  ktap_well_formed
# FILE N: the version line, the plan 1..N, then N results numbered in
# order, "ok"/"not ok", each name free of '#' but for a SKIP directive,
# every other line a "# " comment.
ktap_well_formed() {
	awk -v n="$2" 'NR == 1 { if ($0 != "KTAP version 1") exit 1; next }
		NR == 2 { if ($0 != "1.." n) exit 1; next }
		/^# / { next }
		/^(not )?ok [0-9]+ / { k++; num = ($1 == "not") ? $3 : $2; if (num != k) exit 1
			rest = $0; sub(/ # SKIP .*/, "", rest); if (rest ~ /#/) exit 1; next }
		{ exit 1 }
		END { if (k != n) exit 1 }' "$1"
}
printf 'KTAP version 1\n1..2\nok 1 a\nok 3 b\n' >"$tmp/bad.tap"
printf 'KTAP version 1\n1..2\nok 1 a\nnot ok 2 b # c\n' >"$tmp/bad2.tap"
if ! ktap_well_formed "$tmp/bad.tap" 2 && ! ktap_well_formed "$tmp/bad2.tap" 2; then ok "ktap_well_formed refuses a skipped number and a stray '#'"; else bad "ktap_well_formed refuses a skipped number and a stray '#'"; fi
expect 1 "run --tap: two failures and a skip" "$cow" run scenarios/cow_parent_writes.cow "$tmp/skip.cow" scenarios/matrix/r01_cow_after_fork.cow --policy broken-always-reuse --tap
# (cow_parent_writes leaks under broken-always-reuse too.)
grep -q "^not ok 1 scenarios/cow_parent_writes.cow seq$" "$tmp/out" && grep -q "^ok 2 .*skip.cow seq # SKIP .*require buf swapped does not hold" "$tmp/out" && grep -q "^not ok 3 scenarios/matrix/r01_cow_after_fork.cow seq$" "$tmp/out" && grep -q "^# leak: scenarios/matrix/r01_cow_after_fork.cow:" "$tmp/out" && grep -q "^# Totals: pass:0 fail:2 xfail:0 xpass:0 skip:1 error:0$" "$tmp/out" &&
	ktap_well_formed "$tmp/out" 3 && ok "run --tap: well-formed KTAP, SKIP with its reason, the failure's verdict in a comment" || bad "run --tap: well-formed KTAP ($(head -c 300 "$tmp/out"))"
expect 0 "run --tap --mode all" "$cow" run scenarios/fork_vs_writer.cow --tap --mode all --iterations 5 --runs 20
ktap_well_formed "$tmp/out" 3 && grep -q "^ok 3 scenarios/fork_vs_writer.cow explore$" "$tmp/out" && ok "run --tap --mode all: a test per mode" || bad "run --tap --mode all: a test per mode"
expect 1 "matrix --tap" "$cow" matrix scenarios/matrix/r01_cow_after_fork.cow scenarios/matrix/r23_collapse_after_fork_lower_shared.cow --policy linux-2.6.29,linux-6.5,linux-6.5+wp_reuse=always+anon_exclusive=off --tap
ktap_well_formed "$tmp/out" 6 && grep -q "^ok 4 r23_collapse_after_fork_lower_shared linux-2.6.29 # SKIP " "$tmp/out" && grep -q "^not ok 3 r01_cow_after_fork linux-6.5+wp_reuse=always+anon_exclusive=off$" "$tmp/out" && grep -q "^# found leak; no expect line names linux-6.5+wp_reuse=always+anon_exclusive=off$" "$tmp/out" && grep -q "^# cowlab replay cow2:" "$tmp/out" && ok "matrix --tap: a test a cell, the mismatch explained" || bad "matrix --tap: a test a cell, the mismatch explained"
expect 2 "matrix: --tap and --json exclude each other" "$cow" matrix scenarios/matrix/r01_cow_after_fork.cow --tap --json

# cowlab diff: the host's verdict beside the model's.
expect 1 "diff --tap: an old preset disagrees" "$cow" diff scenarios/cow_parent_writes.cow scenarios/matrix/r03_pin_fork.cow --policy linux-2.6.29 --iterations 3 --tap
ktap_well_formed "$tmp/out" 2 && grep -q "^ok 1 scenarios/cow_parent_writes.cow$" "$tmp/out" && grep -q "^not ok 2 scenarios/matrix/r03_pin_fork.cow$" "$tmp/out" && grep -q "^# host pass, model desync$" "$tmp/out" && ok "diff --tap: agree ok, disagree not ok, with both verdicts" || bad "diff --tap: agree ok, disagree not ok ($(cat "$tmp/out" | head -c 400))"
expect 0 "diff: host and model agree" "$cow" diff scenarios/cow_parent_writes.cow scenarios/gup/vmsplice_child_leak.cow --iterations 3
grep -q "^scenarios/cow_parent_writes.cow  *pass  *pass  *exhaustive ([0-9]* runs)  *agree$" "$tmp/out" && ok "diff prints an agreeing row, the model's search exhaustive" || bad "diff prints an agreeing row, the model's search exhaustive"
grep -q "^scenarios/gup/vmsplice_child_leak.cow  *pass  *pass  *[a-z].* ([0-9]* runs)  *agree$" "$tmp/out" && ok "diff prints a second agreeing row" || bad "diff prints a second agreeing row"
grep -q "^diff: 2 agree, 0 disagree, 0 skipped; 2 scenarios" "$tmp/out" && ok "diff sums up" || bad "diff sums up"
expect 0 "diff: a racy scenario within a small budget" "$cow" diff scenarios/fork_vs_writer.cow --iterations 2 --runs 50
grep -q "^scenarios/fork_vs_writer.cow  *pass  *pass  *sampled ([0-9]* runs)  *agree$" "$tmp/out" && ok "diff: the model's search sampled, with its runs" || bad "diff: the model's search sampled, with its runs"
expect 0 "diff --json: the model's search" "$cow" diff scenarios/cow_parent_writes.cow scenarios/fork_vs_writer.cow --iterations 2 --runs 50 --json
grep -q '"file":"scenarios/cow_parent_writes.cow",.*"model":"pass","model_search":"exhaustive","model_runs":[0-9]*,"model_exhaustive":true,"model_bound":2,.*"file":"scenarios/fork_vs_writer.cow",.*"model_search":"sampled","model_runs":[0-9]*,"model_exhaustive":false,.*"agree":2,"disagreements":0,"skipped":0}$' "$tmp/out" && ok "diff --json: exhaustive or sampled, with the runs" || bad "diff --json: exhaustive or sampled, with the runs"
expect 1 "diff: an old preset disagrees with the host" "$cow" diff scenarios/matrix/r03_pin_fork.cow --policy linux-2.6.29 --iterations 3
grep -q "^scenarios/matrix/r03_pin_fork.cow  *pass  *desync  *found ([0-9]* runs\{0,1\})  *DISAGREE$" "$tmp/out" && ok "diff marks the disagreement" || bad "diff marks the disagreement"
grep -q "replay it with: cowlab replay cow2:scenarios/matrix/r03_pin_fork.cow:linux-2.6.29:" "$tmp/out" && ok "diff gives the model's token" || bad "diff gives the model's token"
# A model whose every run stops at a require (here: memory pressure swaps
# the page out, which the host's larger memory does not) is a skip too.
cat >"$tmp/mskip.cow" <<'EOF'
system frames=40 swap=256
process P
  map buf 64 pages
  write buf 0x11
  require buf[0..4K] present
  check corrupt buf == 0x11
EOF
expect 0 "explore: every run skipped" "$cow" explore "$tmp/mskip.cow"
grep -q "^.*mskip.cow: SKIPPED (linux-6.5): every one of [0-9]* runs stopped at a require" "$tmp/out" && grep -q "^  skipped: .*require buf present does not hold" "$tmp/out" && ! grep -q "nothing found" "$tmp/out" && ok "explore: a search whose every run skipped says SKIPPED, not nothing found" || bad "explore: a search whose every run skipped says SKIPPED, not nothing found"
expect 0 "explore --json: every run skipped" "$cow" explore "$tmp/mskip.cow" --json --jobs 2
grep -q '"found":false,"skipped":true,"runs":[0-9]*,"reason":".*require buf present does not hold' "$tmp/out" && ok "explore --json --jobs 2: skipped, with the reason" || bad "explore --json --jobs 2: skipped, with the reason"
expect 0 "diff: the model skipped every run" "$cow" diff "$tmp/mskip.cow" --iterations 2
grep -q "^  skipped: the model skipped every run: .*require buf present does not hold" "$tmp/out" && grep -q "^diff: 0 agree, 0 disagree, 1 skipped" "$tmp/out" && ok "diff: a model skip is a skip, not a disagreement" || bad "diff: a model skip is a skip, not a disagreement"
expect 0 "diff: a skip is no disagreement" "$cow" diff scenarios/matrix/r20_uffd_continue_dirty.cow scenarios/cow_parent_writes.cow --iterations 2
grep -q "^scenarios/matrix/r20_uffd_continue_dirty.cow  *skip  *-  *-  *skip$" "$tmp/out" && grep -q "^  skipped: uffd_continue: " "$tmp/out" && ok "diff: the skip's row and reason" || bad "diff: the skip's row and reason"
grep -q "^diff: 1 agree, 0 disagree, 1 skipped (reasons above); 2 scenarios" "$tmp/out" && ok "diff: the summary counts skips apart" || bad "diff: the summary counts skips apart"
expect 0 "diff --json: a skip" "$cow" diff scenarios/matrix/r20_uffd_continue_dirty.cow --json
grep -q '"result":"skip"' "$tmp/out" && grep -q '"agree":0,"disagreements":0,"skipped":1}$' "$tmp/out" && ok "diff --json: the skip" || bad "diff --json: the skip"
expect 1 "diff: a disagreement beside a skip" "$cow" diff scenarios/matrix/r20_uffd_continue_dirty.cow scenarios/matrix/r03_pin_fork.cow --policy linux-2.6.29 --iterations 2
grep -q "^diff: 0 agree, 1 disagree, 1 skipped (reasons above); 2 scenarios" "$tmp/out" && ok "diff: the summary with a disagreement and a skip" || bad "diff: the summary with a disagreement and a skip"
# KSM on the host (root and a kernel with KSM; else the rows skip): the
# model's pass merges what two full scans of ksmd merge.  A page fork
# shares merges; a pinned first page keeps the 63 identical pages after
# it from merging; a pair broken up halfway leaves a KSM page no node.
if [ "$(id -u)" = 0 ] && [ -e /sys/kernel/mm/ksm/run ]; then
	expect 0 "diff: KSM merges as the host's does" "$cow" diff scenarios/ksm_fork_shared.cow scenarios/ksm_pinned_node.cow scenarios/ksm_half_merged.cow --iterations 3
	grep -q "^diff: 3 agree, 0 disagree, 0 skipped; 3 scenarios" "$tmp/out" && ok "diff: the KSM rows ran on the host and agree" || bad "diff: the KSM rows ran on the host and agree: $(cat "$tmp/out")"
fi
# Transparent huge pages: a thp mapping's huge PMDs, one split by a
# dontneed of a page and one by an mprotect (pte-mapped), under a preset
# with THP and one without, and on the host (root, THP not never; else
# the row skips, as it does where the host finds no free 2 MiB).
cat >"$tmp/thp.cow" <<'EOF'
process P
  map buf 4M thp
  write buf 0x11
  require buf huge
  madvise buf[2M..+4K] dontneed
  check corrupt buf[0..2M] huge
  check corrupt buf[2101248..+4K] pte-mapped
  mprotect buf[0..4K] ro
  check corrupt buf[4K..+4K] pte-mapped
  check corrupt buf huge
EOF
expect 1 "run: thp: huge, then pte-mapped" "$cow" run "$tmp/thp.cow" --mode all --iterations 3 --runs 20
grep -q "thp.cow:10:3: check corrupt buf\[0\] huge failed: the page is not mapped by a huge PMD" "$tmp/out" && ok "run: thp: the split page is no longer huge" || bad "run: thp: the split page is no longer huge"
expect 0 "run: thp before 2.6.38: the require skips" "$cow" run "$tmp/thp.cow" --policy linux-2.6.29
grep -q "thp.cow:4:3: require buf huge does not hold: the page at buf\[0\] is not mapped by a huge PMD" "$tmp/out" && ok "run: thp before 2.6.38: small pages" || bad "run: thp before 2.6.38: small pages"
printf 'process P\n  map buf 2M shared thp\n' >"$tmp/thpsh.cow"
expect 2 "run: thp with shared" "$cow" run "$tmp/thpsh.cow"
grep -q "thpsh.cow:2:21: thp is for private anonymous mappings only: not with shared" "$tmp/err" && ok "run: thp with shared: the error at its place" || bad "run: thp with shared: the error at its place"
expect 0 "diff: THP as the host's" "$cow" diff "$tmp/thp.cow" --iterations 2
grep -q "^diff: [01] agree, 0 disagree, [01] skipped; 1 scenario" "$tmp/out" && ok "diff: the THP row agrees or skips" || bad "diff: the THP row agrees or skips: $(cat "$tmp/out")"
expect 2 "diff: no file" "$cow" diff
expect 2 "diff: an unknown policy" "$cow" diff scenarios/zero_page.cow --policy linux-9
expect 2 "diff: --iterations 0" "$cow" diff scenarios/zero_page.cow --iterations 0
expect 2 "diff: a missing file" "$cow" diff "$tmp/nope.cow"

# cowlab matrix: every scenario of a folder under every preset, held
# against the files' expect lines.  The presets come from `cowlab
# policies`, never from this script, except the negative control.
presets=$("$cow" policies | sed -n 's/^\([^ ][^ ]*\).*/\1/p')
dflt=$("$cow" policies | sed -n 's/^\([^ ][^ ]*\) (default)$/\1/p')
others=$(echo "$presets" | grep -vx broken-always-reuse | tr '\n' ' ')
mkdir -p "$tmp/mx" "$tmp/mxbad" "$tmp/mxnone"
{
	echo "# Parent writes after fork; the child still sees the snapshot."
	echo "expect pass $others"
	echo "expect leak broken-always-reuse"
	printf 'process P\n  map buf 2 pages\n  write buf 0x11\n  fork C\n  write buf 0x22\n'
	printf '  check corrupt buf == 0x22\nprocess C\n  check leak buf == 0x11\n'
} >"$tmp/mx/seq.cow"
{
	echo "# A deliberately wrong expectation: the default preset passes."
	echo "expect leak $dflt"
	printf 'process P\n  map buf 1 page\n  write buf 0x11\n  fork C\n  write buf 0x22\n'
	printf 'process C\n  check leak buf == 0x11\n'
} >"$tmp/mx/wrong.cow"
printf 'expect pass no-such-preset\nprocess P\n' >"$tmp/mxbad/bad.cow"
nr=$(echo "$presets" | wc -l)
t0=$(date +%s)
expect 0 "matrix: a scenario matching its expect lines" "$cow" matrix "$tmp/mx/seq.cow" --time 5
t1=$(date +%s)
grep -q "^$nr cells, $nr match, 0 differ$" "$tmp/out" && ok "matrix sums up the cells" || bad "matrix sums up the cells"
grep -q "^seq .* leak$" "$tmp/out" && ok "matrix: broken-always-reuse leaks" || bad "matrix: broken-always-reuse leaks"
grep -q "^0 fail (each a counterexample)\|^1 fail (each a counterexample); $((nr - 1)) pass: $((nr - 1)) proven (every schedule ran), 0 within 2 preemptions, 0 sampled$" "$tmp/out" && ok "matrix: the single-schedule passes are proven" || bad "matrix: the single-schedule passes are proven"
grep -q "^seq  *pass  " "$tmp/out" && ok "matrix: a proven pass is unmarked" || bad "matrix: a proven pass is unmarked"
[ $((t1 - t0)) -le 3 ] && ok "matrix stops a single-schedule cell early" || bad "matrix stops a single-schedule cell early ($((t1 - t0)) s)"
{
	echo "expect pass $dflt"
	sed 1,3d scenarios/fork_vs_writer.cow
} >"$tmp/mxracy.cow"
expect 0 "matrix: a racy scenario under a small budget" "$cow" matrix "$tmp/mxracy.cow" --policy "$dflt" --runs 20
grep -q "^mxracy  *pass~$" "$tmp/out" && ok "matrix: a sampled pass is marked ~" || bad "matrix: a sampled pass is marked ~"
grep -q "^0 fail (each a counterexample); 1 pass: 0 proven (every schedule ran), 0 within 2 preemptions, 1 sampled$" "$tmp/out" && ok "matrix: counts the sampled pass" || bad "matrix: counts the sampled pass"
expect 0 "matrix --json: a sampled cell" "$cow" matrix "$tmp/mxracy.cow" --policy "$dflt" --runs 20 --json
grep -q '"found":"pass","expected":"pass","match":true,"search":"sampled","runs":[0-9]*,' "$tmp/out" && ok "matrix --json: search sampled" || bad "matrix --json: search sampled"
expect 1 "matrix: a wrong expectation differs" "$cow" matrix "$tmp/mx" --jobs 2
grep -q "^wrong .* pass!" "$tmp/out" && ok "matrix marks a difference with !" || bad "matrix marks a difference with !"
grep -q "^wrong .* leak?$" "$tmp/out" && ok "matrix marks a missing expectation with ?" || bad "matrix marks a missing expectation with ?"
grep -q "wrong under $dflt: found pass, expected leak" "$tmp/out" && ok "matrix names the difference" || bad "matrix names the difference"
grep -q "^$((2 * nr)) cells, $nr match, $nr differ$" "$tmp/out" && ok "matrix counts the differences" || bad "matrix counts the differences"
head -n 1 "$tmp/out" | grep -q "^scenario  *$(echo "$presets" | tr '\n' ' ' | sed 's/ *$//; s/ /  */g')$" && ok "matrix: columns in 'cowlab policies' order" || bad "matrix: columns in 'cowlab policies' order"
expect 0 "matrix --policy subset" "$cow" matrix "$tmp/mx/seq.cow" --policy "broken-always-reuse,$dflt"
head -n 1 "$tmp/out" | grep -q "^scenario  *broken-always-reuse  *$dflt$" && ok "matrix --policy sets the columns" || bad "matrix --policy sets the columns"
grep -q "^2 cells, 2 match, 0 differ$" "$tmp/out" && ok "matrix --policy runs those cells only" || bad "matrix --policy runs those cells only"
expect 1 "matrix --markdown" "$cow" matrix "$tmp/mx" --markdown --policy "$dflt,broken-always-reuse"
grep -qx "| scenario | $dflt | broken-always-reuse |" "$tmp/out" && grep -qx "| seq | pass | leak |" "$tmp/out" &&
	grep -qx '| wrong | \*\*pass!\*\* | \*\*leak?\*\* |' "$tmp/out" && ok "matrix --markdown: a table, differences in bold" || bad "matrix --markdown: a table, differences in bold"
expect 1 "matrix --json" "$cow" matrix "$tmp/mx" --json --policy "$dflt,broken-always-reuse"
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
dflt = sys.argv[2]
assert d["presets"] == [dflt, "broken-always-reuse"], d["presets"]
assert d["cells"] == 4 and d["mismatches"] == 2, d
rows = {r["scenario"]: r for r in d["rows"]}
assert sorted(rows) == ["seq", "wrong"] and rows["seq"]["file"].endswith("/mx/seq.cow")
seq = {c["preset"]: c for c in rows["seq"]["cells"]}
assert seq[dflt]["found"] == "pass" and seq[dflt]["match"] and "token" not in seq[dflt]
assert seq[dflt]["exhaustive"] and seq[dflt]["runs"] <= 4, seq[dflt]
assert seq[dflt]["search"] == "exhaustive" and "bound" not in seq[dflt], seq[dflt]
leak = seq["broken-always-reuse"]
assert leak["found"] == "leak" and leak["expected"] == "leak" and leak["match"]
assert leak["token"].startswith("cow2:") and leak["search"] == "found", leak
assert d["search"] == {"found": 2, "sampled": 0, "bounded": 0, "exhaustive": 2}, d["search"]
wrong = {c["preset"]: c for c in rows["wrong"]["cells"]}
assert wrong[dflt]["expected"] == "leak" and not wrong[dflt]["match"]
assert wrong["broken-always-reuse"]["expected"] is None
print(leak["token"])
' "$tmp/out" "$dflt" >"$tmp/token" && ok "matrix --json: the document" || bad "matrix --json: the document"
	token=$(cat "$tmp/token")
else
	grep -q '"cells":4,"mismatches":2}$' "$tmp/out" && ok "matrix --json: the document" || bad "matrix --json: the document"
	token=$(sed -n 's/.*"token":"\(cow2:[^"]*\)".*/\1/p' "$tmp/out")
fi
expect 1 "matrix --json: a failing cell's token replays" "$cow" replay "$token"
grep -q "leak" "$tmp/out" && ok "the matrix token replays the leak" || bad "the matrix token replays the leak"
expect 2 "matrix: a parse error" "$cow" matrix "$tmp/mx" "$tmp/mxbad"
grep -q "bad.cow:1:13: unknown preset 'no-such-preset' (see 'cowlab policies')" "$tmp/err" && ok "matrix: the parse error has file:line:col" || bad "matrix: the parse error has file:line:col"
expect 2 "matrix: a folder without scenarios" "$cow" matrix "$tmp/mxnone"
expect 2 "matrix: a missing folder" "$cow" matrix "$tmp/nope"
expect 2 "matrix: an unknown option" "$cow" matrix "$tmp/mx" --frob
expect 2 "matrix: an unknown policy" "$cow" matrix "$tmp/mx" --policy "$dflt,linux-9"
expect 2 "matrix: a policy twice" "$cow" matrix "$tmp/mx" --policy "$dflt,$dflt"
expect 2 "matrix: --runs 0" "$cow" matrix "$tmp/mx" --runs 0
expect 2 "matrix: --jobs 0" "$cow" matrix "$tmp/mx" --jobs 0
expect 2 "matrix: a bad time" "$cow" matrix "$tmp/mx" --time 0
expect 2 "matrix: --json and --markdown" "$cow" matrix "$tmp/mx" --json --markdown
# The history matrix itself, with the budget make run gives it (every
# failing cell is found within 600 runs of 2,000): every cell must match
# the verdict history documents.
expect 0 "the history matrix" "$cow" matrix scenarios/matrix --json
grep -q '"mismatches":0}$' "$tmp/out" && ok "the history matrix: every cell as documented" || bad "the history matrix: every cell as documented"

# cowbench: the benchmark runs end to end on a small set (no timing is
# checked here; make bench measures).  The swap benchmarks need root.
bench=${COWBENCH:-build/cowbench}
expect 0 "cowbench --help" "$bench" --help
expect 2 "cowbench: an unknown option" "$bench" --frob
expect 2 "cowbench: an unknown benchmark" "$bench" --only populate,nope
expect 2 "cowbench: a bad size" "$bench" --mib 0
expect 0 "cowbench, small" "$bench" --mib 16 --swap-mib 4 --rounds 1 --warmup 0 \
	--only populate,touch,touch-2t,fork-first,fork-repeat,exit,munmap,dontneed,cow,pin-fast,pin-slow,swapout,swapin,thp-touch,thp-fork \
	--json "$tmp/bench.json" --markdown "$tmp/bench.md"
for b in populate touch touch-2t fork-first fork-repeat exit munmap dontneed cow pin-fast pin-slow; do
	grep -q "^| $b | .* | [0-9.]* | [0-9.-]* |\$" "$tmp/bench.md" && grep -q "\"name\":\"$b\",\"unit\":\"pages/s\",\"cowlab\":{\"median\":[0-9]" "$tmp/bench.json" &&
		ok "cowbench: $b ran on both sides" || bad "cowbench: $b ran on both sides"
done
# The huge-page rows: cowlab's side always runs (it dies if it got small
# pages); the host's runs, or says why it did not (THP never, small pages).
for b in thp-touch thp-fork; do
	grep -q "\"name\":\"$b\",\"unit\":\"pages/s\",\"cowlab\":{\"median\":[0-9]" "$tmp/bench.json" &&
		{ grep -q "\"name\":\"$b\".*\"kernel\":{\"median\":[0-9]" "$tmp/bench.json" ||
			grep -q "\"name\":\"$b\".*\"kernel_skip\":\"skip: [^\"]" "$tmp/bench.json"; } &&
		ok "cowbench: $b ran (the host's side, or why not)" || bad "cowbench: $b ran (the host's side, or why not)"
done
grep -q '"struct_page_bytes":64,"cowlab_pt_bytes_per_gib":2[0-9]*,' "$tmp/bench.json" && ok "cowbench: the memory figures" || bad "cowbench: the memory figures"
if [ "$(id -u)" = 0 ]; then
	grep -q '"name":"swapin".*"kernel":{"median":[0-9]' "$tmp/bench.json" && ok "cowbench: swap on both sides" || bad "cowbench: swap on both sides"
	ls /var/tmp/cowlab-swap-* >/dev/null 2>&1 && bad "cowbench: the swap file is gone" || ok "cowbench: the swap file is gone"
	grep -q cowlab-swap /proc/swaps && bad "cowbench: swap is off again" || ok "cowbench: swap is off again"
else
	skip "cowbench: swap on the kernel's side (needs root)"
fi
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["targets"]) == 9' "$tmp/bench.json" &&
		ok "cowbench --json: valid JSON" || bad "cowbench --json: valid JSON"
fi

# Shards on a cluster (docs/scale-out.md): --shard I/N or auto, --out DIR,
# cowlab merge DIR.  Merged results equal the single process's on three
# scenarios: two passing whole dfs searches (runs, distinct schedules and
# distinct traces, the shards' sets of traces joined, with their digest)
# and a failing one (the same verdict, and a token that replays it).
jnum() { sed -n "s/.*\"$1\":\"\{0,1\}\([0-9a-f]*\)\"\{0,1\}[,}].*/\1/p" "$2" | tail -n 1; }
for sc in "scenarios/gup/gup_fast_vs_fork.cow 3" "scenarios/fork_vs_writer.cow 2"; do
	set -- $sc
	"$cow" explore "$1" --policy linux-6.5 --algo dfs --count-traces --json >"$tmp/one" 2>&1
	rm -rf "$tmp/shards"
	i=0
	while [ "$i" -lt "$2" ]; do
		"$cow" explore "$1" --policy linux-6.5 --algo dfs --count-traces --shard "$i/$2" --out "$tmp/shards" >/dev/null 2>&1
		i=$((i + 1))
	done
	expect 0 "merge: $2 shards of $(basename "$1")" "$cow" merge "$tmp/shards" --json
	same=yes
	for f in runs distinct traces traces_digest; do
		[ -n "$(jnum $f "$tmp/one")" ] && [ "$(jnum $f "$tmp/out")" = "$(jnum $f "$tmp/one")" ] || same="no ($f: merged $(jnum $f "$tmp/out"), one process $(jnum $f "$tmp/one"))"
	done
	[ "$same" = yes ] && grep -q '"found":false' "$tmp/out" && grep -q "\"cover\":\"$(sed -n 's/.*"search":"\([a-z]*\)".*/\1/p' "$tmp/one")\"" "$tmp/out" && ok "merge: $(basename "$1")'s runs, schedules, traces and cover equal one process's ($(jnum runs "$tmp/one") runs, $(jnum traces "$tmp/one") traces)" || bad "merge: $(basename "$1"): $same"
done
"$cow" explore scenarios/gup/dma_thread.cow --policy linux-2.6.29 --json >"$tmp/one" 2>&1
rm -rf "$tmp/shards"
for i in 0 1; do "$cow" explore scenarios/gup/dma_thread.cow --policy linux-2.6.29 --shard $i/2 --out "$tmp/shards" >/dev/null 2>&1; done
expect 1 "merge: a failing search's shards" "$cow" merge "$tmp/shards" --json
tok=$(sed -n 's/.*"token":"\(cow2:[^"]*\)".*/\1/p' "$tmp/out")
grep -q '"found":true,"cover":"found"' "$tmp/out" && grep -q '"verdict":"corrupt"' "$tmp/out" && grep -q '"verdict":"corrupt"' "$tmp/one" && ok "merge: the failure found, with the verdict one process finds" || bad "merge: the failure found, with the verdict one process finds"
expect 1 "merge: the merged token replays the failure" "$cow" replay "$tok"
expect 1 "merge: the text report" "$cow" merge "$tmp/shards"
grep -q "^scenarios/gup/dma_thread.cow: FOUND corrupt (linux-2.6.29) in shard [01] of 2" "$tmp/out" && grep -q "^!  *[0-9]*  a  .*dma_thread.cow:[0-9]*  failed: corrupt" "$tmp/out" && grep -q "^  cowlab replay cow2:" "$tmp/out" && ok "merge: the failure's trace and replay line" || bad "merge: the failure's trace and replay line"
# A shard missing, there twice, or of another search: errors that name it.
mv "$tmp/shards/explore-1-of-2.json" "$tmp/one.json"
expect 2 "merge: a missing shard" "$cow" merge "$tmp/shards"
grep -q "shard 1 of 2 is missing (.*explore-1-of-2.json)" "$tmp/err" && ok "merge: names the missing shard" || bad "merge: names the missing shard"
cp "$tmp/one.json" "$tmp/shards/explore-1-of-2.json"
cp "$tmp/one.json" "$tmp/shards/again.json"
expect 2 "merge: a shard twice" "$cow" merge "$tmp/shards"
grep -q "shard 1 of 2 is there twice: .*again.json and .*explore-1-of-2.json" "$tmp/err" && ok "merge: names the shard there twice" || bad "merge: names the shard there twice"
rm "$tmp/shards/again.json"
"$cow" explore scenarios/gup/dma_thread.cow --policy linux-2.6.29 --seed 7 --shard 0/2 --out "$tmp/other" >/dev/null 2>&1
cp "$tmp/other/explore-0-of-2.json" "$tmp/shards/seed7.json"
expect 2 "merge: a shard of another search" "$cow" merge "$tmp/shards"
grep -q "seed7.json is a shard of another search" "$tmp/err" && ok "merge: names the shard of another search" || bad "merge: names the shard of another search"
printf '{"format":1,"kind":"explore"' >"$tmp/shards/seed7.json"
expect 2 "merge: a truncated shard file" "$cow" merge "$tmp/shards"
grep -q "seed7.json: not a shard's result: line 1: " "$tmp/err" && ok "merge: says where the file is broken" || bad "merge: says where the file is broken"
mkdir -p "$tmp/empty"
expect 2 "merge: a folder without shards" "$cow" merge "$tmp/empty"
expect 2 "merge: no folder" "$cow" merge
# --shard auto: Slurm job arrays (index - min over step, of count) and
# Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX of --shards or COWLAB_SHARDS).
rm -rf "$tmp/auto"
for id in 4 6 8; do
	SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_MIN=4 SLURM_ARRAY_TASK_STEP=2 SLURM_ARRAY_TASK_COUNT=3 "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs --shard auto --out "$tmp/auto" >/dev/null 2>&1
done
[ -f "$tmp/auto/explore-0-of-3.json" ] && [ -f "$tmp/auto/explore-1-of-3.json" ] && [ -f "$tmp/auto/explore-2-of-3.json" ] && ok "--shard auto: a Slurm array's tasks are shards 0..2 of 3" || bad "--shard auto: a Slurm array's tasks are shards 0..2 of 3"
"$cow" merge "$tmp/auto" --json >"$tmp/out" 2>&1
"$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs --json >"$tmp/one" 2>&1
[ "$(jnum runs "$tmp/out")" = "$(jnum runs "$tmp/one")" ] && ok "--shard auto: the Slurm shards merge to the whole" || bad "--shard auto: the Slurm shards merge to the whole"
rm -rf "$tmp/auto"
for id in 0 1; do
	JOB_COMPLETION_INDEX=$id COWLAB_SHARDS=2 "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs --shard auto --out "$tmp/auto" >/dev/null 2>&1
done
JOB_COMPLETION_INDEX=1 "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs --shard auto --shards 2 >"$tmp/out" 2>&1
[ -f "$tmp/auto/explore-0-of-2.json" ] && [ -f "$tmp/auto/explore-1-of-2.json" ] && grep -q "of shard 1/2's part" "$tmp/out" && ok "--shard auto: a Kubernetes Indexed Job's index, of COWLAB_SHARDS or --shards" || bad "--shard auto: a Kubernetes Indexed Job's index, of COWLAB_SHARDS or --shards"
expect 2 "--shard auto outside Slurm and Kubernetes" env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --shard auto
grep -q "not in a Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job" "$tmp/err" && ok "--shard auto: says what it looked for" || bad "--shard auto: says what it looked for"
expect 2 "--shard auto in an Indexed Job without the count" env JOB_COMPLETION_INDEX=0 "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --shard auto
expect 2 "--shard auto: --shards against the Slurm array's count" env SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_COUNT=2 "$cow" explore scenarios/gup/gup_fast_vs_fork.cow --shard auto --shards 3
# The matrix: shards of cells (2 of 6 cells), and of each cell's search
# (7 shards of 6 cells: each cell's runs in 2 parts); the merged table's
# verdicts are the single process's.
mx="scenarios/matrix/r17_gup_fast_vs_fork.cow scenarios/matrix/r18_dirty_cow.cow scenarios/zero_page.cow"
"$cow" matrix $mx --policy linux-2.6.29,linux-6.5 --jobs 2 --json >"$tmp/one" 2>&1
verdicts() { sed 's/"found":"/\n&/g' "$1" | sed -n 's/^"found":"\([a-z]*\)".*/\1/p' | tr '\n' ' '; }
for n in 2 7; do
	rm -rf "$tmp/mx"
	i=0
	while [ "$i" -lt "$n" ]; do
		"$cow" matrix $mx --policy linux-2.6.29,linux-6.5 --jobs 2 --shard "$i/$n" --out "$tmp/mx" >/dev/null 2>&1
		i=$((i + 1))
	done
	"$cow" merge "$tmp/mx" --json >"$tmp/out" 2>"$tmp/err"
	[ -n "$(verdicts "$tmp/one")" ] && [ "$(verdicts "$tmp/out")" = "$(verdicts "$tmp/one")" ] && grep -q '"cells":6,"finished":6' "$tmp/out" && ok "merge: a matrix in $n shards has the single process's verdicts ($(verdicts "$tmp/one"))" || bad "merge: a matrix in $n shards: $(verdicts "$tmp/out") vs $(verdicts "$tmp/one")"
done
# A matrix shard stopped before its end: its cells without a verdict are
# '-' and merge exits 130; one stopped after its cells finished left
# nothing out.
rm -rf "$tmp/mx"
for i in 0 1; do "$cow" matrix scenarios/matrix/r17_gup_fast_vs_fork.cow --policy linux-2.6.29,linux-6.5 --shard $i/2 --out "$tmp/mx" >/dev/null 2>&1; done
sed 's/"complete":true/"complete":false/' "$tmp/mx/matrix-1-of-2.json" >"$tmp/stopped.json" && mv "$tmp/stopped.json" "$tmp/mx/matrix-1-of-2.json"
expect 0 "merge: a matrix shard stopped after its cells finished" "$cow" merge "$tmp/mx"
if command -v python3 >/dev/null 2>&1; then
	python3 - "$tmp/mx/matrix-1-of-2.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["result"]["rows"]:
    r["cells"] = [c if c.get("found") is None else {"preset": c["preset"], "found": None, "stopped": True}
                  for c in r["cells"]]
json.dump(d, open(sys.argv[1], "w"))
PY
	expect 130 "merge: a matrix shard stopped before a cell's verdict" "$cow" merge "$tmp/mx"
	grep -q "^interrupted: 1 of 2 cells finished, the others are marked '-'" "$tmp/out" && ok "merge: the stopped shard's cell is '-'" || bad "merge: the stopped shard's cell is '-'"
else
	skip "merge: a matrix shard stopped before a cell's verdict (no python3 to edit the JSON)"
fi
"$cow" matrix $mx --policy linux-2.6.29,linux-6.5 --jobs 2 --shard 1/7 >"$tmp/out" 2>&1
grep -q "^shard 1 of 7: one of the 2 parts of the search of each of 2 cells" "$tmp/out" && ok "matrix --shard: says which part it ran" || bad "matrix --shard: says which part it ran"

echo "cli: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
