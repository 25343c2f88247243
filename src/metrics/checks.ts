// The statistics of the large-N checks and their thresholds.
//
// Every statistical test compares a statistic with an envelope at its share alpha_i = alpha / m
// of the family-wise false-failure rate alpha (Bonferroni over the m tests of one check), plus
// an explicit bias term (src/metrics/bias.ts) for what makes the target inexact for a correct
// sampler: finite steps and f32 (a displacement D of every particle), the prior (TV and W2
// distances to the target at the start time), target quadrature and bin resolution. Each test
// states its power: the smallest discrepancy it detects with probability >= 1 - alpha_i.
//
//   KS (per projection, binned at 2048 equiprobable edges of the target): DKW envelope
//     sqrt(ln(2/alpha_i) / 2n) + D sup f + priorTv + cdfError. The statistic at the edges never
//     exceeds the full KS statistic, so DKW holds for it.
//   chi-square (64 equiprobable bins): Pearson's X^2 against the exact chi-square quantile
//     with 63 degrees of freedom (asymptotic; n/64 >= 150 expected counts per bin here), widened
//     for a per-bin bias delta as (sqrt(Q r) + sqrt(n K^2 delta^2))^2, r = 1 + K delta.
//   mean and variance (per projection): normal envelopes z_{alpha_i/2} sd with a Cornish-Fisher
//     skewness correction (asymptotic), sd from the exact moments (up to the 6th).
//   occupancy (per component), HDR fractions, support fraction: Bernstein's inequality for
//     means of [0, 1] variables, P(|mean - p| >= t) <= 2 exp(-n t^2 / (2 (v + t/3))), v = p (1 - p)
//     (finite-sample, exact).
import chisqQuantile from '@stdlib/stats-base-dists-chisquare-quantile';
import { normalUpperQuantile } from './targets.ts';

export const DEFAULT_ALPHA = 1e-6;
export const FINE_BINS = 2048;
export const COARSE_BINS = 64;

export function dkwEpsilon(n: number, alpha: number): number {
  return Math.sqrt(Math.log(2 / alpha) / (2 * n));
}

/** Half-width t of Bernstein's two-sided bound for a mean of n variables in [0, 1] with variance <= v. */
export function bernsteinHalfWidth(n: number, v: number, alpha: number): number {
  const l = Math.log(2 / alpha);
  // n t^2 - (2 l / 3) t - 2 l v = 0
  return ((2 * l) / 3 + Math.sqrt((4 * l * l) / 9 + 8 * n * l * v)) / (2 * n);
}

export function chiSquareQuantile(p: number, df: number): number {
  return chisqQuantile(p, df);
}

/** Upper quantile of the chi-square law, P(X > x) = alpha, accurate for tiny alpha (Wilson-Hilferty fallback). */
export function chiSquareUpper(alpha: number, df: number): number {
  const q = chisqQuantile(1 - alpha, df);
  if (Number.isFinite(q) && 1 - alpha < 1) return q;
  const z = normalUpperQuantile(alpha);
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** Bin probabilities of a 1-D law at edges: [underflow, bins..., overflow]. */
export function binProbabilities(cdf: (x: number) => number, edges: Float64Array): Float64Array {
  const b = edges.length - 1;
  const out = new Float64Array(b + 2);
  let prev = cdf(edges[0]);
  out[0] = prev;
  for (let i = 1; i <= b; i++) {
    const c = cdf(edges[i]);
    out[i] = Math.max(0, c - prev);
    prev = c;
  }
  out[b + 1] = Math.max(0, 1 - prev);
  return out;
}

/** [underflow, bins..., overflow] counts of a 1-D histogram. */
export function withEnds(h: { counts: Uint32Array; underflow: number; overflow: number }): Float64Array {
  const out = new Float64Array(h.counts.length + 2);
  out[0] = h.underflow;
  out.set(h.counts, 1);
  out[out.length - 1] = h.overflow;
  return out;
}

/** max over edges of |F_n - F| from counts and probabilities with ends ([under, bins, over]). */
export function binnedKs(counts: Float64Array, probs: Float64Array): number {
  let n = 0;
  for (const c of counts) n += c;
  let fc = 0;
  let fp = 0;
  let d = 0;
  for (let i = 0; i < counts.length - 1; i++) {
    fc += counts[i];
    fp += probs[i];
    d = Math.max(d, Math.abs(fc / n - fp));
  }
  return d;
}

/** Merges [under, fine..., over] into `k` groups of consecutive fine bins (ends into the outer groups). */
export function mergeBins(v: Float64Array, k: number): Float64Array {
  const fine = v.length - 2;
  const per = fine / k;
  if (!Number.isInteger(per)) throw new Error(`mergeBins: ${fine} bins do not split into ${k}`);
  const out = new Float64Array(k);
  for (let i = 0; i < fine; i++) out[Math.floor(i / per)] += v[i + 1];
  out[0] += v[0];
  out[k - 1] += v[v.length - 1];
  return out;
}

export function pearson(counts: Float64Array, probs: Float64Array): number {
  let n = 0;
  for (const c of counts) n += c;
  let x2 = 0;
  for (let i = 0; i < counts.length; i++) if (probs[i] > 0) x2 += (counts[i] - n * probs[i]) ** 2 / (n * probs[i]);
  return x2;
}

/**
 * Forward KL(q_n || p) and reverse KL(p || q_n) on bins, with the empirical q_n smoothed by
 * Jeffreys' half count ((c + 1/2) / (n + K/2)) so that both are finite.
 */
export function binnedKl(counts: Float64Array, probs: Float64Array): { forward: number; reverse: number } {
  let n = 0;
  for (const c of counts) n += c;
  const k = counts.length;
  let forward = 0;
  let reverse = 0;
  for (let i = 0; i < k; i++) {
    const q = (counts[i] + 0.5) / (n + 0.5 * k);
    const p = Math.max(probs[i], 1e-300);
    forward += q * Math.log(q / p);
    if (probs[i] > 0) reverse += probs[i] * Math.log(probs[i] / q);
  }
  return { forward, reverse };
}

/**
 * Precision and recall for distributions (Sajjadi et al. 2018) on bins, with the exact target p
 * as the reference and the samples' histogram q as the model: for lambda = tan(angle),
 * alpha(lambda) = sum min(lambda p, q) (precision), beta(lambda) = sum min(p, q / lambda) (recall).
 * Summaries F_8 (recall-like) and F_1/8 (precision-like): max over the curve of F_beta.
 */
export function prd(counts: Float64Array, probs: Float64Array, angles = 1001): {
  precision: number[];
  recall: number[];
  f8: number;
  f1over8: number;
} {
  let n = 0;
  for (const c of counts) n += c;
  const precision: number[] = [];
  const recall: number[] = [];
  let f8 = 0;
  let f1over8 = 0;
  const fb = (a: number, b: number, beta: number) => (a > 0 && b > 0 ? ((1 + beta * beta) * a * b) / (beta * beta * a + b) : 0);
  for (let i = 1; i < angles - 1; i++) {
    const lambda = Math.tan((i / (angles - 1)) * (Math.PI / 2));
    let a = 0;
    let b = 0;
    for (let j = 0; j < counts.length; j++) {
      const q = counts[j] / n;
      const p = probs[j];
      a += Math.min(lambda * p, q);
      b += Math.min(p, q / lambda);
    }
    precision.push(a);
    recall.push(b);
    f8 = Math.max(f8, fb(a, b, 8));
    f1over8 = Math.max(f1over8, fb(a, b, 1 / 8));
  }
  return { precision, recall, f8, f1over8 };
}

// ---------------------------------------------------------------------------------------
// Test records

export interface TestOutcome {
  name: string;
  kind: 'KS' | 'chi-square' | 'mean' | 'variance' | 'occupancy' | 'HDR' | 'support' | 'finite';
  statistic: number;
  threshold: number;
  pass: boolean;
  /** Significance level spent on this test (0 for deterministic ones). */
  alpha: number;
  /** The threshold's parts: the statistical envelope and the bias terms. */
  envelope: number;
  bias: number;
  /** The smallest discrepancy detected with probability >= 1 - alpha, in the statistic's units (see powerMeaning). */
  power: number;
  powerMeaning: string;
  expected?: number;
  /**
   * PASS, FAIL, or INCONCLUSIVE: passed, but its allowance for bias (solver, prior, quadrature)
   * is over CONCLUSIVE_BIAS_RATIO times its statistical envelope, or its threshold is at or above
   * the largest value the statistic can take, so a visibly wrong sampler would pass too.
   */
  verdict: Verdict;
}

export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE';

/**
 * A passing test is conclusive only if its bias allowance is at most this many times its
 * statistical envelope. At 3 the threshold is at most 4 envelopes: a discrepancy the size of the
 * bias allowance is still caught once n grows, and the issue's failing cases (KS threshold 90 =
 * envelope 0.003 + bias 90; ring-8's 0.42) are excluded.
 */
export const CONCLUSIVE_BIAS_RATIO = 3;

/** The largest value a statistic can take (Infinity when unbounded). */
function statisticBound(kind: TestOutcome['kind'], expected: number | undefined): number {
  if (kind === 'KS') return 1;
  if ((kind === 'occupancy' || kind === 'HDR' || kind === 'support') && expected !== undefined) return Math.max(expected, 1 - expected);
  return Infinity;
}

/** The verdict of one test from its pass flag and its threshold's parts. */
export function testVerdict(o: Omit<TestOutcome, 'verdict'>): Verdict {
  if (!o.pass) return 'FAIL';
  if (o.alpha === 0) return 'PASS'; // deterministic (non-finite count): nothing to allow for
  if (o.threshold >= statisticBound(o.kind, o.expected)) return 'INCONCLUSIVE';
  // Compare in units of the discrepancy the test detects: the chi-square statistic grows as n
  // times the squared discrepancy, so its allowance counts as sqrt(threshold) - sqrt(envelope).
  const [env, allowance] = o.kind === 'chi-square' ? [Math.sqrt(o.envelope), Math.sqrt(o.threshold) - Math.sqrt(o.envelope)] : [o.envelope, o.bias];
  if (allowance > CONCLUSIVE_BIAS_RATIO * env) return 'INCONCLUSIVE';
  return 'PASS';
}

/** What would shrink the dominant bias term. */
function remedy(bias: BiasTerms, displacement: number): string {
  const steps = 'more solver steps, a higher-order solver (rk4) or a grid finer near tMin (solver.grid: { "kind": "edm", "rho": 7 })';
  const prior = 'start: "exact" (no prior mismatch) or a later start time';
  if (bias.priorTv > displacement) return `${prior}; then ${steps}`;
  return `${steps}${bias.priorTv > 0 ? `; and ${prior}` : ''}`;
}

/** FAIL if any test fails, else INCONCLUSIVE if any is, else PASS. */
export function overallVerdict(outcomes: { verdict: Verdict }[]): Verdict {
  if (outcomes.some((o) => o.verdict === 'FAIL')) return 'FAIL';
  if (outcomes.some((o) => o.verdict === 'INCONCLUSIVE')) return 'INCONCLUSIVE';
  return 'PASS';
}

/** A proportion against its exact value: pass when |got - expected| <= envelope + bias (verdict added at the end). */
function proportionOutcome(
  name: string,
  kind: TestOutcome['kind'],
  got: number,
  expected: number,
  envelope: number,
  bias: number,
  alpha: number,
  power: number,
  powerMeaning: string,
): Omit<TestOutcome, 'verdict'> {
  const statistic = Math.abs(got - expected);
  return { name, kind, statistic, threshold: envelope + bias, pass: statistic <= envelope + bias, alpha, envelope, bias, power, powerMeaning, expected };
}

/** z-envelope for a standardised statistic with skewness gamma (two-sided, Cornish-Fisher widened). */
export function zEnvelope(alpha: number, skewness: number): number {
  const z = normalUpperQuantile(alpha / 2);
  return z + (Math.abs(skewness) * (z * z - 1)) / 6;
}

// ---------------------------------------------------------------------------------------
// The check: every test's statistic, threshold and power from a plan, measurements and bias terms.

import type { CheckPlan } from './check-plan.ts';
import type { Measurements } from './measure.ts';
import type { BiasTerms } from './bias.ts';
import { regionSensitivities } from './bias.ts';
import { F32_SUM_RELATIVE_ERROR } from './gpu-metrics.ts';
import { gridExpectation, sampleTarget, TargetEvaluator } from './targets.ts';

export interface CheckReport {
  pass: boolean;
  alpha: number;
  tests: number;
  particles: number;
  finite: number;
  bias: BiasTerms & { displacement: number };
  /** PASS only if every test passes conclusively (overallVerdict). `pass` is verdict === 'PASS'. */
  verdict: Verdict;
  outcomes: TestOutcome[];
  /** Tests whose bias term exceeds their statistical envelope: their power is set by the solver or the prior, not by n. */
  warnings: string[];
}

/** Number of statistical tests of a plan (for the Bonferroni split). */
export function testCount(plan: CheckPlan): number {
  return 4 * plan.projections.length + plan.occupancy.p.length + plan.hdr.logLevels.length + (plan.inside ? 1 : 0);
}

/** Mass of the target within |log p - level| <= width (grid, or exact samples with a DKW term). */
function bandMass(plan: CheckPlan, level: number, width: number): number {
  if (plan.grid) {
    const g = plan.grid;
    return gridExpectation(g, (_x, k) => (Math.abs(g.logDensity[k] - level) <= width ? 1 : 0)).value + g.massError;
  }
  const m = 100_000;
  const xs = sampleTarget(plan.def, m, 5);
  const ev = new TargetEvaluator(plan.def);
  let hit = 0;
  for (let p = 0; p < m; p++) if (Math.abs(ev.logDensity(xs.subarray(p * plan.def.dim, (p + 1) * plan.def.dim)) - level) <= width) hit++;
  return hit / m + dkwEpsilon(m, 1e-9);
}

export function evaluateChecks(plan: CheckPlan, meas: Measurements, bias: BiasTerms, alpha = DEFAULT_ALPHA): CheckReport {
  const m = testCount(plan);
  const ai = alpha / m;
  const n = meas.density.finite;
  const D = bias.solverShift + bias.f32Shift;
  const tv = bias.priorTv;
  const B = D + bias.flowLipschitz * bias.priorW2; // W2-type displacement for the moments
  const outcomes: Omit<TestOutcome, 'verdict'>[] = [];

  outcomes.push({
    name: 'no non-finite particles',
    kind: 'finite',
    statistic: meas.density.nonFinite,
    threshold: 0,
    pass: meas.density.nonFinite === 0,
    alpha: 0,
    envelope: 0,
    bias: 0,
    power: 1,
    powerMeaning: 'any non-finite particle fails',
  });

  plan.projections.forEach((p, j) => {
    const h = meas.histograms[j];
    const counts = withEnds(h);
    const fmax = p.target.maxDensity;
    const mo = p.target.moments;
    // KS at the edges.
    const eps = dkwEpsilon(n, ai);
    const ksBias = D * fmax + tv + p.target.cdfError;
    const ks = binnedKs(counts, p.probs);
    outcomes.push({
      name: `KS ${p.label}`,
      kind: 'KS',
      statistic: ks,
      threshold: eps + ksBias,
      pass: ks <= eps + ksBias,
      alpha: ai,
      envelope: eps,
      bias: ksBias,
      power: eps + ksBias + eps + 1 / FINE_BINS,
      powerMeaning: 'KS distance to the target',
    });
    // Chi-square on COARSE_BINS equiprobable bins.
    const k = COARSE_BINS;
    const cc = mergeBins(counts, k);
    const pc = mergeBins(p.probs, k);
    const delta = 2 * D * fmax + tv + 2 * p.target.cdfError;
    const r = 1 + k * delta;
    const q = chiSquareUpper(ai, k - 1);
    const lambda = n * k * k * delta * delta;
    const x2thr = (Math.sqrt(q * r) + Math.sqrt(lambda)) ** 2;
    const x2 = pearson(cc, pc);
    outcomes.push({
      name: `chi-square ${p.label} (${k} bins)`,
      kind: 'chi-square',
      statistic: x2,
      threshold: x2thr,
      pass: x2 <= x2thr,
      alpha: ai,
      envelope: q,
      bias: x2thr - q,
      power: (Math.sqrt(x2thr) + Math.sqrt(q * r)) ** 2 / n,
      powerMeaning: `chi-square divergence sum (q - p)^2 / p on the ${k} bins`,
    });
    // Mean and variance about the exact mean c: S1 = sum (x - c), S2 = sum (x - c)^2.
    const s1 = meas.density.projSum1[j];
    const s2 = meas.density.projSum2[j];
    const sumAbs = n * mo.mu2; // E (x - c)^2 bounds the f32 sums' magnitudes (|x - c| <= 1 + (x - c)^2)
    const f32 = F32_SUM_RELATIVE_ERROR * (n + sumAbs);
    const sd = Math.sqrt(mo.mu2 / n);
    const meanSkew = mo.mu3 / (mo.mu2 ** 1.5 * Math.sqrt(n));
    const zm = zEnvelope(ai, meanSkew);
    const meanBias = B + f32 / n + 1e-12;
    const meanDev = Math.abs(s1 / n);
    outcomes.push({
      name: `mean ${p.label}`,
      kind: 'mean',
      statistic: meanDev,
      threshold: zm * sd + meanBias,
      pass: meanDev <= zm * sd + meanBias,
      alpha: ai,
      envelope: zm * sd,
      bias: meanBias,
      power: meanBias + (zm + zEnvelope(ai, meanSkew)) * sd,
      powerMeaning: '|mean shift|',
      expected: mo.mean,
    });
    const s2hat = (s2 - (s1 * s1) / n) / (n - 1);
    const varVar = (mo.mu4 - mo.mu2 * mo.mu2) / n + (2 * mo.mu2 * mo.mu2) / (n * (n - 1));
    const k3 = (mo.mu6 - 3 * mo.mu4 * mo.mu2 - 6 * mo.mu3 * mo.mu3 + 2 * mo.mu2 ** 3) / (n * n);
    const varSkew = k3 / varVar ** 1.5;
    const zv = zEnvelope(ai, varSkew);
    const sdv = Math.sqrt(varVar);
    const varBias = 2 * Math.sqrt(mo.mu2) * B + B * B + (2 * f32) / n + 1e-12;
    const varDev = Math.abs(s2hat - mo.mu2);
    outcomes.push({
      name: `variance ${p.label}`,
      kind: 'variance',
      statistic: varDev / mo.mu2,
      threshold: (zv * sdv + varBias) / mo.mu2,
      pass: varDev <= zv * sdv + varBias,
      alpha: ai,
      envelope: (zv * sdv) / mo.mu2,
      bias: varBias / mo.mu2,
      power: (varBias + 2 * zv * sdv) / mo.mu2,
      powerMeaning: '|relative variance change|',
      expected: mo.mu2,
    });
  });

  // Region statistics: occupancy, HDR, support.
  // Sensitivities only matter through D (skip their Monte Carlo when there is no displacement).
  const sens =
    D > 0
      ? regionSensitivities(plan.def, plan.hdr.logLevels)
      : { occupancy: new Float64Array(plan.occupancy.p.length), hdrGrad: plan.hdr.logLevels.map(() => 0) };
  plan.occupancy.p.forEach((pk, kk) => {
    const v = pk * (1 - pk);
    const t = bernsteinHalfWidth(n, v, ai);
    const b = tv + D * sens.occupancy[kk] + plan.occupancy.error + F32_SUM_RELATIVE_ERROR;
    const got = meas.density.softOccupancy[kk] / n;
    const power = b + t + bernsteinHalfWidth(n, Math.max(v, 0.25 * Math.min(1, 4 * v + 4 * (t + b))), ai);
    outcomes.push(
      proportionOutcome(`occupancy of component ${kk}`, 'occupancy', got, pk, t, b, ai, power, '|change of the component weight| (soft occupancy)'),
    );
  });
  plan.hdr.logLevels.forEach((level, l) => {
    const q = [0.5, 0.9, 0.99][l];
    const v = q * (1 - q);
    const t = bernsteinHalfWidth(n, v, ai);
    const width = D * sens.hdrGrad[l] + 1e-4 * (1 + Math.abs(level));
    const b = tv + plan.hdr.massError + bandMass(plan, level, width);
    const got = meas.density.hdrInside[l] / n;
    const power = b + 2 * bernsteinHalfWidth(n, 0.25, ai);
    outcomes.push(proportionOutcome(`inside the ${q * 100}% HDR`, 'HDR', got, q, t, b, ai, power, '|change of the mass inside the region|'));
  });
  if (plan.inside) {
    const pin = plan.inside.p;
    const v = pin * (1 - pin);
    const t = bernsteinHalfWidth(n, v, ai);
    let faces = 0;
    for (const p of plan.projections.filter((pp) => pp.u.filter((x) => x !== 0).length === 1)) faces += 2 * p.target.maxDensity;
    const b = tv + plan.inside.error + D * faces * (plan.boxes?.length ?? 0);
    const got = meas.density.inside / n;
    const power = b + 2 * bernsteinHalfWidth(n, 0.25, ai);
    outcomes.push(proportionOutcome('inside the support (boxes)', 'support', got, pin, t, b, ai, power, '|change of the mass inside the boxes|'));
  }
  const weak = outcomes.filter((o) => o.alpha > 0 && o.bias > o.envelope).map((o) => o.name);
  const warnings = [...bias.notes];
  if (weak.length > 0) {
    warnings.push(
      `bias-dominated (bias > envelope; more particles will not sharpen them, more steps or a smaller prior mismatch will): ${weak.join(', ')}`,
    );
  }
  const judged: TestOutcome[] = outcomes.map((o) => ({ ...o, verdict: testVerdict(o) }));
  const verdict = overallVerdict(judged);
  const inconclusive = judged.filter((o) => o.verdict === 'INCONCLUSIVE').map((o) => o.name);
  if (inconclusive.length > 0) {
    warnings.push(
      `inconclusive (passed, but the bias allowance exceeds ${CONCLUSIVE_BIAS_RATIO}x the envelope or the threshold cannot be exceeded): ${inconclusive.join(', ')}. ` +
        `To make them conclusive: ${remedy(bias, D)}`,
    );
  }
  return {
    pass: verdict === 'PASS',
    verdict,
    alpha,
    warnings,
    tests: m,
    particles: meas.particles,
    finite: n,
    bias: { ...bias, displacement: D },
    outcomes: judged,
  };
}
