// Acceptance (CPU, small N) of exactCoverageFidelity: the Gaussian pair against the closed form
// of the linear ODE, an exact-start unguided case consistent with 0, and a mean-shift mutation
// twin it must detect. Envelopes: 3 SE (two-sided false failure 0.27 % per estimate) plus a solver
// bias: rk4 with 200 steps, whose per-particle log q error is < 1e-6 x 2^4 (the 400-step bound
// of test/foundation/log-density.test.ts, scaled by h^4) -- 1e-4 is a safe bound on the KLs' bias.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { cpuLogDensityBackend } from '../../src/cpu/log-density.ts';
import { exactCoverageFidelity } from '../../src/checks/exact-density.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const W = 3,
  T = 10,
  TMIN = 0.01,
  BIAS = 1e-4;

function affine(t: number): [number, number] {
  const a = Math.exp(-t),
    s2 = 1 - a * a;
  const vT = a * a + s2,
    vN = 2 * a * a + s2;
  return [-(1 + W) / vT + W / vN, ((1 + W) * a) / vT];
}

/** Q = N(m, v) of the guided pair by a fine RK4 on the moment ODEs (independent of the sampler). */
function closedQ(): [number, number] {
  const f = (t: number, [m, v]: number[]) => {
    const [A, B] = affine(t);
    return [-m - (A * m + B), -2 * (1 + A) * v];
  };
  const n = 20000,
    h = (TMIN - T) / n;
  let y = [0, 1],
    t = T;
  for (let i = 0; i < n; i++) {
    const k1 = f(t, y),
      k2 = f(
        t + h / 2,
        y.map((v, j) => v + (h / 2) * k1[j]),
      );
    const k3 = f(
        t + h / 2,
        y.map((v, j) => v + (h / 2) * k2[j]),
      ),
      k4 = f(
        t + h,
        y.map((v, j) => v + h * k3[j]),
      );
    y = y.map((v, j) => v + (h / 6) * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]));
    t += h;
  }
  return [y[0], y[1]];
}

const klGauss = (m1: number, v1: number, m2: number, v2: number) =>
  0.5 * ((v1 + (m1 - m2) ** 2) / v2 - 1 + Math.log(v2 / v1));

describe('exactCoverageFidelity (CPU)', () => {
  it('Gaussian pair, cfg w = 3: both KLs agree with the closed form within 3 SE + solver bias', async () => {
    const spec = parseSpec({
      dim: 1,
      classes: [{ name: 'a', components: [{ kind: 'gaussian', mean: [1], cov: 1 }] }],
      target: 'a',
      process: { kind: 'ou', T },
      guidance: { kind: 'cfg', w: W, negative: { components: [{ kind: 'gaussian', mean: [0], cov: 2 }] } },
      solver: { kind: 'rk4', steps: 200, tMin: TMIN },
      seed: 11,
    });
    const r = await exactCoverageFidelity(spec, cpuLogDensityBackend, { particles: 4000, pSamples: 4000 });
    const [m, v] = closedQ();
    const a = Math.exp(-TMIN); // P = N(a, 1) at tMin
    const qp = klGauss(m, v, a, 1),
      pq = klGauss(a, 1, m, v);
    expect(Math.abs(r.klQP.value - qp)).toBeLessThan(3 * r.klQP.se + BIAS);
    expect(Math.abs(r.klPQ.value - pq)).toBeLessThan(3 * r.klPQ.se + BIAS);
    expect(qp).toBeGreaterThan(10 * r.klQP.se); // guidance is visible: the test could fail
    expect(r.klQP.value).toBeGreaterThan(-3 * r.klQP.se);
    expect(r.klPQ.value).toBeGreaterThan(-3 * r.klPQ.se);
    // The tilted law p^(1+w) p_neg^(-w) / Z is Gaussian too; the guided flow is not its transport, so only a sign check.
    expect(r.klTilted.value).toBeGreaterThan(-3 * r.klTilted.se);
    expect(r.recall).toBeLessThan(1);
    expect(r.nonFinite).toEqual({ q: 0, p: 0 });
  });

  const exactStart = (meanShift: number) =>
    parseSpec({
      dim: 2,
      classes: [
        {
          name: 'a',
          components: [
            { kind: 'gaussian', mean: [1 + meanShift, -0.5], cov: [1, 0.5] },
            { kind: 'gaussian', weight: 0.5, mean: [-2, 1], cov: 0.3 },
          ],
        },
      ],
      target: 'a',
      process: { kind: 'ou', T: 2 },
      solver: { kind: 'rk4', steps: 40, tMin: TMIN },
      start: 'exact',
      seed: 3,
    });

  it('exact start, unguided: both KLs consistent with 0 and PR summaries near 1', async () => {
    const r = await exactCoverageFidelity(exactStart(0), cpuLogDensityBackend, { particles: 4000, pSamples: 4000 });
    expect(Math.abs(r.klQP.value)).toBeLessThan(3 * r.klQP.se + BIAS);
    expect(Math.abs(r.klPQ.value)).toBeLessThan(3 * r.klPQ.se + BIAS);
    expect(r.recall).toBeGreaterThan(0.99);
    expect(r.precision).toBeGreaterThan(0.99);
  });

  it('mutation twin: a log p model with the mean shifted by 0.05 is detected (KL(Q||P) and KL(P||Q) > 3 SE + bias)', async () => {
    // KL = 0.05^2 / 2 and SE = 0.05 / sqrt(N) (the null's per-point log-ratio is 0 up to solver
    // error), so z = 0.025 sqrt(N) = 5 at N = 40000. Particles and their log q come from the true
    // spec; the KLs are taken against the shifted one.
    const one = (shift: number) =>
      parseSpec({
        dim: 1,
        classes: [{ name: 'a', components: [{ kind: 'gaussian', mean: [1 + shift], cov: 1 }] }],
        target: 'a',
        process: { kind: 'ou', T: 2 },
        solver: { kind: 'rk4', steps: 20, tMin: TMIN },
        start: 'exact',
        seed: 5,
      });
    const truth = one(0);
    const trueSampler = {
      name: 'cpu-true',
      carry: (_s: typeof truth, o: Parameters<typeof cpuLogDensityBackend.carry>[1]) =>
        cpuLogDensityBackend.carry(truth, o),
    };
    // KL(P||Q) too: the P-set is drawn from the shifted model and carried by the true flow, so it
    // estimates KL(P_shifted || Q_true), the same 0.05^2 / 2 with the same z = 5 at 40000 P-samples.
    const same = await exactCoverageFidelity(truth, cpuLogDensityBackend, { particles: 40000, pSamples: 40000 });
    const r = await exactCoverageFidelity(one(0.05), trueSampler, { particles: 40000, pSamples: 40000 });
    expect(Math.abs(same.klQP.value)).toBeLessThan(3 * same.klQP.se + BIAS);
    expect(r.klQP.value).toBeGreaterThan(3 * r.klQP.se + BIAS);
    expect(Math.abs(same.klPQ.value)).toBeLessThan(3 * same.klPQ.se + BIAS);
    expect(r.klPQ.value).toBeGreaterThan(3 * r.klPQ.se + BIAS);
  });

  it('ring-8 (examples/ring-8.json), start exact, rk4 40 edm steps: w = 0 both KLs ~ 0; w = 3 they grow and recall falls', async () => {
    // Solver bias: the same runs at 80 steps move both KLs by < 1e-6 (measured), so 1e-5 bounds it.
    const raw = JSON.parse(readFileSync(join(import.meta.dirname, '../../examples/ring-8.json'), 'utf8'));
    const at = (w: number) =>
      parseSpec({
        ...raw,
        guidance: { kind: 'cfg', w },
        start: 'exact',
        process: { kind: 'ou', T: 3 },
        solver: { kind: 'rk4', steps: 40, grid: 'edm', tMin: 1e-3 },
      });
    const r0 = await exactCoverageFidelity(at(0), cpuLogDensityBackend, { particles: 3000, pSamples: 3000 });
    const r3 = await exactCoverageFidelity(at(3), cpuLogDensityBackend, { particles: 3000, pSamples: 3000 });
    for (const e of [r0.klQP, r0.klPQ]) expect(Math.abs(e.value)).toBeLessThan(3 * e.se + 1e-5);
    expect(r0.recall).toBeGreaterThan(0.999);
    expect(r3.klQP.value).toBeGreaterThan(r0.klQP.value + 10 * r3.klQP.se);
    expect(r3.klPQ.value).toBeGreaterThan(r0.klPQ.value + 10 * r3.klPQ.se);
    expect(r3.recall).toBeLessThan(0.5);
    expect(r3.tail.flagged).toBe(false);
  });

  it('d = 8 Gaussian, cfg w = 2 against a Gaussian negative: both KLs agree with the per-coordinate closed form', async () => {
    // Independent coordinates: target N(mu_j, c_j), negative N(0, n_j), ou; per coordinate the
    // guided score is affine and Q_j Gaussian from the moment ODEs (fine RK4, 20000 steps).
    const mu = [1, -0.5, 0.3, 2, 0, -1, 0.7, 1.5],
      c = [1, 0.5, 2, 0.3, 1, 0.8, 1.2, 0.6],
      nv = [2, 1, 3, 1, 1.5, 2, 2, 1];
    const w = 2;
    const spec = parseSpec({
      dim: 8,
      classes: [{ name: 'a', components: [{ kind: 'gaussian', mean: mu, cov: c }] }],
      target: 'a',
      process: { kind: 'ou', T },
      guidance: { kind: 'cfg', w, negative: { components: [{ kind: 'gaussian', mean: Array(8).fill(0), cov: nv }] } },
      solver: { kind: 'rk4', steps: 100, tMin: TMIN, grid: 'edm' },
      seed: 2,
    });
    const r = await exactCoverageFidelity(spec, cpuLogDensityBackend, { particles: 2000, pSamples: 2000 });
    let qp = 0,
      pq = 0;
    for (let j = 0; j < 8; j++) {
      const f = (t: number, [m, v]: number[]) => {
        const a = Math.exp(-t),
          s2 = 1 - a * a,
          vT = a * a * c[j] + s2,
          vN = a * a * nv[j] + s2;
        const A = -(1 + w) / vT + w / vN,
          B = ((1 + w) * a * mu[j]) / vT;
        return [-m - (A * m + B), -2 * (1 + A) * v];
      };
      const n = 20000,
        h = (TMIN - T) / n;
      let y = [0, 1],
        t = T;
      for (let i = 0; i < n; i++) {
        const k1 = f(t, y),
          k2 = f(
            t + h / 2,
            y.map((v, k) => v + (h / 2) * k1[k]),
          );
        const k3 = f(
            t + h / 2,
            y.map((v, k) => v + (h / 2) * k2[k]),
          ),
          k4 = f(
            t + h,
            y.map((v, k) => v + h * k3[k]),
          );
        y = y.map((v, k) => v + (h / 6) * (k1[k] + 2 * k2[k] + 2 * k3[k] + k4[k]));
        t += h;
      }
      const a = Math.exp(-TMIN),
        pm = a * mu[j],
        pv = a * a * c[j] + 1 - a * a;
      qp += klGauss(y[0], y[1], pm, pv);
      pq += klGauss(pm, pv, y[0], y[1]);
    }
    expect(Math.abs(r.klQP.value - qp)).toBeLessThan(3 * r.klQP.se + BIAS);
    expect(Math.abs(r.klPQ.value - pq)).toBeLessThan(3 * r.klPQ.se + BIAS);
    expect(qp).toBeGreaterThan(10 * r.klQP.se);
  });

  it('mutation twin: a log p model with the variance x1.02 is detected by both KLs (d = 32, exact start, unguided)', async () => {
    // Per coordinate KL ~ (0.02)^2 / 4 and the log-ratio's sd ~ 0.02 / sqrt 2 (0 under the null up
    // to solver error), so z ~ 0.0071 sqrt(d N) = 5.1 at d = 32, N = 16000. Unmutated, the same run
    // must be consistent with 0.
    const d = 32;
    const at = (scale: number) =>
      parseSpec({
        dim: d,
        classes: [{ name: 'a', components: [{ kind: 'gaussian', mean: Array(d).fill(0.5), cov: 1 * scale }] }],
        target: 'a',
        process: { kind: 'ou', T: 2 },
        solver: { kind: 'rk4', steps: 20, tMin: TMIN },
        start: 'exact',
        seed: 9,
      });
    const truth = at(1);
    const trueSampler = {
      name: 'cpu-true',
      carry: (_s: typeof truth, o: Parameters<typeof cpuLogDensityBackend.carry>[1]) =>
        cpuLogDensityBackend.carry(truth, o),
    };
    // KL(P||Q) likewise from 16000 P-samples of the scaled model carried by the true flow.
    const same = await exactCoverageFidelity(truth, cpuLogDensityBackend, { particles: 16000, pSamples: 16000 });
    const r = await exactCoverageFidelity(at(1.02), trueSampler, { particles: 16000, pSamples: 16000 });
    expect(Math.abs(same.klQP.value)).toBeLessThan(3 * same.klQP.se + BIAS);
    expect(r.klQP.value).toBeGreaterThan(3 * r.klQP.se + BIAS);
    expect(Math.abs(same.klPQ.value)).toBeLessThan(3 * same.klPQ.se + BIAS);
    expect(r.klPQ.value).toBeGreaterThan(3 * r.klPQ.se + BIAS);
  });
});
