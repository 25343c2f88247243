// Claim 4's exact route (the sampler's discrete RK4 map of one bit-coordinate, the product
// structure of the k-bit mixtures) and `reproduce distortion-modes --quick` with its twin.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { discreteMap, exact1d, modesSpec, S } from '../../src/reproduce/distortion-modes.ts';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { fillNormals } from '../../src/rng/philox.ts';
import { reproduce } from '../support/reproduce-cli.ts';

it("the k-bit mixture's CPU particles are, coordinate by coordinate, the exact 1-D map of their starts", () => {
  const k = 2;
  const d = 3;
  const R = 1.3;
  const sp = modesSpec(k, R, d, 3, 32, 40, 7);
  const x = sampleCpu(sp).particles;
  const z = new Float64Array(4);
  const starts = new Float64Array(32 * d);
  for (let p = 0; p < 32; p++) {
    fillNormals(7, p, 0, d, z); // stream 0: the prior draw (OU prior scale 1)
    for (let j = 0; j < d; j++) starts[p * d + j] = z[j];
  }
  // Bit-coordinates: the guided map against the mixture of N(+-R); the free one: w has no effect.
  const bit = discreteMap(modesSpec(1, R, 1, 3, 1, 40, 7), R, starts);
  const free = discreteMap(modesSpec(1, R, 1, 0, 1, 40, 7), 0, starts);
  for (let p = 0; p < 32; p++)
    for (let j = 0; j < d; j++) {
      const want = j < k ? bit.x[p * d + j] : free.x[p * d + j];
      expect(Math.abs(x[p * d + j] - want)).toBeLessThan(1e-10 * (1 + Math.abs(want)));
    }
});

it('the exact per-bit KL: 0 without guidance, bounded in the separation, converged in steps and bins', () => {
  expect(Math.abs(exact1d(1, 0, 50, 1001).kl)).toBeLessThan(1e-6);
  const near = exact1d(1, 3, 50, 1001);
  const far = exact1d(4, 3, 50, 1001);
  expect(near.kl).toBeGreaterThan(0.5);
  expect(Math.abs(far.kl - near.kl)).toBeLessThan(0.01 * near.kl);
  expect(Math.abs(near.kl - near.odeKl)).toBeLessThan(1e-4);
  expect(near.binnedKl).toBeLessThanOrEqual(near.kl);
  expect(near.kl - near.binnedKl).toBeLessThan(0.01);
  // Guidance moves the mean away from the other class and shrinks the variance below s^2.
  expect(near.mean).toBeGreaterThan(1);
  expect(near.variance).toBeLessThan(S * S);
});

it('distortion-modes --quick: PASS, with every number and the figure', () => {
  const r = reproduce('distortion-modes');
  expect(r.status, r.stderr).toBe(0);
  expect(r.json.verdict).toBe('PASS');
  expect(r.json.setup.particlesPerSetting).toBe(10000);
  expect(r.json.setup.dims).toEqual([2, 8, 32]);
  for (const row of r.json.data.rows)
    for (const key of ['binnedKlSampled', 'binnedKlExact', 'klPerBitOde', 'deltaSampled', 'deltaExact'])
      expect(Number.isFinite(row[key])).toBe(true);
  for (const ext of ['svg', 'png']) expect(existsSync(join(r.out, `distortion-modes.${ext}`))).toBe(true);
});

it("distortion-modes --quick --mutation (the growth laws' labels swapped): FAIL", () => {
  const r = reproduce('distortion-modes', ['--mutation']);
  expect(r.status, r.stderr).toBe(1);
  expect(r.json.verdict).toBe('FAIL');
  expect(r.json.tests.find((t: { name: string }) => /exponential: persists/.test(t.name)).verdict).toBe('FAIL');
  expect(r.json.tests.find((t: { name: string }) => /linear: falls/.test(t.name)).verdict).toBe('FAIL');
});
