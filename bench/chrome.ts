// Chrome throughput benchmark: headless Chromium (puppeteer-core, the page bench/chrome.html
// served by Vite on 127.0.0.1) sweeps the number of particles N, of components K and the
// dimension d, and reports particle-steps per second: the median of timed runs after a
// warm-up, by wall clock and by GPU timestamps where the adapter has 'timestamp-query'. The
// same workloads then run through the Node path (Dawn) with the same timing code
// (bench/gpu-timing.ts), side by side. One JSON object on stdout; progress on stderr.
//
//   npm run bench:chrome                      # default sweep (a few minutes on a 2-core software GPU)
//   npm run bench:chrome -- --full            # N 2^16..2^24, K 1..256, d 1..64
//   npm run bench:chrome -- --no-node --repeats 5
//   npm run bench:chrome -- --points 1048576:4:1,65536:64:8   # explicit workloads N:K:d
//   npm run bench:chrome -- --no-sweep                        # the kernel comparison only
//
// First, in the same page: the project's kernel against the naive baseline kernel
// (bench/shaders/naive-step.wgsl, bench/naive.ts) on the standard workload (--compare-particles,
// --compare-steps), interleaved runs (bench/kernel-compare.ts), with which kernel variant ran and
// why (tuned on this adapter now, cached, or forced by --kernel-variant).
//
// Each sweep varies one of N, K, d from a base point (the others fixed). Workload: scalingWorkload
// (bench/workloads.ts): K isotropic Gaussians in d dimensions in two classes, cfg w = 3, OU,
// euler. Steps per workload are chosen so that a run is about --work component-coordinate
// evaluations (N x steps x K x d), clamped to [2, 100]: big points take few steps, small ones many.
import { Command, Option } from 'commander';
import type { GpuAdapterInfo } from '../src/gpu/device.ts';
import { nodePlatform } from '../src/platform/node.ts';
import { browserSkipReason, findChromium, startBrowserHarness } from '../test/support/browser.ts';
import type { BenchPageApi } from './chrome-page.ts';
import { adapterDescription, sig } from './common.ts';
import { acquireTimedGpu, timeWorkload, type TimedWorkload } from './gpu-timing.ts';
import { readFileSync } from 'node:fs';
import { compareWithNaive, type KernelComparison } from './kernel-compare.ts';
import { emitResult, intOption, nodeEnvironment } from './node-env.ts';
import { scalingWorkload, type ScalingPoint, STANDARD_WORKLOAD_DESCRIPTION, standardWorkload } from './workloads.ts';

const cli = new Command('bench:chrome')
  .description(
    'Chrome (headless, WebGPU) throughput sweep over N, components and d, beside the Node (Dawn) path; JSON on stdout',
  )
  .option('--full', 'the full sweep: N 2^16..2^24, K 1..256, d 1..64 (long on a software GPU)', false)
  .option('--repeats <n>', 'timed runs per workload (after the warm-up)', intOption('--repeats'), 3)
  .option('--warmup <n>', 'untimed warm-up runs per workload', intOption('--warmup'), 1)
  .option(
    '--work <n>',
    'component-coordinate evaluations per run, sets the steps (default 2^26; --full 2^28)',
    intOption('--work'),
  )
  .option('--points <list>', "explicit workloads instead of the sweep: 'N:K:d,N:K:d,...' (e.g. 65536:4:1)")
  .option('--no-node', 'skip the Node (Dawn) path')
  .addOption(
    new Option('--kernel <kind>', "stepping kernel: 'auto' (the sampler's choice) or 'general'")
      .choices(['auto', 'general'])
      .default('auto'),
  )
  .option(
    '--kernel-variant <name>',
    "the fast kernel's variant (src/gpu/variants.ts): 'auto' (tuned or cached) or a name",
    'auto',
  )
  .option(
    '--compare-particles <n>',
    'particles of the project-against-naive comparison',
    intOption('--compare-particles'),
    2 ** 20,
  )
  .option('--compare-steps <n>', 'steps of the comparison', intOption('--compare-steps'), 20)
  .option('--compare-repeats <n>', 'timed runs of each kernel in the comparison', intOption('--compare-repeats'), 5)
  .option('--no-compare', 'skip the project-against-naive comparison')
  .option('--no-sweep', 'skip the N, K, d sweep')
  .option('--json <file>', 'write the JSON result to this file (stdout stays empty unless --stdout)')
  .option('--stdout', 'also print the result on stdout when --json is given')
  .parse(process.argv);
const opts = cli.opts<{
  json?: string;
  stdout?: boolean;
  full: boolean;
  repeats: number;
  warmup: number;
  work?: number;
  points?: string;
  node: boolean;
  kernel: 'auto' | 'general';
  kernelVariant: string;
  compareParticles: number;
  compareSteps: number;
  compareRepeats: number;
  compare: boolean;
  sweep: boolean;
}>();
const naiveSource = readFileSync(new URL('./shaders/naive-step.wgsl', import.meta.url), 'utf8');
const comparePoint = { particles: opts.compareParticles, steps: opts.compareSteps };

const pow2 = (from: number, to: number, every = 1): number[] => {
  const out: number[] = [];
  for (let e = from; e <= to; e += every) out.push(2 ** e);
  return out;
};

type Axis = 'particles' | 'components' | 'dim';
interface SweepDef {
  axis: Axis;
  values: number[];
  base: Omit<ScalingPoint, 'steps'>;
}

// Base points keep a point's cost bounded: large K or d only at small N.
const SWEEPS: Record<'default' | 'full', SweepDef[]> = {
  default: [
    { axis: 'particles', values: [2 ** 16, 2 ** 18, 2 ** 20], base: { particles: 0, components: 4, dim: 1 } },
    { axis: 'components', values: [1, 16, 256], base: { particles: 2 ** 16, components: 0, dim: 1 } },
    { axis: 'dim', values: [1, 8, 64], base: { particles: 2 ** 16, components: 4, dim: 0 } },
  ],
  full: [
    { axis: 'particles', values: pow2(16, 24), base: { particles: 0, components: 4, dim: 1 } },
    { axis: 'components', values: pow2(0, 8), base: { particles: 2 ** 18, components: 0, dim: 1 } },
    { axis: 'dim', values: pow2(0, 6), base: { particles: 2 ** 18, components: 4, dim: 0 } },
  ],
};

const work = opts.work ?? (opts.full ? 2 ** 28 : 2 ** 26);
const stepsFor = (p: Omit<ScalingPoint, 'steps'>): number =>
  Math.max(2, Math.min(100, Math.round(work / (p.particles * p.components * p.dim))));

// The workloads, each once (the sweeps share their base points).
const points: (ScalingPoint & { sweeps: (Axis | 'explicit')[] })[] = [];
for (const item of opts.points ? opts.points.split(',') : []) {
  const [particles, components, dim] = item.split(':').map(Number);
  if (![particles, components, dim].every((v) => Number.isInteger(v) && v >= 1)) {
    console.error(`bench:chrome: --points: expected N:K:d with positive integers, got '${item}'`);
    process.exit(2);
  }
  points.push({ particles, components, dim, steps: stepsFor({ particles, components, dim }), sweeps: ['explicit'] });
}
for (const sweep of opts.points || !opts.sweep ? [] : SWEEPS[opts.full ? 'full' : 'default']) {
  for (const v of sweep.values) {
    const p = { ...sweep.base, [sweep.axis]: v } as Omit<ScalingPoint, 'steps'>;
    const existing = points.find(
      (q) => q.particles === p.particles && q.components === p.components && q.dim === p.dim,
    );
    if (existing) existing.sweeps.push(sweep.axis);
    else points.push({ ...p, steps: stepsFor(p), sweeps: [sweep.axis] });
  }
}

const say = (s: string): void => {
  process.stderr.write(`bench:chrome: ${s}\n`);
};
const mps = (v: number | null | undefined): number | null => (v ? sig(v / 1e6, 4) : null);

function rounded(t: TimedWorkload): Record<string, unknown> {
  return {
    ...t,
    wallSeconds: t.wallSeconds.map((x) => sig(x)),
    gpuSeconds: t.gpuSeconds?.map((x) => sig(x)) ?? null,
    warmupWallSeconds: t.warmupWallSeconds.map((x) => sig(x)),
    medianWallSeconds: sig(t.medianWallSeconds),
    medianGpuSeconds: t.medianGpuSeconds === null ? null : sig(t.medianGpuSeconds),
    particleStepsPerSecond: {
      wall: sig(t.particleStepsPerSecond.wall),
      gpu: t.particleStepsPerSecond.gpu === null ? null : sig(t.particleStepsPerSecond.gpu),
    },
  };
}

function describeComparison(where: string, r: KernelComparison): void {
  const m = (v: number): string => `${mps(v)} M/s`;
  say(
    `${where} standard workload N=${r.particles} steps=${r.steps}: project ${m(r.medianProjectParticleStepsPerSecond)} ` +
      `(${r.project.variant.name}, ${r.project.chosen.why}), naive ${m(r.medianNaiveParticleStepsPerSecond)}, ` +
      `ratio ${sig(r.projectOverNaive, 3)}, max |diff| ${r.maxAbsDifference}`,
  );
}

async function compareInPage(page: import('puppeteer-core').Page): Promise<KernelComparison | { error: string }> {
  try {
    const r = await page.evaluate(
      (w, o) => (window as unknown as { bench: BenchPageApi }).bench.compare(w, o),
      comparePoint,
      { repeats: opts.compareRepeats, warmup: opts.warmup, sampler: { kernelVariant: opts.kernelVariant } },
    );
    describeComparison('chrome', r);
    return r;
  } catch (e) {
    say(`chrome comparison failed: ${(e as Error).message.split('\n')[0]}`);
    return { error: (e as Error).message.split('\n')[0] };
  }
}

// ---- Chrome
const skip = browserSkipReason();
if (skip) {
  say(skip);
  process.exit(1);
}
say(
  `${points.length} workloads, ${opts.warmup} warm-up + ${opts.repeats} timed runs each, ~${work.toExponential(1)} evaluations per run`,
);
const harness = await startBrowserHarness();
const chromeRuns: (TimedWorkload | { error: string })[] = [];
let chromeComparison: KernelComparison | { error: string } | null = null;
let chromeInfo: Awaited<ReturnType<BenchPageApi['info']>>;
let chromeVersion = '';
try {
  chromeVersion = await harness.browser.version();
  const open = await harness.open('bench/chrome.html');
  const { page } = open;
  await page.waitForFunction(() => 'bench' in window, { timeout: 60_000 });
  chromeInfo = await page.evaluate(() => (window as unknown as { bench: BenchPageApi }).bench.info());
  say(
    `Chrome: ${chromeVersion}, ${(chromeInfo.adapter as unknown as GpuAdapterInfo).label}, timestamp-query ${chromeInfo.timestampQuery}`,
  );
  if (opts.compare) chromeComparison = await compareInPage(page);
  for (const p of points) {
    const point: ScalingPoint = { particles: p.particles, components: p.components, dim: p.dim, steps: p.steps };
    const t0 = Date.now();
    try {
      const r = await page.evaluate(
        (pt: ScalingPoint, o: { repeats: number; warmup: number }) =>
          (window as unknown as { bench: BenchPageApi }).bench.run(pt, o),
        point,
        {
          repeats: opts.repeats,
          warmup: opts.warmup,
          sampler: { kernel: opts.kernel, kernelVariant: opts.kernelVariant },
        },
      );
      chromeRuns.push(r);
      say(
        `chrome N=${p.particles} K=${p.components} d=${p.dim} steps=${p.steps}: ${mps(r.particleStepsPerSecond.wall)} M/s wall, ${mps(r.particleStepsPerSecond.gpu)} M/s gpu (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
    } catch (e) {
      chromeRuns.push({ error: (e as Error).message.split('\n')[0] });
      say(`chrome N=${p.particles} K=${p.components} d=${p.dim}: failed: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const problems = open.log.filter((l) => /^(console\.error|pageerror)/.test(l));
  if (problems.length > 0) say(`page reported:\n${problems.join('\n')}`);
} finally {
  await harness.close();
}

// ---- Node (Dawn), the same workloads and timing code
let nodeInfo: Record<string, unknown> | null = null;
let nodeComparison: KernelComparison | { error: string } | null = null;
const nodeRuns: (TimedWorkload | { error: string } | null)[] = points.map(() => null);
if (opts.node) {
  try {
    const gpu = await acquireTimedGpu(nodePlatform);
    nodeInfo = { ...adapterDescription(gpu), timestampQuery: gpu.device.features.has('timestamp-query') };
    say(`Node: ${gpu.adapterInfo.label}`);
    if (opts.compare) {
      try {
        const spec = standardWorkload(comparePoint.particles, comparePoint.steps);
        nodeComparison = await compareWithNaive(gpu, spec, naiveSource, {
          repeats: opts.compareRepeats,
          warmup: opts.warmup,
          project: { kernelVariant: opts.kernelVariant },
        });
        describeComparison('node', nodeComparison);
      } catch (e) {
        nodeComparison = { error: (e as Error).message.split('\n')[0] };
      }
    }
    for (const [i, p] of points.entries()) {
      try {
        const r = await timeWorkload(gpu, scalingWorkload(p), {
          repeats: opts.repeats,
          warmup: opts.warmup,
          sampler: { kernel: opts.kernel, kernelVariant: opts.kernelVariant },
        });
        nodeRuns[i] = r;
        say(
          `node   N=${p.particles} K=${p.components} d=${p.dim} steps=${p.steps}: ${mps(r.particleStepsPerSecond.wall)} M/s wall, ${mps(r.particleStepsPerSecond.gpu)} M/s gpu`,
        );
      } catch (e) {
        nodeRuns[i] = { error: (e as Error).message.split('\n')[0] };
      }
    }
    gpu.destroy();
  } catch (e) {
    nodeInfo = { error: (e as Error).message };
    say(`Node path skipped: ${(e as Error).message}`);
  }
}

function roundedComparison(r: KernelComparison | { error: string } | null): Record<string, unknown> | null {
  if (!r || 'error' in r) return r;
  const m = (xs: number[]): number[] => xs.map((x) => sig(x / 1e6, 4));
  return {
    ...r,
    projectWallSeconds: r.projectWallSeconds.map((x) => sig(x)),
    naiveWallSeconds: r.naiveWallSeconds.map((x) => sig(x)),
    projectParticleStepsPerSecond: undefined,
    naiveParticleStepsPerSecond: undefined,
    projectMps: m(r.projectParticleStepsPerSecond),
    naiveMps: m(r.naiveParticleStepsPerSecond),
    medianProjectMps: sig(r.medianProjectParticleStepsPerSecond / 1e6, 4),
    medianNaiveMps: sig(r.medianNaiveParticleStepsPerSecond / 1e6, 4),
    medianProjectParticleStepsPerSecond: sig(r.medianProjectParticleStepsPerSecond),
    medianNaiveParticleStepsPerSecond: sig(r.medianNaiveParticleStepsPerSecond),
    projectOverNaive: sig(r.projectOverNaive, 3),
  };
}

const isRun = (r: unknown): r is TimedWorkload => typeof r === 'object' && r !== null && 'medianWallSeconds' in r;
const runs = points.map((p, i) => {
  const c = chromeRuns[i];
  const n = nodeRuns[i];
  return {
    workload: { particles: p.particles, components: p.components, dim: p.dim, steps: p.steps, sweeps: p.sweeps },
    chrome: isRun(c) ? rounded(c) : c,
    node: isRun(n) ? rounded(n) : n,
  };
});

emitResult(
  JSON.stringify(
    {
      benchmark: 'chrome-throughput',
      configuration: {
        sweep: opts.points ? 'explicit' : opts.full ? 'full' : 'default',
        sweeps: opts.points ? [] : SWEEPS[opts.full ? 'full' : 'default'],
        repeats: opts.repeats,
        warmup: opts.warmup,
        kernel: opts.kernel,
        kernelVariant: opts.kernelVariant,
        comparison: opts.compare
          ? {
              ...comparePoint,
              repeats: opts.compareRepeats,
              workload: STANDARD_WORKLOAD_DESCRIPTION,
              naiveKernel:
                'bench/shaders/naive-step.wgsl (one particle per invocation, tables in storage, one dispatch)',
              timing:
                'interleaved runs (project, naive, project, ...) after an untimed one of each (which also checks that their particles agree); ' +
                'wall seconds from the start of sampling to the GPU finishing, particles left on the GPU',
            }
          : null,
        workPerRun: work,
        workload:
          'scalingWorkload (bench/workloads.ts): K isotropic Gaussians in d dimensions, two classes, cfg w = 3 against the ' +
          'unconditional law, OU T = 10, euler to tMin = 1e-3, seed 1',
        timing:
          'median of the timed runs after the warm-up; wall: sampleWebGpu start to return (it waits for the GPU), no readback; ' +
          'gpu: timestamps of empty passes before the first and after the last dispatch (GPU timeline of the run)',
        unit: 'particle-steps per second = particles x steps / median seconds',
      },
      environment: nodeEnvironment(),
      chrome: {
        executable: findChromium(),
        version: chromeVersion,
        userAgent: chromeInfo!.userAgent,
        timestampQuery: chromeInfo!.timestampQuery,
        adapter: chromeInfo!.adapter,
      },
      node: nodeInfo,
      // The standard workload, the project's kernel against the naive baseline, in one page (and in Node).
      comparison: { chrome: roundedComparison(chromeComparison), node: roundedComparison(nodeComparison) },
      runs,
      // Millions of particle-steps per second, medians: the table to read first.
      summary: runs.map((r, i) => {
        const c = chromeRuns[i];
        const n = nodeRuns[i];
        const cw = isRun(c) ? c.particleStepsPerSecond.wall : null;
        const nw = isRun(n) ? n.particleStepsPerSecond.wall : null;
        return {
          ...r.workload,
          chromeVariant: isRun(c) ? c.variant.name : null,
          chromeWallMps: mps(cw),
          chromeGpuMps: isRun(c) ? mps(c.particleStepsPerSecond.gpu) : null,
          nodeVariant: isRun(n) ? n.variant.name : null,
          nodeWallMps: mps(nw),
          nodeGpuMps: isRun(n) ? mps(n.particleStepsPerSecond.gpu) : null,
          chromeOverNode: cw && nw ? sig(cw / nw, 3) : null,
        };
      }),
    },
    null,
    2,
  ),
  opts,
);
