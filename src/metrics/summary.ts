// The run summary printed by the CLI: moments, quantiles, support fraction and the
// count of non-finite particles. Accumulated chunk by chunk in bounded memory so that a
// backend can stream any N through it, and mergeable, so that shards combine into the
// summary of one run (docs/sharding.md); non-finite particles are counted, never dropped
// silently (they are excluded from the moments and quantiles, and reported).
import type { MixtureModel, Group } from '../model/mixture.ts';
import { QuantileSketch } from './sketch.ts';
import { ExactSum } from './exact-sum.ts';

export const SUMMARY_QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;

export interface Summary {
  particles: number;
  dim: number;
  /** Particles with a NaN or infinite coordinate: excluded from the statistics below. */
  nonFinite: number;
  mean: number[];
  covariance: number[][];
  /** quantiles[i][q]: coordinate i at probability SUMMARY_QUANTILES[q] (type 7, from the sketch: src/metrics/sketch.ts). */
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

/** Sums over the particles whose log q and log p are both finite (run --log-density). */
export interface LogDensitySummary {
  /** Particles with finite log q and log p (the others are counted in `nonFinite`). */
  count: number;
  nonFinite: number;
  /** Means of log q, log p and log q - log p (an estimate of KL(q || p) at tMin), with standard errors. */
  meanLogq: number;
  meanLogp: number;
  klEstimate: number;
  klStandardError: number;
}

/** The accumulator's state as JSON numbers plus named f64/i32 arrays (src/cli/state.ts stores them). */
export interface SummaryStateData {
  dim: number;
  finite: number;
  nonFinite: number;
  inside: number;
  bounded: boolean;
  logDensity: { count: number; nonFinite: number } | null;
  arrays: Record<string, Float64Array | Int32Array>;
}

/**
 * The mergeable summary state: O(dim^2 + sketch) memory whatever N. Moments by chunk (two
 * passes) then Chan et al.'s parallel update in f64; quantiles by QuantileSketch (exact counts,
 * stated value error); counts as integers; log-density sums exactly (ExactSum).
 */
export class SummaryAccumulator {
  readonly dim: number;
  private finite = 0;
  private nonFinite = 0;
  private inside = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array; // dim x dim co-moment sums about the running mean (lower triangle)
  private readonly sketches: QuantileSketch[];
  private readonly support: Box[] | null;
  private readonly chunkMean: Float64Array;
  private readonly chunkM2: Float64Array;
  /** logq, logq^2, logp, logp^2, logq - logp, (logq - logp)^2: exact sums. */
  private ld: { count: number; nonFinite: number; sums: ExactSum[] } | null = null;

  constructor(dim: number, support: Box[] | null) {
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim * dim);
    this.chunkMean = new Float64Array(dim);
    this.chunkM2 = new Float64Array(dim * dim);
    this.sketches = Array.from({ length: dim }, () => new QuantileSketch());
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
    let inside = 0;
    for (let p = 0; p < count; p++) {
      if (!this.isFinite(chunk, p)) {
        this.nonFinite++;
        continue;
      }
      for (let i = 0; i < d; i++) {
        const di = chunk[p * d + i] - cm[i];
        for (let j = 0; j <= i; j++) c2[i * d + j] += di * (chunk[p * d + j] - cm[j]);
        this.sketches[i].add(chunk[p * d + i]);
      }
      if (this.support && this.inSupport(chunk, p)) inside++;
    }
    this.combine(n, cm, c2, inside);
  }

  /** Chan et al.: folds a block of n finite particles (mean cm, co-moments c2) into the state. */
  private combine(n: number, cm: Float64Array, c2: Float64Array, inside: number): void {
    if (n === 0) return;
    const d = this.dim;
    const nOld = this.finite;
    const total = nOld + n;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        const di = cm[i] - this.mean[i];
        const dj = cm[j] - this.mean[j];
        this.m2[i * d + j] += c2[i * d + j] + (di * dj * nOld * n) / total;
      }
    }
    for (let i = 0; i < d; i++) this.mean[i] += ((cm[i] - this.mean[i]) * n) / total;
    this.finite = total;
    this.inside += inside;
  }

  /** Adds the log-densities of `count` particles (run --log-density). */
  addLogDensity(logq: ArrayLike<number>, logp: ArrayLike<number>, count: number): void {
    this.ld ??= { count: 0, nonFinite: 0, sums: Array.from({ length: 6 }, () => new ExactSum()) };
    const s = this.ld.sums;
    for (let p = 0; p < count; p++) {
      const q = logq[p];
      const l = logp[p];
      if (!Number.isFinite(q) || !Number.isFinite(l)) {
        this.ld.nonFinite++;
        continue;
      }
      const r = q - l;
      s[0].add(q);
      s[1].add(q * q);
      s[2].add(l);
      s[3].add(l * l);
      s[4].add(r);
      s[5].add(r * r);
      this.ld.count++;
    }
  }

  /** Folds another accumulator (the particles after this one's, e.g. the next shard) into this one. */
  merge(other: SummaryAccumulator): void {
    if (other.dim !== this.dim) throw new Error(`summary merge: dim ${other.dim} into ${this.dim}`);
    this.nonFinite += other.nonFinite;
    this.combine(other.finite, other.mean, other.m2, other.inside);
    this.sketches.forEach((s, i) => {
      s.merge(other.sketches[i]);
    });
    if (other.ld) {
      this.ld ??= { count: 0, nonFinite: 0, sums: Array.from({ length: 6 }, () => new ExactSum()) };
      this.ld.count += other.ld.count;
      this.ld.nonFinite += other.ld.nonFinite;
      this.ld.sums.forEach((s, i) => {
        s.merge(other.ld!.sums[i]);
      });
    }
  }

  finish(): Summary {
    const d = this.dim;
    const n = this.finite;
    const covariance = Array.from({ length: d }, (_, i) =>
      Array.from({ length: d }, (_, j) => (n > 1 ? this.m2[Math.max(i, j) * d + Math.min(i, j)] / (n - 1) : NaN)),
    );
    return {
      particles: n + this.nonFinite,
      dim: d,
      nonFinite: this.nonFinite,
      mean: n > 0 ? Array.from(this.mean) : Array(d).fill(NaN),
      covariance,
      quantiles: { p: [...SUMMARY_QUANTILES], values: this.sketches.map((s) => s.quantiles(SUMMARY_QUANTILES)) },
      insideSupport: this.support && n > 0 ? this.inside / n : null,
    };
  }

  /** The log-density means and the KL estimate's standard error, or null without --log-density. */
  logDensitySummary(): LogDensitySummary | null {
    if (!this.ld) return null;
    const { count: n, nonFinite, sums } = this.ld;
    const [q, , l, , r, r2] = sums.map((s) => s.value());
    const kl = r / n;
    // Sample variance of log q - log p from its exact sums, then the standard error of the mean.
    const variance = n > 1 ? Math.max(0, (r2 - (r * r) / n) / (n - 1)) : NaN;
    return {
      count: n,
      nonFinite,
      meanLogq: q / n,
      meanLogp: l / n,
      klEstimate: kl,
      klStandardError: Math.sqrt(variance / n),
    };
  }

  toState(): SummaryStateData {
    const arrays: Record<string, Float64Array | Int32Array> = { mean: this.mean.slice(), m2: this.m2.slice() };
    this.sketches.forEach((s, i) => {
      const { keys, counts } = s.entries();
      arrays[`sketch${i}.keys`] = keys;
      arrays[`sketch${i}.counts`] = counts;
      arrays[`sketch${i}.range`] = Float64Array.of(s.min, s.max);
    });
    if (this.ld)
      this.ld.sums.forEach((s, i) => {
        arrays[`logDensity.sum${i}`] = s.toArray();
      });
    return {
      dim: this.dim,
      finite: this.finite,
      nonFinite: this.nonFinite,
      inside: this.inside,
      bounded: this.support !== null,
      logDensity: this.ld ? { count: this.ld.count, nonFinite: this.ld.nonFinite } : null,
      arrays,
    };
  }

  /** Rebuilds an accumulator from toState()'s data (the support only matters for adding more). */
  static fromState(data: SummaryStateData, support: Box[] | null): SummaryAccumulator {
    const a = new SummaryAccumulator(data.dim, support);
    const get = <T extends Float64Array | Int32Array>(name: string, kind: new (n: number) => T, length?: number): T => {
      const v = data.arrays[name];
      if (!(v instanceof kind) || (length !== undefined && v.length !== length)) {
        throw new Error(`summary state: array ${name} is missing or has the wrong type or length`);
      }
      return v as T;
    };
    a.finite = data.finite;
    a.nonFinite = data.nonFinite;
    a.inside = data.inside;
    a.mean.set(get('mean', Float64Array, data.dim));
    a.m2.set(get('m2', Float64Array, data.dim * data.dim));
    for (let i = 0; i < data.dim; i++) {
      const keys = get(`sketch${i}.keys`, Int32Array);
      const counts = get(`sketch${i}.counts`, Float64Array, keys.length);
      const range = get(`sketch${i}.range`, Float64Array, 2);
      a.sketches[i] = QuantileSketch.fromEntries(keys, counts, range[0], range[1]);
      if (a.sketches[i].count !== data.finite)
        throw new Error(`summary state: sketch ${i} holds ${a.sketches[i].count} values, expected ${data.finite}`);
    }
    if (data.logDensity) {
      a.ld = {
        ...data.logDensity,
        sums: Array.from({ length: 6 }, (_, i) => ExactSum.fromArray(get(`logDensity.sum${i}`, Float64Array))),
      };
    }
    return a;
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
