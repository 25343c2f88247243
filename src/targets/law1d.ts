// Exact one-dimensional laws of the noised target, for statistical checks of samplers.
//
// Under x_t = alpha x_0 + sigma eps every component of the data law stays closed form,
// and so does any 1-D projection u.x of it that the checks need:
//   Gaussian N(m, S)      ->  u.x_t ~ N(alpha u.m, alpha^2 u'Su + sigma^2 |u|^2)   (any u)
//   uniform box [l, h]    ->  x_t,i ~ U(alpha l_i, alpha h_i) + N(0, sigma^2)        (u = c e_i only:
//                             the projection of a box on a skew direction is a piecewise
//                             polynomial we do not need, so it is refused)
// A projected law is a list of weighted pieces, each a normal or a uniform convolved with a
// normal; the CDF, the central moments up to the 4th and KS distances between two such laws
// are exact (closed form) up to f64 rounding.
//
// The CDF of U(lo, hi) + N(0, s^2) is the average of Phi over [b, a], a = (x - lo)/s,
// b = (x - hi)/s:  F(x) = (G(a) - G(b)) / (a - b), with G(z) = z Phi(z) + phi(z) the
// antiderivative of Phi. It is evaluated without catastrophic cancellation: the lower tail
// through erfcx, the upper half through the complement 1 - F = (G(-b) - G(-a)) / (a - b)
// (G(z) - G(-z) = z), and a Taylor series when the box is narrow against s.
import erfc from '@stdlib/math-base-special-erfc';
import erfcx from '@stdlib/math-base-special-erfcx';
import type { ExperimentSpec } from '../experiment/types.ts';
import { buildModel, classGroup, type Group, type MixtureModel } from '../model/mixture.ts';
import { priorScale, processAt, startTime } from '../processes/process.ts';

export type Piece1d =
  | { kind: 'normal'; weight: number; mean: number; variance: number }
  /** U(low, high) + N(0, sigma2), low <= high; low = high is a normal, sigma2 = 0 a uniform. */
  | { kind: 'boxNormal'; weight: number; low: number; high: number; sigma2: number };

/** A 1-D mixture law; piece weights sum to 1. */
export type Law1d = Piece1d[];

export interface Moments1d {
  mean: number;
  variance: number;
  /** Third and fourth central moments. */
  mu3: number;
  mu4: number;
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_PI_2 = Math.sqrt(Math.PI / 2);

/** Standard normal CDF, accurate (relative) in the lower tail. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z * SQRT1_2);
}

/** Standard normal density. */
export function normalPdf(z: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * z * z);
}

/**
 * G(z) = int_{-inf}^z Phi = z Phi(z) + phi(z). For z < 0 it is phi(z) (1 - t R(t)), t = -z,
 * with R the Mills ratio sqrt(pi/2) erfcx(t / sqrt 2): no underflow before phi(z) itself
 * underflows, and a relative error of about t^2 ulp from the 1 - t R(t) ~ 1/t^2 cancellation
 * (below 1e-12 wherever the result is a normal number). For z >= 0 both terms are positive.
 */
export function integratedNormalCdf(z: number): number {
  if (z >= 0) return z * normalCdf(z) + normalPdf(z);
  const t = -z;
  return normalPdf(z) * (1 - t * SQRT_PI_2 * erfcx(t * SQRT1_2));
}

// Below this w * max(1, |c|) the average of Phi over [c - w/2, c + w/2] is its Taylor series
// (the dropped w^6 term is below 1e-23 relative there).
const SERIES_LIMIT = 1e-3;

/** CDF of U(low, high) + N(0, sigma2) at x. */
export function boxNormalCdf(x: number, low: number, high: number, sigma2: number): number {
  if (sigma2 === 0) return x <= low ? 0 : x >= high ? 1 : (x - low) / (high - low);
  const s = Math.sqrt(sigma2);
  const a = (x - low) / s;
  const b = (x - high) / s;
  const w = a - b;
  const c = 0.5 * (a + b);
  if (w * Math.max(1, Math.abs(c)) < SERIES_LIMIT) {
    // mean of Phi over [c - w/2, c + w/2] = Phi + Phi'' w^2/24 + Phi'''' w^4/1920, Phi'' = -c phi, Phi'''' = (3c - c^3) phi
    const w2 = w * w;
    return normalCdf(c) + normalPdf(c) * ((-c * w2) / 24 + ((3 * c - c * c * c) * w2 * w2) / 1920);
  }
  if (c <= 0) return (integratedNormalCdf(a) - integratedNormalCdf(b)) / w;
  return 1 - (integratedNormalCdf(-b) - integratedNormalCdf(-a)) / w;
}

export function pieceCdf(p: Piece1d, x: number): number {
  if (p.kind === 'normal') return normalCdf((x - p.mean) / Math.sqrt(p.variance));
  return boxNormalCdf(x, p.low, p.high, p.sigma2);
}

/** The CDF of a 1-D law at x. */
export function lawCdf(law: Law1d, x: number): number {
  let f = 0;
  for (const p of law) f += p.weight * pieceCdf(p, x);
  return Math.min(1, Math.max(0, f));
}

/** The CDF as a function, for ksStatistic and friends. */
export function cdfOf(law: Law1d): (x: number) => number {
  return (x) => lawCdf(law, x);
}

function pieceMoments(p: Piece1d): Moments1d {
  if (p.kind === 'normal') return { mean: p.mean, variance: p.variance, mu3: 0, mu4: 3 * p.variance * p.variance };
  // Independent sum of a centred uniform of half-width l (E U^2 = l^2/3, E U^4 = l^4/5) and a normal.
  const l = 0.5 * (p.high - p.low);
  const u2 = (l * l) / 3;
  const u4 = (l * l * l * l) / 5;
  const s2 = p.sigma2;
  return { mean: 0.5 * (p.low + p.high), variance: u2 + s2, mu3: 0, mu4: u4 + 6 * u2 * s2 + 3 * s2 * s2 };
}

/** Mean, variance and 3rd and 4th central moments of a 1-D mixture law, exact. */
export function lawMoments(law: Law1d): Moments1d {
  const parts = law.map((p) => ({ w: p.weight, m: pieceMoments(p) }));
  let mean = 0;
  for (const { w, m } of parts) mean += w * m.mean;
  let variance = 0;
  let mu3 = 0;
  let mu4 = 0;
  for (const { w, m } of parts) {
    // Central moments about the mixture mean from the piece's own: shift by d = m_k - mean.
    const d = m.mean - mean;
    variance += w * (m.variance + d * d);
    mu3 += w * (m.mu3 + 3 * d * m.variance + d * d * d);
    mu4 += w * (m.mu4 + 4 * d * m.mu3 + 6 * d * d * m.variance + d * d * d * d);
  }
  return { mean, variance, mu3, mu4 };
}

/** An upper bound on the density of the law: sum of each piece's maximum density. */
export function lawMaxDensity(law: Law1d): number {
  let f = 0;
  for (const p of law) {
    if (p.kind === 'normal') f += (p.weight * INV_SQRT_2PI) / Math.sqrt(p.variance);
    else {
      // A convolution's sup is at most either factor's sup.
      const uniform = p.high > p.low ? 1 / (p.high - p.low) : Infinity;
      const normal = p.sigma2 > 0 ? INV_SQRT_2PI / Math.sqrt(p.sigma2) : Infinity;
      f += p.weight * Math.min(uniform, normal);
    }
  }
  return f;
}

/** A range outside which every piece's CDF is within Phi(-k) < 1e-32 (k = 12) of 0 or 1. */
export function lawRange(law: Law1d, k = 12): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of law) {
    if (p.kind === 'normal') {
      const s = Math.sqrt(p.variance);
      lo = Math.min(lo, p.mean - k * s);
      hi = Math.max(hi, p.mean + k * s);
    } else {
      const s = Math.sqrt(p.sigma2);
      lo = Math.min(lo, p.low - k * s);
      hi = Math.max(hi, p.high + k * s);
    }
  }
  return [lo, hi];
}

/**
 * Bounds on the Kolmogorov distance sup_x |F_A(x) - F_B(x)| between two laws: the largest
 * difference on a uniform grid of `points` over both laws' ranges is a lower bound; adding
 * half a grid step times the sum of the two density bounds (the difference's Lipschitz
 * constant), plus the mass outside the range, gives an upper bound.
 */
export function ksDistanceBounds(a: Law1d, b: Law1d, points = 200001): { lower: number; upper: number } {
  const [loA, hiA] = lawRange(a);
  const [loB, hiB] = lawRange(b);
  const lo = Math.min(loA, loB);
  const hi = Math.max(hiA, hiB);
  const step = (hi - lo) / (points - 1);
  let lower = 0;
  for (let i = 0; i < points; i++) {
    const x = lo + i * step;
    lower = Math.max(lower, Math.abs(lawCdf(a, x) - lawCdf(b, x)));
  }
  const slack = 0.5 * step * (lawMaxDensity(a) + lawMaxDensity(b)) + 1e-30;
  return { lower, upper: lower + slack };
}

/**
 * The law of u.x_t for x_0 ~ group, at (alpha, sigma2). u defaults to the single axis of a
 * 1-D model. Throws when the group has a box and u is not along one axis.
 */
export function projectedLaw(
  model: MixtureModel,
  group: Group,
  alpha: number,
  sigma2: number,
  u?: ArrayLike<number>,
): Law1d {
  const d = model.dim;
  if (u === undefined) {
    if (d !== 1) throw new Error(`projectedLaw: a ${d}-D model needs a direction u`);
    u = [1];
  }
  if (u.length !== d) throw new Error(`projectedLaw: u has length ${u.length}, the model has dim ${d}`);
  let u2 = 0;
  for (let i = 0; i < d; i++) u2 += u[i] * u[i];
  const axes: number[] = [];
  for (let i = 0; i < d; i++) if (u[i] !== 0) axes.push(i);
  return group.entries.map((e): Piece1d => {
    const weight = Math.exp(e.logWeight);
    const c = model.components[e.component];
    if (c.kind === 'gaussian') {
      let mean = 0;
      for (let i = 0; i < d; i++) mean += u[i] * c.mean[i];
      // u'Su = sum_j lambda_j (U'u)_j^2 in the eigenbasis.
      let quad = 0;
      for (let j = 0; j < d; j++) {
        let v = 0;
        if (c.basis === null) v = u[j];
        else for (let i = 0; i < d; i++) v += c.basis[i * d + j] * u[i];
        quad += c.lambda[j] * v * v;
      }
      return { kind: 'normal', weight, mean: alpha * mean, variance: alpha * alpha * quad + sigma2 * u2 };
    }
    if (axes.length !== 1) {
      throw new Error('projectedLaw: the projection of a uniform box is only closed form along an axis');
    }
    const i = axes[0];
    const s = u[i];
    const ends = [s * alpha * c.low[i], s * alpha * c.high[i]];
    return { kind: 'boxNormal', weight, low: Math.min(...ends), high: Math.max(...ends), sigma2: s * s * sigma2 };
  });
}

/** The law of u.x_t at time t of the spec's target class (or another group of its model). */
export function targetLawAt(
  spec: ExperimentSpec,
  t: number,
  u?: ArrayLike<number>,
  group?: (model: MixtureModel) => Group,
): Law1d {
  const model = buildModel(spec);
  const g = group ? group(model) : classGroup(model, spec.target);
  const p = processAt(spec.process, t);
  return projectedLaw(model, g, p.alpha, p.sigma2, u);
}

/** The law the exact unguided sampler should return: the target diffused to tMin. */
export function sampledTargetLaw(spec: ExperimentSpec, u?: ArrayLike<number>): Law1d {
  return targetLawAt(spec, spec.solver.tMin, u);
}

/** The law of u.x at the start time, as the sampler draws it: N(0, scale^2 |u|^2). */
export function priorLaw(spec: ExperimentSpec, u?: ArrayLike<number>): Law1d {
  const v = u ?? [1];
  let u2 = 0;
  for (let i = 0; i < v.length; i++) u2 += v[i] * v[i];
  const s = priorScale(spec.process);
  return [{ kind: 'normal', weight: 1, mean: 0, variance: s * s * u2 }];
}

/** The target diffused to the start time, which the prior only approximates. */
export function targetLawAtStart(spec: ExperimentSpec, u?: ArrayLike<number>): Law1d {
  return targetLawAt(spec, startTime(spec.process), u);
}
