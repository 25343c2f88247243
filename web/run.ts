// One sampling run of the page, spread across frames: sampleWebGpu with a dispatch size chosen
// so that one dispatch is a few tens of milliseconds of GPU work, and after every dispatch:
//   - the first chunk's particles are probed (mean and spread along the plotted axes by a GPU
//     reduction; a handful of particles copied for sample paths), at most a few KB read back;
//   - a finished chunk is binned into the GPU histogram and reduced for the run's summary;
//   - at most two dispatches are in flight, and the page gets a frame (requestAnimationFrame).
// Particles are never read back in bulk: the plot draws from the histogram's counts on the GPU.
import type { GpuContext } from '../src/gpu/device.ts';
import { sampleWebGpu } from '../src/gpu/sampler.ts';
import { planGuidance } from '../src/guidance/guidance.ts';
import { priorScale, startTime } from '../src/processes/process.ts';
import { fillNormals } from '../src/rng/philox.ts';
import { timeGrid } from '../src/solvers/grid.ts';
import { TABLEAUS } from '../src/solvers/tableau.ts';
import type { ExperimentSpec } from '../src/spec/types.ts';
import { GpuHistogram, type HistogramCounts } from '../src/metrics/gpu-histogram.ts';
import type { PlotGeometry } from './densities.ts';
import { MomentProbe, mergeMoments, type Moments } from './trace.ts';

/** Sample paths drawn (the first particles of the run). */
export const PATHS = 12;
/** Particles the per-dispatch probe visits at most (it strides over the rest). */
const PROBE_PARTICLES = 1 << 16;
/** Trace points wanted per run at least (bounds the steps per dispatch). */
const TRACE_POINTS = 48;
/** Dispatches submitted but not finished, at most (bounds the GPU queue, so Stop is prompt). */
const MAX_IN_FLIGHT = 4;

export class Cancelled extends Error {
  constructor() {
    super('run cancelled');
    this.name = 'Cancelled';
  }
}

export interface RunCallbacks {
  /** A trace point: time, moments of the first chunk, and the path particles (row-major PATHS x dim). */
  onTrace(t: number, moments: Moments, paths: Float32Array): void;
  /** After a chunk is binned (counts now include it): particles binned so far. */
  onBinned(particles: number): void;
  /** Counts read back after a chunk (for the figures), and the summary moments so far. */
  onCounts(counts: HistogramCounts, summary: Moments | null): void;
  onProgress(progress: RunProgress): void;
}

export interface RunProgress {
  particlesDone: number;
  particles: number;
  stepsDone: number;
  steps: number;
  elapsedSeconds: number;
  plan: { chunkParticles: number; stepsPerDispatch: number };
}

export interface RunResult {
  summary: Moments | null;
  counts: HistogramCounts | null;
  elapsedSeconds: number;
  /** Particle-steps per second over the whole run (wall time, frames included). */
  particleStepsPerSecond: number;
  /** Component evaluations per second of GPU busy time (sizes the next run's dispatches), 0 when unknown. */
  workRate: number;
  plan: { chunkParticles: number; stepsPerDispatch: number; dispatches: number };
}

/** Component-coordinate evaluations per particle-step: the unit of work of one dispatch. */
export function workPerParticleStep(spec: ExperimentSpec): number {
  const model = planGuidance(spec).model;
  const stages = TABLEAUS[spec.solver.kind].c.length;
  const full = model.components.some((c) => c.kind === 'gaussian' && c.basis !== null);
  return stages * model.components.length * spec.dim * (full ? 2 * spec.dim : 1);
}

/** Particles per chunk and steps per dispatch for about `budget` evaluations per dispatch. */
export function dispatchSize(spec: ExperimentSpec, budget: number): { chunkParticles: number; stepsPerDispatch: number } {
  const per = workPerParticleStep(spec);
  const chunkParticles = Math.max(4096, Math.min(spec.particles, Math.floor(budget / per)));
  const steps = spec.solver.steps;
  const stepsPerDispatch = Math.max(1, Math.min(Math.ceil(steps / TRACE_POINTS), Math.floor(budget / (chunkParticles * per))));
  return { chunkParticles: Math.min(chunkParticles, spec.particles), stepsPerDispatch };
}

/** The exact prior's first particles: where the sample paths start (stream 0 of the generator). */
export function initialPaths(spec: ExperimentSpec, count: number): Float64Array {
  const out = new Float64Array(count * spec.dim);
  const z = new Float64Array(Math.ceil(spec.dim / 4) * 4);
  const s = priorScale(spec.process);
  for (let p = 0; p < count; p++) {
    fillNormals(spec.seed, p, 0, spec.dim, z);
    for (let i = 0; i < spec.dim; i++) out[p * spec.dim + i] = s * z[i];
  }
  return out;
}

const nextFrame = (): Promise<void> =>
  new Promise((resolve) => {
    let done = false;
    const go = () => {
      if (!done) {
        done = true;
        resolve();
      }
    };
    requestAnimationFrame(go);
    setTimeout(go, 100); // a hidden tab gets no frames: keep going, slowly
  });

export class ExplorerRun {
  readonly spec: ExperimentSpec;
  readonly geometry: PlotGeometry;
  readonly histogram: GpuHistogram;
  private readonly gpu: GpuContext;
  private cancelled = false;

  constructor(gpu: GpuContext, spec: ExperimentSpec, geometry: PlotGeometry) {
    this.gpu = gpu;
    this.spec = spec;
    this.geometry = geometry;
    this.histogram = new GpuHistogram(gpu, { dim: spec.dim, bins: geometry.bins, low: geometry.low, high: geometry.high });
  }

  cancel(): void {
    this.cancelled = true;
  }

  /**
   * Runs to completion (or throws Cancelled). budget: evaluations per dispatch; center: a guess of
   * the final mean per plotted axis (the summary reduction sums x - center in f32).
   */
  async run(cb: RunCallbacks, budget: number, center: number[]): Promise<RunResult> {
    const { spec, gpu, geometry } = this;
    const { device } = gpu;
    const size = dispatchSize(spec, budget);
    const times = timeGrid(spec.solver.grid, startTime(spec.process), spec.solver.tMin, spec.solver.steps);
    const probe = new MomentProbe(gpu, spec.dim, geometry.axes, PATHS);
    const pending: Promise<unknown>[] = [];
    const track = <T>(p: Promise<T>): Promise<T> => {
      pending.push(p.catch(() => {}));
      return p;
    };
    let summary: Moments | null = null;
    let binned = 0;
    let countsChain: Promise<unknown> = Promise.resolve();
    let counts: HistogramCounts | null = null;
    let traceCenter = [...center];
    const t0 = performance.now();
    let previousDone: Promise<unknown> = Promise.resolve();
    const inFlight: Promise<unknown>[] = [];
    let busyMs = 0;
    let lastDone = t0;
    let work = 0;
    const per = workPerParticleStep(spec);
    let lastStepsDone = 0;
    let lastChunk = -1;
    let particlesDone = 0;

    try {
      const info = await sampleWebGpu(gpu, spec, {
        chunkParticles: size.chunkParticles,
        stepsPerDispatch: size.stepsPerDispatch,
        afterDispatch: async (d) => {
          if (this.cancelled) throw new Cancelled();
          const submitted = performance.now();
          const stepsNow = d.stepsDone - (d.chunkStart === lastChunk ? lastStepsDone : 0);
          lastChunk = d.chunkStart;
          lastStepsDone = d.stepsDone;
          const dispatchWork = d.count * stepsNow * per;
          work += dispatchWork;

          if (d.chunkStart === 0) {
            const t = times[d.stepsDone];
            const stride = Math.max(1, Math.ceil(d.count / PROBE_PARTICLES));
            track(
              probe.probe(d.particles, d.count, { stride, center: traceCenter, paths: PATHS }).then((r) => {
                if (r.moments.n > 0) traceCenter = r.moments.mean.map((m) => (Number.isFinite(m) ? m : 0));
                if (!this.cancelled) cb.onTrace(t, r.moments, r.paths);
              }),
            );
          }
          if (d.stepsDone === d.steps) {
            this.histogram.accumulate(d.particles, d.count);
            binned += d.count;
            particlesDone = d.chunkStart + d.count;
            cb.onBinned(binned);
            const full = track(probe.probe(d.particles, d.count, { stride: 1, center, paths: 0 }));
            countsChain = countsChain
              .then(() => full)
              .then((r) => {
                summary = mergeMoments(summary, r.moments);
                return this.histogram.read();
              })
              .then((c) => {
                counts = c;
                if (!this.cancelled) cb.onCounts(c, summary);
              });
            track(countsChain);
          }
          cb.onProgress({
            particlesDone,
            particles: spec.particles,
            stepsDone: d.stepsDone,
            steps: d.steps,
            elapsedSeconds: (performance.now() - t0) / 1000,
            plan: size,
          });
          // At most two dispatches in flight; measure GPU busy time per dispatch.
          const done = gpu.guard(device.queue.onSubmittedWorkDone()).then(() => {
            const now = performance.now();
            busyMs += now - Math.max(submitted, lastDone);
            lastDone = now;
          });
          inFlight.push(done);
          if (inFlight.length > MAX_IN_FLIGHT) await inFlight.shift();
          previousDone = done;
          await nextFrame();
          if (this.cancelled) throw new Cancelled();
        },
      });
      await previousDone;
      await countsChain;
      await Promise.all(pending);
      const elapsedSeconds = (performance.now() - t0) / 1000;
      return {
        summary,
        counts,
        elapsedSeconds,
        particleStepsPerSecond: (spec.particles * spec.solver.steps) / elapsedSeconds,
        // Small dispatches measure the completion latency, not the GPU: no estimate from them.
        workRate: busyMs > 0 && info.plan.dispatches >= 4 && busyMs / info.plan.dispatches >= 5 ? work / (busyMs / 1000) : 0,
        plan: { chunkParticles: info.plan.chunkParticles, stepsPerDispatch: info.plan.stepsPerDispatch, dispatches: info.plan.dispatches },
      };
    } finally {
      await previousDone.catch(() => {});
      await Promise.all(pending);
      probe.destroy();
    }
  }

  destroy(): void {
    this.histogram.destroy();
  }
}
