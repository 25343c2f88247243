// One sampling run of the page, progressive and spread across frames:
//   1. a preview: a few thousand particles on a coarse grid (at most PREVIEW_STEPS steps of the
//      spec's solver), one step per dispatch; its dispatches also measure the GPU's rate;
//   2. the spec itself, in batches of growing size (particles [first, first + n) of the same
//      generator streams, so the union of the batches is exactly the spec's run), each
//      dispatch sized from the measured rate to about DISPATCH_SECONDS of GPU work.
// After every dispatch:
//   - the first batch's particles are probed now and then (mean and spread along the plotted
//     axes by a GPU reduction; a handful of particles copied for sample paths);
//   - a finished chunk is binned into the stage's GPU histogram and reduced for the summary;
//   - at most MAX_IN_FLIGHT dispatches are queued, and the page gets a frame.
// Particles are never read back in bulk: the plot draws from the histogram's counts on the GPU.
// A Feynman-Kac corrected spec is one population: its full stage is one batch.
import type { GpuContext } from '../src/gpu/device.ts';
import { sampleWebGpu } from '../src/gpu/sampler.ts';
import { type ExperimentPlan, prepareExperiment } from '../src/experiment/plan.ts';
import { priorScale, startTime } from '../src/processes/process.ts';
import { fillNormals } from '../src/rng/philox.ts';
import { timeGrid } from '../src/solvers/grid.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import { GpuHistogram, type HistogramCounts } from '../src/gpu/histogram.ts';
import type { PlotGeometry } from './densities.ts';
import { MomentProbe, mergeMoments, type Moments } from './trace.ts';

/** Sample paths drawn (the first particles of the run). */
export const PATHS = 12;
/** Particles the per-dispatch probe visits at most (it strides over the rest). */
const PROBE_PARTICLES = 1 << 16;
/** Trace points wanted per run, about (probes are taken when the step passes the next one). */
const TRACE_POINTS = 64;
/** Dispatches submitted but not finished, at most (bounds the GPU queue, so Stop is prompt). */
const MAX_IN_FLIGHT = 2;
/** GPU work per dispatch aimed at, seconds. */
export const DISPATCH_SECONDS = 0.03;
/** The preview: at most this many particles and steps. */
export const PREVIEW_PARTICLES = 8192;
export const PREVIEW_STEPS = 16;
/** The full stage's first batch aims at about this much GPU time, seconds (then batches double). */
const FIRST_BATCH_SECONDS = 0.5;
/** A first guess of the GPU's rate (component evaluations per second) before anything is measured. */
export const GUESS_RATE = 3e7;
/**
 * Work of one dispatch at least and at most (component evaluations). Below the floor a dispatch
 * costs mostly its fixed overhead (submission, completion, the frame after it): sizing from rates
 * measured on such dispatches would spiral down (smaller dispatches, lower measured rate). About
 * 10 ms for the 1-D fast path and 50-150 ms for the 2-D general kernel on SwiftShader here
 * (busy machine), so the floor wins over the 30 ms aim only for costly specs.
 */
export const MIN_DISPATCH_WORK = 2 ** 18;
export const MAX_DISPATCH_WORK = 2 ** 27;

/** The evaluations one dispatch should hold at `rate`. */
export function dispatchBudget(rate: number): number {
  return Math.min(MAX_DISPATCH_WORK, Math.max(MIN_DISPATCH_WORK, (rate > 0 ? rate : GUESS_RATE) * DISPATCH_SECONDS));
}

export class Cancelled extends Error {
  constructor() {
    super('run cancelled');
    this.name = 'Cancelled';
  }
}

/** What the picture being drawn holds. */
export interface StageInfo {
  kind: 'preview' | 'full';
  /** Particles this stage will bin in all. */
  particles: number;
  steps: number;
  solver: string;
  histogram: GpuHistogram;
}

export interface DispatchRecord {
  stage: 'preview' | 'full';
  particles: number;
  steps: number;
  /** Component evaluations of the dispatch (the sizing unit). */
  work: number;
  /** GPU busy time: from max(submit, previous completion) to completion, ms. */
  ms: number;
}

export interface RunCallbacks {
  /** A new stage starts: its histogram (empty until its first chunk is binned). */
  onStage(stage: StageInfo): void;
  /** A trace point of the full stage: time, moments of the first batch, and the path particles (PATHS x dim). */
  onTrace(t: number, moments: Moments, paths: Float32Array): void;
  /** After a chunk is binned (the stage's counts now include it): particles of the stage binned so far. */
  onBinned(stage: StageInfo, particles: number): void;
  /** Counts read back after a chunk (for the figures), and the stage's summary moments so far. */
  onCounts(stage: StageInfo, counts: HistogramCounts, summary: Moments | null): void;
  onProgress(progress: RunProgress): void;
  onDispatch?(d: DispatchRecord): void;
}

export interface RunProgress {
  stage: 'preview' | 'full';
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
  /** Particle-steps per second of the full stage (wall time, frames included). */
  particleStepsPerSecond: number;
  /** Component evaluations per second of GPU busy time (the next run's first guess), 0 when unknown. */
  workRate: number;
  plan: { chunkParticles: number; stepsPerDispatch: number; dispatches: number; batches: number };
}

/** Component-coordinate evaluations per particle-step: the unit of work of one dispatch. */
export function workPerParticleStep(plan: ExperimentPlan): number {
  const { model } = plan.guidance;
  const stages = plan.tableau.c.length;
  const full = model.components.some((c) => c.kind === 'gaussian' && c.basis !== null);
  return stages * model.components.length * plan.spec.dim * (full ? 2 * plan.spec.dim : 1);
}

/** Particles per chunk and steps per dispatch for about `budget` evaluations per dispatch. */
export function dispatchSize(
  particles: number,
  steps: number,
  per: number,
  budget: number,
): { chunkParticles: number; stepsPerDispatch: number } {
  const chunkParticles = Math.max(256, Math.min(particles, Math.floor(budget / per)));
  const stepsPerDispatch = Math.max(1, Math.min(steps, Math.floor(budget / (chunkParticles * per))));
  return { chunkParticles: Math.min(chunkParticles, particles), stepsPerDispatch };
}

/** The full stage's batch sizes: the first about FIRST_BATCH_SECONDS of work, then doubling. */
export function batchSizes(
  particles: number,
  steps: number,
  per: number,
  rate: number,
  onePopulation: boolean,
): number[] {
  if (onePopulation) return [particles];
  const first = Math.max(1024, Math.floor((rate * FIRST_BATCH_SECONDS) / (steps * per) / 1024) * 1024);
  const out: number[] = [];
  let done = 0;
  let n = first;
  while (done < particles) {
    const b = Math.min(n, particles - done);
    out.push(b);
    done += b;
    n *= 2;
  }
  return out;
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
    setTimeout(go, 50); // a hidden tab gets no frames: keep going
  });

export class ExplorerRun {
  readonly spec: ExperimentSpec;
  /** The spec compiled once; the full stage's batches are ranges of it. */
  readonly plan: ExperimentPlan;
  readonly geometry: PlotGeometry;
  private readonly gpu: GpuContext;
  private readonly histograms: GpuHistogram[] = [];
  private cancelled = false;
  private wake: (() => void) | null = null;

  constructor(gpu: GpuContext, spec: ExperimentSpec, geometry: PlotGeometry) {
    this.gpu = gpu;
    this.spec = spec;
    this.plan = prepareExperiment(spec);
    this.geometry = geometry;
  }

  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }

  private async histogram(): Promise<GpuHistogram> {
    const g = this.geometry;
    const h = await GpuHistogram.create(this.gpu, { dim: this.spec.dim, bins: g.bins, low: g.low, high: g.high });
    this.histograms.push(h);
    return h;
  }

  /**
   * Runs to completion (or throws Cancelled). rate: the last measured GPU rate (evaluations per
   * second) or 0; center: a guess of the final mean per plotted axis (the summary reduction
   * sums x - center in f32).
   */
  async run(cb: RunCallbacks, rate: number, center: number[]): Promise<RunResult> {
    const { spec, gpu, geometry } = this;
    const { device } = gpu;
    const per = workPerParticleStep(this.plan);
    const probe = await MomentProbe.create(gpu, spec.dim, geometry.axes, PATHS);
    const pending: Promise<unknown>[] = [];
    const track = <T>(p: Promise<T>): Promise<T> => {
      pending.push(p.catch(() => {}));
      return p;
    };
    const t0 = performance.now();
    const inFlight: Promise<unknown>[] = [];
    let lastDone = t0;
    let busyMs = 0;
    let busyWork = 0;
    let measured = rate > 0 ? rate : 0;
    let dispatches = 0;
    const onePopulation = spec.corrector?.kind === 'fk';

    // Runs particles [first, first + count) of `stagePlan` into the stage's histogram.
    const runBatch = async (
      stage: StageInfo,
      stagePlan: ExperimentPlan,
      first: number,
      count: number,
      size: { chunkParticles: number; stepsPerDispatch: number },
      state: { binned: number; summary: Moments | null; counts: HistogramCounts | null; countsChain: Promise<unknown> },
      trace: { times: Float64Array; next: number; center: number[] } | null,
    ) => {
      let lastChunk = -1;
      let lastStepsDone = 0;
      const maxInFlight = stage.kind === 'preview' ? 1 : MAX_IN_FLIGHT;
      const info = await sampleWebGpu(gpu, stagePlan, {
        chunkParticles: size.chunkParticles,
        stepsPerDispatch: size.stepsPerDispatch,
        firstParticle: first,
        count,
        afterDispatch: async (d) => {
          if (this.cancelled) throw new Cancelled();
          const submitted = performance.now();
          const stepsNow = d.stepsDone - (d.chunkStart === lastChunk ? lastStepsDone : 0);
          lastChunk = d.chunkStart;
          lastStepsDone = d.stepsDone;
          const work = d.count * stepsNow * per;
          dispatches++;
          if (trace && d.chunkStart === 0 && (d.stepsDone >= trace.next || d.stepsDone === d.steps)) {
            trace.next = d.stepsDone + Math.max(1, Math.ceil(d.steps / TRACE_POINTS));
            const t = trace.times[d.stepsDone];
            const stride = Math.max(1, Math.ceil(d.count / PROBE_PARTICLES));
            track(
              probe.probe(d.particles, d.count, { stride, center: trace.center, paths: PATHS }).then((r) => {
                if (r.moments.n > 0) trace.center = r.moments.mean.map((m) => (Number.isFinite(m) ? m : 0));
                if (!this.cancelled) cb.onTrace(t, r.moments, r.paths);
              }),
            );
          }
          if (d.stepsDone === d.steps) {
            stage.histogram.accumulate(d.particles, d.count);
            state.binned += d.count;
            cb.onBinned(stage, state.binned);
            const full = track(probe.probe(d.particles, d.count, { stride: 1, center, paths: 0 }));
            state.countsChain = state.countsChain
              .then(() => full)
              .then((r) => {
                state.summary = mergeMoments(state.summary, r.moments);
                return stage.histogram.read();
              })
              .then((c) => {
                state.counts = c;
                if (!this.cancelled) cb.onCounts(stage, c, state.summary);
              });
            track(state.countsChain);
          }
          cb.onProgress({
            stage: stage.kind,
            particlesDone: first + d.chunkStart + (d.stepsDone === d.steps ? d.count : 0),
            particles: stage.particles,
            stepsDone: d.stepsDone,
            steps: d.steps,
            elapsedSeconds: (performance.now() - t0) / 1000,
            plan: size,
          });
          const done = gpu.guard(device.queue.onSubmittedWorkDone()).then(() => {
            const now = performance.now();
            const ms = now - Math.max(submitted, lastDone);
            lastDone = now;
            // The rate from dispatches big enough to measure the GPU rather than the fixed
            // overhead of a dispatch (see MIN_DISPATCH_WORK).
            if (ms >= 5) {
              busyMs += ms;
              busyWork += work;
              measured = busyWork / (busyMs / 1000);
            }
            cb.onDispatch?.({ stage: stage.kind, particles: d.count, steps: stepsNow, work, ms });
          });
          inFlight.push(done);
          while (inFlight.length > maxInFlight) await this.orCancel(inFlight.shift()!);
          await this.orCancel(nextFrame());
          if (this.cancelled) throw new Cancelled();
        },
      });
      await Promise.all(inFlight.splice(0));
      await state.countsChain;
      return info;
    };

    try {
      // 1. The preview (skipped when the spec is no bigger than it).
      const previewSteps = Math.min(spec.solver.steps, PREVIEW_STEPS);
      const guess = measured > 0 ? measured : GUESS_RATE;
      const previewParticles = Math.min(
        spec.particles,
        PREVIEW_PARTICLES,
        Math.max(1024, Math.floor(dispatchBudget(guess) / per / 256) * 256),
      );
      const hasPreview = spec.solver.steps > previewSteps || spec.particles > previewParticles;
      if (hasPreview) {
        const previewSpec: ExperimentSpec = {
          ...spec,
          particles: previewParticles,
          solver: { ...spec.solver, steps: previewSteps },
        };
        const stage: StageInfo = {
          kind: 'preview',
          particles: previewParticles,
          steps: previewSteps,
          solver: spec.solver.kind,
          histogram: await this.histogram(),
        };
        cb.onStage(stage);
        const state = { binned: 0, summary: null, counts: null, countsChain: Promise.resolve() as Promise<unknown> };
        // The preview is a smaller experiment (fewer steps): its own plan.
        const previewPlan = prepareExperiment(previewSpec);
        const previewSize = { chunkParticles: previewParticles, stepsPerDispatch: 1 };
        await runBatch(stage, previewPlan, 0, previewParticles, previewSize, state, null);
      }

      // 2. The spec, in growing batches.
      const steps = spec.solver.steps;
      // The first batch from the rate measured so far, at least the guess's share of it (a
      // loaded machine's preview may under-measure).
      const rateNow = Math.max(measured > 0 ? measured : GUESS_RATE, MIN_DISPATCH_WORK / DISPATCH_SECONDS);
      const batches = batchSizes(spec.particles, steps, per, rateNow, onePopulation);
      const stage: StageInfo = {
        kind: 'full',
        particles: spec.particles,
        steps,
        solver: spec.solver.kind,
        histogram: await this.histogram(),
      };
      cb.onStage(stage);
      const state = {
        binned: 0,
        summary: null as Moments | null,
        counts: null as HistogramCounts | null,
        countsChain: Promise.resolve() as Promise<unknown>,
      };
      const trace = {
        times: timeGrid(spec.solver.grid, startTime(spec.process), spec.solver.tMin, steps),
        next: 0,
        center: [...center],
      };
      const tFull = performance.now();
      let first = 0;
      let size = { chunkParticles: 0, stepsPerDispatch: 0 };
      for (const [b, n] of batches.entries()) {
        // Sized from the rate measured so far (the preview's dispatches, then this stage's).
        size = dispatchSize(n, steps, per, dispatchBudget(measured));
        await runBatch(stage, this.plan, first, n, size, state, b === 0 ? trace : null);
        first += n;
      }
      await Promise.all(pending);
      const elapsedSeconds = (performance.now() - t0) / 1000;
      return {
        summary: state.summary,
        counts: state.counts,
        elapsedSeconds,
        particleStepsPerSecond: (spec.particles * steps) / ((performance.now() - tFull) / 1000),
        workRate: measured,
        plan: {
          chunkParticles: size.chunkParticles,
          stepsPerDispatch: size.stepsPerDispatch,
          dispatches,
          batches: batches.length,
        },
      };
    } finally {
      await Promise.all(inFlight.splice(0)).catch(() => {});
      await Promise.all(pending);
      probe.destroy();
    }
  }

  /** Resolves with p, or early when the run is cancelled (Stop does not wait for the GPU queue). */
  private orCancel<T>(p: Promise<T>): Promise<T | void> {
    if (this.cancelled) return Promise.resolve();
    return Promise.race([p, new Promise<void>((resolve) => (this.wake = resolve))]);
  }

  destroy(): void {
    for (const h of this.histograms) h.destroy();
  }
}
