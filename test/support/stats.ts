// Statistical helpers for the foundation suite (test/foundation), and its false-failure budget.
//
// Budget. Every statistical check of test/foundation is listed in FOUNDATION_CHECKS below,
// and each gets FAMILY_ALPHA / FOUNDATION_CHECKS.length (Bonferroni): whatever the seeds,
// the probability that a correct implementation fails any of them is at most FAMILY_ALPHA.
// A "mutation twin" (the same check run on a deliberately wrong sampler, which must fail it)
// is listed too: it is only run with a mutation whose exact KS distance from the target is at
// least threshold + epsilon + its own bias, so by the DKW inequality it misses the mutation
// with probability at most its share as well.
//
// The KS guarantees are non-asymptotic (DKW-Massart holds for every n); the solver-bias terms
// use Richardson's estimate (asymptotic in the step, checked to be ~1e-3 of epsilon or less);
// the mean/variance z-checks use the normal approximation with a first Cornish-Fisher term.
// Seeds are fixed, so every run gives the same answer; the budget says how unlucky a seed
// would have to be for a correct sampler to fail.
import { CpuStepper } from '../../src/cpu/reference.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';
import { normalUpperQuantile } from '../../src/metrics/statistics.ts';

/** The foundation suite's family-wise false-failure probability. */
export const FAMILY_ALPHA = 1e-6;

/** Every statistical check of test/foundation, one entry per assertion at risk. */
export const FOUNDATION_CHECKS = [
  'transport: two Gaussians, rk4, KS',
  'transport: two Gaussians, rk4, variance-scaled twin',
  'transport: uniform box, rk4, KS',
  'transport: uniform box, rk4, shifted twin',
  'transport: three modes, rk4, KS',
  'transport: three modes, rk4, dropped-mode twin',
  'transport: two Gaussians (ve, edm), rk4, KS',
  'transport: two Gaussians (vp), rk4, KS',
  'transport: two Gaussians (flow), rk4, KS',
  'transport: two Gaussians, em, KS',
  'transport: two Gaussians, em, mean-shifted twin',
  'guidance: cfg closed form, KS',
  'guidance: cfg closed form, mean z',
  'guidance: cfg closed form, variance z',
  'guidance: cfg closed form, wrong-w twin',
  'guidance: cfg closed form (flow), KS',
] as const;

export type FoundationCheck = (typeof FOUNDATION_CHECKS)[number];

/** The significance level one listed check may spend. */
export function alphaShare(check: FoundationCheck): number {
  if (!FOUNDATION_CHECKS.includes(check)) throw new Error(`unlisted statistical check ${check}`);
  return FAMILY_ALPHA / FOUNDATION_CHECKS.length;
}

/**
 * Kolmogorov-Smirnov statistic sup_x |F_n(x) - F(x)| of the samples against a continuous CDF.
 * A NaN sample makes it Infinity, so that a sampler producing NaN fails every threshold.
 */
export function ksStatistic(samples: ArrayLike<number>, cdf: (x: number) => number): number {
  const n = samples.length;
  const sorted = Float64Array.from(samples);
  for (let i = 0; i < n; i++) if (Number.isNaN(sorted[i])) return Infinity;
  sorted.sort();
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i]);
    d = Math.max(d, f - i / n, (i + 1) / n - f);
  }
  return d;
}

/**
 * The Dvoretzky-Kiefer-Wolfowitz-Massart envelope: P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2),
 * so eps = sqrt(ln(2 / alpha) / (2 n)) is exceeded with probability at most alpha (any n).
 */
export function dkwEpsilon(n: number, alpha: number): number {
  return Math.sqrt(Math.log(2 / alpha) / (2 * n));
}

/** Upper standard normal quantile: the z with P(Z > z) = p (the metrics' own, src/targets/). */
export { normalUpperQuantile };

export interface ZBand {
  lower: number;
  upper: number;
}

/**
 * Two-sided acceptance band for a standardised statistic at level alpha: +-z_{alpha/2}, with
 * the first Cornish-Fisher correction gamma (z^2 - 1) / 6 for a statistic of skewness gamma
 * (at z ~ 5, a skewness of 0.02 already moves the quantile by 0.08).
 */
export function zBand(alpha: number, skewness = 0): ZBand {
  const z = normalUpperQuantile(alpha / 2);
  const shift = (skewness * (z * z - 1)) / 6;
  return { lower: -z + shift, upper: z + shift };
}

export interface MeanVarianceZ {
  n: number;
  sampleMean: number;
  /** Unbiased sample variance s^2. */
  sampleVariance: number;
  /** (mean - mu) / sqrt(sigma^2 / n). */
  zMean: number;
  /** (s^2 - sigma^2) / sqrt(Var s^2), Var s^2 = mu4 / n - sigma^4 (n - 3) / (n (n - 1)) exactly. */
  zVariance: number;
}

/** Standardised sample mean and variance against exact moments (mean, variance, 4th central). */
export function meanVarianceZ(
  samples: ArrayLike<number>,
  exact: { mean: number; variance: number; mu4: number },
): MeanVarianceZ {
  const n = samples.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += samples[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (samples[i] - mean) ** 2;
  const s2 = ss / (n - 1);
  const v = exact.variance;
  const varS2 = exact.mu4 / n - (v * v * (n - 3)) / (n * (n - 1));
  return {
    n,
    sampleMean: mean,
    sampleVariance: s2,
    zMean: (mean - exact.mean) / Math.sqrt(v / n),
    zVariance: (s2 - v) / Math.sqrt(varS2),
  };
}

// ---------------------------------------------------------------------------------------
// Solver discretisation bias, for the KS thresholds.

/**
 * How far the spec's solver moves a particle from the exact ODE solution, at most, over
 * starting points that cover every particle's x_T (1-D specs, deterministic solvers).
 * Every start on a grid over [-zMax, zMax], zMax the largest |x_T| among the spec's
 * particles (its seed), is integrated with `steps` and `2 steps`; Richardson's
 * estimate of the error of the `steps` solution is |x_N - x_2N| 2^p / (2^p - 1). The flow
 * map is smooth, so a 401-point grid resolves its maximum. A shift of every particle by at
 * most D moves the empirical CDF by at most D sup f against the exact CDF: that is the
 * discretisation term of the KS threshold.
 */
export function solverShiftBound(spec: ExperimentSpec, order: number, gridPoints = 401): number {
  if (spec.dim !== 1) throw new Error('solverShiftBound: 1-D specs only');
  const coarse = new CpuStepper(spec);
  const fine = new CpuStepper({ ...spec, solver: { ...spec.solver, steps: 2 * spec.solver.steps } });
  // Every particle's x_T, to size the grid of starting points.
  const xT = new Float64Array(spec.particles);
  coarse.initParticles(0, spec.particles, xT);
  let zMax = 0;
  for (let p = 0; p < spec.particles; p++) zMax = Math.max(zMax, Math.abs(xT[p]));
  const start = Float64Array.from({ length: gridPoints }, (_, i) => -zMax + (2 * zMax * i) / (gridPoints - 1));
  const run = (stepper: CpuStepper): Float64Array => {
    const x = start.slice();
    const k = stepper.tableau.c.map(() => new Float64Array(gridPoints));
    for (let n = 0; n < stepper.table.steps; n++) stepper.step(n, 0, gridPoints, x, k);
    return x;
  };
  const a = run(coarse);
  const b = run(fine);
  let worst = 0;
  for (let i = 0; i < gridPoints; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  const richardson = 2 ** order / (2 ** order - 1);
  return worst * richardson;
}
