// Claim 3's closed forms (the affine guided ODE of Gaussian classes) and `reproduce cfg-variance`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  closedFormVariance,
  discreteMoments,
  integrateMoments,
  restoringWindowWeight,
  T_END,
  T_MIN,
  V_N,
  varianceSpec,
  W_OUT,
  WINDOW,
} from '../../src/reproduce/cfg-variance.ts';
import { processAt } from '../../src/processes/process.ts';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { fillNormals } from '../../src/rng/philox.ts';
import { reproduce } from '../support/reproduce-cli.ts';
import type { WSchedule } from '../../src/experiment/types.ts';

const schedules: WSchedule[] = [
  { kind: 'constant', w: 0 },
  { kind: 'constant', w: 3 },
  { kind: 'interval', w: 3, tLow: 0.3, tHigh: 1.5, outside: 0 },
  { kind: 'interval', w: restoringWindowWeight(), tLow: WINDOW[0], tHigh: WINDOW[1], outside: W_OUT },
];

it('closed-form variance agrees with the f64 RK4 integration of dv/dt = 2 a v', () => {
  for (const s of schedules) {
    const ode = integrateMoments(s);
    // The integrator's own error (halving) is ~1e-4 where the schedule jumps between steps.
    expect(Math.abs(ode.variance - closedFormVariance(s))).toBeLessThan(Math.max(5 * ode.error, 1e-9));
  }
});

it('constant w with vC = 1: v(tMin) = (DN(T) / DN(tMin))^w by hand', () => {
  const D = (t: number) => {
    const p = processAt({ kind: 'ou', T: T_END }, t);
    return p.alpha * p.alpha * V_N + p.sigma2;
  };
  for (const w of [1, 3, 10])
    expect(closedFormVariance({ kind: 'constant', w })).toBeCloseTo((D(T_END) / D(T_MIN)) ** w, 12);
});

it('the restoring window weight gives variance ratio 1; w = 0 in the window does not', () => {
  expect(restoringWindowWeight()).toBeLessThan(0);
  const dC = processAt({ kind: 'ou', T: T_END }, T_MIN);
  const vc = dC.alpha * dC.alpha + dC.sigma2;
  expect(closedFormVariance(schedules[3]) / vc).toBeCloseTo(1, 10);
  expect(closedFormVariance({ ...schedules[3], w: 0 } as WSchedule) / vc).toBeLessThan(0.5);
});

it("the sampler's exact discrete law converges to the ODE's at rk4's order", () => {
  const s: WSchedule = { kind: 'constant', w: 3 };
  const exact = closedFormVariance(s);
  const e1 = Math.abs(discreteMoments(varianceSpec(s, 1, 50, 1)).variance - exact);
  const e2 = Math.abs(discreteMoments(varianceSpec(s, 1, 100, 1)).variance - exact);
  expect(e2).toBeLessThan(e1 / 8); // fourth order: / 16 up to the grid's pre-asymptotic range
});

it("the CPU reference's particles are exactly the discrete affine map of their starts", () => {
  for (const s of schedules) {
    const sp = varianceSpec(s, 64, 40, 5);
    const d = discreteMoments(sp);
    const x = sampleCpu(sp).particles;
    const z = new Float64Array(4);
    for (let p = 0; p < 64; p++) {
      fillNormals(5, p, 0, 1, z); // stream 0: the prior draw (OU prior scale 1)
      expect(Math.abs(x[p] - (d.mean + Math.sqrt(d.variance) * z[0]))).toBeLessThan(1e-10 * (1 + Math.abs(x[p])));
    }
  }
});

it('cfg-variance --quick: PASS, with every number and the figures', () => {
  const r = reproduce('cfg-variance');
  expect(r.status, r.stderr).toBe(0);
  expect(r.json.verdict).toBe('PASS');
  expect(r.json.setup.particlesPerSetting).toBe(100000);
  expect(r.json.data.rows).toHaveLength(6);
  for (const row of r.json.data.rows)
    for (const k of ['varianceRatio', 'closedFormVarianceRatio', 'meanShift', 'discretisationBiasVariance'])
      expect(Number.isFinite(row[k])).toBe(true);
  for (const f of ['cfg-variance-constant', 'cfg-variance-windows'])
    for (const ext of ['svg', 'png']) expect(existsSync(join(r.out, `${f}.${ext}`))).toBe(true);
});

it('cfg-variance --quick --mutation (w = 0 in the negative window): FAIL', () => {
  const r = reproduce('cfg-variance', ['--mutation']);
  expect(r.status, r.stderr).toBe(1);
  expect(r.json.verdict).toBe('FAIL');
  expect(r.json.tests.find((t: any) => /= 1 \(restored\)/.test(t.name)).verdict).toBe('FAIL');
});
