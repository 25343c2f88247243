// log q carried along the sampler's path against the closed form of the linear ODE. Target
// N(1, 1), negative N(0, 2), cfg w = 3, ou: the guided score is affine in x, s = A(t) x + B(t),
// so the flow is linear and Q is Gaussian; its mean and variance follow the moment ODEs
//   dm/dt = -m - (A m + B),  dv/dt = -2 (1 + A) v   (ou: u = -x - s)
// integrated here by a fine RK4 of their own (20000 steps), not by the sampler's code path.
// The sampler runs rk4 with 400 steps, whose global error ~h^4 ~ 1e-8: 1e-6 per particle.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { carryCpu, logStartDensity } from '../../src/cpu/log-density.ts';

const W = 3,
  T = 10,
  TMIN = 0.01;

function pairSpec(steps: number, start: 'prior' | 'exact' = 'prior', kind = 'rk4') {
  return parseSpec({
    dim: 1,
    classes: [{ name: 'a', components: [{ kind: 'gaussian', mean: [1], cov: 1 }] }],
    target: 'a',
    process: { kind: 'ou', T },
    guidance: { kind: 'cfg', w: W, negative: { components: [{ kind: 'gaussian', mean: [0], cov: 2 }] } },
    solver: { kind, steps, tMin: TMIN },
    seed: 7,
    start,
  });
}

/** A(t), B(t) of the guided score s = A x + B. */
function affine(t: number): [number, number] {
  const a = Math.exp(-t),
    s2 = 1 - a * a;
  const vT = a * a + s2,
    vN = 2 * a * a + s2;
  return [-(1 + W) / vT + W / vN, ((1 + W) * a) / vT];
}

function momentsAt(tEnd: number, m0: number, v0: number): [number, number] {
  const f = (t: number, [m, v]: number[]) => {
    const [A, B] = affine(t);
    return [-m - (A * m + B), -2 * (1 + A) * v];
  };
  const n = 20000,
    h = (tEnd - T) / n;
  let y = [m0, v0],
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

const logN = (x: number, m: number, v: number) => -0.5 * Math.log(2 * Math.PI * v) - (0.5 * (x - m) ** 2) / v;

describe('log q along the path (CPU, f64)', () => {
  const [m, v] = momentsAt(TMIN, 0, 1);

  it('backward run: log q of each particle equals the closed-form Gaussian Q at its point', () => {
    const r = carryCpu(pairSpec(400), { direction: 'backward', first: 0, count: 2000 });
    expect(r.nonFinite).toBe(0);
    let worst = 0,
      worstTwin = Infinity;
    for (let i = 0; i < 2000; i++) {
      worst = Math.max(worst, Math.abs(r.logq[i] - logN(r.x[i], m, v)));
      worstTwin = Math.min(
        worstTwin,
        Math.abs(r.logq[i] - logN(r.x[i], m, 1.02 * v)) + Math.abs(r.logq[i] - logN(r.x[i], m + 0.05, v)),
      );
    }
    expect(worst).toBeLessThan(1e-6);
    expect(worstTwin).toBeGreaterThan(1e-4); // mutation twins: Q with variance x1.02, mean +0.05
  });

  it('forward run from points at tMin: log q(y) = log p_start(x_T) - l_N matches the closed form, and backward recovers y', () => {
    const s = pairSpec(400);
    const y = Float64Array.from({ length: 500 }, (_, i) => m + Math.sqrt(v) * 3 * Math.sin(i * 0.77));
    const f = carryCpu(s, { direction: 'forward', initial: y, first: 0, count: 500 });
    const lp = logStartDensity(s, f.x, 500);
    const back = carryCpu(s, { direction: 'backward', initial: f.x, first: 0, count: 500 });
    for (let i = 0; i < 500; i++) {
      expect(Math.abs(lp[i] - f.logq[i] - logN(y[i], m, v))).toBeLessThan(1e-6);
      expect(Math.abs(back.x[i] - y[i])).toBeLessThan(1e-6);
      expect(Math.abs(back.logq[i] - (lp[i] - f.logq[i]))).toBeLessThan(1e-6);
    }
  });

  it('exact start: l_0 = log p_T(x | target), so unguided Q at tMin is the target law N(alpha, 1) to solver accuracy', () => {
    const s = parseSpec({
      dim: 1,
      classes: [{ name: 'a', components: [{ kind: 'gaussian', mean: [1], cov: 1 }] }],
      target: 'a',
      process: { kind: 'ou', T: 2 },
      solver: { kind: 'rk4', steps: 200, tMin: TMIN },
      start: 'exact',
    });
    const r = carryCpu(s, { direction: 'backward', first: 0, count: 1000 });
    const a = Math.exp(-TMIN);
    for (let i = 0; i < 1000; i++) expect(Math.abs(r.logq[i] - logN(r.x[i], a, 1))).toBeLessThan(1e-6);
  });

  it('refuses a nonlinear variant with the field named', () => {
    expect(() =>
      carryCpu(
        {
          ...pairSpec(10),
          guidance: {
            kind: 'cfg',
            w: { kind: 'constant', w: 1 },
            negative: { kind: 'unconditional' },
            variant: { kind: 'powerlaw', alpha: 0.5 },
          },
        },
        { direction: 'backward', first: 0, count: 1 },
      ),
    ).toThrow(/^guidance\.variant: log-density needs linear guidance/);
  });
});
