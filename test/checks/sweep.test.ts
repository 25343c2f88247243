// `sweep` on the two-Gaussian CFG case (N(+-1, 1), OU, target +): the fractions of particles
// beyond sqrt(w) and on the wrong side of 0 agree with an independent high-accuracy integration
// (scripts/two_gaussians_reference.py: scipy solve_ivp, rtol 1e-12, pushing N(0, 1) quantiles
// through the monotone 1-D flow map) within a Bernstein envelope (family alpha 1e-6 over the
// 2 x 3 comparisons) plus the solver's displacement times the density bound plus the prior's TV;
// the sweep writes JSON, CSV, SVG and PNG. The reference test is skipped (with the reason) where
// python3 with numpy and scipy is not importable.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runSweep, sweepSettings, type SweepRow } from '../../src/cli/sweep.ts';
import { bernsteinHalfWidth } from '../../src/metrics/statistics.ts';
import { priorTv, solverTerms } from '../../src/checks/bias.ts';
import { targetDef } from '../../src/targets/from-spec.ts';
import { describeGpu } from '../support/gpu.ts';

const RAW = {
  dim: 1,
  classes: [
    { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 10 },
  guidance: { kind: 'cfg', w: 3 },
  solver: { kind: 'rk4', steps: 40, grid: 'edm', tMin: 1e-3 },
  particles: 200_000,
  seed: 2,
};
const WS = [0, 1, 3];

const python = spawnSync('python3', ['-c', 'import numpy, scipy'], { encoding: 'utf8' });
const havePython = python.status === 0;

await describeGpu('sweep (two Gaussians, CFG)', (gpu) => {
  let rows: SweepRow[] = [];
  const out = mkdtempSync(join(tmpdir(), 'sweep-'));

  it('writes one row per w as JSON and CSV, with SVG and PNG figures', async () => {
    const settings = sweepSettings(structuredClone(RAW), { w: WS });
    rows = await runSweep(settings, { backend: 'webgpu', outDir: out }, gpu);
    expect(rows.map((r) => r.w)).toEqual(WS);
    for (const f of [
      'sweep.json',
      'sweep.csv',
      'fidelity-coverage.svg',
      'fidelity-coverage.png',
      'histograms.svg',
      'histograms.png',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(readFileSync(join(out, 'histograms.svg'), 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(join(out, 'sweep.csv'), 'utf8').split('\n')[0]).toContain('fracBeyondSqrtW');
    // Guidance moves the law away from p(x|c): the KS distance to it grows with w.
    expect(Number(rows[2].ksConditional)).toBeGreaterThan(Number(rows[0].ksConditional));
    expect(Number(rows[0].modeCoverage)).toBe(1);
  });

  it.skipIf(!havePython)(
    `fractions beyond sqrt(w) and on the wrong side of 0 match scipy's solve_ivp reference${havePython ? '' : ' (skipped: python3 with numpy and scipy not importable)'}`,
    () => {
      const ref = JSON.parse(
        execFileSync('python3', ['scripts/two_gaussians_reference.py', '--w', WS.join(','), '--tmin', '0.001'], {
          encoding: 'utf8',
        }),
      ) as { rows: { w: number; fracBeyondSqrtW: number; fracWrongSide: number }[] };
      const alpha = 1e-6 / (2 * WS.length);
      rows.forEach((row, i) => {
        const spec = sweepSettings(structuredClone(RAW), { w: [WS[i]] })[0].spec;
        const shift = solverTerms(spec).shift;
        const tv = priorTv(targetDef(spec, 'conditional'));
        const n = Number(row.particles);
        for (const key of ['fracBeyondSqrtW', 'fracWrongSide'] as const) {
          const p = ref.rows[i][key];
          // A displacement D moves a half-line's mass by at most D times the sampled law's density (< 1 here).
          const tol = bernsteinHalfWidth(n, p * (1 - p), alpha) + shift * 1 + tv + 1e-9;
          if (process.env.CHECKS_VERBOSE) console.log(`w=${WS[i]} ${key}: sweep ${row[key]} scipy ${p} tol ${tol}`);
          expect(Math.abs(Number(row[key]) - p), `w = ${WS[i]} ${key}`).toBeLessThanOrEqual(tol);
        }
      });
    },
  );
});
