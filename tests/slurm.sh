#!/bin/sh
# contrib/slurm on a real one-node Slurm cluster (docs/scale-out.md).
# Usage: tests/slurm.sh [BUILD_DIR] (default build: the folder that
# holds cowlab).
#
# As root it installs Debian's slurmctld, slurmd, slurm-client and munge
# where they are missing (apt-get install, after apt-get update only if
# that fails), then starts a cluster of its own in a mktemp folder: a
# munge key made there and a munged with its own socket, pid, log and
# seed files; a slurm.conf (SLURM_CONF) naming this host (its short name,
# at 127.0.0.1) as the controller and the one node, with the CPUs and
# memory 'slurmd -C' reports, state, spool, pid and log files in the
# folder, ports SLURM_TEST_PORT and the one after it (default 16817,
# 16818); slurmctld and slurmd.  Nothing is written outside that folder
# (Debian's munge package makes /etc/munge/munge.key when it is
# installed; this test does not use it), and a trap stops the daemons it
# started (by their pid files) and removes the folder on any exit.
#
# With the node idle it submits, through contrib/slurm/submit.sh:
#   - scenarios/gup/gup_fast_vs_fork.cow --policy linux-6.5 --algo dfs as
#     3 shards: every shard and the merge job complete, the merged runs
#     and distinct runs equal those of one unsharded 'cowlab explore' of
#     the same search, and so do found and the verdict;
#   - scenarios/gup/dma_thread.cow --policy linux-2.6.29 as 2 shards: the
#     merge job ends with exit code 1, the merged result is found with a
#     token, and 'cowlab replay TOKEN' fails the same way (exit 1, same
#     verdict).
# Prints one line per check,
#     slurm: ok - WHAT    or    slurm: FAIL - WHAT
# then
#     slurm time: Ns
#     slurm: N passed, N failed
# Exit status 0 iff nothing failed.  Not root, no packages, no python3,
# or no cowlab: it prints 'slurm: SKIPPED (reason)' and exits 0.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
start=$(date +%s)
passed=0
failed=0
case $build in
/*) cowlab=$build/cowlab ;;
*) cowlab=$top/$build/cowlab ;;
esac
port=${SLURM_TEST_PORT:-16817}
wait_jobs=${SLURM_TEST_TIMEOUT:-240}

ok() {
	echo "slurm: ok - $1"
	passed=$((passed + 1))
}
fail() {
	echo "slurm: FAIL - $1"
	failed=$((failed + 1))
}
skip() {
	echo "slurm: SKIPPED ($1)"
	exit 0
}
finish() {
	echo "slurm time: $(($(date +%s) - start))s"
	echo "slurm: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

[ "$(id -u)" -eq 0 ] || skip "not root: a cluster needs root to start slurmd"
command -v python3 >/dev/null 2>&1 || skip "no python3 to read the JSON results"
[ -x "$cowlab" ] || skip "no $cowlab: build it first"
if ! "$cowlab" explore --help 2>&1 | grep -q -- '--out'; then
	fail "$cowlab explore has no --out (a build from before the shard files?)"
	finish
fi

# --- packages -------------------------------------------------------------
have_slurm() {
	for c in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
		command -v "$c" >/dev/null 2>&1 || return 1
	done
}
if ! have_slurm; then
	pkgs="slurmctld slurmd slurm-client munge"
	echo "slurm: installing $pkgs"
	# shellcheck disable=SC2086 # the package names are words
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y $pkgs >/dev/null 2>&1; then
		apt-get update >/dev/null 2>&1
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y $pkgs >/dev/null 2>&1 ||
			skip "apt-get install $pkgs failed"
	fi
	have_slurm || skip "no slurmctld, slurmd, sbatch or munged after the install"
fi
# A package's postinst may have started a system munged or slurm daemon
# (where an init system lets it); this test leaves those alone.
for d in munged slurmctld slurmd; do
	for p in $(ps -eo pid=,comm= | awk -v d="$d" '$2 == d { print $1 }'); do
		echo "slurm: note - a $d is already running (pid $p); this test leaves it alone"
	done
done

# --- the cluster ------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cowlab-slurm.XXXXXX") || skip "mktemp failed"
# munged wants every folder above its socket searchable by all.
chmod 755 "$tmp"

# stop PIDFILE NAME: end the daemon a pid file names, if it is NAME.
# shellcheck disable=SC2317 # stop and cleanup run from the trap
stop() {
	[ -s "$1" ] || return 0
	p=$(cat "$1" 2>/dev/null)
	case $p in '' | *[!0-9]*) return 0 ;; esac
	[ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$2" ] || return 0
	kill "$p" 2>/dev/null
	i=0
	while [ -d /proc/"$p" ] && [ "$i" -lt 50 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	[ -d /proc/"$p" ] && kill -9 "$p" 2>/dev/null
	return 0
}
# shellcheck disable=SC2317
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -s "$tmp/slurmctld.pid" ]; then
		scancel --quiet --user=root 2>/dev/null
		sleep 1
	fi
	stop "$tmp/slurmd.pid" slurmd
	stop "$tmp/slurmctld.pid" slurmctld
	stop "$tmp/munged.pid" munged
	if [ "$failed" -ne 0 ] && [ -n "${SLURM_TEST_KEEP:-}" ]; then
		echo "slurm: kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'fail "interrupted"; echo "slurm: $passed passed, $failed failed"; exit 130' INT TERM HUP

# port_free PORT: nothing listens on PORT here (connections of a
# cluster that just stopped, in TIME-WAIT, do not count: Slurm binds
# with SO_REUSEADDR too).
port_free() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}
if ! port_free "$port" || ! port_free $((port + 1)); then
	skip "port $port or $((port + 1)) is in use (SLURM_TEST_PORT=P picks others)"
fi

mungekey --create --keyfile="$tmp/munge.key" >"$tmp/mungekey.log" 2>&1 ||
	{ fail "mungekey --create: $(cat "$tmp/mungekey.log")"; finish; }
munged --key-file="$tmp/munge.key" --socket="$tmp/munge.sock" \
	--pid-file="$tmp/munged.pid" --log-file="$tmp/munged.log" \
	--seed-file="$tmp/munged.seed" >"$tmp/munged.out" 2>&1 ||
	munged --force --key-file="$tmp/munge.key" --socket="$tmp/munge.sock" \
		--pid-file="$tmp/munged.pid" --log-file="$tmp/munged.log" \
		--seed-file="$tmp/munged.seed" >>"$tmp/munged.out" 2>&1
if munge -S "$tmp/munge.sock" -n 2>/dev/null | unmunge -S "$tmp/munge.sock" >/dev/null 2>&1; then
	ok "munged runs on its own key and socket"
else
	fail "munged did not start: $(tail -n 3 "$tmp/munged.out" "$tmp/munged.log" 2>/dev/null)"
	finish
fi

host=$(hostname -s)
node=$(slurmd -C 2>/dev/null | head -n 1)
cpus=$(echo "$node" | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')
mem=$(echo "$node" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
cpus=${cpus:-1}
mem=${mem:-1000}
mkdir -p "$tmp/state" "$tmp/spool"
cat >"$tmp/slurm.conf" <<EOF
# A one-node test cluster (tests/slurm.sh); every file in $tmp.
ClusterName=cowlabtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge.sock
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
SLURM_CONF=$tmp/slurm.conf
export SLURM_CONF
# Site defaults in the caller's environment would change the jobs.
unset SBATCH_PARTITION SBATCH_ACCOUNT SBATCH_EXPORT SBATCH_TIMELIMIT 2>/dev/null

slurmctld -f "$SLURM_CONF" >"$tmp/slurmctld.out" 2>&1 ||
	{ fail "slurmctld did not start: $(tail -n 5 "$tmp/slurmctld.out" "$tmp/slurmctld.log" 2>/dev/null)"; finish; }
slurmd -f "$SLURM_CONF" >"$tmp/slurmd.out" 2>&1 ||
	{ fail "slurmd did not start: $(tail -n 5 "$tmp/slurmd.out" "$tmp/slurmd.log" 2>/dev/null)"; finish; }
i=0
state=
while [ "$i" -lt 60 ]; do
	state=$(sinfo -h -n "$host" -o %t 2>/dev/null)
	[ "$state" = idle ] && break
	sleep 1
	i=$((i + 1))
done
if [ "$state" = idle ]; then
	ok "one-node cluster up: node $host idle after ${i}s ($cpus CPUs, ${mem} MB)"
else
	fail "node $host not idle after 60s (state '$state'): $(tail -n 5 "$tmp/slurmctld.log" "$tmp/slurmd.log" 2>/dev/null)"
	finish
fi

# --- helpers ----------------------------------------------------------------
# job_states ID: the state of each job (or array task) ID names, one a line.
job_states() {
	scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'
}
# job_exits ID: the ExitCode of each, one a line.
job_exits() {
	scontrol -o show job "$1" 2>/dev/null | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p'
}
# wait_done ID...: until every job named has ended, at most $wait_jobs s
# in all.  Returns 1 on the time-out.
wait_done() {
	while :; do
		busy=0
		for j in "$@"; do
			s=$(job_states "$j")
			[ -n "$s" ] || busy=1
			for x in $s; do
				case $x in PENDING | RUNNING | CONFIGURING | COMPLETING | SUSPENDED | REQUEUED) busy=1 ;; esac
			done
		done
		[ "$busy" -eq 0 ] && return 0
		[ $(($(date +%s) - jobs_start)) -ge "$wait_jobs" ] && return 1
		sleep 1
	done
}
# submit NAME N ARGS...: submit.sh N ARGS with OUT=$tmp/NAME; sets
# array_id and merge_id, or fails the check and returns 1.
submit() {
	name=$1
	n=$2
	shift 2
	array_id=
	merge_id=
	OUT=$tmp/$name COWLAB=$cowlab sh contrib/slurm/submit.sh "$n" "$@" \
		>"$tmp/$name.submit" 2>&1
	rc=$?
	array_id=$(sed -n 's/^array job \([0-9]*\):.*/\1/p' "$tmp/$name.submit")
	merge_id=$(sed -n 's/^merge job \([0-9]*\):.*/\1/p' "$tmp/$name.submit")
	if [ "$rc" -ne 0 ] || [ -z "$array_id" ] || [ -z "$merge_id" ]; then
		fail "$name: submit.sh exited $rc: $(cat "$tmp/$name.submit")"
		return 1
	fi
	ok "$name: submit.sh queued array job $array_id ($n shards) and merge job $merge_id after it"
}
# show_logs NAME: the logs of a run that went wrong.
show_logs() {
	for f in "$tmp/$1"/slurm-*.out; do
		[ -f "$f" ] || continue
		echo "---- $(basename "$f")"
		tail -n 15 "$f"
	done
	echo "---- slurmctld.log"
	tail -n 15 "$tmp/slurmctld.log"
	echo "----"
}

pass_file=$top/scenarios/gup/gup_fast_vs_fork.cow
pass_args="--policy linux-6.5 --algo dfs"
fail_file=$top/scenarios/gup/dma_thread.cow
fail_args="--policy linux-2.6.29"
# The matrix: 3 scenarios under 2 presets in 4 shards (cells, with no
# part split: 6 cells), each cell as its expect lines say.
mx_files="$top/scenarios/matrix/r17_gup_fast_vs_fork.cow $top/scenarios/matrix/r18_dirty_cow.cow $top/scenarios/matrix/r07_vmsplice_thp.cow"
mx_args="--policy linux-2.6.29,linux-6.5 --jobs 1"

# --- submit both searches, then wait for both -----------------------------
jobs_start=$(date +%s)
pass_ok=0
fail_ok=0
# shellcheck disable=SC2086 # the args are words
submit pass 3 explore "$pass_file" $pass_args && pass_ok=1
pass_array=$array_id
pass_merge=$merge_id
# shellcheck disable=SC2086
submit fail 2 explore "$fail_file" $fail_args && fail_ok=1
fail_array=$array_id
fail_merge=$merge_id
mx_ok=0
# shellcheck disable=SC2086
submit matrix 4 matrix $mx_files $mx_args && mx_ok=1
mx_array=$array_id
mx_merge=$merge_id
[ "$pass_ok" -eq 1 ] || [ "$fail_ok" -eq 1 ] || [ "$mx_ok" -eq 1 ] || finish

# The unsharded searches, run here while the cluster works.
# shellcheck disable=SC2086
"$cowlab" explore "$pass_file" $pass_args --json >"$tmp/pass.direct" 2>"$tmp/pass.direct.err"
pass_direct_rc=$?
# shellcheck disable=SC2086
"$cowlab" explore "$fail_file" $fail_args --json >"$tmp/fail.direct" 2>"$tmp/fail.direct.err"
fail_direct_rc=$?
# shellcheck disable=SC2086
"$cowlab" matrix $mx_files $mx_args --json >"$tmp/matrix.direct" 2>"$tmp/matrix.direct.err"

ids=
[ "$pass_ok" -eq 1 ] && ids="$pass_array $pass_merge"
[ "$fail_ok" -eq 1 ] && ids="$ids $fail_array $fail_merge"
[ "$mx_ok" -eq 1 ] && ids="$ids $mx_array $mx_merge"
# shellcheck disable=SC2086
if wait_done $ids; then
	ok "every job ended within ${wait_jobs}s (in $(($(date +%s) - jobs_start))s)"
else
	fail "jobs still not done after ${wait_jobs}s: $(squeue -h -o '%i %T %r' 2>&1 | tr '\n' ';')"
	show_logs pass
	show_logs fail
	finish
fi

# check_jobs NAME ARRAY N MERGE MERGE_EXIT: every array task COMPLETED
# with 0:0, N of them, and the merge job ran and ended with MERGE_EXIT
# (COMPLETED for 0, FAILED otherwise; a cancelled one never ran).
check_jobs() {
	states=$(job_states "$2" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
	exits=$(job_exits "$2" | sort -u | tr '\n' ' ')
	if [ "$states" = " $3 COMPLETED;" ] && [ "$exits" = "0:0 " ]; then
		ok "$1: the $3 array tasks completed with exit code 0"
	else
		fail "$1: array tasks:$states exit codes $exits"
		show_logs "$1"
	fi
	mexit=$(job_exits "$4")
	mstate=$(job_states "$4")
	want=COMPLETED
	[ "$5" -ne 0 ] && want=FAILED
	if [ "$mstate" = "$want" ] && [ "$mexit" = "$5:0" ]; then
		ok "$1: the merge job ran after them and exited $5 ($mstate)"
	else
		fail "$1: the merge job: state $mstate, exit code '$mexit' (wanted $want, $5:0)"
		show_logs "$1"
	fi
}

# --- the passing search ------------------------------------------------------
if [ "$pass_ok" -eq 1 ]; then
	check_jobs pass "$pass_array" 3 "$pass_merge" 0
	out=$(python3 - "$tmp/pass" "$tmp/pass.direct" "$pass_direct_rc" 3 explore <<'EOF'
import json, os, sys
out, direct, direct_rc, n, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def ok(m): print("slurm: ok - pass: " + m)
def fail(m): print("slurm: FAIL - pass: " + m)
def last_json(path):
    lines = [l for l in open(path) if l.strip().startswith("{")]
    return json.loads(lines[-1]) if lines else None
shards = []
for i in range(n):
    p = os.path.join(out, "%s-%d-of-%d.json" % (kind, i, n))
    try:
        shards.append(json.load(open(p)))
    except Exception as e:
        fail("shard file %s: %s" % (os.path.basename(p), e))
        sys.exit(0)
bad = [s for i, s in enumerate(shards)
       if s.get("kind") != kind or s.get("shard") != i or s.get("shards") != n]
if bad:
    fail("shard files' kind/shard/shards: %s" % [(s.get("kind"), s.get("shard"), s.get("shards")) for s in bad])
else:
    ok("%d shard files %s-I-of-%d.json, each naming its shard" % (n, kind, n))
try:
    m = last_json(os.path.join(out, "merged.jsonl"))
    d = last_json(direct)
except Exception as e:
    fail("reading merged.jsonl or the direct run: %s" % e)
    sys.exit(0)
if m is None or d is None:
    fail("no JSON in merged.jsonl (%s) or the direct run (%s)" % (m, d))
    sys.exit(0)
if direct_rc != 0 or d.get("found"):
    fail("the unsharded search exited %d, found %s (it should pass)" % (direct_rc, d.get("found")))
# a shard file holds its result as --json prints it under "result"
total = sum((s.get("result") or s).get("runs", 0) for s in shards)
if m.get("runs") == total:
    ok("merged runs %s = the shards' runs added up" % m.get("runs"))
else:
    fail("merged runs %s, the shards' add up to %s" % (m.get("runs"), total))
for k in ("runs", "distinct"):
    if m.get(k) is not None and m.get(k) == d.get(k):
        ok("merged %s %s = the unsharded search's" % (k, m.get(k)))
    else:
        fail("merged %s %s, the unsharded search's %s" % (k, m.get(k), d.get(k)))
if bool(m.get("found")) == bool(d.get("found")) and m.get("verdict") == d.get("verdict"):
    ok("merged found=%s verdict=%s = the unsharded search's" % (m.get("found"), m.get("verdict")))
else:
    fail("merged found=%s verdict=%s, the unsharded search's found=%s verdict=%s"
         % (m.get("found"), m.get("verdict"), d.get("found"), d.get("verdict")))
# What the merged search covered ("cover", as the unsharded result's
# "search": exhaustive, bounded, sampled), and that every shard ran its
# part to the end ("complete").
cover = m.get("cover", "exhaustive" if m.get("exhaustive") else None)
if cover == d.get("search") and cover in ("exhaustive", "bounded") and m.get("complete", True) is True:
    ok("merged search covers what the unsharded one does (%s), every shard complete" % cover)
else:
    fail("merged cover %s complete %s, the unsharded search's %s" % (cover, m.get("complete"), d.get("search")))
EOF
)
	eval "$(echo "$out" | awk '/^slurm: ok - /{p++} /^slurm: FAIL - /{f++} END{printf "p=%d f=%d\n", p, f}')"
	echo "$out"
	passed=$((passed + p))
	failed=$((failed + f))
	[ $((p + f)) -eq 0 ] && fail "pass: the python check printed nothing"
fi

# --- the failing search ------------------------------------------------------
if [ "$fail_ok" -eq 1 ]; then
	check_jobs fail "$fail_array" 2 "$fail_merge" 1
	# The merged result's token, verdict and message, one a file.
	python3 - "$tmp/fail/merged.jsonl" "$tmp/fail." <<'EOF'
import json, sys
try:
    lines = [l for l in open(sys.argv[1]) if l.strip().startswith("{")]
    m = json.loads(lines[-1])
except Exception:
    sys.exit(0)
if m.get("found") and m.get("token"):
    for k in ("token", "verdict", "message"):
        open(sys.argv[2] + k, "w").write(str(m.get(k) or ""))
EOF
	token=$(cat "$tmp/fail.token" 2>/dev/null)
	verdict=$(cat "$tmp/fail.verdict" 2>/dev/null)
	message=$(cat "$tmp/fail.message" 2>/dev/null)
	if [ -n "$token" ] && [ -n "$verdict" ]; then
		ok "fail: the merged result is found (verdict $verdict) with token $token"
		"$cowlab" replay "$token" >"$tmp/replay.out" 2>&1
		rc=$?
		if [ "$rc" -eq 1 ] && grep -qF "${message:-$verdict:}" "$tmp/replay.out"; then
			ok "fail: cowlab replay TOKEN fails the same way (exit 1, ${message:-$verdict})"
		else
			fail "fail: cowlab replay TOKEN exited $rc (wanted 1 and '${message:-$verdict:}'): $(tail -n 5 "$tmp/replay.out")"
		fi
	else
		fail "fail: merged.jsonl has no found run with a token and verdict: $(head -c 400 "$tmp/fail/merged.jsonl" 2>/dev/null)"
		show_logs fail
	fi
	dverdict=$(python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip().startswith("{")]
print(json.loads(lines[-1]).get("verdict", "") if lines else "")' "$tmp/fail.direct" 2>/dev/null)
	if [ "$fail_direct_rc" -eq 1 ] && [ -n "$verdict" ] && [ "$dverdict" = "$verdict" ]; then
		ok "fail: the unsharded search finds the same verdict ($dverdict)"
	else
		fail "fail: the unsharded search exited $fail_direct_rc with verdict '$dverdict', the merge's '$verdict'"
	fi
fi

# --- the matrix --------------------------------------------------------------
if [ "$mx_ok" -eq 1 ]; then
	check_jobs matrix "$mx_array" 4 "$mx_merge" 0
	out=$(python3 - "$tmp/matrix/merged.jsonl" "$tmp/matrix.direct" <<'EOF'
import json, sys
def cells(path):
    lines = [l for l in open(path) if l.strip().startswith("{")]
    d = json.loads(lines[-1])
    return d, [(r["scenario"], c["preset"], c.get("found"), c.get("match"))
               for r in d["rows"] for c in r["cells"]]
try:
    m, mc = cells(sys.argv[1])
    d, dc = cells(sys.argv[2])
except Exception as e:
    print("slurm: FAIL - matrix: reading the merged or the direct matrix: %s" % e)
    sys.exit(0)
if mc == dc and m.get("finished") == m.get("cells") == 6 and m.get("mismatches") == 0:
    print("slurm: ok - matrix: the merged table's 6 cells have the unsharded matrix's verdicts (%s)"
          % " ".join(c[2] for c in mc))
else:
    print("slurm: FAIL - matrix: merged %s, unsharded %s" % (mc, dc))
EOF
)
	echo "$out"
	case $out in
	*"slurm: ok - "*) passed=$((passed + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
fi

finish
