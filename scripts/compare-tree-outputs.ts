// Two checkouts of this project (e.g. before and after a refactor) on every example both have:
// each tree's own CLI (`run --out`) samples the example with a fixed particle count, on the CPU
// (f64 particles, which must agree bit for bit) and on webgpu (f32 particles, which must agree
// within f32 rounding: max |after - before| over max(1, |before|) at most --f32-tolerance).
// Prints one JSON report; exits 1 where an example differs, 2 on bad input.
//
//   git worktree add /tmp/before <rev> && ln -s "$PWD/node_modules" /tmp/before/node_modules
//   node scripts/compare-tree-outputs.ts --before /tmp/before --after .
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { readNpy } from '../src/io/npy.ts';

const program = new Command('compare-tree-outputs')
  .description("two checkouts' outputs on every shared example: cpu bit for bit, webgpu within f32 rounding")
  .requiredOption('--before <dir>', 'the first checkout')
  .requiredOption('--after <dir>', 'the second checkout')
  .option('--particles <n>', 'particles per example', positiveInt, 2048)
  .option('--backends <list>', 'comma-separated: cpu, webgpu', 'cpu,webgpu')
  .option('--f32-tolerance <x>', 'webgpu: largest allowed relative difference', Number, 1e-5)
  .option('--only <names>', 'comma-separated example names (default: every shared one)');
const cli = program.parse(process.argv).opts();

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${v}' is not a positive integer`);
  return n;
}

function sample(root: string, example: string, backend: string, out: string): void {
  const args = [join(root, 'bin/guidance-sampler.js'), 'run', join(root, 'examples', example)];
  args.push('--backend', backend, '--particles', String(cli.particles), '--out', out);
  args.push('--dtype', backend === 'cpu' ? 'f64' : 'f32');
  execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const before = resolve(cli.before);
const after = resolve(cli.after);
for (const root of [before, after]) {
  if (!existsSync(join(root, 'bin/guidance-sampler.js'))) {
    console.error(`compare-tree-outputs: ${root} is not a checkout of this project (no bin/guidance-sampler.js)`);
    process.exit(2);
  }
}
const shared = readdirSync(join(after, 'examples'))
  .filter((f) => f.endsWith('.json') && existsSync(join(before, 'examples', f)))
  .filter((f) => !cli.only || cli.only.split(',').includes(f.replace(/\.json$/, '')));
const backends: string[] = cli.backends.split(',');
const work = mkdtempSync(join(tmpdir(), 'compare-outputs-'));
const rows: Record<string, unknown>[] = [];
let differs = false;
try {
  for (const example of shared) {
    for (const backend of backends) {
      const a = join(work, 'before.npy');
      const b = join(work, 'after.npy');
      let row: Record<string, unknown>;
      const failure = (e: unknown) =>
        (e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').at(-1) || String(e);
      try {
        sample(before, example, backend, a);
      } catch (e) {
        // An example the before tree cannot run (newer than its features) is reported, not compared.
        rows.push({ example, backend, verdict: 'not run', reason: `before: ${failure(e)}` });
        console.error(JSON.stringify(rows.at(-1)));
        continue;
      }
      try {
        sample(after, example, backend, b);
        const x = readNpy(a);
        const y = readNpy(b);
        let maxAbs = 0;
        let maxRel = 0;
        let unequal = 0;
        for (let i = 0; i < Math.max(x.length, y.length); i++) {
          // A NaN at the same place in both (a diverged particle, counted alike) is no difference.
          if (Number.isNaN(x[i]) && Number.isNaN(y[i])) continue;
          const d = Math.abs(y[i] - x[i]);
          if (d !== 0) unequal++;
          maxAbs = Math.max(maxAbs, d);
          maxRel = Math.max(maxRel, d / Math.max(1, Math.abs(x[i])));
        }
        const ok = x.length === y.length && (backend === 'cpu' ? unequal === 0 : maxRel <= cli.f32Tolerance);
        row = { example, backend, values: y.length, unequal, maxAbs, maxRel, verdict: ok ? 'same' : 'DIFFERS' };
      } catch (e) {
        // The after tree failing where the before tree ran is a difference, never a skip.
        row = { example, backend, verdict: 'DIFFERS', reason: `after: ${failure(e)}` };
      }
      if (row.verdict !== 'same') differs = true;
      rows.push(row);
      console.error(JSON.stringify(row));
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(JSON.stringify({ before, after, particles: cli.particles, f32Tolerance: cli.f32Tolerance, rows }, null, 2));
process.exit(differs ? 1 : 0);
