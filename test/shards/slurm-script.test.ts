// scripts/slurm/submit-shards.sh against a stand-in `sbatch` (issue 19 item 4, partly): the
// stand-in runs each array task in turn with SLURM_ARRAY_TASK_ID set and the job's exported
// environment, and refuses a dependency on a job it did not issue or whose tasks failed. This
// checks the script's wiring (array size, per-task shard, afterok merge, output files) and that
// its merged summary equals the single run; it is not a test on a real Slurm.
// @vitest-environment node
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'gs-slurm-'));

const FAKE_SBATCH = `#!/usr/bin/env bash
# A stand-in for sbatch: runs the job now; --array tasks in turn; --dependency=afterok:ID checked.
set -u
state=${JSON.stringify(join(dir, 'fake-sbatch'))}
mkdir -p "$state"
id=$(( $(cat "$state/next" 2>/dev/null || echo 100) + 1 )); echo $id > "$state/next"
array= dep= script=
for a in "$@"; do
  case $a in
    --array=*) array=\${a#--array=} ;;
    --dependency=afterok:*) dep=\${a#--dependency=afterok:} ;;
    --*) ;;
    *) script=$a ;;
  esac
done
echo "$*" >> "$state/calls"
if [ -n "$dep" ] && [ "$(cat "$state/$dep" 2>/dev/null)" != ok ]; then echo "fake sbatch: dependency $dep not satisfied" >&2; exit 1; fi
status=ok
if [ -n "$array" ]; then
  for ((i = \${array%-*}; i <= \${array#*-}; i++)); do SLURM_ARRAY_TASK_ID=$i bash "$script" || status=failed; done
else
  bash "$script" || status=failed
fi
echo $status > "$state/$id"
echo "$id;fakecluster"
`;

const spec = {
  dim: 2,
  classes: [
    { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [1, 0.5], cov: 1 }] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [-1, 0], cov: 1 }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 10 },
  guidance: { kind: 'cfg', w: 2 },
  solver: { kind: 'em', steps: 20, tMin: 1e-3 },
  particles: 10000,
  seed: 11,
};

it('submit-shards.sh: a 4-task array and an afterok merge whose summary equals the single run', () => {
  const bin = join(dir, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(join(bin, 'sbatch'), FAKE_SBATCH);
  chmodSync(join(bin, 'sbatch'), 0o755);
  const specPath = join(dir, 'spec.json');
  writeFileSync(specPath, JSON.stringify(spec));
  const out = join(dir, 'out');
  const r = spawnSync('bash', [join(ROOT, 'scripts/slurm/submit-shards.sh'), specPath, '4', out, '--backend', 'cpu'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toBe('shards: 101\nmerge: 102\n');
  const calls = readFileSync(join(dir, 'fake-sbatch', 'calls'), 'utf8')
    .trim()
    .split('\n');
  expect(calls[0]).toContain('--array=0-3');
  expect(calls[1]).toContain('--dependency=afterok:101');
  const merged = JSON.parse(readFileSync(join(out, 'merged.json'), 'utf8'));
  expect(merged.merged.ranges).toEqual([
    [0, 2500],
    [2500, 5000],
    [5000, 7500],
    [7500, 10000],
  ]);
  const single = spawnSync(
    process.execPath,
    [join(ROOT, 'bin/guidance-sampler.js'), 'run', specPath, '--backend', 'cpu'],
    { encoding: 'utf8' },
  );
  expect(single.status, single.stderr).toBe(0);
  const s = JSON.parse(single.stdout);
  for (const f of ['particles', 'nonFinite', 'quantiles', 'insideSupport']) expect(merged[f], f).toEqual(s[f]);
  const scale = (i: number) => Math.abs(s.mean[i]) + Math.sqrt(s.covariance[i][i]);
  s.mean.forEach((m: number, i: number) => {
    expect(Math.abs(merged.mean[i] - m)).toBeLessThanOrEqual(8 * 20 * 2 ** -52 * scale(i));
  });
  // Twin: a failing shard (a bad option) fails its task, and the afterok merge is refused.
  const bad = spawnSync(
    'bash',
    [join(ROOT, 'scripts/slurm/submit-shards.sh'), specPath, '2', join(dir, 'bad'), '--backend', 'nope'],
    {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    },
  );
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toContain('dependency 103 not satisfied');
}, 60_000);
