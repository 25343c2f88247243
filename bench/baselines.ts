// The standard workload side by side in one run: the f64 CPU reference, vectorised numpy
// (float32 and float64; bench/numpy_baseline.py), and WebGPU (Node, Dawn), with the ratios,
// the roofline (the adapter's measured peaks, bench/peak.ts, against the work model of
// bench/flops.ts), and the moments of every path compared within Monte Carlo error.
// Prints one JSON object on stdout and a short table on stderr.
//
//   npm run bench -- [--particles N] [--cpu-particles N] [--numpy-particles N] [--steps S]
//                    [--repeats R] [--no-numpy] [--no-peak] [--python CMD]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { GpuContext } from '../src/gpu/device.ts';
import { adapterDescription, compareMoments, sig, type Moments } from './common.ts';
import { roofline, workModel, type Roofline } from './flops.ts';
import { measureCpu, measureWebGpu, type SamplerRun, type WebGpuRun } from './measure.ts';
import { emitResult, intOption, nodeEnvironment, nodeGpu } from './node-env.ts';
import { measurePeak, type PeakResult } from './peak.ts';
import {
  GUIDER_WORKLOADS,
  guiderWorkload,
  SOLVER_WORKLOADS,
  solverWorkload,
  standardWorkload,
  STANDARD_WORKLOAD_DESCRIPTION,
} from './workloads.ts';
import { TABLEAUS } from '../src/solvers/tableau.ts';

/** What the issue asks of the standard workload (reported, never asserted). */
const TARGETS = { webgpuToNumpy: 30, peakFraction: 0.25 };

const cli = new Command('bench')
  .description('CPU reference vs numpy vs WebGPU (Node, Dawn) on the standard workload; JSON on stdout')
  .option('--particles <n>', 'WebGPU particles', intOption('--particles'), 2 ** 20)
  .option('--cpu-particles <n>', 'CPU reference particles', intOption('--cpu-particles'), 2 ** 15)
  .option('--numpy-particles <n>', 'numpy particles', intOption('--numpy-particles'), 2 ** 17)
  .option('--steps <n>', 'euler steps', intOption('--steps'), 100)
  .option('--repeats <n>', 'timed runs after one warm-up (each path)', intOption('--repeats'), 5)
  .option('--numpy-repeats <n>', 'timed numpy runs per dtype', intOption('--numpy-repeats'), 3)
  .option('--peak-repeats <n>', 'timed runs per peak kernel', intOption('--peak-repeats'), 5)
  .option('--peak-seconds <s>', 'wall time of one peak submission', parseFloat, 0.2)
  .option('--no-numpy', 'skip the numpy baseline')
  .option('--no-peak', 'skip the peak microbenchmark (no roofline)')
  .option('--no-webgpu', 'skip WebGPU')
  .option('--solver-particles <n>', 'WebGPU particles of each per-solver row', intOption('--solver-particles'), 2 ** 18)
  .option('--no-solvers', 'skip the per-solver rows')
  .option('--no-guiders', 'skip the per-guider rows')
  .option(
    '--kernel-variant <name>',
    "the fast kernel's variant (src/gpu/variants.ts): 'auto' (tuned or cached) or a name",
    'auto',
  )
  .option('--python <cmd>', 'python interpreter', process.env.PYTHON ?? 'python3')
  .option('--json <file>', 'write the JSON result to this file (stdout stays empty unless --stdout)')
  .option('--stdout', 'also print the result on stdout when --json is given')
  .parse(process.argv)
  .opts();

const notices: string[] = [];
const notice = (s: string): void => {
  notices.push(s);
  console.error(`notice: ${s}`);
};
const environment = nodeEnvironment();
const steps: number = cli.steps;

// ---- WebGPU adapter and its peak ----
let gpu: GpuContext | null = null;
if (cli.webgpu) {
  try {
    gpu = await nodeGpu();
  } catch (e) {
    notice(`WebGPU skipped: ${(e as Error).message}`);
  }
}
let peak: PeakResult | null = null;
if (gpu && cli.peak) {
  console.error('peak microbenchmark ...');
  peak = await measurePeak(gpu, { repeats: cli.peakRepeats, targetSeconds: cli.peakSeconds });
}

// ---- CPU reference ----
console.error(`CPU reference: ${cli.cpuParticles} particles x ${steps} steps ...`);
const cpu: SamplerRun = await measureCpu(standardWorkload(cli.cpuParticles, steps), cli.repeats);

// ---- numpy ----
interface NumpyRun extends SamplerRun {
  dtype: string;
}
const numpy: {
  f32: NumpyRun | null;
  f64: NumpyRun | null;
  skipped?: string;
  environment?: unknown;
  configuration?: unknown;
} = { f32: null, f64: null };
if (cli.numpy) {
  console.error(`numpy: ${cli.numpyParticles} particles x ${steps} steps, f32 and f64 ...`);
  const script = fileURLToPath(new URL('./numpy_baseline.py', import.meta.url));
  const args = [
    script,
    '--particles',
    String(cli.numpyParticles),
    '--steps',
    String(steps),
    '--repeats',
    String(cli.numpyRepeats),
    '--dtypes',
    'f32,f64',
  ];
  const p = spawnSync(cli.python, args, { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  if (p.error) {
    numpy.skipped = `${cli.python} could not be run (${(p.error as NodeJS.ErrnoException).code ?? p.error.message}): numpy baseline skipped`;
  } else {
    let parsed: any = null;
    try {
      parsed = JSON.parse(p.stdout);
    } catch {
      parsed = null;
    }
    if (parsed?.skipped) numpy.skipped = `numpy baseline skipped: ${parsed.reason}`;
    else if (p.status !== 0 || !parsed)
      numpy.skipped = `numpy baseline failed (status ${p.status}): ${p.stderr.trim().split('\n').slice(-3).join(' | ')}`;
    else {
      numpy.environment = parsed.environment;
      numpy.configuration = parsed.configuration;
      for (const key of ['f32', 'f64'] as const) {
        const r = parsed.results[key];
        numpy[key] = {
          dtype: r.dtype,
          particles: parsed.configuration.particles,
          steps: parsed.configuration.steps,
          timing: {
            warmupSeconds: r.warmupSeconds,
            secondsPerRun: r.secondsPerRun,
            medianSeconds: r.medianSeconds,
            minSeconds: r.minSeconds,
            maxSeconds: r.maxSeconds,
            cpuSecondsPerRun: r.cpuSecondsPerRun,
            medianCpuSeconds: r.medianCpuSeconds,
          },
          particleStepsPerSecond: r.particleStepsPerSecond,
          moments: r.moments,
        };
      }
    }
  }
  if (numpy.skipped) notice(numpy.skipped);
} else {
  numpy.skipped = 'numpy baseline skipped (--no-numpy)';
}

// ---- WebGPU ----
let webgpu: (WebGpuRun & { fixedOverhead: WebGpuRun; steadyStateParticleStepsPerSecond: number | null }) | null = null;
if (gpu) {
  console.error(`WebGPU: ${cli.particles} particles x ${steps} steps ...`);
  const run = await measureWebGpu(gpu, standardWorkload(cli.particles, steps), {
    repeats: cli.repeats,
    kernelVariant: cli.kernelVariant,
  });
  // The same dispatches for 64 particles: what a run costs besides the particle work
  // (pipeline from cache, buffers, factor tables, submission and readback latency).
  const fixedOverhead = await measureWebGpu(gpu, standardWorkload(64, steps), {
    repeats: cli.repeats,
    kernelVariant: cli.kernelVariant,
  });
  // Only meaningful where the particle work dominates the run (not at smoke-test sizes).
  const work = run.timing.medianSeconds - fixedOverhead.timing.medianSeconds;
  const steady = work > 0.2 * run.timing.medianSeconds ? (cli.particles * steps) / work : null;
  if (steady === null)
    notice('WebGPU steady-state rate not reported: the run is dominated by its fixed overhead (too few particles)');
  webgpu = {
    ...run,
    fixedOverhead: { ...fixedOverhead, moments: undefined },
    steadyStateParticleStepsPerSecond: steady,
  };
}

// ---- every solver at equal steps (WebGPU; the standard workload with solver.kind changed) ----
const solvers: {
  kind: string;
  params: Record<string, number>;
  stages: number;
  kernel: string;
  particles: number;
  steps: number;
  medianSeconds: number;
  particleStepsPerSecond: number;
}[] = [];
if (gpu && cli.solvers) {
  for (const w of SOLVER_WORKLOADS) {
    console.error(`WebGPU ${w.kind}: ${cli.solverParticles} particles x ${steps} steps ...`);
    const spec = solverWorkload(w, cli.solverParticles, steps);
    const run = await measureWebGpu(gpu, spec, {
      repeats: cli.repeats,
      readback: true,
      kernelVariant: cli.kernelVariant,
    });
    solvers.push({
      kind: w.kind,
      params: w.params,
      stages: TABLEAUS[w.kind].c.length,
      kernel: run.kernel,
      particles: cli.solverParticles,
      steps,
      medianSeconds: run.timing.medianSeconds,
      particleStepsPerSecond: sig(run.particleStepsPerSecond),
    });
  }
}

// ---- every guider at equal steps (WebGPU; the standard workload with its guidance changed) ----
const guiders: {
  name: string;
  guidance: Record<string, unknown>;
  kernel: string;
  medianSeconds: number;
  particleStepsPerSecond: number;
}[] = [];
if (gpu && cli.guiders) {
  for (const w of GUIDER_WORKLOADS) {
    console.error(`WebGPU guider ${w.name}: ${cli.solverParticles} particles x ${steps} steps ...`);
    const run = await measureWebGpu(gpu, guiderWorkload(w, cli.solverParticles, steps), {
      repeats: cli.repeats,
      readback: true,
      kernelVariant: cli.kernelVariant,
    });
    guiders.push({
      name: w.name,
      guidance: w.guidance,
      kernel: run.kernel,
      medianSeconds: run.timing.medianSeconds,
      particleStepsPerSecond: sig(run.particleStepsPerSecond),
    });
  }
}

// ---- ratios, roofline, agreement ----
const rate = (r: SamplerRun | null | undefined): number | null => (r ? r.particleStepsPerSecond : null);
const perCpu = (r: SamplerRun | null | undefined): number | null =>
  r?.timing.medianCpuSeconds ? sig((r.particles * r.steps) / r.timing.medianCpuSeconds) : null;
const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null ? sig(a / b) : null);
const bestNumpy = Math.max(rate(numpy.f32) ?? -Infinity, rate(numpy.f64) ?? -Infinity);
const bestNumpyRate = Number.isFinite(bestNumpy) ? bestNumpy : null;
const ratios = {
  webgpuToNumpyF32: ratio(rate(webgpu), rate(numpy.f32)),
  webgpuToNumpyF64: ratio(rate(webgpu), rate(numpy.f64)),
  webgpuToNumpyBest: ratio(rate(webgpu), bestNumpyRate),
  webgpuToCpu: ratio(rate(webgpu), rate(cpu)),
  numpyF32ToCpu: ratio(rate(numpy.f32), rate(cpu)),
  numpyF64ToCpu: ratio(rate(numpy.f64), rate(cpu)),
};

const model = workModel(standardWorkload(1, steps))!;
let rooflines: Record<string, Roofline> | null = null;
if (peak?.fma && peak.exp) {
  const rates = { flops: peak.fma.rate, exps: peak.exp.rate };
  rooflines = {};
  if (webgpu) {
    rooflines.webgpu = roofline(model, webgpu.particleStepsPerSecond, rates);
    if (webgpu.steadyStateParticleStepsPerSecond !== null) {
      rooflines.webgpuSteadyState = roofline(model, webgpu.steadyStateParticleStepsPerSecond, rates);
    }
  }
  // For scale only: the CPU paths measured against the adapter's (lavapipe's: the same CPU's) peak.
  rooflines.cpu = roofline(model, cpu.particleStepsPerSecond, rates);
  if (numpy.f32) rooflines.numpyF32 = roofline(model, numpy.f32.particleStepsPerSecond, rates);
  if (numpy.f64) rooflines.numpyF64 = roofline(model, numpy.f64.particleStepsPerSecond, rates);
  for (const r of Object.values(rooflines)) {
    for (const k of Object.keys(r) as (keyof Roofline)[]) r[k] = sig(r[k]);
  }
}

const samples: [string, Moments | undefined][] = [
  ['cpu', cpu.moments],
  ['numpyF64', numpy.f64?.moments],
  ['numpyF32', numpy.f32?.moments],
  ['webgpu', webgpu?.moments],
];
const agreement: Record<string, unknown>[] = [];
for (const [name, m] of samples.slice(1)) {
  if (m && cpu.moments) agreement.push({ a: 'cpu', b: name, ...compareMoments(cpu.moments, m) });
}
for (const a of agreement)
  if (!a.agree)
    notice(`moments of ${a.b} differ from the CPU reference's beyond Monte Carlo error: ${JSON.stringify(a)}`);

const result = {
  benchmark: 'baselines',
  workload: {
    description: STANDARD_WORKLOAD_DESCRIPTION,
    steps,
    workModel: model,
    workModelNote:
      'useful work per particle-step (bench/flops.ts): FLOPs (fma = 2) and exps counted apart; exps priced by the measured exp throughput',
  },
  configuration: {
    webgpuParticles: cli.particles,
    cpuParticles: cli.cpuParticles,
    numpyParticles: cli.numpyParticles,
    steps,
    repeats: cli.repeats,
    numpyRepeats: cli.numpyRepeats,
    warmup: 1,
    peak: cli.peak,
    timing:
      'wall clock, end to end: from the spec to every particle in host memory (WebGPU includes pipeline lookup, tables, dispatches, readback); medians of the timed runs',
  },
  environment,
  adapter: gpu ? adapterDescription(gpu) : null,
  peak,
  runs: { cpu, numpyF32: numpy.f32, numpyF64: numpy.f64, webgpu },
  numpy: {
    environment: numpy.environment ?? null,
    configuration: numpy.configuration ?? null,
    skipped: numpy.skipped ?? null,
  },
  particleStepsPerSecond: {
    cpu: sig(cpu.particleStepsPerSecond),
    numpyF32: numpy.f32 ? sig(numpy.f32.particleStepsPerSecond) : null,
    numpyF64: numpy.f64 ? sig(numpy.f64.particleStepsPerSecond) : null,
    webgpu: webgpu ? sig(webgpu.particleStepsPerSecond) : null,
    webgpuSteadyState: webgpu?.steadyStateParticleStepsPerSecond ? sig(webgpu.steadyStateParticleStepsPerSecond) : null,
  },
  particleStepsPerCpuSecond: {
    cpu: perCpu(cpu),
    numpyF32: perCpu(numpy.f32),
    numpyF64: perCpu(numpy.f64),
    webgpu: perCpu(webgpu),
    note: "particle-steps per CPU-second of the process (all its threads; for WebGPU on a CPU adapter that is the driver's worker threads): steadier than wall time on a busy machine. The CPU reference and numpy run on one thread, lavapipe on every core",
  },
  ratios,
  solvers: {
    note: 'each solver on the standard workload at equal steps (WebGPU, end to end with readback); a step costs `stages` guided evaluations; the k-diffusion samplers run on the general kernel',
    runs: solvers,
  },
  guiders: {
    note: `each guider on the standard workload (euler) at equal steps, ${cli.solverParticles} particles (WebGPU, end to end with readback); kernel: the step kernel the host chose`,
    runs: guiders,
  },
  roofline: rooflines,
  targets: {
    webgpuToNumpy: {
      target: TARGETS.webgpuToNumpy,
      achieved: ratios.webgpuToNumpyBest,
      met: ratios.webgpuToNumpyBest !== null ? ratios.webgpuToNumpyBest >= TARGETS.webgpuToNumpy : null,
    },
    peakFraction: {
      target: TARGETS.peakFraction,
      achieved: rooflines?.webgpu?.peakFraction ?? null,
      met: rooflines?.webgpu ? rooflines.webgpu.peakFraction >= TARGETS.peakFraction : null,
      note: 'peakFraction: FLOPs + exps priced at the measured exp cost, over the measured FMA peak',
    },
  },
  agreement,
  notices,
};

emitResult(JSON.stringify(result, null, 2), cli as { json?: string; stdout?: boolean });

// A few lines for humans on stderr.
const m = (x: number | null): string => (x === null ? '   skipped' : `${(x / 1e6).toFixed(2).padStart(8)} M`);
console.error(
  [
    `particle-steps/s on ${gpu?.adapterInfo.label ?? 'no adapter'} (load average ${(environment.loadAverage as number[]).join(' ')})`,
    `  cpu reference (f64) ${m(rate(cpu))}`,
    `  numpy f32           ${m(rate(numpy.f32))}`,
    `  numpy f64           ${m(rate(numpy.f64))}`,
    `  webgpu              ${m(rate(webgpu))}   (steady state ${m(webgpu?.steadyStateParticleStepsPerSecond ?? null)})`,
    `  webgpu / numpy best ${ratios.webgpuToNumpyBest ?? '-'}   webgpu / cpu ${ratios.webgpuToCpu ?? '-'}`,
    peak ? `  peak ${peak.gflops} GFLOP/s, ${peak.gexps} Gexp/s, ${peak.gbytesPerSecond} GB/s` : '  peak: skipped',
    rooflines?.webgpu
      ? `  webgpu: ${rooflines.webgpu.gflops} GFLOP/s (${(100 * rooflines.webgpu.fmaPeakFraction).toFixed(1)} % of FMA peak), ` +
        `${rooflines.webgpu.gexps} Gexp/s (${(100 * rooflines.webgpu.expPeakFraction).toFixed(1)} % of exp peak), ` +
        `exp-priced ${(100 * rooflines.webgpu.peakFraction).toFixed(1)} % of peak`
      : '',
  ]
    .filter(Boolean)
    .join('\n'),
);
gpu?.destroy();
