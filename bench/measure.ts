// Timed runs of the sampler on one spec: the WebGPU path and the CPU reference.
// Platform-agnostic (a GpuContext in), so a browser page measures the same way Node does.
import { sampleCpu } from '../src/cpu/reference.ts';
import { prepareExperiment } from '../src/experiment/plan.ts';
import type { GpuContext } from '../src/gpu/device.ts';
import { sampleWebGpu, type GpuSampleInfo } from '../src/gpu/sampler.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import { momentsOf, timeRuns, type Moments, type Timing } from './common.ts';

export interface SamplerRun {
  particles: number;
  steps: number;
  timing: Timing;
  /** particles x steps / median seconds. */
  particleStepsPerSecond: number;
  /** Moments of coordinate 0 of the last timed run's particles (when read back). */
  moments?: Moments;
}

export interface WebGpuRun extends SamplerRun {
  plan: GpuSampleInfo['plan'];
  /** The kernel variant of the timed runs, and how the warm-up chose it (tuned, cached, forced). */
  variant: GpuSampleInfo['variant'] & { chosen: GpuSampleInfo['variant'] };
  /** Which step kernel ran (the host's choice for this plan). */
  kernel: GpuSampleInfo['kernel'];
  /** Whether every particle was read back to host memory inside the timed region. */
  readback: boolean;
  stepsPerDispatch?: number;
}

export interface WebGpuMeasureOptions {
  repeats: number;
  warmup?: number;
  /** Read every particle back (the default: the result ends in host memory, as numpy's does). */
  readback?: boolean;
  /** Planner override (tuning sweeps). */
  stepsPerDispatch?: number;
  /**
   * Particles of the warm-up runs (default: the spec's). The warm-up compiles the pipeline, which
   * Dawn then caches by content; a small warm-up does that as well as a full one.
   */
  warmupParticles?: number;
  /** The fast kernel's variant: 'auto' (default: tuned or cached, in the warm-up) or a name (src/gpu/variants.ts). */
  kernelVariant?: string;
}

/**
 * Times sampleWebGpu end to end: pipeline creation (from Dawn's cache after the warm-up),
 * buffers, factor tables, every dispatch, and (by default) the readback of every particle. The
 * spec is compiled once (prepareExperiment), outside the timed runs, as every consumer does.
 */
export async function measureWebGpu(
  gpu: GpuContext,
  spec: ExperimentSpec,
  opts: WebGpuMeasureOptions,
): Promise<WebGpuRun> {
  const readback = opts.readback ?? true;
  const dim = spec.dim;
  let plan: GpuSampleInfo['plan'] | undefined;
  let kernel: GpuSampleInfo['kernel'] | undefined;
  let out: Float32Array | undefined;
  const experiment = prepareExperiment(spec);
  const warmCount = Math.min(spec.particles, opts.warmupParticles ?? spec.particles);
  const warmupSeconds: number[] = [];
  const { stepsPerDispatch, kernelVariant } = opts;
  let chosen: GpuSampleInfo['variant'] | undefined;
  let variant: GpuSampleInfo['variant'] | undefined;
  for (let r = 0; r < (opts.warmup ?? 1); r++) {
    const t0 = performance.now();
    const info = await sampleWebGpu(gpu, experiment, { count: warmCount, stepsPerDispatch, kernelVariant });
    chosen ??= info.variant;
    warmupSeconds.push((performance.now() - t0) / 1000);
  }
  const run = async (): Promise<void> => {
    let filled = 0;
    if (readback) out ??= new Float32Array(spec.particles * dim);
    const info = await sampleWebGpu(gpu, experiment, {
      onChunk: readback
        ? (chunk, count) => {
            out!.set(chunk.subarray(0, count * dim), filled * dim);
            filled += count;
          }
        : undefined,
      stepsPerDispatch,
      kernelVariant,
    });
    plan = info.plan;
    variant = info.variant;
    chosen ??= info.variant;
    kernel = info.kernel;
  };
  const timing = { ...(await timeRuns(run, opts.repeats, 0)), warmupSeconds };
  return {
    particles: spec.particles,
    steps: spec.solver.steps,
    timing,
    particleStepsPerSecond: (spec.particles * spec.solver.steps) / timing.medianSeconds,
    plan: plan!,
    variant: { ...variant!, chosen: chosen! },
    kernel: kernel!,
    readback,
    stepsPerDispatch: opts.stepsPerDispatch,
    moments: out ? momentsOf(out, dim) : undefined,
  };
}

/** Times the f64 CPU reference (one thread) end to end. */
export async function measureCpu(spec: ExperimentSpec, repeats: number, warmup = 1): Promise<SamplerRun> {
  let last: Float64Array | undefined;
  const experiment = prepareExperiment(spec);
  const timing = await timeRuns(
    () => {
      last = sampleCpu(experiment).particles;
    },
    repeats,
    warmup,
  );
  return {
    particles: spec.particles,
    steps: spec.solver.steps,
    timing,
    particleStepsPerSecond: (spec.particles * spec.solver.steps) / timing.medianSeconds,
    moments: last ? momentsOf(last, spec.dim) : undefined,
  };
}
