// Timed runs of one workload on the WebGPU path with wall-clock and, where the device has
// 'timestamp-query', GPU timestamps. Platform-agnostic (a GpuContext in): the Chrome page
// (bench/chrome-page.ts) and Node (bench/chrome.ts) measure with this same code.
//
// GPU time: an empty compute pass writes a timestamp before the first dispatch (beginning of
// pass), another one after the last dispatch (end of pass); their difference is the GPU
// timeline from the start of the sampling to the end of its last dispatch (every dispatch,
// plus any idle gaps while the host prepared the next one). Particles stay on the GPU (no
// readback), as in the explorer page.
import type { AcquireOptions, GpuContext } from '../src/gpu/device.ts';
import { acquireGpu } from '../src/gpu/device.ts';
import { sampleWebGpu, type GpuSampleInfo, type GpuSampleOptions } from '../src/gpu/sampler.ts';
import type { GpuPlatform } from '../src/platform/types.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import { median } from './common.ts';

export interface TimedWorkload {
  particles: number;
  steps: number;
  /** Wall seconds per timed run (sampleWebGpu start to its return, which waits for the GPU). */
  wallSeconds: number[];
  /** GPU seconds per timed run (timestamps), or null without 'timestamp-query'. */
  gpuSeconds: number[] | null;
  warmupWallSeconds: number[];
  medianWallSeconds: number;
  medianGpuSeconds: number | null;
  /** particles x steps / median seconds. */
  particleStepsPerSecond: { wall: number; gpu: number | null };
  plan: GpuSampleInfo['plan'];
  /** Which stepping kernel ran, and how it read its tables (sampleWebGpu's report). */
  kernel: GpuSampleInfo['kernel'];
  tables: GpuSampleInfo['tables'];
  /** The kernel variant of the timed runs, and how the first run chose it (tuned, cached, forced). */
  variant: GpuSampleInfo['variant'] & { chosen: GpuSampleInfo['variant'] };
}

/** Acquires a device with 'timestamp-query' when the adapter has it, else without. */
export async function acquireTimedGpu(platform: GpuPlatform, opts: AcquireOptions = {}): Promise<GpuContext> {
  try {
    return await acquireGpu(platform, {
      ...opts,
      requiredFeatures: [...(opts.requiredFeatures ?? []), 'timestamp-query'],
    });
  } catch (e) {
    if (/no adapter/i.test((e as Error).message)) throw e;
    return acquireGpu(platform, opts);
  }
}

class Timestamps {
  private readonly gpu: GpuContext;
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly readback: GPUBuffer;

  constructor(gpu: GpuContext) {
    this.gpu = gpu;
    const { device } = gpu;
    this.querySet = device.createQuerySet({ label: 'bench timestamps', type: 'timestamp', count: 2 });
    this.resolve = device.createBuffer({
      label: 'bench timestamps resolve',
      size: 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.readback = device.createBuffer({
      label: 'bench timestamps readback',
      size: 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Submits an empty pass that writes timestamp `index` (0: at its beginning, 1: at its end). */
  mark(index: 0 | 1): void {
    const encoder = this.gpu.device.createCommandEncoder({ label: `bench timestamp ${index}` });
    const pass = encoder.beginComputePass({
      label: `bench timestamp pass ${index}`,
      timestampWrites:
        index === 0
          ? { querySet: this.querySet, beginningOfPassWriteIndex: 0 }
          : { querySet: this.querySet, endOfPassWriteIndex: 1 },
    });
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
  }

  /** Seconds between the two marks. */
  async seconds(): Promise<number> {
    const encoder = this.gpu.device.createCommandEncoder({ label: 'bench timestamps resolve' });
    encoder.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 16);
    this.gpu.device.queue.submit([encoder.finish()]);
    await this.gpu.guard(this.readback.mapAsync(GPUMapMode.READ));
    const t = new BigUint64Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    return Number(t[1] - t[0]) / 1e9;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    this.readback.destroy();
  }
}

/** One run of sampleWebGpu, timed; timestamps around all of its dispatches when given. */
async function timedRun(
  gpu: GpuContext,
  spec: ExperimentSpec,
  ts: Timestamps | null,
  sampler: SamplerChoice,
): Promise<{ wall: number; gpu: number | null; info: GpuSampleInfo }> {
  const t0 = performance.now();
  ts?.mark(0);
  const info = await sampleWebGpu(gpu, spec, {
    ...sampler,
    afterDispatch: ts
      ? (d) => {
          if (d.stepsDone === d.steps && d.chunkStart + d.count === spec.particles) ts.mark(1);
        }
      : undefined,
  });
  const wall = (performance.now() - t0) / 1000;
  return { wall, gpu: ts ? await ts.seconds() : null, info };
}

/** `warmup` untimed runs (pipeline compilation, caches), then `repeats` timed ones. */
/** Which stepping kernel and dispatch shape to time (sampleWebGpu's own options). */
export type SamplerChoice = Pick<GpuSampleOptions, 'kernel' | 'stepsPerDispatch' | 'kernelVariant'>;

export async function timeWorkload(
  gpu: GpuContext,
  spec: ExperimentSpec,
  opts: { repeats: number; warmup: number; sampler?: SamplerChoice },
): Promise<TimedWorkload> {
  const sampler = opts.sampler ?? {};
  const ts = gpu.device.features.has('timestamp-query') ? new Timestamps(gpu) : null;
  try {
    const warmupWallSeconds: number[] = [];
    let chosen: GpuSampleInfo['variant'] | undefined;
    for (let r = 0; r < opts.warmup; r++) {
      const run = await timedRun(gpu, spec, ts, sampler);
      chosen ??= run.info.variant;
      warmupWallSeconds.push(run.wall);
    }
    const wallSeconds: number[] = [];
    const gpuSeconds: number[] = [];
    let last: GpuSampleInfo | undefined;
    for (let r = 0; r < Math.max(1, opts.repeats); r++) {
      const run = await timedRun(gpu, spec, ts, sampler);
      wallSeconds.push(run.wall);
      if (run.gpu !== null) gpuSeconds.push(run.gpu);
      last = run.info;
      chosen ??= run.info.variant;
    }
    const work = spec.particles * spec.solver.steps;
    const medianWallSeconds = median(wallSeconds);
    const medianGpuSeconds = ts ? median(gpuSeconds) : null;
    return {
      particles: spec.particles,
      steps: spec.solver.steps,
      wallSeconds,
      gpuSeconds: ts ? gpuSeconds : null,
      warmupWallSeconds,
      medianWallSeconds,
      medianGpuSeconds,
      particleStepsPerSecond: {
        wall: work / medianWallSeconds,
        gpu: medianGpuSeconds ? work / medianGpuSeconds : null,
      },
      plan: last!.plan,
      kernel: last!.kernel,
      tables: last!.tables,
      variant: { ...last!.variant, chosen: chosen! },
    };
  } finally {
    ts?.destroy();
  }
}
