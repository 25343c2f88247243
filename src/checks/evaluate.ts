// The check: every test's statistic, threshold and power from a plan, measurements and bias
// terms (the statistics themselves: src/metrics/statistics.ts).

import type { CheckPlan } from './plan.ts';
import type { Measurements } from './measure.ts';
import type { BiasTerms } from './bias.ts';
import { regionSensitivities } from './bias.ts';
import { F32_SUM_RELATIVE_ERROR } from '../gpu/density-metrics.ts';
import { gridExpectation } from '../targets/grid.ts';
import { sampleTarget } from '../targets/sample.ts';
import { TargetEvaluator } from '../targets/definition.ts';

import {
  bernsteinHalfWidth,
  binnedKs,
  chiSquareUpper,
  COARSE_BINS,
  CONCLUSIVE_BIAS_RATIO,
  DEFAULT_ALPHA,
  dkwEpsilon,
  FINE_BINS,
  mergeBins,
  overallVerdict,
  pearson,
  testVerdict,
  withEnds,
  zEnvelope,
  type TestOutcome,
  type Verdict,
} from '../metrics/statistics.ts';

/** What would shrink the dominant bias term. */
function remedy(bias: BiasTerms, displacement: number): string {
  const steps =
    'more solver steps, a higher-order solver (rk4) or a grid finer near tMin (solver.grid: { "kind": "edm", "rho": 7 })';
  const prior = 'start: "exact" (no prior mismatch) or a later start time';
  if (bias.priorTv > displacement) return `${prior}; then ${steps}`;
  return `${steps}${bias.priorTv > 0 ? `; and ${prior}` : ''}`;
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
  return {
    name,
    kind,
    statistic,
    threshold: envelope + bias,
    pass: statistic <= envelope + bias,
    alpha,
    envelope,
    bias,
    power,
    powerMeaning,
    expected,
  };
}

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
  for (let p = 0; p < m; p++)
    if (Math.abs(ev.logDensity(xs.subarray(p * plan.def.dim, (p + 1) * plan.def.dim)) - level) <= width) hit++;
  return hit / m + dkwEpsilon(m, 1e-9);
}

export function evaluateChecks(
  plan: CheckPlan,
  meas: Measurements,
  bias: BiasTerms,
  alpha = DEFAULT_ALPHA,
): CheckReport {
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
      proportionOutcome(
        `occupancy of component ${kk}`,
        'occupancy',
        got,
        pk,
        t,
        b,
        ai,
        power,
        '|change of the component weight| (soft occupancy)',
      ),
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
    outcomes.push(
      proportionOutcome(
        `inside the ${q * 100}% HDR`,
        'HDR',
        got,
        q,
        t,
        b,
        ai,
        power,
        '|change of the mass inside the region|',
      ),
    );
  });
  if (plan.inside) {
    const pin = plan.inside.p;
    const v = pin * (1 - pin);
    const t = bernsteinHalfWidth(n, v, ai);
    let faces = 0;
    for (const p of plan.projections.filter((pp) => pp.u.filter((x) => x !== 0).length === 1))
      faces += 2 * p.target.maxDensity;
    const b = tv + plan.inside.error + D * faces * (plan.boxes?.length ?? 0);
    const got = meas.density.inside / n;
    const power = b + 2 * bernsteinHalfWidth(n, 0.25, ai);
    outcomes.push(
      proportionOutcome(
        'inside the support (boxes)',
        'support',
        got,
        pin,
        t,
        b,
        ai,
        power,
        '|change of the mass inside the boxes|',
      ),
    );
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
