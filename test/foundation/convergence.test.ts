// Observed orders of the ODE solvers on the CPU: euler 1, heun 2, rk4 4. Deterministic: the same
// 16 starting points (same seed) are integrated with N and 2N steps and compared with an rk4
// reference of 4096 steps; order = log2(err(N) / err(2N)).
//
// The cases are smooth and not stiff: a 1-D two-Gaussian-mixture target whose noised component
// variances stay >= 1/3 (so the velocity's Lipschitz constant is O(1)), tMin >= 0.05, uniform grid.
// N = 64: h <= 0.03, where the observed order is within a few hundredths of the true one (the
// next term of the error expansion moves log2 of the ratio by O(h)); the band is +-0.1.
// The reference's own error is (4096 / 128)^4 ~ 1e6 times below rk4's at 128 steps, and
// rk4's error at 128 steps (~1e-9) is far above f64 rounding, so the ratios are clean.
import { describe, expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';

type Raw = Record<string, any>;

const N = 64;
const REFERENCE_STEPS = 4096;
const BAND = 0.1;
const ORDERS = { euler: 1, heun: 2, rk4: 4 } as const;

const CASES: { name: string; process: Raw; tMin: number; guidance: Raw }[] = [
  { name: 'ou (T = 2), unguided', process: { kind: 'ou', T: 2 }, tMin: 0.1, guidance: { kind: 'none' } },
  {
    name: 'ou (T = 2), cfg w = 1.5',
    process: { kind: 'ou', T: 2 },
    tMin: 0.1,
    guidance: { kind: 'cfg', w: 1.5, negative: 'other' },
  },
  // Starts at alpha = 0, where the velocity takes its special form (the data mean).
  { name: 'flow, unguided', process: { kind: 'flow' }, tMin: 0.05, guidance: { kind: 'none' } },
  {
    name: 'vp, cfg w = 1.5',
    process: { kind: 'vp' },
    tMin: 0.05,
    guidance: { kind: 'cfg', w: 1.5, negative: 'other' },
  },
];

function spec(c: (typeof CASES)[number], kind: string, steps: number): ExperimentSpec {
  return parseSpec({
    dim: 1,
    classes: [
      {
        name: 'target',
        weight: 1,
        components: [
          { kind: 'gaussian', weight: 0.4, mean: [-1.5], cov: 0.5 },
          { kind: 'gaussian', weight: 0.6, mean: [1], cov: 0.8 },
        ],
      },
      { name: 'other', weight: 1, components: [{ kind: 'gaussian', mean: [0.5], cov: 1 }] },
    ],
    target: 'target',
    process: c.process,
    guidance: c.guidance,
    solver: { kind, steps, tMin: c.tMin },
    particles: 16,
    seed: 4,
  });
}

/** Root-mean-square distance between two particle sets. */
function rms(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

describe('observed convergence orders (error vs an rk4 reference, N and 2N steps)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const reference = sampleCpu(spec(c, 'rk4', REFERENCE_STEPS)).particles;
      for (const [kind, order] of Object.entries(ORDERS)) {
        const e1 = rms(sampleCpu(spec(c, kind, N)).particles, reference);
        const e2 = rms(sampleCpu(spec(c, kind, 2 * N)).particles, reference);
        const observed = Math.log2(e1 / e2);
        expect(
          Math.abs(observed - order),
          `${kind}: errors ${e1}, ${e2}, observed order ${observed}`,
        ).toBeLessThanOrEqual(BAND);
      }
    });
  }
});
