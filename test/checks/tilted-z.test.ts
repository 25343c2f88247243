// Z of the tilted law p_T^gT p_N^gN / Z at tMin by quadrature in d <= 2 (issue 13 item 3;
// tiltLogZQuadrature in src/checks/exact-density.ts), importance sampling above.
// (a) Gaussian pair (target N(1,1), negative N(0,2), cfg w = 3, OU): the tilt is Gaussian, so
//     log Z and KL(Q||tilt) are closed form (Q from the moment ODEs, as in exact-density.test.ts).
//     Envelope: 3 SE (two-sided false failure 0.27 %) + the solver bias 1e-4 of that file + the
//     stated quadrature error. Twin: the same particles with log Z off by 0.1 must miss.
// (b) 2-D (ring-8, w = 1): quadrature log Z against IS from exact target draws (bounded
//     weights), within 3 IS SE + the quadrature error.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSpec } from '../../src/experiment/parse.ts';
import { cpuLogDensityBackend } from '../../src/cpu/log-density.ts';
import {
  exactCoverageFidelity,
  targetLogDensityAtTMin,
  tiltLogZQuadrature,
  tiltUnnormalised,
} from '../../src/checks/exact-density.ts';
import { planGuidance } from '../../src/guidance/guidance.ts';
import { sampleGroupExact } from '../../src/model/sample-exact.ts';
import { processAt } from '../../src/processes/process.ts';
import { klTilted } from '../../src/metrics/coverage-fidelity.ts';

const T = 10,
  TMIN = 0.01,
  BIAS = 1e-4,
  W = 3;
const klGauss = (m1: number, v1: number, m2: number, v2: number) =>
  0.5 * ((v1 + (m1 - m2) ** 2) / v2 - 1 + Math.log(v2 / v1));

const pair = (steps = 200) =>
  parseSpec({
    dim: 1,
    classes: [{ name: 'a', components: [{ kind: 'gaussian', mean: [1], cov: 1 }] }],
    target: 'a',
    process: { kind: 'ou', T },
    guidance: { kind: 'cfg', w: W, negative: { components: [{ kind: 'gaussian', mean: [0], cov: 2 }] } },
    solver: { kind: 'rk4', steps, tMin: TMIN },
    seed: 11,
  });

/** Q = N(m, v) of the guided pair (moment ODEs, fine RK4). */
function closedQ(): [number, number] {
  const f = (t: number, [m, v]: number[]) => {
    const a = Math.exp(-t),
      s2 = 1 - a * a,
      vT = a * a + s2,
      vN = 2 * a * a + s2;
    const A = -(1 + W) / vT + W / vN,
      B = ((1 + W) * a) / vT;
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

/** The tilt (1 + w) log N(x; a, vT) - w log N(x; 0, vN) at tMin: its mean, variance and log Z. */
function closedTilt(w: number): { mu: number; v: number; logZ: number } {
  const a = Math.exp(-TMIN),
    s2 = 1 - a * a,
    vT = a * a + s2,
    vN = 2 * a * a + s2;
  const P = (1 + w) / vT - w / vN;
  const mu = ((1 + w) * a) / vT / P;
  const lu = (x: number) =>
    (1 + w) * (-0.5 * Math.log(2 * Math.PI * vT) - (x - a) ** 2 / (2 * vT)) -
    w * (-0.5 * Math.log(2 * Math.PI * vN) - (x * x) / (2 * vN));
  return { mu, v: 1 / P, logZ: lu(mu) + 0.5 * Math.log((2 * Math.PI) / P) };
}

describe('Z of the tilted law', () => {
  it('Gaussian pair: quadrature log Z matches the closed form; KL(Q||tilt) matches within 3 SE + bias; a log Z off by 0.1 is rejected', async () => {
    const spec = pair();
    const quad = tiltLogZQuadrature(spec);
    const tilt = closedTilt(W);
    expect('logZ' in quad).toBe(true);
    if (!('logZ' in quad)) return;
    expect(Math.abs(quad.logZ - tilt.logZ)).toBeLessThan(1e-8);
    expect(quad.error).toBeLessThan(1e-8);
    const r = await exactCoverageFidelity(spec, cpuLogDensityBackend, { particles: 4000, pSamples: 500 });
    expect(r.tiltZ.method).toBe('quadrature');
    const [m, v] = closedQ();
    const want = klGauss(m, v, tilt.mu, tilt.v);
    const envelope = 3 * r.klTilted.se + BIAS + r.tiltZ.error;
    expect(Math.abs(r.klTilted.value - want)).toBeLessThan(envelope);
    expect(want).toBeGreaterThan(10 * r.klTilted.se); // guidance is not the tilt: a non-trivial value
    // Twin: the same particles with a normaliser 0.1 off (SE here about 0.011) miss the closed form.
    const q = await cpuLogDensityBackend.carry(spec, { direction: 'backward', first: 0, count: 4000 });
    const bad = klTilted(q.logq, tiltUnnormalised(spec, q.x, 4000), quad.logZ + 0.1);
    expect(Math.abs(bad.value - r.klTilted.value - 0.1)).toBeLessThan(1e-12); // same particles
    expect(Math.abs(bad.value - want)).toBeGreaterThan(envelope);
  });

  it('ring-8 (2-D), cfg w = 1: quadrature log Z agrees with IS from exact target draws; IS from Q underestimates it', async () => {
    // Z = int p_c^2 / p_u = E_{p_c}[p_c / p_u]; the ratio p_c / p_u <= 8 (8 equal classes), so IS
    // from exact p_c draws has bounded weights and an SE to trust. IS from the guided Q (narrower
    // than the tilt) misses the tilt's outer mass and its SE does not show it: the reason for
    // quadrature in d <= 2.
    const raw = JSON.parse(readFileSync(join(import.meta.dirname, '../../examples/ring-8.json'), 'utf8'));
    const spec = parseSpec({ ...raw, guidance: { kind: 'cfg', w: 1 }, start: 'exact', process: { kind: 'ou', T: 3 } });
    const quad = tiltLogZQuadrature(spec);
    if (!('logZ' in quad)) throw new Error(quad.unavailable);
    expect(quad.error).toBeLessThan(1e-6);
    const n = 20000;
    const g = planGuidance(spec);
    const p = processAt(spec.process, spec.solver.tMin);
    const draw = sampleGroupExact(g.model, g.target, p.alpha, p.sigma2, { seed: 7, first: 0, count: n });
    const logp = targetLogDensityAtTMin(spec, draw.x, n);
    const isP = klTilted(logp, tiltUnnormalised(spec, draw.x, n)); // "Q" = P here: log Z = log E_P[exp(lu - log p)]
    expect(Math.abs(isP.logZ - quad.logZ)).toBeLessThan(3 * isP.logZSe + quad.error);
    expect(isP.logZSe).toBeLessThan(0.01); // the cross-check is sharp: a 0.03 error in log Z would show
    const r = await exactCoverageFidelity(spec, cpuLogDensityBackend, { particles: 3000, pSamples: 300 });
    expect(r.tiltZ.method).toBe('quadrature');
    expect(r.tiltZ.logZ).toBe(quad.logZ);
    const q = await cpuLogDensityBackend.carry(spec, { direction: 'backward', first: 0, count: 3000 });
    const isQ = klTilted(q.logq, tiltUnnormalised(spec, q.x, 3000));
    expect(isQ.logZ).toBeLessThan(quad.logZ - 5 * isQ.logZSe);
  });

  it('d = 3: importance sampling, with the reason', async () => {
    const spec = parseSpec({
      dim: 3,
      classes: [
        { name: 'a', components: [{ kind: 'gaussian', mean: [1, 0, 0], cov: 1 }] },
        { name: 'b', components: [{ kind: 'gaussian', mean: [-1, 0, 0], cov: 1 }] },
      ],
      target: 'a',
      process: { kind: 'ou', T: 5 },
      guidance: { kind: 'cfg', w: 1 },
      solver: { kind: 'rk4', steps: 20, tMin: TMIN },
    });
    const r = await exactCoverageFidelity(spec, cpuLogDensityBackend, { particles: 500, pSamples: 100 });
    expect(r.tiltZ.method).toBe('importance sampling');
    expect(r.tiltZ.note).toMatch(/dim 3 > 2/);
    expect(r.tiltZ.error).toBeGreaterThan(0);
  });
});
