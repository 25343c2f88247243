// The "k of n features" mixture: data in {0,1}^n, uniform over the 2^n binary vertices, each
// vertex a narrow Gaussian N(v, variance I) (default variance 1e-3, sd 0.032); class "pos" is
// the vertices with at least k ones, "neg" the rest, with class weights proportional to their
// vertex counts (so p(x) is uniform over vertices). A monotone linear classifier (logistic on
// the sum of the coordinates) ranks every vertex by its number of ones, so its guidance pushes
// toward the prototype 1...1; the exact classifier is flat over the "pos" vertices.
//
// Particles are read back as vertices by thresholding each coordinate at 1/2 (rounding to the
// nearest of {0, 1}); the statistic is the number of ones.
import type { MixtureModel } from '../../model/mixture.ts';

export interface KOfNOptions {
  n: number;
  k: number;
  variance?: number;
  process?: unknown;
  solver?: unknown;
  particles?: number;
  seed?: number;
}

/** The raw spec (SPEC.md format, to be validated by parseSpec). */
export function kOfNSpec(o: KOfNOptions): Record<string, unknown> {
  const variance = o.variance ?? 1e-3;
  const pos: unknown[] = [];
  const neg: unknown[] = [];
  for (let v = 0; v < 1 << o.n; v++) {
    const mean = Array.from({ length: o.n }, (_, i) => (v >> (o.n - 1 - i)) & 1);
    const ones = mean.reduce((a, b) => a + b, 0);
    (ones >= o.k ? pos : neg).push({ kind: 'gaussian', weight: 1, mean, cov: variance });
  }
  return {
    dim: o.n,
    classes: [
      { name: 'pos', weight: pos.length, components: pos },
      { name: 'neg', weight: neg.length, components: neg },
    ],
    target: 'pos',
    process: o.process ?? { kind: 'ou', T: 6 },
    guidance: { kind: 'classifier', w: 1 },
    solver: o.solver ?? { kind: 'euler', steps: 200, tMin: 2e-3, grid: { kind: 'edm', rho: 7 } },
    particles: o.particles ?? 2000,
    seed: o.seed ?? 1,
  };
}

/** True when every component is a Gaussian whose mean is a binary vertex (a k-of-n-like mixture). */
export function isBinaryVertexModel(model: MixtureModel): boolean {
  return model.components.every((c) => c.kind === 'gaussian' && Array.from(c.mean).every((m) => m === 0 || m === 1));
}

/** Histogram (length dim + 1) of the number of coordinates > 1/2 over finite particles; non-finite ones counted apart. */
export function onesHistogram(x: Float64Array, count: number, dim: number): { counts: number[]; nonFinite: number } {
  const counts = new Array(dim + 1).fill(0);
  let nonFinite = 0;
  for (let p = 0; p < count; p++) {
    let ones = 0;
    let finite = true;
    for (let i = 0; i < dim; i++) {
      const v = x[p * dim + i];
      if (!Number.isFinite(v)) finite = false;
      else if (v > 0.5) ones++;
    }
    if (finite) counts[ones]++;
    else nonFinite++;
  }
  return { counts, nonFinite };
}

/** The exact law of the number of ones under a class of a binary-vertex model (at t = 0). */
export function exactOnesDistribution(model: MixtureModel, classIndex: number): number[] {
  const dist = new Array(model.dim + 1).fill(0);
  for (const e of model.classes[classIndex].group.entries) {
    const c = model.components[e.component];
    if (c.kind !== 'gaussian') throw new Error('exactOnesDistribution: not a binary-vertex model');
    let ones = 0;
    for (let i = 0; i < model.dim; i++) ones += c.mean[i] > 0.5 ? 1 : 0;
    dist[ones] += Math.exp(e.logWeight);
  }
  return dist;
}

export function histogramMean(counts: number[]): number {
  let n = 0;
  let s = 0;
  counts.forEach((c, i) => {
    n += c;
    s += i * c;
  });
  return n > 0 ? s / n : NaN;
}
