// Claim 5 (cross-entropy controls classifier-guidance error): the common-slope log-log fit and its
// confidence interval (with a mutation twin, the pooled fit without per-level intercepts, which
// must fail the same check), the quadrature and binned-KL statistics against closed forms, and
// `reproduce cross-entropy --quick` (PASS) with its twin (rippled classifiers: FAIL).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ExactClassifier, PriorClassifier } from '../../src/model/classifier/classifier.ts';
import { buildModel } from '../../src/model/mixture.ts';
import { processAt } from '../../src/processes/process.ts';
import {
  binnedKlNormal,
  integratedBound,
  levelQuadrature,
  RippledClassifier,
} from '../../src/reproduce/cross-entropy-stats.ts';
import { crossEntropySpec } from '../../src/reproduce/cross-entropy.ts';
import { fitLogLog, type LogLogFit, type LogLogPoint } from '../../src/reproduce/loglog-fit.ts';
import { prepareExperiment } from '../../src/experiment/plan.ts';
import { fillNormals } from '../../src/rng/philox.ts';
import { reproduce } from '../support/reproduce-cli.ts';

type Test = { name: string; verdict: string };

/** Standard normals from Philox (seed, stream): deterministic, so the coverage counts are fixed. */
function normals(seed: number, stream: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const z = new Float64Array(4);
  for (let i = 0; i < n; i += 4) {
    fillNormals(seed, i / 4, stream, 4, z);
    out.set(z.subarray(0, Math.min(4, n - i)), i);
  }
  return out;
}

/**
 * Replicates of y = C_g x^B e^(0.3 z) over 4 groups whose intercepts and x ranges differ (as the
 * noise levels do); returns how many 95% intervals of `fit` cover B.
 */
function coverage(fit: (p: LogLogPoint[]) => LogLogFit, reps = 400, B = 0.5): number {
  let covered = 0;
  for (let r = 0; r < reps; r++) {
    const z = normals(7, r, 40);
    const pts: LogLogPoint[] = [];
    for (let g = 0; g < 4; g++)
      for (let j = 0; j < 10; j++) {
        const x = 10 ** (-g - j / 5);
        pts.push({ group: g, x, y: 3 ** g * x ** B * Math.exp(0.3 * z[g * 10 + j]) });
      }
    const f = fit(pts);
    if (f.ci[0] <= B && B <= f.ci[1]) covered++;
  }
  return covered;
}

/** 400 replicates at 95%: mean 380, sd 4.4; the range holds each side's 1e-4 tail. */
const coverageOk = (c: number) => c >= 362 && c <= 394;

it('fitLogLog recovers an exact power law with one intercept per group', () => {
  const pts: LogLogPoint[] = [];
  for (const g of [3, 5])
    for (const x of [1e-4, 1e-3, 1e-2, 0.1]) pts.push({ group: g, x, y: (g === 3 ? 2 : 0.1) * x ** 0.7 });
  const f = fitLogLog(pts);
  expect(f.slope).toBeCloseTo(0.7, 12);
  expect(f.intercepts[3]).toBeCloseTo(Math.log(2), 10);
  expect(f.intercepts[5]).toBeCloseTo(Math.log(0.1), 10);
  expect(f.se).toBeLessThan(1e-10);
  expect(f.df).toBe(5);
  expect(() => fitLogLog([{ group: 0, x: 0, y: 1 }, ...pts])).toThrow(/> 0/);
});

it('its 95% interval covers the slope at the stated rate; the pooled-intercept twin does not', () => {
  expect(coverageOk(coverage((p) => fitLogLog(p)))).toBe(true);
  // Mutation twin: one intercept for every group (the levels' constants ignored): biased slope.
  const twin = coverage((p) => fitLogLog(p.map((q) => ({ ...q, group: 0 }))));
  expect(coverageOk(twin)).toBe(false);
});

it('quadrature: the constant classifier has KL = I(c; x_t) and MSE = E|grad log p_t|^2; the exact one 0', () => {
  const s = crossEntropySpec(10, 20);
  const model = buildModel(s);
  const exact = new ExactClassifier(model, s.process);
  for (const t of [0.01, 0.5, 3]) {
    expect(levelQuadrature(model, s.process, exact, exact, t, 0).kl).toBeLessThan(1e-15);
    const prior = levelQuadrature(model, s.process, exact, new PriorClassifier(model), t, 0);
    const fine = levelQuadrature(model, s.process, exact, new PriorClassifier(model), t, 0, 4);
    expect(Math.abs(prior.kl - fine.kl)).toBeLessThan(1e-12);
    expect(Math.abs(prior.mse - fine.mse)).toBeLessThan(1e-12);
    // Equal-variance Gaussians N(+-a, v): grad log p(pos|x) = (1 - p) 2a / v, p = sigmoid(2 a x / v).
    const { alpha, sigma2 } = processAt(s.process, t);
    const v = alpha * alpha + sigma2;
    let mse = 0;
    let h = 0;
    const dx = 1e-3;
    for (let x = -15; x <= 15; x += dx) {
      const px = 0.5 * (Math.exp(-((x - alpha) ** 2) / (2 * v)) + Math.exp(-((x + alpha) ** 2) / (2 * v)));
      const p = 1 / (1 + Math.exp((-2 * alpha * x) / v));
      mse += px * ((1 - p) * ((2 * alpha) / v)) ** 2;
      h += px * (p * Math.log(2 * p) + (1 - p) * Math.log(2 * (1 - p)));
    }
    const z = Math.sqrt(2 * Math.PI * v);
    expect(prior.mse).toBeCloseTo((mse * dx) / z, 8);
    expect(prior.kl).toBeCloseTo((h * dx) / z, 8);
  }
  // The exact classifier's integrated bound is 0; the constant one's is positive.
  const table = prepareExperiment(s).table;
  expect(integratedBound(table, model, s.process, exact, exact, 1, 0)).toBeLessThan(1e-20);
  expect(integratedBound(table, model, s.process, exact, new PriorClassifier(model), 1, 0)).toBeGreaterThan(0.1);
});

it("the twin's rippled classifier: KL falls like A^2, its guidance MSE does not fall", () => {
  const s = crossEntropySpec(10, 20);
  const model = buildModel(s);
  const exact = new ExactClassifier(model, s.process);
  const at = (a: number) => levelQuadrature(model, s.process, exact, new RippledClassifier(exact, a, 1, 0), 0.2, 0, 4);
  const big = at(0.2);
  const small = at(0.05);
  expect(small.kl / big.kl).toBeGreaterThan(0.04);
  expect(small.kl / big.kl).toBeLessThan(0.09); // (1/4)^2 = 0.0625
  expect(small.mse / big.mse).toBeGreaterThan(0.7);
});

it('binnedKlNormal: ~0 at Q = P within its se; the closed form delta^2 / 2 from below for a shift', () => {
  const n = 200_000;
  const z = normals(3, 0, n);
  const same = binnedKlNormal(z, n, 0, 1, 40);
  expect(Math.abs(same.kl)).toBeLessThan(4 * same.se);
  const shifted = z.map((v) => v + 0.1);
  const kl = binnedKlNormal(shifted, n, 0, 1, 40);
  expect(kl.kl).toBeLessThan(0.005 + 4 * kl.se);
  expect(kl.kl).toBeGreaterThan(0.8 * 0.005);
});

it('cross-entropy --quick: PASS, with every number and the figures', () => {
  const r = reproduce('cross-entropy');
  expect(r.status, r.stderr).toBe(0);
  expect(r.json.verdict).toBe('PASS');
  expect(r.json.setup.particlesPerSetting).toBe(40000);
  expect(r.json.setup.solver).toMatch(/em/);
  expect(r.json.setup.discretisationBias).toMatch(/exact classifier/);
  const rate = r.json.tests.filter((t: Test) => /^rate:/.test(t.name));
  expect(rate).toHaveLength(2);
  for (const t of rate) expect(t.verdict, t.name).toBe('PASS');
  const fit = r.json.data.fit;
  expect(fit.ci[0]).toBeLessThan(fit.slope);
  expect(fit.ci[1]).toBeGreaterThan(fit.slope);
  expect(r.json.data.levels).toHaveLength(5 * 2 * 11);
  for (const f of ['cross-entropy-rate', 'cross-entropy-tracking'])
    for (const ext of ['svg', 'png']) expect(existsSync(join(r.out, `${f}.${ext}`))).toBe(true);
});

it('cross-entropy --quick --mutation (rippled classifiers: KL -> 0, guidance error does not): FAIL', () => {
  const r = reproduce('cross-entropy', ['--mutation']);
  expect(r.status, r.stderr).toBe(1);
  expect(r.json.verdict).toBe('FAIL');
  // The rate (MSE = O(sqrt(KL))) is what fails: the ripple's MSE barely falls (slope ~0.002) while
  // its KL falls like A^2, and with it the integrated bound stays put.
  expect(r.json.tests.find((t: Test) => /^rate: 1\/2 - slope/.test(t.name)).verdict).toBe('FAIL');
  expect(r.json.data.fit.ci[1]).toBeLessThan(0.1);
  const bounds = r.json.data.perSize.map((p: { bound: number }) => p.bound);
  expect(Math.min(...bounds) / Math.max(...bounds)).toBeGreaterThan(0.9);
});
