// Exact draws of a noised mixture group: moments against the closed form, with 4.5-SE envelopes
// (false failure ~1e-5 per statistic) and mutation twins the same envelopes must reject.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { buildModel, classGroup } from '../../src/model/mixture.ts';
import { sampleGroupExact } from '../../src/model/sample-exact.ts';

const Z = 4.5;

function model(components: unknown[], dim: number) {
  const spec = parseSpec({
    dim,
    classes: [{ name: 'a', components }],
    target: 'a',
    process: { kind: 'ou' },
    solver: { kind: 'euler', steps: 1 },
  });
  const m = buildModel(spec);
  return { m, g: classGroup(m, 'a') };
}

/** Weighted mean and covariance of coordinates (i, j), with the SE of the mean of coordinate i. */
function moments(x: Float64Array, w: Float64Array, d: number, i: number, j: number) {
  const n = w.length;
  let mi = 0,
    mj = 0;
  for (let p = 0; p < n; p++) (mi += w[p] * x[p * d + i]), (mj += w[p] * x[p * d + j]);
  mi /= n;
  mj /= n;
  let cij = 0,
    vi = 0,
    se2 = 0;
  for (let p = 0; p < n; p++) {
    const a = x[p * d + i] - mi,
      b = x[p * d + j] - mj;
    cij += w[p] * a * b;
    vi += w[p] * a * a;
    se2 += (w[p] * x[p * d + i] - mi) ** 2;
  }
  return { mi, cij: cij / n, vi: vi / n, seMean: Math.sqrt(se2 / (n - 1) / n) };
}

describe('sampleGroupExact', () => {
  it('draws a full-covariance Gaussian at (alpha, sigma^2) with mean alpha m and covariance alpha^2 S + sigma^2 I', () => {
    const S = [
      [2, 0.8],
      [0.8, 1],
    ];
    const { m, g } = model([{ kind: 'gaussian', mean: [1, -1], cov: S }], 2);
    const alpha = 0.5,
      sigma2 = 0.3,
      N = 40000;
    const { x, weight } = sampleGroupExact(m, g, alpha, sigma2, { seed: 3, first: 0, count: N });
    const want = (i: number, j: number) => alpha * alpha * S[i][j] + (i === j ? sigma2 : 0);
    for (const [i, j] of [
      [0, 0],
      [1, 1],
      [0, 1],
    ]) {
      const r = moments(x, weight, 2, i, j);
      const seCov = Math.sqrt((want(i, i) * want(j, j) + want(i, j) ** 2) / N);
      expect(Math.abs(r.cij - want(i, j))).toBeLessThan(Z * seCov);
      // mutation twin: covariance x1.1 is outside the envelope
      expect(Math.abs(r.cij - 1.1 * want(i, j))).toBeGreaterThan(Z * seCov);
    }
    for (const i of [0, 1]) {
      const r = moments(x, weight, 2, i, i);
      const mean = alpha * [1, -1][i];
      expect(Math.abs(r.mi - mean)).toBeLessThan(Z * r.seMean);
      expect(Math.abs(r.mi - mean - 0.05)).toBeGreaterThan(Z * r.seMean); // mutation twin: shifted mean
    }
  });

  it('draws a box as alpha U(low, high) + sigma eps', () => {
    const { m, g } = model([{ kind: 'uniform', low: [0, -1, 2], high: [2, 1, 2.5] }], 3);
    const alpha = 0.8,
      sigma2 = 0.05,
      N = 40000;
    const { x, weight } = sampleGroupExact(m, g, alpha, sigma2, { seed: 1, first: 0, count: N });
    const lo = [0, -1, 2],
      hi = [2, 1, 2.5];
    for (let i = 0; i < 3; i++) {
      const r = moments(x, weight, 3, i, i);
      const v = (alpha * (hi[i] - lo[i])) ** 2 / 12 + sigma2;
      expect(Math.abs(r.mi - alpha * 0.5 * (lo[i] + hi[i]))).toBeLessThan(Z * r.seMean);
      // var of the sample variance of a near-uniform law: (mu4 - v^2)/N, mu4 <= 3 v^2 bounds it
      expect(Math.abs(r.vi - v)).toBeLessThan(Z * Math.sqrt((2 * v * v) / N));
      expect(Math.abs(r.vi - 1.1 * v)).toBeGreaterThan(Z * Math.sqrt((2 * v * v) / N));
    }
  });

  it('stratified draws: equal counts per component, weights that make the weighted mean unbiased', () => {
    const { m, g } = model(
      [
        { kind: 'gaussian', weight: 0.97, mean: [-2], cov: 1 },
        { kind: 'gaussian', weight: 0.02, mean: [3], cov: 0.5 },
        { kind: 'uniform', weight: 0.01, low: [6], high: [7] },
      ],
      1,
    );
    const alpha = 0.9,
      sigma2 = 0.1,
      N = 30001;
    const d1 = sampleGroupExact(m, g, alpha, sigma2, {
      seed: 5,
      first: 0,
      count: 10000,
      stratified: { population: N },
    });
    const d2 = sampleGroupExact(m, g, alpha, sigma2, {
      seed: 5,
      first: 10000,
      count: N - 10000,
      stratified: { population: N },
    });
    const x = new Float64Array([...d1.x, ...d2.x]);
    const w = new Float64Array([...d1.weight, ...d2.weight]);
    const counts = [0, 0, 0];
    for (const e of [...d1.entry, ...d2.entry]) counts[e]++;
    expect(counts).toEqual([10001, 10000, 10000]);
    expect(w.reduce((a, b) => a + b, 0) / N).toBeCloseTo(1, 10); // f64 rounding of 3e4 summands
    const r = moments(x, w, 1, 0, 0);
    const mean = alpha * (0.97 * -2 + 0.02 * 3 + 0.01 * 6.5);
    expect(Math.abs(r.mi - mean)).toBeLessThan(Z * r.seMean);
    // mutation twin (stratifying under-samples the heavy component, so the SE is ~0.017 here)
    expect(Math.abs(r.mi - mean - 0.2)).toBeGreaterThan(Z * r.seMean);
    // the rare box is resolved: its particles sit in alpha [6, 7] +- noise
    expect(x.filter((_, p) => (p < 10000 ? d1.entry[p] : d2.entry[p - 10000]) === 2).every((v) => v > 4 && v < 8)).toBe(
      true,
    );
  });
});
