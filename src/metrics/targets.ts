// Exact target laws for the large-N checks: the conditional p(x|c), the unconditional p(x), and
// the tilted density p(x|c)^(1+w) p_neg(x)^(-w) / Z, all at the sampler's end time tMin (what
// the particles are: SPEC.md). Three ways in, each with its accuracy stated:
//
// - 1-D projections u.x of the conditional and unconditional laws are closed form in any d
//   (src/metrics/exact.ts: a Gaussian's projection is Gaussian; a box's along an axis is a
//   uniform plus a normal): CDF to f64 rounding (cdfError 1e-15).
// - The tilted density has no closed form: in 1-D (and along the axes of 2-D) it is
//   integrated on a grid; normaliser, CDF and moments by trapezoid/Simpson with cdfError the
//   difference against the half-resolution grid plus the linear-interpolation error
//   (h^2/8 max |f'|) plus the mass outside the grid.
// - 2-D cell masses (histograms, HDR levels, expectations of anything) by midpoint quadrature
//   on S x S sub-points per cell; massError = the largest cell difference against S/2.
//   In d > 2 those come from exact samples of the target instead (Monte Carlo with its own
//   DKW error, conditional and unconditional only).
import erfc from '@stdlib/math-base-special-erfc';
import type { ExperimentSpec, GuidanceSpec } from '../spec/types.ts';
import { planGuidance } from '../guidance/guidance.ts';
import { MixtureEvaluator, type Group, type MixtureModel } from '../model/mixture.ts';
import { processAt } from '../processes/process.ts';
import { fillNormals } from '../rng/philox.ts';
import { lawCdf, lawRange, normalCdf, normalPdf, projectedLaw, type Law1d } from './exact.ts';

export type TargetKind = 'conditional' | 'unconditional' | 'tilted';
export const TARGET_KINDS: readonly TargetKind[] = ['conditional', 'unconditional', 'tilted'];

/**
 * A target's (unnormalised) log-density at tMin: coefA log p_A(x) + coefB log p_B(x), with
 * p_A the target class (or p(x)) and p_B the guidance's negative; minus logZ normalises it.
 */
export interface TargetDef {
  kind: TargetKind;
  spec: ExperimentSpec;
  model: MixtureModel;
  dim: number;
  alpha: number;
  sigma2: number;
  groupA: Group;
  coefA: number;
  groupB: Group | null;
  coefB: number;
  /** The guidance weight of the tilt (0 for conditional / unconditional). */
  w: number;
  /** log of the normaliser of the tilted density (0 for the others: they are normalised). */
  logZ: number;
  /** Absolute accuracy of logZ's quadrature (relative accuracy of the normalised density). */
  logZError: number;
}

/**
 * The w of the tilted target for a guidance spec: cfg's w (constant; an interval schedule's
 * w; a piecewise schedule's value at its last point, the small-t end); classifier guidance at w
 * is cfg at w - 1 against p(x); none is w = 0.
 */
export function tiltWeight(g: GuidanceSpec): number {
  // cfgpp stores w = 0 (its strength is lambda); targetDef refuses its tilted target.
  if (g.kind === 'none') return 0;
  const s = g.w;
  const w = s.kind === 'constant' || s.kind === 'interval' ? s.w : s.points[0][1];
  return g.kind === 'classifier' ? w - 1 : w;
}

export function targetDef(spec: ExperimentSpec, kind: TargetKind): TargetDef {
  const plan = planGuidance(spec);
  const model = plan.model;
  const p = processAt(spec.process, spec.solver.tMin);
  const base = { kind, spec, model, dim: spec.dim, alpha: p.alpha, sigma2: p.sigma2, logZ: 0, logZError: 0 };
  if (kind === 'conditional') return { ...base, groupA: plan.target, coefA: 1, groupB: null, coefB: 0, w: 0 };
  if (kind === 'unconditional') return { ...base, groupA: model.unconditional, coefA: 1, groupB: null, coefB: 0, w: 0 };
  const g = spec.guidance;
  if (g.kind === 'cfg' && g.variant.kind === 'cfgpp') {
    // Its stored w is 0, which would silently make the tilted target the conditional one.
    throw new Error(
      'cfgpp (CFG++) has no tilted target: it is a discrete rule without an ODE limit (its effect grows with the step count); compare it with the conditional or unconditional target',
    );
  }
  const w = tiltWeight(g);
  const negative = plan.negative ?? model.unconditional;
  const def: TargetDef = { ...base, groupA: plan.target, coefA: 1 + w, groupB: w === 0 ? null : negative, coefB: -w, w };
  if (w !== 0) {
    if (spec.dim > 2) throw new Error(`the tilted target is integrated on a grid: dim <= 2 only (this spec has dim ${spec.dim})`);
    const { logZ, logZError } = tiltedNormaliser(def);
    def.logZ = logZ;
    def.logZError = logZError;
  }
  return def;
}

/** Evaluates a target's normalised log-density (and its class responsibilities) at points. */
export class TargetEvaluator {
  readonly def: TargetDef;
  private readonly ev: MixtureEvaluator;
  constructor(def: TargetDef) {
    this.def = def;
    this.ev = new MixtureEvaluator(def.model);
    this.ev.setTime(def.alpha, def.sigma2);
  }
  logDensity(x: ArrayLike<number>): number {
    this.ev.evaluateComponents(x);
    return this.current();
  }
  /** log-density at the point of the last call, plus responsibilities of groupA's entries into resp. */
  logDensityAndResponsibilities(x: ArrayLike<number>, resp: Float64Array): number {
    this.ev.evaluateComponents(x);
    const entries = this.def.groupA.entries;
    let max = -Infinity;
    for (let e = 0; e < entries.length; e++) {
      resp[e] = entries[e].logWeight + this.ev.componentLog[entries[e].component];
      max = Math.max(max, resp[e]);
    }
    let sum = 0;
    for (let e = 0; e < entries.length; e++) {
      resp[e] = Math.exp(resp[e] - max);
      sum += resp[e];
    }
    for (let e = 0; e < entries.length; e++) resp[e] /= sum;
    return this.current();
  }
  private current(): number {
    const d = this.def;
    let l = d.coefA * this.ev.groupLogDensity(d.groupA);
    if (d.groupB && d.coefB !== 0) l += d.coefB * this.ev.groupLogDensity(d.groupB);
    return l - d.logZ;
  }
}

// ---------------------------------------------------------------------------------------
// 1-D laws

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
      const p = [wide.low[0] + ((i + 0.5) * (wide.high[0] - wide.low[0])) / m, d === 2 ? wide.low[1] + ((j + 0.5) * (wide.high[1] - wide.low[1])) / m : 0];
      for (let a = 0; a < d; a++) {
        low[a] = Math.min(low[a], p[a]);
        high[a] = Math.max(high[a], p[a]);
      }
    }
  }
  return {
    low: low.map((l, a) => l - (0.1 + (k / 100)) * (base.high[a] - base.low[a])),
    high: high.map((h, a) => h + (0.1 + (k / 100)) * (base.high[a] - base.low[a])),
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

// ---------------------------------------------------------------------------------------
// Grids (1-D and 2-D): the target's mass on cells, densities at sub-points.

export interface Grid {
  dim: 1 | 2;
  low: number[];
  high: number[];
  /** Cells per axis. */
  cells: number[];
  /** Sub-points per cell per axis. */
  sub: number;
  /** Normalised mass per cell (first axis fastest). */
  mass: Float64Array;
  /** Largest |cell mass - the same at half the sub-points|, plus the mass outside the grid. */
  massError: number;
  /** Point of every sub-point (row-major), its log-density and quadrature weight (sum 1). */
  points: Float64Array;
  logDensity: Float64Array;
  weight: Float64Array;
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
 * Midpoint quadrature of the target on cells x sub-points (1-D or 2-D). The normaliser is the
 * grid's own total (so the masses sum to 1); massError compares against sub/2 sub-points.
 */
export function targetGrid(def: TargetDef, cells: number[], box = targetBox(def), sub = 8): Grid {
  const dim = def.dim as 1 | 2;
  if (dim !== 1 && dim !== 2) throw new Error(`targetGrid: dim 1 or 2 only, got ${def.dim}`);
  const ev = new TargetEvaluator(def);
  const n0 = cells[0] * sub;
  const n1 = dim === 2 ? cells[1] * sub : 1;
  const h0 = (box.high[0] - box.low[0]) / n0;
  const h1 = dim === 2 ? (box.high[1] - box.low[1]) / n1 : 1;
  const total = n0 * n1;
  const points = new Float64Array(total * dim);
  const logDensity = new Float64Array(total);
  const x = new Float64Array(dim);
  let max = -Infinity;
  for (let j = 0; j < n1; j++) {
    for (let i = 0; i < n0; i++) {
      const k = i + n0 * j;
      x[0] = box.low[0] + (i + 0.5) * h0;
      if (dim === 2) x[1] = box.low[1] + (j + 0.5) * h1;
      points.set(x, k * dim);
      logDensity[k] = ev.logDensity(x);
      max = Math.max(max, logDensity[k]);
    }
  }
  const weight = new Float64Array(total);
  let z = 0;
  for (let k = 0; k < total; k++) z += weight[k] = Math.exp(logDensity[k] - max);
  for (let k = 0; k < total; k++) weight[k] /= z;
  const nc = cells[0] * (dim === 2 ? cells[1] : 1);
  const mass = new Float64Array(nc);
  const half = new Float64Array(nc);
  let halfZ = 0;
  for (let j = 0; j < n1; j++) {
    for (let i = 0; i < n0; i++) {
      const k = i + n0 * j;
      const c = Math.floor(i / sub) + cells[0] * (dim === 2 ? Math.floor(j / sub) : 0);
      mass[c] += weight[k];
      // Every other sub-point (a coarser midpoint rule: sub/2 points per cell per axis).
      if (i % 2 === 0 && (dim === 1 || j % 2 === 0)) {
        half[c] += weight[k];
        halfZ += weight[k];
      }
    }
  }
  let massError = 0;
  for (let c = 0; c < nc; c++) massError = Math.max(massError, Math.abs(mass[c] - half[c] / halfZ));
  // Mass outside: the box is 10 sd beyond every piece along every axis (< 1e-22 per piece).
  massError += 1e-20;
  // Log-densities normalised by the grid's total (for the tilted target, logZ from here is consistent).
  const cellVolume = h0 * h1;
  const logNorm = max + Math.log(z * cellVolume);
  const ld = logDensity.map((l) => l - logNorm);
  return { dim, low: box.low, high: box.high, cells, sub, mass, massError, points, logDensity: ld, weight };
}

/**
 * log Z of the tilted density by 1-D/2-D quadrature (midpoint rule on 2^16 cells, or 512 x 512,
 * over targetBox), with the half-resolution difference as error. Throws when the density does
 * not decay at the box's edges. Also used by src/checks/exact-density.ts for KL(Q||tilted).
 */
export function tiltedNormaliser(def: TargetDef): { logZ: number; logZError: number } {
  const unnormalised = { ...def, logZ: 0 };
  const box = targetBox(unnormalised);
  const est = (cells: number[]): number => {
    const ev = new TargetEvaluator(unnormalised);
    const d = def.dim;
    const n0 = cells[0];
    const n1 = d === 2 ? cells[1] : 1;
    const h0 = (box.high[0] - box.low[0]) / n0;
    const h1 = d === 2 ? (box.high[1] - box.low[1]) / n1 : 1;
    const ls: number[] = [];
    const x = new Float64Array(d);
    for (let j = 0; j < n1; j++) {
      for (let i = 0; i < n0; i++) {
        x[0] = box.low[0] + (i + 0.5) * h0;
        if (d === 2) x[1] = box.low[1] + (j + 0.5) * h1;
        ls.push(ev.logDensity(x));
      }
    }
    let max = -Infinity;
    for (const l of ls) max = Math.max(max, l);
    let s = 0;
    for (const l of ls) s += Math.exp(l - max);
    // The density must be negligible at the edges, else the tilt is not normalisable here.
    return max + Math.log(s * h0 * h1);
  };
  const cells = def.dim === 1 ? [1 << 16] : [512, 512];
  const a = est(cells);
  const b = est(cells.map((c) => c / 2));
  if (!Number.isFinite(a)) throw new Error('the tilted density is not normalisable (log Z is not finite)');
  checkTiltDecays(unnormalised, box, a);
  return { logZ: a, logZError: Math.abs(a - b) };
}

function checkTiltDecays(def: TargetDef, box: { low: number[]; high: number[] }, logZ: number): void {
  const ev = new TargetEvaluator(def);
  const d = def.dim;
  // Along each edge of the box the normalised density must be tiny.
  const probes: number[][] = [];
  for (let i = 0; i < d; i++) {
    for (const end of [box.low[i], box.high[i]]) {
      for (let k = 0; k <= 20; k++) {
        const p = box.low.map((l, j) => l + ((box.high[j] - l) * k) / 20);
        p[i] = end;
        probes.push(p);
      }
    }
  }
  for (const p of probes) {
    const l = ev.logDensity(p) - logZ;
    if (l > Math.log(1e-12)) {
      throw new Error(
        `the tilted density p(x|c)^(1+w) p_neg(x)^(-w) with w = ${def.w} does not decay at [${p.map((v) => v.toFixed(2))}] ` +
          '(it is not normalisable, or has mass far outside the classes): no tilted target',
      );
    }
  }
}

// ---------------------------------------------------------------------------------------
// Regions: highest-density regions and the support (boxes).

export const HDR_LEVELS = [0.5, 0.9, 0.99] as const;

export interface HdrLevels {
  /** For each mass q: the normalised log-density level c_q with P(log p(X) > c_q) = q. */
  logLevels: number[];
  /** Absolute accuracy of the mass q above each level. */
  massError: number;
  method: 'grid quadrature' | 'Monte Carlo';
}

/**
 * E[f(X)] on a grid (midpoint rule over the sub-points), with an error estimate: the difference
 * against the same rule on every other sub-point per axis, plus the grid's mass error.
 */
export function gridExpectation(g: Grid, f: (x: Float64Array, k: number) => number): { value: number; error: number } {
  const n0 = g.cells[0] * g.sub;
  let fine = 0;
  let half = 0;
  let halfZ = 0;
  for (let k = 0; k < g.weight.length; k++) {
    const v = f(g.points.subarray(k * g.dim, (k + 1) * g.dim), k);
    fine += g.weight[k] * v;
    const i = k % n0;
    const j = Math.floor(k / n0);
    if (i % 2 === 0 && j % 2 === 0) {
      half += g.weight[k] * v;
      halfZ += g.weight[k];
    }
  }
  return { value: fine, error: Math.abs(fine - half / halfZ) + g.massError };
}

/** HDR levels from a grid (1-D, 2-D): error = the half-resolution grid's mass above each level + one sub-point. */
export function hdrLevelsFromGrid(g: Grid, masses: readonly number[] = HDR_LEVELS): HdrLevels {
  const order = Array.from(g.logDensity.keys()).sort((a, b) => g.logDensity[b] - g.logDensity[a]);
  const logLevels: number[] = [];
  let acc = 0;
  let k = 0;
  let boundaryWeight = 0;
  for (const q of masses) {
    while (k < order.length && acc + g.weight[order[k]] < q) acc += g.weight[order[k++]];
    const i = order[Math.min(k, order.length - 1)];
    logLevels.push(g.logDensity[i]);
    boundaryWeight = Math.max(boundaryWeight, g.weight[i]);
  }
  let massError = 0;
  masses.forEach((q, i) => {
    const e = gridExpectation(g, (_x, kk) => (g.logDensity[kk] > logLevels[i] ? 1 : 0));
    massError = Math.max(massError, Math.abs(e.value - q) + e.error);
  });
  return { logLevels, massError: massError + boundaryWeight, method: 'grid quadrature' };
}

/** Exact samples of the conditional or unconditional target at tMin (deterministic by seed). */
export function sampleTarget(def: TargetDef, count: number, seed: number): Float64Array {
  if (def.groupB !== null) throw new Error('sampleTarget: conditional or unconditional targets only');
  const d = def.dim;
  const out = new Float64Array(count * d);
  const entries = def.groupA.entries;
  const cum = new Float64Array(entries.length);
  let acc = 0;
  entries.forEach((e, i) => {
    acc += Math.exp(e.logWeight);
    cum[i] = acc;
  });
  const z = new Float64Array(Math.ceil((2 * d + 1) / 4) * 4);
  const sd = Math.sqrt(def.sigma2);
  for (let p = 0; p < count; p++) {
    fillNormals(seed, p, 0xabc, 2 * d + 1, z);
    const u = normalCdf(z[2 * d]) * acc;
    let k = 0;
    while (k < entries.length - 1 && cum[k] < u) k++;
    const c = def.model.components[entries[k].component];
    for (let i = 0; i < d; i++) {
      let x0: number;
      if (c.kind === 'uniform') x0 = c.low[i] + normalCdf(z[i]) * (c.high[i] - c.low[i]);
      else if (c.basis === null) x0 = c.mean[i] + Math.sqrt(c.lambda[i]) * z[i];
      else {
        x0 = c.mean[i];
        for (let j = 0; j < d; j++) x0 += c.basis[i * d + j] * Math.sqrt(c.lambda[j]) * z[j];
      }
      out[p * d + i] = def.alpha * x0 + sd * z[d + i];
    }
  }
  return out;
}

/** HDR levels by Monte Carlo (any d; conditional and unconditional), error at false-failure rate alphaMc. */
export function hdrLevelsMonteCarlo(def: TargetDef, samples = 400_000, seed = 1, alphaMc = 1e-9, masses: readonly number[] = HDR_LEVELS): HdrLevels {
  const xs = sampleTarget(def, samples, seed);
  const ev = new TargetEvaluator(def);
  const ls = new Float64Array(samples);
  for (let p = 0; p < samples; p++) ls[p] = ev.logDensity(xs.subarray(p * def.dim, (p + 1) * def.dim));
  ls.sort();
  const logLevels = masses.map((q) => ls[Math.min(samples - 1, Math.max(0, Math.floor((1 - q) * samples)))]);
  return { logLevels, massError: Math.sqrt(Math.log(2 / alphaMc) / (2 * samples)) + 1 / samples, method: 'Monte Carlo' };
}

export function hdrLevels(def: TargetDef, grid?: Grid): HdrLevels {
  if (grid) return hdrLevelsFromGrid(grid);
  return hdrLevelsMonteCarlo(def);
}

export type Box = { low: Float64Array; high: Float64Array };

/** The target class's support as boxes when every component is a box, else null. */
export function supportBoxes(def: TargetDef): Box[] | null {
  const boxes: Box[] = [];
  for (const e of def.groupA.entries) {
    const c = def.model.components[e.component];
    if (c.kind !== 'uniform') return null;
    boxes.push({ low: c.low, high: c.high });
  }
  return boxes;
}

function boxesDisjoint(boxes: Box[]): boolean {
  for (let a = 0; a < boxes.length; a++) {
    for (let b = a + 1; b < boxes.length; b++) {
      let overlap = true;
      for (let i = 0; i < boxes[a].low.length; i++) {
        if (boxes[a].high[i] <= boxes[b].low[i] || boxes[b].high[i] <= boxes[a].low[i]) overlap = false;
      }
      if (overlap) return false;
    }
  }
  return true;
}

/**
 * P(X in union of boxes) under the target at tMin, and its accuracy. Conditional and
 * unconditional with disjoint boxes: exact (products of 1-D CDF differences per component;
 * a full-covariance Gaussian is not separable: grid or Monte Carlo). Otherwise by the grid
 * (1-D/2-D, sub-point indicator) or Monte Carlo.
 */
export function expectedInside(def: TargetDef, boxes: Box[], grid?: Grid): { p: number; error: number } {
  const d = def.dim;
  const separable = def.groupA.entries.every((e) => {
    const c = def.model.components[e.component];
    return c.kind === 'uniform' || c.basis === null;
  });
  if (def.groupB === null && separable && boxesDisjoint(boxes)) {
    let p = 0;
    for (const e of def.groupA.entries) {
      const one: Group = { name: 'one', entries: [{ component: e.component, logWeight: 0 }] };
      for (const b of boxes) {
        let prod = 1;
        for (let i = 0; i < d; i++) {
          const u = Array.from({ length: d }, (_, j) => (j === i ? 1 : 0));
          const law = projectedLaw(def.model, one, def.alpha, def.sigma2, u);
          prod *= lawCdf(law, b.high[i]) - lawCdf(law, b.low[i]);
        }
        p += Math.exp(e.logWeight) * prod;
      }
    }
    return { p, error: 1e-13 };
  }
  const inside = (x: ArrayLike<number>) =>
    boxes.some((b) => {
      for (let i = 0; i < d; i++) if (!(x[i] > b.low[i] && x[i] < b.high[i])) return false;
      return true;
    });
  if (grid) {
    const e = gridExpectation(grid, (x) => (inside(x) ? 1 : 0));
    return { p: e.value, error: e.error };
  }
  const m = 400_000;
  const xs = sampleTarget(def, m, 3);
  let hit = 0;
  for (let k = 0; k < m; k++) if (inside(xs.subarray(k * d, (k + 1) * d))) hit++;
  return { p: hit / m, error: Math.sqrt(Math.log(2 / 1e-9) / (2 * m)) };
}

/**
 * Expected soft occupancy E[r_k(X)] of groupA's components under the target: the component
 * weights exactly for the conditional and unconditional targets (E_p[w_k p_k / p] = w_k);
 * by quadrature on the grid for the tilted one.
 */
export function expectedOccupancy(def: TargetDef, grid?: Grid): { p: Float64Array; error: number } {
  const entries = def.groupA.entries;
  if (def.groupB === null) return { p: Float64Array.from(entries, (e) => Math.exp(e.logWeight)), error: 1e-15 };
  if (!grid) throw new Error('expectedOccupancy of a tilted target needs a grid');
  const ev = new TargetEvaluator(def);
  const resp = new Float64Array(entries.length);
  const all = grid.weight.length;
  const table = new Float64Array(all * entries.length);
  for (let k = 0; k < all; k++) {
    ev.logDensityAndResponsibilities(grid.points.subarray(k * def.dim, (k + 1) * def.dim), resp);
    table.set(resp, k * entries.length);
  }
  const p = new Float64Array(entries.length);
  let error = 0;
  for (let e = 0; e < entries.length; e++) {
    const r = gridExpectation(grid, (_x, k) => table[k * entries.length + e]);
    p[e] = r.value;
    error = Math.max(error, r.error);
  }
  return { p, error };
}

/** Standard normal upper quantile z with P(Z > z) = p (bisection on erfc). */
export function normalUpperQuantile(p: number): number {
  let lo = -40;
  let hi = 40;
  while (hi - lo > 1e-12) {
    const mid = 0.5 * (lo + hi);
    if (0.5 * erfc(mid / Math.SQRT2) > p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}
