#!/bin/sh
# make bench, the explorer's part: runs per second per core, time to the
# first counterexample of the bundled races, the speed-up of --jobs 2, the
# step checker against the full check, and proof searches of dpor against
# dfs with sleep sets.
# Every figure comes from `cowlab explore --json` in this one run; the
# ratios are against baselines measured in the same run.
#
#   sh bench/explore.sh COWLAB [OUTDIR]
#
# Writes OUTDIR/explore.json (one JSON object per line) and
# OUTDIR/explore.md (the tables), and prints the tables.
set -eu
cow=${1:?usage: explore.sh COWLAB [OUTDIR]}
out=${2:-build/bench}
mkdir -p "$out"
json="$out/explore.json"
md="$out/explore.md"
: >"$json"

# The last value of a numeric or string field in JSON lines on stdin.
field() {
	sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\)\"\{0,1\}[,}].*/\1/p" | tail -n 1
}

# explore ARGS...: run, keep the result line, print it.
explore() {
	line=$("$cow" explore "$@" --json 2>/dev/null | grep '"type":"result"' || true)
	printf '%s\n' "$line" >>"$json"
	printf '%s\n' "$line"
}

# The bundled races that linux-2.6.29 loses.
races="scenarios/gup/gup_fast_vs_fork.cow scenarios/gup/forkscrewreverse.cow
scenarios/gup/forkscrew.cow scenarios/gup/dma_thread.cow scenarios/gup/vmsplice_child_leak.cow
scenarios/gup/iouring_fixed_fork.cow"

{
	echo "## Explorer throughput (one worker process, one core)"
	echo
	echo "| program | algorithm | runs | runs/s |"
	echo "|---|---|---:|---:|"
	for algo in random pct dfs; do
		if [ "$algo" = dfs ]; then
			r=$(explore two-cpus-100 --algo dfs --preemptions 3)
		else
			r=$(explore two-cpus-100 --algo "$algo" --time 2)
		fi
		echo "| two-cpus-100 (2 tasks, ~100 steps) | $algo | $(echo "$r" | field runs) | $(echo "$r" | field runs_per_s) |"
	done
	for f in $races scenarios/ksm_dio.cow; do
		r=$(explore "$f" --policy linux-6.5 --algo random --time 1)
		echo "| $f (linux-6.5) | random | $(echo "$r" | field runs) | $(echo "$r" | field runs_per_s) |"
	done
	echo
	echo "## Time to the first counterexample (linux-2.6.29, --algo auto, seeds 1-3)"
	echo
	echo "| scenario | found in (s), per seed | runs, per seed | preemptions | visible steps | token chars |"
	echo "|---|---|---|---:|---:|---:|"
	for f in $races; do
		times="" runs="" pre="" vis="" tok=""
		for seed in 1 2 3; do
			r=$(explore "$f" --policy linux-2.6.29 --seed "$seed" --runs 200000)
			if [ "$(echo "$r" | field found)" = true ]; then
				times="$times $(echo "$r" | field elapsed)"
				runs="$runs $(echo "$r" | field runs)"
				pre="$pre $(echo "$r" | field preemptions)"
				vis="$vis $(echo "$r" | field visible_steps)"
				tok="$tok $(echo "$r" | field token | awk '{print length($0)}')"
			else
				times="$times -" runs="$runs -"
			fi
		done
		max() { printf '%s\n' $1 | sort -n | tail -n 1; }
		echo "| $f |$times |$runs | $(max "$pre") | $(max "$vis") | $(max "$tok") |"
	done
	echo
	echo "## Parallel workers (--jobs), same run"
	echo
	echo "| program | jobs 1 runs/s | jobs 2 runs/s | speed-up |"
	echo "|---|---:|---:|---:|"
	for target in "two-cpus-100" "scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5"; do
		# shellcheck disable=SC2086
		one=$(explore $target --algo random --time 2 --jobs 1 | field runs_per_s)
		# shellcheck disable=SC2086
		two=$(explore $target --algo random --time 2 --jobs 2 | field runs_per_s)
		ratio=$(awk -v a="$one" -v b="$two" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')
		echo "| $target | $one | $two | $ratio |"
	done
	echo
	echo "## Checks between steps: the step checker against the full check"
	echo
	echo "Both sides run the same 5,000 random schedules (seed 1, linux-6.5) of the"
	echo "same scenario with the same devices in memory and the same full strict"
	echo "check at the end of each run; only the check at each branch differs."
	echo
	echo "| scenario | touched runs/s | full runs/s | touched/full |"
	echo "|---|---:|---:|---:|"
	for f in scenarios/gup/gup_fast_vs_fork.cow scenarios/gup/forkscrew.cow \
		scenarios/gup/forkscrewreverse.cow scenarios/gup/dma_thread.cow; do
		t=$(explore "$f" --policy linux-6.5 --algo random --runs 5000 --checks touched | field runs_per_s)
		u=$(explore "$f" --policy linux-6.5 --algo random --runs 5000 --checks full | field runs_per_s)
		ratio=$(awk -v a="$t" -v b="$u" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
		echo "| $f | $t | $u | $ratio |"
	done
	echo
	echo "## Proofs: dpor against dfs with sleep sets and no bound (linux-6.5, 30 s each)"
	echo
	echo "Both count the distinct traces of their runs (--count-traces, by Foata"
	echo "normal form, a lower bound) and print a digest of the set of forms:"
	echo "equal digests, the same forms."
	echo "Runs cut short (every runnable task asleep) are counted apart and cost"
	echo "time too."
	echo
	echo "| scenario | algorithm | search | counted runs | traces | digest | cut short | seconds | traces/s |"
	echo "|---|---|---|---:|---:|---|---:|---:|---:|"
	for f in scenarios/matrix/r17_gup_fast_vs_fork.cow scenarios/matrix/r18_dirty_cow.cow \
		scenarios/matrix/r18_dirty_cow_zero_page.cow scenarios/gup/gup_fast_vs_fork.cow; do
		for algo in dpor dfs-sleep; do
			if [ "$algo" = dpor ]; then
				r=$(explore "$f" --policy linux-6.5 --algo dpor --count-traces --time 30)
			else
				r=$(explore "$f" --policy linux-6.5 --algo dfs-sleep --preemptions 64 --count-traces --time 30)
			fi
			runs=$(echo "$r" | field runs) el=$(echo "$r" | field elapsed) tr=$(echo "$r" | field traces)
			rate=$(awk -v n="$tr" -v t="$el" 'BEGIN { if (t > 0) printf "%.0f", n / t; else print "-" }')
			echo "| $f | $algo | $(echo "$r" | field search) | $runs | $tr | $(echo "$r" | field traces_digest) | $(echo "$r" | field uncounted) | $el | $rate |"
		done
	done
} | tee "$md"
echo
echo "results: $json, $md"
