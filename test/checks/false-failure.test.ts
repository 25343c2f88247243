// The thresholds' false-failure rate, verified by simulation at small n: R checks of exact samples
// of the target (drawn on the CPU, no sampler, so every bias term is 0) at a family-wise alpha
// large enough to count failures. Bonferroni makes the family-wise rate at most alpha; the
// observed rate must not exceed alpha by more than 3 binomial standard deviations (a 1e-3
// one-sided allowance: the simulation itself is deterministic for its seeds).
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { planCheck } from '../../src/checks/plan.ts';
import { evaluateChecks } from '../../src/checks/evaluate.ts';
import { binOnCpu, type Measurements } from '../../src/checks/measure.ts';
import { CpuDensityMetrics } from '../../src/metrics/density.ts';
import { sampleTarget } from '../../src/targets/sample.ts';
import type { BiasTerms } from '../../src/checks/bias.ts';

const ZERO_BIAS: BiasTerms = {
  solverShift: 0,
  solverShiftMethod: 'none',
  f32Shift: 0,
  priorTv: 0,
  priorW2: 0,
  flowLipschitz: 1,
  notes: [],
};

async function simulate(raw: Record<string, unknown>, n: number, replications: number, alpha: number) {
  const spec = parseSpec({
    process: { kind: 'ou' },
    solver: { kind: 'euler', steps: 1, tMin: 1e-3 },
    particles: n,
    ...raw,
  });
  const plan = planCheck(spec, 'conditional');
  let failures = 0;
  const perKind = new Map<string, number>();
  for (let r = 0; r < replications; r++) {
    const xs = sampleTarget(plan.def, n, 1000 + r);
    const density = new CpuDensityMetrics(plan.measurePlan.density);
    await density.accumulate(xs, n);
    const meas: Measurements = {
      particles: n,
      histograms: plan.measurePlan.histograms.map((h) => binOnCpu(h, spec.dim, xs, n)),
      density: await density.read(),
      backend: 'cpu',
      adapter: null,
      sampleSeconds: 0,
    };
    const report = evaluateChecks(plan, meas, ZERO_BIAS, alpha);
    if (report.verdict === 'FAIL') failures++; // the false-FAIL rate; INCONCLUSIVE is not a failure
    for (const o of report.outcomes) if (!o.pass) perKind.set(o.kind, (perKind.get(o.kind) ?? 0) + 1);
  }
  return { failures, perKind, tests: planCheck(spec, 'conditional') && 0 };
}

describe('false-failure rate of the check thresholds (simulation, exact samples)', () => {
  const cases = [
    {
      name: 'three modes (1-D)',
      raw: {
        dim: 1,
        classes: [
          {
            name: 'm',
            components: [
              { kind: 'gaussian', weight: 0.3, mean: [-2], cov: 0.1 },
              { kind: 'gaussian', weight: 0.5, mean: [0], cov: 0.2 },
              { kind: 'gaussian', weight: 0.2, mean: [3], cov: 0.3 },
            ],
          },
          { name: 'b', components: [{ kind: 'gaussian', mean: [0.5], cov: 4 }] },
        ],
        target: 'm',
      },
      replications: 300,
    },
    {
      name: 'two boxes (2-D, support and diagonal projections)',
      raw: {
        dim: 2,
        classes: [
          {
            name: 'd',
            components: [
              { kind: 'uniform', low: [-2, -2], high: [-0.5, -0.5] },
              { kind: 'uniform', low: [0.5, 0.5], high: [2, 2] },
            ],
          },
          { name: 'a', components: [{ kind: 'uniform', low: [-2, 0.5], high: [-0.5, 2] }] },
        ],
        target: 'd',
      },
      replications: 120,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: at most alpha = 0.1 of ${c.replications} checks of n = 4000 exact samples fail`, async () => {
      const alpha = 0.1;
      const { failures, perKind } = await simulate(c.raw, 4000, c.replications, alpha);
      const allowed = c.replications * alpha + 3 * Math.sqrt(c.replications * alpha * (1 - alpha));
      if (process.env.CHECKS_VERBOSE) console.log(c.name, failures, Object.fromEntries(perKind));
      expect(failures, `failures by kind: ${JSON.stringify(Object.fromEntries(perKind))}`).toBeLessThanOrEqual(allowed);
    });
  }
});
