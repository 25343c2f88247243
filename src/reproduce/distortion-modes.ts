// Claim 4 (Ventura et al. 2026, arXiv 2602.00716): CFG's distortion (the KL of its law from the
// conditional) persists as d grows when the number of classes grows exponentially in d, and
// vanishes when it grows sub-exponentially.
//
// Setting (exactly solvable): k bits in dimension d. The classes are the 2^k sign patterns b of
// k bits, equal weights, each one Gaussian N(m_b, s^2 I_d) with m_b = R (b_1, ..., b_k, 0, ..., 0)
// and R = r sqrt(d / k), so that |m_b|^2 = r^2 d (O(1) per coordinate, as the paper's means);
// the target is the all-plus class. Growth laws:
//   exponential: k = d (the hypercube r {-1, 1}^d, P = 2^d classes, R = r);
//   linear:      k = log2 d (P = d classes, R = r sqrt(d / log2 d) -> infinity).
// Both laws have ln P / d = k ln 2 / d: constant (exponential) against -> 0 (linear).
// The unconditional law (all 2^k patterns, equal weights) is a product over coordinates:
//   p(x) = prod_{j <= k} (N(x_j; R, s^2) + N(x_j; -R, s^2)) / 2 * prod_{j > k} N(x_j; 0, s^2),
// and so is p(x | c) = prod_{j <= k} N(x_j; R, s^2) prod_{j > k} N(x_j; 0, s^2); noising keeps
// both products, so the guided score (1 + w) s_c - w s separates by coordinate, the probability
// flow (and every RK step of it) moves each coordinate on its own, and the d - k free coordinates
// follow the conditional exactly. The guided law is the product of k copies of one 1-D law q_R
// (target N(R, s^2) against the mixture of N(+-R, s^2)) and d - k exact coordinates:
//   KL(CFG || p(.|c)) = k kappa(R),  kappa(R) = KL(q_R || p_R(.|c)),
// and the distortion per coordinate is delta(d) = (k / d) kappa(r sqrt(d / k)). For the
// exponential law delta = kappa(r) for every d; for the linear law delta -> 0 as long as kappa
// stays bounded as R grows (measured below: kappa(R) tends to a constant, the guidance acting
// during an O(1) window around the speciation time whatever the separation).
// kappa is computed exactly in 1-D: the sampler's own discrete RK4 map z -> x on a fine grid of
// starts z ~ N(0, 1) (its step table, f64), with its derivative carried alongside, gives the law
// q = phi(z) / x'(z) at x(z), so KL = E_z[ln phi(z) - ln x'(z) - ln p(x(z) | c)] by quadrature;
// the same on 16x the steps is the ODE's value (the discretisation bias is their difference).
// The particles measure the same statistic: the plug-in KL of the pooled k bit-coordinates'
// histogram against the conditional's bin masses (Miller-Madow corrected), compared with the
// same binned KL of the exact discrete law.
import type { ExperimentSpec } from '../experiment/types.ts';
import { prepareExperiment } from '../experiment/plan.ts';
import { TABLEAUS } from '../solvers/tableau.ts';
import { normalCdf } from '../targets/law1d.ts';
import {
  atMostZero,
  greaterThanZero,
  lineChart,
  overallVerdict,
  sampleParticles,
  spec,
  withinTolerance,
  type ClaimResult,
  type ClaimTest,
  type ReproContext,
} from './runner.ts';

/** Per-coordinate offset of the exponential law (the hypercube's half side). */
export const R_BASE = 1;
/** Standard deviation of every class. */
export const S = 0.5;
export const W = 3;
export const T_END = 10;
export const T_MIN = 1e-3;
export const DIMS = [2, 4, 8, 16, 32, 64];
export const QUICK_DIMS = [2, 8, 32];
/** Most classes listed in a d-dimensional spec; above it the exponential law runs on its exact product route. */
export const MAX_LISTED = 256;

export type Growth = 'exponential' | 'linear';

/** Bits k(d) of a growth law: P = 2^k classes. */
export function bits(growth: Growth, d: number): number {
  if (growth === 'exponential') return d;
  const k = Math.log2(d);
  if (!Number.isInteger(k)) throw new Error(`linear growth: d must be a power of 2, got ${d}`);
  return k;
}

export function offset(growth: Growth, d: number): number {
  return R_BASE * Math.sqrt(d / bits(growth, d));
}

/** The k-bit mixture in dimension dim (classes are sign patterns; target: all plus). */
export function modesSpec(
  k: number,
  R: number,
  dim: number,
  w: number,
  particles: number,
  steps: number,
  seed: number,
): ExperimentSpec {
  const classes = [];
  for (let b = 0; b < 1 << k; b++) {
    const mean = new Array(dim).fill(0);
    for (let j = 0; j < k; j++) mean[j] = (b >> j) & 1 ? -R : R;
    classes.push({ name: `c${b}`, weight: 1, components: [{ kind: 'gaussian', mean, cov: S * S }] });
  }
  return spec({
    dim,
    classes,
    target: 'c0',
    process: { kind: 'ou', T: T_END },
    guidance: { kind: 'cfg', w },
    solver: { kind: 'rk4', steps, tMin: T_MIN, grid: { kind: 'edm', rho: 7 } },
    particles,
    seed,
  });
}

/** Guided score in 1-D and its x-derivative: target N(R, s^2) against the mixture of N(+-R, s^2). */
function score1d(x: number, alpha: number, sigma2: number, gT: number, gN: number, R: number): [number, number] {
  const D = alpha * alpha * S * S + sigma2;
  const a = alpha * R;
  const sc = -(x - a) / D;
  const th = Math.tanh((a * x) / D);
  const su = -(x - a * th) / D;
  const dsc = -1 / D;
  const dsu = -1 / D + (a * a * (1 - th * th)) / (D * D);
  return [gT * sc + gN * su, gT * dsc + gN * dsu];
}

/**
 * The sampler's discrete map z -> x (its step table applied in f64) and its derivative, for each
 * start z; from the prior N(0, 1) at T (OU).
 */
export function discreteMap(sp: ExperimentSpec, R: number, z: Float64Array): { x: Float64Array; dx: Float64Array } {
  const table = prepareExperiment(sp).table;
  const tab = TABLEAUS[sp.solver.kind];
  if (tab.stochastic || tab.denoised) throw new Error('discreteMap: tableau ODE solvers only');
  const St = tab.c.length;
  const x = Float64Array.from(z);
  const dx = new Float64Array(z.length).fill(1);
  const kv = new Float64Array(St);
  const kd = new Float64Array(St);
  for (let p = 0; p < z.length; p++) {
    let xv = x[p];
    let dv = 1;
    for (let n = 0; n < table.steps; n++) {
      let h = 0;
      for (let i = 0; i < St; i++) {
        const r = table.rows[n * St + i];
        h = r.h;
        let xs = xv;
        let ds = dv;
        for (let j = 0; j < i; j++) {
          xs += h * tab.a[i][j] * kv[j];
          ds += h * tab.a[i][j] * kd[j];
        }
        const [s, sd] = score1d(xs, r.alpha, r.sigma2, r.gammaTarget, r.gammaNegative, R);
        kv[i] = r.cx * xs + r.cs * s;
        kd[i] = (r.cx + r.cs * sd) * ds;
      }
      for (let i = 0; i < St; i++) {
        xv += h * tab.b[i] * kv[i];
        dv += h * tab.b[i] * kd[i];
      }
    }
    x[p] = xv;
    dx[p] = dv;
  }
  return { x, dx };
}

/** p_tMin(x | c) per bit-coordinate: N(alpha R, alpha^2 s^2 + sigma^2). */
export function conditionalAtTMin(sp: ExperimentSpec, R: number): { mean: number; variance: number } {
  const table = prepareExperiment(sp).table;
  const t = table.terminal;
  return { mean: t.alpha * R, variance: t.alpha * t.alpha * S * S + t.sigma2 };
}

export interface Bins {
  lo: number;
  width: number;
  count: number;
}

/** Bins of width sd / 8 over the conditional's mean +- 8 sd, plus two open tails. */
export function binsFor(cond: { mean: number; variance: number }): Bins {
  const sd = Math.sqrt(cond.variance);
  return { lo: cond.mean - 8 * sd, width: sd / 8, count: 128 };
}

function binOf(b: Bins, x: number): number {
  const i = Math.floor((x - b.lo) / b.width);
  return i < 0 ? 0 : i >= b.count ? b.count + 1 : i + 1;
}

/** Cell masses of N(mean, variance) over the bins (open tails first and last). */
function normalBinMasses(b: Bins, cond: { mean: number; variance: number }): Float64Array {
  const sd = Math.sqrt(cond.variance);
  const F = (x: number) => normalCdf((x - cond.mean) / sd);
  const out = new Float64Array(b.count + 2);
  out[0] = F(b.lo);
  for (let i = 0; i < b.count; i++) out[i + 1] = F(b.lo + (i + 1) * b.width) - F(b.lo + i * b.width);
  out[b.count + 1] = 1 - F(b.lo + b.count * b.width);
  return out;
}

export interface Exact1d {
  /** KL of the sampler's discrete law from p_tMin(.|c). */
  kl: number;
  /** The same KL on the binned laws (what the particles estimate). */
  binnedKl: number;
  /** The ODE's KL (16x the steps). */
  odeKl: number;
  mean: number;
  variance: number;
  /** ln phi(z) - ln x'(z) - ln p(x(z)|c) is summed on this many starts; the quadrature error is from halving. */
  quadratureError: number;
}

function klFromMap(
  z: Float64Array,
  x: Float64Array,
  dx: Float64Array,
  dz: number,
  cond: { mean: number; variance: number },
): number {
  let kl = 0;
  for (let i = 0; i < z.length; i++) {
    const wgt = (i === 0 || i === z.length - 1 ? 0.5 : 1) * dz;
    const lphi = -0.5 * z[i] * z[i] - 0.5 * Math.log(2 * Math.PI);
    const lp =
      (-0.5 * (x[i] - cond.mean) * (x[i] - cond.mean)) / cond.variance - 0.5 * Math.log(2 * Math.PI * cond.variance);
    kl += wgt * Math.exp(lphi) * (lphi - Math.log(dx[i]) - lp);
  }
  return kl;
}

/** The exact 1-D law of one bit-coordinate under the sampler (w, steps) and under the ODE. */
export function exact1d(R: number, w: number, steps: number, points = 4001): Exact1d {
  const zMax = 9;
  const grid = (n: number) => {
    const z = new Float64Array(n);
    for (let i = 0; i < n; i++) z[i] = -zMax + (2 * zMax * i) / (n - 1);
    return z;
  };
  const sp = modesSpec(1, R, 1, w, 1, steps, 1);
  const cond = conditionalAtTMin(sp, R);
  const z = grid(points);
  const m = discreteMap(sp, R, z);
  const dz = (2 * zMax) / (points - 1);
  const kl = klFromMap(z, m.x, m.dx, dz, cond);
  const zh = grid((points + 1) / 2);
  const mh = discreteMap(sp, R, zh);
  const klHalf = klFromMap(zh, mh.x, mh.dx, 2 * dz, cond);
  const fine = discreteMap(modesSpec(1, R, 1, w, 1, 16 * steps, 1), R, z);
  const odeKl = klFromMap(z, fine.x, fine.dx, dz, cond);
  // Binned law: the discrete map is increasing, so bin masses are prior masses of the preimages.
  for (let i = 1; i < m.x.length; i++)
    if (!(m.x[i] > m.x[i - 1])) throw new Error(`exact1d: the discrete map is not increasing at z = ${z[i]}`);
  const bins = binsFor(cond);
  const pb = normalBinMasses(bins, cond);
  const qb = binnedLaw(z, m.x, bins);
  let binnedKl = 0;
  for (let i = 0; i < qb.length; i++) if (qb[i] > 0) binnedKl += qb[i] * Math.log(qb[i] / pb[i]);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < z.length; i++) {
    const wgt = (i === 0 || i === z.length - 1 ? 0.5 : 1) * dz * Math.exp(-0.5 * z[i] * z[i]) * 0.3989422804014327;
    s1 += wgt * m.x[i];
    s2 += wgt * m.x[i] * m.x[i];
  }
  return {
    kl,
    binnedKl,
    odeKl,
    mean: s1,
    variance: s2 - s1 * s1,
    quadratureError: Math.abs(kl - klHalf),
  };
}

/** Bin masses of the law x(z), z ~ N(0, 1), x increasing: the edges' preimages by linear interpolation. */
function binnedLaw(z: Float64Array, x: Float64Array, b: Bins): Float64Array {
  const pre = (e: number) => {
    if (e <= x[0]) return 0;
    if (e >= x[x.length - 1]) return 1;
    let lo = 0;
    let hi = x.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (x[mid] <= e) lo = mid;
      else hi = mid;
    }
    const u = (e - x[lo]) / (x[hi] - x[lo]);
    return normalCdf(z[lo] + u * (z[hi] - z[lo]));
  };
  const out = new Float64Array(b.count + 2);
  let prev = 0;
  for (let i = 0; i <= b.count; i++) {
    const c = pre(b.lo + i * b.width);
    out[i] = c - prev;
    prev = c;
  }
  out[b.count + 1] = 1 - prev;
  return out;
}

/** A view of pooled values: values(i) for i < n. */
interface Pool {
  n: number;
  at: (i: number) => number;
}

/**
 * Plug-in KL of the pool's histogram from the bin masses pb, Miller-Madow corrected (minus
 * (occupied - 1) / (2 n), the plug-in entropy's first-order bias), with its delta-method se.
 */
export function sampledBinnedKl(pool: Pool, bins: Bins, pb: Float64Array): { kl: number; se: number } {
  const counts = new Float64Array(bins.count + 2);
  for (let i = 0; i < pool.n; i++) counts[binOf(bins, pool.at(i))]++;
  let kl = 0;
  let m2 = 0;
  let occupied = 0;
  for (let b = 0; b < counts.length; b++) {
    if (counts[b] === 0) continue;
    occupied++;
    const q = counts[b] / pool.n;
    const l = Math.log(q / pb[b]);
    kl += q * l;
    m2 += q * l * l;
  }
  return { kl: kl - (occupied - 1) / (2 * pool.n), se: Math.sqrt(Math.max(m2 - kl * kl, 1 / pool.n) / pool.n) };
}

interface Measured {
  growth: Growth;
  d: number;
  k: number;
  R: number;
  w: number;
  route: 'listed' | 'product';
  /** Pooled bit-coordinate values. */
  n: number;
  kl: number;
  se: number;
  exact: Exact1d;
  /** The free coordinates' binned KL from the conditional (listed, k < d). */
  free: { kl: number; se: number; n: number } | null;
}

const exactCache = new Map<string, Exact1d>();
function exactFor(R: number, w: number, steps: number): Exact1d {
  const key = `${R} ${w} ${steps}`;
  let e = exactCache.get(key);
  if (!e) {
    e = exact1d(R, w, steps, 2001);
    exactCache.set(key, e);
  }
  return e;
}

async function measure(
  ctx: ReproContext,
  growth: Growth,
  d: number,
  w: number,
  route: 'listed' | 'product',
  N: number,
  steps: number,
  seed: number,
): Promise<Measured> {
  const k = bits(growth, d);
  const R = offset(growth, d);
  // The product route: N d-dimensional particles are N k independent 1-D bit-coordinates (the
  // free coordinates are exact and carry no KL).
  const sp = route === 'listed' ? modesSpec(k, R, d, w, N, steps, seed) : modesSpec(1, R, 1, w, N * k, steps, seed);
  const x = await sampleParticles(sp, ctx.gpu);
  const cond = conditionalAtTMin(sp, R);
  const bins = binsFor(cond);
  const pb = normalBinMasses(bins, cond);
  const dim = sp.dim;
  const kk = route === 'listed' ? k : 1;
  const bitPool: Pool = { n: (x.length / dim) * kk, at: (i) => x[Math.floor(i / kk) * dim + (i % kk)] };
  const s = sampledBinnedKl(bitPool, bins, pb);
  let free: Measured['free'] = null;
  if (route === 'listed' && k < d) {
    const f = d - k;
    const fc = { mean: 0, variance: cond.variance };
    const fb = binsFor(fc);
    const fr = sampledBinnedKl(
      { n: N * f, at: (i) => x[Math.floor(i / f) * d + k + (i % f)] },
      fb,
      normalBinMasses(fb, fc),
    );
    free = { ...fr, n: N * f };
  }
  return { growth, d, k, R, w, route, n: bitPool.n, kl: s.kl, se: s.se, exact: exactFor(R, w, steps), free };
}

/** delta = (k / d) KL and its se and deterministic allowance (binning, discretisation, quadrature, f32). */
function delta(m: Measured, f32: number): { value: number; se: number; bias: number; exact: number } {
  const f = m.k / m.d;
  const e = m.exact;
  const bias = Math.abs(e.kl - e.binnedKl) + Math.abs(e.kl - e.odeKl) + e.quadratureError + f32;
  return { value: f * m.kl, se: f * m.se, bias: f * bias, exact: f * e.odeKl };
}

export async function runDistortionModes(ctx: ReproContext): Promise<ClaimResult> {
  const N = ctx.quick ? 10_000 : 50_000;
  const steps = ctx.quick ? 50 : 100;
  const dims = ctx.quick ? QUICK_DIMS : DIMS;
  const dMin = dims[0];
  const dMax = dims[dims.length - 1];
  // The GPU steps in f32: an allowance of 1e-3 on each binned KL (positions move by ~1e-6 of a
  // bin; the measured f32-vs-exact gaps are below the envelopes).
  const f32 = ctx.gpu ? 1e-3 : 0;
  const laws: Growth[] = ['exponential', 'linear'];
  const measured: Measured[] = [];
  let seed = 1;
  for (const growth of laws) {
    for (const d of dims) {
      const listed = 2 ** bits(growth, d) <= MAX_LISTED;
      const routes: ('listed' | 'product')[] =
        growth === 'exponential' ? (listed ? ['listed', 'product'] : ['product']) : ['listed'];
      for (const route of routes) {
        const t0 = Date.now();
        const m = await measure(ctx, growth, d, W, route, N, steps, seed++);
        measured.push(m);
        ctx.log(
          `distortion-modes ${growth} d=${d} (2^${m.k} classes, ${route}): KL per coordinate ${((m.k / d) * m.kl).toFixed(4)} (exact binned ${((m.k / d) * m.exact.binnedKl).toFixed(4)}, ODE ${((m.k / d) * m.exact.odeKl).toFixed(4)}), ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        );
      }
    }
    // The w = 0 baseline at the smallest d: the statistic reads 0 without guidance.
    const b = await measure(ctx, growth, dMin, 0, 'listed', N, steps, seed++);
    measured.push(b);
    ctx.log(`distortion-modes ${growth} d=${dMin} w=0: KL per coordinate ${((b.k / dMin) * b.kl).toExponential(2)}`);
  }
  // The claim's statistic per law and d: the listed route where the classes can be listed, else the product route.
  const primary = (growth: Growth, d: number): Measured => {
    const rows = measured.filter((m) => m.growth === growth && m.d === d && m.w === W);
    return rows.find((m) => m.route === 'listed') ?? rows[0];
  };
  // The mutation twin swaps the growth laws' labels (the measurements are unchanged).
  const label = (g: Growth): Growth => (ctx.mutation ? (g === 'exponential' ? 'linear' : 'exponential') : g);
  const curve = (g: Growth, d: number) => primary(label(g), d);

  const routeTests = measured.length;
  const freeTests = measured.filter((m) => m.free).length;
  // The exponential law's d with both routes (listed classes and the product).
  const pairTests = dims.filter((d) => 2 ** bits('exponential', d) <= MAX_LISTED).length;
  const m = routeTests + freeTests + pairTests + 5;
  const tests: ClaimTest[] = [];
  for (const r of measured)
    tests.push(
      withinTolerance(
        `${r.growth} d=${r.d} w=${r.w} (${r.route}): sampled binned KL = the sampler's exact binned KL`,
        r.kl - r.exact.binnedKl,
        r.se,
        m,
        0,
        f32,
      ),
    );
  for (const r of measured)
    if (r.free)
      tests.push(
        withinTolerance(
          `${r.growth} d=${r.d} w=${r.w}: the ${r.d - r.k} free coordinates are undistorted (KL = 0)`,
          r.free.kl,
          r.free.se,
          m,
          0,
          f32,
        ),
      );
  for (const d of dims) {
    const both = measured.filter((r) => r.growth === 'exponential' && r.d === d && r.w === W);
    if (both.length !== 2) continue;
    const [a, b] = both;
    tests.push(
      withinTolerance(
        `exponential d=${d}: listed ${2 ** d} classes = product route`,
        a.kl - b.kl,
        Math.hypot(a.se, b.se),
        m,
        0,
        2 * f32,
      ),
    );
  }
  const eMin = delta(curve('exponential', dMin), f32);
  const eMax = delta(curve('exponential', dMax), f32);
  const lMinM = curve('linear', dMin);
  const lMin = delta(lMinM, f32);
  const lMax = delta(curve('linear', dMax), f32);
  tests.push(greaterThanZero(`exponential: distortion at d=${dMax} > 0`, eMax.value, eMax.se, m, eMax.bias));
  tests.push(
    atMostZero(
      `exponential: persists, delta(d=${dMin}) - delta(d=${dMax}) <= 0`,
      eMin.value - eMax.value,
      Math.hypot(eMin.se, eMax.se),
      m,
      eMin.bias + eMax.bias,
    ),
  );
  tests.push(
    greaterThanZero(
      `linear: falls, delta(d=${dMin}) - delta(d=${dMax}) > 0`,
      lMin.value - lMax.value,
      Math.hypot(lMin.se, lMax.se),
      m,
      lMin.bias + lMax.bias,
    ),
  );
  // Vanishing: delta(dMax) at most (k/d)(dMax) times the per-bit KL at dMin, i.e. it falls at
  // least like k/d = log2(d)/d -> 0 (the per-bit KL stays bounded as the separation grows).
  const lMaxM = curve('linear', dMax);
  const fMax = lMaxM.k / lMaxM.d;
  const fMin = lMinM.k / lMinM.d;
  tests.push(
    atMostZero(
      `linear: vanishes like k/d, delta(d=${dMax}) - (k/d)(${dMax}) KL per bit(d=${dMin}) <= 0`,
      lMax.value - (fMax / fMin) * lMin.value,
      Math.hypot(lMax.se, (fMax / fMin) * lMin.se),
      m,
      lMax.bias + (fMax / fMin) * lMin.bias,
    ),
  );
  tests.push(
    greaterThanZero(
      `d=${dMax}: delta(exponential) - delta(linear) > 0`,
      eMax.value - lMax.value,
      Math.hypot(eMax.se, lMax.se),
      m,
      eMax.bias + lMax.bias,
    ),
  );

  const rows = measured.map((r) => {
    const dl = delta(r, f32);
    return {
      growth: r.growth,
      d: r.d,
      bits: r.k,
      classes: 2 ** r.k,
      offset: r.R,
      w: r.w,
      route: r.route,
      pooledSamples: r.n,
      binnedKlSampled: r.kl,
      binnedKlSe: r.se,
      binnedKlExact: r.exact.binnedKl,
      klPerBitSampler: r.exact.kl,
      klPerBitOde: r.exact.odeKl,
      discretisationBias: r.exact.kl - r.exact.odeKl,
      binningGap: r.exact.kl - r.exact.binnedKl,
      bitMeanExact: r.exact.mean,
      bitVarianceExact: r.exact.variance,
      deltaSampled: dl.value,
      deltaSe: dl.se,
      deltaExact: dl.exact,
      freeKl: r.free ? r.free.kl : 'n/a',
      freeKlSe: r.free ? r.free.se : 'n/a',
    };
  });
  const chart: Record<string, number | string>[] = [];
  for (const g of laws)
    for (const d of dims) {
      const r = curve(g, d);
      const dl = delta(r, f32);
      chart.push({ d, delta: dl.value, series: `${g} growth (sampled)` });
      chart.push({ d, delta: dl.exact, series: `${g} growth (exact)` });
    }
  return {
    claim: 'distortion-modes',
    reference:
      'Ventura et al. 2026, "Emergence of Distortions in High-Dimensional Guided Diffusion Models", arXiv 2602.00716',
    setup: {
      particlesPerSetting: N,
      backend: ctx.gpu ? ctx.gpu.adapterInfo.label : 'cpu',
      solver: `rk4, ${steps} steps, edm grid (rho 7), OU T ${T_END}, tMin ${T_MIN}, start: the prior N(0, I)`,
      discretisationBias:
        "exact: the per-bit KL of the sampler's own discrete law (its RK4 map in f64) minus the ODE's (16x the steps); in each row and, with the binning gap and the quadrature error, in the claim tests' allowances",
      mixture: `k bits in dimension d: 2^k classes N(R b, ${S}^2 I), b in {-1, 1}^k on the first k axes, R = ${R_BASE} sqrt(d / k), equal weights; target: all plus; CFG w = ${W} against the unconditional law`,
      growthLaws: 'exponential: k = d (2^d classes, the hypercube); linear: k = log2 d (d classes)',
      dims,
      listedUpTo: `${MAX_LISTED} classes; the exponential law above it runs on its exact product route (N k independent 1-D bit-coordinates)`,
      distortion:
        'delta(d) = KL(CFG law || p_tMin(.|c)) / d = (k / d) KL per bit; sampled: Miller-Madow corrected plug-in KL of the pooled bit-coordinates on 130 bins (width sd/8 of the conditional, +-8 sd, two open tails)',
      alpha: `family-wise 1e-3, Bonferroni over ${m} z-tests (delta-method se of the plug-in KL)`,
      f32Allowance: f32,
      mutation: ctx.mutation ? "the growth laws' labels swapped (must FAIL)" : null,
    },
    tests,
    verdict: overallVerdict(tests),
    data: { rows },
    figures: [
      {
        name: 'distortion-modes',
        spec: lineChart(chart, 'd', 'delta', 'series', `CFG (w=${W}) distortion per coordinate against d`, {
          logX: true,
          xTitle: 'dimension d',
          yTitle: 'KL(CFG || conditional) / d',
        }),
      },
    ],
  };
}
