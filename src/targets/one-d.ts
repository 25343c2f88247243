// 1-D laws of the target along a direction u: closed form for the conditional and unconditional
// targets in any d (projections), on a grid for the tilted density; and the box holding the target.
import erfc from '@stdlib/math-base-special-erfc';
import { lawCdf, lawRange, normalCdf, normalPdf, projectedLaw, type Law1d } from './law1d.ts';
import { TargetEvaluator, type TargetDef } from './definition.ts';

export interface Moments {
  mean: number;
  /** Central moments 2..6. */
  mu2: number;
  mu3: number;
  mu4: number;
  mu5: number;
  mu6: number;
}

/** A 1-D law of a projection u.x of the target. */
export interface Target1d {
  cdf(x: number): number;
  pdf(x: number): number;
  quantile(p: number): number;
  /** Mass outside this range below 1e-15. */
  range: [number, number];
  /** Upper bound on the density. */
  maxDensity: number;
  moments: Moments;
  /** Absolute accuracy of cdf (closed form: f64 rounding). */
  cdfError: number;
  /** How it was obtained, for reports. */
  method: 'closed form' | 'grid quadrature';
}

function bisectQuantile(cdf: (x: number) => number, p: number, lo: number, hi: number): number {
  for (let i = 0; i < 200 && hi - lo > 1e-13 * Math.max(1, Math.abs(lo), Math.abs(hi)); i++) {
    const mid = 0.5 * (lo + hi);
    if (cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** Moments of a density on [lo, hi] by Simpson's rule on 2^14 intervals. */
function momentsByQuadrature(pdf: (x: number) => number, lo: number, hi: number): Moments {
  const n = 1 << 14;
  const h = (hi - lo) / n;
  const xs = new Float64Array(n + 1);
  const ws = new Float64Array(n + 1);
  for (let i = 0; i <= n; i++) {
    xs[i] = lo + i * h;
    ws[i] = ((i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * h * pdf(xs[i])) / 3;
  }
  let m0 = 0;
  let m1 = 0;
  for (let i = 0; i <= n; i++) {
    m0 += ws[i];
    m1 += ws[i] * xs[i];
  }
  const mean = m1 / m0;
  const c = [0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i <= n; i++) {
    const d = xs[i] - mean;
    let t = ws[i];
    for (let k = 0; k <= 6; k++) {
      c[k] += t;
      t *= d;
    }
  }
  return { mean, mu2: c[2] / m0, mu3: c[3] / m0, mu4: c[4] / m0, mu5: c[5] / m0, mu6: c[6] / m0 };
}

function lawPdf(law: Law1d, x: number): number {
  let f = 0;
  for (const p of law) {
    if (p.kind === 'normal') {
      const s = Math.sqrt(p.variance);
      f += (p.weight * normalPdf((x - p.mean) / s)) / s;
    } else if (p.high === p.low) {
      const s = Math.sqrt(p.sigma2);
      f += (p.weight * normalPdf((x - p.low) / s)) / s;
    } else if (p.sigma2 === 0) {
      f += x > p.low && x < p.high ? p.weight / (p.high - p.low) : 0;
    } else {
      const s = Math.sqrt(p.sigma2);
      const a = (x - p.low) / s;
      const b = (x - p.high) / s;
      // Phi(a) - Phi(b), without cancellation in either tail.
      const diff = b > 0 ? 0.5 * (erfc(b * Math.SQRT1_2) - erfc(a * Math.SQRT1_2)) : normalCdf(a) - normalCdf(b);
      f += (p.weight * diff) / (p.high - p.low);
    }
  }
  return f;
}

/** A closed-form 1-D law (a projection of the conditional or unconditional target). */
export function closedFormTarget1d(law: Law1d): Target1d {
  const [lo, hi] = lawRange(law, 9);
  let maxDensity = 0;
  for (const p of law) {
    if (p.kind === 'normal') maxDensity += p.weight / Math.sqrt(2 * Math.PI * p.variance);
    else {
      const u = p.high > p.low ? 1 / (p.high - p.low) : Infinity;
      const n = p.sigma2 > 0 ? 1 / Math.sqrt(2 * Math.PI * p.sigma2) : Infinity;
      maxDensity += p.weight * Math.min(u, n);
    }
  }
  const cdf = (x: number) => lawCdf(law, x);
  return {
    cdf,
    pdf: (x) => lawPdf(law, x),
    quantile: (p) => bisectQuantile(cdf, p, lo, hi),
    range: [lo, hi],
    maxDensity,
    moments: momentsByQuadrature((x) => lawPdf(law, x), lo, hi),
    cdfError: 1e-15,
    method: 'closed form',
  };
}

/** A 1-D law from a log-density on a grid of n + 1 points over [lo, hi] (n even). */
export function gridTarget1d(logDensity: (x: number) => number, lo: number, hi: number, n = 1 << 15): Target1d {
  const h = (hi - lo) / n;
  const xs = Float64Array.from({ length: n + 1 }, (_, i) => lo + i * h);
  const logs = xs.map(logDensity);
  let max = -Infinity;
  for (const l of logs) max = Math.max(max, l);
  const f = logs.map((l) => Math.exp(l - max));
  const cumulative = (stride: number): Float64Array => {
    const m = n / stride;
    const c = new Float64Array(m + 1);
    for (let i = 1; i <= m; i++) c[i] = c[i - 1] + 0.5 * stride * h * (f[(i - 1) * stride] + f[i * stride]);
    return c;
  };
  const fine = cumulative(1);
  const coarse = cumulative(2);
  const z = fine[n];
  let quadErr = 0;
  for (let i = 0; i <= n / 2; i++) quadErr = Math.max(quadErr, Math.abs(fine[2 * i] / z - coarse[i] / coarse[n / 2]));
  const pdfs = f.map((v) => v / z);
  const cdfs = fine.map((v) => v / z);
  let maxDensity = 0;
  let maxSlope = 0;
  for (let i = 0; i <= n; i++) {
    maxDensity = Math.max(maxDensity, pdfs[i]);
    if (i > 0) maxSlope = Math.max(maxSlope, Math.abs(pdfs[i] - pdfs[i - 1]) / h);
  }
  // The grid ends must be in the tails: their density times the range bounds the missing mass.
  const tail = (pdfs[0] + pdfs[n]) * (hi - lo);
  const cdf = (x: number): number => {
    if (x <= lo) return 0;
    if (x >= hi) return 1;
    const t = (x - lo) / h;
    const i = Math.min(n - 1, Math.floor(t));
    const r = t - i;
    // Exact integral of the linear interpolant of the density over [x_i, x].
    return cdfs[i] + h * (r * pdfs[i] + 0.5 * r * r * (pdfs[i + 1] - pdfs[i]));
  };
  const pdf = (x: number): number => {
    if (x <= lo || x >= hi) return 0;
    const t = (x - lo) / h;
    const i = Math.min(n - 1, Math.floor(t));
    const r = t - i;
    return pdfs[i] * (1 - r) + pdfs[i + 1] * r;
  };
  return {
    cdf,
    pdf,
    quantile: (p) => bisectQuantile(cdf, p, lo, hi),
    range: [lo, hi],
    maxDensity: maxDensity * (1 + 1e-6) + maxSlope * h,
    moments: momentsByQuadrature(pdf, lo, hi),
    cdfError: quadErr + (h * h * maxSlope) / 8 + tail + 1e-14,
    method: 'grid quadrature',
  };
}

/** A range holding the groups' laws along u (10 sd beyond every piece). */
function classRangeAlong(def: TargetDef, u: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const g of [def.groupA, def.groupB]) {
    if (!g) continue;
    const [a, b] = lawRange(projectedLaw(def.model, g, def.alpha, def.sigma2, u), 10);
    lo = Math.min(lo, a);
    hi = Math.max(hi, b);
  }
  return [lo, hi];
}

/** The box holding the target: per axis, the union of both groups' ranges. */
function classBox(def: TargetDef, k: number): { low: number[]; high: number[] } {
  const low: number[] = [];
  const high: number[] = [];
  for (let i = 0; i < def.dim; i++) {
    const e = Array.from({ length: def.dim }, (_, j) => (j === i ? 1 : 0));
    let lo = Infinity;
    let hi = -Infinity;
    for (const g of [def.groupA, def.groupB]) {
      if (!g) continue;
      const [a, b] = lawRange(projectedLaw(def.model, g, def.alpha, def.sigma2, e), k);
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
    low.push(lo);
    high.push(hi);
  }
  return { low, high };
}

/**
 * The box holding the target: per axis, the union of both groups' ranges (k sd beyond every
 * piece). A tilt can move mass far from both classes (e.g. (1 + w) m_+ - w m_- against a class):
 * then the box is found by scanning the tilted log-density over a box (1 + |w|) times wider and
 * keeping where it is within 60 nats of its maximum, plus a margin of k/10 of the class range.
 */
export function targetBox(def: TargetDef, k = 10): { low: number[]; high: number[] } {
  const base = classBox(def, k);
  if (def.groupB === null) return base;
  const d = def.dim;
  const grow = 1 + Math.abs(def.w);
  const wide = {
    low: base.low.map((l, i) => 0.5 * (l + base.high[i]) - 0.5 * grow * (base.high[i] - l)),
    high: base.high.map((h, i) => 0.5 * (base.low[i] + h) + 0.5 * grow * (h - base.low[i])),
  };
  const ev = new TargetEvaluator({ ...def, logZ: 0 });
  const m = d === 1 ? 20000 : 300;
  const n1 = d === 1 ? 1 : m;
  const ls = new Float64Array(m * n1);
  const x = new Float64Array(d);
  let max = -Infinity;
  for (let j = 0; j < n1; j++) {
    for (let i = 0; i < m; i++) {
      x[0] = wide.low[0] + ((i + 0.5) * (wide.high[0] - wide.low[0])) / m;
      if (d === 2) x[1] = wide.low[1] + ((j + 0.5) * (wide.high[1] - wide.low[1])) / m;
      ls[i + m * j] = ev.logDensity(x);
      max = Math.max(max, ls[i + m * j]);
    }
  }
  const low = wide.high.slice();
  const high = wide.low.slice();
  for (let j = 0; j < n1; j++) {
    for (let i = 0; i < m; i++) {
      if (ls[i + m * j] < max - 60) continue;
      const p = [
        wide.low[0] + ((i + 0.5) * (wide.high[0] - wide.low[0])) / m,
        d === 2 ? wide.low[1] + ((j + 0.5) * (wide.high[1] - wide.low[1])) / m : 0,
      ];
      for (let a = 0; a < d; a++) {
        low[a] = Math.min(low[a], p[a]);
        high[a] = Math.max(high[a], p[a]);
      }
    }
  }
  return {
    low: low.map((l, a) => l - (0.1 + k / 100) * (base.high[a] - base.low[a])),
    high: high.map((h, a) => h + (0.1 + k / 100) * (base.high[a] - base.low[a])),
  };
}

/** The target's range along u: the class range, or for a tilt along an axis its box. */
function rangeAlong(def: TargetDef, u: number[]): [number, number] {
  if (def.groupB === null) return classRangeAlong(def, u);
  const axis = u.findIndex((v) => v !== 0);
  const box = targetBox(def);
  const s = u[axis];
  const ends = [s * box.low[axis], s * box.high[axis]];
  return [Math.min(...ends), Math.max(...ends)];
}

/**
 * The law of u.x under the target. Conditional and unconditional: closed form for any u (a
 * box only along an axis). Tilted: 1-D grid quadrature in 1-D; in 2-D along a coordinate
 * axis from the 2-D grid's marginal.
 */
export function target1d(def: TargetDef, u: number[]): Target1d {
  if (def.kind !== 'tilted' || def.groupB === null) {
    return closedFormTarget1d(projectedLaw(def.model, def.groupA, def.alpha, def.sigma2, u));
  }
  const ev = new TargetEvaluator(def);
  if (def.dim === 1) {
    const [lo, hi] = rangeAlong(def, u);
    const s = u[0];
    return gridTarget1d((x) => ev.logDensity([x / s]) - Math.log(Math.abs(s)), lo, hi);
  }
  const axis = u.findIndex((v) => v !== 0);
  if (u.filter((v) => v !== 0).length !== 1 || u[axis] !== 1) {
    throw new Error('the tilted target in 2-D is available along the coordinate axes only');
  }
  // Marginal density along the axis: integrate the other coordinate by the trapezoid rule.
  const other = 1 - axis;
  const e = [0, 0];
  e[other] = 1;
  const [lo2, hi2] = rangeAlong(def, e);
  const m = 512;
  const h2 = (hi2 - lo2) / m;
  const p = [0, 0];
  const logMarginal = (x: number): number => {
    p[axis] = x;
    let max = -Infinity;
    const ls = new Float64Array(m + 1);
    for (let j = 0; j <= m; j++) {
      p[other] = lo2 + j * h2;
      ls[j] = ev.logDensity(p);
      max = Math.max(max, ls[j]);
    }
    let s = 0;
    for (let j = 0; j <= m; j++) s += (j === 0 || j === m ? 0.5 : 1) * Math.exp(ls[j] - max);
    return max + Math.log(s * h2);
  };
  const [lo, hi] = rangeAlong(def, u);
  const t = gridTarget1d(logMarginal, lo, hi, 1 << 11);
  return { ...t, cdfError: t.cdfError + 4 * Math.abs(def.logZError) };
}
