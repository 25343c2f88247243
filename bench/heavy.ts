// The heavy-mixture workload side by side in one run (issue 16, item 4): NVlabs/edm2's 2-D tree
// (examples/tree-2d.json, 2032 full-covariance Gaussians; scripts/make-tree.ts), cfg w = 1
// against the unconditional law, VE, Heun on edm2's 32 EDM steps (sigma 5 .. 0.002), on
//   - webgpu, heavy: the heavy-mixture kernel (shaders/step-heavy.wgsl), the sampler's choice;
//   - webgpu, heavy, tiles (--tiles): the same kernel reading its entries through workgroup-memory
//     tiles, where the adapter's choice is a uniform binding per stage (a CPU adapter);
//   - webgpu, general: the general step kernel (shaders/step.wgsl, kernel 'general'), the old path;
//   - torch, precision / edm2, 1 thread / default threads: a PyTorch CPU sampler of the same mixture, f32, its own sampling
//     loop over the exact score (bench/torch_heavy_baseline.py: per-sigma precision matrices in
//     log space, and edm2's toy formulation), skipped with the reason where torch is absent.
// The paths run round-robin, one run each per round, so that a shared machine's load hits all
// alike; every run's wall and CPU seconds are kept, and the ratios are of medians. Prints one
// JSON object (stdout or --json FILE) and a short table on stderr.
//
//   npm run bench:heavy -- [--particles N] [--general-particles N] [--torch-particles N]
//                          [--steps S] [--repeats R] [--python CMD] [--no-torch] [--no-general] [--tiles]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { prepareExperiment } from '../src/experiment/plan.ts';
import type { GpuContext } from '../src/gpu/device.ts';
import { type HeavyRows, heavyRows } from '../src/gpu/heavy.ts';
import { type GpuSampleInfo, sampleWebGpu } from '../src/gpu/sampler.ts';
import { adapterDescription, cpuNow, median, sig } from './common.ts';
import { emitResult, intOption, nodeEnvironment, nodeGpu, OUTPUT_OPTIONS } from './node-env.ts';
import { HEAVY_WORKLOAD_DESCRIPTION, heavyWorkload } from './workloads.ts';

/** What the issue asks (reported, never asserted): the heavy kernel at least 50x the PyTorch CPU sampler. */
const GOAL = { heavyToTorch: 50 };

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const TREE = join(ROOT, 'examples', 'tree-2d.json');
const TORCH_SCRIPT = join(ROOT, 'bench', 'torch_heavy_baseline.py');

const cli = new Command('bench:heavy')
  .description("edm2's tree: the heavy-mixture kernel vs the general kernel vs a PyTorch CPU sampler; JSON out")
  .option('--particles <n>', 'particles of the heavy-kernel path', intOption('--particles'), 4096)
  .option('--general-particles <n>', 'particles of the general-kernel path', intOption('--general-particles'), 4096)
  .option('--torch-particles <n>', 'particles of each torch path', intOption('--torch-particles'), 1024)
  .option('--steps <n>', 'Heun steps (edm2: 32)', intOption('--steps'), 32)
  .option('--repeats <n>', 'timed runs of each path (round-robin)', intOption('--repeats'), 3)
  .option('--torch-variants <list>', 'torch implementations (precision, edm2)', 'precision,edm2')
  .option('--torch-threads <list>', "torch intra-op threads per run ('default': torch's choice)", '1,default')
  .option('--python <cmd>', 'python interpreter with torch', process.env.TORCH_PYTHON ?? 'python3')
  .option('--no-torch', 'skip the torch baseline')
  .option('--no-general', 'skip the general-kernel path')
  .option(
    '--tiles',
    "also the heavy kernel reading its entries through workgroup-memory tiles (a GPU's way; src/gpu/heavy.ts, HeavyRows) where the adapter's choice is a uniform binding per stage",
  )
  .option(OUTPUT_OPTIONS[0][0], OUTPUT_OPTIONS[0][1])
  .option(OUTPUT_OPTIONS[1][0], OUTPUT_OPTIONS[1][1]);

interface Opts {
  particles: number;
  generalParticles: number;
  torchParticles: number;
  steps: number;
  repeats: number;
  torchVariants: string;
  torchThreads: string;
  python: string;
  torch: boolean;
  general: boolean;
  tiles?: boolean;
  json?: string;
  stdout?: boolean;
}

/** One path's runs. */
interface PathResult {
  path: string;
  particles: number;
  steps: number;
  secondsPerRun: number[];
  cpuSecondsPerRun: number[];
  medianSeconds: number;
  medianCpuSeconds: number;
  particleStepsPerSecond: number;
  particleStepsPerCpuSecond: number;
  /** Mean of the last run's particles (coordinates 0 and 1): every path samples the same law. */
  mean: number[];
  details: Record<string, unknown>;
}

interface Path {
  name: string;
  particles: number;
  /** One timed run: wall and CPU seconds, the particles' mean, details. */
  run(): Promise<{ seconds: number; cpuSeconds: number; mean: number[]; details: Record<string, unknown> }>;
}

function webgpuPath(
  gpu: GpuContext,
  raw: unknown,
  name: string,
  particles: number,
  o: Opts,
  how: { general?: boolean; heavyRows?: HeavyRows },
): Path {
  const experiment = prepareExperiment(heavyWorkload(raw, particles, o.steps));
  const kernel = how.general ? 'general' : 'auto';
  return {
    name,
    particles,
    async run() {
      const out = new Float32Array(particles * 2);
      let filled = 0;
      const c0 = cpuNow() ?? 0;
      const t0 = performance.now();
      const info: GpuSampleInfo = await sampleWebGpu(gpu, experiment, {
        kernel,
        heavyRows: how.heavyRows,
        onChunk: (chunk, count) => {
          out.set(chunk.subarray(0, count * 2), filled * 2);
          filled += count;
        },
      });
      const seconds = (performance.now() - t0) / 1000;
      const cpuSeconds = (cpuNow() ?? 0) - c0;
      const mean = [0, 0];
      for (let i = 0; i < particles * 2; i++) mean[i % 2] += out[i] / particles;
      return {
        seconds,
        cpuSeconds,
        mean,
        details: { kernel: info.kernel, tables: info.tables, tile: info.tile, plan: info.plan },
      };
    },
  };
}

function torchPath(variant: string, threads: string, o: Opts): Path {
  const threadArgs = threads === 'default' ? [] : ['--threads', threads];
  return {
    name: `torch, ${variant}, ${threads === 'default' ? 'default threads' : `${threads} thread${threads === '1' ? '' : 's'}`}`,
    particles: o.torchParticles,
    async run() {
      const args = [TORCH_SCRIPT, '--spec', TREE, '--particles', String(o.torchParticles), '--steps', String(o.steps)];
      const r = spawnSync(o.python, [...args, '--variant', variant, ...threadArgs], {
        encoding: 'utf8',
        maxBuffer: 2 ** 24,
      });
      if (r.status !== 0) throw new Error(`torch baseline failed: ${r.stderr.slice(-500)}`);
      const j = JSON.parse(r.stdout) as Record<string, any>;
      const { secondsPerRun, cpuSecondsPerRun, mean, ...details } = j;
      return { seconds: secondsPerRun[0], cpuSeconds: cpuSecondsPerRun[0], mean, details };
    },
  };
}

/** Whether `python` imports torch: null if so, else why not. */
function torchMissing(python: string): string | null {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return `${python}: ${r.error.message}`;
  if (r.status !== 0) return `${python} cannot import torch: ${r.stderr.trim().split('\n').slice(-1)[0]}`;
  return null;
}

function summarise(p: Path, runs: Awaited<ReturnType<Path['run']>>[], steps: number): PathResult {
  const seconds = runs.map((r) => r.seconds);
  const cpu = runs.map((r) => r.cpuSeconds);
  const work = p.particles * steps;
  return {
    path: p.name,
    particles: p.particles,
    steps,
    secondsPerRun: seconds.map((s) => sig(s)),
    cpuSecondsPerRun: cpu.map((s) => sig(s)),
    medianSeconds: sig(median(seconds)),
    medianCpuSeconds: sig(median(cpu)),
    particleStepsPerSecond: sig(work / median(seconds)),
    particleStepsPerCpuSecond: sig(work / median(cpu)),
    mean: runs[runs.length - 1].mean.map((m) => sig(m, 5)),
    details: runs[runs.length - 1].details,
  };
}

async function main(): Promise<void> {
  const o = cli.parse().opts<Opts>();
  const raw = JSON.parse(readFileSync(TREE, 'utf8')) as unknown;
  const gpu = await nodeGpu();
  const paths: Path[] = [webgpuPath(gpu, raw, 'webgpu, heavy kernel', o.particles, o, {})];
  if (o.tiles && heavyRows(gpu.adapterInfo) !== 'tiles')
    paths.push(webgpuPath(gpu, raw, 'webgpu, heavy kernel, tiles', o.particles, o, { heavyRows: 'tiles' }));
  if (o.general) paths.push(webgpuPath(gpu, raw, 'webgpu, general kernel', o.generalParticles, o, { general: true }));
  const missing = o.torch ? torchMissing(o.python) : 'disabled by --no-torch';
  if (!missing)
    for (const v of o.torchVariants.split(','))
      for (const t of o.torchThreads.split(',')) paths.push(torchPath(v.trim(), t.trim(), o));
  // Warm-up: compile the pipelines (Dawn caches them by source) on a few particles.
  for (const general of o.general ? [false, true] : [false]) {
    await sampleWebGpu(gpu, prepareExperiment(heavyWorkload(raw, 64, 1)), { kernel: general ? 'general' : 'auto' });
  }
  if (o.tiles) await sampleWebGpu(gpu, prepareExperiment(heavyWorkload(raw, 64, 1)), { heavyRows: 'tiles' });
  const runs = new Map<string, Awaited<ReturnType<Path['run']>>[]>(paths.map((p) => [p.name, []]));
  for (let r = 0; r < o.repeats; r++) {
    for (const p of paths) {
      const res = await p.run();
      runs.get(p.name)!.push(res);
      process.stderr.write(`round ${r + 1}/${o.repeats} ${p.name}: ${res.seconds.toFixed(2)} s\n`);
    }
  }
  const results = paths.map((p) => summarise(p, runs.get(p.name)!, o.steps));
  const byName = (n: string) => results.find((x) => x.path === n);
  const heavy = byName('webgpu, heavy kernel')!;
  const ratio = (a: PathResult | undefined, b: PathResult | undefined) =>
    a && b
      ? {
          wall: sig(a.particleStepsPerSecond / b.particleStepsPerSecond, 3),
          cpu: sig(a.particleStepsPerCpuSecond / b.particleStepsPerCpuSecond, 3),
        }
      : null;
  const torchBest = results
    .filter((x) => x.path.startsWith('torch'))
    .sort((a, b) => b.particleStepsPerSecond - a.particleStepsPerSecond)[0];
  const ratios = {
    heavyToGeneral: ratio(heavy, byName('webgpu, general kernel')),
    /** The adapter's way of reading the entries (uniform rows on a CPU adapter) against tiles (--tiles). */
    heavyToTiles: ratio(heavy, byName('webgpu, heavy kernel, tiles')),
    /** The heavy kernel against each torch path. */
    heavyToTorch: Object.fromEntries(
      results.filter((x) => x.path.startsWith('torch')).map((x) => [x.path, ratio(heavy, x)]),
    ),
    generalToFastestTorch: ratio(byName('webgpu, general kernel'), torchBest),
    fastestTorch: torchBest?.path ?? null,
    heavyToFastestTorch: ratio(heavy, torchBest),
  };
  const result = {
    benchmark: 'heavy mixture (issue 16, item 4)',
    configuration: {
      workload: HEAVY_WORKLOAD_DESCRIPTION,
      spec: 'examples/tree-2d.json',
      components: 2032,
      steps: o.steps,
      repeats: o.repeats,
      order: 'round-robin: one run of each path per round',
      particles: Object.fromEntries(paths.map((p) => [p.name, p.particles])),
      timing:
        'webgpu: end to end (spec compiled once outside the timed runs; tables, dispatches, readback of every particle); ' +
        'torch: the sampling loop only (import, spec parsing and a 64-particle warm-up outside), its process CPU time',
      goal: GOAL,
    },
    environment: nodeEnvironment(),
    adapter: adapterDescription(gpu),
    torch: missing
      ? { skipped: missing }
      : { python: o.python, variants: o.torchVariants.split(','), threads: o.torchThreads.split(',') },
    results,
    ratios,
    goalMet: ratios.heavyToFastestTorch
      ? {
          wall: ratios.heavyToFastestTorch.wall >= GOAL.heavyToTorch,
          cpu: ratios.heavyToFastestTorch.cpu >= GOAL.heavyToTorch,
        }
      : null,
  };
  for (const x of results) {
    process.stderr.write(
      `${x.path.padEnd(36)} ${String(x.particleStepsPerSecond).padStart(10)} particle-steps/s  ` +
        `${String(x.particleStepsPerCpuSecond).padStart(10)} per CPU-s  (${x.particles} particles, mean ${x.mean.join(', ')})\n`,
    );
  }
  process.stderr.write(`ratios: ${JSON.stringify(ratios)}\n`);
  emitResult(JSON.stringify(result, null, 2), o);
  gpu.destroy();
}

await main();
