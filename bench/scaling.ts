// Scaling curves of the WebGPU sampler (Node, Dawn): particle-steps per second against the
// number of particles N, of components K, the dimension d, the number of steps, and (for
// tuning) the steps per dispatch, each swept from a base point with the others held fixed.
// Every point carries the work model's GFLOP/s and, unless --no-peak, its roofline fractions
// against the adapter's measured peaks (bench/peak.ts, bench/flops.ts).
// JSON on stdout (or CSV with --format csv); --csv FILE writes the CSV as well; --figure FILE.svg
// draws throughput against each sweep (and FILE.png); --cpu adds the CPU backend (f64, worker
// threads) at every point up to --cpu-max-particles, so both backends' saturation shows.
//
//   npm run bench:scaling                    # default sweeps, ~2-4 minutes on a 2-core lavapipe
//   npm run bench:scaling -- --full          # N 2^10..2^26, K 1..4096, d 1..64, steps 10..1000
//   npm run bench:scaling -- --sweeps particles,dim --dim-list 1,8,64 --repeats 5
//
// Timing: wall clock of sampleWebGpu per run (pipeline from Dawn's cache after a small warm-up
// run, tables, every dispatch) WITHOUT reading the particles back (the curves are of the GPU
// path; --readback includes it); the median of the timed runs counts.
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { adapterDescription, sig } from './common.ts';
import { roofline, workModel, type Roofline } from './flops.ts';
import { measureWebGpu } from './measure.ts';
import { emitResult, intListOption, intOption, nodeEnvironment, nodeGpu } from './node-env.ts';
import { measurePeak, type PeakResult } from './peak.ts';
import { scalingWorkload, type ScalingPoint } from './workloads.ts';
import { scalingFigureSpec } from './scaling-figure.ts';
import { timeRuns } from './common.ts';
import { cpuBackend } from '../src/cpu/backend.ts';
import { prepareExperiment } from '../src/experiment/plan.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import { renderSvg, svgToPng } from '../src/io/figures.ts';

type Sweep = 'particles' | 'components' | 'dim' | 'steps' | 'dispatch';
const SWEEPS: Sweep[] = ['particles', 'components', 'dim', 'steps', 'dispatch'];
const pow2 = (from: number, to: number, every = 1): number[] => {
  const out: number[] = [];
  for (let e = from; e <= to; e += every) out.push(2 ** e);
  return out;
};

interface SweepPreset {
  values: number[];
  base: ScalingPoint;
}
type Preset = Record<Sweep, SweepPreset> & { repeats: number };

// Each sweep: the values, and the base point the other parameters keep (particles chosen so a
// point costs about the same whatever K or d).
const PRESETS: { default: Preset; full: Preset } = {
  default: {
    particles: { values: pow2(12, 20, 2), base: { particles: 0, steps: 100, dim: 1, components: 4 } },
    components: {
      values: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      base: { particles: 2 ** 14, steps: 50, dim: 1, components: 0 },
    },
    dim: { values: [1, 2, 4, 8, 16, 32, 64], base: { particles: 2 ** 14, steps: 50, dim: 0, components: 4 } },
    steps: { values: [10, 30, 100, 300, 1000], base: { particles: 2 ** 14, steps: 0, dim: 1, components: 4 } },
    dispatch: { values: [1, 4, 16, 64, 100], base: { particles: 2 ** 18, steps: 100, dim: 1, components: 4 } },
    repeats: 3,
  },
  full: {
    particles: { values: pow2(10, 26), base: { particles: 0, steps: 100, dim: 1, components: 4 } },
    components: { values: pow2(0, 12), base: { particles: 2 ** 16, steps: 50, dim: 1, components: 0 } },
    dim: { values: pow2(0, 6), base: { particles: 2 ** 16, steps: 50, dim: 0, components: 4 } },
    steps: { values: [10, 20, 50, 100, 200, 500, 1000], base: { particles: 2 ** 16, steps: 0, dim: 1, components: 4 } },
    dispatch: {
      values: [1, 2, 4, 8, 16, 32, 64, 100],
      base: { particles: 2 ** 20, steps: 100, dim: 1, components: 4 },
    },
    repeats: 5,
  },
};

const cli = new Command('bench:scaling')
  .description(
    'scaling curves of the WebGPU sampler (Node, Dawn) in N, components, d, steps, steps per dispatch; JSON on stdout',
  )
  .option(
    '--full',
    'the complete sweeps (N 2^10 to 2^26, K to 4096, every power of 2; 5 repeats): an hour or more on lavapipe',
  )
  .option('--sweeps <list>', `comma-separated subset of ${SWEEPS.join(',')}`, SWEEPS.join(','))
  .option('--repeats <n>', 'timed runs per point (default 3, --full 5)', intOption('--repeats'))
  .option(
    '--particles-list <list>',
    'N values of the particles sweep (e.g. 2^12,2^16)',
    intListOption('--particles-list'),
  )
  .option('--components-list <list>', 'K values of the components sweep', intListOption('--components-list'))
  .option('--dim-list <list>', 'd values of the dim sweep', intListOption('--dim-list'))
  .option('--steps-list <list>', 'step counts of the steps sweep', intListOption('--steps-list'))
  .option('--dispatch-list <list>', 'steps per dispatch of the dispatch sweep', intListOption('--dispatch-list'))
  .option('--base-particles <n>', 'N of every sweep but the particles sweep', intOption('--base-particles'))
  .option('--base-steps <n>', 'steps of every sweep but the steps sweep', intOption('--base-steps'))
  .option('--readback', 'read every particle back inside the timed region')
  .option('--no-peak', 'skip the peak microbenchmark (no roofline fractions)')
  .option('--peak-repeats <n>', 'timed runs per peak kernel', intOption('--peak-repeats'), 3)
  .option('--peak-seconds <s>', 'wall time of one peak submission', parseFloat, 0.2)
  .option('--cpu', 'also time the CPU backend (f64, worker threads) at every point up to --cpu-max-particles')
  .option(
    '--cpu-max-particles <n>',
    'the CPU points cap N here (larger N: skipped)',
    intOption('--cpu-max-particles'),
    2 ** 14,
  )
  .option('--figure <file>', 'draw throughput against each sweep as SVG to FILE (and PNG beside it)')
  .option('--format <f>', 'stdout format: json or csv', 'json')
  .option('--csv <file>', 'also write the points as CSV to FILE')
  .option('--json <file>', 'write the JSON result to this file (stdout stays empty unless --stdout)')
  .option('--stdout', 'also print the result on stdout when --json is given')
  .parse(process.argv)
  .opts();

if (!['json', 'csv'].includes(cli.format)) throw new Error(`--format: json or csv, got '${cli.format}'`);
const preset = cli.full ? PRESETS.full : PRESETS.default;
const repeats: number = cli.repeats ?? preset.repeats;
const sweeps = String(cli.sweeps)
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as Sweep[];
for (const s of sweeps)
  if (!SWEEPS.includes(s)) throw new Error(`--sweeps: unknown sweep '${s}' (${SWEEPS.join(', ')})`);
const lists: Record<Sweep, number[] | undefined> = {
  particles: cli.particlesList,
  components: cli.componentsList,
  dim: cli.dimList,
  steps: cli.stepsList,
  dispatch: cli.dispatchList,
};

const environment = nodeEnvironment();
const gpu = await nodeGpu();
let peak: PeakResult | null = null;
if (cli.peak) {
  console.error('peak microbenchmark ...');
  peak = await measurePeak(gpu, { kernels: ['fma', 'exp'], repeats: cli.peakRepeats, targetSeconds: cli.peakSeconds });
}

interface Point {
  sweep: Sweep;
  backend: 'webgpu' | 'cpu';
  particles: number;
  steps: number;
  dim: number;
  components: number;
  stepsPerDispatch: number;
  dispatches: number;
  secondsPerRun: number[];
  medianSeconds: number;
  /** CPU seconds of the process per run (all threads; lavapipe's workers included). */
  medianCpuSeconds: number | null;
  particleStepsPerSecond: number;
  /** Steadier than the wall-time rate on a busy machine (see bench/common.ts Timing). */
  particleStepsPerCpuSecond: number | null;
  /** particle-steps x components x dim per second: the kernel's inner-loop rate. */
  componentCoordinateEvaluationsPerSecond: number;
  flopsPerParticleStep: number;
  expsPerParticleStep: number;
  roofline: Roofline | null;
  /** The step kernel the host chose (webgpu) or the worker threads (cpu). */
  kernel: string;
}

const points: Point[] = [];
const started = performance.now();
for (const sweep of sweeps) {
  const p = preset[sweep];
  const values = lists[sweep] ?? p.values;
  for (const v of values) {
    const base = { ...p.base };
    if (cli.baseParticles !== undefined && sweep !== 'particles') base.particles = cli.baseParticles;
    if (cli.baseSteps !== undefined && sweep !== 'steps') base.steps = cli.baseSteps;
    const point: ScalingPoint = { ...base };
    let stepsPerDispatch: number | undefined;
    if (sweep === 'particles') point.particles = v;
    else if (sweep === 'components') point.components = v;
    else if (sweep === 'dim') point.dim = v;
    else if (sweep === 'steps') point.steps = v;
    else stepsPerDispatch = Math.min(v, point.steps);
    const spec = scalingWorkload(point);
    console.error(
      `${sweep}: N ${point.particles}, K ${point.components}, d ${point.dim}, steps ${point.steps}${stepsPerDispatch ? `, ${stepsPerDispatch} steps/dispatch` : ''} ...`,
    );
    if (cli.cpu && sweep !== 'dispatch') {
      if (point.particles > cli.cpuMaxParticles)
        console.error(`  cpu: skipped (N ${point.particles} > --cpu-max-particles ${cli.cpuMaxParticles})`);
      else points.push(await cpuPoint(sweep, point, spec));
    }
    const run = await measureWebGpu(gpu, spec, {
      repeats,
      readback: Boolean(cli.readback),
      stepsPerDispatch,
      warmupParticles: 4096,
    });
    const model = workModel(spec)!;
    const rate = run.particleStepsPerSecond;
    const r = peak?.fma && peak.exp ? roofline(model, rate, { flops: peak.fma.rate, exps: peak.exp.rate }) : null;
    if (r) for (const k of Object.keys(r) as (keyof Roofline)[]) r[k] = sig(r[k]);
    points.push({
      sweep,
      backend: 'webgpu',
      kernel: run.kernel,
      ...point,
      stepsPerDispatch: run.plan.stepsPerDispatch,
      dispatches: run.plan.dispatches,
      secondsPerRun: run.timing.secondsPerRun.map((s) => sig(s)),
      medianSeconds: sig(run.timing.medianSeconds),
      medianCpuSeconds: run.timing.medianCpuSeconds ? sig(run.timing.medianCpuSeconds) : null,
      particleStepsPerSecond: sig(rate),
      particleStepsPerCpuSecond: run.timing.medianCpuSeconds
        ? sig((point.particles * point.steps) / run.timing.medianCpuSeconds)
        : null,
      componentCoordinateEvaluationsPerSecond: sig(rate * point.components * point.dim),
      flopsPerParticleStep: model.flopsPerParticleStep,
      expsPerParticleStep: model.expsPerParticleStep,
      roofline: r,
    });
  }
}

/** One point on the CPU backend (f64, worker threads; the repeats and a warm-up as webgpu's). */
async function cpuPoint(sweep: Sweep, point: ScalingPoint, spec: ExperimentSpec): Promise<Point> {
  const plan = prepareExperiment(spec);
  const backend = cpuBackend();
  let threads = 0;
  const timing = await timeRuns(async () => {
    const report = await backend.sample(plan);
    threads = Number(report.details.threads ?? 0);
  }, repeats);
  const model = workModel(spec)!;
  const rate = (point.particles * point.steps) / timing.medianSeconds;
  return {
    sweep,
    backend: 'cpu',
    kernel: `f64, ${threads} worker threads`,
    ...point,
    stepsPerDispatch: point.steps,
    dispatches: 0,
    secondsPerRun: timing.secondsPerRun.map((s) => sig(s)),
    medianSeconds: sig(timing.medianSeconds),
    medianCpuSeconds: timing.medianCpuSeconds ? sig(timing.medianCpuSeconds) : null,
    particleStepsPerSecond: sig(rate),
    particleStepsPerCpuSecond: timing.medianCpuSeconds
      ? sig((point.particles * point.steps) / timing.medianCpuSeconds)
      : null,
    componentCoordinateEvaluationsPerSecond: sig(rate * point.components * point.dim),
    flopsPerParticleStep: model.flopsPerParticleStep,
    expsPerParticleStep: model.expsPerParticleStep,
    roofline: null,
  };
}

/** The swept parameter's value at a point. */
function sweptValue(p: Point): number {
  if (p.sweep === 'dispatch') return p.stepsPerDispatch;
  return p.sweep === 'particles'
    ? p.particles
    : p.sweep === 'components'
      ? p.components
      : p.sweep === 'dim'
        ? p.dim
        : p.steps;
}

const CSV_COLUMNS = [
  'sweep',
  'backend',
  'kernel',
  'particles',
  'steps',
  'dim',
  'components',
  'stepsPerDispatch',
  'dispatches',
  'medianSeconds',
  'medianCpuSeconds',
  'particleStepsPerSecond',
  'particleStepsPerCpuSecond',
  'componentCoordinateEvaluationsPerSecond',
  'flopsPerParticleStep',
  'expsPerParticleStep',
  'gflops',
  'gexps',
  'fmaPeakFraction',
  'expPeakFraction',
  'peakFraction',
  'secondsPerRun',
] as const;
function csv(): string {
  const rows = points.map((p) =>
    CSV_COLUMNS.map((c) => {
      if (c === 'secondsPerRun') return p.secondsPerRun.join(' ');
      if (c === 'gflops' || c === 'gexps' || c === 'fmaPeakFraction' || c === 'expPeakFraction' || c === 'peakFraction')
        return p.roofline ? String(p.roofline[c]) : '';
      return String(p[c] ?? '');
    }).join(','),
  );
  return [CSV_COLUMNS.join(','), ...rows].join('\n') + '\n';
}

const result = {
  benchmark: 'scaling',
  configuration: {
    preset: cli.full ? 'full' : 'default',
    sweeps,
    repeats,
    warmup: '1 run at min(N, 4096) particles per point (compiles the pipeline; Dawn caches it)',
    readback: Boolean(cli.readback),
    workload:
      'bench/workloads.ts scalingWorkload: K isotropic Gaussians in d dimensions, 2 classes, cfg w=3 vs unconditional, OU T=10, euler',
    bases: Object.fromEntries(sweeps.map((s) => [s, { ...preset[s].base, values: lists[s] ?? preset[s].values }])),
    timing:
      'wall clock of sampleWebGpu per run (cpu points: of the CPU backend, f64 on worker threads, particles read back); medians of the timed runs',
    cpu: cli.cpu ? { maxParticles: cli.cpuMaxParticles } : null,
  },
  environment: {
    ...environment,
    loadAverageAfter: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
  },
  adapter: adapterDescription(gpu),
  peak,
  totalSeconds: sig((performance.now() - started) / 1000),
  points,
};

if (cli.csv) writeFileSync(cli.csv, csv());
if (cli.figure) {
  const figurePoints = points.map((p) => ({
    sweep: p.sweep,
    backend: p.backend,
    value: sweptValue(p),
    particleStepsPerSecond: p.particleStepsPerSecond,
  }));
  const svg = await renderSvg(scalingFigureSpec(figurePoints, `particle-steps/s, ${adapterDescription(gpu).label}`));
  writeFileSync(cli.figure, svg);
  writeFileSync(cli.figure.replace(/\.svg$/i, '') + '.png', svgToPng(svg));
}
emitResult(cli.format === 'csv' ? csv() : JSON.stringify(result, null, 2), cli);
gpu.destroy();
