// The exact log-determinant route (src/cpu/log-det.ts; issue 13 item 2):
// (a) the velocity Jacobian (mixture Hessians, guidance, score-error field) against central
//     finite differences of the velocity (eps 1e-5: truncation ~eps^2 |u'''|, rounding
//     ~1e-16 |u| / eps, both < 1e-7 of the entries here);
// (b) a Gaussian target and negative make the guided score affine, so every RK step map is
//     affine, x_N = A x_0 + c, and the output law is exactly N(c, s^2 A A^T): the log-det route
//     must give its log-density to 1e-10 (f64 round-off over the steps), where the flow route is
//     off by the solver's error (shown to be far larger, so the comparison has teeth);
// (c) for a nonlinear mixture the gap between the two routes shrinks with the steps at the
//     solver's order (observed order within 0.35 of p; deterministic, no sampling noise).
import { describe, expect, it } from 'vitest';
import { Matrix, determinant, inverse } from 'ml-matrix';
import { parseSpec } from '../../src/experiment/parse.ts';
import { CpuStepper } from '../../src/cpu/reference.ts';
import { carryCpu } from '../../src/cpu/log-density.ts';
import { carryLogDetCpu, logAbsDet, logDetGap } from '../../src/cpu/log-det.ts';
import { priorScale } from '../../src/processes/process.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';
import type { MixtureEvaluator } from '../../src/model/mixture.ts';

const G = (mean: number[], cov: unknown, weight = 1) => ({ kind: 'gaussian', weight, mean, cov });

function fdCheck(spec: ExperimentSpec, points: number[][]): number {
  const st = new CpuStepper(spec);
  const d = spec.dim;
  const eps = 1e-5;
  let worst = 0;
  for (const ri of [0, Math.floor(st.table.rows.length / 2), st.table.rows.length - 1]) {
    const row = st.table.rows[ri];
    st.setTime(row);
    for (const pt of points) {
      const x = Float64Array.from(pt);
      const u = new Float64Array(d);
      st.velocity(x, row, u, 0);
      const J = new Float64Array(d * d);
      st.velocityJacobian(x, row, J);
      let scale = 0;
      for (const v of J) scale = Math.max(scale, Math.abs(v));
      for (let j = 0; j < d; j++) {
        const xp = x.slice(),
          xm = x.slice();
        xp[j] += eps;
        xm[j] -= eps;
        const up = new Float64Array(d),
          um = new Float64Array(d);
        st.velocity(xp, row, up, 0);
        st.velocity(xm, row, um, 0);
        for (let i = 0; i < d; i++)
          worst = Math.max(worst, Math.abs((up[i] - um[i]) / (2 * eps) - J[i * d + j]) / Math.max(1, scale));
      }
      // The trace is the flow route's divergence.
      st.velocity(x, row, u, 0);
      let tr = 0;
      for (let i = 0; i < d; i++) tr += J[i * d + i];
      worst = Math.max(worst, Math.abs(tr - st.velocityDivergence(x, row)) / Math.max(1, scale));
    }
  }
  return worst;
}

describe('velocity Jacobian', () => {
  const mixed = (extra: Record<string, unknown> = {}) =>
    parseSpec({
      dim: 3,
      classes: [
        {
          name: 'a',
          components: [
            G(
              [1, 0, -0.5],
              [
                [1, 0.3, 0.1],
                [0.3, 0.5, 0],
                [0.1, 0, 0.8],
              ],
            ),
            G([-1, 1, 0], [0.2, 0.4, 0.3], 0.5),
            { kind: 'uniform', low: [0, -1, -1], high: [1.5, 0.5, 1] },
          ],
        },
        { name: 'b', components: [G([0, -1, 1], 0.6), { kind: 'uniform', low: [-2, -2, -2], high: [0, 0, 0] }] },
      ],
      target: 'a',
      process: { kind: 'ou', T: 3 },
      guidance: { kind: 'cfg', w: 2 },
      solver: { kind: 'rk4', steps: 10, tMin: 0.05 },
      ...extra,
    });
  const pts = [
    [0.3, -0.2, 0.1],
    [1.2, 0.4, -0.9],
    [-1.5, 1.1, 0.6],
    [0.9, -1.3, 0.2],
  ];

  it('mixture of full/diagonal Gaussians and boxes, cfg w = 2: matches finite differences', () => {
    expect(fdCheck(mixed(), pts)).toBeLessThan(1e-6);
  });

  it('with a random-field score error on the target and a blur on the negative: matches finite differences', () => {
    expect(
      fdCheck(
        mixed({
          scoreError: { kind: 'field', amplitude: 0.3, lengthScale: 0.7, features: 16, seed: 3, applyTo: 'target' },
        }),
        pts,
      ),
    ).toBeLessThan(1e-6);
    expect(fdCheck(mixed({ scoreError: { kind: 'blur', delta: 0.2, applyTo: 'negative' } }), pts)).toBeLessThan(1e-6);
  });

  it("twin: the Jacobian without the target group's - s s^T term fails the same comparison", () => {
    // Dropping the responsibilities' own dependence on x is the classic slip; FD must catch it.
    const spec = mixed();
    const st = new CpuStepper(spec);
    const row = st.table.rows[Math.floor(st.table.rows.length / 2)];
    st.setTime(row);
    const x = Float64Array.from(pts[0]);
    const u = new Float64Array(3);
    st.velocity(x, row, u, 0);
    const J = new Float64Array(9);
    st.velocityJacobian(x, row, J);
    const ev = (st as unknown as { evTarget: MixtureEvaluator }).evTarget;
    const sT = new Float64Array(3);
    ev.addGroupScore(st.guidance.target, 1, sT);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) J[i * 3 + j] += row.cs * row.gammaTarget * sT[i] * sT[j];
    const eps = 1e-5;
    let diff = 0;
    for (let j = 0; j < 3; j++) {
      const xp = x.slice(),
        xm = x.slice();
      xp[j] += eps;
      xm[j] -= eps;
      const up = new Float64Array(3),
        um = new Float64Array(3);
      st.velocity(xp, row, up, 0);
      st.velocity(xm, row, um, 0);
      for (let i = 0; i < 3; i++) diff = Math.max(diff, Math.abs((up[i] - um[i]) / (2 * eps) - J[i * 3 + j]));
    }
    expect(diff).toBeGreaterThan(1e-3);
  });
});

describe('logAbsDet', () => {
  it('matches ml-matrix on random matrices (with pivoting)', () => {
    for (let t = 0; t < 20; t++) {
      const d = 1 + (t % 8);
      const m = Array.from({ length: d }, (_, i) =>
        Array.from({ length: d }, (_, j) => Math.sin(13 * t + 7 * i + 3 * j + 1) + (i === (j + 1) % d ? 0.5 : 0)),
      );
      const got = logAbsDet(Float64Array.from(m.flat()), d);
      expect(got).toBeCloseTo(Math.log(Math.abs(determinant(new Matrix(m)))), 9);
    }
  });
});

describe('log q of the discrete map', () => {
  const gauss = (kind: 'euler' | 'heun' | 'rk4', steps: number) =>
    parseSpec({
      dim: 3,
      classes: [
        {
          name: 'a',
          components: [
            G(
              [1, -0.5, 0.3],
              [
                [1, 0.4, 0],
                [0.4, 0.6, 0.1],
                [0, 0.1, 0.3],
              ],
            ),
          ],
        },
      ],
      target: 'a',
      process: { kind: 'ou', T: 4 },
      guidance: { kind: 'cfg', w: 2, negative: { components: [G([0, 0, 0], [2, 1, 1.5])] } },
      solver: { kind, steps, tMin: 0.02 },
      particles: 64,
      seed: 4,
    });

  /** The affine map x -> A x + c of the whole sampler, from the map applied to 0 and the basis vectors. */
  function affineMap(spec: ExperimentSpec): { A: Matrix; c: number[] } {
    const d = spec.dim;
    const st = new CpuStepper(spec);
    const x = new Float64Array((d + 1) * d);
    for (let j = 0; j < d; j++) x[(j + 1) * d + j] = 1;
    const k = st.tableau.c.map(() => new Float64Array((d + 1) * d));
    for (let n = 0; n < st.table.steps; n++) st.step(n, 0, d + 1, x, k);
    const c = Array.from(x.subarray(0, d));
    const A = new Matrix(d, d);
    for (let j = 0; j < d; j++) for (let i = 0; i < d; i++) A.set(i, j, x[(j + 1) * d + i] - c[i]);
    return { A, c };
  }

  it.each(['euler', 'heun', 'rk4'] as const)(
    '%s: Gaussian target, linear score: the log-det route is the exact law N(c, s^2 A A^T) to 1e-10',
    (kind) => {
      const spec = gauss(kind, kind === 'rk4' ? 8 : 20);
      const { A, c } = affineMap(spec);
      const s2 = priorScale(spec.process) ** 2;
      const cov = A.mmul(A.transpose()).mul(s2);
      const P = inverse(cov);
      const logNorm = -0.5 * (3 * Math.log(2 * Math.PI) + Math.log(determinant(cov)));
      const r = carryLogDetCpu(spec, { first: 0, count: 64 });
      expect(r.nonFinite).toBe(0);
      let worst = 0,
        flowWorst = 0;
      for (let p = 0; p < 64; p++) {
        const y = [0, 1, 2].map((i) => r.x[p * 3 + i] - c[i]);
        let q = 0;
        for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) q += y[i] * P.get(i, j) * y[j];
        const want = logNorm - 0.5 * q;
        worst = Math.max(worst, Math.abs(r.logqMap[p] - want));
        flowWorst = Math.max(flowWorst, Math.abs(r.logqFlow[p] - want));
      }
      expect(worst).toBeLessThan(1e-10);
      expect(flowWorst).toBeGreaterThan(1e-6); // the coarse grid's flow route is visibly not the map's law
    },
  );

  it('the flow route and the particles are those of carryCpu (the existing log-density path)', () => {
    const spec = gauss('heun', 20);
    const r = carryLogDetCpu(spec, { first: 0, count: 64 });
    const f = carryCpu(spec, { direction: 'backward', first: 0, count: 64 });
    for (let i = 0; i < 64 * 3; i++) expect(Math.abs(r.x[i] - f.x[i])).toBeLessThan(1e-12); // same arithmetic up to the order of the sums
    for (let i = 0; i < 64; i++) expect(Math.abs(r.logqFlow[i] - f.logq[i])).toBeLessThan(1e-12);
  });

  it.each([
    ['euler', 1, 40],
    ['heun', 2, 20],
    ['rk4', 4, 20],
  ] as const)('%s: the gap to the flow route shrinks at order %i (nonlinear 2-D mixture)', (kind, order, n0) => {
    const spec = (steps: number) =>
      parseSpec({
        dim: 2,
        classes: [
          {
            name: 'r',
            components: [
              G([1.5, 0], 0.3),
              G([-0.75, 1.3], [0.2, 0.4]),
              { kind: 'uniform', low: [-1.5, -1.8], high: [0, -0.6] },
            ],
          },
          { name: 'o', components: [G([0, 0], 1)] },
        ],
        target: 'r',
        process: { kind: 'ou', T: 3 },
        guidance: { kind: 'cfg', w: 1, negative: 'o' },
        solver: { kind, steps, tMin: 0.1 },
        particles: 200,
        seed: 9,
      });
    const g = [n0, 2 * n0, 4 * n0].map((n) => logDetGap(carryLogDetCpu(spec(n), { first: 0, count: 200 })).mean);
    const observed = [Math.log2(g[0] / g[1]), Math.log2(g[1] / g[2])];
    expect(Math.abs(observed[1] - order)).toBeLessThan(0.35);
    expect(g[2]).toBeLessThan(g[0]);
  });
});
