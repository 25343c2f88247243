// The run summary printed by the CLI: moments, quantiles, support fraction and the
// count of non-finite particles. Accumulated chunk by chunk so that a backend can
// stream particles through it; non-finite particles are counted, never dropped
// silently (they are excluded from the moments and quantiles, and reported).
import type { MixtureModel, Group } from '../model/mixture.ts';

export const SUMMARY_QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;

export interface Summary {
  particles: number;
  dim: number;
  /** Particles with a NaN or infinite coordinate: excluded from the statistics below. */
  nonFinite: number;
  mean: number[];
  covariance: number[][];
  /** quantiles[i][q]: coordinate i at probability SUMMARY_QUANTILES[q]. */
  quantiles: { p: number[]; values: number[][] };
  /** Share of finite particles inside the target class's support when it is bounded (boxes only), else null. */
  insideSupport: number | null;
}

type Box = { low: Float64Array; high: Float64Array };

/** The target's support as a union of boxes, or null when it is unbounded (any Gaussian). */
export function boundedSupport(model: MixtureModel, target: Group): Box[] | null {
  const boxes: Box[] = [];
  for (const e of target.entries) {
    const c = model.components[e.component];
    if (c.kind !== 'uniform') return null;
    boxes.push({ low: c.low, high: c.high });
  }
  return boxes;
}

export class SummaryAccumulator {
  readonly dim: number;
  private finite = 0;
  private nonFinite = 0;
  private inside = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array; // dim x dim co-moment sums about the running mean
  private readonly values: Float64Array[] | Float32Array[];
  private readonly support: Box[] | null;
  private readonly chunkMean: Float64Array;
  private readonly chunkM2: Float64Array;

  /** capacity: the most particles that will be added (quantiles keep every finite value). */
  constructor(dim: number, capacity: number, support: Box[] | null, precision: 'f64' | 'f32' = 'f64') {
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim * dim);
    this.chunkMean = new Float64Array(dim);
    this.chunkM2 = new Float64Array(dim * dim);
    const make = () => (precision === 'f64' ? new Float64Array(capacity) : new Float32Array(capacity));
    this.values = Array.from({ length: dim }, make) as Float64Array[] | Float32Array[];
    this.support = support;
  }

  /** Adds `count` particles stored row-major in `chunk`. */
  add(chunk: ArrayLike<number>, count: number): void {
    const d = this.dim;
    // Chunk moments first (two passes), then Chan et al.'s merge: stable for large N.
    const cm = this.chunkMean.fill(0);
    const c2 = this.chunkM2.fill(0);
    let n = 0;
    for (let p = 0; p < count; p++) {
      if (!this.isFinite(chunk, p)) continue;
      n++;
      for (let i = 0; i < d; i++) cm[i] += chunk[p * d + i];
    }
    if (n > 0) for (let i = 0; i < d; i++) cm[i] /= n;
    for (let p = 0; p < count; p++) {
      if (!this.isFinite(chunk, p)) {
        this.nonFinite++;
        continue;
      }
      for (let i = 0; i < d; i++) {
        const di = chunk[p * d + i] - cm[i];
        for (let j = 0; j <= i; j++) c2[i * d + j] += di * (chunk[p * d + j] - cm[j]);
        this.values[i][this.finite] = chunk[p * d + i];
      }
      if (this.support && this.inSupport(chunk, p)) this.inside++;
      this.finite++;
    }
    if (n === 0) return;
    const nOld = this.finite - n;
    const total = this.finite;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        const di = cm[i] - this.mean[i];
        const dj = cm[j] - this.mean[j];
        this.m2[i * d + j] += c2[i * d + j] + (di * dj * nOld * n) / total;
      }
    }
    for (let i = 0; i < d; i++) this.mean[i] += ((cm[i] - this.mean[i]) * n) / total;
  }

  finish(): Summary {
    const d = this.dim;
    const n = this.finite;
    const covariance = Array.from({ length: d }, (_, i) =>
      Array.from({ length: d }, (_, j) => (n > 1 ? this.m2[Math.max(i, j) * d + Math.min(i, j)] / (n - 1) : NaN)),
    );
    const values = this.values.map((v) => {
      const sorted = v.subarray(0, n).sort();
      return SUMMARY_QUANTILES.map((q) => quantileSorted(sorted, q));
    });
    return {
      particles: n + this.nonFinite,
      dim: d,
      nonFinite: this.nonFinite,
      mean: n > 0 ? Array.from(this.mean) : Array(d).fill(NaN),
      covariance,
      quantiles: { p: [...SUMMARY_QUANTILES], values },
      insideSupport: this.support && n > 0 ? this.inside / n : null,
    };
  }

  private isFinite(chunk: ArrayLike<number>, p: number): boolean {
    for (let i = 0; i < this.dim; i++) if (!Number.isFinite(chunk[p * this.dim + i])) return false;
    return true;
  }

  private inSupport(chunk: ArrayLike<number>, p: number): boolean {
    const d = this.dim;
    return this.support!.some((box) => {
      for (let i = 0; i < d; i++) {
        const v = chunk[p * d + i];
        if (!(v > box.low[i] && v < box.high[i])) return false;
      }
      return true;
    });
  }
}

/** Type 7 quantile (linear interpolation between order statistics), as numpy's default. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}
