// CFG++ (guidance.variant cfgpp) on the CPU reference, against an independent f64 implementation
// of the paper's DDIM update written here from the model's exact scores (MixtureEvaluator), not
// from the step table: per particle on every process (flow's first step at alpha = 0 included),
// its identities (s_c = s_u: no dependence on lambda, plain DDIM; lambda = 0: DDIM on the
// negative), and a mutation twin (the common "DDIM with the cfg score" rule, renoising with the
// guided noise estimate instead of the negative's) that the comparison must tell apart.
import { describe, expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { planGuidance } from '../../src/guidance/guidance.ts';
import { groupDataMean, MixtureEvaluator, type Group } from '../../src/model/mixture.ts';
import { targetDef } from '../../src/targets/from-spec.ts';
import { priorScale, processAt, startTime } from '../../src/processes/process.ts';
import { fillNormals } from '../../src/rng/philox.ts';
import { timeGrid } from '../../src/solvers/grid.ts';
import { buildStepTable } from '../../src/solvers/table.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';

type Raw = Record<string, any>;

// 2-D: a full-covariance Gaussian and a box in the target, a diagonal Gaussian and a box in the other class.
const CLASSES: Raw[] = [
  {
    name: 'pos',
    weight: 1,
    components: [
      {
        kind: 'gaussian',
        mean: [1, 0.5],
        cov: [
          [0.5, 0.2],
          [0.2, 0.4],
        ],
      },
      { kind: 'uniform', weight: 0.5, low: [1.5, -1.5], high: [2.5, -0.5] },
    ],
  },
  {
    name: 'neg',
    weight: 2,
    components: [
      { kind: 'gaussian', mean: [-1, 0], cov: [1, 0.6] },
      { kind: 'uniform', low: [-2, 1], high: [-1, 2] },
    ],
  },
];

const PROCESSES: Raw[] = [{ kind: 'ou', T: 6 }, { kind: 'vp' }, { kind: 've', sigmaMax: 20 }, { kind: 'flow' }];

function cfgppSpec(process: Raw, lambda: number, extra: Raw = {}, steps = 12): ExperimentSpec {
  return parseSpec({
    dim: 2,
    classes: CLASSES,
    target: 'pos',
    process,
    guidance: { kind: 'cfg', variant: { kind: 'cfgpp', lambda }, ...extra },
    solver: { kind: 'euler', steps, tMin: process.kind === 've' ? 0.02 : 0.01 },
    particles: 200,
    seed: 11,
  });
}

/**
 * One discrete step from the test's own formulas: given x, the target's and negative's exact
 * scores s_c, s_u at (alpha_n, sigma_n), and the data means m_c, m_u (the posterior means at
 * alpha = 0), returns x_{n+1}.
 */
type Rule = (
  x: Float64Array,
  sc: Float64Array,
  su: Float64Array,
  mc: Float64Array,
  mu: Float64Array,
  p0: { alpha: number; sigma: number },
  p1: { alpha: number; sigma: number },
) => Float64Array;

/** CFG++ as written in the paper: x0hat from s_lambda, renoised with eps_u = -sigma s_u. */
const cfgppRule =
  (lambda: number): Rule =>
  (x, sc, su, mc, mu, p0, p1) =>
    x.map((xi, i) => {
      if (p0.alpha === 0) {
        // x0hat = E_lambda[x_0 | x] = the lambda-mixed data mean; eps_u = (x - 0 x0hat) / sigma.
        const x0hat = mu[i] + lambda * (mc[i] - mu[i]);
        return p1.alpha * x0hat + p1.sigma * (xi / p0.sigma);
      }
      const sl = su[i] + lambda * (sc[i] - su[i]);
      const x0hat = (xi + p0.sigma * p0.sigma * sl) / p0.alpha;
      const epsU = -p0.sigma * su[i];
      return p1.alpha * x0hat + p1.sigma * epsU;
    });

/** The mutation twin: DDIM with the cfg-like score s_lambda in both x0hat and the noise estimate. */
const ddimOnMixedScoreRule =
  (lambda: number): Rule =>
  (x, sc, su, mc, mu, p0, p1) =>
    x.map((xi, i) => {
      if (p0.alpha === 0) return p1.alpha * (mu[i] + lambda * (mc[i] - mu[i])) + p1.sigma * (xi / p0.sigma);
      const sl = su[i] + lambda * (sc[i] - su[i]);
      return p1.alpha * ((xi + p0.sigma * p0.sigma * sl) / p0.alpha) - p1.sigma * p0.sigma * sl;
    });

/** Plain DDIM (eta = 0) on one group's score: both s_c and s_u slots get that group. */
const ddimRule: Rule = (x, sc, _su, mc, _mu, p0, p1) => cfgppRule(1)(x, sc, sc, mc, mc, p0, p1);

/**
 * Runs `rule` over the spec's grid from the spec's particles (stream 0 of the generator, times
 * the prior scale), with scores of the given target and negative groups (default: the spec's).
 */
function runRule(spec: ExperimentSpec, rule: Rule, groups: { target?: Group; negative?: Group } = {}): Float64Array {
  const plan = planGuidance(spec);
  const model = plan.model;
  const target = groups.target ?? plan.target;
  const negative = groups.negative ?? plan.negative!;
  const d = spec.dim;
  const ev = new MixtureEvaluator(model);
  const mc = groupDataMean(model, target);
  const mu = groupDataMean(model, negative);
  const times = timeGrid(spec.solver.grid, startTime(spec.process), spec.solver.tMin, spec.solver.steps);
  const at = (t: number) => {
    const p = processAt(spec.process, t);
    return { alpha: p.alpha, sigma: Math.sqrt(p.sigma2), sigma2: p.sigma2 };
  };
  const out = new Float64Array(spec.particles * d);
  const z = new Float64Array(Math.ceil(d / 4) * 4);
  for (let p = 0; p < spec.particles; p++) {
    fillNormals(spec.seed, p, 0, d, z);
    let x: Float64Array = Float64Array.from({ length: d }, (_, i) => priorScale(spec.process) * z[i]);
    for (let n = 0; n < spec.solver.steps; n++) {
      const p0 = at(times[n]);
      const p1 = at(times[n + 1]);
      ev.setTime(p0.alpha, p0.sigma2);
      ev.evaluateComponents(x);
      const sc = new Float64Array(d);
      const su = new Float64Array(d);
      ev.addGroupScore(target, 1, sc);
      ev.addGroupScore(negative, 1, su);
      x = rule(x, sc, su, mc, mu, p0, p1);
    }
    out.set(x, p * d);
  }
  return out;
}

/** Largest |a - b| / max(1, |b|); every value must be finite. */
function maxRelDiff(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    expect(Number.isFinite(a[i]) && Number.isFinite(b[i])).toBe(true);
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  }
  return worst;
}

// Both implementations are f64 evaluations of the same exact scores; they differ only in the
// order of the roundings (the sampler goes through x + h (cx x + s)), a few ulps of the O(1..20)
// values per step, amplified at most mildly by the contracting flow over 12 steps.
const TOL = 1e-11;

describe("cfgpp: the CPU sampler is the paper's DDIM update, per particle", () => {
  for (const process of PROCESSES) {
    for (const negative of ['unconditional', 'neg', { components: [{ kind: 'gaussian', mean: [0, 1], cov: 2 }] }]) {
      const label = typeof negative === 'string' ? negative : 'inline';
      it(`${process.kind}, negative ${label}, lambda 0.6`, () => {
        const spec = cfgppSpec(process, 0.6, { negative });
        const sampler = sampleCpu(spec).particles;
        const reference = runRule(spec, cfgppRule(0.6));
        const gap = maxRelDiff(sampler, reference);
        expect(gap).toBeLessThan(TOL);
        // Mutation twin: renoising with the lambda-mixed noise estimate (DDIM on the cfg-like
        // score) instead of the negative's. The comparison must see it, far beyond TOL.
        const twin = maxRelDiff(runRule(spec, ddimOnMixedScoreRule(0.6)), reference);
        expect(twin).toBeGreaterThan(1e3 * TOL);
        // And lambda itself: a 1 % change is seen too.
        const lambdaTwin = maxRelDiff(runRule(spec, cfgppRule(0.606)), sampler);
        expect(lambdaTwin).toBeGreaterThan(1e3 * TOL);
      });
    }
  }

  it('lambda > 1 (extrapolation) follows the same formula', () => {
    const spec = cfgppSpec(PROCESSES[0], 1.8);
    expect(maxRelDiff(sampleCpu(spec).particles, runRule(spec, cfgppRule(1.8)))).toBeLessThan(TOL);
  });
});

describe('cfgpp identities', () => {
  for (const process of PROCESSES) {
    it(`${process.kind}: with the target as its own negative (s_c = s_u) it does not depend on lambda and is plain DDIM`, () => {
      const spec = (lambda: number) => cfgppSpec(process, lambda, { negative: 'pos' });
      const ddim = runRule(spec(0), ddimRule);
      for (const lambda of [0, 0.3, 1, 1.7]) {
        expect(maxRelDiff(sampleCpu(spec(lambda)).particles, ddim), `lambda ${lambda}`).toBeLessThan(TOL);
      }
    });

    it(`${process.kind}: lambda = 0 is plain DDIM on the negative`, () => {
      for (const negative of ['unconditional', 'neg']) {
        const spec = cfgppSpec(process, 0, { negative });
        const plan = planGuidance(spec);
        const ddimNegative = runRule(spec, ddimRule, { target: plan.negative!, negative: plan.negative! });
        expect(maxRelDiff(sampleCpu(spec).particles, ddimNegative), negative).toBeLessThan(TOL);
        // ... and not DDIM on the target (the identity is not vacuous).
        const ddimTarget = runRule(spec, ddimRule, { target: plan.target, negative: plan.target });
        expect(maxRelDiff(sampleCpu(spec).particles, ddimTarget), negative).toBeGreaterThan(1e-3);
      }
    });
  }
});

describe('cfgpp rows and consumers of the guidance weight', () => {
  it('the step rows hold the DDIM coefficients: gammas that do not sum to 1, alpha = 0 handled', () => {
    for (const process of PROCESSES) {
      const spec = cfgppSpec(process, 0.4);
      const table = buildStepTable(spec, planGuidance(spec));
      expect(table.rows.length).toBe(spec.solver.steps);
      table.rows.forEach((row, n) => {
        const p0 = processAt(spec.process, table.times[n]);
        const p1 = processAt(spec.process, table.times[n + 1]);
        const [s0, s1] = [Math.sqrt(p0.sigma2), Math.sqrt(p1.sigma2)];
        const h = table.times[n + 1] - table.times[n];
        expect(row.h).toBe(h);
        expect(row.noiseScale).toBe(0);
        // x_{n+1} = x + h (cx x + cs (gT s_c + gN s_u) + cMean (gT m_c + gN m_u)), term by term.
        if (p0.alpha > 0) {
          const r = p1.alpha / p0.alpha;
          expect(h * row.cx).toBeCloseTo(r - 1, 12);
          expect(row.cs).toBe(1);
          expect(row.cMean).toBe(0);
          expect(h * row.gammaTarget).toBeCloseTo(r * p0.sigma2 * 0.4, 10);
          expect(h * row.gammaNegative).toBeCloseTo(r * p0.sigma2 * 0.6 - s1 * s0, 10);
        } else {
          expect(process.kind).toBe('flow');
          expect(n).toBe(0);
          expect(h * row.cx).toBeCloseTo(s1 / s0 - 1, 12);
          expect(row.cs).toBe(0);
          expect(h * row.cMean).toBeCloseTo(p1.alpha, 12);
          expect([row.gammaTarget, row.gammaNegative]).toEqual([0.4, 0.6]);
        }
      });
      // Not a score combination with gammas summing to 1 (what -gammaNegative = w would assume).
      const sums = table.rows.filter((r) => r.alpha > 0).map((r) => r.gammaTarget + r.gammaNegative);
      expect(sums.some((s) => Math.abs(s - 1) > 0.1)).toBe(true);
    }
  });

  it("planGuidance has no gamma(t) for cfgpp, and the tilted target (cfg's ODE limit) is refused", () => {
    const spec = cfgppSpec(PROCESSES[0], 0.5);
    expect(() => planGuidance(spec).coefficients(1)).toThrow(/per-step coefficients/);
    expect(() => targetDef(spec, 'tilted')).toThrow(/cfgpp \(CFG\+\+\) has no tilted target/);
    expect(targetDef(spec, 'conditional').coefA).toBe(1);
  });

  it("there is no ODE limit: the guidance effect grows with the step count, unlike cfg's", () => {
    // Two 1-D Gaussians at +-1: the particles' mean under CFG++ keeps moving as the steps are
    // refined, while euler cfg (an ODE discretisation) converges.
    const base = (guidance: Raw, steps: number) =>
      parseSpec({
        dim: 1,
        classes: [
          { name: 'pos', components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
          { name: 'neg', components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
        ],
        target: 'pos',
        process: { kind: 'ou', T: 6 },
        guidance,
        solver: { kind: 'euler', steps, tMin: 0.01 },
        particles: 400,
        seed: 3,
      });
    const mean = (spec: ExperimentSpec) => sampleCpu(spec).particles.reduce((a, b) => a + b, 0) / spec.particles;
    const cfgpp = [25, 50, 100, 200].map((n) =>
      mean(base({ kind: 'cfg', variant: { kind: 'cfgpp', lambda: 0.5 } }, n)),
    );
    const cfg = [25, 50, 100, 200].map((n) => mean(base({ kind: 'cfg', w: 1 }, n)));
    // cfg's successive differences shrink like h; CFG++'s do not.
    const diffs = (m: number[]) => m.slice(1).map((v, i) => v - m[i]);
    const dCfg = diffs(cfg);
    const dPlus = diffs(cfgpp);
    expect(Math.abs(dCfg[2])).toBeLessThan(0.6 * Math.abs(dCfg[0]));
    expect(dPlus.every((d) => d > 0)).toBe(true); // the pull towards pos keeps growing
    expect(Math.abs(dPlus[2])).toBeGreaterThan(0.6 * Math.abs(dPlus[0]));
    expect(dPlus[2]).toBeGreaterThan(10 * Math.abs(dCfg[2]));
  });
});
