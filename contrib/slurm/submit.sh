#!/bin/sh
# submit.sh: submit a cowlab search as a Slurm job array of N shards and
# a merge job that runs once every shard has ended well
# (contrib/slurm/cowlab.sbatch; docs/scale-out.md).
#
# usage: OUT=DIR [COWLAB=BINARY] submit.sh N explore FILE [ARGS...]
#        OUT=DIR [COWLAB=BINARY] submit.sh N matrix [DIR|FILE...] [ARGS...]
#
#   N       the number of shards (array tasks 0..N-1)
#   OUT     the results folder on a filesystem every node shares; created
#           if missing, refused if it already holds shard results
#   COWLAB  the cowlab binary every node runs (default: cowlab on the
#           job's PATH); a relative path is made absolute here
# The arguments after N are cowlab's, without --shard and --out.  Give
# FILE and DIR as paths every node can read (absolute paths are safest).
# Site options (partition, time limit, account) go through sbatch's own
# variables: SBATCH_PARTITION, SBATCH_TIMELIMIT, SBATCH_ACCOUNT, ...
#
# Prints the two job ids:
#   array job ID: N shards, logs OUT/slurm-ID_I.out
#   merge job ID: after array job ID, logs OUT/slurm-merge-ID.out, result OUT/merged.jsonl
# and exits 0, or prints why not and exits 2.  Then wait for the merge
# job (squeue -j ID) and read its log, or run 'cowlab merge OUT' anywhere.
set -u

usage() {
	echo "usage: OUT=DIR [COWLAB=BINARY] $0 N explore FILE [ARGS...] | N matrix [DIR|FILE...] [ARGS...]" >&2
	exit 2
}
[ $# -ge 2 ] || usage
n=$1
shift
case $n in
'' | *[!0-9]* | 0*) usage ;;
esac
case $1 in
explore | matrix) ;;
*) usage ;;
esac
if [ -z "${OUT:-}" ]; then
	echo "submit.sh: OUT is not set (the shared results folder)" >&2
	exit 2
fi
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd) || exit 2
for f in "$OUT"/explore-*-of-*.json "$OUT"/matrix-*-of-*.json "$OUT"/merged.jsonl; do
	if [ -e "$f" ]; then
		echo "submit.sh: $OUT already holds results ($f): use a new folder" >&2
		exit 2
	fi
done
if [ -n "${COWLAB:-}" ]; then
	case $COWLAB in
	/*) ;;
	*/*) COWLAB=$(cd "$(dirname "$COWLAB")" && pwd)/$(basename "$COWLAB") || exit 2 ;;
	esac
	export COWLAB
fi
export OUT
script=$(dirname "$0")/cowlab.sbatch
if [ ! -r "$script" ]; then
	echo "submit.sh: no $script" >&2
	exit 2
fi

array=$(sbatch --parsable --array=0-$((n - 1)) --output="$OUT/slurm-%A_%a.out" \
	"$script" "$@") || exit 2
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes \
	--output="$OUT/slurm-merge-%j.out" "$script" merge) || {
	echo "submit.sh: the merge job was not submitted; cancelling array job $array" >&2
	scancel "$array"
	exit 2
}
merge=${merge%%;*}
echo "array job $array: $n shards, logs $OUT/slurm-${array}_I.out"
echo "merge job $merge: after array job $array, logs $OUT/slurm-merge-$merge.out, result $OUT/merged.jsonl"
