// The adapter's measured peak: f32 FMA throughput (GFLOP/s), exp throughput (Gexp/s) and
// copy bandwidth (GB/s), from the microbenchmark kernels in bench/shaders/peak.wgsl.
// These are the roof that bench/baselines.ts and bench/scaling.ts report the sampler against.
//
// Platform-agnostic: measurePeak() takes a GpuContext (src/gpu/device.ts), so a browser page
// imports it as Node does. Run from Node it is also a CLI printing one JSON object:
//   npm run bench:peak -- [--repeats R] [--target-seconds S] [--invocations N]
//
// Method, per kernel: the iteration count (or, for the copy, the dispatches per submission)
// is doubled-and-scaled until one submission takes about `targetSeconds`, so that fixed costs
// (submit, wake-up, the wait for completion) are a small part of it; then `warmup` untimed
// and `repeats` timed submissions, each timed by wall clock from submit to
// onSubmittedWorkDone. The rate reported is from the median.
import { readFileSync } from 'node:fs';
import type { GpuContext } from '../src/gpu/device.ts';
import { adapterDescription, cpuNow, sig, timingOf, type Timing } from './common.ts';

export type PeakKernel = 'fma' | 'exp' | 'bandwidth';

export interface PeakOptions {
  /** Which kernels to measure (default all three). */
  kernels?: PeakKernel[];
  /** Wall time one timed submission should take (default 0.2 s). */
  targetSeconds?: number;
  /** Timed submissions per kernel (default 5); the median counts. */
  repeats?: number;
  /** Untimed submissions after calibration (default 1). */
  warmup?: number;
  /** Invocations of the fma and exp kernels (default 2^20: enough to fill a large GPU). */
  invocations?: number;
  /** Bytes of each of the copy's two buffers (default: 64 MiB, within the binding limit). */
  copyBytes?: number;
  /** Upper bound of the calibrated loop count (default 2^20). */
  maxIterations?: number;
}

export interface PeakKernelResult {
  kernel: PeakKernel;
  entryPoint: string;
  /** What one unit of `rate` is: 'FLOP' (an fma is 2), 'exp', or 'byte'. */
  unit: 'FLOP' | 'exp' | 'byte';
  invocations: number;
  /** Loop iterations per invocation (fma, exp) or dispatches per submission (bandwidth). */
  iterations: number;
  /** Units of work in one timed submission. */
  workPerRun: number;
  timing: Timing;
  /** Units per second at the median time. */
  rate: number;
  /** rate / 1e9, rounded: GFLOP/s, Gexp/s or GB/s. */
  giga: number;
  /** The first output vector, which must match `expected` (the kernel really ran). */
  check: { value: number[]; expected: number[]; ok: boolean };
}

export interface PeakResult {
  benchmark: 'peak';
  configuration: Required<PeakOptions> & { workgroupSize: number };
  fma?: PeakKernelResult;
  exp?: PeakKernelResult;
  bandwidth?: PeakKernelResult;
  /** The three headline numbers (null where a kernel was not measured). */
  gflops: number | null;
  gexps: number | null;
  gbytesPerSecond: number | null;
}

const WORKGROUP_SIZE = 64;
/** Per loop iteration of fma_peak: 4 unrolled x 8 vec4 fma = 128 fma = 256 FLOP. */
const FMA_FLOP_PER_ITERATION = 4 * 8 * 4 * 2;
/** Per loop iteration of exp_peak: 4 unrolled x 8 vec4 exp = 128 exp. */
const EXP_PER_ITERATION = 4 * 8 * 4;
/** Per element of copy_bandwidth: one vec4 read and one written. */
const COPY_BYTES_PER_ELEMENT = 32;
/** Invocations of the grid-stride copy (each moves elements / COPY_INVOCATIONS vectors). */
const COPY_INVOCATIONS = 2048 * 64;
/** Calibration floors: at least this many loop iterations (so the loop, not the set-up, is
 * timed), on at least this many invocations (so that a GPU is still filled). */
const MIN_ITERATIONS = 16;
const MIN_INVOCATIONS = 2 ** 14;

/**
 * What invocation 0 of fma_peak / exp_peak writes after `iterations` loop iterations: its 32
 * chains (the kernel's seeds(0) and swizzles), each stepped 4 x iterations times by `step`,
 * summed over the 8 accumulators per lane. fma: a <- a/2 + 1/2 tends to 1 (sum 8); exp:
 * a <- exp(-a) tends to the omega constant 0.567... (sum 4.537...).
 */
function chainsAtInvocation0(iterations: number, step: (a: number) => number): number[] {
  const s = [0, 0.25, 0.5, 0.75];
  const rot = (k: number): number[] => s.map((_, i) => s[(i + k) % 4]);
  const starts = [
    rot(0),
    rot(1),
    rot(2),
    rot(3),
    rot(0).map((v) => v * 0.5),
    rot(1).map((v) => v * 0.5),
    rot(2).map((v) => v * 0.5),
    rot(3).map((v) => v * 0.5),
  ];
  const steps = Math.min(4 * iterations, 1000); // both chains have converged long before
  const sum = [0, 0, 0, 0];
  for (const start of starts) {
    for (let lane = 0; lane < 4; lane++) {
      let a = start[lane];
      for (let i = 0; i < steps; i++) a = step(a);
      sum[lane] += a;
    }
  }
  return sum;
}

const DEFAULTS: Required<PeakOptions> = {
  kernels: ['fma', 'exp', 'bandwidth'],
  targetSeconds: 0.2,
  repeats: 5,
  warmup: 1,
  invocations: 2 ** 20,
  copyBytes: 64 * 2 ** 20,
  maxIterations: 2 ** 20,
};

function grid(invocations: number, maxPerDim: number): [number, number] {
  const groups = Math.ceil(invocations / WORKGROUP_SIZE);
  const x = Math.min(groups, maxPerDim);
  return [x, Math.ceil(groups / x)];
}

export async function measurePeak(gpu: GpuContext, options: PeakOptions = {}): Promise<PeakResult> {
  const opts: Required<PeakOptions> = { ...DEFAULTS, ...options };
  const { device } = gpu;
  const code = readFileSync(new URL('./shaders/peak.wgsl', import.meta.url), 'utf8');
  const module = device.createShaderModule({ label: 'bench-peak', code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0)
    throw new Error(
      `bench/shaders/peak.wgsl: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`,
    );

  const maxBinding = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  const invocations = Math.min(opts.invocations, Math.floor(maxBinding / 16));
  const copyElements = Math.max(WORKGROUP_SIZE, Math.floor(Math.min(opts.copyBytes, maxBinding) / 16));
  const outElements = Math.max(invocations, copyElements);

  const buffers: GPUBuffer[] = [];
  const buffer = (label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer => {
    const b = device.createBuffer({ label, size, usage });
    buffers.push(b);
    return b;
  };
  const params = buffer('bench-peak params', 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const out = buffer('bench-peak out', outElements * 16, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const readback = buffer('bench-peak readback', 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);

  const writeParams = (iterations: number, elements: number): void => {
    const words = new ArrayBuffer(16);
    new Uint32Array(words, 0, 2).set([iterations, elements]);
    new Float32Array(words, 8, 2).set([0.5, 0.5]);
    device.queue.writeBuffer(params, 0, words);
  };

  const pipelineFor = (entryPoint: string): Promise<GPUComputePipeline> =>
    device.createComputePipelineAsync({
      label: `bench-peak ${entryPoint}`,
      layout: 'auto',
      compute: { module, entryPoint, constants: { WORKGROUP_SIZE } },
    });

  /** One submission of `dispatches` dispatches; resolves with its wall time in seconds. */
  const submit = async (
    pipeline: GPUComputePipeline,
    bindGroup: GPUBindGroup,
    groups: [number, number],
    dispatches: number,
  ): Promise<number> => {
    const t0 = performance.now();
    const encoder = device.createCommandEncoder({ label: 'bench-peak' });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < dispatches; i++) pass.dispatchWorkgroups(groups[0], groups[1]);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await gpu.guard(device.queue.onSubmittedWorkDone());
    return (performance.now() - t0) / 1000;
  };

  const firstOutput = async (): Promise<number[]> => {
    const encoder = device.createCommandEncoder({ label: 'bench-peak readback' });
    encoder.copyBufferToBuffer(out, 0, readback, 0, 16);
    device.queue.submit([encoder.finish()]);
    await gpu.guard(readback.mapAsync(GPUMapMode.READ));
    const v = [...new Float32Array(readback.getMappedRange().slice(0))];
    readback.unmap();
    return v;
  };

  /**
   * Calibrates, then times one kernel. `apply(count, invocations)` sets up `count` loop
   * iterations (or dispatches) and returns the dispatches per submission. First the grid is
   * sized (between `minInvocations` and `startInvocations`), then the count is scaled up until
   * one submission takes about the target time.
   */
  const measure = async (
    kernel: PeakKernel,
    entryPoint: string,
    unit: PeakKernelResult['unit'],
    startInvocations: number,
    minInvocations: number,
    minCount: number,
    workPer: (count: number, invocations: number) => number,
    apply: (count: number, invocations: number) => number,
    expected: (count: number) => number[],
    tolerance: number,
    src?: GPUBuffer,
  ): Promise<PeakKernelResult> => {
    const pipeline = await pipelineFor(entryPoint);
    let kernelInvocations = startInvocations;
    let count = minCount;
    const run = async (): Promise<number> => {
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: params } },
        { binding: 1, resource: { buffer: out, size: kernelInvocations * 16 } },
      ];
      if (src) entries.push({ binding: 2, resource: { buffer: src, size: kernelInvocations * 16 } });
      const bindGroup = device.createBindGroup({
        label: `bench-peak ${entryPoint}`,
        layout: pipeline.getBindGroupLayout(0),
        entries,
      });
      const groups = grid(
        src ? Math.min(kernelInvocations, COPY_INVOCATIONS) : kernelInvocations,
        gpu.limits.maxComputeWorkgroupsPerDimension,
      );
      return submit(pipeline, bindGroup, groups, apply(count, kernelInvocations));
    };

    // Probe at the smallest size (the first run also compiles), then size the grid so that
    // `minCount` iterations take about half the target: cheap on a slow CPU adapter, and
    // the full grid on a GPU (whose probe time is mostly launch latency).
    kernelInvocations = minInvocations;
    await run();
    let seconds = await run();
    const perSecond = (minInvocations * minCount) / Math.max(seconds, 1e-6);
    const fit = Math.floor((perSecond * 0.5 * opts.targetSeconds) / minCount);
    kernelInvocations = Math.max(
      minInvocations,
      Math.min(startInvocations, 2 ** Math.floor(Math.log2(Math.max(1, fit)))),
    );
    if (kernelInvocations !== minInvocations) seconds = await run();
    while (seconds < 0.6 * opts.targetSeconds && count < opts.maxIterations) {
      const scale = Math.min(16, Math.max(2, opts.targetSeconds / Math.max(seconds, 1e-6)));
      count = Math.min(opts.maxIterations, Math.ceil(count * scale));
      seconds = await run();
    }
    const warm: number[] = [];
    for (let r = 0; r < opts.warmup; r++) warm.push(await run());
    const samples: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < Math.max(1, opts.repeats); r++) {
      const c0 = cpuNow();
      samples.push(await run());
      const c1 = cpuNow();
      if (c0 !== null && c1 !== null) cpu.push(c1 - c0);
    }
    const timing = timingOf(samples, warm, cpu);
    const workPerRun = workPer(count, kernelInvocations);
    const rate = workPerRun / timing.medianSeconds;
    const value = await firstOutput();
    const want = expected(count);
    const ok = value.every((v, i) => Math.abs(v - want[i]) <= tolerance * Math.abs(want[i]) + 1e-6);
    return {
      kernel,
      entryPoint,
      unit,
      invocations: kernelInvocations,
      iterations: count,
      workPerRun,
      timing,
      rate,
      giga: sig(rate / 1e9),
      check: { value, expected: want, ok },
    };
  };

  const result: PeakResult = {
    benchmark: 'peak',
    configuration: { ...opts, invocations, copyBytes: copyElements * 16, workgroupSize: WORKGROUP_SIZE },
    gflops: null,
    gexps: null,
    gbytesPerSecond: null,
  };
  try {
    if (opts.kernels.includes('fma')) {
      result.fma = await measure(
        'fma',
        'fma_peak',
        'FLOP',
        invocations,
        Math.min(MIN_INVOCATIONS, invocations),
        MIN_ITERATIONS,
        (n, inv) => n * inv * FMA_FLOP_PER_ITERATION,
        (n, inv) => {
          writeParams(n, inv);
          return 1;
        },
        (n) => chainsAtInvocation0(n, (a) => Math.fround(Math.fround(a * 0.5) + 0.5)),
        1e-5,
      );
      result.gflops = result.fma.giga;
    }
    if (opts.kernels.includes('exp')) {
      result.exp = await measure(
        'exp',
        'exp_peak',
        'exp',
        invocations,
        Math.min(MIN_INVOCATIONS, invocations),
        MIN_ITERATIONS,
        (n, inv) => n * inv * EXP_PER_ITERATION,
        (n, inv) => {
          writeParams(n, inv);
          return 1;
        },
        // WGSL allows exp 3 + 2|x| ULP; the chain contracts errors (|d exp(-a)/da| < 1).
        (n) => chainsAtInvocation0(n, (a) => Math.exp(-a)),
        1e-4,
      );
      result.gexps = result.exp.giga;
    }
    if (opts.kernels.includes('bandwidth')) {
      const src = buffer('bench-peak src', copyElements * 16, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
      // src = 0 everywhere (fresh buffers are zeroed): out = 0 * 0.5 + 0.5.
      result.bandwidth = await measure(
        'bandwidth',
        'copy_bandwidth',
        'byte',
        copyElements,
        copyElements,
        1,
        (n, inv) => n * inv * COPY_BYTES_PER_ELEMENT,
        (n, inv) => {
          writeParams(0, inv);
          return n;
        },
        () => [0.5, 0.5, 0.5, 0.5],
        0,
        src,
      );
      result.gbytesPerSecond = result.bandwidth.giga;
    }
    gpu.checkErrors();
  } finally {
    for (const b of buffers) b.destroy();
  }
  for (const r of [result.fma, result.exp, result.bandwidth]) {
    if (r && !r.check.ok)
      throw new Error(
        `bench-peak ${r.entryPoint}: output ${r.check.value} is not ${r.check.expected}: the kernel did not run as written`,
      );
  }
  return result;
}

// ---- CLI (Node) ----
// The Node-only modules are imported through variables so that a bundler (Vite) building a
// page that imports this file leaves them alone; import.meta.main is false in a page.
if (import.meta.main) {
  const commanderModule = 'commander';
  const nodeEnvModule = './node-env.ts';
  const { Command } = (await import(/* @vite-ignore */ commanderModule)) as typeof import('commander');
  const { emitResult, nodeEnvironment, nodeGpu, intOption } = (await import(
    /* @vite-ignore */ nodeEnvModule
  )) as typeof import('./node-env.ts');
  const cli = new Command('bench:peak')
    .description('f32 FMA, exp and copy-bandwidth peaks of the WebGPU adapter (Node, Dawn); JSON on stdout')
    .option('--repeats <n>', 'timed submissions per kernel', intOption('--repeats'), DEFAULTS.repeats)
    .option('--target-seconds <s>', 'wall time of one timed submission', parseFloat, DEFAULTS.targetSeconds)
    .option(
      '--invocations <n>',
      'invocations of the fma and exp kernels',
      intOption('--invocations'),
      DEFAULTS.invocations,
    )
    .option(
      '--copy-mib <n>',
      'MiB per buffer of the copy kernel',
      intOption('--copy-mib'),
      DEFAULTS.copyBytes / 2 ** 20,
    )
    .option('--kernels <list>', 'comma-separated subset of fma,exp,bandwidth', 'fma,exp,bandwidth')
    .option('--json <file>', 'write the JSON result to this file (stdout stays empty unless --stdout)')
    .option('--stdout', 'also print the result on stdout when --json is given')
    .parse(process.argv)
    .opts();
  const kernels = String(cli.kernels)
    .split(',')
    .map((s) => s.trim()) as PeakKernel[];
  for (const k of kernels)
    if (!['fma', 'exp', 'bandwidth'].includes(k)) throw new Error(`--kernels: unknown kernel '${k}'`);
  const gpu = await nodeGpu();
  const environment = nodeEnvironment();
  const peak = await measurePeak(gpu, {
    kernels,
    repeats: cli.repeats,
    targetSeconds: cli.targetSeconds,
    invocations: cli.invocations,
    copyBytes: cli.copyMib * 2 ** 20,
  });
  emitResult(JSON.stringify({ ...peak, environment, adapter: adapterDescription(gpu) }, null, 2), cli);
  gpu.destroy();
}
