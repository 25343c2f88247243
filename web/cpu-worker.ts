// The page's fallback without WebGPU: the f64 CPU reference (src/cpu/reference.ts, or
// src/cpu/fk.ts for a corrected spec) in a Web Worker, so the page stays responsive. The
// particles are binned here on the plot's bins (as the GPU histogram bins them) and only the
// counts and moments are posted, after every batch of particles (progressive like the GPU run).
// Stop terminates the worker.
import { CpuStepper, CPU_CHUNK } from '../src/cpu/reference.ts';
import { sampleCpuFk } from '../src/cpu/fk.ts';
import { parseSpec } from '../src/experiment/parse.ts';
import type { HistogramCounts } from '../src/gpu/histogram.ts';
import type { PlotGeometry } from './densities.ts';

export interface CpuRequest {
  /** The raw spec (validated again here by the same parser), and the particles to sample. */
  raw: unknown;
  particles: number;
  geometry: PlotGeometry;
}

export interface CpuMessage {
  counts: HistogramCounts;
  /** Over the finite particles along the plotted axes: count, mean, population variance. */
  moments: { n: number; nonFinite: number; mean: number[]; variance: number[] };
  done: boolean;
  elapsedSeconds: number;
  error?: string;
}

/** Bins rows [from, to) of `x` (row-major, dim per row) into `h` and the running sums. */
function bin(
  x: Float64Array,
  dim: number,
  from: number,
  to: number,
  g: PlotGeometry,
  h: HistogramCounts,
  sums: Float64Array,
): void {
  const k = g.axes.length;
  for (let p = from; p < to; p++) {
    let finite = true;
    for (let i = 0; i < dim; i++) if (!Number.isFinite(x[p * dim + i])) finite = false;
    h.total++;
    if (!finite) {
      h.nonFinite++;
      continue;
    }
    let index = 0;
    let stride = 1;
    let inside = true;
    let below = false;
    for (let a = 0; a < k; a++) {
      const v = x[p * dim + g.axes[a]];
      sums[a] += v;
      sums[k + a] += v * v;
      const f = Math.floor(((v - g.low[a]) / (g.high[a] - g.low[a])) * g.bins[a]);
      // Out of range: underflow when below the low end of the first such axis, else overflow.
      if ((f < 0 || f >= g.bins[a]) && inside) {
        inside = false;
        below = f < 0;
      }
      index += Math.min(g.bins[a] - 1, Math.max(0, f)) * stride;
      stride *= g.bins[a];
    }
    sums[2 * k]++;
    if (inside) h.counts[index]++;
    else if (below) h.underflow++;
    else h.overflow++;
  }
}

self.onmessage = (e: MessageEvent<CpuRequest>) => {
  const t0 = performance.now();
  const { raw, particles, geometry: g } = e.data;
  const post = (m: CpuMessage) => (self as unknown as Worker).postMessage(m);
  const h: HistogramCounts = {
    counts: new Uint32Array(g.bins.reduce((a, b) => a * b, 1)),
    underflow: 0,
    overflow: 0,
    nonFinite: 0,
    total: 0,
  };
  const k = g.axes.length;
  const sums = new Float64Array(2 * k + 1);
  const moments = () => {
    const n = sums[2 * k];
    const mean = g.axes.map((_, a) => sums[a] / n);
    return { n, nonFinite: h.nonFinite, mean, variance: mean.map((m, a) => Math.max(0, sums[k + a] / n - m * m)) };
  };
  try {
    const spec = { ...parseSpec(raw), particles };
    const dim = spec.dim;
    if (spec.corrector) {
      const r = sampleCpuFk(spec);
      bin(r.particles, dim, 0, particles, g, h, sums);
      post({ counts: h, moments: moments(), done: true, elapsedSeconds: (performance.now() - t0) / 1000 });
      return;
    }
    const stepper = new CpuStepper(spec);
    const out = new Float64Array(CPU_CHUNK * dim);
    let lastPost = 0;
    for (let first = 0; first < particles; first += CPU_CHUNK) {
      const n = Math.min(CPU_CHUNK, particles - first);
      stepper.sampleRange(first, n, out.subarray(0, n * dim));
      bin(out, dim, 0, n, g, h, sums);
      const now = performance.now();
      const done = first + n >= particles;
      // A picture after the first batch, then about 4 a second.
      if (done || first === 0 || now - lastPost > 250) {
        lastPost = now;
        post({
          counts: { ...h, counts: h.counts.slice() },
          moments: moments(),
          done,
          elapsedSeconds: (now - t0) / 1000,
        });
      }
    }
  } catch (err) {
    post({ counts: h, moments: moments(), done: true, elapsedSeconds: 0, error: (err as Error).message });
  }
};
