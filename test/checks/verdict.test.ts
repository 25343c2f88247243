// The fourth verdict (issue 13): a passing test whose bias allowance dwarfs its envelope, or whose
// threshold the statistic cannot exceed, is INCONCLUSIVE, never PASS; exit status 3.
// End to end: a tight 2-D mixture on a coarse heun grid (the case: variance ~15x the
// target's, the Richardson term makes every threshold huge) must not say PASS, while the same
// mixture on a fine rk4 edm grid with start "exact" is conclusive and passes; its variance twin fails.
import { describe, expect, it } from 'vitest';
import { CONCLUSIVE_BIAS_RATIO, overallVerdict, testVerdict, type TestOutcome } from '../../src/metrics/statistics.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { runCheck } from '../../src/cli/check.ts';
import { scaleVariance } from '../../src/checks/mutations.ts';
import { describeGpu } from '../support/gpu.ts';

const base: Omit<TestOutcome, 'verdict'> = {
  name: 't',
  kind: 'KS',
  statistic: 0.01,
  threshold: 0.02,
  pass: true,
  alpha: 1e-6,
  envelope: 0.01,
  bias: 0.01,
  power: 0.04,
  powerMeaning: '',
};

describe('test verdicts', () => {
  it('pass with a small bias is PASS; failing is FAIL whatever the bias', () => {
    expect(testVerdict(base)).toBe('PASS');
    expect(testVerdict({ ...base, pass: false, bias: 100 })).toBe('FAIL');
  });
  it('bias over the ratio times the envelope is INCONCLUSIVE', () => {
    expect(testVerdict({ ...base, bias: CONCLUSIVE_BIAS_RATIO * 0.01 * 0.99, threshold: 0.04 })).toBe('PASS');
    expect(testVerdict({ ...base, bias: CONCLUSIVE_BIAS_RATIO * 0.01 * 1.01, threshold: 0.04 })).toBe('INCONCLUSIVE');
  });
  it('a threshold the statistic cannot exceed is INCONCLUSIVE (KS >= 1, a proportion beyond max(p, 1-p))', () => {
    expect(testVerdict({ ...base, envelope: 0.5, bias: 0.5, threshold: 1 })).toBe('INCONCLUSIVE');
    expect(testVerdict({ ...base, kind: 'HDR', expected: 0.9, envelope: 0.5, bias: 0.45, threshold: 0.95 })).toBe(
      'INCONCLUSIVE',
    );
    expect(testVerdict({ ...base, kind: 'HDR', expected: 0.9, envelope: 0.2, bias: 0.1, threshold: 0.3 })).toBe('PASS');
  });
  it('overall: FAIL beats INCONCLUSIVE beats PASS', () => {
    expect(overallVerdict([{ verdict: 'PASS' }, { verdict: 'INCONCLUSIVE' }])).toBe('INCONCLUSIVE');
    expect(overallVerdict([{ verdict: 'FAIL' }, { verdict: 'INCONCLUSIVE' }])).toBe('FAIL');
    expect(overallVerdict([{ verdict: 'PASS' }, { verdict: 'PASS' }])).toBe('PASS');
  });
});

const tight = (solver: Record<string, unknown>, start: 'prior' | 'exact') =>
  parseSpec({
    dim: 2,
    classes: [
      {
        name: 'a',
        components: [
          { kind: 'gaussian', mean: [1, 1], cov: 0.01 },
          { kind: 'gaussian', mean: [-1, -1], cov: 0.01 },
        ],
      },
      { name: 'b', components: [{ kind: 'gaussian', mean: [1, -1], cov: 0.01 }] },
    ],
    target: 'a',
    process: { kind: 'ou', T: 10 },
    solver,
    start,
    particles: 100_000,
    seed: 2,
  });

await describeGpu('check verdicts end to end', (ctx) => {
  it('a coarse heun grid: never PASS', async () => {
    const r = await runCheck(
      tight({ kind: 'heun', steps: 4, tMin: 1e-3 }, 'prior'),
      { against: 'conditional', alpha: 1e-6, backend: 'webgpu' },
      ctx,
    );
    expect(r.verdict).not.toBe('PASS');
    expect(r.pass).toBe(false);
  });
  it('a fine rk4 edm grid: conclusive PASS; its variance x1.3 twin FAILs', async () => {
    const spec = tight({ kind: 'rk4', steps: 60, tMin: 1e-3, grid: { kind: 'edm', rho: 7 } }, 'prior');
    const r = await runCheck(spec, { against: 'conditional', alpha: 1e-6, backend: 'webgpu' }, ctx);
    expect(
      r.outcomes
        .filter((o) => o.verdict !== 'PASS')
        .map((o) => `${o.name}: ${o.verdict} bias ${o.bias} env ${o.envelope}`),
    ).toEqual([]);
    expect(r.verdict).toBe('PASS');
    const twin = await runCheck(
      spec,
      { against: 'conditional', alpha: 1e-6, backend: 'webgpu' },
      ctx,
      scaleVariance(spec, 1.3),
    );
    expect(twin.verdict).toBe('FAIL');
  });
});

describe('chi-square verdicts in discrepancy units', () => {
  it('threshold up to (1 + ratio)^2 envelopes is conclusive, beyond is not', () => {
    const chi = { ...base, kind: 'chi-square' as const, statistic: 60, envelope: 142 };
    const edge = (1 + CONCLUSIVE_BIAS_RATIO) ** 2 * 142;
    expect(testVerdict({ ...chi, threshold: edge * 0.99, bias: edge * 0.99 - 142 })).toBe('PASS');
    expect(testVerdict({ ...chi, threshold: edge * 1.01, bias: edge * 1.01 - 142 })).toBe('INCONCLUSIVE');
  });
});

describe('check exit status', () => {
  it('an inconclusive check exits 3 (CPU, 5000 particles, heun with 12 uniform steps)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'gs-verdict-'));
    const path = join(dir, 'coarse.json');
    const G = (m: number) => ({ kind: 'gaussian', mean: [m], cov: 1 });
    writeFileSync(
      path,
      JSON.stringify({
        dim: 1,
        classes: [
          { name: 'pos', components: [G(1)] },
          { name: 'neg', components: [G(-1)] },
        ],
        target: 'pos',
        process: { kind: 'ou', T: 10 },
        solver: { kind: 'heun', steps: 12 },
        particles: 5000,
        seed: 2,
      }),
    );
    const r = spawnSync(process.execPath, ['bin/guidance-sampler.js', 'check', path, '--backend', 'cpu'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toContain('INCONCLUSIVE');
    expect(r.status).toBe(3);
    expect(JSON.parse(r.stdout).verdict).toBe('INCONCLUSIVE');
  });
});
