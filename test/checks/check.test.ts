// The `check` pipeline end to end on the GPU (sampler + GPU-binned metrics + thresholds), at CI
// sizes (10^5 particles): exact cases pass, mutation twins fail.
//
// Exact cases (rk4, 40 steps on the EDM grid, so that the solver's bias terms stay small against
// the envelopes; the report warns when they do not): unguided sampling (w = 0) of a 1-D and a 2-D mixture against
// p_tMin(x|c); CFG between equal-variance Gaussian classes against the other class, whose guided
// law is exactly the tilted density N((1 + w) m_+ - w m_-, v) (its score is the CFG score at every
// t), checked --against tilted (and failing --against conditional).
// Twins: each mutation is 1.3 x the power that the exact case's report states for the test meant
// to catch it (variance x (1 + 1.3 power), mean + 1.3 power, a dropped mode), so each twin is
// detected with probability >= 1 - its alpha share; the named test must be among the failures.
import { expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';
import { runCheck, type CheckResult } from '../../src/cli/check.ts';
import { dropMode, scaleVariance, shiftMean } from '../../src/checks/mutations.ts';
import { describeGpu } from '../support/gpu.ts';

const VERBOSE = !!process.env.CHECKS_VERBOSE;
const G = (mean: number[], cov: unknown, weight = 1) => ({ kind: 'gaussian', weight, mean, cov });
const TWO = [
  { name: 'pos', components: [G([1], 1)] },
  { name: 'neg', components: [G([-1], 1)] },
];

function spec(raw: Record<string, unknown>): ExperimentSpec {
  return parseSpec({
    process: { kind: 'ou', T: 10 },
    solver: { kind: 'rk4', steps: 40, grid: 'edm', tMin: 1e-3 },
    particles: 100_000,
    seed: 3,
    ...raw,
  });
}

const twoGaussians = spec({ dim: 1, classes: TWO, target: 'pos' });
const threeModes = spec({
  dim: 1,
  classes: [
    { name: 'm', components: [G([-2], 0.1, 0.3), G([0], 0.2, 0.5), G([3], 0.3, 0.2)] },
    { name: 'b', components: [G([0.5], 4)] },
  ],
  target: 'm',
});
const boxes2d = spec({
  dim: 2,
  classes: [
    {
      name: 'd',
      components: [
        { kind: 'uniform', low: [-2, -2], high: [-0.5, -0.5] },
        { kind: 'uniform', low: [0.5, 0.5], high: [2, 2] },
      ],
    },
    {
      name: 'a',
      components: [
        { kind: 'uniform', low: [-2, 0.5], high: [-0.5, 2] },
        { kind: 'uniform', low: [0.5, -2], high: [2, -0.5] },
      ],
    },
  ],
  target: 'd',
  particles: 50_000,
});
const cfgTilted = spec({ dim: 1, classes: TWO, target: 'pos', guidance: { kind: 'cfg', w: 2, negative: 'neg' } });

function failures(r: CheckResult): string[] {
  return r.outcomes.filter((o) => !o.pass).map((o) => o.name);
}

function power(r: CheckResult, name: string): number {
  const o = r.outcomes.find((x) => x.name === name);
  if (!o) throw new Error(`no test ${name}`);
  return o.power;
}

await describeGpu('check (GPU metrics, 1e5 particles)', (gpu) => {
  const results = new Map<string, CheckResult>();
  const check = async (
    name: string,
    s: ExperimentSpec,
    against: 'conditional' | 'tilted' = 'conditional',
    sampler?: ExperimentSpec,
  ) => {
    const r = await runCheck(s, { against, alpha: 1e-6, backend: 'webgpu', table: VERBOSE }, gpu, sampler);
    results.set(name, r);
    return r;
  };

  it('two Gaussians, unguided: passes against p(x|c), every test limited by n, not by bias', async () => {
    const r = await check('two', twoGaussians);
    expect(failures(r)).toEqual([]);
    expect(r.tests).toBe(8);
    expect(r.warnings).toEqual([]);
  });

  it('three modes (1-D), unguided: passes against p(x|c)', async () => {
    expect(failures(await check('three', threeModes))).toEqual([]);
  });

  it('boxes (2-D), unguided: passes against p(x|c), support and HDR tests included', async () => {
    const r = await check('boxes', boxes2d);
    expect(failures(r)).toEqual([]);
    expect(r.outcomes.some((o) => o.kind === 'support')).toBe(true);
  });

  it('cfg between equal-variance Gaussians: passes against the tilted law, fails against p(x|c)', async () => {
    expect(failures(await check('tilted', cfgTilted, 'tilted'))).toEqual([]);
    const r = await check('tilted-vs-conditional', cfgTilted, 'conditional');
    expect(r.pass).toBe(false);
    expect(failures(r)).toContain('mean x0');
  });

  it('twin: variance x (1 + 1.3 power) fails the variance test', async () => {
    const p = power(results.get('two')!, 'variance x0');
    const r = await check('variance twin', twoGaussians, 'conditional', scaleVariance(twoGaussians, 1 + 1.3 * p));
    expect(failures(r)).toContain('variance x0');
  });

  it('twin: mean + 1.3 power fails the mean test', async () => {
    const p = power(results.get('two')!, 'mean x0');
    const r = await check('mean twin', twoGaussians, 'conditional', shiftMean(twoGaussians, 1.3 * p));
    expect(failures(r)).toContain('mean x0');
  });

  it('twin: a dropped mode fails occupancy, KS and chi-square', async () => {
    const r = await check('dropped twin', threeModes, 'conditional', dropMode(threeModes, 2));
    const f = failures(r);
    expect(f).toContain('occupancy of component 2');
    expect(f).toContain('KS x0');
    expect(f).toContain('chi-square x0 (64 bins)');
  });

  it('twin: boxes shifted by 1.3 x the KS power fail KS and the support test', async () => {
    const p = power(results.get('boxes')!, 'KS x0');
    // A shift s moves x0's CDF by up to s times its density (~ 1/3 per unit here): shift by 3 p / 0.3.
    const r = await check('boxes twin', boxes2d, 'conditional', shiftMean(boxes2d, (1.3 * p) / 0.3));
    const f = failures(r);
    expect(f).toContain('KS x0');
  });
});
