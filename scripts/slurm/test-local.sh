#!/usr/bin/env bash
# The Slurm test (`npm run test:slurm`; not in the default CI run): starts a single-node Slurm
# (scripts/slurm/local-cluster.sh), submits SPEC as a 4-shard job array plus the dependent merge
# job (scripts/slurm/submit-shards.sh), waits, and checks the merged summary against one
# unsharded run of the same spec on the same backend: counts and exact sums equal, moments within
# rounding. Needs root, slurm-wlm and munge.
#   scripts/slurm/test-local.sh [SPEC] [run options]   (default: examples/two-gaussians.json, --backend cpu)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
spec=${1:-$repo/examples/two-gaussians.json}
shift || true
run_args=("$@")
[ ${#run_args[@]} -gt 0 ] || run_args=(--backend cpu --particles 200000)
work=$(mktemp -d "${TMPDIR:-/tmp}/gs-slurm.XXXXXX")
cluster="$work/cluster"
trap 'bash "$repo/scripts/slurm/local-cluster.sh" stop "$cluster" || true' EXIT

eval "$(bash "$repo/scripts/slurm/local-cluster.sh" start "$cluster")"
ids=$(bash "$repo/scripts/slurm/submit-shards.sh" "$spec" 4 "$work/out" "${run_args[@]}")
echo "$ids"
merge_id=$(echo "$ids" | awk '/^merge:/ {print $2}')
# Wait for the merge job to leave the queue (the shards run first: afterok).
for _ in $(seq 600); do
  squeue -h -j "$merge_id" 2>/dev/null | grep -q . || break
  sleep 1
done
if [ ! -s "$work/out/merged.json" ]; then
  echo "test-local: no merged summary; logs:" >&2
  tail -n 20 "$work"/out/*.log >&2 || true
  exit 1
fi
"$repo/node_modules/.bin/node" "$repo/bin/guidance-sampler.js" run "$spec" "${run_args[@]}" >"$work/single.json"
"$repo/node_modules/.bin/node" - "$work/single.json" "$work/out/merged.json" <<'EOF'
const fs = require('node:fs');
const [single, merged] = process.argv.slice(2).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
const problems = [];
for (const f of ['particles', 'dim', 'nonFinite', 'backend', 'insideSupport']) {
  if (JSON.stringify(single[f]) !== JSON.stringify(merged[f])) problems.push(`${f}: ${JSON.stringify(merged[f])} != ${JSON.stringify(single[f])}`);
}
// Chan's parallel update reorders the sums: equal to a few ulps of the second moment's scale.
const close = (a, b, scale) => Math.abs(a - b) <= 1e-12 * Math.max(1, scale);
const scale = Math.max(...single.covariance.flat().map(Math.abs), ...single.mean.map(Math.abs));
single.mean.forEach((m, i) => { if (!close(m, merged.mean[i], scale)) problems.push(`mean[${i}]: ${merged.mean[i]} != ${m}`); });
single.covariance.flat().forEach((c, i) => { if (!close(c, merged.covariance.flat()[i], scale)) problems.push(`covariance[${i}]: ${merged.covariance.flat()[i]} != ${c}`); });
if (problems.length) { console.error('test-local: merged != single run\n  ' + problems.join('\n  ')); process.exit(1); }
console.log(`test-local: PASS (4 Slurm shards merged = single run: ${single.particles} particles, backend ${single.backend})`);
EOF
