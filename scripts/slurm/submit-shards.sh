#!/usr/bin/env bash
# Submits one experiment as k shards on Slurm (docs/cluster.md): a job array of k tasks, each
# `run SPEC --shard $SLURM_ARRAY_TASK_ID/k --state OUT/shard-<i>.state`, and a merge job that
# starts when every task has succeeded (afterok) and writes OUT/merged.json and OUT/merged.state.
#   scripts/slurm/submit-shards.sh SPEC K OUTDIR [extra run options, e.g. --backend webgpu]
# Extra sbatch options (partition, GPUs, time) go in SBATCH_* environment variables or in
# GS_SBATCH_ARGS, e.g. GS_SBATCH_ARGS="--partition=gpu --gres=gpu:1". Prints the two job ids.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 SPEC K OUTDIR [run options]" >&2
  exit 2
fi
spec=$(realpath "$1")
k=$2
out=$3
shift 3
if ! [[ "$k" =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: K must be a positive integer, got $k" >&2
  exit 2
fi
mkdir -p "$out"
out=$(realpath "$out")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# Options for run travel as one string (split again by the job script): no spaces inside options.
export GS_REPO="$repo" GS_SPEC="$spec" GS_K="$k" GS_OUT="$out" GS_RUN_ARGS="$*"
# shellcheck disable=SC2086
array=$(sbatch --parsable ${GS_SBATCH_ARGS:-} --array="0-$((k - 1))" --job-name=gs-shard \
  --output="$out/shard-%a.log" --export=ALL "$here/shard.sbatch")
array=${array%%;*} # --parsable prints "jobid[;cluster]"
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${GS_SBATCH_ARGS:-} --dependency="afterok:$array" --job-name=gs-merge \
  --output="$out/merge.log" --export=ALL "$here/merge.sbatch")
echo "shards: $array"
echo "merge: ${merge%%;*}"
