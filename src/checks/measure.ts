// One sampling run with every large-N metric binned as the chunks finish: on the GPU inside the
// sampler's afterDispatch (no particle readback), or on the CPU from the reference backend's
// particles, streamed in blocks (the fallback without an adapter; slow, for small N).
import { sampleCpuStream } from '../cpu/stream.ts';
import type { GpuContext } from '../gpu/device.ts';
import { sampleWebGpu } from '../gpu/sampler.ts';
import { type ExperimentPlan, planOf } from '../experiment/plan.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import { GpuHistogram, type HistogramCounts } from '../gpu/histogram.ts';
import { GpuDensityMetrics } from '../gpu/density-metrics.ts';
import { CpuDensityMetrics, type DensityMetricsConfig, type DensityMetricsResult } from '../metrics/density.ts';

export interface HistogramPlan {
  /** Projection vector per axis (1 or 2 axes). */
  axes: number[][];
  bins: number[];
  low: number[];
  high: number[];
  /** Sorted edges per axis (f32-representable), or null for uniform bins. */
  edges: (Float64Array | null)[];
}

export interface MeasurePlan {
  histograms: HistogramPlan[];
  density: DensityMetricsConfig;
}

export interface Measurements {
  particles: number;
  histograms: HistogramCounts[];
  density: DensityMetricsResult;
  backend: 'webgpu' | 'cpu';
  adapter: string | null;
  sampleSeconds: number;
}

/** CPU binning with the GPU's rules (f32 projection, [low, high) bins, edges by binary search). */
export function binOnCpu(
  plan: HistogramPlan,
  dim: number,
  data: ArrayLike<number>,
  count: number,
  into?: HistogramCounts,
): HistogramCounts {
  const nb = plan.bins.reduce((a, b) => a * b, 1);
  const h = into ?? { counts: new Uint32Array(nb), underflow: 0, overflow: 0, nonFinite: 0, total: 0 };
  const e32 = plan.edges.map((e) => (e ? Float32Array.from(e) : null));
  const u = [0, 0];
  for (let p = 0; p < count; p++) {
    h.total++;
    let finite = true;
    u[0] = 0;
    u[1] = 0;
    for (let j = 0; j < dim; j++) {
      const x = Math.fround(data[p * dim + j]);
      if (!Number.isFinite(x)) finite = false;
      for (let k = 0; k < plan.axes.length; k++)
        u[k] = Math.fround(u[k] + Math.fround(Math.fround(plan.axes[k][j]) * x));
    }
    if (!finite || !Number.isFinite(u[0]) || !Number.isFinite(u[1])) {
      h.nonFinite++;
      continue;
    }
    let index = 0;
    let stride = 1;
    let out = 0;
    for (let k = 0; k < plan.axes.length; k++) {
      const nbk = plan.bins[k];
      let i: number;
      const e = e32[k];
      if (e) {
        if (u[k] < e[0]) i = -1;
        else if (u[k] >= e[nbk]) i = nbk;
        else {
          let lo = 0;
          let hi = nbk;
          while (hi - lo > 1) {
            const mid = (lo + hi) >> 1;
            if (u[k] >= e[mid]) lo = mid;
            else hi = mid;
          }
          i = lo;
        }
      } else {
        const f = Math.fround(
          Math.fround(u[k] - Math.fround(plan.low[k])) * Math.fround(nbk / (plan.high[k] - plan.low[k])),
        );
        i = f < 0 ? -1 : f >= nbk ? nbk : Math.min(Math.floor(f), nbk - 1);
      }
      if (i < 0) {
        out = -1;
        break;
      }
      if (i >= nbk) {
        out = 1;
        break;
      }
      index += i * stride;
      stride *= nbk;
    }
    if (out < 0) h.underflow++;
    else if (out > 0) h.overflow++;
    else h.counts[index]++;
  }
  return h;
}

export interface MeasureOptions {
  gpu: GpuContext | null;
  /** Particles [first, first + count) of the experiment only (a shard); default all of spec.particles. */
  range?: { first: number; count: number };
  onProgress?: (done: number, total: number) => void;
}

/** Samples an experiment plan (or a spec, compiled here) and bins every metric of `plan` as the chunks finish. */
export async function measure(
  source: ExperimentSpec | ExperimentPlan,
  plan: MeasurePlan,
  opts: MeasureOptions,
): Promise<Measurements> {
  const experiment = planOf(source);
  const spec = experiment.spec;
  if (spec.corrector) {
    // The check's envelopes (DKW, binomial, ...) are for independent draws.
    throw new Error(
      'corrector: the particles of one resampled population are not independent, so these envelopes do not apply; ' +
        '`check` compares independent populations instead (src/checks/population.ts)',
    );
  }
  const started = performance.now();
  const { first, count } = opts.range ?? { first: 0, count: spec.particles };
  if (opts.gpu) {
    const gpu = opts.gpu;
    const hists = await Promise.all(
      plan.histograms.map((h) =>
        GpuHistogram.create(gpu, {
          dim: spec.dim,
          bins: h.bins,
          low: h.low,
          high: h.high,
          axes: h.axes,
          edges: h.edges,
        }),
      ),
    );
    const density = await GpuDensityMetrics.create(gpu, plan.density);
    try {
      await sampleWebGpu(gpu, experiment, {
        firstParticle: first,
        count,
        onProgress: opts.onProgress,
        afterDispatch: async (info) => {
          if (info.stepsDone !== info.steps) return;
          // The chunk is final: bin it where it is, before the buffer is reused (queue order).
          for (const h of hists) h.accumulate(info.particles, info.count);
          await density.accumulate(info.particles, info.count);
        },
      });
      const histograms = await Promise.all(hists.map((h) => h.read()));
      const d = await density.read();
      return {
        particles: count,
        histograms,
        density: d,
        backend: 'webgpu',
        adapter: gpu.adapterInfo.label,
        sampleSeconds: (performance.now() - started) / 1000,
      };
    } finally {
      for (const h of hists) h.destroy();
      density.destroy();
    }
  }
  // Bounded memory: blocks in particle order, binned as they come (the counts and the density
  // sums are accumulated particle by particle, so the result does not depend on the blocks).
  const histograms: HistogramCounts[] = plan.histograms.map((h) => binOnCpu(h, spec.dim, [], 0));
  const density = new CpuDensityMetrics(plan.density);
  await sampleCpuStream(experiment, {
    first,
    count,
    onProgress: opts.onProgress,
    onChunk: async (chunk, n) => {
      plan.histograms.forEach((h, k) => {
        binOnCpu(h, spec.dim, chunk, n, histograms[k]);
      });
      await density.accumulate(chunk, n);
    },
  });
  return {
    particles: count,
    histograms,
    density: await density.read(),
    backend: 'cpu',
    adapter: null,
    sampleSeconds: (performance.now() - started) / 1000,
  };
}
